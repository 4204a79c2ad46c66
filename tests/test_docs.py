"""Every ```python block in README.md and docs/*.md runs (blocks of one file share a namespace)."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FILES = [ROOT / "README.md"] + sorted((ROOT / "docs").glob("*.md"))
BLOCK = re.compile(r"```python\n(.*?)```", re.S)


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_code_blocks_run(path, tmp_path, monkeypatch):
    blocks = BLOCK.findall(path.read_text())
    monkeypatch.chdir(tmp_path)  # blocks that write files write them here
    ns = {"__name__": "__docs__"}
    for i, code in enumerate(blocks):
        try:
            exec(compile(code, f"{path.name}[block {i}]", "exec"), ns)
        except Exception as exc:  # pragma: no cover - the message is the point
            raise AssertionError(f"{path.name}, code block {i} failed: {exc!r}\n{code}") from exc


def test_docs_have_code():
    assert sum(len(BLOCK.findall(p.read_text())) for p in FILES) >= 5


def test_api_reference_lists_every_public_module():
    api = (ROOT / "docs" / "api.md").read_text()
    modules = sorted(p.stem for p in (ROOT / "graphonflow").glob("*.py") if not p.stem.startswith("_"))
    missing = [m for m in modules if f"::: graphonflow.{m}" not in api]
    assert not missing, f"docs/api.md does not document {missing}"


# ------------------------------------------------------------ docstring examples
# modules whose docstrings must carry runnable examples (collected by --doctest-modules)
DOCTESTED = ["coerce", "cut", "flow", "functionals", "graphons", "hom", "patterns", "sampling", "step"]


def test_suite_runs_the_docstring_examples():
    """`python -m pytest` from the root collects the doctests of the package."""
    text = (ROOT / "pyproject.toml").read_text()
    section = text.split("[tool.pytest.ini_options]", 1)[1].split("\n[", 1)[0]
    addopts = re.search(r'^addopts\s*=\s*"([^"]*)"', section, re.M).group(1).split()
    testpaths = re.findall(r'"([^"]+)"', re.search(r"^testpaths\s*=\s*\[(.*?)\]", section, re.M | re.S).group(1))
    assert "--doctest-modules" in addopts
    assert "graphonflow" in testpaths and "tests" in testpaths


@pytest.mark.parametrize("name", DOCTESTED)
def test_public_modules_have_examples(name):
    import doctest
    import importlib

    mod = importlib.import_module(f"graphonflow.{name}")
    tests = [t for t in doctest.DocTestFinder().find(mod) if t.examples]
    assert sum(len(t.examples) for t in tests) >= 1, f"graphonflow.{name} has no docstring examples"

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
DOCTESTED = ["coerce", "cut", "flow", "functionals", "graphons", "hom", "noisy.sgd", "noisy.limit", "noisy.compare",
             "patterns", "sampling", "step"]


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


# ------------------------------------------------------------ numbers the docs quote
def _quoted(path, tag):
    text = (ROOT / "docs" / path).read_text()
    return text.split(f"<!-- {tag}:begin", 1)[1].split(f"<!-- {tag}:end -->", 1)[0]


def _fmt(x, digits=2):
    """As the docs write numbers: a real minus sign."""
    return f"{x:.{digits}f}".replace("-", "−")


def test_tutorial_numbers_finite_vs_limit(tmp_path):
    """docs/tutorials.md section 4 quotes this run of examples/finite_vs_limit.py (its defaults)."""
    import importlib.util
    import re as _re

    import numpy as np

    from graphonflow.convergence import _fit_rate

    spec = importlib.util.spec_from_file_location("finite_vs_limit", ROOT / "examples" / "finite_vs_limit.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    s = mod.main(["--out", str(tmp_path)])
    assert s.seeds == 8 and s.ns.tolist() == [25, 50, 100, 200] and s.times.tolist() == [0.0, 0.25, 1.0]
    text = " ".join(_quoted("tutorials.md", "tutorial-numbers").split())
    assert s.rate_resolved.all()
    assert f"upper/lower at most {s.bracket_ratio.max():.3g} at every point" in text
    assert (f"upper bounds is {_fmt(s.rate[0])} ± {s.rate_stderr[0]:.2f} at t = 0, {_fmt(s.rate[1])} ± "
            f"{s.rate_stderr[1]:.2f} at t = 0.25 and {_fmt(s.rate[2])} ± {s.rate_stderr[2]:.2f} at t = 1") in text
    assert f"(lower bounds: {', '.join(_fmt(r) for r in s.rate_lower)})" in text
    assert s.resolution_gap.max() < 3e-3 and "stays below 3 × 10⁻³" in text
    r3, e3 = _fit_rate(s.ns, s.upper[:, :3, 0])  # seeds 0-2 of a study are the samples of a 3-seed study
    assert f"exponent comes out at {_fmt(r3)} ± {e3:.2f}" in text
    assert 1.5 < (-0.5 - s.rate[0]) / s.rate_stderr[0] < 2.5  # "steeper by about two standard errors"
    # the scatter of one sample about its trend: about a factor e (log residuals of sd ~ 1)
    resid = np.log(s.upper[:, :, 0]) - np.log(s.upper[:, :, 0]).mean(axis=1, keepdims=True)
    assert 0.6 < resid.std() < 1.4 and _re.search(r"factor of about e", text)

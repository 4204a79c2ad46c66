"""Resuming a study: a killed run (kill -9), Ctrl-C and SIGTERM leave their finished flows
behind, and the next run of the same study reuses them and ends with the same numbers, bit for
bit, as an uninterrupted run; another study in the way, or --restart, start over."""

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from graphonflow import study as st
from graphonflow.__main__ import main

ROOT = Path(__file__).resolve().parents[1]

TINY = """
title = "resume test"
t1 = 1.0
times = [0.0, 1.0]

[[functionals]]
label = "K3 - K2"
terms = [{ term = "hom", pattern = "K3" }, { term = "edge", coef = -1.0 }]

[[functionals]]
label = "K3 - K2 + E/10"
terms = [{ term = "hom", pattern = "K3" }, { term = "edge", coef = -1.0 }, { term = "entropy", coef = 0.1 }]

[initial]
graphon = "mean_xy"

[integrator]
method = "dp54"
rtol = 1e-4

[reference]
resolution = 8

[finite]
ns = [10, 20]
seeds = 2
seed = 3

[save]
curve_points = 5
gif_frames = 3
report = false
"""

#: per functional: 2 references, the integration check, 2 x 2 finite flows, 2 animation flows
FLOWS = 2 * (3 + 4 + 2)

# Runs `graphonflow run` in a child process that stops (sleeps) right after its K-th finished
# flow was checkpointed and prints PAUSED, so that the test can kill it at a known point.
CHILD = textwrap.dedent("""
    import signal, sys, time
    from graphonflow import study as st

    signal.signal(signal.SIGINT, signal.default_int_handler)  # even where the parent ignores Ctrl-C
    from graphonflow.__main__ import main

    K = int(sys.argv[1])
    real = st._Store.record
    done = []

    def record(self, *a, **k):
        real(self, *a, **k)
        done.append(1)
        if len(done) == K:
            print("PAUSED", flush=True)
            time.sleep(600)

    st._Store.record = record
    sys.exit(main(["run", sys.argv[2], "--out", sys.argv[3], "--quiet"]))
""")


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("resume")
    (d / "tiny.toml").write_text(TINY)
    (d / "child.py").write_text(CHILD)
    ref = st.run_study(st.load_config(d / "tiny.toml"), d / "uninterrupted", quiet=True)
    assert len(ref.computed) == FLOWS and ref.restored == () and ref.resumed_from is None
    return d, ref


def _start(d, k, out):
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen([sys.executable, str(d / "child.py"), str(k), str(d / "tiny.toml"), str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=d)
    line = proc.stdout.readline()  # blocks until the K-th flow is checkpointed
    assert line.strip() == "PAUSED", (line, proc.stderr.read() if proc.poll() is not None else "")
    return proc


def _without_timings(x):
    if isinstance(x, dict):
        return {k: _without_timings(v) for k, v in x.items()
                if k not in ("wall_time", "figure_wall_time", "flow_wall_times")}
    if isinstance(x, list):
        return [_without_timings(v) for v in x]
    return x


def _assert_same_outputs(a: Path, b: Path):
    ta, tb = np.load(a / "trajectory.npz"), np.load(b / "trajectory.npz")
    assert sorted(ta.files) == sorted(tb.files)
    for k in ta.files:
        np.testing.assert_array_equal(ta[k], tb[k], err_msg=k)
        assert ta[k].dtype == tb[k].dtype, k
    sa = json.loads((a / "summary.json").read_text())
    sb = json.loads((b / "summary.json").read_text())
    assert _without_timings(sa) == _without_timings(sb)
    assert (a / "config.toml").read_text() == (b / "config.toml").read_text()
    assert sorted(p.name for p in a.iterdir()) == sorted(p.name for p in b.iterdir())


def test_resume_after_kill_9(files):
    d, ref = files
    out = d / "killed"
    proc = _start(d, 11, out)  # functional 0 done (9 flows), and two flows of functional 1
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    stage = d / ".killed.partial"
    assert stage.is_dir() and not out.exists() and not (d / "killed.partial").exists()
    lines = (stage / "checkpoint.jsonl").read_text().splitlines()
    assert len(lines) == 11
    # a torn line at the end (the kill came mid-write) and a flow file without its line are ignored
    with open(stage / "checkpoint.jsonl", "a") as fh:
        fh.write('{"functional": 1, "flow": "n=10 se')
    (stage / "flows" / "f1_n_10_seed_1.npz").write_bytes(b"half a file")

    res = st.run_study(st.load_config(d / "tiny.toml"), out, quiet=True)
    assert res.resumed_from == stage and not stage.exists()
    assert len(res.restored) == 11 and len(res.computed) == FLOWS - 11  # 11 flows not recomputed
    assert set(res.restored).isdisjoint(res.computed)
    assert set(res.restored) | set(res.computed) == set(ref.computed)
    assert res.restored[:3] == ((0, "reference m=8"), (0, "reference m=16"), (0, "reference m=8 tol/10"))
    _assert_same_outputs(out, ref.out)
    # every flow checkpointed exactly once; the restored ones kept their recorded wall times
    flows = [(r["functional"], r["flow"]) for r in map(json.loads, (out / "checkpoint.jsonl").read_text().splitlines())]
    assert sorted(flows) == sorted(ref.computed)
    by_flow = {(r["functional"], r["flow"]): r for r in map(json.loads, lines)}
    assert res.summary["functionals"][0]["flow_wall_times"]["10"][0] == by_flow[(0, "n=10 seed 0")]["wall_time"]


@pytest.mark.parametrize("sig, code, how", [(signal.SIGTERM, 143, "terminated (SIGTERM)"),
                                            (signal.SIGINT, 130, "interrupted")])
def test_sigterm_and_ctrl_c_keep_the_work_and_the_next_run_resumes(files, sig, code, how, capsys):
    d, ref = files
    out = d / f"stopped{code}"
    proc = _start(d, 4, out)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    kept = d / f"stopped{code}.partial"
    assert f"graphonflow: {how}; finished work was kept in {kept}; run the same command again to resume" in err
    assert "Traceback" not in err
    assert kept.is_dir() and not (d / f".stopped{code}.partial").exists() and not out.exists()
    assert len((kept / "checkpoint.jsonl").read_text().splitlines()) == 4

    assert main(["run", str(d / "tiny.toml"), "--out", str(out), "--quiet"]) == 0
    text = capsys.readouterr().out
    assert f"resumed from {kept}: 4 finished flows reused, {FLOWS - 4} computed" in text
    assert not kept.exists()
    _assert_same_outputs(out, ref.out)


def _partial_from_a_failed_run(d, name, monkeypatch, after=3):
    real = st._Store.record
    done = []

    def record(self, *a, **k):
        real(self, *a, **k)
        done.append(1)
        if len(done) == after:
            raise RuntimeError("simulated crash")

    monkeypatch.setattr(st._Store, "record", record)
    with pytest.raises(st.StudyError):
        st.run_study(st.load_config(d / "tiny.toml"), d / name, quiet=True)
    monkeypatch.setattr(st._Store, "record", real)
    return d / f"{name}.partial"


def test_another_study_in_the_way_and_restart(files, monkeypatch, capsys):
    d, _ = files
    kept = _partial_from_a_failed_run(d, "other", monkeypatch)
    assert len((kept / "checkpoint.jsonl").read_text().splitlines()) == 3
    changed = st.load_config(d / "tiny.toml").as_dict()
    changed["finite"]["seed"] = 4
    with pytest.raises(FileExistsError) as exc:
        st.run_study(changed, d / "other", quiet=True)
    assert str(exc.value) == (
        f"{kept} holds an unfinished study that this run cannot resume (a different configuration: "
        "'finite.seed' is 3 there and 4 here); rerun with --restart (run_study(..., resume=False)) to "
        "discard it, or choose another --out")
    assert kept.is_dir() and not (d / ".other.partial").exists()  # nothing touched
    # the command line says the same, with exit status 2, and --restart starts over
    cfg2 = d / "changed.toml"
    cfg2.write_text(st.to_toml(st.parse_config(changed)))
    with pytest.raises(SystemExit) as exit_:
        main(["run", str(cfg2), "--out", str(d / "other"), "--quiet"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "'finite.seed' is 3 there and 4 here" in err and "--restart" in err and "Traceback" not in err
    assert main(["run", str(cfg2), "--out", str(d / "other"), "--quiet", "--restart"]) == 0
    assert "resumed" not in capsys.readouterr().out and not kept.exists()
    res = st.run_study(changed, d / "other", quiet=True, resume=False)
    assert len(res.computed) == FLOWS and res.restored == ()


def test_other_software_versions_are_not_resumed(files, monkeypatch):
    d, _ = files
    kept = _partial_from_a_failed_run(d, "versions", monkeypatch)
    man = json.loads((kept / "resume.json").read_text())
    man["versions"]["numpy"] = "1.0.0"
    (kept / "resume.json").write_text(json.dumps(man))
    with pytest.raises(FileExistsError, match=r"other software: 'numpy' is \"1.0.0\" there and \""):
        st.run_study(st.load_config(d / "tiny.toml"), d / "versions", quiet=True)


def test_a_partial_folder_without_a_manifest_is_not_resumed(files):
    """A hidden staging folder of an older version (no resume.json) is replaced, as before."""
    d, _ = files
    stage = d / ".old.partial"
    stage.mkdir()
    (stage / "checkpoint.jsonl").write_text("")
    res = st.run_study(st.load_config(d / "tiny.toml"), d / "old", quiet=True)
    assert res.resumed_from is None and len(res.computed) == FLOWS and not stage.exists()

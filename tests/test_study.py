"""Studies from TOML: configuration checks, outputs, atomic writes, checkpoints, progress, report."""

import base64
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import graphonflow as gf
from graphonflow import study as st
from graphonflow.__main__ import main
from graphonflow.graphons import block_average, ring
from graphonflow.study import tomllib  # tomllib, or tomli on Python 3.10

SMALL = """
title = "small test study"
t1 = 4.0
times = [0.0, 1.0, 4.0]

[[functionals]]
label = "C5"
terms = [{ term = "hom", pattern = "C5" }]

[[functionals]]
label = "C5 + E/8"
terms = [{ term = "hom", pattern = "C5" }, { term = "entropy", coef = 0.125 }]

[initial]
graphon = "ring"
params = { kappa = 4.0, p = 0.9 }

[integrator]
method = "ark54"
rtol = 1e-6
atol = 1e-4

[reference]
resolution = 48  # the reference must be resolved next to the n = 192 distances

[finite]
ns = [12, 48, 192]  # wide enough that the n^(-1/2) trend beats the sampling noise
seeds = 2
seed = 7

[save]
curve_points = 9
gif_frames = 4
"""


FIXED = {"method": "prox", "dt": 0.25}  # the [integrator] table of a fixed-step study


def small_cfg(**changes):
    d = tomllib.loads(SMALL)
    for key, value in changes.items():
        table, _, k = key.rpartition(".")
        (d.setdefault(table, {}) if table else d)[k] = value
    return d


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("study") / "out"
    res = st.run_study(small_cfg(), out, quiet=True)
    return res


# ----------------------------------------------------------------- configuration
def test_default_config_is_the_main_job():
    cfg = st.load_config(None)
    assert [lab for lab, _ in cfg.functionals] == ["t(C5)", "t(C5) + E/8"]
    assert cfg.functionals[1][1][1] == {"term": "entropy", "coef": 0.125}
    assert cfg.ns == (50, 100, 200, 400, 800)
    assert cfg.initial["graphon"] == "ring" and cfg.times == (0.0, 7.0, 20.0, 100.0)
    F = cfg.functional(1)
    W = np.full((6, 6), 0.3)
    h = 0.3 * np.log(0.3) + 0.7 * np.log(0.7)
    assert F.value(W) == pytest.approx(0.3**5 + 0.125 * h, rel=1e-12)


def test_default_config_uses_error_control():
    cfg = st.load_config(None)
    assert cfg.error_control and cfg.method == "dp54" and cfg.dt is None
    assert cfg.flow_options() == {"integrator": "dp54", "rtol": cfg.rtol, "atol": cfg.atol}
    assert "dt" not in tomllib.loads(st.DEFAULT_CONFIG)["integrator"]


def test_toml_round_trip(tmp_path):
    cfg = st.parse_config(small_cfg())
    assert (cfg.method, cfg.rtol, cfg.atol, cfg.dt) == ("ark54", 1e-6, 1e-4, None)
    assert st.parse_config(tomllib.loads(st.to_toml(cfg))) == cfg
    default = st.load_config(None)
    assert st.parse_config(tomllib.loads(st.to_toml(default))) == default
    # rtol alone: atol = 1e-3 rtol (the flow's default), written out explicitly
    cfg = st.parse_config(small_cfg(integrator={"method": "dp54", "rtol": 1e-7}))
    assert (cfg.method, cfg.rtol, cfg.atol, cfg.dt) == ("dp54", 1e-7, 1e-10, None)
    text = st.to_toml(cfg)
    assert tomllib.loads(text)["integrator"] == {"method": "dp54", "rtol": 1e-7, "atol": 1e-10}
    assert st.parse_config(tomllib.loads(text)) == cfg
    (tmp_path / "c.toml").write_text(text)
    assert st.load_config(tmp_path / "c.toml") == cfg
    # fixed steps: dt and no tolerances
    cfg = st.parse_config(small_cfg(integrator=FIXED))
    assert (cfg.method, cfg.dt, cfg.rtol, cfg.atol, cfg.error_control) == ("prox", 0.25, None, None, False)
    assert tomllib.loads(st.to_toml(cfg))["integrator"] == FIXED
    assert st.parse_config(tomllib.loads(st.to_toml(cfg))) == cfg


def test_integrator_table_is_read_as_a_whole():
    """A table that names a step or a tolerance does not mix in the built-in tolerances."""
    cfg = st.parse_config(small_cfg(integrator={"dt": 0.5}))  # dt alone: fixed steps, prox
    assert (cfg.method, cfg.dt, cfg.rtol) == ("prox", 0.5, None)
    cfg = st.parse_config(small_cfg(integrator={"rtol": 1e-5}))  # rtol alone: dp54
    assert (cfg.method, cfg.rtol, cfg.atol) == ("dp54", 1e-5, 1e-8)
    default = st.load_config(None)
    cfg = st.parse_config(small_cfg(integrator={"method": "dp54"}))  # a method alone: the built-in tolerances
    assert (cfg.method, cfg.rtol, cfg.atol, cfg.dt) == ("dp54", default.rtol, default.atol, None)
    cfg = st.parse_config(small_cfg(integrator={"method": "heun"}))  # no error estimate: dt = t1/200
    assert (cfg.method, cfg.dt, cfg.rtol) == ("heun", 4.0 / 200, None)
    cfg = st.parse_config(small_cfg(integrator={"method": "ark54", "dt": 0.1}))  # fixed steps with ark54
    assert (cfg.method, cfg.dt, cfg.rtol) == ("ark54", 0.1, None)


@pytest.mark.parametrize(
    "change, key, allowed",
    [
        ({"t1x": 3}, "t1x", "allowed top-level keys"),
        ({"integrator.method": "rk4"}, "integrator.method", "'euler', 'prox', 'heun'"),
        ({"integrator": {"dt": -1.0}}, "integrator.dt", "must be > 0"),
        ({"integrator.order": 2}, "integrator.order", "allowed keys in [integrator]: method, dt, rtol, atol"),
        # error control needs an integrator with an error estimate
        ({"integrator.method": "prox"}, "integrator.method", "'prox' gives no error estimate"),
        ({"integrator": {"method": "euler", "rtol": 1e-6}}, "integrator.method", "'dp54', 'bs32', 'ark54', 'ark43', 'ark32'"),
        ({"integrator.dt": 0.25}, "integrator.dt", "not both"),
        ({"integrator": {"atol": 1e-6}}, "integrator.atol", "only with rtol"),
        ({"integrator.rtol": 0.0}, "integrator.rtol", "must be > 0"),
        ({"integrator.rtol": 1e-14}, "integrator.rtol", "[1e-12, 1)"),
        ({"integrator.rtol": "tight"}, "integrator.rtol", "must be a number"),
        ({"integrator.atol": -1e-9}, "integrator.atol", "must be >= 0"),
        ({"integrator": {"method": "prox", "dt": 5.0}}, "integrator.dt", "must not exceed t1 = 4"),
        ({"times": [0.0, 9.0]}, "times", "[0, t1] = [0, 4]"),
        ({"finite.kind": "dense"}, "finite.kind", "'weighted', 'simple'"),
        ({"finite.ns": [1, 10]}, "finite.ns", ">= 2"),
        ({"finite.seeds": 1.5}, "finite.seeds", "must be an integer"),
        ({"initial": {"graphon": "ringg"}}, "initial.graphon", "'ring'"),
        ({"initial": {"graphon": "ring", "params": {"kapa": 2}}}, "initial.params.kapa", "allowed: kappa, p"),
        ({"initial": {"graphon": "ring", "file": "x.npy"}}, "initial", "exactly one of"),
        ({"initial": {"file": "missing.npy"}}, "initial.file", "no such file"),
        ({"box": [0.0, 2.0]}, "box", "entropy and rate terms live on [0, 1]"),
        ({"box": [1.0, 0.0]}, "box", "lo < hi"),
        ({"save.report": "yes"}, "save.report", "true or false"),
        ({"save.gif_frames": 1}, "save.gif_frames", "at least 2 frames"),
        ({"reference.resolution": 0}, "reference.resolution", "must be > 0"),
        # what the flows would reject only after the first flows ran is rejected up front
        ({"finite.kind": "simple"}, "finite.kind", "allowed with these terms: 'weighted'"),
        ({"box": [0.2, 0.8]}, "initial", "outside the box [0.2, 0.8]"),
        ({"initial": {"graphon": "complete_bipartite"}}, "initial.clip", "strictly inside (0, 1)"),
    ],
)
def test_bad_configs_name_the_key(change, key, allowed):
    with pytest.raises(st.ConfigError) as exc:
        st.parse_config(small_cfg(**change))
    msg = str(exc.value)
    assert f"'{key}'" in msg and allowed in msg, msg


@pytest.mark.parametrize(
    "term, key, allowed",
    [
        ({"term": "homm", "pattern": "K3"}, "functionals[0].terms[0].term", "'hom', 'edge', 'entropy', 'rate'"),
        ({"term": "hom"}, "functionals[0].terms[0].pattern", "missing"),
        ({"term": "hom", "pattern": "Q7"}, "functionals[0].terms[0].pattern", "unknown pattern name"),
        ({"term": "hom", "pattern": [[0, 0]]}, "functionals[0].terms[0].pattern", "loop"),
        ({"term": "rate"}, "functionals[0].terms[0].p", "missing"),
        ({"term": "rate", "p": 1.5}, "functionals[0].terms[0].p", "(0, 1)"),
        ({"term": "edge", "pattern": "K3"}, "functionals[0].terms[0].pattern", "allowed: term, coef"),
        ({"term": "edge", "coef": "two"}, "functionals[0].terms[0].coef", "must be a number"),
        ({"pattern": "K3"}, "functionals[0].terms[0].term", "missing: one of 'hom'"),
        ({"term": "hom", "pattern": 5}, "functionals[0].terms[0].pattern", "a pattern name such as"),
    ],
)
def test_bad_terms_name_the_key(term, key, allowed):
    d = small_cfg()
    d["functionals"] = [{"terms": [term]}]
    with pytest.raises(st.ConfigError) as exc:
        st.parse_config(d)
    msg = str(exc.value)
    assert f"'{key}'" in msg and allowed.lower() in msg.lower(), msg


def test_starts_the_flows_would_reject_are_config_errors(tmp_path):
    """Regression: these used to fail only after the reference flows ran, leaving DIR.partial."""
    hom_only = [{"terms": [{"term": "hom", "pattern": "C5"}]}]
    d = small_cfg(**{"finite.kind": "simple", "box": [0.0, 0.95]})
    d["functionals"] = hom_only
    with pytest.raises(st.ConfigError, match=r"'finite.kind'.*outside the box"):
        st.parse_config(d)
    negative = [{"terms": [{"term": "hom", "pattern": "C5"}, {"term": "entropy", "coef": -0.1}]}]
    for integ in (FIXED, {"method": "ark54", "rtol": 1e-6}):  # prox and ark54 treat the entropy implicitly
        d = small_cfg(integrator=integ)
        d["functionals"] = negative
        with pytest.raises(st.ConfigError, match=r"'integrator.method'.*'euler' or 'heun'.*'dp54'"):
            st.parse_config(d)
    d = small_cfg(integrator={"method": "dp54", "rtol": 1e-6})  # explicit: fine
    d["functionals"] = negative
    assert st.parse_config(d).method == "dp54"
    for name, A in [("nonsquare", np.full((3, 4), 0.5)), ("asym", np.triu(np.full((4, 4), 0.5))),
                    ("big", np.full((4, 4), 3.0))]:
        np.save(tmp_path / f"{name}.npy", A)
        d = small_cfg(initial={"file": f"{name}.npy"})
        with pytest.raises(st.ConfigError, match=r"'initial.file'"):
            st.parse_config(d, base_dir=tmp_path)
    # clipping makes a 0/1 start fit for entropy terms
    cfg = st.parse_config(small_cfg(initial={"graphon": "complete_bipartite", "clip": 1e-6}))
    assert cfg.initial["clip"] == 1e-6
    d = small_cfg(**{"finite.kind": "simple"})
    d["functionals"] = hom_only
    assert st.parse_config(d).kind == "simple"


def test_edge_list_patterns_and_labels():
    d = small_cfg()
    d["functionals"] = [{"terms": [{"term": "hom", "pattern": [[0, 1], [1, 2], [2, 0]]},
                                   {"term": "edge", "coef": -1.0}]}]
    cfg = st.parse_config(d)
    assert cfg.functionals[0][0] == "t([[0, 1], [1, 2], [2, 0]]) + -1 t(K2)"
    A = np.random.default_rng(0).random((7, 7))
    A = (A + A.T) / 2
    F = cfg.functional(0)
    assert F.value(A) == pytest.approx(gf.hom_density("K3", A) - A.mean(), rel=1e-12)


# ----------------------------------------------------------------- running
def test_outputs_are_complete(small_run):
    out = small_run.out
    names = sorted(p.name for p in out.iterdir())
    assert names == ["checkpoint.jsonl", "config.toml", "cut_distance.png", "energy.png", "flow.gif",
                     "report.html", "snapshots_f0.png", "snapshots_f1.png", "summary.json", "trajectory.npz"]
    assert not (out.parent / ".out.partial").exists() and not (out.parent / "out.partial").exists()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["versions"]["numpy"] == np.__version__
    for f in summary["functionals"]:
        assert f["statuses"] == ["t1"] * (2 + 3 * 2)
        assert len(f["rate"]) == 3 and all(isinstance(r, float) for r in f["rate"])
        # the tolerance and the tol-vs-tol/10 check are recorded
        assert f["integrator"] == "ark54, error control rtol=1e-06, atol=0.0001"
        assert f["controller"].startswith("PIDController(rtol=1e-06, atol=0.0001")
        assert f["integration_check"] == "rtol=1e-06, atol=0.0001 vs rtol/10, atol/10 (ark54)"
        assert f["integration_gap_cut"] == f["tolerance_gap_cut"] and "time_step_gap_cut" not in f
        assert len(f["integration_gap_over_smallest_distance"]) == 3
    assert summary["config"]["integrator"] == {"method": "ark54", "rtol": 1e-6, "atol": 1e-4}
    # the saved configuration runs the same study
    assert st.load_config(out / "config.toml") == small_run.config


def test_numbers_match_direct_flows(small_run):
    """The reference and a finite flow, re-run by hand, give the study's numbers."""
    cfg = small_run.config
    s = small_run.studies[1]
    F = cfg.functional(1)
    S0 = block_average(ring(4.0, 0.9), 2 * cfg.resolution)
    # under error control the steps depend on the times landed on: the study's curve times
    r = gf.flow(F, S0, t1=cfg.t1, rtol=cfg.rtol, atol=cfg.atol, integrator="ark54", save_at=s.curve_times)
    assert r.controller == s.controller
    assert s.reference_curve_energies[-1] == pytest.approx(r.energy, rel=1e-12)
    np.testing.assert_allclose(s.reference[-1].values, r.W, rtol=0, atol=1e-14)
    np.testing.assert_allclose(s.reference_curve_energies, r.energies, rtol=1e-12)
    # energies decrease along every flow (a gradient flow), finite ones included
    assert np.all(np.diff(s.reference_curve_energies) <= 1e-15)
    assert np.all(np.diff(s.curve_energies, axis=-1) <= 1e-15)
    # certified brackets are ordered and shrink with n at t = 0 (sampling error)
    assert np.all(s.lower <= s.upper)
    up0 = s.upper[:, :, 0].mean(axis=1)
    assert up0[0] > up0[-1]
    assert -1.0 < s.rate[0] < 0.0
    # the m-block and 2m-block references agree far below the t = 0 distances
    assert np.all(s.resolution_cut_gap < 0.5 * s.upper[:, :, 0].min())
    # the tol vs tol/10 check: the two runs share t = 0, then differ by a small certified amount,
    # below a tenth of every distance the report shows (the smallest over n of the seed means)
    for st_ in small_run.studies:
        gap = st_.tolerance_cut_gap
        assert st_.time_step_cut_gap is None and gap is st_.integration_cut_gap
        assert gap.shape == (3,) and gap[0] == 0.0 and np.all(gap[1:] > 0)
        smallest = st_.upper.mean(axis=1).min(axis=0)
        assert np.all(gap < 0.1 * smallest), (gap, smallest)
    c5 = small_run.studies[0]
    assert c5.tolerance_cut_gap.max() < 2e-5 and c5.upper[:, :, -1].min() > 1e-3  # 8.8e-6 and 1.1e-2 when written
    traj = np.load(small_run.out / "trajectory.npz")
    np.testing.assert_array_equal(traj["f1_upper"], s.upper)
    np.testing.assert_array_equal(traj["f1_integration_gap"], s.tolerance_cut_gap)
    np.testing.assert_array_equal(traj["f1_tolerance_gap"], s.tolerance_cut_gap)
    assert traj["f1_reference_states"].shape == (3, 96, 96)
    assert traj["f1_finite_states_n192"].shape == (3, 192, 192)
    assert traj["f1_frames"].shape[0] == 4


def test_same_seed_same_study(small_run, tmp_path):
    again = st.run_study(small_cfg(), tmp_path / "again", quiet=True)
    for a, b in zip(small_run.studies, again.studies):
        np.testing.assert_array_equal(a.upper, b.upper)
        np.testing.assert_array_equal(a.lower, b.lower)


def test_failure_keeps_finished_work_and_old_output(tmp_path, monkeypatch):
    out = tmp_path / "res"
    out.mkdir()
    for name in ("old.txt", "summary.json", "config.toml"):  # an earlier study's output
        (out / name).write_text("previous results")
    real = st.convergence_study

    def failing(*args, on_flow, **kw):
        # let the two reference flows finish, then fail in the first finite flow
        calls = []

        def hook(label, data):
            on_flow(label, data)
            calls.append(label)
            if len(calls) == 2:
                raise RuntimeError("simulated crash")

        return real(*args, on_flow=hook, **kw)

    monkeypatch.setattr(st, "convergence_study", failing)
    with pytest.raises(st.StudyError, match="finished work was kept in .*res.partial") as exc:
        st.run_study(small_cfg(), out, quiet=True)
    assert exc.value.partial == tmp_path / "res.partial"
    assert (out / "old.txt").read_text() == "previous results"  # untouched
    assert sorted(p.name for p in out.iterdir()) == ["config.toml", "old.txt", "summary.json"]
    lines = (tmp_path / "res.partial" / "checkpoint.jsonl").read_text().splitlines()
    flows = [json.loads(s)["flow"] for s in lines]
    assert flows == ["reference m=48", "reference m=96"]
    assert json.loads(lines[1])["status"] == "t1"


def test_never_replaces_a_folder_that_is_not_a_study_output(tmp_path, monkeypatch):
    """Regression: --out pointing at any existing folder used to replace (delete) it."""
    d = small_cfg(**{"save.report": False, "save.gif_frames": 0, "finite.ns": [8], "finite.seeds": 1})
    d["functionals"] = d["functionals"][:1]
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("precious")
    with pytest.raises(FileExistsError, match="not a study's output"):
        st.run_study(d, mine, quiet=True)
    monkeypatch.chdir(mine)
    with pytest.raises(FileExistsError, match="not a study's output"):
        st.run_study(d, ".", quiet=True)
    assert sorted(p.name for p in mine.iterdir()) == ["notes.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine"]
    # an empty folder and an earlier output are replaced
    (tmp_path / "empty").mkdir()
    res = st.run_study(d, tmp_path / "empty", quiet=True)
    assert (res.out / "summary.json").exists()
    st.run_study(d, tmp_path / "empty", quiet=True)


def test_cli_failure_and_interrupt_name_the_partial_folder(tmp_path, monkeypatch, capsys):
    """Regression: a failing study printed a traceback; the message and exit status now say what happened."""
    d = small_cfg(**{"save.report": False, "save.gif_frames": 0, "finite.ns": [8], "finite.seeds": 1})
    cfg = tmp_path / "s.toml"
    cfg.write_text(st.to_toml(st.parse_config(d)))
    for error, code in [(ValueError("simulated"), 1), (KeyboardInterrupt(), 130)]:
        def boom(*args, _e=error, **kw):
            raise _e

        monkeypatch.setattr(st, "_run", boom)
        with pytest.raises(SystemExit) as exc:
            main(["run", str(cfg), "--out", str(tmp_path / "o"), "--quiet"])
        assert exc.value.code == code
        err = capsys.readouterr().err
        assert "finished work was kept in" in err and "o.partial" in err and "Traceback" not in err
        assert (tmp_path / "o.partial").is_dir() and not (tmp_path / "o").exists()


def test_report_text_follows_the_config(tmp_path):
    """Regression: the report said "weighted" for simple graphs, and "– ± –" where no rate was fitted."""
    d = small_cfg(**{"finite.kind": "simple", "finite.ns": [10], "finite.seeds": 1, "save.gif_frames": 0,
                     "t1": 0.5, "times": [0.0, 0.5], "reference.resolution": 4}, integrator={"dt": 0.05})
    d["functionals"] = [{"terms": [{"term": "hom", "pattern": "K3"}, {"term": "edge", "coef": -1.0}]}]
    res = st.run_study(d, tmp_path / "o", quiet=True)
    html = (res.out / "report.html").read_text()
    assert "W-random simple graphs" in html and "weighted graphs" not in html
    assert "<td>n/a</td>" in html and "&plusmn; –" not in html
    assert "ring(kappa=4.0, p=0.9)" in html
    # a fixed-step study says so, and checks dt against dt/2
    assert "<code>prox</code>, fixed step dt = 0.05" in html and "cut gap dt vs dt/2" in html
    assert "with half the step (dt = 0.025 instead of 0.05)" in html and "rtol" not in html
    f = res.summary["functionals"][0]
    assert f["integration_check"] == "dt=0.05 vs dt/2 (prox)" and f["time_step_gap_cut"] == f["integration_gap_cut"]
    assert res.studies[0].time_step_cut_gap is not None and res.studies[0].tolerance_cut_gap is None


def test_overwrite_false_refuses(tmp_path):
    (tmp_path / "o").mkdir()
    with pytest.raises(FileExistsError, match="exists"):
        st.run_study(small_cfg(), tmp_path / "o", quiet=True, overwrite=False)


class _TTY(io.StringIO):
    def isatty(self):
        return True


def test_progress_bar_only_on_a_terminal(tmp_path):
    d = small_cfg(**{"save.report": False, "save.gif_frames": 0})
    d["functionals"] = d["functionals"][:1]
    d["finite"]["ns"] = [10, 20]
    tty = _TTY()
    st.run_study(d, tmp_path / "a", stream=tty)
    text = tty.getvalue()
    assert "reference m=48" in text and "F=" in text and "dt=" in text  # bars with energy and step
    pipe = io.StringIO()
    st.run_study(d, tmp_path / "b", stream=pipe)
    assert "F=" not in pipe.getvalue() and "reference flow on 48 blocks" in pipe.getvalue()
    quiet = _TTY()
    st.run_study(d, tmp_path / "c", stream=quiet, quiet=True)
    assert quiet.getvalue() == ""


def test_initial_from_a_matrix_file(tmp_path):
    A = block_average(ring(4.0, 0.9), 16).values
    np.save(tmp_path / "W0.npy", A)
    text = SMALL.replace('graphon = "ring"\nparams = { kappa = 4.0, p = 0.9 }', 'file = "W0.npy"')
    (tmp_path / "s.toml").write_text(text.replace('gif_frames = 4', 'gif_frames = 0\nreport = false'))
    cfg = st.load_config(tmp_path / "s.toml")
    W0 = cfg.initial_graphon()
    np.testing.assert_array_equal(W0.values, A)
    res = st.run_study(cfg, tmp_path / "o", quiet=True)
    assert all(s == "t1" for s in res.summary["functionals"][0]["statuses"])
    assert Path(st.load_config(tmp_path / "o" / "config.toml").initial["file"]) == (tmp_path / "W0.npy").resolve()


# ----------------------------------------------------------------- the report
def _images(html):
    return re.findall(r'<img src="data:image/(png|gif);base64,([A-Za-z0-9+/=]+)"', html)


def test_report_images_decode(small_run):
    from PIL import Image

    html = (small_run.out / "report.html").read_text()
    imgs = _images(html)
    assert [k for k, _ in imgs] == ["png", "png", "png", "png", "gif"]
    for kind, data in imgs:
        im = Image.open(io.BytesIO(base64.b64decode(data)))
        im.verify()
        assert im.format.lower() == kind
    assert "rate r" in html and "cut gap m vs 2m" in html
    assert "cut gap tol vs tol/10" in html and "rtol = 1e-06 and atol = 0.0001" in html
    assert "under error control" in html and "cut gap dt vs dt/2" not in html


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (apt-get install chromium)")
def test_report_renders_in_headless_chromium(small_run, tmp_path):
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=10000", "--dump-dom",
           (small_run.out / "report.html").resolve().as_uri()]
    dom = subprocess.run(cmd, capture_output=True, text=True, timeout=120).stdout
    assert 'data-images="5/5"' in dom  # every image decoded in the browser


# ----------------------------------------------------------------- the command line
def test_cli_run_and_errors(tmp_path, capsys):
    d = small_cfg(**{"save.report": False, "save.gif_frames": 0})
    d["finite"]["ns"] = [10, 20]
    cfg = tmp_path / "s.toml"
    cfg.write_text(st.to_toml(st.parse_config(d)))
    assert main(["run", str(cfg), "--out", str(tmp_path / "o"), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "cut distance to the limit ~ n^r" in out and (tmp_path / "o" / "summary.json").exists()
    assert "integrator: ark54, error control rtol=1e-06, atol=0.0001" in out
    assert out.count("integration check tol vs tol/10, cut-norm gap <= t=0: 0 (smallest distance") == 2

    bad = tmp_path / "bad.toml"
    bad.write_text(SMALL.replace('method = "ark54"', 'method = "rk45"'))
    with pytest.raises(SystemExit) as exc:
        main(["run", str(bad), "--out", str(tmp_path / "never")])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "'integrator.method'" in err and "'rk45'" in err and "'prox'" in err and "bad.toml" in err
    assert not (tmp_path / "never").exists()

    broken = tmp_path / "broken.toml"
    broken.write_text("t1 = [1,\n")
    with pytest.raises(SystemExit):
        main(["run", str(broken)])
    assert "not valid TOML" in capsys.readouterr().err


def test_cli_print_config(capsys):
    assert main(["run", "--print-config"]) == 0
    text = capsys.readouterr().out
    assert text == st.DEFAULT_CONFIG
    assert st.parse_config(tomllib.loads(text)) == st.load_config(None)


def test_import_stays_free_of_matplotlib_and_tqdm():
    code = "import sys, graphonflow, graphonflow.study; print('matplotlib' in sys.modules, 'tqdm' in sys.modules)"
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert res.stdout.strip() == "False False", res.stderr


# ----------------------------------------------------------------- issue 12: rates, folders, sizes, report
TINY = {"t1": 0.5, "times": [0.0, 0.5], "functionals": [{"terms": [{"term": "hom", "pattern": "K3"},
                                                                   {"term": "edge", "coef": -1.0}]}],
        "initial": {"graphon": "mean_xy"}, "reference": {"resolution": 4}, "finite": {"ns": [8], "seeds": 1},
        "save": {"gif_frames": 0, "report": False, "curve_points": 3}}


def test_summary_and_trajectory_hold_both_fits(small_run):
    traj = np.load(small_run.out / "trajectory.npz")
    for i, s in enumerate(small_run.studies):
        f = small_run.summary["functionals"][i]
        np.testing.assert_array_equal(traj[f"f{i}_rate_lower"], s.rate_lower)
        np.testing.assert_array_equal(traj[f"f{i}_bracket_ratio"], s.bracket_ratio)
        np.testing.assert_array_equal(traj[f"f{i}_rate_resolved"], s.rate_resolved)
        assert f["rate_upper"] == f["rate"] == s.rate.tolist()
        assert f["rate_lower"] == s.rate_lower.tolist() and f["rate_resolved"] == s.rate_resolved.tolist()
        ratio = np.max(s.upper / s.lower, axis=(0, 1))
        np.testing.assert_allclose(s.bracket_ratio, ratio, rtol=1e-15)
        assert s.rate_resolved.tolist() == (ratio <= 2).tolist()
    # with the entropy term the t = 4 bracket is wide: that rate is flagged (3.83 when written)
    assert small_run.studies[1].rate_resolved.tolist() == [True, True, False]
    assert small_run.summary["rates"]["resolved"].endswith("is at most 2")
    assert "sqrt(sum(residual^2) / (points - 2)" in small_run.summary["rates"]["stderr"]


def test_load_study_round_trip(small_run, tmp_path):
    loaded = gf.load_study(small_run.out)
    assert loaded.config == small_run.config and loaded.out == small_run.out
    assert loaded.summary == json.loads((small_run.out / "summary.json").read_text())
    assert [f.label for f in loaded.functionals] == ["C5", "C5 + E/8"]
    for f, s in zip(loaded.functionals, small_run.studies):
        for name in ("times", "ns", "lower", "upper", "delta2_upper", "rate", "rate_stderr", "rate_lower",
                     "rate_lower_stderr", "bracket_ratio", "rate_resolved"):
            np.testing.assert_array_equal(getattr(f, name), getattr(s, name), err_msg=name)
        assert f.upper.shape == (3, 2, 3)
    assert loaded.arrays["f1_reference_states"].shape == (3, 96, 96)
    # a folder written before the lower-bound fits: they are computed from the saved brackets
    old = tmp_path / "old"
    shutil.copytree(small_run.out, old)
    traj = dict(np.load(old / "trajectory.npz"))
    for k in [k for k in traj if "rate_lower" in k or "bracket_ratio" in k or "rate_resolved" in k]:
        del traj[k]
    np.savez(old / "trajectory.npz", **traj)
    again = gf.load_study(old)
    for f, s in zip(again.functionals, small_run.studies):
        np.testing.assert_array_equal(f.rate_lower, s.rate_lower)
        np.testing.assert_array_equal(f.rate_resolved, s.rate_resolved)
    with pytest.raises(FileNotFoundError, match=r"is not a finished study's folder \(missing: summary.json"):
        gf.load_study(tmp_path)


def test_an_output_under_a_file_is_refused_before_any_work(tmp_path, capsys):
    """Regression: an --out inside a file gave a traceback from deep inside the runner."""
    (tmp_path / "afile").write_text("x")
    out = tmp_path / "afile" / "sub" / "out"
    with pytest.raises(NotADirectoryError) as exc:
        st.run_study(TINY, out, quiet=True)
    assert str(exc.value) == f"cannot write the output folder {out} (--out): {tmp_path / 'afile'} is not a directory"
    cfg = tmp_path / "s.toml"
    cfg.write_text(st.to_toml(st.parse_config(TINY)))
    with pytest.raises(SystemExit) as code:
        main(["run", str(cfg), "--out", str(out), "--quiet"])
    assert code.value.code == 2
    err = capsys.readouterr().err
    assert err == f"graphonflow run: error: {exc.value}\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile", "s.toml"]


def test_an_unwritable_output_is_refused_before_any_work(tmp_path, monkeypatch):
    """os.access says no (as it would for another user): nothing runs, nothing is left behind."""
    out = tmp_path / "res"
    out.mkdir()
    for name in ("summary.json", "config.toml"):
        (out / name).write_text("earlier output")
    real = os.access
    for denied in (tmp_path, out):
        monkeypatch.setattr(os, "access", lambda p, mode, _d=denied: Path(p) != _d and real(p, mode))
        monkeypatch.setattr(st, "_run", lambda *a, **k: pytest.fail("the study ran"))
        with pytest.raises(PermissionError) as exc:
            st.run_study(TINY, out, quiet=True)
        where = "" if denied == tmp_path else ", which the study would replace"
        assert str(exc.value) == f"cannot write the output folder {out} (--out): no write permission in {denied}{where}"
        assert sorted(p.name for p in tmp_path.iterdir()) == ["res"]


def _as_other_user(fn, timeout=120):
    """Call fn() in a forked child running as user 65534 (nobody) when we are root, where
    permissions are not checked; returns (exit status, what it wrote to stdout and stderr)."""
    import select
    import traceback

    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 99
        try:
            os.close(r)
            os.dup2(w, 1)
            os.dup2(w, 2)
            sys.stdout, sys.stderr = open(1, "w", closefd=False), open(2, "w", closefd=False)
            if os.geteuid() == 0:
                os.setgroups([])
                os.setgid(65534)
                os.setuid(65534)
            code = fn()
        except SystemExit as exc:
            code = exc.code
        except BaseException:
            traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code if isinstance(code, int) else 98)
    os.close(w)
    chunks, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([r], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            break
        data = os.read(r, 65536)
        if not data:
            break
        chunks.append(data)
    os.close(r)
    done, status = os.waitpid(pid, os.WNOHANG)
    while not done and time.monotonic() < deadline:  # the pipe may close just before the exit
        time.sleep(0.01)
        done, status = os.waitpid(pid, os.WNOHANG)
    if not done:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        pytest.fail(f"the child did not finish in {timeout} s: {b''.join(chunks).decode()[-2000:]}")
    return os.waitstatus_to_exitcode(status), b"".join(chunks).decode()


def test_an_unwritable_earlier_output_under_another_uid(tmp_path):
    """Regression: replacing an earlier output the user cannot write ran the whole study, then
    failed with a PermissionError traceback and left .out.old behind."""
    import tempfile

    d = Path(tempfile.mkdtemp(dir="/tmp"))
    try:
        os.chmod(d, 0o777)
        out = d / "out"
        out.mkdir()
        for name in ("summary.json", "config.toml"):
            (out / name).write_text("earlier output")
        cfg = d / "s.toml"
        cfg.write_text(st.to_toml(st.parse_config(TINY)))
        os.chmod(cfg, 0o644)
        if os.geteuid() == 0:
            os.chown(out, 65534, 65534)  # theirs, but read-only: its files cannot be removed
        os.chmod(out, 0o555)
        code, text = _as_other_user(lambda: main(["run", str(cfg), "--out", str(out), "--quiet"]))
        assert code == 2, text
        assert text == (f"graphonflow run: error: cannot write the output folder {out} (--out): no write "
                        f"permission in {out}, which the study would replace\n")
        assert sorted(p.name for p in d.iterdir()) == ["out", "s.toml"]  # no .out.old, no .out.partial
        assert sorted(p.name for p in out.iterdir()) == ["config.toml", "summary.json"]
    finally:
        os.chmod(d / "out", 0o755)
        shutil.rmtree(d)


def test_impossible_sizes_are_refused_before_any_work(monkeypatch):
    d = small_cfg(**{"finite.ns": [16, 1000000]})
    with pytest.raises(st.ConfigError) as exc:
        st.parse_config(d)
    cfg_ok = st.parse_config(small_cfg())
    need, work = st.flow_cost(1000000, cfg_ok.functionals, method="ark54", dt=None, t1=4.0, landings=9, saved=3)
    # ark54: 8 stages with two arrays each, 8 gradients a step, 9 landings; t(C5)'s gradient costs 2 n^3
    assert need == 8e12 * (4 + 16 + 3) and work == pytest.approx(9 * 8 * (2e18 + 2e12), rel=1e-12)
    assert str(exc.value) == (
        f"config key 'finite.ns': 1000000 is too large: one flow at n = 1000000 holds at least "
        f"{st._human_bytes(need)} in memory and needs at least {work:.2g} floating-point operations (about "
        f"{st._human_seconds(work / 1e12)} at 1e+12 operations per second), and this machine has "
        f"{st._human_bytes(st._physical_memory())} of memory")
    assert "184 TB" in str(exc.value) and "4.56 years" in str(exc.value)
    doc = (Path(__file__).resolve().parents[1] / "docs" / "study.md").read_text()
    assert f"    graphonflow run: error in my.toml: {str(exc.value).split(', and this machine')[0]}, and" in doc
    with pytest.raises(st.ConfigError, match=r"'reference.resolution': 200000 is too large: the reference flow on "
                                             r"2 x 200000 = 400000 blocks holds at least 29.4 TB in memory"):
        st.parse_config(small_cfg(**{"reference.resolution": 200000}))
    # the time limit, on its own: with the limit at one second, n = 3000 is refused for its work
    monkeypatch.setattr(st, "MAX_FLOW_SECONDS", 1.0)
    with pytest.raises(st.ConfigError, match=r"'finite.ns': 3000 is too large: .* more than the 1 s allowed"):
        st.parse_config(small_cfg(**{"finite.ns": [16, 3000]}))
    monkeypatch.undo()
    assert st.parse_config(small_cfg(**{"finite.ns": [16, 3000]})).ns == (16, 3000)
    assert st.load_config(None).ns[-1] == 800  # the main job passes


def _fake_study(ns, seeds, times, rng=0):
    """A ConvergenceStudy with random brackets around C n^(-1/2) (for the figures alone)."""
    from graphonflow.convergence import ConvergenceStudy, fit_rates

    g = np.random.default_rng(rng)
    ns = np.asarray(ns)
    up = 0.3 * ns[:, None, None] ** -0.5 * np.exp(g.normal(0, 0.5, (len(ns), seeds, len(times))))
    lo = up / np.linspace(1.2, 5.0, len(times))[None, None, :]
    fits = fit_rates(ns, lo, up)
    z = np.zeros(len(times))
    kw = {k: fits[k] for k in ("rate", "rate_stderr", "rate_lower", "rate_lower_stderr", "rate_intercept",
                               "rate_lower_intercept", "bracket_ratio", "rate_resolved")}
    return ConvergenceStudy(ns=ns, times=np.asarray(times), seeds=seeds, lower=lo, upper=up, delta2_upper=up,
                            resolution=8, resolution_gap=z, reference=(), energies=up, reference_energies=z,
                            statuses=(), wall_time=0.0, **kw)


def _overlapping_ticklabels(fig):
    fig.canvas.draw()
    r = fig.canvas.get_renderer()
    bad = []
    for ax in fig.axes:
        labels = [t for t in ax.get_xticklabels(minor=False) + ax.get_xticklabels(minor=True)
                  if t.get_visible() and t.get_text()]
        lo, hi = ax.get_xlim()
        labels = [t for t in labels if min(lo, hi) <= t.get_position()[0] <= max(lo, hi)]
        boxes = [t.get_window_extent(r) for t in labels]
        bad += [(labels[i].get_text(), labels[j].get_text()) for i in range(len(boxes))
                for j in range(i + 1, len(boxes)) if boxes[i].overlaps(boxes[j])]
    return bad


@pytest.fixture
def saved_figures(monkeypatch):
    """The figures the report saves, kept open for inspection."""
    from graphonflow import report

    figs = {}

    def save(fig, d, name):
        figs[name] = fig
        return name

    monkeypatch.setattr(report, "_save", save)
    yield figs
    import matplotlib.pyplot as plt

    plt.close("all")


def test_cut_distance_figure_plots_what_was_fitted(saved_figures, tmp_path):
    """Regression: the figure showed means over seeds while the rate is a fit to single seeds'
    logs, so the fitted band sat below the points; and the n labels overlapped (3x10^2 4x10^2)."""
    from graphonflow import report

    s = _fake_study([50, 100, 200, 400, 800], 3, [0.0, 7.0])
    cfg = st.parse_config(small_cfg())
    report._cut(tmp_path, cfg, [s])
    fig = saved_figures["cut_distance.png"]
    ax = fig.axes[0]
    assert _overlapping_ticklabels(fig) == []
    assert [t.get_text() for t in ax.get_xticklabels()] == ["50", "100", "200", "400", "800"]
    lines = ax.get_lines()
    for k in range(2):
        up, lo, fit_up, fit_lo = lines[4 * k: 4 * k + 4]
        # every seed's upper and lower bound is a point (no averaging), at its own n
        np.testing.assert_allclose(np.sort(up.get_ydata()), np.sort(s.upper[:, :, k].ravel()), rtol=0)
        np.testing.assert_allclose(np.sort(lo.get_ydata()), np.sort(s.lower[:, :, k].ravel()), rtol=0)
        np.testing.assert_allclose(np.sort(up.get_xdata()) / np.repeat(s.ns, 3), np.exp(0.04 * np.tile([-1, 0, 1], 5)),
                                   rtol=1e-12)
        # the lines are the least-squares fits: log-residuals of the points sum to zero
        for line, y, r in ((fit_up, s.upper, s.rate), (fit_lo, s.lower, s.rate_lower)):
            x = line.get_xdata()
            slope = np.log(line.get_ydata()[-1] / line.get_ydata()[0]) / np.log(x[-1] / x[0])
            assert slope == pytest.approx(r[k], rel=1e-12)
            a = np.log(line.get_ydata()[0]) - r[k] * np.log(x[0])
            resid = np.log(y[:, :, k]) - a - r[k] * np.log(s.ns)[:, None]
            assert abs(resid.sum()) < 1e-9
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[0] == (f"t = 0: upper {s.rate[0]:+.2f} ± {s.rate_stderr[0]:.2f}, "
                         f"lower {s.rate_lower[0]:+.2f} ± {s.rate_lower_stderr[0]:.2f}")
    assert labels[1].endswith(f"(unresolved, ratio {s.bracket_ratio[1]:.3g})")


def test_energy_figure_has_a_log_time_axis(saved_figures, small_run, tmp_path):
    from graphonflow import report

    report._energy(tmp_path, small_run.config, small_run.studies)
    fig = saved_figures["energy.png"]
    assert [ax.get_xscale() for ax in fig.axes] == ["symlog"] * 4
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["0", "0.5", "1", "4"]
    assert _overlapping_ticklabels(fig) == []


def test_animation_shows_a_finite_flow_next_to_the_limit(small_run, monkeypatch, tmp_path):
    from matplotlib.animation import FuncAnimation
    from PIL import Image

    from graphonflow import report

    traj = np.load(small_run.out / "trajectory.npz")
    assert st.gif_size(small_run.config.ns) == 192 and int(traj["f0_frames_finite_n"]) == 192
    assert traj["f0_frames_finite"].shape == (4, 96, 96)  # 192 vertices block-averaged by 2
    assert traj["f0_frames"].shape == (4, 48, 48)
    seen = {}
    real = FuncAnimation.save

    def save(self, *a, **k):
        seen["titles"] = [ax.get_title() for ax in self._fig.axes]
        seen["ylabels"] = [ax.get_ylabel() for ax in self._fig.axes]
        return real(self, *a, **k)

    monkeypatch.setattr(FuncAnimation, "save", save)
    frames = [{"times": traj[f"f{i}_frame_times"], "limit": traj[f"f{i}_frames"], "finite": traj[f"f{i}_frames_finite"],
               "n": int(traj[f"f{i}_frames_finite_n"])} for i in range(2)]
    report._gif(tmp_path, small_run.config, frames)
    assert seen["titles"] == ["C5: limit", "C5: n = 192, seed 0", "C5 + E/8: limit", "C5 + E/8: n = 192, seed 0", ""]
    assert seen["ylabels"][-1] == "W(x, y)"  # the colour bar
    im = Image.open(small_run.out / "flow.gif")
    assert im.n_frames == 4 and im.size[0] >= 560 and im.size[1] >= 560


def test_report_lists_every_status_and_both_rates(small_run):
    """Regression: the report showed the first three flow messages and '...'."""
    html = (small_run.out / "report.html").read_text()
    assert " …</p>" not in html
    s, fs = small_run.studies[0], small_run.summary["functionals"][0]
    assert "<tr><th>n</th><th>seed 0</th><th>seed 1</th></tr>" in html
    for k, n in enumerate(s.ns):
        cells = "".join(f"<td title='{fs['messages'][2 + 2 * k + j]}'>t1</td>" for j in range(2))
        assert f"<tr><th>{n}</th>{cells}</tr>" in html
    assert "<tr><th>rate (lower)</th>" in html and "<tr><th>upper / lower (max)</th>" in html
    assert "<b>3.83 (unresolved)</b>" in html  # C5 + E/8 at t = 4
    assert "ordinary least-squares standard error" in html


def test_report_writes_na_for_a_missing_standard_error(tmp_path):
    d = dict(TINY, finite={"ns": [8, 16], "seeds": 1}, save={"gif_frames": 0, "report": True, "curve_points": 3})
    res = st.run_study(d, tmp_path / "o", quiet=True)
    html = (res.out / "report.html").read_text()
    r = res.studies[0].rate
    text = re.sub(r"data:image/[a-z]+;base64,[A-Za-z0-9+/=]+", "", html)
    assert f"<td>{r[0]:+.3f} &plusmn; n/a</td>" in text and "nan" not in text.lower()


def test_progress_bar_has_no_stray_comma(tmp_path):
    """Regression: tqdm put ", " before the postfix: 't=4/4 , F=...'."""
    tty = _TTY()
    st.run_study(TINY, tmp_path / "a", stream=tty)
    text = tty.getvalue()
    assert re.search(r"t=0\.5/0\.5, F=-?[0-9.e+-]+ dt=[0-9.e+-]+ \[", text), text[-300:]
    assert " , " not in text


def test_cli_prints_both_rates_and_the_verdict(small_run, tmp_path, capsys):
    """The command's summary lines (docs/study.md shows them for this run)."""
    cfg = tmp_path / "s.toml"
    cfg.write_text(st.to_toml(small_run.config).replace("report = true", "report = false"))
    assert main(["run", str(cfg), "--out", str(tmp_path / "o"), "--quiet"]) == 0
    out = capsys.readouterr().out
    s = small_run.studies[1]
    assert ("  C5 + E/8: cut distance to the limit ~ n^r, least-squares exponents of the upper and the lower "
            "bounds (± one standard error); resolved where upper/lower <= 2:") in out
    assert (f"    t=4: upper {s.rate[2]:+.2f} ± {s.rate_stderr[2]:.2f}, lower {s.rate_lower[2]:+.2f} ± "
            f"{s.rate_lower_stderr[2]:.2f}: UNRESOLVED (upper/lower up to 3.83)") in out
    doc = (Path(__file__).resolve().parents[1] / "docs" / "study.md").read_text()
    sample = doc.split("<!-- cli-sample:begin -->", 1)[1].split("<!-- cli-sample:end -->", 1)[0]
    lines = [x for x in sample.splitlines() if x.startswith("    ")]
    assert len(lines) >= 8
    for line in lines:  # every line of the sample, up to the wall time and the folder, is this run's
        if "finished in" in line:
            assert re.sub(r"finished in [0-9.]+ s", "", line[4:]) in re.sub(r"finished in [0-9.]+ s", "", out)
        elif not line.startswith("    report:") and not line.startswith("    results:"):
            assert line[4:] in out, line

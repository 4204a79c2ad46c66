"""Studies from TOML: configuration checks, outputs, atomic writes, checkpoints, progress, report."""

import base64
import io
import json
import re
import shutil
import subprocess
import sys
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

"""graphonflow run with a [noise] table: noisy SGD against the McKean-Vlasov limit."""

import json

import numpy as np
import pytest

import graphonflow.noisy.sgd as sgd_mod
from graphonflow.__main__ import main
from graphonflow.study import ConfigError, StudyError, load_study, parse_config, run_study

CFG = {
    "title": "noisy",
    "t1": 1.0,
    "times": [0.0, 0.5, 1.0],
    "functionals": [{"label": "mantel", "terms": [{"term": "hom", "pattern": "K3"}, {"term": "edge", "coef": -1.0}]}],
    "initial": {"graphon": "mean_xy"},
    "reference": {"resolution": 4},
    "finite": {"ns": [16, 64], "seeds": 2},
    "save": {"curve_points": 5, "report": False},
    "noise": {"level": 0.3, "dt": 0.01, "cells": 100},
}


def _strip(summary):
    s = json.loads(json.dumps(summary))
    s.pop("wall_time", None)
    s.pop("versions", None)
    for f in s["functionals"]:
        f.pop("wall_time", None)
    return s


def test_noisy_study_runs_shrinks_with_n_and_reproduces(tmp_path):
    res = run_study(CFG, tmp_path / "a", quiet=True)
    st = res.studies[0]
    assert st.lower.shape == (2, 2, 3) and np.all(st.lower <= st.upper)
    assert st.upper[:, :, 0].max() == 0.0  # t = 0: the blow-ups' block means are Gamma(0) exactly
    # W1 at t = 0 is the grid's spread of the point masses (at most h/2 = 0.005)
    assert st.w1_mean[:, :, 0].max() <= 0.005 + 1e-15
    # both distances shrink from n = 16 to n = 64 at t = 0.5 and 1 (means over seeds)
    assert np.all(st.upper[1].mean(axis=0)[1:] < st.upper[0].mean(axis=0)[1:])
    assert np.all(st.w1_mean[1].mean(axis=0)[1:] < st.w1_mean[0].mean(axis=0)[1:])
    assert np.all(st.w1_fits["rate"][1:] < 0)
    s = res.summary["functionals"][0]
    assert s["noise"]["level"] == 0.3 and s["statuses"] == ["t1"] * 4 and s["limit_blocks"] == 4
    # the same seed gives the same numbers
    again = run_study(CFG, tmp_path / "b", quiet=True)
    assert _strip(again.summary)["functionals"] == _strip(res.summary)["functionals"]
    loaded = load_study(res.out)
    assert np.array_equal(loaded.functionals[0].upper, st.upper) and loaded.config == res.config
    assert loaded.config.noise == res.config.noise


def test_noisy_study_resumes_bit_for_bit(tmp_path, monkeypatch):
    full = run_study(CFG, tmp_path / "full", quiet=True)
    real = sgd_mod.noisy_flow
    calls = []

    def dies_on_the_third(*a, **k):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("simulated crash")
        return real(*a, **k)

    import graphonflow.noisy as pkg

    monkeypatch.setattr(sgd_mod, "noisy_flow", dies_on_the_third)
    monkeypatch.setattr(pkg, "noisy_flow", dies_on_the_third)
    with pytest.raises(StudyError, match="simulated crash"):
        run_study(CFG, tmp_path / "out", quiet=True)
    assert (tmp_path / "out.partial").is_dir()
    monkeypatch.setattr(sgd_mod, "noisy_flow", real)
    monkeypatch.setattr(pkg, "noisy_flow", real)
    res = run_study(CFG, tmp_path / "out", quiet=True)
    assert len(res.restored) == 2 and len(res.computed) == 2
    assert _strip(res.summary)["functionals"] == _strip(full.summary)["functionals"]
    with np.load(res.out / "trajectory.npz") as a, np.load(full.out / "trajectory.npz") as b:
        assert sorted(a.files) == sorted(b.files)
        for k in a.files:
            assert np.array_equal(a[k], b[k], equal_nan=True), k


@pytest.mark.parametrize("noise,msg", [
    ({"dt": 0.01}, "noise.level"),
    ({"level": 0.1, "sigma": 1}, "noise.sigma"),
    ({"level": -0.1}, "noise.level"),
    ({"level": 0.1, "quantiles": [0.5, 1.5]}, "noise.quantiles"),
    ({"level": 0.1, "reflect": "yes"}, "noise.reflect"),
])
def test_noise_table_errors_name_the_key(noise, msg):
    with pytest.raises(ConfigError, match=msg.replace(".", r"\.")):
        parse_config({**CFG, "noise": noise})


def test_noisy_study_refuses_an_animation():
    with pytest.raises(ConfigError, match="save.gif_frames"):
        parse_config({**CFG, "save": {"gif_frames": 10}})


def test_cli_runs_a_noisy_study_with_a_report(tmp_path, capsys):
    import tomllib  # noqa: F401  (the file below is TOML)

    cfg = tmp_path / "noisy.toml"
    cfg.write_text("""
t1 = 0.5
times = [0.0, 0.5]
[[functionals]]
terms = [{term = "hom", pattern = "K3"}, {term = "edge", coef = -1.0}]
[initial]
graphon = "mean_xy"
[reference]
resolution = 3
[finite]
ns = [12, 24]
seeds = 1
[save]
curve_points = 3
[noise]
level = 0.25
dt = 0.01
cells = 60
""")
    assert main(["run", str(cfg), "--out", str(tmp_path / "o"), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "noisy SGD: s = 0.25, tau = 0.01" in out and "W1" in out and "t=0.5: cut distance upper" in out
    names = sorted(p.name for p in (tmp_path / "o").iterdir())
    assert {"noise_laws_f0.png", "noise_distances_f0.png", "energy.png", "report.html"} <= set(names)
    assert "McKean&ndash;Vlasov" in (tmp_path / "o" / "report.html").read_text()

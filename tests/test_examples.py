"""Fast versions of the scripts in examples/, asserting their numbers."""

import importlib.util
import math
from pathlib import Path

import numpy as np
import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def load(name):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_mantel(tmp_path):
    rows = load("mantel").main(["--out", str(tmp_path)], sizes=(7, 24), seeds=(2,))
    values = {n: res.energy for n, _, res, _, _ in rows}
    assert values[7] == pytest.approx(-24 / 49, abs=1e-9)  # K_{3,4}
    assert values[24] == pytest.approx(-0.5, abs=1e-9)  # K_{12,12} for this seed
    assert (tmp_path / "mantel.png").stat().st_size > 1000


def test_ergm_phase(tmp_path):
    mod = load("ergm_phase")
    out = mod.main(["--out", str(tmp_path)], b2_grid=[0.3, 1.2], b1_grid=[-1.5, -0.3])
    maxima, lo, hi = out["branches"]
    assert lo == pytest.approx(maxima[0], abs=1e-7) and hi == pytest.approx(maxima[1], abs=1e-7)
    assert out["critical"] == pytest.approx(2 / 3, abs=2e-2)
    energy, best_const = out["bipartite"]
    assert energy < best_const - 0.05
    # transition line: at beta2 = 1.2 it sits at the beta1 where both maxima are equally high
    b1 = mod.transition_beta1(1.2)
    m = mod.local_maxima(b1, 1.2)
    assert len(m) == 2 and mod.ell(m[0], b1, 1.2) == pytest.approx(mod.ell(m[1], b1, 1.2), abs=1e-10)
    assert (tmp_path / "ergm_phase.png").stat().st_size > 1000


def test_real_networks(tmp_path, capsys):
    res = load("real_networks").main(["--out", str(tmp_path), "--quick"])
    assert {F for _, F in res} == {"K2", "K3", "C4"}
    assert (tmp_path / "real_networks.png").stat().st_size > 1000
    assert f"figure: {tmp_path / 'real_networks.png'}" in capsys.readouterr().out
    # Zachary's karate club: 78 edges, 45 triangles on 34 vertices
    t, ti, td, count = res[("karate club", "K3")]
    assert count == 6 * 45
    assert ti == pytest.approx(6 * 45 / (34 * 33 * 32))
    assert res[("karate club", "K2")][0] == pytest.approx(2 * 78 / 34**2)
    with pytest.raises(SystemExit) as exc:
        load("real_networks").main(["--help"])
    assert exc.value.code == 0 and "(default: real-networks-out)" in capsys.readouterr().out


def test_finite_vs_limit(tmp_path):
    study = load("finite_vs_limit").main(["--out", str(tmp_path)], ns=(20, 40, 80), seeds=2,
                                         resolution=32, t1=0.5)
    assert study.upper.shape == (3, 2, 3)
    assert np.all(study.lower <= study.upper + 1e-12)
    assert all(math.isfinite(r) and r < 0 for r in study.rate)


def test_upper_tails(tmp_path):
    res = load("upper_tails").main(["--out", str(tmp_path)], deltas={0.05: [2.4, 2.8]},
                                   widths=np.geomspace(2e-5, 3e-4, 4))
    dstar, first = res[0.05]
    assert dstar == pytest.approx(2.5307, abs=2e-3)
    assert first == 2.8
    const, best, s, B = res[(0.05, 2.8)]
    assert best < const * (1 - 5e-4)
    assert B[0, 1] == pytest.approx(0.92, abs=0.03)  # hub edges near the minorant's upper level


def test_seed_figures(tmp_path):
    out = load("seed_figures").main(["--out", str(tmp_path), "--quick"])
    assert out["p_star"] == pytest.approx(0.3516627837, abs=1e-9)  # root of 5p^4 + logit(p)/8
    dist = out["row1"]["dist"]
    assert dist[4.0] < dist[2.4] < dist[1.0] < dist[0.0] and dist[4.0] < 0.1
    res = out["row3"]["res"]
    assert res.n_steps == 66_000
    assert out["split"] == (4, 3)  # K_{4,3} with zero diagonal, exactly 0/1
    assert res.energy == pytest.approx(-24 / 49, abs=1e-9)
    assert set(np.unique(res.W)) == {0.0, 1.0} and not np.diag(res.W).any()
    assert (tmp_path / "seed_figures.png").stat().st_size > 1000

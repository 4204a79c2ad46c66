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
    mod = load("mantel")
    rows = mod.main(["--out", str(tmp_path)], sizes=(7, 24), seeds=(2,))
    values = {n: res.energy for n, _, res, _, _ in rows}
    assert values[7] == pytest.approx(-24 / 49, abs=1e-9)  # K_{3,4}
    assert values[24] == pytest.approx(-0.5, abs=1e-9)  # K_{12,12} for this seed
    assert (tmp_path / "mantel.png").stat().st_size > 1000
    # the figure: energy curves (the saved energies) and the final W with a colourbar
    fig = mod.figure(rows)
    assert len(fig.axes) == 3
    assert np.array_equal(fig.axes[0].lines[0].get_ydata(), rows[0][2].energies)
    (im,) = fig.axes[1].images
    assert im.colorbar is not None and im.colorbar.ax is fig.axes[2]


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
    # beta2 < 0 by multistart: the constant branch and the bipartite minimum, which is the best
    ms = out["multistart"]
    assert ms.best_run.label == "two-block bipartite" and len(ms.minima) == 2
    assert ms.minima[1].energy == pytest.approx(best_const, abs=1e-6)
    # docs/tutorials.md quotes these: -0.532 (one run) and the constant branch -0.471 (seven runs)
    assert [round(mn.energy, 6) for mn in ms.minima] == [-0.531748, -0.470669] and ms.counts == (1, 7)
    # both panels have colourbars (the heatmap had none)
    fig = out["figure"]
    assert len(fig.axes) == 4
    assert fig.axes[0].collections[0].colorbar is not None and fig.axes[1].images[0].colorbar is not None


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
    from graphonflow import lz_boundary

    mod = load("upper_tails")
    first_two = mod.default_levels(lz_boundary("K3", 0.05))[:2]  # u_-(1 - 1%) and u_-(1 + 1%)
    res = mod.main(["--out", str(tmp_path)],
                   cases={("K3", 0.05): first_two, ("K4", 0.1): [0.988, 0.9905], ("K3", 0.2): [0.5]})
    lz, (below, above) = res[("K3", 0.05)]
    assert lz.deltas[0] == pytest.approx(2.530031, abs=1e-6)
    assert below.symmetric and not above.symmetric
    assert above.W.values[0, 1] == pytest.approx(0.92, abs=0.01)  # hub edges at the minorant's upper level
    # the numbers docs/tutorials.md quotes for r = 1.01 u_- = 0.07689
    assert above.W.widths[0] == pytest.approx(4.32e-5, rel=2e-2)
    assert above.W.values[0, 1] == pytest.approx(0.9236, abs=5e-4)
    assert above.W.values[1, 1] == pytest.approx(0.0764, abs=5e-5)
    assert above.gain == pytest.approx(2.28e-4, rel=1e-2)
    assert len(mod.default_levels(lz)) == 10  # 2 at each band end and 6 inside
    # K4 at p = 0.1: the upper band end 0.98949 lies between 0.988 (broken) and 0.9905 (symmetric)
    lz4, (inside, outside) = res[("K4", 0.1)]
    assert lz4.levels[1] == pytest.approx(0.98949, abs=1e-5)
    assert not inside.symmetric and outside.symmetric
    assert inside.W.values[0, 0] < 0.11  # a few sparse vertices, the rest near u_+
    # no band at p = 0.2 for triangles: a reason, and the constant wins
    lz2, (only,) = res[("K3", 0.2)]
    assert not lz2.has_band and lz2.reason.startswith("no symmetry-breaking band") and only.symmetric
    assert (tmp_path / "upper_tails.png").stat().st_size > 1000


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


def test_noisy_mantel(tmp_path):
    out = load("noisy_mantel").main(["--out", str(tmp_path), "--quick", "--noise", "0.15"])
    assert out["steps"] == 5000 and out["noise"] == 0.15
    # at s = 0.15 the limit breaks the symmetry by t = 10: near-empty sides, near-full cross part
    assert out["limit_same"] < 0.1 and out["limit_cross"] > 0.9
    assert out["limit_energy"] < -0.45
    assert (tmp_path / "noisy_mantel.png").stat().st_size > 1000
    # the finite run is checkpointed in chunks: a second start reloads them and gives the same state
    chunks = sorted((tmp_path / "checkpoints").glob("*/chunk*.npz"))
    assert len(chunks) == 25
    chunks[-1].unlink()  # as if killed during the last chunk
    again = load("noisy_mantel").main(["--out", str(tmp_path), "--quick", "--noise", "0.15"])
    assert again["steps"] == 5000 and again["same"] == out["same"] and again["cross"] == out["cross"]

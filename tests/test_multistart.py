"""multistart: flows from many starts, the best end point and the distinct minima (issue 12, item 19)."""

import math

import numpy as np
import pytest

import graphonflow as gf
from graphonflow.multistart import canonical_form, graphon_distance, multistart

MANTEL = gf.HomDensity("K3") - gf.EdgeDensity()
MANTEL_KW = dict(t1=60.0, dt=0.05, integrator="euler", gtol=1e-9)


def test_mantel_best_is_complete_bipartite_and_the_constant_branch_is_a_second_end_point():
    ms = multistart(MANTEL, m=8, starts=("constant", "random"), n_random=3, rng=0, **MANTEL_KW)
    assert [r.label for r in ms.runs] == ["constant 0.1", "constant 0.5", "constant 0.9",
                                          "random 0", "random 1", "random 2"]
    assert ms.success and ms.best.energy == pytest.approx(-0.5, abs=1e-9)  # K_{4,4}
    assert set(np.unique(ms.best.W)) == {0.0, 1.0}
    # constants stay constant and tend to 1/sqrt(3): t(K3) - t(K2) = -2 / (3 sqrt 3)
    const = -2 / (3 * math.sqrt(3))
    assert [round(mn.energy, 9) for mn in ms.minima] == [-0.5, round(const, 9)]
    assert ms.counts == (3, 3)
    assert ms.best_run is ms.minima[0]


def test_ergm_with_negative_triangles_finds_the_bipartite_minimum_below_every_constant():
    F = gf.ergm([1.0, -5.0])
    ms = multistart(F, m=10, starts=("constant", "two-block"), t1=40.0, dt=0.05, gtol=1e-9)
    assert ms.best_run.label == "two-block bipartite"
    u = np.linspace(1e-6, 1 - 1e-6, 200001)
    best_const = -np.max(1.0 * u - 5.0 * u**3 - 0.5 * (u * np.log(u) + (1 - u) * np.log1p(-u)))
    assert ms.best.energy < best_const - 0.05
    constant_runs = [r for r in ms.runs if r.label.startswith("constant")]
    assert all(r.energy == pytest.approx(best_const, abs=1e-6) for r in constant_runs)
    assert len(ms.minima) == 2 and ms.counts == (1, 4)


def test_same_seed_same_result_other_seed_other_random_starts():
    kw = dict(m=6, starts=("random",), n_random=2, t1=5.0, dt=0.05)
    a = multistart(MANTEL, rng=7, **kw)
    b = multistart(MANTEL, rng=np.random.default_rng(7), **kw)
    c = multistart(MANTEL, rng=8, **kw)
    for x, y in zip(a.runs, b.runs):
        assert np.array_equal(x.start, y.start) and np.array_equal(x.result.W, y.result.W)
        assert np.array_equal(x.result.energies, y.result.energies)
    assert not np.array_equal(a.runs[0].start, c.runs[0].start)
    # random 0/1 starts: symmetric, exactly 0 and 1 without an entropy term
    S = a.runs[0].start
    assert np.array_equal(S, S.T) and set(np.unique(S)) == {0.0, 1.0}


def test_random_starts_keep_a_margin_inside_the_box_with_entropy():
    ms = multistart(gf.ergm([0.0, 1.0]), m=4, starts=("random",), n_random=1, rng=0, t1=0.1, dt=0.05)
    assert set(np.unique(ms.runs[0].start)) == {0.02, 0.98}


def test_workers_give_bit_identical_results():
    F = gf.ergm([1.0, -5.0])
    kw = dict(m=12, starts=("constant", "two-block", "random"), n_random=3, rng=5, t1=10.0, dt=0.05)
    serial = multistart(F, **kw)
    parallel = multistart(F, workers=2, **kw)
    assert len(serial.runs) == len(parallel.runs) == 8
    for x, y in zip(serial.runs, parallel.runs):
        assert x.label == y.label
        assert np.array_equal(x.result.W, y.result.W)
        assert np.array_equal(x.result.energies, y.result.energies)
        assert x.result.n_steps == y.result.n_steps
    assert serial.counts == parallel.counts


def test_user_starts_arrays_and_step_graphons():
    W = gf.StepGraphon([[0.1, 0.9], [0.9, 0.1]], [0.25, 0.75])
    A = np.full((3, 3), 0.4)
    ms = multistart(MANTEL, starts=[W, A], **MANTEL_KW)
    labels = [r.label for r in ms.runs]
    assert labels == ["start 0", "start 1"]
    assert np.array_equal(ms.runs[0].widths, [0.25, 0.75])
    # two blocks of widths 1/4, 3/4 stay two blocks: the flow ends at B = [[0, 1], [1, 1/3]],
    # t(K2) = 3/8 + 3/16, t(K3) = 9/64 + 1/64, F = -13/32 (below K_{1/4,3/4}'s -3/8)
    assert ms.runs[0].result.W == pytest.approx(np.array([[0.0, 1.0], [1.0, 1 / 3]]), abs=1e-9)
    assert ms.runs[0].energy == pytest.approx(-13 / 32, abs=1e-9)
    assert ms.runs[1].energy == pytest.approx(-2 / (3 * math.sqrt(3)), abs=1e-9)  # the constant 0.4 -> 1/sqrt 3
    assert ms.best_run.label == "start 0" and len(ms.minima) == 2


def test_graphon_distance_is_relabelling_invariant_and_merges_twin_blocks():
    rng = np.random.default_rng(0)
    side = rng.random(9) < 0.5
    A = np.where(side[:, None] != side[None, :], 1.0, 0.0)
    P = np.eye(9)[rng.permutation(9)]
    assert graphon_distance(A, P @ A @ P.T) == 0.0
    B, w = canonical_form(A)
    k = int(side.sum())
    assert B.tolist() == [[0.0, 1.0], [1.0, 0.0]]
    assert sorted(w.tolist()) == pytest.approx(sorted([k / 9, 1 - k / 9]))
    assert graphon_distance(np.full((2, 2), 0.5), np.full((3, 3), 0.25)) == 0.25
    assert graphon_distance(gf.StepGraphon([[0.3]]), np.full((4, 4), 0.3)) == 0.0


def test_errors_name_the_argument():
    with pytest.raises(TypeError, match="multistart needs t1="):
        multistart(MANTEL, m=4)
    with pytest.raises(ValueError, match=r"starts\[0\] = 'ring': a start family must be one of"):
        multistart(MANTEL, m=4, starts=("ring",), t1=1.0, dt=0.1)
    with pytest.raises(ValueError, match=r"starts\[0\] = 'random' needs the number of blocks m"):
        multistart(MANTEL, starts=("random",), t1=1.0, dt=0.1)
    with pytest.raises(ValueError, match="workers must be a positive integer, got 0"):
        multistart(MANTEL, m=4, workers=0, t1=1.0, dt=0.1)
    with pytest.raises(ValueError, match=r"levels must be fractions of the box in \[0, 1\]"):
        multistart(MANTEL, m=4, levels=(1.5,), t1=1.0, dt=0.1)
    bad = gf.Custom(lambda B, w: 0.0, lambda B, w: 0 * B, name="lambda")
    with pytest.raises(TypeError, match="workers=2 sends F and the flow options to worker processes, but they "
                                        "cannot be pickled"):
        multistart(bad, m=4, starts=("random",), n_random=2, workers=2, t1=1.0, dt=0.1)
    with pytest.raises(ValueError, match="mp_context must be one of"):
        multistart(MANTEL, m=4, starts=("random",), n_random=2, workers=2, mp_context="teleport", t1=1.0, dt=0.1)

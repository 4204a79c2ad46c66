"""Graphon class, standard library and step-graphon operations (graphonflow.graphons)."""

import networkx as nx
import numpy as np
import pytest
from scipy.special import i0

from graphonflow import StepGraphon, hom_density
from graphonflow.graphons import (
    Graphon,
    as_step,
    block_average,
    coarsen,
    common_refinement,
    complete_bipartite,
    constant,
    mean_xy,
    min_xy,
    one_minus_max_xy,
    overlap_matrix,
    ring,
    sbm,
    xy,
)
from graphonflow.graphons import _block_mean_quadrature, _partition_edges


def test_library_values():
    assert float(xy()(0.5, 0.4)) == pytest.approx(0.2)
    assert float(mean_xy()(0.2, 0.6)) == pytest.approx(0.4)
    assert float(min_xy()(0.2, 0.6)) == pytest.approx(0.2)
    assert float(one_minus_max_xy()(0.2, 0.6)) == pytest.approx(0.4)
    assert float(ring(kappa=2.0, p=0.8)(0.3, 0.3)) == pytest.approx(0.8)
    assert float(ring(kappa=2.0, p=0.8)(0.0, 0.5)) == pytest.approx(0.8 * np.exp(-4.0))
    assert constant(0.3).values.tolist() == [[0.3]]
    K = complete_bipartite(0.25)
    assert K.widths.tolist() == [0.25, 0.75]
    x = np.array([0.1, 0.1, 0.9])
    y = np.array([0.2, 0.6, 0.95])
    assert K(x, y).tolist() == [0.0, 1.0, 0.0]


def test_library_homomorphism_densities():
    # t(F, xy) = prod_v 1/(deg v + 1): K3 -> 1/27, P3 -> 1/12
    assert hom_density("K3", xy()) == pytest.approx(1 / 27, rel=1e-10)
    assert hom_density("P3", xy()) == pytest.approx(1 / 12, rel=1e-10)
    K = complete_bipartite(0.3)
    assert hom_density("K3", K) == pytest.approx(0.0, abs=1e-15)
    assert hom_density("K2", K) == pytest.approx(2 * 0.3 * 0.7)
    # ring: constant degree p e^{-kappa} I_0(kappa)
    R = ring(kappa=3.0, p=0.9)
    d = R.degree(np.linspace(0, 1, 7))
    assert np.allclose(d, 0.9 * np.exp(-3.0) * i0(3.0), rtol=1e-10)


@pytest.mark.parametrize("G", [xy(), mean_xy(), min_xy(), one_minus_max_xy()], ids=lambda g: g.name)
def test_exact_block_means_match_quadrature(G):
    widths = np.array([0.2, 0.5, 0.3])
    exact = G.block_average(widths).values
    # Gauss-Legendre is exact for xy, (x+y)/2; for the kinked min / max use many nodes
    quad = _block_mean_quadrature(G, _partition_edges(widths), 200)
    assert np.allclose(exact, quad, atol=2e-6)


def test_generic_block_average_and_convergence():
    f = Graphon(lambda x, y: x * y)  # no closed form supplied: quadrature per block
    assert np.allclose(f.block_average(5).values, xy().block_average(5).values, atol=1e-14)
    # t(K3, W_P) -> t(K3, W) = 1/27 as the partition is refined
    errs = [abs(hom_density("K3", min_xy().block_average(m)) - hom_density("K3", min_xy(), quad_nodes=200))
            for m in (4, 16, 64)]
    assert errs[0] > errs[1] > errs[2]
    # block averaging preserves the integral
    assert min_xy().block_average(7).edge_density() == pytest.approx(1 / 3, rel=1e-12)


def test_quadrature_representation():
    Q = ring(kappa=2.0).quadrature(24)
    assert isinstance(Q, StepGraphon) and Q.m == 24
    # smooth periodic kernel: quadrature is spectrally accurate for t(K2) = e^{-k} I0(k)
    assert Q.edge_density() == pytest.approx(np.exp(-2.0) * i0(2.0), rel=1e-10)


def test_step_block_average_refine_coarsen_roundtrip():
    W = sbm([[0.9, 0.2, 0.1], [0.2, 0.5, 0.3], [0.1, 0.3, 0.7]], [0.2, 0.3, 0.5])
    R = W.refine(3)
    assert R.m == 9
    rng = np.random.default_rng(0)
    x, y = rng.random(50), rng.random(50)
    assert np.array_equal(R(x, y), W(x, y))
    C = coarsen(R, np.repeat(np.arange(3), 3))
    assert np.allclose(C.values, W.values) and np.allclose(C.widths, W.widths)
    # block average onto a partition refining W's is W itself
    fine = block_average(W, np.array([0.1, 0.1, 0.15, 0.15, 0.25, 0.25]))
    assert np.allclose(fine(x, y), W(x, y), rtol=0, atol=1e-14)
    # coarse average keeps the edge density
    assert block_average(W, 2).edge_density() == pytest.approx(W.edge_density())
    assert coarsen(W, np.array([0, 1, 0])).edge_density() == pytest.approx(W.edge_density())


def test_overlap_and_common_refinement():
    U = sbm([[1.0, 0.0], [0.0, 1.0]], [0.3, 0.7])
    V = sbm([[0.2, 0.4, 0.6], [0.4, 0.8, 0.1], [0.6, 0.1, 0.5]])
    O = overlap_matrix(U.breakpoints, V.breakpoints)
    assert np.allclose(O.sum(axis=1), U.widths) and np.allclose(O.sum(axis=0), V.widths)
    BU, BV, w = common_refinement(U, V)
    assert w.size == 4 and w.sum() == pytest.approx(1.0)
    S = StepGraphon(BU, w)
    T = StepGraphon(BV, w)
    rng = np.random.default_rng(1)
    x, y = rng.random(200), rng.random(200)
    assert np.array_equal(S(x, y), U(x, y)) and np.array_equal(T(x, y), V(x, y))


def test_relabelling_preserves_densities():
    W = sbm([[0.9, 0.2, 0.1], [0.2, 0.5, 0.3], [0.1, 0.3, 0.7]], [0.2, 0.3, 0.5])
    P = W.relabel([2, 0, 1])
    assert P.widths.tolist() == [0.5, 0.2, 0.3]
    for F in ("K2", "P3", "K3", "C4"):
        assert hom_density(F, P) == pytest.approx(hom_density(F, W), rel=1e-12)
    G = min_xy().relabel(lambda x: 1.0 - x)  # measure preserving
    assert float(G(0.2, 0.3)) == pytest.approx(0.7)
    assert hom_density("K3", G, quad_nodes=100) == pytest.approx(hom_density("K3", min_xy(), quad_nodes=100), rel=1e-12)
    with pytest.raises(ValueError):
        W.relabel([0, 0, 1])


def test_matrix_and_networkx_conversions():
    W = sbm([[0.9, 0.2], [0.2, 0.0]], [0.4, 0.6])
    G = W.to_networkx()
    assert G.number_of_nodes() == 2 and G[0][0]["weight"] == 0.9 and not G.has_edge(1, 1)
    back = StepGraphon.from_networkx(G)
    assert np.array_equal(back.values, W.values) and np.allclose(back.widths, W.widths)
    H = nx.cycle_graph(5)
    S = StepGraphon.from_networkx(H)
    assert S.uniform and S.values.sum() == 10
    assert np.array_equal(as_step(H).values, nx.to_numpy_array(H))
    x = np.array([0.1, 0.5, 0.9])
    M = mean_xy().matrix_at(x)
    assert np.allclose(M, 0.5 * (x[:, None] + x[None, :]))
    with pytest.raises(ValueError):
        as_step(xy())  # needs a resolution
    assert as_step(xy(), resolution=3).m == 3


def test_bad_input_errors():
    with pytest.raises(ValueError):
        xy()(1.5, 0.2)
    with pytest.raises(ValueError):
        Graphon(lambda x, y: x - y + 0.5).matrix_at([0.1, 0.4])  # not symmetric
    with pytest.raises(ValueError):
        Graphon(lambda x, y: x * np.nan)(0.5, 0.5)
    with pytest.raises(ValueError):
        Graphon(lambda x, y: 2 * x * y)(0.9, 0.9)  # leaves the box [0, 1]
    assert float(Graphon(lambda x, y: 2 * x * y, box=(0, 2))(0.9, 0.9)) == pytest.approx(1.62)
    with pytest.raises(ValueError):
        Graphon(lambda x, y: x * (1 - y), box=(0, 1)).block_average(4)  # not symmetric
    with pytest.raises(ValueError):
        constant(np.nan)
    with pytest.raises(ValueError):
        complete_bipartite(1.5)
    with pytest.raises(ValueError):
        sbm([[0.1, 0.2], [0.3, 0.1]])
    with pytest.raises(ValueError):
        xy().block_average(np.array([0.5, 0.6]))
    with pytest.raises(ValueError):
        coarsen(constant(0.2).refine(3), np.array([0, 2, 2]))
    with pytest.raises(TypeError):
        Graphon(3.0)


def test_block_average_of_a_plain_function():
    """A plain f(x, y) is read as Graphon(f): block means by quadrature, no resolution asked."""
    S = block_average(lambda x, y: x * y, 4)
    c = (np.arange(4) + 0.5) / 4
    np.testing.assert_allclose(S.values, np.outer(c, c), rtol=1e-14)  # GL is exact for x y
    np.testing.assert_array_equal(S.widths, np.full(4, 0.25))
    # values outside [0, 1] are fine for a plain function (no box), asymmetry is not
    T = block_average(lambda x, y: -3.0 * (x + y), [0.25, 0.75])
    np.testing.assert_allclose(T.values, -3.0 * np.add.outer([0.125, 0.625], [0.125, 0.625]), rtol=1e-14)
    with pytest.raises(ValueError, match="not symmetric"):
        block_average(lambda x, y: x, 3)
    # the same through the convergence study, which block-averages its start
    from graphonflow import EdgeDensity, HomDensity, convergence_study

    F = HomDensity("K3") - EdgeDensity()
    a = convergence_study(F, lambda x, y: 0.5 * (x + y), [10, 20], 0.4, dt=0.05, resolution=8, rng=3)
    b = convergence_study(F, mean_xy(), [10, 20], 0.4, dt=0.05, resolution=8, rng=3)
    np.testing.assert_allclose(a.upper, b.upper, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(a.lower, b.lower, rtol=1e-12, atol=1e-15)
    assert np.all(a.upper > 1e-3)  # a real distance, not a degenerate comparison


def test_continuous_input_errors_name_the_fix():
    """Functions that take no resolution suggest block_average, not a resolution argument."""
    from graphonflow import cut_norm

    with pytest.raises(ValueError, match=r"U is a continuous graphon.*U\.block_average\(m\)") as e:
        cut_norm(xy())
    assert "resolution" not in str(e.value)
    with pytest.raises(ValueError, match=r"graphonflow\.block_average\(U, m\)") as e:
        cut_norm(lambda x, y: x * y)
    assert "resolution" not in str(e.value)
    with pytest.raises(ValueError, match=r"V\.block_average\(m\)"):
        common_refinement(constant(0.5), xy())
    with pytest.raises(ValueError, match=r"W\.block_average\(m\).*give as_step resolution=m"):
        as_step(xy())
    # and the suggested fix works: the cut norm of xy's block average is its mean
    r = cut_norm(xy().block_average(4))
    assert r.lower == pytest.approx(0.25, rel=1e-12) and r.upper == pytest.approx(0.25, rel=1e-12)

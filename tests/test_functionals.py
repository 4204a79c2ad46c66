"""Functionals: closed forms, finite-difference gradients, the n^2 scaling, composition."""

import math

import numpy as np
import pytest

import graphonflow.functionals as fmod
from graphonflow import (
    Custom,
    EdgeDensity,
    Entropy,
    HomDensity,
    Pattern,
    RateFunction,
    StepGraphon,
    ergm,
)


def _sym(rng, m, lo=0.1, hi=0.9):
    A = rng.uniform(lo, hi, (m, m))
    return (A + A.T) / 2


def _tri_custom():
    # t(K3) written by hand: tr((B D)^3) with D = diag(w), block gradient 3 B D B
    # (for a matrix, w = 1/n: tr(A^3)/n^3 and 3 A^2 / n)
    return Custom(
        lambda B, w: float(np.trace(np.linalg.matrix_power(B * w, 3))),
        lambda B, w: 3.0 * (B * w) @ B,
        name="tri",
    )


FUNCTIONALS = {
    "edge": lambda: EdgeDensity(),
    "entropy": lambda: Entropy(),
    "rate": lambda: RateFunction(0.3),
    "K3": lambda: HomDensity("K3"),
    "C4": lambda: HomDensity("C4"),
    "P3": lambda: HomDensity("P3"),
    "custom": _tri_custom,
    "ergm": lambda: ergm([-0.4, 1.3, 0.7], ["K2", "K3", "C4"]),
    "mix": lambda: 2.0 * RateFunction(0.2) - HomDensity("K3") / 3 + EdgeDensity(),
}


# ----------------------------------------------------------------------------- closed forms
def test_closed_forms_at_constants():
    p = 0.3
    A = np.full((6, 6), p)
    h = p * math.log(p) + (1 - p) * math.log(1 - p)
    assert EdgeDensity().value(A) == pytest.approx(p, rel=1e-14)
    assert Entropy().value(A) == pytest.approx(h, rel=1e-14)
    np.testing.assert_allclose(Entropy().grad(A), math.log(p / (1 - p)), rtol=1e-14)
    assert HomDensity("K3").value(A) == pytest.approx(p**3, rel=1e-14)
    np.testing.assert_allclose(HomDensity("K3").grad(A), 3 * p**2, rtol=1e-14)
    np.testing.assert_allclose(HomDensity("C4").grad(A), 4 * p**3, rtol=1e-14)
    # I_p vanishes at p, and at q it is 1/2 [q log(q/p) + (1-q) log((1-q)/(1-p))]
    assert RateFunction(p).value(A) == pytest.approx(0.0, abs=1e-15)
    np.testing.assert_allclose(RateFunction(p).grad(A), 0.0, atol=1e-14)
    q = 0.55
    Iq = 0.5 * (q * math.log(q / p) + (1 - q) * math.log((1 - q) / (1 - p)))
    assert RateFunction(p).value(np.full((3, 3), q)) == pytest.approx(Iq, rel=1e-13)
    # entropy takes 0 log 0 = 0 in its value
    assert Entropy().value(np.array([[0.0, 1.0], [1.0, 0.0]])) == 0.0


def test_mantel_value_of_complete_bipartite():
    A = np.zeros((6, 6))
    A[:3, 3:] = A[3:, :3] = 1.0
    F = HomDensity("K3") - EdgeDensity()
    assert F.value(A) == pytest.approx(-0.5, abs=1e-15)


# ----------------------------------------------------------------------------- gradients
@pytest.mark.parametrize("name", list(FUNCTIONALS))
@pytest.mark.parametrize("weighted", [False, True])
def test_gradient_matches_directional_finite_difference(name, weighted):
    F = FUNCTIONALS[name]()
    rng = np.random.default_rng(7)
    m = 7
    B = _sym(rng, m)
    U = rng.normal(size=(m, m))
    U = (U + U.T) / 2
    w = rng.uniform(0.5, 2.0, m) if weighted else np.ones(m)
    w /= w.sum()

    def val(X):
        return F.value(StepGraphon(X, w) if weighted else X)

    G = F.grad(StepGraphon(B, w) if weighted else B)
    assert np.array_equal(G, G.T) or np.max(np.abs(G - G.T)) < 1e-13
    eps = 1e-5
    fd = (val(B + eps * U) - val(B - eps * U)) / (2 * eps)
    ip = float(w @ (G * U) @ w)  # <DF, U>_{L2} with weights w_i w_j
    assert fd == pytest.approx(ip, rel=1e-7, abs=1e-10)


@pytest.mark.parametrize("name", ["K3", "C4", "ergm", "custom", "entropy"])
def test_block_gradient_is_n2_times_frobenius_gradient(name):
    """Perturbing one diagonal entry, or one symmetric pair, of the full matrix.

    With A_ij and A_ji separate coordinates, d f / d(pair ij) = 2 * (Frobenius gradient)_ij
    = 2 DF_ij / n^2 off the diagonal and DF_ii / n^2 on it -- the off-diagonal block
    value is *not* doubled.
    """
    F = FUNCTIONALS[name]()
    rng = np.random.default_rng(3)
    n = 9
    A = _sym(rng, n)
    G = F.grad(A)
    eps = 1e-6
    for i, j in [(2, 2), (1, 5)]:
        E = np.zeros((n, n))
        E[i, j] = E[j, i] = 1.0
        fd = (F.value(A + eps * E) - F.value(A - eps * E)) / (2 * eps)
        mult = 1 if i == j else 2
        assert fd == pytest.approx(mult * G[i, j] / n**2, rel=1e-7)


def test_refining_blocks_does_not_change_values_or_gradients():
    rng = np.random.default_rng(11)
    B = _sym(rng, 3)
    w = np.array([0.5, 0.3, 0.2])
    # split block 0 into two copies of width 0.25
    idx = [0, 0, 1, 2]
    Br = B[np.ix_(idx, idx)]
    wr = np.array([0.25, 0.25, 0.3, 0.2])
    F = ergm([-0.3, 0.8, -0.2], ["K2", "K3", "P3"])
    assert F.value(StepGraphon(B, w)) == pytest.approx(F.value(StepGraphon(Br, wr)), rel=1e-13)
    np.testing.assert_allclose(F.grad(StepGraphon(Br, wr)), F.grad(StepGraphon(B, w))[np.ix_(idx, idx)], rtol=1e-12)


def test_custom_matches_hom_density():
    rng = np.random.default_rng(5)
    A = _sym(rng, 10)
    assert _tri_custom().value(A) == pytest.approx(HomDensity("K3").value(A), rel=1e-13)
    np.testing.assert_allclose(_tri_custom().grad(A), HomDensity("K3").grad(A), rtol=1e-12)


# ----------------------------------------------------------------------------- composition
def test_one_edge_and_edgeless_patterns_are_entrywise():
    # t(K2, W) = int W and t(edgeless, W) = 1: a sum puts them in the local part (no product)
    rng = np.random.default_rng(3)
    A = rng.random((30, 30))
    A = (A + A.T) / 2
    F = HomDensity("K3") - 2.0 * HomDensity("K2")
    split = F.split()
    assert [repr(a) for _, a in split.explicit.terms()] == ["HomDensity('K3')"]
    assert split.local.coefficients() == (0.0, -2.0, 0.0)
    G = HomDensity("K3") - 2.0 * EdgeDensity()
    assert F.value(A) == pytest.approx(G.value(A), rel=1e-15)
    np.testing.assert_allclose(F.grad(A), G.grad(A), rtol=0, atol=1e-15)
    assert HomDensity("K2").value(A) == pytest.approx(A.mean(), rel=1e-14)
    two_edges_apart = HomDensity([(0, 1), (2, 3)])  # t = (int W)^2: not entry-wise
    assert not two_edges_apart.local and two_edges_apart.value(A) == pytest.approx(A.mean() ** 2, rel=1e-13)
    empty = HomDensity(Pattern.from_edges([], k=3))
    assert empty.local and (empty + EdgeDensity()).split().local.coefficients() == (0.0, 1.0, 1.0)
    assert empty.value(A) == pytest.approx(1.0, rel=1e-15)


def test_algebra():
    rng = np.random.default_rng(2)
    A = _sym(rng, 8)
    e, t, s = EdgeDensity(), HomDensity("K3"), Entropy()
    F = -1.5 * e - 0.25 * t + 0.5 * s
    assert F.value(A) == pytest.approx(-1.5 * e.value(A) - 0.25 * t.value(A) + 0.5 * s.value(A), rel=1e-13)
    np.testing.assert_allclose(F.grad(A), -1.5 * e.grad(A) - 0.25 * t.grad(A) + 0.5 * s.grad(A), rtol=1e-12)
    assert (2 * t - t).value(A) == pytest.approx(t.value(A), rel=1e-14)
    assert (t - t).terms() == []
    assert sum([e, t, s]).value(A) == pytest.approx(e.value(A) + t.value(A) + s.value(A), rel=1e-13)
    assert (t / 4).value(A) == pytest.approx(t.value(A) / 4, rel=1e-14)
    assert F._local_coeffs() == (0.5, -1.5, 0.0)
    assert e.local and s.local and not t.local and (e + s).local and not F.local
    with pytest.raises(TypeError):
        t * "2"
    with pytest.raises(TypeError):
        t + 1.0
    with pytest.raises(ValueError, match="finite"):
        t * float("inf")


def test_ergm_is_the_negated_free_energy():
    rng = np.random.default_rng(4)
    A = _sym(rng, 6)
    F = ergm([0.2, -0.7, 1.1], ["K2", "K3", "C4"])
    manual = -0.2 * EdgeDensity() + 0.7 * HomDensity("K3") - 1.1 * HomDensity("C4") + 0.5 * Entropy()
    assert F.value(A) == pytest.approx(manual.value(A), rel=1e-13)
    with pytest.raises(ValueError, match="betas"):
        ergm([1.0], ["K2", "K3"])


def test_sum_builds_one_workspace_per_point(monkeypatch):
    made = []

    class Counting(fmod.HomWorkspace):
        def __init__(self, *a, **k):
            made.append(1)
            super().__init__(*a, **k)

    monkeypatch.setattr(fmod, "HomWorkspace", Counting)
    F = HomDensity("K3") + 2 * HomDensity("C4") - HomDensity("C5") + Entropy()
    A = _sym(np.random.default_rng(0), 12)
    v, g = F.value_and_grad(A)
    assert len(made) == 1
    assert v == pytest.approx(F.value(A), rel=1e-14)


def test_float32_stays_float32():
    A = _sym(np.random.default_rng(1), 9).astype(np.float32)
    F = ergm([-0.3, 0.6])
    assert F.grad(A).dtype == np.float32
    assert F.value(A) == pytest.approx(F.value(A.astype(np.float64)), rel=1e-6)


# ----------------------------------------------------------------------------- bad input
def test_bad_input_raises_clear_errors():
    A = np.full((3, 3), 0.5)
    N = A.copy()
    N[0, 1] = 0.9
    with pytest.raises(ValueError, match="not symmetric"):
        HomDensity("K3").value(N)
    N = A.copy()
    N[1, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        EdgeDensity().value(N)
    with pytest.raises(ValueError, match="0 < W < 1"):
        Entropy().grad(np.eye(3))
    with pytest.raises(ValueError, match="0 <= W <= 1"):
        (EdgeDensity() + Entropy()).value(np.full((2, 2), 1.5))
    with pytest.raises(ValueError, match="0 < p < 1"):
        RateFunction(1.0)
    with pytest.raises(ValueError, match="shape"):
        Custom(lambda B, w: 0.0, lambda B, w: np.zeros(2)).grad(A)


def test_custom_gradient_is_validated():
    """The kernels read only the upper triangle of a Custom gradient: an asymmetric one
    would be half-ignored, so it is an error naming the term (directly and in a flow)."""
    from graphonflow import flow

    A = _sym(np.random.default_rng(5), 6)
    tri = _tri_custom()
    half = Custom(tri._fv, lambda B, w: np.triu(tri._fg(B, w)), name="half-tri")
    with pytest.raises(ValueError, match="Custom term 'half-tri'.*not symmetric"):
        half.grad(A)
    with pytest.raises(ValueError, match="Custom term 'half-tri'.*not symmetric"):
        flow(half, A, t1=0.1, dt=0.01)
    with pytest.raises(ValueError, match="Custom term 'half-tri'.*not symmetric"):
        flow(half + EdgeDensity(), A, t1=0.1, dt=0.01, integrator="euler")
    # a small asymmetry is an error at any scale of G, not only above 1e-10 absolute
    tiny = Custom(lambda B, w: 0.0, lambda B, w: 1e-12 * np.triu(np.ones_like(B)), name="tiny")
    with pytest.raises(ValueError, match="Custom term 'tiny'.*not symmetric"):
        tiny.grad(A)
    nan = Custom(lambda B, w: 0.0, lambda B, w: np.full_like(B, np.nan), name="nan")
    with pytest.raises(ValueError, match="Custom term 'nan'.*NaN"):
        nan.grad(A)
    obj = Custom(lambda B, w: 0.0, lambda B, w: np.full(B.shape, "x", dtype=object), name="obj")
    with pytest.raises(ValueError, match="Custom term 'obj'.*real array"):
        obj.grad(A)
    with pytest.raises(ValueError, match="Custom term 'sq'.*shape"):
        Custom(lambda B, w: 0.0, lambda B, w: np.zeros((6, 5)), name="sq").grad(A)
    # rounding-level asymmetry (B diag(w) B from BLAS, float32 too) is accepted and the
    # Custom flow matches the library's triangle density
    G = tri.grad(A)
    np.testing.assert_allclose(G, HomDensity("K3").grad(A), rtol=1e-13)
    r_c = flow(tri, A.astype(np.float32), t1=0.2, dt=0.02, integrator="euler")
    r_h = flow(HomDensity("K3"), A.astype(np.float32), t1=0.2, dt=0.02, integrator="euler")
    np.testing.assert_allclose(r_c.W, r_h.W, atol=1e-6)

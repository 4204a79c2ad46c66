"""The flow driver: energy identity, closed forms, the n^2 correspondence, equivariance,
orders of convergence, Mantel, ERGM fixed points, options and failure statuses."""

import math

import numpy as np
import pytest
from scipy.integrate import solve_ivp
from scipy.optimize import brentq

from graphonflow import (
    Custom,
    EdgeDensity,
    Entropy,
    HomDensity,
    RateFunction,
    StepGraphon,
    ergm,
    flow,
)


def _sym(rng, m, lo=0.0, hi=1.0):
    A = rng.uniform(lo, hi, (m, m))
    return (A + A.T) / 2


def _logit(x):
    return np.log(x / (1 - x))


# ----------------------------------------------------------------------------- energy
def test_energy_identity_with_active_box_faces():
    """dF/dt = -||P DF||^2, with some entries pinned on the faces of [0, 1]."""
    rng = np.random.default_rng(0)
    A = _sym(rng, 12)
    A[0, 1:4] = A[1:4, 0] = 1.0  # -DF = 2 - 3 A^2/n > 0: pushes out through 1, stays pinned
    A[5, 5] = 0.0  # pushed inward: leaves the face
    F = HomDensity("K3") - 2 * EdgeDensity()
    dt = 1e-5
    res = flow(F, A, t1=20 * dt, dt=dt, integrator="euler", save_every=1)
    assert res.status == "t1" and len(res.times) == 21
    assert np.all(res.W[0, 1:4] == 1.0) and res.W[5, 5] > 0
    E, g = res.energies, res.grad_norms
    for k in (5, 10, 15):
        dEdt = (E[k + 1] - E[k - 1]) / (2 * dt)
        assert dEdt == pytest.approx(-g[k] ** 2, rel=1e-4)


@pytest.mark.parametrize("integrator", ["prox", "euler", "heun"])
def test_integrated_energy_identity_and_monotone_decrease(integrator):
    rng = np.random.default_rng(1)
    A = _sym(rng, 10, 0.1, 0.9)
    F = ergm([-0.6, 1.2, -0.4], ["K2", "K3", "C4"])
    dt = 2e-3
    res = flow(F, A, t1=0.4, dt=dt, integrator=integrator, save_every=1)
    E, g = res.energies, res.grad_norms
    assert np.all(np.diff(E) <= 1e-15)
    # F(T) - F(0) = -int_0^T ||P DF||^2 dt (trapezoid, error O(dt))
    integral = np.trapezoid(g**2, res.times) if hasattr(np, "trapezoid") else np.trapz(g**2, res.times)
    assert E[-1] - E[0] == pytest.approx(-integral, rel=5e-3)


# ----------------------------------------------------------------------------- closed forms
@pytest.mark.parametrize("integrator", ["euler", "prox", "heun"])
def test_constant_data_stays_constant_with_closed_form_odes(integrator):
    p0 = 0.6
    A = np.full((7, 7), p0)
    T = 1.0
    dt = 1e-3
    # descent of t(K3): p' = -3 p^2, p(t) = p0 / (1 + 3 p0 t)
    res = flow(HomDensity("K3"), A, t1=T, dt=dt, integrator=integrator)
    assert np.ptp(res.W) <= 1e-14
    tol = 1e-5 if integrator == "heun" else 2e-3
    assert res.W[0, 0] == pytest.approx(p0 / (1 + 3 * p0 * T), rel=tol)
    # descent of t(C4): p' = -4 p^3, p(t) = p0 / sqrt(1 + 8 p0^2 t)
    res = flow(HomDensity("C4"), A, t1=T, dt=dt, integrator=integrator)
    assert np.ptp(res.W) <= 1e-14
    assert res.W[0, 0] == pytest.approx(p0 / math.sqrt(1 + 8 * p0**2 * T), rel=tol)


def test_heun_constant_solution_is_second_order_accurate():
    p0 = 0.6
    errs = []
    for dt in (0.02, 0.01):
        res = flow(HomDensity("K3"), np.full((3, 3), p0), t1=1.0, dt=dt, integrator="heun")
        errs.append(abs(res.W[0, 0] - p0 / (1 + 3 * p0)))
    assert 3.5 < errs[0] / errs[1] < 4.5


def test_edge_plus_entropy_and_mantel_constant_fixed_points():
    # -b t(K2) + 1/2 E: u' = b - 1/2 logit(u), fixed point sigmoid(2b)
    b = 0.7
    res = flow(-b * EdgeDensity() + 0.5 * Entropy(), np.full((4, 4), 0.1), t1=100, dt=1.0, gtol=1e-13)
    assert res.status == "steady"
    assert res.W[0, 0] == pytest.approx(1 / (1 + math.exp(-2 * b)), abs=1e-12)
    # Mantel from a constant start: p' = 1 - 3 p^2 -> 1/sqrt(3)
    res = flow(HomDensity("K3") - EdgeDensity(), np.full((6, 6), 0.9), t1=50, dt=0.02, integrator="euler")
    assert np.ptp(res.W) <= 1e-14
    assert res.W[0, 0] == pytest.approx(1 / math.sqrt(3), abs=1e-12)
    # the rate function pulls everything back to p
    res = flow(RateFunction(0.3), np.full((4, 4), 0.8), t1=100, dt=1.0, gtol=1e-13)
    assert res.W[0, 0] == pytest.approx(0.3, abs=1e-12)


# ----------------------------------------------------------------------------- time scale
@pytest.mark.parametrize("with_entropy", [False, True])
def test_exact_n2_correspondence_with_euclidean_gradient_descent(with_entropy):
    """Hand-rolled projected GD on f_n(A) = F(W_A), Frobenius gradient on the full matrix.

    Since n^2 grad f_n = DF (block values), a Euclidean step eta is graphon time eta / n^2:
    k steps of GD with step eta equal the Euler flow with dt = eta / n^2, to rounding.
    """
    n = 11
    rng = np.random.default_rng(2)
    A = _sym(rng, n, 0.2, 0.95)
    b1, b2 = 1.5, 0.8
    F = -b1 * EdgeDensity() - b2 * HomDensity("K3")
    if with_entropy:
        F = F + 0.5 * Entropy()

    def frob_grad(X):  # d/dX of -b1 sum(X)/n^2 - b2 tr(X^3)/n^3 (+ 1/2 sum h(X) / n^2)
        g = -b1 / n**2 - 3 * b2 * (X @ X) / n**3
        if with_entropy:
            g = g + 0.5 * _logit(X) / n**2
        return g

    dt = 2e-3
    eta = dt * n**2
    X = A.copy()
    steps = 40
    for _ in range(steps):
        X = np.clip(X - eta * frob_grad(X), 0.0, 1.0)
    res = flow(F, A, t1=steps * dt, dt=dt, integrator="euler")
    assert res.n_steps == steps
    if not with_entropy:
        assert np.sum(X == 1.0) > 0  # the box is active
    np.testing.assert_allclose(res.W, X, rtol=0, atol=1e-13)


def test_matrix_flow_equals_step_graphon_flow_and_refinement():
    rng = np.random.default_rng(3)
    F = ergm([-0.3, 1.0, 0.5], ["K2", "K3", "P3"])
    A = _sym(rng, 6, 0.1, 0.9)
    r1 = flow(F, A, t1=0.5, dt=0.01)
    r2 = flow(F, StepGraphon(A), t1=0.5, dt=0.01)
    np.testing.assert_allclose(r1.W, r2.W, rtol=0, atol=1e-14)
    # weighted step graphon vs its refinement into equal blocks (a uniform 4 x 4 matrix)
    B = _sym(rng, 3, 0.1, 0.9)
    w = np.array([0.5, 0.25, 0.25])
    idx = [0, 0, 1, 2]
    rw = flow(F, StepGraphon(B, w), t1=0.5, dt=0.01)
    rr = flow(F, B[np.ix_(idx, idx)], t1=0.5, dt=0.01)
    np.testing.assert_allclose(rr.W, rw.W[np.ix_(idx, idx)], rtol=0, atol=1e-13)
    np.testing.assert_allclose(rr.energies, rw.energies, rtol=1e-13)


def test_relabelling_equivariance():
    rng = np.random.default_rng(4)
    A = _sym(rng, 15)
    perm = rng.permutation(15)
    F = HomDensity("K3") - EdgeDensity() + 0.05 * HomDensity("C4")
    r = flow(F, A, t1=2.0, dt=0.01, integrator="euler")
    rp = flow(F, A[np.ix_(perm, perm)], t1=2.0, dt=0.01, integrator="euler")
    np.testing.assert_allclose(rp.W, r.W[np.ix_(perm, perm)], rtol=0, atol=1e-12)
    assert rp.energies[-1] == pytest.approx(r.energies[-1], rel=1e-12)


@pytest.mark.parametrize("integrator,order", [("euler", 1), ("prox", 1), ("heun", 2)])
def test_observed_order_of_convergence(integrator, order):
    rng = np.random.default_rng(5)
    A = _sym(rng, 5, 0.3, 0.7)
    F = ergm([0.2, 1.5, -0.8], ["K2", "K3", "C4"])
    T = 0.5
    ref = flow(F, A, t1=T, dt=1e-4, integrator="heun").W
    errs = [np.max(np.abs(flow(F, A, t1=T, dt=dt, integrator=integrator).W - ref)) for dt in (0.05, 0.025, 0.0125)]
    orders = np.log2(np.array(errs[:-1]) / np.array(errs[1:]))
    assert np.all(np.abs(orders - order) < 0.2), orders


# ----------------------------------------------------------------------------- landmarks
def test_mantel_from_random_data_ends_complete_bipartite():
    rng = np.random.default_rng(1)
    n = 20
    A = _sym(rng, n)
    F = HomDensity("K3") - EdgeDensity()
    res = flow(F, A, t1=200, dt=0.05, integrator="euler", gtol=1e-12)
    assert res.status == "steady"
    W = res.W
    assert set(np.unique(W)) <= {0.0, 1.0}
    side = W[0] == 0.0  # vertex 0's side (it has no loop: W[0, 0] = 0)
    expected = (side[:, None] != side[None, :]).astype(float)
    np.testing.assert_array_equal(W, expected)
    a = side.mean()
    assert 1 / 3 < a < 2 / 3  # both parts larger than 1/3: a strict local minimiser
    assert res.energy == pytest.approx(-2 * a * (1 - a), abs=1e-14)
    assert HomDensity("K3").value(W) == 0.0


def _ergm_roots(b1, b2):
    g = lambda u: b1 + 3 * b2 * u * u - 0.5 * _logit(u)  # noqa: E731  (= -DF at the constant u)
    us = np.linspace(1e-6, 1 - 1e-6, 100001)
    v = g(us)
    idx = np.nonzero(np.sign(v[:-1]) != np.sign(v[1:]))[0]
    return [brentq(g, us[i], us[i + 1], xtol=1e-15) for i in idx]


@pytest.mark.parametrize("u0,branch", [(0.5, 0), (0.7, 2), (0.05, 0), (0.99, 2)])
def test_ergm_constant_starts_converge_to_chatterjee_diaconis_branches(u0, branch):
    b1, b2 = -0.9, 1.0  # three solutions of u = sigmoid(2 b1 + 6 b2 u^2): two local maxima
    roots = _ergm_roots(b1, b2)
    assert len(roots) == 3
    u_star = roots[branch]
    assert u_star == pytest.approx(1 / (1 + math.exp(-(2 * b1 + 6 * b2 * u_star**2))), abs=1e-12)
    res = flow(ergm([b1, b2]), np.full((5, 5), u0), t1=500, dt=0.5, gtol=1e-12)
    assert res.status == "steady"
    assert np.ptp(res.W) <= 1e-13
    assert res.W[0, 0] == pytest.approx(u_star, abs=1e-11)


def test_ergm_radin_yin_critical_point():
    """beta = (ln2/2 - 3/4, 9/16): u* = 2/3 is a triple root, approached like t^(-1/2)."""
    b1, b2 = math.log(2) / 2 - 0.75, 9 / 16
    g = lambda t, u: b1 + 3 * b2 * u**2 - 0.5 * _logit(u)  # noqa: E731
    for u0 in (0.5, 0.8):
        # error control: the steps grow geometrically as the flow slows down near the
        # degenerate fixed point, and the trajectory stays accurate in time
        res = flow(ergm([b1, b2]), np.full((4, 4), u0), t1=1e7, adaptive=True, save_at=[1e5, 1e6, 1e7])
        assert res.status == "t1" and np.ptp(res.W) <= 1e-13
        assert res.times[0] == 0.0  # t = 0 is always saved
        errs = np.array([s[0, 0] for s in res.states[1:]]) - 2 / 3
        assert np.all(np.sign(errs) == np.sign(u0 - 2 / 3))  # never crosses the critical point
        assert abs(errs[-1]) < 1.5e-4
        assert 2.9 < errs[1] / errs[2] < 3.4  # algebraic decay: sqrt(10) per decade of time
        # and the trajectory is the 1-D ODE's
        ode = solve_ivp(g, (0, 1e5), [u0], method="LSODA", rtol=1e-11, atol=1e-13)
        assert errs[0] == pytest.approx(ode.y[0, -1] - 2 / 3, rel=1e-4)
        assert res.n_steps < 400


# ----------------------------------------------------------------------------- options
def test_saving_options_and_save_fn():
    A = _sym(np.random.default_rng(6), 8, 0.2, 0.8)
    F = ergm([-0.2, 0.5])
    r = flow(F, A, t1=1.0, dt=0.03, save_at=[0.0, 0.1, 0.55, 1.0])
    np.testing.assert_allclose(r.times, [0.0, 0.1, 0.55, 1.0], atol=1e-15)
    assert len(r.states) == 4 and np.array_equal(r.states[-1], r.W)
    assert r.energies[1] == pytest.approx(F.value(r.states[1]), rel=1e-13)
    r2 = flow(F, A, t1=1.0, dt=0.03, save_every=10, save_fn=lambda t, B: float(B.mean()))
    assert r2.times[0] == 0.0 and r2.times[-1] == pytest.approx(1.0)
    assert len(r2.times) == 1 + 3 + 1  # t=0, steps 10, 20, 30, final (step 34)
    assert r2.states[-1] == pytest.approx(r2.W.mean(), rel=1e-14)
    assert r2.n_steps == 34 and len(r2.dt_history) == 34
    assert r2.dt_history[-1] == pytest.approx(1.0 - 33 * 0.03)
    # the default saves t=0 and the end only
    r3 = flow(F, A, t1=1.0, dt=0.03)
    assert len(r3.times) == 2 and r3.grad_norms[-1] < r3.grad_norms[0]


def test_max_steps_and_steady_statuses():
    A = np.full((4, 4), 0.3)
    F = -EdgeDensity() + 0.5 * Entropy()
    r = flow(F, A, t1=10.0, dt=0.1, max_steps=7)
    assert r.status == "max_steps" and not r.success and r.n_steps == 7
    assert "raise max_steps" in r.message and "t=0.7" in r.message
    assert r.t == pytest.approx(0.7) and r.times[-1] == r.t
    r = flow(F, A, t1=1e3, dt=0.5, gtol=1e-9)
    assert r.status == "steady" and r.success and r.grad_norms[-1] <= 1e-9


def test_nonfinite_gradient_returns_finished_work():
    base = HomDensity("K3")

    def grad(B, w):
        G = base.grad(B)
        if B.mean() < 0.3:
            G = G.copy()
            G[0, 0] = np.nan
        return G

    F = Custom(lambda B, w: base.value(B), grad)
    r = flow(F, np.full((5, 5), 0.6), t1=10.0, dt=0.01, save_every=50)
    assert r.status == "nonfinite" and not r.success
    assert np.all(np.isfinite(r.W)) and 0.29 < r.W.mean() < 0.3
    assert np.all(np.isfinite(r.energies))
    assert len(r.states) == 3 and r.times[1] == pytest.approx(0.5)  # t=0, step 50, last finite
    assert "non-finite" in r.message


def test_adaptive_never_increases_energy_and_reports_steps():
    rng = np.random.default_rng(7)
    A = _sym(rng, 10, 0.02, 0.98)
    F = ergm([-0.5, 1.0])
    r = flow(F, A, t1=20.0, adaptive=True, dt=5.0, save_every=1)
    assert r.status == "t1" and r.integrator == "dp54" and "rtol=1e-06" in r.controller
    assert r.n_rejected > 0  # the first trial step of 5 is far too long for rtol = 1e-6
    assert np.all(np.diff(r.energies) <= 1e-12 * (1 + np.abs(r.energies[:-1])))
    assert len(r.dt_history) == r.n_steps and r.dt_history.sum() == pytest.approx(20.0)
    # 1 at W0, then 6 stage gradients per trial, the last at the new state (FSAL; dt given: no estimate)
    assert r.n_grad_evals == 1 + 6 * (r.n_steps + r.n_rejected)


def test_float32_dtype():
    rng = np.random.default_rng(8)
    A = _sym(rng, 30, 0.1, 0.9)
    F = ergm([-0.3, 0.8])
    r64 = flow(F, A, t1=1.0, dt=0.05)
    r32 = flow(F, A, t1=1.0, dt=0.05, dtype=np.float32)
    assert r32.W.dtype == np.float32 and r64.W.dtype == np.float64
    np.testing.assert_allclose(r32.W, r64.W, atol=2e-6)


def test_density_constraint_and_theory_box():
    rng = np.random.default_rng(9)
    A = _sym(rng, 12)
    r = flow(HomDensity("K3"), A, t1=30.0, dt=0.05, density=0.5, save_every=20)
    means = [float(s.mean()) for s in r.states]
    np.testing.assert_allclose(means, 0.5, atol=1e-13)
    assert np.all(np.diff(r.energies) <= 1e-15)
    assert r.energy < 0.05  # triangle-poor at density 1/2 (bipartite-like: t(K3) -> 0)
    # the [-1, 1] box of the theory papers, for a functional without entropy
    B = _sym(rng, 8, -1.0, 1.0)
    r = flow(HomDensity("K3") + 0.5 * HomDensity("C4"), B, t1=2.0, dt=0.01, box=(-1.0, 1.0), save_every=10)
    assert r.W.min() >= -1.0 and r.W.max() <= 1.0
    assert np.all(np.diff(r.energies) <= 1e-15)


def test_bad_input():
    A = np.full((3, 3), 0.5)
    F = ergm([0.1, 0.2])
    with pytest.raises(ValueError, match="not symmetric"):
        flow(F, A + np.triu(np.full((3, 3), 0.1), 1), t1=1, dt=0.1)
    N = A.copy()
    N[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        flow(F, N, t1=1, dt=0.1)
    with pytest.raises(ValueError, match="outside the box"):
        flow(HomDensity("K3"), A + 1.0, t1=1, dt=0.1)
    with pytest.raises(ValueError, match="inside \\[0, 1\\]"):
        flow(F, A, t1=1, dt=0.1, box=(-1, 1))
    with pytest.raises(ValueError, match="strictly inside"):
        flow(F, np.eye(3), t1=1, dt=0.1)
    with pytest.raises(ValueError, match="dt"):
        flow(F, A, t1=1)
    with pytest.raises(ValueError, match="integrator"):
        flow(F, A, t1=1, dt=0.1, integrator="rk4")
    with pytest.raises(ValueError, match="save_at"):
        flow(F, A, t1=1, dt=0.1, save_at=[0.5, 2.0])
    with pytest.raises(ValueError, match="convex"):
        flow(HomDensity("K3") - Entropy(), A, t1=1, dt=0.1, integrator="prox")
    with pytest.raises(TypeError):
        flow(lambda W: 0.0, A, t1=1, dt=0.1)
    with pytest.raises(ValueError, match="box"):
        flow(HomDensity("K3"), A, t1=1, dt=0.1, box=(1, 0))


def test_fixed_step_ergm_flow_holds_three_matrix_buffers():
    """B, the next B and the product A^2: the previous product is freed before the next.

    (n >= 768 so that the workspace squares with one ?syrk; below that it uses gemm.)
    """
    import tracemalloc

    n = 800
    A = _sym(np.random.default_rng(10), n, 0.1, 0.9)
    F = ergm([-0.5, 1.0])
    for integrator in ("prox", "euler"):  # warm caches: compile (or load) every kernel first,
        # so that Numba's compiler does not allocate inside the traced region on a fresh machine
        flow(F, A, t1=0.02, dt=0.01, integrator=integrator, save_every=1, save_fn=lambda t, B: float(B[0, 0]))
    for integrator in ("prox", "euler"):
        tracemalloc.start()
        tracemalloc.reset_peak()
        r = flow(F, A, t1=0.04, dt=0.01, integrator=integrator, save_every=1, save_fn=lambda t, B: float(B[0, 0]))
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert r.n_steps == 4
        assert 3.0 <= peak / (n * n * 8) < 3.2


@pytest.mark.parametrize("integrator", ["prox", "euler", "heun"])
def test_density_constrained_flow_reaches_a_steady_state(integrator):
    """With density= the grad norm is the speed of the constrained flow (DF minus its mean
    over the free entries, box-projected), so gtol stops at a constrained stationary point."""
    rng = np.random.default_rng(0)
    A = _sym(rng, 30, 0.15, 0.45)  # mean near 0.3: the first projection clips nothing
    F = HomDensity("K3") + 0.1 * Entropy()
    dt = 0.2 if integrator == "heun" else 0.5
    r = flow(F, A, t1=200.0, dt=dt, density=0.3, gtol=1e-8, integrator=integrator)
    assert r.status == "steady" and r.t < 100.0
    assert r.grad_norms[-1] <= 1e-8
    assert float(r.W.mean()) == pytest.approx(0.3, abs=1e-13)
    # stationary: all entries are interior (entropy), so DF is constant = the multiplier
    D = F.grad(r.W)
    assert 0.0 < r.W.min() and r.W.max() < 1.0
    lam = float(D.mean())
    assert np.max(np.abs(D - lam)) < 1e-7
    assert r.grad_norms[-1] == pytest.approx(float(np.sqrt(np.mean((D - lam) ** 2))), rel=1e-3, abs=1e-12)
    assert abs(lam) > 0.1  # the unconstrained projected gradient is far from 0 there
    # and the flow does not move any more
    r2 = flow(F, r.W, t1=10.0, dt=dt, density=0.3, integrator=integrator)
    assert np.max(np.abs(r2.W - r.W)) < 1e-7
    # the first saved norm is that of the constrained velocity too
    W0 = r.states[0]
    D0 = F.grad(W0)
    assert r.grad_norms[0] == pytest.approx(float(np.sqrt(np.mean((D0 - D0.mean()) ** 2))), rel=1e-12)


def test_density_grad_norm_with_entries_on_the_faces():
    """Bipartite-like K3 minimiser at density 1/2: every entry on a face, blocked."""
    rng = np.random.default_rng(9)
    r = flow(HomDensity("K3"), _sym(rng, 12), t1=200.0, dt=0.05, density=0.5, gtol=1e-9, save_every=100)
    assert r.status == "steady"
    assert np.all(np.minimum(r.W, 1.0 - r.W) < 1e-12)
    assert r.grad_norms[-1] == 0.0
    assert np.all(r.grad_norms[1:-1] > 0)


@pytest.mark.parametrize("integrator", ["ark54", "dp54"])
def test_blow_up_in_finite_time_ends_at_the_blow_up_time(integrator):
    """-t(K4) blows up at t* = W0^-4 / 24 = 2/3 from W = 1/2 in a huge box (W' = 6 W^5): error
    control follows it up to t* and then reports that it needs steps below dt_min."""
    r = flow(-HomDensity("K4"), np.full((5, 5), 0.5), t1=100.0, box=(0.0, 1e300), adaptive=True,
             integrator=integrator)
    assert r.status == "dt_min" and not r.success
    assert "singularity" in r.message
    assert r.t == pytest.approx(2 / 3, rel=1e-6)
    assert np.all(np.isfinite(r.W)) and r.W[0, 0] > 50
    assert r.energy == pytest.approx(-float(r.W[0, 0]) ** 6, rel=1e-12)  # constant W: t(K4) = W^6


def test_error_control_dt_min_status():
    # t(C4) = W^4 from W = 1/2 with steps of at least 3: no such step meets rtol = 1e-6
    r = flow(HomDensity("C4"), np.full((4, 4), 0.5), t1=10.0, dt=10.0, dt_max=10.0, dt_min=3.0, box=(-1.0, 1.0),
             adaptive=True)
    assert r.status == "dt_min" and r.n_steps == 0 and r.n_rejected >= 1
    assert r.energy == 0.0625 and "dt_min=3" in r.message and "loosen rtol" in r.message


def test_save_options_and_energy_tol_are_checked():
    A = np.full((3, 3), 0.5)
    F = HomDensity("K3")
    with pytest.raises(ValueError, match="give save_at or save_every, not both"):
        flow(F, A, t1=1.0, dt=0.1, save_at=[0.5, 1.0], save_every=2)
    for bad in (-1e-12, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="energy_tol"):
            flow(F, A, t1=1.0, dt=0.1, adaptive=True, energy_tol=bad)
    r = flow(F, A, t1=1.0, dt=0.1, adaptive=True, energy_tol=0.0)
    assert r.status == "t1" and np.all(np.diff(r.energies) <= 0)


def test_initial_data_types():
    """A networkx graph is its adjacency matrix; a continuous graphon must be discretised first."""
    import networkx as nx

    from graphonflow.graphons import xy

    F = HomDensity("K3") - EdgeDensity()
    G = nx.cycle_graph(6)
    r_g = flow(F, G, t1=1.0, dt=0.1)
    r_a = flow(F, nx.to_numpy_array(G), t1=1.0, dt=0.1)
    assert r_g.W.shape == (6, 6) and np.array_equal(r_g.W, r_a.W) and np.array_equal(r_g.widths, r_a.widths)
    assert r_g.energy == pytest.approx(r_a.energy, rel=0, abs=0)
    # weighted edges and node widths are honoured, as in as_step
    H = nx.Graph()
    H.add_node(0, width=0.25)
    H.add_node(1, width=0.75)
    H.add_edge(0, 1, weight=0.5)
    r_h = flow(F, H, t1=0.5, dt=0.1)
    r_s = flow(F, StepGraphon([[0.0, 0.5], [0.5, 0.0]], [0.25, 0.75]), t1=0.5, dt=0.1)
    np.testing.assert_array_equal(r_h.W, r_s.W)
    np.testing.assert_array_equal(r_h.widths, [0.25, 0.75])
    with pytest.raises(ValueError, match="undirected"):
        flow(F, nx.DiGraph([(0, 1)]), t1=1.0, dt=0.1)
    for bad in (xy(), lambda x, y: x * y):
        # the package's one reader (as_target) names both discretisations
        with pytest.raises(TypeError, match=r"^W0 is a (continuous graphon|function).*block_average.*sample\(W0, n\)"):
            flow(F, bad, t1=1.0, dt=0.1)
    with pytest.raises(TypeError, match="W0 must be"):
        flow(F, "A.npy", t1=1.0, dt=0.1)


def test_progress_true_draws_a_tqdm_bar_to_the_end(capsys):
    r = flow(HomDensity("K3"), np.full((4, 4), 0.5), t1=2.0, dt=0.25, progress=True)
    err = capsys.readouterr().err
    assert r.status == "t1"
    last = err.replace("\r", "\n").strip().splitlines()[-1]
    assert "t=2/2" in last and "100%" in last, last
    with pytest.raises(TypeError, match="progress must be True or a callable"):
        flow(HomDensity("K3"), np.full((4, 4), 0.5), t1=1.0, dt=0.25, progress="yes")

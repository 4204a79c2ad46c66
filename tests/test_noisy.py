"""Noisy flows (graphonflow.noisy): the counter-based normals, the fused noisy step, noisy_flow,
the McKean--Vlasov limit (Fokker--Planck and particles) and the finite-n comparison."""

import math
import warnings

import numba
import numpy as np
import pytest

from graphonflow import EdgeDensity, Entropy, HomDensity, SaveAt, StepGraphon, ergm, flow
from graphonflow._kernels import euler_step
from graphonflow.noisy import (EntrywiseNoiseWarning, blow_up, mckean_vlasov, mckean_vlasov_particles,
                               noisy_convergence, noisy_distances, noisy_flow, w1_to_cells)
from graphonflow.noisy._kernels import (noisy_euler_step, noisy_euler_step_reference, philox4x32,
                                        philox_normal, philox_normal_reference)
from graphonflow.noisy.limit import fokker_planck_step, fokker_planck_step_reference


# ------------------------------------------------------------------ Philox and the normals
@pytest.mark.parametrize("ctr,key,expected", [
    ([0, 0, 0, 0], [0, 0], "6627e8d5 e169c58d bc57ac4c 9b00dbd8"),
    ([0xFFFFFFFF] * 4, [0xFFFFFFFF] * 2, "408f276d 41c83b0e a20bc7c6 6d5451fd"),
    ([0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344], [0xA4093822, 0x299F31D0],
     "d16cfe09 94fdcceb 5001e420 24126ea1"),
])
def test_philox_known_answers(ctr, key, expected):
    # Random123's known-answer vectors for Philox4x32-10
    assert " ".join(format(int(x), "08x") for x in philox4x32(ctr, key)) == expected


def test_normals_match_the_numpy_twin_and_are_standard():
    ls = np.arange(200_000, dtype=np.uint64) * np.uint64(7919)
    z = philox_normal(ls, 12, key=2**40 + 3)
    np.testing.assert_allclose(z, philox_normal_reference(ls, 12, key=2**40 + 3), rtol=0, atol=1e-14)
    se = 1 / math.sqrt(z.size)
    assert abs(z.mean()) < 4 * se and abs(z.var() - 1) < 4 * math.sqrt(2) * se
    assert abs((z ** 4).mean() - 3) < 0.05
    # another step or key gives other (uncorrelated) numbers
    z2 = philox_normal(ls, 13, key=2**40 + 3)
    assert abs(np.corrcoef(z, z2)[0, 1]) < 4 * se


def _case(n, seed=0):
    rng = np.random.default_rng(seed)
    B = rng.uniform(0.05, 0.95, (n, n))
    B = (B + B.T) / 2
    G = rng.normal(size=(n, n))
    return B, G, np.full(n, 1.0 / n)


@pytest.mark.parametrize("alpha", [0.0, 0.3])
def test_noisy_step_without_noise_is_the_euler_step_bit_for_bit(alpha):
    B, G, w = _case(150)
    e, pe = euler_step(B, G, w, 0.1, gscale=0.7, alpha=alpha, beta=0.1)
    o, po = noisy_euler_step(B, G, w, 0.1, 0.0, key=5, step=3, gscale=0.7, alpha=alpha, beta=0.1)
    assert np.array_equal(e, o) and pe == po


def test_noisy_step_matches_its_twin_and_does_not_depend_on_threads():
    B, G, w = _case(300)
    kw = dict(key=77, step=9, gscale=0.7, alpha=0.3, beta=0.1)
    ref = noisy_euler_step_reference(B, G, w, 0.1, 0.2, **kw)
    ser, _ = noisy_euler_step(B, G, w, 0.1, 0.2, parallel=False, **kw)
    par, _ = noisy_euler_step(B, G, w, 0.1, 0.2, parallel=True, **kw)
    old = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one, _ = noisy_euler_step(B, G, w, 0.1, 0.2, parallel=True, **kw)
    finally:
        numba.set_num_threads(old)
    assert np.array_equal(ser, par) and np.array_equal(ser, one) and np.array_equal(ser, ser.T)
    np.testing.assert_allclose(ser, ref, rtol=0, atol=1e-14)
    assert ser.min() >= 0.0 and ser.max() <= 1.0
    refl = noisy_euler_step_reference(B, G, w, 0.1, 0.2, reflect=True, **kw)
    got, _ = noisy_euler_step(B, G, w, 0.1, 0.2, reflect=True, **kw)
    np.testing.assert_allclose(got, refl, rtol=0, atol=1e-14)
    assert not np.array_equal(got, ser)  # reflection moves the entries that left the box elsewhere


def test_noisy_step_rejects_bad_arguments():
    B, G, w = _case(4)
    with pytest.raises(ValueError, match="sigma must be >= 0"):
        noisy_euler_step(B, G, w, 0.1, -1.0, key=0, step=0)
    with pytest.raises(ValueError, match="key must be an integer"):
        noisy_euler_step(B, G, w, 0.1, 1.0, key=-1, step=0)


# ------------------------------------------------------------------ noisy_flow
@pytest.mark.parametrize("F,n", [
    (ergm((0.5, -1.0), ("K2", "K3")), 40),
    (HomDensity("K3") - HomDensity("K2"), 800),   # the parallel, row-wise Euler path
    (HomDensity("C4") + Entropy() / 8, 30),
])
def test_zero_noise_is_projected_euler_exactly(F, n):
    rng = np.random.default_rng(1)
    A = rng.uniform(0.1, 0.9, (n, n))
    A = (A + A.T) / 2
    ts = [0.05, 0.1, 0.25]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EntrywiseNoiseWarning)
        r = noisy_flow(F, A, t1=0.3, dt=0.02, noise=0.0, rng=0, save_at=ts)
    d = flow(F, A, t1=0.3, dt=0.02, integrator="euler", save_at=ts)
    assert r.n_steps == d.n_steps and np.array_equal(r.times, d.times)
    for a, b in zip(r.states, d.states):
        assert np.array_equal(a, b)
    np.testing.assert_array_equal(r.energies, d.energies)


def test_same_seed_same_path_and_the_noise_is_one_brownian_motion_per_unit_time():
    A = np.full((120, 120), 0.5)
    F = 0.0 * EdgeDensity()
    r1 = noisy_flow(F, A, t1=1.0, dt=0.01, noise=0.05, rng=7)
    r2 = noisy_flow(F, A, t1=1.0, dt=0.01, noise=0.05, rng=np.random.default_rng(7))
    r3 = noisy_flow(F, A, t1=1.0, dt=0.01, noise=0.05, rng=8)
    assert np.array_equal(r1.W, r2.W) and r1.key == r2.key and not np.array_equal(r1.W, r3.W)
    # no drift, no wall contact (10 sd away): A(1) - A(0) ~ N(0, s^2) on the distinct entries
    X = (r1.W - 0.5)[np.triu_indices(120)]
    se = 0.05 / math.sqrt(X.size)
    assert abs(X.mean()) < 4 * se
    assert abs(X.std() / 0.05 - 1) < 4 / math.sqrt(2 * X.size)
    # halving the step keeps the variance per unit time (the noise does not depend on dt or n)
    r4 = noisy_flow(F, np.full((60, 60), 0.5), t1=1.0, dt=0.005, noise=0.05, rng=7)
    X4 = (r4.W - 0.5)[np.triu_indices(60)]
    assert abs(X4.std() / 0.05 - 1) < 4 / math.sqrt(2 * X4.size)


def test_stochastic_gradient_callable_and_reflection():
    F = HomDensity("K3")
    A = np.full((30, 30), 0.6)

    def exact(B, rng):
        assert isinstance(rng, np.random.Generator)
        return 3.0 * (B @ B) / B.shape[0]  # the n^2-scaled gradient of t(K3)

    a = noisy_flow(F, A, t1=0.5, dt=0.05, noise=0.0, rng=0, grad=exact)
    b = noisy_flow(F, A, t1=0.5, dt=0.05, noise=0.0, rng=0)
    np.testing.assert_allclose(a.W, b.W, rtol=0, atol=1e-14)
    r = noisy_flow(F, A, t1=0.5, dt=0.05, noise=2.0, rng=0, reflect=True)
    assert r.reflect and 0.0 <= r.W.min() and r.W.max() <= 1.0
    with pytest.raises(ValueError, match="grad\\(A, rng\\) must return an array of shape"):
        noisy_flow(F, A, t1=0.1, dt=0.05, noise=0.0, rng=0, grad=lambda B, rng: B[:2])
    with pytest.raises(ValueError, match="noise must be >= 0"):
        noisy_flow(F, A, t1=0.1, dt=0.05, noise=-1.0, rng=0)


def test_entrywise_terms_warn():
    with pytest.warns(EntrywiseNoiseWarning, match="McKean-Vlasov"):
        noisy_flow(Entropy(), np.full((4, 4), 0.5), t1=0.1, dt=0.05, noise=0.1, rng=0)
    with pytest.warns(EntrywiseNoiseWarning):
        mckean_vlasov(Entropy(), np.full((1, 1), 0.5), t1=0.1, noise=0.1, cells=20)


# ------------------------------------------------------------------ the Fokker--Planck step
def test_fokker_planck_step_matches_a_banded_solve_conserves_mass_and_positivity():
    rng = np.random.default_rng(3)
    q = rng.uniform(0, 1, (7, 50))
    q /= q.sum(axis=1, keepdims=True)
    b = rng.normal(scale=3.0, size=7)
    for D in (0.0, 1e-4, 0.05):
        new = fokker_planck_step(q, b, 0.01, D=D, h=0.02)
        np.testing.assert_allclose(new, fokker_planck_step_reference(q, b, 0.01, D=D, h=0.02), rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(new.sum(axis=1), 1.0, rtol=0, atol=1e-14)
        assert new.min() >= 0.0


# ------------------------------------------------------------------ the limit
def test_limit_without_noise_is_the_deterministic_flow():
    # F = t(K3) from the constant 1/2: p(t) = p0 / (1 + 3 p0 t); the mean moves exactly at the drift
    r = mckean_vlasov(HomDensity("K3"), np.full((1, 1), 0.5), t1=0.5, noise=0.0, dt=0.01, cells=200,
                      save_at=[0.25])
    exact = 0.5 / (1 + 1.5 * r.times)
    err = np.abs(r.means[:, 0, 0] - exact).max()
    r2 = mckean_vlasov(HomDensity("K3"), np.full((1, 1), 0.5), t1=0.5, noise=0.0, dt=0.005, cells=200)
    err2 = abs(r2.means[-1, 0, 0] - exact[-1])
    # the mean follows the explicit midpoint rule exactly while the (numerically diffused) law
    # stays off the wall cells: second order in dt
    assert err < 2e-5 and 3.5 < abs(r.means[-1, 0, 0] - exact[-1]) / err2 < 4.5
    np.testing.assert_allclose(r.laws.sum(axis=-1), 1.0, rtol=0, atol=1e-13)


def test_before_mass_reaches_the_walls_gamma_follows_the_flow():
    S = StepGraphon([[0.55, 0.45], [0.45, 0.6]], [0.4, 0.6])
    F = HomDensity("K3") - HomDensity("K2")
    r = mckean_vlasov(F, S, t1=0.5, noise=0.05, dt=0.005, cells=400, save_at=[0.25])
    d = flow(F, S, t1=0.5, rtol=1e-11, atol=1e-13, save_at=[0.25])
    for k in range(3):
        assert np.abs(r.means[k] - d.states[k]).max() < 2e-6  # O(dt^2) midpoint error
    # the wall cells hold no mass to speak of, and nothing is negative
    assert r.laws[..., [0, -1]].max() < 1e-12 and r.laws.min() >= 0.0


def test_stationary_law_is_the_truncated_exponential():
    beta, s = 0.5, 1.0
    lam = 2 * beta / s**2
    exact = 1 / lam - 1 / np.expm1(lam)  # mean of exp(-lam x) on [0, 1]
    r = mckean_vlasov(beta * EdgeDensity(), np.full((1, 1), 0.5), t1=30.0, noise=s, dt=0.05, cells=400)
    x = r.centres
    disc = float((x * np.exp(-lam * x)).sum() / np.exp(-lam * x).sum())  # the scheme's exact equilibrium
    assert abs(r.means[-1, 0, 0] - disc) < 1e-9
    assert abs(r.means[-1, 0, 0] - exact) < 1e-5
    np.testing.assert_allclose(r.law(0, 0), lam * np.exp(-lam * x) / -np.expm1(-lam), rtol=2e-3)
    # the particle method, an independent check: within 5 standard errors (+ the O(sqrt dt) bias)
    p = mckean_vlasov_particles(beta * EdgeDensity(), np.full((1, 1), 0.5), t1=3.0, noise=s, dt=1e-3,
                                particles=20000, rng=0)
    X = p.particles[-1][0]
    assert abs(X.mean() - exact) < 5 * X.std() / math.sqrt(X.size) + 0.005
    q = mckean_vlasov_particles(beta * EdgeDensity(), np.full((1, 1), 0.5), t1=0.2, noise=s, dt=1e-3,
                                particles=100, rng=0)
    assert np.array_equal(q.particles[-1], mckean_vlasov_particles(
        beta * EdgeDensity(), np.full((1, 1), 0.5), t1=0.2, noise=s, dt=1e-3, particles=100, rng=0).particles[-1])


# ------------------------------------------------------------------ finite n against the limit
def test_w1_to_cells_closed_forms():
    assert w1_to_cells([0.5], [0.0, 1.0], [1.0]) == pytest.approx(0.25, abs=1e-15)
    assert w1_to_cells([0.0], [0.0, 1.0], [1.0]) == pytest.approx(0.5, abs=1e-15)
    # many uniform samples against the uniform law: W1 ~ 0 (it is at most 1/(2N) for the midpoints)
    N = 1000
    assert w1_to_cells((np.arange(N) + 0.5) / N, np.linspace(0, 1, 11), np.full(10, 0.1)) <= 1 / (2 * N) + 1e-15
    # a point mass at 0.3 against the uniform law on [0.2, 0.4]: E|U - 0.3| = 0.05
    assert w1_to_cells([0.3], [0.2, 0.3, 0.4], [0.5, 0.5]) == pytest.approx(0.05, abs=1e-15)
    # two samples against two cells, one each: each half of the mass moves h/4 on average
    assert w1_to_cells([0.25, 0.75], [0.0, 0.5, 1.0], [0.5, 0.5]) == pytest.approx(0.125, abs=1e-15)


def test_ensemble_of_finite_n_runs_tracks_the_limit_and_distances_shrink_with_n():
    S = StepGraphon([[0.7, 0.2], [0.2, 0.6]], [0.5, 0.5])
    F = HomDensity("K3") - HomDensity("K2")
    lim = mckean_vlasov(F, S, t1=1.0, noise=0.4, dt=0.005, cells=200, save_at=[0.5])
    A0, labels = blow_up(S, 80)
    means = []
    for seed in range(6):
        r = noisy_flow(F, A0, t1=1.0, dt=0.005, noise=0.4, rng=seed, save_at=[0.5], reflect=True)
        from graphonflow.noisy.compare import block_means

        means.append(block_means(r.W, labels, 2)[0])
        if seed == 0:
            c = noisy_distances(r, lim, labels)
    means = np.array(means)
    se = means.std(axis=0, ddof=1) / math.sqrt(len(means))
    err = np.abs(means.mean(axis=0) - lim.means[-1])
    assert np.all(err < 5 * se + 0.01), (err, se)
    assert c.times.tolist() == [0.0, 0.5, 1.0] and np.all(c.cut_lower <= c.cut_upper)
    # at t = 0 the grid's point masses are spread over a cell (uniform inside), so W1 <= h/2
    assert c.w1_mean[0] <= 0.5 / 200 + 1e-15 and c.w1_mean[-1] < 0.05
    conv = noisy_convergence(F, S, ns=[16, 96], seeds=2, t1=0.5, dt=0.01, noise=0.4, times=[0.5], rng=0,
                             cells=200)
    assert np.all(conv.w1_mean[1].mean() < conv.w1_mean[0].mean())
    assert conv.rate_w1[0] < 0 and np.isfinite(conv.rate_w1_se[0])


def test_branch_free_sine_and_cosine():
    from graphonflow.noisy._kernels import _sincos2pi

    v = np.concatenate([np.linspace(0, 1, 4001, endpoint=False), [0.125, 0.375, 0.625, 0.875, 1 - 2**-53]])
    got = np.array([_sincos2pi(x) for x in v])
    # the reference in extended precision (2 pi v in float64 alone is off by up to 1e-15 near v = 1)
    import mpmath

    ref = np.array([[float(mpmath.cospi(2 * mpmath.mpf(x))), float(mpmath.sinpi(2 * mpmath.mpf(x)))] for x in v])
    np.testing.assert_allclose(got, ref, rtol=0, atol=3e-16)


def test_a_nan_gradient_stops_the_run_with_the_last_finite_state():
    A = np.full((6, 6), 0.5)
    calls = []

    def bad(B, rng):
        calls.append(1)
        return np.full(B.shape, np.nan) if len(calls) == 3 else np.zeros(B.shape)

    r = noisy_flow(HomDensity("K3"), A, t1=1.0, dt=0.1, noise=0.01, rng=0, grad=bad)
    assert r.status == "nonfinite" and r.n_steps == 2 and np.isfinite(r.W).all()
    assert r.t == pytest.approx(0.2) and "non-finite" in r.message

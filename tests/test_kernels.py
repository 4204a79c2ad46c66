"""The fused Numba kernels against their NumPy twins, and the scalar proximal map."""

import numpy as np
import pytest
from scipy.optimize import minimize_scalar

from graphonflow import _kernels as K


def _data(m, dtype, seed=0, weighted=True):
    rng = np.random.default_rng(seed)
    B = rng.uniform(0.05, 0.95, (m, m))
    B = (B + B.T) / 2
    B[:7, :7] = 0.05  # some entries on the faces of the box [0.05, 0.95]
    B[7:12, 7:12] = 0.95
    G = rng.normal(size=(m, m))  # deliberately NOT symmetric: only the upper triangle is read
    if weighted:
        w = rng.uniform(0.5, 1.5, m)
        w /= w.sum()
    else:
        w = np.full(m, 1.0 / m)
    return B.astype(dtype), G.astype(dtype), w


# m = 150 is not a multiple of the tile size: exercises ragged edge tiles
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("alpha", [0.0, 0.7])
@pytest.mark.parametrize("which", ["euler", "prox"])
@pytest.mark.parametrize("parallel", [True, False])
def test_step_kernels_match_numpy_twins(dtype, alpha, which, parallel, monkeypatch):
    if not parallel:  # force the serial drivers
        monkeypatch.setattr(K, "PARALLEL_MIN", 10**12)
    B, G, w = _data(150, dtype)
    fast, ref = {"euler": (K.euler_step, K._euler_ref), "prox": (K.prox_step, K._prox_ref)}[which]
    out, pg2 = fast(B, G, w, 0.05, gscale=0.3, alpha=alpha, beta=0.2, lo=0.05, hi=0.95)
    out_ref, pg2_ref = ref(B, G, 0.3, w, 0.05, alpha, 0.2, 0.05, 0.95)
    assert out.dtype == dtype
    tol = 1e-15 if dtype == np.float64 else 0
    np.testing.assert_allclose(out, out_ref, rtol=0, atol=max(tol, 4 * np.finfo(dtype).eps))
    np.testing.assert_allclose(pg2, pg2_ref, rtol=1e-12)
    assert np.array_equal(out, out.T)  # exact symmetry
    assert out.min() >= np.float32(0.05) - 1e-7 and out.max() <= 0.95 + 1e-7
    # the lower triangle of G is never read
    G2 = np.triu(G) + np.tril(np.full_like(G, np.nan), -1)
    out2, pg2b = fast(B, G2, w, 0.05, gscale=0.3, alpha=alpha, beta=0.2, lo=0.05, hi=0.95)
    assert np.array_equal(out, out2) and pg2 == pg2b


def test_projected_norm_kernel_and_face_clipping():
    B, G, w = _data(170, np.float64, seed=1)
    got = K.projected_grad_norm2(B, G, w, gscale=-0.4, alpha=0.3, beta=0.1, lo=0.05, hi=0.95)
    assert got == pytest.approx(K._pg2_ref(B, G, -0.4, w, 0.3, 0.1, 0.05, 0.95), rel=1e-12)
    # a gradient pushing every entry out through its face gives norm 0 on the faces
    Bf = np.full((5, 5), 1.0)
    w5 = np.full(5, 0.2)
    assert K.projected_grad_norm2(Bf, None, w5, beta=-1.0) == 0.0  # velocity +1 at hi
    assert K.projected_grad_norm2(Bf, None, w5, beta=+2.0) == pytest.approx(4.0)  # inward: kept


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("alpha", [0.0, 0.7])
@pytest.mark.parametrize("parallel", [True, False])
def test_constrained_norm_kernel_matches_twin_and_is_the_projection(dtype, alpha, parallel, monkeypatch):
    """||V||^2 for V = P_B[-(DF - lam)] with sum w w V = 0: the velocity at fixed density."""
    from scipy.optimize import brentq

    if not parallel:
        monkeypatch.setattr(K, "PARALLEL_MIN", 10**12)
    B, G, w = _data(150, dtype, seed=4)
    args = (B, G, 0.3, w, alpha, 0.2, 0.05, 0.95)
    for lam in (-0.4, 0.0, 0.25):
        np.testing.assert_allclose(K._cpg_stats(*args, lam), K._cpg_ref(*args, lam), rtol=1e-12, atol=1e-15)
    kw = dict(gscale=0.3, alpha=alpha, beta=0.2, lo=0.05, hi=0.95)
    got = K.constrained_grad_norm2(B, G, w, **kw)
    assert got == pytest.approx(K.constrained_grad_norm2(B, G, w, use_numba=False, **kw), rel=1e-12)
    # independent reference: the multiplier by bracketing on the NumPy twin, and the cone
    # projection written out
    D = K._full_grad_ref(B, G, 0.3, alpha, 0.2)
    lam = brentq(lambda x: K._cpg_ref(*args, x)[0], D.min(), D.max(), xtol=1e-15, rtol=1e-15)
    B64 = B.astype(np.float64)
    V = lam - D
    V = np.where((B64 <= 0.05) & (V < 0), 0.0, V)
    V = np.where((B64 >= 0.95) & (V > 0), 0.0, V)
    assert abs(float(w @ V @ w)) < 1e-12
    assert got == pytest.approx(float(w @ (V * V) @ w), rel=1e-10)
    # a smaller cone than the box cone alone: a smaller projection
    assert got < K.projected_grad_norm2(B, G, w, **kw)


def test_constrained_norm_closed_forms():
    w = np.full(4, 0.25)
    B = np.full((4, 4), 0.5)
    # DF = 1 + c everywhere: all of it is the multiplier, the velocity is 0
    assert K.constrained_grad_norm2(B, None, w, beta=1.7) == 0.0
    # interior entries: the velocity is mean(DF) - DF
    G = np.add.outer(np.arange(4.0), np.arange(4.0))
    assert K.constrained_grad_norm2(B, G, w) == pytest.approx(float(np.mean((G - G.mean()) ** 2)), rel=1e-14)
    # half the entries at 0 pushed down: blocked, the other half (interior) carry the mean
    Bf = B.copy()
    Bf[:2, :2] = 0.0
    Gf = np.zeros((4, 4))
    Gf[:2, :2] = 5.0  # pushing out through the lower face: blocked at any multiplier <= 5
    Gf[2:, 2:] = 1.0
    Gf[:2, 2:] = Gf[2:, :2] = 3.0
    free = Gf[Bf > 0]
    assert K.constrained_grad_norm2(Bf, Gf, w) == pytest.approx(float(np.sum((free - free.mean()) ** 2) / 16), rel=1e-14)
    # an all-face state with every entry blocked has speed 0
    assert K.constrained_grad_norm2(np.zeros((4, 4)), None, w, beta=1.0) == 0.0
    G = np.array([[1.0, 0.0], [0.0, 3.0]])
    B2 = np.full((2, 2), 0.5)
    assert K.constrained_grad_norm2(B2, G, np.full(2, 0.5)) == pytest.approx(1.5, rel=1e-15)
    assert np.isnan(K.constrained_grad_norm2(B2, np.full((2, 2), np.nan), np.full(2, 0.5)))


@pytest.mark.parametrize("parallel", [True, False])
def test_value_and_shift_kernels_match_twins(parallel, monkeypatch):
    if not parallel:
        monkeypatch.setattr(K, "PARALLEL_MIN", 10**12)
    B, _, w = _data(100, np.float64, seed=2)
    B[0, :] = B[:, 0] = 0.0  # 0 log 0 = 0
    B[1, 2:] = B[2:, 1] = 1.0
    assert K.local_value(B, w, 0.5, -0.2, 0.3) == pytest.approx(K._local_value_ref(B, w, 0.5, -0.2, 0.3), rel=1e-13)
    for lam in (-0.3, 0.0, 0.2):
        assert K.shifted_mean(B, w, lam, 0.0, 1.0) == pytest.approx(K._shifted_mean_ref(B, w, lam, 0.0, 1.0), rel=1e-13)
    C = B.copy()
    K.apply_shift(C, 0.1, 0.0, 0.9)
    np.testing.assert_array_equal(C, np.clip(B + 0.1, 0.0, 0.9))


@pytest.mark.parametrize("y,tau,alpha,beta", [
    (0.3, 0.1, 1.0, 0.0), (1.7, 5.0, 0.5, -1.0), (-0.05, 1e-2, 2.0, 0.3),
    (0.999, 1e-8, 1.0, 0.0), (0.5, 1e6, 1.0, 0.0), (0.2, 0.3, 0.0, 0.5),
])
def test_prox_scalar_is_the_minimiser(y, tau, alpha, beta):
    def obj(x):
        h = x * np.log(x) + (1 - x) * np.log1p(-x) if 0 < x < 1 else 0.0
        return 0.5 * (x - y) ** 2 + tau * (alpha * h + beta * x)

    x = K.prox_scalar(y, 0.0, 0.5, tau, alpha, beta, 0.0, 1.0)
    if alpha == 0.0:
        assert x == pytest.approx(np.clip(y - tau * beta, 0, 1), abs=1e-15)
        return
    assert 0.0 < x < 1.0
    # first-order condition x - y + tau (alpha logit x + beta) = 0 (scaled residual)
    res = x - y + tau * (alpha * np.log(x / (1 - x)) + beta)
    assert abs(res) <= 1e-12 * (1 + tau)
    ref = minimize_scalar(obj, bounds=(1e-300, 1 - 1e-16), method="bounded", options={"xatol": 1e-12})
    assert obj(x) <= obj(ref.x) + 1e-12
    # a box inside (0, 1) clips the unconstrained minimiser
    assert K.prox_scalar(y, 0.0, 0.5, tau, alpha, beta, 0.3, 0.31) == pytest.approx(np.clip(x, 0.3, 0.31))


def test_nan_gradient_shows_in_the_norm():
    B, G, w = _data(40, np.float64, seed=3, weighted=False)
    G[3, 5] = np.nan
    _, pg2 = K.euler_step(B, G, w, 0.1)
    assert np.isnan(pg2)


def test_wrappers_reject_bad_input():
    B, G, w = _data(20, np.float64)
    with pytest.raises(ValueError, match="dtype"):
        K.euler_step(B, G.astype(np.float32), w, 0.1)
    with pytest.raises(ValueError, match="square"):
        K.euler_step(B[:, :5], None, w, 0.1)
    with pytest.raises(ValueError, match="w must"):
        K.prox_step(B, G, w[:5], 0.1)
    with pytest.raises(ValueError, match="convex"):
        K.prox_step(B, G, w, 0.1, alpha=-1.0)
    with pytest.raises(ValueError, match="NaN"):
        K.euler_step(B, G, w, float("nan"))


@pytest.mark.parametrize("m", [130, 257, 1001])
def test_row_euler_kernel_matches_reference_and_is_exactly_symmetric(m):
    # with an exactly symmetric G the row-wise kernel must agree with the NumPy twin and give a
    # bit-for-bit symmetric result, for sizes that leave vector remainders
    from graphonflow import _kernels as K

    rng = np.random.default_rng(m)
    B = rng.random((m, m))
    B = (B + B.T) / 2
    B[0, 1] = B[1, 0] = 0.0  # on a face
    B[2, 3] = B[3, 2] = 1.0
    X = rng.standard_normal((m, m))
    G = X @ X.T  # numpy's syrk fills both triangles: exactly symmetric
    assert np.array_equal(G, G.T)
    w = rng.dirichlet(np.ones(m))
    out, pg2 = K.euler_step(B, G, w, 0.01, gscale=0.3, beta=-0.2, symmetric_G=True)
    ref, pg2_ref = K._euler_ref(B, G, 0.3, w, 0.01, 0.0, -0.2, 0.0, 1.0)
    assert np.array_equal(out, out.T)
    assert np.allclose(out, ref, rtol=0, atol=1e-15)
    assert pg2 == pytest.approx(pg2_ref, rel=1e-12)
    tiled, pg2_t = K.euler_step(B, G, w, 0.01, gscale=0.3, beta=-0.2)
    assert np.allclose(out, tiled, rtol=0, atol=1e-15) and pg2 == pytest.approx(pg2_t, rel=1e-12)


def _extreme_data(m, seed):
    """Entries across (0, 1) on a log scale, exactly 0 and 1, and subnormal: the fast
    vectorised paths must hand the entries outside (FAST_MIN, 1) to the scalar path."""
    rng = np.random.default_rng(seed)
    u = rng.uniform(-30, 30, (m, m))
    B = 1.0 / (1.0 + np.exp(-u))  # logit-uniform: entries within 1e-13 of 0 and of 1
    B = np.triu(B) + np.triu(B, 1).T
    for (i, j), val in {(0, 1): 0.0, (2, 5): 1.0, (3, 4): 1e-300, (6, 9): 5e-324, (7, 8): 1 - 2**-53}.items():
        B[i, j] = B[j, i] = val
    G = rng.normal(size=(m, m))
    return B, G, np.full(m, 1.0 / m)


@pytest.mark.parametrize("dt", [1e-3, 0.05, 2.0, 300.0])
@pytest.mark.parametrize("parallel", [True, False])
def test_prox_kernel_agrees_with_the_scalar_solver_everywhere(dt, parallel, monkeypatch):
    # every entry of the fused pass (fast vectorised path or scalar fallback) must be the
    # proximal point that the safeguarded scalar solver finds, to a few ulps, also where
    # the fast path cannot converge in its fixed number of steps (large dt) and at the faces
    if not parallel:
        monkeypatch.setattr(K, "PARALLEL_MIN", 10**12)
    B, G, w = _extreme_data(150, seed=int(dt * 1000) % 97)
    out, pg2 = K.prox_step(B, G, w, dt, gscale=0.7, alpha=0.6, beta=-0.3)
    Gs = np.triu(G) + np.triu(G, 1).T
    with np.errstate(divide="ignore"):
        S0 = np.log(B / (1 - B))  # -inf and +inf at the faces, as the kernel computes them
    expect = np.array([[K.prox_scalar(B[i, j] - dt * 0.7 * Gs[i, j], S0[i, j], B[i, j], dt, 0.6, -0.3, 0.0, 1.0)
                        for j in range(150)] for i in range(150)])
    np.testing.assert_allclose(out, expect, rtol=4e-15, atol=1e-300)
    ref, pg2_ref = K._prox_ref(B, G, 0.7, w, dt, 0.6, -0.3, 0.0, 1.0)
    np.testing.assert_allclose(out, ref, rtol=4e-15, atol=1e-300)
    assert np.array_equal(out, out.T)
    # the entries at 0 and 1 have an infinite gradient: the norm says so
    assert pg2 == pg2_ref == np.inf
    inner = (B > 1e-290) & (B < 1)
    x = out[inner]
    y = (B - dt * 0.7 * Gs)[inner]
    assert np.all((x > 0) & (x < 1))
    # first-order condition x - y + dt (alpha logit x + beta) = 0, scaled by its terms
    res = x - y + dt * (0.6 * np.log(x / (1 - x)) - 0.3)
    scale = np.abs(x) + np.abs(y) + dt * (0.6 * np.abs(np.log(x / (1 - x))) + 0.3)
    assert np.all(np.abs(res) <= 1e-13 * scale)


def test_euler_kernel_with_entropy_at_the_faces_matches_numpy():
    B, G, w = _extreme_data(150, seed=5)
    B[10, 11] = B[11, 10] = np.nan
    out, pg2 = K.euler_step(B, G, w, 0.01, gscale=0.7, alpha=0.6, beta=-0.3)
    ref, _ = K._euler_ref(B, G, 0.7, w, 0.01, 0.6, -0.3, 0.0, 1.0)
    np.testing.assert_allclose(out, ref, rtol=0, atol=4e-16, equal_nan=True)
    assert np.isnan(out[10, 11]) and np.isnan(pg2)  # the NaN shows, it is not hidden
    assert out[0, 1] == 1.0 and out[2, 5] == 0.0  # logit = -inf pushes 0 up to 1; +inf pushes 1 down
    B2, _, _ = _extreme_data(150, seed=5)
    _, pg2b = K.euler_step(B2, G, w, 0.01, gscale=0.7, alpha=0.6, beta=-0.3)
    assert pg2b == np.inf  # without the NaN: the infinite gradients at 0 and 1 show


@pytest.mark.parametrize("which", ["euler", "prox"])
@pytest.mark.parametrize("alpha", [0.0, 0.5])
def test_infinite_gradient_on_the_diagonal_gives_an_infinite_norm(which, alpha):
    # a diagonal entry counts once in the norm: it must not be subtracted from a sum that
    # holds it twice (inf - inf = NaN)
    m = 150
    B = np.full((m, m), 0.5)
    G = np.zeros((m, m))
    if alpha:
        B[0, 0] = 0.0  # logit = -inf
    else:
        G[1, 1] = np.inf
    w = np.full(m, 1.0 / m)
    fast, ref = {"euler": (K.euler_step, K._euler_ref), "prox": (K.prox_step, K._prox_ref)}[which]
    _, pg2 = fast(B, G, w, 0.01, alpha=alpha)
    assert pg2 == np.inf == ref(B, G, 1.0, w, 0.01, alpha, 0.0, 0.0, 1.0)[1]


def test_prox_fast_path_leaves_roots_beyond_the_exp_range_to_the_scalar_solver():
    # z far below 0 with a tiny dt*alpha: the root s < -708 has sigmoid(s) below 1e-307;
    # the answer is what the scalar solver gives (an exponential that underflows), not the
    # clamped sigmoid of the fast path
    B = np.full((3, 3), 0.287)
    G = np.full((3, 3), 0.944)
    w = np.full(3, 1 / 3)
    out, _ = K.prox_step(B, G, w, 1.0, alpha=1e-14)
    expect = K.prox_scalar(0.287 - 0.944, np.log(0.287 / 0.713), 0.287, 1.0, 1e-14, 0.0, 0.0, 1.0)
    assert out[0, 1] == expect and expect < 1e-300


def test_prox_step_rejects_a_zero_step():
    B, G, w = _data(20, np.float64)
    with pytest.raises(ValueError, match="dt > 0"):
        K.prox_step(B, G, w, 0.0, alpha=0.5)
    with pytest.raises(ValueError, match="dt \\* alpha > 0"):
        K.prox_step(B, G, w, 1e-300, alpha=1e-30)


@pytest.mark.parametrize("parallel", [True, False])
def test_norm_and_local_value_passes_at_the_faces_match_numpy(parallel, monkeypatch):
    # the vectorised passes behind the energy and the gradient norm hand 0, 1, subnormal and
    # NaN entries (on and off the diagonal) to their scalar paths, as their twins compute them
    if not parallel:
        monkeypatch.setattr(K, "PARALLEL_MIN", 10**12)
    B, G, w = _extreme_data(150, seed=11)
    B[4, 4] = 0.0
    B[5, 5] = 1.0
    rng = np.random.default_rng(2)
    w = rng.uniform(0.5, 1.5, 150)
    w /= w.sum()
    for alpha in (0.0, 0.7):
        got = K.local_value(B, w, alpha, -0.2, 0.3)
        assert got == pytest.approx(K._local_value_ref(B, w, alpha, -0.2, 0.3), rel=1e-13)
        pg2 = K.projected_grad_norm2(B, G, w, gscale=0.4, alpha=alpha, beta=0.1)
        ref = K._pg2_ref(B, G, 0.4, w, alpha, 0.1, 0.0, 1.0)
        assert pg2 == ref == np.inf if alpha else pg2 == pytest.approx(ref, rel=1e-12)
    # an inner box keeps the faces' infinite gradients out of the norm only when they point out
    inner = (B > 1e-3) & (B < 1 - 1e-3)
    Bi = np.where(inner, B, 0.5)
    assert K.projected_grad_norm2(Bi, G, w, gscale=0.4, alpha=0.7, beta=0.1) == pytest.approx(
        K._pg2_ref(Bi, G, 0.4, w, 0.7, 0.1, 0.0, 1.0), rel=1e-12)
    B[6, 7] = B[7, 6] = np.nan
    assert np.isnan(K.local_value(B, w, 0.7, -0.2, 0.3))

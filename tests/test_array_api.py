"""The array-API path (graphonflow.backend.array_api, xp_hom, cupy): the generic backend on
``array_api_strict`` arrays against the NumPy + Numba path (values to 1e-12, flows to
rounding, float64 and float32), dispatch and errors, the CUDA kernels' per-entry arithmetic
built with the host C++ compiler, the CUDA sources through NVRTC, and -- on a machine with a
GPU only -- the CuPy backend itself."""

import ctypes
import math
import shutil
import subprocess
import sys

import numpy as np
import pytest

xp = pytest.importorskip("array_api_strict")

import graphonflow as gf  # noqa: E402
from graphonflow import _kernels  # noqa: E402
from graphonflow.backend import CPU, get_backend, is_foreign_array, resolve_backend, to_numpy  # noqa: E402
from graphonflow.backend.array_api import ArrayAPIBackend, philox_normals_xp, read_matrix  # noqa: E402
from graphonflow.backend.xp_hom import DeviceUnsupported, XPHomWorkspace  # noqa: E402
from graphonflow.noisy._kernels import noisy_euler_step, philox_normal_reference  # noqa: E402

DTYPES = [np.float64, np.float32]


def _sym(rng, m, lo=0.05, hi=0.95, dtype=np.float64):
    A = rng.uniform(lo, hi, (m, m))
    return ((A + A.T) / 2).astype(dtype)


def _close(a, b, dtype, rtol64=1e-12):
    """Agreement to 1e-12 (float64) or to a few float32 roundings (float32)."""
    a, b = np.asarray(to_numpy(a), np.float64), np.asarray(to_numpy(b), np.float64)
    if dtype == np.float32:
        np.testing.assert_allclose(a, b, rtol=2e-6, atol=2e-7)
    else:
        np.testing.assert_allclose(a, b, rtol=rtol64, atol=1e-14)


@pytest.fixture
def be():
    return get_backend(xp.asarray([0.0]))


# ------------------------------------------------------------------ dispatch and imports
def test_import_graphonflow_imports_no_array_library():
    code = ("import sys, numpy as np, graphonflow as gf; gf.flow(gf.HomDensity('K3'), np.full((4, 4), 0.5), t1=0.1, "
            "dt=0.05); print(sorted({m.split('.')[0] for m in sys.modules} & {'cupy', 'cupy_backends', "
            "'array_api_strict', 'array_api_compat', 'torch'}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_get_backend_dispatches_on_the_array_type(be):
    assert get_backend(np.zeros((2, 2))) is CPU
    assert isinstance(be, ArrayAPIBackend) and be.xp is xp and be.name == "array_api"
    assert get_backend(xp.zeros((3, 3))) is be  # one backend per namespace
    assert is_foreign_array(xp.zeros(2)) and not is_foreign_array(np.zeros(2)) and not is_foreign_array([1.0])
    with pytest.raises(TypeError, match=r"no array backend for builtins.list: graphonflow runs on NumPy arrays"):
        get_backend([[0.0]])
    assert resolve_backend(None, xp.zeros((2, 2))) is be
    assert resolve_backend(None, gf.StepGraphon([[0.5]])) is CPU and resolve_backend("cpu", xp.zeros(1)) is CPU
    with pytest.raises(ValueError, match=r"^backend must be None, 'cpu', 'numpy', 'cupy' or an ArrayBackend "
                                         r"instance, got 'gpu'$"):
        gf.flow(gf.HomDensity("K3"), np.full((3, 3), 0.5), t1=0.1, dt=0.05, backend="gpu")


def test_read_matrix_checks_like_the_host_reader():
    A = np.array([[0.0, 1.0], [1.0 + 1e-13, 0.0]])
    B = read_matrix(xp.asarray(A))
    assert np.array_equal(to_numpy(B), to_numpy(B).T) and float(B[1, 0]) == 1.0  # mirrored from the upper
    assert read_matrix(xp.asarray([[1, 0], [0, 1]])).dtype == xp.float64
    with pytest.raises(ValueError, match=r"^W is not symmetric: max \|W - W\^T\| = 0.5 with max \|W\| = 1$"):
        read_matrix(xp.asarray([[0.0, 1.0], [0.5, 0.0]]))
    with pytest.raises(ValueError, match=r"^W0 contains NaN or infinite entries$"):
        read_matrix(xp.asarray([[0.0, math.nan], [math.nan, 0.0]]), "W0")
    with pytest.raises(ValueError, match=r"^W must be a square matrix, got shape \(2, 3\)$"):
        read_matrix(xp.zeros((2, 3)))
    with pytest.raises(ValueError, match="W is not symmetric"):
        gf.hom_density("K3", xp.asarray([[0.0, 1.0], [0.5, 0.0]]))


# ------------------------------------------------------------------ the passes, one by one
def _args(dtype, rng, m=37):
    B = _sym(rng, m, dtype=dtype)
    B[0, :5] = B[:5, 0] = 0.0   # entries on the faces, held and free
    B[3, 7] = B[7, 3] = 1.0
    G = _sym(rng, m, -2.0, 2.0, dtype=dtype)
    w = rng.uniform(0.5, 1.5, m)
    w /= w.sum()
    return B, G, w


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("alpha", [0.0, 0.7])
def test_step_passes_match_the_numba_kernels(be, dtype, alpha):
    rng = np.random.default_rng(1)
    B, G, w = _args(dtype, rng)
    lo, hi = (1e-6, 1 - 1e-6) if alpha else (0.0, 1.0)
    if alpha:
        B = np.clip(B, lo, hi).astype(dtype)
    kw = dict(gscale=1.7, alpha=alpha, beta=-0.3, lo=lo, hi=hi)
    Bx, Gx, wx = xp.asarray(B), xp.asarray(G), xp.asarray(w)
    for dt in (0.01, 0.5, 40.0):
        o_cpu, p_cpu = _kernels.euler_step(B, G, w, dt, **kw)
        o_xp, p_xp = be.euler_pass(Bx, Gx, wx, dt, out=None, **kw)
        _close(o_xp, o_cpu, dtype)
        assert math.isclose(p_xp, p_cpu, rel_tol=1e-12)
        o_cpu, p_cpu = _kernels.prox_step(B, G, w, dt, **kw)
        o_xp, p_xp = be.prox_pass(Bx, Gx, wx, dt, out=None, **kw)
        _close(o_xp, o_cpu, dtype)
        assert math.isclose(p_xp, p_cpu, rel_tol=1e-12)
    assert math.isclose(be.speed2(Bx, Gx, wx, **kw), _kernels.projected_grad_norm2(B, G, w, **kw), rel_tol=1e-12)
    assert math.isclose(be.constrained_speed2(Bx, Gx, wx, **kw), _kernels.constrained_grad_norm2(B, G, w, **kw),
                        rel_tol=1e-10)
    # no non-local term
    o_cpu, p_cpu = _kernels.prox_step(B, None, w, 0.3, alpha=alpha, beta=0.4, lo=lo, hi=hi)
    o_xp, p_xp = be.prox_pass(Bx, None, wx, 0.3, gscale=0.0, alpha=alpha, beta=0.4, lo=lo, hi=hi, out=None)
    _close(o_xp, o_cpu, dtype)
    assert math.isclose(p_xp, p_cpu, rel_tol=1e-12)


def test_prox_pass_takes_the_safeguarded_path_where_the_kernel_does(be):
    # entries at 1e-300 and within 1e-16 of 1, and a huge step: the fast path is refused there
    B = np.array([[1e-300, 0.5, 1 - 1e-16], [0.5, 0.2, 0.3], [1 - 1e-16, 0.3, 0.999]])
    w = np.full(3, 1 / 3)
    for dt in (1e-3, 1.0, 1e6):
        ref, _ = _kernels.prox_step(B, B, w, dt, gscale=2.0, alpha=0.9, beta=0.1, lo=1e-308, hi=1 - 2**-53)
        out, _ = be.prox_pass(xp.asarray(B), xp.asarray(B), xp.asarray(w), dt, gscale=2.0, alpha=0.9, beta=0.1,
                              lo=1e-308, hi=1 - 2**-53, out=None)
        np.testing.assert_allclose(to_numpy(out), ref, rtol=1e-12, atol=0)
    with pytest.raises(ValueError, match=r"^the proximal step needs dt > 0 and dt \* alpha > 0 \(dt = 0.0, "):
        be.prox_pass(xp.asarray(B), None, xp.asarray(w), 0.0, gscale=0.0, alpha=1.0, beta=0.0, lo=0, hi=1, out=None)


@pytest.mark.parametrize("dtype", DTYPES)
def test_value_shift_and_stage_passes_match_the_cpu(be, dtype):
    rng = np.random.default_rng(2)
    B, G, w = _args(dtype, rng)
    Bo = np.clip(B, 1e-6, 1 - 1e-6).astype(dtype)
    Bx, Gx, wx, Box = xp.asarray(B), xp.asarray(G), xp.asarray(w), xp.asarray(Bo)
    for a, b, c in [(0.0, 1.0, 0.0), (1.0, 0.0, 0.0), (0.5, -0.2, 0.3)]:
        assert math.isclose(be.local_value(Bx, wx, a, b, c), _kernels.local_value(B, w, a, b, c), rel_tol=1e-12)
    assert math.isclose(be.shifted_mean(Bx, wx, 0.13, 0.0, 1.0), _kernels.shifted_mean(B, w, 0.13, 0.0, 1.0),
                        rel_tol=1e-12)
    S = np.array(B)
    _kernels.apply_shift(S, -0.2, 0.0, 1.0)
    Sx = xp.asarray(B, copy=True)
    be.apply_shift(Sx, -0.2, 0.0, 1.0)
    assert np.array_equal(to_numpy(Sx), S)
    # the stage algebra: the same numbers as the CPU backend's NumPy statements
    for name, args in [("local_velocity", (Bo, 0.8, -0.1)), ("local_velocity", (Bo, 0.0, -0.1)),
                       ("scaled_sym", (G, -1.3)), ("clip", (G, 0.0, 1.0)), ("add", (G, B)), ("subtract", (G, B)),
                       ("scale", (G, 0.37)), ("lincomb", (B, [(0.3, G), (0.0, B), (-1.1, B)]))]:
        cpu_out, xp_out = np.empty_like(B), xp.empty_like(Bx)
        conv = [xp.asarray(v) if isinstance(v, np.ndarray) else v for v in args]
        if name == "lincomb":
            conv[1] = [(c, xp.asarray(X)) for c, X in args[1]]
        if name == "clip":
            CPU.clip(*args, out=cpu_out)
            be.clip(*conv, out=xp_out)
        else:
            getattr(CPU, name)(cpu_out, *args)
            getattr(be, name)(xp_out, *conv)
        assert np.array_equal(to_numpy(xp_out), cpu_out), name
    V = np.array(G)
    V[0, 0], V[0, 1], V[3, 7] = -1.0, 1.0, 2.0
    M_cpu, M_xp = CPU.held_mask(V, B, 0.0, 1.0), be.held_mask(xp.asarray(V), Bx, 0.0, 1.0)
    assert np.array_equal(to_numpy(M_xp), M_cpu) and M_cpu[0, 0] and M_cpu[3, 7] and not M_cpu.all()
    assert be.held_mask(xp.asarray(V), xp.full(Bx.shape, 0.5, dtype=Bx.dtype), 0.0, 1.0) is None
    Vx = xp.asarray(V, copy=True)
    assert np.array_equal(to_numpy(be.project_velocity(Vx, Bx, 0.0, 1.0)), CPU.project_velocity(V.copy(), B, 0.0, 1.0))
    err, out = 0.01 * G, B + 0.05 * G
    e1, o1, s1 = err.copy(), out.copy(), np.empty_like(B)
    CPU.clipped_error(o1, e1, 0.0, 1.0, s1)
    e2, o2 = xp.asarray(err, copy=True), xp.asarray(out, copy=True)
    be.clipped_error(o2, e2, 0.0, 1.0, xp.empty_like(o2))
    assert np.array_equal(to_numpy(o2), o1) and np.array_equal(to_numpy(e2), e1)
    for norm in ("max", "rms"):
        assert be.error_norm(xp.asarray(err), Bx, xp.asarray(out), 1e-3, 1e-6, norm) == \
            CPU.error_norm(err, B, out, 1e-3, 1e-6, norm)
    D = CPU.full_grad(Bo, G, 1.5, 0.4, 0.2)
    _close(be.full_grad(Box, Gx, 1.5, 0.4, 0.2), D, np.float64)
    o1, o2 = np.empty_like(Bo), xp.empty_like(Box)
    assert CPU.heun_combine(o1, Bo, D, 0.1, 0.0, 1.0) and be.heun_combine(o2, Box, xp.asarray(D), 0.1, 0.0, 1.0)
    assert np.array_equal(to_numpy(o2), o1)
    D[1, 1] = np.inf
    assert not be.heun_combine(o2, Box, xp.asarray(D), 0.1, -np.inf, np.inf)
    assert be.all_finite(Bx) and not be.all_finite(xp.asarray(D))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reflect", [False, True])
def test_noisy_pass_matches_the_numba_kernel(be, dtype, reflect):
    rng = np.random.default_rng(3)
    B, G, w = _args(dtype, rng, m=33)
    kw = dict(gscale=0.8, alpha=0.0, beta=-0.2, lo=0.0, hi=1.0)
    for step in (0, 5, 2**33 + 1):
        ref, p_ref = noisy_euler_step(B, G, w, 0.02, 0.4, key=2**40 + 7, step=step, reflect=reflect, **kw)
        out, p = be.noisy_euler_pass(xp.asarray(B), xp.asarray(G), xp.asarray(w), 0.02, 0.4, key=2**40 + 7,
                                     step=step, reflect=reflect, out=None, **kw)
        _close(out, ref, dtype)
        assert math.isclose(p, p_ref, rel_tol=1e-12)


def test_philox_normals_in_xp_are_the_reference_normals():
    m = 41
    for step, key in [(0, 0), (3, 2**63 + 5), (2**40 + 1, 12345)]:
        Z = to_numpy(philox_normals_xp(xp, m, step, key))
        iu, ju = np.triu_indices(m)
        ref = philox_normal_reference(iu.astype(np.uint64) * np.uint64(m) + ju.astype(np.uint64), step, key)
        np.testing.assert_allclose(Z[iu, ju], ref, rtol=0, atol=1e-15)
        assert np.array_equal(Z, Z.T)


# ------------------------------------------------------------------ the density engine
PATTERNS = ["K2", "K3", "C4", "C5", "C6", "K4", "P4", "S3", [(0, 1), (1, 2), (3, 4)],
            [(0, 1), (1, 2), (0, 2), (3, 4), (4, 5), (3, 5)], "E2"]


@pytest.mark.parametrize("dtype", DTYPES)
def test_densities_and_gradients_match_the_host_engine(dtype):
    rng = np.random.default_rng(4)
    A = _sym(rng, 29, 0.0, 1.0, dtype=dtype)
    X = xp.asarray(A)
    for p in PATTERNS:
        d, (d2, g) = gf.hom_density(p, X), gf.hom_density_grad(p, X, return_density=True)
        assert isinstance(d, float) and d == d2
        assert math.isclose(d, gf.hom_density(p, A), rel_tol=1e-12 if dtype == np.float64 else 2e-6), p
        assert isinstance(g, type(X)) and g.dtype == X.dtype
        _close(g, gf.hom_density_grad(p, A), dtype)
        assert np.array_equal(to_numpy(g), to_numpy(g).T)  # exactly symmetric
    batch = gf.hom_density(["K3", "C4"], X)
    assert isinstance(batch, type(X)) and batch.shape == (2,)
    np.testing.assert_allclose(to_numpy(batch), gf.hom_density(["K3", "C4"], A), rtol=2e-6)


def test_step_graphon_widths_on_the_generic_backend(be):
    rng = np.random.default_rng(5)
    S = gf.StepGraphon(_sym(rng, 7, 0.0, 1.0), rng.dirichlet(np.ones(7)))
    for p in ["K3", "C4", "C5", "K4", "P4", "S3"]:
        assert math.isclose(gf.hom_density(p, S, backend=be), gf.hom_density(p, S), rel_tol=1e-12), p
        np.testing.assert_allclose(to_numpy(gf.hom_density_grad(p, S, backend=be)), gf.hom_density_grad(p, S),
                                   rtol=1e-12, atol=1e-15)
    # a host array forced onto the generic backend, and a device array forced onto the CPU
    A = _sym(rng, 9)
    assert math.isclose(gf.hom_density("C5", A, backend=be), gf.hom_density("C5", A), rel_tol=1e-12)
    assert isinstance(gf.hom_density_grad("K3", A, backend=be), type(xp.zeros(1)))
    assert gf.hom_density("C5", xp.asarray(A), backend="cpu") == gf.hom_density("C5", A)


def test_unsupported_patterns_and_kinds_name_the_host_call():
    X = xp.asarray(np.full((6, 6), 0.5))
    with pytest.raises(DeviceUnsupported, match=r"^t\(K5\) is not computed on array_api_strict arrays: the device "
                       r"engine has forests \(edges, paths, stars, trees\), cycles C_k, K4 and disjoint unions of "
                       r"these; compute it on the host with graphonflow.hom_density\('K5', "
                       r"graphonflow.backend.to_numpy\(W\)\)$"):
        gf.hom_density("K5", X)
    with pytest.raises(DeviceUnsupported, match=r"^D t\(K2,3\) is not computed .* graphonflow.hom_density_grad"):
        gf.hom_density_grad("K2,3", X)
    with pytest.raises(DeviceUnsupported, match=r"^kind='inj' \(the injective density\) is not computed on "
                                                r"array_api_strict arrays; compute it on the host"):
        gf.hom_density("K3", X, kind="inj")
    with pytest.raises(gf.hom.CostError, match=r"^t\(C5\) on 6 vertices costs about 4\.7e\+02 operations \(~6\^3\.43\), above max_cost=10; "):
        gf.hom_density("C5", X, max_cost=10)
    assert isinstance(DeviceUnsupported("x"), ValueError)


def test_workspace_shares_path_powers():
    ws = XPHomWorkspace(xp.asarray(np.full((4, 4), 0.5)))
    g = ws.grad("C5")
    assert ws.path_power(4) is ws._Q[4] and float(g[0, 0]) == 5 * 0.5**4
    assert ws.density("C4") == 0.5**4 and 2 in ws._Q


# ------------------------------------------------------------------ functionals
@pytest.mark.parametrize("dtype", DTYPES)
def test_functionals_on_device_arrays(dtype):
    rng = np.random.default_rng(6)
    A = _sym(rng, 17, dtype=dtype)
    X = xp.asarray(A)
    tri = gf.Custom(lambda B, w: float(xp.sum(B * B)) / 17**2 if not isinstance(B, np.ndarray)
                    else float(np.sum(B * B)) / 17**2, lambda B, w: 2 * B, name="sq")
    for F in [0.5 * gf.Entropy() - gf.HomDensity("C4") + 2 * gf.EdgeDensity(), gf.RateFunction(0.3),
              gf.ergm([-1.0, 0.5, 0.2], ["K2", "K3", "K4"]), gf.HomDensity("C5"), gf.HomDensity("K3") + tri - tri / 2]:
        v, g = F.value_and_grad(X)
        assert math.isclose(v, F.value(A), rel_tol=1e-12 if dtype == np.float64 else 1e-6)
        assert isinstance(g, type(X)) and g.dtype == X.dtype
        _close(g, F.grad(A), dtype)
        L = F.split().local
        assert math.isclose(L.value(X), L.value(A), rel_tol=1e-12, abs_tol=1e-14)
        _close(L.grad(X), L.grad(A), np.float64 if dtype == np.float64 else dtype)
    with pytest.raises(ValueError, match=r"^the gradient of Entropy needs 0 < W < 1 \(log W/\(1-W\) is infinite "
                                         r"at 0 and 1\); got entries in \[0, 1\]$"):
        gf.Entropy().grad(xp.asarray(np.eye(3)))
    bad = gf.Custom(lambda B, w: 0.0, lambda B, w: xp.triu(B), name="upper")
    with pytest.raises(ValueError, match=r"^Custom term 'upper': grad\(B, w\) is not symmetric: max \|G - G\^T\| = "
                                         r"0.5 with max \|G\| = 0.5"):
        bad.grad(xp.asarray(np.full((2, 2), 0.5)))
    host = gf.Custom(lambda B, w: 0.0, lambda B, w: np.ones((2, 2)), name="host")
    with pytest.raises(ValueError, match=r"^Custom term 'host': grad\(B, w\) must return an array of the same "
                                         r"library as W \(array_api_strict\), got ndarray$"):
        host.grad(xp.asarray(np.full((2, 2), 0.5)))


# ------------------------------------------------------------------ flows
FLOWS = [
    ("prox", gf.ergm([-0.5, 1.0]), dict(t1=1.0, dt=0.05)),
    ("euler", gf.HomDensity("C4") - gf.EdgeDensity(), dict(t1=1.0, dt=0.05, integrator="euler")),
    ("heun", gf.HomDensity("K3") - gf.EdgeDensity(), dict(t1=0.5, dt=0.05, integrator="heun")),
    ("dp54", gf.HomDensity("C5") + 0.3 * gf.Entropy(), dict(t1=0.5, rtol=1e-6)),
    ("bs32", gf.HomDensity("K4") - 0.2 * gf.HomDensity("S3"), dict(t1=0.5, rtol=1e-5, integrator="bs32")),
    ("ark54", gf.HomDensity("K3") + 0.5 * gf.Entropy() - gf.HomDensity("P3"), dict(t1=0.5, rtol=1e-6,
                                                                                     integrator="ark54")),
    ("density", gf.HomDensity("K4"), dict(t1=0.5, dt=0.05, density=0.4, gtol=1e-9)),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name,F,kw", FLOWS, ids=[f[0] for f in FLOWS])
def test_flows_on_array_api_arrays_match_numpy(dtype, name, F, kw):
    rng = np.random.default_rng(7)
    A = _sym(rng, 24, 0.2, 0.8, dtype=dtype)
    r0 = gf.flow(F, A, **kw)
    r1 = gf.flow(F, xp.asarray(A), **kw)
    assert (r1.status, r1.n_steps, r1.n_grad_evals, r1.n_rejected) == (r0.status, r0.n_steps, r0.n_grad_evals,
                                                                      r0.n_rejected)
    assert isinstance(r1.W, type(xp.zeros(1))) and r1.W.dtype == (xp.float32 if dtype == np.float32 else xp.float64)
    W1 = to_numpy(r1.W)
    assert np.array_equal(W1, W1.T)
    tol = 1e-12 if dtype == np.float64 else 1e-6
    np.testing.assert_allclose(W1, r0.W, rtol=tol, atol=tol)
    np.testing.assert_allclose(r1.energies, r0.energies, rtol=tol, atol=tol)
    np.testing.assert_allclose(r1.grad_norms, r0.grad_norms, rtol=1e-9 if dtype == np.float64 else 1e-5)
    np.testing.assert_allclose(r1.times, r0.times, rtol=1e-12)
    assert all(isinstance(s, type(r1.W)) for s in r1.states)


def test_flow_keeps_saveat_functions_and_errors_on_device():
    X = xp.asarray(np.full((5, 5), 0.3))
    r = gf.flow(gf.HomDensity("K3"), X, t1=0.2, dt=0.05, saveat=gf.SaveAt(every=2, fn=lambda t, B: float(B[0, 1])))
    ref = gf.flow(gf.HomDensity("K3"), np.full((5, 5), 0.3), t1=0.2, dt=0.05,
                  saveat=gf.SaveAt(every=2, fn=lambda t, B: float(B[0, 1])))
    assert r.states == ref.states
    with pytest.raises(ValueError, match=r"^F contains entropy / rate-function terms whose gradient is infinite"):
        gf.flow(gf.Entropy(), xp.asarray(np.eye(3)), t1=1.0, dt=0.1)
    with pytest.raises(ValueError, match=r"^W0 has entries in \[0, 2\], outside the box \[0.0, 1.0\]$"):
        gf.flow(gf.HomDensity("K3"), xp.asarray(2 * np.eye(3)), t1=1.0, dt=0.1)
    with pytest.raises(DeviceUnsupported, match=r"^D t\(K2,3\) is not computed on array_api_strict"):
        gf.flow(gf.HomDensity("K2,3"), X, t1=0.1, dt=0.05)
    # a host start forced onto the generic backend runs there and returns its arrays
    be = get_backend(X)
    r2 = gf.flow(gf.HomDensity("C4"), np.full((5, 5), 0.3), t1=0.2, dt=0.05, backend=be)
    assert isinstance(r2.W, type(X))
    np.testing.assert_allclose(to_numpy(r2.W), gf.flow(gf.HomDensity("C4"), np.full((5, 5), 0.3), t1=0.2,
                                                       dt=0.05).W, rtol=1e-14)
    r3 = gf.flow(gf.HomDensity("C4"), X, t1=0.2, dt=0.05, backend="cpu")
    assert isinstance(r3.W, np.ndarray)


def test_step_graphon_flows_on_the_generic_backend(be):
    rng = np.random.default_rng(12)
    S = gf.StepGraphon(_sym(rng, 6, 0.2, 0.8), rng.dirichlet(np.ones(6)))
    for F, kw in [(gf.ergm([-0.5, 1.0]), dict(dt=0.05)), (gf.HomDensity("C5") + 0.2 * gf.Entropy(), dict(rtol=1e-7)),
                  (gf.HomDensity("K4") - gf.HomDensity("S3"), dict(dt=0.05, integrator="heun"))]:
        r0, r1 = gf.flow(F, S, t1=0.5, **kw), gf.flow(F, S, t1=0.5, backend=be, **kw)
        assert r1.n_steps == r0.n_steps and isinstance(r1.W, type(xp.zeros(1)))
        np.testing.assert_allclose(to_numpy(r1.W), r0.W, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(to_numpy(r1.widths), S.widths, rtol=0, atol=0)


@pytest.mark.parametrize("dtype", DTYPES)
def test_noisy_flow_on_array_api_arrays_matches_numpy(dtype):
    rng = np.random.default_rng(8)
    A = _sym(rng, 20, 0.2, 0.8, dtype=dtype)
    F = gf.HomDensity("K3") - 0.5 * gf.EdgeDensity()
    for reflect in (False, True):
        r0 = gf.noisy_flow(F, A, t1=0.5, dt=0.05, noise=0.5, rng=3, reflect=reflect, save_every=3)
        r1 = gf.noisy_flow(F, xp.asarray(A), t1=0.5, dt=0.05, noise=0.5, rng=3, reflect=reflect, save_every=3)
        assert r1.key == r0.key and r1.n_steps == r0.n_steps == 10 and isinstance(r1.W, type(xp.zeros(1)))
        tol = 1e-12 if dtype == np.float64 else 1e-6
        np.testing.assert_allclose(to_numpy(r1.W), r0.W, rtol=tol, atol=tol)
        np.testing.assert_allclose(r1.energies, r0.energies, rtol=tol, atol=tol)
    # a user's stochastic gradient on the device, read from its upper triangle
    g = lambda A, r: A * 0.0 + 1.0  # noqa: E731
    r0 = gf.noisy_flow(F, A, t1=0.2, dt=0.05, noise=0.2, rng=1, grad=lambda A, r: np.ones_like(A))
    r1 = gf.noisy_flow(F, xp.asarray(A), t1=0.2, dt=0.05, noise=0.2, rng=1, grad=g)
    np.testing.assert_allclose(to_numpy(r1.W), r0.W, rtol=1e-6, atol=1e-7)
    with pytest.raises(ValueError, match=r"^grad\(A, rng\) must return an array of shape \(20, 20\), got \(2, 2\)$"):
        gf.noisy_flow(F, xp.asarray(A), t1=0.1, dt=0.05, noise=0.1, rng=1, grad=lambda A, r: xp.ones((2, 2)))


# ------------------------------------------------------------------ the CUDA source, without a GPU
@pytest.fixture(scope="module")
def host_lib(tmp_path_factory):
    """The kernels' per-entry functions built as host C++ (skipped without a compiler)."""
    from graphonflow.backend.cupy import host_source

    cxx = shutil.which("g++") or shutil.which("c++") or shutil.which("clang++")
    if cxx is None:
        pytest.skip("no C++ compiler to build the kernels' per-entry functions for the host")
    d = tmp_path_factory.mktemp("gfh")
    (d / "gfh.cpp").write_text(host_source())
    subprocess.run([cxx, "-O2", "-shared", "-fPIC", "-ffp-contract=off", "-o", str(d / "gfh.so"), str(d / "gfh.cpp")],
                   check=True, capture_output=True)
    lib = ctypes.CDLL(str(d / "gfh.so"))
    P, L, I, D = ctypes.c_void_p, ctypes.c_longlong, ctypes.c_int, ctypes.c_double
    lib.gfh_euler.argtypes = lib.gfh_prox.argtypes = [P, P, L, I, D, D, D, D, D, D, P, P]
    lib.gfh_noisy.argtypes = [P, P, P, L, I, D, D, D, D, D, D, D, I, P, P]
    lib.gfh_normals.argtypes = [P, L, ctypes.c_ulonglong, ctypes.c_uint, ctypes.c_uint, P]
    lib.gfh_cpg.argtypes = [P, P, L, D, D, D, D, D, D, P, P]
    lib.gfh_phi.argtypes = [P, L, D, D, D, P]
    return lib


def _p(a):
    return a.ctypes.data_as(ctypes.c_void_p)


def _wq(q, w):
    return float(w @ q.reshape(len(w), len(w)) @ w)


@pytest.mark.parametrize("alpha", [0.0, 0.7])
def test_cuda_entry_functions_built_for_the_host_match_the_generic_backend(host_lib, be, alpha):
    rng = np.random.default_rng(9)
    B, G, w = _args(np.float64, rng, m=31)
    lo, hi = (1e-300, 1 - 2**-53) if alpha else (0.0, 1.0)
    B = np.clip(B, lo, hi)
    B[1, 1] = 1e-300 if alpha else B[1, 1]  # the prox's scalar path
    Bx, Gx, wx = xp.asarray(B), xp.asarray(G), xp.asarray(w)
    N = B.size
    kw = dict(gscale=1.3, alpha=alpha, beta=-0.4, lo=lo, hi=hi)
    for dt in (0.02, 3.0, 1e5):
        for fn, ref in [(host_lib.gfh_euler, be.euler_pass), (host_lib.gfh_prox, be.prox_pass)]:
            out, q = np.empty(N), np.empty(N)
            fn(_p(B), _p(G), N, 1, dt, 1.3, alpha, -0.4, lo, hi, _p(out), _p(q))
            o_ref, p_ref = ref(Bx, Gx, wx, dt, out=None, **kw)
            np.testing.assert_allclose(out.reshape(B.shape), to_numpy(o_ref), rtol=1e-12, atol=0)
            assert math.isclose(_wq(q, w), p_ref, rel_tol=1e-12)
    # the normals: Philox4x32-10 and Box-Muller with the branch-free sine and cosine
    ls = (np.arange(5000, dtype=np.uint64) * np.uint64(7919)) + np.uint64(2**33)
    for s, key in [(0, 0), (7, 2**64 - 1), (2**35, 987654321)]:
        z = np.empty(ls.size)
        host_lib.gfh_normals(_p(ls), ls.size, s, key & 0xFFFFFFFF, key >> 32, _p(z))
        np.testing.assert_allclose(z, philox_normal_reference(ls, s, key), rtol=0, atol=4e-15)
    Z = to_numpy(philox_normals_xp(xp, 31, 4, 55))
    for reflect in (0, 1):
        out, q = np.empty(N), np.empty(N)
        host_lib.gfh_noisy(_p(B), _p(G), _p(np.ascontiguousarray(Z)), N, 1, 0.05, 1.3, 0.0, -0.4, 0.0, 1.0, 0.6,
                           reflect, _p(out), _p(q))
        o_ref, p_ref = be.noisy_euler_pass(Bx, Gx, wx, 0.05, 0.6, key=55, step=4, gscale=1.3, alpha=0.0, beta=-0.4,
                                           lo=0.0, hi=1.0, reflect=bool(reflect), out=None)
        np.testing.assert_allclose(out.reshape(B.shape), to_numpy(o_ref), rtol=1e-13, atol=1e-15)
        assert math.isclose(_wq(q, w), p_ref, rel_tol=1e-12)
    st, g = np.empty(4 * N), np.empty(N)
    host_lib.gfh_cpg(_p(B), _p(G), N, 1.3, alpha, -0.4, lo, hi, 0.25, _p(st), _p(g))
    st = st.reshape(N, 4)
    ref = _kernels._cpg_ref(B, G, 1.3, w, alpha, -0.4, lo, hi, 0.25)
    got = tuple(_wq(st[:, c], w) for c in range(4)) + (g.min(), g.max())
    np.testing.assert_allclose(got, ref, rtol=1e-12)
    phi = np.empty(N)
    host_lib.gfh_phi(_p(np.clip(B, 0, 1)), N, 0.5, -0.2, 0.3, _p(phi))
    assert math.isclose(_wq(phi, w), _kernels.local_value(np.clip(B, 0, 1), w, 0.5, -0.2, 0.3), rel_tol=1e-12)


def test_cuda_sources_compile_with_nvrtc():
    nvrtc = pytest.importorskip("cupy_backends.cuda.libs.nvrtc", reason="CuPy (with NVRTC) is not installed")
    from graphonflow.backend.cupy import cuda_source

    for dtype in DTYPES:
        try:
            prog = nvrtc.createProgram(cuda_source(dtype), "graphonflow.cu", [], [])
        except Exception as exc:  # the NVRTC library itself is missing
            pytest.skip(f"NVRTC is not loadable: {exc}")
        try:
            nvrtc.compileProgram(prog, ["--gpu-architecture=compute_80", "--fmad=false"])
        except Exception:
            pytest.fail(nvrtc.getProgramLog(prog))
        assert b".entry gf_euler_" in nvrtc.getPTX(prog) or ".entry gf_euler_" in str(nvrtc.getPTX(prog))


# ------------------------------------------------------------------ on a GPU only
def _gpu():
    try:
        import cupy
    except ImportError:
        return None
    try:
        if cupy.cuda.runtime.getDeviceCount() < 1:
            return None
    except Exception:
        return None
    return cupy


gpu = pytest.mark.skipif(_gpu() is None, reason="needs CuPy and a CUDA device")


@gpu
@pytest.mark.parametrize("dtype", DTYPES)
def test_gpu_passes_match_the_generic_backend(be, dtype):
    cp = _gpu()
    dev = get_backend(cp.zeros(1))
    assert dev.name == "cupy"
    rng = np.random.default_rng(10)
    for m in (37, 300):
        B, G, w = _args(dtype, rng, m=m)
        B = np.clip(B, 1e-6, 1 - 1e-6).astype(dtype)
        Bc, Gc, wc = cp.asarray(B), cp.asarray(G), cp.asarray(w)
        Bx, Gx, wx = xp.asarray(B), xp.asarray(G), xp.asarray(w)
        for alpha in (0.0, 0.6):
            kw = dict(gscale=1.1, alpha=alpha, beta=-0.3, lo=1e-6, hi=1 - 1e-6)
            for name in ("euler_pass", "prox_pass"):
                oc, pc = getattr(dev, name)(Bc, Gc, wc, 0.3, out=None, **kw)
                ox, px = getattr(be, name)(Bx, Gx, wx, 0.3, out=None, **kw)
                _close(oc, ox, dtype)
                assert math.isclose(pc, px, rel_tol=1e-12), name
            assert math.isclose(dev.speed2(Bc, Gc, wc, **kw), be.speed2(Bx, Gx, wx, **kw), rel_tol=1e-12)
            assert math.isclose(dev.constrained_speed2(Bc, Gc, wc, **kw), be.constrained_speed2(Bx, Gx, wx, **kw),
                                rel_tol=1e-10)
            assert math.isclose(dev.local_value(Bc, wc, alpha, 0.2, 0.1), be.local_value(Bx, wx, alpha, 0.2, 0.1),
                                rel_tol=1e-12)
        for step in (0, 9):
            oc, pc = dev.noisy_euler_pass(Bc, Gc, wc, 0.05, 0.3, key=77, step=step, gscale=1.0, alpha=0.0, beta=0.0,
                                          lo=0.0, hi=1.0, reflect=True, out=None)
            ox, px = be.noisy_euler_pass(Bx, Gx, wx, 0.05, 0.3, key=77, step=step, gscale=1.0, alpha=0.0, beta=0.0,
                                         lo=0.0, hi=1.0, reflect=True, out=None)
            _close(oc, ox, dtype)
        S = dev.sym_square(1.0 / m, Bc, symmetric=True)
        assert bool(cp.all(S == S.T))
        _close(S, B.astype(np.float64) @ B.astype(np.float64) / m, dtype, rtol64=1e-12)
        for name, args in [("scaled_sym", (-1.3,)), ("local_velocity", (0.8, -0.1)), ("local_velocity", (0.0, 0.2))]:
            oc, ox = cp.empty_like(Bc), xp.empty_like(Bx)
            src = (Gc, Gx) if name == "scaled_sym" else (Bc, Bx)
            getattr(dev, name)(oc, src[0], *args)
            getattr(be, name)(ox, src[1], *args)
            _close(oc, ox, dtype)
        out = cp.empty_like(Bc)
        dev.clip(Gc, 0.0, 1.0, out=out)
        assert np.array_equal(out.get(), np.clip(G, 0.0, 1.0))
        V = cp.asarray(G)
        dev.project_velocity(V, Bc, 1e-6, 1 - 1e-6)  # B sits on these faces where _args put 0 and 1
        ref = CPU.project_velocity(G.copy(), B, 1e-6, 1 - 1e-6)
        assert np.array_equal(V.get(), ref) and not np.array_equal(ref, G)
        dev.lincomb(out, Bc, [(0.3, Gc), (-1.2, Bc)])
        ref = np.array(B)
        ref += 0.3 * G
        ref += -1.2 * B
        _close(out, ref, dtype)


@gpu
def test_gpu_normals_are_the_reference_normals():
    cp = _gpu()
    dev = get_backend(cp.zeros(1))
    m = 257
    Z0 = cp.zeros((m, m))
    out, _ = dev.noisy_euler_pass(Z0, None, cp.full(m, 1 / m), 0.0, 1.0, key=2**40 + 3, step=5, gscale=0.0,
                                  alpha=0.0, beta=0.0, lo=-1e300, hi=1e300, reflect=False, out=None)
    Z = out.get()
    iu, ju = np.triu_indices(m)
    ref = philox_normal_reference(iu.astype(np.uint64) * np.uint64(m) + ju.astype(np.uint64), 5, 2**40 + 3)
    np.testing.assert_allclose(Z[iu, ju], ref, rtol=0, atol=4e-15)
    assert np.array_equal(Z, Z.T)


@gpu
@pytest.mark.parametrize("dtype", DTYPES)
def test_gpu_flows_and_densities_match_numpy(dtype):
    cp = _gpu()
    rng = np.random.default_rng(11)
    A = _sym(rng, 64, 0.2, 0.8, dtype=dtype)
    for name, F, kw in FLOWS:
        r0 = gf.flow(F, A, **kw)
        r1 = gf.flow(F, cp.asarray(A), **kw)
        assert isinstance(r1.W, cp.ndarray) and r1.status == r0.status, name
        tol = 1e-10 if dtype == np.float64 else 1e-5
        np.testing.assert_allclose(r1.W.get(), r0.W, rtol=tol, atol=tol)
    r0 = gf.noisy_flow(FLOWS[1][1], A, t1=0.3, dt=0.05, noise=0.3, rng=2)
    r1 = gf.noisy_flow(FLOWS[1][1], cp.asarray(A), t1=0.3, dt=0.05, noise=0.3, rng=2)
    np.testing.assert_allclose(r1.W.get(), r0.W, rtol=1e-10 if dtype == np.float64 else 1e-5, atol=1e-6)
    X = cp.asarray(A)
    for p in PATTERNS:
        assert math.isclose(gf.hom_density(p, X), gf.hom_density(p, A), rel_tol=1e-10 if dtype == np.float64 else 1e-5)
        _close(gf.hom_density_grad(p, X), gf.hom_density_grad(p, A), dtype, rtol64=1e-10)

r"""The generic backend: every pass of a flow step written against the array API standard.

:class:`ArrayAPIBackend` implements :class:`~graphonflow.backend.ArrayBackend` with the
operations of the `array API standard <https://data-apis.org/array-api/>`_ only (through
``array_api_compat``), so that it runs on any conforming library: CuPy on a GPU, or
``array_api_strict`` on the CPU, where the tests run it against the NumPy + Numba path.
Each pass is the NumPy twin of the corresponding Numba kernel (``_x_ref`` in
:mod:`graphonflow._kernels`) rewritten with ``xp`` calls:

* every entry is computed in float64 and stored in the state's dtype, as the Numba
  kernels do (so a float32 flow rounds each entry once, from a float64 value);
* the weighted sums :math:`\sum_{ij} w_i w_j q_{ij}` are ``w @ (Q @ w)`` in float64;
* the proximal pass is the vectorised fast path (three Halley steps from logit B) with
  the safeguarded iteration on the entries it does not accept, as in ``_prox_ref``.

**Symmetry.**  On this path every (n, n) array is *exactly* symmetric: the initial state
and an input matrix are mirrored from their upper triangle once, when read
(:func:`read_matrix`), every product of the density engine is mirrored when it is made
(:mod:`graphonflow.backend.xp_hom`), a user's gradient is mirrored when checked.  The
passes therefore read G entry by entry (a transposed read of the lower triangle would
cost a device pass), and their results are exactly symmetric because (i, j) and (j, i)
go through the same arithmetic.  The CPU kernels' reading of G's upper triangle gives the
same numbers for such a G.

Examples
--------
>>> import numpy as np
>>> import array_api_strict as xp
>>> from graphonflow.backend import get_backend
>>> B = xp.asarray(np.full((3, 3), 0.5)); w = xp.asarray(np.full(3, 1 / 3))
>>> be = get_backend(B)
>>> be.name
'array_api'
>>> out, pg2 = be.euler_pass(B, None, w, 0.1, gscale=0.0, alpha=0.0, beta=-1.0, lo=0.0, hi=1.0, out=None)
>>> float(out[0, 1]), round(pg2, 12)                 # DF = -1: up by 0.1; |P DF|^2 = 1
(0.6, 1.0)
"""

from __future__ import annotations

import math

import numpy as np

from .. import _kernels
from .._validation import SYM_RTOL
from .._vecmath import EXP_MAX
from .base import ArrayBackend

__all__ = ["ArrayAPIBackend", "namespace", "to_numpy", "read_matrix", "uniform_widths", "philox_normals_xp"]

_MASK = 0xFFFFFFFF
_M0, _M1 = 0xD2511F53, 0xCD9E8D57
_W0, _W1 = 0x9E3779B9, 0xBB67AE85
_TWO53 = 2.0 ** -53


def _compat():
    try:
        import array_api_compat
    except ImportError:  # pragma: no cover - the test extra installs it
        raise ImportError(
            "graphonflow needs the package array-api-compat for arrays other than NumPy's: "
            "pip install array-api-compat (or pip install 'graphonflow[gpu]')"
        ) from None
    return array_api_compat


def namespace(x):
    """The array-API namespace of ``x`` (``array_api_compat.array_namespace``)."""
    return _compat().array_namespace(x)


def to_numpy(x):
    """A NumPy array with the values of ``x``: x itself for a NumPy array, else a host copy
    (``.get()`` for CuPy, DLPack for CPU libraries such as ``array_api_strict``).

    >>> import array_api_strict as xp
    >>> to_numpy(xp.asarray([[1.0, 2.0], [2.0, 1.0]])).tolist()
    [[1.0, 2.0], [2.0, 1.0]]
    """
    if isinstance(x, np.ndarray):
        return x
    if type(x).__module__.split(".")[0] == "cupy":
        return x.get()
    try:
        return np.array(np.from_dlpack(x), copy=True)
    except (TypeError, ValueError, RuntimeError, BufferError, AttributeError):
        return np.array(x, copy=True)


def _device(x):
    return _compat().device(x)


def read_matrix(W, name="W", dtype=None):
    """W (an array of a non-NumPy library) as an exactly symmetric float32/float64 array.

    The rules of :func:`graphonflow.as_target` for arrays: square, non-empty, finite,
    symmetric up to ``max |W - W^T| <= 1e-10 max |W|`` (checked in row blocks, so that the
    temporaries stay small); integers and booleans become float64.  The result is a new
    array mirrored from the upper triangle, so it is symmetric exactly.  ``dtype``
    (np.float32 or np.float64) converts it.
    """
    xp = namespace(W)
    if W.ndim != 2 or W.shape[0] != W.shape[1]:
        raise ValueError(f"{name} must be a square matrix, got shape {tuple(W.shape)}")
    if W.shape[0] == 0:
        raise ValueError(f"{name} is empty")
    if not xp.isdtype(W.dtype, ("real floating", "integral", "bool")):
        raise ValueError(f"{name} must be a real numeric matrix, got dtype {W.dtype}")
    want = None if dtype is None else (xp.float32 if np.dtype(dtype) == np.float32 else xp.float64)
    if want is None:
        want = W.dtype if W.dtype in (xp.float32, xp.float64) else xp.float64
    A = W if W.dtype == want else xp.astype(W, want)
    n = A.shape[0]
    # row blocks of at most 2^24 entries, so that the check's temporaries stay small beside A
    rows = max(1, min(n, (1 << 24) // n))
    scale = err = 0.0
    for r0 in range(0, n, rows):
        blk, blkT = A[r0:r0 + rows, :], A[:, r0:r0 + rows].mT
        if not bool(xp.all(xp.isfinite(blk))):
            raise ValueError(f"{name} contains NaN or infinite entries")
        scale = max(scale, float(xp.max(xp.abs(blk))))
        err = max(err, float(xp.max(xp.abs(blk - blkT))))
    tiny = float(np.finfo(np.float32 if want == xp.float32 else np.float64).tiny)
    if err > max(SYM_RTOL * scale, tiny):
        raise ValueError(f"{name} is not symmetric: max |W - W^T| = {err:.3g} with max |W| = {scale:.3g}")
    from . import get_backend

    return get_backend(A).mirror(xp.asarray(A, copy=True))


def uniform_widths(B):
    """The widths 1/n of an (n, n) matrix B, as a float64 array of B's library and device."""
    xp = namespace(B)
    n = B.shape[0]
    return xp.full((n,), 1.0 / n, dtype=xp.float64, device=_device(B))


def _upper_mask(xp, m, device):
    r = xp.arange(m, device=device)
    return r[:, None] <= r[None, :]


def _symmetrized(xp, X):
    """A new array: X's upper triangle (diagonal included) mirrored onto the lower one."""
    return xp.where(_upper_mask(xp, X.shape[0], _device(X)), X, X.mT)


def philox_normals_xp(xp, m, step, key, device=None):
    r"""The (m, m) symmetric matrix of the noisy flow's normals at ``step``, in xp operations.

    Entry (i, j) and (j, i) is the normal of the linear index l = min(i, j) m + max(i, j):
    the Box--Muller cosine (l even) or sine (l odd) variate of Philox4x32-10 on the counter
    (c mod 2^32, c div 2^32, s mod 2^32, s div 2^32), c = l >> 1, s = ``step``, under the
    64-bit ``key`` -- the scheme of :mod:`graphonflow.noisy._kernels`.  The products of
    32-bit words are held in uint64, where they cannot overflow.

    >>> import numpy as np, array_api_strict as xp
    >>> from graphonflow.noisy._kernels import philox_normal_reference
    >>> Z = philox_normals_xp(xp, 3, 7, key=99)
    >>> ref = philox_normal_reference(np.array([0, 1, 2, 4, 5, 8]), 7, key=99)
    >>> bool(np.allclose(np.asarray(Z)[np.triu_indices(3)], ref, rtol=1e-15, atol=0))
    True
    """
    key = int(key)
    if not 0 <= key < 2**64:
        raise ValueError(f"key must be an integer in [0, 2^64), got {key}")
    step = int(step)
    k0, k1 = key & _MASK, key >> 32
    u64 = xp.uint64
    r = xp.arange(m, dtype=u64, device=device)
    L = xp.minimum(r[:, None], r[None, :]) * m + xp.maximum(r[:, None], r[None, :])
    odd = (L & 1) == 1
    cs = L >> 1
    c0, c1 = cs & _MASK, cs >> 32
    c2 = xp.full(cs.shape, step & _MASK, dtype=u64, device=device)
    c3 = xp.full(cs.shape, (step >> 32) & _MASK, dtype=u64, device=device)
    for _ in range(10):
        p0 = c0 * _M0
        p1 = c2 * _M1
        hi0, lo0 = p0 >> 32, p0 & _MASK
        hi1, lo1 = p1 >> 32, p1 & _MASK
        c0, c1, c2, c3 = (hi1 ^ c1 ^ k0) & _MASK, lo1, (hi0 ^ c3 ^ k1) & _MASK, lo0
        k0 = (k0 + _W0) & _MASK
        k1 = (k1 + _W1) & _MASK
    f64 = xp.float64
    u1 = (xp.astype(c0 >> 5, f64) * 67108864.0 + xp.astype(c1 >> 6, f64) + 1.0) * _TWO53
    u2 = (xp.astype(c2 >> 5, f64) * 67108864.0 + xp.astype(c3 >> 6, f64)) * _TWO53
    rad = xp.sqrt(-2.0 * xp.log(u1))
    return xp.where(odd, rad * xp.sin((2.0 * math.pi) * u2), rad * xp.cos((2.0 * math.pi) * u2))


class ArrayAPIBackend(ArrayBackend):
    """The passes of a flow step in array-API operations on the namespace ``xp``.

    Parameters
    ----------
    xp : module
        An array-API namespace (``array_api_strict``, ``array_api_compat.cupy``, ...); the
        arrays handed to the methods must belong to it.  :func:`graphonflow.backend.get_backend`
        builds one per namespace.
    """

    name = "array_api"

    def __init__(self, xp):
        self.xp = xp
        self._masks = {}

    def __repr__(self):
        return f"{type(self).__name__}({getattr(self.xp, '__name__', self.xp)})"

    # ------------------------------------------------------------------ data
    def asarray(self, x):
        """x (a NumPy array or an array of this library) as an array of this library."""
        if isinstance(x, np.ndarray):
            return self.xp.asarray(x)
        return x

    def to_numpy(self, x):
        return to_numpy(x)

    def read_initial(self, W0, dtype):
        """(B, w, uniform, scalar type) of the flow driver on this backend: ``W0`` an array
        of this library (read by :func:`read_matrix`, widths 1/n) or any host input read
        by :func:`graphonflow.flow.problem.read_initial` and moved here."""
        from ..flow.problem import read_initial as host_read

        xp = self.xp
        if dtype is not None and np.dtype(dtype) not in (np.float32, np.float64):
            raise ValueError(f"dtype must be float32 or float64, got {np.dtype(dtype)}")
        if _is_array_of(W0, xp):
            B = read_matrix(W0, "W0", dtype)  # a new array: the flow writes its state
            w = uniform_widths(B)
            st = np.float32 if B.dtype == xp.float32 else np.float64
            return B, w, True, st
        if not isinstance(W0, np.ndarray) and hasattr(type(W0), "__array_namespace__"):
            W0 = to_numpy(W0)
        Bh, wh, uniform, st = host_read(W0, dtype)
        return xp.asarray(Bh), xp.asarray(wh), uniform, st

    # ------------------------------------------------------------------ helpers
    def _f64(self, X):
        xp = self.xp
        return X if X.dtype == xp.float64 else xp.astype(X, xp.float64)

    def _store(self, out, X):
        xp = self.xp
        out[...] = X if X.dtype == out.dtype else xp.astype(X, out.dtype)
        return out

    def _wsum(self, Q, w):
        """sum_ij w_i w_j Q_ij (float64)."""
        xp = self.xp
        return float(xp.vecdot(w, xp.matmul(self._f64(Q), w)))

    def _grad64(self, B64, G, gscale, alpha, beta):
        """DF = gscale G + beta + alpha logit(B), in float64 (G None: no non-local term)."""
        xp = self.xp
        if G is None:
            D = xp.full(B64.shape, beta, dtype=xp.float64, device=_device(B64))
        else:
            D = gscale * self._f64(G) + beta
        if alpha != 0.0:
            with np.errstate(divide="ignore", invalid="ignore"):
                D = D + alpha * xp.log(B64 / (1.0 - B64))
        return D

    @staticmethod
    def _held(B64, V, lo, hi):
        return ((B64 <= lo) & (V < 0.0)) | ((B64 >= hi) & (V > 0.0))

    def _pg2(self, B64, D, w, lo, hi):
        V = -D
        return self._wsum(self.xp.where(self._held(B64, V, lo, hi), 0.0, V * V), w)

    def _out(self, B, out):
        return self.xp.empty_like(B) if out is None else out

    # ---- symmetric products (used by graphonflow.backend.xp_hom)
    def mirror(self, X):
        """In place: X's upper triangle (diagonal included) copied onto its lower one."""
        X[...] = self.xp.where(self._mask(X), X, X.mT)
        return X

    def _mask(self, X):
        m = X.shape[0]
        key = (m, str(_device(X)))
        M = self._masks.get(key)
        if M is None:
            if len(self._masks) > 8:
                self._masks.clear()
            M = self._masks[key] = _upper_mask(self.xp, m, _device(X))
        return M

    def gemm(self, alpha, X, Y):
        """alpha * X @ Y."""
        out = self.xp.matmul(X, Y)
        if alpha != 1.0:
            out *= alpha
        return out

    def sym_square(self, alpha, X, symmetric=False):
        """alpha * X @ X^T, exactly symmetric (X @ X when the caller says X is symmetric)."""
        out = self.xp.matmul(X, X if symmetric else X.mT)
        self.mirror(out)
        if alpha != 1.0:
            out *= alpha
        return out

    def vdot(self, X, Y) -> float:
        """sum_ij X_ij Y_ij."""
        xp = self.xp
        return float(xp.sum(xp.vecdot(X, Y, axis=-1)))

    def fmin(self, X) -> float:
        return float(self.xp.min(X))

    def fmax(self, X) -> float:
        return float(self.xp.max(X))

    def fsum(self, X) -> float:
        return float(self.xp.sum(X))

    def copy(self, X):
        return self.xp.asarray(X, copy=True)

    # ------------------------------------------------------------------ fused passes
    def euler_pass(self, B, G, w, dt, *, gscale, alpha, beta, lo, hi, out, symmetric_G=False):
        xp = self.xp
        out = self._out(B, out)
        B64 = self._f64(B)
        D = self._grad64(B64, G, gscale, alpha, beta)
        pg2 = self._pg2(B64, D, w, lo, hi)
        self._store(out, xp.clip(B64 - dt * D, lo, hi))
        return out, pg2

    def _halley(self, x, f, ta):
        xp = self.xp
        d = x * (1.0 - x)
        fp = d + ta
        den = 2.0 * fp * fp - f * d * (1.0 - 2.0 * x)
        pos = den > 0.0
        return xp.where(pos, 2.0 * f * fp / xp.where(pos, den, 1.0), f / fp)

    def _sigmoid(self, s):
        xp = self.xp
        return 1.0 / (1.0 + xp.exp(xp.clip(-s, -EXP_MAX, EXP_MAX)))

    def _prox_safeguarded(self, B64, Z, ta):
        """The safeguarded Halley iteration of :func:`graphonflow._kernels.prox_scalar` on a
        1-D set of entries (``_prox_safeguarded_ref`` in xp operations; no box clip)."""
        xp = self.xp
        s_lo = (Z - 1.0) / ta
        s_hi = Z / ta
        with np.errstate(divide="ignore", invalid="ignore"):
            s = xp.log(B64 / (1.0 - B64))
        bad = ~((s > s_lo) & (s < s_hi))
        s = xp.where(bad, 0.5 * (s_lo + s_hi), s)
        by_step = xp.zeros(Z.shape, dtype=xp.bool, device=_device(Z))
        by_flat = xp.zeros(Z.shape, dtype=xp.bool, device=_device(Z))
        for it in range(200):
            with np.errstate(over="ignore"):
                x = 1.0 / (1.0 + xp.exp(-s))
            f = x + ta * s - Z
            active = ~(by_step | by_flat)
            s_hi = xp.where(active & (f > 0.0), s, s_hi)
            s_lo = xp.where(active & (f < 0.0), s, s_lo)
            flat = active & (f == 0.0)
            if it >= _kernels.ESCAPE_AFTER:  # stuck at the rounding of f's terms
                flat = flat | (active & (xp.abs(f) <= 4e-16 * (xp.abs(Z) + xp.abs(ta * s) + x)))
            step = self._halley(x, f, ta)
            sn = s - step
            done = active & ~flat & (xp.abs(step) <= _kernels.STEP_TOL) & (sn >= s_lo) & (sn <= s_hi)
            by_flat = by_flat | flat
            by_step = by_step | done
            move = active & ~flat & ~done
            out_br = ~((sn > s_lo) & (sn < s_hi))
            s = xp.where(move, xp.where(out_br, 0.5 * (s_lo + s_hi), sn), s)
            if not bool(xp.any(move)):
                break
        with np.errstate(over="ignore"):
            x = 1.0 / (1.0 + xp.exp(-s))
        step = xp.where(by_flat, 0.0, self._halley(x, x + ta * s - Z, ta))
        d = x * (1.0 - x)
        return x - d * step + 0.5 * d * (1.0 - 2.0 * x) * step * step

    def prox_pass(self, B, G, w, dt, *, gscale, alpha, beta, lo, hi, out):
        xp = self.xp
        if alpha < 0:
            raise ValueError("the proximal step needs a convex local part (alpha >= 0)")
        if not dt > 0.0 or (alpha > 0.0 and not dt * alpha > 0.0):
            raise ValueError(f"the proximal step needs dt > 0 and dt * alpha > 0 (dt = {dt!r}, alpha = {alpha!r})")
        out = self._out(B, out)
        B64 = self._f64(B)
        D = self._grad64(B64, G, gscale, alpha, beta)
        pg2 = self._pg2(B64, D, w, lo, hi)
        Z = B64 if G is None else B64 - dt * (gscale * self._f64(G))
        Z = Z - dt * beta
        if alpha == 0.0:
            X = Z
        else:
            ta = dt * alpha
            ok = (B64 > _kernels.FAST_MIN) & (B64 < 1.0)
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                s = xp.log(xp.where(ok, B64 / (1.0 - B64), 1.0))
                x = B64  # sigmoid(s) at the start: the first Halley step needs no exponential
                step = self._halley(x, x + ta * s - Z, ta)
                for _ in range(2):
                    s = s - step
                    x = self._sigmoid(s)
                    step = self._halley(x, x + ta * s - Z, ta)
                sn = s - step
                ok = ok & (xp.abs(step) <= _kernels.STEP_TOL) & (sn >= (Z - 1.0) * (1.0 / ta)) \
                    & (sn <= Z * (1.0 / ta)) & (xp.abs(s) < EXP_MAX)
                d = x * (1.0 - x)
                X = x - d * step + 0.5 * d * (1.0 - 2.0 * x) * step * step
            if not bool(xp.all(ok)):
                bad = ~ok
                X[bad] = self._prox_safeguarded(B64[bad], Z[bad], ta)
        self._store(out, xp.clip(X, lo, hi))
        return out, pg2

    def speed2(self, B, G, w, *, gscale, alpha, beta, lo, hi):
        B64 = self._f64(B)
        return self._pg2(B64, self._grad64(B64, G, gscale, alpha, beta), w, lo, hi)

    def constrained_speed2(self, B, G, w, *, gscale, alpha, beta, lo, hi):
        xp = self.xp
        B64 = self._f64(B)
        D = self._grad64(B64, G, gscale, alpha, beta)
        dmin, dmax = float(xp.min(D)), float(xp.max(D))

        def stats(lam):
            V = lam - D
            fixed = ((B64 <= lo) & (V <= 0.0)) | ((B64 >= hi) & (V >= 0.0))
            V = xp.where(fixed, 0.0, V)
            free = xp.astype(~fixed, xp.float64)
            return (self._wsum(V, w), self._wsum(V * V, w), self._wsum(free, w), self._wsum(xp.abs(V), w),
                    dmin, dmax)

        return float(_kernels._constrained_root(stats)[0])

    def local_value(self, B, w, alpha, beta, gamma):
        xp = self.xp
        B64 = self._f64(B)
        phi = beta * B64 + gamma
        if alpha != 0.0:
            pos, below = B64 > 0.0, B64 < 1.0
            h = xp.where(pos, B64 * xp.log(xp.where(pos, B64, 1.0)), 0.0)
            h = h + xp.where(below, (1.0 - B64) * xp.log(xp.where(below, 1.0 - B64, 1.0)), 0.0)
            phi = phi + alpha * h
        return self._wsum(phi, w)

    def shifted_mean(self, B, w, lam, lo, hi):
        return self._wsum(self.xp.clip(self._f64(B) + lam, lo, hi), w)

    def apply_shift(self, B, lam, lo, hi):
        return self._store(B, self.xp.clip(self._f64(B) + lam, lo, hi))

    def noisy_euler_pass(self, B, G, w, dt, sigma, *, key, step, gscale, alpha, beta, lo, hi, reflect, out):
        xp = self.xp
        out = self._out(B, out)
        B64 = self._f64(B)
        D = self._grad64(B64, G, gscale, alpha, beta)
        pg2 = self._pg2(B64, D, w, lo, hi)
        X = B64 - dt * D
        if sigma != 0.0:
            X = X + sigma * philox_normals_xp(xp, B.shape[0], step, key, _device(B))
        if reflect:
            X = xp.where(X > hi, 2.0 * hi - X, X)
            X = xp.where(X < lo, 2.0 * lo - X, X)
        self._store(out, xp.clip(X, lo, hi))
        return out, pg2

    # ------------------------------------------------------------------ reductions
    def error_norm(self, err, y0, y1, rtol, atol, norm):
        xp = self.xp
        scale = xp.maximum(xp.abs(y0), xp.abs(y1))
        scale = scale * rtol + atol
        ratio = xp.abs(err) / scale
        if norm == "max":
            return float(xp.max(ratio))
        return float(xp.sqrt(xp.mean(ratio * ratio)))

    def all_finite(self, X):
        xp = self.xp
        return bool(xp.all(xp.isfinite(X)))

    # ------------------------------------------------------------------ stage algebra
    def empty_like(self, X):
        return self.xp.empty_like(X)

    def lincomb(self, out, base, terms):
        if out is not base:
            out[...] = base
        for c, X in terms:
            if c != 0.0:
                out += c * X
        return out

    def scaled_sym(self, out, G, scale):
        # G is exactly symmetric on this path (module docstring): scale it as it is
        out[...] = G * scale
        return out

    def local_velocity(self, out, B, alpha, beta):
        if alpha != 0.0:
            t = self.xp.log(B / (1.0 - B))
            t *= -alpha
            t -= beta
            out[...] = t
        else:
            out[...] = -beta
        return out

    def clip(self, X, lo, hi, out):
        out[...] = self.xp.clip(X, lo, hi)
        return out

    def held_mask(self, V, B, lo, hi):
        M = ((B <= lo) & (V < 0.0)) | ((B >= hi) & (V > 0.0))
        return M if bool(self.xp.any(M)) else None

    def zero_where(self, X, mask):
        if mask is not None:
            X[mask] = 0.0
        return X

    def clipped_error(self, out, err, lo, hi, scratch):
        xp = self.xp
        scratch[...] = xp.clip(out - err, lo, hi)
        out[...] = xp.clip(out, lo, hi)
        err[...] = out - scratch
        return out, err

    def project_velocity(self, V, B, lo, hi):
        V[(B <= lo) & (V < 0.0)] = 0.0
        V[(B >= hi) & (V > 0.0)] = 0.0
        return V

    def fill(self, X, value):
        X[...] = value
        return X

    def add(self, out, X, Y):
        out[...] = X + Y
        return out

    def subtract(self, out, X, Y):
        out[...] = X - Y
        return out

    def scale(self, out, X, c):
        out[...] = X * c
        return out

    def full_grad(self, B, G, gscale, alpha, beta):
        xp = self.xp
        D = xp.full(B.shape, beta, dtype=xp.float64, device=_device(B))
        if G is not None:
            D += gscale * G
        if alpha != 0.0:
            D += alpha * xp.log(B / (1.0 - B))
        return D

    def heun_combine(self, out, B, D, h, lo, hi):
        Bnew = self.xp.clip(B - (0.5 * h) * D, lo, hi)
        if not self.all_finite(Bnew):
            return False
        self._store(out, Bnew)
        return True

    # ------------------------------------------------------------------ functionals
    def local_grad(self, B, alpha, beta):
        """``alpha logit(B) + beta`` in B's dtype (the gradient of one entry-wise term)."""
        xp = self.xp
        G = xp.full(B.shape, beta, dtype=B.dtype, device=_device(B))
        if alpha != 0.0:
            G += alpha * xp.log(B / (1 - B))
        return G

    def combine_grad(self, B, alpha, beta, terms, cast=True):
        """``alpha logit(B) + beta + sum_k c_k s_k g_k`` in float64 over ``terms`` =
        ``[(c_k, (g_k, s_k)), ...]``, then in B's dtype when ``cast``."""
        xp = self.xp
        G = xp.full(B.shape, beta, dtype=xp.float64, device=_device(B))
        if alpha != 0.0:
            G += alpha * xp.log(B / (1 - B))
        for c, (g, s) in terms:
            G += (c * s) * g
        return xp.astype(G, B.dtype) if cast and G.dtype != B.dtype else G

    def checked_grad(self, G, B, who, allow_nonfinite):
        """A user's gradient on this backend: real, of B's shape, symmetric up to
        ``max(1e-10, 128 eps)`` relative (the rule of :class:`~graphonflow.Custom`), then
        mirrored from its upper triangle and cast to B's dtype."""
        xp = self.xp
        if not _is_array_of(G, xp):
            raise ValueError(f"{who} must return an array of the same library as W ({self.xp.__name__}), "
                             f"got {type(G).__name__}")
        if not xp.isdtype(G.dtype, ("real floating", "integral", "bool")):
            raise ValueError(f"{who} must return a real array, got dtype {G.dtype}")
        m = B.shape[0]
        if tuple(G.shape) != (m, m):
            raise ValueError(f"{who} returned shape {tuple(G.shape)}, expected {(m, m)}")
        Gf = G if xp.isdtype(G.dtype, "real floating") else xp.astype(G, xp.float64)
        fin = xp.isfinite(Gf) & xp.isfinite(Gf.mT)
        if not bool(xp.all(fin)) and not allow_nonfinite:
            raise ValueError(f"{who} returned NaN or infinite values")
        zero = xp.zeros_like(Gf)
        err = float(xp.max(xp.where(fin, xp.abs(Gf - Gf.mT), zero)))
        scale = float(xp.max(xp.where(fin, xp.abs(Gf), zero)))
        eps = np.finfo(np.float32 if Gf.dtype == xp.float32 else np.float64)
        rtol = max(1e-10, 128 * float(eps.eps))
        if err > max(rtol * scale, float(eps.tiny)):
            raise ValueError(
                f"{who} is not symmetric: max |G - G^T| = {err:.3g} with max |G| = {scale:.3g} "
                "(the flow reads only the upper triangle; return e.g. (G + G.T) / 2)"
            )
        S = _symmetrized(xp, Gf)
        return S if S.dtype == B.dtype else xp.astype(S, B.dtype)

    def user_grad(self, D, B):
        """A stochastic gradient returned by a user's ``grad(A, rng)`` (noisy flows): an array of
        this library of B's shape, mirrored from its upper triangle and cast to B's dtype."""
        xp = self.xp
        if not _is_array_of(D, xp):
            raise ValueError(f"grad(A, rng) must return an array of the same library as W0 ({xp.__name__}), "
                             f"got {type(D).__name__}")
        if tuple(D.shape) != tuple(B.shape):
            raise ValueError(f"grad(A, rng) must return an array of shape {tuple(B.shape)}, got {tuple(D.shape)}")
        S = _symmetrized(xp, D)
        return S if S.dtype == B.dtype else xp.astype(S, B.dtype)


def _is_array_of(x, xp) -> bool:
    if isinstance(x, np.ndarray) or not hasattr(x, "shape"):
        return False
    try:
        return namespace(x) is xp
    except TypeError:
        return False

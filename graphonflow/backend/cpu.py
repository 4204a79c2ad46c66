"""NumPy + Numba: the CPU implementation of :class:`~graphonflow.backend.ArrayBackend`.

The fused passes are the Numba kernels of :mod:`graphonflow._kernels` (each with a
NumPy twin tested against it); the stage algebra of the Runge--Kutta integrators is
plain NumPy with ``out=`` arguments, so that it allocates nothing per step.
"""

from __future__ import annotations

import numpy as np

from .. import _kernels
from .._linalg import _mirror_lower_from_upper
from .base import ArrayBackend

__all__ = ["CPUBackend", "CPU", "blas_threads", "SERIAL_BLAS_MADDS", "THIN_PRODUCT_DIM"]

# ------------------------------------------------------------------ BLAS threads
#: a product with fewer multiply-adds than this (after the thinness factor) runs on one thread
SERIAL_BLAS_MADDS = 2**23
#: products whose smallest dimension is below this count as thin: threads pay off later
THIN_PRODUCT_DIM = 128


def blas_threads(m, n, k):
    """The package's one BLAS thread policy: 1 (serial) or None (the library's default).

    A product (m, k) @ (k, n) costs W = m n k multiply-adds.  It runs on one BLAS thread when
    ``W * min(1, d / 128) < 2**23``, d = min(m, n, k), and on all of them otherwise.  Square
    products (the flow's n x n gradients) therefore go parallel from n ~ 200; thin ones (the
    cut-norm SDP's N x N times N x p, p <= 24) only from N ~ 1370 blocks,
    because their per-thread work is small next to the threads' synchronisation.

    Measured on this project's 2-core machine (numpy's and scipy's OpenBLAS 0.3): an Euler
    step of t(C5) + E/8 at n = 128 took 0.46 ms with 1 or 2 threads, at n = 256 2.8 ms on one
    and 2.1 ms on two, at n = 512 23 ms against 15 ms; the SDP cut norm of a random k x k
    matrix took 0.17 s on one thread and 0.26 s on two at k = 600, 0.23 s and 0.33 s at
    k = 800, but 1.73 s and 1.30 s at k = 1600.

    >>> blas_threads(128, 128, 128), blas_threads(512, 512, 512), blas_threads(1202, 24, 1202)
    (1, None, 1)
    """
    m, n, k = int(m), int(n), int(k)
    d = min(m, n, k)
    work = float(m) * n * k * min(1.0, d / THIN_PRODUCT_DIM)
    return 1 if work < SERIAL_BLAS_MADDS else None


class CPUBackend(ArrayBackend):
    name = "cpu"

    def thread_policy(self, m, n, k):
        """Products of shape (m, k) @ (k, n) under :func:`blas_threads`: a ``threadpoolctl``
        limit of one thread on every loaded BLAS (numpy's and scipy's) when the policy says
        serial, nothing otherwise.  Numba's threads are not touched."""
        import contextlib

        if blas_threads(m, n, k) == 1:
            from threadpoolctl import threadpool_limits

            return threadpool_limits(limits=1, user_api="blas")
        return contextlib.nullcontext()

    def euler_pass(self, B, G, w, dt, *, gscale, alpha, beta, lo, hi, out, symmetric_G=False):
        return _kernels.euler_step(B, G, w, dt, gscale=gscale, alpha=alpha, beta=beta, lo=lo, hi=hi, out=out,
                                   symmetric_G=symmetric_G)

    def prox_pass(self, B, G, w, dt, *, gscale, alpha, beta, lo, hi, out):
        return _kernels.prox_step(B, G, w, dt, gscale=gscale, alpha=alpha, beta=beta, lo=lo, hi=hi, out=out)

    def speed2(self, B, G, w, *, gscale, alpha, beta, lo, hi):
        return _kernels.projected_grad_norm2(B, G, w, gscale=gscale, alpha=alpha, beta=beta, lo=lo, hi=hi)

    def constrained_speed2(self, B, G, w, *, gscale, alpha, beta, lo, hi):
        return _kernels.constrained_grad_norm2(B, G, w, gscale=gscale, alpha=alpha, beta=beta, lo=lo, hi=hi)

    def local_value(self, B, w, alpha, beta, gamma):
        return _kernels.local_value(B, w, alpha, beta, gamma)

    def shifted_mean(self, B, w, lam, lo, hi):
        return _kernels.shifted_mean(B, w, lam, lo, hi)

    def apply_shift(self, B, lam, lo, hi):
        return _kernels.apply_shift(B, lam, lo, hi)

    def error_norm(self, err, y0, y1, rtol, atol, norm):
        scale = np.maximum(np.abs(y0), np.abs(y1))
        scale *= rtol
        scale += atol
        ratio = np.abs(err)
        ratio /= scale
        if norm == "max":
            return float(ratio.max())
        return float(np.sqrt(np.mean(np.square(ratio, out=ratio))))

    def all_finite(self, X):
        return bool(np.isfinite(X).all())

    def empty_like(self, X):
        return np.empty_like(X)

    def lincomb(self, out, base, terms):
        if out is not base:
            np.copyto(out, base)
        for c, X in terms:
            if c != 0.0:
                out += c * X
        return out

    def scaled_sym(self, out, G, scale):
        # the kernels read G's upper triangle only; mirror it so that a stage sees what they see
        np.multiply(G, scale, out=out)
        _mirror_lower_from_upper(out)
        return out

    def local_velocity(self, out, B, alpha, beta):
        if alpha != 0.0:
            np.divide(B, 1.0 - B, out=out)
            np.log(out, out=out)
            out *= -alpha
            out -= beta
        else:
            out.fill(-beta)
        return out

    def clip(self, X, lo, hi, out):
        return np.clip(X, lo, hi, out=out)

    def held_mask(self, V, B, lo, hi):
        M = ((B <= lo) & (V < 0)) | ((B >= hi) & (V > 0))
        return M if M.any() else None

    def zero_where(self, X, mask):
        if mask is not None:
            X[mask] = 0.0
        return X

    def clipped_error(self, out, err, lo, hi, scratch):
        np.subtract(out, err, out=scratch)
        np.clip(scratch, lo, hi, out=scratch)
        np.clip(out, lo, hi, out=out)
        np.subtract(out, scratch, out=err)
        return out, err

    def project_velocity(self, V, B, lo, hi):
        V[(B <= lo) & (V < 0)] = 0.0
        V[(B >= hi) & (V > 0)] = 0.0
        return V

    def fill(self, X, value):
        X.fill(value)
        return X

    def add(self, out, X, Y):
        return np.add(X, Y, out=out)

    def subtract(self, out, X, Y):
        return np.subtract(X, Y, out=out)

    def scale(self, out, X, c):
        return np.multiply(X, c, out=out)

    def full_grad(self, B, G, gscale, alpha, beta):
        D = np.full(B.shape, beta)
        if G is not None:
            D += gscale * _kernels._sym_upper(G)
        if alpha != 0.0:
            D += alpha * np.log(B / (1.0 - B))
        return D

    def heun_combine(self, out, B, D, h, lo, hi):
        Bnew = np.clip(B - (0.5 * h) * D, lo, hi)
        if not np.all(np.isfinite(Bnew)):
            return False
        out[...] = Bnew
        return True

    def noisy_euler_pass(self, B, G, w, dt, sigma, *, key, step, gscale, alpha, beta, lo, hi, reflect, out):
        from ..noisy._kernels import noisy_euler_step

        return noisy_euler_step(B, G, w, dt, sigma, key=key, step=step, gscale=gscale, alpha=alpha, beta=beta,
                                lo=lo, hi=hi, reflect=reflect, out=out)


#: the shared instance
CPU = CPUBackend()

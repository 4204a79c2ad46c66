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

__all__ = ["CPUBackend", "CPU"]


class CPUBackend(ArrayBackend):
    name = "cpu"

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


#: the shared instance
CPU = CPUBackend()

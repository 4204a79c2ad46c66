"""The interface of an array backend (see :mod:`graphonflow.backend`)."""

from __future__ import annotations

import abc

__all__ = ["ArrayBackend"]


class ArrayBackend(abc.ABC):
    r"""The entry-wise passes a flow step is made of.

    Conventions shared by every method (those of :mod:`graphonflow._kernels`): B is a
    symmetric (m, m) array of block values, w the block widths, the non-local gradient is
    ``gscale * G`` with only G's upper triangle read, the local part of the functional is
    :math:`\phi(x) = \alpha h(x) + \beta x + \gamma` with the negative entropy h, and the
    box is [lo, hi].  Results are exactly symmetric.
    """

    name = "abstract"

    def thread_policy(self, m, n, k):
        """A context manager under which products of shape (m, k) @ (k, n) run with this
        backend's thread policy (see :func:`graphonflow.backend.cpu.blas_threads`).  The
        default does nothing."""
        import contextlib

        return contextlib.nullcontext()

    # ---- fused step passes (each returns (out, pg2 at the input B))
    @abc.abstractmethod
    def euler_pass(self, B, G, w, dt, *, gscale, alpha, beta, lo, hi, out, symmetric_G=False):
        """``out = clip(B - dt (gscale G + alpha logit B + beta), lo, hi)``."""

    @abc.abstractmethod
    def prox_pass(self, B, G, w, dt, *, gscale, alpha, beta, lo, hi, out):
        """``out = prox_{dt phi + box}(B - dt gscale G)`` entry-wise (alpha >= 0)."""

    # ---- reductions
    @abc.abstractmethod
    def speed2(self, B, G, w, *, gscale, alpha, beta, lo, hi):
        """``sum_ij w_i w_j (P_B DF)_ij^2``: the squared speed of the flow."""

    @abc.abstractmethod
    def constrained_speed2(self, B, G, w, *, gscale, alpha, beta, lo, hi):
        """The squared speed of the flow at a fixed edge density."""

    @abc.abstractmethod
    def local_value(self, B, w, alpha, beta, gamma):
        """``sum_ij w_i w_j phi(B_ij)``."""

    @abc.abstractmethod
    def shifted_mean(self, B, w, lam, lo, hi):
        """``sum_ij w_i w_j clip(B_ij + lam, lo, hi)``."""

    @abc.abstractmethod
    def apply_shift(self, B, lam, lo, hi):
        """In place ``B <- clip(B + lam, lo, hi)``."""

    @abc.abstractmethod
    def error_norm(self, err, y0, y1, rtol, atol, norm):
        r"""The scaled size of a local error estimate,
        :math:`\max_{ij} |e_{ij}| / (atol + rtol \max(|y0_{ij}|, |y1_{ij}|))` for
        ``norm="max"``, or the same ratio's root mean square for ``norm="rms"``."""

    @abc.abstractmethod
    def all_finite(self, X) -> bool:
        """True when every entry of X is finite."""

    # ---- stage algebra
    @abc.abstractmethod
    def empty_like(self, X):
        """An uninitialised array like X."""

    @abc.abstractmethod
    def lincomb(self, out, base, terms):
        """``out = base + sum_k c_k X_k`` for ``terms = [(c_k, X_k), ...]`` (zero c_k skipped)."""

    @abc.abstractmethod
    def scaled_sym(self, out, G, scale):
        """``out = scale * sym(G)`` where sym mirrors G's upper triangle (the kernels' reading)."""

    @abc.abstractmethod
    def local_velocity(self, out, B, alpha, beta):
        """``out = -(alpha logit B + beta)``: the velocity of the local part."""

    @abc.abstractmethod
    def clip(self, X, lo, hi, out):
        """``out = clip(X, lo, hi)``."""

    @abc.abstractmethod
    def project_velocity(self, V, B, lo, hi):
        """In place: zero the entries of V that point out of the box at B's faces."""

    @abc.abstractmethod
    def held_mask(self, V, B, lo, hi):
        """The entries that sit on a face of the box with the velocity V pointing out (or None
        when there are none): the flow holds them where they are."""

    @abc.abstractmethod
    def zero_where(self, X, mask):
        """In place: X[mask] = 0 (nothing when mask is None)."""

    @abc.abstractmethod
    def clipped_error(self, out, err, lo, hi, scratch):
        """Given the unclipped new state ``out`` and the raw error estimate ``err`` (so the
        embedded solution is out - err), clip ``out`` onto the box in place and overwrite
        ``err`` with clip(out) - clip(out - err): the error of what is kept."""

    # ---- small stage operations (the integrators' few array statements).  Not abstract, so
    # that a backend written before they existed keeps working until it needs them.
    def fill(self, X, value):
        """In place: every entry of X set to ``value``."""
        raise NotImplementedError(f"the {self.name} backend has no fill")

    def add(self, out, X, Y):
        """``out = X + Y``."""
        raise NotImplementedError(f"the {self.name} backend has no add")

    def subtract(self, out, X, Y):
        """``out = X - Y``."""
        raise NotImplementedError(f"the {self.name} backend has no subtract")

    def scale(self, out, X, c):
        """``out = c X``."""
        raise NotImplementedError(f"the {self.name} backend has no scale")

    def full_grad(self, B, G, gscale, alpha, beta):
        """The full gradient ``gscale sym(G) + alpha logit B + beta`` as a new float64 array
        (the ``"heun"`` integrator)."""
        raise NotImplementedError(f"the {self.name} backend has no full_grad")

    def heun_combine(self, out, B, D, h, lo, hi):
        """``out = clip(B - h/2 D, lo, hi)`` unless that has a non-finite entry; returns
        whether ``out`` was written."""
        raise NotImplementedError(f"the {self.name} backend has no heun_combine")

    def noisy_euler_pass(self, B, G, w, dt, sigma, *, key, step, gscale, alpha, beta, lo, hi, reflect, out):
        """One noisy Euler step ``clip(B - dt DF + sigma Z)`` with the counter-based normals
        Z of :mod:`graphonflow.noisy._kernels`; returns (out, pg2 at the input B)."""
        raise NotImplementedError(f"the {self.name} backend has no noisy pass")

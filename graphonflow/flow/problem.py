r"""A functional on a state: what the integrators may ask of a flow problem.

:class:`FlowProblem` holds the split F = H + L of the functional
(:meth:`~graphonflow.functionals.Functional.split`), the block widths, the box, the
working dtype and the array backend.  It answers the questions an integrator asks:

* ``evaluate(B)``: the explicit (non-local) gradient DH(B) = scale * G, counted in
  ``n_evals`` -- the only expensive operation (matrix products);
* ``value(B)``: F(B);
* ``speed2(B, G, gs)``: the squared speed ||P DF||^2 of the flow at B;
* the local part L through ``local`` and the clamped box ``lo_eff``/``hi_eff``: with an
  entropy term entries are kept in [tiny, 1 - eps] of the dtype, where log(B/(1-B)) is
  finite.

It knows nothing about time stepping.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.optimize import brentq

from .._linalg import _mirror_lower_from_upper
from ..backend import get_backend
from ..functionals import EvaluationPoint
from ..coerce import as_target

__all__ = ["FlowProblem", "Evaluation", "read_initial"]


class Evaluation:
    """The explicit gradient at one state: DH(B) = gscale * G (G None when there is no H),
    and F(B) when it was asked for."""

    __slots__ = ("G", "gscale", "value")

    def __init__(self, G, gscale, value=None):
        self.G, self.gscale, self.value = G, gscale, value


class FlowProblem:
    """The functional split for the integrators: local coefficients + non-local terms."""

    def __init__(self, F, w, uniform, lo, hi, dtype, backend=None):
        self.F = F
        self.split = F.split()
        self.local = self.split.local
        self.alpha, self.beta, self.gamma = self.local.coefficients()
        self.density = None  # set by the driver when the edge density is held fixed
        self.w = w
        self.uniform = uniform
        self.lo, self.hi = lo, hi
        self.dtype = dtype
        self.backend = backend
        # clamp bounds: the entropy gradient must stay finite in this dtype
        if self.alpha != 0.0:
            self.lo_eff = max(lo, float(np.finfo(dtype).tiny))
            self.hi_eff = min(hi, float(np.nextafter(dtype(1), dtype(0))))
        else:
            self.lo_eff, self.hi_eff = lo, hi
        self.n_evals = 0
        #: library densities have exactly symmetric gradients (the Euler kernel then streams rows)
        self.symmetric_G = self.split.symmetric_grad
        self.several = self.split.n_explicit > 1

    def kernel_args(self, gscale):
        return dict(gscale=gscale, alpha=self.alpha, beta=self.beta, lo=self.lo_eff, hi=self.hi_eff)

    # ---- evaluations
    def evaluate(self, B, buf=None, need_value=False) -> Evaluation:
        """The explicit gradient at B (one count in ``n_evals``), and F(B) if asked."""
        pt = EvaluationPoint(B, self.w, self.uniform)
        self.n_evals += 1
        G, gs = self.split.explicit_grad(pt, buf)
        val = self.split.value(pt) if need_value else None
        return Evaluation(G, gs, val)

    def value(self, B) -> float:
        """F(B) from a fresh evaluation point (no gradient is counted)."""
        return self.split.value(EvaluationPoint(B, self.w, self.uniform))

    def speed2(self, B, ev: Evaluation) -> float:
        """Squared norm of the velocity: the gradient projected onto the tangent cone of the
        box, or of {mean = density} ∩ box when the density is held fixed."""
        be = self.backend
        norm2 = be.speed2 if self.density is None else be.constrained_speed2
        return norm2(B, ev.G, self.w, **self.kernel_args(ev.gscale))

    def full_grad(self, B, ev: Evaluation):
        """The full gradient DF = DH + DL at B as a symmetric float64 array (Heun only)."""
        return self.backend.full_grad(B, ev.G, ev.gscale, self.alpha, self.beta)

    def velocity(self, B, ev: Evaluation, out):
        """out = -P_B[DF(B)], the velocity of the flow (projected at the box faces)."""
        be = self.backend
        be.local_velocity(out, B, self.alpha, self.beta)
        if ev.G is not None:
            tmp = be.empty_like(B)
            be.scaled_sym(tmp, ev.G, -ev.gscale)
            out += tmp
        return be.project_velocity(out, B, self.lo_eff, self.hi_eff)

    def project_density(self, B):
        """In place: B <- clip(B + lam, lo, hi) with lam such that sum w_i w_j B_ij = density."""
        be = self.backend
        c = self.density
        lo, hi, w = self.lo_eff, self.hi_eff, self.w
        f = lambda lam: be.shifted_mean(B, w, lam, lo, hi) - c  # noqa: E731
        a = lo - _fmax(B, be)
        b = hi - _fmin(B, be)
        fa, fb = f(a), f(b)
        if fa > 0 or fb < 0:
            raise ValueError(f"density {c} is not attainable in the box [{lo}, {hi}]")
        if fa == 0:
            lam = a
        elif fb == 0:
            lam = b
        else:
            lam = brentq(f, a, b, xtol=1e-15, rtol=4 * np.finfo(float).eps, maxiter=200)
        be.apply_shift(B, lam, lo, hi)




def _fmin(B, be):
    return float(B.min()) if isinstance(B, np.ndarray) else be.fmin(B)


def _fmax(B, be):
    return float(B.max()) if isinstance(B, np.ndarray) else be.fmax(B)


def read_initial(W0, dtype, backend=None):
    """(B, w, uniform, scalar type): one C-contiguous copy of the block values, exactly symmetric.

    ``backend`` (see :func:`graphonflow.backend.resolve_backend`; None: from W0's type) other
    than the CPU reads W0 on that backend (B and w are then arrays of its library).

    W0 is read by :func:`graphonflow.coerce.as_target`, the package's one input reader, with
    ``continuous=False``: an (n, n) array (blocks of width 1/n), a StepGraphon (its values and
    widths) or a networkx graph (weighted adjacency in node order, widths from the node
    attribute ``width``).  A continuous graphon is refused with the two discretisations named.
    """
    from ..backend import CPUBackend, is_foreign_array, resolve_backend, to_numpy

    if backend is not None or is_foreign_array(W0):
        be = resolve_backend(backend, W0)
        if not isinstance(be, CPUBackend):
            return be.read_initial(W0, dtype)
        if is_foreign_array(W0):
            W0 = to_numpy(W0)
    target = as_target(W0, name="W0", continuous=False)
    B, w, uniform = target.values, np.asarray(target.widths, np.float64), target.uniform
    if dtype is None:
        dtype = B.dtype if B.dtype in (np.float32, np.float64) else np.float64
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise ValueError(f"dtype must be float32 or float64, got {dtype}")
    B = np.array(B, dtype=dtype, order="C", copy=True)
    # exact symmetry from the start (the check allowed rounding-level defects), in place
    _mirror_lower_from_upper(B)
    return B, w, uniform, dtype.type


def make_problem(F, B, w, uniform, box, dtype, backend=None):
    """Check the box against F and W0 and build the :class:`FlowProblem` (on ``backend``, by
    default the one that owns B)."""
    lo, hi = box
    be = get_backend(B) if backend is None else backend
    prob = FlowProblem(F, w, uniform, lo, hi, dtype, backend=be)
    bmin, bmax = _fmin(B, be), _fmax(B, be)
    if prob.alpha != 0.0:
        if lo < 0.0 or hi > 1.0:
            raise ValueError(
                f"F contains entropy / rate-function terms, which are defined on [0, 1]; "
                f"the box ({lo}, {hi}) must lie inside [0, 1]"
            )
        if bmin <= 0.0 or bmax >= 1.0:
            raise ValueError(
                "F contains entropy / rate-function terms whose gradient is infinite at 0 and 1; "
                "start strictly inside (0, 1), e.g. np.clip(W0, 1e-6, 1 - 1e-6)"
            )
    if bmin < lo or bmax > hi:
        raise ValueError(f"W0 has entries in [{bmin:.4g}, {bmax:.4g}], outside the box [{lo}, {hi}]")
    if not math.isfinite(float(B.sum()) if isinstance(B, np.ndarray) else be.fsum(B)):
        raise ValueError("W0 has NaN or infinite entries")
    return prob

r"""Gradient flows of graph functionals in graphon time: one driver, several integrators.

The flow of a functional F on kernels with values in a box [lo, hi] is

.. math::

    \partial_t W_t(x, y) = -\bigl(P_{W_t}[DF(W_t)]\bigr)(x, y),

where DF is the L2 gradient (see :mod:`graphonflow.functionals`) and P_W the
projection onto the tangent cone of the box: the velocity -DF is kept where
lo < W < hi and clipped to be >= 0 where W = lo and <= 0 where W = hi.  Along the
flow the energy obeys dF(W_t)/dt = -||P DF(W_t)||_2^2 (Oh--Pal--Somani--Tripathi,
arXiv:2111.09459).

Time is **graphon time**.  An n x n matrix A is the step graphon with widths 1/n;
its flow is the Euclidean gradient flow of f_n(A) = F(W_A) run at time scale n^2
(dA/dt = -P[n^2 grad f_n(A)], the Frobenius gradient taken on the full matrix),
and it *is* the graphon flow started at W_A.  For a weighted step graphon (B, w)
the flow moves the block values, dB_ij/dt = -P[DF(B)_ij], with DF the block values
of the L2 gradient (Frobenius gradient divided by w_i w_j); splitting a block into
equal copies therefore does not change the flow.

Integrators (``integrator=``)
-----------------------------
``"euler"``  projected forward Euler: B <- clip(B - dt DF(B), lo, hi).  Order 1.
``"prox"``   forward--backward: explicit on the non-local terms H, implicit on the
             local terms G (entropy, rate function, edge density) plus the box:
             B <- prox_{dt G + box}(B - dt DH(B)), solved entry-wise by a safeguarded
             Newton-type (Halley) iteration.  Order 1; stable for entropy near 0 and 1 at any dt.
``"heun"``   projected explicit trapezoid (improved Euler).  Order 2 away from the
             box faces; for smooth, non-stiff problems.

``adaptive=True`` (with euler or prox) accepts a step only if the energy does not
rise by more than ``energy_tol`` (relative to 1 + |F|), halving dt on rejection
and growing it by ``grow`` after each acceptance (up to ``dt_max``); the
accepted step sizes are returned in ``FlowResult.dt_history``.

Each step is one fused Numba pass over the upper triangle (gradient step,
local proximal Newton, box projection, exact symmetry and the projected-gradient
norm reduced in the same pass) after the non-local gradient products.

References
----------
S. Oh, S. Pal, R. Somani, R. Tripathi, Gradient flows on graphons: existence,
convergence, continuity equations, J. Theor. Probab. 37 (2024), arXiv:2111.09459.
S. Chatterjee, P. Diaconis, Ann. Statist. 41 (2013); C. Radin, M. Yin, Ann. Appl.
Probab. 23 (2013) (ERGM fixed points used in the tests).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import networkx as nx
import numpy as np
from scipy.optimize import brentq

from . import _kernels
from ._linalg import _mirror_lower_from_upper
from ._validation import check_symmetric_matrix
from .functionals import Functional, HomDensity, _Point, as_functional
from .graphons import Graphon
from .step import StepGraphon

__all__ = ["flow", "FlowResult", "INTEGRATORS", "STATUSES"]

INTEGRATORS = ("euler", "prox", "heun")

#: status codes of :class:`FlowResult`; the first two are successes
STATUSES = ("t1", "steady", "max_steps", "nonfinite", "dt_min")


@dataclass(frozen=True)
class FlowResult:
    """What a flow run produced.

    Attributes
    ----------
    W : ndarray (m, m)
        Block values at the final time (the last finite state reached).
    widths : ndarray (m,)
        Block widths (1/n for a matrix input).
    t : float
        Final graphon time.
    times : ndarray (k,)
        Saved times (the final time is always the last one).
    states : tuple
        Saved states: copies of the block values, or whatever ``save_fn`` returned.
    energies : ndarray (k,)
        F at each saved time.
    grad_norms : ndarray (k,)
        ||P DF||_2 (weighted by w_i w_j) at each saved time: the speed of the flow.  With a
        fixed ``density`` P projects onto the tangent cone of {mean = density} ∩ box.
    n_steps, n_grad_evals, n_rejected : int
        Accepted steps, gradient evaluations, rejected adaptive trials.
    dt_history : ndarray (n_steps,)
        The step size of every accepted step.
    status : str
        One of ``"t1"`` (reached t1), ``"steady"`` (projected-gradient norm below
        ``gtol``), ``"max_steps"``, ``"nonfinite"`` (a non-finite value or gradient
        was met -- with ``adaptive``, at every trial step down to ``dt_min``; W is the
        last finite state), ``"dt_min"`` (adaptive step fell below ``dt_min`` because
        the energy would rise).
    message : str
        A sentence for humans, e.g. ``"max_steps reached at t=3.2; raise max_steps"``.
    integrator : str
    """

    W: np.ndarray
    widths: np.ndarray
    t: float
    times: np.ndarray
    states: tuple
    energies: np.ndarray
    grad_norms: np.ndarray
    n_steps: int
    n_grad_evals: int
    n_rejected: int
    dt_history: np.ndarray
    status: str
    message: str
    integrator: str = field(default="prox")

    @property
    def success(self) -> bool:
        """True when the run reached t1 or a steady state."""
        return self.status in ("t1", "steady")

    @property
    def energy(self) -> float:
        """F at the final state."""
        return float(self.energies[-1])

    def graphon(self) -> StepGraphon:
        """The final state as a StepGraphon (values, widths)."""
        return StepGraphon(self.W.astype(np.float64), self.widths)

    def __repr__(self):
        return (
            f"FlowResult(status={self.status!r}, t={self.t:.6g}, m={self.W.shape[0]}, "
            f"n_steps={self.n_steps}, energy={self.energy:.6g}, message={self.message!r})"
        )


# --------------------------------------------------------------------------- helpers
class _Problem:
    """The functional split for the integrators: local coefficients + non-local terms."""

    def __init__(self, F, w, uniform, lo, hi, dtype):
        self.F = F
        self.density = None  # set by the driver when the edge density is held fixed
        self.w = w
        self.uniform = uniform
        self.alpha, self.beta, self.gamma = F._local_coeffs()
        self.has_local = any(a.local for _, a in F.terms())
        self.lo, self.hi = lo, hi
        # clamp bounds: the entropy gradient must stay finite in this dtype
        if self.alpha != 0.0:
            self.lo_eff = max(lo, float(np.finfo(dtype).tiny))
            self.hi_eff = min(hi, float(np.nextafter(dtype(1), dtype(0))))
        else:
            self.lo_eff, self.hi_eff = lo, hi
        self.n_evals = 0

    def evaluate(self, B, buf, need_value):
        """(G, gscale, value or None) at B; the non-local gradient is gscale*G."""
        pt = _Point(B, self.w, self.uniform)
        self.n_evals += 1
        G, gs = self.F._nl_grad_into(pt, buf)
        val = None
        if need_value:
            val = self.value(pt)
        return G, gs, val

    def value(self, pt):
        v = 0.0
        if self.has_local:
            v = _kernels.local_value(pt.B, self.w, self.alpha, self.beta, self.gamma)
        for c, a in self.F._nonlocal:
            v += c * a._value(pt)
        return float(v)

    def pg2(self, B, G, gs):
        """Squared norm of the velocity: the gradient projected onto the tangent cone of the
        box, or of {mean = density} ∩ box when the density is held fixed."""
        norm2 = _kernels.projected_grad_norm2 if self.density is None else _kernels.constrained_grad_norm2
        return norm2(B, G, self.w, gscale=gs, alpha=self.alpha, beta=self.beta, lo=self.lo_eff, hi=self.hi_eff)

    def full_grad(self, B, G, gs):
        """The full gradient as a symmetric float64 array (used by Heun only)."""
        D = np.full(B.shape, self.beta)
        if G is not None:
            D += gs * _kernels._sym_upper(G)
        if self.alpha != 0.0:
            D += self.alpha * np.log(B / (1.0 - B))
        return D


_W0_TYPES = "an (n, n) array, a StepGraphon or a networkx graph"


def _read_initial(W0, dtype):
    """(B, w, uniform, scalar type): one C-contiguous copy of the block values, exactly symmetric."""
    if isinstance(W0, nx.Graph):
        # its weighted adjacency matrix (edge attribute "weight", 1 without it), widths
        # from the node attribute "width" when every node has one, else 1/n: as_step's reading
        W0 = StepGraphon.from_networkx(W0)
    if isinstance(W0, StepGraphon):
        B, w, uniform = W0.values, np.asarray(W0.widths, np.float64), W0.uniform
    elif isinstance(W0, Graphon) or callable(W0):
        raise TypeError(
            f"W0 must be {_W0_TYPES}; got a continuous graphon ({type(W0).__name__}), which the flow "
            "cannot discretise by itself: pass W.block_average(m) (its block means on m blocks) or "
            "sample(W, n).matrix (a W-random graph on n vertices)"
        )
    elif W0 is None or isinstance(W0, (str, bytes, dict, set)):
        raise TypeError(f"W0 must be {_W0_TYPES}, got {type(W0).__name__}")
    else:
        B = check_symmetric_matrix(W0, "W0")  # one pass, no n x n temporaries for large n
        n = B.shape[0]
        w, uniform = np.full(n, 1.0 / n), True
    if dtype is None:
        dtype = B.dtype if B.dtype in (np.float32, np.float64) else np.float64
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise ValueError(f"dtype must be float32 or float64, got {dtype}")
    B = np.array(B, dtype=dtype, order="C", copy=True)
    # exact symmetry from the start (the check allowed rounding-level defects), in place
    _mirror_lower_from_upper(B)
    return B, w, uniform, dtype.type


class _Saver:
    def __init__(self, save_fn):
        self.save_fn = save_fn
        self.times, self.states, self.energies, self.gnorms = [], [], [], []

    def save(self, t, B, energy, gnorm):
        if self.save_fn is None:
            st = B.copy()
        else:
            view = B.view()
            view.setflags(write=False)
            st = self.save_fn(t, view)
        self.times.append(t)
        self.states.append(st)
        self.energies.append(energy)
        self.gnorms.append(gnorm)


def _density_project(B, prob, c):
    """In place: B <- clip(B + lam, lo, hi) with lam such that sum w_i w_j B_ij = c."""
    lo, hi, w = prob.lo_eff, prob.hi_eff, prob.w
    f = lambda lam: _kernels.shifted_mean(B, w, lam, lo, hi) - c  # noqa: E731
    a = lo - float(B.max())
    b = hi - float(B.min())
    fa, fb = f(a), f(b)
    if fa > 0 or fb < 0:
        raise ValueError(f"density {c} is not attainable in the box [{lo}, {hi}]")
    if fa == 0:
        lam = a
    elif fb == 0:
        lam = b
    else:
        lam = brentq(f, a, b, xtol=1e-15, rtol=4 * np.finfo(float).eps, maxiter=200)
    _kernels.apply_shift(B, lam, lo, hi)


# --------------------------------------------------------------------------- driver
def flow(
    F,
    W0,
    *,
    t1,
    dt=None,
    integrator="prox",
    adaptive=False,
    box=(0.0, 1.0),
    dtype=None,
    save_at=None,
    save_every=None,
    save_fn=None,
    gtol=None,
    max_steps=1_000_000,
    energy_tol=1e-12,
    dt_min=None,
    dt_max=None,
    grow=1.5,
    density=None,
    progress=None,
) -> FlowResult:
    r"""Run the projected gradient flow of F from W0 up to graphon time t1.

    Solves dW/dt = -P_W[DF(W)] in the box [lo, hi] (see the module docstring for
    the time scale and the integrators).

    Parameters
    ----------
    F : Functional
        E.g. ``-b1*EdgeDensity() - b2*HomDensity("K3") + 0.5*Entropy()`` or :func:`ergm`.
    W0 : array (n, n), StepGraphon or networkx graph
        Initial data: symmetric, finite, inside the box.  If F has an entropy or
        rate-function term, strictly inside (0, 1).  A networkx graph is read as its
        weighted adjacency matrix (like :func:`~graphonflow.graphons.as_step`).  A
        continuous :class:`~graphonflow.graphons.Graphon` or function is a TypeError:
        discretise it first, with ``W.block_average(m)`` or ``sample(W, n)``.
    t1 : float > 0
        Final graphon time.
    dt : float, optional
        Step size in graphon time (required unless ``adaptive``; then the first trial
        step, default t1/100).  Steps are shortened to land exactly on save times and t1.
    integrator : {"prox", "euler", "heun"}
    adaptive : bool
        Energy-controlled step size (euler and prox only).
    box : (lo, hi)
        The box, default [0, 1].  With entropy or rate-function terms the box must lie
        inside [0, 1]; entries are then kept in [tiny, 1 - eps] of the dtype.
    dtype : float32 or float64, optional
        Working precision (default: that of W0; integers become float64).  The
        kernels compute in float64 and store in dtype.
    save_at : array of times in [0, t1], optional
        Save exactly at these times (steps are shortened to hit them).  Not together
        with ``save_every``.
    save_every : int, optional
        Save every k accepted steps (and at t=0).  Not together with ``save_at``.
        Without save_at and save_every only t=0 and the final state are saved.  The
        final state is always saved.
    save_fn : callable ``save_fn(t, B) -> object``, optional
        Store ``save_fn(t, B)`` instead of a copy of B (B is a read-only view of the
        live buffer: copy what you keep), e.g. ``lambda t, B: B.mean()``.
    gtol : float, optional
        Stop with status ``"steady"`` once ||P DF||_2 <= gtol.
    max_steps : int
        Stop with status ``"max_steps"`` after this many accepted steps.
    energy_tol : float >= 0
        Adaptive only: accept a step if F_new <= F_old + energy_tol * (1 + |F_old|).
    dt_min, dt_max, grow : float
        Adaptive only: smallest step before giving up (default 1e-12 * t1), largest step
        (default t1 / 10), growth factor after an accepted step.
    density : float, optional
        Keep the edge density fixed: after every step, B <- clip(B + lam, box) with lam
        found by a 1-D root find so that sum w_i w_j B_ij = density.  W0 is projected
        first.  The flow is then the gradient flow on {mean = density} ∩ box, and the
        reported grad norms (and the ``gtol`` test) are those of its velocity

        .. math::

            V = P_B[-(DF - \lambda)], \qquad \sum_{ij} w_i w_j V_{ij} = 0,

        the projection of -DF onto the tangent cone of {mean = density} ∩ box: lambda is
        the weighted mean of DF over the free entries (inside the box, or on a face with
        the shifted velocity pointing inward).  ||V|| = 0 exactly at the constrained
        stationary points (the KKT points of F at fixed edge density).
    progress : callable ``progress(t, dt, energy)``, optional
        Called after every accepted step with the time reached, the step just taken and
        the most recently computed energy (energies are computed at save times and, with
        ``adaptive``, at every step).  For progress bars; it must not modify anything.

    Returns
    -------
    FlowResult

    Examples
    --------
    Mantel's problem from a constant start: t(K3) - t(K2) stays constant, and the
    value p solves p' = -(3p^2 - 1), tending to 1/sqrt(3).

    >>> import numpy as np
    >>> from graphonflow import HomDensity, EdgeDensity, flow
    >>> res = flow(HomDensity("K3") - EdgeDensity(), np.full((8, 8), 0.2), t1=20.0, dt=0.01)
    >>> res.status, round(float(res.W[0, 1]), 6)
    ('t1', 0.57735)
    """
    if not isinstance(F, Functional):
        raise TypeError(f"F must be a Functional, got {type(F).__name__}")
    F = as_functional(F)
    if integrator not in INTEGRATORS:
        raise ValueError(f"integrator must be one of {INTEGRATORS}, got {integrator!r}")
    t1 = float(t1)
    if not (math.isfinite(t1) and t1 > 0):
        raise ValueError(f"t1 must be a positive finite time, got {t1}")
    try:
        lo, hi = (float(x) for x in box)
    except (TypeError, ValueError):
        raise ValueError(f"box must be a pair (lo, hi), got {box!r}") from None
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise ValueError(f"box must satisfy lo < hi (finite), got ({lo}, {hi})")
    if adaptive and integrator == "heun":
        raise ValueError("adaptive=True is available for integrator='euler' or 'prox'")
    if dt is None:
        if not adaptive:
            raise ValueError("give a step size dt (graphon time), or adaptive=True")
        dt = t1 / 100.0
    dt = float(dt)
    if not (math.isfinite(dt) and dt > 0):
        raise ValueError(f"dt must be positive and finite, got {dt}")
    max_steps = int(max_steps)
    if max_steps < 0:
        raise ValueError("max_steps must be >= 0")
    if gtol is not None and not float(gtol) >= 0:
        raise ValueError(f"gtol must be >= 0, got {gtol}")
    if save_at is not None and save_every is not None:
        raise ValueError("give save_at or save_every, not both")
    energy_tol = float(energy_tol)
    if not (energy_tol >= 0 and math.isfinite(energy_tol)):
        raise ValueError(f"energy_tol must be a finite number >= 0, got {energy_tol}")
    if save_every is not None and (int(save_every) != save_every or save_every < 1):
        raise ValueError(f"save_every must be a positive integer, got {save_every!r}")
    if save_fn is not None and not callable(save_fn):
        raise TypeError("save_fn must be callable save_fn(t, B)")
    if progress is not None and not callable(progress):
        raise TypeError("progress must be callable progress(t, dt, energy)")
    if save_at is not None:
        save_at = np.asarray(save_at, dtype=np.float64).ravel()
        if save_at.size and (
            not np.all(np.isfinite(save_at)) or save_at.min() < 0 or save_at.max() > t1 or np.any(np.diff(save_at) <= 0)
        ):
            raise ValueError("save_at must be strictly increasing times in [0, t1]")
    dt_min = 1e-12 * t1 if dt_min is None else float(dt_min)
    dt_max = t1 / 10.0 if dt_max is None else float(dt_max)
    if adaptive:
        dt = min(dt, dt_max)
        if not (dt_min > 0 and dt_max >= dt_min and grow >= 1.0):
            raise ValueError("need 0 < dt_min <= dt_max and grow >= 1")

    B, w, uniform, dtype = _read_initial(W0, dtype)
    prob = _Problem(F, w, uniform, lo, hi, dtype)
    if prob.alpha != 0.0:
        if lo < 0.0 or hi > 1.0:
            raise ValueError(
                f"F contains entropy / rate-function terms, which are defined on [0, 1]; "
                f"the box ({lo}, {hi}) must lie inside [0, 1]"
            )
        if float(B.min()) <= 0.0 or float(B.max()) >= 1.0:
            raise ValueError(
                "F contains entropy / rate-function terms whose gradient is infinite at 0 and 1; "
                "start strictly inside (0, 1), e.g. np.clip(W0, 1e-6, 1 - 1e-6)"
            )
        if integrator == "prox" and prob.alpha < 0:
            raise ValueError(
                "integrator='prox' needs a convex local part (a non-negative entropy coefficient); "
                "use integrator='euler'"
            )
    if float(B.min()) < lo or float(B.max()) > hi:
        raise ValueError(f"W0 has entries in [{float(B.min()):.4g}, {float(B.max()):.4g}], outside the box [{lo}, {hi}]")
    if density is not None:
        density = float(density)
        if not (lo < density < hi):
            raise ValueError(f"density must lie strictly inside the box ({lo}, {hi}), got {density}")
        prob.density = density  # grad norms: the velocity of the constrained flow
        _density_project(B, prob, density)

    # ------------------------------------------------------------------ buffers
    # B (current), Bn (next); the non-local gradient lives in the workspace
    # products (or in one accumulation buffer per live point when F has several
    # non-local terms).
    Bn = np.empty_like(B)
    several = len(F._nonlocal) > 1
    bufs = [np.empty_like(B) if several else None, np.empty_like(B) if several else None]
    cur = 0  # which accumulation buffer belongs to the current point

    if integrator == "euler":
        step_kernel = _kernels.euler_step
    elif integrator == "prox":
        step_kernel = _kernels.prox_step
    else:
        step_kernel = None

    # gradients of the library's density terms are exactly symmetric (and B stays so), which
    # lets the Euler kernel stream whole rows; a user's Custom gradient may not be
    extra = {}
    if integrator == "euler":
        extra["symmetric_G"] = all(isinstance(a, HomDensity) for _, a in F._nonlocal)

    def kstep(Bsrc, G, gs, h, out):
        return step_kernel(
            Bsrc, G, w, h, gscale=gs, alpha=prob.alpha, beta=prob.beta, lo=prob.lo_eff, hi=prob.hi_eff, out=out,
            **extra,
        )

    saver = _Saver(save_fn)
    save_pts = list(save_at) if save_at is not None else []
    t = 0.0
    k = 0
    n_rej = 0
    dts = []
    status = None
    message = ""
    tiny_t = 1e-12 * max(t1, 1.0)

    G, gs, val = prob.evaluate(B, bufs[cur], need_value=True)
    pg2_cur = None  # squared projected-gradient norm at B, once known

    def want_save_now(tt, kk):
        if save_pts and abs(save_pts[0] - tt) <= tiny_t:
            return True
        if save_at is None and (kk == 0 or (save_every is not None and kk % int(save_every) == 0)):
            return True
        return False

    def do_save(tt, value, pg2):
        if pg2 is None:
            pg2 = prob.pg2(B, G, gs)
        if value is None:
            value = prob.value(_Point(B, w, uniform))
        saver.save(tt, B, value, math.sqrt(pg2) if pg2 >= 0 else float("nan"))
        if save_pts and abs(save_pts[0] - tt) <= tiny_t:
            save_pts.pop(0)

    if want_save_now(t, k):
        pg2_cur = prob.pg2(B, G, gs)
        do_save(t, val, pg2_cur)
    if val is not None and not math.isfinite(val):
        status, message = "nonfinite", f"F(W0) is not finite ({val}); nothing was integrated"

    h = dt
    while status is None:
        if t >= t1 - tiny_t:
            status, message = "t1", f"reached t1={t1:g} in {k} steps"
            break
        if k >= max_steps:
            status, message = "max_steps", f"max_steps={max_steps} reached at t={t:.6g}; raise max_steps"
            break
        target = t1
        if save_pts and save_pts[0] < target:
            target = save_pts[0]
        h_try = min(h, target - t)
        if target - (t + h_try) <= tiny_t:
            h_try = target - t
            landing = target
        else:
            landing = t + h_try

        # ---- one step from B into Bn; pg2 is the projected-gradient norm at B
        if integrator == "heun":
            _, pg2 = _kernels.euler_step(
                B, G, w, h_try, gscale=gs, alpha=prob.alpha, beta=prob.beta, lo=prob.lo_eff, hi=prob.hi_eff, out=Bn
            )
        else:
            _, pg2 = kstep(B, G, gs, h_try, Bn)
        if not math.isfinite(pg2):
            status, message = "nonfinite", f"non-finite gradient at t={t:.6g}; returning the last finite state"
            break
        if density is not None:
            # the kernel's norm is that of the box projection; the constrained flow's speed
            # is the projection onto the tangent cone of {mean = density} ∩ box (extra passes,
            # so only when the gtol test needs it)
            pg2 = prob.pg2(B, G, gs) if gtol is not None else None
        pg2_cur = pg2
        if gtol is not None and math.sqrt(pg2) <= gtol:
            status, message = "steady", f"steady state at t={t:.6g}: ||P DF|| = {math.sqrt(pg2):.3g} <= gtol={gtol:g}"
            break
        if integrator == "heun":
            G2, gs2, _ = prob.evaluate(Bn, bufs[1 - cur], need_value=False)
            D = prob.full_grad(B, G, gs) + prob.full_grad(Bn, G2, gs2)
            Bnew = np.clip(B - (0.5 * h_try) * D, prob.lo_eff, prob.hi_eff)
            if not np.all(np.isfinite(Bnew)):
                status, message = "nonfinite", f"non-finite state in a Heun step at t={t:.6g}; returning the last finite state"
                break
            Bn[...] = Bnew
        if density is not None:
            _density_project(Bn, prob, density)
        if not adaptive and integrator != "heun":
            G = None  # free the old product before the next one is built (3 n x n buffers at peak)

        will_save = want_save_now(landing, k + 1) or landing >= t1 - tiny_t
        Gn, gsn, valn = prob.evaluate(Bn, bufs[1 - cur], need_value=adaptive or will_save)
        if adaptive:
            if not (math.isfinite(valn) and valn <= val + energy_tol * (1.0 + abs(val))):
                n_rej += 1
                h = 0.5 * h_try
                if h < dt_min:
                    if not math.isfinite(valn):
                        # every trial down to dt_min overflowed: a blow-up, not a stiffness problem
                        status, message = "nonfinite", (
                            f"F is not finite ({valn}) after every trial step down to dt_min={dt_min:.3g} "
                            f"at t={t:.6g}: the flow leaves the floating-point range (e.g. a blow-up in "
                            "finite time; a smaller box bounds it); returning the last finite state"
                        )
                    else:
                        hint = " or use integrator='prox'" if integrator == "euler" else ""
                        status, message = "dt_min", (
                            f"adaptive step fell below dt_min={dt_min:.3g} at t={t:.6g} "
                            f"(the energy would increase); loosen energy_tol{hint}"
                        )
                    break
                continue  # the trial used the other buffer; G at B is intact
        # accept
        B, Bn = Bn, B
        G, gs = Gn, gsn
        Gn = None  # G is the only reference, so it can be freed before the next product
        if valn is not None:
            val = valn
        cur = 1 - cur
        t = landing
        k += 1
        dts.append(h_try)
        pg2_cur = None
        if adaptive and h_try >= h * (1 - 1e-12):
            h = min(h * grow, dt_max)
        if will_save:
            if valn is not None and not math.isfinite(valn):
                do_save(t, valn, None)
                status, message = "nonfinite", f"F became non-finite at t={t:.6g}"
                break
            do_save(t, valn, None)
        if progress is not None:
            progress(t, h_try, val)

    # the final state is always saved
    if not saver.times or saver.times[-1] != t:
        if pg2_cur is None:
            pg2_cur = prob.pg2(B, G, gs)
        G = None  # the value below builds a fresh workspace; let the old product go first
        do_save(t, None, pg2_cur)

    return FlowResult(
        W=B,
        widths=w,
        t=float(t),
        times=np.asarray(saver.times, dtype=np.float64),
        states=tuple(saver.states),
        energies=np.asarray(saver.energies, dtype=np.float64),
        grad_norms=np.asarray(saver.gnorms, dtype=np.float64),
        n_steps=k,
        n_grad_evals=prob.n_evals,
        n_rejected=n_rej,
        dt_history=np.asarray(dts, dtype=np.float64),
        status=status,
        message=message,
        integrator=integrator,
    )

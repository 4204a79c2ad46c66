r"""The flow driver: one loop that knows no integrator by name.

:func:`flow` reads the initial data, builds the :class:`~graphonflow.flow.problem.FlowProblem`,
and alternates integrator steps with the controller's decisions, landing on save times,
until t1, a steady state or a failure.  What a step computes is the integrator's business
(:mod:`graphonflow.flow.integrators`), how long it is the controller's
(:mod:`graphonflow.flow.controllers`), what is kept the :class:`~graphonflow.flow.saveat.SaveAt`'s.
"""

from __future__ import annotations

import math

import numpy as np

from ..backend import resolve_backend
from ..functionals import Functional, as_functional
from .controllers import ConstantStep, PIDController, StepSizeController
from .integrators import get_integrator
from .problem import make_problem, read_initial
from .result import FlowResult, Status
from .saveat import SaveAt, Saver

__all__ = ["flow", "DEFAULT_RTOL"]

#: the tolerance that ``adaptive=True`` means (with atol = 1e-3 rtol)
DEFAULT_RTOL = 1e-6


def _controller_from(dt, rtol, atol, adaptive, controller, t1, dt_min, dt_max, energy_tol, grow):
    if controller is not None:
        if not isinstance(controller, StepSizeController):
            raise TypeError(f"controller must be ConstantStep(dt) or PIDController(...), got {type(controller).__name__}")
        if rtol is not None or atol is not None:
            raise ValueError("give rtol/atol inside the PIDController, not beside it")
        return controller
    if rtol is not None or atol is not None or adaptive:
        extra = {}
        if grow is not None:
            extra["factor_max"] = float(grow)
        return PIDController(
            DEFAULT_RTOL if rtol is None else rtol, atol, dt0=dt,
            dt_min=1e-12 * t1 if dt_min is None else dt_min, dt_max=t1 if dt_max is None else dt_max,
            energy_tol=1e-12 if energy_tol is None else energy_tol, **extra,
        )
    if dt is None:
        raise ValueError("give a step size dt (fixed steps, graphon time) or a tolerance rtol= (error control)")
    for name, v in (("dt_min", dt_min), ("dt_max", dt_max), ("grow", grow), ("energy_tol", energy_tol)):
        if v is not None:
            raise ValueError(f"{name} applies to error control only (give rtol=, or adaptive=True)")
    return ConstantStep(dt)


def _saveat_from(saveat, save_at, save_every, save_fn):
    if saveat is not None:
        if save_at is not None or save_every is not None or save_fn is not None:
            raise ValueError("give saveat=SaveAt(...) or the older save_at/save_every/save_fn, not both")
        if not isinstance(saveat, SaveAt):
            raise TypeError(f"saveat must be a SaveAt, got {type(saveat).__name__}")
        return saveat
    if save_at is not None and save_every is not None:
        raise ValueError("give save_at or save_every, not both")
    if save_every is not None and (isinstance(save_every, bool) or int(save_every) != save_every or save_every < 1):
        raise ValueError(f"save_every must be a positive integer, got {save_every!r}")
    if save_fn is not None and not callable(save_fn):
        raise TypeError("save_fn must be callable save_fn(t, B)")
    if save_at is not None:
        arr = np.asarray(save_at, dtype=np.float64).ravel()
        if arr.size and (not np.all(np.isfinite(arr)) or arr.min() < 0 or np.any(np.diff(arr) <= 0)):
            raise ValueError("save_at must be strictly increasing times in [0, t1]")
    return SaveAt(save_at, every=save_every, fn=save_fn)


def _progress_bar(progress, t1):
    if progress is True:
        from tqdm.auto import tqdm

        bar = tqdm(total=t1, unit="t", bar_format="{l_bar}{bar}| t={n:.4g}/{total:.4g} [{elapsed}<{remaining}]")

        def update(t, dt, energy):
            bar.update(dt)
            if energy is not None:
                bar.set_postfix_str(f"F={energy:.6g} dt={dt:.3g}", refresh=False)

        return update, bar
    if progress is None or progress is False:
        return None, None
    if not callable(progress):
        raise TypeError("progress must be True or a callable progress(t, dt, energy)")
    return progress, None


def flow(
    F,
    W0,
    *,
    t1,
    dt=None,
    rtol=None,
    atol=None,
    integrator=None,
    controller=None,
    saveat=None,
    adaptive=False,
    box=(0.0, 1.0),
    dtype=None,
    gtol=None,
    max_steps=1_000_000,
    density=None,
    progress=None,
    save_at=None,
    save_every=None,
    save_fn=None,
    energy_tol=None,
    dt_min=None,
    dt_max=None,
    grow=None,
    backend=None,
) -> FlowResult:
    r"""Run the projected gradient flow of F from W0 up to graphon time t1.

    Solves dW/dt = -P_W[DF(W)] in the box [lo, hi] (see :mod:`graphonflow.flow` for the
    time scale).  Two ways to step:

    * **error control** -- give ``rtol`` (and optionally ``atol``): the step sizes are chosen
      by a PI controller on the integrator's embedded error estimate so that every accepted
      step has local error <= atol + rtol |W| entry-wise.  The default integrator is then
      ``"dp54"`` (explicit Dormand--Prince 5(4) with projected stages); ``"ark54"`` (IMEX,
      implicit in the entropy) is cheaper when entropy near 0 or 1 makes the flow stiff, but read
      the caveat in docs/flows.md.  ``adaptive=True`` means
      ``rtol=1e-6, atol=1e-9``.
    * **fixed steps** -- give ``dt``: the default integrator is ``"prox"`` (first order, stable).
      The run watches its energy and ends with status ``"unstable"`` if F rises or stalls while
      the state keeps moving.

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
        The fixed step (graphon time); with error control, the first trial step (by default
        estimated).  Steps are shortened to land exactly on save times and t1.
    rtol, atol : float, optional
        Tolerances of error control (atol defaults to 1e-3 rtol).
    integrator : str or Integrator, optional
        A name from :data:`~graphonflow.flow.INTEGRATORS` (``"ark54"``, ``"ark43"``, ``"ark32"``, ``"dp54"``, ``"bs32"``,
        ``"heun"``, ``"prox"``, ``"euler"``) or an :class:`~graphonflow.flow.Integrator` object.
        Error control needs one with an error estimate (the ark and the explicit pairs).
    controller : ConstantStep or PIDController, optional
        Full control of the step sizes, instead of dt / rtol / atol.
    saveat : SaveAt, optional
        What to keep (times, every k steps, a function of the state); t = 0 and the final
        state are always kept.  Default: only those two.
    adaptive : bool
        Shorthand for error control at the default tolerance rtol = 1e-6.
    box : (lo, hi)
        The box, default [0, 1].  With entropy or rate-function terms the box must lie
        inside [0, 1]; entries are then kept in [tiny, 1 - eps] of the dtype.
    dtype : float32 or float64, optional
        Working precision (default: that of W0; integers become float64).
    gtol : float, optional
        Stop with status ``"steady"`` once ||P DF||_2 <= gtol.
    max_steps : int
        Stop with status ``"max_steps"`` after this many accepted steps.
    density : float, optional
        Keep the edge density fixed: after every step, B <- clip(B + lam, box) with lam
        found by a 1-D root find so that sum w_i w_j B_ij = density.  W0 is projected
        first.  The flow is then the gradient flow on {mean = density} ∩ box, and the
        reported grad norms (and the ``gtol`` test) are those of its velocity

        .. math::

            V = P_B[-(DF - \lambda)], \qquad \sum_{ij} w_i w_j V_{ij} = 0,

        the projection of -DF onto the tangent cone of {mean = density} ∩ box.
    progress : True or callable ``progress(t, dt, energy)``, optional
        True shows a tqdm progress bar; a callable is called after every accepted step with
        the time reached, the step just taken and the most recently computed energy.
    save_at, save_every, save_fn
        The older spelling of ``saveat=SaveAt(save_at, every=save_every, fn=save_fn)``.
    energy_tol, dt_min, dt_max, grow
        Error control only: the energy guard's slack (relative to 1 + |F|, default 1e-12),
        the smallest step before giving up (default 1e-12 t1), the largest step (default t1)
        and the largest growth of the step from one step to the next (default 5).
    backend : None, "cpu", "cupy" or an ArrayBackend, optional
        Where the flow runs (:func:`graphonflow.backend.resolve_backend`).  None: from W0's
        type -- a NumPy array (or a StepGraphon, a networkx graph) on the CPU, a CuPy array on
        its GPU, any other array-API array on the generic backend of its library.  The state
        stays on that device and ``W`` comes back as an array of its library; energies, times
        and norms are host floats.  docs/scaling.md says which path suits which n.

    Returns
    -------
    FlowResult

    Examples
    --------
    Mantel's problem from a constant start: t(K3) - t(K2) stays constant, and the value p
    solves p' = -(3p^2 - 1), tending to 1/sqrt(3).

    >>> import numpy as np
    >>> from graphonflow import HomDensity, EdgeDensity, flow
    >>> res = flow(HomDensity("K3") - EdgeDensity(), np.full((8, 8), 0.2), t1=20.0, dt=0.01)
    >>> str(res.status), round(float(res.W[0, 1]), 6)
    ('t1', 0.57735)

    With error control the triangle flow from 0.9 follows p(t) = p0 / (1 + 3 p0 t):

    >>> res = flow(HomDensity("K3"), np.full((4, 4), 0.9), t1=100.0, rtol=1e-6)
    >>> str(res.status), abs(float(res.W[0, 0]) / (0.9 / 271) - 1) < 1e-5
    ('t1', True)
    """
    if not isinstance(F, Functional):
        raise TypeError(f"F must be a Functional, got {type(F).__name__}")
    F = as_functional(F)
    t1 = float(t1)
    if not (math.isfinite(t1) and t1 > 0):
        raise ValueError(f"t1 must be a positive finite time, got {t1}")
    try:
        lo, hi = (float(x) for x in box)
    except (TypeError, ValueError):
        raise ValueError(f"box must be a pair (lo, hi), got {box!r}") from None
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise ValueError(f"box must satisfy lo < hi (finite), got ({lo}, {hi})")
    if dt is not None:
        dt = float(dt)
        if not (math.isfinite(dt) and dt > 0):
            raise ValueError(f"dt must be positive and finite, got {dt}")
    max_steps = int(max_steps)
    if max_steps < 0:
        raise ValueError("max_steps must be >= 0")
    if gtol is not None and not float(gtol) >= 0:
        raise ValueError(f"gtol must be >= 0, got {gtol}")
    if energy_tol is not None:
        energy_tol = float(energy_tol)
        if not (energy_tol >= 0 and math.isfinite(energy_tol)):
            raise ValueError(f"energy_tol must be a finite number >= 0, got {energy_tol}")
    if grow is not None and not float(grow) > 1:
        raise ValueError(f"grow must be > 1, got {grow}")
    if dt_min is not None and dt_max is not None and not (0 < float(dt_min) <= float(dt_max)):
        raise ValueError("need 0 < dt_min <= dt_max")
    ctrl = _controller_from(dt, rtol, atol, adaptive, controller, t1, dt_min, dt_max, energy_tol, grow)
    adaptive = ctrl.adaptive
    if integrator is None:
        # error control: the projected Dormand-Prince pair.  The IMEX pairs are cheaper on stiff
        # entropy near 0 and 1, but with large steps where the explicit and implicit parts nearly
        # cancel (a degenerate ERGM fixed point) their error estimate misses a drift of 100 rtol,
        # so they are opt-in (integrator="ark54"); see docs/flows.md
        integrator = "dp54" if adaptive else "prox"
    integ = get_integrator(integrator)
    if adaptive and not integ.has_error_estimate:
        raise ValueError(
            f"integrator {integ.name!r} gives no error estimate, so it cannot run under error control "
            "(rtol/atol/adaptive); use 'ark54' (IMEX), 'dp54' (explicit), 'ark43', 'ark32' or 'bs32', or a fixed dt"
        )
    sv = _saveat_from(saveat, save_at, save_every, save_fn)
    if sv.ts is not None and sv.ts and sv.ts[-1] > t1:
        raise ValueError(f"save times (save_at / SaveAt.ts) must lie in [0, t1]; got {sv.ts[-1]:g} > t1 = {t1:g}")
    progress, bar = _progress_bar(progress, t1)

    be = resolve_backend(backend, W0)
    B, w, uniform, dtype = read_initial(W0, dtype, be)
    prob = make_problem(F, B, w, uniform, (lo, hi), dtype, backend=be)
    if integ.implicit_local and prob.alpha < 0:
        raise ValueError(
            f"integrator={integ.name!r} needs a convex local part (a non-negative entropy coefficient); "
            "use integrator='euler' (fixed steps) or 'bs32' (error control)"
        )
    if density is not None:
        density = float(density)
        if not (lo < density < hi):
            raise ValueError(f"density must lie strictly inside the box ({lo}, {hi}), got {density}")
        prob.density = density  # grad norms: the velocity of the constrained flow
        prob.project_density(B)
    guard = adaptive and ctrl.energy_guard
    prob.want_value = guard
    m = B.shape[0]
    try:
        # the package's one BLAS thread policy (graphonflow.backend.cpu.blas_threads), for
        # the n x n products of the whole run
        with prob.backend.thread_policy(m, m, m):
            return _run(F, prob, integ, ctrl, sv, B, t1, gtol, max_steps, density, progress, guard)
    finally:
        if bar is not None:
            bar.close()


def _run(F, prob, integ, ctrl, sv, B, t1, gtol, max_steps, density, progress, guard):
    be = prob.backend
    adaptive = ctrl.adaptive
    integ.init(prob, B)
    # B (current), Bn (next); the non-local gradient lives in the workspace products (or in
    # one accumulation buffer per live point when F has several non-local terms)
    Bn = be.empty_like(B)
    bufs = [be.empty_like(B) if prob.several else None, be.empty_like(B) if prob.several else None]
    cur = 0
    tiny_t = 1e-12 * max(t1, 1.0)
    saver = Saver(sv, tiny_t)
    t, k, n_rej = 0.0, 0, 0
    dts = []
    status, info = None, {}

    ev = prob.evaluate(B, bufs[cur], need_value=True)
    val = ev.value
    pg2_cur = None

    def do_save(tt, Bs, evs, value, pg2):
        if pg2 is None:
            pg2 = prob.speed2(Bs, evs)
        if value is None:
            value = prob.value(Bs)
        saver.save(tt, Bs, value, math.sqrt(pg2) if pg2 >= 0 else float("nan"))

    pg2_cur = prob.speed2(B, ev)
    do_save(t, B, ev, val, pg2_cur)
    if not math.isfinite(val):
        status, info = Status.NONFINITE, dict(what=f"F(W0) is not finite ({val}); nothing was integrated", hint="")

    # ---- the first step
    if adaptive:
        ctrl.reset()
        dt_min = ctrl.dt_min if ctrl.dt_min is not None else 1e-12 * t1
        dt_max = ctrl.dt_max if ctrl.dt_max is not None else t1
        if status is None:
            f0 = be.empty_like(B)
            prob.velocity(B, ev, f0)

            def f1_of(h):
                y1 = be.empty_like(B)
                be.lincomb(y1, B, [(h, f0)])
                be.clip(y1, prob.lo_eff, prob.hi_eff, out=y1)
                out = be.empty_like(B)
                return prob.velocity(y1, prob.evaluate(y1, None), out)

            h = ctrl.initial_step(be, B, f0, f1_of, integ.error_order, t1)
            del f0
            h = min(max(h, dt_min), dt_max)
    else:
        h = ctrl.dt
        check_every = ctrl.check_every
        # the fixed-step monitor: energy at the last check, dissipation predicted since then
        mon_val, mon_t, mon_diss = val, 0.0, 0.0
        rise_tol = 1e3 * float(np.finfo(prob.dtype).eps)

    while status is None:
        if t >= t1 - tiny_t:
            status, info = Status.T1, dict(t1=t1, steps=k)
            break
        if k >= max_steps:
            status, info = Status.MAX_STEPS, dict(max_steps=max_steps, t=t)
            break
        target = t1
        nxt = saver.next_time()
        if nxt is not None and nxt < target:
            target = nxt
        h_try = min(h, target - t)
        if target - (t + h_try) <= tiny_t:
            h_try = target - t
            landing = target
        else:
            landing = t + h_try

        # ---- one trial step from B into Bn
        out = integ.step(prob, B, ev, h_try, Bn)
        pg2 = out.pg2
        bad = out.nonfinite or (pg2 is not None and not math.isfinite(pg2))
        err = None
        if not bad and adaptive:
            err = ctrl.error_norm(be, out.error, B, Bn)
            bad = not math.isfinite(err)
        if bad:
            if not adaptive:
                status, info = Status.NONFINITE, dict(what="non-finite gradient or state", t=t, hint="")
                break
            n_rej += 1
            h = 0.25 * h_try
            if h < dt_min:
                status, info = Status.NONFINITE, dict(
                    what=f"non-finite values at every trial step down to dt_min={dt_min:.3g}", t=t,
                    hint=" (the flow leaves the floating-point range, e.g. a blow-up in finite time; a "
                    "smaller box bounds it)")
                break
            continue
        if gtol is not None:
            if pg2 is None or density is not None:
                pg2 = prob.speed2(B, ev)
            pg2_cur = pg2
            if math.sqrt(pg2) <= gtol:
                status, info = Status.STEADY, dict(t=t, gnorm=math.sqrt(pg2), gtol=gtol)
                break
        if adaptive:
            accept, h_new = ctrl.propose(h_try, err, integ.error_order)
            if not accept:
                n_rej += 1
                h = h_new
                if h < dt_min:
                    status, info = Status.DT_MIN, dict(dt_min=dt_min, t=t, why=f"scaled error {err:.3g} at h={h_try:.3g}")
                    break
                continue
        if density is not None:
            prob.project_density(Bn)
        if not adaptive and out.ev_new is None:
            ev = None  # free the old product before the next one is built (3 n x n buffers at peak)

        will_save = saver.due(landing, k + 1) or landing >= t1 - tiny_t
        check_now = (not adaptive) and ((k + 1) % check_every == 0 or will_save)
        need_val = will_save or guard or check_now
        if out.ev_new is not None and density is None:
            evn = out.ev_new
            if need_val and evn.value is None:
                evn.value = prob.value(Bn)
        else:
            evn = prob.evaluate(Bn, bufs[1 - cur], need_value=need_val)
        valn = evn.value
        if guard:
            if not (math.isfinite(valn) and valn <= val + ctrl.energy_tol * (1.0 + abs(val))):
                n_rej += 1
                h = 0.5 * h_try
                if h < dt_min:
                    if not math.isfinite(valn):
                        status, info = Status.NONFINITE, dict(
                            what=f"F is not finite ({valn}) after every trial step down to dt_min={dt_min:.3g}",
                            t=t, hint=" (e.g. a blow-up in finite time; a smaller box bounds it)")
                    else:
                        status, info = Status.DT_MIN, dict(dt_min=dt_min, t=t, why="the energy would rise")
                    break
                continue
        # ---- accept
        B, Bn = Bn, B
        ev, evn = evn, None  # one reference only: the product is freed before the next one is built
        cur = 1 - cur
        t_prev, t = t, landing
        k += 1
        dts.append(h_try)
        pg2_cur = None
        if valn is not None:
            val = valn
        if adaptive:
            shortened = h_try < h * (1 - 1e-12)
            h = min(max(h_new, h) if shortened else h_new, dt_max)
            h = max(h, dt_min)
        else:
            if pg2 is not None:
                mon_diss += h_try * pg2
            if check_now and valn is not None and math.isfinite(valn):
                tol = rise_tol * (1.0 + abs(mon_val))
                what = None
                if valn > mon_val + tol:
                    what = f"F rose from {mon_val:.10g} to {valn:.10g}"
                elif density is None and pg2 is not None and mon_val - valn <= tol and mon_diss > 1e3 * tol:
                    what = (f"F stalled at {valn:.10g} while the state kept moving (predicted dissipation "
                            f"{mon_diss:.3g}): it oscillates")
                if what is not None:
                    if will_save:
                        do_save(t, B, ev, valn, None)
                    status, info = Status.UNSTABLE, dict(dt=ctrl.dt, what=what, t0=mon_t, t=t)
                    break
                mon_val, mon_t, mon_diss = valn, t, 0.0
        if will_save:
            do_save(t, B, ev, valn, None)
            if valn is not None and not math.isfinite(valn):
                status, info = Status.NONFINITE, dict(what="F became non-finite", t=t, hint="")
                break
        if progress is not None:
            progress(t, h_try, val)
        del t_prev

    # the final state is always saved
    if not saver.times or saver.times[-1] != t:
        if ev is None:
            ev = prob.evaluate(B, bufs[cur])
        if pg2_cur is None:
            pg2_cur = prob.speed2(B, ev)
        ev = None  # the value below builds a fresh workspace; let the old product go first
        do_save(t, B, None, None, pg2_cur)

    return FlowResult(
        W=B,
        widths=prob.w,
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
        message=status.message(**info),
        integrator=integ.name,
        controller=ctrl.describe(),
    )

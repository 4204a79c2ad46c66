r"""Finite-n flows against their graphon limit: the experiment behind the seed theorem.

Oh, Pal, Somani and Tripathi (arXiv:2111.09459) prove that if the initial matrices
A_n(0) converge to W_0 in cut distance, the matrix flows (run at time scale n^2) converge
to the graphon flow W_t, uniformly on compact time intervals.  No rate is given.
:func:`convergence_study` measures one:

1. a *reference* graphon flow is run from the block average of W_0 on ``m`` equal blocks,
   and again on ``2m`` blocks; the L2 distance between the two at every saved time (on
   the common refinement, no relabelling) shows whether the reference is resolved;
2. for every n and seed, an initial W-random graph A_n(0) is sampled from W_0 with sorted
   latent positions, and its flow is run to the same times;
3. at every saved time, :func:`~graphonflow.cut.cut_distance` brackets
   delta_cut(A_n(t), W_t^ref) (a certified lower and upper bound; the sorted latent labels
   are the natural alignment and are tried first), and the L2 distance at that alignment
   bounds delta_2 from above;
4. for every saved time, least-squares fits of log(upper) and of log(lower) against log(n)
   give the observed exponents in upper ~ C n^r and lower ~ c n^(r_lower), each with a
   standard error from its fit residuals; the rate is *resolved* only where the bracket is
   narrow (upper / lower <= ``RESOLVED_RATIO`` = 2 at every point of the fit), since the
   distance itself can follow any slope between the two bounds.

The standard error is the ordinary least-squares one: every (n, seed) pair above
``RATE_FLOOR`` is one point, and with P points, residuals e and x = log n,
se(r) = sqrt(sum(e^2) / (P - 2) / sum((x - mean x)^2)).  It treats the points as independent
draws scattered about an exact power law, so it measures the scatter between seeds and sizes
only: not curvature of log(distance) in log(n), and not the width of the bracket (that is
what the two exponents and ``bracket_ratio`` show).  With P = 2 there is no estimate (NaN,
shown as "n/a"); with few seeds it is itself noisy (the examples use 8 seeds).

What the bracket means: ``lower <= delta_cut(A_n(t), W^ref_t) <= upper``, both certified for
the two step graphons compared.  The reference itself differs from the true W_t by the
resolution error reported in ``resolution_gap`` (an L2 distance, which bounds the cut
distance from above); read the bracket as a bracket for delta_cut(A_n(t), W_t) only up to
that gap.

Every flow is integrated either with **error control** (``rtol``, and optionally ``atol``: the
step sizes come from a PI controller on the integrator's embedded error estimate, default
integrator ``"dp54"``) or with **fixed steps** (``dt``, default integrator ``"prox"``).  With
``check_integration=True`` the m-block reference is run once more, at a ten times tighter
tolerance (rtol/10, atol/10) or with half the step (dt/2), and ``integration_cut_gap`` bounds
the cut norm of the difference at every measured time: how far the time integration moves
the reference.

With ``client=`` (a ``dask.distributed`` client) or ``workers=N`` every reference and finite
flow runs as a task on a cluster, with the same results bit for bit
(:mod:`graphonflow.cluster.sweep`).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from ._validation import as_rng
from .cut import cut_distance, cut_norm, l2_distance
from .flow import PIDController, Status, flow, get_integrator
from .graphons import block_average
from .sampling import sample
from .step import StepGraphon

__all__ = ["ConvergenceStudy", "convergence_study", "RATE_FLOOR", "RESOLVED_RATIO"]


@dataclass(frozen=True)
class ConvergenceStudy:
    """Results of :func:`convergence_study`.

    Attributes
    ----------
    ns : ndarray (N,)
        Graph sizes.
    times : ndarray (T,)
        Graphon times at which distances were measured.
    seeds : int
        Samples per size.
    lower, upper : ndarray (N, seeds, T)
        Certified bracket lower <= delta_cut(A_n(t), W^ref_t) <= upper.
    delta2_upper : ndarray (N, seeds, T)
        Upper bound on delta_2(A_n(t), W^ref_t) (the L2 distance at the best alignment).
    rate : ndarray (T,)
        Fitted exponent r in upper ~ C n^r at each time (also ``rate_upper``).  Upper bounds at
        or below ``RATE_FLOOR`` (1e-12: flows that reached the same state up to rounding) are
        left out; NaN when fewer than two sizes remain.  Read it together with
        ``rate_resolved``: the exponent of an upper bound is not the exponent of the distance.
    rate_stderr : ndarray (T,)
        Standard error of r (also ``rate_upper_stderr``): the least-squares one over all
        (n, seed) points used (see the module docstring); NaN with only two points.
    rate_lower, rate_lower_stderr : ndarray (T,)
        The same fit of the lower bounds (points with lower <= ``RATE_FLOOR`` left out).
    rate_intercept, rate_lower_intercept : ndarray (T,)
        The fitted log C of each fit: the lines are exp(a) n^r.
    bracket_ratio : ndarray (T,)
        The largest upper / lower over the (n, seed) points of the upper-bound fit (inf where a
        lower bound is 0; NaN where no rate was fitted).
    rate_resolved : ndarray (T,) of bool
        True where a rate was fitted and ``bracket_ratio <= RESOLVED_RATIO`` (2): every point
        of the fit is pinned within a factor 2, so the bracket alone leaves the secant slope of
        log delta between the smallest and the largest n in an interval of width
        2 ln 2 / ln(n_max / n_min).  Elsewhere the rate is unresolved: the bracket allows
        slopes far from both fitted exponents.
    resolution : int
        Blocks m of the reference flow.
    resolution_gap : ndarray (T,)
        ||W^(m)_t - W^(2m)_t||_2: the reference's own discretisation error estimate.
    resolution_cut_gap : ndarray (T,)
        A certified upper bound on ||W^(m)_t - W^(2m)_t||_cut (same partition order, no
        relabelling), the estimate in the norm the brackets are measured in.
    integration_cut_gap : ndarray (T,) or None
        With ``check_integration``: a certified upper bound on the cut norm of the difference
        between the m-block reference and the same flow integrated more accurately: at
        rtol/10 and atol/10 under error control, with step dt/2 for fixed steps.
    integration_check : str
        What ``integration_cut_gap`` compares, e.g. ``"rtol=1e-06, atol=1e-09 vs rtol/10, atol/10
        (dp54)"`` or ``"dt=0.5 vs dt/2 (prox)"``; empty without the check.
    time_step_cut_gap, tolerance_cut_gap : ndarray (T,) or None
        ``integration_cut_gap`` under its older name for fixed-step studies (dt vs dt/2), and
        for error-controlled ones (tol vs tol/10); the other one is None.
    integrator : str
        The integrator every flow used.
    rtol, atol : float or None
        The tolerances of error control (atol as used: 1e-3 rtol unless given); None for
        fixed steps.
    dt : float or None
        The fixed step; with error control the first trial step if one was given, else None.
    controller : str
        The step-size controller of the reference flow, e.g.
        ``"PIDController(rtol=1e-06, atol=1e-09, norm='max')"``.
    reference : tuple of StepGraphon
        The reference state W^(2m)_t at each time.
    energies : ndarray (N, seeds, T)
        Energy F(A_n(t)) along each finite flow; ``reference_energies`` (T,) for the reference.
    statuses : tuple of str
        Flow statuses: the m- and 2m-block references, then (n, seed) in order.
    messages : tuple of str
        The flows' messages, in the same order.
    flow_wall_times : ndarray (N, seeds)
        Seconds spent in each finite flow (distances excluded); for a flow taken from
        ``restore``, the seconds it took when it was computed.
    curve_times : ndarray (K,)
        Times of the energy and gradient-norm curves (``times`` merged with ``curve_times``).
    curve_energies, curve_grad_norms : ndarray (N, seeds, K)
        F(A_n(t)) and ||P DF(A_n(t))||_2 along each finite flow;
        ``reference_curve_energies`` and ``reference_curve_grad_norms`` (K,) for the reference.
    finite_states : dict
        With ``keep_states``: n -> tuple of the first seed's states A_n(t) at ``times``.
    wall_time : float
        Seconds for the whole study.
    restored : tuple of str
        Labels of the flows taken from ``restore`` instead of being run (empty without it).
    base_seed : int
        The number drawn from ``rng`` that seeds every sample and cut-norm computation; the
        initial graph of (n, seed s) is ``finite_start(W0, n, s, base_seed, kind)``.
    """

    ns: np.ndarray
    times: np.ndarray
    seeds: int
    lower: np.ndarray
    upper: np.ndarray
    delta2_upper: np.ndarray
    rate: np.ndarray
    rate_stderr: np.ndarray
    resolution: int
    resolution_gap: np.ndarray
    reference: tuple
    energies: np.ndarray
    reference_energies: np.ndarray
    statuses: tuple
    wall_time: float
    resolution_cut_gap: np.ndarray = None
    messages: tuple = ()
    flow_wall_times: np.ndarray = None
    curve_times: np.ndarray = None
    curve_energies: np.ndarray = None
    curve_grad_norms: np.ndarray = None
    reference_curve_energies: np.ndarray = None
    reference_curve_grad_norms: np.ndarray = None
    finite_states: dict = None
    integration_cut_gap: np.ndarray = None
    integration_check: str = ""
    integrator: str = ""
    rtol: float = None
    atol: float = None
    dt: float = None
    controller: str = ""
    rate_lower: np.ndarray = None
    rate_lower_stderr: np.ndarray = None
    rate_intercept: np.ndarray = None
    rate_lower_intercept: np.ndarray = None
    bracket_ratio: np.ndarray = None
    rate_resolved: np.ndarray = None
    restored: tuple = ()
    base_seed: int = None

    @property
    def rate_upper(self):
        """The exponent of the upper bounds (the same array as ``rate``)."""
        return self.rate

    @property
    def rate_upper_stderr(self):
        """Its standard error (the same array as ``rate_stderr``)."""
        return self.rate_stderr

    @property
    def error_control(self) -> bool:
        """True when the flows ran under error control (rtol/atol), False for fixed steps."""
        return self.rtol is not None

    @property
    def time_step_cut_gap(self):
        """The dt-versus-dt/2 gap of a fixed-step study (None under error control)."""
        return None if self.error_control else self.integration_cut_gap

    @property
    def tolerance_cut_gap(self):
        """The tol-versus-tol/10 gap of an error-controlled study (None for fixed steps)."""
        return self.integration_cut_gap if self.error_control else None

    def table(self) -> str:
        """A text table: mean bracket over seeds per (n, t), and the fitted rate per t."""
        lines = []
        head = f"{'n':>6} " + " ".join(f"{'t=' + format(t, '.3g'):>23}" for t in self.times)
        lines.append("cut distance to the reference flow: mean [lower, upper] over seeds")
        lines.append(head)
        for i, n in enumerate(self.ns):
            cells = []
            for k in range(len(self.times)):
                lo = self.lower[i, :, k].mean()
                up = self.upper[i, :, k].mean()
                cells.append(f"[{lo:9.3g}, {up:9.3g}]")
            lines.append(f"{n:6d} " + " ".join(f"{c:>23}" for c in cells))
        lines.append(f"{'rate':>6} " + " ".join(f"{'upper ' + rate_text(r, e):>23}"
                                                  for r, e in zip(self.rate, self.rate_stderr)))
        if self.rate_lower is not None:
            lines.append(f"{'':>6} " + " ".join(f"{'lower ' + rate_text(r, e):>23}"
                                              for r, e in zip(self.rate_lower, self.rate_lower_stderr)))
            lines.append(f"{'':>6} " + " ".join(f"{resolved_text(ok, q):>23}"
                                              for ok, q in zip(self.rate_resolved, self.bracket_ratio)))
        if self.resolution_cut_gap is not None:  # certified, and in the norm of the brackets
            lines.append(
                f"{'ref.':>6} "
                + " ".join(f"{'cut gap <= ' + format(g, '.2e'):>23}" for g in self.resolution_cut_gap)
            )
        lines.append(
            f"{'ref.':>6} "
            + " ".join(f"{'L2 gap ' + format(g, '.2e'):>23}" for g in self.resolution_gap)
        )
        if self.integration_cut_gap is not None:
            name = "tol/10" if self.error_control else "dt/2"
            lines.append(
                f"{name:>6} "
                + " ".join(f"{'cut gap <= ' + format(g, '.2e'):>23}" for g in self.integration_cut_gap)
            )
            lines.append(f"integration check: {self.integration_check}")
        return "\n".join(lines)


#: distances at or below this are rounding noise (flows that reached the same state), not
#: data: the rate fit leaves them out, and reports NaN when fewer than two sizes remain
RATE_FLOOR = 1e-12

#: a fitted rate is *resolved* only if upper / lower <= RESOLVED_RATIO at every (n, seed)
#: point of the fit; wider brackets leave the exponent of the distance itself open
RESOLVED_RATIO = 2.0


def rate_text(r, se, digits=3):
    """``"-0.500 ± 0.050"``; ``"-0.500"`` with no standard error; ``"n/a"`` with no fit."""
    if r is None or not math.isfinite(r):
        return "n/a"
    if se is None or not math.isfinite(se):
        return f"{r:+.{digits}f} ± n/a"
    return f"{r:+.{digits}f} ± {se:.{digits}f}"


def resolved_text(ok, ratio):
    """``"resolved (ratio 1.4)"`` or ``"UNRESOLVED (ratio 77)"``; ``"no fit"`` without a rate."""
    if ratio is None or math.isnan(ratio):
        return "no fit"
    q = "inf" if math.isinf(ratio) else format(ratio, ".3g")
    return f"resolved (ratio {q})" if ok else f"UNRESOLVED (ratio {q})"


def _fit_power(ns, y):
    """Least squares log y = a + r log n over all (n, sample) pairs above RATE_FLOOR.

    Returns (r, se, a): se is the ordinary least-squares standard error of r,
    sqrt(s^2 / sum((x - mean x)^2)) with s^2 = sum(residuals^2) / (points - 2) (NaN with two
    points); all three are NaN when fewer than two sizes remain.
    """
    x = np.repeat(np.log(ns.astype(float)), y.shape[1])
    v = y.reshape(-1)
    ok = v > RATE_FLOOR
    if ok.sum() < 2 or len(set(x[ok])) < 2:
        return math.nan, math.nan, math.nan
    x, v = x[ok], np.log(v[ok])
    X = np.column_stack([np.ones_like(x), x])
    coef, *_ = np.linalg.lstsq(X, v, rcond=None)
    dof = len(v) - 2
    if dof <= 0:
        return float(coef[1]), math.nan, float(coef[0])
    resid = v - X @ coef
    s2 = float(resid @ resid) / dof
    cov = s2 * np.linalg.inv(X.T @ X)
    return float(coef[1]), float(math.sqrt(max(cov[1, 1], 0.0))), float(coef[0])


def _fit_rate(ns, y):
    """(r, stderr) of :func:`_fit_power`."""
    return _fit_power(ns, y)[:2]


def fit_rates(ns, lower, upper):
    """Fit both bounds at every time: a dict of the ``rate*`` and ``bracket_ratio`` arrays of
    :class:`ConvergenceStudy` from brackets of shape (N, seeds, T).

    >>> ns = np.array([10, 40])
    >>> up = np.array([[[0.2]], [[0.1]]]); lo = up / np.array([[[1.5]], [[3.0]]])
    >>> f = fit_rates(ns, lo, up)
    >>> [round(float(f[k][0]), 3) for k in ("rate", "rate_lower", "bracket_ratio")], bool(f["rate_resolved"][0])
    ([-0.5, -1.0, 3.0], False)
    """
    ns = np.asarray(ns)
    lower, upper = np.asarray(lower, dtype=float), np.asarray(upper, dtype=float)
    T = upper.shape[2]
    out = {k: np.full(T, np.nan) for k in ("rate", "rate_stderr", "rate_intercept", "rate_lower",
                                           "rate_lower_stderr", "rate_lower_intercept", "bracket_ratio")}
    out["rate_resolved"] = np.zeros(T, dtype=bool)
    if len(ns) < 2:
        return out
    for k in range(T):
        out["rate"][k], out["rate_stderr"][k], out["rate_intercept"][k] = _fit_power(ns, upper[:, :, k])
        lo = lower[:, :, k]
        out["rate_lower"][k], out["rate_lower_stderr"][k], out["rate_lower_intercept"][k] = _fit_power(ns, lo)
        if math.isfinite(out["rate"][k]):
            used = upper[:, :, k] > RATE_FLOOR
            with np.errstate(divide="ignore", invalid="ignore"):
                q = np.where(lo[used] > 0, upper[:, :, k][used] / np.where(lo[used] > 0, lo[used], 1.0), np.inf)
            out["bracket_ratio"][k] = float(q.max())
            out["rate_resolved"][k] = bool(q.max() <= RESOLVED_RATIO)
    return out


def finite_start(W0, n, s, base, kind="weighted"):
    """The initial graph of size n and seed s in a study seeded by ``base``: a W-random
    sample with sorted latent positions, from its own stream ``[base, 1, n, s]``."""
    return sample(W0, int(n), rng=np.random.default_rng([base, 1, int(n), int(s)]), kind=kind,
                  sort_labels=True)


def convergence_study(
    F,
    W0,
    ns,
    t1,
    *,
    times=None,
    seeds: int = 1,
    dt: float = None,
    rtol: float = None,
    atol: float = None,
    integrator: str = None,
    resolution: int = 128,
    kind: str = "weighted",
    rng=None,
    box=(0.0, 1.0),
    cut_options=None,
    progress=None,
    curve_times=None,
    keep_states: bool = False,
    flow_progress=None,
    on_flow=None,
    check_integration: bool = False,
    check_time_step: bool = False,
    restore=None,
    client=None,
    workers=None,
    cluster_progress=None,
    task_threads=None,
) -> ConvergenceStudy:
    r"""Measure how fast finite-n gradient flows approach their graphon limit in cut distance.

    Parameters
    ----------
    F : Functional
        The functional whose flow is studied, e.g. ``HomDensity("C5") + 0.125 * Entropy()``.
    W0 : Graphon, callable f(x, y) or StepGraphon
        The initial graphon.
    ns : sequence of int
        Graph sizes n.
    t1 : float
        Final graphon time.
    times : sequence of float, optional
        Times (in [0, t1]) at which distances are measured; default ``(0, t1/2, t1)``.
        Time 0 is allowed and measures the sampling error alone.
    seeds : int
        Independent initial graphs per size (error bars).
    dt : float, optional
        Fixed steps: the step size (graphon time) of every flow.  Together with ``rtol``: the
        first trial step of error control.
    rtol, atol : float, optional
        Error control: every flow chooses its own steps so that each accepted step has local
        error <= atol + rtol |W| entry-wise (atol defaults to 1e-3 rtol, as in
        :func:`~graphonflow.flow.flow`).  Give ``dt`` or ``rtol``.
    integrator : str, optional
        Passed to :func:`~graphonflow.flow.flow`; default ``"dp54"`` with error control (which
        needs an integrator with an error estimate: dp54, ark54, ark43, ark32, bs32) and
        ``"prox"`` for fixed steps.
    resolution : int
        Blocks m of the reference flow; it is run at m and 2m, and the 2m run is the reference.
    kind : {"weighted", "simple"}
        Initial graphs: A_ij = W0(U_i, U_j) or Bernoulli(W0(U_i, U_j)) with a zero diagonal.
        Simple graphs start on the faces of [0, 1]: functionals with an entropy term need
        weighted starts.
    rng : None, int or Generator
        Randomness of sampling and of the cut-norm method; same seed, same study.  One number
        is drawn from it, and every sample and every cut-norm computation gets its own stream
        derived from that number, (n, seed) and the time index: the initial graphs depend on
        the seed alone, so studies of different functionals with the same seed start from the
        same graphs.
    box : (lo, hi)
        Box of all flows.
    cut_options : dict, optional
        Extra keywords for :func:`~graphonflow.cut.cut_distance`.
    progress : callable(str), optional
        Called with a short line after each finished flow.
    curve_times : sequence of float, optional
        Extra times in [0, t1] at which every flow records its energy and projected-gradient
        norm (no states are kept there), for energy curves.  Every flow lands on each of them
        (no interpolation), so under error control dense curve times cost steps.
    keep_states : bool
        Keep the first seed's finite states at ``times`` (``finite_states``), e.g. for
        snapshots; costs len(times) n x n arrays per size.
    flow_progress : callable(label) -> callable(t, dt, energy) or None, optional
        Called before each flow with a label such as ``"n=200 seed 0"``; the callable it
        returns is passed to :func:`~graphonflow.flow.flow` as ``progress``.  If that object
        has a ``close()`` method it is called when the flow ends (progress bars).
    on_flow : callable(label, dict), optional
        Called after each finished flow (and its distances) with a dict of its results:
        ``times``, ``energies``, ``grad_norms`` (curves), ``status``, ``message``,
        ``controller``, ``wall_time`` (seconds in the flow), ``states`` (the states at
        ``times`` as a list of arrays: for the references always, for finite flows only the
        ones ``keep_states`` keeps, else an empty list), and for finite flows ``n``, ``seed``,
        ``lower``, ``upper``, ``delta2_upper``.  Use it to checkpoint a long study so that
        finished work survives an interruption.
    restore : callable(label) -> dict or None, optional
        Resuming: called before each flow with its label; a dict as ``on_flow`` received it
        for that flow is used instead of running the flow (and, for a finite flow, instead of
        computing its distances), None runs it.  Everything else is derived exactly as
        before, so a study restored from its own ``on_flow`` records equals the uninterrupted
        one bit for bit.  ``restored`` lists the flows taken this way; ``on_flow`` is not
        called for them.
    check_integration : bool
        Also run the m-block reference once more, integrated more accurately -- at rtol/10 and
        atol/10 under error control, with step dt/2 for fixed steps -- and report
        ``integration_cut_gap``: a certified upper bound on how far the time integration moves
        the reference, in the norm of the brackets.
    check_time_step : bool
        The older name of ``check_integration``.
    client : dask.distributed.Client, optional
        Run the study on this cluster: every reference and finite flow is one task, the
        brackets of each finite flow another one, and the results equal the serial run's bit
        for bit (each flow draws from its own stream and runs under this process's BLAS and
        Numba thread counts, :mod:`graphonflow.cluster.sweep`).  ``on_flow`` and ``progress``
        are called here, in this process, as tasks finish (not in the order of the serial
        run); ``flow_progress`` is not used.  Needs the ``cluster`` extra.
    workers : int, optional
        Instead of ``client``: start a local cluster of this many worker processes for the
        duration of the call.
    cluster_progress : callable(label, done, total), optional
        With a cluster: called after each finished task.
    task_threads : int, optional
        With a cluster: run every task with this many BLAS and Numba threads instead of this
        process's counts.  The results are then those of a serial run under the same counts
        (``OPENBLAS_NUM_THREADS=k NUMBA_NUM_THREADS=k``), which can differ from the default
        serial run in the last bits; one thread per task avoids oversubscribing the cores.

    Returns
    -------
    ConvergenceStudy

    Examples
    --------
    >>> from graphonflow import HomDensity, EdgeDensity
    >>> from graphonflow.graphons import mean_xy
    >>> s = convergence_study(HomDensity("K3") - EdgeDensity(), mean_xy(), [20, 40], 0.5,
    ...                       rtol=1e-6, resolution=16, rng=1, check_integration=True)
    >>> s.upper.shape, s.integrator, s.integration_check
    ((2, 1, 3), 'dp54', 'rtol=1e-06, atol=1e-09 vs rtol/10, atol/10 (dp54)')
    >>> bool(np.all(s.lower <= s.upper)), bool(np.all(s.integration_cut_gap < 1e-6))
    (True, True)

    References
    ----------
    S. Oh, S. Pal, R. Somani, R. Tripathi, Gradient flows on graphons: existence,
    convergence, continuity equations, J. Theor. Probab. 37 (2024), arXiv:2111.09459.
    """
    t_start = time.perf_counter()
    plan = make_plan(F, W0, ns, t1, times=times, seeds=seeds, dt=dt, rtol=rtol, atol=atol, integrator=integrator,
                     resolution=resolution, kind=kind, rng=rng, box=box, cut_options=cut_options,
                     curve_times=curve_times, keep_states=keep_states,
                     check=bool(check_integration or check_time_step))
    hooks = _Hooks(progress, on_flow, restore)
    if client is not None or workers is not None:
        from .cluster.sweep import cluster_client

        with cluster_client(client, workers) as cl:
            job = _ClusterStudy(plan, cl, hooks, task_settings(task_threads))
            run_cluster_jobs(cl, [job], task_done=cluster_progress)
            outcomes = job.outcomes()
    else:
        outcomes = _run_serial(plan, hooks, flow_progress)
    return _assemble(plan, outcomes, t_start)


def make_plan(F, W0, ns, t1, *, times=None, seeds=1, dt=None, rtol=None, atol=None, integrator=None, resolution=128,
              kind="weighted", rng=None, box=(0.0, 1.0), cut_options=None, curve_times=None, keep_states=False,
              check=False):
    """Validate the arguments of :func:`convergence_study` (same meaning) and fix what every flow
    of the study needs, its seed included (one number drawn from ``rng``).  Internal: run_study
    plans several studies before running them together on a cluster."""
    ns = np.asarray(sorted(int(n) for n in ns))
    if ns.size == 0 or ns[0] < 2:
        raise ValueError("ns must hold graph sizes >= 2")
    if int(seeds) != seeds or seeds < 1:
        raise ValueError(f"seeds must be a positive integer, got {seeds!r}")
    if int(resolution) != resolution or resolution < 1:
        raise ValueError(f"resolution must be a positive integer, got {resolution!r}")
    t1 = float(t1)
    if not (t1 > 0 and math.isfinite(t1)):
        raise ValueError(f"t1 must be positive and finite, got {t1}")
    times = np.asarray([0.0, t1 / 2, t1] if times is None else sorted(float(t) for t in times))
    if times.size == 0 or times[0] < 0 or times[-1] > t1:
        raise ValueError(f"times must lie in [0, t1] = [0, {t1}]")
    if kind not in ("weighted", "simple"):
        raise ValueError(f"kind must be 'weighted' or 'simple', got {kind!r}")
    # ---- how the flows are integrated: error control (rtol/atol) or fixed steps (dt)
    if atol is not None and rtol is None:
        raise ValueError("atol needs rtol: give rtol= (and optionally atol=) for error control, or dt= for fixed steps")
    error_control = rtol is not None
    if not error_control and dt is None:
        raise ValueError("give a fixed step dt= or a tolerance rtol= (error control)")
    if dt is not None:
        dt = float(dt)
        if not (math.isfinite(dt) and dt > 0):
            raise ValueError(f"dt must be positive and finite, got {dt}")
    integ = get_integrator(("dp54" if error_control else "prox") if integrator is None else integrator)
    # a registered name builds a fresh integrator for every flow; an Integrator object is passed on
    integ_arg = integ.name if integrator is None or isinstance(integrator, str) else integrator
    if error_control:
        if not integ.has_error_estimate:
            raise ValueError(
                f"integrator {integ.name!r} gives no error estimate, so it cannot run under error control "
                "(rtol); use 'dp54' (the default), 'ark54', 'ark43', 'ark32' or 'bs32', or a fixed dt")
        ctrl = PIDController(rtol, atol)  # validates the tolerances
        rtol, atol = ctrl.rtol, ctrl.atol  # atol as used (1e-3 rtol unless given)
        if check:
            PIDController(rtol / 10, atol / 10)  # the tighter run must be possible too
        how = dict(rtol=rtol, atol=atol, dt=dt)
        check_how = dict(rtol=rtol / 10, atol=atol / 10, dt=dt)
        check_text = f"rtol={rtol:g}, atol={atol:g} vs rtol/10, atol/10 ({integ.name})"
        check_label = "tol/10"
    else:
        how = dict(dt=dt)
        check_how = dict(dt=dt / 2)
        check_text = f"dt={dt:g} vs dt/2 ({integ.name})"
        check_label = "dt/2"
    if curve_times is None:
        ctimes = np.union1d(times, [t1])  # the flow always saves its final state
    else:
        ct = np.asarray([float(t) for t in curve_times])
        if ct.size and (not np.all(np.isfinite(ct)) or ct.min() < 0 or ct.max() > t1):
            raise ValueError(f"curve_times must lie in [0, t1] = [0, {t1}]")
        ctimes = np.union1d(np.union1d(times, ct), [t1])
    # merge times closer than the flow's landing tolerance, keeping the measured ones
    t_tol = 1e-9 * max(t1, 1.0)
    keep = [ctimes[0]]
    for t in ctimes[1:]:
        if t - keep[-1] > t_tol:
            keep.append(t)
        elif np.any(np.abs(times - t) <= t_tol):
            keep[-1] = t
    ctimes = np.asarray(keep)
    measured = [int(np.argmin(np.abs(ctimes - t))) for t in times]
    measured_set = set(measured)
    # one draw from rng seeds everything below, each sample and each cut-norm computation from
    # its own stream: the samples do not depend on how much randomness the cut-norm method
    # used, so studies with the same seed share their samples whatever the functional
    base = int(as_rng(rng).integers(2**63))
    plan = _Plan(
        F=F, W0=W0, ns=ns, seeds=int(seeds), t1=t1, times=times, ctimes=ctimes, measured=measured,
        measured_set=measured_set, t_tol=t_tol, base=base, how=how, check_how=check_how, check=check,
        check_text=check_text, check_label=check_label, integ_arg=integ_arg, integ_name=integ.name, box=box,
        kind=kind, resolution=int(resolution), cut_options=dict(cut_options or {}), keep_states=keep_states,
        error_control=error_control, rtol=rtol, atol=atol, dt=dt,
    )
    return plan


# --------------------------------------------------------------------------- the work of a study
class _Plan:
    """What every flow of a study needs (validated by :func:`convergence_study`); picklable, so
    that cluster tasks receive it whole."""

    def __init__(self, **kw):
        self.__dict__.update(kw)

    def slot(self, t):
        """The index of saved time t in ctimes, or None (the always-saved t = 0 of a flow whose
        save times do not include it)."""
        j = int(np.argmin(np.abs(self.ctimes - t)))
        return j if abs(self.ctimes[j] - t) <= self.t_tol else None

    def start(self, j):
        """The reference's initial step graphon: j = 0 on ``resolution`` blocks, j = 1 on twice as many."""
        m = (1, 2)[j] * self.resolution
        W0 = self.W0
        return W0 if (isinstance(W0, StepGraphon) and W0.m == m) else block_average(W0, m)

    def ref_label(self, j):
        return f"reference m={(1, 2)[j] * self.resolution}"

    def check_label_full(self):
        return f"reference m={self.resolution} {self.check_label}"

    def finite_labels(self):
        """((i, n), s, label) for every finite flow, in the order of the serial run."""
        return [((i, int(n)), s, f"n={n} seed {s}") for i, n in enumerate(self.ns) for s in range(self.seeds)]


class _Hooks:
    """The caller's callbacks (progress lines, checkpoints, restore), with do-nothing defaults."""

    def __init__(self, progress, on_flow, restore):
        self.report = progress or (lambda s: None)
        self.checkpoint = on_flow or (lambda label, data: None)
        self.lookup = restore or (lambda label: None)


def _run_flow(plan, B0, label, kw, bar=None):
    """Run one flow of the study: a dict with its saved curves, status, message, controller, wall
    time and its states at the measured times (``restored`` None)."""
    tf = time.perf_counter()

    def keep_measured(t, B):  # states only at the measured times, curves everywhere
        return np.array(B, dtype=np.float64) if plan.slot(t) in plan.measured_set else None

    try:
        r = flow(plan.F, B0, t1=plan.t1, integrator=plan.integ_arg, box=plan.box, save_at=plan.ctimes,
                 save_fn=keep_measured, progress=bar, **kw)
    finally:
        if bar is not None and hasattr(bar, "close"):
            bar.close()
    if not r.success:
        raise RuntimeError(f"a flow in the convergence study ({label}) failed: {r.message}")
    # the saved times, by time: t = 0 is always saved, whether or not ctimes holds it
    rows = {}
    for i, t in enumerate(r.times):
        j = plan.slot(t)
        if j is not None:
            rows.setdefault(j, i)
    missing = [float(plan.ctimes[j]) for j in range(len(plan.ctimes)) if j not in rows]
    if missing:
        raise RuntimeError(f"{label}: the flow did not save at t = {', '.join(f'{t:g}' for t in missing)}")
    idx = [rows[j] for j in range(len(plan.ctimes))]
    return dict(
        restored=None, states=[r.states[rows[j]] for j in plan.measured],
        times=np.asarray(r.times)[idx], energies=np.asarray(r.energies)[idx],
        grad_norms=np.asarray(r.grad_norms)[idx], status=r.status, message=r.message,
        controller=r.controller, wall_time=time.perf_counter() - tf,
    )


def _restored_outcome(rec):
    """A flow's outcome from its checkpoint record (as ``on_flow`` received it)."""
    return dict(restored=rec, states=[np.asarray(B, dtype=np.float64) for B in rec.get("states", [])],
                times=np.asarray(rec["times"], dtype=float), energies=np.asarray(rec["energies"], dtype=float),
                grad_norms=np.asarray(rec["grad_norms"], dtype=float), status=Status(rec["status"]),
                message=rec["message"], controller=rec.get("controller", ""),
                wall_time=float(rec.get("wall_time", math.nan)))


def _checkpoint_data(o, states=True, **extra):
    return {"times": o["times"], "energies": o["energies"], "grad_norms": o["grad_norms"],
            "status": o["status"], "message": o["message"], "controller": o["controller"],
            "wall_time": o["wall_time"], "states": list(o["states"]) if states else [], **extra}


def _graphons(states, widths):
    return [StepGraphon(np.asarray(B, dtype=np.float64), widths) for B in states]


def _reference_gaps(plan, o0, o1):
    """(L2 gap, certified cut-norm gap) between the m- and 2m-block references at every measured time."""
    r0 = _graphons(o0["states"], plan.start(0).widths)
    r1 = _graphons(o1["states"], plan.start(1).widths)
    gap = np.asarray([l2_distance(a, b) for a, b in zip(r0, r1)])
    cut_gap = np.asarray([cut_norm(a, b, rng=np.random.default_rng([plan.base, 3, k])).upper
                          for k, (a, b) in enumerate(zip(r0, r1))])
    return gap, cut_gap


def _integration_gap(plan, o0, oc):
    """The certified cut-norm gap between the m-block reference and its more accurate rerun."""
    w = plan.start(0).widths
    r0 = _graphons(o0["states"], w)
    return np.asarray([
        cut_norm(a, StepGraphon(np.asarray(B, dtype=np.float64), w), rng=np.random.default_rng([plan.base, 4, k])).upper
        for k, (a, B) in enumerate(zip(r0, oc["states"]))
    ])


def _brackets(plan, states, o_ref, n, s):
    """(lower, upper, delta2_upper) of one finite flow against the 2m-block reference."""
    reference = _graphons(o_ref["states"], plan.start(1).widths)
    T = len(plan.times)
    lower, upper, d2 = np.zeros(T), np.zeros(T), np.zeros(T)
    for k, B in enumerate(states):
        res = cut_distance(np.asarray(B, dtype=np.float64), reference[k],
                           rng=np.random.default_rng([plan.base, 2, int(n), s, k]), **plan.cut_options)
        lower[k], upper[k], d2[k] = res.lower, res.upper, res.delta2_upper
    return lower, upper, d2


def _run_serial(plan, hooks, flow_progress):
    """Every flow of the study in order, in this process; checkpoints and progress lines as they end."""
    report, checkpoint, lookup = hooks.report, hooks.checkpoint, hooks.lookup
    restored = []

    def run(B0, label, kw):
        rec = lookup(label)
        if rec is not None:
            restored.append(label)
            report(f"{label}: restored from the checkpoint ({rec['message']})")
            return _restored_outcome(rec)
        bar = flow_progress(label) if flow_progress is not None else None
        return _run_flow(plan, B0, label, kw, bar)

    refs = []
    for j in (0, 1):
        S0 = plan.start(j)
        label = plan.ref_label(j)
        o = run(S0, label, plan.how)
        refs.append(o)
        if o["restored"] is None:
            checkpoint(label, _checkpoint_data(o, blocks=S0.m))
            report(f"reference flow on {S0.m} blocks: {o['message']}")
    gap, cut_gap = _reference_gaps(plan, refs[0], refs[1])
    check_o, int_gap = None, None
    if plan.check:  # the m-block reference again, integrated more accurately, on the same landing times
        S0 = plan.start(0)
        label = plan.check_label_full()
        check_o = run(S0, label, plan.check_how)
        if check_o["restored"] is None:
            checkpoint(label, _checkpoint_data(check_o, blocks=S0.m))
        int_gap = _integration_gap(plan, refs[0], check_o)
        report(f"integration check ({plan.check_text} at {S0.m} blocks): {check_o['message']}; cut-norm gap <= "
               f"{', '.join(f'{g:.2g}' for g in int_gap)}")
    finite = {}
    for (i, n), s, label in plan.finite_labels():
        if lookup(label) is None:  # a restored flow needs no sample
            A0 = finite_start(plan.W0, n, s, plan.base, plan.kind).matrix
        else:
            A0 = None
        o = run(A0, label, plan.how)
        keep_this = plan.keep_states and s == 0
        rec = o["restored"]
        if rec is not None:
            o["lower"], o["upper"], o["delta2_upper"] = rec["lower"], rec["upper"], rec["delta2_upper"]
        else:
            o["lower"], o["upper"], o["delta2_upper"] = _brackets(plan, o["states"], refs[1], n, s)
            checkpoint(label, _checkpoint_data(o, states=keep_this, n=int(n), seed=s, lower=o["lower"],
                                               upper=o["upper"], delta2_upper=o["delta2_upper"]))
            report(f"n={n} seed {s}: {o['message']}; final bracket [{o['lower'][-1]:.3g}, {o['upper'][-1]:.3g}]")
        finite[(i, s)] = o
    return dict(refs=refs, gap=gap, cut_gap=cut_gap, check=check_o, int_gap=int_gap, finite=finite,
                restored=restored)


def _assemble(plan, out, t_start) -> ConvergenceStudy:
    """The :class:`ConvergenceStudy` from the outcomes of its flows (however they were run)."""
    ns, times, seeds = plan.ns, plan.times, plan.seeds
    refs = out["refs"]
    statuses = [o["status"] for o in refs]
    messages = [o["message"] for o in refs]
    controller = refs[0]["controller"] or refs[1]["controller"]
    ref_curves = (refs[1]["energies"], refs[1]["grad_norms"])
    reference = tuple(_graphons(refs[1]["states"], plan.start(1).widths))
    shape = (len(ns), seeds, len(times))
    lower = np.zeros(shape)
    upper = np.zeros(shape)
    d2 = np.zeros(shape)
    energies = np.zeros(shape)
    curve_e = np.zeros((len(ns), seeds, len(plan.ctimes)))
    curve_g = np.zeros_like(curve_e)
    walls = np.zeros((len(ns), seeds))
    kept = {}
    measured = plan.measured
    for (i, n), s, _ in plan.finite_labels():
        o = out["finite"][(i, s)]
        walls[i, s] = o["wall_time"]
        statuses.append(o["status"])
        messages.append(o["message"])
        energies[i, s] = o["energies"][measured]
        curve_e[i, s] = o["energies"]
        curve_g[i, s] = o["grad_norms"]
        if plan.keep_states and s == 0:
            kept[int(n)] = tuple(o["states"])
        lower[i, s] = o["lower"]
        upper[i, s] = o["upper"]
        d2[i, s] = o["delta2_upper"]
    fits = fit_rates(ns, lower, upper)
    error_control = plan.error_control
    return ConvergenceStudy(
        ns=ns,
        times=times,
        seeds=seeds,
        lower=lower,
        upper=upper,
        delta2_upper=d2,
        rate=fits["rate"],
        rate_stderr=fits["rate_stderr"],
        resolution=plan.resolution,
        resolution_gap=out["gap"],
        reference=reference,
        energies=energies,
        reference_energies=np.asarray(ref_curves[0])[measured],
        statuses=tuple(statuses),
        wall_time=time.perf_counter() - t_start,
        resolution_cut_gap=out["cut_gap"],
        messages=tuple(messages),
        flow_wall_times=walls,
        curve_times=plan.ctimes,
        curve_energies=curve_e,
        curve_grad_norms=curve_g,
        reference_curve_energies=np.asarray(ref_curves[0]),
        reference_curve_grad_norms=np.asarray(ref_curves[1]),
        finite_states=kept if plan.keep_states else None,
        integration_cut_gap=out["int_gap"],
        integration_check=plan.check_text if plan.check else "",
        integrator=plan.integ_name,
        rtol=plan.rtol if error_control else None,
        atol=plan.atol if error_control else None,
        dt=plan.dt,
        controller=controller,
        rate_lower=fits["rate_lower"],
        rate_lower_stderr=fits["rate_lower_stderr"],
        rate_intercept=fits["rate_intercept"],
        rate_lower_intercept=fits["rate_lower_intercept"],
        bracket_ratio=fits["bracket_ratio"],
        rate_resolved=fits["rate_resolved"],
        restored=tuple(out["restored"]),
        base_seed=plan.base,
    )


# --------------------------------------------------------------------------- on a cluster
def _task_flow(plan, B0, label, kw):
    """A cluster task: one reference flow (or the integration check)."""
    return _run_flow(plan, B0, label, kw)


def _task_finite(plan, n, s, label):
    """A cluster task: sample the initial graph of (n, seed s) from its own stream and run its flow."""
    return _run_flow(plan, finite_start(plan.W0, n, s, plan.base, plan.kind).matrix, label, plan.how)


def _task_brackets(plan, o, o_ref, n, s, keep):
    """A cluster task: the brackets of a finished finite flow; its states are dropped unless kept."""
    lo, up, d2 = _brackets(plan, o["states"], o_ref, n, s)
    o = dict(o, lower=lo, upper=up, delta2_upper=d2)
    if not keep:
        o["states"] = []
    return o


def _task_reference_gaps(plan, o0, o1):
    return _reference_gaps(plan, o0, o1)


def _task_integration_gap(plan, o0, oc):
    return _integration_gap(plan, o0, oc)


def _work(m):
    """A rough relative cost of a flow on m vertices, m^3 (the order in which tasks start: the
    largest first, so that no long flow starts last)."""
    return int(m) ** 3


class _ClusterStudy:
    """A convergence study run as tasks on a ``dask.distributed`` cluster.

    Every reference and finite flow is one task, each finite flow's brackets another one (it
    waits for the 2m-block reference), the two gaps of the references two more.  ``start``
    submits them all; :func:`run_cluster_jobs` hands each finished task to ``done`` in this
    process, which checkpoints it (``on_flow``) and reports it; ``outcomes`` then holds what the
    serial run would have computed, so :func:`_assemble` builds the same study.
    """

    def __init__(self, plan, client, hooks, settings=None):
        self.plan, self.client, self.hooks = plan, client, hooks
        self.settings = settings
        self.refs = [None, None]
        self.check = None
        self.gaps = None
        self.int_gap = None
        self.finite = {}
        self.restored = []

    def _submit(self, fn, *args, label, priority):
        from .cluster.sweep import submit

        return submit(self.client, fn, *args, label=label, priority=priority, settings=self.settings)

    def start(self):
        """Submit every task; returns [(future, handler)] for the ones whose results come back."""
        from .cluster.sweep import thread_settings

        plan, lookup, report = self.plan, self.hooks.lookup, self.hooks.report
        if self.settings is None:
            self.settings = thread_settings()
        watch = []
        ref_arg = [None, None]
        for j in (0, 1):
            S0, label = plan.start(j), plan.ref_label(j)
            rec = lookup(label)
            if rec is not None:
                self.restored.append(label)
                report(f"{label}: restored from the checkpoint ({rec['message']})")
                self.refs[j] = _restored_outcome(rec)
                ref_arg[j] = self.client.scatter([self.refs[j]], hash=False)[0]
            else:
                fut = self._submit(_task_flow, plan, S0, label, plan.how, label=label, priority=_work(S0.m))
                ref_arg[j] = fut
                watch.append((fut, self._on_ref(j, label, S0.m)))
        fut = self._submit(_task_reference_gaps, plan, ref_arg[0], ref_arg[1], label="reference gaps", priority=0)
        watch.append((fut, self._on_gaps))
        if plan.check:
            S0, label = plan.start(0), plan.check_label_full()
            rec = lookup(label)
            if rec is not None:
                self.restored.append(label)
                report(f"{label}: restored from the checkpoint ({rec['message']})")
                self.check = _restored_outcome(rec)
                check_arg = self.client.scatter([self.check], hash=False)[0]
            else:
                check_arg = self._submit(_task_flow, plan, S0, label, plan.check_how, label=label,
                                         priority=3 * _work(S0.m))
                watch.append((check_arg, self._on_check(label, S0.m)))
            fut = self._submit(_task_integration_gap, plan, ref_arg[0], check_arg, label="integration gap", priority=0)
            watch.append((fut, self._on_int_gap))
        for (i, n), s, label in plan.finite_labels():
            rec = lookup(label)
            if rec is not None:
                self.restored.append(label)
                report(f"{label}: restored from the checkpoint ({rec['message']})")
                o = _restored_outcome(rec)
                o["lower"], o["upper"], o["delta2_upper"] = rec["lower"], rec["upper"], rec["delta2_upper"]
                self.finite[(i, s)] = o
                continue
            keep = bool(plan.keep_states and s == 0)
            pr = _work(n)
            f_flow = self._submit(_task_finite, plan, n, s, label, label=label, priority=pr)
            fut = self._submit(_task_brackets, plan, f_flow, ref_arg[1], n, s, keep, label=label + " brackets",
                               priority=pr + 1)
            watch.append((fut, self._on_finite(i, n, s, label, keep)))
        return watch

    # ---- handlers: run in the client as tasks finish
    def _on_ref(self, j, label, m):
        def handle(o):
            self.refs[j] = o
            self.hooks.checkpoint(label, _checkpoint_data(o, blocks=m))
            self.hooks.report(f"reference flow on {m} blocks: {o['message']}")
        return handle

    def _on_check(self, label, m):
        def handle(o):
            self.check = o
            self.hooks.checkpoint(label, _checkpoint_data(o, blocks=m))
            self.hooks.report(f"integration check run ({self.plan.check_text} at {m} blocks): {o['message']}")
        return handle

    def _on_gaps(self, res):
        self.gaps = res

    def _on_int_gap(self, res):
        self.int_gap = res
        self.hooks.report(f"integration check ({self.plan.check_text}): cut-norm gap <= "
                          f"{', '.join(f'{g:.2g}' for g in res)}")

    def _on_finite(self, i, n, s, label, keep):
        def handle(o):
            self.finite[(i, s)] = o
            self.hooks.checkpoint(label, _checkpoint_data(o, states=keep, n=int(n), seed=s, lower=o["lower"],
                                                          upper=o["upper"], delta2_upper=o["delta2_upper"]))
            self.hooks.report(f"n={n} seed {s}: {o['message']}; final bracket "
                              f"[{o['lower'][-1]:.3g}, {o['upper'][-1]:.3g}]")
        return handle

    def outcomes(self):
        return dict(refs=self.refs, gap=self.gaps[0], cut_gap=self.gaps[1], check=self.check, int_gap=self.int_gap,
                    finite=self.finite, restored=self.restored)


def task_settings(task_threads):
    """The thread settings of cluster tasks: None (this process's, see
    :func:`graphonflow.cluster.sweep.thread_settings`) or k BLAS and k Numba threads."""
    if task_threads is None:
        return None
    if isinstance(task_threads, bool) or int(task_threads) != task_threads or int(task_threads) < 1:
        raise ValueError(f"task_threads must be a positive integer (threads per task), got {task_threads!r}")
    return {"blas": int(task_threads), "numba": int(task_threads)}


def run_cluster_jobs(client, jobs, task_done=None):
    """Start every job (objects with ``start()`` returning [(future, handler)]) and hand each
    finished task's result to its handler, in this process, as tasks finish.

    ``task_done(label, done, total)`` is called after each handler (progress).  The first
    failure cancels everything not yet finished and is raised, as are Ctrl-C and SIGTERM (the
    handlers already called have checkpointed their flows).
    """
    from .cluster.sweep import require_distributed

    dd = require_distributed()
    watch = {}
    try:
        for job in jobs:
            for fut, handler in job.start():
                watch[fut.key] = (fut, handler)
        total = len(watch)
        for done, fut in enumerate(dd.as_completed([f for f, _ in watch.values()]), start=1):
            _, handler = watch.pop(fut.key)
            handler(fut.result())
            if task_done is not None:
                task_done(str(fut.key), done, total)
    finally:
        if watch:
            client.cancel([f for f, _ in watch.values()], force=True)

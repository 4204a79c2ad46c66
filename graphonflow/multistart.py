r"""Global minimisation by many flows: constant, two-block, random 0/1 and user starts.

A gradient flow finds a local minimum, the one whose basin holds its start.  Non-convex
functionals have several: the edge-triangle ERGM with a negative triangle coefficient (a
constant branch and a bipartite one), Mantel's problem (complete bipartite graphs of every
split), the upper-tail problem (a constrained one, whose solver
:func:`~graphonflow.tails.upper_tail` runs its own family of hub and clique starts).
:func:`multistart` runs :func:`~graphonflow.flow` from a family of starts, serially or in
worker processes, and returns the best end point and the distinct end points it found.  These
are local minima, or saddles that a symmetric start cannot leave (a constant start of
Mantel's problem stays constant and ends at the saddle 1/sqrt 3).

**Starts** (on m equal blocks, values mapped into the flow's box [lo, hi]):

* ``"constant"``: W = lo + c (hi - lo) for each c in ``levels`` (default 0.1, 0.5, 0.9).  A
  constant stays constant under every flow of a relabelling-invariant F, so these follow the
  constant branch;
* ``"two-block"``: two halves, once bipartite-like (low inside, high across) and once
  clique-like (one half high inside, the rest low), at the extreme levels;
* ``"random"``: ``n_random`` symmetric random 0/1 matrices (iid fair entries on and above the
  diagonal, drawn from ``rng``), moved ``margin`` into the box when F has an entropy or
  rate-function term (their gradients are infinite at 0 and 1);
* user starts: arrays or :class:`~graphonflow.StepGraphon` objects, used as given.

**Distinct minima.**  Two successful runs reached the same minimum when their final energies
agree to ``same_rtol (1 + |F|)`` and their end points are within ``same_atol`` in
:func:`graphon_distance`: the sup norm of U - W after each is put in a canonical form
(twin blocks merged, blocks sorted by degree, width and values) and both are written on
their common refinement.  That distance is the sup norm of U - W^phi for one relabelling phi,
so it bounds the cut distance from above: a distance <= same_atol certifies
delta_cut(U, W) <= same_atol.  When the energies agree but that distance is larger (the
canonical order may fail to align blocks of equal degree and width), the certified upper
bound of :func:`~graphonflow.cut_distance` decides instead.

**Parallel runs.**  With ``workers > 1`` the flows run in a
:class:`concurrent.futures.ProcessPoolExecutor`; the starts are drawn in the parent first,
starts and end states travel as plain arrays, and each flow is the same deterministic
computation as in a serial run, so the results are bit-identical to ``workers=1`` (a test
checks this).  F and the flow options must be picklable for that (library functionals are;
a :class:`~graphonflow.Custom` term built from lambdas is not).  The workers start by "fork"
where the platform has it and numba's threading layer is not GNU OpenMP, else by "spawn",
which needs the calling script's top level under ``if __name__ == "__main__":``
(``mp_context`` chooses).

Examples
--------
>>> import numpy as np
>>> import graphonflow as gf
>>> F = gf.HomDensity("K3") - gf.EdgeDensity()            # Mantel: minimum -1/2
>>> ms = gf.multistart(F, m=8, starts=("constant", "random"), n_random=3, rng=0,
...                    t1=60.0, dt=0.05, integrator="euler", gtol=1e-9)
>>> round(ms.best.energy, 9), len(ms.runs)
(-0.5, 6)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ._validation import as_rng
from .step import StepGraphon

__all__ = ["MultistartRun", "MultistartResult", "multistart", "graphon_distance", "canonical_form", "distinct"]


# --------------------------------------------------------------------------- distances
def _as_bw(W):
    if isinstance(W, StepGraphon):
        return np.asarray(W.values, dtype=np.float64), np.asarray(W.widths, dtype=np.float64)
    if hasattr(W, "W") and hasattr(W, "widths"):  # a FlowResult
        return np.asarray(W.W, dtype=np.float64), np.asarray(W.widths, dtype=np.float64)
    B = np.asarray(W, dtype=np.float64)
    if B.ndim != 2 or B.shape[0] != B.shape[1] or B.shape[0] == 0:
        raise ValueError(f"expected a square matrix, a StepGraphon or a FlowResult, got shape {B.shape}")
    return B, np.full(B.shape[0], 1.0 / B.shape[0])


def canonical_form(W, atol=1e-9):
    """(B, w): W with twin blocks merged and blocks sorted by (degree, width, values), decreasing.

    Blocks i and j are twins when their rows agree to ``atol`` in the sup norm (then
    W(x, .) = W(y, .) for x in I_i, y in I_j up to atol); a merged block keeps the values of its
    first member and the sum of the widths.  A relabelling of a step graphon has the same canonical form whenever
    its merged blocks have distinct (degree, width) pairs.

    >>> B, w = canonical_form(np.array([[0.0, 1, 1], [1, 0, 0], [1, 0, 0]]))
    >>> B.tolist(), [round(float(x), 6) for x in w]
    ([[0.0, 1.0], [1.0, 0.0]], [0.333333, 0.666667])
    """
    B, w = _as_bw(W)
    m = len(w)
    groups = []
    for i in range(m):
        for g in groups:
            if float(np.max(np.abs(B[i] - B[g[0]]))) <= atol:
                g.append(i)
                break
        else:
            groups.append([i])
    k = len(groups)
    wk = np.array([w[g].sum() for g in groups])
    reps = [g[0] for g in groups]
    Bk = B[np.ix_(reps, reps)]  # twins agree to atol: keep the first one's values (exact for exact twins)
    deg = Bk @ wk
    keys = [(-round(float(deg[a]), 12), -round(float(wk[a]), 12), tuple(-np.round(np.sort(Bk[a]), 12)))
            for a in range(k)]
    order = sorted(range(k), key=lambda a: keys[a])
    return Bk[np.ix_(order, order)], wk[order]


def graphon_distance(U, W, atol=1e-9) -> float:
    """sup |U - W| after both are put in :func:`canonical_form` and laid on their common refinement.

    It is the sup norm of U - W^phi for one relabelling phi, hence an upper bound on the L1, L2
    and cut distances delta(U, W); 0 means that U and W are the same graphon.  It is small for
    relabellings of one graphon whenever the canonical order can tell its blocks apart.

    Parameters
    ----------
    U, W : (n, n) array, StepGraphon or FlowResult
    atol : float
        The twin tolerance of :func:`canonical_form`.

    Examples
    --------
    >>> import numpy as np
    >>> A = np.array([[0.0, 1, 1], [1, 0, 1], [1, 1, 0]]) * 0.5
    >>> P = np.eye(3)[[2, 0, 1]]
    >>> graphon_distance(A, P @ A @ P.T)
    0.0
    >>> graphon_distance(np.full((2, 2), 0.5), np.full((3, 3), 0.25))
    0.25
    """
    from .graphons import common_refinement

    BU, wU = canonical_form(U, atol)
    BW, wW = canonical_form(W, atol)
    X, Y, _ = common_refinement(StepGraphon(BU, wU / wU.sum()), StepGraphon(BW, wW / wW.sum()))
    return float(np.max(np.abs(X - Y)))


def distinct(items, *, key, graphon, rtol=1e-9, atol=1e-6, cut_check=False):
    """The distinct items by energy ``key(item)`` and end point ``graphon(item)``, lowest key first.

    Two items are the same when |key difference| <= rtol (1 + |key|) and
    :func:`graphon_distance` <= atol (or, with ``cut_check``, the certified upper bound of
    :func:`~graphonflow.cut_distance` <= atol).  Returns the representatives, one per group, each
    the lowest-key member of its group.

    >>> import numpy as np
    >>> A, B = np.full((2, 2), 0.5), np.full((3, 3), 0.5)      # one graphon, two sizes
    >>> len(distinct([(1.0, A), (1.0, B), (2.0, A)], key=lambda x: x[0], graphon=lambda x: x[1]))
    2
    """
    reps = []
    for it in sorted(items, key=key):
        k = key(it)
        for rep in reps:
            kr = key(rep)
            if abs(k - kr) > rtol * (1.0 + abs(kr)):
                continue
            if _same(graphon(it), graphon(rep), atol, cut_check):
                break
        else:
            reps.append(it)
    return reps


def _same(U, W, atol, cut_check):
    if graphon_distance(U, W) <= atol:
        return True
    if cut_check:
        from .cut import cut_distance

        a = StepGraphon(*_as_bw(U))
        b = StepGraphon(*_as_bw(W))
        return float(cut_distance(a, b, rng=0).upper) <= atol
    return False


# --------------------------------------------------------------------------- results
@dataclass(frozen=True)
class MultistartRun:
    """One flow of :func:`multistart`.

    Attributes
    ----------
    label : str
        The start, e.g. ``"constant 0.5"``, ``"two-block bipartite"``, ``"random 2"``, ``"start 0"``.
    start : ndarray (m, m)
        The initial block values.
    widths : ndarray (m,)
    result : FlowResult
    """

    label: str
    start: np.ndarray
    widths: np.ndarray
    result: object

    @property
    def energy(self) -> float:
        return self.result.energy

    @property
    def success(self) -> bool:
        return self.result.success

    def __repr__(self):
        return f"MultistartRun({self.label!r}, energy={self.energy:.10g}, status={str(self.result.status)!r})"


@dataclass(frozen=True)
class MultistartResult:
    """What :func:`multistart` found.

    Attributes
    ----------
    best : FlowResult
        The successful run with the lowest final energy (the lowest finite one if no run
        succeeded; then ``success`` is False).
    best_run : MultistartRun
    minima : tuple of MultistartRun
        One run per distinct local minimum reached by a successful run, lowest energy first.
    counts : tuple of int
        How many successful runs reached each minimum (same order).
    runs : tuple of MultistartRun
        Every run, in the order of the starts.
    success : bool
        At least one run succeeded.
    """

    best: object
    best_run: MultistartRun
    minima: tuple
    counts: tuple
    runs: tuple
    success: bool

    def __repr__(self):
        return (f"MultistartResult(best energy={self.best.energy:.10g}, minima={len(self.minima)}, "
                f"runs={len(self.runs)}, success={self.success})")


# --------------------------------------------------------------------------- starts
START_FAMILIES = ("constant", "two-block", "random")


def _uses_unit_entropy(F):
    try:
        return F.split().local.needs_unit_interval
    except AttributeError:  # not a Functional: flow() will say so
        return False


def _make_starts(F, m, starts, n_random, levels, rng, box, margin):
    lo, hi = box
    span = hi - lo
    if margin is None:
        margin = 0.02 if _uses_unit_entropy(F) else 0.0
    out = []
    seen = set()
    for k, st in enumerate(starts):
        if isinstance(st, str):
            if st not in START_FAMILIES:
                raise ValueError(f"starts[{k}] = {st!r}: a start family must be one of {START_FAMILIES}, "
                                 "or give an array or StepGraphon")
            if st in seen:
                raise ValueError(f"starts[{k}]: the family {st!r} is listed twice")
            seen.add(st)
            if m is None:
                raise ValueError(f"starts[{k}] = {st!r} needs the number of blocks m")
            if st == "constant":
                for c in levels:
                    out.append((f"constant {c:g}", np.full((m, m), lo + c * span), None))
            elif st == "two-block":
                if m < 2:
                    raise ValueError("the 'two-block' starts need m >= 2")
                a, b = lo + levels[0] * span, lo + levels[-1] * span
                side = np.arange(m) < m // 2
                out.append(("two-block bipartite", np.where(side[:, None] != side[None, :], b, a), None))
                out.append(("two-block clique", np.where(side[:, None] & side[None, :], b, a), None))
            else:
                if not isinstance(n_random, (int, np.integer)) or isinstance(n_random, bool) or n_random < 0:
                    raise ValueError(f"n_random must be a non-negative integer, got {n_random!r}")
                a, b = lo + margin * span, hi - margin * span
                for i in range(int(n_random)):
                    U = np.triu(rng.random((m, m)) < 0.5)
                    U = U | U.T
                    out.append((f"random {i}", np.where(U, b, a), None))
        else:
            if isinstance(st, StepGraphon):
                B, w = np.array(st.values, dtype=np.float64), np.array(st.widths, dtype=np.float64)
            else:
                B = np.array(st, dtype=np.float64)
                if B.ndim != 2 or B.shape[0] != B.shape[1] or B.shape[0] == 0:
                    raise ValueError(f"starts[{k}] must be a square matrix or a StepGraphon, got shape {B.shape}")
                w = None  # a matrix: widths 1/n
            out.append((f"start {k}", B, w))
    if not out:
        raise ValueError("multistart needs at least one start")
    return out


def _default_start_method():
    """'fork' where the platform has it and numba's threading layer is not GNU OpenMP (which
    is not fork-safe once a parallel region has run), else 'spawn'."""
    import multiprocessing as mp

    if "fork" in mp.get_all_start_methods():
        try:
            import numba

            layer = numba.threading_layer()
        except Exception:  # not initialised yet: no parallel region has run
            layer = None
        if layer != "omp":
            return "fork"
    return "spawn"


def _flow_one(F, B, w, kwargs):
    """One flow; B and w travel as plain arrays (w None: a matrix)."""
    from .flow import flow

    return flow(F, B if w is None else StepGraphon(B, w), **kwargs)


def multistart(F, *, m=None, starts=START_FAMILIES, n_random=4, levels=(0.1, 0.5, 0.9), rng=None, workers=1,
               margin=None, same_rtol=1e-6, same_atol=1e-3, mp_context=None, **flow_kwargs) -> MultistartResult:
    r"""Run :func:`~graphonflow.flow` of F from many starts; return the best end point and the
    distinct local minima.

    Parameters
    ----------
    F : Functional
    m : int, optional
        Blocks (equal widths) of the generated starts; needed when ``starts`` names a family.
    starts : sequence
        Start families (``"constant"``, ``"two-block"``, ``"random"``; see the module text) and
        your own starts (arrays or StepGraphons), in the order the runs are listed.
    n_random : int
        The number of random 0/1 starts.
    levels : sequence of float in [0, 1]
        Levels of the constant starts, as fractions of the box; the two-block starts use the
        first and the last.
    rng : None, int or numpy Generator
        Source of the random starts (drawn before any flow runs): the same seed gives the same
        starts and, flows being deterministic, the same result.
    workers : int
        Worker processes; 1 runs serially.  Results are bit-identical either way.
    margin : float, optional
        How far inside the box the random 0/1 starts lie, as a fraction of its width
        (default 0.02 when F has an entropy or rate-function term, else 0).
    same_rtol, same_atol : float
        Two runs reached the same minimum when their energies agree to same_rtol (1 + |F|) and
        :func:`graphon_distance` <= same_atol (see the module text).
    mp_context : {"fork", "spawn", "forkserver"}, optional
        The start method of the worker processes.  Default: "fork" where the platform has it
        and numba's threading layer is not GNU OpenMP, else "spawn" (which needs the calling
        script's top level under ``if __name__ == "__main__":``).
    **flow_kwargs
        Passed to every :func:`~graphonflow.flow` call: ``t1`` (required), ``dt`` or
        ``rtol``/``atol``, ``integrator``, ``gtol``, ``box``, ...

    Returns
    -------
    MultistartResult

    Examples
    --------
    The edge-triangle ERGM with beta = (1, -5): the constant branch and a bipartite one.

    >>> import graphonflow as gf
    >>> ms = gf.multistart(gf.ergm([1.0, -5.0]), m=10, starts=("constant", "two-block"),
    ...                    t1=40.0, dt=0.05, gtol=1e-9)
    >>> len(ms.minima) >= 2, ms.best_run.label
    (True, 'two-block bipartite')
    """
    if "t1" not in flow_kwargs:
        raise TypeError("multistart needs t1= (and a step dt= or a tolerance rtol=), passed on to flow()")
    def _count(x):
        return isinstance(x, (int, np.integer)) and not isinstance(x, bool) and x >= 1

    if m is not None:
        if not _count(m):
            raise ValueError(f"m must be a positive integer, got {m!r}")
        m = int(m)
    if not _count(workers):
        raise ValueError(f"workers must be a positive integer, got {workers!r}")
    workers = int(workers)
    lv = [float(c) for c in np.atleast_1d(np.asarray(levels, dtype=np.float64))]
    if not lv or any(not (0.0 <= c <= 1.0) for c in lv):
        raise ValueError(f"levels must be fractions of the box in [0, 1], got {levels!r}")
    if margin is not None and not (0.0 <= float(margin) < 0.5):
        raise ValueError(f"margin must lie in [0, 0.5), got {margin!r}")
    if isinstance(starts, str):
        starts = (starts,)
    try:
        box = tuple(float(x) for x in flow_kwargs.get("box", (0.0, 1.0)))
        lo, hi = box
    except (TypeError, ValueError):
        raise ValueError(f"box must be a pair (lo, hi), got {flow_kwargs.get('box')!r}") from None
    gen = as_rng(rng)
    plan = _make_starts(F, m, starts, n_random, lv, gen, (lo, hi), margin)
    if workers == 1 or len(plan) == 1:
        results = [_flow_one(F, B, w, flow_kwargs) for _, B, w in plan]
    else:
        import pickle
        from concurrent.futures import ProcessPoolExecutor
        from concurrent.futures.process import BrokenProcessPool
        import multiprocessing as mp

        try:
            pickle.dumps((F, flow_kwargs))
        except Exception as exc:  # lambdas in a Custom term, a progress callback, ...
            raise TypeError(
                f"workers={workers} sends F and the flow options to worker processes, but they cannot be "
                f"pickled ({exc}); use module-level functions in Custom terms, or workers=1"
            ) from None
        method = _default_start_method() if mp_context is None else mp_context
        try:
            ctx = mp.get_context(method)
        except ValueError:
            raise ValueError(f"mp_context must be one of {mp.get_all_start_methods()}, got {mp_context!r}") from None
        try:
            with ProcessPoolExecutor(max_workers=min(workers, len(plan)), mp_context=ctx) as ex:
                futs = [ex.submit(_flow_one, F, B, w, flow_kwargs) for _, B, w in plan]
                results = [f.result() for f in futs]
        except BrokenProcessPool:
            raise RuntimeError(
                f"a worker process of multistart(workers={workers}, mp_context={method!r}) died before it "
                "returned; with 'spawn' the calling script must guard its top level with "
                "if __name__ == '__main__': (see the multiprocessing docs), or use workers=1"
            ) from None

    runs = tuple(MultistartRun(label, B, np.full(B.shape[0], 1.0 / B.shape[0]) if w is None else w, res)
                 for (label, B, w), res in zip(plan, results))
    ok = [r for r in runs if r.success and math.isfinite(r.energy)]
    success = bool(ok)
    pool = ok if ok else [r for r in runs if math.isfinite(r.energy)] or list(runs)
    best_run = min(pool, key=lambda r: r.energy)
    reps = distinct(ok, key=lambda r: r.energy, graphon=lambda r: r.result, rtol=same_rtol, atol=same_atol,
                    cut_check=True)
    counts = [0] * len(reps)
    for r in ok:  # each run counts for the first (lowest) minimum it matches
        for i, rep in enumerate(reps):
            if abs(r.energy - rep.energy) <= same_rtol * (1 + abs(rep.energy)) and _same(r.result, rep.result,
                                                                                       same_atol, True):
                counts[i] += 1
                break
    return MultistartResult(best_run.result, best_run, tuple(reps), tuple(counts), runs, success)

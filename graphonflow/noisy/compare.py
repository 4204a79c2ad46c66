r"""Finite n against the McKean--Vlasov limit.

The entry noise never vanishes, so a finite-n state does not converge to Gamma(t) entry by entry.
Two distances do shrink with n:

* the **cut distance** between the block means of the finite-n state A (the m x m matrix
  Abar_ab = mean of A_ij over i in block a, j in block b, with widths n_a / n) and Gamma(t), with
  the package's certified bracket (:func:`~graphonflow.cut_distance`);
* the **Wasserstein-1 distance** between each block pair's empirical law of entries
  (i in a, j in b; i <= j on the diagonal blocks) and the limit law p_ab(t), computed exactly:
  W1(mu, nu) = \int |F_mu(x) - F_nu(x)| dx with F_nu piecewise linear over the grid cells.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..coerce import as_target
from ..cut import cut_distance
from ..step import StepGraphon

__all__ = ["blow_up", "block_means", "w1_to_cells", "noisy_distances", "NoisyComparison", "noisy_convergence",
           "NoisyConvergence"]


def blow_up(W0, n: int):
    """The n x n matrix of a step graphon: vertex i (midpoint (i + 1/2)/n) lies in the block whose
    interval contains its midpoint, and A_ij = B[label_i, label_j] (diagonal included).

    Returns ``(A, labels)``.

    >>> from graphonflow import StepGraphon
    >>> A, lab = blow_up(StepGraphon([[0.9, 0.1], [0.1, 0.5]], [0.25, 0.75]), 4)
    >>> lab.tolist(), A[0].tolist()
    ([0, 1, 1, 1], [0.9, 0.1, 0.1, 0.1])
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    tgt = as_target(W0, name="W0", continuous=False)
    cum = np.cumsum(tgt.widths)
    cum[-1] = 1.0
    labels = np.searchsorted(cum, (np.arange(n) + 0.5) / n, side="right")
    labels = np.minimum(labels, tgt.m - 1)
    A = np.ascontiguousarray(np.asarray(tgt.values, dtype=np.float64)[np.ix_(labels, labels)])
    return A, labels


def block_means(A, labels, m):
    """(Abar, widths): the block means of A over the label classes, and the class sizes / n."""
    labels = np.asarray(labels)
    n = labels.size
    S = np.zeros((m, n))
    S[labels, np.arange(n)] = 1.0
    counts = S.sum(axis=1)
    if np.any(counts == 0):
        raise ValueError("every block must hold at least one vertex (n too small for the blocks?)")
    Abar = (S @ np.asarray(A, dtype=np.float64) @ S.T) / np.outer(counts, counts)
    return 0.5 * (Abar + Abar.T), counts / n


def w1_to_cells(samples, edges, masses) -> float:
    r"""W1 between the empirical law of ``samples`` and the law with cell masses ``masses`` on the
    cells ``edges`` (uniform density inside each cell), exactly: \int |F_e - F_p| dx.

    >>> round(w1_to_cells([0.5], [0.0, 1.0], [1.0]), 12)   # point 1/2 against U(0, 1)
    0.25
    """
    x = np.sort(np.asarray(samples, dtype=np.float64).ravel())
    edges = np.asarray(edges, dtype=np.float64)
    q = np.asarray(masses, dtype=np.float64)
    q = q / q.sum()
    lo, hi = edges[0], edges[-1]
    x = np.clip(x, lo, hi)
    pts = np.union1d(x, edges)
    Fe = np.searchsorted(x, pts[:-1], side="right") / x.size  # constant on [pts_k, pts_k+1)
    cq = np.concatenate([[0.0], np.cumsum(q)])
    Fp = np.interp(pts, edges, cq)
    g0 = Fe - Fp[:-1]
    g1 = Fe - Fp[1:]
    width = np.diff(pts)
    same = g0 * g1 >= 0
    with np.errstate(invalid="ignore", divide="ignore"):
        cross = (g0 * g0 + g1 * g1) / (2.0 * (np.abs(g0) + np.abs(g1)))
    part = np.where(same, 0.5 * np.abs(g0 + g1), np.nan_to_num(cross))
    return float(np.sum(width * part))


@dataclass(frozen=True)
class NoisyComparison:
    """Distances between one finite-n noisy run and the limit at common times.

    ``cut_lower``/``cut_upper``: the certified bracket on the cut distance between the block
    means and Gamma(t); ``w1_mean``: the Wasserstein-1 distances of the block pairs, weighted by
    the pair's share of the entries (w_a w_b, twice for a < b); ``w1_max`` their maximum."""

    times: np.ndarray
    cut_lower: np.ndarray
    cut_upper: np.ndarray
    w1_mean: np.ndarray
    w1_max: np.ndarray
    n: int


def _match(times_a, times_b, tol=1e-9):
    idx = []
    for k, t in enumerate(times_a):
        j = int(np.argmin(np.abs(times_b - t)))
        if abs(times_b[j] - t) <= tol * max(1.0, abs(t)):
            idx.append((k, j))
    return idx


def noisy_distances(run, limit, labels, *, rng=0) -> NoisyComparison:
    """Compare a :func:`~graphonflow.noisy_flow` run (saved states must be matrices) with a
    :func:`~graphonflow.mckean_vlasov` result, at every time both saved.

    ``labels`` are the vertices' blocks (from :func:`blow_up`).  ``rng`` seeds the randomised
    cut-norm method where it is needed.
    """
    m = limit.m
    pairs = _match(np.asarray(run.times), np.asarray(limit.times))
    if not pairs:
        raise ValueError("the noisy run and the limit have no saved time in common")
    labels = np.asarray(labels)
    members = [np.flatnonzero(labels == a) for a in range(m)]
    lw = limit.widths
    weights = np.array([(1.0 if a == b else 2.0) * lw[a] * lw[b] for a, b in limit.pairs])
    ts, lo_, up_, wm, wx = [], [], [], [], []
    for k, j in pairs:
        A = run.states[k]
        if not isinstance(A, np.ndarray) or A.ndim != 2:
            raise ValueError("the noisy run's saved states must be its matrices (no SaveAt fn)")
        Abar, wn = block_means(A, labels, m)
        cd = cut_distance(StepGraphon(Abar, wn), StepGraphon(limit.means[j], lw), rng=rng)
        w1 = []
        for p, (a, b) in enumerate(limit.pairs):
            blk = A[np.ix_(members[a], members[b])]
            vals = blk[np.triu_indices(blk.shape[0])] if a == b else blk.ravel()
            w1.append(w1_to_cells(vals, limit.edges, limit.laws[j, p]))
        w1 = np.asarray(w1)
        ts.append(run.times[k])
        lo_.append(cd.lower)
        up_.append(cd.upper)
        wm.append(float(weights @ w1 / weights.sum()))
        wx.append(float(w1.max()))
    return NoisyComparison(np.asarray(ts), np.asarray(lo_), np.asarray(up_), np.asarray(wm), np.asarray(wx),
                           int(labels.size))


@dataclass(frozen=True)
class NoisyConvergence:
    """Distances to the limit against n: arrays (len(ns), seeds, len(times)), and fitted rates.

    ``rate_*[k]`` is the least-squares slope of log(distance) on log(n) over every (n, seed) at
    time k, and ``rate_*_se[k]`` its standard error from the residuals (the usual OLS formula,
    sigma_hat / sqrt(sum (log n - mean)^2), with seeds as independent replicates)."""

    ns: np.ndarray
    times: np.ndarray
    cut_lower: np.ndarray
    cut_upper: np.ndarray
    w1_mean: np.ndarray
    rate_cut_upper: np.ndarray
    rate_cut_upper_se: np.ndarray
    rate_w1: np.ndarray
    rate_w1_se: np.ndarray
    limit: object


def _fit(ns, D):
    """Slope and its standard error of log D[i, s] on log ns[i]."""
    x = np.repeat(np.log(ns), D.shape[1])
    y = np.log(np.maximum(D.reshape(-1), 1e-300))
    xm = x - x.mean()
    sxx = float(xm @ xm)
    slope = float(xm @ (y - y.mean()) / sxx)
    resid = y - y.mean() - slope * xm
    dof = max(x.size - 2, 1)
    se = float(np.sqrt(resid @ resid / dof / sxx))
    return slope, se


def noisy_convergence(F, W0, *, ns, seeds, t1, dt, noise, times, rng, cells=400, limit_dt=None,
                      reflect=False) -> NoisyConvergence:
    """Run :func:`~graphonflow.noisy_flow` from the blow-ups of the step graphon W0 at every n in
    ``ns`` with ``seeds`` independent seeds each, the limit once, and the two distances at
    ``times``; fit the rates in n.  Seeds come from ``rng`` (same seed, same numbers)."""
    from .limit import mckean_vlasov
    from .sgd import noisy_flow

    ns = np.asarray(sorted(int(n) for n in ns))
    if ns.size < 2:
        raise ValueError("ns needs at least two sizes to fit a rate")
    gen = np.random.default_rng(rng) if not isinstance(rng, np.random.Generator) else rng
    times = [float(t) for t in times]
    lim = mckean_vlasov(F, W0, t1=t1, noise=noise, dt=limit_dt or dt, cells=cells, save_at=times)
    shape = (ns.size, int(seeds), len(times))
    cl, cu, w1 = np.empty(shape), np.empty(shape), np.empty(shape)
    for i, n in enumerate(ns):
        A0, labels = blow_up(W0, int(n))
        for s in range(int(seeds)):
            run = noisy_flow(F, A0, t1=t1, dt=dt, noise=noise, rng=gen.integers(2**63), save_at=times,
                             reflect=reflect)
            cmp_ = noisy_distances(run, lim, labels)
            keep = [int(np.argmin(np.abs(cmp_.times - t))) for t in times]
            cl[i, s], cu[i, s], w1[i, s] = cmp_.cut_lower[keep], cmp_.cut_upper[keep], cmp_.w1_mean[keep]
    rc = np.array([_fit(ns, cu[:, :, k]) for k in range(len(times))])
    rw = np.array([_fit(ns, w1[:, :, k]) for k in range(len(times))])
    return NoisyConvergence(ns, np.asarray(times), cl, cu, w1, rc[:, 0], rc[:, 1], rw[:, 0], rw[:, 1], lim)

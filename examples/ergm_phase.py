"""The edge-triangle ERGM: phase diagram by gradient flows, against the 1-D variational problem.

The ERGM free energy (Chatterjee-Diaconis 2013) is the maximum over graphons of

    beta1 t(K2, W) + beta2 t(K3, W) - 1/2 E(W),    E(W) = integral of h(W),  h(p) = p log p + (1-p) log(1-p),

and graphonflow *minimises* F = -beta1 t(K2) - beta2 t(K3) + 1/2 E (``ergm([beta1, beta2])``).
For beta2 >= 0 the maximiser is a constant u solving u = sigmoid(2 beta1 + 6 beta2 u^2), i.e. a
maximiser of l(u) = beta1 u + beta2 u^3 - h(u)/2 on (0, 1).  Where l has two local maxima the
model has two branches; the curve where they have equal height is the first-order transition,
which ends at the critical point (Radin-Yin 2013)

    beta = (ln(2)/2 - 3/4, 9/16),  u = 2/3.

The flow of a constant stays constant and solves u' = beta1 + 3 beta2 u^2 - log(u/(1-u))/2, so
flows started low and high land on the two branches.  With beta2 < 0 triangles are penalised and
the optimum need not be constant: a bipartite-like W beats every constant.

Run:  python examples/ergm_phase.py [--out DIR]
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np
from scipy.optimize import brentq

from graphonflow import ergm, flow, multistart

CRITICAL = (math.log(2) / 2 - 0.75, 9 / 16)


def h(u):
    return u * np.log(u) + (1 - u) * np.log1p(-u)


def ell(u, b1, b2):
    """The 1-D objective l(u) = b1 u + b2 u^3 - h(u)/2."""
    return b1 * u + b2 * u**3 - 0.5 * h(u)


def local_maxima(b1, b2, grid=20001):
    """All local maximisers of l on (0, 1), refined by root finding on l'(u) = 0."""
    u = np.linspace(1e-9, 1 - 1e-9, grid)

    def dl(x):
        return b1 + 3 * b2 * x**2 - 0.5 * (np.log(x) - np.log1p(-x))

    d = dl(u)
    roots = []
    for i in np.flatnonzero((d[:-1] > 0) & (d[1:] <= 0)):
        roots.append(brentq(dl, u[i], u[i + 1], xtol=1e-15))
    return roots


def transition_beta1(b2):
    """beta1 on the first-order transition line for beta2 > 9/16: both maxima equally high."""

    def gap(b1):
        r = local_maxima(b1, b2)
        if len(r) < 2:
            return math.nan
        return ell(r[-1], b1, b2) - ell(r[0], b1, b2)

    # the symmetric point of the cubic: along the line the transition sits near b1 = -b2
    lo, hi = -b2 - 0.5, -b2 + 0.5
    b1s = np.linspace(lo, hi, 201)
    gaps = np.array([gap(b) for b in b1s])
    ok = np.flatnonzero(np.isfinite(gaps[:-1]) & np.isfinite(gaps[1:]) & (np.sign(gaps[:-1]) != np.sign(gaps[1:])))
    if not len(ok):
        return math.nan
    i = ok[0]
    return brentq(gap, b1s[i], b1s[i + 1], xtol=1e-12)


def constant_flow(b1, b2, u0, t1=200.0, dt=0.05, n=4):
    """Final value of the flow of F from the constant matrix u0 (it stays constant)."""
    res = flow(ergm([b1, b2]), np.full((n, n), u0), t1=t1, dt=dt, gtol=1e-12)
    W = res.W
    assert np.ptp(W) < 1e-12, "a constant start must stay constant"
    return float(W[0, 0]), res


def main(argv=None, b2_grid=None, b1_grid=None, t1=200.0):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default="ergm-out")
    args = ap.parse_args(argv)
    out = {}

    # 1. two branches at a coexistence point, from low and high constant starts
    b1, b2 = -1.2, 1.2
    maxima = local_maxima(b1, b2)
    lo_end, _ = constant_flow(b1, b2, 0.05, t1=t1)
    hi_end, _ = constant_flow(b1, b2, 0.95, t1=t1)
    print(f"beta = ({b1}, {b2}): local maxima of l: {[round(x, 8) for x in maxima]}")
    print(f"  flow from u0 = 0.05 -> {lo_end:.8f};  from u0 = 0.95 -> {hi_end:.8f}")
    assert len(maxima) == 2
    assert abs(lo_end - maxima[0]) < 1e-7 and abs(hi_end - maxima[1]) < 1e-7
    out["branches"] = (maxima, lo_end, hi_end)

    # 2. the critical point: u = 2/3 is a degenerate (cubic) fixed point, approached slowly
    c1, c2 = CRITICAL
    crit, res = constant_flow(c1, c2, 0.5, t1=4 * t1, dt=0.1)
    print(f"critical point beta = ({c1:.6f}, {c2}): flow from 0.5 -> {crit:.6f} (2/3 = {2 / 3:.6f}), "
          f"|P DF| = {res.grad_norms[-1]:.2e}")
    assert abs(crit - 2 / 3) < 2e-2
    roots = local_maxima(c1, c2)
    assert len(roots) == 1 and abs(roots[0] - 2 / 3) < 1e-4
    out["critical"] = crit

    # 3. phase diagram: flows from low and high constants on a grid, against the 1-D problem
    b2_grid = np.linspace(0.2, 1.6, 8) if b2_grid is None else np.asarray(b2_grid)
    b1_grid = np.linspace(-2.2, 0.0, 8) if b1_grid is None else np.asarray(b1_grid)
    ends = np.zeros((len(b2_grid), len(b1_grid), 2))
    worst = 0.0
    for i, y in enumerate(b2_grid):
        for j, x in enumerate(b1_grid):
            m = local_maxima(x, y)
            for s, u0 in enumerate((0.02, 0.98)):
                ends[i, j, s], _ = constant_flow(x, y, u0, t1=t1)
            # low start ends at the lowest local maximum, high start at the highest
            worst = max(worst, abs(ends[i, j, 0] - m[0]), abs(ends[i, j, 1] - m[-1]))
    print(f"grid of {ends.shape[0] * ends.shape[1]} points: largest distance from a 1-D local maximum {worst:.2e}")
    assert worst < 1e-6
    coexist = np.abs(ends[..., 1] - ends[..., 0]) > 1e-3
    line_b2 = np.linspace(0.6, float(b2_grid.max()), 12)
    line_b1 = np.array([transition_beta1(y) for y in line_b2])
    print("first-order transition line (beta2, beta1):",
          ", ".join(f"({y:.3f}, {x:.4f})" for y, x in zip(line_b2[::3], line_b1[::3])))
    out["grid"] = (b1_grid, b2_grid, ends)

    # 4. beta2 < 0: the problem is not convex.  Flows from constant, two-block and random 0/1
    #    starts (graphonflow.multistart) find the constant branch and a bipartite-like graphon
    #    that beats every constant
    b1, b2 = 1.0, -5.0
    n = 20
    ms = multistart(ergm([b1, b2]), m=n, starts=("constant", "two-block", "random"), n_random=3, rng=0,
                    t1=50.0, dt=0.02)
    res = ms.best
    uu = np.linspace(1e-6, 1 - 1e-6, 200001)
    best_const = -float(np.max(ell(uu, b1, b2)))
    print(f"beta = ({b1}, {b2}): {len(ms.runs)} flows reach {len(ms.minima)} distinct end points, F = "
          + ", ".join(f"{mn.energy:.6f} ({c} runs)" for mn, c in zip(ms.minima, ms.counts))
          + f"; best from '{ms.best_run.label}'; best constant F = {best_const:.6f}")
    assert ms.success and res.energy < best_const - 0.05
    side = res.W[0] > 0.5  # vertex 0's neighbours form the other side
    cross, within = res.W[np.ix_(~side, side)], res.W[np.ix_(side, side)]
    assert cross.min() > 0.8 and within.max() < 0.01
    assert any(abs(mn.energy - best_const) < 1e-6 for mn in ms.minima)  # the constant branch too
    out["bipartite"] = (res.energy, best_const)
    out["multistart"] = ms

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from graphonflow.plotting import plot_graphon

    d = Path(args.out)
    d.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(1, 2, figsize=(10, 4))
    X, Y = np.meshgrid(b1_grid, b2_grid)
    sc = ax[0].scatter(X, Y, c=ends[..., 0], cmap="viridis", vmin=0, vmax=1, s=40, label="end from u0 = 0.02")
    ax[0].scatter(X[coexist], Y[coexist], facecolors="none", edgecolors="r", s=120, label="two branches (flows disagree)")
    ax[0].plot(line_b1, line_b2, "k-", label="transition (1-D problem)")
    ax[0].plot(*CRITICAL, "r*", ms=14, label="Radin-Yin critical point")
    ax[0].set_xlabel("beta1")
    ax[0].set_ylabel("beta2")
    ax[0].legend(fontsize=7, loc="lower left")
    fig.colorbar(sc, ax=ax[0], label="u at the end of the flow")
    order = np.argsort(~side, kind="stable")  # one side, then the other
    plot_graphon(res, ax=ax[1], order=order, cmap="Greys", vmin=0, vmax=1,
                 title=f"beta = ({b1}, {b2}): F = {res.energy:.3f} < best constant {best_const:.3f}")
    fig.tight_layout()
    fig.savefig(d / "ergm_phase.png", dpi=120)
    plt.close(fig)
    out["figure"] = fig
    print(f"figure: {d / 'ergm_phase.png'}")
    return out


if __name__ == "__main__":
    main()

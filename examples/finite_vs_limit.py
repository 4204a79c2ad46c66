"""Finite n against the limit: a convergence study for an ERGM flow.

Flow the ERGM functional F = -beta1 t(K2) - beta2 t(K3) + 1/2 E from W-random weighted graphs
sampled from W0(x, y) = (x + y)/2, for several n and 8 seeds each, and compare each finite flow
with the reference graphon flow in cut distance (certified brackets).  At every time the
exponents of least-squares fits upper ~ C n^r and lower ~ c n^r are printed, each with its
ordinary least-squares standard error over all (n, seed) points, and whether the bracket is
narrow enough (upper/lower <= 2 everywhere) for the rate to be resolved.

Run:  python examples/finite_vs_limit.py [--out DIR]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from graphonflow import ergm
from graphonflow.convergence import convergence_study, rate_text
from graphonflow.graphons import mean_xy


def main(argv=None, ns=(25, 50, 100, 200), seeds=8, resolution=64, t1=1.0):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default="finite-vs-limit-out")
    args = ap.parse_args(argv)
    F = ergm([-0.5, 0.4])  # beta2 >= 0: the flows drift to the constant u* of the 1-D problem
    study = convergence_study(F, mean_xy(), list(ns), t1, times=[0.0, t1 / 4, t1], seeds=seeds,
                              dt=0.02, resolution=resolution, rng=2024)
    print(study.table())
    print(f"wall time {study.wall_time:.1f} s")
    assert np.all(study.lower <= study.upper + 1e-12)
    # the reference is resolved far below the distances measured
    assert np.all(study.resolution_gap < 0.2 * study.upper.mean(axis=(0, 1)))
    # distances shrink with n: the fitted exponent is negative at every time
    assert np.all(study.rate < 0), study.rate

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FixedLocator, NullLocator

    d = Path(args.out)
    d.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(5.6, 4.4))
    x = np.asarray(study.ns, dtype=float)
    spread = np.exp(0.03 * (np.arange(seeds) - (seeds - 1) / 2))  # seeds side by side at each n
    xx = np.geomspace(x[0], x[-1], 20)
    for k, t in enumerate(study.times):
        c = f"C{k}"
        # exactly what is fitted: the upper bound of every (n, seed), and the least-squares line
        ax.plot((x[:, None] * spread[None, :]).ravel(), study.upper[:, :, k].ravel(), "o", ms=3, color=c, alpha=0.7,
                label=f"t={t:g}: r = {rate_text(study.rate[k], study.rate_stderr[k], 2)}")
        ax.plot(xx, np.exp(study.rate_intercept[k]) * xx ** study.rate[k], "-", color=c)
    ax.set_xscale("log")
    ax.set_yscale("log")
    # the sizes as tick labels, no minor labels (which overlap on a short decade)
    ax.xaxis.set_major_locator(FixedLocator(list(study.ns)))
    ax.set_xticklabels([str(n) for n in study.ns])
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xlabel("n")
    ax.set_ylabel("cut distance to the limit\n(upper bound of every seed)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(d / "finite_vs_limit.png", dpi=120)
    plt.close(fig)
    print(f"figure: {d / 'finite_vs_limit.png'}")
    return study


if __name__ == "__main__":
    main()

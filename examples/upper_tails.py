"""Upper tails of clique counts: where the large-deviation optimum stops being constant.

Chatterjee and Varadhan (2011) reduce the upper tail of t(H, G(n, p)) to

    phi(H, p, delta) = min { I_p(W) : t(H, W) >= (1 + delta) p^e(H) },
    I_p(W) = 1/2 integral of h_p(W),  h_p(x) = x log(x/p) + (1-x) log((1-x)/(1-p)).

The constant W = r = (1 + delta)^(1/e(H)) p is feasible with cost h_p(r)/2.  For a d-regular H,
Lubetzky and Zhao (2015) proved that it is optimal exactly when (r^d, h_p(r)) lies on the convex
minorant of x -> h_p(x^(1/d)): outside a band u_- < r < u_+ (graphonflow.lz_boundary).

This script is a thin layer over graphonflow.upper_tail, which solves the constrained problem
from the constant and from hub and clique starts of many widths (augmented Lagrangian, KKT
polish), for triangles at p = 0.05 and 4-cliques at p = 0.1, at levels r across and around the
band.  It checks that the best graphon found is the constant exactly where Lubetzky-Zhao say so,
prints the structures that win (a narrow hub of near-complete vertices just past u_-, a few
sparse vertices just before u_+), and plots the relative gain over the constant.

Run:  python examples/upper_tails.py [--out DIR]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from graphonflow import lz_boundary, upper_tail


def default_levels(lz, inside=6):
    """r values: 1% outside and inside each band end (10% of the distance to 1 at the upper end),
    and ``inside`` levels spread over the band."""
    lo, hi = lz.levels
    mid = list(np.linspace(lo, hi, inside + 2)[1:-1])
    return [lo * 0.99, lo * 1.01] + mid + [1 - (1 - hi) * 1.1, 1 - (1 - hi) * 0.9]


def describe(res):
    if res.symmetric:
        return "constant"
    B, (s, _) = res.W.values, res.W.widths
    return f"width {s:.3g}: inside {B[0, 0]:.4f}, across {B[0, 1]:.4f}, rest {B[1, 1]:.4f}"


def main(argv=None, cases=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default="upper-tails-out")
    args = ap.parse_args(argv)
    if cases is None:
        cases = {}
        for H, p in (("K3", 0.05), ("K4", 0.1)):
            cases[(H, p)] = default_levels(lz_boundary(H, p))
    results = {}
    for (H, p), levels in cases.items():
        lz = lz_boundary(H, p)
        print(f"\nH = {H}, p = {p}: {lz.reason}")
        print(f"{'r':>9} {'delta':>11} {'constant':>12} {'best':>12} {'gain':>9}  {'LZ':>9}  best graphon")
        rows = []
        for r in levels:
            delta = lz.delta_of(r)
            res = upper_tail(H, p, delta)
            rows.append(res)
            lz_says = "symmetric" if lz.is_symmetric(delta) else "broken"
            print(f"{r:9.5f} {delta:11.5g} {res.constant_rate:12.8g} {res.rate:12.8g} {res.gain:9.2e}  "
                  f"{lz_says:>9}  {describe(res)}")
            # the solver agrees with the theorem at every level
            assert res.symmetric == lz.is_symmetric(delta), (H, p, r)
        results[(H, p)] = (lz, rows)

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    d = Path(args.out)
    d.mkdir(parents=True, exist_ok=True)
    shown = [k for k, (lz, rows) in results.items() if rows]  # every case, band or not
    fig, axes = plt.subplots(1, max(1, len(shown)), figsize=(5.2 * max(1, len(shown)), 3.8), squeeze=False)
    for ax, key in zip(axes[0], shown):
        lz, rows = results[key]
        r = np.array([res.r for res in rows])
        gain = np.array([res.gain for res in rows])
        ax.plot(r, gain, "o-", label="best structured start")
        if lz.has_band:
            for u in lz.levels:
                ax.axvline(u, color="k", ls=":", lw=1)
            ax.axvspan(*lz.levels, color="0.9", label="Lubetzky-Zhao: symmetry broken")
        ax.set_xlabel("r = (1 + delta)^(1/e) p")
        ax.set_ylabel("1 - rate / constant rate")
        ax.set_title(f"{key[0]}, p = {key[1]}")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(d / "upper_tails.png", dpi=120)
    plt.close(fig)
    print(f"figure: {d / 'upper_tails.png'}")
    return results


if __name__ == "__main__":
    main()

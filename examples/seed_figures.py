"""The seed paper's deterministic figures: three flows from the poster's ring graphon.

Oh, Pal, Somani and Tripathi (Gradient flows on graphons, arXiv:2111.09459) start every run from
W(x, y) = exp(-r) cos^2(2 pi r), r = sqrt(x^2 + y^2), on 24 blocks in the box [0, 1].  This script
runs the three deterministic flows of their figures from that start and checks what they converge
to:

1. t(C5) + E/8 (E the entropy) at t = 0, 1, 2.4, 4: the flow tends to the constant p*, the root of
   5 p^4 + logit(p)/8 = 0 (p* = 0.35166...); a longer run (t = 40) shows the approach.
2. t(C5) alone at t = 0, 7, 20, 100: entries hit the face 0 one after another and t(C5) decays.
3. Mantel, t(K3) - t(K2), by 66,000 steps of projected gradient descent (tau = 1e-4 in graphon
   time) on the 7-vertex weighted sample of W at sorted uniform points: it ends at the complete
   bipartite graph K_{4,3}, value -24/49.

The 24-block start uses block midpoints, B_ij = W(x_i, x_j) with x_i = (i + 1/2)/24 (the poster's
images are grids of point values); ``--init average`` uses block averages instead.  The smallest
midpoint value is 9.2e-5, so the clip to [1e-6, 1 - 1e-6] that the entropy needs changes nothing.

Run:  python examples/seed_figures.py [--out DIR] [--quick] [--seed S] [--scan-seeds N]
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import numpy as np
from scipy.optimize import brentq

import graphonflow as gf

M = 24  # blocks of the poster's start
CLIP = 1e-6  # the entropy needs W strictly inside (0, 1)
# an entry at most this is "at the face 0": at the saved times of row 2, error-controlled runs
# leave face entries at 1e-16 to 1e-11 (not exactly 0), and every other entry is above 2e-4
ZERO = 1e-8
MANTEL_SEED = 3  # 7 sorted uniform points from np.random.default_rng(3): ends at K_{4,3} by t ~ 3
MANTEL_N, MANTEL_T1, MANTEL_TAU = 7, 6.6, 1e-4  # 66,000 steps


def ring(x, y):
    """The poster's initial kernel W(x, y) = exp(-r) cos^2(2 pi r), r = sqrt(x^2 + y^2)."""
    r = np.sqrt(np.asarray(x, dtype=float) ** 2 + np.asarray(y, dtype=float) ** 2)
    return np.exp(-r) * np.cos(2 * np.pi * r) ** 2


def initial_blocks(m=M, init="midpoint"):
    """The m x m block values of the start: values at block midpoints or block averages."""
    if init == "midpoint":
        x = (np.arange(m) + 0.5) / m
        return ring(x[:, None], x[None, :])
    if init == "average":
        return np.array(gf.block_average(ring, m).values, dtype=float)
    raise ValueError(f"init must be 'midpoint' or 'average', got {init!r}")


def p_star():
    """The constant fixed point of t(C5) + E/8: the root of 5 p^4 + logit(p)/8 (increasing in p)."""
    return brentq(lambda p: 5 * p**4 + math.log(p / (1 - p)) / 8, 1e-3, 1 - 1e-3, xtol=1e-15, rtol=1e-15)


def _h(p):
    return p * math.log(p) + (1 - p) * math.log(1 - p)


def _at(res, t):
    """The saved state at time t (the driver lands on save times exactly)."""
    k = int(np.argmin(np.abs(res.times - t)))
    assert abs(res.times[k] - t) < 1e-9 * max(1.0, t), (t, res.times[k])
    return np.asarray(res.states[k])


def _save_times(panel_times, t1, curve):
    ts = np.union1d(np.asarray(curve, dtype=float), np.asarray(panel_times, dtype=float))
    return ts[(ts > 0) & (ts < t1)]


def entropy_row(B0, times, t_long, rtol=1e-6):
    """Row 1: the flow of t(C5) + E/8 from B0, saved at `times` and up to t_long."""
    F = gf.HomDensity("C5") + gf.Entropy() / 8
    ps = p_star()
    extra = [t for t in (10.0, 20.0) if t < t_long]
    check = sorted(set(times) | set(extra) | {t_long})
    ts = _save_times(check, t_long, np.geomspace(1e-3, t_long, 60))
    res = gf.flow(F, B0, t1=t_long, rtol=rtol, saveat=gf.SaveAt(ts=ts))
    assert res.success, res.message
    dist = {t: float(np.abs(_at(res, t) - ps).max()) for t in check}
    return {"F": F, "res": res, "p_star": ps, "dist": dist, "F_star": ps**5 + _h(ps) / 8,
            "panels": [(t, _at(res, t)) for t in times]}


def c5_row(B0, times, rtol=1e-6):
    """Row 2: the flow of t(C5) alone, saved at `times`."""
    t1 = max(times)
    ts = _save_times(times, t1, np.geomspace(1e-3, t1, 60))
    res = gf.flow(gf.HomDensity("C5"), B0, t1=t1, rtol=rtol, saveat=gf.SaveAt(ts=ts))
    assert res.success, res.message
    rows = []
    for t in times:
        S = _at(res, t)
        rows.append((t, float(gf.hom_density("C5", S)), float(np.mean(S <= ZERO)), float(S.mean()), float(S.max())))
    return {"res": res, "table": rows, "panels": [(t, _at(res, t)) for t in times]}


def mantel_sample(seed, n=MANTEL_N):
    """A_ij = W(U_i, U_j) at n sorted uniform points (diagonal included), and the points."""
    U = np.sort(np.random.default_rng(seed).random(n))
    return ring(U[:, None], U[None, :]), U


def complete_bipartite_sides(A):
    """(side0, side1) if A is exactly a 0/1 complete bipartite graph with zero diagonal, else None."""
    A = np.asarray(A)
    if not np.all((A == 0) | (A == 1)) or np.any(np.diag(A) != 0):
        return None
    n = A.shape[0]
    side = -np.ones(n, dtype=int)
    side[0] = 0
    for _ in range(n):  # propagate the 2-colouring along edges
        for i in range(n):
            if side[i] >= 0:
                side[(A[i] == 1) & (side < 0)] = 1 - side[i]
    if np.any(side < 0) or not np.array_equal(A == 1, side[:, None] != side[None, :]):
        return None
    return np.flatnonzero(side == 0), np.flatnonzero(side == 1)


def split_of(A):
    sides = complete_bipartite_sides(A)
    return None if sides is None else tuple(sorted((len(sides[0]), len(sides[1])), reverse=True))


def complete_bipartite(a, b):
    """K_{a,b} as an (a+b) x (a+b) 0/1 matrix, first a vertices on one side, zero diagonal."""
    side = np.r_[np.zeros(a, int), np.ones(b, int)]
    return (side[:, None] != side[None, :]).astype(float)


def projected_speed(F, A, box=(0.0, 1.0)):
    """max |P_A[-DF(A)]|: zero exactly when A is a stationary point of the projected flow."""
    v = -F.grad(A)
    v = np.where(A <= box[0], np.maximum(v, 0), v)
    v = np.where(A >= box[1], np.minimum(v, 0), v)
    return float(np.abs(v).max())


def mantel_row(seed=MANTEL_SEED, times=(0.0, 1.0, 3.0, MANTEL_T1), t1=MANTEL_T1, tau=MANTEL_TAU):
    """Row 3: projected gradient descent ("euler", fixed step tau) on the 7-vertex sample."""
    A, U = mantel_sample(seed)
    F = gf.HomDensity("K3") - gf.EdgeDensity()
    ts = _save_times(times, t1, np.linspace(0, t1, 331))
    res = gf.flow(F, A, t1=t1, dt=tau, integrator="euler", saveat=gf.SaveAt(ts=ts))
    assert res.success, res.message
    return {"F": F, "A0": A, "U": U, "res": res, "sides": complete_bipartite_sides(res.W),
            "panels": [(t, _at(res, t)) for t in times]}


def scan_seeds(n_seeds, t1=MANTEL_T1, tau=MANTEL_TAU):
    """For seeds 0..n_seeds-1: the split after the 66,000 steps and the endpoint of a longer run.

    A run that is not yet complete bipartite at t1 is continued from its state with dt = 1e-3
    (ten times the step, to keep the scan cheap) until ||P DF|| <= 1e-12 or t = 200.
    """
    F = gf.HomDensity("K3") - gf.EdgeDensity()
    rows = []
    for seed in range(n_seeds):
        A, _ = mantel_sample(seed)
        res = gf.flow(F, A, t1=t1, dt=tau, integrator="euler")
        split, t_end, end, value = split_of(res.W), t1, None, res.energy
        if split is None:
            more = gf.flow(F, res.W, t1=200.0, dt=1e-3, integrator="euler", gtol=1e-12)
            t_end, end, value = t1 + more.t, split_of(more.W), more.energy
        rows.append({"seed": seed, "value": res.energy, "split": split, "end": split or end,
                     "t_end": t_end, "end_value": value})
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default="seed-figures-out", help="folder for the figures")
    ap.add_argument("--quick", action="store_true",
                    help="shorten the long runs (row 1 to t=4, row 2 to t=7 at rtol=1e-4) for tests")
    ap.add_argument("--seed", type=int, default=MANTEL_SEED, help="seed of the 7 Mantel sample points")
    ap.add_argument("--init", choices=("midpoint", "average"), default="midpoint",
                    help="24-block start from midpoint values (default) or block averages")
    ap.add_argument("--scan-seeds", type=int, default=0, metavar="N",
                    help="also report the Mantel endpoint for seeds 0..N-1")
    args = ap.parse_args(argv)
    clock = time.perf_counter()

    B = initial_blocks(M, args.init)
    B0 = np.clip(B, CLIP, 1 - CLIP)
    print(f"start: W(x,y) = exp(-r) cos^2(2 pi r) on {M} blocks ({args.init} values), "
          f"range [{B.min():.3g}, {B.max():.3g}]; clip to [{CLIP:g}, 1-{CLIP:g}] moved "
          f"{int(np.sum(B0 != B))} entries")

    # ---- row 1: t(C5) + E/8 ---------------------------------------------------------------
    times1 = (0.0, 1.0, 2.4, 4.0)
    row1 = entropy_row(B0, times1, t_long=4.0 if args.quick else 40.0)
    ps = row1["p_star"]
    assert abs(5 * ps**4 + math.log(ps / (1 - ps)) / 8) < 1e-14 and abs(ps - 0.35166) < 1e-5
    print(f"\n1. t(C5) + E/8: p* = {ps:.12f} (root of 5p^4 + logit(p)/8), F(p*) = {row1['F_star']:.12f}")
    print(f"   {'t':>6} {'max|W_t - p*|':>14} {'F(W_t)':>16}")
    r1 = row1["res"]
    for t, d in row1["dist"].items():
        e = float(r1.energies[int(np.argmin(np.abs(r1.times - t)))])
        print(f"   {t:6g} {d:14.3e} {e:16.12f}")
    d = list(row1["dist"].values())
    assert all(b < a for a, b in zip(d, d[1:])), "max|W_t - p*| must decrease"
    assert np.all(np.diff(r1.energies) <= 1e-12), "the energy must not rise along the flow"
    assert row1["dist"][4.0] < 0.1  # measured 0.069
    if r1.t >= 40:
        assert row1["dist"][40.0] < 1e-8  # measured 2.0e-10
        assert abs(r1.energy - row1["F_star"]) < 1e-12
        rate = math.log(row1["dist"][20.0] / row1["dist"][40.0]) / 20.0
        print(f"   decay rate of max|W_t - p*| on [20, 40]: {rate:.3f} "
              f"(linearisation on kernels with zero row means: 1/(8p*(1-p*)) = {1 / (8 * ps * (1 - ps)):.3f})")

    # ---- row 2: t(C5) alone ---------------------------------------------------------------
    times2 = (0.0, 1.0, 3.0, 7.0) if args.quick else (0.0, 7.0, 20.0, 100.0)
    row2 = c5_row(B, times2, rtol=1e-4 if args.quick else 1e-6)
    print(f"\n2. t(C5) alone ({row2['res'].n_steps} steps, {row2['res'].n_rejected} rejected)")
    print(f"   {'t':>6} {'t(C5)':>12} {'zero frac':>10} {'mean W':>8} {'max W':>8}")
    for t, tc5, z, mean, mx in row2["table"]:
        print(f"   {t:6g} {tc5:12.4e} {z:10.4f} {mean:8.4f} {mx:8.4f}")
    tab = row2["table"]
    assert all(b[1] < a[1] for a, b in zip(tab, tab[1:])), "t(C5) must decrease"
    assert all(b[2] >= a[2] for a, b in zip(tab, tab[1:])), "entries at 0 stay at 0"
    assert tab[0][2] == 0 and tab[-1][2] > 0.2  # measured 0.222 at t=7, 0.422 at t=100
    assert np.all(row2["res"].W >= 0)
    if tab[-1][0] >= 100:
        assert tab[-1][1] < 1e-5  # measured 8.07e-6

    # ---- row 3: Mantel ----------------------------------------------------------------------
    row3 = mantel_row(args.seed)
    r3 = row3["res"]
    print(f"\n3. Mantel t(K3) - t(K2) on the 7-point sample, seed {args.seed}: "
          f"U = {np.array2string(row3['U'], precision=3)}")
    print(f"   {r3.n_steps} steps of dt = {MANTEL_TAU:g} (graphon time {r3.t:g}), final value {r3.energy:.15f}, "
          f"-24/49 = {-24 / 49:.15f}")
    assert r3.n_steps == 66_000 and len(r3.dt_history) == 66_000
    assert np.allclose(r3.dt_history, MANTEL_TAU, rtol=1e-6, atol=0)
    sides = row3["sides"]
    assert sides is not None, "the descent did not end at a 0/1 complete bipartite graph (try another --seed)"
    a, b = sorted((len(sides[0]), len(sides[1])), reverse=True)
    print(f"   endpoint: complete bipartite {a}+{b}, sides {sides[0].tolist()} / {sides[1].tolist()} "
          f"(sorted-point order); diagonal {np.diag(r3.W).tolist()}")
    t3, t2 = gf.hom_density("K3", r3.W), gf.hom_density("K2", r3.W)
    print(f"   t(K3) = {t3:.3g}, t(K2) = {t2:.15f} = 24/49 {t2 - 24 / 49:+.2g}")
    if (a, b) == (4, 3):
        assert abs(r3.energy + 24 / 49) < 1e-9 and t3 == 0 and abs(t2 - 24 / 49) < 1e-15
    else:
        assert abs(r3.energy + 2 * a * b / 49) < 1e-9
    # the diagonal is a free entry; DF there is 3 deg(i)/7 - 1 > 0, so the face 0 holds it
    dg = np.diag(row3["F"].grad(r3.W))
    print(f"   DF on the diagonal at the endpoint: {np.array2string(dg * 7, precision=6)} / 7 (> 0: held at 0)")
    assert np.all(dg > 0)
    # which complete bipartite graphs on 7 vertices are endpoints at all: within a side of size a,
    # DF = 3 (7 - a)/7 - 1, which must be >= 0 to keep the empty entries at 0
    speeds = {f"{k}+{7 - k}": projected_speed(row3["F"], complete_bipartite(k, 7 - k)) for k in (6, 5, 4)}
    print("   projected speed at K_{a,b}: " + ", ".join(f"{k}: {v:.6f}" for k, v in speeds.items())
          + "  (only 4+3 is stationary; 5+2 has DF = -1/7 inside the 5-side)")
    assert speeds["4+3"] == 0 and speeds["5+2"] > 0.1 and speeds["6+1"] > 0.1

    scan = []
    if args.scan_seeds:
        scan = scan_seeds(args.scan_seeds)
        print(f"\n   seeds 0..{args.scan_seeds - 1}: split after 66,000 steps, and endpoint")
        for r in scan:
            at = "not bipartite" if r["split"] is None else f"{r['split'][0]}+{r['split'][1]}"
            end = "?" if r["end"] is None else f"{r['end'][0]}+{r['end'][1]}"
            when = "by t=6.6" if r["split"] is not None else f"steady at t={r['t_end']:.2f}"
            print(f"   seed {r['seed']:3d}: t=6.6 value {r['value']:+.6f} ({at:>13}); "
                  f"end {end} {when}, value {r['end_value'] * 49:+.6f}/49")
        from collections import Counter

        print("   at t=6.6:", dict(Counter("none" if r["split"] is None else f"{r['split'][0]}+{r['split'][1]}"
                                            for r in scan)),
              " endpoints:", dict(Counter("none" if r["end"] is None else f"{r['end'][0]}+{r['end'][1]}"
                                          for r in scan)))

    # ---- figures ---------------------------------------------------------------------------
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    fig, axes = plt.subplots(3, 5, figsize=(19, 10.5), gridspec_kw={"width_ratios": [1, 1, 1, 1, 1.3]})
    rows = [(row1, r"$t(C_5) + E/8$"), (row2, r"$t(C_5)$"), (row3, r"$t(K_3) - t(K_2)$, n = 7")]
    for k, (row, name) in enumerate(rows):
        for j, (t, S) in enumerate(row["panels"]):
            ax = axes[k, j]
            # S[i, j] is the value on I_i x I_j: column index -> x, row index -> y, (0, 0) lower left
            im = ax.imshow(S.T, origin="lower", extent=(0, 1, 0, 1), vmin=0, vmax=1, cmap="viridis",
                           interpolation="nearest")
            ax.set_title(f"{name}, t = {t:g}", fontsize=9)
            ax.set_xticks([0, 0.5, 1])
            ax.set_yticks([0, 0.5, 1])
            fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    ax = axes[0, 4]
    ax.plot(r1.times[1:], r1.energies[1:], "-", lw=1.5)
    ax.axhline(row1["F_star"], color="k", ls=":", lw=1, label=f"F(p*), p* = {ps:.5f}")
    ax.set_xscale("log")
    ax.set_xlabel("graphon time t")
    ax.set_title("energy t(C5) + E/8", fontsize=9)
    ax.legend(fontsize=8)
    ax = axes[1, 4]
    r2 = row2["res"]
    ax.plot(r2.times[1:], r2.energies[1:], "-", lw=1.5)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("graphon time t")
    ax.set_title("energy t(C5)", fontsize=9)
    ax = axes[2, 4]
    ax.plot(r3.times, r3.energies, "-", lw=1.5)
    ax.axhline(-24 / 49, color="k", ls=":", lw=1, label="-24/49 (K4,3)")
    ax.axhline(-2 / (3 * math.sqrt(3)), color="grey", ls="--", lw=1, label=r"constant $1/\sqrt{3}$")
    ax.set_xlabel("graphon time t (step 1e-4)")
    ax.set_title("energy t(K3) - t(K2)", fontsize=9)
    ax.legend(fontsize=8)
    fig.subplots_adjust(left=0.03, right=0.985, bottom=0.05, top=0.96, wspace=0.4, hspace=0.3)
    fig.savefig(out / "seed_figures.png", dpi=100)
    plt.close(fig)
    wall = time.perf_counter() - clock
    print(f"\nfigure: {out / 'seed_figures.png'}  (wall time {wall:.1f} s)")
    return {"p_star": ps, "row1": row1, "row2": row2, "row3": row3, "split": (a, b), "scan": scan,
            "wall": wall}


if __name__ == "__main__":
    main()

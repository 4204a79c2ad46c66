"""The follow-up paper's noisy-SGD Mantel run, next to its McKean--Vlasov prediction.

Harchaoui, Oh, Pal, Somani and Tripathi (Stochastic optimization on matrices and a graphon
McKean--Vlasov limit, arXiv:2210.00422) run projected noisy SGD for F = t(K3) - t(K2) in [0, 1]
from the ring graphon W(x, y) = exp(-r) cos^2(2 pi r), r = sqrt(x^2 + y^2), sampled on a regular
grid of n = 256 points, for 2.5e6 steps of tau = 1e-4 (graphon time 250).  Their run ends noisy and
bipartite: same-side entries near 0.06, cross-side entries near 0.97, sides of about 0.44 / 0.56.
The noise level is not published.

This script

1. runs :func:`graphonflow.mckean_vlasov` from the 32-block average of W for each noise level of
   a small scan and picks the one whose final same-side and cross-side means are closest to the
   published 0.06 and 0.97 (the calibration, cheap: the limit needs no n x n matrix);
2. runs :func:`graphonflow.noisy_flow` at that noise level on the n = 256 grid (the published
   setting; ``--tau`` and ``--n`` change it) and reports the sides, the same-side and cross-side
   means, and the finite-n values against the limit's prediction;
3. draws the final matrix (vertices sorted by side) next to the limit's mean graphon, and the
   limit's 5-95% quantile bands of one same-side and one cross-side block pair over time with
   the finite-n entries' quantiles on top.

Sides are read off the eigenvector of the most negative eigenvalue (for a bipartite-like matrix
its signs separate the two sides).

The finite-n run goes in 25 chunks, each saved under DIR/checkpoints when it finishes; started
again with the same settings, the script reloads the finished chunks and goes on from there.

Run:  python examples/noisy_mantel.py [--out DIR] [--noise S] [--tau T] [--n N] [--chunk T] [--quick]
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import numpy as np

import graphonflow as gf

T1 = 250.0  # 2.5e6 steps of 1e-4
PUBLISHED = dict(same=0.06, cross=0.97, sides=(0.44, 0.56))
NOISE_SCAN = (0.15, 0.175, 0.2, 0.225, 0.25)
F = gf.HomDensity("K3") - gf.HomDensity("K2")


def ring(x, y):
    r = np.sqrt(np.asarray(x, dtype=float) ** 2 + np.asarray(y, dtype=float) ** 2)
    return np.exp(-r) * np.cos(2 * np.pi * r) ** 2


def grid_matrix(n):
    x = (np.arange(n) + 0.5) / n
    return ring(x[:, None], x[None, :])


def sides(A, widths=None):
    """(mask of side 1, side fractions, same-side mean, cross-side mean) of a bipartite-like A."""
    A = np.asarray(A, dtype=float)
    n = A.shape[0]
    w = np.full(n, 1.0 / n) if widths is None else np.asarray(widths, dtype=float)
    s = np.sqrt(w)
    vals, vecs = np.linalg.eigh(s[:, None] * A * s[None, :])
    side = vecs[:, 0] > 0
    if w[side].sum() > 0.5:  # side 1 is the smaller one
        side = ~side
    ww = np.outer(w, w)
    same = np.equal.outer(side, side)
    same_mean = float((ww * A)[same].sum() / ww[same].sum())
    cross_mean = float((ww * A)[~same].sum() / ww[~same].sum())
    a = float(w[side].sum())
    return side, (a, 1.0 - a), same_mean, cross_mean


def calibrate(noises, m=32, t1=T1, dt=0.05, cells=200):
    """For each noise level: the limit's final sides and means; returns the rows and the best s."""
    S = gf.block_average(ring, m)
    rows = []
    for s in noises:
        t0 = time.perf_counter()
        lim = gf.mckean_vlasov(F, S, t1=t1, noise=s, dt=dt, cells=cells)
        _, fr, same, cross = sides(lim.means[-1], lim.widths)
        miss = abs(same - PUBLISHED["same"]) + abs(cross - PUBLISHED["cross"])
        rows.append(dict(noise=s, sides=fr, same=same, cross=cross, miss=miss, wall=time.perf_counter() - t0))
    best = min(rows, key=lambda r: r["miss"])["noise"]
    return rows, best

class ChunkedRun:
    """What :func:`run_in_chunks` returns: the fields of a NoisyFlowResult the script reads."""

    def __init__(self, W, t, times, states, energies, n_steps, message):
        self.W, self.t, self.times, self.states = W, t, np.asarray(times), tuple(states)
        self.energies, self.n_steps, self.message = np.asarray(energies), n_steps, message
        self.energy = float(self.energies[-1])


def run_in_chunks(A0, s, *, t1, tau, seed, chunk, folder):
    """noisy_flow from A0 to t1 in chunks of graphon time ``chunk``, each saved to ``folder``.

    Chunk c (from c * chunk) is one noisy_flow call seeded by (seed, c), so the path depends on
    the seed and the chunk length only: a run that is stopped and started again reloads the
    finished chunks and continues with the same noise.  The checkpoints are keyed by the
    settings, so a change of n, tau, s, seed or chunk starts afresh.
    """
    folder = Path(folder)
    n_chunks = max(1, math.ceil(t1 / chunk - 1e-9))
    key = f"n{A0.shape[0]}-tau{tau:g}-s{s:g}-seed{seed}-chunk{chunk:g}-t{t1:g}"
    folder = folder / key
    folder.mkdir(parents=True, exist_ok=True)
    A, t, steps = A0, 0.0, 0
    times, states, energies = [0.0], [A0.copy()], [F.value(A0)]
    reloaded = 0
    for c in range(n_chunks):
        tb = min(t1, (c + 1) * chunk)
        path = folder / f"chunk{c:04d}.npz"
        if path.exists():
            with np.load(path) as z:
                A, n = z["W"], int(z["steps"])
            reloaded += 1
        else:
            r = gf.noisy_flow(F, A, t1=tb - t, dt=tau, noise=s, rng=np.random.default_rng([seed, c]))
            if not r.success:
                raise RuntimeError(f"chunk {c}: {r.message}")
            A, n = r.W, r.n_steps
            tmp = path.with_suffix(".tmp.npz")
            np.savez(tmp, W=A, steps=n)
            tmp.replace(path)  # a chunk is on disk whole or not at all
        t, steps = tb, steps + n
        times.append(t)
        states.append(A)
        energies.append(F.value(A))
    message = (f"reached t = {t:g} in {steps} steps, {n_chunks} chunks"
               + (f" ({reloaded} reloaded from {folder})" if reloaded else ""))
    return ChunkedRun(A, t, times, states, energies, steps, message)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default="noisy-mantel-out", help="folder for the figure")
    ap.add_argument("--noise", type=float, default=None, help="noise level s (default: calibrated)")
    ap.add_argument("--tau", type=float, default=1e-4, help="step in graphon time (default 1e-4)")
    ap.add_argument("--n", type=int, default=256, help="grid size (default 256)")
    ap.add_argument("--t1", type=float, default=T1, help="final graphon time (default 250)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the noise")
    ap.add_argument("--chunk", type=float, default=None,
                    help="graphon time per checkpointed chunk (default t1 / 25, so 1e5 steps at the published setting)")
    ap.add_argument("--quick", action="store_true", help="n = 32, t1 = 10, tau = 2e-3, 16 blocks (a smoke test)")
    args = ap.parse_args(argv)
    if args.quick:
        args.n, args.t1, args.tau = 32, 10.0, 2e-3
    m = 16 if args.quick else 32
    if args.chunk is None:
        args.chunk = args.t1 / 25
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    scan = (0.25,) if args.quick and args.noise is None else NOISE_SCAN
    if args.noise is None:
        rows, s = calibrate(scan, m=m, t1=args.t1)
        print(f"calibration: the McKean-Vlasov limit from the {m}-block average, final sides and means")
        for r in rows:
            print(f"  s = {r['noise']:.2f}: sides {r['sides'][0]:.2f}/{r['sides'][1]:.2f}, same-side {r['same']:.3f}, "
                  f"cross-side {r['cross']:.3f} ({r['wall']:.1f} s)")
        print(f"  chosen s = {s:g} (closest to the published same-side {PUBLISHED['same']}, cross {PUBLISHED['cross']})")
    else:
        s = args.noise

    A0 = grid_matrix(args.n)
    t0 = time.perf_counter()
    run = run_in_chunks(A0, s, t1=args.t1, tau=args.tau, seed=args.seed, chunk=args.chunk,
                        folder=out / "checkpoints")
    wall = time.perf_counter() - t0
    save = list(run.times)
    mask, fr, same, cross = sides(run.W)
    print(f"noisy SGD: n = {args.n}, {run.n_steps} steps of tau = {args.tau:g}, s = {s:g}: {run.message} "
          f"({wall:.0f} s)")
    print(f"  sides {fr[0]:.2f}/{fr[1]:.2f}, same-side mean {same:.3f}, cross-side mean {cross:.3f}, "
          f"F = {run.energy:.4f}")
    # the limit is cheap: save it densely, for smooth quantile bands
    lim = gf.mckean_vlasov(F, gf.block_average(ring, m), t1=args.t1, noise=s, dt=0.05, cells=200,
                           save_at=sorted(set(save) | set(np.linspace(0.0, args.t1, 61).tolist())))
    lmask, lfr, lsame, lcross = sides(lim.means[-1], lim.widths)
    print(f"  limit: sides {lfr[0]:.2f}/{lfr[1]:.2f}, same-side mean {lsame:.3f}, cross-side mean {lcross:.3f}, "
          f"F = {lim.energies[-1]:.4f}")
    print(f"  published: sides {PUBLISHED['sides'][0]}/{PUBLISHED['sides'][1]}, same-side {PUBLISHED['same']}, "
          f"cross-side {PUBLISHED['cross']}")
    result = dict(noise=s, n=args.n, tau=args.tau, t1=args.t1, steps=run.n_steps, sides=fr, same=same, cross=cross,
                  limit_sides=lfr, limit_same=lsame, limit_cross=lcross, energy=run.energy,
                  limit_energy=float(lim.energies[-1]))
    _figure(out / "noisy_mantel.png", run, lim, mask, lmask)
    print(f"figure: {out / 'noisy_mantel.png'}")
    return result


def _figure(path, run, lim, mask, lmask):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    order = np.argsort(~mask, kind="stable")
    lorder = np.argsort(~lmask, kind="stable")
    fig, axes = plt.subplots(1, 3, figsize=(15, 5.2))
    im = axes[0].imshow(run.W[np.ix_(order, order)], vmin=0, vmax=1, cmap="viridis")
    axes[0].set_title(f"noisy SGD, n = {run.W.shape[0]}, t = {run.t:g}\n(vertices sorted by side)")
    fig.colorbar(im, ax=axes[0], fraction=0.046)
    G = lim.means[-1][np.ix_(lorder, lorder)]
    cw = np.concatenate([[0], np.cumsum(lim.widths[lorder])])
    im2 = axes[1].pcolormesh(cw, cw, G, vmin=0, vmax=1, cmap="viridis")
    axes[1].set_ylim(1, 0)
    axes[1].set_aspect("equal")
    axes[1].set_title("McKean-Vlasov mean graphon Γ(t)")
    fig.colorbar(im2, ax=axes[1], fraction=0.046)
    qs = lim.quantiles((0.05, 0.5, 0.95))
    a_in = int(np.flatnonzero(lmask)[0])
    b_out = int(np.flatnonzero(~lmask)[0])
    for (a, b), lab, col in (((a_in, a_in), "same side", "C0"), ((a_in, b_out), "cross side", "C3")):
        p = np.flatnonzero((lim.pairs[:, 0] == min(a, b)) & (lim.pairs[:, 1] == max(a, b)))[0]
        axes[2].fill_between(lim.times, qs[:, p, 0], qs[:, p, 2], color=col, alpha=0.25, label=f"limit 5-95%, {lab}")
        axes[2].plot(lim.times, qs[:, p, 1], color=col)
    same = np.equal.outer(mask, mask)
    for k, t in enumerate(run.times):
        A = run.states[k]
        for sel, col in ((same, "C0"), (~same, "C3")):
            v = np.quantile(A[sel], (0.05, 0.5, 0.95))
            axes[2].errorbar([t], [v[1]], yerr=[[v[1] - v[0]], [v[2] - v[1]]], fmt="o", color=col, capsize=3)
    axes[2].set_xlabel("graphon time t")
    axes[2].set_ylabel("edge weight")
    axes[2].set_title("laws of the edge weights (points: finite n, final sides)")
    axes[2].legend(loc="center right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()

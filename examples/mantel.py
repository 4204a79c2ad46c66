"""Mantel's theorem by gradient descent.

Minimise t(K3) - t(K2) over edge-weight matrices in [0, 1] by the projected gradient flow,
from random symmetric data.  Mantel: a triangle-free graph on n vertices has at most n^2/4
edges, so the minimum over graphons is -1/2, reached by the balanced complete bipartite
graphon.  From generic data the flow ends at a complete bipartite graph K_{a, n-a}, whose value
is -2a(n-a)/n^2 (-1/2 when the split is balanced); from a constant start it stays constant and
tends to 1/sqrt(3).

Run:  python examples/mantel.py [--out DIR]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from graphonflow import EdgeDensity, HomDensity, flow


def bipartition(W, tol=1e-9):
    """Return the two sides if W is (the matrix of) a complete bipartite graph, else None."""
    n = W.shape[0]
    if np.any((W > tol) & (W < 1 - tol)):
        return None
    E = W > 0.5
    side = -np.ones(n, dtype=int)
    side[0] = 0
    for i in range(n):  # graph is connected if complete bipartite with two nonempty sides
        for j in np.flatnonzero(E[i]):
            if side[j] < 0:
                side[j] = 1 - side[i]
    if np.any(side < 0):
        return None
    want = side[:, None] != side[None, :]
    if not np.array_equal(E, want):
        return None
    return np.flatnonzero(side == 0), np.flatnonzero(side == 1)


def run(n, seed, t1=200.0, dt=0.05):
    rng = np.random.default_rng(seed)
    A = rng.random((n, n))
    A = (A + A.T) / 2
    res = flow(HomDensity("K3") - EdgeDensity(), A, t1=t1, dt=dt, integrator="euler", gtol=1e-10,
               save_every=10)
    return res


def main(argv=None, sizes=(7, 24), seeds=(0, 1, 2)):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default="mantel-out", help="folder for the figure")
    args = ap.parse_args(argv)
    rows = []
    print(f"{'n':>3} {'seed':>4} {'status':>7} {'t':>6} {'value':>10} {'split':>7} {'-2a(n-a)/n^2':>13}")
    for n in sizes:
        for seed in seeds:
            res = run(n, seed)
            parts = bipartition(res.W)
            assert res.status == "steady", res.message
            assert parts is not None, "the flow did not end at a complete bipartite graph"
            a, b = len(parts[0]), len(parts[1])
            predicted = -2.0 * a * b / n**2
            assert abs(res.energy - predicted) < 1e-9
            rows.append((n, seed, res, a, b))
            print(f"{n:3d} {seed:4d} {res.status:>7} {res.t:6.2f} {res.energy:10.6f} {f'{a}+{b}':>7} {predicted:13.6f}")
    best24 = min(r[2].energy for r in rows if r[0] == max(sizes))
    print(f"best value at n={max(sizes)}: {best24:.6f} (Mantel bound -1/2)")
    assert best24 >= -0.5 - 1e-12

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    fig = figure(rows)
    fig.savefig(out / "mantel.png", dpi=120)
    import matplotlib.pyplot as plt

    plt.close(fig)
    print(f"figure: {out / 'mantel.png'}")
    return rows


def figure(rows):
    """Energy curves of every run, and the last run's final W (sides together) with a colourbar."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from graphonflow.plotting import plot_energy, plot_graphon

    fig, axes = plt.subplots(1, 2, figsize=(9.6, 3.6))
    for n, seed, res, a, b in rows:
        plot_energy(res, ax=axes[0], label=f"n={n}, seed {seed}")
    axes[0].axhline(-0.5, color="k", ls=":", lw=1)
    axes[0].set_ylabel("t(K3) - t(K2)")
    axes[0].legend(fontsize=7)
    n, seed, res, a, b = rows[-1]
    order = np.concatenate(bipartition(res.W))
    plot_graphon(res, ax=axes[1], order=order, cmap="Greys", vmin=0, vmax=1,
                 title=f"final W, n={n}, sides {a}+{b}")
    fig.tight_layout()
    return fig


if __name__ == "__main__":
    main()

"""Homomorphism densities of real networks shipped with networkx, and counts in a large one.

For Zachary's karate club, the Florentine families and Les Misérables (unweighted), print
t, t_inj and t_ind of small patterns, and check t_inj against exact subgraph counts:
t_inj(F, G) * n(n-1)...(n-k+1) is the number of injective homomorphisms, which is
|Aut(F)| times the number of copies of F in G (networkx's monomorphism matcher counts them).
The figure, real_networks.png in the output folder, draws the three densities of every
pattern in every network on a log scale.

networkx ships no network with a million edges and this example runs offline, so the large
graph is generated: a Chung--Lu graph with power-law degrees (exponent 2.5, 200,000 vertices,
1,200,000 edges; --quick: 20,000 and 100,000), counted by the sparse engine
(graphonflow.subgraph_count) and checked against networkx.triangles.  Its densities are of order
1e-10 and below: in a sparse graph t(F) -> 0, so the counts are the numbers to report.

Run:  python examples/real_networks.py [--out DIR] [--quick]
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import networkx as nx

from graphonflow import HomWorkspace, as_pattern

PATTERNS = ["K2", "P3", "K3", "S3", "P4", "C4", "K4", "K1,3"]
QUICK_PATTERNS = ["K2", "K3", "C4"]


def networks():
    return {
        "karate club": nx.karate_club_graph(),
        "Florentine families": nx.florentine_families_graph(),
        "Les Misérables": nx.les_miserables_graph(),
    }


def main(argv=None, patterns=None):
    """Print the table, check it against subgraph counts, write the figure; return the numbers.

    ``patterns`` (a list of names) overrides the command line's choice of patterns.
    Returns {(network, pattern): (t, t_inj, t_ind, counted injective homomorphisms)}.
    """
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--out", default="real-networks-out", help="folder for the figure")
    ap.add_argument("--quick", action="store_true",
                    help=f"only the patterns {', '.join(QUICK_PATTERNS)} (instead of {', '.join(PATTERNS)})")
    args = ap.parse_args(argv)
    if patterns is None:
        patterns = QUICK_PATTERNS if args.quick else PATTERNS
    results = {}
    for name, G in networks().items():
        n = G.number_of_nodes()
        ws = HomWorkspace(G, weight=None)  # unweighted: every edge counts 1
        print(f"\n{name}: n = {n}, m = {G.number_of_edges()}")
        print(f"{'F':>5} {'t':>11} {'t_inj':>11} {'t_ind':>11} {'inj homs':>10} {'counted':>10}")
        gm = nx.algorithms.isomorphism.GraphMatcher
        for F in patterns:
            p = as_pattern(F)
            t, ti, td = ws.density(p), ws.density(p, "inj"), ws.density(p, "ind")
            homs = ti * math.perm(n, p.k)
            counted = sum(1 for _ in gm(G, p.to_networkx()).subgraph_monomorphisms_iter())
            assert abs(homs - counted) < 1e-6 * max(1, counted), (name, F, homs, counted)
            results[(name, F)] = (t, ti, td, counted)
            print(f"{F:>5} {t:11.6f} {ti:11.6f} {td:11.6f} {round(homs):10d} {counted:10d}")
    print("\nall injective densities agree with exact subgraph counts")
    large_network(args.quick)  # printed; its numbers come back from large_network itself
    path = figure(results, patterns, Path(args.out))
    print(f"figure: {path}")
    return results


LARGE_PATTERNS = ["K2", "P3", "K3", "S3", "P4", "C4", "K4", "C5"]


def large_network(quick=False):
    """Counts and densities in a Chung--Lu graph with 1.2 million edges (quick: 100,000).

    Returns {(pattern, "copies" | "t" | "t_inj"): value}; triangles are checked against
    networkx.triangles."""
    import time

    from graphonflow import SparseCounter
    from graphonflow.sparse.generators import chung_lu_graph

    n, m = (20_000, 100_000) if quick else (200_000, 1_200_000)
    t0 = time.perf_counter()
    G = chung_lu_graph(n, m, 2.5, rng=7)
    c = SparseCounter(G)
    print(f"\nChung-Lu power-law graph (exponent 2.5, generated; networkx ships no network this large): "
          f"n = {G.n}, m = {G.m}, max degree {int(G.degrees.max())}")
    print(f"{'F':>5} {'copies':>16} {'t':>11} {'t_inj':>11}")
    out = {}
    for F in LARGE_PATTERNS:
        copies = c.subgraphs(F)
        t, ti = c.density(F), c.density(F, "inj")
        out[(F, "copies")], out[(F, "t")], out[(F, "t_inj")] = copies, t, ti
        print(f"{F:>5} {copies:16d} {t:11.3e} {ti:11.3e}")
    H = nx.Graph()
    H.add_nodes_from(range(G.n))
    rows = [r for r in range(G.n) for _ in range(int(G.degrees[r]))]
    H.add_edges_from((a, int(b)) for a, b in zip(rows, G.indices.tolist()) if a < b)
    tri = sum(nx.triangles(H).values()) // 3
    assert tri == out[("K3", "copies")], (tri, out[("K3", "copies")])
    print(f"triangles agree with networkx.triangles ({tri}); counted in {time.perf_counter() - t0:.1f} s "
          "with the check")
    return out


def figure(results, patterns, out: Path) -> Path:
    """Grouped bars of t, t_inj and t_ind per pattern, one panel per network (log scale)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    names = list(dict.fromkeys(name for name, _ in results))
    out.mkdir(parents=True, exist_ok=True)
    fig, axes = plt.subplots(1, len(names), figsize=(4.2 * len(names), 3.6), sharey=True, squeeze=False)
    x = np.arange(len(patterns))
    for ax, name in zip(axes[0], names):
        for j, label in enumerate(("t", "t_inj", "t_ind")):
            vals = [results[(name, F)][j] for F in patterns]
            # a zero density (no induced copy) has no place on a log axis: its bar is left out
            ax.bar(x + (j - 1) * 0.27, [v if v > 0 else np.nan for v in vals], width=0.27, label=label)
        ax.set_yscale("log")
        ax.set_xticks(x, patterns)
        ax.set_title(name)
    axes[0][0].set_ylabel("density")
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    path = out / "real_networks.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


if __name__ == "__main__":
    main()

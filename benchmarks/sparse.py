"""Benchmark: exact subgraph counts in large sparse graphs against networkx, igraph and networkit.

Run:  python benchmarks/sparse.py [--edges 1e5 1e6 1e7] [--quick] [--parts triangles four motifs five switch]

Everything is measured in one run; each of our timings is reported next to the baselines timed in
the same run, on the same graphs, with the ratio (baseline time / our time; > 1 means we are
faster):

* triangle counts: ``networkx.triangles`` (skipped above 2e6 edges: the networkx graph alone takes
  several GB), igraph's ``Graph.list_triangles`` and networkit's ``TriangleEdgeScore`` (per-edge
  counts, summed); each library's time is the best of --tri-reps runs (default 3, timeit's
  convention: the fastest run is the one least disturbed by the rest of the machine), ours from
  the CSR arrays with nothing kept between runs;
* every pattern with <= 4 vertices (the 18 graphs on 1 to 4 vertices, hom, inj and ind) on every
  graph; and on smaller graphs (--motif-edges, default 2e4) against igraph's
  ``motifs_randesu(size=4)`` (induced counts of the 6 connected 4-vertex classes, checked equal),
  which enumerates every connected 4-vertex set and does not finish in minutes at 1e5 edges;
* ``--five`` (or ``--parts ... five``): all 21 connected 5-vertex patterns (injective counts) on
  every graph up to --five-max edges (default: all);
* ``--switch``: the dense engine against the sparse counts on G(n, p), the measurement behind
  graphonflow.sparse.dispatch.DENSE_MIN_FILL and DENSE_MAX_N.

Graphs: Chung--Lu with power-law exponent 2.5 (graphonflow.sparse.generators.chung_lu_graph,
average degree 10) and Barabasi--Albert with 5 edges per new vertex (barabasi_albert_graph), both
seeded.  Our times start from the CSR arrays (the orientation, or the degree ordering that
the other kernels share, is included); reading the graph into each library is not timed for
anyone.
The machine may be shared: the script prints its core count and load average first.
"""

from __future__ import annotations

import argparse
import gc
import math
import os
import time

import numpy as np


def _timed(fn, *a, **k):
    gc.collect()
    t = time.perf_counter()
    out = fn(*a, **k)
    return out, time.perf_counter() - t


def graphs(edges, quick):
    from graphonflow.sparse.generators import barabasi_albert_graph, chung_lu_graph

    out = []
    for m in edges:
        m = int(m)
        out.append((f"Chung-Lu 2.5, m={m:.0e}", chung_lu_graph(max(m // 5, 10), m, 2.5, rng=1)))
        out.append((f"BA k=5, m={m:.0e}", barabasi_albert_graph(m // 5 + 5, 5, rng=1)))
    return out


def real_graphs():
    """The largest networks networkx ships (tiny next to the generated ones: Les Miserables has
    254 edges), read into CSR."""
    import networkx as nx

    from graphonflow.sparse import SparseGraph

    out = []
    for name, g in (("networkx les_miserables", nx.les_miserables_graph()),
                    ("networkx karate_club", nx.karate_club_graph()),
                    ("networkx florentine_families", nx.florentine_families_graph())):
        out.append((name, SparseGraph.from_networkx(nx.convert_node_labels_to_integers(g), weight=None)))
    return out


def edge_arrays(G):
    indptr, indices = G.indptr, G.indices
    rows = np.repeat(np.arange(G.n), np.diff(indptr))
    keep = rows < indices
    return rows[keep], indices[keep].astype(np.int64)


def tri_ours(G):
    from graphonflow.sparse import SparseCounter

    c = SparseCounter(G)
    return c.subgraphs("K3")


def tri_networkx(G):
    import networkx as nx

    u, v = edge_arrays(G)
    H = nx.Graph()
    H.add_nodes_from(range(G.n))
    H.add_edges_from(zip(u.tolist(), v.tolist()))
    return lambda: sum(nx.triangles(H).values()) // 3


def tri_igraph(G):
    import igraph as ig

    u, v = edge_arrays(G)
    h = ig.Graph(n=G.n, edges=np.stack([u, v], axis=1))
    return lambda: len(h.list_triangles()), h


def tri_networkit(G):
    import networkit as nk

    u, v = edge_arrays(G)
    H = nk.Graph(G.n)
    H.addEdges((u, v))
    H.indexEdges()

    def run():
        s = nk.sparsification.TriangleEdgeScore(H)
        s.run()
        return round(sum(s.scores()) / 3)

    return run


def fmt(t):
    return "-" if t is None else (f"{t:.3f}" if t < 10 else f"{t:.1f}")


def ratio(base, ours):
    return "-" if base is None or ours is None else f"{base / ours:.2f}x"


def _best(fn, reps, clear=None):
    """(value, best time) of ``reps`` runs of fn(); clear() before each (not timed)."""
    best, out = math.inf, None
    for _ in range(max(1, reps)):
        if clear is not None:
            clear()
        out, t = _timed(fn)
        best = min(best, t)
    return out, best


def triangle_table(gs, args):
    print("\n## triangles (seconds; ratio = baseline / ours)\n")
    print("| graph | n | m | triangles | ours | networkx | igraph | networkit | vs networkx | vs igraph | vs networkit |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for name, G in gs:
        reps = args.tri_reps
        # nothing precomputed: ours starts from the CSR arrays every time
        tri, t_ours = _best(lambda: tri_ours(G), reps, clear=G._cache.clear)
        base = {}
        if G.m <= args.networkx_max:
            run = tri_networkx(G)
            val, base["networkx"] = _best(run, reps)
            assert val == tri, ("networkx", val, tri)
        try:
            run, _h = tri_igraph(G)
            val, base["igraph"] = _best(run, reps)
            assert val == tri, ("igraph", val, tri)
            del _h
        except ImportError:
            pass
        try:
            run = tri_networkit(G)
            val, base["networkit"] = _best(run, reps)
            assert val == tri, ("networkit", val, tri)
        except ImportError:
            pass
        print(f"| {name} | {G.n} | {G.m} | {tri} | {fmt(t_ours)} | {fmt(base.get('networkx'))} | "
              f"{fmt(base.get('igraph'))} | {fmt(base.get('networkit'))} | {ratio(base.get('networkx'), t_ours)} | "
              f"{ratio(base.get('igraph'), t_ours)} | {ratio(base.get('networkit'), t_ours)} |", flush=True)


def four_vertex_patterns():
    import networkx as nx

    from graphonflow import Pattern

    return [Pattern.from_networkx(g) for g in nx.graph_atlas_g()[1:] if g.number_of_nodes() <= 4]


def count_all_four(G):
    """Every pattern on 1-4 vertices, hom, inj and ind, from a graph with nothing precomputed."""
    from graphonflow.sparse import SparseCounter

    G._cache.clear()
    c = SparseCounter(G)
    for P in four_vertex_patterns():
        for kind in ("hom", "inj", "ind"):
            c.count(P, kind)
    return c


def four_vertex_table(gs):
    print("\n## every pattern with <= 4 vertices: 18 patterns x hom, inj, ind (seconds, exact integers)\n")
    print("| graph | n | m | seconds | C4 copies | K4 copies | induced P4 |")
    print("|---|---|---|---|---|---|---|")
    for name, G in gs:
        c, t = _timed(count_all_four, G)
        print(f"| {name} | {G.n} | {G.m} | {fmt(t)} | {c.subgraphs('C4')} | {c.subgraphs('K4')} | "
              f"{c.subgraphs('P4', induced=True)} |", flush=True)


def motif_table(args):
    """Induced 4-vertex counts against igraph's motifs_randesu (which enumerates every connected
    4-vertex set, so it runs on smaller graphs)."""
    import igraph as ig

    from graphonflow import Pattern

    print(f"\n## induced 4-vertex counts against igraph motifs_randesu(size=4), m = {args.motif_edges:.0e}\n")
    print("| graph | n | m | ours: all 18 patterns x 3 kinds | igraph: 6 connected induced classes | ratio |")
    print("|---|---|---|---|---|---|")
    for name, G in graphs([args.motif_edges], False):
        c, t_ours = _timed(count_all_four, G)
        u, v = edge_arrays(G)
        h = ig.Graph(n=G.n, edges=np.stack([u, v], axis=1))
        motifs, t_ig = _timed(h.motifs_randesu, size=4)
        for cls, val in enumerate(motifs):
            if isinstance(val, float) and math.isnan(val):
                continue
            F = Pattern.from_edges(ig.Graph.Isoclass(4, cls).get_edgelist(), k=4)
            assert c.subgraphs(F, induced=True) == val, (cls, val)
        print(f"| {name} | {G.n} | {G.m} | {fmt(t_ours)} | {fmt(t_ig)} (equal counts) | {ratio(t_ig, t_ours)} |",
              flush=True)


def five_vertex_table(gs):
    import networkx as nx

    from graphonflow import Pattern
    from graphonflow.sparse import SparseCounter

    print("\n## all 21 connected 5-vertex patterns (injective counts)\n")
    print("| graph | n | m | seconds (all 21) | slowest pattern (s) |")
    print("|---|---|---|---|---|")
    pats = [Pattern.from_networkx(g) for g in nx.graph_atlas_g()[1:] if g.number_of_nodes() == 5
            and nx.is_connected(g)]
    for name, G in gs:
        G._cache.clear()
        c = SparseCounter(G)
        t0 = time.perf_counter()
        times = []
        for P in pats:
            t = time.perf_counter()
            c.count(P, "inj")
            times.append((time.perf_counter() - t, list(P.edges)))
        total = time.perf_counter() - t0
        worst = max(times)
        print(f"| {name} | {G.n} | {G.m} | {total:.1f} | {worst[0]:.1f} {worst[1]} |", flush=True)


def switch_table():
    from graphonflow import HomWorkspace
    from graphonflow.sparse import SparseCounter, SparseGraph

    print("\n## the dense/sparse switch: hom_density of K3, C4, K4 on G(n, p) (seconds)\n")
    print("| n | fill | K3 dense | K3 sparse | C4 dense | C4 sparse | K4 dense | K4 sparse |")
    print("|---|---|---|---|---|---|---|---|")
    rng = np.random.default_rng(0)
    for n in (250, 500, 1000, 2000):
        for p in (0.01, 0.05, 0.1, 0.2, 0.4):
            A = np.triu((rng.random((n, n)) < p).astype(float), 1)
            A = A + A.T
            r, cidx = np.nonzero(np.triu(A))
            G = SparseGraph.from_edges(r, cidx, n=n)
            row = []
            for F in ("K3", "C4", "K4"):
                if F == "K4" and n > 1000:  # n^4 = 1.6e13 at n = 2000: minutes per entry
                    row += ["-", "-"]
                    continue
                ws = HomWorkspace(A, max_cost=None)
                t_d = _timed(ws.density, F)[1]
                G._cache.clear()
                c = SparseCounter(G)
                t_s = _timed(c.density, F)[1]
                row += [f"{t_d:.4f}", f"{t_s:.4f}"]
            print(f"| {n} | {p} | " + " | ".join(row) + " |", flush=True)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--edges", type=float, nargs="+", default=[1e5, 1e6, 1e7])
    ap.add_argument("--quick", action="store_true", help="1e5 and 1e6 edges only")
    ap.add_argument("--parts", nargs="+", default=["triangles", "four", "motifs"],
                    choices=["triangles", "four", "motifs", "five", "switch"])
    ap.add_argument("--switch", action="store_true", help="also the dense/sparse switch table")
    ap.add_argument("--five", action="store_true", help="also all 5-vertex patterns (graphs <= 1e6 edges)")
    ap.add_argument("--networkx-max", type=float, default=2e6)
    ap.add_argument("--tri-reps", type=int, default=3, help="runs per library in the triangle table (best kept)")
    ap.add_argument("--five-max", type=float, default=2e7, help="largest graph (edges) of the 5-vertex table")
    ap.add_argument("--motif-edges", type=float, default=2e4,
                    help="edges of the graphs compared with igraph motifs_randesu (it takes 42 s at 2e4 here)")
    args = ap.parse_args(argv)
    if args.quick:
        args.edges = [1e5, 1e6]
    parts = set(args.parts) | ({"five"} if args.five else set()) | ({"switch"} if args.switch else set())
    from numba import get_num_threads

    print(f"cores: {os.cpu_count()}, numba threads: {get_num_threads()}, load average: "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    gs = real_graphs() + graphs(args.edges, args.quick)
    tri_ours(gs[-1][1])  # load the compiled kernels before timing
    count_all_four(gs[0][1])
    if "triangles" in parts:
        triangle_table(gs, args)
    if "four" in parts:
        four_vertex_table(gs)
    if "motifs" in parts:
        motif_table(args)
    if "five" in parts:
        five_vertex_table([g for g in gs if g[1].m <= args.five_max])
    if "switch" in parts:
        switch_table()
    print(f"\nload average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()

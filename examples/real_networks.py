"""Homomorphism densities of real networks shipped with networkx.

For Zachary's karate club, the Florentine families and Les Misérables (unweighted), print
t, t_inj and t_ind of small patterns, and check t_inj against exact subgraph counts:
t_inj(F, G) * n(n-1)...(n-k+1) is the number of injective homomorphisms, which is
|Aut(F)| times the number of copies of F in G (networkx's monomorphism matcher counts them).

Run:  python examples/real_networks.py
"""

from __future__ import annotations

import math

import networkx as nx

from graphonflow import HomWorkspace, as_pattern

PATTERNS = ["K2", "P3", "K3", "S3", "P4", "C4", "K4", "K1,3"]


def networks():
    return {
        "karate club": nx.karate_club_graph(),
        "Florentine families": nx.florentine_families_graph(),
        "Les Misérables": nx.les_miserables_graph(),
    }


def main(patterns=PATTERNS):
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
    return results


if __name__ == "__main__":
    main()

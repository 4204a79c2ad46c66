"""Small multigraph patterns for the counting engine: canonical keys, quotients, automorphisms.

The engine works with *generalised patterns*: k vertices, edges with multiplicities (a quotient
of a simple pattern can merge two edges into one, which on a weighted graph carries A^2) and
loops (an edge inside a block of a partition, which uses the diagonal of A).  A key is

    (k, ((a, b, mult), ...), (loops_0, ..., loops_{k-1}))

with a < b, and :func:`canon` picks one key per isomorphism class, so counts are cached per
class.  Canonical keys come from colour refinement followed by trying every order of the
vertices inside each colour class (at most a few hundred orders for patterns on <= 6 vertices).
"""

from __future__ import annotations

import functools
import math

__all__ = ["canon", "quotient", "components", "is_tree", "automorphisms", "key_of_pattern"]


def key_of_pattern(P):
    """The key of a simple :class:`~graphonflow.Pattern` (not canonical)."""
    return (P.k, tuple((a, b, 1) for a, b in P.edges), (0,) * P.k)


def _refine(k, adj, loops):
    """Colour refinement; ``adj[v]`` is a dict {u: mult}.  Returns an isomorphism-invariant colour
    per vertex (an int: the rank of its final signature)."""
    sig = [(loops[v], tuple(sorted(adj[v].values()))) for v in range(k)]
    names = {s: i for i, s in enumerate(sorted(set(sig)))}
    col = [names[s] for s in sig]
    while True:
        sig = [(col[v], tuple(sorted((adj[v][u], col[u]) for u in adj[v]))) for v in range(k)]
        names = {s: i for i, s in enumerate(sorted(set(sig)))}
        new = [names[s] for s in sig]
        if len(names) == len(set(col)):
            return new
        col = new


def _adjacency(k, edges):
    adj = [dict() for _ in range(k)]
    for a, b, c in edges:
        adj[a][b] = adj[a].get(b, 0) + c
        adj[b][a] = adj[b].get(a, 0) + c
    return adj


def _refine_from(k, adj, col):
    """Refine the colouring ``col`` (ints) until stable; the new colours are ranks of signatures, so
    the result depends only on the coloured graph up to isomorphism."""
    ncol = len(set(col))
    while True:
        sig = [(col[v], tuple(sorted((adj[v][u], col[u]) for u in adj[v]))) for v in range(k)]
        names = {x: i for i, x in enumerate(sorted(set(sig)))}
        new = [names[x] for x in sig]
        if len(names) == ncol:
            return new
        col, ncol = new, len(names)


def _labelling_key(k, emap, loops, col):
    """The key of the graph relabelled by a discrete colouring (vertex v -> label col[v])."""
    e = tuple(sorted((min(col[a], col[b]), max(col[a], col[b]), c) for (a, b), c in emap.items()))
    lo = [0] * k
    for v in range(k):
        lo[col[v]] = loops[v]
    return (e, tuple(lo))


@functools.lru_cache(maxsize=65536)
def canon(key):
    """The canonical key of the isomorphism class of ``key``.

    Individualisation and refinement: colour refinement, then, while some colour class has
    several vertices, a branch for each vertex of the first such class (one per class of twins,
    which give the same subtree), each refined again; the smallest relabelled key over the leaves
    is the canonical one.  Cycles take 2k leaves, empty and complete graphs one.
    """
    k, edges, loops = key
    adj = _adjacency(k, edges)
    emap = {}
    for a, b, c in edges:
        p = (min(a, b), max(a, b))
        emap[p] = emap.get(p, 0) + c
    best = [None]

    def search(col):
        classes = {}
        for v in range(k):
            classes.setdefault(col[v], []).append(v)
        split = [cl for c, cl in sorted(classes.items()) if len(cl) > 1]
        if not split:
            cand = _labelling_key(k, emap, loops, col)
            if best[0] is None or cand < best[0]:
                best[0] = cand
            return
        cl = split[0]
        reps = []
        for v in cl:
            if any(_twins(adj, loops, u, v) for u in reps):
                continue
            reps.append(v)
            indiv = [2 * col[x] + (0 if x == v else 1) for x in range(k)]
            search(_refine_from(k, adj, _ranks(indiv)))

    search(_refine(k, adj, loops))
    return (k, best[0][0], best[0][1])


def _ranks(col):
    names = {c: i for i, c in enumerate(sorted(set(col)))}
    return [names[c] for c in col]


def _twins(adj, loops, u, v):
    """Whether swapping u and v is an automorphism: the same loops, and the same multiplicity to
    every other vertex."""
    if loops[u] != loops[v]:
        return False
    a = {x: c for x, c in adj[u].items() if x != v}
    b = {x: c for x, c in adj[v].items() if x != u}
    return a == b


def quotient(key, blocks):
    """The pattern ``key`` with each block of the partition ``blocks`` merged into one vertex:
    edges between blocks add their multiplicities, edges inside a block become loops."""
    k, edges, loops = key
    label = [0] * k
    for i, b in enumerate(blocks):
        for v in b:
            label[v] = i
    q = len(blocks)
    emap = {}
    lo = [0] * q
    for v in range(k):
        lo[label[v]] += loops[v]
    for a, b, c in edges:
        la, lb = label[a], label[b]
        if la == lb:
            lo[la] += c
        else:
            p = (min(la, lb), max(la, lb))
            emap[p] = emap.get(p, 0) + c
    return (q, tuple(sorted((a, b, c) for (a, b), c in emap.items())), tuple(lo))


def components(key):
    """The connected components of ``key`` as keys (isolated vertices are components of one
    vertex)."""
    k, edges, loops = key
    parent = list(range(k))

    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b, _ in edges:
        parent[find(a)] = find(b)
    groups = {}
    for v in range(k):
        groups.setdefault(find(v), []).append(v)
    out = []
    for vs in groups.values():
        idx = {v: i for i, v in enumerate(vs)}
        e = tuple(sorted((idx[a], idx[b], c) for a, b, c in edges if a in idx))
        out.append((len(vs), e, tuple(loops[v] for v in vs)))
    return out


def is_tree(key):
    """True for a connected key whose underlying simple graph is a tree (loops excluded)."""
    k, edges, loops = key
    return len(edges) == k - 1 and not any(loops)


def simple(key):
    """The key with every multiplicity set to 1 and every loop count to 0 or 1 (what it means on a
    0/1 graph, where A^c = A)."""
    k, edges, loops = key
    return (k, tuple((a, b, 1) for a, b, _ in edges), tuple(1 if x else 0 for x in loops))


def automorphisms(k, edges) -> int:
    """|Aut(F)| of a simple pattern (vertices 0..k-1, edges (a, b)), by backtracking inside the
    colour classes of colour refinement; vertices with the same neighbourhood (twins) are
    counted by factorials, so stars and complete graphs cost nothing.

    >>> automorphisms(4, [(0, 1), (0, 2), (0, 3)]), automorphisms(5, [(0, 1), (1, 2), (2, 3), (3, 4), (0, 4)])
    (6, 10)
    """
    nbr = [set() for _ in range(k)]
    for a, b in edges:
        nbr[a].add(b)
        nbr[b].add(a)
    # twin classes: same open neighbourhood (false twins) or same closed neighbourhood (true twins)
    rep = list(range(k))
    for u in range(k):
        for v in range(u):
            if rep[v] == v and (nbr[u] - {v} == nbr[v] - {u}):
                rep[u] = v
                break
    groups = {}
    for v in range(k):
        groups.setdefault(rep[v], []).append(v)
    factor = math.prod(math.factorial(len(g)) for g in groups.values())
    reps = sorted(groups)
    # the quotient on the representatives, coloured by class size and by twin type
    idx = {r: i for i, r in enumerate(reps)}
    q = len(reps)
    qadj = [set() for _ in range(q)]
    for a, b in edges:
        ra, rb = rep[a], rep[b]
        if ra != rb:
            qadj[idx[ra]].add(idx[rb])
            qadj[idx[rb]].add(idx[ra])
    tag = []
    for r in reps:
        g = groups[r]
        true_twins = len(g) > 1 and g[1] in nbr[g[0]]
        tag.append((len(g), true_twins))
    adjd = [{u: 1 for u in qadj[v]} for v in range(q)]
    tag_rank = {t: i for i, t in enumerate(sorted(set(tag)))}
    col0 = _refine(q, adjd, tuple(tag_rank[t] for t in tag))
    col = [(col0[v], tag[v]) for v in range(q)]
    order = sorted(range(q), key=lambda v: (-len(qadj[v]), v))
    image = [-1] * q
    used = [False] * q

    def extend(i):
        if i == q:
            return 1
        v = order[i]
        total = 0
        for w in range(q):
            if used[w] or col[w] != col[v]:
                continue
            ok = True
            for j in range(i):
                u = order[j]
                if (u in qadj[v]) != (image[u] in qadj[w]):
                    ok = False
                    break
            if ok:
                image[v] = w
                used[w] = True
                total += extend(i + 1)
                used[w] = False
        return total

    return factor * extend(0)


@functools.lru_cache(maxsize=4096)
def vertex_orbits(key):
    """The orbits of Aut(key) on the vertices (edge multiplicities and loops respected), as a
    tuple of sorted tuples: u and v share an orbit exactly when the key with u marked and the key
    with v marked have the same canonical form (a mark is a large loop count)."""
    k, edges, loops = key
    mark = 1 + max(loops, default=0) + sum(c for _, _, c in edges)
    groups = {}
    for v in range(k):
        lo = list(loops)
        lo[v] += mark
        groups.setdefault(canon((k, edges, tuple(lo))), []).append(v)
    return tuple(sorted(tuple(g) for g in groups.values()))

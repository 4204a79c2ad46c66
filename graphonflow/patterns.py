"""Pattern graphs F for homomorphism densities.

A *pattern* is a small simple graph F = (V, E) with vertices relabelled
``0 .. k-1``.  It may have isolated vertices (each contributes a factor 1 to
t(F, W)), but no loops, no multi-edges and no directions.

Patterns are given in any of these forms, all accepted by :func:`as_pattern`:

* a :class:`Pattern`;
* a :class:`networkx.Graph` (its nodes, isolated ones included);
* an edge list such as ``[(0, 1), (1, 2)]`` (vertices are the labels used);
* a name: ``"K3"`` (complete graph), ``"C5"`` (cycle), ``"P4"`` (path on 4
  vertices), ``"S3"`` (star with 3 leaves), ``"K2,3"`` (complete bipartite),
  ``"E4"`` (4 isolated vertices).
"""

from __future__ import annotations

import functools
import itertools
import re
from dataclasses import dataclass, field

import networkx as nx

__all__ = ["Pattern", "as_pattern", "is_edge_list"]

_NAME = re.compile(r"^\s*([KCPSE])\s*(\d+)\s*(?:,\s*(\d+))?\s*$")


@dataclass(frozen=True)
class Pattern:
    """A simple pattern graph on vertices ``0 .. k-1``.

    Parameters
    ----------
    k : int
        Number of vertices (>= 1).
    edges : tuple of (int, int)
        Edges ``(a, b)`` with ``a < b``, sorted, no repeats.
    name : str, optional
        A display name, e.g. ``"K3"``.

    Examples
    --------
    >>> Pattern.from_name("C4").edges
    ((0, 1), (0, 3), (1, 2), (2, 3))
    """

    k: int
    edges: tuple
    name: str = field(default="", compare=False)

    def __post_init__(self):
        if not isinstance(self.k, int) or self.k < 1:
            raise ValueError(f"a pattern needs at least one vertex, got k={self.k!r}")
        seen = set()
        for e in self.edges:
            a, b = e
            if a == b:
                raise ValueError(f"pattern has a loop at vertex {a}; patterns must be simple graphs")
            if not (0 <= a < b < self.k):
                raise ValueError(f"edge {e} is not of the form (a, b) with 0 <= a < b < k={self.k}")
            if e in seen:
                raise ValueError(f"pattern has a repeated edge {e}; patterns must be simple graphs")
            seen.add(e)
        if tuple(sorted(self.edges)) != tuple(self.edges):
            raise ValueError("Pattern.edges must be sorted; use as_pattern() to build patterns")

    # ------------------------------------------------------------------ builders
    @classmethod
    def from_edges(cls, edges, k=None, name=""):
        """Build a pattern from an edge list with arbitrary hashable labels.

        Labels are sorted when possible (so ``[(1, 2), (0, 1)]`` keeps vertex 0 as 0)
        and numbered in that order.  ``k`` adds isolated vertices to reach k vertices
        (only for integer labels ``0 .. k-1``).
        """
        edges = list(edges)
        for e in edges:
            if not isinstance(e, (tuple, list)) or len(e) != 2:
                raise ValueError(f"edge list item {e!r} is not a pair (a, b)")
        labels = {v for e in edges for v in e}
        if k is not None:
            labels |= set(range(k))
        try:
            order = sorted(labels)
        except TypeError:
            order = sorted(labels, key=repr)
        index = {v: i for i, v in enumerate(order)}
        norm = []
        for a, b in edges:
            if a == b:
                raise ValueError(f"pattern has a loop at vertex {a!r}; patterns must be simple graphs")
            i, j = sorted((index[a], index[b]))
            norm.append((i, j))
        if len(set(norm)) != len(norm):
            raise ValueError("pattern has a repeated edge; patterns must be simple graphs")
        if not order:
            raise ValueError("empty edge list: give a networkx graph or a name such as 'E1' for edgeless patterns")
        return cls(len(order), tuple(sorted(norm)), name)

    @classmethod
    def from_networkx(cls, G, name=""):
        """Build a pattern from a simple undirected :class:`networkx.Graph`."""
        if G.is_directed():
            raise ValueError("pattern graphs must be undirected; got a directed networkx graph")
        if G.is_multigraph():
            raise ValueError("pattern graphs must be simple; got a networkx multigraph")
        if G.number_of_nodes() == 0:
            raise ValueError("pattern graph has no vertices")
        loops = list(nx.selfloop_edges(G))
        if loops:
            raise ValueError(f"pattern has a loop at vertex {loops[0][0]!r}; patterns must be simple graphs")
        nodes = list(G.nodes)
        try:
            nodes = sorted(nodes)
        except TypeError:
            pass
        index = {v: i for i, v in enumerate(nodes)}
        edges = sorted(tuple(sorted((index[a], index[b]))) for a, b in G.edges)
        return cls(len(nodes), tuple(edges), name or str(G.graph.get("name", "")))

    @classmethod
    def from_name(cls, name):
        """Build a named pattern: ``Kk``, ``Ck``, ``Pk``, ``Sk``, ``Ka,b`` or ``Ek``."""
        if not isinstance(name, str) or not name.strip():
            raise ValueError("empty pattern name; use e.g. 'K3', 'C5', 'P4', 'S3', 'K2,3'")
        m = _NAME.match(name)
        if not m:
            raise ValueError(
                f"unknown pattern name {name!r}; expected 'Kk' (complete), 'Ck' (cycle), "
                "'Pk' (path on k vertices), 'Sk' (star with k leaves), 'Ka,b' (complete bipartite) "
                "or 'Ek' (k isolated vertices)"
            )
        kind, a, b = m.group(1), int(m.group(2)), m.group(3)
        if b is not None:
            if kind != "K":
                raise ValueError(f"pattern name {name!r}: only 'Ka,b' takes two numbers")
            b = int(b)
            if a < 1 or b < 1:
                raise ValueError(f"pattern name {name!r}: both sides of Ka,b need >= 1 vertex")
            edges = [(i, a + j) for i in range(a) for j in range(b)]
            return cls(a + b, tuple(sorted(edges)), f"K{a},{b}")
        if kind == "K":
            if a < 1:
                raise ValueError(f"pattern name {name!r}: K needs at least 1 vertex")
            edges = list(itertools.combinations(range(a), 2))
        elif kind == "C":
            if a < 3:
                raise ValueError(f"pattern name {name!r}: a cycle needs at least 3 vertices")
            edges = [(i, i + 1) for i in range(a - 1)] + [(0, a - 1)]
        elif kind == "P":
            if a < 1:
                raise ValueError(f"pattern name {name!r}: a path needs at least 1 vertex")
            edges = [(i, i + 1) for i in range(a - 1)]
        elif kind == "S":
            if a < 1:
                raise ValueError(f"pattern name {name!r}: a star needs at least 1 leaf")
            edges = [(0, i) for i in range(1, a + 1)]
            a = a + 1
        else:  # "E"
            if a < 1:
                raise ValueError(f"pattern name {name!r}: E needs at least 1 vertex")
            edges = []
        return cls(a, tuple(sorted(edges)), name.strip().replace(" ", ""))

    # ---------------------------------------------------------------- properties
    @property
    def n_edges(self) -> int:
        """Number of edges e(F)."""
        return len(self.edges)

    @property
    def degrees(self) -> tuple:
        """Vertex degrees, indexed by vertex."""
        d = [0] * self.k
        for a, b in self.edges:
            d[a] += 1
            d[b] += 1
        return tuple(d)

    def to_networkx(self) -> nx.Graph:
        """The pattern as a :class:`networkx.Graph` on nodes ``0 .. k-1``."""
        G = nx.Graph()
        G.add_nodes_from(range(self.k))
        G.add_edges_from(self.edges)
        return G

    def __str__(self):
        return self.name or f"Pattern(k={self.k}, edges={list(self.edges)})"

    def relabel(self, perm) -> "Pattern":
        """The same graph with vertex ``v`` renamed ``perm[v]``."""
        edges = sorted(tuple(sorted((perm[a], perm[b]))) for a, b in self.edges)
        return Pattern(self.k, tuple(edges), self.name)

    def disjoint_union(self, other: "Pattern") -> "Pattern":
        """F + G: the two patterns side by side."""
        off = self.k
        edges = list(self.edges) + [(a + off, b + off) for a, b in other.edges]
        return Pattern(self.k + other.k, tuple(sorted(edges)), f"{self}+{other}")

    @property
    def is_forest(self) -> bool:
        """True when F has no cycle."""
        return _is_forest(self.k, self.edges)

    @property
    def is_cycle(self) -> bool:
        """True when F is a single cycle through all k >= 3 vertices."""
        return _is_cycle(self.k, self.edges)

    def cost(self, n: int, kind: str = "hom", *, gradient: bool = False, graph: bool = True) -> float:
        """Estimated operations of t(F, W) (or its gradient) on n blocks:
        :func:`graphonflow.hom.contraction_cost` for this pattern.

        >>> Pattern.from_name("C4").cost(10)   # one product B^2 (10^3), then <B^2, B^2> (10^2)
        1100.0
        """
        from .hom import contraction_cost

        return contraction_cost(self, n, kind, gradient=gradient, graph=graph)

    def edge_orbits(self):
        """Orbits of Aut(F) acting on the edges.

        Returns a tuple of ``(representative_edge, orbit_size)``; the sizes add up to e(F).
        """
        return _edge_orbits(self.k, self.edges)


@functools.lru_cache(maxsize=1024)
def _is_forest(k, edges):
    parent = list(range(k))

    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in edges:
        ra, rb = find(a), find(b)
        if ra == rb:
            return False
        parent[ra] = rb
    return True


@functools.lru_cache(maxsize=1024)
def _is_cycle(k, edges):
    if k < 3 or len(edges) != k:
        return False
    deg = [0] * k
    for a, b in edges:
        deg[a] += 1
        deg[b] += 1
    if any(d != 2 for d in deg):
        return False
    return nx.is_connected(nx.Graph(list(edges)))


@functools.lru_cache(maxsize=512)
def _edge_orbits(k, edges):
    """Orbits of Aut(F) on the edges, without listing Aut(F) (a star S_k has k! automorphisms).

    Two edges e, f lie in one orbit iff some automorphism maps the pair of ends of e onto that
    of f, i.e. iff F with the ends of e marked is isomorphic to F with the ends of f marked.
    Each edge is tested against one representative of each orbit found so far whose ends have
    the same degrees (an automorphism keeps degrees), so at most e(F) x (number of orbits)
    isomorphism tests run, each looking for one mapping only.
    """
    G = nx.Graph()
    G.add_nodes_from(range(k))
    G.add_edges_from(edges)
    deg = dict(G.degree())

    def marked(e):
        H = G.copy()
        nx.set_node_attributes(H, {v: v in e for v in H.nodes}, "end")
        return H

    match = nx.algorithms.isomorphism.categorical_node_match("end", False)
    orbits = []  # [representative, marked graph, signature, members]
    for e in edges:
        sig = tuple(sorted((deg[e[0]], deg[e[1]])))
        He = None
        for orb in orbits:
            if orb[2] != sig:
                continue
            He = marked(e) if He is None else He
            if nx.algorithms.isomorphism.GraphMatcher(He, orb[1], node_match=match).is_isomorphic():
                orb[3].append(e)
                break
        else:
            orbits.append([e, marked(e) if He is None else He, sig, [e]])
    return tuple((min(o[3]), len(o[3])) for o in sorted(orbits, key=lambda o: sorted(o[3])))


@functools.lru_cache(maxsize=256)
def _pattern_from_name(name):
    return Pattern.from_name(name)


def is_edge_list(obj) -> bool:
    """True when ``obj`` looks like one edge list (a sequence of label pairs)."""
    if isinstance(obj, (str, bytes, nx.Graph, Pattern)) or not isinstance(obj, (list, tuple)):
        return False
    if len(obj) == 0:
        return False
    for e in obj:
        if not isinstance(e, (tuple, list)) or len(e) != 2:
            return False
        if any(isinstance(v, (list, tuple, nx.Graph, Pattern)) for v in e):
            return False
    return True


def as_pattern(F) -> Pattern:
    """Turn any accepted pattern form into a :class:`Pattern`.

    Raises
    ------
    ValueError
        For loops, multi-edges, directed graphs, empty or unknown names.
    TypeError
        For objects that are not a pattern in any accepted form.
    """
    if isinstance(F, Pattern):
        return F
    if isinstance(F, str):
        return _pattern_from_name(F)
    if isinstance(F, nx.Graph):
        return Pattern.from_networkx(F)
    if isinstance(F, (list, tuple)):
        if len(F) == 0:
            raise ValueError("empty edge list: give a networkx graph or a name such as 'E1' for edgeless patterns")
        if is_edge_list(F):
            return Pattern.from_edges(F)
        raise ValueError(f"{F!r} is not an edge list of pairs (a, b)")
    raise TypeError(
        f"cannot read {type(F).__name__} as a pattern; give a name such as 'K3', an edge list "
        "or a networkx.Graph"
    )

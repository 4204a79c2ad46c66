r"""Homomorphism densities t(F, W) of small patterns, and their L2 gradients.

For a simple pattern F on vertices 1..k and a weighted step graphon (B, w),

.. math::

    t(F, W) = \sum_{\varphi: V(F) \to [m]} \prod_{v} w_{\varphi(v)}
              \prod_{ab \in E(F)} B_{\varphi(a)\varphi(b)} ,

which for an n x n matrix A (widths 1/n, diagonal included) is hom(F, A) / n^k.
The L2 gradient of t(F, .) at W is the symmetric kernel

.. math::

    DF(W)(x, y) = \sum_{e = ab \in E(F)} \mathrm{sym}\, t_{a \to x, b \to y}(F - e, W),

the density of F with edge e removed and its ends pinned.  For a step graphon
it is again a step function; :func:`hom_density_grad` returns its block values
(for a matrix: n^2 times the Frobenius gradient with respect to the full matrix).

How it is computed
------------------
* forests (edges, paths, stars, trees): message passing, one matrix-vector
  product per edge, O(m^2); gradients are sums of rank-one outer products;
* cycles C_k (K3 = C3): powers Q_j = B D B D ... B (j factors, D = diag(w)),
  with t(C_k) = <Q_a, Q_b>_w for a + b = k and D t(C_k) = k Q_{k-1}; squares of
  symmetric matrices are single BLAS ``syrk`` calls;
* anything else: a tensor-network contraction with an optimal (dynamic
  programming) elimination order from ``opt_einsum``, sliced over a vertex when
  an intermediate would exceed a memory budget.

Gradients are computed once per edge orbit of Aut(F).  A :class:`HomWorkspace`
caches the powers Q_j, so densities and gradients of several patterns at the
same W share them.

Before any work, :func:`contraction_cost` estimates the operations a request takes
(about n^(treewidth + 1) for a contraction; a visit per partition of V(F) for the
injective and induced sums), and requests above ``max_cost`` (default
:data:`MAX_COST` = 1e14) raise :class:`CostError`.  ``t_inj`` and ``t_ind`` of a
pattern with more vertices than the graph are 0 (no injective map exists).

References
----------
L. Lovász, *Large Networks and Graph Limits*, AMS 2012, ch. 5 and 7.
S. Oh, S. Pal, R. Somani, R. Tripathi, Gradient flows on graphons, J. Theor.
Probab. 37 (2024), arXiv:2111.09459 (the gradient formula).
"""

from __future__ import annotations

import functools
import itertools
import math
import re
import warnings

import numpy as np
import opt_einsum as oe

from ._linalg import _mirror_lower_from_upper, gemm, sym_square
from .coerce import as_target
from .graphons import Graphon
from .patterns import Pattern, as_pattern, is_edge_list
from .step import StepGraphon

__all__ = ["HomWorkspace", "hom_density", "hom_density_grad", "contraction_cost", "check_cost", "CostError",
           "KINDS", "MAX_COST"]

KINDS = ("hom", "inj", "ind")

#: Most supergraphs the induced density expands into before it contracts one network instead.
MAX_IND_SUPERSETS = 1 << 10

#: Largest intermediate (in entries) a contraction may build before it is sliced.
MAX_INTERMEDIATE = 1 << 25

#: Default ``max_cost``: the largest estimated cost (:func:`contraction_cost`, in operations) of
#: one density or gradient that the engine starts.  t(K4) on 2000 vertices, 2000^4 = 1.6e13
#: operations, took 168 s in benchmarks/RESULTS.md, so this is roughly half an hour of work.
MAX_COST = 1e14

#: What one visit of a set partition (in the injective and induced sums) is counted as, in
#: operations: the Python work of building and evaluating one quotient, about 0.1 ms.
PARTITION_VISIT_COST = 1e7

#: Up to this many pattern vertices the partition sum of the cost is taken exactly.
_EXACT_PARTITION_COST_K = 7


class CostError(ValueError):
    """The estimated cost of a density or gradient exceeds ``max_cost``; raised before any work.

    A ValueError, so callers that catch bad input keep working; the message states the
    estimate, the limit and how to override it.
    """


# --------------------------------------------------------------------------- targets
def _read_target(W, weight, quad_nodes, check):
    """Return (B, w or None, graph_reading, largest networkx weight or None).  w is None for
    uniform widths; the last entry is max |A_ij| for a networkx graph read with an edge
    attribute (``weight`` not None), else None.

    The input is read by :func:`graphonflow.as_target`.  Arrays and networkx graphs with
    uniform widths are read as graphs (for injective and induced densities); a networkx graph
    whose node widths differ is a weighted step graphon like a StepGraphon.
    """
    if not check and isinstance(W, (np.ndarray, list, tuple)):
        # internal callers that keep W symmetric and finite by construction: no checking pass
        B = np.asarray(W)
        if B.dtype not in (np.float32, np.float64):
            B = B.astype(np.float64)
        return np.ascontiguousarray(B), None, True, None
    t = as_target(W, name="W", weight=weight)
    if isinstance(t, Graphon):
        step = StepGraphon.from_function(t, quad_nodes)
        return step.values, step.widths, False, None
    B = t.values
    big = float(np.abs(B).max()) if t.kind == "networkx" and weight is not None else None
    if t.uniform:
        return B, None, t.kind in ("matrix", "networkx"), big
    return B, t.widths.astype(B.dtype), False, big


class HomWorkspace:
    """Densities and gradients of many patterns at one W, sharing products.

    Parameters
    ----------
    W : array (n, n), StepGraphon, networkx.Graph or callable
        The target, read by :func:`graphonflow.as_target`.  An array is a step
        graphon with widths 1/n (the diagonal included); a networkx graph is its
        weighted adjacency matrix with widths from the node attribute ``width``
        when every node has one, else 1/n.  Arrays, and graphs whose widths are
        all equal, are read as *graphs* for injective and induced densities; a
        StepGraphon, a graph with unequal node widths or a function uses the
        graphon definitions.
    weight : str or None
        Edge attribute holding weights when W is a networkx graph (None: 0/1).  Weights
        above 1 (interaction counts, say) make ``inj`` and ``ind`` weighted sums rather
        than subgraph-count densities; the workspace warns when they are asked for.
    quad_nodes : int
        Gauss--Legendre nodes per axis when W is a function.
    check : bool
        Validate the matrix (symmetric, finite).  Internal callers that keep W
        symmetric by construction may switch it off.
    max_cost : float or None
        Refuse (:class:`CostError`, before any work) a density or gradient whose
        :func:`contraction_cost` estimate exceeds this many operations (default
        :data:`MAX_COST` = 1e14).  None: no limit.

    Attributes
    ----------
    B : ndarray (m, m)
        Block values.
    w : ndarray (m,)
        Block widths.
    uniform : bool
        True when all widths are 1/m (no explicit weight vector is used).
    graph_reading : bool
        True for arrays and networkx graphs with equal widths.

    Examples
    --------
    >>> import numpy as np
    >>> A = np.ones((4, 4)) - np.eye(4)
    >>> ws = HomWorkspace(A)
    >>> round(ws.density("K3"), 6), round(ws.density("K3", kind="inj"), 6)
    (0.375, 1.0)
    >>> float(ws.grad("K2")[0, 0])
    1.0
    """

    def __init__(self, W, *, weight="weight", quad_nodes=64, check=True, max_cost=MAX_COST):
        B, w, graph, big = _read_target(W, weight, quad_nodes, check)
        self.max_cost = _check_max_cost(max_cost)
        self._big_weight = (weight, big) if big is not None and big > 1 else None
        self.B = B
        self._w = w
        self.uniform = w is None
        self.graph_reading = graph
        self.m = B.shape[0]
        self._Q = {1: B}
        self._values = {}
        self._grads = {}
        self._B0 = None
        self._K4 = None
        self._ws0 = None

    @property
    def w(self):
        if self._w is None:
            return np.full(self.m, 1.0 / self.m, dtype=self.B.dtype)
        return self._w

    # ------------------------------------------------------------ basic algebra
    def _wdot(self, X, Y):
        """<X, Y>_w = sum_ij w_i w_j X_ij Y_ij."""
        if self.uniform:
            return float(np.vdot(X, Y)) / self.m**2
        w = self._w
        return float(w @ ((X * Y) @ w))

    def _matvec(self, M, v):
        """(M D v)(x) = sum_y M(x, y) w_y v(y)."""
        if self.uniform:
            return (M @ v) / self.m
        return M @ (self._w * v)

    def _prod(self, X, Y):
        """X D Y."""
        if self.uniform:
            return gemm(1.0 / self.m, X, Y)
        return gemm(1.0, X * self._w[None, :], Y)

    def _square(self, X):
        """X D X for symmetric X, exactly symmetric."""
        if self.uniform:
            return sym_square(1.0 / self.m, X, symmetric=True)
        return sym_square(1.0, X * np.sqrt(self._w)[None, :])

    def path_power(self, j: int) -> np.ndarray:
        """Q_j = B D B D ... B (j factors): the block values of the path with j edges
        pinned at both ends, t_{0->x, j->y}(P_{j+1}).  Cached."""
        if j < 1:
            raise ValueError("path_power needs j >= 1")
        if j not in self._Q:
            a, b = (j + 1) // 2, j // 2
            if a == b:
                self._Q[j] = self._square(self.path_power(a))
            else:
                Q = self._prod(self.path_power(a), self.path_power(b))
                _mirror_lower_from_upper(Q)  # symmetric in exact arithmetic; make it so in floats
                self._Q[j] = Q
        return self._Q[j]

    # ------------------------------------------------------------------ public
    def cost(self, F, kind: str = "hom", *, gradient: bool = False) -> float:
        """:func:`contraction_cost` of t(F, .) (or its gradient) at this W, in operations."""
        return contraction_cost(F, self.m, kind, gradient=gradient, graph=self.graph_reading)

    def _check_cost(self, F, kind, gradient):
        if self.max_cost is None:
            return
        c = contraction_cost(F, self.m, kind, gradient=gradient, graph=self.graph_reading)
        if c > self.max_cost:
            raise CostError(_cost_message(F, self.m, kind, gradient, c, self.max_cost, self.graph_reading))

    def density(self, F, kind: str = "hom") -> float:
        """t(F, W) (``kind="hom"``), the injective or the induced density.

        For a graph target with fewer vertices than F, ``inj`` and ``ind`` are 0.0: no
        injective map exists, so the sum defining them is empty (the normalising count
        n(n-1)...(n-k+1) is 0 as well; 0 is the convention that keeps
        inj(F, G) = t_inj(F, G) n(n-1)...(n-k+1) = 0 true).
        """
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
        F = as_pattern(F)
        key = (F.k, F.edges, kind)
        if key in self._values:
            return self._values[key]
        if kind != "hom" and self._big_weight is not None:
            attr, big = self._big_weight
            warnings.warn(
                f"W is a networkx graph whose edge attribute {attr!r} holds values up to {big:g} (> 1): "
                f"t_{kind}({F}) then sums products of these weights over the copies of {F}, which is not "
                f"a subgraph-count density; pass weight=None to read every edge as 1",
                UserWarning,
                stacklevel=_user_stacklevel(),
            )
        if kind != "hom" and self.graph_reading and F.k > self.m:
            self._values[key] = 0.0  # no injective maps: the empty sum
            return 0.0
        self._check_cost(F, kind, False)
        return self._density(F, kind)

    def _density(self, F: Pattern, kind: str) -> float:
        """:meth:`density` without the checks (internal callers: supersets, quotients)."""
        key = (F.k, F.edges, kind)
        if key not in self._values:
            if kind == "hom" or (kind == "inj" and not self.graph_reading):
                val = self._hom(F)
                self._values[(F.k, F.edges, "hom")] = val
            elif kind == "inj":
                val = self._inj_graph(F)
            else:
                val = self._ind(F)
            self._values[key] = val
        return self._values[key]

    def grad(self, F) -> np.ndarray:
        """Block values of DF(W), the L2 gradient of t(F, .) at W: a symmetric (m, m) array."""
        F = as_pattern(F)
        key = (F.k, F.edges)
        if key not in self._grads:
            self._check_cost(F, "hom", True)
            self._grads[key] = self._grad(F)
        return self._grads[key]

    # ----------------------------------------------------------------- hom
    def _hom(self, F: Pattern) -> float:
        if F.n_edges == 0:
            return 1.0
        if F.is_forest:
            return self._forest_value(F)
        comps = _components(F)
        if len(comps) > 1:
            return math.prod(self._hom(c) for c in comps)
        if F.is_cycle:
            k = F.k
            return self._wdot(self.path_power(k // 2), self.path_power(k - k // 2))
        if F.edges == _K4:
            return self._wdot(self.B, self._k4_pinned())
        return float(self._contract(F.k, [(a, b, self.B) for a, b in F.edges], [], ()))

    def _grad(self, F: Pattern) -> np.ndarray:
        m = self.m
        G = np.zeros((m, m), dtype=self.B.dtype)
        if F.n_edges == 0:
            return G
        if F.is_cycle:
            return F.k * self.path_power(F.k - 1)
        if F.edges == _K4:
            return 6.0 * self._k4_pinned()
        for (a, b), size in F.edge_orbits():
            P = self._pinned(F, (a, b))
            G += (0.5 * size) * (P + P.T)
        return G

    def _pinned(self, F: Pattern, e) -> np.ndarray:
        """t_{a->x, b->y}(F - e) as an (m, m) array (rows: a, columns: b)."""
        a, b = e
        rest = [f for f in F.edges if f != e]
        if _is_forest_edges(F.k, rest):
            # F - e is a forest: product of rooted messages at a and b and other components
            adj = _adjacency(F.k, rest)
            comp_a = _component_of(adj, a)
            u = self._message(adj, a, -1)
            if b in comp_a:
                # a and b in one tree: pinned density of a path-with-subtrees; fall back
                return self._contract(F.k, [(x, y, self.B) for x, y in rest], [], (a, b))
            v = self._message(adj, b, -1)
            comp_b = _component_of(adj, b)
            scale = 1.0
            seen = comp_a | comp_b
            for r in range(F.k):
                if r not in seen:
                    c = _component_of(adj, r)
                    seen |= c
                    scale *= self.w @ self._message(adj, r, -1)
            return scale * np.multiply.outer(u, v)
        return self._contract(F.k, [(x, y, self.B) for x, y in rest], [], (a, b))

    def _k4_pinned(self):
        """P(x, y) = t_{0->x, 1->y}(K4 - 01): the diamond pinned at its two degree-2 vertices.

        P(x, y) = u^T B u with u_k = B[x, k] B[y, k] w_k, times the widths of the
        free vertices: for each x and all y >= x the rows U[y] = B[y] * B[x] * w go
        through one matrix product V = U B and P[x, y] = sum_k U[y, k] V[y, k].
        Consecutive x share one product.  Cost: about m^4 flops in BLAS (the
        treewidth-3 bound), m^2 memory.  t(K4) = <B, P>_w and D t(K4) = 6 P.
        """
        if self._K4 is None:
            B = self.B
            m = self.m
            w = self.w
            P = np.empty_like(B)
            x0 = 0
            target_rows = max(512, m)
            while x0 < m:
                rows = 0
                x1 = x0
                while x1 < m and rows < target_rows:
                    rows += m - x1
                    x1 += 1
                U = np.concatenate([B[x:] * (B[x] * w)[None, :] for x in range(x0, x1)])
                V = gemm(1.0, U, B)
                vals = np.einsum("ij,ij->i", U, V)
                r = 0
                for x in range(x0, x1):
                    P[x, x:] = vals[r : r + m - x]
                    P[x:, x] = vals[r : r + m - x]
                    r += m - x
                x0 = x1
            self._K4 = P
        return self._K4

    # ------------------------------------------------------------ forests
    def _message(self, adj, v, parent):
        """msg_v(x) = prod_{children c} (B D msg_c)(x) for the subtree at v."""
        out = np.ones(self.m, dtype=self.B.dtype)
        # iterative post-order to avoid recursion limits is unnecessary (k <= ~20)
        for c in adj[v]:
            if c != parent:
                out = out * self._matvec(self.B, self._message(adj, c, v))
        return out

    def _forest_value(self, F: Pattern) -> float:
        adj = _adjacency(F.k, F.edges)
        seen = set()
        val = 1.0
        w = self.w
        for r in range(F.k):
            if r in seen:
                continue
            comp = _component_of(adj, r)
            seen |= comp
            if len(comp) > 1:
                val *= float(w @ self._message(adj, r, -1))
        return val

    # ------------------------------------------------------------ contraction
    def _contract(self, k, pairs, vecs, outputs):
        """Contract a network on vertices 0..k-1.

        pairs: list of (u, v, M) matrix factors M[phi(u), phi(v)];
        vecs: list of (u, x) vector factors x[phi(u)];
        outputs: tuple of vertices left free (the rest are integrated against w).
        """
        return _contract_network(k, pairs, vecs, outputs, self._w, self.m, self.B.dtype)

    # ------------------------------------------------------------ inj / ind
    def _zero_diag(self):
        if self._B0 is None:
            B0 = self.B.copy()
            np.fill_diagonal(B0, 0.0)
            self._B0 = B0
        return self._B0

    def _falling(self, k):
        m = self.m
        if m < k:  # density() answers 0 before this is reached
            raise ValueError(f"the graph has {m} vertices, fewer than the pattern's {k}: no injective maps exist")
        return math.prod(range(m - k + 1, m + 1))

    def _zero_diag_ws(self):
        if self._ws0 is None:
            # a simple graph (zero diagonal) is its own zero-diagonal workspace, so t and t_inj
            # share their products (the n^4 K4 table among them) instead of computing them twice
            zero = self.uniform and not np.diagonal(self.B).any()
            self._ws0 = self if zero else HomWorkspace(self._zero_diag(), check=False, max_cost=None)
        return self._ws0

    def _inj_graph(self, F: Pattern) -> float:
        """#injective homs / m_(k) by Moebius inversion over partitions into independent sets.

        With the diagonal set to 0 (injective maps never use it), a partition that
        merges two adjacent vertices contributes 0.  A quotient that is a simple
        graph goes through the fast paths of a workspace on the zero-diagonal matrix;
        one with parallel edges carries elementwise powers of A.
        """
        ws0 = self._zero_diag_ws()
        B0 = ws0.B
        m = self.m
        total = 0.0
        # partitions with an edge inside a block would use the (zero) diagonal: never built
        for blocks, mu in _independent_partitions_mu(F.k, F.edges):
            label = _block_labels(blocks, F.k)
            mult = {}
            for a, b in F.edges:
                p = tuple(sorted((label[a], label[b])))
                mult[p] = mult.get(p, 0) + 1
            q = len(blocks)
            if all(c == 1 for c in mult.values()):
                t = ws0._hom(Pattern(q, tuple(sorted(mult))))
            else:
                pairs = [(p, r, _power(B0, c)) for (p, r), c in mult.items()]
                t = float(_contract_network(q, pairs, [], (), None, m, B0.dtype))
            total += mu * t * float(m) ** q
        return total / self._falling(F.k)

    def _ind(self, F: Pattern) -> float:
        """Induced density.

        Expanding prod_{non-edges} (1 - W) gives inclusion--exclusion over the
        supergraphs F + S on the same vertices:  t_ind(F) = sum_S (-1)^|S| t_inj(F + S)
        (t_inj = t for graphons).  Each term then uses the fast paths.  With more
        than MAX_IND_SUPERSETS terms a single network with 1 - W factors on the
        non-edges is contracted instead.
        """
        E = set(F.edges)
        non = [(a, b) for a in range(F.k) for b in range(a + 1, F.k) if (a, b) not in E]
        if 2 ** len(non) > MAX_IND_SUPERSETS:
            return self._ind_graph(F) if self.graph_reading else self._ind_graphon(F)
        kind = "inj" if self.graph_reading else "hom"
        total = 0.0
        for r in range(len(non) + 1):
            for S in itertools.combinations(non, r):
                G = Pattern(F.k, tuple(sorted(E.union(S))))
                total += (-1) ** r * self._density(G, kind)
        return total

    def _ind_graph(self, F: Pattern) -> float:
        """Induced injective homs / m_(k): pairs carry A on edges, 1 - A on non-edges.

        Same Moebius inversion as :meth:`_inj_graph`, on the complete network of
        pair factors A^e (1 - A)^f; for a complete pattern this is ``inj``.
        """
        if F.n_edges == F.k * (F.k - 1) // 2:
            return self._inj_graph(F)
        B0 = self._zero_diag()
        C0 = 1.0 - B0
        m = self.m
        E = set(F.edges)
        total = 0.0
        for blocks, mu in _independent_partitions_mu(F.k, F.edges):
            label = _block_labels(blocks, F.k)
            ecount, ncount = {}, {}
            for a in range(F.k):
                for b in range(a + 1, F.k):
                    la, lb = label[a], label[b]
                    if la == lb:
                        continue  # non-edge inside a block: factor 1 - A_ii = 1
                    p = (min(la, lb), max(la, lb))
                    d = ecount if (a, b) in E else ncount
                    d[p] = d.get(p, 0) + 1
            pairs = []
            for p in set(ecount) | set(ncount):
                M = _power(B0, ecount.get(p, 0))
                if ncount.get(p, 0):
                    N = _power(C0, ncount[p])
                    M = N if M is None else M * N
                pairs.append((p[0], p[1], M))
            q = len(blocks)
            t = _contract_network(q, pairs, [], (), None, m, B0.dtype)
            total += mu * float(t) * float(m) ** q
        return total / self._falling(F.k)

    def _ind_graphon(self, F: Pattern) -> float:
        E = set(F.edges)
        C = 1.0 - self.B
        pairs = [(a, b, self.B if (a, b) in E else C) for a in range(F.k) for b in range(a + 1, F.k)]
        return float(self._contract(F.k, pairs, [], ()))


# ----------------------------------------------------------------------- helpers
def _power(M, c):
    if c == 0:
        return None
    if c == 1:
        return M
    return M**c


def _adjacency(k, edges):
    adj = [[] for _ in range(k)]
    for a, b in edges:
        adj[a].append(b)
        adj[b].append(a)
    return adj


def _component_of(adj, r):
    seen = {r}
    stack = [r]
    while stack:
        v = stack.pop()
        for u in adj[v]:
            if u not in seen:
                seen.add(u)
                stack.append(u)
    return seen


def _is_forest_edges(k, edges):
    from .patterns import _is_forest

    return _is_forest(k, tuple(edges))


def _components(F: Pattern):
    """Connected components with at least one edge, as Patterns."""
    adj = _adjacency(F.k, F.edges)
    seen = set()
    out = []
    for r in range(F.k):
        if r in seen or not adj[r]:
            continue
        comp = sorted(_component_of(adj, r))
        seen |= set(comp)
        idx = {v: i for i, v in enumerate(comp)}
        edges = tuple(sorted((idx[a], idx[b]) for a, b in F.edges if a in idx))
        out.append(Pattern(len(comp), edges))
    return out


def _partitions(items):
    if not items:
        yield []
        return
    first, rest = items[0], items[1:]
    for part in _partitions(rest):
        for i in range(len(part)):
            yield part[:i] + [[first] + part[i]] + part[i + 1 :]
        yield [[first]] + part


def _partitions_mu(k):
    """All set partitions of range(k) with the Moebius value mu(0, P) = prod (-1)^(|b|-1) (|b|-1)!."""
    for blocks in _partitions(list(range(k))):
        yield blocks, _mu(blocks)


def _mu(blocks):
    mu = 1
    for b in blocks:
        s = len(b)
        mu *= (-1) ** (s - 1) * math.factorial(s - 1)
    return mu


def _independent_partitions_mu(k, edges):
    """The set partitions of range(k) into independent sets of the graph (k, edges), with mu.

    Vertices are placed in order, each into an earlier block that holds none of its
    neighbours or into a new block, so partitions with an edge inside a block are never built.
    """
    nbrs = [set() for _ in range(k)]
    for a, b in edges:
        nbrs[a].add(b)
        nbrs[b].add(a)
    blocks: list = []

    def place(v):
        if v == k:
            yield [list(b) for b in blocks], _mu(blocks)
            return
        for b in blocks:
            if not (nbrs[v] & set(b)):
                b.append(v)
                yield from place(v + 1)
                b.pop()
        blocks.append([v])
        yield from place(v + 1)
        blocks.pop()

    yield from place(0)


def _block_labels(blocks, k):
    label = [0] * k
    for i, b in enumerate(blocks):
        for v in b:
            label[v] = i
    return label


_K4 = ((0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3))
# einsum index of vertex u: opt_einsum's symbols are a-z, A-Z, then further unicode letters, so
# patterns of any size get one single-character index per vertex
_symbol = oe.get_symbol
_PLAN_CACHE: dict = {}


def _best_order(terms, elim, m):
    """Vertex elimination order minimising the total work sum_v m^(|N(v)| + 1).

    N(v) is the set of not-yet-eliminated vertices that v is joined to through
    eliminated ones (the scope of the factor its elimination creates), so the
    largest |N(v)| + 1 along the best order is the treewidth + 1 of the pattern's
    network.  Exact dynamic programming over subsets for up to 14 vertices;
    greedy minimum degree beyond.
    """
    adj = {x: set() for t in terms for x in t}
    for t in terms:
        for a in t:
            adj[a].update(b for b in t if b != a)
    elim = sorted(elim)

    def scope(S, v):
        seen, stack, out = {v}, [v], set()
        while stack:
            x = stack.pop()
            for y in adj[x]:
                if y in seen:
                    continue
                seen.add(y)
                if y in S:
                    stack.append(y)
                else:
                    out.add(y)
        return out

    if len(elim) > 14:
        order, S = [], set()
        for _ in elim:
            v = min((x for x in elim if x not in S), key=lambda x: len(scope(S, x)))
            order.append(v)
            S.add(v)
        return order
    best = {frozenset(): (0.0, ())}
    for _ in elim:
        nxt = {}
        for S, (cost, order) in best.items():
            for v in elim:
                if v in S:
                    continue
                c = cost + float(m) ** (len(scope(S, v)) + 1)
                T = S | {v}
                if T not in nxt or c < nxt[T][0]:
                    nxt[T] = (c, order + (v,))
        best = nxt
    return list(best[frozenset(elim)][1])


def _elimination_plan(terms, out, m):
    """Steps of a bucket elimination: each step contracts the factors that hold one vertex
    (pairwise, through BLAS, in opt_einsum's optimal order) into one new factor."""
    elim = set("".join(terms)) - set(out)
    cur = list(terms)
    steps = []
    largest = 0
    for v in _best_order(terms, elim, m) + [None]:
        idx = [i for i, t in enumerate(cur) if (v is None or v in t)]
        if v is None:
            new = out
        else:
            new = "".join(sorted(set("".join(cur[i] for i in idx)) - {v}))
        eq = ",".join(cur[i] for i in idx) + "->" + new
        shapes = [(m,) * len(cur[i]) for i in idx]
        path, info = oe.contract_path(eq, *shapes, shapes=True, optimize="optimal" if len(idx) <= 6 else "greedy")
        largest = max(largest, int(info.largest_intermediate))
        steps.append((tuple(idx), oe.contract_expression(eq, *shapes, optimize=path)))
        cur = [t for i, t in enumerate(cur) if i not in idx] + [new]
    return steps, largest


def _run_plan(steps, ops):
    ops = list(ops)
    for idx, expr in steps:
        res = expr(*[ops[i] for i in idx])
        ops = [o for i, o in enumerate(ops) if i not in idx] + [res]
    return ops[-1]


def _contract_network(k, pairs, vecs, outputs, w, m, dtype):
    """Sum over phi of prod_pairs M[phi u, phi v] prod_vecs x[phi u] prod_{integrated u} w[phi u].

    ``w is None`` means uniform widths 1/m (applied as one scalar).  Vertices in no
    factor integrate to 1 (widths sum to 1).  When the best contraction order still
    needs an intermediate larger than MAX_INTERMEDIATE entries, the network is
    sliced over its busiest integrated vertex.
    """
    involved = set()
    for u, v, _ in pairs:
        involved.update((u, v))
    for u, _ in vecs:
        involved.add(u)
    integrated = [u for u in range(k) if u in involved and u not in outputs]
    # merge vector factors per vertex
    vfac = {}
    for u, x in vecs:
        vfac[u] = x if u not in vfac else vfac[u] * x
    scale = 1.0
    if w is None:
        scale = float(m) ** (-len(integrated))
    else:
        for u in integrated:
            vfac[u] = w if u not in vfac else vfac[u] * w
    for o in outputs:
        if o not in involved and o not in vfac:
            vfac[o] = np.ones(m, dtype=dtype)
    terms, ops = [], []
    for u, v, M in pairs:
        terms.append(_symbol(u) + _symbol(v))
        ops.append(M)
    for u, x in vfac.items():
        terms.append(_symbol(u))
        ops.append(x)
    out = "".join(_symbol(o) for o in outputs)
    if not ops:
        return np.asarray(1.0)
    key = (tuple(terms), out, m)
    plan = _PLAN_CACHE.get(key)
    if plan is None:
        plan = _PLAN_CACHE[key] = _elimination_plan(tuple(terms), out, m)
    steps, largest = plan
    if largest <= MAX_INTERMEDIATE or not integrated:
        return scale * _run_plan(steps, ops)
    # slice over the integrated vertex with most factors
    deg = {u: 0 for u in integrated}
    for u, v, _ in pairs:
        for x in (u, v):
            if x in deg:
                deg[x] += 1
    s = max(integrated, key=lambda u: deg[u])
    rest_pairs = [(u, v, M) for u, v, M in pairs if s not in (u, v)]
    sliced = [(u, v, M) for u, v, M in pairs if s in (u, v)]
    own = [x for u, x in vecs if u == s]
    other_vecs = [(u, x) for u, x in vecs if u != s]
    total = None
    for i in range(m):
        c = 1.0 if w is None else float(w[i])
        for x in own:
            c *= float(x[i])
        if c == 0.0:
            continue
        vi = [((v if u == s else u), (M[i, :] if u == s else M[:, i])) for u, v, M in sliced]
        # the sub-network integrates every other vertex with its own weights
        sub = _contract_network(k, rest_pairs, other_vecs + vi, outputs, w, m, dtype)
        total = c * sub if total is None else total + c * sub
    if total is None:
        return np.zeros((m,) * len(outputs), dtype=dtype) if outputs else np.asarray(0.0)
    return total / m if w is None else total


# ------------------------------------------------------------------- cost estimates
def _fpow(n, e) -> float:
    """float(n) ** e, inf when it overflows."""
    try:
        return float(n) ** e
    except OverflowError:
        return math.inf


def _fmul(a, b) -> float:
    """a * b for non-negative numbers (ints of any size or floats), inf when it overflows."""
    try:
        return float(a * b) if not (isinstance(a, float) or isinstance(b, float)) else a * b
    except OverflowError:
        return math.inf


def _bell(k: int) -> int:
    """The Bell number B_k: the number of set partitions of a k-element set (exact)."""
    row = [1]
    for _ in range(k):
        nxt = [row[-1]]
        for x in row:
            nxt.append(nxt[-1] + x)
        row = nxt
    return row[0]


def _plan_cost(k, edges, outputs, n) -> float:
    """Operations of a bucket elimination of the network (k, edges) with ``outputs`` kept:
    sum over eliminated vertices v of n^(|N(v)| + 1), N(v) the neighbours of v in the
    elimination graph when v goes, along the greedy minimum-degree order (ties: smallest
    label), plus n^|outputs| for the final product.  The engine's exact order (up to 14
    vertices) minimises the same sum, so it never costs more than this."""
    adj = {}
    for a, b in edges:
        adj.setdefault(a, set()).add(b)
        adj.setdefault(b, set()).add(a)
    for o in outputs:
        adj.setdefault(o, set())
    keep = set(outputs)
    todo = sorted(v for v in adj if v not in keep)
    cost = 0.0
    while todo:
        v = min(todo, key=lambda x: (len(adj[x]), x))
        nb = adj.pop(v)
        cost += _fpow(n, len(nb) + 1)
        for x in nb:
            adj[x].discard(v)
            adj[x] |= nb - {x}
        todo.remove(v)
    return cost + _fpow(n, len(keep))


def _path_products(js) -> int:
    """How many matrix products the path powers Q_j (j in js) take from Q_1 = B (the
    recursion of :meth:`HomWorkspace.path_power`)."""
    built = {1}
    stack = list(js)
    while stack:
        j = stack.pop()
        if j in built:
            continue
        built.add(j)
        stack.extend(((j + 1) // 2, j // 2))
    return len(built) - 1


def _hom_cost(k, edges, n) -> float:
    """The work of t(F, W) for a pattern on vertices 0..k-1, by the path the engine takes."""
    if not edges:
        return 0.0
    if _is_forest_edges(k, edges):
        return len(edges) * _fpow(n, 2)  # one matrix-vector product per edge
    P = Pattern(k, tuple(sorted(edges)))
    comps = _components(P)
    if len(comps) > 1:
        return sum(_hom_cost(c.k, c.edges, n) for c in comps)
    if P.is_cycle:
        return _path_products((k // 2, k - k // 2)) * _fpow(n, 3) + _fpow(n, 2)
    if P.edges == _K4:
        return _fpow(n, 4)
    return _plan_cost(k, P.edges, (), n)


def _refined_colours(k, edges):
    """Colour refinement (1-dimensional Weisfeiler--Leman) of the vertices: start from the
    degrees, split by the multiset of neighbour colours until stable.  Automorphisms keep
    colours, so every orbit of Aut(F) lies inside one colour class (and for all but rare
    regular patterns the classes are the orbits)."""
    nbrs = [[] for _ in range(k)]
    for a, b in edges:
        nbrs[a].append(b)
        nbrs[b].append(a)
    col = [len(x) for x in nbrs]
    while True:
        sig = [(col[v], tuple(sorted(col[u] for u in nbrs[v]))) for v in range(k)]
        names = {x: i for i, x in enumerate(sorted(set(sig)))}
        new = [names[x] for x in sig]
        if len(names) == len(set(col)):
            return new
        col = new


def _grad_cost(P: Pattern, n) -> float:
    """The work of D t(F, W): one pinned network per class of edges, the classes given by the
    refined colours of their ends (the edge orbits of Aut(F), for all but rare patterns; the
    engine computes one pinned density per orbit)."""
    if not P.edges:
        return 0.0
    if P.is_cycle:
        return _path_products((P.k - 1,)) * _fpow(n, 3)
    if P.edges == _K4:
        return _fpow(n, 4)
    if P.is_forest:
        return len(P.edges) * (len(P.edges) + 1) * _fpow(n, 2)  # messages and outer products
    col = _refined_colours(P.k, P.edges)
    groups = {}
    for e in P.edges:
        groups.setdefault(tuple(sorted((col[e[0]], col[e[1]]))), e)
    total = 0.0
    for a, b in groups.values():
        rest = [f for f in P.edges if f != (a, b)]
        total += _plan_cost(P.k, rest, (a, b), n) + _fpow(n, 2)
    return total


def _quotient_cost(k, edges, blocks, n) -> float:
    """The work for the quotient F/P of one partition into independent sets (a multigraph
    goes through a general contraction, a simple one through the fast paths)."""
    label = _block_labels(blocks, k)
    mult = {}
    for a, b in edges:
        p = tuple(sorted((label[a], label[b])))
        mult[p] = mult.get(p, 0) + 1
    q = len(blocks)
    if all(c == 1 for c in mult.values()):
        return _hom_cost(q, tuple(sorted(mult)), n)
    return _plan_cost(q, tuple(mult), (), n)


def _inj_graph_cost(k, edges, n) -> float:
    """The Moebius sum of t_inj on a graph: a visit per partition into independent sets plus
    its quotient's work; exact up to 7 vertices, else B_k (PARTITION_VISIT_COST + cost(F))."""
    if k <= _EXACT_PARTITION_COST_K:
        return sum(PARTITION_VISIT_COST + _quotient_cost(k, edges, blocks, n)
                   for blocks, _ in _independent_partitions_mu(k, edges))
    return _fmul(_bell(k), PARTITION_VISIT_COST + _hom_cost(k, edges, n))


def _complete_cost(k, n) -> float:
    return _plan_cost(k, tuple(itertools.combinations(range(k), 2)), (), n)


def _check_max_cost(max_cost):
    if max_cost is None:
        return None
    if isinstance(max_cost, bool) or not isinstance(max_cost, (int, float, np.integer, np.floating)) \
            or not max_cost > 0:
        raise ValueError(f"max_cost must be a positive number of operations or None (no limit), got {max_cost!r}")
    return float(max_cost)


def contraction_cost(F, n: int, kind: str = "hom", *, gradient: bool = False, graph: bool = True) -> float:
    r"""Estimated work, in arithmetic operations, of t(F, W) (or its gradient) on n blocks.

    The estimate follows the path the engine takes (see the module docstring):

    * no edges: 0; a forest with e edges: e n^2 (a matrix-vector product per edge);
    * a cycle C_k: (number of matrix products of the path powers) n^3 + n^2;
      K4: n^4; a disjoint union: the sum over its components;
    * any other pattern: the bucket elimination sum_v n^(|N(v)| + 1) along the greedy
      minimum-degree order (N(v): the neighbours of v in the elimination graph when v is
      eliminated), which is at least n^(treewidth + 1); so K_k costs about n^k;
    * gradient (``gradient=True``, ``kind="hom"``): cycles (k-1 path power), K4 as above,
      forests e (e + 1) n^2, others the same sum for the network F - e with the ends of e
      kept, plus n^2, once per class of edges (ends coloured by colour refinement; these
      classes are the edge orbits of Aut(F), of which the engine computes one each, for all
      but rare regular patterns);
    * ``kind="inj"`` on a graph (``graph=True``: arrays and networkx graphs): the Moebius sum
      over the partitions P of V(F) into independent sets, each costing
      ``PARTITION_VISIT_COST`` (1e7: about 0.1 ms of Python work) plus the work of the
      quotient F/P; summed exactly up to 7 vertices, else bounded by
      B_k (1e7 + cost(F)) with B_k the Bell number (B_11 = 678,570; B_33 ~ 1.6e27);
      0 when k > n (the density is 0, nothing is computed);
    * ``kind="ind"`` on a graph: 2^s (cost_inj(F) + cost(K_k)) for the s non-edges of F when
      2^s <= MAX_IND_SUPERSETS (the superset expansion), else the partition sum with the
      complete network K_q of each quotient;
    * on a graphon (``graph=False``) ``inj`` is ``hom``; ``ind`` is 2^s cost(K_k), or
      cost(K_k) for one network with 1 - W factors when 2^s > MAX_IND_SUPERSETS.

    It is an estimate (within a small factor of the operations performed, for the dense
    paths), meant to refuse hopeless requests before they start: :class:`HomWorkspace`,
    :func:`hom_density` and :func:`hom_density_grad` raise :class:`CostError` above
    ``max_cost`` (default :data:`MAX_COST` = 1e14).

    Parameters
    ----------
    F : pattern
        A name, edge list, networkx graph or :class:`~graphonflow.Pattern`.
    n : int
        Blocks (vertices of the graph, quadrature nodes) of the target.
    kind : {"hom", "inj", "ind"}
    gradient : bool
        The cost of the gradient D t(F, .) instead (``kind="hom"`` only).
    graph : bool
        Whether the target is read as a graph (arrays, networkx graphs) or as a graphon
        (StepGraphon, function); it matters for ``inj`` and ``ind`` only.

    Returns
    -------
    float
        Operations (``inf`` when the count overflows a float).

    Examples
    --------
    >>> contraction_cost("K3", 100)            # Q_1 = B: one product for B^2, then <B^2, B>
    1010000.0
    >>> f"{contraction_cost('K33', 32):.3g}"   # the complete graph K_33 (not K3,3): ~32^33
    '4.83e+49'
    >>> contraction_cost("K3,3", 32) < 1e8
    True
    >>> contraction_cost("C11", 5, "inj")       # more vertices than the graph: t_inj = 0, no work
    0.0
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be a positive integer (the number of blocks), got {n!r}")
    if gradient and kind != "hom":
        raise ValueError(f"gradient=True is the gradient of the homomorphism density: kind must be 'hom', got {kind!r}")
    P = as_pattern(F)
    return _cost(P.k, P.edges, int(n), kind, bool(gradient), bool(graph))


@functools.lru_cache(maxsize=4096)
def _cost(k, edges, n, kind, gradient, graph) -> float:
    """:func:`contraction_cost` of the pattern (k, edges), cached (flows ask at every step)."""
    P = Pattern(k, edges)
    if gradient:
        return _grad_cost(P, n)
    if kind == "hom" or (kind == "inj" and not graph):
        return _hom_cost(k, edges, n)
    if graph and k > n:
        return 0.0
    s = k * (k - 1) // 2 - len(edges)
    if kind == "inj":
        return _inj_graph_cost(k, edges, n)
    # induced
    if graph:
        if s == 0:
            return _inj_graph_cost(k, edges, n)
        if 2**s <= MAX_IND_SUPERSETS:
            return _fmul(2**s, _inj_graph_cost(k, edges, n) + _complete_cost(k, n))
        if k <= _EXACT_PARTITION_COST_K:
            return sum(PARTITION_VISIT_COST + _complete_cost(len(blocks), n)
                       for blocks, _ in _independent_partitions_mu(k, edges))
        return _fmul(_bell(k), PARTITION_VISIT_COST + _complete_cost(k, n))
    if 2**s <= MAX_IND_SUPERSETS:
        return _fmul(2**s, _complete_cost(k, n))
    return _complete_cost(k, n)


_KK = re.compile(r"^K(\d)(\d+)$")


def check_cost(F, n: int, kind: str = "hom", *, gradient: bool = False, graph: bool = True,
               max_cost=MAX_COST, advice: str | None = None) -> float:
    """Raise :class:`CostError` when :func:`contraction_cost` exceeds ``max_cost``; else return it.

    For callers that plan work before doing it (a study's configuration check, the command
    line).  ``advice`` replaces the closing sentence of the message (default: how to pass
    ``max_cost``).

    >>> check_cost("K3", 100)
    1010000.0
    >>> check_cost("K33", 32, advice="use K3,3")
    Traceback (most recent call last):
    ...
    graphonflow.hom.CostError: t(K33) on 32 vertices costs about 4.8e+49 operations (~32^33), above max_cost=1e+14; K33 is the complete graph on 33 vertices: for the complete bipartite graph write 'K3,3'; use K3,3
    """
    P = as_pattern(F)
    limit = _check_max_cost(max_cost)
    c = contraction_cost(P, n, kind, gradient=gradient, graph=graph)
    if limit is not None and c > limit:
        raise CostError(_cost_message(P, int(n), kind, gradient, c, limit, graph, advice))
    return c


def _cost_message(F: Pattern, n, kind, gradient, cost, max_cost, graph, advice=None) -> str:
    name = str(F)
    what = f"the gradient of t({name})" if gradient else {"hom": f"t({name})", "inj": f"t_inj({name})",
                                                          "ind": f"t_ind({name})"}[kind]
    unit = "vertices" if graph else "blocks"
    power = f" (~{n}^{math.log(cost) / math.log(n):.3g})" if n > 1 and math.isfinite(cost) else ""
    est = f"about {cost:.2g}" if math.isfinite(cost) else "more than 1e308"
    hint = ""
    m = _KK.match(F.name or "")
    if m:
        hint = (f"; {F.name} is the complete graph on {F.k} vertices: for the complete bipartite graph "
                f"write 'K{m.group(1)},{m.group(2)}'")
    advice = advice or "pass max_cost=None (or a larger max_cost) to compute it anyway"
    return f"{what} on {n} {unit} costs {est} operations{power}, above max_cost={max_cost:.3g}{hint}; {advice}"


def _user_stacklevel() -> int:
    """The stack level of the first frame outside graphonflow.hom (for warnings)."""
    import sys

    f = sys._getframe(1)
    level = 1
    while f is not None and f.f_globals.get("__name__") == __name__:
        f = f.f_back
        level += 1
    return level


# ------------------------------------------------------------------- public API
def _is_device_array(W) -> bool:
    """A non-NumPy array-API array (CuPy, ...): computed by graphonflow.backend.xp_hom."""
    from .backend import is_foreign_array

    return is_foreign_array(W)


def _split_batch(F):
    """Return (list_of_patterns, is_batch)."""
    if isinstance(F, (list, tuple)) and len(F) > 0 and not is_edge_list(F):
        return [as_pattern(f) for f in F], True
    return [as_pattern(F)], False


def hom_density(F, W, kind: str = "hom", *, weight="weight", quad_nodes: int = 64, max_cost=MAX_COST, backend=None):
    r"""Homomorphism density t(F, W), or its injective / induced version.

    .. math::

        t(F, W) = \int_{[0,1]^k} \prod_{ab \in E(F)} W(x_a, x_b) \, dx

    Parameters
    ----------
    F : pattern or list of patterns
        A name (``"K3"``, ``"C5"``, ``"P4"``, ``"S3"``, ``"K2,3"``), an edge list,
        a networkx graph or a :class:`~graphonflow.Pattern`.  A list of patterns
        (names, graphs or edge lists; a list of pairs is *one* edge list) is a batch
        that shares intermediate products; the result is then an array.
    W : array (n, n), StepGraphon, networkx.Graph or callable f(x, y)
        The target (read by :func:`graphonflow.as_target`).  An array is the step
        graphon with widths 1/n, diagonal included; a networkx graph is its weighted
        adjacency matrix, with the node attribute ``width`` as block widths when every
        node has one.  scipy.sparse matrices, :class:`~graphonflow.sparse.SparseGraph` s and
        networkx graphs with >= 2000 nodes (without widths) take the sparse path (docs/sparse.md).
    kind : {"hom", "inj", "ind"}
        * ``"hom"``: t(F, W) as above (the same under every reading);
        * ``"inj"``: arrays and graphs (with equal node widths): (sum over injective
          maps of the edge weight products) / n(n-1)...(n-k+1), i.e. the subgraph-count
          density; step graphons and functions: equal to ``"hom"``;
        * ``"ind"``: arrays and graphs: the same over injective maps with a factor
          A on edges and 1 - A on non-edges of F; step graphons and functions: the
          integral of prod_E W prod_{non-E} (1 - W) over all maps.
    weight : str or None
        Edge attribute for networkx targets (None: every edge has weight 1).  With
        weights above 1 (networkx's karate club stores interaction counts) ``inj`` and
        ``ind`` weigh each copy of F by its edge weights; a UserWarning says so.
    quad_nodes : int
        Gauss--Legendre nodes per axis for a function target (spectral accuracy
        for smooth kernels).
    max_cost : float or None
        Raise :class:`CostError` before any work when :func:`contraction_cost`
        exceeds it (default :data:`MAX_COST` = 1e14 operations); None: no limit.
    backend : None, "cpu", "cupy" or an ArrayBackend
        Where to compute (:func:`graphonflow.backend.resolve_backend`).  None: from W's type,
        so a CuPy array is computed on its GPU (:mod:`graphonflow.backend.xp_hom`: forests,
        cycles, K4 and their disjoint unions, ``kind="hom"``).

    Returns
    -------
    float, or ndarray of shape (len(F),) for a batch (an array of W's library for a
    device W).

    Examples
    --------
    >>> import numpy as np
    >>> hom_density("K3", np.full((5, 5), 0.5))
    0.125
    >>> round(hom_density("C4", lambda x, y: x * y), 12)  # prod_v 1/(deg v + 1) = 1/81
    0.012345679012
    >>> hom_density(["K2", "P3"], np.eye(2))
    array([0.5 , 0.25])

    References
    ----------
    Lovász, Large Networks and Graph Limits (AMS 2012), sec. 7.2.
    """
    if backend is not None or _is_device_array(W):
        from .backend.xp_hom import hom_density as _device_density

        return _device_density(F, W, kind, weight=weight, quad_nodes=quad_nodes, max_cost=max_cost, backend=backend)
    from .sparse.dispatch import wants_sparse  # scipy.sparse, SparseGraph, big networkx graphs: docs/sparse.md

    if wants_sparse(W):
        from .sparse.dispatch import hom_density as _sparse_density

        return _sparse_density(F, W, kind, weight=weight, max_cost=max_cost)
    pats, batch = _split_batch(F)
    ws = HomWorkspace(W, weight=weight, quad_nodes=quad_nodes, max_cost=max_cost)
    vals = [ws.density(p, kind) for p in pats]
    return np.array(vals) if batch else vals[0]


def hom_density_grad(F, W, *, return_density: bool = False, weight="weight", quad_nodes: int = 64,
                     max_cost=MAX_COST, backend=None):
    r"""L2 gradient DF(W) of t(F, .) at W, as symmetric block values.

    .. math::

        DF(W)(x, y) = \sum_{ab \in E(F)} \tfrac12 \left[ t_{a \to x, b \to y}(F - ab, W)
                      + t_{a \to y, b \to x}(F - ab, W) \right]

    For an n x n matrix A this equals n^2 times the Frobenius gradient of
    A -> t(F, A) with A_ij and A_ji as separate coordinates; for a step graphon
    (B, w) it is the Frobenius gradient divided by w_i w_j.  One pinned density is
    computed per edge orbit of Aut(F).  Examples: D t(K2) = 1, D t(P3) = d(x) + d(y),
    D t(K3) = 3 W o W, D t(C_k) = k W^{o(k-1)}.

    Parameters
    ----------
    F : pattern or list of patterns
        As in :func:`hom_density`.
    W : array (n, n), StepGraphon, networkx.Graph or callable
        As in :func:`hom_density`; a function is replaced by its quadrature
        matrix and the gradient is returned at the quadrature nodes.
    return_density : bool
        Also return t(F, W) (computed from the same shared products).
    weight, quad_nodes, max_cost, backend
        As in :func:`hom_density` (the cost limit applies to the gradient's estimate); a
        device W gives gradients of its library.

    Returns
    -------
    ndarray (m, m), or a list of them for a batch; with ``return_density`` a pair
    ``(density, grad)`` (densities as an array for a batch).

    Examples
    --------
    >>> import numpy as np
    >>> A = np.full((3, 3), 0.5)
    >>> float(hom_density_grad("K3", A)[0, 1])  # 3 * 0.5**2
    0.75
    """
    if backend is not None or _is_device_array(W):
        from .backend.xp_hom import hom_density_grad as _device_grad

        return _device_grad(F, W, return_density=return_density, weight=weight, quad_nodes=quad_nodes,
                            max_cost=max_cost, backend=backend)
    pats, batch = _split_batch(F)
    ws = HomWorkspace(W, weight=weight, quad_nodes=quad_nodes, max_cost=max_cost)
    grads = [ws.grad(p) for p in pats]
    if return_density:
        vals = [ws.density(p) for p in pats]
        return (np.array(vals), grads) if batch else (vals[0], grads[0])
    return grads if batch else grads[0]

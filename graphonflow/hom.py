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

References
----------
L. Lovász, *Large Networks and Graph Limits*, AMS 2012, ch. 5 and 7.
S. Oh, S. Pal, R. Somani, R. Tripathi, Gradient flows on graphons, J. Theor.
Probab. 37 (2024), arXiv:2111.09459 (the gradient formula).
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import opt_einsum as oe

from ._linalg import _mirror_lower_from_upper, gemm, sym_square
from .coerce import as_target
from .graphons import Graphon
from .patterns import Pattern, as_pattern, is_edge_list
from .step import StepGraphon

__all__ = ["HomWorkspace", "hom_density", "hom_density_grad", "KINDS"]

KINDS = ("hom", "inj", "ind")

#: Most supergraphs the induced density expands into before it contracts one network instead.
MAX_IND_SUPERSETS = 1 << 10

#: Largest intermediate (in entries) a contraction may build before it is sliced.
MAX_INTERMEDIATE = 1 << 25


# --------------------------------------------------------------------------- targets
def _read_target(W, weight, quad_nodes, check):
    """Return (B, w or None, graph_reading).  w is None for uniform widths.

    The input is read by :func:`graphonflow.as_target`.  Arrays and networkx graphs with
    uniform widths are read as graphs (for injective and induced densities); a networkx graph
    whose node widths differ is a weighted step graphon like a StepGraphon.
    """
    if not check and isinstance(W, (np.ndarray, list, tuple)):
        # internal callers that keep W symmetric and finite by construction: no checking pass
        B = np.asarray(W)
        if B.dtype not in (np.float32, np.float64):
            B = B.astype(np.float64)
        return np.ascontiguousarray(B), None, True
    t = as_target(W, name="W", weight=weight)
    if isinstance(t, Graphon):
        step = StepGraphon.from_function(t, quad_nodes)
        return step.values, step.widths, False
    B = t.values
    if t.uniform:
        return B, None, t.kind != "step"
    return B, t.widths.astype(B.dtype), False


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
        Edge attribute holding weights when W is a networkx graph (None: 0/1).
    quad_nodes : int
        Gauss--Legendre nodes per axis when W is a function.
    check : bool
        Validate the matrix (symmetric, finite).  Internal callers that keep W
        symmetric by construction may switch it off.

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

    def __init__(self, W, *, weight="weight", quad_nodes=64, check=True):
        B, w, graph = _read_target(W, weight, quad_nodes, check)
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
    def density(self, F, kind: str = "hom") -> float:
        """t(F, W) (``kind="hom"``), the injective or the induced density."""
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
        F = as_pattern(F)
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
        if m < k:
            raise ValueError(
                f"the graph has {m} vertices, fewer than the pattern's {k}: no injective maps exist"
            )
        return math.prod(range(m - k + 1, m + 1))

    def _zero_diag_ws(self):
        if self._ws0 is None:
            # a simple graph (zero diagonal) is its own zero-diagonal workspace, so t and t_inj
            # share their products (the n^4 K4 table among them) instead of computing them twice
            zero = self.uniform and not np.diagonal(self.B).any()
            self._ws0 = self if zero else HomWorkspace(self._zero_diag(), check=False)
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
        for blocks, mu in _partitions_mu(F.k):
            label = _block_labels(blocks, F.k)
            if any(label[a] == label[b] for a, b in F.edges):
                continue  # would use the (zero) diagonal
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
                total += (-1) ** r * self.density(G, kind)
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
        for blocks, mu in _partitions_mu(F.k):
            label = _block_labels(blocks, F.k)
            if any(label[a] == label[b] for a, b in F.edges):
                continue
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
        mu = 1
        for b in blocks:
            s = len(b)
            mu *= (-1) ** (s - 1) * math.factorial(s - 1)
        yield blocks, mu


def _block_labels(blocks, k):
    label = [0] * k
    for i, b in enumerate(blocks):
        for v in b:
            label[v] = i
    return label


_K4 = ((0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3))
_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
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
        terms.append(_LETTERS[u] + _LETTERS[v])
        ops.append(M)
    for u, x in vfac.items():
        terms.append(_LETTERS[u])
        ops.append(x)
    out = "".join(_LETTERS[o] for o in outputs)
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


# ------------------------------------------------------------------- public API
def _split_batch(F):
    """Return (list_of_patterns, is_batch)."""
    if isinstance(F, (list, tuple)) and len(F) > 0 and not is_edge_list(F):
        return [as_pattern(f) for f in F], True
    return [as_pattern(F)], False


def hom_density(F, W, kind: str = "hom", *, weight="weight", quad_nodes: int = 64):
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
        node has one.
    kind : {"hom", "inj", "ind"}
        * ``"hom"``: t(F, W) as above (the same under every reading);
        * ``"inj"``: arrays and graphs (with equal node widths): (sum over injective
          maps of the edge weight products) / n(n-1)...(n-k+1), i.e. the subgraph-count
          density; step graphons and functions: equal to ``"hom"``;
        * ``"ind"``: arrays and graphs: the same over injective maps with a factor
          A on edges and 1 - A on non-edges of F; step graphons and functions: the
          integral of prod_E W prod_{non-E} (1 - W) over all maps.
    weight : str or None
        Edge attribute for networkx targets (None: every edge has weight 1).
    quad_nodes : int
        Gauss--Legendre nodes per axis for a function target (spectral accuracy
        for smooth kernels).

    Returns
    -------
    float, or ndarray of shape (len(F),) for a batch.

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
    pats, batch = _split_batch(F)
    ws = HomWorkspace(W, weight=weight, quad_nodes=quad_nodes)
    vals = [ws.density(p, kind) for p in pats]
    return np.array(vals) if batch else vals[0]


def hom_density_grad(F, W, *, return_density: bool = False, weight="weight", quad_nodes: int = 64):
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
    pats, batch = _split_batch(F)
    ws = HomWorkspace(W, weight=weight, quad_nodes=quad_nodes)
    grads = [ws.grad(p) for p in pats]
    if return_density:
        vals = [ws.density(p) for p in pats]
        return (np.array(vals), grads) if batch else (vals[0], grads[0])
    return grads if batch else grads[0]

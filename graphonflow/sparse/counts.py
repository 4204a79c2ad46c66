r"""Homomorphism, injective, induced and subgraph counts of small patterns in sparse graphs.

For a pattern F on k vertices and a symmetric matrix A (a graph G),

.. math::

    \hom(F, A) = \sum_{\varphi: V(F) \to V(G)} \prod_{ab \in E(F)} A_{\varphi a \varphi b},
    \qquad \mathrm{inj}(F, A) = \sum_{\varphi \text{ injective}} \cdots,

    \mathrm{ind}(F, A) = \sum_{\varphi \text{ injective}} \prod_{ab \in E(F)} A_{\varphi a\varphi b}
                         \prod_{ab \notin E(F)} (1 - A_{\varphi a \varphi b}),

and the number of copies of F in G is inj(F, G) / |Aut(F)| (induced copies: ind / |Aut(F)|).
The densities of :func:`graphonflow.hom_density` are hom / n^k and inj / n(n-1)...(n-k+1).
On a 0/1 matrix (and on integer matrices: multigraphs) every count is an exact Python int.

How they are computed (no n x n array anywhere; see docs/sparse.md for costs)
-----------------------------------------------------------------------------
* inj of a *connected* pattern is the primitive.  On binary graphs the patterns on <= 4
  vertices, stars, cliques, trees and several 5-vertex patterns have closed forms in degrees,
  per-edge triangle counts, 4-cycle counts (per vertex and per edge) and clique counts, each
  O(m alpha) by degree-ordered orientation (:mod:`graphonflow.sparse._kernels`); every other
  connected pattern (and weighted ones) is enumerated by a parallel backtracking search whose
  last vertex is counted, not walked.
* hom(F) = sum over partitions P of V(F) into independent sets of inj(F/P) (plus partitions
  with an edge inside a block when A has a diagonal); trees go straight through sparse
  matrix-vector products.
* inj of a disconnected pattern: Moebius inversion, inj(F) = sum_P mu(0, P) hom(F/P), with
  hom multiplicative over components; isolated vertices are a falling factorial.
* ind(F) = sum over edge sets S of the non-edges of F of (-1)^|S| inj(F + S), the terms grouped
  by isomorphism class first (many cancel).

Quotients that merge edges carry A^2, A^3, ... on weighted graphs, and loops carry the
diagonal: the engine works with such multigraph patterns internally (:mod:`.canon`).
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from ..patterns import Pattern, as_pattern, is_edge_list
from . import _kernels as K
from .canon import automorphisms, canon, components, is_tree, key_of_pattern, quotient, simple
from .graph import as_sparse_graph

__all__ = ["SparseCounter", "hom_count", "inj_count", "ind_count", "subgraph_count", "sparse_density",
           "KINDS"]

KINDS = ("hom", "inj", "ind")
_LIM = 1 << 61
#: Up to this many pattern vertices induced counts are signed sums of injective ones over the
#: supergraphs (which reach the closed forms); connected patterns beyond are enumerated directly.
IND_BY_SUPERGRAPHS_K = 5
#: Most non-edges of a disconnected pattern whose induced count expands over supergraphs.
MAX_IND_NONEDGES = 15
#: Up to this many vertices hom of a connected non-forest is a sum of inj over the partitions
#: into independent sets (B_8 = 4140 of them at most); beyond, its maps are enumerated directly.
HOM_BY_PARTITIONS_K = 8
#: Most partitions the Moebius sum of a disconnected pattern's inj may visit (B_9 = 21147).
MAX_PARTITIONS = 25000


# ----------------------------------------------------------------------------- exact arithmetic
def xsum(a):
    """Exact sum of an integer array (int64 entries of magnitude < 2^62, or Python ints)."""
    if a.dtype == object:
        return int(sum(a.tolist()))
    if a.size == 0:
        return 0
    a = a.astype(np.int64, copy=False)
    hi = a >> 31
    lo = a & ((1 << 31) - 1)
    return (int(hi.sum()) << 31) + int(lo.sum())


def xprod_sum(*factors):
    """Exact sum over i of prod_j factors[j][i] for int64 arrays (Python ints where a product
    leaves int64)."""
    est = np.ones(factors[0].shape[0])
    for f in factors:
        est = est * f.astype(np.float64)
    big = np.abs(est) > _LIM
    small = ~big
    prod = np.ones(int(small.sum()), dtype=np.int64)
    for f in factors:
        prod = prod * f[small].astype(np.int64)
    total = xsum(prod)
    if big.any():
        cols = [f[big].tolist() for f in factors]
        total += sum(math.prod(int(x) for x in row) for row in zip(*cols))
    return total


def _as_obj(x):
    out = np.empty(x.shape[0], dtype=object)
    out[:] = [int(v) for v in x.tolist()]
    return out


def _nchunks():
    from numba import get_num_threads

    return max(1, int(get_num_threads()))


class _Overflow(Exception):
    pass


# ----------------------------------------------------------------------------- the engine
class SparseCounter:
    """Counts of many patterns in one sparse graph, sharing their work.

    Parameters
    ----------
    G : SparseGraph, scipy.sparse matrix, networkx graph or square array
        Read by :func:`graphonflow.sparse.as_sparse_graph` (never densely).
    weight : str or None
        Edge attribute of a networkx graph (None: every edge weighs 1).

    The counter caches every count it computes (by isomorphism class) and the graph's
    primitives (degree ordering, triangles per edge, 4-cycles, cliques), so a batch of
    patterns pays for each primitive once.

    Examples
    --------
    >>> import networkx as nx
    >>> c = SparseCounter(nx.complete_graph(5))
    >>> c.count("K3"), c.count("K3", "inj"), c.count("C4", "ind"), c.subgraphs("C4")
    (60, 60, 0, 15)
    """

    def __init__(self, G, *, weight="weight", name="G"):
        self.G = as_sparse_graph(G, weight=weight, name=name)
        g = self.G
        self.n = g.n
        self.binary = g.kind == "binary"
        self.exact = g.exact
        self.loops = g.has_loops
        self._inj = {}
        self._hom = {}
        self._user = {}
        self._prim = {}
        self.method = {}  # canonical key -> how its inj was computed (for docs/tests)
        self._dry = None  # a dict while cost() walks the computation without doing it

    # ------------------------------------------------------------ primitives
    def _ranked(self):
        return self.G.ranked()

    def _zero(self):
        return 0 if self.exact else 0.0

    def _sum(self, a):
        return xsum(a) if self.exact else float(np.sum(a))

    @property
    def deg(self):
        indptr = self._ranked()[0]
        if "deg" not in self._prim:
            self._prim["deg"] = np.diff(indptr)
        return self._prim["deg"]

    def _rows(self):
        if "rows" not in self._prim:
            self._prim["rows"] = np.repeat(np.arange(self.n, dtype=np.int64), self.deg)
        return self._prim["rows"]

    def _triangles(self):
        """Per-entry triangle counts (binary: |N(u) & N(v)|; weighted: sum A_ux A_vx) at both
        entries of every edge, and per-vertex counts (binary)."""
        if "tri" not in self._prim:
            indptr, indices, data, _, split, _ = self._ranked()
            nch = _nchunks()
            n = self.n
            st_t = np.int32 if n < 2**31 - 1 else np.int64
            stamp = np.full((nch, n), -1, dtype=st_t)
            weighted = not self.binary
            wdt = data.dtype if weighted else np.int64
            wmark = np.zeros((nch, n if weighted else 1), dtype=wdt)
            t_cnt = np.zeros(indices.size, dtype=np.int64)
            t_w = np.zeros(indices.size if weighted else 1, dtype=wdt)
            dummy = data if weighted else np.ones(1, dtype=np.int64)
            K.edge_triangles(indptr, indices, split, dummy, weighted, stamp, wmark, t_cnt, t_w)
            del stamp, wmark
            rev = self.G.reverse_positions()
            lower = np.zeros(indices.size, dtype=bool)
            lower[:] = indices < self._rows()
            tgt = rev[lower]
            t_cnt[tgt] = t_cnt[lower]
            if weighted:
                t_w[tgt] = t_w[lower]
            self._prim["tri"] = t_cnt if self.binary else t_w
            if self.binary:
                tv = np.add.reduceat(t_cnt, indptr[:-1]) if t_cnt.size else np.zeros(n, np.int64)
                tv[np.diff(indptr) == 0] = 0
                self._prim["tri_v"] = tv // 2
        return self._prim["tri"]

    def _tri_v(self):
        self._triangles()
        return self._prim["tri_v"]

    def _T(self):
        """Triangles (binary) or the sum over triangles of their weight products."""
        if "T" not in self._prim:
            if self.binary and "tri" in self._prim:
                self._prim["T"] = xsum(self._tri_v()) // 3
            elif self.binary and "ranked" not in self.G._cache and self.n < 2**32:
                self._prim["T"] = self._triangles_unranked()  # (its order key packs index in 32 bits)
            else:
                self._prim["T"] = self._cliques(3)[0]
        return self._prim["T"]

    def _triangles_unranked(self):
        """Triangles of a binary graph without relabelling it: the out-lists of the degree
        orientation, built by comparing (degree, index) on the fly, then marking (when only the
        total is wanted this skips the degree ordering the other kernels share).  Below
        PREFETCH_MIN_N vertices the out-lists are written in place of a copy of the rows, in one
        pass; above, packed, in two, and the walk prefetches."""
        g = self.G
        # zeros: the walk reads one entry past each out-list, which must hold a vertex; the
        # orientation leaves places unwritten, and one spare entry ends the array
        if g.n < K.PREFETCH_MIN_N:
            outptr, outend = g.indptr, np.empty(g.n, dtype=np.int64)
            outidx = np.zeros(g.indices.size + 1, dtype=g.indices.dtype)
            K.orient_inplace(g.indptr, g.indices, outend, outidx)
            ahead = 0
        else:
            outdeg = np.empty(g.n, dtype=np.int64)
            up = np.empty(g.indices.size, dtype=np.bool_)
            K.orient_counts(g.indptr, g.indices, g.degrees, outdeg, up)
            outptr = np.zeros(g.n + 1, dtype=np.int64)
            np.cumsum(outdeg, out=outptr[1:])
            del outdeg
            outidx = np.zeros(int(outptr[-1]) + 1, dtype=g.indices.dtype)
            K.orient_fill(g.indptr, g.indices, up, outptr, outidx)
            del up
            outend = outptr[1:]
            ahead = K.PREFETCH_AHEAD
        nch = _nchunks()
        mark = np.zeros((nch, g.n), dtype=np.uint8)
        out = np.zeros(8 * nch, dtype=np.int64)  # at most m^1.5 / 3 triangles: int64 is ample
        K.triangles_oriented(outptr, outend, outidx, mark, out, ahead)
        return int(out.sum())

    def _cliques(self, k, per_vertex=False):
        key = ("cliques", k, per_vertex)
        if key not in self._prim:
            indptr, indices, data, _, split, _ = self._ranked()
            nch = _nchunks()
            maxout = int((indptr[1:] - split).max()) if self.n else 0
            weighted = not self.binary
            wdt = data.dtype if weighted else np.int64
            cand = np.zeros((nch, k, max(maxout, 1)), dtype=np.int64)
            wbuf = np.zeros((nch, k, max(maxout, 1) if weighted else 1), dtype=wdt)
            sizes = np.zeros((nch, k), dtype=np.int64)
            pos = np.zeros((nch, k), dtype=np.int64)
            chosen = np.zeros((nch, k), dtype=np.int64)
            pref = np.zeros((nch, k), dtype=wdt)
            out = np.zeros(self.n, dtype=np.int64 if self.exact else np.float64)
            pv = np.zeros((nch, self.n if per_vertex else 0), dtype=np.int64)
            flag = np.zeros(1, dtype=np.int64)
            if not self.binary and self.exact:
                self._guard(math.comb(k, 2), "K%d" % k)
            dummy = data if weighted else np.ones(1, dtype=np.int64)
            K.cliques(indptr, indices, split, dummy, weighted, k, cand, wbuf, sizes, pos, pref, chosen, out, pv,
                      self.exact, flag)
            self._check_flag(flag, f"K{k}")
            self._prim[key] = (self._sum(out), pv.sum(axis=0) if per_vertex else None)
        return self._prim[key]

    def _four_cycles(self, per=False):
        key = ("c4", per)
        if key not in self._prim:
            indptr, indices, data, _, split, _ = self._ranked()
            nch = _nchunks()
            n = self.n
            weighted = not self.binary
            wdt = data.dtype if weighted else np.int64
            cnt = np.zeros((nch, n), dtype=np.int64)
            touched = np.zeros((nch, n), dtype=np.int64)
            s1 = np.zeros((nch, n if weighted else 1), dtype=wdt)
            s2 = np.zeros((nch, n if weighted else 1), dtype=wdt)
            out = np.zeros(n, dtype=np.int64 if self.exact else np.float64)
            pv = np.zeros((nch, n if per else 0), dtype=np.int64)
            pe = np.zeros((nch, indices.size if per else 0), dtype=np.int64)
            out3 = np.zeros(0, dtype=np.int64)  # (the kernel's K2,3 sums: not needed, see _f_k23)
            flag = np.zeros(1, dtype=np.int64)
            if weighted and self.exact:
                dmax = int(self.deg.max()) if n else 0
                W = self.G.max_abs_weight()
                if (dmax * W * W) ** 2 >= _LIM:
                    raise OverflowError("4-cycle sums of this integer matrix could leave int64 "
                                        f"(max degree {dmax}, largest |entry| {W}); pass float weights")
            dummy = data if weighted else np.ones(1, dtype=np.int64)
            K.four_cycles(indptr, indices, split, dummy, weighted, cnt, s1, s2, touched, out, out3, pv, pe,
                          self.exact, flag)
            self._check_flag(flag, "C4")
            del cnt, touched, s1, s2
            total = self._sum(out)
            total = total // 2 if self.exact else total / 2.0
            if per:
                pe = pe.sum(axis=0)
                rev = self.G.reverse_positions()
                pe = pe + pe[rev]
                self._prim[key] = (total, pv.sum(axis=0), pe)
            else:
                self._prim[key] = (total, None, None)
        return self._prim[key]

    def _k5e(self):
        if "k5e" not in self._prim:
            indptr, indices, _, _, split, _ = self._ranked()
            out = np.zeros(self.n, dtype=np.int64)
            flag = np.zeros(1, dtype=np.int64)
            K.triangle_k4_pairs(indptr, indices, split, out, True, flag)
            self._check_flag(flag, "K5-e")
            self._prim["k5e"] = xsum(out)
        return self._prim["k5e"]

    def _guard(self, factors, what):
        """Integer matrices: refuse when a product of ``factors`` entries could leave int64."""
        W = self.G.max_abs_weight()
        if W > 1 and factors * math.log2(W) >= 61:
            raise OverflowError(
                f"{what}: products of {factors} entries of this integer matrix (largest |entry| {W}) could "
                "leave int64; pass the weights as floats for a floating-point count")

    @staticmethod
    def _check_flag(flag, what):
        if flag[0]:
            raise OverflowError(f"{what}: a partial sum passed 2^62 in int64; the count is not returned "
                                "rather than returned wrapped")

    # ------------------------------------------------------------ messages (trees)
    def _spmv(self, x, power, use_diag):
        """y = A^(o power) x (entrywise power), off-diagonal plus the diagonal when use_diag."""
        indptr, indices, data, diag, _, _ = self._ranked()
        n = self.n
        weighted = not self.binary
        ud = bool(use_diag and diag is not None)
        if x.dtype == object:
            return self._spmv_object(x, power, ud)
        if self.exact:
            # bound the result in floating point first; Python ints when it could leave int64
            W = float(self.G.max_abs_weight()) ** power
            bound = float(np.abs(x).astype(np.float64).max(initial=0.0)) * W * (float(self.deg.max(initial=0)) + 1)
            if bound >= _LIM:
                return self._spmv_object(x, power, ud)
            y = np.zeros(n, dtype=np.int64)
            dat = data if weighted else np.ones(1, dtype=np.int64)
            dg = diag if ud else np.zeros(1, dtype=np.int64)
            flag = np.zeros(1, dtype=np.int64)
            K.spmv(indptr, indices, dat, weighted, power, x.astype(np.int64), dg, ud, y, True, flag)
            if flag[0]:
                return self._spmv_object(x, power, ud)
            return y
        y = np.zeros(n, dtype=np.float64)
        dg = diag.astype(np.float64) if ud else np.zeros(1)
        K.spmv(indptr, indices, data.astype(np.float64), True, power, x.astype(np.float64), dg, ud, y, False,
               np.zeros(1, dtype=np.int64))
        return y

    def _spmv_object(self, x, power, use_diag):
        indptr, indices, data, diag, _, _ = self._ranked()
        xo = x if x.dtype == object else _as_obj(x)
        contrib = xo[indices]
        if data is not None:
            contrib = contrib * (_as_obj(data) ** power)
        y = np.zeros(self.n, dtype=object)
        y[:] = 0
        nonempty = np.diff(indptr) > 0
        if contrib.size:
            sums = np.add.reduceat(contrib, indptr[:-1][nonempty])
            y[nonempty] = sums
        if use_diag and diag is not None:
            y = y + (_as_obj(diag) ** power) * xo
        return y

    @staticmethod
    def _mul(a, b):
        if a.dtype == object or b.dtype == object:
            return (a if a.dtype == object else _as_obj(a)) * (b if b.dtype == object else _as_obj(b))
        if a.dtype.kind == "f" or b.dtype.kind == "f":
            return a * b
        est = np.abs(a.astype(np.float64) * b.astype(np.float64)).max(initial=0.0)
        if est >= _LIM:
            return _as_obj(a) * _as_obj(b)
        return a * b

    def _tree_hom(self, key, use_diag):
        """hom of a tree key (edge multiplicities as entrywise powers) by messages from a root."""
        k, edges, _ = key
        adj = [[] for _ in range(k)]
        for a, b, c in edges:
            adj[a].append((b, c))
            adj[b].append((a, c))
        root = max(range(k), key=lambda v: len(adj[v]))
        one = np.ones(self.n, dtype=np.int64 if self.exact else np.float64)

        def msg(v, parent):
            out = one
            for u, c in adj[v]:
                if u != parent:
                    out = self._mul(out, self._spmv(msg(u, v), c, use_diag))
            return out

        vec = msg(root, -1)
        return xsum(vec) if self.exact else float(np.sum(vec))

    # ------------------------------------------------------------ connected inj
    def inj_connected(self, key):
        """inj of a connected (multigraph) pattern key."""
        if self.binary:
            key = simple(key)
        if any(key[2]) and not self.loops:
            return self._zero()
        key = canon(key)
        if key in self._inj:
            return self._inj[key]
        k = key[0]
        if self._dry is not None:
            self._dry[("inj", key)] = 0.0 if k > self.n else self._estimate(key)
            return self._zero()
        if k > self.n:
            val = self._zero()
            how = "k > n"
        else:
            val, how = self._inj_connected(key)
        self._inj[key] = val
        self.method[key] = how
        return val

    def _inj_connected(self, key):
        k, edges, loops = key
        n = self.n
        if k == 1:
            if loops[0]:
                diag = self._ranked()[3]
                if self.binary:
                    return int(np.count_nonzero(diag)), "diagonal"
                return self._sum(diag ** loops[0]), "diagonal"
            return n, "n"
        if any(loops):
            return self._enumerate(key), "enumeration"
        if self.binary:
            f = _BINARY_FORMULAS.get(key)
            if f is not None:
                return f(self), "formula"
            shape = _shape(key)
            if shape == "edge":
                return self.G.nnz, "formula (degrees)"
            if shape == "star":
                return xprod_sum(*[self.deg - j for j in range(k - 1)]), "formula (star)"
            if shape == "clique":
                return math.factorial(k) * self._cliques(k)[0], "cliques"
            if shape == "tree":
                return self._inj_tree(key), "tree (Moebius from messages)"
            return self._enumerate(key), "enumeration"
        # weighted or integer
        shape = _shape(key)
        mult_one = all(c == 1 for _, _, c in edges)
        if shape in ("star", "edge"):
            return self._weighted_star(key), "power sums"
        if shape == "clique" and mult_one:
            return math.factorial(k) * self._cliques(k)[0], "cliques"
        if key == _C4_KEY:
            return 8 * self._four_cycles()[0], "4-cycles"
        if shape == "tree" and n > 2000:
            return self._inj_tree(key), "tree (Moebius from messages)"
        return self._enumerate(key), "enumeration"

    def _inj_tree(self, key):
        """inj(T) = hom(T) - sum over non-trivial independent partitions of inj(T/P)."""
        from ..hom import _independent_partitions_mu

        k, edges, _ = key
        total = self._tree_hom(key, use_diag=False)
        simple_edges = [(a, b) for a, b, _ in edges]
        for blocks, _mu in _independent_partitions_mu(k, simple_edges):
            if len(blocks) == k:
                continue
            total -= self.inj_connected(quotient(key, blocks))
        return total

    def _weighted_star(self, key):
        """inj of a star (centre joined to leaves with powers c_i) by power sums of the rows:
        sum over distinct leaves = sum over partitions P of the leaves of mu(P) prod_B p_{c_B}."""
        from ..hom import _partitions_mu

        k, edges, _ = key
        deg = [0] * k
        for a, b, _ in edges:
            deg[a] += 1
            deg[b] += 1
        centre = max(range(k), key=lambda v: deg[v])
        powers = [c for a, b, c in edges]
        r = len(powers)
        indptr, _, data, _, _, _ = self._ranked()
        nonempty = np.diff(indptr) > 0
        psums = {}

        def p(s):
            if s not in psums:
                if self.exact:
                    self._guard(s, "row power sums")
                    vals = data.astype(np.int64) ** s
                    est = np.abs(data.astype(np.float64)) ** s
                    if est.size and np.add.reduceat(est, indptr[:-1][nonempty]).max() >= _LIM:
                        vals = _as_obj(data) ** s
                        out = np.zeros(self.n, dtype=object)
                        out[:] = 0
                    else:
                        out = np.zeros(self.n, dtype=np.int64)
                else:
                    vals = data.astype(np.float64) ** s
                    out = np.zeros(self.n)
                if vals.size:
                    out[nonempty] = np.add.reduceat(vals, indptr[:-1][nonempty])
                psums[s] = out
            return psums[s]

        del centre
        total = self._zero()
        for blocks, mu in _partitions_mu(r):
            vecs = [p(sum(powers[i] for i in b)) for b in blocks]
            if self.exact:
                if any(v.dtype == object for v in vecs):
                    prod = vecs[0]
                    for v in vecs[1:]:
                        prod = prod * v
                    total += mu * int(sum(prod.tolist()))
                else:
                    total += mu * xprod_sum(*vecs)
            else:
                prod = vecs[0]
                for v in vecs[1:]:
                    prod = prod * v
                total += mu * float(prod.sum())
        return total

    # ------------------------------------------------------------ enumeration
    def _enumerate(self, key, induced=False):
        """inj of a connected key by backtracking, the copies rooted at their top vertex.

        Every injective map has one pattern vertex v sent to the highest-ranked vertex of its
        image; maps with v in one orbit of Aut(F) are equally many.  So inj = sum over the orbits
        O of |O| times the maps whose orbit representative is sent on top, and those are
        enumerated with every other vertex restricted to lower ranks.
        """
        from .canon import vertex_orbits

        total = self._zero()
        for orb in vertex_orbits(key):
            total += len(orb) * self._enumerate_rooted(key, orb[0], top=True, induced=induced)
        return total

    def _enumerate_rooted(self, key, rooted_at=None, top=False, per_root=False, induced=False, allmaps=False):
        """Backtracking over injective maps of a connected key with ``rooted_at`` first (and, with
        ``top``, on top); the total, or the per-root array with ``per_root``."""
        k, edges, loops = key
        order = _search_order(key, rooted_at)
        pos_of = {v: i for i, v in enumerate(order)}
        back = [[] for _ in range(k)]
        for a, b, c in edges:
            ia, ib = pos_of[a], pos_of[b]
            if ia > ib:
                ia, ib = ib, ia
            back[ib].append((ia, c))
        bp = np.zeros(k + 1, dtype=np.int64)
        nb, mu = [], []
        for i in range(k):
            for j, c in back[i]:
                nb.append(j)
                mu.append(c)
            bp[i + 1] = len(nb)
        nb = np.array(nb or [0], dtype=np.int64)
        mu = np.array(mu or [0], dtype=np.int64)
        lp = np.array([loops[order[i]] for i in range(k)], dtype=np.int64)
        np_ = np.zeros(k + 1, dtype=np.int64)
        nn = []
        for i in range(k):
            if induced:
                adj = {j for j, _ in back[i]}
                nn += [j for j in range(i) if j not in adj]
            np_[i + 1] = len(nn)
        nn = np.array(nn or [0], dtype=np.int64)
        indptr, indices, data, diag, _, _ = self._ranked()
        weighted = not self.binary
        if self.exact and not self.binary:
            self._guard(sum(c for _, _, c in edges) + sum(loops), "enumeration")
        dt = np.int64 if self.exact else np.float64
        nch = _nchunks()
        phi = np.zeros((nch, k), dtype=np.int64)
        pos = np.zeros((nch, k), dtype=np.int64)
        end = np.zeros((nch, k), dtype=np.int64)
        src = np.zeros((nch, k), dtype=np.int64)
        pref = np.zeros((nch, k), dtype=dt)
        out = np.zeros(self.n, dtype=dt)
        flag = np.zeros(1, dtype=np.int64)
        dat = data.astype(dt) if weighted else np.ones(1, dtype=dt)
        dg = diag.astype(dt) if diag is not None else np.zeros(1, dtype=dt)
        K.enumerate_inj(indptr, indices, dat, weighted, dg, diag is not None, k, bp, nb, mu, lp, bool(top), np_, nn,
                        bool(allmaps), phi, pos, end, src, pref, out, self.exact, flag)
        self._check_flag(flag, "enumeration")
        if per_root:
            return out
        return self._sum(out)

    # ------------------------------------------------------------ hom of connected keys
    def hom_connected(self, key, use_diag):
        """hom of a connected key, the diagonal of A used (use_diag) or not."""
        use_diag = bool(use_diag and self.loops)
        if self.binary:
            key = simple(key)
        key = canon(key)
        ck = (key, use_diag)
        if ck in self._hom:
            return self._hom[ck]
        k, edges, loops = key
        if k == 1 and not loops[0]:
            val = self.n
        elif is_tree(key):
            if self._dry is not None:
                self._dry[("hom", key)] = float(k) * (self.G.nnz + self.n)
                return self._zero()
            val = self._tree_hom(key, use_diag)
        elif k > HOM_BY_PARTITIONS_K:
            if use_diag or any(loops):
                raise ValueError(
                    f"hom of a pattern with {k} vertices that is not a forest, on a graph with loops: the sparse "
                    f"engine sums over the partitions of V(F) only up to {HOM_BY_PARTITIONS_K} vertices (set the "
                    "diagonal to 0, or use the dense engine)")
            if self._dry is not None:
                self._dry[("hom", key)] = self._walks_estimate(key)
                return self._zero()
            val = self._enumerate_rooted(key, allmaps=True)
        else:
            from ..hom import _independent_partitions_mu, _partitions_mu

            simple_edges = [(a, b) for a, b, _ in edges]
            parts = _partitions_mu(k) if use_diag else _independent_partitions_mu(k, simple_edges)
            val = self._zero()
            for blocks, _mu in parts:
                val += self.inj_connected(quotient(key, blocks))
        self._hom[ck] = val
        return val

    # ------------------------------------------------------------ cost estimates
    def cost(self, F, kind="hom") -> float:
        """Estimated operations of ``count(F, kind)``, before any counting (O(m) to estimate).

        The computation is walked without being done, and each connected pattern it needs is
        costed by its method: closed forms and cliques about nnz (1 + abar)^(k - 2) with abar the
        mean over edges of the smaller end degree (the O(m alpha) of the orientation); trees
        k (n + nnz); an enumeration the number of walks along its search order's first k - 1
        vertices (hom of that tree, an upper bound on the partial maps it visits).  Already
        computed counts cost 0.
        """
        dry = SparseCounter.__new__(SparseCounter)
        dry.__dict__.update(self.__dict__)
        dry._inj, dry._hom, dry._user = dict(self._inj), dict(self._hom), dict(self._user)
        dry._dry = {}
        dry.count(F, kind)
        return float(sum(dry._dry.values()))

    def _abar(self):
        if "abar" not in self._prim:
            d = self.deg
            indices = self._ranked()[1]
            nnz = max(self.G.nnz, 1)
            self._prim["abar"] = float(np.minimum(d[self._rows()], d[indices]).sum()) / nnz
        return self._prim["abar"]

    def _estimate(self, key):
        k, edges, loops = key
        nnz = float(self.G.nnz) + self.n
        cheap = nnz * (1.0 + self._abar()) ** max(k - 2, 0)
        if k <= 2 and not any(loops):
            return nnz
        shape = _shape(key)
        if not any(loops):
            if self.binary and (key in _BINARY_FORMULAS or shape in ("star", "edge", "clique")):
                return cheap
            if not self.binary and (shape in ("star", "edge") or (shape == "clique" and
                                                                  all(c == 1 for _, _, c in edges))):
                return cheap
            if shape == "tree" and (self.binary or self.n > 2000):
                from ..hom import _independent_partitions_mu

                for blocks, _mu in _independent_partitions_mu(k, [(a, b) for a, b, _ in edges]):
                    if len(blocks) < k:
                        self.inj_connected(quotient(key, blocks))  # records the quotients' costs
                return float(k) * nnz
        return self._walks_estimate(key)

    def _walks_estimate(self, key):
        """hom of the spanning tree that the search order's first k - 1 vertices grow (float)."""
        k, edges, _ = key
        if k <= 2:
            return float(self.G.nnz + self.n)
        order = _search_order(key)
        pos = {v: i for i, v in enumerate(order)}
        parent = {}
        for a, b, _ in edges:
            ia, ib = sorted((pos[a], pos[b]))
            if ib < k - 1 and ib not in parent:
                parent[ib] = ia
        indptr, indices = self._ranked()[:2]
        children = {i: [] for i in range(k - 1)}
        for ch, par in parent.items():
            children[par].append(ch)
        flag = np.zeros(1, dtype=np.int64)

        def msg(i):
            out = np.ones(self.n)
            for ch in children[i]:
                y = np.zeros(self.n)
                K.spmv(indptr, indices, np.ones(1), False, 1, msg(ch), np.zeros(1), False, y, False, flag)
                out = out * y
            return out

        return float(msg(0).sum()) + float(self.G.nnz)

    # ------------------------------------------------------------ user-level counts
    def count(self, F, kind="hom"):
        """hom(F, G), inj(F, G) or ind(F, G) (``kind``); exact ints on binary and integer graphs."""
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
        P = as_pattern(F)
        key = key_of_pattern(P)
        ck = (canon(key), kind)
        if ck in self._user:
            return self._user[ck]
        if kind == "hom":
            val = self._hom_simple(key)
        elif kind == "inj":
            val = self._inj_simple(key)
        else:
            val = self._ind_simple(key)
        self._user[ck] = val
        return val

    def subgraphs(self, F, induced=False):
        """Copies of F in G: inj(F, G) / |Aut(F)| (``induced``: ind / |Aut(F)|).  Exact on binary
        graphs; on weighted ones the weighted sum over copies."""
        P = as_pattern(F)
        a = automorphisms(P.k, P.edges)
        v = self.count(P, "ind" if induced else "inj")
        if self.exact:
            q, r = divmod(v, a)
            if r:  # pragma: no cover - a count that is not a multiple of |Aut| is a bug
                raise AssertionError(f"inj({P}) = {v} is not a multiple of |Aut| = {a}")
            return q
        return v / a

    def density(self, F, kind="hom"):
        """hom / n^k, inj / n(n-1)...(n-k+1) or ind / n(n-1)...(n-k+1) as a float (0.0 for inj
        and ind when k > n), the densities of :func:`graphonflow.hom_density`."""
        P = as_pattern(F)
        v = self.count(P, kind)
        if kind == "hom":
            return v / self.n ** P.k if self.exact else v / float(self.n) ** P.k
        if P.k > self.n:
            return 0.0
        return v / math.perm(self.n, P.k)

    def _hom_simple(self, key):
        val = 1
        for comp in components(key):
            val = val * self.hom_connected(comp, use_diag=True)
        return val if self.exact else float(val)

    def _inj_simple(self, key):
        k, edges, loops = key
        if k > self.n:
            return self._zero()
        comps = components(key)
        real = [c for c in comps if c[0] > 1]
        iso = len(comps) - len(real)
        if not real:
            return math.perm(self.n, k)
        if len(real) == 1:
            base = self.inj_connected(real[0])
            kr = real[0][0]
        else:
            # the components with edges, by Moebius inversion over the partitions into independent sets
            from ..hom import _independent_partitions_mu

            kr = sum(c[0] for c in real)
            from ..hom import _bell

            if _bell(kr) > MAX_PARTITIONS:
                raise ValueError(
                    f"inj of a disconnected pattern whose components with edges have {kr} vertices in all: the "
                    f"Moebius sum would visit up to B_{kr} = {_bell(kr)} partitions, more than the sparse engine's "
                    f"{MAX_PARTITIONS}; count the components one at a time")
            sub = _relabel_union(real)
            base = self._zero()
            for blocks, mu in _independent_partitions_mu(kr, [(a, b) for a, b, _ in sub[1]]):
                Q = quotient(sub, blocks)
                term = 1
                for comp in components(Q):
                    term = term * self.hom_connected(comp, use_diag=False)
                base += mu * term
        if iso:
            base = base * math.perm(self.n - kr, iso)
        return base

    def _ind_simple(self, key):
        k, edges, _ = key
        if k > self.n:
            return self._zero()
        E = {(a, b) for a, b, _ in edges}
        non = [(a, b) for a in range(k) for b in range(a + 1, k) if (a, b) not in E]
        if k > IND_BY_SUPERGRAPHS_K and len(components(key)) == 1 and non:
            # a connected pattern on many vertices: enumerate induced copies directly
            ck = canon(key)
            if self._dry is not None:
                self._dry[("ind", ck)] = self._walks_estimate(ck)
                return self._zero()
            return self._enumerate(ck, induced=True)
        if len(non) > MAX_IND_NONEDGES:
            raise ValueError(
                f"the induced count of a disconnected pattern with {k} vertices and {len(non)} non-edges would "
                f"sum over 2^{len(non)} supergraphs; the sparse engine does that for at most "
                f"{MAX_IND_NONEDGES} non-edges (the induced count of a connected pattern has no such limit)")
        coeff = {}
        for r in range(len(non) + 1):
            for S in itertools.combinations(non, r):
                e = tuple(sorted(E.union(S)))
                ck = canon((k, tuple((a, b, 1) for a, b in e), (0,) * k))
                coeff[ck] = coeff.get(ck, 0) + (-1) ** r
        total = self._zero()
        for ck, c in coeff.items():
            if c:
                total += c * self._inj_simple(ck)
        return total


# ----------------------------------------------------------------------------- pattern shapes
def _relabel_union(comps):
    k = 0
    edges = []
    loops = []
    for c in comps:
        edges += [(a + k, b + k, m) for a, b, m in c[1]]
        loops += list(c[2])
        k += c[0]
    return (k, tuple(sorted(edges)), tuple(loops))


def _shape(key):
    k, edges, loops = key
    if any(loops):
        return "other"
    if k == 2 and len(edges) == 1:
        return "edge"
    deg = [0] * k
    for a, b, _ in edges:
        deg[a] += 1
        deg[b] += 1
    if len(edges) == k * (k - 1) // 2 and k >= 3:
        return "clique"
    if len(edges) == k - 1:
        if k >= 3 and max(deg) == k - 1:
            return "star"
        return "tree"
    return "other"


def _search_order(key, first=None):
    """A connected vertex order for the enumeration: start at ``first`` (or a vertex of largest
    degree), then always the vertex with most neighbours already placed (ties: larger degree)."""
    k, edges, _ = key
    nbr = [set() for _ in range(k)]
    for a, b, _ in edges:
        nbr[a].add(b)
        nbr[b].add(a)
    if first is None:
        first = max(range(k), key=lambda v: (len(nbr[v]), -v))
    order = [first]
    placed = {first}
    while len(order) < k:
        cand = [v for v in range(k) if v not in placed and nbr[v] & placed]
        if not cand:
            raise ValueError("the enumeration needs a connected pattern")
        v = max(cand, key=lambda v: (len(nbr[v] & placed), len(nbr[v]), -v))
        order.append(v)
        placed.add(v)
    return order


def _key(edges, k=None):
    P = Pattern.from_edges(edges, k=k)
    return canon(key_of_pattern(P))


_C4_KEY = _key([(0, 1), (1, 2), (2, 3), (0, 3)])


# ----------------------------------------------------------------------------- binary closed forms
def _f_p3(c):
    d = c.deg
    return xprod_sum(d, d - 1)


def _f_k3(c):
    return 6 * c._T()


def _f_p4(c):
    d = c.deg
    rows = c._rows()
    indices = c._ranked()[1]
    return xprod_sum(d[rows] - 1, d[indices] - 1) - 6 * c._T()


def _f_paw(c):
    d = c.deg
    return 2 * xprod_sum(c._tri_v(), d - 2)


def _f_diamond(c):
    t = c._triangles()
    return xprod_sum(t, t) - 6 * c._T()


def _f_c4(c):
    return 8 * c._four_cycles()[0]


def _f_cricket(c):
    d = c.deg
    return 2 * xprod_sum(c._tri_v(), d - 2, d - 3)


def _f_bull(c):
    d = c.deg
    t = c._triangles()
    indptr, indices = c._ranked()[:2]
    vals = t * (d[indices] - 2)
    P = np.zeros(c.n, dtype=np.int64)
    ne = np.diff(indptr) > 0
    if vals.size:
        P[ne] = np.add.reduceat(vals, indptr[:-1][ne])
    return xprod_sum(P, d) - 2 * _f_paw(c) - _f_diamond(c)


def _f_k4_leaf(c):
    d = c.deg
    pv = c._cliques(4, per_vertex=True)[1]
    return 6 * xprod_sum(pv, d - 3)


def _f_banner(c):
    d = c.deg
    _, pv, _ = c._four_cycles(per=True)
    return 2 * xprod_sum(pv, d) - 2 * _f_c4(c) - _f_diamond(c)


def _f_house(c):
    _, _, pe = c._four_cycles(per=True)
    t = c._triangles()
    return xprod_sum(pe, t) - 2 * _f_diamond(c)


def _f_book3(c):
    t = c._triangles()
    return xprod_sum(t, t - 1, t - 2)


def _f_bowtie(c):
    # two triangles glued at a vertex: (2 t_x)^2 summed, minus the glued maps that share a vertex
    # (4 diamonds) or two (2 triangles)
    tv = c._tri_v()
    return 4 * xprod_sum(tv, tv) - 4 * _f_diamond(c) - 2 * _f_k3(c)


def _f_lollipop(c):
    # a paw rooted at its leaf z: R_z = sum_{w in N(z)} 2 (t_w - t_zw) = 2 (A t)_z - 4 t_z; a leaf
    # hung at z gives R_z d_z, minus the maps whose new leaf lands on the paw (paw, 2 diamonds)
    tv = c._tri_v()
    At = c._spmv(tv, 1, False)
    R = 2 * At - 4 * tv
    return xprod_sum(R, c.deg) - _f_paw(c) - 2 * _f_diamond(c)


def _f_c5(c):
    # every injective map of C5 has one vertex on top, and the five are alike: inj = 5 inj_top.
    # inj_top = closed maps from the top (c5_top_walks) minus the ones that merge vertices below
    # the top, which are injective maps from the top of the quotients: the paw rooted at its leaf
    # ({v, w} merged), the paw rooted at a degree-2 vertex twice ({v, y}, {x, w}), and K3 ({v, y},
    # {x, w}), whose top-rooted count is 2 T
    indptr, indices, _, _, split, _ = c._ranked()
    nch = _nchunks()
    c2 = np.zeros((nch, c.n), dtype=np.int64)
    touched = np.zeros((nch, c.n), dtype=np.int64)
    out = np.zeros(c.n, dtype=np.int64)
    flag = np.zeros(1, dtype=np.int64)
    K.c5_top_walks(indptr, indices, split, c2, touched, out, flag)
    c._check_flag(flag, "C5")
    del c2, touched
    walks = xsum(out)
    paw = _key([(0, 1), (1, 2), (0, 2), (0, 3)])
    # the paw with its leaf on top: a triangle, one of its vertices, and a neighbour of that vertex
    # ranked above the whole triangle (2 orders of the other two triangle vertices)
    up = np.zeros(c.n, dtype=np.int64)
    K.triangle_up_degrees(indptr, indices, split, up, flag)
    c._check_flag(flag, "C5")
    leaf = 2 * xsum(up)
    deg2 = c._enumerate_rooted(paw, _vertex_of_degree(paw, 2), top=True)
    return 5 * (walks - leaf - 2 * deg2 - 2 * c._T())


def _vertex_of_degree(key, d):
    """The first vertex of degree d in the key."""
    k, edges, _ = key
    deg = [0] * k
    for a, b, _ in edges:
        deg[a] += 1
        deg[b] += 1
    return deg.index(d)


def _f_diamond_leaf_spine(c):
    # a diamond rooted at a spine vertex x: sum over its edges of t (t - 1); hang a leaf at x,
    # minus the maps whose leaf lands on the diamond (3 diamonds)
    t = c._triangles()
    indptr = c._ranked()[0]
    vals = t * (t - 1)
    D = np.zeros(c.n, dtype=np.int64)
    ne = np.diff(indptr) > 0
    if vals.size:
        D[ne] = np.add.reduceat(vals, indptr[:-1][ne])
    return xprod_sum(D, c.deg) - 3 * _f_diamond(c)


def _f_diamond_leaf_apex(c):
    # a diamond rooted at an apex x: sum over the triangles at x of 2 (t_opposite - 1); hang a leaf
    # at x, minus the maps whose leaf lands on the diamond (2 diamonds, and K4 on the other apex)
    indptr, indices, _, _, split, _ = c._ranked()
    out = np.zeros(c.n, dtype=np.int64)
    flag = np.zeros(1, dtype=np.int64)
    K.triangle_edge_sums(indptr, indices, split, c._triangles(), c.deg, out, flag)
    c._check_flag(flag, "diamond with a leaf")
    return 2 * xsum(out) - 2 * _f_diamond(c) - 24 * c._cliques(4)[0]


def _f_k23(c):
    # K2,3: sum over ordered pairs {u, v} (the side of two) of the ordered triples of their
    # common neighbours, c (c - 1) (c - 2); every wedge is visited once (k23_pair_wedges)
    indptr, indices = c._ranked()[:2]
    nch = _nchunks()
    cnt = np.zeros((nch, c.n), dtype=np.int64)
    touched = np.zeros((nch, c.n), dtype=np.int64)
    out = np.zeros(c.n, dtype=np.int64)
    flag = np.zeros(1, dtype=np.int64)
    K.k23_pair_wedges(indptr, indices, cnt, touched, out, flag)
    c._check_flag(flag, "K2,3")
    return 2 * xsum(out)


def _f_k23e(c):
    # K2,3 plus an edge on its side of three: the edge (a, c) with two apexes u != v of triangles
    # on it (a diamond) and a fifth vertex among the other common neighbours of u and v
    indptr, indices, _, _, split, _ = c._ranked()
    nch = _nchunks()
    dmax = int(c.deg.max()) if c.n else 0
    buf = np.zeros((nch, max(dmax, 1)), dtype=np.int64)
    out = np.zeros(c.n, dtype=np.int64)
    flag = np.zeros(1, dtype=np.int64)
    K.k23e_sums(indptr, indices, split, c._triangles(), buf, out, flag)
    c._check_flag(flag, "K2,3 plus an edge")
    return 2 * xsum(out)


def _f_wheel4(c):
    # the 4-wheel: a hub h and a 4-cycle in N(h), counted from the triangles on h's edges
    indptr, indices = c._ranked()[:2]
    t = c._triangles()
    nch = _nchunks()
    n = c.n
    dmax = int(c.deg.max()) if n else 0
    trow = np.zeros(n, dtype=np.int64)
    ne = np.diff(indptr) > 0
    if t.size:
        trow[ne] = np.add.reduceat(t, indptr[:-1][ne])
    stamp = np.full((nch, n), -1, dtype=np.int64)
    posh = np.zeros((nch, n), dtype=np.int64)
    off = np.zeros((nch, dmax + 1), dtype=np.int64)
    tbuf = np.zeros((nch, max(int(trow.max()) if n else 0, 1)), dtype=np.int64)
    cnt = np.zeros((nch, n), dtype=np.int64)
    touched = np.zeros((nch, n), dtype=np.int64)
    out = np.zeros(n, dtype=np.int64)
    flag = np.zeros(1, dtype=np.int64)
    K.wheel4_sums(indptr, indices, t, stamp, posh, off, tbuf, cnt, touched, out, flag)
    c._check_flag(flag, "the 4-wheel")
    return xsum(out)


def _edge_k4(c):
    """K4 per edge, at the out-list entries of the ranked CSR (0 at the others)."""
    if "edge_k4" not in c._prim:
        indptr, indices, _, _, split, _ = c._ranked()
        nch = _nchunks()
        dmax = int(c.deg.max()) if c.n else 0
        buf = np.zeros((nch, max(dmax, 1)), dtype=np.int64)
        k4 = np.zeros(indices.size, dtype=np.int64)
        K.edge_k4_counts(indptr, indices, split, c._triangles(), buf, k4)
        c._prim["edge_k4"] = k4
    return c._prim["edge_k4"]


def _f_k5_minus_p3(c):
    # K5 minus a path a - z - b: the edge (x, y) opposite the path's middle z, an ordered edge
    # (a, b) among the common neighbours of x and y (a K4 on xy, two directions) and z one of the
    # t_xy - 2 other common neighbours
    t = c._triangles()
    k4 = _edge_k4(c)
    return 4 * xprod_sum(k4, t - 2)


def _f_gem(c):
    # the gem (a path a-b-c-d and a vertex h joined to all four) is a triangle (h, b, a) and a
    # diamond (spine h-c, apexes b, d) glued on the edge hb: sum over ordered edges of
    # t_xy R_xy, R_xy = sum over triangles (x, y, c) of (t_xc - 1), minus the glued maps with a on
    # c (a diamond) or on d (K4); the sum is a sum over triangles (triangle_pair_sums)
    indptr, indices, _, _, split, _ = c._ranked()
    out = np.zeros(c.n, dtype=np.int64)
    flag = np.zeros(1, dtype=np.int64)
    K.triangle_pair_sums(indptr, indices, split, c._triangles(), out, flag)
    c._check_flag(flag, "gem")
    return xsum(out) - _f_diamond(c) - 24 * c._cliques(4)[0]


def _f_k5e(c):
    return 12 * c._k5e()


_BINARY_FORMULAS = {
    _key([(0, 1), (1, 2)]): _f_p3,
    _key([(0, 1), (1, 2), (0, 2)]): _f_k3,
    _key([(0, 1), (1, 2), (2, 3)]): _f_p4,
    _key([(0, 1), (1, 2), (0, 2), (0, 3)]): _f_paw,
    _key([(0, 1), (1, 2), (0, 2), (1, 3), (2, 3)]): _f_diamond,
    _C4_KEY: _f_c4,
    _key([(0, 1), (1, 2), (0, 2), (0, 3), (0, 4)]): _f_cricket,
    _key([(0, 1), (1, 2), (0, 2), (0, 3), (1, 4)]): _f_bull,
    _key([(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3), (0, 4)]): _f_k4_leaf,
    _key([(0, 1), (1, 2), (2, 3), (0, 3), (0, 4)]): _f_banner,
    _key([(0, 1), (1, 2), (2, 3), (0, 3), (0, 4), (1, 4)]): _f_house,
    _key([(0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (0, 4), (1, 4)]): _f_book3,
    _key([(a, b) for a in range(5) for b in range(a + 1, 5) if (a, b) != (3, 4)]): _f_k5e,
    _key([(0, 1), (1, 2), (0, 2), (0, 3), (0, 4), (3, 4)]): _f_bowtie,
    _key([(0, 1), (1, 2), (0, 2), (2, 3), (3, 4)]): _f_lollipop,
    _key([(0, 1), (1, 2), (2, 3), (3, 4), (0, 4)]): _f_c5,
    _key([(0, 1), (1, 2), (1, 3), (1, 4), (2, 3), (2, 4)]): _f_diamond_leaf_spine,
    _key([(0, 1), (1, 3), (1, 4), (2, 3), (2, 4), (3, 4)]): _f_diamond_leaf_apex,
    _key([(0, 2), (0, 3), (0, 4), (1, 2), (1, 3), (1, 4)]): _f_k23,
    _key([(0, 2), (0, 3), (0, 4), (1, 2), (1, 3), (1, 4), (2, 4)]): _f_k23e,
    _key([(0, 1), (0, 3), (0, 4), (1, 2), (1, 4), (2, 3), (2, 4), (3, 4)]): _f_wheel4,
    _key([(0, 1), (0, 3), (0, 4), (1, 3), (1, 4), (2, 3), (2, 4), (3, 4)]): _f_k5_minus_p3,
    _key([(0, 1), (1, 2), (2, 3), (0, 4), (1, 4), (2, 4), (3, 4)]): _f_gem,
}


# ----------------------------------------------------------------------------- public functions
def _counter(G, weight):
    g = as_sparse_graph(G, weight=weight)
    c = g._cache.get("counter")
    if c is None:
        c = g._cache["counter"] = SparseCounter(g)
    return c


def _batch(F):
    if isinstance(F, (list, tuple)) and len(F) > 0 and not is_edge_list(F):
        return [as_pattern(f) for f in F], True
    return [as_pattern(F)], False


def hom_count(F, G, kind="hom", *, weight="weight"):
    """hom(F, G) (``kind="hom"``), inj(F, G) or ind(F, G): the number of homomorphisms,
    injective homomorphisms or induced embeddings of a pattern F in a graph G.

    .. math::

        \\hom(F, G) = \\sum_{\\varphi: V(F) \\to V(G)} \\prod_{ab \\in E(F)} A_{\\varphi a \\varphi b}

    (inj: the sum over injective maps; ind: injective maps with a factor 1 - A on the
    non-edges of F).  hom(F, G) / n^k is :func:`graphonflow.hom_density`.

    Parameters
    ----------
    F : pattern or list of patterns
        A name (``"K3"``, ``"C5"``, ``"K2,3"``), an edge list, a networkx graph or a
        :class:`~graphonflow.Pattern`; a list of them is a batch that shares its work.
    G : scipy.sparse matrix or array, networkx graph, SparseGraph or square array
        Read sparsely (:func:`graphonflow.sparse.as_sparse_graph`); the diagonal counts for
        ``hom`` (a loop), never for ``inj`` and ``ind``.
    kind : {"hom", "inj", "ind"}
    weight : str or None
        Edge attribute of a networkx graph (None: every edge weighs 1).

    Returns
    -------
    int (0/1 and integer matrices: exact), float (weighted), or a list of them for a batch.

    Examples
    --------
    >>> import networkx as nx
    >>> G = nx.karate_club_graph()
    >>> hom_count("K3", G, weight=None), sum(nx.triangles(G).values()) * 2
    (270, 270)
    >>> hom_count(["K2", "P3", "C4"], G, kind="inj", weight=None)
    [156, 1056, 1232]
    """
    pats, batch = _batch(F)
    c = _counter(G, weight)
    vals = [c.count(p, kind) for p in pats]
    return vals if batch else vals[0]


def inj_count(F, G, *, weight="weight"):
    """inj(F, G): :func:`hom_count` with ``kind="inj"`` (|Aut(F)| times the copies of F).

    >>> import networkx as nx
    >>> inj_count("C4", nx.complete_graph(4))
    24
    """
    return hom_count(F, G, "inj", weight=weight)


def ind_count(F, G, *, weight="weight"):
    """ind(F, G): :func:`hom_count` with ``kind="ind"`` (|Aut(F)| times the induced copies).

    >>> import networkx as nx
    >>> ind_count("P3", nx.cycle_graph(4)), ind_count("C4", nx.complete_graph(4))
    (8, 0)
    """
    return hom_count(F, G, "ind", weight=weight)


def subgraph_count(F, G, *, induced=False, weight="weight"):
    """The number of subgraphs of G isomorphic to F (``induced=True``: induced subgraphs), i.e.
    inj(F, G) / |Aut(F)| (ind / |Aut(F)|): what networkx's subgraph monomorphism matcher
    divided by |Aut(F)|, and igraph's ``motifs_randesu`` (induced, connected F), count.

    Exact integers on 0/1 graphs; on weighted graphs the sum over copies of the product of
    their edge weights.  A list of patterns is a batch (a list back).

    >>> import networkx as nx
    >>> G = nx.petersen_graph()
    >>> subgraph_count("C5", G), subgraph_count(["K3", "P3"], G), subgraph_count("P3", G, induced=True)
    (12, [0, 30], 30)
    """
    pats, batch = _batch(F)
    c = _counter(G, weight)
    vals = [c.subgraphs(p, induced) for p in pats]
    return vals if batch else vals[0]


def sparse_density(F, G, kind="hom", *, weight="weight"):
    """Densities from sparse counts: hom / n^k, inj / n_(k), ind / n_(k) (floats; an array for a
    batch), what :func:`graphonflow.hom_density` returns for sparse input."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    pats, batch = _batch(F)
    c = _counter(G, weight)
    vals = [c.density(p, kind) for p in pats]
    return np.array(vals) if batch else vals[0]

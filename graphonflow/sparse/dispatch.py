"""When densities take the sparse path, and the sparse :func:`hom_density`.

:func:`graphonflow.hom_density` sends scipy.sparse input, :class:`SparseGraph` s and large
networkx graphs here (:func:`wants_sparse`); this module then picks the dense engine for a graph
that is small and dense enough for it to be faster (:func:`use_dense`), and the sparse counts
(:class:`~graphonflow.sparse.SparseCounter`) otherwise.  This module imports nothing heavy, so
the check costs nothing on the dense path.

The thresholds come from the measurements in benchmarks/RESULTS.md ("Sparse counts: the
dense/sparse switch"), made with ``python benchmarks/sparse.py --switch``.
"""

from __future__ import annotations

__all__ = ["wants_sparse", "use_dense", "hom_density", "check_sparse_cost", "DENSE_MAX_N", "DENSE_MIN_FILL",
           "DENSE_MAX_COST_N3", "NX_SPARSE_MIN_N"]

#: Above this many vertices the dense engine is never used for sparse input (its n x n float64
#: matrix alone would take 8 n^2 bytes: 3.2 GB at n = 20,000).
DENSE_MAX_N = 4000
#: Below DENSE_MAX_N vertices, the dense engine is used when at least this fraction of the
#: n(n-1) off-diagonal entries is nonzero (benchmarks/RESULTS.md: at fill 0.1 the sparse counts
#: already win for every pattern measured except K4 at n <= 1000).
DENSE_MIN_FILL = 0.2
#: A networkx graph with at least this many nodes is read sparsely by hom_density (below it the
#: dense reading of before is kept: its numbers, warnings and node widths).
NX_SPARSE_MIN_N = 2000


def _is_scipy_sparse(W) -> bool:
    mod = type(W).__module__
    if not mod.startswith("scipy.sparse"):
        return False
    import scipy.sparse as sp

    return sp.issparse(W)


def wants_sparse(W) -> bool:
    """True for a scipy.sparse matrix, a :class:`SparseGraph`, and a networkx graph with at least
    NX_SPARSE_MIN_N nodes whose nodes do not all carry a ``width`` (unequal widths make a graph a
    step graphon, which the dense engine reads)."""
    if type(W).__name__ == "SparseGraph" and type(W).__module__.startswith("graphonflow.sparse"):
        return True
    if _is_scipy_sparse(W):
        return True
    mod = type(W).__module__
    if mod.startswith("networkx"):
        import networkx as nx

        if isinstance(W, nx.Graph) and not W.is_directed() and not W.is_multigraph() \
                and W.number_of_nodes() >= NX_SPARSE_MIN_N:
            return not all("width" in d for _, d in W.nodes(data=True))
    return False


#: ... and only for patterns the dense engine computes by matrix products: a dense cost
#: (:func:`graphonflow.hom.contraction_cost`) of at most this many times n^3.  K4 (n^4) and
#: patterns of treewidth 3 or more go to the sparse counts, which benchmarks/sparse.py --switch
#: measured faster for K4 at every fill up to 0.4 (11.9 s dense, 5.2 s sparse at n = 1000).
DENSE_MAX_COST_N3 = 64.0


def use_dense(n: int, nnz: int, patterns=None, kind: str = "hom") -> bool:
    """Whether the dense engine is faster: n <= DENSE_MAX_N, nnz >= DENSE_MIN_FILL n (n - 1), and
    (when ``patterns`` are given) each one's dense cost at most DENSE_MAX_COST_N3 n^3."""
    if not (n <= DENSE_MAX_N and n > 1 and nnz >= DENSE_MIN_FILL * n * (n - 1)):
        return False
    if patterns is None:
        return True
    from ..hom import contraction_cost
    from ..patterns import as_pattern

    def arithmetic(P):
        # the products themselves (contraction_cost's inj/ind estimates add a fixed Python cost
        # per partition, which would send tiny graphs away); an induced count also needs the
        # complete pattern on P's vertices (its superset expansion ends there)
        P = as_pattern(P)
        c = contraction_cost(P, n, "hom")
        if kind == "ind" and P.k >= 2:
            c = max(c, contraction_cost(as_pattern(f"K{P.k}"), n, "hom"))
        return c

    return all(arithmetic(P) <= DENSE_MAX_COST_N3 * float(n) ** 3 for P in patterns)


def hom_density(F, W, kind="hom", *, weight="weight", max_cost=None, method="auto"):
    """t(F, W), t_inj or t_ind for sparse input: the counts of :mod:`graphonflow.sparse.counts`
    divided by n^k (hom) or n(n-1)...(n-k+1) (inj, ind), or the dense engine when
    :func:`use_dense` says it is faster (``method="dense"`` or ``"sparse"`` forces one).

    ``max_cost`` refuses (:class:`graphonflow.hom.CostError`, before any work) a request whose
    estimate (:meth:`SparseCounter.cost` on the sparse path) exceeds it.
    """
    import numpy as np

    from ..hom import KINDS, HomWorkspace, _split_batch
    from .counts import _counter
    from .graph import as_sparse_graph

    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    if method not in ("auto", "dense", "sparse"):
        raise ValueError(f"method must be 'auto', 'dense' or 'sparse', got {method!r}")
    pats, batch = _split_batch(F)
    G = as_sparse_graph(W, weight=weight, name="W")
    if kind != "hom" and weight is not None and type(W).__module__.startswith("networkx") and \
            G.kind != "binary" and G.max_abs_weight() > 1:
        import warnings

        warnings.warn(
            f"W is a networkx graph whose edge attribute {weight!r} holds values up to {G.max_abs_weight():g} (> 1): "
            f"t_{kind} then sums products of these weights over the copies of each pattern, which is not a "
            "subgraph-count density; pass weight=None to read every edge as 1", UserWarning, stacklevel=3)
    dense = method == "dense" or (method == "auto" and use_dense(G.n, G.nnz, pats, kind))
    if dense:
        ws = HomWorkspace(G.toarray(), max_cost=max_cost)
        vals = [ws.density(p, kind) for p in pats]
    else:
        c = _counter(G, weight)
        if max_cost is not None:
            for p in pats:
                check_sparse_cost(c, p, kind, max_cost)
        vals = [c.density(p, kind) for p in pats]
    return np.array(vals) if batch else vals[0]


_LABEL = {"hom": "t", "inj": "t_inj", "ind": "t_ind"}


def check_sparse_cost(counter, F, kind, max_cost, advice=None):
    """Raise :class:`graphonflow.hom.CostError` when ``counter.cost(F, kind)`` exceeds max_cost;
    else return the estimate."""
    from ..hom import CostError

    est = counter.cost(F, kind)
    if max_cost is not None and est > max_cost:
        advice = advice or "pass max_cost=None (or a larger max_cost) to compute it anyway"
        g = counter.G
        raise CostError(
            f"{_LABEL[kind]}({F}) on a sparse graph with n = {g.n}, m = {g.m} costs about {est:.2g} operations "
            f"by the sparse engine, above max_cost={max_cost:.3g}; {advice}")
    return est

"""Large sparse random graphs for tests, benchmarks and examples, built straight into CSR.

* :func:`chung_lu_graph`: the (erased) Chung--Lu model with power-law expected degrees;
* :func:`barabasi_albert_graph`: preferential attachment, networkx's algorithm in Numba.

Both take an explicit ``rng`` (a seed or a numpy Generator) and return a
:class:`~graphonflow.sparse.SparseGraph` in O(n + m) memory.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .graph import SparseGraph

__all__ = ["chung_lu_graph", "barabasi_albert_graph"]


def chung_lu_graph(n: int, m: int, exponent: float = 2.5, *, rng=None) -> SparseGraph:
    """A simple graph with n vertices and m edges whose degrees follow a power law.

    Vertex i gets the weight w_i = (i + i_0)^(-1/(exponent - 1)) (i_0 = n^(1/(exponent-1)) / 100
    caps the largest weight), and edges are drawn one at a time with both ends chosen with
    probability proportional to w; loops and repeated pairs are dropped (the *erased* Chung--Lu
    model) until m distinct edges are found.  The degree distribution then has the tail
    P(deg >= x) ~ x^(1 - exponent).

    >>> G = chung_lu_graph(1000, 5000, 2.5, rng=0)
    >>> G.n, G.m, int(G.degrees.max()) > 5 * int(np.median(G.degrees))
    (1000, 5000, True)
    """
    if n < 2 or m < 0 or m > n * (n - 1) // 2:
        raise ValueError(f"chung_lu_graph needs n >= 2 and 0 <= m <= n(n-1)/2, got n={n}, m={m}")
    if not exponent > 2:
        raise ValueError(f"exponent must be > 2 (a finite mean degree), got {exponent}")
    rng = np.random.default_rng(rng)
    beta = 1.0 / (exponent - 1.0)
    i0 = max(1.0, n ** beta / 100.0)
    w = (np.arange(n) + i0) ** (-beta)
    cdf = np.cumsum(w)
    cdf /= cdf[-1]
    keys = np.zeros(0, dtype=np.int64)
    draw = max(int(1.2 * m), 16)
    while keys.size < m:
        u = np.minimum(np.searchsorted(cdf, rng.random(draw)), n - 1)
        v = np.minimum(np.searchsorted(cdf, rng.random(draw)), n - 1)
        ok = u != v
        new = np.minimum(u, v)[ok] * n + np.maximum(u, v)[ok]
        keys = np.concatenate([keys, new])
        _, first = np.unique(keys, return_index=True)
        keys = keys[np.sort(first)]  # distinct pairs in the order they were drawn
        draw = max(int(1.5 * (m - keys.size)), 16)
    keys = keys[:m]
    return SparseGraph.from_edges(keys // n, keys % n, n=n)


@njit(cache=True)
def _ba_edges(n, k, uniforms, src, dst):
    """networkx's barabasi_albert_graph: each new vertex joins k distinct targets drawn from the
    list of edge ends (plus the k seed vertices at first).  Returns the uniforms used, or -1."""
    rep = np.empty(2 * n * k + k, dtype=np.int64)
    nrep = 0
    targets = np.arange(k)
    chosen = np.empty(k, dtype=np.int64)
    e = 0
    t = 0
    for s in range(k, n):
        for j in range(k):
            src[e] = s
            dst[e] = targets[j]
            e += 1
        for j in range(k):
            rep[nrep] = targets[j]
            nrep += 1
        for j in range(k):
            rep[nrep] = s
            nrep += 1
        # k distinct vertices from rep, by rejection
        c = 0
        while c < k:
            if t >= uniforms.size:
                return -1
            x = rep[int(uniforms[t] * nrep)]
            t += 1
            dup = False
            for i in range(c):
                if chosen[i] == x:
                    dup = True
                    break
            if not dup:
                chosen[c] = x
                c += 1
        for j in range(k):
            targets[j] = chosen[j]
    return t


def barabasi_albert_graph(n: int, k: int, *, rng=None) -> SparseGraph:
    """Preferential attachment: vertex s = k, ..., n-1 joins k distinct earlier vertices drawn
    with probability proportional to their degree (the first joins 0, ..., k-1), as
    networkx.barabasi_albert_graph does; (n - k) k edges.

    >>> G = barabasi_albert_graph(1000, 3, rng=0)
    >>> G.n, G.m
    (1000, 2991)
    """
    if not 1 <= k < n:
        raise ValueError(f"barabasi_albert_graph needs 1 <= k < n, got n={n}, k={k}")
    rng = np.random.default_rng(rng)
    m = (n - k) * k
    src = np.empty(m, dtype=np.int64)
    dst = np.empty(m, dtype=np.int64)
    size = 2 * m + 64
    while True:
        used = _ba_edges(n, k, rng.random(size), src, dst)
        if used >= 0:
            break
        size *= 2
    return SparseGraph.from_edges(src, dst, n=n)

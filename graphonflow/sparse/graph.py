"""The sparse graph the counting engine works on: a symmetric matrix in CSR form.

A :class:`SparseGraph` holds the off-diagonal part of a symmetric n x n matrix A as CSR arrays
(``indptr``, ``indices`` sorted within each row, and ``data`` unless every entry is 1) and its
diagonal (the loops) separately.  Its *kind* decides the arithmetic of every count:

* ``"binary"``: every stored entry (diagonal included) is 1: a simple graph, possibly with
  loops.  Counts are exact Python integers.
* ``"integer"``: an integer dtype with other values (a multigraph's edge multiplicities).
  Counts are exact Python integers; the kernels run in int64 and refuse (``OverflowError``)
  an input whose products could leave int64.
* ``"weighted"``: real weights.  Counts are floats.

Nothing here allocates an n x n array: reading a scipy.sparse matrix, a networkx graph or
an edge list costs O(n + m) memory.
"""

from __future__ import annotations

import numpy as np

__all__ = ["SparseGraph", "as_sparse_graph", "is_sparse_input"]

#: Relative asymmetry tolerated in weighted input (as for dense matrices: graphonflow._validation).
SYM_RTOL = 1e-10


def _scipy_sparse():
    import scipy.sparse as sp

    return sp


def is_sparse_input(W) -> bool:
    """True for a scipy.sparse matrix or array, or a :class:`SparseGraph`."""
    if isinstance(W, SparseGraph):
        return True
    mod = type(W).__module__
    if not mod.startswith("scipy.sparse"):
        return False
    return _scipy_sparse().issparse(W)


class SparseGraph:
    """A symmetric matrix stored sparsely: the input of :func:`graphonflow.hom_count`.

    Build one with :meth:`from_scipy`, :meth:`from_networkx`, :meth:`from_edges` or
    :func:`as_sparse_graph` (which takes any of these inputs).

    Attributes
    ----------
    n : int
        Vertices.
    indptr, indices : ndarray
        CSR structure of the off-diagonal entries; ``indices`` is sorted within each row.
    data : ndarray or None
        Off-diagonal values aligned with ``indices`` (None for a binary graph: all 1).
    diag : ndarray or None
        The diagonal (None when it is all zero).
    kind : {"binary", "integer", "weighted"}
        The arithmetic of counts (see the module docstring).
    labels : list or None
        The vertex of each row, when the graph was read from labelled input.

    Examples
    --------
    >>> import scipy.sparse as sp
    >>> G = SparseGraph.from_scipy(sp.csr_array([[0, 1, 1], [1, 0, 1], [1, 1, 0]]))
    >>> G.n, G.m, G.kind, G.degrees.tolist()
    (3, 3, 'binary', [2, 2, 2])
    """

    def __init__(self, indptr, indices, data, diag, n, kind, labels=None):
        self.indptr = np.ascontiguousarray(indptr, dtype=np.int64)
        self.indices = np.ascontiguousarray(indices)
        self.data = None if data is None else np.ascontiguousarray(data)
        self.diag = None if diag is None else np.ascontiguousarray(diag)
        self.n = int(n)
        self.kind = kind
        self.labels = labels
        self._cache = {}

    # ---------------------------------------------------------------- basics
    @property
    def nnz(self) -> int:
        """Stored off-diagonal entries (2 m)."""
        return int(self.indptr[-1])

    @property
    def m(self) -> int:
        """Edges (unordered pairs u != v with A_uv != 0)."""
        return self.nnz // 2

    @property
    def degrees(self) -> np.ndarray:
        """Number of neighbours of each vertex (loops not counted), int64."""
        if "deg" not in self._cache:
            self._cache["deg"] = np.diff(self.indptr)
        return self._cache["deg"]

    @property
    def has_loops(self) -> bool:
        return self.diag is not None

    @property
    def exact(self) -> bool:
        """True when counts are exact integers (binary and integer graphs)."""
        return self.kind != "weighted"

    def __repr__(self):
        return f"SparseGraph(n={self.n}, m={self.m}, kind={self.kind!r}, loops={self.has_loops})"

    def to_scipy(self):
        """The whole matrix (diagonal included) as a scipy.sparse CSR array."""
        sp = _scipy_sparse()
        data = self.data if self.data is not None else np.ones(self.nnz, dtype=np.int64)
        A = sp.csr_array((data, self.indices, self.indptr), shape=(self.n, self.n))
        if self.diag is not None:
            A = (A + sp.diags_array(self.diag, format="csr")).tocsr()
        return A

    def toarray(self) -> np.ndarray:
        """The dense n x n float64 matrix (for small graphs: it is n^2 numbers)."""
        A = np.zeros((self.n, self.n))
        rows = np.repeat(np.arange(self.n), self.degrees)
        A[rows, self.indices] = 1.0 if self.data is None else self.data
        if self.diag is not None:
            A[np.arange(self.n), np.arange(self.n)] = self.diag
        return A

    def max_abs_weight(self):
        """Largest |entry| (1 for binary graphs), as a Python number."""
        vals = [1]
        if self.data is not None and self.data.size:
            vals.append(np.abs(self.data).max().item())
        if self.diag is not None and self.diag.size:
            vals.append(np.abs(self.diag).max().item())
        return max(vals) if self.kind != "binary" else 1

    # ---------------------------------------------------------------- ranking
    def ranked(self):
        """The same graph relabelled by degree: (indptr, indices, data, diag, split, perm).

        Vertex r of the ranked graph is ``perm[r]`` of this one; ``perm`` sorts by degree, then
        by index, so that every neighbour after position ``split[r]`` of row r has a larger
        rank (and a degree at least as large): the *out-neighbours* of the degree orientation.
        Cached.
        """
        if "ranked" not in self._cache:
            from . import _kernels as K

            deg = self.degrees
            perm = np.lexsort((np.arange(self.n), deg)).astype(np.int64)
            rank = np.empty(self.n, dtype=np.int64)
            rank[perm] = np.arange(self.n, dtype=np.int64)
            indptr = np.zeros(self.n + 1, dtype=np.int64)
            np.cumsum(deg[perm], out=indptr[1:])
            idx_t = np.int32 if self.n < 2**31 - 1 else np.int64
            indices = np.empty(self.nnz, dtype=idx_t)
            weighted = self.data is not None
            data = np.empty(self.nnz if weighted else 1, dtype=self.data.dtype if weighted else np.int64)
            src = self.data if weighted else np.ones(1, dtype=np.int64)
            K.relabel_rows(self.indptr, self.indices, src, weighted, perm, rank, indptr, indices, data)
            split = np.empty(self.n, dtype=np.int64)
            K.upper_split(indptr, indices, split)
            diag = None if self.diag is None else np.ascontiguousarray(self.diag[perm])
            self._cache["ranked"] = (indptr, indices, data if weighted else None, diag, split, perm)
        return self._cache["ranked"]

    def reverse_positions(self):
        """rev[p] = position of the entry (v, u) for the entry (u, v) at position p, in the ranked CSR."""
        if "rev" not in self._cache:
            from . import _kernels as K

            indptr, indices = self.ranked()[:2]
            rev = np.empty(self.nnz, dtype=np.int64)
            fill = indptr[:-1].copy()
            K.reverse_positions(indptr, indices, rev, fill)
            self._cache["rev"] = rev
        return self._cache["rev"]

    # ---------------------------------------------------------------- builders
    @classmethod
    def from_coo(cls, rows, cols, vals, n, *, name="G", labels=None, symmetric_input=True):
        """Build from the entries (rows[i], cols[i], vals[i]) of a symmetric matrix.

        ``vals`` None means every entry is 1.  With ``symmetric_input`` both (u, v) and (v, u)
        are listed and must agree (up to SYM_RTOL for floats); without, each off-diagonal
        pair is listed once and mirrored here.  Repeated entries are an error here; callers
        combine them first.
        """
        rows = np.asarray(rows, dtype=np.int64)
        cols = np.asarray(cols, dtype=np.int64)
        if vals is not None:
            vals = np.asarray(vals)
            if vals.dtype.kind == "b":
                vals = vals.astype(np.int64)
            if vals.dtype.kind not in "iuf":
                raise ValueError(f"{name} must hold real numbers, got dtype {vals.dtype}")
            if vals.dtype.kind == "f":
                if vals.dtype != np.float64:
                    vals = vals.astype(np.float64)
                if not np.all(np.isfinite(vals)):
                    raise ValueError(f"{name} contains NaN or infinite entries")
            else:
                if vals.dtype.kind == "u" and vals.size and vals.max() > np.iinfo(np.int64).max:
                    raise ValueError(f"{name} holds integers beyond int64")
                vals = vals.astype(np.int64)
            keep = vals != 0
            if not keep.all():
                rows, cols, vals = rows[keep], cols[keep], vals[keep]
        on = rows == cols
        if on.any():
            dvals = np.ones(int(on.sum()), dtype=np.int64) if vals is None else vals[on]
            diag = np.zeros(n, dtype=dvals.dtype)
            diag[rows[on]] = dvals
            off = ~on
            rows, cols = rows[off], cols[off]
            vals = None if vals is None else vals[off]
        else:
            diag = None
        if not symmetric_input:
            rows, cols = np.concatenate([rows, cols]), np.concatenate([cols, rows])
            vals = None if vals is None else np.concatenate([vals, vals])
        order = np.lexsort((cols, rows))
        rows, cols = rows[order], cols[order]
        if vals is not None:
            vals = vals[order]
        if rows.size > 1:
            same = (rows[1:] == rows[:-1]) & (cols[1:] == cols[:-1])
            if same.any():
                i = int(np.argmax(same))
                raise ValueError(f"{name} has the entry ({rows[i]}, {cols[i]}) more than once")
        if symmetric_input and rows.size:
            # the transpose, sorted the same way, must list the same pairs with the same values
            t_order = np.lexsort((rows, cols))
            tr, tc = cols[t_order], rows[t_order]
            bad = (tr != rows) | (tc != cols)
            if bad.any():
                i = int(np.argmax(bad))
                raise ValueError(
                    f"{name} is not symmetric: entry ({rows[i]}, {cols[i]}) is stored but "
                    f"({cols[i]}, {rows[i]}) is not (or holds 0)")
            if vals is not None:
                tv = vals[t_order]
                if vals.dtype.kind == "f":
                    scale = float(np.abs(vals).max())
                    err = np.abs(vals - tv)
                    if err.max() > SYM_RTOL * scale:
                        i = int(np.argmax(err))
                        raise ValueError(
                            f"{name} is not symmetric: entry ({rows[i]}, {cols[i]}) is {vals[i]:.6g} but "
                            f"entry ({cols[i]}, {rows[i]}) is {tv[i]:.6g}")
                    vals = 0.5 * (vals + tv)  # exactly symmetric
                elif (vals != tv).any():
                    i = int(np.argmax(vals != tv))
                    raise ValueError(
                        f"{name} is not symmetric: entry ({rows[i]}, {cols[i]}) is {vals[i]} but "
                        f"entry ({cols[i]}, {rows[i]}) is {tv[i]}")
        indptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows, minlength=n), out=indptr[1:])
        idx_t = np.int32 if n < 2**31 - 1 else np.int64
        indices = cols.astype(idx_t)
        kind = _kind_of(vals, diag)
        if kind == "binary":
            vals = None
            if diag is not None:
                diag = diag.astype(np.int64)
        else:
            dt = np.int64 if kind == "integer" else np.float64
            vals = np.ones(indices.size, dtype=dt) if vals is None else vals.astype(dt)
            if diag is not None:
                diag = diag.astype(dt)
        return cls(indptr, indices, vals, diag, n, kind, labels)

    @classmethod
    def from_scipy(cls, A, *, name="G"):
        """Read a square symmetric scipy.sparse matrix or array (any format)."""
        sp = _scipy_sparse()
        if not sp.issparse(A):
            raise TypeError(f"{name} must be a scipy.sparse matrix, got {type(A).__name__}")
        if A.ndim != 2 or A.shape[0] != A.shape[1]:
            raise ValueError(f"{name} must be a square matrix, got shape {A.shape}")
        if A.shape[0] == 0:
            raise ValueError(f"{name} is empty")
        if A.dtype.kind == "c":
            raise ValueError(f"{name} must be a real matrix, got dtype {A.dtype}")
        C = A.tocoo()
        if C.nnz and hasattr(C, "sum_duplicates"):
            C = C.copy()
            C.sum_duplicates()
        return cls.from_coo(C.row, C.col, C.data, A.shape[0], name=name)

    @classmethod
    def from_networkx(cls, G, *, weight="weight", name="G"):
        """Read an undirected networkx graph in ``G.nodes`` order, never densely.

        The edge attribute ``weight`` is the entry (1 where it is missing; ``weight=None``
        reads every edge as 1); a self-loop is a diagonal entry.
        """
        if G.is_directed():
            raise ValueError(f"{name} must be an undirected networkx graph; got a directed one "
                             f"({type(G).__name__}): use G.to_undirected() if that is what you mean")
        if G.is_multigraph():
            raise ValueError(f"{name} is a networkx multigraph; convert it to a weighted nx.Graph first")
        nodes = list(G.nodes)
        n = len(nodes)
        if n == 0:
            raise ValueError(f"{name} has no vertices")
        index = {v: i for i, v in enumerate(nodes)}
        m = G.number_of_edges()
        rows = np.empty(m, dtype=np.int64)
        cols = np.empty(m, dtype=np.int64)
        vals = None
        if weight is not None:
            vals = np.empty(m, dtype=np.float64)
            for i, (u, v, w) in enumerate(G.edges(data=weight, default=1)):
                rows[i], cols[i] = index[u], index[v]
                try:
                    vals[i] = w
                except (TypeError, ValueError):
                    raise ValueError(f"{name}: edge attribute {weight!r} must hold real numbers, "
                                     f"edge ({u!r}, {v!r}) has {w!r}") from None
            if np.all(vals == 1.0):
                vals = None
        else:
            for i, (u, v) in enumerate(G.edges()):
                rows[i], cols[i] = index[u], index[v]
        return cls.from_coo(rows, cols, vals, n, name=name, symmetric_input=False, labels=nodes)

    @classmethod
    def from_edges(cls, u, v, w=None, n=None, *, name="G"):
        """Build from edge arrays (each unordered edge once; loops u == v set the diagonal).

        >>> SparseGraph.from_edges([0, 1], [1, 2]).degrees.tolist()
        [1, 2, 1]
        """
        u = np.asarray(u, dtype=np.int64)
        v = np.asarray(v, dtype=np.int64)
        if u.shape != v.shape or u.ndim != 1:
            raise ValueError(f"{name}: u and v must be 1-D arrays of the same length")
        lo = min(int(u.min()), int(v.min())) if u.size else 0
        if lo < 0:
            raise ValueError(f"{name}: vertex indices must be >= 0, got {lo}")
        top = max(int(u.max()), int(v.max())) + 1 if u.size else 0
        n = top if n is None else int(n)
        if n < top or n < 1:
            raise ValueError(f"{name}: n = {n} is too small for vertex index {top - 1}")
        if w is not None:
            w = np.asarray(w)
            if w.shape != u.shape:
                raise ValueError(f"{name}: w must have the shape of u and v")
        return cls.from_coo(u, v, w, n, name=name, symmetric_input=False)


def _kind_of(vals, diag):
    """binary (off-diagonal entries 1, diagonal 0 or 1), integer (integer dtypes) or weighted."""
    if (vals is None or bool(np.all(vals == 1))) and (diag is None or bool(np.all((diag == 0) | (diag == 1)))):
        return "binary"
    if all(p.dtype.kind in "iu" for p in (vals, diag) if p is not None):
        return "integer"
    return "weighted"


def as_sparse_graph(G, *, weight="weight", name="G") -> SparseGraph:
    """Read a graph input as a :class:`SparseGraph` without building a dense matrix.

    Accepts a SparseGraph (returned as it is), a scipy.sparse matrix or array, a networkx
    graph (edge attribute ``weight``; None reads every edge as 1) or a dense square array
    (its nonzero entries).  Errors name the argument (``name``).

    >>> import networkx as nx
    >>> as_sparse_graph(nx.cycle_graph(5)).m
    5
    """
    if isinstance(G, SparseGraph):
        return G
    if is_sparse_input(G):
        return SparseGraph.from_scipy(G, name=name)
    try:
        import networkx as nx

        if isinstance(G, nx.Graph):
            return SparseGraph.from_networkx(G, weight=weight, name=name)
    except ImportError:  # pragma: no cover - networkx is a dependency
        pass
    if isinstance(G, (np.ndarray, list, tuple)):
        from .._validation import check_symmetric_matrix

        try:
            A = np.asarray(G)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{name} must be a square numeric matrix ({exc})") from None
        was_int = A.dtype.kind in "iub"
        A = check_symmetric_matrix(A, name)
        r, c = np.nonzero(A)
        vals = A[r, c]
        if was_int:
            vals = np.asarray(G)[r, c].astype(np.int64)
        return SparseGraph.from_coo(r, c, vals, A.shape[0], name=name)
    raise TypeError(f"{name} must be a scipy.sparse matrix, a networkx graph, a SparseGraph or a square "
                    f"array; got {type(G).__name__}")

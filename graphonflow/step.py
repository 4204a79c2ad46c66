"""Weighted step graphons: the one data type for graphs, step functions and quadratures.

A weighted step graphon is a pair (B, w): a symmetric m x m matrix of block
values B and positive block widths w with sum(w) = 1.  It stands for the
kernel W(x, y) = B[i, j] for x in I_i, y in I_j, where I_1, ..., I_m are
consecutive intervals of [0, 1] with lengths w_1, ..., w_m.

* An n x n edge-weight matrix A is the step graphon (A, 1/n) -- the diagonal
  A[i, i] is a value like any other (0 for a simple graph).
* A Gauss--Legendre quadrature of a continuous kernel f, with nodes x_i and
  weights w_i on [0, 1], is (f(x_i, x_j), w).  It is *not* a step function of
  f, but every polynomial functional (homomorphism densities) of it is the
  quadrature rule applied to the corresponding integral of f, so it converges
  spectrally for smooth f.
"""

from __future__ import annotations

import numpy as np

from ._validation import check_symmetric_matrix, check_widths

__all__ = ["StepGraphon", "gauss_legendre_01"]


class StepGraphon:
    """A weighted step graphon W(x, y) = values[i, j] on I_i x I_j.

    Parameters
    ----------
    values : array_like, shape (m, m)
        Symmetric, finite block values B.
    widths : array_like, shape (m,), optional
        Positive block widths w summing to 1 (to 1e-9).  Default: uniform 1/m.

    Examples
    --------
    >>> W = StepGraphon([[1.0, 0.0], [0.0, 1.0]], [0.5, 0.5])
    >>> W.m
    2
    >>> float(W.edge_density())
    0.5
    """

    __slots__ = ("values", "widths", "uniform")

    def __init__(self, values, widths=None):
        B = check_symmetric_matrix(values, "values")
        if B.flags.writeable or not B.flags.c_contiguous:
            # own a private copy: freezing the caller's array would break their code
            B = np.array(B, order="C", copy=True)
        m = B.shape[0]
        if widths is None:
            w = np.full(m, 1.0 / m)
            uniform = True
        else:
            w = check_widths(widths, m, "widths")
            uniform = bool(np.all(w == w[0]))
        object.__setattr__(self, "values", B)
        object.__setattr__(self, "widths", w)
        object.__setattr__(self, "uniform", uniform)
        B.setflags(write=False)
        w.setflags(write=False)

    def __setattr__(self, name, value):
        raise AttributeError("StepGraphon is immutable")

    # ------------------------------------------------------------ copying and pickling
    # The attributes are set once, in __init__, through object.__setattr__; the default
    # protocol would restore them with setattr, which an immutable object refuses.  So a
    # StepGraphon pickles as (values, widths, uniform) and is rebuilt without re-validation
    # (the data were checked when the original was made).
    def __reduce__(self):
        return (_rebuild_step, (self.values, self.widths, self.uniform))

    def __copy__(self):
        return self  # immutable: a copy may share everything

    def __deepcopy__(self, memo):
        return _rebuild_step(np.array(self.values, copy=True), np.array(self.widths, copy=True), self.uniform)

    @property
    def m(self) -> int:
        """Number of blocks."""
        return self.values.shape[0]

    @classmethod
    def from_matrix(cls, A) -> "StepGraphon":
        """The step graphon of an n x n edge-weight matrix (uniform widths, diagonal kept)."""
        return cls(A)

    @classmethod
    def from_function(cls, f, nodes: int = 64) -> "StepGraphon":
        """Gauss--Legendre quadrature representation of a continuous kernel.

        Parameters
        ----------
        f : callable
            Vectorised symmetric kernel ``f(x, y)`` on [0, 1]^2.
        nodes : int
            Number of Gauss--Legendre nodes m.

        Returns
        -------
        StepGraphon
            ``values[i, j] = f(x_i, x_j)`` and ``widths = w`` (the quadrature weights).
        """
        x, w = gauss_legendre_01(nodes)
        X, Y = np.meshgrid(x, x, indexing="ij")
        vals = np.asarray(f(X, Y), dtype=np.float64)
        if vals.shape != X.shape:
            try:
                vals = np.broadcast_to(vals, X.shape).copy()
            except ValueError:
                raise ValueError(
                    f"graphon function returned shape {vals.shape} for inputs of shape {X.shape}; "
                    "it must be vectorised"
                ) from None
        if not np.all(np.isfinite(vals)):
            raise ValueError("graphon function returned non-finite values at quadrature nodes")
        err = np.max(np.abs(vals - vals.T)) if vals.size else 0.0
        if err > 1e-12 * max(1.0, float(np.max(np.abs(vals)))):
            raise ValueError(f"graphon function is not symmetric: |f(x,y) - f(y,x)| up to {err:.3g}")
        vals = 0.5 * (vals + vals.T)
        return cls(vals, w)

    @property
    def breakpoints(self) -> np.ndarray:
        """Interval endpoints 0 = e_0 < e_1 < ... < e_m = 1, shape (m + 1,); I_i = [e_i, e_{i+1})."""
        e = np.concatenate(([0.0], np.cumsum(self.widths)))
        e[-1] = 1.0
        return e

    def __call__(self, x, y):
        """Evaluate W(x, y) = values[i, j] for x in I_i, y in I_j (vectorised, broadcasting).

        >>> W = StepGraphon([[1.0, 0.0], [0.0, 1.0]])
        >>> W([0.1, 0.9], [0.2, 0.2]).tolist()
        [1.0, 0.0]
        """
        x, y = np.broadcast_arrays(np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64))
        if np.any((x < 0) | (x > 1) | (y < 0) | (y > 1)) or not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
            raise ValueError("graphon arguments must lie in [0, 1]")
        inner = self.breakpoints[1:-1]
        i = np.searchsorted(inner, x, side="right")
        j = np.searchsorted(inner, y, side="right")
        return self.values[i, j]

    def relabel(self, perm) -> "StepGraphon":
        """Rearrange the blocks: block k of the result is block ``perm[k]`` of self.

        This is a measure-preserving relabelling of [0, 1], so every relabelling-invariant
        quantity (homomorphism densities, cut distance) is unchanged.
        """
        p = np.asarray(perm)
        if p.shape != (self.m,) or not np.array_equal(np.sort(p), np.arange(self.m)):
            raise ValueError(f"perm must be a permutation of 0..{self.m - 1}")
        return StepGraphon(self.values[np.ix_(p, p)], self.widths[p])

    def refine(self, k: int) -> "StepGraphon":
        """The same kernel with every block split into ``k`` equal sub-blocks (m * k blocks)."""
        if int(k) != k or k < 1:
            raise ValueError(f"k must be a positive integer, got {k!r}")
        k = int(k)
        B = np.repeat(np.repeat(self.values, k, axis=0), k, axis=1)
        return StepGraphon(B, np.repeat(self.widths / k, k))

    def to_networkx(self, weight: str = "weight"):
        """Weighted networkx graph: node i has attribute ``width``, edge ij (loops included)
        carries ``values[i, j]`` when it is non-zero."""
        import networkx as nx

        G = nx.Graph()
        for i, wi in enumerate(self.widths):
            G.add_node(i, width=float(wi))
        iu, ju = np.nonzero(np.triu(self.values))
        G.add_edges_from((int(a), int(b), {weight: float(self.values[a, b])}) for a, b in zip(iu, ju))
        return G

    @classmethod
    def from_networkx(cls, G, weight: str | None = "weight", width: str = "width") -> "StepGraphon":
        """Step graphon of a networkx graph: its weighted adjacency matrix (in ``G.nodes`` order;
        edge attribute ``weight``, 1 without it, ``weight=None``: unweighted) with widths from the
        node attribute ``width`` when every node has it, else uniform.  The reading of
        :func:`graphonflow.as_target`."""
        import networkx as nx

        from .coerce import as_target

        if not isinstance(G, nx.Graph):
            raise TypeError(f"G must be a networkx graph, got {type(G).__name__}")
        return as_target(G, name="G", weight=weight, width=width).to_step()

    def edge_density(self) -> float:
        """t(K2, W) = sum_ij w_i w_j B_ij."""
        return float(self.widths @ self.values @ self.widths)

    def __repr__(self):
        return f"StepGraphon(m={self.m}, uniform={self.uniform})"


def _rebuild_step(values, widths, uniform) -> StepGraphon:
    """A StepGraphon from data that a StepGraphon held (unpickling, deep copies): no checks;
    the arrays are made C-contiguous and frozen (copied first only when they are not ours to freeze)."""
    S = object.__new__(StepGraphon)
    B = np.asarray(values)
    w = np.asarray(widths, dtype=np.float64)
    if not B.flags.c_contiguous or (B.flags.writeable and B.base is not None):
        B = np.array(B, order="C", copy=True)
    if w.flags.writeable and w.base is not None:
        w = w.copy()
    B.setflags(write=False)
    w.setflags(write=False)
    object.__setattr__(S, "values", B)
    object.__setattr__(S, "widths", w)
    object.__setattr__(S, "uniform", bool(uniform))
    return S


def gauss_legendre_01(nodes: int):
    """Gauss--Legendre nodes and weights on [0, 1] (weights sum to 1)."""
    if int(nodes) != nodes or nodes < 1:
        raise ValueError(f"nodes must be a positive integer, got {nodes!r}")
    x, w = np.polynomial.legendre.leggauss(int(nodes))
    return 0.5 * (x + 1.0), 0.5 * w

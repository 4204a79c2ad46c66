"""Continuous graphons, a library of standard graphons, and step-graphon operations.

Two kinds of objects describe a graphon W: [0, 1]^2 -> [lo, hi] (symmetric, measurable):

* :class:`Graphon` -- a continuous (or at least pointwise defined) kernel given by a
  vectorised function ``f(x, y)``.  It is callable, so every function in the package that
  takes "a callable f(x, y)" (e.g. :func:`graphonflow.hom_density`) accepts it directly.
* :class:`~graphonflow.StepGraphon` -- block values B (m x m) and block widths w (m,):
  W(x, y) = B[i, j] on I_i x I_j.  Graphs, step functions and quadrature rules all use it.

From a continuous W one gets a step graphon in two different ways:

* :func:`block_average` (``Graphon.block_average``): the conditional expectation
  W_P(x, y) = (1 / (|I_i| |I_j|)) * int_{I_i x I_j} W  on a partition P of [0, 1] into
  intervals.  W_P is a genuine step function; W_P -> W in L1 (hence in cut norm) as the mesh
  of P goes to 0 (Lebesgue differentiation / martingale convergence; Lovász 2012, sec. 9.2).
  Block averaging never increases the cut norm: ||W_P||_cut <= ||W||_cut.
* ``Graphon.quadrature(nodes)``: Gauss--Legendre nodes x_i and weights w_i, B_ij = W(x_i, x_j).
  Not a step function of W, but homomorphism densities of it are quadrature rules for those of
  W and converge spectrally fast for smooth W.

Library (all values in [0, 1]):

=======================  =====================================  =============
function                 W(x, y)                                type
=======================  =====================================  =============
``constant(p)``          p                                      StepGraphon
``xy()``                 x y                                    Graphon
``mean_xy()``            (x + y) / 2                            Graphon
``min_xy()``             min(x, y)                              Graphon
``one_minus_max_xy()``   1 - max(x, y)                          Graphon
``ring(kappa, p)``       p exp(kappa (cos 2 pi (x - y) - 1))    Graphon
``sbm(B, widths)``       B[i, j] on I_i x I_j                   StepGraphon
``complete_bipartite(a)`` 1 if exactly one of x, y is < a        StepGraphon
=======================  =====================================  =============

References
----------
Lovász, Large Networks and Graph Limits (AMS 2012), ch. 7 and 9.
Borgs, Chayes, Lovász, Sós, Vesztergombi, Convergent sequences of dense graphs I,
Adv. Math. 219 (2008).
"""

from __future__ import annotations

import copy
import functools
import pickle

import numpy as np

from .step import StepGraphon, gauss_legendre_01

__all__ = [
    "Graphon",
    "as_step",
    "block_average",
    "coarsen",
    "common_refinement",
    "overlap_matrix",
    "constant",
    "xy",
    "mean_xy",
    "min_xy",
    "one_minus_max_xy",
    "ring",
    "sbm",
    "complete_bipartite",
]


def _partition_edges(blocks) -> np.ndarray:
    """Breakpoints 0 = e_0 < ... < e_m = 1 of ``m`` equal blocks or of given widths."""
    if np.isscalar(blocks):
        if int(blocks) != blocks or blocks < 1:
            raise ValueError(f"number of blocks must be a positive integer, got {blocks!r}")
        return np.linspace(0.0, 1.0, int(blocks) + 1)
    w = np.asarray(blocks, dtype=np.float64)
    if w.ndim != 1 or w.size == 0 or not np.all(np.isfinite(w)) or np.any(w <= 0):
        raise ValueError("block widths must be a non-empty 1-D array of positive numbers")
    if abs(w.sum() - 1.0) > 1e-9:
        raise ValueError(f"block widths must sum to 1, got {w.sum()!r}")
    e = np.concatenate(([0.0], np.cumsum(w)))
    e[-1] = 1.0
    return e


class Graphon:
    """A graphon given by a vectorised symmetric function: W(x, y) = f(x, y) on [0, 1]^2.

    Parameters
    ----------
    f : callable
        ``f(x, y)`` for broadcastable float arrays x, y in [0, 1], returning an array of the
        broadcast shape (scalars are broadcast).  Must be symmetric, finite, with values in
        ``box``.
    box : (float, float)
        The value range [lo, hi] (default [0, 1], edge probabilities).  Checked on evaluation.
    name : str
        Display name.

    Examples
    --------
    >>> W = Graphon(lambda x, y: x * y, name="xy")
    >>> float(W(0.5, 0.5))
    0.25
    >>> S = W.block_average(2)          # exact block means of xy: c_i c_j, c = (1/4, 3/4)
    >>> np.round(S.values, 4).tolist()
    [[0.0625, 0.1875], [0.1875, 0.5625]]
    """

    __slots__ = ("_f", "box", "name", "_block_mean")

    def __init__(self, f, *, box=(0.0, 1.0), name: str = "", _block_mean=None):
        if not callable(f):
            raise TypeError(f"f must be a callable f(x, y), got {type(f).__name__}")
        lo, hi = (float(box[0]), float(box[1]))
        if not lo < hi:
            raise ValueError(f"box must be (lo, hi) with lo < hi, got {box!r}")
        self._f = f
        self.box = (lo, hi)
        self.name = name
        self._block_mean = _block_mean

    # ---------------------------------------------------------------- evaluation
    def __call__(self, x, y):
        """W(x, y), vectorised with broadcasting; raises ValueError outside [0, 1] or the box."""
        x = np.asarray(x, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        x, y = np.broadcast_arrays(x, y)
        if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
            raise ValueError("graphon arguments must be finite")
        if np.any((x < 0) | (x > 1) | (y < 0) | (y > 1)):
            raise ValueError("graphon arguments must lie in [0, 1]")
        v = np.asarray(self._f(x, y), dtype=np.float64)
        if v.shape != x.shape:
            try:
                v = np.broadcast_to(v, x.shape).copy()
            except ValueError:
                raise ValueError(
                    f"graphon function returned shape {v.shape} for inputs of shape {x.shape}; "
                    "it must be vectorised"
                ) from None
        if not np.all(np.isfinite(v)):
            raise ValueError("graphon function returned NaN or infinite values")
        lo, hi = self.box
        tol = 1e-12 * max(1.0, min(abs(lo), 1e300), min(abs(hi), 1e300))
        if v.size and (v.min() < lo - tol or v.max() > hi + tol):
            raise ValueError(f"graphon values leave the box [{lo}, {hi}]: range [{v.min()}, {v.max()}]")
        return v

    def matrix_at(self, points) -> np.ndarray:
        """The symmetric matrix [W(x_i, x_j)] at points x (1-D, in [0, 1])."""
        x = np.asarray(points, dtype=np.float64)
        if x.ndim != 1 or x.size == 0:
            raise ValueError("points must be a non-empty 1-D array")
        A = self(x[:, None], x[None, :])
        err = float(np.max(np.abs(A - A.T)))
        if err > 1e-12 * max(1.0, float(np.max(np.abs(A)))):
            raise ValueError(f"graphon function is not symmetric: |f(x,y) - f(y,x)| up to {err:.3g}")
        return 0.5 * (A + A.T)

    # ------------------------------------------------------------- discretisation
    def block_average(self, blocks, *, quad_nodes: int | None = None) -> StepGraphon:
        """Step graphon of block means W_P on ``blocks`` equal blocks or blocks of given widths.

        B[i, j] = (1 / (w_i w_j)) int_{I_i x I_j} W(x, y) dx dy.  Library graphons use closed
        forms (exact); other functions use a ``quad_nodes``-point Gauss--Legendre rule on each
        block pair (exact for polynomials of degree < 2 * quad_nodes in each variable; default
        8 nodes for up to 64 blocks, 4 up to 256, 2 beyond).
        """
        e = _partition_edges(blocks)
        if self._block_mean is not None:
            B = self._block_mean(e)
        else:
            B = _block_mean_quadrature(self, e, quad_nodes)
        B = 0.5 * (B + B.T)
        return StepGraphon(B, np.diff(e))

    def quadrature(self, nodes: int = 64) -> StepGraphon:
        """Gauss--Legendre representation: values W(x_i, x_j), widths = quadrature weights."""
        return StepGraphon.from_function(self, nodes)

    def relabel(self, phi, name: str = "") -> "Graphon":
        """W^phi(x, y) = W(phi(x), phi(y)) for a vectorised measure-preserving phi: [0,1] -> [0,1].

        Measure preservation (e.g. phi(x) = 1 - x, or (x + s) mod 1) is the caller's
        responsibility; only then is W^phi the same graphon as W.
        """
        return Graphon(_Relabelled(self._f, phi), box=self.box, name=name or f"{self.name}^phi")

    def degree(self, x, *, quad_nodes: int = 64) -> np.ndarray:
        """Degree function d(x) = int_0^1 W(x, y) dy (Gauss--Legendre with ``quad_nodes`` nodes)."""
        x = np.asarray(x, dtype=np.float64)
        y, wy = gauss_legendre_01(quad_nodes)
        return self(x[..., None], y) @ wy

    def __repr__(self):
        return f"Graphon({self.name or self._f!r}, box={self.box})"

    # ------------------------------------------------------------ copying and pickling
    def __reduce__(self):
        """Pickle the kernel by reference (pickle's rule for functions): a module-level
        function, a ``functools.partial`` of one or an instance of a module-level class works;
        a lambda or a function defined inside another function cannot be pickled."""
        for what, g in (("kernel", self._f), ("block-mean function", self._block_mean)):
            if g is not None and _is_local_function(g):
                raise pickle.PicklingError(
                    f"cannot pickle Graphon {self.name or '(unnamed)'}: its {what} {g.__qualname__!r} is a "
                    "lambda or a function defined inside another function, which pickle cannot store; "
                    "define it with 'def' at the top level of a module (or use functools.partial of "
                    "such a function), or pickle its block average W.block_average(m) instead"
                )
        return (_rebuild_graphon, (self._f, self.box, self.name, self._block_mean))

    def __copy__(self):
        return _rebuild_graphon(self._f, self.box, self.name, self._block_mean)

    def __deepcopy__(self, memo):
        return _rebuild_graphon(copy.deepcopy(self._f, memo), self.box, self.name,
                                copy.deepcopy(self._block_mean, memo))


def _is_local_function(g) -> bool:
    """True for a lambda or a nested function (pickle cannot find them by name)."""
    q = getattr(g, "__qualname__", None)
    return isinstance(q, str) and ("<lambda>" in q or "<locals>" in q) and not isinstance(g, type)


def _rebuild_graphon(f, box, name, block_mean):
    return Graphon(f, box=box, name=name, _block_mean=block_mean)


class _Relabelled:
    """The kernel (x, y) -> f(phi(x), phi(y)) (a class, so that it pickles when f and phi do)."""

    __slots__ = ("f", "phi")

    def __init__(self, f, phi):
        self.f = f
        self.phi = phi

    def __call__(self, x, y):
        return self.f(self.phi(x), self.phi(y))

    def __reduce__(self):
        return (_Relabelled, (self.f, self.phi))


def _block_mean_quadrature(W, e, q=None, chunk_entries=1 << 22):
    """Block means by a q x q Gauss--Legendre rule on every block pair, in row chunks.

    ``q=None`` picks 8 nodes for m <= 64 blocks, 4 for m <= 256 and 2 beyond (exact for
    polynomials of degree < 2q in each variable on every block).  Raises ValueError when the
    averages are not symmetric (a non-symmetric function).
    """
    widths = np.diff(e)
    m = widths.size
    if q is None:
        q = 8 if m <= 64 else 4 if m <= 256 else 2
    xg, wg = gauss_legendre_01(q)
    pts = (e[:-1, None] + widths[:, None] * xg[None, :]).ravel()  # (m*q,)
    wts = np.tile(wg, m)
    B = np.empty((m, m))
    rows = max(1, chunk_entries // (pts.size * q))  # blocks per chunk
    for b0 in range(0, m, rows):
        b1 = min(m, b0 + rows)
        sl = slice(b0 * q, b1 * q)
        V = W(pts[sl, None], pts[None, :]) * wts[sl, None] * wts[None, :]
        B[b0:b1] = V.reshape(b1 - b0, q, m, q).sum(axis=(1, 3))
    err = float(np.max(np.abs(B - B.T)))
    if err > 1e-10 * max(1.0, float(np.max(np.abs(B)))):
        raise ValueError(f"graphon function is not symmetric: block means differ from their transposes by {err:.3g}")
    return B


# ------------------------------------------------------------- step operations
def overlap_matrix(edges_a, edges_b) -> np.ndarray:
    """O[i, k] = |I_i ∩ J_k| for two interval partitions of [0, 1] given by breakpoints."""
    a = np.asarray(edges_a, dtype=np.float64)
    b = np.asarray(edges_b, dtype=np.float64)
    lo = np.maximum(a[:-1, None], b[None, :-1])
    hi = np.minimum(a[1:, None], b[None, 1:])
    return np.clip(hi - lo, 0.0, None)


def _is_continuous(W) -> bool:
    """A Graphon or a plain function f(x, y) (StepGraphon is callable too, but not this)."""
    from .coerce import as_target

    try:
        return isinstance(as_target(W), Graphon)
    except (TypeError, ValueError):
        return False


def _as_graphon(W) -> Graphon:
    """W itself for a Graphon; a plain function wrapped (any finite values, symmetry checked)."""
    from .coerce import as_target

    return as_target(W)


def as_step(W, *, resolution: int | None = None, name: str = "W") -> StepGraphon:
    """Read W as a step graphon (the reading of :func:`graphonflow.as_target`).

    StepGraphon: itself; (n, n) array: uniform widths, diagonal kept; networkx graph: its
    adjacency (node attribute ``width`` honoured); :class:`Graphon` or callable: its block
    average on ``resolution`` equal blocks (required for these).
    """
    return _as_step(W, resolution=resolution, name=name, _takes_resolution=True)


def _as_step(W, *, resolution=None, name="W", _takes_resolution=False) -> StepGraphon:
    """:func:`as_step` for functions that take no resolution (their error names none)."""
    from .coerce import _discretisation_error, as_target

    t = as_target(W, name=name)
    if isinstance(t, Graphon):
        if resolution is None:
            raise _discretisation_error(W, name, ", or give as_step resolution=m" if _takes_resolution else "")
        return t.block_average(resolution)
    return t.to_step()


def block_average(W, blocks, *, quad_nodes: int | None = None) -> StepGraphon:
    """Block means of W onto ``blocks`` equal blocks or blocks of the given widths.

    For a step graphon (B, w) with intervals I_i and target intervals J_a (widths v_a),
    with O[i, a] = |I_i ∩ J_a|:  B'[a, b] = (O^T B O)[a, b] / (v_a v_b).  This is exact; it
    refines (when every J_a lies inside one I_i) without changing the kernel, and coarsens
    by averaging.  For a :class:`Graphon` see :meth:`Graphon.block_average`; a plain
    function f(x, y) is read as ``Graphon(f)`` (values unrestricted).

    >>> S = block_average(sbm([[1.0, 0.0], [0.0, 1.0]]), 1)
    >>> S.values.tolist()
    [[0.5]]
    >>> np.round(block_average(lambda x, y: x * y, 2).values, 4).tolist()  # c_i c_j, c = (1/4, 3/4)
    [[0.0625, 0.1875], [0.1875, 0.5625]]
    """
    from .coerce import as_target

    t = as_target(W)
    if isinstance(t, Graphon):
        return t.block_average(blocks, quad_nodes=quad_nodes)
    S = t.to_step()
    e = _partition_edges(blocks)
    v = np.diff(e)
    O = overlap_matrix(S.breakpoints, e)
    B = (O.T @ S.values @ O) / np.outer(v, v)
    return StepGraphon(0.5 * (B + B.T), v)


def coarsen(W, groups) -> StepGraphon:
    """Merge blocks: ``groups[i]`` is the new block (0..k-1) of old block i (any order).

    New values are the width-weighted means B'[a, b] = sum_{g(i)=a, g(j)=b} w_i w_j B_ij / (v_a v_b)
    with v_a = sum_{g(i)=a} w_i.  (This is the conditional expectation onto a coarser partition
    of a relabelling of W, so it is a step graphon of the same kind.)

    >>> C = coarsen(sbm([[1.0, 0.0], [0.0, 1.0]]).refine(2), np.array([0, 0, 1, 1]))
    >>> C.values.tolist(), C.widths.tolist()
    ([[1.0, 0.0], [0.0, 1.0]], [0.5, 0.5])
    """
    S = _as_step(W)
    g = np.asarray(groups)
    if g.shape != (S.m,) or g.dtype.kind not in "iu":
        raise ValueError(f"groups must be an integer array of shape ({S.m},)")
    k = int(g.max()) + 1 if g.size else 0
    if g.min() < 0 or not np.array_equal(np.unique(g), np.arange(k)):
        raise ValueError("groups must use every label 0..k-1")
    G = np.zeros((S.m, k))
    G[np.arange(S.m), g] = S.widths
    v = G.sum(axis=0)
    B = (G.T @ S.values @ G) / np.outer(v, v)
    return StepGraphon(0.5 * (B + B.T), v / v.sum())


def common_refinement(U, V):
    """Write two step graphons on the common refinement of their interval partitions.

    Returns ``(BU, BV, widths)`` with the same (k, k) shape: BU[a, b] is U's value on the a-th
    and b-th cells of the overlay (cells of zero length dropped).  The two kernels are unchanged,
    so e.g. ||U - V||_cut = cut norm of (BU - BV) with weights ``widths``.

    >>> BU, BV, w = common_refinement(sbm([[1.0, 0.0], [0.0, 1.0]], [0.3, 0.7]), constant(0.5))
    >>> BU.tolist(), BV.tolist(), w.tolist()
    ([[1.0, 0.0], [0.0, 1.0]], [[0.5, 0.5], [0.5, 0.5]], [0.3, 0.7])
    """
    U, V = _as_step(U, name="U"), _as_step(V, name="V")
    if U.m == V.m and np.array_equal(U.widths, V.widths):
        return U.values, V.values, U.widths
    eu, ev = U.breakpoints, V.breakpoints
    e = np.union1d(eu, ev)
    keep = np.concatenate(([True], np.diff(e) > 1e-15))
    e = e[keep]
    e[-1] = 1.0
    mid = 0.5 * (e[:-1] + e[1:])
    iu = np.searchsorted(eu[1:-1], mid, side="right")
    iv = np.searchsorted(ev[1:-1], mid, side="right")
    w = np.diff(e)
    return U.values[np.ix_(iu, iu)], V.values[np.ix_(iv, iv)], w / w.sum()


# ------------------------------------------------------------------ the library
def constant(p: float) -> StepGraphon:
    """The constant graphon W = p (one block)."""
    p = float(p)
    if not np.isfinite(p):
        raise ValueError("p must be finite")
    return StepGraphon([[p]])


def _mids(e):
    return 0.5 * (e[:-1] + e[1:])


# The library's kernels are module-level functions (or partials of them), so that library
# graphons can be pickled and sent to worker processes.
def _xy(x, y):
    return x * y


def _xy_block_mean(e):
    return np.outer(_mids(e), _mids(e))


def _mean(x, y):
    return 0.5 * (x + y)


def _mean_block_mean(e):
    return 0.5 * (_mids(e)[:, None] + _mids(e)[None, :])


def _min(x, y):
    return np.minimum(x, y)


def _one_minus_max(x, y):
    return 1.0 - np.maximum(x, y)


def _one_minus_max_block_mean(e):
    c = _mids(e)
    B = 1.0 - np.maximum(c[:, None], c[None, :])
    np.fill_diagonal(B, 1.0 - (e[1:] - np.diff(e) / 3.0))  # E max = b - (b - a)/3
    return B


def _ring(x, y, kappa, p):
    return p * np.exp(kappa * (np.cos(2 * np.pi * (x - y)) - 1.0))


def xy() -> Graphon:
    """W(x, y) = x y.  t(F, xy) = prod_v 1 / (deg_F(v) + 1).  Block means c_i c_j (c = midpoints)."""
    return Graphon(_xy, name="xy", _block_mean=_xy_block_mean)


def mean_xy() -> Graphon:
    """W(x, y) = (x + y) / 2.  Block means (c_i + c_j) / 2."""
    return Graphon(_mean, name="(x+y)/2", _block_mean=_mean_block_mean)


def _min_block_mean(e):
    c = _mids(e)
    B = np.minimum(c[:, None], c[None, :])  # disjoint intervals: mean of the lower one
    np.fill_diagonal(B, e[:-1] + np.diff(e) / 3.0)  # E min(X, Y), X, Y iid U[a, b] = a + (b - a)/3
    return B


def min_xy() -> Graphon:
    """W(x, y) = min(x, y) (the uniform attachment graphon).  Exact block means."""
    return Graphon(_min, name="min(x,y)", _block_mean=_min_block_mean)


def one_minus_max_xy() -> Graphon:
    """W(x, y) = 1 - max(x, y).  Exact block means (1 - max = min of 1 - x, 1 - y)."""
    return Graphon(_one_minus_max, name="1-max(x,y)", _block_mean=_one_minus_max_block_mean)


def ring(kappa: float = 4.0, p: float = 1.0) -> Graphon:
    """Smooth ring kernel W(x, y) = p exp(kappa (cos(2 pi (x - y)) - 1)).

    Vertices sit on a circle of circumference 1; nearby ones connect with probability close
    to p, antipodal ones with p e^{-2 kappa}.  Smooth and periodic, so Gauss--Legendre
    quadrature converges fast.  Its degree is constant: d(x) = p e^{-kappa} I_0(kappa).
    """
    kappa, p = float(kappa), float(p)
    if not (kappa >= 0 and 0 <= p <= 1):
        raise ValueError("ring needs kappa >= 0 and 0 <= p <= 1")
    return Graphon(functools.partial(_ring, kappa=kappa, p=p), name=f"ring({kappa:g})")


def sbm(values, widths=None) -> StepGraphon:
    """Stochastic block model: B[i, j] on I_i x I_j (widths default to equal)."""
    return StepGraphon(values, widths)


def complete_bipartite(a: float = 0.5) -> StepGraphon:
    """Complete bipartite graphon: 1 between [0, a) and [a, 1], 0 inside each part."""
    a = float(a)
    if not 0 < a < 1:
        raise ValueError(f"a must lie in (0, 1), got {a!r}")
    return StepGraphon([[0.0, 1.0], [1.0, 0.0]], [a, 1.0 - a])

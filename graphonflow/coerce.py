"""The one reader of user inputs: :func:`as_target` turns what a caller passed into a kernel.

Every public function that takes a graph, a matrix or a graphon (densities, functionals,
sampling, cut norms and distances, block averages) reads it here, so they all agree on what
an input means.  The data model is the package's one data type, the weighted step graphon
(B, w) of :mod:`graphonflow.step`:

================================  =============================================================
input                             read as
================================  =============================================================
(n, n) array or nested lists      the step graphon (A, 1/n): n blocks of width 1/n, the diagonal
                                  A[i, i] a value like any other (0 for a simple graph)
:class:`~graphonflow.StepGraphon`  itself (its values and widths)
networkx graph                    its weighted adjacency matrix in ``G.nodes`` order (edge
                                  attribute ``weight``, 1 for an edge without it, loops on the
                                  diagonal) with widths from the node attribute ``width`` when
                                  every node has one, else 1/n
:class:`~graphonflow.Graphon`      a continuous kernel (returned as it is)
callable f(x, y)                  a continuous kernel, ``Graphon(f)`` with unrestricted values
a real number c                   only with ``number=True`` (the distance functions): the
                                  constant graphon W = c, one block of width 1
================================  =============================================================

Discrete inputs come back as a :class:`Target`; continuous ones as a
:class:`~graphonflow.Graphon`, or a TypeError that says how to discretise them when the
caller cannot (``continuous=False``).  Anything else is a TypeError or ValueError whose
message starts with the argument's name.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass, field

import numpy as np

from ._validation import check_symmetric_matrix, check_widths
from .step import StepGraphon

__all__ = ["Target", "as_target"]


class DiscretisationNeeded(TypeError, ValueError):
    """A continuous graphon where a step graphon is required.

    A TypeError (the input has the wrong kind) that is also a ValueError, which is what the
    readers raised for this case before :func:`as_target` existed.
    """


@dataclass(frozen=True, eq=False)
class Target:
    """A discrete input read by :func:`as_target`: the step graphon (values, widths).

    Attributes
    ----------
    values : ndarray, shape (m, m)
        Symmetric, finite, C-contiguous float32 or float64 block values.  For an array input
        that was already float32/float64 and C-contiguous this is the caller's own array (no
        copy): read it, never write to it.
    widths : ndarray, shape (m,)
        Positive float64 block widths summing to 1.
    uniform : bool
        True when all widths are equal (each is then 1/m).
    kind : {"matrix", "step", "networkx", "constant"}
        What the input was: an array (or nested lists), a StepGraphon, a networkx graph or a
        real number (the constant graphon, read as a graphon, not as a one-vertex graph).
    """

    values: np.ndarray
    widths: np.ndarray
    uniform: bool
    kind: str
    _step: StepGraphon | None = field(default=None, repr=False)

    @property
    def m(self) -> int:
        """Number of blocks."""
        return self.values.shape[0]

    def to_step(self) -> StepGraphon:
        """The input as a :class:`~graphonflow.StepGraphon` (a StepGraphon input itself;
        otherwise a new one, which keeps its own frozen copy of the values)."""
        if self._step is not None:
            return self._step
        uniform_default = self.uniform and self.widths[0] == 1.0 / self.m
        return StepGraphon(self.values, None if uniform_default else self.widths)

    def __repr__(self):
        return f"Target(kind={self.kind!r}, m={self.m}, dtype={self.values.dtype}, uniform={self.uniform})"


def _accepted(continuous: bool, number: bool = False) -> str:
    kinds = ["an (n, n) array", "a StepGraphon", "a networkx graph"]
    if number:
        kinds.append("a number (a constant graphon)")
    if continuous:
        kinds += ["a Graphon", "a function f(x, y)"]
    return ", ".join(kinds[:-1]) + " or " + kinds[-1]


def _discretisation_error(W, name: str, extra: str = "") -> DiscretisationNeeded:
    """The error for a continuous W where a step graphon is needed, with the two ways out."""
    from .graphons import Graphon

    if isinstance(W, Graphon):
        what = "a continuous graphon"
        avg, smp = f"{name}.block_average(m)", f"graphonflow.sample({name}, n).matrix"
    else:
        what = "a function f(x, y)"
        avg, smp = f"graphonflow.block_average({name}, m)", f"graphonflow.sample({name}, n).matrix"
    return DiscretisationNeeded(
        f"{name} is {what}, not a step graphon, and this function needs a discretisation: pass "
        f"its block average on m blocks, {avg}, or a W-random matrix on n vertices, {smp}, "
        f"instead{extra}"
    )


def _read_matrix(W, name: str):
    """W as a C-contiguous float32/float64 symmetric finite square array, copying only if needed."""
    try:
        arr = np.asarray(W)
    except (TypeError, ValueError) as exc:  # ragged nested lists, objects numpy cannot convert
        raise ValueError(f"{name} must be a square numeric matrix; it cannot be read as an array ({exc})") from None
    k = arr.dtype.kind
    if k in "iub" or (k == "f" and arr.dtype not in (np.float32, np.float64)):
        # ints, bools, float16, longdouble -> float64 (one new C-ordered array)
        arr = arr.astype(np.float64, order="C")
    elif k == "f" and arr.ndim == 2 and not arr.flags.c_contiguous:
        arr = np.ascontiguousarray(arr)
    # square, non-empty, finite, symmetric up to rounding: one pass for large C-ordered arrays
    return check_symmetric_matrix(arr, name)


def _read_networkx(G, name: str, weight, width: str):
    import networkx as nx

    if G.is_directed():
        raise ValueError(
            f"{name} must be an undirected networkx graph; got a directed one ({type(G).__name__}): "
            "use G.to_undirected() if that is what you mean"
        )
    if G.is_multigraph():
        raise ValueError(f"{name} is a networkx multigraph; convert it to a weighted nx.Graph first")
    n = G.number_of_nodes()
    if n == 0:
        raise ValueError(f"{name} has no vertices")
    try:
        A = nx.to_numpy_array(G, weight=weight, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name}: edge attribute {weight!r} must hold real numbers ({exc})") from None
    A = check_symmetric_matrix(A, name)  # finite (weights may be NaN); symmetric by construction
    ws = [d.get(width) for _, d in G.nodes(data=True)]
    if all(v is not None for v in ws):
        w = check_widths(ws, n, f"{name} node widths (attribute {width!r})")
    else:
        w = np.full(n, 1.0 / n)
    return A, w


#: Largest scipy.sparse input (n^2 entries) that functions needing a dense matrix densify.
MAX_DENSIFY = 1 << 26


def _is_sparse(W) -> bool:
    from .sparse.graph import is_sparse_input

    return is_sparse_input(W)


def _densify_sparse(W, name):
    """A scipy.sparse matrix or SparseGraph as a dense array, or a ValueError beyond MAX_DENSIFY entries."""
    from .sparse.graph import SparseGraph

    shape = (W.n, W.n) if isinstance(W, SparseGraph) else W.shape
    if len(shape) != 2 or shape[0] != shape[1]:
        raise ValueError(f"{name} must be a square matrix, got shape {shape}")
    if shape[0] * shape[1] > MAX_DENSIFY:
        raise ValueError(
            f"{name} is a sparse matrix with n = {shape[0]} vertices; this function needs it as a dense "
            f"n x n matrix ({8 * shape[0] ** 2 / 2**30:.3g} GiB), which is refused above {MAX_DENSIFY} "
            "entries; homomorphism counts and densities take sparse input as it is "
            "(graphonflow.hom_count, graphonflow.hom_density)")
    return W.toarray()


def as_target(W, *, name: str = "W", continuous: bool = True, weight="weight", width: str = "width",
              number: bool = False):
    """Read a user input as a step graphon (:class:`Target`) or a continuous :class:`~graphonflow.Graphon`.

    The data model: every discrete input is a weighted step graphon (B, w), the kernel equal to
    B[i, j] on I_i x I_j where I_1, ..., I_m are consecutive intervals of [0, 1] of lengths
    w_1, ..., w_m.

    * An (n, n) array (or nested lists) A is (A, 1/n): n blocks of width 1/n, **diagonal
      included** (A[i, i] is the value on I_i x I_i, 0 for a simple graph).  It must be real,
      finite and symmetric up to rounding (``max |A - A^T| <= 1e-10 max |A|``).  Integer and
      boolean arrays become float64; float32 stays float32; a float32/float64 C-contiguous array
      is used as it is, without a copy.
    * A :class:`~graphonflow.StepGraphon` is its (values, widths).
    * A networkx graph (undirected, not a multigraph) is its weighted adjacency matrix in
      ``G.nodes`` order -- the edge attribute ``weight`` (an edge without it weighs 1;
      ``weight=None`` reads every edge as 1), a self-loop is a diagonal entry -- with widths from
      the node attribute ``width`` when every node has one (they must be positive and sum to 1),
      else 1/n.  This is exactly :meth:`StepGraphon.from_networkx`.
    * With ``number=True``, a real number c (a Python or numpy scalar, not a bool) is the
      constant graphon W = c: one block of width 1, read as a graphon (``kind="constant"``).
      The distance functions (:func:`~graphonflow.cut_norm`, :func:`~graphonflow.cut_distance`,
      ...) read their arguments this way; elsewhere a number is a TypeError, since a number
      where a graph is expected is more often a mistake than a constant graphon.
    * A :class:`~graphonflow.Graphon`, or a vectorised callable f(x, y) (read as
      ``Graphon(f)`` with unrestricted values), is continuous: it is returned as a Graphon when
      ``continuous=True``; with ``continuous=False`` it is a TypeError that names the two
      discretisations, ``W.block_average(m)`` and ``sample(W, n).matrix``.

    Parameters
    ----------
    W : array_like (n, n), StepGraphon, networkx.Graph, Graphon, callable or real number
        The input.  A :class:`Target` is returned unchanged.
    name : str
        The argument's name, used at the start of every error message (``"W0 must be ..."``).
    continuous : bool
        Whether the caller accepts a continuous graphon.
    weight : str or None
        Edge attribute of a networkx graph holding the weights (None: unweighted).
    width : str
        Node attribute of a networkx graph holding the block widths.
    number : bool
        Whether a real number c is accepted, as the constant graphon c.

    Returns
    -------
    Target or Graphon
        A :class:`Target` (``values`` (m, m), ``widths`` (m,), ``uniform``, ``kind``) for
        discrete inputs; a Graphon for continuous ones.

    Raises
    ------
    TypeError
        For an input of the wrong type (None, a string, a dict, ...), and for a continuous one
        with ``continuous=False`` (that error is also a ValueError).
    ValueError
        For a non-square, empty, 3-D, non-symmetric or non-finite array, a directed graph or
        a multigraph, or bad widths.

    Examples
    --------
    >>> import networkx as nx
    >>> import numpy as np
    >>> A = np.array([[0.0, 1.0], [1.0, 0.0]])
    >>> t = as_target(A)
    >>> t.kind, t.widths.tolist(), t.uniform, t.values is A
    ('matrix', [0.5, 0.5], True, True)
    >>> G = nx.Graph()
    >>> G.add_node(0, width=0.25)
    >>> G.add_node(1, width=0.75)
    >>> G.add_edge(0, 1, weight=0.5)
    >>> t = as_target(G)
    >>> t.kind, t.values.tolist(), t.widths.tolist(), t.uniform
    ('networkx', [[0.0, 0.5], [0.5, 0.0]], [0.25, 0.75], False)
    >>> as_target(lambda x, y: x * y)                     # doctest: +ELLIPSIS
    Graphon(...)
    >>> t = as_target(0.5, number=True)                  # the constant graphon 1/2
    >>> t.kind, t.values.tolist(), t.widths.tolist()
    ('constant', [[0.5]], [1.0])
    >>> as_target(None, name="W0")
    Traceback (most recent call last):
    ...
    TypeError: W0 must be an (n, n) array, a StepGraphon, a networkx graph, a Graphon or a function f(x, y); got NoneType
    """
    import networkx as nx

    from .graphons import Graphon

    if isinstance(W, Target):
        return W
    if number and isinstance(W, (bool, np.bool_)):
        raise TypeError(f"{name} must be {_accepted(continuous, number)}; got a bool ({W!r})")
    if number and (isinstance(W, numbers.Real) or (isinstance(W, np.ndarray) and W.ndim == 0
                                                   and W.dtype.kind in "fiu")):
        c = float(W)
        if not np.isfinite(c):
            raise ValueError(f"{name} is the number {c!r}; a constant graphon must be finite")
        S = StepGraphon([[c]])
        return Target(S.values, S.widths, True, "constant", S)
    if isinstance(W, StepGraphon):
        return Target(W.values, W.widths, W.uniform, "step", W)
    if _is_sparse(W):  # scipy.sparse or SparseGraph: counts take it as it is (graphonflow.sparse)
        A = _read_matrix(_densify_sparse(W, name), name)
        return Target(A, np.full(A.shape[0], 1.0 / A.shape[0]), True, "matrix")
    if isinstance(W, nx.Graph):
        A, w = _read_networkx(W, name, weight, width)
        return Target(A, w, bool(np.all(w == w[0])), "networkx")
    if isinstance(W, (np.ndarray, list, tuple)) or hasattr(W, "__array__") or hasattr(W, "__array_interface__"):
        A = _read_matrix(W, name)
        n = A.shape[0]
        return Target(A, np.full(n, 1.0 / n), True, "matrix")
    if isinstance(W, Graphon) or (callable(W) and not isinstance(W, type)):
        if not continuous:
            raise _discretisation_error(W, name)
        if isinstance(W, Graphon):
            return W
        return Graphon(W, box=(-np.inf, np.inf), name=getattr(W, "__name__", ""))
    raise TypeError(f"{name} must be {_accepted(continuous, number)}; got {type(W).__name__}")

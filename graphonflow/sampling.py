"""W-random graphs: weighted samples H(n, W) and simple samples G(n, W).

Given a graphon W and n, draw latent positions U_1, ..., U_n iid uniform on [0, 1]
(sorted increasingly when ``sort_labels=True``, so that vertex i sits near i/n and the
sample lines up with W without any relabelling).  Then

* ``kind="weighted"``: A[i, j] = W(U_i, U_j) for all i, j, diagonal included
  (A[i, i] = W(U_i, U_i)); the step graphon of A is a Monte Carlo picture of W;
* ``kind="simple"``:   A[i, j] = A[j, i] ~ Bernoulli(W(U_i, U_j)) independently for i < j,
  A[i, i] = 0 (needs 0 <= W <= 1).

For every simple pattern F on k vertices, E t_inj(F, A) = t(F, W) for both kinds (an injective
map uses distinct, independent latent points and independent edges), and
|t(F, A) - t_inj(F, A)| <= C(k, 2) / n for 0/1 (or [0, 1]-valued) A.  The samples converge to
W in cut distance almost surely (Lovász 2012, Thm. 11.52 / Lemma 10.16).

References
----------
Lovász, Large Networks and Graph Limits (AMS 2012), sec. 10.1 and 11.4.
Borgs, Chayes, Lovász, Sós, Vesztergombi, Convergent sequences of dense graphs I,
Adv. Math. 219 (2008).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ._linalg import _mirror_lower_from_upper
from ._validation import as_rng, check_symmetric_matrix
from .graphons import Graphon

__all__ = ["GraphSample", "sample"]


class GraphSample(NamedTuple):
    """A W-random graph: ``matrix`` (n, n) and ``latent`` positions (n,) in [0, 1].

    Unpacks as a pair: ``A, x = sample(W, n, rng=0)``.
    """

    matrix: np.ndarray
    latent: np.ndarray


def _evaluator(W, weight="weight"):
    """A Graphon for continuous inputs, a StepGraphon for discrete ones (read by as_target)."""
    from .coerce import as_target

    t = as_target(W, name="W", weight=weight)
    return t if isinstance(t, Graphon) else t.to_step()


def sample(W, n: int, *, rng=None, kind: str = "weighted", sort_labels: bool = True,
           weight="weight") -> GraphSample:
    """Draw a W-random graph on n vertices.

    Parameters
    ----------
    W : Graphon, StepGraphon, (m, m) array, networkx graph or callable f(x, y)
        Read by :func:`graphonflow.as_target`: an array is the step graphon with widths 1/m
        (diagonal included), a networkx graph its weighted adjacency matrix with the node
        attribute ``width`` as widths when every node has one.  Symmetric: W(U_i, U_j) = W(U_j, U_i) is checked at the sampled points (up to a
        relative rounding of 1e-10); a non-symmetric function is a ValueError, not
        silently symmetrised.
    n : int
        Number of vertices (>= 1).
    rng : None, int or numpy.random.Generator
        Randomness; the same seed gives the same sample.
    kind : {"weighted", "simple"}
        Weighted: A_ij = W(U_i, U_j) (diagonal included).  Simple: independent Bernoulli
        edges with probability W(U_i, U_j), zero diagonal.
    sort_labels : bool
        Sort the latent positions increasingly (vertex order follows [0, 1]).
    weight : str or None
        Edge attribute holding the weights of a networkx W (None: every edge weighs 1).

    Returns
    -------
    GraphSample
        ``(matrix, latent)``: the (n, n) float matrix and the (n,) latent positions U_i.

    Examples
    --------
    >>> from graphonflow.graphons import xy
    >>> A, x = sample(xy(), 5, rng=1, kind="simple")
    >>> A.shape, bool(np.all(np.diff(x) >= 0)), bool(np.all(A == A.T))
    ((5, 5), True, True)
    """
    if int(n) != n or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    n = int(n)
    if kind not in ("weighted", "simple"):
        raise ValueError(f"kind must be 'weighted' or 'simple', got {kind!r}")
    gen = as_rng(rng)
    f = _evaluator(W, weight)
    x = gen.random(n)
    if sort_labels:
        x.sort()
    P = np.ascontiguousarray(f(x[:, None], x[None, :]), dtype=np.float64)
    if P.shape != (n, n):
        raise ValueError(f"W returned shape {P.shape} for an ({n}, {n}) grid of latent points")
    # symmetric at the sampled points up to rounding (a ValueError otherwise, with the defect),
    # then exactly symmetric, in place
    check_symmetric_matrix(P, "W")
    _mirror_lower_from_upper(P)
    if kind == "weighted":
        return GraphSample(P, x)
    iu = np.triu_indices(n, 1)
    p = P[iu]
    if p.size and (p.min() < 0 or p.max() > 1):
        raise ValueError("kind='simple' needs 0 <= W <= 1 (values are edge probabilities)")
    A = np.zeros((n, n))
    A[iu] = (gen.random(p.size) < p).astype(np.float64)
    A = A + A.T
    return GraphSample(A, x)

r"""Graph functionals F(W) with their L2 gradients, composable with + - and scalar *.

A functional knows two things about a kernel W: its value F(W) and its L2
gradient DF(W), the symmetric kernel with

.. math::

    \frac{d}{d\varepsilon} F(W + \varepsilon U) \Big|_{\varepsilon=0}
        = \int_0^1\!\!\int_0^1 DF(W)(x, y)\, U(x, y)\, dx\, dy

for symmetric U.  W is an n x n matrix (the step graphon with widths 1/n, its
diagonal included) or a weighted :class:`~graphonflow.StepGraphon` (B, w).  For
both, ``grad`` returns the *block values* of DF(W), an (m, m) array: for a matrix
that is n^2 times the Frobenius gradient with respect to the full matrix (A_ij and
A_ji separate coordinates), for (B, w) the Frobenius gradient divided by w_i w_j.

Terms
-----
* :class:`EdgeDensity`: t(K2, W) = int W, gradient 1.
* :class:`HomDensity`: t(F, W) for a pattern F, gradient from
  :class:`~graphonflow.hom.HomWorkspace`.
* :class:`Entropy`: E(W) = int h(W), h(p) = p log p + (1-p) log(1-p) (the convex
  negative entropy), gradient log(W / (1 - W)).
* :class:`RateFunction`: the Erdos--Renyi large-deviation rate
  I_p(W) = 1/2 int h_p(W), h_p(x) = x log(x/p) + (1-x) log((1-x)/(1-p)).
* :func:`ergm`: -sum_i beta_i t(H_i, .) + 1/2 Entropy, the negated Chatterjee--Diaconis
  free energy (flows *minimise*).
* :class:`Custom`: a user's own value/gradient pair.

Edge density, entropy and the rate function are **local** (entry-wise): each is
int phi(W) for a scalar phi of the form ``alpha h(x) + beta x + gamma``.  A sum
merges its local terms into one such phi, which integrators treat implicitly by
an entry-wise proximal map.  Entropy and the rate function live on [0, 1]: their
values need 0 <= W <= 1 and their gradients 0 < W < 1 (ValueError otherwise).

A sum evaluates shared products once: it builds one ``HomWorkspace`` per
evaluation point and hands it to all of its terms.

Examples
--------
>>> import numpy as np
>>> from graphonflow import EdgeDensity, HomDensity, Entropy
>>> F = -0.5 * EdgeDensity() - 0.2 * HomDensity("K3") + 0.5 * Entropy()
>>> A = np.full((4, 4), 0.5)
>>> round(F.value(A), 6)        # -0.25 - 0.2/8 + 0.5 * log(1/2)
-0.621574
>>> float(F.grad(A)[0, 1])      # -0.5 - 0.2 * 3 * 0.25 + 0
-0.65

References
----------
S. Oh, S. Pal, R. Somani, R. Tripathi, Gradient flows on graphons: existence,
convergence, continuity equations, J. Theor. Probab. 37 (2024), arXiv:2111.09459.
S. Chatterjee, P. Diaconis, Estimating and understanding exponential random graph
models, Ann. Statist. 41 (2013).  S. Chatterjee, S. R. S. Varadhan, The large
deviation principle for the Erdos--Renyi random graph, Eur. J. Combin. 32 (2011).
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from . import _kernels
from .hom import HomWorkspace
from .patterns import as_pattern
from .step import StepGraphon


def _xp_backend(B):
    """None for a NumPy array (the CPU path, unchanged); the array backend of any other array."""
    if isinstance(B, np.ndarray):
        return None
    from .backend import get_backend

    return get_backend(B)


def _local_value(B, w, alpha, beta, gamma):
    xb = _xp_backend(B)
    if xb is None:
        return _kernels.local_value(B, w, alpha, beta, gamma)
    return xb.local_value(B, w, alpha, beta, gamma)


__all__ = [
    "Functional",
    "EdgeDensity",
    "HomDensity",
    "Entropy",
    "RateFunction",
    "Custom",
    "ergm",
    "as_functional",
    "EvaluationPoint",
    "LocalPart",
    "FunctionalSplit",
]


# --------------------------------------------------------------------------- evaluation points
class EvaluationPoint:
    """One evaluation point: block values B (m, m), widths w (m,) and a lazy HomWorkspace.

    All terms of a sum evaluated at the same point share the workspace (so A^2
    and friends are computed once).  ``uniform`` says that every width is 1/m (a matrix),
    which lets the workspace skip the width scaling.  The caller promises that B is a
    valid symmetric float array; nothing is checked here (integrators build one point per
    stage, on states they made themselves).
    """

    __slots__ = ("B", "w", "uniform", "_ws")

    def __init__(self, B, w, uniform):
        self.B = B
        self.w = w
        self.uniform = uniform
        self._ws = None

    @property
    def ws(self) -> HomWorkspace:
        if self._ws is None and not isinstance(self.B, np.ndarray):  # an array-API array (e.g. CuPy)
            from .backend.xp_hom import XPHomWorkspace

            self._ws = XPHomWorkspace(self.B, None if self.uniform else self.w)
        if self._ws is None:
            if self.uniform:
                self._ws = HomWorkspace(self.B, check=False)
            else:
                # StepGraphon keeps a private, frozen copy of the block values
                self._ws = HomWorkspace(StepGraphon(self.B, self.w), check=False)
        return self._ws


_Point = EvaluationPoint  # the name used before it was public


def _as_point(W) -> _Point:
    if isinstance(W, _Point):
        return W
    from .backend import is_foreign_array

    if is_foreign_array(W):  # read on its own device: exactly symmetric, widths 1/n
        from .backend.array_api import read_matrix, uniform_widths

        B = read_matrix(W, "W")
        return _Point(B, uniform_widths(B), True)
    # the package's one input reader: arrays (no copy when float and C-contiguous),
    # StepGraphons and networkx graphs; a continuous graphon is a TypeError naming the fix
    from .coerce import as_target

    t = as_target(W, name="W", continuous=False)
    return _Point(t.values, t.widths, t.uniform)


def _check_unit(B, need_open, what):
    xb = _xp_backend(B)
    lo, hi = (float(B.min()), float(B.max())) if xb is None else (xb.fmin(B), xb.fmax(B))
    if need_open and (lo <= 0.0 or hi >= 1.0):
        raise ValueError(
            f"the gradient of {what} needs 0 < W < 1 (log W/(1-W) is infinite at 0 and 1); "
            f"got entries in [{lo:.3g}, {hi:.3g}]"
        )
    if lo < 0.0 or hi > 1.0:
        raise ValueError(f"{what} is defined for 0 <= W <= 1; got entries in [{lo:.3g}, {hi:.3g}]")


# --------------------------------------------------------------------------- base class
class Functional:
    """Base class: a functional F(W) with ``value`` and ``grad``.

    Subclasses implement ``_value(pt)`` and ``_grad(pt)`` on an evaluation point.
    Every functional can be combined with ``+``, ``-``, unary ``-`` and
    multiplication or division by real scalars; the result is a :class:`Sum`.
    """

    #: True for entry-wise terms int phi(W) (integrators may treat them implicitly)
    local = False

    # ---- public API
    def value(self, W) -> float:
        """F(W) for an (n, n) matrix or a StepGraphon."""
        pt = _as_point(W)
        self._check_domain(pt.B, need_open=False)
        return float(self._value(pt))

    def grad(self, W) -> np.ndarray:
        """Block values of DF(W), a symmetric (m, m) array (n^2 x Frobenius gradient for a matrix)."""
        pt = _as_point(W)
        self._check_domain(pt.B, need_open=True)
        return self._grad(pt)

    def value_and_grad(self, W):
        """(F(W), DF(W)) from one shared evaluation."""
        pt = _as_point(W)
        self._check_domain(pt.B, need_open=True)
        return float(self._value(pt)), self._grad(pt)

    def terms(self):
        """The flat list of (coefficient, atom) pairs this functional is a sum of."""
        return [(1.0, self)]

    def split(self) -> "FunctionalSplit":
        """F = H + L: the non-local part H (densities, custom terms), which integrators treat
        explicitly, and the merged entry-wise part L = int phi(W) (entropy, rate function,
        edge density), which they may treat implicitly.  See :class:`FunctionalSplit`."""
        F = as_functional(self)
        al, be, ga = F._coeffs
        present = any(a.local for _, a in F._terms)
        return FunctionalSplit(Sum(F._nonlocal), LocalPart(al, be, ga, present))

    # ---- hooks for integrators
    def _local_coeffs(self):
        """(alpha, beta, gamma) of the merged local part phi = alpha h + beta x + gamma."""
        return (0.0, 0.0, 0.0)

    def _nl_grad(self, pt):
        """(G, scale) with scale * G = the gradient of this (non-local) atom at pt."""
        return self._grad(pt), 1.0

    def _check_domain(self, B, need_open):
        pass

    # ---- algebra
    def __add__(self, other):
        if isinstance(other, numbers.Real) and other == 0:
            return Sum(self.terms())
        if not isinstance(other, Functional):
            return NotImplemented
        return Sum(self.terms() + other.terms())

    def __radd__(self, other):
        if isinstance(other, numbers.Real) and other == 0:  # sum([...])
            return Sum(self.terms())
        return NotImplemented

    def __neg__(self):
        return Sum([(-c, a) for c, a in self.terms()])

    def __sub__(self, other):
        if not isinstance(other, Functional):
            return NotImplemented
        return self + (-other)

    def __mul__(self, s):
        if not isinstance(s, numbers.Real) or isinstance(s, bool):
            return NotImplemented
        s = float(s)
        if not math.isfinite(s):
            raise ValueError(f"functional coefficients must be finite, got {s}")
        return Sum([(s * c, a) for c, a in self.terms()])

    __rmul__ = __mul__

    def __truediv__(self, s):
        if not isinstance(s, numbers.Real):
            return NotImplemented
        return self * (1.0 / float(s))


class _Local(Functional):
    """An entry-wise term int phi(W), phi = alpha h + beta x + gamma."""

    local = True
    alpha = 0.0
    beta = 0.0
    gamma = 0.0

    def _local_coeffs(self):
        return (self.alpha, self.beta, self.gamma)

    def _check_domain(self, B, need_open):
        if self.alpha != 0.0:
            _check_unit(B, need_open, type(self).__name__)

    def _value(self, pt):
        return _local_value(pt.B, pt.w, self.alpha, self.beta, self.gamma)

    def _grad(self, pt):
        B = pt.B
        if (xb := _xp_backend(B)) is not None:
            return xb.local_grad(B, self.alpha, self.beta)
        G = np.full(B.shape, self.beta, dtype=B.dtype)
        if self.alpha != 0.0:
            G += self.alpha * np.log(B / (1 - B))
        return G


class EdgeDensity(_Local):
    r"""The edge density t(K2, W) = \int\int W(x, y) dx dy; DF = 1.

    Examples
    --------
    >>> import numpy as np
    >>> EdgeDensity().value(np.array([[0.0, 1.0], [1.0, 0.0]]))
    0.5
    """

    beta = 1.0

    def __repr__(self):
        return "EdgeDensity()"


class Entropy(_Local):
    r"""The scalar (negative) entropy E(W) = \int\int h(W), h(p) = p log p + (1-p) log(1-p).

    Convex on [0, 1], with DE = log(W / (1 - W)); 0 log 0 = 0 in the value.  The
    ERGM free energy uses +1/2 E (Chatterjee--Diaconis 2013).

    Examples
    --------
    >>> import numpy as np
    >>> round(Entropy().value(np.full((3, 3), 0.5)), 12)   # log(1/2)
    -0.69314718056
    """

    alpha = 1.0

    def __repr__(self):
        return "Entropy()"


class RateFunction(_Local):
    r"""The Erdos--Renyi large-deviation rate function (Chatterjee--Varadhan 2011)

    .. math::  I_p(W) = \tfrac12 \int\int h_p(W),\quad
               h_p(x) = x \log\frac{x}{p} + (1-x)\log\frac{1-x}{1-p},

    i.e. 1/2 h(x) + x (log(1-p) - log p)/2 - log(1-p)/2; DI_p = 1/2 log(W(1-p) / ((1-W) p)).

    Parameters
    ----------
    p : float in (0, 1)

    Examples
    --------
    >>> import numpy as np
    >>> RateFunction(0.3).value(np.full((2, 2), 0.3))
    0.0
    """

    def __init__(self, p):
        p = float(p)
        if not (0.0 < p < 1.0):
            raise ValueError(f"RateFunction needs 0 < p < 1, got {p}")
        self.p = p
        self.alpha = 0.5
        self.beta = 0.5 * (math.log1p(-p) - math.log(p))
        self.gamma = -0.5 * math.log1p(-p)

    def _value(self, pt):
        # h_p vanishes at p; summing the merged form can leave a rounding residue there
        return max(super()._value(pt), 0.0)

    def __repr__(self):
        return f"RateFunction({self.p})"


class HomDensity(Functional):
    r"""The homomorphism density t(F, W) of a pattern F, with its L2 gradient.

    .. math::

        t(F, W) = \sum_{\varphi: V(F) \to [m]} \prod_v w_{\varphi(v)}
                  \prod_{ab \in E(F)} B_{\varphi(a)\varphi(b)},\qquad
        DF(W)(x, y) = \sum_{ab \in E(F)} \mathrm{sym}\ t_{a\to x, b\to y}(F - ab, W).

    Computed by :class:`~graphonflow.hom.HomWorkspace`.  For cycles C_k (K3 = C3)
    the gradient k Q_{k-1} is handed to integrators as the cached product Q_{k-1}
    with scale k (no extra pass).

    Parameters
    ----------
    F : pattern (name such as ``"K3"``, edge list, networkx graph or Pattern)

    Examples
    --------
    >>> import numpy as np
    >>> A = np.full((5, 5), 0.5)
    >>> HomDensity("K3").value(A), float(HomDensity("K3").grad(A)[0, 0])
    (0.125, 0.75)
    """

    def __init__(self, F):
        self.pattern = as_pattern(F)
        self._cycle = self.pattern.is_cycle  # cached: checked at every flow step
        # one edge (with or without isolated vertices): t = int W, the edge density; no edge:
        # t = 1.  Both are entry-wise, so a sum hands them to the integrators' local part
        # (no product, no n x n gradient) like EdgeDensity().
        n_edges = len(self.pattern.edges)
        self.local = n_edges <= 1
        self._coeffs = (0.0, 1.0, 0.0) if n_edges == 1 else (0.0, 0.0, 1.0)

    def _local_coeffs(self):
        return self._coeffs if self.local else (0.0, 0.0, 0.0)

    def _value(self, pt):
        return pt.ws.density(self.pattern)

    def _grad(self, pt):
        if (xb := _xp_backend(pt.B)) is not None:
            return xb.copy(pt.ws.grad(self.pattern))
        return np.array(pt.ws.grad(self.pattern), copy=True)

    def _nl_grad(self, pt):
        P = self.pattern
        if self._cycle:
            return pt.ws.path_power(P.k - 1), float(P.k)
        return pt.ws.grad(P), 1.0

    def __repr__(self):
        return f"HomDensity({self.pattern.name or list(self.pattern.edges)!r})"


class Custom(Functional):
    """A user-supplied functional from a value and a gradient function.

    Parameters
    ----------
    value : callable ``value(B, w) -> float``
        F at block values B (m, m) and widths w (m,) (w = 1/n for a matrix).
    grad : callable ``grad(B, w) -> ndarray (m, m)``
        The *block values* of the L2 gradient: for a matrix, n^2 times the
        Frobenius gradient with respect to the full matrix.  Must be real, of shape
        (m, m) and symmetric up to rounding, |G_ij - G_ji| <= rtol * max |G| with
        rtol = max(1e-10, 128 eps) of its dtype (the flow kernels read only the upper
        triangle, so an asymmetric G would be silently half-ignored): anything else is
        a ValueError naming the term.  ``Custom.grad`` also rejects non-finite values;
        inside :func:`~graphonflow.flow` a non-finite gradient ends the run with status
        ``"nonfinite"`` and the last finite state.
    name : str, optional

    Examples
    --------
    The triangle density written by hand, t = tr(A^3)/n^3, DF = 3 A^2 / n:

    >>> import numpy as np
    >>> tri = Custom(lambda B, w: float(np.trace(B @ B @ B)) / len(B) ** 3,
    ...              lambda B, w: 3 * (B @ B) / len(B), name="triangles")
    >>> tri.value(np.full((4, 4), 0.5))
    0.125
    >>> float(tri.grad(np.full((4, 4), 0.5))[0, 1])   # 3 * (4 * 0.25) / 4
    0.75
    >>> bad = Custom(lambda B, w: 0.0, lambda B, w: np.triu(B), name="upper")
    >>> bad.grad(np.full((2, 2), 0.5))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: Custom term 'upper': grad(B, w) is not symmetric: max |G - G^T| = 0.5 ...
    """

    def __init__(self, value, grad, name="custom"):
        if not callable(value) or not callable(grad):
            raise TypeError("Custom needs two callables, value(B, w) and grad(B, w)")
        self._fv = value
        self._fg = grad
        self.name = name

    def _value(self, pt):
        return float(self._fv(pt.B, pt.w))

    def _grad(self, pt):
        return self._checked_grad(pt, allow_nonfinite=False)

    def _nl_grad(self, pt):
        # inside a flow a non-finite gradient is reported by the driver (status "nonfinite")
        return self._checked_grad(pt, allow_nonfinite=True), 1.0

    def _checked_grad(self, pt, allow_nonfinite):
        from ._linalg import symmetry_defect

        who = f"Custom term {self.name!r}: grad(B, w)"
        if (xb := _xp_backend(pt.B)) is not None:
            return xb.checked_grad(self._fg(pt.B, pt.w), pt.B, who, allow_nonfinite)
        G = np.asarray(self._fg(pt.B, pt.w))
        if G.dtype.kind not in "fiub":
            raise ValueError(f"{who} must return a real array, got dtype {G.dtype}")
        m = pt.B.shape[0]
        if G.shape != (m, m):
            raise ValueError(f"{who} returned shape {G.shape}, expected {(m, m)}")
        Gf = G if G.dtype.kind == "f" else G.astype(np.float64)
        err, scale, nbad = symmetry_defect(Gf)  # over the finite pairs only
        if nbad and not allow_nonfinite:
            raise ValueError(f"{who} returned NaN or infinite values")
        rtol = max(1e-10, 128 * float(np.finfo(Gf.dtype).eps))
        if err > max(rtol * scale, float(np.finfo(Gf.dtype).tiny)):
            raise ValueError(
                f"{who} is not symmetric: max |G - G^T| = {err:.3g} with max |G| = {scale:.3g} "
                "(the flow reads only the upper triangle; return e.g. (G + G.T) / 2)"
            )
        return np.ascontiguousarray(G, dtype=pt.B.dtype)

    def __repr__(self):
        return f"Custom({self.name!r})"


class Sum(Functional):
    """A linear combination sum_k c_k F_k of atoms (built by + - and *).

    Local atoms are merged into one entry-wise phi; non-local atoms share one
    HomWorkspace per evaluation point.
    """

    def __init__(self, terms):
        merged = {}
        order = []
        for c, a in terms:
            key = id(a)
            if key not in merged:
                order.append(a)
                merged[key] = 0.0
            merged[key] += float(c)
        self._terms = [(merged[id(a)], a) for a in order if merged[id(a)] != 0.0]
        al = be = ga = 0.0
        for c, a in self._terms:
            if a.local:
                x, y, z = a._local_coeffs()
                al += c * x
                be += c * y
                ga += c * z
        self._coeffs = (al, be, ga)
        self._nonlocal = [(c, a) for c, a in self._terms if not a.local]
        self.local = len(self._nonlocal) == 0

    def terms(self):
        return list(self._terms)

    def _local_coeffs(self):
        return self._coeffs

    def _check_domain(self, B, need_open):
        for c, a in self._terms:
            a._check_domain(B, need_open)

    def _value(self, pt):
        al, be, ga = self._coeffs
        v = 0.0
        if any(a.local for _, a in self._terms):
            v = _local_value(pt.B, pt.w, al, be, ga)
        for c, a in self._nonlocal:
            v += c * a._value(pt)
        return v

    def _grad(self, pt):
        al, be, _ = self._coeffs
        B = pt.B
        if (xb := _xp_backend(B)) is not None:
            return xb.combine_grad(B, al, be, ((c, a._nl_grad(pt)) for c, a in self._nonlocal))
        G = np.full(B.shape, be, dtype=np.float64)
        if al != 0.0:
            G += al * np.log(B / (1 - B))
        for c, a in self._nonlocal:
            g, s = a._nl_grad(pt)
            G += (c * s) * g
        return G.astype(B.dtype, copy=False)

    def _nl_grad_into(self, pt, buf):
        """(G, scale): the non-local gradient as ``scale * G``; G may be a cached product.

        With one non-local term no pass is made; with several they are summed into
        ``buf`` (an (m, m) array of B's dtype, or None to allocate).
        Returns (None, 0.0) when there is no non-local term.
        """
        if not self._nonlocal:
            return None, 0.0
        if len(self._nonlocal) == 1:
            c, a = self._nonlocal[0]
            g, s = a._nl_grad(pt)
            return g, c * s
        xb = _xp_backend(pt.B)
        if buf is None:
            buf = np.empty_like(pt.B) if xb is None else xb.empty_like(pt.B)
        first = True
        for c, a in self._nonlocal:
            g, s = a._nl_grad(pt)
            if first:
                np.multiply(g, c * s, out=buf) if xb is None else xb.scale(buf, g, c * s)
                first = False
            else:
                buf += (c * s) * g
        return buf, 1.0

    def __repr__(self):
        parts = [f"{c:+g}*{a!r}" for c, a in self._terms]
        return "Sum(" + " ".join(parts) + ")" if parts else "Sum(0)"


class LocalPart:
    r"""The entry-wise part of a functional: :math:`L(W) = \iint \phi(W)` with

    .. math::  \phi(x) = \alpha h(x) + \beta x + \gamma, \qquad h(x) = x\log x + (1-x)\log(1-x),

    so :math:`DL(W) = \alpha \log\frac{W}{1-W} + \beta`.  Entropy is (1, 0, 0), the edge
    density (0, 1, 0), the rate function I_p is (1/2, (log(1-p) - log p)/2, -log(1-p)/2).
    Its proximal map, :math:`\mathrm{prox}_{\tau\phi}(y) = \arg\min_x \tau\phi(x) + (x-y)^2/2`,
    is a 1-D convex problem per entry when alpha >= 0.

    Attributes
    ----------
    alpha, beta, gamma : float
    present : bool
        Whether the functional had any local term at all (even one whose coefficients
        cancelled).

    Examples
    --------
    >>> from graphonflow import EdgeDensity, Entropy, HomDensity
    >>> L = (0.5 * Entropy() - 2 * EdgeDensity() + HomDensity("K3")).split().local
    >>> L.alpha, L.beta, L.convex
    (0.5, -2.0, True)
    """

    __slots__ = ("alpha", "beta", "gamma", "present")

    def __init__(self, alpha=0.0, beta=0.0, gamma=0.0, present=None):
        self.alpha, self.beta, self.gamma = float(alpha), float(beta), float(gamma)
        self.present = bool(present) if present is not None else (alpha, beta, gamma) != (0.0, 0.0, 0.0)

    @property
    def convex(self) -> bool:
        """alpha >= 0: the proximal map is single valued (the implicit integrators need this)."""
        return self.alpha >= 0.0

    @property
    def needs_unit_interval(self) -> bool:
        """alpha != 0: the entropy part lives on [0, 1] and its gradient is infinite at 0 and 1."""
        return self.alpha != 0.0

    def coefficients(self):
        """(alpha, beta, gamma)."""
        return (self.alpha, self.beta, self.gamma)

    def value(self, W) -> float:
        """L(W) = sum_ij w_i w_j phi(B_ij)."""
        pt = _as_point(W)
        if (xb := _xp_backend(pt.B)) is not None:
            return float(xb.local_value(pt.B, pt.w, self.alpha, self.beta, self.gamma))
        return float(_kernels.local_value(np.ascontiguousarray(pt.B), pt.w, self.alpha, self.beta, self.gamma))

    def grad(self, W) -> np.ndarray:
        """DL(W) = alpha logit(B) + beta, as block values."""
        pt = _as_point(W)
        if (xb := _xp_backend(pt.B)) is not None:
            return xb.combine_grad(pt.B, self.alpha, self.beta, (), cast=False)
        G = np.full(pt.B.shape, self.beta, dtype=np.float64)
        if self.alpha != 0.0:
            G += self.alpha * np.log(pt.B / (1 - pt.B))
        return G

    def __eq__(self, other):
        return isinstance(other, LocalPart) and self.coefficients() == other.coefficients()

    def __hash__(self):
        return hash(self.coefficients())

    def __repr__(self):
        return f"LocalPart(alpha={self.alpha:g}, beta={self.beta:g}, gamma={self.gamma:g})"


class FunctionalSplit:
    """F = H + L, the split that integrators use (returned by :meth:`Functional.split`).

    ``explicit`` is H, the sum of the non-local terms (a :class:`Sum`, possibly empty);
    ``local`` is L, a :class:`LocalPart`.  ``explicit_grad`` and ``value`` evaluate at an
    :class:`EvaluationPoint`, sharing its products between terms; the explicit gradient
    comes back as ``(G, scale)`` with DH = scale * G, where G may be a cached product
    (read only its upper triangle, and do not write to it).

    Examples
    --------
    >>> import numpy as np
    >>> from graphonflow import HomDensity, Entropy
    >>> from graphonflow.functionals import EvaluationPoint
    >>> S = (HomDensity("K3") + 0.5 * Entropy()).split()
    >>> pt = EvaluationPoint(np.full((4, 4), 0.5), np.full(4, 0.25), True)
    >>> G, scale = S.explicit_grad(pt)      # D t(K3) = 3 A^2 / n: the product A^2/n with scale 3
    >>> scale, float(G[0, 1]), round(S.value(pt), 6)    # 0.125 + 0.5 log(1/2)
    (3.0, 0.25, -0.221574)
    """

    __slots__ = ("explicit", "local")

    def __init__(self, explicit, local):
        self.explicit = explicit
        self.local = local

    @property
    def has_explicit(self) -> bool:
        return bool(self.explicit._nonlocal)

    @property
    def symmetric_grad(self) -> bool:
        """True when every explicit term is a library density, whose gradient is exactly symmetric."""
        return all(isinstance(a, HomDensity) for _, a in self.explicit._nonlocal)

    @property
    def n_explicit(self) -> int:
        return len(self.explicit._nonlocal)

    def explicit_grad(self, point, out=None):
        """(G, scale) with DH(point) = scale * G; (None, 0.0) without explicit terms.

        With several explicit terms they are summed into ``out`` (allocated if None)."""
        return self.explicit._nl_grad_into(point, out)

    def explicit_value(self, point) -> float:
        return float(sum(c * a._value(point) for c, a in self.explicit._nonlocal))

    def value(self, point) -> float:
        """F at the point: the local part in one pass plus the explicit terms."""
        v = 0.0
        if self.local.present:
            v = _local_value(point.B, point.w, self.local.alpha, self.local.beta, self.local.gamma)
        for c, a in self.explicit._nonlocal:  # term by term, in order (the sums' rounding is part of the result)
            v += c * a._value(point)
        return float(v)

    def __repr__(self):
        return f"FunctionalSplit(explicit={self.explicit!r}, local={self.local!r})"


def as_functional(F) -> Sum:
    """Return F as a :class:`Sum` (raises TypeError for non-functionals)."""
    if isinstance(F, Sum):
        return F
    if isinstance(F, Functional):
        return Sum(F.terms())
    raise TypeError(f"expected a Functional (e.g. -EdgeDensity() + Entropy()), got {type(F).__name__}")


def ergm(betas, patterns=("K2", "K3")) -> Sum:
    r"""The ERGM free-energy functional to *minimise*: -sum_i beta_i t(H_i, W) + 1/2 E(W).

    Chatterjee--Diaconis (2013): the limiting free energy of the exponential random
    graph model with sufficient statistics t(H_i, .) is the supremum of
    T(W) - 1/2 E(W), T = sum_i beta_i t(H_i, W); the flows here minimise its negative.
    A pattern equal to K2 becomes :class:`EdgeDensity` (a local term).

    Parameters
    ----------
    betas : sequence of float
    patterns : sequence of patterns, same length (default: edge and triangle)

    Examples
    --------
    >>> import numpy as np
    >>> F = ergm([-1.0, 0.5])                 # -(-1) t(K2) - 0.5 t(K3) + 1/2 E
    >>> round(F.value(np.full((3, 3), 0.5)), 6)
    0.090926
    """
    betas = [float(b) for b in np.atleast_1d(np.asarray(betas, dtype=np.float64))]
    patterns = list(patterns) if not isinstance(patterns, str) else [patterns]
    if len(betas) != len(patterns):
        raise ValueError(f"ergm: {len(betas)} betas for {len(patterns)} patterns")
    if not all(math.isfinite(b) for b in betas):
        raise ValueError("ergm: betas must be finite")
    K2 = as_pattern("K2")
    F = 0.5 * Entropy()
    for b, H in zip(betas, patterns):
        P = as_pattern(H)
        term = EdgeDensity() if (P.k, P.edges) == (K2.k, K2.edges) else HomDensity(P)
        F = F - b * term
    return F

r"""Homomorphism densities and gradients on array-API arrays (CuPy on a GPU).

The patterns a flow on a device needs, by the algorithms of :mod:`graphonflow.hom`
written with array-API operations and the backend's symmetric products:

* **forests** (edges, paths P_k, stars S_k, any tree or forest): message passing, one
  matrix-vector product per edge; the gradient of each edge orbit is a rank-one outer
  product of two rooted messages;
* **cycles** C_k (K3 = C3, C4, C5, ...): the path powers Q_j = B D B ... B (j factors,
  D = diag(w)), t(C_k) = <Q_a, Q_b>_w with a + b = k and D t(C_k) = k Q_{k-1}; squares are
  one symmetric product (cuBLAS ``syrk`` on CuPy);
* **K4**: the diamond pinned at its two degree-2 vertices, P(x, y) = u^T B u with
  u_k = B[x, k] B[y, k] w_k, computed for y >= x in row blocks of one GEMM each:
  t(K4) = <B, P>_w and D t(K4) = 6 P (about n^4 multiply-adds, n^2 memory);
* **disjoint unions** of these: t is the product over the components, and
  D t(F1 + F2) = t(F2) D t(F1) + t(F1) D t(F2).

Anything else (K5, K2,3, a triangle with a pendant edge, injective and induced densities)
raises :class:`DeviceUnsupported`, naming the pattern and the host call that computes it.
Every product is mirrored from its upper triangle, so all arrays are exactly symmetric
(the invariant of :mod:`graphonflow.backend.array_api`).  Costs are refused above
``max_cost`` exactly as on the host (:func:`graphonflow.hom.contraction_cost`).

Examples
--------
>>> import numpy as np, array_api_strict as xp
>>> from graphonflow.backend.xp_hom import XPHomWorkspace
>>> ws = XPHomWorkspace(xp.asarray(np.full((5, 5), 0.5)))
>>> ws.density("K3"), ws.density("S3"), float(ws.grad("C4")[0, 1])   # 1/8, 1/8, 4 * 1/8
(0.125, 0.125, 0.5)
>>> ws.density("K2,3")
Traceback (most recent call last):
...
graphonflow.backend.xp_hom.DeviceUnsupported: t(K2,3) is not computed on array_api_strict arrays: the device engine has forests (edges, paths, stars, trees), cycles C_k, K4 and disjoint unions of these; compute it on the host with graphonflow.hom_density('K2,3', graphonflow.backend.to_numpy(W))
"""

from __future__ import annotations

import math

import numpy as np

from ..hom import KINDS, MAX_COST, CostError, _K4, _adjacency, _check_max_cost, _component_of, _components, \
    _cost_message, _split_batch, contraction_cost
from ..patterns import Pattern, as_pattern

__all__ = ["XPHomWorkspace", "hom_density", "hom_density_grad", "DeviceUnsupported"]


class DeviceUnsupported(ValueError):
    """A density, gradient or kind that the array-API engine does not compute."""


class XPHomWorkspace:
    """Densities and gradients of several patterns at one array-API matrix, sharing products.

    Parameters
    ----------
    B : array (m, m)
        Exactly symmetric block values of an array-API library (read them with
        :func:`graphonflow.backend.array_api.read_matrix`).
    w : array (m,), optional
        Block widths (float64, summing to 1); None: all 1/m (a matrix).
    backend : ArrayAPIBackend, optional
        Whose products to use (default: :func:`graphonflow.backend.get_backend` of B).
    max_cost : float or None
        As in :class:`graphonflow.HomWorkspace`.
    """

    def __init__(self, B, w=None, *, backend=None, max_cost=MAX_COST):
        from . import get_backend

        self.be = get_backend(B) if backend is None else backend
        self.xp = self.be.xp
        self.B = B
        self.m = B.shape[0]
        self.uniform = w is None
        self._w = None if w is None else (w if w.dtype == B.dtype else self.xp.astype(w, B.dtype))
        self.max_cost = _check_max_cost(max_cost)
        self._Q = {1: B}
        self._values = {}
        self._grads = {}
        self._K4 = None
        self._wu = None

    @property
    def _libname(self):
        return getattr(self.xp, "__name__", "array-API").replace("array_api_compat.", "")

    @property
    def w(self):
        if self._w is not None:
            return self._w
        if self._wu is None:
            self._wu = self.xp.full((self.m,), 1.0 / self.m, dtype=self.B.dtype, device=_dev(self.B))
        return self._wu

    # ------------------------------------------------------------ basic algebra
    def _wdot(self, X, Y) -> float:
        if self.uniform:
            return self.be.vdot(X, Y) / self.m**2
        w = self._w
        return float(self.xp.vecdot(w, self.xp.matmul(X * Y, w)))

    def _matvec(self, M, v):
        if self.uniform:
            return self.xp.matmul(M, v) / self.m
        return self.xp.matmul(M, self._w * v)

    def _prod(self, X, Y):
        if self.uniform:
            return self.be.gemm(1.0 / self.m, X, Y)
        return self.be.gemm(1.0, X * self._w[None, :], Y)

    def _square(self, X):
        if self.uniform:
            return self.be.sym_square(1.0 / self.m, X, symmetric=True)
        return self.be.sym_square(1.0, X * self.xp.sqrt(self._w)[None, :])

    def path_power(self, j: int):
        """Q_j = B D B D ... B (j factors), exactly symmetric; cached."""
        if j < 1:
            raise ValueError("path_power needs j >= 1")
        if j not in self._Q:
            a, b = (j + 1) // 2, j // 2
            if a == b:
                self._Q[j] = self._square(self.path_power(a))
            else:
                self._Q[j] = self.be.mirror(self._prod(self.path_power(a), self.path_power(b)))
        return self._Q[j]

    # ------------------------------------------------------------ public
    def _unsupported(self, F, what="t"):
        name = str(F)
        return DeviceUnsupported(
            f"{what}({name}) is not computed on {self._libname} arrays: the device engine has forests "
            f"(edges, paths, stars, trees), cycles C_k, K4 and disjoint unions of these; compute it on the "
            f"host with graphonflow.{'hom_density' if what == 't' else 'hom_density_grad'}"
            f"({name!r}, graphonflow.backend.to_numpy(W))")

    def _check_cost(self, F, gradient):
        if self.max_cost is None:
            return
        c = contraction_cost(F, self.m, "hom", gradient=gradient, graph=True)
        if c > self.max_cost:
            raise CostError(_cost_message(F, self.m, "hom", gradient, c, self.max_cost, True))

    def density(self, F, kind: str = "hom") -> float:
        """t(F, W) (``kind="hom"`` only; ``"inj"``/``"ind"`` raise :class:`DeviceUnsupported`)."""
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
        F = as_pattern(F)
        if kind != "hom":
            raise DeviceUnsupported(
                f"kind={kind!r} (the {'injective' if kind == 'inj' else 'induced'} density) is not computed on "
                f"{self._libname} arrays; compute it on the host with graphonflow.hom_density({str(F)!r}, "
                f"graphonflow.backend.to_numpy(W), kind={kind!r})")
        key = (F.k, F.edges)
        if key not in self._values:
            if not self._supported(F):
                raise self._unsupported(F)
            self._check_cost(F, False)
            self._values[key] = self._hom(F)
        return self._values[key]

    def grad(self, F):
        """Block values of D t(F, W), an exactly symmetric (m, m) array."""
        F = as_pattern(F)
        key = (F.k, F.edges)
        if key not in self._grads:
            if not self._supported(F):
                raise self._unsupported(F, "D t")
            self._check_cost(F, True)
            self._grads[key] = self._grad(F)
        return self._grads[key]

    # ------------------------------------------------------------ the engine
    def _supported(self, F: Pattern) -> bool:
        if F.n_edges == 0 or F.is_forest or F.is_cycle or F.edges == _K4:
            return True
        comps = _components(F)
        return len(comps) > 1 and all(self._supported(c) for c in comps)

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
        return self._wdot(self.B, self._k4_pinned())  # K4 (checked by _supported)

    def _grad(self, F: Pattern):
        xp = self.xp
        if F.n_edges == 0:
            return xp.zeros_like(self.B)
        if F.is_cycle:
            return F.k * self.path_power(F.k - 1)
        if F.edges == _K4:
            return 6.0 * self._k4_pinned()
        if F.is_forest:
            G = xp.zeros_like(self.B)
            for (a, b), size in F.edge_orbits():
                P = self._forest_pinned(F, (a, b))
                G += (0.5 * size) * (P + P.mT)
            return G
        comps = _components(F)  # a disjoint union of supported components (checked by _supported)
        vals = [self._hom(c) for c in comps]
        G = xp.zeros_like(self.B)
        for i, c in enumerate(comps):
            others = math.prod(v for j, v in enumerate(vals) if j != i)
            if others != 0.0:
                G += others * self._grad(c)
        return G

    def _message(self, adj, v, parent):
        out = self.xp.ones((self.m,), dtype=self.B.dtype, device=_dev(self.B))
        for c in adj[v]:
            if c != parent:
                out = out * self._matvec(self.B, self._message(adj, c, v))
        return out

    def _forest_value(self, F: Pattern) -> float:
        adj = _adjacency(F.k, F.edges)
        seen = set()
        val = 1.0
        for r in range(F.k):
            if r in seen:
                continue
            comp = _component_of(adj, r)
            seen |= comp
            if len(comp) > 1:
                val *= float(self.xp.vecdot(self.w, self._message(adj, r, -1)))
        return val

    def _forest_pinned(self, F: Pattern, e):
        """t_{a->x, b->y}(F - e) for a forest F: the outer product of the messages at a and b
        times the densities of the other components."""
        a, b = e
        rest = [f for f in F.edges if f != e]
        adj = _adjacency(F.k, rest)
        u = self._message(adj, a, -1)
        v = self._message(adj, b, -1)
        scale = 1.0
        seen = _component_of(adj, a) | _component_of(adj, b)
        for r in range(F.k):
            if r not in seen:
                seen |= _component_of(adj, r)
                scale = scale * self.xp.vecdot(self.w, self._message(adj, r, -1))
        return scale * (u[:, None] * v[None, :])

    def _k4_pinned(self):
        """P(x, y) = u^T B u, u_k = B[x, k] B[y, k] w_k (see :meth:`graphonflow.HomWorkspace._k4_pinned`)."""
        if self._K4 is None:
            xp, B, m, w = self.xp, self.B, self.m, self.w
            P = xp.empty_like(B)
            x0 = 0
            target_rows = max(512, m)
            while x0 < m:
                rows, x1 = 0, x0
                while x1 < m and rows < target_rows:
                    rows += m - x1
                    x1 += 1
                U = xp.concat([B[x:, :] * (B[x, :] * w)[None, :] for x in range(x0, x1)], axis=0)
                V = self.be.gemm(1.0, U, B)
                vals = xp.vecdot(U, V, axis=-1)
                del V
                r = 0
                for x in range(x0, x1):
                    P[x, x:] = vals[r:r + m - x]
                    P[x:, x] = vals[r:r + m - x]
                    r += m - x
                x0 = x1
            self._K4 = P
        return self._K4


def _dev(x):
    from .array_api import _device

    return _device(x)


# ------------------------------------------------------------------- entry points
def _workspace(W, backend, weight, quad_nodes, max_cost):
    """(XPHomWorkspace, backend) for a device input, or (None, CPU) when the call runs on the host."""
    from . import CPUBackend, is_foreign_array, resolve_backend, to_numpy
    from .array_api import _is_array_of, read_matrix

    be = resolve_backend(backend, W)
    if isinstance(be, CPUBackend):
        return None, to_numpy(W) if is_foreign_array(W) else W
    if _is_array_of(W, be.xp):
        return XPHomWorkspace(read_matrix(W, "W"), backend=be, max_cost=max_cost), None
    # a host input (array, StepGraphon, networkx graph, function) read as on the host, then moved
    from ..hom import _read_target

    if is_foreign_array(W):
        W = to_numpy(W)
    B, w, _, _ = _read_target(W, weight, quad_nodes, True)
    B = be.asarray(np.ascontiguousarray(B))
    return XPHomWorkspace(B, None if w is None else be.asarray(np.asarray(w, np.float64)), backend=be,
                          max_cost=max_cost), None


def hom_density(F, W, kind="hom", *, weight="weight", quad_nodes=64, max_cost=MAX_COST, backend=None):
    """:func:`graphonflow.hom_density` on the backend of W (or the one ``backend`` names).

    A float for one pattern, an array of W's library (shape (len(F),)) for a batch."""
    ws, host = _workspace(W, backend, weight, quad_nodes, max_cost)
    if ws is None:
        from ..hom import hom_density as host_density

        return host_density(F, host, kind, weight=weight, quad_nodes=quad_nodes, max_cost=max_cost)
    pats, batch = _split_batch(F)
    vals = [ws.density(p, kind) for p in pats]
    if batch:
        return ws.xp.asarray(vals, dtype=ws.xp.float64, device=_dev(ws.B))
    return vals[0]


def hom_density_grad(F, W, *, return_density=False, weight="weight", quad_nodes=64, max_cost=MAX_COST,
                     backend=None):
    """:func:`graphonflow.hom_density_grad` on the backend of W: gradients are arrays of its library."""
    ws, host = _workspace(W, backend, weight, quad_nodes, max_cost)
    if ws is None:
        from ..hom import hom_density_grad as host_grad

        return host_grad(F, host, return_density=return_density, weight=weight, quad_nodes=quad_nodes,
                         max_cost=max_cost)
    pats, batch = _split_batch(F)
    grads = [ws.grad(p) for p in pats]
    if return_density:
        vals = [ws.density(p) for p in pats]
        if batch:
            return ws.xp.asarray(vals, dtype=ws.xp.float64, device=_dev(ws.B)), grads
        return vals[0], grads[0]
    return grads if batch else grads[0]

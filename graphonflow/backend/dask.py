r"""A flow whose state lives on a ``dask.distributed`` cluster, cut in square chunks.

:class:`SymBlocks` is a symmetric n x n matrix stored as its upper blocks (I <= J), each a
NumPy array held by some worker (a dask future); :class:`DaskBackend` is the
:class:`~graphonflow.backend.ArrayBackend` over it.  The flow driver, the integrators and the
functionals run unchanged: every pass they ask for becomes one task per block
(:mod:`graphonflow.cluster.blocks`), every sum a per-block partial and a tree reduction, and
the products of the cycle densities (t(K3), t(C4), t(C5), ...: the path powers
Q_j = B D B ... B of :mod:`graphonflow.hom`) one task per output block that accumulates its
panel product.  Only the few floats the driver branches on (energies, squared speeds, error
norms) come back to the client.

What is supported: matrices (equal widths 1/n); non-local terms that are cycle densities,
with any entry-wise part (edge density, entropy, the rate function); every integrator but
the noisy ones; ``density=``.  Forests, K4, other patterns and :class:`~graphonflow.Custom`
terms raise a ValueError naming the supported set.

Results agree with the in-memory flow to rounding: each entry goes through the same kernel
code (a diagonal block is a square symmetric matrix for the tile kernels; an off-diagonal
block runs their row-segment code and counts twice in sums), but the products and the sums
add in another order, so entries differ by a few units in the last place per product.

Memory: a state of n = 200,000 in float64 is 160 GB as its upper half; see docs/scaling.md
for how to size chunks and workers.

>>> from graphonflow.backend.dask import chunk_bounds
>>> chunk_bounds(10, 3)
((0, 4), (4, 7), (7, 10))
"""

from __future__ import annotations

import itertools
import math
import uuid

import numpy as np

from .base import ArrayBackend

__all__ = ["DaskBackend", "SymBlocks", "chunk_bounds"]


def chunk_bounds(n: int, chunks: int):
    """Boundaries of ``chunks`` nearly equal consecutive ranges covering 0..n (sizes differ by at
    most one, the larger ones first)."""
    n, chunks = int(n), int(chunks)
    if chunks < 1 or chunks > n:
        raise ValueError(f"chunks must be between 1 and n = {n}, got {chunks}")
    q, r = divmod(n, chunks)
    out, a = [], 0
    for k in range(chunks):
        b = a + q + (1 if k < r else 0)
        out.append((a, b))
        a = b
    return tuple(out)


class _NoXP:
    """Stands in for an array namespace: the density engine of graphonflow.backend.xp_hom reaches
    for one only outside what this backend computes (forests, K4, unequal widths)."""

    __name__ = "chunked (dask)"

    def __getattr__(self, name):
        from .xp_hom import DeviceUnsupported

        raise DeviceUnsupported(
            f"the chunked dask backend does not compute this term (it has no '{name}' operation): its flows "
            "support matrices (widths 1/n) with cycle densities (K3, C4, C5, ...) and entry-wise terms (edge "
            "density, entropy, rate function)")


class SymBlocks:
    """A symmetric n x n matrix on a dask cluster: its upper blocks (I, J), I <= J.

    Made by :meth:`DaskBackend.from_array` (or by a flow); ``to_numpy()`` gathers it.  It
    supports what the integrators write: ``X += Y``, ``X -= Y``, ``X *= c``, ``X + Y``,
    ``X - Y``, ``c * X``, ``-X``.
    """

    __slots__ = ("backend", "n", "dtype", "blocks")

    def __init__(self, backend, n, dtype, blocks=None):
        self.backend = backend
        self.n = int(n)
        self.dtype = np.dtype(dtype)
        self.blocks = blocks

    def __graphonflow_backend__(self):
        return self.backend

    @property
    def shape(self):
        return (self.n, self.n)

    @property
    def ndim(self):
        return 2

    @property
    def size(self):
        return self.n * self.n

    def __len__(self):
        return self.n

    def __repr__(self):
        nb = len(self.backend.bounds)
        state = "empty" if self.blocks is None else f"{len(self.blocks)} stored blocks"
        return f"SymBlocks(n={self.n}, dtype={self.dtype.name}, {nb}x{nb} chunks, {state})"

    def _need(self):
        if self.blocks is None:
            raise ValueError("this SymBlocks holds no values yet (an uninitialised work array)")
        return self.blocks

    def copy(self):
        return SymBlocks(self.backend, self.n, self.dtype, dict(self._need()))

    def to_numpy(self):
        """The full matrix, gathered to this process (n^2 entries: only for sizes that fit)."""
        from ..cluster.blocks import assemble

        keys = list(self._need())
        arrays = self.backend.client.gather([self.blocks[k] for k in keys])
        return assemble(self.n, self.backend.bounds, dict(zip(keys, arrays)), self.dtype)

    def __array__(self, dtype=None, copy=None):
        A = self.to_numpy()
        return A if dtype is None else A.astype(dtype)

    # ---- arithmetic (what the integrators and the functionals write)
    def _binary(self, other, op):
        from ..cluster import blocks as bk

        if not isinstance(other, SymBlocks):
            raise TypeError(f"SymBlocks {op} {type(other).__name__}: only another SymBlocks of the same backend")
        return self.backend._map(bk.binary_block, op, self, other, name=op)

    def __iadd__(self, other):
        self.blocks = self._binary(other, "add").blocks
        return self

    def __isub__(self, other):
        self.blocks = self._binary(other, "sub").blocks
        return self

    def __add__(self, other):
        return self._binary(other, "add")

    def __sub__(self, other):
        return self._binary(other, "sub")

    def __imul__(self, c):
        self.blocks = self.__mul__(c).blocks
        return self

    def __mul__(self, c):
        from ..cluster import blocks as bk

        if isinstance(c, SymBlocks) or not np.isscalar(c):
            return NotImplemented
        return self.backend._map(bk.scale_block, self, float(c), name="scale")

    __rmul__ = __mul__

    def __neg__(self):
        return self.__mul__(-1.0)


def _pairs(nb):
    return [(I, J) for I in range(nb) for J in range(I, nb)]


class DaskBackend(ArrayBackend):
    """The passes of a flow step over :class:`SymBlocks` on a ``dask.distributed`` client.

    Parameters
    ----------
    client : dask.distributed.Client
    chunks : int
        Chunks per side: the matrix is cut into chunks x chunks blocks of nearly equal size, of
        which chunks (chunks + 1) / 2 are stored.
    n : int, optional
        The matrix size, if known (else fixed by the first matrix read).
    panel : int, optional
        Terms per product task: each output block of a product is summed by a chain of tasks
        over ``panel`` blocks of its row and column panels each, so that a task holds
        2 panel + 2 blocks.  Default: the whole panel in one task (2 chunks + 2 blocks).  The
        result does not depend on it (the additions are the same, in the same order).

    Use it as ``flow(F, W0, backend=DaskBackend(client, chunks=4), ...)`` or through
    :func:`graphonflow.cluster.chunked.chunked_flow`.
    """

    name = "dask"

    def __init__(self, client, chunks, n=None, panel=None):
        if isinstance(chunks, bool) or int(chunks) != chunks or int(chunks) < 1:
            raise ValueError(f"chunks must be a positive integer (chunks per side), got {chunks!r}")
        if panel is not None and (isinstance(panel, bool) or int(panel) != panel or int(panel) < 1):
            raise ValueError(f"panel must be a positive integer (blocks per product task), got {panel!r}")
        self.client = client
        self.chunks = int(chunks)
        self.panel = None if panel is None else min(int(panel), self.chunks)
        self.n = None
        self.bounds = None
        self.pairs = None
        self.xp = _NoXP()
        self._ops = itertools.count()
        if n is not None:
            self._fix(n)

    def __repr__(self):
        return f"DaskBackend({self.chunks}x{self.chunks} chunks" + (f", n={self.n})" if self.n else ")")

    def _fix(self, n):
        n = int(n)
        if self.n is None:
            self.n = n
            self.bounds = chunk_bounds(n, self.chunks)
            self.pairs = _pairs(self.chunks)
        elif n != self.n:
            raise ValueError(f"this DaskBackend is cut for n = {self.n}, got a matrix of size {n}")

    # ------------------------------------------------------------------ task plumbing
    def _key(self, name):
        return f"graphonflow-{name}-{next(self._ops)}-{uuid.uuid4().hex[:8]}"

    def _arg(self, x, IJ):
        return x.blocks[IJ] if isinstance(x, SymBlocks) else x

    def _map(self, fn, *args, name, dtype=None, extra=None, like=None):
        """A new SymBlocks whose block (I, J) is ``fn(*args_IJ, *extra(I, J))``: SymBlocks
        arguments are replaced by their block, anything else passed as is."""
        like = like or next(a for a in args if isinstance(a, SymBlocks))
        key = self._key(name)
        out = {}
        for IJ in self.pairs:
            a = [self._arg(x, IJ) for x in args]
            if extra is not None:
                a += list(extra(*IJ))
            out[IJ] = self.client.submit(fn, *a, key=f"{key}-{IJ[0]}-{IJ[1]}", pure=False)
        return SymBlocks(self, like.n, like.dtype if dtype is None else dtype, out)

    def _split(self, tuples, n_out):
        """From a dict of futures of tuples, n_out dicts of futures (one per tuple item)."""
        import operator

        outs = [{} for _ in range(n_out)]
        for IJ, f in tuples.items():
            for k in range(n_out):
                outs[k][IJ] = self.client.submit(operator.getitem, f, k, key=f"{f.key}-{k}", pure=False)
        return outs

    def _scalars(self, fn, *args, name, extra=None):
        """Futures of ``fn(*args_IJ, *extra(I, J))`` per block, in block order."""
        key = self._key(name)
        futs = []
        for IJ in self.pairs:
            a = [self._arg(x, IJ) for x in args]
            if extra is not None:
                a += list(extra(*IJ))
            futs.append(self.client.submit(fn, *a, key=f"{key}-{IJ[0]}-{IJ[1]}", pure=False))
        return futs

    def _sum(self, futs):
        from ..cluster.blocks import tree_sum

        return float(tree_sum(self.client, futs).result())

    def _max(self, futs):
        from ..cluster.blocks import tree_max

        return float(tree_max(self.client, futs).result())

    def _diag(self, I, J):
        return (I == J,)

    def _w(self, w):
        bounds = self.bounds

        def extra(I, J):
            (a, b), (c, d) = bounds[I], bounds[J]
            return (w[a:b], w[c:d], I == J)

        return extra

    def _shape(self, I, J):
        (a, b), (c, d) = self.bounds[I], self.bounds[J]
        return (b - a, d - c)

    @staticmethod
    def _check(X):
        if not isinstance(X, SymBlocks):
            raise TypeError(f"the dask backend works on SymBlocks, got {type(X).__name__}")
        return X._need()

    # ------------------------------------------------------------------ data
    def from_array(self, A, dtype=None):
        """A SymBlocks from a symmetric NumPy array or a square ``dask.array`` (its upper triangle
        is read, block by block on the workers for a dask array).  ``dtype``: float32 or
        float64 (default: A's when it is one of them, else float64)."""
        from ..cluster import blocks as bk

        shape = tuple(getattr(A, "shape", ()))
        if len(shape) != 2 or shape[0] != shape[1]:
            raise ValueError(f"W0 must be a square matrix, got shape {shape}")
        n = shape[0]
        self._fix(n)
        dt = np.dtype(dtype) if dtype is not None else (np.dtype(A.dtype) if np.dtype(A.dtype) in
                                                        (np.float32, np.float64) else np.dtype(np.float64))
        if dt not in (np.float32, np.float64):
            raise ValueError(f"dtype must be float32 or float64, got {dt}")
        out = {}
        if _is_dask_array(A):
            for (I, J) in self.pairs:
                (a, b), (c, d) = self.bounds[I], self.bounds[J]
                piece = self.client.compute(A[a:b, c:d])
                out[(I, J)] = self.client.submit(bk.astype_block, piece, dt, I == J, pure=False,
                                                 key=self._key(f"read-{I}-{J}"))
        else:
            A = np.asarray(A)
            for (I, J) in self.pairs:
                (a, b), (c, d) = self.bounds[I], self.bounds[J]
                blk = bk.astype_block(A[a:b, c:d], dt, I == J)
                out[(I, J)] = self.client.scatter(blk, hash=False)
        return SymBlocks(self, n, dt, out)

    def read_initial(self, W0, dtype):
        """(B, w, uniform, scalar type) for the flow driver: ``W0`` a :class:`SymBlocks`, a square
        ``dask.array`` or anything :func:`graphonflow.flow.problem.read_initial` reads with equal
        widths (an n x n array; a StepGraphon of equal widths)."""
        if dtype is not None and np.dtype(dtype) not in (np.float32, np.float64):
            raise ValueError(f"dtype must be float32 or float64, got {np.dtype(dtype)}")
        if isinstance(W0, SymBlocks):
            if W0.backend is not self:
                raise ValueError("W0 is a SymBlocks of another DaskBackend; use its backend (backend=W0.backend)")
            B = W0.copy() if dtype is None or np.dtype(dtype) == W0.dtype else self._map(
                _astype, W0, np.dtype(dtype), name="astype", dtype=np.dtype(dtype), extra=self._diagx)
        elif _is_dask_array(W0):
            B = self.from_array(W0, dtype)
        else:
            from ..flow.problem import read_initial as host_read

            Bh, wh, uniform, st = host_read(W0, dtype)
            if not uniform:
                raise ValueError("the chunked dask backend runs flows of matrices (equal widths 1/n); W0 has "
                                 "unequal block widths")
            B = self.from_array(Bh, Bh.dtype)
        w = np.full(B.n, 1.0 / B.n)
        return B, w, True, B.dtype.type

    def _diagx(self, I, J):
        return (I == J,)

    def copy(self, X):
        return X.copy()

    def asarray(self, x):
        return x if isinstance(x, SymBlocks) else self.from_array(x)

    def to_numpy(self, x):
        return x.to_numpy()

    # ------------------------------------------------------------------ products (xp_hom)
    def _product(self, alpha, X, Y, square):
        from ..cluster.blocks import product_block

        bx, by = self._check(X), self._check(Y)
        nb = self.chunks
        p = nb if self.panel is None else self.panel
        key = self._key("square" if square else "product")
        out = {}
        for (I, J) in self.pairs:
            xs = [bx[(min(I, k), max(I, k))] for k in range(nb)]
            xt = [I > k for k in range(nb)]
            sq = square and I == J
            if sq:
                ys, yt = xs, xt
            else:
                ys = [by[(min(k, J), max(k, J))] for k in range(nb)]
                yt = [k > J for k in range(nb)]
            acc = None
            for k0 in range(0, nb, p):  # a chain of tasks over K, p terms each (one task by default)
                k1 = min(nb, k0 + p)
                acc = self.client.submit(product_block, alpha, xs[k0:k1], xt[k0:k1], ys[k0:k1], yt[k0:k1], sq,
                                         acc, k1 == nb, key=f"{key}-{I}-{J}-{k0}", pure=False)
            out[(I, J)] = acc
        return SymBlocks(self, X.n, np.result_type(X.dtype, Y.dtype), out)

    def gemm(self, alpha, X, Y):
        """alpha X Y (both symmetric), its upper blocks; the diagonal blocks are not mirrored
        (:meth:`mirror` does that, as for a general product)."""
        return self._product(float(alpha), X, Y, False)

    def sym_square(self, alpha, X, symmetric=False):
        """alpha X X^T = alpha X^2 for a symmetric X, exactly symmetric."""
        if not symmetric:
            raise ValueError("the chunked dask backend squares symmetric matrices only (equal widths)")
        return self._product(float(alpha), X, X, True)

    def mirror(self, X):
        """In place: every diagonal block mirrored from its upper triangle."""
        from ..cluster.blocks import astype_block

        b = self._check(X)
        key = self._key("mirror")
        for I in range(self.chunks):
            b[(I, I)] = self.client.submit(astype_block, b[(I, I)], X.dtype, True, key=f"{key}-{I}", pure=False)
        return X

    def vdot(self, X, Y) -> float:
        from ..cluster.blocks import vdot_block

        self._check(X), self._check(Y)
        return self._sum(self._scalars(vdot_block, X, Y, name="vdot", extra=self._diagx))

    def fmin(self, X) -> float:
        from ..cluster.blocks import fmin_block

        self._check(X)
        return -self._max(self._scalars(fmin_block, X, name="min"))  # the blocks give -min

    def fmax(self, X) -> float:
        from ..cluster.blocks import fmax_block

        self._check(X)
        return self._max(self._scalars(fmax_block, X, name="max"))

    def fsum(self, X) -> float:
        from ..cluster.blocks import fsum_block

        self._check(X)
        return self._sum(self._scalars(fsum_block, X, name="sum", extra=self._diagx))

    # ------------------------------------------------------------------ fused passes
    def _step(self, fn, B, G, w, dt, out, kw, name):
        self._check(B)
        if G is not None:
            self._check(G)
        key = self._key(name)
        ex = self._w(w)
        tuples = {}
        for IJ in self.pairs:
            g = None if G is None else G.blocks[IJ]
            tuples[IJ] = self.client.submit(fn, B.blocks[IJ], g, *ex(*IJ), dt, **kw, key=f"{key}-{IJ[0]}-{IJ[1]}",
                                            pure=False)
        pg2 = self._sum([tuples[IJ] for IJ in self.pairs])
        out = self.empty_like(B) if out is None else out
        out.blocks = tuples
        return out, pg2

    def euler_pass(self, B, G, w, dt, *, gscale, alpha, beta, lo, hi, out, symmetric_G=False):
        from ..cluster.blocks import euler_block

        return self._step(euler_block, B, G, w, float(dt),
                          out, dict(gscale=float(gscale), alpha=float(alpha), beta=float(beta), lo=float(lo),
                                    hi=float(hi)), "euler")

    def prox_pass(self, B, G, w, dt, *, gscale, alpha, beta, lo, hi, out):
        from ..cluster.blocks import prox_block

        if alpha < 0:
            raise ValueError("the proximal step needs a convex local part (alpha >= 0)")
        return self._step(prox_block, B, G, w, float(dt),
                          out, dict(gscale=float(gscale), alpha=float(alpha), beta=float(beta), lo=float(lo),
                                    hi=float(hi)), "prox")

    # ------------------------------------------------------------------ reductions
    def speed2(self, B, G, w, *, gscale, alpha, beta, lo, hi):
        from ..cluster.blocks import pg2_block

        self._check(B)
        ex = self._w(w)
        kw = dict(gscale=float(gscale), alpha=float(alpha), beta=float(beta), lo=float(lo), hi=float(hi))
        key = self._key("speed2")
        futs = [self.client.submit(pg2_block, B.blocks[IJ], None if G is None else G.blocks[IJ], *ex(*IJ), **kw,
                                   key=f"{key}-{IJ[0]}-{IJ[1]}", pure=False) for IJ in self.pairs]
        return self._sum(futs)

    def constrained_speed2(self, B, G, w, *, gscale, alpha, beta, lo, hi):
        from .. import _kernels
        from ..cluster.blocks import cpg_stats_block

        self._check(B)
        ex = self._w(w)
        kw = dict(gscale=float(gscale), alpha=float(alpha), beta=float(beta), lo=float(lo), hi=float(hi))

        def stats(lam):
            key = self._key("cpg")
            futs = [self.client.submit(cpg_stats_block, B.blocks[IJ], None if G is None else G.blocks[IJ],
                                       *ex(*IJ), float(lam), **kw, key=f"{key}-{IJ[0]}-{IJ[1]}", pure=False)
                    for IJ in self.pairs]
            rows = self.client.gather(futs)  # six numbers per block, combined here in block order
            s = [0.0, 0.0, 0.0, 0.0]
            for r in rows:
                for k in range(4):
                    s[k] += r[k]
            return s[0], s[1], s[2], s[3], min(r[4] for r in rows), max(r[5] for r in rows)

        return float(_kernels._constrained_root(stats)[0])

    def local_value(self, B, w, alpha, beta, gamma):
        from ..cluster.blocks import local_value_block

        self._check(B)
        ex = self._w(w)
        key = self._key("local")
        futs = [self.client.submit(local_value_block, B.blocks[IJ], *ex(*IJ), float(alpha), float(beta), float(gamma),
                                   key=f"{key}-{IJ[0]}-{IJ[1]}", pure=False) for IJ in self.pairs]
        return self._sum(futs)

    def shifted_mean(self, B, w, lam, lo, hi):
        from ..cluster.blocks import shifted_mean_block

        self._check(B)
        ex = self._w(w)
        key = self._key("shifted")
        futs = [self.client.submit(shifted_mean_block, B.blocks[IJ], *ex(*IJ), float(lam), float(lo), float(hi),
                                   key=f"{key}-{IJ[0]}-{IJ[1]}", pure=False) for IJ in self.pairs]
        return self._sum(futs)

    def apply_shift(self, B, lam, lo, hi):
        from ..cluster.blocks import apply_shift_block

        B.blocks = self._map(apply_shift_block, B, name="shift", extra=lambda I, J: (I == J, float(lam), float(lo),
                                                                                      float(hi))).blocks
        return B

    def error_norm(self, err, y0, y1, rtol, atol, norm):
        from ..cluster.blocks import error_norm_block

        self._check(err)
        futs = self._scalars(error_norm_block, err, y0, y1, float(rtol), float(atol), norm, name="errnorm",
                             extra=self._diagx)
        if norm == "max":
            return self._max(futs)
        return math.sqrt(self._sum(futs) / (float(err.n) * err.n))

    def all_finite(self, X) -> bool:
        from ..cluster.blocks import all_finite_block

        self._check(X)
        futs = self._scalars(all_finite_block, X, name="finite")  # 1.0 or 0.0 per block
        return self._sum(futs) == len(futs)

    # ------------------------------------------------------------------ stage algebra
    def empty_like(self, X):
        return SymBlocks(self, X.n, X.dtype, None)

    def _into(self, out, new):
        out.blocks = new.blocks
        return out

    def lincomb(self, out, base, terms):
        from ..cluster.blocks import lincomb_block

        terms = [(float(c), X) for c, X in terms if c != 0.0]
        coefs = [c for c, _ in terms]
        Xs = [X for _, X in terms]
        self._check(base)
        new = {}
        key = self._key("lincomb")
        for IJ in self.pairs:
            new[IJ] = self.client.submit(lincomb_block, base.blocks[IJ], coefs, [X.blocks[IJ] for X in Xs],
                                         key=f"{key}-{IJ[0]}-{IJ[1]}", pure=False)
        out.blocks = new
        return out

    def scaled_sym(self, out, G, scale):
        from ..cluster.blocks import scaled_sym_block

        return self._into(out, self._map(scaled_sym_block, G, float(scale), name="scaled", extra=self._diagx))

    def local_velocity(self, out, B, alpha, beta):
        from ..cluster.blocks import local_velocity_block

        return self._into(out, self._map(local_velocity_block, B, float(alpha), float(beta), name="lvel"))

    def clip(self, X, lo, hi, out):
        from ..cluster.blocks import clip_block

        return self._into(out, self._map(clip_block, X, float(lo), float(hi), name="clip"))

    def project_velocity(self, V, B, lo, hi):
        from ..cluster.blocks import project_velocity_block

        return self._into(V, self._map(project_velocity_block, V, B, float(lo), float(hi), name="pvel"))

    def held_mask(self, V, B, lo, hi):
        from ..cluster.blocks import held_block

        self._check(V)
        masks = self._map(held_block, V, B, float(lo), float(hi), name="held", dtype=np.bool_)
        if self._max([masks.blocks[IJ] for IJ in self.pairs]) == 0.0:
            return None
        return masks

    def zero_where(self, X, mask):
        from ..cluster.blocks import zero_where_block

        if mask is None:
            return X
        return self._into(X, self._map(zero_where_block, X, mask, name="zero", like=X))

    def clipped_error(self, out, err, lo, hi, scratch):
        from ..cluster.blocks import clipped_error_block

        tuples = self._map(clipped_error_block, out, err, float(lo), float(hi), name="cliperr")
        kept, e = self._split(tuples.blocks, 2)
        out.blocks, err.blocks = kept, e
        return out, err

    def fill(self, X, value):
        from ..cluster.blocks import fill_block

        key = self._key("fill")
        X.blocks = {IJ: self.client.submit(fill_block, self._shape(*IJ), X.dtype, float(value),
                                           key=f"{key}-{IJ[0]}-{IJ[1]}", pure=False) for IJ in self.pairs}
        return X

    def add(self, out, X, Y):
        from ..cluster.blocks import binary_block

        return self._into(out, self._map(binary_block, "add", X, Y, name="add"))

    def subtract(self, out, X, Y):
        from ..cluster.blocks import binary_block

        return self._into(out, self._map(binary_block, "sub", X, Y, name="sub"))

    def scale(self, out, X, c):
        from ..cluster.blocks import scale_block

        return self._into(out, self._map(scale_block, X, float(c), name="scale"))

    def full_grad(self, B, G, gscale, alpha, beta):
        from ..cluster.blocks import full_grad_block

        key = self._key("fullgrad")
        blocks = {IJ: self.client.submit(full_grad_block, B.blocks[IJ], None if G is None else G.blocks[IJ],
                                         float(gscale), float(alpha), float(beta), IJ[0] == IJ[1],
                                         key=f"{key}-{IJ[0]}-{IJ[1]}", pure=False) for IJ in self.pairs}
        return SymBlocks(self, B.n, np.float64, blocks)

    def heun_combine(self, out, B, D, h, lo, hi):
        from ..cluster.blocks import heun_block

        new = self._map(heun_block, B, D, float(h), float(lo), float(hi), name="heun", like=B)
        if self._sum([new.blocks[IJ] for IJ in self.pairs]) < len(self.pairs):
            return False
        out.blocks = new.blocks
        return True

    # ------------------------------------------------------------------ functionals
    def local_grad(self, B, alpha, beta):
        from ..cluster.blocks import full_grad_block

        return self._map(full_grad_block, B, None, 0.0, float(alpha), float(beta), name="lgrad",
                         extra=self._diagx)

    def combine_grad(self, B, alpha, beta, terms, cast=True):
        D = self.local_grad(B, alpha, beta)
        for c, (g, s) in terms:
            D += (c * s) * g
        return D

    def checked_grad(self, G, B, who, allow_nonfinite):
        raise ValueError(f"{who}: Custom terms do not run on the chunked dask backend (it computes cycle densities "
                         "and entry-wise terms)")

    def noisy_euler_pass(self, *a, **k):
        raise ValueError("noisy flows do not run on the chunked dask backend")


def _astype(X, dtype, diag):
    from ..cluster.blocks import astype_block

    return astype_block(X, dtype, diag)


def _is_dask_array(x):
    t = type(x)
    return t.__module__.split(".")[0] == "dask" and t.__name__ == "Array"

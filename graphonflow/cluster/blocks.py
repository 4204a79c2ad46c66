r"""Per-block work of a chunked flow: what one cluster task does to one block.

A symmetric n x n matrix of block values is cut into square chunks by the boundaries
``0 = b_0 < b_1 < ... < b_N = n``; only the blocks (I, J) with I <= J are stored
(:class:`graphonflow.backend.dask.SymBlocks`).  A block on the diagonal is a symmetric square
matrix in its own right; an off-diagonal block stands for itself and for its transpose.

The entry-wise passes use the kernels of :mod:`graphonflow._kernels`:

* a **diagonal block** is handed to the serial tile kernels unchanged (with the widths of its
  rows): they read its upper triangle, write both triangles and reduce over the whole block;
* an **off-diagonal block** runs the same per-row-segment code (``_grad_segment``,
  ``_prox_segment``, ``_local_segment``) over its full rows, writes no mirror (the transposed
  block is not stored) and counts every entry twice in its sums.

So every entry is computed by the same arithmetic as in the in-memory pass, and the blocked
state stays exactly symmetric by construction.  Sums (energies, squared speeds, error norms)
are reduced per block and then across blocks by :func:`tree_sum` / :func:`tree_max` in a
fixed order, so a run is reproducible; they differ from the in-memory sums only by the order
of the additions.

The products compute each output block by one chain of tasks (:func:`product_block`):

.. math::  (X D Y)_{IJ} = \alpha \sum_K X_{IK} Y_{KJ},

with X_{IK} = X_{KI}^T for I > K read from the stored block, accumulated over K in one
buffer.  By default one task sums the whole panel: it holds the 2N blocks of its row and
column panels (2 n c entries for chunks of c rows), one output block and one product buffer.
With ``panel=p`` (:class:`~graphonflow.backend.dask.DaskBackend`) a chain of tasks sums p
terms each, so a task holds 2p + 2 blocks whatever n is; the additions are the same, in the
same order, so the result does not depend on p.  Either way exactly one accumulator per
output block is alive: dask.array's generic ``dot``/``matmul`` either brings whole panels
together (memory growing with the array, dask issue #6916) or makes every partial product
X_{IK} Y_{KJ} a task of its own, which the scheduler may hold many of at once before the
sums run (the out-of-memory kills of dask issue #3732).

Every task runs on one thread: a BLAS limit of one thread is set once per worker process
and the serial Numba kernels are called; the cluster's parallelism is its tasks.

>>> import numpy as np
>>> from graphonflow.cluster.blocks import euler_block
>>> B = np.full((3, 2), 0.5); w = np.full(2, 0.25)
>>> r = euler_block(B, None, np.full(3, 0.25), w, False, 0.1, gscale=0.0, alpha=0.0, beta=-1.0,
...                 lo=0.0, hi=1.0)
>>> float(r.array[0, 0]), round(r.value, 12)     # 0.5 + 0.1; 2 * (3 * 2 entries) * 0.25^2 * 1^2
(0.6, 0.75)
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .. import _kernels as K
from .._linalg import _mirror_lower_from_upper

__all__ = ["euler_block", "prox_block", "pg2_block", "local_value_block", "product_block", "tree_sum", "tree_max",
           "FANIN"]

#: partial results combined per reduction task
FANIN = 8


class Part:
    """A block together with a number computed in the same pass (its share of a sum): one task
    result that serves both as the block of the new state and as a partial of the reduction,
    so that no extra task splits them."""

    __slots__ = ("array", "value")

    def __init__(self, array, value):
        self.array, self.value = array, value

    def __getstate__(self):
        return (self.array, self.value)

    def __setstate__(self, st):
        self.array, self.value = st


def arr(x):
    """The array of a block result (a :class:`Part` or an array)."""
    return x.array if isinstance(x, Part) else x


def val(x):
    """The number of a partial result (a :class:`Part` or a number)."""
    return x.value if isinstance(x, Part) else x

_ONE_THREAD = []


def one_blas_thread():
    """On a dask worker: limit every loaded BLAS of the process to one thread (once per process).
    Elsewhere (a block function called directly) nothing changes."""
    if not _ONE_THREAD:
        try:
            from distributed import get_worker

            get_worker()
        except (ImportError, ValueError):
            return
        from threadpoolctl import threadpool_limits

        _ONE_THREAD.append(threadpool_limits(limits=1, user_api="blas"))


# --------------------------------------------------------------------------- rectangular kernels
@njit(cache=True, fastmath={"reassoc"}, error_model="numpy")
def _wsum(w, q, n):
    acc = 0.0
    for k in range(n):
        acc += w[k] * q[k]
    return acc


@njit(cache=True, error_model="numpy")
def _rect_euler(B, G, gscale, wI, wJ, dt, alpha, beta, lo, hi, out):
    p, q = B.shape
    gb = np.empty(q)
    qb = np.empty(q)
    fb = np.empty(q, dtype=np.bool_)
    part = 0.0
    for i in range(p):
        Bi = B[i]
        K._grad_segment(Bi, G[i], q, gscale, alpha, beta, lo, hi, gb, qb, fb)
        Oi = out[i]
        for k in range(q):
            Oi[k] = min(max(np.float64(Bi[k]) - dt * gb[k], lo), hi)
        part += wI[i] * _wsum(wJ, qb, q)
    return 2.0 * part


@njit(cache=True, error_model="numpy")
def _rect_pg2(B, G, gscale, wI, wJ, alpha, beta, lo, hi):
    p, q = B.shape
    gb = np.empty(q)
    qb = np.empty(q)
    fb = np.empty(q, dtype=np.bool_)
    part = 0.0
    for i in range(p):
        K._grad_segment(B[i], G[i], q, gscale, alpha, beta, lo, hi, gb, qb, fb)
        part += wI[i] * _wsum(wJ, qb, q)
    return 2.0 * part


@njit(cache=True, error_model="numpy", fastmath={"contract"})
def _rect_prox(B, G, gscale, wI, wJ, dt, alpha, beta, lo, hi, out):
    p, q = B.shape
    xb = np.empty(q)
    qb = np.empty(q)
    sb = np.empty(q)
    zb = np.empty(q)
    fb = np.empty(q, dtype=np.bool_)
    ta = dt * alpha
    ita = 1.0 / ta if alpha != 0.0 else 0.0
    part = 0.0
    for i in range(p):
        K._prox_segment(B[i], G[i], q, gscale, dt, alpha, beta, lo, hi, ta, ita, xb, qb, sb, zb, fb)
        Oi = out[i]
        for k in range(q):
            Oi[k] = xb[k]
        part += wI[i] * _wsum(wJ, qb, q)
    return 2.0 * part


@njit(cache=True, error_model="numpy")
def _rect_local_value(B, wI, wJ, alpha, beta, gamma):
    p, q = B.shape
    qb = np.empty(q)
    fb = np.empty(q, dtype=np.bool_)
    part = 0.0
    for i in range(p):
        K._local_segment(B[i], q, alpha, beta, gamma, qb, fb)
        part += wI[i] * _wsum(wJ, qb, q)
    return 2.0 * part


# --------------------------------------------------------------------------- one block
def _G(B, G, gscale):
    return (B, 0.0) if G is None else (G, float(gscale))


def euler_block(B, G, wI, wJ, diag, dt, *, gscale, alpha, beta, lo, hi):
    """Part(new block, its share of the squared speed) of one projected Euler step."""
    B, G = arr(B), arr(G)
    G, gscale = _G(B, G, gscale)
    out = np.empty_like(B)
    if diag:
        part = K._euler_kernel_serial(B, G, gscale, wI, dt, alpha, beta, lo, hi, out, K._tiles(B.shape[0]), K.TILE)
    else:
        part = _rect_euler(B, G, gscale, wI, wJ, dt, alpha, beta, lo, hi, out)
    return Part(out, float(part))


def prox_block(B, G, wI, wJ, diag, dt, *, gscale, alpha, beta, lo, hi):
    """Part(new block, its share of the squared speed) of one forward-backward step."""
    B, G = arr(B), arr(G)
    G, gscale = _G(B, G, gscale)
    out = np.empty_like(B)
    if diag:
        part = K._prox_kernel_serial(B, G, gscale, wI, dt, alpha, beta, lo, hi, out, K._tiles(B.shape[0]), K.TILE)
    else:
        part = _rect_prox(B, G, gscale, wI, wJ, dt, alpha, beta, lo, hi, out)
    return Part(out, float(part))


def pg2_block(B, G, wI, wJ, diag, *, gscale, alpha, beta, lo, hi):
    """The block's share of sum_ij w_i w_j (P_B DF)_ij^2."""
    B, G = arr(B), arr(G)
    G, gscale = _G(B, G, gscale)
    if diag:
        return float(K._pg2_kernel_serial(B, G, gscale, wI, alpha, beta, lo, hi, K._tiles(B.shape[0]), K.TILE))
    return float(_rect_pg2(B, G, gscale, wI, wJ, alpha, beta, lo, hi))


def local_value_block(B, wI, wJ, diag, alpha, beta, gamma):
    """The block's share of sum_ij w_i w_j phi(B_ij)."""
    B = arr(B)
    if diag:
        return float(K._local_value_kernel_serial(B, wI, alpha, beta, gamma, K._tiles(B.shape[0]), K.TILE))
    return float(_rect_local_value(B, wI, wJ, alpha, beta, gamma))


def shifted_mean_block(B, wI, wJ, diag, lam, lo, hi):
    """The block's share of sum_ij w_i w_j clip(B_ij + lam, lo, hi)."""
    B = arr(B)
    if diag:
        return float(K._shifted_mean_kernel_serial(B, wI, lam, lo, hi, K._tiles(B.shape[0]), K.TILE))
    return 2.0 * float(wI @ np.clip(B.astype(np.float64) + lam, lo, hi) @ wJ)


def apply_shift_block(B, diag, lam, lo, hi):
    out = np.array(arr(B), copy=True)
    if diag:
        K._apply_shift_kernel_serial(out, lam, lo, hi, K._tiles(out.shape[0]), K.TILE)
    else:
        np.clip(out + lam, lo, hi, out=out)
    return out


def cpg_stats_block(B, G, wI, wJ, diag, lam, *, gscale, alpha, beta, lo, hi):
    """The six statistics of the shifted projected velocity on one block (see
    :func:`graphonflow._kernels._cpg_tile`): weighted sums of v, v^2, the free weight, |v|,
    then min and max of DF."""
    B, G = arr(B), arr(G)
    G, gscale = _G(B, G, gscale)
    B64 = B.astype(np.float64)
    D = gscale * np.asarray(G, dtype=np.float64) + beta
    if diag:
        D = gscale * K._sym_upper(np.asarray(G, dtype=np.float64)) + beta
    if alpha != 0.0:
        with np.errstate(divide="ignore", invalid="ignore"):
            D = D + alpha * np.log(B64 / (1.0 - B64))
    V = lam - D
    held = ((B64 <= lo) & (V <= 0.0)) | ((B64 >= hi) & (V >= 0.0))
    V = np.where(held, 0.0, V)
    free = np.where(held, 0.0, 1.0)
    Wt = np.outer(wI, wJ) * (1.0 if diag else 2.0)
    return (float((Wt * V).sum()), float((Wt * V * V).sum()), float((Wt * free).sum()),
            float((Wt * np.abs(V)).sum()), float(D.min()), float(D.max()))


# --------------------------------------------------------------------------- products
def product_block(alpha, xs, xt, ys, yt, square=False, acc=None, last=True):
    r"""One output block of alpha X D Y: ``alpha * sum_K op(xs[K]) @ op(ys[K])`` with op the
    transpose where ``xt[K]`` (``yt[K]``) says so, accumulated in K order in one buffer.

    ``square``: the product is X X^T on a diagonal block (each term ``a @ a.T``, one BLAS
    ``syrk``), and the result is mirrored from its upper triangle (exactly symmetric).

    A long sum can be split over a chain of tasks: ``acc`` is the sum of the terms before
    these (from the previous task of the chain; copied, not modified), and only the ``last``
    task scales by alpha and mirrors.  The additions happen in the same order however the
    terms are split, so the result does not depend on the split."""
    one_blas_thread()
    out = None if acc is None else np.array(arr(acc), copy=True)
    tmp = None
    for a, ta, b, tb in zip(xs, xt, ys, yt):
        a, b = arr(a), arr(b)
        a = a.T if ta else a
        if square:
            t = a @ a.T
        else:
            b = b.T if tb else b
            if out is None:
                t = np.matmul(a, b)
            else:
                if tmp is None:
                    tmp = np.empty_like(out)
                t = np.matmul(a, b, out=tmp)
        if out is None:
            out = np.ascontiguousarray(t)
        else:
            out += t
    if last:
        if square:
            _mirror_lower_from_upper(out)
        if alpha != 1.0:
            out *= alpha
    return out


# --------------------------------------------------------------------------- reductions
def _sum(parts):
    acc = 0.0
    for p in parts:
        acc += val(p)
    return acc


def _max(parts):
    return max(val(p) for p in parts)


def tree_reduce(client, futures, op, fanin=FANIN):
    """Reduce a list of futures (or floats) with ``op`` over groups of ``fanin``, level by level,
    on the cluster; returns one future.  The grouping depends on the count only, so the result
    is reproducible."""
    level = list(futures)
    if not level:
        raise ValueError("nothing to reduce")
    while len(level) > 1:
        level = [client.submit(op, level[k:k + fanin], pure=False) for k in range(0, len(level), fanin)]
    return level[0]


def tree_sum(client, futures):
    return tree_reduce(client, futures, _sum)


def tree_max(client, futures):
    return tree_reduce(client, futures, _max)


# --------------------------------------------------------------------------- small entry-wise tasks
def lincomb_block(base, coefs, blocks):
    out = np.array(arr(base), copy=True)
    for c, X in zip(coefs, blocks):
        out += c * arr(X)
    return out


def scaled_sym_block(G, scale, diag):
    out = np.multiply(arr(G), scale)
    if diag:
        _mirror_lower_from_upper(out)
    return out


def local_velocity_block(B, alpha, beta):
    B = arr(B)
    out = np.empty_like(B)
    if alpha != 0.0:
        np.divide(B, 1.0 - B, out=out)
        np.log(out, out=out)
        out *= -alpha
        out -= beta
    else:
        out.fill(-beta)
    return out


def clip_block(X, lo, hi):
    return np.clip(arr(X), lo, hi)


def project_velocity_block(V, B, lo, hi):
    V, B = np.array(arr(V), copy=True), arr(B)
    V[(B <= lo) & (V < 0)] = 0.0
    V[(B >= hi) & (V > 0)] = 0.0
    return V


def held_block(V, B, lo, hi):
    V, B = arr(V), arr(B)
    M = ((B <= lo) & (V < 0)) | ((B >= hi) & (V > 0))
    return Part(M, float(M.any()))


def zero_where_block(X, M):
    X = np.array(arr(X), copy=True)
    X[arr(M)] = 0.0
    return X


def clipped_error_block(out, err, lo, hi):
    out, err = arr(out), arr(err)
    emb = np.clip(out - err, lo, hi)
    kept = np.clip(out, lo, hi)
    return kept, kept - emb


def error_norm_block(err, y0, y1, rtol, atol, norm, diag):
    err, y0, y1 = arr(err), arr(y0), arr(y1)
    scale = np.maximum(np.abs(y0), np.abs(y1))
    scale *= rtol
    scale += atol
    ratio = np.abs(err)
    ratio /= scale
    if norm == "max":
        return float(ratio.max())
    s = float(np.square(ratio).sum())
    return s if diag else 2.0 * s


def all_finite_block(X):
    return float(np.isfinite(arr(X)).all())


def vdot_block(X, Y, diag):
    v = float(np.vdot(arr(X), arr(Y)))
    return v if diag else 2.0 * v


def fmin_block(X):
    return -float(arr(X).min())


def fmax_block(X):
    return float(arr(X).max())


def fsum_block(X, diag):
    s = float(arr(X).sum(dtype=np.float64))
    return s if diag else 2.0 * s


def binary_block(op, X, Y):
    X, Y = arr(X), arr(Y)
    if op == "add":
        return X + Y
    if op == "sub":
        return X - Y
    raise ValueError(op)


def scale_block(X, c):
    return arr(X) * c


def fill_block(shape, dtype, value):
    return np.full(shape, value, dtype=dtype)


def astype_block(X, dtype, diag):
    out = np.array(arr(X), dtype=dtype, order="C", copy=True)
    if diag:
        _mirror_lower_from_upper(out)
    return out


def slice_block(A, r0, r1, c0, c1, dtype, diag):
    return astype_block(A[r0:r1, c0:c1], dtype, diag)


def full_grad_block(B, G, gscale, alpha, beta, diag):
    B, G = arr(B), arr(G)
    D = np.full(B.shape, beta)
    if G is not None:
        D += gscale * (K._sym_upper(G) if diag else G)
    if alpha != 0.0:
        D += alpha * np.log(B / (1.0 - B))
    return D


def heun_block(B, D, h, lo, hi):
    B, D = arr(B), arr(D)
    Bnew = np.clip(B - (0.5 * h) * D, lo, hi)
    return Part(Bnew.astype(B.dtype, copy=False), float(np.isfinite(Bnew).all()))


def assemble(n, bounds, blocks, dtype):
    """The full n x n matrix from the upper blocks {(I, J): array} (lower ones transposed)."""
    A = np.empty((n, n), dtype=dtype)
    for (I, J), X in blocks.items():
        X = arr(X)
        r0, r1 = bounds[I]
        c0, c1 = bounds[J]
        A[r0:r1, c0:c1] = X
        if I != J:
            A[c0:c1, r0:r1] = X.T
    return A

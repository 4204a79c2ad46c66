"""Fused, parallel Numba kernels for the entry-wise part of a gradient-flow step.

Every kernel makes **one pass** over a symmetric m x m matrix of block values B.
It visits only the upper triangle (i <= j), in square tiles so that writing the
mirrored entry ``out[j, i]`` stays in cache, and writes both ``out[i, j]`` and
``out[j, i]`` -- so the result is symmetric *exactly*, whatever rounding the
non-local gradient G carries in its lower triangle (only ``G[i, j]``, i <= j,
is read; a ``?syrk`` product that fills one triangle is a valid G).

Notation shared by all kernels (w are the block widths, weights w_i w_j):

* the non-local gradient is ``gscale * G`` (block values), so a product such as
  A^2 can be used as it comes out of BLAS and scaled inside the pass;
* the *local* (entry-wise) part of the functional is
  ``phi(x) = alpha * h(x) + beta * x + gamma`` with the negative entropy
  ``h(x) = x log x + (1 - x) log(1 - x)``; its derivative is
  ``alpha * log(x / (1 - x)) + beta``.  Edge density (alpha = 0, beta = 1),
  ``Entropy`` (alpha = 1) and the rate function ``I_p`` (alpha = 1/2,
  beta = (log(1-p) - log p)/2, gamma = -log(1-p)/2) are all of this form;
* the full gradient is ``DF = gscale * G + alpha * logit(B) + beta``;
* the box is [lo, hi]; ``P`` is the projection onto its tangent cone: the
  velocity ``v = -DF`` is set to 0 where B sits on a face and v points out;
* every kernel that steps also returns ``sum_ij w_i w_j (P DF)_ij^2`` at the
  *input* B (the squared projected-gradient norm), reduced in the same pass.

The step kernels (Euler and proximal) work on each row segment of a tile in
branch-free loops that LLVM vectorises: the logarithm and exponential there are
``graphonflow._vecmath.vlog``/``vexp`` (library calls would keep every loop scalar),
indices start from 0 on row slices (no wrap-around checks), and ``error_model="numpy"``
drops the zero-division checks. Entries outside the fast domain (on or beyond the faces
0 and 1 of the logit, NaN, or a proximal solve that has not converged in the fixed number
of steps) are redone by the scalar code in a second loop.

Each kernel ``_x_kernel`` has a pure-NumPy twin ``_x_ref`` used by the tests.
The public-facing wrappers (``euler_step``, ``prox_step``, ``projected_grad_norm2``,
``local_value``, ``shifted_mean``) check shapes and dtypes and then call the
kernels; they do not scan the data for NaN (the driver does that once, and the
returned norm is NaN/inf whenever a NaN/inf met the pass).
"""

from __future__ import annotations

import functools
import math

import numpy as np
from numba import njit, prange

from ._vecmath import EXP_MAX, vexp, vlog

__all__ = [
    "euler_step",
    "prox_step",
    "projected_grad_norm2",
    "constrained_grad_norm2",
    "local_value",
    "shifted_mean",
    "apply_shift",
    "prox_scalar",
]

TILE = 128  # 128 x 128 float64 = 128 KiB: the mirrored stores stay in L2; longer vector loops than 64

#: the vectorised passes work on entries with FAST_MIN < b < 1 (so that b / (1 - b) is a
#: positive normal number, the domain of ``vlog``); the others take a scalar path
FAST_MIN = 1e-290

#: the proximal Halley iteration stops after a step below this (in the logit variable)
STEP_TOL = 1e-5
#: ... or, from this iteration on, once its residual is at the rounding level of its terms
ESCAPE_AFTER = 30


@functools.lru_cache(maxsize=64)
def _tiles(m: int, ts: int = TILE) -> np.ndarray:
    """Upper-triangular tile pairs (I, J), I <= J, of an m x m matrix cut in ts x ts tiles."""
    nb = (m + ts - 1) // ts
    pairs = [(a, b) for a in range(nb) for b in range(a, nb)]
    arr = np.array(pairs, dtype=np.int64).reshape(-1, 2)
    arr.setflags(write=False)
    return arr


# --------------------------------------------------------------------------- scalar helpers
@njit(cache=True, inline="always")
def _proj_velocity(b, g, lo, hi):
    v = -g
    if b <= lo and v < 0.0:
        v = 0.0
    elif b >= hi and v > 0.0:
        v = 0.0
    return v


@njit(cache=True, inline="always")
def prox_scalar(y, s0, x0, tau, alpha, beta, lo, hi):
    """argmin_{x in [lo, hi]} (x - y)^2 / 2 + tau * (alpha h(x) + beta x), alpha >= 0.

    For alpha > 0 the optimality condition is solved in the logit variable
    s = log(x / (1 - x)):  f(s) = sigmoid(s) + tau*alpha*s - (y - tau*beta) = 0.
    f is increasing with f' = x(1-x) + tau*alpha and f'' = x(1-x)(1-2x), and its
    root lies in the bracket [(z - 1)/(tau alpha), z/(tau alpha)], z = y - tau*beta.
    Halley's iteration (third order), s <- s - 2 f f' / (2 f'^2 - f f''), runs from
    the warm start s0 = logit(x0) (x0 the previous value, so the first iterate needs
    no exponential) and falls back to bisection whenever a step leaves the bracket
    (safeguarded).  The derivatives of f are bounded by multiples of f', so a step
    of size d leaves an error O(d^3) in s: the iteration stops after a step below
    STEP_TOL = 1e-5, and x is then updated by a second-order Taylor step of the
    sigmoid instead of one more exponential (error x(1-x) d^3 / 6).  Both errors are
    relative to x near 0 (and to 1 - x near 1), so small entries keep all their digits.
    If after ESCAPE_AFTER iterations the step is still above STEP_TOL while the residual f
    is at the rounding level of its terms (rounding noise in f divided by a tiny f'), the
    current x is returned.  About two exponentials per entry for a
    flow step.
    The 1-D problem is convex, so the box-constrained minimiser is the clip of the
    unconstrained one.
    """
    z = y - tau * beta
    if alpha == 0.0:
        x = z
    else:
        ta = tau * alpha
        s_lo = (z - 1.0) / ta
        s_hi = z / ta
        s = s0
        known = True  # x0 = sigmoid(s0) is known
        if not (s > s_lo and s < s_hi):
            s = 0.5 * (s_lo + s_hi)
            known = False
        x = x0
        for it in range(200):
            if known:
                known = False
            else:
                x = 1.0 / (1.0 + np.exp(-s))
            f = x + ta * s - z
            if f > 0.0:
                s_hi = s
            elif f < 0.0:
                s_lo = s
            else:
                break
            if it >= ESCAPE_AFTER and abs(f) <= 4e-16 * (abs(z) + abs(ta * s) + x):
                break  # stuck at the rounding of f's terms
            d = x * (1.0 - x)
            fp = d + ta
            den = 2.0 * fp * fp - f * d * (1.0 - 2.0 * x)
            step = 2.0 * f * fp / den if den > 0.0 else f / fp
            sn = s - step
            if abs(step) <= STEP_TOL and sn >= s_lo and sn <= s_hi:
                # sigmoid(sn) to second order; the error is O(step^3)
                x = x - d * step + 0.5 * d * (1.0 - 2.0 * x) * step * step
                break
            if not (sn > s_lo and sn < s_hi):
                sn = 0.5 * (s_lo + s_hi)
            s = sn
    if x < lo:
        x = lo
    elif x > hi:
        x = hi
    return x


# --------------------------------------------------------------------------- kernels
# Each kernel is a tile function (the work on one upper-triangular tile) and two
# drivers: a parallel one (prange over tiles) and a serial one for small matrices,
# where waking threads costs more than the work.


@njit(cache=True, inline="always")
def _bounds(tiles, t, ts, m):
    I = tiles[t, 0]
    J = tiles[t, 1]
    i0 = I * ts
    j0 = J * ts
    return i0, min(i0 + ts, m), j0, min(j0 + ts, m), I == J


@njit(cache=True, fastmath={"reassoc"}, error_model="numpy")
def _segment_sum(w, q, j0, n, diag):
    """sum_k c_k w[j0 + k] q[k] over a row segment of the upper triangle, c_k = 2 (the entry
    stands for (i, j) and (j, i)) except c_0 = 1 for the diagonal entry of a diagonal tile
    (kept out of the doubled sum: inf - inf would be NaN). Overwrites q[0] then. The sum
    runs in any order, which lets LLVM vectorise it."""
    qd = 0.0
    if diag:
        qd = q[0]
        q[0] = 0.0
    acc = 0.0
    wj = w[j0:j0 + n]
    for k in range(n):
        acc += wj[k] * q[k]
    return 2.0 * acc + w[j0] * qd


@njit(cache=True, inline="always")
def _store_segment(out, i, js, xb, nj):
    """out[i, js:js+nj] and its mirror out[js:js+nj, i] <- xb[:nj]: exactly symmetric."""
    Oi = out[i, js:js + nj]
    for k in range(nj):
        Oi[k] = xb[k]
    for k in range(nj):
        out[js + k, i] = xb[k]


@njit(cache=True, inline="always", error_model="numpy")
def _grad_segment(Bi, Gi, nj, gscale, alpha, beta, lo, hi, gb, qb, fb):
    """Full gradient g = gscale*G + beta + alpha*logit(b) of a row segment into gb, and the
    squared projected velocity into qb: branch-free with ``vlog`` on FAST_MIN < b < 1, then
    the library ``log`` (its infinities at 0 and 1, NaN) for the entries outside."""
    nbad = 0
    if alpha == 0.0:
        for k in range(nj):
            b = np.float64(Bi[k])
            g = gscale * Gi[k] + beta
            v = -g
            gb[k] = g
            qb[k] = v * v if not (((b <= lo) & (v < 0.0)) | ((b >= hi) & (v > 0.0))) else 0.0
        return
    for k in range(nj):
        b = np.float64(Bi[k])
        ok = (b > FAST_MIN) & (b < 1.0)
        g = gscale * Gi[k] + beta + alpha * vlog(b / (1.0 - b) if ok else 1.0)
        v = -g
        gb[k] = g
        qb[k] = v * v if not (((b <= lo) & (v < 0.0)) | ((b >= hi) & (v > 0.0))) else 0.0
        fb[k] = not ok
        nbad += 0 if ok else 1
    if nbad:
        for k in range(nj):
            if fb[k]:
                b = np.float64(Bi[k])
                g = gscale * Gi[k] + beta + alpha * np.log(b / (1.0 - b))
                v = _proj_velocity(b, g, lo, hi)
                gb[k] = g
                qb[k] = v * v


@njit(cache=True, error_model="numpy")
def _euler_tile(B, G, gscale, w, dt, alpha, beta, lo, hi, out, tiles, t, ts):
    # row segments of the tile: the gradient in vectorised loops (_grad_segment), then the step
    i0, i1, j0, j1, diag = _bounds(tiles, t, ts, B.shape[0])
    gb = np.empty(ts)
    xb = np.empty(ts)
    qb = np.empty(ts)
    fb = np.empty(ts, dtype=np.bool_)
    part = 0.0
    for i in range(i0, i1):
        js = i if diag else j0
        nj = j1 - js
        Bi = B[i, js:j1]  # row slices: indices from 0, so no wrap-around checks (and no gathers)
        _grad_segment(Bi, G[i, js:j1], nj, gscale, alpha, beta, lo, hi, gb, qb, fb)
        for k in range(nj):
            xb[k] = min(max(np.float64(Bi[k]) - dt * gb[k], lo), hi)
        _store_segment(out, i, js, xb, nj)
        part += w[i] * _segment_sum(w, qb, js, nj, diag)
    return part


@njit(parallel=True, cache=True)
def _euler_kernel(B, G, gscale, w, dt, alpha, beta, lo, hi, out, tiles, ts):
    acc = 0.0
    for t in prange(tiles.shape[0]):
        acc += _euler_tile(B, G, gscale, w, dt, alpha, beta, lo, hi, out, tiles, t, ts)
    return acc


@njit(cache=True)
def _euler_kernel_serial(B, G, gscale, w, dt, alpha, beta, lo, hi, out, tiles, ts):
    acc = 0.0
    for t in range(tiles.shape[0]):
        acc += _euler_tile(B, G, gscale, w, dt, alpha, beta, lo, hi, out, tiles, t, ts)
    return acc


@njit(parallel=True, cache=True, fastmath={"reassoc"})
def _euler_rows_kernel(B, G, gscale, w, dt, beta, lo, hi, out, acc):
    """Row-wise Euler step without a local entropy term (alpha = 0), for an *exactly*
    symmetric G: every entry is computed from (B_ij, G_ij) alone, so out_ij and out_ji come
    out bit-identical without the mirrored (strided) store of the tiled kernel, and each
    row is one contiguous, vectorisable stream.  ``reassoc`` only lets the row sum of the
    norm be reordered; no entry-wise operation can be reassociated (each is a single
    fused chain of two-operand operations).  ``acc`` (m,) receives the row sums."""
    m = B.shape[0]
    for i in prange(m):
        rp = 0.0
        for j in range(m):
            b = np.float64(B[i, j])
            g = gscale * G[i, j] + beta
            x = min(max(b - dt * g, lo), hi)
            v = -g
            v = 0.0 if ((b <= lo) & (v < 0.0)) | ((b >= hi) & (v > 0.0)) else v
            out[i, j] = x
            rp += w[j] * v * v
        acc[i] = w[i] * rp
    return acc.sum()


@njit(cache=True, inline="always", error_model="numpy", fastmath={"contract"})
def _halley(s, x, z, ta):
    """Halley step for f(s) = x + ta*s - z with x = sigmoid(s) (no bracket): (step, x(1-x))."""
    f = x + ta * s - z
    d = x * (1.0 - x)
    fp = d + ta
    den = 2.0 * fp * fp - f * d * (1.0 - 2.0 * x)
    pos = den > 0.0
    # 2 f f' / den, or the Newton step f / f' where Halley's denominator is not positive
    step = (f * (2.0 * fp if pos else 1.0)) / (den if pos else fp)
    return step, d


@njit(cache=True, inline="always", error_model="numpy", fastmath={"contract"})
def _sigmoid(s):
    # |s| > 708 only where x is within 1e-307 of 0 or rounds to 1; the clamp keeps vexp in range
    return 1.0 / (1.0 + vexp(min(max(-s, -EXP_MAX), EXP_MAX)))


@njit(cache=True, inline="always", error_model="numpy", fastmath={"contract"})
def _prox_segment(Bi, Gi, nj, gscale, dt, alpha, beta, lo, hi, ta, ita, xb, qb, sb, zb, fb):
    """The proximal step of one row segment (see :func:`_prox_tile`): the new values into xb,
    the squared projected velocities at the input into qb (sb, zb, fb are scratch)."""
    nbad = 0
    if alpha == 0.0:
        for k in range(nj):
            b = np.float64(Bi[k])
            gn = gscale * Gi[k]
            v = -(gn + beta)
            v = 0.0 if ((b <= lo) & (v < 0.0)) | ((b >= hi) & (v > 0.0)) else v
            x = (b - dt * gn) - dt * beta
            xb[k] = min(max(x, lo), hi)
            qb[k] = v * v
    else:
        for k in range(nj):
            b = np.float64(Bi[k])
            gn = gscale * Gi[k]
            ok = (b > FAST_MIN) & (b < 1.0)
            s0 = vlog(b / (1.0 - b) if ok else 1.0)
            v = -(gn + beta + alpha * s0)
            v = 0.0 if ((b <= lo) & (v < 0.0)) | ((b >= hi) & (v > 0.0)) else v
            z = (b - dt * gn) - dt * beta
            step, d = _halley(s0, b, z, ta)
            sb[k] = s0 - step
            zb[k] = z
            qb[k] = v * v
            fb[k] = not ok
        for k in range(nj):
            s = sb[k]
            step, d = _halley(s, _sigmoid(s), zb[k], ta)
            sb[k] = s - step
        for k in range(nj):
            s = sb[k]
            z = zb[k]
            x = _sigmoid(s)
            step, d = _halley(s, x, z, ta)
            sn = s - step
            ok = (abs(step) <= STEP_TOL) & (sn >= (z - 1.0) * ita) & (sn <= z * ita) & (abs(s) < EXP_MAX) & (not fb[k])
            x = x - d * step + 0.5 * d * (1.0 - 2.0 * x) * step * step
            xb[k] = min(max(x, lo), hi)
            fb[k] = not ok
            nbad += 0 if ok else 1
    if nbad:
        for k in range(nj):
            if fb[k]:
                b = np.float64(Bi[k])
                gn = gscale * Gi[k]
                s0 = np.log(b / (1.0 - b))
                v = _proj_velocity(b, gn + beta + alpha * s0, lo, hi)
                qb[k] = v * v
                xb[k] = prox_scalar(b - dt * gn, s0, b, dt, alpha, beta, lo, hi)


@njit(cache=True, error_model="numpy", fastmath={"contract"})
def _prox_tile(B, G, gscale, w, dt, alpha, beta, lo, hi, out, tiles, t, ts):
    """One tile of the proximal pass, row segment by row segment.

    With entropy (alpha > 0) each entry solves x + ta*logit(x) = z, ta = dt*alpha,
    z = b - dt*(gscale*G + beta), in the logit variable s. The *fast path* is branch-free
    and vectorised (``vlog``/``vexp`` instead of library calls): three Halley steps from
    s0 = logit(b) (the first needs no exponential, since sigmoid(s0) = b), then x from the
    second-order Taylor expansion of the sigmoid over the last step, as in
    :func:`prox_scalar`. It is accepted when the last step is below STEP_TOL and lands
    inside the bracket [(z - 1)/ta, z/ta] of the root (f is increasing, so a tiny step
    means the unique root is that close). Every other entry -- b outside (FAST_MIN, 1), a
    NaN, a slow convergence -- is redone by the safeguarded scalar solver. The work runs in
    three short loops over the segment (stage buffers in L1), so that more entries are in
    flight than one long dependency chain would allow.
    """
    i0, i1, j0, j1, diag = _bounds(tiles, t, ts, B.shape[0])
    xb = np.empty(ts)
    qb = np.empty(ts)
    sb = np.empty(ts)
    zb = np.empty(ts)
    fb = np.empty(ts, dtype=np.bool_)
    ta = dt * alpha
    ita = 1.0 / ta if alpha != 0.0 else 0.0
    part = 0.0
    for i in range(i0, i1):
        wi = w[i]
        js = i if diag else j0
        nj = j1 - js
        # row slices: indices from 0, so no wrap-around checks (and no gathers)
        _prox_segment(B[i, js:j1], G[i, js:j1], nj, gscale, dt, alpha, beta, lo, hi, ta, ita, xb, qb, sb, zb, fb)
        _store_segment(out, i, js, xb, nj)
        part += wi * _segment_sum(w, qb, js, nj, diag)
    return part


@njit(parallel=True, cache=True)
def _prox_kernel(B, G, gscale, w, dt, alpha, beta, lo, hi, out, tiles, ts):
    acc = 0.0
    for t in prange(tiles.shape[0]):
        acc += _prox_tile(B, G, gscale, w, dt, alpha, beta, lo, hi, out, tiles, t, ts)
    return acc


@njit(cache=True)
def _prox_kernel_serial(B, G, gscale, w, dt, alpha, beta, lo, hi, out, tiles, ts):
    acc = 0.0
    for t in range(tiles.shape[0]):
        acc += _prox_tile(B, G, gscale, w, dt, alpha, beta, lo, hi, out, tiles, t, ts)
    return acc


@njit(cache=True, error_model="numpy")
def _pg2_tile(B, G, gscale, w, alpha, beta, lo, hi, tiles, t, ts):
    # _euler_tile without the step
    i0, i1, j0, j1, diag = _bounds(tiles, t, ts, B.shape[0])
    gb = np.empty(ts)
    qb = np.empty(ts)
    fb = np.empty(ts, dtype=np.bool_)
    part = 0.0
    for i in range(i0, i1):
        js = i if diag else j0
        nj = j1 - js
        _grad_segment(B[i, js:j1], G[i, js:j1], nj, gscale, alpha, beta, lo, hi, gb, qb, fb)
        part += w[i] * _segment_sum(w, qb, js, nj, diag)
    return part


@njit(parallel=True, cache=True)
def _pg2_kernel(B, G, gscale, w, alpha, beta, lo, hi, tiles, ts):
    acc = 0.0
    for t in prange(tiles.shape[0]):
        acc += _pg2_tile(B, G, gscale, w, alpha, beta, lo, hi, tiles, t, ts)
    return acc


@njit(cache=True)
def _pg2_kernel_serial(B, G, gscale, w, alpha, beta, lo, hi, tiles, ts):
    acc = 0.0
    for t in range(tiles.shape[0]):
        acc += _pg2_tile(B, G, gscale, w, alpha, beta, lo, hi, tiles, t, ts)
    return acc


@njit(cache=True)
def _cpg_tile(B, G, gscale, w, alpha, beta, lo, hi, lam, tiles, t, ts, out):
    """Statistics of the shifted projected velocity v = P_B[-(DF - lam)] on one tile.

    Writes (sum w_i w_j v_ij, sum w_i w_j v_ij^2, sum of w_i w_j over the entries where
    v is a linear function of lam with slope 1, sum w_i w_j |v_ij|, min DF, max DF) into
    ``out[t]``.
    """
    i0, i1, j0, j1, diag = _bounds(tiles, t, ts, B.shape[0])
    s1 = 0.0
    s2 = 0.0
    sa = 0.0
    sabs = 0.0
    dmin = np.inf
    dmax = -np.inf
    for i in range(i0, i1):
        wi = w[i]
        js = i if diag else j0
        for j in range(js, j1):
            b = np.float64(B[i, j])
            g = gscale * G[i, j] + beta
            if alpha != 0.0:
                g += alpha * np.log(b / (1.0 - b))
            dmin = min(dmin, g)
            dmax = max(dmax, g)
            v = lam - g
            free = 1.0
            if (b <= lo and v <= 0.0) or (b >= hi and v >= 0.0):
                v = 0.0
                free = 0.0
            q = wi * w[j]
            if i != j:
                q *= 2.0
            s1 += q * v
            s2 += q * v * v
            sa += q * free
            sabs += q * abs(v)
    out[t, 0] = s1
    out[t, 1] = s2
    out[t, 2] = sa
    out[t, 3] = sabs
    out[t, 4] = dmin
    out[t, 5] = dmax


@njit(parallel=True, cache=True)
def _cpg_kernel(B, G, gscale, w, alpha, beta, lo, hi, lam, tiles, ts, out):
    for t in prange(tiles.shape[0]):
        _cpg_tile(B, G, gscale, w, alpha, beta, lo, hi, lam, tiles, t, ts, out)


@njit(cache=True)
def _cpg_kernel_serial(B, G, gscale, w, alpha, beta, lo, hi, lam, tiles, ts, out):
    for t in range(tiles.shape[0]):
        _cpg_tile(B, G, gscale, w, alpha, beta, lo, hi, lam, tiles, t, ts, out)


@njit(cache=True, inline="always", error_model="numpy")
def _local_segment(Bi, nj, alpha, beta, gamma, qb, fb):
    """phi(b) = alpha h(b) + beta b + gamma of one row segment into qb (fb is scratch):
    h(b) = b log b + (1 - b) log(1 - b) with vlog where FAST_MIN < b < 1 (then 1 - b >= 2^-53
    is normal too); 0 log 0 = 0 and the rest (b <= FAST_MIN, b >= 1, NaN) on the scalar path."""
    nbad = 0
    for k in range(nj):
        b = np.float64(Bi[k])
        ok = (alpha == 0.0) | ((b > FAST_MIN) & (b < 1.0))
        bb = b if ok & (alpha != 0.0) else 0.5
        h = bb * vlog(bb) + (1.0 - bb) * vlog(1.0 - bb)
        qb[k] = beta * b + gamma + (alpha * h if alpha != 0.0 else 0.0)
        fb[k] = not ok
        nbad += 0 if ok else 1
    if nbad:
        for k in range(nj):
            if fb[k]:
                b = np.float64(Bi[k])
                h = 0.0
                if b > 0.0:
                    h += b * np.log(b)
                if b < 1.0:
                    h += (1.0 - b) * np.log(1.0 - b)
                qb[k] = beta * b + gamma + alpha * h


@njit(cache=True, error_model="numpy")
def _local_value_tile(B, w, alpha, beta, gamma, tiles, t, ts):
    i0, i1, j0, j1, diag = _bounds(tiles, t, ts, B.shape[0])
    qb = np.empty(ts)
    fb = np.empty(ts, dtype=np.bool_)
    part = 0.0
    for i in range(i0, i1):
        wi = w[i]
        js = i if diag else j0
        nj = j1 - js
        _local_segment(B[i, js:j1], nj, alpha, beta, gamma, qb, fb)
        part += wi * _segment_sum(w, qb, js, nj, diag)
    return part


@njit(parallel=True, cache=True)
def _local_value_kernel(B, w, alpha, beta, gamma, tiles, ts):
    acc = 0.0
    for t in prange(tiles.shape[0]):
        acc += _local_value_tile(B, w, alpha, beta, gamma, tiles, t, ts)
    return acc


@njit(cache=True)
def _local_value_kernel_serial(B, w, alpha, beta, gamma, tiles, ts):
    acc = 0.0
    for t in range(tiles.shape[0]):
        acc += _local_value_tile(B, w, alpha, beta, gamma, tiles, t, ts)
    return acc


@njit(cache=True)
def _shifted_mean_tile(B, w, lam, lo, hi, tiles, t, ts):
    i0, i1, j0, j1, diag = _bounds(tiles, t, ts, B.shape[0])
    part = 0.0
    for i in range(i0, i1):
        wi = w[i]
        js = i if diag else j0
        for j in range(js, j1):
            x = B[i, j] + lam
            if x < lo:
                x = lo
            elif x > hi:
                x = hi
            q = wi * w[j] * x
            part += q if i == j else 2.0 * q
    return part


@njit(parallel=True, cache=True)
def _shifted_mean_kernel(B, w, lam, lo, hi, tiles, ts):
    acc = 0.0
    for t in prange(tiles.shape[0]):
        acc += _shifted_mean_tile(B, w, lam, lo, hi, tiles, t, ts)
    return acc


@njit(cache=True)
def _shifted_mean_kernel_serial(B, w, lam, lo, hi, tiles, ts):
    acc = 0.0
    for t in range(tiles.shape[0]):
        acc += _shifted_mean_tile(B, w, lam, lo, hi, tiles, t, ts)
    return acc


@njit(cache=True)
def _apply_shift_tile(B, lam, lo, hi, tiles, t, ts):
    i0, i1, j0, j1, diag = _bounds(tiles, t, ts, B.shape[0])
    for i in range(i0, i1):
        js = i if diag else j0
        for j in range(js, j1):
            x = B[i, j] + lam
            if x < lo:
                x = lo
            elif x > hi:
                x = hi
            B[i, j] = x
            B[j, i] = x


@njit(parallel=True, cache=True)
def _apply_shift_kernel(B, lam, lo, hi, tiles, ts):
    for t in prange(tiles.shape[0]):
        _apply_shift_tile(B, lam, lo, hi, tiles, t, ts)


@njit(cache=True)
def _apply_shift_kernel_serial(B, lam, lo, hi, tiles, ts):
    for t in range(tiles.shape[0]):
        _apply_shift_tile(B, lam, lo, hi, tiles, t, ts)


#: below this many entries the serial drivers are used.  A parallel region right after a
#: BLAS call competes with OpenBLAS's still-spinning worker threads; on 2 cores that costs
#: more than it gains until the matrix is large.  Measured per step of a t(C5) flow:
#: n = 200: 8.3 ms parallel vs 1.0 ms serial; n = 400: 9.1 vs 4.7; n = 800: 21.6 vs 20.5;
#: parallel wins from about n = 1000 on (the flow benchmark's sizes).
PARALLEL_MIN = 768 * 768


def _pick(par, ser, m):
    return par if m * m >= PARALLEL_MIN else ser


# --------------------------------------------------------------------------- NumPy twins
def _sym_upper(G):
    """The symmetric matrix whose upper triangle is G's (what the kernels read)."""
    U = np.triu(G)
    return U + np.triu(G, 1).T


def _logit(B):
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log(B / (1.0 - B))


def _full_grad_ref(B, G, gscale, alpha, beta):
    B = B.astype(np.float64)
    D = gscale * _sym_upper(G).astype(np.float64) + beta
    if alpha != 0.0:
        D = D + alpha * _logit(B)
    return D


def _pg2_ref(B, G, gscale, w, alpha, beta, lo, hi):
    B64 = B.astype(np.float64)
    V = -_full_grad_ref(B, G, gscale, alpha, beta)
    V = np.where((B64 <= lo) & (V < 0), 0.0, V)
    V = np.where((B64 >= hi) & (V > 0), 0.0, V)
    return float(w @ (V * V) @ w)


def _cpg_ref(B, G, gscale, w, alpha, beta, lo, hi, lam):
    """NumPy twin of ``_cpg_kernel`` (the six statistics, reduced)."""
    B64 = B.astype(np.float64)
    D = _full_grad_ref(B, G, gscale, alpha, beta)
    V = lam - D
    fixed = ((B64 <= lo) & (V <= 0)) | ((B64 >= hi) & (V >= 0))
    V = np.where(fixed, 0.0, V)
    return (float(w @ V @ w), float(w @ (V * V) @ w), float(w @ (~fixed).astype(np.float64) @ w),
            float(w @ np.abs(V) @ w), float(D.min()), float(D.max()))


def _euler_ref(B, G, gscale, w, dt, alpha, beta, lo, hi):
    """(new B, squared projected-gradient norm at B): the NumPy twin of ``_euler_kernel``."""
    D = _full_grad_ref(B, G, gscale, alpha, beta)
    out = np.clip(B.astype(np.float64) - dt * D, lo, hi).astype(B.dtype)
    return out, _pg2_ref(B, G, gscale, w, alpha, beta, lo, hi)


def _halley_step(x, f, ta):
    d = x * (1.0 - x)
    fp = d + ta
    den = 2.0 * fp * fp - f * d * (1.0 - 2.0 * x)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, 2.0 * f * fp / np.where(den > 0, den, 1.0), f / fp)


def _sigmoid_ref(s):
    return 1.0 / (1.0 + np.exp(np.clip(-s, -EXP_MAX, EXP_MAX)))


def _prox_safeguarded_ref(B64, Z, ta):
    """The safeguarded Halley iteration of :func:`prox_scalar`, vectorised (no box clip).

    Each entry stops as the scalar loop does: ``by_step`` (a step below STEP_TOL inside
    the bracket: one more Taylor step follows) or ``by_flat`` (f == 0, or the rounding
    escape after ESCAPE_AFTER iterations: x as it is)."""
    s_lo = (Z - 1.0) / ta
    s_hi = Z / ta
    s = _logit(B64)
    bad = ~((s > s_lo) & (s < s_hi))
    s = np.where(bad, 0.5 * (s_lo + s_hi), s)
    by_step = np.zeros(Z.shape, dtype=bool)
    by_flat = np.zeros(Z.shape, dtype=bool)
    for it in range(200):
        with np.errstate(over="ignore"):
            x = 1.0 / (1.0 + np.exp(-s))
        f = x + ta * s - Z
        active = ~(by_step | by_flat)
        s_hi = np.where(active & (f > 0), s, s_hi)
        s_lo = np.where(active & (f < 0), s, s_lo)
        flat = active & ((f == 0) | ((it >= ESCAPE_AFTER) & (np.abs(f) <= 4e-16 * (np.abs(Z) + np.abs(ta * s) + x))))
        step = _halley_step(x, f, ta)
        sn = s - step
        done = active & ~flat & (np.abs(step) <= STEP_TOL) & (sn >= s_lo) & (sn <= s_hi)
        by_flat |= flat
        by_step |= done
        move = active & ~flat & ~done
        out_br = ~((sn > s_lo) & (sn < s_hi))
        s = np.where(move, np.where(out_br, 0.5 * (s_lo + s_hi), sn), s)
        if not move.any():
            break
    with np.errstate(over="ignore"):
        x = 1.0 / (1.0 + np.exp(-s))
    step = np.where(by_flat, 0.0, _halley_step(x, x + ta * s - Z, ta))
    d = x * (1.0 - x)
    return x - d * step + 0.5 * d * (1.0 - 2.0 * x) * step * step  # the same last Taylor step


def _prox_ref(B, G, gscale, w, dt, alpha, beta, lo, hi):
    """NumPy twin of ``_prox_kernel``: the fast path (three Halley steps from logit(B)) on
    every entry, then the safeguarded iteration on the entries it does not accept."""
    B64 = B.astype(np.float64)
    Z = (B64 - dt * (gscale * _sym_upper(G).astype(np.float64))) - dt * beta
    if alpha == 0.0:
        X = Z
    else:
        ta = dt * alpha
        ok = (B64 > FAST_MIN) & (B64 < 1.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            s = np.log(np.where(ok, B64 / (1.0 - B64), 1.0))
        x = B64  # sigmoid(s) at the start: the first of the three Halley steps needs no exp
        step = _halley_step(x, x + ta * s - Z, ta)
        for _ in range(2):
            s = s - step
            x = _sigmoid_ref(s)
            step = _halley_step(x, x + ta * s - Z, ta)
        sn = s - step
        with np.errstate(invalid="ignore"):
            ok &= (np.abs(step) <= STEP_TOL) & (sn >= (Z - 1.0) * (1.0 / ta)) & (sn <= Z * (1.0 / ta)) & (np.abs(s) < EXP_MAX)
        d = x * (1.0 - x)
        X = x - d * step + 0.5 * d * (1.0 - 2.0 * x) * step * step
        if not ok.all():
            X[~ok] = _prox_safeguarded_ref(B64[~ok], Z[~ok], ta)
    out = np.clip(X, lo, hi).astype(B.dtype)
    return out, _pg2_ref(B, G, gscale, w, alpha, beta, lo, hi)


def _local_value_ref(B, w, alpha, beta, gamma):
    B64 = B.astype(np.float64)
    phi = beta * B64 + gamma
    if alpha != 0.0:
        with np.errstate(divide="ignore", invalid="ignore"):
            h = np.where(B64 > 0, B64 * np.log(np.where(B64 > 0, B64, 1.0)), 0.0)
            h = h + np.where(B64 < 1, (1 - B64) * np.log(np.where(B64 < 1, 1 - B64, 1.0)), 0.0)
        phi = phi + alpha * h
    return float(w @ phi @ w)


def _shifted_mean_ref(B, w, lam, lo, hi):
    return float(w @ np.clip(B.astype(np.float64) + lam, lo, hi) @ w)


# --------------------------------------------------------------------------- wrappers
def _check(B, w, *others):
    if not isinstance(B, np.ndarray) or B.ndim != 2 or B.shape[0] != B.shape[1]:
        raise ValueError(f"B must be a square 2-D ndarray, got {getattr(B, 'shape', type(B))}")
    if B.dtype not in (np.float32, np.float64):
        raise ValueError(f"B must be float32 or float64, got {B.dtype}")
    if not B.flags.c_contiguous:
        raise ValueError("B must be C-contiguous")
    m = B.shape[0]
    if not isinstance(w, np.ndarray) or w.shape != (m,) or w.dtype != np.float64:
        raise ValueError(f"w must be a float64 array of shape ({m},)")
    for name, X in others:
        if X is None:
            continue
        if not isinstance(X, np.ndarray) or X.shape != B.shape or X.dtype != B.dtype:
            raise ValueError(f"{name} must be an ndarray of shape {B.shape} and dtype {B.dtype}")
        if not (X.flags.c_contiguous or X.flags.f_contiguous):
            raise ValueError(f"{name} must be contiguous")


def _scalars(*vals):
    out = []
    for v in vals:
        v = float(v)
        if np.isnan(v):
            raise ValueError("kernel scalars must not be NaN")
        out.append(v)
    return out


def euler_step(B, G, w, dt, *, gscale=1.0, alpha=0.0, beta=0.0, lo=0.0, hi=1.0, out=None,
               symmetric_G=False):
    """One projected forward-Euler step, fused into a single pass.

    ``out = clip(B - dt * DF, lo, hi)`` with ``DF = gscale*G + alpha*logit(B) + beta``
    (G read from its upper triangle; ``G=None`` means no non-local term).

    With ``symmetric_G=True`` the caller promises that G (and B) are *exactly* symmetric;
    without a local entropy term (alpha = 0) the step then runs row by row over the whole
    matrix (contiguous, vectorised: about twice as fast as the tiled pass at m = 4000), and
    the result is still exactly symmetric.

    Returns
    -------
    out : ndarray, same shape/dtype as B, exactly symmetric
    pg2 : float
        ``sum_ij w_i w_j (P_B DF)_ij^2`` at the input B.

    Examples
    --------
    >>> import numpy as np
    >>> B = np.full((3, 3), 0.5); w = np.full(3, 1 / 3)
    >>> out, pg2 = euler_step(B, None, w, 0.1, beta=-1.0)   # DF = -1: move up by 0.1
    >>> float(out[0, 1]), round(pg2, 12)
    (0.6, 1.0)
    """
    if G is None:
        G, gscale = B, 0.0
    _check(B, w, ("G", G), ("out", out))
    dt, gscale, alpha, beta, lo, hi = _scalars(dt, gscale, alpha, beta, lo, hi)
    if out is None:
        out = np.empty_like(B)
    m = B.shape[0]
    if symmetric_G and alpha == 0.0 and m * m >= PARALLEL_MIN:
        pg2 = _euler_rows_kernel(B, G, gscale, w, dt, beta, lo, hi, out, np.empty(m))
        return out, float(pg2)
    pg2 = _pick(_euler_kernel, _euler_kernel_serial, m)(B, G, gscale, w, dt, alpha, beta, lo, hi, out, _tiles(m), TILE)
    return out, float(pg2)


def prox_step(B, G, w, dt, *, gscale=1.0, alpha=0.0, beta=0.0, lo=0.0, hi=1.0, out=None):
    """One forward-backward step, fused into a single pass.

    ``out = prox_{dt*phi + box}(B - dt * gscale * G)`` entry-wise, where
    ``phi(x) = alpha h(x) + beta x`` is the local part (``alpha >= 0``), solved by
    safeguarded Newton-type (Halley) iteration (:func:`prox_scalar`).  Returns ``(out, pg2)`` with pg2 the
    squared projected norm of the full gradient at the input B.

    Examples
    --------
    >>> import numpy as np
    >>> B = np.full((2, 2), 0.9); w = np.full(2, 0.5)
    >>> out, _ = prox_step(B, None, w, 1e6, alpha=1.0)   # a huge entropy step lands on 1/2
    >>> round(float(out[0, 0]), 6)
    0.5
    """
    if G is None:
        G, gscale = B, 0.0
    _check(B, w, ("G", G), ("out", out))
    dt, gscale, alpha, beta, lo, hi = _scalars(dt, gscale, alpha, beta, lo, hi)
    if alpha < 0:
        raise ValueError("the proximal step needs a convex local part (alpha >= 0)")
    if not dt > 0.0 or (alpha > 0.0 and not dt * alpha > 0.0):
        raise ValueError(f"the proximal step needs dt > 0 and dt * alpha > 0 (dt = {dt!r}, alpha = {alpha!r})")
    if out is None:
        out = np.empty_like(B)
    pg2 = _pick(_prox_kernel, _prox_kernel_serial, B.shape[0])(B, G, gscale, w, dt, alpha, beta, lo, hi, out, _tiles(B.shape[0]), TILE)
    return out, float(pg2)


def projected_grad_norm2(B, G, w, *, gscale=1.0, alpha=0.0, beta=0.0, lo=0.0, hi=1.0):
    """``sum_ij w_i w_j (P_B DF)_ij^2`` with ``DF = gscale*G + alpha*logit(B) + beta`` (one pass)."""
    if G is None:
        G, gscale = B, 0.0
    _check(B, w, ("G", G))
    gscale, alpha, beta, lo, hi = _scalars(gscale, alpha, beta, lo, hi)
    return float(_pick(_pg2_kernel, _pg2_kernel_serial, B.shape[0])(B, G, gscale, w, alpha, beta, lo, hi, _tiles(B.shape[0]), TILE))


def _cpg_stats(B, G, gscale, w, alpha, beta, lo, hi, lam):
    m = B.shape[0]
    tiles = _tiles(m)
    out = np.empty((tiles.shape[0], 6))
    _pick(_cpg_kernel, _cpg_kernel_serial, m)(B, G, gscale, w, alpha, beta, lo, hi, lam, tiles, TILE, out)
    s = out[:, :4].sum(axis=0)
    return float(s[0]), float(s[1]), float(s[2]), float(s[3]), float(out[:, 4].min()), float(out[:, 5].max())


def _constrained_root(stats, max_iter=200):
    """(squared norm, multiplier) of the projection onto the cone with a mean constraint.

    ``stats(lam)`` returns the six statistics of v(lam) = P_B[-(DF - lam)].  The mean
    g(lam) = sum w_i w_j v_ij(lam) is continuous, piecewise linear and non-decreasing, with
    g(min DF) <= 0 <= g(max DF); the root is found by Newton steps on the current piece
    (exact once the set of free entries is right) inside a bisection bracket.
    """
    s1, s2, sa, sabs, dmin, dmax = stats(0.0)
    if not (math.isfinite(s2) and math.isfinite(dmin) and math.isfinite(dmax)):
        return float("nan"), float("nan")
    a, b = dmin, dmax
    lam = 0.0
    eps = np.finfo(np.float64).eps
    for _ in range(max_iter):
        if abs(s1) <= 1e-13 * sabs:  # g(lam) = 0 up to the rounding of the sum
            break
        if s1 < 0:
            a = max(a, lam)
        else:
            b = min(b, lam)
        new = lam - s1 / sa if sa > 0 else math.nan
        if not (a <= new <= b):
            new = 0.5 * (a + b)
        if new == lam:
            break
        lam = new
        s1, s2, sa, sabs, _, _ = stats(lam)
        if b - a <= 4 * eps * max(abs(a), abs(b)):  # the bracket has shrunk to a point
            break
    return s2, lam


def constrained_grad_norm2(B, G, w, *, gscale=1.0, alpha=0.0, beta=0.0, lo=0.0, hi=1.0, use_numba=True):
    r"""Squared norm of DF projected onto the tangent cone of {mean = const} ∩ box.

    The velocity of the density-constrained flow is the projection of -DF onto the cone
    {V : sum_ij w_i w_j V_ij = 0, V_ij >= 0 where B_ij = lo, V_ij <= 0 where B_ij = hi}.
    By the KKT conditions it is V = P_B[-(DF - lam)] (P_B the box tangent-cone projection)
    with the multiplier lam chosen so that sum w_i w_j V_ij = 0: lam is the weighted mean of
    DF over the *free* entries (inside the box, or on a face with -(DF - lam) pointing
    inward).  Returns ``sum_ij w_i w_j V_ij^2``; it is 0 exactly at the KKT points of F
    under the density constraint.  A few passes (one per Newton step on lam).

    Examples
    --------
    >>> import numpy as np
    >>> B = np.full((2, 2), 0.5); w = np.full(2, 0.5)
    >>> G = np.array([[1.0, 0.0], [0.0, 3.0]])    # mean 1: the velocity is 1 - G
    >>> round(constrained_grad_norm2(B, G, w), 12)  # (0 + 1 + 1 + 4) / 4
    1.5
    """
    if G is None:
        G, gscale = B, 0.0
    _check(B, w, ("G", G))
    gscale, alpha, beta, lo, hi = _scalars(gscale, alpha, beta, lo, hi)
    if use_numba:
        stats = lambda lam: _cpg_stats(B, G, gscale, w, alpha, beta, lo, hi, lam)  # noqa: E731
    else:
        stats = lambda lam: _cpg_ref(B, G, gscale, w, alpha, beta, lo, hi, lam)  # noqa: E731
    return float(_constrained_root(stats)[0])


def local_value(B, w, alpha, beta, gamma=0.0):
    """``sum_ij w_i w_j (alpha h(B_ij) + beta B_ij + gamma)`` with 0 log 0 = 0 (one pass)."""
    _check(B, w)
    alpha, beta, gamma = _scalars(alpha, beta, gamma)
    return float(_pick(_local_value_kernel, _local_value_kernel_serial, B.shape[0])(B, w, alpha, beta, gamma, _tiles(B.shape[0]), TILE))


def shifted_mean(B, w, lam, lo, hi):
    """``sum_ij w_i w_j clip(B_ij + lam, lo, hi)`` (one pass), for the density constraint."""
    _check(B, w)
    lam, lo, hi = _scalars(lam, lo, hi)
    return float(_pick(_shifted_mean_kernel, _shifted_mean_kernel_serial, B.shape[0])(B, w, lam, lo, hi, _tiles(B.shape[0]), TILE))


def apply_shift(B, lam, lo, hi):
    """In place: ``B <- clip(B + lam, lo, hi)``, symmetric exactly."""
    _check(B, np.zeros(B.shape[0]) if isinstance(B, np.ndarray) and B.ndim == 2 else None)
    lam, lo, hi = _scalars(lam, lo, hi)
    _pick(_apply_shift_kernel, _apply_shift_kernel_serial, B.shape[0])(B, lam, lo, hi, _tiles(B.shape[0]), TILE)
    return B

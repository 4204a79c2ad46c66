"""Fused kernels of the noisy flow: a counter-based normal generator and the noisy Euler pass.

Normals
-------
Every normal variate is a pure function of (key, step, entry).  Entries come in pairs: entry
l = i n + j (i <= j) belongs to the counter c = floor(l / 2), and the Philox4x32-10 block cipher
(Salmon, Moraes, Dror, Shaw, SC'11) encrypts the 128-bit counter

    (c mod 2^32, c div 2^32, s mod 2^32, s div 2^32),   s = the step index,

under the 64-bit key.  The four output words x0..x3 give two 53-bit uniforms

    u1 = ((x0 >> 5) 2^26 + (x1 >> 6) + 1) 2^-53  in (0, 1],
    u2 = ((x2 >> 5) 2^26 + (x3 >> 6)) 2^-53      in [0, 1),

and Box--Muller gives two independent normals, sqrt(-2 log u1) cos(2 pi u2) for the even entry
and sqrt(-2 log u1) sin(2 pi u2) for the odd one.  The log is the branch-free one of
:mod:`graphonflow._vecmath` and the sine and cosine are branch-free polynomials, so the loop over
a row segment vectorises.  No state is carried between entries, so the draws do not depend on
how the loop is split among threads, and a step can be recomputed alone.

Each kernel has a NumPy twin (``*_ref``) that the tests compare it with.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from .._kernels import PARALLEL_MIN, TILE, _bounds, _check, _grad_segment, _scalars, _segment_sum, _store_segment, _tiles
from .._vecmath import vlog

__all__ = ["philox4x32", "philox_normal", "noisy_euler_step", "noisy_euler_step_reference"]

_M0 = np.uint64(0xD2511F53)
_M1 = np.uint64(0xCD9E8D57)
_W0 = np.uint64(0x9E3779B9)
_W1 = np.uint64(0xBB67AE85)
_MASK = np.uint64(0xFFFFFFFF)
_S32 = np.uint64(32)
_TWO53 = 2.0 ** -53
_U5 = np.uint64(5)
_U6 = np.uint64(6)
_TWOPI = 2.0 * math.pi


@njit(cache=True, inline="always")
def _philox(c0, c1, c2, c3, k0, k1):
    """Philox4x32-10 of the counter (c0..c3) under the key (k0, k1); all uint64 holding 32 bits."""
    for _ in range(10):
        p0 = _M0 * c0
        p1 = _M1 * c2
        hi0, lo0 = p0 >> _S32, p0 & _MASK
        hi1, lo1 = p1 >> _S32, p1 & _MASK
        c0, c1, c2, c3 = (hi1 ^ c1 ^ k0) & _MASK, lo1, (hi0 ^ c3 ^ k1) & _MASK, lo0
        k0 = (k0 + _W0) & _MASK
        k1 = (k1 + _W1) & _MASK
    return c0, c1, c2, c3


_HALF_PI = 0.5 * math.pi


@njit(cache=True, inline="always", error_model="numpy")
def _sincos2pi(v):
    """(cos 2 pi v, sin 2 pi v) for v in [0, 1), branch-free (LLVM can vectorise it): v = (k + r)/4 with k the
    nearest quarter turn and |r| <= 1/2 (both exact), then Taylor polynomials of sin and cos on
    |a| <= pi/4, a = r pi/2 (truncation below 2e-19), and the quadrant's swap and sign."""
    y = 4.0 * v
    k = np.floor(y + 0.5)
    a = (y - k) * _HALF_PI
    z = a * a
    c = 1.0 / 6402373705728000.0  # cos: 1 - z/2! + ... - z^9/18!
    c = -c * z + 1.0 / 20922789888000.0
    c = -c * z + 1.0 / 87178291200.0
    c = -c * z + 1.0 / 479001600.0
    c = -c * z + 1.0 / 3628800.0
    c = -c * z + 1.0 / 40320.0
    c = -c * z + 1.0 / 720.0
    c = -c * z + 1.0 / 24.0
    c = -c * z + 0.5
    c = -c * z + 1.0
    sn = 1.0 / 121645100408832000.0  # sin: a (1 - z/3! + ... + z^8/17!)
    sn = -sn * z + 1.0 / 355687428096000.0
    sn = -sn * z + 1.0 / 1307674368000.0
    sn = -sn * z + 1.0 / 6227020800.0
    sn = -sn * z + 1.0 / 39916800.0
    sn = -sn * z + 1.0 / 362880.0
    sn = -sn * z + 1.0 / 5040.0
    sn = -sn * z + 1.0 / 120.0
    sn = -sn * z + 1.0 / 6.0
    sn = a * (-sn * z + 1.0)
    q = np.int64(k) & 3  # (cos, sin)(q pi/2 + a) = (c, s), (-s, c), (-c, -s), (s, -c)
    odd = (q & 1) == 1
    cv = sn if odd else c
    sv = c if odd else sn
    cv = -cv if (q == 1) | (q == 2) else cv
    sv = -sv if q >= 2 else sv
    return cv, sv


@njit(cache=True, inline="always", error_model="numpy")
def _normal_pair(c, s, k0, k1):
    """The two standard normals of counter c at step s (uint64 c, s; key words k0, k1): Box--Muller
    sqrt(-2 log u1) (cos 2 pi u2, sin 2 pi u2) with the branch-free log and sine/cosine."""
    x0, x1, x2, x3 = _philox(c & _MASK, c >> _S32, s & _MASK, s >> _S32, k0, k1)
    u1 = (np.float64(x0 >> np.uint64(5)) * 67108864.0 + np.float64(x1 >> np.uint64(6)) + 1.0) * _TWO53
    u2 = (np.float64(x2 >> np.uint64(5)) * 67108864.0 + np.float64(x3 >> np.uint64(6))) * _TWO53
    r = math.sqrt(-2.0 * vlog(u1))
    cv, sv = _sincos2pi(u2)
    return r * cv, r * sv


@njit(cache=True, inline="always", error_model="numpy")
def _fill_normals(zz, ua, ub, base, nj, s, k0, k1):
    """zz[k] = the normal of entry base + k, k < nj (entry l is the cosine (l even) or the sine
    (l odd) variate of counter l >> 1); returns the offset o with entry base + k at zz[k + o].

    Three loops, each of which LLVM vectorises on its own (fused, the loop is too large for
    it and runs about 3x slower): the Philox blocks and their uniforms into ua, ub; Box--Muller
    in place; and the interleaving into zz.  ua, ub hold at least (nj + 3) // 2 entries."""
    one = np.uint64(1)
    c0 = base >> one
    nc = np.int64(((base + np.uint64(nj) - one) >> one) - c0 + one)
    s0 = s & _MASK
    s1 = s >> _S32
    for c in range(nc):
        cc = c0 + np.uint64(c)
        x0, x1, x2, x3 = _philox(cc & _MASK, cc >> _S32, s0, s1, k0, k1)
        # the shifted words fit in int64, whose conversion to float64 vectorises
        ua[c] = (np.float64(np.int64(x0 >> _U5)) * 67108864.0 + np.float64(np.int64(x1 >> _U6)) + 1.0) * _TWO53
        ub[c] = (np.float64(np.int64(x2 >> _U5)) * 67108864.0 + np.float64(np.int64(x3 >> _U6))) * _TWO53
    for c in range(nc):
        r = math.sqrt(-2.0 * vlog(ua[c]))
        cv, sv = _sincos2pi(ub[c])
        ua[c] = r * cv
        ub[c] = r * sv
    for c in range(nc):
        zz[2 * c] = ua[c]
        zz[2 * c + 1] = ub[c]
    return np.int64(base & one)


@njit(cache=True)
def _philox_block(ctr, key):  # pragma: no cover - compiled
    out = np.empty(4, np.uint64)
    a, b, c, d = _philox(np.uint64(ctr[0]), np.uint64(ctr[1]), np.uint64(ctr[2]), np.uint64(ctr[3]),
                         np.uint64(key[0]), np.uint64(key[1]))
    out[0], out[1], out[2], out[3] = a, b, c, d
    return out


@njit(cache=True)
def _normals(ls, s, k0, k1):  # pragma: no cover - compiled
    out = np.empty(ls.shape[0])
    one = np.uint64(1)
    for q in range(ls.shape[0]):
        l = np.uint64(ls[q])
        a, b = _normal_pair(l >> one, np.uint64(s), np.uint64(k0), np.uint64(k1))
        out[q] = a if (l & one) == 0 else b
    return out


def philox4x32(counter, key):
    """Philox4x32-10: four 32-bit output words of a 4-word counter under a 2-word key.

    >>> [format(int(x), "08x") for x in philox4x32([0, 0, 0, 0], [0, 0])]
    ['6627e8d5', 'e169c58d', 'bc57ac4c', '9b00dbd8']
    """
    ctr = np.asarray(counter, dtype=np.uint64)
    k = np.asarray(key, dtype=np.uint64)
    if ctr.shape != (4,) or k.shape != (2,) or np.any(ctr >> np.uint64(32)) or np.any(k >> np.uint64(32)):
        raise ValueError("counter must be 4 and key 2 unsigned 32-bit words")
    return _philox_block(ctr, k)


def _key_words(key):
    key = int(key)
    if not 0 <= key < 2**64:
        raise ValueError(f"key must be an integer in [0, 2^64), got {key}")
    return key & 0xFFFFFFFF, key >> 32


def philox_normal(entries, step, key):
    """The normals the noisy kernel draws for linear entry indices ``entries`` at ``step``.

    >>> z = philox_normal(np.arange(100000), 0, key=12345)
    >>> abs(float(z.mean())) < 0.01, abs(float(z.std()) - 1) < 0.01
    (True, True)
    """
    k0, k1 = _key_words(key)
    ls = np.ascontiguousarray(entries, dtype=np.uint64).ravel()
    return _normals(ls, np.uint64(int(step)), np.uint64(k0), np.uint64(k1))


def philox_normal_reference(entries, step, key):
    """NumPy twin of :func:`philox_normal` (vectorised Philox4x32-10 and Box--Muller)."""
    k0, k1 = (np.uint64(v) for v in _key_words(key))
    ls = np.asarray(entries, dtype=np.uint64).ravel()
    odd = (ls & np.uint64(1)).astype(bool)
    cs = ls >> np.uint64(1)
    s = np.uint64(int(step))
    c0, c1 = cs & _MASK, cs >> _S32
    c2 = np.full_like(cs, s & _MASK)
    c3 = np.full_like(cs, s >> _S32)
    with np.errstate(over="ignore"):
        for _ in range(10):
            p0 = _M0 * c0
            p1 = _M1 * c2
            hi0, lo0 = p0 >> _S32, p0 & _MASK
            hi1, lo1 = p1 >> _S32, p1 & _MASK
            c0, c1, c2, c3 = (hi1 ^ c1 ^ k0) & _MASK, lo1, (hi0 ^ c3 ^ k1) & _MASK, lo0
            k0 = (k0 + _W0) & _MASK
            k1 = (k1 + _W1) & _MASK
    u1 = ((c0 >> np.uint64(5)).astype(np.float64) * 67108864.0 + (c1 >> np.uint64(6)).astype(np.float64) + 1.0) * _TWO53
    u2 = ((c2 >> np.uint64(5)).astype(np.float64) * 67108864.0 + (c3 >> np.uint64(6)).astype(np.float64)) * _TWO53
    r = np.sqrt(-2.0 * np.log(u1))
    return np.where(odd, r * np.sin(_TWOPI * u2), r * np.cos(_TWOPI * u2))


# ------------------------------------------------------------------ the noisy Euler pass
@njit(cache=True, error_model="numpy")
def _noisy_tile(B, G, gscale, w, dt, alpha, beta, lo, hi, sigma, reflect, s, k0, k1, out, tiles, t, ts):
    i0, i1, j0, j1, diag = _bounds(tiles, t, ts, B.shape[0])
    n = np.uint64(B.shape[0])
    gb = np.empty(ts)
    xb = np.empty(ts)
    zz = np.empty(ts + 2)
    ua = np.empty(ts // 2 + 2)
    ub = np.empty(ts // 2 + 2)
    qb = np.empty(ts)
    fb = np.empty(ts, dtype=np.bool_)
    part = 0.0
    for i in range(i0, i1):
        js = i if diag else j0
        nj = j1 - js
        Bi = B[i, js:j1]
        _grad_segment(Bi, G[i, js:j1], nj, gscale, alpha, beta, lo, hi, gb, qb, fb)
        o = _fill_normals(zz, ua, ub, np.uint64(i) * n + np.uint64(js), nj, s, k0, k1)
        if reflect:
            for k in range(nj):
                x = (np.float64(Bi[k]) - dt * gb[k]) + sigma * zz[k + o]
                x = 2.0 * hi - x if x > hi else x
                x = 2.0 * lo - x if x < lo else x
                xb[k] = min(max(x, lo), hi)
        else:
            for k in range(nj):
                xb[k] = min(max((np.float64(Bi[k]) - dt * gb[k]) + sigma * zz[k + o], lo), hi)
        _store_segment(out, i, js, xb, nj)
        part += w[i] * _segment_sum(w, qb, js, nj, diag)
    return part


@njit(parallel=True, cache=True)
def _noisy_kernel(B, G, gscale, w, dt, alpha, beta, lo, hi, sigma, reflect, s, k0, k1, out, tiles, ts):
    acc = 0.0
    for t in prange(tiles.shape[0]):
        acc += _noisy_tile(B, G, gscale, w, dt, alpha, beta, lo, hi, sigma, reflect, s, k0, k1, out, tiles, t, ts)
    return acc


@njit(cache=True)
def _noisy_kernel_serial(B, G, gscale, w, dt, alpha, beta, lo, hi, sigma, reflect, s, k0, k1, out, tiles, ts):
    acc = 0.0
    for t in range(tiles.shape[0]):
        acc += _noisy_tile(B, G, gscale, w, dt, alpha, beta, lo, hi, sigma, reflect, s, k0, k1, out, tiles, t, ts)
    return acc


def noisy_euler_step(B, G, w, dt, sigma, *, key, step, gscale=1.0, alpha=0.0, beta=0.0, lo=0.0, hi=1.0,
                     reflect=False, out=None, parallel=None):
    r"""One projected noisy Euler step, fused into one pass with its normal draws.

    .. math:: B' = P\bigl(B - dt\,DF(B) + \sigma Z\bigr),\qquad DF = g_s G + \alpha\,\mathrm{logit}\,B + \beta,

    with Z standard normal on the upper triangle (diagonal included) and mirrored, drawn by
    Philox4x32-10 from (key, step, entry) (module docstring), and P the clip to [lo, hi] --
    after one reflection x -> 2 hi - x (or 2 lo - x) when ``reflect``.  With sigma = 0 the
    result is bit for bit :func:`graphonflow._kernels.euler_step`.  G is read from its upper
    triangle (``None``: no non-local term).

    Returns ``(out, pg2)`` with pg2 the squared projected-gradient norm at the input B, as
    the Euler pass does.  ``parallel`` (default: from the size) picks the threaded driver;
    the result does not depend on it.

    >>> B = np.full((3, 3), 0.5); w = np.full(3, 1 / 3)
    >>> out, _ = noisy_euler_step(B, None, w, 0.1, 0.0, key=1, step=0, beta=-1.0)
    >>> float(out[0, 1])
    0.6
    """
    if G is None:
        G, gscale = B, 0.0
    _check(B, w, ("G", G), ("out", out))
    dt, sigma, gscale, alpha, beta, lo, hi = _scalars(dt, sigma, gscale, alpha, beta, lo, hi)
    if sigma < 0:
        raise ValueError(f"sigma must be >= 0, got {sigma}")
    k0, k1 = _key_words(key)
    step = int(step)
    if not 0 <= step < 2**64:
        raise ValueError(f"step must be in [0, 2^64), got {step}")
    if out is None:
        out = np.empty_like(B)
    m = B.shape[0]
    par = (m * m >= PARALLEL_MIN) if parallel is None else bool(parallel)
    kern = _noisy_kernel if par else _noisy_kernel_serial
    pg2 = kern(B, G, gscale, w, dt, alpha, beta, lo, hi, sigma, bool(reflect), np.uint64(step),
               np.uint64(k0), np.uint64(k1), out, _tiles(m), TILE)
    return out, float(pg2)


def noisy_euler_step_reference(B, G, w, dt, sigma, *, key, step, gscale=1.0, alpha=0.0, beta=0.0, lo=0.0,
                               hi=1.0, reflect=False):
    """NumPy twin of :func:`noisy_euler_step` (returns the new B only)."""
    from .._kernels import _full_grad_ref

    if G is None:
        G, gscale = B, 0.0
    m = B.shape[0]
    D = _full_grad_ref(B, G, gscale, alpha, beta)
    iu, ju = np.triu_indices(m)
    Z = np.zeros((m, m))
    Z[iu, ju] = philox_normal_reference(iu.astype(np.uint64) * np.uint64(m) + ju.astype(np.uint64), step, key)
    Z[ju, iu] = Z[iu, ju]
    X = (B.astype(np.float64) - dt * D) + sigma * Z
    if reflect:
        X = np.where(X > hi, 2.0 * hi - X, np.where(X < lo, 2.0 * lo - X, X))
    return np.clip(X, lo, hi).astype(B.dtype)

"""Branch-free ``exp`` and ``log`` that LLVM can vectorise inside Numba loops.

A call to ``np.exp`` or ``np.log`` inside a Numba loop is a call into the C library,
one element at a time: the loop around it cannot be vectorised (numba's SVML path
would, but the llvmlite wheels on PyPI are not built with it). The two functions here
are polynomials plus integer operations on the IEEE-754 bit pattern, written without
branches or calls, so a loop that inlines them runs 8 lanes at a time on AVX-512.
On the project machine a loop of ``vexp`` ran at about 1.2 ns per element against
8-10 ns for the scalar library call (numpy's own SIMD ``np.exp``: 1.0 ns).

Both are for *restricted* domains, which the caller checks (the kernels send the
entries outside them down a scalar path):

* ``vexp(x)`` for ``|x| <= 708``: ``exp(x) = 2^k e^r`` with ``k = round(x / ln 2)``,
  ``r = x - k ln 2`` (Cody-Waite: ln 2 split in a 32-bit head and a tail, so
  ``k ln2_hi`` is exact) and ``|r| <= ln(2)/2``; ``e^r`` is its Taylor polynomial of
  degree 13, whose truncation error ``|r|^14 / 14! < 5e-18`` is below the rounding.
  ``2^k`` is built from its bit pattern. Measured error: <= 1.01 ulp.
* ``vlog(x)`` for positive normal ``x`` (``2.3e-308 <= x < inf``): ``x = 2^e m`` with
  ``m`` in ``[sqrt(2)/2, sqrt(2))`` read from the bit pattern, and
  ``log m = 2 atanh(u) = 2 (u + u^3/3 + u^5/5 + ...)`` with ``u = (m - 1)/(m + 1)``,
  ``|u| <= 0.172``; 12 odd terms leave a truncation error below ``1e-19``.
  Measured error: <= 2 ulp.

The numerics tests compare both with numpy over their whole domains.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

__all__ = ["vexp", "vlog", "EXP_MAX"]

#: ``vexp`` is valid for ``|x| <= EXP_MAX``
EXP_MAX = 708.0

_LOG2E = 1.4426950408889634
_LN2_HI = 0.6931471803691238  # 0x3FE62E42FEE00000: 32 significant bits, so k * _LN2_HI is exact
_LN2_LO = 1.9082149292705877e-10  # ln 2 - _LN2_HI
_SQRT2 = 1.4142135623730951
_MANT = 0x000FFFFFFFFFFFFF
_ONE_BITS = 0x3FF0000000000000


@intrinsic
def _bits_as_f64(typingctx, i):
    """Reinterpret the 64 bits of an int64 as a float64 (no conversion)."""
    if not isinstance(i, types.Integer) or i.bitwidth != 64:
        return None

    def codegen(context, builder, sig, args):
        return builder.bitcast(args[0], ir.DoubleType())

    return types.float64(i), codegen


@intrinsic
def _f64_as_bits(typingctx, x):
    """Reinterpret the 64 bits of a float64 as an int64 (no conversion)."""
    if x != types.float64:
        return None

    def codegen(context, builder, sig, args):
        return builder.bitcast(args[0], ir.IntType(64))

    return types.int64(types.float64), codegen


@njit(cache=True, inline="always", error_model="numpy")
def vexp(x):
    """exp(x) for |x| <= 708, within 1.01 ulp, branch-free (see the module docstring)."""
    k = np.floor(x * _LOG2E + 0.5)
    r = (x - k * _LN2_HI) - k * _LN2_LO
    p = 1.0 / 6227020800.0
    p = p * r + 1.0 / 479001600.0
    p = p * r + 1.0 / 39916800.0
    p = p * r + 1.0 / 3628800.0
    p = p * r + 1.0 / 362880.0
    p = p * r + 1.0 / 40320.0
    p = p * r + 1.0 / 5040.0
    p = p * r + 1.0 / 720.0
    p = p * r + 1.0 / 120.0
    p = p * r + 1.0 / 24.0
    p = p * r + 1.0 / 6.0
    p = p * r + 0.5
    p = p * r + 1.0
    p = p * r + 1.0
    return p * _bits_as_f64((np.int64(k) + 1023) << 52)


@njit(cache=True, inline="always", error_model="numpy")
def vlog(x):
    """log(x) for positive normal x, within 2 ulp, branch-free (see the module docstring)."""
    bits = _f64_as_bits(x)
    e = np.float64((bits >> 52) - 1023)
    m = _bits_as_f64((bits & _MANT) | _ONE_BITS)  # in [1, 2)
    big = m > _SQRT2
    m = 0.5 * m if big else m
    e = e + 1.0 if big else e
    f = m - 1.0
    u = f / (2.0 + f)
    z = u * u
    p = 1.0 / 25.0
    p = p * z + 1.0 / 23.0
    p = p * z + 1.0 / 21.0
    p = p * z + 1.0 / 19.0
    p = p * z + 1.0 / 17.0
    p = p * z + 1.0 / 15.0
    p = p * z + 1.0 / 13.0
    p = p * z + 1.0 / 11.0
    p = p * z + 1.0 / 9.0
    p = p * z + 1.0 / 7.0
    p = p * z + 1.0 / 5.0
    p = p * z + 1.0 / 3.0
    # log m = 2u + 2u z p, written as f - u f + 2 u z p (2u = f - u f exactly in real numbers),
    # which keeps the leading term f exact near m = 1
    lm = f - u * (f - 2.0 * z * p)
    return e * _LN2_HI + (lm + e * _LN2_LO)


@njit(cache=True, error_model="numpy")
def _vexp_array(x, out):
    for i in range(x.size):
        out[i] = vexp(x[i])


@njit(cache=True, error_model="numpy")
def _vlog_array(x, out):
    for i in range(x.size):
        out[i] = vlog(x[i])

"""Matrix products for the density engine, and Numba kernels for triangle copies and checks.

All products go through numpy's own BLAS (``np.matmul``), so a process runs one
OpenBLAS thread pool, not two: scipy ships a second OpenBLAS whose idle threads
keep spinning after each call and would fight numpy's for the cores.  numpy turns
``X @ X.T`` into one ``syrk`` (half the flops of a general product) and fills
both triangles itself.

The triangle copies and the symmetry check are serial on purpose: they run right
after a BLAS call, whose worker threads keep spinning for a while; a parallel
Numba region would fight them for the cores (measured: 4 ms became 220 ms at
m = 2000 on 2 cores).
"""

from __future__ import annotations

import numba
import numpy as np

# Below this size OpenBLAS' syrk is slower than gemm on the machines we measured
# (it threads poorly for small m); above it, syrk halves the flops.
SYRK_MIN = 768
# Between these sizes one level of 2 x 2 blocking beats a single syrk: the two diagonal
# blocks are syrks and the off-diagonal block is a gemm, which OpenBLAS runs closer to peak
# (measured at m = 2000 on this project's 2-core machine: 103 ms against 122 ms; at m = 1000
# and 4000 plain syrk is as fast or faster).
SYRK_SPLIT = (1536, 3072)
# numpy 2.4's bundled OpenBLAS 0.3.31 crashes (segmentation fault) in X @ X.T, its ?syrk, once
# the product has more than about 2^31 bytes: n = 12000 (float64) works, n = 17000 kills the
# interpreter, while a general product of the same size works.  Larger squares are therefore
# built from blocks: syrk on diagonal blocks of at most SYRK_MAX rows, gemm off the diagonal.
SYRK_MAX = 8192
_BLOCK = 64


def gemm(alpha, X, Y):
    """alpha * X @ Y (float32 or float64, C-contiguous out)."""
    out = np.matmul(X, Y)
    if alpha != 1.0:
        out *= alpha
    return out


def sym_square(alpha, X, symmetric=False):
    """alpha * X @ X.T, exactly symmetric (C-contiguous); X is (m, k), the result (m, m).

    For m >= SYRK_MIN this is one BLAS ``syrk`` (m^3 flops instead of a general
    product's 2 m^3).  Below, a general product (of X with itself when the caller
    says X is symmetric, so no transposed copy is needed) and a triangle copy.
    Above SYRK_MAX rows the square is assembled from blocks (an OpenBLAS syrk bug).
    """
    m = X.shape[0]
    if m > SYRK_MAX or SYRK_SPLIT[0] <= m < SYRK_SPLIT[1]:
        # 2 x 2 blocking, [T; U] [T; U]^T = [[T T^T, T U^T], [U T^T, U U^T]]: symmetric squares
        # (recursively, so no single syrk exceeds SYRK_MAX rows) on the diagonal, a gemm off it
        h = m // 2
        out = np.empty((m, m), dtype=np.result_type(X.dtype, np.float32))
        top, bottom = X[:h], X[h:]
        out[:h, :h] = sym_square(1.0, top)
        out[h:, h:] = sym_square(1.0, bottom)
        C = np.matmul(top, bottom.T)
        out[:h, h:] = C
        out[h:, :h] = C.T
        del C
    elif m >= SYRK_MIN:
        out = np.matmul(X, X.T)
    else:
        out = np.matmul(X, X if symmetric else np.ascontiguousarray(X.T))
        _mirror_lower_from_upper(out)  # symmetric up to rounding; make it exact
    if alpha != 1.0:
        out *= alpha
    return out


@numba.njit(cache=True)
def _mirror_upper_from_lower(out):  # pragma: no cover - compiled
    """Copy out[i, j] (i > j) into out[j, i], in cache-sized tiles."""
    m = out.shape[0]
    for i0 in range(0, m, _BLOCK):
        i1 = min(m, i0 + _BLOCK)
        for j0 in range(0, i1, _BLOCK):
            j1 = min(m, j0 + _BLOCK)
            for i in range(i0, i1):
                for j in range(j0, min(j1, i)):
                    out[j, i] = out[i, j]


@numba.njit(cache=True)
def _mirror_lower_from_upper(out):  # pragma: no cover - compiled
    """Copy out[j, i] (j < i) into out[i, j], in cache-sized tiles."""
    m = out.shape[0]
    for i0 in range(0, m, _BLOCK):
        i1 = min(m, i0 + _BLOCK)
        for j0 in range(0, i1, _BLOCK):
            j1 = min(m, j0 + _BLOCK)
            for i in range(i0, i1):
                for j in range(j0, min(j1, i)):
                    out[i, j] = out[j, i]


def mirror_upper_from_lower_reference(out):
    """NumPy twin of the Numba kernel (returns a new array)."""
    low = np.tril(out)
    return low + np.tril(out, -1).T


def mirror_lower_from_upper_reference(out):
    """NumPy twin of the Numba kernel (returns a new array)."""
    up = np.triu(out)
    return up + np.triu(out, 1).T


@numba.njit(cache=True)
def _symmetry_defect_rows(A, i0, i1):  # pragma: no cover - compiled
    """Defect of rows i0..i1-1 against their transposed columns (j <= i)."""
    m = A.shape[0]
    da = 0.0
    mx = 0.0
    nbad = 0
    for j0 in range(0, i1, _BLOCK):
        j1 = min(m, j0 + _BLOCK)
        for i in range(i0, i1):
            for j in range(j0, min(j1, i + 1)):
                x = A[i, j]
                y = A[j, i]
                if not (np.isfinite(x) and np.isfinite(y)):
                    nbad += 1
                else:
                    da = max(da, abs(x - y))
                    mx = max(mx, max(abs(x), abs(y)))
    return da, mx, nbad


@numba.njit(cache=True)
def _symmetry_defect(A):  # pragma: no cover - compiled
    """One tiled pass: (max |A_ij - A_ji|, max |A_ij|, number of non-finite pairs).

    Serial, like the triangle copies: it is memory-bound, and a parallel region next
    to BLAS calls loses more to thread contention than it gains."""
    m = A.shape[0]
    nb = (m + _BLOCK - 1) // _BLOCK
    asym = np.zeros(nb)
    amax = np.zeros(nb)
    bad = np.zeros(nb, dtype=np.int64)
    for bi in range(nb):
        r = _symmetry_defect_rows(A, bi * _BLOCK, min(m, (bi + 1) * _BLOCK))
        asym[bi] = r[0]
        amax[bi] = r[1]
        bad[bi] = r[2]
    return asym.max(), amax.max(), bad.sum()


def symmetry_defect(A):
    """(max |A - A^T|, max |A|, count of non-finite entries) of a square float array."""
    A = np.ascontiguousarray(A)
    return _symmetry_defect(A)


def symmetry_defect_reference(A):
    """NumPy twin of :func:`symmetry_defect`."""
    fin = np.isfinite(A)
    ok = fin & fin.T
    with np.errstate(invalid="ignore"):
        D = np.where(ok, np.abs(A - A.T), 0.0)
    M = np.where(ok, np.abs(A), 0.0)
    return float(D.max()), float(M.max()), int(np.count_nonzero(np.tril(~ok)))

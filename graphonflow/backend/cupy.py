r"""CuPy: the GPU implementation of :class:`~graphonflow.backend.ArrayBackend`.

:class:`CuPyBackend` is the generic :class:`~graphonflow.backend.array_api.ArrayAPIBackend`
on ``array_api_compat.cupy`` with the hot passes replaced by CUDA kernels, each one pass
over the matrix:

=====================  ==========================================================  =================
pass                   what one thread does per entry (i, j)                        generic twin
=====================  ==========================================================  =================
``euler_pass``         DF, its projected square, clip(B - dt DF)                    ``euler_pass``
``prox_pass``          three Halley steps from logit B, else the safeguarded solver ``prox_pass``
``speed2``             the projected square of DF                                   ``speed2``
``constrained_speed2`` the six statistics of the constrained velocity at lam        ``stats(lam)``
``local_value``        phi(B_ij) = alpha h + beta B + gamma                         ``local_value``
``shifted_mean``       clip(B + lam)                                                ``shifted_mean``
``apply_shift``        B <- clip(B + lam) in place                                  ``apply_shift``
``noisy_euler_pass``   Philox4x32-10 normal of min(i,j) n + max(i,j), the noisy     ``philox_normals_xp``
                       Euler step                                                   + ``noisy_euler_pass``
``clip``, ``project_   the box projection of a stage, of a velocity                 ``clip``,
velocity``                                                                          ``project_velocity``
``lincomb``            base + sum_k c_k X_k in the state's dtype (all terms at      ``lincomb``
                       once)
``scaled_sym``,        scale G; -(alpha logit B + beta), in the state's dtype       ``scaled_sym``,
``local_velocity``     (the explicit and implicit tendencies of a stage)            ``local_velocity``
``mirror``             upper triangle -> lower, 32 x 32 tiles through shared memory ``mirror``
=====================  ==========================================================  =================

The weighted sums sum_ij w_i w_j q_ij are reduced per row (w_j q_ij), then w_i times the
row part, per thread in float64, then per block, and the block partials are summed by
``cupy.sum`` (a fixed grid, so the result does not change from run to run).  Every entry is
computed in float64 and rounded once to the state's dtype, as on the CPU; the kernels are
compiled with ``--fmad=false`` so that no multiply-add is contracted (the CPU kernels do
not contract either, except the proximal pass).

The per-entry arithmetic lives in ``__device__`` functions (:data:`DEVICE_FUNCTIONS`) that
also compile as plain C++ (:func:`host_source`): the tests build them with the host
compiler and compare them with the generic backend on the CPU.  The kernels' loops and
the Python launches below run only on a GPU (tests skip without one).

Symmetric products are cuBLAS ``syrk`` (one triangle, then :meth:`CuPyBackend.mirror`) and
``gemm``.  Inside :func:`allow_tf32` the float32 products may use TF32 tensor cores
(``CUBLAS_TF32_TENSOR_OP_MATH``): an explicit opt-in, off by default.

CuPy is imported only when a :class:`CuPyBackend` is made, never by ``import graphonflow``.
"""

from __future__ import annotations

import contextlib
import math

import numpy as np

from .. import _kernels
from .._vecmath import EXP_MAX
from .array_api import ArrayAPIBackend

__all__ = ["CuPyBackend", "allow_tf32", "DEVICE_FUNCTIONS", "cuda_source", "host_source", "BLOCK"]

#: threads per block of the reduction kernels (a power of two: the block sum halves it)
BLOCK = 256
#: at most this many blocks across a row and down the rows (grid-stride loops beyond)
GRID_X, GRID_Y = 8, 4096

_CONSTANTS = f"""
#define GF_FAST_MIN {_kernels.FAST_MIN!r}
#define GF_STEP_TOL {_kernels.STEP_TOL!r}
#define GF_ESCAPE_AFTER {_kernels.ESCAPE_AFTER}
#define GF_EXP_MAX {EXP_MAX!r}
#define GF_TWO53 {2.0 ** -53!r}
#define GF_HALF_PI {0.5 * math.pi!r}
"""

#: the per-entry arithmetic, shared by the CUDA kernels and the host build of the tests
DEVICE_FUNCTIONS = _CONSTANTS + r"""
#ifdef GF_HOST
#include <math.h>
#define GF_DEV static inline
#else
#define GF_DEV __device__ __forceinline__
#endif

GF_DEV double gf_clip(double x, double lo, double hi) {
    x = x < lo ? lo : x;          /* NaN passes through: the norm then reports it */
    return x > hi ? hi : x;
}

/* (P_B DF)^2: the squared velocity -g, zero where B sits on a face and -g points out */
GF_DEV double gf_q(double b, double g, double lo, double hi) {
    double v = -g;
    return ((b <= lo && v < 0.0) || (b >= hi && v > 0.0)) ? 0.0 : v * v;
}

/* DF = gscale G + beta + alpha log(b / (1 - b)) */
GF_DEV double gf_grad(double b, double graw, double gscale, double alpha, double beta) {
    double g = gscale * graw + beta;
    if (alpha != 0.0) g += alpha * log(b / (1.0 - b));
    return g;
}

GF_DEV double gf_euler(double b, double graw, double dt, double gscale, double alpha, double beta,
                       double lo, double hi, double* q) {
    double g = gf_grad(b, graw, gscale, alpha, beta);
    *q = gf_q(b, g, lo, hi);
    return gf_clip(b - dt * g, lo, hi);
}

/* Halley step for f(s) = x + ta s - z, x = sigmoid(s): returns the step, d = x (1 - x) */
GF_DEV double gf_halley(double s, double x, double z, double ta, double* d) {
    double f = x + ta * s - z;
    *d = x * (1.0 - x);
    double fp = *d + ta;
    double den = 2.0 * fp * fp - f * *d * (1.0 - 2.0 * x);
    return den > 0.0 ? (f * (2.0 * fp)) / den : f / fp;
}

GF_DEV double gf_sigmoid(double s) {
    double e = -s;
    e = e < -GF_EXP_MAX ? -GF_EXP_MAX : e;
    e = e > GF_EXP_MAX ? GF_EXP_MAX : e;
    return 1.0 / (1.0 + exp(e));
}

/* graphonflow._kernels.prox_scalar: the safeguarded Halley iteration in the logit variable */
GF_DEV double gf_prox_scalar(double y, double s0, double x0, double tau, double alpha, double beta,
                             double lo, double hi) {
    double z = y - tau * beta;
    double x;
    if (alpha == 0.0) {
        x = z;
    } else {
        double ta = tau * alpha;
        double s_lo = (z - 1.0) / ta, s_hi = z / ta;
        double s = s0;
        int known = 1;
        if (!(s > s_lo && s < s_hi)) { s = 0.5 * (s_lo + s_hi); known = 0; }
        x = x0;
        for (int it = 0; it < 200; ++it) {
            if (known) known = 0; else x = 1.0 / (1.0 + exp(-s));
            double f = x + ta * s - z;
            if (f > 0.0) s_hi = s;
            else if (f < 0.0) s_lo = s;
            else break;
            if (it >= GF_ESCAPE_AFTER && fabs(f) <= 4e-16 * (fabs(z) + fabs(ta * s) + x)) break;
            double d = x * (1.0 - x);
            double fp = d + ta;
            double den = 2.0 * fp * fp - f * d * (1.0 - 2.0 * x);
            double step = den > 0.0 ? 2.0 * f * fp / den : f / fp;
            double sn = s - step;
            if (fabs(step) <= GF_STEP_TOL && sn >= s_lo && sn <= s_hi) {
                x = x - d * step + 0.5 * d * (1.0 - 2.0 * x) * step * step;
                break;
            }
            if (!(sn > s_lo && sn < s_hi)) sn = 0.5 * (s_lo + s_hi);
            s = sn;
        }
    }
    return gf_clip(x, lo, hi);
}

/* one entry of the proximal pass (graphonflow._kernels._prox_tile) */
GF_DEV double gf_prox(double b, double graw, double dt, double gscale, double alpha, double beta,
                      double lo, double hi, double* q) {
    double gn = gscale * graw;
    if (alpha == 0.0) {
        *q = gf_q(b, gn + beta, lo, hi);
        return gf_clip((b - dt * gn) - dt * beta, lo, hi);
    }
    double ta = dt * alpha, ita = 1.0 / ta;
    double z = (b - dt * gn) - dt * beta;
    if (b > GF_FAST_MIN && b < 1.0) {
        double d;
        double s0 = log(b / (1.0 - b));
        *q = gf_q(b, gn + beta + alpha * s0, lo, hi);
        double s = s0 - gf_halley(s0, b, z, ta, &d);      /* sigmoid(s0) = b: no exponential */
        s = s - gf_halley(s, gf_sigmoid(s), z, ta, &d);
        double x = gf_sigmoid(s);
        double step = gf_halley(s, x, z, ta, &d);
        double sn = s - step;
        if (fabs(step) <= GF_STEP_TOL && sn >= (z - 1.0) * ita && sn <= z * ita && fabs(s) < GF_EXP_MAX)
            return gf_clip(x - d * step + 0.5 * d * (1.0 - 2.0 * x) * step * step, lo, hi);
    }
    double s0 = log(b / (1.0 - b));                       /* the scalar path */
    *q = gf_q(b, gn + beta + alpha * s0, lo, hi);
    return gf_prox_scalar(b - dt * gn, s0, b, dt, alpha, beta, lo, hi);
}

/* (cos 2 pi v, sin 2 pi v), v in [0, 1): graphonflow.noisy._kernels._sincos2pi */
GF_DEV void gf_sincos2pi(double v, double* cv, double* sv) {
    double y = 4.0 * v;
    double k = floor(y + 0.5);
    double a = (y - k) * GF_HALF_PI;
    double z = a * a;
    double c = 1.0 / 6402373705728000.0;
    c = -c * z + 1.0 / 20922789888000.0;
    c = -c * z + 1.0 / 87178291200.0;
    c = -c * z + 1.0 / 479001600.0;
    c = -c * z + 1.0 / 3628800.0;
    c = -c * z + 1.0 / 40320.0;
    c = -c * z + 1.0 / 720.0;
    c = -c * z + 1.0 / 24.0;
    c = -c * z + 0.5;
    c = -c * z + 1.0;
    double sn = 1.0 / 121645100408832000.0;
    sn = -sn * z + 1.0 / 355687428096000.0;
    sn = -sn * z + 1.0 / 1307674368000.0;
    sn = -sn * z + 1.0 / 6227020800.0;
    sn = -sn * z + 1.0 / 39916800.0;
    sn = -sn * z + 1.0 / 362880.0;
    sn = -sn * z + 1.0 / 5040.0;
    sn = -sn * z + 1.0 / 120.0;
    sn = -sn * z + 1.0 / 6.0;
    sn = a * (-sn * z + 1.0);
    long long q = ((long long)k) & 3;
    int odd = (q & 1) == 1;
    double cc = odd ? sn : c, ss = odd ? c : sn;
    *cv = (q == 1 || q == 2) ? -cc : cc;
    *sv = q >= 2 ? -ss : ss;
}

/* the normal of linear entry l at step s: Box-Muller on Philox4x32-10 of counter l >> 1 */
GF_DEV double gf_normal(unsigned long long l, unsigned long long s, unsigned int k0, unsigned int k1) {
    unsigned long long c = l >> 1;
    unsigned int c0 = (unsigned int)c, c1 = (unsigned int)(c >> 32);
    unsigned int c2 = (unsigned int)s, c3 = (unsigned int)(s >> 32);
    for (int r = 0; r < 10; ++r) {
        unsigned long long p0 = 0xD2511F53ull * (unsigned long long)c0;
        unsigned long long p1 = 0xCD9E8D57ull * (unsigned long long)c2;
        unsigned int hi0 = (unsigned int)(p0 >> 32), lo0 = (unsigned int)p0;
        unsigned int hi1 = (unsigned int)(p1 >> 32), lo1 = (unsigned int)p1;
        c0 = hi1 ^ c1 ^ k0;
        c1 = lo1;
        c2 = hi0 ^ c3 ^ k1;
        c3 = lo0;
        k0 += 0x9E3779B9u;
        k1 += 0xBB67AE85u;
    }
    double u1 = ((double)(c0 >> 5) * 67108864.0 + (double)(c1 >> 6) + 1.0) * GF_TWO53;
    double u2 = ((double)(c2 >> 5) * 67108864.0 + (double)(c3 >> 6)) * GF_TWO53;
    double r = sqrt(-2.0 * log(u1));
    double cv, sv;
    gf_sincos2pi(u2, &cv, &sv);
    return (l & 1ull) ? r * sv : r * cv;
}

GF_DEV double gf_noisy(double b, double graw, double dt, double gscale, double alpha, double beta,
                       double lo, double hi, double sigma, int reflect, double z, double* q) {
    double g = gf_grad(b, graw, gscale, alpha, beta);
    *q = gf_q(b, g, lo, hi);
    double x = (b - dt * g) + sigma * z;
    if (reflect) {
        x = x > hi ? 2.0 * hi - x : x;
        x = x < lo ? 2.0 * lo - x : x;
    }
    return gf_clip(x, lo, hi);
}

/* the constrained velocity at lam: st = (v, v^2, free, |v|), returns DF */
GF_DEV double gf_cpg(double b, double graw, double gscale, double alpha, double beta, double lo, double hi,
                     double lam, double* st) {
    double g = gf_grad(b, graw, gscale, alpha, beta);
    double v = lam - g, fr = 1.0;
    if ((b <= lo && v <= 0.0) || (b >= hi && v >= 0.0)) { v = 0.0; fr = 0.0; }
    st[0] = v; st[1] = v * v; st[2] = fr; st[3] = fabs(v);
    return g;
}

/* phi(b) = alpha (b log b + (1 - b) log(1 - b)) + beta b + gamma, 0 log 0 = 0 */
GF_DEV double gf_phi(double b, double alpha, double beta, double gamma) {
    double phi = beta * b + gamma;
    if (alpha != 0.0) {
        double h = 0.0;
        if (b > 0.0) h += b * log(b);
        if (b < 1.0) h += (1.0 - b) * log(1.0 - b);
        phi += alpha * h;
    }
    return phi;
}
"""

# The kernels.  Reductions run on a (GRID_X, GRID_Y) grid of BLOCK threads: block (bx, by)
# takes the rows i = by, by + gridDim.y, ... and in each the columns j = bx BLOCK + t, ...
_KERNELS = r"""
#define GF_ROWS for (long long i = blockIdx.y; i < n; i += gridDim.y)
#define GF_COLS for (long long j = (long long)blockIdx.x * blockDim.x + threadIdx.x; j < n; \
                     j += (long long)gridDim.x * blockDim.x)
#define GF_FLAT for (long long l = (long long)blockIdx.x * blockDim.x + threadIdx.x; l < N; \
                     l += (long long)gridDim.x * blockDim.x)

__device__ void gf_block_sums(const double* v, int k, double* partial) {
    /* partial[(block) * k + c] = sum over the block's threads of v[c], c < k (k <= 4) */
    __shared__ double sh[4][GF_BLOCK];
    for (int c = 0; c < k; ++c) sh[c][threadIdx.x] = v[c];
    __syncthreads();
    for (int s = GF_BLOCK / 2; s > 0; s >>= 1) {
        if (threadIdx.x < s)
            for (int c = 0; c < k; ++c) sh[c][threadIdx.x] += sh[c][threadIdx.x + s];
        __syncthreads();
    }
    if (threadIdx.x == 0) {
        long long blk = (long long)blockIdx.y * gridDim.x + blockIdx.x;
        for (int c = 0; c < k; ++c) partial[blk * k + c] = sh[c][0];
    }
}

__device__ void gf_block_minmax(double mn, double mx, double* pmin, double* pmax) {
    __shared__ double smin[GF_BLOCK], smax[GF_BLOCK];
    smin[threadIdx.x] = mn; smax[threadIdx.x] = mx;
    __syncthreads();
    for (int s = GF_BLOCK / 2; s > 0; s >>= 1) {
        if (threadIdx.x < s) {
            smin[threadIdx.x] = fmin(smin[threadIdx.x], smin[threadIdx.x + s]);
            smax[threadIdx.x] = fmax(smax[threadIdx.x], smax[threadIdx.x + s]);
        }
        __syncthreads();
    }
    if (threadIdx.x == 0) {
        long long blk = (long long)blockIdx.y * gridDim.x + blockIdx.x;
        pmin[blk] = smin[0]; pmax[blk] = smax[0];
    }
}

extern "C" __global__ void gf_euler_SUF(const T* B, const T* G, const double* w, long long n, int hasG,
        double dt, double gscale, double alpha, double beta, double lo, double hi, T* out, double* partial) {
    double acc = 0.0;
    GF_ROWS {
        double racc = 0.0;
        GF_COLS {
            long long l = i * n + j;
            double q;
            out[l] = (T)gf_euler((double)B[l], hasG ? (double)G[l] : 0.0, dt, gscale, alpha, beta, lo, hi, &q);
            racc += w[j] * q;
        }
        acc += w[i] * racc;
    }
    gf_block_sums(&acc, 1, partial);
}

extern "C" __global__ void gf_prox_SUF(const T* B, const T* G, const double* w, long long n, int hasG,
        double dt, double gscale, double alpha, double beta, double lo, double hi, T* out, double* partial) {
    double acc = 0.0;
    GF_ROWS {
        double racc = 0.0;
        GF_COLS {
            long long l = i * n + j;
            double q;
            out[l] = (T)gf_prox((double)B[l], hasG ? (double)G[l] : 0.0, dt, gscale, alpha, beta, lo, hi, &q);
            racc += w[j] * q;
        }
        acc += w[i] * racc;
    }
    gf_block_sums(&acc, 1, partial);
}

extern "C" __global__ void gf_pg2_SUF(const T* B, const T* G, const double* w, long long n, int hasG,
        double gscale, double alpha, double beta, double lo, double hi, double* partial) {
    double acc = 0.0;
    GF_ROWS {
        double racc = 0.0;
        GF_COLS {
            long long l = i * n + j;
            double b = (double)B[l];
            racc += w[j] * gf_q(b, gf_grad(b, hasG ? (double)G[l] : 0.0, gscale, alpha, beta), lo, hi);
        }
        acc += w[i] * racc;
    }
    gf_block_sums(&acc, 1, partial);
}

extern "C" __global__ void gf_noisy_SUF(const T* B, const T* G, const double* w, long long n, int hasG,
        double dt, double gscale, double alpha, double beta, double lo, double hi, double sigma, int reflect,
        unsigned long long step, unsigned int k0, unsigned int k1, T* out, double* partial) {
    double acc = 0.0;
    GF_ROWS {
        double racc = 0.0;
        GF_COLS {
            long long l = i * n + j;
            unsigned long long lu = i <= j ? (unsigned long long)l : (unsigned long long)(j * n + i);
            double z = sigma != 0.0 ? gf_normal(lu, step, k0, k1) : 0.0;
            double q;
            out[l] = (T)gf_noisy((double)B[l], hasG ? (double)G[l] : 0.0, dt, gscale, alpha, beta, lo, hi,
                                 sigma, reflect, z, &q);
            racc += w[j] * q;
        }
        acc += w[i] * racc;
    }
    gf_block_sums(&acc, 1, partial);
}

extern "C" __global__ void gf_cpg_SUF(const T* B, const T* G, const double* w, long long n, int hasG,
        double gscale, double alpha, double beta, double lo, double hi, double lam,
        double* psum, double* pmin, double* pmax) {
    double acc[4] = {0.0, 0.0, 0.0, 0.0};
    double mn = __longlong_as_double(0x7ff0000000000000LL), mx = -mn;   /* +inf, -inf */
    GF_ROWS {
        double racc[4] = {0.0, 0.0, 0.0, 0.0};
        GF_COLS {
            long long l = i * n + j;
            double st[4];
            double g = gf_cpg((double)B[l], hasG ? (double)G[l] : 0.0, gscale, alpha, beta, lo, hi, lam, st);
            mn = fmin(mn, g); mx = fmax(mx, g);
            for (int c = 0; c < 4; ++c) racc[c] += w[j] * st[c];
        }
        for (int c = 0; c < 4; ++c) acc[c] += w[i] * racc[c];
    }
    gf_block_sums(acc, 4, psum);
    gf_block_minmax(mn, mx, pmin, pmax);
}

extern "C" __global__ void gf_local_SUF(const T* B, const double* w, long long n, double alpha, double beta,
        double gamma, double* partial) {
    double acc = 0.0;
    GF_ROWS {
        double racc = 0.0;
        GF_COLS { racc += w[j] * gf_phi((double)B[i * n + j], alpha, beta, gamma); }
        acc += w[i] * racc;
    }
    gf_block_sums(&acc, 1, partial);
}

extern "C" __global__ void gf_shifted_SUF(const T* B, const double* w, long long n, double lam, double lo,
        double hi, double* partial) {
    double acc = 0.0;
    GF_ROWS {
        double racc = 0.0;
        GF_COLS { racc += w[j] * gf_clip((double)B[i * n + j] + lam, lo, hi); }
        acc += w[i] * racc;
    }
    gf_block_sums(&acc, 1, partial);
}

extern "C" __global__ void gf_shift_SUF(T* B, long long N, double lam, double lo, double hi) {
    GF_FLAT { B[l] = (T)gf_clip((double)B[l] + lam, lo, hi); }
}

extern "C" __global__ void gf_clip_SUF(const T* X, T* out, long long N, double lo, double hi) {
    GF_FLAT { out[l] = (T)gf_clip((double)X[l], lo, hi); }
}

extern "C" __global__ void gf_projv_SUF(T* V, const T* B, long long N, double lo, double hi) {
    GF_FLAT {
        double b = (double)B[l], v = (double)V[l];
        if ((b <= lo && v < 0.0) || (b >= hi && v > 0.0)) V[l] = (T)0.0;
    }
}

/* out = scale G, in T (np.multiply(G, scale, out=out) on the CPU) */
extern "C" __global__ void gf_scaled_SUF(T* out, const T* G, long long N, double scale) {
    GF_FLAT { out[l] = (T)scale * G[l]; }
}

/* out = -(alpha log(B / (1 - B)) + beta) step by step in T, as the CPU backend's NumPy statements */
extern "C" __global__ void gf_locvel_SUF(T* out, const T* B, long long N, double alpha, double beta) {
    GF_FLAT {
        T r = B[l] / ((T)1.0 - B[l]);
        r = log(r);
        r = r * (T)(-alpha);
        out[l] = r - (T)beta;
    }
}

/* out = base + c_0 X_0 + c_1 X_1 + ... term by term in T (like out += c * X on the CPU) */
extern "C" __global__ void gf_lincomb_SUF(T* out, const T* base, const unsigned long long* ptrs,
        const double* cs, int nterms, long long N) {
    GF_FLAT {
        T acc = base[l];
        for (int t = 0; t < nterms; ++t) acc = acc + (T)cs[t] * ((const T*)ptrs[t])[l];
        out[l] = acc;
    }
}

/* a[i, j] = a[j, i] for i > j: block (bx, by), bx >= by, reads the upper tile (by, bx) and writes
   its transpose into the lower tile (bx, by) through shared memory (both coalesced) */
extern "C" __global__ void gf_mirror_SUF(T* a, long long n) {
    __shared__ T tile[32][33];
    int bx = blockIdx.x, by = blockIdx.y;
    if (bx < by) return;
    int tx = threadIdx.x, ty = threadIdx.y;
    long long col = (long long)bx * 32 + tx;
    for (int k = ty; k < 32; k += 8) {
        long long row = (long long)by * 32 + k;
        if (row < n && col < n) tile[k][tx] = a[row * n + col];
    }
    __syncthreads();
    long long col2 = (long long)by * 32 + tx;
    for (int k = ty; k < 32; k += 8) {
        long long row2 = (long long)bx * 32 + k;
        if (row2 < n && col2 < n && row2 > col2) a[row2 * n + col2] = tile[tx][k];
    }
}
"""

#: the per-entry functions for the host: what the tests compile with the C++ compiler
_HOST_WRAPPERS = r"""
extern "C" {
void gfh_euler(const double* B, const double* G, long long N, int hasG, double dt, double gscale, double alpha,
               double beta, double lo, double hi, double* out, double* q) {
    for (long long l = 0; l < N; ++l) out[l] = gf_euler(B[l], hasG ? G[l] : 0.0, dt, gscale, alpha, beta, lo, hi, q + l);
}
void gfh_prox(const double* B, const double* G, long long N, int hasG, double dt, double gscale, double alpha,
              double beta, double lo, double hi, double* out, double* q) {
    for (long long l = 0; l < N; ++l) out[l] = gf_prox(B[l], hasG ? G[l] : 0.0, dt, gscale, alpha, beta, lo, hi, q + l);
}
void gfh_noisy(const double* B, const double* G, const double* Z, long long N, int hasG, double dt, double gscale,
               double alpha, double beta, double lo, double hi, double sigma, int reflect, double* out, double* q) {
    for (long long l = 0; l < N; ++l)
        out[l] = gf_noisy(B[l], hasG ? G[l] : 0.0, dt, gscale, alpha, beta, lo, hi, sigma, reflect, Z[l], q + l);
}
void gfh_normals(const unsigned long long* ls, long long N, unsigned long long s, unsigned int k0, unsigned int k1,
                 double* out) {
    for (long long l = 0; l < N; ++l) out[l] = gf_normal(ls[l], s, k0, k1);
}
void gfh_cpg(const double* B, const double* G, long long N, double gscale, double alpha, double beta, double lo,
             double hi, double lam, double* st, double* g) {
    for (long long l = 0; l < N; ++l) g[l] = gf_cpg(B[l], G[l], gscale, alpha, beta, lo, hi, lam, st + 4 * l);
}
void gfh_phi(const double* B, long long N, double alpha, double beta, double gamma, double* out) {
    for (long long l = 0; l < N; ++l) out[l] = gf_phi(B[l], alpha, beta, gamma);
}
}
"""


def cuda_source(dtype) -> str:
    """The CUDA source of the kernels for states of ``dtype`` (float32 or float64).

    >>> src = cuda_source(np.float32)
    >>> src.startswith("typedef float T;"), "gf_prox_f(" in src, "gf_prox_d(" in cuda_source(np.float64)
    (True, True, True)
    """
    t, suf = ("float", "f") if np.dtype(dtype) == np.float32 else ("double", "d")
    return (f"typedef {t} T;\n#define GF_BLOCK {BLOCK}\n" + DEVICE_FUNCTIONS + _KERNELS).replace("_SUF(", f"_{suf}(")


def host_source() -> str:
    """The per-entry functions as host C++ with ``extern "C"`` loops ``gfh_*`` (for the tests).

    >>> "GF_DEV double gf_prox(" in host_source() and "__global__" not in host_source()
    True
    """
    return "#define GF_HOST 1\n" + DEVICE_FUNCTIONS + _HOST_WRAPPERS


_TF32 = [False]


@contextlib.contextmanager
def allow_tf32():
    """Let float32 products on the GPU use TF32 tensor cores inside this block.

    cuBLAS then rounds each factor to TF32 (10 explicit mantissa bits instead of 23) and
    accumulates in float32 (``CUBLAS_TF32_TENSOR_OP_MATH``).  Off by default; an explicit
    opt-in for float32 flows where that error is acceptable.  Its size for the package's
    products was not measured in the session that wrote this (no GPU): measure it with
    ``benchmarks/gpu.py`` before relying on it.
    """
    old = _TF32[0]
    _TF32[0] = True
    try:
        yield
    finally:
        _TF32[0] = old


class CuPyBackend(ArrayAPIBackend):
    """The generic backend on CuPy with fused CUDA kernels (module docstring)."""

    name = "cupy"

    def __init__(self):
        try:
            import cupy
            import cupy.cublas  # a submodule that ``import cupy`` does not load
            import array_api_compat.cupy as xp
        except ImportError as exc:
            raise ImportError(f"the GPU backend needs CuPy (with its CUDA libraries) and array-api-compat: "
                              f"pip install 'graphonflow[gpu]', and 'cupy-cuda12x[ctk]' where no CUDA toolkit "
                              f"is installed ({exc})") from exc
        super().__init__(xp)
        self.cp = cupy
        self._modules = {}

    # ------------------------------------------------------------------ launching
    def _fn(self, name, X):
        key = X.dtype.char
        mod = self._modules.get(key)
        if mod is None:
            mod = self._modules[key] = self.cp.RawModule(code=cuda_source(X.dtype), options=("--fmad=false",))
        return mod.get_function(f"gf_{name}_{'f' if key == 'f' else 'd'}")

    def _c(self, X):
        return X if X.flags.c_contiguous else self.cp.ascontiguousarray(X)

    def _grid(self, n):
        return (max(1, min(GRID_X, -(-n // BLOCK))), max(1, min(GRID_Y, n)))

    def _flat(self, name, X, args):
        N = X.size
        blocks = max(1, min(1 << 17, -(-N // BLOCK)))
        self._fn(name, X)((blocks,), (BLOCK,), args)

    def _reduce(self, name, B, args):
        grid = self._grid(B.shape[0])
        partial = self.cp.empty(grid[0] * grid[1], dtype=self.cp.float64)
        self._fn(name, B)(grid, (BLOCK,), args + (partial,))
        return float(partial.sum())

    def _gargs(self, B, G, w):
        """(B, G, w, n, hasG): the leading kernel arguments; G None passes B as a dummy."""
        B = self._c(B)
        has = G is not None
        G = self._c(G) if has else B
        if G.dtype != B.dtype:
            G = G.astype(B.dtype)
        return (B, G, self._c(w), np.int64(B.shape[0]), np.int32(has))

    # ------------------------------------------------------------------ fused passes
    def euler_pass(self, B, G, w, dt, *, gscale, alpha, beta, lo, hi, out, symmetric_G=False):
        out = self._out(B, out)
        f = np.float64
        pg2 = self._reduce("euler", B, self._gargs(B, G, w) + (f(dt), f(gscale), f(alpha), f(beta), f(lo), f(hi), out))
        return out, pg2

    def prox_pass(self, B, G, w, dt, *, gscale, alpha, beta, lo, hi, out):
        if alpha < 0:
            raise ValueError("the proximal step needs a convex local part (alpha >= 0)")
        if not dt > 0.0 or (alpha > 0.0 and not dt * alpha > 0.0):
            raise ValueError(f"the proximal step needs dt > 0 and dt * alpha > 0 (dt = {dt!r}, alpha = {alpha!r})")
        out = self._out(B, out)
        f = np.float64
        pg2 = self._reduce("prox", B, self._gargs(B, G, w) + (f(dt), f(gscale), f(alpha), f(beta), f(lo), f(hi), out))
        return out, pg2

    def speed2(self, B, G, w, *, gscale, alpha, beta, lo, hi):
        f = np.float64
        return self._reduce("pg2", B, self._gargs(B, G, w) + (f(gscale), f(alpha), f(beta), f(lo), f(hi)))

    def constrained_speed2(self, B, G, w, *, gscale, alpha, beta, lo, hi):
        cp, f = self.cp, np.float64
        args = self._gargs(B, G, w)
        grid = self._grid(B.shape[0])
        nb = grid[0] * grid[1]
        psum, pmin, pmax = cp.empty(4 * nb), cp.empty(nb), cp.empty(nb)
        kern = self._fn("cpg", B)

        def stats(lam):
            kern(grid, (BLOCK,), args + (f(gscale), f(alpha), f(beta), f(lo), f(hi), f(lam), psum, pmin, pmax))
            s = psum.reshape(nb, 4).sum(axis=0).get()
            return float(s[0]), float(s[1]), float(s[2]), float(s[3]), float(pmin.min()), float(pmax.max())

        return float(_kernels._constrained_root(stats)[0])

    def local_value(self, B, w, alpha, beta, gamma):
        f = np.float64
        return self._reduce("local", B, (self._c(B), self._c(w), np.int64(B.shape[0]), f(alpha), f(beta), f(gamma)))

    def shifted_mean(self, B, w, lam, lo, hi):
        f = np.float64
        return self._reduce("shifted", B, (self._c(B), self._c(w), np.int64(B.shape[0]), f(lam), f(lo), f(hi)))

    def apply_shift(self, B, lam, lo, hi):
        f = np.float64
        self._flat("shift", B, (B, np.int64(B.size), f(lam), f(lo), f(hi)))
        return B

    def noisy_euler_pass(self, B, G, w, dt, sigma, *, key, step, gscale, alpha, beta, lo, hi, reflect, out):
        out = self._out(B, out)
        key, step = int(key), int(step)
        if not 0 <= key < 2**64 or not 0 <= step < 2**64:
            raise ValueError(f"key and step must be integers in [0, 2^64), got {key}, {step}")
        f = np.float64
        args = self._gargs(B, G, w) + (f(dt), f(gscale), f(alpha), f(beta), f(lo), f(hi), f(sigma),
                                       np.int32(bool(reflect)), np.uint64(step), np.uint32(key & 0xFFFFFFFF),
                                       np.uint32(key >> 32), out)
        return out, self._reduce("noisy", B, args)

    def clip(self, X, lo, hi, out):
        self._flat("clip", X, (self._c(X), out, np.int64(X.size), np.float64(lo), np.float64(hi)))
        return out

    def project_velocity(self, V, B, lo, hi):
        self._flat("projv", V, (V, self._c(B), np.int64(V.size), np.float64(lo), np.float64(hi)))
        return V

    def scaled_sym(self, out, G, scale):
        self._flat("scaled", out, (out, self._c(G), np.int64(out.size), np.float64(scale)))
        return out

    def local_velocity(self, out, B, alpha, beta):
        if alpha == 0.0:
            out.fill(-beta)
        else:
            self._flat("locvel", out, (out, self._c(B), np.int64(out.size), np.float64(alpha), np.float64(beta)))
        return out

    def lincomb(self, out, base, terms):
        cp = self.cp
        terms = [(float(c), self._c(X)) for c, X in terms if c != 0.0]
        if not terms:
            if out is not base:
                out[...] = base
            return out
        ptrs = cp.asarray(np.array([X.data.ptr for _, X in terms], dtype=np.uint64))
        cs = cp.asarray(np.array([c for c, _ in terms], dtype=np.float64))
        self._flat("lincomb", out, (out, self._c(base), ptrs, cs, np.int32(len(terms)), np.int64(out.size)))
        return out

    # ------------------------------------------------------------------ products
    def mirror(self, X):
        n = X.shape[0]
        nt = -(-n // 32)
        self._fn("mirror", X)((nt, nt), (32, 8), (X, np.int64(n)))
        return X

    @contextlib.contextmanager
    def _math_mode(self, dtype):
        if not (_TF32[0] and dtype == np.float32):
            yield
            return
        from cupy_backends.cuda.libs import cublas

        handle = self.cp.cuda.device.get_cublas_handle()
        old = cublas.getMathMode(handle)
        cublas.setMathMode(handle, cublas.CUBLAS_TF32_TENSOR_OP_MATH)
        try:
            yield
        finally:
            cublas.setMathMode(handle, old)

    def gemm(self, alpha, X, Y):
        cp = self.cp
        X, Y = self._c(X), self._c(Y)
        out = cp.empty((X.shape[0], Y.shape[1]), dtype=X.dtype, order="C")
        with self._math_mode(X.dtype):
            cp.cublas.gemm("N", "N", X, Y, out=out, alpha=alpha, beta=0.0)
        return out

    def sym_square(self, alpha, X, symmetric=False):
        cp = self.cp
        X = self._c(X)
        out = cp.empty((X.shape[0], X.shape[0]), dtype=X.dtype, order="C")
        with self._math_mode(X.dtype):
            cp.cublas.syrk("N", X, out=out, alpha=alpha, beta=0.0, lower=False)  # the upper triangle
        return self.mirror(out)

    def vdot(self, X, Y) -> float:
        return float(self.cp.vdot(X, Y))

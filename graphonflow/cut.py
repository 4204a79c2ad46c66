r"""Cut norm, cut distance and L2 distances of graphons, with certified bounds.

Definitions (Lovász 2012, ch. 8)
--------------------------------
For a kernel U: [0,1]^2 -> R,

    ||U||_cut = sup_{S, T ⊆ [0,1]} | int_{S x T} U(x, y) dx dy |,

and for two graphons the cut distance is the infimum over measure-preserving relabellings phi,

    delta_cut(U, W) = inf_phi || U - W^phi ||_cut,      W^phi(x, y) = W(phi(x), phi(y)).

For a step kernel with values D (m x m) and widths w, the integral over S x T is bilinear in
the fractions of each block covered by S and T, so the sup is attained at unions of blocks:

    ||D||_cut = max_{S, T ⊆ [m]} | sum_{i in S, j in T} w_i w_j D_ij |  =: ||M||_cut,  M = (w_i w_j D_ij).

How the cut norm is computed (:func:`cut_norm`)
-----------------------------------------------
Blocks with identical rows of D are merged first (the kernel is unchanged).  With k blocks left:

* ``method="exact"`` (default when k <= 20): enumerate all 2^k sets S (Gray code, one row update
  per step); for fixed S the best T takes the columns whose S-column-sum r_j = sum_{i in S} M_ij
  is positive (or all negative ones), value max(sum r_+, sum r_-).  lower = upper.
* ``method="sdp"`` (Alon--Naor 2006): append a row and a column to M that make every row and
  column sum zero (the corner entry is sum M); call the result M' (N x N, N = k + 1).  Then
  ||M'||_cut = ||M||_cut and, since M'1 = 0, x^T M' y = 4 * 1_S^T M' 1_T for x = 2*1_S - 1,
  y = 2*1_T - 1, hence

      ||M'||_{inf->1} = max_{x, y in {-1,1}^N} x^T M' y = 4 ||M||_cut.

  **Upper bound (dual certificate).**  Let A = [[0, M'/2], [M'/2, 0]] (2N x 2N), so that
  z^T A z = x^T M' y for z = (x, y).  For every vector d in R^{2N} and every c with
  Diag(d) - A - c I ⪰ 0 we get, for all z in {-1,1}^{2N},

      z^T A z = z^T Diag(d) z - z^T (Diag(d) - A) z <= sum(d) - c * 2N,

  so ||M||_cut <= (sum(d) - 2N c) / 4.  We take d from a Burer--Monteiro solution of the SDP
  relaxation max <A, X>, X ⪰ 0, diag X = 1, X = Y^T Y of rank p ~ sqrt(2N): with unit columns
  u_i, v_j of Y, d_{u_i} = <u_i, sum_j M'_ij v_j> / 2 and d_{v_j} = <v_j, sum_i M'_ij u_i> / 2
  (the Lagrange multipliers; sum(d) = SDP objective).  The shift c is a *certified* lower bound
  on lambda_min(Diag(d) - A): we run a floating-point Cholesky factorisation of
  Diag(d) - A - c0 I; when it succeeds, the standard backward error bound (Demmel 1989;
  Higham 2002, Thm 10.3; Rump 2006) gives lambda_min(Diag(d) - A) >= c0 - gamma/(1-gamma) tr
  - 2u max|diag| with gamma = (2N + 1) u / (1 - (2N + 1) u), u = 2^-53.  A tiny slack for the
  rounding in forming M' is added.  Whatever d is, the bound is valid; a good d makes it tight
  (within Grothendieck's constant K_G < 1.783 of the truth when the SDP is solved exactly).
  The reported bound is also capped by ||D||_1 = sum w_i w_j |D_ij| >= ||D||_cut.

  **Lower bound.**  Gaussian hyperplane rounding of (u_i, v_j) gives sign vectors, hence sets
  S, T; each is improved by alternating best responses (for fixed S the best T is the set of
  columns with positive -- or, for the other sign, negative -- S-column sum, and vice versa),
  which is a local optimum for all single flips.  ``lower`` is |sum_{S x T} M| recomputed for
  the returned sets.

Weights enter only through M = w_i w_j D_ij, so weighted step graphons (quadratures, unequal
blocks) are handled exactly.

The inf->1 norm (:func:`infinity_one_norm`)
-------------------------------------------
||D||_{inf->1} = sup_{|f|, |g| <= 1} int D f (x) g = max_{x, y in {-1,1}^m} x^T M y, with
||D||_cut <= ||D||_{inf->1} <= 4 ||D||_cut.  The same enumeration (over x, the best y being
sign(x^T M)) and the same SDP certificate apply to M itself, without the padding row:
||M||_{inf->1} <= sum(d) - 2m c for Diag(d) - A - c I certified PSD.

Against a constant
------------------
A constant c is left unchanged by every relabelling, so delta_cut(U, c) = ||U - c||_cut, and
:func:`cut_distance` returns the cut-norm bracket when either side is constant.  The distance
functions read a plain number as the constant graphon.

References
----------
Alon, Naor, Approximating the cut-norm via Grothendieck's inequality, SIAM J. Comput. 35 (2006).
Lovász, Large Networks and Graph Limits (AMS 2012), ch. 8--11.
Borgs, Chayes, Lovász, Sós, Vesztergombi, Convergent sequences of dense graphs I, Adv. Math. 219
(2008).
Burer, Monteiro, A nonlinear programming algorithm for solving SDPs via low-rank factorization,
Math. Program. 95 (2003).
Higham, Accuracy and Stability of Numerical Algorithms, 2nd ed. (SIAM 2002), sec. 10.1.
Rump, Verification of positive definiteness, BIT 46 (2006).
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field

import numpy as np
from numba import njit
from scipy.linalg import blas as _blas
from scipy.linalg import lapack as _lapack

from ._validation import as_rng
from .backend import get_backend
from .coerce import as_target
from .graphons import common_refinement
from .step import StepGraphon

__all__ = [
    "CutNormResult",
    "CutDistanceResult",
    "Delta2Result",
    "cut_norm",
    "InfinityOneNormResult",
    "infinity_one_norm",
    "cut_distance",
    "l2_distance",
    "delta2_distance",
]

_UNIT_ROUNDOFF = 2.0**-53
#: Largest number of (merged) blocks for which exact enumeration is allowed.
MAX_EXACT_BLOCKS = 26


# ----------------------------------------------------------------------- result
@dataclass(frozen=True)
class CutNormResult:
    """Certified bracket for a cut norm ||D||_cut of a step kernel (D, widths).

    Attributes
    ----------
    lower : float
        |int_{S x T} D| for the returned sets: a value that is attained, so
        ``lower <= ||D||_cut``.
    upper : float
        Certified upper bound: ``||D||_cut <= upper`` (equal to ``lower`` for ``method="exact"``).
    S, T : ndarray of bool, shape (m,)
        The sets, as unions of the blocks described by ``widths``.
    signed_value : float
        int_{S x T} D = sum_{i in S, j in T} w_i w_j D_ij (``lower == abs(signed_value)``).
    widths : ndarray, shape (m,)
        Block widths on which ``S`` and ``T`` live (the common refinement when U and V have
        different partitions).
    method : str
        ``"exact"`` (enumeration) or ``"sdp"`` (Alon--Naor + Burer--Monteiro + certificate).
    info : dict
        Diagnostics (merged block count, SDP rank, iterations, shift, ...).
    """

    lower: float
    upper: float
    S: np.ndarray
    T: np.ndarray
    signed_value: float
    widths: np.ndarray
    method: str
    info: dict = field(default_factory=dict, compare=False)

    @property
    def ratio(self) -> float:
        """upper / lower (1 for exact results; inf when lower == 0 < upper)."""
        if self.lower == 0:
            return 1.0 if self.upper == 0 else math.inf
        return self.upper / self.lower

    def __float__(self):
        return float(self.lower) if self.method == "exact" else float(0.5 * (self.lower + self.upper))

    def __repr__(self):
        return (f"CutNormResult(lower={self.lower:.6g}, upper={self.upper:.6g}, method={self.method!r}, "
                f"|S|={int(self.S.sum())}, |T|={int(self.T.sum())}, blocks={self.S.size})")


# ------------------------------------------------------------- exact enumeration
@njit(cache=True)
def _enumerate_cut_numba(M):  # pragma: no cover - compiled
    """Max over S of max(sum_j (r_S)_j^+, sum_j (r_S)_j^-), r_S = sum_{i in S} M_i (Gray code).

    Returns (best value, bitmask of the best S, +1/-1 sign of the best T choice).
    """
    m = M.shape[0]
    r = np.zeros(m)
    best = 0.0
    best_mask = 0
    best_sign = 1
    mask = 0
    for k in range(1, 1 << m):
        # bit that flips between gray(k-1) and gray(k) = number of trailing zeros of k
        b = 0
        t = k
        while (t & 1) == 0:
            t >>= 1
            b += 1
        if (mask >> b) & 1:
            mask &= ~(1 << b)
            for j in range(m):
                r[j] -= M[b, j]
        else:
            mask |= 1 << b
            for j in range(m):
                r[j] += M[b, j]
        pos = 0.0
        neg = 0.0
        for j in range(m):
            if r[j] > 0:
                pos += r[j]
            else:
                neg -= r[j]
        if pos > best:
            best = pos
            best_mask = mask
            best_sign = 1
        if neg > best:
            best = neg
            best_mask = mask
            best_sign = -1
    return best, best_mask, best_sign


def _enumerate_cut_numpy(M, chunk: int = 1 << 14):
    """Pure-NumPy twin of :func:`_enumerate_cut_numba` (plain binary enumeration in chunks)."""
    m = M.shape[0]
    best, best_mask, best_sign = 0.0, 0, 1
    bits = np.arange(m, dtype=np.int64)
    for start in range(0, 1 << m, chunk):
        masks = np.arange(start, min(start + chunk, 1 << m), dtype=np.int64)
        X = ((masks[:, None] >> bits[None, :]) & 1).astype(np.float64)
        R = X @ M
        pos = np.maximum(R, 0.0).sum(axis=1)
        neg = np.maximum(-R, 0.0).sum(axis=1)
        for vals, sgn in ((pos, 1), (neg, -1)):
            i = int(np.argmax(vals))
            if vals[i] > best:
                best, best_mask, best_sign = float(vals[i]), int(masks[i]), sgn
    return best, best_mask, best_sign


def _exact_sets(M, use_numba=True):
    m = M.shape[0]
    if use_numba:
        _, mask, sgn = _enumerate_cut_numba(np.ascontiguousarray(M, dtype=np.float64))
    else:
        _, mask, sgn = _enumerate_cut_numpy(M)
    S = ((int(mask) >> np.arange(m)) & 1).astype(bool)
    r = M[S].sum(axis=0)
    T = r > 0 if sgn > 0 else r < 0
    return S, T


# ------------------------------------------------------------ BLAS helpers
# The SDP route runs every large product and factorisation through scipy's BLAS/LAPACK, so
# one OpenBLAS thread pool does all the work.  Mixing numpy's products with scipy's
# Cholesky costs twice: numpy's pool keeps spinning for a while after each call and fights
# scipy's for the cores (measured at N = 1000 on 2 cores: a 4 ms dpotrf took 10-80 ms right
# after numpy products), and numpy's own Cholesky is 2-3x slower than scipy's dpotrf.
def _mul_sym(Mf, X):
    """X @ M for a symmetric (N, N) matrix given as the Fortran-ordered Mf (``M.T`` of a
    C-ordered M is the same matrix) and X (K, N) C-contiguous: one ?gemm, no copies.
    Returns a C-contiguous (K, N) array."""
    gemm = _blas.sgemm if Mf.dtype == np.float32 else _blas.dgemm
    return gemm(1.0, Mf, X.T).T


def _gram_lower(G, alpha):
    """alpha * G^T G for a C-contiguous square G, as a Fortran array with only the lower
    triangle (diagonal included) filled and zeros above: one ?syrk."""
    syrk = _blas.ssyrk if G.dtype == np.float32 else _blas.dsyrk
    return syrk(alpha, G.T, trans=0, lower=1)


# ------------------------------------------------------------ local search
def _best_response(M, S, T, max_rounds=100):
    """Alternating best responses for a batch of (S, T) pairs (rows of 0/1 arrays).

    M is symmetric and C-contiguous (float32 or float64; the products run in its precision).
    For each pair with sign s = sign(1_S^T M 1_T): T <- {j: s (1_S^T M)_j > 0}, then
    S <- {i: s (M 1_T)_i > 0}, until nothing changes.  |value| never decreases (up to
    rounding in M's precision; callers recompute the value of the final sets exactly).
    """
    Mf = M.T
    S = S.astype(M.dtype)
    T = T.astype(M.dtype)
    R = _mul_sym(Mf, S)  # (K, k) column sums over S
    for _ in range(max_rounds):
        s = np.sign(np.einsum("kj,kj->k", R, T))
        s[s == 0] = 1.0
        T_new = ((s[:, None] * R) > 0).astype(M.dtype)
        C = _mul_sym(Mf, T_new)  # (K, k) row sums over T (M symmetric)
        S_new = ((s[:, None] * C) > 0).astype(M.dtype)
        if np.array_equal(S_new, S) and np.array_equal(T_new, T):
            break  # R still holds the column sums over the final S
        S, T = S_new, T_new
        R = _mul_sym(Mf, S)
    vals = np.einsum("ki,ki->k", R, T, dtype=np.float64)
    return S.astype(bool), T.astype(bool), vals


# ------------------------------------------------------------ certification
def _certify_shift(a, b, Mp, c):
    """True only if Diag(a, b) - A - c I is certified positive semidefinite.

    Here A = [[0, Mp/2], [Mp/2, 0]] (Mp symmetric N x N, C-contiguous).  With Da = Diag(a - c) > 0
    and Db = Diag(b - c), the matrix is PSD iff the Schur complement
    S = Db - G^T G,  G = Da^{-1/2} Mp / 2,  is PSD.  In floating point we form S_hat and
    bound the error entrywise, |S - S_hat| <= (gamma_N + 8u) |G|^T |G| + u |S_hat|, so
    ||S - S_hat||_2 <= e := (gamma_N + 8u) ||G||_F^2 + u ||S_hat||_F.  We then run a
    Cholesky factorisation of fl(S_hat - tau I), tau = e + g tr(S_hat) + 2u max|diag S_hat|,
    g = gamma_{N+1} / (1 - gamma_{N+1}).  If it completes, the backward error bound of
    Cholesky (R^T R = X + E, ||E||_2 <= g tr(X); Demmel 1989, Rump 2006) gives
    lambda_min(S_hat) >= tau - g tr - 2u max|diag| >= e, hence lambda_min(S) >= 0.
    (Only the lower triangle of S_hat is formed; Cholesky reads no other.)
    """
    u = _UNIT_ROUNDOFF
    N = Mp.shape[0]
    da = a - c
    if np.any(da <= 0) or np.any(b - c <= 0):
        return False
    G = Mp * (0.5 / np.sqrt(da))[:, None]
    S_hat = _gram_lower(G, -1.0)  # lower triangle of -(G^T G), zeros above
    idx = np.diag_indices(N)
    S_hat[idx] += b - c
    diag = S_hat[idx].copy()
    if np.any(diag <= 0):
        return False
    gN = N * u / (1 - N * u)
    g1 = (N + 1) * u / (1 - (N + 1) * u)
    g1 = g1 / (1 - g1)
    # ||S_hat||_F^2 from the lower triangle: twice its squares minus the diagonal's
    fro = math.sqrt(max(2.0 * float(np.vdot(S_hat, S_hat)) - float(diag @ diag), 0.0))
    # (the factor 1.01 covers the rounding in evaluating these sums themselves)
    e = 1.01 * ((gN + 8 * u) * float(np.vdot(G, G)) + u * fro)
    del G
    tau = e + g1 * float(diag.sum()) + 2 * u * float(diag.max())
    S_hat[idx] = diag - tau
    if np.any(S_hat[idx] <= 0):
        return False
    _, info = _lapack.dpotrf(S_hat, lower=1, clean=0, overwrite_a=1)
    return info == 0


def _shift_screen32(a, b, M32, c):
    """Uncertified float32 test of Diag(a, b) - A - c I >= 0 (Schur complement + Cholesky)."""
    da = a - c
    if np.any(da <= 0) or np.any(b - c <= 0):
        return False
    G = M32 * (0.5 / np.sqrt(da)).astype(np.float32)[:, None]
    S = _gram_lower(G, -1.0)
    S[np.diag_indices(S.shape[0])] += (b - c).astype(np.float32)
    _, info = _lapack.spotrf(S, lower=1, clean=0, overwrite_a=1)
    return info == 0


def _certified_shift(a, b, Mp, guesses, M32=None):
    """First c in ``guesses`` (decreasing) with Diag(a, b) - A - c I certified PSD.

    The first guess goes straight to the (double-precision, certified) test: it is chosen
    to pass for a well-converged Burer--Monteiro point.  After a failure, for N >= 256, a
    single-precision Cholesky screens each further c first and only c that pass it get the
    certified test.  Falls back to a Gershgorin bound: every eigenvalue of Diag(d) - A is
    at least min_i (d_i - sum_j |A_ij|); the row sums are inflated by 2 gamma_N for rounding.
    Returns (c, number of certified Cholesky attempts).
    """
    attempts = 0
    u = _UNIT_ROUNDOFF
    Mp = np.ascontiguousarray(Mp)
    for c in guesses:
        if attempts and Mp.shape[0] >= 256:
            # cheap single-precision screen (not a certificate; it only skips hopeless c)
            if M32 is None:
                M32 = Mp.astype(np.float32)
            if not _shift_screen32(a, b, M32, c):
                continue
        attempts += 1
        if _certify_shift(a, b, Mp, c):
            # the certified matrix has diagonal fl(a - c), fl(b - c); exact differences are
            # within u |a - c| of those, which moves the smallest eigenvalue by at most that
            spread = max(float(np.abs(a - c).max()), float(np.abs(b - c).max()))
            return c - 2 * u * spread, attempts
    N = Mp.shape[0]
    r = 0.5 * np.abs(Mp).sum(axis=1) * (1 + 2 * (N + 1) * u / (1 - (N + 1) * u))
    g = min(float(np.min(a - r)), float(np.min(b - r)))
    return g - 4 * u * max(float(np.abs(a).max()), float(np.abs(b).max())), attempts


# ------------------------------------------------------------ SDP route
def _normalise_columns(G, X):
    """X[:, j] <- G[:, j] / ||G[:, j]|| for every column with a non-zero norm (others keep
    their value); returns the sum of the norms (the objective of the block update)."""
    nrm = np.sqrt(np.einsum("pi,pi->i", G, G))
    if np.all(nrm > 0):
        np.divide(G, nrm, out=X)
    else:
        ok = nrm > 0
        X[:, ok] = G[:, ok] / nrm[ok]
    return float(nrm.sum(dtype=np.float64))


def _burer_monteiro(M32, p, rng, max_iter, tol):
    """Block coordinate ascent for max sum_ij Ms_ij <u_i, v_j>, unit columns (p x N).

    With V fixed the optimal u_i is the normalised sum_j Ms_ij v_j (and vice versa), so the
    alternation is monotone (a mixing method on the bipartite graph).  The iterations run in
    float32 on M32 (symmetric, C-contiguous); the certificate is computed afterwards in
    float64 and is valid for any point.
    """
    N = M32.shape[0]
    Mf = M32.T
    U = rng.standard_normal((p, N)).astype(np.float32)
    U /= np.linalg.norm(U, axis=0)
    V = rng.standard_normal((p, N)).astype(np.float32)
    V /= np.linalg.norm(V, axis=0)
    f_old = -np.inf
    it = 0
    for it in range(1, max_iter + 1):
        _normalise_columns(_mul_sym(Mf, V), U)
        f = _normalise_columns(_mul_sym(Mf, U), V)
        if f - f_old <= tol * abs(f):
            break
        f_old = f
    U = U.astype(np.float64)
    V = V.astype(np.float64)
    return U / np.linalg.norm(U, axis=0), V / np.linalg.norm(V, axis=0), it


def _sdp_rank(N, rank):
    """The Burer--Monteiro rank p for an N x N padded matrix: ``rank`` or ceil(sqrt(2N)) in [4, 24]."""
    return int(rank) if rank is not None else int(min(max(math.ceil(math.sqrt(2 * N)), 4), 24, 2 * N))


def _sdp_inf1_bound(Ms, M32, rng, rank, max_iter, tol):
    """The SDP relaxation of ||Ms||_{inf->1} and its certified dual bound, for a symmetric Ms.

    Ms (N x N, float64, C-contiguous, entries of size about 1) and its float32 copy M32.
    Returns ``(U, V, p, iterations, sdp_value, bound, lam_lb, attempts)``: the Burer--Monteiro
    vectors (p x N, unit columns), the relaxation value sum_ij Ms_ij <u_i, v_j> and a
    certified ``bound >= max_{x, y in {-1,1}^N} x^T Ms y`` (= sum(d) - 2N c, see the module
    docstring), with the certified shift c = ``lam_lb``.
    """
    N = Ms.shape[0]
    p = _sdp_rank(N, rank)
    U, V, iters = _burer_monteiro(M32, p, rng, max_iter, tol)
    GU = _mul_sym(Ms.T, V)  # column i: sum_j Ms_ij v_j
    GV = _mul_sym(Ms.T, U)
    d = np.concatenate((0.5 * np.einsum("pi,pi->i", U, GU), 0.5 * np.einsum("pi,pi->i", V, GV)))
    del GU, GV
    sdp_value = float(d.sum())  # = sum_ij Ms_ij <u_i, v_j>
    base = max(sdp_value, 1e-300) / (2 * N)
    # the shift ladder, in units of the mean multiplier: the first rung costs the bound a
    # relative 3e-4 and passes for the converged points we produce (tol <= 1e-6)
    ladder = (3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0, 10.0, 100.0)
    lam_lb, attempts = _certified_shift(d[:N], d[N:], Ms, [-base * t for t in ladder], M32)
    lam_lb = min(lam_lb, 0.0)  # H - 0 I >= H - lam_lb I when lam_lb > 0; avoids cancellation
    # sum(d) as computed may be below the exact sum by at most gamma_{2N} sum|d|
    sum_d = sdp_value + 1.01 * (2 * N + 1) * _UNIT_ROUNDOFF * float(np.abs(d).sum())
    return U, V, p, iters, sdp_value, sum_d - 2 * N * lam_lb, lam_lb, attempts


def _cut_norm_sdp(M, rng, rank, n_rounding, max_iter, tol):
    k = M.shape[0]
    N = k + 1
    row = M.sum(axis=1)
    Mp = np.empty((N, N))
    Mp[:k, :k] = M
    Mp[:k, k] = -row
    Mp[k, :k] = -row
    Mp[k, k] = row.sum()
    amax = float(np.abs(Mp).max())
    if amax == 0.0:
        z = np.zeros(k, dtype=bool)
        return z, z.copy(), 0.0, 0.0, {"rank": 0, "iterations": 0}
    scale = 2.0 ** math.floor(math.log2(amax))  # exact scaling
    Ms = Mp
    Ms *= 1.0 / scale  # in place: Mp is not used again
    M32 = Ms.astype(np.float32)
    U, V, p, iters, sdp_value, bound, lam_lb, attempts = _sdp_inf1_bound(Ms, M32, rng, rank, max_iter, tol)
    # rounding slack for forming M' from M (row sums): |M'_exact - M'| summed <= 2 (k+2) u sum|M|
    slack = 2.0 * (k + 2) * _UNIT_ROUNDOFF * float(np.abs(M).sum())
    # ||M||_cut = ||M'||_{inf->1} / 4
    upper = scale * bound / 4.0 * (1 + 4 * _UNIT_ROUNDOFF) + slack

    # ---- lower bound: hyperplane rounding + best-response local search (in float32: the
    # sets are what matters; the caller recomputes their value exactly)
    best = (None, None, 0.0)
    rounds = 0
    Mk = np.ascontiguousarray(M32[:k, :k])
    del M32
    n_local = max(1, min(8, n_rounding))
    while True:
        rounds += 1
        Gm = rng.standard_normal((n_rounding, p))
        X = (Gm @ U) >= 0
        Y = (Gm @ V) >= 0
        S0 = (X[:, :k] != X[:, k:k + 1]).astype(np.float32)
        T0 = (Y[:, :k] != Y[:, k:k + 1]).astype(np.float32)
        v0 = np.abs(np.einsum("ki,ki->k", _mul_sym(Mk.T, S0), T0, dtype=np.float64))
        top = np.argsort(-v0)[:n_local]  # local search from the best roundings only
        S1, T1, vals = _best_response(Mk, S0[top], T0[top])
        i = int(np.argmax(np.abs(vals)))
        if abs(vals[i]) > abs(best[2]) or best[0] is None:
            best = (S1[i], T1[i], float(vals[i]))
        lower_est = abs(best[2]) * scale
        ratio = upper / lower_est if lower_est > 0 else math.inf
        # up to 4 batches while the gap exceeds 1.5, up to 32 while it exceeds 1.8
        if ratio <= 1.5 or (rounds >= 4 and ratio <= 1.8) or rounds >= 32:
            break
    S, T = best[0], best[1]
    info = {
        "rank": p,
        "iterations": iters,
        "sdp_value": scale * sdp_value / 4.0,
        "lambda_min_lower": scale * lam_lb,
        "cholesky_attempts": attempts,
        "rounding_batches": rounds,
    }
    return S, T, None, upper, info


# ------------------------------------------------------------ the inf->1 norm
@njit(cache=True)
def _enumerate_inf1_numba(M):  # pragma: no cover - compiled
    """max over x in {-1,1}^m of sum_j |(x^T M)_j| (Gray code over x with x_{m-1} = +1 fixed,
    since x and -x give the same value).  Returns (best value, bitmask of the entries with x = -1)."""
    m = M.shape[0]
    r = np.zeros(m)
    for i in range(m):
        for j in range(m):
            r[j] += M[i, j]
    best = 0.0
    for j in range(m):
        best += abs(r[j])
    best_mask = 0
    mask = 0
    for k in range(1, 1 << (m - 1)):
        b = 0
        t = k
        while (t & 1) == 0:
            t >>= 1
            b += 1
        if (mask >> b) & 1:  # x_b goes back from -1 to +1
            mask &= ~(1 << b)
            for j in range(m):
                r[j] += 2.0 * M[b, j]
        else:
            mask |= 1 << b
            for j in range(m):
                r[j] -= 2.0 * M[b, j]
        v = 0.0
        for j in range(m):
            v += abs(r[j])
        if v > best:
            best = v
            best_mask = mask
    return best, best_mask


def _enumerate_inf1_numpy(M, chunk: int = 1 << 14):
    """Pure-NumPy twin of :func:`_enumerate_inf1_numba` (plain binary enumeration in chunks)."""
    m = M.shape[0]
    best, best_mask = -1.0, 0
    bits = np.arange(m, dtype=np.int64)
    for start in range(0, 1 << max(m - 1, 0), chunk):
        masks = np.arange(start, min(start + chunk, 1 << max(m - 1, 0)), dtype=np.int64)
        X = 1.0 - 2.0 * ((masks[:, None] >> bits[None, :]) & 1)
        vals = np.abs(X @ M).sum(axis=1)
        i = int(np.argmax(vals))
        if vals[i] > best:
            best, best_mask = float(vals[i]), int(masks[i])
    return best, best_mask


def _best_response_pm(M, X, Y, max_rounds=100):
    """Alternating best responses for a batch of sign-vector pairs (rows of +-1 arrays).

    For fixed x the best y is sign(x^T M), for fixed y the best x is sign(M y) (0 -> +1), so
    x^T M y never decreases.  M symmetric, C-contiguous.  Returns (X, Y, values)."""
    Mf = M.T
    X = X.astype(M.dtype)
    Y = Y.astype(M.dtype)
    R = _mul_sym(Mf, X)  # (K, k): x^T M
    for _ in range(max_rounds):
        Y_new = np.where(R >= 0, 1.0, -1.0).astype(M.dtype)
        C = _mul_sym(Mf, Y_new)  # (K, k): (M y)^T
        X_new = np.where(C >= 0, 1.0, -1.0).astype(M.dtype)
        if np.array_equal(X_new, X) and np.array_equal(Y_new, Y):
            break
        X, Y = X_new, Y_new
        R = _mul_sym(Mf, X)
    vals = np.einsum("ki,ki->k", R, Y, dtype=np.float64)
    return X, Y, vals


def _inf1_sdp(M, rng, rank, n_rounding, max_iter, tol):
    """Certified upper bound on ||M||_{inf->1} (the SDP of Alon--Naor on M itself, no padding)
    and sign vectors from hyperplane rounding + local search.  Returns (x, y, upper, info)."""
    k = M.shape[0]
    amax = float(np.abs(M).max())
    if amax == 0.0:
        one = np.ones(k)
        return one, one.copy(), 0.0, {"rank": 0, "iterations": 0}
    scale = 2.0 ** math.floor(math.log2(amax))  # exact scaling
    Ms = np.ascontiguousarray(M, dtype=np.float64) * (1.0 / scale)
    M32 = Ms.astype(np.float32)
    U, V, p, iters, sdp_value, bound, lam_lb, attempts = _sdp_inf1_bound(Ms, M32, rng, rank, max_iter, tol)
    # allowance for the rounding in M = (w_i w_j D_ij) itself (merged widths included)
    slack = 2.0 * (k + 2) * _UNIT_ROUNDOFF * float(np.abs(M).sum())
    upper = scale * bound * (1 + 4 * _UNIT_ROUNDOFF) + slack

    best = (None, None, -math.inf)
    rounds = 0
    n_local = max(1, min(8, n_rounding))
    while True:
        rounds += 1
        Gm = rng.standard_normal((n_rounding, p))
        X0 = np.where(Gm @ U >= 0, 1.0, -1.0).astype(np.float32)
        Y0 = np.where(Gm @ V >= 0, 1.0, -1.0).astype(np.float32)
        v0 = np.abs(np.einsum("ki,ki->k", _mul_sym(M32.T, X0), Y0, dtype=np.float64))
        top = np.argsort(-v0)[:n_local]
        X1, Y1, vals = _best_response_pm(M32, X0[top], Y0[top])
        i = int(np.argmax(vals))
        if vals[i] > best[2]:
            best = (X1[i], Y1[i], float(vals[i]))
        lower_est = best[2] * scale
        ratio = upper / lower_est if lower_est > 0 else math.inf
        if ratio <= 1.5 or (rounds >= 4 and ratio <= 1.8) or rounds >= 32:
            break
    info = {
        "rank": p,
        "iterations": iters,
        "sdp_value": scale * sdp_value,
        "lambda_min_lower": scale * lam_lb,
        "cholesky_attempts": attempts,
        "rounding_batches": rounds,
    }
    return best[0].astype(np.float64), best[1].astype(np.float64), upper, info


@dataclass(frozen=True)
class InfinityOneNormResult:
    r"""Certified bracket for the inf->1 norm of a step kernel (D, widths).

    .. math::

        \|D\|_{\infty	o1} = \sup_{f, g: [0,1] 	o [-1,1]} \int D(x, y) f(x) g(y)\,dx\,dy
                          = \max_{x, y \in \{-1,1\}^m} \sum_{ij} w_i w_j D_{ij} x_i y_j .

    Attributes
    ----------
    lower : float
        sum_ij w_i w_j D_ij x_i y_j for the returned signs: an attained value, ``lower <= norm``.
    upper : float
        Certified upper bound (``== lower`` up to rounding for ``method="exact"``).
    x, y : ndarray of float, shape (m,)
        The signs (+1 / -1) on the blocks described by ``widths``.
    widths : ndarray, shape (m,)
        Block widths (the common refinement when U and V have different partitions).
    method : str
        ``"exact"`` (enumeration) or ``"sdp"``.
    info : dict
        Diagnostics (merged block count, SDP rank, iterations, certified shift, ...).
    """

    lower: float
    upper: float
    x: np.ndarray
    y: np.ndarray
    widths: np.ndarray
    method: str
    info: dict = field(default_factory=dict, compare=False)

    @property
    def ratio(self) -> float:
        """upper / lower (1 for exact results; inf when lower == 0 < upper)."""
        if self.lower == 0:
            return 1.0 if self.upper == 0 else math.inf
        return self.upper / self.lower

    def __float__(self):
        return float(self.lower) if self.method == "exact" else float(0.5 * (self.lower + self.upper))

    def __repr__(self):
        return (f"InfinityOneNormResult(lower={self.lower:.6g}, upper={self.upper:.6g}, "
                f"method={self.method!r}, blocks={self.x.size})")


# ------------------------------------------------------------ public API
def _int_option(value, name, minimum, extra=""):
    """``value`` as an int >= minimum, or a TypeError / ValueError naming the option."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer >= {minimum}{extra}, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}{extra}, got {value!r}")
    return int(value)


def _read_step(W, name, weight="weight", continuous=False):
    """A distance argument: as_target's reading, and a real number c is the constant graphon c."""
    return as_target(W, name=name, continuous=continuous, weight=weight, number=True)


def _difference(U, V, weight="weight"):
    SU = _read_step(U, "U", weight).to_step()
    if V is None:
        return SU.values, SU.widths
    BU, BV, w = common_refinement(SU, _read_step(V, "V", weight).to_step())
    return BU - BV, w


def _check_norm_options(method, exact_max_blocks, rank, n_rounding, max_iter, tol):
    """The options shared by :func:`cut_norm` and :func:`infinity_one_norm`, checked."""
    if method not in ("auto", "exact", "sdp"):
        raise ValueError(f"method must be 'auto', 'exact' or 'sdp', got {method!r}")
    exact_max_blocks = _int_option(exact_max_blocks, "exact_max_blocks", 1)
    if exact_max_blocks > MAX_EXACT_BLOCKS:
        raise ValueError(f"exact_max_blocks must lie in 1..{MAX_EXACT_BLOCKS}, got {exact_max_blocks}")
    if rank is not None:
        rank = _int_option(rank, "rank", 2, " or None (automatic)")
    n_rounding = _int_option(n_rounding, "n_rounding", 1)
    max_iter = _int_option(max_iter, "max_iter", 1)
    if isinstance(tol, bool) or not isinstance(tol, numbers.Real):
        raise TypeError(f"tol must be a positive real number, got {type(tol).__name__}")
    if not (math.isfinite(tol) and tol > 0):
        raise ValueError(f"tol must be a positive finite number, got {tol!r}")
    return exact_max_blocks, rank, n_rounding, max_iter


def _merge_identical_blocks(D, w):
    """Merge blocks i, j whose rows *and* columns of D coincide (the kernel is then unchanged
    up to relabelling; rows alone are not enough for inputs symmetric only up to rounding)."""
    m = D.shape[0]
    if m == 1:
        return D, w, np.zeros(1, dtype=np.int64)
    # group blocks by a random projection of [D, D^T] (equal rows -> equal keys), then
    # confirm exactly
    r = np.random.default_rng(12345).standard_normal(2 * m)
    # (scipy's BLAS, like the SDP route below: one thread pool; see _mul_sym)
    Dc = np.ascontiguousarray(D, dtype=np.float64)
    key = _blas.dgemv(1.0, Dc.T, r[:m], trans=1) + _blas.dgemv(1.0, Dc.T, r[m:])
    _, first, inv = np.unique(key, return_index=True, return_inverse=True)
    inv = inv.ravel()
    if first.size == m:
        return D, w, np.arange(m)
    RC = np.hstack([D, D.T])
    if not np.array_equal(RC, RC[first[inv]]):  # a key collision of different rows: do it exactly
        _, first, inv = np.unique(RC, axis=0, return_index=True, return_inverse=True)
        inv = inv.ravel()
    if first.size == m:
        return D, w, np.arange(m)
    order = np.argsort(first)  # keep the original order of first occurrences
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    groups = rank[inv]
    reps = first[order]
    wm = np.bincount(groups, weights=w, minlength=reps.size)
    return D[np.ix_(reps, reps)], wm, groups


def cut_norm(
    U,
    V=None,
    *,
    method: str = "auto",
    rng=None,
    exact_max_blocks: int = 20,
    rank: int | None = None,
    n_rounding: int = 64,
    max_iter: int = 500,
    tol: float = 1e-7,
    weight="weight",
) -> CutNormResult:
    r"""Certified bounds on the cut norm ||U - V||_cut (or ||U||_cut when V is None).

    .. math::

        \|D\|_\square = \sup_{S,T \subseteq [0,1]} \Big|\int_{S\times T} D\Big|
                      = \max_{S,T \subseteq [m]} \Big|\sum_{i\in S, j\in T} w_i w_j D_{ij}\Big|

    Parameters
    ----------
    U, V : StepGraphon, (n, n) array (uniform widths, diagonal kept), networkx graph or number
        Step kernels; a real number c is the constant graphon c.  When the partitions differ,
        D = U - V is formed on their common refinement (no relabelling: this is a norm, not the
        cut distance).  For a continuous :class:`~graphonflow.graphons.Graphon` pass
        ``W.block_average(m)``.
    method : {"auto", "exact", "sdp"}
        ``"auto"``: exact enumeration when at most ``exact_max_blocks`` distinct blocks remain
        after merging identical ones, else the SDP method.  ``"sdp"`` forces the SDP method.
    rng : None, int or numpy.random.Generator
        Randomness of the SDP method (initial point, rounding).  Same seed, same result.
    exact_max_blocks : int
        Threshold for ``"auto"`` (at most 26; the work is 2^m * m).
    rank : int >= 2, optional
        Burer--Monteiro rank p (default ceil(sqrt(2 (m + 1))), at least 4, at most 24).
        A rank of 1 is the +-1 problem itself (no relaxation), so at least 2.
    n_rounding : int >= 1
        Gaussian roundings per batch; the best 8 of each batch are improved by local search.
        More batches are drawn while upper/lower > 1.5 (at most 4) or > 1.8 (at most 32).
    max_iter, tol : int >= 1, float > 0
        Stopping rule of the Burer--Monteiro ascent (relative objective increase <= tol).
    weight : str or None
        Edge attribute holding the weights of networkx inputs (None: every edge weighs 1).

    Returns
    -------
    CutNormResult
        ``lower <= ||U - V||_cut <= upper``; ``lower`` attained by ``(S, T)``.

    Examples
    --------
    The bounds bracket the value by its rounding error bound, so compare them rounded:

    >>> r = cut_norm(np.array([[1.0, -1.0], [-1.0, 1.0]]))
    >>> round(r.lower, 12), round(r.upper, 12), r.method
    (0.25, 0.25, 'exact')
    >>> bool(r.lower <= 0.25 <= r.upper)
    True

    The kernel (x - 1/2)(y - 1/2) has cut norm 1/64; its block averages on an even number of
    blocks have the same cut norm (S = T = [0, 1/2]).

    >>> from graphonflow.graphons import Graphon
    >>> K = Graphon(lambda x, y: (x - 0.5) * (y - 0.5), box=(-0.25, 0.25))
    >>> r = cut_norm(K.block_average(4))
    >>> round(r.lower * 64, 10), round(r.upper * 64, 10)
    (1.0, 1.0)

    References
    ----------
    Alon, Naor (2006); Lovász (2012), ch. 8; see the module docstring for the certificate.
    """
    exact_max_blocks, rank, n_rounding, max_iter = _check_norm_options(
        method, exact_max_blocks, rank, n_rounding, max_iter, tol)
    D, w = _difference(U, V, weight)
    Dm, wm, groups = _merge_identical_blocks(D, w)
    k = Dm.shape[0]
    M = wm[:, None] * Dm * wm[None, :]
    info = {"blocks": D.shape[0], "merged_blocks": k}
    use_exact = method == "exact" or (method == "auto" and k <= exact_max_blocks)
    if method == "exact" and k > MAX_EXACT_BLOCKS:
        raise ValueError(
            f"exact enumeration needs at most {MAX_EXACT_BLOCKS} distinct blocks, got {k}; use method='sdp'"
        )
    if use_exact:
        Sm, Tm = _exact_sets(M)
        name = "exact"
    else:
        # the SDP loop is a long sequence of thin products (N x N times N x p); the package's
        # one BLAS thread policy (graphonflow.backend.cpu.blas_threads) runs them on one
        # thread below about 1370 blocks, where threads only add synchronisation cost
        N = k + 1  # the padded size
        with get_backend(M).thread_policy(N, _sdp_rank(N, rank), N):
            Sm, Tm, _, upper, sdp_info = _cut_norm_sdp(M, as_rng(rng), rank, n_rounding, max_iter, tol)
        info.update(sdp_info)
        name = "sdp"
    S = Sm[groups]
    T = Tm[groups]
    signed = float(w[S] @ D[np.ix_(S, T)] @ w[T]) if S.any() and T.any() else 0.0
    lower = abs(signed)
    if use_exact:
        # the attained value is a rounded sum of m^2 terms: widen both ways by its error bound
        err = (D.shape[0] ** 2 + 4) * _UNIT_ROUNDOFF
        upper = lower * (1 + err)
        lower = lower * (1 - err)
    else:
        # ||D||_cut <= ||D||_1 = sum_ij w_i w_j |D_ij| (a sum of non-negative terms, so the
        # computed value is within (m^2 + 2) u of it)
        l1 = float(w @ np.abs(D) @ w) * (1 + (D.shape[0] ** 2 + 4) * _UNIT_ROUNDOFF)
        info["l1_bound"] = l1
        upper = max(min(upper, l1), lower)
    S.setflags(write=False)
    T.setflags(write=False)
    return CutNormResult(lower, float(upper), S, T, signed, np.asarray(w), name, info)


def infinity_one_norm(
    U,
    V=None,
    *,
    method: str = "auto",
    rng=None,
    exact_max_blocks: int = 20,
    rank: int | None = None,
    n_rounding: int = 64,
    max_iter: int = 500,
    tol: float = 1e-7,
    weight="weight",
) -> InfinityOneNormResult:
    r"""Certified bounds on the inf->1 norm ||U - V||_{inf->1} (or ||U||_{inf->1} when V is None).

    .. math::

        \|D\|_{\infty	o1} = \sup_{f, g: [0,1]	o[-1,1]} \int D(x,y) f(x) g(y)\,dx\,dy
                          = \max_{x, y \in \{\pm1\}^m} \sum_{ij} w_i w_j D_{ij} x_i y_j ,

    the integral being bilinear in (f, g), so the sup is reached at +-1 step functions on the
    blocks.  It is equivalent to the cut norm: ||D||_cut <= ||D||_{inf->1} <= 4 ||D||_cut
    (write f = 1_{S} - 1_{S^c}, g likewise, and expand; conversely 1_S = (1 + f)/2).

    The same machinery as :func:`cut_norm`, without the Alon--Naor padding row: blocks with
    identical rows are merged (an optimal x takes equal signs on them); ``"exact"`` enumerates
    the 2^(k-1) sign vectors x up to a global sign (the best y is sign(x^T M)); ``"sdp"``
    bounds the norm above by the certified dual bound sum(d) - 2k c of the Grothendieck SDP
    relaxation of M = (w_i w_j D_ij) itself (within K_G < 1.783 of the norm when the relaxation
    is solved exactly), and below by hyperplane rounding with best-response local search.  The
    upper bound is also capped by ||D||_1 = sum w_i w_j |D_ij|.

    Parameters
    ----------
    U, V : StepGraphon, (n, n) array, networkx graph or number
        As in :func:`cut_norm` (no relabelling: D = U - V on the common refinement).
    method, rng, exact_max_blocks, rank, n_rounding, max_iter, tol, weight
        As in :func:`cut_norm`.

    Returns
    -------
    InfinityOneNormResult
        ``lower <= ||U - V||_{inf->1} <= upper``, ``lower`` attained by the signs ``(x, y)``.

    Examples
    --------
    For D = [[1, -1], [-1, 1]] on two halves, x = y = (1, -1) gives 1, four times the cut
    norm 1/4 (the upper end of the equivalence):

    >>> r = infinity_one_norm(np.array([[1.0, -1.0], [-1.0, 1.0]]))
    >>> round(r.lower, 12), round(r.upper, 12), r.x.tolist(), r.method
    (1.0, 1.0, [1.0, -1.0], 'exact')
    >>> round(infinity_one_norm(0.3).lower, 12)          # a constant: |c|, as for the cut norm
    0.3

    References
    ----------
    Alon, Naor (2006), sec. 2 and 5 (the SDP of the inf->1 norm and the cut-norm padding).
    """
    exact_max_blocks, rank, n_rounding, max_iter = _check_norm_options(
        method, exact_max_blocks, rank, n_rounding, max_iter, tol)
    D, w = _difference(U, V, weight)
    Dm, wm, groups = _merge_identical_blocks(D, w)
    k = Dm.shape[0]
    M = wm[:, None] * Dm * wm[None, :]
    info = {"blocks": D.shape[0], "merged_blocks": k}
    if method == "exact" and k > MAX_EXACT_BLOCKS:
        raise ValueError(
            f"exact enumeration needs at most {MAX_EXACT_BLOCKS} distinct blocks, got {k}; use method='sdp'"
        )
    use_exact = method == "exact" or (method == "auto" and k <= exact_max_blocks)
    if use_exact:
        _, mask = _enumerate_inf1_numba(np.ascontiguousarray(M, dtype=np.float64))
        xm = 1.0 - 2.0 * ((int(mask) >> np.arange(k)) & 1)
        ym = np.where(xm @ M >= 0, 1.0, -1.0)
        name = "exact"
    else:
        with get_backend(M).thread_policy(k, _sdp_rank(k, rank), k):
            xm, ym, upper, sdp_info = _inf1_sdp(M, as_rng(rng), rank, n_rounding, max_iter, tol)
        info.update(sdp_info)
        name = "sdp"
    x, y = xm[groups], ym[groups]
    value = float((w * x) @ D @ (w * y))
    if value < 0:  # only by rounding (the best y makes x^T M y >= 0); -x attains |value|
        x, value = -x, -value
    if x[0] < 0:  # (x, y) and (-x, -y) attain the same value: report the one with x_0 = +1
        x, y = -x, -y
    lower = value
    err = (D.shape[0] ** 2 + 4) * _UNIT_ROUNDOFF
    if use_exact:
        upper = lower * (1 + err)
        lower = lower * (1 - err)
    else:
        l1 = float(w @ np.abs(D) @ w) * (1 + err)
        info["l1_bound"] = l1
        upper = max(min(upper, l1), lower)
    x.setflags(write=False)
    y.setflags(write=False)
    return InfinityOneNormResult(float(lower), float(upper), x, y, np.asarray(w), name, info)


# =================================================================== distances
@njit(cache=True)
def _swap_search_numba(A, C, perm, window, max_passes):  # pragma: no cover - compiled
    """Greedy swaps of positions r < s <= r + window that increase <A, C>.

    C is B relabelled by perm (C = B[perm][:, perm]); both A and C are n x n symmetric and
    updated in place.  The gain of swapping r and s is
    2 sum_{j not in {r,s}} (A_rj - A_sj)(C_sj - C_rj) + (A_rr - A_ss)(C_ss - C_rr).
    Returns the number of accepted swaps.
    """
    n = A.shape[0]
    accepted = 0
    for _ in range(max_passes):
        changed = 0
        for r in range(n):
            for s in range(r + 1, min(n, r + window + 1)):
                g = (A[r, r] - A[s, s]) * (C[s, s] - C[r, r])
                acc = 0.0
                for j in range(n):
                    if j != r and j != s:
                        acc += (A[r, j] - A[s, j]) * (C[s, j] - C[r, j])
                g += 2.0 * acc
                if g > 1e-12:
                    for j in range(n):
                        t = C[r, j]
                        C[r, j] = C[s, j]
                        C[s, j] = t
                    for j in range(n):
                        t = C[j, r]
                        C[j, r] = C[j, s]
                        C[j, s] = t
                    t2 = perm[r]
                    perm[r] = perm[s]
                    perm[s] = t2
                    changed += 1
        accepted += changed
        if changed == 0:
            break
    return accepted


def _swap_search_numpy(A, C, perm, window, max_passes):
    """Pure-NumPy twin of :func:`_swap_search_numba` (same order of trials, same result)."""
    n = A.shape[0]
    accepted = 0
    for _ in range(max_passes):
        changed = 0
        for r in range(n):
            for s in range(r + 1, min(n, r + window + 1)):
                mask = np.ones(n, dtype=bool)
                mask[[r, s]] = False
                g = (A[r, r] - A[s, s]) * (C[s, s] - C[r, r])
                g += 2.0 * float(np.dot((A[r] - A[s])[mask], (C[s] - C[r])[mask]))
                if g > 1e-12:
                    C[[r, s], :] = C[[s, r], :]
                    C[:, [r, s]] = C[:, [s, r]]
                    perm[[r, s]] = perm[[s, r]]
                    changed += 1
        accepted += changed
        if changed == 0:
            break
    return accepted


def _wasserstein(xa, wa, xb, wb, p):
    """W_p distance between the discrete laws sum wa_i delta_{xa_i} and sum wb_j delta_{xb_j}.

    W_p^p = int_0^1 |Fa^{-1}(t) - Fb^{-1}(t)|^p dt, computed exactly by merging the quantile
    functions (both are step functions of t).
    """
    ia, ib = np.argsort(xa, kind="stable"), np.argsort(xb, kind="stable")
    xa, wa, xb, wb = xa[ia], wa[ia] / wa.sum(), xb[ib], wb[ib] / wb.sum()
    ca, cb = np.cumsum(wa), np.cumsum(wb)
    ca[-1] = cb[-1] = 1.0
    t = np.union1d(ca, cb)
    dt = np.diff(np.concatenate(([0.0], t)))
    mid = t - dt / 2
    qa = xa[np.minimum(np.searchsorted(ca, mid), xa.size - 1)]
    qb = xb[np.minimum(np.searchsorted(cb, mid), xb.size - 1)]
    return float(np.sum(dt * np.abs(qa - qb) ** p) ** (1.0 / p))


@dataclass(frozen=True)
class CutDistanceResult:
    """Bracket lower <= delta_cut(U, W) <= upper.

    Attributes
    ----------
    lower : float
        Largest of the lower bounds in ``lower_bounds`` (minus ``discretisation_error``).
    upper : float
        Certified cut-norm upper bound ||U^a - W^b||_cut at the best alignment found (plus
        ``discretisation_error``).
    alignment : str
        Name of the alignment attaining ``upper``.
    order_U, order_W : ndarray of int
        The block orders of that alignment (U's blocks laid out as ``U.relabel(order_U)``).
    cut : CutNormResult
        The cut-norm bracket at the best alignment that got a certified cut norm (sets S, T on
        the overlay); normally the alignment attaining ``upper``.
    lower_bounds : dict
        Each entry is a valid lower bound on delta_cut of the two step graphons compared:
        ``"t(F)"`` counting-lemma bounds per pattern, ``"degrees"`` the degree-distribution bound.
    alignments : dict
        name -> (L2 distance at that alignment, upper bound on the cut norm at that alignment:
        the certified SDP/exact bound for the ``n_certify`` best by L2, capped by the L1
        distance, which is itself an upper bound for every alignment).
    delta2_upper : float
        Smallest L2 distance over the alignments tried: an upper bound on delta_2(U, W)
        (+ the estimated discretisation error in L2 for continuous inputs).
    discretisation_error : float
        0 for step inputs; for a continuous :class:`Graphon` W, an estimate (quadrature) of
        ||W - W_P||_1 >= ||W - W_P||_cut for its block average W_P, used to widen the bracket
        (this part is an estimate, not a certificate).
    """

    lower: float
    upper: float
    alignment: str
    order_U: np.ndarray
    order_W: np.ndarray
    cut: CutNormResult
    lower_bounds: dict
    alignments: dict
    delta2_upper: float
    discretisation_error: float = 0.0

    def __repr__(self):
        return (f"CutDistanceResult(lower={self.lower:.6g}, upper={self.upper:.6g}, "
                f"alignment={self.alignment!r}, discretisation_error={self.discretisation_error:.3g})")


def _degrees(S: StepGraphon):
    return S.values @ S.widths


def _is_constant(S: StepGraphon) -> bool:
    """All block values equal: the constant graphon, which every relabelling leaves unchanged."""
    v = S.values
    return bool(np.all(v == v.flat[0]))


def _spectral_orders(S: StepGraphon, k=2):
    """Orders sorting the blocks by the top-|lambda| eigenvectors of W^{1/2} B W^{1/2}."""
    sw = np.sqrt(S.widths)
    K = sw[:, None] * S.values * sw[None, :]
    if S.m <= 200:
        lam, vec = np.linalg.eigh(K)
        idx = np.argsort(-np.abs(lam))[:k]
        vec = vec[:, idx]
    else:
        import inspect

        from scipy.sparse.linalg import eigsh

        v0 = np.full(S.m, 1.0 / np.sqrt(S.m))
        # ARPACK restarts from a random vector when Lanczos breaks down (a nearly rank-one K, e.g.
        # a flow at its constant fixed point); unseeded, that vector depends on the process's
        # earlier calls, so the same inputs gave other orders (and brackets) in another process
        if "rng" in inspect.signature(eigsh).parameters:  # SciPy >= 1.15
            _, vec = eigsh(K, k=min(k, S.m - 1), which="LM", v0=v0, tol=1e-6, rng=np.random.default_rng(0))
        elif S.m <= 3000:
            lam, vec = np.linalg.eigh(K)
            vec = vec[:, np.argsort(-np.abs(lam))[:k]]
        else:  # pragma: no cover - old SciPy and large m: reproducible except at such breakdowns
            _, vec = eigsh(K, k=min(k, S.m - 1), which="LM", v0=v0, tol=1e-6)
    return [np.argsort(vec[:, i] / sw, kind="stable") for i in range(vec.shape[1])]


def _continuous_error(G, S: StepGraphon, q=3):
    """Quadrature estimates of ||G - S||_1 and ||G - S||_2 (q x q Gauss--Legendre points per block pair)."""
    from .step import gauss_legendre_01

    xg, wg = gauss_legendre_01(q)
    e = S.breakpoints
    w = S.widths
    pts = (e[:-1, None] + w[:, None] * xg[None, :]).ravel()
    wts = (w[:, None] * wg[None, :]).ravel()
    l1 = l2sq = 0.0
    Sv = np.repeat(np.repeat(S.values, q, axis=0), q, axis=1)
    for r0 in range(0, pts.size, 512):
        rows = slice(r0, r0 + 512)
        F = np.abs(G(pts[rows, None], pts[None, :]) - Sv[rows])
        l1 += float(wts[rows] @ F @ wts)
        l2sq += float(wts[rows] @ (F * F) @ wts)
    return l1, float(np.sqrt(l2sq))


def _read_pair(U, W, resolution, weight="weight"):
    from .graphons import Graphon

    reads = [_read_step(U, "U", weight, continuous=True), _read_step(W, "W", weight, continuous=True)]
    cont = [isinstance(r, Graphon) for r in reads]
    steps = [None if c else r.to_step() for r, c in zip(reads, cont)]
    err = [0.0, 0.0]
    for i, G in enumerate(reads):
        if cont[i]:
            other = steps[1 - i]
            m = resolution or (other.m if other is not None else 256)
            steps[i] = G.block_average(m)
            e1, e2 = _continuous_error(G, steps[i])
            err[0] += e1
            err[1] += e2
    return steps[0], steps[1], err


def _counting_lower_bounds(SU, SW, patterns):
    from .hom import hom_density
    from .patterns import as_pattern

    vals = np.concatenate((SU.values.ravel(), SW.values.ravel()))
    Mx = float(np.abs(vals).max())
    nonneg = bool(vals.min() >= 0)
    out = {}
    if Mx == 0:
        return out
    for F in patterns:
        P = as_pattern(F)
        e = P.n_edges
        if e == 0:
            continue
        tU = float(hom_density(P, SU))
        tW = float(hom_density(P, SW))
        c = e * Mx ** (e - 1) * (1.0 if (nonneg or e == 1) else 4.0)
        # allowance for rounding in the two density evaluations
        slack = 1e-12 * Mx**e
        out[f"t({P})"] = max(0.0, abs(tU - tW) - slack) / c
    return out


DEFAULT_PATTERNS = ("K2", "P3", "K3", "C4", "S3", "P4")


def cut_distance(
    U,
    W,
    *,
    latent=None,
    resolution: int | None = None,
    patterns=DEFAULT_PATTERNS,
    rng=None,
    n_certify: int = 2,
    swap_window: int = 3,
    swap_passes: int = 3,
    weight="weight",
    **cut_options,
) -> CutDistanceResult:
    r"""Certified bracket for the cut distance delta_cut(U, W) = inf_phi ||U - W^phi||_cut.

    **Upper bound.**  Every alignment gives an upper bound.  An alignment here is a pair of
    block orders (a, b): U's blocks and W's blocks are laid out on [0, 1] in those orders and the
    two interval partitions are overlaid (common refinement); ||U^a - W^b||_cut is then the cut
    norm of a step kernel, bounded above by :func:`cut_norm`'s certificate.  Candidates: the
    given order ("identity"), the order of ``latent`` positions of U's vertices ("latent"),
    both sorted by degree ("degree"), both sorted by a leading eigenvector, with both signs
    ("spectral"), and, for two uniform graphs of equal size, the best of these improved by
    greedy swaps of nearby positions that decrease the L2 distance ("swaps").  All are ranked
    by the L2 distance (a surrogate: ||.||_cut <= ||.||_1 <= ||.||_2); the best ``n_certify``
    get a certified cut-norm bound, every alignment's L1 distance is also an upper bound, and
    ``upper`` is the smallest of all these.

    **Lower bounds** (each valid for all relabellings, so for delta_cut itself):

    * counting lemma: for a simple pattern F with e(F) edges and kernels with |U|, |W| <= M,
      |t(F, U) - t(F, W)| <= c_F delta_cut(U, W), c_F = e(F) M^{e(F)-1} when U, W >= 0, and
      4 e(F) M^{e(F)-1} otherwise (c_{K2} = 1 always).  Proof: telescoping over the edges,
      each term is int (U - W^phi)(x, y) f(x) g(y) times bounded factors, with 0 <= f, g <= 1
      (or |f|, |g| <= 1: factor 4) (Lovász 2012, Lemma 10.23; BCLSV 2008, Thm 3.7);
    * degrees: with d_U(x) = int U(x, y) dy and f = d_U - d_W o phi, taking T = [0, 1] and
      S = {f > 0} or {f < 0} gives ||U - W^phi||_cut >= max(int f^+, int f^-)
      = (||f||_1 + |int f|) / 2.  Here int f = t(K2, U) - t(K2, W) for every phi, and
      ||f||_1 >= W_1(law d_U, law d_W) because (d_U, d_W o phi) is a coupling of the two
      degree distributions.  Hence delta_cut >= (W_1(d_U, d_W) + |t(K2,U) - t(K2,W)|) / 2.

    **Against a constant.**  When one side is a constant graphon c (a number, or a step graphon
    whose values are all equal), W^phi = c for every relabelling phi, so delta_cut(U, c) =
    ||U - c||_cut exactly: nothing is aligned, and the bracket is the certified cut-norm bracket
    of U - c (alignment ``"constant"``; a constant is the only graphon that every relabelling
    leaves unchanged).

    Continuous graphons (:class:`~graphonflow.graphons.Graphon` or callables) are replaced by
    their block averages W_P on ``resolution`` blocks (default: the other side's block count);
    the bracket for W_P is certified and is widened by ``discretisation_error``, a quadrature
    estimate of ||W - W_P||_1 (triangle inequality).

    Parameters
    ----------
    U, W : StepGraphon, (n, n) array, networkx graph, Graphon, callable or number
        A real number c is the constant graphon c.
    latent : array (U.m,), optional
        Latent positions of U's vertices in W's coordinates (e.g. from :func:`sample`).
    resolution : int, optional
        Blocks for discretising continuous inputs.
    patterns : sequence of patterns
        Patterns F for the counting-lemma bounds.
    rng : None, int or Generator
        Randomness of the SDP cut-norm method.
    n_certify : int
        How many of the best alignments (by L2) get a certified cut norm.
    swap_window, swap_passes : int
        Swap search: positions r < s <= r + window, at most this many passes (0 disables).
    weight : str or None
        Edge attribute holding the weights of networkx inputs (None: every edge weighs 1).
    **cut_options
        Passed to :func:`cut_norm` (``method``, ``rank``, ...).

    Returns
    -------
    CutDistanceResult

    Examples
    --------
    >>> from graphonflow.graphons import sbm
    >>> W = sbm([[0.9, 0.1], [0.1, 0.5]], [0.3, 0.7])
    >>> r = cut_distance(W, W.relabel([1, 0]))
    >>> r.lower, r.upper
    (0.0, 0.0)

    Against a constant the bracket is the cut norm of the difference: for the complete
    bipartite graphon K_{1/2,1/2} and 1/2 it is 1/8 (S = T = one part):

    >>> from graphonflow.graphons import complete_bipartite
    >>> r = cut_distance(complete_bipartite(0.5), 0.5)
    >>> round(r.lower, 12), round(r.upper, 12), r.alignment
    (0.125, 0.125, 'constant')

    References
    ----------
    Lovász, Large Networks and Graph Limits (AMS 2012), ch. 8 and 10.
    Borgs, Chayes, Lovász, Sós, Vesztergombi, Adv. Math. 219 (2008).
    """
    gen = as_rng(rng)
    SU, SW, (disc, disc2) = _read_pair(U, W, resolution, weight)
    if n_certify < 1:
        raise ValueError("n_certify must be >= 1")

    # ---- lower bounds
    lower_bounds = _counting_lower_bounds(SU, SW, patterns)
    dU, dW = _degrees(SU), _degrees(SW)
    w1 = _wasserstein(dU, SU.widths, dW, SW.widths, 1)
    slack = 1e-12 * max(float(np.abs(dU).max()), float(np.abs(dW).max()))
    lower_bounds["degrees"] = max(0.0, 0.5 * (w1 + abs(SU.edge_density() - SW.edge_density())) - slack)

    if _is_constant(SU) or _is_constant(SW):
        # W^phi = W for a constant: delta_cut is the cut norm of the difference itself
        res = cut_norm(SU, SW, rng=gen, **cut_options)
        BU, BW, w = common_refinement(SU, SW)
        Dd = BU - BW
        l2c = float(np.sqrt(max(float(w @ (Dd * Dd) @ w), 0.0)))
        lower_bounds["cut norm (constant side)"] = res.lower
        ident = (np.arange(SU.m), np.arange(SW.m))
        return CutDistanceResult(
            lower=float(max(0.0, max(lower_bounds.values()) - disc)),
            upper=float(res.upper + disc),
            alignment="constant",
            order_U=ident[0],
            order_W=ident[1],
            cut=res,
            lower_bounds=lower_bounds,
            alignments={"constant": (l2c, res.upper)},
            delta2_upper=l2c + disc2,
            discretisation_error=float(disc),
        )

    # ---- alignments
    cands = {"identity": (np.arange(SU.m), np.arange(SW.m))}
    if latent is not None:
        x = np.asarray(latent, dtype=np.float64)
        if x.shape != (SU.m,):
            raise ValueError(f"latent must have shape ({SU.m},), one position per block of U")
        cands["latent"] = (np.argsort(x, kind="stable"), np.arange(SW.m))
    cands["degree"] = (np.argsort(dU, kind="stable"), np.argsort(dW, kind="stable"))
    for i, (oU, oW) in enumerate(zip(_spectral_orders(SU), _spectral_orders(SW))):
        cands[f"spectral{i + 1}"] = (oU, oW)
        cands[f"spectral{i + 1}-flip"] = (oU, oW[::-1].copy())

    def overlay(oU, oW):
        return common_refinement(SU.relabel(oU), SW.relabel(oW))

    l1 = {}

    def l2(oU, oW, name):
        BU, BW, w = overlay(oU, oW)
        D = BU - BW
        l1[name] = float(w @ np.abs(D) @ w) * (1 + (D.shape[0] ** 2 + 4) * _UNIT_ROUNDOFF)
        return float(np.sqrt(max(w @ (D * D) @ w, 0.0)))

    scores = {name: l2(*o, name) for name, o in cands.items()}
    if swap_passes > 0 and swap_window > 0 and SU.m == SW.m and SU.uniform and SW.uniform and SU.m > 2:
        best = min(scores, key=scores.get)
        oU, oW = cands[best]
        A = np.ascontiguousarray(SU.values[np.ix_(oU, oU)])
        perm = oW.astype(np.int64).copy()
        C = np.ascontiguousarray(SW.values[np.ix_(perm, perm)])
        _swap_search_numba(A, C, perm, int(swap_window), int(swap_passes))
        cands["swaps"] = (oU, perm)
        scores["swaps"] = l2(oU, perm, "swaps")

    ranked = sorted(scores, key=scores.get)
    # every alignment's L1 distance bounds its cut norm, hence delta_cut, from above
    alignments = {name: (scores[name], l1[name]) for name in ranked}
    best_res = None
    for name in ranked[:n_certify]:
        BU, BW, w = overlay(*cands[name])
        res = cut_norm(StepGraphon(BU, w), StepGraphon(BW, w), rng=gen, **cut_options)
        alignments[name] = (scores[name], min(res.upper, l1[name]))
        if best_res is None or res.upper < best_res.upper:
            best_res = res
    best_name = min(alignments, key=lambda k: alignments[k][1])
    lower = max(0.0, max(lower_bounds.values()) - disc)
    upper = alignments[best_name][1] + disc
    return CutDistanceResult(
        lower=float(lower),
        upper=float(upper),
        alignment=best_name,
        order_U=cands[best_name][0],
        order_W=cands[best_name][1],
        cut=best_res,
        lower_bounds=lower_bounds,
        alignments=alignments,
        delta2_upper=float(scores[ranked[0]]) + disc2,
        discretisation_error=float(disc),
    )


def l2_distance(U, W, *, resolution: int | None = None, weight="weight") -> float:
    """||U - W||_2 = (int (U - W)^2)^{1/2} at the given labels (no relabelling).

    Step inputs are compared on the common refinement of their partitions (exact).  A
    continuous :class:`~graphonflow.graphons.Graphon` against a step graphon is integrated by
    Gauss--Legendre quadrature on each block of the step graphon (``resolution`` equal blocks
    if both are continuous); that case is a quadrature estimate.

    >>> from graphonflow.graphons import constant
    >>> l2_distance(constant(0.5), constant(0.2))
    0.3
    """
    from .graphons import Graphon

    reads = [_read_step(U, "U", weight, continuous=True), _read_step(W, "W", weight, continuous=True)]
    cont = [isinstance(r, Graphon) for r in reads]
    if not any(cont):
        BU, BW, w = common_refinement(reads[0].to_step(), reads[1].to_step())
        D = BU - BW
        return float(np.sqrt(max(float(w @ (D * D) @ w), 0.0)))
    if all(cont):
        grid = StepGraphon(np.zeros((resolution or 64,) * 2))
        G = reads
        return _continuous_error(lambda x, y: G[0](x, y) - G[1](x, y), grid, q=8)[1]
    G, S = (reads[0], reads[1].to_step()) if cont[0] else (reads[1], reads[0].to_step())
    return _continuous_error(G, S, q=8)[1]


@dataclass(frozen=True)
class Delta2Result:
    """Bracket lower <= delta_2(U, W) = inf_phi ||U - W^phi||_2 <= upper (see :func:`delta2_distance`)."""

    lower: float
    upper: float
    lower_bounds: dict
    alignment: str


def _operator_spectrum(S: StepGraphon):
    """All eigenvalues of the integral operator of a step kernel (dense, deterministic).

    An iterative partial eigensolver is not used: it can miss copies of repeated eigenvalues,
    which shifts the Hoffman--Wielandt pairing and breaks the bound."""
    sw = np.sqrt(S.widths)
    K = sw[:, None] * S.values * sw[None, :]
    return np.linalg.eigvalsh(K)


def _hoffman_wielandt(lu, lw):
    """sqrt(sum (pos_i(U) - pos_i(W))^2 + sum (neg_i(U) - neg_i(W))^2), zero padded."""
    total = 0.0
    pu, pw = np.sort(lu[lu > 0])[::-1], np.sort(lw[lw > 0])[::-1]
    nu, nw = np.sort(lu[lu < 0]), np.sort(lw[lw < 0])
    for a, b in ((pu, pw), (nu, nw)):
        k = max(a.size, b.size)
        a = np.pad(a, (0, k - a.size))
        b = np.pad(b, (0, k - b.size))
        total += float(np.sum((a - b) ** 2))
    return float(np.sqrt(total))


def delta2_distance(U, W, *, resolution: int | None = None, spectrum_max_blocks: int = 4000, weight="weight",
                    **cut_distance_options) -> Delta2Result:
    r"""Bracket for delta_2(U, W) = inf_phi ||U - W^phi||_2.

    Upper: the smallest L2 distance over the alignments of :func:`cut_distance`.
    Lower bounds, each valid for every relabelling:

    * ``"cut"``: delta_2 >= delta_1 >= delta_cut >= the cut-distance lower bound;
    * ``"spectrum"`` (Hoffman--Wielandt): the integral operators of U and W^phi have the
      same non-zero spectrum as those of U and W, both are self-adjoint of finite rank for step
      kernels, so on the finite-dimensional sum of their ranges
      ||U - W^phi||_2 = ||T_U - T_{W^phi}||_HS >= (sum_i (l_i^+(U) - l_i^+(W))^2
      + sum_i (l_i^-(U) - l_i^-(W))^2)^{1/2} (positive eigenvalues in decreasing, negative
      in increasing order, zero padded).  Computed from the full dense spectra, and skipped
      when either side has more than ``spectrum_max_blocks`` blocks;
    * ``"degrees"``: ||U - W^phi||_2 >= ||d_U - d_W o phi||_2 (Jensen) >= W_2(law d_U, law d_W);
    * ``"constant"``: when one side is constant, W^phi = W and delta_2 = ||U - W||_2 itself.

    A real number is the constant graphon; ``weight`` names the edge attribute of networkx inputs.

    For continuous inputs the block averages are used and the bracket is widened by the
    quadrature estimate of ||W - W_P||_2.

    >>> from graphonflow.graphons import sbm
    >>> U = sbm([[1.0, 0.0], [0.0, 0.0]])
    >>> r = delta2_distance(U, U.relabel([1, 0]))
    >>> r.lower, r.upper
    (0.0, 0.0)
    >>> round(l2_distance(U, U.relabel([1, 0])), 6)  # without relabelling: sqrt(1/2)
    0.707107

    References
    ----------
    Hoffman, Wielandt, Duke Math. J. 20 (1953); Lovász (2012), ch. 8 and 11.
    """
    SU, SW, (_, disc2) = _read_pair(U, W, resolution, weight)
    cd = cut_distance(SU, SW, **cut_distance_options)
    lb = {"cut": cd.lower}
    if cd.alignment == "constant":  # delta_2(U, c) = ||U - c||_2 (rounding allowance 1e-12)
        lb["constant"] = max(0.0, cd.delta2_upper * (1 - 1e-12))
    if max(SU.m, SW.m) <= spectrum_max_blocks:
        lu, lw = _operator_spectrum(SU), _operator_spectrum(SW)
        # rounding allowance: eigenvalues are computed to about m u ||K||
        slack = 1e-12 * (1.0 + max(float(np.abs(lu).max()), float(np.abs(lw).max()))) * max(SU.m, SW.m)
        lb["spectrum"] = max(0.0, _hoffman_wielandt(lu, lw) - slack)
    dU, dW = _degrees(SU), _degrees(SW)
    # rounding allowance on the squared distance: the two cumulative width sums may differ by
    # about (m_U + m_W) u, leaving slivers of that length where the quantiles differ by up to
    # the whole range of the degrees; subtract it before the square root
    spread = float(max(dU.max(), dW.max()) - min(dU.min(), dW.min()))
    k = SU.m + SW.m
    slack2 = 4.0 * k * k * _UNIT_ROUNDOFF * spread * spread + (1e-12 * max(float(np.abs(dU).max()), float(np.abs(dW).max()))) ** 2
    w2 = _wasserstein(dU, SU.widths, dW, SW.widths, 2)
    lb["degrees"] = float(np.sqrt(max(0.0, w2 * w2 - slack2)))
    return Delta2Result(
        lower=float(max(0.0, max(lb.values()) - disc2)),
        upper=float(cd.delta2_upper + disc2),
        lower_bounds=lb,
        alignment=min(cd.alignments, key=lambda k: cd.alignments[k][0]),
    )

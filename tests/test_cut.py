"""Cut norm, cut distance and L2 distances with certified bounds (graphonflow.cut)."""

import itertools

import numpy as np
import pytest
from scipy.stats import wasserstein_distance

from graphonflow import StepGraphon, hom_density
from graphonflow.cut import (
    _best_response,
    _certified_shift,
    _certify_shift,
    _enumerate_cut_numba,
    _enumerate_cut_numpy,
    _enumerate_inf1_numba,
    _enumerate_inf1_numpy,
    _gram_lower,
    _hoffman_wielandt,
    _mul_sym,
    _operator_spectrum,
    _swap_search_numba,
    _swap_search_numpy,
    _wasserstein,
    cut_distance,
    cut_norm,
    delta2_distance,
    infinity_one_norm,
    l2_distance,
)
from graphonflow.graphons import Graphon, constant, mean_xy, sbm
from graphonflow.sampling import sample


def random_step(rng, m, signed=True, uniform=False):
    D = rng.normal(size=(m, m)) if signed else rng.random((m, m))
    D = 0.5 * (D + D.T)
    if uniform:
        return StepGraphon(D)
    w = rng.random(m) + 0.2
    return StepGraphon(D, w / w.sum())


def brute_force_cut_norm(S: StepGraphon):
    w, D = S.widths, S.values
    M = w[:, None] * D * w[None, :]
    m = S.m
    best = 0.0
    subsets = [np.array(s, dtype=bool) for s in itertools.product((0, 1), repeat=m)]
    for s in subsets:
        for t in subsets:
            best = max(best, abs(M[np.ix_(s, t)].sum()))
    return best


def attained(S: StepGraphon, res):
    w, D = S.widths, S.values
    return abs(float(w[res.S] @ D[np.ix_(res.S, res.T)] @ w[res.T]))


def test_enumeration_numba_matches_numpy_twin():
    rng = np.random.default_rng(0)
    for m in (1, 2, 5, 9, 12):
        M = rng.normal(size=(m, m))
        M = M + M.T
        v1, mask1, s1 = _enumerate_cut_numba(M)
        v2, mask2, s2 = _enumerate_cut_numpy(M)
        assert v1 == pytest.approx(v2, rel=1e-12)
        for mask, sgn in ((mask1, s1), (mask2, s2)):  # each returned S attains the value
            S = ((mask >> np.arange(m)) & 1).astype(bool)
            r = M[S].sum(axis=0)
            assert (r[r > 0].sum() if sgn > 0 else -r[r < 0].sum()) == pytest.approx(v1, rel=1e-12)


@pytest.mark.parametrize("m", [1, 2, 3, 4, 6])
def test_exact_matches_brute_force(m):
    rng = np.random.default_rng(m)
    for _ in range(3):
        S = random_step(rng, m)
        res = cut_norm(S)
        exact = brute_force_cut_norm(S)
        # exact up to the rounding of the final sum, which the bracket accounts for
        assert res.method == "exact" and res.upper - res.lower <= 1e-14 * max(res.upper, 1e-300)
        assert res.lower <= exact * (1 + 1e-15) and exact <= res.upper * (1 + 1e-15)
        assert res.lower == pytest.approx(exact, rel=1e-12)
        assert attained(S, res) == pytest.approx(res.lower, rel=1e-12)


def test_exact_known_values():
    r = cut_norm(np.array([[1.0, -1.0], [-1.0, 1.0]]))
    assert r.lower <= 0.25 <= r.upper and r.upper - r.lower < 1e-15
    assert cut_norm(constant(0.3), constant(0.1)).lower == pytest.approx(0.2)
    # complete bipartite (1/2) vs constant 1/2: S = T = first half, |1/4 * (0 - 1/2)| = 1/8
    assert cut_norm(sbm([[0, 1], [1, 0]]), constant(0.5)).lower == pytest.approx(1 / 8)
    # identical blocks are merged: a 40 x 40 refinement of a 2-block kernel is still exact
    r = cut_norm(sbm([[1.0, -1.0], [-1.0, 1.0]]).refine(20))
    assert r.method == "exact" and r.info["merged_blocks"] == 2 and r.lower == pytest.approx(0.25)
    assert r.S.shape == (40,)


@pytest.mark.parametrize("m", [3, 5, 8, 12, 16])
def test_sdp_bounds_bracket_exact_value(m):
    rng = np.random.default_rng(100 + m)
    for rep in range(4):
        S = random_step(rng, m, uniform=(rep % 2 == 0))
        exact = cut_norm(S, method="exact").lower
        res = cut_norm(S, method="sdp", rng=rep)
        assert res.method == "sdp"
        assert res.lower <= exact * (1 + 1e-12)
        assert exact <= res.upper
        assert res.upper / res.lower <= 1.8
        assert attained(S, res) == pytest.approx(res.lower, rel=1e-12)


@pytest.mark.parametrize("N", [40, 300])
def test_certified_shift_is_below_lambda_min(N):
    # H = Diag(a, b) - [[0, M/2], [M/2, 0]]; the certified shift must never exceed lambda_min(H)
    rng = np.random.default_rng(N)
    M = rng.normal(size=(N, N))
    M = M + M.T
    a = rng.random(N) + 0.5
    b = rng.random(N) + 0.5
    H = np.block([[np.diag(a), -M / 2], [-M / 2, np.diag(b)]])
    lam = np.linalg.eigvalsh(H)[0]
    assert not _certify_shift(a, b, M, lam + 1e-6 * abs(lam))
    assert _certify_shift(a, b, M, lam - 1e-6 * abs(lam))
    guesses = [lam * t for t in (0.5, 0.9, 0.999, 1.001, 1.1, 2.0)]  # lam < 0: decreasing c
    c, attempts = _certified_shift(a, b, M, guesses)
    assert c <= lam and c >= 1.001 * lam - 1e-9 and attempts >= 1


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_scipy_blas_helpers_match_numpy(dtype):
    # _mul_sym / _gram_lower call scipy's ?gemm / ?syrk on transposed views (no copies)
    rng = np.random.default_rng(7)
    M = rng.normal(size=(37, 37)).astype(dtype)
    M = M + M.T
    X = rng.normal(size=(5, 37)).astype(dtype)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    P = _mul_sym(M.T, X)
    assert P.dtype == dtype and P.flags.c_contiguous
    np.testing.assert_allclose(P, X @ M, rtol=tol, atol=tol)
    G = rng.normal(size=(37, 37)).astype(dtype)
    L = _gram_lower(G, -2.0)
    np.testing.assert_allclose(np.tril(L), np.tril(-2.0 * G.T @ G), rtol=tol, atol=tol)
    assert not np.triu(L, 1).any()


def test_best_response_float32_is_a_local_optimum():
    rng = np.random.default_rng(3)
    M = rng.normal(size=(60, 60))
    M = M + M.T
    S0 = rng.random((4, 60)) < 0.5
    T0 = rng.random((4, 60)) < 0.5
    before = np.abs(np.einsum("ki,ij,kj->k", S0.astype(float), M, T0.astype(float)))
    S, T, vals = _best_response(M.astype(np.float32), S0, T0)
    exact = np.einsum("ki,ij,kj->k", S.astype(float), M, T.astype(float))
    np.testing.assert_allclose(vals, exact, rtol=1e-5)
    assert np.all(np.abs(exact) >= before - 1e-9)
    for k in range(4):  # no single flip of S or T improves |value|
        s = np.sign(exact[k])
        assert np.all(s * (S[k].astype(float) @ M)[~T[k]] <= 1e-4)
        assert np.all(s * (M @ T[k].astype(float))[~S[k]] <= 1e-4)


def test_sdp_on_graphs_and_weights():
    rng = np.random.default_rng(7)
    n = 300  # N = n + 1 >= 256: the single-precision screen of the certificate is used
    A = np.triu((rng.random((n, n)) < 0.5).astype(float), 1)
    A = A + A.T
    B = np.triu((rng.random((n, n)) < 0.5).astype(float), 1)
    B = B + B.T
    r = cut_norm(A, B, rng=0)
    assert r.method == "sdp" and 0 < r.lower <= r.upper and r.ratio <= 1.8
    assert attained(StepGraphon(A - B), r) == pytest.approx(r.lower, rel=1e-12)
    # planted 2-block vs constant 1/2: true value ~ (1/2)^2 * 0.2 = 0.05, bracket is tight
    x = np.arange(n) < n // 2
    P = np.where(x[:, None] == x[None, :], 0.7, 0.3)
    C = np.triu((rng.random((n, n)) < P).astype(float), 1)
    C = C + C.T
    r = cut_norm(C, np.full((n, n), 0.5), rng=0)
    assert r.ratio <= 1.1 and 0.04 < r.lower < 0.07
    # reproducible with a seed
    r2 = cut_norm(C, np.full((n, n), 0.5), rng=0)
    assert (r.lower, r.upper) == (r2.lower, r2.upper)


def test_relabelling_invariance():
    rng = np.random.default_rng(3)
    U, V = random_step(rng, 7), random_step(rng, 7)
    V = StepGraphon(V.values, U.widths)
    p = rng.permutation(7)
    a = cut_norm(U, V).lower
    b = cut_norm(U.relabel(p), V.relabel(p)).lower
    assert a == pytest.approx(b, rel=1e-12)
    S = random_step(rng, 30, uniform=True)
    q = rng.permutation(30)
    r1 = cut_norm(S, rng=1)
    r2 = cut_norm(S.relabel(q), rng=1)
    assert max(r1.lower, r2.lower) <= min(r1.upper, r2.upper)


def test_cut_norm_at_most_l1_norm():
    rng = np.random.default_rng(4)
    for m in (2, 6, 10, 40):
        S = random_step(rng, m)
        l1 = float(S.widths @ np.abs(S.values) @ S.widths)
        r = cut_norm(S, rng=0)
        assert r.lower <= l1 * (1 + 1e-12)
        if r.method == "exact":
            assert r.upper <= l1 * (1 + 1e-12)


def test_cut_norm_of_centred_product_kernel_converges_to_1_64():
    G = Graphon(lambda x, y: (x - 0.5) * (y - 0.5), box=(-0.25, 0.25))
    # even m: S = T = [0, 1/2] is a union of blocks -> exactly 1/64
    for m in (2, 8, 20):
        assert cut_norm(G.block_average(m)).lower == pytest.approx(1 / 64, rel=1e-12)
    # odd m: block averaging loses a little, increasing to 1/64 under refinement
    vals = [cut_norm(G.block_average(m)).lower for m in (3, 5, 9, 17)]
    assert all(v < 1 / 64 for v in vals) and np.all(np.diff(vals) > 0)
    deficits = 1 / 64 - np.array(vals)
    assert deficits[-1] < 1.2e-4 and deficits[-1] / deficits[-2] < 0.35  # O(1 / m^2)
    # through the SDP route on a fine partition: the bracket contains 1/64 - O(1/m^2)
    r = cut_norm(G.block_average(64), method="sdp", rng=0)
    assert r.lower <= 1 / 64 * (1 + 1e-12) <= r.upper and r.ratio < 1.05


def test_cut_distance_zero_for_relabelling():
    W = sbm([[0.9, 0.1, 0.3], [0.1, 0.5, 0.2], [0.3, 0.2, 0.6]], [0.2, 0.3, 0.5])
    r = cut_distance(W, W.relabel([2, 0, 1]))
    assert r.upper <= 1e-14 and r.lower == 0.0
    A, _ = sample(mean_xy(), 60, rng=0, kind="simple")
    p = np.random.default_rng(1).permutation(60)
    r = cut_distance(A[np.ix_(p, p)], A, rng=0)
    assert r.upper <= 1e-14 and r.lower == 0.0


def test_cut_distance_continuous_graphon_and_its_reflection():
    from graphonflow.graphons import min_xy, one_minus_max_xy

    # min(1 - x, 1 - y) = 1 - max(x, y): the same graphon, relabelled by x -> 1 - x
    r = cut_distance(min_xy(), one_minus_max_xy(), resolution=32, rng=0)
    assert r.lower == 0.0
    assert r.cut.upper <= 1e-14  # the block averages are exact reflections of each other
    assert r.upper <= 2 * r.discretisation_error + 1e-14 < 0.05


def test_counting_lemma_on_random_pairs():
    rng = np.random.default_rng(5)
    for rep in range(20):
        m = int(rng.integers(2, 7))
        signed = rep % 2 == 1
        U = random_step(rng, m, signed=signed, uniform=True)
        W = random_step(rng, m, signed=signed, uniform=True)
        d = cut_norm(U, W).lower  # exact ||U - W||_cut >= delta_cut(U, W)
        M = max(np.abs(U.values).max(), np.abs(W.values).max())
        for F, e in (("K2", 1), ("P3", 2), ("K3", 3), ("C4", 4)):
            c = e * M ** (e - 1) * (4.0 if (signed and e > 1) else 1.0)
            assert abs(hom_density(F, U) - hom_density(F, W)) <= c * d * (1 + 1e-9) + 1e-14


def test_cut_distance_bracket_against_all_relabellings():
    rng = np.random.default_rng(6)
    for _ in range(6):
        U = random_step(rng, 4, signed=False, uniform=True)
        W = random_step(rng, 4, signed=False, uniform=True)
        best = min(cut_norm(U, W.relabel(p)).lower for p in itertools.permutations(range(4)))
        r = cut_distance(U, W, rng=0)
        # delta_cut <= best over block permutations; every lower bound stays below it
        assert r.lower <= best * (1 + 1e-12)
        assert all(v <= best * (1 + 1e-12) for v in r.lower_bounds.values())
        assert r.lower <= r.upper


def test_degree_bound_is_a_lower_bound_for_unequal_partitions():
    rng = np.random.default_rng(8)
    for _ in range(10):
        U = random_step(rng, 3, signed=False)
        W = random_step(rng, 5, signed=False)
        r = cut_distance(U, W, rng=0)
        assert r.lower_bounds["degrees"] <= r.upper * (1 + 1e-12)
        assert r.lower_bounds["t(K2)"] <= r.lower_bounds["degrees"] * (1 + 1e-12) + 1e-15


def test_sample_close_to_its_graphon_and_latent_alignment():
    W = sbm([[0.8, 0.2], [0.2, 0.6]], [0.4, 0.6])
    A, x = sample(W, 200, rng=3, kind="simple")
    p = np.random.default_rng(0).permutation(200)
    r = cut_distance(A[np.ix_(p, p)], W, latent=x[p], rng=0)
    assert 0 < r.lower <= r.upper < 0.1
    # the latent order undoes the shuffle: it is as good as the sorted sample
    assert r.alignments["latent"][0] == pytest.approx(l2_distance(A, W), rel=1e-12)
    assert r.alignments["latent"][0] < r.alignments["identity"][0]
    # continuous W: discretised with an estimated error that widens the bracket
    B, _ = sample(mean_xy(), 100, rng=1, kind="weighted")
    r = cut_distance(B, mean_xy(), resolution=100, rng=0)
    assert r.discretisation_error > 0 and r.lower <= r.upper < 0.05


def test_swap_search_numba_matches_numpy_twin():
    rng = np.random.default_rng(9)
    n = 25
    A = rng.random((n, n))
    A = A + A.T
    B = rng.random((n, n))
    B = B + B.T
    perm0 = rng.permutation(n).astype(np.int64)
    out = []
    for fn in (_swap_search_numba, _swap_search_numpy):
        perm = perm0.copy()
        C = np.ascontiguousarray(B[np.ix_(perm, perm)])
        k = fn(A.copy(), C, perm, 3, 4)
        assert np.array_equal(C, B[np.ix_(perm, perm)])
        out.append((k, perm))
    assert out[0][0] == out[1][0] and np.array_equal(out[0][1], out[1][1])
    # swaps never decrease <A, B^perm>
    assert np.sum(A * B[np.ix_(out[0][1], out[0][1])]) >= np.sum(A * B[np.ix_(perm0, perm0)]) - 1e-12


def test_wasserstein_matches_scipy():
    rng = np.random.default_rng(10)
    xa, xb = rng.random(7), rng.random(4)
    wa, wb = rng.random(7) + 0.1, rng.random(4) + 0.1
    assert _wasserstein(xa, wa, xb, wb, 1) == pytest.approx(wasserstein_distance(xa, xb, wa, wb), rel=1e-10)


def test_l2_and_delta2():
    assert l2_distance(constant(0.5), constant(0.2)) == pytest.approx(0.3)
    U = sbm([[1.0, 0.0], [0.0, 0.0]], [0.5, 0.5])
    V = U.relabel([1, 0])
    assert l2_distance(U, V) == pytest.approx(np.sqrt(0.5))
    r = delta2_distance(U, V)
    assert r.lower <= r.upper <= 1e-14
    rng = np.random.default_rng(11)
    for _ in range(5):
        A, B = random_step(rng, 6, uniform=True), random_step(rng, 6, uniform=True)
        r = delta2_distance(A, B, rng=0)
        assert r.lower <= r.upper * (1 + 1e-12)
        # Hoffman--Wielandt below the L2 distance at any alignment
        hw = _hoffman_wielandt(_operator_spectrum(A), _operator_spectrum(B))
        for p in (rng.permutation(6) for _ in range(5)):
            assert hw <= l2_distance(A, B.relabel(p)) + 1e-12
    # continuous against step: quadrature
    assert l2_distance(mean_xy(), constant(0.5)) == pytest.approx(np.sqrt(1 / 24), rel=1e-8)


def test_bad_inputs():
    with pytest.raises(ValueError):
        cut_norm(np.array([[0.0, 1.0], [0.0, 0.0]]))
    with pytest.raises(ValueError):
        cut_norm(np.array([[np.nan, 1.0], [1.0, 0.0]]))
    with pytest.raises(ValueError):
        cut_norm(np.ones((2, 3)))
    with pytest.raises(ValueError):
        cut_norm(mean_xy())
    with pytest.raises(ValueError):
        R = np.random.default_rng(0).random((30, 30))
        cut_norm(R + R.T, method="exact")
    with pytest.raises(ValueError):
        cut_norm(np.eye(3), method="magic")
    with pytest.raises(ValueError):
        cut_distance(np.eye(3), np.eye(3), latent=[0.1, 0.2])


# ---------------------------------------------------------------- review regressions
def test_delta2_spectrum_bound_with_repeated_eigenvalues():
    # 140 blocks, every eigenvalue 14-fold: a partial iterative eigensolver used to miss copies
    rng = np.random.default_rng(7)
    A = rng.random((10, 10))
    A = A + A.T - 1
    U = StepGraphon(np.kron(np.eye(14), A))
    for _ in range(2):
        r = delta2_distance(U, U.relabel(rng.permutation(140)), n_certify=1)
        assert r.lower_bounds["spectrum"] < 1e-9
        assert r.lower <= r.upper + 1e-12


def test_merging_needs_equal_rows_and_columns():
    # accepted as symmetric (defect 9e-11 < 1e-10 * max |U|), rows equal, columns not
    U = StepGraphon(np.array([[1.0, 1.0 + 0.9e-10], [1.0, 1.0 + 0.9e-10]]))
    V = StepGraphon(np.full((2, 2), 1.0))
    r = cut_norm(U, V)
    true = abs(0.25 * (U.values - V.values)).sum()  # all entries of D have one sign
    assert r.lower <= true <= r.upper
    assert r.upper > 0


def test_degree_bound_of_delta2_below_upper_with_uneven_widths():
    B = np.array([[0.20159089911030326, 0.1511690472144792, 0.6728920492314768],
                  [0.1511690472144792, 0.7590065773804078, 0.6190579683767063],
                  [0.6728920492314768, 0.6190579683767063, 0.7580675083914328]])
    U = StepGraphon(B, [0.5663039613061325, 0.07581216289541343, 0.35788387579845404])
    r = delta2_distance(U, U.relabel([1, 2, 0]))
    assert r.lower <= r.upper
    assert r.lower_bounds["degrees"] == 0.0


@pytest.mark.parametrize(
    "kw,err,match",
    [
        (dict(rank=0), ValueError, "rank must be an integer >= 2"),
        (dict(rank=1), ValueError, "rank must be an integer >= 2"),
        (dict(rank=-3), ValueError, "rank"),
        (dict(rank=2.5), TypeError, "rank"),
        (dict(rank=True), TypeError, "rank"),
        (dict(n_rounding=0), ValueError, "n_rounding must be an integer >= 1"),
        (dict(n_rounding=4.0), TypeError, "n_rounding"),
        (dict(max_iter=0), ValueError, "max_iter must be an integer >= 1"),
        (dict(tol=0.0), ValueError, "tol must be a positive"),
        (dict(tol=-1e-3), ValueError, "tol"),
        (dict(tol=float("nan")), ValueError, "tol"),
        (dict(tol="1e-7"), TypeError, "tol"),
        (dict(exact_max_blocks=27), ValueError, "exact_max_blocks"),
        (dict(exact_max_blocks=1.5), TypeError, "exact_max_blocks"),
    ],
)
def test_sdp_options_are_validated(kw, err, match):
    D = np.array([[1.0, -1.0], [-1.0, 1.0]])
    with pytest.raises(err, match=match):
        cut_norm(D, method="sdp", rng=0, **kw)


def test_sdp_smallest_rank_still_brackets():
    rng = np.random.default_rng(11)
    D = rng.normal(size=(8, 8))
    D = (D + D.T) / 2
    exact = cut_norm(D, method="exact")
    r = cut_norm(D, method="sdp", rank=np.int64(2), rng=0)
    assert r.info["rank"] == 2
    assert r.lower <= exact.upper and exact.lower <= r.upper
    assert r.lower > 0.5 * exact.lower  # a real bracket, not nonsense


# ------------------------------------------------------------ against a constant (issue 12)
def test_cut_distance_against_a_constant_is_the_cut_norm_of_the_difference():
    """delta_cut(K_{1/2,1/2}, 1/2) = ||K - 1/2||_cut = 1/8 (S = T = one part); the bracket was
    [1/24, 1/8] from the counting lemma for K3 and the identity alignment."""
    from graphonflow.graphons import complete_bipartite

    K = complete_bipartite(0.5)
    for c in (0.5, constant(0.5), np.float64(0.5), StepGraphon(np.full((3, 3), 0.5), [0.2, 0.3, 0.5])):
        for r in (cut_distance(K, c), cut_distance(c, K)):
            assert r.alignment == "constant"
            assert r.lower == pytest.approx(0.125, rel=1e-14) and r.upper == pytest.approx(0.125, rel=1e-14)
            assert r.lower <= 0.125 <= r.upper
            assert r.lower_bounds["t(K3)"] == pytest.approx(1 / 24, rel=1e-10)  # the old lower end
            assert r.delta2_upper == pytest.approx(0.5, rel=1e-14)
    # a 3-block kernel against a constant: the cut norm of the difference, exactly
    U = sbm([[0.9, 0.1, 0.3], [0.1, 0.5, 0.6], [0.3, 0.6, 0.2]], [0.2, 0.5, 0.3])
    r = cut_distance(U, 0.4)
    cn = cut_norm(U, 0.4)
    assert (r.lower, r.upper) == (cn.lower, cn.upper)
    assert r.upper == pytest.approx(brute_force_cut_norm(StepGraphon(U.values - 0.4, U.widths)), rel=1e-14)
    d2 = delta2_distance(K, 0.5)
    assert d2.lower == pytest.approx(0.5, rel=1e-11) and d2.upper == pytest.approx(0.5, rel=1e-14)


def test_numbers_are_constant_graphons_in_the_distance_functions():
    X = np.random.default_rng(1).random((30, 30))
    A = (X + X.T) / 2
    r, want = cut_norm(A, 0.5, rng=0), cut_norm(A, np.full((30, 30), 0.5), rng=0)
    assert r.method == want.method == "sdp"  # same sets; widths from the overlay differ by rounding
    assert r.lower == pytest.approx(want.lower, rel=1e-13) and r.upper == pytest.approx(want.upper, rel=1e-13)
    assert cut_norm(0.3).lower == pytest.approx(0.3, rel=1e-14)
    assert l2_distance(constant(0.5), 0.2) == pytest.approx(0.3, rel=1e-14)
    assert l2_distance(mean_xy(), 0.5) == pytest.approx(np.sqrt(1 / 24), rel=1e-10)  # Var((x + y)/2)
    with pytest.raises(TypeError, match=r"^V must be .* or a number \(a constant graphon\); got a bool"):
        cut_norm(A, True)
    with pytest.raises(ValueError, match=r"^W is the number inf; a constant graphon must be finite"):
        cut_distance(A, float("inf"))
    with pytest.raises(TypeError, match="got float"):  # elsewhere a number is not a graph
        hom_density("K3", 0.5)


def test_weight_keyword_reaches_the_reader():
    import networkx as nx

    G = nx.Graph()
    G.add_edge(0, 1, weight=3.0)
    G.add_edge(1, 2, weight=2.0)
    A01 = nx.to_numpy_array(G, weight=None)
    Aw = nx.to_numpy_array(G)
    assert cut_norm(G, weight=None).upper == cut_norm(A01).upper
    assert cut_norm(G).upper == cut_norm(Aw).upper
    assert infinity_one_norm(G, weight=None).upper == infinity_one_norm(A01).upper
    assert cut_distance(G, 0.0, weight=None).upper == cut_norm(A01).upper
    assert l2_distance(G, 0.0, weight=None) == pytest.approx(np.sqrt(4 / 9), rel=1e-14)
    assert delta2_distance(G, 0.0, weight=None).upper == pytest.approx(np.sqrt(4 / 9), rel=1e-14)
    assert sample(G, 5, rng=0, weight=None).matrix.max() == 1.0
    assert sample(G, 5, rng=0).matrix.max() == 3.0


# ------------------------------------------------------------ the inf->1 norm (issue 12)
def brute_force_inf1(S: StepGraphon):
    w, D = S.widths, S.values
    M = w[:, None] * D * w[None, :]
    X = np.array(list(itertools.product((-1.0, 1.0), repeat=S.m)))
    return float(np.max(X @ M @ X.T))


def test_inf1_enumeration_numba_matches_numpy_twin():
    rng = np.random.default_rng(0)
    for m in (1, 2, 5, 9, 12):
        M = rng.normal(size=(m, m))
        M = M + M.T
        v1, mask1 = _enumerate_inf1_numba(M)
        v2, mask2 = _enumerate_inf1_numpy(M)
        assert v1 == pytest.approx(v2, rel=1e-12)
        for mask in (mask1, mask2):
            x = 1.0 - 2.0 * ((mask >> np.arange(m)) & 1)
            assert np.abs(x @ M).sum() == pytest.approx(v1, rel=1e-12)


@pytest.mark.parametrize("m", [1, 2, 3, 5, 7])
def test_inf1_exact_matches_brute_force_and_the_equivalence_with_the_cut_norm(m):
    rng = np.random.default_rng(100 + m)
    for signed in (True, False):
        S = random_step(rng, m, signed=signed)
        r = infinity_one_norm(S)
        want = brute_force_inf1(S)
        assert r.method == "exact" and r.lower <= want * (1 + 1e-14) and want <= r.upper * (1 + 1e-14)
        assert r.upper - r.lower <= 1e-13 * want
        # the returned signs attain the value
        assert float((S.widths * r.x) @ S.values @ (S.widths * r.y)) == pytest.approx(r.lower, rel=1e-13)
        assert set(np.unique(r.x)) <= {-1.0, 1.0} and r.x[0] == 1.0
        c = brute_force_cut_norm(S)
        assert c * (1 - 1e-13) <= want <= 4 * c * (1 + 1e-13)  # ||.||_cut <= ||.||_inf->1 <= 4 ||.||_cut


def test_inf1_extremal_cases_of_the_equivalence():
    # D = [[1, -1], [-1, 1]] on halves: inf->1 = 1 = 4 * cut norm (1/4)
    r = infinity_one_norm(np.array([[1.0, -1.0], [-1.0, 1.0]]))
    assert r.lower == pytest.approx(1.0, rel=1e-14) and r.upper == pytest.approx(1.0, rel=1e-14)
    assert r.x.tolist() == [1.0, -1.0] and r.y.tolist() == [1.0, -1.0]
    assert cut_norm(np.array([[1.0, -1.0], [-1.0, 1.0]])).upper == pytest.approx(0.25, rel=1e-14)
    # a non-negative kernel: inf->1 = cut norm = its integral
    for c in (0.3, -0.7):
        assert infinity_one_norm(c).upper == pytest.approx(abs(c), rel=1e-14)
    P = sbm([[0.9, 0.1], [0.1, 0.5]], [0.3, 0.7])
    assert infinity_one_norm(P).upper == pytest.approx(P.edge_density(), rel=1e-14)


def test_inf1_of_the_alon_naor_padding_is_four_times_the_cut_norm():
    """Appending a row and column that make all sums zero turns the cut norm into a quarter of
    the inf->1 norm, exactly: the identity the SDP route of cut_norm rests on."""
    rng = np.random.default_rng(5)
    for k in (3, 6, 9):
        M = rng.normal(size=(k, k))
        M = M + M.T
        row = M.sum(axis=1)
        Mp = np.block([[M, -row[:, None]], [-row[None, :], np.array([[row.sum()]])]])
        N = k + 1
        pad = infinity_one_norm(Mp * N**2)  # uniform widths 1/N: the matrix entries are Mp
        cut = cut_norm(M * k**2)
        assert pad.upper == pytest.approx(4 * cut.upper, rel=1e-12)


@pytest.mark.parametrize("m", [6, 10, 14])
def test_inf1_sdp_brackets_the_exact_value(m):
    rng = np.random.default_rng(m)
    S = random_step(rng, m)
    exact = infinity_one_norm(S, method="exact")
    r = infinity_one_norm(S, method="sdp", rng=0)
    assert r.method == "sdp"
    assert r.lower <= exact.upper and exact.lower <= r.upper
    assert r.upper <= 1.8 * r.lower  # within Grothendieck's constant K_G < 1.783, rounded
    assert r.info["cholesky_attempts"] >= 1 and r.info["l1_bound"] >= r.upper


def test_inf1_sdp_on_a_planted_rank_one_kernel_and_against_the_cut_norm():
    """D = s s^T for signs s: ||D||_inf->1 = (sum_i w_i |s_i|)^2 = 1 at x = y = s; with a little
    symmetric noise the planted signs stay optimal and the relaxation is tight."""
    rng = np.random.default_rng(9)
    s = np.where(rng.random(80) < 0.4, -1.0, 1.0)
    X = rng.normal(size=(80, 80))
    D = np.outer(s, s) + 0.05 * (X + X.T)
    r = infinity_one_norm(D, rng=1)
    assert r.method == "sdp" and r.info["merged_blocks"] == 80
    assert r.lower == pytest.approx(float(s @ D @ s) / 80**2, rel=1e-12)  # 0.99834
    assert r.lower <= r.upper <= 1.001 * r.lower
    np.testing.assert_array_equal(r.x * r.x[0], s * s[0])  # rounding finds the planted signs
    c = cut_norm(D, rng=1)
    assert c.lower <= r.upper and r.lower <= 4 * c.upper
    assert infinity_one_norm(D, D.copy()).upper == 0.0


def test_inf1_bad_inputs():
    from graphonflow.graphons import xy

    with pytest.raises(ValueError, match="method must be 'auto', 'exact' or 'sdp'"):
        infinity_one_norm(np.eye(2), method="best")
    with pytest.raises(ValueError, match="n_rounding must be an integer >= 1"):
        infinity_one_norm(np.eye(2), n_rounding=0)
    with pytest.raises(TypeError, match=r"^U is a continuous graphon.*block_average"):
        infinity_one_norm(xy())
    with pytest.raises(ValueError, match="exact enumeration needs at most 26 distinct blocks"):
        infinity_one_norm(np.diag(np.arange(30.0)), method="exact")

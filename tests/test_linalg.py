"""Numba kernels and BLAS wrappers against their NumPy twins."""

import numpy as np
import pytest

from graphonflow import _linalg as L


@pytest.mark.parametrize("m", [1, 5, 64, 130, 1000])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_mirror_kernels_match_reference(m, dtype):
    rng = np.random.default_rng(m)
    X = rng.standard_normal((m, m)).astype(dtype)
    a = X.copy()
    L._mirror_upper_from_lower(a)
    assert np.array_equal(a, L.mirror_upper_from_lower_reference(X))
    b = X.copy()
    L._mirror_lower_from_upper(b)
    assert np.array_equal(b, L.mirror_lower_from_upper_reference(X))


@pytest.mark.parametrize("m", [64, 100, 1000])
def test_symmetry_defect_matches_reference(m):
    rng = np.random.default_rng(1)
    A = rng.standard_normal((m, m))
    A = A + A.T
    A[3, m - 2] += 1e-3
    A[m - 1, 0] = -7.5
    got = L.symmetry_defect(A)
    want = L.symmetry_defect_reference(A)
    assert got[0] == pytest.approx(want[0], rel=1e-15)
    assert got[1] == want[1] and got[2] == want[2] == 0
    A[5, 9] = np.nan
    A[7, 7] = np.inf
    got = L.symmetry_defect(A)
    assert got[2] == L.symmetry_defect_reference(A)[2] == 2


@pytest.mark.parametrize("m", [50, 800, 1600])  # gemm, syrk and split-syrk branches
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_sym_square_and_gemm(m, dtype):
    rng = np.random.default_rng(2)
    X = rng.standard_normal((m, m)).astype(dtype)
    Y = rng.standard_normal((m, m)).astype(dtype)
    S = L.sym_square(0.5, X)
    assert S.dtype == dtype and S.flags.c_contiguous
    assert np.array_equal(S, S.T)
    tol = 1e-10 if dtype == np.float64 else 2e-3
    assert np.allclose(S, 0.5 * X.astype(float) @ X.T.astype(float), atol=tol * m)
    Xs = (X + X.T) / 2
    S2 = L.sym_square(1.0, Xs, symmetric=True)
    assert np.array_equal(S2, S2.T)
    assert np.allclose(S2, Xs.astype(float) @ Xs.astype(float), atol=tol * m)
    G = L.gemm(2.0, X, Y)
    assert np.allclose(G, 2.0 * X.astype(float) @ Y.astype(float), atol=tol * m)


@pytest.mark.parametrize("m", [301, 1000, 2500])
def test_sym_square_blocks_above_syrk_max(m, monkeypatch):
    """Above SYRK_MAX rows the square is assembled from blocks (OpenBLAS' syrk crashes on
    products over ~2^31 bytes); with a small cap every branch of the recursion runs here."""
    monkeypatch.setattr(L, "SYRK_MAX", 150)
    rng = np.random.default_rng(3)
    X = rng.standard_normal((m, m))
    S = L.sym_square(0.25, X)
    assert S.flags.c_contiguous and np.array_equal(S, S.T)
    np.testing.assert_allclose(S, 0.25 * X @ X.T, rtol=0, atol=1e-10 * m)
    Xs = (X + X.T) / 2
    S2 = L.sym_square(1.0, Xs, symmetric=True)
    assert np.array_equal(S2, S2.T)
    np.testing.assert_allclose(S2, Xs @ Xs, rtol=0, atol=1e-10 * m)
    # a density computed through the blocked path equals the ordinary one
    import graphonflow as gf

    A = np.abs(Xs) / np.abs(Xs).max()
    monkeypatch.setattr(L, "SYRK_MAX", 10**9)
    want = gf.hom_density("C5", A)
    monkeypatch.setattr(L, "SYRK_MAX", 150)
    assert gf.hom_density("C5", A) == pytest.approx(want, rel=1e-12)

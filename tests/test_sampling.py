"""W-random graphs (graphonflow.sampling)."""

import numpy as np
import pytest

from graphonflow.graphons import mean_xy, sbm, xy
from graphonflow.sampling import GraphSample, sample


def test_reproducible_with_seed():
    a = sample(xy(), 30, rng=5, kind="simple")
    b = sample(xy(), 30, rng=5, kind="simple")
    c = sample(xy(), 30, rng=6, kind="simple")
    assert isinstance(a, GraphSample)
    assert np.array_equal(a.matrix, b.matrix) and np.array_equal(a.latent, b.latent)
    assert not np.array_equal(a.latent, c.latent)
    g = np.random.default_rng(3)
    d = sample(xy(), 30, rng=g)
    e = sample(xy(), 30, rng=np.random.default_rng(3))
    assert np.array_equal(d.matrix, e.matrix)


def test_weighted_and_simple_structure():
    A, x = sample(mean_xy(), 40, rng=0, kind="weighted")
    assert np.allclose(A, 0.5 * (x[:, None] + x[None, :]))  # diagonal included
    B, y = sample(mean_xy(), 40, rng=0, kind="simple")
    assert set(np.unique(B)) <= {0.0, 1.0}
    assert np.array_equal(B, B.T) and np.all(np.diag(B) == 0)
    assert np.array_equal(x, y)  # same seed, same latent positions


def test_sort_labels():
    _, x = sample(xy(), 200, rng=1, sort_labels=True)
    assert np.all(np.diff(x) >= 0)
    A, z = sample(xy(), 200, rng=1, sort_labels=False)
    assert not np.all(np.diff(z) >= 0)
    assert np.array_equal(np.sort(z), x)  # same draws, only the order differs
    assert np.allclose(A, np.outer(z, z))


def test_step_graphon_block_frequencies():
    W = sbm([[1.0, 0.0], [0.0, 1.0]], [0.25, 0.75])
    A, x = sample(W, 1500, rng=2)
    frac = np.mean(x < 0.25)
    assert abs(frac - 0.25) < 0.05
    assert np.array_equal(A, (x[:, None] < 0.25) == (x[None, :] < 0.25))


def test_expected_injective_densities():
    # E t_inj(F, G(n, W)) = t(F, W); xy: t(K2) = 1/4, t(P3) = 1/12, t(K3) = 1/27
    n, reps = 40, 150
    rng = np.random.default_rng(11)
    k2, p3, k3 = [], [], []
    for _ in range(reps):
        A, _ = sample(xy(), n, rng=rng, kind="simple")
        d = A.sum(axis=1)
        k2.append(A.sum() / (n * (n - 1)))
        p3.append(np.sum(d * (d - 1)) / (n * (n - 1) * (n - 2)))
        k3.append(np.trace(A @ A @ A) / (n * (n - 1) * (n - 2)))
    for vals, exact in ((k2, 1 / 4), (p3, 1 / 12), (k3, 1 / 27)):
        vals = np.asarray(vals)
        se = vals.std(ddof=1) / np.sqrt(reps)
        assert abs(vals.mean() - exact) < 4 * se + 1e-12, (vals.mean(), exact, se)


def test_bad_inputs():
    with pytest.raises(ValueError):
        sample(xy(), 0)
    with pytest.raises(ValueError):
        sample(xy(), 5, kind="bernoulli")
    with pytest.raises(ValueError):
        sample(np.array([[2.0, 0.0], [0.0, 1.0]]), 10, rng=0, kind="simple")
    with pytest.raises(ValueError):
        sample(np.array([[0.1, 0.2], [0.3, 0.1]]), 10)
    with pytest.raises(TypeError):
        sample("xy", 10)


def test_non_symmetric_function_is_an_error():
    """W(x, y) = x is not a graphon: no silent symmetrisation to (x + y) / 2."""
    from graphonflow.graphons import Graphon

    for W in (lambda x, y: x, Graphon(lambda x, y: x), lambda x, y: x * y + 1e-6 * (x - y)):
        for kind in ("weighted", "simple"):
            with pytest.raises(ValueError, match="not symmetric"):
                sample(W, 4, rng=0, kind=kind)
    # symmetric up to rounding is fine, and the matrix is exactly symmetric
    A, x = sample(lambda x, y: (x + y) / 3 + (y + x) / 3, 50, rng=2)
    assert np.array_equal(A, A.T)
    np.testing.assert_allclose(A, (2 / 3) * (x[:, None] + x[None, :]), rtol=1e-15)
    # a function that overflows at the sampled points
    with pytest.raises(ValueError, match="NaN or infinite"):
        sample(lambda x, y: np.where(x + y > 0, np.inf, 0.0), 5, rng=0)

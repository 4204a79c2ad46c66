"""The branch-free exp and log of graphonflow._vecmath against numpy's, over their whole domains."""

import numpy as np
import pytest

from graphonflow._vecmath import EXP_MAX, _vexp_array, _vlog_array


def _ulps(got, ref):
    return np.abs(got - ref) / np.spacing(np.abs(ref))


@pytest.mark.parametrize("lo,hi", [(-EXP_MAX, EXP_MAX), (-1.0, 1.0), (-1e-9, 1e-9), (700.0, EXP_MAX)])
def test_vexp_is_within_one_ulp_of_numpy(lo, hi):
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.uniform(lo, hi, 200_000), [lo, hi, 0.0, 0.5 * np.log(2), -0.5 * np.log(2)]])
    got = np.empty_like(x)
    _vexp_array(x, got)
    assert _ulps(got, np.exp(x)).max() <= 1.02
    assert got[-3] == 1.0  # exp(0) exactly


@pytest.mark.parametrize("sample", ["wide", "near_one", "mantissa_edges"])
def test_vlog_is_within_one_ulp_of_numpy(sample):
    rng = np.random.default_rng(1)
    if sample == "wide":  # every binade of the normal range
        x = np.exp(rng.uniform(np.log(2.3e-308), np.log(1.7e308), 200_000))
        x = np.concatenate([x, [np.finfo(float).tiny, np.finfo(float).max]])
    elif sample == "near_one":  # log x ~ x - 1: the relative error must stay small
        x = 1.0 + rng.uniform(-1e-3, 1e-3, 200_000)
    else:  # both sides of the sqrt(2) switch, and exact powers of two
        x = np.concatenate([np.sqrt(2.0) * (1 + rng.uniform(-1e-12, 1e-12, 1000)), 2.0 ** np.arange(-1000, 1000)])
    x = x[x != 1.0]
    got = np.empty_like(x)
    _vlog_array(x, got)
    assert _ulps(got, np.log(x)).max() <= 1.0
    one = np.empty(1)
    _vlog_array(np.ones(1), one)
    assert one[0] == 0.0

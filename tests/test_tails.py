"""Upper tails: the Lubetzky-Zhao boundary for d-regular H and the constrained solver (issue 12, item 18)."""

import math

import numpy as np
import pytest

import graphonflow as gf
from graphonflow.tails import lz_boundary, rate_hp, upper_tail


def psi(x, p, d):
    return rate_hp(np.asarray(x) ** (1.0 / d), p)


# ------------------------------------------------------------------ the boundary
def test_lz_triangles_p_tenth_has_levels_quarter_and_three_quarters():
    lz = lz_boundary("K3", 0.1)
    assert (lz.d, lz.e) == (2, 3)
    assert lz.levels == pytest.approx((0.25, 0.75), abs=1e-12)
    # delta = (u/p)^3 - 1: 2.5^3 - 1 and 7.5^3 - 1
    assert lz.deltas == pytest.approx((14.625, 420.875), rel=1e-12)


@pytest.mark.parametrize("H,p", [("K3", 0.05), ("K4", 0.1), ("K4", 0.05), ("K3,3", 0.02)])
def test_lz_levels_are_a_double_tangent_below_psi(H, p):
    """The line through (u_-^d, psi) and (u_+^d, psi) touches psi there and lies below it
    everywhere on [p^d, 1]: it is the straight piece of the convex minorant."""
    lz = lz_boundary(H, p)
    d = lz.d
    x1, x2 = lz.levels[0] ** d, lz.levels[1] ** d
    y1, y2 = psi(x1, p, d), psi(x2, p, d)
    m = (y2 - y1) / (x2 - x1)
    assert m == pytest.approx(lz.slope, rel=1e-9)
    x = np.linspace(p**d, 1 - 1e-12, 400001)
    gap = psi(x, p, d) - (y1 + m * (x - x1))
    assert gap.min() > -1e-12
    # ... and psi itself is not convex between the two levels: the chord is strictly below it
    inside = (x > x1 + 1e-3 * (x2 - x1)) & (x < x2 - 1e-3 * (x2 - x1))
    assert gap[inside].min() > 0


def test_lz_matches_a_grid_convex_hull_for_triangles():
    """The old example's method: the lower hull of (x, h_p(sqrt x)) on a grid, first gap."""
    p = 0.05
    x = np.linspace(p * p, 1 - 1e-12, 200001)
    y = psi(x, p, 2)
    hull = [0]
    for i in range(1, len(x)):
        while len(hull) >= 2:
            a, b = hull[-2], hull[-1]
            if (x[b] - x[a]) * (y[i] - y[a]) - (y[b] - y[a]) * (x[i] - x[a]) <= 0:
                hull.pop()
            else:
                break
        hull.append(i)
    hull = np.array(hull)
    g = np.flatnonzero(np.diff(hull) > 1)[0]
    lz = lz_boundary("K3", p)
    assert math.sqrt(x[hull[g]]) == pytest.approx(lz.levels[0], abs=2e-5)
    assert math.sqrt(x[hull[g + 1]]) == pytest.approx(lz.levels[1], abs=2e-5)
    assert lz.deltas[0] == pytest.approx(2.530031, abs=1e-6)
    assert lz.levels == pytest.approx((0.0761312, 0.9238688), abs=1e-7)  # quoted in docs/tutorials.md
    assert lz_boundary("K4", 0.1).levels == pytest.approx((0.1073756, 0.9894887), abs=1e-7)


def test_lz_levels_depend_on_d_and_deltas_on_e():
    """C5 and K3 are both 2-regular: same levels, deltas (u/p)^5 - 1 instead of (u/p)^3 - 1."""
    a, b = lz_boundary("K3", 0.05), lz_boundary("C5", 0.05)
    assert a.levels == b.levels
    assert b.deltas == pytest.approx(tuple((u / 0.05) ** 5 - 1 for u in b.levels), rel=1e-12)
    assert b.is_symmetric(7.0) and not b.is_symmetric(7.5)


def test_lz_no_band_is_a_result_with_a_reason_not_an_index_error():
    pc = 1 / (1 + math.e**2)
    lz = lz_boundary("K3", 0.2)
    assert lz.levels is None and lz.deltas is None and not lz.has_band
    assert lz.p_critical == pytest.approx(pc, rel=1e-15)
    assert lz.reason == ("no symmetry-breaking band: p = 0.2 >= p_d = 0.119203 for d = 2, so psi(x) = "
                         "h_p(x^(1/2)) is convex and the constant is optimal for every delta")
    assert lz.is_symmetric(1e6)
    assert lz_boundary("K3", pc * (1 - 1e-6)).has_band and not lz_boundary("K3", pc * (1 + 1e-6)).has_band
    one = lz_boundary("K2", 0.01)
    assert not one.has_band and "1-regular" in one.reason


def test_lz_rejects_irregular_patterns_and_bad_p():
    with pytest.raises(ValueError, match=r"lz_boundary: H = P3 has degrees \[1, 2\]; the Lubetzky-Zhao boundary"):
        lz_boundary("P3", 0.1)
    with pytest.raises(ValueError, match="H = E2 has no edges"):
        lz_boundary("E2", 0.1)
    with pytest.raises(ValueError, match=r"p must lie in \(0, 1\), got 1.5"):
        lz_boundary("K3", 1.5)
    pc = 1 / (1 + math.e**2)
    with pytest.raises(ValueError, match=r"of p_d = 0.1192.*too narrow to resolve in double precision"):
        lz_boundary("K3", pc * (1 - 1e-13))


# ------------------------------------------------------------------ the solver
def test_symmetric_region_returns_the_constant_with_its_exact_rate():
    p, delta = 0.05, 2.0
    res = upper_tail("K3", p, delta, widths=[1e-5, 1e-3, 0.1])
    r = (1 + delta) ** (1 / 3) * p
    assert res.symmetric and res.best is None and res.gain == 0.0
    assert res.W.m == 1 and float(res.W.values[0, 0]) == pytest.approx(r, rel=1e-15)
    assert res.rate == pytest.approx(0.5 * float(rate_hp(r, p)), abs=1e-8)
    assert res.rate == pytest.approx(gf.RateFunction(p).value(res.W), rel=1e-12)  # the package's I_p
    # every structured start ended at the constant or at something worse
    assert all(run.rate >= res.constant_rate * (1 - 1e-9) for run in res.runs if run.converged)
    assert res.lz.is_symmetric(delta)


def test_k4_symmetric_region_with_a_target_near_1e6():
    """t(K4) = (1 + delta) 1e-6: the old penalty 50/target was negligible here."""
    res = upper_tail("K4", 0.1, 0.4, widths=[1e-6, 1e-4, 1e-2])
    assert res.target == pytest.approx(1.4e-6, rel=1e-12)
    assert res.symmetric
    assert res.rate == pytest.approx(0.5 * float(rate_hp(1.4 ** (1 / 6) * 0.1, 0.1)), abs=1e-8)
    assert all(run.converged and abs(run.constraint) < 1e-12 for run in res.runs)


@pytest.mark.parametrize("H,p,delta", [("K3", 0.05, 3.0), ("K4", 0.1, 1.0)])
def test_broken_region_finds_a_feasible_structured_graphon_with_lower_rate(H, p, delta):
    res = upper_tail(H, p, delta)
    assert not res.symmetric and not res.lz.is_symmetric(delta)
    W = res.W
    assert W.m == 2 and np.ptp(W.values) > 0.5  # a hub: near-complete hub rows, background below r
    target = (1 + delta) * p ** gf.as_pattern(H).n_edges
    assert gf.hom_density(H, W) >= target * (1 - 1e-12)
    assert res.rate == pytest.approx(gf.RateFunction(p).value(W), rel=1e-12)
    assert res.rate < res.constant_rate * (1 - 1e-3)
    assert res.best.local_min and res.best.kkt_residual < 1e-10
    assert res.best.start.startswith("hub(") and res.W.values[0, 1] > 0.9


# the boundary: the constant is optimal just outside LZ's band and beaten just inside it
CASES = [("K3", 0.05, "lower", 0.01), ("K3", 0.05, "upper", 0.1), ("K3", 0.1, "lower", 0.01),
         ("K3", 0.1, "upper", 0.1), ("K4", 0.1, "lower", 0.01), ("K4", 0.1, "upper", 0.1),
         ("K4", 0.05, "lower", 0.01)]


@pytest.mark.parametrize("H,p,end,eps", CASES)
def test_numerical_boundary_matches_lubetzky_zhao(H, p, end, eps):
    """Lower end: the constant wins at r = u_-(1 - eps) and loses at u_-(1 + eps) (eps = 1%).
    Upper end: 1 - r = (1 - u_+)(1 +- eps) (eps = 10% of the distance to 1)."""
    lz = lz_boundary(H, p)
    u_lo, u_hi = lz.levels
    if end == "lower":
        outside, inside = u_lo * (1 - eps), u_lo * (1 + eps)
    else:
        outside, inside = 1 - (1 - u_hi) * (1 - eps), 1 - (1 - u_hi) * (1 + eps)
    sym = upper_tail(H, p, lz.delta_of(outside))
    brk = upper_tail(H, p, lz.delta_of(inside))
    assert sym.symmetric, (H, p, end, sym.best)
    assert not brk.symmetric and brk.gain > 1e-7 and brk.best.local_min
    # which hub wins: high just past the lower end, low (a few sparse vertices) before the upper
    level = brk.W.values[0, 0]
    assert level > 0.99 if end == "lower" else level < 2 * p
    if (H, p, end) == ("K4", 0.05, "lower"):
        assert brk.W.widths[0] < 1e-5  # the winning hub is narrower than 1e-5: default widths reach 1e-7


def test_k4_upper_band_end_is_0989_at_p_tenth():
    """The audit: small high hubs stopped beating the constant at r = 0.900; LZ's upper end is
    u_+ = 0.98949.  Low hubs beat it at r = 0.988 and nothing does at r = 0.9905."""
    lz = lz_boundary("K4", 0.1)
    assert lz.levels[1] == pytest.approx(0.989489, abs=1e-6)
    for r in (0.95, 0.988):
        res = upper_tail("K4", 0.1, lz.delta_of(r), families=["hub"])
        assert not res.symmetric and res.W.values[0, 0] < 0.11, r  # the low hub
    assert upper_tail("K4", 0.1, lz.delta_of(0.9905), families=["hub"]).symmetric
    # high hubs alone (both levels high, as in the old triangle script) miss this end of the band
    for r in (0.95, 0.988):
        assert upper_tail("K4", 0.1, lz.delta_of(r), families=["hub"], levels=(0.9989, 0.9989)).symmetric


def test_the_audits_triangle_case_just_past_the_boundary():
    """p = 0.1, delta = 14.75 (r = 1.0028 u_-): the old best_two_block died on an AssertionError."""
    res = upper_tail("K3", 0.1, 14.75)
    assert not res.lz.is_symmetric(14.75) and not res.symmetric
    assert 0 < res.gain < 1e-5 and res.best.local_min and res.best.constraint >= -1e-12


def test_runs_record_starts_and_user_starts_of_any_size():
    B = np.array([[0.9, 0.9, 0.2], [0.9, 0.3, 0.1], [0.2, 0.1, 0.1]])
    res = upper_tail("K3", 0.05, 3.0, widths=[1e-4], families=["hub"], refine=False,
                     starts=[gf.StepGraphon(B, [1e-4, 0.3, 0.7 - 1e-4])])
    labels = [run.start for run in res.runs]
    assert labels == ["hub(s=0.0001, b=0.9079)", "hub(s=0.0001, b=0.05)", "start 0"]
    user = res.runs[-1]
    assert user.W.m == 3 and user.converged and abs(user.constraint) < 1e-12
    assert np.array_equal(user.B0, B)
    # the distinct minima are converged local minima, lowest rate first
    rates = [mn.rate for mn in res.minima]
    assert rates == sorted(rates) and all(mn.local_min for mn in res.minima)


def test_irregular_patterns_are_solved_without_a_boundary():
    res = upper_tail("P3", 0.05, 3.0, widths=[1e-3, 0.1], refine=False)
    assert res.lz is None
    assert res.rate <= res.constant_rate
    assert gf.hom_density("P3", res.W) >= res.target * (1 - 1e-12)


@pytest.mark.parametrize("kwargs,message", [
    (dict(H="K3", p=0.05, delta=0.0), "delta must be finite and > 0, got 0.0"),
    (dict(H="K3", p=0.5, delta=8.0), (r"the target \(1 \+ delta\) p\^3 = 1.125 is >= 1, which no graphon other "
                                      r"than W = 1 reaches; need delta < p\^-3 - 1 = 7")),
    (dict(H="E3", p=0.5, delta=1.0), "H = E3 has no edges"),
    (dict(H="K3", p=0.05, delta=1.0, widths=[0.0]), r"widths must lie in \(0, 1\), got 0.0"),
    (dict(H="K3", p=0.05, delta=1.0, families=["star"]), r"families must be among \('hub', 'clique'\), got 'star'"),
    (dict(H="K3", p=0.05, delta=1.0, starts=["hub"]),
     r"starts\[0\] must be a StepGraphon, a matrix or a pair \(B, w\), got str"),
    (dict(H="K3", p=0.05, delta=1.0, starts=[np.eye(2)]), r"starts\[0\]: block values must lie strictly inside"),
    (dict(H="K3", p=0.05, delta=1.0, starts=[(np.eye(2), [0.5, 0.5])]),
     r"starts\[0\]: block values must lie strictly inside \(0, 1\)"),
])
def test_bad_input_is_a_clear_value_error(kwargs, message):
    with pytest.raises(ValueError, match=message):
        upper_tail(**kwargs)

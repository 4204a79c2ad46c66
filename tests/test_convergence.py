"""Convergence studies: finite-n flows against the reference graphon flow."""

import numpy as np
import pytest

from graphonflow import EdgeDensity, Entropy, HomDensity
from graphonflow.convergence import _fit_rate, convergence_study
from graphonflow.graphons import constant, mean_xy


def test_fit_rate_recovers_exponent():
    ns = np.array([50, 100, 200, 400])
    y = (3.0 * ns ** -0.5)[:, None] * np.ones((1, 2))
    r, s = _fit_rate(ns, y)
    assert r == pytest.approx(-0.5, abs=1e-12)
    assert s < 1e-10
    noisy = y * np.exp(np.array([[0.1, -0.1], [-0.05, 0.05], [0.02, -0.02], [0.1, -0.1]]))
    r, s = _fit_rate(ns, noisy)
    assert abs(r + 0.5) < 0.1 and 0 < s < 0.1


def test_constant_start_has_zero_distance():
    # weighted samples of a constant graphon are the constant matrix; the finite flows and the
    # reference solve the same ODE p' = -(3p^2 - 1), so every distance is (numerically) zero
    F = HomDensity("K3") - EdgeDensity()
    s = convergence_study(F, constant(0.3), [10, 20], 1.0, dt=0.05, resolution=4, rng=0)
    assert np.all(s.upper < 1e-9)
    assert np.all(s.lower <= s.upper + 1e-15)
    assert np.all(s.resolution_gap < 1e-12)
    p = s.reference[-1].values[0, 0]
    assert 0.3 < p < 1 / np.sqrt(3)


def test_bracket_shapes_reproducibility_and_rate():
    F = HomDensity("K3") - EdgeDensity() + 0.1 * Entropy()
    kw = dict(times=[0.0, 0.4], dt=0.05, resolution=16, seeds=2)
    a = convergence_study(F, mean_xy(), [16, 32, 64], 0.4, rng=7, **kw)
    b = convergence_study(F, mean_xy(), [16, 32, 64], 0.4, rng=7, **kw)
    assert a.upper.shape == a.lower.shape == a.delta2_upper.shape == (3, 2, 2)
    assert np.array_equal(a.upper, b.upper) and np.array_equal(a.lower, b.lower)
    assert np.all(a.lower <= a.upper + 1e-12)
    assert np.all(a.upper > 0)
    # the cut distance never exceeds the L2 distance at the same alignment (up to certificate slack)
    assert np.all(a.upper <= a.delta2_upper * 1.2 + 1e-12)
    assert np.all(np.isfinite(a.rate)) and a.rate.shape == (2,)
    assert all(st == "t1" for st in a.statuses)
    assert "rate" in a.table()


def test_bad_arguments():
    F = HomDensity("K3")
    with pytest.raises(ValueError, match="ns"):
        convergence_study(F, mean_xy(), [], 1.0, dt=0.1)
    with pytest.raises(ValueError, match="times"):
        convergence_study(F, mean_xy(), [10], 1.0, dt=0.1, times=[2.0])
    with pytest.raises(ValueError, match="kind"):
        convergence_study(F, mean_xy(), [10], 1.0, dt=0.1, kind="dense")


def test_rate_fit_ignores_rounding_level_distances():
    from graphonflow.convergence import RATE_FLOOR, _fit_rate

    ns = np.array([10, 20, 40, 80])
    y = (3.0 * ns ** -0.5)[:, None] * np.array([[1.0, 1.1]])
    r, se = _fit_rate(ns, y)
    assert r == pytest.approx(-0.5, abs=1e-12) and 0 < se < 0.05  # seeds differ by 10%: residuals
    # flows that all reached the same state: distances at rounding level give no rate
    r, se = _fit_rate(ns, np.full((4, 2), 3e-16))
    assert np.isnan(r) and np.isnan(se)
    # points at or below the floor are left out, the others still fit
    y2 = y.copy()
    y2[0] = RATE_FLOOR / 2
    assert _fit_rate(ns, y2)[0] == pytest.approx(-0.5, abs=1e-12)


def test_same_seed_same_samples_whatever_the_functional():
    """Samples come from their own streams: two functionals with one seed start from the same
    graphs (so their t = 0 brackets agree exactly), and a rerun reproduces everything."""
    from graphonflow.graphons import ring

    kw = dict(times=[0.0, 0.5], dt=0.25, resolution=8, seeds=2, rng=11, keep_states=True)
    a = convergence_study(HomDensity("C5"), ring(4.0, 0.9), [12, 24], 0.5, **kw)
    b = convergence_study(HomDensity("C5") + 0.125 * Entropy(), ring(4.0, 0.9), [12, 24], 0.5, **kw)
    for n in (12, 24):
        np.testing.assert_array_equal(a.finite_states[n][0], b.finite_states[n][0])
    np.testing.assert_array_equal(a.lower[:, :, 0], b.lower[:, :, 0])
    np.testing.assert_array_equal(a.upper[:, :, 0], b.upper[:, :, 0])
    assert not np.array_equal(a.upper[:, :, 1], b.upper[:, :, 1])  # the flows differ later
    again = convergence_study(HomDensity("C5"), ring(4.0, 0.9), [12, 24], 0.5, **kw)
    np.testing.assert_array_equal(again.upper, a.upper)
    np.testing.assert_array_equal(again.lower, a.lower)


def test_error_control_and_the_tolerance_check():
    """rtol instead of dt: every flow picks its own steps, and the m-block reference rerun at
    rtol/10, atol/10 bounds the integration error far below the distances measured."""
    F = HomDensity("K3") - EdgeDensity() + 0.1 * Entropy()
    s = convergence_study(F, mean_xy(), [16, 32, 64], 0.4, times=[0.0, 0.2, 0.4], rtol=1e-6, resolution=16,
                          seeds=2, rng=7, check_integration=True)
    assert s.error_control and s.integrator == "dp54" and (s.rtol, s.atol, s.dt) == (1e-6, 1e-9, None)
    assert s.controller == "PIDController(rtol=1e-06, atol=1e-09, norm='max')"
    assert s.integration_check == "rtol=1e-06, atol=1e-09 vs rtol/10, atol/10 (dp54)"
    gap = s.tolerance_cut_gap
    assert gap is s.integration_cut_gap and s.time_step_cut_gap is None
    assert gap.shape == (3,) and gap[0] == 0.0 and np.all(gap[1:] > 0)
    smallest = s.upper.mean(axis=1).min(axis=0)
    assert np.all(gap < 1e-3 * smallest), (gap, smallest)  # about 1e-9 next to distances of 1e-2
    assert np.all(gap < 1e-8)
    assert all(st == "t1" for st in s.statuses) and len(s.statuses) == 2 + 3 * 2
    assert "tol/10" in s.table() and "integration check: rtol=1e-06" in s.table()
    # a fixed-step study of the same flows: first order, so at dt = 0.01 its dt/2 check is orders
    # of magnitude above the tolerance check
    f = convergence_study(F, mean_xy(), [16, 32, 64], 0.4, times=[0.0, 0.2, 0.4], dt=0.01, resolution=16,
                          seeds=2, rng=7, check_time_step=True)
    assert not f.error_control and f.integrator == "prox" and f.rtol is None and f.dt == 0.01
    assert f.integration_check == "dt=0.01 vs dt/2 (prox)" and f.tolerance_cut_gap is None
    assert f.time_step_cut_gap is f.integration_cut_gap and f.time_step_cut_gap[0] == 0.0
    assert np.all(f.time_step_cut_gap[1:] > 1e3 * gap[1:])
    np.testing.assert_array_equal(f.upper[:, :, 0], s.upper[:, :, 0])  # same samples, same t = 0


def test_save_times_without_zero():
    """Regression: a flow always saves t = 0; with measured and curve times that do not start at
    0 the study counted saves and took the t = 0 state for the first measured time."""
    from graphonflow import flow
    from graphonflow.graphons import block_average

    F = HomDensity("K3") - EdgeDensity()
    for kw in (dict(rtol=1e-7), dict(dt=0.05)):
        s = convergence_study(F, mean_xy(), [10, 20], 0.5, times=[0.2, 0.5], curve_times=[0.1, 0.3], resolution=8,
                              rng=3, **kw)
        np.testing.assert_allclose(s.curve_times, [0.1, 0.2, 0.3, 0.5])
        r = flow(F, block_average(mean_xy(), 16), t1=0.5, save_at=s.curve_times, **kw)
        assert r.times[0] == 0.0 and len(r.times) == len(s.curve_times) + 1  # the extra t = 0
        np.testing.assert_allclose(s.reference_curve_energies, r.energies[1:], rtol=1e-12)
        np.testing.assert_allclose(s.reference_energies, r.energies[[2, 4]], rtol=1e-12)
        np.testing.assert_allclose(s.reference[0].values, r.states[2], rtol=0, atol=1e-14)
        np.testing.assert_allclose(s.reference[1].values, r.W, rtol=0, atol=1e-14)
        assert s.upper.shape == (2, 1, 2) and np.all(s.upper > 0)


def test_integration_arguments():
    F = HomDensity("K3")
    with pytest.raises(ValueError, match="give a fixed step dt= or a tolerance rtol="):
        convergence_study(F, mean_xy(), [10], 1.0)
    with pytest.raises(ValueError, match="atol needs rtol"):
        convergence_study(F, mean_xy(), [10], 1.0, atol=1e-9)
    with pytest.raises(ValueError, match="'prox' gives no error estimate"):
        convergence_study(F, mean_xy(), [10], 1.0, rtol=1e-6, integrator="prox")
    with pytest.raises(ValueError, match="dt must be positive"):
        convergence_study(F, mean_xy(), [10], 1.0, dt=-0.1)
    with pytest.raises(ValueError, match="rtol"):
        convergence_study(F, mean_xy(), [10], 1.0, rtol=-1.0)


# ------------------------------------------------------------------ rates of both bounds
def test_fit_rates_fits_both_bounds_and_flags_wide_brackets():
    from graphonflow.convergence import RESOLVED_RATIO, fit_rates

    ns = np.array([16, 32, 64, 128])
    up = np.repeat((2.0 * ns ** -0.5)[:, None, None], 3, axis=1)  # (N, seeds, T=1)
    lo = np.repeat((0.5 * ns ** -1.0)[:, None, None], 3, axis=1)
    f = fit_rates(ns, lo, up)
    assert f["rate"][0] == pytest.approx(-0.5, abs=1e-12) and f["rate_lower"][0] == pytest.approx(-1.0, abs=1e-12)
    assert f["rate_intercept"][0] == pytest.approx(np.log(2.0), abs=1e-12)
    assert f["rate_lower_intercept"][0] == pytest.approx(np.log(0.5), abs=1e-12)
    assert f["bracket_ratio"][0] == pytest.approx(4 * 128**0.5)  # the widest point: n = 128
    assert not f["rate_resolved"][0]
    # a bracket within a factor 2 everywhere is resolved; exactly 2 still is
    f = fit_rates(ns, up / RESOLVED_RATIO, up)
    assert f["rate_resolved"][0] and f["bracket_ratio"][0] == pytest.approx(2.0)
    assert f["rate_lower"][0] == pytest.approx(-0.5, abs=1e-12)
    # a zero lower bound: an infinite ratio, and the lower fit uses the other points
    lo2 = up / 1.5
    lo2[0] = 0.0
    f = fit_rates(ns, lo2, up)
    assert f["bracket_ratio"][0] == np.inf and not f["rate_resolved"][0]
    assert f["rate_lower"][0] == pytest.approx(-0.5, abs=1e-12)


def test_the_audit_case_is_unresolved():
    """Regression (issue 12): t(K3) - t(K2) from mean_xy, t1 = 5.  At t = 5 the bracket spans
    two orders of magnitude; the rate of its upper end used to be reported as the rate."""
    s = convergence_study(HomDensity("K3") - EdgeDensity(), mean_xy(), [16, 32, 64], 5.0, times=[0.0, 5.0],
                          rtol=1e-6, resolution=16, seeds=2, rng=0)
    assert s.rate_resolved.tolist() == [True, False]
    assert s.bracket_ratio[0] < 1.1 and s.bracket_ratio[1] > 100  # 1.04 and 210 when written
    assert s.lower[:, :, 1].max() < 3e-5 and s.upper[:, :, 1].min() > 1e-3
    # both exponents are reported, with their errors, and they disagree
    assert np.isfinite(s.rate_lower_stderr).all() and abs(s.rate_lower[1] - s.rate[1]) > 0.1
    assert 0 < s.rate[1] < s.rate_lower[1]  # docs/convergence.md: both bounds grow with n, the lower faster
    assert s.rate_upper is s.rate and s.rate_upper_stderr is s.rate_stderr
    table = s.table()
    assert "UNRESOLVED (ratio 210)" in table and "resolved (ratio 1.04)" in table
    assert f"lower {s.rate_lower[1]:+.3f} ± {s.rate_lower_stderr[1]:.3f}" in table


def test_table_writes_na_without_a_standard_error():
    """Regression: with two sizes and one seed there is no standard error; the table said '± nan'."""
    s = convergence_study(HomDensity("K3") - EdgeDensity(), mean_xy(), [20, 40], 0.5, rtol=1e-6, resolution=16,
                          rng=1)
    assert np.isfinite(s.rate).all() and np.isnan(s.rate_stderr).all()
    table = s.table()
    assert "nan" not in table
    assert f"upper {s.rate[0]:+.3f} ± n/a" in table


def test_restore_reuses_finished_flows_bit_for_bit():
    """Records from on_flow, given back through restore, replace the flows: same numbers, and
    neither the flow nor its distances are computed again."""
    import graphonflow.convergence as cv

    F = HomDensity("C5") + 0.125 * Entropy()
    from graphonflow.graphons import ring

    kw = dict(times=[0.0, 0.5], rtol=1e-5, resolution=8, seeds=2, rng=5, keep_states=True, check_integration=True)
    recs = {}
    full = convergence_study(F, ring(4.0, 0.9), [12, 24], 0.5, on_flow=lambda lab, d: recs.__setitem__(lab, d), **kw)
    assert sorted(recs) == sorted(["reference m=8", "reference m=16", "reference m=8 tol/10", "n=12 seed 0",
                                   "n=12 seed 1", "n=24 seed 0", "n=24 seed 1"])
    assert len(recs["n=12 seed 0"]["states"]) == 2 and recs["n=12 seed 1"]["states"] == []  # keep_states: seed 0
    some = {k: recs[k] for k in ("reference m=8", "reference m=16", "n=12 seed 0", "n=24 seed 1")}
    calls = []
    real = cv.cut_distance

    def counting(*a, **k):
        calls.append(1)
        return real(*a, **k)

    again_recs = {}
    try:
        cv.cut_distance = counting
        part = convergence_study(F, ring(4.0, 0.9), [12, 24], 0.5, restore=some.get,
                                 on_flow=lambda lab, d: again_recs.__setitem__(lab, d), **kw)
    finally:
        cv.cut_distance = real
    assert part.restored == ("reference m=8", "reference m=16", "n=12 seed 0", "n=24 seed 1")
    assert sorted(again_recs) == ["n=12 seed 1", "n=24 seed 0", "reference m=8 tol/10"]  # only the computed
    assert len(calls) == 2 * 2  # distances of the two computed finite flows at two times
    for name in ("lower", "upper", "delta2_upper", "rate", "rate_stderr", "rate_lower", "bracket_ratio",
                 "resolution_gap", "resolution_cut_gap", "integration_cut_gap", "energies", "curve_energies",
                 "curve_grad_norms", "reference_curve_energies", "reference_energies"):
        np.testing.assert_array_equal(getattr(part, name), getattr(full, name), err_msg=name)
    for n in (12, 24):
        for a, b in zip(part.finite_states[n], full.finite_states[n]):
            np.testing.assert_array_equal(a, b)
    assert part.statuses == full.statuses and part.messages == full.messages and part.controller == full.controller
    assert part.flow_wall_times[0, 0] == recs["n=12 seed 0"]["wall_time"]  # the recorded time, not a new one

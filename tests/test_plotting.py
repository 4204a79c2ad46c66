"""graphonflow.plotting: energy curves and snapshots of a flow (issue 12, item 16, second half)."""

import subprocess
import sys

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest

import graphonflow as gf
from graphonflow.plotting import plot_energy, plot_graphon, plot_snapshots


@pytest.fixture(scope="module")
def res():
    rng = np.random.default_rng(3)
    A = rng.random((6, 6))
    A = (A + A.T) / 2
    return gf.flow(gf.HomDensity("K3") - gf.EdgeDensity(), A, t1=4.0, dt=0.05, save_every=10)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_import_graphonflow_and_plotting_do_not_import_matplotlib():
    code = "import sys, graphonflow, graphonflow.plotting; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_energy_line_is_the_saved_energies(res):
    ax = plot_energy(res, label="Mantel")
    (line,) = ax.lines
    assert np.array_equal(line.get_xdata(), res.times)
    assert np.array_equal(line.get_ydata(), res.energies)
    assert line.get_label() == "Mantel"
    assert ax.get_xscale() == "linear" and ax.get_xlabel() == "graphon time t"
    assert ax.right_ax is None


def test_log_time_keeps_t0_and_grad_norms_go_on_a_second_axis(res):
    _, ax0 = plt.subplots()
    ax = plot_energy(res, ax=ax0, log_time=True, grad_norm=True)
    assert ax is ax0 and ax.get_xscale() == "symlog"
    assert ax.lines[0].get_xdata()[0] == 0.0
    (g,) = ax.right_ax.lines
    keep = res.grad_norms > 0
    assert np.array_equal(g.get_ydata(), res.grad_norms[keep])
    assert ax.right_ax.get_yscale() == "log"


def test_a_multistart_result_gives_one_labelled_line_per_run():
    ms = gf.multistart(gf.HomDensity("K3") - gf.EdgeDensity(), m=5, starts=("constant", "random"), n_random=2,
                       rng=1, t1=3.0, dt=0.05, save_every=5)
    ax = plot_energy(ms)
    assert [ln.get_label() for ln in ax.lines] == [r.label for r in ms.runs]
    for ln, run in zip(ax.lines, ms.runs):
        assert np.array_equal(ln.get_ydata(), run.result.energies)


def test_snapshots_show_the_saved_states_with_one_colourbar(res):
    fig = plot_snapshots(res, times=[0.0, 1.0, 4.0])
    panels, cbar = fig.axes[:3], fig.axes[3:]
    assert len(cbar) == 1 and cbar[0].get_ylabel() == "W(x, y)"
    want = [0, int(np.argmin(np.abs(res.times - 1.0))), len(res.times) - 1]
    for ax, i in zip(panels, want):
        (im,) = ax.images
        assert np.array_equal(np.asarray(im.get_array()), res.states[i])
        assert ax.get_title() == f"t = {res.times[i]:.4g}"
        assert im.get_clim() == (0.0, 1.0)
    assert panels[-1].images[0].colorbar is not None  # one colourbar, for the shared colour scale


def test_default_snapshots_spread_over_the_saves(res):
    fig = plot_snapshots(res, max_panels=3)
    k = len(res.times) - 1
    want = [0, round(k / 2), k]
    for ax, i in zip(fig.axes[:3], want):
        assert np.array_equal(np.asarray(ax.images[0].get_array()), res.states[i])
    assert len(fig.axes) == 4


def test_weighted_step_graphons_are_drawn_to_scale():
    W0 = gf.StepGraphon([[0.2, 0.8], [0.8, 0.3]], [0.25, 0.75])
    r = gf.flow(gf.HomDensity("K3") - gf.EdgeDensity(), W0, t1=1.0, dt=0.05)
    fig = plot_snapshots(r, colorbar=False)
    assert len(fig.axes) == 2
    mesh = fig.axes[-1].collections[0]
    assert np.array_equal(np.asarray(mesh.get_array()).reshape(2, 2), r.states[-1])
    corners = mesh.get_coordinates()
    assert np.allclose(corners[0, :, 0], [0.0, 0.25, 1.0]) and np.allclose(corners[:, 0, 1], [0.0, 0.25, 1.0])
    assert fig.axes[0].get_ylim() == (1.0, 0.0)  # y down, like a matrix


def test_plot_graphon_draws_the_final_state_in_a_given_order_with_a_colourbar(res):
    order = np.argsort(res.W.sum(axis=1))
    ax = plot_graphon(res, order=order, title="end")
    (im,) = ax.images
    assert np.array_equal(np.asarray(im.get_array()), res.W[np.ix_(order, order)])
    assert im.colorbar is not None and ax.get_title() == "end"


def test_bad_input_is_a_clear_error(res):
    with pytest.raises(ValueError, match=r"times: 5 lies outside the saved range \[0, 4\]"):
        plot_snapshots(res, times=[5.0])
    with pytest.raises(ValueError, match="max_panels must be a positive integer, got 0"):
        plot_snapshots(res, max_panels=0)
    summary = gf.flow(gf.HomDensity("K3"), np.full((3, 3), 0.5), t1=1.0, dt=0.1,
                      saveat=gf.SaveAt(every=5, fn=lambda t, B: float(B.mean())))
    with pytest.raises(TypeError, match=r"result.states\[0\] is not an \(m, m\) array of block values"):
        plot_snapshots(summary)
    with pytest.raises(TypeError, match="expected a FlowResult or a MultistartResult, got str"):
        plot_energy("energy")
    with pytest.raises(ValueError, match=r"order must be a permutation of 0..5"):
        plot_graphon(res, order=[0, 0, 1, 2, 3, 4])

"""Plots of flow results: the energy against graphon time, and heatmaps of the state.

matplotlib is imported inside each function, so ``import graphonflow`` (and importing this
module) never imports it; the functions use whatever backend matplotlib has (set
``matplotlib.use("Agg")`` first for scripts without a display).  They draw onto an axes or a
figure you give, or make new ones, and return what they drew on, so that callers can style
and save it.  The study report (:mod:`graphonflow.report`) draws its own figures.

* :func:`plot_energy`: F(W_t) at the saved times (optionally ||P DF(W_t)||_2 on a second axis);
* :func:`plot_snapshots`: the saved states W_t as heatmaps on [0, 1]^2, block widths to scale,
  with one shared colourbar;
* :func:`plot_graphon`: one graphon (matrix, StepGraphon or the final state of a flow) as a
  heatmap with its colourbar.

Examples
--------
>>> import numpy as np
>>> import graphonflow as gf
>>> from graphonflow.plotting import plot_energy, plot_snapshots
>>> res = gf.flow(gf.HomDensity("K3") - gf.EdgeDensity(), np.full((4, 4), 0.2), t1=2.0, dt=0.1,
...               save_every=5)
>>> ax = plot_energy(res)
>>> bool(np.array_equal(ax.lines[0].get_ydata(), res.energies))
True
>>> fig = plot_snapshots(res, times=[0.0, 2.0])
>>> len(fig.axes)          # two panels and the colourbar
3
"""

from __future__ import annotations

import numpy as np

__all__ = ["plot_energy", "plot_snapshots", "plot_graphon"]


def _pyplot():
    import matplotlib.pyplot as plt

    return plt


def _runs(result):
    """(label, FlowResult) pairs: one for a FlowResult, every run of a MultistartResult."""
    if hasattr(result, "runs") and hasattr(result, "best_run"):
        return [(run.label, run.result) for run in result.runs]
    if hasattr(result, "times") and hasattr(result, "energies"):
        return [(None, result)]
    raise TypeError(f"expected a FlowResult or a MultistartResult, got {type(result).__name__}")


def plot_energy(result, ax=None, *, log_time=False, grad_norm=False, label=None, **line_kwargs):
    """Plot F(W_t) against graphon time t at the saved times of a flow.

    Parameters
    ----------
    result : FlowResult or MultistartResult
        A :class:`~graphonflow.FlowResult` gives one line (x = ``result.times``,
        y = ``result.energies``); a :class:`~graphonflow.MultistartResult` one line per run,
        labelled by its start.
    ax : matplotlib Axes, optional
        Where to draw (default: a new figure).
    log_time : bool
        A logarithmic time axis.  It is a symmetric-log axis, linear below the first positive
        saved time, so that t = 0 stays on the plot.
    grad_norm : bool
        Also plot the speed ||P DF(W_t)||_2 (``result.grad_norms``, positive values) on a
        logarithmic second y axis, dashed; that axis is ``ax.right_ax``.
    label : str, optional
        The legend label of a single result's line.
    **line_kwargs
        Passed to ``ax.plot``.

    Returns
    -------
    matplotlib Axes
        The axes with the energy lines (``ax.lines[k]`` for the k-th run).
    """
    runs = _runs(result)
    if ax is None:
        _, ax = _pyplot().subplots(figsize=(5.0, 3.6))
    right = None
    tmin = np.inf
    for k, (name, res) in enumerate(runs):
        t = np.asarray(res.times, dtype=np.float64)
        E = np.asarray(res.energies, dtype=np.float64)
        lab = label if (len(runs) == 1 and label is not None) else name
        (line,) = ax.plot(t, E, label=lab, **line_kwargs)
        pos = t[t > 0]
        if pos.size:
            tmin = min(tmin, float(pos.min()))
        if grad_norm:
            if right is None:
                right = ax.twinx()
                right.set_yscale("log")
                right.set_ylabel("||P DF||₂")
            g = np.asarray(res.grad_norms, dtype=np.float64)
            keep = g > 0
            right.plot(t[keep], g[keep], ls="--", color=line.get_color(), lw=1)
    if log_time:
        ax.set_xscale("symlog", linthresh=tmin if np.isfinite(tmin) else 1.0)
    ax.set_xlabel("graphon time t")
    ax.set_ylabel("energy F(W_t)")
    if any(line.get_label() and not line.get_label().startswith("_") for line in ax.lines):
        ax.legend(fontsize=8)
    ax.right_ax = right
    return ax


def _state_array(state, where):
    A = np.asarray(state)
    if A.ndim != 2 or A.shape[0] != A.shape[1] or A.dtype.kind not in "fiub":
        raise TypeError(
            f"{where} is not an (m, m) array of block values (shape {getattr(A, 'shape', None)}); "
            "plot_snapshots needs the flow's default saves, not a SaveAt(fn=...) summary"
        )
    return A


def _heatmap(ax, B, widths, cmap, vmin, vmax):
    """Draw block values B with widths on [0, 1]^2 (y pointing down, like a matrix)."""
    m = B.shape[0]
    w = np.asarray(widths, dtype=np.float64) if widths is not None else np.full(m, 1.0 / m)
    if np.allclose(w, w[0], rtol=1e-12, atol=0.0):
        im = ax.imshow(B, cmap=cmap, vmin=vmin, vmax=vmax, extent=(0, 1, 1, 0), interpolation="nearest",
                       origin="upper")
    else:
        e = np.concatenate(([0.0], np.cumsum(w)))
        e[-1] = 1.0
        im = ax.pcolormesh(e, e, B, cmap=cmap, vmin=vmin, vmax=vmax, shading="flat")
        ax.set_xlim(0, 1)
        ax.set_ylim(1, 0)
        ax.set_aspect("equal")
    ax.set_xticks([0, 1])
    ax.set_yticks([0, 1])
    return im


def _limits(arrays, vmin, vmax):
    if vmin is not None and vmax is not None:
        return float(vmin), float(vmax)
    lo = min(float(np.min(a)) for a in arrays)
    hi = max(float(np.max(a)) for a in arrays)
    if lo >= 0.0 and hi <= 1.0:  # edge weights: the unit box
        lo, hi = 0.0, 1.0
    if hi <= lo:
        hi = lo + 1.0
    return (lo if vmin is None else float(vmin)), (hi if vmax is None else float(vmax))


def plot_snapshots(result, times=None, *, max_panels=6, cmap="viridis", vmin=None, vmax=None, colorbar=True,
                   fig=None):
    """Heatmaps of the saved states W_t of a flow, side by side, with one colourbar.

    Parameters
    ----------
    result : FlowResult
        Its ``states`` must be the block values (the default saves; not ``SaveAt(fn=...)``).
    times : sequence of float, optional
        Times to show; each panel shows the saved state nearest to the requested time and is
        titled with the saved time.  Default: up to ``max_panels`` saved states, evenly spread
        over the saves, first and last included.
    max_panels : int
    cmap : str
    vmin, vmax : float, optional
        The colour range (default: [0, 1] when every shown value lies in it, else the range of
        the shown values).
    colorbar : bool
        Draw one colourbar for all panels.
    fig : matplotlib Figure, optional
        Draw into this (empty) figure.

    Returns
    -------
    matplotlib Figure
        Panels ``fig.axes[:k]`` (each with one image whose array is the saved state shown), then
        the colourbar's axes.

    Raises
    ------
    ValueError
        If a requested time lies outside [0, final time], or ``max_panels`` < 1.
    TypeError
        If the saved states are not block-value arrays.
    """
    if not (hasattr(result, "times") and hasattr(result, "states")):
        raise TypeError(f"plot_snapshots needs a FlowResult, got {type(result).__name__}")
    ts = np.asarray(result.times, dtype=np.float64)
    if isinstance(max_panels, bool) or int(max_panels) != max_panels or max_panels < 1:
        raise ValueError(f"max_panels must be a positive integer, got {max_panels!r}")
    if times is None:
        k = min(int(max_panels), len(ts))
        idx = sorted(set(np.round(np.linspace(0, len(ts) - 1, k)).astype(int).tolist()))
    else:
        req = np.atleast_1d(np.asarray(times, dtype=np.float64))
        if req.size == 0:
            raise ValueError("times is empty")
        span = ts[-1]
        tol = 1e-12 * max(1.0, abs(span))
        idx = []
        for x in req:
            if not np.isfinite(x) or x < -tol or x > span + tol:
                raise ValueError(f"times: {x:g} lies outside the saved range [0, {span:g}]")
            idx.append(int(np.argmin(np.abs(ts - x))))
    states = [_state_array(result.states[i], f"result.states[{i}]") for i in idx]
    lo, hi = _limits(states, vmin, vmax)
    plt = _pyplot()
    k = len(idx)
    if fig is None:
        fig = plt.figure(figsize=(2.4 * k + (1.0 if colorbar else 0.3), 2.7))
    axes = fig.subplots(1, k, squeeze=False)[0]
    widths = getattr(result, "widths", None)
    im = None
    for ax, i, B in zip(axes, idx, states):
        im = _heatmap(ax, B, widths if widths is not None and len(widths) == B.shape[0] else None, cmap, lo, hi)
        ax.set_title(f"t = {ts[i]:.4g}", fontsize=10)
    if colorbar:
        fig.colorbar(im, ax=list(axes), shrink=0.85, label="W(x, y)")
    return fig


def plot_graphon(W, ax=None, *, cmap="viridis", vmin=None, vmax=None, colorbar=True, title=None, order=None):
    """One graphon as a heatmap on [0, 1]^2 (block widths to scale), with its colourbar.

    Parameters
    ----------
    W : (n, n) array, StepGraphon or FlowResult (its final state)
    ax : matplotlib Axes, optional
    cmap : str
    vmin, vmax : float, optional
        Colour range (default: [0, 1] when the values lie in it, else their range).
    colorbar : bool
    title : str, optional
    order : sequence of int, optional
        Draw the blocks in this order (e.g. the two sides of a bipartite graph together).

    Returns
    -------
    matplotlib Axes
        Its one image (``ax.images[0]`` for equal widths, else ``ax.collections[0]``) holds the
        block values drawn; the colourbar is ``image.colorbar``.

    Examples
    --------
    >>> import numpy as np
    >>> ax = plot_graphon(np.array([[0.0, 1.0], [1.0, 0.0]]), title="K2")
    >>> ax.images[0].get_array().tolist(), ax.images[0].colorbar is not None
    ([[0.0, 1.0], [1.0, 0.0]], True)
    """
    from .step import StepGraphon

    if isinstance(W, StepGraphon):
        B, w = np.asarray(W.values), np.asarray(W.widths)
    elif hasattr(W, "W") and hasattr(W, "widths"):
        B, w = np.asarray(W.W), np.asarray(W.widths)
    else:
        B = _state_array(W, "W")
        w = None
    B = _state_array(B, "W")
    if order is not None:
        order = np.asarray(order, dtype=int)
        if sorted(order.tolist()) != list(range(B.shape[0])):
            raise ValueError(f"order must be a permutation of 0..{B.shape[0] - 1}")
        B = B[np.ix_(order, order)]
        w = None if w is None else w[order]
    lo, hi = _limits([B], vmin, vmax)
    if ax is None:
        _, ax = _pyplot().subplots(figsize=(3.8, 3.2))
    im = _heatmap(ax, B, w, cmap, lo, hi)
    if colorbar:
        ax.figure.colorbar(im, ax=ax, label="W(x, y)")
    if title is not None:
        ax.set_title(title, fontsize=10)
    return ax

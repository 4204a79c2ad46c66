"""Figures, animation and a self-contained HTML report for a study (:mod:`graphonflow.study`).

Everything here imports matplotlib lazily (inside the functions), with the non-interactive
Agg backend, so ``import graphonflow`` stays free of it.

Files written into the study's directory:

* ``snapshots_f{i}.png``: heatmaps of the reference flow W_t and of the largest finite flow
  A_n(t) at the measured times, one figure per functional;
* ``energy.png``: F(W_t) and ||P DF(W_t)||_2 against t, reference and every n;
* ``cut_distance.png``: the certified cut-distance bracket against n on log-log axes, with
  the fitted power law at each measured time;
* ``flow.gif``: an animation of the reference flows;
* ``report.html``: all of it with short explanations; images are embedded as data URIs,
  so the one file can be moved or mailed on its own.
"""

from __future__ import annotations

import base64
import html
import math
from pathlib import Path

import numpy as np

from .convergence import RATE_FLOOR

__all__ = ["write_report", "write_html"]

DPI = 100


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _save(fig, d: Path, name: str) -> str:
    fig.savefig(d / name, dpi=DPI)
    _plt().close(fig)
    return name


def _snapshots(d: Path, i, cfg, study):
    plt = _plt()
    times = study.times
    n = int(study.ns[-1])
    rows = [("limit (reference)", [S.values for S in study.reference])]
    if study.finite_states and n in study.finite_states:
        rows.append((f"n = {n}", list(study.finite_states[n])))
    lo, hi = cfg.box
    fig, axes = plt.subplots(len(rows), len(times), figsize=(2.3 * len(times) + 0.8, 2.3 * len(rows) + 0.4),
                             squeeze=False)
    im = None
    for r, (name, states) in enumerate(rows):
        for k, t in enumerate(times):
            ax = axes[r, k]
            im = ax.imshow(states[k], vmin=lo, vmax=hi, cmap="viridis", origin="upper", extent=(0, 1, 1, 0),
                           interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(f"t = {t:g}", fontsize=10)
            if k == 0:
                ax.set_ylabel(name, fontsize=9)
    fig.suptitle(cfg.functionals[i][0], fontsize=11)
    fig.colorbar(im, ax=axes.ravel().tolist(), shrink=0.8, label="W(x, y)")
    return _save(fig, d, f"snapshots_f{i}.png")


def _energy(d: Path, cfg, studies):
    plt = _plt()
    nf = len(studies)
    fig, axes = plt.subplots(nf, 2, figsize=(10, 3.2 * nf), squeeze=False)
    for i, s in enumerate(studies):
        ct = s.curve_times
        ax_e, ax_g = axes[i]
        cmap = plt.get_cmap("plasma")
        for k, n in enumerate(s.ns):
            c = cmap(0.15 + 0.7 * k / max(1, len(s.ns) - 1))
            ax_e.plot(ct, s.curve_energies[k, 0], color=c, lw=1, label=f"n = {n}")
            g = s.curve_grad_norms[k, 0]
            ax_g.plot(ct[g > 0], g[g > 0], color=c, lw=1)
        ax_e.plot(ct, s.reference_curve_energies, color="k", lw=2, ls="--", label="limit")
        g = s.reference_curve_grad_norms
        ax_g.plot(ct[g > 0], g[g > 0], color="k", lw=2, ls="--")
        ax_e.set_ylabel("energy F")
        ax_g.set_ylabel("||P DF||₂")
        ax_g.set_yscale("log")
        for ax in (ax_e, ax_g):
            ax.set_xlabel("graphon time t")
            ax.set_title(cfg.functionals[i][0], fontsize=10)
        ax_e.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    return _save(fig, d, "energy.png")


def _cut(d: Path, cfg, studies):
    plt = _plt()
    nf = len(studies)
    fig, axes = plt.subplots(1, nf, figsize=(5.2 * nf, 4.2), squeeze=False)
    for i, s in enumerate(studies):
        ax = axes[0, i]
        ns = s.ns.astype(float)
        cmap = plt.get_cmap("viridis")
        plotted = False
        for k, t in enumerate(s.times):
            up = s.upper[:, :, k].mean(axis=1)
            lo = s.lower[:, :, k].mean(axis=1)
            ok = up > RATE_FLOOR  # rounding-level distances are not data (see the rate fit)
            if not np.any(ok):
                continue
            c = cmap(k / max(1, len(s.times) - 1))
            r, e = s.rate[k], s.rate_stderr[k]
            lab = f"t = {t:g}" + (f": r = {r:+.2f} ± {e:.2f}" if math.isfinite(r) and math.isfinite(e)
                                   else (f": r = {r:+.2f}" if math.isfinite(r) else ""))
            ax.plot(ns[ok], up[ok], "o-", color=c, label=lab)
            okl = ok & (lo > RATE_FLOOR)
            ax.plot(ns[okl], lo[okl], "v:", color=c, alpha=0.7)
            if math.isfinite(r):
                # the least-squares line through the upper bounds
                x = np.log(np.repeat(ns, s.upper.shape[1]))
                y = s.upper[:, :, k].reshape(-1)
                m = y > RATE_FLOOR
                a = float(np.mean(np.log(y[m]) - r * x[m]))
                xx = np.geomspace(ns[0], ns[-1], 20)
                ax.plot(xx, np.exp(a) * xx**r, "-", color=c, alpha=0.35, lw=3)
            plotted = True
        ax.set_xscale("log")
        if plotted:
            ax.set_yscale("log")
            ax.legend(fontsize=7)
        ax.set_xlabel("n")
        ax.set_ylabel("cut distance to the limit")
        ax.set_title(f"{cfg.functionals[i][0]}\n(o upper bound, v lower bound, band: fit)", fontsize=9)
    fig.tight_layout()
    return _save(fig, d, "cut_distance.png")


def _gif(d: Path, cfg, frames):
    plt = _plt()
    from matplotlib.animation import FuncAnimation, PillowWriter

    have = [(i, f) for i, f in enumerate(frames) if f is not None]
    if not have:
        return None
    lo, hi = cfg.box
    nf = len(have)
    fig, axes = plt.subplots(1, nf, figsize=(3.2 * nf, 3.4), squeeze=False)
    ims = []
    for ax, (i, (ts, fr)) in zip(axes[0], have):
        ims.append(ax.imshow(fr[0], vmin=lo, vmax=hi, cmap="viridis", extent=(0, 1, 1, 0), interpolation="nearest"))
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(cfg.functionals[i][0], fontsize=9)
    label = fig.suptitle("")
    nframes = min(len(f[1][0]) for f in have)

    def draw(k):
        for im, (_, (ts, fr)) in zip(ims, have):
            im.set_data(fr[k])
        label.set_text(f"graphon time t = {have[0][1][0][k]:.3g}")
        return ims

    anim = FuncAnimation(fig, draw, frames=nframes, blit=False)
    anim.save(d / "flow.gif", writer=PillowWriter(fps=8), dpi=72)
    plt.close(fig)
    return "flow.gif"


def write_report(d, cfg, studies, frames, summary) -> dict:
    """Write the PNG figures and the GIF into ``d``; returns {role: file name}."""
    d = Path(d)
    files = {}
    for i, s in enumerate(studies):
        files[f"snapshots_f{i}"] = _snapshots(d, i, cfg, s)
    files["energy"] = _energy(d, cfg, studies)
    files["cut_distance"] = _cut(d, cfg, studies)
    g = _gif(d, cfg, frames)
    if g:
        files["animation"] = g
    files["report"] = "report.html"
    return files


def _img(d: Path, name, alt):
    data = base64.b64encode((d / name).read_bytes()).decode("ascii")
    mime = "image/gif" if name.endswith(".gif") else "image/png"
    return f'<img src="data:{mime};base64,{data}" alt="{html.escape(alt)}">'


def _fmt(x, spec=".3g"):
    return "–" if x is None or (isinstance(x, float) and not math.isfinite(x)) else format(x, spec)


def _sampled(cfg):
    if cfg.kind == "simple":
        return "simple graphs (edges drawn with probability W<sub>0</sub>(U<sub>i</sub>, U<sub>j</sub>))"
    return "weighted graphs (A<sub>ij</sub> = W<sub>0</sub>(U<sub>i</sub>, U<sub>j</sub>))"


def _initial_text(init):
    if "graphon" in init:
        args = ", ".join(f"{k}={v!r}" for k, v in init.get("params", {}).items())
        text = f"{init['graphon']}({args})"
    else:
        text = f"file {init['file']}"
    return text + (f", clipped by {init['clip']:g}" if init.get("clip", 0) > 0 else "")


def _integrator_html(cfg):
    """The sentence that says how the flows were integrated."""
    if cfg.error_control:
        return (f"Integrator <code>{html.escape(cfg.method)}</code> under error control: every flow chooses its "
                f"own steps (a PI controller on the embedded error estimate) so that each step's local error "
                f"is at most atol + rtol&middot;|W| entry-wise, with rtol = {cfg.rtol:g} and atol = {cfg.atol:g}")
    return f"Integrator <code>{html.escape(cfg.method)}</code>, fixed step dt = {cfg.dt:g}"


def _rate_cell(r, se):
    """'r ± se', 'r' (too few sizes for an error) or 'n/a' (no fit: fewer than two sizes above rounding)."""
    if r is None or not math.isfinite(r):
        return "n/a"
    return f"{r:+.3f}" + (f" &plusmn; {se:.3f}" if se is not None and math.isfinite(se) else "")


def write_html(d, cfg, studies, summary):
    """Write ``report.html`` into ``d`` (images embedded)."""
    d = Path(d)
    files = summary["files"]
    e = html.escape
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{e(cfg.title)}</title>",
        "<style>body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;"
        "line-height:1.45;color:#222}img{max-width:100%;border:1px solid #ddd;margin:.5em 0}"
        "table{border-collapse:collapse;margin:.5em 0;font-size:.9em}td,th{border:1px solid #ccc;"
        "padding:.25em .6em;text-align:right}th{background:#f3f3f3}code{background:#f3f3f3;padding:0 .2em}"
        ".note{color:#555;font-size:.92em}</style></head><body>",
        f"<h1>{e(cfg.title)}</h1>",
        "<p>Finite graphs against the graphon limit. Each functional F is minimised by its gradient flow "
        "dW/dt = &minus;P<sub>W</sub>[DF(W)] in the box "
        f"[{cfg.box[0]:g}, {cfg.box[1]:g}], in graphon time (an n&times;n matrix flows at time scale n&sup2;, "
        "which makes its flow exactly the graphon flow of its step function). The <b>limit</b> is the flow "
        f"from the block average of W<sub>0</sub> on {2 * cfg.resolution} blocks; the <b>finite flows</b> "
        f"start from W-random {_sampled(cfg)} on n = {', '.join(map(str, cfg.ns))} vertices "
        f"({cfg.seeds} seed{'s' if cfg.seeds > 1 else ''} each, sorted latent positions). "
        f"{_integrator_html(cfg)}, up to t<sub>1</sub> = {cfg.t1:g}.</p>",
        f"<p class='note'>Initial graphon: <code>{e(_initial_text(cfg.initial))}</code>. "
        f"Total wall time {summary['wall_time']:.1f} s. Re-run with "
        "<code>graphonflow run config.toml</code>, with the <code>config.toml</code> saved next to this "
        "report.</p>",
    ]
    for i, s in enumerate(studies):
        gap = s.integration_cut_gap
        fs = summary["functionals"][i]
        if s.error_control:
            again = (f"at a ten times tighter tolerance (rtol = {s.rtol / 10:g}, atol = {s.atol / 10:g} "
                     f"instead of {s.rtol:g} and {s.atol:g})")
            gap_row = "cut gap tol vs tol/10"
        else:
            again = f"with half the step (dt = {s.dt / 2:g} instead of {s.dt:g})"
            gap_row = "cut gap dt vs dt/2"
        parts.append(f"<h2>{e(cfg.functionals[i][0])}</h2>")
        parts.append("<h3>Is the limit resolved?</h3><p>The reference flow was run at "
                     f"{cfg.resolution} and {2 * cfg.resolution} blocks and, at {cfg.resolution} blocks, once "
                     f"more {again}. The table gives certified upper bounds on the cut norm of the "
                     "differences (and the L2 difference of the two resolutions). They should be small "
                     "next to the distances measured below; the last row divides the integration gap by the "
                     "smallest distance shown at that time (&ndash; where that distance is at rounding "
                     "level, below 10<sup>&minus;12</sup>).</p>")
        parts.append("<table><tr><th>t</th>" + "".join(f"<td>{t:g}</td>" for t in s.times) + "</tr>")
        parts.append("<tr><th>cut gap m vs 2m</th>" + "".join(f"<td>{_fmt(g)}</td>" for g in s.resolution_cut_gap)
                     + "</tr>")
        parts.append("<tr><th>L2 gap m vs 2m</th>" + "".join(f"<td>{_fmt(g)}</td>" for g in s.resolution_gap)
                     + "</tr>")
        parts.append(f"<tr><th>{gap_row}</th>" + "".join(f"<td>{_fmt(g)}</td>" for g in gap) + "</tr>")
        ratio = fs.get("integration_gap_over_smallest_distance")
        ratio = [None] * len(gap) if ratio is None else [None if x is None else float(x) for x in ratio]
        parts.append("<tr><th>&hellip; / smallest distance</th>"
                     + "".join(f"<td>{_fmt(x, '.2g')}</td>" for x in ratio) + "</tr></table>")
        parts.append("<h3>Snapshots</h3><p>The limit flow (top) and the largest finite flow (bottom) at "
                     "the measured times; vertices of the finite graph are ordered by their latent positions.</p>")
        parts.append(_img(d, files[f"snapshots_f{i}"], f"snapshots of {cfg.functionals[i][0]}"))
        parts.append("<h3>Cut distance to the limit</h3><p>Certified brackets "
                     "lower &le; &delta;<sub>&#9633;</sub>(A<sub>n</sub>(t), W<sub>t</sub>) &le; upper "
                     "(mean over seeds). The lower bound comes from the counting lemma and degree "
                     "distributions and holds for every relabelling; the upper bound is a cut-norm "
                     "certificate at an explicit alignment. The last row is the exponent r of a "
                     "least-squares fit upper &asymp; C n<sup>r</sup>, with its standard error.</p>")
        parts.append("<table><tr><th>n</th>" + "".join(f"<th>t = {t:g}</th>" for t in s.times) + "</tr>")
        for k, n in enumerate(s.ns):
            cells = "".join(f"<td>[{_fmt(s.lower[k, :, j].mean())}, {_fmt(s.upper[k, :, j].mean())}]</td>"
                            for j in range(len(s.times)))
            parts.append(f"<tr><th>{n}</th>{cells}</tr>")
        parts.append("<tr><th>rate r</th>"
                     + "".join(f"<td>{_rate_cell(r, se)}</td>" for r, se in zip(s.rate, s.rate_stderr))
                     + "</tr></table>")
        parts.append("<p>Flow statuses: " + e("; ".join(fs["messages"][:3])) + (" …" if len(fs["messages"]) > 3
                                                                                  else "") + "</p>")
        parts.append(f"<p class='note'>Energy of the limit at t<sub>1</sub>: {fs['reference_final_energy']:.6g}. "
                     f"Wall time for this functional: {fs['wall_time']:.1f} s.</p>")
    parts.append("<h2>Cut distance against n</h2><p>Upper (o) and lower (v) bounds on log-log axes, with "
                 "the fitted power law at each time. Sampling alone gives distances of order n<sup>-1/2</sup> "
                 "at t = 0; the flows then carry (and may shrink) that error.</p>")
    parts.append(_img(d, files["cut_distance"], "cut distance against n"))
    parts.append("<h2>Energy and gradient norm</h2><p>Along a gradient flow the energy decreases, "
                 "dF/dt = &minus;||P DF||&sup2;; the finite flows follow the limit more closely as n grows.</p>")
    parts.append(_img(d, files["energy"], "energy and gradient-norm curves"))
    if "animation" in files:
        parts.append("<h2>Animation</h2><p>The limit flows from t = 0 to t<sub>1</sub> (frames spaced "
                     "quadratically in time, so the fast early part is visible).</p>")
        parts.append(_img(d, files["animation"], "animation of the limit flows"))
    v = summary["versions"]
    parts.append("<h2>Software</h2><p class='note'>" + e(", ".join(f"{k} {val}" for k, val in v.items()))
                 + "</p>")
    # after loading, <body data-images="k/N"> says how many of the N images decoded (checked by
    # the test suite in headless Chromium)
    parts.append("<script>window.addEventListener('load',function(){var im=document.images,k=0;"
                 "for(var i=0;i<im.length;i++){if(im[i].complete&&im[i].naturalWidth>0)k++;}"
                 "document.body.setAttribute('data-images',k+'/'+im.length);});</script></body></html>")
    (d / "report.html").write_text("\n".join(parts))

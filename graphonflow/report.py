"""Figures, animation and a self-contained HTML report for a study (:mod:`graphonflow.study`).

Everything here imports matplotlib lazily (inside the functions), with the non-interactive
Agg backend, so ``import graphonflow`` stays free of it.

Files written into the study's directory:

* ``snapshots_f{i}.png``: heatmaps of the reference flow W_t and of the largest finite flow
  A_n(t) at the measured times, one figure per functional;
* ``energy.png``: F(W_t) and ||P DF(W_t)||_2 against t (a log time axis past the first curve
  time), reference and every n;
* ``cut_distance.png``: the certified cut-distance bounds of every (n, seed) against n on
  log-log axes -- exactly the points the rates are fitted to -- with the two fitted power laws
  (upper and lower bounds) at each measured time, unresolved rates marked;
* ``flow.gif``: per functional the limit flow next to one finite flow (n = ``gif_size``), with
  a colour bar;
* ``report.html``: all of it with short explanations; images are embedded as data URIs,
  so the one file can be moved or mailed on its own.
"""

from __future__ import annotations

import base64
import html
import math
from pathlib import Path

import numpy as np

from .convergence import RATE_FLOOR, RESOLVED_RATIO, rate_text

__all__ = ["write_report", "write_html", "n_axis"]

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


def n_axis(ax, ns):
    """Label a log-scale n axis with the sizes themselves (no minor tick labels, which overlap
    as "3x10^2 4x10^2" on a short decade)."""
    from matplotlib.ticker import FixedLocator, NullFormatter, NullLocator

    ns = [int(n) for n in ns]
    ax.set_xscale("log")
    ax.xaxis.set_major_locator(FixedLocator(ns))
    ax.set_xticklabels([str(n) for n in ns])
    ax.xaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_minor_formatter(NullFormatter())
    lo, hi = min(ns), max(ns)
    ax.set_xlim(lo / 1.25, hi * 1.25)


def _time_axis(ax, ct):
    """A time axis linear up to the first positive curve time and logarithmic after it, so
    that fast early changes and a slow approach to equilibrium are both visible."""
    from matplotlib.ticker import FixedLocator, NullLocator

    pos = np.asarray(ct)[np.asarray(ct) > 0]
    if not pos.size:
        return
    lin, t1 = float(pos.min()), float(pos.max())
    ax.set_xscale("symlog", linthresh=lin, linscale=0.4)
    ax.set_xlim(0, t1)
    ticks = [0.0, lin] + [10.0**k for k in range(math.ceil(math.log10(lin)), math.floor(math.log10(t1)) + 1)] + [t1]
    keep = [0.0]
    for t in sorted(set(ticks))[1:]:  # no two labels closer than a factor 2 (they would overlap)
        if keep[-1] == 0.0 or t >= 2 * keep[-1]:
            keep.append(t)
        elif t == t1:
            keep[-1] = t1
    ax.xaxis.set_major_locator(FixedLocator(keep))
    ax.set_xticklabels([f"{t:g}" for t in keep])
    ax.xaxis.set_minor_locator(NullLocator())


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
            _time_axis(ax, ct)
            ax.set_xlabel("graphon time t (log scale past the first curve time)")
            ax.set_title(cfg.functionals[i][0], fontsize=10)
        ax_e.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    return _save(fig, d, "energy.png")


def _cut(d: Path, cfg, studies):
    plt = _plt()
    nf = len(studies)
    fig, axes = plt.subplots(1, nf, figsize=(5.6 * nf, 4.6), squeeze=False)
    for i, s in enumerate(studies):
        ax = axes[0, i]
        ns = s.ns.astype(float)
        seeds = s.upper.shape[1]
        cmap = plt.get_cmap("viridis")
        plotted = False
        # seeds side by side around each n (a few percent apart), so that they do not hide each other
        spread = np.exp(0.04 * (np.arange(seeds) - (seeds - 1) / 2)) if seeds > 1 else np.ones(1)
        for k, t in enumerate(s.times):
            up, lo = s.upper[:, :, k], s.lower[:, :, k]
            x = ns[:, None] * spread[None, :]
            ok = up > RATE_FLOOR  # rounding-level distances are not data (the fit leaves them out)
            if not np.any(ok):
                continue
            c = cmap(0.85 * k / max(1, len(s.times) - 1))  # the light yellow end is hard to see
            r, resolved = s.rate[k], bool(s.rate_resolved[k])
            lab = f"t = {t:g}"
            if math.isfinite(r):
                lab += f": upper {rate_text(r, s.rate_stderr[k], 2)}, lower {rate_text(s.rate_lower[k], s.rate_lower_stderr[k], 2)}"
                lab += "" if resolved else f" (unresolved, ratio {s.bracket_ratio[k]:.3g})"
            ax.plot(x[ok], up[ok], "o", color=c, ms=4, label=lab)
            okl = lo > RATE_FLOOR
            ax.plot(x[okl], lo[okl], "v", color=c, ms=4, mfc="none")
            xx = np.geomspace(ns[0], ns[-1], 20)
            if math.isfinite(r):  # the least-squares lines, from the fitted intercepts
                ax.plot(xx, np.exp(s.rate_intercept[k]) * xx**r, "-", color=c, alpha=0.6 if resolved else 0.3,
                        lw=1.5)
            if math.isfinite(s.rate_lower[k]):
                ax.plot(xx, np.exp(s.rate_lower_intercept[k]) * xx ** s.rate_lower[k], "--", color=c,
                        alpha=0.6 if resolved else 0.3, lw=1.5)
            plotted = True
        n_axis(ax, s.ns)
        if plotted:
            ax.set_yscale("log")
            ax.legend(fontsize=6.5)
        ax.set_xlabel("n")
        ax.set_ylabel("cut distance to the limit")
        ax.set_title(cfg.functionals[i][0], fontsize=10)
    fig.text(0.5, 0.01, "o upper and v lower bound of every seed (the points fitted); lines: least-squares fits "
             "(solid: upper, dashed: lower; faint: unresolved)", ha="center", fontsize=8)
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    return _save(fig, d, "cut_distance.png")


def _gif(d: Path, cfg, frames):
    plt = _plt()
    from matplotlib.animation import FuncAnimation, PillowWriter

    have = [(i, f) for i, f in enumerate(frames) if f is not None]
    if not have:
        return None
    lo, hi = cfg.box
    nf = len(have)
    fig, axes = plt.subplots(nf, 2, figsize=(6.4, 3.0 * nf + 0.5), squeeze=False)
    fig.subplots_adjust(left=0.02, right=0.84, bottom=0.02, top=1 - 0.55 / (3.0 * nf + 0.5), wspace=0.06,
                        hspace=0.14)
    panels = []
    im = None
    for r, (i, f) in enumerate(have):
        for c, (key, name) in enumerate((("limit", "limit"), ("finite", f"n = {f['n']}, seed 0"))):
            ax = axes[r, c]
            im = ax.imshow(f[key][0], vmin=lo, vmax=hi, cmap="viridis", extent=(0, 1, 1, 0),
                           interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(f"{cfg.functionals[i][0]}: {name}", fontsize=9)
            panels.append((im, f[key]))
    fig.colorbar(im, cax=fig.add_axes((0.87, 0.1, 0.03, 0.75)), label="W(x, y)")
    label = fig.suptitle("", fontsize=10)
    ts = have[0][1]["times"]
    nframes = min(min(len(f["limit"]), len(f["finite"])) for _, f in have)

    def draw(k):
        for im_, fr in panels:
            im_.set_data(fr[k])
        label.set_text(f"graphon time t = {ts[k]:.3g}")
        return [p[0] for p in panels]

    anim = FuncAnimation(fig, draw, frames=nframes, blit=False)
    anim.save(d / "flow.gif", writer=PillowWriter(fps=8), dpi=90)
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
    """'r ± se', 'r ± n/a' (two points: no error) or 'n/a' (no fit: fewer than two sizes above rounding)."""
    if r is None or not math.isfinite(r):
        return "n/a"
    return f"{r:+.3f} &plusmn; " + (f"{se:.3f}" if se is not None and math.isfinite(se) else "n/a")


def _ratio_cell(q, ok):
    if q is None or math.isnan(q):
        return "n/a"
    text = "&infin;" if math.isinf(q) else f"{q:.3g}"
    return f"{text} (resolved)" if ok else f"<b>{text} (unresolved)</b>"


def _status_table(s, fs):
    """Every flow's status: the references in one line, the finite flows as a table n x seed
    (the message of each flow is its cell's tooltip)."""
    e = html.escape
    stat, msgs = [str(getattr(x, "value", x)) for x in fs["statuses"]], fs["messages"]
    nref = len(stat) - len(s.ns) * s.seeds
    names = [f"reference m={s.resolution}", f"reference m={2 * s.resolution}"][:nref]
    ref = "; ".join(f"{nm}: <span title='{e(m)}'>{e(x)}</span>" for nm, x, m in zip(names, stat, msgs))
    rows = ["<h3>Flow statuses</h3><p>" + ref + " (hover over a status for the flow's message).</p>",
            "<table><tr><th>n</th>" + "".join(f"<th>seed {j}</th>" for j in range(s.seeds)) + "</tr>"]
    for k, n in enumerate(s.ns):
        cells = ""
        for j in range(s.seeds):
            q = nref + k * s.seeds + j
            cells += f"<td title='{e(msgs[q])}'>{e(stat[q])}</td>"
        rows.append(f"<tr><th>{n}</th>{cells}</tr>")
    return "\n".join(rows) + "</table>"


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
                     "certificate at an explicit alignment. Below the brackets: the exponents of "
                     "least-squares fits upper &asymp; C n<sup>r</sup> and lower &asymp; c n<sup>r</sup> over "
                     "every (n, seed), each &plusmn; its ordinary least-squares standard error (residual "
                     "scatter about the line, points taken as independent; n/a with two points), and the "
                     "largest ratio upper/lower among the points fitted. A rate is <b>resolved</b> only "
                     f"where that ratio is at most {RESOLVED_RATIO:g}; elsewhere the distance itself may "
                     "follow any slope between the bounds, and neither exponent is its rate.</p>")
        parts.append("<table><tr><th>n</th>" + "".join(f"<th>t = {t:g}</th>" for t in s.times) + "</tr>")
        for k, n in enumerate(s.ns):
            cells = "".join(f"<td>[{_fmt(s.lower[k, :, j].mean())}, {_fmt(s.upper[k, :, j].mean())}]</td>"
                            for j in range(len(s.times)))
            parts.append(f"<tr><th>{n}</th>{cells}</tr>")
        parts.append("<tr><th>rate r (upper)</th>"
                     + "".join(f"<td>{_rate_cell(r, se)}</td>" for r, se in zip(s.rate, s.rate_stderr)) + "</tr>")
        parts.append("<tr><th>rate (lower)</th>"
                     + "".join(f"<td>{_rate_cell(r, se)}</td>" for r, se in zip(s.rate_lower, s.rate_lower_stderr))
                     + "</tr>")
        parts.append("<tr><th>upper / lower (max)</th>"
                     + "".join(f"<td>{_ratio_cell(q, ok)}</td>" for q, ok in zip(s.bracket_ratio, s.rate_resolved))
                     + "</tr></table>")
        parts.append(_status_table(s, fs))
        parts.append(f"<p class='note'>Energy of the limit at t<sub>1</sub>: {fs['reference_final_energy']:.6g}. "
                     f"Wall time for this functional: {fs['wall_time']:.1f} s.</p>")
    parts.append("<h2>Cut distance against n</h2><p>The upper (o) and lower (v) bound of every finite flow "
                 "(one point per seed, seeds drawn slightly apart) on log-log axes: the points the rates are "
                 "fitted to, with the two fitted power laws (solid: upper, dashed: lower; faint where the "
                 "rate is unresolved). Sampling alone gives distances of order n<sup>-1/2</sup> at t = 0; "
                 "the flows then carry (and may shrink) that error.</p>")
    parts.append(_img(d, files["cut_distance"], "cut distance against n"))
    parts.append("<h2>Energy and gradient norm</h2><p>Along a gradient flow the energy decreases, "
                 "dF/dt = &minus;||P DF||&sup2;; the finite flows follow the limit more closely as n grows.</p>")
    parts.append(_img(d, files["energy"], "energy and gradient-norm curves"))
    if "animation" in files:
        parts.append("<h2>Animation</h2><p>The limit (left) and a finite flow (right, seed 0) from t = 0 to "
                     "t<sub>1</sub>, each a flow of its own landing on the frame times (spaced quadratically "
                     "in time, so the fast early part is visible); large states are shown block-averaged to "
                     "at most 128 &times; 128.</p>")
        parts.append(_img(d, files["animation"], "animation of the limit and a finite flow"))
    v = summary["versions"]
    parts.append("<h2>Software</h2><p class='note'>" + e(", ".join(f"{k} {val}" for k, val in v.items()))
                 + "</p>")
    # after loading, <body data-images="k/N"> says how many of the N images decoded (checked by
    # the test suite in headless Chromium)
    parts.append("<script>window.addEventListener('load',function(){var im=document.images,k=0;"
                 "for(var i=0;i<im.length;i++){if(im[i].complete&&im[i].naturalWidth>0)k++;}"
                 "document.body.setAttribute('data-images',k+'/'+im.length);});</script></body></html>")
    (d / "report.html").write_text("\n".join(parts))

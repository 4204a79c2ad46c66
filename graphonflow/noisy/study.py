"""Noisy studies: ``graphonflow run`` with a ``[noise]`` table.

A noisy study compares finite-n noisy SGD runs (:func:`~graphonflow.noisy_flow`) with the
McKean--Vlasov limit (:func:`~graphonflow.mckean_vlasov`), for every functional of the study file:

* the limit starts from the initial graphon's block average on ``reference.resolution`` blocks
  (a step graphon is used as it is): step initial data, as the limit theorem requires;
* every finite run starts from the blow-up of that step graphon to n vertices (vertex i in the
  block that holds (i + 1/2)/n), so the only randomness is the noise; run (n, s) draws its Philox
  key from its own stream ``[finite.seed, 2, n, s]``, independent of the order runs are made in;
* at every time of ``times`` the study records the certified bracket on the cut distance between
  the block means and Gamma(t), and the Wasserstein-1 distance between each block pair's entries
  and its limit law (:mod:`graphonflow.noisy.compare`); rates in n are fitted to both bounds of
  the cut distance and to W1, as in the deterministic study (:func:`graphonflow.convergence.fit_rates`).

The ``[noise]`` keys: ``level`` (s > 0, required), ``dt`` (the SGD step, default 1e-3), ``limit_dt``
(the limit's step, default min(0.01, t1/100)), ``cells`` (grid cells of the limit, default 400),
``reflect`` (default false) and ``quantiles`` (of the laws drawn in the report, default
[0.05, 0.25, 0.5, 0.75, 0.95]).  ``finite.kind`` does not apply (the starts are blow-ups).
Finished finite runs are checkpointed and reused on resume like deterministic flows; the limit is
recomputed (it is deterministic).
"""

from __future__ import annotations

import html
import math
import time
from dataclasses import dataclass, field

import numpy as np

NOISE_KEYS = ("level", "dt", "limit_dt", "cells", "reflect", "quantiles")
DEFAULT_QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)

__all__ = ["NoisyStudy", "parse_noise", "run_noisy_study", "NOISE_KEYS"]


def parse_noise(tbl, t1, fail):
    """The validated ``[noise]`` table as a dict (``fail(key, message)`` raises the config error)."""
    if not isinstance(tbl, dict):
        fail("noise", f"must be a table, got {tbl!r}")
    extra = sorted(set(tbl) - set(NOISE_KEYS))
    if extra:
        fail(f"noise.{extra[0]}", f"unknown key; allowed: {', '.join(NOISE_KEYS)}")
    if "level" not in tbl:
        fail("noise.level", "a noisy study needs the noise level s (> 0), e.g. level = 0.2")

    def num(key, default, positive=True, integer=False):
        v = tbl.get(key, default)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or (integer and not isinstance(v, int)):
            fail(f"noise.{key}", f"must be {'an integer' if integer else 'a number'}, got {v!r}")
        if not math.isfinite(v) or (positive and v <= 0):
            fail(f"noise.{key}", f"must be a positive finite number, got {v!r}")
        return v

    out = {"level": float(num("level", None)), "dt": float(num("dt", 1e-3)),
           "limit_dt": float(num("limit_dt", min(0.01, t1 / 100))), "cells": int(num("cells", 400, integer=True))}
    if out["dt"] > t1:
        fail("noise.dt", f"must be at most t1 = {t1:g}, got {out['dt']:g}")
    if out["cells"] < 10:
        fail("noise.cells", f"must be at least 10, got {out['cells']}")
    refl = tbl.get("reflect", False)
    if not isinstance(refl, bool):
        fail("noise.reflect", f"must be true or false, got {refl!r}")
    out["reflect"] = refl
    qs = tbl.get("quantiles", list(DEFAULT_QUANTILES))
    if (not isinstance(qs, list) or not qs or any(isinstance(q, bool) or not isinstance(q, (int, float))
                                                   or not 0 < q < 1 for q in qs)):
        fail("noise.quantiles", f"must be a non-empty list of numbers in (0, 1), got {qs!r}")
    out["quantiles"] = sorted(float(q) for q in qs)
    return out


@dataclass(frozen=True)
class NoisyStudy:
    """One functional's noisy study: finite n against the McKean--Vlasov limit.

    Arrays of shape (len(ns), seeds, len(times)): ``lower``/``upper`` (the cut-distance bracket
    between block means and Gamma(t)), ``w1_mean`` (W1 of the block pairs' laws, weighted by
    their share of the entries) and ``w1_max``.  ``rate``/``rate_lower`` (and ``*_stderr``)
    are the fitted exponents of the two cut bounds, ``w1_rate``/``w1_rate_stderr`` the one of
    W1.  ``limit`` is the :class:`~graphonflow.noisy.McKeanVlasovResult`; ``curve_times`` with
    ``curve_energies`` (len(ns), seeds, points) and ``limit_curve_energies`` the energies."""

    label: str
    times: np.ndarray
    ns: np.ndarray
    seeds: int
    noise: dict
    lower: np.ndarray
    upper: np.ndarray
    w1_mean: np.ndarray
    w1_max: np.ndarray
    curve_times: np.ndarray
    curve_energies: np.ndarray
    limit_curve_energies: np.ndarray
    fits: dict
    w1_fits: dict
    limit: object = field(repr=False)
    statuses: tuple = ()
    restored: tuple = ()
    wall_times: np.ndarray = None
    finite_states: dict = field(default_factory=dict, repr=False)

    @property
    def rate(self):
        return self.fits["rate"]

    @property
    def rate_lower(self):
        return self.fits["rate_lower"]

    def table(self) -> str:
        from ..convergence import rate_text

        lines = [f"    noise s = {self.noise['level']:g}: distances to the McKean-Vlasov limit (means over seeds)",
                 f"    {'t':>8} " + " ".join(f"{'n=' + str(n):>24}" for n in self.ns) + "   cut rate (upper, lower), W1 rate"]
        for k, t in enumerate(self.times):
            cells = " ".join(f"{self.upper[i, :, k].mean():>10.3g} / W1 {self.w1_mean[i, :, k].mean():>8.3g}"
                             for i in range(len(self.ns)))
            lines.append(f"    {t:>8g} {cells}   {rate_text(self.fits['rate'][k], self.fits['rate_stderr'][k], 2)}, "
                         f"{rate_text(self.fits['rate_lower'][k], self.fits['rate_lower_stderr'][k], 2)}, "
                         f"{rate_text(self.w1_fits['rate'][k], self.w1_fits['rate_stderr'][k], 2)}")
        return "\n".join(lines)


def _step_start(W0, m):
    from ..graphons import block_average
    from ..step import StepGraphon

    if isinstance(W0, StepGraphon):
        return W0
    return block_average(W0, int(m))


def run_noisy_study(cfg, W0, prog, store, keep_states=False):
    """Run the noisy study of every functional of ``cfg``; returns (studies, arrays, summaries, restored,
    computed).  ``store`` checkpoints finished finite runs (``store.lookup`` / ``store.record``)."""
    from ..convergence import fit_rates
    from .compare import blow_up, block_means, w1_to_cells
    from .limit import mckean_vlasov
    from .sgd import noisy_flow
    from ..cut import cut_distance
    from ..step import StepGraphon

    nz = cfg.noise
    times = np.asarray(cfg.times, dtype=float)
    curve = np.linspace(0.0, cfg.t1, cfg.curve_points)
    save = sorted(set(times.tolist()) | set(curve.tolist()))
    S = _step_start(W0, cfg.resolution)
    studies, arrays, sums, restored, computed = [], {}, [], [], []
    for i, (label, _) in enumerate(cfg.functionals):
        F = cfg.functional(i)
        tf = time.perf_counter()
        prog.line(f"[{i + 1}/{len(cfg.functionals)}] {label}: McKean-Vlasov limit on {S.values.shape[0]} blocks "
                  f"({nz['cells']} cells), then noisy SGD at n = {', '.join(map(str, cfg.ns))} (s = {nz['level']:g})")
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # entry-wise terms: said once below
            lim = mckean_vlasov(F, S, t1=cfg.t1, noise=nz["level"], dt=nz["limit_dt"], cells=nz["cells"],
                                save_at=save, box=cfg.box)
        lt = {float(t): k for k, t in enumerate(lim.times)}
        kt = [lt[float(t)] for t in times]
        lw = lim.widths
        weights = np.array([(1.0 if a == b else 2.0) * lw[a] * lw[b] for a, b in lim.pairs])
        N, Sd, T = len(cfg.ns), cfg.seeds, len(times)
        lower, upper, w1m, w1x = (np.empty((N, Sd, T)) for _ in range(4))
        cen = np.empty((N, Sd, len(curve)))
        statuses, walls, states = [], np.zeros((N, Sd)), {}
        for a, n in enumerate(cfg.ns):
            A0, labels = blow_up(S, int(n))
            members = [np.flatnonzero(labels == b) for b in range(lim.m)]
            for s in range(Sd):
                flab = f"noisy n={n} seed {s}"
                got = store.lookup(i, flab)
                if got is not None:
                    lower[a, s], upper[a, s] = got["lower"], got["upper"]
                    w1m[a, s], w1x[a, s] = np.asarray(got["w1_mean"]), np.asarray(got["w1_max"])
                    cen[a, s] = got["energies"]
                    statuses.append(got["status"])
                    walls[a, s] = got["wall"]
                    restored.append((i, flab))
                    continue
                t0 = time.perf_counter()
                keep = set(times.tolist())
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    run = noisy_flow(F, A0, t1=cfg.t1, dt=nz["dt"], noise=nz["level"], box=cfg.box,
                                     rng=np.random.default_rng([cfg.seed, 2, int(n), s]), save_at=save,
                                     reflect=nz["reflect"],
                                     save_fn=lambda t, B: B.copy() if any(abs(t - u) < 1e-9 for u in keep) else None)
                rt = {float(t): k for k, t in enumerate(run.times)}
                for k, t in enumerate(times):
                    A = run.states[rt[float(t)]]
                    Abar, wn = block_means(A, labels, lim.m)
                    cd = cut_distance(StepGraphon(Abar, wn), StepGraphon(lim.means[kt[k]], lw), rng=0)
                    lower[a, s, k], upper[a, s, k] = cd.lower, cd.upper
                    w1 = np.array([w1_to_cells(A[np.ix_(members[p], members[q])][np.triu_indices(len(members[p]))]
                                               if p == q else A[np.ix_(members[p], members[q])].ravel(),
                                               lim.edges, lim.laws[kt[k], j]) for j, (p, q) in enumerate(lim.pairs)])
                    w1m[a, s, k] = float(weights @ w1 / weights.sum())
                    w1x[a, s, k] = float(w1.max())
                    if keep_states and s == 0 and a == N - 1:
                        states.setdefault(int(n), []).append(A.astype(np.float32))
                cen[a, s] = [run.energies[rt[float(t)]] for t in curve]
                walls[a, s] = time.perf_counter() - t0
                statuses.append(str(run.status))
                store.record(i, flab, {"times": times, "energies": cen[a, s], "lower": lower[a, s],
                                       "upper": upper[a, s], "w1_mean": w1m[a, s], "w1_max": w1x[a, s],
                                       "status": str(run.status), "wall": walls[a, s], "states": []})
                computed.append((i, flab))
                prog.line(f"    n={n} seed {s}: {run.message} ({walls[a, s]:.1f} s)")
        fits = fit_rates(np.asarray(cfg.ns), lower, upper)
        w1_fits = fit_rates(np.asarray(cfg.ns), w1m, w1m)
        lim_curve = np.array([lim.energies[lt[float(t)]] for t in curve])
        st = NoisyStudy(label=label, times=times, ns=np.asarray(cfg.ns), seeds=Sd, noise=dict(nz), lower=lower,
                        upper=upper, w1_mean=w1m, w1_max=w1x, curve_times=curve, curve_energies=cen,
                        limit_curve_energies=lim_curve, fits=fits, w1_fits=w1_fits, limit=lim,
                        statuses=tuple(statuses), restored=tuple(r for r in restored if r[0] == i), wall_times=walls,
                        finite_states=states)
        studies.append(st)
        p = f"f{i}_"
        arrays.update({p + "times": times, p + "ns": st.ns, p + "lower": lower, p + "upper": upper,
                       p + "w1_mean": w1m, p + "w1_max": w1x, p + "curve_times": curve, p + "curve_energies": cen,
                       p + "limit_curve_energies": lim_curve, p + "limit_times": lim.times,
                       p + "limit_means": lim.means, p + "limit_laws": lim.laws.astype(np.float32),
                       p + "limit_edges": lim.edges, p + "limit_pairs": lim.pairs, p + "limit_widths": lw,
                       **{p + k: v for k, v in fits.items()}, p + "w1_rate": w1_fits["rate"],
                       p + "w1_rate_stderr": w1_fits["rate_stderr"]})
        sums.append({"label": label, "terms": [dict(t) for t in cfg.functionals[i][1]], "noise": dict(nz),
                     "statuses": list(statuses), "times": times,
                     "cut_distance_lower_mean": lower.mean(axis=1), "cut_distance_upper_mean": upper.mean(axis=1),
                     "w1_mean": w1m.mean(axis=1), "w1_max": w1x.max(axis=1),
                     "rate": fits["rate"], "rate_stderr": fits["rate_stderr"], "rate_upper": fits["rate"],
                     "rate_upper_stderr": fits["rate_stderr"], "rate_lower": fits["rate_lower"],
                     "rate_lower_stderr": fits["rate_lower_stderr"], "bracket_ratio": fits["bracket_ratio"],
                     "rate_resolved": [bool(x) for x in fits["rate_resolved"]],
                     "w1_rate": w1_fits["rate"], "w1_rate_stderr": w1_fits["rate_stderr"],
                     "limit_final_energy": float(lim.energies[-1]), "limit_blocks": int(lim.m),
                     "limit_status": str(lim.status), "wall_time": time.perf_counter() - tf})
        prog.line(st.table())
    return studies, arrays, sums, restored, computed


# ------------------------------------------------------------------ report
def _pairs_to_draw(m, most=4):
    blocks = np.unique(np.linspace(0, m - 1, min(m, most)).round().astype(int))
    return [(a, b) for a in blocks for b in blocks if a <= b], blocks


def write_noisy_report(d, cfg, studies, summary) -> dict:
    """The noisy study's figures (laws' quantile bands, distances against n, energies); returns
    {role: file name}."""
    from ..report import _plt, _save

    plt = _plt()
    files = {}
    for i, st in enumerate(studies):
        lim = st.limit
        qs = st.noise["quantiles"]
        Q = lim.quantiles(qs)
        pairs, blocks = _pairs_to_draw(lim.m)
        nb = len(blocks)
        fig, axes = plt.subplots(nb, nb, figsize=(2.6 * nb + 1, 2.2 * nb + 0.8), sharex=True, sharey=True,
                                 squeeze=False)
        for r in range(nb):
            for c in range(nb):
                ax = axes[r, c]
                if c < r:
                    ax.axis("off")
                    continue
                a, b = blocks[r], blocks[c]
                j = int(np.flatnonzero((lim.pairs[:, 0] == a) & (lim.pairs[:, 1] == b))[0])
                h = len(qs) // 2
                for lo_i in range(h):
                    ax.fill_between(lim.times, Q[:, j, lo_i], Q[:, j, -1 - lo_i], color="C0",
                                    alpha=0.18 + 0.2 * lo_i, lw=0)
                if len(qs) % 2:
                    ax.plot(lim.times, Q[:, j, h], color="C0", lw=1)
                ax.plot(lim.times, lim.means[:, a, b], color="k", lw=0.8, ls="--")
                ax.set_title(f"blocks ({a}, {b})", fontsize=8)
                ax.set_ylim(cfg.box[0], cfg.box[1])
        for ax in axes[-1]:
            ax.set_xlabel("t")
        fig.suptitle(f"{st.label}: laws of the edge weights in the limit (bands: quantiles "
                     f"{', '.join(f'{q:g}' for q in qs)}; dashed: the mean Γ)", fontsize=9)
        fig.tight_layout()
        files[f"noise_laws_f{i}"] = _save(fig, d, f"noise_laws_f{i}.png")

        fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
        ns = st.ns.astype(float)
        for k, t in enumerate(st.times):
            col = f"C{k % 10}"
            for s in range(st.seeds):
                axes[0].scatter(ns, st.upper[:, s, k], color=col, marker="v", s=14)
                axes[0].scatter(ns, st.lower[:, s, k], color=col, marker="^", s=14, facecolors="none")
                axes[1].scatter(ns, st.w1_mean[:, s, k], color=col, s=14, label=f"t={t:g}" if s == 0 else None)
            for ax, key, fits in ((axes[0], "rate", st.fits), (axes[1], "rate", st.w1_fits)):
                r, c0 = fits[key][k], fits["rate_intercept"][k]
                if math.isfinite(r):
                    ax.plot(ns, np.exp(c0) * ns ** r, color=col, lw=1)
        for ax, name in ((axes[0], "cut distance of the block means to Γ(t)\n(▼ upper, △ lower bound)"),
                         (axes[1], "W1 of the block pairs' laws (weighted mean)")):
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xticks(ns)
            ax.set_xticklabels([str(int(n)) for n in ns])
            ax.minorticks_off()
            ax.set_xlabel("n")
            ax.set_title(name, fontsize=9)
        axes[1].legend(fontsize=8)
        fig.suptitle(f"{st.label}, noise s = {st.noise['level']:g}: finite n against the McKean-Vlasov limit",
                     fontsize=10)
        fig.tight_layout()
        files[f"noise_distances_f{i}"] = _save(fig, d, f"noise_distances_f{i}.png")

    fig, ax = plt.subplots(figsize=(7, 4))
    for i, st in enumerate(studies):
        col = f"C{i}"
        ax.plot(st.curve_times, st.limit_curve_energies, color=col, lw=2, label=f"{st.label}: limit F(Γ(t))")
        ax.plot(st.curve_times, st.curve_energies[-1].T, color=col, lw=0.6, alpha=0.7)
    ax.set_xlabel("t")
    ax.set_ylabel("F")
    ax.set_title(f"energies: the limit (thick) and the finite runs at n = {studies[0].ns[-1]} (thin)", fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    files["energy"] = _save(fig, d, "energy.png")
    files["report"] = "report.html"
    return files


def write_noisy_html(d, cfg, studies, summary):
    """``report.html`` of a noisy study (images embedded)."""
    from pathlib import Path

    from ..convergence import rate_text
    from ..report import _img

    d = Path(d)
    e = html.escape
    nz = cfg.noise
    files = summary["files"]
    parts = ["<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>", f"<title>{e(cfg.title)}</title>",
             "<style>body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;"
             "line-height:1.45;color:#222}img{max-width:100%;border:1px solid #ddd;margin:.5em 0}"
             "table{border-collapse:collapse;margin:.5em 0;font-size:.9em}td,th{border:1px solid #ccc;"
             "padding:.25em .6em;text-align:right}th{background:#f3f3f3}.note{color:#555;font-size:.92em}"
             "</style></head><body>", f"<h1>{e(cfg.title)}</h1>",
             "<p>Noisy SGD A &larr; P(A &minus; &tau;DF(A) + s&radic;&tau; Z) on n&times;n matrices against its "
             f"McKean&ndash;Vlasov limit, noise s = {nz['level']:g}, step &tau; = {nz['dt']:g}, box "
             f"[{cfg.box[0]:g}, {cfg.box[1]:g}]{', reflected' if nz['reflect'] else ''}, up to t<sub>1</sub> = "
             f"{cfg.t1:g}. The limit solves one Fokker&ndash;Planck equation per block pair on {nz['cells']} cells "
             f"(step {nz['limit_dt']:g}) from the block average of W<sub>0</sub> on {cfg.resolution} blocks; the "
             f"finite runs start from its blow-ups to n = {', '.join(map(str, cfg.ns))} ({cfg.seeds} noise seeds "
             "each). Rates: least squares of log(distance) on log(n) over all (n, seed) points, &plusmn; one "
             "ordinary standard error.</p>",
             f"<p class='note'>Total wall time {summary['wall_time']:.1f} s.</p>"]
    for i, st in enumerate(studies):
        parts.append(f"<h2>{e(st.label)}</h2><table><tr><th>t</th>" + "".join(
            f"<th>n = {n}: cut [lower, upper]</th><th>W1</th>" for n in st.ns) +
            "<th>cut rate (upper / lower)</th><th>W1 rate</th></tr>")
        for k, t in enumerate(st.times):
            row = "".join(f"<td>[{st.lower[a, :, k].mean():.3g}, {st.upper[a, :, k].mean():.3g}]</td>"
                          f"<td>{st.w1_mean[a, :, k].mean():.3g}</td>" for a in range(len(st.ns)))
            parts.append(f"<tr><td>{t:g}</td>{row}<td>{e(rate_text(st.fits['rate'][k], st.fits['rate_stderr'][k], 2))}"
                         f" / {e(rate_text(st.fits['rate_lower'][k], st.fits['rate_lower_stderr'][k], 2))}</td>"
                         f"<td>{e(rate_text(st.w1_fits['rate'][k], st.w1_fits['rate_stderr'][k], 2))}</td></tr>")
        parts.append("</table>")
        parts.append(_img(d, files[f"noise_laws_f{i}"], f"laws of {st.label}"))
        parts.append(_img(d, files[f"noise_distances_f{i}"], f"distances of {st.label}"))
    parts.append(_img(d, files["energy"], "energies"))
    parts.append("</body></html>")
    (d / "report.html").write_text("\n".join(parts))

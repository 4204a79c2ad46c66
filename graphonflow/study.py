r"""Studies: a finite-n-versus-limit experiment described in a TOML file, run end to end.

A study takes one or more functionals F, an initial graphon W_0, a box, an integrator and a
list of graph sizes, and for each functional

1. runs the reference graphon flow from the block average of W_0 at ``resolution`` and
   ``2 * resolution`` blocks (the finer run is the reference; the two are compared in L2 and
   in cut norm at every measured time, so the reader sees the reference is resolved), and
   once more integrated more accurately (the integration check): at a ten times tighter
   tolerance under error control, with half the step for fixed steps;
2. for each n and seed samples a W-random initial graph from W_0 (sorted latent positions)
   and runs its flow at the time scale n^2;
3. brackets the cut distance between each finite flow and the reference at the measured
   times (certified lower and upper bounds, :func:`~graphonflow.cut.cut_distance`) and fits
   exponents to both bounds, upper ~ C n^r and lower ~ c n^r', flagging the rate as
   unresolved where upper / lower > 2 at a point of the fit;
4. writes everything to an output directory: ``summary.json``, ``trajectory.npz``, the
   configuration it ran (``config.toml``, which ``graphonflow run`` reads back), PNG
   figures, a GIF of the limit next to a finite flow and a self-contained ``report.html``;
   :func:`load_study` reads it back.

The directory is written completely or not at all: work goes to a staging directory next to
it (``.NAME.partial``) and is moved into place at the end.  Every finished flow is
checkpointed there as it ends (its arrays in ``flows/``, then a line of ``checkpoint.jsonl``;
``resume.json`` records the configuration and software versions), so an interrupted or failed
study keeps its finished work: after a failure, Ctrl-C or SIGTERM the staging directory is
renamed ``NAME.partial`` and the error says so; a killed run leaves ``.NAME.partial``.  The
next run of the same study resumes from either, reusing the finished flows, with results
identical bit for bit to an uninterrupted run (``resume=False``, ``graphonflow run --restart``:
start over).  Output folders that cannot be written, and sizes whose largest flow cannot fit
in memory or would take months (:func:`flow_cost`), are refused before any work.

The built-in default study (:data:`DEFAULT_CONFIG`, run by ``graphonflow`` with no
arguments) follows the setting of Oh, Pal, Somani and Tripathi (arXiv:2111.09459): the
5-cycle density t(C5), alone and with an entropy term (1/8) E, flowed from a smooth ring
graphon, with finite sizes n = 50 ... 800.

Configuration keys (all optional except where noted; ``graphonflow run --print-config``
prints the default file)::

    title = "..."                   # free text
    t1 = 100.0                      # final graphon time (> 0)
    times = [0, 7, 20, 100]         # measured times: snapshots and distances, in [0, t1]
    box = [0.0, 1.0]                # [lo, hi]

    [[functionals]]                 # one or more
    label = "t(C5) + E/8"           # optional
    terms = [ {term = "hom", pattern = "C5", coef = 1.0},
              {term = "entropy", coef = 0.125} ]
    # term is one of: hom (pattern: a name or an edge list), edge, entropy, rate (p)

    [initial]                       # exactly one of graphon / file
    graphon = "ring"                # constant, xy, mean_xy, min_xy, one_minus_max_xy,
    params = {kappa = 4.0, p = 0.9} # ring, sbm, complete_bipartite (params: its arguments)
    # file = "W0.npy"               # .npy / .npz matrix, GraphML or an edge list
    clip = 0.0                      # if > 0, clip W_0 into [lo + clip, hi - clip]

    [integrator]                    # error control (rtol, atol) or fixed steps (dt), not both
    method = "dp54"                 # with rtol: dp54, ark54, ark43, ark32, bs32
    rtol = 1e-3                     # error control: local error <= atol + rtol |W| per entry
    atol = 1e-3                     # (default 1e-3 rtol)
    # dt = 0.5                      # fixed steps instead (method euler, prox, heun or any
                                    # of the above; default "prox")

    [reference]
    resolution = 256                # blocks m (the reference runs at m and 2m)

    [finite]
    ns = [50, 100, 200, 400, 800]
    seeds = 2
    kind = "weighted"               # or "simple"
    seed = 2026                     # seeds the whole study

    [save]
    curve_points = 101              # times on the energy curves
    gif_frames = 40                 # 0: no animation
    finite_snapshots = true         # keep A_n(t) of the largest n in trajectory.npz
    report = true                   # figures and report.html

References
----------
S. Oh, S. Pal, R. Somani, R. Tripathi, Gradient flows on graphons: existence, convergence,
continuity equations, J. Theor. Probab. 37 (2024), arXiv:2111.09459.
"""

from __future__ import annotations

import enum
import inspect
import json
import math
import os
import platform
import re
import shutil
import signal
import sys
import threading
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import graphons as _lib
from .convergence import RATE_FLOOR, RESOLVED_RATIO, convergence_study, finite_start, fit_rates
from .flow import INTEGRATORS, flow, get_integrator
from .functionals import EdgeDensity, Entropy, Functional, HomDensity, RateFunction
from .graphons import Graphon, block_average
from .hom import CostError, check_cost
from .patterns import as_pattern
from .step import StepGraphon

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = ["ConfigError", "StudyError", "StudyTerminated", "StudyConfig", "StudyResult", "LoadedStudy", "DEFAULT_CONFIG",
           "load_config", "parse_config", "run_study", "load_study", "to_toml", "flow_cost"]

#: The built-in main job: t(C5) with and without entropy, from a smooth ring graphon.
DEFAULT_CONFIG = """\
# graphonflow's built-in study: finite graphs against the graphon limit.
# Gradient flows of the 5-cycle density, alone and with an entropy term, from a smooth
# ring graphon (the setting of Oh, Pal, Somani and Tripathi, arXiv:2111.09459).
title = "t(C5) and t(C5) + E/8 from the ring graphon"
t1 = 100.0
times = [0.0, 7.0, 20.0, 100.0]
box = [0.0, 1.0]

[[functionals]]
label = "t(C5)"
terms = [{ term = "hom", pattern = "C5", coef = 1.0 }]

[[functionals]]
label = "t(C5) + E/8"
terms = [{ term = "hom", pattern = "C5", coef = 1.0 }, { term = "entropy", coef = 0.125 }]

[initial]
graphon = "ring"
params = { kappa = 4.0, p = 0.9 }

# Error control: every flow picks its own steps so that each step's local error is at most
# atol + rtol |W| per entry.  The study checks the choice: it reruns the reference at rtol/10,
# atol/10 and reports the certified cut-norm gap (summary.json, report.html).  For fixed steps
# write dt = 0.5 instead of rtol and atol (method "prox").
[integrator]
method = "dp54"
rtol = 1e-3
atol = 1e-3

[reference]
resolution = 256

[finite]
ns = [50, 100, 200, 400, 800]
seeds = 2
kind = "weighted"
seed = 2026

[save]
curve_points = 101
gif_frames = 40
finite_snapshots = true
report = true
"""

GRAPHONS = {
    "constant": _lib.constant,
    "xy": _lib.xy,
    "mean_xy": _lib.mean_xy,
    "min_xy": _lib.min_xy,
    "one_minus_max_xy": _lib.one_minus_max_xy,
    "ring": _lib.ring,
    "sbm": _lib.sbm,
    "complete_bipartite": _lib.complete_bipartite,
}
TERMS = ("hom", "edge", "entropy", "rate")
TOP_KEYS = ("title", "t1", "times", "functionals", "initial", "box", "integrator", "reference", "finite", "save",
            "noise")


class ConfigError(ValueError):
    """A study configuration is invalid; the message names the key and what is allowed."""


class StudyError(RuntimeError):
    """A study failed while running; ``partial`` is the directory that keeps its finished work."""

    def __init__(self, msg, partial=None):
        super().__init__(msg)
        self.partial = partial


# --------------------------------------------------------------------------- parsing
def _fail(key, msg):
    raise ConfigError(f"config key '{key}': {msg}")


def _table(d, key, allowed):
    v = d.get(key, {})
    if not isinstance(v, dict):
        _fail(key, f"must be a table, got {type(v).__name__}")
    extra = sorted(set(v) - set(allowed))
    if extra:
        _fail(f"{key}.{extra[0]}", f"unknown key; allowed keys in [{key}]: {', '.join(allowed)}")
    return v


def _number(v, key, *, positive=False, nonneg=False, integer=False):
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        _fail(key, f"must be a number, got {v!r}")
    if integer and int(v) != v:
        _fail(key, f"must be an integer, got {v!r}")
    v = int(v) if integer else float(v)
    if not math.isfinite(v):
        _fail(key, f"must be finite, got {v!r}")
    if positive and not v > 0:
        _fail(key, f"must be > 0, got {v!r}")
    if nonneg and v < 0:
        _fail(key, f"must be >= 0, got {v!r}")
    return v


def _choice(v, key, allowed):
    if v not in allowed:
        _fail(key, f"{v!r} is not one of {', '.join(repr(a) for a in allowed)}")
    return v


@dataclass(frozen=True)
class StudyConfig:
    """A validated study configuration (see the module docstring for the keys)."""

    title: str
    t1: float
    times: tuple
    functionals: tuple  # of (label, terms): terms a tuple of dicts
    initial: dict
    box: tuple
    method: str
    dt: float  # the fixed step, or None under error control
    resolution: int
    ns: tuple
    seeds: int
    kind: str
    seed: int
    curve_points: int
    gif_frames: int
    finite_snapshots: bool
    report: bool
    rtol: float = None  # error control: the tolerances (None for fixed steps)
    atol: float = None
    #: the validated [noise] table of a noisy study (graphonflow.noisy.study), or None
    noise: dict = None
    base_dir: str = field(default=".", compare=False)

    @property
    def error_control(self) -> bool:
        """True when the flows choose their steps by error control (``rtol``), False for fixed ``dt``."""
        return self.rtol is not None

    def flow_options(self) -> dict:
        """The keywords that say how every flow of the study is integrated (for
        :func:`~graphonflow.flow.flow` and :func:`~graphonflow.convergence.convergence_study`)."""
        if self.error_control:
            return {"integrator": self.method, "rtol": self.rtol, "atol": self.atol}
        return {"integrator": self.method, "dt": self.dt}

    def integrator_text(self) -> str:
        """One line for humans, e.g. ``"ark54, error control rtol=1e-06, atol=0.0001"``."""
        if self.error_control:
            return f"{self.method}, error control rtol={self.rtol:g}, atol={self.atol:g}"
        return f"{self.method}, fixed step dt={self.dt:g}"

    def functional(self, i: int) -> Functional:
        """The i-th functional as a :class:`~graphonflow.functionals.Functional`."""
        return _build_functional(self.functionals[i][1])

    def initial_graphon(self):
        """W_0: a :class:`~graphonflow.graphons.Graphon` or a :class:`~graphonflow.step.StepGraphon`."""
        return _build_initial(self.initial, self.box, self.base_dir)

    def _initial_abs(self):
        init = dict(self.initial)
        if "file" in init:  # saved configurations must not depend on the folder they sit in
            init["file"] = str((Path(self.base_dir) / init["file"]).resolve())
        return init

    def as_dict(self) -> dict:
        """The configuration as plain data (what ``summary.json`` records)."""
        return {
            "title": self.title,
            "t1": self.t1,
            "times": list(self.times),
            "functionals": [{"label": lab, "terms": [dict(t) for t in terms]} for lab, terms in self.functionals],
            "initial": self._initial_abs(),
            "box": list(self.box),
            "integrator": ({"method": self.method, "rtol": self.rtol, "atol": self.atol} if self.error_control
                           else {"method": self.method, "dt": self.dt}),
            "reference": {"resolution": self.resolution},
            "finite": {"ns": list(self.ns), "seeds": self.seeds, "kind": self.kind, "seed": self.seed},
            "save": {
                "curve_points": self.curve_points,
                "gif_frames": self.gif_frames,
                "finite_snapshots": self.finite_snapshots,
                "report": self.report,
            },
            **({"noise": dict(self.noise)} if self.noise is not None else {}),
        }


def _parse_term(t, key):
    if not isinstance(t, dict):
        _fail(key, f"must be a table such as {{term = \"hom\", pattern = \"K3\", coef = 1.0}}, got {t!r}")
    if "term" not in t:
        _fail(f"{key}.term", f"missing: one of {', '.join(repr(a) for a in TERMS)}")
    kind = _choice(t.get("term"), f"{key}.term", TERMS)
    allowed = {"hom": ("term", "pattern", "coef"), "edge": ("term", "coef"), "entropy": ("term", "coef"),
               "rate": ("term", "p", "coef")}[kind]
    extra = sorted(set(t) - set(allowed))
    if extra:
        _fail(f"{key}.{extra[0]}", f"unknown key for term '{kind}'; allowed: {', '.join(allowed)}")
    out = {"term": kind, "coef": _number(t.get("coef", 1.0), f"{key}.coef")}
    if kind == "hom":
        if "pattern" not in t:
            _fail(f"{key}.pattern", "missing: a pattern name such as \"K3\" or an edge list [[0, 1], [1, 2]]")
        pat = t["pattern"]
        if not (isinstance(pat, str) or (isinstance(pat, list) and all(isinstance(e, list) for e in pat))):
            _fail(f"{key}.pattern", f"must be a pattern name such as \"C5\" or an edge list [[0, 1], [1, 2]], got {pat!r}")
        try:
            as_pattern(pat if isinstance(pat, str) else [tuple(e) for e in pat])
        except (ValueError, TypeError) as exc:
            _fail(f"{key}.pattern", str(exc))
        out["pattern"] = pat if isinstance(pat, str) else [list(e) for e in pat]
    if kind == "rate":
        if "p" not in t:
            _fail(f"{key}.p", "missing: the edge probability p in (0, 1)")
        p = _number(t["p"], f"{key}.p")
        if not 0 < p < 1:
            _fail(f"{key}.p", f"must lie in (0, 1), got {p}")
        out["p"] = p
    return out


def _build_functional(terms) -> Functional:
    F = None
    for t in terms:
        kind, c = t["term"], t["coef"]
        if kind == "hom":
            pat = t["pattern"]
            a = HomDensity(pat if isinstance(pat, str) else [tuple(e) for e in pat])
        elif kind == "edge":
            a = EdgeDensity()
        elif kind == "entropy":
            a = Entropy()
        else:
            a = RateFunction(t["p"])
        F = c * a if F is None else F + c * a
    return F


def _graphon_factory(name, key):
    return GRAPHONS[_choice(name, key, tuple(GRAPHONS))]


def _build_initial(init, box, base_dir):
    lo, hi = box
    if "graphon" in init:
        f = GRAPHONS[init["graphon"]]
        W = f(**init.get("params", {}))
    else:
        from .io import read_graph

        path = Path(init["file"])
        if not path.is_absolute():
            path = Path(base_dir) / path
        W = StepGraphon(read_graph(path))
    c = init.get("clip", 0.0)
    if c > 0:
        if isinstance(W, Graphon):
            f0 = W
            W = Graphon(lambda x, y: np.clip(f0(x, y), lo + c, hi - c), name=f"clip({f0.name})")
        else:
            W = StepGraphon(np.clip(W.values, lo + c, hi - c), W.widths)
    return W


def parse_config(data: dict, *, base_dir=".") -> StudyConfig:
    """Validate a configuration (the dict a TOML file parses to) into a :class:`StudyConfig`.

    Missing keys take the values of :data:`DEFAULT_CONFIG`; unknown keys, wrong types and
    values out of range raise :class:`ConfigError` naming the key and what is allowed.
    """
    if not isinstance(data, dict):
        raise ConfigError(f"a study configuration is a TOML table, got {type(data).__name__}")
    extra = sorted(set(data) - set(TOP_KEYS))
    if extra:
        _fail(extra[0], f"unknown key; allowed top-level keys: {', '.join(TOP_KEYS)}")
    d = tomllib.loads(DEFAULT_CONFIG)
    title = data.get("title", d["title"] if not data else "graphonflow study")
    if not isinstance(title, str):
        _fail("title", f"must be a string, got {title!r}")
    t1 = _number(data.get("t1", d["t1"]), "t1", positive=True)
    times = data.get("times", [0.0, t1 / 2, t1] if "t1" in data else d["times"])
    if not isinstance(times, list) or not times:
        _fail("times", f"must be a non-empty list of times in [0, t1], got {times!r}")
    times = sorted(_number(t, "times", nonneg=True) for t in times)
    if times[-1] > t1:
        _fail("times", f"times must lie in [0, t1] = [0, {t1:g}], got {times[-1]:g}")
    if len(set(times)) != len(times):
        _fail("times", "times must be distinct")

    funcs = data.get("functionals", d["functionals"])
    if not isinstance(funcs, list) or not funcs:
        _fail("functionals", "must be a non-empty array of tables [[functionals]] with a 'terms' list")
    parsed = []
    for i, fd in enumerate(funcs):
        key = f"functionals[{i}]"
        if not isinstance(fd, dict):
            _fail(key, "must be a table with keys 'label' and 'terms'")
        extra = sorted(set(fd) - {"label", "terms"})
        if extra:
            _fail(f"{key}.{extra[0]}", "unknown key; allowed: label, terms")
        terms = fd.get("terms")
        if not isinstance(terms, list) or not terms:
            _fail(f"{key}.terms", f"must be a non-empty list of terms ({', '.join(TERMS)})")
        terms = tuple(_parse_term(t, f"{key}.terms[{j}]") for j, t in enumerate(terms))
        label = fd.get("label", " + ".join(_term_label(t) for t in terms))
        if not isinstance(label, str):
            _fail(f"{key}.label", f"must be a string, got {label!r}")
        parsed.append((label, terms))

    box = data.get("box", d["box"])
    if not (isinstance(box, list) and len(box) == 2):
        _fail("box", f"must be a pair [lo, hi], got {box!r}")
    lo, hi = _number(box[0], "box[0]"), _number(box[1], "box[1]")
    if not lo < hi:
        _fail("box", f"needs lo < hi, got [{lo}, {hi}]")
    if any(t["term"] in ("entropy", "rate") for _, terms in parsed for t in terms) and (lo < 0 or hi > 1):
        _fail("box", f"entropy and rate terms live on [0, 1]; the box [{lo}, {hi}] must lie inside it")

    init = _table(data, "initial", ("graphon", "params", "file", "clip")) if "initial" in data else d["initial"]
    if ("graphon" in init) == ("file" in init):
        _fail("initial", "give exactly one of 'graphon' (a library name) or 'file' (a matrix or graph file)")
    init = dict(init)
    if "graphon" in init:
        f = _graphon_factory(init["graphon"], "initial.graphon")
        params = init.get("params", {})
        if not isinstance(params, dict):
            _fail("initial.params", f"must be a table of keyword arguments, got {params!r}")
        sig = inspect.signature(f)
        bad = sorted(set(params) - set(sig.parameters))
        if bad:
            allowed = ", ".join(sig.parameters) or "none"
            _fail(f"initial.params.{bad[0]}", f"unknown parameter of '{init['graphon']}'; allowed: {allowed}")
        try:
            f(**params)
        except (ValueError, TypeError) as exc:
            _fail("initial.params", str(exc))
    else:
        if "params" in init:
            _fail("initial.params", "only with 'graphon'")
        if not isinstance(init["file"], str):
            _fail("initial.file", f"must be a path, got {init['file']!r}")
        path = Path(init["file"])
        path = path if path.is_absolute() else Path(base_dir) / path
        if not path.exists():
            _fail("initial.file", f"no such file: {path}")
    init["clip"] = _number(init.get("clip", 0.0), "initial.clip", nonneg=True)
    if 2 * init["clip"] >= hi - lo:
        _fail("initial.clip", f"must be below half the box width ({(hi - lo) / 2:g})")

    method, dt, rtol, atol = _parse_integrator(_table(data, "integrator", ("method", "dt", "rtol", "atol")),
                                              d["integrator"], t1)

    ref = _table(data, "reference", ("resolution",))
    resolution = _number(ref.get("resolution", d["reference"]["resolution"]), "reference.resolution",
                         positive=True, integer=True)

    fin = _table(data, "finite", ("ns", "seeds", "kind", "seed"))
    ns = fin.get("ns", d["finite"]["ns"])
    if not isinstance(ns, list) or not ns:
        _fail("finite.ns", f"must be a non-empty list of graph sizes, got {ns!r}")
    ns = sorted({_number(n, "finite.ns", integer=True) for n in ns})
    if ns[0] < 2:
        _fail("finite.ns", f"graph sizes must be >= 2, got {ns[0]}")
    seeds = _number(fin.get("seeds", d["finite"]["seeds"]), "finite.seeds", positive=True, integer=True)
    kind = _choice(fin.get("kind", d["finite"]["kind"]), "finite.kind", ("weighted", "simple"))
    seed = _number(fin.get("seed", d["finite"]["seed"]), "finite.seed", nonneg=True, integer=True)

    sv = _table(data, "save", ("curve_points", "gif_frames", "finite_snapshots", "report"))
    curve_points = _number(sv.get("curve_points", d["save"]["curve_points"]), "save.curve_points", integer=True)
    if curve_points < 2:
        _fail("save.curve_points", f"must be >= 2, got {curve_points}")
    gif_frames = _number(sv.get("gif_frames", d["save"]["gif_frames"]), "save.gif_frames", nonneg=True, integer=True)
    flags = {}
    for k in ("finite_snapshots", "report"):
        v = sv.get(k, d["save"][k])
        if not isinstance(v, bool):
            _fail(f"save.{k}", f"must be true or false, got {v!r}")
        flags[k] = v
    if gif_frames == 1:
        _fail("save.gif_frames", "an animation needs 0 (none) or at least 2 frames")
    _check_sizes(parsed, ns, resolution, times, t1, curve_points, method, dt, "memory")  # the largest flow's
    for i, (_, terms) in enumerate(parsed):  # one gradient on the largest flow's blocks, before any work
        for j in (j for j, t in enumerate(terms) if t["term"] == "hom"):
            try:
                check_cost(terms[j]["pattern"], max(2 * resolution, ns[-1]), gradient=True, graph=False,
                           advice="use a smaller pattern, or fewer blocks (reference.resolution, finite.ns)")
            except CostError as exc:
                _fail(f"functionals[{i}].terms[{j}].pattern", str(exc))
    _check_start(parsed, init, (lo, hi), method, kind, base_dir)
    noise = None
    if "noise" in data:  # a noisy study: finite-n noisy SGD against the McKean-Vlasov limit
        from .noisy.study import parse_noise

        noise = parse_noise(data["noise"], t1, _fail)
        if gif_frames and "gif_frames" in sv:
            _fail("save.gif_frames", "a noisy study draws no animation: leave gif_frames out or set it to 0")
        gif_frames = 0
    _check_sizes(parsed, ns, resolution, times, t1, curve_points, method, dt, "time")

    return StudyConfig(
        title=title, t1=t1, times=tuple(times), functionals=tuple(parsed), initial=init, box=(lo, hi),
        method=method, dt=dt, resolution=resolution, ns=tuple(ns), seeds=seeds, kind=kind, seed=seed,
        curve_points=curve_points, gif_frames=gif_frames, finite_snapshots=flags["finite_snapshots"],
        report=flags["report"], rtol=rtol, atol=atol, noise=noise, base_dir=str(base_dir),
    )


#: the integrators with an embedded error estimate (the ones error control can drive), the
#: default first
ERROR_CONTROLLED = tuple(sorted((m for m in INTEGRATORS if get_integrator(m).has_error_estimate),
                                key=lambda m: (m != "dp54", m.startswith("ark"), -get_integrator(m).order)))


def _parse_integrator(integ, default, t1):
    """(method, dt, rtol, atol) from the [integrator] table.

    The table is read as a whole: if it names a step (dt) or a tolerance (rtol, atol), the
    built-in study's step settings are not mixed in.  ``rtol`` (with ``atol``, default 1e-3 rtol)
    means error control, default method dp54; ``dt`` means fixed steps, default method prox;
    the two are exclusive.  With neither, a method with an error estimate runs under the
    built-in tolerances and one without at dt = t1/200.
    """
    if "dt" in integ and ("rtol" in integ or "atol" in integ):
        _fail("integrator.dt", "give dt (fixed steps) or rtol/atol (error control, where the controller "
                               "chooses every step), not both")
    if "atol" in integ and "rtol" not in integ:
        _fail("integrator.atol", "only with rtol (error control); for fixed steps give dt")
    if "method" in integ:
        method = _choice(integ["method"], "integrator.method", INTEGRATORS)
    elif "dt" in integ:
        method = "prox"
    elif "rtol" in integ:
        method = default["method"] if default["method"] in ERROR_CONTROLLED else "dp54"
    else:
        method = default["method"]
    if "rtol" in integ:
        rtol, atol = integ["rtol"], integ.get("atol")
    elif "dt" not in integ and method in ERROR_CONTROLLED and "rtol" in default:
        rtol, atol = default["rtol"], default.get("atol")
    else:
        rtol = atol = None
    if rtol is not None:
        rtol = _number(rtol, "integrator.rtol", positive=True)
        if not 1e-12 <= rtol < 1:
            _fail("integrator.rtol", f"must lie in [1e-12, 1) (the integration check runs at rtol/10), got {rtol:g}")
        atol = 1e-3 * rtol if atol is None else _number(atol, "integrator.atol", nonneg=True)
        if method not in ERROR_CONTROLLED:
            _fail("integrator.method", f"{method!r} gives no error estimate, so it cannot run under error control "
                                       f"(integrator.rtol); with rtol use one of "
                                       f"{', '.join(repr(m) for m in ERROR_CONTROLLED)}, or give dt instead of rtol")
        return method, None, rtol, atol
    dt = _number(integ.get("dt", t1 / 200), "integrator.dt", positive=True)
    if dt > t1:
        _fail("integrator.dt", f"must not exceed t1 = {t1:g}, got {dt:g}")
    return method, dt, None, None


def _initial_values(W, m=256):
    """W_0's values: a step graphon's block values, or a function's values on an m x m midpoint grid."""
    if isinstance(W, StepGraphon):
        return np.asarray(W.values)
    x = (np.arange(m) + 0.5) / m
    return W(x[:, None], x[None, :])


def _check_start(parsed, init, box, method, kind, base_dir):
    """Reject, before any work, starts that the flows would reject only after the first flows ran."""
    lo, hi = box
    local = any(t["term"] in ("entropy", "rate") for _, terms in parsed for t in terms)
    if kind == "simple" and local:
        _fail("finite.kind", "'simple' graphs have entries 0 and 1, where entropy and rate terms have an "
                             "infinite gradient; allowed with these terms: 'weighted'")
    if kind == "simple" and (lo > 0 or hi < 1):
        _fail("finite.kind", f"'simple' graphs have entries 0 and 1, outside the box [{lo:g}, {hi:g}]; "
                             "use 'weighted' or a box containing [0, 1]")
    key = "initial.file" if "file" in init else "initial"
    try:
        W = _build_initial(init, box, base_dir)
        v = _initial_values(W)
    except (ValueError, TypeError, OSError) as exc:
        _fail(key, str(exc))
    vmin, vmax = float(np.min(v)), float(np.max(v))
    if vmin < lo or vmax > hi:
        _fail(key, f"W_0 takes values in [{vmin:.4g}, {vmax:.4g}], outside the box [{lo:g}, {hi:g}]; "
                   "change 'box' or set 'initial.clip'")
    if local and (vmin <= 0 or vmax >= 1):
        _fail("initial.clip", f"entropy and rate terms need W_0 strictly inside (0, 1), but it takes values in "
                              f"[{vmin:.4g}, {vmax:.4g}]; set for example clip = 1e-6 in [initial]")
    if get_integrator(method).implicit_local:
        for i, (_, terms) in enumerate(parsed):
            if not _build_functional(terms).split().local.convex:
                _fail("integrator.method", f"{method!r} treats the entropy/rate terms implicitly and needs a "
                                           f"non-negative total coefficient, and functionals[{i}] has a negative "
                                           "one; use 'euler' or 'heun' (fixed steps, dt) or 'bs32' or 'dp54' "
                                           "(error control, rtol)")


#: the speed assumed by the size check: faster than any one machine this runs on, so that the
#: time it estimates is a lower bound
ASSUMED_FLOPS = 1e12
#: the longest single flow the size check lets through (seconds, at ASSUMED_FLOPS)
MAX_FLOW_SECONDS = 30 * 86400.0


def _physical_memory():
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # pragma: no cover - not POSIX
        return None


def flow_cost(n, parsed, *, method, dt, t1, landings, saved):
    """Lower bounds on the memory (bytes) and work (floating-point operations) of one flow of an
    n x n matrix: (bytes, flops).

    Memory: 8 n^2 bytes for each n x n array the flow holds at once -- the state, the new
    state, the gradient and a scratch array, one array per stage of a Runge-Kutta method
    (two for the IMEX pairs) -- and for each of the ``saved`` states it keeps.  Work: one
    gradient evaluation costs, for each functional, the density engine's estimate for the
    gradient of each pattern (:func:`~graphonflow.hom.contraction_cost`; one n x n product,
    about n^3, for a triangle or a cycle) plus n^2 per term; a step costs one evaluation per
    stage (one less for FSAL pairs); there are at least ``landings`` steps under error control
    (every saved time is landed on) and t1 / dt with fixed steps.  The largest functional
    counts.

    >>> b, f = flow_cost(1000, [("K3", ({"term": "hom", "pattern": "K3", "coef": 1.0},))],
    ...                  method="prox", dt=0.5, t1=10.0, landings=5, saved=4)
    >>> b / 8e6, f / (20 * (1e9 + 1e6))
    (8.0, 1.0)
    """
    from .hom import contraction_cost

    integ = get_integrator(method)
    stages = getattr(integ, "s", 2 if method == "heun" else 1)
    arrays = 4 + (2 * stages if integ.implicit_local and stages > 1 else (stages if stages > 1 else 0)) + saved
    evals = max(1, stages - 1) if (stages > 1 and not integ.implicit_local) else stages
    per_eval = max(sum(float(n) ** 2 + (contraction_cost(t["pattern"] if isinstance(t["pattern"], str)
                                                           else [tuple(e) for e in t["pattern"]], int(n),
                                                           gradient=True, graph=False)
                                        if t["term"] == "hom" else 0.0) for t in terms)
                   for _, terms in parsed)
    steps = landings if dt is None else max(landings, math.ceil(t1 / dt))
    return 8.0 * float(n) ** 2 * arrays, steps * evals * per_eval


def _human_bytes(b):
    for unit, size in (("PB", 1e15), ("TB", 1e12), ("GB", 1e9), ("MB", 1e6)):
        if b >= size:
            return f"{b / size:.3g} {unit}"
    return f"{b / 1e3:.3g} kB"


def _human_seconds(t):
    for unit, size in (("years", 365.25 * 86400), ("days", 86400), ("hours", 3600), ("minutes", 60)):
        if t >= size:
            return f"{t / size:.3g} {unit}"
    return f"{t:.3g} s"


def _check_sizes(parsed, ns, resolution, times, t1, curve_points, method, dt, check):
    """Refuse, before any work, sizes whose largest flow cannot fit in memory (``check="memory"``)
    or would take more than MAX_FLOW_SECONDS at ASSUMED_FLOPS (``check="time"``); both estimates
    are lower bounds (:func:`flow_cost`)."""
    landings = len(set(times) | set(np.linspace(0.0, t1, curve_points).tolist()))
    memory = _physical_memory()
    for key, value, n, which in (("finite.ns", max(ns), max(ns), f"one flow at n = {max(ns)}"),
                                 ("reference.resolution", resolution, 2 * resolution,
                                  f"the reference flow on 2 x {resolution} = {2 * resolution} blocks")):
        need, work = flow_cost(n, parsed, method=method, dt=dt, t1=t1, landings=landings, saved=len(times))
        seconds = work / ASSUMED_FLOPS
        what = (f"{which} holds at least {_human_bytes(need)} in memory and needs at least "
                f"{work:.2g} floating-point operations (about {_human_seconds(seconds)} at "
                f"{ASSUMED_FLOPS:.0e} operations per second)")
        if check == "memory" and memory is not None and need > memory:
            _fail(key, f"{value} is too large: {what}, and this machine has {_human_bytes(memory)} of memory")
        if check == "time" and seconds > MAX_FLOW_SECONDS:
            _fail(key, f"{value} is too large: {what}, more than the {_human_seconds(MAX_FLOW_SECONDS)} allowed")


def _toml_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(float(v)) if isinstance(v, float) else str(v)
    if isinstance(v, str):
        return json.dumps(v)  # a JSON string is a valid TOML basic string
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{k} = {_toml_value(x)}" for k, x in v.items()) + " }"
    raise TypeError(f"cannot write {type(v).__name__} as TOML")


def to_toml(cfg: StudyConfig) -> str:
    """The configuration as a TOML document that :func:`load_config` reads back to ``cfg``."""
    d = cfg.as_dict()
    lines = [f"title = {_toml_value(d['title'])}", f"t1 = {_toml_value(d['t1'])}",
             f"times = {_toml_value(d['times'])}", f"box = {_toml_value(d['box'])}", ""]
    for f in d["functionals"]:
        lines += ["[[functionals]]", f"label = {_toml_value(f['label'])}", f"terms = {_toml_value(f['terms'])}", ""]
    for table in ("initial", "integrator", "reference", "finite", "save", "noise"):
        if table not in d:
            continue
        lines.append(f"[{table}]")
        lines += [f"{k} = {_toml_value(v)}" for k, v in d[table].items()]
        lines.append("")
    return "\n".join(lines)


def _term_label(t):
    c = t["coef"]
    name = {"hom": f"t({t.get('pattern')})", "edge": "t(K2)", "entropy": "E", "rate": f"I_{t.get('p')}"}[t["term"]]
    return name if c == 1 else f"{c:g} {name}"


def load_config(path=None) -> StudyConfig:
    """Read and validate a TOML study file (``None``: the built-in :data:`DEFAULT_CONFIG`).

    Relative file paths inside the configuration are read relative to the file's folder.
    """
    if path is None:
        return parse_config(tomllib.loads(DEFAULT_CONFIG))
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"no such config file: {path}")
    try:
        data = tomllib.loads(p.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from None
    return parse_config(data, base_dir=p.parent)


# --------------------------------------------------------------------------- running
@dataclass(frozen=True)
class StudyResult:
    """What :func:`run_study` produced.

    Attributes
    ----------
    out : Path
        The output directory (complete).
    config : StudyConfig
    studies : tuple of ConvergenceStudy
        One per functional, in the configuration's order (``integration_cut_gap`` holds the
        certified integration check of each reference: tol versus tol/10 under error control,
        dt versus dt/2 for fixed steps; ``integration_check`` says which).
    summary : dict
        The contents of ``summary.json``.
    wall_time : float
        Seconds for the whole study.
    resumed_from : Path or None
        The partial folder this run resumed from (None: it started afresh).
    restored, computed : tuple of (int, str)
        The flows reused from that folder and the flows this run computed, as (functional
        index, flow label), e.g. ``(0, "n=200 seed 1")``.
    """

    out: Path
    config: StudyConfig
    studies: tuple
    summary: dict = field(repr=False)
    wall_time: float = 0.0
    resumed_from: Path = None
    restored: tuple = ()
    computed: tuple = ()


class _Progress:
    """Progress bars (tqdm) for flows, quiet when asked or when stderr is not a terminal."""

    def __init__(self, t1, quiet, stream):
        self.t1 = t1
        self.quiet = quiet
        self.stream = stream
        self.bars = not quiet and hasattr(stream, "isatty") and stream.isatty()

    def line(self, s):
        if not self.quiet:
            print(s, file=self.stream, flush=True)

    def bar(self, label):
        if not self.bars:
            return None
        from tqdm.auto import tqdm

        bar = tqdm(total=self.t1, desc=f"  {label}", unit="t", leave=False, file=self.stream,
                   bar_format="{desc}: {percentage:3.0f}%|{bar:20}| t={n:.3g}/{total:g}{postfix} [{elapsed}<{remaining}]")

        def update(t, dt, energy, _bar=bar):
            _bar.n = min(t, self.t1)
            # tqdm puts ", " before the postfix: it follows the time directly ("t=3/4, F=... dt=...")
            _bar.set_postfix_str(f"F={energy:.6g} dt={dt:.3g}", refresh=False)
            _bar.update(0)

        def close(_bar=bar):
            _bar.refresh()  # show the final time, energy and step once, however fast the flow was
            _bar.close()

        update.close = close
        return update

    def tasks(self):
        """A ``task_done(label, done, total)`` callback for cluster runs: one bar of finished tasks
        on a terminal, None elsewhere (the progress lines say what finished)."""
        if not self.bars:
            return None
        from tqdm.auto import tqdm

        state = {}

        def update(label, done, total):
            bar = state.get("bar")
            if bar is None:
                bar = state["bar"] = tqdm(total=total, desc="  cluster", unit="task", leave=False, file=self.stream)
            bar.n = done
            bar.refresh()
            if done >= total:
                bar.close()

        return update


def _versions():
    import numba
    import scipy

    from . import __version__

    return {
        "graphonflow": __version__, "python": platform.python_version(), "numpy": np.__version__,
        "scipy": scipy.__version__, "numba": numba.__version__, "platform": platform.platform(),
    }


def _jsonable(x):
    if isinstance(x, enum.Enum):  # flow statuses (a str enum) become their plain values
        return _jsonable(x.value)
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return _jsonable(x.tolist())
    if isinstance(x, (np.floating, float)):
        x = float(x)
        return x if math.isfinite(x) else None
    if isinstance(x, np.integer):
        return int(x)
    return x


def _gap_ratio(gap, upper):
    """gap[k] / min over n of the seed-mean upper bound at time k: NaN where that distance is at
    rounding level (<= RATE_FLOOR, not data, as in the rate fit)."""
    smallest = np.asarray(upper).mean(axis=1).min(axis=0)
    ok = smallest > RATE_FLOOR
    return np.where(ok, np.asarray(gap) / np.where(ok, smallest, 1.0), np.nan)


def _gif_times(t1, frames):
    # quadratic spacing: the early, fast part of a flow gets more frames
    return t1 * np.linspace(0.0, 1.0, frames) ** 2


def _coarse(B, px=128):
    """Block-average a square array to at most px x px (for animation frames)."""
    m = B.shape[0]
    f = max(1, -(-m // px))
    if f == 1:
        return np.asarray(B, dtype=np.float32)
    k = m // f
    return np.asarray(B[: k * f, : k * f].reshape(k, f, k, f).mean(axis=(1, 3)), dtype=np.float32)


class StudyTerminated(KeyboardInterrupt):
    """SIGTERM arrived while :func:`run_study` ran (``timeout``, a cluster scheduler, ``kill``).

    It is handled like Ctrl-C (SIGINT): the finished work is kept in ``NAME.partial``
    (``partial``), and the next run of the same study resumes from it.
    """


def _on_sigterm(signum, frame):
    raise StudyTerminated(f"terminated by signal {signum} (SIGTERM)")


#: the manifest of a staging folder: the configuration and software it runs, for resuming
MANIFEST = "resume.json"
#: what decides whether a partial folder can be resumed besides the configuration
_RESUME_VERSIONS = ("graphonflow", "python", "numpy", "scipy", "numba")


def _slug(label):
    return re.sub(r"[^A-Za-z0-9]+", "_", label).strip("_")


def _atomic_write(path: Path, write):
    """Write a file through a temporary name and rename it into place (no torn files)."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as fh:
        write(fh)
    os.replace(tmp, path)


class _Store:
    """The finished flows of a staging folder: one ``flows/f{i}_{label}.npz`` per flow (its
    arrays, exact) and one line of ``checkpoint.jsonl`` per flow, written after the file (the
    line is what makes a flow count as finished; a torn last line is dropped on resume)."""

    ARRAYS = ("times", "energies", "grad_norms", "lower", "upper", "delta2_upper", "frame_times", "frames")

    def __init__(self, stage: Path):
        self.stage = Path(stage)
        self.dir = self.stage / "flows"
        self.log_path = self.stage / "checkpoint.jsonl"
        self.records = {}

    def load(self) -> int:
        """Read the finished flows of an earlier run (and rewrite the log without torn lines)."""
        if not self.log_path.is_file():
            return 0
        kept = []
        for line in self.log_path.read_text().splitlines():
            try:
                rec = json.loads(line)
                path = self.dir / rec["file"]
                with np.load(path) as z:
                    arrays = {k: z[k] for k in z.files}
                key = (int(rec["functional"]), rec["flow"])
            except (ValueError, KeyError, TypeError, OSError, zipfile.BadZipFile):
                continue  # a torn line, or a flow whose file did not make it: run it again
            self.records[key] = (rec, arrays)
            kept.append(line)
        _atomic_write(self.log_path, lambda fh: fh.write("".join(x + "\n" for x in kept).encode()))
        return len(self.records)

    def open(self):
        self.dir.mkdir(exist_ok=True)
        self.log = open(self.log_path, "a")

    def close(self):
        self.log.close()

    def record(self, i, label, data):
        """Checkpoint one finished flow (``data`` as convergence_study's ``on_flow`` gives it)."""
        fname = f"f{i}_{_slug(label)}.npz"
        arrays = {k: np.asarray(data[k]) for k in self.ARRAYS if k in data}
        states = data.get("states") or []
        arrays["states"] = np.stack([np.asarray(B, dtype=np.float64) for B in states]) if states else np.zeros(0)
        _atomic_write(self.dir / fname, lambda fh: np.savez(fh, **arrays))
        line = {"functional": i, "flow": label, "file": fname,
                **{k: v for k, v in data.items() if k not in ("states", "frames", "frame_times")}}
        self.log.write(json.dumps(_jsonable(line)) + "\n")
        self.log.flush()
        self.records[(i, label)] = (line, arrays)

    def lookup(self, i, label):
        """The record of a finished flow as ``on_flow`` gave it, or None."""
        got = self.records.get((i, label))
        if got is None:
            return None
        rec, arrays = got
        out = {k: v for k, v in rec.items() if k not in self.ARRAYS}
        out.update({k: arrays[k] for k in self.ARRAYS if k in arrays})
        out["states"] = list(arrays["states"]) if arrays["states"].ndim == 3 else []
        return out

    def count(self, i=None):
        return sum(1 for (j, _) in self.records if i is None or j == i)


def _manifest(cfg):
    return _jsonable({"config": cfg.as_dict(),
                      "versions": {k: v for k, v in _versions().items() if k in _RESUME_VERSIONS}})


def _first_difference(a, b, key=""):
    """The first key at which two JSON-like values differ, with both values; None if equal."""
    if isinstance(a, dict) and isinstance(b, dict):
        for k in list(a) + [k for k in b if k not in a]:
            if k not in a or k not in b:
                return f"'{key + k}' is set in only one of them"
            d = _first_difference(a[k], b[k], key + k + ".")
            if d:
                return d
        return None
    if a != b:
        return f"'{key.rstrip('.')}' is {json.dumps(a)} there and {json.dumps(b)} here"
    return None


def _resume_problem(folder: Path, cfg) -> str:
    """Why ``folder`` cannot be resumed by ``cfg`` ("" if it can)."""
    try:
        man = json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError):
        return "no resume.json (not a resumable staging folder)"
    want = _manifest(cfg)
    d = _first_difference(man.get("config"), want["config"])
    if d:
        return f"a different configuration: {d}"
    d = _first_difference(man.get("versions"), want["versions"])
    if d:
        return f"other software: {d}"
    return ""


def _check_output_folder(out: Path, folders):
    """Refuse, before any work, an output folder that cannot be written (PermissionError) or
    whose parent is not a directory (NotADirectoryError); the message names --out."""
    p = out.parent
    while not p.exists():
        p = p.parent
    if not p.is_dir():
        raise NotADirectoryError(f"cannot write the output folder {out} (--out): {p} is not a directory")
    if not os.access(p, os.W_OK | os.X_OK):
        raise PermissionError(f"cannot write the output folder {out} (--out): no write permission in {p}")
    for d in folders:  # folders the run replaces or writes into (their files are removed)
        if d.is_dir() and not os.access(d, os.W_OK | os.X_OK):
            raise PermissionError(f"cannot write the output folder {out} (--out): no write permission in {d}, "
                                  "which the study would replace")


def run_study(config=None, out="graphonflow-out", *, quiet=False, stream=None, overwrite=True,
              resume=True, client=None, workers=None, scheduler=None, task_threads=None) -> StudyResult:
    """Run a study and write its outputs to ``out`` (completely or not at all).

    Parameters
    ----------
    config : StudyConfig, dict, path or None
        A validated configuration, a dict as parsed from TOML, a path to a TOML file, or None
        for the built-in default study (the main job).
    out : path
        Output directory.  It is replaced only when the new results are complete.
    quiet : bool
        No progress lines or bars.
    stream : file, optional
        Where progress goes (default ``sys.stderr``).  Bars are shown only on a terminal.
    overwrite : bool
        Replace an existing ``out`` (only an earlier study's output, with ``summary.json`` and
        ``config.toml``, or an empty folder); if False, an existing ``out`` is an error.
    resume : bool
        Resume from a partial folder of the same study next to ``out`` (``.NAME.partial``, left
        by a killed run, or ``NAME.partial``, kept after a failure, Ctrl-C or SIGTERM): its
        finished flows are reused, the rest is computed, and the result is the same, bit for
        bit, as an uninterrupted run.  The folder must hold the same configuration and
        software versions, else the run stops before any work and names the difference.
        False (``graphonflow run --restart``) discards partial folders and starts over.
    client : dask.distributed.Client, optional
        Run every flow as a task on this cluster (needs the ``cluster`` extra): the references,
        the finite flows, their brackets and the animation flows of all functionals at once.
        The outputs equal the serial run's (``summary.json`` up to its wall times,
        ``trajectory.npz`` bit for bit); each finished flow is checkpointed here, in this
        process, as it finishes, so resuming works as without a cluster.
    workers : int, optional
        Instead of ``client``: start a local cluster of this many worker processes for the run
        (``graphonflow run --workers N``).
    scheduler : str, optional
        Instead of ``client``: connect to the dask scheduler at this address
        (``graphonflow run --scheduler tcp://host:8786``).
    task_threads : int, optional
        On a cluster: BLAS and Numba threads per task (``--task-threads``).  Default: this
        process's counts, which makes the outputs those of the serial run.  With k, they are
        those of a serial run under ``OPENBLAS_NUM_THREADS=k NUMBA_NUM_THREADS=k``; one thread
        per task keeps the workers from oversubscribing the cores.

    Returns
    -------
    StudyResult

    Raises
    ------
    ConfigError
        An invalid configuration (before any work).
    PermissionError, NotADirectoryError
        ``out`` cannot be written (before any work).
    FileExistsError
        ``out`` is not a study's output, or a partial folder holds another study.
    StudyError
        The study failed while running; its finished work is in ``NAME.partial`` next to
        ``out`` (``StudyError.partial``), and ``out`` is untouched.
    StudyTerminated, KeyboardInterrupt
        SIGTERM or Ctrl-C: the finished work is in ``NAME.partial`` (the exception's
        ``partial``); the next run resumes from it.
    OSError
        ``scheduler`` cannot be reached (before any work).

    Examples
    --------
    >>> import tempfile, os
    >>> cfg = {"t1": 0.5, "functionals": [{"terms": [{"term": "hom", "pattern": "K3"},
    ...        {"term": "edge", "coef": -1.0}]}], "initial": {"graphon": "mean_xy"},
    ...        "reference": {"resolution": 8}, "finite": {"ns": [10, 20]},
    ...        "save": {"gif_frames": 0, "report": False}}
    >>> d = tempfile.mkdtemp()
    >>> res = run_study(cfg, os.path.join(d, "out"), quiet=True)
    >>> sorted(p.name for p in res.out.iterdir())
    ['checkpoint.jsonl', 'config.toml', 'summary.json', 'trajectory.npz']
    >>> res.summary["functionals"][0]["statuses"][0], len(res.computed), res.restored
    ('t1', 7, ())
    """
    t_start = time.perf_counter()
    if config is None:
        cfg = load_config(None)
    elif isinstance(config, StudyConfig):
        cfg = config
    elif isinstance(config, dict):
        cfg = parse_config(config)
    else:
        cfg = load_config(config)
    stream = sys.stderr if stream is None else stream
    prog = _Progress(cfg.t1, quiet, stream)
    out = Path(out)
    if out.name in ("", ".", ".."):  # name the folder itself, so that staging happens next to it
        out = out.resolve()
    stage = out.parent / f".{out.name}.partial"
    kept = out.parent / f"{out.name}.partial"
    _check_output_folder(out, (out, stage, kept))
    if out.exists() and not overwrite:
        raise FileExistsError(f"{out} exists; remove it or choose another --out")
    if out.exists() and not out.is_dir():
        raise FileExistsError(f"{out} exists and is not a directory")
    if out.exists() and any(out.iterdir()) and not all((out / f).is_file() for f in ("summary.json", "config.toml")):
        # only an earlier study's output (or an empty folder) is ever replaced
        raise FileExistsError(f"{out} exists and is not a study's output (no summary.json and config.toml); "
                              "it is never replaced: remove it or choose another --out")
    on_cluster = [k for k, v in (("client", client), ("workers", workers), ("scheduler", scheduler)) if v is not None]
    if task_threads is not None:
        if not on_cluster:
            raise ValueError("task_threads (--task-threads) applies to a cluster run: give workers=, scheduler= "
                             "or client= (--workers/--scheduler)")
        from .convergence import task_settings

        task_settings(task_threads)  # checked before any work
    if on_cluster and cfg.noise is not None:
        raise ConfigError(f"[noise]: a noisy study runs on one machine; drop {on_cluster[0]}= (--workers/--scheduler)")
    from contextlib import nullcontext

    if on_cluster:
        from .cluster.sweep import cluster_client

        cluster = cluster_client(client, workers, scheduler)  # connects (or starts) before any work
    else:
        cluster = nullcontext(None)
    with cluster as cl:
        resumed_from = _prepare_stage(cfg, stage, kept, resume, prog)
        store = _Store(stage)
        if resumed_from is not None:
            store.load()
        else:
            stage.mkdir(parents=True)
            (stage / MANIFEST).write_text(json.dumps(_manifest(cfg), indent=1) + "\n")
        if store.records:
            per = "; ".join(f"{lab}: {store.count(i)} of {_flow_count(cfg)}" for i, (lab, _) in enumerate(cfg.functionals))
            prog.line(f"resuming from {resumed_from}: {store.count()} finished flows are reused ({per}); "
                      "the rest is computed (graphonflow run --restart starts over)")
        elif resumed_from is not None:
            prog.line(f"resuming from {resumed_from}: it holds no finished flow yet")
        term = threading.current_thread() is threading.main_thread()
        previous = signal.signal(signal.SIGTERM, _on_sigterm) if term else None
        try:
            result = _run(cfg, stage, prog, t_start, store, cl, task_threads)
        except BaseException as exc:
            if kept.exists():
                shutil.rmtree(kept)
            stage.rename(kept)
            if isinstance(exc, Exception):
                raise StudyError(f"the study failed ({type(exc).__name__}: {exc}); finished work was kept in {kept}",
                                 kept) from exc
            exc.partial = kept  # KeyboardInterrupt and the like: the command line names the folder
            raise
        finally:
            if term:
                signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)
    # move into place: the old directory is replaced only now that the new one is complete
    old = out.parent / f".{out.name}.old"
    if old.exists():
        shutil.rmtree(old)
    if out.exists():
        out.rename(old)
    stage.rename(out)
    if old.exists():
        shutil.rmtree(old)
    summary = result.pop("summary")
    prog.line(f"wrote {out}/ ({', '.join(sorted(p.name for p in out.iterdir()))})")
    return StudyResult(out=out, config=cfg, summary=summary, resumed_from=resumed_from, **result)


def _flow_count(cfg) -> int:
    """Flows per functional: two references, the integration check, the finite flows and the
    animation's two (limit and one finite size); for a noisy study, its finite runs."""
    if cfg.noise is not None:
        return len(cfg.ns) * cfg.seeds
    return 3 + len(cfg.ns) * cfg.seeds + (2 if cfg.gif_frames else 0)


def _prepare_stage(cfg, stage: Path, kept: Path, resume: bool, prog) -> Path:
    """Decide where the run starts: the partial folder it resumes (moved to ``stage``, and
    returned), or None (a fresh ``stage``: partial folders that cannot be resumed are
    removed if they are ours, and one holding another study stops the run)."""
    found = [d for d in (stage, kept) if d.is_dir()]
    if not resume:
        for d in found:
            shutil.rmtree(d)
        if found:
            prog.line(f"--restart: removed {', '.join(str(d) for d in found)}")
        return None
    usable = []
    for d in found:
        why = _resume_problem(d, cfg)
        if not why:
            usable.append(d)
        elif why.startswith("no resume.json"):
            if d == stage:  # our own hidden staging folder from before resuming existed
                shutil.rmtree(d)
        else:
            raise FileExistsError(f"{d} holds an unfinished study that this run cannot resume ({why}); "
                                  "rerun with --restart (run_study(..., resume=False)) to discard it, "
                                  "or choose another --out")
    if not usable:
        return None
    counts = {d: _Store(d).load() for d in usable}
    best = max(usable, key=lambda d: counts[d])  # the one with more finished flows (ties: .NAME.partial)
    for d in usable:
        if d != best:
            shutil.rmtree(d)
            prog.line(f"removed {d} ({counts[d]} finished flows; {best} has {counts[best]})")
    if best != stage:
        best.rename(stage)
    return best


def _run(cfg: StudyConfig, stage: Path, prog: _Progress, t_start: float, store: _Store, client=None,
         task_threads=None) -> dict:
    if cfg.noise is not None:
        return _run_noisy(cfg, stage, prog, t_start, store)
    W0 = cfg.initial_graphon()
    times = np.asarray(cfg.times)
    curve = np.linspace(0.0, cfg.t1, cfg.curve_points)
    (stage / "config.toml").write_text(to_toml(cfg))
    store.open()
    studies, frames, fsummaries = [], [], []
    arrays = {}
    restored, computed = [], []

    def collect(i, label, study, fr, study_wall):
        """The arrays and the summary entry of functional i."""
        gap = study.integration_cut_gap
        gap_key = "tolerance_gap" if study.error_control else "time_step_gap"
        studies.append(study)
        frames.append(fr)
        p = f"f{i}_"
        part = {
            p + "times": study.times, p + "ns": study.ns, p + "lower": study.lower, p + "upper": study.upper,
            p + "delta2_upper": study.delta2_upper, p + "rate": study.rate, p + "rate_stderr": study.rate_stderr,
            p + "rate_lower": study.rate_lower, p + "rate_lower_stderr": study.rate_lower_stderr,
            p + "rate_intercept": study.rate_intercept, p + "rate_lower_intercept": study.rate_lower_intercept,
            p + "bracket_ratio": study.bracket_ratio, p + "rate_resolved": study.rate_resolved,
            p + "resolution_gap": study.resolution_gap, p + "resolution_cut_gap": study.resolution_cut_gap,
            p + "integration_gap": gap, p + gap_key: gap, p + "curve_times": study.curve_times,
            p + "curve_energies": study.curve_energies, p + "curve_grad_norms": study.curve_grad_norms,
            p + "reference_curve_energies": study.reference_curve_energies,
            p + "reference_curve_grad_norms": study.reference_curve_grad_norms,
            p + "reference_states": np.stack([S.values for S in study.reference]).astype(np.float32),
            p + "reference_widths": study.reference[0].widths,
        }
        if cfg.finite_snapshots:
            nmax = int(study.ns[-1])
            part[p + f"finite_states_n{nmax}"] = np.stack(study.finite_states[nmax]).astype(np.float32)
        if fr is not None:
            part[p + "frame_times"], part[p + "frames"] = fr["times"], fr["limit"]
            part[p + "frames_finite"], part[p + "frames_finite_n"] = fr["finite"], np.asarray(fr["n"])
        arrays.update(part)
        fsummaries.append({
            "label": label, "terms": [dict(t) for t in cfg.functionals[i][1]],
            "statuses": list(study.statuses), "messages": list(study.messages),
            "reference_final_energy": float(study.reference_curve_energies[-1]),
            "final_energies": {str(n): study.curve_energies[k, :, -1] for k, n in enumerate(study.ns)},
            "times": study.times,
            "cut_distance_lower_mean": study.lower.mean(axis=1),
            "cut_distance_upper_mean": study.upper.mean(axis=1),
            "delta2_upper_mean": study.delta2_upper.mean(axis=1),
            "rate": study.rate, "rate_stderr": study.rate_stderr,
            "rate_upper": study.rate, "rate_upper_stderr": study.rate_stderr,
            "rate_lower": study.rate_lower, "rate_lower_stderr": study.rate_lower_stderr,
            "bracket_ratio": study.bracket_ratio, "rate_resolved": [bool(x) for x in study.rate_resolved],
            "resolution_gap_l2": study.resolution_gap, "resolution_gap_cut": study.resolution_cut_gap,
            "integrator": cfg.integrator_text(), "controller": study.controller,
            "integration_check": study.integration_check,
            "integration_gap_cut": gap, gap_key + "_cut": gap,
            # the gap against the smallest distance the report shows at each time (mean upper
            # bound over seeds, smallest over n): it should be well below 1
            "integration_gap_over_smallest_distance": _gap_ratio(gap, study.upper),
            "flow_wall_times": {str(n): study.flow_wall_times[k] for k, n in enumerate(study.ns)},
            "wall_time": study_wall,
        })
        prog.line(study.table())

    try:
        if client is not None:
            for i, (label, study, fr, study_wall) in enumerate(
                    _run_on_cluster(cfg, W0, times, curve, store, prog, restored, computed, client,
                                    task_threads)):
                collect(i, label, study, fr, study_wall)
        else:
            for i, (label, _) in enumerate(cfg.functionals):
                F = cfg.functional(i)
                # every functional starts from the same samples: a fresh generator from the seed
                gen = np.random.default_rng(cfg.seed)
                prog.line(f"[{i + 1}/{len(cfg.functionals)}] {label}: reference at {cfg.resolution} and "
                          f"{2 * cfg.resolution} blocks, then n = {', '.join(map(str, cfg.ns))}")
                tf = time.perf_counter()

                def on_flow(lab, data, _i=i):
                    store.record(_i, lab, data)
                    computed.append((_i, lab))

                study = convergence_study(
                    F, W0, list(cfg.ns), cfg.t1, times=times, seeds=cfg.seeds, **cfg.flow_options(),
                    resolution=cfg.resolution, kind=cfg.kind, rng=gen, box=cfg.box, curve_times=curve,
                    keep_states=cfg.finite_snapshots or cfg.report, flow_progress=prog.bar, on_flow=on_flow,
                    progress=lambda s: prog.line(f"    {s}"), check_integration=True,
                    restore=lambda lab, _i=i: store.lookup(_i, lab),
                )
                restored += [(i, lab) for lab in study.restored]
                fr = None
                if cfg.gif_frames:  # animation frames from flows of their own (coarsened for size)
                    fr = _animation(cfg, i, F, W0, study, store, restored, computed, prog)
                study_wall = time.perf_counter() - tf
                collect(i, label, study, fr, study_wall)
    finally:
        store.close()
    np.savez_compressed(stage / "trajectory.npz", **arrays)
    summary = {
        "title": cfg.title, "config": cfg.as_dict(), "versions": _versions(),
        "rates": RATES_NOTE, "functionals": fsummaries, "files": {},
    }
    if cfg.report:
        from .report import write_report

        t_fig = time.perf_counter()
        files = write_report(stage, cfg, studies, frames, summary)
        summary["files"] = files
        summary["figure_wall_time"] = time.perf_counter() - t_fig
    summary["wall_time"] = time.perf_counter() - t_start
    (stage / "summary.json").write_text(json.dumps(_jsonable(summary), indent=2) + "\n")
    if cfg.report:  # the report states the total wall time too
        from .report import write_html

        write_html(stage, cfg, studies, summary)
    shutil.rmtree(store.dir)  # folded into trajectory.npz
    os.remove(stage / MANIFEST)
    return {"studies": tuple(studies), "summary": _jsonable(summary),
            "wall_time": time.perf_counter() - t_start, "restored": tuple(restored), "computed": tuple(computed)}


def _run_noisy(cfg, stage, prog, t_start, store) -> dict:
    """The noisy study (graphonflow.noisy.study): finite-n noisy SGD against the McKean-Vlasov limit."""
    from .noisy.study import run_noisy_study, write_noisy_html, write_noisy_report

    (stage / "config.toml").write_text(to_toml(cfg))
    store.open()
    try:
        studies, arrays, fsummaries, restored, computed = run_noisy_study(
            cfg, cfg.initial_graphon(), prog, store, keep_states=cfg.finite_snapshots)
    finally:
        store.close()
    np.savez_compressed(stage / "trajectory.npz", **arrays)
    summary = {"title": cfg.title, "config": cfg.as_dict(), "versions": _versions(), "rates": RATES_NOTE,
               "functionals": fsummaries, "files": {}}
    if cfg.report:
        t_fig = time.perf_counter()
        summary["files"] = write_noisy_report(stage, cfg, studies, summary)
        summary["figure_wall_time"] = time.perf_counter() - t_fig
    summary["wall_time"] = time.perf_counter() - t_start
    (stage / "summary.json").write_text(json.dumps(_jsonable(summary), indent=2) + "\n")
    if cfg.report:
        write_noisy_html(stage, cfg, studies, summary)
    shutil.rmtree(store.dir)
    os.remove(stage / MANIFEST)
    return {"studies": tuple(studies), "summary": _jsonable(summary),
            "wall_time": time.perf_counter() - t_start, "restored": tuple(restored), "computed": tuple(computed)}


#: how summary.json's rates are to be read (stored in it under "rates")
RATES_NOTE = {
    "fit": "least squares of log(bound) on log(n) over all (n, seed) points above 1e-12, separately for the "
           "upper bounds (rate, rate_upper) and the lower bounds (rate_lower)",
    "stderr": "ordinary least-squares standard error of the slope: sqrt(sum(residual^2) / (points - 2) / "
              "sum((log n - mean log n)^2)); points are treated as independent, so it measures the scatter "
              "between seeds and sizes, not the width of the bracket",
    "resolved": f"rate_resolved is true where the largest upper / lower over the points of the fit "
                f"(bracket_ratio) is at most {RESOLVED_RATIO:g}",
}


def gif_size(ns) -> int:
    """The finite size shown in the animation next to the limit: the largest n <= 256 (the
    smallest n if all are larger), so that its extra flow stays cheap."""
    small = [int(n) for n in ns if n <= 256]
    return max(small) if small else int(min(ns))


def _animation(cfg, i, F, W0, study, store, restored, computed, prog):
    """Frames of the limit (the m-block reference) and of one finite flow (seed 0, n =
    :func:`gif_size`), each from a flow of its own that lands on the frame times."""
    n = gif_size(cfg.ns)
    out = {"n": n}
    for key, lab in _animation_flows(cfg):
        rec = store.lookup(i, lab)
        if rec is None:
            bar = prog.bar(lab)
            rec = _animation_run(F, _animation_start(W0, key, cfg, study.base_seed), cfg.t1, cfg.flow_options(),
                                 cfg.box, _gif_times(cfg.t1, cfg.gif_frames), f"{cfg.functionals[i][0]!r} ({lab})", bar)
            store.record(i, lab, rec)
            computed.append((i, lab))
        else:
            restored.append((i, lab))
        out["times"], out[key] = rec["frame_times"], rec["frames"]
    return out


def _animation_flows(cfg):
    """(key, label) of the two animation flows: the limit, then the finite flow of :func:`gif_size`."""
    return (("limit", f"animation m={cfg.resolution}"), ("finite", f"animation n={gif_size(cfg.ns)} seed 0"))


def _animation_start(W0, key, cfg, base):
    if key == "limit":
        return block_average(W0, cfg.resolution)
    return finite_start(W0, gif_size(cfg.ns), 0, base, cfg.kind).matrix


def _animation_run(F, B0, t1, options, box, ft, what, bar=None):
    """One animation flow: its coarsened frames at the times ft, as the checkpoint records them."""
    try:
        r = flow(F, B0, t1=t1, **options, box=box, save_at=ft, save_fn=lambda t, B: _coarse(B), progress=bar)
    finally:
        if bar is not None:
            bar.close()
    if not r.success:
        raise RuntimeError(f"the animation flow of {what} failed: {r.message}")
    return {"frame_times": np.asarray(r.times), "frames": np.stack(r.states), "status": r.status, "message": r.message}


def _animation_task(F, W0, key, cfg, base, what):
    """A cluster task: one animation flow, its initial state made on the worker."""
    return _animation_run(F, _animation_start(W0, key, cfg, base), cfg.t1, cfg.flow_options(), cfg.box,
                          _gif_times(cfg.t1, cfg.gif_frames), what)


class _ClusterAnimation:
    """The two animation flows of functional i as cluster tasks (see convergence._ClusterStudy)."""

    def __init__(self, cfg, i, F, W0, base, store, computed, client, settings=None):
        self.cfg, self.i, self.F, self.W0, self.base = cfg, i, F, W0, base
        self.store, self.computed, self.client = store, computed, client
        self.settings = settings
        self.out = {"n": gif_size(cfg.ns)}
        self.restored = []

    def start(self):
        from .cluster.sweep import submit

        watch = []
        for key, lab in _animation_flows(self.cfg):
            rec = self.store.lookup(self.i, lab)
            if rec is not None:
                self.restored.append((self.i, lab))
                self.out["times"], self.out[key] = rec["frame_times"], rec["frames"]
                continue
            what = f"{self.cfg.functionals[self.i][0]!r} ({lab})"
            work = int(self.cfg.resolution) ** 3 if key == "limit" else gif_size(self.cfg.ns) ** 3
            fut = submit(self.client, _animation_task, self.F, self.W0, key, self.cfg, self.base, what, label=lab,
                         settings=self.settings, priority=work)
            watch.append((fut, self._handler(key, lab)))
        return watch

    def _handler(self, key, lab):
        def handle(rec):
            self.store.record(self.i, lab, rec)
            self.computed.append((self.i, lab))
            self.out["times"], self.out[key] = rec["frame_times"], rec["frames"]
        return handle


def _run_on_cluster(cfg, W0, times, curve, store, prog, restored, computed, client, task_threads=None):
    """Every flow of every functional as tasks on the cluster at once (the functionals overlap);
    checkpoints and progress lines in this process as tasks finish.  Returns (label, study,
    frames, wall time) per functional, in order, with what the serial run computes."""
    from .cluster.sweep import describe, oversubscription
    from .convergence import _assemble, _ClusterStudy, _Hooks, make_plan, run_cluster_jobs, task_settings
    from .cluster.sweep import thread_settings

    settings = task_settings(task_threads) or thread_settings()

    t0 = time.perf_counter()
    jobs, parts = [], []
    for i, (label, _) in enumerate(cfg.functionals):
        F = cfg.functional(i)
        # every functional starts from the same samples: a fresh generator from the seed
        plan = make_plan(F, W0, list(cfg.ns), cfg.t1, times=times, seeds=cfg.seeds, **cfg.flow_options(),
                         resolution=cfg.resolution, kind=cfg.kind, rng=np.random.default_rng(cfg.seed), box=cfg.box,
                         curve_times=curve, keep_states=cfg.finite_snapshots or cfg.report, check=True)

        def on_flow(lab, data, _i=i):
            store.record(_i, lab, data)
            computed.append((_i, lab))

        hooks = _Hooks(lambda s, _lab=label: prog.line(f"    [{_lab}] {s}"), on_flow,
                       lambda lab, _i=i: store.lookup(_i, lab))
        job = _ClusterStudy(plan, client, hooks, settings)
        anim = _ClusterAnimation(cfg, i, F, W0, plan.base, store, computed, client, settings) if cfg.gif_frames \
            else None
        jobs += [job] + ([anim] if anim is not None else [])
        parts.append((label, plan, job, anim))
    threads = "this process's thread counts" if task_threads is None else f"{task_threads} thread(s) per task"
    prog.line(f"running {len(cfg.functionals)} functional(s) on {describe(client)}: every flow is a task, "
              f"with {threads}")
    note = oversubscription(client, settings)
    if note is not None:
        prog.line(note)
    run_cluster_jobs(client, jobs, task_done=prog.tasks())
    wall = time.perf_counter() - t0
    out = []
    for i, (label, plan, job, anim) in enumerate(parts):
        study = _assemble(plan, job.outcomes(), t0)
        restored += [(i, lab) for lab in study.restored] + (anim.restored if anim is not None else [])
        out.append((label, study, anim.out if anim is not None else None, wall))
    return out


# --------------------------------------------------------------------------- loading
@dataclass(frozen=True)
class LoadedFunctional:
    """One functional of a finished study, as :func:`load_study` reads it back.

    ``lower`` and ``upper`` (and ``delta2_upper``) have shape (len(ns), seeds, len(times)): the
    certified bracket of every finite flow at every measured time; the ``rate*`` arrays, the
    ``bracket_ratio`` and ``rate_resolved`` have one entry per time (see
    :class:`~graphonflow.convergence.ConvergenceStudy`); ``summary`` is the functional's entry
    of ``summary.json``.
    """

    label: str
    times: np.ndarray
    ns: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    delta2_upper: np.ndarray
    rate: np.ndarray
    rate_stderr: np.ndarray
    rate_lower: np.ndarray
    rate_lower_stderr: np.ndarray
    bracket_ratio: np.ndarray
    rate_resolved: np.ndarray
    summary: dict = field(repr=False)


@dataclass(frozen=True)
class LoadedStudy:
    """A finished study read back from its folder by :func:`load_study`.

    Attributes
    ----------
    out : Path
        The folder.
    config : StudyConfig
        The configuration it ran (``config.toml``).
    summary : dict
        ``summary.json``.
    functionals : tuple of LoadedFunctional
        Per functional: times, sizes, brackets per n and seed, rates.
    arrays : dict
        Every array of ``trajectory.npz`` by name (``f{i}_...``).
    """

    out: Path
    config: StudyConfig
    summary: dict = field(repr=False)
    functionals: tuple = ()
    arrays: dict = field(default_factory=dict, repr=False)


def load_study(path) -> LoadedStudy:
    """Load a finished study (the folder ``graphonflow run`` or :func:`run_study` wrote).

    Reads ``summary.json``, ``config.toml`` and ``trajectory.npz``; the arrays come back exactly
    as they were saved.  Folders written before the lower-bound fits existed get them
    computed from the saved brackets (the same least-squares fits).

    Examples
    --------
    >>> import tempfile, os
    >>> cfg = {"t1": 0.5, "functionals": [{"terms": [{"term": "hom", "pattern": "K3"}]}],
    ...        "initial": {"graphon": "mean_xy"}, "reference": {"resolution": 8},
    ...        "finite": {"ns": [10, 20]}, "save": {"gif_frames": 0, "report": False}}
    >>> res = run_study(cfg, os.path.join(tempfile.mkdtemp(), "out"), quiet=True)
    >>> st = load_study(res.out)
    >>> f = st.functionals[0]
    >>> f.upper.shape, bool((f.upper == res.studies[0].upper).all()), st.config == res.config
    ((2, 2, 3), True, True)
    """
    d = Path(path)
    missing = [f for f in ("summary.json", "config.toml", "trajectory.npz") if not (d / f).is_file()]
    if not d.is_dir() or missing:
        raise FileNotFoundError(f"{d} is not a finished study's folder (missing: "
                                f"{', '.join(missing) if d.is_dir() else 'the folder itself'})")
    try:
        summary = json.loads((d / "summary.json").read_text())
    except ValueError as exc:
        raise ValueError(f"{d / 'summary.json'} is not valid JSON: {exc}") from None
    cfg = load_config(d / "config.toml")
    with np.load(d / "trajectory.npz") as z:
        arrays = {k: z[k] for k in z.files}
    funcs = []
    for i, fs in enumerate(summary.get("functionals", [])):
        p = f"f{i}_"
        try:
            ns, lower, upper = arrays[p + "ns"], arrays[p + "lower"], arrays[p + "upper"]
        except KeyError as exc:
            raise ValueError(f"{d / 'trajectory.npz'} has no array {exc.args[0]!r}") from None
        fits = fit_rates(ns, lower, upper)
        get = {k: arrays.get(p + k, fits[k]) for k in ("rate", "rate_stderr", "rate_lower", "rate_lower_stderr",
                                                        "bracket_ratio", "rate_resolved")}
        funcs.append(LoadedFunctional(label=fs.get("label", cfg.functionals[i][0]), times=arrays[p + "times"], ns=ns,
                                      lower=lower, upper=upper,
                                      delta2_upper=arrays.get(p + "delta2_upper", np.full(upper.shape, np.nan)),
                                      summary=fs, **get))
    return LoadedStudy(out=d, config=cfg, summary=summary, functionals=tuple(funcs), arrays=arrays)

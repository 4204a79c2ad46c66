"""Command-line entry point: ``graphonflow`` (or ``python -m graphonflow``).

``graphonflow`` with no command runs the built-in study (the main job, see
:mod:`graphonflow.study`); ``graphonflow run CONFIG.toml`` runs a study from a file;
``density`` and ``distance`` answer one question about graph files (read by
:func:`graphonflow.io.read_graph`); ``demo`` prints densities in a sampled graph and its limit.
Every error about an input stops the command with exit status 2 and one line on standard
error, ``graphonflow COMMAND: error: FILE[, line N]: what``.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path

import numpy as np

# read_graph is also re-exported as graphonflow.__main__.read_graph
from .io import DUPLICATES, read_graph

#: The patterns of ``graphonflow demo``, in the order of its table.
DEMO_PATTERNS = ("K2", "P3", "K3", "C4", "S3", "K4", "C5")
#: The kinds of ``graphonflow density --kind``.
KINDS = ("hom", "inj", "ind")
_KIND_LABEL = {"hom": "t    ", "inj": "t_inj", "ind": "t_ind"}


def demo(n: int = 400, seed: int = 0, out=None, progress=None) -> dict:
    """Print t, t_inj and t_ind for a few patterns in G(n, W) and in W(x, y) = xy.

    G is a W-random simple graph drawn with ``numpy.random.default_rng(seed)``: labels U_i
    uniform on [0, 1] (sorted), and the edge ij present with probability U_i U_j.  For this
    W every density has a closed form, t(F, xy) = prod over the vertices v of F of
    1/(deg v + 1), printed next to the quadrature value t(F, W) (32 Gauss-Legendre nodes)
    and the three densities of G.

    Cost: every entry is an O(n^3) matrix computation except the K4 terms.  t_inj(K4, G)
    is about n^4 floating-point operations (K4 has treewidth 3), and the induced densities
    of the 4-vertex patterns need it (t_ind(F) sums t_inj of the supergraphs of F, K4 among
    them), so the C4 row pays it once; the other rows reuse it.  At n = 2000 that is
    1.6e13 operations; 5-vertex induced densities (n^5) are skipped.

    Parameters
    ----------
    n : int
        Vertices of G (at least 5).
    seed : int
        Seed of the sample.
    out : text stream
        Where the table goes (default ``sys.stdout``); flushed after every row.
    progress : text stream or None
        Where to write what is being computed, with timings (the command line passes
        standard error unless ``--quiet``); None for silence.

    Returns
    -------
    dict
        The printed numbers keyed by (pattern, target, kind), target "W" or "G".

    Examples
    --------
    >>> import io
    >>> r = demo(30, seed=1, out=io.StringIO())
    >>> round(r[("K3", "W", "hom")], 6), round(1 / 27, 6)   # closed form 1/3^3
    (0.037037, 0.037037)
    """
    from .hom import HomWorkspace
    from .patterns import as_pattern

    out = out or sys.stdout

    def note(msg, end="\n"):
        if progress is not None:
            print(msg, end=end, file=progress, flush=True)

    t_start = time.perf_counter()
    rng = np.random.default_rng(seed)

    def W(x, y):
        return x * y

    note(f"graphonflow demo: sampling G({n}, xy) and reading W = xy at 32 quadrature nodes ...", end="")
    t0 = time.perf_counter()
    U = np.sort(rng.random(n))
    P = W(U[:, None], U[None, :])
    A = (rng.random((n, n)) < P).astype(float)
    A = np.triu(A, 1)
    A = A + A.T
    ws_graph = HomWorkspace(A)
    ws_limit = HomWorkspace(W, quad_nodes=32)
    note(f" {time.perf_counter() - t0:.2f} s")
    results = {}
    print(f"graphonflow demo: W(x, y) = x*y and a sampled simple graph G({n}, W), seed {seed}", file=out)
    print("closed form: t(F, xy) = prod over vertices of 1/(deg + 1)", file=out)
    header = f"{'F':>4} {'t(F,W)':>10} {'closed':>10} {'t(F,G)':>10} {'t_inj(F,G)':>11} {'t_ind(F,G)':>11}"
    print(header, file=out)
    print("-" * len(header), file=out, flush=True)
    k4_done = False
    for F in DEMO_PATTERNS:
        p = as_pattern(F)
        closed = float(np.prod([1.0 / (d + 1) for d in p.degrees]))
        do_ind = p.k <= 4  # induced densities of 5-vertex patterns need t_inj(K5): n^5 work
        what = f"t({F}, W), t({F}, G), t_inj({F}, G)" + (f", t_ind({F}, G)" if do_ind else "")
        if p.k == 4 and not k4_done:
            cost = f"{float(n) ** 4:.2g}"
            what += (f" [t_inj(K4, G) first: about n^4 = {cost} operations]" if F == "K4" else
                     f" [t_ind({F}) needs t_inj(K4, G): about n^4 = {cost} operations]")
            k4_done = True
        note(f"graphonflow demo: {F}: {what} ...", end="")
        times = {}
        t0 = time.perf_counter()
        tw = ws_limit.density(p)
        th = ws_graph.density(p)
        times["t"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        ti = ws_graph.density(p, "inj")
        times["t_inj"] = time.perf_counter() - t0
        td = float("nan")
        if do_ind:
            t0 = time.perf_counter()
            td = ws_graph.density(p, "ind")
            times["t_ind"] = time.perf_counter() - t0
        note(" " + ", ".join(f"{k} {v:.2f} s" for k, v in times.items()))
        results[(F, "W", "hom")] = tw
        results[(F, "G", "hom")] = th
        results[(F, "G", "inj")] = ti
        results[(F, "G", "ind")] = td
        tds = f"{td:11.6f}" if do_ind else f"{'(n^5)':>11}"
        print(f"{F:>4} {tw:10.6f} {closed:10.6f} {th:10.6f} {ti:11.6f} {tds}", file=out, flush=True)
    note("graphonflow demo: D t(K3) at G ...", end="")
    t0 = time.perf_counter()
    g = ws_graph.grad("K3")
    note(f" {time.perf_counter() - t0:.2f} s")
    print(
        f"\nD t(K3) at G is 3 A^2 / n; its mean over the n^2 entries is 3 t(P3): "
        f"{g.mean():.6f} = {3 * ws_graph.density('P3'):.6f}",
        file=out,
    )
    print(f"computed in {time.perf_counter() - t_start:.2f} s", file=out, flush=True)
    return results


_HEADER = {"auto": None, "yes": True, "no": False}


def _read_graph_arg(args, path, err=None, sparse=False):
    """read_graph with the edge-list options; notes and warnings go to standard error."""
    err = err or sys.stderr
    cmd = f"graphonflow {args.command}"
    A, info = read_graph(path, duplicates=args.duplicates, header=_HEADER[args.header], return_info=True,
                         sparse=sparse)
    if info["header"] is not None and args.header == "auto":
        print(f"{cmd}: note: {path}, line {info['header_line']}: {info['header']!r} read as a header, "
              "not an edge (--header no reads it as an edge)", file=err)
    lo, hi = info["range"]
    if lo < 0.0 or hi > 1.0:
        if sparse:  # the stored entries of a SparseGraph (its zeros lie inside [0, 1])
            k = sum(int(np.count_nonzero((x < 0) | (x > 1))) for x in (A.data, A.diag) if x is not None)
            size = A.n * A.n
        else:
            k, size = int(np.count_nonzero((A < 0.0) | (A > 1.0))), A.size
        print(f"{cmd}: warning: {path}: {k} of the {size} matrix entries lie outside [0, 1] "
              f"(from {lo:.6g} to {hi:.6g}); the numbers treat it as a signed kernel, "
              "not as edge probabilities", file=err)
    return A


def _cmd_density(args, out=None):
    from .hom import HomWorkspace, check_cost
    from .patterns import as_pattern

    out = out or sys.stdout
    pattern = as_pattern(args.pattern)  # an unknown name stops here, before the file is read
    max_cost = getattr(args, "max_cost", 1e14)
    max_cost = None if max_cost is None or math.isinf(max_cost) else max_cost
    if max_cost is not None and not max_cost > 0:
        raise ValueError(f"--max-cost must be a positive number of operations or 'inf', got {max_cost:g}")
    kinds = list(dict.fromkeys(getattr(args, "kind", None) or KINDS))
    # edge lists and GraphML are streamed into sparse form (never an n x n matrix); small dense
    # graphs then take the dense engine as before (graphonflow.sparse.dispatch.use_dense)
    sparse = Path(args.graph).suffix.lower() not in (".npy", ".npz")
    A = _read_graph_arg(args, args.graph, sparse=sparse)
    if sparse:
        from .sparse.dispatch import use_dense

        if all(use_dense(A.n, A.nnz, [pattern], kind) for kind in kinds):
            A = A.toarray()
        else:
            return _density_sparse(args, A, pattern, kinds, max_cost, out)
    ws = HomWorkspace(A, max_cost=None)
    # every requested density is costed before any is computed (a typo such as K33 for K3,3
    # or C100 would otherwise run for hours)
    for kind in kinds:
        check_cost(pattern, ws.m, kind, graph=ws.graph_reading, max_cost=max_cost,
                   advice="pass --max-cost inf (or a larger number) to compute it anyway")
    print(f"graph: {args.graph} (n = {ws.m})   pattern: {args.pattern}", file=out)
    for kind in kinds:
        print(f"{_KIND_LABEL[kind]} = {ws.density(pattern, kind):.12g}", file=out)
    return 0


def _density_sparse(args, G, pattern, kinds, max_cost, out):
    """The density command on a large sparse graph: densities and the exact counts behind them."""
    from .sparse.canon import automorphisms
    from .sparse.counts import _counter
    from .sparse.dispatch import check_sparse_cost

    c = _counter(G, "weight")
    for kind in kinds:
        check_sparse_cost(c, pattern, kind, max_cost,
                          advice="pass --max-cost inf (or a larger number) to compute it anyway")
    print(f"graph: {args.graph} (n = {G.n}, m = {G.m}; sparse counts)   pattern: {args.pattern}", file=out)
    for kind in kinds:
        v = c.count(pattern, kind)
        print(f"{_KIND_LABEL[kind]} = {c.density(pattern, kind):.12g}   ({kind} = {v})", file=out)
    aut = automorphisms(pattern.k, pattern.edges)
    for kind, what in (("inj", "copies"), ("ind", "induced copies")):
        if kind in kinds:
            v = c.count(pattern, kind)
            print(f"{what} of {args.pattern} (= {kind} / |Aut| = {kind} / {aut}): "
                  f"{v // aut if c.exact else v / aut}", file=out)
    return 0


def _cmd_distance(args, out=None):
    from .cut import cut_distance, delta2_distance

    out = out or sys.stdout
    A, B = _read_graph_arg(args, args.a), _read_graph_arg(args, args.b)
    c = cut_distance(A, B, rng=args.seed)
    r = delta2_distance(A, B, rng=args.seed)
    print(f"A: {args.a} (n = {len(A)})   B: {args.b} (n = {len(B)})", file=out)
    print(f"cut distance:  {c.lower:.6g} <= delta_cut <= {c.upper:.6g}   (alignment: {c.alignment})", file=out)
    print(f"delta_2:       {r.lower:.6g} <= delta_2   <= {r.upper:.6g}", file=out)
    return 0


def _check_study_file(path):
    """ValueError naming FILE when it is a folder or not text, before ``load_config`` reads it."""
    p = Path(path)
    if p.is_dir():
        raise ValueError(f"{path} is a directory, not a TOML study file")
    if not p.is_file():
        return  # load_config says: no such config file
    with open(p, "rb") as fh:
        head = fh.read(1 << 20)
    reason = None
    if head.startswith(b"\x93NUMPY"):
        reason = "it looks like a .npy array"
    elif head.startswith(b"PK\x03\x04"):
        reason = "it looks like a zip or .npz archive"
    elif head.lstrip().startswith(b"<?xml") or b"<graphml" in head[:4096]:
        reason = "it looks like an XML or GraphML file"
    elif b"\x00" in head:
        reason = "it holds binary data"
    else:
        try:
            head.decode("utf-8")
        except UnicodeDecodeError as exc:
            if exc.start < len(head) - 4 or len(head) < (1 << 20):
                line = head[: exc.start].count(b"\n") + 1
                reason = f"line {line} is not UTF-8 text"
    if reason:
        raise ValueError(f"{path} is not a TOML study file ({reason})")


def _cmd_run(args, out=None):
    from .convergence import RESOLVED_RATIO, rate_text
    from .study import DEFAULT_CONFIG, StudyTerminated, load_config, run_study

    out = out or sys.stdout
    if args.print_config:
        print(DEFAULT_CONFIG, end="", file=out)
        return 0
    cfg = load_config(args.config)
    restart = getattr(args, "restart", False)
    workers, scheduler = getattr(args, "workers", None), getattr(args, "scheduler", None)
    task_threads = getattr(args, "task_threads", None)
    if workers is not None and scheduler is not None:
        raise ValueError("give --workers N (a local cluster) or --scheduler ADDRESS (an existing one), not both")
    if task_threads is not None and workers is None and scheduler is None:
        raise ValueError("--task-threads applies to a cluster run: give --workers N or --scheduler ADDRESS")
    try:
        res = run_study(cfg, args.out, quiet=args.quiet, resume=not restart, workers=workers, scheduler=scheduler,
                        task_threads=task_threads)
    except (PermissionError, NotADirectoryError) as exc:  # an output folder it cannot write: before any work
        print(f"graphonflow run: error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    except (OSError, ImportError) as exc:  # no dask, or a scheduler it cannot reach: before any work
        if workers is None and scheduler is None:
            raise
        opt = "--workers" if workers is not None else "--scheduler"
        print(f"graphonflow run: error: {opt}: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM (StudyTerminated): the same
        kept = getattr(exc, "partial", None)
        how = "terminated (SIGTERM)" if isinstance(exc, StudyTerminated) else "interrupted"
        again = "; run the same command again to resume (add --restart to start over)" if kept else ""
        print(f"graphonflow: {how}" + (f"; finished work was kept in {kept}" if kept else "") + again,
              file=sys.stderr)
        raise SystemExit(143 if isinstance(exc, StudyTerminated) else 130) from None
    fs = res.summary["functionals"]
    where = (f" on {workers} local worker processes" if workers is not None else
             f" on the cluster at {scheduler}" if scheduler is not None else "")
    if task_threads is not None:
        where += f", {task_threads} thread(s) per task"
    print(f"graphonflow study '{cfg.title}': {len(fs)} functional(s), n = {', '.join(map(str, cfg.ns))}, "
          f"finished in {res.wall_time:.1f} s{where}", file=out)
    if res.resumed_from is not None:
        print(f"  resumed from {res.resumed_from}: {len(res.restored)} finished flows reused, "
              f"{len(res.computed)} computed", file=out)
    if cfg.noise is not None:
        _print_noisy(cfg, res, out)
        return 0
    print(f"  integrator: {cfg.integrator_text()}", file=out)
    for f, s in zip(fs, res.studies):
        print(f"  {f['label']}: cut distance to the limit ~ n^r, least-squares exponents of the upper and the "
              f"lower bounds (± one standard error); resolved where upper/lower <= {RESOLVED_RATIO:g}:", file=out)
        for k, t in enumerate(s.times):
            q = s.bracket_ratio[k]
            if math.isnan(q):
                verdict = "no fit"
            else:
                verdict = ("resolved" if s.rate_resolved[k] else "UNRESOLVED") + \
                    f" (upper/lower up to {'inf' if q == float('inf') else format(q, '.3g')})"
            print(f"    t={t:g}: upper {rate_text(s.rate[k], s.rate_stderr[k], 2)}, "
                  f"lower {rate_text(s.rate_lower[k], s.rate_lower_stderr[k], 2)}: {verdict}", file=out)
        if s.integration_cut_gap is not None:
            smallest = s.upper.mean(axis=1).min(axis=0)  # the smallest distance shown at each time
            name = "tol vs tol/10" if s.error_control else "dt vs dt/2"
            cells = ", ".join(f"t={t:g}: {g:.2g} (smallest distance {d:.2g})"
                              for t, g, d in zip(s.times, s.integration_cut_gap, smallest))
            print(f"    integration check {name}, cut-norm gap <= {cells}", file=out)
    print(f"report: {res.out / 'report.html'}" if cfg.report else f"results: {res.out}", file=out)
    return 0


def main(argv=None) -> int:
    """``graphonflow [run|demo|density|distance] ...``; with no command, the built-in study.

    Returns the exit status.  Output cut short by a closed pipe (``graphonflow demo | head``)
    ends quietly with status 1, as the Python documentation recommends for SIGPIPE.
    """
    try:
        code = _main(argv)
        sys.stdout.flush()  # a closed pipe shows here rather than at interpreter exit
        return code
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # the interpreter's final flush then succeeds
        return 1


def _print_noisy(cfg, res, out):
    """The summary lines of a noisy study (graphonflow.noisy.study)."""
    from .convergence import rate_text

    nz = cfg.noise
    print(f"  noisy SGD: s = {nz['level']:g}, tau = {nz['dt']:g}{', reflected' if nz['reflect'] else ''}; "
          f"McKean-Vlasov limit on {cfg.resolution} blocks, {nz['cells']} cells, step {nz['limit_dt']:g}", file=out)
    for s in res.studies:
        print(f"  {s.label}: distances to the limit ~ n^r (least-squares exponents ± one standard error):", file=out)
        for k, t in enumerate(s.times):
            print(f"    t={t:g}: cut distance upper {rate_text(s.fits['rate'][k], s.fits['rate_stderr'][k], 2)}, "
                  f"lower {rate_text(s.fits['rate_lower'][k], s.fits['rate_lower_stderr'][k], 2)}; "
                  f"W1 {rate_text(s.w1_fits['rate'][k], s.w1_fits['rate_stderr'][k], 2)}; at n = {s.ns[-1]}: "
                  f"cut <= {s.upper[-1, :, k].mean():.3g}, W1 {s.w1_mean[-1, :, k].mean():.3g}", file=out)
    print(f"report: {res.out / 'report.html'}" if cfg.report else f"results: {res.out}", file=out)


def _positive_int(text):
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return v


def _main(argv=None) -> int:
    fmt = argparse.ArgumentDefaultsHelpFormatter
    parser = argparse.ArgumentParser(
        prog="graphonflow",
        description="Gradient flows on graphs and graphons. With no command: the built-in study "
        "(finite-n flows of t(C5) [+ E/8] from a ring graphon against their graphon limit).",
        formatter_class=fmt,
    )
    sub = parser.add_subparsers(dest="command")
    p_run = sub.add_parser("run", help="run a study from a TOML file (default: the built-in study)",
                           formatter_class=fmt)
    p_run.add_argument("config", nargs="?", default=None, help="study file (TOML); omit for the built-in study")
    p_run.add_argument("--print-config", action="store_true", help="print the built-in study's TOML and exit")
    p_run.add_argument("--restart", action="store_true", default=argparse.SUPPRESS,
                       help="discard a partial folder (DIR.partial, .DIR.partial) instead of resuming from it")
    p_run.add_argument("--workers", type=_positive_int, default=argparse.SUPPRESS, metavar="N",
                       help="run every flow as a task on a local dask cluster of N worker processes (needs "
                       "pip install 'graphonflow[cluster]'); the results are the serial ones")
    p_run.add_argument("--scheduler", default=argparse.SUPPRESS, metavar="ADDRESS",
                       help="run every flow as a task on the existing dask cluster whose scheduler is at ADDRESS "
                       "(e.g. tcp://10.0.0.1:8786)")
    p_run.add_argument("--task-threads", type=_positive_int, default=argparse.SUPPRESS, metavar="K",
                       help="with --workers/--scheduler: BLAS and Numba threads per task (default: this process's, "
                       "which gives the serial run's numbers bit for bit; with K, those of a serial run under "
                       "OPENBLAS_NUM_THREADS=K NUMBA_NUM_THREADS=K)")
    p_demo = sub.add_parser(
        "demo", help="densities in a sampled graph and its limit", formatter_class=fmt,
        description="t, t_inj and t_ind of K2, P3, K3, C4, S3, K4 and C5 in a sampled graph G(n, xy) "
        "and t in its limit W(x, y) = xy, next to the closed form. Progress lines (what is computed, "
        "with timings) go to standard error. Every entry costs O(n^3) except t_inj(K4, G), about n^4 "
        "operations, which the induced densities of C4 and S3 need as well (the C4 row pays it).",
    )
    p_demo.add_argument("--n", type=int, default=400,
                        help="size of the sampled graph (at least 5); the K4 term costs about n^4 operations, "
                        "1.6e13 at n = 2000")
    p_demo.add_argument("--seed", type=int, default=0, help="random seed")
    p_demo.add_argument("--quiet", action="store_true", default=argparse.SUPPRESS,
                        help="no progress lines on standard error (default: progress shown)")
    graph_opts = argparse.ArgumentParser(add_help=False)
    g = graph_opts.add_argument_group("edge-list files")
    g.add_argument("--header", choices=tuple(_HEADER), default="auto",
                   help="is the first line of an edge list a header? auto: yes when none of its fields is a "
                   "number and it has three fields or every later line names vertices by numbers")
    g.add_argument("--duplicates", choices=DUPLICATES, default="error",
                   help="an edge given twice (u v or v u) is an error, or its weights are summed, or the last "
                   "weight is kept")
    p_den = sub.add_parser("density", parents=[graph_opts], formatter_class=fmt,
                           help="print t, t_inj and t_ind of a pattern in a graph file")
    p_den.add_argument("pattern", help="a pattern name such as K3, C5, P4, S3, K2,3")
    p_den.add_argument("graph", help="graph file: .npy, .npz, .graphml or an edge list 'u v [w]'")
    p_den.add_argument("--kind", choices=KINDS, action="append", default=argparse.SUPPRESS,
                       help="density to print: hom (t), inj (t_inj) or ind (t_ind); repeat for several "
                       "(default: all three)")
    p_den.add_argument("--max-cost", type=float, default=1e14, metavar="OPS",
                       help="refuse, before any work, a density whose estimated cost exceeds OPS operations "
                       "(graphonflow.hom.contraction_cost); 'inf' removes the limit")
    p_dist = sub.add_parser("distance", parents=[graph_opts], formatter_class=fmt,
                            help="certified cut-distance and delta_2 brackets between two graphs")
    p_dist.add_argument("a", help="first graph file")
    p_dist.add_argument("b", help="second graph file")
    p_dist.add_argument("--seed", type=int, default=0, help="seed of the randomised cut-norm method")
    parser.add_argument("--restart", action="store_true", default=argparse.SUPPRESS,
                        help="the built-in study: start over instead of resuming a partial folder")
    # --out and --quiet before or after `run`: the sub-command's copies have no default, so they
    # never overwrite what was given before the command (argparse copies sub-parser defaults over)
    for p in (parser, p_run):
        p.add_argument("--out", default=argparse.SUPPRESS, help="output directory (default: graphonflow-out)")
        p.add_argument("--quiet", action="store_true", default=argparse.SUPPRESS,
                       help="no progress output (default: progress shown)")
    args = parser.parse_args(argv)
    for opt in ("out", "quiet", "restart"):  # study options given before another command
        if hasattr(args, opt) and (args.command in ("density", "distance") or
                                   (opt != "quiet" and args.command == "demo")):
            parser.error(f"--{opt} belongs to the study (graphonflow --{opt} ... or graphonflow run --{opt} ...), "
                         f"not to '{args.command}'")
    args.out = getattr(args, "out", "graphonflow-out")
    args.quiet = getattr(args, "quiet", False)
    from .study import ConfigError, StudyError

    try:
        if args.command == "density":
            return _cmd_density(args)
        if args.command == "distance":
            return _cmd_distance(args)
        if args.command == "demo":
            if args.n < 5:
                parser.error("--n must be at least 5")
            demo(args.n, args.seed, progress=None if args.quiet else sys.stderr)
            return 0
        if args.command is None:
            args.config, args.print_config = None, False
        if getattr(args, "config", None):
            _check_study_file(args.config)
        return _cmd_run(args)
    except ConfigError as exc:
        where = f" in {args.config}" if getattr(args, "config", None) else ""
        parser.exit(2, f"graphonflow run: error{where}: {exc}\n")
    except (ValueError, FileNotFoundError, FileExistsError, TypeError) as exc:
        parser.exit(2, f"graphonflow {args.command or 'run'}: error: {exc}\n")
    except StudyError as exc:  # failed while running: the message names DIR.partial
        parser.exit(1, f"graphonflow run: error: {exc}\n")
    except KeyboardInterrupt as exc:
        kept = getattr(exc, "partial", None)
        parser.exit(130, "graphonflow: interrupted" + (f"; finished work was kept in {kept}" if kept else "") + "\n")


if __name__ == "__main__":
    sys.exit(main())

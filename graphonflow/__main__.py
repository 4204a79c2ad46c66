"""Command-line entry point: ``graphonflow`` (or ``python -m graphonflow``).

``graphonflow`` with no command runs the built-in study (the main job, see
:mod:`graphonflow.study`); ``graphonflow run CONFIG.toml`` runs a study from a file;
``density`` and ``distance`` answer one question about graph files; ``demo`` prints
densities in a sampled graph and its limit.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from .io import read_graph  # noqa: F401  (re-exported: graphonflow.__main__.read_graph)


def demo(n: int = 400, seed: int = 0, out=None) -> dict:
    """Print t, t_inj and t_ind for a few patterns in G(n, W) and in W(x, y) = xy.

    Returns the numbers it printed, keyed by (pattern, target, kind).
    """
    from .hom import HomWorkspace

    out = out or sys.stdout
    rng = np.random.default_rng(seed)

    def W(x, y):
        return x * y

    U = np.sort(rng.random(n))
    P = W(U[:, None], U[None, :])
    A = (rng.random((n, n)) < P).astype(float)
    A = np.triu(A, 1)
    A = A + A.T
    patterns = ["K2", "P3", "K3", "C4", "S3", "K4", "C5"]
    ws_graph = HomWorkspace(A)
    ws_limit = HomWorkspace(W, quad_nodes=32)
    results = {}
    print(f"graphonflow demo: W(x, y) = x*y and a sampled simple graph G({n}, W), seed {seed}", file=out)
    print("closed form: t(F, xy) = prod over vertices of 1/(deg + 1)", file=out)
    header = f"{'F':>4} {'t(F,W)':>10} {'closed':>10} {'t(F,G)':>10} {'t_inj(F,G)':>11} {'t_ind(F,G)':>11}"
    print(header, file=out)
    print("-" * len(header), file=out)
    from .patterns import as_pattern

    t0 = time.perf_counter()
    for F in patterns:
        p = as_pattern(F)
        closed = float(np.prod([1.0 / (d + 1) for d in p.degrees]))
        tw = ws_limit.density(p)
        th = ws_graph.density(p)
        ti = ws_graph.density(p, "inj")
        # induced densities of 5-vertex patterns need t_inj(K5): n^5 work, skipped here
        td = ws_graph.density(p, "ind") if p.k <= 4 else float("nan")
        results[(F, "W", "hom")] = tw
        results[(F, "G", "hom")] = th
        results[(F, "G", "inj")] = ti
        results[(F, "G", "ind")] = td
        tds = f"{td:11.6f}" if td == td else f"{'(n^5)':>11}"
        print(f"{F:>4} {tw:10.6f} {closed:10.6f} {th:10.6f} {ti:11.6f} {tds}", file=out)
    g = ws_graph.grad("K3")
    print(
        f"\nD t(K3) at G is 3 A^2 / n; its mean over the n^2 entries is 3 t(P3): "
        f"{g.mean():.6f} = {3 * ws_graph.density('P3'):.6f}",
        file=out,
    )
    print(f"computed in {time.perf_counter() - t0:.2f} s", file=out)
    return results


def _cmd_density(args, out=None):
    from .hom import HomWorkspace

    out = out or sys.stdout
    A = read_graph(args.graph)
    ws = HomWorkspace(A)
    t = ws.density(args.pattern)
    print(f"graph: {args.graph} (n = {ws.m})   pattern: {args.pattern}", file=out)
    print(f"t     = {t:.12g}", file=out)
    for kind in ("inj", "ind"):
        try:
            print(f"t_{kind} = {ws.density(args.pattern, kind):.12g}", file=out)
        except ValueError as exc:  # fewer vertices than the pattern
            print(f"t_{kind} = undefined ({exc})", file=out)
    return 0


def _cmd_distance(args, out=None):
    from .cut import cut_distance, delta2_distance

    out = out or sys.stdout
    A, B = read_graph(args.a), read_graph(args.b)
    c = cut_distance(A, B, rng=args.seed)
    r = delta2_distance(A, B, rng=args.seed)
    print(f"A: {args.a} (n = {len(A)})   B: {args.b} (n = {len(B)})", file=out)
    print(f"cut distance:  {c.lower:.6g} <= delta_cut <= {c.upper:.6g}   (alignment: {c.alignment})", file=out)
    print(f"delta_2:       {r.lower:.6g} <= delta_2   <= {r.upper:.6g}", file=out)
    return 0


def _cmd_run(args, out=None):
    from .study import DEFAULT_CONFIG, load_config, run_study

    out = out or sys.stdout
    if args.print_config:
        print(DEFAULT_CONFIG, end="", file=out)
        return 0
    cfg = load_config(args.config)
    res = run_study(cfg, args.out, quiet=args.quiet)
    fs = res.summary["functionals"]
    print(f"graphonflow study '{cfg.title}': {len(fs)} functional(s), n = {', '.join(map(str, cfg.ns))}, "
          f"finished in {res.wall_time:.1f} s", file=out)
    print(f"  integrator: {cfg.integrator_text()}", file=out)
    for f, s in zip(fs, res.studies):
        rates = ", ".join(f"t={t:g}: {r:+.2f}" if r == r else f"t={t:g}: n/a" for t, r in zip(s.times, s.rate))
        print(f"  {f['label']}: cut distance to the limit ~ n^r with {rates}", file=out)
        if s.integration_cut_gap is not None:
            smallest = s.upper.mean(axis=1).min(axis=0)  # the smallest distance shown at each time
            name = "tol vs tol/10" if s.error_control else "dt vs dt/2"
            cells = ", ".join(f"t={t:g}: {g:.2g} (smallest distance {d:.2g})"
                              for t, g, d in zip(s.times, s.integration_cut_gap, smallest))
            print(f"    integration check {name}, cut-norm gap <= {cells}", file=out)
    print(f"report: {res.out / 'report.html'}" if cfg.report else f"results: {res.out}", file=out)
    return 0


def main(argv=None) -> int:
    """``graphonflow [run|demo|density|distance] ...``; with no command, the built-in study."""
    parser = argparse.ArgumentParser(
        prog="graphonflow",
        description="Gradient flows on graphs and graphons. With no command: the built-in study "
        "(finite-n flows of t(C5) [+ E/8] from a ring graphon against their graphon limit).",
    )
    sub = parser.add_subparsers(dest="command")
    p_run = sub.add_parser("run", help="run a study from a TOML file (default: the built-in study)")
    p_run.add_argument("config", nargs="?", default=None, help="study file (TOML); omit for the built-in study")
    p_run.add_argument("--print-config", action="store_true", help="print the built-in study's TOML and exit")
    p_demo = sub.add_parser("demo", help="densities in a sampled graph and its limit")
    p_demo.add_argument("--n", type=int, default=400, help="size of the sampled graph")
    p_demo.add_argument("--seed", type=int, default=0, help="random seed")
    p_den = sub.add_parser("density", help="print t, t_inj and t_ind of a pattern in a graph file")
    p_den.add_argument("pattern", help="a pattern name such as K3, C5, P4, S3, K2,3")
    p_den.add_argument("graph", help="graph file: .npy, .npz, .graphml or an edge list 'u v [w]'")
    p_dist = sub.add_parser("distance", help="certified cut-distance and delta_2 brackets between two graphs")
    p_dist.add_argument("a", help="first graph file")
    p_dist.add_argument("b", help="second graph file")
    p_dist.add_argument("--seed", type=int, default=0, help="seed of the randomised cut-norm method")
    for p in (parser, p_run):
        p.add_argument("--out", default="graphonflow-out", help="output directory (default: graphonflow-out)")
        p.add_argument("--quiet", action="store_true", help="no progress output")
    args = parser.parse_args(argv)
    from .study import ConfigError, StudyError

    try:
        if args.command == "density":
            return _cmd_density(args)
        if args.command == "distance":
            return _cmd_distance(args)
        if args.command == "demo":
            if args.n < 5:
                parser.error("--n must be at least 5")
            demo(args.n, args.seed)
            return 0
        if args.command is None:
            args.config, args.print_config = None, False
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

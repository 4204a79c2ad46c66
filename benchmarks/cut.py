"""Cut-norm benchmark: graphonflow.cut_norm against the `cutnorm` package (PyPI).

Two cases per size n (both graphs are simple, symmetric, zero diagonal, seeded):

* ``ER-ER``:       G(n, 1/2) against an independent G(n, 1/2);
* ``2block-const``: a planted 2-block graph (0.7 inside the halves, 0.3 across) against the
  constant matrix 1/2 (true cut norm ~ 0.05).

For graphonflow we report the certified bracket [lower, upper] (``lower`` is attained by sets
S, T; ``upper`` is a dual certificate).  For cutnorm we report its rounding value (attained by
its sets, i.e. also a lower bound) and its SDP objective, which is a primal value of the
relaxation and *not* a certified upper bound.  Times are wall-clock seconds, best of
``--repeats`` runs (different seeds; the bounds shown are those of the fastest run); to keep
the whole benchmark within a few minutes cutnorm runs only once at n > 1000 (about 20 s
each there).  cutnorm keeps its defaults (at most 600 solver iterations,
``max_round_iter=100``).

Usage:  python benchmarks/cut.py [--sizes 200 500 1000 2000] [--threads N] [--repeats 3]

``--threads`` limits the BLAS threads of both programs (threadpoolctl); default: leave as is.
`cutnorm` is optional: when it is missing only graphonflow is timed and the script says so.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time

import numpy as np


def simple_graph(P, rng):
    n = P.shape[0]
    A = np.triu((rng.random((n, n)) < P).astype(np.float64), 1)
    return A + A.T


def cases(n, seed):
    rng = np.random.default_rng(seed)
    half = np.full((n, n), 0.5)
    yield "ER-ER", simple_graph(half, rng), simple_graph(half, rng)
    x = np.arange(n) < n // 2
    P = np.where(x[:, None] == x[None, :], 0.7, 0.3)
    yield "2block-const", simple_graph(P, rng), half.copy()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[200, 500, 1000, 2000])
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seed", type=int, default=2024)
    args = ap.parse_args(argv)

    from threadpoolctl import threadpool_info, threadpool_limits

    try:
        import graphonflow
    except ImportError:  # running from a source checkout without installing
        sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
        import graphonflow
    from graphonflow import cut_norm

    try:
        from cutnorm import compute_cutnorm
    except ImportError:
        compute_cutnorm = None

    print("BLAS:", "; ".join(f"{d['internal_api']} {d.get('version')} ({d['num_threads']} threads, "
                             f"{d.get('architecture')})" for d in threadpool_info() if d["user_api"] == "blas"))
    print(f"threads limit: {args.threads or 'none'}; CPUs: {os.cpu_count()}; "
          f"load average: {' '.join(f'{v:.1f}' for v in os.getloadavg())}")
    if compute_cutnorm is None:
        print("cutnorm is not installed (pip install cutnorm): timing graphonflow only")
    limit = threadpool_limits(args.threads) if args.threads else contextlib.nullcontext()
    # warm-up: Numba kernels and input checks compile on first use
    cut_norm(np.eye(3))
    cut_norm(simple_graph(np.full((30, 30), 0.5), np.random.default_rng(0)), method="sdp", rng=0)

    head = (f"{'n':>5} {'case':<13} | {'gf time':>8} {'gf lower':>9} {'gf upper':>9} {'up/lo':>6} | "
            f"{'cn time':>8} {'cn round':>9} {'cn sdp*':>9} | {'speed-up':>8} {'lower gf/cn':>11}")
    print(head)
    print("-" * len(head))
    with limit:
        for n in args.sizes:
            for name, A, B in cases(n, args.seed + n):
                best = np.inf
                for r in range(args.repeats):
                    t = time.perf_counter()
                    res = cut_norm(A, B, rng=r)
                    dt = time.perf_counter() - t
                    if dt < best:
                        best, keep = dt, res
                line = (f"{n:>5} {name:<13} | {best:8.3f} {keep.lower:9.6f} {keep.upper:9.6f} "
                        f"{keep.upper / keep.lower:6.3f} | ")
                if compute_cutnorm is not None:
                    ct = np.inf
                    for r in range(args.repeats if n <= 1000 else 1):
                        np.random.seed(args.seed + r)
                        t = time.perf_counter()
                        out = compute_cutnorm(A, B)
                        if time.perf_counter() - t < ct:
                            ct = time.perf_counter() - t
                            c_round, c_sdp = out[0], out[1]
                    line += (f"{ct:8.3f} {c_round:9.6f} {c_sdp:9.6f} | {ct / best:7.1f}x "
                             f"{keep.lower / c_round:11.4f}")
                else:
                    line += f"{'-':>8} {'-':>9} {'-':>9} | {'-':>8} {'-':>11}"
                print(line, flush=True)
    print("gf = graphonflow", graphonflow.__version__, "(certified lower <= ||A - B||_cut <= upper); "
          "cn = cutnorm; *cutnorm's SDP value is not a certified bound.")


if __name__ == "__main__":
    main()

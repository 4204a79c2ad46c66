"""Noisy flows: one noisy step against one deterministic step, and the limit solver's cost.

1. One step of a running ``noisy_flow`` (t(K3) - t(K2)/2, fixed dt, states not kept) against
   one step of ``flow(..., integrator="euler")`` on the same matrix, at n = 1000, 2000, 4000: the
   difference of a long and a short run divided by the extra steps, the two flows measured
   alternately five times; the ratio is the median of the five per-pair ratios.
   Target: noisy <= 1.15 x deterministic.
2. The fused passes alone: the noisy Euler pass against the plain Euler pass on the same
   arrays; the difference per upper-triangle entry is the cost of one normal (Philox4x32-10 +
   Box--Muller), reported in ns per normal and as GB/s-equivalent of float64 output.
3. ``mckean_vlasov`` for the same functional: wall time per unit of graphon time at m = 24 and
   m = 128 blocks on 400 cells (dt = 0.01, two drift evaluations and two tridiagonal solves per
   step).

    python benchmarks/noisy.py            (about two minutes on an idle 2-core machine)
    python benchmarks/noisy.py --quick
    python benchmarks/flow.py --noisy     (the same, from the flow benchmark)
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir))
# graphonflow before numpy, as the graphonflow command imports it, so that its OpenBLAS thread
# default (OPENBLAS_THREAD_TIMEOUT=4, see graphonflow/_threads.py) takes effect: otherwise the
# OpenBLAS workers spin through the noisy pass that follows every product
import graphonflow as gf  # noqa: E402,I001

import numpy as np  # noqa: E402
from threadpoolctl import threadpool_info  # noqa: E402

from graphonflow import _kernels as K  # noqa: E402
from graphonflow.noisy._kernels import noisy_euler_step  # noqa: E402

# Mantel-like: edge + triangle, no entry-wise term (those fall outside the limit theorem)
F = gf.HomDensity("K3") - 0.5 * gf.EdgeDensity()


def rand_sym(n, seed=0):
    A = np.random.default_rng(seed).uniform(0.05, 0.95, (n, n))
    return np.ascontiguousarray((A + A.T) / 2)


def per_step(run, short, long, reps=5):
    return paired(run, run, short, long, reps)[0]


def paired(run_a, run_b, short, long, reps=5):
    """Per-step times of two runs measured alternately (a, b, a, b, ...), each as the
    difference of a long and a short run over the extra steps: the medians of a and b over
    reps, and the median of the per-rep ratios b / a."""
    ea, eb = [], []
    for _ in range(reps):
        for run, est in ((run_a, ea), (run_b, eb)):
            t = {}
            for steps in (short, long):
                t0 = time.perf_counter()
                run(steps)
                t[steps] = time.perf_counter() - t0
            est.append((t[long] - t[short]) / (long - short))
    med = lambda v: sorted(v)[len(v) // 2]  # noqa: E731
    return med(ea), med(eb), med([b / a for a, b in zip(ea, eb)])


def best_of(fn, reps=5):
    best = math.inf
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args(argv)
    sizes = (500, 1000) if args.quick else (1000, 2000, 4000)
    print("noisy-flow benchmark; thread defaults: " + ", ".join(
        f"{k}={os.environ.get(k, '(unset)')}" for k in ("GOMP_SPINCOUNT", "OPENBLAS_THREAD_TIMEOUT")))
    for info in threadpool_info():
        print(f"threadpool: {info.get('internal_api')} {info.get('version', '')} "
              f"kernel={info.get('architecture', '?')} threads={info.get('num_threads')}")
    small = rand_sym(256)
    gf.noisy_flow(F, small, t1=0.02, dt=0.01, noise=0.1, rng=0, save_fn=lambda t, B: None)
    gf.flow(F, small, t1=0.02, dt=0.01, integrator="euler", save_fn=lambda t, B: None)

    print("\n[1] one step inside a running flow (t(K3) - t(K2)/2, fixed dt = 1e-3)")
    print(f"{'n':>6} {'euler flow':>12} {'noisy flow':>12} {'ratio':>7}  (target <= 1.15)")
    for n in sizes:
        A = rand_sym(n)
        short, long = (2, 8) if n >= 4000 else (4, 20) if n >= 2000 else (4, 40)
        det, noi, rat = paired(
            lambda s: gf.flow(F, A, t1=s * 1e-3, dt=1e-3, integrator="euler", save_fn=lambda t, B: None),
            lambda s: gf.noisy_flow(F, A, t1=s * 1e-3, dt=1e-3, noise=0.3, rng=0, save_fn=lambda t, B: None),
            short, long)
        print(f"{n:>6} {1e3 * det:>10.1f}ms {1e3 * noi:>10.1f}ms {rat:>7.3f}")

    print("\n[2] the fused passes alone (same B, G; float64)")
    print(f"{'n':>6} {'euler pass':>11} {'noisy pass':>11} {'per normal':>11} {'normals/s':>11} "
          f"{'noisy pass GB/s':>16}")
    for n in sizes:
        B = rand_sym(n)
        G = rand_sym(n, 1)
        w = np.full(n, 1.0 / n)
        out = np.empty_like(B)
        kw = dict(gscale=-1.0, alpha=0.0, beta=0.5, lo=0.0, hi=1.0, out=out)
        K.euler_step(B, G, w, 1e-3, **kw)
        noisy_euler_step(B, G, w, 1e-3, 0.01, key=1, step=0, **kw)
        te = best_of(lambda: K.euler_step(B, G, w, 1e-3, **kw))
        tn = best_of(lambda: noisy_euler_step(B, G, w, 1e-3, 0.01, key=1, step=0, **kw))
        normals = n * (n + 1) / 2
        per = (tn - te) / normals
        gbs = 3 * 8 * n * n / tn / 1e9  # reads B and G, writes out
        print(f"{n:>6} {1e3 * te:>9.2f}ms {1e3 * tn:>9.2f}ms {1e9 * per:>9.2f}ns {normals / max(tn - te, 1e-12):>11.3g} "
              f"{gbs:>16.2f}")

    print("\n[3] mckean_vlasov: wall time per unit graphon time (400 cells, dt = 0.01)")
    for m in (24, 128):
        S = gf.StepGraphon(rand_sym(m, 2))
        gf.mckean_vlasov(F, S, t1=0.02, noise=0.3, dt=0.01, cells=400)
        t1 = 0.5 if m == 128 else 2.0
        t0 = time.perf_counter()
        r = gf.mckean_vlasov(F, S, t1=t1, noise=0.3, dt=0.01, cells=400)
        wall = time.perf_counter() - t0
        P = m * (m + 1) // 2
        print(f"  m = {m:>3} ({P} block pairs x 400 cells): {wall / t1:.2f} s per unit time "
              f"({1e3 * wall / r.n_steps:.2f} ms per step)")


if __name__ == "__main__":
    main()

"""Benchmark of the gradient-flow engine (issue 3).

Reports, as ratios measured in one run:

1. memory bandwidth of this machine (STREAM-like copy and triad);
2. one fused entry-wise step (Numba, one pass) against the equivalent multi-pass
   NumPy expression, and the fused step's GB/s as a fraction of the measured bandwidth;
3. one ERGM step (edge + triangle + entropy) inside a running gf.flow, prox and euler, at
   n = 1000, 2000, 4000, against its one symmetric matrix product (A^2/n, timed exactly as
   the workspace makes it), under three thread settings (see graphonflow/_threads.py), each
   in a fresh process;
4. float32 against float64 at n = 8000: peak memory (numpy allocations, tracemalloc)
   and time per step; the number of n x n buffers; the largest n whose ERGM flow fits
   in 24 GiB.

Which BLAS library and kernel (architecture) ran is printed via threadpoolctl.

Run:  python benchmarks/flow.py          (about six minutes on an idle 2-core machine)
      python benchmarks/flow.py --quick  (smaller sizes, for a smoke test)
      python benchmarks/flow.py --largest N [--dtype float32]
            runs one ERGM flow step at size N and reports its wall time and peak resident
            memory (the matrix is built in place, so the run holds exactly the caller's W0
            plus the flow's own buffers); used to show the largest n that runs here
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import time
import tracemalloc

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir))
if "--graphonflow-first" in sys.argv:  # as the graphonflow command imports it: before numpy,
    import graphonflow  # noqa: F401,E402  so that its OpenBLAS thread default takes effect

import numpy as np
from numba import njit, prange
from threadpoolctl import threadpool_info

import graphonflow as gf  # noqa: E402
from graphonflow import _kernels as K  # noqa: E402
from graphonflow._linalg import sym_square  # noqa: E402


def best_of(fn, reps=3):
    best = math.inf
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


@njit(parallel=True, cache=True)
def _triad(a, b, c, s):
    for i in prange(a.size):
        a[i] = b[i] + s * c[i]


def bandwidth(n_elems):
    a = np.zeros(n_elems)
    b = np.ones(n_elems)
    c = np.full(n_elems, 2.0)
    _triad(a, b, c, 3.0)
    # best of 15: on a shared VM single runs move by a factor of 2
    t_triad = best_of(lambda: _triad(a, b, c, 3.0), 15)
    t_copy = best_of(lambda: np.copyto(a, b), 15)
    # STREAM convention: triad moves 3 arrays, copy 2 (write-allocate traffic not counted)
    return 24 * n_elems / t_triad / 1e9, 16 * n_elems / t_copy / 1e9


def numpy_euler(B, G, gscale, w, dt, alpha, beta, lo, hi):
    """The multi-pass NumPy expression of one projected Euler step (G symmetric)."""
    D = gscale * G + beta
    if alpha:
        D += alpha * np.log(B / (1.0 - B))
    V = -D
    V[(B <= lo) & (V < 0)] = 0.0
    V[(B >= hi) & (V > 0)] = 0.0
    pg2 = float(w @ (V * V) @ w)
    out = np.clip(B - dt * D, lo, hi)
    return out, pg2


def rand_sym(n, dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    A = rng.uniform(0.05, 0.95, (n, n)).astype(dtype)
    A = np.triu(A)
    A = A + np.triu(A, 1).T
    return np.ascontiguousarray(A)


def product(A):
    """The one symmetric product of an ERGM step, exactly as the flow's workspace makes it:
    (1/n) A A^T through numpy's BLAS (one ?syrk, or two syrks and a gemm for 1536 <= n < 3072),
    both triangles filled.  Same library and thread pool as the flow."""
    n = A.shape[0]
    return lambda: sym_square(1.0 / n, A, symmetric=True)


def flow_step_cost(n, integrator, short=5, long=25, reps=3):
    """Wall time of one step of a running gf.flow (ERGM, fixed dt, no saved states):
    the difference of a long and a short flow from the same start, divided by the extra
    steps; the median of ``reps`` such pairs (one pair now and then catches a stall)."""
    F = gf.ergm([-0.5, 1.0])
    A = rand_sym(n)
    gf.flow(F, A[:256, :256].copy(), t1=0.02, dt=0.01, integrator=integrator)  # compile
    est = []
    for _ in range(reps):
        times = {}
        for steps in (short, long):
            t0 = time.perf_counter()
            gf.flow(F, A, t1=steps * 0.01, dt=0.01, integrator=integrator, save_fn=lambda t, B: None)
            times[steps] = time.perf_counter() - t0
        est.append((times[long] - times[short]) / (long - short))
    return sorted(est)[len(est) // 2]


def step_costs(sizes):
    out = []
    for n in sizes:
        f = product(rand_sym(n))
        f()
        tp = best_of(f, 9)  # the fastest product: a conservative (high) ratio
        short, long = (3, 11) if n >= 4000 else (5, 25)
        out.append({"n": n, "product": tp, "prox": flow_step_cost(n, "prox", short, long),
                    "euler": flow_step_cost(n, "euler", short, long)})
    return out


def step_costs_child(sizes, args, env):
    """Runs step_costs in a fresh interpreter (thread settings are fixed at start-up)."""
    cmd = [sys.executable, os.path.abspath(__file__), "--step-costs", ",".join(map(str, sizes)), *args]
    # the child starts from the environment as it was before this process imported graphonflow
    base = {k: v for k, v in os.environ.items() if k not in gf._threads.APPLIED}
    res = subprocess.run(cmd, env={**base, **env}, capture_output=True, text=True, check=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


def largest(n, dtype):
    """One prox ERGM step of gf.flow at size n; prints time and peak RSS in n x n buffers."""
    import resource

    from graphonflow._linalg import _mirror_lower_from_upper

    dtype = np.dtype(dtype)
    F = gf.ergm([-0.5, 1.0])
    gf.flow(F, rand_sym(256, dtype), t1=0.02, dt=0.01, save_fn=lambda t, B: None)  # compile
    rng = np.random.default_rng(0)
    base = _rss()  # the interpreter, numba, BLAS: everything before the matrix exists
    t0 = time.perf_counter()
    A = np.empty((n, n), dtype=dtype)
    for i0 in range(0, n, 512):  # in row blocks: no n x n temporaries
        A[i0:i0 + 512] = rng.uniform(0.05, 0.95, (min(512, n - i0), n))
    _mirror_lower_from_upper(A)
    t_build = time.perf_counter() - t0
    stamps = []
    t0 = time.perf_counter()
    res = gf.flow(F, A, t1=0.01, dt=0.01, save_fn=lambda t, B: stamps.append(time.perf_counter()))
    wall = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    buf = n * n * dtype.itemsize
    print(f"largest-n run: n = {n}, {dtype.name}: status {res.status!r} ({res.message}); "
          f"build {t_build:.1f} s, flow {wall:.1f} s (one step, energy at t = 0 and t1 included), "
          f"step {stamps[-1] - stamps[0]:.1f} s between saves")
    print(f"peak resident memory {peak / 2**30:.2f} GiB of {_meminfo() / 2**30:.1f} GiB; above the "
          f"{base / 2**30:.2f} GiB before the matrix existed: {(peak - base) / buf:.2f} n x n buffers "
          f"(the caller's W0 plus the flow's own)")


def _numba_layer():
    import numba

    try:
        return numba.threading_layer()
    except ValueError:  # no parallel kernel has run yet
        return f"not started ({numba.config.THREADING_LAYER})"


def _rss():
    with open("/proc/self/status") as fh:
        return int(next(line for line in fh if line.startswith("VmRSS")).split()[1]) * 1024


def _meminfo():
    try:
        with open("/proc/meminfo") as fh:
            return int(next(line for line in fh if line.startswith("MemTotal")).split()[1]) * 1024
    except (OSError, StopIteration, ValueError):
        return 24 * 2**30


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--largest", type=int, default=None, help="run one ERGM step at this n and report memory")
    ap.add_argument("--dtype", default="float64", choices=["float64", "float32"])
    ap.add_argument("--noisy", action="store_true",
                    help="print the noisy-flow table (benchmarks/noisy.py), then stop")
    ap.add_argument("--accuracy", type=int, nargs="*", default=None, metavar="N",
                    help="print the time-to-accuracy table (benchmarks/accuracy.py) at 64 blocks "
                    "and at each N given, then stop")
    ap.add_argument("--step-costs", default=None, help=argparse.SUPPRESS)  # child mode of section [3]
    ap.add_argument("--graphonflow-first", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.step_costs:
        res = step_costs([int(v) for v in args.step_costs.split(",")])
        for r in res:
            r["env"] = {k: os.environ.get(k, "(unset)") for k in ("GOMP_SPINCOUNT", "OPENBLAS_THREAD_TIMEOUT")}
        print(json.dumps(res))
        return
    if args.noisy:
        import noisy  # benchmarks/noisy.py, beside this file

        noisy.main(["--quick"] if args.quick else [])
        return
    if args.accuracy is not None:
        import accuracy  # benchmarks/accuracy.py, beside this file

        accuracy.main(["--n", str(n)] if (n := (args.accuracy or [None])[0]) else [])
        for extra in args.accuracy[1:]:
            accuracy.table_small(extra)
        return
    if args.largest:
        for info in threadpool_info():
            print(f"threadpool: {info.get('internal_api')} {info.get('version', '')} "
                  f"kernel={info.get('architecture', '?')} threads={info.get('num_threads')}")
        largest(args.largest, args.dtype)
        return
    quick = args.quick

    print("graphonflow flow benchmark")
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} logical CPUs")
    print(f"thread defaults set by graphonflow in this process: {gf._threads.APPLIED or 'none'}; "
          f"OPENBLAS_THREAD_TIMEOUT={os.environ.get('OPENBLAS_THREAD_TIMEOUT', '(unset)')} "
          f"GOMP_SPINCOUNT={os.environ.get('GOMP_SPINCOUNT', '(unset)')} numba layer: {_numba_layer()}")
    for info in threadpool_info():
        print(
            f"threadpool: {info.get('internal_api')} {info.get('version', '')} "
            f"kernel/architecture={info.get('architecture', '?')} threads={info.get('num_threads')} "
            f"({os.path.basename(info.get('filepath', ''))})"
        )

    # ------------------------------------------------------------------ bandwidth
    triad_bw, copy_bw = bandwidth(1 << (23 if quick else 25))
    bw = max(triad_bw, copy_bw)
    print(f"\n[1] memory bandwidth: triad {triad_bw:.1f} GB/s, copy {copy_bw:.1f} GB/s -> using {bw:.1f} GB/s")

    # ------------------------------------------------------------------ fused step vs numpy
    n = 1500 if quick else 4000
    B = rand_sym(n)
    G = rand_sym(n, seed=1) - 0.5  # exactly symmetric (rand_sym mirrors)
    w = np.full(n, 1.0 / n)
    out = np.empty_like(B)
    print(f"\n[2] one entry-wise step at n={n} (float64); fused = one Numba pass over the upper triangle")
    print("    bytes counted for the fused pass: read B and G upper triangles + write all of out = 2 n^2 x 8")
    print("    the copy column is np.copyto of one n x n array (the same 2 n^2 x 8 bytes), timed")
    print("    interleaved with the fused pass, so both see the same machine load")
    print(f"    {'step':<34}{'fused ms':>10}{'numpy ms':>10}{'speed-up':>10}{'GB/s':>8}{'copy GB/s':>11}{'% copy':>8}{'% bw':>7}")
    scratch = np.empty_like(B)
    for label, alpha, which, rows in [
        ("gradient step (no entropy), tiled", 0.0, "euler", False),
        ("gradient step (no entropy), rows*", 0.0, "euler", True),
        ("gradient step + entropy (Euler)", 0.5, "euler", False),
        ("forward-backward + entropy (prox)", 0.5, "prox", False),
    ]:
        kern = K.euler_step if which == "euler" else K.prox_step
        extra = {"symmetric_G": True} if rows else {}
        kern(B, G, w, 0.01, gscale=0.3, alpha=alpha, beta=-0.2, lo=0.0, hi=1.0, out=out, **extra)
        tf = tc = math.inf
        for _ in range(5):
            tf = min(tf, best_of(lambda: kern(B, G, w, 0.01, gscale=0.3, alpha=alpha, beta=-0.2, out=out, **extra), 1))
            tc = min(tc, best_of(lambda: np.copyto(scratch, B), 1))
        if which == "euler":
            tn = best_of(lambda: numpy_euler(B, G, 0.3, w, 0.01, alpha, -0.2, 0.0, 1.0), 2)
        else:  # the NumPy twin of the proximal solve (iterates over the whole matrix)
            m2 = n // 4
            Bs, Gs, ws_ = B[:m2, :m2].copy(), G[:m2, :m2].copy(), np.full(m2, 1.0 / m2)
            tn = 16.0 * best_of(lambda: K._prox_ref(Bs, Gs, 0.3, ws_, 0.01, alpha, -0.2, 0.0, 1.0), 1)
        # the row kernel reads B and G whole (3 streams); the tiled one half of each (2 streams)
        gbs = (3 if rows else 2) * n * n * 8 / tf / 1e9
        cbs = 2 * n * n * 8 / tc / 1e9
        note = "  (numpy twin at n/4, x16)" if which == "prox" else ""
        if rows:
            note = "  (*bytes: read B, G whole + write out = 3 n^2 x 8)"
        print(
            f"    {label:<34}{tf*1e3:>10.1f}{tn*1e3:>10.1f}{tn/tf:>9.1f}x{gbs:>8.1f}{cbs:>11.1f}"
            f"{100*gbs/cbs:>7.0f}%{100*gbs/bw:>6.0f}%{note}"
        )

    # ------------------------------------------------------------------ ERGM step vs syrk
    sizes = (500, 1000) if quick else (1000, 2000, 4000)
    print("\n[3] one ERGM flow step (edge + triangle + 1/2 entropy, float64) inside a running gf.flow,")
    print("    against its one symmetric product (_linalg.sym_square, timed alone, best of 9).")
    print("    step = (wall time of a long flow - that of a short one) / extra steps, fixed dt, save_fn,")
    print("    median of 3 such pairs:")
    print("    so the thread pools hand over as they do in real runs. Each setting in a fresh process:")
    print("      a: graphonflow imported before numpy (as the graphonflow command does): both thread defaults")
    print("      b: numpy imported first (a typical script): GOMP_SPINCOUNT only")
    print("      c: GRAPHONFLOW_THREAD_DEFAULTS=0: both pools spin as shipped")
    runs = {
        "a": step_costs_child(sizes, ["--graphonflow-first"], {}),
        "b": step_costs_child(sizes, [], {}),
        "c": step_costs_child(sizes, [], {"GRAPHONFLOW_THREAD_DEFAULTS": "0"}),
    }
    print(f"    {'n':>6}{'product ms':>11}{'GFLOP/s':>9}   {'prox a':>7}{'ratio':>6}  {'euler a':>8}{'ratio':>6}"
          f"  {'prox b':>7}{'ratio':>6}  {'prox c':>7}{'ratio':>6}")
    for k, n in enumerate(sizes):
        ra, rb, rc = runs["a"][k], runs["b"][k], runs["c"][k]
        print(f"    {n:>6}{ra['product']*1e3:>11.1f}{n**3/ra['product']/1e9:>9.1f}   "
              f"{ra['prox']*1e3:>7.1f}{ra['prox']/ra['product']:>6.2f}  {ra['euler']*1e3:>8.1f}{ra['euler']/ra['product']:>6.2f}"
              f"  {rb['prox']*1e3:>7.1f}{rb['prox']/rb['product']:>6.2f}  {rc['prox']*1e3:>7.1f}{rc['prox']/rc['product']:>6.2f}")
    for key in "abc":
        print(f"    setting {key} ran with {runs[key][0]['env']}")
    print("    (each ratio divides by the product time measured in the same process; products there:",
          ", ".join(f"{key}: " + "/".join(f"{r['product']*1e3:.1f}" for r in runs[key]) for key in "bc") + " ms)")

    # ------------------------------------------------------------------ float32 vs float64
    F = gf.ergm([-0.5, 1.0])  # -(-0.5) t(K2) - 1.0 t(K3) + 1/2 E
    n = 2000 if quick else 8000
    print(f"\n[4] float32 vs float64 at n={n}: prox ERGM flow, peak numpy memory and time per step")
    A64 = rand_sym(n)
    res = {}
    print("    (one step of gf.flow between two saves, energy and gradient norm included; product alone)")
    for dt_ in (np.float64, np.float32):
        A = A64.astype(dt_)
        gf.flow(F, A[:256, :256], t1=0.02, dt=0.01)  # compile for this dtype
        stamps = []

        def stamp(t, B):
            stamps.append(time.perf_counter())

        tracemalloc.start()
        tracemalloc.reset_peak()
        # two steps, saving every step through save_fn (no n x n copies are kept); the
        # time between the two saves is one full step of gf.flow, energy and norm included
        gf.flow(F, A, t1=0.02, dt=0.01, save_every=1, save_fn=stamp)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        step = stamps[-1] - stamps[-2]
        ts = best_of(product(A), 1)
        nbuf = peak / (n * n * np.dtype(dt_).itemsize)
        res[dt_] = (peak, step, ts, nbuf)
        print(
            f"    {np.dtype(dt_).name:>8}: peak {peak/2**30:6.2f} GiB = {nbuf:4.2f} n x n buffers, "
            f"step {step:6.2f} s, product {ts:6.2f} s, ratio {step/ts:4.2f}"
        )
        del A
    p64, s64 = res[np.float64][0], res[np.float64][1]
    p32, s32 = res[np.float32][0], res[np.float32][1]
    print(f"    float32/float64: memory {p32/p64:.2f}x, step time {s32/s64:.2f}x")

    # small vectors and bookkeeping excluded: up to 0.1 buffer (they are float64 n-vectors and
    # tile tables, relatively twice as large next to float32 matrices)
    nb = math.ceil(max(v[3] for v in res.values()) - 0.1)
    try:
        with open("/proc/meminfo") as fh:
            total = int(next(line for line in fh if line.startswith("MemTotal")).split()[1]) * 1024
    except (OSError, StopIteration, ValueError):
        total = 24 * 2**30
    budget = total - 2**30  # leave 1 GiB for the OS, the interpreter and BLAS work space
    print("\n[5] largest n whose ERGM flow (prox or euler, fixed dt, save_fn) fits in this machine's")
    print(f"    {total/2**30:.1f} GiB (minus 1 GiB): the flow holds {nb} n x n buffers (B, next B, A^2);")
    print("    the caller's W0 (kept alive by the caller) makes it one more; each saved state without")
    print("    save_fn and adaptive stepping add one each:")
    for dt_ in (np.float64, np.float32):
        isz = np.dtype(dt_).itemsize
        n_flow = int(math.isqrt(budget // (nb * isz)))
        n_w0 = int(math.isqrt(budget // ((nb + 1) * isz)))
        print(f"    {np.dtype(dt_).name}: n <= {n_flow} ({nb} buffers), n <= {n_w0} ({nb + 1} buffers, W0 kept)")

if __name__ == "__main__":
    main()

"""The GPU benchmark table of issue 14, measured on the machine it runs on.

    python benchmarks/gpu.py              # one NVIDIA GPU, through CuPy (benchmarks/gpu.sh runs it)
    python benchmarks/gpu.py --dry-run    # the same code on the CPU with array_api_strict at tiny
                                          # sizes: checks the script, its times mean nothing

What is measured (targets for an H200 in brackets):

* the device's copy bandwidth (``Y[...] = X``, bytes read + written) and cuBLAS's GEMM and SYRK
  flop rates (``backend.gemm``/``sym_square``, float32 and float64);
* the entry-wise passes (Euler, proximal with entropy, noisy Euler, squared speed, a two-term
  linear combination) in GB/s moved against that bandwidth  [>= 60%];
* t(K3), t(C4), t(C5) and their gradients from a fresh workspace, in flop/s performed (syrk
  counted n^3, gemm 2 n^3) against the GEMM rate  [>= 70%];
* t(K4) at n = 5000 in float32 and float64  [< 10 s];
* one step of a fixed-step ERGM flow (prox, -(-0.5) t(K2) - t(K3) + E/2) at n = 50,000 float32,
  as (flow of k2 steps - flow of k1 steps) / (k2 - k1), against one symmetric product
  (``sym_square``) at the same n  [<= 1.3x]; the memory pool's high-water mark in n x n buffers
  during that flow, and the largest n that many buffers leave room for on this card;
* the error of TF32 products (inside ``allow_tf32()``) on t(C5) and its gradient, float32, against
  float64, beside the error of plain float32.

Every number printed comes from this run; nothing is carried over from elsewhere.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import sys
import time

import numpy as np

import graphonflow as gf
from graphonflow.backend import get_backend, to_numpy


class GPU:
    dry = False

    def __init__(self):
        import cupy as cp

        self.cp = cp
        self.be = get_backend(cp.zeros(1))
        props = cp.cuda.runtime.getDeviceProperties(0)
        self.name = props["name"].decode() if isinstance(props["name"], bytes) else str(props["name"])
        self.mem_total = cp.cuda.runtime.memGetInfo()[1]

    def sync(self):
        self.cp.cuda.Device().synchronize()

    def sym(self, n, dtype, seed=0):
        cp = self.cp
        A = cp.random.default_rng(seed).random((n, n), dtype=dtype)
        A += A.T.copy()
        A *= 0.4
        A += 0.1  # entries in (0.1, 0.9), exactly symmetric
        return A

    def free(self):
        self.cp.get_default_memory_pool().free_all_blocks()

    def pool_bytes(self):
        return self.cp.get_default_memory_pool().total_bytes()

    def tf32(self):
        from graphonflow.backend.cupy import allow_tf32

        return allow_tf32()


class DryRun(GPU):
    dry = True

    def __init__(self):
        import array_api_strict as xp

        self.xp = xp
        self.be = get_backend(xp.zeros(1))
        self.name = "dry run: array_api_strict on the CPU (times mean nothing)"
        self.mem_total = 0

    def sync(self):
        pass

    def sym(self, n, dtype, seed=0):
        A = np.random.default_rng(seed).uniform(0.1, 0.9, (n, n))
        return self.xp.asarray(((A + A.T) / 2).astype(dtype))

    def free(self):
        pass

    def pool_bytes(self):
        return 0

    def tf32(self):
        return contextlib.nullcontext()


def timed(dev, f, reps=3):
    """Median wall time of f() over reps runs after one warm-up (device synchronised)."""
    f()
    dev.sync()
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        f()
        dev.sync()
        ts.append(time.perf_counter() - t0)
    return float(np.median(ts))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dry-run", action="store_true", help="run on the CPU with array_api_strict at tiny sizes")
    ap.add_argument("--budget", type=float, default=330.0, help="seconds; later sections are skipped past it")
    args = ap.parse_args(argv)
    dev = DryRun() if args.dry_run else GPU()
    from graphonflow.backend.array_api import read_matrix, uniform_widths
    from graphonflow.backend.xp_hom import XPHomWorkspace
    small = dev.dry
    N_BW, N_MM, N_PASS, N_DENS, N_K4, N_ERGM, N_TF = (
        (256, 128, 256, 128, 40, 200, 64) if small else (23168, 8192, 16384, 16384, 5000, 50000, 8192))
    be = dev.be
    t_start = time.perf_counter()
    rows = []  # (section, what, measured, target, met)

    def left():
        return args.budget - (time.perf_counter() - t_start)

    print(f"device: {dev.name}" + (f", {dev.mem_total / 2**30:.1f} GiB" if dev.mem_total else ""), flush=True)

    # ---- ceilings: copy bandwidth, GEMM and SYRK rates
    X = dev.sym(N_BW, np.float32)
    Y = be.empty_like(X)

    def copy():
        Y[...] = X

    t = timed(dev, copy, reps=5)
    bw = 2 * 4 * N_BW**2 / t
    print(f"copy bandwidth: {bw / 1e9:.0f} GB/s (n = {N_BW} float32, read + write)", flush=True)
    del X, Y
    dev.free()
    rate = {}
    for dt in (np.float32, np.float64):
        A, B = dev.sym(N_MM, dt, 1), dev.sym(N_MM, dt, 2)
        tg = timed(dev, lambda: be.gemm(1.0, A, B))
        ts = timed(dev, lambda: be.sym_square(1.0, A, symmetric=True))
        rate[dt] = 2 * N_MM**3 / tg
        print(f"{np.dtype(dt).name}: GEMM {rate[dt] / 1e12:.1f} TFLOP/s, SYRK(+mirror) {N_MM**3 / ts / 1e12:.1f} "
              f"TFLOP/s performed (n = {N_MM})", flush=True)
        del A, B
        dev.free()

    # ---- entry-wise passes against the bandwidth
    n = N_PASS
    B = read_matrix(dev.sym(n, np.float32, 3))
    G = dev.sym(n, np.float32, 4)
    w = uniform_widths(B)
    out = be.empty_like(B)
    kw = dict(gscale=1.0, beta=-0.5, lo=1e-6, hi=1 - 1e-6)
    passes = [
        ("Euler pass (no entropy)", 3, lambda: be.euler_pass(B, G, w, 0.01, alpha=0.0, out=out, **kw)),
        ("prox pass (entropy 1/2)", 3, lambda: be.prox_pass(B, G, w, 0.01, alpha=0.5, out=out, **kw)),
        ("noisy Euler pass", 3, lambda: be.noisy_euler_pass(B, G, w, 0.01, 0.1, key=1, step=3, alpha=0.0,
                                                          reflect=False, out=out, **kw)),
        ("squared speed", 2, lambda: be.speed2(B, G, w, alpha=0.5, **kw)),
        ("lincomb, 2 terms", 4, lambda: be.lincomb(out, B, [(0.1, G), (0.2, B)])),
    ]
    for what, k, f in passes:
        t = timed(dev, f)
        moved = k * 4 * n * n / t
        rows.append(("entry-wise", f"{what}, n = {n} float32", f"{t * 1e3:.2f} ms, {moved / 1e9:.0f} GB/s = "
                     f"{100 * moved / bw:.0f}% of copy", ">= 60%", moved >= 0.6 * bw if what.startswith(("Euler", "prox"))
                     else None))
    del B, G, out
    dev.free()

    # ---- densities and gradients against GEMM
    n = N_DENS
    for dt in (np.float32, np.float64):
        if left() < 60:
            rows.append(("densities", f"{np.dtype(dt).name}", "skipped (time budget)", ">= 70%", None))
            continue
        A = read_matrix(dev.sym(n if dt == np.float32 else n // 2, dt, 5))
        m = A.shape[0]
        jobs = [("t(K3)", lambda ws: ws.density("K3"), m**3), ("t(C4)", lambda ws: ws.density("C4"), m**3),
                ("t(C5)", lambda ws: ws.density("C5"), 3 * m**3), ("D t(K3)", lambda ws: ws.grad("K3"), m**3),
                ("D t(C4)", lambda ws: ws.grad("C4"), 3 * m**3), ("D t(C5)", lambda ws: ws.grad("C5"), 2 * m**3)]
        for what, f, flops in jobs:
            t = timed(dev, lambda: f(XPHomWorkspace(A, backend=be)), reps=2)
            r = flops / t
            rows.append(("densities", f"{what}, n = {m} {np.dtype(dt).name}", f"{t * 1e3:.1f} ms, {r / 1e12:.1f} TFLOP/s "
                         f"= {100 * r / rate[dt]:.0f}% of GEMM", ">= 70%", r >= 0.7 * rate[dt]))
        del A
        dev.free()

    # ---- K4 at n = 5000
    for dt in (np.float32, np.float64):
        if left() < 90:
            rows.append(("K4", f"t(K4), n = {N_K4} {np.dtype(dt).name}", "skipped (time budget)", "< 10 s", None))
            continue
        A = read_matrix(dev.sym(N_K4, dt, 6))
        t0 = time.perf_counter()
        XPHomWorkspace(A, backend=be).density("K4")
        dev.sync()
        t = time.perf_counter() - t0
        rows.append(("K4", f"t(K4), n = {N_K4} {np.dtype(dt).name}", f"{t:.2f} s ({N_K4**4 / t / 1e12:.1f} TFLOP/s)",
                     "< 10 s", t < 10.0))
        del A
        dev.free()

    # ---- ERGM step at n = 50,000 float32 against one symmetric product
    if left() > 120:
        n = N_ERGM
        F = gf.ergm([-0.5, 1.0])
        W0 = dev.sym(n, np.float32, 7)
        Bs = read_matrix(W0)
        t_prod = timed(dev, lambda: be.sym_square(1.0 / n, Bs, symmetric=True), reps=2)
        del Bs
        dev.free()
        base = dev.pool_bytes()  # W0 itself

        def run(k):
            t0 = time.perf_counter()
            r = gf.flow(F, W0, t1=k * 0.01, dt=0.01, integrator="prox", saveat=gf.SaveAt(fn=lambda t, B: None))
            dev.sync()
            assert r.n_steps == k, r.message
            return time.perf_counter() - t0

        k1, k2 = (1, 4) if not small else (2, 10)
        run(1)
        dev.free()
        t1_, t2_ = run(k1), run(k2)
        high = dev.pool_bytes() - base
        step = (t2_ - t1_) / (k2 - k1)
        rows.append(("ERGM", f"prox step, n = {n} float32", f"{step:.3f} s = {step / t_prod:.2f}x one sym_square "
                     f"({t_prod:.3f} s)", "<= 1.3x", step <= 1.3 * t_prod))
        if high:
            bufs = high / (4 * n * n)
            n_max = int(math.sqrt(dev.mem_total / (4 * (bufs + 1))))  # +1: the caller's own W0
            rows.append(("memory", f"pool high-water in the flow, n = {n} float32", f"{bufs:.1f} n x n buffers "
                         f"({high / 2**30:.1f} GiB); so n <= {n_max} float32 ({int(n_max / math.sqrt(2))} float64) "
                         "fit this card", "small constant", None))
        del W0
        dev.free()
    else:
        rows.append(("ERGM", f"prox step, n = {N_ERGM} float32", "skipped (time budget)", "<= 1.3x", None))

    # ---- TF32: the error it costs
    A64 = dev.sym(N_TF, np.float64, 8)
    ref_ws = XPHomWorkspace(A64, backend=be)
    d64, g64 = ref_ws.density("C5"), to_numpy(ref_ws.grad("C5"))
    A32 = be.xp.astype(A64, be.xp.float32)
    for label, ctx in (("float32", contextlib.nullcontext()), ("float32 + TF32", dev.tf32())):
        with ctx:
            ws = XPHomWorkspace(A32, backend=be)
            d, g = ws.density("C5"), to_numpy(ws.grad("C5")).astype(np.float64)
        err_g = float(np.abs(g - g64).max() / np.abs(g64).max())
        rows.append(("TF32", f"t(C5) and D t(C5), n = {N_TF}, {label}", f"relative error {abs(d - d64) / abs(d64):.1e} "
                     f"(t), {err_g:.1e} (max-norm, D t)", "stated", None))

    print()
    if dev.dry:
        print("(dry run: sizes are tiny and the CPU stands in for the GPU, so no target is judged)")
        rows = [r[:4] + (None,) for r in rows]
    print("| section | what | measured | target | met? |")
    print("|---|---|---|---|---|")
    for sec, what, meas, target, met in rows:
        print(f"| {sec} | {what} | {meas} | {target} | {'' if met is None else ('yes' if met else 'no')} |")
    print(f"\n(total {time.perf_counter() - t_start:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

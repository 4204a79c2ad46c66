"""Benchmark of graphonflow on a dask.distributed cluster (issue 14, the cluster half).

Two measurements, on a local cluster of worker processes on this machine:

1. ``--study``: the built-in study (``graphonflow run``) serially and with ``--workers W``,
   each in a fresh process; wall times, their ratio, and whether the two ``summary.json``
   agree (every number but the wall times) and the two ``trajectory.npz`` are equal bit for bit.
   This takes several minutes: the serial study alone is about three.
2. ``--chunked``: one flow of the edge-triangle ERGM (prox, fixed steps) at n = N, in memory
   and on the cluster cut in C x C chunks (graphonflow.cluster.chunked): time per step (the
   median over the steps after the first), peak resident memory of the in-memory process and
   of each worker, and the largest gap between the two final states.

Run:  python benchmarks/cluster.py --study [--workers 2]
      python benchmarks/cluster.py --chunked [--n 8000 --chunks 4 --steps 4 --workers 2]
      python benchmarks/cluster.py --chunked --quick      (n = 1200, a smoke test)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _hwm_mib():
    """Peak resident set size of this process (VmHWM), MiB."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def _rss_mib():
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def _without_timings(x):
    if isinstance(x, dict):
        return {k: _without_timings(v) for k, v in x.items()
                if k not in ("wall_time", "figure_wall_time", "flow_wall_times")}
    if isinstance(x, list):
        return [_without_timings(v) for v in x]
    return x


def _machine():
    import numpy as np
    from threadpoolctl import threadpool_info

    blas = [f"{d['internal_api']} {d.get('version')} {d.get('architecture')} x{d['num_threads']}"
            for d in threadpool_info() if d.get("user_api") == "blas"]
    load = os.getloadavg()
    return (f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, numpy {np.__version__}, "
            f"BLAS {', '.join(blas)}; load average at start {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f}")


# --------------------------------------------------------------------------- 1. the study
def run_study(workers):
    import numpy as np

    d = Path(tempfile.mkdtemp(prefix="gf-cluster-bench-"))
    times = {}
    for name, extra in (("serial", []), (f"workers {workers}", ["--workers", str(workers)])):
        out = d / name.replace(" ", "_")
        t0 = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "graphonflow", "run", "--out", str(out), "--quiet"] + extra,
                              cwd=ROOT, capture_output=True, text=True)
        times[name] = time.perf_counter() - t0
        if proc.returncode != 0:
            raise SystemExit(f"{name} failed:\n{proc.stderr}")
        print(f"  {name}: {times[name]:.1f} s  ({proc.stdout.splitlines()[0]})", flush=True)
    a, b = d / "serial", d / f"workers_{workers}"
    sa = json.loads((a / "summary.json").read_text())
    sb = json.loads((b / "summary.json").read_text())
    same_summary = _without_timings(sa) == _without_timings(sb)
    ta, tb = np.load(a / "trajectory.npz"), np.load(b / "trajectory.npz")
    same_arrays = sorted(ta.files) == sorted(tb.files) and all(
        np.array_equal(ta[k], tb[k], equal_nan=ta[k].dtype.kind == "f") for k in ta.files)
    flows = {f["label"]: f["flow_wall_times"] for f in sb["functionals"]}
    t_serial, t_cluster = times["serial"], times[f"workers {workers}"]
    print()
    print("| run | wall time (s) | speed-up | summary.json numbers | trajectory.npz |")
    print("|---|---|---|---|---|")
    print(f"| serial (`graphonflow run`) | {t_serial:.1f} | 1.00 | | |")
    print(f"| `graphonflow run --workers {workers}` | {t_cluster:.1f} | {t_serial / t_cluster:.2f} | "
          f"{'identical' if same_summary else 'DIFFERENT'} | {'identical' if same_arrays else 'DIFFERENT'} |")
    print(f"\nfinite flows' wall times on the cluster (s): {json.dumps(flows)}")
    return dict(serial=t_serial, cluster=t_cluster, same_summary=same_summary, same_arrays=same_arrays)


# --------------------------------------------------------------------------- 2. a chunked flow
IN_MEMORY = textwrap.dedent("""
    import json, sys, time
    sys.path.insert(0, sys.argv[4])
    import graphonflow as gf
    import numpy as np
    n, steps, dt = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
    rng = np.random.default_rng(1)
    A = rng.random((n, n)); A += A.T; A *= 0.25; A += 0.25     # in [0.25, 0.75], symmetric
    F = gf.ergm([-1.0, 2.0])
    stamps = []
    t0 = time.perf_counter()
    res = gf.flow(F, A, t1=steps * dt, dt=dt, integrator="prox",
                  progress=lambda t, h, e: stamps.append(time.perf_counter()))
    np.save(sys.argv[5], res.W)
    with open("/proc/self/status") as fh:
        hwm = [int(l.split()[1]) / 1024 for l in fh if l.startswith("VmHWM:")][0]
    print(json.dumps({"stamps": [t0] + stamps, "hwm": hwm, "steps": res.n_steps}))
""")


def _worker_memory():
    import graphonflow.cluster.blocks  # noqa: F401  (the imports a chunked flow makes, in the baseline)

    return {"hwm": _hwm_mib(), "rss": _rss_mib()}


def run_chunked(n, chunks, steps, workers, dt=0.05):
    import numpy as np

    import graphonflow as gf
    from graphonflow.cluster.chunked import chunked_flow
    from graphonflow.cluster.sweep import local_client

    d = Path(tempfile.mkdtemp(prefix="gf-chunked-bench-"))
    print(f"  in memory: n = {n}, {steps} prox steps of the ERGM (-1, 2) ...", flush=True)
    proc = subprocess.run([sys.executable, "-c", IN_MEMORY, str(n), str(steps), str(dt), str(ROOT), str(d / "W.npy")],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(proc.stderr)
    mem = json.loads(proc.stdout.strip().splitlines()[-1])
    st = mem["stamps"]
    per_mem = [b - a for a, b in zip(st[:-1], st[1:])]
    Wm = np.load(d / "W.npy")

    rng = np.random.default_rng(1)
    A = rng.random((n, n)); A += A.T; A *= 0.25; A += 0.25  # noqa: E702
    F = gf.ergm([-1.0, 2.0])
    print(f"  chunked: {chunks} x {chunks} chunks on {workers} workers ...", flush=True)
    with local_client(workers, memory_limit=0) as client:
        base = client.run(_worker_memory)
        stamps = []
        t0 = time.perf_counter()
        res = chunked_flow(F, A, client=client, chunks=chunks, t1=steps * dt, dt=dt, integrator="prox",
                           progress=lambda t, h, e: stamps.append(time.perf_counter()))
        Wc = res.W.to_numpy()
        peak = client.run(_worker_memory)
    per_chunk = [b - a for a, b in zip([t0] + stamps[:-1], stamps)]
    gap = float(np.abs(Wc - Wm).max())
    del A
    med_m = statistics.median(per_mem[1:] or per_mem)
    med_c = statistics.median(per_chunk[1:] or per_chunk)
    block = -(-n // chunks)
    print()
    print(f"| n = {n}, ERGM (-1, 2), prox | time per step (s) | ratio | peak memory |")
    print("|---|---|---|---|")
    print(f"| in memory (one process, {os.cpu_count()} BLAS threads) | {med_m:.2f} | 1.00 | {mem['hwm']:.0f} MiB |")
    workers_mem = ", ".join(f"{v['hwm']:.0f}" for v in peak.values())
    base_mem = ", ".join(f"{v['hwm']:.0f}" for v in base.values())
    print(f"| chunked {chunks} x {chunks} (blocks of {block}), {workers} workers x 1 thread | {med_c:.2f} | "
          f"{med_c / med_m:.2f} | per worker {workers_mem} MiB (after imports {base_mem} MiB) |")
    print(f"\nsteps: in memory {', '.join(f'{x:.2f}' for x in per_mem)} s; chunked "
          f"{', '.join(f'{x:.2f}' for x in per_chunk)} s (the first includes start-up)")
    print(f"largest entry gap between the final states: {gap:.2e}; one float64 n x n matrix is "
          f"{n * n * 8 / 2**20:.0f} MiB, its upper blocks {(chunks * (chunks + 1) // 2) * block * block * 8 / 2**20:.0f} MiB")
    return dict(in_memory=med_m, chunked=med_c, gap=gap, worker_hwm=[v["hwm"] for v in peak.values()],
                in_memory_hwm=mem["hwm"])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--study", action="store_true", help="the built-in study, serial against --workers")
    ap.add_argument("--chunked", action="store_true", help="one chunked flow against the in-memory flow")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--n", type=int, default=8000)
    ap.add_argument("--chunks", type=int, default=4)
    ap.add_argument("--steps", type=int, default=4)
    ap.add_argument("--quick", action="store_true", help="--chunked at n = 1200 in 3 x 3 chunks")
    args = ap.parse_args(argv)
    if not (args.study or args.chunked):
        ap.error("give --study and/or --chunked")
    print(f"machine: {_machine()}", flush=True)
    if args.study:
        print(f"\n## the built-in study, serial and on {args.workers} worker processes", flush=True)
        run_study(args.workers)
    if args.chunked:
        n, chunks = (1200, 3) if args.quick else (args.n, args.chunks)
        print(f"\n## a chunked flow at n = {n}", flush=True)
        run_chunked(n, chunks, args.steps, args.workers)
    print(f"\nload average at the end: {' / '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()

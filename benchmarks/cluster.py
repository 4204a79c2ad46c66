"""Benchmark of graphonflow on a dask.distributed cluster (issue 14, the cluster half).

Two measurements, on a local cluster of worker processes on this machine:

1. ``--study``: the built-in study (``graphonflow run``) four times, each in a fresh process:
   serially; with ``--workers W`` (every task under the client's thread counts: the serial
   numbers); serially with one BLAS and one Numba thread; with ``--workers W --task-threads 1``.
   Wall times, and whether each cluster run's ``summary.json`` agrees with its serial run (every
   number but the wall times) and its ``trajectory.npz`` is equal bit for bit.  This takes a
   quarter of an hour or more: the serial study alone is about three minutes on an idle machine.
2. ``--chunked``: one flow of the edge-triangle ERGM (prox, fixed steps) at n = N, in memory
   and on the cluster cut in C x C chunks (graphonflow.cluster.chunked): time per step (the
   median over the steps after the first), peak resident memory of the in-memory process and
   of each worker, and the largest gap between the two final states.

3. ``--threads``: four independent flows (dp54, t(C5) + E/8, n = 800) one after another in one
   process, then as tasks on the workers under the client's thread counts and with one thread
   each: what oversubscribing the cores costs.

Run:  python benchmarks/cluster.py --study [--workers 2]
      python benchmarks/cluster.py --threads
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
def _same(a, b):
    import numpy as np

    sa = json.loads((a / "summary.json").read_text())
    sb = json.loads((b / "summary.json").read_text())
    ta, tb = np.load(a / "trajectory.npz"), np.load(b / "trajectory.npz")
    same_arrays = sorted(ta.files) == sorted(tb.files) and all(
        np.array_equal(ta[k], tb[k], equal_nan=ta[k].dtype.kind == "f") for k in ta.files)
    return _without_timings(sa) == _without_timings(sb), same_arrays


def run_study(workers):
    d = Path(tempfile.mkdtemp(prefix="gf-cluster-bench-"))
    one = {"OPENBLAS_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1"}
    runs = [("serial", None, []), (f"--workers {workers}", None, ["--workers", str(workers)]),
            ("serial, OPENBLAS_NUM_THREADS=1 NUMBA_NUM_THREADS=1", one, []),
            (f"--workers {workers} --task-threads 1", None, ["--workers", str(workers), "--task-threads", "1"])]
    times, outs = {}, {}
    for name, env, extra in runs:
        out = d / f"run{len(outs)}"
        t0 = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "graphonflow", "run", "--out", str(out), "--quiet"] + extra,
                              cwd=ROOT, capture_output=True, text=True,
                              env=None if env is None else dict(os.environ, **env))
        times[name] = time.perf_counter() - t0
        outs[name] = out
        if proc.returncode != 0:
            raise SystemExit(f"{name} failed:\n{proc.stderr}")
        print(f"  {name}: {times[name]:.1f} s, load average {os.getloadavg()[0]:.2f}", flush=True)
    (s0, _, _), (c0, _, _), (s1, _, _), (c1, _, _) = runs
    exact = _same(outs[s0], outs[c0])
    single = _same(outs[s1], outs[c1])
    word = lambda ok: "identical" if ok else "DIFFERENT"  # noqa: E731
    print()
    print(f"| run | wall time (s) | vs serial | compared with | summary.json numbers | trajectory.npz |")
    print("|---|---|---|---|---|---|")
    t = times[s0]
    print(f"| `graphonflow run` (serial) | {t:.1f} | 1.00 | | | |")
    print(f"| `graphonflow run {c0}` | {times[c0]:.1f} | {t / times[c0]:.2f} | the serial run | {word(exact[0])} | "
          f"{word(exact[1])} |")
    print(f"| `{s1.split(', ')[1]} graphonflow run` | {times[s1]:.1f} | {t / times[s1]:.2f} | | | |")
    print(f"| `graphonflow run {c1}` | {times[c1]:.1f} | {t / times[c1]:.2f} | the one-thread serial run "
          f"({times[s1] / times[c1]:.2f}x faster) | {word(single[0])} | {word(single[1])} |")
    for name in (c0, c1):
        sb = json.loads((outs[name] / "summary.json").read_text())
        flows = {f["label"]: {k: [round(x, 1) for x in v] for k, v in f["flow_wall_times"].items()}
                 for f in sb["functionals"]}
        print(f"\nfinite flows' wall times with {name} (s): {json.dumps(flows)}")
    return times


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


def _threads_job(n):
    import numpy as np

    from graphonflow import Entropy, HomDensity, flow

    x = np.arange(n)
    A = 0.5 + 0.1 * np.cos(x)[:, None] * np.cos(x)[None, :]
    t = time.perf_counter()
    r = flow(HomDensity("C5") + 0.125 * Entropy(), A, t1=2.0, rtol=1e-3)
    return time.perf_counter() - t, r.n_steps


def run_threads(workers, n=800, jobs=4):
    """The same independent flows one after another here, as tasks under the client's thread
    counts, and as tasks of one thread each."""
    from graphonflow.cluster.sweep import local_client, submit, thread_settings

    _threads_job(200)  # compile
    t0 = time.perf_counter()
    for _ in range(jobs):
        _threads_job(n)
    serial = time.perf_counter() - t0
    rows = [("one after another in this process", serial, thread_settings())]
    with local_client(workers) as client:
        for f in [submit(client, _threads_job, 200) for _ in range(workers)]:
            f.result()  # start-up and compilation on the workers
        for settings in (thread_settings(), {"blas": 1, "numba": 1}):
            t0 = time.perf_counter()
            futs = [submit(client, _threads_job, n, settings=settings) for _ in range(jobs)]
            [f.result() for f in futs]
            rows.append((f"as tasks on {workers} workers", time.perf_counter() - t0, settings))
    print()
    print(f"| {jobs} dp54 flows of t(C5) + E/8 at n = {n} | BLAS / Numba threads per flow | wall time (s) | vs one after another |")
    print("|---|---|---|---|")
    for name, t, st in rows:
        print(f"| {name} | {st['blas']} / {st['numba']} | {t:.1f} | {serial / t:.2f} |")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--study", action="store_true", help="the built-in study, serial against --workers")
    ap.add_argument("--chunked", action="store_true", help="one chunked flow against the in-memory flow")
    ap.add_argument("--threads", action="store_true", help="independent flows as tasks with 2 threads and 1 thread each")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--n", type=int, default=8000)
    ap.add_argument("--chunks", type=int, default=4)
    ap.add_argument("--steps", type=int, default=4)
    ap.add_argument("--quick", action="store_true", help="--chunked at n = 1200 in 3 x 3 chunks")
    args = ap.parse_args(argv)
    if not (args.study or args.chunked or args.threads):
        ap.error("give --study, --threads and/or --chunked")
    print(f"machine: {_machine()}", flush=True)
    if args.study:
        print(f"\n## the built-in study, serial and on {args.workers} worker processes", flush=True)
        run_study(args.workers)
    if args.threads:
        print(f"\n## threads per task: independent flows on {args.workers} workers", flush=True)
        run_threads(args.workers)
    if args.chunked:
        n, chunks = (1200, 3) if args.quick else (args.n, args.chunks)
        print(f"\n## a chunked flow at n = {n}", flush=True)
        run_chunked(n, chunks, args.steps, args.workers)
    print(f"\nload average at the end: {' / '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()

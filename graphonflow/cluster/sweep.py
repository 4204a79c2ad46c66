r"""Independent flows on a ``dask.distributed`` cluster: one task per flow, serial results.

A convergence study, an ERGM phase diagram or a scan over parameters is a set of independent
flows.  Here each one is a task on a cluster.  Three things make the results those of the
serial run, bit for bit:

* **randomness is explicit**: every flow is seeded from its own stream (the study's
  ``finite_start`` stream ``[base, 1, n, seed]``, the cut norm's ``[base, 2, n, seed, k]``),
  never from a generator shared between flows, so nothing depends on where or in which order
  a flow runs;
* **thread settings travel with the task**: BLAS and Numba reductions round differently with
  different thread counts (OpenBLAS splits a product between its threads, a Numba ``prange``
  sum is grouped by thread), so :func:`thread_settings` records the client's BLAS and Numba
  thread counts and :func:`run_task` applies them on the worker for the task's duration
  (dask's nanny starts workers with ``OPENBLAS_NUM_THREADS=1``; ``threadpoolctl`` raises it
  again);
* **the client does the bookkeeping**: results come back with
  :func:`dask.distributed.as_completed`, and checkpoints, progress and the order of the
  outputs are handled in the client process.

The same software must run on the workers and in the client, on the same kind of CPU: another
BLAS build or another instruction set rounds differently, and then only "equal to rounding" is
left.  :func:`local_client` starts a cluster on this machine (processes, one task per worker).

>>> from graphonflow.cluster.sweep import thread_settings
>>> sorted(thread_settings())
['blas', 'numba']
"""

from __future__ import annotations

import contextlib
import itertools
import os
import uuid

__all__ = ["require_distributed", "thread_settings", "worker_threads", "run_task", "submit", "local_client",
           "connect", "cluster_client", "sweep", "describe", "oversubscription", "worker_pre_spawn_env"]

INSTALL = 'pip install "graphonflow[cluster]"'


def require_distributed():
    """Import and return ``dask.distributed``, or raise an ImportError that says how to install it."""
    try:
        import dask.distributed as dd
    except ImportError as exc:  # pragma: no cover - exercised where dask is missing
        raise ImportError(f"graphonflow's cluster features need dask.distributed ({exc}); install them with "
                          f"{INSTALL}") from None
    return dd


# --------------------------------------------------------------------------- threads
def thread_settings() -> dict:
    """The thread counts of this process that change rounding: ``{"blas": k, "numba": j}``.

    ``blas`` is the largest thread count of the loaded BLAS libraries (as ``threadpoolctl``
    reports them), ``numba`` is :func:`numba.get_num_threads`.
    """
    import numba
    from threadpoolctl import threadpool_info

    import numpy  # noqa: F401  (numpy's BLAS must be loaded for threadpoolctl to see it)

    blas = [d["num_threads"] for d in threadpool_info() if d.get("user_api") == "blas"]
    return {"blas": max(blas) if blas else None, "numba": int(numba.get_num_threads())}


@contextlib.contextmanager
def worker_threads(settings):
    """Run the block under ``settings`` (from :func:`thread_settings`): BLAS limited (or raised)
    to its count through ``threadpoolctl``, Numba's thread count set with
    :func:`numba.set_num_threads` (capped at the worker's ``NUMBA_NUM_THREADS``); both are
    restored afterwards."""
    import numba
    from threadpoolctl import threadpool_limits

    settings = settings or {}
    with contextlib.ExitStack() as stack:
        if settings.get("blas"):
            stack.enter_context(threadpool_limits(limits=int(settings["blas"]), user_api="blas"))
        before = numba.get_num_threads()
        want = settings.get("numba")
        if want:
            numba.set_num_threads(max(1, min(int(want), int(numba.config.NUMBA_NUM_THREADS))))
        try:
            yield
        finally:
            numba.set_num_threads(before)


def run_task(settings, fn, args, kwargs):
    """What a worker runs: ``fn(*args, **kwargs)`` under the client's thread settings."""
    import graphonflow  # noqa: F401  (its thread defaults, before the first parallel kernel)

    with worker_threads(settings):
        return fn(*args, **kwargs)


_counter = itertools.count()


def submit(client, fn, *args, label=None, priority=0, settings=None, **kwargs):
    """Submit ``fn(*args, **kwargs)`` as one task that runs under ``settings`` (default: this
    process's :func:`thread_settings`).  ``label`` names the task on the dashboard; a higher
    ``priority`` starts earlier (dask's ``priority``)."""
    settings = thread_settings() if settings is None else settings
    name = "graphonflow-" + "".join(c if c.isalnum() else "_" for c in (label or fn.__name__))
    key = f"{name}-{next(_counter)}-{uuid.uuid4().hex[:8]}"
    return client.submit(run_task, settings, fn, args, kwargs, key=key, priority=int(priority), pure=False)


# --------------------------------------------------------------------------- clusters
#: environment of the workers :func:`local_client` starts: the idle-thread defaults that
#: ``import graphonflow`` sets (see graphonflow._threads); they change no result
WORKER_ENV = {"OPENBLAS_THREAD_TIMEOUT": "4", "GOMP_SPINCOUNT": "10000"}

#: variables of dask's ``distributed.nanny.pre-spawn-environ`` that :func:`local_client` leaves
#: out.  dask sets ``MALLOC_TRIM_THRESHOLD_=65536`` so that workers hand freed memory back to the
#: OS; any such variable also turns off glibc's adaptive mmap threshold, so every n x n temporary
#: of a flow (5 MiB at n = 800) becomes a fresh mmap whose pages fault in on first touch.  A dp54
#: flow of t(C5) + E/8 at n = 800 took 5.2 s in a worker against 3.1 s in a plain process, and
#: 3.8-4.5 s in a plain process started with the variable (benchmarks/RESULTS.md, "Clusters").
DROPPED_PRE_SPAWN = ("MALLOC_TRIM_THRESHOLD_",)


def worker_pre_spawn_env() -> dict:
    """The environment :func:`local_client`'s workers are spawned with: dask's
    ``distributed.nanny.pre-spawn-environ`` without :data:`DROPPED_PRE_SPAWN`, plus
    :data:`WORKER_ENV` (set before the worker process starts, so before numpy loads its BLAS)."""
    import dask

    env = {str(k): str(v) for k, v in (dask.config.get("distributed.nanny.pre-spawn-environ", default={}) or {}).items()
           if k not in DROPPED_PRE_SPAWN}
    env.update(WORKER_ENV)
    return env


@contextlib.contextmanager
def local_client(workers, *, memory_limit="auto", silence_logs=True):
    """A ``dask.distributed`` client on a fresh local cluster of ``workers`` processes (one task
    at a time each), closed when the block ends.  Each worker's BLAS and Numba threads are set
    per task by :func:`run_task`, so the workers round as this process does.  The workers are
    spawned with :func:`worker_pre_spawn_env`: dask's defaults without its malloc trim setting,
    which made every flow task 1.2-1.7x slower."""
    if isinstance(workers, bool) or int(workers) != workers or int(workers) < 1:
        raise ValueError(f"workers must be a positive integer (worker processes), got {workers!r}")
    dd = require_distributed()
    import logging

    import dask

    kw = dict(n_workers=int(workers), threads_per_worker=1, processes=True, dashboard_address=":0",
              memory_limit=memory_limit)
    if silence_logs:
        kw["silence_logs"] = logging.ERROR
    # the nannies read the pre-spawn environment when they are made, here
    with dask.config.set({"distributed.nanny.pre-spawn-environ": worker_pre_spawn_env()}):
        cluster = dd.LocalCluster(**kw)
    try:
        client = dd.Client(cluster)
        try:
            yield client
        finally:
            client.close()
    finally:
        cluster.close()


def connect(address, timeout=10):
    """A client of the scheduler at ``address`` (``tcp://host:8786``); an OSError naming the
    address when it cannot be reached within ``timeout`` seconds."""
    dd = require_distributed()
    try:
        return dd.Client(address, timeout=f"{float(timeout)}s")
    except (OSError, TimeoutError, ValueError) as exc:
        raise OSError(f"cannot reach the dask scheduler at {address!r} ({type(exc).__name__}: {exc})") from None


@contextlib.contextmanager
def cluster_client(client=None, workers=None, scheduler=None):
    """The client to use: ``client`` as given, a local cluster of ``workers`` processes, a
    connection to ``scheduler``, or None (serial) when none is given.  At most one of the three."""
    given = [name for name, v in (("client", client), ("workers", workers), ("scheduler", scheduler)) if v is not None]
    if len(given) > 1:
        raise ValueError(f"give one of client=, workers=, scheduler= (got {', '.join(given)})")
    if workers is not None:
        with local_client(workers) as c:
            yield c
    elif scheduler is not None:
        c = connect(scheduler)
        try:
            yield c
        finally:
            c.close()
    else:
        yield client


def describe(client) -> str:
    """``"2 workers (2 threads) at tcp://127.0.0.1:40001"``."""
    info = client.scheduler_info()
    ws = info.get("workers", {})
    threads = sum(int(w.get("nthreads", 1)) for w in ws.values())
    return f"{len(ws)} workers ({threads} threads) at {info.get('address', '?')}"


def oversubscription(client, settings, *, cores=None):
    """A note for the user when the tasks of a local cluster would run more threads than the
    machine has cores (None otherwise, and for clusters elsewhere, whose cores are not known
    here): task slots x max(BLAS, Numba threads per task) > ``cores`` (default: the cores this
    process may run on).  Oversubscribed BLAS and OpenMP threads wait on each other: the
    built-in study with --workers 2 and two threads per task ran 0.89x the serial run on 2 cores,
    and 1.45x with --task-threads 1 (benchmarks/RESULTS.md, "Clusters")."""
    if not isinstance(getattr(client, "cluster", None), require_distributed().LocalCluster):
        return None
    per_task = max(int((settings or {}).get("blas") or 1), int((settings or {}).get("numba") or 1))
    slots = sum(int(w.get("nthreads", 1)) for w in client.scheduler_info().get("workers", {}).values())
    if cores is None:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if slots * per_task <= cores:
        return None
    k = max(1, cores // max(slots, 1))
    return (f"note: {slots} task slot(s) x {per_task} threads per task = {slots * per_task} threads on {cores} "
            f"cores: they are oversubscribed, so each task runs slower than alone.  --task-threads {k} avoids "
            f"that; its numbers are then those of a serial run under OPENBLAS_NUM_THREADS={k} "
            f"NUMBA_NUM_THREADS={k} instead of this process's thread counts")


def sweep(client, fn, jobs, *, labels=None, priorities=None, progress=None):
    """Run ``fn(*job)`` for every job on the cluster (one task each) and return the results in
    the order of ``jobs``: a parallel ``[fn(*job) for job in jobs]`` with the same numbers.

    ``jobs`` holds tuples of arguments (or dicts of keywords); ``fn`` must be picklable (a
    module-level function).  ``progress(label, done, total)`` is called in this process as each
    task finishes.  If a task fails the others are cancelled and its error is raised.

    Examples
    --------
    An edge-triangle ERGM at three values of beta_2, each flow a task:

    >>> import numpy as np
    >>> from graphonflow import ergm, flow
    >>> def final_density(b2):
    ...     return float(flow(ergm([-1.0, b2]), np.full((8, 8), 0.5), t1=20.0, dt=0.1).W.mean())
    >>> with local_client(2) as client:                                   # doctest: +SKIP
    ...     sweep(client, final_density, [(0.5,), (2.0,), (4.0,)])
    """
    dd = require_distributed()
    jobs = list(jobs)
    settings = thread_settings()
    futs = []
    for k, job in enumerate(jobs):
        lab = labels[k] if labels is not None else f"{getattr(fn, '__name__', 'task')} {k}"
        pr = priorities[k] if priorities is not None else 0
        if isinstance(job, dict):
            futs.append(submit(client, fn, label=lab, priority=pr, settings=settings, **job))
        else:
            futs.append(submit(client, fn, *tuple(job), label=lab, priority=pr, settings=settings))
    index = {f.key: k for k, f in enumerate(futs)}
    out = [None] * len(futs)
    try:
        for done, f in enumerate(dd.as_completed(futs), start=1):
            k = index[f.key]
            out[k] = f.result()
            if progress is not None:
                progress(labels[k] if labels is not None else str(k), done, len(futs))
    finally:
        client.cancel([f for f in futs if not f.done()])
    return out

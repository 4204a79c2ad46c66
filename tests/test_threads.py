"""The thread-pool defaults set at import (graphonflow._threads)."""

import subprocess
import sys

from graphonflow import _threads


def test_defaults_are_set_only_where_the_user_set_nothing():
    env = {}
    assert _threads._apply_defaults(env, {}) == {"GOMP_SPINCOUNT": "10000", "OPENBLAS_THREAD_TIMEOUT": "4"}
    assert env == {"GOMP_SPINCOUNT": "10000", "OPENBLAS_THREAD_TIMEOUT": "4"}
    # the user's own values win, and OMP_WAIT_POLICY counts as a choice about spinning
    env = {"GOMP_SPINCOUNT": "5", "OPENBLAS_THREAD_TIMEOUT": "20"}
    assert _threads._apply_defaults(env, {}) == {} and env == {"GOMP_SPINCOUNT": "5", "OPENBLAS_THREAD_TIMEOUT": "20"}
    env = {"OMP_WAIT_POLICY": "ACTIVE"}
    assert _threads._apply_defaults(env, {}) == {"OPENBLAS_THREAD_TIMEOUT": "4"}
    # once numpy is loaded, OpenBLAS has read its environment: leave it alone
    env = {}
    assert _threads._apply_defaults(env, {"numpy": object()}) == {"GOMP_SPINCOUNT": "10000"}
    # opting out leaves everything untouched
    env = {"GRAPHONFLOW_THREAD_DEFAULTS": "0"}
    assert _threads._apply_defaults(env, {}) == {} and env == {"GRAPHONFLOW_THREAD_DEFAULTS": "0"}


def test_importing_graphonflow_first_reaches_openblas():
    # OpenBLAS reports the timeout it read when numpy loaded it
    code = (
        "import graphonflow, numpy, ctypes, glob, os, sys\n"
        "libs = glob.glob(os.path.join(os.path.dirname(numpy.__file__), os.pardir, 'numpy.libs', '*openblas*.so*'))\n"
        "fn = getattr(ctypes.CDLL(libs[0]), 'openblas_thread_timeout', None) if libs else None\n"
        "print(graphonflow._threads.APPLIED.get('OPENBLAS_THREAD_TIMEOUT'), fn() if fn else 'n/a')\n"
    )
    env = {k: v for k, v in __import__("os").environ.items() if k not in ("OPENBLAS_THREAD_TIMEOUT", "GRAPHONFLOW_THREAD_DEFAULTS")}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout.split()
    assert out[0] == "4"
    assert out[1] in ("4", "n/a")  # n/a: a numpy build without a bundled OpenBLAS exposing the getter


# ------------------------------------------------------------------ the one BLAS thread policy
def test_blas_thread_policy_values():
    from graphonflow.backend.cpu import blas_threads

    # square products: serial up to n ~ 200, threaded from there
    assert blas_threads(128, 128, 128) == 1 and blas_threads(200, 200, 200) == 1
    assert blas_threads(256, 256, 256) is None and blas_threads(4096, 4096, 4096) is None
    # thin products (the SDP's N x N times N x 24): serial up to N ~ 1370
    assert blas_threads(1001, 24, 1001) == 1 and blas_threads(1301, 24, 1301) == 1
    assert blas_threads(1601, 24, 1601) is None


def _blas_threads_now():
    from threadpoolctl import threadpool_info

    return {i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"}


def test_flow_and_cut_norm_follow_the_same_policy(monkeypatch):
    import numpy as np
    from threadpoolctl import threadpool_limits

    import graphonflow.backend.cpu as cpu
    from graphonflow import HomDensity, SaveAt, cut_norm, flow

    with threadpool_limits(limits=2, user_api="blas"):  # a known default, also on 1-core machines
        seen = []
        flow(HomDensity("K3"), np.full((32, 32), 0.5), t1=0.2, dt=0.1,
             saveat=SaveAt(every=1, fn=lambda t, B: seen.append(_blas_threads_now())))
        assert seen and all(s == {1} for s in seen)  # small flow: one BLAS thread throughout
        seen.clear()
        flow(HomDensity("K3"), np.full((300, 300), 0.5), t1=0.1, dt=0.1,
             saveat=SaveAt(every=1, fn=lambda t, B: seen.append(_blas_threads_now())))
        assert seen and all(s == {2} for s in seen)  # large flow: the default
        assert _blas_threads_now() == {2}  # restored after the run
        # cut_norm asks the same backend policy, for the SDP's padded size and rank
        calls = []
        real = cpu.CPUBackend.thread_policy

        def spy(self, m, n, k):
            calls.append((m, n, k))
            return real(self, m, n, k)

        monkeypatch.setattr(cpu.CPUBackend, "thread_policy", spy)
        A = np.random.default_rng(0).uniform(-1, 1, (20, 20))
        cut_norm((A + A.T) / 2, method="sdp", rng=0)
        assert calls == [(21, 7, 21)]

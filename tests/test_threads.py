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

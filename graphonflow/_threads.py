"""Defaults for the two thread pools a flow step alternates between.

A flow step is one BLAS product (OpenBLAS's pthreads pool) followed by one parallel
Numba pass (numba's threading layer, GNU OpenMP by default). Both pools keep their
workers *spinning* after a job so that the next job starts fast: GNU OpenMP for
``GOMP_SPINCOUNT`` = 300 000 pause instructions (about 7 ms on an AMD EPYC, more on
Intel), OpenBLAS for 2^28 clock ticks (about 0.1 s). So each pool's job runs while the
other pool's workers still burn the cores. On the project's 2-core machine this made
an ERGM step at n = 1000 cost 1.8x its product instead of 1.2x.

When graphonflow is imported it therefore sets two environment variables, each only
if the user has not set it (nor, for OpenMP, ``OMP_WAIT_POLICY``):

* ``GOMP_SPINCOUNT=10000``: OpenMP workers spin for about 0.2 ms, then sleep. numba
  starts its OpenMP pool at the first parallel kernel, so this takes effect unless
  parallel Numba code ran before graphonflow was imported.
* ``OPENBLAS_THREAD_TIMEOUT=4``: OpenBLAS workers go to sleep almost at once. OpenBLAS
  reads this when numpy loads it, so it takes effect only when graphonflow is imported
  *before* numpy -- as the ``graphonflow`` command does. Otherwise set it in the shell.

Neither changes any result, only how long idle workers spin. Set
``GRAPHONFLOW_THREAD_DEFAULTS=0`` to leave the environment untouched. This module must
not import numpy.
"""

from __future__ import annotations

import os
import sys

GOMP_SPINCOUNT = "10000"
OPENBLAS_THREAD_TIMEOUT = "4"


def _apply_defaults(environ=os.environ, modules=sys.modules) -> dict:
    """Set the defaults described above; returns {variable: value} for those set here."""
    applied = {}
    if environ.get("GRAPHONFLOW_THREAD_DEFAULTS", "1").strip() == "0":
        return applied
    if "GOMP_SPINCOUNT" not in environ and "OMP_WAIT_POLICY" not in environ:
        environ["GOMP_SPINCOUNT"] = applied["GOMP_SPINCOUNT"] = GOMP_SPINCOUNT
    if "OPENBLAS_THREAD_TIMEOUT" not in environ and "numpy" not in modules:
        environ["OPENBLAS_THREAD_TIMEOUT"] = applied["OPENBLAS_THREAD_TIMEOUT"] = OPENBLAS_THREAD_TIMEOUT
    return applied


#: the variables this import set (empty if the user had set them, or opted out)
APPLIED = _apply_defaults()

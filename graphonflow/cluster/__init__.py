"""Running graphonflow on a ``dask.distributed`` cluster (the optional ``cluster`` extra).

Two kinds of work outgrow one machine:

* **many independent flows** -- a convergence study's references and finite flows, an ERGM
  phase diagram, a scan over parameters.  Each flow is one task on the cluster
  (:mod:`graphonflow.cluster.sweep`); results are the serial ones, bit for bit, because every
  flow draws from its own random stream and runs under the client's thread settings.
  :func:`~graphonflow.convergence.convergence_study` and :func:`~graphonflow.study.run_study`
  take ``client=`` (or ``workers=``); ``graphonflow run --workers N`` / ``--scheduler ADDRESS``.
* **one flow bigger than one machine** -- the state is a symmetric matrix cut in square
  chunks, kept on the workers (:mod:`graphonflow.cluster.chunked`,
  :class:`graphonflow.backend.dask.DaskBackend`): blocked products, the same Numba kernels per
  chunk, tree-reduced sums.

``import graphonflow`` never imports dask; this package imports it when a function needs it,
and says how to install it when it is missing::

    pip install "graphonflow[cluster]"

>>> from graphonflow.cluster import sweep
>>> sweep.require_distributed.__name__
'require_distributed'
"""

__all__ = ["sweep", "chunked"]


def __getattr__(name):  # lazy submodules: importing the package imports no dask
    if name in __all__:
        import importlib

        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

r"""One flow bigger than one machine: the state as square chunks on a ``dask.distributed`` cluster.

:func:`chunked_flow` is :func:`graphonflow.flow` with its state held by the workers of a
cluster, cut into ``chunks x chunks`` blocks of which only the upper ones are stored
(:class:`graphonflow.backend.dask.SymBlocks`, :class:`graphonflow.backend.dask.DaskBackend`).
The driver, the integrators (``euler``, ``prox``, the explicit and the IMEX Runge--Kutta
pairs with error control) and the functionals are those of the in-memory flow:

* the symmetric products of the cycle densities are blocked: one accumulator per output
  block, summed by one task (two panels of blocks in memory) or, with ``panel=p``, by a
  chain of tasks holding 2p + 2 blocks each whatever n is
  (:func:`graphonflow.cluster.blocks.product_block`);
* the entry-wise passes run per block with the package's Numba kernels;
* every sum the driver needs -- the energy, the squared speed, the scaled error norm, the
  density constraint's statistics -- is a per-block partial and a tree reduction.

It agrees with the in-memory flow to rounding (tests/test_cluster.py checks entries, energies
and speeds within 1e-12 after whole runs at n = 96 in 3 x 3 chunks, for euler, prox and dp54,
and the same step counts); see docs/scaling.md for sizing chunks and workers at n = 200,000.

Example (a cluster of two local worker processes)::

    from graphonflow import HomDensity, EdgeDensity
    from graphonflow.cluster.sweep import local_client
    from graphonflow.cluster.chunked import chunked_flow

    with local_client(2) as client:
        res = chunked_flow(HomDensity("K3") - EdgeDensity(), A, client=client, chunks=4,
                           t1=1.0, dt=0.05, integrator="euler")
        W = res.W.to_numpy()          # gather the final state (when it fits here)
"""

from __future__ import annotations

__all__ = ["chunked_flow", "check_functional"]


def check_functional(F):
    """Raise a ValueError naming the first term of F that the chunked backend does not compute
    (it computes cycle densities t(C_k), K3 = C3, and entry-wise terms)."""
    from ..functionals import HomDensity, as_functional

    F = as_functional(F)
    for c, a in F.split().explicit._nonlocal:
        if not isinstance(a, HomDensity):
            raise ValueError(f"chunked_flow: the term {a!r} is not computed on the chunked backend, which has cycle "
                             "densities (HomDensity of K3, C4, C5, ...) and entry-wise terms (EdgeDensity, Entropy, "
                             "RateFunction)")
        if not a.pattern.is_cycle:
            raise ValueError(f"chunked_flow: the term {a!r} is not a cycle density; the chunked backend computes "
                             "t(C_k) (K3 = C3, C4, C5, ...) by blocked products, and entry-wise terms")
    return F


def chunked_flow(F, W0, *, client, chunks, panel=None, **kwargs):
    """Run :func:`graphonflow.flow` on a cluster with the state cut into ``chunks x chunks`` blocks.

    Parameters
    ----------
    F : Functional
        Cycle densities (``HomDensity("K3")``, ``"C4"``, ``"C5"``, ...) and entry-wise terms.
    W0 : ndarray (n, n), dask.array, SymBlocks or StepGraphon of equal widths
        The initial matrix.  A dask array is read block by block on the workers (its upper
        triangle), so it never has to fit in this process.
    client : dask.distributed.Client
    chunks : int
        Blocks per side (chunk size about n / chunks).
    panel : int, optional
        Blocks per product task (:class:`~graphonflow.backend.dask.DaskBackend`): a task of a
        product then holds 2 panel + 2 blocks instead of two whole panels.  Same results.
    **kwargs
        Everything else :func:`graphonflow.flow` takes (``t1``, ``dt`` or ``rtol``,
        ``integrator``, ``density``, ``saveat``, ...).  Saved states are SymBlocks on the
        cluster (keep few, or save a function of the state with ``SaveAt(fn=...)``).

    Returns
    -------
    FlowResult
        Its ``W`` is a SymBlocks on the cluster (``W.to_numpy()`` gathers it).
    """
    from ..backend.dask import DaskBackend
    from ..flow import flow

    check_functional(F)
    if client is None:
        raise ValueError("chunked_flow needs a dask.distributed client (graphonflow.cluster.sweep.local_client "
                         "starts one on this machine)")
    if "backend" in kwargs:
        raise ValueError("chunked_flow chooses the backend itself; call graphonflow.flow(..., backend=...) instead")
    return flow(F, W0, backend=DaskBackend(client, chunks, panel=panel), **kwargs)

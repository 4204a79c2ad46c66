"""Array backends: the few array operations a flow step needs, behind one interface.

A flow step is a handful of symmetric matrix products (inside
:class:`~graphonflow.hom.HomWorkspace`) and a handful of entry-wise passes: the fused
explicit and proximal steps, the projected-gradient norm, the local part of the energy,
linear combinations of stage arrays, box clipping and the scaled error norm of an
embedded pair.  :class:`ArrayBackend` names those passes; the integrators and the driver
call them through ``problem.backend`` and never touch NumPy or Numba directly for
entry-wise work.  :class:`CPUBackend` (NumPy + Numba) is the implementation for now; GPU
and distributed arrays are further implementations of the same interface, not branches
in the driver.

>>> import numpy as np
>>> from graphonflow.backend import get_backend
>>> be = get_backend(np.zeros((2, 2)))
>>> be.name
'cpu'
"""

from .base import ArrayBackend
from .cpu import CPUBackend, CPU

__all__ = ["ArrayBackend", "CPUBackend", "get_backend"]


def get_backend(array) -> ArrayBackend:
    """The backend that owns ``array`` (only NumPy arrays for now)."""
    import numpy as np

    if isinstance(array, np.ndarray):
        return CPU
    raise TypeError(
        f"no array backend for {type(array).__module__}.{type(array).__name__}: graphonflow runs on "
        "NumPy arrays (convert with np.asarray)"
    )

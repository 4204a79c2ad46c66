"""Array backends: the few array operations a flow step needs, behind one interface.

A flow step is a handful of symmetric matrix products (inside
:class:`~graphonflow.hom.HomWorkspace`) and a handful of entry-wise passes: the fused
explicit and proximal steps, the projected-gradient norm, the local part of the energy,
linear combinations of stage arrays, box clipping and the scaled error norm of an
embedded pair.  :class:`ArrayBackend` names those passes; the integrators and the driver
call them through ``problem.backend`` and never touch NumPy or Numba directly for
entry-wise work.  Three implementations:

* :class:`CPUBackend` (NumPy + Numba) for NumPy arrays: the default, unchanged by the others;
* :class:`~graphonflow.backend.array_api.ArrayAPIBackend`, the same passes in operations of
  the array API standard, for the arrays of any other conforming library (tested on the CPU
  with ``array_api_strict``); its density engine is :mod:`graphonflow.backend.xp_hom`;
* :class:`~graphonflow.backend.cupy.CuPyBackend` for CuPy arrays: the generic backend with
  fused CUDA kernels for the entry-wise passes and cuBLAS ``syrk``/``gemm`` products.

:func:`get_backend` picks one from the type of an array, as POT's ``get_backend`` and
scikit-learn's array-API mode do; ``flow``, ``noisy_flow``, ``hom_density`` and
``hom_density_grad`` take ``backend=`` to force a choice (:func:`resolve_backend`).
Neither CuPy nor ``array_api_compat`` is imported until an array of theirs is met.

>>> import numpy as np
>>> from graphonflow.backend import get_backend
>>> be = get_backend(np.zeros((2, 2)))
>>> be.name
'cpu'
"""

from __future__ import annotations

import numpy as np

from .base import ArrayBackend
from .cpu import CPUBackend, CPU

__all__ = ["ArrayBackend", "CPUBackend", "get_backend", "resolve_backend", "is_foreign_array", "to_numpy",
           "BACKENDS"]

#: the names ``backend=`` accepts (besides None and an ArrayBackend instance)
BACKENDS = ("cpu", "numpy", "cupy")

_GENERIC = {}  # id(namespace) -> (namespace, ArrayAPIBackend)
_CUPY = []


def is_foreign_array(x) -> bool:
    """True for an array of a library other than NumPy that takes part in the array API
    standard (it has ``__array_namespace__``, or is a CuPy or PyTorch array); checked without
    importing that library.

    >>> import numpy as np
    >>> is_foreign_array(np.zeros(2)), is_foreign_array([[0.0]])
    (False, False)
    """
    if isinstance(x, np.ndarray):
        return False
    t = type(x)
    return hasattr(t, "__array_namespace__") or hasattr(t, "__graphonflow_backend__") or \
        t.__module__.split(".")[0] in ("cupy", "torch")


def _cupy_backend():
    if not _CUPY:
        from .cupy import CuPyBackend

        _CUPY.append(CuPyBackend())
    return _CUPY[0]


def get_backend(array) -> ArrayBackend:
    """The backend that owns ``array``: :data:`CPU` for a NumPy array, the CuPy backend for a
    CuPy array, the generic :class:`~graphonflow.backend.array_api.ArrayAPIBackend` of its
    namespace for any other array-API array."""
    if isinstance(array, np.ndarray):
        return CPU
    own = getattr(type(array), "__graphonflow_backend__", None)  # an array that names its backend
    if own is not None:  # (graphonflow.backend.dask.SymBlocks)
        return own(array)
    if is_foreign_array(array):
        if type(array).__module__.split(".")[0] == "cupy":
            return _cupy_backend()
        from .array_api import ArrayAPIBackend, namespace

        xp = namespace(array)
        hit = _GENERIC.get(id(xp))
        if hit is None or hit[0] is not xp:
            hit = _GENERIC[id(xp)] = (xp, ArrayAPIBackend(xp))
        return hit[1]
    raise TypeError(
        f"no array backend for {type(array).__module__}.{type(array).__name__}: graphonflow runs on "
        "NumPy arrays (convert with np.asarray) and on array-API arrays such as CuPy's"
    )


def resolve_backend(backend, W=None) -> ArrayBackend:
    """The backend a call runs on: ``backend=None`` picks it from W's type (NumPy, lists,
    StepGraphons, networkx graphs: the CPU); ``"cpu"``/``"numpy"`` the CPU (device inputs are
    copied to the host); ``"cupy"`` the GPU (host inputs are copied to the device); an
    :class:`ArrayBackend` instance is used as it is.

    >>> resolve_backend(None, [[0.5]]).name, resolve_backend("numpy").name
    ('cpu', 'cpu')
    >>> resolve_backend("tpu")
    Traceback (most recent call last):
    ...
    ValueError: backend must be None, 'cpu', 'numpy', 'cupy' or an ArrayBackend instance, got 'tpu'
    """
    if backend is None:
        return get_backend(W) if is_foreign_array(W) else CPU
    if isinstance(backend, ArrayBackend):
        return backend
    if isinstance(backend, str) and backend in ("cpu", "numpy"):
        return CPU
    if isinstance(backend, str) and backend == "cupy":
        return _cupy_backend()
    raise ValueError(f"backend must be None, 'cpu', 'numpy', 'cupy' or an ArrayBackend instance, got {backend!r}")


def to_numpy(x):
    """A NumPy array holding the values of ``x`` (x itself when it is one; a host copy of a
    device array).  Use it to hand a device result to the NumPy-only parts of the package.

    >>> to_numpy(np.ones(2)).tolist()
    [1.0, 1.0]
    """
    if isinstance(x, np.ndarray):
        return x
    from .array_api import to_numpy as _to_numpy

    return _to_numpy(x)

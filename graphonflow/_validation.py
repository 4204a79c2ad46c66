"""Input checks shared by the public wrappers."""

from __future__ import annotations

import numpy as np

SYM_RTOL = 1e-10


def check_symmetric_matrix(A, name="W", dtype=None, copy=False):
    """Return A as a finite, square, symmetric floating array, or raise ValueError.

    Entries may differ from their transposes by rounding: the check is

        max |A_ij - A_ji| <= SYM_RTOL * max |A_ij|   (SYM_RTOL = 1e-10),

    relative to the scale of A whatever that scale is (a matrix of size 1e-11 gets no
    more slack than one of size 1), with an absolute floor of the smallest normal number
    of the dtype so that an all-zero or subnormal matrix is judged by exact equality.
    Anything larger is an error, not something to fix silently.
    """
    arr = np.array(A, dtype=dtype, copy=copy) if copy else np.asarray(A, dtype=dtype)
    if arr.dtype.kind not in "fiub":
        raise ValueError(f"{name} must be a real numeric matrix, got dtype {arr.dtype}")
    if arr.dtype.kind != "f":
        arr = arr.astype(np.float64)
    if arr.ndim != 2 or arr.shape[0] != arr.shape[1]:
        raise ValueError(f"{name} must be a square matrix, got shape {arr.shape}")
    if arr.shape[0] == 0:
        raise ValueError(f"{name} is empty")
    if arr.shape[0] >= 64 and arr.flags.c_contiguous:
        from ._linalg import symmetry_defect

        err, scale, nbad = symmetry_defect(arr)
        if nbad:
            raise ValueError(f"{name} contains NaN or infinite entries")
    else:
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"{name} contains NaN or infinite entries")
        scale = float(np.max(np.abs(arr)))
        err = float(np.max(np.abs(arr - arr.T)))
    if err > max(SYM_RTOL * scale, float(np.finfo(arr.dtype).tiny)):
        raise ValueError(f"{name} is not symmetric: max |W - W^T| = {err:.3g} with max |W| = {scale:.3g}")
    return arr


def check_widths(widths, m, name="widths"):
    """Return block widths as a new float64 array of shape (m,), positive, summing to 1 (to 1e-9).

    Raises ValueError, with a message starting with ``name``, otherwise.
    """
    try:
        w = np.array(widths, dtype=np.float64, copy=True)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be real numbers") from None
    if w.shape != (m,):
        raise ValueError(f"{name} must have shape ({m},) to match values, got {w.shape}")
    if not np.all(np.isfinite(w)) or np.any(w <= 0):
        raise ValueError(f"{name} must be finite and strictly positive")
    s = float(w.sum())
    if abs(s - 1.0) > 1e-9:
        raise ValueError(f"{name} must sum to 1, got sum {s!r}")
    return w


def as_rng(rng):
    """A numpy Generator from a seed, a Generator or None."""
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or isinstance(rng, (int, np.integer)):
        return np.random.default_rng(rng)
    if isinstance(rng, np.random.SeedSequence):
        return np.random.default_rng(rng)
    raise TypeError(f"rng must be None, an int seed or a numpy Generator, got {type(rng).__name__}")

"""What a flow run keeps: :class:`SaveAt`."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["SaveAt"]


@dataclass(frozen=True, init=False)
class SaveAt:
    """Which states a flow keeps, and in what form.

    t = 0 and the final state are always saved.  Besides them:

    Parameters
    ----------
    ts : array of times in [0, t1], optional
        Save at exactly these times.  The driver *lands* on each of them: a step that
        would pass a save time is shortened to end on it (no interpolation, so a saved
        state is an accepted state of the integrator with its full accuracy).  With error
        control the step after a landing resumes from the step size the controller had
        proposed, so dense save times cost extra steps only where they are closer than
        the controller's own steps.
    every : int, optional
        Save every k-th accepted step.  Not together with ``ts``.
    fn : callable ``fn(t, B) -> object``, optional
        Store ``fn(t, B)`` instead of a copy of the block values B (a read-only view of
        the live buffer: copy what you keep), e.g. ``lambda t, B: B.mean()``.

    Examples
    --------
    >>> import numpy as np
    >>> from graphonflow import HomDensity, flow, SaveAt
    >>> res = flow(HomDensity("K3"), np.full((3, 3), 0.5), t1=1.0, dt=0.25,
    ...            saveat=SaveAt(ts=[0.5], fn=lambda t, B: float(B[0, 0])))
    >>> res.times.tolist()
    [0.0, 0.5, 1.0]
    """

    ts: tuple | None
    every: int | None
    fn: object

    def __init__(self, ts=None, *, every=None, fn=None):
        if ts is not None and every is not None:
            raise ValueError("SaveAt: give ts or every, not both")
        if ts is not None:
            arr = np.asarray(ts, dtype=np.float64).ravel()
            if arr.size and (not np.all(np.isfinite(arr)) or arr.min() < 0 or np.any(np.diff(arr) <= 0)):
                raise ValueError("SaveAt: ts must be strictly increasing finite times >= 0")
            ts = tuple(float(x) for x in arr)
        if every is not None:
            if isinstance(every, bool) or int(every) != every or every < 1:
                raise ValueError(f"SaveAt: every must be a positive integer, got {every!r}")
            every = int(every)
        if fn is not None and not callable(fn):
            raise TypeError("SaveAt: fn must be callable fn(t, B)")
        object.__setattr__(self, "ts", ts)
        object.__setattr__(self, "every", every)
        object.__setattr__(self, "fn", fn)

    def check(self, t1: float) -> None:
        if self.ts and self.ts[-1] > t1 * (1 + 1e-15) + 1e-300:
            raise ValueError(f"SaveAt: save times must lie in [0, t1={t1:g}], got {self.ts[-1]:g}")
        if self.ts and not all(math.isfinite(x) for x in self.ts):
            raise ValueError("SaveAt: ts must be finite")


class Saver:
    """Collects the saved states of one run (used by the driver)."""

    def __init__(self, saveat: SaveAt, tiny_t: float):
        self.saveat = saveat
        self.pending = list(saveat.ts) if saveat.ts is not None else []
        self.tiny_t = tiny_t
        self.times, self.states, self.energies, self.gnorms = [], [], [], []

    def next_time(self):
        return self.pending[0] if self.pending else None

    def due(self, t: float, k: int) -> bool:
        if self.pending and abs(self.pending[0] - t) <= self.tiny_t:
            return True
        if k == 0:
            return True
        ev = self.saveat.every
        return ev is not None and k % ev == 0

    def save(self, t, B, energy, gnorm):
        fn = self.saveat.fn
        if not isinstance(B, np.ndarray):  # a device array: a copy on its device; fn sees the live
            from ..backend import get_backend  # buffer (no read-only views there): copy what you keep

            st = get_backend(B).copy(B) if fn is None else fn(t, B)
        elif fn is None:
            st = B.copy()
        else:
            view = B.view()
            view.setflags(write=False)
            st = fn(t, view)
        self.times.append(t)
        self.states.append(st)
        self.energies.append(energy)
        self.gnorms.append(gnorm)
        while self.pending and self.pending[0] <= t + self.tiny_t:
            self.pending.pop(0)

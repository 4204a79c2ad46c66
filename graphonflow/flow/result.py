"""The outcome of a flow run: one status enum with one message template per status, and
the frozen :class:`FlowResult`."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

import numpy as np

from ..step import StepGraphon

__all__ = ["Status", "FlowResult", "STATUSES"]


class Status(str, enum.Enum):
    """How a flow run ended.

    The members compare equal to their string values (``Status.T1 == "t1"``), so code
    written against the old string statuses keeps working.  Only :attr:`T1` and
    :attr:`STEADY` are successes: every other status means the result must not be
    trusted as a trajectory of the flow, and its message says what to do.
    """

    #: reached the final time t1
    T1 = "t1"
    #: the speed ||P DF|| fell below ``gtol``
    STEADY = "steady"
    #: stopped after ``max_steps`` accepted steps
    MAX_STEPS = "max_steps"
    #: a value, gradient or state was NaN or infinite; W is the last finite state
    NONFINITE = "nonfinite"
    #: error control asked for a step below ``dt_min``
    DT_MIN = "dt_min"
    #: a fixed-step run whose energy rose or stalled while the state kept moving
    UNSTABLE = "unstable"

    @property
    def success(self) -> bool:
        return self in (Status.T1, Status.STEADY)

    def message(self, **info) -> str:
        """The message for this status, filled in with ``info`` (t, t1, steps, ...)."""
        return _TEMPLATES[self].format(**info)

    def __str__(self) -> str:  # print(res.status) -> t1
        return self.value


_TEMPLATES = {
    Status.T1: "reached t1={t1:g} in {steps} steps",
    Status.STEADY: "steady state at t={t:.6g}: ||P DF|| = {gnorm:.3g} <= gtol={gtol:g}",
    Status.MAX_STEPS: "max_steps={max_steps} reached at t={t:.6g}; raise max_steps",
    Status.NONFINITE: "{what} at t={t:.6g}; returning the last finite state{hint}",
    Status.DT_MIN: (
        "error control needed a step below dt_min={dt_min:.3g} at t={t:.6g} ({why}); "
        "loosen rtol/atol, lower dt_min, or check the functional for a singularity"
    ),
    Status.UNSTABLE: (
        "the fixed-step run is unstable at dt={dt:.3g}: {what} between t={t0:.6g} and t={t:.6g}, "
        "so the state does not follow the flow; use error control (rtol=1e-6) or a smaller dt"
    ),
}

#: the status values, as strings (kept for code written before :class:`Status`)
STATUSES = tuple(s.value for s in Status)


@dataclass(frozen=True)
class FlowResult:
    """What a flow run produced.

    Attributes
    ----------
    W : ndarray (m, m)
        Block values at the final time (the last finite state reached).
    widths : ndarray (m,)
        Block widths (1/n for a matrix input).
    t : float
        Final graphon time.
    times : ndarray (k,)
        Saved times; t = 0 is always the first and the final time always the last.
    states : tuple
        Saved states: copies of the block values, or whatever ``SaveAt(fn=...)`` returned.
    energies : ndarray (k,)
        F at each saved time.
    grad_norms : ndarray (k,)
        ||P DF||_2 (weighted by w_i w_j) at each saved time: the speed of the flow.  With a
        fixed ``density`` P projects onto the tangent cone of {mean = density} ∩ box.
    n_steps, n_grad_evals, n_rejected : int
        Accepted steps, gradient evaluations (every evaluation of the non-local gradient,
        rejected trials and the initial-step estimate included), rejected trial steps.
    dt_history : ndarray (n_steps,)
        The step size of every accepted step.
    status : Status
        How the run ended (a ``str`` enum: ``res.status == "t1"`` works).  Only ``"t1"`` and
        ``"steady"`` are successes.
    message : str
        A sentence for humans that says what to do, e.g.
        ``"max_steps=10 reached at t=3.2; raise max_steps"``.
    integrator : str
        The integrator's registry name.
    controller : str
        The step-size controller, e.g. ``"ConstantStep(dt=0.05)"`` or
        ``"PIDController(rtol=1e-06, atol=1e-09)"``.
    """

    W: np.ndarray
    widths: np.ndarray
    t: float
    times: np.ndarray
    states: tuple
    energies: np.ndarray
    grad_norms: np.ndarray
    n_steps: int
    n_grad_evals: int
    n_rejected: int
    dt_history: np.ndarray
    status: Status
    message: str
    integrator: str = field(default="prox")
    controller: str = field(default="")

    @property
    def success(self) -> bool:
        """True when the run reached t1 or a steady state and nothing marked it untrustworthy."""
        return Status(self.status).success

    @property
    def energy(self) -> float:
        """F at the final state."""
        return float(self.energies[-1])

    def graphon(self) -> StepGraphon:
        """The final state as a StepGraphon (values, widths)."""
        return StepGraphon(self.W.astype(np.float64), self.widths)

    def __repr__(self):
        return (
            f"FlowResult(status={str(self.status)!r}, t={self.t:.6g}, m={self.W.shape[0]}, "
            f"n_steps={self.n_steps}, energy={self.energy:.6g}, message={self.message!r})"
        )

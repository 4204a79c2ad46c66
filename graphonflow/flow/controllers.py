r"""Step-size controllers: :class:`ConstantStep` and :class:`PIDController`.

A controller decides the size of the next step and whether a trial step is accepted.
It sees the integrator only through two numbers: the order of its embedded error
estimate and the scaled size of that estimate.

Error control
-------------
For a trial step from y0 to y1 with local error estimate e (the difference between the
integrator's solution and its embedded one), the controller measures

.. math::

    \|e\| = \max_{ij} \frac{|e_{ij}|}{\mathrm{atol} + \mathrm{rtol}\,\max(|y0_{ij}|, |y1_{ij}|)}

(``norm="max"``, the default: an entry-wise sup norm, invariant under splitting blocks;
``norm="rms"`` takes the root mean square of the same ratios).  The step is accepted when
||e|| <= 1, and the next step is

.. math::

    h_{new} = h \cdot \mathrm{safety} \cdot \|e_n\|^{-(\beta_I + \beta_P)/k}\, \|e_{n-1}\|^{\beta_P / k},

with k = (order of the embedded estimate) + 1, clipped to [factor_min, factor_max] times h.
``icoeff`` = beta_I and ``pcoeff`` = beta_P; the defaults 0.3 and 0.4 are the PI controller of
Gustafsson (Hairer--Wanner II, IV.2), pcoeff = 0 gives the classic I controller.  After a
rejection the step only shrinks.  On top of this an *energy guard* (on by default) rejects
and halves any accepted step along which F rose by more than ``energy_tol (1 + |F|)``: a
gradient flow never raises its energy, so such a step is wrong whatever the estimate says.

References
----------
E. Hairer, G. Wanner, Solving Ordinary Differential Equations II, 2nd ed., Springer 1996, IV.2 and IV.8.
K. Gustafsson, Control-theoretic techniques for stepsize selection in implicit Runge-Kutta methods,
ACM TOMS 20 (1994).
"""

from __future__ import annotations

import math

__all__ = ["StepSizeController", "ConstantStep", "PIDController"]


class StepSizeController:
    """Base class.  ``adaptive`` controllers need an integrator with an error estimate."""

    adaptive = False

    def describe(self) -> str:
        return type(self).__name__


class ConstantStep(StepSizeController):
    """Fixed steps of size ``dt`` (shortened only to land on save times and t1).

    A fixed-step run watches its energy every ``check_every`` steps: if F rose, or stalled
    while the state kept moving (a cycle), the run ends with status ``"unstable"``.

    Examples
    --------
    >>> ConstantStep(0.05)
    ConstantStep(dt=0.05)
    """

    adaptive = False

    def __init__(self, dt, *, check_every=10):
        dt = float(dt)
        if not (math.isfinite(dt) and dt > 0):
            raise ValueError(f"dt must be positive and finite, got {dt}")
        if int(check_every) != check_every or check_every < 1:
            raise ValueError(f"check_every must be a positive integer, got {check_every!r}")
        self.dt = dt
        self.check_every = int(check_every)

    def describe(self):
        return f"ConstantStep(dt={self.dt:g})"

    __repr__ = describe


class PIDController(StepSizeController):
    """Error-controlled step sizes from an embedded error estimate (see the module docstring).

    Parameters
    ----------
    rtol, atol : float
        Relative and absolute tolerance per entry (block value).  Defaults 1e-6 and 1e-3 rtol.
    norm : {"max", "rms"}
        How the entry-wise scaled errors are combined (default ``"max"``).
    pcoeff, icoeff : float
        Proportional and integral gains (defaults 0.4 and 0.3: Gustafsson's PI controller).
    safety, factor_min, factor_max : float
        The usual safety factor 0.9 and the limits 0.2 and 5 on h_new / h.
    dt0 : float, optional
        First trial step; by default it is estimated from the first two gradients
        (Hairer--Wanner I, II.4), at the cost of one gradient evaluation.
    dt_min, dt_max : float, optional
        Bounds on the step (defaults 1e-12 t1 and t1).  Needing a step below ``dt_min``
        ends the run with status ``"dt_min"``.
    energy_guard : bool
        Also reject steps that raise F (default True).
    energy_tol : float
        Slack of the energy guard, relative to 1 + |F| (default 1e-12).

    Examples
    --------
    >>> PIDController(rtol=1e-8)
    PIDController(rtol=1e-08, atol=1e-11, norm='max')
    """

    adaptive = True

    def __init__(self, rtol=1e-6, atol=None, *, norm="max", pcoeff=0.4, icoeff=0.3, safety=0.9,
                 factor_min=0.2, factor_max=5.0, dt0=None, dt_min=None, dt_max=None,
                 energy_guard=True, energy_tol=1e-12):
        rtol = float(rtol)
        atol = 1e-3 * rtol if atol is None else float(atol)
        if not (math.isfinite(rtol) and rtol >= 0 and math.isfinite(atol) and atol >= 0 and rtol + atol > 0):
            raise ValueError(f"need rtol >= 0 and atol >= 0, not both 0 (got rtol={rtol}, atol={atol})")
        if rtol < 1e-14 and atol < 1e-300:
            raise ValueError(f"rtol={rtol} is below the rounding level of float64; use rtol >= 1e-14")
        if norm not in ("max", "rms"):
            raise ValueError(f"norm must be 'max' or 'rms', got {norm!r}")
        if not (0 < safety <= 1 and 0 < factor_min < 1 < factor_max):
            raise ValueError("need 0 < safety <= 1 and 0 < factor_min < 1 < factor_max")
        energy_tol = float(energy_tol)
        if not (energy_tol >= 0 and math.isfinite(energy_tol)):
            raise ValueError(f"energy_tol must be a finite number >= 0, got {energy_tol}")
        for name, v in (("dt0", dt0), ("dt_min", dt_min), ("dt_max", dt_max)):
            if v is not None and not (math.isfinite(float(v)) and float(v) > 0):
                raise ValueError(f"{name} must be positive and finite, got {v}")
        self.rtol, self.atol, self.norm = rtol, atol, norm
        self.pcoeff, self.icoeff = float(pcoeff), float(icoeff)
        self.safety, self.factor_min, self.factor_max = float(safety), float(factor_min), float(factor_max)
        self.dt0 = None if dt0 is None else float(dt0)
        self.dt_min = None if dt_min is None else float(dt_min)
        self.dt_max = None if dt_max is None else float(dt_max)
        self.energy_guard = bool(energy_guard)
        self.energy_tol = energy_tol
        self._prev = 1.0

    def describe(self):
        return f"PIDController(rtol={self.rtol:g}, atol={self.atol:g}, norm={self.norm!r})"

    __repr__ = describe

    # ---- used by the driver
    def reset(self):
        self._prev = 1.0

    def error_norm(self, backend, err, y0, y1) -> float:
        return backend.error_norm(err, y0, y1, self.rtol, self.atol, self.norm)

    def initial_step(self, backend, y0, f0, f1_of, order, span) -> float:
        """Hairer--Wanner's starting step from y0, the velocity f0 there, and a function
        f1_of(h) giving the velocity after an explicit Euler step of size h."""
        if self.dt0 is not None:
            return self.dt0
        d0 = backend.error_norm(y0, y0, y0, self.rtol, self.atol, "rms")
        d1 = backend.error_norm(f0, y0, y0, self.rtol, self.atol, "rms")
        h0 = 1e-6 if (d0 < 1e-5 or d1 < 1e-5) else 0.01 * d0 / d1
        h0 = min(h0, span)
        f1 = f1_of(h0)
        d2 = backend.error_norm(f1 - f0, y0, y0, self.rtol, self.atol, "rms") / h0
        if max(d1, d2) <= 1e-15:
            h1 = max(1e-6, h0 * 1e-3)
        else:
            h1 = (0.01 / max(d1, d2)) ** (1.0 / (order + 1))
        return min(100 * h0, h1, span)

    def propose(self, h, err, order_est) -> tuple[bool, float]:
        """(accept, next h) for a trial step of size h with scaled error ``err``."""
        k = order_est + 1
        if not math.isfinite(err):
            return False, h * self.factor_min
        if err <= 1.0:
            e = max(err, 1e-10)
            factor = self.safety * e ** (-(self.icoeff + self.pcoeff) / k) * self._prev ** (self.pcoeff / k)
            factor = min(self.factor_max, max(self.factor_min, factor))
            self._prev = e
            return True, h * factor
        factor = self.safety * err ** (-1.0 / k)
        factor = min(0.9, max(self.factor_min, factor))
        return False, h * factor

r"""Gradient flows of graph functionals in graphon time.

The flow of a functional F on kernels with values in a box [lo, hi] is

.. math::

    \partial_t W_t(x, y) = -\bigl(P_{W_t}[DF(W_t)]\bigr)(x, y),

where DF is the L2 gradient (see :mod:`graphonflow.functionals`) and P_W the
projection onto the tangent cone of the box: the velocity -DF is kept where
lo < W < hi and clipped to be >= 0 where W = lo and <= 0 where W = hi.  Along the
flow the energy obeys dF(W_t)/dt = -||P DF(W_t)||_2^2 (Oh--Pal--Somani--Tripathi,
arXiv:2111.09459).

Time is **graphon time**.  An n x n matrix A is the step graphon with widths 1/n;
its flow is the Euclidean gradient flow of f_n(A) = F(W_A) run at time scale n^2
(dA/dt = -P[n^2 grad f_n(A)], the Frobenius gradient taken on the full matrix),
and it *is* the graphon flow started at W_A.  For a weighted step graphon (B, w)
the flow moves the block values, dB_ij/dt = -P[DF(B)_ij], with DF the block values
of the L2 gradient (Frobenius gradient divided by w_i w_j); splitting a block into
equal copies therefore does not change the flow.

The layer is split the way diffrax and scipy's ``solve_ivp`` split theirs:

* :mod:`~graphonflow.flow.problem` -- the functional on a state (gradient, value, speed);
* :mod:`~graphonflow.flow.integrators` -- Euler, prox, Heun, the explicit pairs bs32 and
  dp54 and the IMEX pair ark32, as objects in a registry;
* :mod:`~graphonflow.flow.controllers` -- :class:`ConstantStep` and :class:`PIDController`;
* :mod:`~graphonflow.flow.saveat` -- :class:`SaveAt`;
* :mod:`~graphonflow.flow.result` -- :class:`Status` and :class:`FlowResult`;
* :mod:`~graphonflow.flow.driver` -- :func:`flow`, which knows no integrator by name.

Examples
--------
>>> import numpy as np
>>> import graphonflow as gf
>>> res = gf.flow(gf.HomDensity("C4"), np.full((3, 3), 0.5), t1=1.0, rtol=1e-8)
>>> str(res.status), res.integrator, bool(abs(float(res.W[0, 0]) - 0.5 / np.sqrt(3.0)) < 1e-8)   # p' = -4 p^3
('t1', 'dp54', True)

References
----------
S. Oh, S. Pal, R. Somani, R. Tripathi, Gradient flows on graphons: existence,
convergence, continuity equations, J. Theor. Probab. 37 (2024), arXiv:2111.09459.
C. A. Kennedy, M. H. Carpenter, Appl. Numer. Math. 44 (2003) (the IMEX pair).
S. Chatterjee, P. Diaconis, Ann. Statist. 41 (2013); C. Radin, M. Yin, Ann. Appl.
Probab. 23 (2013) (ERGM fixed points used in the tests).
"""

from .controllers import ConstantStep, PIDController, StepSizeController
from .driver import DEFAULT_RTOL, flow
from .integrators import (
    INTEGRATORS,
    IMEXRK,
    ExplicitRK,
    Integrator,
    StepOutcome,
    get_integrator,
    register_integrator,
)
from .problem import FlowProblem
from .result import STATUSES, FlowResult, Status
from .saveat import SaveAt

__all__ = [
    "flow",
    "FlowResult",
    "Status",
    "STATUSES",
    "INTEGRATORS",
    "SaveAt",
    "ConstantStep",
    "PIDController",
    "StepSizeController",
    "Integrator",
    "ExplicitRK",
    "IMEXRK",
    "StepOutcome",
    "get_integrator",
    "register_integrator",
    "FlowProblem",
    "DEFAULT_RTOL",
]

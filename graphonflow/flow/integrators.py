r"""Integrators: objects that advance a flow by one step, and a registry by name.

Every integrator solves the projected flow dB/dt = -P_B[DF(B)] in the box, with
F = H + L split into the non-local part H (products: the expensive gradient) and the
entry-wise part L (entropy, rate function, edge density) by
:meth:`~graphonflow.functionals.Functional.split`.  Each one has

* ``order``: the order of the method away from the box faces;
* ``error_order``: the order of its embedded solution, or None when it gives no error
  estimate (then only fixed steps are possible);
* ``implicit_local``: whether L (and the box) is treated implicitly, by entry-wise
  proximal solves; such methods need a convex L (alpha >= 0);
* ``init(problem, B)`` and ``step(problem, B, ev, h, out)``, usable by hand: ``ev`` is the
  explicit gradient at B (``problem.evaluate(B)``), the new state is written to ``out``
  and a :class:`StepOutcome` comes back with the squared speed at B (when the pass
  computed it), the local error estimate (an array, or None) and, for methods whose last
  stage is the new state (FSAL), the gradient evaluation there.

Members
-------
``"euler"``  projected forward Euler, B <- clip(B - h DF(B)).  Order 1.
``"prox"``   forward--backward (IMEX Euler): B <- prox_{h L + box}(B - h DH(B)), solved entry-wise
             by a safeguarded Halley iteration.  Order 1; stable for entropy near 0 and 1 at any h,
             but it slows the clock there by about 1/(1 + h alpha / (2 u (1-u))).
``"heun"``   projected explicit trapezoid.  Order 2 away from the faces.
``"bs32"``   Bogacki--Shampine 3(2), explicit, with projected stages; FSAL, 3 gradients a step.
``"dp54"``   Dormand--Prince 5(4), explicit, with projected stages; FSAL, 6 gradients a step.
             The default with error control.
``"ark32"``  Kennedy--Carpenter ARK3(2)4L[2]SA: an additive (IMEX) Runge--Kutta pair, explicit in H,
             L-stable ESDIRK in L + box (each implicit stage one entry-wise prox with step h gamma).
             Order 3 with an embedded order-2 solution; 4 gradients a step.
``"ark43"``  ARK4(3)6L[2]SA, the same construction; order 4 (3), 6 gradients a step.
``"ark54"``  ARK5(4)8L[2]SA; order 5 (4), 8 gradients a step.

The explicit methods project every stage onto the box and use the projected velocity,
so that an entry that sits on a face with the flow pushing outwards stays there exactly.
In the IMEX methods the implicit tendency of a stage is recovered from its prox solve,
f_I = (Y - z) / (h gamma), so it contains the normal-cone force of the box.  In both kinds,
entries that start a step on a face with the flow pushing outwards are frozen for the step,
and the error is measured between the clipped solutions.  At a face the flow is not smooth
and every method drops to order 1 locally; error control sees this and shortens the steps.
Caveat (measured, docs/flows.md): at a degenerate fixed point where the explicit and implicit
Jacobians cancel, the IMEX pairs' estimate misses a drift of ~100 rtol; dp54 does not.

References
----------
C. A. Kennedy, M. H. Carpenter, Additive Runge-Kutta schemes for convection-diffusion-reaction
equations, Appl. Numer. Math. 44 (2003) 139-181 (ARK3(2)4L[2]SA).
P. Bogacki, L. F. Shampine, A 3(2) pair of Runge-Kutta formulas, Appl. Math. Lett. 2 (1989).
J. R. Dormand, P. J. Prince, A family of embedded Runge-Kutta formulae, J. Comput. Appl. Math. 6 (1980).
"""

from __future__ import annotations

from fractions import Fraction as Fr

import numpy as np

__all__ = [
    "Integrator",
    "StepOutcome",
    "Euler",
    "Prox",
    "Heun",
    "ExplicitRK",
    "IMEXRK",
    "INTEGRATORS",
    "register_integrator",
    "get_integrator",
]


class StepOutcome:
    """What one step reports: ``pg2`` (squared speed at the input state, or None),
    ``error`` (local error estimate array, or None) and ``ev_new`` (the gradient
    evaluation at the new state, when the method made it), ``nonfinite`` (a stage met
    NaN or inf)."""

    __slots__ = ("pg2", "error", "ev_new", "nonfinite")

    def __init__(self, pg2=None, error=None, ev_new=None, nonfinite=False):
        self.pg2, self.error, self.ev_new, self.nonfinite = pg2, error, ev_new, nonfinite


class Integrator:
    """Base class (see the module docstring)."""

    name = "?"
    order = 0
    error_order = None
    implicit_local = False
    #: gradient evaluations per accepted step, the one at the new state included
    evals_per_step = 1

    @property
    def has_error_estimate(self) -> bool:
        return self.error_order is not None

    def init(self, problem, B):
        """Allocate the work arrays for states like B."""

    def step(self, problem, B, ev, h, out) -> StepOutcome:  # pragma: no cover - abstract
        raise NotImplementedError

    def __repr__(self):
        return f"{type(self).__name__}()"


# --------------------------------------------------------------------------- order 1 and 2
class Euler(Integrator):
    """Projected forward Euler (one fused pass)."""

    name, order = "euler", 1

    def step(self, problem, B, ev, h, out):
        _, pg2 = problem.backend.euler_pass(B, ev.G, problem.w, h, out=out, symmetric_G=problem.symmetric_G,
                                            **problem.kernel_args(ev.gscale))
        return StepOutcome(pg2=pg2)


class Prox(Integrator):
    """Forward--backward: explicit in H, proximal (implicit) in L + box (one fused pass)."""

    name, order, implicit_local = "prox", 1, True

    def step(self, problem, B, ev, h, out):
        _, pg2 = problem.backend.prox_pass(B, ev.G, problem.w, h, out=out, **problem.kernel_args(ev.gscale))
        return StepOutcome(pg2=pg2)


class Heun(Integrator):
    """Projected explicit trapezoid: an Euler predictor, then the mean of both gradients."""

    name, order, evals_per_step = "heun", 2, 2

    def step(self, problem, B, ev, h, out):
        _, pg2 = problem.backend.euler_pass(B, ev.G, problem.w, h, out=out, **problem.kernel_args(ev.gscale))
        if not np.isfinite(pg2):
            return StepOutcome(pg2=pg2, nonfinite=True)
        ev2 = problem.evaluate(out, None)
        D = problem.full_grad(B, ev) + problem.full_grad(out, ev2)
        if not problem.backend.heun_combine(out, B, D, h, problem.lo_eff, problem.hi_eff):
            return StepOutcome(pg2=pg2, nonfinite=True)
        return StepOutcome(pg2=pg2)


# --------------------------------------------------------------------------- tableaus
def _f(x):
    return [float(v) for v in x]


class ExplicitRK(Integrator):
    r"""An explicit embedded Runge--Kutta pair with projected stages.

    Stage i is :math:`Y_i = \Pi(B + h\sum_{j<i} a_{ij} k_j)`, :math:`k_i = -P_{Y_i}[DF(Y_i)]`
    (Pi the clip onto the box), the new state :math:`\Pi(B + h\sum_i b_i k_i)` and the error
    estimate :math:`h \sum_i (b_i - \hat b_i) k_i`.  With ``fsal`` the last row of A equals b,
    so the last stage is the new state and its gradient is handed back to the driver.
    """

    def __init__(self, name, A, b, bhat, order, error_order):
        self.name = name
        self.A = [_f(r) for r in A]
        self.b = _f(b)
        self.e = [float(Fr(x) - Fr(y)) for x, y in zip(b, bhat)]
        self.order, self.error_order = order, error_order
        self.s = len(self.b)
        self.fsal = all(Fr(x) == Fr(y) for x, y in zip(list(A[-1]) + [0], b))
        self.evals_per_step = self.s - 1 if self.fsal else self.s
        self._k = None

    def init(self, problem, B):
        be = problem.backend
        self._k = [be.empty_like(B) for _ in range(self.s)]
        self._tmp = be.empty_like(B)
        self._err = be.empty_like(B)
        self._Y = be.empty_like(B)

    def step(self, problem, B, ev, h, out):
        if self._k is None or self._k[0].shape != B.shape or self._k[0].dtype != B.dtype:
            self.init(problem, B)
        be, k = problem.backend, self._k
        lo, hi = problem.lo_eff, problem.hi_eff
        # entries held on a face stay frozen through the step (their projected velocity is 0)
        be.local_velocity(self._tmp, B, problem.alpha, problem.beta)
        if ev.G is not None:
            be.scaled_sym(k[0], ev.G, -ev.gscale)
            self._tmp += k[0]
        held = be.held_mask(self._tmp, B, lo, hi)
        problem.velocity(B, ev, k[0])
        ev_new = None
        for i in range(1, self.s):
            last = self.fsal and i == self.s - 1
            Y = out if last else self._Y
            be.lincomb(Y, B, [(h * a, k[j]) for j, a in enumerate(self.A[i][:i])])
            be.clip(Y, lo, hi, out=Y)
            evi = problem.evaluate(Y, None, need_value=last and problem.want_value)
            if evi.G is not None and not be.all_finite(evi.G):
                return StepOutcome(nonfinite=True)
            problem.velocity(Y, evi, k[i])
            be.zero_where(k[i], held)
            if last:
                ev_new = evi
        if not self.fsal:
            be.lincomb(out, B, [(h * bi, k[i]) for i, bi in enumerate(self.b)])
        be.scale(self._err, k[0], h * self.e[0])
        be.lincomb(self._err, self._err, [(h * ei, k[i]) for i, ei in enumerate(self.e) if i > 0])
        if self.fsal:
            # out is already the clipped last stage; the embedded solution is out - err, clipped
            be.subtract(self._Y, out, self._err)
            be.clip(self._Y, lo, hi, out=self._Y)
            be.subtract(self._err, out, self._Y)
        else:
            be.clipped_error(out, self._err, lo, hi, self._Y)
        return StepOutcome(error=self._err, ev_new=ev_new)

    def __repr__(self):
        return f"ExplicitRK({self.name!r}, order={self.order}, error_order={self.error_order})"


class IMEXRK(Integrator):
    r"""An additive Runge--Kutta pair: explicit in H, singly diagonally implicit in L + box.

    With explicit tableau (a^E, b) and ESDIRK tableau (a^I, b) of diagonal gamma, stage i is

    .. math::

        z_i = B + h\sum_{j<i}\bigl(a^E_{ij} f^E_j + a^I_{ij} f^I_j\bigr),\qquad
        Y_i = \mathrm{prox}_{h\gamma(L + \iota_{box})}(z_i),\qquad
        f^I_i = (Y_i - z_i)/(h\gamma),\quad f^E_i = -DH(Y_i),

    the new state is :math:`\Pi(B + h\sum_i b_i (f^E_i + f^I_i))` and the error estimate
    :math:`h\sum_i (b_i - \hat b_i)(f^E_i + f^I_i)`.  Each prox is the fused entry-wise
    kernel of the ``"prox"`` integrator.  Stage 1 is explicit (Y_1 = B) and its implicit
    tendency is -DL(B) plus the normal-cone force that keeps face entries on their face.
    """

    implicit_local = True

    def __init__(self, name, AE, AI, b, bhat, order, error_order):
        self.name = name
        self.AE = [_f(r) for r in AE]
        self.AI = [_f(r) for r in AI]
        self.gamma = float(AI[1][1])
        self.b = _f(b)
        self.e = [float(Fr(x) - Fr(y)) for x, y in zip(b, bhat)]
        self.order, self.error_order = order, error_order
        self.s = len(self.b)
        self.evals_per_step = self.s
        self._fE = None

    def init(self, problem, B):
        be = problem.backend
        self._fE = [be.empty_like(B) for _ in range(self.s)]
        self._fI = [be.empty_like(B) for _ in range(self.s)]
        self._z = be.empty_like(B)
        self._err = be.empty_like(B)

    def step(self, problem, B, ev, h, out):
        if self._fE is None or self._fE[0].shape != B.shape or self._fE[0].dtype != B.dtype:
            self.init(problem, B)
        be, fE, fI, z = problem.backend, self._fE, self._fI, self._z
        lo, hi, w = problem.lo_eff, problem.hi_eff, problem.w
        al, bt = problem.alpha, problem.beta
        # stage 1: explicit.  Entries held on a face (pushed outwards) are frozen for the whole
        # step: both tendencies are zero there in every stage, so they stay exactly on the face
        # and contribute nothing to the error estimate.  Elsewhere f_I is -DL(B).
        if ev.G is None:
            be.fill(fE[0], 0.0)
        else:
            be.scaled_sym(fE[0], ev.G, -ev.gscale)
        be.local_velocity(fI[0], B, al, bt)
        be.add(z, fE[0], fI[0])
        held = be.held_mask(z, B, lo, hi)
        be.zero_where(fE[0], held)
        be.zero_where(fI[0], held)
        hg = h * self.gamma
        for i in range(1, self.s):
            terms = [(h * a, fE[j]) for j, a in enumerate(self.AE[i][:i])]
            terms += [(h * a, fI[j]) for j, a in enumerate(self.AI[i][:i])]
            be.lincomb(z, B, terms)
            Y = out  # the stage value lives in `out` until the final combination overwrites it
            be.prox_pass(z, None, w, hg, gscale=0.0, alpha=al, beta=bt, lo=lo, hi=hi, out=Y)
            be.subtract(fI[i], Y, z)
            fI[i] *= 1.0 / hg
            evi = problem.evaluate(Y, None)
            if evi.G is None:
                be.fill(fE[i], 0.0)
            else:
                if not be.all_finite(evi.G):
                    return StepOutcome(nonfinite=True)
                be.scaled_sym(fE[i], evi.G, -evi.gscale)
            be.zero_where(fE[i], held)
            be.zero_where(fI[i], held)
        terms = [(h * bi, fE[i]) for i, bi in enumerate(self.b)] + [(h * bi, fI[i]) for i, bi in enumerate(self.b)]
        be.lincomb(out, B, terms)
        be.add(self._err, fE[0], fI[0])
        self._err *= h * self.e[0]
        terms = [(h * ei, fE[i]) for i, ei in enumerate(self.e) if i] + [(h * ei, fI[i]) for i, ei in enumerate(self.e) if i]
        be.lincomb(self._err, self._err, terms)
        be.clipped_error(out, self._err, lo, hi, z)
        return StepOutcome(error=self._err)

    def __repr__(self):
        return f"IMEXRK({self.name!r}, order={self.order}, error_order={self.error_order})"


# --------------------------------------------------------------------------- the tableaus
def _bs32_table():
    A = [[], [Fr(1, 2)], [0, Fr(3, 4)], [Fr(2, 9), Fr(1, 3), Fr(4, 9)]]
    b = [Fr(2, 9), Fr(1, 3), Fr(4, 9), 0]
    bhat = [Fr(7, 24), Fr(1, 4), Fr(1, 3), Fr(1, 8)]
    return dict(A=A, b=b, bhat=bhat)


def _bs32():
    return ExplicitRK("bs32", order=3, error_order=2, **_bs32_table())


def _dp54_table():
    A = [
        [],
        [Fr(1, 5)],
        [Fr(3, 40), Fr(9, 40)],
        [Fr(44, 45), Fr(-56, 15), Fr(32, 9)],
        [Fr(19372, 6561), Fr(-25360, 2187), Fr(64448, 6561), Fr(-212, 729)],
        [Fr(9017, 3168), Fr(-355, 33), Fr(46732, 5247), Fr(49, 176), Fr(-5103, 18656)],
        [Fr(35, 384), 0, Fr(500, 1113), Fr(125, 192), Fr(-2187, 6784), Fr(11, 84)],
    ]
    b = [Fr(35, 384), 0, Fr(500, 1113), Fr(125, 192), Fr(-2187, 6784), Fr(11, 84), 0]
    bhat = [Fr(5179, 57600), 0, Fr(7571, 16695), Fr(393, 640), Fr(-92097, 339200), Fr(187, 2100), Fr(1, 40)]
    return dict(A=A, b=b, bhat=bhat)


def _dp54():
    return ExplicitRK("dp54", order=5, error_order=4, **_dp54_table())


def _ark32_table():
    # Kennedy & Carpenter (2003), ARK3(2)4L[2]SA, Tables in their appendix
    g = Fr(1767732205903, 4055673282236)
    AE = [
        [],
        [Fr(1767732205903, 2027836641118)],
        [Fr(5535828885825, 10492691773637), Fr(788022342437, 10882634858940)],
        [Fr(6485989280629, 16251701735622), Fr(-4246266847089, 9704473918619), Fr(10755448449292, 10357097424841)],
    ]
    b = [Fr(1471266399579, 7840856788654), Fr(-4482444167858, 7529755066697), Fr(11266239266428, 11593286722821), g]
    AI = [
        [0],
        [g, g],
        [Fr(2746238789719, 10658868560708), Fr(-640167445237, 6845629431997), g],
        b,
    ]
    bhat = [Fr(2756255671327, 12835298489170), Fr(-10771552573575, 22201958757719),
            Fr(9247589265047, 10645013368117), Fr(2193209047091, 5459859503100)]
    return dict(AE=AE, AI=AI, b=b, bhat=bhat)


def _ark32():
    return IMEXRK("ark32", order=3, error_order=2, **_ark32_table())


def _ark43_table():
    # Kennedy & Carpenter (2003), ARK4(3)6L[2]SA
    g = Fr(1, 4)
    AE = [
        [],
        [Fr(1, 2)],
        [Fr(13861, 62500), Fr(6889, 62500)],
        [Fr(-116923316275, 2393684061468), Fr(-2731218467317, 15368042101831), Fr(9408046702089, 11113171139209)],
        [Fr(-451086348788, 2902428689909), Fr(-2682348792572, 7519795681897), Fr(12662868775082, 11960479115383),
         Fr(3355817975965, 11060851509271)],
        [Fr(647845179188, 3216320057751), Fr(73281519250, 8382639484533), Fr(552539513391, 3454668386233),
         Fr(3354512671639, 8306763924573), Fr(4040, 17871)],
    ]
    b = [Fr(82889, 524892), 0, Fr(15625, 83664), Fr(69875, 102672), Fr(-2260, 8211), g]
    AI = [
        [0],
        [g, g],
        [Fr(8611, 62500), Fr(-1743, 31250), g],
        [Fr(5012029, 34652500), Fr(-654441, 2922500), Fr(174375, 388108), g],
        [Fr(15267082809, 155376265600), Fr(-71443401, 120774400), Fr(730878875, 902184768), Fr(2285395, 8070912), g],
        b,
    ]
    bhat = [Fr(4586570599, 29645900160), 0, Fr(178811875, 945068544), Fr(814220225, 1159782912),
            Fr(-3700637, 11593932), Fr(61727, 225920)]
    return dict(AE=AE, AI=AI, b=b, bhat=bhat)


def _ark43():
    return IMEXRK("ark43", order=4, error_order=3, **_ark43_table())


def _ark54_table():
    # Kennedy & Carpenter (2003), ARK5(4)8L[2]SA
    g = Fr(41, 200)
    AE = [
        [],
        [Fr(41, 100)],
        [Fr(367902744464, 2072280473677), Fr(677623207551, 8224143866563)],
        [Fr(1268023523408, 10340822734521), 0, Fr(1029933939417, 13636558850479)],
        [Fr(14463281900351, 6315353703477), 0, Fr(66114435211212, 5879490589093), Fr(-54053170152839, 4284798021562)],
        [Fr(14090043504691, 34967701212078), 0, Fr(15191511035443, 11219624916014),
         Fr(-18461159152457, 12425892160975), Fr(-281667163811, 9011619295870)],
        [Fr(19230459214898, 13134317526959), 0, Fr(21275331358303, 2942455364971),
         Fr(-38145345988419, 4862620318723), Fr(-1, 8), Fr(-1, 8)],
        [Fr(-19977161125411, 11928030595625), 0, Fr(-40795976796054, 6384907823539),
         Fr(177454434618887, 12078138498510), Fr(782672205425, 8267701900261),
         Fr(-69563011059811, 9646580694205), Fr(7356628210526, 4942186776405)],
    ]
    b = [Fr(-872700587467, 9133579230613), 0, 0, Fr(22348218063261, 9555858737531),
         Fr(-1143369518992, 8141816002931), Fr(-39379526789629, 19018526304540),
         Fr(32727382324388, 42900044865799), g]
    AI = [
        [0],
        [g, g],
        [Fr(41, 400), Fr(-567603406766, 11931857230679), g],
        [Fr(683785636431, 9252920307686), 0, Fr(-110385047103, 1367015193373), g],
        [Fr(3016520224154, 10081342136671), 0, Fr(30586259806659, 12414158314087),
         Fr(-22760509404356, 11113319521817), g],
        [Fr(218866479029, 1489978393911), 0, Fr(638256894668, 5436446318841),
         Fr(-1179710474555, 5321154724896), Fr(-60928119172, 8023461067671), g],
        [Fr(1020004230633, 5715676835656), 0, Fr(25762820946817, 25263940353407),
         Fr(-2161375909145, 9755907335909), Fr(-211217309593, 5846859502534),
         Fr(-4269925059573, 7827059040749), g],
        b,
    ]
    bhat = [Fr(-975461918565, 9796059967033), 0, 0, Fr(78070527104295, 32432590147079),
            Fr(-548382580838, 3424219808633), Fr(-33438840321285, 15594753105479),
            Fr(3629800801594, 4656183773603), Fr(4035322873751, 18575991585200)]
    return dict(AE=AE, AI=AI, b=b, bhat=bhat)


def _ark54():
    return IMEXRK("ark54", order=5, error_order=4, **_ark54_table())


#: the exact (Fraction) coefficients of the Runge--Kutta pairs, for checks of their order conditions
TABLEAUS = {"bs32": _bs32_table, "dp54": _dp54_table, "ark32": _ark32_table, "ark43": _ark43_table, "ark54": _ark54_table}


#: registry: name -> factory returning a fresh integrator object
_REGISTRY = {
    "euler": Euler,
    "prox": Prox,
    "heun": Heun,
    "bs32": _bs32,
    "dp54": _dp54,
    "ark32": _ark32,
    "ark43": _ark43,
    "ark54": _ark54,
}

#: the registered names (``integrator=`` of :func:`~graphonflow.flow`)
INTEGRATORS = tuple(_REGISTRY)


def register_integrator(name, factory):
    """Add ``factory`` (a callable returning an :class:`Integrator`) to the registry under ``name``."""
    global INTEGRATORS
    if not callable(factory):
        raise TypeError("factory must be callable")
    _REGISTRY[str(name)] = factory
    INTEGRATORS = tuple(_REGISTRY)


def get_integrator(spec) -> Integrator:
    """An integrator object from a registry name or an :class:`Integrator` instance."""
    if isinstance(spec, Integrator):
        return spec
    if isinstance(spec, str) and spec in _REGISTRY:
        return _REGISTRY[spec]()
    raise ValueError(f"integrator must be one of {tuple(_REGISTRY)} or an Integrator object, got {spec!r}")


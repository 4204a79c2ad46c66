r"""Upper tails of homomorphism densities in G(n, p): the variational problem and its
replica-symmetric phase.

For a pattern H with e = e(H) edges, fixed 0 < p < 1 and delta > 0, Chatterjee and Varadhan
(2011) reduce the upper tail of t(H, G(n, p)) to a problem over graphons:

.. math::

    -\frac{1}{n^2}\log \Pr\bigl[t(H, G(n,p)) \ge (1+\delta) p^{e}\bigr] \to
    \phi(H, p, \delta) = \inf\bigl\{ I_p(W) : t(H, W) \ge (1+\delta) p^{e} \bigr\},

with the rate function of :class:`~graphonflow.RateFunction`,
:math:`I_p(W) = \tfrac12 \iint h_p(W)`, :math:`h_p(x) = x\log\frac{x}{p} + (1-x)\log\frac{1-x}{1-p}`.
The constant graphon :math:`W \equiv r`, :math:`r = (1+\delta)^{1/e} p`, is feasible and costs
:math:`h_p(r)/2`; the problem is *replica symmetric* when nothing does better.

**Lubetzky--Zhao boundary.**  For a d-regular H, Lubetzky and Zhao (2015) prove that the
constant is the minimiser exactly when the point :math:`(r^d, h_p(r))` lies on the convex
minorant of :math:`\psi(x) = h_p(x^{1/d})` on [0, 1].  Writing :math:`x = u^d`, the sign of
:math:`\psi''` is that of

.. math::  f(u) = \frac{1}{1-u} - (d-1)\,h_p'(u), \qquad h_p'(u) = \log\frac{u(1-p)}{(1-u)p},

which decreases up to :math:`u = (d-1)/d` and increases after it.  So :math:`\psi` is
convex-concave-convex, its minorant has at most one straight piece, and there is a piece
exactly when :math:`f((d-1)/d) < 0`, i.e. when

.. math::  p < p_d = \frac{d-1}{d-1+e^{d/(d-1)}}

(:math:`p_2 = 1/(1+e^2) \approx 0.1192`; never for d = 1).  The piece is the double tangent
of :math:`\psi`: levels :math:`u_- < u_+` with equal slopes
:math:`m = h_p'(u_\pm)/(d u_\pm^{d-1})` and :math:`h_p(u_+) - h_p(u_-) = m (u_+^d - u_-^d)`.
Symmetry breaks exactly for :math:`u_- < r < u_+`, i.e. for
:math:`\delta_- < \delta < \delta_+` with :math:`\delta_\pm = (u_\pm/p)^e - 1`
(:func:`lz_boundary`).

Why small hubs detect it: a hub of width s -> 0 whose edges have level b, on a background a,
changes t(H) by :math:`s\,v(H)(b^d a^{e-d} - a^e)` to first order and the rate by
:math:`s\,(h_p(b) - h_p(a))`; lowering the background from r to keep t(H) fixed, the rate
changes by :math:`s\,[\psi(b^d) - \psi(r^d) - \psi'(r^d)(b^d - r^d)]`, negative for some b
exactly when the tangent of :math:`\psi` at :math:`r^d` is not a supporting line, i.e. off the
minorant.  Near :math:`\delta_-` the winning hub level is high (:math:`\approx u_+`), near
:math:`\delta_+` it is *low* (:math:`\approx u_-`: a few vertices with few edges, the rest
denser), which is why :func:`upper_tail` starts from both.

**The solver.**  :func:`upper_tail` minimises over weighted step graphons (B, w) with the
widths w fixed per start, writing the constraint as
:math:`g(W) = \log(t(H, W)/T)/e \ge 0` (T the target), which is scale free: at the constant,
its L2 gradient is 1/r whatever e and T are (the older penalty 50/T vanished next to the
multiplier when t(K4) ~ 1e-6).  An augmented Lagrangian
:math:`I_p - \lambda g + \tfrac{\mu}{2} g^2` (for :math:`g < \lambda/\mu`; the usual
inequality form otherwise) is minimised over the logits :math:`z = \log(B/(1-B))` of the
block values by Newton steps on the block (L2) gradient with a saddle-free (absolute-
eigenvalue) Hessian and a backtracking line search, the multiplier updated by
:math:`\lambda \leftarrow \max(0, \lambda - \mu g)`, and the result polished by Newton's
method on the KKT system :math:`\tfrac12 h_p'(B) = \lambda\,Dg(B)`, :math:`g = 0`.  The L2
gradients of t(H, .) are exact (:class:`~graphonflow.HomWorkspace`); their derivatives are
forward differences in the Newton steps and central ones in the final curvature check.  Each
run then states its KKT residual, its feasibility and whether the reduced Hessian of the
Lagrangian is positive definite (a strict local minimum).  Gradient flows of the same
augmented Lagrangian reach the same points, but a narrow hub makes them stiff (the penalty's
curvature caps the step size while the slow directions need long times), so the package
solves the KKT system directly.

References
----------
S. Chatterjee, S. R. S. Varadhan, The large deviation principle for the Erdos--Renyi random
graph, Eur. J. Combin. 32 (2011).  E. Lubetzky, Y. Zhao, On replica symmetry of large
deviations in random graphs, Random Structures Algorithms 47 (2015).

Examples
--------
>>> import graphonflow as gf
>>> lz = gf.lz_boundary("K3", 0.1)
>>> [round(u, 10) for u in lz.levels], round(lz.deltas[0], 6)    # levels 1/4 and 3/4
([0.25, 0.75], 14.625)
>>> gf.lz_boundary("K3", 0.2).reason.startswith("no symmetry-breaking band")
True
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import brentq, minimize_scalar

from .hom import HomWorkspace
from .patterns import as_pattern
from .step import StepGraphon

__all__ = [
    "LZBoundary",
    "lz_boundary",
    "UpperTailRun",
    "UpperTailResult",
    "upper_tail",
    "rate_hp",
]


# --------------------------------------------------------------------------- scalar helpers
def _logit(u):
    return math.log(u) - math.log1p(-u)


def _sigmoid(z):
    z = np.asarray(z, dtype=np.float64)
    return np.where(z >= 0, 1.0 / (1.0 + np.exp(-np.abs(z))), np.exp(-np.abs(z)) / (1.0 + np.exp(-np.abs(z))))


def rate_hp(u, p):
    r"""h_p(u) = u log(u/p) + (1-u) log((1-u)/(1-p)) for u in [0, 1] (0 log 0 = 0), elementwise.

    The constant graphon W = u has rate I_p = h_p(u)/2.

    >>> round(float(rate_hp(0.5, 0.5)), 12), round(float(rate_hp(1.0, 0.1)), 6)   # 0 and log 10
    (0.0, 2.302585)
    """
    u = np.asarray(u, dtype=np.float64)
    p = float(p)
    with np.errstate(divide="ignore", invalid="ignore"):
        a = np.where(u > 0, u * (np.log(np.where(u > 0, u, 1.0)) - math.log(p)), 0.0)
        v = 1.0 - u
        b = np.where(v > 0, v * (np.log(np.where(v > 0, v, 1.0)) - math.log1p(-p)), 0.0)
    out = a + b
    return out if out.ndim else float(out)


def _hp_logit(z, p):
    """h_p(sigmoid(z)), accurate for any z (both log u and log(1-u) from softplus)."""
    z = np.asarray(z, dtype=np.float64)
    lu = -np.logaddexp(0.0, -z)  # log u
    lv = -np.logaddexp(0.0, z)  # log(1 - u)
    u, v = np.exp(lu), np.exp(lv)
    return u * (lu - math.log(p)) + v * (lv - math.log1p(-p))


def _check_p(p):
    try:
        p = float(p)
    except (TypeError, ValueError):
        raise ValueError(f"p must be a number in (0, 1), got {p!r}") from None
    if not (0.0 < p < 1.0):
        raise ValueError(f"p must lie in (0, 1), got {p}")
    return p


def _regular_degree(P):
    degs = set(P.degrees)
    if P.n_edges == 0 or len(degs) != 1:
        return None
    return degs.pop()


# --------------------------------------------------------------------------- Lubetzky-Zhao
@dataclass(frozen=True)
class LZBoundary:
    """The Lubetzky--Zhao replica-symmetric phase of a d-regular H at edge density p.

    Attributes
    ----------
    H : str
        The pattern's name.
    d, e : int
        Its degree and number of edges.
    p : float
    p_critical : float
        p_d = (d-1)/(d-1+e^{d/(d-1)}): symmetry never breaks for p >= p_d (0 for d = 1).
    levels : (float, float) or None
        The double-tangent levels (u_-, u_+), or None when there is no band.
    deltas : (float, float) or None
        (delta_-, delta_+) = ((u_-/p)^e - 1, (u_+/p)^e - 1): the constant is optimal exactly for
        delta <= delta_- and delta >= delta_+.
    slope : float or None
        The slope of the double tangent, psi'(u_-^d) = psi'(u_+^d).
    reason : str
        A sentence: the band, or why there is none.
    """

    H: str
    d: int
    e: int
    p: float
    p_critical: float
    levels: tuple | None
    deltas: tuple | None
    slope: float | None
    reason: str

    @property
    def has_band(self) -> bool:
        return self.levels is not None

    def r(self, delta) -> float:
        """The constant level r = (1 + delta)^(1/e) p."""
        return (1.0 + float(delta)) ** (1.0 / self.e) * self.p

    def delta_of(self, r) -> float:
        """delta = (r/p)^e - 1."""
        return (float(r) / self.p) ** self.e - 1.0

    def is_symmetric(self, delta) -> bool:
        """True when the constant graphon is optimal at this delta (on the minorant)."""
        if self.levels is None:
            return True
        lo, hi = self.deltas
        return not (lo < float(delta) < hi)


def lz_boundary(H, p) -> LZBoundary:
    r"""The Lubetzky--Zhao boundary of the replica-symmetric phase for a d-regular H.

    Solves for the double tangent of :math:`\psi(x) = h_p(x^{1/d})` (see the module text): its
    levels u_- < u_+ and the deltas delta_pm = (u_pm/p)^{e(H)} - 1 between which the constant
    graphon stops being optimal.  Nothing is hard-coded for triangles: d and e(H) come from H.

    Parameters
    ----------
    H : pattern
        A d-regular pattern with d >= 1 (K3, C5, K4, K3,3, ...).
    p : float in (0, 1)

    Returns
    -------
    LZBoundary
        With ``levels = deltas = None`` and a ``reason`` when there is no band (p >= p_d, or
        d = 1).

    Raises
    ------
    ValueError
        If H is not regular (the theorem is for regular H), has no edges, or p is not in (0, 1).

    Examples
    --------
    >>> lz = lz_boundary("K4", 0.1)
    >>> lz.d, lz.e, [round(u, 4) for u in lz.levels]
    (3, 6, [0.1074, 0.9895])
    >>> lz.is_symmetric(0.5), lz.is_symmetric(1.0)
    (True, False)
    """
    P = as_pattern(H)
    p = _check_p(p)
    d = _regular_degree(P)
    name = str(P)
    if d is None:
        what = "has no edges" if P.n_edges == 0 else f"has degrees {sorted(set(P.degrees))}"
        raise ValueError(
            f"lz_boundary: H = {name} {what}; the Lubetzky-Zhao boundary is for d-regular H with d >= 1 "
            "(upper_tail solves the variational problem for any H)"
        )
    e = P.n_edges
    if d == 1:
        return LZBoundary(name, d, e, p, 0.0, None, None, None,
                          f"no symmetry-breaking band: H = {name} is 1-regular, psi(x) = h_p(x) is convex, "
                          "so the constant is optimal for every delta")
    pc = (d - 1) / (d - 1 + math.exp(d / (d - 1)))
    lp = _logit(p)

    def f(u):  # sign of psi''
        return 1.0 / (1.0 - u) - (d - 1) * (_logit(u) - lp)

    ustar = (d - 1) / d
    if not f(ustar) < 0:
        return LZBoundary(name, d, e, p, pc, None, None, None,
                          f"no symmetry-breaking band: p = {p:g} >= p_d = {pc:.6g} for d = {d}, so "
                          f"psi(x) = h_p(x^(1/{d})) is convex and the constant is optimal for every delta")
    ua = brentq(f, p, ustar, xtol=1e-15, rtol=1e-15)
    top = float(np.nextafter(1.0, 0.0))  # f(top) ~ 1/eps > 0: f tends to +inf at 1
    ub = brentq(f, ustar, top, xtol=1e-15, rtol=1e-15)

    # slope s(y) = psi'(u^d) at u = sigmoid(y); increasing on y <= logit(ua) and y >= logit(ub)
    def s(y):
        u = float(_sigmoid(y))
        return (y - lp) / (d * u ** (d - 1))

    def y_of(m, lo, hi):
        return brentq(lambda y: s(y) - m, lo, hi, xtol=1e-14, rtol=1e-15, maxiter=500)

    ya, yb = _logit(ua), _logit(ub)
    y_lo = lp  # s(lp) = 0 < any slope in the range
    y_hi = yb + 1.0
    while s(y_hi) <= s(ya):
        y_hi += 2.0 * (y_hi - yb)
        if y_hi > 1e15:  # pragma: no cover - s grows linearly in y, so this cannot happen
            raise ValueError(f"lz_boundary: the band end for p = {p:g} is too close to 1 for double precision")

    def gap(m):
        y1, y2 = y_of(m, y_lo, ya), y_of(m, yb, y_hi)
        u1, u2 = float(_sigmoid(y1)), float(_sigmoid(y2))
        return (float(_hp_logit(y2, p)) - m * u2**d) - (float(_hp_logit(y1, p)) - m * u1**d)

    m_lo, m_hi = s(yb), s(ya)
    try:
        m = brentq(gap, m_lo * (1 + 1e-15), m_hi * (1 - 1e-15), xtol=1e-16, rtol=1e-15)
    except ValueError:  # the two slopes agree to rounding: no bracket left
        raise ValueError(
            f"lz_boundary: p = {p!r} is within {abs(1 - p / pc):.1e} (relative) of p_d = {pc!r}, where the band "
            f"shrinks to the point u = {ustar:g}; it is too narrow to resolve in double precision"
        ) from None
    u1 = float(_sigmoid(y_of(m, y_lo, ya)))
    u2 = float(_sigmoid(y_of(m, yb, y_hi)))
    dl, dh = (u1 / p) ** e - 1.0, (u2 / p) ** e - 1.0
    reason = (f"symmetry breaks for {dl:.6g} < delta < {dh:.6g} (levels {u1:.6g} < r < {u2:.6g}); "
              "the constant is optimal outside")
    return LZBoundary(name, d, e, p, pc, (u1, u2), (dl, dh), m, reason)


# --------------------------------------------------------------------------- the constrained solver
class _Problem:
    """min I_p(B, w) subject to g(B) = log(t(H, B)/T)/e >= 0, over the upper-triangle logits z."""

    def __init__(self, P, p, logT, w):
        self.P = P
        self.p = p
        self.e = P.n_edges
        self.logT = logT
        self.w = np.asarray(w, dtype=np.float64)
        m = len(self.w)
        self.m = m
        self.iu = np.triu_indices(m)
        c = np.outer(self.w, self.w)[self.iu]
        c[self.iu[0] != self.iu[1]] *= 2.0
        self.c = c  # the measure of each upper-triangle entry (both halves of an off-diagonal pair)
        self.lp = _logit(p)
        self.n_evals = 0

    def B_of(self, z):
        u = _sigmoid(z)
        B = np.empty((self.m, self.m))
        B[self.iu] = u
        B.T[self.iu] = u
        return B

    def z_of(self, B):
        B = np.asarray(B, dtype=np.float64)[self.iu]
        return np.clip(np.log(B) - np.log1p(-B), -ZMAX, ZMAX)

    def g(self, z):
        """(g, Dg): the constraint and its L2 gradient (block values on the upper triangle)."""
        self.n_evals += 1
        ws = HomWorkspace(StepGraphon(self.B_of(z), self.w), check=False)
        t = ws.density(self.P)
        if not t > 0:
            return -math.inf, np.zeros_like(z)
        return (math.log(t) - self.logT) / self.e, ws.grad(self.P)[self.iu] / (self.e * t)

    def rate(self, z):
        return 0.5 * float(self.c @ _hp_logit(z, self.p))

    def dDg(self, z, Dg=None, central=False):
        """K[k, l] = d Dg_k / d z_l by differences of the exact gradient: forward ones from
        ``Dg`` = Dg(z) (error ~1e-7 relative, enough for Newton steps), or central ones."""
        n = len(z)
        K = np.empty((n, n))
        h = 1e-5 if central else 1e-7
        if not central and Dg is None:
            Dg = self.g(z)[1]
        for l in range(n):
            zp = z.copy()
            zp[l] += h
            if central:
                zm = z.copy()
                zm[l] -= h
                K[:, l] = (self.g(zp)[1] - self.g(zm)[1]) / (2 * h)
            else:
                K[:, l] = (self.g(zp)[1] - Dg) / h
        return K

    def E(self, z):
        u = _sigmoid(z)
        return self.c * u * _sigmoid(-z)  # the measure times dB/dz


def _sym_scaled(A, E):
    """S = E^(1/2) A E^(-1/2), symmetrised: the z-Jacobian A in the coordinates where the
    Hessian of a functional of the block values is symmetric."""
    r = np.sqrt(E)  # > 0: logits are bounded by ZMAX
    S = A * (r[:, None] / r[None, :])
    return 0.5 * (S + S.T)


ZMAX = 40.0  # logits are kept in [-ZMAX, ZMAX]: sigmoid(40) rounds to 1 (a face of the box)


def _held(z, gh):
    """Entries at a logit bound whose block gradient pushes them further out: they stay put."""
    return ((z >= ZMAX) & (gh < 0)) | ((z <= -ZMAX) & (gh > 0))


def _residual(z, gh, g):
    """The KKT residual: the projected block gradient and the constraint, in the sup norm."""
    proj = np.where(_held(z, gh), 0.0, gh)
    return max(float(np.max(np.abs(proj))), abs(g))


def _al_minimise(prob, z, lam, mu, tol=1e-11, maxit=80):
    """Minimise L(z) = I_p + (max(0, lam - mu g)^2 - lam^2)/(2 mu) over z in [-ZMAX, ZMAX]^n by
    saddle-free Newton steps (absolute eigenvalues of the Hessian in the block metric), with
    a backtracking line search; entries held at a bound are left out of the step."""
    def L_of(zz):
        g, Dg = prob.g(zz)
        if not math.isfinite(g):
            return math.inf, g, Dg
        nu = max(0.0, lam - mu * g)
        return prob.rate(zz) + (nu * nu - lam * lam) / (2 * mu), g, Dg

    L, g, Dg = L_of(z)
    n = len(z)
    for _ in range(maxit):
        nu = max(0.0, lam - mu * g)
        gh = 0.5 * (z - prob.lp) - nu * Dg  # the block (L2) gradient in B
        held = _held(z, gh)
        ghf = np.where(held, 0.0, gh)
        ghmax = float(np.max(np.abs(ghf)))
        if ghmax <= tol:
            return z, True
        free = ~held
        E = prob.E(z)
        K = prob.dDg(z, Dg)
        A = 0.5 * np.eye(n) - nu * K
        if nu > 0:
            A += mu * np.outer(Dg, E * Dg)
        S = _sym_scaled(A[np.ix_(free, free)], E[free])
        lamS, Q = np.linalg.eigh(S)
        floor = 1e-10 * max(1.0, float(np.max(np.abs(lamS))))
        lamS = np.maximum(np.abs(lamS), floor)
        rE = np.sqrt(E[free])
        d = np.zeros(n)
        d[free] = -(Q @ ((Q.T @ (rE * gh[free])) / lamS)) / rE
        big = float(np.max(np.abs(d)))
        if big > 8.0:
            d *= 8.0 / big
        slope = float(np.sum(E * gh * d))
        # below the rounding level of L the line search cannot see a decrease: judge the step
        # by the projected block gradient instead
        flat = abs(slope) <= 1e3 * np.finfo(float).eps * (abs(L) + 1e-300)
        a = 1.0
        while True:
            zn = np.clip(z + a * d, -ZMAX, ZMAX)
            Ln, gn, Dgn = L_of(zn)
            if flat:
                if math.isfinite(Ln):
                    nun = max(0.0, lam - mu * gn)
                    ghn = 0.5 * (zn - prob.lp) - nun * Dgn
                    if float(np.max(np.abs(np.where(_held(zn, ghn), 0.0, ghn)))) < ghmax:
                        break
            elif Ln <= L + 1e-4 * a * slope:
                break
            a *= 0.5
            if a < 1e-10:
                return z, False
        z, L, g, Dg = zn, Ln, gn, Dgn
    return z, False


def _kkt_polish(prob, z, lam, maxit=20, tol=1e-13):
    """Newton on 1/2 (z - logit p) = lam Dg(z), g(z) = 0 (held entries fixed).

    Returns (z, lam, residual, ok) with ok = residual <= 1e-10."""
    n = len(z)
    g, Dg = prob.g(z)
    res = _residual(z, 0.5 * (z - prob.lp) - lam * Dg, g)
    for _ in range(maxit):
        if res <= tol:
            break
        gh = 0.5 * (z - prob.lp) - lam * Dg
        free = ~_held(z, gh)
        f = int(free.sum())
        K = prob.dDg(z, Dg)
        scale = max(float(np.sum(prob.c * Dg * Dg)), 1e-300)
        J = np.zeros((f + 1, f + 1))
        J[:f, :f] = (0.5 * np.eye(n) - lam * K)[np.ix_(free, free)]
        J[:f, f] = -Dg[free]
        J[f, :f] = (prob.E(z) * Dg)[free] / scale
        F = np.concatenate((gh[free], [g / scale]))
        try:
            step = np.linalg.solve(J, -F)
        except np.linalg.LinAlgError:
            break
        if not np.all(np.isfinite(step)):
            break
        zn = z.copy()
        zn[free] = np.clip(z[free] + step[:f], -ZMAX, ZMAX)
        lamn = lam + step[f]
        gn, Dgn = prob.g(zn)
        resn = _residual(zn, 0.5 * (zn - prob.lp) - lamn * Dgn, gn)
        if not (resn < res) or lamn < 0:
            break
        z, lam, g, Dg, res = zn, lamn, gn, Dgn, resn
    return z, lam, res, res <= 1e-10


def _second_order(prob, z, lam):
    """Smallest eigenvalue of the Lagrangian's Hessian on the tangent space of the constraint
    (free entries, block metric); > 0 means a strict local minimum."""
    _, Dg = prob.g(z)
    free = ~_held(z, 0.5 * (z - prob.lp) - lam * Dg)
    n = int(free.sum())
    if n <= 1:
        return math.inf
    E = prob.E(z)[free]
    K = prob.dDg(z, central=True)[np.ix_(free, free)]
    S = _sym_scaled(0.5 * np.eye(n) - lam * K, E)
    v = np.sqrt(E) * Dg[free]
    nv = float(np.linalg.norm(v))
    if nv == 0:
        return float(np.min(np.linalg.eigvalsh(S)))
    Q, _ = np.linalg.qr(np.column_stack([v / nv, np.eye(n)]))
    C = Q[:, 1:n]  # an orthonormal basis of the complement of v
    return float(np.min(np.linalg.eigvalsh(C.T @ S @ C)))


# --------------------------------------------------------------------------- results
@dataclass(frozen=True)
class UpperTailRun:
    """One constrained solve of the upper-tail problem from one start, widths fixed.

    Attributes
    ----------
    start : str
        What the start was, e.g. ``"hub(s=0.001, b=0.9)"``.
    B0 : ndarray (m, m)
        The start's block values.
    W : StepGraphon
        The point reached (block values B, the start's widths).
    rate : float
        I_p(W).
    constraint : float
        g(W) = log(t(H, W)/T)/e(H) (0 up to rounding at a converged run; >= 0 is feasible).
    multiplier : float
        The Lagrange multiplier lambda of the constraint g >= 0.
    kkt_residual : float
        max of |1/2 h_p'(B) - lambda Dg(B)| (block values) and |g| at W.
    min_curvature : float
        The smallest eigenvalue of the Lagrangian's Hessian on the constraint's tangent space
        (block metric); inf for one block.
    converged : bool
        kkt_residual <= 1e-10.
    local_min : bool
        Converged and min_curvature > 0: a strict local minimum over step graphons with these
        widths.
    is_constant : bool
        The block values agree to 1e-7 (the start dissolved into the constant).
    """

    start: str
    B0: np.ndarray
    W: StepGraphon
    rate: float
    constraint: float
    multiplier: float
    kkt_residual: float
    min_curvature: float
    converged: bool
    local_min: bool
    is_constant: bool


@dataclass(frozen=True)
class UpperTailResult:
    r"""The outcome of :func:`upper_tail`.

    Attributes
    ----------
    H : str
    p, delta : float
    target : float
        T = (1 + delta) p^{e(H)}.
    r : float
        The constant level (1 + delta)^{1/e(H)} p.
    constant_rate : float
        h_p(r)/2, the rate of the constant graphon.
    rate : float
        The best rate found: constant_rate when ``symmetric``, else the best run's.
    W : StepGraphon
        The best graphon found (the one-block constant r when ``symmetric``).
    symmetric : bool
        No run beat the constant by more than ``rtol`` (relative).
    gain : float
        (constant_rate - rate) / constant_rate (0 when symmetric).
    best : UpperTailRun or None
        The run that gave W (None when symmetric).
    runs : tuple of UpperTailRun
        Every run, in the order of the starts (refinement runs last).
    minima : tuple of UpperTailRun
        The distinct converged local minima among the runs, by rate (lowest first); two runs
        are the same when their rates agree to 1e-9 relative and their graphons are within
        1e-6 of each other in the sup norm after sorting blocks by degree (see
        :func:`graphonflow.multistart.graphon_distance`).
    lz : LZBoundary or None
        The Lubetzky--Zhao boundary when H is regular.
    """

    H: str
    p: float
    delta: float
    target: float
    r: float
    constant_rate: float
    rate: float
    W: StepGraphon
    symmetric: bool
    gain: float
    best: UpperTailRun | None
    runs: tuple
    minima: tuple
    lz: LZBoundary | None = field(default=None)

    def __repr__(self):
        what = "symmetric (constant optimal)" if self.symmetric else f"broken, gain {self.gain:.3g}"
        return (f"UpperTailResult(H={self.H}, p={self.p:g}, delta={self.delta:g}, rate={self.rate:.10g}, "
                f"constant_rate={self.constant_rate:.10g}, {what}, runs={len(self.runs)})")


# --------------------------------------------------------------------------- the driver
DEFAULT_WIDTHS = tuple(float(s) for s in np.geomspace(1e-7, 0.5, 15))
FAMILIES = ("hub", "clique")


def _solve(prob, B0, r, kappa=10.0, max_outer=40):
    z = prob.z_of(np.clip(B0, 1e-12, 1 - 1e-12))
    lam = r * (_logit(r) - prob.lp) / 2.0  # the multiplier of the constant solution
    mu = mu0 = kappa * r / (2.0 * (1.0 - r))  # penalty curvature = kappa x that of I_p at r
    g_prev = math.inf
    ok = False
    for _ in range(max_outer):
        z, _ok = _al_minimise(prob, z, lam, mu)
        g, _ = prob.g(z)
        new = max(0.0, lam - mu * g)
        if abs(g) <= 1e-4:
            # close: Newton on the KKT system, kept only if it converges near the AL minimiser
            # (the same basin: no logit moves by more than 1/2)
            zk, lk, res, ok = _kkt_polish(prob, z, new)
            if ok and float(np.max(np.abs(zk - z))) <= 0.5:
                z, lam = zk, lk
                break
            ok = False
        if abs(g) > 0.25 * abs(g_prev):
            mu *= 10.0
            if mu > 1e8 * mu0:  # the penalty cannot reach feasibility from here: give up
                break
        g_prev, lam = g, new
    if not ok:
        z, lam, res, ok = _kkt_polish(prob, z, lam)
    g, _ = prob.g(z)
    curv = _second_order(prob, z, lam) if ok else math.nan
    B = prob.B_of(z)
    return B, prob.rate(z), g, lam, res, ok, curv


def _run(P, p, logT, r, label, B0, w):
    prob = _Problem(P, p, logT, w)
    B0 = np.array(B0, dtype=np.float64)
    B, rate, g, lam, res, ok, curv = _solve(prob, B0, r)
    W = StepGraphon(B, w)
    const = bool(np.ptp(B) <= 1e-7)
    return UpperTailRun(label, B0, W, rate, g, lam, res, curv, ok, bool(ok and curv > 0), const)


def upper_tail(H, p, delta, *, widths=None, families=FAMILIES, levels=None, starts=(), refine=True,
               rtol=1e-9) -> UpperTailResult:
    r"""Solve the upper-tail problem inf { I_p(W) : t(H, W) >= (1+delta) p^{e(H)} } over step graphons.

    Runs the constrained solver of the module text from the constant graphon and from two-block
    starts (widths (s, 1 - s), s from ``widths``):

    * ``"hub"``: a set of width s joined to everything at level b,
      ``[[b, b], [b, r]]``, for b = the high and the low level;
    * ``"clique"``: a set of width s with inner level b, ``[[b, r], [r, r]]``, for the high level;

    plus any ``starts`` you give.  The high level is 1 - (1 - r)/10, the low one p (``levels``
    overrides them).  Small high hubs win just past the Lubetzky--Zhao lower boundary, small
    low hubs just before the upper one.  With ``refine`` the width of the best two-block run is
    then optimised (bounded Brent search in log s between its neighbours in ``widths``).

    Parameters
    ----------
    H : pattern
        Any pattern with at least one edge; for a d-regular H the result carries the
        Lubetzky--Zhao boundary (``result.lz``).
    p : float in (0, 1)
    delta : float > 0
        With (1 + delta) p^{e(H)} < 1.
    widths : sequence of float in (0, 1), optional
        The hub and clique widths s (default: 15 values from 1e-7 to 0.5, geometric; just past
        the lower boundary the best hubs are narrow: s ~ 2e-6 for K4 at p = 0.05 and
        r = 1.01 u_-).
    families : sequence of {"hub", "clique"}
    levels : (low, high), optional
    starts : sequence of StepGraphon, (m, m) array or (B, w) pairs
        More starts, of any number of blocks (an array has widths 1/m).
    refine : bool
    rtol : float
        The constant counts as beaten only when a run's rate is below
        constant_rate * (1 - rtol) (default 1e-9; runs reach KKT residuals near 1e-13).

    Returns
    -------
    UpperTailResult

    Examples
    --------
    Triangles at p = 0.05 (Lubetzky--Zhao: symmetric for delta <= 2.530): at delta = 2 the
    constant wins, at delta = 3 a hub of width 1e-4 does.

    >>> res = upper_tail("K3", 0.05, 2.0, widths=[1e-4, 1e-2], refine=False)
    >>> res.symmetric, abs(res.rate - float(rate_hp(3 ** (1 / 3) * 0.05, 0.05)) / 2) < 1e-15
    (True, True)
    >>> res = upper_tail("K3", 0.05, 3.0, widths=[1e-4, 1e-2], refine=False)
    >>> res.symmetric, res.best.start, round(res.gain, 4)
    (False, 'hub(s=0.0001, b=0.9079)', 0.0027)
    """
    P = as_pattern(H)
    if P.n_edges == 0:
        raise ValueError(f"upper_tail: H = {P} has no edges; t(H, W) = 1 for every W")
    p = _check_p(p)
    try:
        delta = float(delta)
    except (TypeError, ValueError):
        raise ValueError(f"delta must be a number > 0, got {delta!r}") from None
    if not (math.isfinite(delta) and delta > 0):
        raise ValueError(f"delta must be finite and > 0, got {delta}")
    e = P.n_edges
    logT = math.log1p(delta) + e * math.log(p)
    if not logT < 0:
        raise ValueError(
            f"upper_tail: the target (1 + delta) p^{e} = {math.exp(logT):.6g} is >= 1, which no graphon "
            f"other than W = 1 reaches; need delta < p^-{e} - 1 = {p ** -e - 1:.6g}"
        )
    r = math.exp(logT / e)
    const_rate = 0.5 * float(rate_hp(r, p))
    if widths is None:
        widths = DEFAULT_WIDTHS
    widths = [float(s) for s in np.atleast_1d(np.asarray(widths, dtype=np.float64))]
    for s in widths:
        if not (0.0 < s < 1.0):
            raise ValueError(f"widths must lie in (0, 1), got {s}")
    widths = sorted(set(widths))
    fams = (families,) if isinstance(families, str) else tuple(families)
    for f in fams:
        if f not in FAMILIES:
            raise ValueError(f"families must be among {FAMILIES}, got {f!r}")
    if levels is None:
        lo, hi = p, 1.0 - (1.0 - r) / 10.0
    else:
        try:
            lo, hi = (float(x) for x in levels)
        except (TypeError, ValueError):
            raise ValueError(f"levels must be a pair (low, high), got {levels!r}") from None
        if not (0.0 < lo < 1.0 and 0.0 < hi < 1.0):
            raise ValueError(f"levels must lie in (0, 1), got {levels!r}")
    lz = lz_boundary(P, p) if _regular_degree(P) is not None else None

    plan = []  # (label, B0, w, family, b, s)
    for fam in fams:
        for b in ((hi, lo) if fam == "hub" else (hi,)):
            for s in widths:
                B0 = [[b, b], [b, r]] if fam == "hub" else [[b, r], [r, r]]
                plan.append((f"{fam}(s={s:.4g}, b={b:.4g})", B0, np.array([s, 1.0 - s]), fam, b, s))
    for k, st in enumerate(starts):
        if isinstance(st, StepGraphon):
            B0, w = np.array(st.values), np.array(st.widths)
        elif isinstance(st, (tuple, list)) and len(st) == 2 and np.ndim(st[0]) == 2:
            S = StepGraphon(*st)
            B0, w = np.array(S.values), np.array(S.widths)
        elif isinstance(st, np.ndarray) and st.ndim == 2:
            S = StepGraphon(st)  # a matrix: widths 1/n
            B0, w = np.array(S.values), np.array(S.widths)
        else:
            raise ValueError(f"starts[{k}] must be a StepGraphon, a matrix or a pair (B, w), got {type(st).__name__}")
        if np.any(B0 <= 0) or np.any(B0 >= 1):
            raise ValueError(f"starts[{k}]: block values must lie strictly inside (0, 1)")
        plan.append((f"start {k}", B0, w, None, None, None))

    runs = []
    for label, B0, w, fam, b, s in plan:
        runs.append(_run(P, p, logT, r, label, B0, w))

    def ok(run):
        return run.converged and run.constraint >= -1e-12

    def best_of(rs):
        good = [x for x in rs if ok(x) and not x.is_constant]
        return min(good, key=lambda x: x.rate) if good else None

    best = best_of(runs)
    if refine and best is not None and best.rate < const_rate * (1 - rtol):
        i = runs.index(best)
        _, B0, w, fam, b, s = plan[i]
        if fam is not None:
            j = widths.index(s)
            a_lo = math.log(widths[j - 1]) if j > 0 else math.log(s) - 3.0
            a_hi = math.log(widths[j + 1]) if j + 1 < len(widths) else min(math.log(s) + 1.0, math.log(0.999))
            warm = np.array(best.W.values)
            cache = {}

            def obj(a):
                sa = math.exp(a)
                run = _run(P, p, logT, r, f"{fam}(s={sa:.4g}, b={b:.4g}) refined", warm, np.array([sa, 1 - sa]))
                cache[a] = run
                return run.rate if ok(run) and not run.is_constant else const_rate

            minimize_scalar(obj, bounds=(a_lo, a_hi), method="bounded", options={"xatol": 1e-3})
            extra = min(cache.values(), key=lambda x: x.rate if ok(x) and not x.is_constant else math.inf)
            runs.append(extra)
            best = best_of(runs)

    if best is not None and best.rate < const_rate * (1 - rtol):
        symmetric = False
        rate, W, gain = best.rate, best.W, (const_rate - best.rate) / const_rate
    else:
        symmetric, best = True, None
        rate, W, gain = const_rate, StepGraphon([[r]]), 0.0
    from .multistart import distinct

    minima = distinct([x for x in runs if x.local_min], key=lambda x: x.rate, graphon=lambda x: x.W)
    return UpperTailResult(str(P), p, delta, math.exp(logT), r, const_rate, rate, W, symmetric, gain, best,
                           tuple(runs), tuple(minima), lz)

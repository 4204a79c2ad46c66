r"""The McKean--Vlasov limit of the noisy flow: :func:`mckean_vlasov` and its particle cross-check.

For step initial data on m blocks, each block pair (a, b) carries the law p_ab(t, .) of an edge
weight, a diffusion on [lo, hi] reflected at both ends whose drift depends on the *mean* graphon
Gamma(t)_ab = E X_ab(t), not on X itself:

.. math::

    dX_{ab} = -DF(\Gamma(t))_{ab}\,dt + s\,dB_{ab} + \text{reflection at lo and hi},

that is, the Fokker--Planck equations

.. math::

    \partial_t p_{ab} = -\partial_x\bigl(b_{ab}(t)\,p_{ab}\bigr) + \tfrac{s^2}{2}\,\partial_{xx} p_{ab},
    \qquad b_{ab}(t) = -DF(\Gamma(t))_{ab},

with zero flux through the walls, one for each of the m(m+1)/2 pairs a <= b.

Discretisation
--------------
* **Space.** K equal cells of width h on [lo, hi] with centres x_i; the unknowns are the cell
  masses q_i (summing to 1).  The flux through the face between cells i and i+1 is
  Scharfetter--Gummel's,

  .. math:: J_{i+1/2} = \frac{D}{h^2}\bigl(\mathcal B(-\mathrm{Pe})\,q_i - \mathcal B(\mathrm{Pe})\,q_{i+1}\bigr),
            \quad D = s^2/2,\ \mathrm{Pe} = b h / D,\ \mathcal B(z) = z/(e^z - 1),

  exact for a drift that is constant in x -- as here -- and the upwind flux when s = 0; the wall
  fluxes are 0.  The scheme is conservative (the matrix has zero column sums), keeps q >= 0
  (it is an M-matrix), and its stationary state is the exact e^{b x / D} sampled at the centres.
  Away from the walls the block mean moves exactly at the drift: d/dt sum x_i q_i = b.
* **Time.** Each step is implicit (backward Euler) in the Fokker--Planck operator, one
  tridiagonal solve per pair, with the drift frozen at an explicit midpoint: b^* is evaluated at
  the mean of a half step.  Gamma therefore follows dGamma/dt = -DF(Gamma) by the explicit
  midpoint rule (order 2) as long as no mass sits in the wall cells.
* **Start.** The point mass at W0_ab is split between the two cell centres around it so that its
  mean is W0_ab exactly (all of it in the wall cell when W0_ab is within h/2 of a wall).

The drift DF(Gamma) is the package's n^2-scaled gradient on the m-block step graphon Gamma with
its widths, from the same density engine as :func:`~graphonflow.flow`.  Entry-wise terms
(entropy) are evaluated at the block mean Gamma, not at the particle: outside the theorem, and
warned about.

References
----------
Z. Harchaoui, S. Oh, S. Pal, R. Somani, R. Tripathi, Stochastic optimization on matrices and a
graphon McKean--Vlasov limit, arXiv:2210.00422.
D. L. Scharfetter, H. K. Gummel, Large-signal analysis of a silicon Read diode oscillator, IEEE
Trans. Electron Devices 16 (1969).
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass

import numpy as np
from numba import njit, prange

from .._validation import as_rng
from ..flow.problem import make_problem, read_initial
from ..flow.result import Status
from ..step import StepGraphon
from .sgd import EntrywiseNoiseWarning, _positive

__all__ = ["mckean_vlasov", "mckean_vlasov_particles", "McKeanVlasovResult", "ParticleResult",
           "fokker_planck_step", "fokker_planck_step_reference"]


# ------------------------------------------------------------------ the Fokker--Planck step
def _bernoulli(z):
    """B(z) = z / (e^z - 1), B(0) = 1, stable for all real z (arrays)."""
    z = np.asarray(z, dtype=np.float64)
    out = np.ones_like(z)
    nz = z != 0.0
    with np.errstate(over="ignore"):
        out[nz] = z[nz] / np.expm1(z[nz])
    return out


def _rates(b, D, h):
    """(r, l): the rate at which mass leaves a cell to the right, and its right neighbour to the
    left, per pair -- J_{i+1/2} = r q_i - l q_{i+1}."""
    b = np.asarray(b, dtype=np.float64)
    if D == 0.0:
        return np.maximum(b, 0.0) / h, np.maximum(-b, 0.0) / h
    pe = b * h / D
    c = D / (h * h)
    return c * _bernoulli(-pe), c * _bernoulli(pe)


@njit(parallel=True, cache=True)
def _fp_solve(q, r, l, dt, out):  # pragma: no cover - compiled
    """Backward Euler for every pair: (I + dt A) q_new = q with A tridiagonal (Thomas)."""
    P, K = q.shape
    for p in prange(P):
        rp = dt * r[p]
        lp = dt * l[p]
        cp = np.empty(K)
        dp = np.empty(K)
        # row i: -rp q_{i-1} + (1 + rp [i<K-1] + lp [i>0]) q_i - lp q_{i+1} = q_i^old
        diag = 1.0 + (rp if K > 1 else 0.0)
        sup = -lp
        cp[0] = sup / diag
        dp[0] = q[p, 0] / diag
        for i in range(1, K):
            diag = 1.0 + lp + (rp if i < K - 1 else 0.0)
            den = diag - (-rp) * cp[i - 1]
            cp[i] = (-lp / den) if i < K - 1 else 0.0
            dp[i] = (q[p, i] - (-rp) * dp[i - 1]) / den
        out[p, K - 1] = dp[K - 1]
        for i in range(K - 2, -1, -1):
            out[p, i] = dp[i] - cp[i] * out[p, i + 1]
    return out


def fokker_planck_step(q, b, dt, *, D, h, out=None):
    """One backward-Euler Scharfetter--Gummel step for a batch of laws.

    Parameters
    ----------
    q : ndarray (P, K)
        Cell masses of P laws on K equal cells of width h (each row sums to 1).
    b : ndarray (P,)
        The drift of each law (constant in x).
    dt, D, h : float
        Time step, diffusion coefficient s^2/2 and cell width.

    Returns
    -------
    ndarray (P, K): the masses after the step (row sums conserved to rounding, entries >= 0).

    >>> q = np.zeros((1, 5)); q[0, 2] = 1.0
    >>> new = fokker_planck_step(q, np.array([0.0]), 0.1, D=0.01, h=0.2)
    >>> round(float(new.sum()), 15), bool((new >= 0).all()), round(float(new[0, 2]), 6)
    (1.0, True, 0.953463)
    """
    q = np.ascontiguousarray(q, dtype=np.float64)
    if q.ndim != 2:
        raise ValueError(f"q must be a (P, K) array, got shape {q.shape}")
    b = np.ascontiguousarray(b, dtype=np.float64).reshape(-1)
    if b.shape[0] != q.shape[0]:
        raise ValueError(f"b must have one drift per law ({q.shape[0]}), got {b.shape[0]}")
    if not (D >= 0 and h > 0 and dt > 0):
        raise ValueError("need D >= 0, h > 0 and dt > 0")
    r, l = _rates(b, float(D), float(h))
    if out is None:
        out = np.empty_like(q)
    return _fp_solve(q, r, l, float(dt), out)


def fokker_planck_step_reference(q, b, dt, *, D, h):
    """NumPy/SciPy twin of :func:`fokker_planck_step` (a banded solve per law)."""
    from scipy.linalg import solve_banded

    q = np.asarray(q, dtype=np.float64)
    P, K = q.shape
    r, l = _rates(np.asarray(b, dtype=np.float64).reshape(-1), float(D), float(h))
    out = np.empty_like(q)
    for p in range(P):
        ab = np.zeros((3, K))
        idx = np.arange(K)
        ab[1] = 1.0 + dt * (r[p] * (idx < K - 1) + l[p] * (idx > 0))
        ab[0, 1:] = -dt * l[p]   # super-diagonal: coefficient of q_{i+1} in row i
        ab[2, :-1] = -dt * r[p]  # sub-diagonal: coefficient of q_{i-1} in row i
        out[p] = solve_banded((1, 1), ab, q[p])
    return out


# ------------------------------------------------------------------ results
@dataclass(frozen=True)
class McKeanVlasovResult:
    """The McKean--Vlasov limit at the saved times.

    Attributes
    ----------
    times : ndarray (k,)
        Saved times (0 first, t1 last).
    means : ndarray (k, m, m)
        The mean graphon Gamma(t) at each saved time (block values).
    laws : ndarray (k, P, K)
        Cell masses of each block pair's law (pairs a <= b in the order of ``pairs``; each row
        sums to 1); the density on cell i is ``laws[..., i] / h``.
    pairs : ndarray (P, 2)
        The block pairs (a, b), a <= b.
    edges, centres : ndarray (K + 1,), (K,)
        The grid on [lo, hi].
    energies : ndarray (k,)
        F(Gamma(t)).
    widths : ndarray (m,)
        Block widths.
    noise, dt : float
        The noise level s and the time step.
    status : Status
    message : str
    """

    times: np.ndarray
    means: np.ndarray
    laws: np.ndarray
    pairs: np.ndarray
    edges: np.ndarray
    centres: np.ndarray
    energies: np.ndarray
    widths: np.ndarray
    noise: float
    dt: float
    status: Status
    message: str
    n_steps: int = 0
    wall_time: float = 0.0

    @property
    def m(self) -> int:
        return self.means.shape[1]

    @property
    def success(self) -> bool:
        return Status(self.status).success

    def law(self, a: int, b: int, k: int = -1) -> np.ndarray:
        """The density of block pair (a, b) on the grid cells at saved time index k."""
        a, b = (a, b) if a <= b else (b, a)
        idx = _pair_index(self.m, a, b)
        return self.laws[k, idx] / (self.edges[1] - self.edges[0])

    def quantiles(self, qs=(0.05, 0.25, 0.5, 0.75, 0.95)) -> np.ndarray:
        """Quantiles of every pair's law at every saved time: shape (k, P, len(qs)), by linear
        interpolation of the cell-wise linear distribution function."""
        cdf = np.concatenate([np.zeros(self.laws.shape[:2] + (1,)), np.cumsum(self.laws, axis=-1)], axis=-1)
        out = np.empty(self.laws.shape[:2] + (len(qs),))
        for k in range(cdf.shape[0]):
            for p in range(cdf.shape[1]):
                c = np.maximum.accumulate(cdf[k, p])
                out[k, p] = np.interp(qs, c / c[-1], self.edges)
        return out

    def graphon(self, k: int = -1) -> StepGraphon:
        return StepGraphon(self.means[k], self.widths)

    def __repr__(self):
        return (f"McKeanVlasovResult(status={str(self.status)!r}, m={self.m}, cells={self.centres.size}, "
                f"noise={self.noise:g}, times={self.times.size}, energy={float(self.energies[-1]):.6g})")


@dataclass(frozen=True)
class ParticleResult:
    """The particle approximation of the limit: M reflected particles per block pair.

    ``particles[k]`` is (P, M) at saved time k; ``means`` (k, m, m) are the particle means."""

    times: np.ndarray
    means: np.ndarray
    particles: tuple
    pairs: np.ndarray
    energies: np.ndarray
    widths: np.ndarray
    noise: float
    dt: float
    status: Status
    message: str


def _pair_index(m, a, b):
    # position of (a, b), a <= b, in the row-major upper triangle
    return a * m - a * (a - 1) // 2 + (b - a)


def _setup(F, W0, noise, dtype=np.float64):
    B, w, uniform, _ = read_initial(W0, np.float64)
    return B, w, uniform


def _drift(prob, G):
    """b = -DF(Gamma), symmetric (m, m), float64."""
    ev = prob.evaluate(G)
    return -prob.full_grad(G, ev)


def _save_times(t1, save_at, dt):
    ts = [0.0] + sorted(float(t) for t in (save_at or []) if 0.0 < float(t) < t1) + [t1]
    out = []
    for t in ts:
        if not out or t - out[-1] > 1e-12 * max(t1, 1.0):
            out.append(t)
    return out


def mckean_vlasov(F, W0, *, t1, noise, dt=None, cells=400, save_at=None, box=(0.0, 1.0),
                  progress=None) -> McKeanVlasovResult:
    r"""Solve the McKean--Vlasov limit of the noisy flow from step initial data (see the module
    docstring for the equations and the scheme).

    Parameters
    ----------
    F : Functional
    W0 : StepGraphon, (m, m) array or networkx graph
        Step initial data on m blocks (a continuous graphon: pass ``W.block_average(m)``).
    t1 : float
        Final time.
    noise : float >= 0
        The noise level s of :func:`~graphonflow.noisy_flow` (diffusion coefficient s^2/2).
    dt : float, optional
        Time step (default: the smaller of 0.01 and t1/100).
    cells : int
        Number K of grid cells on [lo, hi] (default 400).
    save_at : sequence of float, optional
        Times to save besides 0 and t1 (landed on exactly).
    box : (lo, hi)
    progress : callable ``progress(t, dt)``, optional

    Returns
    -------
    McKeanVlasovResult

    Examples
    --------
    Constant drift -beta: the stationary law is the truncated exponential exp(-2 beta x / s^2).

    >>> import numpy as np
    >>> from graphonflow import EdgeDensity, mckean_vlasov
    >>> r = mckean_vlasov(0.5 * EdgeDensity(), np.full((1, 1), 0.5), t1=20.0, noise=1.0, dt=0.05)
    >>> lam = 1.0  # 2 beta / s^2
    >>> exact = 1 / lam - 1 / np.expm1(lam)
    >>> bool(abs(r.means[-1, 0, 0] - exact) < 1e-5)
    True
    """
    t_start = time.perf_counter()
    t1 = _positive(t1, "t1")
    noise = _positive(noise, "noise", allow_zero=True)
    dt = min(0.01, t1 / 100) if dt is None else _positive(dt, "dt")
    if isinstance(cells, bool) or not isinstance(cells, (int, np.integer)) or cells < 2:
        raise ValueError(f"cells must be an integer >= 2, got {cells!r}")
    lo, hi = (float(v) for v in box)
    if not lo < hi:
        raise ValueError(f"box must have lo < hi, got {box!r}")
    B0, w, uniform, _ = read_initial(W0, np.float64)
    prob = make_problem(F, B0, w, uniform, (lo, hi), np.float64)
    if prob.alpha != 0.0:
        warnings.warn(
            "F has entry-wise (entropy / rate-function) terms, which the McKean-Vlasov limit theorem does not "
            "cover: the limit evaluates them at the block mean Gamma", EntrywiseNoiseWarning, stacklevel=2)
    m = B0.shape[0]
    K = int(cells)
    h = (hi - lo) / K
    edges = lo + h * np.arange(K + 1)
    centres = lo + h * (np.arange(K) + 0.5)
    iu, ju = np.triu_indices(m)
    P = iu.size
    D = 0.5 * noise * noise

    # the point masses, split so that each mean is W0_ab exactly
    x0 = B0[iu, ju]
    q = np.zeros((P, K))
    pos = (x0 - centres[0]) / h
    i = np.clip(np.floor(pos).astype(np.int64), 0, K - 2)
    frac = np.clip(pos - i, 0.0, 1.0)
    q[np.arange(P), i] += 1.0 - frac
    q[np.arange(P), i + 1] += frac

    def means_of(qq):
        G = np.zeros((m, m))
        G[iu, ju] = qq @ centres
        G[ju, iu] = G[iu, ju]
        return G

    times_out, means_out, laws_out, energies = [], [], [], []

    def save(t, qq):
        G = means_of(qq)
        times_out.append(t)
        means_out.append(G)
        laws_out.append(qq.copy())
        energies.append(prob.value(G))

    save(0.0, q)
    targets = _save_times(t1, save_at, dt)[1:]
    t, k = 0.0, 0
    half = np.empty_like(q)
    new = np.empty_like(q)
    status, info = Status.T1, {}
    tiny = 1e-12 * max(t1, 1.0)
    for target in targets:
        while t < target - tiny:
            hstep = min(dt, target - t)
            if target - (t + hstep) <= tiny:
                hstep = target - t
            G = means_of(q)
            b0 = _drift(prob, np.clip(G, prob.lo_eff, prob.hi_eff))[iu, ju]
            fokker_planck_step(q, b0, 0.5 * hstep, D=D, h=h, out=half)
            Gh = means_of(half)
            bh = _drift(prob, np.clip(Gh, prob.lo_eff, prob.hi_eff))[iu, ju]
            if not np.all(np.isfinite(bh)):
                status, info = Status.NONFINITE, dict(what="non-finite drift", t=t, hint="")
                break
            fokker_planck_step(q, bh, hstep, D=D, h=h, out=new)
            q, new = new, q
            t = target if target - (t + hstep) <= tiny else t + hstep
            k += 1
            if progress is not None:
                progress(t, hstep)
        if status is not Status.T1:
            break
        save(t, q)
    if status is Status.T1:
        info = dict(t1=t1, steps=k)
    return McKeanVlasovResult(
        times=np.asarray(times_out), means=np.asarray(means_out), laws=np.asarray(laws_out),
        pairs=np.stack([iu, ju], axis=1), edges=edges, centres=centres,
        energies=np.asarray(energies), widths=np.asarray(w), noise=noise, dt=dt, status=status,
        message=status.message(**info), n_steps=k, wall_time=time.perf_counter() - t_start)


def mckean_vlasov_particles(F, W0, *, t1, noise, rng, particles=1000, dt=None, save_at=None,
                            box=(0.0, 1.0)) -> ParticleResult:
    r"""The limit by particles: M = ``particles`` reflected Euler--Maruyama particles per block pair,

    .. math:: X \leftarrow R\bigl(X - dt\,DF(\bar X)_{ab} + s\sqrt{dt}\,Z\bigr),

    with the drift at the particle means :math:`\bar X` (the empirical Gamma) and R the
    reflection into [lo, hi] (repeated until inside).  An independent cross-check of
    :func:`mckean_vlasov`: its means converge at rate M^{-1/2} (statistically) and dt^{1/2}
    (weakly, from the reflection).  ``rng`` seeds the normals (same seed, same result).

    >>> import numpy as np
    >>> from graphonflow import EdgeDensity, mckean_vlasov_particles
    >>> r = mckean_vlasov_particles(EdgeDensity(), np.full((2, 2), 0.5), t1=0.1, noise=0.0, rng=0, particles=10)
    >>> round(float(r.means[-1, 0, 1]), 12)   # no noise: dX/dt = -1
    0.4
    """
    t1 = _positive(t1, "t1")
    noise = _positive(noise, "noise", allow_zero=True)
    dt = min(0.01, t1 / 100) if dt is None else _positive(dt, "dt")
    if isinstance(particles, bool) or not isinstance(particles, (int, np.integer)) or particles < 1:
        raise ValueError(f"particles must be a positive integer, got {particles!r}")
    gen = as_rng(rng)
    lo, hi = (float(v) for v in box)
    if not lo < hi:
        raise ValueError(f"box must have lo < hi, got {box!r}")
    B0, w, uniform, _ = read_initial(W0, np.float64)
    prob = make_problem(F, B0, w, uniform, (lo, hi), np.float64)
    if prob.alpha != 0.0:
        warnings.warn("F has entry-wise terms, which the McKean-Vlasov limit theorem does not cover",
                      EntrywiseNoiseWarning, stacklevel=2)
    m = B0.shape[0]
    iu, ju = np.triu_indices(m)
    X = np.repeat(B0[iu, ju][:, None], int(particles), axis=1)
    L = hi - lo

    def means_of(XX):
        G = np.zeros((m, m))
        G[iu, ju] = XX.mean(axis=1)
        G[ju, iu] = G[iu, ju]
        return G

    times_out, means_out, parts, energies = [], [], [], []

    def save(t):
        G = means_of(X)
        times_out.append(t)
        means_out.append(G)
        parts.append(X.copy())
        energies.append(prob.value(G))

    save(0.0)
    t = 0.0
    tiny = 1e-12 * max(t1, 1.0)
    for target in _save_times(t1, save_at, dt)[1:]:
        while t < target - tiny:
            hstep = min(dt, target - t)
            if target - (t + hstep) <= tiny:
                hstep = target - t
            b = _drift(prob, np.clip(means_of(X), prob.lo_eff, prob.hi_eff))[iu, ju]
            X += hstep * b[:, None]
            if noise > 0:
                X += (noise * math.sqrt(hstep)) * gen.standard_normal(X.shape)
            # reflection into [lo, hi]: fold with period 2L
            Y = np.mod(X - lo, 2 * L)
            X = lo + np.where(Y > L, 2 * L - Y, Y)
            t = target if target - (t + hstep) <= tiny else t + hstep
        save(t)
    return ParticleResult(times=np.asarray(times_out), means=np.asarray(means_out), particles=tuple(parts),
                          pairs=np.stack([iu, ju], axis=1), energies=np.asarray(energies), widths=np.asarray(w),
                          noise=noise, dt=dt, status=Status.T1, message=Status.T1.message(t1=t1, steps=0))

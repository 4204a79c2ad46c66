"""Projected noisy SGD on a symmetric matrix: :func:`noisy_flow`."""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass

import numpy as np

from .._validation import as_rng
from ..backend import resolve_backend
from ..flow.problem import make_problem, read_initial
from ..flow.result import Status
from ..flow.saveat import SaveAt, Saver
from ..step import StepGraphon
from ._kernels import noisy_euler_step

__all__ = ["noisy_flow", "NoisyFlowResult", "EntrywiseNoiseWarning"]


class EntrywiseNoiseWarning(UserWarning):
    """F has entry-wise (entropy / rate-function) terms, which the McKean--Vlasov theorem does
    not cover: the finite-n flow differentiates them at each noisy entry, the limit at the
    block mean."""


@dataclass(frozen=True)
class NoisyFlowResult:
    """What a :func:`noisy_flow` run produced (the style of :class:`~graphonflow.FlowResult`).

    Attributes
    ----------
    W : ndarray (n, n)
        The state at the final time.
    widths : ndarray (n,)
        Vertex (block) widths, 1/n for a matrix input.
    t : float
        Final graphon time.
    times, states, energies : ndarray (k,), tuple, ndarray (k,)
        Saved times (t = 0 first, the final time last), the saved states (copies, or what
        ``SaveAt(fn=...)`` returned) and F at those states.
    n_steps : int
        Steps taken (steps are shortened only to land on save times and on t1).
    dt, noise : float
        The step and the noise level s per unit graphon time.
    key : int
        The 64-bit Philox key drawn from ``rng``: together with the step index it fixes every
        normal of the run.
    reflect : bool
        Whether entries were reflected at the faces before the clip.
    status : Status
        ``"t1"``, or ``"nonfinite"`` when a gradient or state stopped being finite.
    message : str
        A sentence for humans.
    """

    W: np.ndarray
    widths: np.ndarray
    t: float
    times: np.ndarray
    states: tuple
    energies: np.ndarray
    n_steps: int
    dt: float
    noise: float
    key: int
    reflect: bool
    status: Status
    message: str
    wall_time: float = 0.0

    @property
    def success(self) -> bool:
        return Status(self.status).success

    @property
    def energy(self) -> float:
        return float(self.energies[-1])

    def graphon(self) -> StepGraphon:
        return StepGraphon(self.W.astype(np.float64), self.widths)

    def __repr__(self):
        return (f"NoisyFlowResult(status={str(self.status)!r}, t={self.t:.6g}, n={self.W.shape[0]}, "
                f"noise={self.noise:g}, n_steps={self.n_steps}, energy={self.energy:.6g})")


def _positive(v, name, allow_zero=False):
    if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a real number, got {type(v).__name__}")
    v = float(v)
    if not math.isfinite(v) or v < 0 or (v == 0 and not allow_zero):
        raise ValueError(f"{name} must be {'>= 0' if allow_zero else '> 0'} and finite, got {v!r}")
    return v


def noisy_flow(F, W0, *, t1, dt, noise, rng, saveat=None, save_at=None, save_every=None, save_fn=None,
               box=(0.0, 1.0), reflect=False, grad=None, dtype=None, progress=None, backend=None) -> NoisyFlowResult:
    r"""Projected noisy SGD on a symmetric matrix, in graphon time.

    One step of length :math:`\tau` is

    .. math:: A \leftarrow P\bigl(A - \tau\,DF(A) + s\sqrt{\tau}\,Z\bigr),

    where DF is the n^2-scaled gradient of F (as in :func:`~graphonflow.flow`: the gradient of
    F with respect to the block value, divided by the block's area w_i w_j), Z is standard
    normal on the upper triangle with the diagonal and mirrored, s = ``noise`` is the noise
    level per unit graphon time (each entry receives one Brownian motion per unit time,
    whatever n is), and P is the entry-wise clip to the box -- after one reflection
    x -> 2 hi - x / 2 lo - x when ``reflect=True``.  With ``noise=0`` the run is bit for bit
    ``flow(F, W0, dt=dt, integrator="euler")``.

    The step is one fused Numba pass; the normals are drawn inside it by the counter-based
    Philox4x32-10 generator from (key, step index, entry), with the 64-bit key drawn once from
    ``rng``.  The same seed therefore gives the same path whatever the number of threads.

    Parameters
    ----------
    F : Functional
        The functional (densities, entropy, ...).  Entry-wise terms (entropy, rate functions)
        are allowed but fall outside the McKean--Vlasov theorem: a warning says so.
    W0 : (n, n) array, StepGraphon or networkx graph
        The initial state, read as by :func:`~graphonflow.flow`.
    t1, dt : float
        Final graphon time and step; steps are shortened only to land on save times and t1.
    noise : float >= 0
        The noise level s.
    rng : int, numpy.random.Generator or None
        Seeds the Philox key (and the generator handed to ``grad``).
    saveat, save_at, save_every, save_fn :
        What to save, as in :func:`~graphonflow.flow` (t = 0 and the final time always).
    box : (lo, hi)
        The box; [0, 1] by default.
    reflect : bool
        Reflect at the faces before clipping.
    grad : callable ``grad(A, rng) -> ndarray (n, n)``, optional
        An unbiased stochastic estimate of DF(A) (e.g. from sampled vertex maps), used instead
        of the exact gradient; it receives a numpy Generator derived from ``rng``.
    dtype : float32 or float64, optional
        Working precision (default: W0's if floating, else float64).
    progress : callable ``progress(t, dt, energy)``, optional
        Called after every step (energy is None between saves).
    backend : None, "cpu", "cupy" or an ArrayBackend, optional
        Where the run goes (as in :func:`~graphonflow.flow`; None: from W0's type).  On a GPU
        the step is one CUDA kernel drawing the same Philox normals; ``grad`` must then
        return arrays of W0's library.

    Returns
    -------
    NoisyFlowResult

    Examples
    --------
    >>> import numpy as np
    >>> from graphonflow import EdgeDensity, noisy_flow
    >>> r = noisy_flow(EdgeDensity(), np.full((50, 50), 0.5), t1=1.0, dt=0.01, noise=0.1, rng=0)
    >>> r.status, r.n_steps, bool(0.0 < r.W.mean() < 0.5)
    (<Status.T1: 't1'>, 100, True)

    References
    ----------
    Z. Harchaoui, S. Oh, S. Pal, R. Somani, R. Tripathi, Stochastic optimization on matrices and
    a graphon McKean--Vlasov limit, arXiv:2210.00422.
    """
    t_start = time.perf_counter()
    t1 = _positive(t1, "t1")
    dt = _positive(dt, "dt")
    noise = _positive(noise, "noise", allow_zero=True)
    gen = as_rng(rng)
    key = int(gen.integers(0, 2**63, dtype=np.int64))
    grad_rng = np.random.default_rng(gen.integers(0, 2**63, dtype=np.int64)) if grad is not None else None
    if grad is not None and not callable(grad):
        raise TypeError("grad must be a callable grad(A, rng) -> ndarray (n, n)")
    if progress is not None and not callable(progress):
        raise TypeError("progress must be a callable progress(t, dt, energy)")
    try:
        lo, hi = (float(v) for v in box)
    except (TypeError, ValueError):
        raise ValueError(f"box must be a pair (lo, hi) of numbers, got {box!r}") from None
    if not lo < hi:
        raise ValueError(f"box must have lo < hi, got {box!r}")
    if saveat is None:
        saveat = SaveAt(save_at, every=save_every, fn=save_fn)
    elif not isinstance(saveat, SaveAt):
        raise TypeError("saveat must be a graphonflow.SaveAt")
    if saveat.ts is not None and saveat.ts and saveat.ts[-1] > t1:
        raise ValueError(f"save times must lie in [0, t1]; got {saveat.ts[-1]:g} > t1 = {t1:g}")

    be = resolve_backend(backend, W0)
    B, w, uniform, dtype = read_initial(W0, dtype, be)
    prob = make_problem(F, B, w, uniform, (lo, hi), dtype, backend=be)
    host = isinstance(B, np.ndarray)
    if prob.alpha != 0.0:
        warnings.warn(
            "F has entry-wise (entropy / rate-function) terms, which the McKean-Vlasov limit theorem does not "
            "cover: the finite-n noisy flow evaluates them at each noisy entry (logit of the entry), the limit "
            "at the block mean", EntrywiseNoiseWarning, stacklevel=2)
    m = B.shape[0]
    Bn = np.empty_like(B) if host else be.empty_like(B)
    tiny_t = 1e-12 * max(t1, 1.0)
    saver = Saver(saveat, tiny_t)
    saver.save(0.0, B, prob.value(B), None)
    t, k = 0.0, 0
    status, info = Status.T1, {}
    with prob.backend.thread_policy(m, m, m):
        while t < t1 - tiny_t:
            target = t1
            nxt = saver.next_time()
            if nxt is not None and nxt < target:
                target = nxt
            h = min(dt, target - t)
            if target - (t + h) <= tiny_t:
                h = target - t
                landing = target
            else:
                landing = t + h
            sigma = noise * math.sqrt(h)
            if grad is None:
                ev = prob.evaluate(B)
                kw = prob.kernel_args(ev.gscale)
                G = ev.G
            elif not host:  # an array of W0's library, read from its upper triangle
                G = be.user_grad(grad(B, grad_rng), B)
                kw = dict(gscale=1.0, alpha=0.0, beta=0.0, lo=lo, hi=hi)
            else:
                D = np.asarray(grad(B.view(), grad_rng))
                if D.shape != B.shape:
                    raise ValueError(f"grad(A, rng) must return an array of shape {B.shape}, got {D.shape}")
                G = np.ascontiguousarray(D, dtype=B.dtype)
                kw = dict(gscale=1.0, alpha=0.0, beta=0.0, lo=lo, hi=hi)
            if host:
                _, pg2 = noisy_euler_step(B, G, w, h, sigma, key=key, step=k, reflect=reflect, out=Bn, **kw)
            else:
                _, pg2 = be.noisy_euler_pass(B, G, w, h, sigma, key=key, step=k, reflect=reflect, out=Bn, **kw)
            # a NaN in the gradient makes the pass's squared speed NaN (the clip keeps everything
            # else finite), so this replaces a pass over the state, as in the deterministic driver
            if not math.isfinite(pg2):
                status, info = Status.NONFINITE, dict(what="non-finite gradient or state", t=t, hint="")
                break
            B, Bn = Bn, B
            t, k = landing, k + 1
            will_save = saver.due(t, k) or t >= t1 - tiny_t
            val = prob.value(B) if will_save else None
            if will_save:
                saver.save(t, B, val, None)
            if progress is not None:
                progress(t, h, val)
    if status is Status.T1:
        info = dict(t1=t1, steps=k)
    if saver.times[-1] != t:
        saver.save(t, B, prob.value(B), None)
    return NoisyFlowResult(
        W=B, widths=np.asarray(w) if host else w, t=t, times=np.asarray(saver.times), states=tuple(saver.states),
        energies=np.asarray(saver.energies, dtype=np.float64), n_steps=k, dt=dt, noise=noise, key=key,
        reflect=bool(reflect), status=status, message=status.message(**info),
        wall_time=time.perf_counter() - t_start)

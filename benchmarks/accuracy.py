"""Time to accuracy: gradient evaluations and wall time to reach a sup error at t = 7.

The case is the built-in study's: F = t(C5) + E/8 from B0 = clip(|sin 2 pi (x^2 + y^2)|, 0.02, 0.98)
at the m midpoints x_i = (i + 1/2)/m.  The reference is dp54 at rtol = 1e-12 (64 blocks) or 1e-10
(n = 1000), checked against ark54 at a tenth of that tolerance.  For every method we walk down a
ladder (tolerances for the error-controlled pairs, halved steps for the fixed-step ones) and report
the first rung whose sup error at t = 7 is below each target.  scipy's RK45, DOP853 and LSODA run on
the flattened system dB/dt = -DF(B) (they know no box) where they run at all.

    python benchmarks/accuracy.py            # 64 blocks
    python benchmarks/accuracy.py --n 1000   # also n = 1000 (minutes)
    python benchmarks/flow.py --accuracy 1000  # the same, from the flow benchmark
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import graphonflow as gf
from graphonflow import Entropy, HomDensity

TARGETS = (1e-4, 1e-6, 1e-8)
T = 7.0


def start(m):
    x = (np.arange(m) + 0.5) / m
    return np.clip(np.abs(np.sin(2 * np.pi * (x[:, None] ** 2 + x[None, :] ** 2))), 0.02, 0.98)


def run_gf(F, B0, **kw):
    t0 = time.perf_counter()
    r = gf.flow(F, B0, t1=T, **kw)
    return r.W, r.n_grad_evals, time.perf_counter() - t0, str(r.status)


def run_scipy(F, B0, method, rtol):
    from scipy.integrate import solve_ivp

    m = B0.shape[0]
    count = [0]

    def rhs(t, y):
        count[0] += 1
        B = y.reshape(m, m)
        with np.errstate(all="ignore"):
            try:
                G = F.grad(B)
            except ValueError:  # a stage left (0, 1): entropy's gradient is undefined there
                return np.full(m * m, np.nan)
        return -G.ravel()

    t0 = time.perf_counter()
    try:
        sol = solve_ivp(rhs, (0, T), B0.ravel(), method=method, rtol=rtol, atol=1e-3 * rtol)
    except Exception as e:  # noqa: BLE001
        return None, count[0], time.perf_counter() - t0, f"error: {type(e).__name__}"
    ok = sol.success and np.all(np.isfinite(sol.y[:, -1]))
    return (sol.y[:, -1].reshape(m, m) if ok else None), count[0], time.perf_counter() - t0, (
        "ok" if ok else f"failed: {sol.message[:40]}")


def ladder(name, F, B0, ref, kind, max_evals):
    rows = {tgt: None for tgt in TARGETS}
    tried = []
    if kind in ("tol", "scipy"):
        rungs = [10.0 ** -k for k in range(3, 12)]
    else:
        rungs = [0.5 / 2 ** k for k in range(0, 14)]
    for x in rungs:
        if kind == "tol":
            W, ev, wall, st = run_gf(F, B0, rtol=x, integrator=name)
        elif kind == "dt":
            est = (T / x) * (2 if name == "heun" else 1)
            if est > max_evals:
                break
            W, ev, wall, st = run_gf(F, B0, dt=x, integrator=name)
        else:
            W, ev, wall, st = run_scipy(F, B0, name, x)
        err = float(np.abs(W - ref).max()) if W is not None else float("nan")
        tried.append((x, ev, wall, err, st))
        for tgt in TARGETS:
            if rows[tgt] is None and err <= tgt:
                rows[tgt] = (x, ev, wall, err)
        if all(v is not None for v in rows.values()) or ev > max_evals or W is None:
            break
    return rows, tried


def table(m, methods, max_evals):
    B0 = start(m)
    F = HomDensity("C5") + Entropy() / 8
    rt = 1e-12 if m <= 128 else 1e-10
    ref, ev_ref, wall_ref, _ = run_gf(F, B0, rtol=rt, atol=1e-3 * rt, integrator="dp54")
    chk, _, _, _ = run_gf(F, B0, rtol=rt / 10, atol=1e-4 * rt, integrator="ark54")
    print(f"\n## m = {m}: reference dp54 rtol={rt:g} ({ev_ref} gradients, {wall_ref:.1f} s); "
          f"ark54 at rtol={rt / 10:g} differs by {np.abs(chk - ref).max():.1e}")
    print(f"{'method':8} " + " ".join(f"{'err<=' + format(t, '.0e'):>28}" for t in TARGETS))
    print(f"{'':8} " + " ".join(f"{'(setting, gradients, wall)':>28}" for _ in TARGETS))
    for name, kind in methods:
        rows, tried = ladder(name, F, B0, ref, kind, max_evals)
        cells = []
        for tgt in TARGETS:
            r = rows[tgt]
            if r is None:
                last = tried[-1] if tried else None
                why = f"not reached (last {last[3]:.1e}, {last[4]})" if last else "n/a"
                cells.append(f"{why:>28}")
            else:
                x, ev, wall, err = r
                lab = f"{'rtol' if kind != 'dt' else 'dt'}={x:.0e}"
                cells.append(f"{lab + f', {ev}, {wall:.2f}s':>28}")
        print(f"{name:8} " + " ".join(cells))


LARGE_METHODS = [("ark54", "tol"), ("ark32", "tol"), ("dp54", "tol"), ("heun", "dt"), ("prox", "dt")]


def table_small(n):
    """The table at n blocks for the methods that run there in minutes."""
    table(n, LARGE_METHODS, max_evals=2500)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=None, help="also run at this n (e.g. 1000)")
    args = ap.parse_args(argv)
    from threadpoolctl import threadpool_info

    print("BLAS:", [(i.get("internal_api"), i.get("architecture"), i.get("num_threads")) for i in threadpool_info()])
    gf.flow(HomDensity("C5") + Entropy() / 8, start(16), t1=0.1, rtol=1e-4)  # compile
    methods = [("ark54", "tol"), ("ark43", "tol"), ("ark32", "tol"), ("dp54", "tol"), ("bs32", "tol"),
               ("heun", "dt"), ("prox", "dt"), ("RK45", "scipy"), ("DOP853", "scipy"), ("LSODA", "scipy")]
    table(64, methods, max_evals=20000)
    if args.n:
        table_small(args.n)


if __name__ == "__main__":
    main()

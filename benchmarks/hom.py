"""Benchmark: homomorphism densities and gradients against naive einsum, networkx and graphlimpy.

Run:  python benchmarks/hom.py [--sizes 500 1000 2000] [--quick]

Everything is measured in one run, and each of our timings is reported as a ratio
against a baseline timed in the same run:

* ``numpy.einsum(..., optimize=True)`` on the same pattern (the hand-written einsum a user
  would write); skipped where its intermediates would not fit in memory;
* ``networkx.triangles`` for triangle counts of a 0/1 graph;
* ``graphlimpy`` (PyPI) triangle and C4 densities, if it is installed.

Matrix-product paths also report achieved GFLOP/s against this machine's measured dgemm
peak.  Flop counts are those performed: a symmetric square (syrk, used from n = SYRK_MIN on)
of an n x n matrix is n^3, a general product 2n^3; the K4 path performs
sum_x 2(n - x) n^2 ~ n^4.  Time includes validating the input and every pass over the
result (scaling, mirroring), so the ratio to peak is end to end.

``dgemm@peak`` compares with the best any dgemm-based implementation of the same path could
do: (flops of the path built from general products, 2n^3 each) / (measured peak) / (our
time).  Above 1x, our path is faster than such a path running at 100% of the dgemm peak;
the gain comes from symmetric squares (syrk) doing half a general product's flops.

On machines where OPENBLAS_CORETYPE forces an old kernel, run with
``env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/hom.py``; the BLAS kernel
that ran is printed either way.
"""

from __future__ import annotations

import argparse
import gc
import os
import time

import networkx as nx
import numpy as np
from threadpoolctl import threadpool_info

from graphonflow._linalg import SYRK_MIN
from graphonflow.hom import HomWorkspace


def best_of(f, repeat):
    times = []
    out = None
    for _ in range(repeat):
        gc.collect()
        t = time.perf_counter()
        out = f()
        times.append(time.perf_counter() - t)
    return min(times), out


def dgemm_peak():
    best = 0.0
    for n in (2000, 3000):
        a = np.random.default_rng(0).random((n, n))
        b = a.copy()
        a @ b
        t, _ = best_of(lambda: a @ b, 3)
        best = max(best, 2 * n**3 / t / 1e9)
    return best


TREE = [(0, 1), (1, 2), (2, 3), (1, 4), (4, 5)]  # a 6-vertex tree (spider)

EINSUM_T = {
    "K3": "ij,jk,ki->",
    "C4": "ij,jk,kl,li->",
    "C5": "ij,jk,kl,lm,mi->",
    "K4": "ij,ik,il,jk,jl,kl->",
    "tree": "ab,bc,cd,be,ef->",
}
# gradient baselines: the pinned networks summed over edge orbits, as a user would write them
EINSUM_G = {
    "K3": [("ik,kj->ij", 2, 3.0)],  # 3 A^2 / n
    "C4": [("ik,kl,lj->ij", 3, 4.0)],
    "C5": [("ik,kl,lm,mj->ij", 4, 5.0)],
    "K4": [("ik,jk,kl,il,jl->ij", 5, 6.0)],
}
N_VERTS = {"K3": 3, "C4": 4, "C5": 5, "K4": 4, "tree": 6}


def naive_t(name, A):
    n = A.shape[0]
    ops = [A] * EINSUM_T[name].count(",") + [A]
    return float(np.einsum(EINSUM_T[name], *ops, optimize=True)) / n ** N_VERTS[name]


def naive_grad(name, A):
    n = A.shape[0]
    if name == "tree":
        # tree gradient: sum over its 5 edges of the pinned forests F - e, one einsum each
        from graphonflow.patterns import as_pattern

        F = as_pattern(TREE)
        letters = "abcdef"
        G = np.zeros_like(A)
        ones = np.ones(n)
        for a, b in F.edges:
            rest = [e for e in F.edges if e != (a, b)]
            terms = [letters[u] + letters[v] for u, v in rest]
            ops = [A] * len(rest)
            for x in (a, b):  # a pinned leaf has no other edge: a factor of ones keeps its index
                if not any(x in e for e in rest):
                    terms.append(letters[x])
                    ops.append(ones)
            eq = ",".join(terms) + "->" + letters[a] + letters[b]
            P = np.einsum(eq, *ops, optimize=True) / n ** (F.k - 2)
            G += 0.5 * (P + P.T)
        return G
    eq, nops, c = EINSUM_G[name][0]
    free = 2
    k = len(set(eq.split("->")[0].replace(",", ""))) - free
    return c * np.einsum(eq, *([A] * nops), optimize=True) / n**k


def gemm_flops(name, n, grad):
    """Flops of the same path built from general products only (2n^3 each): what a
    dgemm-based implementation needs, however fast its BLAS."""
    if name == "K3" or (name == "C4" and not grad):
        return 2 * n**3
    if name in ("C4", "C5"):
        return 4 * n**3
    return flops(name, n, grad)  # K4 is built from general products already; trees: None


def flops(name, n, grad):
    """Flops the library performs: a square is a syrk (n^3) from SYRK_MIN on, a gemm (2n^3) below."""
    sq = n**3 if n >= SYRK_MIN else 2 * n**3
    if name == "K3":
        return sq
    if name == "C4":
        return sq + 2 * n**3 if grad else sq
    if name == "C5":
        return 2 * sq if grad else sq + 2 * n**3
    if name == "K4":
        return sum(2 * (n - x) * n * n for x in range(n))
    return None


K4_NAIVE_N = 200  # einsum on K4 builds n^3 intermediates and runs n^4 loops outside BLAS


def fits(name, n, grad):
    """Whether the naive einsum runs at this size; K4 is timed at K4_NAIVE_N and scaled by n^4."""
    return name != "K4" or n <= K4_NAIVE_N


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[500, 1000, 2000])
    ap.add_argument("--quick", action="store_true", help="one repeat, skip K4 above n = 1000")
    args = ap.parse_args()
    info = [i for i in threadpool_info() if i.get("user_api") == "blas"]
    print("BLAS:", ", ".join(f"{i['internal_api']} {i.get('version')} kernel={i.get('architecture')} "
                              f"threads={i.get('num_threads')}" for i in info))
    print("OPENBLAS_CORETYPE =", os.environ.get("OPENBLAS_CORETYPE", "(unset)"),
          " OPENBLAS_L2_SIZE =", os.environ.get("OPENBLAS_L2_SIZE", "(unset)"))
    peak = dgemm_peak()
    print(f"measured dgemm peak: {peak:.1f} GFLOP/s (float64, n = 2000-3000)\n")
    try:
        import graphlimpy
    except ImportError:
        graphlimpy = None
        print("graphlimpy not installed: peer column skipped (pip install graphlimpy)\n")

    # warm-up: Numba kernels load from cache / compile, opt_einsum plans get built
    for m in (60, 900):
        W = np.random.default_rng(1).random((m, m))
        W = (W + W.T) / 2
        for name in ["K3", "C4", "C5", "tree"]:
            ws = HomWorkspace(W)
            ws.density(TREE if name == "tree" else name)
            ws.grad(TREE if name == "tree" else name)
        HomWorkspace(W[:60, :60]).density("K4")
        HomWorkspace(W[:60, :60]).density("K3", "inj")

    rows = []
    hdr = (f"{'n':>5} {'pattern':>7} {'what':>4} {'ours [s]':>10} {'einsum [s]':>11} {'speed-up':>9} {'GFLOP/s':>8} "
           f"{'% peak':>7} {'dgemm@peak':>10} {'max rel err':>12}")
    print(hdr)
    print("-" * len(hdr))
    print("(~: einsum timed at n = 200 and scaled by (n/200)^4)")
    rng = np.random.default_rng(0)
    k4_naive = {}
    for n in args.sizes:
        A = rng.random((n, n))
        A = (A + A.T) / 2
        rep = 1 if args.quick else 3
        for name in ["K3", "C4", "C5", "K4", "tree"]:
            F = TREE if name == "tree" else name
            if name == "K4" and args.quick and n > 1000:
                continue
            r = 1 if name == "K4" else rep
            for what in ("t", "DF"):
                if what == "t":
                    t_ours, v = best_of(lambda: HomWorkspace(A).density(F), r)
                else:
                    t_ours, v = best_of(lambda: HomWorkspace(A).grad(F), r)
                if fits(name, n, what == "DF"):
                    f = naive_t if what == "t" else naive_grad
                    t_base, vb = best_of(lambda: f(name, A), 1 if name == "K4" else r)
                    err = float(np.max(np.abs(np.asarray(v) - vb)) / np.max(np.abs(vb)))
                    base = f"{t_base:11.4f}"
                    ratio = f"{t_base / t_ours:8.1f}x"
                else:
                    # time einsum once at K4_NAIVE_N and extrapolate with its n^4 cost (marked ~)
                    key = ("K4", what)
                    if key not in k4_naive:
                        An = A[:K4_NAIVE_N, :K4_NAIVE_N]
                        f = naive_t if what == "t" else naive_grad
                        k4_naive[key] = best_of(lambda: f(name, An), 1)[0]
                    t_base = k4_naive[key] * (n / K4_NAIVE_N) ** 4
                    base = f"{'~' + format(t_base, '.1f'):>11}"
                    ratio = f"{t_base / t_ours:8.0f}x"
                    err = float("nan")
                fl = flops(name, n, what == "DF")
                gf = f"{fl / t_ours / 1e9:8.1f}" if fl else f"{'-':>8}"
                pk = f"{100 * fl / t_ours / 1e9 / peak:6.0f}%" if fl else f"{'-':>7}"
                gfl = gemm_flops(name, n, what == "DF")
                vs = f"{gfl / peak / 1e9 / t_ours:9.2f}x" if gfl else f"{'-':>10}"
                line = f"{n:5d} {name:>7} {what:>4} {t_ours:10.4f} {base} {ratio} {gf} {pk} {vs} {err:12.1e}"
                print(line, flush=True)
                rows.append(line)

    print("\nTriangle counts of a 0/1 graph G(n, 0.1): t_inj(K3) (ours) vs networkx.triangles and graphlimpy")
    hdr = f"{'n':>5} {'ours [s]':>10} {'networkx [s]':>13} {'speed-up':>9} {'graphlimpy [s]':>15} {'speed-up':>9} {'agree':>6}"
    print(hdr)
    print("-" * len(hdr))
    for n in args.sizes:
        G = nx.gnp_random_graph(n, 0.1, seed=n)
        A = nx.to_numpy_array(G)
        t_ours, ti = best_of(lambda: HomWorkspace(A).density("K3", "inj"), 3)
        t_nx, tri = best_of(lambda: sum(nx.triangles(G).values()) / 3, 1)
        ok = abs(ti * n * (n - 1) * (n - 2) - 6 * tri) < 1e-6 * max(1, tri)
        if graphlimpy is not None:
            # graphlimpy switches to a Monte Carlo estimate above n = 1200 by default: ask for exact
            t_gl, tg = best_of(lambda: graphlimpy.triangle_density_graph(A, exact_if_n_leq=n), 3)
            ok = ok and abs(tg - ti) < 1e-9
            gl = f"{t_gl:15.4f} {t_gl / t_ours:8.1f}x"
        else:
            gl = f"{'-':>15} {'-':>9}"
        print(f"{n:5d} {t_ours:10.4f} {t_nx:13.3f} {t_nx / t_ours:8.1f}x {gl} {str(ok):>6}", flush=True)
    if graphlimpy is not None:
        print("\nC4 densities of the same graphs: t(C4) (ours, hom) vs graphlimpy.C4_density_graph")
        for n in args.sizes:
            A = nx.to_numpy_array(nx.gnp_random_graph(n, 0.1, seed=n))
            t_ours, _ = best_of(lambda: HomWorkspace(A).density("C4"), 3)
            t_gl, _ = best_of(lambda: graphlimpy.C4_density_graph(A), 3)
            print(f"{n:5d}  ours {t_ours:.4f} s   graphlimpy {t_gl:.4f} s   speed-up {t_gl / t_ours:.1f}x")


if __name__ == "__main__":
    main()

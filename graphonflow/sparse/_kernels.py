"""Numba kernels on CSR graphs for :mod:`graphonflow.sparse`, with NumPy twins for the tests.

Conventions shared by every kernel:

* the graph is the *ranked* CSR of :meth:`SparseGraph.ranked`: vertices sorted by degree, rows
  sorted, no diagonal; ``split[u]`` is the first position of row u holding a neighbour > u, so
  ``indices[split[u]:indptr[u+1]]`` are the out-neighbours of the degree orientation (at most
  sqrt(2m) of them, and at most the degeneracy-like quantity that makes the costs O(m alpha));
* ``weighted`` selects whether ``data`` (same dtype as the output) is read; a binary graph
  passes a dummy one-element array and the kernels count;
* parallel kernels split the roots into ``nch`` chunks (root r goes to chunk r mod nch: the
  ranked order puts the hubs last, so striding spreads them) and use per-chunk work arrays
  passed in from Python (so the caller, and tracemalloc, sees every O(n) or O(m) buffer);
* integer outputs are checked: a per-root sum that passes LIMIT = 2^62 sets ``flag[0]`` and the
  caller raises OverflowError instead of returning a wrapped number (``check`` is False for
  float outputs).  Per-term products of integer weights are bounded before the call.

Each ``name`` kernel has a dense NumPy twin ``name_ref`` (O(n^2) or more: tests only).
"""

from __future__ import annotations

import itertools
import math

import numpy as np
from llvmlite import ir
from numba import njit, prange, types
from numba.core import cgutils
from numba.extending import intrinsic

LIMIT = 1 << 62


@intrinsic
def _prefetch(typingctx, arr, i):
    """A read prefetch of arr[i] into all cache levels (LLVM's llvm.prefetch): a hint, no value,
    no bounds check, never a fault."""
    if not isinstance(arr, types.Array) or arr.ndim != 1 or not isinstance(i, types.Integer):
        return None

    def codegen(context, builder, sig, args):
        ary = context.make_array(sig.args[0])(context, builder, args[0])
        ptr = builder.gep(ary.data, [args[1]])
        i8p = ir.IntType(8).as_pointer()
        i32 = ir.IntType(32)
        fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32]),
                                            "llvm.prefetch.p0i8")
        builder.call(fn, [builder.bitcast(ptr, i8p), ir.Constant(i32, 0), ir.Constant(i32, 3), ir.Constant(i32, 1)])
        return context.get_dummy_value()

    return types.void(arr, i), codegen


# ----------------------------------------------------------------------------- helpers
@njit(cache=True, inline="always")
def _bsearch(indices, lo, hi, x):
    """Position of x in the sorted indices[lo:hi], or -1."""
    while lo < hi:
        mid = (lo + hi) >> 1
        v = indices[mid]
        if v < x:
            lo = mid + 1
        elif v > x:
            hi = mid
        else:
            return mid
    return -1


@njit(cache=True, inline="always")
def _ipow(x, e):
    r = x - x + 1
    for _ in range(e):
        r = r * x
    return r


# ----------------------------------------------------------------------------- layout
@njit(parallel=True, cache=True)
def relabel_rows(indptr, indices, data, weighted, perm, rank, new_indptr, new_indices, new_data):
    """Row r of the new CSR is row perm[r] of the old one with every neighbour v renamed rank[v],
    sorted."""
    n = perm.shape[0]
    for r in prange(n):
        u = perm[r]
        a = indptr[u]
        L = indptr[u + 1] - a
        o = new_indptr[r]
        if not weighted:
            for i in range(L):
                new_indices[o + i] = rank[indices[a + i]]
            new_indices[o:o + L].sort()
            continue
        tmp = np.empty(L, dtype=np.int64)
        for i in range(L):
            tmp[i] = rank[indices[a + i]]
        order = np.argsort(tmp)
        for i in range(L):
            new_indices[o + i] = tmp[order[i]]
            new_data[o + i] = data[a + order[i]]


@njit(parallel=True, cache=True)
def upper_split(indptr, indices, split):
    """split[u] = first position in row u whose neighbour is > u."""
    n = indptr.shape[0] - 1
    for u in prange(n):
        lo, hi = indptr[u], indptr[u + 1]
        while lo < hi:
            mid = (lo + hi) >> 1
            if indices[mid] <= u:
                lo = mid + 1
            else:
                hi = mid
        split[u] = lo


@njit(cache=True)
def reverse_positions(indptr, indices, rev, fill):
    """rev[p] = position of (v, u) for the entry (u, v) at p; ``fill`` starts as indptr[:-1]."""
    n = indptr.shape[0] - 1
    for u in range(n):
        for p in range(indptr[u], indptr[u + 1]):
            v = indices[p]
            if v > u:
                q = fill[v]
                fill[v] += 1
                rev[p] = q
                rev[q] = p


# ----------------------------------------------------------------------------- sparse mat-vec
@njit(parallel=True, cache=True)
def spmv(indptr, indices, data, weighted, power, x, diag, use_diag, y, check, flag):
    """y[v] = sum_u A[v, u]^power x[u] (off-diagonal) + (use_diag) diag[v]^power x[v]."""
    n = indptr.shape[0] - 1
    for v in prange(n):
        s = y[v] - y[v]
        for p in range(indptr[v], indptr[v + 1]):
            t = x[indices[p]]
            if weighted:
                t = t * _ipow(data[p], power)
            s += t
            if check and (s > LIMIT or s < -LIMIT):
                flag[0] = 1
        if use_diag:
            s += _ipow(diag[v], power) * x[v]
            if check and (s > LIMIT or s < -LIMIT):
                flag[0] = 1
        y[v] = s


def spmv_ref(A, x, power=1, use_diag=True):
    B = np.array(A, dtype=float) ** power
    if not use_diag:
        np.fill_diagonal(B, 0.0)
    return B @ x


# ----------------------------------------------------------------------------- triangles
@njit(parallel=True, cache=True)
def edge_triangles(indptr, indices, split, data, weighted, stamp, wmark, t_cnt, t_w):
    """For every entry (v, u) with u < v (positions before split[v]): t_cnt = |N(u) & N(v)| and,
    when weighted, t_w = sum_{x in N(u) & N(v)} A[u, x] A[v, x].

    Cost: sum over edges of the smaller degree (u < v in rank means d_u <= d_v), O(m alpha).
    ``stamp`` (nch, n) starts at -1; ``wmark`` is (nch, n) when weighted.
    """
    nch = stamp.shape[0]
    n = indptr.shape[0] - 1
    for c in prange(nch):
        for v in range(c, n, nch):
            for p in range(indptr[v], indptr[v + 1]):
                stamp[c, indices[p]] = v
                if weighted:
                    wmark[c, indices[p]] = data[p]
            for p in range(indptr[v], split[v]):
                u = indices[p]
                cnt = 0
                s = t_w[0] - t_w[0]
                for q in range(indptr[u], indptr[u + 1]):
                    x = indices[q]
                    if stamp[c, x] == v:
                        cnt += 1
                        if weighted:
                            s += data[q] * wmark[c, x]
                t_cnt[p] = cnt
                if weighted:
                    t_w[p] = s


def edge_triangles_ref(A):
    """(A^2) restricted to the edges: the number (or weight) of triangles on each edge."""
    A = np.array(A, dtype=float)
    np.fill_diagonal(A, 0.0)
    return (A @ A) * (A != 0)


# ----------------------------------------------------------------------------- cliques
@njit(parallel=True, cache=True)
def cliques(indptr, indices, split, data, weighted, k, cand, wbuf, sizes, pos, pref, chosen,
            out, pv, check, flag):
    """out[u] = number (or total weight) of k-cliques whose lowest-ranked vertex is u (k >= 3).

    Each clique u < c_1 < ... < c_{k-1} is found once, along out-neighbour lists:
    cand[l] = out(u) & out(c_1) & ... & out(c_{l-1}), by sorted merges; the last level is
    counted (binary) or summed (weighted), not walked.  With ``pv`` of shape (nch, n) every
    vertex of every clique gets 1 in pv (binary only): per-vertex clique counts.
    Buffers: cand, wbuf (nch, k, maxout); sizes, pos, chosen (nch, k); pref (nch, k).
    """
    nch = cand.shape[0]
    n = indptr.shape[0] - 1
    do_pv = pv.shape[1] > 0
    for c in prange(nch):
        for u in range(c, n, nch):
            s1 = 0
            for p in range(split[u], indptr[u + 1]):
                cand[c, 1, s1] = indices[p]
                if weighted:
                    wbuf[c, 1, s1] = data[p]
                s1 += 1
            if s1 < k - 1:
                continue
            sizes[c, 1] = s1
            pos[c, 1] = 0
            pref[c, 0] = pref[c, 0] - pref[c, 0] + 1
            chosen[c, 0] = u
            acc = out[u] - out[u]
            lev = 1
            while lev >= 1:
                if lev == k - 1:
                    sz = sizes[c, lev]
                    if weighted:
                        tot = wbuf[c, lev, 0] - wbuf[c, lev, 0]
                        for j in range(sz):
                            tot += wbuf[c, lev, j]
                        acc += pref[c, lev - 1] * tot
                    else:
                        acc += sz
                        if do_pv:
                            for j in range(lev):
                                pv[c, chosen[c, j]] += sz
                            for j in range(sz):
                                pv[c, cand[c, lev, j]] += 1
                    if check and (acc > LIMIT or acc < -LIMIT):
                        flag[0] = 1
                    lev -= 1
                    continue
                i = pos[c, lev]
                # need k - 1 - lev more vertices after this one among cand[lev][i:]
                if sizes[c, lev] - i < k - lev:
                    lev -= 1
                    continue
                pos[c, lev] = i + 1
                x = cand[c, lev, i]
                chosen[c, lev] = x
                if weighted:
                    pref[c, lev] = pref[c, lev - 1] * wbuf[c, lev, i]
                a = i + 1
                b = split[x]
                e = indptr[x + 1]
                s = 0
                sz = sizes[c, lev]
                while a < sz and b < e:
                    ya = cand[c, lev, a]
                    yb = indices[b]
                    if ya < yb:
                        a += 1
                    elif ya > yb:
                        b += 1
                    else:
                        cand[c, lev + 1, s] = ya
                        if weighted:
                            wbuf[c, lev + 1, s] = wbuf[c, lev, a] * data[b]
                        s += 1
                        a += 1
                        b += 1
                if s < k - 1 - lev:
                    continue
                sizes[c, lev + 1] = s
                pos[c, lev + 1] = 0
                lev += 1
            out[u] = acc


def cliques_ref(A, k):
    """Sum over k-subsets S of prod_{ab in S} A_ab (the number of k-cliques of a 0/1 matrix)."""
    A = np.array(A, dtype=float)
    n = A.shape[0]
    total = 0.0
    for S in itertools.combinations(range(n), k):
        total += math.prod(A[a, b] for a, b in itertools.combinations(S, 2))
    return total


# ----------------------------------------------------------------------------- 4-cycles
@njit(parallel=True, cache=True)
def four_cycles(indptr, indices, split, data, weighted, cnt, s1, s2, touched, out, out3, pv, pe, check, flag):
    """out[u] = twice the number (or weight) of 4-cycles whose highest-ranked vertex is u.

    Chiba--Nishizeki wedge counting: for u, every wedge u - w - v with w, v < u adds 1 (and
    A_uw A_wv to s1, its square to s2) at v; the 4-cycles with top u and opposite vertex v
    number C(cnt_v, 2) (weight (s1_v^2 - s2_v) / 2).  Cost sum_edges min degree, O(m alpha).
    Binary only: pv (nch, n) gets the per-vertex and pe (nch, nnz) the per-entry counts (an
    edge's count is pe at its two entries, added).  Buffers cnt, touched (nch, n); s1, s2
    (nch, n) when weighted.  out3 (binary, when of size n) gets sum_v cnt_v (cnt_v - 1) (cnt_v - 2):
    the maps of K2,3 whose top vertex is u on the side of two.
    """
    nch = cnt.shape[0]
    n = indptr.shape[0] - 1
    do_pv = pv.shape[1] > 0
    do_pe = pe.shape[1] > 0
    do3 = out3.shape[0] > 0
    for c in prange(nch):
        for u in range(c, n, nch):
            nt = 0
            for p in range(indptr[u], split[u]):
                w = indices[p]
                for q in range(indptr[w], indptr[w + 1]):
                    v = indices[q]
                    if v >= u:
                        break
                    if cnt[c, v] == 0:
                        touched[c, nt] = v
                        nt += 1
                    cnt[c, v] += 1
                    if weighted:
                        x = data[p] * data[q]
                        s1[c, v] += x
                        s2[c, v] += x * x
            acc = out[u] - out[u]
            for i in range(nt):
                v = touched[c, i]
                if weighted:
                    acc += s1[c, v] * s1[c, v] - s2[c, v]
                else:
                    kk = cnt[c, v]
                    acc += kk * (kk - 1)
                    if do3:
                        out3[u] += kk * (kk - 1) * (kk - 2)
                    if do_pv:
                        pv[c, v] += kk * (kk - 1) // 2
                        pv[c, u] += kk * (kk - 1) // 2
                if check and (acc > LIMIT or acc < -LIMIT):
                    flag[0] = 1
            out[u] = acc
            if do_pv or do_pe:
                for p in range(indptr[u], split[u]):
                    w = indices[p]
                    for q in range(indptr[w], indptr[w + 1]):
                        v = indices[q]
                        if v >= u:
                            break
                        extra = cnt[c, v] - 1
                        if do_pv:
                            pv[c, w] += extra
                        if do_pe:
                            pe[c, p] += extra
                            pe[c, q] += extra
            for i in range(nt):
                v = touched[c, i]
                cnt[c, v] = 0
                if weighted:
                    s1[c, v] = 0
                    s2[c, v] = 0


def four_cycles_ref(A):
    """Sum over 4-cycles (as subgraphs) of the product of their edge weights: inj(C4) / 8."""
    A = np.array(A, dtype=float)
    np.fill_diagonal(A, 0.0)
    A2 = A @ A
    A2sq = (A * A) @ (A * A)
    # ordered closed walks of length 4 on distinct vertices: sum_{u != v} A2_uv^2 - (A^2 o A^2)_uv
    off = ~np.eye(A.shape[0], dtype=bool)
    inj = float(np.sum((A2**2 - A2sq)[off]))
    return inj / 8.0


# ----------------------------------------------------------------------------- K4 extensions of triangles
@njit(parallel=True, cache=True)
def triangle_k4_pairs(indptr, indices, split, out, check, flag):
    """out[u] = sum over triangles u < v < w (u lowest) of C(q, 2), q = |N(u) & N(v) & N(w)|
    (the full neighbourhoods): the copies of K5 - e (two K4 on one triangle) by lowest vertex
    of the shared triangle.  Binary graphs."""
    n = indptr.shape[0] - 1
    for u in prange(n):
        acc = out[u] - out[u]
        for p in range(split[u], indptr[u + 1]):
            v = indices[p]
            for q in range(p + 1, indptr[u + 1]):
                w = indices[q]
                if _bsearch(indices, split[v], indptr[v + 1], w) < 0:
                    continue
                # the smallest full row among u, v, w (u has the smallest degree: rank order)
                cntq = 0
                for r in range(indptr[u], indptr[u + 1]):
                    x = indices[r]
                    if x == v or x == w:
                        continue
                    if _bsearch(indices, indptr[v], indptr[v + 1], x) >= 0 and \
                            _bsearch(indices, indptr[w], indptr[w + 1], x) >= 0:
                        cntq += 1
                acc += cntq * (cntq - 1) // 2
                if check and acc > LIMIT:
                    flag[0] = 1
        out[u] = acc


# ----------------------------------------------------------------------------- generic enumeration
@njit(cache=True, inline="always")
def _row_end(indptr, indices, y, x0, top):
    """End of row y, or with ``top`` the first position holding a neighbour >= x0."""
    lo, hi = indptr[y], indptr[y + 1]
    if not top:
        return hi
    while lo < hi:
        mid = (lo + hi) >> 1
        if indices[mid] < x0:
            lo = mid + 1
        else:
            hi = mid
    return lo


@njit(parallel=True, cache=True)
def enumerate_inj(indptr, indices, data, weighted, diag, use_diag, k, bp, nb, mu, lp, top, np_, nn, allmaps,
                  phi, pos, end, src, pref, out, check, flag):
    """out[x] = sum over injective maps phi of a connected pattern with phi(0) = x of the
    product of A[phi a, phi b]^mult over its edges and diag[phi v]^loops over its vertices.

    The pattern comes in a connected order: vertex i > 0 has the earlier neighbours
    nb[bp[i]:bp[i+1]] (multiplicities mu, same positions); lp[i] loops at i.  Candidates for
    vertex i are read from the row of its earlier neighbour of smallest degree and looked up
    in the others' rows by binary search.  On a binary graph without loops at the last vertex
    the last level is counted, not walked: a common-neighbour count minus the used vertices
    in it.  With ``top`` every other vertex must have a smaller rank than phi(0) (phi(0) is the
    top vertex of the copy): rows are sorted, so scans stop at phi(0) and the hubs are entered
    only from above.  Induced counts: the earlier vertices nn[np_[i]:np_[i+1]] are *not*
    neighbours of i in the pattern; a candidate adjacent to one of them is skipped (binary) or
    weighs 1 - A there (weighted).  With ``allmaps`` the maps need not be injective (hom
    counts of a pattern on a graph without loops: two pattern vertices may share an image when
    they are not adjacent).  Buffers phi, pos, end, src (nch, k) int64; pref (nch, k) like out.
    """
    nch = phi.shape[0]
    n = indptr.shape[0] - 1
    for c in prange(nch):
        for x0 in range(c, n, nch):
            w0 = out[x0] - out[x0] + 1
            if lp[0] > 0:
                if not use_diag:
                    continue
                w0 = w0 * _ipow(diag[x0], lp[0])
                if w0 == 0:
                    continue
            if k == 1:
                out[x0] = w0
                continue
            phi[c, 0] = x0
            pref[c, 0] = w0
            acc = out[x0] - out[x0]
            lev = 1
            # set up level 1
            best = -1
            bd = -1
            for t in range(bp[lev], bp[lev + 1]):
                y = phi[c, nb[t]]
                dg = indptr[y + 1] - indptr[y]
                if best < 0 or dg < bd:
                    best, bd = t, dg
            src[c, lev] = best
            pos[c, lev] = indptr[phi[c, nb[best]]]
            end[c, lev] = _row_end(indptr, indices, phi[c, nb[best]], x0, top)
            while lev >= 1:
                last = lev == k - 1
                if last and not weighted and lp[lev] == 0:
                    # count the candidates of the last vertex
                    cntl = 0
                    sb = src[c, lev]
                    ys = phi[c, nb[sb]]
                    if bp[lev + 1] - bp[lev] == 1 and np_[lev + 1] == np_[lev]:
                        cntl = end[c, lev] - indptr[ys]
                        for j in range(lev if allmaps else (1 if top else 0), lev):
                            if _bsearch(indices, indptr[ys], end[c, lev], phi[c, j]) >= 0:
                                cntl -= 1
                    else:
                        for p in range(pos[c, lev], end[c, lev]):
                            z = indices[p]
                            ok = True
                            for t in range(bp[lev], bp[lev + 1]):
                                if t == sb:
                                    continue
                                y = phi[c, nb[t]]
                                if _bsearch(indices, indptr[y], indptr[y + 1], z) < 0:
                                    ok = False
                                    break
                            if ok:
                                for t in range(np_[lev], np_[lev + 1]):
                                    y = phi[c, nn[t]]
                                    if _bsearch(indices, indptr[y], indptr[y + 1], z) >= 0:
                                        ok = False
                                        break
                            if ok and not allmaps:
                                for j in range(lev):
                                    if phi[c, j] == z:
                                        ok = False
                                        break
                            if ok:
                                cntl += 1
                    acc += pref[c, lev - 1] * cntl
                    if check and (acc > LIMIT or acc < -LIMIT):
                        flag[0] = 1
                    lev -= 1
                    continue
                found = False
                wt = pref[c, 0] - pref[c, 0]
                z = -1
                while pos[c, lev] < end[c, lev]:
                    p = pos[c, lev]
                    pos[c, lev] = p + 1
                    z = indices[p]
                    ok = True
                    if not allmaps:
                        for j in range(lev):
                            if phi[c, j] == z:
                                ok = False
                                break
                    if not ok:
                        continue
                    wt = pref[c, lev - 1]
                    sb = src[c, lev]
                    if weighted:
                        wt = wt * _ipow(data[p], mu[sb])
                    for t in range(bp[lev], bp[lev + 1]):
                        if t == sb:
                            continue
                        y = phi[c, nb[t]]
                        q = _bsearch(indices, indptr[y], indptr[y + 1], z)
                        if q < 0:
                            ok = False
                            break
                        if weighted:
                            wt = wt * _ipow(data[q], mu[t])
                    if not ok:
                        continue
                    for t in range(np_[lev], np_[lev + 1]):
                        y = phi[c, nn[t]]
                        q = _bsearch(indices, indptr[y], indptr[y + 1], z)
                        if q >= 0:
                            if weighted:
                                wt = wt * (1 - data[q])
                            else:
                                ok = False
                                break
                    if not ok:
                        continue
                    if lp[lev] > 0:
                        if not use_diag:
                            continue
                        wt = wt * _ipow(diag[z], lp[lev])
                    if wt == 0:
                        continue
                    found = True
                    break
                if not found:
                    lev -= 1
                    continue
                if last:
                    acc += wt
                    if check and (acc > LIMIT or acc < -LIMIT):
                        flag[0] = 1
                    continue
                phi[c, lev] = z
                pref[c, lev] = wt
                lev += 1
                best = -1
                bd = -1
                for t in range(bp[lev], bp[lev + 1]):
                    y = phi[c, nb[t]]
                    dg = indptr[y + 1] - indptr[y]
                    if best < 0 or dg < bd:
                        best, bd = t, dg
                src[c, lev] = best
                pos[c, lev] = indptr[phi[c, nb[best]]]
                end[c, lev] = _row_end(indptr, indices, phi[c, nb[best]], x0, top)
            out[x0] = acc


def enumerate_inj_ref(A, k, edges, loops=None):
    """Brute force over injective maps: sum of prod A^mult (edges: (a, b, mult)) and loops."""
    A = np.array(A, dtype=float)
    n = A.shape[0]
    loops = loops or [0] * k
    total = 0.0
    for phi in itertools.permutations(range(n), k):
        val = 1.0
        for a, b, c in edges:
            val *= A[phi[a], phi[b]] ** c
            if val == 0:
                break
        for v, c in enumerate(loops):
            if c:
                val *= A[phi[v], phi[v]] ** c
        total += val
    return total


# ----------------------------------------------------------------------------- 5-cycles from the top
@njit(parallel=True, cache=True)
def c5_top_walks(indptr, indices, split, c2, touched, out, flag):
    """out[u] = number of closed maps u - v - x - y - w - u of C5 (a homomorphism, not necessarily
    injective) with u on top: v, w, x, y all of smaller rank than u.  Binary graphs.

    For the top u, c2[x] counts the 2-walks u - v - x downwards; the closed maps are
    sum over edges x ~ y below u of c2[x] c2[y].  Cost per u: its downward 2-walks plus the
    degrees of the vertices they reach (not the 3-walks an enumeration would take).
    Buffers c2, touched (nch, n) int64, c2 zero.
    """
    nch = c2.shape[0]
    n = indptr.shape[0] - 1
    for c in prange(nch):
        for u in range(c, n, nch):
            nt = 0
            for p in range(indptr[u], split[u]):
                v = indices[p]
                for q in range(indptr[v], indptr[v + 1]):
                    x = indices[q]
                    if x >= u:
                        break
                    if c2[c, x] == 0:
                        touched[c, nt] = x
                        nt += 1
                    c2[c, x] += 1
            acc = 0
            for i in range(nt):
                x = touched[c, i]
                s = 0
                for q in range(indptr[x], indptr[x + 1]):
                    y = indices[q]
                    if y >= u:
                        break
                    s += c2[c, y]
                acc += c2[c, x] * s
                if acc > LIMIT:
                    flag[0] = 1
            out[u] = acc
            for i in range(nt):
                c2[c, touched[c, i]] = 0


@njit(parallel=True, cache=True)
def triangle_up_degrees(indptr, indices, split, out, flag):
    """out[u] = sum over triangles u < v < w (u lowest) of the neighbours of u, v and w ranked
    above w: for each triangle and each of its vertices, the ways to hang a leaf above the whole
    triangle.  Binary graphs; O(m alpha log d)."""
    n = indptr.shape[0] - 1
    for u in prange(n):
        acc = 0
        eu = indptr[u + 1]
        for p in range(split[u], eu):
            v = indices[p]
            a = p + 1
            b = split[v]
            ev = indptr[v + 1]
            while a < eu and b < ev:
                ya = indices[a]
                yb = indices[b]
                if ya < yb:
                    a += 1
                elif ya > yb:
                    b += 1
                else:
                    w = ya
                    # neighbours above w: in row u after position a, in row v after b, out(w)
                    acc += (eu - a - 1) + (ev - b - 1) + (indptr[w + 1] - split[w])
                    a += 1
                    b += 1
            if acc > LIMIT:
                flag[0] = 1
        out[u] = acc


@njit(parallel=True, cache=True)
def triangle_edge_sums(indptr, indices, split, t, d, out, flag):
    """out[u] = sum over triangles u < v < w (u lowest) of d_u (t_vw - 1) + d_v (t_uw - 1) +
    d_w (t_uv - 1), t the per-entry triangle counts: each vertex of a triangle with a leaf
    hung there and a second triangle on the opposite edge.  Binary graphs; O(m alpha)."""
    n = indptr.shape[0] - 1
    for u in prange(n):
        acc = 0
        eu = indptr[u + 1]
        for p in range(split[u], eu):
            v = indices[p]
            a = p + 1
            b = split[v]
            ev = indptr[v + 1]
            while a < eu and b < ev:
                ya = indices[a]
                yb = indices[b]
                if ya < yb:
                    a += 1
                elif ya > yb:
                    b += 1
                else:
                    w = ya
                    acc += d[u] * (t[b] - 1) + d[v] * (t[a] - 1) + d[w] * (t[p] - 1)
                    a += 1
                    b += 1
            if acc > LIMIT:
                flag[0] = 1
        out[u] = acc


@njit(parallel=True, cache=True)
def triangle_pair_sums(indptr, indices, split, t, out, flag):
    """out[u] = sum over triangles u < v < w (u lowest) of 2 (AB + BC + CA) - 2 (A + B + C), with
    A, B, C the per-entry triangle counts of its three edges: the sum over the triangle's ordered
    edges (x, y), third vertex c, of t_xy (t_xc - 1).  Binary graphs; O(m alpha)."""
    n = indptr.shape[0] - 1
    for u in prange(n):
        acc = 0
        eu = indptr[u + 1]
        for p in range(split[u], eu):
            v = indices[p]
            a = p + 1
            b = split[v]
            ev = indptr[v + 1]
            while a < eu and b < ev:
                ya = indices[a]
                yb = indices[b]
                if ya < yb:
                    a += 1
                elif ya > yb:
                    b += 1
                else:
                    A, B, C = t[p], t[a], t[b]
                    acc += 2 * (A * B + B * C + C * A) - 2 * (A + B + C)
                    a += 1
                    b += 1
            if acc > LIMIT:
                flag[0] = 1
        out[u] = acc


@njit(parallel=True, cache=True)
def orient_inplace(indptr, indices, outend, outidx):
    """The degree orientation in one pass, in place of a copy of the rows: the neighbours v of u
    above it in the order (degree, index) go to outidx[indptr[u]:outend[u]], in the row's order
    (unsorted is fine for marking).  The order is read off the row pointers as the key
    degree * 2^32 + index (n < 2^32), one comparison per entry, with no degree array and no
    prefix sum.  The out-lists keep the rows' spacing, twice the memory of packed ones, which
    only pays while they sit in cache: the caller uses it below PREFETCH_MIN_N vertices and
    orient_counts / orient_fill above (benchmarks/RESULTS.md, "Sparse counts")."""
    n = indptr.shape[0] - 1
    for u in prange(n):
        ku = ((indptr[u + 1] - indptr[u]) << 32) | u
        o = indptr[u]
        for p in range(indptr[u], indptr[u + 1]):
            v = indices[p]
            outidx[o] = v
            o += (((indptr[v + 1] - indptr[v]) << 32) | v) > ku
        outend[u] = o


@njit(parallel=True, cache=True)
def orient_counts(indptr, indices, deg, outdeg, up):
    """outdeg[u] = the neighbours v of u above it in the order (degree, index), and up[p] = 1 at
    the entries p holding one (0 elsewhere), so that the fill need not read the degrees again.
    With orient_fill, the packed degree orientation of large graphs (see orient_inplace)."""
    n = indptr.shape[0] - 1
    for u in prange(n):
        du = deg[u]
        c = 0
        for p in range(indptr[u], indptr[u + 1]):
            v = indices[p]
            dv = deg[v]
            f = (dv > du) | ((dv == du) & (v > u))
            up[p] = f
            c += f
        outdeg[u] = c


@njit(parallel=True, cache=True)
def orient_fill(indptr, indices, up, outptr, outidx):
    """The out-neighbour lists of the degree orientation (the entries marked in ``up``), in the
    input's row order (unsorted is fine for marking)."""
    n = indptr.shape[0] - 1
    for u in prange(n):
        o = outptr[u]
        for p in range(indptr[u], indptr[u + 1]):
            if up[p]:
                outidx[o] = indices[p]
                o += 1


#: prefetch distance of triangles_oriented (in roots per chunk), and the vertex count from which
#: it is used and the out-lists are packed (benchmarks/RESULTS.md, "Sparse counts")
PREFETCH_AHEAD = 8
PREFETCH_MIN_N = 1 << 17


@njit(parallel=True, cache=True)
def triangles_oriented(outptr, outend, outidx, mark, out, ahead):
    """out[8 c] = triangles whose lowest vertex (in the order (degree, index)) falls to chunk c
    (the roots u = c, c + nch, ...): mark out(u), walk out(v) for each marked v, unmark.

    out(u) = outidx[outptr[u]:outend[u]] (see orient_inplace); outidx has one spare entry at the
    end.  O(m alpha), no relabelling, no sorting.  The walk is a series of short loops, one per
    oriented edge, each starting at a place the previous one did not know, so the time goes to
    the chain "next v -> its row bounds -> its row" after every loop exit.  The bounds of the next
    v are therefore loaded, and its row prefetched, before the current row is walked (the kernel
    alone on the Chung-Lu benchmark graphs: 1.9 -> 1.6 ms at 1e5 edges, 27 -> 22 ms at 1e6).  On
    large graphs (``ahead`` > 0) the row bounds of the out-neighbours of the root ``ahead`` roots
    on are prefetched too.  The marks are bytes, mark[c] (zeros) for chunk c, n bytes that stay
    in L1 at 1e5 edges.  Each chunk keeps one total, 8 entries apart so that no two chunks share
    a cache line; a count per root ran as fast here (1.6 ms at 1e5 edges) but needs an n-array."""
    nch = mark.shape[0]
    n = outptr.shape[0] - 1
    for c in prange(nch):
        mk = mark[c]
        tot = 0
        for u in range(c, n, nch):
            a = u + ahead * nch
            if ahead > 0 and a < n:
                for p in range(outptr[a], outend[a]):
                    _prefetch(outptr, outidx[p])
                    _prefetch(outend, outidx[p])
            a0 = outptr[u]
            a1 = outend[u]
            if a1 - a0 < 2:
                continue
            for p in range(a0, a1):
                mk[outidx[p]] = 1
            v = outidx[a0]
            s = outptr[v]
            e = outend[v]
            for p in range(a0, a1):
                v = outidx[p + 1]  # the next out-neighbour (the spare entry or the next row: harmless)
                s1 = outptr[v]
                e1 = outend[v]
                _prefetch(outidx, s1)
                for q in range(s, e):
                    tot += mk[outidx[q]]
                s = s1
                e = e1
            for p in range(a0, a1):
                mk[outidx[p]] = 0
        out[8 * c] = tot


# ----------------------------------------------------------------------------- K2,3 and K2,3 plus an edge
@njit(parallel=True, cache=True)
def k23_pair_wedges(indptr, indices, cnt, touched, out, flag):
    """out[u] = sum over v < u of c (c - 1) (c - 2), c = |N(u) & N(v)| the full common
    neighbourhood: the injective maps of K2,3 with its side of two on {u, v} (v first), which is
    half of them.  Every wedge u - w - v with v < u is visited once (w of any rank), so the cost is
    sum_w C(d_w, 2).  Buffers cnt (zeros) and touched (nch, n).  Binary graphs."""
    nch = cnt.shape[0]
    n = indptr.shape[0] - 1
    for c in prange(nch):
        for u in range(c, n, nch):
            nt = 0
            for p in range(indptr[u], indptr[u + 1]):
                w = indices[p]
                for q in range(indptr[w], indptr[w + 1]):
                    v = indices[q]
                    if v >= u:
                        break
                    if cnt[c, v] == 0:
                        touched[c, nt] = v
                        nt += 1
                    cnt[c, v] += 1
            acc = 0
            for i in range(nt):
                v = touched[c, i]
                k = cnt[c, v]
                acc += k * (k - 1) * (k - 2)
                cnt[c, v] = 0
                if acc > LIMIT:
                    flag[0] = 1
            out[u] = acc


@njit(cache=True, inline="always")
def _common(indices, a0, a1, b0, b1):
    """|indices[a0:a1] & indices[b0:b1]| of two sorted rows (a merge)."""
    k = 0
    while a0 < a1 and b0 < b1:
        x = indices[a0]
        y = indices[b0]
        if x < y:
            a0 += 1
        elif x > y:
            b0 += 1
        else:
            k += 1
            a0 += 1
            b0 += 1
    return k


@njit(cache=True, inline="always")
def _common_into(indices, a0, a1, b0, b1, out):
    """out[:k] = indices[a0:a1] & indices[b0:b1] of two sorted rows (a merge); returns k."""
    k = 0
    while a0 < a1 and b0 < b1:
        x = indices[a0]
        y = indices[b0]
        if x < y:
            a0 += 1
        elif x > y:
            b0 += 1
        else:
            out[k] = x
            k += 1
            a0 += 1
            b0 += 1
    return k


@njit(parallel=True, cache=True)
def k23e_sums(indptr, indices, split, t, buf, out, flag):
    """out[a] = sum over edges a < c with t_ac >= 2 of sum over ordered pairs u != v of common
    neighbours of a and c of (|N(u) & N(v)| - 2): the injective maps of K2,3 plus an edge on its
    side of three, with that edge on {a, c} in one of its two directions (so inj = 2 sum out).
    The common neighbours of u and v other than a and c are the lone vertex's choices.  Cost: per
    edge with two triangles or more, a merge of its rows, and per pair of its triangles' apexes a
    merge of theirs.  buf (nch, max degree).  Binary graphs."""
    nch = buf.shape[0]
    n = indptr.shape[0] - 1
    for ch in prange(nch):
        for a in range(ch, n, nch):
            acc = 0
            for p in range(split[a], indptr[a + 1]):
                if t[p] < 2:
                    continue
                c = indices[p]
                nb = _common_into(indices, indptr[a], indptr[a + 1], indptr[c], indptr[c + 1], buf[ch])
                for s in range(nb):
                    u = buf[ch, s]
                    for r in range(s + 1, nb):
                        v = buf[ch, r]
                        acc += 2 * (_common(indices, indptr[u], indptr[u + 1], indptr[v], indptr[v + 1]) - 2)
                if acc > LIMIT:
                    flag[0] = 1
            out[a] = acc


def k23_ref(A):
    """inj(K2,3) of a 0/1 graph: sum over ordered pairs u != v of c (c - 1) (c - 2), C = A A."""
    A = np.array(A, dtype=np.int64)
    np.fill_diagonal(A, 0)
    C = A @ A
    np.fill_diagonal(C, 0)
    return int((C * (C - 1) * (C - 2)).sum())


def k23e_ref(A):
    """inj(K2,3 plus an edge on its side of three) of a 0/1 graph: sum over ordered edges (a, c)
    and ordered pairs u != v of common neighbours of a and c of (C_uv - 2), C = A A."""
    A = np.array(A, dtype=np.int64)
    np.fill_diagonal(A, 0)
    C = A @ A
    total = 0
    for a, c in zip(*np.nonzero(A)):
        cn = np.flatnonzero(A[a] & A[c])
        sub = C[np.ix_(cn, cn)] - 2
        total += int(sub.sum() - np.trace(sub))
    return total


# ----------------------------------------------------------------------------- the 4-wheel and K5 minus a path
@njit(parallel=True, cache=True)
def wheel4_sums(indptr, indices, t, stamp, posh, off, tbuf, cnt, touched, out, flag):
    """out[h] = sum over ordered pairs x != z of neighbours of h of c (c - 1), c the number of
    y in N(h) adjacent to both: the injective maps of the 4-wheel with its hub on h (a 4-cycle
    x - y - z - w in N(h)).  For each h the apexes T(h, x) of the triangles on its edges are
    listed (only rows of neighbours x with a triangle on hx are scanned), then c is counted by
    walking y in T(h, x), z in T(h, y).  Per-chunk buffers: stamp (-1s), posh, cnt (zeros) and
    touched (n), off (max degree + 1), tbuf (the largest sum of t over a row).  Binary graphs."""
    nch = stamp.shape[0]
    n = indptr.shape[0] - 1
    for ch in prange(nch):
        for h in range(ch, n, nch):
            h0 = indptr[h]
            h1 = indptr[h + 1]
            tot = 0
            for p in range(h0, h1):
                off[ch, p - h0] = tot
                tot += t[p]
            off[ch, h1 - h0] = tot
            out[h] = 0
            if tot == 0:
                continue
            for p in range(h0, h1):
                v = indices[p]
                stamp[ch, v] = h
                posh[ch, v] = p - h0
            for p in range(h0, h1):
                if t[p] == 0:
                    continue
                x = indices[p]
                k = off[ch, p - h0]
                for q in range(indptr[x], indptr[x + 1]):
                    y = indices[q]
                    if stamp[ch, y] == h:
                        tbuf[ch, k] = y
                        k += 1
            acc = 0
            for p in range(h0, h1):
                if t[p] < 2:
                    continue
                x = indices[p]
                nt = 0
                for i in range(off[ch, p - h0], off[ch, p - h0 + 1]):
                    py = posh[ch, tbuf[ch, i]]
                    for j in range(off[ch, py], off[ch, py + 1]):
                        z = tbuf[ch, j]
                        if z == x:
                            continue
                        if cnt[ch, z] == 0:
                            touched[ch, nt] = z
                            nt += 1
                        cnt[ch, z] += 1
                for i in range(nt):
                    z = touched[ch, i]
                    k = cnt[ch, z]
                    acc += k * (k - 1)
                    cnt[ch, z] = 0
                if acc > LIMIT:
                    flag[0] = 1
            out[h] = acc


@njit(parallel=True, cache=True)
def edge_k4_counts(indptr, indices, split, t, buf, k4):
    """k4[p] = the number of K4 containing the edge (u, indices[p]) for the entries p of the
    out-lists (neighbour > u) whose edge has two triangles or more (0 elsewhere): the edges
    among the common neighbours, found by merging the two rows and a binary search per pair.
    buf (nch, max degree).  Binary graphs."""
    nch = buf.shape[0]
    n = indptr.shape[0] - 1
    for ch in prange(nch):
        for a in range(ch, n, nch):
            for p in range(split[a], indptr[a + 1]):
                k4[p] = 0
                if t[p] < 2:
                    continue
                c = indices[p]
                nb = _common_into(indices, indptr[a], indptr[a + 1], indptr[c], indptr[c + 1], buf[ch])
                e = 0
                for s in range(nb):
                    u = buf[ch, s]
                    for r in range(s + 1, nb):
                        if _bsearch(indices, indptr[u], indptr[u + 1], buf[ch, r]) >= 0:
                            e += 1
                k4[p] = e


def wheel4_ref(A):
    """inj of the 4-wheel in a 0/1 graph: for each hub h, inj(C4) in the graph on N(h)."""
    A = np.array(A, dtype=np.int64)
    np.fill_diagonal(A, 0)
    total = 0
    for h in range(A.shape[0]):
        nb = np.flatnonzero(A[h])
        S = A[np.ix_(nb, nb)]
        C = S @ S
        np.fill_diagonal(C, 0)
        total += int((C * (C - 1)).sum())
    return total


def edge_k4_ref(A):
    """(K4 per edge) as a dense symmetric matrix: the edges among the common neighbours."""
    A = np.array(A, dtype=np.int64)
    np.fill_diagonal(A, 0)
    n = A.shape[0]
    out = np.zeros((n, n), dtype=np.int64)
    for a, c in zip(*np.nonzero(A)):
        cn = np.flatnonzero(A[a] & A[c])
        out[a, c] = int(A[np.ix_(cn, cn)].sum()) // 2
    return out

"""Sparse counts (graphonflow.sparse): exact hom/inj/ind/subgraph counts against the dense engine,
networkx, igraph and closed forms; the kernels against their NumPy twins; exact integers past
2^53 and int64; memory O(m) on 10^6 vertices; streaming edge lists; the hom_density dispatch."""

import itertools
import math
import subprocess
import sys
import textwrap

import networkx as nx
import numpy as np
import pytest
import scipy.sparse as sp

import graphonflow as gf
from graphonflow import HomWorkspace, Pattern
from graphonflow.sparse import SparseCounter, SparseGraph, as_sparse_graph, hom_count, subgraph_count
from graphonflow.sparse import _kernels as K
from graphonflow.sparse.canon import automorphisms, canon, key_of_pattern, vertex_orbits
from graphonflow.sparse.counts import xprod_sum, xsum

ATLAS5 = [g for g in nx.graph_atlas_g()[1:] if g.number_of_nodes() <= 5]  # all 52 graphs on 1..5 vertices
ATLAS4 = [g for g in ATLAS5 if g.number_of_nodes() <= 4]


def random_graph(n, p, rng, weighted=False, loops=False, integer=False):
    A = np.triu((rng.random((n, n)) < p).astype(float), 1)
    if weighted:
        A = A * rng.random((n, n))
    if integer:
        A = A * rng.integers(1, 4, (n, n))
    A = A + A.T
    if loops:
        idx = np.arange(0, n, 3)
        A[idx, idx] = rng.random(idx.size) if weighted else 1.0
    return A


def dense_counts(A, patterns, kinds=("hom", "inj", "ind")):
    ws = HomWorkspace(A, max_cost=None)
    n = A.shape[0]
    out = {}
    for g in patterns:
        P = Pattern.from_networkx(g)
        for kind in kinds:
            norm = n**P.k if kind == "hom" else math.perm(n, P.k)
            out[(P.edges, P.k, kind)] = ws.density(P, kind) * norm
    return out


def assert_agree(A, patterns, rtol, kinds=("hom", "inj", "ind"), exact=True):
    ref = dense_counts(A, patterns, kinds)
    c = SparseCounter(sp.csr_array(A))
    for (edges, k, kind), r in ref.items():
        v = c.count(Pattern(k, edges), kind)
        if exact:
            assert isinstance(v, int), (edges, kind, v)
        assert v == pytest.approx(r, rel=rtol, abs=1e-6), (k, edges, kind, v, r)


# ----------------------------------------------------------------------------- against the dense engine
def test_every_pattern_up_to_4_vertices_all_kinds_n300():
    rng = np.random.default_rng(0)
    A = random_graph(300, 0.05, rng)
    assert_agree(A, ATLAS4, 1e-12)


@pytest.mark.parametrize("case", ["binary", "weighted", "binary loops", "weighted loops", "integer"])
def test_every_pattern_up_to_5_vertices_all_kinds(case):
    rng = np.random.default_rng(abs(hash(case)) % 1000)
    A = random_graph(40, 0.25, rng, weighted="weighted" in case, loops="loops" in case, integer=case == "integer")
    exact = case in ("binary", "binary loops", "integer")
    assert_agree(A.astype(np.int64) if case == "integer" else A, ATLAS5, 1e-9, exact=exact)


def test_counts_are_exact_integers_equal_to_dense_rounded():
    # the dense engine's floats are exact here (all counts < 2^53): the sparse ints equal them exactly
    rng = np.random.default_rng(5)
    A = random_graph(120, 0.1, rng)
    ref = dense_counts(A, ATLAS4)
    c = SparseCounter(A)
    for (edges, k, kind), r in ref.items():
        assert c.count(Pattern(k, edges), kind) == round(r)


# ----------------------------------------------------------------------------- networkx and igraph
def test_canonical_forms_orbits_and_automorphisms_against_networkx():
    rng = np.random.default_rng(0)
    GM = nx.algorithms.isomorphism.GraphMatcher
    seen = {}
    for i, F in enumerate(nx.graph_atlas_g()[1:]):  # all 1252 graphs on 1..7 vertices
        P = Pattern.from_networkx(F)
        ck = canon(key_of_pattern(P))
        assert ck not in seen  # distinct classes, distinct keys
        seen[ck] = i
        Q = P.relabel([int(x) for x in rng.permutation(P.k)])
        assert canon(key_of_pattern(Q)) == ck  # one key per class
        if P.k <= 6:
            auts = list(GM(F, F).isomorphisms_iter())
            assert automorphisms(P.k, P.edges) == len(auts)
            orbit = {v: frozenset(a[v] for a in auts) for v in F.nodes}
            assert set(map(frozenset, vertex_orbits(key_of_pattern(P)))) == set(orbit.values())
    assert automorphisms(12, Pattern.from_name("C12").edges) == 24
    assert automorphisms(13, Pattern.from_name("S12").edges) == math.factorial(12)


def test_triangles_against_networkx():
    rng = np.random.default_rng(1)
    for G in (nx.karate_club_graph(), nx.les_miserables_graph(), nx.barabasi_albert_graph(3000, 4, seed=2),
              nx.gnp_random_graph(500, 0.05, seed=int(rng.integers(1000)))):
        t = sum(nx.triangles(G).values()) // 3
        assert subgraph_count("K3", G, weight=None) == t
        assert hom_count("K3", G, weight=None) == 6 * t


def test_subgraph_counts_against_networkx_monomorphisms():
    G = nx.gnp_random_graph(16, 0.35, seed=3)
    c = SparseCounter(G)
    GM = nx.algorithms.isomorphism.GraphMatcher
    for F in ATLAS5:
        if F.number_of_edges() == 0 or not nx.is_connected(F):
            continue
        aut = sum(1 for _ in GM(F, F).isomorphisms_iter())
        assert automorphisms(F.number_of_nodes(), list(Pattern.from_networkx(F).edges)) == aut
        mono = sum(1 for _ in GM(G, F).subgraph_monomorphisms_iter())
        iso = sum(1 for _ in GM(G, F).subgraph_isomorphisms_iter())  # induced
        assert c.subgraphs(F) == mono // aut
        assert c.subgraphs(F, induced=True) == iso // aut
        assert c.count(F, "inj") == mono and c.count(F, "ind") == iso


def test_induced_counts_against_igraph_motifs():
    import igraph as ig  # in the test extras (installs from a wheel)
    for seed, (n, p) in enumerate([(60, 0.1), (200, 0.03), (40, 0.3)]):
        G = nx.gnp_random_graph(n, p, seed=seed)
        h = ig.Graph(n=n, edges=list(G.edges))
        c = SparseCounter(G)
        for size in (3, 4):
            motifs = h.motifs_randesu(size=size)
            for cls, val in enumerate(motifs):
                if isinstance(val, float) and math.isnan(val):
                    continue  # igraph counts connected classes only
                F = ig.Graph.Isoclass(size, cls).get_edgelist()
                assert c.subgraphs(Pattern.from_edges(F, k=size), induced=True) == val, (size, cls)


# ----------------------------------------------------------------------------- kernels and their twins
def test_kernels_against_numpy_twins():
    rng = np.random.default_rng(7)
    for weighted in (False, True):
        A = random_graph(35, 0.3, rng, weighted=weighted)
        G = as_sparse_graph(A)
        c = SparseCounter(G)
        indptr, indices, data, _, split, perm = G.ranked()
        Ar = A[np.ix_(perm, perm)]
        rows = np.repeat(np.arange(G.n), np.diff(indptr))
        t = c._triangles()
        np.testing.assert_allclose(t, K.edge_triangles_ref(Ar)[rows, indices], rtol=1e-12)
        for k in (3, 4, 5):
            assert c._cliques(k)[0] == pytest.approx(K.cliques_ref(Ar, k), rel=1e-12)
        assert c._four_cycles()[0] == pytest.approx(K.four_cycles_ref(Ar), rel=1e-12)
        x = rng.random(G.n)
        y = c._spmv(x if weighted else (x * 10).astype(np.int64), 2, False)
        ref = K.spmv_ref(Ar, x if weighted else (x * 10).astype(np.int64), power=2, use_diag=False)
        np.testing.assert_allclose(y, ref, rtol=1e-12)
        # the generic enumeration with multiplicities, rooted at each orbit on top
        key = (4, ((0, 1, 2), (1, 2, 1), (2, 3, 1), (0, 3, 1), (0, 2, 1)), (0, 0, 0, 0))
        ref = K.enumerate_inj_ref(Ar, 4, key[1])
        assert c._enumerate(key) == pytest.approx(ref, rel=1e-12)
        assert c._enumerate_rooted(key, 0) == pytest.approx(ref, rel=1e-12)


def test_five_vertex_closed_forms_against_numpy_twins_and_enumeration():
    # K2,3, K2,3 plus an edge, the 4-wheel and K5 minus a path: their kernels against the dense
    # twins and the generic enumeration, on sparse and on dense random graphs
    from graphonflow.sparse.counts import _edge_k4, _key

    rng = np.random.default_rng(11)
    shapes = {
        "k23": [(0, 2), (0, 3), (0, 4), (1, 2), (1, 3), (1, 4)],
        "k23e": [(0, 2), (0, 3), (0, 4), (1, 2), (1, 3), (1, 4), (2, 4)],
        "wheel": [(0, 1), (0, 3), (0, 4), (1, 2), (1, 4), (2, 3), (2, 4), (3, 4)],
        "k5-p3": [(0, 1), (0, 3), (0, 4), (1, 3), (1, 4), (2, 3), (2, 4), (3, 4)],
    }
    twins = {"k23": K.k23_ref, "k23e": K.k23e_ref, "wheel": K.wheel4_ref}
    for n, p in ((40, 0.15), (30, 0.5), (25, 0.8)):
        A = random_graph(n, p, rng)
        c = SparseCounter(as_sparse_graph(A))
        plain = SparseCounter(as_sparse_graph(A))
        for name, edges in shapes.items():
            got = c.count(Pattern.from_edges(edges, k=5), "inj")
            assert c.method[canon(_key(edges, 5))] == "formula"
            assert got == plain._enumerate(_key(edges, 5)), name
            if name in twins:
                assert got == twins[name](A), name
        indptr, indices, _, _, split, perm = c.G.ranked()
        rows = np.repeat(np.arange(c.n), np.diff(indptr))
        t = c._triangles()
        want = K.edge_k4_ref(A[np.ix_(perm, perm)])[rows, indices]
        upper = (np.arange(indices.size) >= split[rows]) & (t >= 2)
        np.testing.assert_array_equal(_edge_k4(c)[upper], want[upper])


def test_per_vertex_and_per_edge_primitives():
    rng = np.random.default_rng(8)
    A = random_graph(30, 0.3, rng)
    G = as_sparse_graph(A)
    c = SparseCounter(G)
    _, _, _, _, _, perm = G.ranked()
    Ar = A[np.ix_(perm, perm)]
    n = G.n
    # per-vertex 4-cycles and 4-cliques by brute force
    c4v = np.zeros(n, dtype=np.int64)
    for S in itertools.combinations(range(n), 4):
        for a, b, cc, d in ((S[0], S[1], S[2], S[3]), (S[0], S[1], S[3], S[2]), (S[0], S[2], S[1], S[3])):
            if Ar[a, b] and Ar[b, cc] and Ar[cc, d] and Ar[d, a]:
                c4v[list(S)] += 1
    k4v = np.zeros(n, dtype=np.int64)
    for S in itertools.combinations(range(n), 4):
        if all(Ar[a, b] for a, b in itertools.combinations(S, 2)):
            k4v[list(S)] += 1
    total, pv, _ = c._four_cycles(per=True)
    np.testing.assert_array_equal(pv, c4v)
    assert total == c4v.sum() // 4
    np.testing.assert_array_equal(c._cliques(4, per_vertex=True)[1], k4v)


# ----------------------------------------------------------------------------- exactness
def test_k4_count_beyond_2_53_is_exact_on_a_multigraph():
    # K_6 with every edge of multiplicity 501 (an integer matrix, a multigraph): its K4 subgraphs
    # (one parallel edge chosen per pair) number C(6, 4) 501^6 > 2^53, an odd number that no
    # float64 holds; the clique kernel sums int64 products per root and Python ints across roots
    s, mult = 6, 501
    A = (np.ones((s, s), dtype=np.int64) - np.eye(s, dtype=np.int64)) * mult
    want = math.comb(s, 4) * mult**6
    assert want > 2**53 and int(float(want)) != want
    got = subgraph_count("K4", sp.csr_array(A))
    assert isinstance(got, int) and got == want
    # a union of three blocks with different multiplicities, and a 0/1 union of cliques
    blocks = [(6, 501), (7, 301), (5, 901)]
    B = sp.block_diag([(np.ones((k, k), dtype=np.int64) - np.eye(k, dtype=np.int64)) * c for k, c in blocks],
                      format="csr")
    want = sum(math.comb(k, 4) * c**6 for k, c in blocks)
    assert hom_count("K4", B, "inj") == 24 * want and int(float(24 * want)) != 24 * want
    cliques = sp.block_diag([np.ones((k, k)) - np.eye(k) for k in (40, 60, 90)], format="csr")
    assert subgraph_count(["K4", "K5", "C4"], cliques) == [
        sum(math.comb(k, 4) for k in (40, 60, 90)), sum(math.comb(k, 5) for k in (40, 60, 90)),
        sum(3 * math.comb(k, 4) for k in (40, 60, 90))]


def test_star_counts_beyond_int64_on_a_0_1_graph():
    # a star with d = 2^21 leaves (a simple graph, 2 million edges): inj(S3) = d (d-1) (d-2),
    # above 2^62, and hom(S3) = sum over vertices of deg^3 = d^3 + d = 2^63 + 2^21 (past int64)
    d = 2**21
    G = SparseGraph.from_edges(np.zeros(d, dtype=np.int64), np.arange(1, d + 1))
    assert hom_count("S3", G, "inj") == d * (d - 1) * (d - 2)
    assert hom_count("S3", G) == d**3 + d > 2**63
    assert hom_count("P3", G) == d**2 + d
    assert subgraph_count("S3", G) == math.comb(d, 3)


def test_exact_sums_helpers():
    a = np.array([2**61, 2**61, 2**61, -5], dtype=np.int64)
    assert xsum(a) == 3 * 2**61 - 5
    f = np.array([2**40, 3, 2**31], dtype=np.int64)
    assert xprod_sum(f, f) == 2**80 + 9 + 2**62


def test_integer_overflow_is_refused_not_wrapped():
    A = (np.ones((5, 5), dtype=np.int64) - np.eye(5, dtype=np.int64)) * 2**20
    with pytest.raises(OverflowError, match="K4: products of 6 entries of this integer matrix"):
        hom_count("K4", sp.csr_array(A))
    assert hom_count("K4", sp.csr_array(A.astype(float))) == pytest.approx(120 * 2.0**120)


# ----------------------------------------------------------------------------- memory and streaming
def test_memory_is_o_m_on_a_million_vertices():
    # a subprocess (a clean process high-water mark): 10^6 vertices, about 2 10^6 edges; counts of
    # K3, C4, K4, P4 and S3.  An n x n float64 matrix would be 8 TB; the peak of traced (NumPy)
    # allocations and the process's own peak RSS must stay within a few hundred bytes per edge.
    code = textwrap.dedent("""
        import resource, tracemalloc, numpy as np
        from graphonflow.sparse import SparseGraph, SparseCounter
        base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        rng = np.random.default_rng(0)
        n = 10**6
        u = rng.integers(0, n, 2 * n); v = rng.integers(0, n, 2 * n)
        keep = u != v
        key = np.unique(np.minimum(u, v)[keep] * n + np.maximum(u, v)[keep])
        tracemalloc.start()
        G = SparseGraph.from_edges(key // n, key % n, n=n)
        c = SparseCounter(G)
        vals = [c.count(F, "inj") for F in ("K3", "C4", "K4", "P4", "S3")]
        peak = tracemalloc.get_traced_memory()[1]
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base
        print(G.n, G.m, peak, rss * 1024, *vals)
    """)
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr
    n, m, peak, rss, *vals = (int(x) for x in res.stdout.split())
    assert n == 10**6 and m > 1.9 * 10**6
    assert peak < 200 * (n + m)  # about 0.8 GB here (measured: see docs/sparse.md)
    assert rss < 400 * (n + m)
    assert all(v >= 0 for v in vals)


def test_cli_density_on_a_large_edge_list_streams(tmp_path, capsys, monkeypatch):
    from graphonflow.__main__ import main

    # 10^6 vertices (a path through all of them, so each is named) and a planted K4: a dense
    # matrix would take 8 TB, so finishing at all shows that none is built; the dense reader and
    # the dense engine are also made to fail if they are reached
    n = 10**6
    path = tmp_path / "big.edges"
    lines = "\n".join(map("{} {}".format, range(n - 1), range(1, n)))
    k4 = "".join(f"{a} {b}\n" for a, b in itertools.combinations(range(10, 14), 2) if b != a + 1)
    path.write_text("# a path and a K4\n" + lines + "\n" + k4)
    import graphonflow.io as gio

    monkeypatch.setattr(gio, "_assemble", lambda *a: (_ for _ in ()).throw(AssertionError("dense read")))
    assert main(["density", "K4", str(path)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == f"graph: {path} (n = {n}, m = {n - 1 + 3}; sparse counts)   pattern: K4"
    assert "t_inj = " in out and "(inj = 24)" in out
    assert "copies of K4 (= inj / |Aut| = inj / 24): 1" in out
    assert "induced copies of K4 (= ind / |Aut| = ind / 24): 1" in out


def test_streaming_reader_agrees_with_the_dense_reader(tmp_path, monkeypatch):
    import graphonflow.io as gio

    rng = np.random.default_rng(11)
    toks = ["0", "1", "2", "3", "10", "a", "0.5", "x", "007", "+2", "1_0"]
    for trial in range(300):
        lines = []
        for _ in range(rng.integers(0, 8)):
            k = int(rng.choice([1, 2, 2, 3, 4]))
            f = [str(rng.choice(toks[:5] if rng.random() < 0.8 else toks)) for _ in range(k)]
            if k == 3:
                f[2] = str(rng.choice(["0.5", "1", "-1", "nan", "w"]))
            s = str(rng.choice([" ", ",", "\t"])).join(f) + (" # c" if rng.random() < 0.1 else "")
            lines.append(s)
        if rng.random() < 0.3:
            lines.insert(0, str(rng.choice(["source,target", "u v weight", "a b"])))
        eol = str(rng.choice(["\n", "\r\n", "\r"]))
        f = tmp_path / f"t{trial}.txt"
        f.write_text(eol.join(lines) + eol, newline="")
        monkeypatch.setattr(gio, "_FIRST", int(rng.choice([1, 3, 1 << 16])))
        monkeypatch.setattr(gio, "_CHUNK", int(rng.choice([1, 7, 1 << 24])))
        for dup in ("error", "sum", "last"):
            try:
                A, i1 = gio.read_graph(f, duplicates=dup, return_info=True)
            except ValueError as e:
                with pytest.raises(ValueError) as e2:
                    gio.read_graph(f, duplicates=dup, sparse=True)
                assert str(e2.value) == str(e)
                continue
            G, i2 = gio.read_graph(f, duplicates=dup, return_info=True, sparse=True)
            np.testing.assert_array_equal(G.toarray(), A)
            assert list(i2["labels"]) == i1["labels"]
            assert (i2["header"], i2["repeated"], i2["range"]) == (i1["header"], i1["repeated"], i1["range"])


def test_networkx_is_read_without_a_dense_matrix(monkeypatch):
    def refuse(*a, **k):
        raise AssertionError("densified")

    monkeypatch.setattr(nx, "to_numpy_array", refuse)
    G = nx.barabasi_albert_graph(5000, 3, seed=1)
    t = sum(nx.triangles(G).values()) // 3
    assert gf.hom_density("K3", G, kind="inj") == pytest.approx(6 * t / math.perm(5000, 3), rel=1e-12)
    assert gf.subgraph_count("K3", G) == t


# ----------------------------------------------------------------------------- dispatch and errors
def test_hom_density_on_scipy_sparse_matches_dense():
    rng = np.random.default_rng(2)
    A = random_graph(80, 0.08, rng, weighted=True)
    S = sp.csr_array(A)
    for kind in ("hom", "inj", "ind"):
        np.testing.assert_allclose(gf.hom_density(["K3", "C4", "P4", "C5"], S, kind=kind),
                                   gf.hom_density(["K3", "C4", "P4", "C5"], A, kind=kind), rtol=1e-10)
    # coo, csc and a sparse matrix (not array) read the same
    for M in (sp.coo_matrix(A), sp.csc_array(A), sp.csr_matrix(A)):
        assert gf.hom_density("C4", M) == pytest.approx(gf.hom_density("C4", A), rel=1e-12)
    t = gf.as_target(S)
    assert t.kind == "matrix" and np.array_equal(t.values, A)


def test_sparse_input_errors_name_the_argument():
    with pytest.raises(ValueError, match=r"G is not symmetric: entry \(0, 1\) is stored but \(1, 0\) is not"):
        hom_count("K3", sp.csr_array(np.array([[0, 1], [0, 0]])))
    with pytest.raises(ValueError, match=r"G is not symmetric: entry \(0, 1\) is 1 but entry \(1, 0\) is 2"):
        hom_count("K3", sp.csr_array(np.array([[0.0, 1.0], [2.0, 0.0]])))
    with pytest.raises(ValueError, match="G must be a square matrix, got shape"):
        hom_count("K3", sp.csr_array(np.ones((2, 3))))
    with pytest.raises(ValueError, match="G contains NaN or infinite entries"):
        hom_count("K3", sp.csr_array(np.array([[0, np.nan], [np.nan, 0]])))
    with pytest.raises(ValueError, match="G must be an undirected networkx graph"):
        hom_count("K3", nx.DiGraph([(0, 1)]))
    with pytest.raises(TypeError, match="G must be a scipy.sparse matrix, a networkx graph"):
        hom_count("K3", "graph.txt")
    with pytest.raises(ValueError, match="kind must be one of"):
        hom_count("K3", nx.path_graph(3), kind="copies")
    big = sp.eye_array(10**5, format="csr")
    with pytest.raises(ValueError, match=r"W is a sparse matrix with n = 100000 vertices; this function needs it "
                                         r"as a dense n x n matrix \(74.5 GiB\)"):
        gf.as_target(big)


def test_cost_is_estimated_before_work():
    G = nx.barabasi_albert_graph(20000, 5, seed=1)
    c = SparseCounter(G)
    assert c.cost("K3") < 1e8 and c.cost("C5", "inj") < 1e9
    assert c.cost("C12", "ind") > 1e14
    with pytest.raises(gf.hom.CostError, match=r"t_ind\(C12\) on a sparse graph with n = 20000, m = 99975 costs "
                                               r"about .* by the sparse engine, above max_cost=1e\+14"):
        gf.hom_density("C12", G, kind="ind")
    assert c._inj == {}  # nothing was counted


def test_batches_share_primitives_and_orbits(monkeypatch):
    calls = []
    orig = K.edge_triangles
    monkeypatch.setattr(K, "edge_triangles", lambda *a: calls.append(1) or orig(*a))
    S = as_sparse_graph(nx.gnp_random_graph(300, 0.05, seed=9))
    vals = hom_count(["K3", "C4", "K4", "P4", [(0, 1), (1, 2), (0, 2), (0, 3)]], S, kind="ind")
    assert len(vals) == 5 and all(isinstance(v, int) for v in vals)
    assert len(calls) == 1  # per-edge triangles once for the whole batch
    prim = S._cache["counter"]._prim
    assert {"tri", ("c4", False), ("cliques", 4, False)} <= set(prim)
    key = canon(key_of_pattern(Pattern.from_name("K2,3")))
    assert sorted(len(o) for o in vertex_orbits(key)) == [2, 3]


def test_real_networks_example_large_graph():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "examples" / "real_networks.py"
    spec = importlib.util.spec_from_file_location("real_networks", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    out = mod.large_network(quick=True)  # 100,000 edges; the full run has 1,200,000
    assert out[("K2", "copies")] == 100_000
    assert out[("K3", "copies")] == 14141  # checked against networkx.triangles inside
    assert out[("K3", "t")] < 1e-7 and out[("C5", "t")] < 1e-12  # t -> 0: densities say little here
    assert out[("C4", "copies")] == 457877 and out[("K4", "copies")] == 3008


def test_oriented_triangles_both_layouts_with_and_without_prefetch():
    rng = np.random.default_rng(9)
    A = random_graph(300, 0.05, rng)
    g = as_sparse_graph(A)
    deg = g.degrees
    want_out = []  # out(u): the neighbours above u in (degree, index), in row order
    for u in range(g.n):
        row = g.indices[g.indptr[u]:g.indptr[u + 1]]
        want_out.append(row[(deg[row] > deg[u]) | ((deg[row] == deg[u]) & (row > u))])
    # in place: out(u) at the start of row u
    outend = np.empty(g.n, dtype=np.int64)
    inplace = np.zeros(g.indices.size + 1, dtype=g.indices.dtype)
    K.orient_inplace(g.indptr, g.indices, outend, inplace)
    # packed: counts, prefix sum, fill
    outdeg = np.empty(g.n, dtype=np.int64)
    up = np.empty(g.indices.size, dtype=np.bool_)
    K.orient_counts(g.indptr, g.indices, deg, outdeg, up)
    outptr = np.concatenate([[0], np.cumsum(outdeg)])
    packed = np.zeros(int(outptr[-1]) + 1, dtype=g.indices.dtype)
    K.orient_fill(g.indptr, g.indices, up, outptr, packed)
    assert outptr[-1] == g.nnz // 2
    for u in range(g.n):
        assert (inplace[g.indptr[u]:outend[u]] == want_out[u]).all()
        assert (packed[outptr[u]:outptr[u + 1]] == want_out[u]).all()
    want = int(np.trace(A @ A @ A)) // 6
    for layout in ((g.indptr, outend, inplace), (outptr, outptr[1:], packed)):
        for ahead in (0, 1, 8):
            out = np.zeros(16, dtype=np.int64)
            mark = np.zeros((2, g.n), dtype=np.uint8)
            K.triangles_oriented(*layout, mark, out, ahead)
            assert int(out.sum()) == want and out[0] > 0 and out[8] > 0  # both chunks found some
            assert not mark.any()  # the marks are cleared after each root


def test_triangle_total_takes_both_layouts(monkeypatch):
    import graphonflow.sparse._kernels as kern
    from graphonflow.sparse import SparseCounter

    rng = np.random.default_rng(4)
    A = random_graph(400, 0.04, rng)
    want = int(np.trace(A @ A @ A)) // 6
    got = []
    for min_n in (10**9, 1):  # in place (small graphs), then packed with prefetch (large ones)
        monkeypatch.setattr(kern, "PREFETCH_MIN_N", min_n)
        got.append(SparseCounter(as_sparse_graph(A)).subgraphs("K3"))
    assert got == [want, want]


def test_dense_switch_reads_fill_size_and_pattern():
    from graphonflow.sparse.dispatch import DENSE_MAX_N, use_dense

    n = 1000
    full = int(0.3 * n * (n - 1))
    assert use_dense(n, full) and not use_dense(n, int(0.1 * n * (n - 1)))
    assert not use_dense(DENSE_MAX_N + 1, int(0.3 * DENSE_MAX_N ** 2))
    # by matrix products (n^3) the dense engine wins on dense graphs; K4 (n^4) goes to the counts
    assert use_dense(n, full, [gf.as_pattern("K3"), gf.as_pattern("C5")])
    assert not use_dense(n, full, [gf.as_pattern("K3"), gf.as_pattern("K4")])
    assert not use_dense(n, full, [gf.as_pattern("C4")], "ind")
    # and the routing follows: a dense K4 request is counted sparsely, with the same value
    rng = np.random.default_rng(5)
    A = random_graph(60, 0.5, rng)
    S = sp.csr_matrix(A)
    got = gf.hom_density("K4", S)
    assert got == pytest.approx(HomWorkspace(A, max_cost=None).density("K4"), rel=1e-12)


def test_generators():
    from graphonflow.sparse.generators import barabasi_albert_graph, chung_lu_graph

    G = chung_lu_graph(5000, 20000, 2.5, rng=3)
    assert (G.n, G.m) == (5000, 20000) and G.kind == "binary" and not G.has_loops
    assert chung_lu_graph(5000, 20000, 2.5, rng=3).indices.tolist() == G.indices.tolist()  # seeded
    B = barabasi_albert_graph(3000, 4, rng=5)
    assert B.m == (3000 - 4) * 4 and int(B.degrees[4:].min()) >= 4
    ref = nx.barabasi_albert_graph(3000, 4, seed=5)
    assert abs(int(B.degrees.max()) - max(d for _, d in ref.degree())) < 150  # the same model
    with pytest.raises(ValueError, match="exponent must be > 2"):
        chung_lu_graph(10, 5, 2.0)


def test_large_networkx_graph_with_big_weights_warns_like_the_dense_path():
    G = nx.barabasi_albert_graph(2500, 2, seed=3)
    for u, v in G.edges:
        G[u][v]["weight"] = 3.0
    with pytest.warns(UserWarning, match="edge attribute 'weight' holds values up to 3 \\(> 1\\)"):
        val = gf.hom_density("K3", G, kind="inj")
    t = sum(nx.triangles(G).values()) // 3
    assert val == pytest.approx(27 * 6 * t / math.perm(2500, 3), rel=1e-12)
    assert gf.hom_density("K3", G, kind="inj", weight=None) == pytest.approx(6 * t / math.perm(2500, 3), rel=1e-12)

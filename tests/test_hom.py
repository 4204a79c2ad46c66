"""Homomorphism densities and gradients against brute force, closed forms and finite differences."""

import math

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import graphonflow.hom as H
from graphonflow import HomWorkspace, Pattern, StepGraphon, hom_density, hom_density_grad
from graphonflow.patterns import as_pattern

# every graph on 1..5 vertices, up to isomorphism (networkx's atlas holds all graphs up to 7 nodes)
SMALL_PATTERNS = [
    Pattern.from_networkx(G) for G in nx.graph_atlas_g() if 1 <= G.number_of_nodes() <= 5
]


def sym_random(n, rng, lo=0.0, hi=1.0):
    A = rng.uniform(lo, hi, size=(n, n))
    return (A + A.T) / 2


def brute(F, B, w=None, kind="hom", graph=True):
    """Sum over all maps V(F) -> [m], vectorised with index grids."""
    F = as_pattern(F)
    m = B.shape[0]
    k = F.k
    idx = np.indices((m,) * k).reshape(k, -1)
    E = set(F.edges)
    val = np.ones(idx.shape[1])
    for a in range(k):
        for b in range(a + 1, k):
            if (a, b) in E:
                val *= B[idx[a], idx[b]]
            elif kind == "ind":
                val *= 1.0 - B[idx[a], idx[b]]
    if graph and kind != "hom":
        inj = np.ones(idx.shape[1], dtype=bool)
        for a in range(k):
            for b in range(a + 1, k):
                inj &= idx[a] != idx[b]
        return val[inj].sum() / math.perm(m, k)
    if w is None:
        w = np.full(m, 1.0 / m)
    for a in range(k):
        val *= w[idx[a]]
    return val.sum()


def test_atlas_has_all_small_graphs():
    # 1 + 2 + 4 + 11 + 34 non-isomorphic graphs on 1..5 vertices
    assert len(SMALL_PATTERNS) == 52


@pytest.mark.parametrize("kind", ["hom", "inj", "ind"])
def test_brute_force_matrix_all_small_patterns(kind):
    rng = np.random.default_rng(11)
    for n in (5, 7):
        A = sym_random(n, rng)
        ws = HomWorkspace(A)
        for F in SMALL_PATTERNS:
            got = ws.density(F, kind)
            want = brute(F, A, kind=kind, graph=True)
            assert got == pytest.approx(want, rel=1e-11, abs=1e-14), (str(F.edges), kind, n)


@pytest.mark.parametrize("kind", ["hom", "inj", "ind"])
def test_brute_force_weighted_step_graphon(kind):
    rng = np.random.default_rng(12)
    m = 6
    B = sym_random(m, rng, -0.5, 1.0)  # signed values: nothing assumes W >= 0
    w = rng.dirichlet(np.ones(m))
    ws = HomWorkspace(StepGraphon(B, w))
    for F in SMALL_PATTERNS:
        got = ws.density(F, kind)
        # graphon reading: inj is hom, ind integrates over all maps
        want = brute(F, B, w, kind="ind" if kind == "ind" else "hom", graph=False)
        assert got == pytest.approx(want, rel=1e-10, abs=1e-14), (str(F.edges), kind)


def test_hom_same_for_matrix_and_uniform_step_graphon():
    rng = np.random.default_rng(3)
    A = sym_random(6, rng)
    for F in ["K3", "C4", "K4", "K2,3", "S3", [(0, 1), (1, 2), (2, 0), (2, 3)]]:
        assert hom_density(F, A) == pytest.approx(hom_density(F, StepGraphon(A)), rel=1e-13)


def test_subgraph_counts_against_networkx():
    rng = np.random.default_rng(5)
    G = nx.gnp_random_graph(12, 0.45, seed=int(rng.integers(1 << 30)))
    A = nx.to_numpy_array(G)
    n = 12
    for name in ["K3", "P3", "C4", "S3", "P4", "K4", "K1,3", "C5", "K2,3"]:
        F = as_pattern(name).to_networkx()
        gm = nx.algorithms.isomorphism.GraphMatcher
        mono = sum(1 for _ in gm(G, F).subgraph_monomorphisms_iter())
        induced = sum(1 for _ in gm(G, F).subgraph_isomorphisms_iter())
        k = F.number_of_nodes()
        assert hom_density(name, A, "inj") * math.perm(n, k) == pytest.approx(mono, rel=1e-10, abs=1e-8)
        assert hom_density(name, G, "ind") * math.perm(n, k) == pytest.approx(induced, rel=1e-10, abs=1e-8)
    # triangles: networkx counts each triangle at each of its 3 vertices; 6 injective maps per triangle
    tri = sum(nx.triangles(G).values()) / 3
    assert hom_density("K3", A, "inj") * math.perm(n, 3) == pytest.approx(6 * tri)


def test_networkx_target_with_weights():
    G = nx.Graph()
    G.add_edge(0, 1, weight=0.5)
    G.add_edge(1, 2, weight=2.0)
    A = np.array([[0, 0.5, 0], [0.5, 0, 2.0], [0, 2.0, 0]])
    assert hom_density("P3", G) == pytest.approx(hom_density("P3", A))
    assert hom_density("K2", G, weight=None) == pytest.approx(4 / 9)


@pytest.mark.parametrize("name", ["K2", "P3", "K3", "C4", "S3", "P4", "C5", "K4", "K2,3", "C6", "S4"])
def test_closed_form_xy(name):
    F = as_pattern(name)
    closed = math.prod(1.0 / (d + 1) for d in F.degrees)
    # xy is a polynomial of degree <= deg per variable: 8 Gauss-Legendre nodes are exact
    assert hom_density(name, lambda x, y: x * y, quad_nodes=8) == pytest.approx(closed, rel=1e-13)


@pytest.mark.parametrize("name", ["K2", "K3", "C5", "K4", "K2,3", "S3"])
def test_constant_graphon(name):
    p = 0.37
    F = as_pattern(name)
    assert hom_density(name, lambda x, y: np.full_like(x, p), quad_nodes=5) == pytest.approx(p**F.n_edges)
    G = hom_density_grad(name, lambda x, y: np.full_like(x, p), quad_nodes=5)
    # D t(F) of a constant is e(F) p^(e-1) everywhere
    assert np.allclose(G, F.n_edges * p ** (F.n_edges - 1), rtol=1e-13)


def test_quadrature_converges_spectrally():
    def f(x, y):
        return 0.5 + 0.4 * np.cos(2 * np.pi * (x - y)) * np.exp(-(x + y))

    ref = hom_density("C5", f, quad_nodes=80)
    errs = [abs(hom_density("C5", f, quad_nodes=q) - ref) for q in (2, 4, 6, 8, 10)]
    # geometric decay: each two extra nodes gain more than an order of magnitude
    assert errs[0] > 1e-3
    for a, b in zip(errs, errs[1:]):
        assert b < 0.02 * a
    assert hom_density("C5", f, quad_nodes=14) == pytest.approx(ref, abs=1e-15)


def fd_grad(F, B, w):
    """Block values of the L2 gradient by central differences along symmetric perturbations."""
    m = B.shape[0]
    h = 1e-6
    G = np.zeros_like(B)
    for i in range(m):
        for j in range(i, m):
            E = np.zeros_like(B)
            E[i, j] = E[j, i] = h
            d = (
                HomWorkspace(StepGraphon(B + E, w)).density(F)
                - HomWorkspace(StepGraphon(B - E, w)).density(F)
            ) / (2 * h)
            # dt = sum over the touched cells of w_i w_j DF_ij * h (two cells off the diagonal)
            G[i, j] = G[j, i] = d / (w[i] * w[j] * (1 if i == j else 2))
    return G


GRAD_PATTERNS = ["K2", "P3", "K3", "C4", "S3", "P4", "K4", "C5", "K2,3",
                 [(0, 1), (2, 3)], [(0, 1), (1, 2), (2, 0), (2, 3)], "E3"]


@pytest.mark.parametrize("F", GRAD_PATTERNS, ids=str)
def test_gradient_finite_differences_matrix(F):
    rng = np.random.default_rng(7)
    n = 6
    A = sym_random(n, rng)
    G = hom_density_grad(F, A)
    assert np.array_equal(G, G.T)
    assert np.max(np.abs(G - fd_grad(F, A, np.full(n, 1.0 / n)))) < 1e-7
    # n^2 times the Frobenius gradient on the full matrix (A_ij, A_ji separate coordinates),
    # with t written as a plain formula that also accepts a non-symmetric matrix
    formulas = {
        "K3": lambda M: np.trace(M @ M @ M) / n**3,
        "C4": lambda M: np.trace(np.linalg.matrix_power(M, 4)) / n**4,
        "C5": lambda M: np.trace(np.linalg.matrix_power(M, 5)) / n**5,
        "K4": lambda M: np.einsum("ij,ik,il,jk,jl,kl->", M, M, M, M, M, M) / n**4,
    }
    if isinstance(F, str) and F in formulas:
        h = 1e-6
        frob = np.zeros_like(A)
        for i in range(n):
            for j in range(n):
                E = np.zeros_like(A)
                E[i, j] = h
                frob[i, j] = (formulas[F](A + E) - formulas[F](A - E)) / (2 * h)
        assert np.max(np.abs(G - n**2 * frob)) < 1e-7


@pytest.mark.parametrize("F", GRAD_PATTERNS, ids=str)
def test_gradient_finite_differences_weighted(F):
    rng = np.random.default_rng(8)
    m = 5
    B = sym_random(m, rng, -0.3, 1.0)
    w = rng.dirichlet(np.ones(m))
    G = hom_density_grad(F, StepGraphon(B, w))
    FD = fd_grad(F, B, w)
    assert np.max(np.abs(G - FD)) < 1e-6 * max(1.0, np.max(np.abs(G)))


def test_gradient_closed_forms():
    rng = np.random.default_rng(9)
    n = 8
    A = sym_random(n, rng)
    d = A.mean(axis=1)
    assert np.allclose(hom_density_grad("K2", A), 1.0)
    assert np.allclose(hom_density_grad("P3", A), d[:, None] + d[None, :], rtol=1e-13)
    assert np.allclose(hom_density_grad("K3", A), 3 * A @ A / n, rtol=1e-13)
    assert np.allclose(hom_density_grad("C5", A), 5 * np.linalg.matrix_power(A, 4) / n**3, rtol=1e-12)


def test_relabelling_invariance():
    rng = np.random.default_rng(10)
    n = 7
    A = sym_random(n, rng)
    perm = rng.permutation(n)
    Ap = A[np.ix_(perm, perm)]
    for F in ["K3", "C4", "K4", "S3", "K2,3", "P4"]:
        for kind in ("hom", "inj", "ind"):
            assert hom_density(F, Ap, kind) == pytest.approx(hom_density(F, A, kind), rel=1e-12)
        G = hom_density_grad(F, A)
        assert np.allclose(hom_density_grad(F, Ap), G[np.ix_(perm, perm)], rtol=1e-12)
    # relabelling the pattern changes nothing either
    F = as_pattern([(0, 1), (1, 2), (2, 0), (2, 3)])
    Fp = F.relabel([3, 1, 0, 2])
    assert hom_density(Fp, A) == pytest.approx(hom_density(F, A), rel=1e-13)
    assert np.allclose(hom_density_grad(Fp, A), hom_density_grad(F, A), rtol=1e-12)


def test_multiplicativity_disjoint_union():
    rng = np.random.default_rng(13)
    A = sym_random(6, rng)
    S = StepGraphon(sym_random(4, rng), rng.dirichlet(np.ones(4)))
    for W in (A, S):
        for F1, F2 in [("K3", "P3"), ("C4", "K2"), ("K4", "S3"), ("K2,3", "K3")]:
            a, b = as_pattern(F1), as_pattern(F2)
            assert hom_density(a.disjoint_union(b), W) == pytest.approx(
                hom_density(a, W) * hom_density(b, W), rel=1e-12
            )


def test_isolated_vertices_contribute_one():
    rng = np.random.default_rng(14)
    A = sym_random(6, rng)
    G = nx.Graph([(0, 1), (1, 2), (2, 0)])
    G.add_node(3)
    assert hom_density(G, A) == pytest.approx(hom_density("K3", A))
    assert hom_density("E4", A) == 1.0
    assert np.all(hom_density_grad("E2", A) == 0.0)


def test_eight_vertex_patterns():
    rng = np.random.default_rng(15)
    n = 4
    A = sym_random(n, rng)
    petersen_like = nx.circulant_graph(8, [1, 3])  # 4-regular on 8 vertices, treewidth > 2
    for F in ["C8", "K8", "P8", "K4,4", petersen_like]:
        assert hom_density(F, A) == pytest.approx(brute(F, A), rel=1e-11)
    G = hom_density_grad(petersen_like, A)
    FD = fd_grad(petersen_like, A, np.full(n, 1.0 / n))
    assert np.max(np.abs(G - FD)) < 1e-7
    assert hom_density("K8", np.ones((9, 9)) - np.eye(9), "inj") == pytest.approx(1.0)


def test_sliced_contraction_matches(monkeypatch):
    rng = np.random.default_rng(16)
    A = sym_random(6, rng)
    w = rng.dirichlet(np.ones(6))
    F = [(0, 1), (1, 2), (2, 3), (3, 0), (0, 2), (1, 3), (3, 4)]  # K4 with a pendant edge
    want = hom_density(F, StepGraphon(A, w))
    want_g = hom_density_grad(F, StepGraphon(A, w))
    monkeypatch.setattr(H, "MAX_INTERMEDIATE", 4)
    H._PLAN_CACHE.clear()
    assert hom_density(F, StepGraphon(A, w)) == pytest.approx(want, rel=1e-12)
    assert np.allclose(hom_density_grad(F, StepGraphon(A, w)), want_g, rtol=1e-12)
    assert hom_density(F, A) == pytest.approx(brute(F, A), rel=1e-12)
    H._PLAN_CACHE.clear()


def test_batch_shares_square(monkeypatch):
    rng = np.random.default_rng(17)
    A = sym_random(50, rng)
    calls = []
    real = H.sym_square

    def counting(alpha, X, **kw):
        calls.append(X.shape)
        return real(alpha, X, **kw)

    monkeypatch.setattr(H, "sym_square", counting)
    vals, grads = hom_density_grad(["K3", "C4"], A, return_density=True)
    # A^2 once (K3 gradient, both values); C4 gradient adds one general product, no second square
    assert len(calls) == 1
    assert vals[0] == pytest.approx(np.trace(A @ A @ A) / 50**3)
    assert vals[1] == pytest.approx(np.trace(np.linalg.matrix_power(A, 4)) / 50**4)
    assert np.allclose(grads[1], 4 * np.linalg.matrix_power(A, 3) / 50**2)
    assert np.allclose(hom_density(["K3", "C4", [(0, 1)]], A), [vals[0], vals[1], A.mean()])


def test_batch_versus_edge_list():
    A = np.eye(3)
    # a list of pairs is one edge list; a list of patterns is a batch
    assert np.isscalar(hom_density([(0, 1), (1, 2)], A))
    out = hom_density([[(0, 1)], "K3"], A)
    assert out.shape == (2,)


def test_float32_stays_float32():
    rng = np.random.default_rng(18)
    A = sym_random(40, rng).astype(np.float32)
    G = hom_density_grad("K3", A)
    assert G.dtype == np.float32
    assert np.allclose(G, 3 * (A.astype(float) @ A.astype(float)) / 40, rtol=1e-5)


def test_large_cycle_and_k4_paths_agree_with_generic():
    rng = np.random.default_rng(19)
    n = 900  # above the syrk threshold
    A = sym_random(n, rng)
    ws = HomWorkspace(A)
    Q2 = ws.path_power(2)
    assert np.array_equal(Q2, Q2.T)
    assert np.allclose(Q2, A @ A / n, rtol=1e-12)
    assert ws.density("K3") == pytest.approx(np.vdot(A @ A, A) / n**3, rel=1e-12)
    small = sym_random(30, rng)
    ws = HomWorkspace(small)
    K4 = as_pattern("K4")
    generic = float(ws._contract(4, [(a, b, ws.B) for a, b in K4.edges], [], ()))
    assert ws.density("K4") == pytest.approx(generic, rel=1e-12)


def test_edge_orbits():
    assert as_pattern("K4").edge_orbits() == (((0, 1), 6),)
    assert sorted(s for _, s in as_pattern("P4").edge_orbits()) == [1, 2]
    tri_pendant = as_pattern([(0, 1), (1, 2), (2, 0), (2, 3)])
    assert sorted(s for _, s in tri_pendant.edge_orbits()) == [1, 1, 2]


@settings(max_examples=25, deadline=None)
@given(st.integers(min_value=0, max_value=10_000), st.sampled_from(["K3", "C4", "P4", "K2,3", "S3"]))
def test_sidorenko_goodman_inequalities(seed, name):
    rng = np.random.default_rng(seed)
    A = sym_random(8, rng)
    d = hom_density("K2", A)
    p3 = hom_density("P3", A)
    assert hom_density("C4", A) >= p3**2 - 1e-12 >= d**4 - 2e-12
    # Goodman's bound holds for graphons with values in [0, 1]
    assert hom_density("K3", A) >= d * (2 * d - 1) - 1e-12


# ------------------------------------------------------------------------ errors
@pytest.mark.parametrize(
    "bad, err",
    [
        ("", ValueError),
        ("X3", ValueError),
        ("C2", ValueError),
        ([(0, 0)], ValueError),
        ([(0, 1), (1, 0)], ValueError),
        (nx.DiGraph([(0, 1)]), ValueError),
        (nx.MultiGraph([(0, 1), (0, 1)]), ValueError),
        (nx.Graph([(0, 0)]), ValueError),
        ([], ValueError),
        (3.5, TypeError),
    ],
)
def test_bad_patterns(bad, err):
    with pytest.raises(err):
        hom_density(bad, np.eye(3))


def test_bad_targets():
    with pytest.raises(ValueError, match="not symmetric"):
        hom_density("K3", np.array([[0.0, 1.0], [0.0, 0.0]]))
    with pytest.raises(ValueError, match="NaN"):
        hom_density("K3", np.array([[0.0, np.nan], [np.nan, 0.0]]))
    A = np.ones((100, 100))
    A[3, 70] = np.inf
    A[70, 3] = np.inf
    with pytest.raises(ValueError, match="NaN"):
        hom_density("K3", A)
    with pytest.raises(ValueError, match="square"):
        hom_density("K3", np.ones((2, 3)))
    with pytest.raises(ValueError, match="kind"):
        hom_density("K3", np.eye(3), kind="induced")
    assert hom_density("K4", np.ones((3, 3)), kind="inj") == 0.0  # no injective maps (see below)
    with pytest.raises(ValueError, match="widths"):
        StepGraphon(np.eye(2), [0.5, 0.6])
    with pytest.raises(ValueError, match="symmetric"):
        hom_density("K3", lambda x, y: x)
    with pytest.raises(ValueError, match="directed"):
        hom_density("K3", nx.DiGraph([(0, 1)]))
    with pytest.raises(TypeError):
        hom_density("K3", "not a graph")


@pytest.mark.parametrize("scale", [1e-11, 1e-3, 1.0, 1e6])
@pytest.mark.parametrize("n", [2, 80])  # both branches of the check (small: NumPy, large: kernel)
def test_symmetry_check_is_relative_to_the_scale(scale, n):
    """A defect as large as the entries is an error at every scale, rounding is accepted."""
    rng = np.random.default_rng(3)
    A = sym_random(n, rng) * scale
    A[0, 1], A[1, 0] = scale, 0.0  # not symmetric, at the scale of the matrix
    with pytest.raises(ValueError, match="not symmetric"):
        hom_density("P3", A)
    A[1, 0] = scale * (1 + 1e-13)  # symmetric up to rounding
    t = hom_density("P3", A)
    B = np.triu(A) + np.triu(A, 1).T
    assert t == pytest.approx(hom_density("P3", B), rel=1e-10)
    with pytest.raises(ValueError, match="not symmetric"):
        hom_density("P3", np.array([[0.0, 1e-11], [0.0, 0.0]]))
    assert hom_density("P3", np.zeros((n, n))) == 0.0


def test_step_graphon_does_not_freeze_caller_arrays():
    B = np.array([[0.2, 0.3], [0.3, 0.4]])
    w = np.array([0.25, 0.75])
    S = StepGraphon(B, w)
    B[0, 0] = 0.9  # still writable, and the graphon keeps its own values
    w[0] = 0.5
    assert S.values[0, 0] == 0.2 and S.widths[0] == 0.25
    with pytest.raises(ValueError):
        S.values[0, 0] = 1.0


# --------------------------------------------------------------- networkx weights (issue 12)
def test_karate_club_weights_warn_for_inj_and_ind():
    """networkx's karate club stores interaction counts (up to 7) as 'weight': t_inj(K3) then
    weighs every triangle by a product of counts (10926 instead of 270 = 6 x 45 triangles)."""
    import warnings

    G = nx.karate_club_graph()
    n = G.number_of_nodes()
    with pytest.warns(UserWarning, match=r"edge attribute 'weight' holds values up to 7 \(> 1\).*weight=None"):
        weighted = hom_density("K3", G, kind="inj")
    assert weighted * math.perm(n, 3) == pytest.approx(10926, rel=1e-12)
    with pytest.warns(UserWarning, match=r"t_ind\(C4\)"):
        HomWorkspace(G).density("C4", kind="ind")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # weight=None, and the weighted hom density, are silent
        assert hom_density("K3", G, kind="inj", weight=None) * math.perm(n, 3) == pytest.approx(270, rel=1e-12)
        assert hom_density("K3", G, kind="ind", weight=None) * math.perm(n, 3) == pytest.approx(270, rel=1e-12)
        hom_density("K3", G)
        A01 = nx.to_numpy_array(G, weight=None)
        np.testing.assert_allclose(hom_density_grad("K3", G, weight=None), hom_density_grad("K3", A01), rtol=1e-13)
        assert HomWorkspace(G, weight=None).density("K3", "inj") == hom_density("K3", A01, kind="inj")


# --------------------------------------------------------------- k > n (issue 12)
def test_injective_density_with_more_vertices_than_the_graph_is_zero():
    """No injective map V(F) -> V(G) exists, the sum is empty: t_inj = t_ind = 0, at once."""
    assert hom_density("K4", np.ones((3, 3)), kind="inj") == 0.0
    assert hom_density("C6", np.full((5, 5), 0.5), kind="ind") == 0.0
    assert hom_density(["C11", "K2"], np.ones((5, 5)) - np.eye(5), kind="inj").tolist() == pytest.approx([0.0, 1.0])
    assert H.contraction_cost("C11", 5, "inj") == 0.0
    # a step graphon is a graphon: its injective density is the homomorphism density
    S = StepGraphon(np.full((3, 3), 0.5))
    assert hom_density("K4", S, kind="inj") == pytest.approx(0.5**6)


# --------------------------------------------------------------- costs (issue 12)
def test_contraction_cost_closed_forms():
    assert H.contraction_cost("K3", 100) == 100**3 + 100**2  # B^2, then <B^2, B>
    assert H.contraction_cost("C4", 10) == 1100.0
    assert H.contraction_cost("C5", 10) == 2 * 10**3 + 10**2  # B^2 and B^3
    assert H.contraction_cost("P4", 10) == 3 * 10**2  # three matrix-vector products
    assert H.contraction_cost("E3", 10) == 0.0
    assert H.contraction_cost("K4", 10) == 1e4
    assert H.contraction_cost([(0, 1), (1, 2), (0, 2), (3, 4), (4, 5), (3, 5)], 10) == 2 * 1100.0  # K3 + K3
    # K_k by elimination: n^k + n^(k-1) + ... + n^2 (the last vertex left), + 1 for the scalar
    assert H.contraction_cost("K5", 10) == 10**5 + 10**4 + 10**3 + 10**2 + 10 + 1
    assert H.contraction_cost("K33", 32) == pytest.approx(sum(32.0**j for j in range(34)), rel=1e-12)
    assert H.contraction_cost("K2,3", 10) == 10**3 * 3 + 10**2 + 10 + 1
    # gradients: C5 needs Q_4 (B^2, B^4): two products; K4 the diamond table, n^4
    assert H.contraction_cost("C5", 10, gradient=True) == 2000.0
    assert H.contraction_cost("K4", 10, gradient=True) == 1e4
    assert H.contraction_cost("P3", 10, gradient=True) == 2 * 3 * 100
    # inj on a graph: one visit per partition into independent sets (C4: 4 of them) plus quotients
    c = H.contraction_cost("C4", 10, "inj")
    # the partitions: all singletons (C4 itself), {0, 2} or {1, 3} merged (a path with doubled
    # edges: 2 n^2 + n + 1 by elimination), both merged (one pair with 4 parallel edges)
    assert c == 4 * H.PARTITION_VISIT_COST + 1100.0 + 2 * (2 * 10**2 + 10 + 1) + (10**2 + 10 + 1)
    assert H.contraction_cost("C4", 10, "inj", graph=False) == 1100.0
    assert as_pattern("C4").cost(10, "inj") == c
    assert H.contraction_cost("C100", 200, "inj") > 1e120  # B_100 partitions
    with pytest.raises(ValueError, match="n must be a positive integer"):
        H.contraction_cost("K3", 0)
    with pytest.raises(ValueError, match="kind must be one of"):
        H.contraction_cost("K3", 5, "induced")
    with pytest.raises(ValueError, match="gradient=True .* kind must be 'hom'"):
        H.contraction_cost("K3", 5, "inj", gradient=True)


def test_cost_limit_refuses_before_any_work():
    A = sym_random(32, np.random.default_rng(0))
    with pytest.raises(H.CostError) as e:
        hom_density("K33", A)  # the complete graph K_33, a typo for K3,3: would run for ever
    assert str(e.value) == (
        "t(K33) on 32 vertices costs about 4.8e+49 operations (~32^33), above max_cost=1e+14; K33 is the "
        "complete graph on 33 vertices: for the complete bipartite graph write 'K3,3'; pass max_cost=None "
        "(or a larger max_cost) to compute it anyway")
    assert isinstance(e.value, ValueError)
    assert hom_density("K3,3", A) == pytest.approx(hom_density("K3,3", StepGraphon(A)), rel=1e-13)
    B = A[:6, :6]
    with pytest.raises(H.CostError, match=r"^t\(K4\) on 6 vertices costs about 1\.3e\+03 operations \(~6\^4\), "
                                          r"above max_cost=100;"):
        hom_density("K4", B, max_cost=100)
    assert hom_density("K4", B, max_cost=None) == pytest.approx(brute("K4", B), rel=1e-12)
    with pytest.raises(H.CostError, match=r"^the gradient of t\(K4\) on 6 vertices"):
        hom_density_grad("K4", B, max_cost=100)
    with pytest.raises(H.CostError, match=r"^t_ind\(C4\) on 6 vertices"):
        HomWorkspace(B, max_cost=1e3).density("C4", "ind")
    with pytest.raises(H.CostError, match=r"^t_inj\(C100\) on 200 vertices costs about 3\.9e\+123"):
        hom_density("C100", np.ones((200, 200)), kind="inj")
    with pytest.raises(ValueError, match="max_cost must be a positive number of operations or None"):
        hom_density("K3", B, max_cost=-1)
    from graphonflow import HomDensity

    with pytest.raises(H.CostError, match=r"^the gradient of t\(K33\)"):  # the flows' functional too
        HomDensity("K33").grad(A)
    assert H.check_cost("K3", 100) == 1010000.0
    with pytest.raises(H.CostError, match=r"; use K3,3$"):
        H.check_cost("K33", 32, advice="use K3,3")


# --------------------------------------------------------------- > 52 vertices (issue 12)
def test_patterns_with_more_than_52_vertices():
    """A theta graph on 60 vertices (a 60-cycle with the chord 0-30) goes through the general
    contraction, which indexed vertices by 52 letters: t = <Q_30 o Q_30, B>_w in closed form."""
    k = 60
    F = Pattern.from_edges([(i, i + 1) for i in range(k - 1)] + [(0, k - 1), (0, 30)])
    rng = np.random.default_rng(7)
    B = sym_random(5, rng)
    w = rng.dirichlet(np.ones(5))
    D = np.diag(w)
    Q30 = np.linalg.matrix_power(B @ D, 29) @ B
    want = float(w @ (Q30 * Q30 * B) @ w)
    S = StepGraphon(B, w)
    assert hom_density(F, S) == pytest.approx(want, rel=1e-10)
    # the gradient is homogeneous of degree e(F) - 1: sum_ij w_i w_j DF_ij B_ij = e(F) t(F)
    G = hom_density_grad(F, S)
    assert float(w @ (G * B) @ w) == pytest.approx(F.n_edges * want, rel=1e-10)
    assert H.contraction_cost(F, 5) < 1e6


def test_edge_orbits_of_very_symmetric_patterns():
    """Orbits without listing Aut(F): the star S12 has 12! = 479,001,600 automorphisms."""
    assert as_pattern("S12").edge_orbits() == (((0, 1), 12),)
    assert as_pattern("K2,6").edge_orbits() == (((0, 2), 12),)
    assert as_pattern("K12").edge_orbits() == (((0, 1), 66),)
    # D t(S_k) = (k/2) (d(x)^(k-1) + d(y)^(k-1)) with d the degree
    B = sym_random(6, np.random.default_rng(2))
    d = B.mean(axis=1)
    np.testing.assert_allclose(hom_density_grad("S12", B), 6 * (d[:, None] ** 11 + d[None, :] ** 11), rtol=1e-12)


def test_study_config_refuses_a_hopeless_pattern_before_any_work():
    """"K33" (the complete graph K_33; K3,3 was meant) in a study on 32 blocks: a ConfigError
    that names the key, raised by parse_config, before any flow runs."""
    from graphonflow.study import ConfigError, parse_config

    cfg = {"functionals": [{"terms": [{"term": "edge"}, {"term": "hom", "pattern": "K33"}]}],
           "reference": {"resolution": 16}, "finite": {"ns": [8, 16]}}
    with pytest.raises(ConfigError) as e:
        parse_config(cfg)
    assert str(e.value) == (
        "config key 'functionals[0].terms[1].pattern': the gradient of t(K33) on 32 blocks costs about "
        "4.8e+49 operations (~32^33), above max_cost=1e+14; K33 is the complete graph on 33 vertices: for the "
        "complete bipartite graph write 'K3,3'; use a smaller pattern, or fewer blocks (reference.resolution, "
        "finite.ns)")
    cfg["functionals"][0]["terms"][1]["pattern"] = "K3,3"
    assert parse_config(cfg).functionals[0][1][1]["pattern"] == "K3,3"

"""as_target: the one reader of user inputs, and the public functions that use it."""

import itertools

import networkx as nx
import numpy as np
import pytest

import graphonflow.functionals as fmod
from graphonflow import (
    Graphon,
    HomDensity,
    HomWorkspace,
    StepGraphon,
    Target,
    as_target,
    cut_distance,
    cut_norm,
    delta2_distance,
    hom_density,
    hom_density_grad,
    l2_distance,
    sample,
)
from graphonflow.coerce import DiscretisationNeeded
from graphonflow.graphons import as_step, block_average, sbm, xy

B2 = [[0.9, 0.1], [0.1, 0.5]]
W2 = [0.3, 0.7]


def _brute_k3(B, w):
    """t(K3) = sum_{ijk} w_i w_j w_k B_ij B_jk B_ik, term by term."""
    B, w = np.asarray(B), np.asarray(w)
    m = len(w)
    return sum(w[i] * w[j] * w[k] * B[i, j] * B[j, k] * B[i, k] for i, j, k in itertools.product(range(m), repeat=3))


# ------------------------------------------------------------------ the reported bugs
def test_networkx_widths_are_honoured_by_hom_density():
    S = StepGraphon(B2, W2)
    G = S.to_networkx()
    exact = _brute_k3(B2, W2)
    assert exact == pytest.approx(0.066464, rel=1e-12)  # by hand: 0.027*0.729 + ... over 8 terms
    assert hom_density("K3", S) == pytest.approx(exact, rel=1e-13)
    assert hom_density("K3", G) == pytest.approx(exact, rel=1e-13)  # was 0.1120 (widths ignored)
    # every reading of the same step graphon gives the same densities and gradients
    for F in ("K2", "P3", "K3", "C4", "K4"):
        assert hom_density(F, G) == hom_density(F, S)
        np.testing.assert_array_equal(hom_density_grad(F, G), hom_density_grad(F, S))
    # a graph without widths is still the uniform step graphon of its adjacency matrix
    H = nx.Graph(G)
    for v in H.nodes:
        del H.nodes[v]["width"]
    assert hom_density("K3", H) == pytest.approx(_brute_k3(B2, [0.5, 0.5]), rel=1e-13)
    # some nodes without widths: uniform (the reading of StepGraphon.from_networkx)
    del G.nodes[0]["width"]
    assert hom_density("K3", G) == hom_density("K3", H)


def test_functionals_read_networkx_graphs():
    C6 = nx.cycle_graph(6)
    # 12 directed adjacency entries out of 36
    assert HomDensity("K2").value(C6) == pytest.approx(12 / 36, rel=1e-14)
    assert HomDensity("K3").value(nx.complete_graph(4)) == pytest.approx(24 / 64, rel=1e-14)
    v, g = HomDensity("P3").value_and_grad(C6)  # d(x) + d(y) with d = 2/6
    assert v == pytest.approx(1 / 9, rel=1e-14)
    np.testing.assert_allclose(g, np.full((6, 6), 4 / 6), rtol=1e-14)
    # with widths: the weighted step graphon
    S = StepGraphon(B2, W2)
    F = HomDensity("K3") - 0.5 * HomDensity("C4")
    assert F.value(S.to_networkx()) == F.value(S)
    np.testing.assert_array_equal(F.grad(S.to_networkx()), F.grad(S))
    assert F.value(S.to_networkx()) == pytest.approx(_brute_k3(B2, W2) - 0.5 * hom_density("C4", S), rel=1e-13)


def test_sample_from_a_networkx_graph_is_sampling_its_step_graphon():
    S = StepGraphon(B2, W2)
    G = S.to_networkx()
    for kind in ("weighted", "simple"):
        A, x = sample(G, 4, rng=0, kind=kind)
        A2, x2 = sample(S, 4, rng=0, kind=kind)
        np.testing.assert_array_equal(A, A2)
        np.testing.assert_array_equal(x, x2)
    A, x = sample(G, 4, rng=0)
    # each entry is the value of the blocks the latent points fall in (block 0 is [0, 0.3))
    blk = (x >= 0.3).astype(int)
    np.testing.assert_array_equal(A, np.asarray(B2)[np.ix_(blk, blk)])
    # a plain graph: uniform widths
    C4 = nx.cycle_graph(4)
    A, x = sample(C4, 5, rng=1)
    np.testing.assert_array_equal(A, sample(nx.to_numpy_array(C4), 5, rng=1).matrix)
    assert set(np.unique(A)) <= {0.0, 1.0}


def test_cut_distance_of_a_networkx_graph_with_widths_is_that_of_its_step_graphon():
    U = sbm([[0.8, 0.2, 0.1], [0.2, 0.6, 0.3], [0.1, 0.3, 0.4]], [0.2, 0.3, 0.5])
    V = sbm([[0.7, 0.3], [0.3, 0.5]], [0.4, 0.6])
    a = cut_distance(U.to_networkx(), V, rng=0)
    b = cut_distance(U, V, rng=0)
    assert (a.lower, a.upper) == (b.lower, b.upper)
    assert a.upper > 0.01 and a.lower <= a.upper
    # the relabelled graph is at distance 0 from itself, read either way
    r = cut_distance(U.to_networkx(), U.relabel([2, 0, 1]), rng=0)
    assert r.lower == 0.0 and r.upper < 1e-12
    assert cut_norm(U.to_networkx(), V).upper == cut_norm(U, V).upper
    assert l2_distance(U.to_networkx(), V) == l2_distance(U, V)
    assert delta2_distance(U.to_networkx(), V, rng=0).upper == delta2_distance(U, V, rng=0).upper


# ------------------------------------------------------------------ the data model
def test_matrix_reading_keeps_dtype_and_memory():
    rng = np.random.default_rng(0)
    R = rng.random((70, 70))
    A = R + R.T  # C-contiguous float64, large enough for the one-pass symmetry check
    t = as_target(A)
    assert isinstance(t, Target) and t.kind == "matrix" and t.uniform
    assert t.values is A and np.shares_memory(t.values, A)
    np.testing.assert_array_equal(t.widths, np.full(70, 1 / 70))
    assert t.widths.dtype == np.float64 and t.m == 70
    # the readers that use it do not copy either
    assert HomWorkspace(A).B is A
    assert fmod._as_point(A).B is A
    # read-only arrays are fine as they are
    Ro = A.copy()
    Ro.setflags(write=False)
    assert as_target(Ro).values is Ro
    # float32 stays float32, without a copy
    A32 = A.astype(np.float32)
    assert as_target(A32).values is A32 and as_target(A32).values.dtype == np.float32
    assert HomDensity("K3").grad(A32).dtype == np.float32
    # ints and bools become float64; lists too
    I = np.array([[0, 1], [1, 0]])
    for X in (I, I.astype(bool), I.tolist(), ((0, 1), (1, 0))):
        v = as_target(X).values
        assert v.dtype == np.float64 and v.flags.c_contiguous
        np.testing.assert_array_equal(v, [[0.0, 1.0], [1.0, 0.0]])
    # float16 / longdouble: float64
    assert as_target(A.astype(np.float16)).values.dtype == np.float64
    # Fortran order or a strided view: one C-contiguous copy with the same values
    for X in (np.asfortranarray(A), A[::2, ::2]):
        v = as_target(X).values
        assert v.flags.c_contiguous and not np.shares_memory(v, A)
        np.testing.assert_array_equal(v, X)
    # the diagonal is a value like any other: t(K2, I_2) = 2/4
    assert hom_density("K2", np.eye(2)) == 0.5


def test_step_and_networkx_readings():
    S = StepGraphon(B2, W2)
    t = as_target(S)
    assert t.kind == "step" and t.values is S.values and t.widths is S.widths and not t.uniform
    assert t.to_step() is S
    assert as_target(t) is t
    G = S.to_networkx()
    g = as_target(G)
    assert g.kind == "networkx" and not g.uniform
    np.testing.assert_array_equal(g.values, B2)
    np.testing.assert_array_equal(g.widths, W2)
    back = g.to_step()
    np.testing.assert_array_equal(back.values, S.values)
    np.testing.assert_array_equal(back.widths, S.widths)
    # as_step and StepGraphon.from_networkx are this reading
    for T in (as_step(G), StepGraphon.from_networkx(G)):
        np.testing.assert_array_equal(T.values, S.values)
        np.testing.assert_array_equal(T.widths, S.widths)
    # weights: the attribute, 1 without it, weight=None for unweighted, loops on the diagonal
    H = nx.Graph()
    H.add_edge("a", "b", weight=0.25, cap=3.0)
    H.add_edge("b", "c")
    H.add_edge("c", "c", weight=0.5)
    np.testing.assert_array_equal(as_target(H).values, [[0, 0.25, 0], [0.25, 0, 1], [0, 1, 0.5]])
    np.testing.assert_array_equal(as_target(H, weight=None).values, [[0, 1, 0], [1, 0, 1], [0, 1, 1]])
    np.testing.assert_array_equal(as_target(H, weight="cap").values, [[0, 3, 0], [3, 0, 1], [0, 1, 1]])
    assert as_target(H).uniform and as_target(H).widths.tolist() == [1 / 3] * 3
    assert hom_density("K2", H, weight=None) == pytest.approx(5 / 9, rel=1e-14)
    # node widths from another attribute
    for v, x in zip(H.nodes, (0.5, 0.25, 0.25)):
        H.nodes[v]["mass"] = x
    assert as_target(H, width="mass").widths.tolist() == [0.5, 0.25, 0.25]


def test_graph_reading_of_networkx_targets():
    """Injective densities count subgraphs of a graph; with unequal node widths it is a step
    graphon and, as for StepGraphon, t_inj = t."""
    K4 = nx.complete_graph(4)
    assert hom_density("K3", K4, kind="inj") == 1.0
    S = StepGraphon(B2, W2)
    assert hom_density("K3", S.to_networkx(), kind="inj") == hom_density("K3", S, kind="inj")
    assert hom_density("K3", S.to_networkx(), kind="inj") == pytest.approx(_brute_k3(B2, W2), rel=1e-13)
    # equal widths from the attribute: still a graph
    nx.set_node_attributes(K4, 0.25, "width")
    assert hom_density("K3", K4, kind="inj") == 1.0


def test_continuous_inputs():
    W = xy()
    assert as_target(W) is W
    f = lambda x, y: x * y  # noqa: E731
    G = as_target(f)
    assert isinstance(G, Graphon) and float(G(0.5, 0.4)) == pytest.approx(0.2)
    # a plain function has no box: any finite values
    assert float(as_target(lambda x, y: -3.0 * (x + y))(0.5, 0.5)) == -3.0
    for X, fix in ((W, "U.block_average(m)"), (f, "graphonflow.block_average(U, m)")):
        with pytest.raises(TypeError) as e:
            as_target(X, name="U", continuous=False)
        msg = str(e.value)
        assert msg.startswith("U is a ") and fix in msg and "graphonflow.sample(U, n).matrix" in msg
        assert isinstance(e.value, ValueError) and isinstance(e.value, DiscretisationNeeded)
    # the public functions that need a discretisation say so
    with pytest.raises(TypeError, match=r"^W is a continuous graphon.*W\.block_average\(m\)"):
        HomDensity("K3").value(W)
    with pytest.raises(TypeError, match=r"^U is a continuous graphon"):
        cut_norm(W)
    # ... and those that do not discretise themselves
    assert hom_density("C4", W) == pytest.approx(1 / 81, rel=1e-12)
    np.testing.assert_allclose(block_average(f, 2).values, [[1 / 16, 3 / 16], [3 / 16, 9 / 16]], rtol=1e-14)
    assert sample(f, 3, rng=0).matrix.shape == (3, 3)


# ------------------------------------------------------------------ bad inputs
_DIGRAPH = nx.DiGraph([(0, 1)])
_MULTI = nx.MultiGraph([(0, 1), (0, 1)])
_NANW = nx.Graph()
_NANW.add_edge(0, 1, weight=float("nan"))
_STRW = nx.Graph()
_STRW.add_edge(0, 1, weight="heavy")
_BADWIDTHS = nx.Graph([(0, 1)])
nx.set_node_attributes(_BADWIDTHS, {0: 0.5, 1: 0.6}, "width")
_NEGWIDTHS = nx.Graph([(0, 1)])
nx.set_node_attributes(_NEGWIDTHS, {0: 1.5, 1: -0.5}, "width")
_STRWIDTHS = nx.Graph([(0, 1)])
nx.set_node_attributes(_STRWIDTHS, {0: "half", 1: "half"}, "width")

BAD = [
    (None, TypeError, "W0 must be an (n, n) array"),
    ("K3", TypeError, "got str"),
    ({"a": 1}, TypeError, "got dict"),
    (3.5, TypeError, "got float"),
    (StepGraphon, TypeError, "got type"),
    (np.ones((2, 3)), ValueError, "W0 must be a square matrix"),
    (np.array([[0.0, 1.0], [0.0, 0.0]]), ValueError, "W0 is not symmetric"),
    (np.array([[0.0, np.nan], [np.nan, 0.0]]), ValueError, "W0 contains NaN"),
    (np.array([[np.inf, 0.0], [0.0, 0.0]]), ValueError, "W0 contains NaN or infinite"),
    (np.ones((2, 2, 2)), ValueError, "W0 must be a square matrix, got shape (2, 2, 2)"),
    (np.zeros((0, 0)), ValueError, "W0 is empty"),
    (np.array([]), ValueError, "W0 must be a square matrix"),
    ([], ValueError, "W0 must be a square matrix"),
    (np.float64(1.0), ValueError, "W0 must be a square matrix, got shape ()"),
    ([[0.0, 1.0], [1.0]], ValueError, "W0 must be a square numeric matrix"),
    (np.eye(2) * 1j, ValueError, "W0 must be a real numeric matrix"),
    ([["a", "b"], ["b", "a"]], ValueError, "W0 must be a real numeric matrix"),
    (_DIGRAPH, ValueError, "W0 must be an undirected networkx graph"),
    (_MULTI, ValueError, "W0 is a networkx multigraph"),
    (nx.Graph(), ValueError, "W0 has no vertices"),
    (_NANW, ValueError, "W0 contains NaN"),
    (_STRW, ValueError, "W0: edge attribute 'weight' must hold real numbers"),
    (_BADWIDTHS, ValueError, "W0 node widths (attribute 'width') must sum to 1"),
    (_NEGWIDTHS, ValueError, "W0 node widths (attribute 'width') must be finite and strictly positive"),
    (_STRWIDTHS, ValueError, "W0 node widths (attribute 'width') must be real numbers"),
]


@pytest.mark.parametrize("bad,err,msg", BAD, ids=[f"bad{i}" for i in range(len(BAD))])
def test_bad_inputs_name_the_argument(bad, err, msg):
    with pytest.raises(err) as e:
        as_target(bad, name="W0")
    assert str(e.value).startswith("W0"), str(e.value)
    assert msg in str(e.value), str(e.value)


@pytest.mark.parametrize("bad", [None, "K3", np.ones((2, 3)), np.ones((2, 2, 2)), _DIGRAPH, nx.Graph()])
def test_public_functions_name_their_argument(bad):
    calls = [
        ("W", lambda: hom_density("K3", bad)),
        ("W", lambda: hom_density_grad("K3", bad)),
        ("W", lambda: HomWorkspace(bad)),
        ("W", lambda: HomDensity("K3").value(bad)),
        ("W", lambda: HomDensity("K3").grad(bad)),
        ("W", lambda: sample(bad, 3, rng=0)),
        ("U", lambda: cut_norm(bad)),
        ("V", lambda: cut_norm(np.eye(2), bad if bad is not None else {})),  # V=None: the norm of U
        ("U", lambda: cut_distance(bad, np.eye(2))),
        ("W", lambda: cut_distance(np.eye(2), bad)),
        ("W", lambda: l2_distance(np.eye(2), bad)),
        ("U", lambda: delta2_distance(bad, np.eye(2))),
        ("W", lambda: as_step(bad)),
    ]
    for name, call in calls:
        with pytest.raises((TypeError, ValueError)) as e:
            call()
        assert str(e.value).startswith(f"{name} "), (name, str(e.value))

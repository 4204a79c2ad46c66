"""Every public result type survives copy.copy, copy.deepcopy and a pickle round trip (issue 12).

Parallel sweeps send graphons and results to worker processes, so each type is checked field by
field after the round trip (arrays with np.array_equal), and one StepGraphon really goes through a
ProcessPoolExecutor.
"""

import concurrent.futures
import copy
import dataclasses
import functools
import math
import pickle

import numpy as np
import pytest

import graphonflow as gf
from graphonflow import graphons as lib
from graphonflow.flow import Status


def same(a, b, path="value"):
    """Deep equality with arrays compared exactly (NaN equal to NaN)."""
    if isinstance(a, np.ndarray):
        assert isinstance(b, np.ndarray) and a.dtype == b.dtype, path
        np.testing.assert_array_equal(a, b, err_msg=path)
    elif dataclasses.is_dataclass(a) and not isinstance(a, type):
        assert type(a) is type(b), path
        for f in dataclasses.fields(a):
            same(getattr(a, f.name), getattr(b, f.name), f"{path}.{f.name}")
    elif isinstance(a, gf.StepGraphon):
        assert type(b) is gf.StepGraphon, path
        same(a.values, b.values, f"{path}.values")
        same(a.widths, b.widths, f"{path}.widths")
        assert a.uniform == b.uniform, path
    elif isinstance(a, tuple) and hasattr(a, "_fields"):  # named tuples
        assert type(a) is type(b), path
        for name in a._fields:
            same(getattr(a, name), getattr(b, name), f"{path}.{name}")
    elif isinstance(a, (list, tuple)):
        assert type(a) is type(b) and len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            same(x, y, f"{path}[{i}]")
    elif isinstance(a, dict):
        assert type(a) is type(b) and list(a) == list(b), path
        for k in a:
            same(a[k], b[k], f"{path}[{k!r}]")
    elif isinstance(a, float) and math.isnan(a):
        assert isinstance(b, float) and math.isnan(b), path
    else:
        assert a == b, path


def round_trips(obj):
    """The three copies; each is checked against the original."""
    out = [copy.copy(obj), copy.deepcopy(obj), pickle.loads(pickle.dumps(obj))]
    for c in out:
        same(obj, c)
    return out


def test_step_graphon():
    S = gf.StepGraphon([[0.9, 0.1], [0.1, 0.4]], [0.3, 0.7])
    shallow, deep, unpickled = round_trips(S)
    assert shallow is S  # immutable: a shallow copy may be the object itself
    for c in (deep, unpickled):
        assert c is not S and not c.values.flags.writeable and not c.widths.flags.writeable
        assert c.values.flags.c_contiguous
        with pytest.raises(AttributeError, match="StepGraphon is immutable"):
            c.values = np.eye(2)
        assert gf.hom_density("K3", c) == gf.hom_density("K3", S)
    # every protocol, and a float32 one
    S32 = gf.StepGraphon(np.eye(3, dtype=np.float32))
    for proto in range(2, pickle.HIGHEST_PROTOCOL + 1):
        same(S32, pickle.loads(pickle.dumps(S32, protocol=proto)))


def _study_pieces():
    """Small, real instances of the result types."""
    rng = np.random.default_rng(0)
    S = gf.StepGraphon([[0.9, 0.1], [0.1, 0.4]], [0.3, 0.7])
    A = gf.sample(S, 30, rng=1, kind="simple")
    B = gf.sample(S, 30, rng=2, kind="simple")
    cn = gf.cut_norm(A.matrix, B.matrix, rng=3)
    cd = gf.cut_distance(A.matrix, S, rng=4)
    d2 = gf.delta2_distance(A.matrix, B.matrix, rng=5)
    inf1 = gf.infinity_one_norm(A.matrix, B.matrix, rng=6)
    F = gf.HomDensity("K3") + 0.1 * gf.Entropy()
    X = rng.random((8, 8))
    fr = gf.flow(F, 0.2 + 0.3 * (X + X.T), t1=0.2, dt=0.1)
    return {"GraphSample": A, "CutNormResult": cn, "CutDistanceResult": cd, "Delta2Result": d2,
            "InfinityOneNormResult": inf1, "FlowResult": fr, "Status": fr.status,
            "Target": gf.as_target(S), "Target(matrix)": gf.as_target(A.matrix),
            "Pattern": gf.as_pattern("K2,3"), "Pattern(edges)": gf.Pattern.from_edges([(0, 1), (1, 2)], name="P3")}


@pytest.mark.parametrize("name", ["GraphSample", "CutNormResult", "CutDistanceResult", "Delta2Result",
                                  "InfinityOneNormResult", "FlowResult", "Status", "Target", "Target(matrix)",
                                  "Pattern", "Pattern(edges)"])
def test_result_types(name, pieces):
    obj = pieces[name]
    round_trips(obj)


@pytest.fixture(scope="module")
def pieces():
    return _study_pieces()


def test_status_and_pattern_keep_identity_and_names():
    assert pickle.loads(pickle.dumps(Status.T1)) is Status.T1
    P = pickle.loads(pickle.dumps(gf.as_pattern("K2,3")))
    assert P == gf.as_pattern("K2,3") and P.name == "K2,3"


def test_library_graphons_pickle_and_lambdas_say_why_not():
    for W in (lib.xy(), lib.mean_xy(), lib.min_xy(), lib.one_minus_max_xy(), lib.ring(3.0, 0.5),
              lib.ring(2.0).relabel(functools.partial(np.subtract, 1.0)), gf.Graphon(np.multiply, name="xy*")):
        for c in (copy.copy(W), copy.deepcopy(W), pickle.loads(pickle.dumps(W))):
            assert type(c) is gf.Graphon and c.name == W.name and c.box == W.box
            x = np.array([0.1, 0.5, 0.9])
            np.testing.assert_array_equal(c(x[:, None], x[None, :]), W(x[:, None], x[None, :]))
            np.testing.assert_array_equal(c.block_average(3).values, W.block_average(3).values)
    L = gf.Graphon(lambda x, y: x * y, name="xy")
    with pytest.raises(pickle.PicklingError, match=r"^cannot pickle Graphon xy: its kernel '.*<lambda>' is a lambda "
                                                   r"or a function defined inside another function"):
        pickle.dumps(L)
    assert copy.deepcopy(L)(0.5, 0.5) == 0.25  # copies need no pickling

    def local(x, y):
        return x + y

    with pytest.raises(pickle.PicklingError, match=r"test_library_graphons_pickle_and_lambdas_say_why_not\.<locals>\.local"):
        pickle.dumps(gf.Graphon(local))


def test_convergence_study_and_study_result(tmp_path):
    from graphonflow.study import parse_config, run_study

    cfg = parse_config({
        "title": "pickle", "t1": 0.2, "times": [0.0, 0.2],
        "functionals": [{"terms": [{"term": "hom", "pattern": "K3"}, {"term": "entropy", "coef": 0.5}]}],
        "initial": {"graphon": "ring", "params": {"kappa": 2.0, "p": 0.8}, "clip": 0.01},
        "integrator": {"method": "prox", "dt": 0.1}, "reference": {"resolution": 4},
        "finite": {"ns": [4, 6], "seeds": 1, "seed": 1},
        "save": {"curve_points": 2, "gif_frames": 0, "finite_snapshots": False, "report": False},
    })
    res = run_study(cfg, tmp_path / "out", quiet=True)
    study = res.studies[0]
    assert isinstance(study, gf.ConvergenceStudy)
    round_trips(study)
    round_trips(res)


def test_step_graphon_through_a_process_pool():
    """A real worker process: the graphon goes there and a new one (its refinement) comes back."""
    S = gf.StepGraphon([[0.9, 0.1, 0.3], [0.1, 0.4, 0.2], [0.3, 0.2, 0.7]], [0.2, 0.3, 0.5])
    with concurrent.futures.ProcessPoolExecutor(max_workers=1) as ex:
        R = ex.submit(gf.StepGraphon.refine, S, 2).result(timeout=120)
        t = ex.submit(gf.hom_density, "C4", S).result(timeout=120)
    same(R, S.refine(2))
    assert t == gf.hom_density("C4", S)

"""The command line: demo, density and distance on small files, and clear errors."""

import subprocess
import sys

import networkx as nx
import numpy as np
import pytest

from graphonflow.__main__ import main, read_graph


@pytest.fixture
def files(tmp_path):
    G = nx.Graph(nx.karate_club_graph().edges())  # unweighted
    el = tmp_path / "karate.txt"
    el.write_text("# karate club\n" + "\n".join(f"{u} {v}" for u, v in G.edges) + "\n")
    gml = tmp_path / "karate.graphml"
    nx.write_graphml(nx.relabel_nodes(G, str), gml)
    A = nx.to_numpy_array(G, nodelist=sorted(G.nodes))
    npy = tmp_path / "karate.npy"
    np.save(npy, A)
    npz = tmp_path / "two.npz"
    np.savez(npz, A=np.full((6, 6), 0.5))
    return {"el": el, "gml": gml, "npy": npy, "npz": npz, "A": A}


def test_read_graph_formats_agree(files):
    A = files["A"]
    for key in ("npy", "el", "gml"):
        B = read_graph(files[key])
        assert B.shape == A.shape and B.sum() == A.sum() == 2 * 78
    assert read_graph(files["npz"]).shape == (6, 6)


def test_density_command(files, capsys):
    assert main(["density", "K3", str(files["el"])]) == 0
    out = capsys.readouterr().out
    # 45 triangles: t_inj = 6 * 45 / (34 * 33 * 32)
    assert f"t_inj = {6 * 45 / (34 * 33 * 32):.12g}" in out
    assert "n = 34" in out and "t_ind" in out


def test_distance_command(files, capsys):
    assert main(["distance", str(files["npy"]), str(files["gml"])]) == 0
    out = capsys.readouterr().out
    line = next(s for s in out.splitlines() if s.startswith("cut distance"))
    lower, upper = float(line.split()[2]), float(line.split()[6])
    assert 0.0 <= lower <= upper < 1e-9  # the same graph read from two files


@pytest.mark.parametrize(
    "argv, msg",
    [
        (["density", "X9", "missing.txt"], "no such graph file"),
        (["density", "Q3", "{el}"], "unknown pattern name"),
    ],
)
def test_errors_are_clear(files, argv, msg, capsys):
    argv = [a.format(el=files["el"]) for a in argv]
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    assert msg in capsys.readouterr().err


def test_bad_edge_list(tmp_path, capsys):
    bad = tmp_path / "bad.txt"
    bad.write_text("0 1\n0 1 2 3\n")
    with pytest.raises(SystemExit):
        main(["density", "K2", str(bad)])
    assert "bad.txt:2" in capsys.readouterr().err


def test_installed_command_and_lazy_matplotlib():
    out = subprocess.run([sys.executable, "-m", "graphonflow", "demo", "--n", "60"], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    assert "closed form" in out.stdout and "K4" in out.stdout
    code = "import sys, graphonflow; print('matplotlib' in sys.modules)"
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert res.stdout.strip() == "False"


def test_run_config_errors_name_the_integrator_keys(tmp_path, capsys):
    """Error control needs an integrator with an error estimate, and dt and rtol exclude each
    other: both stop `graphonflow run` before any work, naming the key."""
    for table, key, msg in [
        ('method = "prox"\nrtol = 1e-6', "integrator.method", "'prox' gives no error estimate"),
        ('method = "ark54"\nrtol = 1e-6\ndt = 0.1', "integrator.dt", "not both"),
    ]:
        cfg = tmp_path / "c.toml"
        cfg.write_text(f"t1 = 1.0\n[integrator]\n{table}\n")
        with pytest.raises(SystemExit) as exc:
            main(["run", str(cfg), "--out", str(tmp_path / "never")])
        assert exc.value.code == 2
        err = capsys.readouterr().err
        assert f"'{key}'" in err and msg in err and "c.toml" in err
        assert not (tmp_path / "never").exists()


def test_print_config_uses_error_control(capsys):
    from graphonflow.study import tomllib

    assert main(["run", "--print-config"]) == 0
    integ = tomllib.loads(capsys.readouterr().out)["integrator"]
    assert integ == {"method": "dp54", "rtol": 1e-3, "atol": 1e-3}

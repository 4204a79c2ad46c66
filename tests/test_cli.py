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
        # integer labels are ordered as numbers, so every format gives the same matrix
        np.testing.assert_array_equal(read_graph(files[key]), A)
    assert A.sum() == 2 * 78
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
        (["density", "K3", "missing.txt"], "graphonflow density: error: missing.txt: no such graph file\n"),
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
    assert capsys.readouterr().err == (f"graphonflow density: error: {bad}, line 2: expected 'u v' or "
                                       "'u v weight', got 4 fields: '0 1 2 3'\n")


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


# ---------------------------------------------------------------- bad graph files
def _fail(argv, capsys):
    """Run main(argv), expecting exit status 2; return standard error."""
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    return capsys.readouterr().err


def _bad_files(d):
    """(file, what) pairs: the one line each bad file must give after 'error: '."""
    out = []

    def add(name, content, what):
        p = d / name
        if isinstance(content, bytes):
            p.write_bytes(content)
        elif isinstance(content, str):
            p.write_text(content)
        else:
            np.save(p, content)
        out.append((p, what.format(p=p)))

    add("heavy.txt", "0 1\n1 2\n2 3\n3 4\n4 5\n5 6\n6 7 heavy\n", "{p}, line 7: weight 'heavy' is not a number")
    add("comments.txt", "# just\n% comments\n", "{p}: no vertices or edges (only comments and blank lines)")
    add("dup.txt", "0 1\n1 2\n2 1 0.5\n", "{p}, line 3: edge 2 1 was already given on line 2 (to add the weights "
        "of repeated edges use --duplicates sum, or read_graph(..., duplicates='sum'))")
    add("blob.txt", b"\x00\x01\x02garbage", "{p}: binary data, not a text edge list")
    add("latin.txt", "0 1\ncaf\xe9 1\n".encode("latin-1"), "{p}, line 2: not UTF-8 text (byte 0xe9), so not a text edge list")
    add("ns.npy", np.triu(np.ones((3, 3))), "{p}: not symmetric: entry (0, 1) is 1 but entry (1, 0) is 0")
    add("broken.npz", b"PK\x03\x04 this is no archive", "{p}: not a readable .npz archive (damaged, or not written by "
        "numpy.savez)")
    add("broken.graphml", '<?xml version="1.0"?>\n<graphml>\n<graph>\n</graphml>\n',
        "{p}, line 4: not valid XML (mismatched tag), so not a GraphML file")
    folder = d / "folder.txt"
    folder.mkdir()
    out.append((folder, f"{folder}: a directory, not a graph file"))
    return out


def test_bad_graph_files_give_one_line_and_status_2(tmp_path, capsys):
    for path, what in _bad_files(tmp_path):
        err = _fail(["density", "K2", str(path)], capsys)
        assert err == f"graphonflow density: error: {what}\n", path


def test_distance_names_the_non_symmetric_file(tmp_path, capsys):
    good, bad = tmp_path / "good.npy", tmp_path / "bad.npy"
    np.save(good, np.ones((3, 3)))
    np.save(bad, np.triu(np.ones((3, 3))))
    err = _fail(["distance", str(good), str(bad)], capsys)
    assert err == f"graphonflow distance: error: {bad}: not symmetric: entry (0, 1) is 1 but entry (1, 0) is 0\n"


def test_run_refuses_graph_files_and_folders(tmp_path, capsys):
    npy = tmp_path / "good.npy"
    np.save(npy, np.eye(3))
    err = _fail(["run", str(npy), "--out", str(tmp_path / "never")], capsys)
    assert err == f"graphonflow run: error: {npy} is not a TOML study file (it looks like a .npy array)\n"
    err = _fail(["run", str(tmp_path), "--out", str(tmp_path / "never")], capsys)
    assert err == f"graphonflow run: error: {tmp_path} is a directory, not a TOML study file\n"
    assert not (tmp_path / "never").exists()


# ---------------------------------------------------------------- edge-list rules
def test_header_note_isolated_vertices_and_duplicates_sum(tmp_path, capsys):
    csv = tmp_path / "tri.csv"
    csv.write_text("source,target\n0,1\n1,2\n2,0\n")
    assert main(["density", "K3", str(csv), "--kind", "inj"]) == 0
    out, err = capsys.readouterr()
    assert "(n = 3)" in out and "t_inj = 1\n" in out
    assert err == (f"graphonflow density: note: {csv}, line 1: 'source,target' read as a header, not an edge "
                   "(--header no reads it as an edge)\n")
    assert main(["density", "K3", str(csv), "--kind", "hom", "--header", "no"]) == 0
    assert "(n = 5)" in capsys.readouterr().out
    # 60 vertices, the last one isolated: the edge list declares it on a line of its own
    rng = np.random.default_rng(3)
    A = np.triu((rng.random((60, 60)) < 0.3).astype(float), 1)
    A[:, 59] = 0
    A = A + A.T
    np.save(tmp_path / "iso.npy", A)
    lines = [f"{i} {j}" for i, j in zip(*np.nonzero(np.triu(A)))] + ["59"]
    (tmp_path / "iso.edges").write_text("\n".join(lines) + "\n")
    assert main(["distance", str(tmp_path / "iso.npy"), str(tmp_path / "iso.edges")]) == 0
    out = capsys.readouterr().out
    assert "(n = 60)   B:" in out and out.count("(n = 60)") == 2
    line = next(s for s in out.splitlines() if s.startswith("cut distance"))
    assert float(line.split()[6]) < 1e-9
    dup = tmp_path / "dup.txt"
    dup.write_text("0 1 0.25\n1 0 0.5\n1 2\n")
    assert main(["density", "K2", str(dup), "--duplicates", "sum", "--kind", "hom"]) == 0
    assert f"t     = {2 * (0.75 + 1) / 9:.12g}\n" in capsys.readouterr().out


def test_density_kind_option(files, capsys):
    assert main(["density", "K3", str(files["npy"]), "--kind", "ind", "--kind", "hom"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()[1:]
    assert [s.split(" =")[0].strip() for s in lines] == ["t_ind", "t"]
    assert lines[0] == f"t_ind = {6 * 45 / (34 * 33 * 32):.12g}"  # K3 is complete: t_ind = t_inj


def test_values_outside_unit_interval_warn(tmp_path, capsys):
    p = tmp_path / "signed.npy"
    np.save(p, np.array([[0.0, -0.5], [-0.5, 0.0]]))
    assert main(["density", "K2", str(p)]) == 0
    out, err = capsys.readouterr()
    # a signed kernel: t(K2) = sum A / n^2 = -1/4, t_inj(K2) = sum A / (n (n - 1)) = -1/2
    assert "t     = -0.25\n" in out and "t_inj = -0.5\n" in out
    assert err == (f"graphonflow density: warning: {p}: 2 of the 4 matrix entries lie outside [0, 1] (from -0.5 "
                   "to 0); the numbers treat it as a signed kernel, not as edge probabilities\n")


# ---------------------------------------------------------------- options and help
def test_study_options_before_the_command_are_honoured(tmp_path, monkeypatch, capsys):
    import graphonflow.__main__ as cli

    seen = []
    monkeypatch.setattr(cli, "_cmd_run", lambda args: seen.append((args.out, args.quiet)) or 0)
    cfg = tmp_path / "c.toml"
    cfg.write_text("t1 = 1.0\n")
    assert main(["--out", "X", "run", str(cfg)]) == 0
    assert main(["--quiet", "run", str(cfg)]) == 0
    assert main(["run", str(cfg), "--out", "Y", "--quiet"]) == 0
    assert main(["--out", "X", "run", str(cfg), "--out", "Y"]) == 0
    assert main(["--out", "Z"]) == 0
    assert main(["run", str(cfg)]) == 0
    assert seen == [("X", False), ("graphonflow-out", True), ("Y", True), ("Y", False), ("Z", False),
                    ("graphonflow-out", False)]
    err = _fail(["--out", "X", "density", "K3", "g.txt"], capsys)
    assert "graphonflow: error: --out belongs to the study (graphonflow --out ... or graphonflow run --out ...), " \
           "not to 'density'" in err
    assert "not to 'distance'" in _fail(["--quiet", "distance", "a", "b"], capsys)
    assert "--out belongs to the study" in _fail(["--out", "X", "demo", "--n", "5"], capsys)


def test_help_shows_defaults(capsys):
    for argv, default in [(["demo", "--help"], "(default: 400)"), (["density", "--help"], "(default: error)"),
                          (["distance", "--help"], "(default: 0)"), (["run", "--help"], "(default: graphonflow-out)"),
                          (["--help"], "(default: graphonflow-out)")]:
        with pytest.raises(SystemExit) as exc:
            main(argv)
        assert exc.value.code == 0
        help_text = " ".join(capsys.readouterr().out.split())  # argparse wraps lines
        assert default in help_text, argv
    with pytest.raises(SystemExit):
        main(["demo", "--help"])
    assert "about n^4 operations, 1.6e13 at n = 2000" in " ".join(capsys.readouterr().out.split())


# ---------------------------------------------------------------- demo
def test_demo_progress_and_one_k4_pass(monkeypatch, capsys):
    """Progress lines on standard error (none with --quiet, before or after 'demo'), and the n^4
    K4 table of the sampled graph is built once, shared by t, t_inj and the induced densities."""
    from graphonflow.hom import HomWorkspace

    built = []
    original = HomWorkspace._k4_pinned

    def counting(self):
        if self._K4 is None:
            built.append(self.m)
        return original(self)

    monkeypatch.setattr(HomWorkspace, "_k4_pinned", counting)
    assert main(["demo", "--n", "40"]) == 0
    out, err = capsys.readouterr()
    assert built == [40, 32]  # the graph's once (in the C4 row), then the limit's (32 quadrature nodes)
    lines = err.splitlines()
    assert len(lines) == 9 and all(s.startswith("graphonflow demo: ") for s in lines)
    assert lines[4].startswith("graphonflow demo: C4: t(C4, W), t(C4, G), t_inj(C4, G), t_ind(C4, G) "
                               "[t_ind(C4) needs t_inj(K4, G): about n^4 = 2.6e+06 operations] ... t ")
    assert lines[4].endswith(" s") and "t_ind " in lines[4]
    assert "  K4 " in out and "computed in" in out
    for argv in (["demo", "--n", "8", "--quiet"], ["--quiet", "demo", "--n", "8"]):
        assert main(argv) == 0
        assert capsys.readouterr().err == ""


def _pipe(cmd, tmp_path):
    return subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, timeout=300, cwd=tmp_path, check=False)


def test_closed_pipe_ends_quietly(files, tmp_path):
    """`graphonflow demo | head -1` and a reader that exits at once: no BrokenPipeError."""
    py = sys.executable
    res = _pipe(f"'{py}' -m graphonflow demo --n 200 --quiet | head -1", tmp_path)
    assert res.stdout == "graphonflow demo: W(x, y) = x*y and a sampled simple graph G(200, W), seed 0\n"
    assert res.stderr == ""
    # `true` exits before the command writes: its first write meets a closed pipe
    res = _pipe(f"'{py}' -m graphonflow density K3 '{files['el']}' | true; echo ${{PIPESTATUS[0]}}", tmp_path)
    assert res.stderr == "" and res.stdout == "1\n"


def test_main_module_docstring_examples():
    """pytest's --doctest-modules skips __main__.py, so its examples (demo) run here."""
    import doctest

    import graphonflow.__main__ as cli

    res = doctest.testmod(cli, verbose=False)
    assert res.attempted >= 3 and res.failed == 0


def test_density_refuses_hopeless_patterns_before_any_work(files, tmp_path, capsys):
    # t_inj(C100) on 120 vertices and t(K33) (a typo for K3,3) would run for hours: refused with
    # the estimate before anything is computed (t(C100) itself is one matrix power: cheap)
    big = tmp_path / "big.npy"
    np.save(big, np.ones((120, 120)) - np.eye(120))
    for pat, path, frag in (("C100", big, "t_inj(C100) on 120 vertices costs"),
                            ("K33", files["npy"], "t(K33) on 34 vertices costs about")):
        with pytest.raises(SystemExit) as e:
            main(["density", pat, str(path)])
        assert e.value.code == 2
        err = capsys.readouterr().err
        assert err.startswith("graphonflow density: error: ") and frag in err, err
        assert "pass --max-cost inf" in err and err.count("\n") == 1
        assert capsys.readouterr().out == ""  # nothing printed, nothing computed
    assert main(["density", "C100", str(big), "--kind", "hom"]) == 0
    assert capsys.readouterr().out.splitlines()[1] == f"t     = {119 ** 100 / 120 ** 100 * (1 + 119 ** -99):.12g}"
    # only the requested kinds are costed; a raised limit computes it (t(C7) of K_34 minus loops)
    assert main(["density", "C7", str(files["npy"]), "--kind", "hom", "--max-cost", "inf"]) == 0
    assert capsys.readouterr().out.splitlines()[1].startswith("t     = ")

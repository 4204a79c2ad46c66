"""read_graph: the edge-list rules (headers, isolated vertices, repeated edges, loops, order)
and a GraphFileError naming the file (and line) for every file it cannot read."""

import zipfile

import networkx as nx
import numpy as np
import pytest

from graphonflow.io import GraphFileError, read_graph


def write(tmp_path, name, text):
    p = tmp_path / name
    if isinstance(text, bytes):
        p.write_bytes(text)
    else:
        p.write_text(text)
    return p


def error_of(path, **kw):
    with pytest.raises(GraphFileError) as exc:
        read_graph(path, **kw)
    return exc.value


# ----------------------------------------------------------------- edge-list rules
def test_csv_header_is_detected_and_skipped(tmp_path):
    p = write(tmp_path, "e.csv", "source,target\n0,1\n1,2\n")
    A, info = read_graph(p, return_info=True)
    np.testing.assert_array_equal(A, [[0, 1, 0], [1, 0, 1], [0, 1, 0]])
    assert info["header"] == "source,target" and info["header_line"] == 1
    # header=False reads it as an edge between vertices named 'source' and 'target'
    assert read_graph(p, header=False).shape == (5, 5)


def test_three_field_header_with_named_vertices(tmp_path):
    p = write(tmp_path, "e.txt", "# people\nu v weight\nann bob 0.5\nbob cy 0.25\n")
    A, info = read_graph(p, return_info=True)
    assert info["header"] == "u v weight" and info["header_line"] == 2
    assert info["labels"] == ["ann", "bob", "cy"]
    np.testing.assert_array_equal(A, [[0, 0.5, 0], [0.5, 0, 0.25], [0, 0.25, 0]])


def test_named_first_edge_is_not_a_header(tmp_path):
    p = write(tmp_path, "e.txt", "ann bob\nbob cy\n")
    A, info = read_graph(p, return_info=True)
    assert info["header"] is None and A.sum() == 4
    # forcing a header drops the first line
    assert read_graph(p, header=True).shape == (2, 2)


def test_isolated_vertices_and_numeric_order(tmp_path):
    p = write(tmp_path, "e.txt", "10 2\n2 1\n% a comment\n7\n")
    A, info = read_graph(p, return_info=True)
    assert info["labels"] == [1, 2, 7, 10]
    expected = np.zeros((4, 4))
    expected[0, 1] = expected[1, 0] = expected[1, 3] = expected[3, 1] = 1
    np.testing.assert_array_equal(A, expected)


def test_self_loop_is_a_diagonal_entry(tmp_path):
    p = write(tmp_path, "e.txt", "0 0 0.25\n0 1\n")
    np.testing.assert_array_equal(read_graph(p), [[0.25, 1], [1, 0]])


def test_repeated_edge_is_an_error_naming_both_lines(tmp_path):
    p = write(tmp_path, "e.txt", "0 1\n1 2\n\n1 0 0.5\n")
    err = error_of(p)
    assert err.line == 4
    assert str(err) == (f"{p}, line 4: edge 1 0 was already given on line 1 (to add the weights of repeated "
                        "edges use --duplicates sum, or read_graph(..., duplicates='sum'))")
    A, info = read_graph(p, duplicates="sum", return_info=True)
    assert A[0, 1] == A[1, 0] == 1.5 and info["repeated"] == 1
    assert read_graph(p, duplicates="last")[0, 1] == 0.5
    with pytest.raises(ValueError, match="duplicates must be one of"):
        read_graph(p, duplicates="max")


def test_signed_weights_are_read_as_they_are(tmp_path):
    p = write(tmp_path, "e.txt", "0 1 -0.5\n1 2 2\n")
    A, info = read_graph(p, return_info=True)
    assert info["range"] == (-0.5, 2.0) and A[0, 1] == -0.5 and A[2, 1] == 2


@pytest.mark.parametrize(
    "text, line, what",
    [
        ("0 1\n1 2\n2 3\n3 4\n4 5\n5 6\n6 7 heavy\n", 7, "weight 'heavy' is not a number"),
        ("0 1 nan\n", 1, "weight 'nan' is not a finite number"),
        ("0 1\n0 1 2 3\n", 2, "expected 'u v' or 'u v weight', got 4 fields: '0 1 2 3'"),
        ("# nothing\n% here\n\n", None, "no vertices or edges (only comments and blank lines)"),
        ("u v weight\n", None, "no vertices or edges (only a header line)"),
    ],
)
def test_bad_edge_lists(tmp_path, text, line, what):
    p = write(tmp_path, "bad.txt", text)
    err = error_of(p)
    where = f"{p}" if line is None else f"{p}, line {line}"
    assert str(err) == f"{where}: {what}" and err.line == line and err.path == str(p)


def test_binary_and_non_utf8_files(tmp_path):
    npy = tmp_path / "a.npy"
    np.save(npy, np.eye(3))
    p = write(tmp_path, "a.txt", npy.read_bytes())
    assert str(error_of(p)) == (f"{p}: binary data, not a text edge list "
                                "(it looks like a .npy array: give the file the suffix .npy)")
    q = write(tmp_path, "b.txt", b"0 1\n\xff\xfe 2\n")
    assert str(error_of(q)) == f"{q}, line 2: not UTF-8 text (byte 0xff), so not a text edge list"


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.txt: no such graph file"):
        read_graph(tmp_path / "nope.txt")
    assert str(error_of(tmp_path)) == f"{tmp_path}: a directory, not a graph file"


# ----------------------------------------------------------------- arrays
def test_npy_checks_name_the_file_and_entry(tmp_path):
    def npy(name, arr):
        p = tmp_path / name
        np.save(p, arr)
        return p

    p = npy("int.npy", np.array([[0, 1], [1, 0]], dtype=np.int8))
    A = read_graph(p)
    assert A.dtype == np.float64 and A.tolist() == [[0, 1], [1, 0]]
    ns = npy("ns.npy", np.triu(np.ones((3, 3))))
    assert str(error_of(ns)) == f"{ns}: not symmetric: entry (0, 1) is 1 but entry (1, 0) is 0"
    nan = np.zeros((3, 3))
    nan[2, 1] = nan[1, 2] = np.nan
    p = npy("nan.npy", nan)
    assert str(error_of(p)) == f"{p}: entry (1, 2) is nan; entries must be finite numbers"
    p = npy("rect.npy", np.zeros((2, 3)))
    assert str(error_of(p)) == f"{p}: not a square matrix: its array has shape (2, 3)"
    p = npy("empty.npy", np.zeros((0, 0)))
    assert str(error_of(p)) == f"{p}: an empty (0 x 0) matrix"
    p = npy("str.npy", np.array([["a", "b"], ["b", "a"]]))
    assert str(error_of(p)) == f"{p}: holds <U1 values, not real numbers"
    p = npy("obj.npy", np.array([[{}, 1], [1, 0]], dtype=object))
    assert str(error_of(p)) == f"{p}: holds Python objects, not a numeric array"
    cut = write(tmp_path, "cut.npy", npy("whole.npy", np.eye(50)).read_bytes()[:300])
    assert str(error_of(cut)) == f"{cut}: not a readable .npy array (damaged, cut short, or not written by numpy.save)"
    txt = write(tmp_path, "text.npy", "0 1\n")
    assert str(error_of(txt)) == f"{txt}: not a .npy array: it does not start with numpy's .npy header"


def test_npz_checks(tmp_path):
    p = tmp_path / "w.npz"
    np.savez(p, other=np.ones(2), W=np.full((2, 2), 0.5))
    assert read_graph(p).tolist() == [[0.5, 0.5], [0.5, 0.5]]
    two = tmp_path / "two.npz"
    np.savez(two, x=np.eye(2), y=np.eye(2))
    assert str(error_of(two)) == f"{two}: holds arrays ['x', 'y']; name the matrix 'A' or 'W'"
    bad = tmp_path / "ns.npz"
    np.savez(bad, A=np.triu(np.ones((2, 2))))
    assert str(error_of(bad)) == f"{bad} (array 'A'): not symmetric: entry (0, 1) is 1 but entry (1, 0) is 0"
    garbage = write(tmp_path, "g.npz", "hello\n")
    assert str(error_of(garbage)) == f"{garbage}: not a .npz archive: it is not a zip file"
    big = tmp_path / "big.npz"
    np.savez_compressed(big, A=np.eye(200))
    cut = write(tmp_path, "cut.npz", big.read_bytes()[:-40])  # the zip's directory is at the end
    assert zipfile.is_zipfile(big) and not zipfile.is_zipfile(cut)
    assert str(error_of(cut)) == f"{cut}: not a readable .npz archive (damaged, or not written by numpy.savez)"


# ----------------------------------------------------------------- GraphML
def test_graphml_weights_isolated_vertices_and_order(tmp_path):
    G = nx.Graph()
    G.add_nodes_from(["0", "1", "2", "10"])
    G.add_edge("10", "0", weight=0.5)
    G.add_edge("1", "2")
    p = tmp_path / "g.graphml"
    nx.write_graphml(G, p)
    A, info = read_graph(p, return_info=True)
    assert info["labels"] == [0, 1, 2, 10]
    assert A[0, 3] == A[3, 0] == 0.5 and A[1, 2] == 1 and A.sum() == 3
    assert read_graph(p, weight=None)[0, 3] == 1


def test_graphml_errors(tmp_path):
    p = write(tmp_path, "bad.graphml", '<?xml version="1.0"?>\n<graphml>\n<graph>\n<node id="0">\n</graphml>\n')
    err = error_of(p)
    assert err.line == 5 and str(err) == f"{p}, line 5: not valid XML (mismatched tag), so not a GraphML file"
    D = nx.DiGraph()
    D.add_edge("0", "1", weight=1.0)
    D.add_edge("1", "0", weight=1.0)
    D.add_edge("1", "2", weight=0.5)
    d = tmp_path / "d.graphml"
    nx.write_graphml(D, d)
    assert read_graph(d).tolist() == [[0, 1, 0], [1, 0, 0.5], [0, 0.5, 0]]
    D.add_edge("2", "1", weight=0.25)
    nx.write_graphml(D, d)
    assert str(error_of(d)) == (f"{d}: the graph is directed and its arcs 1->2 (weight 0.5) and 2->1 "
                                "(weight 0.25) disagree; graphonflow reads undirected graphs")
    M = nx.MultiGraph()
    M.add_edge("0", "1", weight=0.5)
    M.add_edge("0", "1", weight=0.25)
    m = tmp_path / "m.graphml"
    nx.write_graphml(M, m)
    assert "edge 0 1 appears more than once" in str(error_of(m))
    assert read_graph(m, duplicates="sum")[0, 1] == 0.75
    S = nx.Graph()
    S.add_edge("0", "1", weight="heavy")
    s = tmp_path / "s.graphml"
    nx.write_graphml(S, s)
    assert str(error_of(s)) == f"{s}: edge 0 1: weight 'heavy' is not a number"

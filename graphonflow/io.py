"""Reading graphs and matrices from files: ``.npy``, ``.npz``, GraphML and edge lists.

Every file becomes one symmetric n x n matrix A, the step graphon (A, 1/n) of the rest of the
package.  A file that cannot be read that way raises :class:`GraphFileError`, a ValueError
whose message starts with the file's name (and the line, for text files), so a command line
can print it as it is.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np

__all__ = ["GraphFileError", "read_graph"]

#: How a repeated edge is combined: an error, the sum of its weights, or the last weight.
DUPLICATES = ("error", "sum", "last")

_NPY_MAGIC = b"\x93NUMPY"
_ZIP_MAGIC = b"PK\x03\x04"
_COMMENT = re.compile(r"[#%]")


class GraphFileError(ValueError):
    """A graph file that cannot be read.

    ``str(err)`` is ``"FILE: what"`` or ``"FILE, line N: what"``; the parts are kept as the
    attributes ``path``, ``line`` (None when no line applies) and ``what``.
    """

    def __init__(self, path, what: str, line: int | None = None):
        self.path, self.line, self.what = str(path), line, what
        where = self.path if line is None else f"{self.path}, line {line}"
        super().__init__(f"{where}: {what}")


def read_graph(path, *, weight="weight", duplicates="error", header=None, return_info=False, sparse=False):
    """Read a graph file into a symmetric matrix A (float64 unless the file holds float32).

    With ``sparse=True`` the result is a :class:`graphonflow.sparse.SparseGraph` instead, and
    an edge list is read in one streaming pass into arrays of its edges (O(lines) memory,
    never an n x n matrix; the same rules and error messages as below); ``info["labels"]`` is
    then an array.

    The format follows the file name:

    - ``.npy``: an (n, n) numeric array, written by ``numpy.save``;
    - ``.npz``: the array named ``A`` or ``W``, or the only array in the archive;
    - ``.graphml``: a GraphML graph; the edge attribute ``weight`` (missing: 1) is the entry,
      nodes without edges are isolated vertices, a directed graph is read as undirected (its
      arcs u->v and v->u must then carry the same weight);
    - anything else: a text **edge list**, one item per line, fields separated by spaces, tabs
      or commas, ``#`` or ``%`` starting a comment:

      * ``u v`` is an edge of weight 1, ``u v w`` an edge of weight w (a finite number);
      * ``u`` alone declares a vertex, so that isolated vertices are counted;
      * ``u u w`` sets the diagonal entry A[u, u] (the package treats the diagonal as an
        ordinary value; leave loops out for a simple graph);
      * the first line is a header, and skipped, when none of its two or three fields is a
        number and either it has three fields (a weight must be a number) or every later
        line names its vertices by numbers: ``source,target`` or ``u v weight``.
        ``header=True`` or ``False`` decides it instead;
      * an edge given twice (as ``u v`` or ``v u``) is an error naming both lines, unless
        ``duplicates="sum"`` (add the weights, as in a multigraph) or ``"last"``.

    Vertices are ordered by their labels: numerically when every label is an integer (so
    row i is vertex i when the labels are 0 … n-1), as strings otherwise.  Only labels that
    occur in the file are vertices: a gap in the numbering is not filled in.

    Matrices from ``.npy`` and ``.npz`` files must be square, non-empty, finite and symmetric
    up to rounding (max |A - A^T| <= 1e-10 max |A|); integer and boolean arrays become
    float64.  Entries outside [0, 1] are read as they are: densities and distances are defined
    for any real symmetric kernel (``info["range"]`` holds the smallest and largest entry).

    Parameters
    ----------
    path : str or Path
    weight : str or None
        Edge attribute read from GraphML files (None: every edge has weight 1).
    duplicates : {"error", "sum", "last"}
        What a repeated edge in an edge list, or a parallel edge in GraphML, means.
    header : None, True or False
        Whether the first line of an edge list is a header (None: decide as above).
    sparse : bool
        Return a SparseGraph (for counting in large sparse graphs: graphonflow.hom_count).
    return_info : bool
        Also return a dict: ``format``, ``labels`` (the vertex of each row, None for arrays),
        ``header`` and ``header_line`` (the skipped header's text and line, or None), ``range`` (min, max entry),
        ``repeated`` (how many repeated edges were combined).

    Raises
    ------
    FileNotFoundError
        No file at ``path`` (the message names it).
    GraphFileError (a ValueError)
        Anything else: a directory, a damaged or binary file, a malformed line, a repeated
        edge, a matrix that is not square, finite and symmetric.  The message names the file
        and, for text files, the line.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> f = Path(tempfile.mkdtemp()) / "g.csv"
    >>> _ = f.write_text("source,target,weight\\n0,1,0.5\\n1,2\\n3\\n")
    >>> A, info = read_graph(f, return_info=True)
    >>> A
    array([[0. , 0.5, 0. , 0. ],
           [0.5, 0. , 1. , 0. ],
           [0. , 1. , 0. , 0. ],
           [0. , 0. , 0. , 0. ]])
    >>> info["header"], info["labels"]
    ('source,target,weight', [0, 1, 2, 3])
    """
    if duplicates not in DUPLICATES:
        raise ValueError(f"duplicates must be one of {DUPLICATES}, got {duplicates!r}")
    if header not in (None, True, False):
        raise ValueError(f"header must be None, True or False, got {header!r}")
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"{path}: no such graph file")
    if p.is_dir():
        raise GraphFileError(path, "a directory, not a graph file")
    suffix = p.suffix.lower()
    info = {"format": None, "labels": None, "header": None, "header_line": None, "repeated": 0}
    try:
        if suffix == ".npy":
            info["format"] = "npy"
            A = _check_matrix(path, _load_npy(p, path))
        elif suffix == ".npz":
            info["format"] = "npz"
            A = _load_npz(p, path)
        elif suffix == ".graphml":
            info["format"] = "graphml"
            A = _read_graphml(p, path, weight, duplicates, info, sparse)
        else:
            info["format"] = "edge list"
            if sparse:
                A = _read_edge_list_sparse(p, path, duplicates, header, info)
            else:
                A = _read_edge_list(p, path, duplicates, header, info)
    except PermissionError:
        raise GraphFileError(path, "cannot be read (permission denied)") from None
    except OSError as exc:
        raise GraphFileError(path, f"cannot be read ({exc.strerror or exc})") from None
    if sparse and isinstance(A, np.ndarray):
        from .sparse import as_sparse_graph

        A = as_sparse_graph(A, name=str(path))
    info["range"] = _sparse_range(A) if sparse else (float(A.min()), float(A.max()))
    return (A, info) if return_info else A


def _sparse_range(G):
    """(min, max) entry of a SparseGraph's whole n x n matrix (its zeros included)."""
    parts = [x for x in (G.data, G.diag) if x is not None and x.size]
    if G.data is None:
        parts.append(np.ones(1))
    lo = min(float(x.min()) for x in parts)
    hi = max(float(x.max()) for x in parts)
    stored = G.nnz + (0 if G.diag is None else int(np.count_nonzero(G.diag)))
    if stored < G.n * G.n:  # some entry is 0
        lo, hi = min(lo, 0.0), max(hi, 0.0)
    if G.nnz == 0 and G.diag is None:
        lo = hi = 0.0
    return lo, hi


# ------------------------------------------------------------------------ arrays
def _load_npy(p, path):
    with open(p, "rb") as fh:
        head = fh.read(len(_NPY_MAGIC))
    if head != _NPY_MAGIC:
        hint = " (it looks like a zip or .npz archive: give it the suffix .npz)" if head.startswith(_ZIP_MAGIC) else ""
        raise GraphFileError(path, f"not a .npy array: it does not start with numpy's .npy header{hint}")
    try:
        return np.load(p, allow_pickle=False)
    except ValueError as exc:
        if "allow_pickle" in str(exc):
            raise GraphFileError(path, "holds Python objects, not a numeric array") from None
        raise GraphFileError(path, "not a readable .npy array (damaged, cut short, or not written by numpy.save)") from None
    except (EOFError, OSError):
        raise GraphFileError(path, "not a readable .npy array (damaged, cut short, or not written by numpy.save)") from None


def _load_npz(p, path):
    import zipfile
    import zlib

    with open(p, "rb") as fh:
        head = fh.read(len(_ZIP_MAGIC))
    if not head.startswith(b"PK"):
        hint = " (it looks like a .npy array: give it the suffix .npy)" if head == _NPY_MAGIC[:4] else ""
        raise GraphFileError(path, f"not a .npz archive: it is not a zip file{hint}")
    try:
        with np.load(p, allow_pickle=False) as z:
            keys = list(z.keys())
            for k in ("A", "W"):
                if k in keys:
                    return _check_matrix(f"{path} (array '{k}')", z[k])
            if len(keys) == 1:
                return _check_matrix(f"{path} (array '{keys[0]}')", z[keys[0]])
            if not keys:
                raise GraphFileError(path, "no arrays in the archive")
            raise GraphFileError(path, f"holds arrays {keys}; name the matrix 'A' or 'W'")
    except GraphFileError:
        raise
    except ValueError as exc:
        if "allow_pickle" in str(exc):
            raise GraphFileError(path, "holds Python objects, not a numeric array") from None
        raise GraphFileError(path, "not a readable .npz archive (damaged, or not written by numpy.savez)") from None
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, KeyError):
        raise GraphFileError(path, "not a readable .npz archive (damaged, or not written by numpy.savez)") from None


def _check_matrix(name, A):
    """A as a square, non-empty, finite, symmetric float array; GraphFileError naming ``name``."""
    from ._validation import check_symmetric_matrix

    A = np.asarray(A)
    if A.dtype.kind not in "fiub":
        raise GraphFileError(name, f"holds {A.dtype} values, not real numbers")
    if A.dtype.kind != "f" or A.dtype.itemsize not in (4, 8):
        A = A.astype(np.float64)
    if A.ndim != 2 or A.shape[0] != A.shape[1]:
        raise GraphFileError(name, f"not a square matrix: its array has shape {A.shape}")
    if A.shape[0] == 0:
        raise GraphFileError(name, "an empty (0 x 0) matrix")
    A = np.ascontiguousarray(A)
    try:
        check_symmetric_matrix(A, name)
    except ValueError:
        bad = ~np.isfinite(A)
        if bad.any():
            i, j = (int(x) for x in np.argwhere(bad)[0])
            raise GraphFileError(name, f"entry ({i}, {j}) is {A[i, j]}; entries must be finite numbers") from None
        i, j, _ = _worst_asymmetry(A)
        raise GraphFileError(
            name,
            f"not symmetric: entry ({i}, {j}) is {A[i, j]:.6g} but entry ({j}, {i}) is {A[j, i]:.6g}",
        ) from None
    return A


def _worst_asymmetry(A, rows=256):
    """(i, j, |A_ij - A_ji|) at the largest difference, in blocks of rows (no n x n temporary)."""
    best = (0, 0, -1.0)
    for r0 in range(0, A.shape[0], rows):
        D = np.abs(A[r0:r0 + rows] - A[:, r0:r0 + rows].T)
        k = int(np.argmax(D))
        i, j = divmod(k, A.shape[0])
        if D[i, j] > best[2]:
            best = (r0 + i, j, float(D[i, j]))
    return best


# ------------------------------------------------------------------------ text
def _is_number(s: str) -> bool:
    try:
        float(s)
    except ValueError:
        return False
    return True


def _binary_hint(raw: bytes) -> str:
    if raw.startswith(_NPY_MAGIC):
        return " (it looks like a .npy array: give the file the suffix .npy)"
    if raw.startswith(_ZIP_MAGIC):
        return " (it looks like a zip or .npz archive: give an .npz file the suffix .npz)"
    return ""


def _text_lines(p, path, what="a text edge list"):
    """The file's lines as text, or GraphFileError for binary content."""
    raw = p.read_bytes()
    hint = _binary_hint(raw)
    if hint or b"\x00" in raw[:65536]:
        raise GraphFileError(path, f"binary data, not {what}{hint}")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise GraphFileError(
            path, f"not UTF-8 text (byte 0x{raw[exc.start]:02x}), so not {what}", line=line
        ) from None
    return text.splitlines()


def _read_edge_list(p, path, duplicates, header, info):
    records = []
    for lineno, line in enumerate(_text_lines(p, path), 1):
        m = _COMMENT.search(line)
        if m:
            line = line[: m.start()]
        fields = line.replace(",", " ").split()
        if fields:
            records.append((lineno, fields, line.strip()))
    if records and _is_header(records, header):
        info["header"], info["header_line"] = records[0][2], records[0][0]
        records = records[1:]
    if not records:
        what = "only a header line" if info["header"] is not None else "only comments and blank lines"
        raise GraphFileError(path, f"no vertices or edges ({what})")
    for lineno, fields, text in records:
        if len(fields) > 3:
            raise GraphFileError(
                path, f"expected 'u v' or 'u v weight', got {len(fields)} fields: {text!r}", line=lineno
            )
    as_int = all(_is_int(f) for _, fields, _ in records for f in fields[:2])
    key = int if as_int else str
    edges = {}  # (a, b) with a <= b -> [weight, first line, last line]
    vertices = set()
    for lineno, fields, _ in records:
        a = key(fields[0])
        vertices.add(a)
        if len(fields) == 1:
            continue
        b = key(fields[1])
        vertices.add(b)
        w = 1.0
        if len(fields) == 3:
            w = _weight(fields[2], path, lineno)
        pair = (a, b) if _order(a) <= _order(b) else (b, a)
        if pair in edges:
            prev = edges[pair]
            if duplicates == "error":
                raise GraphFileError(
                    path,
                    f"edge {fields[0]} {fields[1]} was already given on line {prev[1]} "
                    "(to add the weights of repeated edges use --duplicates sum, "
                    "or read_graph(..., duplicates='sum'))",
                    line=lineno,
                )
            info["repeated"] += 1
            prev[0] = prev[0] + w if duplicates == "sum" else w
        else:
            edges[pair] = [w, lineno]
    return _assemble(vertices, edges, info)


def _is_int(s: str) -> bool:
    return re.fullmatch(r"[+-]?\d+", s) is not None


def _order(x):
    return (0, x) if isinstance(x, int) else (1, x)


def _weight(s, path, lineno):
    try:
        w = float(s)
    except ValueError:
        raise GraphFileError(path, f"weight {s!r} is not a number", line=lineno) from None
    if not math.isfinite(w):
        raise GraphFileError(path, f"weight {s!r} is not a finite number", line=lineno)
    return w


def _is_header(records, header):
    if header is not None:
        return header
    _, fields, _ = records[0]
    if len(fields) not in (2, 3) or any(_is_number(f) for f in fields):
        return False
    if len(fields) == 3:
        return True
    rest = records[1:]
    return bool(rest) and all(_is_number(f) for _, fs, _ in rest for f in fs[:2])


def _assemble(vertices, edges, info):
    labels = sorted(vertices, key=_order)
    index = {v: i for i, v in enumerate(labels)}
    n = len(labels)
    A = np.zeros((n, n))
    for (a, b), (w, _) in edges.items():
        i, j = index[a], index[b]
        A[i, j] = A[j, i] = w
    info["labels"] = labels
    return A


# ------------------------------------------------------------------------ GraphML
def _read_graphml(p, path, weight, duplicates, info, sparse=False):
    from xml.etree.ElementTree import ParseError

    import networkx as nx

    raw = p.read_bytes()
    if _binary_hint(raw) or b"\x00" in raw[:65536]:
        raise GraphFileError(path, f"binary data, not a GraphML file{_binary_hint(raw)}")
    try:
        G = nx.read_graphml(p)
    except ParseError as exc:
        line = exc.position[0] if getattr(exc, "position", None) else None
        msg = re.sub(r":? line \d+, column \d+$", "", str(exc))
        raise GraphFileError(path, f"not valid XML ({msg}), so not a GraphML file", line=line) from None
    except (nx.NetworkXError, KeyError, ValueError, TypeError) as exc:
        raise GraphFileError(path, f"not a GraphML graph networkx can read ({exc})") from None
    if G.number_of_nodes() == 0:
        raise GraphFileError(path, "no vertices")
    as_int = all(isinstance(v, str) and _is_int(v) for v in G.nodes)
    key = (lambda v: int(v)) if as_int else str
    vertices = {key(v) for v in G.nodes}
    if len(vertices) < G.number_of_nodes():
        key, vertices = str, {str(v) for v in G.nodes}
    edges = {}
    arcs = {}
    for u, v, d in G.edges(data=True):
        raw_w = d.get(weight, 1.0) if weight is not None else 1.0
        try:
            w = float(raw_w)
        except (TypeError, ValueError):
            raise GraphFileError(path, f"edge {u} {v}: weight {raw_w!r} is not a number") from None
        if not math.isfinite(w):
            raise GraphFileError(path, f"edge {u} {v}: weight {raw_w!r} is not a finite number")
        a, b = key(u), key(v)
        pair = (a, b) if _order(a) <= _order(b) else (b, a)
        if G.is_directed() and (b, a) in arcs and (a, b) not in arcs and a != b:
            if arcs[(b, a)] != w:
                raise GraphFileError(
                    path,
                    f"the graph is directed and its arcs {v}->{u} (weight {arcs[(b, a)]:g}) and "
                    f"{u}->{v} (weight {w:g}) disagree; graphonflow reads undirected graphs",
                )
            arcs[(a, b)] = w
            continue
        arcs[(a, b)] = w
        if pair in edges:
            if duplicates == "error":
                raise GraphFileError(
                    path,
                    f"edge {u} {v} appears more than once (to add the weights of parallel edges use "
                    "--duplicates sum, or read_graph(..., duplicates='sum'))",
                )
            info["repeated"] += 1
            edges[pair][0] = edges[pair][0] + w if duplicates == "sum" else w
        else:
            edges[pair] = [w, None]
    if sparse:
        return _assemble_sparse(vertices, edges, info, path)
    return _assemble(vertices, edges, info)


def _assemble_sparse(vertices, edges, info, path):
    from .sparse import SparseGraph

    labels = sorted(vertices, key=_order)
    index = {v: i for i, v in enumerate(labels)}
    m = len(edges)
    u = np.fromiter((index[a] for a, _ in edges), dtype=np.int64, count=m)
    v = np.fromiter((index[b] for _, b in edges), dtype=np.int64, count=m)
    w = np.fromiter((x[0] for x in edges.values()), dtype=np.float64, count=m)
    info["labels"] = labels
    return SparseGraph.from_edges(u, v, w, n=len(labels), name=str(path))


# ------------------------------------------------------------------------ streaming edge lists
def _read_edge_list_sparse(p, path, duplicates, header, info):
    """The edge list as a SparseGraph, in one streaming pass (a second one only when a label is
    not an integer, or to quote a line in an error).  Same rules and messages as
    :func:`_read_edge_list`."""
    from .sparse import SparseGraph

    with open(p, "rb") as fh:
        head = fh.read(65536)
    hint = _binary_hint(head)
    if hint or b"\x00" in head:
        raise GraphFileError(path, f"binary data, not a text edge list{hint}")
    try:
        rec = _stream_records(p, path, header, as_int=True)
    except _NotInt:
        rec = _stream_records(p, path, header, as_int=False)
    if rec["header"] is not None:
        info["header"], info["header_line"] = rec["header"]
    if rec["count"] == 0:
        what = "only a header line" if info["header"] is not None else "only comments and blank lines"
        raise GraphFileError(path, f"no vertices or edges ({what})")
    if rec["too_many"] is not None:
        lineno, nf, text = rec["too_many"]
        raise GraphFileError(path, f"expected 'u v' or 'u v weight', got {nf} fields: {text!r}", line=lineno)
    u, v, lines, singles = rec["u"], rec["v"], rec["line"], rec["single"]
    w = rec["w"]
    if rec["as_int"]:
        labels = np.unique(np.concatenate([u, v, singles]))
        iu = np.searchsorted(labels, u)
        iv = np.searchsorted(labels, v)
        label_list = labels
    else:
        names = rec["names"]  # id -> label (strings)
        order = np.array(sorted(range(len(names)), key=lambda i: names[i]), dtype=np.int64)
        rank = np.empty(len(names), dtype=np.int64)
        rank[order] = np.arange(len(names))
        used = np.zeros(len(names), dtype=bool)
        used[u] = used[v] = True
        used[singles] = True
        keep = np.flatnonzero(used[order])
        remap = np.full(len(names), -1, dtype=np.int64)
        remap[order[keep]] = np.arange(keep.size)
        iu, iv = remap[u], remap[v]
        label_list = np.array([names[i] for i in order[keep]], dtype=object)
    a = np.minimum(iu, iv)
    b = np.maximum(iu, iv)
    srt = np.lexsort((lines, b, a))
    a, b, lines_s = a[srt], b[srt], lines[srt]
    w_s = None if w is None else w[srt]
    new_group = np.ones(a.size, dtype=bool)
    if a.size > 1:
        new_group[1:] = (a[1:] != a[:-1]) | (b[1:] != b[:-1])
    starts = np.flatnonzero(new_group)
    repeated = a.size - starts.size
    bad_w = rec["bad_weight"]
    if duplicates == "error" and repeated:
        rep = np.flatnonzero(~new_group)
        # the first repeated line in file order, and the first line of its pair
        i = rep[np.argmin(lines_s[rep])]
        first = starts[np.searchsorted(starts, i, side="right") - 1]
        rline, fline = int(lines_s[i]), int(lines_s[first])
        if bad_w is None or rline < bad_w[0]:
            fields = _line_fields(p, rline)
            raise GraphFileError(
                path,
                f"edge {fields[0]} {fields[1]} was already given on line {fline} "
                "(to add the weights of repeated edges use --duplicates sum, "
                "or read_graph(..., duplicates='sum'))",
                line=rline,
            )
    if bad_w is not None:
        lineno, s, why = bad_w
        raise GraphFileError(path, f"weight {s!r} is {why}", line=lineno)
    info["repeated"] = int(repeated)
    ga, gb = a[starts], b[starts]
    if w_s is None and duplicates == "sum" and repeated:
        w_s = np.ones(a.size)
    if w_s is None:
        gw = None
    elif duplicates == "sum":
        gw = np.add.reduceat(w_s, starts) if starts.size else w_s[:0]
    else:  # last (or error without repeats): the weight of the group's last line
        ends = np.append(starts[1:], a.size) - 1
        gw = w_s[ends]
    info["labels"] = label_list
    return SparseGraph.from_edges(ga, gb, gw, n=len(label_list), name=str(path))


class _NotInt(Exception):
    pass


def _stream_records(p, path, header, as_int):
    """One pass over the file: edges as arrays (labels as ints, or as ids of strings), the
    single-vertex lines, the header decision, and the first malformed line of each kind."""
    from array import array

    int_re = re.compile(r"[+-]?\d+")
    U, V, L, S = array("q"), array("q"), array("q"), array("q")
    Wt = None
    names, ids = [], {}
    first = None  # (lineno, fields, text) of the first record, held back for the header decision
    later_numeric = True
    too_many = None
    bad_weight = None
    count = 0

    def label(tok, lineno):
        if as_int:
            if int_re.fullmatch(tok) is None:
                raise _NotInt
            x = int(tok)
            if not -(2**63) <= x < 2**63:
                raise GraphFileError(path, f"vertex label {tok} does not fit in 64 bits (read it with sparse=False)",
                                     line=lineno)
            return x
        i = ids.get(tok)
        if i is None:
            i = ids[tok] = len(names)
            names.append(tok)
        return i

    def add(lineno, fields, text):
        nonlocal Wt, too_many, bad_weight
        nf = len(fields)
        if nf > 3:
            if too_many is None:
                too_many = (lineno, nf, text)
            return
        if too_many is not None:
            return  # the file is refused anyway; keep scanning only for the earlier error
        a = label(fields[0], lineno)
        if nf == 1:
            S.append(a)
            return
        b = label(fields[1], lineno)
        w = 1.0
        if nf == 3:
            try:
                w = float(fields[2])
            except ValueError:
                if bad_weight is None:
                    bad_weight = (lineno, fields[2], "not a number")
                return
            if not math.isfinite(w):
                if bad_weight is None:
                    bad_weight = (lineno, fields[2], "not a finite number")
                return
            if Wt is None:
                Wt = array("d", [1.0]) * len(U)
        U.append(a)
        V.append(b)
        L.append(lineno)
        if Wt is not None:
            Wt.append(w)

    fast = []  # (u, v, line, w or None, singles) from chunks read by _fast_chunk

    def slow(chunk, lineno):
        nonlocal first, count, later_numeric
        raws = chunk.split(b"\n")
        if chunk.endswith(b"\n"):
            raws.pop()
        for raw in raws:
            try:
                text = raw.decode("utf-8-sig" if lineno == 0 else "utf-8")
            except UnicodeDecodeError as exc:
                raise GraphFileError(
                    path, f"not UTF-8 text (byte 0x{raw[exc.start]:02x}), so not a text edge list", line=lineno + 1
                ) from None
            # str.splitlines, as the dense reader: \r and the other line breaks end lines too
            for line in text.splitlines() or ("",):
                lineno += 1
                cut = _COMMENT.search(line)
                if cut:
                    line = line[: cut.start()]
                fields = line.replace(",", " ").split()
                if not fields:
                    continue
                count += 1
                if first is None:
                    first = (lineno, fields, line.strip())
                    continue
                if not as_int and later_numeric and not all(_is_number(f) for f in fields[:2]):
                    later_numeric = False
                add(lineno, fields, line.strip())
        return lineno

    lineno = 0
    size = _FIRST  # the first chunk (the header decision, a BOM) goes through the line-by-line reader
    with open(p, "rb") as fh:
        buf = b""
        while True:
            data = fh.read(size)
            size = _CHUNK
            final = not data
            buf += data
            if final:
                chunk, buf = buf, b""
            else:
                cut = buf.rfind(b"\n")
                if cut < 0:
                    continue
                chunk, buf = buf[: cut + 1], buf[cut + 1:]
            if chunk:
                got = None
                if as_int and first is not None and too_many is None:
                    got = _fast_chunk(chunk, lineno)
                if got is None:
                    lineno = slow(chunk, lineno)
                else:
                    fast.append(got[:5])
                    lineno += got[5]
                    count += got[6]
            if final:
                break
    hdr = None
    if first is not None:
        lineno, fields, text = first
        if header is None:
            is_hdr = len(fields) in (2, 3) and not any(_is_number(f) for f in fields) and \
                (len(fields) == 3 or (count > 1 and later_numeric))
        else:
            is_hdr = header
        if is_hdr:
            hdr = (text, lineno)
            count -= 1
        else:
            # the first record is an edge (or a vertex) after all; its errors come first
            saved = (too_many, bad_weight)
            too_many = bad_weight = None
            add(lineno, fields, text)
            too_many = too_many or saved[0]
            bad_weight = bad_weight or saved[1]
    def to(arr):
        return np.frombuffer(arr, dtype=np.int64).copy() if len(arr) else np.zeros(0, dtype=np.int64)

    us, vs, ls, ss = [to(U)], [to(V)], [to(L)], [to(S)]
    weighted = Wt is not None or any(f[3] is not None for f in fast)
    ws = [np.frombuffer(Wt, dtype=np.float64).copy() if Wt is not None else np.ones(len(U))] if weighted else []
    for fu, fv, fl, fw, fs in fast:
        us.append(fu)
        vs.append(fv)
        ls.append(fl)
        ss.append(fs)
        if weighted:
            ws.append(fw if fw is not None else np.ones(fu.size))
    return {
        "u": np.concatenate(us), "v": np.concatenate(vs), "line": np.concatenate(ls), "single": np.concatenate(ss),
        "w": np.concatenate(ws) if weighted else None,
        "names": names, "as_int": as_int, "header": hdr, "count": count,
        "too_many": too_many, "bad_weight": bad_weight,
    }


#: Bytes read at a time by the streaming edge-list reader (the first read: _FIRST bytes).
_CHUNK = 1 << 24
_FIRST = 1 << 16
_TO_SPACE = bytes.maketrans(b",\r", b"  ")
_CONTROL = np.zeros(256, dtype=bool)
_CONTROL[:32] = True
_CONTROL[[9, 10]] = False
_CONTROL[128:] = True  # non-ASCII: the line-by-line reader (UTF-8 checks, other line breaks)


def _fast_chunk(chunk, base):
    """Parse a chunk of whole lines with integer labels by NumPy, or None when it needs the
    line-by-line reader (comments, lone carriage returns, control or non-ASCII bytes, a '_' (a
    label such as 1_0 is a string), more than three fields, a label that is not an integer, a
    weight that is not a finite number).

    Returns (u, v, line numbers, weights or None, single-vertex labels, lines, records)."""
    if b"#" in chunk or b"%" in chunk or b"_" in chunk:
        return None
    if b"\r" in chunk and chunk.count(b"\r") != chunk.count(b"\r\n"):
        return None
    if not chunk.endswith(b"\n"):
        chunk = chunk + b"\n"
    chunk = chunk.translate(_TO_SPACE)
    arr = np.frombuffer(chunk, dtype=np.uint8)
    if _CONTROL[arr].any():
        return None
    nl = arr == 10
    nlines = int(nl.sum())
    ws = nl | (arr == 32) | (arr == 9)
    prev_ws = np.empty_like(ws)
    prev_ws[0] = True
    prev_ws[1:] = ws[:-1]
    starts = np.flatnonzero(~ws & prev_ws)
    line_of = (np.cumsum(nl) - nl)[starts]
    per = np.bincount(line_of, minlength=nlines)
    if per.size and per.max() > 3:
        return None
    toks = np.array(chunk.split())
    off = np.cumsum(per) - per
    e = per >= 2
    try:
        u = toks[off[e]].astype(np.int64)
        v = toks[off[e] + 1].astype(np.int64)
        single = toks[off[per == 1]].astype(np.int64)
        w = None
        three = per[e] == 3
        if three.any():
            w = np.ones(u.size)
            w[three] = toks[off[e][three] + 2].astype(np.float64)
            if not np.isfinite(w).all():
                return None
    except (ValueError, OverflowError):
        return None
    lines = base + 1 + np.flatnonzero(e)
    return u, v, lines, w, single, nlines, int(np.count_nonzero(per))


def _line_fields(p, lineno):
    """The fields of line ``lineno`` of a text file (to quote it in an error); lines are counted
    as str.splitlines counts them."""
    i = 0
    with open(p, "rb") as fh:
        for raw in fh:
            for line in raw.decode("utf-8-sig" if i == 0 else "utf-8").splitlines() or ("",):
                i += 1
                if i == lineno:
                    cut = _COMMENT.search(line)
                    if cut:
                        line = line[: cut.start()]
                    return line.replace(",", " ").split()
    return ["?", "?"]  # pragma: no cover

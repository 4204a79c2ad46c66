"""Reading graphs and matrices from files: ``.npy``, ``.npz``, GraphML and edge lists."""

from __future__ import annotations

import numpy as np

__all__ = ["read_graph"]


def read_graph(path, *, weight="weight"):
    """Read a graph file into a symmetric matrix.

    ``.npy``: an (n, n) array; ``.npz``: the array named ``A`` or ``W``, or the only one;
    ``.graphml``: networkx GraphML (edge attribute ``weight`` if present); anything else: a
    whitespace- or comma-separated edge list ``u v [weight]`` (``#`` starts a comment).
    """
    from pathlib import Path

    import networkx as nx

    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"no such graph file: {path}")
    suffix = p.suffix.lower()
    if suffix == ".npy":
        return np.load(p, allow_pickle=False)
    if suffix == ".npz":
        with np.load(p, allow_pickle=False) as z:
            keys = list(z.keys())
            for k in ("A", "W"):
                if k in z:
                    return z[k]
            if len(keys) == 1:
                return z[keys[0]]
            raise ValueError(f"{path}: holds arrays {keys}; name the matrix 'A' or 'W'")
    if suffix == ".graphml":
        G = nx.read_graphml(p)
    else:
        G = nx.Graph()
        with open(p) as fh:
            for lineno, line in enumerate(fh, 1):
                line = line.split("#", 1)[0].replace(",", " ").strip()
                if not line:
                    continue
                parts = line.split()
                if len(parts) not in (2, 3):
                    raise ValueError(f"{path}:{lineno}: expected 'u v' or 'u v weight', got {line!r}")
                attrs = {"weight": float(parts[2])} if len(parts) == 3 else {}
                G.add_edge(parts[0], parts[1], **attrs)
    if G.is_directed():
        G = nx.Graph(G)
    nodes = sorted(G.nodes, key=str)
    return nx.to_numpy_array(G, nodelist=nodes, weight=weight)

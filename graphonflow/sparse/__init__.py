"""Sparse graphs: exact homomorphism, injective, induced and subgraph counts in O(m)-ish memory.

:func:`hom_count`, :func:`inj_count`, :func:`ind_count` and :func:`subgraph_count` take a
scipy.sparse matrix, a networkx graph, a :class:`SparseGraph` or a square array and never
build an n x n matrix; :class:`SparseCounter` shares work across many patterns.  See
docs/sparse.md for the algorithms and their costs.
"""

from .graph import SparseGraph, as_sparse_graph, is_sparse_input
from .counts import SparseCounter, hom_count, inj_count, ind_count, subgraph_count, sparse_density

__all__ = ["SparseGraph", "as_sparse_graph", "is_sparse_input", "SparseCounter", "hom_count", "inj_count",
           "ind_count", "subgraph_count", "sparse_density"]

"""Deprecated alias of :mod:`repalign.data` for the sparse-factor populations (since 0.2; removed in 0.3).

``from repalign.generators import sparse_factor_population`` → ``from repalign.data import sparse_factor_population``.
"""

from ._version import deprecated
from .data import SparseFactorPopulation, sparse_factor_population

__all__ = ["SparseFactorPopulation", "sparse_factor_population"]

# stacklevel 3: the importer's line (the warnings module skips importlib's own frames)
deprecated("repalign.generators", "repalign.data", stacklevel=3)

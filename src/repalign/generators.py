"""Deprecated alias of :mod:`repalign.data` for the sparse-factor populations (since 0.2; removed in 0.3).

``from repalign.generators import sparse_factor_population`` → ``from repalign.data import sparse_factor_population``.
"""

import warnings

from .data import SparseFactorPopulation, sparse_factor_population

__all__ = ["SparseFactorPopulation", "sparse_factor_population"]

warnings.warn("repalign.generators is deprecated and will be removed in 0.3; use repalign.data",
              DeprecationWarning, stacklevel=2)

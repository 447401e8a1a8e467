"""Deprecated: files are read by :func:`repalign.data.read` (since 0.2; removed in 0.3).

``io.load_array("x.npz:name")`` → ``data.read("x.npz:name").activity``.
"""

import warnings

from .data import read, split_source

__all__ = ["load_array", "split_path_key"]

warnings.warn("repalign.io is deprecated and will be removed in 0.3; use repalign.data.read",
              DeprecationWarning, stacklevel=2)


def load_array(spec: str):
    """Deprecated: ``repalign.data.read(spec).activity``."""
    warnings.warn("repalign.io.load_array is deprecated; use repalign.data.read(spec).activity", DeprecationWarning,
                  stacklevel=2)
    return read(spec).activity


def split_path_key(spec: str):
    """Deprecated: :func:`repalign.data.split_source`."""
    warnings.warn("repalign.io.split_path_key is deprecated; use repalign.data.split_source", DeprecationWarning,
                  stacklevel=2)
    return split_source(spec)

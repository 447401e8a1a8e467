"""Deprecated: files are read by :func:`repalign.data.read` (since 0.2; removed in 0.3).

``io.load_array("x.npz:name")`` → ``data.read("x.npz:name").activity``.
"""

from ._version import deprecated
from .data import read, split_source

__all__ = ["load_array", "split_path_key"]

deprecated("repalign.io", "repalign.data.read", stacklevel=2)


def load_array(spec: str):
    """Deprecated: ``repalign.data.read(spec).activity``."""
    deprecated("repalign.io.load_array", "repalign.data.read(spec).activity")
    return read(spec).activity


def split_path_key(spec: str):
    """Deprecated: :func:`repalign.data.split_source`."""
    deprecated("repalign.io.split_path_key", "repalign.data.split_source")
    return split_source(spec)

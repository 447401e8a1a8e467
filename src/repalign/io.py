"""Deprecated: files are read by :func:`repalign.data.read` (since 0.2; removed in 0.3).

``io.load_array("x.npz:name")`` → ``data.read_array("x.npz:name")`` (the array as stored; or
``data.read(...)`` for a checked Dataset).
"""

from ._version import deprecated
from .data import read_array, split_source

__all__ = ["load_array", "split_path_key"]

# stacklevel 3: the importer's line (the warnings module skips importlib's own frames)
deprecated("repalign.io", "repalign.data.read", stacklevel=3)


def load_array(spec: str):
    """Deprecated: :func:`repalign.data.read_array` (the array as stored; a netCDF variable as a DataArray)."""
    deprecated("repalign.io.load_array", "repalign.data.read_array(spec)")
    return read_array(spec)


def split_path_key(spec: str):
    """Deprecated: :func:`repalign.data.split_source`."""
    deprecated("repalign.io.split_path_key", "repalign.data.split_source")
    return split_source(spec)

"""Deprecated alias of :mod:`repalign.data` (since 0.2; removed in 0.3).

``from repalign.datasets import mante_like`` → ``from repalign.data import mante_like``;
``datasets.load(path, name)`` → ``data.read(path, name=name)`` (or ``data.read("path:name")``).
"""

from ._version import deprecated
from .data import Dataset, gaussian_like, load_m1, mante_like, read, two_pc, ultrametric

__all__ = ["Dataset", "load", "load_m1", "mante_like", "gaussian_like", "two_pc", "ultrametric"]

deprecated("repalign.datasets", "repalign.data (datasets.load(path, name) is data.read(path, name=name))",
           stacklevel=3)  # the importer's line (importlib's own frames are skipped)


def load(path, name=None, *, conditions=None, units=None, dt=None) -> Dataset:
    """Deprecated: :func:`repalign.data.read` (``read(path, name=name, ...)``)."""
    deprecated("repalign.datasets.load", "repalign.data.read")
    return read(path, name=name, conditions=conditions, units=units, dt=dt)

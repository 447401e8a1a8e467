"""Read arrays from files: ``.npy``, ``.npz`` (``path.npz:name``), ``.csv`` and netCDF ``.nc``.

Used by the command line; measures never touch files. No pickle is ever loaded.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["load_array", "split_path_key"]

SUFFIXES = (".npy", ".npz", ".csv", ".nc")


def split_path_key(spec: str) -> tuple[Path, str | None]:
    """``"data.npz:activity"`` -> ``(Path("data.npz"), "activity")``; no key -> ``None``."""
    path, key = spec, None
    for suffix in (".npz", ".nc"):
        marker = suffix + ":"
        if marker in spec:
            head, key = spec.split(marker, 1)
            path = head + suffix
    return Path(path), key


def _choose(names: list[str], key: str | None, path: Path):
    if key is not None:
        if key not in names:
            raise ValueError(f"{path}: no array named {key!r}; it holds {names}")
        return key
    if len(names) == 1:
        return names[0]
    raise ValueError(f"{path} holds several arrays {names}; pick one as {path}:NAME")


def load_array(spec: str):
    """Load one array from ``spec`` (a path, optionally ``file.npz:name`` or ``file.nc:variable``).

    netCDF variables come back as xarray DataArrays so that dimension names
    (``time``, ``condition``, ``unit``) are kept; everything else as numpy arrays.
    """
    path, key = split_path_key(spec)
    if not path.exists():
        raise ValueError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix == ".npy":
        return np.load(path, allow_pickle=False)
    if suffix == ".npz":
        with np.load(path, allow_pickle=False) as archive:
            return archive[_choose(list(archive.files), key, path)]
    if suffix == ".csv":
        try:
            return np.loadtxt(path, delimiter=",", ndmin=2)
        except ValueError:  # a header line
            return np.loadtxt(path, delimiter=",", ndmin=2, skiprows=1)
    if suffix == ".nc":
        try:
            import xarray
        except ImportError as err:
            raise ValueError("reading .nc files needs xarray: pip install 'repalign[cli]'") from err
        with xarray.open_dataset(path) as dataset:
            name = _choose(list(dataset.data_vars), key, path)
            return dataset[name].load()
    raise ValueError(f"{path}: unsupported file type {suffix!r}; expected one of {SUFFIXES}")

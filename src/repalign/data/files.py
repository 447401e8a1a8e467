"""The one file reader: ``.npy``, ``.npz``, ``.csv`` and netCDF ``.nc`` into a :class:`Dataset`.

Every part of repalign that reads a file (the command line, the experiments, the deprecated
``datasets.load`` and ``io.load_array``) reads it here, with one grammar for naming an array
inside a file, ``PATH[:NAME]``:

- ``rates.npy`` — one array (a ``.npy`` file holds one);
- ``rates.csv`` — a table of numbers, samples as rows and units as columns (a header line is
  skipped);
- ``session.npz`` — a :meth:`Dataset.save`-d dataset, or a plain archive of named arrays: the one
  named ``activity``, else its only array; ``session.npz:rates`` picks ``rates``;
- ``session.nc`` — a saved dataset or a netCDF file of data variables, ``session.nc:rates`` picks
  one; its dimensions must be named ``time, condition, unit`` or ``sample, unit``.

:func:`read` returns a checked :class:`Dataset`; :func:`read_array` the array as stored (a netCDF
variable as an ``xarray.DataArray`` with its dimensions), for the few callers that need the raw
array (it is what :func:`read` reads). Nothing is ever unpickled. A missing file raises
:class:`MissingFileError` (a ``FileNotFoundError``); a file that cannot be read (unsupported type,
corrupt, pickled, an unknown array name, activity that fails the checks of :class:`Dataset`)
raises :class:`DataFileError` (a ``ValueError``). Both messages start with the file and say what
to do, in one line.
"""

from __future__ import annotations

import json
import os
import re
import warnings
import zipfile
from collections.abc import Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from ..inputs import layout_of
from .dataset import (
    FORMAT,
    FORMAT_VERSION,
    NPZ_HEADER,
    Dataset,
    pandas_module,
    table_from_columns,
    xarray_module,
)

__all__ = ["read", "read_array", "split_source", "DataFileError", "MissingFileError", "SUFFIXES"]

SUFFIXES = (".npy", ".npz", ".csv", ".nc")
_NAMED = re.compile(r"^(.*?\.(?:npz|nc|npy|csv)):(.*)$", re.IGNORECASE)


class DataFileError(ValueError):
    """A data file that cannot be read as a dataset; the message names the file."""


class MissingFileError(FileNotFoundError, DataFileError):
    """A data file that does not exist (both a ``FileNotFoundError`` and a :class:`DataFileError`)."""


def split_source(source: str | os.PathLike) -> tuple[Path, str | None]:
    """``"session.npz:rates"`` → ``(Path("session.npz"), "rates")``; no ``:NAME`` → ``None``.

    A path that exists as written is never split (a file name may contain ``:``).

    >>> split_source("session.npz:rates")
    (PosixPath('session.npz'), 'rates')
    >>> split_source("rates.npy")
    (PosixPath('rates.npy'), None)
    """
    text = os.fspath(source)
    if not isinstance(text, str):
        raise DataFileError(f"source: expected a path, got {type(source).__name__}")
    if not text.strip():
        raise DataFileError("source: empty path")
    match = _NAMED.match(text)
    if match is None or Path(text).exists():
        return Path(text), None
    return Path(match.group(1)), match.group(2)


def read(
    source: str | os.PathLike,
    *,
    name: str | None = None,
    conditions: Sequence[str] | None = None,
    units: Sequence[str] | None = None,
    dt: float | None = None,
) -> Dataset:
    """Read a :class:`Dataset` from ``PATH[:NAME]`` (``.npy``, ``.npz``, ``.csv`` or ``.nc``).

    A file written by :meth:`Dataset.save` comes back identical. In a plain ``.npz``,
    ``conditions`` and ``units`` name 1D arrays of the file that become table columns (in that
    order); in a plain ``.nc`` the tables come from the variable's coordinates (see
    :meth:`Dataset.from_xarray`). ``dt`` sets the time step of a plain file. The provenance of a
    plain file records its path and array.

    Args:
        source: ``PATH`` or ``PATH:NAME`` (see the module documentation).
        name: the array or variable to read, instead of ``:NAME`` (then ``source`` is a plain path).
        conditions, units: for a plain ``.npz`` only, the arrays that hold the tables' columns.
        dt: time step (seconds) of a plain file.

    Raises:
        MissingFileError: the file does not exist.
        DataFileError: any other reason the file cannot be read (its message names the file).

    Example:
        >>> import numpy as np, tempfile, os
        >>> folder = tempfile.mkdtemp()
        >>> path = os.path.join(folder, "plain.npz")
        >>> np.savez(path, rates=np.arange(24.0).reshape(2, 3, 4), coherence=np.array([-1.0, 0.0, 1.0]))
        >>> ds = read(path + ":rates", conditions=["coherence"], dt=0.05)
        >>> ds.shape, ds.conditions.columns.tolist(), ds.dt
        ((2, 3, 4), ['coherence'], 0.05)
        >>> read(path)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        repalign.data.files.DataFileError: ...plain.npz: holds several arrays ['rates', 'coherence'] and none is ...
        >>> read(ds.save(os.path.join(folder, "saved.npz"))).equals(ds)
        True
    """
    path, name, suffix = _located(source, name)
    shown = f"{path}:{name}" if name is not None else str(path)
    try:
        if suffix in (".npy", ".csv"):
            _refuse(conditions or units, "conditions and units name arrays of a plain .npz file", path)
            return Dataset(_read_raw(path, name, suffix, shown), dt=dt, provenance={"source": str(path)})
        if suffix == ".npz":
            return _read_npz(path, name, conditions, units, dt, shown)
        _refuse(conditions or units, "conditions and units name arrays of a plain .npz file; in a .nc file "
                                     "give them as coordinates on the condition (or sample) and unit dimensions", path)
        return _read_nc(path, name, dt, shown)
    except DataFileError:
        raise
    except ValueError as error:  # the checks of Dataset on what was read: one sentence, prefixed with the file
        raise DataFileError(f"{shown}: {error}") from None


def read_array(source: str | os.PathLike, *, name: str | None = None):
    """The array of ``PATH[:NAME]`` as stored: numpy for ``.npy``/``.npz``/``.csv``, an ``xarray.DataArray``
    (with its dimensions and coordinates) for ``.nc``. Its values are not checked (:func:`read` checks them).

    The same grammar, the same choice of array (the named one, else the one called ``activity``,
    else the only one) and the same errors as :func:`read`; nothing is unpickled.

    Example:
        >>> import numpy as np, tempfile, os
        >>> path = os.path.join(tempfile.mkdtemp(), "labels.npz")
        >>> np.savez(path, context=np.array([1, -1, 1]), rates=np.ones((3, 2)))
        >>> read_array(path + ":context")
        array([ 1, -1,  1])
    """
    path, name, suffix = _located(source, name)
    return _read_raw(path, name, suffix, f"{path}:{name}" if name is not None else str(path))


def _located(source, name) -> tuple[Path, str | None, str]:
    """The path, the array name and the suffix of ``source``; the errors of a file that is not there or not ours."""
    if name is None:
        path, name = split_source(source)
    else:
        path = Path(os.fspath(source))
    if not path.exists():
        raise MissingFileError(f"{path}: no such file")
    if path.is_dir():
        raise DataFileError(f"{path}: is a folder, not a data file")
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise DataFileError(f"{path}: unsupported file type {suffix or '(no suffix)'!r}; expected one of "
                            f"{', '.join(SUFFIXES)}")
    if name == "":
        raise DataFileError(f"{path}: empty array name after ':'")
    return path, name, suffix


def _read_raw(path: Path, name, suffix: str, shown: str):
    if suffix in (".npy", ".csv"):
        _refuse(name, f"a {suffix} file holds one array; drop ':{name}'", path)
        with _reading(shown, suffix):
            return _read_single(path, suffix)
    if suffix == ".npz":
        with _reading(shown, suffix), np.load(path, allow_pickle=False) as archive:
            available = list(archive.files)
            return archive[_choose(available, name, path, "array")]
    xr = xarray_module()
    with _reading(shown, suffix), xr.open_dataset(path) as opened:
        opened = opened.load()
    return opened[_choose([str(v) for v in opened.data_vars], name, path, "variable")]


def _refuse(given, why: str, path: Path) -> None:
    if given:
        raise DataFileError(f"{path}: {why}")


@contextmanager
def _reading(shown: str, suffix: str):
    """Turn the errors of numpy's and xarray's readers into one :class:`DataFileError` line."""
    try:
        yield
    except DataFileError:
        raise
    except (ValueError, OSError, EOFError, KeyError, TypeError, RuntimeError, zipfile.BadZipFile) as error:
        text = str(error).strip()
        if "pickle" in text.lower() or "object arrays" in text.lower():
            raise DataFileError(f"{shown}: holds Python objects (pickled data), which repalign never loads; save "
                                f"plain numeric arrays (numpy.save or numpy.savez of number arrays, or "
                                f"Dataset.save)") from None
        reason = " ".join(text.split()) or type(error).__name__  # one line, however many the reader wrote
        if len(reason) > 160:
            reason = reason[:157] + "..."
        raise DataFileError(f"{shown}: cannot be read as a {suffix} file ({reason}); is it truncated or of "
                            f"another format?") from None


def _read_single(path: Path, suffix: str) -> np.ndarray:
    if suffix == ".npy":
        return np.load(path, allow_pickle=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # numpy warns on an empty file: make it an error
        try:
            return np.loadtxt(path, delimiter=",", ndmin=2)
        except UserWarning:
            raise DataFileError(f"{path}: is empty") from None
        except ValueError:
            pass
        try:  # a header line
            return np.loadtxt(path, delimiter=",", ndmin=2, skiprows=1)
        except UserWarning:
            raise DataFileError(f"{path}: has a header line but no rows of numbers") from None
        except ValueError as error:
            raise DataFileError(f"{path}: is not a comma-separated table of numbers (samples as rows, units as "
                                f"columns, at most one header line): {error}") from None


def _choose(available: list[str], name: str | None, path: Path, kind: str) -> str:
    if name is not None:
        if name not in available:
            raise DataFileError(f"{path}: has no {kind} named {name!r}; it holds {available}")
        return name
    if "activity" in available:
        return "activity"
    if len(available) == 1:
        return available[0]
    if not available:
        raise DataFileError(f"{path}: holds no {kind}")
    raise DataFileError(f"{path}: holds several {kind}s {available} and none is named 'activity'; name one: "
                        f"{path}:{available[0]}")


def _refuse_options_for_saved(path: Path, name, conditions, units, dt) -> None:
    if name not in (None, "activity"):
        raise DataFileError(f"{path}: is a saved repalign Dataset, whose activity is 'activity', not {name!r}")
    for option, value in (("conditions", conditions), ("units", units), ("dt", dt)):
        if value is not None:
            raise DataFileError(f"{path}: is a saved repalign Dataset and restores its own {option}")


def _read_npz(path: Path, name, conditions, units, dt, shown: str) -> Dataset:
    with _reading(shown, ".npz"), np.load(path, allow_pickle=False) as archive:
        available = list(archive.files)
        if NPZ_HEADER in available:
            _refuse_options_for_saved(path, name, conditions, units, dt)
            header = json.loads(str(archive[NPZ_HEADER]))
            if header.get("format") != FORMAT or header.get("version") != FORMAT_VERSION:
                raise DataFileError(f"{path}: is a repalign file of an unknown format or version "
                                    f"({header.get('format')!r}, {header.get('version')!r})")
            tables = []
            for key in ("conditions", "units"):
                spec = header[key]
                columns = {} if spec is None else {c: archive[f"{key}/{c}"] for c, _ in spec}
                tables.append(table_from_columns(columns, spec, ours=True))
            saved = (archive["activity"], tables[0], tables[1], header["dt"], header["provenance"])
        else:
            saved = None
            key = _choose(available, name, path, "array")
            activity = archive[key]
            tables = [_columns(archive, available, names, option, path)
                      for option, names in (("conditions", conditions), ("units", units))]
    if saved is not None:
        return Dataset(*saved)
    return Dataset(activity, tables[0], tables[1], dt, {"source": str(path), "array": key})


def _columns(archive, available: list[str], names, option: str, path: Path):
    if names is None:
        return None
    if isinstance(names, str):
        raise DataFileError(f"{path}: {option} must be a list of array names, got the string {names!r}")
    columns = {}
    for column in names:
        if column not in available:
            raise DataFileError(f"{path}: has no array named {column!r} (asked for by {option}); it holds {available}")
        values = archive[column]
        if values.ndim != 1:
            raise DataFileError(f"{path}: array {column!r} has shape {values.shape}; {option} columns must be 1D")
        columns[column] = values
    return pandas_module().DataFrame(columns)


def _read_nc(path: Path, name, dt, shown: str) -> Dataset:
    variable = _read_raw(path, name, ".nc", shown)
    if str(variable.attrs.get("repalign_format", "")).startswith(FORMAT):
        _refuse_options_for_saved(path, name, None, None, dt)
        return Dataset.from_xarray(variable)
    if layout_of(variable.dims) is None:
        raise DataFileError(f"{path}: variable {variable.name!r} has dimensions {tuple(variable.dims)}; repalign "
                            f"reads dimensions named time, condition, unit (or sample, unit), in any order: rename "
                            f"them in the file")
    ds = Dataset.from_xarray(variable)
    return Dataset(ds.activity, ds.conditions, ds.units, ds.dt if dt is None else dt,
                   {"source": str(path), "array": str(variable.name)})

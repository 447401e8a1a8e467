"""One convention for every result: a tidy table, a figure, files beside it, and a plain record.

Every analysis of repalign returns a :class:`Result`:

- ``result.table`` — a tidy (long) pandas DataFrame, one row per observation;
- ``result.plot(ax=None)`` — the figure people would rather look at than read, on ``ax`` or a new
  figure; returns the axes;
- ``result.save(path)`` — ``path.png`` and ``path.pdf`` of :meth:`~Result.plot` and ``path.csv`` of
  the table (:func:`save_figure`: the one way figures are written);
- ``result.record()`` — a :class:`Record`: the settings that produced the result, its tables, its
  arrays and the versions of the software, as plain values that a results store can hold and that
  :meth:`Record.save` writes to one ``.npz`` file (no pickle) and :meth:`Record.load` reads back.

Example:
    >>> import numpy as np, tempfile, os
    >>> from repalign.perturbation import perturb_pcs
    >>> X = np.random.default_rng(0).normal(size=(100, 5)) * [4, 2, 1, 0.5, 0.25]
    >>> result = perturb_pcs(X, measures=("cka",), ks=[0, 1])
    >>> record = result.record()
    >>> record.kind, list(record.tables), record.settings["ks"]
    ('perturbation', ['table'], [0, 1])
    >>> path = record.save(os.path.join(tempfile.mkdtemp(), "perturbation.npz"))
    >>> Record.load(path).table.equals(result.table)
    True
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from ._optional import import_pyplot
from ._tables import column_arrays, column_spec, table_from_arrays
from ._version import deprecated, versions

__all__ = ["Result", "Record", "save_figure", "json_safe", "colours", "log_variance_axis", "legend", "check_table",
           "table_of"]

RECORD_FORMAT = "repalign.Record"
RECORD_VERSION = 1
_HEADER = "__record__"


def save_figure(ax, table, path) -> list[str]:
    """Write ``ax``'s figure as ``path``.png and ``path``.pdf and ``table`` as ``path``.csv; close the figure.

    ``path`` is taken without suffix (a ``.png``/``.pdf``/``.csv`` suffix is dropped); dots inside
    the name are kept (``run_s0.5`` writes ``run_s0.5.png``); missing folders are created. Returns
    the three paths written.
    """
    plt = import_pyplot()

    path = Path(path)
    stem = path.with_suffix("") if path.suffix in (".png", ".pdf", ".csv") else path
    stem.parent.mkdir(parents=True, exist_ok=True)
    written = [stem.parent / f"{stem.name}{suffix}" for suffix in (".png", ".pdf", ".csv")]
    try:
        for target in written[:2]:
            ax.figure.savefig(target, bbox_inches="tight")
    finally:
        plt.close(ax.figure)
    table.to_csv(written[2], index=False)
    return [str(target) for target in written]


def colours() -> list[str]:
    """The colours of matplotlib's current property cycle (one per measure, variable...)."""
    plt = import_pyplot()

    return plt.rcParams["axes.prop_cycle"].by_key().get("color", ["C0"])


def legend(ax, **options) -> None:
    """``ax.legend(frameon=False, ...)`` when something on ``ax`` has a label (matplotlib warns otherwise)."""
    if options.get("handles") or ax.get_legend_handles_labels()[0]:
        ax.legend(**{"frameon": False, "fontsize": "x-small", **options})


def log_variance_axis(ax, label: str = "variance explained by the PC") -> None:
    """A log-scale x axis of explained-variance fractions, ticked 0.01, 0.02, 0.05, 0.1, …"""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter  # noqa: PLC0415

    ax.set_xscale("log")
    ax.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel(label)


def check_table(table, needed, producer: str) -> None:
    """Refuse a table without the columns ``needed`` (made by ``producer``) or without rows: nothing to plot."""
    missing = [c for c in needed if c not in getattr(table, "columns", ())]
    if missing:
        raise ValueError(f"table: expected a {producer} table, missing column(s) {missing}")
    if len(table) == 0:
        raise ValueError("table: empty table, nothing to plot")


def table_of(value):
    """The table of a :class:`Result`, or ``value`` itself (a DataFrame given to a deprecated function of 0.1)."""
    return value.table if isinstance(value, Result) else value


def json_safe(value):
    """``value`` with numpy scalars and arrays, tuples, paths and ranges turned into JSON values.

    Non-finite numbers become None (JSON has no NaN); objects become their text.

    >>> json_safe({"ks": range(2), "lr": np.float32(0.5), "shape": (2, 3), "score": float("nan")})
    {'ks': [0, 1], 'lr': 0.5, 'shape': [2, 3], 'score': None}
    """
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, range)):
        return [json_safe(v) for v in value]
    if isinstance(value, np.ndarray):
        return json_safe(value.tolist())
    if isinstance(value, np.generic):
        return json_safe(value.item())
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, (bool, int, str)):
        return value
    return repr(value)  # an object (a measure, a callable): its text, for the record


@dataclass(frozen=True, eq=False)
class Record:
    """A result as plain values: what a results store holds and what :meth:`save` writes.

    Attributes:
        kind: what produced it (``"perturbation"``, ``"optimization"``, an experiment's name...).
        settings: the arguments that produced it, as JSON values.
        tables: tidy pandas DataFrames by name (most results have one, ``"table"``).
        arrays: numpy arrays by name (final data, plans, rotations...).
        versions: repalign, Python, numpy and torch versions.
        files: files written beside the record (figures, tables), as paths.
    """

    kind: str
    settings: dict
    tables: dict = field(default_factory=dict)
    arrays: dict = field(default_factory=dict)
    versions: dict = field(default_factory=versions)
    files: tuple = ()

    def __post_init__(self):
        object.__setattr__(self, "settings", json.loads(json.dumps(json_safe(self.settings), allow_nan=False)))
        arrays = {str(k): np.asarray(v) for k, v in self.arrays.items()}
        objects = [k for k, v in arrays.items() if v.dtype.kind not in "biufcUS"]
        if objects:
            raise ValueError(f"arrays: {objects} hold Python objects; a record holds numbers and strings only "
                             f"(never pickle)")
        object.__setattr__(self, "arrays", arrays)
        object.__setattr__(self, "files", tuple(str(f) for f in self.files))

    @property
    def table(self):
        """The main table: ``tables["table"]``, else the first one."""
        if not self.tables:
            raise ValueError(f"this {self.kind} record holds no table")
        return self.tables.get("table", next(iter(self.tables.values())))

    def to_dict(self) -> dict:
        """JSON values (missing and non-finite numbers as None): kind, settings, versions, tables as lists of
        rows; array names and shapes."""
        return {
            "kind": self.kind, "settings": self.settings, "versions": self.versions,
            "tables": {name: json_safe(table.to_dict(orient="records")) for name, table in self.tables.items()},
            "arrays": {name: list(array.shape) for name, array in self.arrays.items()}, "files": list(self.files),
        }

    def save(self, path) -> Path:
        """Write the record to one ``.npz`` file (a JSON header, the tables' columns, the arrays; no pickle).

        The file is written to a temporary name and renamed, so a crash never leaves half a file.
        Returns the path.
        """
        path = Path(path)
        if path.suffix.lower() != ".npz":
            raise ValueError(f"path: a record is saved as .npz, got {str(path)!r}")
        arrays = {f"array/{name}": array for name, array in self.arrays.items()}
        for name, table in self.tables.items():
            arrays.update(column_arrays(table, f"table/{name}"))
        header = {"format": RECORD_FORMAT, "version": RECORD_VERSION, "kind": self.kind, "settings": self.settings,
                  "versions": self.versions, "tables": {name: column_spec(t) for name, t in self.tables.items()},
                  "arrays": list(self.arrays), "files": list(self.files)}
        arrays[_HEADER] = np.array(json.dumps(header))
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(path.name + ".tmp")
        with open(temporary, "wb") as handle:  # a file object: numpy must not append a suffix
            np.savez(handle, allow_pickle=False, **arrays)
        os.replace(temporary, path)
        return path

    @classmethod
    def load(cls, path) -> Record:
        """Read a record written by :meth:`save`."""
        path = Path(path)
        try:
            archive = np.load(path, allow_pickle=False)
        except (OSError, ValueError, EOFError) as error:
            raise ValueError(f"{path}: cannot be read as a repalign record ({type(error).__name__})") from None
        if not hasattr(archive, "files"):
            raise ValueError(f"{path}: not a repalign record (an .npy array, not an .npz archive)")
        with archive:
            if _HEADER not in archive.files:
                raise ValueError(f"{path}: not a repalign record (no {_HEADER!r} header)")
            header = json.loads(str(archive[_HEADER]))
            if header.get("format") != RECORD_FORMAT or header.get("version") != RECORD_VERSION:
                raise ValueError(f"{path}: a record of an unknown format or version "
                                 f"({header.get('format')!r}, {header.get('version')!r})")
            tables = {}
            for name, spec in header["tables"].items():
                prefix = f"table/{name}/"
                columns = {key[len(prefix):]: archive[key] for key in archive.files if key.startswith(prefix)}
                tables[name] = table_from_arrays(columns, spec, where=f"{path}: table {name!r}")
            arrays = {name: archive[f"array/{name}"] for name in header["arrays"]}
        return cls(header["kind"], header["settings"], tables, arrays, header["versions"], header.get("files", ()))


class Result:
    """Base class of every analysis result: ``table``, ``plot()``, ``save(path)``, ``record()``.

    A subclass sets ``record_kind`` and provides ``table`` (a field or a property) and :meth:`plot`; for
    :meth:`record` it
    may override ``_record_settings`` (the arguments that produced it, default empty),
    ``_record_arrays`` (default none) and ``_record_tables`` (default ``{"table": self.table}``).

    Until 0.3, a result also answers the DataFrame attributes and indexing of its table, with a
    ``DeprecationWarning``: functions that returned a bare DataFrame in 0.1 return a result now.
    """

    record_kind: ClassVar[str] = "result"  # the ``kind`` of its Record
    # ``table``, the tidy pandas DataFrame of the result, is a field or a property of each subclass

    def plot(self, ax=None):
        """Draw the result on ``ax`` (a new figure when None) and return the axes."""
        raise NotImplementedError

    def _record_settings(self) -> dict:
        """The arguments that produced the result, as JSON values."""
        return {}

    def _record_arrays(self) -> dict[str, np.ndarray]:
        """Arrays that belong to the result beyond its table (none by default)."""
        return {}

    def _record_tables(self) -> dict[str, Any]:
        """The result's tables by name (``{"table": self.table}`` by default)."""
        return {"table": self.table}

    def to_frame(self):
        """A copy of the table."""
        return self.table.copy()

    def save(self, path, **plot_options) -> list[str]:
        """Write :meth:`plot` as ``path``.png and ``path``.pdf and the table as ``path``.csv; returns the paths."""
        return save_figure(self.plot(**plot_options), self.table, path)

    def record(self) -> Record:
        """The result as a :class:`Record` (settings, tables, arrays, versions)."""
        return Record(self.record_kind, self._record_settings(), self._record_tables(), self._record_arrays())

    # -- deprecated: a result standing in for the DataFrame that 0.1 returned ----------------------
    def __getattr__(self, name: str):
        if name.startswith("_") or name in ("table", "plot", "save", "record"):
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        table = self.table
        if not hasattr(table, name):
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        _warn_table(self, name)
        return getattr(table, name)

    def __getitem__(self, key):
        _warn_table(self, "[...]")
        return self.table[key]

    def __len__(self) -> int:
        _warn_table(self, "len")
        return len(self.table)

    def __iter__(self):
        _warn_table(self, "iter")
        return iter(self.table)

    def __contains__(self, key) -> bool:
        _warn_table(self, "in")
        return key in self.table

    def __array__(self, dtype=None, copy=None):
        _warn_table(self, "numpy.asarray")
        return np.asarray(self.table, dtype=dtype)

    def __bool__(self) -> bool:  # a result is a result, even with an empty table
        return True


def _warn_table(result: Result, what: str) -> None:
    deprecated(f"DataFrame access ({what!r}) on a {type(result).__name__}, a result object since repalign 0.2",
               "its .table", stacklevel=4)

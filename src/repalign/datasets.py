r"""Datasets: activity with its task variables, files, and the seed paper's synthetic references.

A :class:`Dataset` holds population activity, either ``(time, condition, unit)`` or
``(sample, unit)``, with a table of task variables (one row per condition; per sample for
2D data), an optional table of unit metadata, the time step and a provenance record. It
converts to and from :class:`xarray.DataArray` and saves to ``.npz`` (numpy, never pickle)
or netCDF ``.nc`` (xarray); :func:`load` reads both back, and also reads plain ``.npz``
and ``.nc`` files of named arrays.

Generators (every random choice comes from ``seed``):

- :func:`mante_like`: a synthetic prefrontal population for the contextual decision task
  of Mante et al. (2013), the seed paper's main dataset: 2 contexts × 6 motion × 6 colour
  coherences = 72 conditions, 15 time bins, 727 units, power-law PC spectrum;
- :func:`gaussian_like`: the seed paper's "matched Gaussian", random data with exactly
  the PC variances of a reference;
- :func:`two_pc`: the 2-unit, 6-condition reference of the seed paper's Figure 4a, with a
  settable ratio of PC variances (Figure 4d);
- :func:`ultrametric`: tree-structured (hierarchical) binary patterns whose expected
  distances form an ultrametric, as in the seed paper's code.

:func:`load_m1` reads the real M1 recording of Hatsopoulos et al. (2007) from
``../shared/data`` (beside the repository) or a given path; it is never shipped with the
package.

pandas and xarray are imported only by the functions that need them: ``import
repalign.datasets`` loads neither. By convention ``dt`` is in seconds.
"""

from __future__ import annotations

import json
import math
import numbers
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ._checks import check_count, check_real
from .inputs import as_data

if TYPE_CHECKING:  # pragma: no cover - annotations only
    import pandas
    import xarray

__all__ = ["Dataset", "load", "load_m1", "mante_like", "gaussian_like", "two_pc", "ultrametric"]

_LAYOUTS = {3: ("time", "condition", "unit"), 2: ("sample", "unit")}
_FORMAT = "repalign.Dataset"
_FORMAT_VERSION = 1
_NPZ_META = "__repalign__"  # key of the JSON header in a saved .npz
_M1_FILE = "hatsopoulos2007_m1.npz"


def _pandas():
    try:
        import pandas
    except ImportError as err:  # pragma: no cover - pandas is installed with the extras
        raise ImportError("tables of task variables need pandas: pip install 'repalign[cli]'") from err
    return pandas


def _xarray():
    try:
        import xarray
    except ImportError as err:  # pragma: no cover
        raise ImportError("xarray conversion and .nc files need xarray: pip install 'repalign[xarray]'") from err
    return xarray


# ---------------------------------------------------------------------------------------------
# checks (activity goes through repalign.inputs, the one validator of arrays)


def _checked_activity(x, name: str) -> np.ndarray:
    """A read-only float64 copy of ``x`` in its original layout, checked by :func:`as_data`."""
    owned = isinstance(x, np.ndarray) and x.dtype.kind in "biuf"
    if owned:  # our own writable float64 copy, which as_data then shares instead of copying
        x = np.array(x, dtype=np.float64, copy=True)
    data, _ = as_data(x, name)
    values = data.values.detach().cpu().double().numpy()
    if data.n_conditions is not None:
        values = values.reshape(data.n_time, data.n_conditions, data.n_units)
    if not owned or not np.shares_memory(values, x):
        values = np.array(values, dtype=np.float64, copy=True)  # never share memory with the caller
    values.setflags(write=False)
    return values


def _checked_table(table, name: str, n_rows: int, row_meaning: str):
    """Normalise a table: a DataFrame with string column names, a 0..n-1 index and columns of
    numbers, booleans or strings (what .npz and .nc store without pickle)."""
    if table is None:
        return None
    pd = _pandas()
    if isinstance(table, Mapping):
        try:
            table = pd.DataFrame(dict(table))
        except (TypeError, ValueError) as err:
            raise ValueError(f"{name}: could not build a table from the mapping: {err}") from None
    if not isinstance(table, pd.DataFrame):
        raise ValueError(f"{name}: expected a pandas DataFrame (or a mapping of columns), got {type(table).__name__}")
    table = table.copy()
    index_is_positions = isinstance(table.index, pd.RangeIndex) and table.index.start == 0 and table.index.step == 1
    if not index_is_positions:
        # rows are conditions by position; a *named* index is data and becomes columns
        named = any(level is not None for level in table.index.names)
        table = table.reset_index(drop=not named)
    if len(table) != n_rows:
        raise ValueError(f"{name}: expected one row per {row_meaning} ({n_rows}), got {len(table)} row(s)")
    if len(table.columns) == 0:
        return None  # a table without columns says nothing (and has no row count in a file)
    bad_names = [c for c in table.columns if not isinstance(c, str) or not c]
    if bad_names:
        raise ValueError(f"{name}: column names must be non-empty strings, got {bad_names!r}")
    duplicated = sorted({c for c in table.columns if list(table.columns).count(c) > 1})
    if duplicated:
        raise ValueError(f"{name}: duplicated column name(s) {duplicated}")
    for column in table.columns:
        series = table[column]
        dtype = series.dtype
        if isinstance(dtype, np.dtype) and dtype.kind in "biuf":
            continue
        if pd.api.types.is_string_dtype(dtype) and all(isinstance(v, str) for v in series.tolist()):
            table[column] = series.astype(str)  # one string dtype, so that files round-trip exactly
            continue
        if pd.api.types.is_string_dtype(dtype) and series.isna().any():
            raise ValueError(f"{name}: column {column!r} has missing strings; fill them (e.g. with '') first")
        raise ValueError(
            f"{name}: column {column!r} has dtype {dtype}; expected numbers, booleans or strings "
            f"(convert categories or objects with .astype(str) or to numbers)"
        )
    return table.reset_index(drop=True)


def _checked_dt(dt) -> float | None:
    if dt is None:
        return None
    if isinstance(dt, bool) or not isinstance(dt, numbers.Real) or not math.isfinite(dt) or dt <= 0:
        raise ValueError(f"dt: expected a positive finite number (seconds) or None, got {dt!r}")
    return float(dt)


def _checked_provenance(provenance) -> dict:
    if not isinstance(provenance, Mapping):
        raise ValueError(f"provenance: expected a dict, got {type(provenance).__name__}")
    try:  # a deep copy in the form every file format stores
        return json.loads(json.dumps(dict(provenance)))
    except (TypeError, ValueError) as err:
        raise ValueError(
            f"provenance: must hold only JSON values (strings, numbers, booleans, None, lists, dicts): {err}"
        ) from None


def _check_seed(seed) -> int:
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ValueError(f"seed: expected a non-negative integer, got {seed!r}")
    return int(seed)


def _streams(seed: int, n: int) -> list[np.random.Generator]:
    return [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(n)]


def _haar_columns(rng: np.random.Generator, gaussian_shape: tuple[int, int], centre: bool = False) -> np.ndarray:
    """Orthonormal columns uniformly distributed (Haar), optionally orthogonal to the ones vector."""
    g = rng.standard_normal(gaussian_shape)
    if centre:
        g -= g.mean(axis=0)
    q, r = np.linalg.qr(g)
    return q * np.where(np.diag(r) < 0, -1.0, 1.0)


def _version() -> str:
    from . import __version__

    return __version__


# ---------------------------------------------------------------------------------------------
# the container


@dataclass(frozen=True, eq=False, repr=False)
class Dataset:
    """Population activity with its task variables, unit metadata, time step and provenance.

    Attributes:
        activity: float64 array, ``(time, condition, unit)`` or ``(sample, unit)``; stored as a
            read-only copy. Anything :func:`repalign.inputs.as_data` accepts (numpy, torch,
            xarray, nested lists) is converted and checked (NaN/Inf, empty, wrong
            dimensionality, fewer than 2 samples, all units constant: ``ValueError``).
        conditions: task variables, a pandas DataFrame with one row per condition (row ``i``
            describes ``activity[:, i]``); for 2D data one row per sample. Columns hold numbers,
            booleans or strings. A named index becomes columns, an unnamed one is dropped.
        units: unit metadata, one row per unit, same column rules.
        dt: time step in seconds (``None`` when unknown or for 2D data).
        provenance: where the data come from (generator and parameters, file, citation);
            JSON values only, so that it survives every file format.

    The dataclass is frozen; tables are copied on construction and should be treated as
    read-only.

    Example:
        >>> import numpy as np
        >>> ds = Dataset(np.arange(24.0).reshape(2, 3, 4), conditions={"coherence": [-0.5, 0.0, 0.5]}, dt=0.05)
        >>> ds.layout, ds.shape, ds.n_units, ds.n_conditions, ds.n_time
        ('time,condition,unit', (2, 3, 4), 4, 3, 2)
        >>> ds.conditions["coherence"].tolist()
        [-0.5, 0.0, 0.5]
        >>> Dataset(np.arange(24.0).reshape(2, 3, 4), conditions={"c": [1, 2]})
        Traceback (most recent call last):
        ...
        ValueError: conditions: expected one row per condition (3), got 2 row(s)
    """

    activity: np.ndarray
    conditions: pandas.DataFrame | None = None
    units: pandas.DataFrame | None = None
    dt: float | None = None
    provenance: dict = field(default_factory=dict)

    def __post_init__(self):
        activity = _checked_activity(self.activity, "activity")
        set_ = object.__setattr__
        set_(self, "activity", activity)
        rows, meaning = (activity.shape[1], "condition") if activity.ndim == 3 else (activity.shape[0], "sample")
        set_(self, "conditions", _checked_table(self.conditions, "conditions", rows, meaning))
        set_(self, "units", _checked_table(self.units, "units", activity.shape[-1], "unit"))
        set_(self, "dt", _checked_dt(self.dt))
        set_(self, "provenance", _checked_provenance(self.provenance))

    # -- shape ---------------------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(int(s) for s in self.activity.shape)

    @property
    def dims(self) -> tuple[str, ...]:
        """``("time", "condition", "unit")`` or ``("sample", "unit")``."""
        return _LAYOUTS[self.activity.ndim]

    @property
    def layout(self) -> str:
        """``"time,condition,unit"`` or ``"sample,unit"``."""
        return ",".join(self.dims)

    @property
    def n_units(self) -> int:
        return self.shape[-1]

    @property
    def n_conditions(self) -> int | None:
        """Number of conditions of 3D data; ``None`` for 2D ``(sample, unit)`` data."""
        return self.shape[1] if self.activity.ndim == 3 else None

    @property
    def n_time(self) -> int | None:
        """Number of time bins of 3D data; ``None`` for 2D data."""
        return self.shape[0] if self.activity.ndim == 3 else None

    @property
    def n_samples(self) -> int:
        """Rows of the flattened ``(time·condition, unit)`` matrix the measures use."""
        return math.prod(self.shape[:-1])

    # -- comparison and display ----------------------------------------------------------------
    def equals(self, other: Dataset) -> bool:
        """True when activity, tables (values, dtypes and column order), dt and provenance are identical."""
        if not isinstance(other, Dataset):
            return False

        def same_table(a, b):
            if a is None or b is None:
                return a is None and b is None
            return list(a.columns) == list(b.columns) and list(a.dtypes) == list(b.dtypes) and a.equals(b)

        return (
            self.activity.shape == other.activity.shape
            and bool(np.array_equal(self.activity, other.activity))
            and same_table(self.conditions, other.conditions)
            and same_table(self.units, other.units)
            and self.dt == other.dt
            and self.provenance == other.provenance
        )

    def __repr__(self) -> str:
        def columns(table):
            return None if table is None else list(table.columns)

        origin = self.provenance.get("generator") or self.provenance.get("source")
        return (
            f"Dataset(layout={self.layout!r}, shape={self.shape}, conditions={columns(self.conditions)}, "
            f"units={columns(self.units)}, dt={self.dt}, provenance={origin!r})"
        )

    # -- xarray --------------------------------------------------------------------------------
    def to_xarray(self) -> xarray.DataArray:
        """The activity as an ``xarray.DataArray`` named ``"activity"``.

        Dimensions are :attr:`dims`; each column of :attr:`conditions` becomes a coordinate
        along ``condition`` (``sample`` for 2D data) and each column of :attr:`units` one along
        ``unit``. With a ``dt``, ``time`` gets the coordinate ``dt · (0, 1, …)``. ``dt``, the
        provenance (JSON) and the column names and dtypes are kept in ``attrs`` so that
        :meth:`from_xarray` restores the dataset exactly.

        Raises:
            ValueError: when a column name is used by both tables or names another dimension.

        Example:
            >>> import numpy as np
            >>> da = Dataset(np.arange(24.0).reshape(2, 3, 4), conditions={"choice": [1, -1, 1]}, dt=0.1).to_xarray()
            >>> da.dims, da["choice"].dims, da["time"].values.tolist()
            (('time', 'condition', 'unit'), ('condition',), [0.0, 0.1])
            >>> Dataset.from_xarray(da).conditions["choice"].tolist()
            [1, -1, 1]
        """
        xr = _xarray()
        dims = self.dims
        row_dim = dims[-2]
        coords: dict[str, Any] = {}
        if self.dt is not None and self.activity.ndim == 3:
            coords["time"] = ("time", self.dt * np.arange(self.shape[0]))
        for table, dim, label in ((self.conditions, row_dim, "conditions"), (self.units, "unit", "units")):
            for column in [] if table is None else table.columns:
                if column in coords or (column in dims and column != dim):
                    raise ValueError(
                        f"{label}: column {column!r} clashes with a dimension or another column in the "
                        f"xarray form; rename it"
                    )
                values = table[column].to_numpy()
                if values.dtype.kind not in "biuf":
                    values = values.astype(str)
                coords[column] = (dim, values)
        attrs = {
            "repalign_format": f"{_FORMAT}/{_FORMAT_VERSION}",
            "provenance": json.dumps(self.provenance),
            "condition_columns": json.dumps(_column_spec(self.conditions)),
            "unit_columns": json.dumps(_column_spec(self.units)),
        }
        if self.dt is not None:
            attrs["dt"] = self.dt
        return xr.DataArray(np.array(self.activity), dims=dims, coords=coords, name="activity", attrs=attrs)

    @classmethod
    def from_xarray(cls, da: xarray.DataArray) -> Dataset:
        """Build a dataset from a DataArray with dimensions ``time, condition, unit`` or ``sample, unit``.

        Dimensions may come in any order. Coordinates along ``condition`` (``sample``) form the
        conditions table, those along ``unit`` the units table, in coordinate order;
        coordinates on other dimensions are not kept. ``dt`` is ``attrs["dt"]`` when present,
        otherwise the spacing of an evenly spaced numeric ``time`` coordinate (in its own unit).
        A DataArray written by :meth:`to_xarray` comes back identical (column order and
        dtypes, provenance).

        Raises:
            ValueError: naming ``da`` for another type or other dimension names, or the
                checks of :class:`Dataset`.
        """
        xr = _xarray()
        if not isinstance(da, xr.DataArray):
            raise ValueError(f"da: expected an xarray DataArray, got {type(da).__name__}")
        for dims in _LAYOUTS.values():
            if set(da.dims) == set(dims) and len(da.dims) == len(dims):
                da = da.transpose(*dims)
                break
        else:
            raise ValueError(
                f"da: expected dimensions ('time', 'condition', 'unit') or ('sample', 'unit') in any order, "
                f"got {tuple(da.dims)}; rename them with .rename()"
            )
        activity = _checked_activity(np.asarray(da.values), "da")
        attrs = dict(da.attrs)
        ours = str(attrs.get("repalign_format", "")).startswith(_FORMAT)
        row_dim = dims[-2]
        tables = []
        for dim, key in ((row_dim, "condition_columns"), ("unit", "unit_columns")):
            spec = json.loads(attrs[key]) if ours and key in attrs else None
            along = [name for name, coord in da.coords.items() if coord.dims == (dim,)]
            tables.append(_table_from_columns({name: np.asarray(da.coords[name].values) for name in along}, spec, ours))
        dt = attrs.get("dt")
        if dt is not None:
            dt = float(np.asarray(dt).item())
        elif "time" in da.coords and da.coords["time"].dims == ("time",) and da.sizes.get("time", 0) >= 2:
            dt = _even_spacing(np.asarray(da.coords["time"].values))
        provenance = json.loads(attrs["provenance"]) if ours and "provenance" in attrs else {}
        return cls(activity, tables[0], tables[1], dt, provenance)

    # -- files ---------------------------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> Path:
        """Write the dataset to ``path``: ``.npz`` (numpy) or ``.nc`` (netCDF through xarray).

        ``.npz`` holds ``activity``, one array per table column (``conditions/<name>``,
        ``units/<name>``; strings as fixed-width unicode) and a JSON header with ``dt``, the
        provenance and the column dtypes; nothing is pickled. ``.nc`` holds the
        :meth:`to_xarray` form. :func:`load` restores either exactly. Returns the path.

        Raises:
            ValueError: naming ``path`` for another suffix.
        """
        path = Path(path)
        suffix = path.suffix.lower()
        if suffix == ".npz":
            arrays = {"activity": np.array(self.activity)}
            for table, prefix in ((self.conditions, "conditions"), (self.units, "units")):
                for column in [] if table is None else table.columns:
                    values = table[column].to_numpy()
                    arrays[f"{prefix}/{column}"] = values if values.dtype.kind in "biuf" else values.astype(str)
            header = {
                "format": _FORMAT,
                "version": _FORMAT_VERSION,
                "dt": self.dt,
                "provenance": self.provenance,
                "conditions": _column_spec(self.conditions),
                "units": _column_spec(self.units),
            }
            arrays[_NPZ_META] = np.array(json.dumps(header))
            with open(path, "wb") as handle:  # a file object: numpy must not append a suffix
                np.savez(handle, **arrays)
            return path
        if suffix == ".nc":
            da = self.to_xarray()
            try:
                da.to_netcdf(path)
            except ValueError as err:
                wide = _wide_integer_columns(self)
                if not wide:
                    raise
                raise ValueError(
                    f"{wide[0]}: holds integers beyond the 32-bit range, which this netCDF writer "
                    f"(netCDF3, xarray's scipy engine) cannot store; save as .npz or install netCDF4"
                ) from err
            return path
        raise ValueError(f"path: expected a .npz or .nc file name, got {str(path)!r}")


def _wide_integer_columns(ds: Dataset) -> list[str]:
    limits = np.iinfo(np.int32)
    found = []
    for table, label in ((ds.conditions, "conditions"), (ds.units, "units")):
        for column in [] if table is None else table.columns:
            values = table[column].to_numpy()
            if values.dtype.kind in "iu" and values.size and (values.min() < limits.min or values.max() > limits.max):
                found.append(f"{label}: column {column!r}")
    return found


def _column_spec(table) -> list[list[str]] | None:
    """``[[name, dtype], ...]`` with numpy dtype strings, ``"str"`` for strings; None for no table."""
    if table is None:
        return None
    spec = []
    for column in table.columns:
        dtype = table[column].dtype
        spec.append([column, dtype.str if isinstance(dtype, np.dtype) and dtype.kind in "biuf" else "str"])
    return spec


def _table_from_columns(columns: dict[str, np.ndarray], spec, ours: bool):
    """Rebuild a table; ``spec`` (from a repalign file) fixes column order and dtypes."""
    if ours:
        if spec is None:
            return None
        pd = _pandas()
        data = {}
        for name, dtype in spec:
            if name not in columns:
                raise ValueError(f"da: the column {name!r} listed in attrs has no coordinate; it was dropped")
            values = columns[name]
            data[name] = values.astype(str) if dtype == "str" else values.astype(np.dtype(dtype))
        return pd.DataFrame(data, columns=[name for name, _ in spec])
    if not columns:
        return None
    return _pandas().DataFrame(columns)


def _even_spacing(values: np.ndarray) -> float | None:
    if values.dtype.kind not in "iuf":
        return None
    steps = np.diff(values.astype(np.float64))
    if steps[0] > 0 and np.allclose(steps, steps[0], rtol=1e-9, atol=0.0):
        return float(steps[0])
    return None


# ---------------------------------------------------------------------------------------------
# loading


def load(
    path: str | os.PathLike,
    name: str | None = None,
    *,
    conditions: Sequence[str] | None = None,
    units: Sequence[str] | None = None,
    dt: float | None = None,
) -> Dataset:
    """Read a :class:`Dataset` from ``.npz`` or ``.nc``: a saved dataset, or a plain file of named arrays.

    A file written by :meth:`Dataset.save` comes back identical. For other files, ``name``
    picks the activity array (``.npz``) or data variable (``.nc``); without it the array
    named ``"activity"`` is used, or the only one. In a plain ``.npz``, ``conditions`` and
    ``units`` name 1D arrays that become table columns (in that order); in a ``.nc`` the
    tables come from the variable's coordinates (see :meth:`Dataset.from_xarray`) and the
    dimensions must be named ``time, condition, unit`` or ``sample, unit``. ``dt`` sets the
    time step of a plain file. The provenance of a plain file records its path and array.

    Raises:
        FileNotFoundError: when ``path`` does not exist.
        ValueError: naming the argument, for another suffix, an unknown array name (the
            message lists those available), several arrays and no ``name``, a table column
            that is not 1D, or options given for a saved dataset (which restores its own).

    Example:
        >>> import numpy as np, tempfile, os
        >>> folder = tempfile.mkdtemp()
        >>> path = os.path.join(folder, "plain.npz")
        >>> np.savez(path, rates=np.arange(24.0).reshape(2, 3, 4), coherence=np.array([-1.0, 0.0, 1.0]))
        >>> ds = load(path, "rates", conditions=["coherence"], dt=0.05)
        >>> ds.shape, ds.conditions.columns.tolist(), ds.dt
        ((2, 3, 4), ['coherence'], 0.05)
        >>> load(path)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: name: ...plain.npz holds several arrays ['rates', 'coherence']; pick the activity with name=
        >>> load(ds.save(os.path.join(folder, "saved.npz"))).equals(ds)
        True
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"path: no such file: {path}")
    suffix = path.suffix.lower()
    if suffix == ".npz":
        return _load_npz(path, name, conditions, units, dt)
    if suffix == ".nc":
        for option, value in (("conditions", conditions), ("units", units)):
            if value is not None:
                raise ValueError(
                    f"{option}: only for plain .npz files; in a .nc file give per-condition and per-unit "
                    f"variables as coordinates on the 'condition'/'sample' and 'unit' dimensions"
                )
        return _load_nc(path, name, dt)
    raise ValueError(f"path: expected a .npz or .nc file, got {str(path)!r}")


def _choose(available: list[str], name: str | None, path: Path, kind: str) -> str:
    if name is not None:
        if name not in available:
            raise ValueError(f"name: {path} has no {kind} named {name!r}; it holds {available}")
        return name
    if "activity" in available:
        return "activity"
    if len(available) == 1:
        return available[0]
    raise ValueError(f"name: {path} holds several {kind}s {available}; pick the activity with name=")


def _refuse_options_for_saved(name, conditions, units, dt) -> None:
    if name not in (None, "activity"):
        raise ValueError(f"name: this file is a saved repalign Dataset; its activity is 'activity', got {name!r}")
    for option, value in (("conditions", conditions), ("units", units), ("dt", dt)):
        if value is not None:
            raise ValueError(f"{option}: this file is a saved repalign Dataset and restores its own {option}")


def _load_npz(path: Path, name, conditions, units, dt) -> Dataset:
    with np.load(path, allow_pickle=False) as archive:
        available = list(archive.files)
        if _NPZ_META in available:
            _refuse_options_for_saved(name, conditions, units, dt)
            header = json.loads(str(archive[_NPZ_META]))
            if header.get("format") != _FORMAT or header.get("version") != _FORMAT_VERSION:
                raise ValueError(f"path: {path} is a repalign file of an unknown format/version {header!r}")
            tables = []
            for key in ("conditions", "units"):
                spec = header[key]
                columns = {} if spec is None else {c: archive[f"{key}/{c}"] for c, _ in spec}
                tables.append(_table_from_columns(columns, spec, ours=True))
            return Dataset(archive["activity"], tables[0], tables[1], header["dt"], header["provenance"])
        key = _choose(available, name, path, "array")
        activity = archive[key]
        tables = []
        for option, names in (("conditions", conditions), ("units", units)):
            if names is None:
                tables.append(None)
                continue
            if isinstance(names, str):
                raise ValueError(f"{option}: expected a list of array names, got the string {names!r}")
            columns = {}
            for column in names:
                if column not in available:
                    raise ValueError(f"{option}: {path} has no array named {column!r}; it holds {available}")
                values = archive[column]
                if values.ndim != 1:
                    raise ValueError(
                        f"{option}: array {column!r} has shape {values.shape}; table columns must be 1D"
                    )
                columns[column] = values
            tables.append(_pandas().DataFrame(columns))
    return Dataset(activity, tables[0], tables[1], dt, {"source": str(path), "array": key})


def _load_nc(path: Path, name, dt) -> Dataset:
    xr = _xarray()
    with xr.open_dataset(path) as opened:
        opened = opened.load()
    available = [str(v) for v in opened.data_vars]
    variable = opened[_choose(available, name, path, "variable")]
    if str(variable.attrs.get("repalign_format", "")).startswith(_FORMAT):
        _refuse_options_for_saved(name, None, None, dt)
        return Dataset.from_xarray(variable)
    ds = Dataset.from_xarray(variable)
    return Dataset(
        ds.activity, ds.conditions, ds.units, ds.dt if dt is None else dt, {"source": str(path), "array": str(variable.name)}
    )


def _m1_candidates() -> list[Path]:
    repository = Path(__file__).resolve().parents[2]  # src/repalign/datasets.py -> repository root
    candidates = [repository.parent / "shared" / "data" / _M1_FILE, Path.cwd().parent / "shared" / "data" / _M1_FILE]
    unique = []
    for candidate in candidates:
        if candidate not in unique:
            unique.append(candidate)
    return unique


def load_m1(path: str | os.PathLike | None = None) -> Dataset:
    """The real M1 recording of Hatsopoulos, Xu & Amit (2007): 141 units, 8 reach directions.

    Trial-averaged firing rates (spikes/s), ``(121 time, 8 condition, 141 unit)``, aligned
    to movement onset from −800 ms to +400 ms in 10 ms steps (``dt = 0.01`` s). The
    conditions table holds ``condition_index``, ``reach_direction_deg`` (0, 45, …, 315) and
    the mean and median movement durations; the kinematic time courses of the file
    (time × condition) are not part of the dataset. Without ``path`` the file is looked for
    in ``../shared/data/`` beside the repository (and beside the working directory); it is
    never shipped with the package. Cite Hatsopoulos et al. 2007 (J. Neurosci. 27(19):5105;
    data doi:10.5061/dryad.xsj3tx9cm) when using it.

    Raises:
        FileNotFoundError: naming the searched path(s) when the file is absent.
    """
    candidates = [Path(path)] if path is not None else _m1_candidates()
    found = next((c for c in candidates if c.is_file()), None)
    if found is None:
        searched = ", ".join(str(c) for c in candidates)
        raise FileNotFoundError(f"path: the M1 recording {_M1_FILE} was not found; searched {searched}")
    pd = _pandas()
    with np.load(found, allow_pickle=False) as archive:
        activity = archive["activity"]
        time_ms = archive["time_ms"]
        table = pd.DataFrame(
            {
                name: archive[name]
                for name in (
                    "condition_index",
                    "reach_direction_deg",
                    "movement_duration_ms_mean",
                    "movement_duration_ms_median",
                )
            }
        )
    step_ms = _even_spacing(time_ms)
    provenance = {
        "source": str(found),
        "dataset": "Hatsopoulos, Xu & Amit 2007, J. Neurosci. 27(19):5105; M1, 8-direction center-out reaching",
        "doi": "10.5061/dryad.xsj3tx9cm",
        "aligned_to": "movement onset",
        "time_ms_first": float(time_ms[0]),
        "activity_unit": "spikes/s",
    }
    return Dataset(activity, table, None, None if step_ms is None else step_ms / 1000.0, provenance)


# ---------------------------------------------------------------------------------------------
# generators

# Coherence levels of the contextual decision task, in the range used by Mante et al. (2013):
# three strengths per sign, symmetric around 0 (so there is never a tie for the choice).
MOTION_COHERENCES = (-0.5, -0.15, -0.05, 0.05, 0.15, 0.5)
COLOUR_COHERENCES = (-0.5, -0.18, -0.06, 0.06, 0.18, 0.5)

# 0-based PC rank of each task latent in mante_like; the ranks in between hold random latents,
# so that (as in the seed paper's Figure 3c) decoding needs more than the top few PCs.
_MANTE_TASK_RANKS = {"condition_independent": 0, "choice": 1, "motion": 3, "colour": 5, "context": 7}


def _smoothing_matrix(n_time: int, width_bins: float) -> np.ndarray:
    lag = np.arange(n_time)[:, None] - np.arange(n_time)[None, :]
    kernel = np.exp(-0.5 * (lag / width_bins) ** 2)
    return kernel / kernel.sum(axis=1, keepdims=True)


def mante_like(
    n_units: int = 727,
    n_time: int = 15,
    noise: float = 0.5,
    spectrum_exponent: float = 1.0,
    seed: int = 0,
    *,
    n_latents: int | None = None,
) -> Dataset:
    r"""A synthetic prefrontal population for the contextual decision task of Mante et al. (2013).

    Conditions: context × motion coherence × colour coherence = 2 × 6 × 6 = 72, in that
    (row-major) order; context ``+1`` means "report the motion", ``−1`` "report the colour".
    The choice is the sign of the relevant coherence, :math:`\text{choice} =
    \operatorname{sign}(m)` in the motion context and :math:`\operatorname{sign}(k)` in the
    colour context (the levels are symmetric around 0 without 0, so there is no tie).

    Latent time courses, with :math:`t_j = (j+1)/T` the elapsed fraction of the stimulus
    period (``dt = 0.75 s / T``, 50 ms for 15 bins), for condition
    :math:`(c, m, k)` with relevant coherence :math:`r`:

    .. math::

        z_\text{ci}(t) = 1 - e^{-t/0.3}, \quad
        z_\text{context} = c, \quad
        z_\text{choice}(t) = \tanh(6\, r\, t), \quad
        z_\text{motion}(t) = \tfrac{m}{0.5} h(t), \quad
        z_\text{colour}(t) = \tfrac{k}{0.5} h(t),

    with the transient :math:`h(t) = (t/0.25)\, e^{1 - t/0.25}`: a condition-independent
    rise, a sustained context signal, integration of the relevant evidence towards the
    choice, and momentary motion and colour evidence whatever the context. The other
    ``n_latents − 5`` latents are random, condition-specific time courses (white noise
    smoothed over time with a Gaussian of 0.15 of the period).

    The ``n = T·72`` by ``K = n_latents`` matrix of latents, each centred, is
    orthonormalised in rank order (QR): :math:`Q^\top Q = I`. Task latents take ranks 1
    (condition-independent), 2 (choice), 4 (motion), 6 (colour) and 8 (context); random
    latents fill the others. With Haar-random orthonormal loadings :math:`W` (``n_units ×
    K``) and i.i.d. noise :math:`E_{ij} \sim \mathcal N(0, \sigma^2)`,

    .. math::

        A = \sqrt{n}\, Q \operatorname{diag}(\sqrt{\lambda})\, W^\top + E, \qquad
        \lambda_i = \frac{n_\text{units}\, i^{-\alpha}}{\sum_{l=1}^{K} l^{-\alpha}},

    so the signal's PC variances are exactly the power law :math:`\lambda_i \propto
    i^{-\alpha}` (``α = spectrum_exponent``), the mean signal variance of a unit is 1 and
    ``noise`` = σ is the noise standard deviation relative to it. Noise adds about σ² to
    every PC variance and fills the spectrum beyond ``K``.

    The conditions table has columns ``context`` (±1), ``motion`` and ``colour``
    (coherences), ``choice`` (±1), ``motion_sign`` and ``colour_sign`` (±1). The units table
    holds each unit's loading :math:`\sqrt{\lambda_i} W_{ji}` on the five task latents
    (``loading_<name>``): the ground truth of its selectivity.

    Args:
        n_units: number of units (727 as in the recording), ``>= 5``.
        n_time: number of time bins, ``>= 2``.
        noise: noise standard deviation σ, ``>= 0``.
        spectrum_exponent: α, ``>= 0``.
        seed: seed of the random generator (``numpy.random.SeedSequence``).
        n_latents: K, the number of latent dimensions, ``>= 5``; at most ``n_units`` and
            ``72·n_time − 1``. Default ``min(100, n_units, 72·n_time − 1)``.

    Raises:
        ValueError: naming the argument.

    Example:
        >>> ds = mante_like(n_units=200, seed=0)
        >>> ds.shape, ds.dt, ds.conditions.columns.tolist()
        ((15, 72, 200), 0.05, ['context', 'motion', 'colour', 'choice', 'motion_sign', 'colour_sign'])
        >>> ds.conditions.groupby(["context", "choice"]).size().tolist()   # 18 conditions each
        [18, 18, 18, 18]
        >>> bool((mante_like(n_units=200, seed=0).activity == ds.activity).all())
        True
    """
    n_units = check_count(n_units, "n_units", 5)
    n_time = check_count(n_time, "n_time", 2)
    noise = check_real(noise, "noise", low=0.0)
    alpha = check_real(spectrum_exponent, "spectrum_exponent", low=0.0)
    seed = _check_seed(seed)
    n_conditions = 2 * len(MOTION_COHERENCES) * len(COLOUR_COHERENCES)
    n = n_time * n_conditions
    n_latents = min(100, n_units, n - 1) if n_latents is None else check_count(n_latents, "n_latents", 5)
    if n_latents > min(n_units, n - 1):
        raise ValueError(
            f"n_latents: at most n_units ({n_units}) and time x conditions - 1 ({n - 1}), got {n_latents}"
        )
    rng_latents, rng_loadings, rng_noise = _streams(seed, 3)

    context, motion, colour = (
        a.ravel() for a in np.meshgrid([1.0, -1.0], MOTION_COHERENCES, COLOUR_COHERENCES, indexing="ij")
    )
    relevant = np.where(context > 0, motion, colour)
    choice = np.sign(relevant)
    t = (np.arange(n_time) + 1.0)[:, None] / n_time  # (time, 1)
    transient = (t / 0.25) * np.exp(1.0 - t / 0.25)
    task = {
        "condition_independent": np.broadcast_to(1.0 - np.exp(-t / 0.3), (n_time, n_conditions)),
        "choice": np.tanh(6.0 * relevant * t),
        "motion": motion / 0.5 * transient,
        "colour": colour / 0.5 * transient,
        "context": np.broadcast_to(context, (n_time, n_conditions)),
    }
    smoothing = _smoothing_matrix(n_time, max(0.15 * n_time, 0.5))
    features = np.empty((n, n_latents))
    rank_of = {_MANTE_TASK_RANKS[name]: name for name in task if _MANTE_TASK_RANKS[name] < n_latents}
    if len(rank_of) < len(task):  # short latent spaces: task latents first, in rank order
        rank_of = dict(enumerate(sorted(task, key=_MANTE_TASK_RANKS.get)))
    for rank in range(n_latents):
        if rank in rank_of:
            features[:, rank] = task[rank_of[rank]].reshape(-1)
        else:
            features[:, rank] = (smoothing @ rng_latents.standard_normal((n_time, n_conditions))).reshape(-1)
    features -= features.mean(axis=0)
    q, r = np.linalg.qr(features)
    q *= np.where(np.diag(r) < 0, -1.0, 1.0)
    if np.min(np.abs(np.diag(r))) <= 1e-10 * np.max(np.abs(np.diag(r))):  # pragma: no cover - generic position
        raise ValueError("n_time: the latent time courses are linearly dependent; use more time bins")

    spectrum = np.arange(1, n_latents + 1, dtype=np.float64) ** -alpha
    spectrum *= n_units / spectrum.sum()
    loadings = _haar_columns(rng_loadings, (n_units, n_latents))
    signal = (math.sqrt(n) * q * np.sqrt(spectrum)) @ loadings.T
    activity = signal + noise * rng_noise.standard_normal((n, n_units))

    pd = _pandas()
    conditions = pd.DataFrame(
        {
            "context": context.astype(np.int64),
            "motion": motion,
            "colour": colour,
            "choice": choice.astype(np.int64),
            "motion_sign": np.sign(motion).astype(np.int64),
            "colour_sign": np.sign(colour).astype(np.int64),
        }
    )
    ranks = {name: rank for rank, name in rank_of.items()}
    units = pd.DataFrame(
        {f"loading_{name}": np.sqrt(spectrum[ranks[name]]) * loadings[:, ranks[name]] for name in task}
    )
    provenance = {
        "generator": "repalign.datasets.mante_like",
        "parameters": {
            "n_units": n_units,
            "n_time": n_time,
            "noise": noise,
            "spectrum_exponent": alpha,
            "seed": seed,
            "n_latents": n_latents,
        },
        "task_latent_pc_ranks": {name: rank + 1 for name, rank in ranks.items()},
        "context_coding": "+1 motion context, -1 colour context",
        "repalign_version": _version(),
    }
    return Dataset(activity.reshape(n_time, n_conditions, n_units), conditions, units, 0.75 / n_time, provenance)


def _pc_singular_values(matrix: np.ndarray) -> np.ndarray:
    return np.linalg.svd(matrix - matrix.mean(axis=0), compute_uv=False)


def gaussian_like(reference, seed: int = 0, *, exact: bool = True) -> Dataset:
    r"""Random Gaussian data with the PC variances of ``reference``: the seed paper's "matched Gaussian".

    With ``X`` the reference flattened to ``(n, p)`` = ``(time·condition, unit)`` and
    centred, :math:`X - \bar X = U_X \operatorname{diag}(s) V_X^\top`, and ``r = min(n − 1, p)``:

    - ``exact=True`` (default): :math:`Y = U \operatorname{diag}(s) V^\top` with ``U``
      (``n × r``) and ``V`` (``p × r``) Haar-random orthonormal columns, ``U`` orthogonal to
      the ones vector (QR of a centred Gaussian matrix). ``Y`` is centred and its PC
      variances equal the reference's exactly: the reference's spectrum in a random
      orthonormal basis of samples and of units.
    - ``exact=False``: i.i.d. Gaussian rows :math:`y \sim \mathcal N(0, V \Lambda V^\top)`,
      :math:`\Lambda = \operatorname{diag}(s^2)/(n-1)`; the PC variances match in expectation.

    The result has the reference's shape, layout, conditions table and ``dt`` (so that task
    variables can be decoded from it, at chance), no units table (its units are random
    mixtures), and zero mean.

    Args:
        reference: a :class:`Dataset` or an array accepted by :func:`repalign.inputs.as_data`.
        seed: seed of the random generator.
        exact: match the spectrum exactly (default) or in expectation.

    Raises:
        ValueError: naming ``reference``, ``seed`` or ``exact``.

    Example:
        >>> import numpy as np
        >>> ref = mante_like(n_units=100, n_time=4, seed=1)
        >>> g = gaussian_like(ref, seed=0)
        >>> g.shape == ref.shape, g.conditions.equals(ref.conditions)
        (True, True)
        >>> x = ref.activity.reshape(-1, 100)
        >>> s_ref = np.linalg.svd(x - x.mean(axis=0), compute_uv=False)
        >>> s_g = np.linalg.svd(g.activity.reshape(-1, 100), compute_uv=False)  # already centred
        >>> bool(np.allclose(s_g, s_ref, rtol=1e-10))
        True
    """
    if isinstance(reference, Dataset):
        activity, conditions, dt = reference.activity, reference.conditions, reference.dt
        origin = reference.provenance
    else:
        activity, conditions, dt, origin = _checked_activity(reference, "reference"), None, None, {}
    seed = _check_seed(seed)
    if not isinstance(exact, bool):
        raise ValueError(f"exact: expected True or False, got {exact!r}")
    matrix = activity.reshape(-1, activity.shape[-1])
    n, p = matrix.shape
    rank = min(n - 1, p)
    singular = _pc_singular_values(matrix)[:rank]
    rng_samples, rng_units = _streams(seed, 2)
    basis_units = _haar_columns(rng_units, (p, rank))
    if exact:
        basis_samples = _haar_columns(rng_samples, (n, rank), centre=True)
        values = (basis_samples * singular) @ basis_units.T
    else:
        values = (rng_samples.standard_normal((n, rank)) * (singular / math.sqrt(n - 1))) @ basis_units.T
    provenance = {
        "generator": "repalign.datasets.gaussian_like",
        "parameters": {"seed": seed, "exact": exact},
        "reference": origin,
        "repalign_version": _version(),
    }
    return Dataset(values.reshape(activity.shape), conditions, None, dt, provenance)


# Figure 4a's trajectory (2 units, 10 time points), as in the authors' code (diffscore, toy2d):
# unit 0 ramps (choice), unit 1 rises and falls back (motion coherence).
_FIG4A_TRAJECTORY = np.array(
    [
        [0.01, 0.01],
        [0.4, 0.3],
        [0.7, 0.5],
        [0.88, 0.613],
        [1.13, 0.68],
        [1.43, 0.73],
        [1.68, 0.6],
        [1.86, 0.473],
        [1.97, 0.24],
        [2.02, 0.04],
    ]
)
_FIG4A_STRENGTH_SCALES = (1.0, 1.5, 2.0)  # unit 1 is stretched by 1 + a·level, a = 0.5


def two_pc(variance_ratio: float | None = None, seed: int | None = None) -> Dataset:
    r"""The two-unit, six-condition reference of the seed paper's Figure 4a, with a settable PC variance ratio.

    Reproduces the authors' reference (their code's ``toy2d`` with ``a = 0.5``): a curved
    trajectory :math:`x(t) \in \mathbb R^2` over 10 time points, along which unit 0 ramps
    (choice) and unit 1 rises and falls (motion coherence). For the three conditions with
    choice ``−1`` the trajectory's second unit is stretched by 1, 1.5 and 2; the three with
    choice ``+1`` are the same curves turned by π (negated). Activity is ``(10, 6, 2)``; the
    conditions table has ``choice`` (±1) and ``motion`` (signed strength ±1, ±2, ±3, the
    stretch growing with the strength). The authors list the strengths of the choice −1
    curves in the opposite order; the data are the same.

    The PC variances :math:`\lambda_1 \ge \lambda_2` of the flattened, centred
    ``(60, 2)`` matrix are then set to ``variance_ratio`` = :math:`\lambda_2/\lambda_1`
    exactly (Figure 4d) by rescaling the centred data along PC 2:
    :math:`x \mapsto \bar x + (x - \bar x)\, v_1 v_1^\top + f\,(x - \bar x)\, v_2 v_2^\top`,
    :math:`f = \sqrt{\rho/\rho_0}`, which keeps :math:`\lambda_1`; ``None`` keeps the
    figure's own ratio :math:`\rho_0 \approx 0.089`. With a ``seed``, the two units are
    mixed by a uniformly random rotation (the spectrum is unchanged); without one the
    result is deterministic.

    Args:
        variance_ratio: :math:`\lambda_2/\lambda_1` in ``(0, 1]``, or ``None``.
        seed: seed of the random rotation, or ``None`` for none.

    Raises:
        ValueError: naming ``variance_ratio`` or ``seed``.

    Example:
        >>> import numpy as np
        >>> ds = two_pc(0.25)
        >>> ds.shape, ds.conditions["motion"].tolist()
        ((10, 6, 2), [-1, -2, -3, 1, 2, 3])
        >>> lam = np.linalg.eigvalsh(np.cov(ds.activity.reshape(-1, 2).T))
        >>> round(float(lam[0] / lam[1]), 12)
        0.25
    """
    if variance_ratio is not None:
        variance_ratio = check_real(variance_ratio, "variance_ratio", low=0.0, high=1.0, inclusive=(False, True))
    if seed is not None:
        seed = _check_seed(seed)
    curves = [_FIG4A_TRAJECTORY * [1.0, scale] for scale in _FIG4A_STRENGTH_SCALES]
    activity = np.stack(curves + [-curve for curve in curves], axis=1)  # (time, condition, unit)
    flat = activity.reshape(-1, 2)
    mean = flat.mean(axis=0)
    _, singular, vt = np.linalg.svd(flat - mean, full_matrices=False)
    natural = float((singular[1] / singular[0]) ** 2)
    ratio = natural if variance_ratio is None else variance_ratio
    stretch = vt.T @ np.diag([1.0, math.sqrt(ratio / natural)]) @ vt
    flat = mean + (flat - mean) @ stretch
    if seed is not None:
        angle = _streams(seed, 1)[0].uniform(0.0, 2.0 * math.pi)
        flat = flat @ np.array([[math.cos(angle), math.sin(angle)], [-math.sin(angle), math.cos(angle)]])
    pd = _pandas()
    conditions = pd.DataFrame({"choice": [-1, -1, -1, 1, 1, 1], "motion": [-1, -2, -3, 1, 2, 3]})
    provenance = {
        "generator": "repalign.datasets.two_pc",
        "parameters": {"variance_ratio": variance_ratio, "seed": seed},
        "variance_ratio": ratio,
        "figure_variance_ratio": natural,
        "source": "Figure 4a of the seed paper (Cloos et al.), trajectory of the authors' toy2d (a = 0.5)",
        "repalign_version": _version(),
    }
    return Dataset(flat.reshape(activity.shape), conditions, None, None, provenance)


def ultrametric(
    n_units: int = 50,
    branching: Sequence[int] = (2, 5, 10),
    inherit_probability: float = 0.8,
    seed: int = 0,
) -> Dataset:
    r"""Binary patterns generated down a tree: expected distances form an ultrametric.

    As in the seed paper's code (``diffscore``, ``ultrametric``): the root is a random
    binary pattern of ``n_units`` bits; every node at depth ``ℓ − 1`` has
    ``branching[ℓ − 1]`` children, each copying its parent's bits and redrawing each bit
    (uniform in {0, 1}) independently with probability :math:`1 - \gamma`
    (``γ = inherit_probability``). The leaves, at depth ``L = len(branching)``, are the
    samples: activity ``(n_leaves, n_units)`` of 0/1 with ``n_leaves = ∏ branching``, in
    depth-first order.

    Two leaves whose lowest common ancestor lies ``k`` levels above them share a bit with
    its ancestor unless one of the ``2k`` copies redrew it, so

    .. math::

        \Pr[\text{bits differ}] = \tfrac12 (1 - \gamma^{2k}), \qquad
        \mathbb E\, d_\text{Hamming} = \tfrac{n_\text{units}}{2} (1 - \gamma^{2k}),

    a function of the common ancestor's depth only, increasing with ``k``: the expected
    distances are an ultrametric (:math:`d(x, z) \le \max(d(x, y), d(y, z))`), i.e. the
    samples form a hierarchy of categories.

    The conditions table (one row per leaf) holds ``level_1 … level_L``, the index of the
    leaf's ancestor at each depth (``level_L`` is the leaf itself), and ``category`` =
    ``level_{L−1}``, the label the authors decode (0 for a one-level tree).

    Args:
        n_units: bits per pattern, ``>= 1``.
        branching: children per node at each depth, integers ``>= 1`` with a product ``>= 2``.
        inherit_probability: γ in ``[0, 1)``.
        seed: seed of the random generator.

    Raises:
        ValueError: naming the argument.

    Example:
        >>> ds = ultrametric(n_units=64, branching=(2, 3), seed=0)
        >>> ds.layout, ds.shape, ds.conditions["category"].tolist()
        ('sample,unit', (6, 64), [0, 0, 0, 1, 1, 1])
    """
    n_units = check_count(n_units, "n_units", 1)
    if isinstance(branching, (str, bytes)) or not isinstance(branching, Sequence) or len(branching) == 0:
        raise ValueError(f"branching: expected a non-empty sequence of integers, got {branching!r}")
    branching = [check_count(b, "branching", 1) for b in branching]
    n_leaves = math.prod(branching)
    if n_leaves < 2:
        raise ValueError(f"branching: the tree needs at least 2 leaves, got {branching} (1 leaf)")
    gamma = check_real(inherit_probability, "inherit_probability", low=0.0, high=1.0, inclusive=(True, False))
    seed = _check_seed(seed)
    rng = _streams(seed, 1)[0]

    nodes = rng.integers(0, 2, size=(1, n_units))
    for children in branching:
        nodes = np.repeat(nodes, children, axis=0)
        redraw = rng.random(nodes.shape) >= gamma
        nodes = np.where(redraw, rng.integers(0, 2, size=nodes.shape), nodes)
    leaf = np.arange(n_leaves)
    depth = len(branching)
    levels = {f"level_{d}": leaf // math.prod(branching[d:]) for d in range(1, depth + 1)}
    category = levels[f"level_{depth - 1}"] if depth >= 2 else np.zeros(n_leaves, dtype=np.int64)
    if not (nodes != nodes[:1]).any():
        raise ValueError(
            f"n_units: all {n_units} unit(s) came out constant across the {n_leaves} leaves; "
            f"use more units or leaves, or a lower inherit_probability"
        )
    conditions = _pandas().DataFrame({**levels, "category": category})
    provenance = {
        "generator": "repalign.datasets.ultrametric",
        "parameters": {
            "n_units": n_units,
            "branching": branching,
            "inherit_probability": gamma,
            "seed": seed,
        },
        "repalign_version": _version(),
    }
    return Dataset(nodes.astype(np.float64), conditions, None, None, provenance)

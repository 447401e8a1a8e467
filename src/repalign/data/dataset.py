r"""The :class:`Dataset` container: activity with its task variables, unit metadata, time step and provenance.

A :class:`Dataset` holds population activity, either ``(time, condition, unit)`` or
``(sample, unit)``, with a table of task variables (one row per condition; per sample for
2D data), an optional table of unit metadata, the time step and a provenance record. It
converts to and from :class:`xarray.DataArray` and saves to ``.npz`` (numpy, never pickle)
or netCDF ``.nc`` (xarray); :func:`repalign.data.read` reads both back.

pandas and xarray are imported only by the methods that need them. By convention ``dt`` is in
seconds.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from .._checks import check_real
from .._optional import require
from .._tables import column_arrays, column_spec, table_from_arrays
from ..inputs import LAYOUTS as XARRAY_LAYOUTS
from ..inputs import as_activity, layout_of

if TYPE_CHECKING:  # pragma: no cover - annotations only
    import pandas
    import xarray

__all__ = ["Dataset"]

LAYOUTS = {len(dims): dims for dims in XARRAY_LAYOUTS}  # by number of dimensions
FORMAT = "repalign.Dataset"
FORMAT_VERSION = 1
NPZ_HEADER = "__repalign__"  # key of the JSON header in a saved .npz


def pandas_module():
    return require("pandas", "cli", "tables of task variables")


def xarray_module():
    return require("xarray", "xarray", "xarray conversion and .nc files")


# ---------------------------------------------------------------------------------------------
# checks (activity goes through repalign.inputs, the one validator of arrays)


def _checked_activity(x, name: str) -> np.ndarray:
    """A read-only float64 copy of ``x`` in its original layout, checked by :func:`repalign.inputs.as_activity`."""
    values, _ = as_activity(x, name)
    array = values.detach().to("cpu", torch.float64).numpy()
    if not isinstance(x, np.ndarray) or np.shares_memory(array, x):  # never share the caller's memory
        array = array.copy()
    array.setflags(write=False)
    return array

def _checked_table(table, name: str, n_rows: int, row_meaning: str):
    """Normalise a table: a DataFrame with string column names, a 0..n-1 index and columns of
    numbers, booleans or strings (what .npz and .nc store without pickle)."""
    if table is None:
        return None
    pd = pandas_module()
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
    return None if dt is None else check_real(dt, "dt", low=0.0, inclusive=(False, True))


def _checked_provenance(provenance) -> dict:
    if not isinstance(provenance, Mapping):
        raise ValueError(f"provenance: expected a dict, got {type(provenance).__name__}")
    try:  # a deep copy in the form every file format stores
        return json.loads(json.dumps(dict(provenance)))
    except (TypeError, ValueError) as err:
        raise ValueError(
            f"provenance: must hold only JSON values (strings, numbers, booleans, None, lists, dicts): {err}"
        ) from None


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
        return LAYOUTS[self.activity.ndim]

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
        xr = xarray_module()
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
            "repalign_format": f"{FORMAT}/{FORMAT_VERSION}",
            "provenance": json.dumps(self.provenance),
            "condition_columns": json.dumps(column_spec(self.conditions)),
            "unit_columns": json.dumps(column_spec(self.units)),
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
        xr = xarray_module()
        if not isinstance(da, xr.DataArray):
            raise ValueError(f"da: expected an xarray DataArray, got {type(da).__name__}")
        dims = layout_of(da.dims)
        if dims is None:
            raise ValueError(
                f"da: expected dimensions named ('time', 'condition', 'unit') or ('sample', 'unit'), in any "
                f"order, got {tuple(da.dims)}; name the dimensions so (xarray's rename) before reading"
            )
        da = da.transpose(*dims)
        activity = _checked_activity(np.asarray(da.values), "da")
        attrs = dict(da.attrs)
        ours = str(attrs.get("repalign_format", "")).startswith(FORMAT)
        row_dim = dims[-2]
        tables = []
        for dim, key in ((row_dim, "condition_columns"), ("unit", "unit_columns")):
            spec = json.loads(attrs[key]) if ours and key in attrs else None
            along = [name for name, coord in da.coords.items() if coord.dims == (dim,)]
            tables.append(table_from_columns({name: np.asarray(da.coords[name].values) for name in along}, spec, ours))
        dt = attrs.get("dt")
        if dt is not None:
            dt = float(np.asarray(dt).item())
        elif "time" in da.coords and da.coords["time"].dims == ("time",) and da.sizes.get("time", 0) >= 2:
            dt = even_spacing(np.asarray(da.coords["time"].values))
        provenance = json.loads(attrs["provenance"]) if ours and "provenance" in attrs else {}
        return cls(activity, tables[0], tables[1], dt, provenance)

    # -- files ---------------------------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> Path:
        """Write the dataset to ``path``: ``.npz`` (numpy) or ``.nc`` (netCDF through xarray).

        ``.npz`` holds ``activity``, one array per table column (``conditions/<name>``,
        ``units/<name>``; strings as fixed-width unicode) and a JSON header with ``dt``, the
        provenance and the column dtypes; nothing is pickled. ``.nc`` holds the
        :meth:`to_xarray` form. :func:`repalign.data.read` restores either exactly. Returns the path.

        Raises:
            ValueError: naming ``path`` for another suffix.
        """
        path = Path(path)
        suffix = path.suffix.lower()
        if suffix == ".npz":
            arrays = {"activity": np.array(self.activity), **column_arrays(self.conditions, "conditions"),
                      **column_arrays(self.units, "units")}
            header = {
                "format": FORMAT,
                "version": FORMAT_VERSION,
                "dt": self.dt,
                "provenance": self.provenance,
                "conditions": column_spec(self.conditions),
                "units": column_spec(self.units),
            }
            arrays[NPZ_HEADER] = np.array(json.dumps(header))
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


def table_from_columns(columns: dict[str, np.ndarray], spec, ours: bool):
    """Rebuild a table: with a repalign ``spec`` (from a file's header) its column order and dtypes."""
    if ours:
        return table_from_arrays(columns, spec, where="da")
    if not columns:
        return None
    return pandas_module().DataFrame(columns)


def even_spacing(values: np.ndarray) -> float | None:
    if values.dtype.kind not in "iuf":
        return None
    steps = np.diff(values.astype(np.float64))
    if steps[0] > 0 and np.allclose(steps, steps[0], rtol=1e-9, atol=0.0):
        return float(steps[0])
    return None


"""Tables as named numpy arrays and back, without pickle: how datasets and records store their tables.

A column is stored as one 1-D array under ``<prefix>/<column>`` and described in a JSON-able
spec ``[[column, dtype], ...]``: numpy dtype strings for numbers and booleans, ``"str"`` for
strings (fixed-width unicode; ``"str?"`` when some are missing, with a boolean array
``<prefix>/<column>/missing`` beside), and pandas' nullable ``"Int64"`` / ``"boolean"`` stored as
float64 with NaN for missing values. Other object columns are stored as their text (``"str"``).
"""

from __future__ import annotations

import numpy as np

from ._optional import import_pandas

__all__ = ["column_spec", "column_arrays", "table_from_arrays"]

_NULLABLE = ("Int64", "boolean")


def column_spec(table) -> list[list[str]] | None:
    """``[[name, dtype], ...]`` of a DataFrame (None for no table)."""
    if table is None:
        return None
    spec = []
    for column in table.columns:
        dtype = table[column].dtype
        if isinstance(dtype, np.dtype) and dtype.kind in "biuf":
            spec.append([str(column), dtype.str])
        elif str(dtype) in _NULLABLE:
            spec.append([str(column), str(dtype)])
        else:
            spec.append([str(column), "str?" if table[column].isna().any() else "str"])
    return spec


def column_arrays(table, prefix: str) -> dict[str, np.ndarray]:
    """``{f"{prefix}/{column}": values}`` for every column of ``table`` (nothing for None)."""
    arrays: dict[str, np.ndarray] = {}
    for (name, dtype), column in zip(column_spec(table) or [], [] if table is None else table.columns):
        series = table[column]
        if dtype in _NULLABLE:
            values = series.astype("Float64").to_numpy(dtype=np.float64, na_value=np.nan)
        elif dtype in ("str", "str?"):
            missing = series.isna().to_numpy()
            values = np.asarray(series.astype(str).to_numpy(), dtype=str)
            if dtype == "str?":
                values = np.where(missing, "", values)
                arrays[f"{prefix}/{name}/missing"] = missing
        else:
            values = series.to_numpy()
        arrays[f"{prefix}/{name}"] = values
    return arrays


def table_from_arrays(columns: dict[str, np.ndarray], spec, where: str = "table"):
    """The DataFrame of ``columns`` (by name) with the order and dtypes of ``spec``; None for no spec."""
    if spec is None:
        return None
    pd = import_pandas()
    data = {}
    for name, dtype in spec:
        if name not in columns:
            raise ValueError(f"{where}: the column {name!r} listed in the header is missing")
        values = np.asarray(columns[name])
        if dtype == "str":
            data[name] = values.astype(str)
        elif dtype == "str?":
            missing = np.asarray(columns.get(f"{name}/missing", np.zeros(len(values), dtype=bool)))
            # pandas infers the column's dtype as it would from the original list (str with NaN in pandas 3)
            data[name] = pd.Series(np.where(missing, None, values.astype(str).astype(object)).tolist())
        elif dtype in _NULLABLE:
            data[name] = pd.array(np.where(np.isnan(values), None, values.astype(object)), dtype=dtype)
        else:
            data[name] = values.astype(np.dtype(dtype))
    return pd.DataFrame(data, columns=[name for name, _ in spec])

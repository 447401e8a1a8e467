r"""NWB recordings (the DANDI archive's format): spike times and trials → binned rates per condition.

:func:`load_nwb` reads an NWB file with ``pynwb`` (the ``nwb`` extra): the units table's spike
times and the trials table. Each kept trial contributes the spikes of each unit in a window around
one of its events, counted in bins and divided by the bin width, so that activity is in spikes/s:

.. math:: r_{k,b,u} = \frac{\#\{s \in S_u : e_k + w_0 + b\,\Delta \le s < e_k + w_0 + (b+1)\,\Delta\}}{\Delta}

for trial :math:`k` with event time :math:`e_k`, bin :math:`b = 0, …, B-1`, unit :math:`u` with
spike times :math:`S_u`, window :math:`(w_0, w_1)` and bin width :math:`\Delta`, :math:`B =
(w_1 - w_0)/\Delta`. Bins are left-closed: a spike on an edge belongs to the later bin, a spike at
:math:`e_k + w_1` to none; "on an edge" means within 1 ns of it (``EDGE_TOLERANCE``: edges are sums of
floats, and no acquisition clock resolves a nanosecond). Counting is vectorised (``np.searchsorted`` of all edges into each
unit's sorted spike times). Trials with the same values in the ``conditions`` columns are averaged
(:meth:`repalign.data.Trials.average`, conditions in sorted order), or returned one by one as
:class:`~repalign.data.Trials` (``trials=True``, for a bootstrap over trials).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from .._checks import SettingsError, check_bool, check_real
from .._optional import require
from .._warnings import warn
from .dataset import Dataset, pandas_module
from .files import DataFileError, MissingFileError
from .trials import Trials

__all__ = ["load_nwb"]

# a spike this close below a bin edge counts as on it (seconds; see the module docstring)
EDGE_TOLERANCE = 1e-9

_SKIPPED_UNIT_COLUMNS = ("spike_times", "obs_intervals", "electrodes", "waveform_mean", "waveform_sd", "waveforms")


def _pynwb():
    return require("pynwb", "nwb", "reading NWB files")


def _names(value, argument: str) -> tuple[str, ...]:
    names = (value,) if isinstance(value, str) else value
    if not isinstance(names, Sequence) or not names or not all(isinstance(n, str) and n for n in names):
        raise SettingsError(argument, f"expected a column name or a non-empty list of column names, got {value!r}")
    return tuple(names)


def _grid(window, bin_size) -> tuple[float, float, int]:
    if not isinstance(window, Sequence) or len(window) != 2:
        raise SettingsError("window", f"expected (start, stop) in seconds relative to the event, got {window!r}")
    start = check_real(window[0], "window")
    stop = check_real(window[1], "window")
    if stop <= start:
        raise SettingsError("window", f"expected start < stop, got ({start:g}, {stop:g})")
    step = check_real(bin_size, "bin_size", low=0.0, inclusive=(False, True))
    n_bins = round((stop - start) / step)
    if n_bins < 1 or not math.isclose(n_bins * step, stop - start, rel_tol=1e-9, abs_tol=1e-12):
        raise SettingsError("bin_size", f"{step:g} s does not divide the window ({start:g}, {stop:g}) "
                                        f"of {stop - start:g} s into whole bins")
    return start, step, n_bins


def _plain_column(values, pd):
    """A column numpy/pandas can store without pickle (numbers, booleans, strings), else ``None``."""
    array = np.asarray(values)
    if array.ndim != 1:
        return None
    if array.dtype.kind in "biuf":
        return array
    if array.dtype.kind in "US":
        return np.char.decode(array, "utf-8") if array.dtype.kind == "S" else array.astype(str)
    if array.dtype.kind == "O" and all(isinstance(v, (str, bytes)) for v in array.tolist()):
        return np.array([v.decode("utf-8") if isinstance(v, bytes) else v for v in array.tolist()], dtype=str)
    if isinstance(getattr(values, "dtype", None), pd.StringDtype) or str(getattr(values, "dtype", "")) == "str":
        return np.asarray(values.astype(str), dtype=str)
    return None


def _json_value(value):
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence | np.ndarray):
        return np.asarray(value).item() if isinstance(value, np.generic) else value
    return [_json_value(v) for v in value]


def _spike_trains(units_table, where: str):
    if "spike_times" not in units_table.colnames:
        raise DataFileError(f"{where}: the units table has no spike_times column")
    data = np.asarray(units_table.spike_times.data[:], dtype=np.float64)
    ends = np.asarray(units_table.spike_times_index.data[:], dtype=np.int64)
    starts = np.concatenate([[0], ends[:-1]])
    return [np.sort(data[a:b]) for a, b in zip(starts, ends)]


def load_nwb(path: str | os.PathLike, *, event: str, window: tuple[float, float], bin_size: float,
             conditions: str | Sequence[str], trials: bool = False, units: Sequence[int] | None = None,
             filter: Mapping | None = None, drop_silent: bool = False) -> Dataset | Trials:
    """Binned spike rates from an NWB file, aligned to a trial event and averaged per condition.

    Args:
        path: the ``.nwb`` file (HDF5), with a units table (``spike_times``) and a trials table.
        event: the trials-table column holding the alignment time of each trial, in seconds
            (``"start_time"`` or a custom column such as ``"stimulus_on"``).
        window: ``(start, stop)`` in seconds relative to the event (e.g. ``(-0.2, 0.5)``).
        bin_size: bin width in seconds; must divide the window. Bin edges are
            ``event + start + k·bin_size``; bins are left-closed (module docstring).
        conditions: the trials-table column(s) whose value combinations are the conditions.
        trials: ``True`` returns the single trials as :class:`~repalign.data.Trials`
            ``(trial, time, unit)`` instead of the averages.
        units: ids (units table ``id``) of the units to keep, in this order; default all.
        filter: keep only the trials whose columns hold the given values, ``{column: value or
            [values]}`` (e.g. ``{"correct": 1}``).
        drop_silent: a unit without any spike in the file is an error (naming it); with
            ``True`` such units are dropped with a warning and listed in the provenance.

    Returns:
        A :class:`~repalign.data.Dataset` ``(time, condition, unit)`` in spikes/s, ``dt =
        bin_size``; its condition table holds the condition columns and ``n_trials``, its unit
        table ``unit_id`` and the units table's scalar columns; the provenance names the file,
        its identifier and session, the event, window, bin size, filter and dropped units. With
        ``trials=True`` the same as :class:`~repalign.data.Trials` (``.average()`` gives the dataset).

    Raises:
        MissingFileError: no such file.
        DataFileError: naming the file and the problem — not an NWB file, no units or trials
            table, an event, condition or filter column not in the trials table (the available
            columns listed), a NaN event time in a kept trial, a unit without spikes, unknown unit
            ids, no trial left by the filter.
        SettingsError: a window or bin size that does not divide it.

    Example:
        >>> import datetime, tempfile, pathlib
        >>> from pynwb import NWBFile, NWBHDF5IO
        >>> nwb = NWBFile("demo", "demo-1", datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc))
        >>> nwb.add_trial_column("direction", "reach direction (deg)")
        >>> for k, d in enumerate([0, 90, 0, 90]):
        ...     nwb.add_trial(start_time=float(k), stop_time=k + 0.9, direction=d)
        >>> nwb.add_unit(spike_times=[0.1, 1.1, 1.3, 2.1, 3.6])
        >>> nwb.add_unit(spike_times=[0.6, 1.6, 2.6, 3.6])
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "demo.nwb"
        >>> with NWBHDF5IO(path, "w") as io:
        ...     io.write(nwb)
        >>> ds = load_nwb(path, event="start_time", window=(0.0, 1.0), bin_size=0.5, conditions="direction")
        >>> ds.shape, ds.conditions["direction"].tolist(), ds.activity[:, :, 0].tolist()
        ((2, 2, 2), [0, 90], [[2.0, 2.0], [0.0, 1.0]])
    """
    pynwb = _pynwb()
    pd = pandas_module()
    path = Path(path)
    where = str(path)
    event = _names(event, "event")
    if len(event) != 1:
        raise SettingsError("event", f"expected one column name, got {event!r}")
    event = event[0]
    condition_columns = _names(conditions, "conditions")
    start, step, n_bins = _grid(window, bin_size)
    trials = check_bool(trials, "trials")
    drop_silent = check_bool(drop_silent, "drop_silent")
    if filter is not None and not isinstance(filter, Mapping):
        raise SettingsError("filter", f"expected a mapping {{column: value or [values]}}, got {type(filter).__name__}")
    if not path.is_file():
        raise MissingFileError(f"{where}: no such file")

    try:
        io = pynwb.NWBHDF5IO(str(path), "r", load_namespaces=True)
    except Exception as err:  # noqa: BLE001 - h5py, hdmf and pynwb raise many types for a file that is not NWB
        raise DataFileError(f"{where}: not an NWB file pynwb can read ({type(err).__name__}: {err})") from None
    with io:
        try:
            nwbfile = io.read()
        except Exception as err:  # noqa: BLE001 - as above
            raise DataFileError(f"{where}: not an NWB file pynwb can read ({type(err).__name__}: {err})") from None
        if nwbfile.units is None:
            raise DataFileError(f"{where}: no units table (nwbfile.units); load_nwb needs spike-sorted units")
        if nwbfile.trials is None:
            raise DataFileError(f"{where}: no trials table (nwbfile.trials); load_nwb needs trials to align to")
        table = nwbfile.trials.to_dataframe().reset_index()
        trains = _spike_trains(nwbfile.units, where)
        unit_ids = np.asarray(nwbfile.units.id[:], dtype=np.int64)
        unit_columns = {}
        for name in nwbfile.units.colnames:
            if name in _SKIPPED_UNIT_COLUMNS or f"{name}_index" in nwbfile.units:
                continue
            column = _plain_column(nwbfile.units[name].data[:], pd)
            if column is not None and len(column) == len(unit_ids):
                unit_columns[name] = column
        header = {"identifier": str(nwbfile.identifier), "session_id": nwbfile.session_id,
                  "session_description": str(nwbfile.session_description)}

    available = [c for c in table.columns if c != "id"]
    for name, argument in [(event, "event"), *((c, "conditions") for c in condition_columns),
                           *((c, "filter") for c in (filter or {}))]:
        if name not in table.columns:
            raise DataFileError(f"{where}: {argument} column {name!r} is not in the trials table "
                                f"(its columns: {available})")
    keep = np.ones(len(table), dtype=bool)
    for column, wanted in (filter or {}).items():
        values = [wanted] if isinstance(wanted, (str, bytes)) or not isinstance(wanted, Sequence) else list(wanted)
        keep &= table[column].isin(values).to_numpy()
    if not keep.any():
        raise DataFileError(f"{where}: no trial left after the filter {dict(filter)!r} (of {len(table)} trials)")
    table = table[keep].reset_index(drop=True)
    events = np.asarray(table[event], dtype=np.float64)
    if not np.isfinite(events).all():
        bad = table["id"][~np.isfinite(events)].tolist()
        raise DataFileError(f"{where}: event {event!r} is NaN or infinite in trial(s) with id {bad[:10]}"
                            f"{' ...' if len(bad) > 10 else ''}; filter them out (filter=...) first")

    if units is not None:
        wanted = [int(u) for u in units]
        unknown = [u for u in wanted if u not in set(unit_ids.tolist())]
        if unknown or not wanted:
            raise DataFileError(f"{where}: unit id(s) {unknown or wanted} not in the units table "
                                f"(ids {unit_ids.tolist()[:20]}{' ...' if len(unit_ids) > 20 else ''})")
        order = [int(np.flatnonzero(unit_ids == u)[0]) for u in wanted]
    else:
        order = list(range(len(unit_ids)))
    silent = [int(unit_ids[i]) for i in order if trains[i].size == 0]
    if silent and not drop_silent:
        raise DataFileError(f"{where}: unit(s) with id {silent} have no spike at all; pass drop_silent=True to "
                            f"drop them (or units=[...] to choose units)")
    if silent:
        warn(f"{where}: dropped {len(silent)} unit(s) without any spike: ids {silent}")
        order = [i for i in order if unit_ids[i] not in silent]
        if not order:
            raise DataFileError(f"{where}: no unit has a spike")

    # bin edges, (trial, bin edge); left-closed bins: searchsorted(side="left") counts spikes < edge. The
    # offsets are formed first (event + 0.2 is how a spike "on the edge" is usually written), and an edge
    # is moved EDGE_TOLERANCE earlier so that a spike a rounding error below it still falls in the later bin
    edges = events[:, None] + (start + step * np.arange(n_bins + 1))
    flat = edges.ravel() - EDGE_TOLERANCE
    counts = np.empty((len(order), len(events), n_bins), dtype=np.int64)  # unit-major: each unit fills a block
    for column, i in enumerate(order):
        below = np.searchsorted(trains[i], flat, side="left").reshape(edges.shape)
        np.subtract(below[:, 1:], below[:, :-1], out=counts[column])
    activity = np.ascontiguousarray(counts.transpose(1, 2, 0)) / step

    # the trials table's own ids; a column of the user's named trial_id keeps its name
    trial_table = {"nwb_trial_id" if "trial_id" in available else "trial_id": table["id"].to_numpy(dtype=np.int64)}
    for name in available:
        column = _plain_column(table[name], pd)
        if column is not None:
            trial_table[name] = column
        elif name in condition_columns:
            raise DataFileError(f"{where}: condition column {name!r} holds {table[name].dtype} values; "
                                f"conditions need numbers, booleans or strings")
    unit_table = {"unit_id": unit_ids[order], **{name: values[order] for name, values in unit_columns.items()}}
    provenance = {
        "source": where, "format": "NWB", **header, "event": event, "window_s": [start, start + n_bins * step],
        "bin_size_s": step, "bins": "left-closed, edges event + window[0] + k * bin_size",
        "activity_unit": "spikes/s", "filter": {str(k): _json_value(v) for k, v in (filter or {}).items()},
        "dropped_units": silent,
    }
    try:
        result = Trials(activity, trial_table, condition_columns, unit_table, step, provenance)
        return result if trials else result.average()
    except ValueError as err:  # e.g. no spike of any unit in any window: all units constant
        raise DataFileError(f"{where}: {err}") from None

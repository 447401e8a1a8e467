r"""Brain-Score / BrainIO assemblies: ``presentation × neuroid (× time_bin)`` netCDF files → :class:`Dataset`.

Brain-Score distributes its recordings (Majaj, Hong et al. 2015 IT and V4:
``assy_dicarlo_MajajHong2015_public.nc``; Freeman et al. 2013 V1/V2 ...) as BrainIO assemblies:
netCDF files written by ``brainio.packaging.write_netcdf``, which resets every MultiIndex (so its
levels are plain coordinates) and stores the DataArray as the variable ``data``. Along
``presentation``: ``stimulus_id`` (``image_id`` in older assemblies), ``repetition`` and
stimulus metadata (object, category, variation...); along ``neuroid``: ``neuroid_id``,
``region``, ``animal``, array positions...; along ``time_bin``: ``time_bin_start`` and
``time_bin_end`` in ms.

:func:`load_brainio` averages the repetitions of each stimulus,

.. math:: x_{s,u}(t) = \frac{1}{|P_s|} \sum_{p \in P_s} \mathrm{data}_{p,u}(t)

over the presentations :math:`P_s` of stimulus :math:`s` (stimuli in sorted ``stimulus_id``
order), keeps the neuroids of the chosen region(s), and turns the presentation coordinates that
are constant within every stimulus into the condition table (``stimulus_id`` first, then
``n_repetitions``); those that vary (``repetition``, session, ...) are listed in the provenance.
Neuroid coordinates become the unit table. Without a ``time_bin`` dimension, or with a single
bin (Majaj et al.'s 70–170 ms), the result is ``(sample, unit)`` with one sample per stimulus;
with several bins ``(time, condition, unit)`` with ``dt`` the bins' spacing.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .._checks import SettingsError, check_bool
from .dataset import Dataset, even_spacing, pandas_module, xarray_module
from .files import DataFileError, MissingFileError

__all__ = ["load_brainio"]

_STIMULUS_IDS = ("stimulus_id", "image_id")  # image_id: assemblies packaged before BrainIO's renaming


def _plain(values: np.ndarray) -> np.ndarray | None:
    """Numbers, booleans or strings as numpy stores them without pickle; ``None`` for anything else."""
    values = np.asarray(values)
    if values.dtype.kind in "biuf":
        return values
    if values.dtype.kind == "U":
        return values
    if values.dtype.kind == "S":
        return np.char.decode(values, "utf-8")
    if values.dtype.kind == "O" and all(isinstance(v, (str, bytes)) for v in values.tolist()):
        return np.array([v.decode("utf-8") if isinstance(v, bytes) else v for v in values.tolist()], dtype=str)
    return None


def _open(path: Path, variable: str | None, xr):
    where = str(path)
    try:
        data = xr.load_dataset(path)
    except Exception as err:  # noqa: BLE001 - each netCDF engine raises its own types for a file it cannot read
        raise DataFileError(f"{where}: not a netCDF file xarray can read ({type(err).__name__}: {err}); BrainIO "
                            f"assemblies need h5netcdf: pip install 'repalign[brainio]'") from None
    names = list(data.data_vars)
    if variable is not None:
        if variable not in names:
            raise DataFileError(f"{where}: no variable {variable!r} (variables: {names})")
        return data[variable]
    if len(names) == 1:
        return data[names[0]]
    if "data" in names:
        return data["data"]
    raise DataFileError(f"{where}: {len(names)} variables {names}; name the assembly with variable=")


def load_brainio(path: str | os.PathLike, *, region: str | Sequence[str] | None = None,
                 average_repetitions: bool = True, variable: str | None = None) -> Dataset:
    """A BrainIO neural assembly (netCDF), repetitions averaged per stimulus, as a :class:`Dataset`.

    Args:
        path: the assembly's ``.nc`` file (e.g. ``assy_dicarlo_MajajHong2015_public.nc`` from
            Brain-Score's catalogue).
        region: keep the neuroids whose ``region`` coordinate is this value (or one of these
            values), e.g. ``"IT"``; default all.
        average_repetitions: ``False`` keeps every presentation as a condition (sample), with all
            presentation coordinates in the table.
        variable: the netCDF variable holding the assembly when the file has several (default the
            only one, else ``data``).

    Returns:
        A :class:`~repalign.data.Dataset`: ``(sample, unit)`` (no or one time bin; a sample per
        stimulus) or ``(time, condition, unit)`` (several time bins; ``dt`` their spacing in s,
        time bins taken to be in ms as in Brain-Score). Its conditions are the stimulus
        metadata, its units the neuroid coordinates; the provenance names the file, region,
        time bins (ms), the assembly's identifiers and the presentation coordinates dropped.

    Raises:
        MissingFileError: no such file.
        DataFileError: naming the file — not netCDF, dimensions other than ``presentation,
            neuroid[, time_bin]``, no ``stimulus_id``/``image_id`` coordinate, no ``region``
            coordinate for ``region=``, a region with no neuroid (the available ones listed),
            NaN values.

    Example:
        >>> import tempfile, pathlib
        >>> import numpy as np, xarray as xr
        >>> assembly = xr.DataArray(
        ...     np.arange(12.0).reshape(4, 3), dims=["presentation", "neuroid"],
        ...     coords={"stimulus_id": ("presentation", ["b", "a", "b", "a"]), "repetition": ("presentation", [0, 0, 1, 1]),
        ...             "object_name": ("presentation", ["car", "dog", "car", "dog"]),
        ...             "neuroid_id": ("neuroid", ["n1", "n2", "n3"]), "region": ("neuroid", ["IT", "IT", "V4"])})
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "assy_demo.nc"
        >>> assembly.to_dataset(name="data").to_netcdf(path, engine="h5netcdf")
        >>> ds = load_brainio(path, region="IT")
        >>> ds.layout, ds.activity.tolist(), ds.conditions["object_name"].tolist()
        ('sample,unit', [[6.0, 7.0], [3.0, 4.0]], ['dog', 'car'])
        >>> ds = load_brainio("assy_dicarlo_MajajHong2015_public.nc", region="IT")  # doctest: +SKIP
    """
    xr = xarray_module()
    pd = pandas_module()
    path = Path(path)
    where = str(path)
    average_repetitions = check_bool(average_repetitions, "average_repetitions")
    if region is not None:
        regions = [region] if isinstance(region, str) else list(region) if isinstance(region, Sequence) else None
        if not regions or not all(isinstance(r, str) for r in regions):
            raise SettingsError("region", f"expected a region name or a list of names, got {region!r}")
    if not path.is_file():
        raise MissingFileError(f"{where}: no such file")
    da = _open(path, variable, xr)

    dims = set(da.dims)
    if dims not in ({"presentation", "neuroid"}, {"presentation", "neuroid", "time_bin"}):
        raise DataFileError(f"{where}: dimensions {tuple(da.dims)}; a BrainIO neural assembly has presentation, "
                            f"neuroid and optionally time_bin")
    da = da.transpose(*(d for d in ("time_bin", "presentation", "neuroid") if d in dims))
    if "time_bin" in dims and "time_bin_start" in da.coords:  # time runs forwards, whatever the file's order
        da = da.isel(time_bin=np.argsort(np.asarray(da.coords["time_bin_start"].values), kind="stable"))

    def along(dim):
        return {name: np.asarray(coord.values) for name, coord in da.coords.items()
                if coord.dims == (dim,) and name != dim}

    presentation = along("presentation")
    neuroid = along("neuroid")
    id_name = next((n for n in _STIMULUS_IDS if n in presentation), None)
    if id_name is None:
        raise DataFileError(f"{where}: no stimulus_id (or image_id) coordinate along presentation "
                            f"(its coordinates: {sorted(presentation)})")

    keep = np.ones(da.sizes["neuroid"], dtype=bool)
    if region is not None:
        if "region" not in neuroid:
            raise DataFileError(f"{where}: region={region!r} but the neuroids have no region coordinate "
                                f"(their coordinates: {sorted(neuroid)})")
        names = _plain(neuroid["region"])
        keep = np.isin(names, regions)
        if not keep.any():
            raise DataFileError(f"{where}: no neuroid in region {region!r} (regions: {sorted(set(names.tolist()))})")

    values = np.asarray(da.values, dtype=np.float64)[..., keep]
    if not np.isfinite(values).all():
        raise DataFileError(f"{where}: the assembly holds NaN or infinite values in the kept neuroids")

    columns = {name: _plain(v) for name, v in presentation.items()}
    unsupported = sorted(name for name, v in columns.items() if v is None)
    columns = {name: v for name, v in columns.items() if v is not None}
    stimulus = columns[id_name]
    varying = []
    if average_repetitions:
        stimuli, codes = np.unique(stimulus, return_inverse=True)
        counts = np.bincount(codes, minlength=len(stimuli))
        one_hot = np.zeros((len(stimuli), len(stimulus)))
        one_hot[codes, np.arange(len(stimulus))] = 1.0
        values = np.einsum("sp,...pu->...su", one_hot, values) / counts[:, None]
        first = np.array([np.flatnonzero(codes == s)[0] for s in range(len(stimuli))])
        table = {id_name: stimuli}
        for name, column in columns.items():
            if name == id_name:
                continue
            if all(np.unique(column[codes == s]).size == 1 for s in range(len(stimuli))):
                table[name] = column[first]
            else:
                varying.append(name)
        table["n_repetitions"] = counts.astype(np.int64)
    else:
        table = {id_name: stimulus, **{n: c for n, c in columns.items() if n != id_name}}

    units = {name: column[keep] for name, v in neuroid.items() if (column := _plain(v)) is not None}
    dt, bins = None, None
    if "time_bin" in dims:
        start = np.asarray(da.coords["time_bin_start"].values) if "time_bin_start" in da.coords else None
        end = np.asarray(da.coords["time_bin_end"].values) if "time_bin_end" in da.coords else None
        if start is not None and end is not None:
            bins = [[float(a), float(b)] for a, b in zip(start, end)]
        if values.shape[0] == 1:
            values = values[0]
        elif start is not None:
            step = even_spacing(start.astype(np.float64)) if start.size >= 2 else None
            dt = None if step is None else step / 1000.0
    attrs = {k: v for k, v in da.attrs.items() if isinstance(v, str)}
    provenance = {
        "source": where, "format": "BrainIO assembly", "variable": str(da.name), "region": region,
        "averaged_repetitions": average_repetitions, "n_presentations": len(stimulus),
        "time_bins_ms": bins, "presentation_coords_dropped": sorted(varying + unsupported),
        **{f"attrs.{k}": v for k, v in attrs.items()},
    }
    try:
        return Dataset(values, pd.DataFrame(table), pd.DataFrame(units) if units else None, dt, provenance)
    except ValueError as err:
        raise DataFileError(f"{where}: {err}") from None

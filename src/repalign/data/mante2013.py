r"""The Mante et al. (2013) PFC release: per-unit ``.mat`` files → the 72-condition :class:`Dataset`.

The release (``PFC data 1`` for monkey A, ``PFC data 2`` for monkey F; files such as
``ar090313_1_a1_Vstim_100_850_ms.mat``) holds one MATLAB struct ``unit`` per file:

- ``unit.response``: trials × time samples (the release's 1 ms samples, 100–850 ms after stimulus onset);
- ``unit.time``: the sample times in seconds;
- ``unit.task_variable``: per-trial vectors ``stim_dir`` (signed motion coherence), ``stim_col``,
  ``stim_col2dir`` (colour coherence signed towards the motion target's direction), ``targ_dir``
  (the chosen target), ``context`` (+1 motion, −1 colour), ``correct`` (1/0), ``stim_trial`` ...

:func:`load_mante2013` follows the seed paper's reader (nacloos/diffscore,
``diffscore/dataset/mante2013.py``, ``process_data``): correct trials only; a condition is
(context, motion coherence ``stim_dir``, colour coherence ``stim_col2dir``); 50 ms bins averaging
the samples of each bin (trailing samples that do not fill a bin dropped; the seed's ``downsample``
instead widens its windows to ``int(n_samples / n_bins)`` samples, the same for the release's 750
samples of 1 ms); units that lack one of the 72 conditions are dropped (the seed skips them
silently; here a warning and the provenance list them). Sessions used slightly different
coherences, which the seed maps onto one reference session by rank; here each unit's three
positive (negative) levels of a modality are ranked by size and mapped to the task's levels
(default the seed task's ``(0.06, 0.17, 0.5)``), so that the condition table equals
:meth:`repalign.tasks.ManteTask.conditions` (same columns, values and row order: context +1 then
−1, motion then colour ascending), and :class:`repalign.tasks.ManteTask` networks can be compared
condition by condition. A unit's value for a condition and bin is

.. math:: r_{c,b} = \frac{1}{|K_c|\,m} \sum_{k \in K_c} \sum_{j=bm}^{bm+m-1} \mathrm{response}_{k,j}

over its correct trials :math:`K_c` of condition :math:`c` and the :math:`m` samples of bin
:math:`b` (one sum, one division: exact for spike counts), in the unit of ``response``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .._checks import SettingsError, check_items, check_real
from .._warnings import warn
from .dataset import Dataset, pandas_module
from .files import DataFileError, MissingFileError

__all__ = ["load_mante2013", "mante_conditions", "TASK_STRENGTHS"]

TASK_STRENGTHS = (0.06, 0.17, 0.5)  # the seed task's coherences (diffscore/env/mante.py, env_mante: cohs)
_FIELDS = ("response", "time", "task_variable")
_TASK_FIELDS = ("stim_dir", "stim_col2dir", "context", "correct")


def mante_conditions(motion_strengths=TASK_STRENGTHS, colour_strengths=TASK_STRENGTHS):
    """The 72 conditions (2 contexts × 6 motion × 6 colour coherences), as :meth:`ManteTask.conditions`.

    Columns ``context`` (+1 motion, −1 colour), ``motion``, ``colour``, ``choice`` (the sign of
    the relevant coherence), ``motion_sign``, ``colour_sign``; rows context-major, coherences
    ascending.

    >>> table = mante_conditions()
    >>> len(table), table.columns.tolist()[:3], table["motion"].unique().tolist()
    (72, ['context', 'motion', 'colour'], [-0.5, -0.17, -0.06, 0.06, 0.17, 0.5])
    """
    pd = pandas_module()
    motion = _levels(motion_strengths, "motion_strengths")
    colour = _levels(colour_strengths, "colour_strengths")
    context, m, k = (a.ravel() for a in np.meshgrid([1, -1], motion, colour, indexing="ij"))
    context = context.astype(np.int64)
    choice = np.sign(np.where(context > 0, m, k)).astype(np.int64)
    return pd.DataFrame({"context": context, "motion": m.astype(np.float64), "colour": k.astype(np.float64),
                         "choice": choice, "motion_sign": np.sign(m).astype(np.int64),
                         "colour_sign": np.sign(k).astype(np.int64)})


def _levels(strengths, name) -> list[float]:
    levels = sorted(check_real(v, name, low=0.0, high=1.0, inclusive=(False, True))
                    for v in check_items(strengths, name, "coherence strengths", distinct=True))
    if len(levels) != 3:
        raise SettingsError(name, f"expected 3 coherence strengths (the release's), got {len(levels)}")
    return [-s for s in reversed(levels)] + levels


def _files(source) -> list[Path]:
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if path.is_dir():
            files = sorted(path.glob("*.mat"))
            if not files:
                raise MissingFileError(f"{path}: no .mat file in this directory")
            return files
        paths = [path]
    elif isinstance(source, Sequence):
        paths = [Path(p) for p in source]
        if not paths:
            raise SettingsError("source", "expected a directory or a non-empty list of .mat files")
    else:
        raise SettingsError("source", f"expected a directory or a list of .mat files, got {type(source).__name__}")
    for path in paths:
        if not path.is_file():
            raise MissingFileError(f"{path}: no such file")
    return paths


def _read_unit(path: Path, scipy_io) -> dict:
    where = str(path)
    try:
        mat = scipy_io.loadmat(where, simplify_cells=True)
    except Exception as err:  # noqa: BLE001 - scipy raises ValueError, TypeError, OSError... for files that are not .mat
        raise DataFileError(f"{where}: not a MATLAB file scipy can read ({type(err).__name__}: {err})") from None
    unit = mat.get("unit")
    if not isinstance(unit, dict):
        raise DataFileError(f"{where}: no struct named 'unit' (variables: {sorted(k for k in mat if not k.startswith('__'))})")
    missing = [f for f in _FIELDS if f not in unit]
    if missing:
        raise DataFileError(f"{where}: unit has no field(s) {missing} (fields: {sorted(unit)})")
    variables = unit["task_variable"]
    if not isinstance(variables, dict):
        raise DataFileError(f"{where}: unit.task_variable is not a struct")
    missing = [f for f in _TASK_FIELDS if f not in variables]
    if missing:
        raise DataFileError(f"{where}: unit.task_variable has no field(s) {missing} (fields: {sorted(variables)})")
    response = np.asarray(unit["response"], dtype=np.float64)
    if response.ndim == 1:  # simplify_cells squeezes a one-trial response
        response = response[None, :]
    time = np.atleast_1d(np.asarray(unit["time"], dtype=np.float64))
    if response.ndim != 2 or response.shape[1] != time.size or time.size < 2:
        raise DataFileError(f"{where}: unit.response has shape {response.shape}; expected trials × {time.size} "
                            f"time samples (the length of unit.time, at least 2)")
    if not np.isfinite(response).all():
        raise DataFileError(f"{where}: unit.response holds NaN or infinite values")
    columns = {}
    for name in _TASK_FIELDS:
        values = np.atleast_1d(np.asarray(variables[name], dtype=np.float64))
        if values.shape != (response.shape[0],):
            raise DataFileError(f"{where}: unit.task_variable.{name} has {values.size} value(s); expected one per "
                                f"trial ({response.shape[0]})")
        columns[name] = values
    bad_context = sorted(set(columns["context"].tolist()) - {1.0, -1.0})
    if bad_context:
        raise DataFileError(f"{where}: unit.task_variable.context holds {bad_context}; expected +1 (motion) or -1 (colour)")
    return {"response": response, "time": time, **columns}


def _ranked(values: np.ndarray, levels: list[float]) -> np.ndarray | None:
    """Each value's task level by rank within its sign; ``None`` unless exactly 3 negative and 3 positive values
    occur (a 0 coherence, or a seventh level, would make more than the task's 72 conditions: the seed code
    skips such a unit too)."""
    distinct = np.unique(values)
    negative, positive = distinct[distinct < 0], distinct[distinct > 0]
    if len(negative) != 3 or len(positive) != 3 or len(distinct) != 6:
        return None
    mapping = dict(zip(np.concatenate([negative, positive]).tolist(), levels))
    return np.array([mapping.get(v, np.nan) for v in values.tolist()])


def load_mante2013(source: str | os.PathLike | Sequence[str | os.PathLike], *, bin_size: float = 0.05,
                   motion_strengths=TASK_STRENGTHS, colour_strengths=TASK_STRENGTHS) -> Dataset:
    """The Mante et al. (2013) PFC recording: condition averages over the 72 task conditions.

    Args:
        source: a directory of the release's per-unit ``.mat`` files (e.g. ``"PFC data 1"``,
            read in file-name order) or a list of such files.
        bin_size: bin width in seconds (default the seed's 50 ms); a whole number of the
            files' sample steps.
        motion_strengths, colour_strengths: the three task coherence strengths each unit's
            ranked levels map to (module docstring).

    Returns:
        A :class:`~repalign.data.Dataset` ``(time, 72 condition, unit)``; ``dt = bin_size``;
        conditions :func:`mante_conditions` (equal to ``ManteTask().conditions()`` by default);
        units ``file``, ``n_correct_trials`` and ``min_trials`` (fewest trials in a condition);
        provenance: the source, first bin start (s), the ranked levels rule, the dropped units
        with their reason.

    Raises:
        MissingFileError: a missing file or a directory without ``.mat`` files.
        DataFileError: naming the file — not a ``.mat`` file, no ``unit`` struct, a missing
            field, inconsistent lengths, a context other than ±1, a time grid other than the
            first file's, a bin size that is not a whole number of samples, or no unit with all
            72 conditions.

    Example:
        >>> import tempfile, pathlib
        >>> import numpy as np, scipy.io
        >>> rng = np.random.default_rng(0)
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> cohs = np.array([-0.5, -0.15, -0.05, 0.05, 0.15, 0.5])
        >>> context, motion, colour = (a.ravel() for a in np.meshgrid([1, -1], cohs, cohs, indexing="ij"))
        >>> variables = {"stim_dir": motion, "stim_col2dir": colour, "context": context, "correct": np.ones(72)}
        >>> unit = {"response": rng.poisson(0.02, (72, 100)).astype(float), "time": 0.1 + 0.001 * np.arange(100),
        ...         "task_variable": variables}
        >>> scipy.io.savemat(folder / "unit1.mat", {"unit": unit})
        >>> ds = load_mante2013(folder)
        >>> ds.shape, ds.dt, ds.conditions["motion"].unique().tolist()
        ((2, 72, 1), 0.05, [-0.5, -0.17, -0.06, 0.06, 0.17, 0.5])
    """
    import scipy.io as scipy_io  # a dependency of repalign; loaded only here
    step = check_real(bin_size, "bin_size", low=0.0, inclusive=(False, True))
    table = mante_conditions(motion_strengths, colour_strengths)
    motion_levels, colour_levels = sorted(set(table["motion"])), sorted(set(table["colour"]))
    keys = list(zip(table["context"].tolist(), table["motion"].tolist(), table["colour"].tolist()))
    files = _files(source)

    grid = None
    activities, names, n_correct, min_trials, dropped = [], [], [], [], {}
    for path in files:
        unit = _read_unit(path, scipy_io)
        sample = float(unit["time"][1] - unit["time"][0])
        if grid is None:
            factor = round(step / sample) if sample > 0 else 0
            if factor < 1 or not math.isclose(factor * sample, step, rel_tol=1e-6):
                raise DataFileError(f"{path}: bin_size {step:g} s is not a whole number of the file's "
                                    f"{sample:g} s samples")
            grid = (unit["time"].size, float(unit["time"][0]), sample, factor)
            n_bins = unit["time"].size // factor
            if n_bins < 1:
                raise DataFileError(f"{path}: {unit['time'].size} samples make no {step:g} s bin")
        elif (unit["time"].size != grid[0] or not math.isclose(float(unit["time"][0]), grid[1], abs_tol=1e-9)
              or not math.isclose(sample, grid[2], rel_tol=1e-6)):
            raise DataFileError(f"{path}: its time grid ({unit['time'].size} samples from {unit['time'][0]:g} s "
                                f"every {sample:g} s) differs from {files[0].name}'s ({grid[0]} from {grid[1]:g} "
                                f"every {grid[2]:g}); load them separately")
        correct = unit["correct"] == 1
        motion = _ranked(unit["stim_dir"][correct], motion_levels)
        colour = _ranked(unit["stim_col2dir"][correct], colour_levels)
        if motion is None or colour is None:
            dropped[path.name] = "not exactly 3 positive and 3 negative coherences (no 0) of each modality in its correct trials"
            continue
        context = unit["context"][correct].astype(np.int64)
        index = {key: c for c, key in enumerate(keys)}
        codes = np.array([index[key] for key in zip(context.tolist(), motion.tolist(), colour.tolist())])
        counts = np.bincount(codes, minlength=len(keys))
        if (counts == 0).any():
            dropped[path.name] = f"no correct trial in {int((counts == 0).sum())} of the 72 conditions"
            continue
        factor = grid[3]
        binned = unit["response"][correct][:, : n_bins * factor].reshape(-1, n_bins, factor).sum(axis=2)
        sums = np.zeros((len(keys), n_bins))
        np.add.at(sums, codes, binned)
        activities.append((sums / (counts[:, None] * factor)).T)
        names.append(path.name)
        n_correct.append(int(correct.sum()))
        min_trials.append(int(counts.min()))

    if dropped:
        warn(f"load_mante2013: dropped {len(dropped)} of {len(files)} unit(s) missing a condition: "
             + "; ".join(f"{name} ({why})" for name, why in list(dropped.items())[:5])
             + (" ..." if len(dropped) > 5 else ""))
    if not activities:
        where = files[0] if len(files) == 1 else files[0].parent
        raise DataFileError(f"{where}: no unit has correct trials in all 72 conditions ({len(files)} file(s) "
                            f"read; first: {next(iter(dropped.values()))})")
    units = {"file": np.array(names, dtype=str), "n_correct_trials": np.array(n_correct, dtype=np.int64),
             "min_trials": np.array(min_trials, dtype=np.int64)}
    provenance = {
        "source": str(source) if isinstance(source, (str, os.PathLike)) else [str(p) for p in files],
        "dataset": "Mante, Sussillo, Shenoy & Newsome 2013, Nature 503:78; PFC, context-dependent integration",
        "trials": "correct only", "bin_size_s": step, "first_bin_start_s": grid[1],
        "bins": f"mean of {grid[3]} samples of unit.response per bin; trailing samples dropped",
        "coherence_levels": "each unit's 3 negative and 3 positive levels per modality ranked to the task's",
        "motion_strengths": [float(v) for v in motion_levels if v > 0],
        "colour_strengths": [float(v) for v in colour_levels if v > 0],
        "dropped_units": dropped,
    }
    try:
        return Dataset(np.stack(activities, axis=-1), table, units, step, provenance)
    except ValueError as err:  # e.g. every unit silent in the kept trials
        where = files[0] if len(files) == 1 else files[0].parent
        raise DataFileError(f"{where}: {err}") from None

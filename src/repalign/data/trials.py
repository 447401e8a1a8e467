r"""Trial-resolved activity: :class:`Trials`, ``(trial, time, unit)`` with one table row per trial.

Recordings arrive as trials; most measures compare condition averages. A :class:`Trials` keeps
the single trials (for a bootstrap over trials, :func:`repalign.statistics.bootstrap` with
``over="trials"``) and names the trial-table columns that define a condition
(``condition_columns``). :meth:`Trials.average` gives the condition-averaged
:class:`~repalign.data.Dataset` ``(time, condition, unit)``: one condition per distinct
combination of those columns, in sorted order, each the mean of its trials.

Example:
    >>> import numpy as np
    >>> from repalign.data import Trials
    >>> activity = np.arange(24.0).reshape(4, 3, 2)  # 4 trials, 3 time bins, 2 units
    >>> trials = Trials(activity, {"direction": [90, 0, 90, 0], "correct": [1, 1, 1, 0]}, ["direction"], dt=0.05)
    >>> trials.n_trials, trials.n_conditions, trials.condition_index.tolist()
    (4, 2, [1, 0, 1, 0])
    >>> ds = trials.average()
    >>> ds.shape, ds.conditions["direction"].tolist(), ds.conditions["n_trials"].tolist()
    ((3, 2, 2), [0, 90], [2, 2])
    >>> bool(ds.activity[0, 1, 0] == (activity[0, 0, 0] + activity[2, 0, 0]) / 2)
    True
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from .dataset import Dataset, _checked_dt, _checked_provenance, _checked_table

if TYPE_CHECKING:  # pragma: no cover - annotations only
    import pandas

__all__ = ["Trials"]


def _checked_trials_activity(x) -> np.ndarray:
    array = np.array(x, dtype=np.float64, copy=True)
    if array.ndim != 3:
        raise ValueError(f"activity: expected (trial, time, unit) values, got {array.ndim} dimension(s) "
                         f"with shape {array.shape}")
    if 0 in array.shape:
        raise ValueError(f"activity: expected at least one trial, time bin and unit, got shape {array.shape}")
    if not np.isfinite(array).all():
        bad = np.argwhere(~np.isfinite(array))[0].tolist()
        raise ValueError(f"activity: contains NaN or Inf values (first at trial, time, unit = {tuple(bad)})")
    array.setflags(write=False)
    return array


@dataclass(frozen=True, eq=False, repr=False)
class Trials:
    """Single trials ``(trial, time, unit)``, their table and the columns that define a condition.

    Attributes:
        activity: float64 ``(trial, time, unit)``, a read-only copy; finite.
        trials: one row per trial (task variables, outcome...), a DataFrame or mapping of columns.
        condition_columns: the columns of ``trials`` whose distinct value combinations are the
            conditions (at least one).
        units: unit metadata, one row per unit (or ``None``).
        dt: time step in seconds (or ``None``).
        provenance: where the trials come from (JSON values only).
    """

    activity: np.ndarray
    trials: pandas.DataFrame
    condition_columns: tuple
    units: pandas.DataFrame | None = None
    dt: float | None = None
    provenance: dict = field(default_factory=dict)

    def __post_init__(self):
        set_ = object.__setattr__
        activity = _checked_trials_activity(self.activity)
        set_(self, "activity", activity)
        table = _checked_table(self.trials, "trials", activity.shape[0], "trial")
        columns = (self.condition_columns,) if isinstance(self.condition_columns, str) else self.condition_columns
        columns = tuple(columns)
        if not columns:
            raise ValueError("condition_columns: name at least one column of the trials table")
        missing = [c for c in columns if table is None or c not in table.columns]
        if missing:
            have = [] if table is None else list(table.columns)
            raise ValueError(f"condition_columns: {missing} not in the trials table (its columns: {have})")
        set_(self, "trials", table)
        set_(self, "condition_columns", columns)
        set_(self, "units", _checked_table(self.units, "units", activity.shape[2], "unit"))
        set_(self, "dt", _checked_dt(self.dt))
        set_(self, "provenance", _checked_provenance(self.provenance))
        keys = table[list(columns)]
        missing_values = [c for c in columns if keys[c].isna().any()]
        if missing_values:
            raise ValueError(f"trials: condition column(s) {missing_values} hold missing values (NaN); drop or "
                             f"fill those trials first")
        conditions = keys.drop_duplicates().sort_values(list(columns), kind="stable").reset_index(drop=True)
        # the condition of each trial by value (a key object per row: no helper column can clash with a name)
        position = {row: c for c, row in enumerate(conditions.itertuples(index=False, name=None))}
        index = np.fromiter((position[row] for row in keys.itertuples(index=False, name=None)), dtype=np.int64,
                            count=len(table))
        index.setflags(write=False)
        set_(self, "_conditions", conditions)
        set_(self, "_index", index)

    @property
    def n_trials(self) -> int:
        return int(self.activity.shape[0])

    @property
    def n_time(self) -> int:
        return int(self.activity.shape[1])

    @property
    def n_units(self) -> int:
        return int(self.activity.shape[2])

    @property
    def n_conditions(self) -> int:
        return len(self._conditions)

    @property
    def conditions(self) -> pandas.DataFrame:
        """The distinct condition-column combinations, sorted: row ``c`` is condition ``c``."""
        return self._conditions.copy()

    @property
    def condition_index(self) -> np.ndarray:
        """The condition (row of :attr:`conditions`) of each trial, an int array of length ``n_trials``."""
        return self._index

    @property
    def trial_counts(self) -> np.ndarray:
        """Trials per condition."""
        return np.bincount(self._index, minlength=self.n_conditions)

    def average(self) -> Dataset:
        """The condition averages: a :class:`~repalign.data.Dataset` ``(time, condition, unit)``.

        Its condition table is :attr:`conditions` with an ``n_trials`` column; its provenance
        adds ``averaged_over`` (the condition columns).
        """
        one_hot = np.zeros((self.n_conditions, self.n_trials))
        one_hot[self._index, np.arange(self.n_trials)] = 1.0
        counts = one_hot.sum(axis=1)
        mean = np.einsum("ck,ktu->tcu", one_hot / counts[:, None], self.activity)
        table = self.conditions
        table["n_trials"] = counts.astype(np.int64)
        provenance = {**self.provenance, "averaged_over": list(self.condition_columns)}
        return Dataset(mean, table, self.units, self.dt, provenance)

    def select(self, mask: Sequence[bool] | np.ndarray) -> Trials:
        """The trials where ``mask`` is true (e.g. ``trials.select(trials.trials.correct == 1)``)."""
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != (self.n_trials,):
            raise ValueError(f"mask: expected {self.n_trials} booleans (one per trial), got shape {mask.shape}")
        if not mask.any():
            raise ValueError("mask: selects no trial")
        return Trials(self.activity[mask], self.trials[mask].reset_index(drop=True), self.condition_columns,
                      self.units, self.dt, self.provenance)

    def __repr__(self) -> str:
        return (f"Trials({self.n_trials} trials x {self.n_time} time bins x {self.n_units} units, "
                f"{self.n_conditions} conditions by {list(self.condition_columns)}, dt={self.dt})")

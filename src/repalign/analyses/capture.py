r"""When is each principal component of the reference captured? The seed paper's Figure 5.

:func:`capture_thresholds` finds, for each run and each reference PC tracked by a
:class:`~repalign.trackers.PCCapture`, the score at which its R² first reaches the centre point
between its initial and maximal values; :func:`pc_capture` runs the whole experiment on the data
and on its matched Gaussian (Fig. 5e). Both return a :class:`CaptureThresholds`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from .._checks import check_bool, check_count, check_real
from .._optional import import_pandas, import_pyplot
from ..data import gaussian_like
from ..optimization import optimize
from ..registry import short_name
from ..results import Result, check_table, colours, legend, log_variance_axis
from ..trackers import PCCapture
from ._common import first_crossing, pc_columns, trajectory_frame

__all__ = ["capture_thresholds", "pc_capture", "CaptureThresholds", "PAPER_MEASURES"]

PAPER_MEASURES = ("angular-procrustes", "cka", "angular-cka", "ridge-cv")


@dataclass(frozen=True, eq=False)
class CaptureThresholds(Result):
    """Score at which each reference PC is captured, per run (:func:`capture_thresholds`, :func:`pc_capture`).

    Attributes:
        table: one row per (run, PC) — see :func:`capture_thresholds` (with a first column
            ``reference`` from :func:`pc_capture`).
        trajectory: the recorded trajectory the thresholds were read from (None when not kept).
        options: the settings that produced it.
    """

    record_kind = "pc_capture"

    table: object
    trajectory: object = field(default=None, repr=False)
    options: dict = field(default_factory=dict)

    def plot(self, ax=None):
        """Fig. 5b–e: score to reach each PC's threshold against the PC's explained variance.

        One colour per measure: the data as dots joined by a solid line (mean over runs), the
        matched Gaussian (when in the table) as a dashed line. PCs never captured (NaN) are left out.
        """
        return _plot_pc_capture(self.table, ax)

    def plot_curves(self, ax=None, *, n_pcs: int | None = None, measure: str | None = None, run: int | None = None):
        """Fig. 5a: R² of each reference PC against the score, for one run (the first by default).

        Args:
            n_pcs: number of PCs drawn (default: all tracked), coloured from dark (PC 1) to light.
            measure: which measure's run (canonical name or alias; default: the first in the table).
            run: which run (default: the first of that measure).
        """
        frame = self.trajectory
        if frame is not None and "reference" in frame.columns:
            frame = frame[frame["reference"] == frame["reference"].iloc[0]]
        return _plot_capture_curves(frame, n_pcs=n_pcs, measure=measure, run=run, ax=ax)

    def _record_settings(self) -> dict:
        return self.options

    def _record_tables(self) -> dict:
        tables = {"table": self.table}
        if self.trajectory is not None:
            tables["trajectory"] = self.trajectory
        return tables


def _explained_variance(explained_variance, n: int) -> np.ndarray:
    values = getattr(explained_variance, "explained_variance_ratio", explained_variance)
    values = np.asarray(values, dtype=float).reshape(-1)
    if values.size < n or not np.all(np.isfinite(values)) or np.any(values < 0):
        raise ValueError(f"explained_variance: expected at least {n} finite non-negative values (one per tracked "
                         f"PC) or a PCCapture tracker, got {values.size} value(s)")
    return values[:n]


def capture_thresholds(result, explained_variance, *, min_gain: float = 0.05,
                       by: Sequence[str] = ()) -> CaptureThresholds:
    r"""Score at which each reference PC is captured (the seed paper's "score to reach the PC threshold").

    For each run and each tracked PC i, with :math:`R^2_i(t)` recorded at the steps of the
    trajectory (in step order):

    .. math::

        \theta_i = \tfrac12\bigl(R^2_i(t_0) + \max_t R^2_i(t)\bigr), \qquad
        t^* = \min\{t : R^2_i(t) \ge \theta_i\},

    and the score at :math:`t^*`, linearly interpolated in :math:`R^2` between :math:`t^*` and the
    recorded step before it (record every step for the paper's resolution). A PC whose R² gains
    less than ``min_gain`` over the run (:math:`\max_t R^2_i - R^2_i(t_0)`) is never captured:
    its score is NaN.

    Args:
        result: an :class:`~repalign.optimization.OptimizationResult` (or its trajectory table)
            recorded with a :class:`~repalign.trackers.PCCapture` tracker.
        explained_variance: the PCCapture tracker, or the explained-variance ratio of each
            tracked PC (at least as many values as ``pc*_r2`` columns).
        min_gain: smallest rise of R² that counts as capture, in ``[0, 1)``.
        by: further columns of the table that separate runs (e.g. ``("ratio",)``).

    Returns:
        A :class:`CaptureThresholds`, whose ``table`` has one row per (run, PC): the ``by``
        columns, ``measure``, ``run``, ``seed``, ``pc`` (1-based), ``explained_variance``,
        ``r2_initial``, ``r2_max``, ``threshold``, ``step`` (first recorded step at or above the
        threshold, −1 if none) and ``value`` (the measure's value there); ``plot()`` draws Fig. 5b and ``plot_curves()`` Fig. 5a.

    Example:
        >>> import numpy as np, repalign
        >>> from repalign.trackers import PCCapture
        >>> X = np.random.default_rng(0).normal(size=(60, 5)) * [4.0, 2.0, 1.0, 0.5, 0.25]
        >>> tracker = PCCapture(X, n_pcs=3)
        >>> result = repalign.optimize(X, "cka", max_steps=60, lr=0.05, record_every=1, trackers=[tracker],
        ...                            units=2, seed=0)
        >>> table = capture_thresholds(result, tracker).table
        >>> table[["pc", "explained_variance"]].round(3).values.tolist()[:1]
        [[1.0, 0.704]]
        >>> bool(table.value.iloc[0] < result.final_score[0])
        True
    """
    pd = import_pandas()

    frame = trajectory_frame(result)
    columns = pc_columns(frame)
    variance = _explained_variance(explained_variance, len(columns))
    min_gain = check_real(min_gain, "min_gain", low=0.0, high=1.0, inclusive=(True, False))
    by = [by] if isinstance(by, str) else list(by)
    missing = [c for c in by if c not in frame.columns]
    if missing:
        raise ValueError(f"by: column(s) {missing} not in the trajectory table")
    keys = by + ["run"]
    rows = []
    for key, group in frame.sort_values("step", kind="stable").groupby(keys, sort=True):
        key = key if isinstance(key, tuple) else (key,)
        values = group["value"].to_numpy(float)
        first = group.iloc[0]
        for i, column in enumerate(columns):
            r2 = group[column].to_numpy(float)
            initial, best = float(r2[0]), float(np.max(r2))
            threshold = 0.5 * (initial + best)
            if best - initial < min_gain:
                step, value = -1, math.nan
            else:
                j, value = first_crossing(values, r2, threshold)
                step = int(group["step"].iloc[j]) if j >= 0 else -1
            rows.append((*key[:-1], first.get("measure", ""), key[-1], first.get("seed", -1), i + 1,
                         float(variance[i]), initial, best, threshold, step, value))
    table = pd.DataFrame(rows, columns=by + ["measure", "run", "seed", "pc", "explained_variance", "r2_initial",
                                             "r2_max", "threshold", "step", "value"])
    return CaptureThresholds(table, frame, {"min_gain": min_gain, "by": by})


def pc_capture(
    reference,
    measures=PAPER_MEASURES,
    *,
    n_pcs: int = 20,
    matched_gaussian: bool = True,
    n_runs: int = 1,
    seed: int = 0,
    lr: float = 0.02,
    max_steps: int = 2000,
    stop_at: float | None = 0.99,
    record_every: int = 1,
    ridge: float = 0.0,
    cv: int | None = None,
    min_gain: float = 0.05,
    dtype=torch.float32,
    progress: bool | None = None,
) -> CaptureThresholds:
    r"""Run Fig. 5b–e: optimize noise towards the reference (and its matched Gaussian) and find each PC's threshold.

    For every measure, ``n_runs`` runs of :func:`repalign.optimize` (Adam, ``lr``, from standard
    Gaussian noise, until the score reaches ``stop_at``) with a
    :class:`~repalign.trackers.PCCapture` tracker recorded every ``record_every`` steps, then
    :func:`capture_thresholds`. With ``matched_gaussian`` the same is done against
    :func:`~repalign.data.gaussian_like` (the reference's PC variances in random directions,
    seeded with ``seed``): the paper's prediction of the thresholds from the spectrum alone.

    The paper's defaults are followed where it states them (Adam, Gaussian start, stop at a
    threshold); ``lr = 0.02`` is small enough for the score to rise by small steps, so that
    the crossing is resolved.

    Args:
        reference: ``(time, condition, unit)`` or ``(sample, unit)`` activity or a Dataset.
        measures: registry names or Measures (maximized scores), run in one batched loop.
        n_pcs: number of leading PCs tracked.
        matched_gaussian: also run against the matched Gaussian.
        n_runs, seed, lr, max_steps, stop_at, record_every, dtype, progress: as in :func:`repalign.optimize`.
        ridge, cv: as in :class:`~repalign.trackers.PCCapture` (in-sample least squares by default, as the paper).
        min_gain: as in :func:`capture_thresholds`.

    Returns:
        A :class:`CaptureThresholds`: the :func:`capture_thresholds` table with a first column
        ``reference`` (``"data"`` or ``"matched Gaussian"``) and ``measure`` holding the canonical
        names; its ``trajectory`` has the same ``reference`` column.
    """
    pd = import_pandas()

    check_bool(matched_gaussian, "matched_gaussian")
    targets = {"data": reference}
    if matched_gaussian:
        targets["matched Gaussian"] = gaussian_like(reference, seed=seed)
    tables, trajectories = [], []
    for name, target in targets.items():
        tracker = PCCapture(target, n_pcs=n_pcs, ridge=ridge, cv=cv, seed=seed)
        result = optimize(target, list(measures) if not isinstance(measures, str) else measures,
                          max_steps=max_steps, lr=lr, stop_at=stop_at, seed=seed, n_runs=n_runs,
                          record_every=record_every, trackers=[tracker], dtype=dtype, progress=progress)
        captured = capture_thresholds(result, tracker, min_gain=min_gain)
        for frame, into in ((captured.table, tables), (captured.trajectory, trajectories)):
            frame = frame.copy()
            frame.insert(0, "reference", name)
            into.append(frame)
    options = {"measures": [measures] if isinstance(measures, str) else list(measures), "n_pcs": n_pcs,
               "matched_gaussian": matched_gaussian, "n_runs": n_runs, "seed": seed, "lr": lr, "max_steps": max_steps,
               "stop_at": stop_at, "record_every": record_every, "ridge": ridge, "cv": cv, "min_gain": min_gain,
               "dtype": str(dtype)}
    return CaptureThresholds(pd.concat(tables, ignore_index=True), pd.concat(trajectories, ignore_index=True),
                             options)


def _plot_pc_capture(table, ax=None):
    """Fig. 5b–e from a capture table (a :class:`CaptureThresholds` draws it with ``plot()``)."""
    check_table(table, ("measure", "explained_variance", "value"), "pc_capture")
    plt = import_pyplot()

    if ax is None:
        _, ax = plt.subplots(figsize=(4.8, 3.8))
    palette = colours()
    groups = table.groupby("reference", sort=False) if "reference" in table.columns else [("data", table)]
    measures = list(dict.fromkeys(table["measure"]))
    for reference, rows in groups:
        gaussian = reference != "data"
        for i, name in enumerate(measures):
            chosen = rows[(rows["measure"] == name) & rows["value"].notna()]
            if chosen.empty:
                continue
            mean = chosen.groupby("explained_variance")["value"].mean().sort_index()
            colour = palette[i % len(palette)]
            if gaussian:
                ax.plot(mean.index, mean.values, "--", lw=1, color=colour)
            else:
                ax.plot(chosen["explained_variance"], chosen["value"], "o", ms=3, alpha=0.6, color=colour)
                ax.plot(mean.index, mean.values, "-", lw=1.2, color=colour, label=short_name(name))
    if "reference" in table.columns and (table["reference"] != "data").any():
        ax.plot([], [], "--", color="0.3", lw=1, label="matched Gaussian")
    log_variance_axis(ax)
    ax.set_ylabel("score to reach the PC threshold")
    ax.set_title("when is each PC captured?", fontsize="small")
    legend(ax, frameon=False, fontsize="x-small")
    return ax


def _plot_capture_curves(result, *, n_pcs: int | None = None, measure: str | None = None, run: int | None = None,
                         ax=None):
    frame = trajectory_frame(result)
    columns = pc_columns(frame)
    if n_pcs is not None:
        columns = columns[:check_count(n_pcs, "n_pcs", 1)]
    plt = import_pyplot()

    if measure is not None and "measure" in frame.columns:
        wanted = measure
        frame = frame[(frame["measure"] == wanted) | (frame["measure"].map(short_name) == wanted)]
        if frame.empty:
            raise ValueError(f"measure: {measure!r} is not in the trajectory")
    run = int(frame["run"].iloc[0]) if run is None else run
    rows = frame[frame["run"] == run].sort_values("step")
    if rows.empty:
        raise ValueError(f"run: no rows for run {run!r}")
    if ax is None:
        _, ax = plt.subplots(figsize=(4.8, 3.6))
    colormap = plt.get_cmap("viridis")
    for i, column in enumerate(columns):
        ax.plot(rows["value"], rows[column], lw=1, color=colormap(i / max(len(columns) - 1, 1)),
                label=f"PC {i + 1}" if i < 3 or i == len(columns) - 1 else None)
    name = short_name(str(rows["measure"].iloc[0])) if "measure" in rows.columns else "measure"
    ax.set_xlabel(f"{name} score")
    ax.set_ylabel("R² of the reference PC")
    ax.set_title(f"{name}, run {run}", fontsize="small")
    legend(ax, frameon=False, fontsize="x-small")
    return ax

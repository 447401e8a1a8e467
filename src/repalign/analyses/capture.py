r"""When is each principal component of the reference captured? The seed paper's Figure 5.

:func:`capture_thresholds` finds, for each run and each reference PC tracked by a
:class:`~repalign.trackers.PCCapture`, the measure's value at which its R² reaches halfway from its
initial value to a perfect fit, (R²(0) + 1)/2, as the seed paper's code reads it (``rule="half"``;
repalign 0.1's halfway-to-the-run's-maximum rule is ``rule="run-max"``); a PC whose R² never gets
there is not captured (NaN). :func:`pc_capture` runs the whole experiment on the data and on its
matched Gaussian (Fig. 5e). Both return a :class:`CaptureThresholds`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, fields

import numpy as np
import torch

from .._checks import SettingsError, check_bool, check_choice, check_count, check_real
from .._optional import import_pandas, import_pyplot
from ..data import gaussian_like
from ..optimization import OptimizeSettings, optimize
from ..registry import short_name
from ..results import Result, check_table, colours, legend, log_variance_axis
from ..trackers import PCCapture
from ._common import computed, first_crossing, pc_columns, sorted_interpolation, trajectory_frame

__all__ = ["capture_thresholds", "pc_capture", "CaptureThresholds", "PAPER_MEASURES", "RULES"]

PAPER_MEASURES = ("angular-procrustes", "cka", "angular-cka", "ridge-cv")
# the optimizer's defaults (the seed paper's), defined once in OptimizeSettings
_SEED_DEFAULTS = {f.name: f.default for f in fields(OptimizeSettings) if f.init}
RULES = ("half", "run-max")  # the seed paper's crossing point (R²(0) + 1)/2; repalign 0.1's (R²(0) + max R²)/2
DEFAULT_MIN_GAIN = 0.05  # rule "run-max": smallest rise of R² that counts as capture


@dataclass(frozen=True, eq=False)
class CaptureThresholds(Result):
    """Value at which each reference PC is captured, per run (:func:`capture_thresholds`, :func:`pc_capture`).

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
        """Fig. 5b–e: the measure's value at which each PC is captured against the PC's explained variance.

        One colour per measure: the data as dots joined by a solid line (mean over the runs that
        capture the PC), the matched Gaussian (when in the table) as a dashed line. A PC that a run
        never captures (NaN) is marked at the top edge of the axes, above its explained variance
        (▼ for the data, ▽ for the matched Gaussian), and named so in the legend (beside the axes).
        """
        return _plot_pc_capture(self.table, ax, rule=self.options.get("rule"))

    def plot_curves(self, ax=None, *, n_pcs: int | None = None, measure: str | None = None, run: int | None = None,
                    colorbar: bool = True):
        """Fig. 5a: R² of each reference PC against the measure's value, for one run (the first by default).

        Each PC's curve is coloured by its rank (colour bar), its crossing point (where it is
        captured, from :attr:`table`) marked with a dot; the title names the measure and the run's seed.

        Args:
            n_pcs: number of PCs drawn (default: all tracked).
            measure: which measure's run (canonical name or alias; default: the first in the table).
            run: which run (default: the first of that measure).
            colorbar: draw the colour bar of PC ranks beside ``ax`` (side-by-side panels need one).
        """
        frame, table = self.trajectory, self.table
        reference = "data"
        if frame is not None and "reference" in frame.columns:
            reference = frame["reference"].iloc[0]
            frame = frame[frame["reference"] == reference]
        if table is not None and "reference" in table.columns:  # the thresholds of the runs drawn
            table = table[table["reference"] == reference]
        return _plot_capture_curves(frame, n_pcs=n_pcs, measure=measure, run=run, ax=ax, thresholds=table,
                                    colorbar=colorbar)

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


def capture_thresholds(result, explained_variance, *, rule: str = "half", min_gain: float | None = None,
                       by: Sequence[str] = ()) -> CaptureThresholds:
    r"""Value of the measure at which each reference PC is captured (the seed paper's "score to reach the threshold").

    For each run and each tracked PC i, with :math:`R^2_i(t)` and the measure's value :math:`s(t)`
    recorded at the steps of the trajectory (in step order, :math:`t_0` the first):

    - ``rule="half"`` (default, the seed paper's rule: ``pc_captured_variance(threshold="half")``
      of its code): the crossing point is halfway from the PC's initial R² to a perfect fit,

      .. math::

          \theta_i = \tfrac12\bigl(R^2_i(t_0) + 1\bigr),

      and the value is read from the recorded points :math:`(R^2_i(t), s(t))` sorted by
      :math:`R^2_i` (a stable sort), linearly interpolated at :math:`R^2 = \theta_i`: exactly
      ``scipy.interpolate.interp1d(R2_i, s)(θ_i)`` as the seed code computes it. A PC whose R²
      never reaches :math:`\theta_i` (:math:`\theta_i` above the largest recorded R²) is not captured: NaN.
    - ``rule="run-max"`` (repalign 0.1): halfway from the initial R² to the run's maximum,
      :math:`\theta_i = \tfrac12\bigl(R^2_i(t_0) + \max_t R^2_i(t)\bigr)`, and the value at the first
      recorded step with :math:`R^2_i(t) \ge \theta_i`, linearly interpolated in :math:`R^2` from the
      step before it. This threshold depends on where the run stopped (``lr``, ``stop_at``) and
      always has a crossing, so a PC whose R² gains less than ``min_gain`` over the run
      (:math:`\max_t R^2_i - R^2_i(t_0)`) is reported as not captured (NaN).

    Record every step (``record_every=1``) for the paper's resolution.

    Args:
        result: an :class:`~repalign.optimization.OptimizationResult` (or its trajectory table)
            recorded with a :class:`~repalign.trackers.PCCapture` tracker.
        explained_variance: the PCCapture tracker, or the explained-variance ratio of each
            tracked PC (at least as many values as ``pc*_r2`` columns).
        rule: ``"half"`` or ``"run-max"``.
        min_gain: for ``rule="run-max"`` only: smallest rise of R² that counts as capture, in
            ``[0, 1)``; default 0.05.
        by: further columns of the table that separate runs (e.g. ``("ratio",)``).

    Returns:
        A :class:`CaptureThresholds`, whose ``table`` has one row per (run, PC): the ``by``
        columns, ``measure``, ``run``, ``seed``, ``pc`` (1-based), ``explained_variance``,
        ``r2_initial``, ``r2_max``, ``threshold`` (:math:`\theta_i`), ``captured`` (bool),
        ``step`` (first recorded step with R² at or above the threshold, −1 if none) and
        ``value`` (the measure's value at the threshold; NaN when not captured). With
        ``rule="half"`` and an R² that falls back below the threshold and rises again, the seed
        code's sorted interpolation may read ``value`` between other steps than ``step``;
        ``plot()`` draws Fig. 5b and ``plot_curves()`` Fig. 5a.

    Raises:
        ValueError: naming ``result``, ``explained_variance``, ``rule``, ``min_gain`` (outside
            ``[0, 1)``, or given with ``rule="half"``) or ``by``.

    Examples:
        >>> import numpy as np, repalign
        >>> from repalign.trackers import PCCapture
        >>> X = np.random.default_rng(0).normal(size=(60, 5)) * [4.0, 2.0, 1.0, 0.5, 0.25]
        >>> tracker = PCCapture(X, n_pcs=3)
        >>> result = repalign.optimize(X, "cka", max_steps=60, lr=0.05, record_every=1, trackers=[tracker],
        ...                            units=2, seed=0)
        >>> table = capture_thresholds(result, tracker).table
        >>> table[["pc", "explained_variance"]].round(3).values.tolist()[:1]
        [[1.0, 0.704]]
        >>> bool(table.value.iloc[0] < result.final_value[0])
        True
        >>> table.captured.tolist()   # Y has 2 units: it cannot fit PC 3 as well
        [True, True, False]
    """
    pd = import_pandas()

    frame = trajectory_frame(result)
    columns = pc_columns(frame)
    variance = _explained_variance(explained_variance, len(columns))
    rule = check_choice(rule, "rule", RULES)
    if rule == "half" and min_gain is not None:
        raise SettingsError("min_gain", "applies to rule='run-max' only (the seed paper's rule 'half' has no "
                                        "minimum gain: a PC is captured when its R² reaches its crossing point)")
    if rule == "run-max":
        min_gain = check_real(DEFAULT_MIN_GAIN if min_gain is None else min_gain, "min_gain", low=0.0, high=1.0,
                              inclusive=(True, False))
    by = [by] if isinstance(by, str) else list(by)
    missing = [c for c in by if c not in frame.columns]
    if missing:
        raise ValueError(f"by: column(s) {missing} not in the trajectory table")
    keys = by + ["run"]
    rows = []
    for key, group in frame.sort_values("step", kind="stable").groupby(keys, sort=True):
        key = key if isinstance(key, tuple) else (key,)
        first = group.iloc[0]
        for i, column in enumerate(columns):
            r2, values, steps = _recorded(group, column)
            initial, best = float(r2[0]), float(np.max(r2))
            if rule == "half":
                threshold = 0.5 * (initial + 1.0)
                value = sorted_interpolation(values, r2, threshold)
                j = _first_at_or_above(r2, threshold)
            else:
                threshold = 0.5 * (initial + best)
                j, value = first_crossing(values, r2, threshold) if best - initial >= min_gain else (-1, math.nan)
            captured = not math.isnan(value)
            rows.append((*key[:-1], first.get("measure", ""), key[-1], first.get("seed", -1), i + 1,
                         float(variance[i]), initial, best, threshold, captured,
                         int(steps[j]) if captured and j >= 0 else -1, value))
    table = pd.DataFrame(rows, columns=by + ["measure", "run", "seed", "pc", "explained_variance", "r2_initial",
                                             "r2_max", "threshold", "captured", "step", "value"])
    options = {"rule": rule, "by": by}
    if rule == "run-max":
        options["min_gain"] = min_gain
    return CaptureThresholds(table, frame, options)


def _recorded(group, column: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(column, value, step) at the steps where ``column`` was computed (a tracker with its own
    ``record_every`` leaves NaN at the recording steps it skips)."""
    kept = computed(group, column)
    return kept[column].to_numpy(float), kept["value"].to_numpy(float), kept["step"].to_numpy()


def _first_at_or_above(curve: np.ndarray, threshold: float) -> int:
    hit = np.flatnonzero(curve >= threshold)
    return int(hit[0]) if hit.size else -1


def pc_capture(
    reference,
    measures=PAPER_MEASURES,
    *,
    n_pcs: int = 20,
    matched_gaussian: bool = True,
    n_runs: int = 1,
    seed: int = 0,
    lr: float = _SEED_DEFAULTS["lr"],
    max_steps: int = _SEED_DEFAULTS["max_steps"],
    stop_at: float | None = 0.99,
    record_every: int = 1,
    ridge: float = 0.0,
    cv: int | None = None,
    rule: str = "half",
    min_gain: float | None = None,
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

    The optimizer's defaults are the seed paper's (its code's ``fit_measure``: Adam, lr 0.1, at most
    1000 steps, from standard Gaussian noise, float32), shared with :func:`repalign.optimize`; the seed
    code records every step, as ``record_every=1`` does here, so that the crossing is read between
    consecutive steps.

    Args:
        reference: ``(time, condition, unit)`` or ``(sample, unit)`` activity or a Dataset.
        measures: registry names or Measures (maximized scores), run in one batched loop.
        n_pcs: number of leading PCs tracked.
        matched_gaussian: also run against the matched Gaussian.
        n_runs, seed, lr, max_steps, stop_at, record_every, dtype, progress: as in :func:`repalign.optimize`.
        ridge, cv: as in :class:`~repalign.trackers.PCCapture` (in-sample least squares by default, as the paper).
        rule, min_gain: as in :func:`capture_thresholds` (the seed paper's rule by default).

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
        captured = capture_thresholds(result, tracker, rule=rule, min_gain=min_gain)
        for frame, into in ((captured.table, tables), (captured.trajectory, trajectories)):
            frame = frame.copy()
            frame.insert(0, "reference", name)
            into.append(frame)
    options = {"measures": [measures] if isinstance(measures, str) else list(measures), "n_pcs": n_pcs,
               "matched_gaussian": matched_gaussian, "n_runs": n_runs, "seed": seed, "lr": lr, "max_steps": max_steps,
               "stop_at": stop_at, "record_every": record_every, "ridge": ridge, "cv": cv, "rule": rule,
               "min_gain": min_gain,
               "dtype": str(dtype)}
    return CaptureThresholds(pd.concat(tables, ignore_index=True), pd.concat(trajectories, ignore_index=True),
                             options)


def _plot_pc_capture(table, ax=None, *, rule: str | None = None):
    """Fig. 5b–e from a capture table (a :class:`CaptureThresholds` draws it with ``plot()``)."""
    check_table(table, ("measure", "explained_variance", "value"), "pc_capture")
    plt = import_pyplot()

    if ax is None:
        _, ax = plt.subplots(figsize=(4.8, 3.8))
    palette = colours()
    groups = table.groupby("reference", sort=False) if "reference" in table.columns else [("data", table)]
    measures = list(dict.fromkeys(table["measure"]))
    top = ax.get_xaxis_transform()  # x in data, y in axes coordinates: y = 1 is the top edge
    missed_any = {}
    for reference, rows in groups:
        gaussian = reference != "data"
        for i, name in enumerate(measures):
            mine = rows[rows["measure"] == name]
            chosen, missed = mine[mine["value"].notna()], mine[mine["value"].isna()]
            colour = palette[i % len(palette)]
            if not chosen.empty:
                mean = chosen.groupby("explained_variance")["value"].mean().sort_index()
                if gaussian:
                    ax.plot(mean.index, mean.values, "--", lw=1, color=colour)
                else:
                    ax.plot(chosen["explained_variance"], chosen["value"], "o", ms=3, alpha=0.6, color=colour)
                    ax.plot(mean.index, mean.values, "-", lw=1.2, color=colour, label=short_name(name))
            elif not gaussian:
                ax.plot([], [], "-", lw=1.2, color=colour, label=short_name(name))
            if not missed.empty:
                x = np.unique(missed["explained_variance"].to_numpy(float))
                ax.plot(x, np.ones_like(x), "v", ms=5, ls="none", color=colour, mfc="none" if gaussian else colour,
                        transform=top, clip_on=False)
                missed_any[gaussian] = True
    if "reference" in table.columns and (table["reference"] != "data").any():
        ax.plot([], [], "--", color="0.3", lw=1, label="matched Gaussian")
    for gaussian in missed_any:
        ax.plot([], [], "v", ms=5, color="0.3", mfc="none" if gaussian else "0.3", ls="none",
                label="never captured" + (" (matched Gaussian)" if gaussian else ""))
    log_variance_axis(ax)
    ax.set_ylabel("value at which the PC is captured")
    crossing = {"half": "R² halfway from its start to 1", "run-max": "R² halfway from its start to its run maximum"}
    ax.set_title("when is each PC captured?" + (f"\n({crossing[rule]})" if rule in crossing else ""), fontsize="small",
                 pad=8)
    legend(ax, frameon=False, fontsize="x-small", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return ax


def _plot_capture_curves(result, *, n_pcs: int | None = None, measure: str | None = None, run: int | None = None,
                         ax=None, thresholds=None, colorbar: bool = True):
    frame = trajectory_frame(result)
    columns = pc_columns(frame)
    if n_pcs is not None:
        columns = columns[:check_count(n_pcs, "n_pcs", 1)]
    plt = import_pyplot()
    from matplotlib.cm import ScalarMappable  # noqa: PLC0415
    from matplotlib.colors import BoundaryNorm  # noqa: PLC0415

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
        _, ax = plt.subplots(figsize=(5.2, 3.6))
    n = len(columns)
    colormap = plt.get_cmap("viridis", n)
    norm = BoundaryNorm(np.arange(0.5, n + 1.5), colormap.N)
    crossings = None
    if thresholds is not None and {"run", "pc", "value", "threshold"} <= set(thresholds.columns):
        chosen = thresholds["run"] == run
        if "measure" in thresholds.columns and "measure" in rows.columns:
            chosen &= thresholds["measure"] == rows["measure"].iloc[0]
        crossings = thresholds[chosen].drop_duplicates("pc").set_index("pc")
    for i, column in reversed(list(enumerate(columns))):  # PC 1 drawn last, on top
        colour = colormap(norm(i + 1))
        kept = computed(rows, column)
        ax.plot(kept["value"], kept[column], lw=1, color=colour)
        if crossings is not None and i + 1 in crossings.index and not math.isnan(crossings.at[i + 1, "value"]):
            ax.plot(crossings.at[i + 1, "value"], crossings.at[i + 1, "threshold"], "o", ms=3.5, color=colour,
                    mec="black", mew=0.4)
    if crossings is not None:
        ax.plot([], [], "o", ms=3.5, color="0.8", mec="black", mew=0.4, label="captured (crossing point)")
    if colorbar:
        bar = ax.figure.colorbar(ScalarMappable(norm=norm, cmap=colormap), ax=ax, pad=0.02)
        bar.set_label("PC rank")
        bar.set_ticks(_rank_ticks(n))
    name = short_name(str(rows["measure"].iloc[0])) if "measure" in rows.columns else "measure"
    kind = str(rows["kind"].iloc[0]) if "kind" in rows.columns else "score"
    ax.set_xlabel(f"{name} {kind}")
    ax.set_ylabel("R² of the reference PC")
    seed = f", seed {int(rows['seed'].iloc[0])}" if "seed" in rows.columns else ""
    ax.set_title(f"{name}{seed}", fontsize="small")
    legend(ax, frameon=False, fontsize="x-small")
    return ax


def _rank_ticks(n: int) -> list[int]:
    """Integer ticks from 1 to n, n included: every rank up to 12 ranks, else about 10."""
    step = 1 if n <= 12 else math.ceil(n / 10)
    ticks = list(range(1, n + 1, step))
    if ticks[-1] != n:
        if n - ticks[-1] < step / 2 and len(ticks) > 1:
            ticks[-1] = n
        else:
            ticks.append(n)
    return ticks

r"""What optimized data learns as its score rises: the seed paper's Figures 3, 4 and 5.

The seed paper (Cloos et al., sections 4.1–4.2, appendix B.2) optimizes Gaussian noise ``Y``
towards a reference ``X`` (:func:`repalign.optimize`) and, along the way, tracks how well ``Y``
captures each principal component of ``X`` (:class:`~repalign.trackers.PCCapture`) and how well
task variables can be decoded from it (:class:`~repalign.trackers.Decoding`). This module turns
those trajectories into the paper's summaries:

- :func:`capture_thresholds` — the score at which each PC is captured (Fig. 5a,b): for PC i with
  recorded values :math:`R^2_i(t)`, the threshold is the centre point
  :math:`\theta_i = \tfrac12\bigl(R^2_i(0) + \max_t R^2_i(t)\bigr)` and the score to reach it is
  the score at the first crossing (linearly interpolated between the two recorded steps that
  bracket it). :func:`pc_capture` runs the whole experiment, on the data and on its matched
  Gaussian (:func:`~repalign.datasets.gaussian_like`, Fig. 5e), and :func:`plot_pc_capture`
  draws the score against the PC's explained variance.
- :func:`decoding_thresholds` — decoding accuracy against score (Fig. 3a,b): for each variable
  the score at which the accuracy first reaches
  :math:`\text{chance} + f\,(\text{reference} - \text{chance})` (``f = 0.9``);
  :func:`plot_decoding` draws the curves.
- :func:`topk_decoding` — decoding from the reference projected on its top k PCs (Fig. 3c,d).
- :func:`variance_sweep` — the two-PC reference of Fig. 4a with a shrinking second PC (Fig. 4d,e):
  when is PC 2 captured, per measure and variance ratio.

Every function returns a tidy pandas table; every ``plot_*`` function draws from that table and
returns the matplotlib axes; :func:`save` writes any of them as PNG, PDF and CSV.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import torch

from ._checks import check_count, check_real
from ._figures import save_figure

__all__ = [
    "capture_thresholds",
    "pc_capture",
    "plot_pc_capture",
    "plot_capture_curves",
    "decoding_thresholds",
    "plot_decoding",
    "topk_decoding",
    "plot_topk_decoding",
    "variance_sweep",
    "sweep_thresholds",
    "plot_variance_sweep",
    "save",
]

_PAPER_MEASURES = ("angular-procrustes", "cka", "angular-cka", "ridge-cv")


def label(name: str) -> str:
    """The short alias of a canonical measure name when there is one (``"cka"`` for ``cka-kernel=…``)."""
    from .registry import aliases  # noqa: PLC0415

    short = {canonical: alias for alias, canonical in aliases().items()}
    return short.get(name, name)


# -- first crossings ---------------------------------------------------------------------------------------------


def _first_crossing(score: np.ndarray, value: np.ndarray, threshold: float) -> tuple[int, float]:
    """Index of the first ``value >= threshold`` and the score there, interpolated linearly in ``value``.

    ``value[j-1] < threshold <= value[j]``: the score is
    ``score[j-1] + (threshold - value[j-1]) / (value[j] - value[j-1]) * (score[j] - score[j-1])``.
    Returns ``(-1, nan)`` when the threshold is never reached.
    """
    hit = np.flatnonzero(value >= threshold)
    if hit.size == 0:
        return -1, math.nan
    j = int(hit[0])
    if j == 0:
        return 0, float(score[0])
    fraction = (threshold - value[j - 1]) / (value[j] - value[j - 1])
    return j, float(score[j - 1] + fraction * (score[j] - score[j - 1]))


def _trajectory_frame(result):
    """The trajectory table of an :class:`~repalign.optimize.OptimizationResult` or a DataFrame."""
    frame = getattr(result, "trajectory", result)
    if not hasattr(frame, "columns") or not {"run", "step", "score"} <= set(frame.columns):
        raise ValueError("result: expected an OptimizationResult or its trajectory table "
                         "(columns run, step, score, ...)")
    if len(frame) == 0:
        raise ValueError("result: the trajectory is empty")
    return frame


def _pc_columns(frame) -> list[str]:
    columns = [c for c in frame.columns if c.startswith("pc") and c.endswith("_r2")]
    columns.sort(key=lambda c: int(c[2:-3]))
    if not columns:
        raise ValueError("result: no PC-capture columns (pc1_r2, ...): optimize with a PCCapture tracker")
    return columns


def _explained_variance(explained_variance, n: int) -> np.ndarray:
    values = getattr(explained_variance, "explained_variance_ratio", explained_variance)
    values = np.asarray(values, dtype=float).reshape(-1)
    if values.size < n or not np.all(np.isfinite(values)) or np.any(values < 0):
        raise ValueError(f"explained_variance: expected at least {n} finite non-negative values (one per tracked "
                         f"PC) or a PCCapture tracker, got {values.size} value(s)")
    return values[:n]


def capture_thresholds(result, explained_variance, *, min_gain: float = 0.05, by: Sequence[str] = ()):
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
        result: an :class:`~repalign.optimize.OptimizationResult` (or its trajectory table)
            recorded with a :class:`~repalign.trackers.PCCapture` tracker.
        explained_variance: the PCCapture tracker, or the explained-variance ratio of each
            tracked PC (at least as many values as ``pc*_r2`` columns).
        min_gain: smallest rise of R² that counts as capture, in ``[0, 1)``.
        by: further columns of the table that separate runs (e.g. ``("ratio",)``).

    Returns:
        A tidy table, one row per (run, PC): the ``by`` columns, ``measure``, ``run``, ``seed``,
        ``pc`` (1-based), ``explained_variance``, ``r2_initial``, ``r2_max``, ``threshold``,
        ``step`` (first recorded step at or above the threshold, −1 if none) and ``score``.

    Example:
        >>> import numpy as np, repalign
        >>> from repalign.trackers import PCCapture
        >>> X = np.random.default_rng(0).normal(size=(60, 5)) * [4.0, 2.0, 1.0, 0.5, 0.25]
        >>> tracker = PCCapture(X, n_pcs=3)
        >>> result = repalign.optimize(X, "cka", max_steps=60, lr=0.05, record_every=1, trackers=[tracker],
        ...                            units=2, seed=0)
        >>> table = capture_thresholds(result, tracker)
        >>> table[["pc", "explained_variance"]].round(3).values.tolist()[:1]
        [[1.0, 0.704]]
        >>> bool(table.score.iloc[0] < result.final_score[0])
        True
    """
    import pandas as pd  # noqa: PLC0415

    frame = _trajectory_frame(result)
    columns = _pc_columns(frame)
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
        score = group["score"].to_numpy(float)
        first = group.iloc[0]
        for i, column in enumerate(columns):
            r2 = group[column].to_numpy(float)
            initial, best = float(r2[0]), float(np.max(r2))
            threshold = 0.5 * (initial + best)
            if best - initial < min_gain:
                step, value = -1, math.nan
            else:
                j, value = _first_crossing(score, r2, threshold)
                step = int(group["step"].iloc[j]) if j >= 0 else -1
            rows.append((*key[:-1], first.get("measure", ""), key[-1], first.get("seed", -1), i + 1,
                         float(variance[i]), initial, best, threshold, step, value))
    return pd.DataFrame(rows, columns=by + ["measure", "run", "seed", "pc", "explained_variance", "r2_initial",
                                            "r2_max", "threshold", "step", "score"])


def pc_capture(
    reference,
    measures=_PAPER_MEASURES,
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
):
    r"""Run Fig. 5b–e: optimize noise towards the reference (and its matched Gaussian) and find each PC's threshold.

    For every measure, ``n_runs`` runs of :func:`repalign.optimize` (Adam, ``lr``, from standard
    Gaussian noise, until the score reaches ``stop_at``) with a
    :class:`~repalign.trackers.PCCapture` tracker recorded every ``record_every`` steps, then
    :func:`capture_thresholds`. With ``matched_gaussian`` the same is done against
    :func:`~repalign.datasets.gaussian_like` (the reference's PC variances in random directions,
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
        The :func:`capture_thresholds` table with a first column ``reference`` (``"data"`` or
        ``"matched Gaussian"``) and ``measure`` holding the canonical names.
    """
    import pandas as pd  # noqa: PLC0415

    from .datasets import Dataset, gaussian_like  # noqa: PLC0415
    from .optimize import optimize  # noqa: PLC0415
    from .trackers import PCCapture  # noqa: PLC0415

    if not isinstance(matched_gaussian, bool):
        raise ValueError(f"matched_gaussian: expected True or False, got {matched_gaussian!r}")
    activity = reference.activity if isinstance(reference, Dataset) else reference
    targets = {"data": activity}
    if matched_gaussian:
        targets["matched Gaussian"] = gaussian_like(reference, seed=seed).activity
    tables = []
    for name, target in targets.items():
        tracker = PCCapture(target, n_pcs=n_pcs, ridge=ridge, cv=cv, seed=seed)
        result = optimize(target, list(measures) if not isinstance(measures, str) else measures,
                          max_steps=max_steps, lr=lr, stop_at=stop_at, seed=seed, n_runs=n_runs,
                          record_every=record_every, trackers=[tracker], dtype=dtype, progress=progress)
        table = capture_thresholds(result, tracker, min_gain=min_gain)
        table.insert(0, "reference", name)
        tables.append(table)
    return pd.concat(tables, ignore_index=True)


def _colours():
    import matplotlib.pyplot as plt  # noqa: PLC0415

    return plt.rcParams["axes.prop_cycle"].by_key().get("color", ["C0"])


def _check_columns(table, needed: Sequence[str], producer: str) -> None:
    missing = [c for c in needed if c not in getattr(table, "columns", ())]
    if missing:
        raise ValueError(f"table: expected a {producer} table, missing column(s) {missing}")
    if len(table) == 0:
        raise ValueError("table: empty table, nothing to plot")


def _log_variance_axis(ax) -> None:
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter  # noqa: PLC0415

    ax.set_xscale("log")
    ax.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))  # 0.01, 0.02, 0.05, 0.1 ...
    ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("variance explained by the PC")


def plot_pc_capture(table, ax=None):
    """Fig. 5b–e: score to reach each PC's threshold against the PC's explained variance.

    One colour per measure: the data as dots joined by a solid line (mean over runs), the matched
    Gaussian (when in the table) as a dashed line. PCs never captured (NaN) are left out.

    Args:
        table: a :func:`pc_capture` or :func:`capture_thresholds` table.
        ax: matplotlib axes (a new figure when None).
    """
    _check_columns(table, ("measure", "explained_variance", "score"), "pc_capture")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    if ax is None:
        _, ax = plt.subplots(figsize=(4.8, 3.8))
    colours = _colours()
    groups = table.groupby("reference", sort=False) if "reference" in table.columns else [("data", table)]
    measures = list(dict.fromkeys(table["measure"]))
    for reference, rows in groups:
        gaussian = reference != "data"
        for i, name in enumerate(measures):
            chosen = rows[(rows["measure"] == name) & rows["score"].notna()]
            if chosen.empty:
                continue
            mean = chosen.groupby("explained_variance")["score"].mean().sort_index()
            colour = colours[i % len(colours)]
            if gaussian:
                ax.plot(mean.index, mean.values, "--", lw=1, color=colour)
            else:
                ax.plot(chosen["explained_variance"], chosen["score"], "o", ms=3, alpha=0.6, color=colour)
                ax.plot(mean.index, mean.values, "-", lw=1.2, color=colour, label=label(name))
    if "reference" in table.columns and (table["reference"] != "data").any():
        ax.plot([], [], "--", color="0.3", lw=1, label="matched Gaussian")
    _log_variance_axis(ax)
    ax.set_ylabel("score to reach the PC threshold")
    ax.set_title("when is each PC captured?", fontsize="small")
    ax.legend(frameon=False, fontsize="x-small")
    return ax


def plot_capture_curves(result, *, n_pcs: int | None = None, measure: str | None = None, run: int | None = None,
                        ax=None):
    """Fig. 5a: R² of each reference PC against the score, for one run (the first by default).

    Args:
        result: an OptimizationResult (or trajectory table) recorded with PCCapture.
        n_pcs: number of PCs drawn (default: all tracked), coloured from dark (PC 1) to light.
        measure: which measure's run (canonical name or alias; default: the first in the table).
        run: which run (default: the first of that measure).
        ax: matplotlib axes (a new figure when None).
    """
    frame = _trajectory_frame(result)
    columns = _pc_columns(frame)
    if n_pcs is not None:
        columns = columns[:check_count(n_pcs, "n_pcs", 1)]
    import matplotlib.pyplot as plt  # noqa: PLC0415

    if measure is not None and "measure" in frame.columns:
        wanted = measure
        frame = frame[(frame["measure"] == wanted) | (frame["measure"].map(label) == wanted)]
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
        ax.plot(rows["score"], rows[column], lw=1, color=colormap(i / max(len(columns) - 1, 1)),
                label=f"PC {i + 1}" if i < 3 or i == len(columns) - 1 else None)
    name = label(str(rows["measure"].iloc[0])) if "measure" in rows.columns else "measure"
    ax.set_xlabel(f"{name} score")
    ax.set_ylabel("R² of the reference PC")
    ax.set_title(f"{name}, run {run}", fontsize="small")
    ax.legend(frameon=False, fontsize="x-small")
    return ax


# -- decoding against score --------------------------------------------------------------------------------------


def _per_column(values, columns: list[str], name: str) -> dict[str, float]:
    if isinstance(values, Mapping):
        missing = [c for c in columns if c not in values]
        if missing:
            raise ValueError(f"{name}: no value for {missing}")
        return {c: check_real(values[c], f"{name}[{c!r}]") for c in columns}
    value = check_real(values, name)
    return dict.fromkeys(columns, value)


def decoding_thresholds(result, reference_accuracy, chance, *, fraction: float = 0.9):
    r"""Score at which optimized data decodes each task variable as well as a fraction of the reference.

    For each run and decoded variable, with recorded accuracy :math:`a(t)`, reference accuracy
    :math:`a_X` and chance level :math:`c`, the target is :math:`c + f\,(a_X - c)` and the score
    is taken at the first recorded step with :math:`a(t) \ge` target, linearly interpolated in
    accuracy between the two recorded steps that bracket the crossing (Fig. 3a,b; ``f = 0.9``).

    Args:
        result: an OptimizationResult (or trajectory table) recorded with a
            :class:`~repalign.trackers.Decoding` tracker (columns ``decode_<variable>``).
        reference_accuracy: ``{decode_<variable>: accuracy}``
            (:meth:`Decoding.reference_accuracy <repalign.trackers.Decoding.reference_accuracy>`).
        chance: ``{decode_<variable>: chance}`` (:meth:`Decoding.chance_accuracy
            <repalign.trackers.Decoding.chance_accuracy>`) or one number for all.
        fraction: f in ``(0, 1]``.

    Returns:
        A tidy table, one row per (run, variable): ``measure``, ``run``, ``seed``, ``variable``,
        ``reference_accuracy``, ``chance``, ``target``, ``step`` (−1 if never reached), ``score``
        (NaN if never reached), ``final_score``, ``final_accuracy``.
    """
    import pandas as pd  # noqa: PLC0415

    frame = _trajectory_frame(result)
    columns = [c for c in frame.columns if c.startswith("decode_")]
    if not columns:
        raise ValueError("result: no decoding columns (decode_<variable>): optimize with a Decoding tracker")
    fraction = check_real(fraction, "fraction", low=0.0, high=1.0, inclusive=(False, True))
    reference = _per_column(reference_accuracy, columns, "reference_accuracy")
    chances = _per_column(chance, columns, "chance")
    rows = []
    for run, group in frame.sort_values("step", kind="stable").groupby("run", sort=True):
        score = group["score"].to_numpy(float)
        first = group.iloc[0]
        for column in columns:
            accuracy = group[column].to_numpy(float)
            target = chances[column] + fraction * (reference[column] - chances[column])
            j, value = _first_crossing(score, accuracy, target)
            rows.append((first.get("measure", ""), run, first.get("seed", -1), column.removeprefix("decode_"),
                         reference[column], chances[column], target, int(group["step"].iloc[j]) if j >= 0 else -1,
                         value, float(score[-1]), float(accuracy[-1])))
    return pd.DataFrame(rows, columns=["measure", "run", "seed", "variable", "reference_accuracy", "chance",
                                       "target", "step", "score", "final_score", "final_accuracy"])


def plot_decoding(result, thresholds=None, *, baselines: Mapping[str, float] | None = None, axes=None):
    """Fig. 3a,b: decoding accuracy of each task variable against the score, one panel per measure.

    Each variable's accuracy (first run of the measure) is a solid line, its reference accuracy a
    dashed horizontal line of the same colour and, with ``thresholds`` (a
    :func:`decoding_thresholds` table), the score at which it reaches its target a dotted
    vertical line. ``baselines`` (``{measure: score}``, e.g. the condition-average baseline of
    :mod:`repalign.baselines`) are drawn as grey dash-dotted vertical lines, as in the paper.

    Args:
        result: an OptimizationResult (or trajectory table) recorded with Decoding.
        thresholds: optional :func:`decoding_thresholds` table of the same result.
        baselines: optional scores per measure (canonical name or alias).
        axes: a sequence of axes, one per measure (a new figure when None).
    """
    frame = _trajectory_frame(result)
    columns = [c for c in frame.columns if c.startswith("decode_")]
    if not columns:
        raise ValueError("result: no decoding columns (decode_<variable>): optimize with a Decoding tracker")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    measures = list(dict.fromkeys(frame["measure"])) if "measure" in frame.columns else [""]
    if axes is None:
        _, axes = plt.subplots(1, len(measures), figsize=(3.4 * len(measures), 3.2), squeeze=False, sharey=True)
        axes = axes[0]
    if len(axes) != len(measures):
        raise ValueError(f"axes: expected {len(measures)} axes (one per measure), got {len(axes)}")
    colours = _colours()
    for ax, name in zip(axes, measures):
        rows = frame[frame["measure"] == name] if name else frame
        rows = rows[rows["run"] == rows["run"].iloc[0]].sort_values("step")
        for i, column in enumerate(columns):
            colour = colours[i % len(colours)]
            variable = column.removeprefix("decode_")
            ax.plot(rows["score"], rows[column], "-", lw=1.2, color=colour, label=variable)
            if thresholds is not None:
                chosen = thresholds[(thresholds["measure"] == name) & (thresholds["variable"] == variable)]
                if not chosen.empty:
                    ax.axhline(chosen["reference_accuracy"].iloc[0], ls="--", lw=0.8, color=colour)
                    reached = chosen["score"].dropna()
                    if not reached.empty:
                        ax.axvline(reached.mean(), ls=":", lw=1, color=colour)
        if baselines:
            for key in (name, label(name)):
                if key in baselines:
                    ax.axvline(baselines[key], ls="-.", lw=1, color="0.5", label="condition average")
                    break
        ax.set_xlabel(f"{label(name)} score" if name else "score")
        ax.set_title(label(name) if name else "", fontsize="small")
    axes[0].set_ylabel("decoding accuracy")
    axes[0].legend(frameon=False, fontsize="x-small")
    return axes[0]


def topk_decoding(reference, decoding, ks=None):
    r"""Fig. 3c,d: decoding accuracy from the reference projected on its top k principal components.

    With the reference flattened to ``(time·condition, unit)``, centred, and its PCs
    :math:`v_1, v_2, …` (SVD), the features for a given k are the scores
    :math:`\bar X [v_1 … v_k]` reshaped to ``(time, condition, k)``; the ``decoding`` tracker
    (cross-validated logistic regression per time bin) is applied to them.

    Args:
        reference: ``(time, condition, unit)`` activity or a Dataset.
        decoding: a :class:`~repalign.trackers.Decoding` tracker (its variables, folds and seed).
        ks: numbers of PCs (each between 1 and the rank); default 1, 2, 3, 5, 10, 20, 50, 100, …
            up to the rank, and the rank itself.

    Returns:
        A tidy table, one row per (k, variable): ``k``, ``cumulative_variance`` (explained by the
        top k PCs), ``variable``, ``accuracy``, ``reference_accuracy`` (all units), ``chance``.
    """
    import pandas as pd  # noqa: PLC0415

    from .datasets import Dataset  # noqa: PLC0415
    from .inputs import as_data  # noqa: PLC0415

    activity = reference.activity if isinstance(reference, Dataset) else reference
    data, _ = as_data(activity, "reference")
    if data.n_conditions is None:
        raise ValueError("reference: top-k decoding needs (time, condition, unit) activity")
    values = data.values.detach().to(torch.float64).cpu().numpy().reshape(data.n_time, data.n_conditions, -1)
    flat = values.reshape(-1, values.shape[-1])
    flat = flat - flat.mean(axis=0)
    _, s, vt = np.linalg.svd(flat, full_matrices=False)
    rank = int(np.sum(s > s[0] * max(flat.shape) * np.finfo(float).eps))
    if ks is None:
        ks = sorted({k for k in (1, 2, 3, 5, 10, 20, 50, 100, 200, 500, 1000) if k <= rank} | {rank})
    ks = [check_count(k, "ks", 1) for k in ks]
    too_large = [k for k in ks if k > rank]
    if too_large:
        raise ValueError(f"ks: {too_large} exceed the reference's rank ({rank})")
    variance = np.cumsum(s**2) / np.sum(s**2)
    reference_accuracy = decoding.reference_accuracy(values)
    chance = decoding.chance_accuracy()
    rows = []
    for k in ks:
        scores = (flat @ vt[:k].T).reshape(*values.shape[:-1], k)
        accuracy = decoding.reference_accuracy(scores)
        for column, value in accuracy.items():
            rows.append((k, float(variance[k - 1]), column.removeprefix("decode_"), value,
                         reference_accuracy[column], chance[column]))
    return pd.DataFrame(rows, columns=["k", "cumulative_variance", "variable", "accuracy", "reference_accuracy",
                                       "chance"])


def plot_topk_decoding(table, ax=None):
    """Fig. 3c,d: accuracy against the number of top PCs kept, one line per variable (log k axis).

    The reference's own accuracy (all units) is a dashed line, chance a dotted one.
    """
    _check_columns(table, ("k", "variable", "accuracy", "reference_accuracy", "chance"), "topk_decoding")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    if ax is None:
        _, ax = plt.subplots(figsize=(4.5, 3.4))
    colours = _colours()
    for i, (variable, rows) in enumerate(table.groupby("variable", sort=False)):
        colour = colours[i % len(colours)]
        rows = rows.sort_values("k")
        ax.plot(rows["k"], rows["accuracy"], "o-", ms=3, lw=1.2, color=colour, label=variable)
        ax.axhline(rows["reference_accuracy"].iloc[0], ls="--", lw=0.8, color=colour)
    ax.axhline(table["chance"].min(), ls=":", lw=0.8, color="0.5", label="chance")
    ax.set_xscale("log")
    ax.set_xlabel("number of top PCs kept (k)")
    ax.set_ylabel("decoding accuracy")
    ax.set_title("decoding from the top-k PCs of the reference", fontsize="small")
    ax.legend(frameon=False, fontsize="x-small")
    return ax


# -- variance asymmetry on the two-PC reference ----------------------------------------------------------------


def variance_sweep(
    ratios=(1.0, 0.3, 0.1, 0.03),
    measures=("angular-procrustes", "cka", "linreg"),
    *,
    n_runs: int = 1,
    seed: int = 0,
    lr: float = 0.01,
    max_steps: int = 2000,
    stop_at: float | None = 0.995,
    record_every: int = 1,
    dtype=torch.float64,
    progress: bool | None = None,
):
    r"""Fig. 4d,e: optimize noise towards the two-PC reference for several variance ratios.

    For each ratio :math:`\rho = \lambda_2/\lambda_1` (``ratios``), the reference is
    :func:`~repalign.datasets.two_pc(ρ) <repalign.datasets.two_pc>` (10 time points × 6 conditions
    × 2 units, the paper's Fig. 4a with PC 2 rescaled); every measure is optimized from
    Gaussian noise of the same shape (all measures and runs in one batched loop), tracking the R²
    of both PCs (:class:`~repalign.trackers.PCCapture`, in-sample).

    Returns:
        The trajectories as one tidy table: ``ratio``, ``measure``, ``run``, ``seed``, ``step``,
        ``score``, ``pc1_r2``, ``pc2_r2``. :func:`sweep_thresholds` summarizes it and
        :func:`plot_variance_sweep` draws it.
    """
    import pandas as pd  # noqa: PLC0415

    from .datasets import two_pc  # noqa: PLC0415
    from .optimize import optimize  # noqa: PLC0415
    from .trackers import PCCapture  # noqa: PLC0415

    if isinstance(ratios, (int, float)):
        ratios = (ratios,)
    ratios = [check_real(r, "ratios", low=0.0, high=1.0, inclusive=(False, True)) for r in ratios]
    if not ratios:
        raise ValueError("ratios: expected at least one variance ratio")
    tables = []
    for ratio in ratios:
        reference = two_pc(ratio).activity
        tracker = PCCapture(reference, n_pcs=2)
        result = optimize(reference, list(measures) if not isinstance(measures, str) else measures,
                          max_steps=max_steps, lr=lr, stop_at=stop_at, seed=seed, n_runs=n_runs,
                          record_every=record_every, trackers=[tracker], dtype=dtype, progress=progress)
        table = result.to_frame()
        table.insert(0, "ratio", ratio)
        tables.append(table)
    return pd.concat(tables, ignore_index=True)


def sweep_thresholds(table, *, min_gain: float = 0.05):
    """Score at which each PC of the two-PC reference is captured, per ratio, measure and run.

    :func:`capture_thresholds` applied to a :func:`variance_sweep` table (the explained variance of
    PC i being ``1/(1+ρ)`` and ``ρ/(1+ρ)``). Returns its table with the ``ratio`` column first.
    """
    import pandas as pd  # noqa: PLC0415

    _check_columns(table, ("ratio", "run", "step", "score", "pc1_r2", "pc2_r2"), "variance_sweep")
    tables = []
    for ratio, rows in table.groupby("ratio", sort=False):
        variance = np.array([1.0, ratio]) / (1.0 + ratio)
        tables.append(capture_thresholds(rows, variance, min_gain=min_gain, by=("ratio",)))
    return pd.concat(tables, ignore_index=True)


def plot_variance_sweep(table, axes=None):
    """Fig. 4e: R² of PC 2 against the score, one panel per measure, one curve per variance ratio.

    Curves are coloured by the ratio λ₂/λ₁ (light: 1, equal variances; dark: most asymmetric);
    the first run of each (ratio, measure) is drawn.
    """
    _check_columns(table, ("ratio", "measure", "run", "step", "score", "pc2_r2"), "variance_sweep")
    import matplotlib.pyplot as plt  # noqa: PLC0415
    from matplotlib.colors import LogNorm  # noqa: PLC0415

    measures = list(dict.fromkeys(table["measure"]))
    if axes is None:
        _, axes = plt.subplots(1, len(measures), figsize=(3.2 * len(measures), 3.0), squeeze=False, sharey=True)
        axes = axes[0]
    if len(axes) != len(measures):
        raise ValueError(f"axes: expected {len(measures)} axes (one per measure), got {len(axes)}")
    ratios = sorted(set(table["ratio"]))
    norm = LogNorm(vmin=min(ratios), vmax=max(max(ratios), min(ratios) * 1.0001))
    colormap = plt.get_cmap("magma")
    for ax, name in zip(axes, measures):
        for ratio in ratios:
            rows = table[(table["measure"] == name) & (table["ratio"] == ratio)]
            if rows.empty:
                continue
            rows = rows[rows["run"] == rows["run"].iloc[0]].sort_values("step")
            ax.plot(rows["score"], rows["pc2_r2"], lw=1.2, color=colormap(0.15 + 0.75 * norm(ratio)),
                    label=f"λ₂/λ₁ = {ratio:g}")
        ax.set_xlabel(f"{label(name)} score")
        ax.set_title(label(name), fontsize="small")
    axes[0].set_ylabel("R² of PC 2")
    axes[0].legend(frameon=False, fontsize="x-small")
    return axes[0]


def save(ax, table, path) -> list[str]:
    """Write ``ax``'s figure as ``path``.png/.pdf and ``table`` as ``path``.csv (``path`` without suffix)."""
    return save_figure(ax, table, path)

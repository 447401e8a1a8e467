r"""Which task variables can be decoded, and at which score? The seed paper's Figure 3.

:func:`decoding_thresholds` reads, from an optimization recorded with a
:class:`~repalign.trackers.Decoding` tracker, the score at which each variable becomes decodable
(Fig. 3a,b); :func:`topk_decoding` decodes from the reference's top k principal components
(Fig. 3c,d).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import torch

from .._checks import SettingsError, check_count, check_real
from .._linalg import principal_components
from .._optional import import_pandas, import_pyplot
from ..inputs import as_data
from ..registry import short_name
from ..results import Result, check_table, colours, legend
from ._common import computed, decoding_columns, first_crossing, trajectory_frame

__all__ = ["decoding_thresholds", "DecodingThresholds", "topk_decoding", "TopKDecoding"]


@dataclass(frozen=True, eq=False)
class DecodingThresholds(Result):
    """Score at which each task variable becomes decodable, per run (:func:`decoding_thresholds`).

    Attributes:
        table: one row per (run, variable) — see :func:`decoding_thresholds`.
        trajectory: the recorded trajectory the thresholds were read from.
        options: the settings that produced it.
    """

    record_kind = "decoding_thresholds"

    table: object
    trajectory: object = field(default=None, repr=False)
    options: dict = field(default_factory=dict)

    def plot(self, ax=None, *, baselines: Mapping[str, float] | None = None):
        """Fig. 3a,b: decoding accuracy of each task variable against the score, one panel per measure.

        Each variable's accuracy (first run of the measure) is a solid line, its reference accuracy
        a dashed horizontal line of the same colour and the score at which it reaches its target a
        dotted vertical line. ``baselines`` (``{measure: score}``, e.g. the condition-average
        baseline of :mod:`repalign.baselines`) are drawn as grey dash-dotted vertical lines, as in
        the paper. ``ax``: an axes for one measure, or a sequence of axes, one per measure (a new
        figure when None); returns the first.
        """
        axes = None if ax is None else (list(ax) if isinstance(ax, (list, tuple, np.ndarray)) else [ax])
        return _plot_decoding(self.trajectory, self.table, baselines=baselines, axes=axes)

    def save(self, path, *, baselines: Mapping[str, float] | None = None) -> list[str]:
        """Write :meth:`plot` as ``path``.png/.pdf and the table as ``path``.csv; returns the paths."""
        return super().save(path, baselines=baselines)

    def _record_settings(self) -> dict:
        return self.options

    def _record_tables(self) -> dict:
        return {"table": self.table, "trajectory": self.trajectory}


@dataclass(frozen=True, eq=False)
class TopKDecoding(Result):
    """Decoding accuracy from the reference's top k PCs (:func:`topk_decoding`).

    Attributes:
        table: one row per (k, variable) — see :func:`topk_decoding`.
        options: the settings that produced it.
    """

    record_kind = "topk_decoding"

    table: object
    options: dict = field(default_factory=dict)

    def plot(self, ax=None):
        """Fig. 3c,d: accuracy against the number of top PCs kept, one line per variable (log k axis).

        The reference's own accuracy (all units) is a dashed line, chance a dotted one.
        """
        return _plot_topk_decoding(self.table, ax)

    def _record_settings(self) -> dict:
        return self.options


def _per_column(values, columns: list[str], name: str) -> dict[str, float]:
    if isinstance(values, Mapping):
        missing = [c for c in columns if c not in values]
        if missing:
            raise ValueError(f"{name}: no value for {missing}")
        return {c: check_real(values[c], f"{name}[{c!r}]") for c in columns}
    value = check_real(values, name)
    return dict.fromkeys(columns, value)


def decoding_thresholds(result, reference_accuracy, chance, *, fraction: float = 0.9) -> DecodingThresholds:
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
        A :class:`DecodingThresholds`, whose ``table`` has one row per (run, variable):
        ``measure``, ``run``, ``seed``, ``variable``, ``reference_accuracy``, ``chance``,
        ``target``, ``step`` (−1 if never reached), ``value`` (the measure's value there; NaN if
        never reached), ``final_value``, ``final_accuracy``; ``plot()`` draws Fig. 3a,b.
    """
    pd = import_pandas()

    frame = trajectory_frame(result)
    columns = decoding_columns(frame)
    fraction = check_real(fraction, "fraction", low=0.0, high=1.0, inclusive=(False, True))
    reference = _per_column(reference_accuracy, columns, "reference_accuracy")
    chances = _per_column(chance, columns, "chance")
    rows = []
    for run, group in frame.sort_values("step", kind="stable").groupby("run", sort=True):
        first = group.iloc[0]
        for column in columns:
            kept = computed(group, column)
            values, accuracy = kept["value"].to_numpy(float), kept[column].to_numpy(float)
            target = chances[column] + fraction * (reference[column] - chances[column])
            j, value = first_crossing(values, accuracy, target)
            rows.append((first.get("measure", ""), run, first.get("seed", -1), column.removeprefix("decode_"),
                         reference[column], chances[column], target, int(kept["step"].iloc[j]) if j >= 0 else -1,
                         value, float(values[-1]), float(accuracy[-1])))
    table = pd.DataFrame(rows, columns=["measure", "run", "seed", "variable", "reference_accuracy", "chance",
                                        "target", "step", "value", "final_value", "final_accuracy"])
    return DecodingThresholds(table, frame, {"fraction": fraction, "reference_accuracy": reference,
                                             "chance": chances})


def _plot_decoding(result, thresholds=None, *, baselines: Mapping[str, float] | None = None, axes=None):
    frame = trajectory_frame(result)
    columns = decoding_columns(frame)
    plt = import_pyplot()

    measures = list(dict.fromkeys(frame["measure"])) if "measure" in frame.columns else [""]
    if axes is None:
        _, axes = plt.subplots(1, len(measures), figsize=(3.4 * len(measures), 3.2), squeeze=False, sharey=True)
        axes = axes[0]
    if len(axes) != len(measures):
        raise ValueError(f"axes: expected {len(measures)} axes (one per measure), got {len(axes)}")
    palette = colours()
    for ax, name in zip(axes, measures):
        rows = frame[frame["measure"] == name] if name else frame
        rows = rows[rows["run"] == rows["run"].iloc[0]].sort_values("step")
        for i, column in enumerate(columns):
            colour = palette[i % len(palette)]
            variable = column.removeprefix("decode_")
            kept = computed(rows, column)
            ax.plot(kept["value"], kept[column], "-", lw=1.2, color=colour, label=variable)
            if thresholds is not None:
                chosen = thresholds[(thresholds["measure"] == name) & (thresholds["variable"] == variable)]
                if not chosen.empty:
                    ax.axhline(chosen["reference_accuracy"].iloc[0], ls="--", lw=0.8, color=colour)
                    reached = chosen["value"].dropna()
                    if not reached.empty:
                        ax.axvline(reached.mean(), ls=":", lw=1, color=colour)
        if baselines:
            for key in (name, short_name(name)):
                if key in baselines:
                    ax.axvline(baselines[key], ls="-.", lw=1, color="0.5", label="condition average")
                    break
        kind = str(rows["kind"].iloc[0]) if "kind" in rows.columns and len(rows) else "score"
        ax.set_xlabel(f"{short_name(name)} {kind}" if name else kind)
        ax.set_title(short_name(name) if name else "", fontsize="small")
    axes[0].set_ylabel("decoding accuracy")
    legend(axes[0], frameon=False, fontsize="x-small")
    return axes[0]


def topk_decoding(reference, decoding, ks=None) -> TopKDecoding:
    r"""Fig. 3c,d: decoding accuracy from the reference projected on its top k principal components.

    With the reference flattened to ``(time·condition, unit)``, its unit means :math:`\mu`, centred
    :math:`\bar X` and PCs :math:`V_k = [v_1 … v_k]` (SVD), the data kept for a given k are the
    projection on the top k PCs in the units' own coordinates,

    .. math::

        X_k = \bar X V_k V_k^\top + \mathbf 1 \mu^\top,

    reshaped to ``(time, condition, unit)`` and decoded exactly as the reference is (the
    ``decoding`` tracker: per time bin, each unit standardized over the training conditions, then
    cross-validated L2 logistic regression). At k = rank, :math:`X_k = X`: the curve ends at the
    reference's own accuracy. The seed code's decoder (scikit-learn's ``LogisticRegression`` on
    the raw activity, L2 penalty) is invariant to a rotation of its features, so for it the PC
    scores :math:`\bar X V_k` and :math:`X_k` decode alike; the per-unit standardization of
    :class:`~repalign.trackers.Decoding` is not, and standardizing each PC's scores instead (as
    repalign 0.1 did) weighs a PC of 0.1 % of the variance like the first one: with every PC kept it
    decoded context at 0.74 where the units give 0.96 (``mante_like(n_units=120, n_time=3, seed=0)``;
    0.55 against 1.00 at mante_like's default size).

    Args:
        reference: ``(time, condition, unit)`` activity or a Dataset.
        decoding: a :class:`~repalign.trackers.Decoding` tracker (its variables, folds and seed).
        ks: numbers of PCs (each between 1 and the rank); default 1, 2, 3, 5, 10, 20, 50, 100, …
            up to the rank, and the rank itself.

    Returns:
        A :class:`TopKDecoding`, whose ``table`` has one row per (k, variable): ``k``,
        ``cumulative_variance`` (explained by the top k PCs), ``variable``, ``accuracy``,
        ``reference_accuracy`` (all units), ``chance``; ``plot()`` draws Fig. 3c,d.
    """
    pd = import_pandas()

    data, _ = as_data(reference, "reference")
    if data.n_conditions is None:
        raise ValueError("reference: top-k decoding needs (time, condition, unit) activity")
    values = data.values.detach().to(torch.float64).cpu().numpy().reshape(data.n_time, data.n_conditions, -1)
    pcs = principal_components(values.reshape(-1, values.shape[-1]))
    flat, s, vt, rank = values.reshape(-1, values.shape[-1]) - pcs.mean, pcs.s, pcs.vt, pcs.rank
    if ks is None:
        ks = sorted({k for k in (1, 2, 3, 5, 10, 20, 50, 100, 200, 500, 1000) if k <= rank} | {rank})
    ks = [check_count(k, "ks", 1) for k in ks]
    too_large = [k for k in ks if k > rank]
    if too_large:
        raise SettingsError("ks", f"{too_large} exceed the reference's rank ({rank})")
    variance = np.cumsum(s**2) / np.sum(s**2)
    reference_accuracy = decoding.reference_accuracy(values)
    chance = decoding.chance_accuracy()
    rows = []
    for k in ks:
        projected = ((flat @ vt[:k].T) @ vt[:k] + pcs.mean).reshape(values.shape)
        accuracy = decoding.reference_accuracy(projected)
        for column, value in accuracy.items():
            rows.append((k, float(variance[k - 1]), column.removeprefix("decode_"), value,
                         reference_accuracy[column], chance[column]))
    table = pd.DataFrame(rows, columns=["k", "cumulative_variance", "variable", "accuracy", "reference_accuracy",
                                        "chance"])
    return TopKDecoding(table, {"ks": ks, "decoding": repr(decoding)})


def _plot_topk_decoding(table, ax=None):
    check_table(table, ("k", "variable", "accuracy", "reference_accuracy", "chance"), "topk_decoding")
    plt = import_pyplot()

    if ax is None:
        _, ax = plt.subplots(figsize=(4.5, 3.4))
    palette = colours()
    for i, (variable, rows) in enumerate(table.groupby("variable", sort=False)):
        colour = palette[i % len(palette)]
        rows = rows.sort_values("k")
        ax.plot(rows["k"], rows["accuracy"], "o-", ms=3, lw=1.2, color=colour, label=variable)
        ax.axhline(rows["reference_accuracy"].iloc[0], ls="--", lw=0.8, color=colour)
    ax.axhline(table["chance"].min(), ls=":", lw=0.8, color="0.5", label="chance")
    ax.set_xscale("log")
    ax.set_xlabel("number of top PCs kept (k)")
    ax.set_ylabel("decoding accuracy")
    ax.set_title("decoding from the top-k PCs of the reference", fontsize="small")
    legend(ax, frameon=False, fontsize="x-small")
    return ax

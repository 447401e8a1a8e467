r"""A zoo of models against one recording, with uncertainty: the seed paper's Fig. 2c,d and claim C5.

The seed paper (Cloos et al., Fig. 2c,d) scores task-trained RNNs of nine architectures against a
neural recording with several similarity measures, beside two baselines (:mod:`repalign.baselines`:
the condition average and the neuron split), and reads two disagreements between the measures (its
claim C5): they "do not agree on the relative rankings of the models", nor "on a more global scale,
how similar the models are relative to the two baseline scores". :func:`compare_models` makes both
readings with their uncertainty:

- every score with an **interval** from resampling the reference's conditions (samples for 2D data; trials
  within each condition when the reference is a :class:`~repalign.data.Trials`):
  one table of resample counts (:func:`repalign.statistics.resample_counts`, one seed) shared by all
  models and measures, so that on each resample the models can be ranked;
- every score with a **permutation null** (:func:`repalign.statistics.permutation_test`: the
  conditions of the model shuffled against those of the data) giving the chance level of the
  measure on these data and a p-value;
- the **agreement between measures**: Kendall's :math:`\tau_b` between every two measures' rankings
  of the models, from the estimates and on every resample (its interval: normal, from the resampled
  spread, by default);
- for each measure, which models sit **above each baseline** (and whose interval clears it).

Distances are ranked by their negation, so that for every measure higher means more similar.

Definition of disagreement used by :meth:`ModelComparison.summary` (C5, made testable):

- two measures *disagree on the ranking* when the upper end of the resampling interval of their
  :math:`\tau_b` lies below 1 — identical rankings are excluded at the confidence level; the
  measures agree when every pair's interval reaches 1. A pair whose interval lies wholly below 0
  ranks the models in *opposite* orders.
- two measures *disagree on a baseline* when the sets of models above that baseline differ
  between them; the disagreement is *firm* when some model's interval lies wholly above the
  baseline by one measure and wholly below it by the other.

Example:
    >>> import numpy as np
    >>> from repalign.data import Dataset
    >>> from repalign.comparison import compare_models
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(4, 12, 10))                       # (time, condition, unit)
    >>> models = {f"noise {k}": Dataset(X + k * rng.normal(size=X.shape)) for k in (0.5, 1, 2)}
    >>> result = compare_models(models, Dataset(X), ["cka", "procrustes-distance=angular"], n_resamples=50,
    ...                         n_permutations=20, n_splits=3)
    >>> result.table[["model", "measure", "kind"]].values[[0, 3]].tolist()
    [['noise 0.5', 'cka', 'score'], ['noise 0.5', 'procrustes-distance=angular', 'distance']]
    >>> float(result.agreement.tau.iloc[0])                    # the distance ranks by its negation
    1.0
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from . import statistics
from ._checks import SettingsError, check_choice, check_count, check_items, check_real, check_seed, progress_bar
from ._optional import import_pandas, import_pyplot
from .baselines import BASELINES, BaselineResult, baseline_scores
from .data import Dataset
from .inputs import as_activity
from .registry import Measure, resolve
from .results import Result, colours, legend, save_figure

__all__ = ["compare_models", "ModelComparison", "kendall_tau", "model_label", "COLUMNS"]

#: the columns of :attr:`ModelComparison.table`
COLUMNS = ("model", "architecture", "seed", "measure", "name", "kind", "estimate", "standard_error", "low", "high",
           "chance", "p_value")
_BASELINE_LABELS = {"condition_average": "condition average", "neuron_split": "neuron split"}


def kendall_tau(a, b) -> np.ndarray:
    r"""Kendall's :math:`\tau_b` between ``a`` and ``b`` along their last axis, batched over the others.

    For values :math:`a_i, b_i` of :math:`n` items, with :math:`s^a_{ij} = \operatorname{sign}(a_i - a_j)`,

    .. math::

        \tau_b = \frac{\sum_{i<j} s^a_{ij} s^b_{ij}}
                      {\sqrt{\sum_{i<j} |s^a_{ij}| \,\sum_{i<j} |s^b_{ij}|}}

    (concordant minus discordant pairs over the geometric mean of the pairs untied in each): scipy's
    ``kendalltau`` (variant b). NaN where one of them ties every pair (no ranking to compare).

    Example:
        >>> kendall_tau([1, 2, 3, 4], [1, 3, 2, 4]).round(4), kendall_tau([[1, 2, 3], [1, 1, 1]], [3, 2, 1])
        (np.float64(0.6667), array([-1., nan]))
    """
    a, b = np.broadcast_arrays(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64))
    if a.ndim == 0 or a.shape[-1] < 2:
        raise ValueError(f"a, b: Kendall's tau needs at least 2 items along the last axis, got shape {a.shape}")
    i, j = np.triu_indices(a.shape[-1], k=1)
    sa, sb = np.sign(a[..., i] - a[..., j]), np.sign(b[..., i] - b[..., j])
    with np.errstate(invalid="ignore", divide="ignore"):
        tau = (sa * sb).sum(-1) / np.sqrt(np.abs(sa).sum(-1) * np.abs(sb).sum(-1))
    return tau


def model_label(key, dataset=None) -> tuple[str, str, int | None]:
    """``(label, architecture, seed)`` of a model: from a key ``((cell, activation), seed)`` as
    :func:`repalign.recording.record` gives, else from the Dataset's provenance (``architecture``,
    ``network_seed``), else the key's text itself as label and architecture, without seed.

    >>> model_label((("CTRNN", "Tanh"), 2))
    ('CTRNN-Tanh s2', 'CTRNN-Tanh', 2)
    >>> model_label("my model")
    ('my model', 'my model', None)
    """
    if (isinstance(key, tuple) and len(key) == 2 and isinstance(key[0], tuple)
            and isinstance(key[1], (int, np.integer))):
        architecture = "-".join(map(str, key[0]))
        return f"{architecture} s{int(key[1])}", architecture, int(key[1])
    provenance = getattr(dataset, "provenance", None) or {}
    architecture, seed = provenance.get("architecture"), provenance.get("network_seed")
    label = str(key)
    if architecture is not None:
        architecture = "-".join(map(str, architecture)) if isinstance(architecture, (list, tuple)) else str(architecture)
        return label, architecture, None if seed is None else int(seed)
    return label, label, None


def _check_aligned(reference, label: str, model) -> None:
    """Refuse a model whose (time, condition) layout or condition values differ from the reference's."""
    ref = reference.activity
    act = model.activity
    if ref.ndim != act.ndim or ref.shape[:-1] != act.shape[:-1]:
        raise SettingsError("models", f"{label!r} is not aligned with the reference: its activity has shape "
                                      f"{tuple(act.shape)}, the reference's {tuple(ref.shape)} (the same samples, or "
                                      "time bins and conditions, are needed; units may differ)")
    ours, theirs = reference.conditions, model.conditions
    if ours is None or theirs is None:
        return
    common = [c for c in ours.columns if c in theirs.columns]
    for column in common:
        a, b = ours[column].to_numpy(), theirs[column].to_numpy()
        same = (np.allclose(a.astype(float), b.astype(float), equal_nan=True)
                if a.dtype.kind in "biuf" and b.dtype.kind in "biuf" else (a.astype(str) == b.astype(str)).all())
        if not same:
            raise SettingsError("models", f"{label!r} is not aligned with the reference: its conditions differ in "
                                          f"column {column!r} (record the model at the reference's conditions table, "
                                          "in its order)")


def _as_dataset(value, name: str) -> Dataset:
    if isinstance(value, Dataset):
        return value
    activity, _ = as_activity(value, name)
    return Dataset(activity.detach().cpu().numpy())


def _some(names, most: int = 6) -> str:
    """The first ``most`` names, then how many more.

    >>> _some(["a", "b", "c"], 2)
    'a, b and 1 more'
    """
    names = list(names)
    return ", ".join(names) if len(names) <= most else f"{', '.join(names[:most])} and {len(names) - most} more"


_SAMPLING_WORDS = {"half": "half-sampling", "replacement": "bootstrap with replacement"}


def _better(kind: str) -> float:
    """+1 for a score (higher is more similar), -1 for a distance."""
    return 1.0 if kind == "score" else -1.0


def compare_models(models, reference, measures, *, n_resamples: int = 1000, n_permutations: int = 1000,
                   n_splits: int = 10, confidence_level: float = 0.95, method: str = "normal",
                   sampling: str | None = None, seed: int = 0, progress: bool | None = None) -> ModelComparison:
    r"""Score every model against the reference with every measure, with intervals, nulls, baselines and agreement.

    For measure :math:`s`, model :math:`Y_k` and reference :math:`X`: the estimate :math:`s(X, Y_k)`;
    its bootstrap values :math:`s(X^{(b)}, Y_k^{(b)})` with :math:`X^{(b)}, Y_k^{(b)}` the conditions
    drawn with the counts of resample :math:`b` (the same counts for every model and measure), their
    standard error and interval (:func:`repalign.statistics.bootstrap`: by default half-sampling of the
    conditions and the normal interval); the permutation null
    :math:`s(X, Y_k^{\pi})` over random orders :math:`\pi` of the model's conditions, its mean (the
    chance level) and p-value (:func:`repalign.statistics.permutation_test`, seeded by ``seed``); the
    baselines of :func:`repalign.baselines.baseline_scores`; and Kendall's :math:`\tau_b` between two
    measures' rankings (:func:`kendall_tau` of the oriented values :math:`\pm s`), at the estimates and
    on each resample.

    Args:
        models: a mapping key → model data (a :class:`~repalign.data.Dataset` or an array), each aligned
            with the reference (same time bins and conditions, or samples; any number of units); keys
            ``((cell, activation), seed)`` (:func:`repalign.recording.record`) give the architecture and seed
            columns, other keys are labels (architecture from the Dataset's provenance when there).
        reference: the recording ``(time, condition, unit)`` (or ``(sample, unit)``: no condition average), or
            its single trials (a :class:`~repalign.data.Trials`): then the bootstrap resamples trials within each
            condition (``over="trials"``), and the models, the null and the baselines use its condition averages.
        measures: registry names or :class:`~repalign.registry.Measure` objects.
        n_resamples: resamples of the conditions (or samples, trials) (``>= 2``).
        n_permutations: permutations of the null (``0``: no null, ``chance`` and ``p_value`` NaN).
        n_splits: random neuron splits of the baseline.
        confidence_level: of the intervals, in (0, 1).
        method, sampling: the intervals and the resampling (:func:`repalign.statistics.bootstrap`): by default
            half-sampling and normal intervals (estimate ± z·SE), for scores and for Kendall's τ_b alike; with
            ``sampling="replacement"``, ``"percentile"``, ``"basic"`` or ``"bca"`` (τ_b: percentile for all but
            ``"normal"``). Repeated conditions raise angular Procrustes and lower ridge-CV, so their
            with-replacement percentile intervals often miss the estimate (module documentation of
            :mod:`repalign.statistics`).
        seed: of the resamples, the permutations and the splits.
        progress: progress over the (measure, model) pairs (:func:`repalign._checks.progress_bar`).

    Returns:
        A :class:`ModelComparison`.

    Raises:
        ValueError: naming the argument: fewer than 2 models, a model not aligned with the reference
            (naming it), a bad measure or count.
    """
    pd = import_pandas()

    if not isinstance(models, Mapping) or len(models) < 2:
        raise SettingsError("models", "expected a mapping of at least 2 models (key → Dataset) to rank, got "
                                      + (f"{len(models)}" if isinstance(models, Mapping) else type(models).__name__))
    specs = check_items([measures] if isinstance(measures, (str, Measure)) else measures, "measures",
                        "measure names or Measures")
    chosen = [(spec if isinstance(spec, str) else resolve(spec).name, resolve(spec, "measures")) for spec in specs]
    labels = [label for label, _ in chosen]
    if len({m.name for _, m in chosen}) != len(chosen):
        raise SettingsError("measures", f"the same measure is named twice ({labels})")
    n_resamples = check_count(n_resamples, "n_resamples", 2)
    n_permutations = check_count(n_permutations, "n_permutations", 0)
    n_splits = check_count(n_splits, "n_splits", 1)
    confidence_level = check_real(confidence_level, "confidence_level", low=0, high=1, inclusive=(False, False))
    method = check_choice(method, "method", statistics.METHODS)
    seed = check_seed(seed)
    trials = reference if hasattr(reference, "trial_counts") else None  # single trials: resampled within conditions
    reference = trials.average() if trials is not None else _as_dataset(reference, "reference")
    entries = []
    for key, value in models.items():
        dataset = _as_dataset(value, "models")
        label, architecture, network_seed = model_label(key, dataset)
        _check_aligned(reference, label, dataset)
        entries.append((label, architecture, network_seed, dataset))
    names = [e[0] for e in entries]
    if len(set(names)) != len(names):
        raise SettingsError("models", f"two models share a label: {names}")
    # group by architecture (in order of first appearance), then seed: the order of the figure and the tables
    first = {a: i for i, a in reversed(list(enumerate(e[1] for e in entries)))}
    entries.sort(key=lambda e: (first[e[1]], -1 if e[2] is None else e[2]))

    over = "conditions" if reference.activity.ndim == 3 else "samples"
    n_items = reference.activity.shape[1 if over == "conditions" else 0]
    # the same resamples for every model and measure: one table of counts (for trials, bootstrap's own draw per
    # condition depends on the seed and the trials only, hence is the same in every call)
    if sampling is None:
        sampling = "half" if method == "normal" and trials is None else "replacement"
    sampling = check_choice(sampling, "sampling", statistics.SAMPLINGS)
    if trials is not None and sampling == "half":
        raise SettingsError("sampling", "single trials are resampled with replacement within their conditions")
    if sampling == "half" and method != "normal":
        raise SettingsError("method", f"half-sampling gives a standard error: use method='normal', got {method!r}")
    counts = statistics.resample_counts(n_items, n_resamples, seed, sampling) if trials is None else None
    values = np.full((len(chosen), len(entries), n_resamples), np.nan)
    rows = []
    jobs = [(i, k) for i in range(len(chosen)) for k in range(len(entries))]
    for i, k in progress_bar(jobs, enabled=progress, total=len(jobs), description="compare models", unit="score"):
        label, m = chosen[i]
        model, architecture, network_seed, dataset = entries[k]
        boot = statistics.bootstrap(m, reference if trials is None else trials, dataset, n_resamples=n_resamples,
                                    confidence_level=confidence_level, over=over if trials is None else "trials",
                                    seed=seed, counts=counts, method=method, sampling=sampling, progress=False)
        values[i, k] = np.asarray(boot.values, dtype=np.float64)
        low, high = boot.interval
        chance = p_value = math.nan
        if n_permutations:
            null = statistics.permutation_test(m, reference, dataset, n_resamples=n_permutations, seed=seed, over=over,
                                               progress=False)
            chance, p_value = float(null.chance), float(null.p_value)
        rows.append({"model": model, "architecture": architecture, "seed": network_seed, "measure": label,
                     "name": m.name, "kind": m.kind, "estimate": float(boot.estimate),
                     "standard_error": float(boot.standard_error), "low": float(low), "high": float(high),
                     "chance": chance, "p_value": p_value})
    table = pd.DataFrame(rows, columns=list(COLUMNS))
    table["seed"] = table["seed"].astype("Int64")
    baselines = baseline_scores(reference, [m for _, m in chosen], n_splits=n_splits, seed=seed,
                                baselines=BASELINES if over == "conditions" else ("neuron_split",))
    base = baselines.table.copy()
    base["measure"] = base["measure"].map(dict(zip((m.name for _, m in chosen), labels)))
    baselines = BaselineResult(base, baselines.seed, baselines.n_splits)
    return ModelComparison(table, baselines, values, tuple(labels), tuple(m.kind for _, m in chosen),
                           tuple(e[0] for e in entries), confidence_level, n_resamples, n_permutations, seed,
                           over if trials is None else "trials", tuple(reference.shape), method, sampling)


@dataclass(frozen=True, eq=False)
class ModelComparison(Result):
    """Models × measures against one recording (:func:`compare_models`).

    Attributes:
        table: one row per (model, measure): :data:`COLUMNS` — ``estimate``, its bootstrap ``standard_error``
            and interval [``low``, ``high``], the permutation null's mean ``chance`` and ``p_value``.
        baselines: the :class:`~repalign.baselines.BaselineResult` (measures labelled as in ``table``).
        values: ``(measure, model, resample)`` bootstrap values, in the order of ``measures`` and ``models``.
        measures, kinds, models: the labels in order (models grouped by architecture, then seed).
        confidence_level, n_resamples, n_permutations, seed, over, shape, method: the settings and the reference's
            shape.
    """

    record_kind = "comparison"

    table: object
    baselines: BaselineResult
    values: np.ndarray
    measures: tuple
    kinds: tuple
    models: tuple
    confidence_level: float
    n_resamples: int
    n_permutations: int
    seed: int
    over: str
    shape: tuple
    method: str = "normal"
    sampling: str = "half"

    # -- derived tables -------------------------------------------------------------------------------------
    def _estimates(self) -> np.ndarray:
        """``(measure, model)`` estimates."""
        pivot = self.table.pivot(index="measure", columns="model", values="estimate")
        return pivot.loc[list(self.measures), list(self.models)].to_numpy(dtype=np.float64)

    def _interval(self, values: np.ndarray, point: float) -> tuple[float, float]:
        """τ_b's interval from its resampled values: normal around ``point`` (half-sampling's factor
        √(m/(n − m)) on the spread, clipped to [−1, 1]) for ``method="normal"``, else percentile."""
        finite = values[np.isfinite(values)]
        if finite.size < 2:
            return math.nan, math.nan
        if self.method == "normal":
            n_units = self.shape[1] if self.over == "conditions" else self.shape[0]
            spread = statistics.resampled_standard_error(finite, self.sampling, n_units)
            low, high = statistics.normal_interval(point, spread, self.confidence_level)
            return max(-1.0, low), min(1.0, high)
        alpha = (1 - self.confidence_level) / 2
        low, high = np.quantile(finite, [alpha, 1 - alpha])
        return float(low), float(high)

    @property
    def agreement(self):
        r"""Kendall's :math:`\tau_b` between every two measures' model rankings (higher = more similar for each).

        Columns ``measure_a``, ``measure_b``, ``tau`` (from the estimates), ``low``, ``high`` (the interval of
        :math:`\tau_b` from its values on the resamples, at ``confidence_level``: normal by default, else
        percentile; see :func:`compare_models`), ``n_models``.
        """
        pd = import_pandas()

        sign = np.array([_better(k) for k in self.kinds])[:, None]
        point = self._estimates() * sign
        resampled = self.values * sign[:, :, None]
        rows = []
        for a in range(len(self.measures)):
            for b in range(a + 1, len(self.measures)):
                tau = float(kendall_tau(point[a], point[b]))
                low, high = self._interval(kendall_tau(resampled[a].T, resampled[b].T), tau)
                rows.append({"measure_a": self.measures[a], "measure_b": self.measures[b], "tau": tau, "low": low,
                             "high": high, "n_models": len(self.models)})
        return pd.DataFrame(rows, columns=["measure_a", "measure_b", "tau", "low", "high", "n_models"])

    def agreement_matrix(self, column: str = "tau"):
        """The agreement as a square DataFrame of ``column`` (``tau``, ``low`` or ``high``), 1 on the diagonal."""
        pd = import_pandas()

        matrix = pd.DataFrame(np.eye(len(self.measures)), index=list(self.measures), columns=list(self.measures))
        for row in self.agreement.itertuples():
            value = getattr(row, column)
            matrix.loc[row.measure_a, row.measure_b] = matrix.loc[row.measure_b, row.measure_a] = value
        return matrix

    @property
    def above(self):
        """Per measure, model and baseline: whether the model is more similar to the data than the baseline.

        Columns ``measure``, ``model``, ``architecture``, ``seed``, ``baseline``, ``baseline_score`` (the
        neuron split's mean over splits), ``estimate``, ``above`` (the estimate is better than the baseline:
        higher for a score, lower for a distance), ``interval_above`` (the whole interval is better) and
        ``interval_below`` (the whole interval is worse).
        """
        pd = import_pandas()

        base = self.baselines.table
        kinds = dict(zip(self.measures, self.kinds))
        rows = []
        for row in self.table.itertuples(index=False):
            sign = _better(kinds[row.measure])
            for b in base[base.measure == row.measure].itertuples(index=False):
                low, high = sorted((sign * row.low, sign * row.high))
                level = sign * b.score
                rows.append({"measure": row.measure, "model": row.model, "architecture": row.architecture,
                             "seed": row.seed, "baseline": b.baseline, "baseline_score": float(b.score),
                             "estimate": row.estimate, "above": bool(sign * row.estimate > level),
                             "interval_above": bool(low > level), "interval_below": bool(high < level)})
        table = pd.DataFrame(rows)
        table["seed"] = table["seed"].astype("Int64")
        return table

    # -- figures --------------------------------------------------------------------------------------------
    def plot(self, ax=None):
        """Fig. 2c,d: one panel per measure, models along x grouped by architecture (one colour each).

        Points: the estimates, with their resampling interval as error bars; grey ``x``: the permutation
        null's chance level of each model; dashed line: the condition-average baseline; dotted line and grey
        band: the neuron-split baseline's mean ± one standard deviation over splits. ``ax``: None (a new
        figure) or one axes per measure. Returns the first panel's axes (every panel is on its figure).
        """
        plt = import_pyplot()

        n = len(self.measures)
        if ax is None:
            columns = min(n, 3) if len(self.models) <= 9 else 1  # many models: one measure per row
            rows = math.ceil(n / columns)
            _, grid = plt.subplots(rows, columns, figsize=(max(3.6, 0.28 * len(self.models) + 1.6) * columns,
                                                           (3.3 if len(self.models) <= 9 else 3.8) * rows),
                                   squeeze=False)
            axes = list(grid.ravel())
            for extra in axes[n:]:
                extra.set_visible(False)
            axes = axes[:n]
        else:
            axes = list(ax) if isinstance(ax, (list, tuple, np.ndarray)) else [ax]
            if len(axes) != n:
                raise ValueError(f"ax: expected one axes per measure ({n}), got {len(axes)}")
        architectures = list(dict.fromkeys(self.table.architecture))
        palette = colours()
        colour = {a: palette[i % len(palette)] for i, a in enumerate(architectures)}
        position = {m: i for i, m in enumerate(self.models)}
        base = self.baselines.table
        for panel, measure in zip(axes, self.measures):
            rows = self.table[self.table.measure == measure]
            xs = rows.model.map(position).to_numpy()
            for architecture in architectures:
                mine = rows[rows.architecture == architecture]
                x = mine.model.map(position).to_numpy()
                # the interval as drawn from its ends: a biased bootstrap may leave the estimate outside it
                panel.vlines(x, mine.low, mine.high, color=colour[architecture], lw=1.2)
                panel.plot(x, mine.estimate, "o", ms=4, color=colour[architecture], label=architecture)
            if np.isfinite(rows.chance).any():
                panel.plot(xs, rows.chance, "x", color="0.45", ms=5, label="chance (permutation)")
            span = (-0.5, len(self.models) - 0.5)
            for b in base[base.measure == measure].itertuples(index=False):
                if b.baseline == "neuron_split" and np.isfinite(b.std):
                    panel.axhspan(b.score - b.std, b.score + b.std, color="0.88", lw=0, zorder=0)
                panel.hlines(b.score, *span, colors="k", lw=1.1, linestyles="--" if b.baseline == "condition_average"
                             else ":", label=_BASELINE_LABELS.get(b.baseline, b.baseline))
            panel.set_xlim(*span)
            panel.set_xticks(range(len(self.models)))
            panel.set_xticklabels(self.models, rotation=60, ha="right", fontsize="x-small")
            kind = dict(zip(self.measures, self.kinds))[measure]
            panel.set_title(f"{measure}\n({kind}: {'higher' if kind == 'score' else 'lower'} = more similar)",
                            fontsize="small")
        axes[0].set_ylabel(f"model vs data ({100 * self.confidence_level:g} % interval)", fontsize="small")
        legend(axes[0] if len(self.models) > 9 else axes[-1], loc="upper left", bbox_to_anchor=(1.02, 1.0))
        axes[0].figure.tight_layout()
        return axes[0]

    def plot_agreement(self, ax=None):
        r"""The agreement matrix: Kendall's :math:`\tau_b` between measures' rankings, annotated with its interval."""
        plt = import_pyplot()

        n = len(self.measures)
        if ax is None:
            _, ax = plt.subplots(figsize=(1.5 * n + 2.2, 1.3 * n + 1.2))
        tau, low, high = (self.agreement_matrix(c).to_numpy(dtype=float) for c in ("tau", "low", "high"))
        image = ax.imshow(tau, vmin=-1, vmax=1, cmap="RdBu_r")
        for a in range(n):
            for b in range(n):
                text = "1" if a == b else f"{tau[a, b]:.2f}\n[{low[a, b]:.2f}, {high[a, b]:.2f}]"
                ax.text(b, a, text, ha="center", va="center", fontsize="x-small",
                        color="white" if abs(tau[a, b]) > 0.6 else "black")
        ax.set_xticks(range(n))
        ax.set_yticks(range(n))
        ax.set_xticklabels(self.measures, rotation=30, ha="right", fontsize="small")
        ax.set_yticklabels(self.measures, fontsize="small")
        ax.figure.colorbar(image, ax=ax, label="Kendall τ_b of the model rankings")
        ax.set_title(f"agreement between measures ({len(self.models)} models; "
                     f"{100 * self.confidence_level:g} % interval)", fontsize="small")
        return ax

    def save_all(self, path) -> list[str]:
        """:meth:`save` (the Fig. 2 panel as ``path``.png/.pdf, the table as ``path``.csv), then the agreement
        figure (``path_agreement``.png/.pdf/.csv) and the tables ``path_baselines.csv`` and ``path_above.csv``;
        returns every path written."""
        from pathlib import Path  # noqa: PLC0415

        path = Path(path)
        stem = path.with_suffix("") if path.suffix in (".png", ".pdf", ".csv") else path
        files = self.save(stem)
        files += save_figure(self.plot_agreement(), self.agreement, stem.parent / f"{stem.name}_agreement")
        for name, table in (("baselines", self.baselines.table), ("above", self.above)):
            target = stem.parent / f"{stem.name}_{name}.csv"
            table.to_csv(target, index=False)
            files.append(str(target))
        return files

    def _record_settings(self) -> dict:
        return {"measures": list(self.measures), "models": list(self.models), "confidence_level": self.confidence_level,
                "n_resamples": self.n_resamples, "n_permutations": self.n_permutations, "seed": self.seed,
                "n_splits": self.baselines.n_splits, "over": self.over, "shape": list(self.shape),
                "method": self.method, "sampling": self.sampling}

    def _record_tables(self) -> dict:
        return {"table": self.table, "baselines": self.baselines.table, "above": self.above,
                "agreement": self.agreement}

    def _record_arrays(self) -> dict:
        return {"values": self.values}

    # -- the reading of C5 ----------------------------------------------------------------------------------
    def verdict(self) -> dict:
        """The numbers behind :meth:`summary`: agreement on the ranking and on each baseline (plain values)."""
        agreement = self.agreement
        pairs = [{"measures": [r.measure_a, r.measure_b], "tau": r.tau, "low": r.low, "high": r.high,
                  "excludes_identical": bool(r.high < 1), "opposite": bool(r.high < 0)}
                 for r in agreement.itertuples()]
        above = self.above
        baselines = {}
        for baseline, rows in above.groupby("baseline", sort=False):
            per = {m: sorted(rows[(rows.measure == m) & rows.above].model) for m in self.measures}
            firm = sorted({model for model, g in rows.groupby("model")
                           if g.interval_above.any() and g.interval_below.any()})
            baselines[baseline] = {
                "above": per, "count": {m: len(v) for m, v in per.items()},
                "interval_above": {m: int(rows[(rows.measure == m)].interval_above.sum()) for m in self.measures},
                "agree": len({tuple(v) for v in per.values()}) == 1, "firm_disagreement": firm}
        return {"n_models": len(self.models), "measures": list(self.measures), "pairs": pairs,
                "ranking_agree": bool(pairs) and not any(p["excludes_identical"] for p in pairs),
                "baselines": baselines, "baselines_agree": all(b["agree"] for b in baselines.values())}

    def summary(self, title: str = "Models against the data") -> str:
        """Markdown: do the measures agree on the ranking of the models, and on the baselines (C5)? With numbers."""
        v = self.verdict()
        level = f"{100 * self.confidence_level:g} %"
        lines = [f"### {title}", "",
                 f"{v['n_models']} models, measures {', '.join(v['measures'])}; reference {' × '.join(map(str, self.shape))}"
                 f"; {self.n_resamples} resamples over {self.over} ({_SAMPLING_WORDS[self.sampling]}, "
                 f"{self.method} intervals), "
                 f"{self.n_permutations} permutations.", ""]
        lines += ["| model | " + " | ".join(v["measures"]) + " |", "|---|" + "---|" * len(v["measures"])]
        cells = self.table.set_index(["model", "measure"])
        for model in self.models:
            lines.append(f"| {model} | " + " | ".join(
                f"{cells.loc[(model, m), 'estimate']:.3f} [{cells.loc[(model, m), 'low']:.3f}, "
                f"{cells.loc[(model, m), 'high']:.3f}]" for m in v["measures"]) + " |")
        base = self.baselines.table.set_index(["baseline", "measure"])
        for baseline in dict.fromkeys(self.baselines.table.baseline):
            lines.append(f"| *{_BASELINE_LABELS.get(baseline, baseline)}* | " + " | ".join(
                f"{base.loc[(baseline, m), 'score']:.3f}" + (f" ± {base.loc[(baseline, m), 'std']:.3f}"
                                                             if np.isfinite(base.loc[(baseline, m), 'std']) else "")
                for m in v["measures"]) + " |")
        chance = self.table.groupby("measure", sort=False).chance.mean()
        if np.isfinite(chance).any():
            lines.append("| *chance (permutation null, mean over models)* | "
                         + " | ".join(f"{chance[m]:.3f}" for m in v["measures"]) + " |")
        lines += ["", f"Estimates with their {level} interval ({_SAMPLING_WORDS[self.sampling]}, {self.method}); baselines: condition average, neuron split "
                      "(mean ± std over splits).", ""]
        lines += ["| measure A | measure B | Kendall τ_b | " + level + " interval |", "|---|---|---|---|"]
        for p in v["pairs"]:
            lines.append(f"| {p['measures'][0]} | {p['measures'][1]} | {p['tau']:.2f} | "
                         f"[{p['low']:.2f}, {p['high']:.2f}] |")
        disagreeing = [p for p in v["pairs"] if p["excludes_identical"]]
        if v["ranking_agree"]:
            spread = [p["tau"] for p in v["pairs"]]
            lines += ["", f"**Ranking: no disagreement shown** — every pair's {level} interval of τ_b reaches 1 "
                          f"(identical rankings are not excluded; point τ_b from {min(spread):.2f} to "
                          f"{max(spread):.2f})."]
        else:
            text = "; ".join(f"{p['measures'][0]} vs {p['measures'][1]} τ_b {p['tau']:.2f} "
                             f"[{p['low']:.2f}, {p['high']:.2f}]" + (" (opposite orders)" if p["opposite"] else "")
                             for p in disagreeing)
            lines += ["", f"**Ranking: the measures disagree** (C5 holds) — {len(disagreeing)} of {len(v['pairs'])} "
                          f"pair(s) exclude identical rankings (interval below 1): {text}."]
        lines += ["", "| baseline | " + " | ".join(v["measures"]) + " |", "|---|" + "---|" * len(v["measures"])]
        for baseline, b in v["baselines"].items():
            lines.append(f"| models above the {_BASELINE_LABELS.get(baseline, baseline)} | "
                         + " | ".join(f"{b['count'][m]} of {v['n_models']} ({b['interval_above'][m]} by the whole "
                                      f"interval)" for m in v["measures"]) + " |")
        for baseline, b in v["baselines"].items():
            name = _BASELINE_LABELS.get(baseline, baseline)
            if b["agree"]:
                lines += ["", f"**{name.capitalize()}: the measures agree** on which models are above it."]
            else:
                firm = (f"; firmly for {_some(b['firm_disagreement'])} (interval above by one measure, below by "
                        "another)") if b["firm_disagreement"] else (
                    " by their estimates only: no model's interval lies above it by one measure and below it by "
                    "another")
                lines += ["", f"**{name.capitalize()}: the measures disagree** (C5 holds) on which models are above "
                              f"it{firm}."]
        outside = self.table[(self.table.estimate < self.table.low) | (self.table.estimate > self.table.high)]
        if len(outside):
            per = outside.groupby("measure", sort=False).size()
            lines += ["", f"Note: {len(outside)} of {len(self.table)} estimates lie outside their own {self.method} "
                          "interval (" + ", ".join(f"{m}: {k} of {len(self.models)}" for m, k in per.items())
                      + "): the measure is biased under resampling of the conditions (repeated conditions change it), "
                        "so its interval is shifted; half-sampling with normal intervals (the default) is not."]
        shifted = [p for p in v["pairs"] if not p["low"] <= p["tau"] <= p["high"]]
        if shifted:
            lines += ["", f"Note: for {len(shifted)} pair(s) ("
                          + ", ".join(f"{p['measures'][0]} vs {p['measures'][1]}" for p in shifted)
                          + ") the point τ_b lies outside its interval: the resampled rankings are shifted by the "
                            "measures' resampling bias, which differs between models; the interval then says how "
                            "variable the agreement is, less where it is centred."]
        lines += ["", "Definitions: two measures disagree on the ranking when the upper end of the resampling interval "
                      "of Kendall's τ_b between their rankings (distances ranked by their negation) is below 1; on a "
                      "baseline when the sets of models above it differ. Estimates are better than the baseline in the "
                      "measure's own direction (neuron split: its mean over splits).", ""]
        return "\n".join(lines)

r"""Reference scores for model–data comparisons: the two baselines of the seed paper's Figure 2.

A similarity score between a model and neural data means little on its own. The seed paper
(Cloos et al., Fig. 2c,d and appendix A.3) draws two baseline scores beside the models',
each comparing a modified copy of the data with the data:

- **condition average** (:func:`condition_average`): every unit's activity averaged over the
  conditions, kept per time bin — each unit keeps its own time course, but nothing
  condition-specific is left. Score ``s(X, C(X))``: what keeping only the
  condition-independent dynamics already earns (a strong baseline for measures dominated by
  the top principal component, which is often condition-independent).
- **neuron split** (:func:`neuron_split`): the units split into two random disjoint halves
  compared with each other, ``s(X[..., A], X[..., B])``, averaged over random splits. A model
  that reaches this score is as similar to the data as other neurons of the same recording.

:func:`baseline_scores` computes both for several measures: a :class:`BaselineResult` whose
``table`` is tidy, whose ``plot(models=...)`` draws them per measure as in Fig. 2c,d (dashed:
condition average; dotted: neuron split, with its spread over splits), optionally beside model
scores, and whose ``save(path)`` writes the figure as PNG and PDF with the table as CSV.
(``baseline_table``, ``plot_baselines`` and ``save`` of repalign 0.1 remain until 0.3 as
deprecated aliases.)

Inputs are ``(time, condition, unit)`` arrays (numpy, torch, xarray, nested lists) or a
:class:`~repalign.data.Dataset`; ``(sample, unit)`` data have no conditions to average
over, so only the neuron split applies to them. The activity is taken as given: for trial
data, average the trials of each condition first.

Example:
    >>> from repalign.data import mante_like
    >>> from repalign.baselines import baseline_scores
    >>> result = baseline_scores(mante_like(n_units=40, n_time=5, seed=0), ["cka", "angular-procrustes"], n_splits=3)
    >>> table = result.table
    >>> table[["measure", "baseline", "n"]].values.tolist()  # doctest: +NORMALIZE_WHITESPACE
    [['cka', 'condition_average', 1], ['cka', 'neuron_split', 3],
     ['angular-procrustes', 'condition_average', 1], ['angular-procrustes', 'neuron_split', 3]]
    >>> bool(((table.score > 0) & (table.score < 1)).all())
    True
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from ._checks import check_count, check_items, check_seed
from ._optional import import_pandas, import_pyplot
from ._version import deprecated
from .inputs import as_activity
from .registry import Measure, resolve
from .results import Result, check_table, colours, legend, save_figure, table_of

__all__ = [
    "condition_average",
    "split_units",
    "neuron_split",
    "NeuronSplit",
    "baseline_scores",
    "BaselineResult",
    "BASELINES",
    "baseline_table",
    "plot_baselines",
    "save",
]

BASELINES = ("condition_average", "neuron_split")

# legend labels and line styles of Fig. 2c,d
_LABELS = {"condition_average": "condition average", "neuron_split": "neuron split"}
_STYLES = {"condition_average": "--", "neuron_split": ":"}
_COLUMNS = ("measure", "baseline", "score", "std", "n")


def _output(values: torch.Tensor, from_torch: bool):
    return values if from_torch else values.detach().cpu().numpy()


def condition_average(X):
    r"""Each unit's mean over conditions, per time bin, broadcast back to X's shape.

    For ``(time, condition, unit)`` activity :math:`X_{tcu}` with :math:`C` conditions,

    .. math::

        \bar X_{tcu} = \frac{1}{C} \sum_{c'=1}^{C} X_{tc'u}

    for every condition ``c``: the condition-independent part of the activity, with X's shape
    so that it can be scored against X (the seed paper's condition-average baseline).

    Args:
        X: ``(time, condition, unit)`` numpy array, torch tensor (the result is then a tensor
            on the same device, differentiable), xarray DataArray, nested list, or a 3D
            :class:`~repalign.data.Dataset`.

    Returns:
        An array of X's shape (float64 numpy unless X is a torch tensor).

    Raises:
        ValueError: bad X (from :func:`repalign.inputs.as_data`), or 2D ``(sample, unit)``
            data, which has no condition axis.

    Example:
        >>> import numpy as np
        >>> X = np.arange(12.0).reshape(2, 3, 2)          # (time, condition, unit)
        >>> condition_average(X)[:, 0].tolist()            # the same for every condition
        [[2.0, 3.0], [8.0, 9.0]]
    """
    values, from_torch = as_activity(X, "X")
    if values.ndim != 3:
        raise ValueError(f"X: the condition average needs (time, condition, unit) activity to average over "
                         f"conditions; got 2D (sample, unit) data of shape {tuple(values.shape)}")
    average = values.mean(dim=1, keepdim=True).expand_as(values).clone()
    return _output(average, from_torch)


def split_units(n_units: int, *, n_splits: int = 10, seed: int = 0) -> np.ndarray:
    """Random disjoint halves of ``n_units`` units: ``(n_splits, 2, n_units // 2)`` indices.

    Split ``s`` draws the permutation ``numpy.random.default_rng([seed, s]).permutation(n_units)``;
    half A is its first ``h = ⌊n_units/2⌋`` entries and half B the next ``h``. Both halves
    have the same size so that every measure applies (some, like the permutation distance,
    need equal unit counts); with an odd count, the last unit of the permutation — a different
    random unit in each split — is left out. Split ``s`` depends on ``seed`` and ``s`` only,
    not on ``n_splits``. Each half keeps the permutation's (random) order of units.

    Example:
        >>> halves = split_units(5, n_splits=2, seed=0)
        >>> halves.shape, len(set(halves[0].ravel().tolist()))     # 4 distinct units, one left out
        ((2, 2, 2), 4)
    """
    n_units = check_count(n_units, "n_units", 2)
    n_splits = check_count(n_splits, "n_splits", 1)
    seed = check_seed(seed)
    half = n_units // 2
    out = np.empty((n_splits, 2, half), dtype=np.int64)
    for s in range(n_splits):
        order = np.random.default_rng([seed, s]).permutation(n_units)
        out[s, 0], out[s, 1] = order[:half], order[half:2 * half]
    return out


@dataclass(frozen=True, eq=False)
class NeuronSplit(Result):
    """Scores of :func:`neuron_split`.

    Attributes:
        measure: canonical name of the measure.
        scores: ``(n_splits,)`` float64, ``measure(X[..., A_s], X[..., B_s])`` for split ``s``.
        halves: ``(n_splits, 2, h)`` unit indices (``halves[s, 0]`` = A_s, the reference).
        seed: the seed of the splits.
    """

    record_kind = "neuron_split"

    measure: str
    scores: np.ndarray
    halves: np.ndarray
    seed: int = 0

    @property
    def table(self):
        """One row per split: ``split``, ``measure``, ``score``."""
        pd = import_pandas()

        return pd.DataFrame({"split": np.arange(len(self.scores)), "measure": self.measure, "score": self.scores})

    def plot(self, ax=None):
        """The score of every split, their mean (line) and ± one standard deviation (band)."""
        plt = import_pyplot()

        if ax is None:
            _, ax = plt.subplots(figsize=(4, 3))
        splits = np.arange(len(self.scores))
        if np.isfinite(self.std):
            ax.axhspan(self.mean - self.std, self.mean + self.std, color="0.88", lw=0, label="± 1 std")
        ax.axhline(self.mean, color="k", lw=1.2, label=f"mean {self.mean:.4f}")
        ax.plot(splits, self.scores, "o", ms=4, color="tab:blue", label="split")
        ax.set_xlabel("random split of the units")
        ax.set_ylabel(f"{self.measure} (half A vs half B)" if len(self.measure) <= 30 else "score")
        ax.set_title("neuron-split baseline", fontsize="small")
        legend(ax, frameon=False, fontsize="x-small")
        return ax

    def _record_settings(self) -> dict:
        return {"measure": self.measure, "n_splits": len(self.scores), "seed": self.seed}

    def _record_arrays(self) -> dict:
        return {"halves": self.halves}

    @property
    def mean(self) -> float:
        """Mean score over the splits."""
        return float(self.scores.mean())

    @property
    def std(self) -> float:
        """Sample standard deviation over the splits (``ddof=1``); ``nan`` for a single split."""
        return float(self.scores.std(ddof=1)) if self.scores.size > 1 else math.nan


def _check_measure(spec, name: str = "measure") -> tuple[str, Measure]:
    """(label, Measure): the name as given, or the canonical name of a Measure."""
    chosen = resolve(spec, name)
    return (spec if isinstance(spec, str) else chosen.name), chosen


def _split_scores(values: torch.Tensor, measure: Measure, halves: np.ndarray) -> np.ndarray:
    index = torch.as_tensor(halves, device=values.device)
    a = torch.stack([values[..., index[s, 0]] for s in range(len(halves))])
    b = torch.stack([values[..., index[s, 1]] for s in range(len(halves))])
    with torch.no_grad():
        scores = measure.batch(a, b)
    return torch.as_tensor(scores).detach().to("cpu", torch.float64).reshape(-1).numpy()


def neuron_split(X, measure, *, n_splits: int = 10, seed: int = 0) -> NeuronSplit:
    r"""The neuron-split baseline: one half of the units scored against the other half.

    For each split ``s`` (:func:`split_units`: two random disjoint halves ``A_s`` and ``B_s``
    of ``⌊p/2⌋`` units each, ``p`` the unit count; with odd ``p`` one random unit sits out),

    .. math::

        b_s = s\bigl(X_{\cdot, A_s},\; X_{\cdot, B_s}\bigr), \qquad
        \text{mean} = \frac{1}{S}\sum_s b_s, \qquad
        \text{std} = \sqrt{\tfrac{1}{S-1}\textstyle\sum_s (b_s - \text{mean})^2}

    with half A as the reference (first argument: it matters for asymmetric measures such as
    regression, where half B predicts half A). Both halves keep X's samples (and its
    ``(time, condition)`` layout). All splits are scored in one batched call, without gradient.

    Args:
        X: ``(sample, unit)`` or ``(time, condition, unit)`` data (numpy, torch, xarray,
            lists) or a :class:`~repalign.data.Dataset`; at least 2 units.
        measure: a registry name or a :class:`~repalign.registry.Measure`.
        n_splits: number of random splits (``>= 1``).
        seed: non-negative integer; split ``s`` uses ``numpy.random.default_rng([seed, s])``.

    Returns:
        :class:`NeuronSplit` (``scores``, ``halves``, ``mean``, ``std``).

    Raises:
        ValueError: bad X, fewer than 2 units, a bad measure, ``n_splits`` or ``seed``, or an
            error of the measure on the halves (e.g. too few units for it).

    Example:
        >>> import numpy as np
        >>> X = np.random.default_rng(0).normal(size=(50, 3)) @ np.random.default_rng(1).normal(size=(3, 9))
        >>> split = neuron_split(X, "cka", n_splits=4, seed=0)
        >>> split.scores.shape, split.halves.shape, bool(split.mean > 0.5)
        ((4,), (4, 2, 4), True)
    """
    _, chosen = _check_measure(measure)
    values, _ = as_activity(X, "X")
    if values.shape[-1] < 2:
        raise ValueError(f"X: the neuron split needs at least 2 units, got {values.shape[-1]}")
    halves = split_units(values.shape[-1], n_splits=n_splits, seed=seed)
    return NeuronSplit(chosen.name, _split_scores(values, chosen, halves), halves, int(seed))


def baseline_scores(X, measures, *, n_splits: int = 10, seed: int = 0,
                    baselines: Sequence[str] = BASELINES) -> BaselineResult:
    """Both baselines of Fig. 2c,d for several measures.

    Every measure sees the same neuron splits (:func:`split_units` with ``seed``), so the
    rows are paired across measures. ``condition_average``: ``measure(X, condition_average(X))``
    (X the reference); ``neuron_split``: :func:`neuron_split`.

    Args:
        X: ``(time, condition, unit)`` data or a :class:`~repalign.data.Dataset`
            (``(sample, unit)`` data only with ``baselines=("neuron_split",)``).
        measures: registry names or :class:`~repalign.registry.Measure` objects (or one of them).
        n_splits, seed: of the neuron split.
        baselines: which baselines, among :data:`BASELINES`.

    Returns:
        A :class:`BaselineResult`: its ``table`` has one row per (measure, baseline), with columns
        ``measure`` (the name as given, or the canonical name of a Measure), ``baseline``
        (``"condition_average"`` or ``"neuron_split"``), ``score`` (the score, or the mean over
        splits), ``std`` (over splits, ``ddof=1``; ``nan`` for the deterministic condition
        average and for a single split) and ``n`` (number of scores averaged: 1 or ``n_splits``).

    Raises:
        ValueError: naming the argument (``X``, ``measures``, ``baselines``, ``n_splits``, ``seed``).
    """
    pd = import_pandas()

    specs = check_items([measures] if isinstance(measures, (str, Measure)) else measures, "measures",
                        "measure names or Measures")
    chosen = [_check_measure(spec, "measures") for spec in specs]
    names = [m.name for _, m in chosen]
    if len(set(names)) != len(names):
        raise ValueError(f"measures: the same measure is named twice ({names})")
    if isinstance(baselines, str):
        baselines = [baselines]
    baselines = list(baselines)
    unknown = [b for b in baselines if b not in BASELINES]
    if unknown or not baselines or len(set(baselines)) != len(baselines):
        raise ValueError(f"baselines: expected distinct names among {BASELINES}, got {baselines!r}")
    n_splits, seed = check_count(n_splits, "n_splits", 1), check_seed(seed)
    values, _ = as_activity(X, "X")
    average = None
    if "condition_average" in baselines:
        if values.ndim != 3:
            raise ValueError(f"X: the condition average needs (time, condition, unit) activity; got 2D (sample, unit) "
                             f"data of shape {tuple(values.shape)} (use baselines=('neuron_split',))")
        average = values.mean(dim=1, keepdim=True).expand_as(values).contiguous()
    halves = None
    if "neuron_split" in baselines:
        if values.shape[-1] < 2:
            raise ValueError(f"X: the neuron split needs at least 2 units, got {values.shape[-1]}")
        halves = split_units(values.shape[-1], n_splits=n_splits, seed=seed)
    rows = []
    for label, m in chosen:
        for baseline in baselines:
            if baseline == "condition_average":
                with torch.no_grad():
                    score = float(torch.as_tensor(m(values, average)))
                rows.append((label, baseline, score, math.nan, 1))
            else:
                split = NeuronSplit(m.name, _split_scores(values, m, halves), halves)
                rows.append((label, baseline, split.mean, split.std, len(halves)))
    return BaselineResult(pd.DataFrame(rows, columns=list(_COLUMNS)), seed, n_splits)


@dataclass(frozen=True, eq=False)
class BaselineResult(Result):
    """The baselines of Fig. 2c,d for several measures (:func:`baseline_scores`).

    Attributes:
        table: one row per (measure, baseline): ``measure``, ``baseline``, ``score``, ``std``, ``n``.
        seed, n_splits: of the neuron splits.
    """

    record_kind = "baselines"

    table: object
    seed: int
    n_splits: int

    def score(self, measure: str, baseline: str) -> float:
        """The score (mean over splits for the neuron split) of ``baseline`` for ``measure`` (as in the table)."""
        rows = self.table[(self.table["measure"] == measure) & (self.table["baseline"] == baseline)]
        if rows.empty:
            raise ValueError(f"measure, baseline: no row for ({measure!r}, {baseline!r}); the table has measures "
                             f"{list(dict.fromkeys(self.table['measure']))} and baselines "
                             f"{list(dict.fromkeys(self.table['baseline']))}")
        return float(rows["score"].iloc[0])

    def plot(self, ax=None, *, models=None):
        """Fig. 2c,d: per measure, the baselines as short horizontal lines, optionally beside models.

        Measures are placed along x in the table's order. Condition average: a dashed line;
        neuron split: a dotted line with a grey band of ± one standard deviation over splits.
        ``models`` adds model scores as dots, one colour and marker per model: a tidy DataFrame (or
        mapping of columns) with columns ``measure`` (as in the table), ``model`` and ``score``;
        measures absent from the table are refused.
        """
        return _plot(self.table, ax, models)

    def save(self, path, *, models=None) -> list[str]:
        """Write :meth:`plot` as ``path``.png/.pdf and the table as ``path``.csv; returns the paths."""
        return super().save(path, models=models)

    def _record_settings(self) -> dict:
        return {"seed": self.seed, "n_splits": self.n_splits, "measures": list(dict.fromkeys(self.table["measure"])),
                "baselines": list(dict.fromkeys(self.table["baseline"]))}


def _plot(table, ax=None, models=None):
    check_table(table, _COLUMNS, "baseline")
    plt = import_pyplot()
    pd = import_pandas()

    order = list(dict.fromkeys(table["measure"]))
    position = {m: i for i, m in enumerate(order)}
    if models is not None:
        models = pd.DataFrame(models)
        missing = [c for c in ("measure", "model", "score") if c not in models.columns]
        if missing:
            raise ValueError(f"models: expected columns measure, model and score, missing {missing}")
        unknown = sorted(set(models["measure"]) - set(order))
        if unknown:
            raise ValueError(f"models: measure(s) {unknown} are not in the table ({order})")
    if ax is None:
        _, ax = plt.subplots(figsize=(max(3.0, 1.3 * len(order) + 1.5), 3.5))
    width = 0.38
    drawn = set()
    for row in table.itertuples(index=False):
        i = position[row.measure]
        style = _STYLES.get(row.baseline, "-")
        label = _LABELS.get(row.baseline, row.baseline)
        if row.baseline == "neuron_split" and np.isfinite(row.std):
            ax.fill_between([i - width, i + width], row.score - row.std, row.score + row.std, color="0.85", lw=0)
        ax.plot([i - width, i + width], [row.score, row.score], style, color="k", lw=1.4,
                label=None if row.baseline in drawn else label)
        drawn.add(row.baseline)
    if models is not None:
        markers = "osD^vP*X"
        palette = colours()
        names = list(dict.fromkeys(models["model"]))
        offsets = np.linspace(-0.25, 0.25, len(names)) if len(names) > 1 else [0.0]
        for k, name in enumerate(names):
            rows = models[models["model"] == name]
            xs = [position[m] + offsets[k] for m in rows["measure"]]
            ax.plot(xs, rows["score"], markers[k % len(markers)], color=palette[k % len(palette)], ms=5,
                    ls="none", label=str(name))
    ax.set_xticks(range(len(order)))
    ax.set_xticklabels(order, rotation=20, ha="right", fontsize="small")
    ax.set_xlim(-0.6, len(order) - 0.4)
    ax.set_ylabel("score (model or baseline vs data)")
    ax.set_title("baselines: condition average (dashed), neuron split (dotted)", fontsize="small")
    legend(ax, frameon=False, fontsize="x-small")
    return ax




# -- deprecated aliases of repalign 0.1 (removed in 0.3) ------------------------------------------------------


def baseline_table(X, measures, *, n_splits: int = 10, seed: int = 0, baselines: Sequence[str] = BASELINES):
    """Deprecated: ``baseline_scores(...).table``."""
    deprecated("repalign.baselines.baseline_table", "baseline_scores(...).table")
    return baseline_scores(X, measures, n_splits=n_splits, seed=seed, baselines=baselines).table


def plot_baselines(table, ax=None, *, models=None):
    """Deprecated: ``baseline_scores(...).plot(models=...)``."""
    deprecated("repalign.baselines.plot_baselines", "baseline_scores(...).plot(models=...)")
    return _plot(table_of(table), ax, models)


def save(table, path, *, models=None) -> list[str]:
    """Deprecated: ``baseline_scores(...).save(path, models=...)``."""
    deprecated("repalign.baselines.save", "baseline_scores(...).save(path)")
    table = table_of(table)
    return save_figure(_plot(table, models=models), table, path)

r"""Behaviour checks a neuroscientist runs on a trained network: psychometric curves and velocity fits.

**Psychometric curves** (Mante et al. 2013, Fig. 1c,d; issue 12's gating check). On the Mante
task's recording trials (``task.trials(conditions, repeats=R, seed=seed)``, input noise from the
task, recurrent noise from ``torch.Generator().manual_seed(seed)``), a trial's choice is choice 1 when
the choice-1 output exceeds the choice-2 output on average over the decision period,

.. math:: \text{choice}_b = 1 \iff \tfrac{1}{|D_b|}\sum_{t \in D_b} (y_{t b 1} - y_{t b 2}) > 0,

(the seed's accuracy, ``diffscore/env/task_acc.py``, takes the ``argmax`` per decision step; averaging
over the period gives one choice per trial). Per context, a logistic regression of the choices on
both signed coherences,

.. math:: P(\text{choice 1} \mid m, k) = \sigma(\beta_0 + \beta_m m + \beta_k k),

is fitted by maximum likelihood (Newton's method on the binomial counts of each condition) with a
small ridge penalty :math:`\tfrac\lambda2(\beta_m^2 + \beta_k^2)` that keeps the slopes finite when a
network separates the choices perfectly (``penalty=0`` gives the plain maximum likelihood). The
slope :math:`\beta_m` is the motion slope of the context, :math:`\beta_k` the colour slope; context
gating means :math:`\beta_m > 0`, :math:`\beta_m \ge 5 |\beta_k|` in the motion context and the
reverse in the colour context, with the choice swinging with the relevant coherence: P(choice 1)
rising by at least ``MIN_SWING`` (0.5) from its smallest to its largest value (``Psychometric.gating``).

**Velocity fit** (reaching): the outputs of the recording trials, averaged over repeats, against the
task's targets; per condition the R² of :func:`repalign.tasks.r2_score` over its masked steps and
both velocity components.
"""

from __future__ import annotations

import numpy as np
import torch

from repalign._checks import SettingsError, check_count, check_real, check_seed
from repalign._optional import import_pandas, import_pyplot
from repalign.models import RecurrentNetwork, StackedNetworks
from repalign.results import Result, colours, legend
from repalign.tasks import r2_score

__all__ = ["GATING_RATIO", "MIN_SWING", "Psychometric", "VelocityFit", "logistic_fit", "psychometric", "velocity_fit"]

GATING_RATIO = 5.0  # issue 12: the relevant slope at least 5x the irrelevant one
#: the least rise of P(choice 1) from the smallest to the largest relevant coherence of a gated context
MIN_SWING = 0.5
CONTEXTS = {1: "motion", -1: "colour"}


def logistic_fit(features, successes, trials, *, penalty: float = 0.0, max_iter: int = 100, tol: float = 1e-10):
    r"""Maximum-likelihood logistic regression on binomial counts, with an optional ridge on the slopes.

    Maximises :math:`\sum_i s_i \log p_i + (n_i - s_i)\log(1 - p_i) - \tfrac\lambda2 \lVert\beta\rVert^2`,
    :math:`p_i = \sigma(\beta_0 + x_i^\top \beta)`, by Newton's method (float64). ``features`` ``(n, d)``,
    ``successes`` and ``trials`` ``(n,)`` (fractional successes allowed: a probability times a weight).
    Returns ``(intercept, slopes (d,))``.

    >>> c = np.linspace(-1, 1, 9)[:, None]
    >>> b0, b = logistic_fit(c, 100 / (1 + np.exp(-(0.5 + 3 * c[:, 0]))), np.full(9, 100.0))
    >>> round(b0, 6), np.round(b, 6).tolist()
    (0.5, [3.0])
    """
    x = np.asarray(features, dtype=np.float64)
    x = x[:, None] if x.ndim == 1 else x
    s = np.asarray(successes, dtype=np.float64)
    n = np.asarray(trials, dtype=np.float64)
    if x.ndim != 2 or s.shape != (len(x),) or n.shape != (len(x),):
        raise SettingsError("features", "expected (n, d) features with n successes and n trial counts")
    if np.any(n <= 0) or np.any(s < 0) or np.any(s > n) or not np.all(np.isfinite(x)):
        raise SettingsError("successes", "expected finite features and 0 <= successes <= trials, trials > 0")
    penalty = check_real(penalty, "penalty", low=0.0)
    design = np.hstack([np.ones((len(x), 1)), x])
    ridge = np.full(design.shape[1], penalty)
    ridge[0] = 0.0
    beta = np.zeros(design.shape[1])
    for _ in range(check_count(max_iter, "max_iter", 1)):
        p = 1.0 / (1.0 + np.exp(-(design @ beta)))
        gradient = design.T @ (s - n * p) - ridge * beta
        hessian = (design * (n * p * (1 - p))[:, None]).T @ design + np.diag(ridge)
        step = np.linalg.lstsq(hessian, gradient, rcond=None)[0]
        beta = beta + step
        if np.max(np.abs(step)) < tol * (1.0 + np.max(np.abs(beta))):
            break
    return float(beta[0]), beta[1:]


def _outputs(network, inputs, seed: int) -> torch.Tensor:
    """``(time, batch, n_outputs)`` outputs of a network (a stack of one, or any callable ``inputs -> outputs``)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        if isinstance(network, StackedNetworks):
            if len(network) != 1:
                raise SettingsError("network", f"expected one network, got a stack of {len(network)}: pass "
                                               "stack.network(k)")
            out = network(inputs, noise_seed=generator)[0][0]
        elif isinstance(network, RecurrentNetwork):
            out = network(inputs, noise_seed=generator)[0]
        elif callable(network):
            out = network(inputs)
            out = out[0] if isinstance(out, tuple) else out
        else:
            raise SettingsError("network", f"expected a network or a callable, got {type(network).__name__}")
    out = torch.as_tensor(out)
    if out.dim() != 3 or tuple(out.shape[:2]) != tuple(inputs.shape[:2]):
        raise SettingsError("network", f"expected outputs (time, batch, n_outputs) = {tuple(inputs.shape[:2])} + "
                                       f"(n,), got {tuple(out.shape)}")
    return out.detach().to(torch.float64)


class Psychometric(Result):
    """Psychometric curves per context and modality, with the fitted logistic slopes.

    ``table``: tidy, one row per (context, modality, signed coherence): ``context`` (±1),
    ``context_name`` (``motion``/``colour``), ``modality``, ``coherence``, ``p_choice1`` (over the trials
    of every condition with that coherence on that modality), ``n_trials``. ``fits``: one row per
    (context, modality): ``slope``, ``intercept`` (the context's joint fit). ``gating``: per context,
    the ratio of the relevant to the irrelevant slope, the swing of the choice with the relevant
    coherence, and whether the context is gated (ratio ≥ :data:`GATING_RATIO`, swing ≥ :data:`MIN_SWING`).
    """

    record_kind = "psychometric"

    def __init__(self, table, fits, conditions, settings):
        self.table, self.fits, self.conditions, self.settings = table, fits, conditions, settings

    def slope(self, context: str, modality: str) -> float:
        """The fitted slope on ``modality``'s coherence in the ``context`` context (names ``motion``/``colour``)."""
        row = self.fits[(self.fits.context_name == context) & (self.fits.modality == modality)]
        if len(row) != 1:
            raise SettingsError("context", f"no fit for context {context!r} and modality {modality!r}")
        return float(row.slope.iloc[0])

    @property
    def gating(self):
        """Per context: relevant slope, irrelevant slope, their ratio, the relevant ``swing``, and ``gated``.

        ``swing``: P(choice 1) at the largest relevant coherence minus at the smallest (the observed
        choices). A context is ``gated`` when the ratio reaches :data:`GATING_RATIO` **and** the
        choice follows the relevant modality (``swing`` ≥ :data:`MIN_SWING`): a network that makes
        one choice on every trial has two vanishing slopes whose ratio means nothing.
        """
        pd = import_pandas()
        rows = []
        for context, name in CONTEXTS.items():
            other = CONTEXTS[-context]
            relevant, irrelevant = self.slope(name, name), self.slope(name, other)
            ratio = relevant / abs(irrelevant) if irrelevant != 0 else np.inf
            curve = self.table[(self.table.context_name == name) & (self.table.modality == name)]
            curve = curve.sort_values("coherence")
            swing = float(curve.p_choice1.iloc[-1] - curve.p_choice1.iloc[0])
            rows.append({"context_name": name, "relevant_slope": relevant, "irrelevant_slope": irrelevant,
                         "ratio": ratio, "swing": swing,
                         "gated": bool(relevant > 0 and ratio >= GATING_RATIO and swing >= MIN_SWING)})
        return pd.DataFrame(rows)

    def _record_tables(self):
        return {"table": self.table, "fits": self.fits, "conditions": self.conditions}

    def _record_settings(self):
        return self.settings

    def plot(self, ax=None):
        """The classic 2 × 2 panels: rows the contexts, columns the modality on the x axis; points and fits."""
        plt = import_pyplot()
        if ax is None:
            _, axes = plt.subplots(2, 2, figsize=(6, 5), sharey=True, squeeze=False)
        else:
            axes = np.asarray(ax).reshape(2, 2)
        colour_of = {"motion": colours()[0], "colour": colours()[1 % len(colours())]}
        for i, (context, name) in enumerate(CONTEXTS.items()):
            for j, modality in enumerate(("motion", "colour")):
                a = axes[i, j]
                rows = self.table[(self.table.context == context) & (self.table.modality == modality)]
                a.plot(rows.coherence, rows.p_choice1, "o", color=colour_of[name], label="network")
                fit = self.fits[(self.fits.context == context) & (self.fits.modality == modality)].iloc[0]
                grid = np.linspace(rows.coherence.min(), rows.coherence.max(), 101)
                a.plot(grid, self._fitted_curve(context, modality, grid), "-", color=colour_of[name],
                       label=f"fit, slope {fit.slope:.3g}")
                a.set_ylim(-0.05, 1.05)
                a.set_title(f"{name} context", fontsize="small")
                a.set_xlabel(f"{modality} coherence")
                if j == 0:
                    a.set_ylabel("P(choice 1)")
                legend(a)
        axes[0, 0].figure.tight_layout()
        return axes[0, 0]

    def _fitted_curve(self, context, modality, grid):
        """The fit's P(choice 1) along ``modality``, averaged over the context's conditions of the other one."""
        fits = self.fits[self.fits.context == context].set_index("modality")
        other = "colour" if modality == "motion" else "motion"
        levels = self.conditions.loc[self.conditions.context == context, other].to_numpy()
        z = (fits.intercept[modality] + fits.slope[modality] * grid[:, None] + fits.slope[other] * levels[None, :])
        return (1.0 / (1.0 + np.exp(-z))).mean(axis=1)


def psychometric(network, task, conditions=None, *, repeats: int = 20, seed: int = 0, penalty: float = 1e-3):
    """Psychometric curves and gating slopes of ``network`` on the Mante task (module docstring).

    Args:
        network: a :class:`~repalign.models.RecurrentNetwork`, a stack of one, or any callable mapping
            inputs ``(time, batch, 7)`` to outputs ``(time, batch, 3)`` (or ``(outputs, activity)``).
        task: a :class:`~repalign.tasks.ManteTask`.
        conditions: the conditions to run (default ``task.conditions()``, the 72 recording conditions).
        repeats: trials per condition; seed: input and recurrent noise; penalty: the ridge λ on the slopes.

    Example:
        >>> from repalign.tasks import ManteTask
        >>> def ideal(x):  # reports the cued modality's evidence: unit 1 − unit 2 (motion), 3 − 4 (colour)
        ...     evidence = torch.where(x[..., 5:6] > 0.5, x[..., 1:2] - x[..., 2:3], x[..., 3:4] - x[..., 4:5])
        ...     return torch.cat([torch.zeros_like(evidence), evidence.cumsum(0), -evidence.cumsum(0)], -1)
        >>> result = psychometric(ideal, ManteTask(), repeats=5, seed=0)
        >>> result.gating.gated.tolist()
        [True, True]
    """
    pd = import_pandas()
    repeats = check_count(repeats, "repeats", 1)
    seed = check_seed(seed)
    table = task.conditions() if conditions is None else conditions
    batch = task.trials(table, repeats=repeats, seed=seed)
    if "decision" not in batch.periods:
        raise SettingsError("task", "expected a task with a decision period (the Mante task)")
    out = _outputs(network, batch.inputs, seed)
    if out.shape[-1] < 3:
        raise SettingsError("network", f"expected 3 outputs (fixate, choice 1, choice 2), got {out.shape[-1]}")
    decision = batch.periods["decision"].to(torch.float64)
    margin = ((out[..., 1] - out[..., 2]) * decision).sum(0) / decision.sum(0).clamp(min=1)
    trials = batch.conditions.copy()
    trials["choice1"] = (margin > 0).numpy().astype(np.float64)
    per_condition = trials.groupby(trials.index // repeats).agg(
        context=("context", "first"), motion=("motion", "first"), colour=("colour", "first"),
        p_choice1=("choice1", "mean"))
    per_condition["n_trials"] = repeats
    rows, fits = [], []
    for context, name in CONTEXTS.items():
        part = per_condition[per_condition.context == context]
        if len(part) == 0:
            continue
        intercept, slopes = logistic_fit(part[["motion", "colour"]].to_numpy(), part.p_choice1 * repeats,
                                         np.full(len(part), float(repeats)), penalty=penalty)
        for modality, slope in zip(("motion", "colour"), slopes):
            fits.append({"context": context, "context_name": name, "modality": modality, "slope": float(slope),
                         "intercept": intercept})
            curve = part.groupby(modality).agg(p_choice1=("p_choice1", "mean"), n=("n_trials", "sum"))
            for coherence, row in curve.iterrows():
                rows.append({"context": context, "context_name": name, "modality": modality,
                             "coherence": float(coherence), "p_choice1": float(row.p_choice1),
                             "n_trials": int(row.n)})
    settings = {"repeats": repeats, "seed": seed, "penalty": penalty, "task": repr(task),
                "network": network.settings() if hasattr(network, "settings") else repr(network)}
    return Psychometric(pd.DataFrame(rows), pd.DataFrame(fits), per_condition.reset_index(drop=True), settings)


class VelocityFit(Result):
    """Predicted against true hand velocity per reaching condition.

    ``table``: one row per condition: the task's condition columns and ``r2`` (that condition's R²).
    ``r2``: the R² over every condition. ``predicted``, ``true``: ``(time, condition, 2)`` arrays;
    ``time_s``: the time of each recorded step from the trial's start (s).
    """

    record_kind = "velocity_fit"

    def __init__(self, table, r2, predicted, true, time_s, settings):
        self.table, self.r2, self.predicted, self.true, self.time_s = table, r2, predicted, true, time_s
        self.settings = settings

    def _record_settings(self):
        return {**self.settings, "r2": self.r2}

    def _record_arrays(self):
        return {"predicted": self.predicted, "true": self.true, "time_s": self.time_s}

    def plot(self, ax=None):
        """Two panels, x and y velocity against time: true (solid) and predicted (dashed) per condition."""
        plt = import_pyplot()
        if ax is None:
            _, axes = plt.subplots(1, 2, figsize=(8, 3.2), sharey=True)
        else:
            axes = np.asarray(ax).ravel()
        palette = colours()
        key = "reach_direction_deg" if "reach_direction_deg" in self.table else None
        labels = self.table[key].tolist() if key else list(range(len(self.table)))
        for j, component in enumerate(("x", "y")):
            a = axes[j]
            for c in range(self.true.shape[1]):
                colour = palette[c % len(palette)]
                a.plot(self.time_s, self.true[:, c, j], "-", color=colour, label=f"{labels[c]:g}" if j == 0 else None)
                a.plot(self.time_s, self.predicted[:, c, j], "--", color=colour)
            a.set_xlabel("time (s)")
            a.set_ylabel(f"{component} velocity")
            a.set_title(f"{component}: true (solid), predicted (dashed); R² {self.r2:.3f}", fontsize="small")
        legend(axes[0], title=key or "condition", ncol=2)
        axes[0].figure.tight_layout()
        return axes[0]


def velocity_fit(network, task, conditions=None, *, repeats: int = 1, seed: int = 0):
    """R² of ``network``'s predicted hand velocity against the reaching task's, per condition.

    ``network`` as for :func:`psychometric` (outputs ``(time, batch, 2)``); ``task`` a
    :class:`~repalign.tasks.ReachingTask` (or any regression task with ``record_steps``); the outputs
    of the ``repeats`` trials of each condition are averaged before the R².

    >>> from repalign.tasks import ReachingTask
    >>> task = ReachingTask.synthetic()
    >>> perfect = lambda x: torch.as_tensor(task.velocity, dtype=torch.float32)[:, :x.shape[1]]
    >>> velocity_fit(perfect, task).r2
    1.0
    """
    repeats = check_count(repeats, "repeats", 1)
    seed = check_seed(seed)
    table = task.conditions() if conditions is None else conditions
    batch = task.trials(table, repeats=repeats, seed=seed)
    if batch.targets.dim() != 3:
        raise SettingsError("task", "expected a regression task with (time, batch, n_outputs) targets")
    out = _outputs(network, batch.inputs, seed)
    if out.shape != batch.targets.shape:
        raise SettingsError("network", f"expected outputs {tuple(batch.targets.shape)}, got {tuple(out.shape)}")
    T, n = batch.n_time, len(table)
    predicted = out.reshape(T, n, repeats, -1).mean(2)
    true = batch.targets.to(torch.float64).reshape(T, n, repeats, -1)[:, :, 0]
    mask = batch.mask.to(torch.float64).reshape(T, n, repeats)[:, :, 0]
    result = batch.conditions.iloc[::repeats].reset_index(drop=True).drop(columns="repeat", errors="ignore")
    result["r2"] = [r2_score(predicted[:, c:c + 1], true[:, c:c + 1], mask[:, c:c + 1]) for c in range(n)]
    steps = np.arange(T) if batch.record_steps is None else np.asarray(batch.record_steps)
    settings = {"repeats": repeats, "seed": seed, "task": repr(task),
                "network": network.settings() if hasattr(network, "settings") else repr(network)}
    return VelocityFit(result, r2_score(predicted, true, mask), predicted[steps].numpy(), true[steps].numpy(),
                       steps * float(task.dt), settings)

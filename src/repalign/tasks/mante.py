r"""The context-dependent integration task of Mante et al. (2013), as the seed paper's code defines it.

Source: nacloos/diffscore ``diffscore/env/mante.py`` (``env_mante`` / ``env_mante_test``, the
``CtxdmEnv`` built on neurogym's ``TrialEnv``), ``diffscore/training/trainer.py``
(``NGymOnlineDataset``, ``CrossEntropyLoss``), ``diffscore/env/task_acc.py`` (accuracy) and
``diffscore/dataset/mante2013.py`` (the 72 recorded conditions, 50 ms bins over the 750 ms
stimulus). Below, "seed" names those files.

A trial (``dt`` = 50 ms; periods floored to whole steps as neurogym's ``sample_time``,
``(t // dt) * dt``): fixation 350 ms (7 steps), stimulus 750 ms (15), delay, decision 300 ms (6).
The delay is random for training — exponential with mean 300 ms truncated to ``[0, max_delay)``
by resampling (the seed's ``["truncated_exponential", [300, 0, 3000]]``) — and 300 ms for
recording (``env_mante_test``).

Inputs (7, the seed's order): 0 fixation; 1–2 motion evidence; 3–4 colour evidence; 5–6 context
cues (``[1, 0]``: report the motion, ``context = +1``; ``[0, 1]``: the colour, ``context = −1``).
With signed coherence :math:`c` of a modality, its two units carry during the stimulus

.. math:: u_1 = 0.8\,\tfrac{1 + c}{2}, \qquad u_2 = 0.8\,\tfrac{1 - c}{2}

(the seed's ``_gaussianbump``, ``diffscore/env/mante.py`` line 17, of strength ``0.5 ± c/2`` at its own ring position; the other
position's bump, :math:`0.8 e^{-32}` ≈ 1e-14 of it, is below float32's resolution and omitted).
Fixation is 1 until the decision and 0 in it; the context cue is on for the whole trial. Input
noise :math:`\mathcal N(0, \sigma^2/\mathrm{dt_{ms}})` (σ = 1, i.e. std 0.1414 per 50 ms step; the
seed's ``self.sigma = sigma / np.sqrt(self.dt)``, line 43, with ``sigma=1.0``, line 29) is added to all 7 inputs during the stimulus
(neurogym's ``add_randn`` without ``where``). Coherences: each modality's strength drawn
uniformly from ``{0.06, 0.17, 0.5}`` (``cohs`` of ``env_mante``) and its sign uniformly; context
uniformly.

Targets: class 0 (fixate) before the decision; in the decision, class 1 when the relevant
modality's coherence is positive (``choice = +1``), class 2 when negative (``choice = −1``, the
seed's dataset maps ``gt_choice −1`` to 2). Outputs: fixate / choice 1 / choice 2, trained with
cross-entropy (``loss = "cross_entropy"``). :meth:`ManteTask.accuracy` is the seed's
``trial_choice_acc`` (``diffscore/env/task_acc.py`` line 19): the fraction of decision-period steps whose ``argmax`` output is the target.

Deliberate differences from the seed:

- **Side of the evidence fixed.** The seed places ``coh1`` at a random ring position per trial
  (``theta1``), so which input unit carries the positive evidence and which output is correct
  are randomised; here unit 1 of each modality and output 1 always stand for ``choice = +1``,
  so that a condition (context, motion, colour) fixes the inputs and the correct output.
- **One trial per sequence.** The seed fills 2000 ms sequences (40 steps) with back-to-back
  trials and cuts the last one; here each sequence holds one trial padded with zeros (mask 0)
  to ``fixation + stimulus + max_delay + decision`` (40 steps with ``max_delay`` = 600 ms), and
  the delay distribution is truncated at ``max_delay`` instead of 3000 ms — in the seed a delay
  over 600 ms pushes the decision out of the sequence.
- **Loss mask.** The seed's loss covers every step; here the padding is masked out.

The recording conditions (:meth:`ManteTask.conditions`) are the 72 = 2 contexts × 6 motion × 6
colour coherences, in ``repalign.data.mante_like``'s row-major order and with its columns and
value conventions (``context`` ±1, ``motion``, ``colour``, ``choice`` ±1, ``motion_sign``,
``colour_sign``). ``mante_like`` uses the levels ±{0.05, 0.15, 0.5} (motion) and ±{0.06, 0.18,
0.5} (colour); the seed's task ±{0.06, 0.17, 0.5} for both: pass ``motion_strengths`` and
``colour_strengths`` to record at the data's levels. The recording window is the stimulus
period: 15 bins of 50 ms (``record_steps``), as ``mante_like`` and the seed's dataset.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from .._checks import SettingsError, check_count, check_items, check_real, check_seed
from .._optional import import_pandas
from ._protocol import Task, TaskBatch

__all__ = ["ManteTask"]

SEED_STRENGTHS = (0.06, 0.17, 0.5)  # diffscore/env/mante.py, env_mante: cohs=[0.06, 0.17, 0.5]
TASK_COLUMNS = ("context", "motion", "colour", "choice", "motion_sign", "colour_sign")


def _strengths(value, name):
    levels = check_items(value, name, "coherence strengths", distinct=True)
    return tuple(sorted(check_real(v, name, low=0.0, high=1.0, inclusive=(False, True)) for v in levels))


def _truncated_exponential(rng: np.random.Generator, mean: float, high: float, size: int) -> np.ndarray:
    """Exponential draws of ``mean`` kept in ``[0, high)`` by resampling (neurogym's ``trunc_exp``)."""
    out = rng.exponential(mean, size)
    bad = out >= high
    while bad.any():
        out[bad] = rng.exponential(mean, int(bad.sum()))
        bad = out >= high
    return out


class ManteTask(Task):
    """Context-dependent integration (Mante et al. 2013) as the seed paper's code defines it.

    Args:
        motion_strengths, colour_strengths: positive coherence levels, each used with both signs
            (default the seed's ``(0.06, 0.17, 0.5)``, ``diffscore/env/mante.py``).
        sigma: input noise σ; the per-step std is ``σ / sqrt(dt in ms)`` (seed: σ = 1.0,
            ``_DMFamily.__init__``).
        fixation, stimulus, decision: period durations in ms (seed: 350, 750, 300).
        delay_mean, max_delay: training delay, exponential of mean ``delay_mean`` truncated to
            ``[0, max_delay)`` (seed: mean 300; see the module docstring for ``max_delay``).
        record_delay: the recording trials' fixed delay in ms (seed: 300, ``env_mante_test``).

    Example:
        >>> task = ManteTask()
        >>> b = task.batch(64, seed=0)
        >>> b.inputs.shape, b.targets.shape, task.n_outputs
        (torch.Size([40, 64, 7]), torch.Size([40, 64]), 3)
        >>> rec = task.trials(repeats=2)
        >>> rec.size, rec.record_steps.tolist() == list(range(7, 22)), len(task.conditions())
        (144, True, 72)
    """

    n_inputs = 7
    n_outputs = 3
    loss = "cross_entropy"
    criterion = 0.93  # issue 12: decision accuracy >= 0.93 on held-out trials

    def __init__(self, *, motion_strengths=SEED_STRENGTHS, colour_strengths=SEED_STRENGTHS, sigma: float = 1.0,
                 fixation: float = 350.0, stimulus: float = 750.0, decision: float = 300.0,
                 delay_mean: float = 300.0, max_delay: float = 600.0, record_delay: float = 300.0):
        self.motion_strengths = _strengths(motion_strengths, "motion_strengths")
        self.colour_strengths = _strengths(colour_strengths, "colour_strengths")
        self.sigma = check_real(sigma, "sigma", low=0.0)
        self.dt_ms = 50.0
        self.dt = self.dt_ms / 1000.0
        self.fixation_steps = self._steps(fixation, "fixation", 1)
        self.stimulus_steps = self._steps(stimulus, "stimulus", 1)
        self.decision_steps = self._steps(decision, "decision", 1)
        self.delay_mean = check_real(delay_mean, "delay_mean", low=0.0, inclusive=(False, True))
        self.max_delay = check_real(max_delay, "max_delay", low=0.0)
        if self.max_delay < self.dt_ms:  # check_real's message fails with a non-zero low and no high
            raise SettingsError("max_delay", f"expected at least one step ({self.dt_ms:g} ms), got {self.max_delay:g}")
        self.record_delay_steps = self._steps(record_delay, "record_delay", 0)
        self.n_time = self.fixation_steps + self.stimulus_steps + self.decision_steps + int(self.max_delay // self.dt_ms)

    def _steps(self, ms, name, low):
        ms = check_real(ms, name, low=0.0)
        steps = int(ms // self.dt_ms)
        if steps < low:
            raise SettingsError(name, f"expected at least {low} step(s) of {self.dt_ms:g} ms, got {ms:g} ms")
        return steps

    def __repr__(self):
        return (f"ManteTask(motion_strengths={self.motion_strengths}, colour_strengths={self.colour_strengths}, "
                f"sigma={self.sigma:g})")

    @property
    def noise_std(self) -> float:
        """Per-step standard deviation of the input noise, ``σ / sqrt(dt in ms)``."""
        return self.sigma / math.sqrt(self.dt_ms)

    @property
    def record_window(self) -> tuple[float, float]:
        """Start and end of the recording window in s from trial start (the stimulus period)."""
        start = self.fixation_steps * self.dt
        return start, start + self.stimulus_steps * self.dt

    def conditions(self):
        """The recording conditions: context × motion × colour, row-major as ``mante_like``'s table."""
        pd = import_pandas()
        motion = [-s for s in reversed(self.motion_strengths)] + list(self.motion_strengths)
        colour = [-s for s in reversed(self.colour_strengths)] + list(self.colour_strengths)
        context, m, k = (a.ravel() for a in np.meshgrid([1, -1], motion, colour, indexing="ij"))
        return self._table(pd, context, m, k)

    @staticmethod
    def _table(pd, context, motion, colour, **extra):
        context = np.asarray(context, dtype=np.int64)
        motion, colour = np.asarray(motion, dtype=np.float64), np.asarray(colour, dtype=np.float64)
        choice = np.sign(np.where(context > 0, motion, colour)).astype(np.int64)
        return pd.DataFrame({"context": context, "motion": motion, "colour": colour, "choice": choice,
                             "motion_sign": np.sign(motion).astype(np.int64),
                             "colour_sign": np.sign(colour).astype(np.int64), **extra})

    def batch(self, size: int, *, seed: int) -> TaskBatch:
        """``size`` training trials: random context, coherences and delay, drawn with ``seed``."""
        size = check_count(size, "size", 1)
        rng = np.random.default_rng(check_seed(seed))
        context = rng.choice([1, -1], size)
        motion = rng.choice(self.motion_strengths, size) * rng.choice([-1.0, 1.0], size)
        colour = rng.choice(self.colour_strengths, size) * rng.choice([-1.0, 1.0], size)
        delay = _truncated_exponential(rng, self.delay_mean, self.max_delay, size)
        delay_steps = (delay // self.dt_ms).astype(np.int64)
        table = self._table(import_pandas(), context, motion, colour, delay_ms=delay_steps * self.dt_ms)
        return self._build(table, delay_steps, self.n_time, rng, record=False)

    def trials(self, conditions=None, *, repeats: int = 1, seed: int = 0) -> TaskBatch:
        """Recording trials: fixed delay, ``repeats`` noisy repeats of each row of ``conditions``.

        ``conditions`` is a table with ``context``, ``motion`` and ``colour`` columns (default
        :meth:`conditions`); the choice and signs are recomputed, other columns kept, and a
        ``repeat`` column added. Batch entry ``c * repeats + r`` is repeat ``r`` of row ``c``.
        """
        pd = import_pandas()
        table = self.conditions() if conditions is None else conditions
        missing = [c for c in ("context", "motion", "colour") if c not in getattr(table, "columns", ())]
        if missing:
            raise SettingsError("conditions", f"expected a table with columns context, motion, colour; missing {missing}")
        repeats = check_count(repeats, "repeats", 1)
        rng = np.random.default_rng(check_seed(seed))
        if not set(np.unique(table["context"])) <= {1, -1}:
            raise SettingsError("conditions", "context must be +1 (motion) or -1 (colour)")
        for column in ("motion", "colour"):
            values = np.asarray(table[column], dtype=np.float64)
            if not (np.all(np.isfinite(values)) and np.all(np.abs(values) <= 1)):
                raise SettingsError("conditions", f"{column} coherences must lie in [-1, 1]")
        rows = table.loc[table.index.repeat(repeats)].reset_index(drop=True)
        derived = self._table(pd, rows["context"], rows["motion"], rows["colour"])
        for column in derived:
            rows[column] = derived[column]
        rows["repeat"] = np.tile(np.arange(repeats), len(table))
        delay_steps = np.full(len(rows), self.record_delay_steps)
        n_time = self.fixation_steps + self.stimulus_steps + self.record_delay_steps + self.decision_steps
        return self._build(rows, delay_steps, n_time, rng, record=True)

    def _build(self, table, delay_steps, n_time, rng, record):
        size = len(table)
        fix, stim, dec = self.fixation_steps, self.stimulus_steps, self.decision_steps
        t = np.arange(n_time)[:, None]
        decision_start = fix + stim + delay_steps[None, :]
        in_trial = t < decision_start + dec
        in_stimulus = np.broadcast_to((t >= fix) & (t < fix + stim), (n_time, size))
        in_decision = (t >= decision_start) & in_trial
        context = table["context"].to_numpy()
        x = np.zeros((n_time, size, self.n_inputs), dtype=np.float64)
        x[..., 0] = (t < decision_start)
        for unit, column in ((1, "motion"), (3, "colour")):
            coherence = table[column].to_numpy(dtype=np.float64)
            x[..., unit] = in_stimulus * 0.8 * (1 + coherence) / 2
            x[..., unit + 1] = in_stimulus * 0.8 * (1 - coherence) / 2
        x[..., 5] = in_trial * (context > 0)
        x[..., 6] = in_trial * (context < 0)
        noise = rng.standard_normal((stim, size, self.n_inputs)) * self.noise_std
        x[fix:fix + stim] += noise
        choice = table["choice"].to_numpy()
        y = np.where(in_decision, np.where(choice > 0, 1, 2), 0).astype(np.int64)
        periods = {"fixation": t < fix, "stimulus": in_stimulus, "delay": (t >= fix + stim) & (t < decision_start),
                   "decision": in_decision}
        return TaskBatch(
            torch.from_numpy(x.astype(np.float32)), torch.from_numpy(y), torch.from_numpy(in_trial.astype(np.float32)),
            table, {name: torch.from_numpy(np.broadcast_to(p, (n_time, size)).copy())
             for name, p in periods.items()},
            np.arange(fix, fix + stim) if record else None,
        )

    def accuracy(self, outputs: torch.Tensor, batch: TaskBatch) -> float:
        """Decision accuracy: fraction of decision-period steps where ``argmax(outputs)`` is the target.

        The seed's ``trial_choice_acc`` (``diffscore/env/task_acc.py``), whose decision steps are
        those with fixation input 0.

        >>> task = ManteTask(); b = task.batch(8, seed=1)
        >>> task.accuracy(torch.nn.functional.one_hot(b.targets, 3).float(), b)
        1.0
        """
        if tuple(outputs.shape) != (batch.n_time, batch.size, self.n_outputs):
            raise SettingsError("outputs", f"expected shape {(batch.n_time, batch.size, self.n_outputs)}, "
                                           f"got {tuple(outputs.shape)}")
        decision = batch.periods["decision"]
        correct = (outputs.detach().argmax(-1) == batch.targets) & decision
        return float(correct.sum() / decision.sum())

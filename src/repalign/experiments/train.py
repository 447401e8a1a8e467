"""Train a zoo of task-trained networks and check their behaviour: ``repalign train`` (issue 12).

The models of the seed paper's Fig. 2: one recurrent network per architecture and seed, trained on
the animal's task (nacloos/diffscore ``diffscore/training/trainer.py``: Adam lr 1e-3, batches of
64, hidden 100, the decision accuracy of ``diffscore/env/task_acc.py`` as held-out accuracy), all
trained together in one call of :func:`repalign.training.train`, each network stopped at its own
criterion (held-out decision accuracy ≥ 0.93 for the Mante task; velocity R² ≥ 0.9 for reaching,
on both jittered held-out trials and the recording's 8 unjittered conditions, so that each reaching
network at criterion has a velocity R² ≥ 0.9 below) or at ``max_steps``. Then the checks a
neuroscientist runs before recording a model (``diffscore/training/record.py`` and
``diffscore/dataset/mante2013.py`` record it under the data's conditions;
:func:`repalign.recording.record` does so):

- **Mante task**: the psychometric curves of every network (:func:`repalign.recording.psychometric`)
  and its context gating — in each context the fitted slope on the relevant coherence at least
  :data:`~repalign.recording.GATING_RATIO` (5) times the slope on the irrelevant one, and the
  choice swinging with the relevant coherence (P(choice 1) rising by at least
  :data:`~repalign.recording.MIN_SWING`, 0.5, across it).
- **reaching** (the M1 recording's centre-out task, :meth:`repalign.tasks.ReachingTask.from_recording`):
  the R² of each network's predicted hand velocity against the recording's on its 8 conditions
  (:func:`repalign.recording.velocity_fit`).

A network that does not reach criterion is kept and reported (``reached`` False), never dropped.

Example:
    >>> import warnings
    >>> from repalign import experiments
    >>> with warnings.catch_warnings(record=True) as caught:  # 2 steps: short of criterion, and train() says so
    ...     record = experiments.run("train", {"task": "mante", "architectures": ["CTRNN-Tanh"], "seeds": [0],
    ...                                        "max_steps": 2, "hidden_size": 4, "eval_every": 1, "repeats": 2})
    >>> sorted(record.tables), record.table.columns.tolist()[-2:], record.table.reached.tolist()
    (['curves', 'gating', 'networks'], ['criterion', 'gated'], [False])
"""

from __future__ import annotations

import dataclasses
import inspect
from typing import NamedTuple

import numpy as np

from .._checks import SettingsError, check_bool, check_choice, check_count, check_items, check_path, check_seed
from .._optional import import_pandas
from ..models import ARCHITECTURES, HIDDEN_SIZE
from ..recording import psychometric, velocity_fit
from ..results import Record
from ..tasks import ManteTask, ReachingTask
from ..training import train
from ._base import ExperimentSettings, Output

__all__ = ["ARCHITECTURE_NAMES", "NAME", "TASKS", "Settings", "Zoo", "run", "train_zoo"]

NAME = "train"
TASKS = ("mante", "reaching")
#: the nine architectures by name, ``"CELL-ACTIVATION"`` (``"CTRNN-ReLU"`` ...)
ARCHITECTURE_NAMES = tuple(f"{cell}-{activation}" for cell, activation in ARCHITECTURES)
# the defaults of repalign.training.train, read here and by `repalign train`
_TRAIN_DEFAULTS = {name: parameter.default for name, parameter in
                   inspect.signature(train).parameters.items()}


def _architectures(value) -> tuple[str, ...]:
    names = [value] if isinstance(value, str) else check_items(value, "architectures", "architecture names",
                                                                   distinct=True)
    unknown = [n for n in names if n not in ARCHITECTURE_NAMES]
    if unknown:
        raise SettingsError("architectures", f"unknown architecture(s) {unknown}; expected names among "
                                             f"{list(ARCHITECTURE_NAMES)}")
    return tuple(names)


def _seeds(value) -> tuple[int, ...]:
    items = [value] if isinstance(value, int) and not isinstance(value, bool) else check_items(
        value, "seeds", "network seeds", distinct=True)
    return tuple(check_seed(s, "seeds") for s in items)


@dataclasses.dataclass(frozen=True)
class Settings(ExperimentSettings):
    """Which networks to train on which task, how long, and how to check them.

    Training defaults are those of :func:`repalign.training.train` (the seed code's: hidden 100,
    Adam lr 1e-3, batches of 64; at most 10 000 steps, held-out evaluation every 50).

    Attributes:
        task: ``"mante"`` (context-dependent integration, :class:`~repalign.tasks.ManteTask`) or
            ``"reaching"`` (the M1 recording's centre-out reaching, which needs the recording file).
        architectures: architecture names ``"CELL-ACTIVATION"`` (default all nine:
            :data:`ARCHITECTURE_NAMES`).
        seeds: one network per seed and architecture (default 0, 1, 2).
        max_steps: the training step cap; networks not at criterion by then are reported.
        hidden_size: units per network.
        eval_every: training steps between held-out evaluations.
        repeats: trials per condition of the behaviour checks (psychometric curves; velocity fit).
        seed: seed of the training batches and of the behaviour checks' noise.
        m1: the M1 recording file for ``task="reaching"`` (None: looked for in ``../shared/data``).
        checkpoint: a checkpoint file, resumed from when present (None: none).
        progress: progress bar (None: in a terminal only, once training lasts).
    """

    task: str = "mante"
    architectures: tuple = ARCHITECTURE_NAMES
    seeds: tuple = (0, 1, 2)
    max_steps: int = _TRAIN_DEFAULTS["max_steps"]
    hidden_size: int = HIDDEN_SIZE
    eval_every: int = _TRAIN_DEFAULTS["eval_every"]
    repeats: int = 20
    seed: int = 0
    m1: str | None = None
    checkpoint: str | None = None
    progress: bool | None = None

    def __post_init__(self):
        set_ = object.__setattr__
        check_choice(self.task, "task", TASKS)
        set_(self, "architectures", _architectures(self.architectures))
        set_(self, "seeds", _seeds(self.seeds))
        set_(self, "max_steps", check_count(self.max_steps, "max_steps", 1))
        set_(self, "hidden_size", check_count(self.hidden_size, "hidden_size", 1))
        set_(self, "eval_every", check_count(self.eval_every, "eval_every", 1))
        set_(self, "repeats", check_count(self.repeats, "repeats", 1))
        set_(self, "seed", check_seed(self.seed))
        set_(self, "m1", check_path(self.m1, "m1", allow_none=True))
        if self.m1 is not None and self.task != "reaching":
            raise SettingsError("m1", "the M1 recording file is used by task='reaching' only")
        set_(self, "checkpoint", check_path(self.checkpoint, "checkpoint", allow_none=True))
        check_bool(self.progress, "progress", allow_none=True)

    def make_task(self):
        """The task object: ``ManteTask()`` or ``ReachingTask.from_recording(m1)`` (an error naming ``m1``
        when the file is absent)."""
        if self.task == "mante":
            return ManteTask()
        try:
            return ReachingTask.from_recording(self.m1)
        except FileNotFoundError as error:
            raise SettingsError("m1", f"the reaching task needs the M1 recording: {error}") from None


def run(settings: Settings, out=None) -> Record:
    """Train the zoo, check each network's behaviour, write networks, curves and figures to ``out``.

    Tables: ``networks`` (one row per network: architecture, cell, activation, seed, reached,
    steps, accuracy, criterion, and ``gated`` or ``r2``), ``curves`` (held-out accuracy and training
    loss at every evaluation), and ``gating`` (Mante: per network and context the relevant and
    irrelevant slopes, their ratio and ``gated``) or ``velocity`` (reaching: per network and
    condition the R² of the hand velocity). Arrays: ``losses`` (step × network training losses).
    Files: those of :func:`train_zoo`.
    """
    output = Output(out)
    zoo = train_zoo(settings, output)
    tables = {"networks": zoo.networks, "curves": zoo.result.curves, zoo.behaviour_name: zoo.behaviour}
    return Record(f"experiments.{NAME}", {**settings.to_dict(), "training": zoo.result.settings}, tables,
                  {"losses": np.asarray(zoo.result.losses)}, files=output.files)


class Zoo(NamedTuple):
    """What :func:`train_zoo` gives back: the task, the trained networks and their checks.

    Attributes:
        task: the task object the networks were trained on (:meth:`Settings.make_task`).
        result: the :class:`~repalign.training.TrainingResult` (its ``networks`` are the trained stacks).
        networks: ``result.table`` with ``gated`` (Mante) or ``r2`` (reaching) per network.
        behaviour: the ``gating`` (Mante) or ``velocity`` (reaching) table, one block per network.
        behaviour_name: ``"gating"`` or ``"velocity"``.
    """

    task: object
    result: object
    networks: object
    behaviour: object
    behaviour_name: str


def train_zoo(settings: Settings, output: Output) -> Zoo:
    """Train the zoo of ``settings``, check each network's behaviour, write everything to ``output``.

    What :func:`run` records, with the networks themselves (the demo records them). Files:
    ``ARCHITECTURE.npz`` (each stack, :meth:`repalign.models.StackedNetworks.save`), ``networks.csv``,
    ``curves`` (PNG, PDF, CSV), then for Mante ``gating.csv`` and ``psychometric_ARCHITECTURE_sSEED``
    (PNG, PDF, CSV) per network, for reaching ``velocity.csv`` and ``velocity_ARCHITECTURE_sSEED``
    (PNG, PDF, CSV) of the first network.
    """
    pd = import_pandas()

    task = settings.make_task()
    pairs = [tuple(name.split("-", 1)) for name in settings.architectures]
    # a network short of criterion stays in every table (reached False) and train() warns, naming it
    result = train(task, pairs, list(settings.seeds), max_steps=settings.max_steps, hidden_size=settings.hidden_size,
                   eval_every=settings.eval_every, checkpoint=settings.checkpoint, progress=settings.progress,
                   seed=settings.seed, threads=None)
    networks = result.table.copy()
    for name, stack in result.networks.items():
        path = output.file(f"{name}.npz")
        if path is not None:
            stack.save(path)
    output.figure(result.plot(), result.curves, "curves")

    behaviour_rows, per_network = [], []
    first = True
    for name, stack in result.networks.items():
        for k, network_seed in enumerate(stack.seeds):
            network = stack.network(k)
            stem = f"{name}_s{network_seed}"
            if settings.task == "mante":
                curves = psychometric(network, task, repeats=settings.repeats, seed=settings.seed)
                gating = curves.gating
                gating.insert(0, "seed", network_seed)
                gating.insert(0, "architecture", name)
                behaviour_rows.append(gating)
                per_network.append(bool(gating.gated.all()))
                output.save(curves, f"psychometric_{stem}")
            else:
                fit = velocity_fit(network, task, repeats=settings.repeats, seed=settings.seed)
                table = fit.table.copy()
                table.insert(0, "seed", network_seed)
                table.insert(0, "architecture", name)
                behaviour_rows.append(table)
                per_network.append(fit.r2)
                if first:
                    output.save(fit, f"velocity_{stem}")
                    first = False
    column, table_name = ("gated", "gating") if settings.task == "mante" else ("r2", "velocity")
    networks[column] = per_network
    behaviour = pd.concat(behaviour_rows, ignore_index=True)
    output.table(networks, "networks")
    output.table(behaviour, table_name)
    return Zoo(task, result, networks, behaviour, table_name)


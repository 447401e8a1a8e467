"""A zoo of task-trained networks against a recording, with uncertainty: ``repalign compare-models`` (Fig. 2, C5).

The seed paper's Fig. 2c,d: networks of several architectures and seeds trained on the animal's task,
recorded at the recording's conditions and scored against it with several measures, beside the
condition-average and neuron-split baselines. Here every score carries an interval from resampling the
conditions and a permutation null, and the measures' agreement (Kendall's τ_b between their model
rankings, with its interval; which models sit above each baseline) is read against the
paper's claim C5 (:mod:`repalign.comparison`).

- ``task="mante"``: the reference is ``mante_like`` (or ``reference=PATH``), the networks are trained
  on (or loaded for) the Mante task and recorded at the reference's conditions on its stimulus bins;
- ``task="reaching"``: the reference is the M1 recording (or ``reference=PATH``), the networks those
  of the recording's centre-out task.

The zoo is trained here (:func:`repalign.experiments.train.train_zoo`, written to ``out/zoo``) or
loaded from a ``repalign train`` output folder (``zoo=PATH``: its ``ARCHITECTURE.npz`` files).

Example:
    >>> import warnings
    >>> from repalign import experiments
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")          # 3 training steps: short of criterion, and train() says so
    ...     record = experiments.run("compare_models", {
    ...         "task": "mante", "architectures": ["CTRNN-Tanh", "LSTM-Tanh"], "seeds": [0], "max_steps": 3,
    ...         "hidden_size": 8, "units": 20, "repeats": 1, "measures": ["cka"], "n_resamples": 20,
    ...         "n_permutations": 10, "n_splits": 2})
    >>> record.table[["model", "measure"]].values.tolist()
    [['CTRNN-Tanh s0', 'cka'], ['LSTM-Tanh s0', 'cka']]
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from .._checks import SettingsError, check_bool, check_choice, check_count, check_path
from ..comparison import compare_models
from ..data import Dataset, MissingFileError, load_m1, mante_like, read
from ..models import StackedNetworks
from ..recording import record
from ..results import Record
from . import train as train_experiment
from ._base import ExperimentSettings, Output, check_data, check_measures, check_statistics

__all__ = ["Settings", "run", "NAME", "MEASURES", "TASKS", "record_zoo", "load_zoo", "reference_of"]

NAME = "compare_models"
TASKS = ("mante", "reaching")
#: the seed paper's Fig. 2 measures as the catalogue has them: CKA, angular Procrustes, ridge regression (CV)
MEASURES = ("cka", "angular-procrustes", "ridge-cv")
RECORD_REPEATS = 10  # noisy trials averaged per condition when a network is recorded


@dataclasses.dataclass(frozen=True)
class Settings(ExperimentSettings):
    """Which zoo against which recording, with which measures, and how many resamples.

    Attributes:
        task: ``"mante"`` (reference ``mante_like``) or ``"reaching"`` (reference: the M1 recording).
        zoo: a ``repalign train`` output folder (its ``ARCHITECTURE.npz`` stacks) or one such file; None:
            train the zoo here with ``architectures``, ``seeds``, ``max_steps``, ``hidden_size``.
        reference: another recording to score against (a file ``PATH[:NAME]`` that :func:`repalign.data.read`
            reads, or a Dataset) whose conditions table holds the task's condition columns; None: the task's.
        measures: measure names (default :data:`MEASURES`).
        architectures, seeds, max_steps, hidden_size: of the zoo trained here (those of ``repalign train``).
        units: units of the ``mante_like`` reference.
        m1: the M1 recording file (None: looked for in ``../shared/data``).
        repeats: noisy trials averaged per condition when a network is recorded.
        n_resamples, n_permutations, n_splits, confidence_level, method, sampling: of
            :func:`repalign.comparison.compare_models` (by default half-sampling and normal intervals).
        seed: of the reference, the training batches, the recording noise, the resamples and the splits.
        progress: progress bars (None: in a terminal, once the work lasts).
    """

    task: str = "mante"
    zoo: str | None = None
    reference: object = None
    measures: tuple = MEASURES
    architectures: tuple = train_experiment.ARCHITECTURE_NAMES
    seeds: tuple = train_experiment.Settings.seeds
    max_steps: int = train_experiment.Settings.max_steps  # the cap of `repalign train`: every network reaches criterion
    hidden_size: int = train_experiment.Settings.hidden_size
    units: int = 727
    m1: str | None = None
    repeats: int = RECORD_REPEATS
    n_resamples: int = 1000
    n_permutations: int = 1000
    n_splits: int = 10
    confidence_level: float = 0.95
    method: str = "normal"
    sampling: str | None = None
    seed: int = 0
    progress: bool | None = None

    def __post_init__(self):
        set_ = object.__setattr__
        check_choice(self.task, "task", TASKS)
        set_(self, "zoo", check_path(self.zoo, "zoo", allow_none=True))
        if self.zoo is not None and not os.path.exists(self.zoo):
            raise SettingsError("zoo", f"no such folder or file: {self.zoo!r}")
        if self.reference is not None:
            set_(self, "reference", check_data(self.reference, "reference"))
        set_(self, "measures", check_measures(self.measures))
        # the zoo's own checks (names, seeds, counts), the errors naming these fields
        zoo = train_experiment.Settings(task="mante", architectures=self.architectures, seeds=self.seeds,
                                        max_steps=self.max_steps, hidden_size=self.hidden_size)
        set_(self, "architectures", zoo.architectures)
        set_(self, "seeds", zoo.seeds)
        set_(self, "max_steps", zoo.max_steps)
        set_(self, "hidden_size", zoo.hidden_size)
        set_(self, "units", check_count(self.units, "units", 5))
        set_(self, "m1", check_path(self.m1, "m1", allow_none=True))
        set_(self, "repeats", check_count(self.repeats, "repeats", 1))
        set_(self, "n_splits", check_count(self.n_splits, "n_splits", 1))
        check_statistics(self, min_permutations=0)
        check_bool(self.progress, "progress", allow_none=True)


def reference_of(task: str, reference=None, *, units: int = 727, m1=None, seed: int = 0) -> Dataset:
    """The recording to score against: ``reference`` (a path or Dataset) or the task's (``mante_like`` with
    ``units`` and ``seed``; the M1 recording of ``m1``)."""
    if reference is not None:
        return reference if isinstance(reference, Dataset) else read(reference)
    if task == "mante":
        return mante_like(n_units=units, seed=seed)
    try:
        return load_m1(m1)
    except MissingFileError as error:
        raise SettingsError("m1", str(error).removeprefix("path: ")) from None


def load_zoo(path) -> list[StackedNetworks]:
    """The stacks of a ``repalign train`` output folder (its ``ARCHITECTURE.npz`` files), or of one such file."""
    path = Path(path)
    if path.is_file():
        files = [path]
    else:
        files = [path / f"{name}.npz" for name in train_experiment.ARCHITECTURE_NAMES if (path / f"{name}.npz").is_file()]
    if not files:
        raise SettingsError("zoo", f"no networks in {str(path)!r}: expected the ARCHITECTURE.npz files that "
                                   "`repalign train --out` writes (e.g. CTRNN-Tanh.npz)")
    stacks = []
    for file in files:
        try:
            stacks.append(StackedNetworks.load(str(file)))
        except (SettingsError, ValueError) as error:
            raise SettingsError("zoo", f"{file}: {error}") from None
    return stacks


def record_zoo(networks, task, reference: Dataset, *, repeats: int = RECORD_REPEATS, seed: int = 0) -> dict:
    """Record ``networks`` under ``task`` at the reference's own conditions table, so that model and data align
    row by row, by value (:func:`repalign.recording.record`): ``{((cell, activation), seed): Dataset}``.

    The reference's conditions table must hold the task's condition columns; otherwise a
    :class:`~repalign._checks.SettingsError` naming ``reference``.
    """
    if reference.conditions is None:
        raise SettingsError("reference", "has no conditions table: the networks are recorded at the reference's "
                                         "conditions")
    try:
        return record(list(networks), task, reference.conditions, repeats=repeats, seed=seed)
    except (KeyError, SettingsError) as error:
        problem = error.problem if isinstance(error, SettingsError) else f"missing column {error}"
        raise SettingsError("reference", f"its conditions cannot be recorded under the {type(task).__name__}: "
                                         f"{problem}") from None


def run(settings: Settings, out=None) -> Record:
    """Train (or load) the zoo, record it at the reference's conditions, compare, write everything to ``out``.

    Files: ``comparison`` (the Fig. 2c,d panel: PNG, PDF, the table as CSV), ``comparison_agreement`` (PNG, PDF,
    CSV), ``comparison_baselines.csv``, ``comparison_above.csv``, ``summary.md``; ``zoo/`` when trained here.
    Tables: those of :class:`~repalign.comparison.ModelComparison` (``table``, ``baselines``, ``above``,
    ``agreement``), and ``networks`` when trained here. The record's settings hold the verdict.
    """
    output = Output(out)
    reference = reference_of(settings.task, settings.reference, units=settings.units, m1=settings.m1,
                             seed=settings.seed)
    m1 = settings.m1
    if settings.task == "reaching" and m1 is None:
        m1 = reference.provenance.get("source") if settings.reference is None else None
    train_settings = train_experiment.Settings(
        task=settings.task, architectures=settings.architectures, seeds=settings.seeds, max_steps=settings.max_steps,
        hidden_size=settings.hidden_size, seed=settings.seed, m1=m1 if settings.task == "reaching" else None,
        progress=settings.progress)
    tables = {}
    zoo_output = Output(None if out is None or settings.zoo is not None else Path(out) / "zoo")
    if settings.zoo is None:
        zoo = train_experiment.train_zoo(train_settings, zoo_output)
        networks, task = list(zoo.result.networks.values()), zoo.task
        tables["networks"] = zoo.networks
    else:
        networks, task = load_zoo(settings.zoo), train_settings.make_task()
    recordings = record_zoo(networks, task, reference, repeats=settings.repeats, seed=settings.seed)
    result = compare_models(recordings, reference, settings.measures, n_resamples=settings.n_resamples,
                            n_permutations=settings.n_permutations, n_splits=settings.n_splits,
                            confidence_level=settings.confidence_level, method=settings.method,
                            sampling=settings.sampling, seed=settings.seed,
                            progress=settings.progress)
    if output.folder is not None:  # the Fig. 2 panel, the agreement figure and the tables
        output.files += result.save_all(output.folder / "comparison")
    title = (f"{settings.task}: {len(result.models)} networks against "
             + ("mante_like" if settings.task == "mante" and settings.reference is None else
                "the M1 recording" if settings.reference is None else "the given reference"))
    output.text(result.summary(title), "summary.md")
    record_ = result.record()
    tables.update(record_.tables)
    return Record(f"experiments.{NAME}", {**settings.to_dict(), "verdict": result.verdict()}, tables,
                  {"values": result.values}, files=[*zoo_output.files, *output.files])

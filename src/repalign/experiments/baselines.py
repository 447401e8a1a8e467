"""The condition-average and neuron-split baselines of each measure (Fig. 2): ``repalign baselines``."""

from __future__ import annotations

import dataclasses

from .._checks import check_count, check_seed
from ..baselines import BASELINES, baseline_scores
from ..results import Record
from ._base import ExperimentSettings, Output, check_data, check_measures

__all__ = ["Settings", "run", "NAME"]

NAME = "baselines"


@dataclasses.dataclass(frozen=True)
class Settings(ExperimentSettings):
    """The dataset, the measures and the neuron splits.

    Attributes:
        data: a file ``PATH[:NAME]`` or a Dataset; 2-D ``(sample, unit)`` data get the neuron split only.
        measures: measure names or aliases.
        splits: random halvings of the units.
        seed: seed of the splits.
    """

    data: object
    measures: tuple = ("angular-procrustes", "cka", "angular-cka", "ridge-cv")
    splits: int = 10
    seed: int = 0

    def __post_init__(self):
        set_ = object.__setattr__
        set_(self, "data", check_data(self.data, "data"))
        set_(self, "measures", check_measures(self.measures))
        set_(self, "splits", check_count(self.splits, "splits", 1))
        set_(self, "seed", check_seed(self.seed))


def run(settings: Settings, out=None) -> Record:
    """:func:`repalign.baselines.baseline_scores`; writes ``baselines`` (PNG, PDF, CSV).

    Example:
        >>> from repalign.data import mante_like
        >>> record = run(Settings(mante_like(n_units=20, n_time=3, seed=0), measures=("cka",), splits=2))
        >>> record.table[["baseline", "n"]].values.tolist()
        [['condition_average', 1], ['neuron_split', 2]]
    """
    output = Output(out)
    dataset = settings.dataset()
    which = BASELINES if dataset.n_conditions is not None else ("neuron_split",)
    result = baseline_scores(dataset, list(settings.measures), n_splits=settings.splits, seed=settings.seed,
                             baselines=which)
    output.save(result, "baselines")
    return Record(f"experiments.{NAME}", settings.to_dict(), {"table": result.table}, files=output.files)

"""Several scores optimized jointly towards a grid of targets: their allowed region (Fig. 6b,c), ``repalign joint``."""

from __future__ import annotations

import dataclasses

from .._checks import SettingsError, check_bool, check_choice, check_count, check_path, check_real, check_seed
from ..joint import joint_optimize
from ..registry import measure
from ..results import Record
from ._base import ExperimentSettings, Output, check_data, check_measures

__all__ = ["Settings", "run", "NAME"]

NAME = "joint"


@dataclasses.dataclass(frozen=True)
class Settings(ExperimentSettings):
    """The dataset, two or more scores in [0, 1], the grid of targets and the optimization.

    Attributes:
        data: a file ``PATH[:NAME]`` or a Dataset.
        measures: at least two differentiable scores whose range contains [0, 1].
        grid: targets per axis of the unit square (cube...).
        steps: Adam steps per target.
        lr: learning rate.
        seed: seed of the first target's noise.
        record_every: record every this many steps.
        dtype: ``"float32"`` or ``"float64"``.
        checkpoint: checkpoint file (resumed from when present).
        progress: progress bar (None: in a terminal only).
    """

    data: object
    measures: tuple = ("cka", "angular-procrustes")
    grid: int = 5
    steps: int = 300
    lr: float = 0.05
    seed: int = 0
    record_every: int = 10
    dtype: str | None = None
    checkpoint: str | None = None
    progress: bool | None = None

    def __post_init__(self):
        set_ = object.__setattr__
        set_(self, "data", check_data(self.data, "data"))
        set_(self, "measures", check_measures(self.measures, at_least=2))
        for name in self.measures:
            m = measure(name)
            if m.kind != "score" or not (m.range[0] <= 0.0 and m.range[1] >= 1.0) or not m.differentiable:
                raise SettingsError("measures", f"{name!r} is not a differentiable score whose range contains [0, 1] "
                                                f"(e.g. use 'angular-procrustes' rather than 'procrustes')")
        set_(self, "grid", check_count(self.grid, "grid", 2))
        set_(self, "steps", check_count(self.steps, "steps", 1))
        set_(self, "lr", check_real(self.lr, "lr", low=0.0, inclusive=(False, True)))
        set_(self, "seed", check_seed(self.seed))
        set_(self, "record_every", check_count(self.record_every, "record_every", 1))
        if self.dtype is not None:
            check_choice(self.dtype, "dtype", ("float32", "float64"))
        set_(self, "checkpoint", check_path(self.checkpoint, "checkpoint", allow_none=True))
        check_bool(self.progress, "progress", allow_none=True)


def run(settings: Settings, out=None) -> Record:
    """:func:`repalign.joint.joint_optimize` on a grid of targets; writes ``joint`` (PNG, PDF, CSV).

    Tables: ``trajectory`` (every recorded step of every target) and ``final`` (the reached points).
    """
    output = Output(out)
    result = joint_optimize(settings.dataset(), settings.measures, grid=settings.grid, max_steps=settings.steps,
                            lr=settings.lr, seed=settings.seed, record_every=settings.record_every,
                            dtype=settings.dtype, checkpoint=settings.checkpoint, progress=settings.progress)
    output.save(result, "joint")
    return Record(f"experiments.{NAME}", settings.to_dict(), {"trajectory": result.table, "final": result.final},
                  {"targets": result.targets}, files=output.files)

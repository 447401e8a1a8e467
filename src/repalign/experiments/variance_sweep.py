"""When is a small principal component captured? The two-PC reference with a shrinking PC 2 (Fig. 4d,e).

``repalign variance-sweep``: noise is optimized towards :func:`repalign.data.two_pc` for each
ratio of PC variances λ₂/λ₁, tracking both PCs; the thresholds say at which score PC 2 is captured.
"""

from __future__ import annotations

import dataclasses

from .._checks import check_bool, check_choice, check_count, check_items, check_real, check_seed
from ..analyses import variance_sweep
from ..results import Record
from ._base import ExperimentSettings, Output, check_measures

__all__ = ["Settings", "run", "NAME"]

NAME = "variance_sweep"


@dataclasses.dataclass(frozen=True)
class Settings(ExperimentSettings):
    """The ratios λ₂/λ₁, the measures and the optimization.

    Attributes:
        ratios: variance ratios in (0, 1].
        measures: differentiable measure names or aliases.
        steps: maximum number of Adam steps.
        lr: learning rate.
        stop_at: stop a run once its score reaches this (None: never).
        runs: runs (seeds) per measure and ratio.
        seed: seed of the first run's noise.
        record_every: record every this many steps (1: the paper's resolution).
        dtype: ``"float32"`` or ``"float64"``.
        progress: progress bar (None: in a terminal only).
    """

    ratios: tuple = (1.0, 0.3, 0.1, 0.03)
    measures: tuple = ("angular-procrustes", "cka", "linreg")
    steps: int = 2000
    lr: float = 0.01
    stop_at: float | None = 0.995
    runs: int = 1
    seed: int = 0
    record_every: int = 1
    dtype: str = "float64"
    progress: bool | None = None

    def __post_init__(self):
        set_ = object.__setattr__
        set_(self, "ratios", tuple(check_real(r, "ratios", low=0.0, high=1.0, inclusive=(False, True))
                                   for r in check_items(self.ratios, "ratios", "variance ratios", distinct=True)))
        set_(self, "measures", check_measures(self.measures))
        set_(self, "steps", check_count(self.steps, "steps", 1))
        set_(self, "lr", check_real(self.lr, "lr", low=0.0, inclusive=(False, True)))
        if self.stop_at is not None:
            set_(self, "stop_at", check_real(self.stop_at, "stop_at"))
        set_(self, "runs", check_count(self.runs, "runs", 1))
        set_(self, "seed", check_seed(self.seed))
        set_(self, "record_every", check_count(self.record_every, "record_every", 1))
        check_choice(self.dtype, "dtype", ("float32", "float64"))
        check_bool(self.progress, "progress", allow_none=True)


def run(settings: Settings, out=None) -> Record:
    """:func:`repalign.analyses.variance_sweep`; writes ``variance_sweep`` (Fig. 4e: PNG, PDF, CSV).

    Tables: ``trajectory`` (every recorded step) and ``thresholds`` (the score at which each PC is
    captured, per ratio, measure and run).

    Example:
        >>> record = run(Settings(ratios=(1.0, 0.1), measures=("cka",), steps=200))
        >>> sorted(record.tables), sorted(set(record.tables["thresholds"].ratio))
        (['thresholds', 'trajectory'], [0.1, 1.0])
    """
    output = Output(out)
    sweep = variance_sweep(settings.ratios, settings.measures, n_runs=settings.runs, seed=settings.seed,
                           lr=settings.lr, max_steps=settings.steps, stop_at=settings.stop_at,
                           record_every=settings.record_every, dtype=settings.dtype, progress=settings.progress)
    output.save(sweep, "variance_sweep")
    thresholds = sweep.thresholds().table
    return Record(f"experiments.{NAME}", settings.to_dict(), {"trajectory": sweep.table, "thresholds": thresholds},
                  files=output.files)

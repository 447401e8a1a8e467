"""Score a reference X against Y with several measures: ``repalign compare``.

With ``ci`` each value gets its interval (resampling conditions, or rows of 2D data: half-sampling by default) and with
``null`` the chance level and p-value of a permutation null (Y's conditions shuffled against X's), from
:func:`repalign.statistics.score`, seeded and batched.
"""

from __future__ import annotations

import dataclasses
import time

from .._checks import check_bool
from .._optional import import_pandas
from ..registry import measure
from ..results import Record
from ..statistics import score
from ._base import ExperimentSettings, Output, check_data, check_measures, check_statistics

__all__ = ["Settings", "run", "NAME"]

NAME = "compare"


@dataclasses.dataclass(frozen=True)
class Settings(ExperimentSettings):
    """X (the reference) and Y as files ``PATH[:NAME]`` or Datasets, and the measures (names or aliases).

    ``ci``: intervals (``n_resamples``, ``confidence_level``, ``method`` and ``sampling`` of
    :func:`repalign.statistics.bootstrap`: by default half-sampling and the normal interval);
    ``null``: permutation nulls
    (``n_permutations``); both seeded by ``seed``.
    """

    x: object
    y: object
    measures: tuple = ("cka", "angular-procrustes")
    ci: bool = False
    null: bool = False
    n_resamples: int = 1000
    n_permutations: int = 1000
    confidence_level: float = 0.95
    method: str = "normal"
    sampling: str | None = None
    seed: int = 0

    def __post_init__(self):
        set_ = object.__setattr__
        set_(self, "x", check_data(self.x, "x"))
        set_(self, "y", check_data(self.y, "y"))
        set_(self, "measures", check_measures(self.measures))
        check_bool(self.ci, "ci")
        check_bool(self.null, "null")
        check_statistics(self, min_permutations=1)


def run(settings: Settings, out=None) -> Record:
    """Every measure on (X, Y); a measure's own requirement (e.g. CCA's n > p) fails its row, not the others.

    The table has one row per measure: ``measure`` (as given), ``name`` (canonical), ``kind``,
    ``value`` (None on error), ``error`` (None or the message) and ``seconds``; with ``ci`` also
    ``standard_error``, ``low``, ``high`` (the bootstrap's), with ``null`` ``chance`` and ``p_value`` (the
    permutation null's); with ``out`` it is written as ``compare.csv``.

    Example:
        >>> import numpy as np
        >>> from repalign.data import Dataset
        >>> X = Dataset(np.random.default_rng(0).normal(size=(50, 4)))
        >>> record = run(Settings(X, X, measures=("cka", "linreg")))
        >>> record.table[["measure", "value"]].round(6).values.tolist()
        [['cka', 1.0], ['linreg', 1.0]]
        >>> Y = Dataset(np.random.default_rng(1).normal(size=(50, 4)))
        >>> table = run(Settings(X, Y, measures=("cka",), ci=True, null=True, n_resamples=50, n_permutations=50)).table
        >>> bool(table.low[0] <= table.value[0] <= table.high[0]), bool(table.p_value[0] > 0.05)
        (True, True)
    """
    pd = import_pandas()

    output = Output(out)
    x, y = settings.dataset("x"), settings.dataset("y")
    rows = []
    extra = [*(("standard_error", "low", "high") if settings.ci else ()), *(("chance", "p_value") if settings.null else ())]
    for name in settings.measures:
        m = measure(name)
        start = time.perf_counter()
        statistics = {}
        try:
            if settings.ci or settings.null:
                result = score(m, x, y, ci=settings.ci, null=settings.null, n_resamples=settings.n_resamples,
                               n_permutations=settings.n_permutations, confidence_level=settings.confidence_level,
                               method=settings.method, sampling=settings.sampling, seed=settings.seed)
                row = result.table.iloc[0]
                value, error = float(result.estimate), None
                statistics = {k: float(row[k]) for k in extra}
            else:
                value, error = float(m(x, y)), None
        except ValueError as err:
            value, error = None, str(err)
        rows.append({"measure": name, "name": m.name, "kind": m.kind, "value": value, **dict.fromkeys(extra),
                     **statistics, "error": error, "seconds": round(time.perf_counter() - start, 4)})
    table = pd.DataFrame(rows, columns=["measure", "name", "kind", "value", *extra, "error", "seconds"])
    output.table(table, "compare")
    return Record(f"experiments.{NAME}", settings.to_dict(), {"table": table}, files=output.files)

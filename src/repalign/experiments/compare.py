"""Score a reference X against Y with several measures: ``repalign compare``."""

from __future__ import annotations

import dataclasses
import time

from .._optional import import_pandas
from ..registry import measure
from ..results import Record
from ._base import ExperimentSettings, Output, check_data, check_measures

__all__ = ["Settings", "run", "NAME"]

NAME = "compare"


@dataclasses.dataclass(frozen=True)
class Settings(ExperimentSettings):
    """X (the reference) and Y as files ``PATH[:NAME]`` or Datasets, and the measures (names or aliases)."""

    x: object
    y: object
    measures: tuple = ("cka", "angular-procrustes")

    def __post_init__(self):
        object.__setattr__(self, "x", check_data(self.x, "x"))
        object.__setattr__(self, "y", check_data(self.y, "y"))
        object.__setattr__(self, "measures", check_measures(self.measures))


def run(settings: Settings, out=None) -> Record:
    """Every measure on (X, Y); a measure's own requirement (e.g. CCA's n > p) fails its row, not the others.

    The table has one row per measure: ``measure`` (as given), ``name`` (canonical), ``kind``,
    ``value`` (None on error), ``error`` (None or the message) and ``seconds``; with ``out`` it is
    written as ``compare.csv``.

    Example:
        >>> import numpy as np
        >>> from repalign.data import Dataset
        >>> X = Dataset(np.random.default_rng(0).normal(size=(50, 4)))
        >>> record = run(Settings(X, X, measures=("cka", "linreg")))
        >>> record.table[["measure", "value"]].round(6).values.tolist()
        [['cka', 1.0], ['linreg', 1.0]]
    """
    pd = import_pandas()

    output = Output(out)
    x, y = settings.dataset("x"), settings.dataset("y")
    rows = []
    for name in settings.measures:
        m = measure(name)
        start = time.perf_counter()
        try:
            value, error = float(m(x, y)), None
        except ValueError as err:
            value, error = None, str(err)
        rows.append({"measure": name, "name": m.name, "kind": m.kind, "value": value, "error": error,
                     "seconds": round(time.perf_counter() - start, 4)})
    table = pd.DataFrame(rows, columns=["measure", "name", "kind", "value", "error", "seconds"])
    output.table(table, "compare")
    return Record(f"experiments.{NAME}", settings.to_dict(), {"table": table}, files=output.files)

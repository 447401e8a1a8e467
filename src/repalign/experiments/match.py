"""Soft matching of two populations' units, with partial matching and the L-curve: ``repalign match``."""

from __future__ import annotations

import dataclasses

import numpy as np

from .. import matching
from .._checks import SettingsError, check_bool, check_count, check_real
from .._optional import import_pandas
from ..results import Record
from ._base import ExperimentSettings, Output, check_data

__all__ = ["Settings", "run", "NAME"]

NAME = "match"


@dataclasses.dataclass(frozen=True)
class Settings(ExperimentSettings):
    """Two populations (files ``PATH[:NAME]`` or Datasets, units as columns) and what to match.

    Attributes:
        x, y: the populations, same samples.
        partial: partial soft matching with ``mass``.
        mass: the transported mass s in (0, 1] (partial matching only).
        lcurve: scan s over ``points`` values, pick the L-curve's elbow and match with it.
        points: grid points of the L-curve (>= 3).
        cv: folds of a cross-validated L-curve (None: in-sample).
        threshold: a unit is matched when it carries more than ``threshold`` of its full mass 1/N.
        lcurve_name: file name (without suffix) of the L-curve figure in the output folder.
        progress: progress bar over the L-curve (None: in a terminal only).
    """

    x: object
    y: object
    partial: bool = False
    mass: float | None = None
    lcurve: bool = False
    points: int = 50
    cv: int | None = None
    threshold: float = 0.5
    lcurve_name: str = "lcurve"
    progress: bool | None = None

    def __post_init__(self):
        set_ = object.__setattr__
        set_(self, "x", check_data(self.x, "x"))
        set_(self, "y", check_data(self.y, "y"))
        check_bool(self.partial, "partial")
        check_bool(self.lcurve, "lcurve")
        check_bool(self.progress, "progress", allow_none=True)
        if self.partial and self.lcurve:
            raise SettingsError("lcurve", "give either partial matching with a mass, or the L-curve (which chooses "
                                          "the mass), not both")
        if self.partial and self.mass is None:
            raise SettingsError("mass", "partial matching needs the transported mass s (0 < s <= 1); or use the "
                                        "L-curve to choose it")
        if self.mass is not None:
            if not self.partial:
                raise SettingsError("mass", "applies to partial matching only")
            set_(self, "mass", check_real(self.mass, "mass", low=0.0, high=1.0, inclusive=(False, True)))
        if not self.lcurve and (self.cv is not None or self.points != 50):
            raise SettingsError("cv" if self.cv is not None else "points", "applies to the L-curve only")
        set_(self, "points", check_count(self.points, "points", 3))  # the elbow needs interior grid points
        if self.cv is not None:
            set_(self, "cv", check_count(self.cv, "cv", 2))
        set_(self, "threshold", check_real(self.threshold, "threshold", low=0.0, high=1.0, inclusive=(False, True)))


def run(settings: Settings, out=None) -> Record:
    """The soft-matching score s_T, and with ``partial`` or ``lcurve`` the matched units.

    Tables: ``summary`` (one row: ``soft_matching_score``, and with a mass ``mass``,
    ``partial_score``, ``partial_normalized_score``), ``units`` (per unit of each side: mass carried,
    matched) and ``lcurve`` (the curve). Files: the L-curve figure (``lcurve_name``) and ``units.csv``.
    """
    pd = import_pandas()

    output = Output(out)
    x, y = settings.dataset("x"), settings.dataset("y")
    summary = {"soft_matching_score": matching.soft_matching(x, y).value}
    tables = {}
    mass = settings.mass
    if settings.lcurve:
        grid = np.linspace(1.0 / settings.points, 1.0, settings.points)
        curve = matching.lcurve(x, y, masses=grid, cv=settings.cv, progress=settings.progress)
        output.save(curve, settings.lcurve_name)
        mass = curve.best_mass
        tables["lcurve"] = curve.table
    if mass is not None:
        chosen = matching.partial_soft_matching(x, y, mass)
        summary.update({"mass": mass, "partial_score": chosen.score,
                        "partial_normalized_score": chosen.normalized_score})
        units = chosen.table
        matched_x, matched_y = chosen.matched(settings.threshold)
        units["matched"] = np.concatenate([matched_x, matched_y])
        tables["units"] = units
        output.table(units, "units")
    tables = {"summary": pd.DataFrame([summary]), **tables}
    return Record(f"experiments.{NAME}", settings.to_dict(), tables, files=output.files)

"""What :func:`repalign.optimize` returns: :class:`OptimizationResult`."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from .._optional import import_pandas, import_pyplot
from .._version import deprecated
from ..results import Result, colours, legend

__all__ = ["OptimizationResult"]


@dataclass(frozen=True, eq=False)
class OptimizationResult(Result):
    """The runs of :func:`repalign.optimize`: final data, stopping steps and the recorded trajectory.

    Attributes:
        Y: final ``Y`` of every run, numpy ``(n_measures * n_runs, *shape)`` in the run's dtype
            (a frozen run holds its value at its stopping step).
        settings: every setting of the run as plain Python values (measures, seeds, shapes...).
        reached_step: per run, the step at which its value first reached ``stop_at``, or None.
        final_value: per run, its value at its last step (numpy float64).
        steps: the last step taken (``max_steps``, or earlier when every run has stopped).
        columns: the recorded table as numpy columns (see :attr:`table`).
    """

    record_kind = "optimization"

    Y: np.ndarray
    settings: dict
    reached_step: tuple
    final_value: np.ndarray
    steps: int
    columns: dict = field(repr=False)

    @cached_property
    def table(self):
        """Tidy table (pandas): ``run, measure, seed, step, value, kind`` and one column per tracker output.

        ``value`` is the measure's value and ``kind`` says what it is: ``"score"`` (higher is more
        similar, maximized) or ``"distance"`` (minimized); a user's callable is a score when
        maximized. One row per run and recorded step, runs absent after the step at which they stopped.
        """
        pd = import_pandas()

        return pd.DataFrame(self.columns)

    @property
    def final_score(self) -> np.ndarray:
        """Deprecated (removed in 0.3): :attr:`final_value` (a distance is not a score)."""
        deprecated("OptimizationResult.final_score", "OptimizationResult.final_value")
        return self.final_value

    @property
    def trajectory(self):
        """The recorded trajectory: :attr:`table` under the name the seed paper uses."""
        return self.table

    def plot(self, ax=None):
        """Value against step, one line per run, coloured by measure; ``stop_at`` dashed."""
        plt = import_pyplot()

        if ax is None:
            _, ax = plt.subplots(figsize=(5, 3.6))
        names = self.settings["measures"]
        palette = colours()
        run, step, value = self.columns["run"], self.columns["step"], self.columns["value"]
        n_runs = self.settings["n_runs"]
        for r in range(len(names) * n_runs):
            m = r // n_runs
            rows = run == r
            ax.plot(step[rows], value[rows], lw=1, alpha=0.8, color=palette[m % len(palette)],
                    label=names[m] if r % n_runs == 0 else None)
        if self.settings["stop_at"] is not None:
            ax.axhline(self.settings["stop_at"], ls="--", lw=0.8, color="grey", label="stop_at")
        ax.set_xlabel("step")
        ax.set_ylabel("value of the measure")
        ax.set_title(f"{self.settings['optimizer']}, lr {self.settings['lr']:g}, {n_runs} run(s) per measure")
        legend(ax, frameon=False, fontsize="small")
        return ax

    def _record_settings(self) -> dict:
        return self.settings

    def _record_arrays(self) -> dict[str, np.ndarray]:
        reached = np.array([-1 if s is None else s for s in self.reached_step], dtype=np.int64)
        return {"Y": self.Y, "final_value": self.final_value, "reached_step": reached}

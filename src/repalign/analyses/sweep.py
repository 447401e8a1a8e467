r"""How the variance of a principal component decides when it is captured: the seed paper's Figure 4d,e.

:func:`variance_sweep` optimizes noise towards the two-PC reference of Fig. 4a
(:func:`~repalign.data.two_pc`) for several ratios of the PCs' variances and tracks both PCs; its
:class:`VarianceSweep` result reads the capture thresholds and draws Fig. 4e.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from .._checks import check_items, check_real
from .._optional import import_pandas, import_pyplot
from ..data import two_pc
from ..optimization import optimize
from ..registry import short_name
from ..results import Result, check_table, legend
from ..trackers import PCCapture
from .capture import CaptureThresholds, capture_thresholds

__all__ = ["variance_sweep", "VarianceSweep"]


@dataclass(frozen=True, eq=False)
class VarianceSweep(Result):
    """Trajectories towards the two-PC reference for several variance ratios (:func:`variance_sweep`).

    Attributes:
        table: the trajectories, ``ratio``, ``measure``, ``run``, ``seed``, ``step``, ``value``, ``kind``,
            ``pc1_r2``, ``pc2_r2``.
        options: the settings that produced it.
    """

    record_kind = "variance_sweep"

    table: object
    options: dict = field(default_factory=dict)

    def thresholds(self, *, rule: str = "half", min_gain: float | None = None) -> CaptureThresholds:
        """Value at which each PC is captured, per ratio, measure and run.

        :func:`~repalign.analyses.capture_thresholds` per ratio (``rule``, ``min_gain``: its crossing
        rule; the explained variance of PC i being ``1/(1+ρ)`` and ``ρ/(1+ρ)``); the table has the
        ``ratio`` column first.
        """
        return _sweep_thresholds(self.table, rule, min_gain)

    def plot(self, ax=None):
        """Fig. 4e: R² of PC 2 against the score, one panel per measure, one curve per variance ratio.

        Curves are coloured by the ratio λ₂/λ₁ (light: 1, equal variances; dark: most asymmetric);
        the first run of each (ratio, measure) is drawn. ``ax``: an axes for one measure, or a
        sequence of axes, one per measure (a new figure when None); returns the first.
        """
        axes = None if ax is None else (list(ax) if isinstance(ax, (list, tuple, np.ndarray)) else [ax])
        return _plot_variance_sweep(self.table, axes)

    def _record_settings(self) -> dict:
        return self.options


def variance_sweep(
    ratios=(1.0, 0.3, 0.1, 0.03),
    measures=("angular-procrustes", "cka", "linreg"),
    *,
    n_runs: int = 1,
    seed: int = 0,
    lr: float = 0.01,
    max_steps: int = 2000,
    stop_at: float | None = 0.995,
    record_every: int = 1,
    dtype=torch.float64,
    progress: bool | None = None,
) -> VarianceSweep:
    r"""Fig. 4d,e: optimize noise towards the two-PC reference for several variance ratios.

    For each ratio :math:`\rho = \lambda_2/\lambda_1` (``ratios``), the reference is
    :func:`~repalign.data.two_pc(ρ) <repalign.data.two_pc>` (10 time points × 6 conditions
    × 2 units, the paper's Fig. 4a with PC 2 rescaled); every measure is optimized from
    Gaussian noise of the same shape (all measures and runs in one batched loop), tracking the R²
    of both PCs (:class:`~repalign.trackers.PCCapture`, in-sample).

    Returns:
        A :class:`VarianceSweep`: its ``table`` holds the trajectories (``ratio``, ``measure``,
        ``run``, ``seed``, ``step``, ``value``, ``kind``, ``pc1_r2``, ``pc2_r2``), ``thresholds()`` the score at
        which each PC is captured and ``plot()`` draws Fig. 4e.
    """
    pd = import_pandas()

    ratios = [check_real(r, "ratios", low=0.0, high=1.0, inclusive=(False, True))
              for r in check_items((ratios,) if isinstance(ratios, (int, float)) else ratios, "ratios",
                                   "variance ratios")]
    tables = []
    for ratio in ratios:
        reference = two_pc(ratio)
        tracker = PCCapture(reference, n_pcs=2)
        result = optimize(reference, list(measures) if not isinstance(measures, str) else measures,
                          max_steps=max_steps, lr=lr, stop_at=stop_at, seed=seed, n_runs=n_runs,
                          record_every=record_every, trackers=[tracker], dtype=dtype, progress=progress)
        table = result.to_frame()
        table.insert(0, "ratio", ratio)
        tables.append(table)
    options = {"ratios": ratios, "measures": [measures] if isinstance(measures, str) else list(measures),
               "n_runs": n_runs, "seed": seed, "lr": lr, "max_steps": max_steps, "stop_at": stop_at,
               "record_every": record_every, "dtype": str(dtype)}
    return VarianceSweep(pd.concat(tables, ignore_index=True), options)


def _sweep_thresholds(table, rule: str, min_gain: float | None) -> CaptureThresholds:
    pd = import_pandas()

    check_table(table, ("ratio", "run", "step", "value", "pc1_r2", "pc2_r2"), "variance_sweep")
    tables = []
    for ratio, rows in table.groupby("ratio", sort=False):
        variance = np.array([1.0, ratio]) / (1.0 + ratio)
        captured = capture_thresholds(rows, variance, rule=rule, min_gain=min_gain, by=("ratio",))
        tables.append(captured.table)
    return CaptureThresholds(pd.concat(tables, ignore_index=True), table, captured.options)




def _plot_variance_sweep(table, axes=None):
    check_table(table, ("ratio", "measure", "run", "step", "value", "pc2_r2"), "variance_sweep")
    plt = import_pyplot()
    from matplotlib.colors import LogNorm  # noqa: PLC0415

    measures = list(dict.fromkeys(table["measure"]))
    if axes is None:
        _, axes = plt.subplots(1, len(measures), figsize=(3.2 * len(measures), 3.0), squeeze=False, sharey=True)
        axes = axes[0]
    if len(axes) != len(measures):
        raise ValueError(f"axes: expected {len(measures)} axes (one per measure), got {len(axes)}")
    ratios = sorted(set(table["ratio"]))
    norm = LogNorm(vmin=min(ratios), vmax=max(max(ratios), min(ratios) * 1.0001))
    colormap = plt.get_cmap("magma")
    for ax, name in zip(axes, measures):
        for ratio in ratios:
            rows = table[(table["measure"] == name) & (table["ratio"] == ratio)]
            if rows.empty:
                continue
            rows = rows[rows["run"] == rows["run"].iloc[0]].sort_values("step")
            ax.plot(rows["value"], rows["pc2_r2"], lw=1.2, color=colormap(0.15 + 0.75 * norm(ratio)),
                    label=f"λ₂/λ₁ = {ratio:g}")
        kind = str(rows["kind"].iloc[0]) if "kind" in rows.columns and len(rows) else "score"
        ax.set_xlabel(f"{short_name(name)} {kind}")
        ax.set_title(short_name(name), fontsize="small")
    axes[0].set_ylabel("R² of PC 2")
    legend(axes[0], frameon=False, fontsize="x-small")
    return axes[0]

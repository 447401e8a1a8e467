r"""One summary figure per experiment type, from the tables of a sweep's finished cells.

A sweep runs one experiment per cell (the product of its axes: datasets × measures × seeds...).
:func:`summary` reads what its store holds as plain DataFrames — for each table name of the
experiment's :class:`~repalign.results.Record`, the concatenation over the finished cells with the
columns ``cell`` and one per sweep axis prepended, and the ``cells`` table (one row per cell:
``cell``, ``experiment``, ``status``, ``error``, ``seconds``, ``worker`` and the axes) — and
returns a :class:`SweepSummary`: the numbers behind the figure as a tidy table, and the figure.

- ``optimize``: the PC-capture thresholds of every measure on every dataset (the seed paper's
  Fig. 5b across a sweep): one panel per dataset, the measure's value at which each PC is captured
  against the PC's explained variance, mean and min–max over the runs (seeds and every other axis).
- ``compare``: a heatmap of the mean value per (data axes × measure), annotated with the numbers.
- any other experiment, or one whose table is missing or empty (every cell failed): each cell's
  seconds, grouped by the axis with the most values and coloured by status, with the counts.

No table is ever too empty to draw: a panel without finished cells says so.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from .._checks import SettingsError
from .._optional import import_pandas, import_pyplot
from ..registry import short_name
from ..results import Result, colours, legend, log_variance_axis

__all__ = ["FIGURES", "SweepSummary", "summary", "summary_figure", "summary_of_store"]

FIGURES = {"optimize": "capture", "compare": "heatmap"}  # experiment -> its figure; any other: "cells"
_CELL_COLUMNS = ("cell", "status", "seconds")
_CAPTURE_COLUMNS = ("measure", "pc", "explained_variance", "value")
_COMPARE_COLUMNS = ("measure", "value")
# each figure's table: its name, the columns it needs, what makes it
_TABLES = {"capture": ("pc_capture", _CAPTURE_COLUMNS, "an optimize capture"),
           "heatmap": ("table", _COMPARE_COLUMNS, "a compare")}
_PANEL_AXIS = "data"  # optimize: one panel per value of this axis
_DATA_AXES = ("data", "x", "y", "pair")  # compare: the heatmap's rows when any is an axis
_AVERAGED_AXES = ("measures", "seed", "seeds", "runs")  # compare: never rows (columns, or averaged over)
_STATUS_COLOURS = {"done": "C0", "failed": "C3"}


@dataclass(frozen=True, eq=False)
class SweepSummary(Result):
    """The summary of a sweep's cells for one experiment (:func:`summary`).

    Attributes:
        experiment: the experiment's name.
        figure: ``"capture"`` (optimize), ``"heatmap"`` (compare) or ``"cells"`` (the fallback).
        table: the numbers plotted, tidy (see :func:`summary` for the columns of each figure).
        axes: the sweep's axes.
        counts: cells by status (``{"done": 6, "failed": 2}``), from the ``cells`` table.
        panels: the panel (capture) or row (heatmap) labels in the figure's order.
        columns: the heatmap's measures in order (empty for other figures).
        group: the axis the cells figure groups by (None for other figures, or without axes).
        note: why the fallback was drawn, when it was (``"no finished cells"``...).
    """

    record_kind = "sweep_summary"

    experiment: str
    figure: str
    table: object
    axes: tuple = ()
    counts: dict = field(default_factory=dict)
    panels: tuple = ()
    columns: tuple = ()
    group: str | None = None
    note: str = ""

    def plot(self, ax=None):
        """Draw the summary on ``ax`` (a new figure when None) and return the first axes.

        The capture figure has one panel per dataset: ``ax`` may then be a sequence of as many axes
        (a single axes holds a single panel).
        """
        draw = {"capture": _plot_capture, "heatmap": _plot_heatmap, "cells": _plot_cells}[self.figure]
        return draw(self, ax)

    def _record_settings(self) -> dict:
        return {"experiment": self.experiment, "figure": self.figure, "axes": list(self.axes),
                "counts": dict(self.counts), "group": self.group, "note": self.note}


def summary(experiment: str, tables: Mapping, cells, axes: Sequence[str]) -> SweepSummary:
    r"""The summary of a sweep's cells: the table behind the experiment's figure, and the figure.

    **optimize** (tables ``pc_capture``): the seed paper's Fig. 5b for every dataset. The y value
    is the capture table's ``value`` — the measure's value at which the PC's R² reaches its
    crossing point — not its ``threshold``, which is that crossing point itself in R²
    (:math:`\theta_i = (R^2_i(t_0) + 1)/2`, near 0.5 for every PC, it says nothing about the
    measure). For each (dataset, reference, measure, PC), over the :math:`n` runs of every cell
    (seeds and any other axis):

    .. math::

        \text{mean} = \frac{1}{n_c} \sum_{r\,\text{captured}} v_r, \qquad
        \text{low} = \min_{r\,\text{captured}} v_r, \qquad \text{high} = \max_{r\,\text{captured}} v_r,

    with :math:`n_c` the runs that capture the PC (as :meth:`CaptureThresholds.plot
    <repalign.analyses.capture.CaptureThresholds.plot>` does, a PC some run never captures is
    marked ▼ at the top edge). Columns: ``data`` (the panel: the ``data`` axis' value, ``"all"``
    without that axis), ``reference`` (``"data"``, or ``"matched Gaussian"`` drawn dashed),
    ``measure`` (canonical), ``label``, ``pc``, ``explained_variance`` (its mean), ``runs``,
    ``captured``, ``mean``, ``low``, ``high``.

    **compare** (table ``table``): per row of the heatmap (the data axes ``data``/``x``/``y``/``pair``
    present, else every axis but ``measures`` and the seeds; one row ``"all"`` without any) and
    measure: ``mean``, ``low``, ``high`` of ``value`` over the cells and seeds, ``n`` values and
    ``failed`` (rows with an error, no value). Columns: ``row``, ``measure``, ``mean``, ``low``, ``high``,
    ``n``, ``failed``.

    **anything else**, or an expected table missing or empty: one row per cell: ``cell``, the
    grouping axis (the one with the most distinct values), ``status``, ``seconds``.

    Args:
        experiment: the experiment's name (``"optimize"``, ``"compare"``...).
        tables: table name → DataFrame of the finished cells' rows, with ``cell`` and the axes prepended.
        cells: one row per cell: ``cell``, ``status`` (``"done"``/``"failed"``), ``seconds`` and the axes.
        axes: the sweep's axis names (columns of ``cells``).

    Returns:
        A :class:`SweepSummary`.

    Raises:
        ValueError: naming ``experiment``, ``tables``, ``cells`` or ``axes`` (an axis not in ``cells``).

    Example:
        >>> import pandas as pd
        >>> cells = pd.DataFrame({"cell": ["a", "b"], "status": ["done", "failed"], "seconds": [1.5, 0.2],
        ...                       "lr": [0.1, 0.01]})
        >>> result = summary("perturb", {}, cells, ["lr"])
        >>> result.figure, result.counts
        ('cells', {'done': 1, 'failed': 1})
        >>> result.table.columns.tolist()
        ['cell', 'lr', 'status', 'seconds']
    """
    pd = import_pandas()

    if not isinstance(experiment, str) or not experiment:
        raise SettingsError("experiment", f"expected an experiment's name, got {experiment!r}")
    if not isinstance(tables, Mapping):
        raise SettingsError("tables", f"expected a mapping of table names to DataFrames, got {type(tables).__name__}")
    if not isinstance(cells, pd.DataFrame):
        raise SettingsError("cells", f"expected a DataFrame with one row per cell, got {type(cells).__name__}")
    missing = [c for c in _CELL_COLUMNS if c not in cells.columns]
    if missing:
        raise SettingsError("cells", f"missing column(s) {missing}; expected {list(_CELL_COLUMNS)} and the axes")
    if isinstance(axes, str) or not isinstance(axes, Sequence) or not all(isinstance(a, str) for a in axes):
        raise SettingsError("axes", f"expected a sequence of axis names, got {axes!r}")
    axes = tuple(axes)
    unknown = [a for a in axes if a not in cells.columns]
    if unknown:
        raise SettingsError("axes", f"{unknown} are not columns of cells ({list(cells.columns)})")
    counts = {str(k): int(v) for k, v in cells["status"].value_counts(sort=False).items()}

    figure = FIGURES.get(experiment, "cells")
    name, needed, producer = _TABLES.get(figure, (None, (), ""))
    table = tables.get(name) if name else None
    if table is not None and not isinstance(table, pd.DataFrame):
        raise SettingsError("tables", f"{name!r} is a {type(table).__name__}, expected a DataFrame")
    note = "" if counts.get("done") else "no finished cells"
    if figure != "cells" and (table is None or len(table) == 0):
        note = note or f"no {name!r} table in the finished cells"
        figure = "cells"
    elif figure != "cells":
        missing = [c for c in needed if c not in table.columns]
        if missing:
            raise SettingsError("tables", f"{name!r} lacks column(s) {missing}; expected {producer} table")
    if figure == "capture":
        return _capture_summary(experiment, table, cells, axes, counts)
    if figure == "heatmap":
        return _compare_summary(experiment, table, cells, axes, counts)
    return _cells_summary(experiment, cells, axes, counts, note)


def summary_figure(experiment: str, tables: Mapping, cells, axes: Sequence[str]):
    """``summary(experiment, tables, cells, axes).plot()``: the summary figure's first axes.

    Save it with :func:`repalign.results.save_figure` and the table of :func:`summary`, or call
    ``summary(...).save(path)``.
    """
    return summary(experiment, tables, cells, axes).plot()


# -- optimize: PC-capture thresholds --------------------------------------------------------------------------------

def _labels(table, axes) -> dict:
    """Canonical measure → label: the name the user wrote (the ``measures`` axis) when it names one measure."""
    labels = {}
    for canonical, rows in table.groupby("measure", sort=False):
        given = rows["measures"].astype(str).unique() if "measures" in axes and "measures" in rows.columns else []
        labels[canonical] = given[0] if len(given) == 1 else short_name(str(canonical))
    return labels


def _capture_summary(experiment, table, cells, axes, counts) -> SweepSummary:
    pd = import_pandas()

    frame = table.copy()
    panel = _PANEL_AXIS in axes and _PANEL_AXIS in frame.columns
    frame["data"] = frame[_PANEL_AXIS].astype(str) if panel else "all"
    if "reference" not in frame.columns:
        frame["reference"] = "data"
    labels = _labels(frame, axes)
    rows = []
    for (data, reference, canonical, pc), group in frame.groupby(["data", "reference", "measure", "pc"], sort=False):
        values = group["value"].to_numpy(float)
        kept = values[~np.isnan(values)]
        rows.append({"data": data, "reference": reference, "measure": canonical, "label": labels[canonical],
                     "pc": int(pc), "explained_variance": float(group["explained_variance"].mean()),
                     "runs": len(values), "captured": len(kept),
                     "mean": float(kept.mean()) if kept.size else math.nan,
                     "low": float(kept.min()) if kept.size else math.nan,
                     "high": float(kept.max()) if kept.size else math.nan})
    out = pd.DataFrame(rows, columns=["data", "reference", "measure", "label", "pc", "explained_variance", "runs",
                                      "captured", "mean", "low", "high"])
    order = [str(v) for v in dict.fromkeys(cells[_PANEL_AXIS])] if panel else []
    panels = tuple(dict.fromkeys([*order, *out["data"]]))
    return SweepSummary(experiment, "capture", out, axes, counts, panels)


def _new_axes(ax, n: int, **options):
    """``n`` axes: new ones side by side, or the given axes (one, or a sequence of ``n``)."""
    plt = import_pyplot()

    if ax is None:
        _, grid = plt.subplots(1, n, squeeze=False, **options)
        return list(grid[0])
    given = list(ax) if isinstance(ax, (Sequence, np.ndarray)) else [ax]
    if len(given) != n:
        raise SettingsError("ax", f"this figure has {n} panel(s); got {len(given)} axes (None: a new figure)")
    return given


def _counts_text(counts: dict) -> str:
    total = sum(counts.values())
    return f"{counts.get('done', 0)} of {total} cells done" + (f", {counts['failed']} failed" if counts.get("failed")
                                                                else "")


def _plot_capture(result: SweepSummary, ax):
    table = result.table
    panels = list(result.panels) or ["all"]
    axes = _new_axes(ax, len(panels), figsize=(3.6 * len(panels) + 1.6, 3.6), sharey=True)
    palette = colours()
    measures = list(dict.fromkeys(table["measure"]))
    colour = {m: palette[i % len(palette)] for i, m in enumerate(measures)}
    label = dict(zip(table["measure"], table["label"]))
    gaussian_drawn = missed_drawn = False
    for panel_ax, panel in zip(axes, panels):
        mine = table[table["data"] == panel]
        top = panel_ax.get_xaxis_transform()  # x in data, y in axes coordinates: y = 1 is the top edge
        for (reference, canonical), rows in mine.groupby(["reference", "measure"], sort=False):
            gaussian = reference != "data"
            rows = rows.sort_values("explained_variance")
            hit = rows[rows["captured"] > 0]
            style = {"color": colour[canonical], "lw": 1 if gaussian else 1.2}
            if not hit.empty:
                panel_ax.plot(hit["explained_variance"], hit["mean"], "--" if gaussian else "-o", ms=3, **style)
                if not gaussian:
                    panel_ax.vlines(hit["explained_variance"], hit["low"], hit["high"], color=colour[canonical],
                                    lw=0.8, alpha=0.6)
            gaussian_drawn |= gaussian
            missed = rows[rows["captured"] < rows["runs"]]
            if not missed.empty:
                x = missed["explained_variance"].to_numpy(float)
                panel_ax.plot(x, np.ones_like(x), "v", ms=5, ls="none", color=colour[canonical],
                              mfc="none" if gaussian else colour[canonical], transform=top, clip_on=False)
                missed_drawn = True
        if mine.empty:
            panel_ax.text(0.5, 0.5, "no finished cells", ha="center", va="center", transform=panel_ax.transAxes,
                          color="0.4")
        else:
            log_variance_axis(panel_ax)
        panel_ax.set_title(panel if panel != "all" else "", fontsize="small", pad=8)
    axes[0].set_ylabel("value at which the PC is captured")
    handles_ax = axes[-1]
    for canonical in measures:
        handles_ax.plot([], [], "-o", ms=3, lw=1.2, color=colour[canonical], label=label[canonical])
    handles_ax.plot([], [], "|", ms=8, color="0.3", ls="none", label="min–max over runs")
    if gaussian_drawn:
        handles_ax.plot([], [], "--", color="0.3", lw=1, label="matched Gaussian")
    if missed_drawn:
        handles_ax.plot([], [], "v", ms=5, color="0.3", ls="none", label="not captured by some run")
    legend(handles_ax, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    axes[0].figure.suptitle(f"{result.experiment}: when is each PC captured? (mean over runs; "
                            f"{_counts_text(result.counts)})", fontsize="small")
    return axes[0]


# -- compare: heatmap of values ---------------------------------------------------------------------------------------

def _row_axes(axes) -> list[str]:
    data = [a for a in axes if a in _DATA_AXES]
    return data or [a for a in axes if a not in _AVERAGED_AXES]


def _compare_summary(experiment, table, cells, axes, counts) -> SweepSummary:
    pd = import_pandas()

    frame = table.copy()
    keys = [a for a in _row_axes(axes) if a in frame.columns]
    frame["row"] = (frame[keys].astype(str).agg(" / ".join, axis=1) if keys else "all")
    frame["value"] = pd.to_numeric(frame["value"], errors="coerce")
    rows = []
    for (row, name), group in frame.groupby(["row", "measure"], sort=False):
        values = group["value"].to_numpy(float)
        kept = values[~np.isnan(values)]
        rows.append({"row": row, "measure": str(name), "mean": float(kept.mean()) if kept.size else math.nan,
                     "low": float(kept.min()) if kept.size else math.nan,
                     "high": float(kept.max()) if kept.size else math.nan, "n": len(kept),
                     "failed": len(values) - len(kept)})
    out = pd.DataFrame(rows, columns=["row", "measure", "mean", "low", "high", "n", "failed"])
    return SweepSummary(experiment, "heatmap", out, axes, counts, tuple(dict.fromkeys(out["row"])),
                        tuple(dict.fromkeys(out["measure"])), group=" / ".join(keys) or None)


def _plot_heatmap(result: SweepSummary, ax):
    plt = import_pyplot()

    rows, columns = list(result.panels), list(result.columns)
    grid = result.table.pivot(index="row", columns="measure", values="mean").reindex(index=rows, columns=columns)
    values = grid.to_numpy(float)
    shade = np.full_like(values, np.nan)
    for j in range(values.shape[1]):  # each measure on its own range: scores and distances have different units
        column = values[:, j]
        present = ~np.isnan(column)
        if present.any():
            low, high = column[present].min(), column[present].max()
            shade[present, j] = (column[present] - low) / (high - low) if high > low else 0.5
    if ax is None:
        _, ax = plt.subplots(figsize=(1.2 * len(columns) + 2.4, 0.45 * len(rows) + 1.6))
    ax = _new_axes(ax, 1)[0]
    ax.imshow(np.ma.masked_invalid(shade), cmap="viridis", vmin=0, vmax=1, aspect="auto")
    for i in range(len(rows)):
        for j in range(len(columns)):
            text = "–" if np.isnan(values[i, j]) else f"{values[i, j]:.3g}"
            dark = not np.isnan(shade[i, j]) and shade[i, j] < 0.6
            ax.text(j, i, text, ha="center", va="center", fontsize="x-small", color="white" if dark else "black")
    ax.set_xticks(range(len(columns)), columns, rotation=30, ha="right", fontsize="small")
    ax.set_yticks(range(len(rows)), rows, fontsize="small")
    ax.set_xlabel("measure")
    ax.set_ylabel(result.group or "")
    ax.set_title(f"{result.experiment}: mean value over cells and seeds\n(colour: each measure from its lowest to its "
                 f"highest; {_counts_text(result.counts)})", fontsize="small")
    return ax


# -- any experiment: seconds per cell --------------------------------------------------------------------------------

def _cells_summary(experiment, cells, axes, counts, note) -> SweepSummary:
    distinct = {a: cells[a].astype(str).nunique() for a in axes}
    group = max(axes, key=lambda a: distinct[a]) if axes else None  # ties: the first axis
    columns = ["cell", *([group] if group else []), "status", "seconds"]
    out = cells[columns].reset_index(drop=True)
    out["seconds"] = out["seconds"].astype(float)
    order = tuple(dict.fromkeys(out[group].astype(str))) if group else ()
    return SweepSummary(experiment, "cells", out, axes, counts, order, group=group, note=note)


def _plot_cells(result: SweepSummary, ax):
    plt = import_pyplot()

    table = result.table
    if ax is None:
        _, ax = plt.subplots(figsize=(max(3.6, 0.6 * len(result.panels) + 2.0), 3.4))
    ax = _new_axes(ax, 1)[0]
    groups = list(result.panels) or ["all"]
    where = {g: i for i, g in enumerate(groups)}
    x = table[result.group].astype(str).map(where).to_numpy(float) if result.group else np.zeros(len(table))
    # spread the cells of a group evenly across its slot (deterministic, no random jitter)
    offset = table.groupby(x).cumcount().to_numpy(float) if len(table) else np.zeros(0)
    size = table.groupby(x)["cell"].transform("size").to_numpy(float) if len(table) else np.zeros(0)
    x = x + np.where(size > 1, (offset / np.maximum(size - 1, 1) - 0.5) * 0.5, 0.0)
    statuses = list(dict.fromkeys(["done", "failed", *table["status"].astype(str)]))
    for k, status in enumerate(statuses):
        mine = (table["status"].astype(str) == status).to_numpy()
        if mine.any():
            colour = _STATUS_COLOURS.get(status, f"C{(k + 4) % 10}")
            ax.plot(x[mine], table["seconds"].to_numpy(float)[mine], "o", ms=4, ls="none", color=colour,
                    label=f"{status} ({int(mine.sum())})")
    if table.empty:
        ax.text(0.5, 0.5, "no cells", ha="center", va="center", transform=ax.transAxes, color="0.4")
    ax.set_xticks(range(len(groups)), groups, rotation=30 if len(groups) > 4 else 0, fontsize="small")
    ax.set_xlabel(result.group or "cells")
    ax.set_ylabel("seconds per cell")
    note = f" — {result.note}" if result.note else ""
    ax.set_title(f"{result.experiment}: {_counts_text(result.counts)}{note}", fontsize="small")
    legend(ax, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return ax


def summary_of_store(store, experiment: str | None = None, keys=None) -> SweepSummary:
    """:func:`summary` of a stored sweep: its cells, their tables and their axes, read from ``store`` (a folder
    or a :class:`~repalign.sweeps.Store`). ``experiment``: the one to draw when the store holds several;
    ``keys``: only these cells (a spec's)."""
    from .store import Store

    store = store if isinstance(store, Store) else Store(store, create=False)
    cells = store.cells(keys)
    if not len(cells):
        raise SettingsError("store", f"{store.folder} holds no cell yet")
    kinds = list(dict.fromkeys(cells["experiment"]))
    if experiment is None:
        if len(kinds) > 1:
            raise SettingsError("experiment", f"the store holds cells of {kinds}; name one")
        experiment = kinds[0]
    elif experiment not in kinds:
        raise SettingsError("experiment", f"the store holds cells of {kinds}, not {experiment!r}")
    cells = cells[cells["experiment"] == experiment].reset_index(drop=True)
    axes = list(dict.fromkeys(a for text in cells["axes"] for a in json.loads(text)))
    tables = {name: store.table(name, keys) for name in store.table_names(keys)}
    tables = {name: t[t["cell"].isin(set(cells["cell"]))].reset_index(drop=True) for name, t in tables.items()}
    return summary(experiment, tables, cells, [a for a in axes if a in cells.columns])

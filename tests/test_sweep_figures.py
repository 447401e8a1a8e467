"""The sweeps' summary figures (repalign.sweeps.figures) on tables of experiments actually run, cell by cell.

The inputs are built as a sweep's store hands them over: each record table of the finished cells,
concatenated, with ``cell`` and one column per axis prepended. The summary tables are checked
against an independent pandas groupby of those inputs.
"""

import numpy as np
import pandas as pd
import pytest

from repalign import experiments
from repalign.data import Dataset, mante_like, ultrametric
from repalign.results import save_figure
from repalign.sweeps.figures import summary, summary_figure

plt = pytest.importorskip("matplotlib.pyplot")

AXES = ("data", "measures", "seed")
DATASETS = {"mante": lambda: mante_like(n_units=20, n_time=5, seed=0), "ultrametric": lambda: ultrametric(20, seed=0)}
MEASURES = ("cka", "angular-procrustes")
SEEDS = (0, 1)


def sweep_tables(records: dict, axes_of: dict):
    """The store's view: each table of the records concatenated, ``cell`` and the axes prepended.

    A record table's own column with an axis' name (optimize's ``seed``) gives way to the axis.
    """
    tables = {}
    for cell, record in records.items():
        for name, table in record.tables.items():
            table = table.drop(columns=[a for a in axes_of[cell] if a in table.columns])
            for position, (column, value) in enumerate({"cell": cell, **axes_of[cell]}.items()):
                table.insert(position, column, value)
            tables.setdefault(name, []).append(table)
    return {name: pd.concat(frames, ignore_index=True) for name, frames in tables.items()}


def cells_table(axes_of: dict, failed=(), experiment="optimize"):
    return pd.DataFrame([{"cell": cell, "experiment": experiment, "status": "failed" if cell in failed else "done",
                          "error": "boom" if cell in failed else None, "seconds": 0.5 + i, "worker": "w0", **axes}
                         for i, (cell, axes) in enumerate(axes_of.items())])


@pytest.fixture(scope="module")
def optimize_sweep():
    records, axes_of = {}, {}
    for data, make in DATASETS.items():
        dataset = make()
        for m in MEASURES:
            for seed in SEEDS:
                cell = f"{data}-{m}-{seed}"
                axes_of[cell] = {"data": data, "measures": m, "seed": seed}
                records[cell] = experiments.run("optimize", {
                    "data": dataset, "measures": [m], "steps": 30, "seed": seed, "pcs": 3, "decode": (),
                    "progress": False, "save_final": False})
    return sweep_tables(records, axes_of), cells_table(axes_of), axes_of


@pytest.fixture(scope="module")
def compare_sweep():
    records, axes_of = {}, {}
    for data, make in DATASETS.items():
        x = make()
        for seed in SEEDS:
            noise = np.random.default_rng(seed).normal(size=x.activity.shape)
            y = Dataset(x.activity + 2.0 * noise)
            for m in MEASURES:
                cell = f"{data}-{m}-{seed}"
                axes_of[cell] = {"x": data, "measures": m, "seed": seed}
                records[cell] = experiments.run("compare", {"x": x, "y": y, "measures": [m], "seed": seed})
    return sweep_tables(records, axes_of), cells_table(axes_of, experiment="compare"), axes_of


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_capture_summary_is_the_mean_and_range_over_seeds(optimize_sweep):
    tables, cells, _ = optimize_sweep
    result = summary("optimize", tables, cells, AXES)
    assert result.figure == "capture" and result.panels == tuple(DATASETS)
    source = tables["pc_capture"]
    captured = source[source["value"].notna()]
    expected = captured.groupby(["data", "measure", "pc"])["value"].agg(["mean", "min", "max", "size"])
    runs = source.groupby(["data", "measure", "pc"]).size()
    got = result.table.set_index(["data", "measure", "pc"]).sort_index()
    assert len(got) == len(runs) == len(DATASETS) * len(MEASURES) * 3
    assert (got["runs"] == runs.reindex(got.index)).all() and (got["runs"] == len(SEEDS)).all()
    assert (got["captured"] == expected["size"].reindex(got.index).fillna(0)).all()
    for column, statistic in (("mean", "mean"), ("low", "min"), ("high", "max")):
        np.testing.assert_allclose(got[column], expected[statistic].reindex(got.index), rtol=1e-12, err_msg=column)
    # the value read is the measure's, not the R² crossing point: ranges differ, two seeds spread it
    assert (got["low"] <= got["mean"]).all() and (got["mean"] <= got["high"]).all()
    assert (got["high"] > got["low"]).any()
    # explained variance: one per PC of each dataset, whatever the seed
    variance = source.groupby(["data", "pc"])["explained_variance"].agg(["min", "max"])
    np.testing.assert_allclose(variance["min"], variance["max"], rtol=1e-12)
    assert set(got["label"]) == set(MEASURES)  # the names as the user wrote them


def test_capture_figure_has_one_panel_per_dataset_and_saves(optimize_sweep, tmp_path):
    tables, cells, _ = optimize_sweep
    result = summary("optimize", tables, cells, AXES)
    ax = result.plot()
    panels = ax.figure.axes
    assert [p.get_title() for p in panels] == list(DATASETS)
    assert all(p.get_xscale() == "log" for p in panels)
    labels = [t.get_text() for t in panels[-1].get_legend().get_texts()]
    assert set(MEASURES) <= set(labels)
    # one mean line per measure per panel, through the PCs that some run captures
    for panel, data in zip(panels, DATASETS):
        lines = [line for line in panel.get_lines() if len(line.get_xdata()) > 0 and line.get_linestyle() == "-"]
        mine = result.table[(result.table["data"] == data) & (result.table["captured"] > 0)]
        assert len(lines) == mine["measure"].nunique()
        for line in lines:
            assert set(np.round(line.get_xdata(), 12)) <= set(np.round(mine["explained_variance"], 12))
    written = save_figure(summary_figure("optimize", tables, cells, AXES), result.table, tmp_path / "sweep")
    assert [p.rsplit(".", 1)[1] for p in written] == ["png", "pdf", "csv"]
    assert (tmp_path / "sweep.png").stat().st_size > 0
    back = pd.read_csv(tmp_path / "sweep.csv")
    np.testing.assert_allclose(back["mean"], result.table["mean"], rtol=1e-12)


def test_capture_without_a_data_axis_is_one_panel(optimize_sweep):
    tables, cells, _ = optimize_sweep
    one = {name: t[t["data"] == "mante"].drop(columns="data") for name, t in tables.items()}
    result = summary("optimize", one, cells[cells["data"] == "mante"].drop(columns="data"), ("measures", "seed"))
    assert result.panels == ("all",) and set(result.table["data"]) == {"all"}
    assert len(result.plot().figure.axes) == 1
    with pytest.raises(ValueError, match="ax: this figure has 2 panel"):
        summary("optimize", tables, cells, AXES).plot(ax=plt.subplots()[1])


def test_a_dataset_whose_cells_all_failed_gets_an_empty_panel(optimize_sweep):
    tables, _, axes_of = optimize_sweep
    failed = [c for c, a in axes_of.items() if a["data"] == "ultrametric"]
    kept = {name: t[~t["cell"].isin(failed)] for name, t in tables.items()}
    result = summary("optimize", kept, cells_table(axes_of, failed), AXES)
    assert result.panels == tuple(DATASETS) and result.counts == {"done": 4, "failed": 4}
    panels = result.plot().figure.axes
    assert [t.get_text() for t in panels[1].texts] == ["no finished cells"]
    assert "4 of 8 cells done, 4 failed" in panels[0].figure._suptitle.get_text()


def test_matched_gaussian_thresholds_are_dashed():
    axes_of = {"g": {"data": "mante", "measures": "cka", "seed": 0}}
    record = experiments.run("optimize", {"data": mante_like(n_units=20, n_time=5, seed=0), "measures": ["cka"],
                                          "steps": 30, "seed": 0, "pcs": 3, "decode": (), "progress": False,
                                          "save_final": False, "matched_gaussian": True})
    result = summary("optimize", sweep_tables({"g": record}, axes_of), cells_table(axes_of), AXES)
    assert set(result.table["reference"]) == {"data", "matched Gaussian"}
    ax = result.plot()
    dashed = [line for line in ax.get_lines() if line.get_linestyle() == "--" and len(line.get_xdata())]
    assert len(dashed) == 1


def test_compare_heatmap_is_the_mean_over_seeds(compare_sweep):
    tables, cells, _ = compare_sweep
    result = summary("compare", tables, cells, ("x", "measures", "seed"))
    assert result.figure == "heatmap" and result.panels == tuple(DATASETS) and result.columns == MEASURES
    expected = tables["table"].groupby(["x", "measure"])["value"].agg(["mean", "min", "max", "size"])
    got = result.table.set_index(["row", "measure"]).sort_index()
    np.testing.assert_allclose(got["mean"], expected["mean"].reindex(got.index), rtol=1e-12)
    np.testing.assert_allclose(got["low"], expected["min"].reindex(got.index), rtol=1e-12)
    np.testing.assert_allclose(got["high"], expected["max"].reindex(got.index), rtol=1e-12)
    assert (got["n"] == len(SEEDS)).all() and (got["failed"] == 0).all() and (got["high"] > got["low"]).all()
    # a measure that raised in a cell has no value: counted as failed, left out of the mean
    broken = tables["table"].iloc[:1].assign(value=None, error="too few samples")
    with_error = {"table": pd.concat([tables["table"], broken], ignore_index=True)}
    again = summary("compare", with_error, cells, ("x", "measures", "seed")).table.set_index(["row", "measure"])
    key = (broken["x"].iloc[0], broken["measure"].iloc[0])
    assert again.loc[key, "failed"] == 1 and again.loc[key, "n"] == len(SEEDS)
    assert again.loc[key, "mean"] == got.loc[key, "mean"]
    ax = result.plot()
    assert ax.images[0].get_array().shape == (len(DATASETS), len(MEASURES))
    annotated = {t.get_text() for t in ax.texts}
    assert annotated == {f"{v:.3g}" for v in result.table["mean"]}


def test_unknown_experiment_falls_back_to_seconds_per_cell():
    cells = pd.DataFrame({"cell": list("abcdef"), "status": ["done"] * 4 + ["failed"] * 2,
                          "seconds": [1.0, 2.0, 3.0, 4.0, 0.1, 0.2], "lr": [0.1, 0.2, 0.3, 0.1, 0.2, 0.3],
                          "seed": [0, 0, 0, 1, 1, 1]})
    result = summary("perturb", {}, cells, ("seed", "lr"))
    assert result.figure == "cells" and result.group == "lr" and result.counts == {"done": 4, "failed": 2}
    assert result.table["seconds"].tolist() == cells["seconds"].tolist()
    ax = result.plot()
    drawn = {line.get_label(): np.sort(line.get_ydata()) for line in ax.get_lines()}
    np.testing.assert_array_equal(drawn["done (4)"], [1.0, 2.0, 3.0, 4.0])
    np.testing.assert_array_equal(drawn["failed (2)"], [0.1, 0.2])
    assert "4 of 6 cells done, 2 failed" in ax.get_title()


@pytest.mark.parametrize("experiment", ["optimize", "compare"])
def test_all_failed_cells_draw_the_fallback(experiment, tmp_path):
    cells = pd.DataFrame({"cell": ["a", "b"], "status": ["failed", "failed"], "error": ["x", "y"],
                          "seconds": [0.1, 0.3], "data": ["m", "u"]})
    for tables in ({}, {"pc_capture": pd.DataFrame(), "table": pd.DataFrame()}):
        result = summary(experiment, tables, cells, ["data"])
        assert result.figure == "cells" and result.note == "no finished cells"
        ax = result.plot()
        assert "no finished cells" in ax.get_title() and "0 of 2 cells done" in ax.get_title()
    result.save(tmp_path / "failed")
    assert (tmp_path / "failed.png").exists()
    nothing = summary(experiment, {}, cells.iloc[:0], ["data"])
    assert nothing.plot().texts[0].get_text() == "no cells"


def test_bad_arguments_are_named(optimize_sweep):
    tables, cells, _ = optimize_sweep
    with pytest.raises(ValueError, match=r"axes: \['lr'\] are not columns of cells"):
        summary("optimize", tables, cells, ["data", "lr"])
    with pytest.raises(ValueError, match="axes: expected a sequence"):
        summary("optimize", tables, cells, "data")
    with pytest.raises(ValueError, match="cells: missing column"):
        summary("optimize", tables, cells.drop(columns="status"), AXES)
    with pytest.raises(ValueError, match="tables: 'pc_capture' lacks"):
        summary("optimize", {"pc_capture": tables["pc_capture"].drop(columns="value")}, cells, AXES)
    with pytest.raises(ValueError, match="tables: 'table' is a list, expected a DataFrame"):
        summary("compare", {"table": [1.0]}, cells, AXES)
    with pytest.raises(ValueError, match="tables: expected a mapping"):
        summary("optimize", [tables["pc_capture"]], cells, AXES)


def test_summary_record_round_trips(optimize_sweep, tmp_path):
    from repalign.results import Record

    tables, cells, _ = optimize_sweep
    record = summary("optimize", tables, cells, AXES).record()
    back = Record.load(record.save(tmp_path / "summary.npz"))
    assert back.kind == "sweep_summary" and back.settings["axes"] == list(AXES)
    np.testing.assert_allclose(back.table["mean"], record.table["mean"], rtol=1e-12)

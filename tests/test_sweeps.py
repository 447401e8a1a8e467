"""The sweep engine's spec, store, status, export and command line (repalign.sweeps, `repalign sweep`).

Cell keys are recomputed here from their documented definition (SHA-256 of the canonical JSON of
the experiment, the version and the settings with datasets by identity), independently of
``spec.digest``. The store is checked by round trips against the frames written (pandas'
``assert_frame_equal``) and by reading its SQLite database directly. Everything runs on tiny
data: the compare experiment, or specs that are only loaded, never run.
"""

import hashlib
import json
import time
import os
import shutil
import sqlite3
import warnings

import numpy as np
import pandas as pd
import pytest

import repalign
from repalign._checks import SettingsError
from repalign.cli import main
from repalign.sweeps import Outcome, Store, load_spec, run_sweep, sweep_status
from repalign.registry import catalogue
from repalign.sweeps.store import SCHEMA_VERSION

TINY = {"generator": "mante_like", "n_units": 12, "n_time": 4}
DATASETS = {"ref": {**TINY, "seed": 0}, "other": {**TINY, "seed": 1}}
COMPARE = {"experiment": "compare", "settings": {"y": "ref"},
           "axes": {"x": ["ref", "other"], "measures": ["cka", "angular-procrustes"]}, "datasets": DATASETS}
COMPARE_TOML = """
experiment = "compare"

[settings]
y = "ref"

[axes]
x = ["ref", "other"]
measures = ["cka", "angular-procrustes"]

[datasets.ref]
generator = "mante_like"
n_units = 12
n_time = 4
seed = 0

[datasets.other]
generator = "mante_like"
n_units = 12
n_time = 4
seed = 1
"""


# --- an independent cell key ---

def sha256_of_file(path) -> str:
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def generator_identity(entry: dict) -> dict:
    options = {k: v for k, v in entry.items() if k != "generator"}
    return {"generator": entry["generator"], "options": options}


def expected_key(experiment: str, settings: dict, identities: dict, version=None) -> str:
    """sha256 of the canonical JSON of {experiment, repalign version, settings (datasets by identity)}, 16 hex."""
    data_fields = {"data", "x", "y", "reference"}
    value = {"experiment": experiment, "repalign": repalign.__version__ if version is None else version,
             "settings": {f: identities[v] if f in data_fields and isinstance(v, str) else v
                          for f, v in settings.items()}}
    text = json.dumps(value, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def compare_keys(version=None) -> list[str]:
    identities = {n: generator_identity(e) for n, e in DATASETS.items()}
    return [expected_key("compare", {"y": "ref", "x": x, "measures": [m]}, identities, version)
            for x in ("ref", "other") for m in ("cka", "angular-procrustes")]


# --- spec ---

def test_toml_file_and_dict_give_the_same_cells_and_the_documented_keys(tmp_path):
    path = tmp_path / "grid.toml"
    path.write_text(COMPARE_TOML)
    from_file, from_dict = load_spec(path), load_spec(COMPARE, base=tmp_path)
    assert [c.key for c in from_file.cells()] == [c.key for c in from_dict.cells()] == compare_keys()
    assert [c.values for c in from_file.cells()] == [c.values for c in from_dict.cells()]
    assert [c.settings for c in from_file.cells()] == [
        {"y": "ref", "x": x, "measures": [m]} for x in ("ref", "other") for m in ("cka", "angular-procrustes")]
    assert from_file.name == "grid" and from_file.store == tmp_path / "grid.sweep"
    assert [c.key for c in load_spec(path).cells()] == compare_keys()  # stable from one load to the next


def test_keys_change_with_a_setting_a_generator_argument_and_the_version(monkeypatch):
    base = [c.key for c in load_spec(COMPARE).cells()]
    seeded = [c.key for c in load_spec({**COMPARE, "settings": {"y": "ref", "seed": 3}}).cells()]
    assert not set(seeded) & set(base)
    identities = {n: generator_identity(e) for n, e in DATASETS.items()}
    assert seeded[0] == expected_key("compare", {"y": "ref", "seed": 3, "x": "ref", "measures": ["cka"]}, identities)
    noisier = {**COMPARE, "datasets": {**DATASETS, "other": {**DATASETS["other"], "noise": 0.7}}}
    changed = [c.key for c in load_spec(noisier).cells()]
    assert changed != base  # 'other' is in every cell (as x, or not at all: y is 'ref')
    assert changed[:2] == base[:2] and not set(changed[2:]) & set(base)
    monkeypatch.setattr("repalign.sweeps.spec.__version__", "99.0.0")
    assert [c.key for c in load_spec(COMPARE).cells()] == compare_keys("99.0.0") != base


def file_spec(folder, store="out.sweep"):
    return {"experiment": "compare", "store": store, "settings": {"y": "data/a.npy"},
            "axes": {"x": ["data/a.npy", "b"]}, "datasets": {"b": {"path": "data/b.npy"}}}


def test_keys_follow_a_file_by_content_not_by_place(tmp_path):
    rng = np.random.default_rng(0)
    (tmp_path / "one" / "data").mkdir(parents=True)
    np.save(tmp_path / "one" / "data" / "a.npy", rng.normal(size=(8, 3)))
    np.save(tmp_path / "one" / "data" / "b.npy", rng.normal(size=(8, 4)))
    spec = load_spec(file_spec(tmp_path), base=tmp_path / "one")
    keys = [c.key for c in spec.cells()]
    identity = {n: {"loader": "file", "options": {"path": f"{n}.npy"},
                    "sha256": sha256_of_file(tmp_path / "one" / "data" / f"{n}.npy")} for n in "ab"}
    identities = {"data/a.npy": identity["a"], "b": identity["b"]}
    assert keys == [expected_key("compare", {"y": "data/a.npy", "x": x}, identities) for x in ("data/a.npy", "b")]
    assert spec.datasets["b"].options["path"] == str(tmp_path / "one" / "data" / "b.npy")  # absolute to load
    # the spec, its data and its store moved elsewhere: the same keys
    shutil.copytree(tmp_path / "one", tmp_path / "two" / "deeper")
    moved = load_spec(file_spec(tmp_path, store="/elsewhere/s.sweep"), base=tmp_path / "two" / "deeper")
    assert [c.key for c in moved.cells()] == keys
    assert moved.store != spec.store
    # a file's content changed: the cells using it get new keys, the others keep theirs
    np.save(tmp_path / "one" / "data" / "b.npy", rng.normal(size=(8, 4)))
    again = [c.key for c in load_spec(file_spec(tmp_path), base=tmp_path / "one").cells()]
    assert again[0] == keys[0] and again[1] != keys[1]


def test_spec_file_moved_keeps_its_keys(tmp_path):
    for folder in ("a", "b/c"):
        (tmp_path / folder).mkdir(parents=True)
        (tmp_path / folder / "grid.toml").write_text(COMPARE_TOML)
    first, second = load_spec(tmp_path / "a" / "grid.toml"), load_spec(tmp_path / "b" / "c" / "grid.toml")
    assert [c.key for c in first.cells()] == [c.key for c in second.cells()] == compare_keys()
    assert second.store == tmp_path / "b" / "c" / "grid.sweep"


def test_cells_are_the_product_of_the_axes_in_order_less_exclusions():
    spec = {"experiment": "compare", "settings": {"y": "ref"},
            "axes": {"x": ["ref", "other"], "measures": ["cka", "linreg", "angular-procrustes"], "seed": [0, 1]},
            "datasets": DATASETS,
            "exclude": [{"x": "other", "measures": ["cka", "linreg"]}, {"seed": 1, "measures": "angular-procrustes"}]}
    expected = [{"x": x, "measures": m, "seed": s}
                for x in ("ref", "other") for m in ("cka", "linreg", "angular-procrustes") for s in (0, 1)
                if not (x == "other" and m in ("cka", "linreg")) and not (s == 1 and m == "angular-procrustes")]
    cells = load_spec(spec).cells()
    assert [c.values for c in cells] == expected and len(cells) == 6
    assert len({c.key for c in cells}) == len(cells)


def test_a_measure_pattern_expands_over_the_catalogue():
    import fnmatch

    spec = load_spec({**COMPARE, "axes": {"x": ["ref"], "measures": ["procrustes-*", "cka"]}})
    measures = [c.values["measures"] for c in spec.cells()]
    matched = [n for n in repalign.catalogue() if fnmatch.fnmatchcase(n, "procrustes-*")]
    assert len(matched) >= 2 and measures == matched + ["cka"]
    assert [c.settings["measures"] for c in spec.cells()] == [[m] for m in measures]


def test_a_list_value_of_measures_is_several_measures_in_one_cell():
    spec = load_spec({**COMPARE, "axes": {"x": ["ref"], "measures": [["cka", "linreg"], "cka"]}})
    assert [c.settings["measures"] for c in spec.cells()] == [["cka", "linreg"], ["cka"]]


def bad(spec, **changes):
    return {**spec, **changes}


@pytest.mark.parametrize("spec, argument, words", [
    (bad(COMPARE, axes={"x": ["ref"], "measures": ["zzz*"]}), "axes.measures", "matches no measure"),
    (bad(COMPARE, axes={"x": ["ref"], "measures": ["no-such-measure"]}), "axes.measures", "no-such-measure"),
    (bad(COMPARE, axes={"x": ["ref"], "foo": [1]}), "axes", "foo"),
    (bad(COMPARE, settings={"y": "ref", "foo": 1}), "settings", "foo"),
    (bad(COMPARE, experiment="nope"), "experiment", "nope"),
    (bad(COMPARE, experiment="demo"), "experiment", "demo"),
    (bad(COMPARE, zzz=1), "spec", "zzz"),
    ({"experiment": "optimize", "settings": {"progress": True}, "axes": {"data": ["ref"]}, "datasets": DATASETS},
     "settings", "progress"),
    ({"experiment": "optimize", "axes": {"data": ["ref"], "progress": [True, False]}, "datasets": DATASETS},
     "axes", "progress"),
    (bad(COMPARE, settings={"y": "ref", "x": "ref"}), "axes", "both"),
    (bad(COMPARE, axes={"x": []}), "axes.x", "non-empty"),
    (bad(COMPARE, axes={"x": "ref"}), "axes.x", "non-empty list"),
    (bad(COMPARE, axes={}), "axes", "at least one axis"),
    (bad(COMPARE, axes={"x": ["ref", "other", "ref"]}), "axes.x", "once"),
    (bad(COMPARE, axes={"x": ["ref"], "measures": ["cka", "linreg", "cka"]}), "axes.measures", "once"),
    (bad(COMPARE, axes={"x": ["ref", "missing"]}), "datasets.missing",
     "'missing' (in axes.x) is neither a dataset of [datasets] ['other', 'ref'] nor a file: no file or folder"),
    (bad(COMPARE, settings={"y": "missing"}), "datasets.missing", "'missing' (in settings.y) is neither a dataset"),
    (bad(COMPARE, datasets={**DATASETS, "other": {"generator": "nope"}}), "datasets.other", "unknown generator"),
    (bad(COMPARE, datasets={**DATASETS, "other": {"loader": "nope", "path": "x"}}), "datasets.other",
     "unknown loader"),
    (bad(COMPARE, datasets={**DATASETS, "other": {"generator": "two_pc", "loader": "m1"}}), "datasets.other",
     "not both"),
    (bad(COMPARE, datasets={**DATASETS, "other": 3}), "datasets.other", "expected a table"),
    (bad(COMPARE, datasets={**DATASETS, "other": {"loader": "nwb"}}), "datasets.other", "needs 'path'"),
    (bad(COMPARE, exclude=[{"x": "ref"}, {"x": "other"}]), "exclude", "no cell"),
    (bad(COMPARE, exclude=[{"nope": 1}]), "exclude", "nope"),
    (bad(COMPARE, exclude=[{}]), "exclude", "names no axis"),
    (bad(COMPARE, exclude={"x": "ref"}), "exclude", "list of tables"),
    (bad(COMPARE, batch="no"), "batch", "true or false"),
    (bad(COMPARE, name=""), "name", "non-empty"),
    (bad(COMPARE, axes={"x": [1, 2]}), "axes.x", "dataset names"),
    (bad(COMPARE, axes={"x": ["ref"], "measures": [1]}), "axes.measures", "measure names"),
])
def test_a_bad_spec_is_a_settings_error_naming_its_place(spec, argument, words, tmp_path):
    with pytest.raises(SettingsError) as error:
        load_spec(spec, base=tmp_path)
    assert error.value.argument == argument, str(error.value)
    assert words in error.value.problem


def test_a_bad_spec_file_names_spec(tmp_path):
    with pytest.raises(SettingsError, match="no spec file") as error:
        load_spec(tmp_path / "missing.toml")
    assert error.value.argument == "spec"
    (tmp_path / "bad.toml").write_text('experiment = "compare"\n[axes\n')
    with pytest.raises(SettingsError, match="not valid TOML") as error:
        load_spec(tmp_path / "bad.toml")
    assert error.value.argument == "spec"
    with pytest.raises(SettingsError) as error:
        load_spec(3)
    assert error.value.argument == "spec"


def test_a_bad_value_is_reported_before_any_work_with_its_cell(tmp_path):
    spec = {"experiment": "optimize", "settings": {"steps": 0}, "axes": {"data": ["ref"], "seed": [0, 1]},
            "datasets": DATASETS}
    with pytest.raises(SettingsError, match=r"in the cell \{'data': 'ref', 'seed': 0\}") as error:
        run_sweep(spec, tmp_path / "store", progress=False)
    assert error.value.argument == "settings.steps"
    assert not (tmp_path / "store").exists()  # nothing ran, nothing was written
    spec = {**spec, "settings": {"steps": 5}, "axes": {"data": ["ref"], "lr": [0.1, -1.0]}}
    with pytest.raises(SettingsError, match=r"'lr': -1.0") as error:
        load_spec(spec)
    assert error.value.argument == "axes.lr"


def test_an_exclusion_that_matches_nothing_warns():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        spec = load_spec(bad(COMPARE, exclude=[{"x": "nowhere"}]))
    assert len(spec.cells()) == 4
    assert any("matches no cell" in str(w.message) for w in caught)


# --- groups ---

OPTIMIZE = {"experiment": "optimize", "settings": {"steps": 5, "pcs": 2},
            "axes": {"data": ["ref", "other"], "measures": ["cka", "linreg"], "seed": [0, 1, 2]},
            "datasets": DATASETS}


def test_optimize_cells_differing_only_in_seed_share_a_group():
    cells = load_spec(OPTIMIZE).cells()
    groups = {}
    for cell in cells:
        groups.setdefault(cell.group, []).append(cell)
    assert len(groups) == 4 and all(len(members) == 3 for members in groups.values())
    for members in groups.values():
        assert [c.values["seed"] for c in members] == [0, 1, 2]
        assert len({(c.values["data"], c.values["measures"]) for c in members}) == 1
    assert len({c.key for c in cells}) == 12 and not {c.group for c in cells} & {c.key for c in cells}


def test_batch_false_and_compare_give_one_group_per_cell():
    alone = load_spec({**OPTIMIZE, "batch": False}).cells()
    assert [c.group for c in alone] == [c.key for c in alone]
    assert [c.key for c in alone] == [c.key for c in load_spec(OPTIMIZE).cells()]  # batching is not in the key
    compare = load_spec({**COMPARE, "axes": {**COMPARE["axes"], "seed": [0, 1]}}).cells()
    assert [c.group for c in compare] == [c.key for c in compare]


# --- store ---

CELL = {"key": "k1", "group": "g1", "values": {"data": "ref", "seed": 0}, "settings": {"data": "ref", "seed": 0}}


def every_dtype() -> pd.DataFrame:
    return pd.DataFrame({
        "value": np.array([0.1, np.nan, -2.5e-300]),
        "value32": np.array([1.5, 2.25, -0.125], dtype=np.float32),
        "step": np.array([0, 10, 2**40], dtype=np.int64),
        "measure": ["cka", "linreg", "angular-procrustes"],
        "error": ["boom", None, "bang"],
        "pc": pd.array([1, None, 3], dtype="Int64"),
        "captured": np.array([True, False, True]),
    })


def write(store, key, tables=None, *, status="done", position=0, values=None, **options):
    cell = {"key": key, "group": key, "values": values or {"seed": 0}, "settings": values or {"seed": 0}}
    return store.write(Outcome(key, status, tables=tables, **options), cell, sweep="s", experiment="compare",
                       position=position)


def test_store_round_trips_every_dtype_exactly(tmp_path):
    table = every_dtype()
    store = Store(tmp_path / "store")
    assert store.write(Outcome("k1", "done", tables={"t": table, "empty": table.iloc[:0]}), CELL, sweep="s",
                       experiment="compare")
    store.close()
    tables = Store(tmp_path / "store", create=False).cell_tables("k1")
    pd.testing.assert_frame_equal(tables["t"], table)
    pd.testing.assert_frame_equal(tables["empty"], table.iloc[:0].reset_index(drop=True))
    assert tables["t"]["pc"].dtype == "Int64" and tables["t"]["error"].isna().tolist() == [False, True, False]


def test_store_inserts_a_cell_once(tmp_path):
    store = Store(tmp_path)
    assert write(store, "k1", {"t": pd.DataFrame({"v": [1.0]})})
    assert not write(store, "k1", {"t": pd.DataFrame({"v": [2.0]}), "u": pd.DataFrame({"v": [3.0]})})
    assert not write(store, "k1", {"t": pd.DataFrame({"v": [2.0]})}, status="failed")
    assert store.cell_tables("k1")["t"]["v"].tolist() == [1.0] and store.table_names() == ["t"]
    with sqlite3.connect(store.path) as db:
        assert db.execute("SELECT count(*), max(status) FROM cells").fetchone() == (1, "done")
        assert db.execute("SELECT count(*) FROM tables").fetchone() == (1,)


def test_replace_failed_replaces_a_failed_cell_never_a_done_one(tmp_path):
    store = Store(tmp_path)
    cell = {**CELL, "key": "bad"}
    assert store.write(Outcome("bad", "failed", error="ValueError: no"), cell, sweep="s", experiment="compare")
    assert not store.write(Outcome("bad", "done"), cell, sweep="s", experiment="compare")  # not asked
    assert store.write(Outcome("bad", "done", tables={"t": pd.DataFrame({"v": [1.0]})}), cell, sweep="s",
                       experiment="compare", replace_failed=True)
    assert store.keys("done") == {"bad"} and store.keys("failed") == set()
    assert not store.write(Outcome("bad", "failed", error="again"), cell, sweep="s", experiment="compare",
                           replace_failed=True)
    assert store.keys("done") == {"bad"} and store.cell_tables("bad")["t"]["v"].tolist() == [1.0]
    with pytest.raises(ValueError, match="outcome"):
        store.write(Outcome("other", "done"), cell, sweep="s", experiment="compare")


def test_arrays_are_written_whole_and_read_back(tmp_path):
    store = Store(tmp_path / "store")
    final = np.random.default_rng(0).normal(size=(3, 4, 5)).astype(np.float32)
    assert write(store, "k1", arrays={"final": final, "ints": np.arange(6)})
    arrays = store.arrays("k1")
    np.testing.assert_array_equal(arrays["final"], final)
    assert arrays["final"].dtype == np.float32 and arrays["ints"].tolist() == list(range(6))
    assert (tmp_path / "store" / "arrays" / "k1" / "final.npy").is_file()
    assert not list((tmp_path / "store").rglob("*.tmp"))
    with pytest.raises(SettingsError) as error:
        store.arrays("nope")
    assert error.value.argument == "cell"


def test_the_database_is_in_wal_mode(tmp_path):
    store = Store(tmp_path)
    write(store, "k1")
    with sqlite3.connect(store.path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_table_is_ordered_by_position_and_adds_axes_the_table_lacks(tmp_path):
    store = Store(tmp_path)
    for key, position, seed in (("c", 2, 2), ("a", 0, 0), ("b", 1, 1)):
        values = {"data": "ref", "measures": ["cka", "linreg"] if key == "b" else "cka", "seed": seed}
        table = pd.DataFrame({"seed": [seed, seed], "value": [position, position + 0.5]})
        if key == "c":
            table["seed"] = [7, 7]  # a table whose own column differs from the axis value
        assert write(store, key, {"t": table}, position=position, values=values)
    table = store.table("t")
    assert table["cell"].tolist() == ["a", "a", "b", "b", "c", "c"]
    assert table["value"].tolist() == [0, 0.5, 1, 1.5, 2, 2.5]
    assert table["data"].tolist() == ["ref"] * 6
    assert table["measures"].tolist() == ["cka", "cka", "cka+linreg", "cka+linreg", "cka", "cka"]
    assert list(table.columns).count("seed") == 1 and table["seed"].tolist() == [0, 0, 1, 1, 7, 7]
    assert table["axis_seed"].isna().tolist() == [True] * 4 + [False] * 2 and table["axis_seed"].iloc[-1] == 2
    assert store.cells()["cell"].tolist() == ["a", "b", "c"]
    assert store.cells()["seed"].tolist() == [0, 1, 2]
    with pytest.raises(SettingsError) as error:
        store.table("nope")
    assert error.value.argument == "table"


def test_export_writes_parquet_equal_to_the_tables(tmp_path):
    pytest.importorskip("pyarrow")
    store = Store(tmp_path / "store")
    write(store, "k1", {"t": every_dtype()}, values={"data": "ref", "seed": 0}, seconds=0.5, worker="w")
    write(store, "k2", status="failed", position=1, values={"data": "other", "seed": 1}, error="ValueError: no")
    written = store.export(tmp_path / "out")
    assert sorted(written) == sorted(str(tmp_path / "out" / f"{n}.parquet") for n in ("cells", "t"))
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "out" / "t.parquet"), store.table("t"))
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "out" / "cells.parquet"), store.cells(),
                                  check_dtype=False)
    (tmp_path / "file").write_text("")
    with pytest.raises(SettingsError) as error:
        store.export(tmp_path / "file")
    assert error.value.argument == "out"


def test_a_store_that_is_a_file_or_missing_names_store(tmp_path):
    (tmp_path / "file").write_text("")
    for make in (lambda: Store(tmp_path / "file"), lambda: Store(tmp_path / "missing", create=False),
                 lambda: sweep_status(tmp_path / "missing")):
        with pytest.raises(SettingsError) as error:
            make()
        assert error.value.argument == "store"
    assert not (tmp_path / "missing").exists()


def test_a_store_of_another_schema_is_refused(tmp_path):
    write(Store(tmp_path), "k1")
    with sqlite3.connect(tmp_path / "store.sqlite") as db:
        db.execute("UPDATE meta SET value = ? WHERE name = 'schema'", (str(SCHEMA_VERSION + 1),))
    with pytest.raises(SettingsError, match=f"schema {SCHEMA_VERSION + 1}") as error:
        Store(tmp_path).keys()
    assert error.value.argument == "store"


# --- status ---

def test_status_counts_cells_against_the_spec_and_lists_failures(tmp_path):
    spec = load_spec(COMPARE)
    cells = spec.cells()
    store = Store(tmp_path)
    for position, (cell, status) in enumerate(zip(cells[:2], ("done", "failed"))):
        store.write(Outcome(cell.key, status, error="ValueError: boom\n\nTraceback ...\n" if status == "failed"
                            else None, seconds=3.0), cell, sweep="s", experiment="compare", position=position)
    write(store, "not-of-this-spec", seconds=3.0)
    status = sweep_status(tmp_path, COMPARE)
    assert (status.total, status.done, status.failed, status.running, status.remaining) == (4, 1, 1, 0, 2)
    assert not status.driver_alive and status.eta_seconds is None
    assert status.failures == [{"cell": cells[1].key, "values": cells[1].values, "error": "ValueError: boom"}]
    assert "2 remaining" in str(status) and "ValueError: boom" in str(status) and "Traceback" not in str(status)
    # a live driver with 2 workers and one cell in flight: ETA = (remaining + running) x s per cell / workers
    store.start_driver(sweep="s", cells=4, workers=2, executor="processes")
    store.mark_running([cells[2].key], sweep="s")
    status = sweep_status(tmp_path, COMPARE)
    assert status.driver_alive and (status.running, status.remaining) == (1, 1)
    assert status.seconds_per_cell == pytest.approx(3.0)
    assert status.eta_seconds == pytest.approx(2 * status.seconds_per_cell / 2)
    store.heartbeat(finished=True)
    status = sweep_status(tmp_path)
    assert not status.driver_alive and status.eta_seconds is None and status.running == 0
    assert (status.total, status.done, status.failed) == (4, 2, 1)


# --- a sweep run in this process, then the command line ---

@pytest.fixture
def spec_file(tmp_path):
    path = tmp_path / "grid.toml"
    path.write_text(COMPARE_TOML)
    return path


def test_run_in_process_stores_one_row_per_cell_and_resumes(spec_file):
    report = run_sweep(spec_file, progress=False)
    assert (report.cells, report.done, report.failed, report.skipped) == (4, 4, 0, 0)
    store = Store(spec_file.with_suffix(".sweep"), create=False)
    cells = store.cells()
    assert cells["cell"].tolist() == compare_keys() and (cells["status"] == "done").all()
    table = store.table("table")
    assert len(table) == 4 and table["cell"].tolist() == compare_keys()
    assert table["measure"].tolist() == table["measures"].tolist()
    np.testing.assert_allclose(table.loc[table.x == "ref", "value"], 1.0, atol=1e-6)  # a dataset against itself
    again = run_sweep(spec_file, progress=False)
    assert (again.done, again.skipped) == (0, 4) and "nothing to run" in str(again)
    pd.testing.assert_frame_equal(store.table("table"), table)


def test_cli_run_status_export_figure(spec_file, capsys):
    folder = spec_file.with_suffix(".sweep")
    assert main(["sweep", "run", str(spec_file), "--no-progress"]) == 0
    assert "4 done and 0 failed" in capsys.readouterr().out
    assert main(["sweep", "status", str(spec_file), "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert (status["total"], status["done"], status["failed"], status["remaining"]) == (4, 4, 0, 0)
    assert status["eta_seconds"] is None and status["failures"] == []
    assert main(["sweep", "status", str(folder)]) == 0
    assert "4 cells: 4 done, 0 running, 0 failed, 0 remaining" in capsys.readouterr().out
    if pytest.importorskip("pyarrow"):
        assert main(["sweep", "export", str(spec_file), "--out", str(spec_file.parent / "parquet")]) == 0
        printed = capsys.readouterr().out.split()
        assert sorted(printed) == sorted(str(spec_file.parent / "parquet" / f"{n}.parquet") for n in ("cells", "table"))
        exported = pd.read_parquet(spec_file.parent / "parquet" / "table.parquet")
        pd.testing.assert_frame_equal(exported, Store(folder).table("table"))
    pytest.importorskip("matplotlib")
    assert main(["sweep", "figure", str(folder), "--out", str(spec_file.parent / "fig")]) == 0
    printed = capsys.readouterr().out.split()
    assert str(spec_file.parent / "fig.png") in printed
    assert (spec_file.parent / "fig.png").stat().st_size > 1000


def test_cli_a_failing_cell_is_recorded_and_the_others_complete(spec_file, capsys):
    (spec_file.parent / "broken.npy").write_bytes(b"not an array")
    spec_file.write_text(COMPARE_TOML.replace('x = ["ref", "other"]', 'x = ["ref", "broken.npy"]'))
    assert main(["sweep", "run", str(spec_file), "--no-progress"]) == 1  # some cells failed: exit 1, as compare
    out = capsys.readouterr().out
    assert "2 done and 2 failed" in out and "--rerun-failed" in out
    assert main(["sweep", "status", str(spec_file), "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert (status["done"], status["failed"], status["remaining"]) == (2, 2, 0)
    assert [f["values"]["x"] for f in status["failures"]] == ["broken.npy"] * 2
    assert all(f["error"].startswith("reading the dataset failed") for f in status["failures"])
    cells = Store(spec_file.with_suffix(".sweep")).cells()
    assert cells["status"].tolist() == ["done", "done", "failed", "failed"]
    assert cells.loc[2, "error"].count("\n") > 1  # the full traceback is kept in the store
    assert main(["sweep", "run", str(spec_file), "--no-progress"]) == 1  # stored as failed: nothing runs, still exit 1
    assert "all 4 cells were stored before" in capsys.readouterr().out
    assert main(["sweep", "run", str(spec_file), "--no-progress", "--rerun-failed"]) == 1
    assert "0 done and 2 failed now, 2 stored before" in capsys.readouterr().out
    again = Store(spec_file.with_suffix(".sweep")).cells()
    assert again["cell"].tolist() == cells["cell"].tolist() and again["status"].tolist() == cells["status"].tolist()
    assert again["finished"].iloc[2] > cells["finished"].iloc[2]  # the failed cells ran again
    pd.testing.assert_frame_equal(again.iloc[:2], cells.iloc[:2])  # the done cells untouched


@pytest.mark.parametrize("options, named", [
    (["--workers", "0"], "--workers"),
    (["--workers", "2", "--local-cluster", "2"], "--local-cluster"),
    (["--local-cluster", "0"], "--local-cluster"),
])
def test_cli_bad_executor_options_exit_2_with_one_line(spec_file, options, named, capsys):
    assert main(["sweep", "run", str(spec_file), *options]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith(f"error: {named}:")
    assert not spec_file.with_suffix(".sweep").exists()


@pytest.mark.parametrize("command", ["run", "status", "export", "figure"])
def test_cli_a_missing_spec_exits_2(tmp_path, command, capsys):
    assert main(["sweep", command, str(tmp_path / "missing.toml")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "missing.toml" in err
    if command != "run":  # a spec or a store folder: the message says both
        assert err == f"error: target: no spec file or store folder {tmp_path / 'missing.toml'}"
        assert main(["sweep", command, str(tmp_path / "missing.sweep")]) == 2
        assert capsys.readouterr().err.strip() == f"error: target: no spec file or store folder {tmp_path / 'missing.sweep'}"
        assert not (tmp_path / "missing.sweep").exists()


def test_two_datasets_defined_alike_are_refused_not_stored_as_one_cell(tmp_path):
    alike = bad(COMPARE, datasets={**DATASETS, "copy": dict(DATASETS["ref"])},
                axes={"x": ["ref", "other", "copy"]})
    with pytest.raises(SettingsError, match="'ref' and 'copy' are the same dataset") as error:
        load_spec(alike)
    assert error.value.argument == "axes.x"
    rng = np.random.default_rng(0)
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    np.save(tmp_path / "one" / "a.npy", rng.normal(size=(8, 3)))
    shutil.copy(tmp_path / "one" / "a.npy", tmp_path / "two" / "a.npy")  # the same file in another folder
    with pytest.raises(SettingsError, match="'one/a.npy' and 'two/a.npy' are the same dataset"):
        load_spec({"experiment": "compare", "settings": {"y": "one/a.npy"}, "axes": {"x": ["one/a.npy", "two/a.npy"]}},
                  base=tmp_path)


def test_a_file_dataset_passes_its_arguments_to_read(tmp_path):
    rng = np.random.default_rng(0)
    activity, model = rng.normal(size=(4, 3, 5)), rng.normal(size=(4, 3, 6))
    np.savez(tmp_path / "both.npz", activity=activity, model=model)
    spec = load_spec({"experiment": "compare", "settings": {"y": "plain"}, "axes": {"x": ["model"]},
                      "datasets": {"model": {"path": "both.npz", "name": "model", "dt": 0.5},
                                   "plain": {"path": "both.npz"}}}, base=tmp_path)
    loaded = spec.datasets["model"].load()
    np.testing.assert_array_equal(loaded.activity, model)  # not the file's default array, 'activity'
    assert loaded.dt == 0.5
    np.testing.assert_array_equal(spec.datasets["plain"].load().activity, activity)


@pytest.mark.parametrize("entry", [{**TINY, "n_unit": 3}, {"path": "both.npz", "nme": "model"},
                                   {"loader": "m1", "path": "both.npz", "zzz": 1}, {"generator": "ultrametric",
                                                                                     "seed": 0, "n": 3}])
def test_an_argument_the_generator_or_loader_does_not_take_is_refused_before_any_work(tmp_path, entry):
    np.savez(tmp_path / "both.npz", activity=np.ones((4, 3, 5)))
    with pytest.raises(SettingsError, match=r"bad arguments for \w+\(\): got an unexpected keyword") as error:
        load_spec(bad(COMPARE, datasets={**DATASETS, "other": entry}), base=tmp_path)
    assert error.value.argument == "datasets.other"


def test_a_failed_cell_without_a_message_gets_one_and_a_bad_status_is_refused(tmp_path):
    store = Store(tmp_path)
    assert write(store, "k1", status="failed", error="")
    assert write(store, "k2", status="failed", position=1)
    assert store.cells()["error"].tolist() == ["failed without a message"] * 2
    status = sweep_status(tmp_path)  # lists each failure by the first line of its error
    assert [f["error"] for f in status.failures] == ["failed without a message"] * 2
    with pytest.raises(ValueError, match="status"):
        write(store, "k3", status="finished")
    assert store.keys() == {"k1", "k2"}


@pytest.mark.parametrize("command", ["status", "export", "figure"])
def test_cli_a_sweep_not_run_yet_or_a_folder_without_a_store_says_so(spec_file, command, capsys):
    assert main(["sweep", command, str(spec_file)]) == 2
    assert capsys.readouterr().err.strip() == (
        f"error: target: the sweep of {spec_file} has not run yet: no store {spec_file.with_suffix('.sweep')} "
        f"(`repalign sweep run {spec_file}` starts it)")
    assert main(["sweep", command, str(spec_file.parent)]) == 2
    assert capsys.readouterr().err.strip() == f"error: target: {spec_file.parent} holds no sweep store (store.sqlite missing)"
    assert main(["sweep", command, str(spec_file), "--store", str(spec_file.parent / "elsewhere")]) == 2
    assert capsys.readouterr().err.strip().startswith("error: --store: ")
    assert not spec_file.with_suffix(".sweep").exists() and not (spec_file.parent / "elsewhere").exists()


OPTIMIZE_TINY = {"experiment": "optimize", "settings": {"steps": 5, "pcs": 2, "decode": []},
                 "axes": {"data": ["ref"], "measures": ["cka"], "seed": [0, 1]}, "datasets": DATASETS}


@pytest.mark.slow  # about 2 s: two tiny optimizations, twice
def test_an_optimize_group_resumed_after_losing_a_cell_stores_the_same_tables(tmp_path):
    report = run_sweep(OPTIMIZE_TINY, tmp_path / "a", progress=False)
    assert (report.done, report.failed) == (2, 0)
    store = Store(tmp_path / "a")
    cells = store.cells()
    assert cells["group"].nunique() == 1 and cells["seed"].tolist() == [0, 1]
    names = store.table_names()
    full = {n: store.table(n) for n in names}
    for table in full.values():  # the table's own seed column is the axis: not repeated
        assert list(table.columns).count("seed") == 1 and "axis_seed" not in table.columns
        assert sorted(set(zip(table["cell"], table["seed"]))) == sorted(zip(cells["cell"], cells["seed"]))
    assert store.arrays(cells["cell"][1])  # the final data of each cell
    lost = cells["cell"][1]
    with sqlite3.connect(store.path) as db:  # as if the driver died before committing the group's second cell
        db.execute("PRAGMA foreign_keys = ON")
        db.execute("DELETE FROM cells WHERE key = ?", (lost,))
    store.close()
    assert Store(tmp_path / "a").keys() == {cells["cell"][0]}
    again = run_sweep(OPTIMIZE_TINY, tmp_path / "a", progress=False)
    assert (again.done, again.skipped) == (1, 1)
    for name in names:
        pd.testing.assert_frame_equal(Store(tmp_path / "a").table(name), full[name])


@pytest.mark.parametrize("where", ["settings", "axes"])
def test_a_checkpoint_file_is_refused_in_a_sweep(tmp_path, where):
    value = str(tmp_path / "one.ckpt")
    spec = {"experiment": "optimize", "settings": {"steps": 5}, "axes": {"data": ["ref"], "seed": [0, 1]},
            "datasets": DATASETS}
    spec[where] = {**spec[where], "checkpoint": value if where == "settings" else [value]}
    with pytest.raises(SettingsError, match="one checkpoint file would be shared") as error:
        load_spec(spec)
    assert error.value.argument == f"{where}.checkpoint"


def test_a_value_that_cannot_be_part_of_a_key_is_named(tmp_path):
    (tmp_path / "nan.toml").write_text('experiment = "optimize"\n[settings]\nstop_at = nan\n[axes]\ndata = ["a"]\n'
                                       '[datasets.a]\ngenerator = "two_pc"\n')
    with pytest.raises(SettingsError, match="finite numbers") as error:
        load_spec(tmp_path / "nan.toml")
    assert error.value.argument == "settings.stop_at"
    spec = {"experiment": "optimize", "axes": {"data": ["ref"], "lr": [0.1, float("inf")]}, "datasets": DATASETS}
    with pytest.raises(SettingsError, match="inf") as error:
        load_spec(spec)
    assert error.value.argument == "axes.lr"
    with pytest.raises(SettingsError) as error:
        load_spec({**spec, "axes": {"data": ["ref"], "seed": [np.int64(1)]}})
    assert error.value.argument == "axes.seed"
    with pytest.raises(SettingsError) as error:
        load_spec(bad(COMPARE, datasets={**DATASETS, "other": {**TINY, "noise": float("nan")}}))
    assert error.value.argument == "datasets.other"
    assert main(["sweep", "run", str(tmp_path / "nan.toml")]) == 2


def test_keys_do_not_depend_on_the_order_of_axes_settings_or_arguments():
    reordered = {"datasets": {n: dict(reversed(list(e.items()))) for n, e in reversed(list(DATASETS.items()))},
                 "axes": {"measures": ["angular-procrustes", "cka"], "x": ["other", "ref"]},
                 "settings": {"y": "ref"}, "experiment": "compare"}
    cells = load_spec(reordered).cells()
    assert [c.values for c in cells][:2] == [{"measures": "angular-procrustes", "x": "other"},
                                             {"measures": "angular-procrustes", "x": "ref"}]
    assert sorted(c.key for c in cells) == sorted(compare_keys())


def test_the_m1_loader_without_a_path_is_keyed_by_the_file_it_finds(tmp_path, monkeypatch):
    from repalign.data import recordings

    found = next((c for c in recordings._m1_candidates() if c.is_file()), None)
    if found is None:
        pytest.skip("the M1 recording is not in ../shared/data")
    spec = {"experiment": "compare", "settings": {"y": "m1"}, "axes": {"x": ["m1"]},
            "datasets": {"m1": {"loader": "m1"}}}
    identity = {"loader": "m1", "options": {"path": found.name}, "sha256": sha256_of_file(found)}
    key = load_spec(spec).cells()[0].key
    assert key == expected_key("compare", {"y": "m1", "x": "m1"}, {"m1": identity})
    (tmp_path / "copy").mkdir()
    shutil.copy(found, tmp_path / "copy" / found.name)  # the same file named by its path: the same key
    by_path = {**spec, "datasets": {"m1": {"loader": "m1", "path": f"copy/{found.name}"}}}
    assert load_spec(by_path, base=tmp_path).cells()[0].key == key
    assert load_spec(spec).datasets["m1"].options["path"] == str(found.resolve())
    monkeypatch.setattr(recordings, "_m1_candidates", lambda: [tmp_path / "absent.npz"])
    with pytest.raises(SettingsError, match="not found") as error:
        load_spec(spec)
    assert error.value.argument == "datasets.m1"


def test_an_exclusion_may_use_the_axes_wildcards():
    spec = load_spec({"experiment": "compare", "settings": {"y": "ref"},
                      "axes": {"x": ["ref"], "measures": ["cka", "procrustes-*"]},
                      "datasets": {"ref": {"generator": "two_pc", "seed": 0}},
                      "exclude": [{"measures": "procrustes-*"}]})
    assert [c.values["measures"] for c in spec.cells()] == ["cka"]
    assert len(catalogue("procrustes-*")) > 1  # the pattern excluded several cells


def test_export_and_figure_of_a_spec_hold_its_cells_only(tmp_path):
    # a store keeps the cells of an earlier spec: given the spec, export and figure read its cells alone
    spec = {"experiment": "compare", "settings": {"y": "ref"}, "axes": {"x": ["ref"], "measures": ["cka"]},
            "datasets": {"ref": {"generator": "two_pc", "seed": 0}, "other": {"generator": "two_pc", "seed": 1}}}
    run_sweep(spec, tmp_path / "s", progress=False)
    changed = {**spec, "settings": {"y": "other"}}
    (tmp_path / "new.toml").write_text(
        '''experiment = "compare"\nstore = "s"\n[settings]\ny = "other"\n[axes]\nx = ["ref"]\nmeasures = ["cka"]\n'''
        '''[datasets.ref]\ngenerator = "two_pc"\nseed = 0\n[datasets.other]\ngenerator = "two_pc"\nseed = 1\n''')
    run_sweep(changed, tmp_path / "s", progress=False)
    store = Store(tmp_path / "s")
    assert len(store.cells()) == 2 and len(store.table("table")) == 2
    wanted = {c.key for c in load_spec(tmp_path / "new.toml").cells()}
    assert len(store.table("table", wanted)) == 1
    assert main(["sweep", "export", str(tmp_path / "new.toml"), "--out", str(tmp_path / "x")]) == 0
    exported = pd.read_parquet(tmp_path / "x" / "table.parquet")
    assert exported["cell"].tolist() == sorted(wanted)
    assert len(pd.read_parquet(tmp_path / "x" / "cells.parquet")) == 1


def _pretend_driver(store: Store, pid: int) -> None:
    if store.driver() is None:
        store.start_driver(sweep="s", cells=1, workers=1, executor="in-process")
    with sqlite3.connect(store.path) as connection:  # as if another process had started it just now
        connection.execute("UPDATE driver SET pid = ?, heartbeat = ?", (pid, time.time()))


def test_one_store_has_one_driver_at_a_time(tmp_path):
    import subprocess
    import sys

    store = Store(tmp_path / "s")
    _pretend_driver(store, os.getppid())  # a live process on this host, with a fresh heartbeat
    assert store.driver_alive()
    with pytest.raises(SettingsError, match="another driver") as error:
        store.start_driver(sweep="s", cells=1, workers=1, executor="in-process")
    assert error.value.argument == "store"
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    _pretend_driver(store, int(gone.stdout))  # a driver killed a moment ago: its heartbeat is fresh, its pid gone
    assert not store.driver_alive()
    store.start_driver(sweep="s", cells=1, workers=1, executor="in-process")  # may take over

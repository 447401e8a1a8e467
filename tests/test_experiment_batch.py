"""experiments.run_batch and optimize.run_batch: cells that differ only in their seed, run together.

The reference for each cell is :func:`repalign.experiments.run` of its settings alone: with measures
whose batched evaluation gives each run the same numbers as alone (cka, angular-cka on the CPU, one
thread: checked here through the values themselves), every table must be identical; with the others
(angular-procrustes, ridge-cv: batched linear algebra differs at float32 rounding) the values agree
closely. Decoding is the one thing shared on purpose: the folds of the first cell's seed.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from pandas.testing import assert_frame_equal

from repalign import experiments
from repalign._checks import SettingsError
from repalign.data import Dataset, mante_like
from repalign.experiments import optimize as optimize_experiment
from repalign.trackers import Decoding

EXACT = ("cka", "angular-cka")


@pytest.fixture(scope="module")
def data():
    return mante_like(n_units=20, n_time=5, seed=0)


def cell(data, seed, **changes):
    settings = {"measures": EXACT, "steps": 12, "seed": seed, "pcs": 2, "decode": (), "record_every": 2,
                "progress": False}
    settings.update(changes)
    return optimize_experiment.Settings(data, **settings)


def assert_same_record(batched, alone, skip=(), files=True):
    assert batched.kind == alone.kind
    assert batched.settings == alone.settings
    assert set(batched.tables) == set(alone.tables)
    for name in alone.tables:
        if name not in skip:
            assert_frame_equal(batched.tables[name], alone.tables[name], check_exact=True, obj=name)
    assert set(batched.arrays) == set(alone.arrays)
    for name in alone.arrays:
        np.testing.assert_array_equal(batched.arrays[name], alone.arrays[name])
    assert tuple(batched.files) == ()
    if files:
        assert tuple(alone.files) == ()


def test_batch_fields():
    assert experiments.batch_fields("optimize") == ("seed",)
    assert experiments.batch_fields("compare") == ()
    with pytest.raises(SettingsError, match="unknown experiment"):
        experiments.batch_fields("nope")


def test_one_settings_gives_what_run_gives(data, tmp_path):
    settings = cell(data, 3, decode=("context",), decode_every=4, runs=2)
    alone = experiments.run("optimize", settings, tmp_path / "alone")
    [batched] = experiments.run_batch("optimize", [settings])
    assert_same_record(batched, alone, files=False)
    # run with a folder still writes its figures and tables, the same as before; run_batch writes nothing
    written = sorted(p.name for p in (tmp_path / "alone").iterdir())
    assert sorted(alone.files) == sorted(str(tmp_path / "alone" / n) for n in written)
    for stem in ("trajectory", "pc_capture", "capture_curves", "decoding"):
        assert {f"{stem}.png", f"{stem}.pdf", f"{stem}.csv"} <= set(written)
    assert "final_Y.npy" in written
    assert sorted(p.name for p in tmp_path.iterdir()) == ["alone"]


def test_seeds_batched_give_each_cell_its_lone_run(data):
    cells = [cell(data, s) for s in (0, 1, 2)]
    batched = experiments.run_batch("optimize", cells)
    assert len(batched) == 3
    for settings, record in zip(cells, batched):
        assert_same_record(record, experiments.run("optimize", settings))
        assert record.tables["runs"]["seed"].tolist() == [settings.seed] * len(EXACT)
        assert record.tables["runs"]["run"].tolist() == list(range(len(EXACT)))
    # cells differ (different noise), so the comparison above is not between copies of one run
    assert not np.array_equal(batched[0].arrays["final_Y"], batched[1].arrays["final_Y"])


def test_mappings_and_a_dataset_equal_by_value_batch(data):
    copy = Dataset(data.activity.copy(), conditions=data.conditions.copy(), units=data.units, dt=data.dt,
                   provenance=data.provenance)
    assert copy.equals(data) and copy is not data
    first = {"data": data, "measures": ["cka"], "steps": 4, "seed": 0, "pcs": 0, "decode": (), "progress": False}
    second = dict(first, data=copy, seed=5)
    records = experiments.run_batch("optimize", (first, second), threads=1)
    assert [r.tables["runs"]["seed"].tolist() for r in records] == [[0], [5]]
    assert_same_record(records[1], experiments.run("optimize", second))


@pytest.mark.parametrize("name", ["angular-procrustes", "ridge-cv"])
def test_measures_with_batched_rounding_agree_closely(data, name):
    cells = [cell(data, s, measures=(name,), lr=0.05) for s in (0, 1)]
    for settings, record in zip(cells, experiments.run_batch("optimize", cells)):
        alone = experiments.run("optimize", settings)
        batched, lone = record.tables["trajectory"], alone.tables["trajectory"]
        assert_frame_equal(batched[["run", "measure", "seed", "step"]], lone[["run", "measure", "seed", "step"]])
        np.testing.assert_allclose(batched["value"], lone["value"], rtol=0, atol=1e-5)
        np.testing.assert_allclose(batched["pc1_r2"], lone["pc1_r2"], rtol=0, atol=1e-4)
        np.testing.assert_allclose(record.tables["runs"]["final_value"], alone.tables["runs"]["final_value"], rtol=0,
                                   atol=1e-5)


def test_runs_per_cell_are_numbered_and_seeded_as_alone(data):
    cells = [cell(data, s, runs=2, measures=("cka",), lr=0.05) for s in (10, 20)]
    for settings, record in zip(cells, experiments.run_batch("optimize", cells)):
        runs = record.tables["runs"]
        assert runs["run"].tolist() == [0, 1]
        assert runs["seed"].tolist() == [settings.seed, settings.seed + 1]
        trajectory = record.tables["trajectory"]
        assert sorted(set(trajectory["seed"])) == [settings.seed, settings.seed + 1]
        assert_same_record(record, experiments.run("optimize", settings))


def test_groups_of_measures_keep_their_numbering(data):
    # two groups (different learning rates): runs numbered across groups as alone
    cells = [cell(data, s, runs=2, lr={"cka": 0.1, "angular-cka": 0.05}) for s in (0, 3)]
    for settings, record in zip(cells, experiments.run_batch("optimize", cells)):
        assert record.tables["runs"]["run"].tolist() == [0, 1, 2, 3]
        assert_same_record(record, experiments.run("optimize", settings))


def test_each_cell_decodes_with_the_folds_of_its_own_seed(data):
    variables = ("context",)
    cells = [cell(data, s, measures=("cka",), decode=variables, decode_every=4, steps=8) for s in (0, 1, 2)]
    batched = experiments.run_batch("optimize", cells)
    for settings, record in zip(cells, batched):
        alone = experiments.run("optimize", settings)
        assert_same_record(record, alone)  # decoding, its thresholds and the reference's accuracy included
        # an independent tracker with this cell's folds on its final data
        tracker = Decoding(data, variables=variables, seed=settings.seed)
        final = record.tables["trajectory"].query("step == 8")
        expected = tracker(data.activity, record.arrays["final_Y"])["decode_context"]
        np.testing.assert_allclose(final["decode_context"], np.asarray(expected), rtol=0, atol=1e-12)
    folds = [Decoding(data, variables=variables, seed=s.seed).fold_of["context"] for s in cells]
    assert not np.array_equal(folds[0], folds[1])  # the seeds' folds differ: the test can tell them apart


def test_stopping_runs_of_other_cells_leave_each_cell_as_alone(data):
    # cka stops at 0.9 at steps 25, 23 and 26 for seeds 0, 4 and 6: at step 23 the loop computes every
    # tracker for every run; cell 0 alone would not have decoded there (23 is not a multiple of 4)
    cells = [cell(data, s, measures=("cka",), steps=30, stop_at=0.9, record_every=1, decode=("context",),
                  decode_every=4) for s in (0, 4, 6)]
    batched = experiments.run_batch("optimize", cells)
    reached = [r.tables["runs"]["reached_step"].tolist() for r in batched]
    assert len({tuple(r) for r in reached}) > 1, reached  # the cells stop at different steps
    for settings, record in zip(cells, batched):
        assert_same_record(record, experiments.run("optimize", settings))


def test_matched_gaussian_is_per_cell(data):
    cells = [cell(data, s, measures=("cka",), matched_gaussian=True) for s in (0, 1)]
    for settings, record in zip(cells, experiments.run_batch("optimize", cells)):
        table = record.tables["pc_capture"]
        assert set(table["reference"]) == {"data", "matched Gaussian"}
        assert_same_record(record, experiments.run("optimize", settings))


@pytest.mark.parametrize("change, field", [({"steps": 5}, "steps"), ({"measures": EXACT[::-1]}, "measures"),
                                           ({"runs": 2}, "runs"), ({"data": "other"}, "data")])
def test_settings_differing_outside_the_batch_fields_are_refused(data, change, field):
    if change.get("data") == "other":
        change = {"data": mante_like(n_units=20, n_time=5, seed=1)}
    first = cell(data, 0)
    second = dataclasses.replace(first, seed=1, **change)
    with pytest.raises(SettingsError) as error:
        experiments.run_batch("optimize", [first, second])
    assert error.value.argument == "settings"
    assert field in error.value.problem and "seed" in error.value.problem
    with pytest.raises(SettingsError, match=field):
        optimize_experiment.run_batch([first, second])


@pytest.mark.parametrize("given", [[], (), None, "optimize", {"data": "x.npz"}])
def test_run_batch_needs_a_sequence_of_settings(given):
    with pytest.raises(SettingsError) as error:
        experiments.run_batch("optimize", given)
    assert error.value.argument == "settings"


def test_run_batch_refuses_unknown_experiments_and_settings(data):
    with pytest.raises(SettingsError) as error:
        experiments.run_batch("nope", [{}])
    assert error.value.argument == "experiment"
    with pytest.raises(SettingsError, match="no setting"):
        experiments.run_batch("optimize", [{"data": data, "colour": 1}])
    with pytest.raises(SettingsError) as error:
        optimize_experiment.run_batch([])
    assert error.value.argument == "settings"


def test_a_checkpoint_is_not_batched(data, tmp_path):
    path = str(tmp_path / "loop.pt")
    cells = [cell(data, s, measures=("cka",), checkpoint=path) for s in (0, 1)]
    with pytest.raises(SettingsError) as error:
        experiments.run_batch("optimize", cells)
    assert error.value.argument == "checkpoint"
    assert not (tmp_path / "loop.pt").exists()
    [record] = experiments.run_batch("optimize", cells[:1])  # one settings: as run
    assert record.tables["runs"]["seed"].tolist() == [0]


def test_an_experiment_without_batching_runs_each_alone(data):
    X = Dataset(np.random.default_rng(0).normal(size=(40, 5)))
    Y = Dataset(np.random.default_rng(1).normal(size=(40, 5)))
    settings = {"x": X, "y": Y, "measures": ["cka", "angular-procrustes"]}
    records = experiments.run_batch("compare", [settings, dict(settings)])
    alone = experiments.run("compare", settings)
    for record in records:  # the same table, but for the seconds each measure took
        assert_same_record(record, alone, skip=("table",))
        assert_frame_equal(record.tables["table"].drop(columns="seconds"), alone.tables["table"].drop(columns="seconds"))
    with pytest.raises(SettingsError, match=r"\['y'\].*none may differ"):
        experiments.run_batch("compare", [settings, dict(settings, y=X)])


def test_a_per_run_tracker_is_told_which_runs_it_sees(data):
    import torch

    from repalign import optimize

    seen = []

    class Runs:
        per_run = True

        def __call__(self, reference, Y, *, runs):
            seen.append(runs.tolist())
            return {"run_number": runs.to(torch.float64)}

    result = optimize(data, "cka", n_runs=3, seed=0, max_steps=4, trackers=[Runs()], progress=False)
    assert all(sorted(r) == r and set(r) <= {0, 1, 2} for r in seen) and seen[0] == [0, 1, 2]
    np.testing.assert_array_equal(result.table["run_number"], result.table["run"])

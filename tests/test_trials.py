"""Trials: single trials (trial, time, unit) with their table; averages against a numpy reference."""

from __future__ import annotations

import numpy as np
import pytest

from repalign.data import Dataset, Trials

pd = pytest.importorskip("pandas")


def _trials(seed=0, n_trials=30):
    rng = np.random.default_rng(seed)
    activity = rng.normal(size=(n_trials, 4, 3))
    table = {"direction": rng.choice([90, 0, 270, 180], n_trials), "context": rng.choice(["b", "a"], n_trials),
             "correct": rng.integers(0, 2, n_trials)}
    return activity, table


def test_average_matches_a_numpy_reference_per_condition():
    activity, table = _trials()
    trials = Trials(activity, table, ["direction", "context"], dt=0.02)
    ds = trials.average()
    assert isinstance(ds, Dataset) and ds.dt == 0.02
    keys = sorted(set(zip(table["direction"].tolist(), table["context"].tolist())))
    assert list(zip(ds.conditions["direction"], ds.conditions["context"])) == keys  # sorted, row c = condition c
    assert ds.shape == (4, len(keys), 3)
    for c, (direction, context) in enumerate(keys):
        members = (table["direction"] == direction) & (table["context"] == context)
        np.testing.assert_allclose(ds.activity[:, c], activity[members].mean(axis=0), rtol=1e-12, atol=1e-14)
        assert ds.conditions["n_trials"][c] == members.sum()
    assert ds.provenance["averaged_over"] == ["direction", "context"]


def test_condition_index_and_counts_are_consistent():
    activity, table = _trials(seed=1)
    trials = Trials(activity, table, "direction")
    conditions = trials.conditions
    assert conditions["direction"].tolist() == [0, 90, 180, 270]
    np.testing.assert_array_equal(conditions["direction"].to_numpy()[trials.condition_index], table["direction"])
    assert trials.trial_counts.tolist() == [int((table["direction"] == d).sum()) for d in (0, 90, 180, 270)]


def test_select_keeps_the_masked_trials_in_order():
    activity, table = _trials(seed=2)
    trials = Trials(activity, table, ["direction"], units={"id": [5, 6, 7]}, dt=0.01, provenance={"x": 1})
    mask = table["correct"] == 1
    chosen = trials.select(mask)
    np.testing.assert_array_equal(chosen.activity, activity[mask])
    assert chosen.trials["direction"].tolist() == table["direction"][mask].tolist()
    assert chosen.units["id"].tolist() == [5, 6, 7] and chosen.dt == 0.01 and chosen.provenance == {"x": 1}


@pytest.mark.parametrize(
    "change, match",
    [
        (lambda a, t, c: (a[0], t, c), "expected \\(trial, time, unit\\)"),
        (lambda a, t, c: (np.where(a > 1, np.nan, a), t, c), "NaN or Inf"),
        (lambda a, t, c: (a, t, ["speed"]), "\\['speed'\\] not in the trials table"),
        (lambda a, t, c: (a, t, []), "name at least one column"),
        (lambda a, t, c: (a, {k: v[:-1] for k, v in t.items()}, c), "expected one row per trial"),
    ],
)
def test_bad_trials_raise_one_clear_error(change, match):
    activity, table = _trials(seed=3)
    with pytest.raises(ValueError, match=match):
        Trials(*change(activity, table, ["direction"]))


def test_select_refuses_bad_masks():
    activity, table = _trials(seed=4)
    trials = Trials(activity, table, ["direction"])
    with pytest.raises(ValueError, match="mask: expected 30 booleans"):
        trials.select([True, False])
    with pytest.raises(ValueError, match="selects no trial"):
        trials.select(np.zeros(30, dtype=bool))


@pytest.mark.parametrize("name", ["index", "_trial", "level_0"])
def test_any_column_name_can_define_conditions(name):
    activity = np.random.default_rng(0).normal(size=(5, 2, 3))
    trials = Trials(activity, {name: [5, 3, 5, 3, 5], "other": [1, 2, 3, 4, 5]}, [name])
    assert trials.condition_index.tolist() == [1, 0, 1, 0, 1]
    np.testing.assert_allclose(trials.average().activity[:, 1], activity[[0, 2, 4]].mean(axis=0))


def test_missing_condition_values_are_refused():
    with pytest.raises(ValueError, match=r"condition column\(s\) \['a'\] hold missing values"):
        Trials(np.random.default_rng(0).normal(size=(3, 2, 2)), {"a": [1.0, np.nan, 2.0]}, ["a"])

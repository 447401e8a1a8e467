"""Baselines of the seed paper's Fig. 2c,d: condition average and neuron split.

Values are checked against numpy computations written here (means over the condition axis,
the splits redrawn from their documented seeds) and the float64 reference formulas of
tests/reference.py, not against numbers copied from a run.
"""

import math

import numpy as np
import pytest
import reference as ref
import torch

import repalign
from repalign.baselines import (
    BASELINES,
    NeuronSplit,
    baseline_scores,
    condition_average,
    neuron_split,
    split_units,
)
from repalign.data import Dataset, mante_like

pytestmark = pytest.mark.usefixtures("single_threaded")  # see conftest.py


def structured(seed=0, shape=(6, 8, 11)):
    """(time, condition, unit) data with a condition-independent part and condition-specific parts."""
    rng = np.random.default_rng(seed)
    t, c, p = shape
    time_course = np.sin(np.linspace(0, 3, t))[:, None, None] * rng.normal(size=(1, 1, p))
    conditions = rng.normal(size=(t, c, 3)) @ rng.normal(size=(3, p))
    return time_course * 3 + conditions + 0.3 * rng.normal(size=shape)


def by_hand_halves(p, seed, s):
    order = np.random.default_rng([seed, s]).permutation(p)
    return order[: p // 2], order[p // 2: 2 * (p // 2)]


# ---- condition average -------------------------------------------------------------------------

def test_condition_average_is_the_mean_over_conditions_per_time_bin():
    X = structured()
    average = condition_average(X)
    assert isinstance(average, np.ndarray) and average.shape == X.shape and average.dtype == np.float64
    for t in range(X.shape[0]):
        for u in range(X.shape[2]):
            expected = sum(X[t, c, u] for c in range(X.shape[1])) / X.shape[1]
            assert np.allclose(average[t, :, u], expected, rtol=1e-14, atol=1e-14)
    assert not np.shares_memory(average, X)


def test_condition_average_of_a_dataset_lists_and_torch():
    X = structured(1)
    expected = np.broadcast_to(X.mean(axis=1, keepdims=True), X.shape)
    assert np.allclose(condition_average(Dataset(X)), expected, atol=1e-14)
    assert np.allclose(condition_average(X.tolist()), expected, atol=1e-14)
    tensor = torch.tensor(X, requires_grad=True)
    out = condition_average(tensor)
    assert isinstance(out, torch.Tensor) and out.shape == tensor.shape
    assert np.allclose(out.detach().numpy(), expected, atol=1e-14)
    out.sum().backward()  # differentiable: each entry gets weight C * (1/C) = 1
    assert torch.allclose(tensor.grad, torch.ones_like(tensor))


def test_condition_average_baseline_score_matches_the_reference_formulas():
    X = structured(2)
    average = np.broadcast_to(X.mean(axis=1, keepdims=True), X.shape)
    table = baseline_scores(X, ["cka", "angular-procrustes"], baselines=("condition_average",)).table
    scores = dict(zip(table.measure, table.score))
    assert scores["cka"] == pytest.approx(ref.cka_linear(X, average), rel=1e-10)
    assert scores["angular-procrustes"] == pytest.approx(ref.procrustes_angular_score(X, average), rel=1e-10)
    assert table["std"].isna().all() and (table["n"] == 1).all()


def test_condition_average_refuses_2d_data():
    with pytest.raises(ValueError, match=r"X: the condition average needs \(time, condition, unit\)"):
        condition_average(np.random.default_rng(0).normal(size=(20, 4)))
    with pytest.raises(ValueError, match="X: the condition average needs"):
        baseline_scores(np.random.default_rng(0).normal(size=(20, 4)), "cka")
    with pytest.raises(ValueError, match="X: expected a 2D"):
        condition_average(np.zeros(5))


# ---- neuron split ------------------------------------------------------------------------------

@pytest.mark.parametrize("p", [10, 11])
def test_split_units_gives_disjoint_equal_halves_from_the_documented_seeds(p):
    halves = split_units(p, n_splits=4, seed=7)
    assert halves.shape == (4, 2, p // 2) and halves.dtype == np.int64
    for s in range(4):
        a, b = by_hand_halves(p, 7, s)
        assert np.array_equal(halves[s, 0], a) and np.array_equal(halves[s, 1], b)
        assert not set(a) & set(b) and len(set(a) | set(b)) == 2 * (p // 2)
    assert np.array_equal(split_units(p, n_splits=2, seed=7), halves[:2])  # split s does not depend on n_splits
    assert not np.array_equal(split_units(p, n_splits=4, seed=8), halves)


def test_odd_unit_count_leaves_a_different_unit_out_across_splits():
    halves = split_units(9, n_splits=20, seed=0)
    left_out = [(set(range(9)) - set(h.ravel())).pop() for h in halves]
    assert len(set(left_out)) > 1


def test_neuron_split_reproduces_the_measure_on_the_same_halves_by_hand():
    X = structured(3, shape=(5, 8, 13))
    split = neuron_split(X, "cka", n_splits=5, seed=4)
    assert isinstance(split, NeuronSplit) and split.measure == repalign.measure("cka").name
    by_hand = []
    for s in range(5):
        a, b = by_hand_halves(13, 4, s)
        by_hand.append(ref.cka_linear(X[..., a], X[..., b]))
    assert np.allclose(split.scores, by_hand, rtol=1e-10)
    assert split.mean == pytest.approx(np.mean(by_hand), rel=1e-12)
    assert split.std == pytest.approx(np.std(by_hand, ddof=1), rel=1e-10)
    # asymmetric measure: half A is the reference (predicted), half B the predictor
    reg = neuron_split(X, "linreg", n_splits=2, seed=4)
    a, b = by_hand_halves(13, 4, 0)
    flipped = repalign.measure("linreg")(X[..., b], X[..., a])
    assert reg.scores[0] == pytest.approx(repalign.measure("linreg")(X[..., a], X[..., b]), rel=1e-12)
    assert reg.scores[0] != pytest.approx(flipped, rel=1e-6)


def test_neuron_split_is_reproducible_and_accepts_datasets_and_torch():
    X = structured(4)
    first, again = neuron_split(X, "nbs", n_splits=3, seed=1), neuron_split(X, "nbs", n_splits=3, seed=1)
    assert np.array_equal(first.scores, again.scores) and np.array_equal(first.halves, again.halves)
    assert not np.array_equal(neuron_split(X, "nbs", n_splits=3, seed=2).scores, first.scores)
    assert np.allclose(neuron_split(Dataset(X), "nbs", n_splits=3, seed=1).scores, first.scores, rtol=1e-12)
    assert np.allclose(neuron_split(torch.tensor(X), repalign.measure("nbs"), n_splits=3, seed=1).scores,
                       first.scores, rtol=1e-12)
    one = neuron_split(X, "nbs", n_splits=1, seed=1)
    assert one.scores.shape == (1,) and math.isnan(one.std) and one.mean == first.scores[0]


def test_neuron_split_applies_to_measures_that_need_equal_unit_counts():
    X = structured(5, shape=(4, 6, 9))  # odd: halves of 4 units each
    split = neuron_split(X, "permutation", n_splits=2, seed=0)
    a, b = by_hand_halves(9, 0, 0)
    assert split.scores[0] == pytest.approx(repalign.measure("permutation")(X[..., a], X[..., b]), rel=1e-12)


@pytest.mark.parametrize("X, kwargs, message", [
    (np.random.default_rng(0).normal(size=(20, 1)), {}, "X: the neuron split needs at least 2 units"),
    ("data", {}, "X: expected a numpy array"),
    (np.ones((20, 4)), {}, "X: every unit is constant"),
    (np.eye(20, 4), {"n_splits": 0}, "n_splits: expected an integer >= 1"),
    (np.eye(20, 4), {"seed": -1}, "seed: expected a non-negative integer"),
    (np.eye(20, 4), {"measure": 3}, "measure: expected a measure name"),
])
def test_neuron_split_errors_name_the_argument(X, kwargs, message):
    kwargs = {"measure": "cka", **kwargs}
    with pytest.raises(ValueError, match=message):
        neuron_split(X, **kwargs)


# ---- table, plot, save -------------------------------------------------------------------------

def test_table_rows_match_the_functions_and_share_the_splits():
    ds = mante_like(n_units=30, n_time=4, seed=0)
    measures = ["cka", repalign.measure("angular-procrustes")]
    table = baseline_scores(ds, measures, n_splits=4, seed=3).table
    assert list(table.columns) == ["measure", "baseline", "score", "std", "n"]
    assert table[["measure", "baseline"]].values.tolist() == [
        ["cka", "condition_average"], ["cka", "neuron_split"],
        [measures[1].name, "condition_average"], [measures[1].name, "neuron_split"],
    ]
    X = ds.activity
    for label, m in zip(table.measure.unique(), ["cka", "angular-procrustes"]):
        rows = table[table.measure == label].set_index("baseline")
        assert rows.loc["condition_average", "score"] == pytest.approx(
            repalign.measure(m)(X, condition_average(X)), rel=1e-12)
        split = neuron_split(X, m, n_splits=4, seed=3)
        assert rows.loc["neuron_split", "score"] == pytest.approx(split.mean, rel=1e-12)
        assert rows.loc["neuron_split", "std"] == pytest.approx(split.std, rel=1e-12)
        assert rows.loc["neuron_split", "n"] == 4
    # the paper's point: different measures put the baselines at very different places
    cka = table[table.measure == "cka"].set_index("baseline").score
    assert 0 < cka["condition_average"] < 1 and 0 < cka["neuron_split"] < 1
    again = baseline_scores(ds, measures, n_splits=4, seed=3).table
    assert again.equals(table)


def test_table_of_2d_data_with_the_neuron_split_only():
    X = np.random.default_rng(0).normal(size=(60, 3)) @ np.random.default_rng(1).normal(size=(3, 8))
    table = baseline_scores(X, "cka", baselines="neuron_split", n_splits=2).table
    assert table.baseline.tolist() == ["neuron_split"]
    assert table.score.iloc[0] == pytest.approx(neuron_split(X, "cka", n_splits=2).mean, rel=1e-12)


@pytest.mark.parametrize("kwargs, message", [
    ({"measures": []}, "measures: expected at least one of the measure names"),
    ({"measures": ["cka", "cka-kernel=linear-hsic=gretton-score"]}, "measures: the same measure is named twice"),
    ({"measures": [3]}, "measures: expected a measure name"),
    ({"measures": 3}, "measures: expected an iterable of measure names"),
    ({"baselines": ("trial_shuffle",)}, "baselines: expected distinct names among"),
    ({"baselines": ()}, "baselines: expected distinct names among"),
    ({"n_splits": 1.5}, "n_splits: expected an integer"),
])
def test_table_errors_name_the_argument(kwargs, message):
    kwargs = {"measures": "cka", **kwargs}
    with pytest.raises(ValueError, match=message):
        baseline_scores(structured(), **kwargs)


def test_plot_and_save(tmp_path):
    import matplotlib.pyplot as plt
    import pandas as pd

    result = baseline_scores(structured(6), ["cka", "angular-procrustes", "nbs"], n_splits=3)
    table = result.table
    assert result.score("cka", "condition_average") == table.score[0]
    ax = result.plot()
    lines = ax.get_lines()
    assert len(lines) == 6  # one line per (measure, baseline)
    assert {line.get_linestyle() for line in lines} == {"--", ":"}
    assert [t.get_text() for t in ax.get_xticklabels()] == ["cka", "angular-procrustes", "nbs"]
    dashed = [line for line in lines if line.get_linestyle() == "--"]
    assert np.allclose([line.get_ydata()[0] for line in dashed],
                       table[table.baseline == "condition_average"].score)
    models = pd.DataFrame({"measure": ["cka", "nbs", "cka"], "model": ["rnn", "rnn", "lstm"], "score": [0.5, 0.6, 0.7]})
    fig, own = plt.subplots()
    assert result.plot(ax=own, models=models) is own
    assert len(own.get_lines()) == 6 + 2
    with pytest.raises(ValueError, match="models: measure"):
        result.plot(models={"measure": ["cca"], "model": ["rnn"], "score": [0.5]})
    with pytest.raises(ValueError, match="models: expected columns"):
        result.plot(models={"measure": ["cka"], "score": [0.5]})
    with pytest.raises(ValueError, match="measure, baseline: no row for"):
        result.score("cca", "neuron_split")
    written = result.save(tmp_path / "figures" / "fig2_baselines", models=models)
    assert [p[-4:] for p in written] == [".png", ".pdf", ".csv"]
    assert all((tmp_path / "figures" / f"fig2_baselines{s}").stat().st_size > 0 for s in (".png", ".pdf", ".csv"))
    back = pd.read_csv(tmp_path / "figures" / "fig2_baselines.csv")
    assert list(back.columns) == list(table.columns) and np.allclose(back.score, table.score)
    assert BASELINES == ("condition_average", "neuron_split")
    plt.close("all")


def test_lazy_access_from_the_package():
    assert repalign.baselines.condition_average is condition_average

"""compare_models: a zoo of models against one recording (Fig. 2c,d with uncertainty, claim C5).

Values are checked against direct calls of the measures and of repalign.statistics with the same
counts and seeds, Kendall's tau against scipy.stats.kendalltau, and the verdicts on constructed
cases whose answer is known (two measures ranking the models in opposite orders).
"""

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.stats
from conftest import assert_same_values

import repalign
from repalign import statistics
from repalign.baselines import baseline_scores
from repalign.comparison import COLUMNS, ModelComparison, compare_models, kendall_tau, model_label
from repalign.data import Dataset, Trials
from repalign.results import Record

pytestmark = pytest.mark.usefixtures("single_threaded")  # see conftest.py


def reference_data(seed=0, shape=(5, 12, 10)):
    rng = np.random.default_rng(seed)
    t, c, p = shape
    return 2 * np.sin(np.linspace(0, 3, t))[:, None, None] * rng.normal(size=(1, 1, p)) + rng.normal(size=shape)


def noisy_models(X, levels=(0.3, 1.0, 3.0), seed=1):
    rng = np.random.default_rng(seed)
    return {f"noise {k}": Dataset(X + k * rng.normal(size=X.shape)) for k in levels}


@pytest.fixture(scope="module")
def small():
    X = reference_data()
    models = noisy_models(X)
    result = compare_models(models, Dataset(X), ["cka", "procrustes-distance=angular"], n_resamples=40,
                            n_permutations=30, n_splits=4, seed=3)
    return X, models, result


def test_table_columns_and_values_match_direct_calls(small):
    X, models, result = small
    table = result.table
    assert list(table.columns) == list(COLUMNS)
    assert len(table) == 2 * 3
    counts = statistics.resample_counts(X.shape[1], 40, 3)
    for row in table.itertuples():
        m = repalign.measure(row.measure)
        assert row.name == m.name and row.kind == m.kind
        assert math.isclose(row.estimate, m(X, models[row.model]), rel_tol=1e-10, abs_tol=1e-12)
        boot = statistics.bootstrap(m, Dataset(X), models[row.model], n_resamples=40, seed=3, counts=counts)
        assert math.isclose(row.standard_error, boot.standard_error, rel_tol=1e-8)
        assert np.allclose([row.low, row.high], boot.interval, rtol=1e-8)
        null = statistics.permutation_test(m, Dataset(X), models[row.model], n_resamples=30, seed=3)
        assert math.isclose(row.chance, null.chance, rel_tol=1e-8) and math.isclose(row.p_value, null.p_value)
        assert row.low <= row.high
    assert table.seed.isna().all() and (table.architecture == table.model).all()


def test_all_models_share_the_bootstrap_resamples(small):
    X, models, result = small
    counts = statistics.resample_counts(X.shape[1], 40, 3)
    i = result.measures.index("cka")
    for k, label in enumerate(result.models):
        boot = statistics.bootstrap("cka", Dataset(X), models[label], n_resamples=40, seed=3, counts=counts)
        assert np.allclose(result.values[i, k], boot.values, rtol=1e-10)


def test_baselines_are_those_of_baseline_scores(small):
    X, _, result = small
    expected = baseline_scores(X, ["cka", "procrustes-distance=angular"], n_splits=4, seed=3).table
    got = result.baselines.table
    assert np.allclose(got.score, expected.score) and got.baseline.tolist() == expected.baseline.tolist()
    assert got.measure.tolist() == expected.measure.tolist()


@pytest.mark.parametrize("seed", range(5))
def test_kendall_tau_matches_scipy_with_ties(seed):
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 4, size=9).astype(float)  # ties in both
    b = rng.integers(0, 3, size=9).astype(float)
    assert math.isclose(float(kendall_tau(a, b)), scipy.stats.kendalltau(a, b).statistic, rel_tol=1e-12, abs_tol=1e-12)
    batch = rng.normal(size=(6, 7))
    other = rng.normal(size=(6, 7))
    expected = [scipy.stats.kendalltau(x, y).statistic for x, y in zip(batch, other)]
    assert np.allclose(kendall_tau(batch, other), expected, atol=1e-12)


def test_kendall_tau_all_tied_is_nan_and_too_few_items_refused():
    assert math.isnan(float(kendall_tau([1, 1, 1], [1, 2, 3])))
    with pytest.raises(ValueError, match="at least 2 items"):
        kendall_tau([1.0], [2.0])


def test_agreement_point_tau_from_oriented_estimates_and_interval_contains_it(small):
    _, _, result = small
    row = result.agreement.iloc[0]
    table = result.table
    cka = table[table.measure == "cka"].set_index("model").estimate[list(result.models)]
    ang = table[table.measure == "procrustes-distance=angular"].set_index("model").estimate[list(result.models)]
    expected = scipy.stats.kendalltau(cka, -ang).statistic  # the distance ranked by its negation
    assert math.isclose(row.tau, expected)
    assert expected == 1.0  # a clear case: noise levels 0.3, 1, 3
    assert row.low <= row.tau <= row.high
    matrix = result.agreement_matrix()
    assert matrix.shape == (2, 2) and np.allclose(np.diag(matrix), 1) and np.allclose(matrix, matrix.T)


def test_above_baseline_for_a_score_and_a_distance(small):
    _, _, result = small
    above = result.above
    base = result.baselines.table
    for row in above.itertuples():
        level = base[(base.measure == row.measure) & (base.baseline == row.baseline)].score.iloc[0]
        if row.measure == "cka":  # a score: above = higher
            assert row.above == (row.estimate > level)
        else:  # a distance: above = lower
            assert row.above == (row.estimate < level)
        assert not (row.interval_above and row.interval_below)
        if row.interval_above:
            assert row.above


def test_misaligned_model_is_refused_naming_it():
    X = reference_data()
    models = noisy_models(X)
    models["short"] = Dataset(X[:, :10])
    with pytest.raises(ValueError, match="'short' is not aligned"):
        compare_models(models, Dataset(X), ["cka"], n_resamples=5, n_permutations=0)
    conditions = Dataset(X, conditions={"context": np.arange(12) % 2})
    shuffled = {k: Dataset(v.activity, conditions={"context": (np.arange(12) + 1) % 2}) for k, v in
                noisy_models(X).items()}
    with pytest.raises(ValueError, match="conditions differ in column 'context'"):
        compare_models(shuffled, conditions, ["cka"], n_resamples=5, n_permutations=0)


def test_bad_arguments_name_the_argument():
    X = reference_data()
    models = noisy_models(X)
    with pytest.raises(ValueError, match="models: expected a mapping of at least 2"):
        compare_models({"one": Dataset(X)}, X, ["cka"])
    with pytest.raises(ValueError, match="n_resamples"):
        compare_models(models, X, ["cka"], n_resamples=1)
    with pytest.raises(ValueError, match="confidence_level"):
        compare_models(models, X, ["cka"], confidence_level=1.0)
    with pytest.raises(ValueError, match="measures: the same measure"):
        compare_models(models, X, ["cka", "cka-kernel=linear-hsic=gretton-score"])


def test_record_keys_give_architecture_and_seed_and_grouping():
    X = reference_data()
    rng = np.random.default_rng(0)
    models = {(("LSTM", "Tanh"), 1): X + rng.normal(size=X.shape), (("CTRNN", "ReLU"), 0): X + rng.normal(size=X.shape),
              (("LSTM", "Tanh"), 0): X + rng.normal(size=X.shape)}
    result = compare_models(models, X, ["cka"], n_resamples=5, n_permutations=0)
    assert result.models == ("LSTM-Tanh s0", "LSTM-Tanh s1", "CTRNN-ReLU s0")
    assert result.table.seed.tolist() == [0, 1, 0] and result.table.chance.isna().all()
    assert model_label("x", Dataset(X, provenance={"architecture": ["CTRNN", "Tanh"], "network_seed": 4})) == (
        "x", "CTRNN-Tanh", 4)


def opposite_case():
    """Models that CKA and the Euclidean Procrustes distance rank in opposite orders.

    Model k is the data plus noise of growing size, scaled by a shrinking factor: CKA, invariant to the
    scale, prefers the least noisy model; the Euclidean distance, which has units, prefers the model of the
    data's own scale. Checked below rather than assumed.
    """
    X = reference_data(2, shape=(4, 16, 6))
    rng = np.random.default_rng(5)
    models = {f"model {k}": Dataset(scale * (X + noise * rng.normal(size=X.shape)))
              for k, (noise, scale) in enumerate(((0.1, 10.0), (1.0, 3.0), (3.0, 1.0)))}
    return X, models


def test_summary_states_disagreement_when_measures_rank_oppositely():
    X, models = opposite_case()
    cka = [repalign.measure("cka")(X, Y) for Y in models.values()]
    euclidean = [repalign.measure("procrustes-distance=euclidean")(X, Y) for Y in models.values()]
    assert scipy.stats.kendalltau(cka, euclidean).statistic == 1  # higher CKA, larger distance: opposite orders
    result = compare_models(models, Dataset(X), ["cka", "procrustes-distance=euclidean"], n_resamples=60,
                            n_permutations=0, n_splits=3)
    verdict = result.verdict()
    assert not verdict["ranking_agree"] and verdict["pairs"][0]["tau"] == -1
    text = result.summary("constructed")
    assert "**Ranking: the measures disagree** (C5 holds)" in text
    assert "τ_b -1.00" in text


def test_summary_states_agreement_on_a_clear_case(small):
    _, _, result = small
    text = result.summary()
    assert "**Ranking: no disagreement shown**" in text and "disagree** (C5 holds) — " not in text


def test_plots_and_save_write_files(small, tmp_path):
    _, _, result = small
    assert [Path(p).name for p in result.save(tmp_path / "panel")] == ["panel.png", "panel.pdf", "panel.csv"]
    assert_same_values(pd.read_csv(tmp_path / "panel.csv"), result.table)
    files = result.save_all(tmp_path / "zoo")
    names = sorted(p.rsplit("/", 1)[-1] for p in files)
    assert names == ["zoo.csv", "zoo.pdf", "zoo.png", "zoo_above.csv", "zoo_agreement.csv", "zoo_agreement.pdf",
                     "zoo_agreement.png", "zoo_baselines.csv"]
    assert all((tmp_path / n).stat().st_size > 0 for n in names)
    record = result.record()
    assert record.kind == "comparison" and set(record.tables) == {"table", "baselines", "above", "agreement"}
    assert record.arrays["values"].shape == (2, 3, 40)
    assert isinstance(result, ModelComparison)
    back = Record.load(record.save(tmp_path / "comparison.npz"))
    assert back.settings == record.settings and np.array_equal(back.arrays["values"], record.arrays["values"])
    for name, table in record.tables.items():
        assert_same_values(back.tables[name], table)


def test_single_trials_are_resampled_within_conditions():
    rng = np.random.default_rng(4)
    n_conditions, per, t, p = 6, 5, 3, 7
    means = rng.normal(size=(n_conditions, t, p)) * 2
    activity = np.repeat(means, per, axis=0) + rng.normal(size=(n_conditions * per, t, p))
    trials = Trials(activity, {"direction": np.repeat(np.arange(n_conditions), per)}, "direction")
    average = trials.average()
    models = {f"noise {k}": Dataset(average.activity + k * rng.normal(size=average.shape)) for k in (0.2, 1.0, 3.0)}
    result = compare_models(models, trials, ["cka"], n_resamples=30, n_permutations=10, n_splits=2, seed=1)
    assert result.over == "trials"
    for k, label in enumerate(result.models):
        boot = statistics.bootstrap("cka", trials, models[label], n_resamples=30, over="trials", seed=1)
        assert np.allclose(result.values[0, k], boot.values, rtol=1e-10)
        row = result.table[result.table.model == label].iloc[0]
        assert math.isclose(row.estimate, repalign.measure("cka")(average, models[label]), rel_tol=1e-10)
    expected = baseline_scores(average, ["cka"], n_splits=2, seed=1).table
    assert np.allclose(result.baselines.table.score, expected.score)


def test_bca_intervals_are_those_of_the_statistics_bootstrap(small):
    X, models, _ = small
    result = compare_models(models, Dataset(X), ["cka"], n_resamples=40, n_permutations=0, n_splits=2, seed=3,
                            method="bca")
    counts = statistics.resample_counts(X.shape[1], 40, 3, sampling="replacement")
    for row in result.table.itertuples():
        boot = statistics.bootstrap("cka", Dataset(X), models[row.model], n_resamples=40, seed=3, counts=counts,
                                    method="bca")
        assert np.allclose([row.low, row.high], boot.interval, rtol=1e-10)
    assert result.record().settings["method"] == "bca" and "bca intervals)" in result.summary()
    assert result.sampling == "replacement"
    with pytest.raises(ValueError, match="method: expected one of"):
        compare_models(models, Dataset(X), ["cka"], method="student")
    with pytest.raises(ValueError, match="method: half-sampling"):
        compare_models(models, Dataset(X), ["cka"], method="percentile", sampling="half")

"""Encoding models and tuning reorientation Θ (seed paper 003): the toy of Figure 1C,
Θ's definition (appendix A.1) against a hand computation and its invariances, the fitted
models against closed forms, held-out scoring against numpy, the table, and bad inputs."""

import math
import subprocess
import sys

import numpy as np
import pytest
import torch
from conftest import random_orthogonal

from repalign import encoding
from repalign.encoding import (
    CONSTRAINTS,
    DEFAULT_ALPHAS,
    MODELS,
    compare,
    fit_encoding,
    fit_weights,
    split_samples,
    toy_problem,
    tuning_reorientation,
)

pytest.importorskip("sklearn")  # the optional dependency behind every fit (in the test extra)


def theta_reference(features, target, weights):
    """Θ of one target, written out step by step from 003 appendix A.1 (plain loops)."""
    t_norm = target / math.sqrt(sum(v * v for v in target))
    distances = []
    for i in range(features.shape[1]):
        f = features[:, i]
        f_unit = f / math.sqrt(sum(v * v for v in f))
        distances.append(1.0 - sum(a * b for a, b in zip(f_unit, t_norm)))
    total = sum(abs(w) for w in weights)
    return sum(d * abs(w) / total for d, w in zip(distances, weights))


def encoding_data(seed=0, n=90, p=8, q=3, noise=0.5):
    """Targets driven by a few features with mixed signs, so unconstrained fits use negative weights."""
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(n, p)) @ (np.eye(p) + 0.3 * rng.normal(size=(p, p)))
    mixing = np.zeros((p, q))
    mixing[:3] = rng.normal(size=(3, q)) * 2
    targets = features @ mixing + noise * rng.normal(size=(n, q))
    return features, targets


# ---- Done-when: the 003 toy --------------------------------------------------------------


def test_toy_positive_lasso_reorients_least_then_positive_ols_then_ols():
    thetas = {"ols": [], "positive ols": [], "positive lasso": []}
    for seed in range(20):
        features, targets = toy_problem(seed)
        fits = {
            "ols": fit_weights(features, targets, model="ols"),
            "positive ols": fit_weights(features, targets, model="ols", positive=True),
            "positive lasso": fit_weights(features, targets, model="lasso", positive=True, alpha=0.1),
        }
        assert np.count_nonzero(fits["positive lasso"]) <= 2, f"seed {seed}"
        for name, weights in fits.items():
            thetas[name].append(tuning_reorientation(features, targets, weights)[0])
    median = {name: float(np.median(values)) for name, values in thetas.items()}
    assert median["positive lasso"] < median["positive ols"] < median["ols"], median


def test_toy_problem_is_the_003_construction():
    features, targets = toy_problem(seed=3)
    assert features.shape == (2, 100) and targets.shape == (2, 1)
    assert targets.ravel().tolist() == [3.0, 2.5]
    np.testing.assert_array_equal(features, toy_problem(seed=3)[0])
    assert not np.array_equal(features, toy_problem(seed=4)[0])
    expected = 1.5 * np.random.default_rng(3).standard_normal((2, 100)) - 0.75
    np.testing.assert_array_equal(features, expected)
    pooled = np.concatenate([toy_problem(seed)[0].ravel() for seed in range(100)])  # 20 000 draws
    assert pooled.mean() == pytest.approx(-0.75, abs=0.05)
    assert pooled.std() == pytest.approx(1.5, abs=0.05)


# ---- Θ: definition and properties --------------------------------------------------------


def test_theta_hand_computed_tiny_example():
    # tuning vectors over 2 images: along the target, orthogonal to it, and at 135° from it
    features = np.array([[1.0, 0.0, -1.0], [0.0, 1.0, -1.0]])
    target = np.array([[1.0], [0.0]])
    weights = np.array([[2.0, -1.0, 1.0]])
    # distances 0, 1 and 1 + 1/√2, weighted by |w| = 2, 1, 1 out of 4
    expected = (0 * 2 + 1 * 1 + (1 + 1 / math.sqrt(2)) * 1) / 4
    assert tuning_reorientation(features, target, weights)[0] == pytest.approx(expected, rel=1e-14)


def test_theta_matches_the_step_by_step_reference():
    rng = np.random.default_rng(1)
    features, targets, weights = rng.normal(size=(7, 5)), rng.normal(size=(7, 3)), rng.normal(size=(3, 5))
    got = tuning_reorientation(features, targets, weights)
    for j in range(3):
        assert got[j] == pytest.approx(theta_reference(features, targets[:, j], weights[j]), rel=1e-12)


def test_theta_is_zero_when_every_target_copies_one_feature():
    rng = np.random.default_rng(2)
    features = rng.normal(size=(30, 5))
    np.testing.assert_allclose(tuning_reorientation(features, features, np.eye(5)), 0.0, atol=1e-14)
    # any positive scale of the copies or of the weights keeps the tuning unchanged
    scaled = tuning_reorientation(features, 3.0 * features, np.diag([0.5, 1.0, 2.0, 7.0, 0.1]))
    np.testing.assert_allclose(scaled, 0.0, atol=1e-14)


def test_an_encoding_model_that_copies_the_features_reorients_nothing():
    rng = np.random.default_rng(3)
    features = rng.normal(size=(60, 4))
    result = fit_encoding(features, features, model="ols", seed=0)
    np.testing.assert_allclose(result.weights, np.eye(4), atol=1e-10)
    np.testing.assert_allclose(result.theta_per_target, 0.0, atol=1e-10)
    np.testing.assert_allclose(result.r_per_target, 1.0, atol=1e-12)


def test_theta_lies_between_the_extreme_distances_of_the_weighted_features():
    rng = np.random.default_rng(4)
    for _ in range(20):
        features, target = rng.normal(size=(6, 9)), rng.normal(size=(6, 1))
        weights = rng.normal(size=(1, 9)) * (rng.random(9) < 0.6)
        weights[0, 0] = 1.0  # at least one feature carries weight
        used = weights[0] != 0
        cosine = (features / np.linalg.norm(features, axis=0)).T @ (target / np.linalg.norm(target))
        distance = 1 - cosine.ravel()[used]
        theta = tuning_reorientation(features, target, weights)[0]
        assert 0 <= distance.min() - 1e-12 <= theta <= distance.max() + 1e-12 <= 2 + 1e-12


def test_theta_invariances_implied_by_the_definition():
    rng = np.random.default_rng(5)
    features, targets, weights = rng.normal(size=(10, 6)), rng.normal(size=(10, 3)), rng.normal(size=(3, 6))
    base = tuning_reorientation(features, targets, weights)
    rotation = random_orthogonal(10, rng)  # of the sample (image) axis, shared by features and targets
    same = {
        "target scale": (features, targets * np.array([0.1, 4.0, 30.0]), weights),
        "feature scale": (features * rng.uniform(0.1, 10, size=6), targets, weights),
        "weight scale (any sign)": (features, targets, weights * np.array([[2.0], [-0.3], [5.0]])),
        "weight signs": (features, targets, weights * rng.choice([-1.0, 1.0], size=(3, 6))),
        "sample-axis rotation": (rotation @ features, rotation @ targets, weights),
    }
    for name, (f, t, w) in same.items():
        np.testing.assert_allclose(tuning_reorientation(f, t, w), base, rtol=1e-12, err_msg=name)
    # equivariance: permuting features (with their weights) changes nothing, permuting targets permutes Θ
    order = rng.permutation(6)
    np.testing.assert_allclose(tuning_reorientation(features[:, order], targets, weights[:, order]), base, rtol=1e-12)
    target_order = rng.permutation(3)
    np.testing.assert_allclose(
        tuning_reorientation(features, targets[:, target_order], weights[target_order]), base[target_order], rtol=1e-12
    )


def test_theta_sees_remixing_that_leaves_predictions_unchanged():
    rng = np.random.default_rng(6)
    features = rng.normal(size=(40, 5))
    weights = np.eye(5)[:2]  # targets 0 and 1 are features 0 and 1
    targets = features @ weights.T
    rotation = random_orthogonal(5, rng)
    # rotated features with rotated weights predict exactly the same responses...
    np.testing.assert_allclose((features @ rotation) @ (weights @ rotation).T, targets, atol=1e-12)
    # ...but the rotated features are not tuned like the targets, and Θ says so
    np.testing.assert_allclose(tuning_reorientation(features, targets, weights), 0.0, atol=1e-14)
    assert (tuning_reorientation(features @ rotation, targets, weights @ rotation) > 0.1).all()
    # flipping a feature and its weight keeps predictions but turns distance d into 2 - d
    flipped_features, flipped_weights = features.copy(), weights.copy()
    flipped_features[:, 0] *= -1
    flipped_weights[:, 0] *= -1
    np.testing.assert_allclose(flipped_features @ flipped_weights.T, targets, atol=1e-14)
    assert tuning_reorientation(flipped_features, targets, flipped_weights)[0] == pytest.approx(2.0)


def test_theta_undefined_for_all_zero_weights():
    rng = np.random.default_rng(7)
    weights = rng.normal(size=(2, 4))
    weights[1] = 0.0
    theta = tuning_reorientation(rng.normal(size=(5, 4)), rng.normal(size=(5, 2)), weights)
    assert np.isfinite(theta[0]) and np.isnan(theta[1])


def test_theta_accepts_torch_and_ignores_zero_features_without_weight():
    rng = np.random.default_rng(8)
    features, targets, weights = rng.normal(size=(6, 4)), rng.normal(size=(6, 2)), rng.normal(size=(2, 4))
    expected = tuning_reorientation(features, targets, weights)
    got = tuning_reorientation(torch.from_numpy(features).float(), torch.from_numpy(targets), torch.from_numpy(weights))
    assert isinstance(got, np.ndarray) and got.dtype == np.float64
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    with_dead = np.hstack([features, np.zeros((6, 1))])
    np.testing.assert_allclose(
        tuning_reorientation(with_dead, targets, np.hstack([weights, np.zeros((2, 1))])), expected, rtol=1e-14
    )


# ---- fitted weights against closed forms -------------------------------------------------


def test_ols_and_ridge_match_their_normal_equations():
    features, targets = encoding_data(seed=9)
    np.testing.assert_allclose(
        fit_weights(features, targets, model="ols"), np.linalg.lstsq(features, targets, rcond=None)[0].T, atol=1e-10
    )
    gram = features.T @ features
    ridge = np.linalg.solve(gram + 2.5 * np.eye(gram.shape[0]), features.T @ targets).T
    np.testing.assert_allclose(fit_weights(features, targets, model="ridge", alpha=2.5), ridge, atol=1e-10)


@pytest.mark.parametrize("positive", [False, True])
def test_lasso_and_elasticnet_match_soft_thresholding_on_an_orthogonal_design(positive):
    # with XᵀX = n I the coordinate-descent objectives separate per weight:
    # lasso w = S(Xᵀy/n, α), elasticnet w = S(Xᵀy/n, αρ) / (1 + α(1 − ρ)), S the soft threshold
    rng = np.random.default_rng(10)
    n, p = 50, 6
    features = math.sqrt(n) * np.linalg.qr(rng.normal(size=(n, p)))[0]
    targets = rng.normal(size=(n, 2)) + features @ rng.normal(size=(p, 2)) * 0.3
    correlation = features.T @ targets / n

    def soft(x, threshold):
        shrunk = np.sign(x) * np.maximum(np.abs(x) - threshold, 0.0)
        return np.maximum(shrunk, 0.0) if positive else shrunk

    lasso = fit_weights(features, targets, model="lasso", positive=positive, alpha=0.2)
    np.testing.assert_allclose(lasso, soft(correlation, 0.2).T, atol=1e-8)
    net = fit_weights(features, targets, model="elasticnet", positive=positive, alpha=0.2, l1_ratio=0.3)
    np.testing.assert_allclose(net, (soft(correlation, 0.2 * 0.3) / (1 + 0.2 * 0.7)).T, atol=1e-8)


def test_positive_ridge_matches_bounded_least_squares():
    from scipy.optimize import lsq_linear

    features, targets = encoding_data(seed=11)
    alpha = 3.0
    weights = fit_weights(features, targets, model="ridge", positive=True, alpha=alpha)
    p = features.shape[1]
    augmented = np.vstack([features, math.sqrt(alpha) * np.eye(p)])
    for j in range(targets.shape[1]):
        reference = lsq_linear(augmented, np.concatenate([targets[:, j], np.zeros(p)]), bounds=(0, np.inf), tol=1e-12)
        np.testing.assert_allclose(weights[j], reference.x, atol=1e-4)


@pytest.mark.parametrize("model", MODELS)
def test_positivity_constraint_gives_non_negative_weights(model):
    features, targets = encoding_data(seed=12)
    alpha = None if model == "ols" else 0.05
    free = fit_encoding(features, targets, model=model, alpha=alpha, validation=None)
    assert (free.weights < 0).any()  # the data need negative weights...
    constrained = fit_encoding(features, targets, model=model, positive=True, alpha=alpha, validation=None)
    assert (constrained.weights >= 0).all()  # ...which the constraint forbids
    assert constrained.positive and not free.positive


def test_solver_that_does_not_converge_raises_instead_of_returning():
    features, targets = encoding_data(seed=13)
    with pytest.raises(RuntimeError, match="lasso .*did not converge within max_iter=1"):
        fit_weights(features, targets, model="lasso", alpha=1e-4, max_iter=1)


# ---- held-out scoring --------------------------------------------------------------------


def test_predictivity_is_the_numpy_pearson_r_on_the_test_split():
    features, targets = encoding_data(seed=14)
    result = fit_encoding(features, targets, model="ridge", alpha=1.0, seed=5)
    test = result.test_index
    predicted = result.predict(features[test])
    expected = [np.corrcoef(predicted[:, j], targets[test, j])[0, 1] for j in range(targets.shape[1])]
    np.testing.assert_allclose(result.r_per_target, expected, rtol=1e-12)
    assert result.r == pytest.approx(np.mean(expected), rel=1e-12)
    np.testing.assert_allclose(predicted, features[test] @ result.original_weights.T + result.intercepts, atol=1e-10)


def test_theta_of_a_fit_is_computed_on_standardized_test_features_and_predictions():
    features, targets = encoding_data(seed=15)
    for theta_target in ("predicted", "observed"):
        result = fit_encoding(features, targets, model="lasso", positive=True, alpha=0.05, theta_target=theta_target)
        train, test = result.train_index, result.test_index
        mean, std = features[train].mean(axis=0), features[train].std(axis=0)
        standardized = (features[test] - mean) / std
        if theta_target == "predicted":
            tuning = standardized @ result.weights.T
        else:
            tuning = (targets[test] - targets[train].mean(axis=0)) / targets[train].std(axis=0)
        for j in range(targets.shape[1]):
            expected = theta_reference(standardized, tuning[:, j], result.weights[j])
            assert result.theta_per_target[j] == pytest.approx(expected, rel=1e-10), theta_target
        assert result.theta == pytest.approx(result.theta_per_target.mean(), rel=1e-14)
        np.testing.assert_array_equal(result.n_features_used, np.count_nonzero(result.weights, axis=1))


def test_fit_is_invariant_to_rescaling_and_shifting_features_and_targets():
    rng = np.random.default_rng(16)
    features, targets = encoding_data(seed=16)
    base = fit_encoding(features, targets, model="elasticnet", positive=True, seed=2)
    moved = fit_encoding(
        features * rng.uniform(0.1, 10, size=features.shape[1]) + rng.normal(size=features.shape[1]) * 5,
        targets * rng.uniform(0.1, 10, size=targets.shape[1]) - 3.0,
        model="elasticnet",
        positive=True,
        seed=2,
    )
    assert moved.alpha == base.alpha
    np.testing.assert_allclose(moved.weights, base.weights, atol=1e-6)
    np.testing.assert_allclose(moved.r_per_target, base.r_per_target, atol=1e-6)
    np.testing.assert_allclose(moved.theta_per_target, base.theta_per_target, atol=1e-6)


def test_all_zero_weights_score_zero_r_and_undefined_theta():
    features, targets = encoding_data(seed=17)
    result = fit_encoding(features, targets, model="lasso", alpha=1e3, validation=None)  # penalty beyond max |Xᵀy|/n
    assert (result.weights == 0).all() and (result.n_features_used == 0).all()
    np.testing.assert_array_equal(result.r_per_target, 0.0)
    assert np.isnan(result.theta_per_target).all() and math.isnan(result.theta)


def test_torch_inputs_give_the_numpy_result():
    features, targets = encoding_data(seed=18)
    expected = fit_encoding(features, targets, model="ridge", seed=1)
    got = fit_encoding(torch.from_numpy(features), torch.from_numpy(targets), model="ridge", seed=1)
    assert got.alpha == expected.alpha
    np.testing.assert_allclose(got.weights, expected.weights, rtol=1e-12)


# ---- α selection and splits --------------------------------------------------------------


def test_alpha_is_chosen_from_the_grid_by_validation_r():
    features, targets = encoding_data(seed=19)
    grid = [0.003, 0.03, 0.3, 3.0]
    result = fit_encoding(features, targets, model="lasso", alphas=grid, seed=4)
    np.testing.assert_array_equal(result.alphas, grid)
    assert result.alpha in grid and result.alpha == grid[int(np.argmax(result.validation_r))]
    # recompute each validation score independently from the split the result reports
    train, validation = result.train_index, result.validation_index
    x_mean, x_std = features[train].mean(axis=0), features[train].std(axis=0)
    y_mean, y_std = targets[train].mean(axis=0), targets[train].std(axis=0)
    x_train, y_train = (features[train] - x_mean) / x_std, (targets[train] - y_mean) / y_std
    for alpha, score in zip(grid, result.validation_r):
        weights = fit_weights(x_train, y_train, model="lasso", alpha=alpha)
        predicted = (features[validation] - x_mean) / x_std @ weights.T
        r = [
            0.0 if np.ptp(predicted[:, j]) == 0 else np.corrcoef(predicted[:, j], targets[validation, j])[0, 1]
            for j in range(targets.shape[1])  # α = 3 zeroes every weight: a constant prediction scores 0
        ]
        assert score == pytest.approx(np.mean(r), rel=1e-10, abs=1e-15)
    assert result.validation_r[-1] == 0.0


def test_default_grid_is_003_and_selection_is_reproducible_with_a_seed():
    np.testing.assert_allclose(DEFAULT_ALPHAS, np.logspace(-2, 4, 10))
    features, targets = encoding_data(seed=20)
    first = fit_encoding(features, targets, model="elasticnet", positive=True, seed=7)
    again = fit_encoding(features, targets, model="elasticnet", positive=True, seed=7)
    other = fit_encoding(features, targets, model="elasticnet", positive=True, seed=8)
    np.testing.assert_array_equal(first.alphas, DEFAULT_ALPHAS)
    assert first.alpha in DEFAULT_ALPHAS and first.alpha == again.alpha
    np.testing.assert_array_equal(first.weights, again.weights)
    np.testing.assert_array_equal(first.validation_r, again.validation_r)
    np.testing.assert_array_equal(first.test_index, again.test_index)
    assert not np.array_equal(first.test_index, other.test_index)


def test_fixed_alpha_and_ols_search_no_grid():
    features, targets = encoding_data(seed=21)
    fixed = fit_encoding(features, targets, model="elasticnet", alpha=0.1)
    assert fixed.alpha == 0.1 and fixed.l1_ratio == 0.5 and fixed.alphas.size == 0 and fixed.validation_r.size == 0
    ols = fit_encoding(features, targets, model="ols")
    assert ols.alpha == 0.0 and ols.l1_ratio is None and ols.alphas.size == 0


def test_split_is_disjoint_complete_seeded_and_takes_explicit_indices():
    train, validation, test = split_samples(50, validation=0.2, test=0.3, seed=1)
    assert (len(train), len(validation), len(test)) == (25, 10, 15)
    assert sorted(np.concatenate([train, validation, test]).tolist()) == list(range(50))
    again = split_samples(50, validation=0.2, test=0.3, seed=1)
    assert all(np.array_equal(a, b) for a, b in zip((train, validation, test), again))
    train, validation, test = split_samples(20, validation=[0, 1, 2], test=np.arange(15, 20), seed=0)
    assert validation.tolist() == [0, 1, 2] and test.tolist() == [15, 16, 17, 18, 19] and len(train) == 12
    train, validation, test = split_samples(20, validation=None, test=4)
    assert len(validation) == 0 and len(test) == 4 and len(train) == 16


# ---- the comparison table ----------------------------------------------------------------


def test_compare_returns_one_tidy_row_per_features_model_and_constraint():
    features, targets = encoding_data(seed=22, n=60)
    rotated = features @ random_orthogonal(features.shape[1], np.random.default_rng(0))
    grid = [0.01, 0.1, 1.0]  # short: positive Ridge runs L-BFGS-B once per α
    table = compare(features, rotated, targets, names=("aligned", "rotated"), alphas=grid, seed=3).table
    assert list(table.columns) == ["features", "model", "constraint", "alpha", "r", "theta", "n_features_used"]
    assert table.shape == (2 * len(MODELS) * len(CONSTRAINTS), 7)
    assert not table.duplicated(["features", "model", "constraint"]).any()
    assert set(table.features) == {"aligned", "rotated"} and set(table.constraint) == set(CONSTRAINTS)
    assert (table.loc[table.model == "ols", "alpha"] == 0).all()
    assert table.loc[table.model != "ols", "alpha"].isin(grid).all()
    row = table[(table.features == "rotated") & (table.model == "lasso") & (table.constraint == "positive")].iloc[0]
    direct = fit_encoding(rotated, targets, model="lasso", positive=True, alphas=grid, seed=3)
    assert row.alpha == direct.alpha and row.r == pytest.approx(direct.r, rel=1e-12)
    assert row.theta == pytest.approx(direct.theta, rel=1e-12)
    assert row.n_features_used == pytest.approx(direct.n_features_used.mean())
    # a rotation of the features keeps what OLS can predict but not the tuning of the features
    ols = table[(table.model == "ols") & (table.constraint == "unconstrained")].set_index("features")
    assert ols.r["aligned"] == pytest.approx(ols.r["rotated"], rel=1e-9)


def test_compare_subsets_and_fixed_alpha():
    features, targets = encoding_data(seed=23, n=50)
    table = compare(features, features[:, ::-1], targets, models=["lasso"], constraints="positive", alpha=0.02).table
    assert table.shape == (2, 7) and (table.alpha == 0.02).all() and list(table.features) == ["a", "b"]


# ---- optional dependencies ---------------------------------------------------------------


def test_importing_the_module_loads_neither_sklearn_nor_pandas():
    code = (
        "import sys, repalign.encoding; "
        "print(sorted(m for m in ('sklearn', 'pandas') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_missing_optional_dependencies_name_the_extra(monkeypatch):
    features, targets = encoding_data(seed=24, n=30)
    monkeypatch.setitem(sys.modules, "pandas", None)  # makes `import pandas` raise ImportError
    with pytest.raises(ImportError, match=r"pip install 'repalign\[encoding\]'"):
        compare(features, features, targets)
    monkeypatch.setitem(sys.modules, "sklearn", None)
    with pytest.raises(ImportError, match=r"pip install 'repalign\[encoding\]'"):
        fit_weights(features, targets)


# ---- bad input: ValueError naming the argument and the problem ---------------------------


def _bad_fit_encoding_calls():
    features, targets = encoding_data(seed=25, n=40)
    with_nan, constant_feature = features.copy(), features.copy()
    with_inf, constant_target = targets.copy(), targets.copy()
    with_nan[3, 1] = np.nan
    with_inf[0, 0] = np.inf
    constant_feature[:, 2] = 1.0
    constant_target[:, 0] = 4.0
    return [
        ("nan", (with_nan, targets), {}, "features", "NaN"),
        ("inf", (features, with_inf), {}, "targets", "infinite"),
        ("1d", (features[:, 0], targets), {}, "features", "got 1 dimension"),
        ("3d", (features, targets[None]), {}, "targets", "got 3 dimension"),
        ("empty", (features[:, :0], targets), {}, "features", "empty"),
        ("type", ("features", targets), {}, "features", "expected a numpy array"),
        ("sample mismatch", (features, targets[:30]), {}, "features and targets", "features has 40, targets has 30"),
        ("test too small", (features[:10], targets[:10]), {}, "test", "at least 3 samples"),
        ("no training left", (features[:12], targets[:12]), {"test": 5, "validation": 5}, "too few", "2 for training"),
        ("constant feature", (constant_feature, targets), {}, "features: column(s) 2", "constant"),
        ("constant target", (features, constant_target), {}, "targets: column(s) 0", "constant"),
        ("model", (features, targets), {"model": "pls"}, "model", "'pls'"),
        ("positive", (features, targets), {"positive": "yes"}, "positive", "True or False"),
        ("alpha for ols", (features, targets), {"alpha": 0.1}, "alpha", "ols has no penalty"),
        ("negative alpha", (features, targets), {"model": "ridge", "alpha": -1.0}, "alpha", "positive"),
        ("l1_ratio for lasso", (features, targets), {"model": "lasso", "l1_ratio": 0.3}, "l1_ratio", "elasticnet"),
        ("l1_ratio range", (features, targets), {"model": "elasticnet", "l1_ratio": 1.5}, "l1_ratio", "(0, 1]"),
        ("unused grid", (features, targets), {"model": "ridge", "alpha": 1.0, "alphas": [1, 2]}, "alphas", "fixed"),
        ("bad grid", (features, targets), {"model": "ridge", "alphas": [0.0, 1.0]}, "alphas", "positive"),
        ("no validation", (features, targets), {"model": "lasso", "validation": None}, "validation", "validation=None"),
        ("fraction", (features, targets), {"validation": 1.5}, "validation", "fraction"),
        ("overlap", (features, targets), {"test": [0, 1, 2], "validation": [2, 3, 4]}, "validation", "already in"),
        ("out of range", (features, targets), {"test": [0, 1, 40]}, "test", "[0, 40)"),
        ("theta_target", (features, targets), {"theta_target": "brain"}, "theta_target", "'brain'"),
        ("max_iter", (features, targets), {"model": "lasso", "alpha": 0.1, "max_iter": 0}, "max_iter", "integer >= 1"),
    ]


@pytest.mark.parametrize("case", _bad_fit_encoding_calls(), ids=lambda c: c[0])
def test_fit_encoding_bad_input_raises_naming_argument_and_problem(case):
    _, args, kwargs, argument, problem = case
    with pytest.raises(ValueError) as info:
        fit_encoding(*args, **kwargs)
    message = str(info.value)
    assert argument in message and problem in message, message


def test_target_constant_on_the_test_split_is_refused():
    features, targets = encoding_data(seed=26, n=40)
    targets[:5, 1] = 0.0
    with pytest.raises(ValueError, match=r"targets: column\(s\) 1 are constant on the 5 test samples"):
        fit_encoding(features, targets, test=[0, 1, 2, 3, 4])


def test_tuning_reorientation_bad_input():
    rng = np.random.default_rng(27)
    features, targets, weights = rng.normal(size=(5, 4)), rng.normal(size=(5, 2)), rng.normal(size=(2, 4))
    cases = [
        ((features, targets, weights.T), "weights", "(n_targets, n_features) = (2, 4)"),
        ((features, targets[:4], weights), "features and targets", "same number of samples"),
        ((features, np.zeros((5, 2)), weights), "targets", "all zero"),
        ((np.hstack([features[:, :3], np.zeros((5, 1))]), targets, weights), "features", "carry weight"),
        ((features, targets, weights[0]), "weights", "2D (target, feature)"),
    ]
    for args, argument, problem in cases:
        with pytest.raises(ValueError) as info:
            tuning_reorientation(*args)
        assert argument in str(info.value) and problem in str(info.value), str(info.value)


def test_compare_bad_input_names_the_feature_set():
    features, targets = encoding_data(seed=28, n=40)
    constant = features.copy()
    constant[:, 0] = 0.0
    with pytest.raises(ValueError, match="features_b: column"):
        compare(features, constant, targets)
    with pytest.raises(ValueError, match="features_a and features_b and targets must have the same number"):
        compare(features, features[:30], targets)
    with pytest.raises(ValueError, match="names"):
        compare(features, features, targets, names=("x", "x"))
    with pytest.raises(ValueError, match="models"):
        compare(features, features, targets, models=["ols", "svm"])
    with pytest.raises(ValueError, match="constraints"):
        compare(features, features, targets, constraints=["negative"])


def test_module_exports_what_it_documents():
    for name in encoding.__all__:
        assert hasattr(encoding, name), name

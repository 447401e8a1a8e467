r"""Fitted encoding models and their comparison across feature sets: predictivity r and reorientation Θ."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .._checks import check_choice
from .._optional import import_pandas, import_pyplot, require
from ..results import Result, colours, legend
from ._common import (
    CONSTRAINTS,
    DEFAULT_MAX_ITER,
    MODELS,
    THETA_TARGETS,
    check_alpha,
    check_alphas,
    check_choices,
    check_l1_ratio,
    check_max_iter,
    check_model,
    list_columns,
    matrices,
    sklearn_linear_model,
)
from .models import fit_weights, tuning_reorientation
from .splits import split_samples

__all__ = ["EncodingResult", "fit_encoding", "compare", "EncodingComparison", "toy_problem"]


def _pearson_per_column(predicted: np.ndarray, observed: np.ndarray) -> np.ndarray:
    """Pearson r per column; 0 for a constant prediction (see fit_encoding)."""
    predicted = predicted - predicted.mean(axis=0)
    observed = observed - observed.mean(axis=0)
    numerator = (predicted * observed).sum(axis=0)
    denominator = np.sqrt((predicted**2).sum(axis=0) * (observed**2).sum(axis=0))
    r = np.zeros(predicted.shape[1])
    defined = denominator > 0
    r[defined] = numerator[defined] / denominator[defined]
    return np.clip(r, -1.0, 1.0)



@dataclass(frozen=True, eq=False)
class EncodingResult(Result):
    """One fitted encoding model and its held-out scores.

    ``weights`` live in the standardized space: row ``j`` maps z-scored features (training
    mean and standard deviation) to z-scored target ``j``; the intercept there is exactly
    zero because the training data are centred. :attr:`original_weights`, :attr:`intercepts`
    and :meth:`predict` work in the original units.

    Attributes:
        model, positive: which of the eight encoding models.
        alpha: the penalty strength used (0.0 for OLS, which has none).
        l1_ratio: ElasticNet's ρ; None for the other models.
        weights: ``(n_targets, n_features)``, standardized space.
        r_per_target: held-out (test) Pearson r of each target.
        theta_per_target: Θ of each target on the test samples (NaN where all weights are zero).
        n_features_used: number of non-zero weights of each target.
        feature_mean, feature_scale, target_mean, target_scale: training-split moments
            (population standard deviation) used to standardize.
        train_index, validation_index, test_index: the samples of each split.
        alphas, validation_r: the α grid searched and the mean validation r of each α
            (both empty when α was fixed or the model is OLS).
        theta_target: ``"predicted"`` or ``"observed"``, the target tuning Θ was computed with.
    """

    record_kind = "encoding"

    model: str
    positive: bool
    alpha: float
    l1_ratio: float | None
    weights: np.ndarray
    r_per_target: np.ndarray
    theta_per_target: np.ndarray
    n_features_used: np.ndarray
    feature_mean: np.ndarray
    feature_scale: np.ndarray
    target_mean: np.ndarray
    target_scale: np.ndarray
    train_index: np.ndarray
    validation_index: np.ndarray
    test_index: np.ndarray
    alphas: np.ndarray
    validation_r: np.ndarray
    theta_target: str

    @property
    def r(self) -> float:
        """Held-out predictivity: the mean over targets of the test Pearson r."""
        return float(self.r_per_target.mean())

    @property
    def theta(self) -> float:
        """Mean Θ over the targets where it is defined (NaN when it is defined for none)."""
        defined = self.theta_per_target[~np.isnan(self.theta_per_target)]
        return float(defined.mean()) if defined.size else math.nan

    @property
    def original_weights(self) -> np.ndarray:
        """``(n_targets, n_features)`` weights on the original (unstandardized) features and targets."""
        return self.weights * self.target_scale[:, None] / self.feature_scale[None, :]

    @property
    def intercepts(self) -> np.ndarray:
        """``(n_targets,)`` intercepts in the original units: predict(x) = x @ original_weights.T + intercepts."""
        return self.target_mean - self.original_weights @ self.feature_mean

    @property
    def table(self):
        """One row per target: ``target``, ``r`` (held-out Pearson r), ``theta`` (Θ), ``n_features_used``."""
        pd = import_pandas()

        return pd.DataFrame({"target": np.arange(len(self.r_per_target)), "r": self.r_per_target,
                             "theta": self.theta_per_target, "n_features_used": self.n_features_used})

    def plot(self, ax=None):
        """Held-out predictivity r against tuning reorientation Θ, one point per target."""
        plt = import_pyplot()

        if ax is None:
            _, ax = plt.subplots(figsize=(4, 3.4))
        ax.plot(self.theta_per_target, self.r_per_target, "o", ms=4, color="tab:blue")
        ax.set_xlabel("tuning reorientation Θ")
        ax.set_ylabel("held-out r")
        constraint = "positive" if self.positive else "unconstrained"
        ax.set_title(f"{self.model} ({constraint}, α = {self.alpha:g}): r {self.r:.3f}, Θ {self.theta:.3f}",
                     fontsize="small")
        return ax

    def _record_settings(self) -> dict:
        return {"model": self.model, "positive": self.positive, "alpha": self.alpha, "l1_ratio": self.l1_ratio,
                "theta_target": self.theta_target, "r": self.r, "theta": self.theta}

    def _record_arrays(self) -> dict:
        return {name: getattr(self, name) for name in (
            "weights", "feature_mean", "feature_scale", "target_mean", "target_scale", "train_index",
            "validation_index", "test_index", "alphas", "validation_r")}

    def predict(self, features) -> np.ndarray:
        """Predicted responses, in the original target units, for ``(n_samples, n_features)`` features."""
        (values,) = matrices(features=features)
        if values.shape[1] != self.weights.shape[1]:
            raise ValueError(
                f"features: the model was fitted on {self.weights.shape[1]} features, got {values.shape[1]}"
            )
        standardized = (values - self.feature_mean) / self.feature_scale
        return standardized @ self.weights.T * self.target_scale + self.target_mean


def _training_moments(values: np.ndarray, train_index: np.ndarray, name: str) -> tuple[np.ndarray, np.ndarray]:
    training = values[train_index]
    constant = np.flatnonzero(np.ptp(training, axis=0) == 0)
    if constant.size:
        raise ValueError(
            f"{name}: column(s) {list_columns(constant)} are constant on the {train_index.size} training samples, "
            "so standardizing them would divide by zero; drop them (e.g. dead units) before fitting"
        )
    return training.mean(axis=0), training.std(axis=0)


def _check_varies(values: np.ndarray, index: np.ndarray, name: str, split: str) -> None:
    constant = np.flatnonzero(np.ptp(values[index], axis=0) == 0)
    if constant.size:
        raise ValueError(
            f"{name}: column(s) {list_columns(constant)} are constant on the {index.size} {split} samples, "
            "so their Pearson correlation there is undefined; change the split (seed) or drop them"
        )


def fit_encoding(
    features,
    targets,
    *,
    model: str = "ols",
    positive: bool = False,
    alpha: float | None = None,
    alphas: Sequence[float] | None = None,
    l1_ratio: float | None = None,
    validation=0.2,
    test=0.2,
    seed: int = 0,
    theta_target: str = "predicted",
    max_iter: int = DEFAULT_MAX_ITER,
) -> EncodingResult:
    r"""Fit an encoding model from features to each target and score it on held-out samples.

    1. Split the samples with :func:`split_samples` (``validation``, ``test``, ``seed``).
    2. Standardize features and targets with the training split's mean and standard deviation.
    3. Fit :func:`fit_weights` on the training split. For a penalized model with ``alpha=None``,
       fit every α of the grid ``alphas`` (default: 10 log-spaced values from 0.01 to 10000,
       003 appendix A.4) and keep the one with the highest validation r (mean over targets;
       one α for all targets; the smallest α among ties). The model is not refitted on the
       validation samples. With a fixed ``alpha`` the validation samples are left unused, so
       that the training set does not depend on the model.
    4. On the test split: r_j = Pearson(ŷ_j, y_j) per target, r = mean_j r_j; and
       Θ_j = :func:`tuning_reorientation` of the standardized test features, with target
       tuning ŷ_j (the model-predicted test responses, as 003 does for its FFA analysis) or,
       with ``theta_target="observed"``, the observed test responses y_j. Θ = mean_j Θ_j over the
       targets with some non-zero weight.

    A constant prediction (all weights zero, e.g. a large Lasso penalty) has no defined
    correlation; it is scored r = 0, as a model that predicts nothing.

    Args:
        features: ``(n_samples, n_features)`` array or tensor.
        targets: ``(n_samples, n_targets)`` array or tensor.
        model, positive, l1_ratio, max_iter: as in :func:`fit_weights`.
        alpha: fixed penalty strength, or None to choose it on the validation split (OLS: None).
        alphas: the α grid searched when ``alpha`` is None (only then).
        validation, test, seed: as in :func:`split_samples`.
        theta_target: ``"predicted"`` (default) or ``"observed"``.

    Returns:
        :class:`EncodingResult`.

    Raises:
        ValueError: bad inputs or parameters; a feature or target column constant on the
            training split (refused rather than silently dropped: standardizing it divides by
            zero); a target constant on the test or validation split; α to choose without a
            validation split.
        RuntimeError: a solver did not converge within ``max_iter``.
        ImportError: scikit-learn is not installed.

    Example:
        >>> import numpy as np
        >>> rng = np.random.default_rng(0)
        >>> features = rng.normal(size=(80, 6))
        >>> targets = features[:, :2] + 0.3 * rng.normal(size=(80, 2))  # each target = one feature + noise
        >>> result = fit_encoding(features, targets, model="lasso", positive=True, seed=0)
        >>> result.weights.shape, result.alpha in result.alphas
        ((2, 6), True)
        >>> bool(result.r > 0.9), bool(result.theta < 0.1), result.n_features_used.tolist()
        (True, True, [1, 1])
    """
    feature_values, target_values = matrices(features=features, targets=targets)
    train_index, validation_index, test_index = split_samples(
        feature_values.shape[0], validation=validation, test=test, seed=seed
    )
    return _fit_encoding(
        feature_values,
        target_values,
        "features",
        (train_index, validation_index, test_index),
        model=model,
        positive=positive,
        alpha=alpha,
        alphas=alphas,
        l1_ratio=l1_ratio,
        theta_target=theta_target,
        max_iter=max_iter,
    )


def _fit_encoding(
    features: np.ndarray,
    targets: np.ndarray,
    features_name: str,
    split: tuple[np.ndarray, np.ndarray, np.ndarray],
    *,
    model: str,
    positive: bool,
    alpha: float | None,
    alphas: Sequence[float] | None,
    l1_ratio: float | None,
    theta_target: str,
    max_iter: int,
) -> EncodingResult:
    positive = check_model(model, positive)
    alpha = check_alpha(alpha, model)
    l1_ratio = check_l1_ratio(l1_ratio, model)
    max_iter = check_max_iter(max_iter)
    check_choice(theta_target, "theta_target", THETA_TARGETS)
    chooses_alpha = model != "ols" and alpha is None
    if alphas is not None and not chooses_alpha:
        reason = "ols has no penalty" if model == "ols" else f"alpha is fixed at {alpha:g}"
        raise ValueError(f"alphas: the grid is searched only when alpha=None for a penalized model, but {reason}")
    train_index, validation_index, test_index = split
    if chooses_alpha and validation_index.size == 0:
        raise ValueError(
            f"validation: {model} with alpha=None chooses α on a validation split, but validation=None; "
            "give a validation fraction or indices, or a fixed alpha"
        )

    feature_mean, feature_scale = _training_moments(features, train_index, features_name)
    target_mean, target_scale = _training_moments(targets, train_index, "targets")
    _check_varies(targets, test_index, "targets", "test")
    standardized_features = (features - feature_mean) / feature_scale
    standardized_targets = (targets - target_mean) / target_scale
    train_features = standardized_features[train_index]
    train_targets = standardized_targets[train_index]

    grid = np.empty(0)
    validation_r = np.empty(0)
    if chooses_alpha:
        _check_varies(targets, validation_index, "targets", "validation")
        grid = check_alphas(alphas)
        fitted = [fit_weights(train_features, train_targets, model=model, positive=positive, alpha=a,
                              l1_ratio=l1_ratio, max_iter=max_iter) for a in grid]
        validation_r = np.array(
            [
                _pearson_per_column(
                    standardized_features[validation_index] @ w.T, standardized_targets[validation_index]
                ).mean()
                for w in fitted
            ]
        )
        best = int(np.argmax(validation_r))
        alpha, weights = float(grid[best]), fitted[best]
    else:
        weights = fit_weights(train_features, train_targets, model=model, positive=positive, alpha=alpha,
                              l1_ratio=l1_ratio, max_iter=max_iter)
        alpha = 0.0 if alpha is None else alpha

    test_features = standardized_features[test_index]
    predicted = test_features @ weights.T
    observed = standardized_targets[test_index]
    r_per_target = _pearson_per_column(predicted, observed)
    tuning_target = predicted if theta_target == "predicted" else observed
    theta_per_target = tuning_reorientation(test_features, tuning_target, weights)
    return EncodingResult(
        model=model,
        positive=positive,
        alpha=alpha,
        l1_ratio=l1_ratio,
        weights=weights,
        r_per_target=r_per_target,
        theta_per_target=theta_per_target,
        n_features_used=np.count_nonzero(weights, axis=1),
        feature_mean=feature_mean,
        feature_scale=feature_scale,
        target_mean=target_mean,
        target_scale=target_scale,
        train_index=train_index,
        validation_index=validation_index,
        test_index=test_index,
        alphas=grid,
        validation_r=validation_r,
        theta_target=theta_target,
    )



def compare(
    features_a,
    features_b,
    targets,
    *,
    names: tuple[str, str] = ("a", "b"),
    models: Sequence[str] = MODELS,
    constraints: Sequence[str] = CONSTRAINTS,
    alpha: float | None = None,
    alphas: Sequence[float] | None = None,
    l1_ratio: float | None = None,
    validation=0.2,
    test=0.2,
    seed: int = 0,
    theta_target: str = "predicted",
    max_iter: int = DEFAULT_MAX_ITER,
) -> EncodingComparison:
    """Fit every model × constraint from two feature sets to the same targets; one row per fit.

    The 003 comparison (e.g. face- vs scene-selective units predicting FFA): similar r with
    different Θ means the two feature sets reach the targets with different amounts of
    reorientation. Every fit uses the same split (drawn once from ``seed``), so rows differ
    only in features, model and constraint. ``alpha``/``alphas`` apply to the penalized models
    and ``l1_ratio`` to ElasticNet; OLS rows have alpha 0. Otherwise as :func:`fit_encoding`.

    Args:
        features_a, features_b: ``(n_samples, n_features_a)``, ``(n_samples, n_features_b)``.
        targets: ``(n_samples, n_targets)``.
        names: labels of the two feature sets in the ``features`` column.
        models: subset of ``MODELS``.
        constraints: subset of ``("unconstrained", "positive")``.
        alpha, alphas, l1_ratio, validation, test, seed, theta_target, max_iter: as in
            :func:`fit_encoding`.

    Returns:
        An :class:`EncodingComparison`, whose ``table`` is tidy, columns ``features, model,
        constraint, alpha, r, theta, n_features_used`` (r and Θ averaged over targets,
        n_features_used the mean number of non-zero weights per target), rows in the order
        features × models × constraints; ``plot()`` draws r against Θ.

    Raises:
        ValueError, RuntimeError: as :func:`fit_encoding`; errors about a feature set name it
            ``features_a`` or ``features_b``.
        ImportError: pandas or scikit-learn is not installed.

    Example:
        >>> import numpy as np
        >>> rng = np.random.default_rng(0)
        >>> aligned = rng.normal(size=(60, 4))
        >>> targets = aligned[:, :1] + 0.2 * rng.normal(size=(60, 1))
        >>> mixed = aligned @ np.linalg.qr(rng.normal(size=(4, 4)))[0]  # same information, rotated
        >>> result = compare(aligned, mixed, targets, names=("aligned", "mixed"), models=("ols", "lasso"), alpha=0.05)
        >>> table = result.table
        >>> table.shape, list(table.columns)
        ((8, 7), ['features', 'model', 'constraint', 'alpha', 'r', 'theta', 'n_features_used'])
        >>> ols = table[(table.model == "ols") & (table.constraint == "unconstrained")].set_index("features")
        >>> bool(abs(ols.r["aligned"] - ols.r["mixed"]) < 1e-9), bool(ols.theta["aligned"] < ols.theta["mixed"])
        (True, True)
    """
    pandas = require("pandas", "encoding", "the comparison table")
    sklearn_linear_model()  # fail before any work when scikit-learn is missing
    if (
        isinstance(names, str)
        or len(tuple(names)) != 2
        or not all(isinstance(n, str) for n in names)
        or names[0] == names[1]
    ):
        raise ValueError(f"names: expected two distinct strings, got {names!r}")
    models = check_choices(models, MODELS, "models")
    constraints = check_choices(constraints, CONSTRAINTS, "constraints")
    features_a, features_b, target_values = matrices(features_a=features_a, features_b=features_b, targets=targets)
    feature_sets = {"features_a": features_a, "features_b": features_b}
    split = split_samples(target_values.shape[0], validation=validation, test=test, seed=seed)
    # refuse constant columns before the first fit rather than after half the table
    for argument, feature_values in feature_sets.items():
        _training_moments(feature_values, split[0], argument)
    _training_moments(target_values, split[0], "targets")

    rows = []
    for label, (argument, feature_values) in zip(names, feature_sets.items()):
        for model in models:
            for constraint in constraints:
                penalized = model != "ols"
                result = _fit_encoding(
                    feature_values,
                    target_values,
                    argument,
                    split,
                    model=model,
                    positive=constraint == "positive",
                    alpha=alpha if penalized else None,
                    alphas=alphas if penalized and alpha is None else None,
                    l1_ratio=l1_ratio if model == "elasticnet" else None,
                    theta_target=theta_target,
                    max_iter=max_iter,
                )
                rows.append(
                    {
                        "features": label,
                        "model": model,
                        "constraint": constraint,
                        "alpha": result.alpha,
                        "r": result.r,
                        "theta": result.theta,
                        "n_features_used": float(result.n_features_used.mean()),
                    }
                )
    table = pandas.DataFrame(rows, columns=["features", "model", "constraint", "alpha", "r", "theta",
                                            "n_features_used"])
    settings = {"names": list(names), "models": list(models), "constraints": list(constraints), "alpha": alpha,
                "alphas": None if alphas is None else list(alphas), "l1_ratio": l1_ratio, "validation": validation,
                "test": test, "seed": seed, "theta_target": theta_target, "max_iter": max_iter}
    return EncodingComparison(table, settings)


@dataclass(frozen=True, eq=False)
class EncodingComparison(Result):
    """Every model × constraint fitted from two feature sets to the same targets (:func:`compare`).

    Attributes:
        table: one row per fit: ``features, model, constraint, alpha, r, theta, n_features_used``.
        options: the settings that produced it.
    """

    record_kind = "encoding_comparison"

    table: object
    options: dict

    def plot(self, ax=None):
        """Held-out r against Θ, one colour per feature set, one marker per model, filled when positive.

        The 003 reading: similar r with different Θ means the two feature sets reach the targets with
        different amounts of tuning reorientation.
        """
        plt = import_pyplot()

        if ax is None:
            _, ax = plt.subplots(figsize=(4.6, 3.6))
        palette, markers = colours(), dict(zip(MODELS, "osD^"))
        for i, (features, rows) in enumerate(self.table.groupby("features", sort=False)):
            colour = palette[i % len(palette)]
            for row in rows.itertuples(index=False):
                positive = row.constraint == "positive"
                ax.plot(row.theta, row.r, markers.get(row.model, "o"), ms=6, color=colour,
                        mfc=colour if positive else "none")
            ax.plot([], [], "s", color=colour, label=str(features))
        for model in dict.fromkeys(self.table["model"]):
            ax.plot([], [], markers.get(model, "o"), color="0.3", mfc="none", label=model)
        ax.plot([], [], "o", color="0.3", label="positive (filled)")
        ax.set_xlabel("tuning reorientation Θ")
        ax.set_ylabel("held-out r")
        ax.set_title("encoding models: predictivity against reorientation", fontsize="small")
        legend(ax, frameon=False, fontsize="x-small")
        return ax

    def _record_settings(self) -> dict:
        return self.options


def toy_problem(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    r"""The toy encoding problem of 003 (Figure 1C): 2 "images", 100 features, target [3, 2.5].

    Each feature's tuning vector over the two images is drawn from a standard normal
    distribution, scaled by 1.5 and shifted to mean −0.75: f = 1.5 z − 0.75. The single
    target's tuning vector is t = [3, 2.5]. Fitted directly (:func:`fit_weights`, no
    standardization: with 2 samples every standardized column would be ±[1, −1]).

    Args:
        seed: seed of ``numpy.random.default_rng`` for the features.

    Returns:
        ``(features, targets)`` of shapes ``(2, 100)`` and ``(2, 1)``.

    Example:
        >>> features, targets = toy_problem(seed=0)
        >>> features.shape, targets.ravel().tolist()
        ((2, 100), [3.0, 2.5])
        >>> weights = fit_weights(features, targets, model="lasso", positive=True, alpha=0.1)
        >>> int(np.count_nonzero(weights)) <= 2
        True
        >>> bool(tuning_reorientation(features, targets, weights)[0] < 0.5)
        True
    """
    rng = np.random.default_rng(seed)
    features = 1.5 * rng.standard_normal((2, 100)) - 0.75
    targets = np.array([[3.0], [2.5]])
    return features, targets

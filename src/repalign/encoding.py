r"""Encoding models (linear maps from model features to neural targets) and tuning reorientation Θ.

Prince, Conwell, Alvarez & Konkle, "A case for sparse positive alignment of neural systems"
(seed paper 003). Each target unit (a voxel, a neuron) is predicted as a weighted sum of the
model's features, fitted by OLS, Ridge, Lasso or ElasticNet, each with or without the
constraint that every weight is non-negative. Two numbers describe a fit:

- predictivity r: the Pearson correlation between predicted and observed responses of each
  target on held-out samples, averaged over targets;
- tuning reorientation Θ (003, appendix A.1): how far, weighted by the absolute encoding
  weights, the features' tuning directions are from the target's tuning direction. Θ = 0 when
  all the weight sits on features tuned exactly like the target; it grows when the map leans on
  misaligned features (and on anti-aligned features given negative weights).

Functions:

- :func:`tuning_reorientation`: Θ per target for given features, targets and weights.
- :func:`fit_weights`: fit one of the eight encoding models on the arrays as given.
- :func:`split_samples`: the seeded training / validation / test split.
- :func:`fit_encoding`: standardize on the training split, choose α on the validation split
  (or take a fixed α), fit, and score r and Θ on the test split.
- :func:`compare`: the eight models on two feature sets for the same targets, as a tidy table.
- :func:`toy_problem`: the 003 toy (2 "images", 100 features, target [3, 2.5]).

scikit-learn and pandas are optional (``pip install 'repalign[encoding]'``) and are imported
only when a model is fitted or a table is built.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch

from .inputs import _to_tensor

if TYPE_CHECKING:  # pandas is optional: imported for the annotation only
    import pandas

__all__ = [
    "MODELS",
    "CONSTRAINTS",
    "DEFAULT_ALPHAS",
    "EncodingResult",
    "tuning_reorientation",
    "fit_weights",
    "split_samples",
    "fit_encoding",
    "compare",
    "toy_problem",
]

MODELS = ("ols", "ridge", "lasso", "elasticnet")
CONSTRAINTS = ("unconstrained", "positive")
# 003 appendix A.4: 10 logarithmically spaced values from 0.01 to 10000
DEFAULT_ALPHAS = tuple(float(a) for a in np.logspace(-2, 4, 10))
THETA_TARGETS = ("predicted", "observed")
DEFAULT_L1_RATIO = 0.5  # scikit-learn's default, used in 003 appendix A.3
DEFAULT_MAX_ITER = 100_000
# scikit-learn's default tol=1e-4 stops L-BFGS-B with weight errors of ~1e-3; 1e-8 gives ~1e-5
# and stays above what float64 gradients of a few thousand samples can resolve
RIDGE_LBFGS_TOL = 1e-8
# a Pearson correlation over 2 samples is always ±1, so every held-out split needs 3
MIN_HELD_OUT_SAMPLES = 3
MIN_TRAINING_SAMPLES = 3
INSTALL_HINT = "pip install 'repalign[encoding]'"


def _import_sklearn():
    try:
        from sklearn import linear_model  # noqa: PLC0415 -- optional and slow to import
        from sklearn.exceptions import ConvergenceWarning  # noqa: PLC0415
    except ImportError as error:
        raise ImportError(f"encoding models need scikit-learn: {INSTALL_HINT}") from error
    return linear_model, ConvergenceWarning


def _import_pandas():
    try:
        import pandas  # noqa: PLC0415 -- optional
    except ImportError as error:
        raise ImportError(f"the comparison table needs pandas: {INSTALL_HINT}") from error
    return pandas


# ---- input checking -----------------------------------------------------------------------


def _as_matrix(x, name: str, layout: str = "(sample, unit)") -> np.ndarray:
    """A float64 numpy copy of a 2D numpy/torch/list input, finite and non-empty."""
    # the shared converter gives the same type/dtype messages as every measure
    tensor, _ = _to_tensor(x, name)
    values = np.array(tensor.detach().to(device="cpu", dtype=torch.float64).numpy())
    if values.ndim != 2:
        raise ValueError(
            f"{name}: expected a 2D {layout} array, got {values.ndim} dimension(s) with shape {values.shape}"
        )
    if values.size == 0:
        raise ValueError(f"{name}: empty array with shape {values.shape}")
    finite = np.isfinite(values)
    if not finite.all():
        n_nan = int(np.isnan(values).sum())
        n_inf = int((~finite).sum()) - n_nan
        raise ValueError(f"{name}: contains {n_nan} NaN and {n_inf} infinite value(s); clean or impute them first")
    return values


def _check_same_samples(arrays: dict[str, np.ndarray]) -> None:
    counts = {name: a.shape[0] for name, a in arrays.items()}
    if len(set(counts.values())) > 1:
        found = ", ".join(f"{name} has {n}" for name, n in counts.items())
        raise ValueError(f"{' and '.join(counts)} must have the same number of samples (rows): {found}")


def _list_columns(columns: np.ndarray, limit: int = 10) -> str:
    shown = ", ".join(str(int(c)) for c in columns[:limit])
    return shown + (f", ... ({len(columns)} in all)" if len(columns) > limit else "")


def _check_model(model: str, positive: bool) -> None:
    if model not in MODELS:
        raise ValueError(f"model: expected one of {', '.join(MODELS)}, got {model!r}")
    if not isinstance(positive, (bool, np.bool_)):
        raise ValueError(f"positive: expected True or False, got {positive!r}")


def _check_alpha(alpha, model: str) -> float | None:
    if alpha is None:
        return None
    if model == "ols":
        raise ValueError("alpha: ols has no penalty, so it takes no alpha; leave alpha=None")
    if isinstance(alpha, (bool, np.bool_)) or not isinstance(alpha, (int, float, np.integer, np.floating)):
        raise ValueError(f"alpha: expected a positive number or None, got {alpha!r}")
    if not math.isfinite(alpha) or alpha <= 0:
        # alpha = 0 is OLS, which has its own, exact solver
        raise ValueError(f"alpha: expected a positive finite number (use model='ols' for no penalty), got {alpha}")
    return float(alpha)


def _check_l1_ratio(l1_ratio, model: str) -> float | None:
    if model != "elasticnet":
        if l1_ratio is not None:
            raise ValueError(
                f"l1_ratio: only elasticnet mixes L1 and L2 penalties, got l1_ratio={l1_ratio} for {model}"
            )
        return None
    if l1_ratio is None:
        return DEFAULT_L1_RATIO
    if isinstance(l1_ratio, (bool, np.bool_)) or not isinstance(l1_ratio, (int, float, np.integer, np.floating)):
        raise ValueError(f"l1_ratio: expected a number in (0, 1], got {l1_ratio!r}")
    # 0 would be Ridge with a different α scaling; use model='ridge' for that
    if not 0 < l1_ratio <= 1:
        raise ValueError(f"l1_ratio: expected a number in (0, 1], got {l1_ratio}")
    return float(l1_ratio)


def _check_alphas(alphas) -> np.ndarray:
    grid = np.asarray(alphas if alphas is not None else DEFAULT_ALPHAS, dtype=np.float64)
    if grid.ndim != 1 or grid.size == 0:
        raise ValueError(f"alphas: expected a non-empty 1D sequence of positive numbers, got shape {grid.shape}")
    if not np.isfinite(grid).all() or (grid <= 0).any():
        raise ValueError(f"alphas: every value must be positive and finite, got {grid.tolist()}")
    return np.unique(grid)  # sorted, so ties go to the smallest α


def _check_max_iter(max_iter) -> int:
    if isinstance(max_iter, (bool, np.bool_)) or not isinstance(max_iter, (int, np.integer)) or max_iter < 1:
        raise ValueError(f"max_iter: expected a positive integer, got {max_iter!r}")
    return int(max_iter)


# ---- tuning reorientation -----------------------------------------------------------------


def tuning_reorientation(features, targets, weights) -> np.ndarray:
    r"""Tuning reorientation Θ of each target (003, appendix A.1).

    The columns of ``features`` are the feature tuning vectors f_i (one response per sample,
    e.g. per image), the columns of ``targets`` the target tuning vectors t, and row ``j`` of
    ``weights`` the encoding weights w_1..w_n that map the features to target ``j``:

        t_norm = t / ‖t‖
        d_i    = 1 − (f_i / ‖f_i‖) · t_norm                (cosine distance, in [0, 2])
        Θ      = Σ_i d_i |w_i| / Σ_i |w_i|                  (provided Σ_i |w_i| ≠ 0)

    Θ is the |w|-weighted mean of the cosine distances, so 0 ≤ Θ ≤ 2: Θ = 0 when all the weight
    sits on features tuned exactly like the target, Θ = 1 for orthogonal tuning, Θ = 2 for
    opposite tuning. It is invariant to the scale of the target, the scale of each feature,
    the scale and signs of the weights and to any orthogonal transform applied to the sample
    axis of both features and targets; it is *not* invariant to re-mixing the features (F → FR
    with w → wR keeps the predictions FWᵀ but changes Θ), which is what it is meant to detect.

    Args:
        features: ``(n_samples, n_features)`` array or tensor.
        targets: ``(n_samples, n_targets)`` array or tensor. In an encoding analysis 003 uses
            the model-predicted responses on the test samples (see :func:`fit_encoding`).
        weights: ``(n_targets, n_features)`` encoding weights, one row per target.

    Returns:
        float64 array of shape ``(n_targets,)``; NaN for a target whose weights are all zero
        (Θ is undefined there, per the proviso of A.1).

    Raises:
        ValueError: an input is not a finite 2D array; the sample counts differ; ``weights``
            is not ``(n_targets, n_features)``; a target tuning vector is zero while its weights
            are not (no direction to compare with); a feature tuning vector is zero while it
            carries weight.

    Example:
        >>> import numpy as np
        >>> features = np.array([[1.0, 0.0, -1.0], [0.0, 1.0, -1.0]])  # 3 features on 2 images
        >>> target = np.array([[1.0], [0.0]])
        >>> tuning_reorientation(features, target, np.array([[2.0, -1.0, 1.0]]))  # (0·2 + 1·1 + 1.707·1) / 4
        array([0.6767767])
    """
    feature_values = _as_matrix(features, "features")
    target_values = _as_matrix(targets, "targets")
    weight_values = _as_matrix(weights, "weights", layout="(target, feature)")
    _check_same_samples({"features": feature_values, "targets": target_values})
    expected = (target_values.shape[1], feature_values.shape[1])
    if weight_values.shape != expected:
        raise ValueError(
            f"weights: expected shape (n_targets, n_features) = {expected} for the given targets and features, "
            f"got {weight_values.shape}"
        )
    return _tuning_reorientation(feature_values, target_values, weight_values)


def _tuning_reorientation(features: np.ndarray, targets: np.ndarray, weights: np.ndarray) -> np.ndarray:
    absolute_weights = np.abs(weights)
    total_weight = absolute_weights.sum(axis=1)
    defined = total_weight > 0
    target_norms = np.linalg.norm(targets, axis=0)
    zero_target = (target_norms == 0) & defined
    if zero_target.any():
        raise ValueError(
            f"targets: column(s) {_list_columns(np.flatnonzero(zero_target))} are all zero but have non-zero "
            "weights; a zero tuning vector has no direction, so Θ is undefined"
        )
    feature_norms = np.linalg.norm(features, axis=0)
    zero_feature = (feature_norms == 0) & (absolute_weights > 0).any(axis=0)
    if zero_feature.any():
        raise ValueError(
            f"features: column(s) {_list_columns(np.flatnonzero(zero_feature))} are all zero but carry weight; "
            "a zero tuning vector has no direction, so Θ is undefined"
        )
    # zero vectors left here carry no weight; dividing by 1 keeps them at cosine 0 harmlessly
    unit_features = features / np.where(feature_norms > 0, feature_norms, 1.0)
    unit_targets = targets / np.where(target_norms > 0, target_norms, 1.0)
    cosine = np.clip(unit_features.T @ unit_targets, -1.0, 1.0)  # (features, targets)
    cosine_distance = 1.0 - cosine
    weighted_distance = np.einsum("ji,ij->j", absolute_weights, cosine_distance)
    theta = np.full(weights.shape[0], np.nan)
    theta[defined] = weighted_distance[defined] / total_weight[defined]
    return theta


# ---- fitting ------------------------------------------------------------------------------


def fit_weights(
    features,
    targets,
    *,
    model: str = "ols",
    positive: bool = False,
    alpha: float | None = None,
    l1_ratio: float | None = None,
    max_iter: int = DEFAULT_MAX_ITER,
) -> np.ndarray:
    r"""Fit an encoding model on the arrays as given, through the origin, one target at a time.

    For each target column y (n samples) and the feature matrix X (n × p), with scikit-learn's
    scaling of each objective:

        ols         min_w ‖y − Xw‖²                          (minimum-norm solution if p > n)
        ridge       min_w ‖y − Xw‖² + α‖w‖²
        lasso       min_w ‖y − Xw‖² / (2n) + α‖w‖₁
        elasticnet  min_w ‖y − Xw‖² / (2n) + α ρ ‖w‖₁ + α (1 − ρ) ‖w‖² / 2     (ρ = l1_ratio)

    and with ``positive=True`` each subject to w ≥ 0 (OLS then is non-negative least squares).
    No intercept and no standardization: :func:`fit_encoding` standardizes first (after
    which the intercept is exactly zero), and the 003 toy fits the raw tuning vectors.
    Deterministic: there are no random choices.

    Args:
        features: ``(n_samples, n_features)`` array or tensor.
        targets: ``(n_samples, n_targets)`` array or tensor.
        model: ``"ols"``, ``"ridge"``, ``"lasso"`` or ``"elasticnet"``.
        positive: constrain every weight to be non-negative.
        alpha: penalty strength, required (> 0) for the penalized models, None for ``"ols"``.
        l1_ratio: ρ for ``"elasticnet"`` (default 0.5, as in 003); None for the other models.
        max_iter: iteration limit of coordinate descent (Lasso, ElasticNet, scikit-learn's
            duality-gap tolerance) and of L-BFGS-B (positive Ridge, run to tol 1e-8).

    Returns:
        float64 array of shape ``(n_targets, n_features)``.

    Raises:
        ValueError: bad inputs or parameters (the message names the argument).
        RuntimeError: the solver did not converge within ``max_iter`` (no weights are returned).
        ImportError: scikit-learn is not installed.

    Example:
        >>> import numpy as np
        >>> features = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
        >>> targets = np.array([[2.0], [-1.0], [1.0]])
        >>> fit_weights(features, targets, model="ols").round(6)
        array([[ 2., -1.]])
        >>> fit_weights(features, targets, model="ols", positive=True).round(6)
        array([[1.5, 0. ]])
    """
    feature_values = _as_matrix(features, "features")
    target_values = _as_matrix(targets, "targets")
    _check_same_samples({"features": feature_values, "targets": target_values})
    _check_model(model, positive)
    alpha = _check_alpha(alpha, model)
    if model != "ols" and alpha is None:
        raise ValueError(f"alpha: {model} needs a penalty strength alpha > 0, got None")
    l1_ratio = _check_l1_ratio(l1_ratio, model)
    max_iter = _check_max_iter(max_iter)
    return _fit(feature_values, target_values, model, bool(positive), alpha, l1_ratio, max_iter)


def _fit(
    features: np.ndarray,
    targets: np.ndarray,
    model: str,
    positive: bool,
    alpha: float | None,
    l1_ratio: float | None,
    max_iter: int,
) -> np.ndarray:
    linear_model, convergence_warning = _import_sklearn()
    if model == "ols":
        estimator = linear_model.LinearRegression(fit_intercept=False, positive=positive)
    elif model == "ridge":
        if positive:  # scikit-learn's only Ridge solver that supports positive=True is lbfgs
            estimator = linear_model.Ridge(
                alpha=alpha, fit_intercept=False, positive=True, solver="lbfgs", max_iter=max_iter, tol=RIDGE_LBFGS_TOL
            )
        else:  # exact (Cholesky) solution; no iterations
            estimator = linear_model.Ridge(alpha=alpha, fit_intercept=False)
    elif model == "lasso":
        estimator = linear_model.Lasso(alpha=alpha, fit_intercept=False, positive=positive, max_iter=max_iter)
    else:
        estimator = linear_model.ElasticNet(
            alpha=alpha, l1_ratio=l1_ratio, fit_intercept=False, positive=positive, max_iter=max_iter
        )
    # every objective separates over targets (Lasso/ElasticNet with a 2D y are not the
    # multi-task variants), so one call fits each target on its own
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        estimator.fit(features, targets)
    not_converged = [w for w in caught if issubclass(w.category, convergence_warning)]
    if not_converged:
        penalty = "" if alpha is None else f", alpha={alpha:g}"
        raise RuntimeError(
            f"{model} (positive={positive}{penalty}) did not converge within max_iter={max_iter}: "
            f"{not_converged[0].message}. Raise max_iter, or use larger alphas; no weights are returned"
        )
    for w in caught:  # anything else is the caller's business: pass it on under their filters
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return np.array(estimator.coef_, dtype=np.float64).reshape(targets.shape[1], features.shape[1])


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


# ---- splits -------------------------------------------------------------------------------


def _held_out(spec, name: str, n_samples: int, available: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    how = (
        f"{name}: expected a fraction in (0, 1), a number of samples or a sequence of sample indices, got "
    )
    if isinstance(spec, (bool, np.bool_)):
        raise ValueError(how + repr(spec))
    if isinstance(spec, (float, np.floating, int, np.integer)):
        if isinstance(spec, (float, np.floating)):
            if not 0 < spec < 1:
                raise ValueError(how + repr(spec))
            # rounded up as in scikit-learn's train_test_split; the round() keeps 0.7 * 10 at 7
            count = math.ceil(round(spec * n_samples, 9))
            described = f"{name}={spec} of {n_samples} samples gives {count}"
        else:
            count = int(spec)
            described = f"{name}={count}"
        if count < MIN_HELD_OUT_SAMPLES:
            raise ValueError(
                f"{name}: needs at least {MIN_HELD_OUT_SAMPLES} samples for a Pearson correlation, {described}"
            )
        if count > available.size:
            raise ValueError(f"{name}: asks for {count} samples but only {available.size} are left to draw from")
        return np.sort(rng.permutation(available)[:count])
    indices = np.asarray(spec)
    if indices.ndim != 1 or indices.dtype.kind not in "iu":
        raise ValueError(how + f"an array of dtype {indices.dtype} and shape {indices.shape}")
    if indices.size < MIN_HELD_OUT_SAMPLES:
        raise ValueError(
            f"{name}: needs at least {MIN_HELD_OUT_SAMPLES} samples for a Pearson correlation, "
            f"got {indices.size} indices"
        )
    if indices.min() < 0 or indices.max() >= n_samples:
        raise ValueError(
            f"{name}: indices must lie in [0, {n_samples}), got values from {indices.min()} to {indices.max()}"
        )
    if np.unique(indices).size != indices.size:
        raise ValueError(f"{name}: indices must not repeat")
    taken = np.setdiff1d(indices, available)
    if taken.size:
        raise ValueError(f"{name}: indices {_list_columns(taken)} are already in the test split")
    return np.sort(indices.astype(np.int64))


def split_samples(
    n_samples: int, *, validation=0.2, test=0.2, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Split sample indices into training, validation and test sets.

    ``test`` and ``validation`` are each a fraction of all samples (rounded up), a number of
    samples, or explicit indices; ``validation=None`` makes no validation split. The test set
    is drawn first, then the validation set from the rest; the remaining samples train. The
    split depends only on these arguments and ``seed``, never on the model, so models fitted
    with the same arguments see the same samples.

    Args:
        n_samples: number of samples.
        validation: fraction, count, indices or None.
        test: fraction, count or indices.
        seed: seed of the random draw (``numpy.random.default_rng``).

    Returns:
        ``(train, validation, test)`` sorted int64 index arrays (``validation`` may be empty).

    Raises:
        ValueError: a held-out set would have fewer than 3 samples, indices are out of range,
            repeated or overlap, or fewer than 3 samples are left for training.

    Example:
        >>> train, validation, test = split_samples(10, validation=0.3, test=0.3, seed=0)
        >>> len(train), len(validation), len(test)
        (4, 3, 3)
        >>> sorted(np.concatenate([train, validation, test]).tolist()) == list(range(10))
        True
    """
    if isinstance(n_samples, (bool, np.bool_)) or not isinstance(n_samples, (int, np.integer)) or n_samples < 1:
        raise ValueError(f"n_samples: expected a positive integer, got {n_samples!r}")
    rng = np.random.default_rng(seed)
    everything = np.arange(n_samples)
    test_index = _held_out(test, "test", n_samples, everything, rng)
    rest = np.setdiff1d(everything, test_index)
    if validation is None:
        validation_index = np.empty(0, dtype=np.int64)
    else:
        validation_index = _held_out(validation, "validation", n_samples, rest, rng)
    train_index = np.setdiff1d(rest, validation_index)
    if train_index.size < MIN_TRAINING_SAMPLES:
        raise ValueError(
            f"too few samples for the splits: {n_samples} samples, {test_index.size} test and "
            f"{validation_index.size} validation leave {train_index.size} for training "
            f"(at least {MIN_TRAINING_SAMPLES} needed); use smaller test/validation fractions or more samples"
        )
    return train_index.astype(np.int64), validation_index.astype(np.int64), test_index.astype(np.int64)


# ---- encoding analysis --------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class EncodingResult:
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

    def predict(self, features) -> np.ndarray:
        """Predicted responses, in the original target units, for ``(n_samples, n_features)`` features."""
        values = _as_matrix(features, "features")
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
            f"{name}: column(s) {_list_columns(constant)} are constant on the {train_index.size} training samples, "
            "so standardizing them would divide by zero; drop them (e.g. dead units) before fitting"
        )
    return training.mean(axis=0), training.std(axis=0)


def _check_varies(values: np.ndarray, index: np.ndarray, name: str, split: str) -> None:
    constant = np.flatnonzero(np.ptp(values[index], axis=0) == 0)
    if constant.size:
        raise ValueError(
            f"{name}: column(s) {_list_columns(constant)} are constant on the {index.size} {split} samples, "
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
    feature_values = _as_matrix(features, "features")
    target_values = _as_matrix(targets, "targets")
    _check_same_samples({"features": feature_values, "targets": target_values})
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
    _check_model(model, positive)
    positive = bool(positive)
    alpha = _check_alpha(alpha, model)
    l1_ratio = _check_l1_ratio(l1_ratio, model)
    max_iter = _check_max_iter(max_iter)
    if theta_target not in THETA_TARGETS:
        raise ValueError(f"theta_target: expected one of {', '.join(THETA_TARGETS)}, got {theta_target!r}")
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
        grid = _check_alphas(alphas)
        fitted = [_fit(train_features, train_targets, model, positive, a, l1_ratio, max_iter) for a in grid]
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
        weights = _fit(train_features, train_targets, model, positive, alpha, l1_ratio, max_iter)
        alpha = 0.0 if alpha is None else alpha

    test_features = standardized_features[test_index]
    predicted = test_features @ weights.T
    observed = standardized_targets[test_index]
    r_per_target = _pearson_per_column(predicted, observed)
    tuning_target = predicted if theta_target == "predicted" else observed
    theta_per_target = _tuning_reorientation(test_features, tuning_target, weights)
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


def _check_choices(values, allowed: tuple[str, ...], name: str) -> tuple[str, ...]:
    if isinstance(values, str):
        values = (values,)
    values = tuple(values)
    unknown = [v for v in values if v not in allowed]
    if not values or unknown or len(set(values)) != len(values):
        raise ValueError(f"{name}: expected distinct values among {', '.join(allowed)}, got {list(values)}")
    return values


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
) -> pandas.DataFrame:
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
        pandas DataFrame in tidy form, columns ``features, model, constraint, alpha, r, theta,
        n_features_used`` (r and Θ averaged over targets, n_features_used the mean number of
        non-zero weights per target), rows in the order features × models × constraints.

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
        >>> table = compare(aligned, mixed, targets, names=("aligned", "mixed"), models=("ols", "lasso"), alpha=0.05)
        >>> table.shape, list(table.columns)
        ((8, 7), ['features', 'model', 'constraint', 'alpha', 'r', 'theta', 'n_features_used'])
        >>> ols = table[(table.model == "ols") & (table.constraint == "unconstrained")].set_index("features")
        >>> bool(abs(ols.r["aligned"] - ols.r["mixed"]) < 1e-9), bool(ols.theta["aligned"] < ols.theta["mixed"])
        (True, True)
    """
    pandas = _import_pandas()
    _import_sklearn()  # fail before any work when scikit-learn is missing
    if (
        isinstance(names, str)
        or len(tuple(names)) != 2
        or not all(isinstance(n, str) for n in names)
        or names[0] == names[1]
    ):
        raise ValueError(f"names: expected two distinct strings, got {names!r}")
    models = _check_choices(models, MODELS, "models")
    constraints = _check_choices(constraints, CONSTRAINTS, "constraints")
    feature_sets = {
        "features_a": _as_matrix(features_a, "features_a"),
        "features_b": _as_matrix(features_b, "features_b"),
    }
    target_values = _as_matrix(targets, "targets")
    _check_same_samples({**feature_sets, "targets": target_values})
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
    return pandas.DataFrame(rows, columns=["features", "model", "constraint", "alpha", "r", "theta", "n_features_used"])


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

r"""Encoding weights (:func:`fit_weights`) and the tuning reorientation Θ they imply (:func:`tuning_reorientation`)."""

from __future__ import annotations

import warnings

import numpy as np

from ._common import (
    DEFAULT_MAX_ITER,
    RIDGE_LBFGS_TOL,
    check_alpha,
    check_l1_ratio,
    check_max_iter,
    check_model,
    list_columns,
    matrices,
    sklearn_linear_model,
)

__all__ = ["tuning_reorientation", "fit_weights"]


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
    feature_values, target_values, weight_values = matrices(features=features, targets=targets, weights=weights)
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
            f"targets: column(s) {list_columns(np.flatnonzero(zero_target))} are all zero but have non-zero "
            "weights; a zero tuning vector has no direction, so Θ is undefined"
        )
    feature_norms = np.linalg.norm(features, axis=0)
    zero_feature = (feature_norms == 0) & (absolute_weights > 0).any(axis=0)
    if zero_feature.any():
        raise ValueError(
            f"features: column(s) {list_columns(np.flatnonzero(zero_feature))} are all zero but carry weight; "
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
    feature_values, target_values = matrices(features=features, targets=targets)
    positive = check_model(model, positive)
    alpha = check_alpha(alpha, model)
    if model != "ols" and alpha is None:
        raise ValueError(f"alpha: {model} needs a penalty strength alpha > 0, got None")
    l1_ratio = check_l1_ratio(l1_ratio, model)
    max_iter = check_max_iter(max_iter)
    return _fit(feature_values, target_values, model, positive, alpha, l1_ratio, max_iter)


def _fit(
    features: np.ndarray,
    targets: np.ndarray,
    model: str,
    positive: bool,
    alpha: float | None,
    l1_ratio: float | None,
    max_iter: int,
) -> np.ndarray:
    linear_model, convergence_warning = sklearn_linear_model()
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


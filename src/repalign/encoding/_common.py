"""Argument checks shared by the encoding modules (built on :mod:`repalign._checks` and :mod:`repalign.inputs`)."""

from __future__ import annotations

import numpy as np

from .._checks import SettingsError, check_bool, check_choice, check_count, check_real
from .._optional import require
from ..inputs import as_matrix

__all__ = ["MODELS", "CONSTRAINTS", "DEFAULT_ALPHAS", "THETA_TARGETS", "DEFAULT_L1_RATIO", "DEFAULT_MAX_ITER",
           "matrices", "list_columns", "check_model", "check_alpha", "check_l1_ratio", "check_alphas",
           "check_max_iter", "check_choices", "sklearn_linear_model", "RIDGE_LBFGS_TOL"]

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


def sklearn_linear_model():
    """scikit-learn's ``linear_model`` and its ``ConvergenceWarning`` (optional, slow to import)."""
    linear_model = require("sklearn.linear_model", "encoding", "encoding models")
    exceptions = require("sklearn.exceptions", "encoding", "encoding models")
    return linear_model, exceptions.ConvergenceWarning


def matrices(**arrays) -> list[np.ndarray]:
    """Each keyword argument as a checked float64 2-D array (:func:`repalign.inputs.as_matrix`), with
    the same number of rows."""
    values = [as_matrix(value, name, layout="(target, feature)" if name == "weights" else "(sample, unit)")
              for name, value in arrays.items()]
    counts = {name: v.shape[0] for name, v in zip(arrays, values) if name != "weights"}
    if len(set(counts.values())) > 1:
        found = ", ".join(f"{name} has {n}" for name, n in counts.items())
        raise ValueError(f"{' and '.join(counts)} must have the same number of samples (rows): {found}")
    return values


def list_columns(columns: np.ndarray, limit: int = 10) -> str:
    shown = ", ".join(str(int(c)) for c in columns[:limit])
    return shown + (f", ... ({len(columns)} in all)" if len(columns) > limit else "")


def check_model(model: str, positive: bool) -> bool:
    """Check the model's name and constraint; returns ``positive`` as a bool."""
    check_choice(model, "model", MODELS)
    return check_bool(positive, "positive")


def check_alpha(alpha, model: str) -> float | None:
    if alpha is None:
        return None
    if model == "ols":
        raise ValueError("alpha: ols has no penalty, so it takes no alpha; leave alpha=None")
    if isinstance(alpha, (int, float, np.integer, np.floating)) and alpha == 0:
        # alpha = 0 is OLS, which has its own, exact solver
        raise SettingsError("alpha", "expected a positive number; use model='ols' for no penalty")
    return check_real(alpha, "alpha", low=0.0, inclusive=(False, True))


def check_l1_ratio(l1_ratio, model: str) -> float | None:
    if model != "elasticnet":
        if l1_ratio is not None:
            raise ValueError(
                f"l1_ratio: only elasticnet mixes L1 and L2 penalties, got l1_ratio={l1_ratio} for {model}"
            )
        return None
    if l1_ratio is None:
        return DEFAULT_L1_RATIO
    # 0 would be Ridge with a different α scaling; use model='ridge' for that
    return check_real(l1_ratio, "l1_ratio", low=0.0, high=1.0, inclusive=(False, True))


def check_alphas(alphas) -> np.ndarray:
    grid = np.asarray(alphas if alphas is not None else DEFAULT_ALPHAS, dtype=np.float64)
    if grid.ndim != 1 or grid.size == 0:
        raise ValueError(f"alphas: expected a non-empty 1D sequence of positive numbers, got shape {grid.shape}")
    if not np.isfinite(grid).all() or (grid <= 0).any():
        raise ValueError(f"alphas: every value must be positive and finite, got {grid.tolist()}")
    return np.unique(grid)  # sorted, so ties go to the smallest α


def check_max_iter(max_iter) -> int:
    return check_count(max_iter, "max_iter", 1)


def check_choices(values, allowed: tuple[str, ...], name: str) -> tuple[str, ...]:
    if isinstance(values, str):
        values = (values,)
    values = tuple(values)
    unknown = [v for v in values if v not in allowed]
    if not values or unknown or len(set(values)) != len(values):
        raise ValueError(f"{name}: expected distinct values among {', '.join(allowed)}, got {list(values)}")
    return values


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
  (or take a fixed α), fit, and score r and Θ on the test split (an :class:`EncodingResult`).
- :func:`compare`: the eight models on two feature sets for the same targets (an
  :class:`EncodingComparison`: tidy table, r against Θ plot).
- :func:`toy_problem`: the 003 toy (2 "images", 100 features, target [3, 2.5]).

Modules: :mod:`~repalign.encoding.models` (weights and Θ), :mod:`~repalign.encoding.splits`,
:mod:`~repalign.encoding.analysis` (fitted models and comparisons).

scikit-learn and pandas are optional (``pip install 'repalign[encoding]'``) and are imported
only when a model is fitted or a table is built.
"""

from ._common import CONSTRAINTS, DEFAULT_ALPHAS, MODELS
from .analysis import EncodingComparison, EncodingResult, compare, fit_encoding, toy_problem
from .models import fit_weights, tuning_reorientation
from .splits import split_samples

__all__ = [
    "MODELS",
    "CONSTRAINTS",
    "DEFAULT_ALPHAS",
    "EncodingResult",
    "EncodingComparison",
    "tuning_reorientation",
    "fit_weights",
    "split_samples",
    "fit_encoding",
    "compare",
    "toy_problem",
]

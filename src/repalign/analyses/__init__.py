r"""What optimized data learns as its score rises: the seed paper's Figures 3, 4 and 5.

The seed paper (Cloos et al., sections 4.1–4.2, appendix B.2) optimizes Gaussian noise ``Y``
towards a reference ``X`` (:func:`repalign.optimize`) and, along the way, tracks how well ``Y``
captures each principal component of ``X`` (:class:`~repalign.trackers.PCCapture`) and how well
task variables can be decoded from it (:class:`~repalign.trackers.Decoding`). This module turns
those trajectories into the paper's summaries:

- :func:`capture_thresholds` — the measure's value at which each PC is captured (Fig. 5a,b): for
  PC i with recorded values :math:`R^2_i(t)`, the seed paper's crossing point
  :math:`\theta_i = \tfrac12\bigl(R^2_i(0) + 1\bigr)`, halfway to a perfect fit, and the value
  there read from the recorded (R², value) points sorted by R² and linearly interpolated, as the
  seed code's ``interp1d``; a PC whose R² never reaches :math:`\theta_i` is not captured (NaN).
  ``rule="run-max"`` is repalign 0.1's rule, halfway to the run's maximum R². :func:`pc_capture`
  runs the whole experiment, on the data and on its matched Gaussian
  (:func:`~repalign.data.gaussian_like`, Fig. 5e); the result's ``plot()`` draws the value against
  the PC's explained variance.
- :func:`decoding_thresholds` — decoding accuracy against score (Fig. 3a,b): for each variable
  the score at which the accuracy first reaches
  :math:`\text{chance} + f\,(\text{reference} - \text{chance})` (``f = 0.9``); the result's
  ``plot()`` draws the curves.
- :func:`topk_decoding` — decoding from the reference projected on its top k PCs (Fig. 3c,d).
- :func:`variance_sweep` — the two-PC reference of Fig. 4a with a shrinking second PC (Fig. 4d,e):
  when is PC 2 captured, per measure and variance ratio.

Every function returns a :class:`~repalign.results.Result` (``.table``, ``.plot()``,
``.save(path)``, ``.record()``): :class:`CaptureThresholds`, :class:`DecodingThresholds`,
:class:`TopKDecoding`, :class:`VarianceSweep`. Modules: :mod:`~repalign.analyses.capture`,
:mod:`~repalign.analyses.decoding`, :mod:`~repalign.analyses.sweep`. The ``plot_*`` functions,
``sweep_thresholds``, ``save`` and ``label`` of repalign 0.1 remain until 0.3 as deprecated aliases.
"""


from .._version import deprecated
from ..registry import short_name
from ..results import save_figure, table_of
from ._common import trajectory_frame
from .capture import PAPER_MEASURES, CaptureThresholds, capture_thresholds, pc_capture
from .decoding import DecodingThresholds, TopKDecoding, decoding_thresholds, topk_decoding
from .sweep import VarianceSweep, variance_sweep

__all__ = [
    "capture_thresholds", "pc_capture", "CaptureThresholds", "decoding_thresholds", "DecodingThresholds",
    "topk_decoding", "TopKDecoding", "variance_sweep", "VarianceSweep", "PAPER_MEASURES",
]


# -- deprecated aliases of repalign 0.1 (removed in 0.3) ------------------------------------------------------


def label(name: str) -> str:
    """Deprecated: :func:`repalign.registry.short_name`."""
    deprecated("repalign.analyses.label", "repalign.registry.short_name")
    return short_name(name)


def plot_pc_capture(table, ax=None):
    """Deprecated: ``capture_thresholds(...).plot()`` / ``pc_capture(...).plot()``."""
    deprecated("repalign.analyses.plot_pc_capture", "the result's .plot()")
    return CaptureThresholds(table_of(table)).plot(ax)


def plot_capture_curves(result, *, n_pcs=None, measure=None, run=None, ax=None):
    """Deprecated: ``capture_thresholds(...).plot_curves()``."""
    deprecated("repalign.analyses.plot_capture_curves", "capture_thresholds(...).plot_curves()")
    return CaptureThresholds(None, trajectory_frame(result)).plot_curves(ax, n_pcs=n_pcs, measure=measure, run=run)


def plot_decoding(result, thresholds=None, *, baselines=None, axes=None):
    """Deprecated: ``decoding_thresholds(...).plot(baselines=...)``."""
    deprecated("repalign.analyses.plot_decoding", "decoding_thresholds(...).plot()")
    thresholds = None if thresholds is None else table_of(thresholds)
    return DecodingThresholds(thresholds, trajectory_frame(result)).plot(axes, baselines=baselines)


def plot_topk_decoding(table, ax=None):
    """Deprecated: ``topk_decoding(...).plot()``."""
    deprecated("repalign.analyses.plot_topk_decoding", "topk_decoding(...).plot()")
    return TopKDecoding(table_of(table)).plot(ax)


def sweep_thresholds(table, *, rule: str = "half", min_gain: float | None = None):
    """Deprecated: ``variance_sweep(...).thresholds(rule=..., min_gain=...).table``."""
    deprecated("repalign.analyses.sweep_thresholds", "variance_sweep(...).thresholds()")
    return VarianceSweep(table_of(table)).thresholds(rule=rule, min_gain=min_gain).table


def plot_variance_sweep(table, axes=None):
    """Deprecated: ``variance_sweep(...).plot()``."""
    deprecated("repalign.analyses.plot_variance_sweep", "variance_sweep(...).plot()")
    return VarianceSweep(table_of(table)).plot(axes)


def save(ax, table, path) -> list[str]:
    """Deprecated: the result's ``.save(path)`` (or :func:`repalign.results.save_figure`)."""
    deprecated("repalign.analyses.save", "the result's .save(path)")
    return save_figure(ax, table_of(table), path)

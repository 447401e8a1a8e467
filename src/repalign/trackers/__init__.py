r"""Trackers for :func:`repalign.optimize`: what the optimized data have learned at each recorded step.

The seed paper (Cloos et al., appendix B.2) follows two things while noise ``Y`` is optimized
towards a reference ``X``: how well ``Y`` captures each principal component of ``X``, and how well
the task variables can be linearly decoded from ``Y``. Both are trackers in the sense of
:func:`repalign.optimize`: callables ``tracker(reference, Y) -> {column: (batch,) tensor}``, called
without gradient on the stack ``Y`` of shape ``(batch, *reference_shape)`` (the unit count may
differ from the reference's), one value per run.

- :class:`PCCapture` — for each principal component :math:`v_i` of the reference,

  .. math::

      R^2_i = 1 - \frac{\|(\bar X - \hat X) v_i\|^2}{\|\bar X v_i\|^2},
      \qquad \hat X = \bar Y \hat B, \quad
      \hat B = \operatorname*{argmin}_B \|\bar X - \bar Y B\|_F^2 + \lambda \|B\|_F^2,

  bars meaning centred columns; columns ``pc1_r2 … pcK_r2``. Optionally ridge (λ) and K-fold
  cross-validation across conditions.
- :class:`Decoding` — L2-regularized logistic regression decoding each task variable from the
  activity at each time bin, stratified K-fold cross-validation across conditions, held-out
  accuracy averaged over folds and time bins; columns ``decode_<variable>``. Every
  (run × time bin × fold × variable) problem is solved at once by a batched Newton method in
  torch, in a space of at most (training conditions) features, instead of thousands of
  separate fits.

Both have a method ``settings()`` (plain values: PCs, ridge, folds, seed, variables, a digest of the
reference or of the labels), which :func:`repalign.optimize` records in its checkpoints: a resume
with a tracker set up differently is refused, listing the differences.

Modules: :mod:`~repalign.trackers.pc_capture` and :mod:`~repalign.trackers.decoding` (with its
batched logistic solver, :mod:`~repalign.trackers.logistic`).

Examples:
    >>> import numpy as np, torch
    >>> from repalign.trackers import PCCapture
    >>> X = np.random.default_rng(0).normal(size=(60, 5)) * [4.0, 3.0, 2.0, 1.0, 0.5]
    >>> pc = PCCapture(X, n_pcs=3)
    >>> Y = torch.as_tensor(X)[None, :, :2]          # a run holding the first two units of X
    >>> [round(float(v[0]), 2) for v in pc(X, Y).values()]
    [1.0, 0.99, 0.01]
"""

from .decoding import DEFAULT_FOLDS, Decoding, stratified_folds
from .pc_capture import PCCapture

__all__ = ["PCCapture", "Decoding", "stratified_folds", "DEFAULT_FOLDS"]

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

Example:
    >>> import numpy as np, torch
    >>> from repalign.trackers import PCCapture
    >>> X = np.random.default_rng(0).normal(size=(60, 5)) * [4.0, 3.0, 2.0, 1.0, 0.5]
    >>> pc = PCCapture(X, n_pcs=3)
    >>> Y = torch.as_tensor(X)[None, :, :2]          # a run holding the first two units of X
    >>> [round(float(v[0]), 2) for v in pc(X, Y).values()]
    [1.0, 0.99, 0.01]
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence

import numpy as np
import torch

from .inputs import Data, as_data, check_same_samples
from .measures._common import center, reduce_units

__all__ = ["PCCapture", "Decoding", "stratified_folds"]

# memory budget (bytes) of the largest intermediate tensors of one Decoding chunk
_CHUNK_BYTES = 1 << 26
_ARMIJO = 1e-4  # sufficient-decrease constant of the Newton line search
_MAX_HALVINGS = 40
_MAX_DOUBLINGS = 2


# -- arguments ---------------------------------------------------------------------------------------------------


def _check_int(value, name: str, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        raise ValueError(f"{name}: expected an integer >= {low}, got {value!r}")
    return int(value)


def _check_nonnegative(value, name: str, *, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValueError(f"{name}: expected a finite number, got {value!r}")
    if value < 0 or (positive and value == 0):
        raise ValueError(f"{name}: expected a {'positive' if positive else 'non-negative'} number, got {value!r}")
    return float(value)


def _check_seed(seed) -> int:
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or not 0 <= seed < 2**63:
        raise ValueError(f"seed: expected a non-negative integer, got {seed!r}")
    return int(seed)


def _unwrap_dataset(x):
    """The activity of a Dataset, or x itself."""
    from .datasets import Dataset  # noqa: PLC0415 -- datasets is an analysis module, loaded when used

    return x.activity if isinstance(x, Dataset) else x


def _layout(data: Data) -> Data:
    """The samples layout of ``data`` without its values (for :func:`check_same_samples`)."""
    return Data(torch.empty(data.n_samples, 0), data.name, data.n_conditions, data.n_time)


# -- PC capture --------------------------------------------------------------------------------------------------


def _rank_tolerance(dtype: torch.dtype, n: int, q: int) -> float:
    return max(n, q) * torch.finfo(dtype).eps


def _ill_conditioned(r: torch.Tensor) -> torch.Tensor:
    """Items whose triangular factor R has a diagonal entry below √eps times its largest.

    Without pivoting, R's diagonal does not reveal a numerical rank: an exactly rank-deficient
    matrix can leave a last entry ~1e-11 instead of ~1e-16 (relative), so the test is loose and
    the SVD, which does reveal it, decides for the items it flags.
    """
    diag = r.diagonal(dim1=-2, dim2=-1).abs()
    return (diag <= math.sqrt(torch.finfo(r.dtype).eps) * diag.amax(dim=-1, keepdim=True)).any(dim=-1)


def _column_basis(P: torch.Tensor) -> torch.Tensor:
    """Orthonormal basis of the column space of each ``P`` (batch, n, q), q <= n, rank-aware.

    Householder QR (backward stable) unless :func:`_ill_conditioned` flags the item: those use the
    SVD, keeping the singular vectors with σ > ``max(n, q)·eps·σ_max`` (numpy's ``matrix_rank``
    rule); dropped ones are zero columns.
    """
    n, q = P.shape[-2], P.shape[-1]
    tol = _rank_tolerance(P.dtype, n, q)
    basis, r = torch.linalg.qr(P, mode="reduced")
    deficient = _ill_conditioned(r)
    if bool(deficient.any()):
        u, s, _ = torch.linalg.svd(P[deficient], full_matrices=False)
        keep = s > tol * s.amax(dim=-1, keepdim=True)
        basis = basis.clone()
        basis[deficient] = u * keep.unsqueeze(-2).to(u.dtype)
    return basis


def _ridge_coefficients(P: torch.Tensor, T: torch.Tensor, lam: float) -> torch.Tensor:
    r"""``B = argmin ‖T − P B‖² + λ‖B‖²`` for each ``P`` (batch, n, q); ``T`` (n, K) or (batch, n, K).

    λ > 0: Cholesky of ``PᵀP + λI``. λ = 0 with q <= n: QR, ``B = R⁻¹QᵀT``. Items whose factorization
    fails or is numerically rank-deficient (and λ = 0 with q > n) use the SVD,
    ``B = V diag(σ/(σ² + λ)) UᵀT`` over the kept singular values (the minimum-norm solution for λ = 0).
    """
    n, q = P.shape[-2], P.shape[-1]
    T = T.expand(P.shape[0], *T.shape[-2:]) if T.ndim == 2 else T
    tol = _rank_tolerance(P.dtype, n, q)
    B = torch.zeros(P.shape[0], q, T.shape[-1], dtype=P.dtype, device=P.device)
    bad = torch.ones(P.shape[0], dtype=torch.bool, device=P.device)
    if lam > 0:
        gram = P.mT @ P
        gram.diagonal(dim1=-2, dim2=-1).add_(lam)
        factor, info = torch.linalg.cholesky_ex(gram)
        bad = info != 0
        B = torch.cholesky_solve(P.mT @ T, factor)
    elif q <= n:
        basis, r = torch.linalg.qr(P, mode="reduced")
        bad = _ill_conditioned(r)
        safe_r = r + torch.diag_embed(bad[:, None].to(r.dtype).expand(-1, q))  # never divides by 0
        B = torch.linalg.solve_triangular(safe_r, basis.mT @ T, upper=True)
    if bool(bad.any()):
        u, s, vh = torch.linalg.svd(P[bad], full_matrices=False)
        keep = s > tol * s.amax(dim=-1, keepdim=True)
        scale = torch.where(keep, s / (s.square() + lam).clamp_min(torch.finfo(s.dtype).tiny), torch.zeros_like(s))
        B = B.clone()
        B[bad] = vh.mT @ (scale.unsqueeze(-1) * (u.mT @ T[bad]))
    return B


class PCCapture:
    r"""How well each principal component of the reference is captured by linear regression from ``Y``.

    The seed paper's appendix B.2. With :math:`\bar X` the reference flattened to ``(n, p)`` =
    ``(time·condition, unit)`` and centred, its PCs :math:`\bar X = \sum_i s_i u_i v_i^\top`
    (SVD, :math:`s_1 \ge s_2 \ge …`), and :math:`\bar Y` a run centred likewise, for i = 1 … K:

    .. math::

        R^2_i = 1 - \frac{\|(\bar X - \hat X) v_i\|^2}{\|\bar X v_i\|^2}
              = 1 - \|u_i - H u_i\|^2,
        \qquad \hat X = H \bar X,

    where :math:`H` is the linear map that (ridge) regression from :math:`\bar Y` applies to any
    target: least squares is linear in its target, so :math:`\hat X v_i` is the prediction of the
    PC's scores :math:`\bar X v_i = s_i u_i` and :math:`s_i` cancels. Hence

    - in-sample OLS (``ridge=0``, ``cv=None``): :math:`R^2_i = \|P_{\bar Y} u_i\|^2 = \|Q^\top u_i\|^2`,
      with :math:`Q` an orthonormal basis of the column space of :math:`\bar Y` (Householder QR;
      the SVD with numpy's rank rule when :math:`\bar Y` is numerically rank-deficient, and ``Y``
      with more units than samples first reduced exactly to ``n`` columns). Between 0 and 1;
      ``Y`` spanning :math:`u_i` gives exactly 1.
    - ridge (``ridge=λ > 0``; λ absolute, on the unnormalized Gram :math:`\bar Y^\top\bar Y`, as in
      the ``ridge`` measure): :math:`\hat X = \bar Y(\bar Y^\top \bar Y + \lambda I)^{-1}\bar Y^\top \bar X`
      (Cholesky, SVD fallback), :math:`R^2_i = 1 - \|u_i - \hat X v_i / s_i\|^2 \le` the OLS value.
    - cross-validated (``cv=k``): conditions are assigned at random (``seed``) to ``k`` folds of
      sizes differing by at most one (for 2D data each row is a condition); every time bin of a
      held-out condition is held out. Each fold's model is fitted on the training rows, both sides
      centred with the training means, and predicts the held-out rows; the pooled out-of-fold
      residuals give :math:`R^2_i = 1 - \sum_f \|(X_f - \hat X_f)v_i\|^2 / \|\bar X v_i\|^2` (can be
      negative). With λ = 0 and more units than training rows the minimum-norm solution is used.

    Only the K target columns :math:`u_i` are regressed (never the whole reference), all runs of the
    batch at once, in float64 on ``Y``'s device (R² near 1 stays resolved whatever the run's
    dtype); the targets are cached per device. Cross-validated OLS uses one QR of ``[1, Ȳ]`` for
    all folds (see :func:`_cv_ols`), cross-validated ridge the training Grams obtained by
    subtraction (:func:`_cv_ridge`).

    Args:
        reference: X, ``(sample, unit)`` or ``(time, condition, unit)`` (numpy, torch, xarray, lists,
            or a :class:`~repalign.datasets.Dataset`).
        n_pcs: number K of leading PCs tracked. A reference with fewer PCs of non-zero variance
            (its numerical rank r) gives K = r; :attr:`columns` lists them.
        ridge: λ >= 0.
        cv: ``None`` (in-sample) or the number of folds, ``2 <= cv <=`` number of conditions.
        seed: seed of the random assignment of conditions to folds (only used with ``cv``).

    Attributes:
        columns: ``["pc1_r2", …]``, the keys of the returned dict.
        components: the reference's PCs :math:`v_i`, numpy ``(p, K)``.
        explained_variance_ratio: :math:`s_i^2 / \sum_j s_j^2`, numpy ``(K,)``.
        fold_of: with ``cv``, the fold of each condition (numpy ``(n_conditions,)``), else None.

    Calling ``tracker(reference, Y)`` with ``Y`` of shape ``(batch, *reference_shape)`` (any unit
    count) returns ``{"pc1_r2": (batch,) tensor, …}``; ``reference`` must equal the one given here
    (checked: a tracker built for another reference raises ``ValueError``).

    Raises:
        ValueError: bad arguments (naming ``reference``, ``n_pcs``, ``ridge``, ``cv``, ``seed`` or
            ``Y``), a reference with no variance, or ``Y`` whose samples do not match the reference's.

    Example:
        >>> import numpy as np, torch
        >>> X = np.random.default_rng(0).normal(size=(4, 10, 6)) * [3.0, 2.0, 1.5, 1.0, 0.5, 0.2]
        >>> pc = PCCapture(X, n_pcs=2)
        >>> v2 = pc.components[:, 1]
        >>> without_pc2 = X - np.outer(X.reshape(-1, 6) @ v2, v2).reshape(X.shape)
        >>> runs = torch.as_tensor(np.stack([X[..., ::-1], without_pc2]))   # a batch of 2 runs
        >>> {k: v.round(decimals=6).tolist() for k, v in pc(X, runs).items()}
        {'pc1_r2': [1.0, 1.0], 'pc2_r2': [1.0, 0.0]}
        >>> PCCapture(X, n_pcs=2, cv=5)(X, torch.as_tensor(X)[None])["pc1_r2"].item() > 0.99
        True
    """

    name = "pc_capture"

    def __init__(self, reference, n_pcs: int = 10, *, ridge: float = 0.0, cv: int | None = None, seed: int = 0):
        data, _ = as_data(_unwrap_dataset(reference), "reference")
        self._layout = _layout(data)
        n_pcs = _check_int(n_pcs, "n_pcs", 1)
        self.ridge = _check_nonnegative(ridge, "ridge")
        self.seed = _check_seed(seed)
        n_conditions = data.n_conditions if data.n_conditions is not None else data.n_samples
        if cv is not None:
            cv = _check_int(cv, "cv", 2)
            if cv > n_conditions:
                raise ValueError(f"cv: expected at most the number of conditions ({n_conditions}), got {cv}")
        self.cv = cv
        x = data.values.detach().to("cpu", torch.float64)
        self._reference = x  # for the check that a call gets the same reference
        xc = (x - x.mean(dim=0)).numpy()
        u, s, vt = np.linalg.svd(xc, full_matrices=False)
        rank = int((s > s[0] * max(xc.shape) * np.finfo(np.float64).eps).sum()) if s[0] > 0 else 0
        if rank == 0:
            raise ValueError("reference: no variance (every unit is constant); there are no principal components")
        k = min(n_pcs, rank)
        self.n_pcs = k
        self.columns = [f"pc{i + 1}_r2" for i in range(k)]
        self.components = vt[:k].T.copy()
        self.explained_variance_ratio = (s[:k] ** 2) / float((s**2).sum())
        self._targets = torch.from_numpy(np.ascontiguousarray(u[:, :k]))  # (n, K) unit columns, centred
        self._folds = self.fold_of = None
        if cv is not None:
            fold_of_condition = np.empty(n_conditions, dtype=np.int64)
            fold_of_condition[np.random.default_rng(self.seed).permutation(n_conditions)] = (
                np.arange(n_conditions) % cv)
            fold_of_condition.setflags(write=False)
            self.fold_of = fold_of_condition
            fold_of_row = fold_of_condition[np.arange(data.n_samples) % n_conditions]  # row t*C + c
            self._folds = [(np.flatnonzero(fold_of_row != f), np.flatnonzero(fold_of_row == f)) for f in range(cv)]
        self._cache: dict = {}

    def __repr__(self) -> str:
        return f"PCCapture(n_pcs={self.n_pcs}, ridge={self.ridge:g}, cv={self.cv}, seed={self.seed})"

    def _cached(self, dtype: torch.dtype, device: torch.device) -> dict:
        key = (dtype, device)
        if key not in self._cache:
            self._cache[key] = {
                "targets": self._targets.to(device=device),
                "reference": self._reference.to(device=device, dtype=dtype),
                "folds": None if self._folds is None else [
                    (torch.as_tensor(tr, device=device), torch.as_tensor(te, device=device)) for tr, te in self._folds],
            }
        return self._cache[key]

    def __call__(self, reference, Y) -> dict[str, torch.Tensor]:
        """``{pc<i>_r2: (batch,) float64 tensor}`` for the runs ``Y`` (batch, *reference shape)."""
        ref, _ = as_data(_unwrap_dataset(reference), "reference")
        y, _ = as_data(Y, "Y", batched=True)
        check_same_samples(self._layout, _layout(y))
        values = y.values.detach()
        cache = self._cached(values.dtype, values.device)
        if ref.values.shape != self._reference.shape or not torch.equal(
                ref.values.detach().to(device=values.device, dtype=values.dtype), cache["reference"]):
            raise ValueError("reference: differs from the reference this PCCapture was built with; "
                             "build one PCCapture per reference")
        r2 = self._evaluate(values.to(torch.float64), cache)
        return {column: r2[:, i] for i, column in enumerate(self.columns)}

    def _evaluate(self, Y: torch.Tensor, cache: dict) -> torch.Tensor:
        """R² of every tracked PC, ``(batch, K)``, for a float64 ``(batch, n, q)`` tensor ``Y``."""
        targets = cache["targets"]  # (n, K), centred, unit norm
        total = targets.square().sum(dim=0)
        # every route depends on Y only through inner products of its rows: reduce to <= n units first
        P = reduce_units(center(Y))
        if self._folds is None:
            if self.ridge == 0:
                explained = (_column_basis(P).mT @ targets).square().sum(dim=-2) / total
                return explained.clamp(0.0, 1.0)  # a projection: above 1 only by rounding
            residual = targets - P @ _ridge_coefficients(P, targets, self.ridge)
            return 1.0 - residual.square().sum(dim=-2) / total
        folds = cache["folds"]
        if self.ridge == 0 and P.shape[-1] < min(len(train) for train, _ in folds):
            predictions = _cv_ols(P, targets, folds)
        else:
            predictions = _cv_ridge(P, targets, folds, self.ridge)
        press = sum((targets[test] - prediction).square().sum(dim=-2)
                    for (_, test), prediction in zip(folds, predictions))
        return 1.0 - press / total


def _cv_ols(P: torch.Tensor, targets: torch.Tensor, folds) -> list[torch.Tensor]:
    r"""Held-out OLS predictions (with intercept) of each fold, from one orthonormal basis of ``[1, P]``.

    With :math:`Q` an orthonormal basis of the columns of ``[1, P]`` (P centred, so ``1/√n`` and the
    basis of P), least squares on the training rows is :math:`\min_c \|T_{tr} - Q_{tr} c\|` and
    predicts :math:`Q_{te} c`. With :math:`A = Q_{te}`, :math:`Q_{tr}^\top Q_{tr} = I - A^\top A` and
    :math:`Q_{tr}^\top T_{tr} = Q^\top T - A^\top T_{te}`, so the held-out prediction is

    .. math::

        \hat T_{te} = A (I - A^\top A)^{-1} Q_{tr}^\top T_{tr} = (I - A A^\top)^{-1} A\, Q_{tr}^\top T_{tr}

    (the second form, a system the size of the held-out rows, when that is the smaller). Both are
    well conditioned unless a direction of Y lives on the held-out rows only; Y's own conditioning
    never enters (the backward-stable QR absorbs it). Items whose system is numerically singular
    fall back to the minimum-norm solution (SVD).
    """
    n = P.shape[-2]
    basis = _column_basis(P)
    ones = torch.full((*P.shape[:-2], n, 1), n ** -0.5, dtype=P.dtype, device=P.device)
    basis = torch.cat([ones, basis], dim=-1)  # dropped (zero) columns stay zero: c is 0 there
    projected = basis.mT @ targets  # QᵀT, (batch, r, K)
    out = []
    for train, test in folds:
        a = basis[:, test]
        train_cross = projected - a.mT @ targets[test]  # Q_trᵀT_tr
        small_side = len(test) <= a.shape[-1]
        eye = torch.eye(len(test) if small_side else a.shape[-1], dtype=P.dtype, device=P.device)
        system = eye - (a @ a.mT if small_side else a.mT @ a)
        factor, info = torch.linalg.cholesky_ex(system)
        pivots = factor.diagonal(dim1=-2, dim2=-1).square()
        bad = (info != 0) | (pivots.amin(dim=-1) <= 1e3 * n * torch.finfo(P.dtype).eps)
        if small_side:
            prediction = torch.cholesky_solve(a @ train_cross, factor)
        else:
            prediction = a @ torch.cholesky_solve(train_cross, factor)
        if bool(bad.any()):
            p_train = P[bad][:, train]
            mean_p, mean_t = p_train.mean(dim=-2, keepdim=True), targets[train].mean(dim=0)
            B = _ridge_coefficients(p_train - mean_p, targets[train] - mean_t, 0.0)
            prediction[bad] = (P[bad][:, test] - mean_p) @ B + mean_t
        out.append(prediction)
    return out


def _cv_ridge(P: torch.Tensor, targets: torch.Tensor, folds, lam: float) -> list[torch.Tensor]:
    r"""Held-out ridge predictions of each fold, both sides centred with the training means.

    P is globally centred, so the training Gram and cross products come by subtraction:
    :math:`\sum_{tr} p p^\top = P^\top P - P_{te}^\top P_{te}` and the training mean is
    :math:`-\sum_{te} p / n_{tr}`; then Cholesky of the centred training Gram + λI (SVD if it fails;
    the minimum-norm solution for λ = 0).
    """
    gram_all, cross_all = (P.mT @ P, P.mT @ targets) if lam > 0 else (None, None)
    out = []
    for train, test in folds:
        n_train = len(train)
        p_test, t_test = P[:, test], targets[test]
        mean_p = -p_test.sum(dim=-2, keepdim=True) / n_train  # (batch, 1, q)
        mean_t = -t_test.sum(dim=0) / n_train  # (K,)
        bad = torch.ones(P.shape[0], dtype=torch.bool, device=P.device)
        coefficients = torch.zeros(*P.shape[:-2], P.shape[-1], targets.shape[-1], dtype=P.dtype, device=P.device)
        if lam > 0:
            gram = gram_all - p_test.mT @ p_test - n_train * mean_p.mT @ mean_p
            cross = cross_all - p_test.mT @ t_test - n_train * mean_p.mT @ mean_t[None]
            gram.diagonal(dim1=-2, dim2=-1).add_(lam)
            factor, info = torch.linalg.cholesky_ex(gram)
            bad = info != 0
            coefficients = torch.cholesky_solve(cross, factor)
        if bool(bad.any()):
            p_train = P[bad][:, train] - mean_p[bad]
            coefficients[bad] = _ridge_coefficients(p_train, targets[train] - mean_t, lam)
        out.append((p_test - mean_p) @ coefficients + mean_t)
    return out


# -- decoding ----------------------------------------------------------------------------------------------------


def stratified_folds(labels, folds: int, seed: int) -> np.ndarray:
    """Fold index of each condition: stratified K-fold assignment, seeded.

    The members of each class (in sorted order of the classes) are shuffled with
    ``numpy.random.default_rng(seed)`` and the concatenated list is dealt to folds 0, 1, …,
    ``folds − 1``, 0, 1, … in turn: every class has, in every fold, its count divided by ``folds``
    rounded down or up, and fold sizes differ by at most one.

    Raises:
        ValueError: naming ``folds`` when a class has fewer members than folds.

    Example:
        >>> stratified_folds([0, 0, 0, 1, 1, 1], folds=3, seed=0).tolist()
        [1, 2, 0, 2, 1, 0]
    """
    labels = np.asarray(labels)
    classes, codes, counts = np.unique(labels, return_inverse=True, return_counts=True)
    folds = _check_int(folds, "folds", 2)
    if counts.min() < folds:
        k = int(counts.argmin())
        raise ValueError(f"folds: class {classes[k].tolist()!r} has {counts[k]} condition(s), fewer than "
                         f"folds={folds}; use fewer folds")
    rng = np.random.default_rng(_check_seed(seed))
    order = np.concatenate([rng.permutation(np.flatnonzero(codes == k)) for k in range(len(classes))])
    fold_of = np.empty(len(labels), dtype=np.int64)
    fold_of[order] = np.arange(len(labels)) % folds
    return fold_of


def _table_columns(table, name: str):
    """(column names, getter) of a DataFrame, a mapping of columns or a Dataset's conditions."""
    from .datasets import Dataset  # noqa: PLC0415

    if isinstance(table, Dataset):
        if table.activity.ndim != 3:
            raise ValueError(f"{name}: the Dataset's activity is 2D {table.shape} (sample, unit); Decoding "
                             f"needs (time, condition, unit) data")
        if table.conditions is None:
            raise ValueError(f"{name}: the Dataset has no conditions table")
        table = table.conditions
    if hasattr(table, "columns") and hasattr(table, "__getitem__") and not isinstance(table, Mapping):
        return [str(c) for c in table.columns], lambda c: np.asarray(table[c].to_numpy())
    if isinstance(table, Mapping):
        return [str(c) for c in table], lambda c: np.asarray(table[c])
    raise ValueError(f"{name}: expected a Dataset, a pandas DataFrame or a mapping of columns, "
                     f"got {type(table).__name__}")


class Decoding:
    r"""Cross-validated linear decoding of task variables from ``(time, condition, unit)`` activity.

    The seed paper's decoding analysis (appendix B.2): for each variable and each time bin ``t``,
    a logistic regression predicts the condition's label from the activity of all units at ``t``;
    stratified ``folds``-fold cross-validation across conditions; the score is the held-out
    accuracy averaged over folds (each fold's accuracy weighted equally, as scikit-learn's
    ``cross_val_score``) and then over time bins. Column ``decode_<variable>``, one value per run.

    **Folds.** :func:`stratified_folds` of the variable's labels with ``seed``: each variable has
    its own folds (they depend on the variable and the seed only), the same for every time bin and
    every run.

    **Model**, for each (run, time bin, fold, variable), on the training conditions: features
    standardized with the training conditions' mean and (population) standard deviation, per unit
    (scikit-learn's ``StandardScaler``; constant units are only centred), then for a binary
    variable (classes :math:`c_0 < c_1`, :math:`y_i = [\text{label}_i = c_1]`)

    .. math::

        \min_{w, b}\; \sum_i \bigl[\log(1 + e^{z_i}) - y_i z_i\bigr] + \frac{\ell_2}{2}\|w\|^2,
        \qquad z_i = w^\top x_i + b,

    and for K > 2 classes the multinomial model
    :math:`\sum_i [\operatorname{logsumexp}_k z_{ik} - z_{i y_i}] + \frac{\ell_2}{2}\sum_k\|w_k\|^2`,
    :math:`z_{ik} = w_k^\top x_i + b_k`; intercepts are not penalized. This is scikit-learn's
    ``LogisticRegression(C=1/l2)`` (default L2 penalty, multinomial for K > 2). The prediction is
    the most probable class (:math:`z > 0` for binary).

    **Solver.** With more units than training conditions, the optimal :math:`w` lies in the span of
    the standardized training rows, so the problem is solved exactly in that span: with the
    training Gram :math:`G = Z Z^\top` and :math:`\tilde G = G + c\,\mathbf 1\mathbf 1^\top` (c its mean
    diagonal; the extra constant feature is absorbed by the free intercept, so its weight is 0 at
    the optimum), the Cholesky factor :math:`\tilde G = L L^\top` gives the training features
    :math:`L` and the held-out features :math:`\tilde G_{te}L^{-\top}`, with
    :math:`\|\beta\| = \|w\|` (an eigendecomposition, dropping null directions, when
    :math:`\tilde G` is numerically singular). With fewer units the standardized activity is used
    directly. Then Newton's method from zero on all problems of the batch at once (batched Gram
    products and Cholesky solves of (training conditions + 1)-sized systems, times the class
    count for K > 2): step :math:`\theta \leftarrow \theta - t H^{-1} g` with t halved from 1
    until the Armijo condition holds, and, when t = 1 is accepted, t = 2 then 4 kept while they
    lower the objective further (far from the optimum of separable data a full step is too short;
    this saves about a third of the steps). A problem stops once half its Newton decrement
    :math:`\tfrac12 g^\top H^{-1} g` (the quadratic model's estimate of the distance to the optimal
    objective) is at most ``tol``; typically 5–7 steps. A problem not converged after ``steps``
    Newton steps raises ``RuntimeError`` (never a silently approximate answer). Computations are in
    float64 on ``Y``'s device, in chunks of runs × time bins that bound the memory.

    Speed (one CPU thread, float64): a batch of 16 runs shaped (15, 72, 727), 4 binary variables
    = 4 800 logistic fits, takes about 7 s per call (5.5 s on 2 threads), against about 45 s for a
    loop of scikit-learn fits (9 ms each at its default tolerance); the same folds give the same
    accuracies as scikit-learn (decision values within 1e-6 when both are converged).

    Args:
        conditions: the conditions table (one row per condition): a
            :class:`~repalign.datasets.Dataset` with 3D activity (its ``conditions``), a pandas
            DataFrame or a mapping of columns.
        variables: columns to decode (a name or a sequence of names); each needs at least 2
            classes, each with at least ``folds`` conditions.
        folds: number of cross-validation folds, >= 2.
        seed: seed of the fold assignment.
        l2: penalty :math:`\ell_2 > 0` (scikit-learn's ``C = 1/l2``).
        steps: maximum number of Newton steps.
        tol: convergence tolerance on half the Newton decrement (objective units, the objective
            being a sum over ~60 training conditions).

    Attributes:
        columns: ``["decode_<variable>", …]``.
        fold_of: ``{variable: fold index of each condition}`` (numpy), the folds in use.
        classes: ``{variable: sorted class labels}``.

    Raises:
        ValueError: naming ``conditions``, ``variables``, ``folds``, ``seed``, ``l2``, ``steps``,
            ``tol`` or ``Y`` (a variable not in the table, a single class, too few conditions per
            class for the folds, 2D data, a condition count that differs from the table's).
        RuntimeError: Newton's method did not converge.

    Calling ``tracker(reference, Y)`` with ``Y`` of shape ``(batch, time, condition, unit)`` returns
    ``{"decode_<variable>": (batch,) float64 tensor}``; ``reference`` is not used (the labels come
    from the table) and may be None.

    Example:
        >>> import torch
        >>> from repalign.datasets import mante_like
        >>> ds = mante_like(n_units=30, n_time=2, seed=0)
        >>> decoding = Decoding(ds, variables=("context", "choice"))
        >>> {k: round(v, 2) for k, v in decoding.reference_accuracy(ds).items()}
        {'decode_context': 0.89, 'decode_choice': 0.93}
        >>> noise = torch.randn((2, *ds.shape), generator=torch.Generator().manual_seed(0), dtype=torch.float64)
        >>> decoding(ds.activity, noise)["decode_context"].shape
        torch.Size([2])
    """

    name = "decoding"

    def __init__(self, conditions, variables=("context", "choice", "motion_sign", "colour_sign"), *,
                 folds: int = 5, seed: int = 0, l2: float = 1.0, steps: int = 50, tol: float = 1e-10):
        names, column = _table_columns(conditions, "conditions")
        if isinstance(variables, str):
            variables = (variables,)
        if not isinstance(variables, Sequence) or len(variables) == 0:
            raise ValueError(f"variables: expected a column name or a non-empty sequence of them, got {variables!r}")
        variables = tuple(variables)
        missing = [v for v in variables if not isinstance(v, str) or v not in names]
        if missing:
            raise ValueError(f"variables: {missing} not in the conditions table (columns: {names})")
        if len(set(variables)) != len(variables):
            raise ValueError(f"variables: each variable may appear once, got {list(variables)}")
        self.folds = _check_int(folds, "folds", 2)
        self.seed = _check_seed(seed)
        self.l2 = _check_nonnegative(l2, "l2", positive=True)
        self.steps = _check_int(steps, "steps", 1)
        self.tol = _check_nonnegative(tol, "tol", positive=True)
        self.variables = variables
        self.columns = [f"decode_{v}" for v in variables]
        self.classes: dict[str, np.ndarray] = {}
        self.fold_of: dict[str, np.ndarray] = {}
        codes = []
        for v in variables:
            labels = column(v)
            if labels.ndim != 1:
                raise ValueError(f"variables: column {v!r} is not one-dimensional")
            if labels.dtype.kind == "f" and np.isnan(labels).any():
                raise ValueError(f"variables: column {v!r} has missing values (NaN)")
            classes, code = np.unique(labels, return_inverse=True)
            if len(classes) < 2:
                raise ValueError(f"variables: column {v!r} has a single value ({classes[0].tolist()!r}); "
                                 f"nothing to decode")
            if codes and len(code) != len(codes[0]):
                raise ValueError(f"variables: column {v!r} has {len(code)} rows, {variables[0]!r} has {len(codes[0])}")
            try:
                fold_of = stratified_folds(labels, self.folds, self.seed)
            except ValueError as error:
                raise ValueError(f"{error} (variable {v!r})") from None
            self.classes[v], self.fold_of[v] = classes, fold_of
            self.classes[v].setflags(write=False)
            self.fold_of[v].setflags(write=False)
            codes.append(code.astype(np.int64))
        self.n_conditions = len(codes[0])
        self._codes = codes
        self._cache: dict = {}

    def __repr__(self) -> str:
        return (f"Decoding(variables={list(self.variables)}, folds={self.folds}, seed={self.seed}, l2={self.l2:g}, "
                f"steps={self.steps}, tol={self.tol:g})")

    # -- public calls ----------------------------------------------------------------------------------------
    def __call__(self, reference, Y) -> dict[str, torch.Tensor]:
        """``{decode_<variable>: (batch,) tensor}`` for runs ``Y`` (batch, time, condition, unit).

        ``reference`` is not used (the labels come from the conditions table); it is accepted for
        the tracker protocol of :func:`repalign.optimize`.
        """
        y, _ = as_data(Y, "Y", batched=True)
        accuracy = self._evaluate(self._checked(y, "Y"))
        return {column: accuracy[:, i] for i, column in enumerate(self.columns)}

    def reference_accuracy(self, reference) -> dict[str, float]:
        """Decoding accuracy of the reference itself: ``{decode_<variable>: float}``.

        ``reference``: ``(time, condition, unit)`` activity or a :class:`~repalign.datasets.Dataset`.
        """
        data, _ = as_data(_unwrap_dataset(reference), "reference")
        values = data.values.unsqueeze(0)
        batched = Data(values, "reference", data.n_conditions, data.n_time, batched=True)
        accuracy = self._evaluate(self._checked(batched, "reference"))[0]
        return {column: float(accuracy[i]) for i, column in enumerate(self.columns)}

    def chance_accuracy(self) -> dict[str, float]:
        """Accuracy of always predicting the most frequent class: ``{decode_<variable>: float}``.

        The frequency of each variable's most common label over the conditions (0.5 for a balanced
        binary variable such as ``context`` or ``choice`` of :func:`~repalign.datasets.mante_like`).
        """
        return {column: float(np.bincount(code).max() / len(code)) for column, code in zip(self.columns, self._codes)}

    def _checked(self, data: Data, name: str) -> torch.Tensor:
        if data.n_conditions is None:
            raise ValueError(f"{name}: Decoding needs (time, condition, unit) activity (one decoder per time bin), "
                             f"got 2D (sample, unit) data of shape {tuple(data.values.shape[-2:])}")
        if data.n_conditions != self.n_conditions:
            raise ValueError(f"{name}: has {data.n_conditions} conditions but the conditions table has "
                             f"{self.n_conditions} rows")
        return data.values.detach().reshape(data.values.shape[0], data.n_time, data.n_conditions, -1)

    # -- computation -----------------------------------------------------------------------------------------
    def _problems(self, device: torch.device) -> dict:
        """Per device: the (variable, fold) problems of each class count, as padded index tensors."""
        if device in self._cache:
            return self._cache[device]
        groups: dict[int, dict] = {}
        for v, (variable, code) in enumerate(zip(self.variables, self._codes)):
            group = groups.setdefault(len(self.classes[variable]), {"variables": [], "splits": []})
            group["variables"].append(v)
            fold_of = self.fold_of[variable]
            group["splits"] += [(np.flatnonzero(fold_of != f), np.flatnonzero(fold_of == f), code)
                                for f in range(self.folds)]
        for group in groups.values():
            splits = group.pop("splits")
            n_train = max(len(train) for train, _, _ in splits)
            n_test = max(len(test) for _, test, _ in splits)
            n = self.n_conditions
            # rows padded with index 0 and weight 0 (training) or masked out (held out)
            train = np.zeros((len(splits), n_train), dtype=np.int64)
            test = np.zeros((len(splits), n_test), dtype=np.int64)
            weight = np.zeros((len(splits), n_train))
            test_mask = np.zeros((len(splits), n_test), dtype=bool)
            mean = np.zeros((len(splits), n))  # row j: the training conditions' average
            y_train, y_test = np.zeros_like(train), np.zeros_like(test)
            for j, (tr, te, code) in enumerate(splits):
                train[j, :len(tr)], test[j, :len(te)] = tr, te
                weight[j, :len(tr)], test_mask[j, :len(te)] = 1.0, True
                mean[j, tr] = 1.0 / len(tr)
                y_train[j, :len(tr)], y_test[j, :len(te)] = code[tr], code[te]
            group.update({name: torch.as_tensor(value, device=device) for name, value in [
                ("train", train), ("test", test), ("weight", weight), ("test_mask", test_mask), ("mean", mean),
                ("y_train", y_train), ("y_test", y_test)]})
        self._cache[device] = groups
        return groups

    def _evaluate(self, activity: torch.Tensor) -> torch.Tensor:
        """Accuracies ``(batch, n_variables)`` for a checked tensor ``(batch, time, condition, unit)``."""
        batch, n_time, n_cond, n_units = activity.shape
        x = activity.to(torch.float64).reshape(batch * n_time, n_cond, n_units)
        # centring each time bin over conditions changes no standardized feature, and keeps the one-pass
        # training variances E[x²] − E[x]² free of cancellation
        x = x - x.mean(dim=1, keepdim=True)
        out = torch.empty(batch * n_time, len(self.variables), dtype=torch.float64, device=x.device)
        groups = self._problems(x.device)
        per_item = 8 * 4 * n_cond * n_units
        for n_classes, group in groups.items():
            n_prob, width = group["train"].shape
            params = (1 if n_classes == 2 else n_classes) * (width + 1)
            per_item += 8 * n_prob * (3 * n_cond * (width + 1) + 3 * params * params)
        chunk = max(1, _CHUNK_BYTES // per_item)
        for start in range(0, batch * n_time, chunk):
            xs = x[start:start + chunk]
            for n_classes, group in groups.items():
                out[start:start + chunk, group["variables"]] = self._decode(xs, group, n_classes)
        return out.reshape(batch, n_time, -1).mean(dim=1)

    def _decode(self, x: torch.Tensor, group: dict, n_classes: int) -> torch.Tensor:
        """Held-out accuracy ``(items, variables of the group)`` averaged over folds, for ``x`` (items, n, U)."""
        items, n_cond, n_units = x.shape
        n_prob, n_train = group["train"].shape
        kernel = n_units > n_train  # more units than training rows: work in the span of the rows
        width = (n_train if kernel else n_units) + 1  # features and the intercept's column
        means = group["mean"].to(x.dtype) @ x  # (items, problems, units): training means
        variances = (group["mean"].to(x.dtype) @ x.square() - means.square()).clamp_min(0)
        # StandardScaler only centres constant units; a one-pass variance is exact to ~n·eps·E[x²]
        constant = variances <= n_train * torch.finfo(x.dtype).eps * (variances + means.square())
        inverse_scale = torch.where(constant, torch.ones_like(variances), variances.rsqrt())
        shifts = means * inverse_scale
        f_train = torch.zeros(items, n_prob, n_train, width, dtype=x.dtype, device=x.device)
        f_test = torch.zeros(items, n_prob, group["test"].shape[1], width, dtype=x.dtype, device=x.device)
        for j in range(n_prob):
            z = torch.addcmul(-shifts[:, j, None, :], x, inverse_scale[:, j, None, :])  # (x − μ)/σ, one pass
            tr, te = group["train"][j], group["test"][j]
            if kernel:
                gram = z @ z[:, tr].mT  # (items, n, n_train): products of every condition with the training rows
                f_train[:, j, :, :-1] = gram[:, tr]
                f_test[:, j, :, :-1] = gram[:, te]
            else:
                f_train[:, j, :, :-1] = z[:, tr]
                f_test[:, j, :, :-1] = z[:, te]
        f_train = f_train.reshape(items * n_prob, n_train, width)
        f_test = f_test.reshape(items * n_prob, -1, width)
        weight = group["weight"].to(x.dtype).repeat(items, 1)
        if kernel:
            f_train, f_test = _span_features(f_train, f_test, weight)
        else:
            f_train = f_train * weight.unsqueeze(-1)  # padding rows: zero features (and zero weight)
        f_train[..., -1] = 1.0  # the intercept's column
        f_test[..., -1] = 1.0
        theta = _newton_logistic(f_train, group["y_train"].repeat(items, 1), weight, n_classes, self.l2,
                                 self.steps, self.tol)
        logits = f_test @ theta
        predicted = (logits[..., 0] > 0).long() if n_classes == 2 else logits.argmax(dim=-1)
        mask = group["test_mask"].repeat(items, 1)
        correct = ((predicted == group["y_test"].repeat(items, 1)) & mask).sum(dim=-1)
        accuracy = correct.to(x.dtype) / mask.sum(dim=-1).to(x.dtype)
        return accuracy.reshape(items, len(group["variables"]), self.folds).mean(dim=-1)


def _span_features(gram_train: torch.Tensor, gram_test: torch.Tensor, weight: torch.Tensor):
    r"""Features in the span of the training rows from Gram blocks (last column left free for the intercept).

    ``gram_train[..., :n, :n]`` holds G (rows and columns beyond each problem's training count, flagged
    by ``weight`` = 0, are padding and ignored), ``gram_test[..., :, :n]`` the held-out × training
    products. With
    :math:`\tilde G = G + c\mathbf 1\mathbf 1^\top` on the real rows and ``c·I`` on the padding
    (orthogonal directions that carry no loss, so their weights are 0 at the optimum),
    :math:`\tilde G = LL^\top` gives training features ``L`` and held-out features
    :math:`\tilde G_{te}L^{-\top}`. Problems whose Cholesky fails or has a pivot below
    ``100·n·eps`` times the largest (numerically singular G̃: fewer units than training rows, or
    duplicated units or conditions) use :math:`\tilde G = V\Lambda V^\top` instead, with features
    :math:`V\Lambda^{1/2}` and :math:`\tilde G_{te} V \Lambda^{-1/2}` over the eigenvalues above
    ``100·n·eps·λ_max`` (the others are null directions of the span: zero features).
    """
    tol = 100 * (gram_train.shape[-1] - 1) * torch.finfo(gram_train.dtype).eps
    n = gram_train.shape[-1] - 1
    g = gram_train[..., :n]
    real = weight > 0
    pair = real.unsqueeze(-1) & real.unsqueeze(-2)
    c = (g.diagonal(dim1=-2, dim2=-1) * weight).sum(dim=-1) / weight.sum(dim=-1)
    c = torch.where(c > 0, c, torch.ones_like(c))[:, None, None]
    g_tilde = torch.where(pair, g + c, torch.zeros_like(g))
    g_tilde = g_tilde + torch.diag_embed((~real).to(g.dtype)) * c
    g_test = torch.where(real.unsqueeze(-2), gram_test[..., :n] + c, torch.zeros_like(gram_test[..., :n]))
    factor, info = torch.linalg.cholesky_ex(g_tilde)
    pivots = factor.diagonal(dim1=-2, dim2=-1).square()
    # a (numerically) singular G̃ may factor with rounding-level pivots instead of failing; those
    # would turn rounding noise into held-out features, so such problems take the eigen route too
    bad = (info != 0) | (pivots.amin(dim=-1) <= tol * pivots.amax(dim=-1))
    features_train = torch.zeros_like(gram_train)
    features_test = torch.zeros_like(gram_test)
    features_train[..., :n] = factor
    features_test[..., :n] = torch.linalg.solve_triangular(factor, g_test.mT, upper=False).mT
    if bool(bad.any()):
        values, vectors = torch.linalg.eigh(g_tilde[bad])
        keep = values > tol * values.amax(dim=-1, keepdim=True)
        root = torch.where(keep, values.clamp_min(0).sqrt(), torch.zeros_like(values))
        inverse_root = torch.where(keep, 1 / root.where(keep, torch.ones_like(root)), torch.zeros_like(root))
        features_train[bad, :, :n] = vectors * root.unsqueeze(-2)
        features_test[bad, :, :n] = (g_test[bad] @ vectors) * inverse_root.unsqueeze(-2)
    return features_train, features_test


def _newton_logistic(features: torch.Tensor, labels: torch.Tensor, weight: torch.Tensor, n_classes: int,
                     l2: float, steps: int, tol: float) -> torch.Tensor:
    r"""Batched Newton's method for L2-regularized logistic regression; returns θ ``(P, d, M)``.

    ``features`` (P, n, d) with the intercept's column of ones last, ``labels`` (P, n) class codes,
    ``weight`` (P, n) of 0/1 (padding rows have 0). Binary (M = 1): logits ``z = Fθ`` against a
    class 0 fixed at 0 (the sigmoid model). Multinomial (M = K): logits ``Fθ``, the last class's
    intercept pinned at 0 (softmax is invariant to a common shift of the intercepts; the
    penalized weights have no such freedom). The intercept row of θ is not penalized.
    Step: θ ← θ − tΔ, Δ = H⁻¹g (Cholesky; eigen-pseudo-inverse if it fails), t halved from 1 until
    the Armijo condition f(θ − tΔ) <= f(θ) − 1e-4·t·gᵀΔ holds; after an accepted t = 1, t = 2 and 4
    are kept while each lowers f further. Stops a problem once gᵀΔ/2 <= tol. Problems that have
    stopped are dropped from the batch, so late steps cost only what is left.
    """
    n_prob, n, d = features.shape
    m = 1 if n_classes == 2 else n_classes
    dtype, device = features.dtype, features.device
    onehot = torch.nn.functional.one_hot(labels, n_classes).to(dtype)
    target = onehot[..., 1:] if m == 1 else onehot
    penalty = torch.ones(d, m, dtype=dtype, device=device)
    penalty[-1] = 0.0  # intercepts
    pinned = m > 1  # last class's intercept

    def objective(z, t, w, th):
        loss = torch.nn.functional.softplus(z[..., 0]) - t[..., 0] * z[..., 0] if m == 1 else \
            torch.logsumexp(z, dim=-1) - (t * z).sum(dim=-1)
        return (w * loss).sum(dim=-1) + 0.5 * l2 * (penalty * th.square()).sum(dim=(-2, -1))

    theta = torch.zeros(n_prob, d, m, dtype=dtype, device=device)
    active = torch.arange(n_prob, device=device)
    f, t, w, th = features, target, weight, theta.clone()
    for iteration in range(steps + 1):
        z = f @ th
        p = torch.sigmoid(z) if m == 1 else torch.softmax(z, dim=-1)
        grad = f.mT @ (w.unsqueeze(-1) * (p - t)) + l2 * penalty * th  # (A, d, m)
        if m == 1:
            hessian = f.mT @ ((w * p[..., 0] * (1 - p[..., 0])).unsqueeze(-1) * f)
        else:
            hessian = torch.empty(len(f), m, d, m, d, dtype=dtype, device=device)
            for a in range(m):
                for b in range(a, m):
                    block = f.mT @ ((w * p[..., a] * (float(a == b) - p[..., b])).unsqueeze(-1) * f)
                    hessian[:, a, :, b, :] = block
                    hessian[:, b, :, a, :] = block.mT
            hessian = hessian.reshape(len(f), m * d, m * d)
        g = grad.mT.reshape(len(f), m * d)  # parameter order: class-major
        hessian.diagonal(dim1=-2, dim2=-1).add_(l2 * penalty.mT.reshape(-1))
        if pinned:
            g[:, -1] = 0.0
            hessian[:, -1, :] = 0.0
            hessian[:, :, -1] = 0.0
            hessian[:, -1, -1] = 1.0
        delta = _solve_spd(hessian, g)
        decrement = (g * delta).sum(dim=-1)
        worst = float(decrement.max()) / 2
        done = decrement <= 2 * tol
        if bool(done.any()):
            theta[active[done]] = th[done]
            keep = ~done
            active, f, t, w, th, z, delta, decrement = (active[keep], f[keep], t[keep], w[keep], th[keep], z[keep],
                                                        delta[keep], decrement[keep])
        if len(active) == 0:
            return theta
        if iteration == steps:
            break
        step = delta.reshape(len(f), m, d).mT
        current = objective(z, t, w, th)
        size = torch.ones(len(f), dtype=dtype, device=device)
        best = torch.full_like(current, math.inf)
        pending = torch.ones(len(f), dtype=torch.bool, device=device)
        new = th.clone()
        for _ in range(_MAX_HALVINGS):
            idx = torch.nonzero(pending).flatten()
            trial = th[idx] - size[idx, None, None] * step[idx]
            value = objective(f[idx] @ trial, t[idx], w[idx], trial)
            ok = value <= current[idx] - _ARMIJO * size[idx] * decrement[idx]
            new[idx[ok]], best[idx[ok]] = trial[ok], value[ok]
            pending[idx[ok]] = False
            size[idx[~ok]] *= 0.5
            if not bool(pending.any()):
                break
        # far from the optimum (separable data, weights growing) a full step is often too short: try
        # doubling it while the objective keeps decreasing (one cheap evaluation per try)
        grow = size == 1.0
        for _ in range(_MAX_DOUBLINGS):
            idx = torch.nonzero(grow).flatten()
            if len(idx) == 0:
                break
            size[idx] *= 2.0
            trial = th[idx] - size[idx, None, None] * step[idx]
            value = objective(f[idx] @ trial, t[idx], w[idx], trial)
            better = value < best[idx]
            new[idx[better]], best[idx[better]] = trial[better], value[better]
            grow[idx[~better]] = False
        th = new
    raise RuntimeError(f"Decoding: Newton's method did not converge in {steps} steps for {len(active)} of "
                       f"{n_prob} problem(s) (largest half Newton decrement {worst:.2e} > tol {tol:.0e}); "
                       f"increase steps or l2")


def _solve_spd(matrix: torch.Tensor, rhs: torch.Tensor) -> torch.Tensor:
    """``matrix⁻¹ rhs`` for symmetric positive (semi)definite matrices: Cholesky, else an eigen pseudo-inverse."""
    factor, info = torch.linalg.cholesky_ex(matrix)
    out = torch.cholesky_solve(rhs.unsqueeze(-1), factor).squeeze(-1)
    bad = info != 0
    if bool(bad.any()):
        values, vectors = torch.linalg.eigh(matrix[bad])
        keep = values > matrix.shape[-1] * torch.finfo(values.dtype).eps * values.amax(dim=-1, keepdim=True)
        inverse = torch.where(keep, 1 / values.where(keep, torch.ones_like(values)), torch.zeros_like(values))
        out[bad] = (vectors @ (inverse.unsqueeze(-1) * (vectors.mT @ rhs[bad].unsqueeze(-1)))).squeeze(-1)
    return out

r"""The PC-capture tracker: how well each principal component of the reference is captured by ``Y``."""

from __future__ import annotations

import hashlib
import math

import numpy as np
import torch

from .._checks import check_count, check_real, check_seed
from .._linalg import center, principal_components, reduce_units
from ..inputs import Data, as_data, check_same_samples

__all__ = ["PCCapture"]


def _layout(data: Data) -> Data:
    """The samples layout of ``data`` without its values (for :func:`check_same_samples`)."""
    return Data(torch.empty(data.n_samples, 0), data.name, data.n_conditions, data.n_time)


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
            or a :class:`~repalign.data.Dataset`).
        n_pcs: number K of leading PCs tracked. A reference with fewer PCs of non-zero variance
            (its numerical rank r) gives K = r; :attr:`columns` lists them.
        ridge: λ >= 0.
        cv: ``None`` (in-sample) or the number of folds, ``2 <= cv <=`` number of conditions.
        seed: seed of the random assignment of conditions to folds (only used with ``cv``).
        record_every: inside :func:`repalign.optimize`, computed only at the recording steps that are
            multiples of this (NaN at the others; always at step 0, stopping and last steps).

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

    def __init__(self, reference, n_pcs: int = 10, *, ridge: float = 0.0, cv: int | None = None, seed: int = 0,
                 record_every: int = 1):
        self.record_every = check_count(record_every, "record_every", 1)
        data, _ = as_data(reference, "reference")
        self._layout = _layout(data)
        n_pcs = check_count(n_pcs, "n_pcs", 1)
        self.ridge = check_real(ridge, "ridge", low=0.0)
        self.seed = check_seed(seed)
        n_conditions = data.n_conditions if data.n_conditions is not None else data.n_samples
        if cv is not None:
            cv = check_count(cv, "cv", 2)
            if cv > n_conditions:
                raise ValueError(f"cv: expected at most the number of conditions ({n_conditions}), got {cv}")
        self.cv = cv
        x = data.values.detach().to("cpu", torch.float64)
        self._reference = x  # for the check that a call gets the same reference
        u, s, vt, rank = principal_components(x.numpy())[1:]
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

    def settings(self) -> dict:
        """Everything that sets this tracker's values, as plain values (recorded in optimization checkpoints).

        ``n_pcs`` (the PCs tracked), ``ridge``, ``cv``, ``seed``, ``record_every`` and ``reference``, a SHA-256 of the
        reference's float64 values.

        >>> import numpy as np
        >>> settings = PCCapture(np.eye(6)[:, :3] * [3.0, 2.0, 1.0], n_pcs=2, ridge=0.5).settings()
        >>> {k: v for k, v in settings.items() if k != "reference"}
        {'n_pcs': 2, 'ridge': 0.5, 'cv': None, 'seed': 0, 'record_every': 1}
        """
        digest = hashlib.sha256(np.ascontiguousarray(self._reference.numpy()).tobytes()).hexdigest()
        return {"n_pcs": self.n_pcs, "ridge": self.ridge, "cv": self.cv, "seed": self.seed,
                "record_every": self.record_every, "reference": f"sha256:{digest}"}

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
        ref, _ = as_data(reference, "reference")
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


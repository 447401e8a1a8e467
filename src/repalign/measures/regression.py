r"""Linear and ridge regression scores, in-sample or K-fold cross-validated.

Predict the target from the predictor (by default the reference X from the model Y). For each
fold, centre with the training means and fit

.. math::
    B = (\tilde Y_{tr}^\top \tilde Y_{tr} + \lambda I)^{-1} \tilde Y_{tr}^\top \tilde X_{tr},
    \qquad R^2_{fold} = 1 - \frac{\|X_{te} - \mu_X - (Y_{te} - \mu_Y) B\|_F^2}{\|X_{te} - \mu_X\|_F^2}

and average over folds. Without ``cv`` the fit and the evaluation use all rows; the OLS
in-sample score (``linear_regression-r2``) is ‖P_Ȳ X̄‖²_F/‖X̄‖²_F with P_Ȳ the projection on the
column space of Ȳ (rank-aware: a predictor with as many units as samples explains everything).

Parameters: ``lambda`` (ridge strength, absolute, on the unnormalized Gram; Python keyword
``lam``), ``cv`` (number of folds), ``split`` (``conditions``: contiguous blocks of conditions,
every time bin of a held-out condition held out, the default and, for 2D input, one row per
condition; ``samples``: contiguous blocks of the flattened rows, which reproduces the seed
paper's code on 3D input; ``shuffle``: rows assigned at random with ``seed``), ``aggregate``
(``pooled`` R² as above; ``per_unit``: mean over target units of their R²; ``pearson``: mean over
target units of the Pearson r between predicted and true test values; units with zero variance
in a fold's test rows are left out of that fold's mean) and ``direction`` (``x_from_y``,
``y_from_x``, or ``symmetric``: the mean of both). Folds are sized like ``numpy.array_split``.

Speed: the per-fold Gram matrices are computed once and the training Grams obtained by
subtraction (after a global centring that keeps the subtraction accurate); each fold then
needs one Cholesky factorization and a solve with the test rows as right-hand sides, instead
of refitting B from scratch, and the gradient is written out (reusing each fold's factor)
rather than differentiated through the factorization. Predictor units beyond the sample count are reduced exactly
(ridge is invariant to rotations of the predictor), so no n x n matrix is formed when p, q < n.

Example
-------
>>> import numpy as np, repalign
>>> rng = np.random.default_rng(0)
>>> Y = rng.normal(size=(200, 20))
>>> X = Y @ rng.normal(size=(20, 5))            # X is a linear function of Y
>>> round(repalign.measure("linreg")(X, Y), 10)
1.0
"""

from __future__ import annotations

import math

import numpy as np
import torch

from .._linalg import center, gram, reduce_units
from ..inputs import Data
from ._family import Family, Metadata, Parameter

REFERENCE = "Yamins et al. 2014 (PNAS); Schrimpf et al. 2018 (Brain-Score); seed paper: ridge lambda=100, 5 folds"
SPLITS = ("conditions", "samples", "shuffle")


def fold_order(n: int, n_conditions: int | None, n_folds: int, split: str, seed: int) -> tuple[np.ndarray, list[int]]:
    """Row order that makes every test fold contiguous, and the fold boundaries.

    Returns ``(order, bounds)``: fold f holds the rows ``order[bounds[f]:bounds[f + 1]]``.
    """
    if split == "samples":
        order = np.arange(n)
        sizes = [len(block) for block in np.array_split(order, n_folds)]
    elif split == "shuffle":
        order = np.random.default_rng(seed).permutation(n)
        sizes = [len(block) for block in np.array_split(order, n_folds)]
    else:
        n_cond = n_conditions if n_conditions is not None else n
        n_time = n // n_cond
        condition_of_row = np.arange(n) % n_cond
        blocks = np.array_split(np.arange(n_cond), n_folds)
        order = np.concatenate([np.flatnonzero(np.isin(condition_of_row, block)) for block in blocks])
        sizes = [len(block) * n_time for block in blocks]
    bounds = np.concatenate([[0], np.cumsum(sizes)]).tolist()
    return order, bounds


def _masked_mean(values: torch.Tensor, valid: torch.Tensor, what: str) -> torch.Tensor:
    count = valid.sum(dim=-1)
    if bool((count == 0).any()):
        raise ValueError(f"regression: {what} is undefined: every target unit is constant in a test fold")
    return torch.where(valid, values, torch.zeros_like(values)).sum(dim=-1) / count


def _fold_score(target, prediction, aggregate: str) -> torch.Tensor:
    """Score of one fold from centred targets (training means) and predictions."""
    residual = target - prediction
    if aggregate == "pooled":
        total = target.square().sum(dim=(-2, -1))
        return 1.0 - residual.square().sum(dim=(-2, -1)) / total
    if aggregate == "per_unit":
        total = target.square().sum(dim=-2)
        valid = total > 0
        r2 = 1.0 - residual.square().sum(dim=-2) / torch.where(valid, total, torch.ones_like(total))
        return _masked_mean(r2, valid, "per-unit R²")
    # Pearson r per unit on the test rows (centred by the test means)
    t = target - target.mean(dim=-2, keepdim=True)
    p = prediction - prediction.mean(dim=-2, keepdim=True)
    norms = t.square().sum(dim=-2) * p.square().sum(dim=-2)
    valid = norms > 0
    r = (t * p).sum(dim=-2) / torch.where(valid, norms, torch.ones_like(norms)).sqrt()
    return _masked_mean(r, valid, "per-unit Pearson r")


def _in_sample_ols(target, predictor, aggregate):
    """OLS fitted on all rows: projection on the (numerical) column space of the predictor."""
    n, q = predictor.shape[-2], predictor.shape[-1]
    basis = None
    if q < n:
        basis, r = torch.linalg.qr(predictor, mode="reduced")
        diag = r.detach().diagonal(dim1=-2, dim2=-1).abs()
        if bool((diag <= diag.amax(dim=-1, keepdim=True) * (n * torch.finfo(r.dtype).eps * 1e3)).any()):
            basis = None  # rank-deficient: use the SVD's numerical rank instead
    if basis is None:
        u, s, _ = torch.linalg.svd(predictor, full_matrices=False)
        keep = s > s.amax(dim=-1, keepdim=True) * (max(n, q) * torch.finfo(s.dtype).eps)
        basis = u * keep.unsqueeze(-2).to(u.dtype)
    # the fit is the projection Q Qᵀt of each centred target column t, so no residual is needed:
    # R² = ‖Qᵀt‖²/‖t‖², and Pearson r = ⟨t, QQᵀt⟩/(‖t‖‖QQᵀt‖) = ‖Qᵀt‖/‖t‖ (both have zero mean)
    explained = (basis.mT @ target).square().sum(dim=-2)
    total = target.square().sum(dim=-2)
    if aggregate == "pooled":
        return explained.sum(dim=-1) / total.sum(dim=-1)
    valid = (total > 0) & ((explained > 0) | (aggregate == "per_unit"))
    ones = torch.ones_like(total)
    ratio = torch.where(valid, explained / torch.where(valid, total, ones), ones)  # masked entries: no 0/0 or √0
    if aggregate == "per_unit":
        return _masked_mean(ratio, valid, "per-unit R²")
    return _masked_mean(ratio.sqrt(), valid, "per-unit Pearson r")


def _ridge_scores(target, predictor, lam: float, bounds: list[int] | None, aggregate: str, family: str):
    """Mean fold score of ridge (λ ≥ 0) predicting ``target`` from ``predictor``.

    Both are globally centred and already in fold order; ``bounds=None`` means in-sample.
    """
    if bounds is None:
        eye = torch.eye(predictor.shape[-1], dtype=predictor.dtype, device=predictor.device)
        regularized = gram(predictor) + lam * eye
        prediction = _ridge_predict(predictor, regularized, predictor.mT @ target, family, "all rows")
        return _fold_score(target, prediction, aggregate)

    n = predictor.shape[-2]
    # one output per fold: each fold's gradient arrives on its own (slicing one output would
    # scatter every fold's gradient into a zero-filled tensor of the full size)
    predictions = _KFoldRidgePredictions.apply(target, predictor, lam, tuple(bounds), family)
    target_sums = target.sum(dim=-2)
    scores = []
    for (lo, hi), prediction in zip(zip(bounds[:-1], bounds[1:]), predictions):
        t_f = target[..., lo:hi, :]
        mean_t = (target_sums - t_f.sum(dim=-2)) / (n - (hi - lo))  # training mean of the target
        scores.append(_fold_score(t_f - mean_t[..., None, :], prediction, aggregate))
    return torch.stack(scores, dim=-1).mean(dim=-1)


def _total(terms: list[torch.Tensor]) -> torch.Tensor:
    """Sum of same-shape tensors, accumulated in place into a copy of the first."""
    total = terms[0].clone()
    for term in terms[1:]:
        total.add_(term)
    return total


def _outer(u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    return u[..., :, None] * v[..., None, :]


def _sub_outer_(a: torch.Tensor, u: torch.Tensor, v: torch.Tensor, alpha: float) -> torch.Tensor:
    """a −= alpha · u vᵀ in place (u, v broadcast over a's leading dimensions), without forming u vᵀ."""
    if a.ndim == 2:
        return a.addr_(u, v, alpha=-alpha)
    if a.ndim == 3:
        lead = a.shape[:1]
        return a.baddbmm_(u.expand(*lead, -1)[..., :, None], v.expand(*lead, -1)[..., None, :], alpha=-alpha)
    return a.sub_(_outer(u, v), alpha=alpha)


def _matvec(m: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    return (m @ v[..., None])[..., 0]


def _sum_to_shape(grad: torch.Tensor, shape: torch.Size) -> torch.Tensor:
    """Undo broadcasting of a leading batch dimension (a bound reference scored against a batch)."""
    while grad.ndim > len(shape):
        grad = grad.sum(dim=0)
    return grad


class _KFoldRidgePredictions(torch.autograd.Function):
    """Test-fold predictions of K-fold ridge (one tensor per fold), every fold centred with its training means.

    Fold f (rows in ``bounds[f]:bounds[f+1]``, everything else trains): with training means μ_P,
    μ_T, A = G − G_f − n_tr μ_P μ_Pᵀ + λI, C = PᵀT − P_fᵀT_f − n_tr μ_P μ_Tᵀ and P̃_f = P_f − μ_P,
    the prediction is E_f = P̃_f A⁻¹ C. The per-fold Grams G_f, P_fᵀT_f are computed once and
    summed, so training Grams come by subtraction. Backward, per fold with Z = A⁻¹ C gE_fᵀ:
    ∂P̃_f = Zᵀ, ∂C = A⁻¹P̃_fᵀ gE_f, ∂A = −A⁻¹P̃_fᵀ Zᵀ; fold g's rows enter every other fold's
    Gram and cross-product, so ∂P_g = P_g Σ_{f≠g}(∂A_f + ∂A_fᵀ) + T_g Σ_{f≠g} ∂C_fᵀ + (mean terms).
    Two products per fold and a reused Cholesky factor: no q x q x q work beyond the factorization.
    """

    @staticmethod
    def forward(ctx, target, predictor, lam, bounds, family):
        n = predictor.shape[-2]
        folds = list(zip(bounds[:-1], bounds[1:]))
        grams = [predictor[..., lo:hi, :].mT @ predictor[..., lo:hi, :] for lo, hi in folds]
        crosses = [predictor[..., lo:hi, :].mT @ target[..., lo:hi, :] for lo, hi in folds]
        gram_all, cross_all = _total(grams), _total(crosses)
        sum_p, sum_t = predictor.sum(dim=-2), target.sum(dim=-2)
        predictions, saved = [], []
        for f, (lo, hi) in enumerate(folds):
            p_f, t_f = predictor[..., lo:hi, :], target[..., lo:hi, :]
            n_train = n - (hi - lo)
            mean_p = (sum_p - p_f.sum(dim=-2)) / n_train
            mean_t = (sum_t - t_f.sum(dim=-2)) / n_train
            # in place, into the fold's own Grams (not needed any more): a fresh q x q tensor costs more
            # in page faults than the pass over it
            a = _sub_outer_(torch.sub(gram_all, grams[f], out=grams[f]), mean_p, mean_p, n_train)
            a.diagonal(dim1=-2, dim2=-1).add_(lam)
            cross = _sub_outer_(torch.sub(cross_all, crosses[f], out=crosses[f]), mean_p, mean_t, n_train)
            chol, info = torch.linalg.cholesky_ex(a)
            _raise_if_singular(info, family, f"fold {f + 1}", a)
            solved = torch.cholesky_solve((p_f - mean_p[..., None, :]).mT, chol)  # A⁻¹ P̃_fᵀ
            predictions.append(solved.mT @ cross)
            saved += [chol, cross, solved, mean_p, mean_t]
        ctx.save_for_backward(target, predictor, *saved)
        ctx.bounds = bounds
        return tuple(predictions)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, *grads):
        target, predictor, *saved = ctx.saved_tensors
        need_target, need_predictor = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
        folds = list(zip(ctx.bounds[:-1], ctx.bounds[1:]))
        n = predictor.shape[-2]
        per_fold = []
        for f, (lo, hi) in enumerate(folds):
            chol, cross, solved, mean_p, mean_t = saved[5 * f: 5 * f + 5]
            n_train = n - (hi - lo)
            g_f = grads[f]
            z = torch.cholesky_solve(cross @ g_f.mT, chol)  # A⁻¹ C gEᵀ  (q x n_f)
            g_cross = solved @ g_f
            g_a = solved @ z.mT
            g_a = (g_a + g_a.mT).neg_()  # −(M + Mᵀ): ∂A symmetrized, as A is built from PᵀP terms
            g_centred_rows = z.mT
            g_mean_p = (-n_train * (_matvec(g_a, mean_p) + _matvec(g_cross, mean_t))
                        - g_centred_rows.sum(dim=-2))
            g_mean_t = -n_train * _matvec(g_cross.mT, mean_p)
            per_fold.append((g_a, g_cross, g_centred_rows, g_mean_p / n_train, g_mean_t / n_train))
        g_a_all = _total([item[0] for item in per_fold])
        g_cross_all = _total([item[1] for item in per_fold])
        # μ_f = (Σ_all rows − Σ_fold rows)/n_train: every row gets Σ_f gμ_f/n_train, fold rows lose their own
        g_mean_p_all = sum(item[3] for item in per_fold)
        g_mean_t_all = sum(item[4] for item in per_fold)
        grad_p = grad_t = None
        if need_predictor:
            shape = torch.broadcast_shapes(predictor.shape[:-2], target.shape[:-2]) + predictor.shape[-2:]
            grad_p = predictor.new_empty(shape)
        if need_target:
            shape = torch.broadcast_shapes(predictor.shape[:-2], target.shape[:-2]) + target.shape[-2:]
            grad_t = target.new_empty(shape)
        for f, (lo, hi) in enumerate(folds):
            g_a, g_cross, g_rows, g_mean_p, g_mean_t = per_fold[f]
            p_f, t_f = predictor[..., lo:hi, :], target[..., lo:hi, :]
            others_cross = torch.sub(g_cross_all, g_cross, out=g_cross)  # in place: each fold's own is done
            if need_predictor:
                rows = grad_p[..., lo:hi, :]
                rows.copy_(p_f @ torch.sub(g_a_all, g_a, out=g_a))
                rows.add_(t_f @ others_cross.mT).add_(g_rows).add_((g_mean_p_all - g_mean_p)[..., None, :])
            if need_target:
                grad_t[..., lo:hi, :] = p_f @ others_cross + (g_mean_t_all - g_mean_t)[..., None, :]
        if grad_p is not None:
            grad_p = _sum_to_shape(grad_p, predictor.shape)
        if grad_t is not None:
            grad_t = _sum_to_shape(grad_t, target.shape)
        return grad_t, grad_p, None, None, None


def _ridge_predict(test_rows, regularized_gram, cross, family: str, where: str):
    """Predictions P A⁻¹ C with A = ``regularized_gram`` (factored here, differentiated analytically)."""
    chol, info = torch.linalg.cholesky_ex(regularized_gram.detach())
    _raise_if_singular(info, family, where, regularized_gram)
    return _RidgePrediction.apply(test_rows, regularized_gram, cross, chol)


class _RidgePrediction(torch.autograd.Function):
    """E = P A⁻¹ C for the symmetric positive definite A = ``gram``, factored once as ``chol``.

    With gE the incoming gradient and Z = A⁻¹ C gEᵀ:  ∂P = Zᵀ,  ∂C = A⁻¹ Pᵀ gE,
    ∂A = −A⁻¹ Pᵀ Zᵀ. Every solve reuses the factor with as many right-hand sides as test
    rows, instead of differentiating the Cholesky factorization (several q x q x q products).
    """

    @staticmethod
    def forward(ctx, test_rows, gram, cross, chol):
        solved = torch.cholesky_solve(test_rows.mT, chol)  # A⁻¹ Pᵀ  (q x n_test)
        ctx.save_for_backward(chol, cross, solved)
        return solved.mT @ cross

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad):
        chol, cross, solved = ctx.saved_tensors
        back = torch.cholesky_solve(cross @ grad.mT, chol)  # Z = A⁻¹ C gEᵀ  (q x n_test)
        return back.mT, -(solved @ back.mT), solved @ grad, None


def _raise_if_singular(info: torch.Tensor, family: str, where: str, gram: torch.Tensor) -> None:
    if bool((info != 0).any()):
        if not bool(torch.isfinite(gram.detach()).all()):  # an absolute lambda leaves the predictor unscaled
            raise ValueError(
                f"{family}: the predictor's values overflow its training Gram matrix in {gram.dtype} ({where}); "
                f"ridge with an absolute lambda depends on the predictor's scale: rescale it (or use "
                f"linear_regression, which is scale-invariant)"
            )
        raise ValueError(
            f"{family}: the predictor's training Gram matrix is singular ({where}): more predictor units "
            f"than training samples, or collinear units; use ridge with lambda > 0"
        )


class _Regression(Family):
    supports_cv = True
    outputs = ("r2",)
    default_output = "r2"
    fixed_lambda: float | None = None
    common_parameters = (
        Parameter("split", "choice", "conditions", "how folds are formed", choices=SPLITS, in_name="non_default",
                  relevant=("cv", "any")),
        Parameter("seed", "int", 0, "seed of split=shuffle", relevant=("split", ("shuffle",))),
        Parameter("aggregate", "choice", "pooled", "pooled R², mean per-unit R², or mean per-unit Pearson r",
                  choices=("pooled", "per_unit", "pearson"), in_name="non_default"),
        Parameter("direction", "choice", "x_from_y", "which input is predicted",
                  choices=("x_from_y", "y_from_x", "symmetric"), in_name="non_default"),
    )

    def lam(self, params) -> float:
        return self.fixed_lambda if self.fixed_lambda is not None else params["lambda"]

    def metadata(self, params, output):
        direction, aggregate, cv = params["direction"], params["aggregate"], params.get("cv")
        unregularized = self.lam(params) == 0
        predictor = {"permutation", "rotation", "translation"}
        if unregularized:
            predictor |= {"isotropic_scale", "invertible_linear"}
        target = {"permutation", "translation", "isotropic_scale"}
        if aggregate == "pooled":
            target.add("rotation")
        x_inv, y_inv = (target, predictor) if direction == "x_from_y" else (predictor, target)
        if direction == "symmetric":
            x_inv = y_inv = target & predictor
        low = -1.0 if aggregate == "pearson" else (0.0 if cv is None else -math.inf)
        return Metadata(
            kind="score", range=(low, 1.0), symmetric=direction == "symmetric",
            invariances={"X": frozenset(x_inv), "Y": frozenset(y_inv)}, differentiable=True,
            needs_n_by_n=False, reference=REFERENCE,
        )

    def min_samples(self, params):
        folds = params.get("cv")
        if folds is not None and folds > 3:
            return folds, f"{folds} folds need at least {folds} samples, one per test fold"
        return super().min_samples(params)

    def check(self, dx: Data, dy: Data, params):
        folds = params.get("cv")
        if folds is None:
            return
        split = params["split"]
        if split == "conditions":
            count, what = (dx.n_conditions or dx.n_samples), "conditions" if dx.n_conditions else "samples"
        else:
            count, what = dx.n_samples, "samples"
        if count < folds:
            raise ValueError(f"{self.name}: {folds} folds need at least {folds} {what}, the inputs have {count}")
        _, bounds = fold_order(dx.n_samples, dx.n_conditions, folds, split, params.get("seed", 0))
        smallest_train = dx.n_samples - max(b - a for a, b in zip(bounds[:-1], bounds[1:]))
        if smallest_train < 2:
            raise ValueError(f"{self.name}: a fold leaves fewer than 2 training samples; use fewer folds")

    def prepare(self, data, params):
        centred = center(data.values)
        folds = params.get("cv")
        bounds = None
        if folds is not None:
            order, bounds = fold_order(data.n_samples, data.n_conditions, folds, params["split"], params.get("seed", 0))
            if not np.array_equal(order, np.arange(len(order))):  # split="samples" keeps the rows in place
                centred = centred[..., torch.as_tensor(order, device=centred.device), :]
        # the predictor role only sees the Gram of its rows, so its units can be reduced exactly
        return {"target": centred, "predictor": reduce_units(centred), "bounds": bounds}

    def _one_direction(self, target_side, predictor_side, params):
        # a cached reference (n, p) broadcasts against a batch (B, n, q) in every product below
        target, predictor = target_side["target"], predictor_side["predictor"]
        lam, bounds = self.lam(params), target_side["bounds"]
        if lam == 0 and bounds is None:
            return _in_sample_ols(target, predictor, params["aggregate"])
        return _ridge_scores(target, predictor, lam, bounds, params["aggregate"], self.name)

    def evaluate(self, px, py, params, output):
        direction = params["direction"]
        if direction == "x_from_y":
            return self._one_direction(px, py, params)
        if direction == "y_from_x":
            return self._one_direction(py, px, params)
        return 0.5 * (self._one_direction(px, py, params) + self._one_direction(py, px, params))


class LinearRegression(_Regression):
    name = "linear_regression"
    summary = "OLS R² predicting X from Y (in-sample unless cv is given)"
    fixed_lambda = 0.0
    parameters = _Regression.common_parameters


class Ridge(_Regression):
    name = "ridge"
    summary = "ridge regression R² predicting X from Y, optionally K-fold cross-validated"
    parameters = (Parameter("lambda", "float", 1.0, "ridge penalty λ on ‖B‖²_F", low=0.0),) + \
        _Regression.common_parameters
    keyword_aliases = {"lam": "lambda"}

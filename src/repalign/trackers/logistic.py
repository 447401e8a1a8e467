r"""Batched L2-regularized logistic regression by Newton's method, for the decoding tracker.

Every (run × time bin × fold × variable) problem of a :class:`~repalign.trackers.Decoding` call is
solved at once: features in the span of the training rows (:func:`span_features`), then Newton
steps with an Armijo line search on all problems of the batch (:func:`newton_logistic`).
"""

from __future__ import annotations

import math

import torch

__all__ = ["span_features", "newton_logistic", "CHUNK_BYTES"]

# memory budget (bytes) of the largest intermediate tensors of one Decoding chunk
CHUNK_BYTES = 1 << 26
_ARMIJO = 1e-4  # sufficient-decrease constant of the Newton line search
_MAX_HALVINGS = 40
_MAX_DOUBLINGS = 2


def span_features(gram_train: torch.Tensor, gram_test: torch.Tensor, weight: torch.Tensor):
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


def newton_logistic(features: torch.Tensor, labels: torch.Tensor, weight: torch.Tensor, n_classes: int,
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


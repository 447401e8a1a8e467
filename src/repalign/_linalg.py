"""Numerical building blocks shared by the measure families and the trackers (private to repalign).

All functions take tensors with optional leading batch dimensions ``(..., n, p)``.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import torch

# 1 - s below this many ulps of 1 cannot be resolved from a score s computed in floating
# point (its rounding error alone is that large); arccos and sqrt report exactly 0 there
# instead of ~sqrt(2 * noise), which is noise amplified to ~1e-8 in float64.
SNAP_ULPS = 64


def snap_tolerance(dtype: torch.dtype) -> float:
    return SNAP_ULPS * torch.finfo(dtype).eps


class _Center(torch.autograd.Function):
    """x − its mean over samples. The centring projection is symmetric, so the backward is the same
    map applied to the gradient: two passes over it, where autograd's sub/mean/expand chain takes four."""

    @staticmethod
    def forward(ctx, x):
        return x - x.mean(dim=-2, keepdim=True)

    @staticmethod
    def backward(ctx, grad):
        return _Center.apply(grad)  # linear: differentiable again through the same function


def center(x: torch.Tensor) -> torch.Tensor:
    """Subtract each unit's mean over samples (columns centred)."""
    return _Center.apply(x)


class _SquaredNorm(torch.autograd.Function):
    """‖x‖²_F over the last two dimensions in one reading pass (no squared copy), gradient 2·x·g."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return torch.linalg.vector_norm(x, dim=(-2, -1)).square()

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return x * (2 * grad)[..., None, None]


def squared_norm(x: torch.Tensor) -> torch.Tensor:
    """Squared Frobenius norm of the last two dimensions of ``x``."""
    return _SquaredNorm.apply(x)


def reduce_units(x: torch.Tensor) -> torch.Tensor:
    """Exact reduction of ``(..., n, p)`` with p > n to ``(..., n, n)`` with the same Gram matrix.

    ``x @ Q`` with Q an orthonormal basis of x's row space (from QR of xᵀ) keeps x xᵀ, so
    every measure invariant to rotations of the units gives the same value. Q is computed
    without gradient: to first order the gradient is still exact, because the perturbation
    of x that leaves its row space is annihilated in x xᵀ (x Q Qᵀ = x). Centring commutes
    with the reduction, so it may be applied to raw or centred data.
    """
    n, p = x.shape[-2], x.shape[-1]
    if p <= n:
        return x
    q, _ = torch.linalg.qr(x.detach().mT, mode="reduced")
    return x @ q


def frobenius_cross_sq(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """‖aᵀb‖²_F = ⟨a aᵀ, b bᵀ⟩ through the (p x q) cross-product: no n x n matrix."""
    return (a.mT @ b).square().sum(dim=(-2, -1))


class _Gram(torch.autograd.Function):
    """xᵀx with the gradient x (g + gᵀ) in one product (autograd differentiates both factors)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x.mT @ x

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return x @ (grad + grad.mT)


def gram(x: torch.Tensor) -> torch.Tensor:
    """The (p x p) Gram matrix xᵀx of the columns of ``x``."""
    return _Gram.apply(x)


class _GramFrobeniusSq(torch.autograd.Function):
    """‖xᵀx‖²_F with the gradient 4·x·(xᵀx) in one product (autograd would use two)."""

    @staticmethod
    def forward(ctx, x):
        gram = x.mT @ x
        ctx.save_for_backward(x, gram)
        return gram.square().sum(dim=(-2, -1))

    @staticmethod
    def backward(ctx, grad):
        x, gram = ctx.saved_tensors
        return x @ (gram * (4 * grad)[..., None, None])  # the scale on the q x q factor, not on the result


def gram_frobenius_sq(x: torch.Tensor) -> torch.Tensor:
    """‖xᵀx‖²_F = ‖x xᵀ‖²_F (twice differentiable only through the first derivative)."""
    return _GramFrobeniusSq.apply(x)


class _NuclearNorm(torch.autograd.Function):
    """‖A‖_* through the eigenvalues of the smaller Gram matrix, SVD when that is inaccurate.

    The eigenvalues μ of AᵀA (or AAᵀ) are the squared singular values, each with an absolute
    error of order τ = 8·ε·μ_max from forming and decomposing the Gram. A singular value then
    carries an error of at most √τ (when μ_i < τ) or τ/(2√μ_i): the sum of these bounds the
    error of the nuclear norm. When it exceeds ``rtol(dtype)`` times the norm (rank-deficient or
    nearly so, e.g. a low-rank input with many units) the singular values come from an SVD of
    A instead. The gradient is U Vᵀ over the non-zero singular values (the minimum-norm
    subgradient where A is rank-deficient).
    """

    @staticmethod
    def rtol(dtype: torch.dtype) -> float:
        """Accepted relative error of the eigenvalue route: 1.6e-10 in float64, 5e-5 in float32."""
        return torch.finfo(dtype).eps ** 0.625

    @staticmethod
    def forward(ctx, a):
        p, q = a.shape[-2], a.shape[-1]
        needs_grad = ctx.needs_input_grad[0]
        left = p < q  # eigendecompose A Aᵀ (p x p) when it is the smaller Gram
        gram = a @ a.mT if left else a.mT @ a
        if needs_grad:
            mu, w = torch.linalg.eigh(gram)
        else:  # eigenvalues only: about a third cheaper
            mu, w = torch.linalg.eigvalsh(gram), None
        mu = mu.clamp_min(0)
        sigma = mu.sqrt()
        tau = 8 * torch.finfo(a.dtype).eps * mu.amax(dim=-1, keepdim=True)
        error_bound = torch.where(mu < tau, tau.sqrt(), tau / (2 * sigma.clamp_min(torch.finfo(a.dtype).tiny)))
        ctx.left, ctx.svd = left, False
        if bool((error_bound.sum(dim=-1) <= _NuclearNorm.rtol(a.dtype) * sigma.sum(dim=-1)).all()):
            if needs_grad:
                ctx.save_for_backward(a, w, sigma)
        elif not needs_grad:
            sigma = torch.linalg.svdvals(a)
        else:
            u, sigma, vh = torch.linalg.svd(a, full_matrices=False)
            # Σ u_i v_iᵀ over the singular values that are not rounding noise of a zero. The cut is
            # √max(p, q)·ε·σ_max, not the rank tolerance max(p, q)·ε·σ_max: in float32 at 727 units
            # that is 8.7e-5·σ_max, above real singular values of X̄ᵀȲ once Y nears an ill-conditioned
            # X (σ_min/σ_max ≈ 6e-5 on mante_like), and dropping them bent the gradient (57 steps to
            # angular Procrustes 0.99 instead of 47). Keeping a noise direction instead stays a valid
            # subgradient (the null-space block of ∂‖A‖_* is any contraction), only not the minimum-norm one.
            keep = sigma > sigma.amax(dim=-1, keepdim=True) * (max(p, q) ** 0.5 * torch.finfo(a.dtype).eps)
            ctx.save_for_backward((u * keep.unsqueeze(-2).to(u.dtype)) @ vh)
            ctx.svd = True
        return sigma.sum(dim=-1)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad):
        if ctx.svd:
            (uv,) = ctx.saved_tensors
        else:
            a, w, sigma = ctx.saved_tensors
            inv = w * sigma.reciprocal().unsqueeze(-2)  # W Σ⁻¹
            # A = U Σ Vᵀ: right Gram (W = V) gives U Vᵀ = A V Σ⁻¹ Vᵀ; left (W = U) gives U Σ⁻¹ Uᵀ A
            uv = (a @ inv) @ w.mT if not ctx.left else inv @ (w.mT @ a)
        return grad[..., None, None] * uv


def nuclear_norm(a: torch.Tensor) -> torch.Tensor:
    """Sum of singular values of the last two dimensions of ``a``."""
    return _NuclearNorm.apply(a)


class _SnappedArccos(torch.autograd.Function):
    """arccos on [-1, 1] that is exactly 0 within ``snap_tolerance`` of 1 and has finite gradients.

    Near 1, arccos(s) ≈ √(2(1 − s)) and the derivative −1/√(1 − s²) diverges; the gradient of
    a composed distance stays finite because ds → 0 there. In the snapped region the value
    is constant 0 and so is the gradient (the minimum of the distance).
    """

    @staticmethod
    def forward(ctx, s):
        tol = snap_tolerance(s.dtype)
        s = s.clamp(-1.0, 1.0)
        snapped = s >= 1.0 - tol
        ctx.save_for_backward(s, snapped)
        return torch.where(snapped, torch.zeros_like(s), torch.arccos(s))

    @staticmethod
    def backward(ctx, grad):
        s, snapped = ctx.saved_tensors
        floor = torch.finfo(s.dtype).tiny
        slope = -torch.rsqrt((1.0 - s * s).clamp_min(floor))
        return torch.where(snapped, torch.zeros_like(s), grad * slope)


def angular(score: torch.Tensor) -> torch.Tensor:
    """arccos(score) in radians, exact 0 at the boundary (see ``_SnappedArccos``)."""
    return _SnappedArccos.apply(score)


def angular_score(score: torch.Tensor) -> torch.Tensor:
    """The seed paper's rescaling 1 − arccos(score)/(π/2): 1 for identical, 0 for orthogonal."""
    return 1.0 - angular(score) / (math.pi / 2)


def snapped_sqrt(squared: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """√squared, exactly 0 where ``squared <= snap_tolerance * scale`` (cancellation noise), finite gradient."""
    tol = snap_tolerance(squared.dtype)
    snapped = squared <= tol * scale
    safe = torch.where(snapped, torch.ones_like(squared), squared)
    return torch.where(snapped, torch.zeros_like(squared), safe.sqrt())


def snapped_nonnegative(squared: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """``squared`` with cancellation noise below ``snap_tolerance * scale`` (and negatives) set to 0."""
    tol = snap_tolerance(squared.dtype)
    return torch.where(squared <= tol * scale, torch.zeros_like(squared), squared)


def orthonormal_basis(xc: torch.Tensor, name: str, family: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Q, R of the reduced QR of centred data, refusing rank-deficient input.

    Used by CCA-type measures, which are undefined (all correlations 1) when a side has
    as many units as samples or linearly dependent units.
    """
    n, p = xc.shape[-2], xc.shape[-1]
    if p >= n:
        raise ValueError(
            f"{family} needs more samples than units in {name} (found {n} samples, {p} units): canonical "
            f"correlations are trivially 1 otherwise; reduce units first (e.g. svcca) or use a regularized measure"
        )
    q, r = torch.linalg.qr(xc, mode="reduced")
    diag = r.detach().diagonal(dim1=-2, dim2=-1).abs()
    # |R_ii| is the norm of unit i's part outside the span of the units before it: compared with the
    # unit's own norm, so that a unit of small variance is not taken for a dependent one
    norms = xc.detach().norm(dim=-2)
    relative = diag / norms.clamp_min(torch.finfo(xc.dtype).tiny)
    tol = max(n, p) * torch.finfo(xc.dtype).eps * 100
    independent = (relative > tol) & (norms > 0)
    if not bool(independent.all()):
        rank = int(independent.sum(dim=-1).min())
        raise ValueError(
            f"{family}: the centred units of {name} are linearly dependent (numerical rank {rank} < {p} units; "
            f"constant or duplicated units?); remove them or use svcca"
        )
    return q, r


class PrincipalComponents(NamedTuple):
    """The thin SVD of centred data ``X − 1x̄ᵀ = U diag(s) Vᵀ``, cut to its numerical rank."""

    mean: np.ndarray  # (p,) the column means
    u: np.ndarray  # (n, r) the PC scores, normalized
    s: np.ndarray  # (r,) singular values, descending
    vt: np.ndarray  # (r, p) the PC directions
    rank: int


def principal_components(matrix: np.ndarray) -> PrincipalComponents:
    """PCA of a float64 ``(samples, units)`` numpy matrix: centre the columns, thin SVD, keep the rank.

    The rank counts the singular values above ``max(n, p)·ε·s_max`` (numpy's ``matrix_rank`` rule);
    zero data have rank 0 (and empty factors).

    >>> pcs = principal_components(np.array([[0.0, 1.0], [2.0, 3.0], [4.0, 5.0]]))
    >>> pcs.rank, pcs.mean.tolist()
    (1, [2.0, 3.0])
    """
    mean = matrix.mean(axis=0)
    u, s, vt = np.linalg.svd(matrix - mean, full_matrices=False)
    rank = int(np.sum(s > s[0] * max(matrix.shape) * np.finfo(np.float64).eps)) if s.size and s[0] > 0 else 0
    return PrincipalComponents(mean, u[:, :rank], s[:rank], vt[:rank], rank)

r"""Centered kernel alignment (Kornblith et al. 2019) with three HSIC estimators.

For Gram matrices K = X̄X̄ᵀ and L = ȲȲᵀ (linear kernel) or Gaussian kernels,

.. math::
    \mathrm{CKA}(K, L) = \frac{\mathrm{HSIC}(K, L)}{\sqrt{\mathrm{HSIC}(K, K)\,\mathrm{HSIC}(L, L)}}

- ``hsic=gretton`` (biased): HSIC ∝ ⟨HKH, HLH⟩; for the linear kernel
  CKA = ‖X̄ᵀȲ‖²_F / (‖X̄ᵀX̄‖_F ‖ȲᵀȲ‖_F).
- ``hsic=song`` (unbiased, Song et al. 2012): with K̃, L̃ the Grams with zeroed diagonals,
  HSIC_u = [tr(K̃L̃) + (1ᵀK̃1)(1ᵀL̃1)/((n−1)(n−2)) − 2·1ᵀK̃L̃1/(n−2)] / (n(n−3)). Needs n ≥ 4.
- ``hsic=lange``: HKH and HLH with their diagonals set to zero, then cosine similarity.

The linear kernel never forms an n x n matrix: with centred data, K1 = 0, so
tr(K̃L̃) = ‖X̄ᵀȲ‖²_F − Σ_i K_ii L_ii, 1ᵀK̃1 = −Σ_i K_ii and 1ᵀK̃L̃1 = Σ_i K_ii L_ii, all from the
(p x q) cross-product and the row norms. Units beyond the sample count are first reduced
exactly (the Gram matrix is unchanged), so the cost is O(n·p·q) with p, q ≤ n.

Example
-------
>>> import numpy as np, repalign
>>> rng = np.random.default_rng(0)
>>> X = rng.normal(size=(100, 10))
>>> round(repalign.measure("cka")(X, 2 * X + 1), 12)
1.0
"""

from __future__ import annotations

import math

import torch

from .._linalg import angular, angular_score, center, frobenius_cross_sq, gram_frobenius_sq, reduce_units
from ._family import ROTATION_INVARIANT, Family, Metadata, Parameter, symmetric_invariances

REFERENCE = (
    "Kornblith et al. 2019, Similarity of neural network representations revisited (ICML); "
    "HSIC estimators: Gretton et al. 2005, Song et al. 2012, Lange et al. 2022"
)


def _gaussian_gram(x: torch.Tensor, sigma, sigma_factor: float, name: str) -> torch.Tensor:
    """exp(−‖x_i − x_j‖²/(2σ²)); σ absolute, or the median pairwise distance times ``sigma_factor``.

    A median of 0 (most samples coincide) leaves no width: ``ValueError`` naming the input.
    Distances are formed on x̄/c, c a power of two near max|x̄| (exact); with an absolute σ, which
    the registry cannot normalize, c re-enters only in the exponent as (c/σ)², so that data far
    from σ's scale give exp(−∞) = 0 or exp(0) = 1 instead of ∞ − ∞ = NaN.
    """
    xc = center(x)  # distances are translation invariant; centring keeps the expansion accurate
    power = torch.exp2(torch.frexp(xc.detach().abs().amax(dim=(-2, -1))).exponent.to(x.dtype))
    xc = xc / power[..., None, None]
    sq_norms = xc.square().sum(dim=-1)
    sq_dist = (sq_norms[..., :, None] + sq_norms[..., None, :] - 2 * xc @ xc.mT).clamp_min(0)
    # exactly 0 from a sample to itself: the expansion leaves rounding residue there, which a small σ
    # turned into exp(−large) = 0 on the diagonal
    sq_dist = _zero_diagonal(sq_dist)
    if sigma == "median":
        n = x.shape[-2]
        rows, cols = torch.triu_indices(n, n, offset=1, device=x.device)
        dist = sq_dist[..., rows, cols].clamp_min(torch.finfo(x.dtype).tiny).sqrt().sort(dim=-1).values
        m = dist.shape[-1]
        median = 0.5 * (dist[..., (m - 1) // 2] + dist[..., m // 2])
        if bool((median.detach() <= torch.finfo(x.dtype).tiny ** 0.5).any()):
            raise ValueError(f"{name}: the median pairwise distance is 0 (most samples coincide), so sigma='median' "
                             f"gives the Gaussian kernel no width; give an absolute sigma or distinct samples")
        return torch.exp(-sq_dist / (2 * ((median * sigma_factor)[..., None, None]) ** 2))
    ratio_sq = ((power / sigma) ** 2)[..., None, None]  # may overflow to inf or underflow to 0
    scaled = torch.where(sq_dist > 0, sq_dist * ratio_sq, torch.zeros_like(sq_dist))  # no 0·inf on the diagonal
    return torch.exp(-0.5 * scaled)


def _double_center(k: torch.Tensor) -> torch.Tensor:
    return k - k.mean(dim=-1, keepdim=True) - k.mean(dim=-2, keepdim=True) + k.mean(dim=(-2, -1), keepdim=True)


def _zero_diagonal(k: torch.Tensor) -> torch.Tensor:
    return k - torch.diag_embed(k.diagonal(dim1=-2, dim2=-1))


def _song_from_parts(kl, dk_dl, sum_k, sum_l, n):
    """n(n−3)·HSIC_u from tr(K̃L̃), 1ᵀK̃L̃1-type terms and the sums 1ᵀK̃1, 1ᵀL̃1."""
    return kl + sum_k * sum_l / ((n - 1) * (n - 2)) - 2 * dk_dl / (n - 2)


class CKA(Family):
    name = "cka"
    summary = "centered kernel alignment (linear or Gaussian kernel; biased, unbiased or Lange HSIC)"
    parameters = (
        Parameter("kernel", "choice", "linear", "kernel on samples", choices=("linear", "rbf")),
        Parameter(
            "sigma", "float_or_median", "median", "Gaussian kernel width (absolute) or 'median'",
            low=0.0, positive=True, relevant=("kernel", ("rbf",)), nested_in="kernel",
        ),
        Parameter(
            "sigma_factor", "float", 1.0, "multiplies the median pairwise distance when sigma='median'",
            low=0.0, positive=True, in_name="always", relevant=("sigma", ("median",)), nested_in="kernel",
        ),
        Parameter("hsic", "choice", "gretton", "HSIC estimator", choices=("gretton", "song", "lange")),
    )
    outputs = ("score", "distance=angular", "angular_score")
    default_output = "score"

    def metadata(self, params, output):
        biased = params["hsic"] == "gretton"
        low = 0.0 if biased else -1.0
        ranges = {
            "score": (low, 1.0),
            "distance=angular": (0.0, math.pi / 2 if biased else math.pi),
            "angular_score": (low, 1.0),
        }
        invariant = set(ROTATION_INVARIANT)
        if params["kernel"] == "rbf" and params.get("sigma") != "median":
            invariant.discard("isotropic_scale")
        return Metadata(
            kind="distance" if output.startswith("distance") else "score",
            range=ranges[output],
            symmetric=True,
            invariances=symmetric_invariances(invariant),
            differentiable=True,
            needs_n_by_n=params["kernel"] == "rbf",
            reference=REFERENCE,
            is_metric=output == "distance=angular" and biased,
        )

    def min_samples(self, params):
        if params["hsic"] == "song":
            return 4, "the unbiased HSIC divides by n(n − 3)"
        return super().min_samples(params)

    def prepare(self, data, params):
        x = data.values
        if params["kernel"] == "rbf":
            gram = _gaussian_gram(x, params["sigma"], params.get("sigma_factor", 1.0), data.name)
            prepared = {"gram": gram}
            if params["hsic"] == "song":
                prepared["gram"] = _zero_diagonal(gram)
            else:
                centred = _double_center(gram)
                prepared["gram"] = _zero_diagonal(centred) if params["hsic"] == "lange" else centred
            prepared["self"] = self._kernel_hsic(prepared["gram"], prepared["gram"], params)
            return prepared
        xc = center(reduce_units(x))
        prepared = {"x": xc}
        if params["hsic"] != "gretton":  # the diagonal terms of the unbiased and Lange estimators
            diag = xc.square().sum(dim=-1)  # K_ii
            prepared.update(diag=diag, sum=diag.sum(dim=-1))
        prepared["self"] = self._linear_hsic(prepared, prepared, gram_frobenius_sq(xc), params)
        return prepared

    @staticmethod
    def _linear_hsic(px, py, cross, params):
        if params["hsic"] == "gretton":
            return cross
        dk_dl = (px["diag"] * py["diag"]).sum(dim=-1)
        if params["hsic"] == "lange":
            return cross - dk_dl
        n = px["diag"].shape[-1]
        return _song_from_parts(cross - dk_dl, dk_dl, -px["sum"], -py["sum"], n)

    @staticmethod
    def _kernel_hsic(k, l, params):
        """Gretton/Lange: ⟨K', L'⟩ of the prepared matrices; Song: the unbiased formula (O(n²))."""
        inner = (k * l).sum(dim=(-2, -1))
        if params["hsic"] != "song":
            return inner
        n = k.shape[-1]
        return _song_from_parts(
            inner, (k.sum(dim=-1) * l.sum(dim=-1)).sum(dim=-1), k.sum(dim=(-2, -1)), l.sum(dim=(-2, -1)), n
        )

    def evaluate(self, px, py, params, output):
        if params["kernel"] == "rbf":
            hsic = self._kernel_hsic(px["gram"], py["gram"], params)
        else:
            hsic = self._linear_hsic(px, py, frobenius_cross_sq(px["x"], py["x"]), params)
        for side, prepared in (("X", px), ("Y", py)):
            if bool((prepared["self"] <= 0).any()):
                constant = " (σ is far from the scale of the data)" if params["kernel"] == "rbf" else ""
                raise ValueError(
                    f"cka ({params['hsic']} HSIC): the HSIC of {side} with itself is not positive "
                    f"({prepared['self'].detach().min().item():.3g}): its centred kernel matrix is 0{constant} "
                    f"or there are too few samples for this estimator"
                )
        cka = hsic / (px["self"].sqrt() * py["self"].sqrt())
        cka = cka.clamp(-1.0, 1.0)
        if output == "score":
            return cka
        if output == "distance=angular":
            return angular(cka)
        return angular_score(cka)

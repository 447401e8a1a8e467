r"""Normalized Bures similarity, Procrustes distances and the generalized shape metric.

.. math::
    \mathrm{NBS}(X, Y) = \frac{\|\bar X^\top \bar Y\|_*}{\|\bar X\|_F\,\|\bar Y\|_F}
    = \max_{Q \in O} \frac{\langle \bar X, \bar Y Q\rangle}{\|\bar X\|_F \|\bar Y\|_F}

(the smaller unit count zero-padded). From it (Williams et al. 2021; Harvey et al. 2023):

- ``procrustes-distance=angular`` = arccos(NBS) (a metric, radians);
- ``procrustes-angular_score`` = 1 − arccos(NBS)/(π/2), the seed paper's score;
- ``procrustes-distance=euclidean`` = √(‖X̄‖²_F + ‖Ȳ‖²_F − 2‖X̄ᵀȲ‖_*) (not normalized), and its square;
- ``shape_metric-alpha=α-distance=angular``: partial whitening X̄ ↦ X̄ V diag(α + (1−α)λ_i^{−1/2}) Vᵀ
  (λ_i, V: eigenpairs of X̄ᵀX̄) of both inputs, then the angular Procrustes distance. α = 1 is
  Procrustes; α = 0 gives arccos(Σρ_i/√(pq)), i.e. arccos of the mean canonical correlation
  when p = q. For 0 < α < 1 the value depends on the overall scale of the data (λ is not
  normalized, as in netrep), so it is not invariant to isotropic scaling. (netrep also rescales to preserve the total variance; angles are scale-free, so
  that step does not change the value.)

The nuclear norm is computed from the eigenvalues of the smaller Gram matrix of the (p x q)
cross-product, with an SVD fallback when that Gram is ill-conditioned; no n x n matrix.

Example
-------
>>> import numpy as np, repalign
>>> rng = np.random.default_rng(0)
>>> X = rng.normal(size=(200, 5))
>>> Q, _ = np.linalg.qr(rng.normal(size=(5, 5)))
>>> repalign.measure("procrustes")(X, X @ Q)   # rotation invariant: distance 0
0.0
"""

from __future__ import annotations

import math

import torch

from .._linalg import (
    angular,
    angular_score,
    center,
    nuclear_norm,
    reduce_units,
    snapped_nonnegative,
    snapped_sqrt,
    squared_norm,
)
from ._family import ROTATION_INVARIANT, Family, Metadata, Parameter, symmetric_invariances

NBS_REFERENCE = "Tang et al. 2020 (NBS); Harvey, Larsen & Williams 2023, Duality of Bures and shape distances"
PROCRUSTES_REFERENCE = "Williams et al. 2021, Generalized shape metrics on neural representations (NeurIPS)"


def _prepare_centred(data) -> dict:
    xc = center(reduce_units(data.values))
    return {"x": xc, "norm_sq": squared_norm(xc)}


def _nbs_parts(px, py):
    nuclear = nuclear_norm(px["x"].mT @ py["x"])
    nbs = (nuclear / (px["norm_sq"].sqrt() * py["norm_sq"].sqrt())).clamp(0.0, 1.0)
    return nuclear, nbs


class NBS(Family):
    name = "nbs"
    summary = "normalized Bures similarity ‖X̄ᵀȲ‖_* / (‖X̄‖‖Ȳ‖)"
    outputs = ("score",)
    default_output = "score"

    def metadata(self, params, output):
        return Metadata(
            kind="score", range=(0.0, 1.0), symmetric=True,
            invariances=symmetric_invariances(ROTATION_INVARIANT), differentiable=True,
            needs_n_by_n=False, reference=NBS_REFERENCE,
        )

    def prepare(self, data, params):
        return _prepare_centred(data)

    def evaluate(self, px, py, params, output):
        return _nbs_parts(px, py)[1]


class Procrustes(Family):
    name = "procrustes"
    summary = "Procrustes distance: angular arccos(NBS), the seed paper's angular score, or Euclidean"
    # "procrustes-score" is NBS and resolves to the canonical "nbs-score" (see the registry)
    outputs = ("distance=angular", "angular_score", "distance=euclidean", "distance=squared_euclidean")
    default_output = "distance=angular"

    def metadata(self, params, output):
        invariant = set(ROTATION_INVARIANT)
        ranges = {
            "distance=angular": (0.0, math.pi / 2),
            "angular_score": (0.0, 1.0),
            "distance=euclidean": (0.0, math.inf),
            "distance=squared_euclidean": (0.0, math.inf),
        }
        if output in ("distance=euclidean", "distance=squared_euclidean"):
            invariant.discard("isotropic_scale")
        return Metadata(
            kind="distance" if output.startswith("distance") else "score", range=ranges[output],
            symmetric=True, invariances=symmetric_invariances(invariant), differentiable=True,
            needs_n_by_n=False, reference=PROCRUSTES_REFERENCE,
            is_metric=output in ("distance=angular", "distance=euclidean"),
            degree={"distance=euclidean": 1, "distance=squared_euclidean": 2}.get(output, 0),
        )

    def prepare(self, data, params):
        return _prepare_centred(data)

    def evaluate(self, px, py, params, output):
        nuclear, nbs = _nbs_parts(px, py)
        if output == "distance=angular":
            return angular(nbs)
        if output == "angular_score":
            return angular_score(nbs)
        scale = px["norm_sq"] + py["norm_sq"]
        squared = scale - 2 * nuclear
        if output == "distance=squared_euclidean":
            return snapped_nonnegative(squared, scale)
        return snapped_sqrt(squared, scale)


def _partial_whitening(xc: torch.Tensor, alpha: float, name: str) -> torch.Tensor:
    """X̄ V diag(α + (1−α)λ^(−1/2)) Vᵀ up to a positive constant factor (angles ignore it).

    With c a power of two near max|X̄| and μ = λ/c² the eigenvalues of (X̄/c)ᵀ(X̄/c) (which
    neither overflow nor underflow at any scale: LAPACK's eigh fails on X̄ᵀX̄ near 1e±300), it
    returns (X̄/c) V diag(α·min(c, 1) + (1−α)μ^(−1/2)/max(c, 1)) Vᵀ, the whitened data times
    min(c, 1)/c: both terms stay of order 1. The registry does not rescale this measure for
    0 < α < 1, whose value depends on the data's scale.
    """
    n, p = xc.shape[-2], xc.shape[-1]
    if alpha == 1.0:
        return xc
    if p >= n:
        raise ValueError(
            f"shape_metric with alpha < 1 whitens {name}, which needs more samples than units "
            f"(found {n} samples, {p} units); use alpha=1 or reduce units first"
        )
    power = torch.exp2(torch.frexp(xc.detach().abs().amax(dim=(-2, -1))).exponent.to(xc.dtype))[..., None, None]
    xn = xc / power
    lam, v = torch.linalg.eigh(xn.mT @ xn)
    if bool((lam.detach().amin(dim=-1) <= lam.detach().amax(dim=-1) * 1e-12).any()):
        raise ValueError(
            f"shape_metric with alpha < 1: the covariance of {name} is singular (constant or collinear units); "
            f"whitening is undefined"
        )
    power = power[..., 0]
    scale = alpha * power.clamp(max=1.0) + (1 - alpha) * lam.rsqrt() / power.clamp(min=1.0)
    return xn @ (v * scale.unsqueeze(-2)) @ v.mT


class ShapeMetric(Family):
    name = "shape_metric"
    summary = "generalized shape metric: angular Procrustes after partial whitening (alpha=1 Procrustes, 0 CCA)"
    parameters = (Parameter("alpha", "float", 1.0, "whitening: 1 none (Procrustes), 0 full (CCA)", low=0.0, high=1.0),)
    outputs = ("distance=angular", "score", "angular_score")
    default_output = "distance=angular"

    def metadata(self, params, output):
        invariant = set(ROTATION_INVARIANT)
        if params["alpha"] == 0.0:
            invariant.add("invertible_linear")
        elif params["alpha"] < 1.0:
            # α + (1−α)λ^(−1/2) mixes two scales: partial whitening is not scale-free
            invariant.discard("isotropic_scale")
        ranges = {"distance=angular": (0.0, math.pi / 2), "score": (0.0, 1.0), "angular_score": (0.0, 1.0)}
        return Metadata(
            kind="distance" if output.startswith("distance") else "score", range=ranges[output],
            symmetric=True, invariances=symmetric_invariances(invariant), differentiable=True,
            needs_n_by_n=False, reference=PROCRUSTES_REFERENCE, is_metric=output == "distance=angular",
        )

    def prepare(self, data, params):
        xc = center(data.values)
        if params["alpha"] == 1.0:
            xc = reduce_units(xc)
        xw = _partial_whitening(xc, params["alpha"], data.name)
        return {"x": xw, "norm_sq": squared_norm(xw)}

    def evaluate(self, px, py, params, output):
        nbs = _nbs_parts(px, py)[1]
        if output == "score":
            return nbs
        if output == "distance=angular":
            return angular(nbs)
        return angular_score(nbs)

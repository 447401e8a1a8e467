r"""Canonical correlation analysis and its variants SVCCA and PWCCA.

Canonical correlations ρ_1 ≥ … ≥ ρ_k (k = min(p, q)) are the singular values of Q_xᵀQ_y with
X̄ = Q_xR_x and Ȳ = Q_yR_y (reduced QR). They need more samples than units and linearly
independent units; otherwise every ρ is 1 and a ``ValueError`` says so.

- ``cca-score`` = (1/k) Σ ρ_i; ``cca-squared_score`` = (1/k) Σ ρ_i² = ‖Q_xᵀQ_y‖²_F / k (R²_CCA).
- ``svcca-var=v-score``: keep the top principal components of X and of Y *separately* (the
  fewest explaining a fraction ≥ v of the variance), then ``cca-score`` of the PC scores,
  averaging min(d_x, d_y) correlations; ``svcca-dim=d-score`` keeps d PCs of each (Raghu et al. 2017).
- ``pwcca-score`` (Morcos et al. 2018), with the convention of their reference implementation:
  the weights come from the input with fewer units (X on a tie); with h_i the orthonormal
  canonical variates of that input and a_j its centred unit activations,
  α_i = Σ_j |⟨h_i, a_j⟩| and PWCCA = Σ α_i ρ_i / Σ α_i. The reference code adds the unit means
  back to the variates and weights uncentred activations; on column-centred data (what every
  repalign measure sees) the two coincide.

Example
-------
>>> import numpy as np, repalign
>>> rng = np.random.default_rng(0)
>>> X = rng.normal(size=(100, 4))
>>> A = rng.normal(size=(4, 4))                  # any invertible linear map
>>> round(repalign.measure("cca")(X, X @ A), 10)
1.0
"""

from __future__ import annotations

import torch

from .._linalg import center, nuclear_norm, orthonormal_basis
from ._family import ROTATION_INVARIANT, Family, Metadata, Parameter, symmetric_invariances

CCA_INVARIANT = ROTATION_INVARIANT | {"invertible_linear"}


def _score_metadata(reference: str, invariant, symmetric: bool = True) -> Metadata:
    return Metadata(
        kind="score", range=(0.0, 1.0), symmetric=symmetric, invariances=symmetric_invariances(invariant),
        differentiable=True, needs_n_by_n=False, reference=reference,
    )


class CCA(Family):
    name = "cca"
    summary = "mean (or mean squared) canonical correlation"
    outputs = ("score", "squared_score")
    default_output = "score"

    def metadata(self, params, output):
        return _score_metadata("Hotelling 1936, Relations between two sets of variates", CCA_INVARIANT)

    def prepare(self, data, params):
        q, _ = orthonormal_basis(center(data.values), data.name, "cca")
        return {"q": q}

    def evaluate(self, px, py, params, output):
        cross = px["q"].mT @ py["q"]
        k = min(cross.shape[-2:])
        if output == "squared_score":
            return (cross.square().sum(dim=(-2, -1)) / k).clamp(0.0, 1.0)
        return (nuclear_norm(cross) / k).clamp(0.0, 1.0)


def _principal_components(xc: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Orthonormal PC scores U (n x r, by decreasing variance) and the variances (detached).

    From ``eigh`` of the smaller Gram matrix instead of an SVD of the data (several times
    cheaper): with X̄ᵀX̄ = VΛVᵀ the scores are X̄V Λ^(−1/2); with X̄X̄ᵀ they are its eigenvectors.
    Only the leading, well-resolved components are used by SVCCA.
    """
    n, p = xc.shape[-2], xc.shape[-1]
    if p < n:
        lam, v = torch.linalg.eigh(xc.mT @ xc)
        lam, v = lam.flip(-1), v.flip(-1)
        floor = lam.detach().amax(dim=-1, keepdim=True) * torch.finfo(xc.dtype).eps
        u = (xc @ v) * lam.clamp_min(floor).rsqrt().unsqueeze(-2)
    else:
        lam, u = torch.linalg.eigh(xc @ xc.mT)
        lam, u = lam.flip(-1), u.flip(-1)
    return u, lam.detach().clamp_min(0)


class SVCCA(Family):
    name = "svcca"
    summary = "CCA on the top principal components of each input (by variance fraction or count)"
    parameters = (
        Parameter("var", "float", 0.99, "fraction of variance the kept PCs explain", low=0.0, high=1.0),
        Parameter("dim", "int", None, "number of PCs kept (instead of var)", low=1),
    )
    alternatives = (("dim", "var"),)
    outputs = ("score",)
    default_output = "score"

    def metadata(self, params, output):
        return _score_metadata("Raghu et al. 2017, SVCCA (NeurIPS)", ROTATION_INVARIANT)

    def prepare(self, data, params):
        u, variance = _principal_components(center(data.values))
        if params.get("dim") is not None:
            dims = torch.full(variance.shape[:-1], int(params["dim"]), dtype=torch.long)
            rank = int((variance > variance.amax(dim=-1, keepdim=True) * 1e-20).sum(dim=-1).min())
            if params["dim"] > rank:
                raise ValueError(
                    f"svcca: dim={params['dim']} exceeds the number of non-zero principal components of "
                    f"{data.name} ({rank})"
                )
        else:
            fraction = variance.cumsum(dim=-1) / variance.sum(dim=-1, keepdim=True)
            # the fewest PCs whose cumulative fraction reaches var (rounding-tolerant at var = 1)
            dims = (fraction < params["var"] - 1e-12).sum(dim=-1) + 1
            dims = dims.clamp(max=variance.shape[-1]).cpu()
        if u.shape[-2] <= int(dims.max()):
            raise ValueError(
                f"svcca keeps {int(dims.max())} PCs of {data.name} but has only {u.shape[-2]} samples; "
                f"CCA needs more samples than kept PCs"
            )
        return {"u": u, "dims": dims}

    def evaluate(self, px, py, params, output):
        # the number of kept PCs can differ between batch items, so batches are scored one by one
        batch_shape = torch.broadcast_shapes(px["u"].shape[:-2], py["u"].shape[:-2])
        if not batch_shape:
            return self._one(px["u"], py["u"], int(px["dims"]), int(py["dims"]))
        u_x = px["u"].expand(*batch_shape, *px["u"].shape[-2:])
        u_y = py["u"].expand(*batch_shape, *py["u"].shape[-2:])
        dims_x, dims_y = px["dims"].expand(batch_shape), py["dims"].expand(batch_shape)
        return torch.stack(
            [self._one(u_x[i], u_y[i], int(dims_x[i]), int(dims_y[i])) for i in range(batch_shape[0])]
        )

    @staticmethod
    def _one(u_x, u_y, d_x, d_y):
        cross = u_x[:, :d_x].mT @ u_y[:, :d_y]
        return (nuclear_norm(cross) / min(d_x, d_y)).clamp(0.0, 1.0)


class PWCCA(Family):
    name = "pwcca"
    summary = "projection-weighted CCA (weights from the input with fewer units)"
    outputs = ("score",)
    default_output = "score"

    def metadata(self, params, output):
        # guaranteed for both inputs; the input with more units (whose weights are not used)
        # is in fact also rotation invariant, but which one that is depends on the data
        invariant = {"permutation", "isotropic_scale", "translation"}
        return _score_metadata(
            "Morcos, Raghu & Bengio 2018, Insights on representational similarity (NeurIPS)", invariant,
            symmetric=False,
        )

    def prepare(self, data, params):
        q, r = orthonormal_basis(center(data.values), data.name, "pwcca")
        return {"q": q, "r": r}

    def evaluate(self, px, py, params, output):
        cross = px["q"].mT @ py["q"]
        u, rho, vh = torch.linalg.svd(cross, full_matrices=False)
        gaps = (rho[..., :-1] - rho[..., 1:]).detach()
        if gaps.numel() and bool((gaps <= 1e-8).any()):
            # repeated correlations (e.g. Y = X): the canonical directions are not unique and the
            # SVD has no gradient for them; the weights' term Σ(ρ_i − PWCCA)dα_i vanishes where
            # all ρ_i are equal, so the weights are held constant for the gradient there
            u, vh = u.detach(), vh.detach()
        p, q = cross.shape[-2], cross.shape[-1]
        if p <= q:  # canonical variates of X: Q_x U, so <h_i, a_j> = (Uᵀ R_x)_ij
            weights = (u.mT @ px["r"]).abs().sum(dim=-1)
        else:  # of Y: Q_y V
            weights = (vh @ py["r"]).abs().sum(dim=-1)
        rho = rho.clamp(0.0, 1.0)
        return (weights * rho).sum(dim=-1) / weights.sum(dim=-1)

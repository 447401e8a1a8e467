r"""Representational similarity analysis (Kriegeskorte et al. 2008).

A representational dissimilarity matrix (RDM) over samples, its upper triangle (i < j, diagonal
excluded) as a vector, and a comparison of the two vectors.

RDMs (``rdm=``): ``correlation`` 1 − Pearson r between samples i and j across units;
``euclidean`` ‖x_i − x_j‖; ``squared_euclidean`` ‖x_i − x_j‖²; ``cosine`` 1 − cos(x_i, x_j).
Comparisons (``compare=``): ``pearson``, ``cosine`` (differentiable), ``spearman`` (Pearson r of
average ranks) and ``kendall`` (τ-b), which have no useful gradient and are computed with
SciPy on the CPU (``differentiable=False``).

RSA needs the n x n RDM: memory and time grow with n² (``needs_n_by_n=True``).

Example
-------
>>> import numpy as np, repalign
>>> rng = np.random.default_rng(0)
>>> X = rng.normal(size=(30, 8))
>>> round(repalign.measure("rsa")(X, 3 * X), 12)
1.0
"""

from __future__ import annotations

import numpy as np
import torch

from .._linalg import center
from ._family import Family, Metadata, Parameter, symmetric_invariances

RDMS = ("correlation", "euclidean", "squared_euclidean", "cosine")
COMPARISONS = ("pearson", "spearman", "kendall", "cosine")


def _upper_triangle(matrix: torch.Tensor) -> torch.Tensor:
    n = matrix.shape[-1]
    rows, cols = torch.triu_indices(n, n, offset=1, device=matrix.device)
    return matrix[..., rows, cols]


def _unit_rows(x: torch.Tensor, name: str, rdm: str, problem: str) -> torch.Tensor:
    norms = x.square().sum(dim=-1, keepdim=True)
    if bool((norms == 0).any()):
        raise ValueError(f"rsa: {name} has a sample with {problem}; the {rdm} RDM is undefined there")
    return x * norms.rsqrt()


def rdm_vector(x: torch.Tensor, rdm: str, name: str) -> torch.Tensor:
    """Upper triangle of the RDM of ``x`` (samples are rows)."""
    if rdm == "correlation":
        z = _unit_rows(x - x.mean(dim=-1, keepdim=True), name, rdm, "no variance across units")
        return _upper_triangle(1.0 - z @ z.mT)
    if rdm == "cosine":
        z = _unit_rows(x, name, rdm, "all-zero activity")
        return _upper_triangle(1.0 - z @ z.mT)
    xc = center(x)  # distances are translation invariant; centring keeps the expansion accurate
    sq_norms = xc.square().sum(dim=-1)
    squared = _upper_triangle(sq_norms[..., :, None] + sq_norms[..., None, :] - 2 * xc @ xc.mT).clamp_min(0)
    if rdm == "squared_euclidean":
        return squared
    positive = squared > 0  # identical samples: distance 0, gradient 0 instead of 1/0
    return torch.where(positive, torch.where(positive, squared, torch.ones_like(squared)).sqrt(), squared)


def _pearson(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    a = a - a.mean(dim=-1, keepdim=True)
    b = b - b.mean(dim=-1, keepdim=True)
    return _cosine(a, b)


def _cosine(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return (a * b).sum(dim=-1) / (a.square().sum(dim=-1).sqrt() * b.square().sum(dim=-1).sqrt())


def _rank_comparison(a: torch.Tensor, b: torch.Tensor, method: str) -> torch.Tensor:
    from scipy import stats  # SciPy is a core dependency; imported here to keep `import repalign` light

    a_np, b_np = torch.broadcast_tensors(a.detach(), b.detach())
    flat_a = a_np.reshape(-1, a_np.shape[-1]).cpu().numpy()
    flat_b = b_np.reshape(-1, b_np.shape[-1]).cpu().numpy()
    if method == "spearman":
        values = [stats.spearmanr(u, v).statistic for u, v in zip(flat_a, flat_b)]
    else:
        values = [stats.kendalltau(u, v, variant="b").statistic for u, v in zip(flat_a, flat_b)]
    out = torch.as_tensor(np.asarray(values, dtype=np.float64), dtype=a.dtype, device=a.device)
    return out.reshape(a_np.shape[:-1])


class RSA(Family):
    name = "rsa"
    summary = "representational similarity analysis: compare RDMs over samples"
    parameters = (
        Parameter("rdm", "choice", "correlation", "dissimilarity between samples", choices=RDMS),
        Parameter("compare", "choice", "spearman", "comparison of the two RDMs", choices=COMPARISONS),
    )
    outputs = ("score",)
    default_output = "score"
    name_has_output = False  # the spec spells RSA names without an output suffix

    def metadata(self, params, output):
        invariant = {"permutation", "isotropic_scale"}
        if params["rdm"] in ("euclidean", "squared_euclidean"):
            invariant |= {"rotation", "translation"}
        if params["rdm"] == "cosine":
            invariant.add("rotation")
        return Metadata(
            kind="score", range=(-1.0, 1.0), symmetric=True, invariances=symmetric_invariances(invariant),
            differentiable=params["compare"] in ("pearson", "cosine"), needs_n_by_n=True,
            reference="Kriegeskorte, Mur & Bandettini 2008, Representational similarity analysis",
        )

    def min_samples(self, params):
        return 3, "2 samples give an RDM with a single entry, nothing to correlate"

    def prepare(self, data, params):
        vector = rdm_vector(data.values, params["rdm"], data.name)
        spread = (vector.detach() - vector.detach()[..., :1]).abs().amax(dim=-1)
        if params["compare"] != "cosine" and bool((spread == 0).any()):
            raise ValueError(
                f"rsa: every dissimilarity in the RDM of {data.name} is equal; a correlation with it is undefined"
            )
        if params["compare"] == "cosine" and bool((vector.detach().abs().amax(dim=-1) == 0).any()):
            raise ValueError(f"rsa: the RDM of {data.name} is all zeros; its cosine similarity is undefined")
        return {"rdm": vector}

    def evaluate(self, px, py, params, output):
        a, b = px["rdm"], py["rdm"]
        method = params["compare"]
        if method == "pearson":
            return _pearson(a, b).clamp(-1.0, 1.0)
        if method == "cosine":
            return _cosine(a, b).clamp(-1.0, 1.0)
        return _rank_comparison(a, b, method)

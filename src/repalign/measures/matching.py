r"""Matching measures: rotation-sensitive, permutation-invariant comparisons of single units.

Each unit is a tuning curve over the samples (after flattening time x condition). With
ρ_ij the Pearson correlation of unit i of X and unit j of Y, and C_ij = ‖x̄_i − ȳ_j‖² the
squared distance of the centred tuning curves (Khosla & Williams 2023; the partial soft-matching paper):

- ``soft_matching-score`` (alias ``soft-matching``): s_T = max_{P ∈ T} Σ P_ij ρ_ij over the
  transportation polytope T (rows sum to 1/p, columns to 1/q) — optimal transport, not a
  best-match average. For p = q it is the mean correlation after the optimal one-to-one matching.
- ``soft_matching-distance=euclidean``: d_T = (min_{P ∈ T} Σ P_ij C_ij)^{1/2}, a metric
  (Wasserstein-2 between the uniform measures on the tuning curves);
  ``distance=squared_euclidean`` is d_T².
- ``assignment-score`` (alias ``one-to-one-matching``): mean ρ over the optimal one-to-one
  assignment of min(p, q) pairs (rectangular when p ≠ q).
- ``permutation-distance=euclidean``: d_P = min over permutations Π ‖X̄ − ȲΠ‖_F (p = q);
  d_P = √p · d_T.
- ``semi_matching-score``: (1/p) Σ_i max_j ρ_ij — every unit of X to its best partner in Y
  (not symmetric; Li et al. 2015).
- ``partial_soft_matching-mass=s-score``: partial transport of mass s with cost 1 − ρ
  (partial soft-matching paper): ``score`` = 1 − ⟨P, C⟩ and ``normalized_score`` = 1 − ⟨P, C⟩/s. Not a
  metric (no triangle inequality); see :mod:`repalign.matching` for plans, rankings and the
  L-curve that picks s.

Gradients: the optimal plan P* is computed without gradient and the value Σ P*_ij c_ij(X, Y)
is differentiated with P* held fixed — by the envelope theorem this is the gradient of the
optimum wherever the optimal plan is unique. ``solver=(sinkhorn-epsilon=ε)`` replaces the
exact plan by the entropic one (log-domain, batched in torch, GPU-ready) for s_T and d_T and
returns the entropic value W_ε = ⟨P_ε, C⟩ + ε KL(P_ε ‖ abᵀ), with ε relative to the mean
cost of each pair: 0 ≤ W_ε − OT ≤ ε·mean(C)·log min(p, q) (the score is 1 − W_ε on the cost
1 − ρ, so it lies below s_T by at most that much); its gradient (the plan) is exact for W_ε.

Exact plans are computed in float64 with scipy's linear assignment (p = q) or POT's network
simplex (p ≠ q), whose status is checked: a non-converged solve raises.

Example
-------
>>> import numpy as np, repalign
>>> rng = np.random.default_rng(0)
>>> X = rng.normal(size=(50, 6))
>>> round(repalign.measure("soft-matching")(X, X[:, ::-1]), 12)   # a permutation of units
1.0
>>> round(repalign.measure("procrustes")(X, X @ np.linalg.qr(rng.normal(size=(6, 6)))[0]), 12)
0.0
"""

from __future__ import annotations

import numpy as np
import torch

from .. import ot
from .._linalg import center, snapped_nonnegative, snapped_sqrt
from ..inputs import Data
from ._family import Family, Metadata, Parameter, symmetric_invariances

SOFT_REFERENCE = "Khosla & Williams 2023, Soft matching distance (UniReps, arXiv:2311.09466)"
PARTIAL_REFERENCE = ("Partial soft-matching distance for neural representational comparison with partial unit "
                     "correspondence (code: github.com/NeuroML-Lab/partial-metric)")
SEMI_REFERENCE = "Li et al. 2015, Convergent learning (semi-matching); Khosla & Williams 2023, eq. 13"

_CORRELATION_INVARIANT = frozenset({"permutation", "translation", "isotropic_scale"})
_DISTANCE_INVARIANT = frozenset({"permutation", "translation"})


def constant_units(values: torch.Tensor) -> list[int]:
    """Indices of units with zero variance across samples (in any batch item)."""
    spread = values.amax(dim=-2) - values.amin(dim=-2)
    while spread.ndim > 1:
        spread = spread.amin(dim=0)
    return torch.nonzero(spread == 0).flatten().tolist()


def _require_correlations(px: dict, py: dict, family: str) -> None:
    """Pearson ρ needs every unit to vary; say which units of which input do not."""
    for side, prepared in (("X", px), ("Y", py)):
        constant = prepared["constant"]
        if constant:
            shown = constant[:10] + (["..."] if len(constant) > 10 else [])
            raise ValueError(
                f"{family}: {side} has {len(constant)} unit(s) constant across samples (indices {shown}); "
                "their Pearson correlation with any unit is undefined — drop them first"
            )


def _prepare_units(data: Data) -> dict:
    xc = center(data.values)
    sq_norms = xc.square().sum(dim=-2)  # ‖x̄_i‖² per unit
    # exact test on the raw values: centring leaves rounding residue in constant units
    return {"x": xc, "sq_norms": sq_norms, "constant": constant_units(data.values)}


def correlations(px: dict, py: dict) -> torch.Tensor:
    """ρ (…, p, q): Pearson correlations of the units (z-scored curves, one GEMM)."""
    zx = px["x"] / px["sq_norms"].sqrt()[..., None, :]
    zy = py["x"] / py["sq_norms"].sqrt()[..., None, :]
    return (zx.mT @ zy).clamp(-1.0, 1.0)


def squared_distances(px: dict, py: dict, with_cross: bool = False):
    """C (…, p, q) with C_ij = ‖x̄_i − ȳ_j‖², from norms and one GEMM (and x̄_iᵀȳ_j if asked)."""
    cross = px["x"].mT @ py["x"]
    distances = (px["sq_norms"][..., :, None] + py["sq_norms"][..., None, :] - 2 * cross).clamp_min(0.0)
    return (distances, cross) if with_cross else distances


def _each_pair(cost: torch.Tensor, solve) -> torch.Tensor:
    """Apply a numpy solver (p x q cost -> p x q plan) to every pair of a batch; no gradient.

    Each cost is first divided by a power of two near its largest |entry|: the optimal plan does
    not change, and the solvers' absolute tolerances then mean the same at every scale of the data.
    """
    flat = cost.detach().to("cpu", torch.float64).reshape(-1, *cost.shape[-2:]).numpy()
    _, exponents = np.frexp(np.abs(flat).max(axis=(-2, -1)))
    flat = np.ldexp(flat, -exponents[:, None, None])
    plans = np.stack([solve(c) for c in flat])
    return torch.from_numpy(plans).to(cost.device, cost.dtype).reshape(cost.shape)


def _exact_plan(cost: np.ndarray) -> np.ndarray:
    return ot.exact_transport(cost).plan


def _assignment_plan(maximize: bool):
    def solve(cost: np.ndarray) -> np.ndarray:
        rows, cols = ot.assignment(cost, maximize=maximize)
        plan = np.zeros_like(cost)
        plan[rows, cols] = 1.0
        return plan

    return solve


def _sinkhorn_value(cost: torch.Tensor, epsilon: float) -> torch.Tensor:
    """W_ε = ⟨P_ε, C⟩ + ε·mean(C)·KL(P_ε ‖ abᵀ) (ε relative to the pair's mean cost).

    Differentiated with P_ε and the KL held fixed (envelope theorem), including the
    dependence of the absolute regularization ε·mean(C) on the data.
    """
    scale = cost.mean(dim=(-2, -1)).clamp_min(torch.finfo(cost.dtype).tiny)
    normalized = cost.detach() / scale.detach()[..., None, None]
    # the plan is the gradient: converge tightly where the precision allows it
    tol = 1e-10 if cost.dtype == torch.float64 else 1e-5
    result = ot.sinkhorn(normalized, epsilon, tol=tol)
    kl = ((result.value - (result.plan * normalized).sum(dim=(-2, -1))) / epsilon).clamp_min(0.0)
    return (result.plan * cost).sum(dim=(-2, -1)) + epsilon * kl * scale


class _TuningCurveFamily(Family):
    """A family comparing units as tuning curves: ``prepare`` centres them and caches their norms."""

    def min_samples(self, params):
        return 3, ("with 2 samples every centred tuning curve is a multiple of one vector: correlations are ±1 "
                   "and distances compare single numbers")

    def prepare(self, data, params):
        return _prepare_units(data)


def _unit_metadata(score: bool, reference: str, *, symmetric: bool = True, is_metric: bool = False,
                   value_range: tuple[float, float] | None = None, degree: int = 1) -> Metadata:
    """Scores compare correlations (scale-free); distances compare centred curves (homogeneous of ``degree``)."""
    return Metadata(
        kind="score" if score else "distance",
        range=value_range or ((-1.0, 1.0) if score else (0.0, float("inf"))),
        symmetric=symmetric,
        invariances=symmetric_invariances(_CORRELATION_INVARIANT if score else _DISTANCE_INVARIANT),
        differentiable=True,
        needs_n_by_n=False,
        reference=reference,
        is_metric=is_metric,
        degree=0 if score else degree,
    )


class SoftMatching(_TuningCurveFamily):
    name = "soft_matching"
    summary = "soft matching (optimal transport between units' tuning curves): score s_T or distance d_T"
    parameters = (
        Parameter("solver", "choice", "exact", "exact OT, or entropic Sinkhorn", choices=("exact", "sinkhorn"),
                  in_name="non_default"),
        Parameter("epsilon", "float", 0.01, "entropic regularization, relative to the mean cost", low=1e-3,
                  relevant=("solver", ("sinkhorn",)), nested_in="solver"),
    )
    outputs = ("score", "distance=euclidean", "distance=squared_euclidean")
    default_output = "score"

    def metadata(self, params, output):
        exact = params["solver"] == "exact"
        return _unit_metadata(
            output == "score", SOFT_REFERENCE + ("" if exact else "; Cuturi 2013, Sinkhorn distances"),
            is_metric=exact and output == "distance=euclidean",
            degree=2 if output == "distance=squared_euclidean" else 1,
        )

    def evaluate(self, px, py, params, output):
        if output == "score":
            _require_correlations(px, py, self.name)
            rho = correlations(px, py)
            cost = solved = 1.0 - rho
        else:
            cost, cross = squared_distances(px, py, with_cross=True)
            # with uniform (equality) marginals, the row and column terms ‖x̄_i‖² + ‖ȳ_j‖² add a
            # constant to every plan's cost: the plan of −x̄ᵀȳ is the same and is found several
            # times faster (the assignment solver suffers from the norms' dynamic range)
            solved = -cross
        if params["solver"] == "sinkhorn":
            value = _sinkhorn_value(cost, params["epsilon"])
            if output == "score":
                return 1.0 - value
        else:
            plan = _each_pair(solved, _exact_plan)
            if output == "score":
                return (plan * rho).sum(dim=(-2, -1)).clamp(-1.0, 1.0)
            value = (plan * cost).sum(dim=(-2, -1))
        scale = px["sq_norms"].mean(dim=-1) + py["sq_norms"].mean(dim=-1)  # size of the cancelling terms
        if output == "distance=squared_euclidean":
            return snapped_nonnegative(value, scale)
        return snapped_sqrt(value, scale)


class Assignment(_TuningCurveFamily):
    name = "assignment"
    summary = "mean correlation over the optimal one-to-one assignment of min(p, q) unit pairs"
    outputs = ("score",)
    default_output = "score"

    def metadata(self, params, output):
        return _unit_metadata(True, SOFT_REFERENCE + " (one-to-one matching, eq. 9)")

    def evaluate(self, px, py, params, output):
        _require_correlations(px, py, self.name)
        rho = correlations(px, py)
        matched = _each_pair(rho, _assignment_plan(maximize=True))
        return (matched * rho).sum(dim=(-2, -1)) / min(rho.shape[-2:])


class Permutation(_TuningCurveFamily):
    name = "permutation"
    summary = "one-to-one matching distance d_P = min over unit permutations ‖X̄ − ȲΠ‖_F (p = q)"
    outputs = ("distance=euclidean",)
    default_output = "distance=euclidean"

    def metadata(self, params, output):
        return _unit_metadata(False, SOFT_REFERENCE + " (eq. 9)", is_metric=True)

    def check(self, dx, dy, params):
        if dx.n_units != dy.n_units:
            raise ValueError(
                f"permutation distance needs as many units in X as in Y, got {dx.n_units} and {dy.n_units}; "
                "use soft_matching-distance=euclidean for different sizes"
            )

    def evaluate(self, px, py, params, output):
        cost, cross = squared_distances(px, py, with_cross=True)
        matched = _each_pair(cross, _assignment_plan(maximize=True))  # same optimum as the distances, faster
        scale = px["sq_norms"].sum(dim=-1) + py["sq_norms"].sum(dim=-1)
        return snapped_sqrt((matched * cost).sum(dim=(-2, -1)), scale)


class SemiMatching(_TuningCurveFamily):
    name = "semi_matching"
    summary = "(1/p) Σ_i max_j ρ_ij: every unit of X to its best-correlated unit of Y (asymmetric)"
    outputs = ("score",)
    default_output = "score"

    def metadata(self, params, output):
        return _unit_metadata(True, SEMI_REFERENCE, symmetric=False)

    def evaluate(self, px, py, params, output):
        _require_correlations(px, py, self.name)
        return correlations(px, py).amax(dim=-1).mean(dim=-1)


class PartialSoftMatching(_TuningCurveFamily):
    name = "partial_soft_matching"
    summary = "partial soft matching: transport mass s with cost 1 − ρ; raw or mass-normalized score"
    parameters = (
        Parameter("mass", "float", None, "transported mass s in (0, 1] (fraction of units matched)",
                  low=1e-12, high=1.0, required=True),
    )
    outputs = ("score", "normalized_score")
    default_output = "score"

    def metadata(self, params, output):
        low = 1.0 - 2.0 * params["mass"] if output == "score" else -1.0  # ⟨P, 1 − ρ⟩ ≤ 2s
        return _unit_metadata(True, PARTIAL_REFERENCE, value_range=(low, 1.0))

    def evaluate(self, px, py, params, output):
        _require_correlations(px, py, self.name)
        cost = 1.0 - correlations(px, py)
        mass = params["mass"]
        plan = _each_pair(cost, lambda c: ot.partial_transport(c, mass).plan)
        transported_cost = (plan * cost).sum(dim=(-2, -1))
        return 1.0 - (transported_cost if output == "score" else transported_cost / mass)

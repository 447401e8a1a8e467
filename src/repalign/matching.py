r"""Soft and partial soft matching as analyses: plans, per-unit masses, rankings and the L-curve.

The registry measures (``soft-matching``, ``partial_soft_matching-mass=s-score``, ...) return
one number; this module returns what lies behind it.

- :func:`soft_matching`: the optimal plan P ∈ T (rows 1/p, columns 1/q) and s_T or d_T.
- :func:`partial_soft_matching` (partial soft-matching paper, seeds/002): the plan of the partial problem
  min ⟨P, C⟩ s.t. P ≥ 0, P1 ≤ 1/p, Pᵀ1 ≤ 1/q, 1ᵀP1 = s, with C = 1 − ρ (``cost="correlation"``)
  or C_ij = ‖x̄_i − ȳ_j‖² (``cost="sqeuclidean"``); its raw score 1 − ⟨P, C⟩, the
  mass-normalized 1 − ⟨P, C⟩/s, the mass each unit sends or receives, and the matched /
  unmatched partition. Partial soft matching is **not a metric** (no triangle inequality).
- :func:`entry_ranking`: units ranked by the transported mass s at which they first carry
  transport (a unit that enters early is well matched).
- :func:`lcurve`: the L-curve — transport cost ⟨P_s, C⟩ against unmatched mass 1 − s over a
  grid of s, in-sample or K-fold cross-validated — and its elbow, the interior grid point
  with the largest second divided difference of the cost (end points are never picked: their
  second difference is undefined).
- Baselines of the paper (appendix A1.4): :func:`brute_force_ranking` (greedy deletion,
  re-solving soft matching without each remaining unit) and :func:`correlation_ranking`
  (correlation of each unit with its barycentric projection through the soft-matching plan).

All arrays are float64 numpy; inputs are (samples, units) or (time, condition, units) or
Datasets, checked by :mod:`repalign.inputs`. Every result is a :class:`~repalign.results.Result`
(``.table``, ``.plot()``, ``.save(path)``, ``.record()``); plots use matplotlib (loaded on first
use); tables are pandas.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from . import ot
from ._checks import check_choice, check_count, check_real, progress_bar
from ._optional import import_pandas, import_pyplot
from ._warnings import warn
from .inputs import as_pair
from .measures.matching import constant_units, correlations, squared_distances
from .results import Result, legend

__all__ = [
    "Matching", "PartialMatching", "LCurve", "Ranking",
    "soft_matching", "partial_soft_matching", "entry_ranking", "lcurve", "elbow_index",
    "brute_force_ranking", "correlation_ranking", "best_matched_units",
]

_COSTS = ("correlation", "sqeuclidean")


def _check_threshold(threshold) -> float:
    """A fraction of a unit's full mass 1/N, in (0, 1]."""
    return check_real(threshold, "threshold", low=0.0, high=1.0, inclusive=(False, True))


def _carries(mass: np.ndarray, level: float) -> np.ndarray:
    """mass ≥ level, with a relative tolerance: a fully matched unit carries exactly 1/N up to rounding."""
    return mass >= level * (1.0 - 1e-9)


def _units(X, Y) -> tuple[np.ndarray, np.ndarray]:
    """Checked float64 (samples, units) arrays (3-D inputs flattened to time·condition rows)."""
    dx, dy, _ = as_pair(X, Y)
    x = dx.values.detach().to("cpu", torch.float64)
    y = dy.values.detach().to("cpu", torch.float64)
    return x.numpy(), y.numpy()


def _prepared(values: np.ndarray, side: str, need_correlation: bool) -> dict:
    t = torch.from_numpy(values)
    xc = t - t.mean(dim=0)
    if need_correlation:
        constant = constant_units(t)
        if constant:
            raise ValueError(f"{side} has constant unit(s) {constant[:10]}: their Pearson correlation is undefined")
    return {"x": xc, "sq_norms": xc.square().sum(dim=0)}


def cost_matrix(x: np.ndarray, y: np.ndarray, cost: str) -> np.ndarray:
    """C (p, q): 1 − ρ for ``correlation`` or ‖x̄_i − ȳ_j‖² for ``sqeuclidean``."""
    check_choice(cost, "cost", _COSTS)
    correlation = cost == "correlation"
    px, py = _prepared(x, "X", correlation), _prepared(y, "Y", correlation)
    matrix = 1.0 - correlations(px, py) if correlation else squared_distances(px, py)
    return matrix.numpy()


def _plot_plan(plan: np.ndarray, title: str, ax=None):
    plt = import_pyplot()

    if ax is None:
        _, ax = plt.subplots(figsize=(5, 4))
    image = ax.imshow(plan * np.sqrt(plan.size), aspect="auto", cmap="viridis", interpolation="nearest")
    ax.set_xlabel("unit of Y")
    ax.set_ylabel("unit of X")
    ax.set_title(title)
    ax.figure.colorbar(image, ax=ax, label="mass × √(pq)")
    return ax


@dataclass(frozen=True, eq=False)
class Matching(Result):
    """The optimal soft-matching plan and its value (s_T for correlation, d_T for sqeuclidean)."""

    record_kind = "soft_matching"

    plan: np.ndarray
    value: float
    cost: str
    cost_matrix: np.ndarray = field(repr=False)

    @property
    def table(self):
        """Tidy table of the non-zero entries of the plan: unit_x, unit_y, mass, cost."""
        pd = import_pandas()

        rows, cols = np.nonzero(self.plan)
        return pd.DataFrame({"unit_x": rows, "unit_y": cols, "mass": self.plan[rows, cols],
                             "cost": self.cost_matrix[rows, cols]})

    def plot(self, ax=None):
        """The plan as an image (mass × √(pq), so that a permutation shows as ones)."""
        name = "s_T" if self.cost == "correlation" else "d_T"
        return _plot_plan(self.plan, f"soft matching plan ({name} = {self.value:.4f})", ax)

    def _record_settings(self) -> dict:
        return {"cost": self.cost, "value": self.value}

    def _record_arrays(self) -> dict:
        return {"plan": self.plan, "cost_matrix": self.cost_matrix}


def soft_matching(X, Y, cost: str = "correlation") -> Matching:
    r"""Soft matching plan and value.

    ``cost="correlation"``: P* = argmax_{P ∈ T} Σ P_ij ρ_ij and value s_T = Σ P*_ij ρ_ij.
    ``cost="sqeuclidean"``: P* = argmin_{P ∈ T} Σ P_ij ‖x̄_i − ȳ_j‖² and value d_T (the root).

    Example:
        >>> import numpy as np
        >>> X = np.random.default_rng(0).normal(size=(30, 4))
        >>> m = soft_matching(X, X[:, [2, 0, 3, 1]])
        >>> round(m.value, 12), (m.plan * 4).round(12).tolist()[0]
        (1.0, [0.0, 1.0, 0.0, 0.0])
    """
    x, y = _units(X, Y)
    matrix = cost_matrix(x, y, cost)
    if cost == "sqeuclidean":  # same plan as −x̄ᵀȳ (the norms add a constant), solved faster
        centred_x, centred_y = x - x.mean(axis=0), y - y.mean(axis=0)
        plan = ot.exact_transport(-(centred_x.T @ centred_y)).plan
        transport = ot.Transport(plan=plan, cost=float((plan * matrix).sum()), method="reduced cost")
    else:
        transport = ot.exact_transport(matrix)
    if cost == "correlation":
        value = float(np.clip((transport.plan * (1.0 - matrix)).sum(), -1.0, 1.0))
    else:
        value = float(np.sqrt(max(transport.cost, 0.0)))
    return Matching(plan=transport.plan, value=value, cost=cost, cost_matrix=matrix)


@dataclass(frozen=True, eq=False)
class PartialMatching(Result):
    r"""Result of partial soft matching with transported mass s.

    ``transported_cost`` = ⟨P, C⟩; ``score`` = 1 − ⟨P, C⟩ and ``normalized_score`` =
    1 − ⟨P, C⟩/s (defined for the correlation cost; NaN for sqeuclidean, whose
    ``transported_cost`` is the quantity to report). ``mass_x`` (row sums) and ``mass_y``
    (column sums) are what each unit sends and receives, at most 1/p and 1/q.
    """

    record_kind = "partial_soft_matching"

    plan: np.ndarray
    mass: float
    cost: str
    transported_cost: float
    score: float
    normalized_score: float
    mass_x: np.ndarray
    mass_y: np.ndarray
    cost_matrix: np.ndarray = field(repr=False)

    def matched(self, threshold: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
        """Boolean masks of matched units: mass above ``threshold`` × the unit's full mass (1/N).

        The plan of the exact solver is a vertex of the polytope, so almost every unit carries
        either its full mass or none; the threshold only decides the few split units.
        """
        threshold = _check_threshold(threshold)
        p, q = self.plan.shape
        return _carries(self.mass_x, threshold / p), _carries(self.mass_y, threshold / q)

    @property
    def table(self):
        """Tidy per-unit table: side, unit, mass, relative_mass (mass × N), matched."""
        pd = import_pandas()

        matched_x, matched_y = self.matched()
        frames = []
        for side, masses, matched in (("X", self.mass_x, matched_x), ("Y", self.mass_y, matched_y)):
            frames.append(pd.DataFrame({"side": side, "unit": np.arange(len(masses)), "mass": masses,
                                        "relative_mass": masses * len(masses), "matched": matched}))
        return pd.concat(frames, ignore_index=True)

    def plot(self, ax=None):
        """The plan as an image (mass × √(pq))."""
        return _plot_plan(self.plan, f"partial soft matching plan (s = {self.mass:g})", ax)

    def _record_settings(self) -> dict:
        return {"mass": self.mass, "cost": self.cost, "transported_cost": self.transported_cost, "score": self.score,
                "normalized_score": self.normalized_score}

    def _record_arrays(self) -> dict:
        return {"plan": self.plan, "cost_matrix": self.cost_matrix}


def partial_soft_matching(X, Y, mass: float, cost: str = "correlation") -> PartialMatching:
    r"""Partial soft matching: transport exactly ``mass`` = s between the uniform unit measures.

    Solves min ⟨P, C⟩ over {P ≥ 0, P1 ≤ 1/p, Pᵀ1 ≤ 1/q, 1ᵀP1 = s} exactly (network simplex on
    the problem augmented with dummy units, Chapel et al. 2020). Not a metric.

    Example:
        >>> import numpy as np
        >>> rng = np.random.default_rng(0)
        >>> X = rng.normal(size=(200, 4))
        >>> Y = np.hstack([X, rng.normal(size=(200, 4))])   # 4 copies and 4 noise units
        >>> result = partial_soft_matching(X, Y, mass=0.5)
        >>> round(result.score, 12), result.matched()[1].tolist()   # perfect matches: ⟨P, C⟩ = 0
        (1.0, [True, True, True, True, False, False, False, False])
    """
    x, y = _units(X, Y)
    matrix = cost_matrix(x, y, cost)
    transport = ot.partial_transport(matrix, mass)
    plan = transport.plan
    transported = float(transport.cost)
    if cost == "correlation":
        score, normalized = 1.0 - transported, 1.0 - transported / mass
    else:
        score = normalized = float("nan")
    return PartialMatching(
        plan=plan, mass=float(mass), cost=cost, transported_cost=transported, score=score,
        normalized_score=normalized, mass_x=plan.sum(axis=1), mass_y=plan.sum(axis=0), cost_matrix=matrix,
    )


def _mass_grid(masses, points: int = 50) -> np.ndarray:
    if masses is None:
        return np.linspace(1.0 / points, 1.0, points)
    grid = np.asarray(masses, dtype=np.float64)
    if grid.ndim != 1 or grid.size < 3:
        raise ValueError(f"masses: expected a 1-D grid of at least 3 values, got shape {grid.shape}")
    if not ((grid > 0) & (grid <= 1 + 1e-12)).all() or not (np.diff(grid) > 0).all():
        raise ValueError("masses: expected strictly increasing values in (0, 1]")
    return np.minimum(grid, 1.0)  # a grid built by summing steps may end at 1 + 1 ulp


@dataclass(frozen=True, eq=False)
class Ranking(Result):
    """Units of one side ordered best-matched first, with the quantity that ordered them."""

    record_kind = "ranking"

    side: str
    order: np.ndarray  # unit indices, best matched first
    key: np.ndarray  # per unit (indexed by unit): the ranking quantity
    key_name: str

    def rank_of(self) -> np.ndarray:
        """Rank (0 = best) of each unit, indexed by unit."""
        ranks = np.empty_like(self.order)
        ranks[self.order] = np.arange(len(self.order))
        return ranks

    @property
    def table(self):
        """One row per unit, best matched first: side, unit, rank and the ranking quantity."""
        pd = import_pandas()

        return pd.DataFrame({"side": self.side, "unit": self.order, "rank": np.arange(len(self.order)),
                             self.key_name: self.key[self.order]})

    def plot(self, ax=None):
        """The ranking quantity of each unit in rank order (units that never enter are left out)."""
        plt = import_pyplot()

        if ax is None:
            _, ax = plt.subplots(figsize=(5, 3.2))
        values = self.key[self.order]
        shown = np.isfinite(values)
        ax.bar(np.arange(len(values))[shown], values[shown], color="tab:blue", width=0.8)
        ax.set_xlabel(f"rank of the unit of {self.side} (0: best matched)")
        ax.set_ylabel(self.key_name.replace("_", " "))
        ax.set_title(f"units of {self.side} ranked by {self.key_name.replace('_', ' ')}", fontsize="small")
        return ax

    def _record_settings(self) -> dict:
        return {"side": self.side, "key_name": self.key_name}


def entry_ranking(X, Y, side: str = "Y", masses=None, cost: str = "correlation", threshold: float = 0.5,
                  progress: bool = False) -> Ranking:
    """Rank one side's units by the transported mass s at which they first carry transport.

    For each s of the increasing grid (default 50 values in (0, 1]) the partial plan is
    solved; a unit enters at the first s where its mass exceeds ``threshold``/N. Units that
    never enter get s = inf. Ties (same entry s) are broken by the mean cost of the mass each
    unit carries at entry (lower first), and only then by unit index.

    Example:
        >>> import numpy as np
        >>> rng = np.random.default_rng(0)
        >>> X = rng.normal(size=(200, 4))
        >>> Y = np.hstack([rng.normal(size=(200, 2)), X[:, :2] + 0.1 * rng.normal(size=(200, 2))])
        >>> entry_ranking(X, Y).order[:2].tolist()     # the two noisy copies enter first
        [2, 3]
    """
    check_choice(side, "side", ("X", "Y"))
    threshold = _check_threshold(threshold)
    x, y = _units(X, Y)
    matrix = cost_matrix(x, y, cost)
    grid = _mass_grid(masses)
    axis = 1 if side == "X" else 0
    units = matrix.shape[1 - axis]
    entry = np.full(units, np.inf)
    cost_at_entry = np.full(units, np.inf)
    for s in progress_bar(grid, enabled=progress, total=len(grid), description="entry ranking"):
        plan = ot.partial_transport(matrix, s).plan
        carried = plan.sum(axis=axis)
        new = np.isinf(entry) & _carries(carried, threshold / units)
        entry[new] = s
        # units entering at the same s are ordered by the mean cost of the mass they carry
        cost_at_entry[new] = (plan * matrix).sum(axis=axis)[new] / carried[new]
        if not np.isinf(entry).any():
            break
    order = np.lexsort((cost_at_entry, entry))
    return Ranking(side=side, order=order, key=entry, key_name="entry_mass")


def elbow_index(masses: np.ndarray, costs: np.ndarray) -> int:
    """Index of the interior grid point with the largest second divided difference of the cost.

    d_k = 2 [(c_{k+1} − c_k)/(s_{k+1} − s_k) − (c_k − c_{k−1})/(s_k − s_{k−1})] / (s_{k+1} − s_{k−1})
    for k = 1 … K−2 (the centred second derivative at s_k; end points have none, so the elbow
    is never an end point). Returns k, an index into ``masses``.
    """
    s = np.asarray(masses, dtype=np.float64)
    c = np.asarray(costs, dtype=np.float64)
    if s.shape != c.shape or s.ndim != 1 or s.size < 3:
        raise ValueError("masses, costs: expected 1-D arrays of equal length >= 3")
    return int(np.argmax(second_differences(s, c))) + 1


def second_differences(masses: np.ndarray, costs: np.ndarray) -> np.ndarray:
    """Centred second divided differences of the cost at the interior grid points (K − 2 values)."""
    s = np.asarray(masses, dtype=np.float64)
    c = np.asarray(costs, dtype=np.float64)
    return 2 * (np.diff(c)[1:] / np.diff(s)[1:] - np.diff(c)[:-1] / np.diff(s)[:-1]) / (s[2:] - s[:-2])


@dataclass(frozen=True, eq=False)
class LCurve(Result):
    """Transport cost against unmatched mass over a grid of transported masses s, with its elbow."""

    record_kind = "lcurve"

    masses: np.ndarray
    costs: np.ndarray  # ⟨P_s, C⟩ (mean over folds when cross-validated)
    cost: str
    folds: int | None
    elbow: int  # index into masses

    @property
    def curvature(self) -> np.ndarray:
        """Second divided differences at the interior points (NaN at both ends)."""
        return np.concatenate([[np.nan], second_differences(self.masses, self.costs), [np.nan]])

    @property
    def unmatched(self) -> np.ndarray:
        """Unmatched mass 1 − s at each grid point."""
        return 1.0 - self.masses

    @property
    def best_mass(self) -> float:
        """The transported mass s at the elbow."""
        return float(self.masses[self.elbow])

    @property
    def table(self):
        """One row per grid point: mass, unmatched_mass, transport_cost, curvature, elbow."""
        pd = import_pandas()

        return pd.DataFrame({"mass": self.masses, "unmatched_mass": self.unmatched, "transport_cost": self.costs,
                             "curvature": self.curvature, "elbow": np.arange(len(self.masses)) == self.elbow})

    def plot(self, ax=None):
        """Cost against unmatched mass, elbow marked."""
        plt = import_pyplot()

        if ax is None:
            _, ax = plt.subplots(figsize=(5, 3.6))
        ax.plot(self.unmatched, self.costs, "o-", ms=3, color="tab:blue")
        ax.plot(self.unmatched[self.elbow], self.costs[self.elbow], "o", ms=9, mfc="none", color="tab:red",
                label=f"elbow: s = {self.best_mass:.3g} (unmatched {1 - self.best_mass:.3g})")
        ax.set_xlabel("unmatched mass 1 − s")
        cv = f", {self.folds}-fold cross-validated" if self.folds else ""
        ax.set_ylabel(f"transport cost ⟨P, C⟩ ({self.cost}{cv})")
        ax.set_title("partial soft matching L-curve")
        legend(ax, frameon=False)
        return ax

    def _record_settings(self) -> dict:
        return {"cost": self.cost, "folds": self.folds, "elbow": self.elbow, "best_mass": self.best_mass}


def _checked_curve(curve: LCurve) -> LCurve:
    """Warn when the curve has no elbow to find (the failure mode the paper's appendix A1.1 describes)."""
    peak = float(np.nanmax(curve.curvature))
    spread = float(np.ptp(curve.costs))
    flat = spread <= 1e-9 * max(1.0, float(np.abs(curve.costs).max()))
    if flat or not peak > 1e-6 * spread / float(np.ptp(curve.masses)) ** 2:
        warn(
            "the L-curve has no positive curvature (smooth or concave cost): its 'elbow' at "
            f"s = {curve.best_mass:.3g} is arbitrary; inspect curve.plot() before using it",
            RuntimeWarning,
        )
    return curve


def _fold_rows(n: int, folds: int, seed: int | None) -> list[np.ndarray]:
    order = np.arange(n) if seed is None else np.random.default_rng(seed).permutation(n)
    return np.array_split(order, folds)


def lcurve(X, Y, masses=None, cost: str = "correlation", cv: int | None = None, seed: int | None = None,
           progress: bool = False) -> LCurve:
    """The L-curve of partial soft matching and its elbow.

    In-sample (``cv=None``): c(s) = ⟨P_s, C⟩ with the plan and the cost from all samples.
    Cross-validated (``cv=K``): the samples are split into K contiguous blocks (shuffled with
    ``seed`` if given); for each fold the plan is fitted on the other blocks and its cost
    evaluated with C from the held-out block; c(s) is the mean over folds. The elbow is
    :func:`elbow_index` of (s, c).

    Example:
        >>> import numpy as np
        >>> rng = np.random.default_rng(0)
        >>> X = rng.normal(size=(300, 10))
        >>> Y = np.hstack([X + 0.2 * rng.normal(size=X.shape), rng.normal(size=(300, 10))])
        >>> round(lcurve(X, Y, masses=np.linspace(0.05, 1, 20)).best_mass, 2)   # half of Y is noise
        0.5
    """
    x, y = _units(X, Y)
    grid = _mass_grid(masses)
    if cv is None:
        matrix = cost_matrix(x, y, cost)
        costs = [ot.partial_transport(matrix, s).cost
                 for s in progress_bar(grid, enabled=progress, total=len(grid), description="L-curve")]
        return _checked_curve(LCurve(masses=grid, costs=np.asarray(costs), cost=cost, folds=None,
                                     elbow=elbow_index(grid, costs)))
    cv = check_count(cv, "cv", 2)
    n = x.shape[0]
    if n < 2 * cv:
        raise ValueError(f"cv: {cv} folds need at least {2 * cv} samples, got {n}")
    totals = np.zeros(len(grid))
    blocks = _fold_rows(n, cv, seed)
    steps = progress_bar(range(cv * len(grid)), enabled=progress, total=cv * len(grid), description="L-curve (cv)")
    steps = iter(steps)
    for test in blocks:
        train = np.setdiff1d(np.arange(n), test)
        fitted = cost_matrix(x[train], y[train], cost)
        held_out = cost_matrix(x[test], y[test], cost)
        for k, s in enumerate(grid):
            next(steps, None)
            totals[k] += (ot.partial_transport(fitted, s).plan * held_out).sum()
    costs = totals / cv
    return _checked_curve(LCurve(masses=grid, costs=costs, cost=cost, folds=cv, elbow=elbow_index(grid, costs)))


def best_matched_units(X, Y, mass: float, threshold: float = 0.5, cost: str = "correlation"):
    """Indices of the matched units of X and of Y under partial soft matching with mass s."""
    matched_x, matched_y = partial_soft_matching(X, Y, mass, cost).matched(threshold)
    return np.flatnonzero(matched_x), np.flatnonzero(matched_y)


def _soft_matching_score(cost: np.ndarray) -> float:
    return 1.0 - ot.exact_transport(cost).cost


def brute_force_ranking(X, Y, side: str = "Y", progress: bool = False) -> Ranking:
    """Greedy deletion ranking (partial soft-matching paper, appendix A1.4), O(N²) soft-matching solves.

    Starting from all units of ``side``, each step re-solves soft matching without each
    remaining unit and deletes the one whose removal raises s_T the most; the deletion order
    read backwards ranks the units best-matched first. The key is the step at which a unit
    was deleted (larger = kept longer = better matched).
    """
    check_choice(side, "side", ("X", "Y"))
    x, y = _units(X, Y)
    matrix = cost_matrix(x, y, "correlation")
    if side == "X":
        matrix = matrix.T
    remaining = list(range(matrix.shape[1]))
    deleted: list[int] = []
    total = len(remaining) * (len(remaining) + 1) // 2 - 1  # n + (n - 1) + ... + 2 scores
    bar = iter(progress_bar(range(total), enabled=progress, total=total, description="brute-force ranking"))
    while len(remaining) > 1:
        scores = []
        for unit in remaining:
            next(bar, None)
            kept = [u for u in remaining if u != unit]
            scores.append(_soft_matching_score(matrix[:, kept]))
        worst = remaining[int(np.argmax(scores))]
        remaining.remove(worst)
        deleted.append(worst)
    next(bar, None)  # past the last item: the bar closes (its last line off a terminal) now, not when collected
    deleted.extend(remaining)
    order = np.asarray(deleted[::-1])
    key = np.empty(len(order))
    key[np.asarray(deleted)] = np.arange(len(deleted))
    return Ranking(side=side, order=order, key=key, key_name="deletion_step")


def correlation_ranking(X, Y, side: str = "Y") -> Ranking:
    """Rank units by the correlation with their projection through the soft-matching plan.

    Each unit j of Y is predicted by the barycentric projection of X's centred tuning curves,
    ŷ_j = Σ_i P_ij x̄_i / Σ_i P_ij, with P the soft-matching plan (and symmetrically for X);
    units are ranked by Pearson r(ŷ_j, y_j), highest first (partial soft-matching paper, appendix A1.4).
    """
    check_choice(side, "side", ("X", "Y"))
    x, y = _units(X, Y)
    plan = soft_matching(x, y).plan
    source, target, weights = (x, y, plan) if side == "Y" else (y, x, plan.T)
    source = source - source.mean(axis=0)
    target = target - target.mean(axis=0)
    projection = source @ (weights / weights.sum(axis=0))
    r = (projection * target).sum(axis=0) / np.sqrt((projection**2).sum(axis=0) * (target**2).sum(axis=0))
    order = np.argsort(-r, kind="stable")
    return Ranking(side=side, order=order, key=r, key_name="correlation")

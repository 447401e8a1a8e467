"""Float64 reference implementations of the matching family (soft matching, assignment,
semi-matching, partial soft matching).

Written only from ``shared/spec/measures.md`` (section "Matching"), Khosla & Williams 2023
(soft matching distance, eqs. 9-15, Fig. 3A) and the partial soft-matching paper, never from
``src/repalign``. The library solves its transport problems with POT; these references use
scipy only: ``scipy.optimize.linprog(method="highs")`` for the linear programs, brute force over
``itertools.permutations`` for tiny sizes, and ``scipy.optimize.linear_sum_assignment`` (exact
Hungarian algorithm) on a replicated cost matrix as an independent exact route.

Conventions (from the spec): X is the reference, n samples x p units; Y is n x q. A unit's
tuning curve is its column. (time, condition, unit) input is flattened row-major to
(time·condition, unit), row index = t * C + c.

- ρ_ij = Pearson correlation of column i of X and column j of Y (centre each column, divide by
  its norm; the 1/n vs 1/(n−1) choice cancels). A constant column has no Pearson correlation:
  ``pearson_matrix`` raises ValueError rather than returning NaN or 0 (the spec is silent).
- T(p, q) = transportation polytope {P ≥ 0, P1 = 1/p, Pᵀ1 = 1/q} (total mass 1).
- Distances use centred, *unnormalized* tuning curves: C_ij = ‖x̄_i − ȳ_j‖².
- Partial soft matching: cost C = 1 − ρ, plans with P1 ≤ 1/p, Pᵀ1 ≤ 1/q, 1ᵀP1 = s.
  raw score = 1 − ⟨P*, C⟩ (= 1 − s + Σ P*_ij ρ_ij, so it is ≥ 1 − s − s·1 and equals s_T at
  s = 1); normalized score = 1 − ⟨P*, C⟩/s (= the mass-weighted mean matched correlation).

Every ``..._via_...`` function computes a number a second way; ``self_test()`` (run this file)
and tests/test_matching_values.py check that the routes agree.
"""

import itertools
import math

import numpy as np
import scipy.optimize
from reference import as_float64_2d, center_columns  # shared with the other references

# Tightened HiGHS tolerances (defaults are 1e-7): the references are compared at rtol 1e-9.
HIGHS_OPTIONS = {"primal_feasibility_tolerance": 1e-10, "dual_feasibility_tolerance": 1e-10}

# ---------------------------------------------------------------------------
# Input conventions, correlation and cost matrices
# ---------------------------------------------------------------------------


def unit_norm_columns(A):
    """Centred columns scaled to unit Euclidean norm; a constant column raises ValueError."""
    Ac = center_columns(A)
    norms = np.sqrt(np.sum(Ac * Ac, axis=0))
    if np.any(norms == 0.0):
        constant = np.flatnonzero(norms == 0.0).tolist()
        raise ValueError(f"constant unit(s) {constant}: Pearson correlation is undefined")
    return Ac / norms


def pearson_matrix(X, Y):
    """ρ_ij = x̃_iᵀ ỹ_j with x̃, ỹ centred unit-norm tuning curves (p x q)."""
    X, Y = as_float64_2d(X), as_float64_2d(Y)
    if X.shape[0] != Y.shape[0]:
        raise ValueError(f"X and Y need the same samples, found {X.shape[0]} and {Y.shape[0]}")
    return unit_norm_columns(X).T @ unit_norm_columns(Y)


def pearson_matrix_via_corrcoef(X, Y):
    """Second route: the cross block of np.corrcoef on the stacked columns."""
    X, Y = as_float64_2d(X), as_float64_2d(Y)
    p = X.shape[1]
    return np.corrcoef(np.hstack([X, Y]), rowvar=False)[:p, p:]


def centred_sqdist(X, Y):
    """C_ij = ‖x̄_i − ȳ_j‖², computed literally from differences (exact 0 for equal columns)."""
    Xc, Yc = center_columns(X), center_columns(Y)
    differences = Xc[:, :, None] - Yc[:, None, :]  # n x p x q
    return np.sum(differences * differences, axis=0)


# ---------------------------------------------------------------------------
# Optimal transport by linear programming (scipy HiGHS)
# ---------------------------------------------------------------------------


def _default_marginals(C, a, b):
    p, q = C.shape
    a = np.full(p, 1.0 / p) if a is None else np.asarray(a, dtype=np.float64)
    b = np.full(q, 1.0 / q) if b is None else np.asarray(b, dtype=np.float64)
    return a, b


def _marginal_constraint_matrices(p, q):
    """Rows: P1 (p constraints); columns: Pᵀ1 (q constraints), P flattened row-major."""
    row_sums = np.kron(np.eye(p), np.ones((1, q)))
    column_sums = np.kron(np.ones((1, p)), np.eye(q))
    return row_sums, column_sums


def ot_lp(C, a=None, b=None):
    """Exact balanced OT: min ⟨P, C⟩ s.t. P ≥ 0, P1 = a, Pᵀ1 = b (default uniform 1/p, 1/q).

    Returns (value, plan); value is recomputed as Σ P_ij C_ij from the returned plan.
    """
    C = np.asarray(C, dtype=np.float64)
    p, q = C.shape
    a, b = _default_marginals(C, a, b)
    if not math.isclose(a.sum(), b.sum(), rel_tol=1e-12):
        raise ValueError(f"balanced OT needs equal masses, found {a.sum()} and {b.sum()}")
    row_sums, column_sums = _marginal_constraint_matrices(p, q)
    result = scipy.optimize.linprog(
        C.ravel(),
        A_eq=np.vstack([row_sums, column_sums]),
        b_eq=np.concatenate([a, b]),
        bounds=(0, None),
        method="highs",
        options=HIGHS_OPTIONS,
    )
    if result.status != 0:
        raise RuntimeError(f"linprog failed: status {result.status}, {result.message}")
    plan = result.x.reshape(p, q)
    return float(np.sum(plan * C)), plan


def partial_ot_lp(C, mass, a=None, b=None):
    """Exact partial OT: min ⟨P, C⟩ s.t. P ≥ 0, P1 ≤ a, Pᵀ1 ≤ b, 1ᵀP1 = mass.

    Needs 0 < mass ≤ min(Σa, Σb). Returns (value, plan).
    """
    C = np.asarray(C, dtype=np.float64)
    p, q = C.shape
    a, b = _default_marginals(C, a, b)
    if not (0.0 < mass <= min(a.sum(), b.sum()) * (1 + 1e-12)):
        raise ValueError(f"mass must lie in (0, {min(a.sum(), b.sum())}], found {mass}")
    row_sums, column_sums = _marginal_constraint_matrices(p, q)
    result = scipy.optimize.linprog(
        C.ravel(),
        A_ub=np.vstack([row_sums, column_sums]),
        b_ub=np.concatenate([a, b]),
        A_eq=np.ones((1, p * q)),
        b_eq=np.array([float(mass)]),
        bounds=(0, None),
        method="highs",
        options=HIGHS_OPTIONS,
    )
    if result.status != 0:
        raise RuntimeError(f"linprog failed: status {result.status}, {result.message}")
    plan = result.x.reshape(p, q)
    return float(np.sum(plan * C)), plan


def uniform_ot_via_replicated_assignment(C):
    """Second, exact route for uniform marginals 1/p, 1/q: replicate row i q times and column j
    p times; the transportation polytope with integer marginals (q, p) has integral vertices, so
    the OT optimum is an assignment on the pq x pq matrix, divided by pq. Returns (value, plan)."""
    C = np.asarray(C, dtype=np.float64)
    p, q = C.shape
    big = np.repeat(np.repeat(C, q, axis=0), p, axis=1)
    rows, cols = scipy.optimize.linear_sum_assignment(big)
    plan = np.zeros((p, q))
    np.add.at(plan, (rows // q, cols // p), 1.0 / (p * q))
    return float(big[rows, cols].sum() / (p * q)), plan


def partial_uniform_ot_via_replicated_assignment(C, mass):
    """Second, exact route for partial OT with uniform marginals when mass·p·q = k is an integer
    (dummy-point construction of Chapel et al. 2020, then replication as above): pq row replicas
    plus pq − k dummy rows, pq column replicas plus pq − k dummy columns; real↔dummy costs 0,
    dummy↔dummy forbidden, so exactly k replicas are matched real-to-real. Returns (value, plan)."""
    C = np.asarray(C, dtype=np.float64)
    p, q = C.shape
    k_float = mass * p * q
    k = int(round(k_float))
    if abs(k_float - k) > 1e-9 or not (0 < k <= p * q):
        raise ValueError(f"mass·p·q must be an integer in (0, pq], found {k_float}")
    n_dummy = p * q - k
    size = p * q + n_dummy
    big = np.zeros((size, size))
    big[: p * q, : p * q] = np.repeat(np.repeat(C, q, axis=0), p, axis=1)
    big[p * q :, p * q :] = np.inf
    rows, cols = scipy.optimize.linear_sum_assignment(big)
    real = (rows < p * q) & (cols < p * q)
    assert real.sum() == k
    plan = np.zeros((p, q))
    np.add.at(plan, (rows[real] // q, cols[real] // p), 1.0 / (p * q))
    return float(big[rows[real], cols[real]].sum() / (p * q)), plan


# ---------------------------------------------------------------------------
# The measures
# ---------------------------------------------------------------------------


def soft_matching_plan(X, Y):
    """(s_T, P*) with P* the maximizer of Σ P_ij ρ_ij over T(p, q) (OT on cost −ρ)."""
    value, plan = ot_lp(-pearson_matrix(X, Y))
    return -value, plan


def soft_matching_score(X, Y):
    """s_T = max over T(p, q) of Σ P_ij ρ_ij (Khosla & Williams 2023, eq. 12)."""
    return soft_matching_plan(X, Y)[0]


def soft_matching_score_via_assignment(X, Y):
    """Second route: replicated assignment on −ρ (exact, any p, q)."""
    return -uniform_ot_via_replicated_assignment(-pearson_matrix(X, Y))[0]


def soft_matching_distance(X, Y):
    """d_T = √(min over T(p, q) of Σ P_ij ‖x̄_i − ȳ_j‖²) (eq. 11)."""
    value, _ = ot_lp(centred_sqdist(X, Y))
    return float(np.sqrt(max(value, 0.0)))


def soft_matching_distance_via_assignment(X, Y):
    value, _ = uniform_ot_via_replicated_assignment(centred_sqdist(X, Y))
    return float(np.sqrt(max(value, 0.0)))


def _require_equal_sizes(X, Y):
    p, q = as_float64_2d(X).shape[1], as_float64_2d(Y).shape[1]
    if p != q:
        raise ValueError(f"permutation distance needs p == q, found p={p}, q={q}")
    return p


def permutation_distance(X, Y):
    """d_P = min over permutations ‖X̄ − ȲΠ‖_F (eq. 9), literally: brute force over all p!
    column orders of Ȳ (p ≤ 7); for larger p, the Hungarian route below."""
    p = _require_equal_sizes(X, Y)
    if p > 7:
        return permutation_distance_via_assignment(X, Y)
    Xc, Yc = center_columns(X), center_columns(Y)
    return float(min(np.linalg.norm(Xc - Yc[:, list(order)]) for order in itertools.permutations(range(p))))


def permutation_distance_via_assignment(X, Y):
    """Second route: linear_sum_assignment on C_ij = ‖x̄_i − ȳ_j‖², d_P = √(Σ C_iσ(i))."""
    _require_equal_sizes(X, Y)
    C = centred_sqdist(X, Y)
    rows, cols = scipy.optimize.linear_sum_assignment(C)
    return float(np.sqrt(max(C[rows, cols].sum(), 0.0)))


def assignment_score(X, Y):
    """Mean ρ over the optimal one-to-one assignment of min(p, q) pairs (Hungarian, maximize)."""
    rho = pearson_matrix(X, Y)
    rows, cols = scipy.optimize.linear_sum_assignment(rho, maximize=True)
    return float(rho[rows, cols].mean())


def assignment_score_via_bruteforce(X, Y):
    """Second route: every injective map from the smaller side into the larger (tiny sizes only)."""
    rho = pearson_matrix(X, Y)
    if rho.shape[0] > rho.shape[1]:
        rho = rho.T
    k, m = rho.shape
    if math.perm(m, k) > 200_000:
        raise ValueError("brute force is too large; use assignment_score")
    best = -np.inf
    rows = np.arange(k)
    for image in itertools.permutations(range(m), k):
        best = max(best, rho[rows, list(image)].mean())
    return float(best)


def semi_matching_score(X, Y):
    """(1/p) Σ_i max_j ρ_ij (eq. 13; asymmetric: every unit of X picks its best unit of Y)."""
    return float(np.mean(np.max(pearson_matrix(X, Y), axis=1)))


def semi_matching_score_via_lp(X, Y):
    """Second route: max Σ P_ij ρ_ij over P ≥ 0 with rows summing to 1/p, columns free."""
    rho = pearson_matrix(X, Y)
    p, q = rho.shape
    row_sums, _ = _marginal_constraint_matrices(p, q)
    result = scipy.optimize.linprog(
        -rho.ravel(), A_eq=row_sums, b_eq=np.full(p, 1.0 / p), bounds=(0, None), method="highs",
        options=HIGHS_OPTIONS,
    )
    if result.status != 0:
        raise RuntimeError(result.message)
    return float(np.sum(result.x.reshape(p, q) * rho))


def partial_soft_matching(X, Y, mass):
    """Partial soft matching with cost C = 1 − ρ and transported mass s = ``mass``.

    Returns a dict: score = 1 − ⟨P*, C⟩ (raw), normalized_score = 1 − ⟨P*, C⟩/s, cost = ⟨P*, C⟩,
    plan = P*, mass = s.
    """
    C = 1.0 - pearson_matrix(X, Y)
    cost, plan = partial_ot_lp(C, mass)
    return {
        "score": 1.0 - cost,
        "normalized_score": 1.0 - cost / mass,
        "cost": cost,
        "plan": plan,
        "mass": float(mass),
    }


def partial_soft_matching_via_assignment(X, Y, mass):
    """Second route (mass·p·q integer): dummy points + replicated assignment. Returns (raw, normalized)."""
    cost, _ = partial_uniform_ot_via_replicated_assignment(1.0 - pearson_matrix(X, Y), mass)
    return 1.0 - cost, 1.0 - cost / mass


# ---------------------------------------------------------------------------
# Figure 3A of Khosla & Williams 2023
# ---------------------------------------------------------------------------


def figure_3a_networks(n=10, seed=0):
    """X, Y: three tuning curves each; all six are mean-zero and orthonormal; Z = [X, Y] (6 units).
    (The paper's figure uses unit-norm curves that are not centred; the issue specifies mean-zero
    ones so that x_iᵀy_j is the Pearson correlation.)"""
    rng = np.random.default_rng(seed)
    basis, _ = np.linalg.qr(center_columns(rng.standard_normal((n, 6))))
    X, Y = basis[:, :3], basis[:, 3:]
    return X, Y, np.hstack([X, Y])


# ---------------------------------------------------------------------------
# Self-test: the routes agree (run ``python tests/reference_matching.py``)
# ---------------------------------------------------------------------------


def random_pair(seed, n, p, q, n_latent=3, noise=0.6):
    """Shared-latent data with nonzero unit means and unequal unit scales."""
    rng = np.random.default_rng(seed)
    latent = rng.standard_normal((n, n_latent))
    X = latent @ rng.standard_normal((n_latent, p)) + noise * rng.standard_normal((n, p))
    Y = latent @ rng.standard_normal((n_latent, q)) + noise * rng.standard_normal((n, q))
    X = X * rng.uniform(0.5, 2.0, size=p) + rng.normal(0.0, 2.0, size=p)
    Y = Y * rng.uniform(0.5, 2.0, size=q) + rng.normal(0.0, 2.0, size=q)
    return X, Y


def self_test(verbose=True):
    """Cross-checks; returns a dict of the largest discrepancies measured."""
    worst = {}

    def record(key, value):
        worst[key] = max(worst.get(key, 0.0), float(value))

    shapes = [(30, 5, 5), (30, 6, 6), (25, 4, 7), (25, 7, 4), (5, 8, 10), (6, 7, 7), (40, 12, 9)]
    for seed, (n, p, q) in enumerate(shapes):
        X, Y = random_pair(seed, n, p, q)
        rho = pearson_matrix(X, Y)
        record("pearson vs corrcoef", np.max(np.abs(rho - pearson_matrix_via_corrcoef(X, Y))))
        s_T, plan = soft_matching_plan(X, Y)
        record("s_T LP vs replicated assignment", abs(s_T - soft_matching_score_via_assignment(X, Y)))
        record("LP plan row marginals", np.max(np.abs(plan.sum(axis=1) - 1 / p)))
        record("LP plan column marginals", np.max(np.abs(plan.sum(axis=0) - 1 / q)))
        record("LP plan negativity", max(0.0, -plan.min()))
        d_T = soft_matching_distance(X, Y)
        record("d_T LP vs replicated assignment", abs(d_T - soft_matching_distance_via_assignment(X, Y)))
        record("semi-matching max vs LP", abs(semi_matching_score(X, Y) - semi_matching_score_via_lp(X, Y)))
        if math.perm(max(p, q), min(p, q)) <= 200_000:
            record("assignment Hungarian vs brute force",
                   abs(assignment_score(X, Y) - assignment_score_via_bruteforce(X, Y)))
        if p == q:
            d_P = permutation_distance(X, Y)
            record("d_P brute force vs Hungarian", abs(d_P - permutation_distance_via_assignment(X, Y)))
            record("d_P vs sqrt(p) d_T (relative)", abs(d_P - np.sqrt(p) * d_T) / d_P)
            record("s_T vs assignment score (p = q)", abs(s_T - assignment_score(X, Y)))
            record("p = q LP plan * p vs nearest permutation", np.max(np.abs(plan * p - np.round(plan * p))))
        full = partial_soft_matching(X, Y, 1.0)
        record("partial mass=1 raw vs s_T", abs(full["score"] - s_T))
        previous = 0.0
        for k in range(1, p * q + 1, max(1, (p * q) // 7)):
            mass = k / (p * q)
            result = partial_soft_matching(X, Y, mass)
            P = result["plan"]
            record("partial total mass", abs(P.sum() - mass))
            record("partial row excess", max(0.0, np.max(P.sum(axis=1) - 1 / p)))
            record("partial column excess", max(0.0, np.max(P.sum(axis=0) - 1 / q)))
            raw, normalized = partial_soft_matching_via_assignment(X, Y, mass)
            record("partial raw LP vs dummy assignment", abs(result["score"] - raw))
            record("partial normalized LP vs dummy assignment", abs(result["normalized_score"] - normalized))
            record("partial cost decrease in mass (should be 0)", max(0.0, previous - result["cost"]))
            previous = result["cost"]

    X, Y, Z = figure_3a_networks()
    expected = {
        ("semi", "X", "Y"): (semi_matching_score(X, Y), 0.0),
        ("semi", "X", "Z"): (semi_matching_score(X, Z), 1.0),
        ("semi", "Y", "Z"): (semi_matching_score(Y, Z), 1.0),
        ("s_T", "X", "Z"): (soft_matching_score(X, Z), 0.5),
        ("s_T", "Y", "Z"): (soft_matching_score(Y, Z), 0.5),
        ("s_T", "X", "Y"): (soft_matching_score(X, Y), 0.0),
        ("s_T", "X", "X"): (soft_matching_score(X, X), 1.0),
    }
    for key, (value, target) in expected.items():
        record("figure 3A", abs(value - target))

    if verbose:
        for key, value in worst.items():
            print(f"{key:50s} {value:.3e}")
    return worst


if __name__ == "__main__":
    self_test()

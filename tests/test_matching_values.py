"""The matching family against independent float64 references (tests/reference_matching.py).

Part 1 checks the references themselves: linear programs (scipy HiGHS) against exact
combinatorial routes (brute force over permutations, the Hungarian algorithm on a replicated
cost matrix, dummy points for partial transport), and the identities of Khosla & Williams 2023
(d_P = √N·d_T, s_T = mean matched correlation for p = q, Fig. 3A). Part 2 compares
repalign.measure(...) and repalign.matching with the references to rtol 1e-9 (atol 1e-12),
in the regimes p = q, p < q, p > q, n > p and n < p, on 2D and 3D input. A name the library
does not know fails its test (never skip).
"""

import math

import numpy as np
import pytest
import reference_matching as ref
from conftest import assert_close as shared_assert_close
from conftest import library_measure, library_value

RTOL = 1e-9
ATOL = 1e-12
MARGINAL_ATOL = 1e-12


def assert_close(value, expected, rtol=RTOL, atol=ATOL, what=""):
    shared_assert_close(value, expected, rtol, atol, what)


# ---------------------------------------------------------------------------
# Data regimes (fixed seeds)
# ---------------------------------------------------------------------------


def time_condition_pair(seed, n_time, n_conditions, p, q):
    """(time, condition, unit) arrays with shared condition tuning and nonzero unit means."""
    rng = np.random.default_rng(seed)
    latent = rng.standard_normal((n_time, n_conditions, 3))
    X = latent @ rng.standard_normal((3, p)) + 0.6 * rng.standard_normal((n_time, n_conditions, p))
    Y = latent @ rng.standard_normal((3, q)) + 0.6 * rng.standard_normal((n_time, n_conditions, q))
    return X + rng.normal(0.0, 2.0, size=p), Y - rng.normal(0.0, 2.0, size=q)


REGIMES = {
    "square_n40_p6_q6": lambda: ref.random_pair(0, 40, 6, 6),
    "wide_n40_p5_q9": lambda: ref.random_pair(1, 40, 5, 9),  # p < q
    "narrow_n40_p9_q5": lambda: ref.random_pair(2, 40, 9, 5),  # p > q
    "few_samples_n6_p10_q12": lambda: ref.random_pair(3, 6, 10, 12),  # n < p, q
    "few_samples_square_n5_p8_q8": lambda: ref.random_pair(4, 5, 8, 8),  # n < p = q
    "large_n50_p30_q40": lambda: ref.random_pair(5, 50, 30, 40),
}
SQUARE = ["square_n40_p6_q6", "few_samples_square_n5_p8_q8"]

REGIMES_3D = {
    "3d_T4_C9_p5_q7": lambda: time_condition_pair(6, 4, 9, 5, 7),
    "3d_T3_C8_p6_q6": lambda: time_condition_pair(7, 3, 8, 6, 6),
}

MASSES = [0.2, 0.6, 0.95, 1.0]


_PARTIAL_CACHE = {}


def _partial(kind, mass):
    """Reference partial score; one LP per (data, mass) serves all four spellings of the name."""

    def reference(X, Y):
        key = (X.tobytes(), Y.tobytes(), X.shape, Y.shape, mass)
        if key not in _PARTIAL_CACHE:
            _PARTIAL_CACHE[key] = ref.partial_soft_matching(X, Y, mass)
        return _PARTIAL_CACHE[key][kind]

    return reference


# (name, keyword arguments, reference function, applies to square regimes only)
CATALOGUE = [
    ("soft_matching-score", {}, ref.soft_matching_score, False),
    ("soft_matching-distance=euclidean", {}, ref.soft_matching_distance, False),
    ("assignment-score", {}, ref.assignment_score, False),
    ("permutation-distance=euclidean", {}, ref.permutation_distance, True),
    ("semi_matching-score", {}, ref.semi_matching_score, False),
]
for _mass in MASSES:
    CATALOGUE += [
        (f"partial_soft_matching-mass={_mass}-score", {}, _partial("score", _mass), False),
        (f"partial_soft_matching-mass={_mass}-normalized_score", {}, _partial("normalized_score", _mass), False),
    ]

# Other spellings of the same numbers (aliases, mass as a keyword), checked on fewer regimes.
SPELLINGS = [
    ("soft-matching", {}, ref.soft_matching_score),
    ("one-to-one-matching", {}, ref.assignment_score),
]
for _mass in MASSES:
    SPELLINGS += [
        ("partial_soft_matching-score", {"mass": _mass}, _partial("score", _mass)),
        ("partial_soft_matching-normalized_score", {"mass": _mass}, _partial("normalized_score", _mass)),
    ]
SPELLING_REGIMES = ["narrow_n40_p9_q5", "few_samples_n6_p10_q12"]


def _label(name, kwargs):
    return f"{name}[{','.join(f'{k}={v}' for k, v in kwargs.items())}]" if kwargs else name


_REFERENCE_CACHE = {}


def reference_value(name, kwargs, function, regime, data):
    key = (_label(name, kwargs), regime)
    if key not in _REFERENCE_CACHE:
        _REFERENCE_CACHE[key] = function(*data)
    return _REFERENCE_CACHE[key]


# ---------------------------------------------------------------------------
# Library access (any failure fails the test, with the library's message)
# ---------------------------------------------------------------------------




def library_matching():
    try:
        import repalign.matching

        return repalign.matching
    except Exception as error:  # noqa: BLE001
        pytest.fail(f"import repalign.matching raised {error!r}")


def library_soft_matching(X, Y):
    try:
        return library_matching().soft_matching(X, Y, cost="correlation")
    except Exception as error:  # noqa: BLE001
        pytest.fail(f"repalign.matching.soft_matching(X {X.shape}, Y {Y.shape}) raised {error!r}")


def library_partial_soft_matching(X, Y, mass):
    try:
        return library_matching().partial_soft_matching(X, Y, mass=mass)
    except Exception as error:  # noqa: BLE001
        pytest.fail(f"repalign.matching.partial_soft_matching(X {X.shape}, Y {Y.shape}, mass={mass}) raised {error!r}")


def plan_array(result, p, q):
    plan = result.plan
    assert isinstance(plan, np.ndarray), f"plan should be a numpy array, found {type(plan).__name__}"
    assert plan.shape == (p, q), f"plan shape {plan.shape}, expected {(p, q)}"
    return np.asarray(plan, dtype=np.float64)


# ===========================================================================
# Part 1: the references agree with themselves
# ===========================================================================

REFERENCE_SHAPES = [(30, 5, 5), (30, 6, 6), (25, 4, 7), (25, 7, 4), (5, 8, 10), (6, 7, 7), (50, 30, 40)]


@pytest.mark.parametrize("n,p,q", REFERENCE_SHAPES)
def test_reference_lp_against_exact_combinatorial_routes(n, p, q):
    X, Y = ref.random_pair(100 + p + q, n, p, q)
    np.testing.assert_allclose(ref.pearson_matrix(X, Y), ref.pearson_matrix_via_corrcoef(X, Y), rtol=0, atol=1e-14)
    s_T, plan = ref.soft_matching_plan(X, Y)
    assert_close(s_T, ref.soft_matching_score_via_assignment(X, Y), what="s_T: HiGHS vs replicated Hungarian")
    assert np.all(plan >= 0)
    np.testing.assert_allclose(plan.sum(axis=1), 1 / p, rtol=0, atol=MARGINAL_ATOL)
    np.testing.assert_allclose(plan.sum(axis=0), 1 / q, rtol=0, atol=MARGINAL_ATOL)
    assert_close(
        ref.soft_matching_distance(X, Y), ref.soft_matching_distance_via_assignment(X, Y),
        what="d_T: HiGHS vs replicated Hungarian",
    )
    assert_close(ref.semi_matching_score(X, Y), ref.semi_matching_score_via_lp(X, Y), what="semi: max vs LP")
    if math.perm(max(p, q), min(p, q)) <= 200_000:
        assert_close(ref.assignment_score(X, Y), ref.assignment_score_via_bruteforce(X, Y), what="assignment")


@pytest.mark.parametrize("n,p", [(30, 5), (30, 6), (6, 7), (40, 12)])
def test_reference_permutation_distance_is_sqrt_p_times_soft_matching_distance(n, p):
    X, Y = ref.random_pair(200 + p, n, p, p)
    d_P = ref.permutation_distance(X, Y)  # brute force over p! orders for p <= 7
    assert_close(d_P, ref.permutation_distance_via_assignment(X, Y), what="d_P: brute force vs Hungarian")
    assert_close(d_P, math.sqrt(p) * ref.soft_matching_distance(X, Y), what="d_P = √p d_T")
    # For p = q the transport optimum is a vertex of the Birkhoff polytope / p (a permutation / p)
    # and s_T is the mean correlation after optimal one-to-one matching.
    s_T, plan = ref.soft_matching_plan(X, Y)
    np.testing.assert_allclose(plan * p, np.round(plan * p), rtol=0, atol=1e-12)
    np.testing.assert_array_equal(np.round(plan * p).sum(axis=0), 1.0)
    assert_close(s_T, ref.assignment_score(X, Y), what="s_T = assignment score for p = q")


@pytest.mark.parametrize("n,p,q", [(30, 4, 5), (25, 6, 6), (6, 8, 10), (40, 7, 3)])
def test_reference_partial_transport(n, p, q):
    X, Y = ref.random_pair(300 + p + q, n, p, q)
    s_T = ref.soft_matching_score(X, Y)
    full = ref.partial_soft_matching(X, Y, 1.0)
    assert_close(full["score"], s_T, what="partial raw score at mass 1 = s_T")
    assert_close(full["normalized_score"], s_T, what="partial normalized score at mass 1 = s_T")
    previous_cost = 0.0
    for k in range(1, p * q + 1):
        mass = k / (p * q)
        result = ref.partial_soft_matching(X, Y, mass)
        plan = result["plan"]
        assert abs(plan.sum() - mass) <= MARGINAL_ATOL
        assert np.all(plan.sum(axis=1) <= 1 / p + MARGINAL_ATOL)
        assert np.all(plan.sum(axis=0) <= 1 / q + MARGINAL_ATOL)
        raw, normalized = ref.partial_soft_matching_via_assignment(X, Y, mass)
        assert_close(result["score"], raw, what=f"partial raw, mass {mass}: HiGHS vs dummy-point Hungarian")
        assert_close(result["normalized_score"], normalized, what=f"partial normalized, mass {mass}")
        assert result["cost"] >= previous_cost - 1e-15, "partial transport cost must be nondecreasing in mass"
        previous_cost = result["cost"]


def test_reference_balanced_ot_with_mass_one_equals_partial_ot():
    rng = np.random.default_rng(7)
    C = rng.uniform(0.0, 2.0, size=(6, 9))
    value, _ = ref.ot_lp(C)
    partial_value, _ = ref.partial_ot_lp(C, 1.0)
    assert_close(partial_value, value, what="partial OT at full mass")


def test_reference_figure_3a():
    X, Y, Z = ref.figure_3a_networks()
    assert_close(ref.semi_matching_score(X, Y), 0.0, what="semi(X, Y)")
    assert_close(ref.semi_matching_score(X, Z), 1.0, what="semi(X, Z)")
    assert_close(ref.semi_matching_score(Y, Z), 1.0, what="semi(Y, Z)")
    assert_close(ref.soft_matching_score(X, Z), 0.5, what="s_T(X, Z)")
    assert_close(ref.soft_matching_score(Y, Z), 0.5, what="s_T(Y, Z)")
    assert_close(ref.soft_matching_score(X, Y), 0.0, what="s_T(X, Y)")
    assert_close(ref.soft_matching_score(X, X), 1.0, what="s_T(X, X)")


def test_reference_constant_unit_raises():
    X, Y = ref.random_pair(8, 20, 4, 5)
    X[:, 2] = 3.0
    with pytest.raises(ValueError):
        ref.pearson_matrix(X, Y)


# ===========================================================================
# Part 2: the library against the references
# ===========================================================================


def _cases():
    for name, kwargs, function, square_only in CATALOGUE:
        for regime in REGIMES:
            if square_only and regime not in SQUARE:
                continue
            yield pytest.param(name, kwargs, function, regime, id=f"{_label(name, kwargs)}@{regime}")


@pytest.mark.parametrize("name,kwargs,function,regime", list(_cases()))
def test_library_matches_reference(name, kwargs, function, regime):
    X, Y = REGIMES[regime]()
    expected = reference_value(name, kwargs, function, regime, (X, Y))
    assert_close(library_value(name, kwargs, X, Y), expected, what=f"{_label(name, kwargs)} on {regime}")


@pytest.mark.parametrize(
    "name,kwargs,function,regime",
    [
        pytest.param(name, kwargs, function, regime, id=f"{_label(name, kwargs)}@{regime}")
        for name, kwargs, function in SPELLINGS
        for regime in SPELLING_REGIMES
    ],
)
def test_aliases_and_keyword_mass_match_reference(name, kwargs, function, regime):
    X, Y = REGIMES[regime]()
    expected = reference_value(name, kwargs, function, regime, (X, Y))
    assert_close(library_value(name, kwargs, X, Y), expected, what=f"{_label(name, kwargs)} on {regime}")


def _cases_3d():
    for name, kwargs, function, square_only in CATALOGUE:
        for regime in REGIMES_3D:
            X, Y = REGIMES_3D[regime]()
            if square_only and X.shape[-1] != Y.shape[-1]:
                continue
            yield pytest.param(name, kwargs, function, regime, id=f"{_label(name, kwargs)}@{regime}")


@pytest.mark.parametrize("name,kwargs,function,regime", list(_cases_3d()))
def test_3d_input_equals_2d_on_flattened_rows(name, kwargs, function, regime):
    X, Y = REGIMES_3D[regime]()
    X2, Y2 = X.reshape(-1, X.shape[-1]), Y.reshape(-1, Y.shape[-1])
    value_3d = library_value(name, kwargs, X, Y)
    assert_close(value_3d, library_value(name, kwargs, X2, Y2), rtol=1e-12, what=f"{name}: 3D vs flattened 2D")
    assert_close(value_3d, reference_value(name, kwargs, function, regime, (X, Y)), what=f"{name} on {regime}")


def test_semi_matching_is_asymmetric_in_the_right_direction():
    X, Y = REGIMES["wide_n40_p5_q9"]()
    forward, backward = ref.semi_matching_score(X, Y), ref.semi_matching_score(Y, X)
    assert abs(forward - backward) > 1e-3, "test data should make the two directions differ"
    assert_close(library_value("semi_matching-score", {}, X, Y), forward, what="semi(X, Y)")
    assert_close(library_value("semi_matching-score", {}, Y, X), backward, what="semi(Y, X)")


def test_permutation_distance_rejects_unequal_sizes():
    X, Y = REGIMES["wide_n40_p5_q9"]()
    measure = library_measure("permutation-distance=euclidean")
    with pytest.raises(ValueError):
        measure(X, Y)


@pytest.mark.parametrize("regime", SQUARE)
def test_library_permutation_distance_is_sqrt_n_times_soft_matching_distance(regime):
    X, Y = REGIMES[regime]()
    d_P = library_value("permutation-distance=euclidean", {}, X, Y)
    d_T = library_value("soft_matching-distance=euclidean", {}, X, Y)
    assert_close(d_P, math.sqrt(X.shape[1]) * d_T, what="d_P = √N d_T")


@pytest.mark.parametrize("regime", SQUARE + ["wide_n40_p5_q9", "few_samples_n6_p10_q12"])
def test_library_partial_score_at_full_mass_is_soft_matching_score(regime):
    X, Y = REGIMES[regime]()
    s_T = library_value("soft_matching-score", {}, X, Y)
    assert_close(library_value("partial_soft_matching-mass=1.0-score", {}, X, Y), s_T, what="raw at mass 1")
    assert_close(library_value("partial_soft_matching-score", {"mass": 1.0}, X, Y), s_T, what="raw at mass 1 (kw)")
    assert_close(
        library_value("partial_soft_matching-mass=1.0-normalized_score", {}, X, Y), s_T, what="normalized at mass 1"
    )


# ---------------------------------------------------------------------------
# Transport plans: marginals, objective = returned value
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("regime", list(REGIMES))
def test_soft_matching_plan_marginals_and_objective(regime):
    X, Y = REGIMES[regime]()
    p, q = X.shape[1], Y.shape[1]
    result = library_soft_matching(X, Y)
    plan = plan_array(result, p, q)
    assert plan.min() >= -MARGINAL_ATOL, f"negative plan entry {plan.min()}"
    np.testing.assert_allclose(plan.sum(axis=1), 1 / p, rtol=0, atol=MARGINAL_ATOL, err_msg="row sums")
    np.testing.assert_allclose(plan.sum(axis=0), 1 / q, rtol=0, atol=MARGINAL_ATOL, err_msg="column sums")
    rho = ref.pearson_matrix(X, Y)
    expected = ref.soft_matching_score(X, Y)
    # The returned value is the objective of the returned plan, and that objective is optimal.
    assert_close(float(result.value), float(np.sum(plan * rho)), what="value vs Σ P_ij ρ_ij of the returned plan")
    assert_close(float(np.sum(plan * rho)), expected, what="objective of the plan vs HiGHS optimum")
    assert_close(float(result.value), library_value("soft_matching-score", {}, X, Y), what="value vs measure")


@pytest.mark.parametrize("mass", [0.2, 0.6, 0.95, 1.0])
@pytest.mark.parametrize("regime", ["square_n40_p6_q6", "wide_n40_p5_q9", "narrow_n40_p9_q5", "large_n50_p30_q40"])
def test_partial_soft_matching_plan_marginals_and_objective(regime, mass):
    X, Y = REGIMES[regime]()
    p, q = X.shape[1], Y.shape[1]
    result = library_partial_soft_matching(X, Y, mass)
    plan = plan_array(result, p, q)
    assert_close(float(result.mass), mass, atol=0, rtol=1e-15, what="mass")
    assert plan.min() >= -MARGINAL_ATOL, f"negative plan entry {plan.min()}"
    assert np.all(plan.sum(axis=1) <= 1 / p + MARGINAL_ATOL), "a row ships more than 1/p"
    assert np.all(plan.sum(axis=0) <= 1 / q + MARGINAL_ATOL), "a column receives more than 1/q"
    assert abs(plan.sum() - mass) <= MARGINAL_ATOL, f"total mass {plan.sum()!r} != {mass}"
    cost = float(np.sum(plan * (1.0 - ref.pearson_matrix(X, Y))))
    expected = ref.partial_soft_matching(X, Y, mass)
    assert_close(float(result.score), 1.0 - cost, what="raw score vs 1 − ⟨P, C⟩ of the returned plan")
    assert_close(float(result.normalized_score), 1.0 - cost / mass, what="normalized vs 1 − ⟨P, C⟩/s of the plan")
    assert_close(float(result.score), expected["score"], what="raw score vs HiGHS optimum")
    assert_close(float(result.normalized_score), expected["normalized_score"], what="normalized vs HiGHS optimum")


# ---------------------------------------------------------------------------
# Figure 3A (Khosla & Williams 2023) and permutation recovery
# ---------------------------------------------------------------------------

FIGURE_3A = [
    ("semi_matching-score", "X", "Y", 0.0),
    ("semi_matching-score", "X", "Z", 1.0),
    ("semi_matching-score", "Y", "Z", 1.0),
    ("soft_matching-score", "X", "Z", 0.5),
    ("soft_matching-score", "Y", "Z", 0.5),
    ("soft_matching-score", "X", "Y", 0.0),
    ("soft_matching-score", "X", "X", 1.0),
]


@pytest.mark.parametrize("name,first,second,expected", FIGURE_3A)
def test_library_figure_3a(name, first, second, expected):
    X, Y, Z = ref.figure_3a_networks()
    networks = {"X": X, "Y": Y, "Z": Z}
    value = library_value(name, {}, networks[first], networks[second])
    assert_close(value, expected, what=f"{name}({first}, {second})")


@pytest.mark.parametrize("seed,n,p", [(0, 30, 7), (1, 6, 9), (2, 40, 20)])
def test_random_unit_permutation_gives_distance_zero_and_is_recovered(seed, n, p):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p)) * rng.uniform(0.5, 2.0, size=p) + rng.normal(0.0, 2.0, size=p)
    perm = rng.permutation(p)
    Y = X[:, perm]  # column j of Y is column perm[j] of X
    scale = np.linalg.norm(ref.center_columns(X)) / math.sqrt(p)
    for name in ["soft_matching-distance=euclidean", "permutation-distance=euclidean"]:
        value = library_value(name, {}, X, Y)
        assert 0.0 <= value <= 1e-6 * scale, f"{name}: {value!r} for a pure unit permutation (scale {scale:.3g})"
    assert_close(library_value("soft_matching-score", {}, X, Y), 1.0, what="s_T of a unit permutation")
    assert_close(library_value("assignment-score", {}, X, Y), 1.0, what="assignment score of a unit permutation")
    expected_plan = np.zeros((p, p))
    expected_plan[perm, np.arange(p)] = 1.0 / p
    np.testing.assert_allclose(ref.soft_matching_plan(X, Y)[1], expected_plan, rtol=0, atol=MARGINAL_ATOL)
    plan = plan_array(library_soft_matching(X, Y), p, p)
    np.testing.assert_allclose(plan, expected_plan, rtol=0, atol=MARGINAL_ATOL, err_msg="plan is not the permutation / p")

"""repalign.measure(...) against independent float64 references (tests/reference.py).

Part 1 checks the references themselves: two routes to the same number must agree, and known
closed forms must come out. Part 2 compares the library with the references, name by name and
data regime by data regime, to rtol 1e-8 (atol 1e-10 near zero). Part 3 covers the spec's
"known traps". A name the library does not know makes its test fail (never skip): the
catalogue in docs/api-contract.md is the contract.
"""

import math

import numpy as np
import pytest
import reference as ref
from conftest import assert_close as shared_assert_close
from conftest import library_value
from scipy.spatial.distance import pdist

RTOL = 1e-8
ATOL = 1e-10


def assert_close(value, expected, rtol=RTOL, atol=ATOL, what=""):
    shared_assert_close(value, expected, rtol, atol, what)


# ---------------------------------------------------------------------------
# Data regimes (fixed seeds)
# ---------------------------------------------------------------------------


def shared_latent_pair(seed, n, p, q, n_latent=4, noise=0.5):
    """X and Y driven by a common latent (so scores are far from 0 and 1), with nonzero unit
    means (so centring matters) and rows scaled to distances ~1 (so an RBF σ=1.5 is sensible)."""
    rng = np.random.default_rng(seed)
    latent = rng.standard_normal((n, n_latent))
    X = latent @ rng.standard_normal((n_latent, p)) + noise * rng.standard_normal((n, p))
    Y = latent @ rng.standard_normal((n_latent, q)) + noise * rng.standard_normal((n, q))
    X = X / np.sqrt(p) + rng.normal(0.0, 2.0, size=p)
    Y = Y / np.sqrt(q) + rng.normal(0.0, 2.0, size=q)
    return X, Y


def time_condition_pair(seed, n_time=4, n_conditions=9, p=5, q=6):
    """(time, condition, unit) arrays with condition-specific tuning, so that holding out whole
    conditions (split=conditions) and holding out row blocks (split=samples) give different scores."""
    rng = np.random.default_rng(seed)
    condition_latent = rng.standard_normal((n_conditions, 3))
    time_gain = 1.0 + 0.3 * rng.standard_normal((n_time, 1, 1))
    latent = time_gain * condition_latent[None, :, :] + 0.3 * rng.standard_normal((n_time, n_conditions, 3))
    X = latent @ rng.standard_normal((3, p)) + 0.5 * rng.standard_normal((n_time, n_conditions, p))
    Y = latent @ rng.standard_normal((3, q)) + 0.5 * rng.standard_normal((n_time, n_conditions, q))
    return X + 1.0, Y - 2.0


REGIMES = {
    "tall_n60_p7_q11": lambda: shared_latent_pair(0, 60, 7, 11),
    "tall_n60_p11_q7": lambda: shared_latent_pair(1, 60, 11, 7),  # p > q: PWCCA weights from Y
    "tall_n50_p6_q6": lambda: shared_latent_pair(2, 50, 6, 6),  # p = q: PWCCA tie goes to X
    "tall_n60_p12_q15": lambda: shared_latent_pair(3, 60, 12, 15),
    "wide_n20_p30_q45": lambda: shared_latent_pair(4, 20, 30, 45),
    "3d_T4_C9_p5_q6": lambda: time_condition_pair(5),
}

TALL = ["tall_n60_p7_q11", "tall_n60_p11_q7"]
TALL_ALL = TALL + ["tall_n50_p6_q6"]
ANY_SHAPE = TALL + ["wide_n20_p30_q45"]


# ---------------------------------------------------------------------------
# The catalogue: (name, keyword params, reference function, regimes)
# ---------------------------------------------------------------------------

OUTPUTS = {
    "score": lambda s: s,
    "distance=angular": ref.angular_distance,
    "angular_score": ref.angular_score,
}


def _cases():
    cases = []

    def add(name, kwargs, reference_fn, regimes):
        cases.extend((name, kwargs, reference_fn, regime) for regime in regimes)

    # CKA, linear kernel, three HSIC estimators x three outputs.
    for hsic in ("gretton", "song", "lange"):
        for output, transform in OUTPUTS.items():
            add(
                f"cka-kernel=linear-hsic={hsic}-{output}",
                {},
                lambda X, Y, h=hsic, t=transform: t(ref.cka_linear(X, Y, h)),
                ANY_SHAPE + ["3d_T4_C9_p5_q6"],
            )
    add("cka", {}, lambda X, Y: ref.cka_linear(X, Y, "gretton"), ANY_SHAPE)
    add("cka-debiased", {}, lambda X, Y: ref.cka_linear(X, Y, "song"), ANY_SHAPE)
    add("angular-cka", {}, lambda X, Y: ref.angular_score(ref.cka_linear(X, Y, "gretton")), ANY_SHAPE)
    add("cka", {"hsic": "song"}, lambda X, Y: ref.cka_linear(X, Y, "song"), ANY_SHAPE)
    add("cka", {"hsic": "lange"}, lambda X, Y: ref.cka_linear(X, Y, "lange"), ANY_SHAPE)

    # CKA, RBF kernel.
    add(
        "cka-kernel=(rbf-sigma=1.5)-hsic=gretton-score",
        {},
        lambda X, Y: ref.cka_rbf(X, Y, "gretton", sigma=1.5),
        ANY_SHAPE,
    )
    add(
        "cka-kernel=(rbf-sigma=median-sigma_factor=1)-hsic=gretton-score",
        {},
        lambda X, Y: ref.cka_rbf(X, Y, "gretton", sigma="median", sigma_factor=1.0),
        ANY_SHAPE,
    )
    for hsic in ("song", "lange"):
        add(
            f"cka-kernel=(rbf-sigma=median-sigma_factor=1)-hsic={hsic}-score",
            {},
            lambda X, Y, h=hsic: ref.cka_rbf(X, Y, h, sigma="median", sigma_factor=1.0),
            ANY_SHAPE,
        )
    add(
        "cka-kernel=(rbf-sigma=median-sigma_factor=0.5)-hsic=gretton-distance=angular",
        {},
        lambda X, Y: ref.angular_distance(ref.cka_rbf(X, Y, "gretton", sigma="median", sigma_factor=0.5)),
        TALL,
    )
    add("cka", {"kernel": "rbf", "sigma": 1.5}, lambda X, Y: ref.cka_rbf(X, Y, "gretton", sigma=1.5), TALL)

    # Procrustes and Bures.
    procrustes = {
        "nbs-score": ref.nbs,
        "nbs": ref.nbs,
        "procrustes-score": ref.nbs,
        "procrustes-distance=angular": ref.procrustes_angular_distance,
        "procrustes": ref.procrustes_angular_distance,
        "procrustes-angular_score": ref.procrustes_angular_score,
        "angular-procrustes": ref.procrustes_angular_score,
        "procrustes-distance=euclidean": ref.procrustes_euclidean_distance,
        "procrustes-distance=squared_euclidean": ref.procrustes_squared_euclidean_distance,
    }
    for name, reference_fn in procrustes.items():
        add(name, {}, reference_fn, ANY_SHAPE + ["3d_T4_C9_p5_q6"])
    for alpha in ("0.5", "0.25"):
        add(
            f"shape_metric-alpha={alpha}-distance=angular",
            {},
            lambda X, Y, a=float(alpha): ref.shape_metric_angular_distance(X, Y, a),
            TALL_ALL,
        )

    # CCA family (needs n > p, q).
    add("cca-score", {}, ref.cca_score, TALL_ALL)
    add("cca", {}, ref.cca_score, TALL_ALL)
    add("cca-squared_score", {}, ref.cca_squared_score, TALL_ALL)
    add("svcca-var=0.99-score", {}, lambda X, Y: ref.svcca_score(X, Y, var=0.99), TALL_ALL)
    add("svcca", {}, lambda X, Y: ref.svcca_score(X, Y, var=0.99), TALL_ALL)
    add("svcca-var=0.9-score", {}, lambda X, Y: ref.svcca_score(X, Y, var=0.9), TALL_ALL)
    add("svcca-dim=10-score", {}, lambda X, Y: ref.svcca_score(X, Y, dim=10), ["tall_n60_p12_q15"])
    add("svcca-dim=5-score", {}, lambda X, Y: ref.svcca_score(X, Y, dim=5), TALL_ALL)
    add("pwcca-score", {}, ref.pwcca_score, TALL_ALL)
    add("pwcca", {}, ref.pwcca_score, TALL_ALL)

    # Regression. Predict X (reference) from Y unless direction says otherwise.
    add("linear_regression-r2", {}, lambda X, Y: ref.regression_score(X, Y, lam=0.0), TALL)
    add("linreg", {}, lambda X, Y: ref.regression_score(X, Y, lam=0.0), TALL)
    add(
        "linear_regression-r2-cv=5folds",
        {},
        lambda X, Y: ref.regression_score(X, Y, lam=0.0, cv=5),
        TALL + ["3d_T4_C9_p5_q6"],
    )
    add("ridge-lambda=100-r2", {}, lambda X, Y: ref.regression_score(X, Y, lam=100.0), ANY_SHAPE)
    for name in ("ridge-lambda=100-r2-cv=5folds", "ridge-cv"):
        add(
            name,
            {},
            lambda X, Y: ref.regression_score(X, Y, lam=100.0, cv=5),
            ANY_SHAPE + ["3d_T4_C9_p5_q6"],
        )
    # Small λ so that the fit is not shrunk to nothing at this data scale.
    for split in ("conditions", "samples"):
        for aggregate in ("pooled", "per_unit", "pearson"):
            for direction in ("x_from_y", "y_from_x", "symmetric"):
                add(
                    "ridge-lambda=0.5-r2-cv=5folds",
                    {"split": split, "aggregate": aggregate, "direction": direction},
                    lambda X, Y, s=split, a=aggregate, d=direction: ref.regression_score(
                        X, Y, lam=0.5, cv=5, split=s, aggregate=a, direction=d
                    ),
                    ["tall_n60_p7_q11", "3d_T4_C9_p5_q6"],
                )
    for aggregate in ("per_unit", "pearson"):  # p, q > n: the training Gram is singular without λ
        add(
            "ridge-lambda=0.5-r2-cv=5folds",
            {"aggregate": aggregate, "direction": "symmetric"},
            lambda X, Y, a=aggregate: ref.regression_score(X, Y, lam=0.5, cv=5, aggregate=a, direction="symmetric"),
            ["wide_n20_p30_q45"],
        )
    add(
        "ridge-lambda=0.5-r2-cv=5folds",
        {"split": "shuffle", "seed": 3},
        lambda X, Y: ref.regression_score(X, Y, lam=0.5, cv=5, split="shuffle", seed=3),
        ["tall_n60_p7_q11", "3d_T4_C9_p5_q6"],
    )
    add(
        "ridge",
        {"lam": 2.0, "cv": 4},
        lambda X, Y: ref.regression_score(X, Y, lam=2.0, cv=4),
        ["tall_n60_p7_q11", "3d_T4_C9_p5_q6"],
    )
    add(
        "ridge-lambda=0.5-r2",
        {"aggregate": "per_unit", "direction": "y_from_x"},
        lambda X, Y: ref.regression_score(X, Y, lam=0.5, aggregate="per_unit", direction="y_from_x"),
        ["tall_n60_p7_q11", "wide_n20_p30_q45"],
    )

    # RSA.
    for rdm in ("correlation", "euclidean", "squared_euclidean", "cosine"):
        for compare in ("pearson", "spearman", "kendall", "cosine"):
            add(
                f"rsa-rdm={rdm}-compare={compare}",
                {},
                lambda X, Y, r=rdm, c=compare: ref.rsa_score(X, Y, r, c),
                ANY_SHAPE,
            )
    add("rsa", {}, lambda X, Y: ref.rsa_score(X, Y, "correlation", "spearman"), ANY_SHAPE + ["3d_T4_C9_p5_q6"])
    return cases


CASES = _cases()


def _case_id(case):
    name, kwargs, _, regime = case
    keyword_text = ",".join(f"{k}={v}" for k, v in kwargs.items())
    return f"{name}[{keyword_text}]@{regime}" if kwargs else f"{name}@{regime}"




# ---------------------------------------------------------------------------
# Part 1: the references checked against each other and against closed forms
# ---------------------------------------------------------------------------


class TestReferenceSelfConsistency:
    def test_song_hsic_equals_bruteforce_u_statistic(self):
        for n in (5, 8):
            X, Y = shared_latent_pair(10 + n, n, 3, 4)
            for K, L in [
                (ref.linear_gram(X), ref.linear_gram(Y)),
                (ref.rbf_gram(X, 1.0), ref.rbf_gram(Y, 0.7)),
            ]:
                np.testing.assert_allclose(
                    ref.hsic_song(K, L), ref.hsic_song_via_u_statistic(K, L), rtol=1e-10, atol=1e-14
                )

    def test_song_hsic_is_translation_invariant(self):
        # So centring before forming the linear Gram is only for accuracy, as the spec says.
        X, Y = shared_latent_pair(20, 12, 3, 5)
        centred = ref.hsic_song(ref.linear_gram(X), ref.linear_gram(Y))
        raw = ref.hsic_song(ref.linear_gram(X, center=False), ref.linear_gram(Y, center=False))
        np.testing.assert_allclose(raw, centred, rtol=1e-9)

    def test_gretton_kernel_space_equals_feature_space(self):
        for regime in ANY_SHAPE:
            X, Y = REGIMES[regime]()
            np.testing.assert_allclose(
                ref.cka_linear(X, Y, "gretton"), ref.cka_linear_gretton_via_features(X, Y), rtol=1e-12
            )

    @pytest.mark.parametrize("hsic", ["gretton", "song", "lange"])
    def test_cka_of_a_representation_with_itself_is_one(self, hsic):
        X, _ = REGIMES["tall_n60_p7_q11"]()
        np.testing.assert_allclose(ref.cka_linear(X, X, hsic), 1.0, rtol=1e-12)
        np.testing.assert_allclose(ref.cka_rbf(X, X, hsic), 1.0, rtol=1e-12)

    @pytest.mark.parametrize("hsic", ["gretton", "song", "lange"])
    def test_linear_cka_invariant_to_rotation_scale_translation(self, hsic):
        X, Y = REGIMES["tall_n60_p7_q11"]()
        rotation, _ = np.linalg.qr(np.random.default_rng(0).standard_normal((11, 11)))
        np.testing.assert_allclose(
            ref.cka_linear(X, 3.0 * Y @ rotation + 5.0, hsic), ref.cka_linear(X, Y, hsic), rtol=1e-10
        )

    def test_nbs_three_routes_agree(self):
        for regime in ANY_SHAPE:
            X, Y = REGIMES[regime]()
            direct = ref.nbs(X, Y)
            np.testing.assert_allclose(ref.nbs_via_orthogonal_procrustes(X, Y), direct, rtol=1e-12)
            np.testing.assert_allclose(ref.nbs_via_bures_fidelity(X, Y), direct, rtol=1e-6)

    def test_procrustes_euclidean_equals_explicit_alignment(self):
        for regime in ANY_SHAPE:
            X, Y = REGIMES[regime]()
            np.testing.assert_allclose(
                ref.procrustes_euclidean_distance_via_alignment(X, Y),
                ref.procrustes_euclidean_distance(X, Y),
                rtol=1e-10,
            )

    def test_procrustes_of_a_rotated_copy(self):
        X, _ = REGIMES["tall_n60_p7_q11"]()
        rotation, _ = np.linalg.qr(np.random.default_rng(1).standard_normal((7, 7)))
        np.testing.assert_allclose(ref.nbs(X, X @ rotation + 1.0), 1.0, rtol=1e-12)
        assert ref.procrustes_euclidean_distance_via_alignment(X, X @ rotation) < 1e-10

    def test_shape_metric_endpoints(self):
        # alpha = 1 is Procrustes; alpha = 0 with p = q is arccos(mean canonical correlation).
        X, Y = REGIMES["tall_n60_p7_q11"]()
        np.testing.assert_allclose(
            ref.shape_metric_angular_distance(X, Y, 1.0), ref.procrustes_angular_distance(X, Y), rtol=1e-12
        )
        X, Y = REGIMES["tall_n50_p6_q6"]()
        np.testing.assert_allclose(
            ref.shape_metric_angular_distance(X, Y, 0.0), np.arccos(ref.cca_score(X, Y)), rtol=1e-9
        )

    def test_canonical_correlations_two_routes_agree(self):
        for regime in TALL_ALL + ["tall_n60_p12_q15"]:
            X, Y = REGIMES[regime]()
            np.testing.assert_allclose(
                ref.canonical_correlations_via_covariance(X, Y), ref.canonical_correlations(X, Y), atol=1e-7
            )

    def test_cca_of_an_invertible_linear_map_is_all_ones(self):
        X, _ = REGIMES["tall_n60_p7_q11"]()
        invertible = np.random.default_rng(2).standard_normal((7, 7)) + 3 * np.eye(7)
        np.testing.assert_allclose(ref.canonical_correlations(X, X @ invertible - 4.0), np.ones(7), rtol=1e-12)
        np.testing.assert_allclose(ref.pwcca_score(X, X @ invertible), 1.0, rtol=1e-12)

    def test_pwcca_two_routes_agree(self):
        for regime in TALL_ALL:
            X, Y = REGIMES[regime]()
            np.testing.assert_allclose(ref.pwcca_score_via_covariance(X, Y), ref.pwcca_score(X, Y), rtol=1e-7)

    def test_svcca_keeping_every_pc_is_cca(self):
        X, Y = REGIMES["tall_n60_p7_q11"]()
        np.testing.assert_allclose(ref.svcca_score(X, Y, var=1.0 - 1e-12), ref.cca_score(X, Y), rtol=1e-10)

    def test_linear_regression_two_routes_and_closed_forms(self):
        for regime in TALL + ["wide_n20_p30_q45"]:
            X, Y = REGIMES[regime]()
            np.testing.assert_allclose(
                ref.linear_regression_r2(X, Y), ref.linear_regression_r2_via_projection(X, Y), rtol=1e-10
            )
        X, Y = REGIMES["tall_n60_p7_q11"]()
        # Y spans X: R² = 1. One target unit: R² = ρ₁² (the squared multiple correlation).
        np.testing.assert_allclose(ref.linear_regression_r2(X, np.hstack([X @ np.ones((7, 2)), X])), 1.0, rtol=1e-12)
        np.testing.assert_allclose(
            ref.linear_regression_r2(X[:, :1], Y), ref.canonical_correlations(X[:, :1], Y)[0] ** 2, rtol=1e-10
        )
        # Ridge with a vanishing λ is OLS; ridge by solve equals ridge by augmented least squares.
        np.testing.assert_allclose(ref.regression_score(X, Y, lam=1e-9), ref.linear_regression_r2(X, Y), rtol=1e-8)
        Xc, Yc = ref.center_columns(X), ref.center_columns(Y)
        np.testing.assert_allclose(
            ref.ridge_coefficients(Xc, Yc, 3.0), ref.ridge_coefficients_via_augmented_lstsq(Xc, Yc, 3.0), rtol=1e-10
        )

    def test_condition_folds_hold_out_every_time_bin(self):
        folds = ref.cross_validation_test_folds((4, 9, 5), 5, "conditions")
        assert [len(f) for f in folds] == [8, 8, 8, 8, 4]
        assert sorted(np.concatenate(folds)) == list(range(36))
        for fold in folds:
            held_out_conditions = set(fold % 9)
            expected_rows = {t * 9 + c for t in range(4) for c in held_out_conditions}
            assert set(fold) == expected_rows
        assert [len(f) for f in ref.cross_validation_test_folds((4, 9, 5), 5, "samples")] == [8, 7, 7, 7, 7]

    def test_cv_score_by_hand_for_one_fold_layout(self):
        # Two folds written out longhand, independently of the loop in the reference.
        X, Y = REGIMES["tall_n60_p7_q11"]()
        scores = []
        for test in (np.arange(30), np.arange(30, 60)):
            train = np.setdiff1d(np.arange(60), test)
            mx, my = X[train].mean(0), Y[train].mean(0)
            Yt = Y[train] - my
            B = np.linalg.inv(Yt.T @ Yt + 2.0 * np.eye(11)) @ Yt.T @ (X[train] - mx)
            scores.append(1 - np.sum((X[test] - mx - (Y[test] - my) @ B) ** 2) / np.sum((X[test] - mx) ** 2))
        np.testing.assert_allclose(ref.regression_score(X, Y, lam=2.0, cv=2), np.mean(scores), rtol=1e-10)

    @pytest.mark.parametrize("rdm", ["correlation", "euclidean", "squared_euclidean", "cosine"])
    def test_rdm_two_routes_agree(self, rdm):
        X, _ = REGIMES["tall_n60_p7_q11"]()
        np.testing.assert_allclose(ref.rdm_upper_triangle(X, rdm), ref.rdm_upper_triangle_via_loops(X, rdm), rtol=1e-10, atol=1e-13)

    def test_rank_comparisons_by_hand(self):
        rng = np.random.default_rng(3)
        a, b = rng.standard_normal(40), rng.standard_normal(40)
        b[:5] = b[5:10]  # ties, so that the tie corrections of τ-b and of average ranks matter
        np.testing.assert_allclose(ref.compare_rdms(a, b, "kendall"), ref.kendall_tau_b_bruteforce(a, b), rtol=1e-12)

        def average_ranks(v):
            # rank = (number of smaller entries) + (number of equal entries + 1) / 2
            return np.array([np.sum(v < x) + (np.sum(v == x) + 1) / 2 for x in v])

        np.testing.assert_allclose(
            ref.compare_rdms(a, b, "spearman"), np.corrcoef(average_ranks(a), average_ranks(b))[0, 1], rtol=1e-12
        )

    def test_rsa_with_itself_is_one(self):
        X, _ = REGIMES["tall_n60_p7_q11"]()
        for compare in ("pearson", "spearman", "kendall", "cosine"):
            np.testing.assert_allclose(ref.rsa_score(X, X, "correlation", compare), 1.0, rtol=1e-12)

    def test_angular_transforms_at_the_boundary(self):
        assert ref.angular_distance(1.0) == 0.0
        assert ref.angular_distance(1.0 + 1e-16) == 0.0  # no NaN just above 1
        assert ref.angular_score(1.0) == 1.0
        np.testing.assert_allclose(ref.angular_score(0.0), 0.0, atol=1e-15)


# ---------------------------------------------------------------------------
# Part 2: library versus reference, name by name
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=[_case_id(c) for c in CASES])
def test_library_matches_reference(case):
    name, kwargs, reference_fn, regime = case
    X, Y = REGIMES[regime]()
    expected = reference_fn(X, Y)
    assert math.isfinite(expected), f"reference is not finite for {name} on {regime}"
    assert_close(library_value(name, kwargs, X, Y), expected, what=f"{_case_id(case)}")


# Alias and keyword resolution (including procrustes-score -> nbs-score) is tested in
# test_registry.py; this file compares values.


# ---------------------------------------------------------------------------
# Part 3: the spec's known traps
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("n", [5, 8])
def test_unbiased_hsic_small_n_against_bruteforce_u_statistic(n):
    # At small n the diagonal handling dominates: subtracting a matrix instead of zeroing the
    # diagonal, or a wrong (n−1)(n−2) factor, moves the value far more than 1e-8.
    X, Y = shared_latent_pair(30 + n, n, 3, 4)
    K, L = ref.linear_gram(X), ref.linear_gram(Y)
    u = ref.hsic_song_via_u_statistic
    expected = u(K, L) / np.sqrt(u(K, K) * u(L, L))
    assert_close(library_value("cka-debiased", {}, X, Y), expected, what=f"cka-debiased n={n}")


def _asymmetric_pair():
    # Y contains X's signal plus many units of its own: Y explains X well, X explains Y poorly.
    rng = np.random.default_rng(40)
    X = rng.standard_normal((60, 3))
    Y = np.hstack([X @ rng.standard_normal((3, 3)), rng.standard_normal((60, 8))]) + 0.1 * rng.standard_normal((60, 11))
    return X, Y


@pytest.mark.parametrize(
    "name, kwargs, lam, cv",
    [("linreg", {}, 0.0, None), ("ridge-lambda=0.5-r2-cv=5folds", {}, 0.5, 5)],
)
def test_regression_direction(name, kwargs, lam, cv):
    X, Y = _asymmetric_pair()
    x_from_y = ref.regression_score(X, Y, lam=lam, cv=cv, direction="x_from_y")
    y_from_x = ref.regression_score(X, Y, lam=lam, cv=cv, direction="y_from_x")
    assert x_from_y - y_from_x > 0.1, "the test data should make the two directions differ"
    # Default direction predicts the reference X from the model Y.
    assert_close(library_value(name, kwargs, X, Y), x_from_y, what=f"{name} default direction")
    assert_close(library_value(name, {**kwargs, "direction": "x_from_y"}, X, Y), x_from_y, what="x_from_y")
    assert_close(library_value(name, {**kwargs, "direction": "y_from_x"}, X, Y), y_from_x, what="y_from_x")
    assert_close(
        library_value(name, {**kwargs, "direction": "symmetric"}, X, Y),
        0.5 * (x_from_y + y_from_x),
        what="symmetric",
    )


def test_svcca_when_x_and_y_keep_different_numbers_of_pcs():
    rng = np.random.default_rng(50)
    latent = rng.standard_normal((80, 5))

    def with_spectrum(strong_dims, units):
        rotation, _ = np.linalg.qr(rng.standard_normal((units, units)))
        scales = np.where(np.arange(units) < strong_dims, 10.0, 0.1)
        signal = np.hstack([latent[:, :strong_dims], rng.standard_normal((80, units - strong_dims))])
        return (signal * scales) @ rotation + 0.01 * rng.standard_normal((80, units))

    X, Y = with_spectrum(3, 8), with_spectrum(5, 9)
    assert (ref.svcca_kept_dimensions(X, 0.9), ref.svcca_kept_dimensions(Y, 0.9)) == (3, 5)
    assert_close(library_value("svcca-var=0.9-score", {}, X, Y), ref.svcca_score(X, Y, var=0.9), what="svcca X3/Y5")
    assert_close(library_value("svcca-var=0.9-score", {}, Y, X), ref.svcca_score(Y, X, var=0.9), what="svcca X5/Y3")


ANGULAR_DISTANCES_AT_IDENTITY = [
    "cka-kernel=linear-hsic=gretton-distance=angular",
    "cka-kernel=linear-hsic=song-distance=angular",
    "cka-kernel=linear-hsic=lange-distance=angular",
    "cka-kernel=(rbf-sigma=median-sigma_factor=1)-hsic=gretton-distance=angular",
    "procrustes-distance=angular",
    "shape_metric-alpha=0.5-distance=angular",
]
ANGULAR_SCORES_AT_IDENTITY = [
    "cka-kernel=linear-hsic=gretton-angular_score",
    "cka-kernel=linear-hsic=song-angular_score",
    "cka-kernel=linear-hsic=lange-angular_score",
    "procrustes-angular_score",
]


@pytest.mark.parametrize("name", ANGULAR_DISTANCES_AT_IDENTITY)
def test_angular_distance_of_identical_inputs_is_exactly_zero(name):
    # arccos(1 − 1e-16) = 1.5e-8: a library that does not handle the score reaching 1 by
    # rounding returns 1e-8 or NaN here instead of 0.
    X, _ = REGIMES["tall_n60_p7_q11"]()
    assert_close(library_value(name, {}, X, X.copy()), 0.0, atol=1e-12, what=name)


@pytest.mark.parametrize("name", ANGULAR_SCORES_AT_IDENTITY)
def test_angular_score_of_identical_inputs_is_one(name):
    X, _ = REGIMES["tall_n60_p7_q11"]()
    assert_close(library_value(name, {}, X, X.copy()), 1.0, atol=1e-12, what=name)


@pytest.mark.parametrize("name", ["procrustes-distance=euclidean", "procrustes-distance=squared_euclidean"])
def test_euclidean_procrustes_of_identical_inputs_is_zero_not_nan(name):
    # sqrt of a cancellation that lands at ±1e-15: must not be NaN; ~√eps·‖X̄‖ is acceptable.
    X, _ = REGIMES["tall_n60_p7_q11"]()
    value = library_value(name, {}, X, X.copy())
    assert 0.0 <= value <= 1e-6 * np.linalg.norm(ref.center_columns(X))


def test_ridge_split_conditions_differs_from_samples_on_3d_input():
    X, Y = REGIMES["3d_T4_C9_p5_q6"]()
    by_conditions = ref.regression_score(X, Y, lam=0.5, cv=5, split="conditions")
    by_samples = ref.regression_score(X, Y, lam=0.5, cv=5, split="samples")
    assert abs(by_conditions - by_samples) > 1e-3, "the test data should make the two splits differ"
    # split=conditions is the default for 3D input.
    assert_close(library_value("ridge-lambda=0.5-r2-cv=5folds", {}, X, Y), by_conditions, what="3D default split")


def test_rbf_median_bandwidth_is_median_of_distinct_pair_distances():
    # With an even number of pairs, "median of distances" and "√(median of squared distances)"
    # differ, and including the zero diagonal shifts the median; at n = 60 the first gap is
    # below 1e-8, so check the convention at n = 8 where each alternative is far off.
    X, Y = shared_latent_pair(60, 8, 3, 4)
    expected = ref.cka_rbf(X, Y, "gretton", sigma="median")
    from_squared = ref.cka_from_grams(
        ref.rbf_gram(X, np.sqrt(np.median(pdist(X, "sqeuclidean")))),
        ref.rbf_gram(Y, np.sqrt(np.median(pdist(Y, "sqeuclidean")))),
        "gretton",
    )
    assert abs(from_squared - expected) > 1e-6, "the test data should separate the two conventions"
    value = library_value("cka-kernel=(rbf-sigma=median-sigma_factor=1)-hsic=gretton-score", {}, X, Y)
    assert_close(value, expected, what="rbf sigma=median at n=8")

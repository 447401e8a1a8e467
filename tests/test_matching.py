"""Matching analyses: solvers, partial soft matching, rankings, the L-curve, Sinkhorn's bias."""

import warnings

import numpy as np
import pytest
import torch

import repalign
from repalign import matching, ot
from repalign.data import sparse_factor_population


def _noisy_copies(seed=0, n=300, units=6, noise_units=4, noise=0.2):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, units))
    y = np.hstack([x + noise * rng.normal(size=x.shape), rng.normal(size=(n, noise_units))])
    return x, y


# ---- exact solvers -----------------------------------------------------------------------------

def test_both_exact_solvers_agree_on_equal_sizes():
    rng = np.random.default_rng(1)
    p = 500
    cost = matching.cost_matrix(rng.normal(size=(40, p)), rng.normal(size=(40, p)), "correlation")
    assignment = ot.exact_transport(cost)  # p = q: linear assignment
    simplex = ot._emd(np.full(p, 1 / p), np.full(p, 1 / p), cost)  # the network simplex on the same problem
    assert (simplex * cost).sum() == pytest.approx(assignment.cost, rel=1e-9)


@pytest.mark.slow
def test_large_problem_solves_exactly_without_warnings():
    rng = np.random.default_rng(0)
    p = 4000
    x, y = rng.normal(size=(60, p)), rng.normal(size=(60, p))
    cost = matching.cost_matrix(x, y, "correlation")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assignment = ot.exact_transport(cost)  # p = q: linear assignment
        rectangular = ot.exact_transport(cost[:, :-1])  # p != q: network simplex
    assert assignment.method == "linear_sum_assignment" and rectangular.method == "network_simplex"
    np.testing.assert_allclose(rectangular.plan.sum(axis=1), 1 / p, atol=1e-12)
    np.testing.assert_allclose(rectangular.plan.sum(axis=0), 1 / (p - 1), atol=1e-12)
    # one unit fewer on one side can only lower the cost by the freed mass's worth
    assert rectangular.cost <= assignment.cost + 1.0 / p


def test_non_converged_network_simplex_raises(monkeypatch):
    monkeypatch.setattr(ot, "_iteration_limit", lambda p, q: 3)
    cost = np.random.default_rng(0).normal(size=(30, 41))
    with pytest.raises(RuntimeError, match="did not reach an optimal plan"):
        ot.exact_transport(cost)


@pytest.mark.parametrize("bad, message", [
    (np.ones((3,)), "2-D"), (np.full((2, 2), np.nan), "NaN"),
])
def test_solver_input_errors(bad, message):
    with pytest.raises(ValueError, match=message):
        ot.exact_transport(bad)


def test_partial_transport_mass_out_of_range():
    with pytest.raises(ValueError, match="mass must be in"):
        ot.partial_transport(np.ones((3, 4)), 1.5)
    with pytest.raises(ValueError, match="mass must be in"):
        ot.partial_transport(np.ones((3, 4)), 0.0)


def test_unequal_marginal_sums_are_refused():
    with pytest.raises(ValueError, match="equal sums"):
        ot.exact_transport(np.ones((2, 3)), a=[0.5, 0.5], b=[0.2, 0.2, 0.2])


# ---- Sinkhorn ----------------------------------------------------------------------------------

@pytest.mark.parametrize("epsilon", [0.1, 0.03, 0.01])
def test_sinkhorn_bias_is_within_the_documented_bound(epsilon):
    rng = np.random.default_rng(1)
    cost = rng.uniform(size=(3, 25, 31))
    exact = np.array([ot.exact_transport(c).cost for c in cost])
    result = ot.sinkhorn(torch.from_numpy(cost), epsilon)
    value = result.value.numpy()
    assert (value >= exact - 1e-9).all()
    assert (value - exact <= epsilon * np.log(25) + 1e-9).all()
    np.testing.assert_allclose(result.plan.sum(dim=-1).numpy(), 1 / 25, atol=1e-6)
    np.testing.assert_allclose(result.plan.sum(dim=-2).numpy(), 1 / 31, atol=1e-12)


def test_sinkhorn_converges_to_the_exact_plan_as_epsilon_shrinks():
    rng = np.random.default_rng(2)
    cost = matching.cost_matrix(rng.normal(size=(30, 12)), rng.normal(size=(30, 15)), "correlation")
    exact = ot.exact_transport(cost).cost
    gaps = [float(ot.sinkhorn(torch.from_numpy(cost), e).value) - exact for e in (0.1, 0.03, 0.01)]
    assert gaps[0] > gaps[1] > gaps[2] >= -1e-9


def test_sinkhorn_reports_non_convergence():
    cost = torch.from_numpy(np.random.default_rng(3).uniform(size=(20, 20)))
    with pytest.raises(RuntimeError, match="did not converge"):
        ot.sinkhorn(cost, 1e-2, tol=1e-300, max_iter=5)  # beyond float64: neither Sinkhorn nor Newton reaches it


@pytest.mark.parametrize("max_iter", [None, 5])
def test_sinkhorn_finishes_with_newton_where_its_iterations_stall(max_iter):
    # a 3 x 3 cost on which Sinkhorn at epsilon = 0.01 stalls near 1e-7 marginal error after 20 000 iterations
    # (0.1 raised "did not converge"); the entropic plan is the unique P in T(a, b) with
    # log P_ij + C_ij / epsilon = alpha_i + beta_j, so both conditions certify it independently of the solver
    cost = np.random.default_rng(2).random((3, 3))
    cost /= cost.max()
    result = ot.sinkhorn(torch.from_numpy(cost), 0.01, tol=1e-10, max_iter=max_iter)
    plan = result.plan.numpy()
    assert np.abs(plan.sum(axis=1) - 1 / 3).sum() < 1e-10 and np.abs(plan.sum(axis=0) - 1 / 3).sum() < 1e-10
    gibbs = np.log(plan) + cost / 0.01
    centred = gibbs - gibbs.mean(axis=1, keepdims=True) - gibbs.mean(axis=0, keepdims=True) + gibbs.mean()
    assert np.abs(centred).max() < 1e-8


def test_sinkhorn_measure_batches_like_single_calls():
    m = repalign.measure("soft_matching-solver=(sinkhorn-epsilon=0.05)-score")
    rng = np.random.default_rng(4)
    xs, ys = rng.normal(size=(3, 40, 5)), rng.normal(size=(3, 40, 7))
    batched = m.batch(xs, ys)
    np.testing.assert_allclose(batched, [m(x, y) for x, y in zip(xs, ys)], rtol=1e-8)
    exact = repalign.measure("soft-matching")
    for x, y, value in zip(xs, ys, batched):
        assert exact(x, y) - np.log(5) * 0.05 * 1.5 <= value <= exact(x, y) + 1e-9


# ---- measures: consistency ---------------------------------------------------------------------

def test_permutation_distance_is_sqrt_n_times_soft_matching_distance():
    rng = np.random.default_rng(5)
    x, y = rng.normal(size=(30, 7)), rng.normal(size=(30, 7))
    d_p = repalign.measure("permutation-distance=euclidean")(x, y)
    d_t = repalign.measure("soft_matching-distance=euclidean")(x, y)
    assert d_p == pytest.approx(np.sqrt(7) * d_t, rel=1e-12)


def test_hidden_permutation_is_recovered():
    rng = np.random.default_rng(6)
    x = rng.normal(size=(40, 9))
    perm = rng.permutation(9)
    assert repalign.measure("soft_matching-distance=euclidean")(x, x[:, perm]) == 0.0
    plan = matching.soft_matching(x, x[:, perm], cost="sqeuclidean").plan
    assert (plan.argmax(axis=1) == np.argsort(perm)).all()


def test_semi_matching_is_not_symmetric():
    x, y = _noisy_copies()
    m = repalign.measure("semi_matching-score")
    assert abs(m(x, y) - m(y, x)) > 0.1


def test_constant_unit_is_refused_by_correlation_measures_only():
    x, y = _noisy_copies()
    y[:, 2] = 3.0
    for name in ("soft-matching", "one-to-one-matching", "semi_matching-score", "partial_soft_matching-mass=0.5-score"):
        with pytest.raises(ValueError, match=r"Y has 1 unit\(s\) constant .*indices \[2\]"):
            repalign.measure(name)(x, y)
    assert np.isfinite(repalign.measure("soft_matching-distance=euclidean")(x, y))
    with pytest.raises(ValueError, match="constant unit"):
        matching.partial_soft_matching(x, y, 0.5)


def test_partial_measure_needs_a_mass_and_matches_the_analysis():
    with pytest.raises(ValueError, match="'mass' is required"):
        repalign.measure("partial-soft-matching")
    x, y = _noisy_copies()
    result = matching.partial_soft_matching(x, y, 0.4)
    assert repalign.measure("partial-soft-matching", mass=0.4)(x, y) == pytest.approx(result.score, rel=1e-12)
    normalized = repalign.measure("partial_soft_matching-mass=0.4-normalized_score")(x, y)
    assert normalized == pytest.approx(result.normalized_score, rel=1e-12)
    # mass 1 on populations of equal total mass is balanced soft matching
    full = repalign.measure("partial_soft_matching-mass=1-score")(x, y)
    assert full == pytest.approx(repalign.measure("soft-matching")(x, y), rel=1e-10)


def test_partial_soft_matching_violates_the_triangle_inequality():
    """Documented as not a metric: an explicit counterexample with d = 1 − normalized score."""
    rng = np.random.default_rng(7)
    a, b = rng.normal(size=(200, 2)), rng.normal(size=(200, 2))
    x, z = a, b
    y = np.hstack([a, b])  # half of Y matches X, the other half matches Z
    d = lambda u, v: 1 - repalign.measure("partial_soft_matching-mass=0.5-normalized_score")(u, v)  # noqa: E731
    assert d(x, z) > d(x, y) + d(y, z) + 0.5


# ---- partial matching analyses -----------------------------------------------------------------

@pytest.mark.parametrize("seed", [0, 1, 2])
def test_lcurve_elbow_recovers_the_unmatched_mass_of_the_sparse_factor_populations(seed):
    population = sparse_factor_population(n_stimuli=1000, n_factors=50, n_signal=100, n_noise_x=20,
                                          n_noise_y=90, seed=seed)
    curve = matching.lcurve(population.X, population.Y)
    step = curve.masses[1] - curve.masses[0]
    assert abs((1 - curve.best_mass) - 90 / 190) <= step
    shuffle = np.random.default_rng(seed).permutation(population.Y.shape[1])  # no help from column order
    ranks = matching.entry_ranking(population.X, population.Y[:, shuffle], side="Y").rank_of()
    is_signal = population.is_signal_y[shuffle]
    assert ranks[is_signal].max() < ranks[~is_signal].min()


def test_elbow_is_the_kink_of_a_piecewise_linear_curve_at_every_position():
    masses = np.linspace(0.1, 1.0, 10)
    for kink in range(1, 9):
        costs = np.where(np.arange(10) <= kink, 0.01 * masses, 0.01 * masses + 3 * (masses - masses[kink]))
        assert matching.elbow_index(masses, costs) == kink
    # non-uniform grids use divided differences
    uneven = np.array([0.1, 0.2, 0.25, 0.5, 0.55, 0.9, 1.0])
    costs = np.maximum(0, uneven - 0.5) * 4
    assert matching.elbow_index(uneven, costs) == 3


def test_elbow_never_picks_an_end_point():
    masses = np.linspace(0.1, 1.0, 10)
    assert matching.elbow_index(masses, masses**8) in range(1, 9)  # steepest at the end
    assert matching.elbow_index(masses, -np.log(masses)) in range(1, 9)  # steepest at the start


def test_cross_validated_lcurve_finds_the_noise_units_too():
    x, y = _noisy_copies(n=400, units=10, noise_units=10)
    curve = matching.lcurve(x, y, masses=np.linspace(0.05, 1, 20), cv=4, seed=0)
    assert curve.folds == 4 and abs(curve.best_mass - 0.5) <= 0.05 + 1e-12
    in_sample = matching.lcurve(x, y, masses=np.linspace(0.05, 1, 20))
    assert (curve.costs >= in_sample.costs - 1e-12).all()  # held-out costs are not lower


def test_partial_plan_marginals_and_partition():
    x, y = _noisy_copies()
    result = matching.partial_soft_matching(x, y, 0.5)
    assert result.plan.sum() == pytest.approx(0.5, abs=1e-12)
    assert (result.mass_x <= 1 / 6 + 1e-12).all() and (result.mass_y <= 1 / 10 + 1e-12).all()
    matched_x, matched_y = result.matched()
    assert matched_y[:6].sum() == 5 and not matched_y[6:].any()  # 0.5 mass = 5 of Y's 10 units
    table = result.to_frame()
    assert list(table.columns) == ["side", "unit", "mass", "relative_mass", "matched"] and len(table) == 16
    with pytest.raises(ValueError, match="threshold"):
        result.matched(0.0)


def test_partial_ranking_agrees_with_brute_force_on_the_extremes():
    x, y = _noisy_copies(seed=8, n=200, units=5, noise_units=3, noise=0.4)
    brute = matching.brute_force_ranking(x, y, side="Y").order
    entry = matching.entry_ranking(x, y, side="Y").order
    correlation = matching.correlation_ranking(x, y, side="Y").order
    for order in (brute, entry, correlation):
        assert set(order[:5]) == set(range(5)) and set(order[5:]) == {5, 6, 7}


def test_lcurve_plot_and_files(tmp_path):
    x, y = _noisy_copies()
    curve = matching.lcurve(x, y, masses=np.linspace(0.1, 1, 10))
    written = curve.save(tmp_path / "lcurve")
    assert sorted(p.rsplit(".", 1)[1] for p in written) == ["csv", "pdf", "png"]
    frame = curve.to_frame()
    assert frame["elbow"].sum() == 1 and len(frame) == 10


@pytest.mark.parametrize("kwargs, message", [
    ({"masses": [0.5, 0.2, 0.9]}, "strictly increasing"),
    ({"masses": [0.5, 1.0]}, "at least 3"),
    ({"masses": [0.0, 0.5, 1.0]}, r"in \(0, 1\]"),
    ({"cv": 1}, "cv: expected an integer >= 2"),
    ({"cost": "cosine"}, "cost: expected one of"),
])
def test_lcurve_input_errors(kwargs, message):
    x, y = _noisy_copies()
    with pytest.raises(ValueError, match=message):
        matching.lcurve(x, y, **kwargs)


def test_threshold_one_counts_fully_matched_units_and_bad_thresholds_are_refused():
    x, _ = _noisy_copies()
    result = matching.partial_soft_matching(x, x, mass=1.0)
    assert all(mask.all() for mask in result.matched(1.0))
    for bad in (0.0, -1.0, 1.5):
        with pytest.raises(ValueError, match=r"threshold: expected a number in \(0, 1\]"):
            matching.entry_ranking(x, x, threshold=bad)


def test_lcurve_without_an_elbow_warns():
    rng = np.random.default_rng(10)
    x = rng.normal(size=(200, 6))
    with pytest.warns(RuntimeWarning, match="no positive curvature") as caught:
        matching.lcurve(x, x, masses=np.linspace(0.1, 1, 10))  # every s matches perfectly: a flat curve
    assert caught[0].filename == __file__  # attributed to the caller's line


def test_mass_grid_tolerates_a_rounded_end_point_and_dotted_plot_names(tmp_path):
    x, y = _noisy_copies()
    curve = matching.lcurve(x, y, masses=np.cumsum(np.full(20, 0.05)))
    assert curve.masses[-1] == 1.0
    written = curve.save(tmp_path / "run_s0.5")
    assert sorted(p.rsplit("/", 1)[1] for p in written) == ["run_s0.5.csv", "run_s0.5.pdf", "run_s0.5.png"]

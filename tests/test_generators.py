"""The sparse-factor generator of the partial soft-matching simulations (seed 002, Appendix A1.3)."""

import dataclasses

import numpy as np
import pytest

from repalign.data import SparseFactorPopulation, sparse_factor_population

SMALL = dict(n_stimuli=200, n_factors=12, n_signal=30, n_noise_x=4, n_noise_y=9)


def pearson(A, B):
    """Pearson correlations between the columns of A and those of B."""
    A = A - A.mean(axis=0)
    B = B - B.mean(axis=0)
    return (A / np.linalg.norm(A, axis=0)).T @ (B / np.linalg.norm(B, axis=0))


@pytest.fixture(scope="module")
def small():
    return sparse_factor_population(**SMALL, seed=0)


def test_shapes_and_flags(small):
    assert isinstance(small, SparseFactorPopulation)
    assert small.X.shape == (200, 34) and small.Y.shape == (200, 39)
    assert small.factors.shape == (200, 12)
    assert small.mask.shape == (12, 30) and small.mask.dtype == bool
    assert small.loadings_x.shape == small.loadings_y.shape == (12, 30)
    assert small.is_signal_x.dtype == bool and small.is_signal_y.dtype == bool
    assert list(small.is_signal_x) == [True] * 30 + [False] * 4
    assert list(small.is_signal_y) == [True] * 30 + [False] * 9
    assert small.X.dtype == small.Y.dtype == np.float64
    assert small.params == {**SMALL, "density": 0.02, "weight_range": (0.5, 1.5), "noise_std": 1.0, "seed": 0}
    with pytest.raises(dataclasses.FrozenInstanceError):
        small.X = None


def test_factors_are_orthonormal_and_centred(small):
    F = small.factors
    assert np.abs(F.T @ F - np.eye(12)).max() < 1e-12
    assert np.abs(F.mean(axis=0)).max() < 1e-12


def test_signal_units_are_sparse_mixtures_with_one_shared_mask(small):
    scale = np.sqrt(200)
    signal_x = small.X[:, small.is_signal_x]
    signal_y = small.Y[:, small.is_signal_y]
    # the factor coordinates recovered from the data have exactly the mask's support, in both populations
    coords_x = small.factors.T @ signal_x / scale
    coords_y = small.factors.T @ signal_y / scale
    assert np.array_equal(np.abs(coords_x) > 1e-10, small.mask)
    assert np.array_equal(np.abs(coords_y) > 1e-10, small.mask)
    assert np.allclose(coords_x, small.loadings_x) and np.allclose(coords_y, small.loadings_y)
    # the signal lies in the factor span
    assert np.allclose(small.factors @ coords_x * scale, signal_x)
    # independent weights in the two populations, within the default range
    weights_x, weights_y = small.loadings_x[small.mask], small.loadings_y[small.mask]
    assert not np.allclose(weights_x, weights_y)
    assert weights_x.min() >= 0.5 and weights_x.max() <= 1.5


def test_every_unit_has_a_factor_and_the_mask_is_sparse():
    for density in (0.0, 0.02, 0.3):
        pop = sparse_factor_population(n_stimuli=300, n_factors=40, n_signal=200, n_noise_x=0, n_noise_y=0,
                                       density=density, seed=1)
        assert pop.mask.sum(axis=0).min() >= 1
    assert np.all(sparse_factor_population(**SMALL, density=0.0).mask.sum(axis=0) == 1)
    dense = sparse_factor_population(n_stimuli=300, n_factors=40, n_signal=200, density=0.3, seed=1)
    assert dense.mask.mean() == pytest.approx(0.3, abs=0.02)


def test_noise_units(small):
    noise_x = small.X[:, ~small.is_signal_x]
    noise_y = small.Y[:, ~small.is_signal_y]
    assert noise_y.std(axis=0) == pytest.approx(np.ones(9), abs=0.15)
    assert abs(noise_y.mean()) < 0.1
    # noise is not in the factor span (projection keeps about n_factors/n_stimuli of the variance)
    projected = small.factors @ (small.factors.T @ noise_y)
    assert np.linalg.norm(projected) ** 2 / np.linalg.norm(noise_y) ** 2 < 0.15
    assert not np.allclose(noise_x, noise_y[:, :4])
    scaled = sparse_factor_population(**SMALL, noise_std=0.25, seed=0)
    assert np.allclose(scaled.Y[:, ~scaled.is_signal_y], 0.25 * noise_y)


def test_signal_scale_is_comparable_to_noise(small):
    signal_rms = np.sqrt((small.Y[:, small.is_signal_y] ** 2).mean(axis=0))
    assert np.allclose(signal_rms, np.linalg.norm(small.loadings_y, axis=0))
    assert 0.5 <= signal_rms.min() and np.median(signal_rms) == pytest.approx(1.0, abs=0.35)


def test_seeds():
    a, b = sparse_factor_population(**SMALL, seed=3), sparse_factor_population(**SMALL, seed=3)
    c = sparse_factor_population(**SMALL, seed=4)
    assert np.array_equal(a.X, b.X) and np.array_equal(a.Y, b.Y) and np.array_equal(a.mask, b.mask)
    assert not np.allclose(a.X[:, :30], c.X[:, :30]) and not np.allclose(a.Y, c.Y)


def test_noise_counts_leave_the_signal_unchanged():
    base = sparse_factor_population(**SMALL, seed=2)
    more = sparse_factor_population(**{**SMALL, "n_noise_x": 0, "n_noise_y": 25}, seed=2)
    assert np.array_equal(base.X[:, :30], more.X) and np.array_equal(base.Y[:, :39], more.Y[:, :39])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_signal_units_of_y_have_a_better_partner_than_any_noise_correlation(seed):
    # default configuration of the partial-matching simulation: 1000 stimuli, 50 factors,
    # 100 signal units, 20 noise units in X and 90 in Y
    pop = sparse_factor_population(seed=seed)
    rho = pearson(pop.X, pop.Y)
    sx, sy = pop.is_signal_x, pop.is_signal_y
    best_signal = rho[np.ix_(sx, sy)].max(axis=0)  # each signal unit of Y, its best X signal unit
    noise_any = max(rho[:, ~sy].max(), rho[np.ix_(~sx, sy)].max())  # any correlation that involves noise
    assert best_signal.min() > noise_any
    assert best_signal.min() > 0.6 and noise_any < 0.2  # a wide margin, not a close call
    # unit j of Y has its own partner, unit j of X (same support): Pólya–Szegő bound for
    # positive weights with ratios in [1/3, 3] gives a correlation of at least 0.6
    assert np.diag(rho[np.ix_(sx, sy)]).min() >= 0.6 - 1e-12


@pytest.mark.parametrize("kwargs, name", [
    (dict(n_stimuli=12, n_factors=12), "n_stimuli"),
    (dict(n_stimuli=10.0), "n_stimuli"),
    (dict(n_factors=0), "n_factors"),
    (dict(n_signal=0), "n_signal"),
    (dict(n_noise_x=-1), "n_noise_x"),
    (dict(n_noise_y=True), "n_noise_y"),
    (dict(density=1.5), "density"),
    (dict(density=np.nan), "density"),
    (dict(weight_range=(1.0, 1.0)), "weight_range"),
    (dict(weight_range=(2.0,)), "weight_range"),
    (dict(weight_range="ab"), "weight_range"),
    (dict(noise_std=-0.1), "noise_std"),
    (dict(seed=-1), "seed"),
    (dict(seed=0.5), "seed"),
])
def test_bad_inputs_name_the_argument(kwargs, name):
    with pytest.raises(ValueError, match=f"^{name}:"):
        sparse_factor_population(**{**SMALL, **kwargs})

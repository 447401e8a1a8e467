"""Rotations: Haar sampling on SO(N), fractional powers, rotation curves and the privileged-axes test."""

import sys
import types

import numpy as np
import pytest
import torch

import repalign
from repalign import _checks
from repalign.data import sparse_factor_population
from repalign.rotation import (
    PrivilegedAxesResult,
    RotationCurve,
    fractional_rotation,
    haar_rotation,
    privileged_axes_test,
    rotation_curve,
)


def axis_aligned_tuning(n_units: int = 8, per_unit: int = 8, width: float = 1.5) -> np.ndarray:
    """Units with disjoint, localized (Gaussian bump) tuning curves over the stimuli."""
    stimuli = np.arange(n_units * per_unit)
    centres = per_unit * np.arange(n_units) + per_unit / 2
    return np.exp(-0.5 * ((stimuli[:, None] - centres[None, :]) / width) ** 2)


def centred(X):
    return X - X.mean(axis=0)


# --- haar_rotation -------------------------------------------------------------------------

@pytest.mark.parametrize("n", [2, 3, 10, 64])
def test_haar_rotation_is_in_special_orthogonal_group(n):
    Q = haar_rotation(n, seed=n)
    assert Q.dtype == np.float64 and Q.shape == (n, n)
    assert np.abs(Q.T @ Q - np.eye(n)).max() < 1e-12
    assert np.linalg.det(Q) == pytest.approx(1.0, abs=1e-12)


def test_haar_rotation_reproducible_and_seed_dependent():
    assert np.array_equal(haar_rotation(6, seed=3), haar_rotation(6, seed=3))
    assert not np.allclose(haar_rotation(6, seed=3), haar_rotation(6, seed=4))
    rng_a, rng_b = np.random.default_rng(7), np.random.default_rng(7)
    assert np.array_equal(haar_rotation(5, rng_a), haar_rotation(5, rng_b))
    assert not np.allclose(haar_rotation(5, rng_a), haar_rotation(5, np.random.default_rng(7)))  # stream advanced


def test_haar_rotation_moments_match_haar_measure():
    # Haar on SO(n), n >= 3: E[Q] = 0, E[tr Q] = 0 and E[(tr Q)^2] = 1 (one invariant in the tensor square).
    # QR without the sign correction is biased (E[Q_ii] > 0), so these catch it.
    rng = np.random.default_rng(0)
    draws = np.stack([haar_rotation(4, rng) for _ in range(2000)])
    assert np.abs(draws.mean(axis=0)).max() < 0.06  # entries have std 1/2 -> standard error 0.011
    traces = np.trace(draws, axis1=1, axis2=2)
    assert abs(traces.mean()) < 0.08
    assert abs((traces**2).mean() - 1.0) < 0.12
    # SO(3): the rotation angle θ has density (1 − cos θ)/π, so E[cos θ] = −1/2
    cosines = [(np.trace(haar_rotation(3, rng)) - 1) / 2 for _ in range(2000)]
    assert np.mean(cosines) == pytest.approx(-0.5, abs=0.04)


@pytest.mark.parametrize("n", [1, 0, -3, 2.5, True, "4"])
def test_haar_rotation_rejects_bad_dimension(n):
    with pytest.raises(ValueError, match="n:"):
        haar_rotation(n, seed=0)


@pytest.mark.parametrize("seed", [-1, 1.5, "0", None])
def test_haar_rotation_rejects_bad_seed(seed):
    with pytest.raises(ValueError, match="seed"):
        haar_rotation(3, seed=seed)


# --- fractional_rotation -------------------------------------------------------------------

@pytest.fixture(scope="module")
def rotation():
    return haar_rotation(12, seed=1)


def test_fractional_rotation_endpoints(rotation):
    assert np.array_equal(fractional_rotation(rotation, 0.0), np.eye(12))
    assert np.abs(fractional_rotation(rotation, 1.0) - rotation).max() < 1e-10
    assert np.abs(fractional_rotation(rotation, -1.0) - rotation.T).max() < 1e-10  # Q^{-1} = Qᵀ


@pytest.mark.parametrize("a, b", [(0.3, 0.5), (0.25, 0.75), (0.1, 0.1), (0.6, 0.9)])
def test_fractional_rotation_is_a_one_parameter_group(rotation, a, b):
    product = fractional_rotation(rotation, a) @ fractional_rotation(rotation, b)
    assert np.abs(product - fractional_rotation(rotation, a + b)).max() < 1e-10


@pytest.mark.parametrize("alpha", [0.05, 0.37, 0.5, 0.99])
def test_fractional_rotation_is_a_real_rotation(rotation, alpha):
    power = fractional_rotation(rotation, alpha)
    assert np.isrealobj(power) and power.dtype == np.float64
    assert np.abs(power.T @ power - np.eye(12)).max() < 1e-12
    assert np.linalg.det(power) == pytest.approx(1.0, abs=1e-10)


def test_fractional_rotation_moves_away_from_identity_along_the_geodesic(rotation):
    # the geodesic distance to I (Frobenius norm of the logarithm) is α‖log Q‖: check on small
    # steps, where ‖Q^α − I‖_F grows monotonically
    distances = [np.linalg.norm(fractional_rotation(rotation, a) - np.eye(12)) for a in np.linspace(0, 0.3, 7)]
    assert np.all(np.diff(distances) > 0)


def test_fractional_rotation_accepts_torch_and_lists(rotation):
    expected = fractional_rotation(rotation, 0.4)
    assert np.allclose(fractional_rotation(torch.tensor(rotation), 0.4), expected)
    assert np.allclose(fractional_rotation(rotation.tolist(), 0.4), expected)


def test_fractional_rotation_rejects_non_orthogonal(rotation):
    with pytest.raises(ValueError, match="Q: expected an orthogonal matrix"):
        fractional_rotation(rotation + 1e-3, 0.5)


def test_fractional_rotation_rejects_reflection(rotation):
    reflection = rotation.copy()
    reflection[:, 0] *= -1
    with pytest.raises(ValueError, match="determinant −1"):
        fractional_rotation(reflection, 0.5)


def test_fractional_rotation_rejects_eigenvalue_minus_one():
    half_turn = np.diag([-1.0, -1.0, 1.0])  # a rotation (det +1) whose principal log is complex
    with pytest.raises(ValueError, match="eigenvalue −1"):
        fractional_rotation(half_turn, 0.5)


@pytest.mark.parametrize("Q", [np.ones((2, 3)), np.eye(3)[None], [[1.0, np.nan], [0.0, 1.0]], np.array([["a"]])])
def test_fractional_rotation_rejects_malformed_matrix(Q):
    with pytest.raises(ValueError, match="Q:"):
        fractional_rotation(Q, 0.5)


@pytest.mark.parametrize("alpha", [np.nan, np.inf, "0.5", None, True])
def test_fractional_rotation_rejects_bad_alpha(rotation, alpha):
    with pytest.raises(ValueError, match="alpha"):
        fractional_rotation(rotation, alpha)


# --- rotation_curve ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def pair():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 7))
    return X, X @ rng.normal(size=(7, 5)) + 0.3 * rng.normal(size=(60, 5))


def test_procrustes_is_invariant_along_the_curve(pair):
    X, _ = pair
    curve = rotation_curve(X, X, measure="procrustes-distance=euclidean", seed=2)
    assert curve.scores.shape == (11,)
    assert np.all(curve.scores < 1e-8 * np.linalg.norm(X))


def test_rotation_curve_matches_direct_evaluation(pair):
    X, Y = pair
    measure = repalign.measure("rsa-rdm=correlation-compare=pearson")  # rotation-sensitive, exists everywhere
    curve = rotation_curve(X, Y, alphas=[0.0, 0.5, 1.0], measure=measure, seed=5)
    assert isinstance(curve, RotationCurve)
    assert curve.measure == measure.name and curve.kind == "score" and curve.seed == 5
    assert np.array_equal(curve.rotation, haar_rotation(7, seed=5))
    assert curve.scores[0] == measure(X, Y)
    assert curve.scores[1] == pytest.approx(measure(X @ fractional_rotation(curve.rotation, 0.5), Y), abs=1e-12)
    assert curve.scores[2] == pytest.approx(measure(X @ curve.rotation, Y), abs=1e-12)
    assert abs(curve.scores[2] - curve.scores[0]) > 1e-3  # the measure does see the rotation


def test_rotation_curve_uses_a_given_rotation(pair):
    X, Y = pair
    Q = haar_rotation(7, seed=11)
    given = rotation_curve(X, Y, alphas=[0.3, 1.0], measure="rsa-rdm=correlation-compare=pearson", rotation=Q)
    drawn = rotation_curve(X, Y, alphas=[0.3, 1.0], measure="rsa-rdm=correlation-compare=pearson", seed=11)
    assert given.seed is None and np.array_equal(given.rotation, Q)
    assert np.allclose(given.scores, drawn.scores, atol=1e-12)


def test_rotation_curve_rotates_the_unit_axis_of_3d_input_and_torch(pair):
    X, Y = pair
    name = "rsa-rdm=correlation-compare=pearson"
    flat = rotation_curve(X, Y, alphas=[0, 0.4, 1], measure=name, seed=1)
    cube = rotation_curve(X.reshape(6, 10, 7), Y.reshape(6, 10, 5), alphas=[0, 0.4, 1], measure=name, seed=1)
    tensor = rotation_curve(torch.tensor(X), torch.tensor(Y), alphas=[0, 0.4, 1], measure=name, seed=1)
    assert np.allclose(cube.scores, flat.scores, atol=1e-12)
    assert np.allclose(tensor.scores, flat.scores, atol=1e-12)


def test_rotation_curve_plot_and_frame(pair, tmp_path):
    import matplotlib.pyplot as plt

    X, Y = pair
    curve = rotation_curve(X, Y, alphas=np.linspace(0, 1, 4), measure="rsa-rdm=correlation-compare=pearson")
    frame = curve.to_frame()
    assert list(frame.columns) == ["alpha", "score", "measure", "seed"]
    assert len(frame) == 4 and np.allclose(frame["score"], curve.scores)
    ax = curve.plot()
    line = ax.get_lines()[0]
    assert np.allclose(line.get_xdata(), curve.alphas) and np.allclose(line.get_ydata(), curve.scores)
    ax.figure.savefig(tmp_path / "curve.png")
    assert (tmp_path / "curve.png").stat().st_size > 0
    fig, own = plt.subplots()
    assert curve.plot(ax=own) is own
    plt.close("all")


def test_rotation_curve_progress_bar_uses_tqdm_in_a_terminal(pair, monkeypatch):
    calls = []
    monkeypatch.setattr(_checks, "_interactive", lambda: True)

    def fake_tqdm(iterable, total=None, desc=None, leave=True, **options):
        calls.append((total, desc))
        return iterable

    auto = types.ModuleType("tqdm.auto")
    auto.tqdm = fake_tqdm
    package = types.ModuleType("tqdm")
    package.auto = auto
    monkeypatch.setitem(sys.modules, "tqdm", package)
    monkeypatch.setitem(sys.modules, "tqdm.auto", auto)
    X, Y = pair
    rotation_curve(X, Y, alphas=[0, 1], measure="procrustes", progress=True)
    privileged_axes_test(X, Y, measure="procrustes", n_rotations=2, progress=True)
    assert calls == [(2, "rotation curve"), (2, "random rotations")]


def test_progress_without_tqdm_still_computes(pair, monkeypatch):
    monkeypatch.setattr(_checks, "_interactive", lambda: True)
    monkeypatch.setitem(sys.modules, "tqdm", None)  # makes `import tqdm` raise ImportError
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    X, Y = pair
    with_bar = rotation_curve(X, Y, alphas=[0, 1], measure="procrustes", progress=True)
    assert np.array_equal(with_bar.scores, rotation_curve(X, Y, alphas=[0, 1], measure="procrustes").scores)


def test_rotation_curve_rejects_bad_arguments(pair):
    X, Y = pair
    with pytest.raises(ValueError, match="alphas"):
        rotation_curve(X, Y, alphas=[], measure="procrustes")
    with pytest.raises(ValueError, match="alphas"):
        rotation_curve(X, Y, alphas=[0.0, np.nan], measure="procrustes")
    with pytest.raises(ValueError, match="alphas"):
        rotation_curve(X, Y, alphas=[[0.0, 1.0]], measure="procrustes")
    with pytest.raises(ValueError, match="rotation: expected shape"):
        rotation_curve(X, Y, measure="procrustes", rotation=np.eye(5))
    with pytest.raises(ValueError, match="rotation: has determinant"):
        rotation_curve(X, Y, measure="procrustes", rotation=np.diag([-1.0] + [1.0] * 6))
    with pytest.raises(ValueError, match="measure"):
        rotation_curve(X, Y, measure=3)
    with pytest.raises(ValueError, match="unknown measure"):
        rotation_curve(X, Y, measure="no-such-measure")
    with pytest.raises(ValueError, match="X:"):
        rotation_curve(X[:, :1], Y, measure="procrustes")
    with pytest.raises(ValueError, match="progress"):
        rotation_curve(X, Y, measure="procrustes", progress="yes")
    with pytest.raises(ValueError, match="seed"):
        rotation_curve(X, Y, measure="procrustes", seed=-2)


def test_soft_matching_distance_grows_with_rotation_of_axis_aligned_tuning():
    X = axis_aligned_tuning()
    n_units = X.shape[1]
    for seed in range(3):
        # the curve rises until the basis is "fully random" and then plateaus (with fluctuations
        # of d_T, which is permutation-invariant): check the rising part
        curve = rotation_curve(X, X, alphas=np.linspace(0, 0.5, 6), measure="soft_matching-distance=euclidean",
                               seed=seed)
        assert curve.scores[0] < 1e-8
        assert np.all(np.diff(curve.scores) > 0)
        # the identity coupling is feasible, so d_T <= ‖X̄ − X̄Q^α‖_F / √N
        alpha, score = curve.alphas[-1], curve.scores[-1]
        bound = np.linalg.norm(centred(X) @ (np.eye(n_units) - fractional_rotation(curve.rotation, alpha)))
        assert score <= bound / np.sqrt(n_units) + 1e-9


# --- privileged_axes_test ------------------------------------------------------------------

def test_privileged_axes_invariant_measure_finds_nothing(pair):
    X, Y = pair
    result = privileged_axes_test(X, Y, measure="procrustes-angular_score", n_rotations=4, seed=0,
                                  subsets={"head": ([0, 1, 2], [0, 1]), "mask": (np.arange(7) % 2 == 0, [3, 4])})
    assert isinstance(result, PrivilegedAxesResult)
    assert result.populations == ("all", "head", "mask")
    assert result.rotated.shape == (3, 4)
    assert list(result.n_units_x) == [7, 3, 4] and list(result.n_units_y) == [5, 2, 2]
    assert np.allclose(result.rotated, result.original[:, None], atol=1e-10)
    measure = repalign.measure("procrustes-angular_score")
    assert result.original[1] == pytest.approx(measure(X[:, [0, 1, 2]], Y[:, [0, 1]]), abs=1e-12)


def test_privileged_axes_rotation_sensitive_measure(pair):
    X, _ = pair
    Y = X + 0.05 * np.random.default_rng(3).normal(size=X.shape)  # same basis
    result = privileged_axes_test(X, Y, measure="rsa-rdm=correlation-compare=pearson", n_rotations=9, seed=1)
    assert result.difference[0] > 0
    assert result.p_value[0] == pytest.approx(1 / 10)
    again = privileged_axes_test(X, Y, measure="rsa-rdm=correlation-compare=pearson", n_rotations=9, seed=1)
    assert np.array_equal(again.rotated, result.rotated)


def test_privileged_axes_tables(pair):
    X, Y = pair
    result = privileged_axes_test(X, Y, measure="rsa-rdm=correlation-compare=pearson", n_rotations=3,
                                  subsets={"some": ([0, 2, 4], [1, 3])})
    frame = result.to_frame()
    assert len(frame) == 2 * (1 + 3)
    assert set(frame["basis"]) == {"original", "rotated"}
    assert frame.loc[frame["basis"] == "original", "rotation"].isna().all()
    summary = result.summary()
    assert list(summary["population"]) == ["all", "some"]
    assert np.allclose(summary["difference"], summary["original"] - summary["rotated_mean"])
    manual = (1 + (result.rotated >= result.original[:, None]).sum(axis=1)) / 4
    assert np.allclose(summary["p_value"], manual)


def test_privileged_axes_p_value_direction_for_distances():
    result = PrivilegedAxesResult(measure="d", kind="distance", populations=("all",), n_units_x=np.array([3]),
                                  n_units_y=np.array([3]), original=np.array([1.0]),
                                  rotated=np.array([[2.0, 3.0, 0.5]]), seed=0)
    assert result.p_value[0] == pytest.approx((1 + 1) / 4)
    assert result.difference[0] == pytest.approx(1.0 - 5.5 / 3)


def test_privileged_axes_on_generated_population():
    pop = sparse_factor_population(n_stimuli=300, n_factors=20, n_signal=40, n_noise_x=8, n_noise_y=30, seed=0)
    signal = ({"signal": (pop.is_signal_x, pop.is_signal_y)})
    result = privileged_axes_test(pop.X, pop.Y, measure="soft-matching", n_rotations=5, seed=0, subsets=signal)
    assert np.all(result.difference > 0.1)
    assert np.allclose(result.p_value, 1 / 6)
    assert result.original[1] > result.original[0]  # the noise units dilute the full population's score


@pytest.mark.parametrize("subsets, message", [
    ([([0, 1], [0])], "subsets: expected a mapping"),
    ({"all": ([0, 1], [0])}, "names must be"),
    ({"a": ([0, 1],)}, "expected a pair"),
    ({"a": ([0], [0])}, "at least 2 units of X"),
    ({"a": ([0, 9], [0])}, "indices must lie"),
    ({"a": ([0, 0], [0])}, "indices repeat"),
    ({"a": ([0, 1], [True, False])}, "boolean mask must have length 5"),
    ({"a": ([0.5, 1], [0])}, "integer indices"),
    ({"a": ([0, 1], [])}, "no units of Y"),
])
def test_privileged_axes_rejects_bad_subsets(pair, subsets, message):
    X, Y = pair
    with pytest.raises(ValueError, match=message):
        privileged_axes_test(X, Y, measure="procrustes", n_rotations=1, subsets=subsets)


def test_privileged_axes_rejects_bad_counts(pair):
    X, Y = pair
    with pytest.raises(ValueError, match="n_rotations"):
        privileged_axes_test(X, Y, measure="procrustes", n_rotations=0)
    with pytest.raises(ValueError, match="seed"):
        privileged_axes_test(X, Y, measure="procrustes", seed=1.5)

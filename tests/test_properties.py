"""Mathematical properties every measure claims: identity, symmetry, bounds, invariances,
triangle inequality, the seed paper's closed forms, and gradients."""

import math

import numpy as np
import pytest
import torch
from conftest import random_orthogonal, random_pair

import repalign

ALL = repalign.catalogue()
# variants beyond the default catalogue entries that exercise other code paths
EXTRA = [
    "cka-kernel=(rbf-sigma=2)-hsic=gretton-score",
    "ridge-lambda=100-aggregate=per_unit-r2-cv=5folds",
    "ridge-lambda=100-aggregate=pearson-r2-cv=5folds",
    "ridge-lambda=100-direction=y_from_x-r2-cv=5folds",
    "ridge-lambda=100-direction=symmetric-r2-cv=5folds",
    "ridge-lambda=100-split=shuffle-seed=1-r2-cv=5folds",
    "linear_regression-aggregate=per_unit-r2",
    "svcca-dim=3-score",
    "shape_metric-alpha=1-distance=angular",
    "shape_metric-alpha=0.5-angular_score",
]
MEASURES = ALL + EXTRA
DIFFERENTIABLE = [n for n in MEASURES if repalign.measure(n).differentiable]


def _sized(m, x, y):
    """The pair as the measure accepts it: the permutation distance needs equal unit counts."""
    units = min(x.shape[-1], y.shape[-1])
    return (x[..., :units], y[..., :units]) if m.family == "permutation" else (x, y)


def _identity_holds(m) -> bool:
    """s(X, X) = 1 (d = 0) for every measure except ridge, whose penalty shrinks the fit, and
    entropic (Sinkhorn) transport, whose plan is blurred by ε."""
    return not (m.family == "ridge" and m.params["lambda"] > 0) and m.params.get("solver") != "sinkhorn"


@pytest.mark.parametrize("name", [n for n in MEASURES if not _identity_holds(repalign.measure(n))])
def test_regularized_measures_miss_identity_on_identical_inputs(name):
    m = repalign.measure(name)
    x, _ = random_pair(seed=1)
    if m.kind == "score":
        assert m(x, x) < 1.0 - 1e-6
    else:
        assert m(x, x) > 1e-6


@pytest.mark.parametrize("name", [n for n in MEASURES if _identity_holds(repalign.measure(n))])
def test_identity(name):
    m = repalign.measure(name)
    x, _ = random_pair(seed=1)
    if "isotropic_scale" not in m.invariances["Y"]:
        assert m(x, 2.5 * x) != pytest.approx(0.0 if m.kind == "distance" else 1.0, abs=1e-6)
    scaled = 2.5 * x if "isotropic_scale" in m.invariances["Y"] else x.copy()
    shifted = scaled + 1.0 if "translation" in m.invariances["Y"] else scaled
    for y in (x, x.copy(), shifted):
        value = m(x, y)
        expected = 0.0 if m.kind == "distance" else 1.0
        assert abs(value - expected) <= 1e-12, (name, value)


@pytest.mark.parametrize("name", [n for n in MEASURES if repalign.measure(n).symmetric])
def test_symmetry(name):
    m = repalign.measure(name)
    x, y = _sized(m, *random_pair(seed=2))
    assert m(x, y) == pytest.approx(m(y, x), rel=1e-10, abs=1e-12)


@pytest.mark.parametrize("name", MEASURES)
def test_values_within_declared_range(name):
    m = repalign.measure(name)
    low, high = m.range
    for seed in range(3):
        x, y = _sized(m, *random_pair(seed=seed))
        value = m(x, y)
        assert low - 1e-12 <= value <= high + 1e-12
    # independent data: the (rank) correlations can be negative, scores stay in range
    rng = np.random.default_rng(9)
    assert low - 1e-12 <= m(*_sized(m, rng.normal(size=(40, 5)), rng.normal(size=(40, 6)))) <= high + 1e-12


def _transform(kind: str, data: np.ndarray, rng) -> np.ndarray:
    units = data.shape[1]
    if kind == "permutation":
        return data[:, rng.permutation(units)]
    if kind == "rotation":
        return data @ random_orthogonal(units, rng)
    if kind == "isotropic_scale":
        return 3.7 * data
    if kind == "translation":
        return data + rng.normal(scale=5.0, size=units)
    if kind == "invertible_linear":
        return data @ (rng.normal(size=(units, units)) + 2 * np.eye(units))
    raise AssertionError(kind)


KINDS = ("permutation", "rotation", "isotropic_scale", "translation", "invertible_linear")
# measures whose invariances depend on the data, so only a guaranteed subset is declared
DATA_DEPENDENT_INVARIANCES = {"pwcca"}  # rotation invariant on the side with more units


@pytest.mark.parametrize("side", ["X", "Y"])
@pytest.mark.parametrize("name", MEASURES)
def test_claimed_invariances_hold_and_unclaimed_ones_do_not(name, side):
    m = repalign.measure(name)
    x, y = _sized(m, *random_pair(seed=3))
    base = m(x, y)
    rng = np.random.default_rng(11)
    for kind in KINDS:
        if side == "X":
            changed = m(_transform(kind, x, rng), y)
        else:
            changed = m(x, _transform(kind, y, rng))
        if kind in m.invariances[side]:
            assert changed == pytest.approx(base, rel=1e-8, abs=1e-10), (kind, base, changed)
        elif m.family not in DATA_DEPENDENT_INVARIANCES and not (
            kind == "permutation" and m.invariances[side] & {"rotation", "invertible_linear"}
        ):
            # metadata must not under-claim either: an unclaimed invariance visibly fails
            assert abs(changed - base) > 1e-8, (kind, "holds but is not declared")


METRICS = [n for n in MEASURES if repalign.measure(n).is_metric]


@pytest.mark.parametrize("name", METRICS)
def test_triangle_inequality(name):
    m = repalign.measure(name)
    rng = np.random.default_rng(5)
    violations = []
    for trial in range(20):
        n = 30
        x = rng.normal(size=(n, 4))
        y = x @ rng.normal(size=(4, 5)) * 0.3 + rng.normal(size=(n, 5)) * (0.05 + trial / 20)
        z = y[:, :4] + rng.normal(size=(n, 4)) * 0.1
        x, y = _sized(m, x, y)
        dxy, dyz, dxz = m(x, y), m(y, z), m(x, z)
        if dxz > dxy + dyz + 1e-10:
            violations.append((dxz, dxy, dyz))
    assert not violations


def _replace_principal_component(x: np.ndarray, k: int, rng) -> tuple[np.ndarray, np.ndarray]:
    """X̄ with its k-th left singular vector replaced by an orthogonal unit vector (equal variance)."""
    xc = x - x.mean(axis=0)
    u, s, vt = np.linalg.svd(xc, full_matrices=False)
    basis = np.column_stack([np.ones(len(x)) / math.sqrt(len(x)), u])
    w = rng.normal(size=len(x))
    w -= basis @ (basis.T @ w)
    w -= basis @ (basis.T @ w)  # twice: orthogonal to rounding error
    u_new = u.copy()
    u_new[:, k] = w / np.linalg.norm(w)
    return xc, u_new @ np.diag(s) @ vt


@pytest.mark.parametrize("k", [0, 2, 5])
def test_seed_paper_closed_forms_for_a_replaced_principal_component(k):
    rng = np.random.default_rng(7)
    x = rng.normal(size=(200, 8)) @ np.diag(np.linspace(3, 0.3, 8)) @ random_orthogonal(8, rng)
    xc, y = _replace_principal_component(x, k, rng)
    lam = np.linalg.svd(xc, compute_uv=False) ** 2
    cka_expected = (np.sum(lam**2) - lam[k] ** 2) / np.sum(lam**2)
    nbs_expected = (np.sum(lam) - lam[k]) / np.sum(lam)
    assert repalign.measure("cka")(x, y) == pytest.approx(cka_expected, rel=1e-10)
    assert repalign.measure("nbs")(x, y) == pytest.approx(nbs_expected, rel=1e-10)
    assert repalign.measure("angular-procrustes")(x, y) == pytest.approx(
        1 - math.acos(nbs_expected) / (math.pi / 2), rel=1e-10
    )


# ---- gradients -------------------------------------------------------------------------------

def _small_tensors(seed=0, n=12, p=3, q=4):
    x, y = random_pair(seed=seed, n=n, p=p, q=q)
    return (torch.from_numpy(x).requires_grad_(), torch.from_numpy(y).requires_grad_())


@pytest.mark.parametrize("name", DIFFERENTIABLE)
def test_gradcheck_float64(name):
    m = repalign.measure(name)
    x, y = _small_tensors()
    if m.params.get("cv") is not None:
        x, y = _small_tensors(n=20)
    x, y = _sized(m, x, y)
    assert torch.autograd.gradcheck(lambda a, b: m(a, b), (x, y), eps=1e-6, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("name", ["cka", "nbs", "procrustes-distance=euclidean", "cca", "linreg", "rsa-rdm=euclidean-compare=pearson"])
def test_gradcheck_with_more_units_than_samples(name):
    m = repalign.measure(name)
    if m.family == "cca":
        with pytest.raises(ValueError, match="more samples than units"):
            m(*_small_tensors(n=6, p=8, q=9))
        return
    assert torch.autograd.gradcheck(lambda a, b: m(a, b), _small_tensors(n=6, p=8, q=9), eps=1e-6, atol=1e-6)


@pytest.mark.parametrize("name", DIFFERENTIABLE)
def test_gradients_finite_at_and_near_identity(name):
    m = repalign.measure(name)
    x, _ = random_pair(seed=4, n=24)
    for noise in (0.0, 1e-9, 1e-6, 1e-3):
        xt = torch.from_numpy(x)
        yt = (xt + noise * torch.from_numpy(np.random.default_rng(1).normal(size=x.shape))).requires_grad_()
        value = m(xt, yt)
        (grad,) = torch.autograd.grad(value, yt)
        assert torch.isfinite(value) and torch.isfinite(grad).all(), (noise, value)


def test_torch_output_keeps_device_and_graph():
    x, y = _small_tensors()
    value = repalign.measure("angular-procrustes")(x, y)
    value.backward()
    assert x.grad is not None and y.grad is not None and value.device == x.device


def test_non_differentiable_measures_say_so():
    assert not repalign.measure("rsa").differentiable
    assert not repalign.measure("rsa-rdm=euclidean-compare=kendall").differentiable
    assert repalign.measure("rsa-rdm=euclidean-compare=pearson").differentiable


# ---- no n x n matrices for linear-kernel measures ----------------------------------------------

class _LargestTensor(torch.utils._python_dispatch.TorchDispatchMode):
    """Records the shape of every tensor any aten op produces (forward and backward)."""

    def __init__(self):
        super().__init__()
        self.largest = (0, ())

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in out if isinstance(out, (tuple, list)) else (out,):
            if isinstance(t, torch.Tensor) and t.numel() > self.largest[0]:
                self.largest = (t.numel(), tuple(t.shape))
        return out


LINEAR_KERNEL = [n for n in MEASURES if not repalign.measure(n).needs_n_by_n]


@pytest.mark.parametrize("name", LINEAR_KERNEL)
def test_no_n_by_n_matrix_when_units_are_fewer_than_samples(name):
    n, p, q = 20_000, 12, 9
    rng = np.random.default_rng(0)
    x = torch.from_numpy(rng.normal(size=(n, p)))
    m = repalign.measure(name)
    x, y = _sized(m, x, torch.from_numpy(rng.normal(size=(n, q))))
    y = y.detach().requires_grad_(m.differentiable)
    with _LargestTensor() as probe:
        value = m(x, y)
        if y.requires_grad:
            value.backward()
    assert probe.largest[0] <= n * max(p, q), probe.largest


@pytest.mark.parametrize("name", ["rsa", "cka-kernel=(rbf-sigma=median-sigma_factor=1)-hsic=gretton-score"])
def test_measures_declaring_n_by_n_do_form_one(name):
    n = 50
    rng = np.random.default_rng(0)
    with _LargestTensor() as probe:
        repalign.measure(name)(torch.from_numpy(rng.normal(size=(n, 3))), torch.from_numpy(rng.normal(size=(n, 3))))
    assert probe.largest[0] >= n * (n - 1) // 2


@pytest.mark.parametrize(
    "name, kwargs",
    [("cka", {}), ("cka-debiased", {}), ("angular-procrustes", {}), ("procrustes-distance=euclidean", {}),
     ("cca", {}), ("ridge-cv", {"cv": 3}), ("ridge-cv", {"cv": 3, "direction": "symmetric", "aggregate": "pearson"}),
     ("linreg", {})],
)
def test_gradcheck_of_batched_and_bound_calls(name, kwargs):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(4, 6, 3, dtype=torch.float64, generator=g)           # (time, condition, unit) reference
    ys = torch.randn(2, 4, 6, 4, dtype=torch.float64, generator=g).requires_grad_()
    m = repalign.measure(name, **kwargs)
    bound = m.bind(x)
    assert torch.autograd.gradcheck(lambda y: bound.batch(y), (ys,))
    xs = x.expand(2, 4, 6, 3).clone().requires_grad_()
    assert torch.autograd.gradcheck(lambda a, b: m.batch(a, b), (xs, ys))

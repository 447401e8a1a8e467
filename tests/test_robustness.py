"""Every catalogue measure at any scale and precision, and below its minimum sample count.

The property test (hypothesis) scores random data scaled by 10^k in four dtypes and compares
each value with an independent float64 answer: the measure on float64 copies of the very
numbers given (after their rounding to the dtype), divided back by 10^k — scale 1 — times
10^(k·degree) for distances with units (``Measure.degree``). Tolerances (documented in
docs/api-contract.md):

- float64, k in [−150, 150]: 1e-8, relative to max(|answer|, 1) (absolute near 0);
- float32, k in [−15, 15]: 1e-4, likewise;
- float16 / bfloat16 tensors (computed in float32, returned in their dtype): the float32
  tolerance plus the rounding of the output to the half dtype (2^−11 and 2^−8 of |answer|).
  The input's rounding to half needs no tolerance: the answer is computed from the rounded
  numbers. float16 reaches only 6.5e4, so its scales are k in [−2, 1].

Measures neither invariant nor homogeneous (``degree`` None: ridge with λ > 0, shape metrics
with 0 < α < 1) have no scale-1 answer at another scale: they are compared with float64 at the
same scale (float32 and half inputs) or only checked finite and in range (float64 input).
"""

import math
import warnings

import numpy as np
import pytest
import torch
from conftest import random_pair
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import repalign
from repalign.measures import FAMILIES

CATALOGUE = repalign.catalogue()
TOLERANCE = {"float64": 1e-8, "float32": 1e-4, "float16": 1e-4, "bfloat16": 1e-4}
OUTPUT_ROUNDING = {"float16": 2.0**-11, "bfloat16": 2.0**-8}
EXPONENTS = {"float64": (-150, 150), "numpy": (-150, 150), "float32": (-15, 15), "float16": (-2, 1),
             "bfloat16": (-15, 15)}
TORCH_DTYPES = {"float64": torch.float64, "float32": torch.float32, "float16": torch.float16,
                "bfloat16": torch.bfloat16}


@st.composite
def cases(draw):
    """(seed, n, p, q, dtype, k): well-posed sizes for every family (n > p + q + 1 for PWCCA).

    At least 3 units: the correlation RDM of 2 units takes only the values 0 and 2, whose ties a
    rank comparison breaks by rounding.
    """
    dtype = draw(st.sampled_from(["numpy", "float64", "float32", "float16", "bfloat16"]))
    low, high = EXPONENTS[dtype]
    p, q = draw(st.integers(3, 6)), draw(st.integers(3, 6))
    n = draw(st.integers(p + q + 4, 30))
    return draw(st.integers(0, 2**16)), n, p, q, dtype, draw(st.integers(low, high))


def _given(values: np.ndarray, dtype: str):
    """The input as the caller gives it, and the float64 numbers it holds."""
    if dtype == "numpy":
        return values, values
    tensor = torch.from_numpy(values).to(TORCH_DTYPES[dtype])
    return tensor, tensor.double().numpy()


def _value(result) -> float:
    return float(result.double()) if isinstance(result, torch.Tensor) else float(result)


def check_scaled(name: str, case) -> None:
    seed, n, p, q, dtype, k = case
    m = repalign.measure(name)
    x, y = random_pair(seed=seed, n=n, p=p, q=p if m.family == "permutation" else q)
    scale = 10.0**k
    given_x, held_x = _given(x * scale, dtype)
    given_y, held_y = _given(y * scale, dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # pwcca's basis warning does not apply (n > p + q + 1)
        try:
            at_one = m(held_x / scale, held_y / scale)  # float64, scale 1
        except ValueError as err:
            # a refusal at scale 1 must be the same at any scale in float64; other dtypes (other tolerances)
            # have no answer to compare with
            if dtype in ("numpy", "float64"):
                with pytest.raises(type(err)):
                    m(given_x, given_y)
            return
        if m.degree is not None:
            expected = at_one * scale**m.degree
        elif dtype in ("numpy", "float64"):
            expected = None
        else:
            expected = m(held_x, held_y)  # float64 at the same scale
        result = m(given_x, given_y)
    if isinstance(given_x, torch.Tensor):
        assert result.dtype == given_x.dtype, f"{name}: {dtype} input returned {result.dtype}"
    value = _value(result)
    assert math.isfinite(value), f"{name} at 10^{k} in {dtype}: {value}"
    low, high = m.range
    if expected is None:
        assert low - 1e-12 <= value <= high + 1e-12, f"{name} at 10^{k}: {value} outside {m.range}"
        return
    unit = scale ** (m.degree or 0)  # compare in the units of scale 1
    error, size = abs(value - expected) / unit, abs(expected) / unit
    allowed = TOLERANCE.get(dtype, 1e-8) * max(size, 1.0) + OUTPUT_ROUNDING.get(dtype, 0.0) * size
    if dtype in OUTPUT_ROUNDING and any(f"compare={c}" in name for c in ("spearman", "kendall")):
        # half-precision inputs hold exactly equal dissimilarities, which float32 and float64 order by
        # their rounding: a rank comparison is then off by a few swaps (documented: absolute, not relative)
        allowed = TOLERANCE[dtype] + OUTPUT_ROUNDING[dtype] * max(size, 1.0)
    assert error <= allowed, (f"{name} at 10^{k} in {dtype} (seed {seed}, n={n}, p={p}, q={q}): {value!r}, "
                              f"float64 answer {expected!r}: off by {error:.3g} (allowed {allowed:.3g})")


def _fits_half(name: str, case) -> bool:
    """float16 ends at 6.5e4: a squared distance of data at 10^1 may be beyond it (then refused with a
    ValueError, tested on its own below)."""
    _, n, p, q, dtype, k = case
    return dtype != "float16" or "squared_euclidean" not in name or k <= 0


@pytest.mark.parametrize("name", CATALOGUE)
@settings(derandomize=True, deadline=None, max_examples=6, suppress_health_check=[HealthCheck.too_slow])
@given(case=cases())
def test_any_scale_and_precision_gives_the_float64_answer(name, case):
    assume(_fits_half(name, case))
    check_scaled(name, case)


@pytest.mark.slow
@pytest.mark.parametrize("name", CATALOGUE)
@settings(derandomize=True, deadline=None, max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(case=cases())
def test_any_scale_and_precision_gives_the_float64_answer_thoroughly(name, case):
    assume(_fits_half(name, case))
    check_scaled(name, case)


@pytest.mark.parametrize("extreme", [-300, -200, 200, 300])
@pytest.mark.parametrize("name", [n for n in CATALOGUE if repalign.measure(n).degree == 0])
def test_invariant_measures_hold_at_the_ends_of_float64(name, extreme):
    """Beyond the property test's range: 1e±200 and 1e±300 (squares of these overflow or underflow)."""
    m = repalign.measure(name)
    x, y = random_pair(seed=3, n=24, p=4, q=4 if m.family == "permutation" else 5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        expected = m(x, y)
        value = m(x * 10.0**extreme, y * 10.0**extreme)
    assert abs(value - expected) <= 1e-8 * max(abs(expected), 1.0)


# (measures neither invariant nor homogeneous, degree None, are computed on the data as given)
@pytest.mark.parametrize("name", [n for n in CATALOGUE if repalign.measure(n).degree is not None])
def test_a_power_of_two_scale_reproduces_the_value_bit_for_bit(name):
    m = repalign.measure(name)
    x, y = random_pair(seed=4, n=20, p=3, q=3 if m.family == "permutation" else 4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        expected = m(x, y)
        for exponent in (-500, -37, 1, 480):
            factor = math.ldexp(1.0, exponent)
            assert m(x * factor, y * factor) == math.ldexp(expected, exponent * m.degree)


def test_gradients_are_exact_at_extreme_scales():
    """The power of two is a constant: Y ↦ f(sX, sY)/s^degree is f itself, gradient included (gradcheck)."""
    x, y = random_pair(seed=5, n=12, p=3, q=3)
    for name in ("cka", "procrustes", "procrustes-distance=euclidean", "soft_matching-distance=euclidean"):
        m = repalign.measure(name)
        for scale in (1e-100, 1.0, 1e100):
            xt = torch.tensor(x * scale)
            yt = torch.tensor(y, requires_grad=True)
            assert torch.autograd.gradcheck(lambda v: m(xt, v * scale) / scale**m.degree, (yt,))


def test_bound_measure_batch_is_scaled_like_a_call():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(20, 4))
    ys = torch.from_numpy(rng.normal(size=(3, 20, 5)))
    factors = torch.tensor([1e-200, 1.0, 1e200], dtype=torch.float64)[:, None, None]
    for name in ("cka", "angular-procrustes", "procrustes-distance=squared_euclidean", "soft-matching"):
        m = repalign.measure(name)
        expected = torch.tensor([m(x * 1e150, y.numpy() * float(f)) for y, f in zip(ys, factors)],
                                dtype=torch.float64)
        bound = m.bind(x * 1e150)
        unchecked = bound.batch(ys * factors, check_values=False)
        torch.testing.assert_close(unchecked, expected, rtol=1e-10, atol=0.0)
        torch.testing.assert_close(bound.batch(ys * factors), expected, rtol=1e-10, atol=0.0)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_is_computed_in_float32_and_returned_in_its_dtype(dtype):
    x, y = random_pair(seed=7, n=30, p=4, q=5)
    xh, yh = torch.from_numpy(x).to(dtype), torch.from_numpy(y).to(dtype).requires_grad_(True)
    for name in ("cka", "rsa", "angular-procrustes", "pwcca", "ridge-cv", "soft-matching"):
        m = repalign.measure(name)
        value = m(xh, yh)
        assert value.dtype == dtype
        expected = m(torch.from_numpy(xh.double().numpy()), torch.from_numpy(yh.detach().double().numpy()))
        assert abs(float(value.detach()) - float(expected)) <= 1e-4 + OUTPUT_ROUNDING[str(dtype)[6:]] * abs(float(expected))
        if m.differentiable:
            yh.grad = None
            value.backward()
            assert yh.grad.dtype == dtype and bool(torch.isfinite(yh.grad).all())
    mixed = repalign.measure("cka")(xh, torch.from_numpy(y).float())
    assert mixed.dtype == torch.float32  # float16 with float32 promotes to float32, as in torch
    bound = repalign.measure("cka").bind(xh)
    assert bound(yh.detach()).dtype == dtype and bound.batch(yh.detach()[None]).dtype == dtype


def test_unresolvable_data_are_refused_naming_the_argument():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(20, 3))
    cka = repalign.measure("cka")
    with pytest.raises(ValueError, match=r"^Y: every value is subnormal"):
        cka(x, x * 1e-310)
    with pytest.raises(ValueError, match=r"^Y: the values of every unit vary .* the variance underflows"):
        cka(x, 1.0 + 1e-17 * np.arange(60.0).reshape(20, 3))
    with pytest.raises(ValueError, match=r"^X: every value is subnormal"):
        cka(torch.from_numpy(x * 1e-6).half(), torch.from_numpy(x).half())
    with pytest.raises(ValueError, match=r"^Y: the values of every unit vary"):
        cka(torch.from_numpy(x).float(), torch.from_numpy(1e4 + 1e-3 * x).float())  # a few ulps of 1e4
    # one unresolved unit beside others that vary is data, not an error (as for a constant unit)
    y = np.column_stack([x[:, :2], 1.0 + 1e-17 * np.arange(20.0)])
    assert 0.0 < cka(x, y) < 1.0


def _one_measure_per_family():
    chosen = {}
    for name in CATALOGUE:
        chosen.setdefault(repalign.measure(name).family, name)
    return sorted(chosen.values())


@pytest.mark.parametrize("name", _one_measure_per_family() + ["cka-debiased", "ridge-cv", "linear_regression-r2-cv=3folds"])
def test_fewer_samples_than_the_declared_minimum_are_refused(name):
    m = repalign.measure(name)
    assert set(FAMILIES) == {repalign.measure(n).family for n in _one_measure_per_family()}
    needed, reason = m.min_samples
    assert needed >= 3 and reason
    rng = np.random.default_rng(0)
    for n in sorted({2, needed - 1}):
        x, y = rng.normal(size=(n, 1)), rng.normal(size=(n, 1))
        with pytest.raises(ValueError, match=rf"^X, Y: .* needs at least {needed} samples .*got {n}$"):
            m(x, y)
        with pytest.raises(ValueError, match=rf"^X, Y: .* at least {needed} samples"):
            m.bind(x)(y)
    x, y = rng.normal(size=(needed, 1)), rng.normal(size=(needed, 1))
    try:
        m(x, y)
    except ValueError as err:  # another rule may still apply at the minimum, never this one
        assert "needs at least" not in str(err)


def test_two_samples_no_longer_give_a_trivial_one():
    x, y = np.array([[0.0, 1.0], [2.0, 5.0]]), np.array([[3.0, -1.0], [1.0, 4.0]])
    for name in ("cka", "linreg", "svcca", "nbs", "cca", "soft-matching"):
        with pytest.raises(ValueError, match="at least 3 samples"):
            repalign.measure(name)(x, y)


@pytest.mark.parametrize("spec", [
    dict(kernel="rbf", sigma=0), dict(kernel="rbf", sigma=-1.0), dict(kernel="rbf", sigma_factor=0),
    dict(kernel="rbf", sigma_factor=-2.0),
])
def test_a_kernel_width_of_zero_is_refused(spec):
    key = next(k for k in spec if k.startswith("sigma"))
    with pytest.raises(ValueError, match=rf"parameter '{key}' must be > 0"):
        repalign.measure("cka", **spec)


def test_a_median_kernel_width_of_zero_is_refused_naming_the_input():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(9, 3))
    y = np.repeat(rng.normal(size=(1, 3)), 9, axis=0)
    y[:1] += rng.normal(size=(1, 3))  # 8 of 9 samples coincide: 28 of the 36 pairwise distances are 0
    with pytest.raises(ValueError, match=r"^Y: .*median pairwise distance is 0"):
        repalign.measure("cka-kernel=(rbf-sigma=median)-hsic=gretton-score")(x, y)


def test_prepared_bound_measures_serve_their_calls():
    """prepare() fills the entry a call then uses: float32 for half precision; the common scale of
    homogeneous distances (here Y at the reference's scale, far from 1)."""
    x, y = random_pair(seed=8, n=20, p=3, q=3)
    for name in ("cka", "procrustes-distance=euclidean"):
        bound = repalign.measure(name).bind(x)
        bound.prepare(torch.float16)
        bound(torch.from_numpy(y).half())
        assert len(bound._cache) == 1
        bound = repalign.measure(name).bind(x * 1e100)
        bound.prepare(torch.float64)
        bound(torch.from_numpy(y * 1e100))
        assert len(bound._cache) == 1


def test_an_absolute_kernel_width_far_from_the_data_gives_its_limit_or_says_so():
    """RBF with an absolute σ is not scale-invariant (computed as given): data far above σ have the
    identity kernel (every sample its own cluster: gretton CKA 1, not ∞ − ∞ = NaN); data far below σ
    a constant kernel, which is refused as such, not as "too few samples" alone."""
    x, y = random_pair(seed=9, n=30, p=4, q=5)
    m = repalign.measure("cka", kernel="rbf", sigma=1.0)
    assert 0.0 < m(x, y) < 1.0
    for scale in (1e10, 1e200):
        assert m(x * scale, y * scale) == pytest.approx(1.0, abs=1e-12)
    for scale in (1e-10, 1e-200):
        with pytest.raises(ValueError, match="centred kernel matrix is 0 .σ is far from the scale of the data"):
            m(x * scale, y * scale)


@pytest.mark.parametrize("name", ["procrustes-distance=euclidean", "procrustes-distance=squared_euclidean",
                                  "soft_matching-distance=euclidean", "permutation-distance=euclidean"])
def test_a_bound_batch_of_items_at_different_scales_gives_each_items_value(name):
    # one common power of two for the whole batch would underflow the small items to a distance of 0
    m = repalign.measure(name)
    x, y = random_pair(seed=6, n=15, p=3, q=3)
    scales = [1.0, 1e200, 1e-150, 1.0]
    Ys = np.stack([y * s for s in scales])
    expected = [m(x, y * s) for s in scales]
    for batch in (m.bind(x).batch(Ys), m.bind(x).batch(torch.from_numpy(Ys))):
        values = np.asarray(batch, dtype=float)
        assert np.allclose(values, expected, rtol=1e-12, atol=0) and np.all(values > 0)


def test_numpy_input_cast_to_a_narrower_tensor_dtype_is_checked_as_the_input_itself():
    # numpy is float64; compared with a float32 tensor it is cast to float32, where 1e50 is Inf and 1e-50 is 0
    m = repalign.measure("cka")
    x, y = random_pair(seed=7, n=20, p=4, q=3)
    yt = torch.from_numpy(y).float()
    for call in (lambda s: m(x * s, yt), lambda s: m.bind(x * s)(yt), lambda s: m.bind(yt)(x[:, :3] * s)):
        with pytest.raises(ValueError, match=r"do not fit torch.float32 .*the dtype of"):
            call(1e50)
        with pytest.raises(ValueError, match="subnormal"):
            call(1e-50)
    assert float(m(x * 1e30, yt)) == pytest.approx(m(x, y), abs=1e-5)
    assert float(m.bind(yt)(x[:, :3] * 1e30)) == pytest.approx(m(y, x[:, :3]), abs=1e-5)


def test_a_value_beyond_float16s_range_is_refused_not_returned_as_inf():
    x, y = random_pair(seed=8, n=20, p=3, q=3)
    xt, yt = (torch.from_numpy(v * 30).to(torch.float16) for v in (x, y))
    m = repalign.measure("procrustes-distance=squared_euclidean")
    assert m(xt.float(), yt.float()) > 65504  # the float32 value exists
    with pytest.raises(ValueError, match=r"exceeds torch.float16's range .*pass float32"):
        m(xt, yt)
    assert torch.isfinite(repalign.measure("procrustes-distance=euclidean")(xt, yt))  # its square root fits

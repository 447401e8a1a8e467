"""Input types, layouts, output types and every bad input of the issue's item 5."""

import numpy as np
import pytest
import torch

import repalign

ALL = repalign.catalogue()


def test_numpy_in_float_out_torch_in_tensor_out(pair):
    x, y = pair
    m = repalign.measure("cka")
    value = m(x, y)
    assert type(value) is float
    tensor = m(torch.from_numpy(x), torch.from_numpy(y))
    assert isinstance(tensor, torch.Tensor) and tensor.ndim == 0 and tensor.dtype == torch.float64
    assert tensor.item() == pytest.approx(value, rel=1e-14)
    as_float32 = m(torch.from_numpy(x).float(), torch.from_numpy(y).float())
    assert as_float32.dtype == torch.float32
    assert as_float32.item() == pytest.approx(value, rel=1e-4)


def test_numpy_float32_input_is_computed_in_float64(pair):
    x, y = pair
    m = repalign.measure("nbs")
    assert m(x.astype(np.float32), y) == pytest.approx(m(x.astype(np.float32).astype(np.float64), y), rel=1e-15)


def test_lists_xarray_and_integer_arrays_give_the_same_number(pair):
    xarray = pytest.importorskip("xarray")
    x, y = pair
    m = repalign.measure("angular-procrustes")
    expected = m(x, y)
    assert m(x.tolist(), y.tolist()) == pytest.approx(expected, rel=1e-14)
    xa = xarray.DataArray(x.T, dims=("unit", "sample"))  # transposed: dims are recognised by name
    assert m(xa, y) == pytest.approx(expected, rel=1e-14)
    ints = np.round(x * 10).astype(int)
    assert m(ints, y) == pytest.approx(m(ints.astype(float), y), rel=1e-14)


def test_mixed_numpy_and_torch_follow_the_tensor(pair):
    x, y = pair
    out = repalign.measure("cka")(x, torch.from_numpy(y).float())
    assert isinstance(out, torch.Tensor) and out.dtype == torch.float32


def test_three_dimensional_input_is_flattened_time_major():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(5, 8, 4)), rng.normal(size=(5, 8, 6))
    for name in ("cka", "nbs", "cca", "linreg", "rsa"):
        m = repalign.measure(name)
        assert m(x, y) == pytest.approx(m(x.reshape(40, 4), y.reshape(40, 6)), rel=1e-13)


def test_xarray_three_dimensional_dims_are_reordered_by_name():
    xarray = pytest.importorskip("xarray")
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(5, 8, 4)), rng.normal(size=(5, 8, 6))
    xa = xarray.DataArray(x.transpose(2, 1, 0), dims=("unit", "condition", "time"))
    m = repalign.measure("ridge-cv")
    assert m(xa, y) == pytest.approx(m(x, y), rel=1e-13)


def test_different_unit_counts_are_allowed(pair):
    x, y = pair
    assert x.shape[1] != y.shape[1]
    for name in ("cka", "nbs", "procrustes", "cca", "ridge-cv", "rsa"):
        assert np.isfinite(repalign.measure(name)(x, y))


# ---- bad input: ValueError naming the argument and the problem --------------------------

def _bad_inputs():
    good = np.random.default_rng(0).normal(size=(20, 3))
    with_nan = good.copy()
    with_nan[2, 1] = np.nan
    with_inf = good.copy()
    with_inf[0, 0] = np.inf
    return [
        ("nan", with_nan, good, "X", "NaN"),
        ("inf", good, with_inf, "Y", "infinite"),
        ("1d", good[:, 0], good, "X", "got 1 dimension"),
        ("4d", good.reshape(1, 2, 10, 3), good, "X", "got 4 dimension"),
        ("empty", np.zeros((0, 3)), good, "X", "empty"),
        ("empty units", good, np.zeros((20, 0)), "Y", "empty"),
        ("strings", np.array([["a", "b"], ["c", "d"]]), good, "X", "numeric"),
        ("complex", good, good.astype(complex), "Y", "numeric"),
        ("object", np.array([[1, None], [2, 3]], dtype=object), good, "X", "numeric"),
        ("ragged", [[1.0, 2.0], [3.0]], good, "X", "ragged"),
        ("type", "not an array", good, "X", "expected a numpy array"),
        ("constant", np.ones((20, 3)), good, "X", "constant"),
        ("one sample", good[:1], good[:1], "X", "at least 2 samples"),
        ("sample mismatch", good, good[:15], "same number of samples", "X has 20"),
        ("layout mismatch", good.reshape(4, 5, 3), good, "Y is 2D", "3D"),
    ]


@pytest.mark.parametrize("case", _bad_inputs(), ids=lambda c: c[0])
@pytest.mark.parametrize("name", ["cka", "angular-procrustes", "ridge-cv", "cca", "rsa", "svcca"])
def test_bad_input_raises_naming_argument_and_problem(case, name):
    _, x, y, argument, problem = case
    with pytest.raises(ValueError) as info:
        repalign.measure(name)(x, y)
    message = str(info.value)
    assert argument in message and problem in message


def test_torch_nan_and_device_checks():
    x = torch.randn(20, 3, dtype=torch.float64)
    y = x.clone()
    y[3, 2] = float("nan")
    with pytest.raises(ValueError, match="Y: contains 1 NaN"):
        repalign.measure("cka")(x, y)


@pytest.mark.parametrize(
    "name, n, fragment",
    [
        ("ridge-cv", 4, "5 folds need at least 5 samples"),
        ("cka-debiased", 3, "at least 4 samples"),
        ("cca", 5, "more samples than units"),
        ("rsa", 2, "at least 3 samples"),
    ],
)
def test_too_few_samples_for_the_measure(name, n, fragment):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(n, 5)), rng.normal(size=(n, 5))
    with pytest.raises(ValueError, match=fragment):
        repalign.measure(name)(x, y)


def test_too_few_conditions_for_the_folds():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(10, 3, 4)), rng.normal(size=(10, 3, 4))
    with pytest.raises(ValueError, match="5 folds need at least 5 conditions, the inputs have 3"):
        repalign.measure("ridge-cv")(x, y)
    assert np.isfinite(repalign.measure("ridge-cv", split="samples")(x, y))


@pytest.mark.parametrize("rdm, problem", [("correlation", "no variance across units"), ("cosine", "all-zero activity")])
def test_rsa_rdm_undefined_for_a_degenerate_sample(rdm, problem):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(10, 4))
    x[3] = 0.0 if rdm == "cosine" else 2.0  # a sample with all-zero activity / equal across units
    with pytest.raises(ValueError, match=f"X has a sample with {problem}; the {rdm} RDM is undefined there"):
        repalign.measure(f"rsa-rdm={rdm}-compare=pearson")(x, rng.normal(size=(10, 4)))


def test_collinear_units_are_refused_by_cca():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(30, 3))
    x = np.column_stack([x, x[:, 0] + x[:, 1]])
    with pytest.raises(ValueError, match="linearly dependent"):
        repalign.measure("cca")(x, rng.normal(size=(30, 2)))


# ---- batches ------------------------------------------------------------------------------

@pytest.mark.parametrize("name", [n for n in ALL if not n.startswith("rsa-rdm=c")] + ["ridge-cv", "svcca"])
def test_batch_equals_one_call_per_pair(name):
    rng = np.random.default_rng(3)
    xs = rng.normal(size=(3, 30, 4))
    m = repalign.measure(name)
    q = 4 if m.family == "permutation" else 5  # d_P needs as many units on both sides
    ys = xs[..., :3] @ rng.normal(size=(3, 3, q)) + rng.normal(size=(3, 30, q))
    batched = m.batch(xs, ys)
    assert isinstance(batched, np.ndarray) and batched.shape == (3,)
    singles = [m(x, y) for x, y in zip(xs, ys)]
    np.testing.assert_allclose(batched, singles, rtol=1e-10, atol=1e-12)
    bound = m.bind(xs[0])
    np.testing.assert_allclose(bound.batch(ys), [m(xs[0], y) for y in ys], rtol=1e-10, atol=1e-12)


def test_batch_of_three_dimensional_pairs_and_torch_output():
    rng = np.random.default_rng(4)
    xs = torch.from_numpy(rng.normal(size=(2, 4, 6, 3)))
    ys = torch.from_numpy(rng.normal(size=(2, 4, 6, 5)))
    m = repalign.measure("ridge-cv", cv=3)
    out = m.batch(xs, ys)
    assert isinstance(out, torch.Tensor) and out.shape == (2,)
    assert out[1].item() == pytest.approx(m(xs[1], ys[1]).item(), rel=1e-12)


def test_batch_requires_explicit_batch_axis_and_equal_sizes():
    rng = np.random.default_rng(5)
    m = repalign.measure("cka")
    with pytest.raises(ValueError, match="Xs: expected a"):
        m.batch(rng.normal(size=(10, 3)), rng.normal(size=(10, 3)))
    with pytest.raises(ValueError, match="same number of pairs"):
        m.batch(rng.normal(size=(2, 10, 3)), rng.normal(size=(3, 10, 3)))


def test_bound_measure_caches_reference_and_matches_unbound(pair):
    x, y = pair
    for name in ("cka", "angular-procrustes", "ridge-cv", "cca", "rsa"):
        m = repalign.measure(name)
        bound = m.bind(x)
        assert bound(y) == pytest.approx(m(x, y), rel=1e-12)
        yt = torch.from_numpy(y).float()
        assert bound(yt).dtype == torch.float32  # reference re-prepared for the new dtype
        assert len(bound._cache) == 2


def test_results_do_not_depend_on_global_default_dtype(pair):
    x, y = pair
    before = repalign.measure("ridge-cv")(x, y)
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float32)
    try:
        after = repalign.measure("ridge-cv")(x, y)
    finally:
        torch.set_default_dtype(previous)
    assert after == before
    x_int = torch.from_numpy(np.round(x * 10).astype(np.int64))
    assert repalign.measure("cka")(x_int, torch.from_numpy(y)).dtype == torch.float64


def test_read_only_arrays_are_accepted_without_warnings():
    import warnings

    x = np.random.default_rng(0).normal(size=(20, 3))
    x.flags.writeable = False
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert 0 <= repalign.measure("cka")(x, x[:, :2] + 1.0) <= 1

"""repalign.data: the Dataset container, its files and xarray form, the generators, the M1 loader."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from repalign.data import Dataset, gaussian_like, load_m1, mante_like, read, two_pc, ultrametric

xr = pytest.importorskip("xarray")


pytestmark = pytest.mark.usefixtures("single_threaded")  # see conftest.py


def pc_variances(activity: np.ndarray) -> np.ndarray:
    """Independent reference: eigenvalues of the covariance of the flattened (time·condition, unit) matrix."""
    x = activity.reshape(-1, activity.shape[-1])
    x = x - x.mean(axis=0)
    return np.sort(np.linalg.eigvalsh(x.T @ x / (len(x) - 1)))[::-1]


def fitted_exponent(variances: np.ndarray, n_pcs: int) -> float:
    rank = np.arange(1, n_pcs + 1)
    return -float(np.polyfit(np.log(rank), np.log(variances[:n_pcs]), 1)[0])


def small_dataset(**kwargs) -> Dataset:
    rng = np.random.default_rng(0)
    conditions = pd.DataFrame(
        {
            "coherence": [-0.5, 0.1, 0.5],
            "choice": np.array([-1, 1, 1], dtype=np.int64),
            "label": ["left", "right", "rïght"],
            "correct": [True, False, True],
            "small": np.array([1, 2, 3], dtype=np.int16),
        }
    )
    units = pd.DataFrame({"area": ["PFC", "FEF", "PFC", "V4"], "depth_um": [100.0, 250.0, np.nan, 80.0]})
    defaults = dict(conditions=conditions, units=units, dt=0.05, provenance={"who": "test", "seed": 3, "tags": [1, 2]})
    return Dataset(rng.normal(size=(5, 3, 4)), **{**defaults, **kwargs})


# ---------------------------------------------------------------------------------------------
# import and container


def test_import_loads_neither_pandas_nor_xarray():
    code = (
        "import sys, repalign.data; "
        "loaded = [m for m in ('pandas', 'xarray') if m in sys.modules]; "
        "assert not loaded, loaded"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_properties_of_both_layouts():
    ds = small_dataset()
    assert (ds.shape, ds.layout, ds.dims) == ((5, 3, 4), "time,condition,unit", ("time", "condition", "unit"))
    assert (ds.n_units, ds.n_conditions, ds.n_time, ds.n_samples) == (4, 3, 5, 15)
    flat = Dataset(np.arange(12.0).reshape(6, 2), conditions={"stimulus": np.arange(6)})
    assert (flat.shape, flat.layout, flat.n_samples) == ((6, 2), "sample,unit", 6)
    assert flat.n_conditions is None and flat.n_time is None
    assert flat.dt is None and flat.provenance == {} and flat.units is None
    assert "Dataset(layout='sample,unit', shape=(6, 2)" in repr(flat)


def test_activity_is_a_read_only_float64_copy():
    values = np.arange(24, dtype=np.int32).reshape(2, 3, 4)
    ds = Dataset(values)
    assert ds.activity.dtype == np.float64 and not ds.activity.flags.writeable
    values[0, 0, 0] = 100
    assert ds.activity[0, 0, 0] == 0
    tensor = torch.arange(24.0, requires_grad=True).reshape(2, 3, 4)
    from_torch = Dataset(tensor)
    assert np.array_equal(from_torch.activity, ds.activity) and not np.shares_memory(from_torch.activity, values)
    with pytest.raises(Exception):
        ds.activity = np.zeros((2, 3, 4))  # frozen


def test_tables_are_normalised():
    named = pd.DataFrame({"c": [1, 2, 3]}, index=pd.Index(["a", "b", "c"], name="condition_name"))
    ds = Dataset(np.arange(24.0).reshape(2, 3, 4), conditions=named)
    assert ds.conditions.columns.tolist() == ["condition_name", "c"]  # a named index is data
    filtered = pd.DataFrame({"c": [1, 2, 3, 4]}).iloc[1:]  # an unnamed index is positions
    ds = Dataset(np.arange(24.0).reshape(2, 3, 4), conditions=filtered)
    assert ds.conditions.index.tolist() == [0, 1, 2] and ds.conditions.columns.tolist() == ["c"]
    objects = pd.DataFrame({"s": pd.Series(["x", "y", "z"], dtype=object)})
    ds = Dataset(np.arange(24.0).reshape(2, 3, 4), conditions=objects)
    assert pd.api.types.is_string_dtype(ds.conditions["s"])
    assert Dataset(np.arange(24.0).reshape(2, 3, 4), conditions=pd.DataFrame(index=range(3))).conditions is None


BAD_CONTAINERS = [
    (dict(activity=np.full((2, 3, 4), np.nan)), "activity: contains 24 NaN"),
    (dict(activity=np.zeros((2, 3, 4, 5))), "activity: expected a 2D"),
    (dict(activity=np.array([["a", "b"], ["c", "d"]])), "activity: expected numeric"),
    (dict(conditions={"c": [1, 2]}), r"conditions: expected one row per condition \(3\), got 2"),
    (dict(conditions=[1, 2, 3]), "conditions: expected a pandas DataFrame"),
    (dict(conditions={"c": [[1], [2], [3]]}), "conditions: column 'c' has dtype object"),
    (dict(conditions={"c": pd.Categorical(["a", "b", "a"])}), "conditions: column 'c' has dtype category"),
    (dict(conditions={"c": [1 + 1j, 2, 3]}), "conditions: column 'c' has dtype complex"),
    (dict(conditions={"c": ["a", None, "b"]}), "conditions: column 'c' has missing strings"),
    (dict(conditions=pd.DataFrame({0: [1, 2, 3]})), "conditions: column names must be non-empty strings"),
    (dict(conditions=pd.DataFrame([[1, 2]] * 3, columns=["a", "a"])), r"conditions: duplicated column name\(s\)"),
    (dict(units={"u": [1, 2, 3]}), r"units: expected one row per unit \(4\), got 3"),
    (dict(dt=-0.1), "dt: expected a positive number"),
    (dict(dt=float("nan")), "dt: expected a finite real number"),
    (dict(provenance={"f": object()}), "provenance: must hold only JSON values"),
    (dict(provenance=["a"]), "provenance: expected a dict"),
]


@pytest.mark.parametrize(
    "kwargs, message", BAD_CONTAINERS, ids=[m.split(":")[0] + str(i) for i, (_, m) in enumerate(BAD_CONTAINERS)]
)
def test_bad_container_inputs_name_the_argument(kwargs, message):
    arguments = {"activity": np.arange(24.0).reshape(2, 3, 4), **kwargs}
    with pytest.raises(ValueError, match=message):
        Dataset(**arguments)


def test_sample_layout_needs_one_row_per_sample():
    with pytest.raises(ValueError, match=r"conditions: expected one row per sample \(6\), got 3"):
        Dataset(np.arange(12.0).reshape(6, 2), conditions={"c": [1, 2, 3]})


# ---------------------------------------------------------------------------------------------
# xarray and files


def test_xarray_form_and_round_trip():
    ds = small_dataset()
    da = ds.to_xarray()
    assert da.dims == ("time", "condition", "unit") and da.name == "activity"
    assert da["label"].dims == ("condition",) and da["area"].dims == ("unit",)
    assert np.allclose(da["time"].values, 0.05 * np.arange(5))
    back = Dataset.from_xarray(da)
    assert back.equals(ds)
    assert Dataset.from_xarray(da.transpose("unit", "time", "condition")).equals(ds)  # any dimension order


def test_from_xarray_of_a_foreign_array():
    da = xr.DataArray(
        np.arange(24.0).reshape(3, 2, 4),
        dims=("condition", "time", "unit"),
        coords={"time": [-10.0, 0.0], "direction": ("condition", [0, 90, 180]), "region": ("unit", list("abab"))},
    )
    ds = Dataset.from_xarray(da)
    assert ds.shape == (2, 3, 4) and ds.dt == 10.0  # in the coordinate's own unit
    assert ds.conditions["direction"].tolist() == [0, 90, 180] and ds.units["region"].tolist() == list("abab")
    assert np.array_equal(ds.activity, da.transpose("time", "condition", "unit").values)
    with pytest.raises(ValueError, match=r"da: expected dimensions .* got \('t', 'c', 'n'\)"):
        Dataset.from_xarray(xr.DataArray(np.ones((2, 3, 4)), dims=("t", "c", "n")))
    with pytest.raises(ValueError, match="da: expected an xarray DataArray"):
        Dataset.from_xarray(np.ones((2, 3)))


def test_xarray_name_clash_raises():
    ds = Dataset(np.arange(24.0).reshape(2, 3, 4), conditions={"time": [1, 2, 3]})
    with pytest.raises(ValueError, match="conditions: column 'time' clashes"):
        ds.to_xarray()


@pytest.mark.parametrize("suffix", [".npz", ".nc"])
def test_save_load_round_trip_is_identical(tmp_path, suffix):
    datasets = [small_dataset(), Dataset(np.arange(12.0).reshape(6, 2)), ultrametric(n_units=16, branching=(2, 3))]
    for i, ds in enumerate(datasets):
        path = ds.save(tmp_path / f"data{i}{suffix}")
        back = read(path)
        assert back.equals(ds), (ds, back)
        if ds.conditions is not None:
            pd.testing.assert_frame_equal(back.conditions, ds.conditions)


def test_save_load_mante_like_round_trip(tmp_path, mante):
    for suffix in (".npz", ".nc"):
        assert read(mante.save(tmp_path / f"mante{suffix}")).equals(mante)


def test_saved_npz_needs_no_pickle(tmp_path):
    path = small_dataset().save(tmp_path / "d.npz")
    with np.load(path, allow_pickle=False) as archive:
        kinds = {name: archive[name].dtype.kind for name in archive.files}
    assert "O" not in kinds.values()
    assert {"activity", "conditions/label", "units/area"} <= set(kinds)


def test_netcdf3_integer_range_is_reported(tmp_path):
    wide = Dataset(np.arange(24.0).reshape(2, 3, 4), conditions={"id": np.array([1, 2, 2**40])})
    assert read(wide.save(tmp_path / "wide.npz")).equals(wide)
    try:
        wide.save(tmp_path / "wide.nc")
    except ValueError as err:  # netCDF3 writer (no netCDF4 installed)
        assert "conditions: column 'id': holds integers beyond the 32-bit range" in str(err)
    else:  # a netCDF4 writer stores int64
        assert read(tmp_path / "wide.nc").equals(wide)


def test_save_rejects_other_suffixes(tmp_path):
    with pytest.raises(ValueError, match="path: expected a .npz or .nc file name"):
        small_dataset().save(tmp_path / "d.pkl")


def test_read_plain_npz(tmp_path):
    path = tmp_path / "plain.npz"
    rates = np.random.default_rng(0).normal(size=(4, 3, 5))
    np.savez(path, rates=rates, direction=np.array([0.0, 120.0, 240.0]), depth=np.arange(5), kinematics=np.ones((4, 3)))
    ds = read(path, name="rates", conditions=["direction"], units=["depth"], dt=0.01)
    assert np.array_equal(ds.activity, rates) and ds.dt == 0.01
    assert ds.conditions["direction"].tolist() == [0.0, 120.0, 240.0] and ds.units["depth"].tolist() == list(range(5))
    assert ds.provenance == {"source": str(path), "array": "rates"}
    assert read(f"{path}:rates").equals(read(path, name="rates"))
    with pytest.raises(ValueError, match=r"plain.npz: holds several arrays \['rates', 'direction', 'depth', 'kin"):
        read(path)
    with pytest.raises(ValueError, match=r"plain.npz: has no array named 'spikes'; it holds \['rates'"):
        read(f"{path}:spikes")
    with pytest.raises(ValueError, match=r"plain.npz: array 'kinematics' has shape \(4, 3\); conditions columns"):
        read(path, name="rates", conditions=["kinematics"])
    with pytest.raises(ValueError, match="plain.npz: has no array named 'x' \\(asked for by conditions\\)"):
        read(path, name="rates", conditions=["x"])
    with pytest.raises(ValueError, match=r"plain.npz:rates: conditions: expected one row per condition \(3\), got 5"):
        read(path, name="rates", conditions=["depth"])
    single = tmp_path / "single.npz"
    np.savez(single, x=rates)
    assert read(single).shape == (4, 3, 5)


def test_read_plain_nc(tmp_path):
    path = tmp_path / "plain.nc"
    values = np.random.default_rng(0).normal(size=(6, 3))
    xr.Dataset(
        {"rates": (("sample", "unit"), values), "other": (("sample",), np.arange(6.0))},
        coords={"stimulus": ("sample", list("abcdef"))},
    ).to_netcdf(path)
    ds = read(f"{path}:rates")
    assert np.array_equal(ds.activity, values) and ds.conditions["stimulus"].tolist() == list("abcdef")
    with pytest.raises(ValueError, match=r"plain.nc: holds several variables \['rates', 'other'\]"):
        read(path)
    with pytest.raises(ValueError, match="plain.nc: conditions and units name arrays of a plain .npz file"):
        read(path, name="rates", conditions=["other"])


def test_read_errors(tmp_path, mante):
    with pytest.raises(FileNotFoundError, match="no such file"):
        read(tmp_path / "absent.npz")
    saved = small_dataset().save(tmp_path / "saved.npz")
    with pytest.raises(ValueError, match="saved.npz: is a saved repalign Dataset and restores its own conditions"):
        read(saved, conditions=["label"])
    with pytest.raises(ValueError, match="saved.npz: is a saved repalign Dataset, whose activity is 'activity'"):
        read(f"{saved}:units/area")


# ---------------------------------------------------------------------------------------------
# mante_like


def test_mante_like_shape_and_task_table(mante):
    assert mante.shape == (15, 72, 727) and mante.dt == pytest.approx(0.05)
    table = mante.conditions
    assert table.columns.tolist() == ["context", "motion", "colour", "choice", "motion_sign", "colour_sign"]
    assert len(table.drop_duplicates(["context", "motion", "colour"])) == 72
    assert sorted(set(table["context"])) == [-1, 1] and (table["context"] == 1).sum() == 36
    relevant = np.where(table["context"] == 1, table["motion"], table["colour"])
    assert np.array_equal(table["choice"], np.sign(relevant)) and set(table["choice"]) == {-1, 1}
    assert np.array_equal(table["motion_sign"], np.sign(table["motion"]))
    assert np.array_equal(table["colour_sign"], np.sign(table["colour"]))
    assert sorted(set(table["motion"])) == [-0.5, -0.15, -0.05, 0.05, 0.15, 0.5]
    assert mante.units.shape == (727, 5) and mante.provenance["parameters"]["seed"] == 0


def test_mante_like_is_reproducible_and_seeds_differ(mante):
    assert mante_like(seed=0).equals(mante)
    other = mante_like(seed=1)
    assert not np.allclose(other.activity, mante.activity)
    assert other.conditions.equals(mante.conditions)


def test_mante_like_signal_spectrum_is_exactly_a_power_law():
    ds = mante_like(n_units=150, n_time=6, noise=0.0, spectrum_exponent=1.5, seed=2, n_latents=40)
    variances = pc_variances(ds.activity) * (ds.n_samples - 1) / ds.n_samples  # population covariance
    expected = np.arange(1, 41) ** -1.5
    expected *= 150 / expected.sum()
    np.testing.assert_allclose(variances[:40], expected, rtol=1e-9)
    assert variances[40] < 1e-9 * variances[0]


def test_mante_like_spectrum_follows_the_power_law_with_noise(mante):
    exponent = fitted_exponent(pc_variances(mante.activity), n_pcs=50)
    assert exponent == pytest.approx(1.0, abs=0.1)
    steep = mante_like(n_units=300, noise=0.1, spectrum_exponent=2.0, seed=1)
    assert fitted_exponent(pc_variances(steep.activity), n_pcs=20) == pytest.approx(2.0, abs=0.1)


def decoding_accuracy(activity: np.ndarray, labels: np.ndarray, folds: int = 5) -> float:
    """The seed paper's decoder: logistic regression per time step, stratified K-fold across
    conditions, accuracy averaged over time.

    Each time step's centred (condition, unit) matrix is replaced by U·S from its SVD: the same
    Gram matrix, hence (L2 penalty on the weights only, which lie in the span of the samples)
    the same optimum and predictions, with 72 features instead of 727.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score

    scores = []
    for step in activity:
        step = step - step.mean(axis=0)
        u, s, _ = np.linalg.svd(step, full_matrices=False)
        cv = StratifiedKFold(folds, shuffle=True, random_state=0)
        scores.append(cross_val_score(LogisticRegression(max_iter=1000), u * s, labels, cv=cv).mean())
    return float(np.mean(scores))


def test_context_is_decodable_from_mante_like(mante):
    pytest.importorskip("sklearn")
    context = mante.conditions["context"].to_numpy()
    assert decoding_accuracy(mante.activity, context) > 0.8
    # the matched Gaussian keeps the spectrum but not the task: context at chance
    assert decoding_accuracy(gaussian_like(mante, seed=0).activity, context) < 0.7


# ---------------------------------------------------------------------------------------------
# gaussian_like


@pytest.mark.parametrize(
    "make",
    [lambda: mante_like(n_units=120, n_time=5, seed=3), lambda: np.random.default_rng(0).normal(size=(40, 60)) ** 3],
    ids=["mante_like", "array-more-units-than-samples"],
)
def test_gaussian_like_matches_the_pc_variances_exactly(make):
    reference = make()
    activity = reference.activity if isinstance(reference, Dataset) else reference
    matched = gaussian_like(reference, seed=4)
    assert matched.shape == activity.shape
    expected, found = pc_variances(activity), pc_variances(matched.activity)
    np.testing.assert_allclose(found, expected, rtol=1e-10, atol=1e-10 * expected[0])
    assert np.allclose(matched.activity.reshape(-1, activity.shape[-1]).mean(axis=0), 0.0, atol=1e-12)


def test_gaussian_like_is_seeded_keeps_the_table_and_is_a_new_basis():
    reference = mante_like(n_units=80, n_time=4, seed=0)
    a, b, c = gaussian_like(reference, seed=0), gaussian_like(reference, seed=0), gaussian_like(reference, seed=1)
    assert a.equals(b) and not np.allclose(a.activity, c.activity)
    assert a.conditions.equals(reference.conditions) and a.dt == reference.dt and a.units is None
    assert a.provenance["reference"] == reference.provenance
    # unit by unit, the matched data are unrelated to the reference
    x = reference.activity.reshape(-1, 80)
    y = a.activity.reshape(-1, 80)
    correlation = np.corrcoef(x.T, y.T)[:80, 80:]
    assert np.abs(np.diag(correlation)).mean() < 0.2


def test_gaussian_like_in_expectation():
    reference = mante_like(n_units=50, n_time=15, seed=0, n_latents=10, noise=0.1)
    sampled = gaussian_like(reference, seed=0, exact=False)
    expected, found = pc_variances(reference.activity), pc_variances(sampled.activity)
    np.testing.assert_allclose(found[:5], expected[:5], rtol=0.2)
    assert not np.allclose(found, expected, rtol=1e-6)


def test_gaussian_like_bad_inputs():
    with pytest.raises(ValueError, match="reference: contains 3 NaN"):
        gaussian_like(np.where(np.eye(4, 3) > 0.5, np.nan, 1.0) + np.arange(3))
    with pytest.raises(ValueError, match="seed: expected a non-negative integer"):
        gaussian_like(np.random.default_rng(0).normal(size=(5, 3)), seed=-1)
    with pytest.raises(ValueError, match="exact: expected True or False"):
        gaussian_like(np.random.default_rng(0).normal(size=(5, 3)), exact="yes")


# ---------------------------------------------------------------------------------------------
# two_pc


@pytest.mark.parametrize("ratio", [1.0, 0.5, 0.1, 0.01])
@pytest.mark.parametrize("seed", [None, 7])
def test_two_pc_variance_ratio_is_exact(ratio, seed):
    ds = two_pc(ratio, seed=seed)
    assert ds.shape == (10, 6, 2)
    low, high = pc_variances(ds.activity)[::-1]
    assert low / high == pytest.approx(ratio, rel=1e-12)
    # the first PC keeps the figure's variance whatever the ratio
    assert high == pytest.approx(pc_variances(two_pc().activity)[0], rel=1e-12)


def test_two_pc_reproduces_figure_4a():
    ds = two_pc()
    assert ds.provenance["variance_ratio"] == pytest.approx(0.089, abs=0.001)
    assert ds.conditions["choice"].tolist() == [-1, -1, -1, 1, 1, 1]
    assert ds.conditions["motion"].tolist() == [-1, -2, -3, 1, 2, 3]
    # conditions of opposite choice are the same curves turned by pi; the stretch grows with the strength
    assert np.allclose(ds.activity[:, :3], -ds.activity[:, 3:])
    first = np.array([0.01, 0.01])
    assert np.allclose(ds.activity[0, 0], first)  # ratio None: the figure itself
    assert np.array_equal(two_pc().activity, ds.activity)  # no seed: deterministic
    assert not np.allclose(two_pc(seed=1).activity, two_pc(seed=2).activity)
    assert np.array_equal(two_pc(seed=1).activity, two_pc(seed=1).activity)


@pytest.mark.parametrize("ratio", [0, -0.5, 1.5, float("nan"), "0.5", True])
def test_two_pc_bad_ratio(ratio):
    with pytest.raises(ValueError, match="variance_ratio"):
        two_pc(ratio)


# ---------------------------------------------------------------------------------------------
# ultrametric


def test_ultrametric_structure_and_labels():
    ds = ultrametric(seed=0)
    assert ds.layout == "sample,unit" and ds.shape == (100, 50)
    assert set(np.unique(ds.activity)) == {0.0, 1.0}
    table = ds.conditions
    assert table.columns.tolist() == ["level_1", "level_2", "level_3", "category"]
    assert table["level_1"].tolist() == [0] * 50 + [1] * 50
    assert table["category"].tolist() == list(np.repeat(np.arange(10), 10))
    assert table["level_3"].tolist() == list(range(100))
    assert ultrametric(seed=0).equals(ds) and not np.array_equal(ultrametric(seed=1).activity, ds.activity)


def test_ultrametric_distances_follow_the_tree():
    gamma, n_units = 0.8, 4000
    ds = ultrametric(n_units=n_units, branching=(2, 2, 2), inherit_probability=gamma, seed=0)
    bits = ds.activity
    parent, grandparent = ds.conditions["level_2"].to_numpy(), ds.conditions["level_1"].to_numpy()

    def levels_to_common_ancestor(i, j):
        return 1 if parent[i] == parent[j] else 2 if grandparent[i] == grandparent[j] else 3

    mean_distance = {}
    for k in (1, 2, 3):
        pairs = [(i, j) for i in range(8) for j in range(i + 1, 8) if levels_to_common_ancestor(i, j) == k]
        mean_distance[k] = np.mean([np.abs(bits[i] - bits[j]).sum() for i, j in pairs])
        assert mean_distance[k] == pytest.approx(n_units * (1 - gamma ** (2 * k)) / 2, rel=0.06)
    assert mean_distance[1] < mean_distance[2] < mean_distance[3]


BAD_GENERATOR_CALLS = [
    (lambda: mante_like(n_units=4), "n_units"),
    (lambda: mante_like(n_units=10.5), "n_units"),
    (lambda: mante_like(n_time=1), "n_time"),
    (lambda: mante_like(noise=-1.0), "noise"),
    (lambda: mante_like(spectrum_exponent=float("inf")), "spectrum_exponent"),
    (lambda: mante_like(seed=-3), "seed"),
    (lambda: mante_like(seed=1.5), "seed"),
    (lambda: mante_like(n_units=20, n_latents=30), "n_latents"),
    (lambda: mante_like(n_latents=3), "n_latents"),
    (lambda: two_pc(0.5, seed="a"), "seed"),
    (lambda: ultrametric(n_units=0), "n_units"),
    (lambda: ultrametric(branching=()), "branching"),
    (lambda: ultrametric(branching=(1, 1)), "branching"),
    (lambda: ultrametric(branching=(2, 0)), "branching"),
    (lambda: ultrametric(branching="23"), "branching"),
    (lambda: ultrametric(inherit_probability=1.0), "inherit_probability"),
    (lambda: ultrametric(seed=None), "seed"),
]


@pytest.mark.parametrize(
    "call, argument", BAD_GENERATOR_CALLS, ids=[f"{a}{i}" for i, (_, a) in enumerate(BAD_GENERATOR_CALLS)]
)
def test_bad_generator_arguments_name_the_argument(call, argument):
    with pytest.raises(ValueError, match=f"^{argument}: "):
        call()


def test_small_mante_like_keeps_the_task_latents():
    ds = mante_like(n_units=6, n_time=3, seed=0)  # fewer latents than the default task ranks
    assert ds.shape == (3, 72, 6)
    assert sorted(ds.provenance["task_latent_pc_ranks"].values()) == [1, 2, 3, 4, 5]


# ---------------------------------------------------------------------------------------------
# the real M1 recording (read from ../shared/data; skipped when absent)


def test_load_m1_reports_the_searched_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="absent.npz"):
        load_m1(tmp_path / "absent.npz")


def test_load_m1():
    try:
        ds = load_m1()
    except FileNotFoundError as missing:
        pytest.skip(f"real M1 recording not available: {missing}")
    assert ds.shape == (121, 8, 141) and ds.dt == pytest.approx(0.01)
    assert ds.conditions["reach_direction_deg"].tolist() == [0, 45, 90, 135, 180, 225, 270, 315]
    assert ds.provenance["time_ms_first"] == -800.0 and Path(ds.provenance["source"]).name == "hatsopoulos2007_m1.npz"

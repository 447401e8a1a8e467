"""One result convention: every analysis result has .table, .plot(), .save(path) and .record(), and a
Record survives its file exactly."""

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import assert_same_values

import repalign
from repalign import analyses, baselines, encoding, joint, matching, perturbation, rotation
from repalign.data import mante_like, sparse_factor_population
from repalign.results import Record, Result, json_safe, save_figure
from repalign.trackers import Decoding, PCCapture


def test_a_record_round_trips_through_its_file(tmp_path):
    table = pd.DataFrame({
        "measure": ["cka", "nbs", "cka"], "value": [0.5, np.nan, 1.0], "step": np.array([1, 2, 3], dtype=np.int64),
        "reached": pd.array([4, None, 6], dtype="Int64"), "error": ["", None, "too few samples"],
        "stopped": [True, False, True],
    })
    record = Record("test", {"ks": range(3), "lr": np.float32(0.5), "path": Path("a/b"), "nested": {"x": (1, 2)}},
                    {"table": table, "other": table.iloc[:1]}, {"Y": np.arange(6.0).reshape(2, 3)}, files=["f.png"])
    assert record.settings == {"ks": [0, 1, 2], "lr": 0.5, "path": "a/b", "nested": {"x": [1, 2]}}
    assert set(record.versions) == {"repalign", "python", "numpy", "torch"}
    path = record.save(tmp_path / "deep" / "record.npz")
    assert not list(tmp_path.rglob("*.tmp"))  # written under a temporary name, then renamed
    back = Record.load(path)
    assert back.kind == "test" and back.settings == record.settings and back.versions == record.versions
    assert back.files == ("f.png",) and np.array_equal(back.arrays["Y"], record.arrays["Y"])
    for name in ("table", "other"):
        pd.testing.assert_frame_equal(back.tables[name], record.tables[name])  # values and dtypes
    assert back.table is back.tables["table"]
    json.dumps(record.to_dict())  # JSON values only
    with np.load(path, allow_pickle=False) as archive:  # no pickle anywhere
        assert all(archive[key].dtype != object for key in archive.files)


def test_record_errors(tmp_path):
    with pytest.raises(ValueError, match="path: a record is saved as .npz"):
        Record("k", {}).save(tmp_path / "r.pkl")
    np.savez(tmp_path / "plain.npz", x=np.zeros(2))
    with pytest.raises(ValueError, match="not a repalign record"):
        Record.load(tmp_path / "plain.npz")
    with pytest.raises(ValueError, match="holds no table"):
        Record("k", {}).table  # noqa: B018
    with pytest.raises(ValueError, match="object"):  # would need pickle to be read back
        Record("k", {}, arrays={"a": np.array([{"x": 1}], dtype=object)}).save(tmp_path / "o.npz")


def test_a_record_writes_nan_settings_as_null(tmp_path):
    """Settings are strict JSON: NaN (no JSON literal) is written as null, and reads back as None."""
    record = Record("k", {"alpha": float("nan"), "values": [1.0, np.nan]})
    path = record.save(tmp_path / "r.npz")
    assert Record.load(path).settings == {"alpha": None, "values": [1.0, None]}


def test_json_safe_keeps_the_text_of_objects():
    assert json_safe({"m": repalign.measure("cka"), "t": (1, np.int64(2))}) == {
        "m": "Measure('cka-kernel=linear-hsic=gretton-score')", "t": [1, 2]}


def test_save_figure_keeps_dots_and_drops_figure_suffixes(tmp_path):
    import matplotlib.pyplot as plt

    for name in ("fig_s0.5", "fig.png"):
        _, ax = plt.subplots()
        written = save_figure(ax, pd.DataFrame({"a": [1]}), tmp_path / name)
        stem = name.removesuffix(".png")
        assert written == [str(tmp_path / f"{stem}{s}") for s in (".png", ".pdf", ".csv")]
        assert all(Path(p).stat().st_size > 0 for p in written)


# -- every result type ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small():
    return mante_like(n_units=16, n_time=3, seed=0)


@pytest.fixture(scope="module")
def population():
    return sparse_factor_population(n_stimuli=120, n_factors=5, n_signal=8, n_noise_x=2, n_noise_y=3, seed=0)


def _optimization(small, population=None):
    return repalign.optimize(small, "cka", max_steps=6, record_every=2, trackers=[PCCapture(small, n_pcs=2)])


RESULTS = {
    "optimization": _optimization,
    "joint": lambda s, p: joint.joint_optimize(s, ("cka", "angular-procrustes"), targets=[[0.5, 0.5]], max_steps=3),
    "perturbation": lambda s, p: perturbation.perturb_pcs(s, measures=("cka",), ks=[0, 1]),
    "neuron_split": lambda s, p: baselines.neuron_split(s, "cka", n_splits=2),
    "baselines": lambda s, p: baselines.baseline_scores(s, ["cka"], n_splits=2),
    "pc_capture": lambda s, p: analyses.capture_thresholds(_optimization(s), [0.6, 0.3]),
    "decoding_thresholds": lambda s, p: analyses.decoding_thresholds(
        repalign.optimize(s, "cka", max_steps=4, record_every=2, trackers=[Decoding(s, "context", folds=2)]),
        {"decode_context": 1.0}, 0.5),
    "topk_decoding": lambda s, p: analyses.topk_decoding(s, Decoding(s, "context", folds=2), ks=[1, 2]),
    "variance_sweep": lambda s, p: analyses.variance_sweep((1.0,), ("cka",), max_steps=4, progress=False),
    "soft_matching": lambda s, p: matching.soft_matching(p.X, p.Y),
    "partial_soft_matching": lambda s, p: matching.partial_soft_matching(p.X, p.Y, mass=0.5),
    "ranking": lambda s, p: matching.entry_ranking(p.X, p.Y, masses=np.linspace(0.2, 1, 5)),
    "lcurve": lambda s, p: matching.lcurve(p.X, p.Y, masses=np.linspace(0.2, 1, 5)),
    "rotation_curve": lambda s, p: rotation.rotation_curve(p.X, p.Y, alphas=[0, 1], measure="cka"),
    "privileged_axes": lambda s, p: rotation.privileged_axes_test(p.X, p.Y, measure="cka", n_rotations=2),
    "encoding": lambda s, p: encoding.fit_encoding(p.X, p.Y[:, :2], model="ols"),
    "encoding_comparison": lambda s, p: encoding.compare(p.X, p.X[:, ::-1], p.Y[:, :2], models=("ols",), alpha=0.1),
}


@pytest.mark.parametrize("kind", sorted(RESULTS))
def test_every_result_has_a_table_a_figure_files_and_a_record(kind, small, population, tmp_path):
    import matplotlib.pyplot as plt

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a 5-point L-curve may have no elbow
        result = RESULTS[kind](small, population)
    assert isinstance(result, Result) and result.record_kind == kind
    assert isinstance(result.table, pd.DataFrame) and len(result.table) > 0
    ax = result.plot()
    assert hasattr(ax, "figure")
    plt.close("all")
    written = result.save(tmp_path / kind)
    assert [Path(p).suffix for p in written] == [".png", ".pdf", ".csv"] and all(Path(p).exists() for p in written)
    assert_same_values(pd.read_csv(written[2]), result.table)
    record = result.record()
    assert record.kind == kind
    back = Record.load(record.save(tmp_path / f"{kind}.npz"))
    assert back.settings == record.settings and set(back.tables) == set(record.tables)
    assert all(np.array_equal(back.arrays[k], record.arrays[k]) for k in record.arrays)
    for name, table in record.tables.items():
        assert_same_values(back.tables[name], table)
        assert list(back.tables[name].columns) == list(table.columns)



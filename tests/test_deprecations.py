"""The names of repalign 0.1 renamed in 0.2 still work until 0.3, with a DeprecationWarning (CHANGELOG.md)."""

import importlib
import sys

import numpy as np
import pandas as pd
import pytest

import repalign
from repalign import analyses, baselines, perturbation
from repalign.data import mante_like


@pytest.fixture
def fresh_import():
    """Import a deprecated module afresh (its warning fires on import) with an import statement."""
    def load(name):
        sys.modules.pop(name, None)
        with pytest.warns(DeprecationWarning, match=f"{name} is deprecated") as caught:
            exec(compile(f"import {name}", __file__, "exec"), {})  # noqa: S102 -- an import statement "here"
        assert caught[0].filename == __file__  # shown at the importer's line, not inside repalign
        return sys.modules[name]
    return load


def test_the_catalogue_listing_function():
    with pytest.warns(DeprecationWarning, match=r"repalign.measures\(pattern\) is deprecated.*catalogue") as caught:
        listed = repalign.measures("cka-*")
    assert caught[0].filename == __file__
    assert listed == repalign.catalogue("cka-*")
    with pytest.warns(DeprecationWarning, match="registry.measures"):
        assert repalign.registry.measures("cka-*") == listed
    importlib.import_module("repalign.measures.cka")  # and the package is still a package

    assert repalign.measures.FAMILIES["cka"].name == "cka"


def test_the_datasets_module(fresh_import, tmp_path):
    datasets = fresh_import("repalign.datasets")
    assert datasets.mante_like is repalign.data.mante_like and datasets.Dataset is repalign.data.Dataset
    path = mante_like(n_units=10, n_time=2, seed=0).save(tmp_path / "d.npz")
    np.savez(tmp_path / "plain.npz", rates=np.ones((3, 2)) * [[1.0], [2.0], [3.0]], other=np.zeros(3))
    with pytest.warns(DeprecationWarning, match="datasets.load is deprecated"):
        assert datasets.load(path).equals(repalign.read(path))
    with pytest.warns(DeprecationWarning):
        assert datasets.load(tmp_path / "plain.npz", "rates").shape == (3, 2)


def test_the_generators_and_io_modules(fresh_import, tmp_path):
    generators = fresh_import("repalign.generators")
    assert generators.sparse_factor_population is repalign.data.sparse_factor_population
    io = fresh_import("repalign.io")
    np.save(tmp_path / "x.npy", np.arange(6.0).reshape(3, 2))
    np.save(tmp_path / "labels.npy", np.array([1, -1, 1]))
    with pytest.warns(DeprecationWarning, match="load_array is deprecated"):
        assert np.array_equal(io.load_array(str(tmp_path / "x.npy")), np.arange(6.0).reshape(3, 2))
    with pytest.warns(DeprecationWarning):  # as in 0.1: the array as stored (1-D, integers)
        labels = io.load_array(str(tmp_path / "labels.npy"))
    assert labels.dtype.kind == "i" and labels.tolist() == [1, -1, 1]
    with pytest.warns(DeprecationWarning):
        assert io.split_path_key("a.npz:b")[1] == "b"


@pytest.fixture(scope="module")
def X():
    return np.random.default_rng(0).normal(size=(80, 5)) * [4, 2, 1, 0.5, 0.25]


def test_perturbation_functions(X, tmp_path):
    new = perturbation.perturb_pcs(X, measures=("cka",), ks=[0, 1])
    with pytest.warns(DeprecationWarning, match="perturbation_table is deprecated"):
        old = perturbation.perturbation_table(X, measures=("cka",), ks=[0, 1])
    pd.testing.assert_frame_equal(old, new.table)
    with pytest.warns(DeprecationWarning, match="plot_perturbation is deprecated"):
        perturbation.plot_perturbation(old)
    with pytest.warns(DeprecationWarning, match="perturbation.save is deprecated"):
        written = perturbation.save(old, tmp_path / "pert_s0.5")  # 0.1 wrote pert_s0.png here
    assert written[0].endswith("pert_s0.5.png")
    with pytest.raises(ValueError, match="table: expected a perturbation table"), pytest.warns(DeprecationWarning):
        perturbation.plot_perturbation(pd.DataFrame({"k": [0]}))


def test_baseline_functions(tmp_path):
    ds = mante_like(n_units=12, n_time=3, seed=0)
    new = baselines.baseline_scores(ds, ["cka"], n_splits=2)
    with pytest.warns(DeprecationWarning, match="baseline_table is deprecated"):
        old = baselines.baseline_table(ds, ["cka"], n_splits=2)
    pd.testing.assert_frame_equal(old, new.table)
    with pytest.warns(DeprecationWarning, match="plot_baselines is deprecated"):
        baselines.plot_baselines(old)
    with pytest.warns(DeprecationWarning, match="baselines.save is deprecated"):
        assert baselines.save(new, tmp_path / "b")[2].endswith("b.csv")


def test_analysis_functions_and_results_standing_in_for_dataframes(tmp_path):
    frame = pd.DataFrame({"run": 0, "measure": "m", "seed": 0, "step": np.arange(5),
                          "value": np.linspace(0.1, 0.9, 5), "pc1_r2": [0.1, 0.4, 0.8, 0.9, 1.0],
                          "pc2_r2": [0.1, 0.1, 0.2, 0.5, 0.9], "decode_context": [0.5, 0.5, 0.7, 0.9, 1.0]})
    result = analyses.capture_thresholds(frame, [0.8, 0.2])
    with pytest.warns(DeprecationWarning, match="on a CaptureThresholds, a result object since repalign 0.2"):
        assert result.value.tolist() == result.table.value.tolist()  # DataFrame attribute
    with pytest.warns(DeprecationWarning):
        assert result["pc"].tolist() == [1, 2]  # DataFrame indexing
    with pytest.warns(DeprecationWarning):
        assert len(result) == 2
    with pytest.raises(AttributeError):
        result.no_such_column  # noqa: B018
    deprecated = {
        "plot_pc_capture": lambda: analyses.plot_pc_capture(result),
        "plot_capture_curves": lambda: analyses.plot_capture_curves(frame),
        "plot_decoding": lambda: analyses.plot_decoding(frame, analyses.decoding_thresholds(frame, 1.0, 0.5)),
        "plot_topk_decoding": lambda: analyses.plot_topk_decoding(pd.DataFrame(
            {"k": [1, 2], "variable": "v", "accuracy": [0.6, 0.9], "reference_accuracy": 1.0, "chance": 0.5})),
        "plot_variance_sweep": lambda: analyses.plot_variance_sweep(frame.assign(ratio=0.5)),
        "sweep_thresholds": lambda: analyses.sweep_thresholds(frame.assign(ratio=0.5)),
        "label": lambda: analyses.label("cka-kernel=linear-hsic=gretton-score"),
        "save": lambda: analyses.save(result.plot(), result.table, tmp_path / "c"),
    }
    for name, call in deprecated.items():
        with pytest.warns(DeprecationWarning, match=f"analyses.{name} is deprecated"):
            call()
    with pytest.warns(DeprecationWarning):
        assert analyses.label("cka-kernel=linear-hsic=gretton-score") == "cka"
    with pytest.warns(DeprecationWarning):
        assert analyses.sweep_thresholds(frame.assign(ratio=0.5)).ratio.tolist() == [0.5, 0.5]


def test_attribute_access_to_the_module_aliases_warns_at_the_callers_line():
    for name in ("datasets", "generators", "io"):
        sys.modules.pop(f"repalign.{name}", None)
        vars(repalign).pop(name, None)
        with pytest.warns(DeprecationWarning, match=f"repalign.{name} is deprecated") as caught:
            getattr(repalign, name)
        assert caught[-1].filename == __file__
    assert "datasets" not in dir(repalign) and "data" in dir(repalign)


def test_the_library_itself_uses_no_deprecated_name():
    """pyproject.toml turns a DeprecationWarning raised from repalign's own code into an error; check the
    filter is in force (a library call to a deprecated alias would fail every test that reaches it)."""
    import warnings

    filters = [f for f in warnings.filters if f[0] == "error" and f[2] is DeprecationWarning]
    assert any(f[3] is not None and f[3].pattern == "repalign" for f in filters)


def test_the_final_score_of_an_optimization():
    result = repalign.optimize(np.random.default_rng(0).normal(size=(20, 3)), "procrustes", max_steps=2)
    with pytest.warns(DeprecationWarning, match="final_score is deprecated.*final_value"):
        assert np.array_equal(result.final_score, result.final_value)

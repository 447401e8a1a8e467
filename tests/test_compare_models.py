"""The compare_models experiment, `repalign compare-models` and `repalign compare --ci --null`.

Small sizes: toy networks trained a few steps (short of criterion, which is not the point here), few
resamples. Values are checked against direct calls of repalign.statistics and of the measures.
"""

import json
import math
import warnings
from pathlib import Path

import numpy as np
import pytest

import repalign
from repalign import experiments, statistics
from repalign._checks import SettingsError
from repalign.cli import main
from repalign.data import Dataset, mante_like
from repalign.experiments import compare_models as experiment

pytestmark = pytest.mark.usefixtures("single_threaded")  # see conftest.py

TINY = {"architectures": ["CTRNN-Tanh", "LSTM-Tanh"], "seeds": [0], "max_steps": 2, "hidden_size": 6, "units": 20,
        "repeats": 1, "measures": ["cka", "angular-procrustes"], "n_resamples": 20, "n_permutations": 10,
        "n_splits": 2}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("compare_models")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # 2 training steps: short of criterion
        record = experiments.run("compare_models", {"task": "mante", **TINY}, out=out)
    return out, record


def test_trained_zoo_is_recorded_compared_and_written(trained):
    out, record = trained
    assert record.kind == "experiments.compare_models"
    assert set(record.tables) == {"networks", "table", "baselines", "above", "agreement"}
    written = {str(Path(f).relative_to(out)) for f in record.files}
    assert {"comparison.png", "comparison.pdf", "comparison.csv", "comparison_agreement.png",
            "comparison_baselines.csv", "comparison_above.csv", "summary.md", "zoo/CTRNN-Tanh.npz",
            "zoo/LSTM-Tanh.npz"} <= written
    table = record.table
    assert table.model.tolist() == ["CTRNN-Tanh s0", "LSTM-Tanh s0"] * 2 and table.seed.tolist() == [0] * 4
    # the estimates are the measures on the saved recordings' equivalent: the zoo re-recorded from its files
    reference = mante_like(n_units=20, seed=0)
    networks = experiment.load_zoo(out / "zoo")
    recordings = experiment.record_zoo(networks, repalign.tasks.ManteTask(), reference, repeats=1, seed=0)
    for row in table.itertuples():
        key = (tuple(row.architecture.split("-")), row.seed)
        assert math.isclose(row.estimate, repalign.measure(row.measure)(reference, recordings[key]), rel_tol=1e-9)
    summary = (out / "summary.md").read_text()
    assert summary.startswith("### mante: 2 networks against mante_like") and "Kendall τ_b" in summary
    assert record.settings["verdict"]["n_models"] == 2


def test_a_saved_zoo_is_loaded_and_gives_the_same_table(trained, tmp_path):
    out, record = trained
    again = experiments.run("compare_models", {"task": "mante", "zoo": str(out / "zoo"), **TINY}, out=tmp_path)
    assert "networks" not in again.tables
    assert np.allclose(again.table.estimate, record.table.estimate, rtol=1e-12)
    assert np.allclose(again.table[["low", "high", "chance", "p_value"]], record.table[["low", "high", "chance",
                                                                                       "p_value"]], rtol=1e-12)


def test_settings_errors_name_the_field(tmp_path):
    with pytest.raises(SettingsError, match="^zoo: no such folder"):
        experiment.Settings(zoo=str(tmp_path / "absent"))
    with pytest.raises(SettingsError, match="^task:"):
        experiment.Settings(task="flying")
    with pytest.raises(SettingsError, match="^architectures:"):
        experiment.Settings(architectures=["CTRNN-Sine"])
    with pytest.raises(SettingsError, match="^n_resamples:"):
        experiment.Settings(n_resamples=1)
    with pytest.raises(SettingsError, match="^confidence_level:"):
        experiment.Settings(confidence_level=0)
    with pytest.raises(SettingsError, match="^zoo: no networks"):
        experiment.load_zoo(tmp_path)


def test_a_reference_without_the_tasks_conditions_is_refused():
    reference = Dataset(np.random.default_rng(0).normal(size=(15, 72, 5)))
    with pytest.raises(SettingsError, match="^reference: has no conditions table"):
        experiment.record_zoo([], repalign.tasks.ManteTask(), reference)


@pytest.mark.slow
def test_reaching_zoo_against_the_m1_recording(tmp_path):
    try:
        m1 = repalign.data.load_m1()
    except repalign.data.MissingFileError:
        pytest.skip("the M1 recording is not in ../shared/data")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        record = experiments.run("compare_models", {"task": "reaching", **TINY}, out=tmp_path)
    assert record.settings["verdict"]["n_models"] == 2
    baselines = record.tables["baselines"]
    assert set(baselines.baseline) == {"condition_average", "neuron_split"}
    assert (tmp_path / "summary.md").read_text().startswith("### reaching: 2 networks against the M1 recording")
    assert record.settings["reference"] is None and m1.shape[1] == 8


def test_cli_compare_models_prints_tables_and_writes_files(trained, tmp_path, capsys):
    out, _ = trained
    code = main(["compare-models", "--task", "mante", "--zoo", str(out / "zoo"), "--units", "20", "-m", "cka",
                 "-m", "angular-procrustes", "--resamples", "20", "--permutations", "10", "--splits", "2",
                 "--out", str(tmp_path)])
    assert code == 0
    text = capsys.readouterr().out
    assert max(len(line) for line in text.splitlines()) <= 100
    assert "CTRNN-Tanh s0" in text and "condition_average" in text and "ranking: " in text
    assert "wrote" in text and (tmp_path / "summary.md").exists() and (tmp_path / "comparison.png").exists()


def test_cli_compare_models_errors_are_one_line(tmp_path, capsys):
    assert main(["compare-models", "--zoo", str(tmp_path / "absent"), "--out", str(tmp_path)]) == 2
    assert capsys.readouterr().err.strip().startswith("error: --zoo: no such folder")
    assert main(["compare-models", "--resamples", "1", "--out", str(tmp_path)]) == 2
    assert "error: --resamples: expected an integer >= 2" in capsys.readouterr().err


@pytest.fixture
def pair_files(tmp_path):
    rng = np.random.default_rng(0)
    z = rng.normal(size=(5, 24, 3))
    x = z @ rng.normal(size=(3, 12)) + 0.5 * rng.normal(size=(5, 24, 12))
    y = z @ rng.normal(size=(3, 8)) + 0.5 * rng.normal(size=(5, 24, 8))
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    return tmp_path, x, y


def test_cli_compare_ci_and_null_match_statistics_score(pair_files, capsys):
    path, x, y = pair_files
    args = ["compare", str(path / "x.npy"), str(path / "y.npy"), "-m", "cka", "-m", "ridge-cv", "--ci", "--null",
            "--resamples", "40", "--permutations", "30", "--seed", "5", "--confidence-level", "0.9"]
    assert main([*args, "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    for row in rows:
        expected = statistics.score(row["measure"], x, y, n_resamples=40, n_permutations=30, seed=5,
                                    confidence_level=0.9).table.iloc[0]
        for column in ("standard_error", "low", "high", "chance", "p_value"):
            assert row[column] == pytest.approx(expected[column], rel=1e-12), column
        assert row["value"] == pytest.approx(repalign.measure(row["measure"])(x, y), rel=1e-12)
    assert main([*args[:3], "-m", "cka", "--ci", "--method", "bca", "--resamples", "40", "--json"]) == 0
    row = json.loads(capsys.readouterr().out)[0]
    expected = statistics.bootstrap("cka", x, y, n_resamples=40, method="bca").interval
    assert [row["low"], row["high"]] == pytest.approx(list(expected), rel=1e-12)
    assert main([*args[:3], "-m", "cka", "--ci", "--sampling", "replacement", "--resamples", "40", "--json"]) == 0
    row = json.loads(capsys.readouterr().out)[0]
    expected = statistics.bootstrap("cka", x, y, n_resamples=40, sampling="replacement").interval
    assert [row["low"], row["high"]] == pytest.approx(list(expected), rel=1e-12)
    assert main(args) == 0
    header = capsys.readouterr().out.splitlines()[0].split()
    assert header == ["measure", "name", "kind", "value", "interval", "chance", "p"]


def test_cli_compare_without_statistics_is_unchanged_and_bad_counts_refused(pair_files, capsys):
    path, x, y = pair_files
    assert main(["compare", str(path / "x.npy"), str(path / "y.npy"), "-m", "cka", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert set(rows[0]) == {"measure", "name", "kind", "value", "error", "seconds"}
    assert main(["compare", str(path / "x.npy"), str(path / "y.npy"), "--null", "--permutations", "0"]) == 2
    assert "error: --permutations: expected an integer >= 1" in capsys.readouterr().err

"""Experiments: a settings object and an output folder in, a record out; the command line and the demo
are built on them."""

import json
import re
from pathlib import Path

import numpy as np
import pytest

import repalign
from repalign import experiments
from repalign._checks import SettingsError
from repalign.cli.app import option_of
from repalign.data import Dataset, mante_like
from repalign.experiments import optimize as optimize_experiment
from repalign.results import Record


@pytest.fixture(scope="module")
def small():
    return mante_like(n_units=20, n_time=3, seed=0)


@pytest.mark.parametrize("name, fields, argument, message", [
    ("compare", {"x": 3, "y": "y.npy"}, "x", "expected a file path PATH[:NAME] or a repalign Dataset"),
    ("compare", {"x": "x.npy", "y": "y.npy", "measures": ["ckaa"]}, "measures", "unknown measure 'ckaa'"),
    ("compare", {"x": "x.npy", "y": "y.npy", "measures": ["cka", "cka-kernel=linear-hsic=gretton-score"]}, "measures",
     "each measure may appear once"),
    ("match", {"x": "x.npy", "y": "y.npy", "partial": True}, "mass", "partial matching needs the transported mass"),
    ("match", {"x": "x.npy", "y": "y.npy", "points": 2, "lcurve": True}, "points", "expected an integer >= 3"),
    ("optimize", {"data": "d.npz", "measures": ["rsa"]}, "measures", "not differentiable"),
    ("optimize", {"data": "d.npz", "lr": 0}, "lr", "expected a positive number"),
    ("optimize", {"data": "d.npz", "lr": {"cka": 0.1}}, "lr", "one value per measure"),
    ("optimize", {"data": "d.npz", "pcs": -1}, "pcs", "expected an integer >= 0"),
    ("optimize", {"data": "d.npz", "matched_gaussian": ["cka"], "measures": ["nbs"]}, "matched_gaussian",
     "not among the measures"),
    ("optimize", {"data": "d.npz", "stop_at": {"cka": 0.9, "nbs": 0.8}, "measures": ["cka", "nbs"],
                  "checkpoint": "c.pt"}, "checkpoint", "a checkpoint holds one loop"),
    ("perturb", {"data": "d.npz", "measures": ["not-a-measure"]}, "measures", "not-a-measure"),
    ("perturb", {"data": "d.npz", "mode": "shuffle"}, "mode", "expected one of ['orthogonal', 'resample']"),
    ("joint", {"data": "d.npz", "measures": ["cka"]}, "measures", "at least 2 measure"),
    ("joint", {"data": "d.npz", "measures": ["cka", "procrustes"]}, "measures",
     "'procrustes' is not a differentiable score"),
    ("baselines", {"data": "d.npz", "splits": 0}, "splits", "expected an integer >= 1"),
    ("demo", {"units": 2}, "units", "expected an integer >= 5"),
    ("variance_sweep", {"ratios": [0.5, 0.5]}, "ratios", "each of the variance ratios may appear once"),
    ("variance_sweep", {"ratios": [1.5]}, "ratios", "expected a number in (0, 1]"),
    ("topk_decoding", {"data": "d.npz", "ks": [0]}, "ks", "expected an integer >= 1"),
])
def test_settings_are_checked_on_construction_and_name_the_field(name, fields, argument, message):
    with pytest.raises(SettingsError, match=re.escape(message)) as error:
        experiments.settings_class(name)(**fields)
    assert error.value.argument == argument and str(error.value).startswith(f"{argument}: ")


def test_the_command_line_names_its_options():
    assert option_of("measures") == "--measure" and option_of("record_every") == "--record-every"
    assert option_of("x") == "X" and option_of("lcurve_name") == "--plot"


def test_unknown_experiment_and_settings_type():
    with pytest.raises(SettingsError, match="unknown experiment 'sweep'"):
        experiments.run("sweep", {})
    with pytest.raises(SettingsError, match=re.escape(
            "compare has no setting(s) ['bogus']; its settings are ['ci', 'confidence_level', 'measures', 'method', "
            "'n_permutations', 'n_resamples', 'null', 'sampling', 'seed', 'x', 'y']")) as error:
        experiments.run("compare", {"x": "x.npy", "y": "y.npy", "bogus": 1})
    assert error.value.argument == "settings"
    with pytest.raises(SettingsError, match="expected perturb's Settings or a mapping"):
        experiments.run("perturb", experiments.settings_class("baselines")(data="d.npz"))


def test_every_experiment_writes_its_files_and_returns_its_record(small, tmp_path):
    path = small.save(tmp_path / "small.npz")
    runs = {
        "compare": {"x": str(path), "y": small, "measures": ["cka", "linreg"]},
        "match": {"x": small, "y": small, "lcurve": True, "points": 5},
        "perturb": {"data": str(path), "pcs": 2, "measures": ["cka"]},
        "joint": {"data": small, "grid": 2, "steps": 3},
        "baselines": {"data": small, "measures": ["cka"], "splits": 2},
        "optimize": {"data": str(path), "measures": ["cka"], "steps": 5, "pcs": 2, "decode": ["context"]},
        "topk_decoding": {"data": str(path), "decode": "context", "ks": [1, 2]},
        "variance_sweep": {"ratios": [1.0, 0.5], "measures": ["cka"], "steps": 20},
    }
    # train: tests/test_train_experiment.py; compare_models: tests/test_compare_models.py
    assert set(runs) | {"demo", "train", "compare_models"} == set(experiments.NAMES)
    for name, fields in runs.items():
        out = tmp_path / name
        with pytest.warns(RuntimeWarning) if name == "match" else _quiet():  # 5 points: no clear elbow
            record = experiments.run(name, fields, out=out)
        assert isinstance(record, Record) and record.kind == f"experiments.{name}"
        assert record.files and all(Path(f).exists() and Path(f).parent == out for f in record.files), name
        json.dumps(record.to_dict())
        if name == "compare":
            assert record.settings["y"]["shape"] == [3, 72, 20]  # a Dataset setting is recorded by its provenance
            assert record.table.value.tolist() == pytest.approx([1.0, 1.0])
    # nothing is written without an output folder
    record = experiments.run("perturb", {"data": small, "pcs": 2, "measures": ["cka"]})
    assert record.files == ()


def test_optimize_groups_measures_by_their_settings_and_adds_the_matched_gaussian(small, tmp_path):
    settings = optimize_experiment.Settings(
        small, ("cka", "angular-procrustes", "nbs"), steps={"cka": 6, "angular-procrustes": 6, "nbs": 4}, lr=0.05,
        stop_at=None, pcs=2, decode=(), matched_gaussian=["cka"], record_every=2, save_final=False)
    assert list(settings.groups().values()) == [["cka", "angular-procrustes"], ["nbs"]]
    record = optimize_experiment.run(settings, tmp_path)
    runs = record.tables["runs"]
    assert runs.run.tolist() == [0, 1, 2] and runs.steps.tolist() == [6, 6, 4]
    assert record.tables["trajectory"].groupby("run").step.max().tolist() == [6, 6, 4]
    capture = record.tables["pc_capture"]
    assert set(capture.reference) == {"data", "matched Gaussian"}
    assert set(capture[capture.reference == "matched Gaussian"].measure) == {repalign.measure("cka").name}
    assert "decoding" not in record.tables and not (tmp_path / "final_Y.npy").exists()
    # the same runs as repalign.optimize with the same settings
    alone = repalign.optimize(small, ["cka", "angular-procrustes"], max_steps=6, lr=0.05, seed=0, record_every=2,
                              dtype="float32")
    np.testing.assert_allclose(record.tables["trajectory"].value[record.tables["trajectory"].run < 2],
                               alone.table.value, rtol=0, atol=1e-6)


def test_optimize_reads_the_decodable_variables_from_the_conditions_table(small):
    assert optimize_experiment.decodable_variables(small) == (
        "context", "motion", "colour", "choice", "motion_sign", "colour_sign")
    assert optimize_experiment.decodable_variables(Dataset(np.random.default_rng(0).normal(size=(10, 3)))) == ()
    with pytest.raises(SettingsError, match=r"decoding needs a \(time, condition, unit\) dataset"):
        optimize_experiment.run(optimize_experiment.Settings(Dataset(np.random.default_rng(0).normal(size=(30, 3))),
                                                             ("cka",), steps=2, decode=("context",), pcs=0))


@pytest.mark.slow
def test_the_quick_demo_writes_every_figure_and_its_summary(tmp_path):
    from repalign.experiments import demo

    record = experiments.run("demo", {"quick": True, "log": False}, out=tmp_path)
    written = {Path(f).name for f in record.files}
    for figure in ("trajectory", "pc_capture", "capture_curves", "decoding", "topk_decoding", "variance_sweep",
                   "perturbation", "joint", "baselines"):
        assert {f"{figure}.png", f"{figure}.pdf", f"{figure}.csv"} <= written, figure
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary == record.settings["summary"] and (tmp_path / "summary.md").read_text().startswith("# repalign")
    assert summary["perturbation_max_error_orthogonal"] < 1e-12
    names = [row["measure"] for row in summary["measures"]]
    assert names == ["angular-procrustes", "cka", "angular-cka", "ridge-cv"]
    trained = summary["task_trained"]["mante"]["networks"]
    assert [row["architecture"] for row in trained] == list(demo.TRAINED)
    assert all(np.isfinite(list(row["scores"].values())).all() for row in trained)
    assert {"task_trained/mante/curves.png", "task_trained/scores.csv"} <= {
        str(Path(f).relative_to(tmp_path)) for f in record.files}
    assert "## Task-trained networks against the data" in (tmp_path / "summary.md").read_text()


@pytest.fixture
def tiny_zoo(monkeypatch):
    """The demo's task-trained section at toy sizes (8 units, 2 steps): the pipeline, in seconds."""
    from repalign.experiments import demo

    monkeypatch.setitem(demo.TRAIN_SIZES, True, {"hidden_size": 8, "max_steps": 2, "reaching_steps": 2, "repeats": 2})
    return demo


def _trained_rows(text: str, header: str) -> list[list[str]]:
    """The cells of the rows of the markdown table whose header row starts with ``header``."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header))
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("| ").split("|")])
    return rows


def test_the_demo_trains_records_and_scores_a_small_zoo(tiny_zoo, tmp_path):
    demo = tiny_zoo
    reference = mante_like(n_units=30, seed=0)
    m1 = demo._m1_recording(None)
    summary, tables, files = demo._task_trained(demo.Settings(quick=True, log=False), reference, m1, tmp_path)
    written = {str(Path(f).relative_to(tmp_path)) for f in files}
    assert {"task_trained/scores.csv", "task_trained/mante/curves.png", "task_trained/mante/networks.csv"} <= written
    mante = summary["mante"]["networks"]
    assert [row["architecture"] for row in mante] == list(demo.TRAINED)
    for row in mante:
        stem = f"{row['architecture']}_s0"
        assert {f"task_trained/mante/{row['architecture']}.npz", f"task_trained/mante/psychometric_{stem}.png",
                f"task_trained/mante/recording_{stem}.npz"} <= written
        assert sorted(row["scores"]) == sorted(demo.MODEL_MEASURES) and np.isfinite(list(row["scores"].values())).all()
        assert not row["reached"] and row["steps"] == 2
    # the recording is on the data's 15 stimulus bins and 72 conditions, aligned with it by value
    recorded = repalign.data.read(tmp_path / "task_trained/mante/recording_CTRNN-Tanh_s0.npz")
    assert recorded.shape == (15, 72, 8) and recorded.dt == 0.05
    columns = list(reference.conditions.columns)
    assert recorded.conditions[columns].equals(reference.conditions)
    scores = tables["task_trained_scores"]
    n_networks = len(demo.TRAINED) + (len(demo.REACHING) if m1 is not None else 0)
    assert len(scores) == n_networks * len(demo.MODEL_MEASURES) and np.isfinite(scores.value).all()
    assert len(tables["task_trained_networks"]) == n_networks
    text = "\n".join(demo._trained_markdown(summary, quick=True))
    rows = _trained_rows(text, "| architecture | seed | steps to criterion | held-out accuracy")
    assert [row[0] for row in rows] == list(demo.TRAINED) and {row[2] for row in rows} == {"not reached (2 steps)"}
    assert all(float(cell) == float(cell) for row in rows for cell in row[-len(demo.MODEL_MEASURES):])
    assert "quick run" in text and "nan" not in text.lower()
    json.dumps(repalign.results.json_safe(summary), allow_nan=False)
    if m1 is not None:
        assert [row["architecture"] for row in summary["reaching"]["networks"]] == list(demo.REACHING)
        assert len(_trained_rows(text, "| architecture | seed | steps to criterion | held-out velocity R²")) == len(
            demo.REACHING)
        reaching = repalign.data.read(tmp_path / f"task_trained/reaching/recording_{demo.REACHING[0]}_s0.npz")
        assert reaching.shape == (*m1.shape[:2], 8) and reaching.conditions.reach_direction_deg.equals(
            m1.conditions.reach_direction_deg)


def test_the_demo_skips_the_reaching_network_without_the_m1_recording(tiny_zoo, monkeypatch, tmp_path):
    demo = tiny_zoo

    def absent(path=None):
        raise repalign.data.MissingFileError("path: the M1 recording hatsopoulos2007_m1.npz was not found; searched x")

    monkeypatch.setattr(demo, "load_m1", absent)
    m1 = demo._m1_recording(None)
    assert m1 is None
    summary, tables, _ = demo._task_trained(demo.Settings(quick=True, log=False), mante_like(n_units=10, seed=0), m1,
                                            None)  # no folder: nothing written
    assert "skipped" in summary["reaching"] and set(tables["task_trained_networks"].task) == {"mante"}
    assert "Reaching network: skipped, the M1 recording was not found" in "\n".join(
        demo._trained_markdown(summary, quick=True))
    # a path given that does not exist is an error naming the setting, before any work
    with pytest.raises(SettingsError, match="M1 recording") as error:
        experiments.run("demo", {"quick": True, "log": False, "m1": str(tmp_path / "absent.npz")}, out=tmp_path)
    assert error.value.argument == "m1" and not any(tmp_path.iterdir())


def _demo_tables(value="value"):
    """Tables shaped like the demo's sections: two measures, 10 PCs tracked, PC 9 and 10 of CKA never captured,
    PC 1 captured between step 0 and the first record."""
    import pandas as pd

    names = ["procrustes-angular_score", "cka-kernel=linear-hsic=gretton-score"]
    from repalign.experiments.demo import RECORD_EVERY

    capture = pd.DataFrame([{"reference": reference, "measure": name, "pc": pc,
                             "step": RECORD_EVERY if pc == 1 else 40,
                             value: np.nan if (name.startswith("cka") and pc > 8) else 0.3 + 0.05 * pc}
                            for reference in ("data", "matched Gaussian") for name in names for pc in range(1, 11)])
    decoded = pd.DataFrame([{"measure": name, "variable": "context", value: 0.7 if k == 0 else np.nan,
                             "final_accuracy": 0.99 if k == 0 else 0.62}
                            for k, name in enumerate(names)])
    base = pd.DataFrame([{"measure": short, "baseline": baseline, "score": 0.5}
                         for short in ("angular-procrustes", "cka") for baseline in ("condition_average", "neuron_split")])
    sweep = pd.DataFrame([{"measure": "cka", "ratio": 0.03, "pc": 2, value: np.nan}])
    perturbed = pd.DataFrame({"simulated": [0.5], "closed_form": [0.5]})
    final = pd.DataFrame({"cka": [0.9962, 0.95, 0.2], "angular-procrustes": [0.93, 0.4031, 0.1]})
    stopping = {"angular-procrustes": {"stop_at": 0.99, "lr": 0.02, "max_steps": 300, "reached_step": 90,
                                       "final_value": 0.99},
                "cka": {"stop_at": 0.99, "lr": 0.02, "max_steps": 300, "reached_step": None, "final_value": 0.967}}
    return (mante_like(n_units=5, n_time=2, seed=0), names, capture, decoded, base, sweep, perturbed, perturbed, final,
            {"decode_context": 0.96}, {"decode_context": 0.5}, stopping)


@pytest.mark.parametrize("value", ["value", "score"])  # the column's name in 0.2, and before it
def test_demo_summary_prints_only_what_was_computed(value):
    from repalign.experiments import demo

    summary = demo._summary(*_demo_tables(value))
    text = demo._summary_markdown(summary, ["joint"], quick=False)
    capture = text.split("## Principal components")[1].split("##")[0]
    assert "| PC 1 | PC 2 | PC 5 | PC 10 |" in capture and "PC 20" not in text  # 10 PCs tracked
    cka = next(line for line in capture.splitlines() if line.startswith("| cka |"))
    assert [cell.strip() for cell in cka.strip("| ").split("|")][1:] == [
        "not reached (300 steps)", "0.35†", "0.40", "0.55", "not captured", "8 of 10"]
    assert f"† crossed between the records at step 0 and step {demo.RECORD_EVERY}" in capture
    assert "**cka did not reach its stopping value 0.99 in 300 steps (final value 0.967)" in text
    assert "angular-procrustes did not reach" not in text
    decoding = text.split("## Task variables")[1].split("##")[0]
    assert "| cka | not reached (0.62) | 0.50 | 0.50 |" in decoding and "| angular-procrustes | 0.70 |" in decoding
    assert "| cka | not captured |" in text.split("## Two-PC reference")[1]
    cells = [line for line in text.splitlines() if line.startswith("|")]
    assert not [line for line in cells if "—" in line] and "nan" not in text.lower()
    # bounds on their safe side: CKA 0.9962 at the one point where angular Procrustes >= 0.9 is "≥ 0.99"
    assert "CKA ≥ 0.99;" in text and "1.00" not in text and "ranges from 0.40 to 0.93" in text
    json.dumps(repalign.results.json_safe(summary), allow_nan=False)


class _quiet:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_errors_from_deeper_in_the_library_keep_their_own_name():
    assert option_of("steps") == "--steps" and option_of("n_pcs") == "n_pcs" and option_of("matched_gaussian") == \
        "--matched-gaussian"


def test_optimize_goes_on_when_a_measure_has_no_condition_average_baseline():
    """CCA refuses the condition average (rank ≤ time points − 1 < units): the baseline is NaN with a
    warning naming the measure, and the optimization, its PC thresholds and decoding are kept."""
    import math

    from repalign.data import mante_like
    from repalign.experiments import optimize

    X = mante_like(n_units=12, n_time=3, seed=0)
    with pytest.warns(UserWarning, match="cca: no condition-average baseline"):
        record = optimize.run(optimize.Settings(X, measures=("cca",), steps=5, pcs=2, decode_every=1,
                                                progress=False, save_final=False))
    reference = record.tables["reference"].set_index(["quantity", "key"]).value
    assert math.isnan(reference[("condition_average", "cca")])
    assert len(record.tables["pc_capture"]) == 2 and len(record.tables["decoding"]) > 0

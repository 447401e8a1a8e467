"""The train experiment and `repalign train`: a tiny zoo writes its networks, curves and behaviour checks."""

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from repalign import experiments
from repalign._checks import SettingsError
from repalign.cli import main
from repalign.data import load_m1
from repalign.experiments.train import ARCHITECTURE_NAMES
from repalign.models import ARCHITECTURES, StackedNetworks
from repalign.recording import GATING_RATIO, MIN_SWING, psychometric, velocity_fit
from repalign.tasks import ManteTask, ReachingTask

TINY = {"architectures": ["CTRNN-ReLU", "LSTM-Tanh"], "seeds": [0], "max_steps": 5, "hidden_size": 8,
        "eval_every": 2, "repeats": 2}


def _m1_present() -> bool:
    try:
        load_m1()
    except FileNotFoundError:
        return False
    return True


@pytest.fixture(scope="module")
def mante_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("train")
    with pytest.warns(UserWarning, match=r"2 network\(s\) did not reach criterion 0.93 in 5 steps: CTRNN-ReLU seed 0"):
        return experiments.run("train", {"task": "mante", **TINY}, out=out), out


def test_architecture_names_are_the_nine_pairs_and_the_default():
    assert ARCHITECTURE_NAMES == tuple(f"{c}-{a}" for c, a in ARCHITECTURES) and len(ARCHITECTURE_NAMES) == 9
    settings = experiments.settings_class("train")()
    assert settings.architectures == ARCHITECTURE_NAMES and settings.seeds == (0, 1, 2)
    assert settings.hidden_size == 100  # the seed code's


def test_a_tiny_mante_zoo_writes_its_files_and_tables(mante_run):
    record, out = mante_run
    assert record.kind == "experiments.train"
    names = {Path(f).name for f in record.files}
    assert all(Path(f).exists() and Path(f).parent == out for f in record.files)
    assert {"CTRNN-ReLU.npz", "LSTM-Tanh.npz", "networks.csv", "gating.csv", "curves.png", "curves.pdf",
            "curves.csv"} <= names
    for name in TINY["architectures"]:
        assert {f"psychometric_{name}_s0.{s}" for s in ("png", "pdf", "csv")} <= names
    json.dumps(record.to_dict())

    networks = record.tables["networks"]
    assert networks[["architecture", "seed"]].values.tolist() == [["CTRNN-ReLU", 0], ["LSTM-Tanh", 0]]
    assert {"reached", "steps", "accuracy", "gated"} <= set(networks.columns)
    assert networks.steps.between(0, TINY["max_steps"]).all()
    assert networks.accuracy.between(0, 1).all()
    # a network is at criterion exactly when its last held-out accuracy reached it
    assert (networks.reached == (networks.accuracy >= networks.criterion)).all()
    assert pd.read_csv(out / "networks.csv")[["architecture", "seed", "steps"]].equals(
        networks[["architecture", "seed", "steps"]])

    curves = record.tables["curves"]
    assert set(curves.step) <= {0, 2, 4, 5} and curves.step.max() <= TINY["max_steps"]
    assert record.arrays["losses"].shape[1] == 2

    gating = record.tables["gating"]
    assert len(gating) == 2 * len(networks)  # two contexts per network
    expected = (gating.relevant_slope > 0) & (gating.ratio >= GATING_RATIO) & (gating.swing >= MIN_SWING)
    assert (gating.gated == expected).all()
    per_network = gating.groupby(["architecture", "seed"], sort=False).gated.all().tolist()
    assert networks.gated.tolist() == per_network


def test_saved_networks_reload_and_give_the_recorded_gating(mante_run):
    record, out = mante_run
    gating = record.tables["gating"]
    for name in TINY["architectures"]:
        stack = StackedNetworks.load(out / f"{name}.npz")
        assert stack.seeds == [0] and stack.settings()["hidden_size"] == TINY["hidden_size"]
        again = psychometric(stack.network(0), ManteTask(), repeats=TINY["repeats"], seed=0).gating
        rows = gating[gating.architecture == name]
        np.testing.assert_allclose(again.ratio.to_numpy(), rows.ratio.to_numpy())


def test_nothing_is_written_without_an_output_folder():
    with pytest.warns(UserWarning, match="did not reach criterion"):
        record = experiments.run("train", {**TINY, "architectures": ["CTRNN-Tanh"], "max_steps": 1, "repeats": 1})
    assert record.files == () and len(record.tables["networks"]) == 1


@pytest.mark.parametrize("fields, argument, message", [
    ({"task": "monkey"}, "task", "expected one of ['mante', 'reaching']"),
    ({"architectures": ["CTRNN"]}, "architectures", "unknown architecture(s) ['CTRNN']"),
    ({"architectures": []}, "architectures", "expected at least one"),
    ({"seeds": [0, 0]}, "seeds", "may appear once"),
    ({"max_steps": 0}, "max_steps", "expected an integer >= 1"),
    ({"hidden_size": 0}, "hidden_size", "expected an integer >= 1"),
    ({"eval_every": 0}, "eval_every", "expected an integer >= 1"),
    ({"repeats": 0}, "repeats", "expected an integer >= 1"),
    ({"m1": "m1.npz"}, "m1", "task='reaching' only"),
])
def test_settings_errors_name_the_field(fields, argument, message):
    with pytest.raises(SettingsError, match=re.escape(message)) as error:
        experiments.settings_class("train")(**fields)
    assert error.value.argument == argument


def test_a_missing_recording_is_an_error_naming_m1(tmp_path):
    with pytest.raises(SettingsError) as error:
        experiments.run("train", {**TINY, "task": "reaching", "m1": str(tmp_path / "absent.npz")})
    assert error.value.argument == "m1" and not any(tmp_path.iterdir())


@pytest.mark.skipif(not _m1_present(), reason="the M1 recording is not in ../shared/data")
def test_a_tiny_reaching_zoo_fits_the_recording_velocity(tmp_path):
    with pytest.warns(UserWarning, match="did not reach criterion"):
        record = experiments.run("train", {**TINY, "task": "reaching", "architectures": ["CTRNN-Tanh"],
                                           "max_steps": 2, "repeats": 1}, out=tmp_path)
    velocity, networks = record.tables["velocity"], record.tables["networks"]
    assert len(velocity) == 8 and set(velocity.reach_direction_deg) == set(np.arange(8) * 45.0)
    stack = StackedNetworks.load(tmp_path / "CTRNN-Tanh.npz")
    fit = velocity_fit(stack.network(0), ReachingTask.from_recording(), repeats=1, seed=0)
    assert networks.r2.tolist() == pytest.approx([fit.r2])
    np.testing.assert_allclose(velocity.r2.to_numpy(), fit.table.r2.to_numpy())
    assert (tmp_path / "velocity_CTRNN-Tanh_s0.png").exists()


def test_the_command_prints_its_table_and_reports_bad_options(tmp_path, capsys):
    out = tmp_path / "cli"
    with pytest.warns(UserWarning, match="did not reach criterion"):
        assert main(["train", "-a", "CTRNN-ReLU", "-a", "LowPassCTRNN-Tanh", "--seed", "3", "--max-steps", "3",
                     "--hidden-size", "8", "--eval-every", "2", "--repeats", "1", "--out", str(out)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["architecture", "seed", "reached", "steps", "accuracy", "gated"]
    assert [line.split()[:2] for line in lines[2:4]] == [["CTRNN-ReLU", "3"], ["LowPassCTRNN-Tanh", "3"]]
    assert lines[-2] == "2 of 2 network(s) did not reach criterion in 3 steps"
    assert lines[-1].startswith("wrote ") and (out / "CTRNN-ReLU.npz").exists()
    assert main(["train", "-a", "GRU-Tanh", "--out", str(tmp_path / "bad")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --architecture: unknown architecture(s) ['GRU-Tanh']") and len(err.splitlines()) == 1
    assert main(["train", "--max-steps", "0", "--out", str(tmp_path / "bad")]) == 2
    assert capsys.readouterr().err.startswith("error: --max-steps: ")


def test_a_checkpointed_zoo_resumes_to_the_weights_of_an_uninterrupted_run(tmp_path):
    fields = {**TINY, "architectures": ["LSTM-ReLU"], "repeats": 1, "checkpoint": str(tmp_path / "zoo.pt")}
    for steps, checkpoint, folder in ((2, fields["checkpoint"], "first"), (4, fields["checkpoint"], "resumed"),
                                      (4, None, "straight")):
        with pytest.warns(UserWarning, match="did not reach criterion"):
            experiments.run("train", {**fields, "max_steps": steps, "checkpoint": checkpoint}, out=tmp_path / folder)
        if folder == "first":  # the second run starts from step 2 of this file
            assert torch.load(tmp_path / "zoo.pt", weights_only=True)["step"] == 2
    resumed = StackedNetworks.load(tmp_path / "resumed" / "LSTM-ReLU.npz").state_dict()
    straight = StackedNetworks.load(tmp_path / "straight" / "LSTM-ReLU.npz").state_dict()
    assert resumed.keys() == straight.keys()
    assert all(bool((resumed[k] == straight[k]).all()) for k in resumed)

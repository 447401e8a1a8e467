"""The command line: `repalign measures` and `repalign compare` on every file format."""

import json

import numpy as np
import pytest

import repalign
from repalign.cli import main


@pytest.fixture
def files(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(6, 8, 5))
    y = x @ rng.normal(size=(5, 7)) + 0.5 * rng.normal(size=(6, 8, 7))
    np.save(tmp_path / "x.npy", x)
    np.savez(tmp_path / "both.npz", activity=x, model=y, activity_2d=x.reshape(48, 5))
    np.savetxt(tmp_path / "y.csv", y.reshape(48, 7), delimiter=",", header="a,b,c,d,e,f,g")
    return tmp_path, x, y


def test_measures_table_fits_100_columns_and_lists_catalogue_with_aliases(capsys):
    assert main(["measures"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert max(len(line) for line in lines) <= 100
    header, rule, *body = lines
    assert header.split() == ["name", "aliases", "kind", "range"]
    name_width = len(rule.split("  ")[0])
    names, aliases = [], set()
    for line in body:  # a long name goes on below, indented, the other columns blank
        cell, rest = line[:name_width].strip(), line[name_width:].split()
        if rest:
            names.append(cell)
            aliases.add(rest[0])
        else:
            assert line.startswith("  ") and names
            names[-1] += cell
    assert names == repalign.catalogue()
    assert {"angular-procrustes", "cka", "ridge-cv"} <= {a for a in aliases}
    assert main(["measures", "--long"]) == 0  # the details: invariances and flags, however wide
    long = capsys.readouterr().out
    assert long.split("\n")[0].split() == ["name", "aliases", "kind", "range", "invariances", "flags"]
    assert all(name in long for name in repalign.catalogue()) and "isotropic_scale" in long


def test_print_table_wraps_the_widest_column_at_its_dashes(capsys):
    from repalign.cli.output import print_table

    rows = [{"name": "a-" * 30 + "end", "kind": "score"}, {"name": "short", "kind": "distance"}]
    print_table(rows, ["name", "kind"], width=30)
    lines = capsys.readouterr().out.splitlines()
    assert max(len(line) for line in lines) <= 30
    assert "".join(line[:20].strip() for line in lines[2:-1]) == rows[0]["name"]
    assert lines[2].endswith("score") and lines[-1].split() == ["short", "distance"]


@pytest.mark.parametrize("name, formula", [
    ("cka", "CKA(K, L) = HSIC(K, L) / √(HSIC(K, K) HSIC(L, L))"),
    ("nbs", "NBS(X, Y) = ‖X̄ᵀ Ȳ‖_* / (‖X̄‖_F ‖Ȳ‖_F)"),
    ("ridge-cv", "R²_fold = 1 - ‖X_te - μ_X - (Y_te - μ_Y) B‖_F² / ‖X_te - μ_X‖_F²"),
])
def test_describe_renders_its_math_as_text(name, formula, capsys):
    import unicodedata

    assert main(["describe", name]) == 0
    out = capsys.readouterr().out
    assert ".. math::" not in out and ":math:" not in out and "\\frac" not in out and "\\mathrm" not in out
    assert unicodedata.normalize("NFC", formula) in out
    assert repalign.measure(name).name in out  # the rest as before


def test_describe_leaves_no_markup_in_any_measure(capsys):
    for name in repalign.catalogue():
        assert main(["describe", name]) == 0
    out = capsys.readouterr().out
    assert ".. math::" not in out and ":math:" not in out
    assert not [word for word in out.split() if word.startswith("\\") and word[1:2].isalpha()]


def test_measures_json_with_wildcard(capsys):
    assert main(["measures", "procrustes-*", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in rows] == repalign.catalogue("procrustes-*")
    angular = next(r for r in rows if r["name"] == "procrustes-distance=angular")
    assert angular["aliases"] == ["procrustes"] and angular["metric"] is True


def test_compare_npy_npz_json_matches_library(files, capsys):
    path, x, y = files
    code = main(["compare", str(path / "x.npy"), f"{path / 'both.npz'}:model", "-m", "cka", "-m", "ridge-cv", "--json"])
    assert code == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows[0]["name"] == "cka-kernel=linear-hsic=gretton-score"
    assert rows[0]["value"] == pytest.approx(repalign.measure("cka")(x, y), rel=1e-14)
    assert rows[1]["value"] == pytest.approx(repalign.measure("ridge-cv")(x, y), rel=1e-14)


def test_compare_csv_with_header_and_table_output(files, capsys):
    path, x, y = files
    assert main(["compare", f"{path / 'both.npz'}:activity_2d", str(path / "y.csv"), "-m", "nbs"]) == 0
    out = capsys.readouterr().out
    assert f"{repalign.measure('nbs')(x.reshape(48, 5), y.reshape(48, 7)):.6f}" in out


def test_compare_netcdf_keeps_dimension_names(files, capsys):
    xarray = pytest.importorskip("xarray")
    pytest.importorskip("scipy")
    path, x, y = files
    data = xarray.DataArray(x.transpose(2, 0, 1), dims=("unit", "time", "condition"), name="rates")
    data.to_dataset().to_netcdf(path / "x.nc", engine="scipy")
    assert main(["compare", f"{path / 'x.nc'}:rates", str(path / "x.npy"), "-m", "cka", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["value"] == pytest.approx(1.0, abs=1e-12)


def test_compare_errors_are_messages_not_tracebacks(files, capsys):
    path, x, y = files
    np.savez(path / "several.npz", model=y, other=x)
    assert main(["compare", str(path / "x.npy"), str(path / "several.npz"), "-m", "cka"]) == 2
    assert f"error: {path / 'several.npz'}: holds several arrays ['model', 'other'] and none is named 'activity'; " \
           f"name one: {path / 'several.npz'}:model" in capsys.readouterr().err
    assert main(["compare", str(path / "x.npy"), str(path / "x.npy"), "-m", "ckaa"]) == 2
    assert "closest: cka" in capsys.readouterr().err
    assert main(["compare", str(path / "missing.npy"), str(path / "x.npy")]) == 2
    # a 3D array against a 2D one is refused, naming both layouts
    assert main(["compare", str(path / "x.npy"), str(path / "y.csv"), "-m", "nbs"]) == 1
    assert "Y is 2D" in capsys.readouterr().out


def test_compare_reports_a_failing_measure_and_keeps_the_others(files, capsys):
    path, _, _ = files
    rng = np.random.default_rng(1)
    np.save(path / "wide.npy", rng.normal(size=(10, 30)))
    np.save(path / "wide2.npy", rng.normal(size=(10, 20)))
    code = main(["compare", str(path / "wide.npy"), str(path / "wide2.npy"), "-m", "cca", "-m", "cka", "--json"])
    rows = json.loads(capsys.readouterr().out)
    assert code == 1
    assert "more samples than units" in rows[0]["error"] and rows[1]["error"] is None


def test_describe_prints_definition_and_metadata(capsys):
    assert main(["describe", "angular-procrustes"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("procrustes-angular_score")
    assert "1 − arccos(NBS)/(π/2)" in out and "Williams et al. 2021" in out


@pytest.fixture
def populations(tmp_path):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(300, 8))
    y = np.hstack([x[:, :6] + 0.2 * rng.normal(size=(300, 6)), rng.normal(size=(300, 6))])  # 6 matches, 6 noise
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    return tmp_path, x, y


def test_match_prints_the_soft_matching_score(populations, capsys):
    path, x, y = populations
    assert main(["match", str(path / "x.npy"), str(path / "y.npy")]) == 0
    out = capsys.readouterr().out
    assert f"{repalign.measure('soft-matching')(x, y):.6f}" in out


def test_match_partial_lists_matched_units(populations, capsys):
    path, x, y = populations
    assert main(["match", str(path / "x.npy"), str(path / "y.npy"), "--partial", "--mass", "0.5", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["matched_y"] == [0, 1, 2, 3, 4, 5] and result["unmatched_y"] == list(range(6, 12))
    expected = repalign.measure("partial_soft_matching-mass=0.5-score")(x, y)
    assert result["partial_score"] == pytest.approx(expected, rel=1e-12)


def test_match_lcurve_picks_the_elbow_and_writes_the_plot(populations, capsys):
    path, x, y = populations
    stem = path / "figures" / "lcurve"
    assert main(["match", str(path / "x.npy"), str(path / "y.npy"), "--lcurve", "--points", "20",
                 "--plot", str(stem), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["lcurve"]["elbow_mass"] == pytest.approx(0.5)
    assert all((stem.with_suffix(suffix)).exists() for suffix in (".png", ".pdf", ".csv"))
    assert result["unmatched_y"] == list(range(6, 12))


@pytest.mark.parametrize("arguments, message", [
    (["--partial"], "error: --mass: partial matching needs the transported mass"),
    (["--partial", "--mass", "0.5", "--lcurve"], "error: --lcurve: give either partial matching with a mass, or"),
    (["--mass", "0.5"], "error: --mass: applies to partial matching only"),
    (["--partial", "--mass", "1.5"], "error: --mass: expected a number in (0, 1], got 1.5"),
    (["--lcurve", "--points", "0"], "error: --points: expected an integer >= 3, got 0"),
    (["--cv", "3"], "error: --cv: applies to the L-curve only"),
    (["--plot", "x"], "error: --plot: applies to --lcurve only"),
    (["--partial", "--mass", "0.5", "--threshold", "0"], "error: --threshold: expected a number in (0, 1], got 0"),
])
def test_match_argument_errors(populations, capsys, arguments, message):
    path, _, _ = populations
    assert main(["match", str(path / "x.npy"), str(path / "y.npy"), *arguments]) == 2
    assert message in capsys.readouterr().err


# -- the seed paper's experiments on a dataset file ------------------------------------------------------------


@pytest.fixture
def dataset_file(tmp_path):
    from repalign.data import mante_like

    return mante_like(n_units=24, n_time=3, seed=0).save(tmp_path / "mante.npz")


def test_optimize_writes_trajectory_thresholds_and_decoding(dataset_file, tmp_path, capsys):
    out = tmp_path / "opt"
    code = main(["optimize", str(dataset_file), "-m", "cka", "--steps", "40", "--lr", "0.05", "--pcs", "3",
                 "--decode", "context", "--record-every", "5", "--out", str(out)])
    assert code == 0
    for stem in ("trajectory", "pc_capture", "decoding"):
        assert (out / f"{stem}.csv").exists() and (out / f"{stem}.png").exists()
    Y = np.load(out / "final_Y.npy")
    assert Y.shape == (1, 3, 72, 24)
    trajectory = np.genfromtxt(out / "trajectory.csv", delimiter=",", names=True, dtype=None, encoding="utf-8")
    assert {"pc1_r2", "pc3_r2", "decode_context"} <= set(trajectory.dtype.names)
    # the file's final score is the library's, for the same settings
    from repalign.data import read

    again = repalign.optimize(read(dataset_file).activity, "cka", max_steps=40, lr=0.05, seed=0)  # same defaults
    np.testing.assert_allclose(Y[0], again.Y[0], rtol=1e-6, atol=1e-6)
    assert "cka" in capsys.readouterr().out


def test_optimize_option_defaults_are_the_apis():
    """One set of defaults (the seed paper's: Adam, lr 0.1, 1000 steps, float32, no stopping value) for
    repalign.optimize, the optimize experiment and `repalign optimize`."""
    import dataclasses
    import inspect

    from repalign.cli.app import optimize_command
    from repalign.experiments.optimize import Settings

    api = repalign.OptimizeSettings()
    assert (api.optimizer, api.lr, api.max_steps, api.init, api.init_scale, api.stop_at) == (
        "adam", 0.1, 1000, "gaussian", 1.0, None)
    cli = {name: p.default.default for name, p in inspect.signature(optimize_command).parameters.items()
           if hasattr(p.default, "default")}
    experiment = {f.name: f.default for f in dataclasses.fields(Settings)}
    api_dtype = str(api.resolved_dtype(None)).removeprefix("torch.")
    for option, setting, value in [("steps", "steps", api.max_steps), ("lr", "lr", api.lr),
                                   ("stop_at", "stop_at", api.stop_at), ("runs", "runs", api.n_runs),
                                   ("seed", "seed", api.seed), ("record_every", "record_every", api.record_every),
                                   ("dtype", "dtype", api_dtype)]:
        assert cli[option] == experiment[setting] == value, option
    assert api_dtype == "float32" and api.record_every == 1  # the seed code keeps every step
    assert cli["decode_every"] == experiment["decode_every"]  # the experiment's own tracker setting


def test_optimize_minimizes_a_distance_and_stops_at_a_distance_target(dataset_file, tmp_path, capsys):
    """`repalign optimize -m procrustes`: the distance goes down over every step (no default stopping value
    read as a score), and --stop-at is a distance: the run stops once it is at or below it."""
    import pandas as pd

    from repalign.data import read

    common = [str(dataset_file), "-m", "procrustes", "--steps", "30", "--pcs", "0", "--no-decode",
              "--record-every", "1", "--no-final"]
    assert main(["optimize", *common, "--out", str(tmp_path / "all")]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].split() == ["measure", "kind", "run", "steps", "value"]
    assert printed[2].split()[:4] == ["procrustes", "distance", "0", "30"]  # every step: nothing stopped it
    table = pd.read_csv(tmp_path / "all" / "trajectory.csv")
    values = table["value"].to_numpy()
    assert len(values) == 31 and values[-1] < 0.5 * values[0]  # minimized
    target = float(values[12])
    assert main(["optimize", *common, "--stop-at", f"{target!r}", "--out", str(tmp_path / "stop")]) == 0
    printed = capsys.readouterr().out.splitlines()
    reached = repalign.optimize(read(dataset_file).activity, "procrustes", max_steps=30, stop_at=target)
    first = int(np.flatnonzero(values <= target)[0])
    assert reached.reached_step == (first,) and first <= 12
    assert printed[2].split()[:4] == ["procrustes", "distance", "0", str(first)]
    assert float(printed[2].split()[4]) <= target + 5e-5  # printed to 4 decimals


def test_optimize_refuses_unknown_variables_and_measures(dataset_file, tmp_path, capsys):
    assert main(["optimize", str(dataset_file), "--decode", "nope", "--out", str(tmp_path)]) == 2
    assert "nope" in capsys.readouterr().err
    assert main(["optimize", str(dataset_file), "-m", "not-a-measure", "--out", str(tmp_path)]) == 2


def test_perturb_matches_the_closed_forms(dataset_file, tmp_path, capsys):
    out = tmp_path / "perturb"
    assert main(["perturb", str(dataset_file), "-m", "cka", "-m", "nbs", "--pcs", "3", "--out", str(out)]) == 0
    import pandas as pd

    table = pd.read_csv(out / "perturbation.csv")
    assert len(table) == 6 and (table.simulated - table.closed_form).abs().max() < 1e-10
    assert "closed form" in capsys.readouterr().out


def test_baselines_and_joint_write_their_tables(dataset_file, tmp_path, capsys):
    import pandas as pd

    out = tmp_path / "base"
    assert main(["baselines", str(dataset_file), "-m", "cka", "--splits", "2", "--out", str(out)]) == 0
    table = pd.read_csv(out / "baselines.csv")
    assert set(table.baseline) == {"condition_average", "neuron_split"}
    out = tmp_path / "joint"
    assert main(["joint", str(dataset_file), "--grid", "2", "--steps", "20", "--out", str(out)]) == 0
    assert (out / "joint.png").exists() and (out / "joint.csv").exists()


def test_compare_prints_a_nan_value_as_nan(tmp_path, capsys, monkeypatch):
    """A value that is not a number is printed as such (not a crash formatting None) and is null in JSON."""
    rng = np.random.default_rng(0)
    np.save(tmp_path / "x.npy", rng.normal(size=(20, 3)))
    np.save(tmp_path / "y.npy", rng.normal(size=(20, 3)))
    # no catalogue measure returns NaN on valid data any more (data at 1e200 did): one is made to
    monkeypatch.setattr(repalign.registry.Measure, "__call__", lambda self, X, Y: float("nan"))
    arguments = ["compare", str(tmp_path / "x.npy"), str(tmp_path / "y.npy"), "-m", "rsa-rdm=euclidean-compare=pearson"]
    assert main(arguments) == 0
    assert capsys.readouterr().out.splitlines()[-1].split()[-1] == "nan"
    assert main([*arguments, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["value"] is None


def test_measures_markdown_refuses_a_pattern_json_or_long(capsys):
    for extra in (["cka-*"], ["--json"], ["--long"]):
        assert main(["measures", "--markdown", *extra]) == 2
        assert capsys.readouterr().err == "error: --markdown: prints the whole catalogue page; give it without a " \
                                          "pattern, --json or --long\n"


def test_output_and_checkpoint_paths_that_are_files_are_one_line_errors(dataset_file, tmp_path, capsys):
    (tmp_path / "taken").write_text("not a folder, not a checkpoint")
    assert main(["perturb", str(dataset_file), "-m", "cka", "--out", str(tmp_path / "taken")]) == 2
    assert capsys.readouterr().err == f"error: --out: {tmp_path / 'taken'} is a file, not a folder\n"
    assert main(["optimize", str(dataset_file), "-m", "cka", "--steps", "2", "--pcs", "0", "--no-decode",
                 "--checkpoint", str(tmp_path / "taken"), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --checkpoint: ") and "is not a readable repalign.optimize checkpoint" in err
    assert len(err.splitlines()) == 1


def test_python_dash_m_runs_the_same_command_line(capsys):
    import subprocess
    import sys

    assert main(["describe", "pwcca"]) == 0
    expected = capsys.readouterr().out
    for module in ("repalign", "repalign.cli"):
        run = subprocess.run([sys.executable, "-m", module, "describe", "pwcca"], capture_output=True, text=True,
                             timeout=120)
        assert run.returncode == 0 and run.stdout == expected, run.stderr
    run = subprocess.run([sys.executable, "-m", "repalign", "describe", "ckaa"], capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 2 and run.stderr.startswith("error: ") and "Traceback" not in run.stderr

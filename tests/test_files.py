"""The one file reader, repalign.data.read: every format, the PATH[:NAME] grammar, and clear errors.

Every command of the command line reads through it, so each bad file is also checked there: one
line on standard error, exit code 2, no traceback.
"""

import pickle

import numpy as np
import pytest

from repalign.cli import main
from repalign.data import DataFileError, Dataset, MissingFileError, mante_like, read, read_array, split_source


@pytest.fixture
def folder(tmp_path):
    rng = np.random.default_rng(0)
    activity = rng.normal(size=(4, 6, 5))
    np.save(tmp_path / "a.npy", activity)
    np.savetxt(tmp_path / "a.csv", activity.reshape(24, 5), delimiter=",")
    np.savetxt(tmp_path / "header.csv", activity.reshape(24, 5), delimiter=",", header="u0,u1,u2,u3,u4")
    np.savez(tmp_path / "named.npz", rates=activity, other=activity[..., :2])
    np.savez(tmp_path / "single.npz", x=activity)
    mante_like(n_units=12, n_time=3, seed=0).save(tmp_path / "saved.npz")
    # bad files
    (tmp_path / "empty.csv").write_text("")
    (tmp_path / "only-header.csv").write_text("# u0,u1,u2\n")
    (tmp_path / "words.csv").write_text("a,b\nc,d\ne,f\n")
    (tmp_path / "corrupt.npz").write_bytes(b"PK\x03\x04 not really a zip archive")
    (tmp_path / "corrupt.npy").write_bytes(np.lib.format.MAGIC_PREFIX + b"\x01\x00garbage")
    np.save(tmp_path / "objects.npy", np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    with open(tmp_path / "pickle.npy", "wb") as handle:
        pickle.dump({"activity": activity}, handle)
    (tmp_path / "notes.txt").write_text("1,2\n")
    (tmp_path / "folder.npy").mkdir()
    return tmp_path, activity


def test_every_format_reads_the_same_activity(folder):
    path, activity = folder
    for source in ("a.npy", "a.csv", "header.csv", "named.npz:rates", "single.npz"):
        ds = read(path / source) if ":" not in source else read(f"{path / source}")
        assert isinstance(ds, Dataset)
        assert np.array_equal(ds.activity.reshape(-1, 5), activity.reshape(-1, 5)), source
    assert read(path / "a.npy").provenance == {"source": str(path / "a.npy")}
    assert read(path / "saved.npz").provenance["generator"] == "repalign.data.mante_like"


def test_the_name_grammar():
    assert split_source("session.npz:rates") == (split_source("session.npz")[0], "rates")
    assert split_source("a/b.nc:v") [1] == "v"
    assert split_source("plain.npy") [1] is None
    assert split_source("x.NPZ:Rates")[1] == "Rates"  # suffixes in any case, names as given


@pytest.mark.parametrize("source, exception, message", [
    ("absent.npy", MissingFileError, r"absent.npy: no such file$"),
    ("folder.npy", DataFileError, "folder.npy: is a folder, not a data file"),
    ("notes.txt", DataFileError, r"notes.txt: unsupported file type '.txt'; expected one of .npy, .npz, .csv, .nc"),
    ("empty.csv", DataFileError, "empty.csv: is empty"),
    ("only-header.csv", DataFileError, "only-header.csv: is empty"),
    ("words.csv", DataFileError, "words.csv: is not a comma-separated table of numbers"),
    ("corrupt.npz", DataFileError, r"corrupt.npz: cannot be read as a .npz file \(.*\); is it truncated or of another"),
    ("corrupt.npy", DataFileError, r"corrupt.npy: cannot be read as a .npy file"),
    ("objects.npy", DataFileError, "objects.npy: holds Python objects \\(pickled data\\), which repalign never loads"),
    ("pickle.npy", DataFileError, "pickle.npy: holds Python objects \\(pickled data\\)"),
    ("named.npz", DataFileError, r"named.npz: holds several arrays \['rates', 'other'\] and none is named 'activity'; "
                                 r"name one: .*named.npz:rates"),
    ("named.npz:spikes", DataFileError, r"named.npz: has no array named 'spikes'; it holds \['rates', 'other'\]"),
    ("a.npy:x", DataFileError, r"a.npy: a .npy file holds one array; drop ':x'"),
    ("named.npz:", DataFileError, "empty array name after ':'"),
])
def test_bad_files_raise_one_clear_error(folder, source, exception, message):
    path, _ = folder
    with pytest.raises(exception, match=message):
        read(f"{path / source}" if ":" in source else path / source)


def test_read_array_returns_the_stored_array_unchecked(folder):
    """read_array is the raw layer under read: the array as stored (any shape, NaN kept), same errors."""
    path, activity = folder
    np.testing.assert_array_equal(read_array(path / "a.npy"), activity)
    np.testing.assert_array_equal(read_array(f"{path / 'named.npz'}:other"), activity[..., :2])
    np.testing.assert_allclose(read_array(path / "header.csv"), activity.reshape(24, 5), rtol=1e-15)
    with_nan = np.array([np.nan, 1.0])
    np.save(path / "nan1d.npy", with_nan)
    np.testing.assert_array_equal(read_array(path / "nan1d.npy"), with_nan)  # no activity checks here
    with pytest.raises(DataFileError, match="objects.npy: holds Python objects"):
        read_array(path / "objects.npy")


def test_missing_files_are_both_value_and_file_not_found_errors(folder):
    path, _ = folder
    for kind in (ValueError, FileNotFoundError):
        with pytest.raises(kind):
            read(path / "absent.npz")


def test_data_that_fail_the_checks_name_the_file(folder):
    path, activity = folder
    bad = activity.copy()
    bad[0, 0, 0] = np.nan
    np.save(path / "nan.npy", bad)
    with pytest.raises(DataFileError, match=r"nan.npy: activity: contains 1 NaN and 0 infinite value"):
        read(path / "nan.npy")


COMMANDS = {
    "compare": ["compare", "{bad}", "{good}"],
    "match": ["match", "{bad}", "{good}"],
    "optimize": ["optimize", "{bad}", "--steps", "2", "--out", "{out}"],
    "perturb": ["perturb", "{bad}", "--out", "{out}"],
    "joint": ["joint", "{bad}", "--steps", "2", "--out", "{out}"],
    "baselines": ["baselines", "{bad}", "--out", "{out}"],
    "topk-decoding": ["topk-decoding", "{bad}", "--out", "{out}"],
}


@pytest.mark.parametrize("command", sorted(COMMANDS))
@pytest.mark.parametrize("bad, message", [
    ("absent.npy", "absent.npy: no such file"),
    ("corrupt.npz", "corrupt.npz: cannot be read as a .npz file"),
    ("objects.npy", "objects.npy: holds Python objects (pickled data)"),
])
def test_every_command_reports_a_bad_file_in_one_line(folder, capsys, command, bad, message):
    path, _ = folder
    arguments = [a.format(bad=path / bad, good=path / "a.npy", out=path / "out") for a in COMMANDS[command]]
    assert main(arguments) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], captured.err
    assert "Traceback" not in captured.err + captured.out


def test_every_command_reads_every_format(folder, capsys):
    path, _ = folder
    for source in ("a.npy", "a.csv", "header.csv", f"{path / 'named.npz'}:rates", "single.npz"):
        spec = source if ":" in source else str(path / source)
        assert main(["compare", spec, spec, "-m", "cka"]) == 0, capsys.readouterr().err
        assert main(["baselines", spec, "-m", "cka", "--splits", "2", "--out", str(path / "out")]) == 0



def test_netcdf_variables_need_named_dimensions(tmp_path):
    xarray = pytest.importorskip("xarray")
    values = np.random.default_rng(0).normal(size=(6, 3))
    xarray.Dataset({"rates": (("neuron", "stimulus"), values.T)}).to_netcdf(tmp_path / "odd.nc")
    with pytest.raises(DataFileError, match=r"odd.nc: variable 'rates' has dimensions \('neuron', 'stimulus'\); "
                                            r"repalign reads dimensions named time, condition, unit"):
        read(tmp_path / "odd.nc")


def test_library_errors_during_a_command_are_one_line(tmp_path, capsys, monkeypatch):
    mante_like(n_units=12, n_time=3, seed=0).save(tmp_path / "d.npz")
    # an optimization that diverges: lr so large that the data overflow float32 (at 1e30 the measures,
    # scale-invariant, still give the right value)
    assert main(["optimize", str(tmp_path / "d.npz"), "-m", "cka", "--steps", "30", "--lr", "1e38", "--pcs", "0",
                 "--no-decode", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: non-finite") and len(err.strip().splitlines()) == 1
    monkeypatch.setenv("REPALIGN_TRACEBACK", "1")
    with pytest.raises(FloatingPointError):
        main(["optimize", str(tmp_path / "d.npz"), "-m", "cka", "--steps", "30", "--lr", "1e38", "--pcs", "0",
              "--no-decode", "--out", str(tmp_path / "o")])

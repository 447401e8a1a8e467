"""Loaders of recording formats on files written by the formats' own writers.

Each fixture is written from known arrays (pynwb's NWBHDF5IO; scipy.io.savemat in the Mante et
al. 2013 release's struct layout; xarray's netCDF writer in BrainIO's layout) and must load to
the Dataset built directly from those arrays, exactly; each malformed file gives one clear error.
"""

from __future__ import annotations

import datetime
import warnings

import numpy as np
import pytest

from repalign.data import (
    DataFileError,
    Dataset,
    MissingFileError,
    Trials,
    load_brainio,
    load_mante2013,
    load_nwb,
)

pd = pytest.importorskip("pandas")

# ---------------------------------------------------------------------------------------------
# NWB

STEP = 0.1
WINDOW = (-0.2, 0.4)
N_BINS = 6


def _nwb_arrays(seed=0, n_trials=12, n_units=3):
    """Known spike counts per (trial, bin, unit) and the trial table they come from."""
    rng = np.random.default_rng(seed)
    counts = rng.integers(0, 4, size=(n_trials, N_BINS, n_units))
    start = 2.0 * np.arange(n_trials)
    table = {
        "start_time": start, "stop_time": start + 1.5, "go_cue": start + 0.3 + rng.uniform(0, 0.1, n_trials),
        "direction": rng.choice([0, 90, 180], n_trials), "context": rng.choice(["colour", "motion"], n_trials),
        "correct": rng.integers(0, 2, n_trials),
    }
    return counts, table


def _spike_times(counts, table, seed=0):
    """Spikes placed inside their bins, away from the edges, plus spikes outside every window."""
    rng = np.random.default_rng(seed + 100)
    n_trials, n_bins, n_units = counts.shape
    trains = []
    for u in range(n_units):
        spikes = []
        for k in range(n_trials):
            for b in range(n_bins):
                lo = table["go_cue"][k] + WINDOW[0] + b * STEP
                spikes.extend(lo + STEP * rng.uniform(0.1, 0.9, counts[k, b, u]))
            spikes.append(table["go_cue"][k] + 0.9)  # after the window
        trains.append(np.array(spikes))
    return trains


def _write_nwb(path, trains=(), table=None, *, units=True, trials=True, unit_ids=None):
    from pynwb import NWBHDF5IO, NWBFile

    nwb = NWBFile("fixture", "fixture-001", datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC),
                  session_id="session-7")
    if trials:
        for name in table:
            if name not in ("start_time", "stop_time"):
                nwb.add_trial_column(name, f"{name} of the trial")
        for k in range(len(table["start_time"])):
            nwb.add_trial(**{name: values[k] for name, values in table.items()})
    if units:
        nwb.add_unit_column("quality", "sorting quality")
        nwb.add_unit_column("depth", "depth in mm")
        for u, spikes in enumerate(trains):
            nwb.add_unit(spike_times=np.asarray(spikes), quality=["good", "mua"][u % 2], depth=0.5 * u,
                         id=(unit_ids or range(10, 10 + len(trains)))[u])
    with NWBHDF5IO(str(path), "w") as io:
        io.write(nwb)
    return path


@pytest.fixture
def nwb_file(tmp_path):
    counts, table = _nwb_arrays()
    return _write_nwb(tmp_path / "session.nwb", _spike_times(counts, table), table), counts, table


def _expected_trials(counts, table, mask, unit_index, conditions, provenance):
    trial_table = {"trial_id": np.flatnonzero(mask), **{k: np.asarray(v)[mask] for k, v in table.items()}}
    units = {"unit_id": 10 + np.asarray(unit_index), "quality": np.array(["good", "mua", "good"])[unit_index],
             "depth": 0.5 * np.asarray(unit_index, dtype=float)}
    return Trials(counts[mask][:, :, unit_index] / STEP, trial_table, conditions, units, STEP, provenance)


def test_nwb_loads_to_the_dataset_of_its_arrays(nwb_file):
    path, counts, table = nwb_file
    ds = load_nwb(path, event="go_cue", window=WINDOW, bin_size=STEP, conditions=["direction", "context"])
    expected = _expected_trials(counts, table, np.ones(12, bool), [0, 1, 2], ["direction", "context"],
                                ds.provenance).average()
    assert ds.equals(expected)
    assert ds.shape[0] == N_BINS and ds.dt == STEP
    p = ds.provenance
    assert (p["source"], p["identifier"], p["session_id"], p["event"], p["bin_size_s"]) == (
        str(path), "fixture-001", "session-7", "go_cue", STEP)
    assert p["window_s"] == pytest.approx(list(WINDOW)) and p["activity_unit"] == "spikes/s"


def test_nwb_trials_filter_and_units(nwb_file):
    path, counts, table = nwb_file
    trials = load_nwb(path, event="go_cue", window=WINDOW, bin_size=STEP, conditions="direction", trials=True,
                      units=[12, 10], filter={"correct": 1})
    mask = table["correct"] == 1
    expected = _expected_trials(counts, table, mask, [2, 0], ["direction"], trials.provenance)
    assert isinstance(trials, Trials)
    np.testing.assert_array_equal(trials.activity, expected.activity)
    pd.testing.assert_frame_equal(trials.trials, expected.trials)
    pd.testing.assert_frame_equal(trials.units, expected.units)
    assert trials.provenance["filter"] == {"correct": 1}


def test_nwb_bins_are_left_closed(tmp_path):
    # dyadic times: the edges 1.0, 1.25, ..., 2.0 are exact
    table = {"start_time": np.array([1.0]), "stop_time": np.array([3.0]), "kind": np.array([1])}
    path = _write_nwb(tmp_path / "edges.nwb", [[0.999, 1.0, 1.25, 1.5, 1.5, 1.9999, 2.0]], table)
    trials = load_nwb(path, event="start_time", window=(0.0, 1.0), bin_size=0.25, conditions="kind", trials=True)
    assert (trials.activity[0, :, 0] * 0.25).tolist() == [1.0, 1.0, 2.0, 1.0]



def test_nwb_spike_written_on_a_decimal_edge_falls_in_the_later_bin(tmp_path):
    # 1.0 - 0.2 + 0.4 is 1.2000000000000002 in floats: a spike written at 1.2 is on the edge of bin 2
    table = {"start_time": np.array([1.0]), "stop_time": np.array([2.0]), "kind": np.array([1])}
    path = _write_nwb(tmp_path / "decimal.nwb", [[0.85, 1.2, 1.3]], table)
    trials = load_nwb(path, event="start_time", window=(-0.2, 0.4), bin_size=0.2, conditions="kind", trials=True)
    assert (trials.activity[0, :, 0] * 0.2).round(12).tolist() == [1.0, 0.0, 2.0]

def _nwb_error(tmp_path, **changes):
    counts, table = _nwb_arrays()
    trains = _spike_times(counts, table)
    kwargs = {"event": "go_cue", "window": WINDOW, "bin_size": STEP, "conditions": "direction"}
    write = {}
    for key, value in changes.items():
        (write if key in ("units", "trials", "trains", "table") else kwargs).__setitem__(key, value)
    trains = write.pop("trains", trains)
    table = write.pop("table", table)
    path = _write_nwb(tmp_path / "bad.nwb", trains, table, units=write.get("units", True),
                      trials=write.get("trials", True))
    return path, kwargs


@pytest.mark.parametrize(
    "changes, error, match",
    [
        ({"units": False}, DataFileError, r"bad\.nwb: no units table"),
        ({"trials": False}, DataFileError, r"bad\.nwb: no trials table"),
        ({"event": "stim_on"}, DataFileError, (r"event column 'stim_on' is not in the trials table \(its columns: "
                                               r"\['start_time', 'stop_time', 'go_cue'")),
        ({"conditions": ["direction", "speed"]}, DataFileError, r"conditions column 'speed' is not in the trials"),
        ({"filter": {"outcome": 1}}, DataFileError, r"filter column 'outcome' is not in the trials table"),
        ({"filter": {"correct": 5}}, DataFileError, r"no trial left after the filter"),
        ({"bin_size": 0.07}, ValueError, r"bin_size: 0\.07 s does not divide the window"),
        ({"window": (0.4, -0.2)}, ValueError, r"window: expected start < stop"),
    ],
)
def test_nwb_malformed_files_raise_one_clear_error(tmp_path, changes, error, match):
    path, kwargs = _nwb_error(tmp_path, **changes)
    with pytest.raises(error, match=match):
        load_nwb(path, **kwargs)


def test_nwb_unit_without_spikes(tmp_path):
    counts, table = _nwb_arrays()
    trains = _spike_times(counts, table)
    path = _write_nwb(tmp_path / "silent.nwb", [trains[0], [], trains[2]], table)
    kwargs = {"event": "go_cue", "window": WINDOW, "bin_size": STEP, "conditions": "direction"}
    with pytest.raises(DataFileError, match=r"silent\.nwb: unit\(s\) with id \[11\] have no spike at all"):
        load_nwb(path, **kwargs)
    with pytest.warns(UserWarning, match=r"dropped 1 unit\(s\) without any spike: ids \[11\]"):
        ds = load_nwb(path, **kwargs, drop_silent=True)
    assert ds.units["unit_id"].tolist() == [10, 12] and ds.provenance["dropped_units"] == [11]
    np.testing.assert_array_equal(ds.activity, _expected_trials(counts, table, np.ones(12, bool), [0, 2],
                                                                ["direction"], {}).average().activity)


def test_nwb_no_spike_in_any_window(tmp_path):
    counts, table = _nwb_arrays()
    path = _write_nwb(tmp_path / "quiet.nwb", [[100.0], [101.0]], table)
    with pytest.raises(DataFileError, match=r"quiet\.nwb: .*constant"):
        load_nwb(path, event="go_cue", window=WINDOW, bin_size=STEP, conditions="direction")


def test_nwb_nan_event_time(tmp_path):
    counts, table = _nwb_arrays()
    table["go_cue"][3] = np.nan
    table["correct"][3] = 0
    trains = _spike_times(counts, {**table, "go_cue": np.nan_to_num(table["go_cue"])})
    path = _write_nwb(tmp_path / "nan.nwb", trains, table)
    kwargs = {"event": "go_cue", "window": WINDOW, "bin_size": STEP, "conditions": "direction"}
    with pytest.raises(DataFileError, match=r"nan\.nwb: event 'go_cue' is NaN or infinite in trial\(s\) with id \[3\]"):
        load_nwb(path, **kwargs)
    kept = load_nwb(path, **kwargs, filter={"correct": [1]}, trials=True)  # the filter removes the NaN trial
    assert kept.trials["trial_id"].tolist() == np.flatnonzero(table["correct"] == 1).tolist()


def test_nwb_unknown_unit_and_not_nwb(tmp_path, nwb_file):
    path = nwb_file[0]
    kwargs = {"event": "go_cue", "window": WINDOW, "bin_size": STEP, "conditions": "direction"}
    with pytest.raises(DataFileError, match=r"session\.nwb: unit id\(s\) \[99\] not in the units table"):
        load_nwb(path, **kwargs, units=[10, 99])
    junk = tmp_path / "junk.nwb"
    junk.write_bytes(b"not hdf5 at all")
    with pytest.raises(DataFileError, match=r"junk\.nwb: not an NWB file pynwb can read"):
        load_nwb(junk, **kwargs)
    with pytest.raises(MissingFileError, match="no such file"):
        load_nwb(tmp_path / "absent.nwb", **kwargs)


# ---------------------------------------------------------------------------------------------
# Mante et al. 2013


TASK_LEVELS = [-0.5, -0.17, -0.06, 0.06, 0.17, 0.5]
N_SAMPLES, SAMPLE = 160, 0.001  # 160 ms of 1 ms samples: 3 bins of 50 ms, 10 trailing samples dropped


def _mante_unit(seed, motion=(0.05, 0.15, 0.5), colour=(0.06, 0.18, 0.5), skip=None):
    """One unit's trials (every condition 1-3 correct trials, plus error trials) and its expected averages."""
    rng = np.random.default_rng(seed)
    motion_raw = [-m for m in reversed(motion)] + list(motion)
    colour_raw = [-c for c in reversed(colour)] + list(colour)
    rows, expected = [], np.zeros((3, 72))
    responses = []
    c = 0
    for context in (1, -1):
        for i, m in enumerate(motion_raw):
            for j, k in enumerate(colour_raw):
                choice = np.sign(m if context == 1 else k)
                n = 0 if skip == c else int(rng.integers(1, 4))
                trials = rng.integers(0, 2, size=(n, N_SAMPLES)).astype(float)  # 0/1 spikes per ms
                if n:
                    expected[:, c] = trials[:, :150].reshape(n, 3, 50).sum(axis=(0, 2)) / (n * 50)
                for trial in trials:
                    rows.append((m, k, context, 1, choice))
                    responses.append(trial)
                for _ in range(int(rng.integers(0, 2))):  # an error trial, which must not count
                    rows.append((m, k, context, 0, -choice))
                    responses.append(np.full(N_SAMPLES, 7.0))
                c += 1
    order = rng.permutation(len(rows))
    rows = np.array(rows)[order]
    variables = {
        "stim_dir": rows[:, 0], "stim_col": -rows[:, 1], "targ_dir": rows[:, 4], "targ_col": rows[:, 4],
        "context": rows[:, 2], "correct": rows[:, 3], "congruent": (np.sign(rows[:, 0]) == np.sign(rows[:, 1])) * 1.0,
        "stim_dir2col": rows[:, 0], "stim_col2dir": rows[:, 1], "stim_trial": np.arange(1, len(rows) + 1.0),
    }
    unit = {"response": np.array(responses)[order], "task_variable": variables,
            "time": 0.1 + SAMPLE * np.arange(N_SAMPLES)}
    return unit, expected, int(rows[:, 3].sum())


def _save_unit(path, unit):
    import scipy.io

    scipy.io.savemat(path, {"unit": unit})
    return path


def test_mante_loads_to_the_dataset_of_its_arrays(tmp_path):
    from repalign.tasks import ManteTask

    units = [_mante_unit(0), _mante_unit(1, motion=(0.04, 0.16, 0.5)), _mante_unit(2, skip=17)]
    for u, (unit, _, _) in enumerate(units):
        _save_unit(tmp_path / f"ar0903{u}_1_a1_Vstim_100_850_ms.mat", unit)
    with pytest.warns(UserWarning, match=r"dropped 1 of 3 unit\(s\) missing a condition: ar09032_1_a1_Vstim_100"
                                         r"_850_ms\.mat \(no correct trial in 1 of the 72 conditions\)"):
        ds = load_mante2013(tmp_path)
    pd.testing.assert_frame_equal(ds.conditions, ManteTask().conditions())
    counts = [int(u[0]["task_variable"]["correct"].sum()) for u in units[:2]]
    table = {"file": [f"ar0903{u}_1_a1_Vstim_100_850_ms.mat" for u in range(2)], "n_correct_trials": counts,
             "min_trials": [1, 1]}
    expected = Dataset(np.stack([units[0][1], units[1][1]], axis=-1), ManteTask().conditions(), table, 0.05,
                       ds.provenance)
    assert ds.equals(expected)
    assert list(ds.provenance["dropped_units"]) == ["ar09032_1_a1_Vstim_100_850_ms.mat"]
    assert ds.provenance["first_bin_start_s"] == pytest.approx(0.1)


def test_mante_levels_and_file_list(tmp_path):
    unit, expected, _ = _mante_unit(3)
    path = _save_unit(tmp_path / "one.mat", unit)
    ds = load_mante2013([path], motion_strengths=(0.05, 0.15, 0.5), colour_strengths=(0.06, 0.18, 0.5))
    assert sorted(set(ds.conditions["motion"])) == [-0.5, -0.15, -0.05, 0.05, 0.15, 0.5]
    np.testing.assert_array_equal(ds.activity[:, :, 0], expected)



def test_mante_unit_with_a_zero_coherence_is_dropped_and_named(tmp_path):
    good, expected, _ = _mante_unit(3)
    zero, _, _ = _mante_unit(4, motion=(0.0, 0.15, 0.5))  # levels -0.5, -0.15, 0, 0.15, 0.5: not the task's
    paths = [_save_unit(tmp_path / "good.mat", good), _save_unit(tmp_path / "zero.mat", zero)]
    with pytest.warns(UserWarning, match=r"dropped 1 of 2 unit.*zero\.mat \(not exactly 3 positive"):
        ds = load_mante2013(paths, motion_strengths=(0.05, 0.15, 0.5), colour_strengths=(0.06, 0.18, 0.5))
    assert ds.n_units == 1 and "zero.mat" in ds.provenance["dropped_units"]
    np.testing.assert_array_equal(ds.activity[:, :, 0], expected)

def _seed_process_unit(unit, dt_ms=50):
    """The seed's per-unit steps (diffscore/dataset/mante2013.py, _process_unit and downsample), transcribed:
    group trials by (targ_dir, stim_dir, stim_col2dir, context), skip groups with an error trial, sort the
    groups, average each group's trials, then average windows of samples."""
    variables, response = unit["task_variable"], unit["response"]
    groups = {}
    for trial in range(len(variables["stim_trial"])):
        key = tuple(float(variables[n][trial]) for n in ("targ_dir", "stim_dir", "stim_col2dir", "context"))
        groups.setdefault(key, []).append(trial)
    kept = [(key, trials) for key, trials in sorted(groups.items()) if all(variables["correct"][trials])]
    averages = np.array([response[trials].mean(axis=0) for _, trials in kept])
    unit_dt = (unit["time"][1] - unit["time"][0]) * 1000
    n_samples = int(averages.shape[-1] * unit_dt / dt_ms)
    window = int(averages.shape[-1] / n_samples)
    binned = np.stack([averages[:, k * window:(k + 1) * window].mean(axis=1) for k in range(n_samples)], axis=1)
    return [key for key, _ in kept], binned


def test_mante_matches_the_seed_reader(tmp_path):
    unit, _, _ = _mante_unit(6)
    # whole bins only: with trailing samples the seed widens its windows (int(160 / 3) = 53 samples)
    unit = dict(unit, response=unit["response"][:, :150], time=unit["time"][:150])
    ds = load_mante2013([_save_unit(tmp_path / "u.mat", unit)], motion_strengths=(0.05, 0.15, 0.5),
                        colour_strengths=(0.06, 0.18, 0.5))
    keys, binned = _seed_process_unit(unit)
    assert len(keys) == 72
    rows = {(c, m, k): i for i, (c, m, k) in enumerate(zip(ds.conditions["context"], ds.conditions["motion"],
                                                             ds.conditions["colour"]))}
    for (choice, motion, colour, context), values in zip(keys, binned):
        row = rows[(int(context), motion, colour)]
        assert ds.conditions["choice"][row] == choice
        np.testing.assert_allclose(ds.activity[:, row, 0], values, rtol=1e-12, atol=1e-15)


def _mante_bad(tmp_path, change):
    unit, _, _ = _mante_unit(4)
    change(unit)
    return _save_unit(tmp_path / "bad.mat", unit)


@pytest.mark.parametrize(
    "change, match",
    [
        (lambda u: u.pop("response"), r"bad\.mat: unit has no field\(s\) \['response'\]"),
        (lambda u: u["task_variable"].pop("correct"), r"unit\.task_variable has no field\(s\) \['correct'\]"),
        (lambda u: u.__setitem__("time", u["time"][:-1]), (r"unit\.response has shape \(\d+, 160\); expected "
                                                           r"trials × 159 time samples")),
        (lambda u: u["task_variable"].__setitem__("context", u["task_variable"]["context"][:-1]),
         r"unit\.task_variable\.context has \d+ value\(s\); expected one per trial"),
        (lambda u: u["task_variable"]["context"].__setitem__(0, 0), r"context holds \[0\.0\]; expected \+1"),
        (lambda u: u["task_variable"]["stim_dir"].__setitem__(slice(None), 0.3),
         r"bad\.mat: no unit has correct trials in all 72 conditions"),
    ],
)
def test_mante_malformed_files_raise_one_clear_error(tmp_path, change, match):
    path = _mante_bad(tmp_path, change)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the dropped-unit warning before the error
        with pytest.raises(DataFileError, match=match):
            load_mante2013(path)


def test_mante_other_errors(tmp_path):
    import scipy.io

    unit, _, _ = _mante_unit(5)
    good = _save_unit(tmp_path / "a.mat", unit)
    with pytest.raises(DataFileError, match=r"bin_size 0\.0315 s is not a whole number of the file's 0\.001 s"):
        load_mante2013(good, bin_size=0.0315)
    other = dict(unit, time=0.2 + SAMPLE * np.arange(N_SAMPLES))
    _save_unit(tmp_path / "b.mat", other)
    with pytest.raises(DataFileError, match=r"b\.mat: its time grid .* differs from a\.mat's"):
        load_mante2013(tmp_path)
    scipy.io.savemat(tmp_path / "c.mat", {"neuron": unit})
    with pytest.raises(DataFileError, match=r"c\.mat: no struct named 'unit' \(variables: \['neuron'\]\)"):
        load_mante2013([tmp_path / "c.mat"])
    (tmp_path / "d.mat").write_bytes(b"garbage")
    with pytest.raises(DataFileError, match=r"d\.mat: not a MATLAB file scipy can read"):
        load_mante2013([tmp_path / "d.mat"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(MissingFileError, match=r"empty: no \.mat file in this directory"):
        load_mante2013(tmp_path / "empty")


# ---------------------------------------------------------------------------------------------
# BrainIO assemblies


def _assembly(seed=0, n_stimuli=5, repetitions=3, time_bins=((70, 170),), legacy=False):
    """A BrainIO-layout DataArray (MultiIndexes set as a DataAssembly holds them) and its known parts."""
    xr = pytest.importorskip("xarray")
    rng = np.random.default_rng(seed)
    stimulus = np.repeat([f"im{s:03d}" for s in range(n_stimuli)], repetitions)
    order = rng.permutation(len(stimulus))
    objects = np.array(["car", "dog", "face", "chair", "plane"])[np.arange(n_stimuli) % 5]
    values = rng.integers(0, 50, size=(len(stimulus), 4, len(time_bins))).astype(float)
    presentation = {
        "stimulus_id" if not legacy else "image_id": stimulus[order],
        "repetition": np.tile(np.arange(repetitions), n_stimuli)[order],
        "object_name": np.repeat(objects, repetitions)[order],
        "variation": np.repeat(np.arange(n_stimuli) % 3, repetitions)[order],
        "session": rng.integers(0, 2, len(stimulus)),
    }
    neuroid = {"neuroid_id": np.array(["A-1", "A-2", "B-1", "B-2"]), "region": np.array(["IT", "V4", "IT", "IT"]),
               "animal": np.array(["Chabo", "Chabo", "Tito", "Tito"])}
    coords = {**{k: ("presentation", v) for k, v in presentation.items()},
              **{k: ("neuroid", v) for k, v in neuroid.items()},
              "time_bin_start": ("time_bin", np.array([a for a, _ in time_bins])),
              "time_bin_end": ("time_bin", np.array([b for _, b in time_bins]))}
    da = xr.DataArray(values, dims=["presentation", "neuroid", "time_bin"], coords=coords)
    da = da.set_index(presentation=list(presentation), neuroid=list(neuroid), time_bin=["time_bin_start", "time_bin_end"])
    return da, values, presentation, neuroid


def _write_assembly(da, path):
    """What brainio.packaging.write_netcdf does: reset every index, variable 'data', zlib compression."""
    dataset = da.reset_index(list(da.indexes)).to_dataset(name="data")
    dataset.to_netcdf(path, engine="h5netcdf", encoding={v: {"zlib": True, "complevel": 1} for v in dataset.variables})
    return path


def _averaged(values, presentation, id_name="stimulus_id"):
    stimuli = sorted(set(presentation[id_name].tolist()))
    mean = np.stack([values[presentation[id_name] == s].sum(axis=0) / (presentation[id_name] == s).sum()
                     for s in stimuli])
    first = [int(np.flatnonzero(presentation[id_name] == s)[0]) for s in stimuli]
    table = {id_name: stimuli, "object_name": presentation["object_name"][first],
             "variation": presentation["variation"][first], "n_repetitions": [3] * len(stimuli)}
    return mean, table


def test_brainio_loads_to_the_dataset_of_its_arrays(tmp_path):
    da, values, presentation, neuroid = _assembly()
    ds = load_brainio(_write_assembly(da, tmp_path / "assy_test_Majaj.nc"), region="IT")
    mean, table = _averaged(values, presentation)
    it = neuroid["region"] == "IT"
    expected = Dataset(mean[:, it, 0], table, {k: v[it] for k, v in neuroid.items()}, None, ds.provenance)
    assert ds.equals(expected)
    assert ds.provenance["presentation_coords_dropped"] == ["repetition", "session"]
    assert ds.provenance["time_bins_ms"] == [[70.0, 170.0]] and ds.provenance["n_presentations"] == 15


def test_brainio_time_bins_legacy_ids_and_no_averaging(tmp_path):
    da, values, presentation, neuroid = _assembly(seed=1, time_bins=((70, 80), (80, 90), (90, 100)), legacy=True)
    path = _write_assembly(da, tmp_path / "assy.nc")
    ds = load_brainio(path)
    mean, table = _averaged(values, presentation, "image_id")
    assert ds.layout == "time,condition,unit" and ds.dt == pytest.approx(0.01)
    np.testing.assert_array_equal(ds.activity, mean.transpose(2, 0, 1))
    assert ds.conditions["image_id"].tolist() == table["image_id"]
    every = load_brainio(path, average_repetitions=False, region=["V4"])
    np.testing.assert_array_equal(every.activity, values[:, neuroid["region"] == "V4"].transpose(2, 0, 1))
    assert every.conditions["repetition"].tolist() == presentation["repetition"].tolist()


def test_brainio_without_time_bins(tmp_path):
    da, values, presentation, _ = _assembly(seed=2)
    path = tmp_path / "plain.nc"
    da.isel(time_bin=0, drop=True).reset_index(["presentation", "neuroid"]).to_netcdf(path, engine="h5netcdf")
    ds = load_brainio(path)
    assert ds.layout == "sample,unit"
    np.testing.assert_array_equal(ds.activity, _averaged(values, presentation)[0][..., 0])


@pytest.mark.parametrize(
    "change, kwargs, match",
    [
        (lambda d: d.rename({"presentation": "stimulus"}), {},
         r"dimensions \('stimulus', 'neuroid', 'time_bin'\); a BrainIO neural assembly"),
        (lambda d: d.drop_vars("stimulus_id"), {}, r"no stimulus_id \(or image_id\) coordinate along presentation"),
        (lambda d: d, {"region": "V1"}, r"no neuroid in region 'V1' \(regions: \['IT', 'V4'\]\)"),
        (lambda d: d.drop_vars("region"), {"region": "IT"}, r"the neuroids have no region coordinate"),
        (lambda d: d.where(d.repetition != 1), {}, r"NaN or infinite values"),
        (lambda d: d, {"variable": "rates"}, r"no variable 'rates' \(variables: \['data'\]\)"),
    ],
)
def test_brainio_malformed_files_raise_one_clear_error(tmp_path, change, kwargs, match):
    da, _, _, _ = _assembly(seed=3)
    dataset = change(da.reset_index(list(da.indexes))).to_dataset(name="data")
    dataset.to_netcdf(tmp_path / "bad.nc", engine="h5netcdf")
    with pytest.raises(DataFileError, match=r"bad\.nc: .*" + match):
        load_brainio(tmp_path / "bad.nc", **kwargs)


def test_brainio_not_netcdf_and_two_variables(tmp_path):
    (tmp_path / "junk.nc").write_bytes(b"junk")
    with pytest.raises(DataFileError, match=r"junk\.nc: not a netCDF file xarray can read"):
        load_brainio(tmp_path / "junk.nc")
    da, _, _, _ = _assembly(seed=4)
    flat = da.reset_index(list(da.indexes))
    flat.to_dataset(name="a").assign(b=flat).to_netcdf(tmp_path / "two.nc", engine="h5netcdf")
    with pytest.raises(DataFileError, match=r"two\.nc: 2 variables \['a', 'b'\]; name the assembly with variable="):
        load_brainio(tmp_path / "two.nc")
    assert load_brainio(tmp_path / "two.nc", variable="b").n_units == 4
    with pytest.raises(MissingFileError):
        load_brainio(tmp_path / "absent.nc")


def test_brainio_time_bins_in_file_order_are_sorted(tmp_path):
    da, values, presentation, _ = _assembly(seed=2, time_bins=((90, 100), (70, 80), (80, 90)))
    ds = load_brainio(_write_assembly(da, tmp_path / "shuffled.nc"))
    mean, _ = _averaged(values, presentation)
    np.testing.assert_array_equal(ds.activity, mean.transpose(2, 0, 1)[[1, 2, 0]])
    assert ds.dt == pytest.approx(0.01) and ds.provenance["time_bins_ms"][0] == [70.0, 80.0]

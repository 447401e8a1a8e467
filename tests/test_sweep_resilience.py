"""The sweep engine's Done-when checks of identity and resilience (issue 14).

- the test sweep (``sweep_specs.sweep_test_spec``: 3 datasets × 4 measures × 3 seeds of optimize)
  stores identical tables and arrays in-process, on 2 local worker processes and on a Dask
  ``LocalCluster`` of 2 processes;
- a driver killed with SIGKILL at 5 seeded random times and resumed ends with exactly one row per
  cell and the tables of an uninterrupted run (in-process, with ``--workers 2`` and with
  ``--local-cluster 2``, whose workers must not outlive the driver);
- a worker killed mid-cell is replaced and its cell completed (processes and Dask);
- a cell that raises is stored as failed with its message, the others complete, and
  ``rerun_failed`` runs only the failed cells again;
- a group sharing a process pool with a group that kills its worker is not charged for that death.

The reference of every comparison is one uninterrupted in-process run of the same spec.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from sweep_specs import spec_toml, sweep_test_spec

import repalign
from repalign.sweeps import MAX_ATTEMPTS, Processes, Store, run_group, run_sweep

pd = pytest.importorskip("pandas")

STEPS = 100  # Adam steps per cell: long enough for kills to land mid-cell, a few seconds per sweep
TIMING = ["started", "finished", "seconds", "worker"]  # when and where a cell ran, not what it gave
SOURCE = str(Path(repalign.__file__).resolve().parents[1])  # the subprocesses import this repalign


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The test sweep run uninterrupted in this process: its store."""
    folder = tmp_path_factory.mktemp("reference")
    report = run_sweep(sweep_test_spec(STEPS), folder, progress=False)
    assert (report.done, report.failed) == (36, 0)
    return Store(folder)


def assert_same_store(store: Store, reference: Store, *, ignore=TIMING) -> None:
    """Exactly the same cells (in order, less when and where they ran), tables and arrays as ``reference``."""
    left, right = store.cells(), reference.cells()
    pd.testing.assert_frame_equal(left.drop(columns=ignore), right.drop(columns=ignore), check_exact=True)
    assert (left["status"] == "done").all(), left.loc[left.status != "done", ["cell", "error"]]
    arrays = 0
    for key in right["cell"]:
        mine, theirs = store.cell_tables(key), reference.cell_tables(key)
        assert sorted(mine) == sorted(theirs) and theirs, key
        for name in theirs:
            pd.testing.assert_frame_equal(mine[name], theirs[name], check_exact=True, obj=f"cell {key} {name}")
        mine, theirs = store.arrays(key), reference.arrays(key)
        assert sorted(mine) == sorted(theirs), key
        for name in theirs:
            np.testing.assert_array_equal(mine[name], theirs[name], err_msg=f"cell {key} array {name}")
            arrays += 1
    assert arrays >= len(right), "every optimize cell stores its final data"
    for name in reference.table_names():
        pd.testing.assert_frame_equal(store.table(name), reference.table(name), check_exact=True)


def assert_one_row_per_cell(folder, spec) -> None:
    """``cells`` holds each of the spec's keys once (none missing, none extra); ``tables`` one row per (key, name)."""
    from repalign.sweeps import load_spec

    keys = {c.key for c in load_spec(spec).cells()}
    with sqlite3.connect(Path(folder) / "store.sqlite") as connection:
        rows, distinct = connection.execute("SELECT COUNT(*), COUNT(DISTINCT key) FROM cells").fetchone()
        stored = {k for (k,) in connection.execute("SELECT key FROM cells")}
        duplicated = connection.execute("SELECT key, name, COUNT(*) FROM tables GROUP BY key, name "
                                        "HAVING COUNT(*) > 1").fetchall()
        orphans = connection.execute("SELECT COUNT(*) FROM tables WHERE key NOT IN (SELECT key FROM cells)"
                                     ).fetchone()[0]
    assert rows == distinct == len(keys) and stored == keys, (rows, distinct, len(keys))
    assert not duplicated and orphans == 0


def _environment() -> dict:
    path = os.environ.get("PYTHONPATH")
    return {**os.environ, "PYTHONPATH": SOURCE + (os.pathsep + path if path else "")}


def _sweep_command(spec_file, store, *options) -> list[str]:
    return [sys.executable, "-m", "repalign", "sweep", "run", str(spec_file), "--store", str(store), "--no-progress",
            *options]


def _children(pid: int) -> set[int]:
    children = set()
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children |= {int(c) for c in (task / "children").read_text().split()}
        except OSError:
            pass
    return children


def _alive(pid: int) -> bool:
    """The process exists and is not a zombie (a killed driver's children are reaped by whoever adopts them)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state != "Z"


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _spawned_workers(pid: int) -> list[int]:
    """The worker processes that ``pid`` started with multiprocessing's ``spawn`` (not its resource tracker)."""
    return sorted(c for c in _children(pid) if "spawn_main" in _cmdline(c) and "resource_tracker" not in _cmdline(c)
                  and _alive(c))


def _stored(folder) -> int:
    path = Path(folder) / "store.sqlite"
    if not path.exists():
        return 0
    with sqlite3.connect(path, timeout=60) as connection:
        try:
            return connection.execute("SELECT COUNT(*) FROM cells").fetchone()[0]
        except sqlite3.OperationalError:  # killed before the schema was written
            return 0


# --- a failing cell (fast) ---

def test_a_cell_that_raises_is_stored_failed_and_the_others_complete(tmp_path):
    # CCA needs linearly independent units: the ultrametric patterns (20 units, 24 leaves) are rank-deficient
    spec = sweep_test_spec(5, datasets=("mante", "ultra"), measures=("cka", "cca"), seeds=(0, 1))
    report = run_sweep(spec, tmp_path, progress=False)
    assert (report.cells, report.done, report.failed, report.skipped) == (8, 6, 2, 0)
    cells = Store(tmp_path).cells()
    failed = cells[cells.status == "failed"]
    assert sorted(zip(failed.data, failed.measures)) == [("ultra", "cca"), ("ultra", "cca")]
    for error in failed.error:
        assert error.startswith("ValueError: cca: the centred units of X are linearly dependent"), error
    assert (cells.loc[cells.status == "done", "error"].isna()).all()
    assert Store(tmp_path).keys("failed") == set(failed.cell)
    assert not any(Store(tmp_path).cell_tables(key) for key in failed.cell)

    again = run_sweep(spec, tmp_path, progress=False)  # resumed: failed cells are not re-run unasked
    assert (again.done, again.failed, again.skipped) == (0, 0, 8)

    before = Store(tmp_path).cells().set_index("cell")
    rerun = run_sweep(spec, tmp_path, progress=False, rerun_failed=True)
    assert (rerun.done, rerun.failed, rerun.skipped) == (0, 2, 6)
    after = Store(tmp_path).cells().set_index("cell")
    assert_one_row_per_cell(tmp_path, spec)
    done = before.index[before.status == "done"]
    pd.testing.assert_frame_equal(after.loc[done], before.loc[done], check_exact=True)  # untouched
    assert (after.loc[failed.cell, "status"] == "failed").all()
    assert (after.loc[failed.cell, "attempts"] == 1).all()
    assert (after.loc[failed.cell, "finished"] > before.loc[failed.cell, "finished"]).all()  # run again


# --- identity across executors ---

@pytest.mark.slow
@pytest.mark.parametrize("options", [{"workers": 2}, {"local_cluster": 2}], ids=["workers=2", "local_cluster=2"])
def test_the_same_tables_in_process_on_workers_and_on_a_local_cluster(options, reference, tmp_path):
    if "local_cluster" in options:
        pytest.importorskip("distributed")
    spec = sweep_test_spec(STEPS)
    report = run_sweep(spec, tmp_path, progress=False, **options)
    assert (report.done, report.failed, report.workers) == (36, 0, 2)
    assert_same_store(Store(tmp_path), reference)
    workers = Store(tmp_path).cells()["worker"].unique()
    assert len(workers) == 2 and f":{os.getpid()}" not in " ".join(workers)  # ran on two other processes


# --- the driver killed with SIGKILL ---

def _kill_and_resume(tmp_path, reference, options, seed):
    """Run the sweep's command, SIGKILL it at 5 seeded times spread over the uninterrupted run's, resume; the kills."""
    spec = sweep_test_spec(STEPS)
    spec_file = tmp_path / "sweep.toml"
    spec_file.write_text(spec_toml(spec))
    total = len(reference.cells())

    clean = tmp_path / "clean"
    subprocess.run(_sweep_command(spec_file, clean, *options), env=_environment(), check=True, capture_output=True)
    finished = Store(clean).cells()["finished"]
    storing = finished.max() - finished.min()  # from its first cell stored to its last (no start-up, no closing)
    assert_same_store(Store(clean), reference)  # the command line stores what run_sweep does

    # 5 seeded kill times: each driver is killed a random time after it stores its first cell (a kill in the
    # start-up, with nothing written, tests little, and the start-up's length varies with the machine's load),
    # uniform over the uninterrupted run's time storing the cells left, shared among the kills left and the last run
    rng = np.random.default_rng(seed)
    store, mid_sweep, outlived, kills = tmp_path / "killed", [], [], []
    for round_ in range(5):
        before = _stored(store)
        if before == total:
            break
        delay = rng.uniform(0.0, 1.0) * storing * (total - before) / total / (6 - round_)
        driver = subprocess.Popen(_sweep_command(spec_file, store, *options), env=_environment(),
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        children, stop = set(), None
        while driver.poll() is None and (stop is None or time.perf_counter() < stop):
            children |= _children(driver.pid)
            if stop is None and _stored(store) > before:
                stop = time.perf_counter() + delay
            time.sleep(0.02)
        if driver.poll() is None:
            children |= _children(driver.pid)
            driver.send_signal(signal.SIGKILL)
            driver.wait()
            stored = _stored(store)
            kills.append((round(float(delay), 2), before, stored))
            if before < stored < total:  # it stored cells, then died with cells left
                mid_sweep.append(stored)
            deadline = time.perf_counter() + 5.0
            while any(_alive(c) for c in children) and time.perf_counter() < deadline:
                time.sleep(0.1)
            outlived += [c for c in children if _alive(c)]
        else:
            assert driver.returncode == 0
    for pid in outlived:  # leave nothing behind, then fail
        os.kill(pid, signal.SIGKILL)
    assert not outlived, f"processes outlived the killed driver by 5 s: {outlived}"
    assert len(mid_sweep) >= 2, (f"too few kills landed mid-sweep: (delay, cells stored before, after) {kills}; "
                                 f"the uninterrupted run stored its cells in {storing:.1f} s")

    subprocess.run(_sweep_command(spec_file, store, *options), env=_environment(), check=True, capture_output=True)
    assert_one_row_per_cell(store, spec)
    assert_same_store(Store(store), reference)
    return kills


@pytest.mark.slow
def test_a_driver_killed_at_random_times_and_resumed_loses_and_repeats_nothing(reference, tmp_path):
    print("kills (delay after the first stored cell, cells stored before, after):",
          _kill_and_resume(tmp_path, reference, (), seed=14))


@pytest.mark.slow
def test_a_driver_with_workers_killed_at_random_times_leaves_no_worker_and_resumes(reference, tmp_path):
    print("kills (delay after the first stored cell, cells stored before, after):",
          _kill_and_resume(tmp_path, reference, ("--workers", "2"), seed=41))


@pytest.mark.slow
def test_a_driver_with_a_local_cluster_killed_at_random_times_leaves_no_worker_and_resumes(reference, tmp_path):
    pytest.importorskip("distributed")
    print("kills (delay after the first stored cell, cells stored before, after):",
          _kill_and_resume(tmp_path, reference, ("--local-cluster", "2"), seed=7))


# --- a worker killed mid-cell ---

def _kill_a_worker_when_warm(folder, find_busy_worker, killed: list) -> threading.Thread:
    """A thread that, once a cell is stored (the workers are warm), SIGKILLs a worker that is running a group."""
    def kill():
        deadline = time.perf_counter() + 120
        while time.perf_counter() < deadline:
            if _stored(folder) >= 3:
                pid = find_busy_worker()
                if pid is not None:
                    os.kill(pid, signal.SIGKILL)
                    killed.append((pid, time.time()))
                    return
            time.sleep(0.02)

    thread = threading.Thread(target=kill, daemon=True)
    thread.start()
    return thread


@pytest.mark.slow
def test_a_worker_process_killed_mid_cell_is_replaced_and_its_cells_run_again(reference, tmp_path):
    killed = []
    # both workers are running a group whenever groups are left: any of them is mid-cell
    thread = _kill_a_worker_when_warm(tmp_path, lambda: (_spawned_workers(os.getpid()) or [None])[0], killed)
    report = run_sweep(sweep_test_spec(STEPS), tmp_path, progress=False, workers=2)
    thread.join()
    assert killed, "no worker was killed"
    assert (report.done, report.failed) == (36, 0)
    cells = Store(tmp_path).cells()
    again = cells[cells.attempts > 1]
    assert len(again) >= 3, "the killed worker's group (3 seeds) ran again"
    assert (again.attempts == 2).all()
    pid = killed[0][0]
    assert not again.worker.str.endswith(f":{pid}").any()
    assert_same_store(Store(tmp_path), reference, ignore=[*TIMING, "attempts"])


@pytest.mark.slow
def test_a_dask_worker_killed_mid_cell_is_replaced_and_its_cells_complete(reference, tmp_path):
    pytest.importorskip("distributed")
    from repalign.sweeps import DaskExecutor

    executor = DaskExecutor(local_workers=2)
    client = executor.client

    def busy_worker():
        processing = client.processing()
        pids = client.run(os.getpid)
        busy = [pids[address] for address, tasks in processing.items() if tasks and address in pids]
        return busy[0] if busy else None

    killed = []
    thread = _kill_a_worker_when_warm(tmp_path, busy_worker, killed)
    report = run_sweep(sweep_test_spec(STEPS), tmp_path, progress=False, executor=executor)
    thread.join()
    assert killed, "no worker was killed"
    assert (report.done, report.failed) == (36, 0)
    pid, when = killed[0]
    cells = Store(tmp_path).cells()
    after = cells[cells.finished > when]
    assert len(after) and not after.worker.str.endswith(f":{pid}").any()  # a dead worker finishes nothing
    assert_same_store(Store(tmp_path), reference, ignore=[*TIMING, "attempts"])


def die(task):
    os._exit(9)


@pytest.mark.slow
def test_a_pool_broken_between_waits_takes_the_next_group_on_a_new_pool():
    # a worker dies while the driver is storing another group: its next submit finds the pool broken
    from repalign.sweeps.execute import _Wrapped
    from repalign.sweeps.spec import load_spec

    spec = load_spec(sweep_test_spec(5, datasets=("twopc",), measures=("cka",), seeds=(0,)))
    cell = spec.cells()[0]
    task = {"experiment": "optimize", "group": cell.group, "attempt": 1, "datasets": spec.datasets,
            "cells": [{"key": cell.key, "settings": cell.settings}]}
    executor = Processes(1)
    try:
        pool = executor._executor()
        dead = _Wrapped(pool.submit(die, task), pool)
        deadline = time.perf_counter() + 60
        while not dead.done() and time.perf_counter() < deadline:
            time.sleep(0.05)
        assert dead.done()
        future = executor.submit(task)  # not waited on since: the executor still holds the broken pool
        assert executor.wait([future, dead], timeout=60)
        with pytest.raises(repalign.sweeps.WorkerDied):
            dead.result()
        deadline = time.perf_counter() + 60
        while not future.done() and time.perf_counter() < deadline:
            executor.wait([future], timeout=5)
        [outcome] = future.result()
        assert (outcome.key, outcome.status) == (cell.key, "done")
    finally:
        executor.close()


# --- a group that kills its worker does not fail the groups beside it ---

def _wait_for(marks: Path, pattern: str) -> None:
    deadline = time.perf_counter() + 60
    while not any(marks.glob(pattern)) and time.perf_counter() < deadline:
        time.sleep(0.01)


def run_group_or_die(task):
    """run_group, except that the group of the cells on the dataset ``ultra`` kills its worker process.

    The two first groups meet (each leaves a file in ``$REPALIGN_TEST_MARKS`` and waits for the
    other's), so the other group is running when ``ultra`` dies.
    """
    marks = Path(os.environ["REPALIGN_TEST_MARKS"])
    poison = any(cell["settings"]["data"] == "ultra" for cell in task["cells"])
    (marks / f"{'poison' if poison else 'group'}-{task['group']}-{task['attempt']}").touch()
    _wait_for(marks, "group-*" if poison else "poison-*")
    if poison:
        os._exit(9)
    time.sleep(0.5)  # still running when the other worker dies
    return run_group(task)


class _DyingProcesses(Processes):
    def submit(self, task):
        return self._submit(run_group_or_die, task)


@pytest.mark.slow
def test_only_the_group_that_kills_its_worker_fails(tmp_path, monkeypatch):
    (tmp_path / "marks").mkdir()
    monkeypatch.setenv("REPALIGN_TEST_MARKS", str(tmp_path / "marks"))
    spec = sweep_test_spec(5, datasets=("mante", "ultra", "twopc"), measures=("cka",), seeds=(0, 1))
    report = run_sweep(spec, tmp_path / "store", progress=False, executor=_DyingProcesses(2))
    cells = Store(tmp_path / "store").cells()
    failed = cells[cells.status == "failed"]
    assert sorted(failed.data) == ["ultra", "ultra"] and (report.done, report.failed) == (4, 2)
    assert (cells.loc[cells.status == "done", "attempts"] <= 2).all()  # one death beside ultra at most
    assert (failed.attempts == MAX_ATTEMPTS).all()
    assert failed.error.str.contains(f"gave up after {MAX_ATTEMPTS} attempts").all()
    assert_one_row_per_cell(tmp_path / "store", spec)

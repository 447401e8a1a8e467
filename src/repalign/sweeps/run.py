"""The driver of a sweep: submit the unfinished groups, store each finished cell, resume where it stopped."""

from __future__ import annotations

import dataclasses
import math
import threading
import time
from collections import OrderedDict
from pathlib import Path

from .._checks import check_bool, progress_bar
from .execute import WorkerDied, check_executor, make_executor
from .spec import Cell, Spec, load_spec
from .store import HEARTBEAT, Outcome, Store

__all__ = ["run_sweep", "SweepReport", "sweep_status", "SweepStatus", "MAX_ATTEMPTS"]

MAX_ATTEMPTS = 3  # a group started this many times, its worker dying under it alone at the last, is stored as failed


@dataclasses.dataclass(frozen=True)
class SweepReport:
    """What one :func:`run_sweep` call did.

    Attributes:
        store: the store folder.
        cells: the spec's cells.
        skipped: cells already stored (done, or failed without ``rerun_failed``) and not run.
        done, failed: cells this call stored as done and as failed.
        seconds: wall-clock time of the call.
        executor: where the cells ran (``in-process``, ``processes``, ``dask ...``).
        workers: how many ran at once.
    """

    store: Path
    cells: int
    skipped: int
    done: int
    failed: int
    seconds: float
    executor: str
    workers: int

    def __str__(self) -> str:
        if self.done + self.failed == 0 and self.skipped == self.cells:
            return f"all {self.cells} cells were stored before: nothing to run (store {self.store})"
        rate = f", {60 * (self.done + self.failed) / self.seconds:.1f} cells/min" if self.seconds > 0 else ""
        return (f"{self.cells} cells: {self.done} done and {self.failed} failed now, {self.skipped} stored before "
                f"({self.executor}, {self.workers} worker{'s' * (self.workers > 1)}, {self.seconds:.1f} s{rate}); "
                f"store {self.store}")


def _groups(cells: list[Cell]) -> OrderedDict:
    groups: OrderedDict = OrderedDict()
    for position, cell in enumerate(cells):
        groups.setdefault(cell.group, []).append((position, cell))
    return groups


def run_sweep(spec, store=None, *, workers: int | None = None, scheduler: str | None = None,
              local_cluster: int | None = None, rerun_failed: bool = False, progress: bool | None = None,
              executor=None) -> SweepReport:
    """Run every cell of ``spec`` not stored yet, storing each as it finishes.

    Args:
        spec: a TOML file, a dict or a :class:`~repalign.sweeps.Spec` (:func:`~repalign.sweeps.load_spec`).
        store: the store folder (default: the spec's ``store``, ``<name>.sweep`` beside the spec).
        workers: run on this many local worker processes (default: in this process).
        scheduler: run on the Dask cluster of this scheduler address (``tcp://host:8786``).
        local_cluster: run on a Dask ``LocalCluster`` of this many single-threaded worker processes.
        rerun_failed: run the cells stored as failed again (a cell stored as done never runs again).
        progress: a progress bar over the cells (None: in a terminal, once the sweep lasts a while).
        executor: an executor object of one's own (``submit``, ``wait``, ``close``; see
            :mod:`repalign.sweeps.execute`) instead of the three options above.

    Every cell runs on one torch and BLAS thread. Cells that differ only in the experiment's batch
    fields (the seed for ``optimize``) run as one group in one batched call; a group with any
    unfinished cell runs whole, and its cells stored before are kept as they were (``INSERT OR
    IGNORE``), so a resumed sweep stores the same numbers as one never stopped. A cell that raises is
    stored as failed with its message; a group whose worker dies is submitted again, running alone
    (a worker's death takes down the groups beside it, which are not to blame), and stored as failed
    once it has been started :data:`MAX_ATTEMPTS` times and its worker died under it alone.
    """
    spec = load_spec(spec)
    check_bool(rerun_failed, "rerun_failed")
    check_bool(progress, "progress", allow_none=True)
    if executor is None:
        check_executor(workers=workers, scheduler=scheduler, local_cluster=local_cluster)
    store = Store(spec.store if store is None else store)
    started = time.perf_counter()
    cells = spec.cells()
    done, failed = store.keys("done"), store.keys("failed")
    finished = done if rerun_failed else done | failed
    groups = _groups(cells)
    todo = [g for g, members in groups.items() if any(c.key not in finished for _, c in members)]
    remaining = sum(1 for c in cells if c.key not in finished)
    counts = {"done": 0, "failed": 0}
    if not todo:
        return SweepReport(store.folder, len(cells), len(cells), 0, 0, time.perf_counter() - started, "none", 0)
    if executor is None:
        executor = make_executor(workers=workers, scheduler=scheduler, local_cluster=local_cluster)
    bar = progress_bar(enabled=progress, total=len(cells), initial=len(cells) - remaining,
                       description=f"sweep {spec.name}", unit="cell")
    where, n_workers = executor.name, executor.workers
    try:
        store.start_driver(sweep=spec.name, cells=len(cells), workers=n_workers, executor=where)
        beating = _Heartbeat(store.folder)
        try:
            _drive(spec, store, executor, groups, todo, finished, failed if rerun_failed else set(), counts, bar)
        finally:
            beating.stop()
            store.heartbeat(finished=True)
    finally:
        executor.close()
        if bar is not None:
            bar.close()
        store.close()
    return SweepReport(store.folder, len(cells), len(cells) - remaining, counts["done"], counts["failed"],
                       time.perf_counter() - started, where, n_workers)


def _drive(spec: Spec, store: Store, executor, groups, todo, finished, replace, counts, bar) -> None:
    queue = list(todo)
    attempts = dict.fromkeys(todo, 1)
    in_flight = {}
    # A worker's death kills every group on its pool (Python's process pool), so it cannot be laid on one
    # group: the groups in flight become suspects, each run again alone, and only a death alone counts
    # towards MAX_ATTEMPTS (else a group that kills its worker would fail the groups beside it too).
    suspects, alone = set(), None
    datasets = {n: spec.datasets[n] for n in spec.dataset_names()}
    while queue or in_flight:
        while queue and len(in_flight) < executor.workers and alone is None:
            if queue[0] in suspects:
                if in_flight:
                    break  # it runs once the others are done
                alone = queue[0]
            group = queue.pop(0)
            members = [c for _, c in groups[group]]
            task = {"experiment": spec.experiment, "group": group, "attempt": attempts[group], "datasets": datasets,
                    "cells": [{"key": c.key, "settings": c.settings} for c in members]}
            store.mark_running([c.key for c in members if c.key not in finished], sweep=spec.name)
            in_flight[executor.submit(task)] = group
        for future in executor.wait(list(in_flight), timeout=HEARTBEAT):
            group = in_flight.pop(future)
            ran_alone, alone = group == alone, None if group == alone else alone
            members = [c for _, c in groups[group]]
            try:
                outcomes = future.result()
            except WorkerDied as error:
                if attempts[group] < MAX_ATTEMPTS or not ran_alone:
                    attempts[group] += 1
                    suspects.add(group)
                    queue.insert(0, group)
                    continue
                outcomes = [Outcome(c.key, "failed", error=f"{error}; gave up after {MAX_ATTEMPTS} attempts",
                                    attempts=attempts[group]) for c in members]
            for position_cell, outcome in zip(groups[group], outcomes):
                position, cell = position_cell
                if cell.key in finished:
                    continue
                stored = store.write(outcome, cell, sweep=spec.name, experiment=spec.experiment, position=position,
                                     replace_failed=cell.key in replace)
                if stored:
                    counts[outcome.status] += 1
                    finished.add(cell.key)
                    if bar is not None:
                        bar.update(1)
            if bar is not None:
                bar.set_postfix_str(f"{counts['failed']} failed" if counts["failed"] else "")


class _Heartbeat:
    """The driver's heartbeat every :data:`~repalign.sweeps.store.HEARTBEAT` seconds, on its own thread and connection."""

    def __init__(self, folder):
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, args=(folder,), daemon=True, name="repalign-heartbeat")
        self._thread.start()

    def _beat(self, folder):
        store = Store(folder)
        try:
            while not self._stop.wait(HEARTBEAT):
                store.heartbeat()
        finally:
            store.close()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


@dataclasses.dataclass(frozen=True)
class SweepStatus:
    """Where a sweep stands: cells done, running, failed and remaining, and the time left.

    Attributes:
        total: the spec's cells (or the last driver's count when no spec is given).
        done, failed, running, remaining: cells in each state (running: in flight while a driver is alive).
        driver_alive: a driver has written its heartbeat in the last ``4 × HEARTBEAT`` seconds (and, on this
            host, its process exists).
        seconds_per_cell: mean compute time of the done cells (None before the first).
        workers: workers of the running (or last) driver.
        eta_seconds: remaining cells × seconds per cell / workers, while a driver runs (else None).
        failures: key, axis values and first line of the error of each failed cell.
    """

    total: int
    done: int
    failed: int
    running: int
    remaining: int
    driver_alive: bool
    seconds_per_cell: float | None
    workers: int
    eta_seconds: float | None
    failures: list

    def __str__(self) -> str:
        lines = [f"{self.total} cells: {self.done} done, {self.running} running, {self.failed} failed, "
                 f"{self.remaining} remaining"]
        if self.seconds_per_cell is not None:
            lines.append(f"{self.seconds_per_cell:.2f} s per cell on one worker")
        if self.driver_alive:
            eta = "unknown" if self.eta_seconds is None else _duration(self.eta_seconds)
            lines.append(f"a driver is running with {self.workers} worker(s): about {eta} left")
        elif self.remaining or self.failed:
            lines.append("no driver is running: `repalign sweep run SPEC` resumes (--rerun-failed for the failed)")
        for failure in self.failures:
            lines.append(f"failed {failure['cell']} {failure['values']}: {failure['error']}")
        return "\n".join(lines)


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def sweep_status(store, spec=None) -> SweepStatus:
    """The status of the sweep stored in ``store`` (with ``spec``: counted against its cells)."""
    import json

    folder = Path(store)
    store = Store(folder, create=False)
    try:
        keys = {"done": store.keys("done"), "failed": store.keys("failed")}
        driver = store.driver()
        alive = store.driver_alive()
        running = {k for k, _ in store.running()} if alive else set()
        wanted = None
        if spec is not None:
            wanted = {c.key for c in load_spec(spec).cells()}
            keys = {s: k & wanted for s, k in keys.items()}
            running &= wanted
            total = len(wanted)
        else:
            total = driver["cells"] if driver and driver["cells"] else len(keys["done"]) + len(keys["failed"])
        table = store.cells(wanted)
        seconds = table.loc[table["status"] == "done", "seconds"].dropna() if len(table) else []
        per_cell = float(seconds.mean()) if len(seconds) else None
        failures = [{"cell": r.cell, "values": json.loads(r.axes), "error": (r.error or "").splitlines()[0]}
                    for r in table[table["status"] == "failed"].itertuples() if r.cell in keys["failed"]] \
            if len(table) else []
    finally:
        store.close()
    remaining = max(total - len(keys["done"]) - len(keys["failed"]) - len(running), 0)
    workers = driver["workers"] if driver and driver["workers"] else 1
    eta = None
    if alive and per_cell is not None:
        eta = (remaining + len(running)) * per_cell / workers
    return SweepStatus(total, len(keys["done"]), len(keys["failed"]), len(running), remaining, alive, per_cell,
                       workers, eta if eta is None or math.isfinite(eta) else None, failures)

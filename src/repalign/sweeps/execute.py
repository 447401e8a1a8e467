"""Where a sweep's cells run: in the driver, in local worker processes, or on a Dask cluster.

The unit of work is a **group**: the cells that differ only in the experiment's batch fields
(:func:`repalign.experiments.batch_fields`), run in one batched call by :func:`run_group` on
one torch and BLAS thread. Every executor has the same three methods: ``submit(task)`` returns
a future, ``wait(futures, timeout)`` returns the finished ones, ``close()``; a future's
``result()`` is the group's list of :class:`~repalign.sweeps.store.Outcome` or raises
:class:`WorkerDied` when the process running it died (the driver submits it again).

- :class:`InProcess` — the default: nothing to start, each group runs in the driver when waited on.
- :class:`Processes` — ``workers`` local processes (``spawn``), rebuilt when one dies.
- :class:`DaskExecutor` — a Dask distributed cluster: an existing scheduler's address, or a
  ``LocalCluster`` of separate processes. Dask itself re-runs the tasks of a worker that dies (up
  to its ``allowed-failures``, then :class:`WorkerDied`).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import multiprocessing
import os
import socket
import threading
import time
import traceback
from collections import OrderedDict

from .._checks import SettingsError
from .._optional import require
from .._threads import limit_threads
from .._version import versions
from .._warnings import warn
from .store import Outcome

__all__ = ["run_group", "InProcess", "Processes", "DaskExecutor", "WorkerDied", "make_executor", "check_executor"]

_CACHE_SIZE = 8  # datasets kept per process (a group reads one, a compare cell two)
_datasets: OrderedDict = OrderedDict()


class WorkerDied(RuntimeError):
    """The process running a group died (killed, out of memory) before returning it."""


def _dataset(source):
    """The Dataset of a :class:`~repalign.sweeps.spec.DatasetSource`, loaded once per process."""
    key = json.dumps(source.identity, sort_keys=True)
    if key in _datasets:
        _datasets.move_to_end(key)
    else:
        _datasets[key] = source.load()
        while len(_datasets) > _CACHE_SIZE:
            _datasets.popitem(last=False)
    return _datasets[key]


def _message(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}\n\n" + "".join(traceback.format_exception(error)).rstrip()


def run_group(task: dict) -> list[Outcome]:
    """Run one group of cells on one thread; an Outcome per cell, in order (never raises for a cell's error).

    ``task``: ``experiment``, ``cells`` (each a dict with ``key`` and ``settings``: the experiment's
    settings with dataset names in its data fields), ``datasets`` (name → DatasetSource) and
    ``attempt``. The group runs as one :func:`repalign.experiments.run_batch` call; when that raises,
    each cell runs alone, so one cell's error (a measure that rejects a dataset) is that cell's only.
    """
    from .. import experiments
    from .spec import DATA_FIELDS

    worker = f"{socket.gethostname()}:{os.getpid()}"
    started, clock = time.time(), time.perf_counter()
    cells, experiment = task["cells"], task["experiment"]
    progress = "progress" in {f.name for f in _fields(experiment)}
    with limit_threads(1):
        try:
            settings = [{**{f: _dataset(task["datasets"][v]) if f in DATA_FIELDS and isinstance(v, str) else v
                            for f, v in cell["settings"].items()}, **({"progress": False} if progress else {})}
                        for cell in cells]
        except Exception as error:  # noqa: BLE001 -- a dataset that cannot be read fails its cells, not the sweep
            message = f"reading the dataset failed: {_message(error)}"
            return [_outcome(cell, task, "failed", error=message, started=started, clock=clock, share=len(cells),
                             worker=worker) for cell in cells]
        try:
            records = experiments.run_batch(experiment, settings)
        except Exception as error:  # noqa: BLE001
            if len(cells) == 1:
                return [_outcome(cells[0], task, "failed", error=_message(error), started=started, clock=clock,
                                 share=1, worker=worker)]
            return [_alone(experiment, cell, one, task, worker) for cell, one in zip(cells, settings)]
    return [_outcome(cell, task, "done", record=record, started=started, clock=clock, share=len(cells),
                     worker=worker) for cell, record in zip(cells, records)]


def _fields(experiment: str):
    import dataclasses

    from .. import experiments

    return dataclasses.fields(experiments.settings_class(experiment))


def _alone(experiment: str, cell: dict, settings: dict, task: dict, worker: str) -> Outcome:
    from .. import experiments

    started, clock = time.time(), time.perf_counter()
    try:
        record = experiments.run_batch(experiment, [settings])
    except Exception as error:  # noqa: BLE001
        return _outcome(cell, task, "failed", error=_message(error), started=started, clock=clock, share=1,
                        worker=worker)
    return _outcome(cell, task, "done", record=record[0], started=started, clock=clock, share=1, worker=worker)


def _outcome(cell, task, status, *, record=None, error=None, started, clock, share, worker) -> Outcome:
    return Outcome(cell["key"], status, error=error, tables=record.tables if record is not None else None,
                   arrays=record.arrays if record is not None else None, started=started, finished=time.time(),
                   seconds=(time.perf_counter() - clock) / share, worker=worker,
                   versions=record.versions if record is not None else versions(), attempts=task["attempt"])


class InProcess:
    """Runs each group in the driver, one at a time, when the driver waits for it: nothing to start."""

    name = "in-process"
    workers = 1

    def submit(self, task) -> concurrent.futures.Future:
        """A future of ``task``'s outcomes; the group runs when :meth:`wait` reaches it."""
        future = concurrent.futures.Future()
        future.task = task
        return future

    def wait(self, futures, timeout=None) -> list:
        """Run the first unfinished group of ``futures`` here (``timeout`` does not apply); the finished futures."""
        for future in futures:
            if not future.done():
                future.set_result(run_group(future.task))
                return [future]
        return [f for f in futures if f.done()]

    def close(self) -> None:
        """Nothing to stop."""


def _watch_parent(parent: int) -> None:
    """In a worker: exit when the driver that started it is gone (SIGKILL leaves no one to stop us)."""
    def watch():
        while True:
            if os.getppid() != parent:
                os._exit(1)
            time.sleep(1.0)

    threading.Thread(target=watch, daemon=True, name="repalign-watch-parent").start()


class Processes:
    """``workers`` local worker processes (started with ``spawn``: torch is not fork-safe).

    When a worker dies, Python's pool is broken: every group it had in flight fails with
    :class:`WorkerDied` and the pool is started anew for the groups the driver submits again.
    """

    name = "processes"

    def __init__(self, workers: int):
        self.workers = workers
        self._pool = None

    def _executor(self):
        if self._pool is None:
            self._pool = concurrent.futures.ProcessPoolExecutor(
                max_workers=self.workers, mp_context=multiprocessing.get_context("spawn"),
                initializer=_watch_parent, initargs=(os.getpid(),))
        return self._pool

    def submit(self, task):
        """Send ``task`` to the pool (a new pool when the last one broke); a future of its outcomes."""
        return self._submit(run_group, task)

    def _submit(self, function, task):
        pool = self._executor()
        try:
            return _Wrapped(pool.submit(function, task), pool)
        except concurrent.futures.process.BrokenProcessPool:
            # a worker died since the last wait (while another group finished): its futures will say
            # WorkerDied; this group goes to a new pool
            self._discard(pool)
            pool = self._executor()
            return _Wrapped(pool.submit(function, task), pool)

    def _discard(self, pool) -> None:
        if self._pool is pool:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    def wait(self, futures, timeout=None) -> list:
        """The futures of ``futures`` finished within ``timeout`` seconds (at least one, or none at the timeout)."""
        inner = {f.inner: f for f in futures}
        done, _ = concurrent.futures.wait(list(inner), timeout=timeout,
                                          return_when=concurrent.futures.FIRST_COMPLETED)
        for pool in {inner[f].pool for f in done
                     if isinstance(f.exception(), concurrent.futures.process.BrokenProcessPool)}:
            self._discard(pool)  # the next submit starts a new pool
        return [inner[f] for f in done]

    def close(self) -> None:
        """Stop the workers (after the groups they are running)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


class _Wrapped:
    """A pool's future whose ``result()`` turns a broken pool into :class:`WorkerDied`."""

    def __init__(self, inner, pool):
        self.inner, self.pool = inner, pool

    def done(self) -> bool:
        return self.inner.done()

    def result(self):
        try:
            return self.inner.result()
        except concurrent.futures.process.BrokenProcessPool as error:
            raise WorkerDied(f"a worker process died ({error})") from None


class DaskExecutor:
    """Groups as Dask tasks on a distributed cluster: ``scheduler`` (an address such as
    ``tcp://host:8786``, or the JSON file of ``dask scheduler --scheduler-file``) or, with ``local_workers``, a ``LocalCluster`` of that many single-threaded
    worker processes started here (closed by :meth:`close`)."""

    name = "dask"

    def __init__(self, scheduler: str | None = None, *, local_workers: int | None = None):
        distributed = require("distributed", "dask", "running a sweep on a Dask cluster")
        self._distributed = distributed
        self._cluster = None
        if local_workers is not None:
            self._cluster = distributed.LocalCluster(n_workers=local_workers, threads_per_worker=1, processes=True,
                                                     dashboard_address=None)
            self.client = distributed.Client(self._cluster)
        elif str(scheduler).endswith(".json"):  # the file of `dask scheduler --scheduler-file`
            path = os.path.expanduser(scheduler)
            if not os.path.isfile(path):
                raise SettingsError("scheduler", f"no scheduler file {path} (written by `dask scheduler "
                                                 "--scheduler-file PATH`)")
            self.client = distributed.Client(scheduler_file=path)
        else:
            self.client = distributed.Client(scheduler)
        self.address = scheduler
        self.name = "dask LocalCluster" if local_workers is not None else f"dask {scheduler}"
        crowded = sorted(w for w, n in self.client.nthreads().items() if n > 1)
        if crowded:
            warn(f"scheduler: {len(crowded)} Dask worker(s) run several threads ({crowded[0]}, ...); groups sharing a "
                 "process share its torch and BLAS thread settings, so start workers with `--nthreads 1` (one "
                 "thread per process, the numbers of one)")

    @property
    def workers(self) -> int:
        return max(1, sum(self.client.nthreads().values()))

    def submit(self, task):
        """Submit ``task`` as a Dask task (a key of its own per attempt); a future of its outcomes."""
        key = f"repalign-sweep-{task['group']}-{task['attempt']}-{time.time_ns()}"
        return _DaskFuture(self.client.submit(run_group, task, key=key, pure=False), self._distributed)

    def wait(self, futures, timeout=None) -> list:
        """The futures of ``futures`` finished within ``timeout`` seconds (at least one, or none at the timeout)."""
        inner = {f.inner.key: f for f in futures}
        try:
            done, _ = self._distributed.wait([f.inner for f in futures], timeout=timeout,
                                             return_when="FIRST_COMPLETED")
        except TimeoutError:  # distributed's TimeoutError is the built-in one
            return []
        except _CANCELLED as error:
            raise _lost(self.address, error) from None
        return [inner[f.key] for f in done]

    def close(self) -> None:
        """Close the client (and the LocalCluster started here)."""
        self.client.close()
        if self._cluster is not None:
            self._cluster.close()


class _DaskFuture:
    def __init__(self, inner, distributed):
        self.inner, self._distributed = inner, distributed

    def done(self) -> bool:
        return self.inner.done()

    def result(self):
        try:
            return self.inner.result()
        except self._distributed.KilledWorker as error:
            raise WorkerDied(f"the Dask workers running it died ({error})") from None
        except _CANCELLED as error:
            raise _lost(None, error) from None


# how a Dask future ends when the scheduler is gone: cancelled (FuturesCancelledError is a CancelledError)
_CANCELLED = (concurrent.futures.CancelledError, asyncio.CancelledError, OSError)


def _lost(address, error) -> RuntimeError:
    where = f" {address}" if address else ""
    return RuntimeError(f"lost the Dask scheduler{where} ({type(error).__name__}: {error}); the finished cells are "
                        "stored: run the same `repalign sweep run` again to resume")


def check_executor(*, workers=None, scheduler=None, local_cluster=None) -> tuple[str, object]:
    """The executor the options ask for, checked, as ``(kind, value)``: ``("in-process", None)``,
    ``("processes", workers)``, ``("scheduler", address)`` or ``("local_cluster", workers)``."""
    from .._checks import SettingsError, check_count

    given = [n for n, v in (("workers", workers), ("scheduler", scheduler), ("local_cluster", local_cluster))
             if v is not None]
    if len(given) > 1:
        raise SettingsError(given[1], "give only one of --workers, --scheduler and --local-cluster (in Python: "
                                      f"workers, scheduler, local_cluster); got {given}")
    if scheduler is not None:
        if not isinstance(scheduler, str) or not scheduler:
            raise SettingsError("scheduler", f"expected a scheduler address such as tcp://host:8786, got {scheduler!r}")
        return "scheduler", scheduler
    if local_cluster is not None:
        return "local_cluster", check_count(local_cluster, "local_cluster", 1)
    if workers is None:
        return "in-process", None
    return "processes", check_count(workers, "workers", 1)


def make_executor(*, workers: int | None = None, scheduler: str | None = None, local_cluster: int | None = None):
    """The executor the options ask for: in-process (none given), ``workers`` processes, or Dask."""
    kind, value = check_executor(workers=workers, scheduler=scheduler, local_cluster=local_cluster)
    if kind == "scheduler":
        return DaskExecutor(value)
    if kind == "local_cluster":
        return DaskExecutor(local_workers=value)
    return InProcess() if kind == "in-process" else Processes(value)

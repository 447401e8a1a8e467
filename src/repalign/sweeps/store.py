"""The results store of a sweep: one SQLite database in WAL mode and array files beside it.

Layout of a store folder::

    store.sqlite          cells, their tables, the cells in flight, the driver's heartbeat
    arrays/<key>/<name>.npy   large arrays (an optimization's final Y), one folder per cell

The driver of a sweep is the store's only writer. Each finished cell is written in **one
transaction**: its row in ``cells`` (settings, axis values, status, error, timings, worker,
versions) and its tidy tables in ``tables`` (each table's columns as a ``.npz`` blob, the same
column encoding as :class:`repalign.results.Record`: exact values and dtypes, no pickle), keyed by
the cell's key with ``INSERT OR IGNORE``: a cell is stored once, whatever happens. Its arrays are
written first, each to a temporary name and renamed, so a file that exists is whole. A driver
killed at any point (SIGKILL included) loses only the cells it had not committed; SQLite's WAL
with ``synchronous=FULL`` keeps committed cells across a crash of the machine too.

Readers (``repalign sweep status``, :meth:`Store.table`, :meth:`Store.export`) may open the store
while a sweep writes to it.
"""

from __future__ import annotations

import io
import json
import os
import socket
import sqlite3
import time
from collections.abc import Mapping
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from .._checks import SettingsError
from .._optional import import_pandas, require
from .._tables import column_arrays, column_spec, table_from_arrays

__all__ = ["Store", "Outcome", "DATABASE", "SCHEMA_VERSION"]

DATABASE = "store.sqlite"
SCHEMA_VERSION = 1
HEARTBEAT = 5.0  # seconds between the driver's heartbeats; status calls a driver silent for 4 of them gone
_TIMEOUT = 60.0  # seconds a connection waits for a lock
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS cells (
    key TEXT PRIMARY KEY,
    sweep TEXT NOT NULL,
    experiment TEXT NOT NULL,
    grp TEXT NOT NULL,
    position INTEGER NOT NULL,
    axes TEXT NOT NULL,
    settings TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('done', 'failed')),
    error TEXT,
    started REAL,
    finished REAL,
    seconds REAL,
    worker TEXT,
    attempts INTEGER NOT NULL,
    versions TEXT NOT NULL,
    arrays TEXT NOT NULL,
    written REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS tables (
    key TEXT NOT NULL REFERENCES cells (key) ON DELETE CASCADE,
    name TEXT NOT NULL,
    columns TEXT NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (key, name)
);
CREATE TABLE IF NOT EXISTS running (key TEXT PRIMARY KEY, sweep TEXT NOT NULL, since REAL NOT NULL, worker TEXT);
CREATE TABLE IF NOT EXISTS driver (
    id INTEGER PRIMARY KEY CHECK (id = 1), sweep TEXT, pid INTEGER, host TEXT, started REAL, heartbeat REAL,
    cells INTEGER, workers INTEGER, executor TEXT
);
"""


class Outcome:
    """What running one cell gave: its status, tables, arrays, timings; sent from a worker to the driver.

    Attributes:
        key: the cell's key.
        status: ``"done"`` or ``"failed"``.
        error: the failure's message (the exception's type and text, then its traceback); None when done.
        tables: the experiment's tables (name → DataFrame).
        arrays: its large arrays (name → ndarray), written as files beside the database.
        started, finished: wall-clock times (seconds since the epoch) of the cell's group.
        seconds: the cell's share of its group's compute time.
        worker: ``host:pid`` of the process that ran it.
        versions: the software's versions in that process.
        attempts: how many times the cell was started (more than 1 after a worker died).
    """

    __slots__ = ("key", "status", "error", "tables", "arrays", "started", "finished", "seconds", "worker",
                 "versions", "attempts")

    def __init__(self, key, status, *, error=None, tables=None, arrays=None, started=None, finished=None,
                 seconds=None, worker=None, versions=None, attempts=1):
        self.key, self.status, self.error = key, status, error
        self.tables, self.arrays = dict(tables or {}), dict(arrays or {})
        self.started, self.finished, self.seconds = started, finished, seconds
        self.worker, self.versions, self.attempts = worker, dict(versions or {}), attempts


def _blob(table) -> tuple[str, bytes]:
    buffer = io.BytesIO()
    np.savez(buffer, **{k: v for k, v in column_arrays(table, "c").items()})
    return json.dumps(column_spec(table)), buffer.getvalue()


def _unblob(columns: str, data: bytes, where: str):
    with np.load(io.BytesIO(data), allow_pickle=False) as arrays:
        values = {name.removeprefix("c/"): arrays[name] for name in arrays.files}
    return table_from_arrays(values, json.loads(columns), where=where)


def _write_array(path: Path, values: np.ndarray) -> None:
    """``values`` to ``path`` (.npy) through a temporary name: a file that exists is whole."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(temporary, "wb") as file:
        np.save(file, np.asarray(values), allow_pickle=False)
        file.flush()
        os.fsync(file.fileno())
    os.replace(temporary, path)


class Store:
    """A sweep's results store in ``folder`` (made when a sweep first writes to it).

    Example:
        >>> import tempfile
        >>> import pandas as pd
        >>> store = Store(tempfile.mkdtemp())
        >>> cell = {"key": "k1", "group": "k1", "values": {"seed": 0}, "settings": {"seed": 0}}
        >>> store.write(Outcome("k1", "done", tables={"t": pd.DataFrame({"v": [1.5]})}), cell, sweep="s",
        ...             experiment="compare")
        True
        >>> store.write(Outcome("k1", "done"), cell, sweep="s", experiment="compare")  # stored once
        False
        >>> store.table("t")[["cell", "seed", "v"]].values.tolist()
        [['k1', 0, 1.5]]
    """

    def __init__(self, folder: str | os.PathLike, *, create: bool = True):
        self.folder = Path(folder)
        if self.folder.exists() and not self.folder.is_dir():
            raise SettingsError("store", f"{self.folder} is a file, not a store folder")
        if not create and not (self.folder / DATABASE).is_file():
            raise SettingsError("store", f"{self.folder} holds no sweep store ({DATABASE} missing)")
        self._connection: sqlite3.Connection | None = None

    @property
    def path(self) -> Path:
        """The database file."""
        return self.folder / DATABASE

    def _connect(self) -> sqlite3.Connection:
        if self._connection is None:
            self.folder.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(self.path, timeout=_TIMEOUT, isolation_level=None)
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=FULL")
            connection.execute("PRAGMA foreign_keys=ON")
            connection.executescript(_SCHEMA)  # idempotent (IF NOT EXISTS); executescript commits itself
            with _transaction(connection):
                found = connection.execute("SELECT value FROM meta WHERE name = 'schema'").fetchone()
                if found is None:
                    connection.execute("INSERT INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
                elif int(found[0]) != SCHEMA_VERSION:
                    raise SettingsError("store", f"{self.folder} has store schema {found[0]}; this repalign "
                                                 f"reads schema {SCHEMA_VERSION}")
            self._connection = connection
        return self._connection

    def close(self) -> None:
        """Close the database connection (reopened on the next use)."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- writing (the driver) ---

    def write(self, outcome: Outcome, cell, *, sweep: str, experiment: str, position: int = 0,
              replace_failed: bool = False) -> bool:
        """Store one finished cell in one transaction; False when the cell was stored already.

        ``cell``: the :class:`~repalign.sweeps.spec.Cell` (or a mapping with ``key``, ``group``,
        ``values``, ``settings``); ``position``: its place in the spec's cells (the stored tables'
        order). ``replace_failed``: a failed cell stored before is replaced (a
        re-run of failed cells); a done cell is never replaced.
        """
        cell = cell if isinstance(cell, Mapping) else {"key": cell.key, "group": cell.group, "values": cell.values,
                                                       "settings": cell.settings}
        if outcome.key != cell["key"]:
            raise ValueError(f"outcome: its key {outcome.key!r} is not the cell's {cell['key']!r}")
        if outcome.status not in ("done", "failed"):
            raise ValueError(f"outcome: expected the status 'done' or 'failed', got {outcome.status!r}")
        error = outcome.error
        if outcome.status == "failed" and not (error or "").strip():  # a failed cell always says something
            error = "failed without a message"
        connection = self._connect()
        if self._stored(connection, outcome.key, replace_failed):
            self._release(connection, outcome.key)
            return False
        arrays = {}
        for name, values in outcome.arrays.items():
            relative = Path("arrays") / outcome.key / f"{name}.npy"
            _write_array(self.folder / relative, values)
            arrays[name] = relative.as_posix()
        blobs = [(name, *_blob(table)) for name, table in outcome.tables.items()]
        with _transaction(connection):
            if replace_failed:
                connection.execute("DELETE FROM cells WHERE key = ? AND status = 'failed'", (outcome.key,))
            inserted = connection.execute(
                "INSERT OR IGNORE INTO cells VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (outcome.key, sweep, experiment, cell["group"], position, json.dumps(cell["values"]),
                 json.dumps(cell["settings"]), outcome.status, error, outcome.started, outcome.finished,
                 outcome.seconds, outcome.worker, outcome.attempts, json.dumps(outcome.versions), json.dumps(arrays),
                 time.time())).rowcount == 1
            if inserted:
                connection.executemany("INSERT OR IGNORE INTO tables VALUES (?, ?, ?, ?)",
                                       [(outcome.key, name, columns, data) for name, columns, data in blobs])
            connection.execute("DELETE FROM running WHERE key = ?", (outcome.key,))
        return inserted

    @staticmethod
    def _stored(connection, key: str, replace_failed: bool) -> bool:
        row = connection.execute("SELECT status FROM cells WHERE key = ?", (key,)).fetchone()
        return row is not None and not (replace_failed and row[0] == "failed")

    @staticmethod
    def _release(connection, key: str) -> None:
        with _transaction(connection):
            connection.execute("DELETE FROM running WHERE key = ?", (key,))

    def mark_running(self, keys, *, sweep: str, worker: str | None = None) -> None:
        """Record ``keys`` as in flight (shown by ``sweep status``; cleared when each is written)."""
        connection = self._connect()
        now = time.time()
        with _transaction(connection):
            connection.executemany("INSERT OR REPLACE INTO running VALUES (?, ?, ?, ?)",
                                   [(key, sweep, now, worker) for key in keys])

    def start_driver(self, *, sweep: str, cells: int, workers: int, executor: str) -> None:
        """Record this process as the sweep's driver; forget the cells a previous driver had in flight.

        Refused while another driver is alive (:meth:`driver_alive`): the store has one writer."""
        connection = self._connect()
        now = time.time()
        with _transaction(connection):
            other = self.driver()
            if other is not None and other["pid"] != os.getpid() and _alive(other):
                raise SettingsError("store", f"another driver (pid {other['pid']} on {other['host']}) is running a "
                                             f"sweep into {self.folder}; one store has one driver at a time")
            connection.execute("DELETE FROM running")
            connection.execute("INSERT OR REPLACE INTO driver VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?)",
                               (sweep, os.getpid(), socket.gethostname(), now, now, cells, workers, executor))

    def heartbeat(self, *, finished: bool = False) -> None:
        """The driver is alive (or, ``finished``, gone: its cells in flight are forgotten)."""
        connection = self._connect()
        with _transaction(connection):
            connection.execute("UPDATE driver SET heartbeat = ?", (None if finished else time.time(),))
            if finished:
                connection.execute("DELETE FROM running")

    # --- reading ---

    def keys(self, status: str | None = None) -> set[str]:
        """The keys of the stored cells (with ``status``: only those)."""
        connection = self._connect()
        if status is None:
            return {k for (k,) in connection.execute("SELECT key FROM cells")}
        return {k for (k,) in connection.execute("SELECT key FROM cells WHERE status = ?", (status,))}

    def cells(self, keys=None):
        """One row per stored cell: key, status, error, timings, worker, attempts, then its axis values.

        ``keys``: only these cells (a spec's: ``{c.key for c in spec.cells()}``; a store keeps the cells of
        earlier specs and versions too)."""
        pd = import_pandas()
        rows = self._connect().execute(
            "SELECT key, sweep, experiment, grp, status, error, started, finished, seconds, worker, attempts, "
            "axes, settings, versions, arrays FROM cells ORDER BY position, key").fetchall()
        records = []
        for (key, sweep, experiment, group, status, error, started, finished, seconds, worker, attempts, axes,
             settings, versions, arrays) in rows:
            if keys is not None and key not in keys:
                continue
            records.append({"cell": key, "sweep": sweep, "experiment": experiment, "group": group, "status": status,
                            "error": error, "started": started, "finished": finished, "seconds": seconds,
                            "worker": worker, "attempts": attempts, "axes": axes, "settings": settings,
                            "versions": versions, "arrays": arrays, **_flat(json.loads(axes))})
        return pd.DataFrame(records, columns=None if records else
                            ["cell", "sweep", "experiment", "group", "status", "error", "started", "finished",
                             "seconds", "worker", "attempts", "axes", "settings", "versions", "arrays"])

    def table_names(self, keys=None) -> list[str]:
        """The names of the tables the stored cells (``keys``: these cells) hold."""
        rows = self._connect().execute("SELECT DISTINCT key, name FROM tables ORDER BY name")
        return list(dict.fromkeys(n for k, n in rows if keys is None or k in keys))

    def cell_tables(self, key: str) -> dict:
        """The tables of one stored cell, exactly as its experiment returned them."""
        rows = self._connect().execute("SELECT name, columns, data FROM tables WHERE key = ? ORDER BY name", (key,))
        return {name: _unblob(columns, data, f"{self.path}: cell {key}, table {name!r}")
                for name, columns, data in rows}

    def table(self, name: str, keys=None):
        """Table ``name`` of every stored cell (``keys``: of these cells), one below the other, with ``cell`` and the
        axis values first."""
        pd = import_pandas()
        connection = self._connect()
        rows = connection.execute(
            "SELECT t.key, c.axes, t.columns, t.data FROM tables t JOIN cells c ON c.key = t.key "
            "WHERE t.name = ? ORDER BY c.position, t.key", (name,)).fetchall()
        if not rows:
            known = self.table_names()
            if name not in known:
                raise SettingsError("table", f"no stored cell has a table {name!r}; the store holds {known}")
        frames = []
        for key, axes, columns, data in rows:
            if keys is not None and key not in keys:
                continue
            frame = _unblob(columns, data, f"{self.path}: cell {key}, table {name!r}")
            values = _flat(json.loads(axes))
            front = {"cell": key}
            for axis, value in values.items():  # an axis the table holds already (the seed) is not repeated
                if axis not in frame.columns:
                    front[axis] = value
                elif not (frame[axis] == value).all():
                    front[f"axis_{axis}"] = value
            frames.append(pd.concat([pd.DataFrame({k: [v] * len(frame) for k, v in front.items()}), frame], axis=1))
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()

    def arrays(self, key: str) -> dict[str, np.ndarray]:
        """The arrays stored for cell ``key`` (name → array)."""
        row = self._connect().execute("SELECT arrays FROM cells WHERE key = ?", (key,)).fetchone()
        if row is None:
            raise SettingsError("cell", f"no stored cell {key!r}")
        return {name: np.load(self.folder / relative, allow_pickle=False)
                for name, relative in json.loads(row[0]).items()}

    def running(self) -> list[tuple[str, float]]:
        """The cells in flight (key, since) as the driver last recorded them."""
        return list(self._connect().execute("SELECT key, since FROM running ORDER BY since"))

    def driver(self) -> dict | None:
        """The last driver's record (sweep, pid, host, started, heartbeat, cells, workers, executor), or None."""
        connection = self._connect()
        row = connection.execute("SELECT sweep, pid, host, started, heartbeat, cells, workers, executor FROM driver"
                                 ).fetchone()
        names = ("sweep", "pid", "host", "started", "heartbeat", "cells", "workers", "executor")
        return None if row is None else dict(zip(names, row))

    def driver_alive(self) -> bool:
        """Whether the last driver is running: its heartbeat is recent (under 4 × :data:`HEARTBEAT` seconds)
        and, on this host, its process exists (a driver killed with SIGKILL is seen gone at once here)."""
        driver = self.driver()
        return driver is not None and _alive(driver)

    def export(self, folder: str | os.PathLike, keys=None) -> list[str]:
        """Write ``cells.parquet`` and one Parquet file per table into ``folder`` (pyarrow); the paths written.

        Each table is :meth:`table` (``cell`` and the axis values first); ``cells.parquet`` is
        :meth:`cells`; ``keys``: only these cells. Read them with pandas (``pd.read_parquet``), DuckDB or
        polars.
        """
        require("pyarrow", "sweep", "writing Parquet")
        folder = Path(folder)
        if folder.exists() and not folder.is_dir():
            raise SettingsError("out", f"{folder} is a file, not a folder")
        folder.mkdir(parents=True, exist_ok=True)
        written = []
        tables = [(n, self.table(n, keys)) for n in self.table_names(keys)]
        for name, frame in [("cells", self.cells(keys))] + tables:
            path = folder / f"{name}.parquet"
            temporary = path.with_name(f".{path.name}.tmp")
            frame.to_parquet(temporary, engine="pyarrow", index=False)
            os.replace(temporary, path)
            written.append(str(path))
        return written


def _alive(driver: dict) -> bool:
    if not driver["heartbeat"] or time.time() - driver["heartbeat"] > 4 * HEARTBEAT:
        return False
    if driver["host"] == socket.gethostname():
        try:
            os.kill(driver["pid"], 0)
        except ProcessLookupError:
            return False
        except PermissionError:  # another user's process: it exists
            return True
    return True


def _flat(values: dict) -> dict:
    """Axis values as table cells: lists (several measures in one cell) joined by ``+``."""
    return {k: "+".join(map(str, v)) if isinstance(v, list) else v for k, v in values.items()}


@contextmanager
def _transaction(connection: sqlite3.Connection):
    """``BEGIN IMMEDIATE`` … ``COMMIT`` (``ROLLBACK`` on an error): one atomic write."""
    connection.execute("BEGIN IMMEDIATE")
    try:
        yield connection
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")

"""Sweeps: an experiment over a grid of datasets × measures × seeds × settings, into a store that survives crashes.

A **spec** (a TOML file, or the same as a dict: :mod:`repalign.sweeps.spec`) names an experiment
of :mod:`repalign.experiments` and the axes it varies; its **cells** are the product of the axes
less the exclusions, each with a stable key. :func:`run_sweep` runs the cells not stored yet —
in this process (the default), on local worker processes (``workers=N``) or on a Dask cluster
(``scheduler=ADDRESS``, or ``local_cluster=N`` for a ``LocalCluster``) — grouping the cells that
differ only in their seed into one batched run, and stores each finished cell in one SQLite
transaction (:class:`Store`). Re-running the same spec resumes: stored cells are skipped, failed
ones re-run on request, and a driver killed at any point loses only the cells in flight.
:func:`sweep_status` says where a sweep stands, :meth:`Store.export` writes Parquet, and
:func:`summary` draws each experiment type's summary figure from the store.

The command line: ``repalign sweep run SPEC``, ``sweep status``, ``sweep export``, ``sweep figure``.

Example:
    >>> import tempfile
    >>> from repalign.sweeps import Store, run_sweep
    >>> spec = {"experiment": "compare",
    ...         "settings": {"y": "ref"},
    ...         "axes": {"x": ["ref", "other"], "measures": ["cka", "procrustes-angular_score"]},
    ...         "datasets": {"ref": {"generator": "two_pc", "seed": 0}, "other": {"generator": "two_pc", "seed": 1}}}
    >>> folder = tempfile.mkdtemp()
    >>> report = run_sweep(spec, folder, progress=False)
    >>> report.done, report.failed
    (4, 0)
    >>> run_sweep(spec, folder, progress=False).skipped           # resumed: nothing left to run
    4
    >>> table = Store(folder).table("table")
    >>> table.loc[table.x == "ref", "value"].round(6).tolist()        # a dataset against itself
    [1.0, 1.0]
"""

from __future__ import annotations

from .execute import DaskExecutor, InProcess, Processes, WorkerDied, run_group
from .run import MAX_ATTEMPTS, SweepReport, SweepStatus, run_sweep, sweep_status
from .spec import Cell, DatasetSource, Spec, load_spec
from .store import Outcome, Store

__all__ = ["load_spec", "Spec", "Cell", "DatasetSource", "run_sweep", "SweepReport", "sweep_status", "SweepStatus",
           "Store", "Outcome", "run_group", "InProcess", "Processes", "DaskExecutor", "WorkerDied", "MAX_ATTEMPTS",
           "summary"]


def summary(store, experiment: str | None = None, keys=None):
    """The summary figure's Result of a stored sweep (see :mod:`repalign.sweeps.figures`); ``keys``: only these
    cells (``{c.key for c in load_spec(spec).cells()}``: a spec's, where the store holds earlier ones too)."""
    from .figures import summary_of_store

    return summary_of_store(store, experiment, keys)

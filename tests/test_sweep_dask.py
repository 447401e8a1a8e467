"""The multi-node path of docs/sweeps.md, simulated: a Dask cluster of separate worker processes, started apart from
the driver and addressed through ``--scheduler`` (an address, or the scheduler file of ``dask scheduler``), as a
SLURM cluster of dask-jobqueue would be. The store stays on the driver's disk; the tables equal an in-process run's."""

import json
import os

import pytest
from pandas.testing import assert_frame_equal

pytest.importorskip("distributed")

from repalign.cli import main  # noqa: E402
from repalign.sweeps import Store, run_sweep  # noqa: E402

pytestmark = pytest.mark.slow

SPEC = """
experiment = "optimize"

[settings]
steps = 20
pcs = 3
decode = []

[axes]
data = ["mante", "ultra"]
measures = ["cka", "angular-procrustes"]
seed = [0, 1]

[datasets.mante]
generator = "mante_like"
n_units = 16
n_time = 4

[datasets.ultra]
generator = "ultrametric"
n_units = 16
"""


@pytest.fixture(scope="module")
def cluster():
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        yield cluster


def _tables(store: Store) -> dict:
    return {key: store.cell_tables(key) for key in sorted(store.keys())}


def test_a_cluster_addressed_by_its_scheduler_runs_the_sweep_as_the_driver_would(tmp_path, cluster, capsys):
    spec = tmp_path / "grid.toml"
    spec.write_text(SPEC)
    reference = run_sweep(spec, tmp_path / "here", progress=False)
    assert (reference.done, reference.failed) == (8, 0)

    assert main(["sweep", "run", str(spec), "--store", str(tmp_path / "remote"), "--scheduler",
                 cluster.scheduler_address, "--no-progress"]) == 0
    assert f"dask {cluster.scheduler_address}" in capsys.readouterr().out
    remote, here = Store(tmp_path / "remote"), Store(tmp_path / "here")
    cells = remote.cells()
    assert (cells["status"] == "done").all() and len(cells) == 8
    pids = {int(worker.rsplit(":", 1)[1]) for worker in cells["worker"]}
    assert os.getpid() not in pids  # the cells ran in the cluster's worker processes, not in the driver
    expected, got = _tables(here), _tables(remote)
    assert expected.keys() == got.keys()
    for key in expected:
        for name in expected[key]:
            assert_frame_equal(got[key][name], expected[key][name])
        for name, values in here.arrays(key).items():
            assert (remote.arrays(key)[name] == values).all()


def test_a_scheduler_file_names_the_cluster(tmp_path, cluster):
    spec = tmp_path / "grid.toml"
    spec.write_text(SPEC)
    scheduler_file = tmp_path / "scheduler.json"
    scheduler_file.write_text(json.dumps({"address": cluster.scheduler_address}))  # what `dask scheduler` writes
    report = run_sweep(spec, tmp_path / "store", scheduler=str(scheduler_file), progress=False)
    assert (report.done, report.failed) == (8, 0)
    assert report.workers == 2


def test_a_missing_scheduler_file_is_named(tmp_path):
    from repalign._checks import SettingsError

    with pytest.raises(SettingsError, match="no scheduler file") as error:
        run_sweep({"experiment": "compare", "settings": {"y": "ref"}, "axes": {"x": ["ref"], "measures": ["cka"]},
                   "datasets": {"ref": {"generator": "two_pc", "seed": 0}}}, tmp_path / "s",
                  scheduler=str(tmp_path / "nothere.json"), progress=False)
    assert error.value.argument == "scheduler"


def test_a_lost_scheduler_is_an_error_that_says_how_to_resume():
    import concurrent.futures
    import types

    from repalign.sweeps.execute import DaskExecutor, _DaskFuture

    def cancelled(*args, **kwargs):
        raise concurrent.futures.CancelledError("scheduler-connection-lost")

    executor = object.__new__(DaskExecutor)  # what the client's calls give once the scheduler is gone
    executor._distributed, executor.address = types.SimpleNamespace(wait=cancelled), "tcp://gone:8786"
    future = types.SimpleNamespace(inner=types.SimpleNamespace(key="k", result=cancelled))
    with pytest.raises(RuntimeError, match="lost the Dask scheduler tcp://gone:8786.*resume"):
        executor.wait([future], timeout=1)
    with pytest.raises(RuntimeError, match="lost the Dask scheduler"):
        _DaskFuture(future.inner, types.SimpleNamespace(KilledWorker=type("KilledWorker", (Exception,), {}))).result()

"""``repalign sweep run | status | export | figure``: a sweep from its spec to its store, its Parquet files and its figure."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from .. import sweeps
from .._checks import SettingsError
from ..sweeps.store import DATABASE

sweep_app = typer.Typer(add_completion=False, no_args_is_help=True,
                        help="sweeps: an experiment over datasets × measures × seeds × settings, on this machine or a "
                             "Dask cluster, into a store that survives crashes (a TOML spec: see `repalign.sweeps.spec`)")

STORE_HELP = "the store folder (default: the spec's `store`, <name>.sweep beside it)"


def _store(target: str, store: str | None) -> Path:
    """The store of ``target`` (a spec file or a store folder), or ``store`` when given; it must hold a sweep."""
    if store is not None:
        folder = Path(store)
        if not (folder / DATABASE).is_file():
            raise SettingsError("store", f"{folder} holds no sweep store ({DATABASE} missing)")
        return folder
    path = Path(target)
    if path.is_dir():
        if not (path / DATABASE).is_file():
            raise SettingsError("target", f"{path} holds no sweep store ({DATABASE} missing)")
        return path
    if not path.exists():
        raise SettingsError("target", f"no spec file or store folder {path}")
    folder = sweeps.load_spec(path).store
    if not (folder / DATABASE).is_file():
        raise SettingsError("target", f"the sweep of {path} has not run yet: no store {folder} "
                                      f"(`repalign sweep run {path}` starts it)")
    return folder


def _keys(target: str) -> set[str] | None:
    """The cells of the spec ``target`` (a store keeps earlier specs' cells too); None for a store folder: all."""
    return None if Path(target).is_dir() else {cell.key for cell in sweeps.load_spec(target).cells()}


@sweep_app.command("run")
def run_command(
    spec: str = typer.Argument(..., help="the sweep's TOML spec"),
    store: str = typer.Option(None, "--store", help=STORE_HELP),
    workers: int = typer.Option(None, "--workers", help="run on this many local worker processes (default: here)"),
    scheduler: str = typer.Option(None, "--scheduler", help="run on the Dask cluster of this scheduler address "
                                                            "(tcp://host:8786)"),
    local_cluster: int = typer.Option(None, "--local-cluster",
                                      help="run on a Dask LocalCluster of this many worker processes started here"),
    rerun_failed: bool = typer.Option(False, "--rerun-failed", help="run the cells stored as failed again"),
    progress: bool = typer.Option(None, "--progress/--no-progress", help="progress bar (default: in a terminal)"),
):
    """Run every cell of SPEC not stored yet (resumes a stopped sweep), one SQLite transaction per finished cell.
    Exits with 1 when some of the spec's cells are stored as failed."""
    report = sweeps.run_sweep(spec, store, workers=workers, scheduler=scheduler, local_cluster=local_cluster,
                              rerun_failed=rerun_failed, progress=progress)
    print(report)
    status = sweeps.sweep_status(report.store, spec)
    for failure in status.failures:
        print(f"failed {failure['cell']} {json.dumps(failure['values'])}: {failure['error']}")
    if status.failed:
        print(f"{status.failed} failed: `repalign sweep status {spec}` lists them; --rerun-failed runs them again")
        raise typer.Exit(code=1)  # as `repalign compare` when a measure fails: scripts can tell


@sweep_app.command("status")
def status_command(
    target: str = typer.Argument(..., help="the sweep's spec (counts its cells) or its store folder"),
    store: str = typer.Option(None, "--store", help=STORE_HELP),
    as_json: bool = typer.Option(False, "--json", help="print JSON"),
):
    """Cells done, running, failed and remaining, and the time left while a sweep runs."""
    folder = _store(target, store)
    status = sweeps.sweep_status(folder, None if Path(target).is_dir() else target)
    if as_json:
        import dataclasses  # noqa: PLC0415

        print(json.dumps(dataclasses.asdict(status), indent=2))
    else:
        print(status)


@sweep_app.command("export")
def export_command(
    target: str = typer.Argument(..., help="the sweep's spec (its cells) or its store folder (every stored cell)"),
    store: str = typer.Option(None, "--store", help=STORE_HELP),
    out: str = typer.Option(None, "--out", help="folder of the Parquet files (default: STORE/export)"),
):
    """Write cells.parquet and one Parquet file per result table (for pandas, DuckDB or polars)."""
    folder = _store(target, store)
    written = sweeps.Store(folder, create=False).export(folder / "export" if out is None else out, _keys(target))
    for path in written:
        print(path)


@sweep_app.command("figure")
def figure_command(
    target: str = typer.Argument(..., help="the sweep's spec or its store folder"),
    store: str = typer.Option(None, "--store", help=STORE_HELP),
    out: str = typer.Option(None, "--out", help="the figure's path without suffix (default: STORE/summary)"),
    experiment: str = typer.Option(None, "--experiment", help="the experiment to draw when the store holds several"),
):
    """The summary figure of the stored cells (PNG, PDF and the CSV behind it), e.g. the PC-capture values of every
    measure on every dataset for an optimize sweep."""
    import matplotlib  # noqa: PLC0415 -- figures are files here, never windows

    matplotlib.use("Agg")
    folder = _store(target, store)
    result = sweeps.summary(folder, experiment, _keys(target))
    for path in result.save(folder / "summary" if out is None else out):
        print(path)

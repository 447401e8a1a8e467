#!/usr/bin/env python
"""Benchmark of the sweep engine (``repalign.sweeps``) against a plain Python loop over the same cells
(a script, not a test).

The test sweep (issue 14): ``optimize`` (optimize-and-track) over 3 generated datasets x 4 measures x 3 seeds
= 36 cells in 12 groups (a group: the 3 seeds of one dataset and measure, one batched optimize call),
``steps`` Adam steps (400 by default; no early stop), ``pcs = 3``, no decoding, float32. Sizes are small but the
cells are compute-bound: one group takes a few seconds on one thread. Measured in one run, side by side:

- **loop**: the same computation without the store, the executor or the spec: the datasets generated once,
  then for each group ``repalign.experiments.run_batch("optimize", [settings of its 3 seeds])`` on one thread
  (``repalign._threads.limit_threads(1)``), groups in the sweep's order;
- **naive loop**: each cell alone, ``repalign.experiments.run("optimize", settings)`` (no batching over seeds);
- **sweep**: ``run_sweep(spec, fresh store)`` in-process (the default), with ``workers=1``, ``workers=2`` and
  ``local_cluster=2`` (Dask ``LocalCluster`` of 2 single-threaded processes), each into a fresh store. Its wall
  time is the whole call: spec check, store, executor start-up and shutdown, every cell stored.

The loop and the in-process sweep run ``--repeats`` times (4), alternating (ABBA), and the median of the pairs
run side by side gives the sweep's **overhead** = (sweep - loop) / loop (target < 5 %; the minima also shown);
``workers=1`` and ``workers=2`` run ``--repeats-workers`` times (2), alternating, minima (target: 2 workers >= 1.6x one worker). The per-process dataset cache of
``repalign.sweeps.execute`` is cleared before each in-process sweep, so every sweep reads its datasets anew.
From each sweep's store the script derives where the time went (the cells' stored start and end times): start-up
until the first cell began, each worker's busy time and idle gaps, the imbalance at the end (one worker idle while
the other finishes its last group) and the shutdown after the last cell. Every store's tables are compared with
the in-process store's and with the loop's Records (exact equality).

**Store write overhead**: ``Store.write`` of a real cell's outcome (its tables and ``final_Y``) into a fresh store
(WAL, ``synchronous=FULL``), ``--writes`` (200) times under new keys; mean and median in ms and as a fraction of a
cell's compute time (the loop's time / 36), with the encoding of the tables and the array file timed apart.
Then reading back: ``Store.table(name)`` of every table (36 cells, and the 200 written cells) and ``export``
(Parquet), minimum of 3.

Other processes' CPU share is sampled around each timed run (the machine has 2 cores; see ``others' CPU``);
before each run the script waits up to ``--wait-quiet`` seconds for them to go quiet.

Run:  PYTHONPATH=src python bench/bench_sweep.py [--steps 400] [--repeats 3] [--repeats-workers 2] [--writes 200]
      [--quick] [--out PATH]
"""
from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bench_measures import fmt_t, machine_info, wait_for_quiet, write_results

# The test sweep. Datasets of similar cost (each group a few seconds on one thread), so that 12 groups
# share 2 workers evenly enough; every random choice is seeded.
DATASETS = {
    "mante": {"generator": "mante_like", "n_units": 50, "n_time": 8, "seed": 0},
    "mante-noisy": {"generator": "mante_like", "n_units": 60, "n_time": 8, "noise": 1.0, "seed": 1},
    "ultrametric": {"generator": "ultrametric", "n_units": 80, "branching": [2, 5, 30], "seed": 0},
}
MEASURES = ["cka", "angular-procrustes", "nbs", "ridge-cv"]
SEEDS = [0, 1, 2]
STEPS = 400
# --quick: a smoke run of every function on a tiny sweep (seconds)
QUICK = {"datasets": {"mante": {"generator": "mante_like", "n_units": 10, "n_time": 3, "seed": 0},
                      "two_pc": {"generator": "two_pc", "seed": 0}},
         "measures": ["cka", "angular-procrustes"], "seeds": [0, 1], "steps": 10}


def test_spec(*, steps=STEPS, datasets=None, measures=None, seeds=None) -> dict:
    """The test sweep as a dict spec: optimize over datasets x measures x seeds (pcs = 3, no decoding)."""
    datasets = DATASETS if datasets is None else datasets
    return {"experiment": "optimize", "name": "bench-sweep",
            "settings": {"steps": steps, "pcs": 3, "decode": []},
            "axes": {"data": list(datasets), "measures": list(MEASURES if measures is None else measures),
                     "seed": list(SEEDS if seeds is None else seeds)},
            "datasets": {name: dict(entry) for name, entry in datasets.items()}}


# --- CPU accounting (this process and its finished children; the others' share of the machine) ---

_CLK = os.sysconf("SC_CLK_TCK")


def _snapshot():
    """(busy CPU s of the machine, CPU s of this process and its reaped children, wall)."""
    try:
        f = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        busy = (sum(f[:8]) - f[3] - f[4]) / _CLK
    except (OSError, ValueError, IndexError):
        busy = None
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return busy, own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime, time.perf_counter()


def _others(a, b) -> float | None:
    """Share of the machine's CPUs used by other processes between two snapshots (ours: self and children)."""
    if a[0] is None or b[0] is None or b[2] <= a[2]:
        return None
    return max(0.0, (b[0] - a[0]) - (b[1] - a[1])) / ((b[2] - a[2]) * (os.cpu_count() or 1))


def timed(fn):
    """(wall seconds, fn's result, others' CPU share, our CPU seconds) of one call."""
    a = _snapshot()
    start = time.perf_counter()
    result = fn()
    wall = time.perf_counter() - start
    b = _snapshot()
    return wall, result, _others(a, b), b[1] - a[1]


# --- the plain loops ---

def generate(datasets: dict) -> dict:
    """The spec's generated datasets, by calling repalign.data's generators directly."""
    from repalign import data

    return {name: getattr(data, e["generator"])(**{k: v for k, v in e.items() if k != "generator"})
            for name, e in datasets.items()}


def _settings(spec: dict, dataset, measure: str, seed: int) -> dict:
    return {**spec["settings"], "data": dataset, "measures": [measure], "seed": seed, "progress": False}


def plain_loop(spec: dict) -> list:
    """The sweep's computation as a loop: datasets generated once, one ``run_batch`` per group; the Records in
    the spec's cell order."""
    from repalign import experiments
    from repalign._threads import limit_threads

    axes = spec["axes"]
    records = []
    with limit_threads(1):
        datasets = generate(spec["datasets"])
        for name in axes["data"]:
            for m in axes["measures"]:
                records += experiments.run_batch(
                    "optimize", [_settings(spec, datasets[name], m, s) for s in axes["seed"]])
    return records


def naive_loop(spec: dict) -> list:
    """Each cell alone: ``experiments.run("optimize", settings)`` on one thread (no batching over seeds)."""
    from repalign import experiments

    axes = spec["axes"]
    datasets = generate(spec["datasets"])
    return [experiments.run("optimize", _settings(spec, datasets[name], m, s), threads=1)
            for name in axes["data"] for m in axes["measures"] for s in axes["seed"]]


_GENERATED: dict = {}


def _group(spec: dict, name: str, measure: str) -> list:
    """One group of the loop in a pool's process (its datasets generated once per process)."""
    from repalign import experiments
    from repalign._threads import limit_threads

    with limit_threads(1):
        if name not in _GENERATED:
            _GENERATED[name] = generate({name: spec["datasets"][name]})[name]
        return experiments.run_batch("optimize", [_settings(spec, _GENERATED[name], measure, s)
                                                  for s in spec["axes"]["seed"]])


def _started(_):
    import torch  # noqa: F401

    import repalign  # noqa: F401 -- the imports a worker needs, before the timing

    time.sleep(0.5)  # each process takes one
    return os.getpid()


def pool_loop(spec: dict, processes: int = 2) -> tuple[float, list]:
    """The loop's groups, in its order, on a pool of ``processes`` spawned processes started (and imported)
    beforehand: no spec, store or driver, and no start-up in the time. The machine's ceiling for the sweep with
    ``workers=processes`` (the same greedy order); (wall from the first submit to the last result, Records)."""
    import concurrent.futures
    import multiprocessing

    axes = spec["axes"]
    with concurrent.futures.ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("spawn")) as pool:
        list(pool.map(_started, range(processes)))
        start = time.perf_counter()
        futures = [pool.submit(_group, spec, name, m) for name in axes["data"] for m in axes["measures"]]
        records = [r for f in futures for r in f.result()]
        return time.perf_counter() - start, records


# --- the sweep ---

def sweep(spec: dict, folder: Path, **options):
    """``run_sweep`` into a fresh store ``folder`` (the dataset cache cleared first); its SweepReport."""
    from repalign.sweeps import execute, run_sweep

    if folder.exists():
        shutil.rmtree(folder)
    execute._datasets.clear()
    return run_sweep(spec, folder, progress=False, **options)


def profile(folder: Path, t0: float, t1: float) -> dict:
    """Where a sweep's wall time went, from its store's cells (epoch seconds ``t0``, ``t1``: the call's ends).

    Per group: its start (the worker's clock when the group began) and end (its last cell's outcome); per
    worker: busy (sum of its groups' durations), idle gaps between its groups. ``startup``: t0 to the first group's
    start (spec check, store, executor and worker start-up, first task's transfer); ``shutdown``: the last group's
    end to t1 (storing its cells, closing the executor); ``imbalance``: the last group's end minus the earliest
    time a worker ran out of groups.
    """
    from repalign.sweeps import Store

    with Store(folder, create=False) as store:
        cells = store.cells()
    groups = cells.groupby("group").agg(started=("started", "min"), finished=("finished", "max"),
                                        worker=("worker", "first"), seconds=("seconds", "sum"))
    workers = {}
    for worker, rows in groups.sort_values("started").groupby("worker"):
        busy = float((rows.finished - rows.started).sum())
        span = float(rows.finished.max() - rows.started.min())
        workers[worker] = {"groups": len(rows), "busy_s": busy, "idle_gaps_s": span - busy,
                           "first_start_s": float(rows.started.min() - t0),
                           "last_end_s": float(rows.finished.max() - t0)}
    last = float(groups.finished.max())
    ends = [w["last_end_s"] for w in workers.values()]
    return {"startup_s": float(groups.started.min() - t0), "shutdown_s": t1 - last,
            "imbalance_s": (max(ends) - min(ends)) if len(ends) > 1 else 0.0,
            "compute_s": float(cells.seconds.sum()),
            "group_s": sorted(float(d) for d in groups.finished - groups.started),
            "workers": workers, "n_workers_used": len(workers), "status": cells.status.value_counts().to_dict()}


def compare_stores(reference: Path, other: Path) -> dict:
    """Are two stores' tables identical (every table, exact), and their cells the same keys with the same status?"""
    import pandas as pd

    from repalign.sweeps import Store

    with Store(reference, create=False) as a, Store(other, create=False) as b:
        same_cells = a.cells()[["cell", "status"]].equals(b.cells()[["cell", "status"]])
        names = a.table_names()
        result = {"cells_same": bool(same_cells), "tables_same": names == b.table_names(), "max_abs_diff": 0.0}
        for name in names:
            ta, tb = a.table(name), b.table(name)
            try:
                pd.testing.assert_frame_equal(ta, tb, check_exact=True)
            except AssertionError:
                result["tables_same"] = False
                numeric = ta.select_dtypes("number").columns
                if ta.shape == tb.shape:
                    diff = np.nanmax(np.abs(ta[numeric].to_numpy(float) - tb[numeric].to_numpy(float)))
                    result["max_abs_diff"] = max(result["max_abs_diff"], float(diff))
                else:
                    result["max_abs_diff"] = float("inf")
    return result


def compare_loop(folder: Path, spec: dict, records: list) -> dict:
    """The loop's Records against the store's cells (same order): every table and final_Y exactly equal?"""
    from repalign.sweeps import Store, load_spec

    keys = [c.key for c in load_spec(spec).cells()]
    same, worst = True, 0.0
    with Store(folder, create=False) as store:
        for key, record in zip(keys, records, strict=True):
            stored = store.cell_tables(key)
            if set(stored) != set(record.tables):
                same = False
                continue
            for name, table in record.tables.items():
                if not stored[name].equals(table):
                    same = False
                    numeric = table.select_dtypes("number").columns
                    worst = max(worst, float(np.nanmax(np.abs(stored[name][numeric].to_numpy(float)
                                                              - table[numeric].to_numpy(float)))))
            for name, array in store.arrays(key).items():
                if not np.array_equal(array, np.asarray(record.arrays[name])):
                    same = False
                    worst = max(worst, float(np.max(np.abs(array - np.asarray(record.arrays[name])))))
    return {"same": same, "max_abs_diff": worst}


# --- the store ---

def store_costs(record, cell_settings: dict, folder: Path, writes: int, read_folder: Path) -> dict:
    """Mean/median ms of ``Store.write`` of one real cell's outcome, ``writes`` times under new keys into a fresh
    store; the tables' encoding and the array file timed apart; then reading back and exporting."""
    from repalign.sweeps import Outcome, Store
    from repalign.sweeps import store as store_module

    if folder.exists():
        shutil.rmtree(folder)
    store = Store(folder)
    values = {k: v for k, v in cell_settings.items() if k in ("data", "measures", "seed")}

    def outcome(key):
        now = time.time()
        return Outcome(key, "done", tables=record.tables, arrays=record.arrays, started=now, finished=now,
                       seconds=1.0, worker="bench", versions=record.versions)

    store.write(outcome("warm-up"), {"key": "warm-up", "group": "warm-up", "values": values,
                                     "settings": cell_settings}, sweep="bench", experiment="optimize")
    times = []
    for i in range(writes):
        key = f"cell{i:05d}"
        cell = {"key": key, "group": key, "values": values, "settings": cell_settings}
        one = outcome(key)
        start = time.perf_counter()
        store.write(one, cell, sweep="bench", experiment="optimize", position=i + 1)
        times.append(time.perf_counter() - start)
    store.close()
    encode, array = [], []
    for i in range(min(writes, 50)):
        start = time.perf_counter()
        for table in record.tables.values():
            store_module._blob(table)
        encode.append(time.perf_counter() - start)
        start = time.perf_counter()
        for name, values_ in record.arrays.items():
            store_module._write_array(folder / "timing" / f"{i}-{name}.npy", values_)
        array.append(time.perf_counter() - start)
    db = (folder / store_module.DATABASE).stat().st_size
    blob_bytes = sum(len(store_module._blob(t)[1]) for t in record.tables.values())
    array_bytes = sum(np.asarray(v).nbytes for v in record.arrays.values())
    result = {"writes": writes, "write_mean_s": statistics.fmean(times), "write_median_s": statistics.median(times),
              "write_max_s": max(times), "encode_mean_s": statistics.fmean(encode),
              "array_file_mean_s": statistics.fmean(array), "tables_bytes": blob_bytes, "arrays_bytes": array_bytes,
              "database_bytes": db, "rows": {n: len(t) for n, t in record.tables.items()}}
    result["reads"] = {"sweep store": read_back(read_folder), f"{writes} written cells": read_back(folder)}
    return result


def read_back(folder: Path, repeats: int = 3) -> dict:
    """Minimum over ``repeats`` of ``Store.table(name)`` for each table, all of them, and ``export``."""
    from repalign.sweeps import Store

    out = {}
    with Store(folder, create=False) as store:
        names = store.table_names()
        n_cells = len(store.keys())
        for name in names:
            out[f"table({name!r})"] = min(timed(lambda n=name: store.table(n))[0] for _ in range(repeats))
        out["cells()"] = min(timed(store.cells)[0] for _ in range(repeats))
        with tempfile.TemporaryDirectory() as target:
            out["export"] = min(timed(lambda: store.export(target))[0] for _ in range(repeats))
        out["rows"] = {name: len(store.table(name)) for name in names}
    out["cells"] = n_cells
    return out


def summarize(result: dict) -> dict:
    """The headline numbers from the runs: minima, the overhead three ways, the speed-ups, the store's share."""
    runs, n_cells = result["runs"], result["n_cells"]
    best = {label: min(e["wall_s"] for e in entries) for label, entries in runs.items()}
    cpu = {label: min(e["cpu_s"] for e in entries) for label, entries in runs.items()}
    loop, inproc = best["loop"], best["in-process"]
    per_cell = loop / n_cells
    summary = {"best_s": best, "best_cpu_s": cpu, "cell_compute_s": per_cell,
               # each in-process run against the loop run beside it (the runs alternate, ABBA: pairs by repeat)
               "overhead_paired": [i["wall_s"] / lo["wall_s"] - 1 for i, lo in zip(runs["in-process"], runs["loop"])],
               # minima of the alternated repeats (sensitive to the machine's drift between runs)
               "overhead_min": (inproc - loop) / loop,
               # CPU seconds (less sensitive to other processes than wall time)
               "overhead_cpu": (cpu["in-process"] - cpu["loop"]) / cpu["loop"],
               # the sweep's wall time outside its groups (spec, store, driver), against the groups' time
               "outside_groups": [(e["wall_s"] - e["profile"]["compute_s"]) / e["profile"]["compute_s"]
                                  for e in runs["in-process"]],
               # the target's definition: the median of the paired runs (drift between pairs cancels)
               "overhead": statistics.median([i["wall_s"] / lo["wall_s"] - 1
                                              for i, lo in zip(runs["in-process"], runs["loop"])]),
               "batching_gain": best["naive loop"] / loop,
               "write_fraction_of_cell": result["store"]["write_mean_s"] / per_cell}
    if "loop, 2 processes" in runs:
        summary["pool_compute_s"] = min(e["compute_s"] for e in runs["loop, 2 processes"])
        summary["ceiling_2_vs_loop"] = loop / summary["pool_compute_s"]
    if "workers=1" in best and "workers=2" in best:
        summary["speedup_2_vs_1"] = best["workers=1"] / best["workers=2"]
        summary["speedup_2_vs_inprocess"] = inproc / best["workers=2"]
        summary["speedup_2_vs_1_paired"] = [a["wall_s"] / b["wall_s"]
                                            for a, b in zip(runs["workers=1"], runs["workers=2"])]
    return summary


def render(result: dict) -> str:
    """The markdown tables of a result (``--render JSON`` redraws them from a saved run)."""
    spec, runs, store, identical = result["spec"], result["runs"], result["store"], result["identical"]
    n_cells, n_groups, machine, summary = result["n_cells"], result["n_groups"], result["machine"], result["summary"]
    best, cpu = summary["best_s"], summary["best_cpu_s"]
    loop, inproc, w1 = best["loop"], best["in-process"], best.get("workers=1")
    per_cell, overhead = summary["cell_compute_s"], summary["overhead"]
    speedup = summary.get("speedup_2_vs_1", float("nan"))

    def others(label):
        vals = [e["others_cpu"] for e in runs[label] if e["others_cpu"] is not None]
        return "?" if not vals else "/".join(f"{v:.0%}" for v in vals)

    def percents(values):
        return ", ".join(f"{100 * v:+.1f} %" for v in values)

    md = [(f"\n### Test sweep: optimize, {n_cells} cells = {len(spec['datasets'])} datasets x "
          f"{len(spec['axes']['measures'])} measures x {len(spec['axes']['seed'])} seeds, {n_groups} groups of "
          f"{len(spec['axes']['seed'])} seeds, {spec['settings']['steps']} steps, pcs 3, no decoding, float32, "
          "one thread per process\n"),
          "Datasets: " + "; ".join(f"{n} = {e['generator']}({_arguments(e)})" for n, e in spec["datasets"].items())
          + f". Measures: {', '.join(spec['axes']['measures'])}.\n",
          ("| run | wall (min) | runs, in order (s) | CPU s (min) | cells/min | vs loop | vs workers=1 | vs in-process "
           "| others' CPU |"),
          "|---|---:|---|---:|---:|---:|---:|---:|---:|"]
    describe = {"loop": "plain loop (run_batch per group)", "naive loop": "naive loop (experiments.run per cell)",
                "in-process": "sweep, in-process (default)", "workers=1": "sweep, workers=1",
                "workers=2": "sweep, workers=2", "local_cluster=2": "sweep, local_cluster=2 (Dask)",
                "loop, 2 processes": "plain loop, 2 processes (pool start-up included)"}
    for label in ("loop", "naive loop", "in-process", "workers=1", "workers=2", "local_cluster=2",
                  "loop, 2 processes"):
        if label not in best:
            continue
        t = best[label]
        md.append(f"| {describe[label]} | {fmt_t(t)} | {', '.join(format(e['wall_s'], '.1f') for e in runs[label])} "
                  f"| {cpu[label]:.1f} | {60 * n_cells / t:.1f} | {loop / t:.2f}x | "
                  f"{(w1 / t) if w1 else float('nan'):.2f}x | {inproc / t:.2f}x | {others(label)} |")
    md += ["", "| target | result | met? |", "|---|---|---|",
           (f"| sweep overhead (in-process - loop) / loop < 5 % | {100 * overhead:+.1f} % (median of "
            f"{result['repeats']} pairs run side by side, ABBA order: {percents(summary['overhead_paired'])}) | "
            f"{'yes' if overhead < 0.05 else '**no**'} |"),
           (f"| (the same from the minima: {fmt_t(inproc)} against {fmt_t(loop)}) | "
            f"{100 * summary['overhead_min']:+.1f} % | |"),
           f"| (the same in CPU seconds, minima) | {100 * summary['overhead_cpu']:+.1f} % | |",
           (f"| (the in-process sweep's wall time outside its groups / the groups' time) | "
            f"{percents(summary['outside_groups'])} | |"),
           (f"| 2 workers >= 1.6x 1 worker | {speedup:.2f}x (runs side by side: "
            f"{', '.join(f'{v:.2f}x' for v in summary.get('speedup_2_vs_1_paired', []))}; vs in-process "
            f"{summary.get('speedup_2_vs_inprocess', float('nan')):.2f}x) | {'yes' if speedup >= 1.6 else '**no**'} |"),
           f"| (batching gain: naive loop / loop) | {summary['batching_gain']:.2f}x | |"]
    if "ceiling_2_vs_loop" in summary:
        md.append(f"| (the machine's ceiling: loop / the loop's groups on 2 processes started beforehand, "
                  f"{fmt_t(summary['pool_compute_s'])}) | {summary['ceiling_2_vs_loop']:.2f}x | |")
    md += ["", "Where the time went (from each store's cell times; the fastest run of each; seconds):", "",
           ("| run | wall | start-up to first cell | compute (sum of cells) | per worker: groups, busy, idle gaps, "
            "last end | imbalance at the end | after last cell |"), "|---|---:|---:|---:|---|---:|---:|"]
    for label in ("in-process", "workers=1", "workers=2", "local_cluster=2"):
        if label not in runs:
            continue
        e = min(runs[label], key=lambda r: r["wall_s"])
        p = e["profile"]
        per_worker = "; ".join(f"{w['groups']}, {w['busy_s']:.1f}, {w['idle_gaps_s']:.2f}, {w['last_end_s']:.1f}"
                               for w in p["workers"].values())
        md.append(f"| {label} | {e['wall_s']:.1f} | {p['startup_s']:.2f} | {p['compute_s']:.1f} | {per_worker} | "
                  f"{p['imbalance_s']:.1f} | {p['shutdown_s']:.2f} |")
    groups_s = min(runs["in-process"], key=lambda r: r["wall_s"])["profile"]["group_s"]
    md.append(f"\nGroup durations in-process (s, sorted): {', '.join(f'{g:.1f}' for g in groups_s)}; a perfect "
              "split over 2 workers takes at least max(sum/2, longest) = "
              f"{max(sum(groups_s) / 2, max(groups_s)):.1f} s.")
    md += ["", "Stored tables identical (exact) to the in-process store's:",
           ", ".join(f"{k}: {'yes' if v.get('tables_same', v.get('same')) and v.get('cells_same', True) else 'NO'}"
                     + ("" if v.get("tables_same", v.get("same")) else f" (max abs diff {v['max_abs_diff']:.1e})")
                     for k, v in identical.items()) + " (loop: its Records' tables and final_Y)."]
    md += ["", (f"Store (WAL, synchronous=FULL): one cell's outcome = tables {store['rows']} "
                f"({store['tables_bytes'] / 1e3:.0f} kB encoded) + final_Y ({store['arrays_bytes'] / 1e3:.0f} kB)"),
           "", "| store operation | time | per cell compute |", "|---|---:|---:|",
           (f"| Store.write, mean of {store['writes']} (median {fmt_t(store['write_median_s'])}, max "
            f"{fmt_t(store['write_max_s'])}) | {fmt_t(store['write_mean_s'])} | "
            f"{100 * store['write_mean_s'] / per_cell:.2f} % of {fmt_t(per_cell)} |"),
           f"| of which: encoding the tables (npz blobs) | {fmt_t(store['encode_mean_s'])} | |",
           f"| of which: the array file (tmp + fsync + rename) | {fmt_t(store['array_file_mean_s'])} | |"]
    for where, reads in store["reads"].items():
        for op, t in reads.items():
            if op in ("rows", "cells"):
                continue
            rows = f", {reads['rows'][op[7:-2]]} rows" if op.startswith("table(") else ""
            md.append(f"| {op} ({where}: {reads['cells']} cells{rows}) | {fmt_t(t)} | |")
    md.append(f"\nLoad average at start {machine['loadavg_start'][0]:.2f} (`/proc/loadavg`: {machine['uptime']}); "
              "others' CPU: share of the 2 CPUs used by other processes during each run (ours: this process and its "
              "reaped children).")
    return "\n".join(md)


def _arguments(entry: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in entry.items() if k != "generator")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=STEPS, help="Adam steps per run (every cell's cost)")
    ap.add_argument("--repeats", type=int, default=4,
                    help="pairs of runs of the loop and of the in-process sweep (ABBA order; the median pair)")
    ap.add_argument("--repeats-workers", type=int, default=2, help="runs of workers=1 and workers=2 (min)")
    ap.add_argument("--writes", type=int, default=200, help="Store.write calls timed")
    ap.add_argument("--no-dask", action="store_true", help="skip the LocalCluster run")
    ap.add_argument("--wait-quiet", type=float, default=15.0,
                    help="before each timed run, wait up to this many seconds for other processes to go quiet")
    ap.add_argument("--quick", action="store_true", help="a smoke run on a tiny sweep (writes sweep-quick.json)")
    ap.add_argument("--out", default=None, help="JSON output (default bench/results/sweep.json)")
    ap.add_argument("--render", default=None, metavar="JSON",
                    help="only redraw the tables of a saved run (writes JSON's .md beside it)")
    args = ap.parse_args(argv)
    if args.render:
        import json

        path = Path(args.render)
        result = json.loads(path.read_text())
        result["summary"] = summarize(result)
        md, machine = render(result), result["machine"]
        path.write_text(json.dumps(result, indent=1, default=str))
        path.with_suffix(".md").write_text(
            f"<!-- generated by bench/bench_sweep.py on {machine['date_utc']} -->\n"
            f"Machine: {machine['cpu_model']}, {machine['cpu_count']} CPUs, torch {machine['torch_version']} "
            f"({machine['blas']}), {machine['torch_threads']} threads; load average at start "
            f"{machine['loadavg_start'][0]:.2f}, at end {machine['loadavg_end'][0]:.2f}; total "
            f"{machine['total_wall_s']:.0f} s.\n" + md + "\n")
        print(md)
        return 0
    if args.quick:
        spec = test_spec(steps=QUICK["steps"], datasets=QUICK["datasets"], measures=QUICK["measures"],
                         seeds=QUICK["seeds"])
        args.repeats, args.repeats_workers, args.writes, args.wait_quiet = 1, 1, 10, 0.0
    else:
        spec = test_spec(steps=args.steps)
    out = Path(args.out) if args.out else HERE / "results" / ("sweep-quick.json" if args.quick else "sweep.json")
    out.parent.mkdir(parents=True, exist_ok=True)

    import repalign
    from repalign.sweeps import load_spec

    t_run = time.perf_counter()

    def log(msg):
        print(f"[{time.perf_counter() - t_run:7.1f}s] {msg}", flush=True)

    machine = machine_info(repalign, uptime=Path("/proc/loadavg").read_text().strip())
    cells = load_spec(spec).cells()
    n_cells, n_groups = len(cells), len({c.group for c in cells})
    log(f"test sweep: {n_cells} cells in {n_groups} groups ({len(spec['datasets'])} datasets x "
        f"{len(spec['axes']['measures'])} measures x {len(spec['axes']['seed'])} seeds), {spec['settings']['steps']} "
        f"steps; load average {os.getloadavg()[0]:.2f}")
    work = Path(tempfile.mkdtemp(prefix="bench-sweep-"))
    runs: dict[str, list] = {}

    def record(label, fn, folder=None):
        wait_for_quiet(args.wait_quiet, 0.1, log)
        t0 = time.time()
        wall, result, others, cpu = timed(fn)
        entry = {"wall_s": wall, "others_cpu": others, "cpu_s": cpu, "loadavg": os.getloadavg()[0]}
        if folder is not None:
            entry["profile"] = profile(folder, t0, time.time())
            entry["report"] = str(result)
        runs.setdefault(label, []).append(entry)
        log(f"{label}: {fmt_t(wall)} ({60 * n_cells / wall:.1f} cells/min), others' CPU "
            f"{'?' if others is None else f'{others:.0%}'}")
        return result

    try:
        log("warm-up: one group in this process (imports, first calls)")
        warm = test_spec(steps=min(20, spec["settings"]["steps"]), datasets=spec["datasets"],
                         measures=spec["axes"]["measures"][:1], seeds=spec["axes"]["seed"])
        plain_loop(warm)

        loop_records = pool_records = None
        for rep in range(args.repeats):
            order = ("loop", "in-process") if rep % 2 == 0 else ("in-process", "loop")
            for label in order:
                if label == "loop":
                    loop_records = record("loop", lambda: plain_loop(spec))
                else:
                    record("in-process", lambda: sweep(spec, work / "in-process"), work / "in-process")
        record("naive loop", lambda: naive_loop(spec))
        for rep in range(args.repeats_workers):
            order = (1, 2) if rep % 2 == 0 else (2, 1)
            for n in order:
                folder = work / f"workers={n}"
                record(f"workers={n}", lambda n=n, f=folder: sweep(spec, f, workers=n), folder)
            pool_s, pool_records = record("loop, 2 processes", lambda: pool_loop(spec, 2))
            runs["loop, 2 processes"][-1]["compute_s"] = pool_s  # without the pool's start-up
        if not args.no_dask:
            record("local_cluster=2", lambda: sweep(spec, work / "local_cluster=2", local_cluster=2),
                   work / "local_cluster=2")

        log("comparing the stores' tables")
        identical = {label: compare_stores(work / "in-process", work / label)
                     for label in runs if label.startswith(("workers", "local_cluster"))}
        identical["loop"] = compare_loop(work / "in-process", spec, loop_records)
        if pool_records is not None:
            identical["loop, 2 processes"] = compare_loop(work / "in-process", spec, pool_records)
        log(f"identical: {identical}")

        log(f"store: {args.writes} writes of one cell's outcome")
        first = cells[0]
        settings = {**first.settings}
        store = store_costs(loop_records[0], settings, work / "writes", args.writes, work / "in-process")
    finally:
        shutil.rmtree(work, ignore_errors=True)

    result = {"machine": machine, "spec": spec, "n_cells": n_cells, "n_groups": n_groups, "repeats": args.repeats,
              "repeats_workers": args.repeats_workers, "runs": runs, "identical": identical, "store": store}
    result["summary"] = summarize(result)
    write_results(out, result, render(result), "bench_sweep.py", log, t_run)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

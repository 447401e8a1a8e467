#!/usr/bin/env python
"""Benchmark of the thread policy under contention (a script, not a test).

repalign runs its optimizer, trackers and experiments on one torch and BLAS/OpenMP thread unless told
otherwise (``threads``, ``--threads``; :mod:`repalign._threads`). This script measures why, on a machine
whose cores another process keeps busy, as lab servers and CI runners are:

* ``--load`` busy-loop Python processes (default: one per core) are started first and kept running;
* then, side by side in the same run, each workload in a fresh process (as a user would start it), in turn
  for every setting (the order reversed on every other round), ``--repeats`` times (the demo, default 2) or
  ``--optimize-repeats`` times (the optimization, default 5):

  - ``demo --quick``: ``python -m repalign.demo --quick --out TMP [--threads N]`` (wall time of the process);
  - ``optimize 100 steps``: ``repalign.optimize(X, "cka", max_steps=100)`` on an M1-sized synthetic reference
    (121 time bins x 8 conditions x 141 units, the shape of the Hatsopoulos 2007 M1 recording; Gaussian
    with a decaying spectrum), timed inside the process (imports excluded), float32 (the default);

  with the settings

  - **default**: no ``threads`` given (the library's policy: one thread);
  - **one thread**: ``threads=1`` / ``--threads 1``;
  - **torch default (old)**: ``threads=T`` / ``--threads T`` with T the thread count torch picks in a fresh
    process (``torch.get_num_threads()``, no ``OMP_NUM_THREADS``): the behaviour before the policy. A run of
    it is stopped after ``--cap`` seconds (default 240; reported as "> cap"), and its demo runs
    ``--old-repeats`` times (default 1), so that the benchmark stays short.

The workers' environment has no ``OMP_NUM_THREADS``/``MKL_NUM_THREADS``/``OPENBLAS_NUM_THREADS``, so that
only the setting under test decides. Reported: the median wall time of each (workload, setting) and its ratio
to one thread. Done-when of issue 11: default within 2x of one thread under contention.

Run:  cd /work/main && PYTHONPATH=src python bench/bench_threads.py [--repeats 2] [--optimize-repeats 5] [--cap 240]
      [--old-repeats 1] [--load 2] [--workloads demo,optimize] [--out PATH]
(10-15 minutes on 2 cores; writes bench/results/threads.json and threads.md)
"""
from __future__ import annotations

import argparse
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "VECLIB_MAXIMUM_THREADS",
                    "NUMEXPR_NUM_THREADS")
M1_SHAPE = (121, 8, 141)  # time x condition x unit
UNCAPPED_S = 1800.0  # the default and one-thread runs are not capped (this only guards against a hang)


def worker_optimize(threads: int | None) -> None:
    """The 100-step optimization, timed without the imports; prints JSON."""
    import numpy as np

    import repalign

    rng = np.random.default_rng(0)
    n_time, n_conditions, n_units = M1_SHAPE
    spectrum = 1.0 / np.arange(1, n_units + 1)  # a decaying spectrum, like recordings
    X = (rng.normal(size=(n_time * n_conditions, n_units)) * spectrum).reshape(M1_SHAPE)
    options = {} if threads is None else {"threads": threads}
    repalign.optimize(X, "cka", max_steps=2, **options)  # the first Adam step of a process loads parts of torch
    start, cpu = time.perf_counter(), time.process_time()
    result = repalign.optimize(X, "cka", max_steps=100, **options)
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    print(json.dumps({"seconds": elapsed, "cpu_s": cpu, "final_value": float(result.final_value[0]),
                      "threads": result.settings["threads"]}))


def clean_environment() -> dict:
    env = {k: v for k, v in os.environ.items() if k not in THREAD_VARIABLES}
    src = str(HERE.parent / "src")
    env["PYTHONPATH"] = src + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def torch_default_threads(env: dict) -> int:
    out = subprocess.run([sys.executable, "-c", "import torch; print(torch.get_num_threads())"], env=env,
                         capture_output=True, text=True, check=True)
    return int(out.stdout.strip())


_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def machine_busy_s() -> float | None:
    """Busy CPU seconds of the whole machine since boot (all but idle and iowait), from /proc/stat."""
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return None
    return (sum(fields[:8]) - fields[3] - fields[4]) / _TICK


def process_cpu_s(pids: list[int]) -> float:
    """CPU seconds (user + system) of the processes ``pids`` so far, from /proc/PID/stat."""
    total = 0.0
    for pid in pids:
        try:
            after_name = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(after_name[11]) + int(after_name[12])) / _TICK  # utime, stime
        except (OSError, ValueError, IndexError):
            pass
    return total


def measured(command: list[str], env: dict, timeout: float, load_pids: list[int]) -> dict:
    """Run ``command``: its wall and CPU seconds (None past ``timeout``) and the other processes' load.

    ``others_cores``: the machine's busy CPU time during the run, minus this command's and the busy loops',
    per second of wall time, i.e. how many cores the rest of the machine (other users) kept busy.
    """
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    busy, loops, start = machine_busy_s(), process_cpu_s(load_pids), time.perf_counter()
    try:
        out = subprocess.run(command, env=env, capture_output=True, text=True, check=True, timeout=timeout)
        stdout = out.stdout
    except subprocess.TimeoutExpired:
        stdout = None
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - children.ru_utime) + (after.ru_stime - children.ru_stime)
    others = None
    if busy is not None:
        others = max(0.0, (machine_busy_s() - busy) - cpu - (process_cpu_s(load_pids) - loops)) / wall
    return {"seconds": None if stdout is None else wall, "cpu_s": cpu, "others_cores": others, "stdout": stdout}


def run_demo(threads: int | None, env: dict, cap: float, load_pids: list[int]) -> dict:
    """``python -m repalign.demo --quick``: its wall time (None past ``cap`` seconds)."""
    with tempfile.TemporaryDirectory() as folder:
        command = [sys.executable, "-m", "repalign.demo", "--quick", "--out", folder]
        if threads is not None:
            command += ["--threads", str(threads)]
        row = measured(command, env, cap, load_pids)
    row.pop("stdout")
    return row


def run_optimize(threads: int | None, env: dict, cap: float, load_pids: list[int]) -> dict:
    """The 100-step optimization in a fresh process: the optimization's own wall and CPU time."""
    command = [sys.executable, str(Path(__file__).resolve()), "--worker"]
    if threads is not None:
        command += ["--threads", str(threads)]
    row = measured(command, env, cap, load_pids)
    stdout = row.pop("stdout")
    if stdout is not None:
        inside = json.loads(stdout.strip().splitlines()[-1])
        row.update(seconds=inside["seconds"], cpu_s=inside["cpu_s"])
    return row


def start_load(count: int) -> list[subprocess.Popen]:
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]


def stop_load(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        process.terminate()
    for process in processes:
        process.wait(timeout=10)


def table(result: dict) -> str:
    lines = ["| workload | setting | threads | wall per run, s (CPU s) | median wall | vs one thread | "
             "other users' load, cores |", "|---|---|---|---|---|---|---|"]
    cap = result["cap_s"]
    for workload, rows in result["workloads"].items():
        one = rows["one thread"]["median_s"]
        for setting, row in rows.items():
            times = ", ".join((f"> {cap:.0f}" if r["seconds"] is None else f"{r['seconds']:.2f}")
                              + f" ({r['cpu_s']:.1f})" for r in row["runs"])
            median = row["median_s"]
            shown = f"> {cap:.0f} s" if median is None else f"{median:.2f} s"
            ratio = "n/a" if median is None or one is None else f"{median / one:.2f}x"
            if median is None and one is not None:
                ratio = f"> {cap / one:.1f}x"
            others = [r["others_cores"] for r in row["runs"] if r["others_cores"] is not None]
            load = ", ".join(f"{o:.1f}" for o in others) or "n/a"
            lines.append(f"| {workload} | {setting} | {row['threads']} | {times} | {shown} | {ratio} | {load} |")
    return "\n".join(lines)


def median_or_none(times: list[float | None]) -> float | None:
    """The median, a capped run (None) counting as longer than any other; None when the median is capped."""
    middle = statistics.median([math.inf if t is None else t for t in times])
    return None if math.isinf(middle) else middle


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=2, help="runs of demo --quick per setting, interleaved")
    ap.add_argument("--optimize-repeats", type=int, default=5, help="runs of the 100-step optimization per setting")
    ap.add_argument("--cap", type=float, default=240.0,
                    help="seconds after which a run of the old setting (torch default) is stopped")
    ap.add_argument("--old-repeats", type=int, default=1, help="runs of the old setting (torch default), at most "
                                                               "--repeats")
    ap.add_argument("--load", type=int, default=os.cpu_count() or 2, help="busy-loop processes (0: none)")
    ap.add_argument("--workloads", default="demo,optimize", help="demo, optimize or both")
    ap.add_argument("--out", default=None, help="JSON output (default bench/results/threads.json)")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--threads", type=int, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        worker_optimize(args.threads)
        return 0

    from bench_measures import machine_info, write_results

    import repalign

    t_run = time.perf_counter()
    env = clean_environment()
    torch_threads = torch_default_threads(env)
    settings = {"default": None, "one thread": 1, f"torch default (old, {torch_threads})": torch_threads}
    runners = {"demo --quick": run_demo, "optimize 100 steps (cka, 121x8x141, float32)": run_optimize}
    chosen = [w.strip() for w in args.workloads.split(",")]
    runners = {k: v for k, v in runners.items() if k.split()[0] in chosen}
    result = {"machine": machine_info(repalign, load_processes=args.load, torch_default_threads=torch_threads),
              "cap_s": args.cap, "repeats": args.repeats, "optimize_repeats": args.optimize_repeats,
              "old_repeats": args.old_repeats, "workloads": {}}
    load = start_load(args.load)
    try:
        time.sleep(2.0)
        for workload, runner in runners.items():
            times: dict[str, list[dict]] = {name: [] for name in settings}
            repeats = args.repeats if workload.startswith("demo") else args.optimize_repeats
            for repeat in range(repeats):
                order = list(settings) if repeat % 2 == 0 else list(settings)[::-1]
                for name in order:
                    capped = name.startswith("torch default")  # the policy's own settings always run to the end
                    if capped and workload.startswith("demo") and repeat >= args.old_repeats:
                        continue
                    row = runner(settings[name], env, args.cap if capped else UNCAPPED_S, [p.pid for p in load])
                    times[name].append(row)
                    seconds = row["seconds"]
                    print(f"{workload:48s} {name:28s} {'> cap' if seconds is None else f'{seconds:.2f} s'} "
                          f"(CPU {row['cpu_s']:.1f} s, others {row['others_cores'] or 0:.1f} cores)", flush=True)
            result["workloads"][workload] = {
                name: {"threads": settings[name] if settings[name] is not None else "(default: 1)",
                       "runs": rows, "median_s": median_or_none([r["seconds"] for r in rows])}
                for name, rows in times.items()}
    finally:
        stop_load(load)
    out = Path(args.out) if args.out else HERE / "results" / "threads.json"
    note = (f"\n{args.load} busy-loop processes on {os.cpu_count()} CPUs during every run; runs interleaved; "
            f"a run of the old setting past {args.cap:.0f} s is stopped (> cap).\n")
    write_results(out, result, table(result) + note, "bench_threads.py", print, t_run)
    return 0


if __name__ == "__main__":
    sys.exit(main())

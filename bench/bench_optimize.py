#!/usr/bin/env python
"""Benchmark of ``repalign.optimize`` against the seed paper's optimization loop (a script, not a test).

Two parts, both on the reference ``repalign.data.mante_like(seed=0)`` (15 x 72 x 727: time x condition x
unit, n = 1080 rows after flattening) and, when ``../shared/data/hatsopoulos2007_m1.npz`` exists, on the real
M1 recording (121 x 8 x 141):

1. **End to end, side by side** for cka, nbs, angular-procrustes and ridge-cv: Gaussian noise Y optimized with
   Adam until the score reaches ``--stop-at`` (0.99), once with the seed paper's formulation and once with
   ``repalign.optimize``, from the same noise, with the same learning rate and dtype:

   * seed formulation (``seed_loop`` below, after nacloos/diffscore ``diffscore/training/measure_optim.py``):
     the measure from ``bench/baselines.py`` (n x n kernels, ``svdvals`` of X̄X̄ᵀ and ȲȲᵀ whose backward
     takes full SVDs with vectors; ridge-cv refitted per fold with ``lstsq``), X recomputed every step, one
     extra forward at the start (the seed code scores Y0 before the loop), and every iterate kept (a copy of Y
     appended to a list at every step; the list is converted to numpy at the end, as ``fit_measure`` does);
   * ``repalign.optimize(X, name, max_steps=..., stop_at=..., record_every=..., seed=...)``: bound reference,
     feature-space formulas, a recorded trajectory every ``record_every`` steps instead of every iterate.

   Reported per measure: steps to reach the score on each side, steady-state steps/s (steps between the
   evaluation of iterate 0 and that of the last iterate, divided by the time between them), time to reach the
   score end to end (from the numpy reference to the returned result, set-up included) and the speed-up.
2. **Batch**: ``optimize(..., n_runs=16)`` (seeds 0..15 in one batched loop) against 16 sequential
   ``optimize(..., n_runs=1, seed=k)`` calls, same settings, per measure; total wall time, run-steps (the sum
   over runs of the steps each took) and time per run-step; the runs' stopping steps and final Y are checked
   to agree.

dtype: the end-to-end part runs in float32 (the seed code's: ``torch.Tensor(X)`` and ``torch.randn`` are float32)
and in float64 (repalign's default), ``--dtypes``; the batch part in float32, ``--batch-dtypes``. Both sides use
the same dtype, the same learning rate (0.1, the seed code's default and the library's) and the same noise
(standard normal from ``torch.Generator().manual_seed(seed)`` in float64, cast to the dtype: repalign's
documented start, so that both sides follow the same trajectory). Before each timed pair, both sides run two
untimed steps (the first Adam step of a process imports parts of torch, ~3 s here).

Run:  cd /work/main && PYTHONPATH=src python bench/bench_optimize.py [--quick] [--threads 2] [--out PATH]
"""
from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import baselines  # noqa: E402  (bench/baselines.py)
from bench_measures import (  # noqa: E402  (shared helpers of bench/bench_measures.py)
    _cpu_snapshot,
    fmt_t,
    fmt_x,
    machine_info,
    other_load,
    wait_for_quiet,
    write_results,
)

# alias -> (repalign measure factory (name, keywords), seed-formulation function, label)
MEASURES = {
    "cka": (("cka", {}), baselines.cka, "n x n svdvals (seed code)"),
    "nbs": (("nbs", {}), baselines.nbs, "n x n svdvals (seed code)"),
    "angular-procrustes": (("angular-procrustes", {}), baselines.angular_procrustes, "n x n svdvals (seed code)"),
    # the alias splits folds by conditions on 3D input; the seed code folds the flattened rows (KFold, no
    # shuffle), which is split="samples": the same folds on both sides, hence the same objective
    "ridge-cv": (("ridge-cv", {"split": "samples"}), baselines.ridge_cv, "per-fold refit, lstsq (seed code)"),
}
BATCH_CAP = {"ridge-cv": 25}  # batch part: step cap per measure (default --batch-max-steps)
# cross-validated R² stays below 1 even for Y = X (0.941 on mante_like): these measures stop at --stop-at
# times their ceiling, the score of the reference against itself (computed with the seed formulation)
RELATIVE_STOP = ("ridge-cv",)


def stop_for(alias: str, X_np: np.ndarray, stop_at: float) -> float:
    """The score at which a run of ``alias`` stops: ``stop_at``, or ``stop_at`` x its ceiling."""
    if alias not in RELATIVE_STOP:
        return stop_at
    X = torch.as_tensor(np.array(X_np, dtype=np.float64))
    return stop_at * float(MEASURES[alias][1](X, X))


# ----------------------------------------------------------------------------------------------- helpers
def noise(seed: int, shape, dtype: torch.dtype) -> torch.Tensor:
    """repalign.optimize's documented start: float64 standard normal from Generator(seed), then cast."""
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64).to(dtype)


def seed_loop(X_np: np.ndarray, fn, *, stop_at: float, max_steps: int, lr: float, seed: int,
              dtype: torch.dtype) -> dict:
    """The seed paper's optimization (diffscore MeasureOptim.fit + fit_measure), timed.

    Y starts from ``noise(seed)``; every iterate is kept as a copy; the score at iterate i is computed
    before the i-th Adam step; the loop stops at the first iterate whose score exceeds ``stop_at`` (the
    seed code's ``score > stop_crit``) or after ``max_steps`` steps.
    """
    t_start = time.perf_counter()
    X = torch.as_tensor(X_np).to(dtype)  # the seed code: torch.Tensor(X)
    Y = torch.nn.Parameter(noise(seed, X.shape, dtype))
    Y0 = torch.clone(Y)  # as the seed code: clones stay attached to the graph (no saved tensors)
    Ys = [Y0]
    scores = [fn(X, Y0)]  # the seed code scores Y0 once before the loop (its graph is kept with the score)
    opt = torch.optim.Adam([Y], lr=lr)
    t_first = t_last = None
    reached = None
    step = 0
    for step in range(max_steps + 1):
        opt.zero_grad()
        score = fn(X, Y)
        Ys.append(torch.clone(Y))  # every iterate kept
        scores.append(score)
        if step == 0:
            t_first = time.perf_counter()
        t_last = time.perf_counter()
        if not math.isfinite(float(score)):
            raise FloatingPointError(f"seed loop: non-finite score at step {step}")
        if float(score) > stop_at:
            reached = step
            break
        if step == max_steps:
            break
        (-score).backward()
        if torch.isnan(Y.grad).any():
            raise FloatingPointError(f"seed loop: NaN gradient at step {step}")
        opt.step()
    score_values = np.array([float(s) for s in scores])
    iterates = [y.detach().numpy() for y in Ys]  # fit_measure returns every iterate as numpy
    total = time.perf_counter() - t_start
    return {
        "total_s": total,
        "setup_s": t_first - t_start,
        "steps": step,
        "reached_step": reached,
        "steps_per_s": step / (t_last - t_first) if step > 0 and t_last > t_first else None,
        "final_value": float(score_values[-1]),
        "scores": score_values[1:].tolist(),  # per step 0..steps (without the extra pre-loop score)
        "iterates_kept": len(iterates),
        "iterates_bytes": int(sum(y.nbytes for y in iterates)),
    }


class Clock:
    """A repalign tracker that records the time of each call (called at step 0, every record_every steps and
    at the stopping step); it returns zeros and copies nothing."""

    name = "clock"

    def __init__(self):
        self.times: list[float] = []

    def __call__(self, reference, Y):
        self.times.append(time.perf_counter())
        return torch.zeros(len(Y), dtype=torch.float64)


def repalign_run(repalign, X_np, spec, *, stop_at, max_steps, lr, seed, dtype, record_every) -> dict:
    """``repalign.optimize`` from the numpy reference to the returned result, timed."""
    name, kwargs = spec
    clock = Clock()
    t_start = time.perf_counter()
    measure = repalign.measure(name, **kwargs)
    result = repalign.optimize(X_np, measure, max_steps=max_steps, stop_at=stop_at, record_every=record_every,
                               seed=seed, lr=lr, dtype=dtype, trackers=[clock], progress=False,
                               threads=torch.get_num_threads())  # the seed loop's threads (--threads)
    total = time.perf_counter() - t_start
    steps = result.steps
    reached = result.reached_step[0]
    span = clock.times[-1] - clock.times[0] if len(clock.times) > 1 else None
    table = result.columns
    return {
        "measure_name": measure.name,
        "total_s": total,
        "setup_s": clock.times[0] - t_start,
        "steps": steps,
        "reached_step": reached,
        "steps_per_s": steps / span if span else None,
        "final_value": float(result.final_value[0]),
        "recorded_steps": table["step"].tolist(),
        "recorded_scores": table["score"].tolist(),
    }


def trajectory_gap(base: dict, lib: dict) -> float | None:
    """Largest |score difference| between the two sides at the steps repalign recorded."""
    gaps = [abs(base["scores"][s] - v) for s, v in zip(lib["recorded_steps"], lib["recorded_scores"])
            if s < len(base["scores"])]
    return max(gaps) if gaps else None


def _memory_gb() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 2**20
    except OSError:
        pass
    return None


# ------------------------------------------------------------------------------------------------- parts
def end_to_end(repalign, ref_name: str, X_np: np.ndarray, dtype_name: str, args, log) -> list[dict]:
    rows = []
    dtype = getattr(torch, dtype_name)
    for alias in args.measures:
        spec, fn, label = MEASURES[alias]
        row = {"reference": ref_name, "measure": alias, "baseline": label, "dtype": dtype_name,
               "stop_at": stop_for(alias, X_np, args.stop_at)}
        common = dict(stop_at=row["stop_at"], max_steps=args.max_steps, lr=args.lr, seed=args.seed, dtype=dtype)
        # warm-up, untimed: the first Adam step of a process imports parts of torch (~3 s here), and the
        # first calls of each kernel allocate; neither side should pay for that inside its timing
        warm = dict(common, max_steps=2)
        repalign_run(repalign, X_np, spec, record_every=args.record_every, **warm)
        if not args.no_baseline:
            seed_loop(X_np, fn, **warm)
        row["other_load_before"] = wait_for_quiet(args.wait_quiet, args.quiet_threshold, log)
        snap = _cpu_snapshot()
        row["repalign"] = repalign_run(repalign, X_np, spec, record_every=args.record_every, **common)
        row["repalign"]["other_load"] = other_load(snap, _cpu_snapshot())
        if args.no_baseline:
            row["seed"] = None
        else:
            snap = _cpu_snapshot()
            row["seed"] = seed_loop(X_np, fn, **common)
            row["seed"]["other_load"] = other_load(snap, _cpu_snapshot())
            row["trajectory_max_abs_diff"] = trajectory_gap(row["seed"], row["repalign"])
            b, r = row["seed"], row["repalign"]
            row["speedup_end_to_end"] = b["total_s"] / r["total_s"]
            row["speedup_steps_per_s"] = (r["steps_per_s"] / b["steps_per_s"]
                                          if r["steps_per_s"] and b["steps_per_s"] else None)
            row["seed"].pop("scores")  # every step's score: long; the gap above summarizes it
        rows.append(row)
        r, b = row["repalign"], row["seed"] or {}
        log(f"  {ref_name:10s} {dtype_name} {alias:20s} repalign: reached {r['reached_step']} in {fmt_t(r['total_s'])} "
            f"({_rate(r['steps_per_s'])}) | seed: reached {b.get('reached_step')} in {fmt_t(b.get('total_s'))} "
            f"({_rate(b.get('steps_per_s'))}, {b.get('iterates_bytes', 0) / 2**20:.0f} MiB of iterates) | "
            f"speed-up {fmt_x(row.get('speedup_end_to_end'))} | max |score diff| "
            f"{row.get('trajectory_max_abs_diff') or float('nan'):.1e}")
    return rows


def batch_part(repalign, ref_name: str, X_np: np.ndarray, dtype_name: str, args, log) -> list[dict]:
    rows = []
    dtype = getattr(torch, dtype_name)
    n_runs = args.batch_runs
    for alias in args.measures:
        spec, _, _ = MEASURES[alias]
        name, kwargs = spec
        cap = args.batch_max_steps or BATCH_CAP.get(alias, args.batch_default_steps)
        common = dict(max_steps=cap, stop_at=stop_for(alias, X_np, args.stop_at), record_every=args.record_every, lr=args.lr,
                      dtype=dtype, progress=False, threads=torch.get_num_threads())
        row = {"reference": ref_name, "measure": alias, "n_runs": n_runs, "max_steps": cap, "dtype": dtype_name}
        repalign.optimize(X_np, repalign.measure(name, **kwargs), **dict(common, max_steps=2))  # warm-up
        row["other_load_before"] = wait_for_quiet(args.wait_quiet, args.quiet_threshold, log)
        order = ("batched", "sequential") if args.batch_first else ("sequential", "batched")
        results = {}
        for mode in order:
            snap = _cpu_snapshot()
            t0 = time.perf_counter()
            if mode == "batched":
                out = [repalign.optimize(X_np, repalign.measure(name, **kwargs), n_runs=n_runs, seed=args.seed,
                                         **common)]
            else:
                out = [repalign.optimize(X_np, repalign.measure(name, **kwargs), n_runs=1, seed=args.seed + k,
                                         **common) for k in range(n_runs)]
            wall = time.perf_counter() - t0
            reached = [s for res in out for s in res.reached_step]
            run_steps = sum(cap if s is None else s for s in reached)
            loop_steps = max(res.steps for res in out) if mode == "batched" else sum(res.steps for res in out)
            results[mode] = {"total_s": wall, "reached_steps": reached, "run_steps": run_steps,
                             "loop_steps": loop_steps, "s_per_run_step": wall / max(run_steps, 1),
                             "other_load": other_load(snap, _cpu_snapshot()),
                             "Y": np.concatenate([res.Y for res in out])}
        ys = [results[m].pop("Y") for m in ("sequential", "batched")]
        row.update(results)
        row["same_stopping_steps"] = results["sequential"]["reached_steps"] == results["batched"]["reached_steps"]
        row["max_abs_diff_Y"] = float(np.abs(ys[0].astype(np.float64) - ys[1].astype(np.float64)).max())
        row["speedup_batched"] = results["sequential"]["total_s"] / results["batched"]["total_s"]
        rows.append(row)
        s, b = results["sequential"], results["batched"]
        log(f"  {ref_name:10s} {dtype_name} {alias:20s} {n_runs} sequential: {fmt_t(s['total_s'])} ({s['run_steps']} run-steps, "
            f"{fmt_t(s['s_per_run_step'])}/run-step) | batched: {fmt_t(b['total_s'])} "
            f"({fmt_t(b['s_per_run_step'])}/run-step) | batched speed-up {fmt_x(row['speedup_batched'])} | "
            f"same stops {row['same_stopping_steps']}, max |dY| {row['max_abs_diff_Y']:.1e}")
    return rows


def _rate(r: float | None) -> str:
    return "n/a" if r is None else f"{r:.2f} steps/s"


def _load(x: float | None) -> str:
    return "?" if x is None else f"{100 * x:.0f}%"


# ------------------------------------------------------------------------------------------------ report
def tables(result: dict) -> str:
    cfg = result["config"]
    threads = result["machine"]["torch_threads"]
    lines = []
    for run in result["end_to_end"]:
        lines += ["", f"### {run['reference']}, {run['dtype']}: input shape {tuple(run['shape'])} (n = {run['n']}, "
                      f"p = {run['p']}), Adam lr {cfg['lr']:g}, stop at {cfg['stop_at']:g} ({', '.join(RELATIVE_STOP)}: "
                      f"{cfg['stop_at']:g} x its score for Y = X), cap {cfg['max_steps']} "
                      f"steps, {threads} threads", ""]
        lines.append("| measure | stops at | steps to reach (seed / repalign) | steps/s seed | steps/s repalign | speed-up steps/s "
                     "| time to reach, seed | time to reach, repalign | speed-up end to end | seed iterates kept "
                     "| max abs score diff | others' CPU (seed / repalign) |")
        lines.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for row in run["rows"]:
            r, b = row["repalign"], row["seed"] or {}

            def reached(d):
                if not d:
                    return "not run"
                return str(d["reached_step"]) if d.get("reached_step") is not None else f"not within {d['steps']}"

            gap = row.get("trajectory_max_abs_diff")
            lines.append(
                f"| {row['measure']} | {row['stop_at']:.4g} | {reached(b)} / {reached(r)} | {_num(b.get('steps_per_s'))} | "
                f"{_num(r['steps_per_s'])} | {fmt_x(row.get('speedup_steps_per_s'))} | {fmt_t(b.get('total_s'))} | "
                f"{fmt_t(r['total_s'])} | **{fmt_x(row.get('speedup_end_to_end'))}** | "
                f"{b.get('iterates_kept', 'n/a')} ({b.get('iterates_bytes', 0) / 2**20:.0f} MiB) | "
                f"{'n/a' if gap is None else f'{gap:.1e}'} | {_load(b.get('other_load'))} / {_load(r.get('other_load'))} |")
    for run in result["batch"]:
        runs = cfg["batch_runs"]
        lines += ["", f"### Batch, {run['reference']}, {run['dtype']}: {runs} runs (seeds {cfg['seed']}.."
                      f"{cfg['seed'] + runs - 1}) in one `optimize(..., n_runs={runs})` against {runs} sequential "
                      f"`optimize(..., n_runs=1)` calls, same settings, {threads} threads", ""]
        lines.append("| measure | step cap | run-steps | sequential total | sequential per run-step | batched total "
                     "| batched per run-step | batched speed-up | same stopping steps | max abs diff of Y "
                     "| others' CPU (seq / batch) |")
        lines.append("|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|")
        for row in run["rows"]:
            s, b = row["sequential"], row["batched"]
            lines.append(
                f"| {row['measure']} | {row['max_steps']} | {s['run_steps']} | {fmt_t(s['total_s'])} | "
                f"{fmt_t(s['s_per_run_step'])} | {fmt_t(b['total_s'])} | {fmt_t(b['s_per_run_step'])} | "
                f"**{fmt_x(row['speedup_batched'])}** | {'yes' if row['same_stopping_steps'] else 'no'} | "
                f"{row['max_abs_diff_Y']:.1e} | {_load(s['other_load'])} / {_load(b['other_load'])} |")
    return "\n".join(lines)


def _num(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.2f}"


# -------------------------------------------------------------------------------------------------- main
def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--measures", default=",".join(MEASURES), help=f"comma-separated subset of {list(MEASURES)}")
    ap.add_argument("--references", default="mante_like,m1", help="comma-separated subset of: mante_like, m1 "
                                                                   "(m1 is skipped when its file is absent)")
    ap.add_argument("--dtypes", default="float32,float64",
                    help="comma-separated dtypes of the end-to-end part, each used by both sides (float32: the "
                         "seed code's; float64: repalign's default)")
    ap.add_argument("--batch-dtypes", default="float32", help="comma-separated dtypes of the batch part")
    ap.add_argument("--lr", type=float, default=0.1, help="Adam learning rate of both sides (0.1: seed code, repalign)")
    ap.add_argument("--stop-at", type=float, default=0.99, help="score at which a run stops")
    ap.add_argument("--max-steps", type=int, default=1000, help="step cap of the end-to-end part")
    ap.add_argument("--record-every", type=int, default=10, help="repalign's record_every")
    ap.add_argument("--seed", type=int, default=0, help="noise seed (the batch uses seed .. seed + runs - 1)")
    ap.add_argument("--batch-runs", type=int, default=16)
    ap.add_argument("--batch-default-steps", type=int, default=100,
                    help=f"step cap of the batch part (overrides per measure: {BATCH_CAP})")
    ap.add_argument("--batch-max-steps", type=int, default=None, help="one step cap for every measure in the batch part")
    ap.add_argument("--batch-first", action="store_true", help="run the batched call before the sequential ones")
    ap.add_argument("--no-baseline", action="store_true", help="repalign side only (development)")
    ap.add_argument("--no-batch", action="store_true", help="skip the batch part")
    ap.add_argument("--wait-quiet", type=float, default=60.0,
                    help="before each measure, wait up to this many seconds for other processes to go quiet")
    ap.add_argument("--quiet-threshold", type=float, default=0.15,
                    help="'quiet' = other processes use less than this fraction of the CPUs")
    ap.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's default)")
    ap.add_argument("--quick", action="store_true", help="smoke run: cka and nbs, mante_like only, small caps")
    ap.add_argument("--out", default=None, help="JSON output (default bench/results/optimize.json, "
                                                "or optimize-quick.json with --quick)")
    args = ap.parse_args(argv)

    if args.threads:
        torch.set_num_threads(args.threads)
    if args.quick:
        args.measures = "cka,nbs" if args.measures == ",".join(MEASURES) else args.measures
        args.references = "mante_like"
        args.dtypes = "float32"
        args.max_steps = min(args.max_steps, 60)
        args.batch_runs = min(args.batch_runs, 4)
        args.batch_max_steps = args.batch_max_steps or 10
        args.wait_quiet = 0.0
    args.measures = [m.strip() for m in args.measures.split(",") if m.strip()]
    args.dtypes = [d.strip() for d in args.dtypes.split(",") if d.strip()]
    args.batch_dtypes = [d.strip() for d in args.batch_dtypes.split(",") if d.strip()]
    for d in args.dtypes + args.batch_dtypes:
        if d not in ("float32", "float64"):
            ap.error(f"unknown dtype {d!r}; expected float32 or float64")
    for m in args.measures:
        if m not in MEASURES:
            ap.error(f"unknown measure {m!r}; expected some of {list(MEASURES)}")
    out = Path(args.out) if args.out else HERE / "results" / ("optimize-quick.json" if args.quick else "optimize.json")
    out.parent.mkdir(parents=True, exist_ok=True)

    import repalign  # after argparse so that --help works without the library

    t_run = time.perf_counter()

    def log(msg):
        print(f"[{time.perf_counter() - t_run:7.1f}s] {msg}", flush=True)

    machine = machine_info(repalign, memory_total_gb=_memory_gb())
    log(f"machine: {machine['cpu_model']}, {machine['cpu_count']} CPUs, torch {machine['torch_version']} with "
        f"{machine['torch_threads']} threads, load average {machine['loadavg_start']}")
    references = []
    for ref in [r.strip() for r in args.references.split(",") if r.strip()]:
        if ref == "mante_like":
            dataset = repalign.data.mante_like(seed=0)
        elif ref == "m1":
            try:
                dataset = repalign.data.load_m1()
            except FileNotFoundError as error:
                log(f"M1 recording skipped: {error}")
                continue
        else:
            ap.error(f"unknown reference {ref!r}")
        X_np = np.asarray(dataset.activity, dtype=np.float64)
        shape = X_np.shape
        references.append({"name": ref, "X": X_np, "shape": list(shape), "n": int(np.prod(shape[:-1])),
                           "p": int(shape[-1])})

    result = {"machine": machine, "config": {k: v for k, v in vars(args).items()},
              "references": [{k: v for k, v in ref.items() if k != "X"} for ref in references],
              "end_to_end": [], "batch": []}
    for dtype_name in args.dtypes:
        for ref in references:
            log(f"{ref['name']}: shape {tuple(ref['shape'])}, end to end ({dtype_name}) ...")
            rows = end_to_end(repalign, ref["name"], ref["X"], dtype_name, args, log)
            result["end_to_end"].append({"reference": ref["name"], "dtype": dtype_name, "shape": ref["shape"],
                                         "n": ref["n"], "p": ref["p"], "rows": rows})
    if not args.no_batch and references:
        ref = references[0]
        for dtype_name in args.batch_dtypes:
            log(f"{ref['name']}: batch of {args.batch_runs} runs against {args.batch_runs} sequential runs "
                f"({dtype_name}) ...")
            rows = batch_part(repalign, ref["name"], ref["X"], dtype_name, args, log)
            result["batch"].append({"reference": ref["name"], "dtype": dtype_name, "rows": rows})
    write_results(out, result, tables(result), "bench_optimize.py", log, t_run)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

#!/usr/bin/env python
"""Benchmark: ``repalign.statistics.bootstrap`` (all resamples in one batched computation) against a Python loop
over the same resamples, at the M1 size (a script, not a test).

X: the real M1 recording ``repalign.data.load_m1()`` (121 time x 8 conditions x 141 units; when the file is
absent, a seeded Gaussian array of the same size, with a message). Y: a model-like (121, 8, 100) array, a
seeded random projection of X plus as much independent noise (seed 0). 1000 resamples of the 8 conditions
(``resample_counts(8, 1000, seed=0)``), the same for every measure and both sides. Per measure:

- **batched**: ``bootstrap(name, X, Y, counts=counts)`` (end to end: validation, the estimate, the
  per-condition statistics, every resample);
- **loop**: for cka and angular-procrustes, ``measure(X[:, idx], Y[:, idx])`` per resample (``idx`` the
  conditions repeated as drawn): the values must agree with the batched ones; for ridge-cv, whose
  materialised resamples would train and test on copies of one condition, the loop runs the same weighted
  per-resample computation as the batched path (the folds of the original conditions kept), one resample per
  call, sharing the per-condition statistics computed once (the strictest loop); also timed (one run each):
  the same loop computing the per-condition statistics from the data in every iteration, and the naive
  materialised loop ``measure(X[:, idx], Y[:, idx])``, whose leakage is reported (the mean of its R² minus the
  mean of the fold-kept R² over the same resamples).

Times are the minimum over ``--repeats`` (3) runs, after one untimed warm-up; both sides on ``--threads``
torch threads (1 by default, the library's thread policy). Also timed: ``permutation_test`` with 1000
permutations. The issue's target: batched at least 3x faster than the loop for each measure.

Run:  PYTHONPATH=src python bench/bench_bootstrap.py [--repeats 3] [--threads 1] [--out PATH]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bench_measures import (
    _cpu_snapshot,
    fmt_t,
    fmt_x,
    machine_info,
    other_load,
    wait_for_quiet,
    write_results,
)

MEASURES = ("cka", "angular-procrustes", "ridge-cv")
N_RESAMPLES = 1000


def best_time(fn, repeats: int):
    """(minimum wall time over ``repeats`` calls after one warm-up, the last result, others' CPU share)."""
    fn()
    times, result = [], None
    snap = _cpu_snapshot()
    for _ in range(repeats):
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
    return min(times), result, other_load(snap, _cpu_snapshot())


def data(repalign, log):
    try:
        X = np.array(repalign.data.load_m1().activity)
        source = "M1 recording (hatsopoulos2007_m1.npz)"
    except FileNotFoundError as error:
        log(f"M1 recording absent ({error}); a seeded Gaussian array of the same size instead")
        X = np.random.default_rng(1).normal(size=(121, 8, 141))
        source = "synthetic (121, 8, 141), M1 absent"
    rng = np.random.default_rng(0)
    projected = X @ rng.normal(size=(X.shape[-1], 100)) / np.sqrt(X.shape[-1])
    Y = projected + projected.std() * rng.normal(size=projected.shape)
    return X, Y, source


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--wait-quiet", type=float, default=30.0,
                    help="before each measure, wait up to this many seconds for other processes to go quiet")
    ap.add_argument("--out", default=None, help="JSON output (default bench/results/bootstrap.json)")
    args = ap.parse_args(argv)
    out = Path(args.out) if args.out else HERE / "results" / "bootstrap.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(args.threads)

    import repalign
    from repalign import statistics
    from repalign.statistics import _fast, _statistics

    t_run = time.perf_counter()

    def log(msg):
        print(f"[{time.perf_counter() - t_run:7.1f}s] {msg}", flush=True)

    machine = machine_info(repalign)
    X, Y, source = data(repalign, log)
    log(f"X {X.shape} from {source}; Y {Y.shape}; {N_RESAMPLES} resamples; {args.threads} thread(s)")
    counts = statistics.resample_counts(X.shape[1], N_RESAMPLES, seed=0)
    picks = [np.repeat(np.arange(X.shape[1]), row) for row in counts]
    rows = []
    for name in MEASURES:
        wait_for_quiet(args.wait_quiet, 0.1, log)
        m = repalign.measure(name)
        batched_s, boot, load_batched = best_time(lambda: statistics.bootstrap(m, X, Y, counts=counts, threads=args.threads),
                                                  args.repeats)
        row = {"measure": name, "name": m.name, "batched_s": batched_s, "estimate": boot.estimate,
               "standard_error": boot.standard_error, "interval": boot.interval, "other_load_batched": load_batched}
        if _fast.fast_kind(m) == "ridge":
            x, y = torch.as_tensor(X).reshape(X.shape[0], X.shape[1], -1), torch.as_tensor(Y)

            def weighted_loop():
                stats = _statistics(m, "ridge", x, y, X.shape[1])
                weights = torch.as_tensor(counts, dtype=torch.float64)
                with torch.no_grad():
                    return np.array([float(stats.values(weights[b:b + 1])[0]) for b in range(N_RESAMPLES)])

            def weighted_from_data():
                weights = torch.as_tensor(counts, dtype=torch.float64)
                with torch.no_grad():
                    return np.array([float(_statistics(m, "ridge", x, y, X.shape[1]).values(weights[b:b + 1])[0])
                                     for b in range(N_RESAMPLES)])

            loop_s, looped, load_loop = best_time(weighted_loop, args.repeats)
            from_data_s, from_data, _ = best_time(weighted_from_data, 1)
            assert np.allclose(from_data, looped, rtol=1e-12, atol=1e-14, equal_nan=True)
            naive_s, naive, _ = best_time(lambda: np.array([m(X[:, k], Y[:, k]) for k in picks]), 1)
            row.update(loop="same fold-kept weighted computation, one resample per call", naive_loop_s=naive_s,
                       from_data_loop_s=from_data_s,
                       naive_mean=float(naive.mean()), fold_kept_mean=float(np.nanmean(boot.values)),
                       leakage=float(naive.mean() - np.nanmean(boot.values)),
                       naive_standard_error=float(naive.std(ddof=1)))
        else:
            loop_s, looped, load_loop = best_time(lambda: np.array([m(X[:, k], Y[:, k]) for k in picks]),
                                                  args.repeats)
            row["loop"] = "measure(X[:, idx], Y[:, idx]) per resample"
        row.update(loop_s=loop_s, speedup=loop_s / batched_s, other_load_loop=load_loop,
                   max_abs_diff=float(np.nanmax(np.abs(looped - boot.values))))
        perm_s, perm, _ = best_time(lambda: statistics.permutation_test(m, X, Y, n_resamples=N_RESAMPLES,
                                                                    threads=args.threads),
                                    args.repeats)
        row.update(permutation_s=perm_s, chance=perm.chance, p_value=perm.p_value)
        rows.append(row)
        log(f"{name}: batched {fmt_t(batched_s)}, loop {fmt_t(loop_s)} ({fmt_x(row['speedup'])}), "
            f"max |diff| {row['max_abs_diff']:.1e}; permutations {fmt_t(perm_s)}")

    md = [f"\n### bootstrap of {N_RESAMPLES} resamples over conditions, X {X.shape} ({source}), Y {Y.shape}, "
          f"{args.threads} thread(s), min of {args.repeats}\n",
          "| measure | estimate | SE | 95% interval | batched | loop | speed-up | max abs diff | "
          "permutation_test (1000) | chance | p |",
          "|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        md.append(f"| {r['measure']} | {r['estimate']:.4f} | {r['standard_error']:.4f} | "
                  f"[{r['interval'][0]:.4f}, {r['interval'][1]:.4f}] | {fmt_t(r['batched_s'])} | {fmt_t(r['loop_s'])} | "
                  f"**{fmt_x(r['speedup'])}** | {r['max_abs_diff']:.1e} | {fmt_t(r['permutation_s'])} | "
                  f"{r['chance']:.4f} | {r['p_value']:.4f} |")
    ridge = [r for r in rows if "naive_loop_s" in r]
    for r in ridge:
        md.append(f"\n{r['measure']}: the loop is the same fold-kept weighted computation, one resample per call, "
                  f"sharing the per-condition statistics computed once ({fmt_x(r['speedup'])}). Computing those "
                  f"statistics from the data in every iteration too (the whole weighted computation per resample) "
                  f"takes {fmt_t(r['from_data_loop_s'])} ({fmt_x(r['from_data_loop_s'] / r['batched_s'])}). "
                  f"The naive materialised loop (ridge-cv on X[:, idx], Y[:, idx], copies of a condition in "
                  f"training and test folds) takes {fmt_t(r['naive_loop_s'])} "
                  f"({fmt_x(r['naive_loop_s'] / r['batched_s'])} the batched time); its mean R² over the resamples "
                  f"is {r['naive_mean']:.4f} against {r['fold_kept_mean']:.4f} with the folds kept (leakage "
                  f"+{r['leakage']:.4f}; its SE {r['naive_standard_error']:.4f} against {r['standard_error']:.4f}).")
    result = {"machine": machine, "source": source, "n_resamples": N_RESAMPLES, "threads": args.threads,
              "repeats": args.repeats, "rows": rows}
    write_results(out, result, "\n".join(md), "bench_bootstrap.py", log, t_run)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

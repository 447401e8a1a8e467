#!/usr/bin/env python
"""Benchmark: ``repalign.statistics.bootstrap`` (all resamples in one batched computation) against a Python loop
over the same resamples, at the M1 size (a script, not a test).

X: the real M1 recording ``repalign.data.load_m1()`` (121 time x 8 conditions x 141 units; when the file is
absent, a seeded Gaussian array of the same size, with a message). Y: a model-like (121, 8, 100) array, a
seeded random projection of X plus as much independent noise (seed 0). 1000 resamples of the 8 conditions, with
replacement (the bootstrap, ``resample_counts(8, 1000, seed=0, sampling="replacement")``) and half-sampled (the
default, ``sampling="half"``), the same for every measure and both sides. Per measure:

- **batched**: ``bootstrap(name, X, Y, counts=counts, sampling=..., refit=...)`` (end to end: validation, the
  estimate, the per-condition statistics, every resample);
- **loop**: for cka and angular-procrustes, ``measure(X[:, idx], Y[:, idx])`` per resample (``idx`` the
  conditions as drawn): the values must agree with the batched ones; for ridge-cv, whose materialised
  resamples would train and test on copies of one condition, the same computation as the batched path from the
  data, one resample per iteration: out of fold (the default, ``refit=False``: the folds fitted on their
  original training conditions, the resample weighting the test conditions' residuals) and refitted
  (``refit=True``: every fold refitted on the weighted training conditions). Also timed (one run): a loop that
  shares the per-condition statistics computed once, and the naive materialised loop with its leakage (the mean
  of its R² minus the mean of the fold-kept R² over the same resamples).

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

# (measure, refit): ridge-cv out of fold (the default) and refitted on every resample
CASES = (("cka", False), ("angular-procrustes", False), ("ridge-cv", False), ("ridge-cv", True))
SAMPLINGS = ("replacement", "half")
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
    rows = []
    for sampling in SAMPLINGS:
        counts = statistics.resample_counts(X.shape[1], N_RESAMPLES, seed=0, sampling=sampling)
        weights = torch.as_tensor(counts, dtype=torch.float64)
        picks = [np.repeat(np.arange(X.shape[1]), row) for row in counts]
        method = "normal" if sampling == "half" else "percentile"
        x, y = torch.as_tensor(X), torch.as_tensor(Y)
        for name, refit in CASES:
            wait_for_quiet(args.wait_quiet, 0.1, log)
            m = repalign.measure(name)

            def batched():
                return statistics.bootstrap(m, X, Y, counts=counts, sampling=sampling, method=method, refit=refit,
                                            threads=args.threads)
            batched_s, boot, load_batched = best_time(batched, args.repeats)
            row = {"sampling": sampling, "measure": name, "refit": refit, "name": m.name, "batched_s": batched_s,
                   "estimate": boot.estimate, "standard_error": boot.standard_error, "interval": boot.interval,
                   "method": method, "other_load_batched": load_batched}
            if _fast.fast_kind(m) == "ridge":
                def per_resample(b, stats=None):
                    stats = stats or _statistics(m, "ridge", x, y, X.shape[1], refit)
                    with torch.no_grad():
                        return float(stats.values(weights[b:b + 1])[0])

                def from_data():  # the whole computation per resample, from the data
                    return np.array([per_resample(b) for b in range(N_RESAMPLES)])

                def shared():  # the per-condition statistics (and out-of-fold fits) computed once, shared
                    stats = _statistics(m, "ridge", x, y, X.shape[1], refit)
                    return np.array([per_resample(b, stats) for b in range(N_RESAMPLES)])

                loop_s, looped, load_loop = best_time(from_data, 1 if refit else args.repeats)
                shared_s, shared_values, _ = best_time(shared, 1)
                assert np.allclose(shared_values, looped, rtol=1e-12, atol=1e-14, equal_nan=True)
                row.update(loop="the same computation from the data, one resample per iteration",
                           shared_loop_s=shared_s)
                if sampling == "replacement" and refit:
                    naive_s, naive, _ = best_time(lambda: np.array([m(X[:, k], Y[:, k]) for k in picks]), 1)
                    row.update(naive_loop_s=naive_s, naive_mean=float(naive.mean()),
                               fold_kept_mean=float(np.nanmean(boot.values)),
                               leakage=float(naive.mean() - np.nanmean(boot.values)))
            else:
                loop_s, looped, load_loop = best_time(lambda: np.array([m(X[:, k], Y[:, k]) for k in picks]),
                                                      args.repeats)
                row["loop"] = "measure(X[:, idx], Y[:, idx]) per resample"
            row.update(loop_s=loop_s, speedup=loop_s / batched_s, other_load_loop=load_loop,
                       max_abs_diff=float(np.nanmax(np.abs(looped - boot.values))))
            if sampling == SAMPLINGS[0] and not refit:
                perm_s, perm, _ = best_time(lambda: statistics.permutation_test(m, X, Y, n_resamples=N_RESAMPLES,
                                                                            threads=args.threads), args.repeats)
                row.update(permutation_s=perm_s, chance=perm.chance, p_value=perm.p_value)
            rows.append(row)
            log(f"{sampling} {name}{' refit' if refit else ''}: batched {fmt_t(batched_s)}, loop {fmt_t(loop_s)} "
                f"({fmt_x(row['speedup'])}), max |diff| {row['max_abs_diff']:.1e}")

    md = [f"\n### {N_RESAMPLES} resamples of the conditions, X {X.shape} ({source}), Y {Y.shape}, "
          f"{args.threads} thread(s), min of {args.repeats}\n",
          "| sampling | measure | estimate | SE | 95% interval | batched | loop | speed-up | max abs diff |",
          "|---|---|---:|---:|---|---:|---:|---:|---:|"]
    for r in rows:
        label = r["measure"] + (" (refit)" if r["refit"] else "")
        md.append(f"| {r['sampling']} | {label} | {r['estimate']:.4f} | {r['standard_error']:.4f} | "
                  f"[{r['interval'][0]:.4f}, {r['interval'][1]:.4f}] ({r['method']}) | {fmt_t(r['batched_s'])} | "
                  f"{fmt_t(r['loop_s'])} | **{fmt_x(r['speedup'])}** | {r['max_abs_diff']:.1e} |")
    md += ["", "| measure | permutation_test (1000) | chance | p |", "|---|---:|---:|---:|"]
    md += [f"| {r['measure']} | {fmt_t(r['permutation_s'])} | {r['chance']:.4f} | {r['p_value']:.4f} |"
           for r in rows if "permutation_s" in r]
    md.append("\nLoops: cka and angular-procrustes call the measure on each materialised resample; ridge-cv runs the "
              "same computation as the batched path from the data, one resample per iteration (out of fold: the "
              "folds' fits on the original training conditions and the per-condition residuals; refit: the "
              "weighted per-condition statistics and every fold refitted).")
    for r in rows:
        if r["measure"] == "ridge-cv":
            md.append(f"- {r['sampling']}, ridge-cv{' (refit)' if r['refit'] else ''}: a loop sharing the "
                      f"per-condition statistics computed once takes {fmt_t(r['shared_loop_s'])} "
                      f"({fmt_x(r['shared_loop_s'] / r['batched_s'])} the batched time).")
        if "naive_loop_s" in r:
            md.append(f"- The naive materialised loop (ridge-cv on X[:, idx], Y[:, idx], copies of a condition in "
                      f"training and test folds) takes {fmt_t(r['naive_loop_s'])}; its mean R² over the resamples is "
                      f"{r['naive_mean']:.4f} against {r['fold_kept_mean']:.4f} with the folds kept (leakage "
                      f"+{r['leakage']:.4f}).")
    result = {"machine": machine, "source": source, "n_resamples": N_RESAMPLES, "threads": args.threads,
              "repeats": args.repeats, "rows": rows}
    write_results(out, result, "\n".join(md), "bench_bootstrap.py", log, t_run)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

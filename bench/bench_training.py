#!/usr/bin/env python
"""Benchmark: the seed paper's 27-network Mante zoo trained to criterion by ``train`` in one call, against a
plain per-model PyTorch loop of the seed code's settings (a script, not a test).

The zoo: 9 architectures (CTRNN, LowPassCTRNN, LSTM × ReLU, ReTanh, Tanh) × seeds 0, 1, 2, hidden 100,
τ 100 ms, dt 50 ms, float32, Adam lr 1e-3, batch 64, the Mante task (``repalign.tasks.ManteTask``), held-out
decision accuracy read every 50 steps on 512 trials, criterion 0.93, cap 10 000 steps. Two ways, in one run:

- **train**: ``repalign.training.train(ManteTask(), ARCHITECTURES, seeds, threads=n)``: 9 stacks of 3
  networks, a network leaving its stack's computation at criterion; with ``n`` = 2, two stacks at a time.
- **per-model loop**: what the seed code does, one network after the other: a
  :class:`repalign.models.RecurrentNetwork` (the seed code's stepping, one ``F.linear`` per layer and time
  step, autograd), its own Adam, the same batches as ``train`` (``train_seed``/``eval_seed``), the same
  masked cross-entropy and the same held-out check, stopping at its own criterion; torch on ``n`` threads
  (its way of using more cores).

Both see the same initial weights and the same batches, so each network should need about the same number of
steps both ways (the table reports both; float rounding differs between the two ways of stepping, so a
network may cross the criterion at a neighbouring evaluation). Reported per thread count: wall time of each
way, their ratio, networks at criterion, total and median steps. Issue 12's targets: ``train`` at least
2.5× faster, and the whole zoo under 20 minutes.

Run:  PYTHONPATH=src python bench/bench_training.py [--threads 1 2] [--max-steps 10000] [--quick]
(``--quick``: three architectures, one seed, criterion 0.8, to check the script in about a minute).
"""
from __future__ import annotations

import argparse
import datetime
import json
import statistics
import time
from pathlib import Path

import torch
from torch.nn import functional as F

from repalign.models import ARCHITECTURES, BATCH_SIZE, LEARNING_RATE, RecurrentNetwork
from repalign.tasks import ManteTask
from repalign.training import eval_seed, train, train_seed


def per_model_loop(task, cell, activation, seed, *, max_steps, eval_every, eval_trials, criterion):
    """One network trained alone, as the seed code trains it; returns (steps, reached)."""
    net = RecurrentNetwork(cell, activation, task.n_inputs, task.n_outputs, seed=seed)
    optimizer = torch.optim.Adam(net.parameters(), lr=LEARNING_RATE)
    for step in range(max_steps + 1):
        if step % eval_every == 0 or step == max_steps:
            held_out = task.batch(eval_trials, seed=eval_seed(0, step))
            with torch.no_grad():
                outputs, _ = net(held_out.inputs)
            if task.accuracy(outputs, held_out) >= criterion:
                return step, True
        if step == max_steps:
            return step, False
        batch = task.batch(BATCH_SIZE, seed=train_seed(0, step))
        optimizer.zero_grad()
        outputs, _ = net(batch.inputs)
        each = F.cross_entropy(outputs.reshape(-1, outputs.shape[-1]), batch.targets.reshape(-1), reduction="none")
        mask = batch.mask.reshape(-1).to(each.dtype)
        ((each * mask).sum() / mask.sum()).backward()
        optimizer.step()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--max-steps", type=int, default=10_000)
    parser.add_argument("--eval-every", type=int, default=50)
    parser.add_argument("--eval-trials", type=int, default=512)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", default=str(Path(__file__).resolve().parent / "results" / "training"))
    args = parser.parse_args()
    architectures, seeds, criterion = list(ARCHITECTURES), [0, 1, 2], ManteTask.criterion
    if args.quick:
        architectures, seeds, criterion = [("CTRNN", "Tanh"), ("LowPassCTRNN", "ReTanh"), ("LSTM", "Tanh")], [0], 0.8
    task = ManteTask()
    options = dict(max_steps=args.max_steps, eval_every=args.eval_every, eval_trials=args.eval_trials,
                   criterion=criterion)
    rows = []
    for threads in args.threads:
        start = time.perf_counter()
        result = train(task, architectures, seeds, threads=threads, progress=False, **options)
        zoo_s = time.perf_counter() - start
        zoo_steps = result.table["steps"].tolist()
        previous = torch.get_num_threads()
        torch.set_num_threads(threads)
        try:
            start = time.perf_counter()
            loop = [per_model_loop(task, cell, activation, seed, **options) for cell, activation in architectures
                    for seed in seeds]
            loop_s = time.perf_counter() - start
        finally:
            torch.set_num_threads(previous)
        loop_steps = [steps for steps, _ in loop]
        row = {"threads": threads, "train_s": zoo_s, "loop_s": loop_s, "speedup": loop_s / zoo_s,
               "networks": len(zoo_steps), "train_reached": int(result.table["reached"].sum()),
               "loop_reached": sum(reached for _, reached in loop), "train_steps_total": sum(zoo_steps),
               "loop_steps_total": sum(loop_steps), "train_steps_median": statistics.median(zoo_steps),
               "loop_steps_median": statistics.median(loop_steps), "train_steps": zoo_steps, "loop_steps": loop_steps}
        rows.append(row)
        print(f"{threads} thread(s): train {zoo_s:7.1f} s, per-model loop {loop_s:7.1f} s, speed-up "
              f"{loop_s / zoo_s:.2f}x; at criterion {row['train_reached']}/{row['networks']} and "
              f"{row['loop_reached']}/{row['networks']}; steps (total, median) {row['train_steps_total']}, "
              f"{row['train_steps_median']:g} and {row['loop_steps_total']}, {row['loop_steps_median']:g}", flush=True)
    date = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    result = {"date": date, "torch": torch.__version__, "quick": args.quick, "criterion": criterion,
              "architectures": [list(a) for a in architectures], "seeds": seeds, **options, "rows": rows}
    out = Path(args.out + ("-quick" if args.quick else ""))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    lines = [f"<!-- generated by bench/bench_training.py on {date} -->",
             f"{len(architectures) * len(seeds)} networks ({len(architectures)} architectures × seeds {seeds}), Mante "
             f"task, criterion {criterion:g} held-out, cap {args.max_steps} steps", "",
             "| threads | train (s) | per-model loop (s) | speed-up | at criterion (train / loop) | "
             "steps total (train / loop) | steps median (train / loop) |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['threads']} | {r['train_s']:.1f} | {r['loop_s']:.1f} | {r['speedup']:.2f}x | "
                     f"{r['train_reached']} / {r['loop_reached']} of {r['networks']} | {r['train_steps_total']} / "
                     f"{r['loop_steps_total']} | {r['train_steps_median']:g} / {r['loop_steps_median']:g} |")
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print(f"wrote {out.with_suffix('.json')} and {out.with_suffix('.md')}")


if __name__ == "__main__":
    main()

#!/usr/bin/env python
"""Benchmark of one training step of the seed paper's 27-network zoo, stacked against one network at a time
(a script, not a test).

The zoo: 9 architectures (CTRNN, LowPassCTRNN, LSTM × ReLU, ReTanh, Tanh) × 3 seeds, hidden 100, τ 100 ms,
dt 50 ms, float32. One training step: forward over ``--steps`` time steps (40: a 2 s Mante trial at 50 ms)
and a batch of ``--batch`` trials (64, the seed code's), cross-entropy on the 3 outputs at every step,
backward, Adam step (lr 1e-3). Two ways, side by side in one run, alternating, on one torch thread:

- **stacked**: 9 :class:`repalign.models.StackedNetworks` of 3 networks each, one Adam over all of them;
- **separate**: 27 :class:`repalign.models.RecurrentNetwork` (the seed code's stepping: one ``F.linear`` per
  layer and step) in a Python loop, each with its own Adam (the seed code trains one network at a time).

Reported: the median over ``--repeats`` steps (after ``--warmup``) of each, and their ratio. Issue 12's target:
stacked at least 2.5x faster.

Run:  PYTHONPATH=src python bench/bench_models.py [--repeats 20] [--warmup 3] [--steps 40] [--batch 64]
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch.nn import functional as F

from repalign.models import ARCHITECTURES, LEARNING_RATE, RecurrentNetwork, StackedNetworks

N_IN, N_OUT, SEEDS = 7, 3, (0, 1, 2)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    g = torch.Generator().manual_seed(0)
    x = torch.randn(args.steps, args.batch, N_IN, generator=g)
    y = torch.randint(0, N_OUT, (args.steps, args.batch), generator=g)

    stacks = [StackedNetworks(cell, act, N_IN, N_OUT, seeds=list(SEEDS)) for cell, act in ARCHITECTURES]
    stack_opt = torch.optim.Adam([p for s in stacks for p in s.parameters()], lr=LEARNING_RATE)
    nets = [RecurrentNetwork(cell, act, N_IN, N_OUT, seed=s) for cell, act in ARCHITECTURES for s in SEEDS]
    net_opts = [torch.optim.Adam(n.parameters(), lr=LEARNING_RATE) for n in nets]

    def stacked_step():
        stack_opt.zero_grad()
        loss = 0.0
        for s in stacks:
            out, _ = s(x)  # (K, T, B, O)
            loss = loss + F.cross_entropy(out.reshape(-1, N_OUT), y.flatten().repeat(len(s)), reduction="sum")
        (loss / (args.steps * args.batch)).backward()
        stack_opt.step()

    def separate_step():
        for n, opt in zip(nets, net_opts):
            opt.zero_grad()
            out, _ = n(x)
            F.cross_entropy(out.reshape(-1, N_OUT), y.flatten()).backward()
            opt.step()

    times = {"stacked": [], "separate": []}
    runs = [("stacked", stacked_step), ("separate", separate_step)]
    for i in range(args.warmup + args.repeats):
        for name, step in (runs if i % 2 == 0 else runs[::-1]):
            start = time.perf_counter()
            step()
            if i >= args.warmup:
                times[name].append(time.perf_counter() - start)
    stacked, separate = (statistics.median(times[k]) for k in ("stacked", "separate"))
    print(f"27 networks, {args.steps} steps x batch {args.batch}, hidden 100, {args.threads} thread(s), "
          f"median of {args.repeats}:")
    print(f"  stacked (9 stacks of 3): {stacked * 1e3:7.1f} ms per training step")
    print(f"  separate (27 networks) : {separate * 1e3:7.1f} ms per training step")
    print(f"  speed-up               : {separate / stacked:7.2f}x")


if __name__ == "__main__":
    main()

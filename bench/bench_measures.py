#!/usr/bin/env python
"""Benchmark of repalign's measures (a script, not a timed test).

For every measure in ``MEASURES`` and every size (``seed``: X, Y of shape 15 x 72 x 727, i.e. n = 1080
rows after flattening, p = q = 727; ``large``: n = 10 000, p = q = 1 000) it times, in float64 torch:

* ``bind``: ``repalign.measure(name).bind(X)`` (caches what depends on the reference X only);
* forward and forward+backward of the bound measure ``b(Y)`` (how an optimizer uses it);
* forward and forward+backward of the unbound measure ``m(X, Y)``;
* for cka, angular-cka, nbs, angular-procrustes, ridge-cv and linreg, the seed paper's formulation
  (``bench/baselines.py``) in the same run, with the speed-up ratio.

"forward" = the call with plain tensors (no autograd graph); "forward+backward" = the call with
``Y.requires_grad_()`` followed by ``.backward()`` of the scalar.  Each cell is the median of
``--repeats`` timed calls (``time.perf_counter``) after warm-up call(s); a cell whose single call is slow
gets fewer repeats (see ``--cell-budget``).  It also measures the machine's float64 matrix-multiply
throughput (the large-size shapes (n x p)'(n x q) and a square 2048 GEMM) and the fraction of it that
linear CKA reaches at the large size.

Run:  cd /work/main && PYTHONPATH=src python bench/bench_measures.py [--sizes seed,large] [--repeats 5]
      [--quick] [--out bench/results/measures.json]
"""
from __future__ import annotations

import argparse
import datetime as _dt
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import baselines  # noqa: E402  (bench/baselines.py)

MEASURES = [
    "cka",
    "cka-debiased",
    "angular-cka",
    "nbs",
    "procrustes",
    "angular-procrustes",
    "procrustes-distance=euclidean",
    "shape_metric-alpha=0.5-distance=angular",
    "cca",
    "svcca",
    "pwcca",
    "linreg",
    "ridge-cv",
    "rsa",
]

# name -> (shape of X and Y as passed to the library, n, p, q)
SIZES = {
    "seed": dict(shape=(15, 72, 727), n=1080, p=727, q=727),
    "large": dict(shape=(10_000, 1_000), n=10_000, p=1_000, q=1_000),
}
QUICK_SIZES = {
    "seed": dict(shape=(15, 72, 727), n=1080, p=727, q=727),
    "large": dict(shape=(2_000, 200), n=2_000, p=200, q=200),  # stand-in for the smoke run only
}


# --------------------------------------------------------------------------------------------- utils
def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "-C", str(HERE.parent), "rev-parse", "--short", "HEAD"],
            capture_output=True, text=True, timeout=10,
        )
        return out.stdout.strip() or None
    except Exception:
        return None


def source_digest() -> str | None:
    """sha256 (12 hex) over the library's .py files, since the working tree may differ from the commit."""
    import hashlib

    root = HERE.parent / "src" / "repalign"
    if not root.is_dir():
        return None
    h = hashlib.sha256()
    for f in sorted(root.rglob("*.py")):
        h.update(str(f.relative_to(root)).encode())
        h.update(f.read_bytes())
    return h.hexdigest()[:12]


def fmt_t(t: float | None) -> str:
    if t is None:
        return "n/a"
    if t >= 10:
        return f"{t:.1f} s"
    if t >= 1:
        return f"{t:.2f} s"
    if t >= 0.01:
        return f"{t * 1e3:.0f} ms"
    return f"{t * 1e3:.2f} ms"


def fmt_x(r: float | None) -> str:
    if r is None:
        return "n/a"
    return f"{r:.0f}x" if r >= 100 else f"{r:.1f}x"


_CLK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _cpu_snapshot():
    """(busy CPU seconds of the whole machine, CPU seconds of this process, wall time)."""
    busy = None
    try:
        f = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        busy = (sum(f[:8]) - f[3] - f[4]) / _CLK  # all but idle and iowait
    except (OSError, ValueError, IndexError):
        pass
    return busy, time.process_time(), time.perf_counter()


def other_load(a, b) -> float | None:
    """Fraction of the machine's CPU capacity used by *other* processes between two snapshots."""
    if a[0] is None or b[0] is None or b[2] <= a[2]:
        return None
    other = (b[0] - a[0]) - (b[1] - a[1])
    return max(0.0, other) / ((b[2] - a[2]) * (os.cpu_count() or 1))


def wait_for_quiet(max_wait_s: float, threshold: float, log) -> float | None:
    """Sleep until other processes use less than ``threshold`` of the CPUs (1 s samples), at most max_wait_s."""
    t0 = time.perf_counter()
    load = None
    while True:
        a = _cpu_snapshot()
        time.sleep(1.0)
        load = other_load(a, _cpu_snapshot())
        if load is None or load < threshold or time.perf_counter() - t0 >= max_wait_s:
            break
    waited = time.perf_counter() - t0
    if waited > 2 and log is not None:
        log(f"    (waited {waited:.0f} s for other processes; their CPU share now {load:.0%})")
    return load


def max_load(*cells_holders) -> float | None:
    """Largest 'other_load' over the timed cells of the given row parts."""
    vals = []
    for h in cells_holders:
        for ph in ("fwd", "fwdbwd"):
            c = (h or {}).get(ph) or {}
            if c.get("other_load") is not None:
                vals.append(c["other_load"])
    return max(vals) if vals else None


def fmt_load(x: float | None) -> str:
    return "?" if x is None else f"{100 * x:.0f}%"


def time_call(fn, repeats: int, warmup: int, budget_s: float) -> dict:
    """Median wall time of ``fn()`` over up to ``repeats`` calls after ``warmup`` call(s).

    The number of timed calls is reduced (down to 1) when ``repeats`` calls would exceed ``budget_s``
    according to the last warm-up call; with ``warmup == 0`` the first timed call decides.
    """
    first = None
    for _ in range(warmup):
        t0 = time.perf_counter()
        fn()
        dt = time.perf_counter() - t0
        first = dt if first is None else first
        est = dt
    times: list[float] = []
    if warmup == 0:
        t0 = time.perf_counter()
        fn()
        est = time.perf_counter() - t0
        times.append(est)
    n_more = max(1, min(repeats, int(budget_s / max(est, 1e-9)))) - len(times)
    snap = _cpu_snapshot()
    for _ in range(max(0, n_more)):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return {
        "other_load": other_load(snap, _cpu_snapshot()),
        "median_s": statistics.median(times),
        "min_s": min(times),
        "n_timed": len(times),
        "times_s": times,
        "first_call_s": first,
    }


def make_data(shape, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """X: low-rank signal + noise; Y: a noisy linear read-out of X's latents (mid-range scores)."""
    g = torch.Generator().manual_seed(seed)
    n = math.prod(shape[:-1])
    p = shape[-1]
    k = 30
    Z = torch.randn(n, k, generator=g, dtype=torch.float64)
    X = Z @ torch.randn(k, p, generator=g, dtype=torch.float64) + 2.0 * torch.randn(
        n, p, generator=g, dtype=torch.float64)
    Zy = Z + 0.7 * torch.randn(n, k, generator=g, dtype=torch.float64)
    Y = Zy @ torch.randn(k, p, generator=g, dtype=torch.float64) + 2.0 * torch.randn(
        n, p, generator=g, dtype=torch.float64)
    return X.reshape(shape).contiguous(), Y.reshape(shape).contiguous()


BUSY = 0.15  # a cell during which other processes used more than this share of the CPUs is re-timed once


def retime_if_busy(cell: dict, fn, repeats, budget) -> dict:
    """Re-time a cell once (after waiting for quiet) when other processes were busy during it."""
    if cell.get("other_load") is None or cell["other_load"] <= BUSY:
        return cell
    wait_for_quiet(60, BUSY, None)
    again = time_call(fn, repeats, 0, budget)
    keep = again if (again["other_load"] or 0) < cell["other_load"] else cell
    keep = dict(keep)
    keep["retimed"] = {"first_other_load": cell["other_load"], "first_median_s": cell["median_s"],
                       "second_other_load": again["other_load"], "second_median_s": again["median_s"]}
    return keep


def paired_speedup(lib_fns: dict, base_fn, Y: torch.Tensor, pairs: int, budget: float) -> dict:
    """Interleaved forward+backward timings: library (bound, unbound) and baseline alternate, so that
    both see the same machine conditions; speed-up = median over pairs of baseline time / library time."""
    def make_step(f):
        Yg = Y.detach().clone().requires_grad_(True)

        def step():
            Yg.grad = None
            f(Yg).backward()
        return step

    steps = {k: make_step(f) for k, f in lib_fns.items()}
    base_step = make_step(base_fn)
    for st in list(steps.values()) + [base_step]:
        st()  # warm-up
    ratios: dict = {k: [] for k in steps}
    t_start = time.perf_counter()
    snap = _cpu_snapshot()
    for i in range(pairs):
        t = {}
        for k, st in steps.items():
            t0 = time.perf_counter()
            st()
            t[k] = time.perf_counter() - t0
        t0 = time.perf_counter()
        base_step()
        tb = time.perf_counter() - t0
        for k in steps:
            ratios[k].append(tb / t[k])
        if time.perf_counter() - t_start > budget and i >= 0:
            break
    return {"pairs": len(next(iter(ratios.values()))), "other_load": other_load(snap, _cpu_snapshot()),
            **{f"speedup_fwdbwd_{k}_paired": statistics.median(v) for k, v in ratios.items()},
            **{f"ratios_{k}": v for k, v in ratios.items()}}


def fwd_and_fwdbwd(f, Y: torch.Tensor, differentiable: bool, repeats, warmup, budget) -> dict:
    """Time ``f(Y)`` (forward) and ``f(Yg).backward()`` (forward+backward)."""
    out: dict = {}
    v = f(Y)
    out["value"] = float(v)
    out["fwd"] = time_call(lambda: f(Y), repeats, warmup, budget)
    out["fwd"] = retime_if_busy(out["fwd"], lambda: f(Y), repeats, budget)
    if not differentiable:
        out["fwdbwd"] = None
        out["fwdbwd_note"] = "not differentiable"
        return out
    Yg = Y.detach().clone().requires_grad_(True)

    def step():
        Yg.grad = None
        val = f(Yg)
        val.backward()

    try:
        step()
        g = Yg.grad
        out["grad_finite"] = bool(g is not None and torch.isfinite(g).all())
        out["fwdbwd"] = time_call(step, repeats, warmup, budget)
        out["fwdbwd"] = retime_if_busy(out["fwdbwd"], step, repeats, budget)
    except Exception as e:  # report, keep going
        out["fwdbwd"] = None
        out["fwdbwd_note"] = f"error: {type(e).__name__}: {e}"
    return out


def gemm_throughput(n, p, q, repeats: int) -> dict:
    """float64 GEMM GFLOP/s for (n x p)'(n x q) and a square 2048 x 2048 product (median of repeats)."""
    g = torch.Generator().manual_seed(1)
    A = torch.randn(n, p, generator=g, dtype=torch.float64)
    B = torch.randn(n, q, generator=g, dtype=torch.float64)
    S = torch.randn(2048, 2048, generator=g, dtype=torch.float64)
    res = {}
    for label, fn, flops in (
        (f"({n}x{p})'({n}x{q})", lambda: A.T @ B, 2.0 * n * p * q),
        ("2048x2048 @ 2048x2048", lambda: S @ S, 2.0 * 2048**3),
    ):
        t = time_call(fn, repeats, warmup=3, budget_s=60)
        res[label] = {
            "flops": flops,
            "median_s": t["median_s"],
            "min_s": t["min_s"],
            "gflops_median": flops / t["median_s"] / 1e9,
            "gflops_best": flops / t["min_s"] / 1e9,
        }
    return res


# ----------------------------------------------------------------------------------------- benchmark
def bench_size(size_name, spec, repalign, args, log) -> dict:
    X, Y = make_data(spec["shape"])
    n, p, q = spec["n"], spec["p"], spec["q"]
    X2, Y2 = X.reshape(n, p), Y.reshape(n, q)
    big = size_name == "large"
    rows = []
    lib_fns: dict = {}
    for name in MEASURES:
        row: dict = {"measure": name, "size": size_name}
        t_start = time.perf_counter()
        try:
            m = repalign.measure(name)
            row["canonical"] = m.name
            row["differentiable"] = bool(m.differentiable)
            row["needs_n_by_n"] = bool(m.needs_n_by_n)
        except Exception as e:
            row["error"] = f"measure(): {type(e).__name__}: {e}"
            rows.append(row)
            log(f"  {name:42s} ERROR {row['error']}")
            continue
        if big and m.needs_n_by_n:
            row["skipped"] = f"needs n x n (n = {n})"
            rows.append(row)
            log(f"  {name:42s} skipped: {row['skipped']}")
            continue
        row["other_load_before"] = wait_for_quiet(args.wait_quiet, args.quiet_threshold, log)
        reps = args.repeats_large if big else args.repeats
        if big and name == "cka":
            reps = max(reps, 5)  # the throughput figure rests on this cell
        try:
            t0 = time.perf_counter()
            b = m.bind(X)
            row["bind_s"] = time.perf_counter() - t0
            row["bound"] = fwd_and_fwdbwd(b, Y, m.differentiable, reps, args.warmup, args.cell_budget)
        except Exception as e:
            row["bound_error"] = f"{type(e).__name__}: {e}"
        try:
            row["unbound"] = fwd_and_fwdbwd(lambda Yt: m(X, Yt), Y, m.differentiable, reps, args.warmup,
                                            args.cell_budget)
        except Exception as e:
            row["unbound_error"] = f"{type(e).__name__}: {e}"
        if m.differentiable and "bound" in row and "unbound" in row:
            lib_fns[name] = {"bound": b, "unbound": (lambda mm: (lambda Yt: mm(X, Yt)))(m)}
        if "bound" in row and "unbound" in row:
            row["bound_minus_unbound"] = row["bound"]["value"] - row["unbound"]["value"]
        row["wall_s"] = time.perf_counter() - t_start
        rows.append(row)
        bd, ub = row.get("bound", {}), row.get("unbound", {})
        log(
            f"  {name:42s} bind {fmt_t(row.get('bind_s')):>8s} | bound fwd "
            f"{fmt_t((bd.get('fwd') or {}).get('median_s')):>8s} f+b "
            f"{fmt_t((bd.get('fwdbwd') or {}).get('median_s')):>8s} | unbound fwd "
            f"{fmt_t((ub.get('fwd') or {}).get('median_s')):>8s} f+b "
            f"{fmt_t((ub.get('fwdbwd') or {}).get('median_s')):>8s} | value {bd.get('value', float('nan')):.6f}"
            + (f"  [{row.get('bound_error') or row.get('unbound_error')}]"
               if ("bound_error" in row or "unbound_error" in row) else "")
        )

    # ------------------------------------------------------------------ baselines in the same run
    base_rows = []
    by_name = {r["measure"]: r for r in rows}
    for name, entries in baselines.BASELINES.items():
        lib = by_name.get(name, {})
        for label, fn, needs_nn in entries:
            br: dict = {"measure": name, "size": size_name, "baseline": label}
            if not (big and needs_nn and not (name == "cka" and args.large_baseline == "cka-forward")):
                br["other_load_before"] = wait_for_quiet(args.wait_quiet, args.quiet_threshold, log)
            if big and needs_nn:
                if name == "cka" and args.large_baseline == "cka-forward":
                    log(f"  baseline {name:20s} {label}: one forward call at n = {n} (slow) ...")
                    snap = _cpu_snapshot()
                    t0 = time.perf_counter()
                    v = fn(X2, Y2)
                    dt = time.perf_counter() - t0
                    br["fwd"] = {"median_s": dt, "min_s": dt, "n_timed": 1, "first_call_s": None,
                                 "other_load": other_load(snap, _cpu_snapshot())}
                    br["single_call"] = True
                    br["value"] = float(v)
                    br["fwdbwd"] = None
                    br["fwdbwd_note"] = ("not run: backward of svdvals needs full SVDs with vectors of two "
                                         f"{n} x {n} matrices (several times the forward)")
                else:
                    br["skipped"] = f"not run at n = {n} (n x n SVDs; see cka)"
                    base_rows.append(br)
                    log(f"  baseline {name:20s} {label}: skipped")
                    continue
            else:
                reps = args.repeats_large if big else args.repeats
                r = fwd_and_fwdbwd(lambda Yt: fn(X2, Yt), Y2, True, reps, args.warmup, args.cell_budget)
                br.update(r)
                if name in lib_fns and br.get("fwdbwd"):
                    wait_for_quiet(args.wait_quiet, args.quiet_threshold, log)
                    # the library gets the input in its own shape (3D at the seed size), the baseline 2D
                    lf = {k: (lambda f: (lambda Yt: f(Yt.reshape(Y.shape))))(f) for k, f in lib_fns[name].items()}
                    br["paired"] = paired_speedup(lf, lambda Yt: fn(X2, Yt), Y2, reps, 2 * args.cell_budget)
            # library value to compare with
            lib_val = (lib.get("bound") or {}).get("value")
            if name == "ridge-cv" and len(spec["shape"]) == 3:
                # the alias splits by conditions for 3D input; the seed code folds the flattened rows
                try:
                    lib_val = float(repalign.measure("ridge-cv", split="samples")(X, Y))
                    br["library_value_from"] = "measure('ridge-cv', split='samples') (seed code's folds)"
                except Exception as e:
                    br["library_value_note"] = f"split='samples' unavailable: {type(e).__name__}: {e}"
                    lib_val = None
            br["library_value"] = lib_val
            if lib_val is not None and "value" in br:
                br["abs_diff_vs_library"] = abs(lib_val - br["value"])
            # speed-ups (baseline time / library time)
            for mode in ("bound", "unbound"):
                for phase in ("fwd", "fwdbwd"):
                    tb = (br.get(phase) or {}).get("median_s")
                    tl = ((lib.get(mode) or {}).get(phase) or {}).get("median_s")
                    br[f"speedup_{phase}_{mode}"] = (tb / tl) if (tb and tl) else None
                    tb = (br.get(phase) or {}).get("min_s")
                    tl = ((lib.get(mode) or {}).get(phase) or {}).get("min_s")
                    br[f"speedup_{phase}_{mode}_best"] = (tb / tl) if (tb and tl) else None
            base_rows.append(br)
            log(
                f"  baseline {name:20s} {label:34s} fwd {fmt_t((br.get('fwd') or {}).get('median_s')):>8s} "
                f"f+b {fmt_t((br.get('fwdbwd') or {}).get('median_s')):>8s} | speed-up f+b bound "
                f"{fmt_x(br.get('speedup_fwdbwd_bound'))} unbound {fmt_x(br.get('speedup_fwdbwd_unbound'))} | "
                f"|diff| {br.get('abs_diff_vs_library', float('nan')):.2e}"
                + (f" | paired f+b bound {fmt_x(br['paired'].get('speedup_fwdbwd_bound_paired'))} unbound "
                   f"{fmt_x(br['paired'].get('speedup_fwdbwd_unbound_paired'))} ({br['paired']['pairs']} pairs)"
                   if br.get("paired") else "")
            )
    return {"size": size_name, "shape": list(spec["shape"]), "n": n, "p": p, "q": q,
            "measures": rows, "baselines": base_rows}


def cka_throughput(size_res: dict, gemm: dict) -> dict:
    n, p, q = size_res["n"], size_res["p"], size_res["q"]
    row = next((r for r in size_res["measures"] if r["measure"] == "cka"), None)
    best_gemm = max(v["gflops_median"] for v in gemm.values())
    same_shape = next(v["gflops_median"] for k, v in gemm.items() if "'" in k)
    out = {"n": n, "p": p, "q": q, "gemm_gflops_max": best_gemm, "gemm_gflops_same_shape": same_shape}
    if row is None:
        return out
    for mode, flops in (("bound", 2.0 * n * p * q + 2.0 * n * q * q),
                        ("unbound", 2.0 * n * p * q + 2.0 * n * q * q + 2.0 * n * p * p)):
        t = (((row.get(mode) or {}).get("fwd")) or {}).get("median_s")
        if t:
            gf = flops / t / 1e9
            out[mode] = {"useful_flops": flops, "fwd_median_s": t, "gflops": gf,
                         "fraction_of_gemm_max": gf / best_gemm, "fraction_of_gemm_same_shape": gf / same_shape}
    return out


def paired_cka_throughput(repalign, n: int, p: int, q: int, rounds: int) -> dict:
    """Linear CKA forward (bound and unbound) and the two GEMMs timed back to back in each round, so that the
    fraction compares rates taken under the same machine conditions; median over rounds."""
    X, Y = make_data((n, p), seed=0)
    Y = Y[:, :q].contiguous()
    m = repalign.measure("cka")
    b = m.bind(X)
    S = torch.randn(2048, 2048, dtype=torch.float64)
    flops = {"bound": 2.0 * n * p * q + 2.0 * n * q * q, "unbound": 2.0 * n * p * q + 2.0 * n * q * q + 2.0 * n * p * p,
             "gemm_same_shape": 2.0 * n * p * q, "gemm_2048": 2.0 * 2048**3}
    fns = {"bound": lambda: b(Y), "unbound": lambda: m(X, Y), "gemm_same_shape": lambda: X.T @ Y,
           "gemm_2048": lambda: S @ S}
    for f in fns.values():
        f()
        f()
    rates: dict = {k: [] for k in fns}
    snap = _cpu_snapshot()
    for _ in range(rounds):
        for k, f in fns.items():
            t0 = time.perf_counter()
            f()
            rates[k].append(flops[k] / (time.perf_counter() - t0) / 1e9)
    out = {"n": n, "p": p, "q": q, "rounds": rounds, "other_load": other_load(snap, _cpu_snapshot()),
           "gflops_per_round": rates}
    for mode in ("bound", "unbound"):
        fr = [c / max(g1, g2) for c, g1, g2 in zip(rates[mode], rates["gemm_same_shape"], rates["gemm_2048"])]
        out[mode] = {"gflops_median": statistics.median(rates[mode]),
                     "fraction_of_best_gemm_median": statistics.median(fr),
                     "fraction_of_same_shape_gemm_median": statistics.median(
                         [c / g for c, g in zip(rates[mode], rates["gemm_same_shape"])])}
    out["gemm_same_shape_gflops_median"] = statistics.median(rates["gemm_same_shape"])
    out["gemm_2048_gflops_median"] = statistics.median(rates["gemm_2048"])
    return out


# ------------------------------------------------------------------------------------------ reporting
def tables(result: dict) -> str:
    lines = []
    for sr in result["sizes"]:
        lines.append("")
        lines.append(f"### {sr['size']}: n = {sr['n']}, p = q = {sr['p']} (input shape {tuple(sr['shape'])}), "
                     f"float64, {result['machine']['torch_threads']} threads")
        lines.append("")
        lines.append("| measure | bind | fwd (bound) | fwd+bwd (bound) | fwd (unbound) | fwd+bwd (unbound) | value "
                     "| others' CPU |")
        lines.append("|---|---:|---:|---:|---:|---:|---:|---:|")
        for r in sr["measures"]:
            if "skipped" in r or "error" in r:
                lines.append(f"| {r['measure']} | {r.get('skipped') or r.get('error')} | | | | | | |")
                continue
            bd, ub = r.get("bound") or {}, r.get("unbound") or {}

            def cell(d, ph):
                if ph == "fwdbwd" and d and d.get("fwdbwd") is None:
                    return "n/a" if d.get("fwdbwd_note") == "not differentiable" else (d.get("fwdbwd_note") or "n/a")
                return fmt_t(((d or {}).get(ph) or {}).get("median_s"))

            val = bd.get("value", ub.get("value"))
            lines.append(
                f"| {r['measure']} | {fmt_t(r.get('bind_s'))} | {cell(bd, 'fwd')} | {cell(bd, 'fwdbwd')} | "
                f"{cell(ub, 'fwd')} | {cell(ub, 'fwdbwd')} | "
                f"{'' if val is None else f'{val:.4f}'}"
                + (f" ({r.get('bound_error') or r.get('unbound_error')})"
                   if ('bound_error' in r or 'unbound_error' in r) else "")
                + f" | {fmt_load(max_load(bd, ub))} |")
        lines.append("")
        lines.append("Seed-paper formulation in the same run (speed-up = baseline time / repalign time):")
        lines.append("")
        lines.append("| measure | baseline | fwd | fwd+bwd | speed-up fwd (bound) | speed-up fwd+bwd (bound) "
                     "| speed-up fwd+bwd (unbound) | paired speed-up fwd+bwd (bound / unbound) "
                     "| abs diff of value | others' CPU |")
        lines.append("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        for b in sr["baselines"]:
            if "skipped" in b:
                lines.append(f"| {b['measure']} | {b['baseline']} | {b['skipped']} | | | | | | | |")
                continue
            fb = fmt_t((b.get("fwdbwd") or {}).get("median_s")) if b.get("fwdbwd") else "not run"
            fw = fmt_t((b.get("fwd") or {}).get("median_s"))
            if b.get("single_call"):
                fw += " (1 call, no warm-up)"
            d = b.get("abs_diff_vs_library")
            lines.append(
                f"| {b['measure']} | {b['baseline']} | {fw} | {fb} | {fmt_x(b.get('speedup_fwd_bound'))} | "
                f"{fmt_x(b.get('speedup_fwdbwd_bound'))} | {fmt_x(b.get('speedup_fwdbwd_unbound'))} | "
                + (f"{fmt_x(b['paired'].get('speedup_fwdbwd_bound_paired'))} / "
                   f"{fmt_x(b['paired'].get('speedup_fwdbwd_unbound_paired'))} | " if b.get("paired") else "n/a | ")
                + f"{'n/a' if d is None else f'{d:.1e}'} | {fmt_load(max_load(b))} |")
    g = result["gemm"]
    lines.append("")
    lines.append("### Matrix-multiply throughput (float64) and linear CKA")
    lines.append("")
    lines.append("| GEMM | median time | GFLOP/s (median) | GFLOP/s (best) |")
    lines.append("|---|---:|---:|---:|")
    for when in ("start", "end"):
        for k, v in (g.get(when) or {}).items():
            lines.append(f"| {k} ({when} of run) | {fmt_t(v['median_s'])} | {v['gflops_median']:.1f} | "
                         f"{v['gflops_best']:.1f} |")
    ct = result.get("cka_throughput")
    if ct:
        lines.append("")
        lines.append(f"Linear CKA forward at n = {ct['n']}, p = q = {ct['p']} (useful flops: 2npq + 2nq^2 bound; "
                     f"+ 2np^2 unbound), against the best measured GEMM rate {ct['gemm_gflops_max']:.1f} GFLOP/s:")
        lines.append("")
        lines.append("| cka | useful GFLOP | time | GFLOP/s | fraction of GEMM (best of the two) | "
                     "fraction of same-shape GEMM |")
        lines.append("|---|---:|---:|---:|---:|---:|")
        for mode in ("bound", "unbound"):
            if mode in ct:
                c = ct[mode]
                lines.append(f"| {mode} | {c['useful_flops'] / 1e9:.1f} | {fmt_t(c['fwd_median_s'])} | "
                             f"{c['gflops']:.1f} | {100 * c['fraction_of_gemm_max']:.0f}% | "
                             f"{100 * c['fraction_of_gemm_same_shape']:.0f}% |")
    cp = result.get("cka_throughput_paired")
    if cp:
        lines.append("")
        lines.append(f"Paired measurement ({cp['rounds']} rounds; in each round cka bound, cka unbound, the "
                     f"same-shape GEMM and the 2048 GEMM run back to back; medians over rounds; others' CPU "
                     f"{fmt_load(cp.get('other_load'))}):")
        lines.append("")
        lines.append("| cka | GFLOP/s | fraction of the faster GEMM of the same round | fraction of same-shape GEMM |")
        lines.append("|---|---:|---:|---:|")
        for mode in ("bound", "unbound"):
            c = cp[mode]
            lines.append(f"| {mode} | {c['gflops_median']:.1f} | {100 * c['fraction_of_best_gemm_median']:.0f}% | "
                         f"{100 * c['fraction_of_same_shape_gemm_median']:.0f}% |")
        lines.append(f"| (GEMMs) | same-shape {cp['gemm_same_shape_gflops_median']:.1f}, 2048: "
                     f"{cp['gemm_2048_gflops_median']:.1f} | | |")
    return "\n".join(lines)


def machine_info(repalign, **extra) -> dict:
    """The machine, the software and the code a benchmark ran on, with ``extra`` entries."""
    return {
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch_version": torch.__version__,
        "blas": "mkl" if torch.backends.mkl.is_available() else "other",
        "python": platform.python_version(),
        "platform": platform.platform(),
        "date_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "loadavg_start": os.getloadavg(),
        "repalign_version": getattr(repalign, "__version__", None),
        "git_commit": git_commit(),
        "repalign_source_sha256_12": source_digest(),
        **extra,
    }


def write_results(out: Path, result: dict, md: str, script: str, log, t_run: float) -> None:
    """``out`` (JSON of everything) and ``out`` with ``.md`` (a machine line and the tables ``md``); prints the tables.

    Records the end of the run in ``result["machine"]`` first: the load average and the wall time since ``t_run``.
    """
    machine = result["machine"]
    machine["loadavg_end"] = os.getloadavg()
    machine["total_wall_s"] = time.perf_counter() - t_run
    out.write_text(json.dumps(result, indent=1, default=str))
    out.with_suffix(".md").write_text(
        f"<!-- generated by bench/{script} on {machine['date_utc']} -->\n"
        f"Machine: {machine['cpu_model']}, {machine['cpu_count']} CPUs, torch {machine['torch_version']} "
        f"({machine['blas']}), {machine['torch_threads']} threads; load average at start "
        f"{machine['loadavg_start'][0]:.2f}, at end {machine['loadavg_end'][0]:.2f}; total "
        f"{machine['total_wall_s']:.0f} s.\n" + md + "\n")
    print(md)
    log(f"wrote {out} and {out.with_suffix('.md')}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="seed,large", help="comma-separated subset of: seed, large")
    ap.add_argument("--repeats", type=int, default=7, help="timed calls per cell at the seed size")
    ap.add_argument("--repeats-large", type=int, default=3, help="timed calls per cell at the large size")
    ap.add_argument("--warmup", type=int, default=1, help="untimed warm-up calls per cell")
    ap.add_argument("--cell-budget", type=float, default=20.0,
                    help="seconds; fewer repeats for a cell whose calls would exceed it")
    ap.add_argument("--large-baseline", choices=["cka-forward", "none"], default="cka-forward",
                    help="at the large size run the n x n baseline only as one cka forward call, or not at all")
    ap.add_argument("--wait-quiet", type=float, default=60.0,
                    help="before each measure, wait up to this many seconds for other processes to go quiet")
    ap.add_argument("--quiet-threshold", type=float, default=0.15,
                    help="'quiet' = other processes use less than this fraction of the CPUs")
    ap.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's default)")
    ap.add_argument("--quick", action="store_true",
                    help="smoke run: 1 repeat, 'large' replaced by n = 2000, p = q = 200, no n x n large baseline")
    ap.add_argument("--throughput-only", action="store_true",
                    help="only the paired linear-CKA / GEMM measurement at the large size; added to an existing "
                         "--out JSON (its other results are kept) and the tables re-written")
    ap.add_argument("--out", default=None, help="JSON output (default bench/results/measures.json, "
                                                "or measures-quick.json with --quick)")
    args = ap.parse_args(argv)

    if args.threads:
        torch.set_num_threads(args.threads)
    sizes_spec = QUICK_SIZES if args.quick else SIZES
    if args.quick:
        args.repeats = args.repeats_large = 1
        args.large_baseline = "none"
    out = Path(args.out) if args.out else HERE / "results" / ("measures-quick.json" if args.quick else "measures.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    sizes = [s.strip() for s in args.sizes.split(",") if s.strip()]
    for s in sizes:
        if s not in sizes_spec:
            ap.error(f"unknown size {s!r}")

    import repalign  # after argparse so that --help works without the library

    t_run = time.perf_counter()

    def log(msg):
        print(f"[{time.perf_counter() - t_run:7.1f}s] {msg}", flush=True)

    if args.throughput_only:
        big = sizes_spec["large"]
        wait_for_quiet(args.wait_quiet, args.quiet_threshold, log)
        cp = paired_cka_throughput(repalign, big["n"], big["p"], big["q"], rounds=1 if args.quick else 7)
        result = json.loads(out.read_text()) if out.exists() else {
            "machine": {"torch_threads": torch.get_num_threads()}, "sizes": [], "gemm": {}}
        cp["date_utc"] = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
        cp["repalign_source_sha256_12"] = source_digest()
        result["cka_throughput_paired"] = cp
        out.write_text(json.dumps(result, indent=1, default=str))
        md_path = out.with_suffix(".md")
        header = md_path.read_text().split("\n### ", 1)[0] if md_path.exists() else ""
        md = tables(result)
        md_path.write_text(header.rstrip("\n") + "\n" + md + "\n")
        print(md)
        log(f"updated {out} and {md_path}")
        return 0

    machine = machine_info(repalign, repalign_file=getattr(repalign, "__file__", None))
    log(f"machine: {machine['cpu_model']}, {machine['cpu_count']} CPUs, torch {machine['torch_version']} "
        f"with {machine['torch_threads']} threads, load average {machine['loadavg_start']}")
    big = sizes_spec["large"]
    log("GEMM throughput (start) ...")
    gemm_start = gemm_throughput(big["n"], big["p"], big["q"], repeats=5)
    for k, v in gemm_start.items():
        log(f"  {k}: {v['gflops_median']:.1f} GFLOP/s (best {v['gflops_best']:.1f})")

    result = {"machine": machine, "config": {k: v for k, v in vars(args).items()}, "sizes": [],
              "gemm": {"start": gemm_start}}
    for s in sizes:
        spec = sizes_spec[s]
        log(f"size {s}: input shape {spec['shape']} (n = {spec['n']}, p = {spec['p']}, q = {spec['q']})")
        result["sizes"].append(bench_size(s, spec, repalign, args, log))

    log("GEMM throughput (end) ...")
    gemm_end = gemm_throughput(big["n"], big["p"], big["q"], repeats=5)
    for k, v in gemm_end.items():
        log(f"  {k}: {v['gflops_median']:.1f} GFLOP/s (best {v['gflops_best']:.1f})")
    result["gemm"]["end"] = gemm_end
    # best median rate of each GEMM over the two measurements (conservative denominator)
    gemm_best = {k: max((gemm_start[k], gemm_end[k]), key=lambda v: v["gflops_median"]) for k in gemm_start}
    result["gemm"]["used"] = gemm_best
    large = next((sr for sr in result["sizes"] if sr["size"] == "large"), None)
    if large is not None:
        result["cka_throughput"] = cka_throughput(large, gemm_best)
        log("paired linear CKA / GEMM throughput ...")
        result["cka_throughput_paired"] = paired_cka_throughput(repalign, large["n"], large["p"], large["q"],
                                                                rounds=1 if args.quick else 7)
    write_results(out, result, tables(result), "bench_measures.py", log, t_run)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

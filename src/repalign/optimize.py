r"""Optimize noise towards a reference: follow the gradient of a similarity measure.

The method of the seed paper (appendix B.2): start from Gaussian noise ``Y`` shaped like the
reference ``X``, update it with Adam to raise its similarity score with ``X`` (or lower a
distance), stop once the score reaches a threshold, and watch what ``Y`` learns on the way.

Problem, for each run r with its own free tensor :math:`Y_r` (shape of X, or another unit count):

.. math::

    \max_{Y_r}\; s(X, Y_r) \quad\text{(a score)} \qquad\text{or}\qquad
    \min_{Y_r}\; d(X, Y_r) \quad\text{(a distance)}

Algorithm (:func:`optimize`):

1. ``Y_r(0)``: standard Gaussian noise (the paper's choice; ``init_scale`` rescales it),
   drawn from ``torch.Generator().manual_seed(seed_r)`` in float64 on the CPU, then cast to
   ``dtype`` and moved to ``device``, so the start does not depend on either.
2. All runs live in one tensor ``Y`` of shape ``(n_measures * n_runs, *shape)`` updated by one
   optimizer on the loss :math:`L = \sum_r \mp v_r(Y_r)` (−score, +distance). Each run's value
   depends on its own slice only, and Adam and SGD act element-wise, so every run follows
   exactly the trajectory it would follow alone (Adam is torch's fused implementation where
   available). A registry measure sees the runs in batched calls: on an accelerator all at once; on
   the CPU a few at a time (about 16 MB of Y per call: a call over many megabytes gets its
   temporaries as fresh pages from the operating system, which made one call for 16 runs slower
   than 16 calls), and, with several torch threads and runs of at least 1 MB, in parallel, one
   run per thread with ``torch.set_num_threads(1)`` while they are evaluated (restored after
   each step): independent runs use the cores better than LAPACK's factorizations (eigh,
   Cholesky) do, and do not collapse when other processes share the cores. A user's callable
   always gets all its active runs in one call, in order, on the calling thread. Each call's
   backward follows its forward at once; the gradients are written into ``Y.grad``.
3. At every step the values are checked: a non-finite value or gradient raises
   :class:`FloatingPointError` naming the step, the run and the measure (nothing is clipped or
   replaced). A run whose value reaches ``stop_at`` is frozen (its slice is restored after each
   optimizer step, whatever the optimizer's momentum) and the others go on.
4. Every ``record_every`` steps (and at step 0, at each run's stopping step and at the last
   step) the value of each active run and the trackers' outputs are appended to a tidy table.

Runs are numbered ``r = m * n_runs + k`` for measure m and seed index k; run r starts from the
noise of seed ``seeds[k]``, so every measure starts from the same noise (paired comparisons).

Trackers watch the runs without steering them: ``tracker(reference, Y) -> {column: values}``
(or one tensor of values, named by the tracker's ``name``), called without gradient at
recording steps on the active runs, with ``reference`` a tensor shaped like X and ``Y`` the
``(batch, *shape)`` stack; each value has one entry per run in the batch.

Measures: a registry name, a :class:`~repalign.registry.Measure`, or a user callable
``f(reference, Y) -> (batch,) tensor`` that is differentiable in ``Y``. The direction comes
from ``Measure.kind``; for a callable from ``maximize=``, else its attribute ``maximize``
(bool) or ``kind`` ("score"/"distance"). A callable with ``batched = False`` is called for
each run separately (``Y`` then has a batch of one) instead of once for all. Its ``name`` attribute (else
``__name__``) labels it in the table and in checkpoints.

Checkpoints (``checkpoint=path``): every ``checkpoint_every`` steps and at the end, the state
at the start of a step — ``Y``, the optimizer's state dict, the step, which runs are frozen and
when they stopped, the recorded rows, the torch CPU random state (restored on resuming, for a
measure or tracker that draws random numbers) and the settings — is written
with :func:`torch.save` (tensors and plain Python values only; written to a temporary file and
renamed, so a crash never leaves half a file) and read back with ``weights_only=True``. If the
file exists when :func:`optimize` starts and its settings match, the run resumes from it; on
the same CPU (same torch, same thread count) the result is bit-identical to an uninterrupted
run. Settings that differ raise ``ValueError`` listing them (``max_steps``,
``checkpoint_every``, ``device`` and ``progress`` may change; a user callable or tracker is
identified by its name only). The reference and an explicit ``init`` are identified by a
SHA-256 of their float64 values.

Precision: ``dtype`` defaults to the reference's for a floating torch tensor and to float64
otherwise, as everywhere in repalign. float32 is about twice as fast on a CPU (and far faster
on a GPU) and is enough to follow the trajectory; scores are recorded in float64 either way.
"""

from __future__ import annotations

import hashlib
import math
import numbers
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import torch

from ._figures import save_figure
from .inputs import Data, as_data, check_same_samples
from .registry import BoundMeasure, Measure, measure as _named_measure

__all__ = ["optimize", "OptimizationResult"]

_OPTIMIZERS = {"adam": torch.optim.Adam, "sgd": torch.optim.SGD}
_DTYPES = {"float32": torch.float32, "float64": torch.float64}
_CHECKPOINT_FORMAT = "repalign.optimize checkpoint 1"
_RESERVED_COLUMNS = ("run", "measure", "seed", "step", "score")
# settings that may change between an interrupted run and its resumption
_RESUMABLE = ("max_steps", "checkpoint", "checkpoint_every", "device", "progress")
# on the CPU, the measures see at most this many bytes of Y per call (see _chunk_runs)
_CPU_CHUNK_BYTES = 16 * 2**20
# on the CPU, runs at least this large are evaluated in parallel threads (see _parallel_workers)
_PARALLEL_MIN_BYTES = 2**20


@dataclass(frozen=True)
class _Objective:
    name: str
    maximize: bool
    evaluate: Callable[[torch.Tensor], torch.Tensor]  # (batch, *shape) -> (batch,)
    thread_safe: bool = False  # may be called from several threads at once (registry measures)


@dataclass
class _State:
    """What changes during the loop besides Y and the optimizer (all on the CPU)."""

    active: torch.Tensor  # (n_total,) bool: runs still moving
    reached: torch.Tensor  # (n_total,) int64: step at which stop_at was reached, -1 if not yet
    last_value: torch.Tensor  # (n_total,) float64: value at each run's latest evaluated step
    rows: "_Rows"
    step: int = 0  # the step whose value is computed next


@dataclass(frozen=True)
class _Tracker:
    name: str
    function: Callable


@dataclass(frozen=True, eq=False)
class OptimizationResult:
    """What :func:`optimize` returns.

    Attributes:
        Y: final ``Y`` of every run, numpy ``(n_measures * n_runs, *shape)`` in the run's dtype
            (a frozen run holds its value at its stopping step).
        settings: every setting of the run as plain Python values (measures, seeds, shapes...).
        reached_step: per run, the step at which its value first reached ``stop_at``, or None.
        final_score: per run, its value at its last step (numpy float64).
        steps: the last step taken (``max_steps``, or earlier when every run has stopped).
        columns: the recorded table as numpy columns (see :attr:`trajectory`).
    """

    Y: np.ndarray
    settings: dict
    reached_step: tuple
    final_score: np.ndarray
    steps: int
    columns: dict = field(repr=False)

    @cached_property
    def trajectory(self):
        """Tidy table (pandas): ``run, measure, seed, step, score`` and one column per tracker output.

        ``score`` is the measure's value (a distance for distance measures); one row per run and
        recorded step, runs absent after the step at which they stopped.
        """
        import pandas as pd  # noqa: PLC0415 -- optional, loaded when the table is asked for

        return pd.DataFrame(self.columns)

    def to_frame(self):
        """A copy of :attr:`trajectory`."""
        return self.trajectory.copy()

    def plot(self, ax=None):
        """Value against step, one line per run, coloured by measure; ``stop_at`` dashed."""
        import matplotlib.pyplot as plt  # noqa: PLC0415 -- optional, loaded on first plot

        if ax is None:
            _, ax = plt.subplots(figsize=(5, 3.6))
        names = self.settings["measures"]
        colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
        run, step, score = self.columns["run"], self.columns["step"], self.columns["score"]
        n_runs = self.settings["n_runs"]
        for r in range(len(names) * n_runs):
            m = r // n_runs
            rows = run == r
            ax.plot(step[rows], score[rows], lw=1, alpha=0.8, color=colours[m % len(colours)],
                    label=names[m] if r % n_runs == 0 else None)
        if self.settings["stop_at"] is not None:
            ax.axhline(self.settings["stop_at"], ls="--", lw=0.8, color="grey", label="stop_at")
        ax.set_xlabel("step")
        ax.set_ylabel("value of the measure")
        ax.set_title(f"{self.settings['optimizer']}, lr {self.settings['lr']:g}, {n_runs} run(s) per measure")
        ax.legend(frameon=False, fontsize="small")
        return ax

    def save(self, path) -> list[str]:
        """Write :meth:`plot` as PNG and PDF and :attr:`trajectory` as CSV (``path`` without suffix)."""
        return save_figure(self.plot(), self.trajectory, path)


def optimize(
    reference,
    measure,
    *,
    max_steps: int,
    init="gaussian",
    init_scale: float | str = 1.0,
    units: int | None = None,
    optimizer: str = "adam",
    lr: float = 0.1,
    stop_at: float | None = None,
    seed: int | Sequence[int] = 0,
    n_runs: int = 1,
    record_every: int = 10,
    trackers=(),
    maximize: bool | None = None,
    device=None,
    dtype=None,
    checkpoint=None,
    checkpoint_every: int = 100,
    progress: bool | None = None,
) -> OptimizationResult:
    """Optimize free tensors ``Y`` (Gaussian noise at first) to match ``reference`` under ``measure``.

    See the module documentation for the algorithm, the batching of runs and the checkpoint format.

    Args:
        reference: X, ``(sample, unit)`` or ``(time, condition, unit)`` (numpy, torch, xarray, lists).
        measure: a registry name, a :class:`~repalign.registry.Measure`, a callable
            ``f(reference, Y) -> (batch,) tensor``, or a sequence of these (runs for every measure
            in one loop). Must be differentiable.
        max_steps: number of optimizer steps (>= 1).
        init: ``"gaussian"`` (standard normal, seeded) or an array shaped like ``Y``
            (``(*shape)`` for every run, ``(n_runs, *shape)`` per seed, or one per run).
        init_scale: standard deviation of the Gaussian start: a positive number (1: the paper) or
            ``"reference"`` (the root mean per-unit variance of the reference).
        units: unit count of ``Y`` (default: the reference's).
        optimizer: ``"adam"`` (:class:`torch.optim.Adam`, the paper) or ``"sgd"``.
        lr: learning rate.
        stop_at: freeze a run once its value reaches this (>= for a maximized measure, <= for a
            minimized one); the loop ends when every run has stopped.
        seed: the first run's seed (run k uses ``seed + k``) or one seed per run. It sets the
            initial noise and nothing else (no other step is random).
        n_runs: runs per measure.
        record_every: record values and trackers every this many steps.
        trackers: callables ``tracker(reference, Y) -> dict[str, values (batch,)]`` (or a
            ``(batch,)`` tensor, named by the tracker's ``name``), called at recording steps.
        maximize: override the direction (default: from ``Measure.kind``, or the callable's
            ``maximize``/``kind`` attribute).
        device: torch device (default: the reference's if it is a tensor, else the CPU).
        dtype: ``torch.float32`` or ``torch.float64`` (or their names). Default: the reference's
            dtype for a floating tensor, float64 otherwise (the library's default; float32 is
            about twice as fast on a CPU and much faster on a GPU).
        checkpoint: path of a checkpoint file; resumed from when it exists and matches.
        checkpoint_every: steps between checkpoints (one is always written at the end).
        progress: progress bar (tqdm, when installed). None: in a terminal or a notebook, shown
            once the run has lasted a second (short runs print nothing); False: never; True: always.

    Returns:
        :class:`OptimizationResult`.

    Raises:
        ValueError: bad arguments (each message names the argument), a non-differentiable
            measure, or a checkpoint whose settings differ.
        FloatingPointError: a non-finite value or gradient (naming the step, the run and the measure).

    Example:

    >>> import numpy as np
    >>> from repalign.optimize import optimize
    >>> X = np.random.default_rng(0).normal(size=(30, 4)) * [3.0, 2.0, 1.0, 0.5]
    >>> result = optimize(X, "cka", max_steps=100, n_runs=2, record_every=50, seed=0)
    >>> result.trajectory[["run", "step"]].values.tolist()
    [[0, 0], [1, 0], [0, 50], [1, 50], [0, 100], [1, 100]]
    >>> bool((result.final_score > 0.95).all()), result.Y.shape
    (True, (2, 30, 4))
    """
    ref_data, ref_is_torch = as_data(reference, "reference")
    ref_values = ref_data.values
    shape_x = (ref_values.shape if ref_data.n_time is None
               else (ref_data.n_time, ref_data.n_conditions, ref_values.shape[-1]))
    device = _check_device(device, ref_values if ref_is_torch else None)
    dtype = _check_dtype(dtype, ref_values if ref_is_torch else None)
    max_steps = _check_int(max_steps, "max_steps", 1)
    record_every = _check_int(record_every, "record_every", 1)
    checkpoint_every = _check_int(checkpoint_every, "checkpoint_every", 1)
    n_runs = _check_int(n_runs, "n_runs", 1)
    shape = tuple(shape_x[:-1]) + ((_check_int(units, "units", 1),) if units is not None else (shape_x[-1],))
    seeds = _check_seeds(seed, n_runs)
    if optimizer not in _OPTIMIZERS:
        raise ValueError(f"optimizer: expected one of {list(_OPTIMIZERS)}, got {optimizer!r}")
    lr = _check_positive(lr, "lr")
    if stop_at is not None:
        stop_at = _check_finite(stop_at, "stop_at")
    if maximize is not None and not isinstance(maximize, bool):
        raise ValueError(f"maximize: expected True, False or None, got {maximize!r}")
    if progress is not None and not isinstance(progress, bool):
        raise ValueError(f"progress: expected True, False or None, got {progress!r}")

    ref_t = ref_values.detach().reshape(shape_x).to(dtype=dtype, device=device)
    objectives = _objectives(measure, ref_t, maximize)
    tracker_list = _trackers(trackers)
    n_total = len(objectives) * n_runs
    y0, init_label = _initial(init, init_scale, seeds, len(objectives), shape, ref_values, dtype, device)

    settings = {
        "measures": [o.name for o in objectives],
        "maximize": [o.maximize for o in objectives],
        "reference": _digest(ref_values),
        "reference_shape": list(shape_x),
        "shape": list(shape),
        "init": init_label,
        "init_scale": init_scale if isinstance(init_scale, str) else float(init_scale),
        "optimizer": optimizer,
        "lr": lr,
        "max_steps": max_steps,
        "stop_at": stop_at,
        "seeds": seeds,
        "n_runs": n_runs,
        "record_every": record_every,
        "trackers": [t.name for t in tracker_list],
        "dtype": str(dtype).removeprefix("torch."),
        "device": str(device),
        "checkpoint": None if checkpoint is None else str(checkpoint),
        "checkpoint_every": checkpoint_every,
        "progress": progress,
    }

    Y = y0.requires_grad_(True)
    Y.grad = torch.zeros_like(Y)  # written run by run in _evaluate (no backward through Y itself)
    opt = _optimizer(optimizer, Y, lr)
    state = _State(active=torch.ones(n_total, dtype=torch.bool), reached=torch.full((n_total,), -1),
                   last_value=torch.full((n_total,), math.nan, dtype=torch.float64), rows=_Rows())
    if checkpoint is not None and Path(checkpoint).exists():
        state = _resume(Path(checkpoint), settings, Y, opt)
        if state.step > max_steps:
            raise ValueError(f"checkpoint {str(checkpoint)!r} is at step {state.step}, beyond max_steps={max_steps}")

    def save(n_rows: int, active, reached, last_value) -> None:
        _save_checkpoint(Path(checkpoint), {
            "format": _CHECKPOINT_FORMAT, "settings": settings, "step": state.step, "Y": Y.detach().cpu(),
            "optimizer": _to_cpu(opt.state_dict()), "active": active, "reached": reached,
            "last_value": last_value, "rows": state.rows.state(n_rows), "rng": torch.get_rng_state(),
        })

    run_maximize = torch.tensor([o.maximize for o in objectives]).repeat_interleave(n_runs)
    run_sign = (1.0 - 2.0 * run_maximize.to(dtype)).to(device)  # the loss is -score, +distance
    active, reached, last_value, rows = state.active, state.reached, state.last_value, state.rows
    start = state.step
    workers = _parallel_workers(Y, objectives)
    chunk_runs = 1 if workers > 1 else _chunk_runs(Y)
    pool = ThreadPoolExecutor(workers, thread_name_prefix="repalign-optimize") if workers > 1 else None
    n_frozen, frozen, held = 0, None, None
    bar = _progress_bar(progress, max_steps, start)
    try:
        while True:
            step = state.step
            if checkpoint is not None and step > start and step % checkpoint_every == 0:
                save(len(rows), active, reached, last_value)
            final = step == max_steps
            # the state at the start of this step: what the closing checkpoint saves, as resuming
            # evaluates the last step again (a run that stops there must still be active then)
            n_rows_before, before = len(rows), (active.clone(), reached.clone(), last_value.clone())
            runs_now = torch.nonzero(active).flatten()
            # the gradient is computed with the values (chunk by chunk); unused when every run stops here
            values, grad_finite = _evaluate(objectives, Y, runs_now, n_runs,
                                            None if final else run_sign, chunk_runs, pool)
            value_cpu = values.to("cpu", torch.float64)
            _check_finite_values(value_cpu, runs_now, step, objectives, n_runs)
            last_value[runs_now] = value_cpu
            newly = torch.zeros(n_total, dtype=torch.bool)
            if stop_at is not None:
                hit = torch.where(run_maximize[runs_now], value_cpu >= stop_at, value_cpu <= stop_at)
                newly[runs_now[hit]] = True
                reached[newly] = step
            stop_all = not bool((active & ~newly).any())
            every = step % record_every == 0 or final or stop_all
            keep = torch.ones_like(runs_now, dtype=torch.bool) if every else newly[runs_now]  # stopping steps too
            if bool(keep.any()):
                rows.append(step, runs_now[keep], value_cpu[keep], _track(tracker_list, ref_t, Y, runs_now[keep]))
            active &= ~newly
            if bar is not None and len(rows) > n_rows_before:
                bar.set_postfix_str(_postfix(value_cpu, runs_now, objectives, n_runs), refresh=False)
            if final or stop_all:
                break
            _check_gradient(grad_finite, runs_now, step, objectives, n_runs)
            if int((~active).sum()) != n_frozen:  # runs stopped: keep their Y, and no gradient from now on
                frozen = torch.nonzero(~active).flatten().to(device)
                n_frozen = frozen.numel()
                held = Y.detach().index_select(0, frozen)
                Y.grad.index_fill_(0, frozen, 0)
            opt.step()
            if n_frozen:  # a frozen run stays put whatever the optimizer's momentum says
                with torch.no_grad():
                    Y.index_copy_(0, frozen, held)
            state.step += 1
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
        if pool is not None:
            pool.shutdown()
    if checkpoint is not None:
        save(n_rows_before, *before)
    return OptimizationResult(
        Y=Y.detach().cpu().numpy().copy(),
        settings=settings,
        reached_step=tuple(int(s) if s >= 0 else None for s in reached.tolist()),
        final_score=last_value.numpy().copy(),
        steps=state.step,
        columns=rows.columns(objectives, seeds, n_runs),
    )


# -- the loop's pieces ------------------------------------------------------------------------------------------


def _optimizer(name: str, Y: torch.Tensor, lr: float) -> torch.optim.Optimizer:
    """Adam fused into one pass over Y where this torch supports it (no full-size temporaries, several
    times faster on a large batch of runs; the same update up to rounding), else the plain loop."""
    if name == "adam":
        try:
            return torch.optim.Adam([Y], lr=lr, fused=True)
        except (RuntimeError, TypeError, ValueError):  # torch < 2.4 on the CPU, or an unsupported device
            pass
    return _OPTIMIZERS[name]([Y], lr=lr)


def _chunk_runs(Y: torch.Tensor) -> int:
    """Runs per measure call: all of them on an accelerator; on the CPU as many as fit in
    ``_CPU_CHUNK_BYTES`` of Y. A batch's temporaries of many megabytes are mapped fresh from the
    operating system at every allocation (page faults, zeroing), while those of a run or two are
    recycled by the allocator: a single call for 16 runs of 15 x 72 x 727 was slower than 16 calls."""
    if Y.device.type != "cpu":
        return max(1, len(Y))
    per_run = max(1, Y[0].numel() * Y.element_size())
    return max(1, _CPU_CHUNK_BYTES // per_run)


def _parallel_workers(Y: torch.Tensor, objectives) -> int:
    """Threads over runs: on the CPU, with several torch threads, several runs of at least
    ``_PARALLEL_MIN_BYTES`` each and registry measures only, one run per thread at a time, each on
    one torch thread (``torch.set_num_threads(1)`` while the runs are evaluated, restored after).
    Independent runs keep every core busy, where a single run leaves LAPACK's factorizations (eigh,
    Cholesky) poorly parallel, and a shared machine makes multi-threaded LAPACK far slower still."""
    threads = torch.get_num_threads()
    if (Y.device.type != "cpu" or threads < 2 or len(Y) < 2 or not all(o.thread_safe for o in objectives)
            or Y[0].numel() * Y.element_size() < _PARALLEL_MIN_BYTES):
        return 1
    return min(threads, len(Y))


def _measure_index(runs: torch.Tensor, n_runs: int) -> torch.Tensor:
    return torch.div(runs, n_runs, rounding_mode="floor")


def _evaluate(objectives, Y: torch.Tensor, runs: torch.Tensor, n_runs: int, sign, chunk_runs: int, pool=None):
    """Values of the runs ``runs`` (in that order), and with ``sign`` their gradients, written into ``Y.grad``.

    Each registry measure is called on chunks of at most ``chunk_runs`` runs that sit next to each
    other in Y (views, no copies); a user's callable gets all its active runs in one call, in order
    (it may need the whole batch, as ``joint_optimize``'s loss does). With ``sign`` (per run: -1 to maximize, +1 to minimize) each chunk's backward
    follows its forward at once, so that only one chunk's intermediates are alive at a time. With a
    thread ``pool`` the chunks run in parallel, each on one torch thread (see ``_parallel_workers``).
    Returns the detached values and, per run, whether its gradient is finite (None without ``sign``).
    """
    which = _measure_index(runs, n_runs)
    tasks = []
    for m, objective in enumerate(objectives):
        chosen = runs[which == m]
        if not chosen.numel():
            continue
        if objective.thread_safe:  # registry measures: any chunk of runs
            tasks += [(objective, slice(lo, hi)) for lo, hi in _chunks(chosen.tolist(), chunk_runs)]
        else:  # a user's callable sees all its active runs at once, in order (it may need the whole batch)
            tasks.append((objective, chosen.to(Y.device)))

    def run(task):
        objective, where = task
        part = Y.detach()[where] if isinstance(where, slice) else Y.detach().index_select(0, where)
        if sign is None:
            with torch.no_grad():
                return objective.evaluate(part), None
        part.requires_grad_(True)
        with torch.enable_grad():
            value = objective.evaluate(part)
            run_sign = sign[where] if isinstance(where, slice) else sign.index_select(0, where)
            (grad,) = torch.autograd.grad((run_sign * value).sum(), part)
        if isinstance(where, slice):
            Y.grad[where] = grad  # chunks are disjoint slices
        else:
            Y.grad.index_copy_(0, where, grad)
        return value.detach(), _finite_rows(grad)

    if pool is not None and len(tasks) > 1:
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            results = list(pool.map(run, tasks))
        finally:
            torch.set_num_threads(threads)
    else:
        results = [run(task) for task in tasks]
    if not results:
        return Y.new_zeros(0), None
    values = torch.cat([value for value, _ in results])
    return values, (None if sign is None else torch.cat([ok for _, ok in results]).cpu())


def _chunks(runs: list[int], size: int):
    """(lo, hi) ranges of consecutive run indices, at most ``size`` runs each."""
    start = 0
    for i in range(1, len(runs) + 1):
        if i == len(runs) or runs[i] != runs[i - 1] + 1 or i - start == size:
            yield runs[start], runs[i - 1] + 1
            start = i


def _finite_rows(grad: torch.Tensor) -> torch.Tensor:
    """Per run: are all entries of its gradient finite? (A sum is non-finite if any entry is; the exact
    test runs only then, as a sum may also overflow.)"""
    ok = torch.isfinite(grad.flatten(1).sum(dim=1))
    if not bool(ok.all()):
        ok = torch.isfinite(grad).flatten(1).all(dim=1)
    return ok


def _describe_run(run: int, objectives, n_runs: int) -> str:
    return f"run {run} (measure {objectives[run // n_runs].name!r}, seed index {run % n_runs})"


def _check_finite_values(values: torch.Tensor, runs: torch.Tensor, step: int, objectives, n_runs: int) -> None:
    bad = ~torch.isfinite(values)
    if bool(bad.any()):
        which = [_describe_run(int(r), objectives, n_runs) for r in runs[bad][:5]]
        raise FloatingPointError(
            f"non-finite value at step {step} for {', '.join(which)}: {values[bad][:5].tolist()}; "
            f"the run is stopped rather than continued with altered values (try a smaller lr or float64)"
        )


def _check_gradient(finite: torch.Tensor, runs: torch.Tensor, step: int, objectives, n_runs: int) -> None:
    if not bool(finite.all()):
        which = [_describe_run(int(r), objectives, n_runs) for r in runs[~finite][:5]]
        raise FloatingPointError(
            f"non-finite gradient at step {step} for {', '.join(which)}; the run is stopped rather "
            f"than continued with altered gradients (try a smaller lr or float64)"
        )


def _track(trackers, reference: torch.Tensor, Y: torch.Tensor, runs: torch.Tensor) -> dict[str, torch.Tensor]:
    if not trackers:
        return {}
    with torch.no_grad():
        batch = Y.detach().index_select(0, runs.to(Y.device))
        out: dict[str, torch.Tensor] = {}
        for tracker in trackers:
            result = tracker.function(reference, batch)
            if not isinstance(result, Mapping):
                result = {tracker.name: result}
            for column, values in result.items():
                if not isinstance(column, str) or column in _RESERVED_COLUMNS or column in out:
                    taken = "is reserved" if column in _RESERVED_COLUMNS else "is not a string or is already taken"
                    raise ValueError(f"tracker {tracker.name!r}: column name {column!r} {taken}")
                try:
                    values = torch.as_tensor(values).detach().to("cpu", torch.float64).reshape(-1)
                except (TypeError, ValueError, RuntimeError) as error:
                    raise ValueError(f"tracker {tracker.name!r}: column {column!r} is not numeric: {error}") from None
                if values.numel() != len(runs):
                    raise ValueError(f"tracker {tracker.name!r}: column {column!r} has {values.numel()} value(s) "
                                     f"for a batch of {len(runs)} run(s)")
                out[column] = values
    return out


class _Rows:
    """Recorded rows, kept as lists of tensors until the end."""

    def __init__(self):
        self.run: list[torch.Tensor] = []
        self.step: list[torch.Tensor] = []
        self.score: list[torch.Tensor] = []
        self.extra: dict[str, list[torch.Tensor]] = {}
        self.count = 0

    def __len__(self) -> int:
        return self.count

    def append(self, step: int, runs: torch.Tensor, values: torch.Tensor, extra: dict) -> None:
        n = len(runs)
        if self.count and set(extra) != set(self.extra):
            raise ValueError(f"the trackers' columns changed during the run: {sorted(self.extra)} then {sorted(extra)}")
        self.run.append(runs.to("cpu", torch.int64))
        self.step.append(torch.full((n,), step, dtype=torch.int64))
        self.score.append(values)
        for column, value in extra.items():
            self.extra.setdefault(column, []).append(value)
        self.count += n

    def _cat(self, parts, dtype) -> torch.Tensor:
        return torch.cat(parts) if parts else torch.zeros(0, dtype=dtype)

    def state(self, n_rows: int) -> dict:
        """The first ``n_rows`` rows as a dict of tensors."""
        out = {"run": self._cat(self.run, torch.int64), "step": self._cat(self.step, torch.int64),
               "score": self._cat(self.score, torch.float64)}
        out.update({f"tracker:{k}": self._cat(v, torch.float64) for k, v in self.extra.items()})
        return {k: v[:n_rows].clone() for k, v in out.items()}

    @classmethod
    def from_state(cls, state: dict) -> "_Rows":
        rows = cls()
        rows.run, rows.step, rows.score = [state["run"]], [state["step"]], [state["score"]]
        rows.extra = {k.removeprefix("tracker:"): [v] for k, v in state.items() if k.startswith("tracker:")}
        rows.count = len(state["run"])
        if rows.count == 0:
            rows.extra = {}
        return rows

    def columns(self, objectives, seeds, n_runs: int) -> dict:
        run = self._cat(self.run, torch.int64).numpy()
        names = np.array([o.name for o in objectives], dtype=object)
        out = {
            "run": run,
            "measure": names[run // n_runs] if run.size else np.array([], dtype=object),
            "seed": np.asarray(seeds, dtype=np.int64)[run % n_runs] if run.size else np.array([], dtype=np.int64),
            "step": self._cat(self.step, torch.int64).numpy(),
            "score": self._cat(self.score, torch.float64).numpy(),
        }
        out.update({k: self._cat(v, torch.float64).numpy() for k, v in self.extra.items()})
        return out


def _postfix(values: torch.Tensor, runs: torch.Tensor, objectives, n_runs: int) -> str:
    parts = []
    which = _measure_index(runs, n_runs)
    for m, objective in enumerate(objectives):
        v = values[which == m]
        if v.numel():
            best = v.max() if objective.maximize else v.min()
            parts.append(f"{objective.name[:24]} {'max' if objective.maximize else 'min'} {float(best):.4f}")
    return "; ".join(parts)


def _progress_bar(progress: bool | None, total: int, start: int):
    if progress is False or (progress is None and not _interactive()):
        return None
    try:
        from tqdm.auto import tqdm  # noqa: PLC0415 -- optional: a bar is a convenience, not a result
    except ImportError:
        return None
    return tqdm(total=total, initial=start, desc="optimize", unit="step", leave=False,
                delay=1.0 if progress is None else 0.0)


def _interactive() -> bool:
    stream = sys.stderr
    terminal = stream is not None and hasattr(stream, "isatty") and stream.isatty()
    return terminal or "ipykernel" in sys.modules  # a notebook's stderr is no terminal but shows bars


# -- arguments ---------------------------------------------------------------------------------------------------


def _check_int(value, name: str, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        raise ValueError(f"{name}: expected an integer >= {low}, got {value!r}")
    return int(value)


def _check_finite(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValueError(f"{name}: expected a finite number, got {value!r}")
    return float(value)


def _check_positive(value, name: str) -> float:
    value = _check_finite(value, name)
    if value <= 0:
        raise ValueError(f"{name}: expected a positive number, got {value!r}")
    return value


def _check_seeds(seed, n_runs: int) -> list[int]:
    if isinstance(seed, numbers.Integral) and not isinstance(seed, bool):
        seeds = [int(seed) + k for k in range(n_runs)]
    elif isinstance(seed, Sequence) and not isinstance(seed, str):
        seeds = list(seed)
        if len(seeds) != n_runs:
            raise ValueError(f"seed: expected one seed per run ({n_runs}), got {len(seeds)}")
    else:
        raise ValueError(f"seed: expected a non-negative integer or one per run, got {seed!r}")
    for s in seeds:
        if isinstance(s, bool) or not isinstance(s, numbers.Integral) or not 0 <= s < 2**63:
            raise ValueError(f"seed: expected non-negative integers below 2**63, got {s!r}")
    return [int(s) for s in seeds]


def _check_dtype(dtype, reference: torch.Tensor | None) -> torch.dtype:
    if dtype is None:
        return reference.dtype if reference is not None and reference.dtype in _DTYPES.values() else torch.float64
    if isinstance(dtype, str) and dtype.removeprefix("torch.") in _DTYPES:
        return _DTYPES[dtype.removeprefix("torch.")]
    if dtype in _DTYPES.values():
        return dtype
    raise ValueError(f"dtype: expected torch.float32 or torch.float64 (or their names), got {dtype!r}")


def _check_device(device, reference: torch.Tensor | None) -> torch.device:
    if device is None:
        return reference.device if reference is not None else torch.device("cpu")
    try:
        return torch.device(device)
    except (RuntimeError, TypeError) as error:
        raise ValueError(f"device: expected a torch device or its name, got {device!r} ({error})") from None


def _digest(values: torch.Tensor) -> str:
    array = np.ascontiguousarray(values.detach().to("cpu", torch.float64).numpy())
    return "sha256:" + hashlib.sha256(array.tobytes()).hexdigest()


def _objectives(measure, reference: torch.Tensor, maximize: bool | None) -> list[_Objective]:
    specs = list(measure) if isinstance(measure, (list, tuple)) else [measure]
    if not specs:
        raise ValueError("measure: expected a measure or a non-empty sequence of measures, got an empty sequence")
    objectives = [_objective(spec, reference, maximize) for spec in specs]
    names = [o.name for o in objectives]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"measure: each measure may appear once, got {duplicates} more than once")
    return objectives


def _objective(spec, reference: torch.Tensor, maximize: bool | None) -> _Objective:
    if isinstance(spec, str):
        spec = _named_measure(spec)
    if isinstance(spec, BoundMeasure):
        raise ValueError(f"measure: got a BoundMeasure for {spec.measure.name!r}; pass the Measure "
                         f"(bound.measure) or its name: optimize binds it to the reference itself")
    if isinstance(spec, Measure):
        if not spec.differentiable:
            raise ValueError(f"measure: {spec.name!r} is not differentiable and cannot be optimized by gradient")
        bound = spec.bind(reference)
        direction = spec.kind == "score" if maximize is None else maximize
        return _Objective(spec.name, direction, _batch_of_runs(bound, reference), thread_safe=True)
    if not callable(spec):
        raise ValueError(f"measure: expected a measure name, a Measure or a callable f(reference, Y), "
                         f"got {type(spec).__name__}")
    name = getattr(spec, "name", None) or getattr(spec, "__name__", None) or type(spec).__name__
    name = str(name)
    direction = maximize
    if direction is None:
        direction = getattr(spec, "maximize", None)
    if direction is None and getattr(spec, "kind", None) in ("score", "distance"):
        direction = spec.kind == "score"
    if not isinstance(direction, bool):
        raise ValueError(f"measure {name!r}: cannot tell whether higher values are better; pass maximize=True "
                         f"or False, or give the callable an attribute maximize (bool) or kind ('score'/'distance')")
    batched = getattr(spec, "batched", True)

    def evaluate(Y: torch.Tensor) -> torch.Tensor:
        if batched:
            values = spec(reference, Y)
        else:
            values = torch.stack([torch.as_tensor(spec(reference, Y[i:i + 1])).reshape(()) for i in range(len(Y))])
        if not isinstance(values, torch.Tensor) or values.shape != (len(Y),):
            found = tuple(values.shape) if isinstance(values, torch.Tensor) else type(values).__name__
            raise ValueError(f"measure {name!r}: expected a tensor of shape ({len(Y)},) (one value per run), "
                             f"got {found}")
        if torch.is_grad_enabled() and not values.requires_grad:
            raise ValueError(f"measure {name!r}: its value does not depend differentiably on Y (no gradient)")
        return values

    return _Objective(name, direction, evaluate)


def _batch_of_runs(bound: BoundMeasure, reference: torch.Tensor) -> Callable[[torch.Tensor], torch.Tensor]:
    """``bound.batch`` for the loop's own runs, without validating them again at every step.

    Y is checked where it is made (the initial noise, or ``init`` through ``inputs.as_data``) and the
    loop checks every value and gradient for finiteness; the per-call checks of ``as_data`` (finite
    values, constant units) would re-read all of Y several times per step. Shapes are still checked.
    """

    def evaluate(Y: torch.Tensor) -> torch.Tensor:
        structured = Y.ndim == 4  # (batch, time, condition, unit)
        values = Y.reshape(Y.shape[0], Y.shape[1] * Y.shape[2], Y.shape[3]) if structured else Y
        dy = Data(values, "Ys", Y.shape[2] if structured else None, Y.shape[1] if structured else None, True)
        dx, px = bound._reference_for(values)  # the reference prepared once per dtype and device
        check_same_samples(dx, dy)
        return bound.measure._score(dx, dy, px)

    bound._reference_for(reference)  # prepared here, before any threads share the bound measure
    return evaluate


def _trackers(trackers) -> list[_Tracker]:
    if callable(trackers):
        trackers = [trackers]
    out = []
    for tracker in trackers:
        if not callable(tracker):
            raise ValueError(f"trackers: expected callables tracker(reference, Y), got {type(tracker).__name__}")
        name = getattr(tracker, "name", None) or getattr(tracker, "__name__", None) or type(tracker).__name__
        out.append(_Tracker(str(name), tracker))
    return out


def _initial(init, init_scale, seeds, n_measures: int, shape: tuple, ref_values: torch.Tensor,
             dtype: torch.dtype, device: torch.device) -> tuple[torch.Tensor, str]:
    n_runs = len(seeds)
    if isinstance(init, str):
        if init != "gaussian":
            raise ValueError(f"init: expected 'gaussian' or an array shaped like Y, got {init!r}")
        if init_scale == "reference":
            scale = float(ref_values.detach().to(torch.float64).var(dim=-2).mean().sqrt())
        elif isinstance(init_scale, str):
            raise ValueError(f"init_scale: expected a positive number or 'reference', got {init_scale!r}")
        else:
            scale = _check_positive(init_scale, "init_scale")
        noise = torch.stack([torch.randn(shape, generator=torch.Generator().manual_seed(s), dtype=torch.float64)
                             for s in seeds])
        y0 = (scale * noise).repeat(n_measures, *([1] * len(shape)))
        return y0.to(dtype=dtype, device=device), "gaussian"
    n_total = n_measures * n_runs
    found = tuple(int(n) for n in np.shape(init))
    expected = [shape, (n_runs, *shape), (n_total, *shape)]
    if found not in expected:
        raise ValueError(f"init: expected 'gaussian' or an array of shape "
                         f"{' or '.join(str(e) for e in dict.fromkeys(expected))}, got shape {found}")
    batched = len(found) == len(shape) + 1
    data, _ = as_data(init, "init", batched=batched)
    values = data.values.detach().reshape(found)
    label = "array " + _digest(values)
    if not batched:
        values = values.unsqueeze(0).expand(n_total, *shape)
    elif values.shape[0] == n_runs:
        values = values.repeat(n_measures, *([1] * len(shape)))
    return values.to(dtype=dtype, device=device).clone(), label


# -- checkpoints -------------------------------------------------------------------------------------------------


def _to_cpu(state):
    if isinstance(state, torch.Tensor):
        return state.detach().cpu()
    if isinstance(state, dict):
        return {k: _to_cpu(v) for k, v in state.items()}
    if isinstance(state, list):
        return [_to_cpu(v) for v in state]
    return state


def _save_checkpoint(path: Path, state: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    torch.save(state, temporary)
    os.replace(temporary, path)


def _resume(path: Path, settings: dict, Y: torch.Tensor, opt: torch.optim.Optimizer) -> _State:
    """Load a checkpoint into Y and the optimizer; restore the torch CPU random state."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 -- any unreadable file gets the same message
        raise ValueError(f"checkpoint {str(path)!r} exists but cannot be read as a repalign.optimize "
                         f"checkpoint: {error}") from None
    if not isinstance(state, dict) or state.get("format") != _CHECKPOINT_FORMAT:
        raise ValueError(f"checkpoint {str(path)!r} exists but is not a repalign.optimize checkpoint "
                         f"({_CHECKPOINT_FORMAT!r}); remove it or choose another path")
    saved = state["settings"]
    differ = [key for key in sorted(set(saved) | set(settings))
              if key not in _RESUMABLE and saved.get(key) != settings.get(key)]
    if differ:
        listed = "; ".join(f"{k}: checkpoint {saved.get(k)!r}, now {settings.get(k)!r}" for k in differ)
        raise ValueError(f"checkpoint {str(path)!r} was written with other settings ({listed}); "
                         f"use the same settings to resume, or another checkpoint path to start afresh")
    with torch.no_grad():
        Y.copy_(state["Y"])
    opt.load_state_dict(state["optimizer"])
    torch.set_rng_state(state["rng"])
    return _State(state["active"], state["reached"], state["last_value"], _Rows.from_state(state["rows"]),
                  state["step"])

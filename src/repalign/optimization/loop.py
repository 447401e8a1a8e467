"""The optimization loop: :func:`optimize` and the state it advances one step at a time."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
import torch

from .._checks import progress_bar
from .._threads import limit_threads
from .._warnings import warn
from ..inputs import as_data
from . import checkpoint as checkpoints
from .objectives import objectives as make_objectives
from .objectives import track
from .objectives import trackers as make_trackers
from .result import OptimizationResult
from .settings import OptimizeSettings
from .steps import (
    Rows,
    check_gradient,
    check_values,
    chunk_runs,
    evaluate,
    make_optimizer,
    parallel_workers,
    postfix,
)

__all__ = ["optimize"]

# the defaults of every setting, defined once (OptimizeSettings) and shared with the experiment and the CLI
_DEFAULT = {f.name: f.default for f in fields(OptimizeSettings) if f.init}


def optimize(
    reference,
    measure,
    *,
    max_steps: int = _DEFAULT["max_steps"],
    init=_DEFAULT["init"],
    init_scale: float | str = _DEFAULT["init_scale"],
    units: int | None = _DEFAULT["units"],
    optimizer: str = _DEFAULT["optimizer"],
    lr: float = _DEFAULT["lr"],
    stop_at: float | None = _DEFAULT["stop_at"],
    seed: int | Sequence[int] = _DEFAULT["seed"],
    n_runs: int = _DEFAULT["n_runs"],
    record_every: int = _DEFAULT["record_every"],
    trackers=(),
    maximize: bool | None = _DEFAULT["maximize"],
    device=_DEFAULT["device"],
    dtype=_DEFAULT["dtype"],
    checkpoint=_DEFAULT["checkpoint"],
    checkpoint_every: int = _DEFAULT["checkpoint_every"],
    progress: bool | None = _DEFAULT["progress"],
    threads: int | None = _DEFAULT["threads"],
) -> OptimizationResult:
    """Optimize free tensors ``Y`` (Gaussian noise at first) to match ``reference`` under ``measure``.

    See :mod:`repalign.optimization` for the algorithm, the batching of runs and the checkpoint
    format. The settings are checked once, as an :class:`~repalign.optimization.OptimizeSettings`
    (``optimize(X, m, **settings.options())`` runs a settings object).

    **Defaults** are the seed paper's loop (repository nacloos/diffscore,
    ``diffscore/training/measure_optim.py``): Adam with learning rate 0.1, at most 1000 steps,
    standard Gaussian initial noise, float32 for a reference that is not a floating torch tensor
    (the seed code's ``torch.Tensor(X)``); no stopping value (the seed code requires one). They are
    the field defaults of :class:`~repalign.optimization.OptimizeSettings`, which the ``optimize``
    experiment and ``repalign optimize`` read, so all three agree.

    **Direction and unit.** A score is maximized and a distance minimized; ``stop_at`` is read in
    the measure's own direction and unit (a score stops once ``value >= stop_at``, a distance once
    ``value <= stop_at``), and the table's ``value`` column holds the measure's value as it is.

    **Threads.** The loop and its trackers run inside :func:`repalign._threads.limit_threads`:
    one torch and one BLAS/OpenMP thread by default (``threads``), restored when ``optimize``
    returns or raises. One thread is the fastest choice for this library's small problems on an
    idle machine and by far on a shared one (see ``bench/bench_threads.py``).

    Args:
        reference: X, ``(sample, unit)`` or ``(time, condition, unit)`` (numpy, torch, xarray, lists,
            or a :class:`~repalign.data.Dataset`).
        measure: a registry name, a :class:`~repalign.registry.Measure`, a callable
            ``f(reference, Y) -> (batch,) tensor``, or a sequence of these (runs for every measure
            in one loop). Must be differentiable.
        max_steps: number of optimizer steps (>= 1; default 1000).
        init: ``"gaussian"`` (standard normal, seeded) or an array shaped like ``Y``
            (``(*shape)`` for every run, ``(n_runs, *shape)`` per seed, or one per run).
        init_scale: standard deviation of the Gaussian start: a positive number (1: the paper) or
            ``"reference"`` (the root mean per-unit variance of the reference).
        units: unit count of ``Y`` (default: the reference's).
        optimizer: ``"adam"`` (:class:`torch.optim.Adam`, the paper) or ``"sgd"``.
        lr: learning rate (default 0.1).
        stop_at: freeze a run once its value reaches this (>= for a maximized measure, <= for a
            minimized one, in the measure's unit); the loop ends when every run has stopped.
            Default None: every run takes ``max_steps`` steps.
        seed: the first run's seed (run k uses ``seed + k``) or one seed per run. It sets the
            initial noise and nothing else (no other step is random).
        n_runs: runs per measure.
        record_every: record values and trackers every this many steps.
        trackers: callables ``tracker(reference, Y) -> dict[str, values (batch,)]`` (or a
            ``(batch,)`` tensor, named by the tracker's ``name``), called at recording steps. A
            tracker with a method ``settings()`` returning plain values (as
            :class:`~repalign.trackers.PCCapture` and :class:`~repalign.trackers.Decoding` do) is
            recorded with them, so that a checkpoint refuses to resume with other tracker
            settings; any other callable is recorded by its name. A tracker with an attribute
            ``record_every`` > 1 (and ``columns``, the names it returns) is computed only at the
            recording steps that are multiples of it (and at step 0, stopping and last steps), NaN
            at the others: a costly tracker beside a cheap one recorded at every step.
        maximize: override the direction (default: from ``Measure.kind``, or the callable's
            ``maximize``/``kind`` attribute).
        device: torch device (default: the reference's if it is a tensor, else the CPU).
        dtype: ``torch.float32`` or ``torch.float64`` (or their names). Default: the reference's
            dtype for a float32/float64 torch tensor, float32 otherwise (the seed paper's; about
            twice as fast as float64 on a CPU and much faster on a GPU; values are recorded in
            float64 either way).
        checkpoint: path of a checkpoint file; resumed from when it exists and matches. A
            checkpoint that holds a finished run is returned as it is, with a warning.
        checkpoint_every: steps between checkpoints (one is always written at the end).
        progress: progress bar (tqdm, when installed). None: in a terminal or a notebook, shown
            once the run has lasted a second (short runs print nothing); False: never; True: always.
        threads: torch and BLAS/OpenMP threads while the loop runs (>= 1). Default None: the
            enclosing setting (an experiment's ``threads``), else 1.

    Returns:
        :class:`~repalign.optimization.OptimizationResult`.

    Raises:
        ValueError: bad arguments (each message names the argument), a non-differentiable
            measure, or a checkpoint whose settings differ.
        FloatingPointError: a non-finite value or gradient (naming the step, the run and the measure).

    Example:

    >>> import numpy as np
    >>> from repalign import optimize
    >>> X = np.random.default_rng(0).normal(size=(30, 4)) * [3.0, 2.0, 1.0, 0.5]
    >>> result = optimize(X, "cka", max_steps=100, n_runs=2, record_every=50, seed=0)
    >>> result.table[["run", "step"]].values.tolist()
    [[0, 0], [1, 0], [0, 50], [1, 50], [0, 100], [1, 100]]
    >>> bool((result.final_value > 0.95).all()), result.Y.shape
    (True, (2, 30, 4))
    """
    settings = OptimizeSettings(
        max_steps=max_steps, init=init, init_scale=init_scale, units=units, optimizer=optimizer, lr=lr,
        stop_at=stop_at, seed=seed, n_runs=n_runs, record_every=record_every, maximize=maximize, device=device,
        dtype=dtype, checkpoint=checkpoint, checkpoint_every=checkpoint_every, progress=progress, threads=threads,
    )
    with limit_threads(settings.threads) as threads_in_force:
        return _Loop(reference, measure, settings, trackers, threads_in_force).run()


@dataclass
class _State:
    """What changes during the loop besides Y and the optimizer (all on the CPU)."""

    active: torch.Tensor  # (n_total,) bool: runs still moving
    reached: torch.Tensor  # (n_total,) int64: step at which stop_at was reached, -1 if not yet
    last_value: torch.Tensor  # (n_total,) float64: value at each run's latest evaluated step
    rows: Rows
    step: int = 0  # the step whose value is computed next


class _Loop:
    """One optimization in progress: the runs' tensor ``Y``, its optimizer and :class:`_State`.

    :meth:`step` evaluates the current step and moves every active run once; :meth:`run` repeats it,
    with checkpoints, a progress bar and a thread pool, and returns the result.
    """

    def __init__(self, reference, measure, settings: OptimizeSettings, trackers, threads: int):
        ref_data, ref_is_torch = as_data(reference, "reference")
        ref_values = ref_data.values
        shape_x = (tuple(ref_values.shape) if ref_data.n_time is None
                   else (ref_data.n_time, ref_data.n_conditions, ref_values.shape[-1]))
        device = settings.resolved_device(ref_values if ref_is_torch else None)
        dtype = settings.resolved_dtype(ref_values if ref_is_torch else None)
        shape = tuple(shape_x[:-1]) + (settings.units if settings.units is not None else shape_x[-1],)
        self.settings = settings
        self.reference = ref_values.detach().reshape(shape_x).to(dtype=dtype, device=device)
        self.objectives = make_objectives(measure, self.reference, settings.maximize)
        self.trackers = make_trackers(trackers)
        self.n_runs = settings.n_runs
        n_total = len(self.objectives) * self.n_runs
        y0, init_label = _initial(settings, len(self.objectives), shape, ref_values, dtype, device)
        self.record = {
            "measures": [o.name for o in self.objectives],
            "maximize": [o.maximize for o in self.objectives],
            "reference": _digest(ref_values),
            "reference_shape": list(shape_x),
            "shape": list(shape),
            "init": init_label,
            "init_scale": settings.init_scale,
            "optimizer": settings.optimizer,
            "lr": settings.lr,
            "max_steps": settings.max_steps,
            "stop_at": settings.stop_at,
            "seeds": list(settings.seeds),
            "n_runs": self.n_runs,
            "record_every": settings.record_every,
            "trackers": [t.record() for t in self.trackers],
            "dtype": str(dtype).removeprefix("torch."),
            "device": str(device),
            "checkpoint": settings.checkpoint,
            "checkpoint_every": settings.checkpoint_every,
            "progress": settings.progress,
            "threads": threads,
        }
        self.Y = y0.requires_grad_(True)
        self.Y.grad = torch.zeros_like(self.Y)  # written run by run in evaluate (no backward through Y itself)
        self.optimizer = make_optimizer(settings.optimizer, self.Y, settings.lr)
        self.state = _State(active=torch.ones(n_total, dtype=torch.bool), reached=torch.full((n_total,), -1),
                            last_value=torch.full((n_total,), math.nan, dtype=torch.float64), rows=Rows())
        self.resumed = settings.checkpoint is not None and Path(settings.checkpoint).exists()
        if self.resumed:
            saved = checkpoints.resume(Path(settings.checkpoint), self.record, self.Y, self.optimizer)
            self.state = _State(saved["active"], saved["reached"], saved["last_value"], Rows.from_state(saved["rows"]),
                                saved["step"])
            if self.state.step > settings.max_steps:
                raise ValueError(f"checkpoint {settings.checkpoint!r} is at step {self.state.step}, beyond "
                                 f"max_steps={settings.max_steps}")
        self.run_maximize = torch.tensor([o.maximize for o in self.objectives]).repeat_interleave(self.n_runs)
        self.run_sign = (1.0 - 2.0 * self.run_maximize.to(dtype)).to(device)  # the loss is -score, +distance
        self.frozen, self.held, self.n_frozen = None, None, 0
        # the state at the start of the latest step: what the closing checkpoint saves, as resuming
        # evaluates that step again (a run that stops there must still be active then)
        self.before = (0, None)
        self.runs_per_call = 1
        self.pool = None
        self.bar = None

    def save_checkpoint(self, n_rows: int, active, reached, last_value) -> None:
        state = self.state
        checkpoints.save(Path(self.settings.checkpoint), self.record, state.step, self.Y, self.optimizer,
                         {"active": active, "reached": reached, "last_value": last_value,
                          "rows": state.rows.state(n_rows)})

    def step(self) -> bool:
        """Evaluate the current step, record it, freeze runs that reached ``stop_at``, and move the others.

        Returns True when the loop is over (the last step, or every run stopped); Y is then not moved.
        """
        state, settings, Y = self.state, self.settings, self.Y
        step = state.step
        final = step == settings.max_steps
        self.before = (len(state.rows), (state.active.clone(), state.reached.clone(), state.last_value.clone()))
        runs_now = torch.nonzero(state.active).flatten()
        # the gradient is computed with the values (chunk by chunk); unused when every run stops here
        values, grad_finite = evaluate(self.objectives, Y, runs_now, self.n_runs, None if final else self.run_sign,
                                       self.runs_per_call, self.pool)
        value_cpu = values.to("cpu", torch.float64)
        check_values(value_cpu, runs_now, step, self.objectives, self.n_runs)
        state.last_value[runs_now] = value_cpu
        newly = torch.zeros(len(state.active), dtype=torch.bool)
        if settings.stop_at is not None:
            hit = torch.where(self.run_maximize[runs_now], value_cpu >= settings.stop_at, value_cpu <= settings.stop_at)
            newly[runs_now[hit]] = True
            state.reached[newly] = step
        stop_all = not bool((state.active & ~newly).any())
        every = step % settings.record_every == 0 or final or stop_all
        keep = torch.ones_like(runs_now, dtype=torch.bool) if every else newly[runs_now]  # stopping steps too
        n_rows_before = len(state.rows)
        if bool(keep.any()):
            # every tracker at step 0, the last step and a step where a run stops; else each at its own rate
            regular = every and not (final or stop_all or bool(newly.any()) or step == 0)
            state.rows.append(step, runs_now[keep], value_cpu[keep],
                              track(self.trackers, self.reference, Y, runs_now[keep], step if regular else None))
        state.active &= ~newly
        if self.bar is not None and len(state.rows) > n_rows_before:
            self.bar.set_postfix_str(postfix(value_cpu, runs_now, self.objectives, self.n_runs), refresh=False)
        if final or stop_all:
            return True
        check_gradient(grad_finite, runs_now, step, self.objectives, self.n_runs)
        if int((~state.active).sum()) != self.n_frozen:  # runs stopped: keep their Y, and no gradient from now on
            self.frozen = torch.nonzero(~state.active).flatten().to(Y.device)
            self.n_frozen = self.frozen.numel()
            self.held = Y.detach().index_select(0, self.frozen)
            Y.grad.index_fill_(0, self.frozen, 0)
        self.optimizer.step()
        if self.n_frozen:  # a frozen run stays put whatever the optimizer's momentum says
            with torch.no_grad():
                Y.index_copy_(0, self.frozen, self.held)
        state.step += 1
        return False

    def run(self) -> OptimizationResult:
        """Step until the end, with checkpoints every ``checkpoint_every`` steps and at the end."""
        settings, state = self.settings, self.state
        start = state.step
        workers = parallel_workers(self.Y, self.objectives)
        self.runs_per_call = 1 if workers > 1 else chunk_runs(self.Y)
        self.pool = ThreadPoolExecutor(workers, thread_name_prefix="repalign-optimize") if workers > 1 else None
        self.bar = progress_bar(enabled=settings.progress, total=settings.max_steps, description="optimize",
                                initial=start, unit="step")
        try:
            while True:
                due = state.step > start and state.step % settings.checkpoint_every == 0
                if settings.checkpoint is not None and due:
                    self.save_checkpoint(len(state.rows), state.active, state.reached, state.last_value)
                if self.step():
                    break
                if self.bar is not None:
                    self.bar.update(1)
        finally:
            if self.bar is not None:
                self.bar.close()
            if self.pool is not None:
                self.pool.shutdown()
        if settings.checkpoint is not None:
            n_rows, (active, reached, last_value) = self.before
            self.save_checkpoint(n_rows, active, reached, last_value)
        if self.resumed and state.step == start:  # the checkpoint's run had already finished: say so
            more = "" if not bool(state.active.any()) else ", or raise max_steps to go on"
            warn(f"checkpoint {settings.checkpoint!r} holds a run that finished at step {state.step}; its result "
                 f"is returned without optimizing again (remove the file or choose another path to start "
                 f"afresh{more})")
        seeds = list(settings.seeds)
        return OptimizationResult(
            Y=self.Y.detach().cpu().numpy().copy(),
            settings=self.record,
            reached_step=tuple(int(s) if s >= 0 else None for s in state.reached.tolist()),
            final_value=state.last_value.numpy().copy(),
            steps=state.step,
            columns=state.rows.columns(self.objectives, seeds, self.n_runs),
        )


def _digest(values: torch.Tensor) -> str:
    array = np.ascontiguousarray(values.detach().to("cpu", torch.float64).numpy())
    return "sha256:" + hashlib.sha256(array.tobytes()).hexdigest()


def _initial(settings: OptimizeSettings, n_measures: int, shape: tuple, ref_values: torch.Tensor,
             dtype: torch.dtype, device: torch.device) -> tuple[torch.Tensor, str]:
    """The starting ``Y`` of every run and its label in the settings (``"gaussian"`` or the array's digest)."""
    seeds, init = settings.seeds, settings.init
    n_runs = len(seeds)
    if isinstance(init, str):
        if settings.init_scale == "reference":
            scale = float(ref_values.detach().to(torch.float64).var(dim=-2).mean().sqrt())
        else:
            scale = settings.init_scale
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

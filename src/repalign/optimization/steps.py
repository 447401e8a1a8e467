"""The pieces of one optimization step: evaluating runs (in chunks or threads), checking, recording.

On the CPU a registry measure is called on chunks of runs (about 16 MB of Y per call) or, with
several torch threads and runs of at least 1 MB, one run per thread; a user's callable always gets
all its active runs in one call. Each call's backward follows its forward at once and its gradient
is written into ``Y.grad``. Values and gradients are checked for finiteness; recorded rows are
kept as tensors until the end.
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["Rows", "evaluate", "check_values", "check_gradient", "make_optimizer", "chunk_runs", "parallel_workers",
           "measure_index", "postfix"]

# on the CPU, the measures see at most this many bytes of Y per call (see chunk_runs)
CPU_CHUNK_BYTES = 16 * 2**20
# on the CPU, runs at least this large are evaluated in parallel threads (see parallel_workers)
PARALLEL_MIN_BYTES = 2**20
_OPTIMIZERS = {"adam": torch.optim.Adam, "sgd": torch.optim.SGD}


def make_optimizer(name: str, Y: torch.Tensor, lr: float) -> torch.optim.Optimizer:
    """Adam fused into one pass over Y where this torch supports it (no full-size temporaries, several
    times faster on a large batch of runs; the same update up to rounding), else the plain loop."""
    if name == "adam":
        try:
            return torch.optim.Adam([Y], lr=lr, fused=True)
        except (RuntimeError, TypeError, ValueError):  # torch < 2.4 on the CPU, or an unsupported device
            pass
    return _OPTIMIZERS[name]([Y], lr=lr)


def chunk_runs(Y: torch.Tensor) -> int:
    """Runs per measure call: all of them on an accelerator; on the CPU as many as fit in
    ``CPU_CHUNK_BYTES`` of Y. A batch's temporaries of many megabytes are mapped fresh from the
    operating system at every allocation (page faults, zeroing), while those of a run or two are
    recycled by the allocator: a single call for 16 runs of 15 x 72 x 727 was slower than 16 calls."""
    if Y.device.type != "cpu":
        return max(1, len(Y))
    per_run = max(1, Y[0].numel() * Y.element_size())
    return max(1, CPU_CHUNK_BYTES // per_run)


def parallel_workers(Y: torch.Tensor, objectives) -> int:
    """Threads over runs: on the CPU, with several torch threads, several runs of at least
    ``PARALLEL_MIN_BYTES`` each and registry measures only, one run per thread at a time, each on
    one torch thread (``torch.set_num_threads(1)`` while the runs are evaluated, restored after).
    Independent runs keep every core busy, where a single run leaves LAPACK's factorizations (eigh,
    Cholesky) poorly parallel, and a shared machine makes multi-threaded LAPACK far slower still."""
    threads = torch.get_num_threads()
    if (Y.device.type != "cpu" or threads < 2 or len(Y) < 2 or not all(o.thread_safe for o in objectives)
            or Y[0].numel() * Y.element_size() < PARALLEL_MIN_BYTES):
        return 1
    return min(threads, len(Y))


def measure_index(runs: torch.Tensor, n_runs: int) -> torch.Tensor:
    """The measure of each run (run r = m·n_runs + k)."""
    return torch.div(runs, n_runs, rounding_mode="floor")


def evaluate(objectives, Y: torch.Tensor, runs: torch.Tensor, n_runs: int, sign, runs_per_call: int, pool=None):
    """Values of the runs ``runs`` (in that order), and with ``sign`` their gradients, written into ``Y.grad``.

    Each registry measure is called on chunks of at most ``runs_per_call`` runs that sit next to each
    other in Y (views, no copies); a user's callable gets all its active runs in one call, in order
    (it may need the whole batch, as ``joint_optimize``'s loss does). With ``sign`` (per run: -1 to maximize,
    +1 to minimize) each chunk's backward
    follows its forward at once, so that only one chunk's intermediates are alive at a time. With a
    thread ``pool`` the chunks run in parallel, each on one torch thread (see :func:`parallel_workers`).
    Returns the detached values and, per run, whether its gradient is finite (None without ``sign``).
    """
    which = measure_index(runs, n_runs)
    tasks = []
    for m, objective in enumerate(objectives):
        chosen = runs[which == m]
        if not chosen.numel():
            continue
        if objective.thread_safe:  # registry measures: any chunk of runs
            tasks += [(objective, slice(lo, hi)) for lo, hi in _chunks(chosen.tolist(), runs_per_call)]
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


def check_values(values: torch.Tensor, runs: torch.Tensor, step: int, objectives, n_runs: int) -> None:
    """Raise :class:`FloatingPointError` naming the step, runs and measures of any non-finite value."""
    bad = ~torch.isfinite(values)
    if bool(bad.any()):
        which = [_describe_run(int(r), objectives, n_runs) for r in runs[bad][:5]]
        raise FloatingPointError(
            f"non-finite value at step {step} for {', '.join(which)}: {values[bad][:5].tolist()}; "
            f"the run is stopped rather than continued with altered values (try a smaller lr or float64)"
        )


def check_gradient(finite: torch.Tensor, runs: torch.Tensor, step: int, objectives, n_runs: int) -> None:
    """Raise :class:`FloatingPointError` naming the step, runs and measures of any non-finite gradient."""
    if not bool(finite.all()):
        which = [_describe_run(int(r), objectives, n_runs) for r in runs[~finite][:5]]
        raise FloatingPointError(
            f"non-finite gradient at step {step} for {', '.join(which)}; the run is stopped rather "
            f"than continued with altered gradients (try a smaller lr or float64)"
        )


class Rows:
    """Recorded rows, kept as lists of tensors until the end."""

    def __init__(self):
        self.run: list[torch.Tensor] = []
        self.step: list[torch.Tensor] = []
        self.value: list[torch.Tensor] = []
        self.extra: dict[str, list[torch.Tensor]] = {}
        self.count = 0

    def __len__(self) -> int:
        return self.count

    def append(self, step: int, runs: torch.Tensor, values: torch.Tensor, extra: dict) -> None:
        """Record ``step``'s values of ``runs`` and the trackers' columns ``extra`` (same columns every time)."""
        n = len(runs)
        if self.count and set(extra) != set(self.extra):
            raise ValueError(f"the trackers' columns changed during the run: {sorted(self.extra)} then {sorted(extra)}")
        self.run.append(runs.to("cpu", torch.int64))
        self.step.append(torch.full((n,), step, dtype=torch.int64))
        self.value.append(values)
        for column, value in extra.items():
            self.extra.setdefault(column, []).append(value)
        self.count += n

    def _cat(self, parts, dtype) -> torch.Tensor:
        return torch.cat(parts) if parts else torch.zeros(0, dtype=dtype)

    def state(self, n_rows: int) -> dict:
        """The first ``n_rows`` rows as a dict of tensors."""
        out = {"run": self._cat(self.run, torch.int64), "step": self._cat(self.step, torch.int64),
               "value": self._cat(self.value, torch.float64)}
        out.update({f"tracker:{k}": self._cat(v, torch.float64) for k, v in self.extra.items()})
        return {k: v[:n_rows].clone() for k, v in out.items()}

    @classmethod
    def from_state(cls, state: dict) -> "Rows":
        """Rows restored from :meth:`state` (a checkpoint)."""
        rows = cls()
        rows.run, rows.step, rows.value = [state["run"]], [state["step"]], [state["value"]]
        rows.extra = {k.removeprefix("tracker:"): [v] for k, v in state.items() if k.startswith("tracker:")}
        rows.count = len(state["run"])
        if rows.count == 0:
            rows.extra = {}
        return rows

    def columns(self, objectives, seeds, n_runs: int) -> dict:
        """The rows as numpy columns: run, measure, seed, step, value, kind and every tracker column.

        ``value`` is the objective's value (a score or a distance); ``kind`` says which
        (``"score"``/``"distance"``, :attr:`Objective.kind <repalign.optimization.objectives.Objective.kind>`).
        """
        run = self._cat(self.run, torch.int64).numpy()
        names = np.array([o.name for o in objectives], dtype=object)
        kinds = np.array([o.kind for o in objectives], dtype=object)
        empty = np.array([], dtype=object)
        out = {
            "run": run,
            "measure": names[run // n_runs] if run.size else empty,
            "seed": np.asarray(seeds, dtype=np.int64)[run % n_runs] if run.size else np.array([], dtype=np.int64),
            "step": self._cat(self.step, torch.int64).numpy(),
            "value": self._cat(self.value, torch.float64).numpy(),
            "kind": kinds[run // n_runs] if run.size else empty.copy(),
        }
        out.update({k: self._cat(v, torch.float64).numpy() for k, v in self.extra.items()})
        return out


def postfix(values: torch.Tensor, runs: torch.Tensor, objectives, n_runs: int) -> str:
    """The progress bar's text: each measure's best current value."""
    parts = []
    which = measure_index(runs, n_runs)
    for m, objective in enumerate(objectives):
        v = values[which == m]
        if v.numel():
            best = v.max() if objective.maximize else v.min()
            parts.append(f"{objective.name[:24]} {'max' if objective.maximize else 'min'} {float(best):.4f}")
    return "; ".join(parts)


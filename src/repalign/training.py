"""Training a zoo of task-trained networks in one call: :func:`train` → :class:`TrainingResult`.

The seed paper (Fig. 2) trains 27 networks (9 architectures × 3 seeds) on the Mante task, one at a
time, with a PyTorch Lightning trainer (nacloos/diffscore ``diffscore/training/trainer.py``, cited
as ``trainer.py``): Adam at PyTorch's default lr 1e-3 (``configure_optimizers``), batches of 64
trials generated online (``NGymOnlineDataset``), cross-entropy on every time step
(``LitModule._step``), and the decision accuracy ``trial_choice_acc`` of
``diffscore/env/task_acc.py`` as validation accuracy. :func:`train` trains every network
**together**:

- one :class:`~repalign.models.StackedNetworks` per architecture, each network initialised from
  its own seed; one forward and backward pass per stack and step, and one Adam step over every
  stack's parameters. Each network's loss depends on its own parameters only, and Adam is
  element-wise, so each network follows the trajectory it would follow alone on the same batches.
- **Loss** of network ``k`` on a batch: the masked mean over the batch's steps,
  ``L_k = Σ_tb m_tb ℓ(y_ktb, target_tb) / Σ_tb m_tb`` with ``ℓ`` the cross-entropy
  (``task.loss == "cross_entropy"``) or the squared error averaged over outputs (``"mse"``); the
  total ``Σ_k active_k L_k`` is differentiated (a sum, not a mean: each network's gradient is that
  of its own loss).
- **Batches**: the training batch of step ``s`` is ``task.batch(batch_size, seed=train_seed(seed, s))``,
  the same for every network; the held-out batch of an evaluation at step ``s`` is
  ``task.held_out(eval_trials, seed=eval_seed(seed, s))``, the task's optional method, or
  ``task.batch(eval_trials, seed=eval_seed(seed, s))`` for a task without it
  (:func:`repalign.tasks.held_out_batch`), from a separate seed stream
  (``numpy.random.SeedSequence([seed, stream, s])``), so held-out trials are never training trials
  of the same step stream.
- **Criterion**: every ``eval_every`` steps (and at ``max_steps``) each active network's
  ``task.accuracy`` on the held-out batch is compared with ``criterion`` (default
  ``task.criterion``: 0.93 decision accuracy for the Mante task; for reaching, velocity R² 0.9
  on both the jittered held-out trials and the recording's 8 unjittered conditions, the smaller
  of the two, so a reaching network at criterion has ``velocity_fit(...).r2 >= 0.9``). A
  network at or above it is **frozen**: it is no longer run (its stack runs its other networks
  only, ``StackedNetworks.forward(members=...)``, so a zoo costs what its unfinished networks
  cost), its gradient is zero, and its parameters are restored after each Adam step (a zero
  gradient still moves Adam's parameters through the momentum), so its weights stay exactly those
  at criterion; the other networks are untouched, Adam's state being per element. Training ends
  when every network is frozen or at ``max_steps``; networks that never
  reached criterion are listed in the result (``reached`` False) and in a warning.
- **Checkpoint**: every ``checkpoint_every`` steps and at the end, the state at the start of a
  step (weights, Adam state, step, frozen flags, steps at criterion, curves, losses, settings) is
  written with :func:`torch.save` (plain tensors and values, read back with
  ``weights_only=True``); a call with the same ``checkpoint`` path resumes from it. All randomness
  is a function of ``(seed, step)``, so the step counter is the whole random state: an interrupted
  call resumes bit-identically on the CPU. A checkpoint written with other settings (but
  ``max_steps``, ``checkpoint``, ``checkpoint_every``, ``progress``, ``threads``) is refused.

Speed (``bench/bench_training.py``, this 2-core CPU): the seed paper's 27-network Mante zoo (9
architectures × 3 seeds, hidden 100) trains to criterion in 328 s on one thread and 223 s with
``threads=2``, against 563 s and 525 s for a per-model loop of the seed code's settings on the same
batches (1.72× and 2.35×); every network reaches criterion both ways (33 700 and 34 750 network
steps). A held-out evaluation of the 27 networks on 512 trials takes about 0.5 s.

Deliberate differences from the seed code:

- all networks see the same batch at each step (the seed code trains each network alone, each
  with its own stream of trials from the global RNGs); every draw here is seeded.
- the loss is masked by ``batch.mask`` (the seed averages the cross-entropy over every step of a
  fixed-length sequence); for the Mante task the mask is 1 up to the end of the decision period.
- the seed stops training at a fixed number of epochs and keeps the best validation checkpoint
  (``ModelCheckpoint(monitor="val_accuracy")``); here each network stops at its own criterion.
- **Cores**: ``threads`` (1 by default) is the number of stacks run at the same time, each on
  one torch and BLAS thread (:func:`repalign._threads.limit_threads`, restored afterwards): a zoo's
  parallelism lies across its networks, whose products are too small to share among threads.
  Each stack's forward and backward pass depends on its own parameters only, and the Adam step
  waits for all of them, so the weights are bit-identical whatever the count (and a checkpoint
  resumes on another).

>>> from repalign.tasks import ManteTask
>>> result = train(ManteTask(), [("CTRNN", "Tanh")], seeds=[0, 1], max_steps=3, eval_every=2,
...                eval_trials=16, batch_size=8, hidden_size=8, criterion=0.0)
>>> result.table[["architecture", "seed", "reached", "steps"]].values.tolist()
[['CTRNN-Tanh', 0, True, 0], ['CTRNN-Tanh', 1, True, 0]]
"""

from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from ._checks import (
    SettingsError,
    check_bool,
    check_count,
    check_items,
    check_path,
    check_real,
    check_seed,
    progress_bar,
)
from ._optional import import_pandas, import_pyplot
from ._threads import check_threads, limit_threads
from ._warnings import warn
from .models import ARCHITECTURES, BATCH_SIZE, HIDDEN_SIZE, LEARNING_RATE, StackedNetworks
from .results import Result, legend, save_figure
from .tasks import held_out_batch

__all__ = ["TrainingResult", "eval_seed", "train", "train_seed"]

FORMAT = "repalign.train checkpoint 2"  # 2: tasks' held_out batches (reaching: the recording's trials too)
#: settings that may change between an interrupted call and its resumption
RESUMABLE = ("max_steps", "checkpoint", "checkpoint_every", "progress", "threads")
_TRAIN_STREAM, _EVAL_STREAM, _NOISE_STREAM, _EVAL_NOISE_STREAM = 0, 1, 2, 3


def _stream_seed(seed: int, stream: int, step: int) -> int:
    return int(np.random.SeedSequence([seed, stream, step]).generate_state(1, np.uint32)[0])


def train_seed(seed: int, step: int) -> int:
    """The seed of the training batch of ``step`` (``SeedSequence([seed, 0, step])``'s first word).

    >>> train_seed(0, 5) == train_seed(0, 5) != eval_seed(0, 5)
    True
    """
    return _stream_seed(seed, _TRAIN_STREAM, step)


def eval_seed(seed: int, step: int) -> int:
    """The seed of the held-out batch evaluated at ``step`` (``SeedSequence([seed, 1, step])``)."""
    return _stream_seed(seed, _EVAL_STREAM, step)


def _check_task(task):
    missing = [name for name in ("n_inputs", "n_outputs", "loss", "batch", "accuracy") if not hasattr(task, name)]
    if missing:
        raise SettingsError("task", f"expected a repalign.tasks.Task (batch, accuracy, n_inputs, n_outputs, loss); "
                                    f"{type(task).__name__} lacks {missing}")
    if task.loss not in ("cross_entropy", "mse"):
        raise SettingsError("task", f"expected task.loss 'cross_entropy' or 'mse', got {task.loss!r}")
    return task


def _check_architectures(architectures) -> list[tuple[str, str]]:
    items = check_items(architectures, "architectures", "(cell, activation) pairs")
    pairs = []
    for item in items:
        pair = tuple(item) if isinstance(item, (list, tuple)) else None
        if pair not in ARCHITECTURES:
            raise SettingsError("architectures", f"expected (cell, activation) pairs among {list(ARCHITECTURES)}, "
                                                 f"got {item!r}")
        pairs.append(pair)
    if len(set(pairs)) != len(pairs):
        raise SettingsError("architectures", f"each architecture may appear once, got {pairs}")
    return pairs


def _check_seeds(seeds) -> list[int]:
    items = check_items(seeds, "seeds", "network seeds", distinct=True)
    return [check_seed(s, "seeds") for s in items]


def _loss(outputs: torch.Tensor, batch, kind: str) -> torch.Tensor:
    """Each network's masked mean loss: ``outputs (K, T, B, C)`` → ``(K,)``."""
    mask = batch.mask.to(outputs.dtype)
    if kind == "cross_entropy":
        K, T, B, C = outputs.shape
        targets = batch.targets.expand(K, T, B).reshape(-1)
        each = F.cross_entropy(outputs.reshape(-1, C), targets, reduction="none").reshape(K, T, B)
    else:
        each = ((outputs - batch.targets.to(outputs.dtype)) ** 2).mean(-1)
    return (each * mask).sum((1, 2)) / mask.sum()


class TrainingResult(Result):
    """What :func:`train` returns.

    Attributes:
        table: one row per network (tidy): ``architecture`` (``"CELL-ACTIVATION"``), ``cell``,
            ``activation``, ``seed``, ``network`` (index in the stack), ``reached`` (criterion met),
            ``steps`` (training steps done: the step at criterion, or the last step), ``accuracy``
            (held-out accuracy at the last evaluation), ``criterion``.
        curves: the training curves, one row per network and evaluation: ``architecture``, ``seed``,
            ``step`` (training steps done), ``loss`` (training loss of the last step before it, NaN at
            step 0), ``accuracy`` (held-out).
        losses: ``(steps, networks)`` float array, each network's training loss at every step (NaN
            once frozen), networks in ``table`` order.
        networks: ``{"CELL-ACTIVATION": StackedNetworks}``, one stack per architecture, networks in
            seed order; frozen networks hold their weights at criterion.
        settings: the arguments of the call, as plain values.
    """

    record_kind = "training"

    def __init__(self, table, curves, losses, networks, settings):
        self.table, self.curves, self.losses, self.networks, self.settings = table, curves, losses, networks, settings

    @property
    def not_reached(self) -> list[str]:
        """``"ARCHITECTURE seed S"`` for each network that never reached criterion."""
        rows = self.table[~self.table["reached"]]
        return [f"{a} seed {s}" for a, s in zip(rows["architecture"], rows["seed"])]

    def plot(self, ax=None):
        """Held-out accuracy against training step, one line per network (legend: architecture and seed), the
        criterion dashed."""
        plt = import_pyplot()
        if ax is None:
            _, ax = plt.subplots(figsize=(6, 4))
        groups = self.curves.groupby(["architecture", "seed"], sort=False)
        for (architecture, seed), rows in groups:
            ax.plot(rows["step"], rows["accuracy"], label=f"{architecture} seed {seed}", lw=1)
        ax.axhline(self.settings["criterion"], color="k", ls="--", lw=0.8, label="criterion")
        ax.set_xlabel("training step")
        ax.set_ylabel("held-out accuracy")
        legend(ax, loc="lower right", ncol=1 + groups.ngroups // 10)  # the full zoo's 27 lines in 3 columns
        return ax

    def _record_settings(self) -> dict:
        return dict(self.settings)

    def _record_tables(self) -> dict:
        return {"table": self.table, "curves": self.curves}

    def _record_arrays(self) -> dict:
        return {"losses": self.losses}

    def save(self, folder, *, figure: bool = False) -> list[str]:
        """Write each stack as ``folder/ARCHITECTURE.npz`` (:meth:`StackedNetworks.save`), the tables as
        ``networks.csv`` and ``curves.csv``, and the :meth:`record` as ``training.npz``; with
        ``figure=True`` also :meth:`plot` as ``curves.png`` and ``curves.pdf``. Returns the paths."""
        folder = Path(check_path(folder, "folder"))
        folder.mkdir(parents=True, exist_ok=True)
        paths = [stack.save(os.fspath(folder / f"{name}.npz")) for name, stack in self.networks.items()]
        for name, table in (("networks", self.table), ("curves", self.curves)):
            table.to_csv(folder / f"{name}.csv", index=False)
            paths.append(os.fspath(folder / f"{name}.csv"))
        paths.append(os.fspath(self.record().save(folder / "training.npz")))
        if figure:
            paths += save_figure(self.plot(), self.curves, folder / "curves")
        return paths


def train(task, architectures=ARCHITECTURES, seeds=(0, 1, 2), *, max_steps: int = 10_000,
          batch_size: int = BATCH_SIZE, lr: float = LEARNING_RATE, eval_every: int = 50, eval_trials: int = 512,
          criterion: float | None = None, hidden_size: int = HIDDEN_SIZE, checkpoint=None,
          checkpoint_every: int = 200, progress: bool | None = None, seed: int = 0,
          threads: int | None = 1) -> TrainingResult:
    """Train one network per architecture and seed on ``task``, all together, each to its own criterion.

    Args:
        task: a :class:`repalign.tasks.Task` (``ManteTask()``, ``ReachingTask...``, one's own).
        architectures: ``(cell, activation)`` pairs from :data:`repalign.models.ARCHITECTURES` (all nine).
        seeds: one network per seed and architecture, initialised from that seed.
        max_steps: the step cap; batch_size: trials per training step (64, ``trainer.py:43``);
        lr: Adam's learning rate (1e-3, the seed's PyTorch default).
        eval_every: steps between held-out evaluations; eval_trials: held-out trials per evaluation
            (the ``size`` of ``task.held_out``, to which a task may add trials of its own).
        criterion: held-out accuracy at which a network is frozen (default ``task.criterion``).
        hidden_size: units per network (100).
        checkpoint: a file to write every ``checkpoint_every`` steps and to resume from (None: none).
        progress: a progress bar (None: only if the call lasts); seed: the batches' seed.
        threads: stacks trained at the same time, each on one thread (1; None: the count of an enclosing
            ``limit_threads`` block, such as an experiment's ``--threads``, else 1). With more than one,
            ``task.accuracy`` is called from several threads at once (the tasks here only read their
            arguments; one's own task must be as thread-safe).

    Returns a :class:`TrainingResult`; the module docstring defines the loss, the batches, the
    criterion, freezing and the checkpoint. Raises ``ValueError`` naming a bad argument.
    """
    task = _check_task(task)
    pairs = _check_architectures(architectures)
    seeds = _check_seeds(seeds)
    max_steps = check_count(max_steps, "max_steps", 1)
    batch_size = check_count(batch_size, "batch_size", 1)
    lr = check_real(lr, "lr", low=0.0, inclusive=(False, True))
    eval_every = check_count(eval_every, "eval_every", 1)
    eval_trials = check_count(eval_trials, "eval_trials", 1)
    if criterion is None:
        if not hasattr(task, "criterion"):
            raise SettingsError("criterion", f"{type(task).__name__} has no criterion attribute: pass criterion=")
        criterion = task.criterion
    criterion = check_real(criterion, "criterion")
    hidden_size = check_count(hidden_size, "hidden_size", 1)
    checkpoint = check_path(checkpoint, "checkpoint", allow_none=True)
    checkpoint_every = check_count(checkpoint_every, "checkpoint_every", 1)
    progress = check_bool(progress, "progress", allow_none=True)
    seed = check_seed(seed)
    threads = check_threads(threads)
    settings = {"task": repr(task), "architectures": [list(p) for p in pairs], "seeds": seeds, "max_steps": max_steps,
                "batch_size": batch_size, "lr": lr, "eval_every": eval_every, "eval_trials": eval_trials,
                "criterion": criterion, "hidden_size": hidden_size, "checkpoint": checkpoint,
                "checkpoint_every": checkpoint_every, "progress": progress, "seed": seed, "threads": threads}
    with limit_threads(threads) as cores, limit_threads(1):
        if cores == 1:
            return _train(task, pairs, seeds, settings)
        with ThreadPoolExecutor(max_workers=cores, thread_name_prefix="repalign-train") as pool:
            return _train(task, pairs, seeds, settings, pool)


def _train(task, pairs, seeds, settings, pool=None) -> TrainingResult:
    s = settings
    names = [f"{cell}-{activation}" for cell, activation in pairs]
    stacks = {name: StackedNetworks(cell, activation, task.n_inputs, task.n_outputs, seeds, hidden_size=s["hidden_size"])
              for name, (cell, activation) in zip(names, pairs)}
    parameters = [p for stack in stacks.values() for p in stack.parameters()]
    optimizer = torch.optim.Adam(parameters, lr=s["lr"])
    K = len(seeds)
    frozen = {name: torch.zeros(K, dtype=torch.bool) for name in names}
    state = {"step": 0, "reached_step": [[-1] * K for _ in names], "last_accuracy": [[float("nan")] * K for _ in names],
             "curves": [], "losses": []}
    path = Path(s["checkpoint"]) if s["checkpoint"] else None
    if path is not None and path.exists():
        state = _resume(path, s, stacks, optimizer, frozen)
    losses = state["losses"]  # one list of K * len(names) floats per step done
    curves = state["curves"]  # rows [architecture index, network index, step, loss, accuracy]
    step = state["step"]
    bar = progress_bar(enabled=s["progress"], total=s["max_steps"], description="train", initial=min(step, s["max_steps"]),
                       unit="step", cap=True)
    start = step
    try:
        while True:
            done = step >= s["max_steps"]
            if path is not None and (step % s["checkpoint_every"] == 0 or done) and step != start:
                _save(path, s, step, stacks, optimizer, frozen, state, curves, losses)
            if step % s["eval_every"] == 0 or done:
                _evaluate(task, stacks, frozen, state, curves, losses, step, s, pool)
                if bar is not None:
                    n_frozen = sum(int(f.sum()) for f in frozen.values())
                    bar.set_postfix_str(f"{n_frozen}/{len(frozen) * len(seeds)} at criterion")
            if done:
                break
            if all(bool(f.all()) for f in frozen.values()):
                if path is not None:  # every network frozen: nothing a resumed call could change
                    _save(path, s, step, stacks, optimizer, frozen, state, curves, losses)
                break
            losses.append(_step(task, stacks, optimizer, frozen, step, s, pool))
            step += 1
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    return _result(stacks, names, pairs, seeds, frozen, state, curves, losses, step, s)


def _run(stack, frozen: torch.Tensor, batch, noise_seed):
    """Run the networks of ``stack`` still training: ``(their indices, outputs (K, T, B, C))``."""
    members = [k for k, f in enumerate(frozen.tolist()) if not f]
    outputs, _ = stack(batch.inputs, noise_seed=noise_seed, members=None if len(members) == len(stack) else members)
    return members, outputs


def _map(pool, function, stacks, frozen) -> dict:
    """``{name: function(name)}`` over the stacks with a network still training, on the pool's threads.

    The costliest stacks (LSTM: four gates) start first, so that the threads finish together; each
    stack's work is independent of the others', so the result does not depend on the scheduling.
    """
    names = [name for name in stacks if not bool(frozen[name].all())]
    names.sort(key=lambda n: -(4 if stacks[n].settings()["cell"] == "LSTM" else 1) * int((~frozen[n]).sum()))
    if pool is None or len(names) < 2:
        return {name: function(name) for name in names}
    return dict(zip(names, pool.map(function, names)))


def _step(task, stacks, optimizer, frozen, step, s, pool=None) -> list[float]:
    batch = task.batch(s["batch_size"], seed=train_seed(s["seed"], step))
    noise_seed = _stream_seed(s["seed"], _NOISE_STREAM, step)
    optimizer.zero_grad(set_to_none=True)

    def run(name):  # forward and backward of one stack: each network's gradient comes from its own loss
        with torch.enable_grad():
            members, outputs = _run(stacks[name], frozen[name], batch, noise_seed)
            each = _loss(outputs, batch, task.loss)  # one loss per network run
            if bool(torch.isfinite(each).all()):
                each.sum().backward()
        return dict(zip(members, each.detach().tolist()))

    # a frozen network is not run, so its gradient is zero; Adam's momentum would still move it
    kept = {name: {n: p.detach().clone() for n, p in stacks[name].named_parameters()}
            for name in stacks if bool(frozen[name].any()) and not bool(frozen[name].all())}
    losses = _map(pool, run, stacks, frozen)
    bad = [f"{name} seed {stacks[name].seeds[k]}" for name, each in losses.items()
           for k, value in each.items() if not math.isfinite(value)]
    if bad:
        raise FloatingPointError(f"train: non-finite loss at step {step} ({', '.join(bad)}); try a smaller lr")
    optimizer.step()
    with torch.no_grad():
        for name, saved in kept.items():
            for n, p in stacks[name].named_parameters():
                p[frozen[name]] = saved[n][frozen[name]]
    return [losses.get(name, {}).get(k, float("nan")) for name, stack in stacks.items() for k in range(len(stack))]


def _evaluate(task, stacks, frozen, state, curves, losses, step, s, pool=None) -> None:
    batch = held_out_batch(task, s["eval_trials"], seed=eval_seed(s["seed"], step))
    noise_seed = _stream_seed(s["seed"], _EVAL_NOISE_STREAM, step)
    last = losses[step - 1] if step > 0 else None  # the last training step's losses

    def run(name):
        with torch.no_grad():
            members, outputs = _run(stacks[name], frozen[name], batch, noise_seed)
        return [(k, float(task.accuracy(outputs[j], batch))) for j, k in enumerate(members)]

    accuracies = _map(pool, run, stacks, frozen)
    for a, (name, stack) in enumerate(stacks.items()):
        for k, accuracy in accuracies.get(name, ()):
            state["last_accuracy"][a][k] = accuracy
            curves.append([a, k, step, float("nan") if last is None else last[a * len(stack) + k], accuracy])
            if accuracy >= s["criterion"]:
                frozen[name][k] = True
                state["reached_step"][a][k] = step


def _save(path, s, step, stacks, optimizer, frozen, state, curves, losses) -> None:
    payload = {"format": FORMAT, "settings": s, "step": step,
               "weights": {name: {n: p.detach().clone() for n, p in stack.state_dict().items()}
                           for name, stack in stacks.items()},
               "optimizer": optimizer.state_dict(), "frozen": {n: f.clone() for n, f in frozen.items()},
               "reached_step": [list(r) for r in state["reached_step"]],
               "last_accuracy": [list(r) for r in state["last_accuracy"]],
               "curves": torch.tensor(curves, dtype=torch.float64).reshape(-1, 5),
               "losses": torch.tensor(losses, dtype=torch.float64).reshape(len(losses), -1)}
    temporary = path.with_name(path.name + ".tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(payload, temporary)
        os.replace(temporary, path)
    except (OSError, RuntimeError) as error:
        raise SettingsError("checkpoint", f"cannot write {str(path)!r} ({type(error).__name__})") from None


def _resume(path, s, stacks, optimizer, frozen) -> dict:
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 -- any unreadable file gets the same message
        raise SettingsError("checkpoint", f"{str(path)!r} exists but is not a readable repalign.train checkpoint "
                                          f"({type(error).__name__}); remove it or choose another path") from None
    if not isinstance(saved, dict) or saved.get("format") != FORMAT:
        raise SettingsError("checkpoint", f"{str(path)!r} exists but is not a repalign.train checkpoint ({FORMAT!r})")
    differ = [f"{key}: checkpoint {saved['settings'].get(key)!r}, now {s.get(key)!r}"
              for key in sorted(set(saved["settings"]) | set(s))
              if key not in RESUMABLE and saved["settings"].get(key) != s.get(key)]
    if differ:
        raise SettingsError("checkpoint", f"{str(path)!r} was written with other settings ({'; '.join(differ)}); use "
                                          f"the same settings to resume, or another checkpoint path")
    for name, stack in stacks.items():
        stack.load_state_dict(saved["weights"][name])
    optimizer.load_state_dict(saved["optimizer"])
    for name in frozen:
        frozen[name].copy_(saved["frozen"][name])
    curves = [[int(r[0]), int(r[1]), int(r[2]), float(r[3]), float(r[4])] for r in saved["curves"].tolist()]
    losses = saved["losses"].tolist()
    step = int(saved["step"])
    state_reached = saved["reached_step"]
    return {"step": step, "reached_step": state_reached, "last_accuracy": saved["last_accuracy"],
            "curves": curves, "losses": losses}


def _result(stacks, names, pairs, seeds, frozen, state, curves, losses, step, s) -> TrainingResult:
    pd = import_pandas()
    K = len(seeds)
    curves = sorted(curves, key=lambda row: (row[0], row[1], row[2]))  # network by network, in step order
    rows = []
    for a, (name, (cell, activation)) in enumerate(zip(names, pairs)):
        for k, network_seed in enumerate(seeds):
            reached = bool(frozen[name][k])
            rows.append({"architecture": name, "cell": cell, "activation": activation, "seed": network_seed,
                         "network": k, "reached": reached,
                         "steps": state["reached_step"][a][k] if reached else step,
                         "accuracy": state["last_accuracy"][a][k], "criterion": s["criterion"]})
    table = pd.DataFrame(rows)
    curve_table = pd.DataFrame({
        "architecture": [names[r[0]] for r in curves], "seed": [seeds[r[1]] for r in curves],
        "step": np.array([r[2] for r in curves], dtype=np.int64),
        "loss": np.array([r[3] for r in curves], dtype=np.float64),
        "accuracy": np.array([r[4] for r in curves], dtype=np.float64)})
    loss_array = np.array(losses, dtype=np.float64).reshape(len(losses), len(names) * K)
    result = TrainingResult(table, curve_table, loss_array, dict(stacks), s)
    if result.not_reached:
        warn(f"train: {len(result.not_reached)} network(s) did not reach criterion {s['criterion']:g} in "
             f"{s['max_steps']} steps: {', '.join(result.not_reached)}")
    return result

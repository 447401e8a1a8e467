"""The task protocol: what a task gives a trainer and a recorder (``Task``, ``TaskBatch``).

A task yields whole, seeded batches of trials, time-major as in the seed code (nacloos/diffscore,
``diffscore/training/record.py``: "x: seq_len x batch x input_size"; neurogym's convention):

- ``inputs``: float32 tensor ``(time, batch, n_inputs)``;
- ``targets``: int64 class labels ``(time, batch)`` for a classification task (``task.loss ==
  "cross_entropy"``, the seed's ``CrossEntropyLoss`` on neurogym's ground truth) or float32
  ``(time, batch, n_outputs)`` for a regression task (``task.loss == "mse"``);
- ``mask``: float32 ``(time, batch)``, 1 where the loss counts, 0 on padding;
- ``conditions``: a pandas DataFrame, one row per trial (batch entry), holding the task
  variables by value (so model and data conditions align by value, not by position);
- ``periods``: ``{name: bool tensor (time, batch)}``, the task's epochs (``"decision"``...);
- ``record_steps``: for recording trials (``task.trials``), the indices along ``time`` of the
  recording window's bins (one per time bin of the data), else ``None``.

A task is any object with ``n_inputs``, ``n_outputs``, ``dt`` (seconds), ``loss``, and the four
methods of :class:`Task`. Subclassing is optional (the protocol is structural), but the ABC
checks that nothing is missing.

One method is optional: ``held_out(size, *, seed) -> TaskBatch``, the batch on which a trainer
reads the criterion (``accuracy`` on it, compared with ``criterion``). A task defines it when
its success is judged on other trials than its training distribution (:class:`ReachingTask`:
the jittered trials and the recording's own unjittered trials); without it the held-out batch is
``batch(size, seed=seed)`` (:meth:`Task.held_out`'s default, and :func:`held_out_batch` for a
task that does not subclass :class:`Task`).
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import torch

from .._checks import SettingsError

__all__ = ["Task", "TaskBatch", "held_out_batch", "r2_score"]

LOSSES = ("cross_entropy", "mse")


@dataclass(frozen=True)
class TaskBatch:
    """One batch of trials, time-major (see the module docstring for each field).

    Example:
        >>> import torch, pandas as pd
        >>> b = TaskBatch(torch.zeros(5, 2, 3), torch.zeros(5, 2, 1), torch.ones(5, 2), pd.DataFrame({"c": [0, 1]}))
        >>> b.n_time, b.size
        (5, 2)
    """

    inputs: torch.Tensor
    targets: torch.Tensor
    mask: torch.Tensor
    conditions: object
    periods: Mapping[str, torch.Tensor] = field(default_factory=dict)
    record_steps: np.ndarray | None = None

    def __post_init__(self):
        if not (isinstance(self.inputs, torch.Tensor) and self.inputs.ndim == 3):
            raise SettingsError("inputs", "expected a (time, batch, n_inputs) tensor")
        n_time, size = self.inputs.shape[:2]
        if not isinstance(self.targets, torch.Tensor) or tuple(self.targets.shape[:2]) != (n_time, size):
            raise SettingsError("targets", f"expected a tensor starting with (time, batch) = {(n_time, size)}")
        if not isinstance(self.mask, torch.Tensor) or tuple(self.mask.shape) != (n_time, size):
            raise SettingsError("mask", f"expected a (time, batch) = {(n_time, size)} tensor")
        if len(self.conditions) != size:
            raise SettingsError("conditions", f"expected one row per trial ({size}), got {len(self.conditions)}")
        for name, period in self.periods.items():
            if tuple(period.shape) != (n_time, size):
                raise SettingsError("periods", f"period {name!r} is not a (time, batch) tensor")

    @property
    def n_time(self) -> int:
        """Number of time steps."""
        return int(self.inputs.shape[0])

    @property
    def size(self) -> int:
        """Number of trials."""
        return int(self.inputs.shape[1])


class Task(abc.ABC):
    """A task: seeded batches for training, fixed-timing trials for recording, a success measure.

    Attributes a task defines: ``n_inputs``, ``n_outputs``, ``dt`` (seconds per time step) and
    ``loss`` (``"cross_entropy"``: integer targets ``(time, batch)``; ``"mse"``: float targets
    ``(time, batch, n_outputs)``), and ``criterion``: the value of :meth:`accuracy` at which a
    network counts as trained.

    Bring your own task by implementing the four methods (a minimal one, a delayed copy of a
    random sign), and :meth:`held_out` where the criterion is to be read on other trials than
    :meth:`batch`'s:

    >>> import numpy as np, pandas as pd, torch
    >>> class Sign(Task):
    ...     n_inputs, n_outputs, dt, loss, criterion = 1, 1, 0.1, "mse", 0.9
    ...     def conditions(self):
    ...         return pd.DataFrame({"sign": [-1, 1]})
    ...     def _make(self, signs, noise):
    ...         x = torch.zeros(10, len(signs), 1)
    ...         x[2] = torch.tensor(signs, dtype=torch.float32)[:, None]
    ...         x += noise
    ...         y = torch.zeros(10, len(signs), 1)
    ...         y[5:] = torch.tensor(signs, dtype=torch.float32)[:, None]
    ...         return TaskBatch(x, y, torch.ones(10, len(signs)), pd.DataFrame({"sign": signs}),
    ...                          record_steps=np.arange(2, 10))
    ...     def batch(self, size, *, seed):
    ...         g = torch.Generator().manual_seed(seed)
    ...         signs = (torch.randint(0, 2, (size,), generator=g) * 2 - 1).tolist()
    ...         return self._make(signs, 0.1 * torch.randn(10, size, 1, generator=g))
    ...     def trials(self, conditions=None, *, repeats=1, seed=0):
    ...         table = self.conditions() if conditions is None else conditions
    ...         signs = np.repeat(table["sign"].to_numpy(), repeats).tolist()
    ...         g = torch.Generator().manual_seed(seed)
    ...         return self._make(signs, 0.1 * torch.randn(10, len(signs), 1, generator=g))
    ...     def accuracy(self, outputs, batch):
    ...         return r2_score(outputs, batch.targets, batch.mask)
    >>> from repalign.tasks import r2_score
    >>> task = Sign()
    >>> b = task.batch(4, seed=0)
    >>> b.inputs.shape, bool(torch.equal(b.inputs, task.batch(4, seed=0).inputs))
    (torch.Size([10, 4, 1]), True)
    >>> task.accuracy(b.targets, b)
    1.0
    >>> bool(torch.equal(task.held_out(4, seed=0).inputs, b.inputs))  # no held_out of its own: batch's trials
    True
    """

    n_inputs: int
    n_outputs: int
    dt: float
    loss: str
    criterion: float

    @abc.abstractmethod
    def batch(self, size: int, *, seed: int) -> TaskBatch:
        """``size`` training trials drawn with ``seed`` (same seed, same batch)."""

    @abc.abstractmethod
    def conditions(self):
        """The recording conditions table (a pandas DataFrame, one row per condition)."""

    @abc.abstractmethod
    def trials(self, conditions=None, *, repeats: int = 1, seed: int = 0) -> TaskBatch:
        """Fixed-timing trials of each condition (default :meth:`conditions`), ``repeats`` each.

        Trials are condition-major: batch entry ``c * repeats + r`` is repeat ``r`` of row ``c``;
        ``record_steps`` gives the recording window's time bins.
        """

    @abc.abstractmethod
    def accuracy(self, outputs: torch.Tensor, batch: TaskBatch) -> float:
        """How well ``outputs`` (``(time, batch, n_outputs)``) perform the task (higher is better)."""

    def held_out(self, size: int, *, seed: int) -> TaskBatch:
        """The held-out batch on which a trainer reads the criterion (optional; default ``batch(size, seed=seed)``).

        ``size`` is the number of random held-out trials; a task may add trials of its own (the
        recording's conditions) and judge them in :meth:`accuracy`.
        """
        return self.batch(size, seed=seed)


def held_out_batch(task, size: int, *, seed: int) -> TaskBatch:
    """``task.held_out(size, seed=seed)`` where the task defines it, else ``task.batch(size, seed=seed)``.

    >>> class Plain:  # a structural task without held_out
    ...     def batch(self, size, *, seed):
    ...         return ("batch", size, seed)
    >>> held_out_batch(Plain(), 4, seed=1)
    ('batch', 4, 1)
    """
    held_out = getattr(task, "held_out", None)
    return held_out(size, seed=seed) if callable(held_out) else task.batch(size, seed=seed)


def r2_score(outputs: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor | None = None) -> float:
    r"""Coefficient of determination of ``outputs`` against ``targets`` over the masked time steps.

    .. math:: R^2 = 1 - \frac{\sum_{t,b,k} m_{tb} (\hat y_{tbk} - y_{tbk})^2}
                             {\sum_{t,b,k} m_{tb} (y_{tbk} - \bar y_k)^2},

    with :math:`\bar y_k` the masked mean of output ``k`` (the variance-weighted R² of
    scikit-learn's ``r2_score(..., multioutput="variance_weighted")`` on the flattened steps).

    >>> y = torch.randn(5, 3, 2)
    >>> r2_score(y, y), abs(round(r2_score(torch.zeros_like(y) + y.mean((0, 1)), y), 6))
    (1.0, 0.0)
    """
    outputs = outputs.detach().to(torch.float64)
    targets = targets.detach().to(torch.float64)
    if outputs.shape != targets.shape:
        raise SettingsError("outputs", f"expected the targets' shape {tuple(targets.shape)}, got {tuple(outputs.shape)}")
    weight = torch.ones(targets.shape[:2], dtype=torch.float64) if mask is None else mask.detach().to(torch.float64)
    weight = weight[..., None]
    mean = (weight * targets).sum((0, 1)) / weight.sum((0, 1))
    residual = (weight * (outputs - targets) ** 2).sum()
    total = (weight * (targets - mean) ** 2).sum()
    if total <= 0:
        raise SettingsError("targets", "constant over the masked steps: R² is undefined")
    return float(1.0 - residual / total)

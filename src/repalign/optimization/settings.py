"""The settings of an optimization, validated once: :class:`OptimizeSettings`.

Its field defaults are the one set of defaults of :func:`repalign.optimize`, the ``optimize``
experiment and ``repalign optimize`` (which read them from here): the seed paper's loop
(nacloos/diffscore, ``diffscore/training/measure_optim.py``): Adam, learning rate 0.1, at most 1000
steps, standard Gaussian initial noise, float32 (its ``torch.Tensor(X)``), no default stopping value
(the seed code requires one; here a run without ``stop_at`` takes every step).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path

import torch

from .._checks import SettingsError, check_bool, check_choice, check_count, check_path, check_real, check_seeds
from .._threads import check_threads

__all__ = ["OptimizeSettings", "OPTIMIZERS", "DTYPES", "DEFAULT_DTYPE"]

OPTIMIZERS = ("adam", "sgd")
DTYPES = {"float32": torch.float32, "float64": torch.float64}
# the precision of a run whose reference is not a floating torch tensor: the seed paper's float32
DEFAULT_DTYPE = "float32"


@dataclass(frozen=True)
class OptimizeSettings:
    """Every setting of :func:`repalign.optimize` but the reference, the measures and the trackers.

    Checked on construction (each message names the setting); see :func:`repalign.optimize` for
    their meaning. ``seeds`` (computed) holds the seed of each run; ``dtype`` and ``device`` stay
    None until the reference is known (its own for a floating torch tensor, else
    :data:`DEFAULT_DTYPE` (float32) on the CPU). The field defaults are the seed paper's (see
    the module), shared with the ``optimize`` experiment and the command line.

    Example:
        >>> OptimizeSettings(max_steps=100, n_runs=3, seed=5).seeds
        (5, 6, 7)
        >>> settings = OptimizeSettings()
        >>> settings.optimizer, settings.lr, settings.max_steps, settings.stop_at, settings.resolved_dtype(None)
        ('adam', 0.1, 1000, None, torch.float32)
        >>> OptimizeSettings(max_steps=100, lr=0)
        Traceback (most recent call last):
        ...
        repalign._checks.SettingsError: lr: expected a positive number, got 0
    """

    max_steps: int = 1000
    init: object = "gaussian"
    init_scale: float | str = 1.0
    units: int | None = None
    optimizer: str = "adam"
    lr: float = 0.1
    stop_at: float | None = None
    seed: int | Sequence[int] = 0
    n_runs: int = 1
    record_every: int = 1  # the seed code keeps every step's data
    maximize: bool | None = None
    device: object = None
    dtype: object = None
    checkpoint: str | None = None
    checkpoint_every: int = 100
    progress: bool | None = None
    threads: int | None = None
    seeds: tuple[int, ...] = field(init=False, repr=False)

    def __post_init__(self):
        set_ = object.__setattr__
        set_(self, "max_steps", check_count(self.max_steps, "max_steps", 1))
        set_(self, "record_every", check_count(self.record_every, "record_every", 1))
        set_(self, "checkpoint_every", check_count(self.checkpoint_every, "checkpoint_every", 1))
        set_(self, "n_runs", check_count(self.n_runs, "n_runs", 1))
        if self.units is not None:
            set_(self, "units", check_count(self.units, "units", 1))
        set_(self, "seeds", tuple(check_seeds(self.seed, self.n_runs)))
        check_choice(self.optimizer, "optimizer", OPTIMIZERS)
        set_(self, "lr", check_real(self.lr, "lr", low=0.0, inclusive=(False, True)))
        if self.stop_at is not None:
            set_(self, "stop_at", check_real(self.stop_at, "stop_at"))
        check_bool(self.maximize, "maximize", allow_none=True)
        check_bool(self.progress, "progress", allow_none=True)
        set_(self, "threads", check_threads(self.threads))
        if isinstance(self.init, str) and self.init != "gaussian":
            raise SettingsError("init", f"expected 'gaussian' or an array shaped like Y, got {self.init!r}")
        if isinstance(self.init_scale, str):
            if self.init_scale != "reference":
                raise SettingsError("init_scale", f"expected a positive number or 'reference', got {self.init_scale!r}")
        else:
            set_(self, "init_scale", check_real(self.init_scale, "init_scale", low=0.0, inclusive=(False, True)))
        set_(self, "dtype", _checked_dtype(self.dtype))
        set_(self, "device", _checked_device(self.device))
        if self.checkpoint is not None:
            set_(self, "checkpoint", str(Path(check_path(self.checkpoint, "checkpoint"))))

    def options(self) -> dict:
        """The settings as keyword arguments of :func:`repalign.optimize`."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.init}

    def resolved_dtype(self, reference: torch.Tensor | None) -> torch.dtype:
        """``dtype``, else the reference's for a float32/float64 torch tensor, else :data:`DEFAULT_DTYPE`."""
        if self.dtype is not None:
            return self.dtype
        if reference is not None and reference.dtype in DTYPES.values():
            return reference.dtype
        return DTYPES[DEFAULT_DTYPE]

    def resolved_device(self, reference: torch.Tensor | None) -> torch.device:
        """``device``, else the reference's for a torch tensor, else the CPU."""
        if self.device is not None:
            return self.device
        return reference.device if reference is not None else torch.device("cpu")


def _checked_dtype(dtype) -> torch.dtype | None:
    if dtype is None:
        return None
    if isinstance(dtype, str) and dtype.removeprefix("torch.") in DTYPES:
        return DTYPES[dtype.removeprefix("torch.")]
    if dtype in DTYPES.values():
        return dtype
    raise SettingsError("dtype", f"expected torch.float32 or torch.float64 (or their names), got {dtype!r}")


def _checked_device(device) -> torch.device | None:
    if device is None:
        return None
    try:
        return torch.device(device)
    except (RuntimeError, TypeError) as error:
        raise SettingsError("device", f"expected a torch device or its name, got {device!r} ({error})") from None

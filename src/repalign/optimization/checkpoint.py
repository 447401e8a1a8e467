"""Checkpoints of an optimization: write the loop's state, check and restore it.

A checkpoint holds the state at the start of a step — ``Y``, the optimizer's state dict, the step,
which runs are frozen and when they stopped, each run's latest value, the recorded rows, the torch
CPU random state and the settings — as tensors and plain Python values written with
:func:`torch.save` to a temporary file and renamed (a crash never leaves half a file), and read
back with ``weights_only=True``. A checkpoint resumes only under the same settings, except those in
:data:`RESUMABLE`.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from .._checks import SettingsError

__all__ = ["FORMAT", "RESUMABLE", "save", "resume"]

FORMAT = "repalign.optimize checkpoint 1"
# settings that may change between an interrupted run and its resumption
RESUMABLE = ("max_steps", "checkpoint", "checkpoint_every", "device", "progress")


def _to_cpu(state):
    if isinstance(state, torch.Tensor):
        return state.detach().cpu()
    if isinstance(state, dict):
        return {k: _to_cpu(v) for k, v in state.items()}
    if isinstance(state, list):
        return [_to_cpu(v) for v in state]
    return state


def _first_line(error: Exception) -> str:
    text = str(error).strip()
    return (text.splitlines()[0] if text else type(error).__name__)[:160]


def save(path: Path, settings: dict, step: int, Y: torch.Tensor, optimizer: torch.optim.Optimizer,
         loop_state: dict) -> None:
    """Write the state at the start of ``step``; ``loop_state`` holds active, reached, last_value and rows."""
    payload = {"format": FORMAT, "settings": settings, "step": step, "Y": Y.detach().cpu(),
               "optimizer": _to_cpu(optimizer.state_dict()), "rng": torch.get_rng_state(), **loop_state}
    temporary = path.with_name(path.name + ".tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(payload, temporary)
        os.replace(temporary, path)
    except (OSError, RuntimeError) as error:  # torch reports a file it cannot open as a RuntimeError
        raise SettingsError("checkpoint", f"cannot write {str(path)!r} ({_first_line(error)})") from None


def resume(path: Path, settings: dict, Y: torch.Tensor, optimizer: torch.optim.Optimizer) -> dict:
    """Load a checkpoint into ``Y`` and ``optimizer``, restore the torch CPU random state, return the loop state.

    The returned dict holds ``step``, ``active``, ``reached``, ``last_value`` and ``rows`` (the rows'
    state). Raises ``ValueError`` for a file that is not a checkpoint or was written with other
    settings (listing them).
    """
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 -- any unreadable file gets the same message
        raise SettingsError("checkpoint", f"{str(path)!r} exists but is not a readable repalign.optimize checkpoint "
                                          f"({type(error).__name__}); remove it or choose another path") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise SettingsError("checkpoint", f"{str(path)!r} exists but is not a repalign.optimize checkpoint "
                                          f"({FORMAT!r}); remove it or choose another path")
    saved = state["settings"]
    differ = [key for key in sorted(set(saved) | set(settings))
              if key not in RESUMABLE and saved.get(key) != settings.get(key)]
    if differ:
        listed = "; ".join(f"{k}: checkpoint {saved.get(k)!r}, now {settings.get(k)!r}" for k in differ)
        raise SettingsError("checkpoint", f"{str(path)!r} was written with other settings ({listed}); use the same "
                                          f"settings to resume, or another checkpoint path to start afresh")
    with torch.no_grad():
        Y.copy_(state["Y"])
    optimizer.load_state_dict(state["optimizer"])
    torch.set_rng_state(state["rng"])
    return {key: state[key] for key in ("step", "active", "reached", "last_value", "rows")}

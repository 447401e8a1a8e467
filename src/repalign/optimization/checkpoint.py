"""Checkpoints of an optimization: write the loop's state, check and restore it.

A checkpoint holds the state at the start of a step — ``Y``, the optimizer's state dict, the step,
which runs are frozen and when they stopped, each run's latest value, the recorded rows, the torch
CPU random state and the settings — as tensors and plain Python values written with
:func:`torch.save` to a temporary file and renamed (a crash never leaves half a file), and read
back with ``weights_only=True``. A checkpoint resumes only under the same settings, except those in
:data:`RESUMABLE`; the settings include every tracker's (its ``settings()``: ridge, folds, seed,
PCs, variables...; a callable without them by its name), so that a trajectory never mixes values
of trackers set up differently. A refusal lists each difference.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from .._checks import SettingsError

__all__ = ["FORMAT", "RESUMABLE", "save", "resume", "differences"]

FORMAT = "repalign.optimize checkpoint 2"  # 2: the trackers' settings are recorded (1: their names)
# settings that may change between an interrupted run and its resumption
RESUMABLE = ("max_steps", "checkpoint", "checkpoint_every", "device", "progress", "threads")


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
    found = state.get("format") if isinstance(state, dict) else None
    if isinstance(found, str) and found.startswith("repalign.optimize checkpoint") and found != FORMAT:
        raise SettingsError("checkpoint", f"{str(path)!r} was written by another version of repalign ({found!r}, "
                                          f"this one reads {FORMAT!r}); remove it or choose another path")
    if found != FORMAT:
        raise SettingsError("checkpoint", f"{str(path)!r} exists but is not a repalign.optimize checkpoint "
                                          f"({FORMAT!r}); remove it or choose another path")
    saved = state["settings"]
    listed = differences(saved, settings)
    if listed:
        raise SettingsError("checkpoint", f"{str(path)!r} was written with other settings ({'; '.join(listed)}); "
                                          f"use the same settings to resume, or another checkpoint path to start "
                                          f"afresh")
    with torch.no_grad():
        Y.copy_(state["Y"])
    optimizer.load_state_dict(state["optimizer"])
    torch.set_rng_state(state["rng"])
    return {key: state[key] for key in ("step", "active", "reached", "last_value", "rows")}


def differences(saved: dict, now: dict) -> list[str]:
    """Each setting that differs between a checkpoint's ``saved`` settings and ``now`` (but :data:`RESUMABLE`),
    as ``"name: checkpoint A, now B"``; the trackers' settings one by one (``"tracker 'pc_capture' ridge: ..."``).

    Example:
        >>> differences({"lr": 0.1, "trackers": [{"name": "pc_capture", "settings": {"ridge": 0.0, "cv": 5}}]},
        ...             {"lr": 0.1, "trackers": [{"name": "pc_capture", "settings": {"ridge": 1.0, "cv": 5}}]})
        ["tracker 'pc_capture' ridge: checkpoint 0.0, now 1.0"]
    """
    out = []
    for key in sorted(set(saved) | set(now)):
        if key in RESUMABLE or saved.get(key) == now.get(key):
            continue
        names = _tracker_names(saved.get(key)) if key == "trackers" else None
        if names is not None and names == _tracker_names(now.get(key)):
            for before, after in zip(saved[key], now[key]):
                old, new = before.get("settings") or {}, after.get("settings") or {}
                out += [f"tracker {before['name']!r} {name}: checkpoint {old.get(name, '(none)')!r}, now "
                        f"{new.get(name, '(none)')!r}" for name in sorted(set(old) | set(new))
                        if old.get(name) != new.get(name)]
            continue
        out.append(f"{key}: checkpoint {saved.get(key)!r}, now {now.get(key)!r}")
    return out


def _tracker_names(trackers) -> list | None:
    if not isinstance(trackers, list) or not all(isinstance(t, dict) and "name" in t for t in trackers):
        return None
    return [t["name"] for t in trackers]

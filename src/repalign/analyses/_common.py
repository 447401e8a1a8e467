"""Helpers shared by the analyses of optimized data: first crossings, trajectory tables, axes."""

from __future__ import annotations

import math

import numpy as np

__all__ = ["first_crossing", "trajectory_frame", "decoding_columns", "pc_columns"]


def first_crossing(value: np.ndarray, curve: np.ndarray, threshold: float) -> tuple[int, float]:
    """Index of the first ``curve >= threshold`` and the value there, interpolated linearly in ``curve``.

    ``curve[j-1] < threshold <= curve[j]``: the value is
    ``value[j-1] + (threshold - curve[j-1]) / (curve[j] - curve[j-1]) * (value[j] - value[j-1])``.
    Returns ``(-1, nan)`` when the threshold is never reached.
    """
    hit = np.flatnonzero(curve >= threshold)
    if hit.size == 0:
        return -1, math.nan
    j = int(hit[0])
    if j == 0:
        return 0, float(value[0])
    fraction = (threshold - curve[j - 1]) / (curve[j] - curve[j - 1])
    return j, float(value[j - 1] + fraction * (value[j] - value[j - 1]))


def trajectory_frame(result):
    """The trajectory table of an :class:`~repalign.optimization.OptimizationResult` or a DataFrame.

    A table of repalign 0.1, whose measure's value is the column ``score``, is read with that
    column named ``value``.
    """
    frame = getattr(result, "trajectory", result)
    if frame is None:
        raise ValueError("result: holds no trajectory")
    if hasattr(frame, "columns") and "value" not in frame.columns and "score" in frame.columns:
        frame = frame.rename(columns={"score": "value"})
    if not hasattr(frame, "columns") or not {"run", "step", "value"} <= set(frame.columns):
        raise ValueError("result: expected an OptimizationResult or its trajectory table "
                         "(columns run, step, value, ...)")
    if len(frame) == 0:
        raise ValueError("result: the trajectory is empty")
    return frame


def decoding_columns(frame) -> list[str]:
    """The trajectory's decoding columns (``decode_<variable>``), in their order."""
    columns = [c for c in frame.columns if c.startswith("decode_")]
    if not columns:
        raise ValueError("result: no decoding columns (decode_<variable>): optimize with a Decoding tracker")
    return columns


def pc_columns(frame) -> list[str]:
    columns = [c for c in frame.columns if c.startswith("pc") and c.endswith("_r2")]
    columns.sort(key=lambda c: int(c[2:-3]))
    if not columns:
        raise ValueError("result: no PC-capture columns (pc1_r2, ...): optimize with a PCCapture tracker")
    return columns

"""Helpers shared by the analyses of optimized data: first crossings, trajectory tables, axes."""

from __future__ import annotations

import math

import numpy as np

__all__ = ["first_crossing", "trajectory_frame", "decoding_columns", "pc_columns"]


def first_crossing(score: np.ndarray, value: np.ndarray, threshold: float) -> tuple[int, float]:
    """Index of the first ``value >= threshold`` and the score there, interpolated linearly in ``value``.

    ``value[j-1] < threshold <= value[j]``: the score is
    ``score[j-1] + (threshold - value[j-1]) / (value[j] - value[j-1]) * (score[j] - score[j-1])``.
    Returns ``(-1, nan)`` when the threshold is never reached.
    """
    hit = np.flatnonzero(value >= threshold)
    if hit.size == 0:
        return -1, math.nan
    j = int(hit[0])
    if j == 0:
        return 0, float(score[0])
    fraction = (threshold - value[j - 1]) / (value[j] - value[j - 1])
    return j, float(score[j - 1] + fraction * (score[j] - score[j - 1]))


def trajectory_frame(result):
    """The trajectory table of an :class:`~repalign.optimization.OptimizationResult` or a DataFrame."""
    frame = getattr(result, "trajectory", result)
    if frame is None:
        raise ValueError("result: holds no trajectory")
    if not hasattr(frame, "columns") or not {"run", "step", "score"} <= set(frame.columns):
        raise ValueError("result: expected an OptimizationResult or its trajectory table "
                         "(columns run, step, score, ...)")
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

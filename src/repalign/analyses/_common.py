"""Helpers shared by the analyses of optimized data: first crossings, trajectory tables, axes."""

from __future__ import annotations

import math

import numpy as np

__all__ = ["first_crossing", "sorted_interpolation", "trajectory_frame", "computed", "decoding_columns", "pc_columns"]


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


def sorted_interpolation(value: np.ndarray, r2: np.ndarray, threshold: float) -> float:
    """``value`` where ``r2`` equals ``threshold``, interpolated linearly between the points sorted by ``r2``.

    The seed paper's reading (``scipy.interpolate.interp1d(r2, value)(threshold)``, linear kind):
    the points are sorted by ``r2`` (a stable sort: ties keep their recorded order) and the value is
    :func:`numpy.interp` on them, which interp1d delegates to for float64 data; a threshold below
    the smallest or above the largest ``r2`` is NaN (interp1d raises there), and so is a NaN threshold.

    Example:
        >>> sorted_interpolation(np.array([0.1, 0.2, 0.3]), np.array([0.0, 0.8, 0.4]), 0.6)
        0.25
    """
    r2 = np.asarray(r2, dtype=np.float64).reshape(-1)
    value = np.asarray(value, dtype=np.float64).reshape(-1)
    if r2.size == 0:
        return math.nan
    order = np.argsort(r2, kind="mergesort")
    r2, value = r2[order], value[order]
    if threshold < r2[0] or threshold > r2[-1]:
        return math.nan
    return float(np.interp(threshold, r2, value))


def computed(rows, column: str):
    """The rows of a trajectory table where ``column`` was computed: a tracker with its own
    ``record_every`` leaves NaN at the recording steps it skips."""
    return rows[rows[column].notna()]


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

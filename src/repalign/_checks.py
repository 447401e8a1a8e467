"""Checks of scalar arguments shared by the analysis modules (messages name the argument), and
their optional progress bar.

(Arrays are checked by :mod:`repalign.inputs`, the only validator of data.)
"""

from __future__ import annotations

import math
import numbers

import numpy as np


def check_count(value, name: str, low: int) -> int:
    """An integer (not a bool) ≥ ``low``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        raise ValueError(f"{name}: expected an integer >= {low}, got {value!r}")
    return int(value)


def check_real(value, name: str, *, low: float | None = None, high: float | None = None,
               inclusive: tuple[bool, bool] = (True, True)) -> float:
    """A finite real number (not a bool), optionally within an interval."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValueError(f"{name}: expected a finite real number, got {value!r}")
    value = float(value)
    low_ok = low is None or (value >= low if inclusive[0] else value > low)
    high_ok = high is None or (value <= high if inclusive[1] else value < high)
    if not (low_ok and high_ok):
        left, right = "[" if inclusive[0] else "(", "]" if inclusive[1] else ")"
        interval = f"{left}{'-inf' if low is None else low}, {'inf' if high is None else high}{right}"
        raise ValueError(f"{name}: expected a number in {interval}, got {value}")
    return value


def check_rng(seed, name: str = "seed") -> np.random.Generator:
    """A numpy Generator from a non-negative integer seed (or the Generator itself)."""
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ValueError(f"{name}: expected a non-negative integer or a numpy Generator, got {seed!r}")
    return np.random.default_rng(int(seed))


def progress_bar(iterable, enabled: bool, total: int, description: str):
    """``iterable`` wrapped in a tqdm bar when ``enabled`` and tqdm is installed.

    A bar is a convenience, not a result: without tqdm the loop runs silently.
    """
    if not enabled:
        return iterable
    try:
        from tqdm.auto import tqdm  # noqa: PLC0415 -- optional
    except ImportError:
        return iterable
    return tqdm(iterable, total=total, desc=description, leave=False)

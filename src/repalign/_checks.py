"""Checks of scalar arguments (counts, reals, seeds, flags, choices) and the optional progress bar.

Every public function of repalign checks its scalar arguments here, so that a bad value gets the
same kind of message everywhere: the argument's name, what was expected, what was found. Arrays
are checked by :mod:`repalign.inputs`, the one validator of data.

A :class:`SettingsError` is a ``ValueError`` that also carries the argument's name (``.argument``),
so that the command line can name its own option (``--n-pcs``) where Python names the argument
(``n_pcs``).
"""

from __future__ import annotations

import math
import numbers
import os
import sys
from collections.abc import Sequence

import numpy as np

__all__ = [
    "SettingsError", "check_count", "check_real", "check_seed", "check_seeds", "check_rng", "check_bool",
    "check_choice", "check_items", "check_path", "progress_bar",
]

SEED_LIMIT = 2**63  # seeds are stored as int64 (checkpoints, tables)


class SettingsError(ValueError):
    """A bad argument: ``str(error)`` is ``"<argument>: <problem>"``; ``error.argument`` names it."""

    def __init__(self, argument: str, problem: str):
        super().__init__(f"{argument}: {problem}")
        self.argument = argument
        self.problem = problem


def check_count(value, name: str, low: int = 0, high: int | None = None) -> int:
    """An integer (not a bool) in ``[low, high]``.

    >>> check_count(3, "n_runs", 1)
    3
    >>> check_count(0, "n_runs", 1)
    Traceback (most recent call last):
    ...
    repalign._checks.SettingsError: n_runs: expected an integer >= 1, got 0
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral) or value < low:
        raise SettingsError(name, f"expected an integer >= {low}, got {value!r}")
    if high is not None and value > high:
        raise SettingsError(name, f"expected an integer <= {high}, got {value!r}")
    return int(value)


def check_real(value, name: str, *, low: float | None = None, high: float | None = None,
               inclusive: tuple[bool, bool] = (True, True)) -> float:
    """A finite real number (not a bool), optionally within an interval (closed by default).

    >>> check_real(0.5, "lr", low=0.0, inclusive=(False, True))
    0.5
    >>> check_real(float("nan"), "lr")
    Traceback (most recent call last):
    ...
    repalign._checks.SettingsError: lr: expected a finite real number, got nan
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise SettingsError(name, f"expected a finite real number, got {value!r}")
    value = float(value)
    low_ok = low is None or (value >= low if inclusive[0] else value > low)
    high_ok = high is None or (value <= high if inclusive[1] else value < high)
    if not (low_ok and high_ok):
        if high is None and low == 0:
            wanted = "a non-negative number" if inclusive[0] else "a positive number"
        else:
            left, right = "[" if inclusive[0] else "(", "]" if inclusive[1] else ")"
            wanted = f"a number in {left}{'-inf' if low is None else low:g}, {'inf' if high is None else high:g}{right}"
        raise SettingsError(name, f"expected {wanted}, got {value:g}")
    return value


def check_seed(seed, name: str = "seed") -> int:
    """A seed: a non-negative integer below 2**63 (stored as int64)."""
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, numbers.Integral) or not 0 <= seed < SEED_LIMIT:
        raise SettingsError(name, f"expected a non-negative integer below 2**63, got {seed!r}")
    return int(seed)


def check_seeds(seed, count: int, name: str = "seed") -> list[int]:
    """``count`` seeds: ``seed, seed + 1, …`` from one integer, or a sequence of exactly ``count`` seeds."""
    if isinstance(seed, numbers.Integral) and not isinstance(seed, (bool, np.bool_)):
        seeds = [int(seed) + k for k in range(count)]
    elif isinstance(seed, Sequence) and not isinstance(seed, str):
        seeds = list(seed)
        if len(seeds) != count:
            raise SettingsError(name, f"expected one seed per run ({count}), got {len(seeds)}")
    else:
        raise SettingsError(name, f"expected a non-negative integer or one per run, got {seed!r}")
    return [check_seed(s, name) for s in seeds]


def check_rng(seed, name: str = "seed") -> np.random.Generator:
    """A numpy Generator from a seed (see :func:`check_seed`), or the Generator itself."""
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(check_seed(seed, name))


def check_bool(value, name: str, *, allow_none: bool = False) -> bool | None:
    """``True`` or ``False`` (numpy booleans accepted), or ``None`` when ``allow_none``."""
    if value is None and allow_none:
        return None
    if not isinstance(value, (bool, np.bool_)):
        expected = "True, False or None" if allow_none else "True or False"
        raise SettingsError(name, f"expected {expected}, got {value!r}")
    return bool(value)


def check_choice(value, name: str, choices: Sequence) -> str:
    """One of ``choices``."""
    if not isinstance(value, str) or value not in choices:
        raise SettingsError(name, f"expected one of {list(choices)}, got {value!r}")
    return value


def check_path(value, name: str, *, allow_none: bool = False) -> str | None:
    """A file path (a non-empty string or ``os.PathLike``) as a string, or ``None`` when ``allow_none``."""
    if value is None and allow_none:
        return None
    if not isinstance(value, (str, os.PathLike)) or not os.fspath(value):
        raise SettingsError(name, f"expected a file path, got {value!r}")
    return os.fspath(value)


def check_items(value, name: str, what: str, *, distinct: bool = False) -> list:
    """A non-empty list of the items of ``value`` (any iterable but a string), optionally without repeats.

    >>> check_items(range(2), "ks", "PC indices")
    [0, 1]
    >>> check_items([], "ks", "PC indices")
    Traceback (most recent call last):
    ...
    repalign._checks.SettingsError: ks: expected at least one of the PC indices, got none
    """
    if isinstance(value, str):
        raise SettingsError(name, f"expected an iterable of {what}, got the string {value!r}")
    try:
        items = list(value)
    except TypeError:
        raise SettingsError(name, f"expected an iterable of {what}, got {type(value).__name__}") from None
    if not items:
        raise SettingsError(name, f"expected at least one of the {what}, got none")
    if distinct and len(set(items)) != len(items):
        raise SettingsError(name, f"each of the {what} may appear once, got {items}")
    return items


def _interactive() -> bool:
    stream = sys.stderr
    terminal = stream is not None and hasattr(stream, "isatty") and stream.isatty()
    return terminal or "ipykernel" in sys.modules  # a notebook's stderr is no terminal but shows bars


def progress_bar(iterable=None, *, enabled: bool | None, total: int, description: str, initial: int = 0,
                 unit: str = "it"):
    """A tqdm bar over ``iterable`` (or a manual bar when ``iterable`` is None), or ``iterable`` itself.

    ``enabled``: True always shows a bar, False never; None shows one in a terminal or a notebook
    once the work has lasted a second (short calls print nothing). Without tqdm installed the work
    runs silently: a bar is a convenience, not a result. A manual bar (``iterable=None``) is returned
    as None when disabled.
    """
    if enabled is False or (enabled is None and not _interactive()):
        return iterable
    try:
        from tqdm.auto import tqdm  # noqa: PLC0415 -- optional
    except ImportError:
        return iterable
    return tqdm(iterable, total=total, initial=initial, desc=description, unit=unit, leave=False,
                delay=1.0 if enabled is None else 0.0)

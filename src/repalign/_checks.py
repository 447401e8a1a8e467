"""Checks of scalar arguments (counts, reals, seeds, flags, choices) and progress (a bar, or log lines).

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
import time
from collections.abc import Sequence

import numpy as np

__all__ = [
    "SettingsError", "check_count", "check_real", "check_seed", "check_seeds", "check_rng", "check_bool",
    "check_choice", "check_items", "check_path", "progress_bar", "ProgressLog",
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
    >>> check_real(0.5, "sigma_factor", low=1.0)
    Traceback (most recent call last):
    ...
    repalign._checks.SettingsError: sigma_factor: expected a number in [1, inf), got 0.5
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
            left = "(-inf" if low is None else ("[" if inclusive[0] else "(") + f"{low:g}"
            right = "inf)" if high is None else f"{high:g}" + ("]" if inclusive[1] else ")")
            wanted = f"a number in {left}, {right}"
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


LOG_EVERY = 10.0  # seconds between two progress lines off a terminal


def progress_bar(iterable=None, *, enabled: bool | None, total: int, description: str, initial: int = 0,
                 unit: str = "it", cap: bool = False):
    """Progress over ``iterable`` (or a manual bar when ``iterable`` is None), or ``iterable`` itself.

    ``enabled``: False shows nothing; True and None show progress, None only once the work has
    lasted a while (short calls print nothing). In a terminal or a notebook, progress is a tqdm
    bar (after a second, for None). Elsewhere (a script's log, a batch job, CI) a bar would be
    unreadable, so progress is a :class:`ProgressLog`: one line on stderr every
    :data:`LOG_EVERY` seconds and a last one when the work ends (for None: when it lasted at
    least that long). Without tqdm installed the work runs silently in a terminal: a bar is a
    convenience, not a result. A manual bar (``iterable=None``) is returned as None when disabled.
    Either kind supports iteration, ``update(n)``, ``set_postfix_str(text)`` and ``close()``.
    ``cap=True``: ``total`` is a cap that the work may stop before (training to criterion), so the
    time left is shown as an upper bound ("at most", "≤").
    """
    if enabled is False:
        return iterable
    if not _interactive():
        return ProgressLog(iterable, total=total, description=description, initial=initial, unit=unit,
                           last=enabled is True, cap=cap)
    try:
        from tqdm.auto import tqdm  # noqa: PLC0415 -- optional
    except ImportError:
        return iterable
    bar_format = "{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}<≤{remaining}, {rate_fmt}{postfix}]" if cap else None
    return tqdm(iterable, total=total, initial=initial, desc=description, unit=unit, leave=False,
                delay=1.0 if enabled is None else 0.0, bar_format=bar_format)


class ProgressLog:
    """Progress as plain lines, for a stream that is not a terminal: at most one every ``every`` seconds.

    A line reads ``optimize: 120/300 step (40%), 12.0 s, about 18 s left [postfix]``. The first
    line comes ``every`` seconds after the start, then one at most every ``every`` seconds, and a
    last one at :meth:`close` (or when the iterable is exhausted) if any line was written, the
    work lasted ``every`` seconds, or ``last`` is True. With ``cap`` True the total is an upper
    bound on the work (training stops at criterion) and the time left reads ``at most ... s left``. ``stream`` (default: ``sys.stderr`` at
    each write) and ``clock`` (seconds, default :func:`time.monotonic`) are there for tests.

    Example:
        >>> import io
        >>> now = [0.0]
        >>> out = io.StringIO()
        >>> log = ProgressLog(total=100, description="optimize", unit="step", stream=out, clock=lambda: now[0])
        >>> for step in range(100):
        ...     now[0] += 0.25                       # 25 s in all: lines at 10 s, 20 s and the last
        ...     log.update(1)
        >>> log.close()
        >>> print(out.getvalue(), end="")
        optimize: 40/100 step (40%), 10.0 s, about 15 s left
        optimize: 80/100 step (80%), 20.0 s, about 5 s left
        optimize: 100/100 step (100%), 25.0 s
    """

    def __init__(self, iterable=None, *, total: int, description: str, initial: int = 0, unit: str = "it",
                 last: bool = False, every: float = LOG_EVERY, stream=None, clock=None, cap: bool = False):
        self.iterable = iterable
        self.total = total
        self.description = description
        self.n = self.initial = initial
        self.unit = unit
        self.last = last
        self.cap = cap
        self.every = every
        self.stream = stream
        self.clock = time.monotonic if clock is None else clock
        self.start = self.written = self.clock()
        self.postfix = ""
        self.lines = 0
        self.closed = False

    def __iter__(self):
        try:
            for item in self.iterable:
                yield item
                self.update(1)
        finally:
            self.close()

    def __len__(self):
        return self.total

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def set_postfix_str(self, text: str = "", refresh: bool = True) -> None:
        """Text appended to the next line (tqdm's name and signature; ``refresh`` is ignored)."""
        self.postfix = str(text)

    def update(self, n: int = 1) -> None:
        """``n`` more done; writes a line when ``every`` seconds have passed since the last one."""
        self.n += n
        if self.clock() - self.written >= self.every:
            self._write()

    def close(self) -> None:
        """Writes the last line (see the class), once."""
        if self.closed:
            return
        self.closed = True
        if self.lines or self.last or self.clock() - self.start >= self.every:
            self._write(final=True)

    def _write(self, final: bool = False) -> None:
        now = self.clock()
        self.written = now
        self.lines += 1
        elapsed = now - self.start
        line = f"{self.description}: {self.n}"
        if self.total:
            line += f"/{self.total} {self.unit} ({100 * self.n / self.total:.0f}%)"
        else:
            line += f" {self.unit}"
        line += f", {elapsed:.1f} s"
        done = self.n - self.initial
        if not final and self.total and 0 < done and self.n < self.total:
            line += f", {'at most' if self.cap else 'about'} {elapsed / done * (self.total - self.n):.0f} s left"
        if self.postfix:
            line += f" [{self.postfix}]"
        stream = sys.stderr if self.stream is None else self.stream
        if stream is not None:
            print(line, file=stream, flush=True)

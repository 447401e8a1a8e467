"""The thread policy: one BLAS/OpenMP thread per process for the optimizer, the trackers and the experiments.

Their problems are small (matrices of tens to a few thousand rows): spreading one over several
threads gains little on an idle machine and loses a great deal on a shared one, where threads that
wait for each other at every barrier of a factorization stall whenever another process holds a
core (``python -m repalign.demo --quick`` took 6 min 15 s with torch's default threads beside a
busy process, 23 s with one thread; ``bench/bench_threads.py`` measures it). So
:func:`repalign.optimize` and every experiment run by :func:`repalign.experiments.run` work inside
:func:`limit_threads`, by default with one thread; their ``threads`` setting (``--threads`` on the
command line) asks for more.

:func:`limit_threads` changes process-wide settings only for the duration of the ``with`` block:
``torch.set_num_threads`` and, when threadpoolctl is installed (it comes with scikit-learn), the
thread count of the BLAS and OpenMP libraries numpy and scipy loaded. Both are restored on exit,
also after an exception. ``threads=None`` keeps the count of an enclosing :func:`limit_threads`
(an experiment's setting reaches the optimizations it runs), else uses :data:`DEFAULT_THREADS`.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator

import torch

from ._checks import check_count

__all__ = ["DEFAULT_THREADS", "check_threads", "limit_threads"]

DEFAULT_THREADS = 1
# the count set by the innermost limit_threads block (None outside any)
_ACTIVE: contextvars.ContextVar[int | None] = contextvars.ContextVar("repalign_threads", default=None)


def check_threads(threads, name: str = "threads") -> int | None:
    """``None`` or a thread count >= 1.

    >>> check_threads(2)
    2
    >>> check_threads(0)
    Traceback (most recent call last):
    ...
    repalign._checks.SettingsError: threads: expected an integer >= 1, got 0
    """
    return None if threads is None else check_count(threads, name, 1)


@contextlib.contextmanager
def limit_threads(threads: int | None = None) -> Iterator[int]:
    """Run the ``with`` block on ``threads`` torch and BLAS/OpenMP threads; restore the previous counts after.

    ``threads``: a count >= 1, or None for the enclosing block's count (else :data:`DEFAULT_THREADS`).
    Yields the count in force.

    Example:
        >>> import torch
        >>> before = torch.get_num_threads()
        >>> with limit_threads(1):
        ...     torch.get_num_threads()
        1
        >>> torch.get_num_threads() == before
        True
    """
    threads = check_threads(threads)
    if threads is None:
        threads = _ACTIVE.get()
        if threads is None:
            threads = DEFAULT_THREADS
    token = _ACTIVE.set(threads)
    previous = torch.get_num_threads()
    try:
        with _blas_limits(threads):
            if previous != threads:
                torch.set_num_threads(threads)
            try:
                yield threads
            finally:
                if torch.get_num_threads() != previous:
                    torch.set_num_threads(previous)
    finally:
        _ACTIVE.reset(token)


@contextlib.contextmanager
def _blas_limits(threads: int) -> Iterator[None]:
    """threadpoolctl's limit on the BLAS and OpenMP libraries loaded (nothing without threadpoolctl)."""
    try:
        from threadpoolctl import threadpool_limits  # noqa: PLC0415 -- optional, through scikit-learn
    except ImportError:
        yield
        return
    limits = threadpool_limits(limits=threads)
    try:
        yield
    finally:
        limits.restore_original_limits()

"""Warnings attributed to the user's code, whatever the call path inside repalign."""

from __future__ import annotations

import sys
import warnings


def warn(message: str, category: type[Warning] = UserWarning) -> None:
    """Issue a warning attributed to the user's line: the first caller outside the repalign package.

    A fixed ``stacklevel`` is right for one call path only (``m(X, Y)`` and ``m.bind(X)(Y)`` reach a
    measure's checks at different depths); the filters ("once per location") then work per user line.
    """
    frame, level = sys._getframe(1), 2  # stacklevel 1 is this function, 2 its caller
    while frame is not None and frame.f_globals.get("__name__", "").partition(".")[0] == "repalign":
        frame, level = frame.f_back, level + 1
    warnings.warn(message, category, stacklevel=level)

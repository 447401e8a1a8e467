"""Command line: ``repalign measures``, ``describe``, ``compare``, ``match``, and the seed paper's
experiments on any data file: ``optimize``, ``perturb``, ``joint``, ``baselines``, ``topk-decoding``,
``variance-sweep`` (on the two-PC reference) and ``demo``.

A thin layer over :mod:`repalign.experiments`: each command turns its options into an
experiment's settings, runs it and prints a summary. It follows the library's conventions: the
same names, aliases and canonical spellings, and the same file grammar ``PATH[:NAME]`` for every
data argument (:func:`repalign.data.read`). A bad option, a missing, corrupt or pickled file and
every error of the library (bad values, non-finite values during an optimization, a solver that
did not converge) are reported as one line (``error: ...``) with exit code 2, never a traceback
(set ``REPALIGN_TRACEBACK=1`` to see one); ``compare`` exits with 1 when one of its measures fails
on the data; an interrupted command exits with 130.
"""

from __future__ import annotations

import os
import sys

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``repalign`` command; returns the exit code."""
    try:
        from .app import app, option_of  # noqa: PLC0415 -- typer is optional
    except ImportError as error:
        print(f"error: the repalign command needs typer: pip install 'repalign[cli]' ({error})", file=sys.stderr)
        return 2
    from .._checks import SettingsError  # noqa: PLC0415

    try:
        code = app(args=argv, standalone_mode=False)  # click returns typer.Exit's code here
    except SettingsError as error:  # a setting: name the option the user typed
        print(f"error: {option_of(error.argument)}: {error.problem}", file=sys.stderr)
        return 2
    except (ValueError, OSError, ImportError, ArithmeticError, RuntimeError) as error:
        if os.environ.get("REPALIGN_TRACEBACK"):
            raise
        print(f"error: {error}", file=sys.stderr)  # the library's messages are written for people
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except SystemExit as exit_:  # typer's --help or usage errors
        return int(exit_.code or 0)
    except Exception as error:  # click's usage errors (typer may vendor click, so no isinstance test)
        if hasattr(error, "show") and hasattr(error, "exit_code"):
            error.show()
            return error.exit_code
        raise
    return code if isinstance(code, int) else 0


if __name__ == "__main__":
    sys.exit(main())

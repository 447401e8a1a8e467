"""The main job of ``make demo``: ``python -m repalign.demo [--out DIR] [--seed S] [--units P] [--m1 FILE] [--quick]``.

The same as ``repalign demo``: runs :mod:`repalign.experiments.demo` (the seed paper's headline
experiment on ``mante_like``, then a small zoo of task-trained networks recorded and scored against
the data: figures, tables and ``summary.md`` in ``results/demo/``) and prints the summary.
``--quick`` shrinks every experiment (about a minute) to check the pipeline.
"""

from __future__ import annotations

import sys

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    """Run ``repalign demo`` with these options; returns the exit code."""
    from .cli import main as command_line  # noqa: PLC0415

    return command_line(["demo", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())

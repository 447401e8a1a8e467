"""The main job of ``make demo``: ``python -m repalign.demo [--out DIR] [--seed S] [--units P] [--quick]``.

Runs :mod:`repalign.experiments.demo` (the seed paper's headline experiment on ``mante_like``:
figures, tables and ``summary.md`` in ``results/demo/``) and prints the summary. ``--quick``
shrinks every experiment (about a minute) to check the pipeline.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    """Parse the options, run the demo experiment, print ``summary.md``; returns the exit code."""
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")
    from .experiments import demo  # noqa: PLC0415

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("results/demo"), help="output folder (results/demo)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the data, the noise and the folds")
    parser.add_argument("--units", type=int, default=727, help="units of the mante_like reference")
    parser.add_argument("--quick", action="store_true", help="shrunk sizes, about a minute")
    args = parser.parse_args(argv)
    try:
        demo.run(demo.Settings(seed=args.seed, units=args.units, quick=args.quick), args.out)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print()
    print((args.out / "summary.md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())

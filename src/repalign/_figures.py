"""Saving a figure the project's way: PNG and PDF, with the data behind it as CSV beside them."""

from __future__ import annotations

from pathlib import Path


def save_figure(ax, frame, path) -> list[str]:
    """Write ``ax``'s figure as ``path``.png/.pdf and ``frame`` as ``path``.csv; close the figure.

    ``path`` has no suffix (a .png/.pdf/.csv suffix is dropped); dots inside the name are kept
    (``run_s0.5`` writes ``run_s0.5.png``). Returns the three paths written.
    """
    import matplotlib.pyplot as plt  # noqa: PLC0415 -- optional, loaded on first plot

    path = Path(path)
    stem = path.with_suffix("") if path.suffix in (".png", ".pdf", ".csv") else path
    stem.parent.mkdir(parents=True, exist_ok=True)
    written = [stem.parent / f"{stem.name}{suffix}" for suffix in (".png", ".pdf", ".csv")]
    try:
        for target in written[:2]:
            ax.figure.savefig(target, bbox_inches="tight")
    finally:
        plt.close(ax.figure)
    frame.to_csv(written[2], index=False)
    return [str(target) for target in written]

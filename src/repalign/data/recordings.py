"""Loaders of real recordings, each returning a :class:`Dataset` with its provenance and citation.

- :func:`load_m1`: the M1 recording of Hatsopoulos, Xu & Amit (2007), 141 units, 8 reach
  directions, read from ``../shared/data`` beside the repository (never shipped with the package).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .dataset import Dataset, even_spacing, pandas_module
from .files import MissingFileError

__all__ = ["load_m1"]

M1_FILE = "hatsopoulos2007_m1.npz"


def _m1_candidates() -> list[Path]:
    repository = Path(__file__).resolve().parents[3]  # src/repalign/data/recordings.py -> repository root
    candidates = [repository.parent / "shared" / "data" / M1_FILE, Path.cwd().parent / "shared" / "data" / M1_FILE]
    unique = []
    for candidate in candidates:
        if candidate not in unique:
            unique.append(candidate)
    return unique


def load_m1(path: str | os.PathLike | None = None) -> Dataset:
    """The real M1 recording of Hatsopoulos, Xu & Amit (2007): 141 units, 8 reach directions.

    Trial-averaged firing rates (spikes/s), ``(121 time, 8 condition, 141 unit)``, aligned
    to movement onset from −800 ms to +400 ms in 10 ms steps (``dt = 0.01`` s). The
    conditions table holds ``condition_index``, ``reach_direction_deg`` (0, 45, …, 315) and
    the mean and median movement durations; the kinematic time courses of the file
    (time × condition) are not part of the dataset. Without ``path`` the file is looked for
    in ``../shared/data/`` beside the repository (and beside the working directory); it is
    never shipped with the package. Cite Hatsopoulos et al. 2007 (J. Neurosci. 27(19):5105;
    data doi:10.5061/dryad.xsj3tx9cm) when using it.

    Raises:
        FileNotFoundError: naming the searched path(s) when the file is absent.
    """
    candidates = [Path(path)] if path is not None else _m1_candidates()
    found = next((c for c in candidates if c.is_file()), None)
    if found is None:
        searched = ", ".join(str(c) for c in candidates)
        raise MissingFileError(f"path: the M1 recording {M1_FILE} was not found; searched {searched}")
    pd = pandas_module()
    with np.load(found, allow_pickle=False) as archive:
        activity = archive["activity"]
        time_ms = archive["time_ms"]
        table = pd.DataFrame(
            {
                name: archive[name]
                for name in (
                    "condition_index",
                    "reach_direction_deg",
                    "movement_duration_ms_mean",
                    "movement_duration_ms_median",
                )
            }
        )
    step_ms = even_spacing(time_ms)
    provenance = {
        "source": str(found),
        "dataset": "Hatsopoulos, Xu & Amit 2007, J. Neurosci. 27(19):5105; M1, 8-direction center-out reaching",
        "doi": "10.5061/dryad.xsj3tx9cm",
        "aligned_to": "movement onset",
        "time_ms_first": float(time_ms[0]),
        "activity_unit": "spikes/s",
    }
    return Dataset(activity, table, None, None if step_ms is None else step_ms / 1000.0, provenance)


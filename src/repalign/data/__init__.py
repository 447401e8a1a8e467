"""Data: the :class:`Dataset` container, the one file reader, synthetic generators and recording loaders.

- :class:`Dataset` — activity ``(time, condition, unit)`` or ``(sample, unit)`` with its task
  variables, unit metadata, time step and provenance; ``.save`` to ``.npz`` or ``.nc``.
- :class:`Trials` — single trials ``(trial, time, unit)`` with their table and the columns that
  define a condition; ``.average()`` gives the condition-averaged :class:`Dataset`.
- :func:`read` — the one file reader: ``PATH[:NAME]`` for ``.npy``, ``.npz``, ``.csv`` and ``.nc``
  (:func:`read_array`: the array as stored, unchecked).
- Synthetic datasets (:mod:`repalign.data.synthetic`): :func:`mante_like`, :func:`gaussian_like`,
  :func:`two_pc`, :func:`ultrametric`, :func:`sparse_factor_population`.
- Recordings (:mod:`repalign.data.recordings`): :func:`load_m1`.
- Loaders of recording formats: :func:`load_nwb` (NWB / DANDI: spike times and trials binned,
  aligned and averaged per condition, :mod:`repalign.data.nwb`), :func:`load_mante2013` (the Mante
  et al. 2013 per-unit ``.mat`` release, :mod:`repalign.data.mante2013`), :func:`load_brainio`
  (Brain-Score / BrainIO netCDF assemblies, :mod:`repalign.data.brainio`).

Every measure and analysis accepts a :class:`Dataset` wherever it accepts an array (its
``activity`` is used). pandas and xarray load only when a table or a netCDF file is needed.

Example:
    >>> from repalign import data
    >>> ref = data.mante_like(n_units=50, seed=0)
    >>> ref.shape, ref.conditions.columns.tolist()[:2]
    ((15, 72, 50), ['context', 'motion'])
"""

from .brainio import load_brainio
from .dataset import Dataset
from .files import DataFileError, MissingFileError, read, read_array, split_source
from .mante2013 import load_mante2013, mante_conditions
from .nwb import load_nwb
from .recordings import load_m1
from .trials import Trials
from .synthetic import (
    COLOUR_COHERENCES,
    MOTION_COHERENCES,
    SparseFactorPopulation,
    gaussian_like,
    mante_like,
    sparse_factor_population,
    two_pc,
    ultrametric,
)

__all__ = [
    "Dataset", "Trials", "read", "read_array", "split_source", "DataFileError", "MissingFileError", "load_m1", "load_nwb",
    "load_mante2013", "mante_conditions", "load_brainio", "mante_like",
    "gaussian_like",
    "two_pc", "ultrametric", "sparse_factor_population", "SparseFactorPopulation", "MOTION_COHERENCES",
    "COLOUR_COHERENCES",
]

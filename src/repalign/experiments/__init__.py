"""Experiments: each a settings object and an output folder in, a :class:`~repalign.results.Record` out.

An experiment is a module with a frozen dataclass ``Settings`` (checked on construction; errors
name the field) and a function ``run(settings, out=None) -> Record`` that reads its data, runs the
analyses, writes its figures and tables to the folder ``out`` (nothing is written without one) and
returns the record (settings, tables, arrays, versions, files written). The command line is a thin
layer over them (one command each), the demo is composed of them, and a sweep runs them cell by
cell.

:func:`run` runs an experiment on ``threads`` torch and BLAS/OpenMP threads (default 1, the
library's thread policy: see :mod:`repalign._threads`), restoring the previous counts afterwards;
the optimizations inside follow that setting.

:func:`run_batch` runs several settings of one experiment that differ only in the fields
:func:`batch_fields` names (for ``optimize``: ``seed``) and returns one Record per settings, writing
nothing: an experiment with a ``run_batch`` of its own runs them together (``optimize``: one batched
optimization per group of measures for every seed), any other runs them one by one.

- :mod:`~repalign.experiments.compare` — score X against Y with several measures;
- :mod:`~repalign.experiments.match` — soft matching, partial matching and the L-curve;
- :mod:`~repalign.experiments.optimize` — optimize noise towards a dataset, track PCs and decoding,
  read the thresholds (Figs. 3, 5);
- :mod:`~repalign.experiments.perturb` — single-PC perturbation against the closed forms (Fig. 6a);
- :mod:`~repalign.experiments.joint` — joint optimization towards a grid of targets (Fig. 6b,c);
- :mod:`~repalign.experiments.baselines` — condition-average and neuron-split baselines (Fig. 2);
- :mod:`~repalign.experiments.variance_sweep` — the two-PC reference with a shrinking PC 2 (Fig. 4d,e);
- :mod:`~repalign.experiments.topk_decoding` — decoding from the top k PCs of a dataset (Fig. 3c,d);
- :mod:`~repalign.experiments.train` — train a zoo of task-trained RNNs and check their behaviour (Fig. 2's models);
- :mod:`~repalign.experiments.compare_models` — a zoo of trained networks against a recording with intervals, nulls,
  baselines and the measures' agreement (Fig. 2, C5);
- :mod:`~repalign.experiments.demo` — the seed paper's headline experiment on ``mante_like``.

Example:
    >>> import numpy as np
    >>> from repalign import experiments
    >>> from repalign.data import Dataset
    >>> X = Dataset(np.random.default_rng(0).normal(size=(60, 5)))
    >>> record = experiments.run("compare", {"x": X, "y": X, "measures": ["cka"]})
    >>> record.kind, round(float(record.table.value[0]), 6)
    ('experiments.compare', 1.0)
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Mapping, Sequence

import numpy as np

from .._checks import SettingsError
from .._threads import check_threads, limit_threads
from ..data import Dataset
from ..results import Record

__all__ = ["NAMES", "run", "run_batch", "batch_fields", "settings_class", "SettingsError"]

NAMES = ("compare", "match", "optimize", "perturb", "joint", "baselines", "variance_sweep", "topk_decoding", "train",
         "compare_models", "demo")


def _module(name: str):
    if name not in NAMES:
        raise SettingsError("experiment", f"unknown experiment {name!r}; expected one of {list(NAMES)}")
    return importlib.import_module(f".{name}", __name__)


def settings_class(name: str) -> type:
    """The ``Settings`` dataclass of experiment ``name``."""
    return _module(name).Settings


def batch_fields(name: str) -> tuple[str, ...]:
    """The settings fields along which experiment ``name`` runs several settings together (its ``BATCH``; ``()``: none).

    >>> batch_fields("optimize"), batch_fields("compare")
    (('seed',), ())
    """
    return tuple(getattr(_module(name), "BATCH", ()))


def _settings(name: str, module, settings):
    """``settings`` as experiment ``name``'s Settings (a mapping of its fields is checked and converted)."""
    if isinstance(settings, Mapping):
        fields = {f.name for f in dataclasses.fields(module.Settings) if f.init}
        unknown = sorted(set(settings) - fields)
        if unknown:
            raise SettingsError("settings", f"{name} has no setting(s) {unknown}; its settings are {sorted(fields)}")
        return module.Settings(**settings)
    if not isinstance(settings, module.Settings):
        raise SettingsError("settings", f"expected {name}'s Settings or a mapping of its fields, got "
                                        f"{type(settings).__name__}")
    return settings


def _same(a, b) -> bool:
    """One field's values are the same: the same object, equal Datasets (:meth:`Dataset.equals`) or equal values."""
    if a is b:
        return True
    if isinstance(a, Dataset) or isinstance(b, Dataset):
        return isinstance(a, Dataset) and a.equals(b)
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and bool(np.array_equal(a, b))
    try:
        return bool(a == b)
    except (TypeError, ValueError):  # values without a truth value for ==
        return False


def _differing_fields(first, other, batch=()) -> list[str]:
    """The fields (other than those of ``batch``) in which two settings of one experiment differ."""
    return [f.name for f in dataclasses.fields(first)
            if f.name not in batch and not _same(getattr(first, f.name), getattr(other, f.name))]


def run(name: str, settings, out=None, *, threads: int | None = None) -> Record:
    """Run experiment ``name`` with ``settings`` (its ``Settings`` or a mapping of its fields); see the modules.

    ``threads``: torch and BLAS/OpenMP threads while it runs (>= 1; None: 1, or the enclosing setting),
    the previous counts restored afterwards.
    """
    threads = check_threads(threads)
    module = _module(name)
    settings = _settings(name, module, settings)
    with limit_threads(threads):
        return module.run(settings, out)


def run_batch(name: str, settings_list, *, threads: int | None = None) -> list[Record]:
    """Run several settings of experiment ``name`` that differ only in its :func:`batch_fields`; one Record each.

    ``settings_list``: a non-empty sequence of settings (each its ``Settings`` or a mapping of its
    fields, as :func:`run` takes them), equal in every field but those of :func:`batch_fields`
    (Datasets compared by value, :meth:`~repalign.data.Dataset.equals`). The Records come in the
    order of the settings, and nothing is written (no output folder). An experiment with a
    ``run_batch`` of its own and batch fields runs them together (see
    :func:`repalign.experiments.optimize.run_batch`: what is shared between the cells of a batch);
    any other runs each alone, ``run(settings, None)``. ``threads`` as in :func:`run`.

    Examples:
        >>> from repalign.data import mante_like
        >>> X = mante_like(n_units=10, n_time=3, seed=0)
        >>> cells = [{"data": X, "measures": ["cka"], "steps": 5, "seed": s, "pcs": 2, "decode": (),
        ...           "progress": False} for s in (0, 1)]
        >>> [record.tables["runs"].seed.tolist() for record in run_batch("optimize", cells)]
        [[0], [1]]
    """
    threads = check_threads(threads)
    module = _module(name)
    if isinstance(settings_list, (str, bytes, Mapping)) or not isinstance(settings_list, Sequence) \
            or not settings_list:
        raise SettingsError("settings", f"expected a non-empty sequence of {name}'s settings, got {settings_list!r}")
    cells = [_settings(name, module, s) for s in settings_list]
    batch = batch_fields(name)
    for k, cell in enumerate(cells[1:], 1):
        differ = _differing_fields(cells[0], cell, batch)
        if differ:
            may = f"only {list(batch)} may differ" if batch else f"{name} runs no settings together: none may differ"
            raise SettingsError("settings", f"settings {k} differs from settings 0 in {differ}; {may} within a batch")
    with limit_threads(threads):
        if batch and hasattr(module, "run_batch"):
            return list(module.run_batch(cells))
        return [module.run(cell, None) for cell in cells]

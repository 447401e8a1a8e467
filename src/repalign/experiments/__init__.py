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
from collections.abc import Mapping

from .._checks import SettingsError
from .._threads import check_threads, limit_threads
from ..results import Record

__all__ = ["NAMES", "run", "settings_class", "SettingsError"]

NAMES = ("compare", "match", "optimize", "perturb", "joint", "baselines", "variance_sweep", "topk_decoding", "train",
         "compare_models", "demo")


def _module(name: str):
    if name not in NAMES:
        raise SettingsError("experiment", f"unknown experiment {name!r}; expected one of {list(NAMES)}")
    return importlib.import_module(f".{name}", __name__)


def settings_class(name: str) -> type:
    """The ``Settings`` dataclass of experiment ``name``."""
    return _module(name).Settings


def run(name: str, settings, out=None, *, threads: int | None = None) -> Record:
    """Run experiment ``name`` with ``settings`` (its ``Settings`` or a mapping of its fields); see the modules.

    ``threads``: torch and BLAS/OpenMP threads while it runs (>= 1; None: 1, or the enclosing setting),
    the previous counts restored afterwards.
    """
    threads = check_threads(threads)
    module = _module(name)
    if isinstance(settings, Mapping):
        fields = {f.name for f in dataclasses.fields(module.Settings) if f.init}
        unknown = sorted(set(settings) - fields)
        if unknown:
            raise SettingsError("settings", f"{name} has no setting(s) {unknown}; its settings are {sorted(fields)}")
        settings = module.Settings(**settings)
    elif not isinstance(settings, module.Settings):
        raise SettingsError("settings", f"expected {name}'s Settings or a mapping of its fields, got "
                                        f"{type(settings).__name__}")
    with limit_threads(threads):
        return module.run(settings, out)

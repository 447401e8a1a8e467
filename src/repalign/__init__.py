"""repalign: standardized, differentiable, fast similarity measures between representations.

>>> import numpy as np, repalign
>>> rng = np.random.default_rng(0)
>>> X, Y = rng.normal(size=(100, 20)), rng.normal(size=(100, 30))
>>> cka = repalign.measure("cka")
>>> cka.name
'cka-kernel=linear-hsic=gretton-score'
>>> 0 <= cka(X, Y) <= 1
True

The catalogue: :func:`catalogue` lists canonical names (wildcards allowed), :func:`aliases` the
short names, :func:`measure` resolves any of them to a :class:`Measure`.

:func:`optimize` fits synthetic data to a reference by gradient steps on a measure (the seed
paper's method; batched runs, checkpoints, trackers).

The layers, from the bottom (``ARCHITECTURE.md``; every module is importable by its dotted path,
and the ones below load on first access: ``import repalign`` loads torch, numpy, the measures and the
optimizer):

- the measures: :mod:`repalign.measures` (one module per family), :mod:`repalign.registry`,
  :mod:`repalign.inputs` (the one validator), :mod:`repalign.names`, :mod:`repalign.ot`;
- :mod:`repalign.data`: :class:`Dataset`, the one file reader :func:`read`, synthetic datasets
  (``mante_like``, ``gaussian_like``, ``two_pc``, ``ultrametric``, ``sparse_factor_population``)
  and recordings (``load_m1``);
- :mod:`repalign.results`: the result convention (``.table``, ``.plot()``, ``.save()``, ``.record()``);
- the analyses: :mod:`repalign.optimization` and :mod:`repalign.trackers` (``PCCapture``,
  ``Decoding``), :mod:`repalign.analyses` (what optimized data learns: Figs. 3–5),
  :mod:`repalign.perturbation` (Fig. 6a), :mod:`repalign.joint` (Fig. 6b,c),
  :mod:`repalign.baselines` (Fig. 2), :mod:`repalign.comparison` (a zoo of models against a recording
  with intervals, nulls and the measures' agreement: Fig. 2, C5), :mod:`repalign.matching`, :mod:`repalign.rotation`,
  :mod:`repalign.encoding`;
- :mod:`repalign.experiments`: each experiment a settings object and an output folder in, a record out;
- the command line (:mod:`repalign.cli`) and the main job (:mod:`repalign.demo`).
"""

import importlib

from ._version import __version__
from .optimization import OptimizationResult, OptimizeSettings, optimize
from .registry import BoundMeasure, Measure, aliases, catalogue, measure

__all__ = ["Measure", "BoundMeasure", "measure", "catalogue", "aliases", "optimize", "OptimizeSettings",
           "OptimizationResult", "Dataset", "read", "Result", "Record", "__version__"]

_SUBMODULES = ("data", "results", "optimization", "trackers", "analyses", "perturbation", "joint", "baselines",
               "matching", "rotation", "encoding", "ot", "experiments", "inputs", "names", "registry", "tasks",
               "models", "training", "recording", "statistics", "comparison")
_DEPRECATED = {"datasets": "repalign.data", "generators": "repalign.data", "io": "repalign.data.read"}  # until 0.3
_LAZY = {"Dataset": "data", "read": "data", "Result": "results", "Record": "results"}


def __getattr__(name: str):
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    if name in _DEPRECATED:  # warn here, at the caller's line (the module's own warning would point at importlib)
        import warnings  # noqa: PLC0415

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            module = importlib.import_module(f".{name}", __name__)
        warnings.warn(f"repalign.{name} is deprecated and will be removed in 0.3; use {_DEPRECATED[name]}",
                      DeprecationWarning, stacklevel=2)
        return module
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'repalign' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted((set(globals()) | set(_SUBMODULES) | set(_LAZY)) - set(_DEPRECATED))

"""repalign: standardized, differentiable, fast similarity measures between representations.

>>> import numpy as np, repalign
>>> rng = np.random.default_rng(0)
>>> X, Y = rng.normal(size=(100, 20)), rng.normal(size=(100, 30))
>>> cka = repalign.measure("cka")
>>> cka.name
'cka-kernel=linear-hsic=gretton-score'
>>> 0 <= cka(X, Y) <= 1
True

See ``repalign.measures()`` for the catalogue and ``repalign.aliases()`` for short names.

``repalign.optimize(reference, measure, max_steps=...)`` fits synthetic data to a reference by
gradient steps on a measure (the seed paper's method; batched runs, checkpoints, trackers).

Analyses load on first access (``import repalign`` loads only torch, numpy and the measures):

- ``repalign.matching``: soft and partial soft matching plans, rankings, the L-curve;
- ``repalign.rotation``: Haar rotations, fractional rotations, the privileged-axes test;
- ``repalign.encoding``: sparse-positive encoding models and tuning reorientation;
- ``repalign.generators``: synthetic populations (sparse factors);
- ``repalign.datasets``: :class:`Dataset` (activity + task table + provenance, .npz/.nc/xarray) and
  the seed paper's generators (``mante_like``, ``gaussian_like``, ``two_pc``, ``ultrametric``);
- ``repalign.trackers``: ``PCCapture`` and ``Decoding``, evaluated during ``optimize`` (batched);
- ``repalign.perturbation``: replace one principal component, simulation vs the closed forms (Fig. 6a);
- ``repalign.joint``: joint optimization of several scores towards target values (Fig. 6b,c);
- ``repalign.baselines``: the condition-average and neuron-split baseline scores (Fig. 2c,d);
- ``repalign.ot``: the optimal transport solvers.
"""

import importlib

from .optimize import OptimizationResult, optimize  # the function: repalign.optimize(reference, measure, ...)
from .registry import BoundMeasure, Measure, aliases, measure, measures

__version__ = "0.1.0"

__all__ = ["Measure", "BoundMeasure", "measure", "measures", "aliases", "optimize", "OptimizationResult",
           "__version__"]

_SUBMODULES = ("matching", "rotation", "encoding", "generators", "ot", "datasets", "perturbation", "trackers",
               "joint", "baselines")
_LAZY = {"Dataset": "datasets"}


def __getattr__(name: str):
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'repalign' has no attribute {name!r}")

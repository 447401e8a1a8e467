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
"""

from .registry import BoundMeasure, Measure, aliases, measure, measures

__version__ = "0.1.0"

__all__ = ["Measure", "BoundMeasure", "measure", "measures", "aliases", "__version__"]

"""The measure families, one module per family; :data:`FAMILIES` maps family names to instances.

- :mod:`~repalign.measures.cka` — CKA (linear and Gaussian kernels; biased and unbiased HSIC);
- :mod:`~repalign.measures.procrustes` — NBS, Procrustes distances and scores, shape metrics;
- :mod:`~repalign.measures.cca` — CCA, SVCCA, PWCCA;
- :mod:`~repalign.measures.regression` — linear and ridge regression, in-sample or cross-validated;
- :mod:`~repalign.measures.rsa` — representational similarity analysis;
- :mod:`~repalign.measures.matching` — soft matching, assignment, permutation, semi- and partial matching;
- :class:`Family`, :class:`Parameter`, :class:`Metadata` — what a family declares (the base of every family).

Measures are used through the registry (:func:`repalign.measure`, :func:`repalign.catalogue`).
Until 0.3 this module can also be called as the catalogue listing function of repalign 0.1,
``repalign.measures(pattern)``, with a ``DeprecationWarning`` (use :func:`repalign.catalogue`).
"""

import sys
import types

from .._version import deprecated
from ._family import Family, Metadata, Parameter
from .cca import CCA, PWCCA, SVCCA
from .cka import CKA
from .matching import Assignment, PartialSoftMatching, Permutation, SemiMatching, SoftMatching
from .procrustes import NBS, Procrustes, ShapeMetric
from .regression import LinearRegression, Ridge
from .rsa import RSA

FAMILIES = {
    family.name: family
    for family in (
        CKA(), NBS(), Procrustes(), ShapeMetric(), CCA(), SVCCA(), PWCCA(), LinearRegression(), Ridge(), RSA(),
        SoftMatching(), Assignment(), Permutation(), SemiMatching(), PartialSoftMatching(),
    )
}

__all__ = ["FAMILIES", "Family", "Parameter", "Metadata"]


class _CallableModule(types.ModuleType):
    """This package, callable as the deprecated ``repalign.measures(pattern)`` of repalign 0.1."""

    def __call__(self, pattern: str | None = None) -> list[str]:
        deprecated("repalign.measures(pattern)", "repalign.catalogue(pattern) (repalign.measures is the package "
                                                 "of measure families)", stacklevel=3)
        from ..registry import catalogue  # noqa: PLC0415 -- the registry imports this package

        return catalogue(pattern)


sys.modules[__name__].__class__ = _CallableModule

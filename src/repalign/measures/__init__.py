"""The measure families, one module each; ``FAMILIES`` maps family names to instances."""

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

__all__ = ["FAMILIES"]

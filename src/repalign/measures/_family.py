"""What a measure family declares: its parameters, outputs, metadata and computation.

A family module (``cka.py``, ``procrustes.py``, ...) defines one :class:`Family` subclass per
family of the catalogue. The registry turns names into ``(family, params, output)`` and
calls ``prepare`` on each input (cacheable for a fixed reference) and ``evaluate`` on the
pair. Families never see numpy, lists or xarray: only checked :class:`~repalign.inputs.Data`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import torch

from ..inputs import Data

ROTATION_INVARIANT = frozenset({"permutation", "rotation", "isotropic_scale", "translation"})

# why most families need 3 samples: the reason the registry gives below the minimum
RANK_ONE = ("with 2 samples every centred input is a multiple of one vector (rank 1), so any two inputs "
            "look alike: scores are trivially 1 and distances compare only sizes")


@dataclass(frozen=True)
class Parameter:
    """One named parameter of a family.

    ``kind`` is ``"choice"`` (one of ``choices``), ``"float"``, ``"int"`` or ``"float_or_median"``.
    ``in_name`` is ``"always"`` (part of every canonical name) or ``"non_default"`` (shown only
    when it differs from the default). ``relevant`` restricts a parameter to some values of
    another (e.g. ``sigma`` only for ``kernel=rbf``); ``nested_in`` puts it inside that
    parameter's parentheses in the name: ``kernel=(rbf-sigma=1)``.
    """

    name: str
    kind: str
    default: Any
    doc: str
    choices: tuple = ()
    in_name: str = "always"
    low: float | None = None
    high: float | None = None
    relevant: tuple[str, tuple] | None = None
    nested_in: str | None = None
    required: bool = False  # no default: the user must give a value
    positive: bool = False  # the lower bound ``low`` is excluded (a kernel width of 0 has no meaning)

    def bounds(self) -> tuple[str | None, str | None]:
        """The lower and upper bounds as text (``>= 0``, ``> 0`` when ``positive``, ``<= 1``), None where unbounded."""
        return (None if self.low is None else f"{'>' if self.positive else '>='} {self.low:g}",
                None if self.high is None else f"<= {self.high:g}")

    def convert(self, value, family: str):
        """Validate and convert a value given as text (from a name) or as a Python object."""
        where = f"{family}: parameter {self.name!r}"
        if self.kind == "choice":
            text = str(value)
            if text not in self.choices:
                raise ValueError(f"{where} must be one of {list(self.choices)}, got {value!r}")
            return text
        if self.kind == "float_or_median" and str(value) == "median":
            return "median"
        expected = {"int": "an integer", "float": "a number", "float_or_median": "a number or 'median'"}
        try:
            number = int(value) if self.kind == "int" and not isinstance(value, float) else float(value)
        except OverflowError:
            raise ValueError(f"{where} must be a finite number, got {value!r}") from None
        except (TypeError, ValueError):
            hint = ""
            if isinstance(value, str) and (value == "" or value[-1] in "eE"):  # ridge-lambda=1e-08 split at '-'
                hint = f" (in a name, a value containing '-' goes in parentheses: {self.name}=(1e-08))"
            raise ValueError(f"{where} must be {expected[self.kind]}, got {value!r}{hint}") from None
        if not math.isfinite(number):  # NaN would pass every bounds check below
            raise ValueError(f"{where} must be a finite number, got {value!r}")
        if self.kind == "int":
            if number != int(number):
                raise ValueError(f"{where} must be {expected[self.kind]}, got {value!r}")
            number = int(number)
        else:
            number += 0.0  # -0.0 becomes 0.0: one number, one canonical name
        if self.low is not None and (number <= self.low if self.positive else number < self.low):
            raise ValueError(f"{where} must be {self.bounds()[0]}, got {value!r}")
        if self.high is not None and number > self.high:
            raise ValueError(f"{where} must be {self.bounds()[1]}, got {value!r}")
        return number


@dataclass(frozen=True)
class Metadata:
    """What a measure is: score or distance, range, symmetry, invariances, provenance."""

    kind: str  # "score" or "distance"
    range: tuple[float, float]
    symmetric: bool
    invariances: dict  # {"X": frozenset, "Y": frozenset}
    differentiable: bool
    needs_n_by_n: bool
    reference: str
    is_metric: bool = False  # satisfies the triangle inequality
    # value(cX, cY) = c**degree · value(X, Y) for every c > 0: 0 when invariant to isotropic scaling
    # of both inputs, 1 or 2 for distances with units, None when neither (an absolute parameter)
    degree: int | None = None


class Family:
    """Base class: subclasses set the class attributes and implement the three methods."""

    name: ClassVar[str]
    parameters: ClassVar[tuple[Parameter, ...]] = ()
    outputs: ClassVar[tuple[str, ...]]
    default_output: ClassVar[str]
    supports_cv: ClassVar[bool] = False
    summary: ClassVar[str] = ""
    keyword_aliases: ClassVar[dict[str, str]] = {}
    name_has_output: ClassVar[bool] = True  # RSA names carry no output suffix in the spec
    # (replacing, replaced): giving the first parameter drops the second, giving both is an error
    alternatives: ClassVar[tuple[tuple[str, str], ...]] = ()

    def metadata(self, params: dict, output: str) -> Metadata:
        """What the measure with these parameters and this output is (kind, range, invariances...).

        The registry divides each input whose invariances include ``isotropic_scale`` by a power
        of two near its largest value before the arithmetic, and X and Y of a measure with a
        ``degree`` by a common one (multiplying the value back): declare both truthfully.
        """
        raise NotImplementedError

    def min_samples(self, params: dict) -> tuple[int, str]:
        """The fewest samples the measure is defined for, and why; the registry refuses fewer.

        Three by default: with two samples, centred data have rank 1 (see :data:`RANK_ONE`).
        """
        return 3, RANK_ONE

    def check(self, dx: Data, dy: Data, params: dict) -> None:
        """Family-specific input requirements beyond :meth:`min_samples` (e.g. conditions for the folds)."""

    def prepare(self, data: Data, params: dict) -> dict:
        """Quantities of one input alone; cached when the input is a fixed reference."""
        raise NotImplementedError

    def evaluate(self, px: dict, py: dict, params: dict, output: str) -> torch.Tensor:
        """The value for the prepared pair (batched over leading dimensions), differentiable where declared."""
        raise NotImplementedError


def symmetric_invariances(names) -> dict:
    names = frozenset(names)
    return {"X": names, "Y": names}

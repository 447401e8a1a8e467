"""Replace one principal component at a time and compare with the closed forms (Fig. 6a): ``repalign perturb``."""

from __future__ import annotations

import dataclasses

from .._checks import SettingsError, check_choice, check_count, check_seed
from ..perturbation import MODES, pc_spectrum, perturb_pcs
from ..results import Record
from ._base import ExperimentSettings, Output, check_data, check_measures

__all__ = ["Settings", "run", "NAME"]

NAME = "perturb"


@dataclasses.dataclass(frozen=True)
class Settings(ExperimentSettings):
    """The dataset, the measures, how many PCs, how to perturb.

    Attributes:
        data: a file ``PATH[:NAME]`` or a Dataset.
        measures: measure names; CKA, NBS and their angular forms (see
            :data:`repalign.perturbation.CLOSED_FORM_MEASURES`) also get the closed form, the others
            are simulated only.
        pcs: perturb each of the first ``pcs`` principal components.
        mode: ``"orthogonal"`` (the closed forms hold exactly) or ``"resample"`` (the paper's variant).
        repeats: independent draws per PC.
        seed: seed of the new PC scores.
    """

    data: object
    measures: tuple = ("cka", "nbs", "angular-procrustes", "angular-cka")
    pcs: int = 10
    mode: str = "orthogonal"
    repeats: int = 1
    seed: int = 0

    def __post_init__(self):
        set_ = object.__setattr__
        set_(self, "data", check_data(self.data, "data"))
        set_(self, "measures", check_measures(self.measures))
        set_(self, "pcs", check_count(self.pcs, "pcs", 1))
        check_choice(self.mode, "mode", MODES)
        set_(self, "repeats", check_count(self.repeats, "repeats", 1))
        set_(self, "seed", check_seed(self.seed))


def run(settings: Settings, out=None) -> Record:
    """:func:`repalign.perturbation.perturb_pcs` on the first ``pcs`` PCs; writes ``perturbation`` (PNG, PDF, CSV).

    Example:
        >>> import numpy as np
        >>> from repalign.data import Dataset
        >>> X = Dataset(np.random.default_rng(0).normal(size=(100, 5)) * [4, 2, 1, 0.5, 0.25])
        >>> record = run(Settings(X, measures=("cka",), pcs=3))
        >>> len(record.table), bool((record.table.simulated - record.table.closed_form).abs().max() < 1e-10)
        (3, True)
    """
    output = Output(out)
    dataset = settings.dataset()
    rank = len(pc_spectrum(dataset))
    if settings.pcs > rank:
        raise SettingsError("pcs", f"the data have {rank} principal component(s) with non-zero variance; ask for at "
                                   f"most {rank}")
    result = perturb_pcs(dataset, measures=settings.measures, ks=range(settings.pcs), mode=settings.mode,
                         seed=settings.seed, n_repeats=settings.repeats)
    output.save(result, "perturbation")
    return Record(f"experiments.{NAME}", settings.to_dict(), {"table": result.table}, files=output.files)

"""How many principal components does decoding need? Decoding from the top k PCs of a dataset (Fig. 3c,d).

``repalign topk-decoding``: the dataset projected on its top k PCs (in its units' coordinates), for
a range of k, decoded by the cross-validated logistic regression of
:class:`~repalign.trackers.Decoding` exactly as the dataset itself is: with every PC kept the
accuracy is the dataset's own.
"""

from __future__ import annotations

import dataclasses

from .._checks import SettingsError, check_count, check_items, check_seed
from ..analyses import topk_decoding
from ..results import Record
from ._base import ExperimentSettings, Output, check_data, decodable_variables, decoding_tracker

__all__ = ["Settings", "run", "NAME"]

NAME = "topk_decoding"


@dataclasses.dataclass(frozen=True)
class Settings(ExperimentSettings):
    """The dataset, the task variables and the numbers of PCs.

    Attributes:
        data: a ``(time, condition, unit)`` dataset with a conditions table: a file ``PATH[:NAME]`` or a Dataset.
        decode: task variables (columns of the conditions table); None: every column with at least 2
            values and 5 conditions per value.
        ks: numbers of top PCs; None: 1, 2, 3, 5, 10, 20, 50, ... up to the rank, and the rank.
        seed: seed of the folds.
    """

    data: object
    decode: tuple | None = None
    ks: tuple | None = None
    seed: int = 0

    def __post_init__(self):
        set_ = object.__setattr__
        set_(self, "data", check_data(self.data, "data"))
        if self.decode is not None:
            set_(self, "decode", tuple(check_items((self.decode,) if isinstance(self.decode, str) else self.decode,
                                                   "decode", "task variables", distinct=True)))
        if self.ks is not None:
            set_(self, "ks", tuple(check_count(k, "ks", 1) for k in check_items(self.ks, "ks", "numbers of PCs",
                                                                                 distinct=True)))
        set_(self, "seed", check_seed(self.seed))


def run(settings: Settings, out=None) -> Record:
    """:func:`repalign.analyses.topk_decoding`; writes ``topk_decoding`` (PNG, PDF, CSV).

    Example:
        >>> from repalign.data import mante_like
        >>> record = run(Settings(mante_like(n_units=20, n_time=2, seed=0), decode=("context",), ks=(1, 5)))
        >>> record.table.k.tolist()
        [1, 5]
    """
    output = Output(out)
    dataset = settings.dataset()
    variables = decodable_variables(dataset) if settings.decode is None else settings.decode
    if not variables:
        raise SettingsError("decode", "no task variable to decode: the dataset needs (time, condition, unit) "
                                      "activity and a conditions table")
    result = topk_decoding(dataset, decoding_tracker(dataset, variables, settings.seed), ks=settings.ks)
    output.save(result, "topk_decoding")
    return Record(f"experiments.{NAME}", settings.to_dict(), {"table": result.table}, files=output.files)

"""What every experiment shares: its settings' base class, the checks of their fields, its output folder."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from .._checks import SettingsError, check_choice, check_count, check_real, check_seed
from .._optional import import_pyplot
from ..data import Dataset, read
from ..registry import measure
from ..results import Result, json_safe, save_figure
from ..trackers import DEFAULT_FOLDS, Decoding

__all__ = ["ExperimentSettings", "Output", "check_data", "check_measures", "per_measure", "dataset_summary",
           "decodable_variables", "decoding_tracker"]


@dataclasses.dataclass(frozen=True)
class ExperimentSettings:
    """Base class of the settings of an experiment: a frozen dataclass, checked on construction.

    Each field is one setting; an error names the field (a :class:`~repalign._checks.SettingsError`,
    whose ``argument`` the command line turns into its option). Fields that hold data are a path
    ``PATH[:NAME]`` read with :func:`repalign.data.read`, or a :class:`~repalign.data.Dataset`.
    """

    def to_dict(self) -> dict:
        """The settings as JSON values (a dataset as its shape and provenance)."""
        out = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            out[f.name] = dataset_summary(value) if isinstance(value, Dataset) else json_safe(value)
        return out

    def dataset(self, name: str = "data") -> Dataset:
        """The dataset of field ``name``: read from its path, or the Dataset itself."""
        value = getattr(self, name)
        return value if isinstance(value, Dataset) else read(value)


def dataset_summary(dataset: Dataset) -> dict:
    """A Dataset as JSON values: its layout, shape and provenance."""
    return {"layout": dataset.layout, "shape": list(dataset.shape), "provenance": dataset.provenance}


def check_data(value, name: str):
    """A data field: a path ``PATH[:NAME]`` or a Dataset."""
    if isinstance(value, (str, os.PathLike)):
        return os.fspath(value)
    if isinstance(value, Dataset):
        return value
    raise SettingsError(name, f"expected a file path PATH[:NAME] or a repalign Dataset, got {type(value).__name__}")


def check_measures(value, name: str = "measures", *, at_least: int = 1) -> tuple[str, ...]:
    """Measure names (aliases or canonical), each resolved once so that unknown names fail before any work."""
    names = (value,) if isinstance(value, str) else value
    if not isinstance(names, Sequence) or len(names) < at_least or not all(isinstance(n, str) for n in names):
        raise SettingsError(name, f"expected at least {at_least} measure name(s), got {value!r}")
    names = tuple(names)
    canonical = []
    for n in names:
        try:
            canonical.append(measure(n).name)
        except ValueError as error:
            raise SettingsError(name, str(error)) from None
    twice = sorted({n for n, c in zip(names, canonical) if canonical.count(c) > 1})
    if twice:
        raise SettingsError(name, f"each measure may appear once; {twice} name the same measure")
    return names


def check_statistics(settings, *, min_permutations: int) -> None:
    """The resampling settings shared by the experiments that report intervals and nulls (checked in place):
    ``n_resamples``, ``n_permutations``, ``confidence_level``, ``method``, ``sampling``, ``seed``."""
    from ..statistics import METHODS, SAMPLINGS

    set_ = object.__setattr__
    set_(settings, "n_resamples", check_count(settings.n_resamples, "n_resamples", 2))
    set_(settings, "n_permutations", check_count(settings.n_permutations, "n_permutations", min_permutations))
    set_(settings, "confidence_level", check_real(settings.confidence_level, "confidence_level", low=0, high=1,
                                                  inclusive=(False, False)))
    check_choice(settings.method, "method", METHODS)
    if settings.sampling is not None:
        check_choice(settings.sampling, "sampling", SAMPLINGS)
    set_(settings, "seed", check_seed(settings.seed))


def per_measure(value, name: str, measures: Sequence[str], check) -> dict[str, object]:
    """A setting given once for every measure or as a mapping measure → value; checked by ``check``."""
    if isinstance(value, Mapping):
        missing = [m for m in measures if m not in value]
        extra = [k for k in value if k not in measures]
        if missing or extra:
            raise SettingsError(name, f"a mapping must give one value per measure {list(measures)}; missing "
                                      f"{missing}, unknown {extra}")
        return {m: check(value[m], name) for m in measures}
    checked = check(value, name)
    return dict.fromkeys(measures, checked)


class Output:
    """An experiment's output folder (or none): files written there are listed in ``files``.

    The folder is made when the first file is written (a run that fails early leaves nothing behind);
    a path that is a file, or a folder that cannot be made, is a :class:`~repalign._checks.SettingsError`
    naming ``out``.
    """

    def __init__(self, folder: str | os.PathLike | None):
        self.folder = None if folder is None else Path(folder)
        self.files: list[str] = []
        if self.folder is not None and self.folder.exists() and not self.folder.is_dir():
            raise SettingsError("out", f"{self.folder} is a file, not a folder")

    def _path(self, name: str) -> Path:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise SettingsError("out", f"cannot make the folder {self.folder} ({error.strerror or error})") from None
        return self.folder / name

    def save(self, result: Result, name: str, **options) -> None:
        """``result.save(folder / name)``: its figure (PNG, PDF) and its table (CSV)."""
        if self.folder is not None:
            self.files += result.save(self._path(name), **options)

    def figure(self, ax, table, name: str) -> None:
        """An already drawn figure and the table behind it."""
        if self.folder is not None:
            self.files += save_figure(ax, table, self._path(name))
        else:
            import_pyplot().close(ax.figure)

    def table(self, table, name: str) -> None:
        """``folder / name.csv``."""
        if self.folder is not None:
            path = self._path(f"{name}.csv")
            table.to_csv(path, index=False)
            self.files.append(str(path))

    def array(self, values: np.ndarray, name: str) -> None:
        """``folder / name.npy``."""
        if self.folder is not None:
            path = self._path(f"{name}.npy")
            np.save(path, values)
            self.files.append(str(path))

    def file(self, name: str) -> str | None:
        """The path ``folder / name`` for a writer of its own (listed in ``files``); None without a folder."""
        if self.folder is None:
            return None
        path = str(self._path(name))
        self.files.append(path)
        return path

    def text(self, text: str, name: str) -> None:
        """A text file ``folder / name``."""
        if self.folder is not None:
            path = self._path(name)
            path.write_text(text)
            self.files.append(str(path))


def decodable_variables(dataset) -> tuple[str, ...]:
    """Columns of the conditions table with at least 2 values, each on as many conditions as decoding has folds."""
    table = dataset.conditions
    if dataset.n_conditions is None or table is None:
        return ()
    return tuple(c for c in table.columns
                 if table[c].nunique() >= 2 and table[c].value_counts().min() >= DEFAULT_FOLDS)


def decoding_tracker(dataset, variables, seed: int, record_every: int = 1):
    """The :class:`~repalign.trackers.Decoding` tracker of ``variables``; its argument errors name ``decode``."""
    if dataset.n_conditions is None or dataset.conditions is None:
        raise SettingsError("decode", "decoding needs a (time, condition, unit) dataset with a conditions table")
    try:
        return Decoding(dataset, variables=variables, seed=seed, record_every=record_every)
    except SettingsError as error:  # variables not in the table, a single value, too few conditions per fold...
        raise SettingsError("decode", error.problem) from None

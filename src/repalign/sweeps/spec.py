"""The sweep spec: an experiment, its fixed settings, the axes it varies, named datasets, exclusions.

A spec is a TOML file or the same structure as a Python dict::

    experiment = "optimize"            # an experiment of repalign.experiments
    name = "capture-grid"              # optional; default: the file's stem
    store = "capture-grid.sweep"       # optional; default: "<name>.sweep" beside the spec

    [settings]                         # every cell's fixed settings (fields of the experiment's Settings)
    steps = 200
    pcs = 4

    [axes]                             # the cells are the product of the axes, in this order
    data = ["mante", "m1"]             # names of [datasets], or files PATH[:NAME]
    measures = ["cka", "procrustes-*"] # one measure per cell; wildcards expand over the catalogue
    seed = [0, 1, 2]

    [datasets.mante]                   # a generator of repalign.data with its arguments
    generator = "mante_like"
    n_units = 40
    [datasets.m1]                      # a loader (path relative to the spec)
    loader = "m1"
    path = "hatsopoulos2007_m1.npz"

    [[exclude]]                        # cells matching every key of one entry are left out
    data = "m1"
    measures = ["cka", "procrustes-*"] # a list: any of these; wildcards as in the axes

Each axis names a field of the experiment's ``Settings`` (``data``, ``measures``, ``seed``, ``lr``…);
its values are that field's values, except that a ``measures`` value is one measure name per
cell (a list for several measures in one cell) and a data field's value names a dataset. Each
cell's **key** is the first 16 hex digits of the SHA-256 of its experiment, its settings (datasets
by their definition: generator and arguments, or loader, arguments and the file's SHA-256) and
the version of repalign: the same cell has the same key on every machine and in every run, and a
changed setting, file or version gives a new one. Cells that differ only in the experiment's batch
fields (:func:`repalign.experiments.batch_fields`, the seed for ``optimize``) share a **group**
and run together in one batched call (``batch = false`` runs every cell alone).

Everything is checked before any work: each cell's settings against the experiment's
``Settings``, a generator's or loader's arguments against its signature (a file's ``name``,
``conditions``, ``units`` and ``dt`` go to :func:`repalign.data.read`), values that a key cannot hold
(NaN, infinities), and two cells that would have one key (two datasets defined alike).
``progress`` is set by the sweep and ``checkpoint`` is refused: the store resumes a sweep, cell by cell.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import hashlib
import itertools
import json
import os
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path

from .._checks import SettingsError
from .._version import __version__
from .._warnings import warn

__all__ = ["Spec", "Cell", "DatasetSource", "load_spec", "GENERATORS", "LOADERS", "DATA_FIELDS"]

# the experiments' fields that hold data (a path PATH[:NAME] or a Dataset)
DATA_FIELDS = ("data", "x", "y", "reference")
# generators of repalign.data a spec may name (each takes keyword arguments and a seed)
GENERATORS = ("mante_like", "two_pc", "ultrametric")
# loaders a spec may name: name → function of repalign.data (its first argument is ``path``)
LOADERS = {"file": "read", "m1": "load_m1", "nwb": "load_nwb", "mante2013": "load_mante2013",
           "brainio": "load_brainio"}
_TOP = ("experiment", "name", "store", "settings", "axes", "datasets", "exclude", "batch")
_NOT_SWEPT = ("demo",)  # composes the others and writes its own folder
_SETTINGS_SET_BY_SWEEP = ("progress",)  # workers never draw bars; the sweep shows one
# settings a sweep refuses, and why
_NOT_IN_SWEEPS = {"checkpoint": "the store resumes a sweep cell by cell; one checkpoint file would be shared by "
                                "every cell (and the batched cells of a group cannot have one)"}
_WILDCARDS = "*?["
KEY_DIGITS = 16


def _canonical_json(value) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)


def digest(value) -> str:
    """The first :data:`KEY_DIGITS` hex digits of the SHA-256 of ``value``'s canonical JSON."""
    try:
        text = _canonical_json(value)
    except ValueError:  # NaN or infinity: JSON has none, and a key must not depend on how one spells them
        raise SettingsError("settings", f"a cell's settings hold a non-finite number: {value['settings']}") from None
    return hashlib.sha256(text.encode()).hexdigest()[:KEY_DIGITS]


def _file_sha256(path: Path) -> str:
    hasher = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            hasher.update(block)
    return hasher.hexdigest()


@dataclasses.dataclass(frozen=True)
class DatasetSource:
    """Where a dataset comes from: a generator of :mod:`repalign.data`, a loader, or a file.

    Attributes:
        name: the name cells use (the ``[datasets]`` entry, or the path as written).
        kind: ``"generator"`` or ``"loader"`` (a file read with :func:`repalign.data.read` is the
            loader ``"file"``).
        target: the generator's or loader's name.
        options: its keyword arguments; a loader's ``path`` is absolute.
        identity: what the cell key holds: the kind, target and options, files by content (SHA-256).
    """

    name: str
    kind: str
    target: str
    options: dict
    identity: dict

    @classmethod
    def from_entry(cls, name: str, entry, base: Path) -> DatasetSource:
        """A ``[datasets.NAME]`` entry: ``generator = ...`` or ``loader = ...`` with arguments, or ``path = ...``."""
        where = f"datasets.{name}"
        if not isinstance(entry, Mapping):
            raise SettingsError(where, f"expected a table with 'generator', 'loader' or 'path', got {entry!r}")
        options = dict(entry)
        _check_json(where, options)
        kinds = [k for k in ("generator", "loader") if k in options]
        if len(kinds) > 1:
            raise SettingsError(where, "give either 'generator' or 'loader', not both")
        if not kinds:
            if "path" not in options:
                raise SettingsError(where, "expected 'generator = NAME', 'loader = NAME' or 'path = FILE'")
            kinds, options["loader"] = ["loader"], "file"
        kind = kinds[0]
        target = options.pop(kind)
        if kind == "generator":
            if target not in GENERATORS:
                raise SettingsError(where, f"unknown generator {target!r}; expected one of {list(GENERATORS)}")
            _check_arguments(where, target, options)
            return cls(name, kind, target, options, {"generator": target, "options": options})
        if target not in LOADERS:
            raise SettingsError(where, f"unknown loader {target!r}; expected one of {sorted(LOADERS)}")
        identity = {"loader": target, "options": dict(options)}
        if "path" in options:
            path, _, inner = str(options["path"]).partition(":") if target == "file" else (options["path"], "", "")
            full = (base / os.path.expanduser(str(path))).resolve()
            if not full.exists():
                raise SettingsError(where, f"no file or folder {full}")
            options["path"] = f"{full}:{inner}" if inner else str(full)
            identity["options"]["path"] = f"{Path(path).name}:{inner}" if inner else Path(path).name
            identity["sha256"] = _file_sha256(full) if full.is_file() else _folder_sha256(full)
        elif target == "m1":  # the default file, found now: the workers read it by path, the key holds its content
            from ..data import recordings

            found = next((c for c in recordings._m1_candidates() if c.is_file()), None)
            if found is None:
                searched = ", ".join(str(c) for c in recordings._m1_candidates())
                raise SettingsError(where, f"the M1 recording {recordings.M1_FILE} was not found (searched "
                                           f"{searched}); give its 'path'")
            options["path"] = str(found.resolve())
            identity["options"]["path"] = found.name
            identity["sha256"] = _file_sha256(found)
        else:
            raise SettingsError(where, f"the loader {target!r} needs 'path'")
        _check_arguments(where, LOADERS[target], {"source" if target == "file" and k == "path" else k: v
                                                   for k, v in options.items()})
        return cls(name, kind, target, options, identity)

    def load(self):
        """The Dataset (read or generated now)."""
        from .. import data

        function = getattr(data, self.target if self.kind == "generator" else LOADERS[self.target])
        if self.target == "file":  # read(source, *, name, conditions, units, dt)
            return function(self.options["path"], **{k: v for k, v in self.options.items() if k != "path"})
        return function(**self.options)


def _check_arguments(where: str, function: str, options: dict) -> None:
    """The arguments of a generator or loader of :mod:`repalign.data`, by its signature (their values are
    checked when it runs)."""
    import inspect

    from .. import data

    try:
        inspect.signature(getattr(data, function)).bind(**options)
    except TypeError as error:
        raise SettingsError(where, f"bad arguments for {function}(): {error}") from None


def _folder_sha256(folder: Path) -> str:
    hasher = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        hasher.update(str(path.relative_to(folder)).encode() + b"\0" + _file_sha256(path).encode())
    return hasher.hexdigest()


@dataclasses.dataclass(frozen=True)
class Cell:
    """One cell of a sweep: its axis values, the experiment's settings, its key and its group.

    Attributes:
        key: the stable key (see :mod:`repalign.sweeps.spec`).
        group: the key shared by the cells that run together in one batched call.
        values: the cell's value on each axis, as the spec gives it (JSON values).
        settings: the experiment's settings (JSON values; a data field holds a dataset's name).
    """

    key: str
    group: str
    values: dict
    settings: dict


@dataclasses.dataclass(frozen=True)
class Spec:
    """A checked sweep spec (see :mod:`repalign.sweeps.spec` for the format); :meth:`cells` lists its cells.

    Examples:
        >>> spec = load_spec({"experiment": "compare",
        ...                   "settings": {"y": "ref"},
        ...                   "axes": {"x": ["ref"], "measures": ["cka", "procrustes-angular_score"],
        ...                            "seed": [0, 1]},
        ...                   "datasets": {"ref": {"generator": "two_pc", "seed": 0}},
        ...                   "exclude": [{"measures": "cka", "seed": 1}]})
        >>> [(c.values["measures"], c.values["seed"]) for c in spec.cells()]
        [('cka', 0), ('procrustes-angular_score', 0), ('procrustes-angular_score', 1)]
        >>> len(spec.cells()[0].key)
        16
    """

    experiment: str
    name: str
    axes: dict
    settings: dict
    datasets: dict
    exclude: tuple
    batch: bool
    store: Path
    base: Path
    source: dict

    def cells(self) -> list[Cell]:
        """Every cell: the product of the axes (in their order), less the exclusions."""
        from ..experiments import batch_fields

        batched = batch_fields(self.experiment) if self.batch else ()
        cells = []
        names = list(self.axes)
        for combination in itertools.product(*(self.axes[n] for n in names)):
            values = dict(zip(names, combination))
            if any(_matches(rule, values) for rule in self.exclude):
                continue
            settings = {**self.settings, **{n: _setting(n, v) for n, v in values.items()}}
            identity = {"experiment": self.experiment, "repalign": __version__,
                        "settings": {f: self._identity(f, v) for f, v in settings.items()}}
            group = {**identity, "settings": {f: v for f, v in identity["settings"].items() if f not in batched}}
            key = digest(identity)
            cells.append(Cell(key, digest(group) if batched else key, values, settings))
        return cells

    def _identity(self, field: str, value):
        if field in DATA_FIELDS and isinstance(value, str):
            return self.datasets[value].identity
        return value

    def dataset_names(self) -> list[str]:
        """The datasets that some cell uses."""
        return sorted({v for c in self.cells() for f, v in c.settings.items() if f in DATA_FIELDS and isinstance(v, str)})


def _setting(axis: str, value):
    """An axis value as the experiment's setting: a ``measures`` value is one measure per cell."""
    return [value] if axis == "measures" and isinstance(value, str) else value


def _matches(rule: dict, values: dict) -> bool:
    """Whether a cell's ``values`` match every key of an exclusion (a value, a list of values, or a wildcard)."""
    return all(any(_equal(values[k], one) for one in (v if isinstance(v, list) else [v])) for k, v in rule.items())


def _equal(value, wanted) -> bool:
    if isinstance(wanted, str) and isinstance(value, str) and any(c in wanted for c in _WILDCARDS):
        return fnmatch.fnmatchcase(value, wanted)
    return value == wanted


def load_spec(spec, *, base: str | os.PathLike | None = None) -> Spec:
    """A checked :class:`Spec` from a TOML file, a dict of the same structure, or a Spec.

    ``base``: the folder that relative paths (datasets, store) are relative to; default: the spec
    file's folder, or the working folder for a dict. Every cell's settings are checked against
    the experiment's ``Settings`` here, before any work: an error names the setting and the cell.
    """
    if isinstance(spec, Spec):
        return spec
    if isinstance(spec, (str, os.PathLike)):
        path = Path(spec)
        if not path.is_file():
            raise SettingsError("spec", f"no spec file {path}")
        try:
            source = tomllib.loads(path.read_text())
        except tomllib.TOMLDecodeError as error:
            raise SettingsError("spec", f"{path} is not valid TOML: {error}") from None
        default_name, base = path.stem, Path(base) if base is not None else path.resolve().parent
    elif isinstance(spec, Mapping):
        source, default_name = dict(spec), "sweep"
        base = Path(base) if base is not None else Path.cwd()
    else:
        raise SettingsError("spec", f"expected a TOML file or a dict, got {type(spec).__name__}")
    return _check(source, default_name, Path(base).resolve())


def _check(source: dict, default_name: str, base: Path) -> Spec:
    from .. import experiments

    unknown = sorted(set(source) - set(_TOP))
    if unknown:
        raise SettingsError("spec", f"unknown key(s) {unknown}; a spec has {list(_TOP)}")
    experiment = source.get("experiment")
    if experiment not in experiments.NAMES or experiment in _NOT_SWEPT:
        choices = [n for n in experiments.NAMES if n not in _NOT_SWEPT]
        raise SettingsError("experiment", f"expected one of {choices}, got {experiment!r}")
    name = source.get("name", default_name)
    if not isinstance(name, str) or not name:
        raise SettingsError("name", f"expected a non-empty string, got {name!r}")
    batch = source.get("batch", True)
    if not isinstance(batch, bool):
        raise SettingsError("batch", f"expected true or false, got {batch!r}")
    store = source.get("store", f"{name}.sweep")
    if not isinstance(store, (str, os.PathLike)):
        raise SettingsError("store", f"expected a folder path, got {store!r}")
    settings = _table(source.get("settings", {}), "settings")
    axes = _table(source.get("axes", {}), "axes")
    if not axes:
        raise SettingsError("axes", "a sweep needs at least one axis (a setting with a list of values)")
    fields = {f.name for f in dataclasses.fields(experiments.settings_class(experiment)) if f.init}
    for where, names in (("settings", settings), ("axes", axes)):
        wrong = sorted(set(names) - fields)
        if wrong:
            raise SettingsError(where, f"{experiment} has no setting(s) {wrong}; its settings are {sorted(fields)}")
        swept = sorted(set(names) & set(_SETTINGS_SET_BY_SWEEP))
        if swept:
            raise SettingsError(where, f"{swept} is set by the sweep (workers show no progress bar)")
        for refused, why in _NOT_IN_SWEEPS.items():
            if refused in names:
                raise SettingsError(f"{where}.{refused}", f"not in a sweep: {why}")
    both = sorted(set(settings) & set(axes))
    if both:
        raise SettingsError("axes", f"{both} is both a fixed setting and an axis")
    for field, value in settings.items():
        _check_json(f"settings.{field}", value)
    expanded = {}
    for axis, values in axes.items():
        if not isinstance(values, list) or not values:
            raise SettingsError(f"axes.{axis}", f"expected a non-empty list of values, got {values!r}")
        for value in values:
            _check_json(f"axes.{axis}", value)
        expanded[axis] = _expand_measures(values) if axis == "measures" else values
        if len({_canonical_json(v) for v in expanded[axis]}) < len(expanded[axis]):
            raise SettingsError(f"axes.{axis}", f"each value may appear once, got {expanded[axis]}")
    datasets = {n: DatasetSource.from_entry(n, e, base) for n, e in _table(source.get("datasets", {}),
                                                                            "datasets").items()}
    defined = sorted(datasets)
    for where, values in [(f"axes.{a}", v) for a, v in expanded.items() if a in DATA_FIELDS] + \
                         [(f"settings.{f}", [v]) for f, v in settings.items() if f in DATA_FIELDS]:
        for value in values:
            if not isinstance(value, str):
                raise SettingsError(where, f"expected dataset names or file paths, got {value!r}")
            if value not in datasets:
                try:
                    datasets[value] = DatasetSource.from_entry(value, {"path": value}, base)
                except SettingsError as error:
                    raise SettingsError(error.argument, f"{value!r} (in {where}) is neither a dataset of [datasets] "
                                                        f"{defined} nor a file: {error.problem}") from None
    exclude = source.get("exclude", [])
    if not isinstance(exclude, list) or not all(isinstance(rule, Mapping) for rule in exclude):
        raise SettingsError("exclude", f"expected a list of tables axis = value(s), got {exclude!r}")
    for rule in exclude:
        wrong = sorted(set(rule) - set(expanded))
        if wrong or not rule:
            raise SettingsError("exclude", f"{dict(rule)} names no axis or unknown axes {wrong}; the axes are "
                                           f"{list(expanded)}")
    spec = Spec(experiment, name, expanded, settings, datasets, tuple(dict(r) for r in exclude), batch,
                (base / os.path.expanduser(str(store))).resolve(), base, source)
    cells = spec.cells()
    if not cells:
        raise SettingsError("exclude", "the exclusions leave no cell")
    _check_distinct(cells)
    for rule in spec.exclude:
        if not any(_matches(rule, c) for c in _all_values(expanded)):
            warn(f"exclude: {rule} matches no cell")
    _check_cells(spec, cells)
    return spec


def _check_distinct(cells: Sequence[Cell]) -> None:
    """Two cells with one key would be one cell stored once: two datasets defined alike (or two files
    with the same content) are the same dataset."""
    seen = {}
    for cell in cells:
        other = seen.setdefault(cell.key, cell)
        if other is not cell:
            axis = next(a for a in cell.values if cell.values[a] != other.values[a])
            what = "the same dataset (the same definition, or a file of the same name and content)" if axis in DATA_FIELDS else "the same"
            raise SettingsError(f"axes.{axis}", f"{other.values[axis]!r} and {cell.values[axis]!r} are {what}: the "
                                                f"cells {other.values} and {cell.values} would be one cell")


def _all_values(axes: dict):
    names = list(axes)
    return (dict(zip(names, c)) for c in itertools.product(*(axes[n] for n in names)))


def _check_json(where: str, value) -> None:
    """A setting's value is part of its cells' keys: plain JSON values (strings, finite numbers, booleans, lists, tables)."""
    try:
        _canonical_json(value)
    except (TypeError, ValueError):
        raise SettingsError(where, f"expected strings, finite numbers, booleans, lists or tables (a cell's key is "
                                   f"the JSON of its settings), got {value!r}") from None


def _table(value, where: str) -> dict:
    if not isinstance(value, Mapping):
        raise SettingsError(where, f"expected a table (key = value), got {value!r}")
    return dict(value)


def _expand_measures(values: list) -> list:
    """Measure names, wildcards (``procrustes-*``) expanded over the catalogue in its order."""
    from ..registry import catalogue

    expanded = []
    for value in values:
        if isinstance(value, str) and any(c in value for c in _WILDCARDS):
            matched = catalogue(value)
            if not matched:
                raise SettingsError("axes.measures", f"the pattern {value!r} matches no measure of the catalogue "
                                                     "(`repalign measures` lists them)")
            expanded += [m for m in matched if m not in expanded]
        elif isinstance(value, str) or (isinstance(value, list) and all(isinstance(v, str) for v in value)):
            expanded.append(value)
        else:
            raise SettingsError("axes.measures", f"expected measure names, got {value!r}")
    return expanded


def _check_cells(spec: Spec, cells: Sequence[Cell]) -> None:
    """Construct each distinct cell's Settings (data fields stood in for by a small Dataset): errors before work."""
    import numpy as np

    from .. import experiments
    from ..data import Dataset

    stand_in = Dataset(np.arange(12.0).reshape(2, 3, 2) ** 2)
    settings_class = experiments.settings_class(spec.experiment)
    seen = set()
    for cell in cells:
        checked = {f: stand_in if f in DATA_FIELDS and isinstance(v, str) else v for f, v in cell.settings.items()}
        signature = _canonical_json({f: v for f, v in cell.settings.items() if f not in DATA_FIELDS})
        if signature in seen:
            continue
        seen.add(signature)
        try:
            settings_class(**checked)
        except SettingsError as error:
            axis = error.argument if error.argument in spec.axes else None
            where = f"axes.{axis}" if axis else f"settings.{error.argument}"
            raise SettingsError(where, f"{error.problem} (in the cell {cell.values})") from None
        except (TypeError, ValueError) as error:
            raise SettingsError("settings", f"{error} (in the cell {cell.values})") from None

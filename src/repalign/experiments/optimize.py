"""Optimize noise towards a dataset and track what it learns: ``repalign optimize`` and the demo's headline.

The seed paper's method on any dataset: Gaussian noise follows the gradient of each measure
towards the reference (:func:`repalign.optimize`, one batched loop per group of measures that share
their stopping score, learning rate and step count), while trackers record the R² of the
reference's top principal components (:class:`~repalign.trackers.PCCapture`) and the
cross-validated decoding of its task variables (:class:`~repalign.trackers.Decoding`). Then the
thresholds: the score at which each PC is captured (Fig. 5, optionally beside the matched
Gaussian) and at which each variable becomes decodable (Fig. 3a,b, with the condition-average
baseline of each measure).

:func:`run_batch` runs settings that differ only in ``seed`` (:data:`BATCH`) through the same loops
(a sweep's cells over seeds): one Record each, as :func:`run` alone gives it (each cell's decoding
with the folds of its own seed).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from .._checks import SettingsError, check_bool, check_choice, check_count, check_path, check_real, check_seed
from .._optional import import_pandas, import_pyplot
from .._warnings import warn
from ..analyses import capture_thresholds, decoding_thresholds
from ..baselines import condition_average
from ..data import gaussian_like
from ..optimization import OptimizeSettings, optimize
from ..optimization.settings import DEFAULT_DTYPE
from ..registry import measure, short_name
from ..results import Record, colours, legend
from ..trackers import PCCapture
from ._base import (
    ExperimentSettings,
    Output,
    check_data,
    check_measures,
    decodable_variables,
    decoding_tracker,
    per_measure,
)

__all__ = ["Settings", "run", "run_batch", "NAME", "BATCH"]

NAME = "optimize"
# the settings along which cells run together (run_batch)
BATCH = ("seed",)
# the defaults of repalign.optimize (the seed paper's), read here and by `repalign optimize`
DEFAULTS = OptimizeSettings()


def _stop(value, name):
    return None if value is None else check_real(value, name)


def _lr(value, name):
    return check_real(value, name, low=0.0, inclusive=(False, True))


def _steps(value, name):
    return check_count(value, name, 1)


@dataclasses.dataclass(frozen=True)
class Settings(ExperimentSettings):
    """What to optimize towards, with which measures, how, and what to track.

    The optimizer's settings default to those of :func:`repalign.optimize` (the seed paper's: lr
    0.1, at most 1000 steps, float32, no stopping value), read from
    :class:`~repalign.optimization.OptimizeSettings`.

    Attributes:
        data: the reference, a file ``PATH[:NAME]`` or a Dataset.
        measures: measure names or aliases (differentiable).
        steps: maximum number of Adam steps, one number or one per measure (a mapping).
        lr: learning rate, one number or one per measure.
        stop_at: stop a run once its value reaches this, in the measure's own direction and unit (a score
            at or above it, a distance at or below it); None: never. One number or one per measure.
        runs: runs (seeds) per measure.
        seed: seed of the first run's noise, of the folds and of the matched Gaussian.
        record_every: record values and trackers every this many steps.
        decode_every: decode only at the recorded steps that are multiples of this (decoding costs
            several times the PC tracker: the PCs at every record, decoding more sparsely).
        pcs: track the R² of this many reference PCs (0: none).
        decode: task variables to decode (columns of the conditions table); None: every column with
            at least 2 values and 5 conditions per value; ``()``: none.
        matched_gaussian: also optimize towards the matched Gaussian and add its PC thresholds: True
            (every measure), False, or the measures to run.
        dtype: ``"float32"`` or ``"float64"``.
        checkpoint: checkpoint file (resumed from when present); only for one group of measures.
        save_final: write each run's final Y as ``final_Y.npy``.
        progress: progress bar (None: in a terminal only).
    """

    data: object
    measures: tuple = ("angular-procrustes", "cka")
    steps: object = DEFAULTS.max_steps
    lr: object = DEFAULTS.lr
    stop_at: object = DEFAULTS.stop_at
    runs: int = DEFAULTS.n_runs
    seed: int = DEFAULTS.seed
    record_every: int = DEFAULTS.record_every
    decode_every: int = 10
    pcs: int = 10
    decode: tuple | None = None
    matched_gaussian: object = False
    dtype: str = DEFAULT_DTYPE
    checkpoint: str | None = None
    save_final: bool = True
    progress: bool | None = None

    def __post_init__(self):
        set_ = object.__setattr__
        set_(self, "data", check_data(self.data, "data"))
        set_(self, "measures", check_measures(self.measures))
        for name in self.measures:
            if not measure(name).differentiable:
                raise SettingsError("measures", f"{name!r} is not differentiable and cannot be optimized by gradient")
        for field, check in (("steps", _steps), ("lr", _lr), ("stop_at", _stop)):
            set_(self, field, per_measure(getattr(self, field), field, self.measures, check))
        set_(self, "runs", check_count(self.runs, "runs", 1))
        set_(self, "seed", check_seed(self.seed))
        set_(self, "record_every", check_count(self.record_every, "record_every", 1))
        set_(self, "decode_every", check_count(self.decode_every, "decode_every", 1))
        set_(self, "pcs", check_count(self.pcs, "pcs", 0))
        if self.decode is not None:
            decode = (self.decode,) if isinstance(self.decode, str) else tuple(self.decode)
            if not all(isinstance(v, str) for v in decode):
                raise SettingsError("decode", f"expected names of task variables, got {self.decode!r}")
            set_(self, "decode", decode)
        if isinstance(self.matched_gaussian, (bool, str)) or self.matched_gaussian is None:
            chosen = self.measures if check_bool(self.matched_gaussian, "matched_gaussian") else ()
        else:
            chosen = tuple(self.matched_gaussian)
            unknown = [m for m in chosen if m not in self.measures]
            if unknown:
                raise SettingsError("matched_gaussian", f"{unknown} are not among the measures {list(self.measures)}")
        set_(self, "matched_gaussian", chosen)
        if self.matched_gaussian and not self.pcs:
            raise SettingsError("matched_gaussian", "the matched Gaussian's PC thresholds need pcs > 0")
        check_choice(self.dtype, "dtype", ("float32", "float64"))
        check_bool(self.save_final, "save_final")
        set_(self, "checkpoint", check_path(self.checkpoint, "checkpoint", allow_none=True))
        check_bool(self.progress, "progress", allow_none=True)
        if self.checkpoint is not None and len(self.groups()) > 1:
            raise SettingsError("checkpoint", "a checkpoint holds one loop; these measures run in "
                                              f"{len(self.groups())} (different steps, lr or stop_at)")

    def groups(self, measures=None) -> dict[tuple, list[str]]:
        """Measures grouped by (steps, lr, stop_at): one batched loop each."""
        groups: dict[tuple, list[str]] = {}
        for name in self.measures if measures is None else measures:
            groups.setdefault((self.steps[name], self.lr[name], self.stop_at[name]), []).append(name)
        return groups


def _optimize_groups(settings: Settings, reference, measures, trackers, checkpoint=None, cells=None) -> list:
    """One :func:`repalign.optimize` per group of ``measures`` for the runs of every cell; per cell, what it alone gives.

    ``cells``: settings that differ from ``settings`` only in their seed (None: ``[settings]``). Their
    runs go through the same loops, with the explicit run seeds ``cell.seed + r`` for each cell in turn
    and ``r < runs``; a cell's runs are then renumbered as if it had run alone (groups in turn, within
    a group measure by measure and seed by seed). Returns, per cell, ``(trajectory, runs, final_Y)``:
    its recorded table, its table of runs and its runs' final data.
    """
    pd = import_pandas()

    cells = [settings] if cells is None else list(cells)
    n_cells, n_runs = len(cells), settings.runs
    seeds = [cell.seed + r for cell in cells for r in range(n_runs)]
    frames, rows, finals = ([[] for _ in cells] for _ in range(3))
    offset = 0
    for (steps, lr, stop_at), names in settings.groups(measures).items():
        result = optimize(reference, names, max_steps=steps, lr=lr, stop_at=stop_at, seed=seeds,
                          n_runs=len(seeds), record_every=settings.record_every, trackers=trackers,
                          dtype=settings.dtype, checkpoint=checkpoint, progress=settings.progress)
        frame = result.table
        run = frame["run"].to_numpy()
        which, within = run // len(seeds), run % len(seeds)  # measure, and the run among all cells' seeds
        shape = result.Y.shape[1:]
        final = result.Y.reshape(len(names), n_cells, n_runs, *shape)
        for i in range(n_cells):
            mine = within // n_runs == i
            part = frame.loc[mine].reset_index(drop=True)
            part["run"] = offset + which[mine] * n_runs + within[mine] % n_runs
            ks = [m * len(seeds) + i * n_runs + r for m in range(len(names)) for r in range(n_runs)]
            reached = [result.reached_step[k] for k in ks]
            if stop_at is not None and n_cells > 1:
                _as_alone(part, reached, steps, settings.record_every, trackers)
            frames[i].append(part)
            for k, stopped in zip(ks, reached):
                name = result.settings["measures"][k // len(seeds)]
                rows[i].append({"run": len(rows[i]), "measure": name, "kind": measure(name).kind,
                                "seed": result.settings["seeds"][k % len(seeds)], "reached_step": stopped,
                                "steps": result.steps if stopped is None else stopped,
                                "final_value": float(result.final_value[k])})
            finals[i].append(final[:, i].reshape(len(names) * n_runs, *shape))
        offset += len(names) * n_runs
    out = []
    for frame, runs, final in zip(frames, rows, finals):
        runs = pd.DataFrame(runs)
        runs["reached_step"] = runs["reached_step"].astype("Int64")
        out.append((pd.concat(frame, ignore_index=True), runs, np.concatenate(final)))
    return out


def _as_alone(part, reached, max_steps: int, record_every: int, trackers) -> None:
    """Blank (NaN) the tracker columns that a cell running alone would not have computed (in place).

    A loop computes every tracker at a step where some run stops; batched with other cells, a cell's
    runs are also recorded at the steps where another cell's run stops. At those steps a tracker
    recording every ``k > 1`` steps is blanked where it was not due, as the cell alone would have it.
    """
    due = [(list(t.columns), t.record_every) for t in trackers if getattr(t, "record_every", 1) > 1]
    if not due:
        return
    step = part["step"]
    regular = ((step % record_every == 0) & (step != 0) & (step != max_steps)
               & ~step.isin([s for s in reached if s is not None]))
    for columns, every in due:
        part.loc[regular & (step % every != 0), columns] = np.nan


def _baseline(name: str, dataset, average) -> float:
    """The condition-average baseline of one measure; NaN with a warning where the measure is undefined on it.

    The condition average has rank at most the number of time points minus one, which measures that
    need linearly independent units (CCA and its variants) refuse: the optimization and its
    thresholds do not need the baseline, so the run goes on without it.
    """
    try:
        return float(measure(name)(dataset, average))
    except ValueError as error:
        if isinstance(error, SettingsError) or "linearly dependent" not in str(error):
            raise  # only the refusal of rank-deficient units is the baseline's own problem
        warn(f"{name}: no condition-average baseline ({error})")
        return math.nan


def run(settings: Settings, out=None) -> Record:
    """Optimize, track, read the thresholds; write the figures and tables to ``out``.

    Tables: ``trajectory`` (every recorded step of every run), ``runs`` (per run: measure, its kind
    ``"score"`` or ``"distance"``, seed, stopping step, steps taken, final value), ``pc_capture`` (with
    ``pcs``), ``decoding`` (with decoded variables) and ``reference`` (the reference's decoding
    accuracy, chance and condition-average baselines). Files: ``trajectory``, ``pc_capture``, ``capture_curves``, ``decoding`` (PNG, PDF,
    CSV) and ``final_Y.npy``.
    """
    return _run_cells([settings], Output(out))[0]


def run_batch(settings_list) -> list[Record]:
    """Run several settings that differ only in ``seed`` (:data:`BATCH`) together: one Record each, nothing written.

    Their runs go through one :func:`repalign.optimize` per group of measures (run seeds ``seed``,
    ``seed + 1``, … of each settings in turn), and each Record holds what :func:`run` of its settings
    alone gives: its own runs numbered from 0, its seeds, its thresholds, its decoding (with the folds
    of its own seed) and final data. A checkpoint holds one loop (more than one settings with
    ``checkpoint`` is refused). The matched
    Gaussian (``matched_gaussian``) depends on each seed: it is optimized cell by cell, as alone.

    Example:
        >>> from repalign.data import mante_like
        >>> from repalign.experiments import optimize
        >>> X = mante_like(n_units=10, n_time=3, seed=0)
        >>> cells = [optimize.Settings(X, measures=("cka",), steps=5, seed=s, pcs=2, decode=(), progress=False)
        ...          for s in (0, 1)]
        >>> [record.tables["runs"].seed.tolist() for record in optimize.run_batch(cells)]
        [[0], [1]]
    """
    cells = list(settings_list)
    if not cells or not all(isinstance(cell, Settings) for cell in cells):
        raise SettingsError("settings", f"expected a non-empty sequence of {NAME}'s Settings")
    from . import _differing_fields  # the experiments' own check (the package is loaded before its modules)

    for k, cell in enumerate(cells[1:], 1):
        differ = _differing_fields(cells[0], cell, BATCH)
        if differ:
            raise SettingsError("settings", f"settings {k} differs from settings 0 in {differ}; only {list(BATCH)} "
                                            f"may differ within a batch")
    if len(cells) > 1 and cells[0].checkpoint is not None:
        raise SettingsError("checkpoint", f"a checkpoint holds one loop; {len(cells)} settings cannot be batched "
                                          f"with one (run them one by one)")
    return _run_cells(cells, None)


def _run_cells(cells: list, output: Output | None) -> list[Record]:
    """:func:`run` (one cell, its output folder) and :func:`run_batch` (cells differing in ``seed``, nothing written).

    The dataset, the PC tracker and the condition-average baselines come from the first cell, the
    decoding folds and the reference's decoding from each cell's seed; the optimizations are batched
    over the cells, and each cell's tables come from its own runs.
    """
    pd = import_pandas()

    first = cells[0]
    outputs = [output] if output is not None else [Output(None) for _ in cells]
    draw = outputs[0].folder is not None  # figures only where they are written
    dataset = first.dataset()
    trackers, capture, decoding = [], None, None
    if first.pcs:
        capture = PCCapture(dataset, n_pcs=first.pcs)
        trackers.append(capture)
    variables = decodable_variables(dataset) if first.decode is None else first.decode
    decoders = []
    if variables:
        decoders = [decoding_tracker(dataset, variables, cell.seed, first.decode_every) for cell in cells]
        decoding = decoders[0] if len(cells) == 1 else _CellDecoding(decoders, first.runs)
        trackers.append(decoding)
    parts = _optimize_groups(first, dataset, first.measures, trackers, first.checkpoint, cells)
    shared = [{} for _ in cells]
    if decoders:
        average = condition_average(dataset)
        baselines = {name: _baseline(name, dataset, average) for name in first.measures}
        for i, decoder in enumerate(decoders):
            accuracy, chance = decoder.reference_accuracy(dataset), decoder.chance_accuracy()
            shared[i] = {"accuracy": accuracy, "chance": chance, "baselines": baselines, "reference": pd.DataFrame(
                [{"quantity": "accuracy", "key": k.removeprefix("decode_"), "value": v} for k, v in accuracy.items()]
                + [{"quantity": "chance", "key": k.removeprefix("decode_"), "value": v} for k, v in chance.items()]
                + [{"quantity": "condition_average", "key": k, "value": v} for k, v in baselines.items()])}

    records = []
    for settings, writer, (trajectory, runs, final), shared in zip(cells, outputs, parts, shared):
        tables = {"trajectory": trajectory, "runs": runs}
        if draw:
            writer.figure(_plot_trajectory(trajectory, settings), trajectory, "trajectory")
        if capture is not None:
            captured = capture_thresholds(trajectory, capture)
            table = captured.table
            table.insert(0, "reference", "data")
            if settings.matched_gaussian:
                gaussian = gaussian_like(dataset, seed=settings.seed)
                tracker = PCCapture(gaussian, n_pcs=settings.pcs)
                [(frame, _, _)] = _optimize_groups(settings, gaussian, settings.matched_gaussian, [tracker])
                predicted = capture_thresholds(frame, tracker).table
                predicted.insert(0, "reference", "matched Gaussian")
                table = pd.concat([table, predicted], ignore_index=True)
            captured = dataclasses.replace(captured, table=table)
            tables["pc_capture"] = table
            writer.save(captured, "pc_capture")
            if draw:
                writer.figure(_plot_capture_curves(captured), trajectory, "capture_curves")
        if shared:
            decoded = decoding_thresholds(trajectory, shared["accuracy"], shared["chance"])
            tables["decoding"] = decoded.table
            writer.save(decoded, "decoding", baselines=shared["baselines"])
            tables["reference"] = shared["reference"]
        if settings.save_final:
            writer.array(final, "final_Y")
        records.append(Record(f"experiments.{NAME}", settings.to_dict(), tables,
                              {"final_Y": final} if settings.save_final else {}, files=writer.files))
    return records


class _CellDecoding:
    """The decoding tracker of cells batched together: each cell's runs decoded with its own folds (its seed).

    The runs of a batch are numbered cell by cell within each measure (see :func:`_optimize_groups`):
    run ``k`` belongs to cell ``(k mod (cells × runs)) // runs``. Each cell's runs go through its own
    :class:`~repalign.trackers.Decoding`, so a cell's decoding is the one it has alone.
    """

    per_run = True
    name = "decoding"

    def __init__(self, decoders: list, runs: int):
        self.decoders, self.runs = decoders, runs
        self.columns = decoders[0].columns
        self.record_every = decoders[0].record_every

    def settings(self) -> dict:
        return {**self.decoders[0].settings(), "seed": [d.seed for d in self.decoders]}

    def __call__(self, reference, Y, *, runs) -> dict:
        import torch  # noqa: PLC0415 -- loaded with repalign

        cell = (runs.cpu() % (len(self.decoders) * self.runs)) // self.runs
        out = {column: torch.full((len(runs),), torch.nan, dtype=torch.float64) for column in self.columns}
        for i, decoder in enumerate(self.decoders):
            mine = torch.nonzero(cell == i).reshape(-1)
            if len(mine):
                for column, values in decoder(reference, Y.index_select(0, mine.to(Y.device))).items():
                    out[column][mine] = values.detach().to("cpu", torch.float64)
        return out


def _plot_trajectory(frame, settings: Settings):
    """Value against step for every run, one colour per measure, its stopping value dashed."""
    plt = import_pyplot()

    _, ax = plt.subplots(figsize=(5, 3.6))
    palette = colours()
    given = {measure(name).name: name for name in settings.measures}  # canonical → as given
    for i, (name, rows) in enumerate(frame.groupby("measure", sort=False)):
        colour = palette[i % len(palette)]
        for j, (_, one) in enumerate(rows.groupby("run")):
            ax.plot(one["step"], one["value"], lw=1.2, color=colour, label=short_name(name) if j == 0 else None)
        stop = settings.stop_at[given[name]]
        if stop is not None and math.isfinite(stop):
            ax.axhline(stop, ls="--", lw=0.7, color=colour)
    ax.set_xlabel("Adam step")
    ax.set_ylabel("value of the measure")
    ax.set_title("optimizing noise towards the reference (dashed: stopping values)", fontsize="small")
    legend(ax, frameon=False, fontsize="x-small")
    return ax


def _plot_capture_curves(captured):
    """Fig. 5a for every measure, side by side."""
    plt = import_pyplot()

    names = list(dict.fromkeys(captured.trajectory["measure"]))
    _, axes = plt.subplots(1, len(names), figsize=(3.4 * len(names), 3.2), sharey=True, squeeze=False)
    for i, (ax, name) in enumerate(zip(axes[0], names)):
        captured.plot_curves(ax, measure=name, colorbar=i == len(names) - 1)  # one colour bar: the ranks are shared
        if i:
            ax.set_ylabel("")  # the panels share their y axis
    return axes[0][0]

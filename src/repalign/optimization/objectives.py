"""What the optimizer evaluates: objectives (measures or callables) and trackers.

An objective turns a batch of runs ``Y`` (``(batch, *shape)``) into one value per run. A registry
measure becomes a bound measure scored with ``BoundMeasure.batch(Y, check_values=False)`` (the
loop checks every value and gradient itself); a user's callable ``f(reference, Y)`` is wrapped
with checks of its output. Trackers watch the runs at recording steps without steering them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import torch

from ..registry import BoundMeasure, Measure, resolve

__all__ = ["Objective", "Tracker", "objectives", "trackers", "track", "RESERVED_COLUMNS"]

RESERVED_COLUMNS = ("run", "measure", "seed", "step", "value", "kind")


@dataclass(frozen=True)
class Objective:
    """A value per run to maximize or minimize, with its label and kind.

    ``kind`` is ``"score"`` or ``"distance"``: a registry measure's own kind, a user callable's from
    its direction (``"score"`` when maximized); the trajectory table's ``kind`` column.
    """

    name: str
    maximize: bool
    evaluate: Callable[[torch.Tensor], torch.Tensor]  # (batch, *shape) -> (batch,)
    thread_safe: bool = False  # may be called from several threads at once (registry measures)
    kind: str = "score"


@dataclass(frozen=True)
class Tracker:
    """A callable ``tracker(reference, Y) -> {column: (batch,) values}``, its label and its settings.

    ``settings``: what the tracker's own ``settings()`` method returns (plain values: the ridge,
    folds, seed... of :class:`~repalign.trackers.PCCapture` or :class:`~repalign.trackers.Decoding`),
    or None for a callable without one (recorded by its name only). ``every``: the tracker's own
    attribute ``record_every`` (default 1): at a recording step that is not a multiple of it, its
    ``columns`` are NaN instead of computed (a costly tracker recorded more sparsely than the others);
    it is always computed at step 0 and at a run's stopping and last steps. A tracker with an
    attribute ``per_run = True`` is called ``tracker(reference, Y, runs=runs)``: ``runs`` (a tensor)
    numbers the runs of ``Y``'s batch among all the runs, so that it may treat runs differently (a
    sweep's cells batched together, each with its own decoding folds).
    """

    name: str
    function: Callable
    settings: dict | None = None
    every: int = 1
    columns: tuple = ()

    def record(self) -> dict:
        """``{"name": ..., "settings": {...}}`` (without settings for a callable that has none); a
        ``record_every`` other than 1 is a setting even of a callable without ``settings()``."""
        settings = dict(self.settings or {})
        if self.every != 1:
            settings.setdefault("record_every", self.every)
        if not settings and self.settings is None:
            return {"name": self.name}
        return {"name": self.name, "settings": settings}


def objectives(measure, reference: torch.Tensor, maximize: bool | None) -> list[Objective]:
    """The objectives of ``measure`` (a name, Measure or callable, or a sequence of these), bound to ``reference``."""
    specs = list(measure) if isinstance(measure, (list, tuple)) else [measure]
    if not specs:
        raise ValueError("measure: expected a measure or a non-empty sequence of measures, got an empty sequence")
    objectives = [_objective(spec, reference, maximize) for spec in specs]
    names = [o.name for o in objectives]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"measure: each measure may appear once, got {duplicates} more than once")
    return objectives


def _objective(spec, reference: torch.Tensor, maximize: bool | None) -> Objective:
    if isinstance(spec, (str, Measure, BoundMeasure)):
        spec = resolve(spec)
        if not spec.differentiable:
            raise ValueError(f"measure: {spec.name!r} is not differentiable and cannot be optimized by gradient")
        bound = spec.bind(reference)
        direction = spec.kind == "score" if maximize is None else maximize
        return Objective(spec.name, direction, _batch_of_runs(bound, reference), thread_safe=True, kind=spec.kind)
    if not callable(spec):
        raise ValueError(f"measure: expected a measure name, a Measure or a callable f(reference, Y), "
                         f"got {type(spec).__name__}")
    name = getattr(spec, "name", None) or getattr(spec, "__name__", None) or type(spec).__name__
    name = str(name)
    direction = maximize
    if direction is None:
        direction = getattr(spec, "maximize", None)
    if direction is None and getattr(spec, "kind", None) in ("score", "distance"):
        direction = spec.kind == "score"
    if not isinstance(direction, bool):
        raise ValueError(f"measure {name!r}: cannot tell whether higher values are better; pass maximize=True "
                         f"or False, or give the callable an attribute maximize (bool) or kind ('score'/'distance')")
    batched = getattr(spec, "batched", True)

    def evaluate(Y: torch.Tensor) -> torch.Tensor:
        if batched:
            values = spec(reference, Y)
        else:
            values = torch.stack([torch.as_tensor(spec(reference, Y[i:i + 1])).reshape(()) for i in range(len(Y))])
        if not isinstance(values, torch.Tensor) or values.shape != (len(Y),):
            found = tuple(values.shape) if isinstance(values, torch.Tensor) else type(values).__name__
            raise ValueError(f"measure {name!r}: expected a tensor of shape ({len(Y)},) (one value per run), "
                             f"got {found}")
        if torch.is_grad_enabled() and not values.requires_grad:
            raise ValueError(f"measure {name!r}: its value does not depend differentiably on Y (no gradient)")
        return values

    return Objective(name, direction, evaluate, kind="score" if direction else "distance")


def _batch_of_runs(bound: BoundMeasure, reference: torch.Tensor) -> Callable[[torch.Tensor], torch.Tensor]:
    """``bound.batch`` for the loop's own runs, without scanning their values again at every step.

    Y is checked where it is made (the initial noise, or ``init`` through ``inputs.as_data``) and the
    loop checks every value and gradient for finiteness; the per-call scans of ``as_data`` (finite
    values, constant units) would re-read all of Y several times per step. Shapes are still checked.
    """
    bound.prepare(reference.dtype, reference.device)  # here, before any threads share the bound measure

    def evaluate(Y: torch.Tensor) -> torch.Tensor:
        return bound.batch(Y, check_values=False)

    return evaluate


def trackers(given) -> list[Tracker]:
    """The trackers of ``given`` (a callable or a sequence of callables), each with its label."""
    if callable(given):
        given = [given]
    out = []
    for tracker in given:
        if not callable(tracker):
            raise ValueError(f"trackers: expected callables tracker(reference, Y), got {type(tracker).__name__}")
        name = str(getattr(tracker, "name", None) or getattr(tracker, "__name__", None) or type(tracker).__name__)
        every = getattr(tracker, "record_every", 1)
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise ValueError(f"tracker {name!r}: record_every must be a positive integer, got {every!r}")
        columns = tuple(getattr(tracker, "columns", ()) or ())
        if every > 1 and not (columns and all(isinstance(c, str) for c in columns)):
            raise ValueError(f"tracker {name!r}: record_every={every} needs an attribute columns naming the columns "
                             f"it returns (they are NaN at the steps it skips)")
        out.append(Tracker(name, tracker, _tracker_settings(tracker, name), every, columns))
    return out


def _tracker_settings(tracker, name: str) -> dict | None:
    """The tracker's ``settings()`` as plain values (checkpoints hold plain values only), or None without one."""
    method = getattr(tracker, "settings", None)
    if not callable(method):
        return None
    settings = method()
    if not isinstance(settings, Mapping) or not all(isinstance(k, str) for k in settings):
        raise ValueError(f"tracker {name!r}: settings() must return a mapping of names to plain values, "
                         f"got {type(settings).__name__}")
    return {key: _plain(value, name, key) for key, value in settings.items()}


def _plain(value, name: str, key: str):
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return [_plain(v, name, key) for v in value]
    raise ValueError(f"tracker {name!r}: setting {key!r} is a {type(value).__name__}; settings() must return "
                     f"plain values (None, bool, int, float, str or lists of them)")


def track(trackers: list[Tracker], reference: torch.Tensor, Y: torch.Tensor,
          runs: torch.Tensor, step: int | None = None) -> dict[str, torch.Tensor]:
    """Every tracker's columns for the runs ``runs`` of ``Y`` (without gradient), checked.

    ``step``: the recording step, at which a tracker with ``every > 1`` that is not due gives NaN
    columns; None computes every tracker (step 0, stopping and last steps).
    """
    if not trackers:
        return {}
    with torch.no_grad():
        batch = Y.detach().index_select(0, runs.to(Y.device))
        out: dict[str, torch.Tensor] = {}
        for tracker in trackers:
            if step is not None and step % tracker.every != 0:
                skipped = torch.full((len(runs),), torch.nan, dtype=torch.float64)
                result = {column: skipped for column in tracker.columns}
            elif getattr(tracker.function, "per_run", False):  # a tracker that tells its runs apart
                result = tracker.function(reference, batch, runs=runs)
            else:
                result = tracker.function(reference, batch)
            if not isinstance(result, Mapping):
                result = {tracker.name: result}
            for column, values in result.items():
                if not isinstance(column, str) or column in RESERVED_COLUMNS or column in out:
                    taken = "is reserved" if column in RESERVED_COLUMNS else "is not a string or is already taken"
                    raise ValueError(f"tracker {tracker.name!r}: column name {column!r} {taken}")
                try:
                    values = torch.as_tensor(values).detach().to("cpu", torch.float64).reshape(-1)
                except (TypeError, ValueError, RuntimeError) as error:
                    raise ValueError(f"tracker {tracker.name!r}: column {column!r} is not numeric: {error}") from None
                if values.numel() != len(runs):
                    raise ValueError(f"tracker {tracker.name!r}: column {column!r} has {values.numel()} value(s) "
                                     f"for a batch of {len(runs)} run(s)")
                out[column] = values
    return out


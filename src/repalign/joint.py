r"""Joint optimization of several similarity scores towards target values (seed paper, Fig. 6b,c).

Section 4.4 of the seed paper (Cloos et al., "Are metrics mutually independent?") asks which
pairs of scores one synthetic dataset can reach at the same time: two measures can be
*independent* (any pair reachable), *coupled* (a high score on one implies a high score on
the other, and conversely) or *asymmetric* (a high score on the first implies a high score on
the second, not the converse). To map the allowed region, the paper optimizes one free
dataset per target point so that *both* scores reach the target, and draws the reached points
(Fig. 6c: angular Procrustes against CKA; a high angular Procrustes implies a high CKA, not
the converse).

Problem, for each target :math:`t` (a row of ``targets``, one value per measure) with its own
free tensor :math:`Y_t` shaped like the reference X:

.. math::

    \min_{Y_t}\; L_t(Y_t) = \sum_{m=1}^{M} \bigl| s_m(X, Y_t) - t_m \bigr|

(an L1 distance between the reached scores and the target). :func:`joint_optimize` runs this
with :func:`repalign.optimize` (Adam, Gaussian noise at the start, seeded per target), so the
batching, the finiteness checks, the checkpoints, the progress bar and the seeds are
``optimize``'s: the loss is one batched callable whose run ``k`` is target ``k``, and a
tracker records each measure's score at the recorded steps. Every target runs ``max_steps``
steps (no early stop: a frozen run would change which targets the loss sees).

Which measures: two or more differentiable *scores* whose range contains ``[0, 1]`` (CKA,
angular CKA, NBS, angular Procrustes, CCA, linear regression R², ridge R² with or without
cross-validation...). Distances (unbounded or in radians) are refused: ask for their score
form (``angular-procrustes`` rather than ``procrustes``). Targets lie in ``[0, 1]``; a measure
whose range extends below 0 (cross-validated R², Lange/Song CKA) may reach values below 0.

:class:`JointResult` holds the trajectories as a tidy table, the final reached points,
:meth:`~JointResult.region` (the allowed region estimated from the reached points) and its boundary
:meth:`~JointResult.envelope`,
:meth:`~JointResult.conditional_range` (what a high value of one score implies for another),
:meth:`~JointResult.plot` (Fig. 6c) and :meth:`~JointResult.save` (PNG, PDF and CSV).

Example:
    >>> import numpy as np
    >>> from repalign.joint import joint_optimize
    >>> X = np.random.default_rng(0).normal(size=(40, 4)) * [3.0, 2.0, 1.0, 0.5]
    >>> result = joint_optimize(X, ("cka", "angular-procrustes"), targets=[[0.6, 0.5]], max_steps=60)
    >>> final = result.final                     # one row per target: the reached point
    >>> [round(float(final[m].iloc[0]), 2) for m in ("cka", "angular-procrustes")], bool(final.loss.iloc[0] < 0.01)
    ([0.6, 0.5], True)
"""

from __future__ import annotations

import hashlib
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import torch

from ._checks import check_choice, check_count, check_real
from ._optional import import_pandas, import_pyplot
from .optimization import OptimizationResult, optimize
from .registry import BoundMeasure, Measure, resolve
from .results import Result, legend

__all__ = ["joint_optimize", "JointResult", "target_grid"]

# columns of the trajectory table besides one per measure and one target column per measure
_FIXED_COLUMNS = ("target", "seed", "step", "loss")
_TARGET_PREFIX = "target_"
_TRACKER_PREFIX = "score:"  # optimize's reserved names ("value", "run"...) cannot clash with these
_POINTS = ("all", "final")


@dataclass(frozen=True, eq=False)
class JointResult(Result):
    """What :func:`joint_optimize` returns.

    Attributes:
        measures: one label per measure: the name as given (``"cka"``), or the canonical name
            for a :class:`~repalign.registry.Measure`; the score columns of the tables.
        names: the canonical names, in the same order.
        targets: ``(n_targets, n_measures)`` float64, row ``k`` the target of run ``k``.
        optimization: the :class:`~repalign.optimization.OptimizationResult` of the underlying
            :func:`repalign.optimize` call (its ``value`` is the loss :math:`L_t`; its ``Y``
            the final datasets, one per target).
    """

    record_kind = "joint"

    measures: tuple
    names: tuple
    targets: np.ndarray
    optimization: OptimizationResult = field(repr=False)

    @property
    def Y(self) -> np.ndarray:
        """The final synthetic datasets, ``(n_targets, *shape)`` (row k reached :attr:`final` row k)."""
        return self.optimization.Y

    @cached_property
    def table(self):
        """Tidy table (pandas), one row per target and recorded step, sorted by target then step.

        Columns: ``target`` (index k, the row of :attr:`targets`), ``target_<m>`` for each
        measure label ``m`` (the target values), ``seed`` (of the start noise), ``step``,
        ``<m>`` (each measure's score at that step) and ``loss`` (``Σ_m |s_m − t_m|``).
        Steps 0, every ``record_every`` and the last one are recorded.
        """
        pd = import_pandas()

        columns = self.optimization.columns
        run = columns["run"]
        frame = {"target": run}
        for m, label in enumerate(self.measures):
            frame[_TARGET_PREFIX + label] = self.targets[run, m]
        frame["seed"] = columns["seed"]
        frame["step"] = columns["step"]
        for label in self.measures:
            frame[label] = columns[_TRACKER_PREFIX + label]
        frame["loss"] = columns["value"]
        table = pd.DataFrame(frame)
        return table.sort_values(["target", "step"], kind="stable").reset_index(drop=True)

    @property
    def trajectory(self):
        """The recorded trajectories: :attr:`table`."""
        return self.table

    @cached_property
    def final(self):
        """The final reached points: the :attr:`table` rows of the last step, one per target."""
        table = self.table
        return table[table.step == self.optimization.steps].reset_index(drop=True)

    # -- what the reached points say ------------------------------------------------------------

    def _label(self, value, name: str) -> str:
        if value in self.measures:
            return value
        raise ValueError(f"{name}: expected one of the measures {list(self.measures)}, got {value!r}")

    def _points(self, points: str):
        check_choice(points, "points", _POINTS)
        return self.table if points == "all" else self.final

    def _pair(self, x, y) -> tuple[str, str]:
        x = self.measures[0] if x is None else self._label(x, "x")
        y = self.measures[1] if y is None else self._label(y, "y")
        if x == y:
            raise ValueError(f"y: expected a measure other than x ({x!r})")
        return x, y

    def region(self, x=None, y=None, *, bins: int = 10, points: str = "all"):
        """The allowed region of (x, y) score pairs, estimated from the reached points.

        The x axis is cut into ``bins`` equal bins spanning ``[min(0, x_min), max(1, x_max)]``
        (``x_min``, ``x_max``: the extreme x values among the points; so ``[0, 1]`` for scores
        that stay in it), each bin closed on the left and open on the right except the last,
        closed on both sides. For each bin holding at least one point, the region spans
        ``[y_min, y_max]``: the smallest and the largest y among the points whose x falls in
        the bin. The union of these rectangles is the region (:meth:`envelope` draws its
        boundary through the points that reach each bin's ``y_min`` and ``y_max``).

        It is an inner estimate: only points actually reached count, so the true region can
        be larger (more targets, steps or seeds can only widen it), and it need not be convex.

        Args:
            x, y: measure labels (default: the first two measures).
            bins: number of bins along x (``>= 1``).
            points: ``"all"`` (every recorded step of every target: each is a dataset that
                reaches that pair of scores) or ``"final"`` (the final reached points only).

        Returns:
            A pandas DataFrame, one row per non-empty bin, with columns ``x_measure``,
            ``y_measure``, ``x_low``, ``x_high`` (bin edges), ``x_centre``, ``y_min``, ``y_max``
            and ``n_points``.
        """
        pd = import_pandas()

        x, y = self._pair(x, y)
        bins = check_count(bins, "bins", 1)
        table = self._points(points)
        xs, ys = table[x].to_numpy(), table[y].to_numpy()
        edges, which = _bins(xs, bins)
        rows = []
        for b in range(bins):
            inside = which == b
            if inside.any():
                rows.append((x, y, edges[b], edges[b + 1], 0.5 * (edges[b] + edges[b + 1]),
                             float(ys[inside].min()), float(ys[inside].max()), int(inside.sum())))
        return pd.DataFrame(rows, columns=["x_measure", "y_measure", "x_low", "x_high", "x_centre",
                                           "y_min", "y_max", "n_points"])

    def conditional_range(self, measure, *, given, at_least: float, points: str = "all") -> tuple[float, float, int]:
        """What ``given >= at_least`` implied for ``measure`` among the reached points.

        Returns ``(min, max, n)``: the smallest and largest value of ``measure`` among the
        points whose ``given`` score is at least ``at_least``, and their number (``nan``,
        ``nan``, 0 when there is none). The paper's reading of Fig. 6c: ``min`` of CKA given
        angular Procrustes >= 0.9 is high (asymmetry), ``min`` of angular Procrustes given
        CKA >= 0.9 is low. Like :meth:`region`, a statement about the reached points only.

        Args:
            measure, given: measure labels.
            at_least: threshold on ``given``.
            points: ``"all"`` (every recorded step) or ``"final"``.
        """
        measure = self._label(measure, "measure")
        given = self._label(given, "given")
        at_least = check_real(at_least, "at_least")
        table = self._points(points)
        chosen = table.loc[table[given] >= at_least, measure]
        if chosen.empty:
            return math.nan, math.nan, 0
        return float(chosen.min()), float(chosen.max()), int(chosen.size)

    def envelope(self, x=None, y=None, *, bins: int | None = None, points: str = "all"):
        """The boundary of the allowed region as a closed polygon through reached points (Fig. 6c's solid line).

        The x axis is cut into bins as in :meth:`region`; in each non-empty bin, the point with
        the smallest y is a vertex of the lower boundary and the one with the largest y a vertex
        of the upper boundary; the leftmost and the rightmost points end both (at most one vertex
        per x value on each boundary: its lowest, or highest, point). The polygon runs
        along the lower boundary from left to right and back along the upper one. Every vertex
        is a reached point and every bin's extremes are vertices; between vertices the boundary
        is a straight line, and where a point would lie outside it becomes a vertex too, so that
        every point lies inside the polygon or on its boundary. An estimate, as the region is:
        only reached points count, and the straight lines between them are drawn, not reached.

        Args:
            x, y: measure labels (default: the first two measures).
            bins: number of bins along x (``>= 1``): more bins follow the points more closely,
                and where the points are sparse draw a ragged boundary. Default: the square
                root of the number of targets, rounded (about one bin per column of a grid of
                targets), at least 2.
            points: ``"all"`` (every recorded step) or ``"final"``.

        Returns:
            A pandas DataFrame, one row per vertex in drawing order, with columns ``boundary``
            (``"lower"`` or ``"upper"``), ``x`` and ``y``; the polygon closes from the last row
            to the first.
        """
        pd = import_pandas()

        x, y = self._pair(x, y)
        bins = max(2, round(math.sqrt(len(self.targets)))) if bins is None else check_count(bins, "bins", 1)
        table = self._points(points)
        xs, ys = table[x].to_numpy(), table[y].to_numpy()
        _, which = _bins(xs, bins)
        ends = [int(np.argmin(xs)), int(np.argmax(xs))]
        rows = []
        for side, pick, sign in (("lower", np.argmin, -1.0), ("upper", np.argmax, 1.0)):
            chosen = set(ends)
            for b in range(bins):
                inside = np.flatnonzero(which == b)
                if inside.size:
                    chosen.add(int(inside[pick(ys[inside])]))
            chain = _enclosing_chain(xs, ys, chosen, sign)
            rows += [(side, float(xs[i]), float(ys[i])) for i in (chain if side == "lower" else chain[::-1])]
        return pd.DataFrame(rows, columns=["boundary", "x", "y"])

    # -- figure --------------------------------------------------------------------------------

    def plot(self, ax=None, *, x=None, y=None, guides: Sequence[float] = (0.9,), bins: int | None = None,
             points: str = "all", trajectories: bool = True):
        """Fig. 6c: the allowed region, the targets, the trajectories and the reached points.

        Grey with a solid black boundary: the allowed region, the polygon of :meth:`envelope`
        (``bins``, ``points``); pink dots: the targets; thin blue lines: each target's trajectory
        (the recorded steps, from Gaussian noise, the grey crosses, at step 0); blue dots: the
        final reached points; dashed grey lines at each value of ``guides`` on both axes (the
        paper's 0.9; ``()`` for none). Every mark has a legend entry, beside the axes.

        Args:
            ax: matplotlib axes (a new figure when ``None``).
            x, y: measure labels for the axes (default: the first two measures; the paper puts
                CKA or linear regression on x and angular Procrustes on y).
            trajectories: draw the trajectories and their starts.

        Returns:
            The axes.
        """
        plt = import_pyplot()

        x, y = self._pair(x, y)
        try:
            guides = [check_real(g, "guides") for g in guides]
        except TypeError:
            raise ValueError(f"guides: expected a sequence of numbers, got {guides!r}") from None
        boundary = self.envelope(x, y, bins=bins, points=points)
        if ax is None:
            _, ax = plt.subplots(figsize=(6.4, 4.0))
        region_label = "allowed region (envelope of the " + ("recorded" if points == "all" else "reached") + " points)"
        ax.fill(boundary.x, boundary.y, facecolor="0.85", edgecolor="k", lw=1.2, zorder=1, label=region_label)
        table = self.trajectory
        if trajectories:
            for k, (_, rows) in enumerate(table.groupby("target", sort=True)):
                ax.plot(rows[x], rows[y], "-", color="tab:blue", lw=0.6, alpha=0.45, zorder=2,
                        label=f"trajectory (every {self.optimization.settings['record_every']} steps)" if k == 0
                        else None)
            start = table[table.step == 0]
            ax.plot(start[x], start[y], "x", color="0.35", ms=4, mew=0.9, zorder=3, label="start (Gaussian noise)")
        final = self.final
        ax.plot(final[x], final[y], "o", color="tab:blue", ms=3.5, zorder=5,
                label=f"reached (step {self.optimization.steps})")
        ix, iy = self.measures.index(x), self.measures.index(y)
        ax.plot(self.targets[:, ix], self.targets[:, iy], "o", color="hotpink", ms=4.5, mec="none", alpha=0.9,
                zorder=4, label="target")
        for k, g in enumerate(guides):
            label = f"guide{'s' if len(guides) > 1 else ''} at {', '.join(f'{v:g}' for v in guides)}"
            ax.axhline(g, ls="--", lw=0.8, color="0.4", zorder=0, label=label if k == 0 else None)
            ax.axvline(g, ls="--", lw=0.8, color="0.4", zorder=0)
        ax.set_xlim(min(0.0, float(table[x].min())) - 0.03, 1.03)  # below 0 only for scores that go there
        ax.set_ylim(min(0.0, float(table[y].min())) - 0.03, 1.03)
        ax.set_aspect("equal", adjustable="box")
        ax.set_xlabel(x)
        ax.set_ylabel(y)
        ax.set_title(f"{x} and {y} optimized jointly: {len(self.targets)} targets, "
                     f"{self.optimization.steps} steps", fontsize="small")
        legend(ax, frameon=False, fontsize="x-small", loc="upper left", bbox_to_anchor=(1.02, 1.0),
               borderaxespad=0.0)
        return ax

    def _record_settings(self) -> dict:
        return {"measures": list(self.measures), "names": list(self.names), "targets": self.targets,
                "optimization": self.optimization.settings}

    def _record_arrays(self) -> dict:
        return {"Y": self.optimization.Y, "targets": self.targets}


def _bins(xs: np.ndarray, bins: int) -> tuple[np.ndarray, np.ndarray]:
    """The edges of ``bins`` equal bins over ``[min(0, x_min), max(1, x_max)]`` and the bin of each x
    (closed on the left, the last one closed on both sides)."""
    edges = np.linspace(min(0.0, float(xs.min())), max(1.0, float(xs.max())), bins + 1)
    return edges, np.clip(np.searchsorted(edges, xs, side="right") - 1, 0, bins - 1)


def _enclosing_chain(xs: np.ndarray, ys: np.ndarray, chosen: set, sign: float) -> list[int]:
    """Indices of a polyline through ``chosen`` points, sorted by x, with no point beyond it.

    ``sign`` +1: no point above (an upper boundary), -1: none below. At each pass the point
    furthest beyond each segment joins the polyline, until none is beyond (each pass adds a
    point, so this ends). One vertex per x value: the highest (+1) or lowest (-1) point there.
    """
    def one_per_x(indices):
        best: dict = {}
        for i in indices:
            if xs[i] not in best or sign * ys[i] > sign * ys[best[xs[i]]]:
                best[xs[i]] = i
        return [best[v] for v in sorted(best)]

    chain = one_per_x(chosen)
    while len(chain) > 1:
        vx, vy = xs[chain], ys[chain]
        beyond = sign * (ys - np.interp(xs, vx, vy))
        segment = np.clip(np.searchsorted(vx, xs, side="right") - 1, 0, len(chain) - 2)
        added = []
        for k in range(len(chain) - 1):
            candidates = np.flatnonzero((segment == k) & (beyond > 1e-12 * max(1.0, float(np.abs(ys).max()))))
            if candidates.size:
                added.append(int(candidates[np.argmax(beyond[candidates])]))
        if not added:
            break
        chain = one_per_x([*chain, *added])
    return chain


def target_grid(n_measures: int, grid: int = 5) -> np.ndarray:
    """Targets on a regular grid of the unit square (cube...): ``grid`` values per axis.

    The values ``0, 1/(grid-1), ..., 1`` on every axis, all combinations, boundary and
    interior (the pink dots of the paper's Fig. 6c); rows in lexicographic order, the last
    measure varying fastest.

    Example:
        >>> target_grid(2, 3).tolist()
        [[0.0, 0.0], [0.0, 0.5], [0.0, 1.0], [0.5, 0.0], [0.5, 0.5], [0.5, 1.0], [1.0, 0.0], [1.0, 0.5], [1.0, 1.0]]
    """
    n_measures = check_count(n_measures, "n_measures", 1)
    grid = check_count(grid, "grid", 2)
    values = np.linspace(0.0, 1.0, grid)
    return np.array(list(itertools.product(values, repeat=n_measures)), dtype=np.float64)


def joint_optimize(
    reference,
    measures,
    targets=None,
    *,
    grid: int | None = None,
    max_steps: int = 300,
    lr: float = 0.1,
    seed: int | Sequence[int] = 0,
    record_every: int = 10,
    device=None,
    dtype=None,
    progress: bool | None = None,
    checkpoint=None,
    checkpoint_every: int = 100,
) -> JointResult:
    r"""Optimize one dataset per target so that several scores reach the target values together.

    For each target :math:`t` (row of ``targets``) a free :math:`Y_t`, shaped like the
    reference, starts from standard Gaussian noise (seed ``seed + k`` for target ``k``) and
    follows Adam on

    .. math::

        L_t(Y_t) = \sum_m \bigl| s_m(X, Y_t) - t_m \bigr| .

    All targets form one batch of :func:`repalign.optimize` runs (run ``k`` = target ``k``;
    the loss is minimized, ``maximize=False``), each measure is evaluated once per step on
    the whole batch, and a tracker records every measure's score at steps 0,
    ``record_every``, ..., ``max_steps`` (the scores the loss was computed from at that step,
    not a second evaluation). Runs are independent (Adam acts element-wise), so a target's
    trajectory does not depend on the other targets.

    Args:
        reference: X, ``(sample, unit)`` or ``(time, condition, unit)`` (numpy, torch, xarray,
            lists) or a :class:`~repalign.data.Dataset`.
        measures: two or more registry names or :class:`~repalign.registry.Measure` objects,
            each a differentiable score whose range contains ``[0, 1]``; no measure twice.
        targets: ``(n_targets, n_measures)`` values in ``[0, 1]`` (one row per target; a single
            row may be given as a 1D sequence). Default: :func:`target_grid` with ``grid``
            values per axis.
        grid: values per axis of the default grid (``>= 2``; default 5, i.e. 25 targets for two
            measures). Only without ``targets``.
        max_steps: Adam steps per target (``>= 1``); every target runs them all.
        lr: Adam's learning rate.
        seed: seed of target 0's start noise (target k uses ``seed + k``), or one per target.
        record_every: record the scores every this many steps.
        device, dtype, progress, checkpoint, checkpoint_every: as for :func:`repalign.optimize`
            (float32 is about twice as fast on a CPU). A checkpoint made with other measures or
            other targets is refused (both are part of the loss's name, which ``optimize``
            compares).

    Returns:
        :class:`JointResult`.

    Raises:
        ValueError: bad arguments, each message naming the argument (``measures``, ``targets``,
            ``grid``, or those checked by :func:`repalign.optimize`).
        FloatingPointError: a non-finite score or gradient (from :func:`repalign.optimize`).
    """
    labels, chosen = _check_measures(measures)
    targets = _check_targets(targets, grid, len(chosen))
    loss, tracker = _loss_and_tracker(labels, chosen, targets)
    result = optimize(
        reference, loss, max_steps=max_steps, lr=lr, seed=seed, n_runs=len(targets), record_every=record_every,
        trackers=[tracker], maximize=False, device=device, dtype=dtype, progress=progress,
        checkpoint=checkpoint, checkpoint_every=checkpoint_every,
    )
    return JointResult(tuple(labels), tuple(m.name for m in chosen), targets, result)


# -- arguments ----------------------------------------------------------------------------------------------------


def _check_measures(measures) -> tuple[list[str], list[Measure]]:
    if isinstance(measures, (str, Measure)) or not isinstance(measures, Sequence):
        raise ValueError(f"measures: expected a sequence of two or more measure names or Measures, got {measures!r}")
    if len(measures) < 2:
        raise ValueError(f"measures: joint optimization needs at least two measures, got {len(measures)}")
    labels, chosen = [], []
    for spec in measures:
        m = resolve(spec, "measures")
        label = spec if isinstance(spec, str) else m.name
        if m.kind != "score":
            raise ValueError(f"measures: {label!r} ({m.name}) is a distance, range {list(m.range)}; joint "
                             f"optimization sets targets in [0, 1] for scores: use its score form (e.g. "
                             f"'angular-procrustes' instead of 'procrustes')")
        if not (m.range[0] <= 0.0 and m.range[1] >= 1.0):
            raise ValueError(f"measures: {label!r} ({m.name}) has range {list(m.range)}, which does not contain "
                             f"[0, 1], the range of the targets")
        if not m.differentiable:
            raise ValueError(f"measures: {label!r} ({m.name}) is not differentiable and cannot be optimized")
        if label in _FIXED_COLUMNS or label.startswith(_TARGET_PREFIX):
            raise ValueError(f"measures: the label {label!r} would clash with a column of the table; "
                             f"pass repalign.measure({label!r}) instead")
        labels.append(label)
        chosen.append(m)
    names = [m.name for m in chosen]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ValueError(f"measures: each measure may appear once, got {twice} more than once")
    return labels, chosen


def _check_targets(targets, grid, n_measures: int) -> np.ndarray:
    if targets is None:
        return target_grid(n_measures, 5 if grid is None else grid)
    if grid is not None:
        raise ValueError("grid: give either targets or grid (the default targets), not both")
    try:
        values = np.array(targets, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"targets: expected an array of numbers of shape (n_targets, {n_measures}), "
                         f"got {type(targets).__name__}") from None
    if values.ndim == 1 and values.shape[0] == n_measures:
        values = values[None, :]
    if values.ndim != 2 or values.shape[1] != n_measures or values.shape[0] == 0:
        raise ValueError(f"targets: expected shape (n_targets, {n_measures}) (one column per measure), "
                         f"got {values.shape}")
    if not np.isfinite(values).all():
        raise ValueError("targets: contains NaN or infinite values")
    if (values < 0).any() or (values > 1).any():
        raise ValueError(f"targets: expected values in [0, 1], got values in [{values.min():g}, {values.max():g}]")
    return values


def _loss_and_tracker(labels: list[str], chosen: list[Measure], targets: np.ndarray):
    """The batched L1 loss (run k = target k) and the tracker of every measure's score.

    At a recording step, :func:`repalign.optimize` calls the tracker on the very ``Y`` the loss
    was just evaluated on; the tracker then reuses those scores (checked: equal ``Y``), so
    the recorded loss is exactly the sum of the recorded scores' distances to the target and
    the measures are not evaluated twice. Any other ``Y`` is scored afresh.
    """
    n_targets = len(targets)
    digest = hashlib.sha256(np.ascontiguousarray(targets).tobytes()).hexdigest()[:16]
    bound: list[BoundMeasure] = []
    target_cache: dict = {}
    last: list = []  # [(Y as evaluated, its scores)] of the latest loss evaluation

    def scores(reference: torch.Tensor, Y: torch.Tensor) -> torch.Tensor:
        if len(Y) != n_targets:  # no stop_at: optimize passes every run, in run order
            raise RuntimeError(f"joint loss: expected the batch of all {n_targets} targets in order, got {len(Y)}")
        if not bound:
            bound.extend(m.bind(reference) for m in chosen)
        return torch.stack([b.batch(Y) for b in bound], dim=-1)  # (n_targets, n_measures)

    def loss(reference: torch.Tensor, Y: torch.Tensor) -> torch.Tensor:
        key = (Y.dtype, Y.device)
        if key not in target_cache:
            target_cache[key] = torch.as_tensor(targets, dtype=Y.dtype, device=Y.device)
        values = scores(reference, Y)
        last[:] = [(Y.detach().clone(), values.detach())]  # a copy: the optimizer updates Y in place
        return (values - target_cache[key]).abs().sum(dim=-1)

    def tracker(reference: torch.Tensor, Y: torch.Tensor) -> dict:
        if last and last[0][0].shape == Y.shape and torch.equal(last[0][0], Y):
            values = last[0][1]
        else:
            values = scores(reference, Y)
        return {_TRACKER_PREFIX + label: values[:, m] for m, label in enumerate(labels)}

    loss.name = f"joint-l1({','.join(m.name for m in chosen)})[targets sha256:{digest}]"
    tracker.name = "joint-scores"
    return loss, tracker

r"""Centre-out reaching on the time base, directions and hand velocity of the M1 recording.

The recording (``../shared/data/hatsopoulos2007_m1.npz``, read by ``repalign.data.load_m1``;
Hatsopoulos, Xu & Amit 2007) holds 8 reach directions (0, 45, …, 315°), 121 bins of 10 ms from
−800 to +400 ms around movement onset, and the trial-averaged hand velocity (``xhandspeed``,
``yhandspeed``: signed, each normalised to a maximum absolute value of 1). The seed paper's code
(nacloos/diffscore ``diffscore/dataset/hatsopoulos2007.py``) aligns the trials on movement onset
and "take[s] mvt onset as the go to account for the delay not modelled": the target is shown from
the start of the window (no fixation period), the go is movement onset. Here, following it:

- ``dt`` is the recording's bin (10 ms) and a recording trial is its 121 bins
  (``record_steps`` = all of them), so the model's time base is the data's;
- inputs (3): ``cos θ``, ``sin θ`` of the target direction, on for the whole trial, and a go
  signal, 0 before ``go_ms`` (default 0 ms, movement onset) and 1 from it on;
- outputs (2): the hand velocity, the targets being the recording's own velocity of the trial's
  direction (``loss = "mse"``); success is the R² of :func:`~repalign.tasks.r2_score`
  (``criterion`` 0.9, issue 12);
- training trials jitter the timing: the whole trial (inputs and targets) is shifted by a whole
  number of steps drawn uniformly in ``[−jitter_ms, +jitter_ms]`` (default 100 ms); steps that
  fall outside the recorded window are masked out (mask 0; their targets repeat the edge value);
- optional input noise :math:`\mathcal N(0, \sigma^2/\mathrm{dt_{ms}})` on every input and step
  (the Mante task's scaling; default σ = 0: the seed code trains no reaching model).

**The criterion** (issue 12: "the reaching models reproduce the recording's hand velocity with
R² ≥ 0.9 on its 8 conditions") is read on :meth:`ReachingTask.held_out`: jittered trials as in
training plus the 8 unjittered recording trials, and :meth:`~ReachingTask.accuracy` on it is the
smaller of the two R²: the R² over the jittered trials' masked steps and the R² over the recording
trials, pooled over the 8 conditions and all 121 bins, which is ``velocity_fit(network, task).r2``
(same trials, same bins; for noise-free inputs and networks equal to float32 rounding of the
stacked forward pass: 7e-9 on a zoo network). A network at criterion therefore fits the
recording's own conditions (what the issue judges) without giving up the timing generalisation
the jitter trains (a network that fits the 8 fixed trials alone could ignore the go signal's
timing).

Why the jittered R² alone did not suffice (measured on 9 networks, 3 architectures × 3 seeds, frozen
at jittered R² ≥ 0.9): the unjittered R² was 0.88–0.97, two of nine below 0.9. Not the initial
transient from ``h0``: the recording's velocity is ≤ 0.004 in the first 10 bins, those bins hold
≤ 3.2 % of the squared error, and leaving out the first 20 bins changes the R² by ≤ 0.003. The error
sits at the window's end (+300…+400 ms: 14–57 % of it in the last 10 of 121 bins), and the
masking convention hides those bins from half the jittered trials: a trial shifted by +s steps never
shows the recording's last s bins (they fall after the window; the trial's first s steps are
masked instead), so the last bins are both trained and evaluated less often than the rest. A
network then scores higher on late-shifted trials than on unshifted ones (CTRNN-ReLU seed 1:
R² 0.943 at +100 ms, 0.884 at 0, 0.876 at −100 ms, 0.901 pooled), and since training stops at the
first evaluation at or above 0.9, the pooled value sits just above it. The masking stays (a
shifted trial has no recorded velocity outside the window); the issue's judgement keeps all 121 bins.

With this criterion the 27-network zoo (``train(ReachingTask.from_recording(), seeds=[0, 1, 2])``,
one thread) reached criterion in 100–200 steps (median 150; 170 s), every network with a pooled
``velocity_fit`` R² ≥ 0.9 (0.901–0.975, median 0.936; it was 0.877–0.975, 8 below 0.9, with the
jittered R² alone). The R² of a single condition (against that condition's own variance, the
``table``'s ``r2``) is lower, down to 0.69: the criterion bounds the pooled R², not each condition's.

Conditions tables carry the recording's columns ``condition_index`` and ``reach_direction_deg``
(same values, same dtypes as ``load_m1().conditions``), so model and data align by value. Without
the file, :func:`bell_velocity` gives a minimum-jerk bell-shaped profile on the same time base
(:meth:`ReachingTask.synthetic`).
"""

from __future__ import annotations

import math
import os

import numpy as np
import torch

from .._checks import SettingsError, check_count, check_real, check_seed
from .._optional import import_pandas
from ._protocol import Task, TaskBatch, r2_score

__all__ = ["ReachingTask", "bell_velocity"]


def bell_velocity(time_ms, directions_deg, durations_ms, onset_ms: float = 0.0) -> np.ndarray:
    r"""Minimum-jerk hand velocity, ``(time, direction, 2)``, peak speed 1.

    Speed :math:`s(t) = \tfrac{16}{30} \cdot 30\,\tau^2 (1 - \tau)^2 = 16\,\tau^2(1-\tau)^2` with
    :math:`\tau = (t - t_0)/D` in ``[0, 1]`` (0 outside), the minimum-jerk profile of Flash &
    Hogan (1985) scaled to a peak of 1 (as the recording's normalised velocities); velocity
    :math:`s(t)\,(\cos\theta, \sin\theta)`.

    >>> v = bell_velocity(np.arange(-100, 600, 10.0), [0, 90], [500, 500])
    >>> v.shape, float(v[:, 0, 0].max()), float(abs(v[:, 0, 1]).max()) < 1e-12
    ((70, 2, 2), 1.0, True)
    """
    t = np.asarray(time_ms, dtype=np.float64)[:, None]
    theta = np.deg2rad(np.asarray(directions_deg, dtype=np.float64))
    duration = np.asarray(durations_ms, dtype=np.float64)
    if duration.shape != theta.shape or np.any(duration <= 0):
        raise SettingsError("durations_ms", "expected one positive duration per direction")
    tau = np.clip((t - onset_ms) / duration, 0.0, 1.0)
    speed = 16.0 * tau**2 * (1.0 - tau) ** 2
    return np.stack([speed * np.cos(theta), speed * np.sin(theta)], axis=-1)


class ReachingTask(Task):
    """Centre-out reaching whose trials are the M1 recording's conditions and time bins.

    Args:
        velocity: hand velocity ``(time, condition, 2)``, the targets of each condition.
        time_ms: time of each bin relative to movement onset (evenly spaced).
        directions_deg: reach direction of each condition.
        condition_index: the conditions' indices (default ``0 … C−1``).
        go_ms: time of the go signal relative to movement onset (seed: 0, movement onset).
        jitter_ms: training trials are shifted by up to ± this (whole steps).
        sigma: input noise σ, per-step std ``σ / sqrt(dt in ms)``.

    Use :meth:`from_recording` for the M1 file, :meth:`synthetic` without it.

    Example:
        >>> task = ReachingTask.synthetic()
        >>> b = task.batch(16, seed=0)
        >>> b.inputs.shape, b.targets.shape, task.dt
        (torch.Size([121, 16, 3]), torch.Size([121, 16, 2]), 0.01)
        >>> task.accuracy(b.targets, b)
        1.0
    """

    n_inputs = 3
    n_outputs = 2
    loss = "mse"
    criterion = 0.9  # issue 12: velocity R² >= 0.9

    def __init__(self, velocity, time_ms, directions_deg, *, condition_index=None, go_ms: float = 0.0,
                 jitter_ms: float = 100.0, sigma: float = 0.0, source: str | None = None):
        velocity = np.asarray(velocity, dtype=np.float64)
        time_ms = np.asarray(time_ms, dtype=np.float64)
        directions = np.asarray(directions_deg, dtype=np.float64)
        if velocity.ndim != 3 or velocity.shape[2] != 2 or not np.all(np.isfinite(velocity)):
            raise SettingsError("velocity", f"expected finite (time, condition, 2) values, got shape {velocity.shape}")
        if time_ms.shape != velocity.shape[:1] or len(time_ms) < 2:
            raise SettingsError("time_ms", f"expected {velocity.shape[0]} times, one per bin, got {time_ms.shape}")
        steps = np.diff(time_ms)
        if not (steps[0] > 0 and np.allclose(steps, steps[0], rtol=1e-6, atol=0)):
            raise SettingsError("time_ms", "expected evenly spaced increasing times")
        if directions.shape != velocity.shape[1:2] or len(np.unique(directions)) != len(directions):
            raise SettingsError("directions_deg", f"expected {velocity.shape[1]} distinct directions")
        index = np.arange(len(directions)) if condition_index is None else np.asarray(condition_index)
        if index.shape != directions.shape:
            raise SettingsError("condition_index", f"expected {len(directions)} indices")
        self.velocity, self.time_ms, self.directions_deg, self.condition_index = velocity, time_ms, directions, index
        self.dt_ms = float(steps[0])
        self.dt = self.dt_ms / 1000.0
        self.n_time = len(time_ms)
        self.go_ms = check_real(go_ms, "go_ms")
        self.jitter_steps = int(round(check_real(jitter_ms, "jitter_ms", low=0.0) / self.dt_ms))
        self.sigma = check_real(sigma, "sigma", low=0.0)
        self.source = source
        self._go_step = int(np.searchsorted(time_ms, self.go_ms - 1e-9 * self.dt_ms))

    @classmethod
    def from_recording(cls, path: str | os.PathLike | None = None, *, velocity: str = "recording", **options):
        """The task of the M1 recording (``repalign.data.load_m1(path)``); ``FileNotFoundError`` without it.

        ``velocity="recording"`` takes the file's ``xhandspeed``/``yhandspeed``;
        ``velocity="bell"`` a :func:`bell_velocity` of each direction's mean movement duration.
        """
        from ..data import load_m1

        if velocity not in ("recording", "bell"):
            raise SettingsError("velocity", f"expected 'recording' or 'bell', got {velocity!r}")
        recording = load_m1(path)
        table = recording.conditions
        source = recording.provenance["source"]
        with np.load(source, allow_pickle=False) as archive:  # the kinematics are not part of the Dataset
            time_ms = archive["time_ms"]
            if velocity == "recording":
                v = np.stack([archive["xhandspeed"], archive["yhandspeed"]], axis=-1)
        if velocity == "bell":
            v = bell_velocity(time_ms, table["reach_direction_deg"], table["movement_duration_ms_mean"])
        return cls(v, time_ms, table["reach_direction_deg"].to_numpy(), condition_index=table["condition_index"].to_numpy(),
                   source=source, **options)

    @classmethod
    def synthetic(cls, duration_ms: float = 500.0, **options):
        """Without the file: 8 directions, the recording's time base, :func:`bell_velocity` targets."""
        time_ms = np.arange(-800.0, 401.0, 10.0)
        directions = np.arange(8) * 45.0
        velocity = bell_velocity(time_ms, directions, np.full(8, check_real(duration_ms, "duration_ms", low=0.0, inclusive=(False, True))))
        return cls(velocity, time_ms, directions, source="bell_velocity", **options)

    def __repr__(self):
        return f"ReachingTask({len(self.directions_deg)} directions, {self.n_time} steps of {self.dt_ms:g} ms)"

    def conditions(self):
        """One row per direction: ``condition_index`` and ``reach_direction_deg`` (the recording's columns)."""
        pd = import_pandas()
        return pd.DataFrame({"condition_index": self.condition_index, "reach_direction_deg": self.directions_deg})

    def _rows(self, table):
        if "reach_direction_deg" not in getattr(table, "columns", ()):
            raise SettingsError("conditions", "expected a table with a reach_direction_deg column")
        wanted = np.asarray(table["reach_direction_deg"], dtype=np.float64)
        match = np.abs(wanted[:, None] - self.directions_deg[None, :]) < 1e-9
        if not match.any(axis=1).all():
            raise SettingsError("conditions", f"directions {sorted(set(wanted[~match.any(axis=1)]))} are not the task's")
        return match.argmax(axis=1)

    def batch(self, size: int, *, seed: int) -> TaskBatch:
        """``size`` training trials: random directions and timing shifts, drawn with ``seed``."""
        size = check_count(size, "size", 1)
        rng = np.random.default_rng(check_seed(seed))
        rows = rng.integers(len(self.directions_deg), size=size)
        shifts = rng.integers(-self.jitter_steps, self.jitter_steps + 1, size=size)
        table = self.conditions().iloc[rows].reset_index(drop=True)
        table["shift_ms"] = shifts * self.dt_ms
        return self._build(table, rows, shifts, rng, record=False)

    def held_out(self, size: int, *, seed: int) -> TaskBatch:
        """The criterion's batch: ``size`` jittered trials (as :meth:`batch`) then one unjittered trial per condition.

        The conditions table's column ``trial_set`` says which is which (``"jittered"``,
        ``"recording"``); the recording trials are :meth:`trials`' (shift 0, all 121 bins, mask 1),
        in :meth:`conditions`' order. :meth:`accuracy` on this batch is the smaller of the two R²
        (see the module docstring). Without input noise the jittered trials are ``batch(size,
        seed=seed)``'s.
        """
        size = check_count(size, "size", 1)
        rng = np.random.default_rng(check_seed(seed))
        n = len(self.directions_deg)
        rows = np.concatenate([rng.integers(n, size=size), np.arange(n)])
        shifts = np.concatenate([rng.integers(-self.jitter_steps, self.jitter_steps + 1, size=size),
                                 np.zeros(n, dtype=np.int64)])
        table = self.conditions().iloc[rows].reset_index(drop=True)
        table["shift_ms"] = shifts * self.dt_ms
        table["trial_set"] = ["jittered"] * size + ["recording"] * n
        return self._build(table, rows, shifts, rng, record=False)

    def trials(self, conditions=None, *, repeats: int = 1, seed: int = 0) -> TaskBatch:
        """Recording trials on the recording's 121 bins (no shift), ``repeats`` of each row, condition-major."""
        table = self.conditions() if conditions is None else conditions
        repeats = check_count(repeats, "repeats", 1)
        rng = np.random.default_rng(check_seed(seed))
        rows = np.repeat(self._rows(table), repeats)
        out = table.loc[table.index.repeat(repeats)].reset_index(drop=True)
        out["condition_index"] = self.condition_index[rows]
        out["repeat"] = np.tile(np.arange(repeats), len(table))
        return self._build(out, rows, np.zeros(len(rows), dtype=np.int64), rng, record=True)

    def _build(self, table, rows, shifts, rng, record):
        size, n_time = len(rows), self.n_time
        source_step = np.arange(n_time)[:, None] - shifts[None, :]  # recording step shown at each step
        inside = (source_step >= 0) & (source_step < n_time)
        clipped = np.clip(source_step, 0, n_time - 1)
        theta = np.deg2rad(self.directions_deg[rows])
        x = np.zeros((n_time, size, 3))
        x[..., 0] = np.cos(theta)
        x[..., 1] = np.sin(theta)
        x[..., 2] = source_step >= self._go_step
        if self.sigma > 0:
            x += rng.standard_normal(x.shape) * (self.sigma / math.sqrt(self.dt_ms))
        y = self.velocity[clipped, rows[None, :]]
        periods = {"before_go": torch.from_numpy(source_step < self._go_step),
                   "after_go": torch.from_numpy(source_step >= self._go_step)}
        return TaskBatch(torch.from_numpy(x.astype(np.float32)), torch.from_numpy(y.astype(np.float32)),
                         torch.from_numpy(inside.astype(np.float32)), table, periods,
                         np.arange(n_time) if record else None)

    def accuracy(self, outputs: torch.Tensor, batch: TaskBatch) -> float:
        """Velocity R² (:func:`~repalign.tasks.r2_score`) over the masked steps.

        On a :meth:`held_out` batch (a ``trial_set`` column): the smaller of the R² over its
        jittered trials and the R² over its recording trials (pooled over the conditions and all
        their bins, as ``velocity_fit(...).r2``).
        """
        if "trial_set" not in getattr(batch.conditions, "columns", ()):
            return r2_score(outputs, batch.targets, batch.mask)
        values = []
        for name in ("jittered", "recording"):
            keep = torch.tensor((batch.conditions["trial_set"] == name).to_numpy())
            if bool(keep.any()):
                values.append(r2_score(outputs[:, keep], batch.targets[:, keep], batch.mask[:, keep]))
        if not values:
            raise SettingsError("batch", "expected trial_set values 'jittered' or 'recording'")
        return min(values)

r"""Recording task-trained networks under a task's recording conditions: :func:`record`.

The seed code records a model by running it on trials built from the data's conditions and
cutting the recording window out of the states (nacloos/diffscore ``diffscore/training/record.py``:
``data_aligned_model_inputs`` builds one trial per condition, ``record_ngym_lit`` runs the model
under ``torch.no_grad`` and keeps ``model.states[int(start / dt):int(stop / dt)]``); the data side
averages each unit's trials per condition and bins them in 50 ms (``diffscore/dataset/mante2013.py``,
``_process_unit`` and ``downsample``). Here, for a network ``N`` and a task:

- the task's fixed-timing trials (``task.trials(conditions, repeats=R, seed=seed)``: input noise
  drawn from ``numpy.random.default_rng(seed)`` by the task) run through ``N`` with its recurrent
  noise drawn from ``torch.Generator().manual_seed(seed)``;
- the activity :math:`a_{t,(c,r)}` (``activity="rate"``: what the readout sees; ``"state"``: the seed
  code's recorded state, :meth:`repalign.models.StackedNetworks.forward`) is averaged over the
  repeats of each condition on the recording bins,

  .. math:: x_{t c u} = \frac1R \sum_{r=1}^{R} a_{s_t + \ell,\,(c, r),\,u},

  with :math:`s_t` the task's recording steps (``batch.record_steps``, one per bin of the data: 15
  bins of 50 ms over the Mante stimulus, the 121 bins of the M1 recording) and :math:`\ell` the
  response ``lag`` in steps (a window that leaves the trial is refused);
- the result is a :class:`repalign.data.Dataset` ``(time, condition, unit)`` whose conditions table
  holds the task's columns, one row per requested condition in the requested order (so recording a
  shuffled table gives the shuffled recording, and model and data align by value), ``dt`` the
  task's, and in its provenance the settings (architecture, network seed, seed, activity, repeats,
  lag) and the recorded steps.

Deliberate differences from the seed code: noise is averaged over ``repeats`` seeded trials per
condition (the seed records one noisy trial per condition); the window is given in steps of the
task (``record_steps``) rather than in ms from the trial start; the recorded activity at step ``t``
is the one after the update at ``t`` (:mod:`repalign.models.networks`). A stack draws the recurrent
noise of its networks together (:meth:`repalign.models.StackedNetworks.forward`), so with noise a
network recorded within its stack and alone differ by the noise draw only (same distribution).
"""

from __future__ import annotations

import numpy as np
import torch

from repalign._checks import SettingsError, check_choice, check_count, check_seed, progress_bar
from repalign.data import Dataset
from repalign.models import RECORDS, RecurrentNetwork, StackedNetworks

__all__ = ["record", "recording_window"]


def recording_window(batch, lag: int = 0) -> np.ndarray:
    """The time steps recorded from ``batch``: its ``record_steps`` shifted by ``lag`` (checked in range).

    >>> from repalign.tasks import ManteTask
    >>> recording_window(ManteTask().trials(), lag=2).tolist()[:3]
    [9, 10, 11]
    """
    if isinstance(lag, (bool, np.bool_)) or not isinstance(lag, (int, np.integer)):
        raise SettingsError("lag", f"expected an integer number of steps, got {lag!r}")
    if batch.record_steps is None:
        raise SettingsError("task", "its trials() gave no record_steps: not recording trials")
    steps = np.asarray(batch.record_steps, dtype=np.int64) + int(lag)
    if steps.min() < 0 or steps.max() >= batch.n_time:
        low = -int(np.min(batch.record_steps))
        high = batch.n_time - 1 - int(np.max(batch.record_steps))
        raise SettingsError("lag", f"the window leaves the trial's {batch.n_time} steps: expected a lag in "
                                   f"[{low}, {high}], got {lag}")
    return steps


def _members(networks) -> list:
    """``[(network, k or None)]``: each network to record (k: its index in a stack)."""
    items = list(networks) if isinstance(networks, (list, tuple)) else [networks]
    if not items:
        raise SettingsError("networks", "expected at least one network, got none")
    for item in items:
        if not isinstance(item, (RecurrentNetwork, StackedNetworks)):
            raise SettingsError("networks", f"expected a RecurrentNetwork, a StackedNetworks or a list of them, "
                                            f"got {type(item).__name__}")
    return items


def _condition_table(batch, n_conditions: int, repeats: int):
    table = batch.conditions.iloc[::repeats].reset_index(drop=True)
    if "repeat" in table.columns:
        table = table.drop(columns="repeat")
    if len(table) != n_conditions:  # pragma: no cover - a task breaking the protocol
        raise SettingsError("task", f"trials() gave {batch.size} trials, expected {n_conditions} × {repeats}")
    return table


def record(networks, task, conditions=None, *, repeats: int = 10, seed: int = 0, activity: str = "rate",
           lag: int = 0, progress: bool | None = None):
    """Record networks under ``task``'s recording conditions, noise averaged over ``repeats`` seeded trials.

    Args:
        networks: a :class:`~repalign.models.RecurrentNetwork`, a :class:`~repalign.models.StackedNetworks`
            or a list of them.
        task: a :class:`~repalign.tasks.Task` (``trials`` and ``record_steps``).
        conditions: the conditions table to record (default ``task.conditions()``); rows in any order.
        repeats: trials per condition (their activity is averaged).
        seed: the task's input noise (``task.trials(seed=seed)``) and the networks' recurrent noise
            (``torch.Generator().manual_seed(seed)``).
        activity: ``"rate"`` (default) or ``"state"`` (:meth:`repalign.models.StackedNetworks.forward`).
        lag: response lag in time steps: the window is ``record_steps + lag``.
        progress: progress over the networks (:func:`repalign._checks.progress_bar`).

    Returns:
        One :class:`~repalign.data.Dataset` ``(time, condition, unit)`` for a single
        :class:`~repalign.models.RecurrentNetwork`; otherwise a dict keyed by ``((cell, activation), seed)``
        (the architecture as in ``repalign.models.ARCHITECTURES`` and the network's seed), in stack order.

    Example:
        >>> from repalign.tasks import ManteTask
        >>> from repalign.models import RecurrentNetwork, StackedNetworks
        >>> net = RecurrentNetwork("CTRNN", "ReLU", 7, 3, seed=0, hidden_size=16)
        >>> ds = record(net, ManteTask(), repeats=2, seed=0)
        >>> ds.shape, ds.dt, ds.provenance["architecture"], list(ds.conditions.columns)[:3]
        ((15, 72, 16), 0.05, ['CTRNN', 'ReLU'], ['context', 'motion', 'colour'])
        >>> zoo = record(StackedNetworks("LSTM", "Tanh", 7, 3, seeds=[1, 2], hidden_size=8), ManteTask(), repeats=1)
        >>> list(zoo)
        [(('LSTM', 'Tanh'), 1), (('LSTM', 'Tanh'), 2)]
    """
    items = _members(networks)
    repeats = check_count(repeats, "repeats", 1)
    seed = check_seed(seed)
    check_choice(activity, "activity", RECORDS)
    table = task.conditions() if conditions is None else conditions
    n_conditions = len(table)
    if n_conditions < 1:
        raise SettingsError("conditions", "expected at least one condition, got an empty table")
    batch = task.trials(table, repeats=repeats, seed=seed)
    steps = recording_window(batch, lag)
    recorded_table = _condition_table(batch, n_conditions, repeats)
    datasets = {}
    bar = progress_bar(items, enabled=progress, total=len(items), description="record", unit="stack")
    for item in bar:
        settings = item.settings()
        generator = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            _, states = item(batch.inputs, noise_seed=generator, record=activity)
        states = states[None] if isinstance(item, RecurrentNetwork) else states  # (K, time, trial, hidden)
        seeds = [settings["seed"]] if isinstance(item, RecurrentNetwork) else settings["seeds"]
        window = states[:, torch.as_tensor(steps)].to(torch.float64).numpy()
        K, T, _, H = window.shape
        means = window.reshape(K, T, n_conditions, repeats, H).mean(axis=3)
        for k, network_seed in enumerate(seeds):
            architecture = (settings["cell"], settings["activation"])
            if (architecture, int(network_seed)) in datasets:
                raise SettingsError("networks", f"two networks are {architecture} with seed {network_seed}: "
                                                "their recordings would share one key")
            provenance = {
                "source": "repalign.recording.record", "task": repr(task), "architecture": list(architecture),
                "network_seed": int(network_seed), "seed": seed, "activity": activity, "repeats": repeats,
                "lag": int(lag), "lag_s": int(lag) * float(task.dt), "record_steps": steps.tolist(),
                "hidden_size": settings["hidden_size"], "tau": settings["tau"], "noise_std": settings["noise_std"],
            }
            datasets[(architecture, int(network_seed))] = Dataset(means[k], conditions=recorded_table,
                                                                  dt=float(task.dt), provenance=provenance)
    if isinstance(networks, RecurrentNetwork):
        return next(iter(datasets.values()))
    return datasets

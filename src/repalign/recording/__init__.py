"""Recording task-trained networks and checking their behaviour (issue 12).

- :func:`record` (:mod:`repalign.recording.activity`): a network's activity under a task's recording
  conditions, noise averaged over seeded repeats, as a :class:`repalign.data.Dataset`
  ``(time, condition, unit)`` aligned with the data by its task variables.
- :func:`psychometric`, :func:`velocity_fit` (:mod:`repalign.recording.behaviour`): psychometric curves
  with fitted logistic slopes (context gating) for the Mante task; predicted against true hand
  velocity for reaching. Each returns a :class:`repalign.results.Result` with ``.plot()``.

>>> from repalign.recording import record
>>> from repalign.models import RecurrentNetwork
>>> from repalign.tasks import ManteTask
>>> record(RecurrentNetwork("LowPassCTRNN", "Tanh", 7, 3, seed=0, hidden_size=4), ManteTask(), repeats=1).shape
(15, 72, 4)
"""

from repalign.recording.activity import record, recording_window
from repalign.recording.behaviour import (
    GATING_RATIO,
    MIN_SWING,
    Psychometric,
    VelocityFit,
    logistic_fit,
    psychometric,
    velocity_fit,
)

__all__ = [
    "GATING_RATIO",
    "MIN_SWING",
    "Psychometric",
    "VelocityFit",
    "logistic_fit",
    "psychometric",
    "record",
    "recording_window",
    "velocity_fit",
]

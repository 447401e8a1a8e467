"""Tasks that networks are trained on and recorded under the recordings' conditions.

- :class:`Task`, :class:`TaskBatch` (:mod:`repalign.tasks._protocol`): the protocol — seeded
  time-major batches (inputs, targets, mask, conditions table, periods), the recording
  conditions and fixed-timing trials, a success measure and, optionally, the held-out batch on
  which a trainer reads the criterion (``held_out``; default: ``batch``'s trials). Bring your
  own task by implementing it.
- :class:`ManteTask` (:mod:`repalign.tasks.mante`): context-dependent integration (Mante et al.
  2013) as the seed paper's code defines it; conditions align with ``data.mante_like``'s.
- :class:`ReachingTask` (:mod:`repalign.tasks.reaching`): centre-out reaching on the M1
  recording's time base, directions and hand velocity (``data.load_m1``).
- :func:`r2_score`: masked R² of outputs against targets; :func:`held_out_batch`: a task's held-out
  batch (its ``held_out``, else ``batch``).

Example:
    >>> from repalign.tasks import ManteTask
    >>> ManteTask().batch(4, seed=0).inputs.shape
    torch.Size([40, 4, 7])
"""

from ._protocol import Task, TaskBatch, held_out_batch, r2_score
from .mante import ManteTask
from .reaching import ReachingTask, bell_velocity

__all__ = ["Task", "TaskBatch", "held_out_batch", "r2_score", "ManteTask", "ReachingTask", "bell_velocity"]

r"""Optimize noise towards a reference: follow the gradient of a similarity measure.

The method of the seed paper (appendix B.2): start from Gaussian noise ``Y`` shaped like the
reference ``X``, update it with Adam to raise its similarity score with ``X`` (or lower a
distance), stop once the score reaches a threshold, and watch what ``Y`` learns on the way.

Problem, for each run r with its own free tensor :math:`Y_r` (shape of X, or another unit count):

.. math::

    \max_{Y_r}\; s(X, Y_r) \quad\text{(a score)} \qquad\text{or}\qquad
    \min_{Y_r}\; d(X, Y_r) \quad\text{(a distance)}

Algorithm (:func:`optimize`, settings checked once as :class:`OptimizeSettings`):

1. ``Y_r(0)``: standard Gaussian noise (the paper's choice; ``init_scale`` rescales it),
   drawn from ``torch.Generator().manual_seed(seed_r)`` in float64 on the CPU, then cast to
   ``dtype`` and moved to ``device``, so the start does not depend on either.
2. All runs live in one tensor ``Y`` of shape ``(n_measures * n_runs, *shape)`` updated by one
   optimizer on the loss :math:`L = \sum_r \mp v_r(Y_r)` (−score, +distance). Each run's value
   depends on its own slice only, and Adam and SGD act element-wise, so every run follows
   exactly the trajectory it would follow alone (Adam is torch's fused implementation where
   available). A registry measure sees the runs in batched calls: on an accelerator all at once; on
   the CPU a few at a time (about 16 MB of Y per call: a call over many megabytes gets its
   temporaries as fresh pages from the operating system, which made one call for 16 runs slower
   than 16 calls), and, when ``threads`` > 1 and runs hold at least 1 MB, in parallel, one
   run per thread with ``torch.set_num_threads(1)`` while they are evaluated (restored after
   each step): independent runs use the cores better than LAPACK's factorizations (eigh,
   Cholesky) do. By default the whole loop runs on one torch and BLAS/OpenMP thread
   (:mod:`repalign._threads`, restored when :func:`optimize` returns): this library's problems
   are small, and on a machine whose cores other processes share, multi-threaded factorizations
   were many times slower (``bench/bench_threads.py``). A user's callable
   always gets all its active runs in one call, in order, on the calling thread. Each call's
   backward follows its forward at once; the gradients are written into ``Y.grad``.
3. At every step the values are checked: a non-finite value or gradient raises
   :class:`FloatingPointError` naming the step, the run and the measure (nothing is clipped or
   replaced). A run whose value reaches ``stop_at`` is frozen (its slice is restored after each
   optimizer step, whatever the optimizer's momentum) and the others go on.
4. Every ``record_every`` steps (and at step 0, at each run's stopping step and at the last
   step) the value of each active run and the trackers' outputs are appended to a tidy table (a
   tracker with its own ``record_every`` is computed at the multiples of it, NaN in between).

Runs are numbered ``r = m * n_runs + k`` for measure m and seed index k; run r starts from the
noise of seed ``seeds[k]``, so every measure starts from the same noise (paired comparisons).

Trackers watch the runs without steering them: ``tracker(reference, Y) -> {column: values}``
(or one tensor of values, named by the tracker's ``name``), called without gradient at
recording steps on the active runs, with ``reference`` a tensor shaped like X and ``Y`` the
``(batch, *shape)`` stack; each value has one entry per run in the batch.

Measures: a registry name, a :class:`~repalign.registry.Measure`, or a user callable
``f(reference, Y) -> (batch,) tensor`` that is differentiable in ``Y``. The direction comes
from ``Measure.kind``; for a callable from ``maximize=``, else its attribute ``maximize``
(bool) or ``kind`` ("score"/"distance"). A callable with ``batched = False`` is called for
each run separately (``Y`` then has a batch of one) instead of once for all. Its ``name`` attribute (else
``__name__``) labels it in the table and in checkpoints.

Checkpoints (``checkpoint=path``, :mod:`repalign.optimization.checkpoint`): every
``checkpoint_every`` steps and at the end, the state
at the start of a step — ``Y``, the optimizer's state dict, the step, which runs are frozen and
when they stopped, the recorded rows, the torch CPU random state (restored on resuming, for a
measure or tracker that draws random numbers) and the settings — is written
with :func:`torch.save` (tensors and plain Python values only; written to a temporary file and
renamed, so a crash never leaves half a file) and read back with ``weights_only=True``. If the
file exists when :func:`optimize` starts and its settings match, the run resumes from it; on
the same CPU (same torch, same thread count) the result is bit-identical to an uninterrupted
run. Settings that differ raise ``ValueError`` naming ``checkpoint`` and listing each difference
(``max_steps``, ``checkpoint_every``, ``device``, ``progress`` and ``threads`` may change; a
user callable is identified by its name; a tracker by its name and, when it has a method
``settings()`` as :class:`~repalign.trackers.PCCapture` and :class:`~repalign.trackers.Decoding`
do, by those settings, one by one). The reference and an explicit ``init`` are identified by a
SHA-256 of their float64 values. A checkpoint that holds a finished run is returned as it is,
with a warning saying so.

Defaults (:class:`OptimizeSettings`, shared by the ``optimize`` experiment and the command line):
the seed paper's loop (nacloos/diffscore, ``diffscore/training/measure_optim.py``): Adam, lr 0.1, at
most 1000 steps, standard Gaussian noise, float32, every step recorded (the seed code keeps every
step's data; at lr 0.1 most PCs are captured within the first ten steps, so that a coarser record
would read their thresholds off the first interval: give a costly tracker its own ``record_every``).
``dtype`` defaults to the reference's for a float32/float64 torch tensor and to float32 otherwise:
about twice as fast as float64 on a CPU (and far faster on a GPU) and enough to follow the
trajectory; values are recorded in float64 either way (``dtype="float64"`` for float64 throughout).

Modules: :mod:`~repalign.optimization.settings` (:class:`OptimizeSettings`),
:mod:`~repalign.optimization.objectives` (measures, callables and trackers),
:mod:`~repalign.optimization.steps` (evaluation in chunks or threads, checks, recorded rows),
:mod:`~repalign.optimization.loop` (:func:`optimize` and the step), :mod:`~repalign.optimization.checkpoint`
and :mod:`~repalign.optimization.result` (:class:`OptimizationResult`).
"""

from .loop import optimize
from .result import OptimizationResult
from .settings import OptimizeSettings

__all__ = ["optimize", "OptimizationResult", "OptimizeSettings"]

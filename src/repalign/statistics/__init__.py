r"""Statistics for any pair: bootstrap confidence intervals and permutation nulls, batched.

For any catalogue measure and two recordings X (the reference) and Y (a model, or another recording):

- :func:`bootstrap` scores the measure on ``n_resamples`` resamples of the resampling units: whole
  conditions with all their time bins (``over="conditions"``, 3D ``(time, condition, unit)`` data; each
  row is a condition for 2D data), rows of the ``(sample, unit)`` matrix (``over="samples"``), or single
  trials within each condition (``over="trials"``, X a :class:`~repalign.data.Trials`: each condition
  keeps its trial count, the resampled trials are averaged and scored against the fixed Y).

  By default conditions and samples are **half-sampled** (``sampling="half"``: ⌊n/2⌋ distinct units
  per resample, without replacement, the delete-d jackknife of Shao & Wu 1989), the standard error is
  the resampled values' standard deviation times √(m/(n − m)), and the interval is the **normal**
  interval estimate ± Φ⁻¹((1 + γ)/2)·SE (γ = ``confidence_level``). The classical bootstrap
  (``sampling="replacement"``, intervals ``"percentile"``, ``"basic"``, ``"normal"`` or ``"bca"``)
  remains an option, and is what trials use. Why not by default: a condition drawn twice adds no
  new direction, so a with-replacement resample acts like fewer conditions, and measures that count
  directions move with it. Measured on a generator with 40 i.i.d. conditions × 5 bins (200 draws for
  the true spread, 40 for the intervals; the standard errors are tested in ``tests/test_statistics.py``):
  with 100 and 60 units, angular Procrustes resamples rise by about 12 standard deviations, the
  bootstrap standard error is 2.4
  times the true spread, and every percentile interval misses the estimate (CKA: 95 % of them; with
  10 and 8 units, 93 % for angular Procrustes). Half-sampling gives standard errors within 0.85–1.12
  of the true spread for CKA, angular Procrustes and ridge-CV in both regimes and normal intervals
  that cover the mean estimate 90–100 % of the time.

  Cross-validated measures (ridge-CV) are resampled **out of fold** by default (``refit=False``): each
  fold is fitted once on its original training conditions, and the resample weights the test
  conditions' squared residuals and totals. Refitting every resample (``refit=True``) trains on fewer
  distinct conditions: at 100 and 60 units R² then falls by 0.25 and its standard error is 3.4 times
  the true spread; out of fold it is 0.89–0.99 (with replacement) of it.
- :func:`permutation_test` shuffles Y's conditions (one permutation of the condition axis, the same for
  every time bin; of the rows for 2D data) relative to X: the null distribution of the measure when
  the pairing of conditions carries no information. Its mean is the measure's chance level on these
  data. The p-value is (1 + #{null values at least as extreme as the estimate}) / (1 + n_resamples),
  "at least as extreme" meaning ≥ for scores and ≤ for distances (the measure's ``kind``); null values
  within a relative 1e-9 of the estimate count as ties (the null's batched arithmetic may place a
  permutation that reproduces the data, such as the identity, a few ulps on the other side).
- :func:`score` returns both with the estimate.
- :func:`resample_counts` gives the resampling multiplicities (half-sampling or with replacement), so
  that callers scoring several models or measures use the same resamples.

Computation: one batched call for all resamples, chunked to bound memory (about 256 MB per chunk), on one
thread by default (the library's thread policy: small problems gain little from more threads and lose much
on a shared machine; ``threads=`` asks for more).
Resampling conditions amounts to integer weights on them (0 or 1 for half-sampling); linear CKA (Gretton HSIC), NBS and the
Procrustes distances, and ridge / linear regression cross-validated over conditions are computed from
per-condition sufficient statistics summed with these weights (see ``_fast.py``); every other measure
scores the materialised resamples with :meth:`~repalign.registry.Measure.batch`. A cross-validated
measure keeps each condition in the fold it has in the original data: copies of a drawn condition are
never split between training and test (materialising the resample and cross-validating it would). A
resample where the measure is undefined (e.g. CKA of a resample that drew one distinct condition of a
one-bin dataset) gives NaN on the sufficient-statistics path and is left out of the standard error and
the interval (counted in ``n_undefined``); on the generic path the measure's error is raised. Resamples and
permutations are computed in float64 on the CPU, whatever the inputs' dtype and device (the estimate is the
measure called on the inputs as given).

Example:
    >>> import numpy as np
    >>> from repalign import statistics
    >>> rng = np.random.default_rng(0)
    >>> z = rng.normal(size=(5, 30, 3))                      # (time, condition, latent)
    >>> X = z @ rng.normal(size=(3, 20)) + 0.5 * rng.normal(size=(5, 30, 20))
    >>> Y = z @ rng.normal(size=(3, 10)) + 0.5 * rng.normal(size=(5, 30, 10))
    >>> result = statistics.score("cka", X, Y, n_resamples=200, n_permutations=200)
    >>> low, high = result.bootstrap.interval
    >>> bool(low < result.estimate < high), result.permutation.p_value < 0.01
    (True, True)
"""

from __future__ import annotations

import numpy as np
import torch

from .._checks import SettingsError, check_choice, check_count, check_real, check_seed, progress_bar
from .._threads import check_threads, limit_threads
from ..inputs import as_pair
from ..registry import Measure, resolve
from . import _fast
from ._results import Bootstrap, Permutation, Score, normal_interval, resampled_standard_error

__all__ = ["Bootstrap", "Permutation", "Score", "bootstrap", "normal_interval", "permutation_test",
           "resample_counts", "resampled_standard_error", "score"]

OVER = ("conditions", "samples", "trials")
METHODS = ("percentile", "basic", "normal", "bca")
SAMPLINGS = ("replacement", "half")
CHUNK_BYTES = 256 * 2**20


def resample_counts(n: int, n_resamples: int, seed: int = 0, sampling: str = "half") -> np.ndarray:
    """Resampling multiplicities: ``(n_resamples, n)`` int64, row b how often each of n items is in resample b.

    ``sampling="replacement"`` (the bootstrap): each row is a multinomial draw of n items with replacement
    (equal probabilities). ``"half"`` (half-sampling, the delete-d jackknife with d = n − ⌊n/2⌋): each row
    holds ⌊n/2⌋ distinct items once, drawn without replacement. Draws come from
    ``np.random.default_rng(seed)``: the same arguments give the same counts, so that several models or
    measures can be scored on the same resamples (pass them as ``counts=``).

    >>> counts = resample_counts(5, 3, seed=0, sampling="replacement")
    >>> counts.shape, counts.sum(axis=1).tolist()
    ((3, 5), [5, 5, 5])
    >>> resample_counts(6, 2, seed=0).tolist()  # half-sampling, the default
    [[0, 1, 1, 1, 0, 0], [1, 0, 1, 0, 0, 1]]
    """
    n, n_resamples = check_count(n, "n", 1), check_count(n_resamples, "n_resamples", 1)
    sampling = check_choice(sampling, "sampling", SAMPLINGS)
    rng = np.random.default_rng(check_seed(seed))
    if sampling == "half":
        if n < 2:
            raise SettingsError("n", f"half-sampling needs at least 2 items, got {n}")
        chosen = np.argsort(rng.random((n_resamples, n)), axis=1)[:, : n // 2]
        counts = np.zeros((n_resamples, n), dtype=np.int64)
        np.put_along_axis(counts, chosen, 1, axis=1)
        return counts
    return rng.multinomial(n, np.full(n, 1.0 / n), size=n_resamples).astype(np.int64)


def _checked_common(m, n_resamples, over, seed, minimum=2):
    m = resolve(m, "measure")
    n_resamples = check_count(n_resamples, "n_resamples", minimum)
    over = check_choice(over, "over", OVER)
    return m, n_resamples, over, check_seed(seed)


def _grid(X, Y, over: str):
    """X, Y as float64 (T, C, U) grids of resampling units (C), with the original layout."""
    if hasattr(X, "trial_counts"):
        raise SettingsError("X", "single trials (a Trials) are resampled with over='trials'; for conditions or "
                                 "samples pass X.average()")
    dx, dy, _ = as_pair(X, Y)
    x = dx.values.detach().to(device="cpu", dtype=torch.float64)
    y = dy.values.detach().to(device="cpu", dtype=torch.float64)
    n_cond = dx.n_conditions
    if over == "conditions" and n_cond is not None:
        t = dx.n_samples // n_cond
        return x.reshape(t, n_cond, -1), y.reshape(t, n_cond, -1), n_cond
    return x[None], y[None], n_cond  # one row per unit: 2D data, or the rows of 3D data (over="samples")


def _materialised(grid: torch.Tensor, index: torch.Tensor, three_d: bool) -> torch.Tensor:
    """Resamples (b, T, C, U) gathered from grid (T, C, U) by ``index`` (b, C); (b, C, U) for 2D."""
    taken = grid[:, index].permute(1, 0, 2, 3)
    return taken.contiguous() if three_d else taken[:, 0].contiguous()


def _chunks(total: int, per_item_bytes: int, batch_size: int | None, budget: int = CHUNK_BYTES):
    size = batch_size or max(1, budget // max(per_item_bytes, 1))
    return [(lo, min(lo + size, total)) for lo in range(0, total, size)]


def _run_chunks(chunks, compute, progress, description):
    bar = progress_bar(enabled=progress, total=len(chunks), description=description, unit="chunk")
    parts = []
    try:
        for lo, hi in chunks:
            parts.append(np.asarray(compute(lo, hi), dtype=np.float64).reshape(-1))
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    return np.concatenate(parts)


def _estimate(m: Measure, X, Y) -> float:
    with torch.no_grad():
        return float(m(X, Y))  # a float, or a 0-d tensor for torch input


def _index_from_counts(counts: np.ndarray) -> torch.Tensor:
    """Row b lists each unit as often as counts[b] says (every row of counts has the same sum)."""
    b, n = counts.shape
    return torch.as_tensor(np.repeat(np.tile(np.arange(n), b), counts.ravel()).reshape(b, -1))


def _checked_counts(counts, n_units: int, n_resamples: int, what: str, sampling: str = "replacement") -> np.ndarray:
    counts = np.asarray(counts)
    if counts.ndim != 2 or counts.shape[1] != n_units or counts.dtype.kind not in "iu":
        raise SettingsError("counts", f"expected integer multiplicities of shape (n_resamples, {n_units}) (one "
                                      f"column per {what}), got {counts.dtype} of shape {counts.shape}")
    if counts.shape[0] < 2:
        raise SettingsError("counts", f"expected at least 2 resamples, got {counts.shape[0]}")
    if sampling == "half":
        if not np.isin(counts, (0, 1)).all() or (counts.sum(axis=1) != n_units // 2).any():
            raise SettingsError("counts", f"with sampling='half' each row holds {n_units // 2} ones (distinct "
                                          f"{what}s) and zeros")
    elif (counts < 0).any() or (counts.sum(axis=1) != n_units).any():
        raise SettingsError("counts", f"each row must be non-negative and sum to {n_units} (a resample of all "
                                      f"{n_units} {what}s with replacement)")
    return counts.astype(np.int64)


def bootstrap(measure, X, Y, *, n_resamples: int = 1000, confidence_level: float = 0.95, over: str = "conditions",
              seed: int = 0, counts=None, method: str = "normal", sampling: str | None = None,
              refit: bool = False, batch_size: int | None = None, progress: bool | None = None,
              threads: int | None = None) -> Bootstrap:
    """The measure on (X, Y) with a bootstrap distribution: every resample scored in one batched computation.

    Args:
        measure: a name (``"cka"``, ``"angular-procrustes"``, ``"ridge-cv"``...) or a Measure.
        X, Y: the reference and the compared data, ``(time, condition, unit)`` or ``(sample, unit)`` (arrays,
            tensors, Datasets); for ``over="trials"`` X is a :class:`~repalign.data.Trials` and Y holds one
            condition per row of ``X.conditions``, in that order.
        n_resamples: B ≥ 2.
        confidence_level: γ in (0, 1) of the interval.
        over: ``"conditions"``, ``"samples"`` or ``"trials"`` (see the module documentation).
        seed: of the draws (:func:`resample_counts`; for trials, per condition from the same generator).
        counts: the caller's multiplicities instead of drawing them, ``(B, n)`` (n conditions or samples;
            for trials ``(B, n_trials)``, each condition's trials summing to its trial count).
        method: the interval (:attr:`Bootstrap.interval`): ``"percentile"``, ``"basic"``, ``"normal"``
            (estimate ± z·standard error), or ``"bca"`` (bias-corrected and accelerated, Efron 1987: the
            acceleration from a jackknife that leaves out one condition, sample or trial at a time, n more
            evaluations). With ``sampling="half"`` only ``"normal"``.
        sampling: ``"half"`` or ``"replacement"`` (the bootstrap). Default: ``"half"`` for conditions and
            samples with the normal interval; ``"replacement"`` for trials (the only choice there), for the
            other intervals, and for ``counts`` whose rows sum to n. ``"half"``: half-sampling without replacement, the
            delete-d jackknife: ⌊n/2⌋ distinct conditions per resample, standard error sd·√(m/(n − m)),
            normal interval). Conditions drawn twice act like fewer conditions: with many units per
            condition, angular Procrustes then rises and its bootstrap standard error is about 2.4 times
            the true spread (module documentation); half-sampling has no duplicates.
        refit: cross-validated measures only. False (default): each fold's fit on all its original
            training conditions, the test conditions' residuals resampled (the out-of-fold bootstrap);
            True: every resample refitted on its weighted training conditions (fewer distinct conditions:
            R² falls and its spread is overestimated, module documentation).
        batch_size: resamples per chunk (default: about 256 MB per chunk).
        progress: a progress bar per chunk (None: only for long runs).
        threads: torch and BLAS threads for the computation (the library's thread policy,
            :func:`repalign._threads.limit_threads`: None keeps an enclosing limit, else 1), restored after.

    Returns:
        :class:`Bootstrap`: ``estimate`` (the measure on the data as given; on X.average() for trials),
        ``values``, ``standard_error``, ``interval``, ``table``.

    Raises:
        SettingsError: a bad argument (named).
        ValueError: bad data (the validator's message, naming X or Y), or a cross-validated measure whose
            folds would split a resampled condition.

    >>> import numpy as np
    >>> rng = np.random.default_rng(1)
    >>> X = rng.normal(size=(4, 12, 6)); Y = X[..., :3] + rng.normal(size=(4, 12, 3))
    >>> result = bootstrap("cka", X, Y, n_resamples=100)
    >>> result.values.shape, bool(result.standard_error > 0)
    ((100,), True)
    """
    with limit_threads(check_threads(threads)):
        return _bootstrap(measure, X, Y, n_resamples=n_resamples, confidence_level=confidence_level, over=over,
                          seed=seed, counts=counts, method=method, sampling=sampling, refit=refit,
                          batch_size=batch_size, progress=progress)


def _bootstrap(measure, X, Y, *, n_resamples, confidence_level, over, seed, counts, method, sampling, refit,
               batch_size, progress):
    m, n_resamples, over, seed = _checked_common(measure, n_resamples, over, seed)
    confidence_level = check_real(confidence_level, "confidence_level", low=0.0, high=1.0, inclusive=(False, False))
    method = check_choice(method, "method", METHODS)
    if sampling is None:  # half-sampling for normal intervals of conditions or samples; counts say their own
        given_sums = None if counts is None else np.asarray(counts).sum(axis=-1)
        full = given_sums is not None and np.ndim(counts) == 2 and given_sums.size and \
            (given_sums == np.shape(counts)[1]).all()
        sampling = "replacement" if over == "trials" or method != "normal" or full else "half"
    sampling = check_choice(sampling, "sampling", SAMPLINGS)
    if sampling == "half" and method != "normal":
        raise SettingsError("method", f"half-sampling gives a standard error, not a distribution of the estimate: "
                                      f"use method='normal', got {method!r}")
    if refit not in (True, False):
        raise SettingsError("refit", f"expected True or False, got {refit!r}")
    if batch_size is not None:
        batch_size = check_count(batch_size, "batch_size", 1)
    settings = {"confidence_level": confidence_level, "over": over, "seed": seed, "method": method,
                "sampling": sampling}
    if over == "trials":
        if sampling != "replacement":
            raise SettingsError("sampling", "trials are resampled with replacement within their conditions: use "
                                            "sampling='replacement' with over='trials'")
        estimate, values, jackknife = _trials_bootstrap(m, X, Y, n_resamples, seed, counts, batch_size, progress,
                                                        method == "bca")
        return Bootstrap(m.name, m.kind, estimate, values, jackknife=jackknife, **settings)
    x, y, n_cond = _grid(X, Y, over)
    estimate = _estimate(m, X, Y)
    n = x.shape[1]
    what = "condition" if over == "conditions" and n_cond is not None else "sample"
    if counts is None:
        counts = resample_counts(n, n_resamples, seed, sampling)
    else:
        counts = _checked_counts(counts, n, n_resamples, what, sampling)
    kind = _fast.fast_kind(m, x, y)
    if kind is None and m.params.get("cv") is not None:
        raise SettingsError("measure", f"{m.name} is cross-validated, and materialised resamples would put copies "
                                       f"of one {what} in training and test folds; use aggregate='pooled' "
                                       f"(computed with each {what} kept in its fold)")
    stats = None if kind is None else _statistics(m, kind, x, y, n_cond, refit)

    def score_counts(rows: np.ndarray, description: str) -> np.ndarray:
        """The measure on each row of multiplicities (rows of equal sums), chunk by chunk."""
        if stats is None:
            three_d = over == "conditions" and n_cond is not None
            index = _index_from_counts(rows)
            per_item = 8 * x.shape[0] * n * (x.shape[2] + y.shape[2]) * 2

            def compute(lo, hi):
                with torch.no_grad():
                    return m.batch(_materialised(x, index[lo:hi], three_d), _materialised(y, index[lo:hi], three_d))
            budget = CHUNK_BYTES
        else:
            per_item, budget = stats.bytes_per_resample(), stats.chunk_bytes
            weights = torch.as_tensor(rows, dtype=torch.float64)

            def compute(lo, hi):
                with torch.no_grad():
                    return stats.values(weights[lo:hi])
        return _run_chunks(_chunks(len(rows), per_item, batch_size, budget), compute, progress, description)

    values = score_counts(counts, f"bootstrap {m.name}")
    jackknife = None
    if method == "bca":  # leave one unit out: weights 1 everywhere but 0 on that unit
        jackknife = score_counts(1 - np.eye(n, dtype=np.int64), f"jackknife {m.name}")
    return Bootstrap(m.name, m.kind, estimate, values, jackknife=jackknife, n_units=n, **settings)


def _statistics(m, kind, x, y, n_cond, refit=True):
    if kind == "ridge":
        n_rows = x.shape[0] * x.shape[1]
        folds = _fast.folds_of_units(m, n_rows, n_cond, x.shape[0], x.shape[1])
        return _fast.RidgeStatistics(m, x, y, folds, refit)
    return _fast.LinearStatistics(m, kind, x, y)


def _permutable_ridge(m, x, y, n_cond):
    """The ridge statistics when each permuted unit keeps its rows in one fold; None otherwise (a split by
    samples of 3D data: the generic path permutes the data themselves and folds them as the measure does)."""
    try:
        with torch.no_grad():
            return _statistics(m, "ridge", x, y, n_cond)
    except ValueError:
        return None


def _trials_bootstrap(m, X, Y, n_resamples, seed, counts, batch_size, progress, jackknife):
    if not hasattr(X, "trial_counts"):
        raise SettingsError("X", f"over='trials' needs single trials: a repalign.data.Trials, got "
                                 f"{type(X).__name__}")
    index, per_condition = X.condition_index, X.trial_counts
    average = X.average()
    estimate = _estimate(m, average, Y)
    _, dy, _ = as_pair(average, Y)  # the validator: Y must have X's (time, condition) layout
    y = dy.values.detach().to(dtype=torch.float64).reshape(X.n_time, X.n_conditions, -1)
    if counts is None:
        rng = np.random.default_rng(seed)
        counts = np.zeros((n_resamples, X.n_trials), dtype=np.int64)
        for c in range(X.n_conditions):  # a loop over conditions, not over resamples
            members = np.flatnonzero(index == c)
            counts[:, members] = rng.multinomial(len(members), np.full(len(members), 1.0 / len(members)),
                                                 size=n_resamples)
    else:
        counts = np.asarray(counts)
        if counts.ndim != 2 or counts.shape[1] != X.n_trials or counts.dtype.kind not in "iu" or \
                counts.shape[0] < 2:
            raise SettingsError("counts", f"expected integer multiplicities of shape (n_resamples >= 2, "
                                          f"{X.n_trials}) (one column per trial), got {counts.dtype} {counts.shape}")
        sums = np.stack([counts[:, index == c].sum(axis=1) for c in range(X.n_conditions)], axis=1)
        if (counts < 0).any() or (sums != per_condition).any():
            raise SettingsError("counts", "each condition's trials must be drawn as often as it has trials "
                                          f"({per_condition.tolist()})")
    one_hot = torch.nn.functional.one_hot(torch.tensor(index), X.n_conditions).to(torch.float64)  # (K, C)
    activity = torch.tensor(X.activity)
    bound = m.bind(Y) if m.symmetric else None

    def score_counts(rows: np.ndarray, description: str) -> np.ndarray:
        sums = rows @ one_hot.numpy()  # (b, C): trials drawn per condition
        weights = torch.as_tensor(rows / sums[:, index], dtype=torch.float64)  # each row: means per condition

        def compute(lo, hi):
            w = weights[lo:hi, :, None] * one_hot  # (b, K, C)
            xs = torch.einsum("bkc,ktu->btcu", w, activity)
            with torch.no_grad():
                if bound is not None:
                    return bound.batch(xs)
                return m.batch(xs, y.expand(len(xs), *y.shape))
        per_item = 8 * (activity[0].numel() * X.n_conditions + y.numel()) * 3
        return _run_chunks(_chunks(len(rows), per_item, batch_size), compute, progress, description)

    values = score_counts(counts, f"bootstrap {m.name}")
    leave_out = None
    if jackknife:  # leave one trial out, among the conditions with more than one trial
        kept = np.flatnonzero(per_condition[index] > 1)
        if len(kept) < 2:
            raise SettingsError("method", "BCa over trials needs conditions with more than one trial")
        leave_out = score_counts((1 - np.eye(X.n_trials, dtype=np.int64))[kept], f"jackknife {m.name}")
    return estimate, values, leave_out


def permutation_test(measure, X, Y, *, n_resamples: int = 1000, seed: int = 0, over: str = "conditions",
                     progress: bool | None = None, threads: int | None = None) -> Permutation:
    """The measure on (X, Y) against its null with Y's conditions (2D: rows) shuffled relative to X.

    The permutations are ``argsort`` of uniform draws from ``np.random.default_rng(seed)`` (uniform over all
    orderings), each applied to Y's condition axis for every time bin. p = (1 + #{null ≥ estimate}) /
    (1 + n_resamples) for scores, with ≤ for distances: the Monte Carlo permutation p-value, never 0. ``threads``
    as in :func:`bootstrap`.

    >>> import numpy as np
    >>> rng = np.random.default_rng(2)
    >>> X, Y = rng.normal(size=(3, 20, 5)), rng.normal(size=(3, 20, 4))
    >>> result = permutation_test("cka", X, Y, n_resamples=99)
    >>> result.null.shape, 0 < result.p_value <= 1
    ((99,), True)
    """
    with limit_threads(check_threads(threads)):
        return _permutation_test(measure, X, Y, n_resamples=n_resamples, seed=seed, over=over, progress=progress)


def _permutation_test(measure, X, Y, *, n_resamples, seed, over, progress):
    m, n_resamples, over, seed = _checked_common(measure, n_resamples, over, seed, minimum=1)
    if over == "trials":
        raise SettingsError("over", "a permutation test shuffles conditions or samples: use 'conditions' or "
                                    "'samples' (with trials, pass X.average())")
    x, y, n_cond = _grid(X, Y, over)
    estimate = _estimate(m, X, Y)
    n = x.shape[1]
    rng = np.random.default_rng(seed)
    perms = torch.as_tensor(np.argsort(rng.random((n_resamples, n)), axis=1))
    kind = _fast.fast_kind(m, x, y)
    description = f"permutations {m.name}"
    budget = CHUNK_BYTES
    if kind in ("cka", "procrustes") and n * n * x.shape[2] * y.shape[2] * 8 <= CHUNK_BYTES // 2:
        with torch.no_grad():
            stats = _fast.LinearStatistics(m, kind, x, y)
            cross = stats.all_cross()
            sxx, syy = stats.fixed_norms()
        per_item = 8 * n * x.shape[2] * y.shape[2] * 2

        def compute(lo, hi):
            with torch.no_grad():
                return stats.permuted(perms[lo:hi], cross, sxx, syy)
    elif kind == "ridge" and n * n * x.shape[2] * y.shape[2] * 8 <= CHUNK_BYTES // 2 and \
            (stats := _permutable_ridge(m, x, y, n_cond)) is not None:
        per_item = stats.bytes_per_resample()

        def compute(lo, hi):
            with torch.no_grad():
                return stats.permuted(perms[lo:hi])
        budget = stats.chunk_bytes
    else:
        three_d = over == "conditions" and n_cond is not None
        # the data's own layout on both sides (3D rows shuffled over="samples" are put back in (time, condition)
        # order), so that a cross-validated measure folds the null's data as it folds the estimate's
        shape = (x.shape[0] * n // n_cond, n_cond) if n_cond is not None and not three_d else None
        reference = _materialised(x, torch.arange(n)[None], three_d)[0]
        bound = m.bind(reference.reshape(*shape, -1) if shape else reference)
        per_item = 8 * x.shape[0] * n * y.shape[2] * 3

        def compute(lo, hi):
            ys = _materialised(y, perms[lo:hi], three_d)
            with torch.no_grad():
                return bound.batch(ys.reshape(len(ys), *shape, -1) if shape else ys)
    null = _run_chunks(_chunks(n_resamples, per_item, None, budget), compute, progress, description)
    return Permutation(m.name, m.kind, estimate, null, over=over, seed=seed)


def score(measure, X, Y, *, ci: bool = True, null: bool = True, n_resamples: int = 1000, n_permutations: int = 1000,
          confidence_level: float = 0.95, seed: int = 0, over: str = "conditions", method: str = "normal",
          sampling: str | None = None, refit: bool = False, threads: int | None = None) -> Score:
    """The measure with its bootstrap interval (``ci``) and its permutation null (``null``), both seeded.

    ``over`` is the bootstrap's resampling unit, ``method`` its interval, ``sampling`` and ``refit`` as in
    :func:`bootstrap`; the
    permutation shuffles conditions (``"samples"``: rows; with ``"trials"`` X is a Trials and the null is
    computed on X.average()); ``threads`` as in :func:`bootstrap`.

    >>> import numpy as np
    >>> rng = np.random.default_rng(3)
    >>> X = rng.normal(size=(4, 16, 8)); Y = X @ rng.normal(size=(8, 5))
    >>> row = score("angular-procrustes", X, Y, n_resamples=50, n_permutations=50).table.iloc[0]
    >>> bool(row.low <= row.estimate <= row.high), bool(row.p_value < 0.05)
    (True, True)
    """
    with limit_threads(check_threads(threads)):
        return _score(measure, X, Y, ci=ci, null=null, n_resamples=n_resamples, n_permutations=n_permutations,
                      confidence_level=confidence_level, seed=seed, over=over, method=method, sampling=sampling,
                      refit=refit)


def _score(measure, X, Y, *, ci, null, n_resamples, n_permutations, confidence_level, seed, over, method,
           sampling, refit):
    m = resolve(measure, "measure")
    boot = bootstrap(m, X, Y, n_resamples=n_resamples, confidence_level=confidence_level, over=over,
                     seed=seed, method=method, sampling=sampling, refit=refit) if ci else None
    perm = None
    if null:
        reference = X.average() if over == "trials" and hasattr(X, "average") else X
        perm = permutation_test(m, reference, Y, n_resamples=n_permutations, seed=seed,
                                over="samples" if over == "samples" else "conditions")
    if boot is None and perm is None:
        return Score(m.name, m.kind, _estimate(m, X.average() if over == "trials" else X, Y), None, None, seed)
    estimate = boot.estimate if boot is not None else perm.estimate
    return Score(m.name, m.kind, estimate, boot, perm, seed)

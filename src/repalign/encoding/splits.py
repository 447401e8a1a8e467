r"""The seeded training / validation / test split of encoding analyses: :func:`split_samples`."""

from __future__ import annotations

import math

import numpy as np

from .._checks import check_count, check_rng
from ._common import list_columns

__all__ = ["split_samples", "MIN_HELD_OUT_SAMPLES", "MIN_TRAINING_SAMPLES"]

# a Pearson correlation over 2 samples is always ±1, so every held-out split needs 3
MIN_HELD_OUT_SAMPLES = 3
MIN_TRAINING_SAMPLES = 3


def _held_out(spec, name: str, n_samples: int, available: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    how = (
        f"{name}: expected a fraction in (0, 1), a number of samples or a sequence of sample indices, got "
    )
    if isinstance(spec, (bool, np.bool_)):
        raise ValueError(how + repr(spec))
    if isinstance(spec, (float, np.floating, int, np.integer)):
        if isinstance(spec, (float, np.floating)):
            if not 0 < spec < 1:
                raise ValueError(how + repr(spec))
            # rounded up as in scikit-learn's train_test_split; the round() keeps 0.7 * 10 at 7
            count = math.ceil(round(spec * n_samples, 9))
            described = f"{name}={spec} of {n_samples} samples gives {count}"
        else:
            count = int(spec)
            described = f"{name}={count}"
        if count < MIN_HELD_OUT_SAMPLES:
            raise ValueError(
                f"{name}: needs at least {MIN_HELD_OUT_SAMPLES} samples for a Pearson correlation, {described}"
            )
        if count > available.size:
            raise ValueError(f"{name}: asks for {count} samples but only {available.size} are left to draw from")
        return np.sort(rng.permutation(available)[:count])
    indices = np.asarray(spec)
    if indices.ndim != 1 or indices.dtype.kind not in "iu":
        raise ValueError(how + f"an array of dtype {indices.dtype} and shape {indices.shape}")
    if indices.size < MIN_HELD_OUT_SAMPLES:
        raise ValueError(
            f"{name}: needs at least {MIN_HELD_OUT_SAMPLES} samples for a Pearson correlation, "
            f"got {indices.size} indices"
        )
    if indices.min() < 0 or indices.max() >= n_samples:
        raise ValueError(
            f"{name}: indices must lie in [0, {n_samples}), got values from {indices.min()} to {indices.max()}"
        )
    if np.unique(indices).size != indices.size:
        raise ValueError(f"{name}: indices must not repeat")
    taken = np.setdiff1d(indices, available)
    if taken.size:
        raise ValueError(f"{name}: indices {list_columns(taken)} are already in the test split")
    return np.sort(indices.astype(np.int64))


def split_samples(
    n_samples: int, *, validation=0.2, test=0.2, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Split sample indices into training, validation and test sets.

    ``test`` and ``validation`` are each a fraction of all samples (rounded up), a number of
    samples, or explicit indices; ``validation=None`` makes no validation split. The test set
    is drawn first, then the validation set from the rest; the remaining samples train. The
    split depends only on these arguments and ``seed``, never on the model, so models fitted
    with the same arguments see the same samples.

    Args:
        n_samples: number of samples.
        validation: fraction, count, indices or None.
        test: fraction, count or indices.
        seed: seed of the random draw (``numpy.random.default_rng``).

    Returns:
        ``(train, validation, test)`` sorted int64 index arrays (``validation`` may be empty).

    Raises:
        ValueError: a held-out set would have fewer than 3 samples, indices are out of range,
            repeated or overlap, or fewer than 3 samples are left for training.

    Example:
        >>> train, validation, test = split_samples(10, validation=0.3, test=0.3, seed=0)
        >>> len(train), len(validation), len(test)
        (4, 3, 3)
        >>> sorted(np.concatenate([train, validation, test]).tolist()) == list(range(10))
        True
    """
    n_samples = check_count(n_samples, "n_samples", 1)
    rng = check_rng(seed)
    everything = np.arange(n_samples)
    test_index = _held_out(test, "test", n_samples, everything, rng)
    rest = np.setdiff1d(everything, test_index)
    if validation is None:
        validation_index = np.empty(0, dtype=np.int64)
    else:
        validation_index = _held_out(validation, "validation", n_samples, rest, rng)
    train_index = np.setdiff1d(rest, validation_index)
    if train_index.size < MIN_TRAINING_SAMPLES:
        raise ValueError(
            f"too few samples for the splits: {n_samples} samples, {test_index.size} test and "
            f"{validation_index.size} validation leave {train_index.size} for training "
            f"(at least {MIN_TRAINING_SAMPLES} needed); use smaller test/validation fractions or more samples"
        )
    return train_index.astype(np.int64), validation_index.astype(np.int64), test_index.astype(np.int64)


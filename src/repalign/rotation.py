r"""Rotations of a representation's unit axes: does a measure see a privileged basis?

Rotation-invariant measures (CKA, Procrustes, CCA...) cannot tell whether two networks
share their coordinate axes; rotation-sensitive ones (soft matching) can. Two analyses:

- :func:`rotation_curve` (soft-matching paper, seed 001, section "convergent basis"): draw a
  Haar-random rotation ``Q ∈ SO(N)`` and follow the geodesic
  ``Q^α = exp(α log Q)`` from the identity (α = 0) to ``Q`` (α = 1), scoring
  ``measure(X Q^α, Y)`` along the way. A score that falls with α says that X and Y are
  aligned in their original bases.
- :func:`privileged_axes_test` (partial soft-matching paper, seed 002, section 4.5 and A1.6):
  the score in the original basis against its distribution under independent Haar-random
  rotations of X's units, for the whole population and for chosen subpopulations
  (e.g. the best-matched units of a partial matching).

Building blocks: :func:`haar_rotation` and :func:`fractional_rotation`.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import torch

from ._checks import check_bool, check_count, check_real, check_rng, check_seed, progress_bar
from ._optional import import_pandas, import_pyplot
from .inputs import as_activity, as_matrix
from .registry import resolve
from .results import Result, legend

__all__ = [
    "haar_rotation",
    "fractional_rotation",
    "rotation_curve",
    "RotationCurve",
    "privileged_axes_test",
    "PrivilegedAxesResult",
]

# |QᵀQ - I| (largest entry) accepted as orthogonal: float64 rotations are exact to ~1e-15,
# this leaves room for matrices that went through float32 once
_ORTHOGONAL_TOL = 1e-6
# imaginary part and symmetric part of log Q accepted, relative to max(‖log Q‖_F, 1)
_LOG_TOL = 1e-6


def _progress(iterable, enabled: bool, total: int, desc: str):
    return progress_bar(iterable, enabled=check_bool(enabled, "progress"), total=total, description=desc)


def haar_rotation(n: int, seed: int | np.random.Generator = 0) -> np.ndarray:
    r"""A rotation matrix drawn uniformly (Haar measure) from the special orthogonal group SO(n).

    ``Z`` has i.i.d. standard normal entries; with ``Z = QR`` (QR decomposition),
    ``Q · diag(sign(diag R))`` is Haar-distributed on O(n) (Mezzadri 2007, "How to generate
    random matrices from the classical compact groups"). Flipping the sign of the first
    column when the determinant is −1 maps the reflections one-to-one onto SO(n) and keeps the
    distribution uniform (Haar measure is invariant under right multiplication).

    Args:
        n: the dimension, an integer ``>= 2``.
        seed: a non-negative integer or a ``numpy.random.Generator``.

    Returns:
        A float64 ``(n, n)`` array ``Q`` with ``QᵀQ = I`` and ``det Q = +1``.

    Raises:
        ValueError: if ``n`` is not an integer ``>= 2`` or ``seed`` is not a valid seed.

    Example:
        >>> import numpy as np
        >>> Q = haar_rotation(4, seed=0)
        >>> bool(np.allclose(Q.T @ Q, np.eye(4))), round(float(np.linalg.det(Q)), 6)
        (True, 1.0)
        >>> bool(np.array_equal(Q, haar_rotation(4, seed=0)))
        True
    """
    n = check_count(n, "n", 2)
    rng = check_rng(seed)
    q, r = np.linalg.qr(rng.standard_normal((n, n)))
    q *= np.where(np.diag(r) < 0, -1.0, 1.0)
    if np.linalg.det(q) < 0:
        q[:, 0] = -q[:, 0]
    return q


def _as_matrix(Q, name: str) -> np.ndarray:
    Q = as_matrix(Q, name, layout="(N, N)")
    if Q.shape[0] != Q.shape[1]:
        raise ValueError(f"{name}: expected a square (N, N) matrix, got shape {Q.shape}")
    return Q


def _check_rotation(Q, name: str) -> np.ndarray:
    Q = _as_matrix(Q, name)
    error = float(np.abs(Q.T @ Q - np.eye(Q.shape[0])).max())
    if error > _ORTHOGONAL_TOL:
        raise ValueError(
            f"{name}: expected an orthogonal matrix (QᵀQ = I), but the largest entry of QᵀQ − I is {error:.3g}"
        )
    if np.linalg.det(Q) < 0:
        raise ValueError(
            f"{name}: has determinant −1 (it includes a reflection); fractional powers Q^α along SO(N) need "
            f"a rotation with determinant +1 (flip the sign of one column)"
        )
    return Q


def _rotation_log(Q, name: str = "Q") -> np.ndarray:
    """The real skew-symmetric principal logarithm of a rotation, checked."""
    import scipy.linalg

    Q = _check_rotation(Q, name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the checks below decide whether the logarithm is usable
        log = scipy.linalg.logm(Q)
    scale = max(float(np.linalg.norm(log)), 1.0)
    if np.iscomplexobj(log):
        imaginary = float(np.linalg.norm(log.imag))
        if imaginary > _LOG_TOL * scale:
            raise ValueError(
                f"{name}: has an eigenvalue −1 (a rotation by π in some plane), where the principal matrix "
                f"logarithm is not real (imaginary part {imaginary:.3g}), so Q^α is not uniquely defined; "
                f"draw another rotation (a Haar-random one has this with probability 0)"
            )
        log = log.real
    asymmetry = float(np.linalg.norm(log + log.T))
    if asymmetry > _LOG_TOL * scale:
        raise ValueError(
            f"{name}: the matrix logarithm is not skew-symmetric (‖L + Lᵀ‖ = {asymmetry:.3g}); "
            f"Q is too close to having an eigenvalue −1 for a reliable fractional power"
        )
    log = (log - log.T) / 2  # exactly skew-symmetric, so that exp(α L) is exactly orthogonal
    mismatch = float(np.abs(scipy.linalg.expm(log) - Q).max())
    if mismatch > _ORTHOGONAL_TOL:
        raise ValueError(f"{name}: the matrix logarithm is inaccurate (exp(log Q) differs from Q by {mismatch:.3g})")
    return log


def _exp_skew(log: np.ndarray, alpha: float) -> np.ndarray:
    import scipy.linalg

    if alpha == 0.0:
        return np.eye(log.shape[0])
    power = scipy.linalg.expm(alpha * log)
    error = float(np.abs(power.T @ power - np.eye(log.shape[0])).max())
    if not np.isrealobj(power) or error > _ORTHOGONAL_TOL:  # cannot happen for a real skew-symmetric log
        raise ValueError(f"Q^{alpha:g} is not a real orthogonal matrix (|QᵀQ − I| = {error:.3g})")
    return power


def fractional_rotation(Q, alpha: float) -> np.ndarray:
    r"""The fractional power of a rotation along the geodesic of SO(N) from the identity to ``Q``.

    .. math::

        Q^\alpha = \exp(\alpha \log Q)

    with the principal matrix logarithm, which is real and skew-symmetric for every rotation
    without eigenvalue −1; ``Q^α`` is then a rotation, ``Q^0 = I``, ``Q^1 = Q`` and
    ``Q^a Q^b = Q^{a+b}``. The soft-matching paper uses ``0 <= α <= 1``; other real values are
    allowed and continue the same one-parameter subgroup (``Q^{-1} = Qᵀ``, ``Q^2 = QQ``).

    Args:
        Q: an ``(N, N)`` rotation (orthogonal to 1e-6, determinant +1): numpy array, torch
            tensor or nested list.
        alpha: the power, a finite real number.

    Returns:
        A float64 ``(N, N)`` rotation matrix.

    Raises:
        ValueError: if ``Q`` is not square, not finite, not orthogonal, has determinant −1, or
            has an eigenvalue −1 (its principal logarithm is then complex); if ``alpha`` is not
            a finite real number.

    Example:
        >>> import numpy as np
        >>> Q = haar_rotation(5, seed=0)
        >>> half = fractional_rotation(Q, 0.5)
        >>> bool(np.allclose(half @ half, Q)), bool(np.allclose(half.T @ half, np.eye(5)))
        (True, True)
        >>> bool(np.allclose(fractional_rotation(Q, 0.0), np.eye(5)))
        True
    """
    alpha = check_real(alpha, "alpha")
    return _exp_skew(_rotation_log(Q), alpha)


def _units_last(X, name: str) -> tuple[torch.Tensor, bool]:
    """Checked values of X in their original layout, (sample, unit) or (time, condition, unit)."""
    values, from_torch = as_activity(X, name)
    return values.detach(), from_torch


def _score(measure, values: torch.Tensor, from_torch: bool, Y) -> float:
    result = measure(values if from_torch else values.numpy(), Y)
    return float(result.detach()) if isinstance(result, torch.Tensor) else float(result)


def _rotated(values: torch.Tensor, rotation: np.ndarray) -> torch.Tensor:
    return values @ torch.as_tensor(rotation, dtype=values.dtype, device=values.device)


@dataclass(frozen=True, eq=False)
class RotationCurve(Result):
    """``measure(X Q^α, Y)`` along the geodesic from the original basis (α = 0) to a rotation ``Q``.

    Attributes:
        alphas: the powers α, in the order given.
        scores: the measure's value at each α.
        measure: the canonical name of the measure.
        kind: ``"score"`` (higher is more similar) or ``"distance"``.
        rotation: the ``(N, N)`` rotation ``Q`` (α = 1).
        seed: the seed that drew ``Q``, or ``None`` when ``Q`` was given.
    """

    alphas: np.ndarray
    scores: np.ndarray
    measure: str
    kind: str
    rotation: np.ndarray
    seed: int | None

    record_kind = "rotation_curve"

    @property
    def table(self):
        """Tidy table: one row per α with columns ``alpha, score, measure, seed`` (pandas)."""
        pd = import_pandas()

        return pd.DataFrame({
            "alpha": self.alphas,
            "score": self.scores,
            "measure": self.measure,
            "seed": pd.array([self.seed] * len(self.alphas), dtype="Int64"),
        })

    def plot(self, ax=None):
        """Plot the score against α on ``ax`` (a new figure when ``None``); returns the axes."""
        if ax is None:
            plt = import_pyplot()

            _, ax = plt.subplots(figsize=(4, 3))
        ax.plot(self.alphas, self.scores, marker="o")
        ax.set_xlabel("rotation α (0: original basis, 1: random rotation)")
        ax.set_ylabel(self.measure if len(self.measure) <= 30 else self.kind)
        ax.set_title(f"{self.measure}(X Q^α, Y)", fontsize="small")
        return ax

    def _record_settings(self) -> dict:
        return {"measure": self.measure, "seed": self.seed}

    def _record_arrays(self) -> dict:
        return {"rotation": self.rotation}


def rotation_curve(
    X,
    Y,
    alphas=None,
    measure="soft-matching",
    rotation=None,
    seed: int = 0,
    progress: bool = False,
) -> RotationCurve:
    r"""Score ``measure(X Q^α, Y)`` as X's units are rotated gradually from their basis to a random one.

    .. math::

        c(\alpha) = m\bigl(X Q^\alpha, Y\bigr), \qquad Q^\alpha = \exp(\alpha \log Q),
        \quad Q \sim \mathrm{Haar}(SO(N))

    (soft-matching paper, seed 001, Fig. 4). ``N`` is X's number of units; for 3D input
    ``(time, condition, unit)`` the unit axis is rotated. A rotation-invariant measure gives a
    flat curve; a similarity that falls with α says that X and Y share their coordinate axes.

    Args:
        X: the representation to rotate, ``(sample, unit)`` or ``(time, condition, unit)``;
            numpy array, torch tensor, xarray DataArray or nested list.
        Y: the fixed representation, same samples as X.
        alphas: the powers α (1D, finite); default ``numpy.linspace(0, 1, 11)``. Values outside
            ``[0, 1]`` extrapolate along the same geodesic.
        measure: a measure name (``repalign.measure(name)``) or a ``repalign.Measure``;
            default the soft-matching correlation score ``s_T``.
        rotation: the rotation ``Q`` (``(N, N)``, determinant +1); default a Haar-random one
            drawn with ``seed``.
        seed: seed of the Haar-random rotation (ignored when ``rotation`` is given).
        progress: show a progress bar over α (with tqdm, when installed).

    Returns:
        A :class:`RotationCurve` (``.table``, ``.plot()``, ``.save(path)``).

    Raises:
        ValueError: for bad X or Y (from the input checks), an unknown measure, empty or
            non-finite ``alphas``, a ``rotation`` of the wrong shape or not in SO(N) (see
            :func:`fractional_rotation`), or an invalid ``seed``.

    Example:
        >>> import numpy as np
        >>> X = np.random.default_rng(0).normal(size=(50, 6))
        >>> curve = rotation_curve(X, X, alphas=[0, 0.5, 1], measure="procrustes-distance=euclidean")
        >>> curve.scores.shape, bool(np.all(curve.scores < 1e-6))   # Procrustes ignores rotations
        ((3,), True)
    """
    m = resolve(measure)
    values, from_torch = _units_last(X, "X")
    n_units = values.shape[-1]
    if n_units < 2:
        raise ValueError(f"X: rotating units needs at least 2 units, got {n_units}")
    grid = _check_alphas(alphas)
    if rotation is None:
        Q = haar_rotation(n_units, seed)
        used_seed = int(seed) if not isinstance(seed, np.random.Generator) else None
    else:
        Q = _as_matrix(rotation, "rotation")
        if Q.shape != (n_units, n_units):
            raise ValueError(f"rotation: expected shape ({n_units}, {n_units}) to rotate X's {n_units} units, "
                             f"got {Q.shape}")
        used_seed = None
    log = _rotation_log(Q, "rotation")
    scores = np.empty(grid.size)
    for k in _progress(range(grid.size), progress, grid.size, "rotation curve"):
        scores[k] = _score(m, _rotated(values, _exp_skew(log, float(grid[k]))), from_torch, Y)
    return RotationCurve(alphas=grid, scores=scores, measure=m.name, kind=m.kind, rotation=Q, seed=used_seed)


def _check_alphas(alphas) -> np.ndarray:
    if alphas is None:
        return np.linspace(0.0, 1.0, 11)
    try:
        grid = np.asarray(alphas)
    except ValueError:
        grid = None
    if grid is None or grid.ndim > 1 or grid.dtype.kind not in "iuf" or grid.size == 0 \
            or not np.isfinite(grid).all():
        raise ValueError(f"alphas: expected a non-empty 1D sequence of finite numbers, got {alphas!r}")
    return grid.astype(np.float64).reshape(-1)


@dataclass(frozen=True, eq=False)
class PrivilegedAxesResult(Result):
    """Scores in the original basis and under random rotations, per population.

    Attributes:
        measure: canonical name of the measure.
        kind: ``"score"`` or ``"distance"``.
        populations: population names: ``"all"`` then the subsets, in order.
        n_units_x, n_units_y: units of X and Y in each population.
        original: ``(n_populations,)`` value in the original basis.
        rotated: ``(n_populations, n_rotations)`` values after each random rotation.
        seed: the seed of the rotations.

    ``difference`` is ``original − mean(rotated)`` (positive for a privileged basis when
    ``kind == "score"``, negative for a distance); ``p_value`` is the one-sided empirical
    p-value ``(1 + #{rotated at least as aligned as original}) / (1 + n_rotations)``, where
    "at least as aligned" is ``>=`` for scores and ``<=`` for distances.
    """

    record_kind = "privileged_axes"

    measure: str
    kind: str
    populations: tuple[str, ...]
    n_units_x: np.ndarray
    n_units_y: np.ndarray
    original: np.ndarray
    rotated: np.ndarray
    seed: int | None

    @property
    def difference(self) -> np.ndarray:
        return self.original - self.rotated.mean(axis=1)

    @property
    def p_value(self) -> np.ndarray:
        if self.kind == "distance":
            as_aligned = self.rotated <= self.original[:, None]
        else:
            as_aligned = self.rotated >= self.original[:, None]
        return (1 + as_aligned.sum(axis=1)) / (1 + self.rotated.shape[1])

    @property
    def table(self):
        """Tidy table, one row per value: ``population, basis ("original"/"rotated"), rotation, score``.

        ``rotation`` is the index of the random rotation (missing for the original basis).
        """
        pd = import_pandas()

        rows = []
        for k, name in enumerate(self.populations):
            rows.append({"population": name, "basis": "original", "rotation": pd.NA, "score": self.original[k]})
            rows.extend({"population": name, "basis": "rotated", "rotation": r, "score": value}
                        for r, value in enumerate(self.rotated[k]))
        frame = pd.DataFrame(rows)
        frame["rotation"] = frame["rotation"].astype("Int64")
        frame["measure"] = self.measure
        return frame

    def summary(self):
        """One row per population: unit counts, original, rotated mean and std, difference, p-value."""
        pd = import_pandas()

        return pd.DataFrame({
            "population": list(self.populations),
            "n_units_x": self.n_units_x,
            "n_units_y": self.n_units_y,
            "original": self.original,
            "rotated_mean": self.rotated.mean(axis=1),
            "rotated_std": self.rotated.std(axis=1, ddof=1) if self.rotated.shape[1] > 1 else np.nan,
            "difference": self.difference,
            "p_value": self.p_value,
            "measure": self.measure,
        })

    def plot(self, ax=None):
        """Per population: the rotated values (grey dots, their mean as a bar) and the original basis (red)."""
        plt = import_pyplot()

        if ax is None:
            _, ax = plt.subplots(figsize=(max(3.0, 1.2 * len(self.populations) + 1.5), 3.4))
        jitter = np.random.default_rng(0).uniform(-0.15, 0.15, size=self.rotated.shape[1])  # display only
        for k in range(len(self.populations)):
            ax.plot(k + jitter, self.rotated[k], "o", ms=3, color="0.6", label="random rotations" if k == 0 else None)
            ax.plot([k - 0.3, k + 0.3], [self.rotated[k].mean()] * 2, "-", color="0.3", lw=1.2)
            ax.plot(k, self.original[k], "D", ms=6, color="tab:red", label="original basis" if k == 0 else None)
        ax.set_xticks(range(len(self.populations)))
        ax.set_xticklabels([f"{name}\np = {p:.3g}" for name, p in zip(self.populations, self.p_value)],
                           fontsize="small")
        ax.set_ylabel(self.measure if len(self.measure) <= 30 else self.kind)
        ax.set_title("privileged axes: original basis against random rotations", fontsize="small")
        legend(ax, frameon=False, fontsize="x-small")
        return ax

    def _record_settings(self) -> dict:
        return {"measure": self.measure, "populations": list(self.populations), "seed": self.seed,
                "n_rotations": int(self.rotated.shape[1])}

    def _record_tables(self) -> dict:
        return {"table": self.table, "summary": self.summary()}


def _subset_indices(value, size: int, where: str) -> np.ndarray:
    try:
        index = np.asarray(value)
    except ValueError as err:
        raise ValueError(f"subsets: {where}: could not convert to indices: {err}") from None
    if index.size == 0 and index.ndim == 1:
        index = index.astype(np.int64)  # [] converts to float
    if index.dtype == bool:
        if index.shape != (size,):
            raise ValueError(f"subsets: {where}: a boolean mask must have length {size}, got shape {index.shape}")
        index = np.flatnonzero(index)
    elif index.dtype.kind not in "iu" or index.ndim != 1:
        raise ValueError(f"subsets: {where}: expected a 1D array of integer indices or a boolean mask, "
                         f"got dtype {index.dtype} and shape {index.shape}")
    if index.size and (index.min() < -size or index.max() >= size):
        raise ValueError(f"subsets: {where}: indices must lie in [0, {size}), got range "
                         f"[{index.min()}, {index.max()}]")
    index = index % size
    if np.unique(index).size != index.size:
        raise ValueError(f"subsets: {where}: indices repeat")
    return index


def privileged_axes_test(
    X,
    Y,
    measure="soft-matching",
    n_rotations: int = 20,
    seed: int = 0,
    subsets: Mapping | None = None,
    progress: bool = False,
) -> PrivilegedAxesResult:
    r"""Is X aligned with Y in its original basis more than in random bases?

    For each population (all units, then every subset) the measure in the original basis,
    ``m(X_S, Y_T)``, is compared with its values after ``n_rotations`` independent
    Haar-random rotations of X's units, ``m(X_S Q_r, Y_T)``, ``Q_r ∈ SO(|S|)`` (partial
    soft-matching paper, seed 002, section 4.5: "if neurons were arbitrarily oriented, this
    rotation would not affect the alignment"). A subset's X units are rotated among
    themselves, so the test asks whether the subpopulation's own axes are privileged.

    Reported per population: the original value, the rotated values, the difference
    ``original − mean(rotated)`` and the one-sided empirical p-value
    ``(1 + #{r: rotated_r at least as aligned as original}) / (1 + n_rotations)``
    (``>=`` for scores, ``<=`` for distances).

    Args:
        X: the representation whose units are rotated, ``(sample, unit)`` or
            ``(time, condition, unit)``.
        Y: the fixed representation, same samples.
        measure: a measure name or a ``repalign.Measure``; default soft-matching ``s_T``.
        n_rotations: number of random rotations per population, ``>= 1``.
        seed: seed of the rotations. Population ``k`` (0 = all units, then the subsets in the
            order given) uses child ``k`` of ``numpy.random.SeedSequence(seed)``.
        subsets: optional mapping ``name -> (units of X, units of Y)``, each an integer index
            array or a boolean mask; at least 2 units of X. The name ``"all"`` is reserved.
        progress: show a progress bar over the rotations (with tqdm, when installed).

    Returns:
        A :class:`PrivilegedAxesResult` (``.table`` and ``.summary()`` give pandas tables; ``.plot()``).

    Raises:
        ValueError: for bad X or Y, an unknown measure, ``n_rotations < 1``, an invalid seed,
            or a malformed subset (named in the message).

    Example:
        >>> import numpy as np
        >>> X = np.random.default_rng(0).normal(size=(40, 4))
        >>> result = privileged_axes_test(X, X, measure="procrustes-angular_score", n_rotations=3,
        ...                               subsets={"first two": ([0, 1], [0, 1])})
        >>> result.populations, result.rotated.shape
        (('all', 'first two'), (2, 3))
        >>> bool(np.allclose(result.difference, 0, atol=1e-8))   # Procrustes sees no privileged axes
        True
    """
    m = resolve(measure)
    n_rotations = check_count(n_rotations, "n_rotations", 1)
    seed = check_seed(seed)
    values, from_torch = _units_last(X, "X")
    y_values, y_torch = _units_last(Y, "Y")
    p, q = values.shape[-1], y_values.shape[-1]
    if p < 2:
        raise ValueError(f"X: rotating units needs at least 2 units, got {p}")
    populations = {"all": (np.arange(p), np.arange(q))}
    if subsets is not None:
        if not isinstance(subsets, Mapping):
            raise ValueError(
                f"subsets: expected a mapping name -> (units of X, units of Y), got {type(subsets).__name__}"
            )
        for name, pair in subsets.items():
            if not isinstance(name, str) or name == "all" or not name:
                raise ValueError(f"subsets: names must be non-empty strings other than 'all', got {name!r}")
            if not isinstance(pair, (tuple, list)) or len(pair) != 2:
                raise ValueError(f"subsets: {name!r}: expected a pair (units of X, units of Y)")
            ix = _subset_indices(pair[0], p, f"{name!r} units of X")
            iy = _subset_indices(pair[1], q, f"{name!r} units of Y")
            if ix.size < 2:
                raise ValueError(f"subsets: {name!r}: at least 2 units of X are needed to rotate, got {ix.size}")
            if iy.size < 1:
                raise ValueError(f"subsets: {name!r}: no units of Y")
            populations[name] = (ix, iy)

    y_input = y_values if y_torch else y_values.numpy()
    pairs = [(values[..., torch.as_tensor(ix)], y_input[..., torch.as_tensor(iy) if y_torch else iy])
             for ix, iy in populations.values()]
    original = np.array([_score(m, x_sub, from_torch, y_sub) for x_sub, y_sub in pairs])
    rngs = [np.random.default_rng(child) for child in np.random.SeedSequence(seed).spawn(len(pairs))]
    rotated = np.empty((len(pairs), n_rotations))
    jobs = [(k, r) for k in range(len(pairs)) for r in range(n_rotations)]
    for k, r in _progress(jobs, progress, len(jobs), "random rotations"):
        x_sub, y_sub = pairs[k]
        rotation = haar_rotation(x_sub.shape[-1], rngs[k])  # drawn in order r = 0, 1, ... per population
        rotated[k, r] = _score(m, _rotated(x_sub, rotation), from_torch, y_sub)
    return PrivilegedAxesResult(
        measure=m.name,
        kind=m.kind,
        populations=tuple(populations),
        n_units_x=np.array([ix.size for ix, _ in populations.values()]),
        n_units_y=np.array([iy.size for _, iy in populations.values()]),
        original=original,
        rotated=rotated,
        seed=seed,
    )

"""Synthetic populations with a known unit-to-unit correspondence.

:func:`sparse_factor_population` builds the two "neural representations" of the partial
soft-matching paper's simulations (Appendix A1.3 of the partial soft-matching paper, seed
002): signal units that are sparse, non-negative mixtures of shared orthonormal factors,
with the *same* sparsity mask in both populations, plus pure-noise units that have no
counterpart. Which unit is which is returned with the data, so a matching method can be
scored against the truth.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import numpy as np

from ._checks import check_count, check_real

__all__ = ["SparseFactorPopulation", "sparse_factor_population"]


@dataclass(frozen=True, eq=False)
class SparseFactorPopulation:
    """Two populations built from shared sparse factors, and the ground truth.

    Attributes:
        X: ``(n_stimuli, n_signal + n_noise_x)`` responses; signal units first.
        Y: ``(n_stimuli, n_signal + n_noise_y)`` responses; signal units first.
        factors: ``(n_stimuli, n_factors)`` orthonormal, zero-mean factor responses ``F``.
        mask: ``(n_factors, n_signal)`` boolean support ``M`` shared by X and Y.
        loadings_x: ``(n_factors, n_signal)`` masked weights ``M ⊙ W_x``.
        loadings_y: ``(n_factors, n_signal)`` masked weights ``M ⊙ W_y``.
        is_signal_x: ``(n_signal + n_noise_x,)`` True for X's signal units.
        is_signal_y: ``(n_signal + n_noise_y,)`` True for Y's signal units.
        params: the arguments that produced the data (seed included).

    Signal unit ``j`` of X corresponds to signal unit ``j`` of Y (same support); units
    sharing a factor with it are equally valid partners.
    """

    X: np.ndarray
    Y: np.ndarray
    factors: np.ndarray
    mask: np.ndarray
    loadings_x: np.ndarray
    loadings_y: np.ndarray
    is_signal_x: np.ndarray
    is_signal_y: np.ndarray
    params: dict


def sparse_factor_population(
    n_stimuli: int = 1000,
    n_factors: int = 50,
    n_signal: int = 100,
    n_noise_x: int = 20,
    n_noise_y: int = 90,
    density: float = 0.02,
    weight_range: tuple[float, float] = (0.5, 1.5),
    noise_std: float = 1.0,
    seed: int = 0,
) -> SparseFactorPopulation:
    r"""Two populations with approximately one-to-one matched signal units plus noise units.

    Following Appendix A1.3 of the partial soft-matching paper:

    .. math::

        X = \bigl[\sqrt{m}\, F (M \odot W_x),\ E_x\bigr], \qquad
        Y = \bigl[\sqrt{m}\, F (M \odot W_y),\ E_y\bigr]

    where ``m = n_stimuli``; ``F`` (``m × n_factors``) is a Gaussian matrix whose columns are
    centred and then orthonormalised (QR, i.e. Gram–Schmidt), so that ``FᵀF = I`` and every
    factor has mean 0 and mean square ``1/m`` across stimuli (hence the ``√m``: a factor
    contributes unit mean square to a response); ``M`` (``n_factors × n_signal``) is one
    binary mask shared by X and Y; ``W_x`` and ``W_y`` are independent weights; ``E_x``
    (``m × n_noise_x``) and ``E_y`` (``m × n_noise_y``) hold i.i.d. ``N(0, noise_std²)``
    noise units.

    Because the factors are orthonormal and zero-mean, the Pearson correlation of two
    signal units is the cosine of their loading vectors: X's unit ``j`` and Y's unit ``j``
    share a support, and with non-negative weights their correlation is high (exactly 1
    when the support is a single factor). Noise units correlate with anything at about
    ``±1/√m``.

    The paper leaves the mask density, weight distribution and noise scale unspecified.
    The defaults here are chosen for clear, approximately one-to-one correspondences:

    - ``density=0.02`` (≈ one factor per unit out of 50): each mask entry is 1 with
      probability ``density``; a unit left without a factor gets one chosen uniformly.
      With the defaults, about three units in four depend on a single factor (probability
      ``0.98^50 + 50 · 0.02 · 0.98^49 ≈ 0.74``), the others on two or more.
    - weights uniform on ``weight_range=(0.5, 1.5)``: positive, so that units sharing a
      factor are positively correlated (signed weights would give ρ = −1 between units
      that encode the same factor), and bounded away from 0, so that units sharing a
      support keep a correlation of at least 0.6 whatever their number of factors
      (Pólya–Szegő inequality: weight ratios lie in [1/3, 3]).
    - ``noise_std=1.0``: the root mean square of a signal unit is ``‖w_j‖``, about 1 with
      these weights, so noise units are as large as signal units (they differ by their
      lack of structure, not by their scale).

    Independent random streams are used for the factors, the mask, each weight matrix and
    each noise block, and noise is drawn unit by unit, so changing ``n_noise_x`` or
    ``n_noise_y`` leaves the signal units and the first noise units unchanged.

    Args:
        n_stimuli: number of stimuli (rows), ``> n_factors``.
        n_factors: number of latent factors, ``>= 1``.
        n_signal: number of signal units in each population, ``>= 1``.
        n_noise_x: number of noise units appended to X, ``>= 0``.
        n_noise_y: number of noise units appended to Y, ``>= 0``.
        density: probability that a mask entry is 1, in ``[0, 1]`` (every unit still gets
            at least one factor).
        weight_range: ``(low, high)``, ``low < high``: weights are uniform on this interval.
            A negative ``low`` allows anti-correlated partners.
        noise_std: standard deviation of the noise units, ``>= 0``.
        seed: seed of the random generator (``numpy.random.SeedSequence``).

    Returns:
        A :class:`SparseFactorPopulation` with the data and the ground truth.

    Raises:
        ValueError: naming the argument, for a non-integer or too small count,
            ``n_stimuli <= n_factors``, a density outside ``[0, 1]``, an empty or reversed
            ``weight_range``, a negative ``noise_std`` or a non-integer seed.

    Example:
        >>> import numpy as np
        >>> pop = sparse_factor_population(n_stimuli=200, n_factors=10, n_signal=20,
        ...                                n_noise_x=5, n_noise_y=8, seed=0)
        >>> pop.X.shape, pop.Y.shape, int(pop.is_signal_y.sum())
        ((200, 25), (200, 28), 20)
        >>> bool(np.allclose(pop.factors.T @ pop.factors, np.eye(10)))
        True
        >>> rho = np.corrcoef(pop.X[:, 0], pop.Y[:, 0])[0, 1]   # same support
        >>> bool(rho > 0.5)
        True
    """
    n_stimuli = check_count(n_stimuli, "n_stimuli", 2)
    n_factors = check_count(n_factors, "n_factors", 1)
    n_signal = check_count(n_signal, "n_signal", 1)
    n_noise_x = check_count(n_noise_x, "n_noise_x", 0)
    n_noise_y = check_count(n_noise_y, "n_noise_y", 0)
    if n_stimuli <= n_factors:
        raise ValueError(
            f"n_stimuli: must exceed n_factors ({n_factors}) so that {n_factors} zero-mean "
            f"orthonormal factors exist, got {n_stimuli}"
        )
    density = check_real(density, "density")
    if not 0.0 <= density <= 1.0:
        raise ValueError(f"density: expected a probability in [0, 1], got {density}")
    try:
        low, high = (check_real(v, "weight_range") for v in weight_range)
    except (TypeError, ValueError):
        raise ValueError(f"weight_range: expected a pair (low, high) of finite numbers, got {weight_range!r}") from None
    if not low < high:
        raise ValueError(f"weight_range: expected low < high, got ({low}, {high})")
    noise_std = check_real(noise_std, "noise_std")
    if noise_std < 0:
        raise ValueError(f"noise_std: expected a non-negative number, got {noise_std}")
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ValueError(f"seed: expected a non-negative integer, got {seed!r}")

    streams = [np.random.default_rng(s) for s in np.random.SeedSequence(int(seed)).spawn(6)]
    rng_factors, rng_mask, rng_wx, rng_wy, rng_ex, rng_ey = streams

    gaussian = rng_factors.standard_normal((n_stimuli, n_factors))
    gaussian -= gaussian.mean(axis=0)  # orthonormal columns in the span of centred vectors stay centred
    factors, r = np.linalg.qr(gaussian)
    factors *= np.where(np.diag(r) < 0, -1.0, 1.0)  # the Gram–Schmidt sign convention (positive diagonal)

    mask = rng_mask.random((n_factors, n_signal)) < density
    empty = np.flatnonzero(~mask.any(axis=0))
    mask[rng_mask.integers(n_factors, size=empty.size), empty] = True

    loadings_x = mask * rng_wx.uniform(low, high, size=(n_factors, n_signal))
    loadings_y = mask * rng_wy.uniform(low, high, size=(n_factors, n_signal))
    scale = math.sqrt(n_stimuli)
    # noise drawn unit by unit (transposed), so that adding noise units keeps the first ones
    X = np.hstack([scale * factors @ loadings_x, noise_std * rng_ex.standard_normal((n_noise_x, n_stimuli)).T])
    Y = np.hstack([scale * factors @ loadings_y, noise_std * rng_ey.standard_normal((n_noise_y, n_stimuli)).T])

    params = dict(
        n_stimuli=n_stimuli, n_factors=n_factors, n_signal=n_signal, n_noise_x=n_noise_x,
        n_noise_y=n_noise_y, density=density, weight_range=(low, high), noise_std=noise_std, seed=int(seed),
    )
    return SparseFactorPopulation(
        X=X,
        Y=Y,
        factors=factors,
        mask=mask,
        loadings_x=loadings_x,
        loadings_y=loadings_y,
        is_signal_x=np.arange(X.shape[1]) < n_signal,
        is_signal_y=np.arange(Y.shape[1]) < n_signal,
        params=params,
    )

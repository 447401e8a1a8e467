r"""Synthetic datasets with known structure; every random choice comes from ``seed``.

- :func:`mante_like`: a synthetic prefrontal population for the contextual decision task
  of Mante et al. (2013), the seed paper's main dataset: 2 contexts × 6 motion × 6 colour
  coherences = 72 conditions, 15 time bins, 727 units, power-law PC spectrum;
- :func:`gaussian_like`: the seed paper's "matched Gaussian", random data with exactly
  the PC variances of a reference;
- :func:`two_pc`: the 2-unit, 6-condition reference of the seed paper's Figure 4a, with a
  settable ratio of PC variances (Figure 4d);
- :func:`ultrametric`: tree-structured (hierarchical) binary patterns whose expected
  distances form an ultrametric, as in the seed paper's code;
- :func:`sparse_factor_population`: the two populations of the partial soft-matching paper's
  simulations (appendix A1.3, seed 002) — signal units that are sparse, non-negative mixtures of
  shared orthonormal factors, with the same sparsity mask in both populations, plus noise units
  with no counterpart — returned with the ground truth, so that a matching method can be scored.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from .._checks import check_bool, check_count, check_real, check_seed
from .._linalg import principal_components
from .._version import __version__
from ..inputs import as_activity
from .dataset import Dataset, pandas_module

__all__ = ["mante_like", "gaussian_like", "two_pc", "ultrametric", "sparse_factor_population",
           "SparseFactorPopulation", "MOTION_COHERENCES", "COLOUR_COHERENCES"]


def _streams(seed: int, n: int) -> list[np.random.Generator]:
    return [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(n)]


def _haar_columns(rng: np.random.Generator, gaussian_shape: tuple[int, int], centre: bool = False) -> np.ndarray:
    """Orthonormal columns uniformly distributed (Haar), optionally orthogonal to the ones vector."""
    g = rng.standard_normal(gaussian_shape)
    if centre:
        g -= g.mean(axis=0)
    q, r = np.linalg.qr(g)
    return q * np.where(np.diag(r) < 0, -1.0, 1.0)


# Coherence levels of the contextual decision task, in the range used by Mante et al. (2013):
# three strengths per sign, symmetric around 0 (so there is never a tie for the choice).
MOTION_COHERENCES = (-0.5, -0.15, -0.05, 0.05, 0.15, 0.5)
COLOUR_COHERENCES = (-0.5, -0.18, -0.06, 0.06, 0.18, 0.5)

# 0-based PC rank of each task latent in mante_like; the ranks in between hold random latents,
# so that (as in the seed paper's Figure 3c) decoding needs more than the top few PCs.
_MANTE_TASK_RANKS = {"condition_independent": 0, "choice": 1, "motion": 3, "colour": 5, "context": 7}


def _smoothing_matrix(n_time: int, width_bins: float) -> np.ndarray:
    lag = np.arange(n_time)[:, None] - np.arange(n_time)[None, :]
    kernel = np.exp(-0.5 * (lag / width_bins) ** 2)
    return kernel / kernel.sum(axis=1, keepdims=True)


def mante_like(
    n_units: int = 727,
    n_time: int = 15,
    noise: float = 0.5,
    spectrum_exponent: float = 1.0,
    seed: int = 0,
    *,
    n_latents: int | None = None,
) -> Dataset:
    r"""A synthetic prefrontal population for the contextual decision task of Mante et al. (2013).

    Conditions: context × motion coherence × colour coherence = 2 × 6 × 6 = 72, in that
    (row-major) order; context ``+1`` means "report the motion", ``−1`` "report the colour".
    The choice is the sign of the relevant coherence, :math:`\text{choice} =
    \operatorname{sign}(m)` in the motion context and :math:`\operatorname{sign}(k)` in the
    colour context (the levels are symmetric around 0 without 0, so there is no tie).

    Latent time courses, with :math:`t_j = (j+1)/T` the elapsed fraction of the stimulus
    period (``dt = 0.75 s / T``, 50 ms for 15 bins), for condition
    :math:`(c, m, k)` with relevant coherence :math:`r`:

    .. math::

        z_\text{ci}(t) = 1 - e^{-t/0.3}, \quad
        z_\text{context} = c, \quad
        z_\text{choice}(t) = \tanh(6\, r\, t), \quad
        z_\text{motion}(t) = \tfrac{m}{0.5} h(t), \quad
        z_\text{colour}(t) = \tfrac{k}{0.5} h(t),

    with the transient :math:`h(t) = (t/0.25)\, e^{1 - t/0.25}`: a condition-independent
    rise, a sustained context signal, integration of the relevant evidence towards the
    choice, and momentary motion and colour evidence whatever the context. The other
    ``n_latents − 5`` latents are random, condition-specific time courses (white noise
    smoothed over time with a Gaussian of 0.15 of the period).

    The ``n = T·72`` by ``K = n_latents`` matrix of latents, each centred, is
    orthonormalised in rank order (QR): :math:`Q^\top Q = I`. Task latents take ranks 1
    (condition-independent), 2 (choice), 4 (motion), 6 (colour) and 8 (context); random
    latents fill the others. With Haar-random orthonormal loadings :math:`W` (``n_units ×
    K``) and i.i.d. noise :math:`E_{ij} \sim \mathcal N(0, \sigma^2)`,

    .. math::

        A = \sqrt{n}\, Q \operatorname{diag}(\sqrt{\lambda})\, W^\top + E, \qquad
        \lambda_i = \frac{n_\text{units}\, i^{-\alpha}}{\sum_{l=1}^{K} l^{-\alpha}},

    so the signal's PC variances are exactly the power law :math:`\lambda_i \propto
    i^{-\alpha}` (``α = spectrum_exponent``), the mean signal variance of a unit is 1 and
    ``noise`` = σ is the noise standard deviation relative to it. Noise adds about σ² to
    every PC variance and fills the spectrum beyond ``K``.

    The conditions table has columns ``context`` (±1), ``motion`` and ``colour``
    (coherences), ``choice`` (±1), ``motion_sign`` and ``colour_sign`` (±1). The units table
    holds each unit's loading :math:`\sqrt{\lambda_i} W_{ji}` on the five task latents
    (``loading_<name>``): the ground truth of its selectivity.

    Args:
        n_units: number of units (727 as in the recording), ``>= 5``.
        n_time: number of time bins, ``>= 2``.
        noise: noise standard deviation σ, ``>= 0``.
        spectrum_exponent: α, ``>= 0``.
        seed: seed of the random generator (``numpy.random.SeedSequence``).
        n_latents: K, the number of latent dimensions, ``>= 5``; at most ``n_units`` and
            ``72·n_time − 1``. Default ``min(100, n_units, 72·n_time − 1)``.

    Raises:
        ValueError: naming the argument.

    Example:
        >>> ds = mante_like(n_units=200, seed=0)
        >>> ds.shape, ds.dt, ds.conditions.columns.tolist()
        ((15, 72, 200), 0.05, ['context', 'motion', 'colour', 'choice', 'motion_sign', 'colour_sign'])
        >>> ds.conditions.groupby(["context", "choice"]).size().tolist()   # 18 conditions each
        [18, 18, 18, 18]
        >>> bool((mante_like(n_units=200, seed=0).activity == ds.activity).all())
        True
    """
    n_units = check_count(n_units, "n_units", 5)
    n_time = check_count(n_time, "n_time", 2)
    noise = check_real(noise, "noise", low=0.0)
    alpha = check_real(spectrum_exponent, "spectrum_exponent", low=0.0)
    seed = check_seed(seed)
    n_conditions = 2 * len(MOTION_COHERENCES) * len(COLOUR_COHERENCES)
    n = n_time * n_conditions
    n_latents = min(100, n_units, n - 1) if n_latents is None else check_count(n_latents, "n_latents", 5)
    if n_latents > min(n_units, n - 1):
        raise ValueError(
            f"n_latents: at most n_units ({n_units}) and time x conditions - 1 ({n - 1}), got {n_latents}"
        )
    rng_latents, rng_loadings, rng_noise = _streams(seed, 3)

    context, motion, colour = (
        a.ravel() for a in np.meshgrid([1.0, -1.0], MOTION_COHERENCES, COLOUR_COHERENCES, indexing="ij")
    )
    relevant = np.where(context > 0, motion, colour)
    choice = np.sign(relevant)
    t = (np.arange(n_time) + 1.0)[:, None] / n_time  # (time, 1)
    transient = (t / 0.25) * np.exp(1.0 - t / 0.25)
    task = {
        "condition_independent": np.broadcast_to(1.0 - np.exp(-t / 0.3), (n_time, n_conditions)),
        "choice": np.tanh(6.0 * relevant * t),
        "motion": motion / 0.5 * transient,
        "colour": colour / 0.5 * transient,
        "context": np.broadcast_to(context, (n_time, n_conditions)),
    }
    smoothing = _smoothing_matrix(n_time, max(0.15 * n_time, 0.5))
    features = np.empty((n, n_latents))
    rank_of = {_MANTE_TASK_RANKS[name]: name for name in task if _MANTE_TASK_RANKS[name] < n_latents}
    if len(rank_of) < len(task):  # short latent spaces: task latents first, in rank order
        rank_of = dict(enumerate(sorted(task, key=_MANTE_TASK_RANKS.get)))
    for rank in range(n_latents):
        if rank in rank_of:
            features[:, rank] = task[rank_of[rank]].reshape(-1)
        else:
            features[:, rank] = (smoothing @ rng_latents.standard_normal((n_time, n_conditions))).reshape(-1)
    features -= features.mean(axis=0)
    q, r = np.linalg.qr(features)
    q *= np.where(np.diag(r) < 0, -1.0, 1.0)
    if np.min(np.abs(np.diag(r))) <= 1e-10 * np.max(np.abs(np.diag(r))):  # pragma: no cover - generic position
        raise ValueError("n_time: the latent time courses are linearly dependent; use more time bins")

    spectrum = np.arange(1, n_latents + 1, dtype=np.float64) ** -alpha
    spectrum *= n_units / spectrum.sum()
    loadings = _haar_columns(rng_loadings, (n_units, n_latents))
    signal = (math.sqrt(n) * q * np.sqrt(spectrum)) @ loadings.T
    activity = signal + noise * rng_noise.standard_normal((n, n_units))

    pd = pandas_module()
    conditions = pd.DataFrame(
        {
            "context": context.astype(np.int64),
            "motion": motion,
            "colour": colour,
            "choice": choice.astype(np.int64),
            "motion_sign": np.sign(motion).astype(np.int64),
            "colour_sign": np.sign(colour).astype(np.int64),
        }
    )
    ranks = {name: rank for rank, name in rank_of.items()}
    units = pd.DataFrame(
        {f"loading_{name}": np.sqrt(spectrum[ranks[name]]) * loadings[:, ranks[name]] for name in task}
    )
    provenance = {
        "generator": "repalign.data.mante_like",
        "parameters": {
            "n_units": n_units,
            "n_time": n_time,
            "noise": noise,
            "spectrum_exponent": alpha,
            "seed": seed,
            "n_latents": n_latents,
        },
        "task_latent_pc_ranks": {name: rank + 1 for name, rank in ranks.items()},
        "context_coding": "+1 motion context, -1 colour context",
        "repalign_version": __version__,
    }
    return Dataset(activity.reshape(n_time, n_conditions, n_units), conditions, units, 0.75 / n_time, provenance)


def gaussian_like(reference, seed: int = 0, *, exact: bool = True) -> Dataset:
    r"""Random Gaussian data with the PC variances of ``reference``: the seed paper's "matched Gaussian".

    With ``X`` the reference flattened to ``(n, p)`` = ``(time·condition, unit)`` and
    centred, :math:`X - \bar X = U_X \operatorname{diag}(s) V_X^\top`, and ``r = min(n − 1, p)``:

    - ``exact=True`` (default): :math:`Y = U \operatorname{diag}(s) V^\top` with ``U``
      (``n × r``) and ``V`` (``p × r``) Haar-random orthonormal columns, ``U`` orthogonal to
      the ones vector (QR of a centred Gaussian matrix). ``Y`` is centred and its PC
      variances equal the reference's exactly: the reference's spectrum in a random
      orthonormal basis of samples and of units.
    - ``exact=False``: i.i.d. Gaussian rows :math:`y \sim \mathcal N(0, V \Lambda V^\top)`,
      :math:`\Lambda = \operatorname{diag}(s^2)/(n-1)`; the PC variances match in expectation.

    The result has the reference's shape, layout, conditions table and ``dt`` (so that task
    variables can be decoded from it, at chance), no units table (its units are random
    mixtures), and zero mean.

    Args:
        reference: a :class:`Dataset` or an array accepted by :func:`repalign.inputs.as_data`.
        seed: seed of the random generator.
        exact: match the spectrum exactly (default) or in expectation.

    Raises:
        ValueError: naming ``reference``, ``seed`` or ``exact``.

    Example:
        >>> import numpy as np
        >>> ref = mante_like(n_units=100, n_time=4, seed=1)
        >>> g = gaussian_like(ref, seed=0)
        >>> g.shape == ref.shape, g.conditions.equals(ref.conditions)
        (True, True)
        >>> x = ref.activity.reshape(-1, 100)
        >>> s_ref = np.linalg.svd(x - x.mean(axis=0), compute_uv=False)
        >>> s_g = np.linalg.svd(g.activity.reshape(-1, 100), compute_uv=False)  # already centred
        >>> bool(np.allclose(s_g, s_ref, rtol=1e-10))
        True
    """
    if isinstance(reference, Dataset):  # checked when it was made
        activity, conditions, dt, origin = reference.activity, reference.conditions, reference.dt, reference.provenance
    else:
        values, _ = as_activity(reference, "reference")
        activity, conditions, dt, origin = values.detach().to("cpu", torch.float64).numpy(), None, None, {}
    seed = check_seed(seed)
    exact = check_bool(exact, "exact")
    matrix = activity.reshape(-1, activity.shape[-1])
    n, p = matrix.shape
    rank = min(n - 1, p)
    singular = np.zeros(rank)
    found = principal_components(matrix).s[:rank]
    singular[:len(found)] = found  # PCs beyond the numerical rank have no variance
    rng_samples, rng_units = _streams(seed, 2)
    basis_units = _haar_columns(rng_units, (p, rank))
    if exact:
        basis_samples = _haar_columns(rng_samples, (n, rank), centre=True)
        values = (basis_samples * singular) @ basis_units.T
    else:
        values = (rng_samples.standard_normal((n, rank)) * (singular / math.sqrt(n - 1))) @ basis_units.T
    provenance = {
        "generator": "repalign.data.gaussian_like",
        "parameters": {"seed": seed, "exact": exact},
        "reference": origin,
        "repalign_version": __version__,
    }
    return Dataset(values.reshape(activity.shape), conditions, None, dt, provenance)


# Figure 4a's trajectory (2 units, 10 time points), as in the authors' code (diffscore, toy2d):
# unit 0 ramps (choice), unit 1 rises and falls back (motion coherence).
_FIG4A_TRAJECTORY = np.array(
    [
        [0.01, 0.01],
        [0.4, 0.3],
        [0.7, 0.5],
        [0.88, 0.613],
        [1.13, 0.68],
        [1.43, 0.73],
        [1.68, 0.6],
        [1.86, 0.473],
        [1.97, 0.24],
        [2.02, 0.04],
    ]
)
_FIG4A_STRENGTH_SCALES = (1.0, 1.5, 2.0)  # unit 1 is stretched by 1 + a·level, a = 0.5


def two_pc(variance_ratio: float | None = None, seed: int | None = None) -> Dataset:
    r"""The two-unit, six-condition reference of the seed paper's Figure 4a, with a settable PC variance ratio.

    Reproduces the authors' reference (their code's ``toy2d`` with ``a = 0.5``): a curved
    trajectory :math:`x(t) \in \mathbb R^2` over 10 time points, along which unit 0 ramps
    (choice) and unit 1 rises and falls (motion coherence). For the three conditions with
    choice ``−1`` the trajectory's second unit is stretched by 1, 1.5 and 2; the three with
    choice ``+1`` are the same curves turned by π (negated). Activity is ``(10, 6, 2)``; the
    conditions table has ``choice`` (±1) and ``motion`` (signed strength ±1, ±2, ±3, the
    stretch growing with the strength). The authors list the strengths of the choice −1
    curves in the opposite order; the data are the same.

    The PC variances :math:`\lambda_1 \ge \lambda_2` of the flattened, centred
    ``(60, 2)`` matrix are then set to ``variance_ratio`` = :math:`\lambda_2/\lambda_1`
    exactly (Figure 4d) by rescaling the centred data along PC 2:
    :math:`x \mapsto \bar x + (x - \bar x)\, v_1 v_1^\top + f\,(x - \bar x)\, v_2 v_2^\top`,
    :math:`f = \sqrt{\rho/\rho_0}`, which keeps :math:`\lambda_1`; ``None`` keeps the
    figure's own ratio :math:`\rho_0 \approx 0.089`. With a ``seed``, the two units are
    mixed by a uniformly random rotation (the spectrum is unchanged); without one the
    result is deterministic.

    Args:
        variance_ratio: :math:`\lambda_2/\lambda_1` in ``(0, 1]``, or ``None``.
        seed: seed of the random rotation, or ``None`` for none.

    Raises:
        ValueError: naming ``variance_ratio`` or ``seed``.

    Example:
        >>> import numpy as np
        >>> ds = two_pc(0.25)
        >>> ds.shape, ds.conditions["motion"].tolist()
        ((10, 6, 2), [-1, -2, -3, 1, 2, 3])
        >>> lam = np.linalg.eigvalsh(np.cov(ds.activity.reshape(-1, 2).T))
        >>> round(float(lam[0] / lam[1]), 12)
        0.25
    """
    if variance_ratio is not None:
        variance_ratio = check_real(variance_ratio, "variance_ratio", low=0.0, high=1.0, inclusive=(False, True))
    if seed is not None:
        seed = check_seed(seed)
    curves = [_FIG4A_TRAJECTORY * [1.0, scale] for scale in _FIG4A_STRENGTH_SCALES]
    activity = np.stack(curves + [-curve for curve in curves], axis=1)  # (time, condition, unit)
    flat = activity.reshape(-1, 2)
    mean, _, singular, vt, _ = principal_components(flat)
    natural = float((singular[1] / singular[0]) ** 2)
    ratio = natural if variance_ratio is None else variance_ratio
    stretch = vt.T @ np.diag([1.0, math.sqrt(ratio / natural)]) @ vt
    flat = mean + (flat - mean) @ stretch
    if seed is not None:
        angle = _streams(seed, 1)[0].uniform(0.0, 2.0 * math.pi)
        flat = flat @ np.array([[math.cos(angle), math.sin(angle)], [-math.sin(angle), math.cos(angle)]])
    pd = pandas_module()
    conditions = pd.DataFrame({"choice": [-1, -1, -1, 1, 1, 1], "motion": [-1, -2, -3, 1, 2, 3]})
    provenance = {
        "generator": "repalign.data.two_pc",
        "parameters": {"variance_ratio": variance_ratio, "seed": seed},
        "variance_ratio": ratio,
        "figure_variance_ratio": natural,
        "source": "Figure 4a of the seed paper (Cloos et al.), trajectory of the authors' toy2d (a = 0.5)",
        "repalign_version": __version__,
    }
    return Dataset(flat.reshape(activity.shape), conditions, None, None, provenance)


def ultrametric(
    n_units: int = 50,
    branching: Sequence[int] = (2, 5, 10),
    inherit_probability: float = 0.8,
    seed: int = 0,
) -> Dataset:
    r"""Binary patterns generated down a tree: expected distances form an ultrametric.

    As in the seed paper's code (``diffscore``, ``ultrametric``): the root is a random
    binary pattern of ``n_units`` bits; every node at depth ``ℓ − 1`` has
    ``branching[ℓ − 1]`` children, each copying its parent's bits and redrawing each bit
    (uniform in {0, 1}) independently with probability :math:`1 - \gamma`
    (``γ = inherit_probability``). The leaves, at depth ``L = len(branching)``, are the
    samples: activity ``(n_leaves, n_units)`` of 0/1 with ``n_leaves = ∏ branching``, in
    depth-first order.

    Two leaves whose lowest common ancestor lies ``k`` levels above them share a bit with
    its ancestor unless one of the ``2k`` copies redrew it, so

    .. math::

        \Pr[\text{bits differ}] = \tfrac12 (1 - \gamma^{2k}), \qquad
        \mathbb E\, d_\text{Hamming} = \tfrac{n_\text{units}}{2} (1 - \gamma^{2k}),

    a function of the common ancestor's depth only, increasing with ``k``: the expected
    distances are an ultrametric (:math:`d(x, z) \le \max(d(x, y), d(y, z))`), i.e. the
    samples form a hierarchy of categories.

    The conditions table (one row per leaf) holds ``level_1 … level_L``, the index of the
    leaf's ancestor at each depth (``level_L`` is the leaf itself), and ``category`` =
    ``level_{L−1}``, the label the authors decode (0 for a one-level tree).

    Args:
        n_units: bits per pattern, ``>= 1``.
        branching: children per node at each depth, integers ``>= 1`` with a product ``>= 2``.
        inherit_probability: γ in ``[0, 1)``.
        seed: seed of the random generator.

    Raises:
        ValueError: naming the argument.

    Example:
        >>> ds = ultrametric(n_units=64, branching=(2, 3), seed=0)
        >>> ds.layout, ds.shape, ds.conditions["category"].tolist()
        ('sample,unit', (6, 64), [0, 0, 0, 1, 1, 1])
    """
    n_units = check_count(n_units, "n_units", 1)
    if isinstance(branching, (str, bytes)) or not isinstance(branching, Sequence) or len(branching) == 0:
        raise ValueError(f"branching: expected a non-empty sequence of integers, got {branching!r}")
    branching = [check_count(b, "branching", 1) for b in branching]
    n_leaves = math.prod(branching)
    if n_leaves < 2:
        raise ValueError(f"branching: the tree needs at least 2 leaves, got {branching} (1 leaf)")
    gamma = check_real(inherit_probability, "inherit_probability", low=0.0, high=1.0, inclusive=(True, False))
    seed = check_seed(seed)
    rng = _streams(seed, 1)[0]

    nodes = rng.integers(0, 2, size=(1, n_units))
    for children in branching:
        nodes = np.repeat(nodes, children, axis=0)
        redraw = rng.random(nodes.shape) >= gamma
        nodes = np.where(redraw, rng.integers(0, 2, size=nodes.shape), nodes)
    leaf = np.arange(n_leaves)
    depth = len(branching)
    levels = {f"level_{d}": leaf // math.prod(branching[d:]) for d in range(1, depth + 1)}
    category = levels[f"level_{depth - 1}"] if depth >= 2 else np.zeros(n_leaves, dtype=np.int64)
    if not (nodes != nodes[:1]).any():
        raise ValueError(
            f"n_units: all {n_units} unit(s) came out constant across the {n_leaves} leaves; "
            f"use more units or leaves, or a lower inherit_probability"
        )
    conditions = pandas_module().DataFrame({**levels, "category": category})
    provenance = {
        "generator": "repalign.data.ultrametric",
        "parameters": {
            "n_units": n_units,
            "branching": branching,
            "inherit_probability": gamma,
            "seed": seed,
        },
        "repalign_version": __version__,
    }
    return Dataset(nodes.astype(np.float64), conditions, None, None, provenance)



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
    density = check_real(density, "density", low=0.0, high=1.0)
    try:
        low, high = (check_real(v, "weight_range") for v in weight_range)
    except (TypeError, ValueError):
        raise ValueError(f"weight_range: expected a pair (low, high) of finite numbers, got {weight_range!r}") from None
    if not low < high:
        raise ValueError(f"weight_range: expected low < high, got ({low}, {high})")
    noise_std = check_real(noise_std, "noise_std", low=0.0)
    seed = check_seed(seed)
    rng_factors, rng_mask, rng_wx, rng_wy, rng_ex, rng_ey = _streams(seed, 6)
    # centred, orthonormal (QR with a positive diagonal: the Gram–Schmidt sign convention)
    factors = _haar_columns(rng_factors, (n_stimuli, n_factors), centre=True)

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
        n_noise_y=n_noise_y, density=density, weight_range=(low, high), noise_std=noise_std, seed=seed,
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

r"""Single-PC perturbation: how CKA and NBS weight the principal components (seed paper, Fig. 6a).

The seed paper (Cloos et al., "Differentiable optimization of similarity scores between models
and brains", section 4.3 and appendix B.3) perturbs one principal component of a dataset and
compares the perturbed copy with the original. Write the centred data
``X̄ = U Σ Vᵀ = Σ_i σ_i u_i v_iᵀ`` (samples × units, rank ``r``, ``λ_i = σ_i²``). The perturbed
copy ``X̃_k`` keeps every right singular vector ``v_i`` and every left singular vector
``u_i`` (the PC scores, normalised) except ``u_k``, which is replaced. Then

.. math::

    \mathrm{CKA}(X, \tilde X_k) \approx \frac{\sum_{i \ne k} \lambda_i^2}{\sum_i \lambda_i^2},
    \qquad
    \mathrm{NBS}(X, \tilde X_k) \approx \frac{\sum_{i \ne k} \lambda_i}{\sum_i \lambda_i}

(quadratic against linear dependence on the perturbed PC's variance). The approximation is
the paper's assumption ``⟨u_X^i, u_Y^k⟩ ≈ 0`` for every ``i``. Two ways to perturb:

- ``mode="orthogonal"`` makes the assumption exact: the new ``u_k`` is a unit vector ``w``
  orthogonal to the constant vector and to *all* ``r`` left singular vectors (``u_k``
  included), so ``X̃_k`` has exactly X's spectrum and PC directions and the closed forms hold
  to rounding error (see :func:`replace_pc` for the derivation and its conditions).
- ``mode="resample"`` is the paper's random-resampling variant, approximate: the new ``u_k``
  is drawn i.i.d. Gaussian with the variance of ``u_k``'s entries.

:func:`closed_form` gives the predictions (CKA, NBS and their angular transforms) and
:func:`perturb_pcs` simulates them with the library's measures: a :class:`PerturbationResult` whose
``table`` sets simulated and closed-form scores side by side, whose ``plot()`` draws Fig. 6a and
whose ``save(path)`` writes it as PNG, PDF and CSV. (``perturbation_table``, ``plot_perturbation``
and ``save`` of repalign 0.1 remain until 0.3 as deprecated aliases.)

Example:
    >>> import numpy as np, repalign
    >>> from repalign.perturbation import replace_pc, closed_form, pc_spectrum
    >>> X = np.random.default_rng(0).normal(size=(200, 6)) * [3, 2, 1.5, 1, 0.5, 0.2]
    >>> Y = replace_pc(X, 1, mode="orthogonal", seed=0)
    >>> cka = repalign.measure("cka")(X, Y)
    >>> bool(abs(cka - closed_form(pc_spectrum(X), 1, "cka")) < 1e-10)
    True
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import numpy as np
import torch

from ._checks import check_choice, check_count, check_items, check_rng, check_seed
from ._linalg import principal_components
from ._optional import import_pandas, import_pyplot
from ._version import deprecated
from .inputs import as_data
from .registry import Measure, resolve
from .registry import measure as named_measure
from .results import Result, check_table, colours, legend, log_variance_axis, save_figure, table_of

__all__ = [
    "replace_pc",
    "pc_spectrum",
    "closed_form",
    "perturb_pcs",
    "PerturbationResult",
    "MODES",
    "CLOSED_FORM_MEASURES",
    "perturbation_table",
    "plot_perturbation",
    "save",
]

MODES = ("orthogonal", "resample")

# canonical measure name -> (base similarity, transform); the closed forms are exact for the
# biased (Gretton) linear CKA and NBS only, so other CKA estimators and kernels are refused
CLOSED_FORM_MEASURES = {
    "cka-kernel=linear-hsic=gretton-score": ("cka", "score"),
    "cka-kernel=linear-hsic=gretton-angular_score": ("cka", "angular_score"),
    "cka-kernel=linear-hsic=gretton-distance=angular": ("cka", "angular_distance"),
    "nbs-score": ("nbs", "score"),
    "procrustes-angular_score": ("nbs", "angular_score"),
    "procrustes-distance=angular": ("nbs", "angular_distance"),
}

# legend labels for Fig. 6a (the paper's names)
_LABELS = {
    "cka-kernel=linear-hsic=gretton-score": "CKA",
    "cka-kernel=linear-hsic=gretton-angular_score": "angular CKA",
    "cka-kernel=linear-hsic=gretton-distance=angular": "arccos CKA",
    "nbs-score": "NBS",
    "procrustes-angular_score": "angular Procrustes",
    "procrustes-distance=angular": "Procrustes (arccos NBS)",
}



@dataclass(frozen=True, eq=False)
class _PCs:
    """Flattened data, its column means and the thin SVD of the centred matrix (rank r)."""

    flat: np.ndarray  # (n, p), float64
    mean: np.ndarray  # (p,)
    u: np.ndarray  # (n, r)
    s: np.ndarray  # (r,), descending, all > tolerance
    vt: np.ndarray  # (r, p)
    shape: tuple

    @property
    def n_samples(self) -> int:
        return self.flat.shape[0]

    @property
    def rank(self) -> int:
        return self.s.size


def _decompose(X, name: str = "X") -> _PCs:
    data, _ = as_data(X, name)  # the one validator: type, 2D/3D, NaN/Inf, >= 2 samples, not constant
    flat = data.values.detach().cpu().to(dtype=torch.float64).numpy().copy()
    shape = (flat.shape if data.n_conditions is None else (data.n_time, data.n_conditions, data.n_units))
    pcs = principal_components(flat)
    if pcs.rank == 0:
        raise ValueError(f"{name}: the centred data is zero (every unit constant); it has no principal components")
    return _PCs(flat, pcs.mean, pcs.u, pcs.s, pcs.vt, tuple(shape))


_X_RANK = "X has {} principal component(s) with non-zero variance"


def _check_k(k, rank: int, name: str = "k", owner: str = _X_RANK) -> int:
    if isinstance(k, bool) or not isinstance(k, numbers.Integral):
        raise ValueError(f"{name}: expected an integer PC index (0 = largest variance), got {k!r}")
    if not 0 <= k < rank:
        raise ValueError(f"{name}: PC index {int(k)} is out of range; {owner.format(rank)}, "
                         f"valid indices 0..{rank - 1}")
    return int(k)


def _check_mode(mode) -> str:
    return check_choice(mode, "mode", MODES)


def _orthogonal_scores(pcs: _PCs, rng: np.random.Generator) -> np.ndarray:
    """A unit vector orthogonal to the constant vector and to every left singular vector."""
    n = pcs.n_samples
    spare = n - 1 - pcs.rank
    if spare < 1:
        raise ValueError(
            f"X: mode='orthogonal' needs a centred sample direction outside the span of the PC scores, "
            f"i.e. more than rank + 1 samples; X has {n} samples and rank {pcs.rank}. "
            f"Use mode='resample' (the paper's approximate variant) or more samples"
        )
    basis = np.column_stack([np.full(n, 1.0 / math.sqrt(n)), pcs.u])
    w = rng.standard_normal(n)
    for _ in range(2):  # twice: the second pass removes what rounding left of the projection
        w -= basis @ (basis.T @ w)
    return w / np.linalg.norm(w)


def _resampled_scores(pcs: _PCs, k: int, rng: np.random.Generator) -> np.ndarray:
    """The paper's draw: i.i.d. Gaussian entries with the variance of u_k's entries (1/n)."""
    uk = pcs.u[:, k]
    return rng.normal(0.0, float(np.std(uk)), size=pcs.n_samples)


def _perturbed(pcs: _PCs, k: int, mode: str, rng: np.random.Generator) -> np.ndarray:
    new = _orthogonal_scores(pcs, rng) if mode == "orthogonal" else _resampled_scores(pcs, k, rng)
    # X̃_k = X − σ_k (u_k − w) v_kᵀ: the mean and every other PC untouched
    return pcs.flat - pcs.s[k] * np.outer(pcs.u[:, k] - new, pcs.vt[k])


def replace_pc(X, k: int, *, mode: str = "orthogonal", seed: int | np.random.Generator = 0) -> np.ndarray:
    r"""X with the scores of its k-th principal component replaced, variance kept.

    With ``X̄ = X − 1 x̄ᵀ = U Σ Vᵀ`` the centred data (``(time, condition, unit)`` input is
    flattened to ``(time·condition, unit)`` first, as the measures do), rank ``r``, PCs sorted
    by variance (``k = 0`` is the largest), the result is

    .. math::

        \tilde X_k = X - \sigma_k\,(u_k - w)\,v_k^\top ,

    i.e. the k-th left singular vector ``u_k`` is replaced by ``w``; the mean, the right
    singular vectors (PC directions in unit space) and the other PCs are unchanged.

    ``mode="orthogonal"`` (exact): ``w`` is a random unit vector with ``w ⊥ 1`` and
    ``w ⊥ u_i`` for every ``i < r``, ``i = k`` included. Write ``Ỹ`` for ``X̃_k`` centred.
    Then ``Ỹ = U' Σ Vᵀ`` with ``U'`` (``U`` with column k replaced by ``w``) orthonormal, so
    Ỹ has X's spectrum and PC directions, and ``X̄ᵀỸ = V diag(λ_i [i ≠ k]) Vᵀ``. Hence
    ``‖X̄ᵀỸ‖_F² = Σ_{i≠k} λ_i²``, ``‖X̄ᵀỸ‖_* = Σ_{i≠k} λ_i``, ``‖X̄X̄ᵀ‖ = ‖ỸỸᵀ‖`` (Frobenius
    and nuclear), and CKA and NBS equal the closed forms of :func:`closed_form` up to
    rounding. Each condition is needed: ``w ⊥ u_i (i ≠ k)`` keeps the other PCs' scores
    uncorrelated with the new one; ``w ⊥ u_k`` (the paper's ``⟨u_X^k, u_Y^k⟩ ≈ 0``) — a
    component ``c`` along ``u_k`` would add ``c²λ_k²`` to CKA's numerator and ``|c|λ_k`` to
    NBS's; ``w ⊥ 1`` keeps it through the measures' centring; ``‖w‖ = 1`` keeps the variance
    ``λ_k``; ``V`` unchanged. Such a ``w`` exists iff ``n_samples > r + 1`` (a spare centred
    direction in *sample* space); otherwise (e.g. at least as many units as samples, full
    rank) a ``ValueError`` says so: then no copy with X's spectrum and PC directions reaches
    the closed forms exactly, and only ``mode="resample"`` applies.

    Why sample space and not unit space: replacing the direction ``v_k`` by a unit-space
    direction orthogonal to all PCs (scores kept) is ``X̄ R`` with ``R`` orthogonal, which every
    rotation-invariant measure (CKA, NBS, Procrustes) scores as 1. The paper perturbs the left
    singular vector (appendix B.3: "The right singular vectors of Y are the same as the right
    singular vectors of X").

    ``mode="resample"`` (the paper's variant, approximate): ``w`` has i.i.d. entries
    ``N(0, s²)``, ``s²`` the (population) variance of ``u_k``'s entries, which is ``1/n``
    because ``u_k`` is centred and of unit norm ("we randomly sample u_Y^k from a Gaussian
    distribution with the same variance as the variance of u_X^k so that σ_Y^k = σ_X^k").
    ``w`` is neither normalised, centred nor orthogonalised: the variance put back along
    ``v_k`` is about ``λ_k ‖w‖²`` (``‖w‖² ~ χ²_n / n``, ``λ_k`` in expectation) and
    ``⟨u_i, w⟩ ~ N(0, 1/n)``, so the closed forms hold up to ``O(n^{-1/2})`` — with a small
    positive bias for NBS, whose numerator gains about ``|⟨u_k, w⟩| λ_k``.

    Args:
        X: ``(sample, unit)`` or ``(time, condition, unit)``; numpy array, torch tensor, xarray
            DataArray or nested list (checked by :func:`repalign.inputs.as_data`).
        k: index of the PC to replace, ``0 <= k < rank`` (0 = largest variance).
        mode: ``"orthogonal"`` (exact closed forms) or ``"resample"`` (the paper's variant).
        seed: non-negative integer or ``numpy.random.Generator`` for the new scores ``w``.

    Returns:
        A float64 numpy array of X's shape.

    Raises:
        ValueError: bad X (from the input checks, or zero centred data), ``k`` not an integer
            in ``[0, rank)``, unknown ``mode``, invalid ``seed``, or ``mode="orthogonal"`` with
            no spare sample direction (``n_samples <= rank + 1``).

    Example:
        >>> import numpy as np
        >>> X = np.random.default_rng(1).normal(size=(4, 5, 3))      # (time, condition, unit)
        >>> Y = replace_pc(X, 0, seed=2)
        >>> Y.shape, bool(np.allclose(pc_spectrum(Y), pc_spectrum(X)))
        ((4, 5, 3), True)
    """
    mode = _check_mode(mode)
    rng = check_rng(seed)
    pcs = _decompose(X)
    k = _check_k(k, pcs.rank)
    return _perturbed(pcs, k, mode, rng).reshape(pcs.shape)


def pc_spectrum(X) -> np.ndarray:
    """The variances ``λ_i = σ_i²`` of X's principal components, descending (non-zero ones only).

    ``σ_i`` are the singular values of the centred, flattened ``(samples, units)`` matrix; the
    closed forms are ratios, so the normalisation (``1`` here, not ``1/n``) does not matter.
    """
    return _decompose(X).s ** 2


def _spectrum(spectrum) -> np.ndarray:
    try:
        lam = np.asarray(spectrum, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"spectrum: expected a 1D sequence of PC variances, got {type(spectrum).__name__}") from None
    if lam.ndim != 1 or lam.size == 0:
        raise ValueError(f"spectrum: expected a non-empty 1D array of PC variances, got shape {lam.shape}")
    if not np.all(np.isfinite(lam)) or np.any(lam < 0):
        raise ValueError("spectrum: PC variances must be finite and non-negative")
    if not np.any(lam > 0):
        raise ValueError("spectrum: all PC variances are zero")
    return lam


def _closed_form_kind(measure) -> tuple[str, str, str]:
    m = resolve(measure)
    if m.name not in CLOSED_FORM_MEASURES:
        raise ValueError(f"measure: no closed form for {m.name!r}; the seed paper's closed forms cover "
                         f"{sorted(CLOSED_FORM_MEASURES)} (aliases cka, nbs, angular-cka, angular-procrustes, "
                         f"procrustes)")
    base, transform = CLOSED_FORM_MEASURES[m.name]
    return m.name, base, transform


def closed_form(spectrum, k: int, measure: str = "cka") -> float:
    r"""The seed paper's prediction for ``measure(X, X̃_k)`` from X's PC variances (Fig. 6a).

    With ``λ_i`` the PC variances (squared singular values of the centred data; any common
    scale) and ``k`` the replaced PC (eq. of section 4.3 and appendix B.3):

    .. math::

        \mathrm{CKA} = \frac{\sum_{i \ne k} \lambda_i^2}{\sum_i \lambda_i^2}, \qquad
        \mathrm{NBS} = \frac{\sum_{i \ne k} \lambda_i}{\sum_i \lambda_i}

    and their transforms as defined in the paper's appendix B.1 and the catalogue:
    angular CKA score ``1 − arccos(CKA)/(π/2)`` (``angular-cka``), angular Procrustes score
    ``1 − arccos(NBS)/(π/2)`` (``angular-procrustes``), and the angular distances
    ``arccos(CKA)`` and ``arccos(NBS)`` (``procrustes``).

    Args:
        spectrum: 1D PC variances ``λ_i`` (e.g. :func:`pc_spectrum`), finite, ``>= 0``,
            in any order (``k`` indexes this array).
        k: index of the replaced PC in ``spectrum``.
        measure: a name or ``repalign.Measure`` among :data:`CLOSED_FORM_MEASURES` (aliases
            ``cka``, ``nbs``, ``angular-cka``, ``angular-procrustes``, ``procrustes``).

    Raises:
        ValueError: a bad spectrum, ``k`` out of range, or a measure without a closed form
            (e.g. debiased CKA, Gaussian-kernel CKA, regression).

    Example:
        >>> closed_form([3.0, 1.0], 0, "nbs"), closed_form([3.0, 1.0], 0, "cka")
        (0.25, 0.1)
        >>> round(closed_form([1.0, 1.0], 1, "angular-procrustes"), 12)   # 1 − (π/3)/(π/2)
        0.333333333333
    """
    lam = _spectrum(spectrum)
    k = _check_k(k, lam.size, owner="spectrum has {} entries")
    _, base, transform = _closed_form_kind(measure)
    power = 2 if base == "cka" else 1
    weights = lam**power
    value = float((weights.sum() - weights[k]) / weights.sum())
    value = min(max(value, 0.0), 1.0)
    if transform == "score":
        return value
    angle = math.acos(value)
    return angle if transform == "angular_distance" else 1.0 - angle / (math.pi / 2)


@dataclass(frozen=True, eq=False)
class PerturbationResult(Result):
    """Fig. 6a: scores between X and single-PC perturbations of it, simulated and in closed form.

    Attributes:
        table: one row per (repeat, k, measure): ``measure`` (canonical name), ``k``,
            ``explained_variance`` (``λ_k / Σλ``), ``simulated``, ``closed_form``, ``mode``, ``repeat``.
        measures, ks, mode, seed, n_repeats: the arguments of :func:`perturb_pcs`.
    """

    record_kind = "perturbation"

    table: object
    measures: tuple
    ks: tuple
    mode: str
    seed: int
    n_repeats: int

    @property
    def max_error(self) -> float:
        """Largest ``|simulated − closed form|`` over the rows with a closed form (NaN when none has one)."""
        errors = (self.table.simulated - self.table.closed_form).abs().dropna()
        return float(errors.max()) if len(errors) else math.nan

    def plot(self, ax=None, x: str = "explained_variance"):
        """Fig. 6a: score against the perturbed PC, simulated points and closed-form lines.

        One colour per measure; every simulated value (all repeats) is an open circle, the closed
        form a line through the PCs in order. ``x``: ``"explained_variance"`` (log scale, as in the
        paper's variance axes) or ``"k"`` (PC index, 1-based on the axis as in the paper's "PC 1").
        """
        return _plot(self.table, ax, x)

    def _record_settings(self) -> dict:
        return {"measures": list(self.measures), "ks": list(self.ks), "mode": self.mode, "seed": self.seed,
                "n_repeats": self.n_repeats}


def perturb_pcs(
    X,
    measures=("cka", "nbs", "angular-procrustes", "angular-cka"),
    ks=range(10),
    mode: str = "orthogonal",
    seed: int = 0,
    n_repeats: int = 1,
) -> PerturbationResult:
    """Simulate Fig. 6a: each measure between X and :func:`replace_pc` copies, beside the closed forms.

    Repeat ``r`` of PC ``k`` draws its new scores from
    ``numpy.random.default_rng([seed, r, k])``, so a row does not depend on which other
    ``ks`` or repeats are asked for, and ``replace_pc(X, k, mode=mode,
    seed=numpy.random.default_rng([seed, r, k]))`` rebuilds its perturbed data.

    Args:
        X: ``(sample, unit)`` or ``(time, condition, unit)`` data or a Dataset (see :func:`replace_pc`).
        measures: names or ``repalign.Measure`` objects. Every measure is simulated; those with a
            closed form (:data:`CLOSED_FORM_MEASURES`) also get it, the others ``NaN``.
        ks: PC indices (0 = largest variance), each in ``[0, rank)``; duplicates are refused.
        mode: ``"orthogonal"`` or ``"resample"`` (see :func:`replace_pc`).
        seed: non-negative integer.
        n_repeats: number of independent draws per PC (``>= 1``).

    Returns:
        A :class:`PerturbationResult` (``.table``, ``.plot()``, ``.save(path)``, ``.max_error``).

    Raises:
        ValueError: as :func:`replace_pc`, plus unknown or repeated measures, empty or
            duplicated ``ks``, a bad ``n_repeats`` or ``seed``.

    Example:
        >>> import numpy as np
        >>> X = np.random.default_rng(0).normal(size=(100, 5)) * [4, 2, 1, 0.5, 0.25]
        >>> result = perturb_pcs(X, measures=("cka", "nbs"), ks=[0, 1])
        >>> list(result.table.columns)
        ['measure', 'k', 'explained_variance', 'simulated', 'closed_form', 'mode', 'repeat']
        >>> bool(result.max_error < 1e-10)
        True
    """
    pd = import_pandas()

    mode = _check_mode(mode)
    seed = check_seed(seed)
    n_repeats = check_count(n_repeats, "n_repeats", 1)
    measures = check_items((measures,) if isinstance(measures, (str, Measure)) else measures, "measures",
                           "measure names or Measures")
    names = [resolve(m, "measures").name for m in measures]
    if len(set(names)) != len(names):
        raise ValueError(f"measures: the same measure is named twice ({names})")
    pcs = _decompose(X)
    ks = [_check_k(k, pcs.rank, "ks") for k in check_items(ks, "ks", "PC indices", distinct=True)]

    lam = pcs.s**2
    bound = [named_measure(name).bind(pcs.flat) for name in names]
    rows = []
    for repeat in range(n_repeats):
        for k in ks:
            Y = _perturbed(pcs, k, mode, np.random.default_rng([seed, repeat, k]))
            for name, m in zip(names, bound):
                predicted = closed_form(lam, k, name) if name in CLOSED_FORM_MEASURES else math.nan
                rows.append((name, k, float(lam[k] / lam.sum()), float(m(Y)), predicted, mode, repeat))
    table = pd.DataFrame(rows, columns=["measure", "k", "explained_variance", "simulated", "closed_form", "mode",
                                        "repeat"])
    return PerturbationResult(table, tuple(names), tuple(ks), mode, seed, n_repeats)


def _plot(table, ax=None, x: str = "explained_variance"):
    check_table(table, ("measure", "k", "explained_variance", "simulated", "closed_form"), "perturbation")
    if x not in ("explained_variance", "k"):
        raise ValueError(f"x: expected 'explained_variance' or 'k', got {x!r}")
    plt = import_pyplot()
    from matplotlib.lines import Line2D  # noqa: PLC0415

    if ax is None:
        _, ax = plt.subplots(figsize=(4.5, 3.5))

    palette = colours()
    shift = 1 if x == "k" else 0  # the paper counts PCs from 1
    handles = []
    for i, (name, rows) in enumerate(table.groupby("measure", sort=False)):
        colour = palette[i % len(palette)]
        line = rows.drop_duplicates("k").sort_values("k")
        if line["closed_form"].notna().any():
            handles += ax.plot(line[x] + shift, line["closed_form"], "-", color=colour, label=_LABELS.get(name, name))
        else:  # no closed form: a dotted line through the simulated means
            means = rows.groupby("k", sort=True)[["simulated", x]].mean()
            handles += ax.plot(means[x] + shift, means["simulated"], ":", color=colour, label=_LABELS.get(name, name))
        ax.plot(rows[x] + shift, rows["simulated"], "o", ms=4, mfc="none", color=colour)
    handles += [Line2D([], [], color="0.3", ls="-", label="closed form"),
                Line2D([], [], color="0.3", ls="none", marker="o", mfc="none", ms=4, label="simulated")]
    if x == "explained_variance":
        log_variance_axis(ax, "variance explained by the perturbed PC")
    else:
        ax.set_xlabel("perturbed PC")
    ax.set_ylabel("similarity with the perturbed data")
    modes = sorted(set(table["mode"])) if "mode" in table.columns else []
    ax.set_title(f"single-PC perturbation ({', '.join(modes)})" if modes else "single-PC perturbation",
                 fontsize="small")
    legend(ax, handles=handles, frameon=False, fontsize="x-small")
    return ax


# -- deprecated aliases of repalign 0.1 (removed in 0.3) ------------------------------------------------------


def perturbation_table(X, measures=("cka", "nbs", "angular-procrustes", "angular-cka"), ks=range(10),
                       mode: str = "orthogonal", seed: int = 0, n_repeats: int = 1):
    """Deprecated: ``perturb_pcs(...).table``."""
    deprecated("repalign.perturbation.perturbation_table", "perturb_pcs(...).table")
    return perturb_pcs(X, measures, ks, mode, seed, n_repeats).table


def plot_perturbation(table, ax=None, x: str = "explained_variance"):
    """Deprecated: ``perturb_pcs(...).plot()``."""
    deprecated("repalign.perturbation.plot_perturbation", "perturb_pcs(...).plot()")
    return _plot(table_of(table), ax, x)


def save(table, path, x: str = "explained_variance") -> list[str]:
    """Deprecated: ``perturb_pcs(...).save(path)``."""
    deprecated("repalign.perturbation.save", "perturb_pcs(...).save(path)")
    table = table_of(table)
    return save_figure(_plot(table, x=x), table, path)

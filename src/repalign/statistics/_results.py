"""The results of :mod:`repalign.statistics`: :class:`Bootstrap`, :class:`Permutation`, :class:`Score`."""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np

from .._optional import import_pandas, import_pyplot
from ..registry import short_name
from ..results import Result

# null values within this relative distance of the estimate count as ties (see Permutation.p_value)
TIE_TOLERANCE = 1e-9

__all__ = ["Bootstrap", "Permutation", "Score", "normal_interval", "resampled_standard_error"]


def _finite(values: np.ndarray) -> np.ndarray:
    return values[np.isfinite(values)]


def resampled_standard_error(values, sampling: str = "replacement", n_units: int | None = None) -> float:
    """Standard deviation of the finite resampled values (ddof = 1); for half-sampling of m = ⌊n/2⌋ of
    n units times √(m/(n − m)) (the delete-d jackknife's factor, Shao & Wu 1989: 1 for even n)."""
    sd = float(np.std(_finite(np.asarray(values, dtype=np.float64)), ddof=1))
    if sampling == "half":
        m = n_units // 2
        sd *= math.sqrt(m / (n_units - m))
    return sd


def normal_interval(estimate: float, standard_error: float, confidence_level: float) -> tuple[float, float]:
    """estimate ∓ Φ⁻¹((1 + γ)/2)·standard error at confidence level γ."""
    from scipy.special import ndtri  # scipy loads on first use

    half = float(ndtri((1.0 + confidence_level) / 2)) * standard_error
    return float(estimate - half), float(estimate + half)


@dataclass(frozen=True, eq=False)
class Bootstrap(Result):
    """A measure's value with its bootstrap distribution (:func:`repalign.statistics.bootstrap`).

    Attributes:
        name: the measure's canonical name; kind: ``"score"`` or ``"distance"``.
        estimate: the measure on the data as given.
        values: the B resampled values (NaN where a resample leaves the measure undefined).
        confidence_level, over, seed: of the bootstrap.
        method: the interval's, ``"percentile"``, ``"basic"``, ``"normal"`` or ``"bca"``; jackknife: the
            leave-one-out values (BCa).
        sampling: ``"replacement"`` (the bootstrap) or ``"half"`` (half-sampling); n_units: the number n of
            resampled conditions or samples (the half-sampling standard error's factor).
    """

    record_kind = "bootstrap"

    name: str
    kind: str
    estimate: float
    values: np.ndarray
    confidence_level: float = 0.95
    over: str = "conditions"
    seed: int = 0
    method: str = "percentile"
    jackknife: np.ndarray | None = None
    sampling: str = "replacement"
    n_units: int | None = None

    def __post_init__(self):
        undefined = int((~np.isfinite(self.values)).sum())
        if undefined == len(self.values):
            raise ValueError(f"{self.name}: the measure is undefined on every resample")
        if undefined:
            warnings.warn(f"{self.name}: {undefined} of {len(self.values)} resamples leave the measure undefined "
                          f"(too few distinct {self.over}); they are left out of the interval", stacklevel=3)

    @property
    def n_resamples(self) -> int:
        return len(self.values)

    @property
    def n_undefined(self) -> int:
        """Resamples where the measure is undefined (NaN values), left out of the summaries."""
        return int((~np.isfinite(self.values)).sum())

    @property
    def standard_error(self) -> float:
        """Standard deviation of the resampled values (ddof = 1); for half-sampling of m = ⌊n/2⌋ of n units
        times √(m/(n − m)) (:func:`resampled_standard_error`)."""
        return resampled_standard_error(self.values, self.sampling, self.n_units)

    @property
    def interval(self) -> tuple[float, float]:
        r"""The interval at ``confidence_level`` γ: quantiles of the values (numpy's linear rule).

        Percentile: the (1 − γ)/2 and (1 + γ)/2 quantiles q₋, q₊. Basic: 2·estimate − q₊, 2·estimate − q₋.
        Normal: estimate ∓ Φ⁻¹((1 + γ)/2)·standard error (the only one for half-sampling). BCa (Efron 1987; Efron & Tibshirani 1993, §14.3):
        the quantiles Φ(ẑ₀ + (ẑ₀ + z_α)/(1 − â(ẑ₀ + z_α))) for z_α = Φ⁻¹((1 ∓ γ)/2), with the bias correction
        ẑ₀ = Φ⁻¹(#{values < estimate} + ½#{values = estimate})/B) (kept within 1/(2B) of 0 and 1) and the
        acceleration â = Σd_i³ / (6 (Σd_i²)^{3/2}), d_i = mean(jackknife) − jackknife_i.
        """
        from scipy.special import ndtr, ndtri  # scipy loads on first use

        alpha = (1.0 - self.confidence_level) / 2
        values = _finite(self.values)
        levels = np.array([alpha, 1.0 - alpha])
        if self.method == "normal":
            return normal_interval(self.estimate, self.standard_error, self.confidence_level)
        if self.method == "bca":
            below = (np.sum(values < self.estimate) + 0.5 * np.sum(values == self.estimate)) / len(values)
            z0 = ndtri(np.clip(below, 0.5 / len(values), 1 - 0.5 / len(values)))
            jackknife = _finite(np.asarray(self.jackknife))
            d = jackknife.mean() - jackknife
            spread = 6 * np.sum(d ** 2) ** 1.5
            accel = np.sum(d ** 3) / spread if spread > 0 else 0.0
            z = ndtri(levels)
            levels = ndtr(z0 + (z0 + z) / (1 - accel * (z0 + z)))
        low, high = np.quantile(values, levels)
        if self.method == "basic":
            low, high = 2 * self.estimate - high, 2 * self.estimate - low
        return float(low), float(high)

    @property
    def table(self):
        """One row: measure, name, kind, estimate, standard_error, low, high, confidence_level, n_resamples,
        n_undefined, method, over, seed."""
        pd = import_pandas()
        low, high = self.interval
        return pd.DataFrame([{
            "measure": short_name(self.name), "name": self.name, "kind": self.kind, "estimate": self.estimate,
            "standard_error": self.standard_error, "low": low, "high": high,
            "confidence_level": self.confidence_level, "n_resamples": self.n_resamples,
            "n_undefined": self.n_undefined, "method": self.method, "sampling": self.sampling, "over": self.over,
            "seed": self.seed}])

    def plot(self, ax=None):
        """Histogram of the resampled values; the estimate (line) and the interval (band) marked."""
        plt = import_pyplot()
        if ax is None:
            _, ax = plt.subplots(figsize=(4.5, 3.2))
        low, high = self.interval
        ax.axvspan(low, high, color="0.88", lw=0, label=f"{self.confidence_level:.0%} interval ({self.method})")
        ax.hist(_finite(self.values), bins="auto", color="C0", alpha=0.8)
        ax.axvline(self.estimate, color="k", lw=1.2, label=f"estimate {self.estimate:.3g}")
        ax.set_xlabel(short_name(self.name))
        ax.set_ylabel("resamples")
        ax.set_title(f"bootstrap over {self.over} (B = {self.n_resamples})", fontsize="small")
        ax.legend(frameon=False, fontsize="x-small")
        return ax

    def _record_settings(self) -> dict:
        return {"measure": self.name, "confidence_level": self.confidence_level, "over": self.over,
                "seed": self.seed, "n_resamples": self.n_resamples, "method": self.method,
                "sampling": self.sampling, "n_units": self.n_units}

    def _record_arrays(self) -> dict:
        arrays = {"values": np.asarray(self.values)}
        if self.jackknife is not None:
            arrays["jackknife"] = np.asarray(self.jackknife)
        return arrays


@dataclass(frozen=True, eq=False)
class Permutation(Result):
    """A measure's value against its permutation null (:func:`repalign.statistics.permutation_test`).

    Attributes:
        name, kind: the measure; estimate: its value on the data as given.
        null: the values with Y's conditions (rows) shuffled; over, seed: of the permutations.
    """

    record_kind = "permutation"

    name: str
    kind: str
    estimate: float
    null: np.ndarray
    over: str = "conditions"
    seed: int = 0

    @property
    def n_resamples(self) -> int:
        return len(self.null)

    @property
    def chance(self) -> float:
        """The mean of the null: the measure's chance level on these data."""
        return float(np.mean(self.null))

    @property
    def p_value(self) -> float:
        """(1 + #{null at least as extreme}) / (1 + n): ≥ the estimate for scores, ≤ for distances."""
        # the null is computed by another arithmetic route than the estimate (per-condition sums, batched
        # products): a permutation that reproduces the data (the identity, for one) may land a few ulps on
        # the wrong side. Ties within a relative TIE_TOLERANCE count as at least as extreme (as scipy's
        # permutation_test does with 100 eps)
        gamma = TIE_TOLERANCE * max(abs(self.estimate), float(np.abs(self.null).max(initial=0.0)))
        if self.kind == "score":
            extreme = self.null >= self.estimate - gamma
        else:
            extreme = self.null <= self.estimate + gamma
        return float((1 + int(extreme.sum())) / (1 + len(self.null)))

    @property
    def table(self):
        """One row: measure, name, kind, estimate, chance, null_sd, p_value, n_permutations, over, seed."""
        pd = import_pandas()
        return pd.DataFrame([{
            "measure": short_name(self.name), "name": self.name, "kind": self.kind, "estimate": self.estimate,
            "chance": self.chance, "null_sd": float(np.std(self.null, ddof=1)) if len(self.null) > 1 else math.nan,
            "p_value": self.p_value, "n_permutations": self.n_resamples, "over": self.over, "seed": self.seed}])

    def plot(self, ax=None):
        """Histogram of the null, the estimate as a line, the p-value in the title."""
        plt = import_pyplot()
        if ax is None:
            _, ax = plt.subplots(figsize=(4.5, 3.2))
        ax.hist(self.null, bins="auto", color="0.6", label="null (shuffled conditions)")
        ax.axvline(self.estimate, color="C3", lw=1.4, label=f"estimate {self.estimate:.3g}")
        ax.set_xlabel(short_name(self.name))
        ax.set_ylabel("permutations")
        ax.set_title(f"permutation test: p = {self.p_value:.3g} (n = {self.n_resamples})", fontsize="small")
        ax.legend(frameon=False, fontsize="x-small")
        return ax

    def _record_settings(self) -> dict:
        return {"measure": self.name, "over": self.over, "seed": self.seed, "n_permutations": self.n_resamples}

    def _record_arrays(self) -> dict:
        return {"null": np.asarray(self.null)}


@dataclass(frozen=True, eq=False)
class Score(Result):
    """A measure's value with its bootstrap (``bootstrap``, or None) and permutation null (``permutation``, or None)."""

    record_kind = "score"

    name: str
    kind: str
    estimate: float
    bootstrap: Bootstrap | None
    permutation: Permutation | None
    seed: int = 0

    @property
    def table(self):
        """One row: measure, name, kind, estimate, standard_error, low, high, confidence_level, method,
        n_resamples, over, chance, p_value, n_permutations, seed (NaN for a part not computed)."""
        pd = import_pandas()
        row = {"measure": short_name(self.name), "name": self.name, "kind": self.kind, "estimate": self.estimate}
        boot, perm = self.bootstrap, self.permutation
        low, high = boot.interval if boot else (math.nan, math.nan)
        row.update(standard_error=boot.standard_error if boot else math.nan, low=low, high=high,
                   confidence_level=boot.confidence_level if boot else math.nan, method=boot.method if boot else "",
                   sampling=boot.sampling if boot else "",
                   n_resamples=boot.n_resamples if boot else 0, over=boot.over if boot else "",
                   chance=perm.chance if perm else math.nan, p_value=perm.p_value if perm else math.nan,
                   n_permutations=perm.n_resamples if perm else 0, seed=self.seed)
        return pd.DataFrame([row])

    def plot(self, ax=None):
        """The bootstrap distribution and the null on one axis, the estimate marked."""
        plt = import_pyplot()
        if ax is None:
            _, ax = plt.subplots(figsize=(4.5, 3.2))
        if self.permutation is not None:
            ax.hist(self.permutation.null, bins="auto", color="0.6", alpha=0.8, label="null")
        if self.bootstrap is not None:
            ax.hist(_finite(self.bootstrap.values), bins="auto", color="C0", alpha=0.7, label="bootstrap")
            low, high = self.bootstrap.interval
            ax.axvspan(low, high, color="C0", alpha=0.12, lw=0)
        ax.axvline(self.estimate, color="k", lw=1.2, label=f"estimate {self.estimate:.3g}")
        ax.set_xlabel(short_name(self.name))
        title = "" if self.permutation is None else f"p = {self.permutation.p_value:.3g}"
        ax.set_title(title, fontsize="small")
        ax.legend(frameon=False, fontsize="x-small")
        return ax

    def _record_settings(self) -> dict:
        return {"measure": self.name, "seed": self.seed}

    def _record_arrays(self) -> dict:
        arrays = {}
        if self.bootstrap is not None:
            arrays["values"] = np.asarray(self.bootstrap.values)
        if self.permutation is not None:
            arrays["null"] = np.asarray(self.permutation.null)
        return arrays

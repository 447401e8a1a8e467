"""How the same name differs elsewhere: repalign's measures beside public implementations of that name.

For measures of the catalogue that a package installable from PyPI also computes, :func:`rows`
evaluates both on one fixed pair of datasets (:func:`pair`) and records the package, its version,
the exact call, both values, their difference and the convention that explains it (or "same
definition" where the values agree to rounding). :func:`write` stores the table as
``docs/data/elsewhere.csv``; ``tests/test_docs_elsewhere.py`` recomputes it and checks that the
committed file is not stale and that each stated convention explains its difference.

Packages (each used only if it imports): scikit-learn, SciPy, rsatoolbox, POT, ckatorch.

``python tools/docsite/elsewhere.py [--out PATH]`` writes the file.
"""

from __future__ import annotations

import argparse
import csv
import importlib
import importlib.metadata
import math
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "docs" / "data" / "elsewhere.csv"
COLUMNS = ("repalign_measure", "package", "version", "call", "value", "repalign_value", "difference", "convention",
           "repalign_version")
SAME = "same definition"

# the pair: 360 samples (5 time bins x 72 conditions) of 30 units, and 20 units read from them
N_UNITS_X, N_TIME, N_UNITS_Y, NOISE, SEED_X, SEED_Y = 30, 5, 20, 0.5, 0, 1
RIDGE_ALPHA, FOLDS = 100.0, 5
SINKHORN_EPSILON = 0.01


def pair() -> tuple[np.ndarray, np.ndarray]:
    """The fixed pair (X, Y), float64, samples x units.

    X: ``repalign.data.mante_like(n_units=30, n_time=5, seed=0)`` flattened to (360, 30), rows in
    the dataset's (time, condition) order. Y = X W + noise with W (30 x 20) and the noise drawn from
    ``numpy.random.default_rng(1)``: W standard normal / √30, noise 0.5 x the standard deviation of
    X W per unit. 360 samples > 30 units, so CCA and OLS are defined.
    """
    from repalign import data

    dataset = data.mante_like(n_units=N_UNITS_X, n_time=N_TIME, seed=SEED_X)
    values = np.array(dataset.activity, dtype=np.float64)  # (time, condition, unit)
    x = values.reshape(-1, values.shape[-1])
    rng = np.random.default_rng(SEED_Y)
    signal = x @ (rng.normal(size=(x.shape[1], N_UNITS_Y)) / math.sqrt(x.shape[1]))
    y = signal + NOISE * signal.std(axis=0) * rng.normal(size=signal.shape)
    return x, y


def _available(module: str) -> bool:
    try:
        importlib.import_module(module)
    except ImportError:
        return False
    return True


def _repalign(name: str, x: np.ndarray, y: np.ndarray) -> float:
    import repalign

    return float(repalign.measure(name)(x, y))


def _row(measure: str, package: str, call: str, value: float, repalign_value: float, convention: str) -> dict:
    return {
        "repalign_measure": measure, "package": package, "version": importlib.metadata.version(package),
        "call": call, "value": float(value), "repalign_value": float(repalign_value),
        "difference": float(value) - float(repalign_value), "convention": convention,
    }


def _centred(a: np.ndarray) -> np.ndarray:
    return a - a.mean(axis=0)


# --- scikit-learn ---------------------------------------------------------------------------------

def sklearn_cca_correlations(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Per-component correlations of ``sklearn.cross_decomposition.CCA`` with all min(p, q) components."""
    from sklearn.cross_decomposition import CCA

    k = min(x.shape[1], y.shape[1])
    xs, ys = CCA(n_components=k).fit(x, y).transform(x, y)
    return np.array([np.corrcoef(xs[:, i], ys[:, i])[0, 1] for i in range(k)])


def _sklearn_rows(x, y) -> list[dict]:
    from sklearn.linear_model import LinearRegression, Ridge
    from sklearn.metrics import make_scorer, r2_score
    from sklearn.model_selection import KFold, cross_val_score

    k = min(x.shape[1], y.shape[1])
    rho = sklearn_cca_correlations(x, y)
    cca_call = f"sklearn.cross_decomposition.CCA(n_components={k}).fit(X, Y).transform(X, Y); "
    cca_convention = ("same definition, but NIPALS iterations per component (tol=1e-06, max_iter=500) with "
                      "deflation, so the value agrees only to the solver's tolerance (repalign: SVD of Q_XᵀQ_Y); "
                      "scale=True standardizes units, which CCA is invariant to")
    out = [
        _row("cca-score", "scikit-learn", cca_call + "mean of the per-component Pearson correlations",
             rho.mean(), _repalign("cca-score", x, y), cca_convention),
        _row("cca-squared_score", "scikit-learn", cca_call + "mean of the squared per-component correlations",
             (rho**2).mean(), _repalign("cca-squared_score", x, y), cca_convention),
    ]

    prediction = LinearRegression().fit(y, x).predict(y)
    ols = _repalign("linear_regression-r2", x, y)
    out += [
        _row("linear_regression-r2", "scikit-learn",
             "r2_score(X, LinearRegression().fit(Y, X).predict(Y), multioutput='variance_weighted')",
             r2_score(x, prediction, multioutput="variance_weighted"), ols,
             "same definition: repalign's pooled R² (1 − total residual / total variance, X predicted from Y) "
             "is the variance-weighted R²"),
        _row("linear_regression-r2", "scikit-learn",
             "r2_score(X, LinearRegression().fit(Y, X).predict(Y)) (multioutput='uniform_average', the default)",
             r2_score(x, prediction), ols,
             "sklearn's default averages the per-unit R² with equal weights; repalign pools residuals over units "
             "(variance-weighted); the per-unit mean is repalign's linear_regression-aggregate=per_unit-r2"),
    ]

    folds = KFold(n_splits=FOLDS)  # contiguous blocks like numpy.array_split, no shuffle
    weighted = make_scorer(r2_score, multioutput="variance_weighted")
    ridge_name = f"ridge-lambda={RIDGE_ALPHA:g}-r2-cv={FOLDS}folds"
    ridge = _repalign(ridge_name, x, y)
    ridge_call = f"cross_val_score(Ridge(alpha={RIDGE_ALPHA:g}), Y, X, cv=KFold({FOLDS}){{}}).mean()"
    out += [
        _row(ridge_name, "scikit-learn",
             ridge_call.format(", scoring=make_scorer(r2_score, multioutput='variance_weighted')"),
             cross_val_score(Ridge(alpha=RIDGE_ALPHA), y, x, cv=folds, scoring=weighted).mean(), ridge,
             "same folds (contiguous, unshuffled, sized like numpy.array_split; 2D input: one row per condition) "
             "and fits (intercept = centring with the training means, alpha on the unnormalized Gram); "
             "r2_score measures the test fold's variance about the test fold's own mean, repalign about the "
             "training mean (the prediction's baseline), so sklearn's fold R² is lower when fold means differ "
             "(here each fold is one time bin)"),
        _row(ridge_name, "scikit-learn", ridge_call.format(", scoring='r2'"),
             cross_val_score(Ridge(alpha=RIDGE_ALPHA), y, x, cv=folds).mean(), ridge,
             "as above (test-fold mean in the denominator), and scoring='r2' averages per-unit R² with equal "
             "weights in each fold; repalign pools residuals over units (variance-weighted)"),
    ]
    return out


# --- SciPy ----------------------------------------------------------------------------------------

def _padded(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    width = max(x.shape[1], y.shape[1])
    return (np.pad(x, ((0, 0), (0, width - x.shape[1]))), np.pad(y, ((0, 0), (0, width - y.shape[1]))))


def _scipy_rows(x, y) -> list[dict]:
    from scipy.linalg import orthogonal_procrustes
    from scipy.spatial import procrustes

    xp, yp = _padded(_centred(x), _centred(y))
    rotation, _ = orthogonal_procrustes(yp, xp)
    euclidean = np.linalg.norm(yp @ rotation - xp)
    call = ("R = scipy.linalg.orthogonal_procrustes(Ȳ, X̄)[0] (centred, Y zero-padded to 30 units); "
            "‖Ȳ R − X̄‖_F")
    convention = "same definition (orthogonal group, reflections included; repalign zero-pads the smaller side too)"
    _, _, disparity = procrustes(*_padded(x, y))
    spatial_call = "scipy.spatial.procrustes(X, Y zero-padded to 30 units)[2] (the 'disparity')"
    return [
        _row("procrustes-distance=euclidean", "scipy", call, euclidean,
             _repalign("procrustes-distance=euclidean", x, y), convention),
        _row("procrustes-distance=squared_euclidean", "scipy", call + "²", euclidean**2,
             _repalign("procrustes-distance=squared_euclidean", x, y), convention),
        _row("procrustes-distance=angular", "scipy", spatial_call, disparity,
             _repalign("procrustes-distance=angular", x, y),
             "scipy standardizes both to unit Frobenius norm and returns the squared residual 1 − NBS² = sin²θ; "
             "repalign returns the angle θ = arccos(NBS) in radians"),
        _row("procrustes-angular_score", "scipy", spatial_call, disparity,
             _repalign("procrustes-angular_score", x, y),
             "scipy's disparity is sin²θ, a distance; repalign's score is 1 − θ/(π/2) with θ = arcsin(√disparity)"),
    ]


# --- rsatoolbox -----------------------------------------------------------------------------------

RSA_CASES = (
    # (repalign RDM, rsatoolbox RDM, repalign comparison, rsatoolbox comparison, convention)
    ("correlation", "correlation", "pearson", "corr", SAME),
    ("correlation", "correlation", "spearman", "spearman", SAME + " (Pearson r of average ranks)"),
    ("correlation", "correlation", "cosine", "cosine", SAME),
    ("correlation", "correlation", "kendall", "kendall", SAME + " (τ-b; rsatoolbox 'kendall' is 'tau-b')"),
    ("correlation", "correlation", "kendall", "tau-a",
     ("τ-a has no tie correction in the denominator, repalign computes τ-b; they coincide when neither RDM has "
     "tied entries (none here)")),
    ("squared_euclidean", "euclidean", "pearson", "corr",
     ("same definition: rsatoolbox's 'euclidean' RDM is the squared Euclidean distance divided by the number of "
     "units, a constant factor per RDM that Pearson r ignores")),
    ("squared_euclidean", "euclidean", "cosine", "cosine",
     ("same definition: rsatoolbox's 'euclidean' RDM is the squared distance / number of units; cosine ignores "
     "a constant factor")),
    ("euclidean", "euclidean", "pearson", "corr",
     ("rsatoolbox's 'euclidean' RDM is squared (and divided by the number of units); repalign's euclidean RDM is "
     "the distance itself; Pearson r is not invariant to squaring")),
    ("euclidean", "euclidean", "spearman", "spearman",
     ("same value: rsatoolbox's RDM is the squared distance / number of units, a monotone transform of "
     "repalign's that rank comparisons ignore")),
)


def rsatoolbox_compare(x: np.ndarray, y: np.ndarray, rdm: str, method: str) -> float:
    """``rsatoolbox.rdm.compare`` of ``calc_rdm`` of both inputs (one pattern per sample)."""
    import rsatoolbox

    rdms = [rsatoolbox.rdm.calc_rdm(rsatoolbox.data.Dataset(a), method=rdm) for a in (x, y)]
    return float(rsatoolbox.rdm.compare(rdms[0], rdms[1], method=method)[0, 0])


def _rsatoolbox_rows(x, y) -> list[dict]:
    out = []
    for ours, theirs, compare, method, convention in RSA_CASES:
        call = (f"rsatoolbox.rdm.compare(calc_rdm(Dataset(X), method='{theirs}'), "
                f"calc_rdm(Dataset(Y), method='{theirs}'), method='{method}')")
        name = f"rsa-rdm={ours}-compare={compare}"
        out.append(_row(name, "rsatoolbox", call, rsatoolbox_compare(x, y, theirs, method),
                        _repalign(name, x, y), convention))
    return out


# --- POT ------------------------------------------------------------------------------------------

def unit_correlations(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Pearson correlations ρ_ij between unit i of X and unit j of Y (p x q)."""
    zx, zy = _centred(x), _centred(y)
    zx, zy = zx / np.linalg.norm(zx, axis=0), zy / np.linalg.norm(zy, axis=0)
    return zx.T @ zy


def pot_sinkhorn(x: np.ndarray, y: np.ndarray, epsilon: float = SINKHORN_EPSILON):
    """POT's entropic plan on the cost 1 − ρ with reg = ε·mean(C), and its ⟨P, C⟩ and KL(P ‖ abᵀ)."""
    import ot

    cost = 1.0 - unit_correlations(x, y)
    a, b = np.full(cost.shape[0], 1.0 / cost.shape[0]), np.full(cost.shape[1], 1.0 / cost.shape[1])
    reg = epsilon * cost.mean()
    plan = ot.sinkhorn(a, b, cost, reg, method="sinkhorn_log", numItermax=200_000, stopThr=1e-13)
    positive = plan > 0
    kl = float(np.sum(plan[positive] * np.log(plan[positive] / np.outer(a, b)[positive])))
    return float(np.sum(plan * cost)), kl, reg


def _pot_rows(x, y) -> list[dict]:
    import ot

    rho = unit_correlations(x, y)
    a, b = np.full(rho.shape[0], 1.0 / rho.shape[0]), np.full(rho.shape[1], 1.0 / rho.shape[1])
    plan = ot.emd(a, b, 1.0 - rho)
    transport, kl, _ = pot_sinkhorn(x, y)
    name = f"soft_matching-solver=(sinkhorn-epsilon={SINKHORN_EPSILON:g})-score"
    sinkhorn = _repalign(name, x, y)
    call = ("P = ot.sinkhorn(a, b, C, reg=0.01·mean(C), method='sinkhorn_log') with C = 1 − ρ (unit Pearson "
            "correlations), uniform a, b; ")
    return [
        _row("soft_matching-score", "POT",
             "P = ot.emd(a, b, 1 − ρ) (ρ: Pearson correlations of units, uniform a, b); Σ P ρ",
             np.sum(plan * rho), _repalign("soft_matching-score", x, y),
             "same definition (for p ≠ q repalign itself solves the plan with POT's network simplex)"),
        _row(name, "POT", call + "1 − (⟨P, C⟩ + reg·KL(P ‖ abᵀ))", 1.0 - transport - SINKHORN_EPSILON
             * (1.0 - rho).mean() * kl, sinkhorn,
             "same definition: ε is relative to the mean cost, and the value includes the entropic term; "
             "POT's Σ P log P differs from KL(P ‖ abᵀ) by a constant, so the plan is the same"),
        _row(name, "POT", call + "1 − ⟨P, C⟩ (ot.sinkhorn2's value)", 1.0 - transport, sinkhorn,
             "ot.sinkhorn2 returns only the transport cost ⟨P, C⟩; repalign's entropic value adds "
             "ε·mean(C)·KL(P ‖ abᵀ), so its score is lower by that term"),
    ]


# --- ckatorch -------------------------------------------------------------------------------------

def _ckatorch_rows(x, y) -> list[dict]:
    import torch
    from ckatorch import cka_base

    tx, ty = torch.as_tensor(x), torch.as_tensor(y)
    rbf_name = "cka-kernel=(rbf-sigma=median-sigma_factor=1)-hsic=gretton-score"
    return [
        _row("cka-kernel=linear-hsic=gretton-score", "ckatorch", "ckatorch.cka_base(X, Y, kernel='linear')",
             float(cka_base(tx, ty, kernel="linear")), _repalign("cka-kernel=linear-hsic=gretton-score", x, y),
             SAME + " (biased HSIC, Kornblith et al. 2019)"),
        _row("cka-kernel=linear-hsic=song-score", "ckatorch",
             "ckatorch.cka_base(X, Y, kernel='linear', unbiased=True)",
             float(cka_base(tx, ty, kernel="linear", unbiased=True)),
             _repalign("cka-kernel=linear-hsic=song-score", x, y),
             SAME + " (Kornblith's unbiased centring is Song et al.'s unbiased HSIC)"),
        _row(rbf_name, "ckatorch", "ckatorch.cka_base(X, Y, kernel='rbf', threshold=1.0)",
             float(cka_base(tx, ty, kernel="rbf", threshold=1.0)), _repalign(rbf_name, x, y),
             "ckatorch sets σ² to torch.median of all n² squared distances (diagonal zeros included, lower "
             "middle value); repalign sets σ to the median distance over pairs i < j (mean of the two middle "
             "values)"),
    ]


IMPLEMENTATIONS = (
    ("scikit-learn", "sklearn", _sklearn_rows),
    ("scipy", "scipy", _scipy_rows),
    ("rsatoolbox", "rsatoolbox", _rsatoolbox_rows),
    ("POT", "ot", _pot_rows),
    ("ckatorch", "ckatorch", _ckatorch_rows),
)


def rows(packages=None) -> list[dict]:
    """One row per (repalign measure, public call), for each package that imports (or those named)."""
    x, y = pair()
    out = []
    for package, module, make in IMPLEMENTATIONS:
        if (packages is None or package in packages) and _available(module):
            out += make(x, y)
    return out


def write(path: Path | str = OUT) -> Path:
    """Write :func:`rows` as CSV (the columns of ``COLUMNS``) and return the path."""
    import repalign

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        for row in rows():
            writer.writerow({**{k: repr(v) if isinstance(v, float) else v for k, v in row.items()},
                             "repalign_version": repalign.__version__})
    return path


def main(argv=None) -> int:
    """``python tools/docsite/elsewhere.py [--out PATH]``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    path = write(args.out)
    print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

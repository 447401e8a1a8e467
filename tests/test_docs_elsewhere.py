"""The "elsewhere" table of the docs site: repalign beside public implementations of the same names.

Where ``tools/docsite/elsewhere.py`` says "same definition", the two values agree to float64
rounding; where it states a convention, that convention, recomputed here with numpy/SciPy
independently of both packages, reproduces the other package's value. The committed
``docs/data/elsewhere.csv`` must equal what the module computes now.
"""

from __future__ import annotations

import csv
import importlib.util
import math
from pathlib import Path

import numpy as np
import pytest

import repalign

ROOT = Path(__file__).resolve().parents[1]
CSV = ROOT / "docs" / "data" / "elsewhere.csv"


def _load_module():
    spec = importlib.util.spec_from_file_location("docsite_elsewhere", ROOT / "tools" / "docsite" / "elsewhere.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


elsewhere = _load_module()


@pytest.fixture(scope="module")
def xy():
    return elsewhere.pair()


def _rows_of(package: str, module: str) -> list[dict]:
    pytest.importorskip(module)
    return elsewhere.rows(packages={package})


def _find(rows, measure, call_contains=""):
    found = [r for r in rows if r["repalign_measure"] == measure and call_contains in r["call"]]
    assert len(found) == 1, (measure, call_contains, [r["call"] for r in rows])
    return found[0]


def _agree(row, rel=1e-10):
    assert row["convention"].startswith("same"), row
    assert row["difference"] == pytest.approx(0.0, abs=rel * max(1.0, abs(row["repalign_value"])))


def _centred(a):
    return a - a.mean(axis=0)


# --- the pair ---------------------------------------------------------------------------------------

def test_pair_is_fixed_float64_and_well_posed(xy):
    x, y = xy
    x2, y2 = elsewhere.pair()
    assert x.dtype == y.dtype == np.float64
    assert x.shape == (360, 30) and y.shape == (360, 20)
    np.testing.assert_array_equal(x, x2)
    np.testing.assert_array_equal(y, y2)
    # more samples than units, full column rank: CCA and OLS are defined
    assert np.linalg.matrix_rank(_centred(x)) == 30 and np.linalg.matrix_rank(_centred(y)) == 20


# --- scikit-learn -------------------------------------------------------------------------------------

@pytest.mark.slow  # NIPALS iterated to tol=1e-14: ~5 s
def test_sklearn_cca_is_the_canonical_correlations_up_to_nipals_tolerance(xy):
    rows = _rows_of("scikit-learn", "sklearn")
    x, y = xy
    for name in ("cca-score", "cca-squared_score"):
        row = _find(rows, name)
        # NIPALS at tol=1e-6 agrees only loosely, and not to rounding
        assert abs(row["difference"]) < 1e-5
    # the stated reason: the iterative solver's tolerance; tightened, it reaches rounding
    from sklearn.cross_decomposition import CCA

    xs, ys = CCA(n_components=20, tol=1e-14, max_iter=100_000).fit(x, y).transform(x, y)
    rho = np.array([np.corrcoef(xs[:, i], ys[:, i])[0, 1] for i in range(20)])
    # independent reference: singular values of Q_xᵀQ_y
    reference = np.linalg.svd(np.linalg.qr(_centred(x))[0].T @ np.linalg.qr(_centred(y))[0], compute_uv=False)
    np.testing.assert_allclose(np.sort(rho)[::-1], reference, atol=1e-10)
    assert _find(rows, "cca-score")["repalign_value"] == pytest.approx(reference.mean(), abs=1e-12)
    assert _find(rows, "cca-squared_score")["repalign_value"] == pytest.approx((reference**2).mean(), abs=1e-12)


def _r2_per_unit(target, prediction, baseline):
    return 1 - ((target - prediction) ** 2).sum(axis=0) / ((target - baseline) ** 2).sum(axis=0)


def test_sklearn_in_sample_r2_weighted_agrees_and_uniform_is_the_per_unit_mean(xy):
    rows = _rows_of("scikit-learn", "sklearn")
    x, y = xy
    _agree(_find(rows, "linear_regression-r2", "variance_weighted"))
    uniform = _find(rows, "linear_regression-r2", "uniform_average")
    assert abs(uniform["difference"]) > 1e-3
    # independent OLS via lstsq: the per-unit mean reproduces sklearn's default, the pooled one repalign's
    beta = np.linalg.lstsq(_centred(y), _centred(x), rcond=None)[0]
    prediction = _centred(y) @ beta + x.mean(axis=0)
    per_unit = _r2_per_unit(x, prediction, x.mean(axis=0))
    assert uniform["value"] == pytest.approx(per_unit.mean(), abs=1e-10)
    pooled = 1 - ((x - prediction) ** 2).sum() / (_centred(x) ** 2).sum()
    assert uniform["repalign_value"] == pytest.approx(pooled, abs=1e-10)
    assert repalign.measure("linear_regression-aggregate=per_unit-r2")(x, y) == pytest.approx(per_unit.mean(), abs=1e-10)


def test_sklearn_cv_ridge_differs_by_the_test_fold_mean_and_the_unit_weights(xy):
    rows = _rows_of("scikit-learn", "sklearn")
    x, y = xy
    weighted = _find(rows, "ridge-lambda=100-r2-cv=5folds", "variance_weighted")
    uniform = _find(rows, "ridge-lambda=100-r2-cv=5folds", "scoring='r2'")
    assert abs(weighted["difference"]) > 1e-2 and abs(uniform["difference"]) > 1e-2
    # independent K-fold ridge: contiguous folds, training-mean centring, closed-form solution
    ours, pooled_test_mean, uniform_test_mean = [], [], []
    for test in np.array_split(np.arange(len(x)), 5):
        train = np.setdiff1d(np.arange(len(x)), test)
        mx, my = x[train].mean(axis=0), y[train].mean(axis=0)
        yc = y[train] - my
        beta = np.linalg.solve(yc.T @ yc + 100.0 * np.eye(y.shape[1]), yc.T @ (x[train] - mx))
        prediction = (y[test] - my) @ beta + mx
        residual = ((x[test] - prediction) ** 2).sum(axis=0)
        ours.append(1 - residual.sum() / ((x[test] - mx) ** 2).sum())
        test_mean = x[test].mean(axis=0)
        pooled_test_mean.append(1 - residual.sum() / ((x[test] - test_mean) ** 2).sum())
        uniform_test_mean.append(_r2_per_unit(x[test], prediction, test_mean).mean())
    assert weighted["repalign_value"] == pytest.approx(np.mean(ours), abs=1e-10)
    assert weighted["value"] == pytest.approx(np.mean(pooled_test_mean), abs=1e-10)
    assert uniform["value"] == pytest.approx(np.mean(uniform_test_mean), abs=1e-10)


# --- SciPy -------------------------------------------------------------------------------------------

def test_scipy_procrustes(xy):
    rows = _rows_of("scipy", "scipy")
    x, y = xy
    _agree(_find(rows, "procrustes-distance=euclidean"))
    _agree(_find(rows, "procrustes-distance=squared_euclidean"))
    # independent: NBS = nuclear norm of X̄ᵀȲ over the Frobenius norms; scipy's disparity is 1 − NBS² = sin²θ
    xc, yc = _centred(x), _centred(y)
    nbs = np.linalg.svd(xc.T @ yc, compute_uv=False).sum() / (np.linalg.norm(xc) * np.linalg.norm(yc))
    angular = _find(rows, "procrustes-distance=angular")
    score = _find(rows, "procrustes-angular_score")
    assert angular["value"] == pytest.approx(1 - nbs**2, abs=1e-10)
    assert angular["repalign_value"] == pytest.approx(math.acos(nbs), abs=1e-10)
    assert angular["value"] == pytest.approx(math.sin(angular["repalign_value"]) ** 2, abs=1e-10)
    assert score["repalign_value"] == pytest.approx(1 - math.asin(math.sqrt(score["value"])) / (math.pi / 2),
                                                    abs=1e-10)


# --- rsatoolbox ---------------------------------------------------------------------------------------

def _rdm(a, kind):
    from scipy.spatial.distance import pdist

    return pdist(a, "correlation") if kind == "correlation" else pdist(a, "sqeuclidean" if kind == "sq" else "euclidean")


def test_rsatoolbox(xy):
    rows = _rows_of("rsatoolbox", "rsatoolbox")
    from scipy import stats

    x, y = xy
    for row in rows:
        if row["convention"].startswith("same"):
            _agree(row)
    # τ-a and τ-b coincide: no tied entries in either correlation RDM
    tau_a = _find(rows, "rsa-rdm=correlation-compare=kendall", "'tau-a'")
    rx, ry = _rdm(x, "correlation"), _rdm(y, "correlation")
    assert len(np.unique(rx)) == len(rx) and len(np.unique(ry)) == len(ry)
    assert tau_a["difference"] == pytest.approx(0.0, abs=1e-12)
    assert tau_a["value"] == pytest.approx(stats.kendalltau(rx, ry, variant="b").statistic, abs=1e-10)
    # rsatoolbox's 'euclidean' RDM is squared / number of units: checked against its RDM directly
    import rsatoolbox

    theirs = rsatoolbox.rdm.calc_rdm(rsatoolbox.data.Dataset(x), method="euclidean").get_vectors()[0]
    np.testing.assert_allclose(theirs, _rdm(x, "sq") / x.shape[1], rtol=1e-9, atol=1e-12)
    # and Pearson r of squared distances explains the 'euclidean' row that differs
    euclid = _find(rows, "rsa-rdm=euclidean-compare=pearson")
    assert abs(euclid["difference"]) > 1e-4
    assert euclid["value"] == pytest.approx(stats.pearsonr(_rdm(x, "sq"), _rdm(y, "sq")).statistic, abs=1e-10)
    assert euclid["repalign_value"] == pytest.approx(stats.pearsonr(_rdm(x, "e"), _rdm(y, "e")).statistic, abs=1e-10)


# --- POT ---------------------------------------------------------------------------------------------

def test_pot_soft_matching(xy):
    rows = _rows_of("POT", "ot")
    x, y = xy
    _agree(_find(rows, "soft_matching-score"))
    name = "soft_matching-solver=(sinkhorn-epsilon=0.01)-score"
    entropic = _find(rows, name, "KL")
    _agree(entropic, rel=1e-8)  # both iterate to a marginal error ≤ 1e-10
    transport_only = _find(rows, name, "sinkhorn2")
    # independent: POT's plan on C = 1 − ρ (ρ from np.corrcoef), reg = 0.01·mean(C); the difference is reg·KL(P‖abᵀ)
    import ot

    rho = np.corrcoef(x.T, y.T)[:30, 30:]
    cost, a, b = 1 - rho, np.full(30, 1 / 30), np.full(20, 1 / 20)
    reg = 0.01 * cost.mean()
    plan = ot.sinkhorn(a, b, cost, reg, method="sinkhorn_log", numItermax=200_000, stopThr=1e-13)
    kl = np.sum(plan * np.log(plan / np.outer(a, b)))
    assert kl > 0
    assert transport_only["value"] == pytest.approx(1 - np.sum(plan * cost), abs=1e-10)
    assert transport_only["difference"] == pytest.approx(reg * kl, abs=1e-8)
    # exact OT value: for p ≠ q no permutation, check against scipy's LP on the transport polytope
    from scipy.optimize import linprog

    p, q = rho.shape
    a_eq = np.vstack([np.kron(np.eye(p), np.ones(q)), np.kron(np.ones(p), np.eye(q))])
    b_eq = np.concatenate([np.full(p, 1 / p), np.full(q, 1 / q)])
    lp = linprog(-rho.ravel(), A_eq=a_eq, b_eq=b_eq, bounds=(0, None), method="highs")
    assert _find(rows, "soft_matching-score")["value"] == pytest.approx(-lp.fun, abs=1e-9)


# --- ckatorch ----------------------------------------------------------------------------------------

def _cka_numpy(kx, ky):
    n = len(kx)
    h = np.eye(n) - 1.0 / n
    kx, ky = h @ kx @ h, h @ ky @ h
    return (kx * ky).sum() / (np.linalg.norm(kx) * np.linalg.norm(ky))


def test_ckatorch(xy):
    rows = _rows_of("ckatorch", "ckatorch")
    from scipy.spatial.distance import pdist, squareform

    x, y = xy
    _agree(_find(rows, "cka-kernel=linear-hsic=gretton-score"))
    _agree(_find(rows, "cka-kernel=linear-hsic=song-score"))
    rbf = _find(rows, "cka-kernel=(rbf-sigma=median-sigma_factor=1)-hsic=gretton-score")
    assert abs(rbf["difference"]) > 1e-7

    def gaussian(a, convention):
        sq = squareform(pdist(a, "sqeuclidean"))
        if convention == "ckatorch":  # torch.median: lower middle of all n² entries, zeros included
            sigma_sq = np.sort(sq.ravel())[(sq.size - 1) // 2]
        else:
            sigma_sq = np.median(np.sqrt(pdist(a, "sqeuclidean"))) ** 2
        return np.exp(-sq / (2 * sigma_sq))

    assert rbf["value"] == pytest.approx(_cka_numpy(gaussian(x, "ckatorch"), gaussian(y, "ckatorch")), abs=1e-10)
    assert rbf["repalign_value"] == pytest.approx(_cka_numpy(gaussian(x, "ours"), gaussian(y, "ours")), abs=1e-10)


# --- the committed table ------------------------------------------------------------------------------

def test_committed_csv_is_current():
    with CSV.open(encoding="utf-8") as handle:
        committed = list(csv.DictReader(handle))
    assert list(committed[0]) == list(elsewhere.COLUMNS)
    assert {r["repalign_version"] for r in committed} == {repalign.__version__}
    now = elsewhere.rows()
    present = {r["package"] for r in now}
    expected = [r for r in committed if r["package"] in present]  # a package missing here is skipped
    assert len(expected) == len(now)
    compared = 0
    for old, new in zip(expected, now):
        # repalign's own value depends on repalign alone: always the same
        assert float(old["repalign_value"]) == pytest.approx(new["repalign_value"], rel=1e-8, abs=1e-12), (old, new)
        if old["version"] != new["version"]:  # the row records the version it came from; regenerate to update it
            continue
        compared += 1
        for key in ("repalign_measure", "package", "version", "call", "convention"):
            assert old[key] == new[key], (key, old, new)
        for key in ("value", "repalign_value"):
            assert float(old[key]) == pytest.approx(new[key], rel=1e-8, abs=1e-12), (key, old, new)
        assert float(old["difference"]) == pytest.approx(new["difference"], rel=1e-6, abs=1e-8), (old, new)
    assert compared > 0, "no row could be compared (other packages' versions differ or are missing)"

"""Baselines for the benchmark: the seed paper's formulation of each measure, in torch float64.

These re-implement, in our own code, the *computation* done by the seed paper's public code
(nacloos/diffscore, ``diffscore/analysis/measures.py``) so that ``bench_measures.py`` can time it side by
side with ``repalign`` in the same process:

* ``cka`` / ``nbs``: centre the columns, then ``svdvals(X'Y)`` (p x q) **and** ``svdvals(X X')``,
  ``svdvals(Y Y')`` (two n x n matrices) -- the n x n-kernel / full-SVD formulation.
  CKA = sum(sXY^2) / (sqrt(sum sXX^2) sqrt(sum sYY^2)); NBS = sqrt((sum sXY)^2 / (sum sXX * sum sYY)).
* angular scores: 1 - arccos(score) / (pi/2), on top of the above.
* ``ridge_cv``: sklearn-style ``KFold(5, shuffle=False)`` over the flattened rows (contiguous blocks, the
  first ``n % k`` folds one row longer); per fold: centre with the training means, refit from scratch
  ``B = lstsq(Ytr'Ytr + lam I, Ytr'Xtr).solution`` (``ridge_cv``) or ``solve(...)`` (``ridge_cv_solve``,
  the "dense solve" variant), R2_fold = 1 - ||Xte - Yte B||^2 / ||Xte||^2 (test rows centred with the
  training means); score = mean over folds.
* ``linreg``: reduced QR of the centred Y, R2 = ||Q'Xc||^2 / ||Xc||^2.

All functions take torch tensors of shape (n, p) and (n, q) -- or 3D (time, condition, unit), flattened
row-major to (time*condition, unit) exactly like the seed code -- and return a 0-d float64 tensor that is
differentiable with respect to both inputs.  Deliberately *not* optimized: they are the yardstick.
"""
from __future__ import annotations

import math

import torch

__all__ = [
    "reshape2d",
    "cka",
    "nbs",
    "angular_cka",
    "angular_procrustes",
    "kfold_indices",
    "ridge_cv",
    "ridge_cv_solve",
    "linreg",
    "BASELINES",
]


def reshape2d(X: torch.Tensor, Y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Seed-code input handling: as tensors, Y cast to X's dtype, 3D (T, C, N) -> (T*C, N)."""
    X = torch.as_tensor(X)
    Y = torch.as_tensor(Y).to(X.dtype)
    if X.ndim == 3:
        X = X.reshape(X.shape[0] * X.shape[1], -1)
    if Y.ndim == 3:
        Y = Y.reshape(Y.shape[0] * Y.shape[1], -1)
    return X, Y


def _centred_svdvals(X: torch.Tensor, Y: torch.Tensor):
    X, Y = reshape2d(X, Y)
    X = X - X.mean(dim=0)
    Y = Y - Y.mean(dim=0)
    sXY = torch.linalg.svdvals(X.T @ Y)  # p x q
    sXX = torch.linalg.svdvals(X @ X.T)  # n x n
    sYY = torch.linalg.svdvals(Y @ Y.T)  # n x n
    return sXY, sXX, sYY


def cka(X: torch.Tensor, Y: torch.Tensor) -> torch.Tensor:
    """Linear CKA (biased HSIC) via singular values of X'Y and of the n x n Gram matrices."""
    sXY, sXX, sYY = _centred_svdvals(X, Y)
    return torch.sum(sXY**2) / (torch.sqrt(torch.sum(sXX**2)) * torch.sqrt(torch.sum(sYY**2)))


def nbs(X: torch.Tensor, Y: torch.Tensor) -> torch.Tensor:
    """Normalized Bures similarity via singular values of X'Y and of the n x n Gram matrices."""
    sXY, sXX, sYY = _centred_svdvals(X, Y)
    nbs_squared = torch.sum(sXY) ** 2 / (torch.sum(sXX) * torch.sum(sYY))
    return torch.sqrt(nbs_squared)


def angular_cka(X: torch.Tensor, Y: torch.Tensor) -> torch.Tensor:
    """Seed paper's angular CKA score 1 - arccos(CKA)/(pi/2), CKA computed as in :func:`cka`."""
    return 1 - torch.arccos(cka(X, Y)) / (math.pi / 2)


def angular_procrustes(X: torch.Tensor, Y: torch.Tensor) -> torch.Tensor:
    """Seed paper's angular Procrustes score 1 - arccos(NBS)/(pi/2), NBS computed as in :func:`nbs`."""
    return 1 - torch.arccos(nbs(X, Y)) / (math.pi / 2)


def kfold_indices(n: int, n_splits: int = 5) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Same folds as ``sklearn.model_selection.KFold(n_splits, shuffle=False).split(range(n))``."""
    if n_splits < 2 or n_splits > n:
        raise ValueError(f"need 2 <= n_splits <= n, got n_splits={n_splits}, n={n}")
    sizes = [n // n_splits + (1 if i < n % n_splits else 0) for i in range(n_splits)]
    folds = []
    start = 0
    all_idx = torch.arange(n)
    for size in sizes:
        test = all_idx[start : start + size]
        train = torch.cat([all_idx[:start], all_idx[start + size :]])
        folds.append((train, test))
        start += size
    return folds


def _ridge_cv(X, Y, lam: float, n_splits: int, solver: str) -> torch.Tensor:
    X, Y = reshape2d(X, Y)
    eye = torch.eye(Y.shape[1], dtype=Y.dtype)
    scores = []
    for train, test in kfold_indices(X.shape[0], n_splits):
        Xtr, Xte = X[train], X[test]
        Ytr, Yte = Y[train], Y[test]
        # fit from scratch on the training rows
        mx = Xtr.mean(dim=0)
        my = Ytr.mean(dim=0)
        Xtr = Xtr - mx
        Ytr = Ytr - my
        A = Ytr.T @ Ytr + lam * eye
        rhs = Ytr.T @ Xtr
        if solver == "lstsq":
            B = torch.linalg.lstsq(A, rhs).solution
        elif solver == "solve":
            B = torch.linalg.solve(A, rhs)
        else:  # pragma: no cover
            raise ValueError(solver)
        # score the held-out rows (centred with the training means)
        Xte = Xte - mx
        Yte = Yte - my
        Xpred = Yte @ B
        r2 = 1 - torch.linalg.norm(Xte - Xpred) ** 2 / torch.linalg.norm(Xte) ** 2
        scores.append(r2)
    return torch.stack(scores).mean()


def ridge_cv(X, Y, lam: float = 100.0, n_splits: int = 5) -> torch.Tensor:
    """Seed-code ridge R2, 5-fold CV over rows, each fold refitted with ``torch.linalg.lstsq``."""
    return _ridge_cv(X, Y, lam, n_splits, "lstsq")


def ridge_cv_solve(X, Y, lam: float = 100.0, n_splits: int = 5) -> torch.Tensor:
    """Same as :func:`ridge_cv`, each fold refitted with a dense ``torch.linalg.solve``."""
    return _ridge_cv(X, Y, lam, n_splits, "solve")


def linreg(X: torch.Tensor, Y: torch.Tensor) -> torch.Tensor:
    """In-sample OLS R2 = ||Q'Xc||^2 / ||Xc||^2 with Yc = QR (reduced QR)."""
    X, Y = reshape2d(X, Y)
    X = X - X.mean(dim=0)
    Y = Y - Y.mean(dim=0)
    Q, _ = torch.linalg.qr(Y)
    return torch.linalg.norm(Q.T @ X) ** 2 / torch.linalg.norm(X) ** 2


# repalign alias -> list of (baseline label, function, needs an n x n matrix)
BASELINES = {
    "cka": [("n x n svdvals (seed code)", cka, True)],
    "angular-cka": [("n x n svdvals (seed code)", angular_cka, True)],
    "nbs": [("n x n svdvals (seed code)", nbs, True)],
    "angular-procrustes": [("n x n svdvals (seed code)", angular_procrustes, True)],
    "ridge-cv": [
        ("per-fold refit, lstsq (seed code)", ridge_cv, False),
        ("per-fold refit, dense solve", ridge_cv_solve, False),
    ],
    "linreg": [("QR of Yc (seed code)", linreg, False)],
}


def _self_test() -> None:
    """Compare the baselines with tiny direct formulas (numpy, float64)."""
    import numpy as np

    rng = np.random.default_rng(0)
    n, p, q = 40, 7, 5
    Xn = rng.standard_normal((n, p))
    Yn = Xn[:, :q] @ rng.standard_normal((q, q)) + 0.5 * rng.standard_normal((n, q))
    X, Y = torch.from_numpy(Xn), torch.from_numpy(Yn)
    Xc, Yc = Xn - Xn.mean(0), Yn - Yn.mean(0)

    ref_cka = np.linalg.norm(Xc.T @ Yc) ** 2 / (np.linalg.norm(Xc.T @ Xc) * np.linalg.norm(Yc.T @ Yc))
    # also the HSIC form with explicit centring matrix
    H = np.eye(n) - 1.0 / n
    K, L = H @ Xn @ Xn.T @ H, H @ Yn @ Yn.T @ H
    ref_cka2 = np.sum(K * L) / (np.linalg.norm(K) * np.linalg.norm(L))
    ref_nbs = np.linalg.svd(Xc.T @ Yc, compute_uv=False).sum() / (np.linalg.norm(Xc) * np.linalg.norm(Yc))
    ref_linreg = np.linalg.norm(Yc @ np.linalg.lstsq(Yc, Xc, rcond=None)[0]) ** 2 / np.linalg.norm(Xc) ** 2

    lam = 100.0
    r2s = []
    for te in np.array_split(np.arange(n), 5):
        tr = np.setdiff1d(np.arange(n), te)
        mx, my = Xn[tr].mean(0), Yn[tr].mean(0)
        B = np.linalg.solve((Yn[tr] - my).T @ (Yn[tr] - my) + lam * np.eye(q), (Yn[tr] - my).T @ (Xn[tr] - mx))
        r2s.append(1 - np.sum((Xn[te] - mx - (Yn[te] - my) @ B) ** 2) / np.sum((Xn[te] - mx) ** 2))
    ref_ridge = float(np.mean(r2s))

    checks = {
        "cka": (cka(X, Y).item(), ref_cka),
        "cka (HSIC form)": (cka(X, Y).item(), ref_cka2),
        "angular-cka": (angular_cka(X, Y).item(), 1 - np.arccos(ref_cka) / (np.pi / 2)),
        "nbs": (nbs(X, Y).item(), ref_nbs),
        "angular-procrustes": (angular_procrustes(X, Y).item(), 1 - np.arccos(ref_nbs) / (np.pi / 2)),
        "linreg": (linreg(X, Y).item(), ref_linreg),
        "ridge-cv lstsq": (ridge_cv(X, Y).item(), ref_ridge),
        "ridge-cv solve": (ridge_cv_solve(X, Y).item(), ref_ridge),
    }
    for name, (got, want) in checks.items():
        assert abs(got - want) < 1e-10, (name, got, want)
        print(f"ok  {name:22s} {got:.12f}  (direct {want:.12f})")

    # folds identical to sklearn's KFold when sklearn is around (it is not a dependency)
    try:
        from sklearn.model_selection import KFold
    except ImportError:
        pass
    else:
        for nn in (10, 11, 1080, 1083):
            ours = kfold_indices(nn, 5)
            for (tr, te), (tr2, te2) in zip(ours, KFold(5, shuffle=False).split(np.arange(nn))):
                assert np.array_equal(tr.numpy(), tr2) and np.array_equal(te.numpy(), te2)
        print("ok  folds == sklearn KFold(5, shuffle=False)")

    # 3D input is flattened like the seed code and everything is differentiable
    X3 = torch.randn(3, 8, 6, dtype=torch.float64)
    Y3 = torch.randn(3, 8, 6, dtype=torch.float64, requires_grad=True)
    for f in (cka, nbs, angular_cka, angular_procrustes, ridge_cv, ridge_cv_solve, linreg):
        v = f(X3, Y3)
        v.backward()
        assert torch.isfinite(Y3.grad).all()
        assert abs(v.item() - f(X3.reshape(24, 6), Y3.detach().reshape(24, 6)).item()) < 1e-12
        Y3.grad = None
    print("ok  3D flattening and backward")


if __name__ == "__main__":
    _self_test()

r"""Resampled scores from per-condition sufficient statistics (private to :mod:`repalign.statistics`).

A bootstrap resample over conditions is an integer weight w_c per condition (how many times it was
drawn). For the linear measures below, every resample's value is a function of weighted sums of
per-condition quantities computed once: for condition c with rows X_c (T x p), Y_c (T x q),

.. math::
    G^{xy}_c = X_c^\top Y_c, \quad s^x_c = X_c^\top 1, \qquad
    S_{xy}(w) = \sum_c w_c G^{xy}_c - \frac{(\sum_c w_c s^x_c)(\sum_c w_c s^y_c)^\top}{N_w},
    \quad N_w = T \sum_c w_c,

the centred cross-product of the resampled data (S_xx, S_yy likewise). Linear CKA (Gretton HSIC) is
‖S_xy‖²_F/(‖S_xx‖_F‖S_yy‖_F), NBS ‖S_xy‖_*/√(tr S_xx tr S_yy); both are then one einsum over the batch of
resamples and, for NBS, one batched eigendecomposition of the smaller Gram of S_xy.

Ridge regression cross-validated over conditions keeps every condition in the fold it has in the
original data (copies of a drawn condition are tested together, never trained on and tested on), so
the training Gram, the training cross-product and the test residuals of each fold are weighted sums
of per-condition G^{yy}_c, G^{yx}_c, s_c and ‖X_c‖²_F.

Inputs are centred by their unweighted means first (every quantity is translation invariant; it keeps
the sums accurate), reduced to at most as many units as rows (exact for these rotation-invariant
measures: a resample's rows are rows of the original data) and, where the measure is invariant to
isotropic scale, divided by a power of two near their largest value (exact), as the registry does.
A resample where the value is undefined (all its weight on too few distinct rows, a fold with no
test condition is skipped) gives NaN for that resample.
"""

from __future__ import annotations

import itertools

import numpy as np
import torch

from .._linalg import angular, angular_score, center, reduce_units, snapped_nonnegative, snapped_sqrt
from ..measures.regression import fold_order

# (family, output) pairs computed from sufficient statistics; others use the generic path
_PROCRUSTES_OUTPUTS = ("distance=angular", "angular_score", "distance=euclidean", "distance=squared_euclidean")


def fast_kind(m, x: torch.Tensor | None = None, y: torch.Tensor | None = None) -> str | None:
    """"cka", "procrustes", "ridge" when ``m`` has a weighted path for (x, y), else None.

    A distance with units scales both inputs by one power of two: when their magnitudes lie more than
    2^256 apart, the smaller one's per-condition squares would underflow, so the generic path is used.
    """
    p = m.params
    if m.degree and x is not None and y is not None:
        gap = torch.log2(_power(x.to(torch.float64))) - torch.log2(_power(y.to(torch.float64)))
        if abs(float(gap)) > 256:
            return None
    if m.family == "cka" and p["kernel"] == "linear" and p["hsic"] == "gretton":
        return "cka"
    if m.family == "nbs" or (m.family == "procrustes" and m.output in _PROCRUSTES_OUTPUTS) or \
            (m.family == "shape_metric" and p["alpha"] == 1.0):
        return "procrustes"
    if m.family in ("ridge", "linear_regression") and p.get("cv") is not None and p["aggregate"] == "pooled":
        return "ridge"
    return None


def _power(x: torch.Tensor) -> torch.Tensor:
    """2^e with 2^(e−1) ≤ max|x| < 2^e (1 for all-zero x)."""
    largest = x.abs().amax()
    if largest == 0:
        return torch.ones((), dtype=x.dtype)
    return torch.exp2(torch.frexp(largest).exponent.to(x.dtype))


def _prepared(values: torch.Tensor, reduce: bool) -> torch.Tensor:
    """(T, C, U) centred over all rows, units reduced to at most T·C when ``reduce``."""
    t, c, u = values.shape
    flat = center(values.reshape(t * c, u))
    if reduce:
        flat = reduce_units(flat)
    return flat.reshape(t, c, flat.shape[-1])


def scaled_pair(m, x: torch.Tensor, y: torch.Tensor, reduce=(True, True)):
    """x, y (T, C, U) centred, reduced and scaled as the registry scales them; the factor to restore."""
    x, y = _prepared(x, reduce[0]), _prepared(y, reduce[1])
    restore = 1.0
    if m.degree:  # a distance with units: one common power of two, the value multiplied back
        common = torch.maximum(_power(x), _power(y))
        x, y = x / common, y / common
        restore = float(common) ** m.degree
    else:
        if "isotropic_scale" in m.invariances["X"]:
            x = x / _power(x)
        if "isotropic_scale" in m.invariances["Y"]:
            y = y / _power(y)
    return x, y, restore


class LinearStatistics:
    """Per-condition cross-products of x (T, C, p) and y (T, C, q) for CKA and the Procrustes family."""

    chunk_bytes = 256 * 2**20

    def __init__(self, m, kind: str, x: torch.Tensor, y: torch.Tensor):
        self.m, self.kind = m, kind
        self.x, self.y, self.restore = scaled_pair(m, x, y)
        self.n_time = x.shape[0]
        self.xy = torch.einsum("tci,tcj->cij", self.x, self.y)
        self.sx, self.sy = self.x.sum(dim=0), self.y.sum(dim=0)
        if kind == "cka":
            self.xx = torch.einsum("tci,tcj->cij", self.x, self.x)
            self.yy = torch.einsum("tci,tcj->cij", self.y, self.y)
            c, p, q = self.xy.shape
            # with few conditions, ‖S‖²_F is a quadratic and a cubic form in w (see _squared_norms):
            # C² numbers per resample instead of p·q
            self.gram_route = c * c <= p * q and c ** 3 <= 2 ** 21
            if self.gram_route:
                self.forms = [self._forms(g, s1, s2) for g, s1, s2 in
                              ((self.xy, self.sx, self.sy), (self.xx, self.sx, self.sx), (self.yy, self.sy, self.sy))]
        else:
            self.tx = self.x.square().sum(dim=(0, 2))  # tr G^xx_c
            self.ty = self.y.square().sum(dim=(0, 2))

    def bytes_per_resample(self) -> int:
        p, q = self.x.shape[-1], self.y.shape[-1]
        return 8 * (4 * p * q + (p * p + q * q if self.kind == "cka" else 0))

    @staticmethod
    def _centred(w, gram, s1, s2, n):
        """Σ w_c G_c − (Σ w_c s1_c)(Σ w_c s2_c)ᵀ / N_w for a batch of weights w (b, C)."""
        a, b = w @ s1, w @ s2
        total = (w @ gram.reshape(gram.shape[0], -1)).reshape(len(w), *gram.shape[1:])
        if bool((n == n[0]).all()):  # bootstrap counts: N_w is the same for every resample, one fused pass
            return total.baddbmm_(a[:, :, None], b[:, None, :], alpha=-1.0 / float(n[0]))
        return total - a[:, :, None] * b[:, None, :] / n[:, None, None]

    @staticmethod
    def _resolved(centred, uncentred):
        """``centred``, NaN where it is rounding noise of ``uncentred`` (one distinct row: nothing varies)."""
        noise = 64 * torch.finfo(centred.dtype).eps * uncentred
        return torch.where(centred > noise, centred, torch.full_like(centred, float("nan")))

    @staticmethod
    def _forms(gram, s1, s2):
        """⟨G_c, G_d⟩, s1_d ᵀG_c s2_e, s1_c·s1_d, s2_c·s2_d and ‖G_c‖_F: what ‖S(w)‖²_F is made of."""
        c = gram.shape[0]
        flat = gram.reshape(c, -1)
        cubic = torch.einsum("di,cij,ej->cde", s1, gram, s2).reshape(c, c * c)
        return flat @ flat.T, cubic, s1 @ s1.T, s2 @ s2.T, flat.norm(dim=1)

    @staticmethod
    def _squared_norms(w, n, forms):
        """‖Σ w_c G_c − a bᵀ/N‖²_F = wᵀMw − (2/N) Σ_cde w_c w_d w_e s1_dᵀG_c s2_e + ‖a‖²‖b‖²/N²; NaN where it is
        rounding noise (all weight on one distinct row)."""
        inner, cubic, r1, r2, sizes = forms
        quadratic = ((w @ inner) * w).sum(dim=1)
        pairs = (w[:, :, None] * w[:, None, :]).reshape(len(w), -1)
        cross = ((w @ cubic) * pairs).sum(dim=1)
        value = quadratic - 2 * cross / n + ((w @ r1) * w).sum(dim=1) * ((w @ r2) * w).sum(dim=1) / n ** 2
        noise = 64 * torch.finfo(w.dtype).eps * (w @ sizes) ** 2
        return torch.where(value > noise, value, torch.full_like(value, float("nan")))

    def values(self, w: torch.Tensor) -> torch.Tensor:
        """The measure for each row of weights ``w`` (b, C)."""
        n = self.n_time * w.sum(dim=1)
        if self.kind == "cka" and self.gram_route:
            top, xx, yy = (self._squared_norms(w, n, forms) for forms in self.forms)
            return self.finish(top.nan_to_num(0.0), xx.sqrt() * yy.sqrt())
        sxy = self._centred(w, self.xy, self.sx, self.sy, n)
        if self.kind == "cka":
            norms = []
            for gram, sums in ((self.xx, self.sx), (self.yy, self.sy)):
                centred = self._centred(w, gram, sums, sums, n).square().sum(dim=(1, 2)).sqrt()
                # ‖Σ w G‖_F ≥ ‖S‖_F: the size of the terms whose difference S is
                norms.append(self._resolved(centred, (w @ gram.square().sum(dim=(1, 2)).sqrt())))
            return self.finish(sxy.square().sum(dim=(1, 2)), norms[0] * norms[1])
        tx = self._resolved(w @ self.tx - (w @ self.sx).square().sum(dim=1) / n, w @ self.tx)
        ty = self._resolved(w @ self.ty - (w @ self.sy).square().sum(dim=1) / n, w @ self.ty)
        return self.finish(nuclear_norms(sxy), tx, ty)

    def permuted(self, perms: torch.Tensor, cross: torch.Tensor, sxx: torch.Tensor, syy: torch.Tensor):
        """Values for y's conditions permuted by each row of ``perms`` (b, C), from all cross-products ``cross``."""
        c = perms.shape[1]
        n = self.n_time * c
        # S_xy = Σ_c X_cᵀ Y_π(c) − s_x s_yᵀ / N (the column sums do not change under a permutation)
        chosen = torch.zeros(len(perms), c * c, dtype=cross.dtype)  # one-hot (c, π(c)) pairs: one GEMM
        chosen.scatter_(1, torch.arange(c)[None, :] * c + perms, 1.0)
        sxy = (chosen @ cross.reshape(c * c, -1)).reshape(len(perms), *cross.shape[2:])
        sxy -= self.sx.sum(0)[:, None] * self.sy.sum(0)[None, :] / n
        if self.kind == "cka":
            return self.finish(sxy.square().sum(dim=(1, 2)), sxx * syy)
        return self.finish(nuclear_norms(sxy), sxx, syy)

    def fixed_norms(self):
        """‖S_xx‖_F, ‖S_yy‖_F (CKA) or tr S_xx, tr S_yy (Procrustes) of the data as given."""
        ones = torch.ones(1, self.sx.shape[0], dtype=self.x.dtype)
        n = self.n_time * ones.sum(dim=1)
        if self.kind == "cka":
            sxx = self._centred(ones, self.xx, self.sx, self.sx, n).square().sum(dim=(1, 2)).sqrt()
            syy = self._centred(ones, self.yy, self.sy, self.sy, n).square().sum(dim=(1, 2)).sqrt()
            return sxx[0], syy[0]
        return (ones @ self.tx - (ones @ self.sx).square().sum(1) / n)[0], \
            (ones @ self.ty - (ones @ self.sy).square().sum(1) / n)[0]

    def all_cross(self) -> torch.Tensor:
        """X_cᵀ Y_d for every pair of conditions (C, C, p, q): what a permutation of y's conditions picks from."""
        return torch.einsum("tci,tdj->cdij", self.x, self.y)

    def finish(self, top, a, b=None):
        m = self.m
        if self.kind == "cka":  # an undefined resample (a zero centred Gram) gives NaN
            cka = (top / a).clamp(-1.0, 1.0)
            return _output(cka, m.output, "score")
        nuclear, tx, ty = top, a, b
        norms = tx.clamp_min(0).sqrt() * ty.clamp_min(0).sqrt()
        nbs = torch.where(norms > 0, nuclear / norms, torch.full_like(norms, float("nan"))).clamp(0.0, 1.0)
        if m.family == "nbs" or m.output == "score":
            return nbs
        if m.output in ("distance=angular", "angular_score"):
            return _output(nbs, m.output, "score")
        scale = tx + ty
        squared = scale - 2 * nuclear
        value = snapped_nonnegative(squared, scale) if m.output == "distance=squared_euclidean" \
            else snapped_sqrt(squared, scale)
        return value * self.restore


def nuclear_norms(a: torch.Tensor) -> torch.Tensor:
    """‖a_b‖_* of each matrix of a batch, as ``_linalg.nuclear_norm`` computes it, but item by item.

    Square roots of the eigenvalues of the smaller Gram, with the same error bound; the items where that
    bound exceeds ε^0.625 of the norm (nearly rank-deficient cross-products, common with smooth recordings)
    get an SVD, not the whole batch as in ``nuclear_norm``.
    """
    p, q = a.shape[-2], a.shape[-1]
    mu = torch.linalg.eigvalsh(a @ a.mT if p < q else a.mT @ a).clamp_min(0)
    sigma = mu.sqrt()
    finfo = torch.finfo(a.dtype)
    tau = 8 * finfo.eps * mu.amax(dim=-1, keepdim=True)
    error = torch.where(mu < tau, tau.sqrt(), tau / (2 * sigma.clamp_min(finfo.tiny)))
    norms = sigma.sum(dim=-1)
    inaccurate = error.sum(dim=-1) > finfo.eps ** 0.625 * norms
    if bool(inaccurate.any()):
        norms[inaccurate] = torch.linalg.svdvals(a[inaccurate]).sum(dim=-1)
    return norms


def _output(similarity, output, plain):
    if output == plain:
        return similarity
    if output == "distance=angular":
        return angular(similarity)
    return angular_score(similarity)


def folds_of_units(m, n_rows: int, n_conditions_given: int | None, n_time: int, n_units: int) -> np.ndarray:
    """The cross-validation fold of each resampling unit (condition or row), as the measure assigns them.

    ``n_conditions_given``: the data's condition count (None for 2D data); the resampling units are the
    ``n_units`` columns of the (n_time, n_units) grid of rows (row t·n_units + u). Raises when a unit's
    rows fall in different folds (then a resample would put copies of a unit on both sides of a split).
    """
    p = m.params
    order, bounds = fold_order(n_rows, n_conditions_given, p["cv"], p["split"], p.get("seed", 0))
    fold_of_row = np.empty(n_rows, dtype=np.int64)
    for f, (lo, hi) in enumerate(itertools.pairwise(bounds)):
        fold_of_row[order[lo:hi]] = f
    grid = fold_of_row.reshape(n_time, n_units)
    if not (grid == grid[0]).all():
        raise ValueError(
            f"measure: {m.name} splits the rows of one resampled condition between folds (split={p['split']!r}); "
            f"a bootstrap over conditions would then train and test on copies of one condition. Use "
            f"split='conditions' or over='samples'")
    return grid[0]


class RidgeStatistics:
    """Per-unit Grams for ridge/linear regression cross-validated with each unit kept in its fold."""

    # the per-resample work is a few (q x q) and (q x p) products per fold: compute-bound, and chunks
    # larger than the caches run slower per resample (measured: 2.2 ms at 1–8 resamples per chunk,
    # 5.9 ms at 32 at the M1 size), so chunks stay small
    chunk_bytes = 16 * 2**20

    def __init__(self, m, x: torch.Tensor, y: torch.Tensor, folds: np.ndarray, refit: bool = True):
        self.m, self.refit = m, refit
        self.lam = float(m.params.get("lambda", 0.0) or 0.0)
        direction = m.params["direction"]
        x, y, _ = scaled_pair(m, x, y)
        self.n_time = x.shape[0]
        self.n_folds = int(folds.max()) + 1
        self.folds = torch.nn.functional.one_hot(torch.as_tensor(folds), self.n_folds).T.to(x.dtype)  # (K, C)
        # (target, predictor, whether the predictor is Y: the side a permutation shuffles)
        roles = {"x_from_y": [(x, y, True)], "y_from_x": [(y, x, False)],
                 "symmetric": [(x, y, True), (y, x, False)]}[direction]
        self.sides = [{**self._stats(target, predictor), "predictor_is_y": is_y} for target, predictor, is_y in roles]

    @staticmethod
    def _stats(t, p):
        return {"g": torch.einsum("tci,tcj->cij", p, p), "h": torch.einsum("tci,tcj->cij", p, t),
                "sp": p.sum(dim=0), "st": t.sum(dim=0), "tt": t.square().sum(dim=(0, 2)), "t": t, "p": p}

    @staticmethod
    def _cross(s, w, pairs):
        """Σ over positions c of w_c · (predictor rows)ᵀ(target rows) at c; ``pairs`` (b, C, q, p): the cross-products
        of the pair at each position when Y's conditions are permuted (None: the conditions' own)."""
        if pairs is None:
            return torch.einsum("bkc,cij->bkij", w, s["h"])
        b, c = pairs.shape[:2]
        return (w @ pairs.reshape(b, c, -1)).reshape(b, w.shape[1], *pairs.shape[2:])

    def permuted(self, perms: torch.Tensor) -> torch.Tensor:
        """Values with Y's conditions permuted: position c holds X_c and Y_π(c), in the fold of position c.

        The weights stay 1 on every position; Y's Grams and sums are taken at π(c), and the cross-products
        of the pair (X_c, Y_π(c)) are picked from those of all C² condition pairs (computed once).
        """
        c = perms.shape[1]
        moved = torch.zeros(len(perms), c, c, dtype=self.folds.dtype)  # moved[b, c, d] = 1 if π(c) = d
        moved.scatter_(2, perms[:, :, None], 1.0)
        positions = torch.arange(c).expand(len(perms), c)
        scores = []
        for s in self.sides:
            # cross-products of every (predictor condition, target condition) pair, once; position c pairs
            # X_c with Y_π(c)
            every = s.setdefault("h_pairs", torch.einsum("tci,tdj->cdij", s["p"], s["t"]))
            pairs = every[perms, positions] if s["predictor_is_y"] else every[positions, perms]
            scores.append(self._side(s, torch.ones(len(perms), c, dtype=moved.dtype), moved=moved, pairs=pairs))
        return scores[0] if len(scores) == 1 else 0.5 * (scores[0] + scores[1])

    def bytes_per_resample(self) -> int:
        side = self.sides[0]
        q, p = side["h"].shape[1:]
        return 8 * self.n_folds * (4 * q * q + 4 * q * p)

    def values(self, w: torch.Tensor) -> torch.Tensor:
        if self.refit:
            scores = [self._side(s, w) for s in self.sides]
        else:
            scores = [self._held_out(s, w) for s in self.sides]
        return scores[0] if len(scores) == 1 else 0.5 * (scores[0] + scores[1])

    def _held_out(self, s, w):
        """Mean fold R² with each fold's fit on all its original training units (weights 1) and the test
        units' squared residuals and totals weighted by ``w``: the bootstrap of the out-of-fold residuals."""
        if "held_out" not in s:  # each unit's residual and total under its own fold's fit, once per fold
            c = w.shape[1]
            residual, total = torch.zeros(c, dtype=w.dtype), torch.zeros(c, dtype=w.dtype)
            broken = False
            for fold in self.folds:  # (C,) indicator of the fold's units; K small
                units = torch.nonzero(fold).flatten()
                train_w = (1.0 - fold)[None, None]  # (1, 1, C): one fit on the other units
                test_w = torch.eye(c, dtype=w.dtype)[units][:, None]  # (units, 1, C): each test unit alone
                res, tot, bad = self._side(s, None, train_w, test_w, parts=True)
                residual[units], total[units] = res[:, 0], tot[:, 0]
                broken = broken or bool(bad.any())
            s["held_out"] = (residual, total, broken)
        residual, total, broken = s["held_out"]
        test_w = w[:, None, :] * self.folds[None]  # (b, K, C)
        res, tot = test_w @ residual, test_w @ total  # (b, K)
        tested = test_w.sum(dim=-1) > 0
        r2 = torch.where(tested, 1.0 - res / torch.where(tested & (tot > 0), tot, torch.ones_like(tot)),
                         torch.zeros_like(tot))
        count = tested.sum(dim=-1)
        undefined = (tested & (tot <= 0)).any(dim=-1) | (count == 0) | broken
        score = r2.sum(dim=-1) / count.clamp_min(1)
        return torch.where(undefined, torch.full_like(score, float("nan")), score)

    def _side(self, s, w, train_w=None, test_w=None, moved=None, pairs=None, parts=False):
        """Mean fold R² per resample (weights ``w`` (b, C) on the positions, or ``train_w`` and ``test_w``
        (b, K, C) given apart); ``moved`` (b, C, C) and the pair cross-products ``pairs`` when Y's conditions
        are permuted (see :meth:`permuted`). ``parts``: the residuals, totals and broken folds instead."""
        if w is not None:
            test_w = w[:, None, :] * self.folds[None]  # (b, K, C) on positions
            train_w = w[:, None, :] - test_w
        n_train = self.n_time * train_w.sum(dim=-1)  # (b, K)
        n_test = self.n_time * test_w.sum(dim=-1)
        if moved is None:
            train_t = train_p = train_w
            test_t = test_p = test_w
        else:  # weights on Y's own conditions: position c carries Y_π(c)
            on_y = (train_w @ moved, test_w @ moved)
            (train_p, test_p), (train_t, test_t) = (on_y, (train_w, test_w)) if s["predictor_is_y"] else \
                ((train_w, test_w), on_y)
        mean_p = (train_p @ s["sp"]) / n_train[..., None]
        mean_t = (train_t @ s["st"]) / n_train[..., None]
        a = torch.einsum("bkc,cij->bkij", train_p, s["g"]) - n_train[..., None, None] * mean_p[..., :, None] \
            * mean_p[..., None, :]
        a.diagonal(dim1=-2, dim2=-1).add_(self.lam)
        cross = self._cross(s, train_w, pairs) - n_train[..., None, None] * mean_p[..., :, None] \
            * mean_t[..., None, :]
        chol, info = torch.linalg.cholesky_ex(a)
        failed = info != 0
        if bool(failed.any()):  # those folds are undefined (below); an identity keeps the batched inverse going
            chol = torch.where(failed[..., None, None], torch.eye(a.shape[-1], dtype=a.dtype), chol)
        # B = A⁻¹ C (b, K, q, p) through the explicit inverse: one GEMM, faster than batched triangular solves
        solved = torch.cholesky_inverse(chol) @ cross
        g_test = torch.einsum("bkc,cij->bkij", test_p, s["g"])
        h_test = self._cross(s, test_w, pairs)
        sp_test, st_test, tt_test = test_p @ s["sp"], test_t @ s["st"], test_t @ s["tt"]
        # ‖T_f − 1μ_tᵀ − (P_f − 1μ_pᵀ)B‖² = ‖D‖² − 2 (1ᵀD)·d + n_f‖d‖², D = T_f − P_f B, d = μ_t − Bᵀμ_p
        d = mean_t - (mean_p[..., None, :] @ solved)[..., 0, :]
        residual_rows = st_test - (sp_test[..., None, :] @ solved)[..., 0, :]
        residual = (tt_test - 2 * (solved * h_test).sum(dim=(-2, -1)) + ((g_test @ solved) * solved).sum(dim=(-2, -1))
                    - 2 * (residual_rows * d).sum(dim=-1) + n_test * d.square().sum(dim=-1))
        total = tt_test - 2 * (st_test * mean_t).sum(dim=-1) + n_test * mean_t.square().sum(dim=-1)
        # a fold with no test condition in this resample is left out of the mean; a fold whose fit is
        # undefined (singular training Gram, fewer than 2 training rows) makes the resample undefined
        tested = n_test > 0
        if parts:
            return residual, total, tested & ((info != 0) | (n_train < 2))
        broken = (tested & ((info != 0) | (n_train < 2) | (total <= 0))).any(dim=-1)
        r2 = torch.where(tested, 1.0 - residual / torch.where(tested, total, torch.ones_like(total)),
                         torch.zeros_like(total))
        count = tested.sum(dim=-1)
        score = r2.sum(dim=-1) / count.clamp_min(1)
        return torch.where((count > 0) & ~broken, score, torch.full_like(score, float("nan")))

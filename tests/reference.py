"""Float64 reference implementations of the repalign measure catalogue.

Written only from ``shared/spec/measures.md`` and ``docs/api-contract.md``, never from
``src/repalign``: the point is an independent second implementation to compare against.
Slow and literal on purpose (n x n matrices, full SVDs, explicit loops) so that each
function can be checked against its formula by eye. NumPy/SciPy only, no torch.

Conventions (from the spec): X is the reference, n samples x p units; Y is n x q.
X̄ = X - column means. Every function returns a Python float unless it says otherwise.
Where the spec offers two ways to compute the same number, a second ``..._via_...``
function computes it the other way; tests/test_reference_values.py checks they agree.
"""

import itertools

import numpy as np
import scipy.linalg
import scipy.stats
from scipy.spatial.distance import pdist

# ---------------------------------------------------------------------------
# Input conventions
# ---------------------------------------------------------------------------


def as_float64_2d(A):
    """(time, condition, unit) input is flattened row-major: row index = t * C + c."""
    A = np.asarray(A, dtype=np.float64)
    if A.ndim == 3:
        A = A.reshape(A.shape[0] * A.shape[1], A.shape[2])
    if A.ndim != 2:
        raise ValueError(f"expected a 2D or 3D array, found shape {A.shape}")
    return A


def center_columns(A):
    """X̄ = X − 1 μᵀ (each unit's mean over samples removed)."""
    A = as_float64_2d(A)
    return A - A.mean(axis=0, keepdims=True)


def centering_matrix(n):
    """H = I − 11ᵀ/n."""
    return np.eye(n) - np.ones((n, n)) / n


def clip_to_unit_interval(score):
    # Rounding can push a similarity that is exactly 1 in exact arithmetic to 1 + 1e-16,
    # where arccos is NaN; the spec's trap list asks that this gives 0, not NaN.
    return float(np.clip(score, -1.0, 1.0))


def angular_distance(score):
    """distance=angular: arccos(score), in radians."""
    return float(np.arccos(clip_to_unit_interval(score)))


def angular_score(score):
    """angular_score: 1 − arccos(score) / (π/2) (the seed paper's rescaling to [0, 1])."""
    return 1.0 - angular_distance(score) / (np.pi / 2)


# ---------------------------------------------------------------------------
# CKA: Gram matrices and the three HSIC estimators
# ---------------------------------------------------------------------------


def linear_gram(X, center=True):
    """K = X̄ X̄ᵀ (or X Xᵀ with center=False; HSIC estimators are translation invariant)."""
    A = center_columns(X) if center else as_float64_2d(X)
    return A @ A.T


def median_pairwise_distance(X):
    """Median of ‖x_i − x_j‖ over the upper triangle i < j (diagonal zeros excluded)."""
    return float(np.median(pdist(as_float64_2d(X), metric="euclidean")))


def rbf_gram(X, sigma):
    """Gaussian kernel K_ij = exp(−‖x_i − x_j‖² / (2σ²))."""
    A = as_float64_2d(X)
    squared_norms = np.sum(A * A, axis=1)
    squared_distances = squared_norms[:, None] + squared_norms[None, :] - 2 * A @ A.T
    # Exact zeros on the diagonal; tiny negatives from cancellation are rounding.
    squared_distances = np.maximum(squared_distances, 0.0)
    np.fill_diagonal(squared_distances, 0.0)
    return np.exp(-squared_distances / (2.0 * sigma**2))


def hsic_gretton(K, L):
    """Biased HSIC: tr(K H L H) / (n − 1)²."""
    n = K.shape[0]
    H = centering_matrix(n)
    return float(np.trace(K @ H @ L @ H)) / (n - 1) ** 2


def hsic_song(K, L):
    """Unbiased HSIC (Song et al. 2012), K̃, L̃ = Grams with zeroed diagonals:
    HSIC_u = [tr(K̃L̃) + (1ᵀK̃1)(1ᵀL̃1)/((n−1)(n−2)) − 2·1ᵀK̃L̃1/(n−2)] / (n(n−3)).
    """
    n = K.shape[0]
    if n < 4:
        raise ValueError(f"the unbiased HSIC needs n >= 4 samples, found n={n}")
    K_tilde = K.copy()
    L_tilde = L.copy()
    # The trap: zero the diagonal (do not subtract a matrix such as diag(K) 1ᵀ).
    np.fill_diagonal(K_tilde, 0.0)
    np.fill_diagonal(L_tilde, 0.0)
    ones = np.ones(n)
    trace_term = np.trace(K_tilde @ L_tilde)
    product_of_sums = (ones @ K_tilde @ ones) * (ones @ L_tilde @ ones) / ((n - 1) * (n - 2))
    cross_term = 2.0 * (ones @ K_tilde @ L_tilde @ ones) / (n - 2)
    return float((trace_term + product_of_sums - cross_term) / (n * (n - 3)))


def hsic_song_via_u_statistic(K, L):
    """Brute-force U-statistic that HSIC_u is an unbiased form of (Song et al. 2012, eq. 5):
    HSIC_u = 1/(n)_4 Σ_{i,j,q,r distinct} [k_ij l_ij + k_ij l_qr − 2 k_ij l_iq].
    (Summing over all ordered 4-tuples does the 1/4! symmetrization of the paper.) O(n⁴).
    """
    n = K.shape[0]
    if n > 10:
        raise ValueError("brute-force U-statistic is O(n^4); use n <= 10")
    tuples = np.array(list(itertools.permutations(range(n), 4)))
    i, j, q, r = tuples.T
    terms = K[i, j] * L[i, j] + K[i, j] * L[q, r] - 2.0 * K[i, j] * L[i, q]
    return float(terms.sum() / len(tuples))


def lange_cosine(K, L):
    """Lange et al.: cosine similarity of HKH and HLH with their diagonals set to zero."""
    n = K.shape[0]
    H = centering_matrix(n)
    K_centred = H @ K @ H
    L_centred = H @ L @ H
    np.fill_diagonal(K_centred, 0.0)
    np.fill_diagonal(L_centred, 0.0)
    return float(np.sum(K_centred * L_centred) / (np.linalg.norm(K_centred) * np.linalg.norm(L_centred)))


def cka_from_grams(K, L, hsic):
    """CKA = HSIC(K, L) / √(HSIC(K, K) HSIC(L, L)) for hsic in {gretton, song}; lange = cosine."""
    if hsic == "lange":
        return lange_cosine(K, L)
    estimator = {"gretton": hsic_gretton, "song": hsic_song}[hsic]
    return estimator(K, L) / np.sqrt(estimator(K, K) * estimator(L, L))


def cka_linear(X, Y, hsic="gretton"):
    """Linear-kernel CKA computed in kernel space with K = X̄X̄ᵀ, L = ȲȲᵀ."""
    return float(cka_from_grams(linear_gram(X), linear_gram(Y), hsic))


def cka_linear_gretton_via_features(X, Y):
    """Feature-space form: CKA = ‖X̄ᵀȲ‖²_F / (‖X̄ᵀX̄‖_F ‖ȲᵀȲ‖_F)."""
    Xc, Yc = center_columns(X), center_columns(Y)
    return float(
        np.linalg.norm(Xc.T @ Yc) ** 2 / (np.linalg.norm(Xc.T @ Xc) * np.linalg.norm(Yc.T @ Yc))
    )


def cka_rbf(X, Y, hsic="gretton", sigma="median", sigma_factor=1.0):
    """RBF-kernel CKA. sigma is absolute, or "median": σ = median pairwise distance × sigma_factor,
    computed separately for X (kernel K) and for Y (kernel L).
    Gretton form: tr(KHLH) / √(tr(KHKH) tr(LHLH)).
    """
    if sigma == "median":
        sigma_X = median_pairwise_distance(X) * sigma_factor
        sigma_Y = median_pairwise_distance(Y) * sigma_factor
    else:
        sigma_X = sigma_Y = float(sigma)
    return float(cka_from_grams(rbf_gram(X, sigma_X), rbf_gram(Y, sigma_Y), hsic))


# ---------------------------------------------------------------------------
# Procrustes, Bures, shape metrics
# ---------------------------------------------------------------------------


def nuclear_norm(M):
    """‖M‖_* = sum of singular values (full SVD)."""
    return float(np.sum(np.linalg.svd(M, compute_uv=False)))


def nbs(X, Y):
    """Normalized Bures similarity NBS = ‖X̄ᵀȲ‖_* / (‖X̄‖_F ‖Ȳ‖_F)."""
    Xc, Yc = center_columns(X), center_columns(Y)
    return nuclear_norm(Xc.T @ Yc) / (np.linalg.norm(Xc) * np.linalg.norm(Yc))


def psd_square_root(S):
    """Symmetric PSD square root via eigh (negative rounding eigenvalues clipped to 0)."""
    eigenvalues, eigenvectors = np.linalg.eigh((S + S.T) / 2)
    return (eigenvectors * np.sqrt(np.clip(eigenvalues, 0.0, None))) @ eigenvectors.T


def nbs_via_bures_fidelity(X, Y):
    """n x n route: NBS = tr((K^½ L K^½)^½) / √(tr K tr L), K = X̄X̄ᵀ, L = ȲȲᵀ.
    Loses ~√eps on the zero eigenvalues, so compare at ~1e-6, not 1e-12.
    """
    K, L = linear_gram(X), linear_gram(Y)
    K_half = psd_square_root(K)
    fidelity = np.trace(psd_square_root(K_half @ L @ K_half))
    return float(fidelity / np.sqrt(np.trace(K) * np.trace(L)))


def zero_pad_columns(A, width):
    """Append zero columns so that A has `width` columns (a unit count padded with silent units)."""
    return np.hstack([A, np.zeros((A.shape[0], width - A.shape[1]))])


def optimal_rotation_of_Y_onto_X(X, Y):
    """Centred, zero-padded X̄, Ȳ and the orthogonal Q minimizing ‖X̄ − ȲQ‖_F."""
    Xc, Yc = center_columns(X), center_columns(Y)
    width = max(Xc.shape[1], Yc.shape[1])
    Xp, Yp = zero_pad_columns(Xc, width), zero_pad_columns(Yc, width)
    Q, _ = scipy.linalg.orthogonal_procrustes(Yp, Xp)
    return Xp, Yp, Q


def nbs_via_orthogonal_procrustes(X, Y):
    """NBS = max_Q ⟨X̄, ȲQ⟩ / (‖X̄‖‖Ȳ‖), with the optimal Q found by explicit alignment."""
    Xp, Yp, Q = optimal_rotation_of_Y_onto_X(X, Y)
    return float(np.sum(Xp * (Yp @ Q)) / (np.linalg.norm(Xp) * np.linalg.norm(Yp)))


def procrustes_angular_distance(X, Y):
    """procrustes-distance=angular: arccos(NBS) (Williams et al. 2021)."""
    return angular_distance(nbs(X, Y))


def procrustes_angular_score(X, Y):
    """procrustes-angular_score: 1 − arccos(NBS)/(π/2)."""
    return angular_score(nbs(X, Y))


def procrustes_squared_euclidean_distance(X, Y):
    """‖X̄‖²_F + ‖Ȳ‖²_F − 2‖X̄ᵀȲ‖_* (not normalized)."""
    Xc, Yc = center_columns(X), center_columns(Y)
    value = np.linalg.norm(Xc) ** 2 + np.linalg.norm(Yc) ** 2 - 2 * nuclear_norm(Xc.T @ Yc)
    # Exact cancellation for Y = X Q can round to -1e-15; the true value is 0.
    return float(max(value, 0.0))


def procrustes_euclidean_distance(X, Y):
    """√(‖X̄‖²_F + ‖Ȳ‖²_F − 2‖X̄ᵀȲ‖_*)."""
    return float(np.sqrt(procrustes_squared_euclidean_distance(X, Y)))


def procrustes_euclidean_distance_via_alignment(X, Y):
    """min over orthogonal Q of ‖X̄ − ȲQ‖_F, with Q from scipy's orthogonal_procrustes."""
    Xp, Yp, Q = optimal_rotation_of_Y_onto_X(X, Y)
    return float(np.linalg.norm(Xp - Yp @ Q))


def partial_whitening(X, alpha):
    """X̄ ↦ X̄ V diag(α + (1−α) λ_i^{−1/2}) Vᵀ, λ, V = eigenpairs of X̄ᵀX̄ (not divided by n).
    The spec's variance-preserving rescale is one scalar factor, which NBS ignores.
    """
    Xc = center_columns(X)
    eigenvalues, V = np.linalg.eigh(Xc.T @ Xc)
    diagonal = alpha + (1.0 - alpha) * eigenvalues ** (-0.5)
    return Xc @ (V * diagonal) @ V.T


def shape_metric_angular_distance(X, Y, alpha):
    """Generalized shape metric (Williams et al. 2021): arccos(NBS) of the partially whitened pair."""
    return angular_distance(nbs(partial_whitening(X, alpha), partial_whitening(Y, alpha)))


# ---------------------------------------------------------------------------
# CCA family
# ---------------------------------------------------------------------------


def _require_more_samples_than_units(Xc, Yc):
    n = Xc.shape[0]
    if not (n > Xc.shape[1] and n > Yc.shape[1]):
        raise ValueError(f"CCA needs n > p, q; found n={n}, p={Xc.shape[1]}, q={Yc.shape[1]}")


def canonical_correlations(X, Y):
    """ρ_1 ≥ … ≥ ρ_k, k = min(p, q): singular values of Q_xᵀQ_y with X̄ = Q_xR_x, Ȳ = Q_yR_y."""
    Xc, Yc = center_columns(X), center_columns(Y)
    _require_more_samples_than_units(Xc, Yc)
    Qx, _ = scipy.linalg.qr(Xc, mode="economic")
    Qy, _ = scipy.linalg.qr(Yc, mode="economic")
    return np.linalg.svd(Qx.T @ Qy, compute_uv=False)


def canonical_correlations_via_covariance(X, Y):
    """Second route: ρ² are the top-k generalized eigenvalues of Σ_xy Σ_yy⁻¹ Σ_yx a = ρ² Σ_xx a
    (k = min(p, q); the eigenproblem is posed on the side with fewer units).
    Accurate to ~1e-12 in ρ², so compare ρ at ~1e-7 (sqrt amplifies errors near ρ = 0).
    """
    Xc, Yc = center_columns(X), center_columns(Y)
    _require_more_samples_than_units(Xc, Yc)
    if Xc.shape[1] > Yc.shape[1]:
        Xc, Yc = Yc, Xc
    Sxx, Syy, Sxy = Xc.T @ Xc, Yc.T @ Yc, Xc.T @ Yc
    squared = scipy.linalg.eigh(Sxy @ np.linalg.solve(Syy, Sxy.T), Sxx, eigvals_only=True)
    return np.sqrt(np.clip(np.sort(squared)[::-1], 0.0, 1.0))


def cca_score(X, Y):
    """cca-score: mean ρ_i."""
    return float(np.mean(canonical_correlations(X, Y)))


def cca_squared_score(X, Y):
    """cca-squared_score: mean ρ_i² (R²_CCA)."""
    return float(np.mean(canonical_correlations(X, Y) ** 2))


def svcca_kept_dimensions(X, var):
    """Smallest d whose top-d PCs explain a fraction >= var of the total variance of X̄."""
    singular_values = np.linalg.svd(center_columns(X), compute_uv=False)
    explained = np.cumsum(singular_values**2) / np.sum(singular_values**2)
    return int(np.searchsorted(explained, var, side="left") + 1)


def principal_component_scores(X, d):
    """Scores of the top d PCs: X̄ V[:, :d] = U[:, :d] S[:d]."""
    U, S, _ = np.linalg.svd(center_columns(X), full_matrices=False)
    return U[:, :d] * S[:d]


def svcca_score(X, Y, var=None, dim=None):
    """SVCCA: keep top PCs of X and of Y separately (fraction `var` of variance, or `dim` PCs each),
    then cca-score on the PC scores: mean over min(d_X, d_Y) canonical correlations.
    """
    if (var is None) == (dim is None):
        raise ValueError("give exactly one of var, dim")
    d_X = svcca_kept_dimensions(X, var) if dim is None else dim
    d_Y = svcca_kept_dimensions(Y, var) if dim is None else dim
    return cca_score(principal_component_scores(X, d_X), principal_component_scores(Y, d_Y))


def reference_code_inverse_square_root(S):
    """Σ^(−1/2) as the reference code takes it: pinv(Σ), then eigh of that (no symmetrization,
    no clipping: a negative rounding eigenvalue gives NaN, as there) and V diag(√w) Vᵀ, the
    diagonal product first."""
    eigenvalues, eigenvectors = np.linalg.eigh(np.linalg.pinv(S))
    return np.dot(eigenvectors, np.dot(np.diag(np.sqrt(eigenvalues)), eigenvectors.T))


def pwcca_coefficients(X, Y):
    """Steps 1-4 of PWCCA as Morcos et al.'s reference code computes them, activations as units x samples.

    Operation by operation as cca_core.get_cca_similarity/compute_ccas with epsilon = 0 (their
    ε·I added to the diagonal and the removal of units with variance < ε change nothing then):

    1. Σ = np.cov of the stacked units (centres them, divides by n − 1); Σ_xx, Σ_xy, Σ_yy its blocks.
    2. Rescale: Σ_xx / max|Σ_xx|, Σ_yy / max|Σ_yy|, Σ_xy / √(max|Σ_xx| max|Σ_yy|).
    3. Σ^(−1/2) = the eigh square root of pinv(Σ), for Σ_xx and Σ_yy
       (``reference_code_inverse_square_root``).
    4. arr = Σ_xx^(−1/2) (Σ_xy Σ_yy^(−1/2)) (that product order) and its full SVD by
       ``np.linalg.svd(arr)`` (full_matrices=True), u diag(ρ) vh = arr, with numpy's own signs.
    The input with fewer units weights (X on a tie): its coefficients are the rows of uᵀ (X) or
    of vh (Y). Returns (coefficients, ρ, that input's activations, units x samples).
    """
    acts_x, acts_y = as_float64_2d(X).T, as_float64_2d(Y).T
    _require_more_samples_than_units(acts_x.T, acts_y.T)
    p = acts_x.shape[0]
    sigma = np.cov(acts_x, acts_y)
    sigma_xx, sigma_xy, sigma_yy = sigma[:p, :p], sigma[:p, p:], sigma[p:, p:]
    x_max, y_max = np.max(np.abs(sigma_xx)), np.max(np.abs(sigma_yy))
    sigma_xx, sigma_yy, sigma_xy = sigma_xx / x_max, sigma_yy / y_max, sigma_xy / np.sqrt(x_max * y_max)
    whiten_x = reference_code_inverse_square_root(sigma_xx)
    whiten_y = reference_code_inverse_square_root(sigma_yy)
    u, rho, vh = np.linalg.svd(np.dot(whiten_x, np.dot(sigma_xy, whiten_y)))
    if acts_x.shape[0] <= acts_y.shape[0]:
        return u.T, rho, acts_x
    return vh, rho, acts_y


def pwcca_from_coefficients(coefficients, rho, acts):
    """Steps 5-7: directions = coefficients·(acts − means) + means (the mean of unit i added to
    direction i, nothing on centred data); P = Q of the QR of directionsᵀ; α_i = Σ_j |⟨P_i, a_j⟩|
    over the units' activations a_j; PWCCA = Σ α_i ρ_i / Σ α_i."""
    means = acts.mean(axis=1, keepdims=True)
    directions = coefficients @ (acts - means) + means
    P, _ = np.linalg.qr(directions.T)
    alpha = np.sum(np.abs(P.T @ acts.T), axis=1)
    return float(np.sum(alpha * rho) / np.sum(alpha))


def pwcca_score(X, Y, activations="centred"):
    """PWCCA (Morcos et al. 2018) as their reference code computes it (github.com/google/svcca,
    pwcca.py and cca_core.py; the else-branch there indexes X's activations with Y's unit mask,
    here the intended symmetric branch). Weights from the network with fewer units (tie: X); its
    directions are the rows of uᵀĀ — not whitened, so not the canonical variates.

    activations="centred": on column-centred data (translation invariant). "raw": on the data as
    given, the code's literal behaviour. The value then depends on the sign of each coefficient
    vector, which the SVD leaves arbitrary; like the code, this keeps the signs numpy's
    ``np.linalg.svd`` returns (so it is the reference code's value with this numpy and LAPACK).
    """
    if activations == "centred":
        X, Y = center_columns(X), center_columns(Y)
    elif activations != "raw":
        raise ValueError(f"unknown activations {activations!r}")
    return pwcca_from_coefficients(*pwcca_coefficients(X, Y))


def pwcca_score_via_covariance(X, Y):
    """Second route (centred): canonical weights a_i from the generalized eigenproblem of the
    smaller network (aᵀS_xx a = 1); the reference code's coefficient vectors are u_i = S_xx^(1/2) a_i,
    so its directions are X̄ S_xx^(1/2) a_i; orthonormalized by QR, then the same weighting."""
    Xc, Yc = center_columns(X), center_columns(Y)
    _require_more_samples_than_units(Xc, Yc)
    if Xc.shape[1] > Yc.shape[1]:
        Xc, Yc = Yc, Xc  # the weighting network is always called X below
    Sxx, Syy, Sxy = Xc.T @ Xc, Yc.T @ Yc, Xc.T @ Yc
    squared, weights = scipy.linalg.eigh(Sxy @ np.linalg.solve(Syy, Sxy.T), Sxx)
    order = np.argsort(squared)[::-1]
    rho = np.sqrt(np.clip(squared[order], 0.0, 1.0))
    orthonormal_directions, _ = np.linalg.qr(Xc @ psd_square_root(Sxx) @ weights[:, order])
    alpha = np.sum(np.abs(orthonormal_directions.T @ Xc), axis=1)
    return float(np.sum(alpha * rho) / np.sum(alpha))


# ---------------------------------------------------------------------------
# Regression
# ---------------------------------------------------------------------------


def linear_regression_r2(X, Y):
    """OLS in-sample pooled R² = ‖P_Ȳ X̄‖²_F / ‖X̄‖²_F (predict X from Y), via lstsq."""
    Xc, Yc = center_columns(X), center_columns(Y)
    coefficients, *_ = np.linalg.lstsq(Yc, Xc, rcond=None)
    return float(np.linalg.norm(Yc @ coefficients) ** 2 / np.linalg.norm(Xc) ** 2)


def linear_regression_r2_via_projection(X, Y):
    """Second route: P_Ȳ = Q Qᵀ with Q an orthonormal basis of Ȳ's column space (SVD, rank-aware)."""
    Xc, Yc = center_columns(X), center_columns(Y)
    U, S, _ = np.linalg.svd(Yc, full_matrices=False)
    basis = U[:, S > S[0] * max(Yc.shape) * np.finfo(float).eps]
    return float(np.linalg.norm(basis.T @ Xc) ** 2 / np.linalg.norm(Xc) ** 2)


def cross_validation_test_folds(shape, n_folds, split, seed=None):
    """Test-row indices of each fold (row index of 3D input = t * C + c).

    split=conditions: contiguous blocks of conditions (np.array_split), every time bin of a
    held-out condition held out; with 2D input each row is a condition.
    split=samples: contiguous blocks of flattened rows.
    split=shuffle: np.random.default_rng(seed).permutation(n_rows), then array_split.
    """
    if len(shape) == 3:
        n_time, n_conditions = shape[0], shape[1]
    else:
        n_time, n_conditions = 1, shape[0]
    n_rows = n_time * n_conditions
    row_condition = np.arange(n_rows) % n_conditions
    if split == "conditions":
        return [
            np.flatnonzero(np.isin(row_condition, held_out))
            for held_out in np.array_split(np.arange(n_conditions), n_folds)
        ]
    if split == "samples":
        return np.array_split(np.arange(n_rows), n_folds)
    if split == "shuffle":
        return np.array_split(np.random.default_rng(seed).permutation(n_rows), n_folds)
    raise ValueError(f"unknown split {split!r}")


def ridge_coefficients(target_centred, predictor_centred, lam):
    """B = (ȲᵀȲ + λI)⁻¹ȲᵀX̄; λ = 0 is ordinary least squares (lstsq)."""
    if lam == 0:
        coefficients, *_ = np.linalg.lstsq(predictor_centred, target_centred, rcond=None)
        return coefficients
    gram = predictor_centred.T @ predictor_centred + lam * np.eye(predictor_centred.shape[1])
    return scipy.linalg.solve(gram, predictor_centred.T @ target_centred, assume_a="pos")


def ridge_coefficients_via_augmented_lstsq(target_centred, predictor_centred, lam):
    """Second route: ridge = least squares on [Ȳ; √λ I] B ≈ [X̄; 0]."""
    q = predictor_centred.shape[1]
    augmented_predictor = np.vstack([predictor_centred, np.sqrt(lam) * np.eye(q)])
    augmented_target = np.vstack([target_centred, np.zeros((q, target_centred.shape[1]))])
    coefficients, *_ = np.linalg.lstsq(augmented_predictor, augmented_target, rcond=None)
    return coefficients


def prediction_score(true_centred, predicted_centred, aggregate):
    """Score of one evaluation set; both arguments are already centred with the training means.
    pooled: 1 − ‖X − X̂‖² / ‖X‖²; per_unit: mean over units of the same per column;
    pearson: mean over units of Pearson r(X̂_j, X_j).
    """
    residual = true_centred - predicted_centred
    if aggregate == "pooled":
        return float(1.0 - np.sum(residual**2) / np.sum(true_centred**2))
    if aggregate == "per_unit":
        return float(np.mean(1.0 - np.sum(residual**2, axis=0) / np.sum(true_centred**2, axis=0)))
    if aggregate == "pearson":
        return float(
            np.mean(
                [
                    np.corrcoef(predicted_centred[:, j], true_centred[:, j])[0, 1]
                    for j in range(true_centred.shape[1])
                ]
            )
        )
    raise ValueError(f"unknown aggregate {aggregate!r}")


def regression_score_one_direction(target, predictor, lam, cv, split, aggregate, seed, shape):
    """Predict `target` from `predictor` (both 2D, same rows); cv=None fits and scores all rows."""
    if cv is None:
        mu_target, mu_predictor = target.mean(axis=0), predictor.mean(axis=0)
        coefficients = ridge_coefficients(target - mu_target, predictor - mu_predictor, lam)
        return prediction_score(
            target - mu_target, (predictor - mu_predictor) @ coefficients, aggregate
        )
    fold_scores = []
    for test_rows in cross_validation_test_folds(shape, cv, split, seed):
        train_rows = np.setdiff1d(np.arange(target.shape[0]), test_rows)
        mu_target = target[train_rows].mean(axis=0)
        mu_predictor = predictor[train_rows].mean(axis=0)
        coefficients = ridge_coefficients(
            target[train_rows] - mu_target, predictor[train_rows] - mu_predictor, lam
        )
        predicted = (predictor[test_rows] - mu_predictor) @ coefficients
        fold_scores.append(prediction_score(target[test_rows] - mu_target, predicted, aggregate))
    return float(np.mean(fold_scores))


def regression_score(
    X, Y, lam=0.0, cv=None, split="conditions", aggregate="pooled", direction="x_from_y", seed=None
):
    """Ridge / OLS R² (api-contract): per fold centre with training means,
    B = (ȲᵀȲ + λI)⁻¹ȲᵀX̄ on training rows, R²_fold = 1 − ‖X_te − μ_X − (Y_te − μ_Y)B‖²/‖X_te − μ_X‖²,
    score = mean over folds. lam=0 is OLS. direction: x_from_y (X is the target) | y_from_x |
    symmetric (mean of both). 3D input (time, condition, unit) is flattened; split=conditions
    then holds out whole conditions.
    """
    shape = np.shape(X)
    X2, Y2 = as_float64_2d(X), as_float64_2d(Y)
    one_direction = lambda target, predictor: regression_score_one_direction(  # noqa: E731
        target, predictor, lam, cv, split, aggregate, seed, shape
    )
    if direction == "x_from_y":
        return one_direction(X2, Y2)
    if direction == "y_from_x":
        return one_direction(Y2, X2)
    if direction == "symmetric":
        return 0.5 * (one_direction(X2, Y2) + one_direction(Y2, X2))
    raise ValueError(f"unknown direction {direction!r}")


# ---------------------------------------------------------------------------
# RSA
# ---------------------------------------------------------------------------


def rdm_upper_triangle(X, rdm):
    """RDM over samples, entries i < j (diagonal excluded), on the raw (uncentred) rows:
    correlation = 1 − Pearson r across units; euclidean; squared_euclidean; cosine = 1 − cos.
    """
    A = as_float64_2d(X)
    metric = {
        "correlation": "correlation",
        "euclidean": "euclidean",
        "squared_euclidean": "sqeuclidean",
        "cosine": "cosine",
    }[rdm]
    return pdist(A, metric=metric)  # pdist's order is exactly the row-major upper triangle


def rdm_upper_triangle_via_loops(X, rdm):
    """Second route: the same RDM from explicit pairs and the textbook formulas."""
    A = as_float64_2d(X)
    entries = []
    for i in range(A.shape[0]):
        for j in range(i + 1, A.shape[0]):
            a, b = A[i], A[j]
            if rdm == "correlation":
                entries.append(1.0 - scipy.stats.pearsonr(a, b)[0])
            elif rdm == "euclidean":
                entries.append(np.sqrt(np.sum((a - b) ** 2)))
            elif rdm == "squared_euclidean":
                entries.append(np.sum((a - b) ** 2))
            elif rdm == "cosine":
                entries.append(1.0 - a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))
    return np.array(entries)


def kendall_tau_b_bruteforce(a, b):
    """τ_b = (n_c − n_d) / √((n_0 − n_a)(n_0 − n_b)) over all pairs of entries; O(m²)."""
    concordant_minus_discordant = 0.0
    n_pairs = ties_in_a = ties_in_b = 0
    for i in range(len(a)):
        for j in range(i + 1, len(a)):
            n_pairs += 1
            da, db = np.sign(a[i] - a[j]), np.sign(b[i] - b[j])
            ties_in_a += da == 0
            ties_in_b += db == 0
            concordant_minus_discordant += da * db
    return float(concordant_minus_discordant / np.sqrt((n_pairs - ties_in_a) * (n_pairs - ties_in_b)))


def compare_rdms(a, b, compare):
    """pearson | spearman (scipy.stats.spearmanr) | kendall (τ-b, scipy.stats.kendalltau) | cosine."""
    if compare == "pearson":
        return float(np.corrcoef(a, b)[0, 1])
    if compare == "spearman":
        return float(scipy.stats.spearmanr(a, b).statistic)
    if compare == "kendall":
        return float(scipy.stats.kendalltau(a, b, variant="b").statistic)
    if compare == "cosine":
        return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))
    raise ValueError(f"unknown compare {compare!r}")


def rsa_score(X, Y, rdm="correlation", compare="spearman"):
    """rsa-rdm=R-compare=C (Kriegeskorte et al. 2008)."""
    return compare_rdms(rdm_upper_triangle(X, rdm), rdm_upper_triangle(Y, rdm), compare)

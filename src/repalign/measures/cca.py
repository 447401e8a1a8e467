r"""Canonical correlation analysis and its variants SVCCA and PWCCA.

Canonical correlations ρ_1 ≥ … ≥ ρ_k (k = min(p, q)) are the singular values of Q_xᵀQ_y with
X̄ = Q_xR_x and Ȳ = Q_yR_y (reduced QR). They need more samples than units and linearly
independent units; otherwise every ρ is 1 and a ``ValueError`` says so.

- ``cca-score`` = (1/k) Σ ρ_i; ``cca-squared_score`` = (1/k) Σ ρ_i² = ‖Q_xᵀQ_y‖²_F / k (R²_CCA).
- ``svcca-var=v-score``: keep the top principal components of X and of Y *separately* (the
  fewest explaining a fraction ≥ v of the variance), then ``cca-score`` of the PC scores,
  averaging min(d_x, d_y) correlations; ``svcca-dim=d-score`` keeps d PCs of each (Raghu et al. 2017).
- ``pwcca-score`` (Morcos, Raghu & Bengio 2018): a weighted mean of the canonical correlations,
  exactly as their reference implementation computes it (github.com/google/svcca, ``pwcca.py``
  and ``cca_core.py``). Step by step, with A the input with fewer units (X on a tie, as the
  code's ``np.sum(x_idxs) <= np.sum(y_idxs)``), B the other, Ā, B̄ their centred activations
  (units x samples) and a_j the activations of unit j of A:

  1. Σ_AA, Σ_AB, Σ_BB: covariances (``np.cov``; the code's rescaling by max|Σ_AA|, max|Σ_BB|
     changes nothing below).
  2. u diag(ρ) vᵀ = Σ_AA^(−1/2) Σ_AB Σ_BB^(−1/2), with *symmetric* inverse square roots; ρ are the
     canonical correlations.
  3. Directions: the rows of uᵀĀ. These are *not* whitened by Σ_AA^(−1/2), so they are not the
     canonical variates (Āᵀ Σ_AA^(−1/2) u would be, and weighting those gives a different number).
  4. P = Q of the QR decomposition of (uᵀĀ)ᵀ: the directions orthonormalized in order.
  5. α_i = Σ_j |⟨P_i, a_j⟩|, and PWCCA = Σ α_i ρ_i / Σ α_i.

  When A is Y the code uses the right singular vectors (rows of vᵀ) and Y's activations. (Its
  else-branch indexes ``acts1`` with Y's unit mask, a bug that raises ``IndexError`` whenever X
  has more units; repalign implements the intended, symmetric branch.)

  Computed without covariances, in repalign's samples x units layout: with Ā = Q_A R_A (reduced
  QR), Σ_AA ∝ R_AᵀR_A and Ā Σ_AA^(−1/2) ∝ Q_A O_A where O_A = R_A(R_AᵀR_A)^(−1/2) is orthogonal. So the matrix of
  step 2 is O_Aᵀ (Q_AᵀQ_B) O_B: ρ are the singular values of Q_AᵀQ_B (as in ``cca-score``, with
  the accuracy of QR instead of squared condition numbers), u = O_AᵀU with U the left singular
  vectors of Q_AᵀQ_B, and the directions are Ā u = Q_A (R_AR_Aᵀ)^(1/2) U. Everything after the
  QR is p x p: with (R_AR_Aᵀ)^(1/2) U = Q_C R_C, P = Q_A Q_C and ⟨P_i, a_j⟩ = (Q_Cᵀ R_A)_ij.
  (R_AR_Aᵀ)^(1/2) comes from the SVD of R_A, and its gradient has no division by gaps between
  singular values, so it stays finite for whitened or equal-variance units.

  ``activations`` (shown in the name only when not the default):

  - ``centred`` (default): the algorithm on column-centred data, what every repalign measure
    sees; translation invariant.
  - ``raw`` (``pwcca-activations=raw-score``): the reference code on data as given, a
    *compatibility option, not a well-defined measure* (the centred default is one). The code
    adds the unit means back to the directions — the mean of *unit* i to *direction* i,
    ``dirns = coef·(acts − means) + means`` — and weights the raw activations. That pairing of
    units with directions makes the value depend on the data's offsets (no translation
    invariance), on the order of the units (no permutation invariance) and on the sign of each
    coefficient vector u_i: u_i and −u_i are equally valid singular vectors, but −u_iᵀĀ + μ_i is
    not ±(u_iᵀĀ + μ_i), so the value is that of whichever signs LAPACK's SVD happens to return
    (numpy's and torch's SVDs of the same matrix differ, and so may LAPACK builds; no sign rule,
    e.g. sklearn's ``svd_flip``, reproduces them: on test data that one was off by up to 0.06).
    Those signs depend on the whole matrix, so even a rotation or reordering of the units of
    the input with more units can change the value. The option therefore takes the signs from
    numpy: per batch item, without gradient, it forms the code's own matrix
    Σ_AA^(−1/2) Σ_AB Σ_BB^(−1/2) by the code's operations (``np.cov``, the max-abs rescaling,
    ``np.linalg.pinv``, the ``eigh`` square root, the same product order; epsilon = 0), takes
    ``np.linalg.svd`` of it, and turns each of its own coefficient vectors (computed as above,
    with the gradient) to a non-negative inner product with numpy's vector of the same index
    (left singular vectors when A is X, right ones when A is Y). It thus reproduces the
    reference code run with the numpy (and LAPACK) installed alongside repalign, to rounding;
    with another build the reference code itself may give another number. Signs are piecewise
    constant, so the gradient is that of the value with those signs held fixed. Where two
    canonical correlations are equal to 1e-8 their vectors are not unique even up to sign and
    torch's basis of their subspace is not numpy's: there each vector is signed with its
    largest-magnitude entry positive (``svd_flip``), and the value generally differs from the
    reference code's (which depends on LAPACK's basis). Where the code's matrix is not finite
    (its square root of a numerically singular ``pinv``; the code then returns NaN) torch's
    signs are kept. On centred data the added means are zero and the signs do not matter.

  Repeated canonical correlations (e.g. Y = X) make the directions non-unique and the SVD
  without a gradient for them; the directions are then held constant for the gradient (the
  term Σ (ρ_i − PWCCA) dα_i vanishes where all ρ_i are equal). Needs more samples than units
  in both inputs, like CCA. With p + q > n at least p + q − n correlations are exactly 1, and
  the value depends on which basis of their subspace the SVD returns (α is an L1 sum, not
  rotation invariant) — in the reference code as here: compare values only where p + q < n.

Example
-------
>>> import numpy as np, repalign
>>> rng = np.random.default_rng(0)
>>> X = rng.normal(size=(100, 4))
>>> A = rng.normal(size=(4, 4))                  # any invertible linear map
>>> round(repalign.measure("cca")(X, X @ A), 10)
1.0
"""

from __future__ import annotations

import numpy as np
import torch

from .._linalg import center, nuclear_norm, orthonormal_basis
from .._warnings import warn
from ._family import ROTATION_INVARIANT, Family, Metadata, Parameter, symmetric_invariances

CCA_INVARIANT = ROTATION_INVARIANT | {"invertible_linear"}


def _score_metadata(reference: str, invariant, symmetric: bool = True) -> Metadata:
    return Metadata(
        kind="score", range=(0.0, 1.0), symmetric=symmetric, invariances=symmetric_invariances(invariant),
        differentiable=True, needs_n_by_n=False, reference=reference,
    )


class CCA(Family):
    name = "cca"
    summary = "mean (or mean squared) canonical correlation"
    outputs = ("score", "squared_score")
    default_output = "score"

    def metadata(self, params, output):
        return _score_metadata("Hotelling 1936, Relations between two sets of variates", CCA_INVARIANT)

    def prepare(self, data, params):
        q, _ = orthonormal_basis(center(data.values), data.name, "cca")
        return {"q": q}

    def evaluate(self, px, py, params, output):
        cross = px["q"].mT @ py["q"]
        k = min(cross.shape[-2:])
        if output == "squared_score":
            return (cross.square().sum(dim=(-2, -1)) / k).clamp(0.0, 1.0)
        return (nuclear_norm(cross) / k).clamp(0.0, 1.0)


def _principal_components(xc: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Orthonormal PC scores U (n x r, by decreasing variance) and the variances (detached).

    From ``eigh`` of the smaller Gram matrix instead of an SVD of the data (several times
    cheaper): with X̄ᵀX̄ = VΛVᵀ the scores are X̄V Λ^(−1/2); with X̄X̄ᵀ they are its eigenvectors.
    Only the leading, well-resolved components are used by SVCCA.
    """
    n, p = xc.shape[-2], xc.shape[-1]
    if p < n:
        lam, v = torch.linalg.eigh(xc.mT @ xc)
        lam, v = lam.flip(-1), v.flip(-1)
        floor = lam.detach().amax(dim=-1, keepdim=True) * torch.finfo(xc.dtype).eps
        u = (xc @ v) * lam.clamp_min(floor).rsqrt().unsqueeze(-2)
    else:
        lam, u = torch.linalg.eigh(xc @ xc.mT)
        lam, u = lam.flip(-1), u.flip(-1)
    return u, lam.detach().clamp_min(0)


class SVCCA(Family):
    name = "svcca"
    summary = "CCA on the top principal components of each input (by variance fraction or count)"
    parameters = (
        Parameter("var", "float", 0.99, "fraction of variance the kept PCs explain", low=0.0, high=1.0),
        Parameter("dim", "int", None, "number of PCs kept (instead of var)", low=1),
    )
    alternatives = (("dim", "var"),)
    outputs = ("score",)
    default_output = "score"

    def metadata(self, params, output):
        return _score_metadata("Raghu et al. 2017, SVCCA (NeurIPS)", ROTATION_INVARIANT)

    def prepare(self, data, params):
        u, variance = _principal_components(center(data.values))
        if params.get("dim") is not None:
            dims = torch.full(variance.shape[:-1], int(params["dim"]), dtype=torch.long)
            rank = int((variance > variance.amax(dim=-1, keepdim=True) * 1e-20).sum(dim=-1).min())
            if params["dim"] > rank:
                raise ValueError(
                    f"svcca: dim={params['dim']} exceeds the number of non-zero principal components of "
                    f"{data.name} ({rank})"
                )
        else:
            fraction = variance.cumsum(dim=-1) / variance.sum(dim=-1, keepdim=True)
            # the fewest PCs whose cumulative fraction reaches var (rounding-tolerant at var = 1)
            dims = (fraction < params["var"] - 1e-12).sum(dim=-1) + 1
            dims = dims.clamp(max=variance.shape[-1]).cpu()
        if u.shape[-2] <= int(dims.max()):
            raise ValueError(
                f"svcca keeps {int(dims.max())} PCs of {data.name} but has only {u.shape[-2]} samples; "
                f"CCA needs more samples than kept PCs"
            )
        return {"u": u, "dims": dims}

    def evaluate(self, px, py, params, output):
        # the number of kept PCs can differ between batch items, so batches are scored one by one
        batch_shape = torch.broadcast_shapes(px["u"].shape[:-2], py["u"].shape[:-2])
        if not batch_shape:
            return self._one(px["u"], py["u"], int(px["dims"]), int(py["dims"]))
        u_x = px["u"].expand(*batch_shape, *px["u"].shape[-2:])
        u_y = py["u"].expand(*batch_shape, *py["u"].shape[-2:])
        dims_x, dims_y = px["dims"].expand(batch_shape), py["dims"].expand(batch_shape)
        return torch.stack(
            [self._one(u_x[i], u_y[i], int(dims_x[i]), int(dims_y[i])) for i in range(batch_shape[0])]
        )

    @staticmethod
    def _one(u_x, u_y, d_x, d_y):
        cross = u_x[:, :d_x].mT @ u_y[:, :d_y]
        return (nuclear_norm(cross) / min(d_x, d_y)).clamp(0.0, 1.0)


class _GramSquareRoot(torch.autograd.Function):
    """K = (R Rᵀ)^{1/2}, the symmetric positive definite square root, for a square full-rank R.

    Forward from the SVD R = W S Zᵀ: K = W S Wᵀ, which keeps the relative accuracy of the
    singular values (forming R Rᵀ first would square the condition number). Backward by the
    Daleckii–Krein formula for a matrix function of A = R Rᵀ = W S² Wᵀ: the divided differences
    of √· are (s_i − s_j)/(s_i² − s_j²) = 1/(s_i + s_j), so Ā = W [(Wᵀ K̄ W) ∘ 1/(s_i + s_j)] Wᵀ
    has no division by a gap between singular values (autograd through ``svd``/``eigh`` would,
    and gives NaN where two are equal, e.g. for whitened units) and R̄ = (Ā + Āᵀ) R.
    """

    @staticmethod
    def forward(ctx, r):
        w, s, _ = torch.linalg.svd(r)
        ctx.save_for_backward(r, w, s)
        return (w * s.unsqueeze(-2)) @ w.mT

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad):
        r, w, s = ctx.saved_tensors
        inner = w.mT @ (grad + grad.mT) @ w / (s.unsqueeze(-1) + s.unsqueeze(-2))
        return w @ inner @ (w.mT @ r)


def _square_root_factor(prepared: dict) -> torch.Tensor:
    """(R Rᵀ)^{1/2} of one input, computed on first use and kept with its prepared quantities.

    Only the input with fewer units needs it, which ``prepare`` cannot know; storing it in the
    prepared dict lets a bound reference compute it once instead of once per call.
    """
    if "k" not in prepared:
        prepared["k"] = _GramSquareRoot.apply(prepared["r"])
    return prepared["k"]


def _reference_code_singular_vectors(raw_x: torch.Tensor, raw_y: torch.Tensor, weights_from_x: bool) -> torch.Tensor:
    """The singular vectors of Morcos et al.'s reference code, with numpy's signs (no gradient).

    Per batch item, in float64 numpy, the matrix the code decomposes, by the code's operations
    with epsilon = 0 (cca_core.get_cca_similarity, compute_ccas): ``np.cov`` of the units x samples
    activations of X stacked on Y; the blocks rescaled by the largest absolute entries m_x of
    Σ_xx and m_y of Σ_yy (Σ_xy by √(m_x m_y)); Σ^(−1/2) as V diag(√w) Vᵀ from ``eigh`` of
    ``pinv(Σ)``; arr = Σ_xx^(−1/2)·(Σ_xy·Σ_yy^(−1/2)); ``np.linalg.svd(arr)`` (full matrices).
    Returns its left singular vectors (weights from X) or right ones (weights from Y) as the
    columns of a (..., units, units) tensor; only their signs are used.
    """
    batch = torch.broadcast_shapes(raw_x.shape[:-2], raw_y.shape[:-2])
    xs = raw_x.expand(*batch, *raw_x.shape[-2:]).reshape(-1, *raw_x.shape[-2:])
    ys = raw_y.expand(*batch, *raw_y.shape[-2:]).reshape(-1, *raw_y.shape[-2:])

    def inverse_square_root(block):
        eigenvalues, eigenvectors = np.linalg.eigh(np.linalg.pinv(block))
        return np.dot(eigenvectors, np.dot(np.diag(np.sqrt(eigenvalues)), eigenvectors.T))

    vectors = []
    for x, y in zip(xs, ys):
        acts_x = x.cpu().numpy().astype(np.float64).T
        acts_y = y.cpu().numpy().astype(np.float64).T
        p = acts_x.shape[0]
        with np.errstate(invalid="ignore"):  # NaN where the code's own square root fails, as there
            covariance = np.cov(acts_x, acts_y)
            x_max = np.max(np.abs(covariance[:p, :p]))
            y_max = np.max(np.abs(covariance[p:, p:]))
            sigma_xx = covariance[:p, :p] / x_max
            sigma_yy = covariance[p:, p:] / y_max
            sigma_xy = covariance[:p, p:] / np.sqrt(x_max * y_max)
            arr = np.dot(inverse_square_root(sigma_xx), np.dot(sigma_xy, inverse_square_root(sigma_yy)))
        if not np.isfinite(arr).all():
            # the reference code gives NaN here; no signs to take (the comparison keeps torch's)
            vectors.append(np.zeros((min(arr.shape),) * 2))
            continue
        left, _, right_t = np.linalg.svd(arr)
        vectors.append(left if weights_from_x else right_t.T)
    return torch.from_numpy(np.stack(vectors)).reshape(*batch, *vectors[0].shape)


class PWCCA(Family):
    name = "pwcca"
    summary = "projection-weighted CCA (weights from the input with fewer units)"
    parameters = (
        Parameter(
            "activations", "choice", "centred",
            "centred: the reference algorithm on column-centred data (translation invariant, a well-defined "
            "measure); raw: a compatibility option, the reference code's literal behaviour on uncentred "
            "data (unit means added back to the directions, raw activations weighted), whose value depends "
            "on the arbitrary signs LAPACK gives the singular vectors; they are taken from numpy's SVD of "
            "the reference code's own matrix, so it reproduces the reference code run with the same numpy",
            choices=("centred", "raw"), in_name="non_default",
        ),
    )
    outputs = ("score",)
    default_output = "score"

    def metadata(self, params, output):
        # guaranteed for both inputs; the input with more units (whose weights are not used)
        # is in fact also rotation invariant, but which one that is depends on the data
        invariant = {"permutation", "isotropic_scale", "translation"}
        if params["activations"] == "raw":
            # the reference code adds the mean of unit i to canonical direction i: neither a
            # shift nor a reordering of the units of the weighting input leaves that unchanged;
            # and the singular vector signs LAPACK returns change with a rotation or reordering
            # of the units of either input
            invariant = {"isotropic_scale"}
        return _score_metadata(
            "Morcos, Raghu & Bengio 2018, Insights on representational similarity (NeurIPS); "
            "reference implementation github.com/google/svcca (pwcca.py, cca_core.py)", invariant,
            symmetric=False,
        )

    def check(self, dx, dy, params):
        # the centred inputs span p and q dimensions of the n − 1 orthogonal to the ones vector, so
        # when p + q > n − 1 they share at least p + q − n + 1 directions: canonical correlations
        # equal to 1 whose directions (hence weights) are any basis of that shared subspace. The
        # value then depends on the SVD's choice, in the reference code as here
        n, p, q = dx.n_samples, dx.n_units, dy.n_units
        if max(p, q) < n and p + q > n - 1:  # (p >= n or q >= n is refused with a clear error)
            warn(f"pwcca: {p} + {q} units exceed {n - 1} = samples − 1, so {p + q - n + 1} canonical "
                          f"correlation(s) equal 1 and their directions are not unique; the weights, hence the "
                          f"value, depend on the basis the SVD picks (as in the reference code). Use fewer units "
                          f"(e.g. svcca) or more samples", RuntimeWarning)

    def prepare(self, data, params):
        q, r = orthonormal_basis(center(data.values), data.name, "pwcca")
        prepared = {"q": q, "r": r}
        if params["activations"] == "raw":
            # X = X̄ + 1μᵀ = [Q, 1/√n] [R; √n μᵀ] with 1 ⟂ Q (the columns of X̄ sum to zero)
            n = data.values.shape[-2]
            prepared["m"] = data.values.mean(dim=-2, keepdim=True) * n**0.5
            prepared["raw"] = data.values.detach()  # for the reference code's singular vector signs
        return prepared

    def evaluate(self, px, py, params, output):
        weights_from_x = px["q"].shape[-1] <= py["q"].shape[-1]
        if params["activations"] == "raw":
            # the reference code's singular vectors (from X and Y in their own order, before the swap)
            reference_vectors = _reference_code_singular_vectors(px["raw"], py["raw"], weights_from_x)
        if not weights_from_x:
            # the weights come from Y: its directions are the right singular vectors of Q_xᵀQ_y,
            # the left ones of Q_yᵀQ_x, so the rest is the same with the roles swapped
            px, py = py, px
        cross = px["q"].mT @ py["q"]
        u, rho, vh = torch.linalg.svd(cross, full_matrices=False)
        gaps = (rho[..., :-1] - rho[..., 1:]).detach()
        if gaps.numel() and bool((gaps <= 1e-8).any()):
            # repeated correlations (e.g. Y = X): the canonical directions are not unique and the
            # SVD has no gradient for them; the weights' term Σ(ρ_i − PWCCA)dα_i vanishes where
            # all ρ_i are equal, so the directions are held constant for the gradient there
            u = u.detach()
        # the reference code's directions X̄u_ref in the basis Q_x: X̄ = Q_x R_x and
        # u_ref = O_xᵀU with O_x = R_x(R_xᵀR_x)^(−1/2) orthogonal, so X̄u_ref = Q_x (R_xR_xᵀ)^(1/2) U
        directions, r = _square_root_factor(px) @ u, px["r"]
        if params["activations"] == "raw":
            # adding μ_i to direction i makes the value depend on the sign of each coefficient
            # vector u_ref,i, which the SVD leaves arbitrary: take the reference code's, i.e. turn
            # each u_ref,i = O_xᵀU_i = R_x⁻¹(R_xR_xᵀ)^(1/2)U_i towards numpy's vector of the same
            # index (signs only: no gradient)
            weights_of_units = torch.linalg.solve_triangular(r.detach(), directions.detach(), upper=True)
            agreement = (weights_of_units * reference_vectors.to(weights_of_units)).sum(dim=-2, keepdim=True)
            signs = torch.where(agreement < 0, -1.0, 1.0).to(weights_of_units)
            # a singular value repeated to 1e-8 has no unique vectors, not even up to sign, and
            # torch's basis of that subspace is not numpy's: keep the earlier rule there (largest-
            # magnitude entry of u_ref,i positive, as sklearn's svd_flip)
            largest = weights_of_units.abs().argmax(dim=-2, keepdim=True)
            flip_signs = torch.gather(weights_of_units, -2, largest).sign()
            tied = (rho[..., :-1] - rho[..., 1:]).detach() <= 1e-8  # ρ_i and ρ_(i+1)
            untied = torch.zeros(*tied.shape[:-1], 1, dtype=torch.bool, device=tied.device)
            repeated = torch.cat([tied, untied], dim=-1) | torch.cat([untied, tied], dim=-1)
            directions = directions * torch.where(repeated.unsqueeze(-2), flip_signs, signs)
            # directions + 1μᵀ and the raw units X, both in the orthonormal basis [Q_x, 1/√n]
            batch = torch.broadcast_shapes(directions.shape[:-2], px["m"].shape[:-2])
            m = px["m"].expand(*batch, *px["m"].shape[-2:])
            directions = torch.cat([directions.expand(*batch, *directions.shape[-2:]), m], dim=-2)
            r = torch.cat([r.expand(*batch, *r.shape[-2:]), m], dim=-2)
        # P = [Q_x(, 1/√n)]·Q_B with B = Q_B R_B: ⟨P_i, a_j⟩ = (Q_Bᵀ R)_ij in that basis
        basis, _ = torch.linalg.qr(directions, mode="reduced")
        weights = (basis.mT @ r).abs().sum(dim=-1)
        rho = rho.clamp(0.0, 1.0)
        return (weights * rho).sum(dim=-1) / weights.sum(dim=-1)

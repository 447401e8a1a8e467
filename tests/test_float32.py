"""float32 tensors: every measure runs in the input's dtype, close to float64, with finite gradients."""

import pytest
import torch
from conftest import random_pair

import repalign


@pytest.mark.parametrize("name", repalign.catalogue())
def test_float32_close_to_float64_with_finite_gradient(name):
    m = repalign.measure(name)
    x, y = random_pair(seed=6, n=60, p=5, q=5 if m.family == "permutation" else 7)  # d_P needs p = q
    expected = m(x, y)
    x32 = torch.from_numpy(x).float()
    y32 = torch.from_numpy(y).float().requires_grad_(m.differentiable)
    value = m(x32, y32)
    assert value.dtype == torch.float32
    scale = max(1.0, abs(expected))
    assert abs(value.item() - expected) <= 2e-4 * scale
    if m.differentiable:
        value.backward()
        assert torch.isfinite(y32.grad).all()


def test_float32_nuclear_norm_gradient_keeps_small_singular_values():
    """‖A‖_* in float32 on an ill-conditioned A (σ from 1 down to 1e-5, as X̄ᵀȲ once Y nears an
    ill-conditioned reference) takes the SVD route; its gradient U Vᵀ must keep every singular
    direction that float32 resolves. The former cut at max(p, q)·ε·σ_max (2.4e-5 here) dropped
    the smallest ones, which bent angular-Procrustes optimization in float32."""
    from repalign._linalg import nuclear_norm

    p = 200
    gen = torch.Generator().manual_seed(0)
    u, _ = torch.linalg.qr(torch.randn(p, p, dtype=torch.float64, generator=gen))
    v, _ = torch.linalg.qr(torch.randn(p, p, dtype=torch.float64, generator=gen))
    sigma = torch.logspace(0, -5, p, dtype=torch.float64)
    a = (u * sigma) @ v.T
    a32 = a.float().requires_grad_(True)
    value = nuclear_norm(a32)
    value.backward()
    assert abs(value.item() - sigma.sum().item()) <= 1e-5 * sigma.sum().item()
    exact = u @ v.T  # the gradient of ‖A‖_* at full rank
    # float32 resolves singular vectors to about ε·σ_max/gap: the error is spread over the small, close
    # values; a dropped direction would leave an error of 1 in the spectral norm
    assert torch.linalg.matrix_norm(a32.grad.double() - exact, ord=2) < 0.5
    assert torch.linalg.matrix_norm(a32.grad.double() - exact) < 0.1 * torch.linalg.matrix_norm(exact)

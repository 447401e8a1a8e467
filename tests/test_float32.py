"""float32 tensors: every measure runs in the input's dtype, close to float64, with finite gradients."""

import numpy as np
import pytest
import torch

import repalign
from conftest import random_pair


@pytest.mark.parametrize("name", repalign.measures())
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

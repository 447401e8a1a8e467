"""The numerical building blocks: nuclear norm paths, boundary-safe arccos, exact unit reduction."""

import numpy as np
import pytest
import torch

from repalign import _linalg as _common


def _spiky(n, p, q, seed=0):
    """Low-rank signal plus noise: singular values spanning ~10 orders of magnitude in the Gram."""
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(n, 30, generator=g, dtype=torch.float64)
    x = z @ torch.randn(30, p, generator=g, dtype=torch.float64) + 2 * torch.randn(n, p, generator=g, dtype=torch.float64)
    y = z @ torch.randn(30, q, generator=g, dtype=torch.float64) + 2 * torch.randn(n, q, generator=g, dtype=torch.float64)
    return _common.center(x), _common.center(y)


@pytest.mark.parametrize(
    "case", ["spiky", "wide", "rank_one", "rank_deficient"],
)
def test_nuclear_norm_matches_svd_and_gradient_is_polar_factor(case, monkeypatch):
    x, y = _spiky(300, 60, 45)
    a = {
        "spiky": x.mT @ y,
        "wide": y.mT @ x,
        "rank_one": x.mT @ (y[:, :1] @ torch.ones(1, 45, dtype=torch.float64)),
        "rank_deficient": x[:40].mT @ y[:40],
    }[case].clone().requires_grad_()
    used_svd = []
    real_svd = torch.linalg.svd
    monkeypatch.setattr(torch.linalg, "svd", lambda *args, **kw: used_svd.append(1) or real_svd(*args, **kw))
    value = _common.nuclear_norm(a)
    value.backward()
    u, s, vh = np.linalg.svd(a.detach().numpy(), full_matrices=False)
    assert value.item() == pytest.approx(s.sum(), rel=1e-11)
    rank = int((s > s[0] * 1e-12).sum())
    np.testing.assert_allclose(a.grad.numpy(), u[:, :rank] @ vh[:rank], atol=1e-7)
    # the fast eigenvalue path is taken exactly when it is accurate
    assert bool(used_svd) == (case in ("rank_one", "rank_deficient"))


def test_nuclear_norm_batched_and_forward_only():
    x, y = _spiky(200, 20, 25)
    stack = torch.stack([x.mT @ y, (2 * x).mT @ y])
    values = _common.nuclear_norm(stack)
    expected = torch.linalg.svdvals(stack).sum(dim=-1)
    torch.testing.assert_close(values, expected, rtol=1e-11, atol=0)


def test_angular_is_exact_at_one_and_has_finite_gradient():
    s = torch.tensor([1.0, 1.0 - 1e-15, 0.5, -1.0, 1.0 + 1e-15], dtype=torch.float64, requires_grad=True)
    d = _common.angular(s)
    assert d[0].item() == 0.0 and d[1].item() == 0.0 and d[4].item() == 0.0
    assert d[2].item() == pytest.approx(np.arccos(0.5), rel=1e-15)
    d.sum().backward()
    assert torch.isfinite(s.grad).all()
    assert s.grad[2].item() == pytest.approx(-1 / np.sqrt(0.75), rel=1e-12)


def test_reduce_units_keeps_the_gram_and_is_a_noop_when_narrow():
    g = torch.Generator().manual_seed(1)
    wide = torch.randn(10, 40, generator=g, dtype=torch.float64)
    reduced = _common.reduce_units(wide)
    assert reduced.shape == (10, 10)
    torch.testing.assert_close(reduced @ reduced.mT, wide @ wide.mT, rtol=1e-12, atol=1e-12)
    narrow = torch.randn(10, 4, generator=g, dtype=torch.float64)
    assert _common.reduce_units(narrow) is narrow


def test_cca_tells_a_unit_of_small_variance_from_a_dependent_one_in_float32():
    """The rank check compares each unit's residual after the units before it with the unit's own norm:
    a unit 1e-3 times smaller than the others is independent (accepted, the float64 value), a unit equal to
    a combination of others is dependent (refused), in float32 as in float64. The check compared the
    residual with the largest unit's norm before, and refused the M1 recording in float32."""
    import torch

    import repalign

    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 6))
    X[:, 5] *= 1e-3
    Y = X @ rng.normal(size=(6, 4)) + rng.normal(size=(300, 4))
    cca = repalign.measure("cca")
    want = cca(X, Y)
    got = float(cca(torch.tensor(X, dtype=torch.float32), torch.tensor(Y, dtype=torch.float32)))
    assert got == pytest.approx(want, abs=1e-4)
    dependent = np.column_stack([X[:, :5], X[:, 0] - 2 * X[:, 1]])
    for dtype in (torch.float32, torch.float64):
        with pytest.raises(ValueError, match="linearly dependent"):
            cca(torch.tensor(dependent, dtype=dtype), torch.tensor(Y, dtype=dtype))

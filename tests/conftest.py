"""Shared fixtures: seeded data generators (every random choice takes a seed)."""

import numpy as np
import pytest


def random_pair(seed: int = 0, n: int = 40, p: int = 5, q: int = 6, offset: float = 0.0):
    """X, Y with a shared component so that scores are neither 0 nor 1."""
    rng = np.random.default_rng(seed)
    shared = rng.normal(size=(n, 3))
    x = shared @ rng.normal(size=(3, p)) + 0.7 * rng.normal(size=(n, p)) + offset
    y = shared @ rng.normal(size=(3, q)) + 0.7 * rng.normal(size=(n, q)) - offset
    return x, y


def random_orthogonal(size: int, rng) -> np.ndarray:
    q, r = np.linalg.qr(rng.normal(size=(size, size)))
    return q * np.sign(np.diag(r))


@pytest.fixture
def pair():
    return random_pair()

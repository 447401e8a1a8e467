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


def library_measure(name, **kwargs):
    """repalign.measure(name, **kwargs); any failure (missing package, unknown name) fails the test."""
    try:
        import repalign

        return repalign.measure(name, **kwargs)
    except Exception as error:  # noqa: BLE001 - we want the message, whatever went wrong
        pytest.fail(f"repalign.measure({name!r}, **{kwargs!r}) raised {error!r}")


def library_value(name, kwargs, X, Y):
    measure = library_measure(name, **kwargs)
    try:
        value = measure(X, Y)
    except Exception as error:  # noqa: BLE001
        pytest.fail(f"repalign.measure({name!r}, **{kwargs!r})(X {X.shape}, Y {Y.shape}) raised {error!r}")
    assert isinstance(value, float), f"{name}: expected a Python float, found {type(value).__name__}"
    return value

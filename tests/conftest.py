"""Shared fixtures and helpers: seeded data generators (every random choice takes a seed), comparisons.

Figures are drawn with matplotlib's non-interactive Agg backend (set here, before any test imports
pyplot). Tests that take more than a few seconds carry ``@pytest.mark.slow`` (``make test-quick``
skips them).
"""

import math
import os

import numpy as np
import pytest
import torch

os.environ.setdefault("MPLBACKEND", "Agg")


def assert_close(value, expected, rtol, atol, what=""):
    """|value − expected| <= atol + rtol·|expected|, with a message giving both differences."""
    assert math.isfinite(value), f"{what}: got non-finite {value!r}"
    assert abs(value - expected) <= atol + rtol * abs(expected), (
        f"{what}: got {value!r}, expected {expected!r} "
        f"(abs diff {abs(value - expected):.3e}, rel diff {abs(value - expected) / max(abs(expected), 1e-300):.3e})"
    )


def assert_same_values(a, b):
    """Same columns and values: numbers to 1e-12 (NaN and missing alike), anything else by its text."""
    assert list(a.columns) == list(b.columns) and len(a) == len(b)
    for column in a.columns:
        left, right = a[column].reset_index(drop=True), b[column].reset_index(drop=True)
        assert (left.isna() == right.isna()).all(), column
        present = left.notna()
        try:
            np.testing.assert_allclose(left[present].astype(float), right[present].astype(float), rtol=1e-12,
                                       atol=1e-300, err_msg=column)
        except (TypeError, ValueError):
            assert left[present].astype(str).tolist() == right[present].astype(str).tolist(), column


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


@pytest.fixture(scope="session")
def mante():
    """The seed paper's reference at full size, ``mante_like(seed=0)`` (15 x 72 x 727), built once."""
    from repalign.data import mante_like

    return mante_like(seed=0)


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


@pytest.fixture(scope="module")
def single_threaded():
    """One torch thread and one BLAS/OpenMP thread for a module's tests, restored afterwards.

    On a shared 2-core machine, multi-threaded LAPACK (QR, eigh, scikit-learn's solvers) ran
    10-100x slower than single-threaded when other processes held the cores.
    """
    import scipy.optimize  # noqa: F401 -- threadpoolctl limits only the BLAS libraries already loaded

    try:
        import sklearn.linear_model  # noqa: F401
    except ImportError:  # pragma: no cover
        pass
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover -- numpy's BLAS keeps its threads; only slower
        limits = None
    else:
        limits = threadpool_limits(limits=1)
    yield
    if limits is not None:
        limits.restore_original_limits()
    torch.set_num_threads(previous)

"""PWCCA against a float64 transcription of Morcos et al.'s reference algorithm (tests/reference.py).

Both options: ``pwcca-score`` (the algorithm on column-centred data) and
``pwcca-activations=raw-score`` (the reference code's uncentred behaviour, whose value depends
on the signs numpy's ``np.linalg.svd`` gives the singular vectors; the transcription keeps
them, as the reference code does). Values to 1e-10, on 2D, 3D, batched and bound calls and 50
random pairs; gradients; invariances.
"""

import numpy as np
import pytest
import reference as ref
import torch
from conftest import random_orthogonal

import repalign

ATOL = 1e-10
OPTIONS = {"centred": "pwcca-score", "raw": "pwcca-activations=raw-score"}


def shared_pair(seed, n, p, q, n_latent=10, offset=3.0):
    """X, Y driven by a common latent, with unit means of order `offset` (so centring matters)."""
    rng = np.random.default_rng(seed)
    latent = rng.standard_normal((n, n_latent))
    X = latent @ rng.standard_normal((n_latent, p)) + rng.standard_normal((n, p)) + offset * rng.standard_normal(p)
    Y = latent @ rng.standard_normal((n_latent, q)) + rng.standard_normal((n, q)) + offset * rng.standard_normal(q)
    return X, Y


PAIRS = {
    "p<q": (0, 60, 7, 11),
    "p=q": (1, 50, 6, 6),  # tie: the weights come from X
    "p>q": (2, 60, 11, 7),  # the weights come from Y
    "p=1": (3, 30, 1, 4),
    "n200_p50_q50": (4, 200, 50, 50),
    "n200_p50_q20": (5, 200, 50, 20),
}


def _assert_close(value, expected, what):
    assert abs(value - expected) <= ATOL, f"{what}: repalign {value!r} vs reference {expected!r}"


@pytest.mark.parametrize("pair", PAIRS)
@pytest.mark.parametrize("activations", OPTIONS)
def test_equals_the_reference_algorithm(pair, activations):
    X, Y = shared_pair(*PAIRS[pair])
    value = repalign.measure(OPTIONS[activations])(X, Y)
    _assert_close(value, ref.pwcca_score(X, Y, activations), pair)
    assert value == repalign.measure("pwcca", activations=activations)(X, Y)


@pytest.mark.parametrize("pair", ["p<q", "p>q"])
def test_the_centred_option_is_the_reference_on_centred_data(pair):
    X, Y = shared_pair(*PAIRS[pair])
    centred = X - X.mean(axis=0), Y - Y.mean(axis=0)
    expected = ref.pwcca_score(*centred, activations="raw")
    _assert_close(repalign.measure("pwcca")(X, Y), expected, pair)
    _assert_close(repalign.measure(OPTIONS["raw"])(*centred), expected, pair)


def test_the_reference_transcription_agrees_with_a_second_route():
    for pair in ("p<q", "p=q", "p>q", "n200_p50_q20"):
        X, Y = shared_pair(*PAIRS[pair])
        np.testing.assert_allclose(ref.pwcca_score_via_covariance(X, Y), ref.pwcca_score(X, Y), rtol=1e-7)


def test_directions_are_not_the_whitened_canonical_variates():
    """The weights of the orthonormal canonical variates Q_x U (repalign before it followed the
    reference code) give a visibly different number on the same data."""
    X, Y = shared_pair(*PAIRS["n200_p50_q50"])
    Xc, Yc = X - X.mean(axis=0), Y - Y.mean(axis=0)
    qx, rx = np.linalg.qr(Xc)
    qy, _ = np.linalg.qr(Yc)
    u, rho, _ = np.linalg.svd(qx.T @ qy)
    alpha = np.abs(u.T @ rx).sum(axis=1)
    whitened = np.sum(alpha * rho) / np.sum(alpha)
    assert abs(repalign.measure("pwcca")(X, Y) - whitened) > 1e-3


@pytest.mark.parametrize("activations", OPTIONS)
def test_time_condition_unit_input_is_flattened(activations):
    rng = np.random.default_rng(6)
    latent = rng.standard_normal((5, 12, 3))
    X = latent @ rng.standard_normal((3, 6)) + 0.5 * rng.standard_normal((5, 12, 6)) + 2.0
    Y = latent @ rng.standard_normal((3, 9)) + 0.5 * rng.standard_normal((5, 12, 9)) - 1.0
    value = repalign.measure(OPTIONS[activations])(X, Y)
    _assert_close(value, ref.pwcca_score(X.reshape(60, 6), Y.reshape(60, 9), activations), "3D")


@pytest.mark.parametrize("activations", OPTIONS)
@pytest.mark.parametrize("units", [(5, 8), (8, 5)])
def test_batched_and_bound_calls(activations, units):
    p, q = units
    pairs = [shared_pair(10 + b, 40, p, q) for b in range(3)]
    Xs, Ys = np.stack([x for x, _ in pairs]), np.stack([y for _, y in pairs])
    expected = np.array([ref.pwcca_score(x, y, activations) for x, y in pairs])
    m = repalign.measure(OPTIONS[activations])
    np.testing.assert_allclose(m.batch(Xs, Ys), expected, rtol=0, atol=ATOL)
    bound = m.bind(Xs[0])
    expected_bound = np.array([ref.pwcca_score(Xs[0], y, activations) for y in Ys])
    np.testing.assert_allclose(bound.batch(Ys), expected_bound, rtol=0, atol=ATOL)
    for y, e in zip(Ys, expected_bound):
        _assert_close(bound(y), e, "bound")  # twice on the same reference: its cached factors
    # torch in, torch out, one value per pair, through the batched QR/SVD path
    values = m.batch(torch.from_numpy(Xs), torch.from_numpy(Ys))
    assert isinstance(values, torch.Tensor) and values.shape == (3,)
    np.testing.assert_allclose(values.numpy(), expected, rtol=0, atol=ATOL)


def random_pairs(count=50, seed=2024):
    """(name, X, Y): p < q, p = q and p > q (p + q < n, so no correlation is tied at 1), unit
    offsets of random size between 0 and 10."""
    rng = np.random.default_rng(seed)
    for i in range(count):
        n = int(rng.integers(30, 160))
        p, q = (int(d) for d in rng.integers(1, 13, size=2))
        if i % 5 == 0:
            q = p
        X, Y = shared_pair(int(rng.integers(2**31)), n, p, q, int(rng.integers(1, 12)), float(rng.uniform(0.0, 10.0)))
        yield f"{i}: n={n} p={p} q={q}", X, Y


@pytest.mark.parametrize("activations", OPTIONS)
def test_random_pairs(activations):
    m = repalign.measure(OPTIONS[activations])
    differences = {what: abs(m(X, Y) - ref.pwcca_score(X, Y, activations)) for what, X, Y in random_pairs()}
    worst = max(differences, key=differences.get)
    print(f"{activations}: max |repalign - reference| over 50 random pairs {differences[worst]:.3g} ({worst})")
    assert differences[worst] <= ATOL, worst


def _with_largest_entry_positive(rows):
    largest = rows[np.arange(rows.shape[0]), np.argmax(np.abs(rows), axis=1)]
    return rows * np.sign(largest)[:, None]


@pytest.mark.parametrize("activations", OPTIONS)
def test_raw_depends_on_the_singular_vector_signs_the_centred_option_does_not(activations):
    """Why ``raw`` takes numpy's signs: the reference code's value on uncentred data changes
    when one singular vector is negated, and no sign rule stands in for LAPACK's choice
    (sklearn's svd_flip, largest entry positive, which repalign used before, changes the value
    on 40 of the 50 random pairs with the numpy this was written with), while the centred option
    does not depend on signs."""
    X, Y = shared_pair(*PAIRS["p<q"])
    if activations == "centred":
        X, Y = X - X.mean(axis=0), Y - Y.mean(axis=0)
    coefficients, rho, acts = ref.pwcca_coefficients(X, Y)
    flipped = coefficients.copy()
    flipped[0] *= -1
    change = abs(ref.pwcca_from_coefficients(flipped, rho, acts) - ref.pwcca_from_coefficients(coefficients, rho, acts))
    if activations == "centred":
        assert change < 1e-12
    else:
        assert change > 1e-4
        off = 0
        for _, X, Y in random_pairs():
            coefficients, rho, acts = ref.pwcca_coefficients(X, Y)
            svd_flip = ref.pwcca_from_coefficients(_with_largest_entry_positive(coefficients), rho, acts)
            expected = ref.pwcca_from_coefficients(coefficients, rho, acts)
            off += abs(svd_flip - expected) > 1e-6
        print(f"svd_flip's signs change the value on {off} of 50 random pairs")
        assert off > 0


@pytest.mark.parametrize("activations", OPTIONS)
@pytest.mark.parametrize("units", [(3, 4), (4, 3), (3, 3)])
def test_gradcheck(activations, units):
    g = torch.Generator().manual_seed(sum(units))
    x = (torch.randn(12, units[0], dtype=torch.float64, generator=g) + 2.0).requires_grad_()
    y = (torch.randn(12, units[1], dtype=torch.float64, generator=g) - 1.0).requires_grad_()
    m = repalign.measure(OPTIONS[activations])
    assert torch.autograd.gradcheck(lambda a, b: m(a, b), (x, y), eps=1e-6, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("activations", OPTIONS)
def test_gradient_finite_for_whitened_units_and_identical_inputs(activations):
    """Whitened units give R_x with equal singular values, Y = X equal canonical correlations:
    neither may give a NaN gradient."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(20, 3, dtype=torch.float64, generator=g)
    x = 3.0 * torch.linalg.qr(x - x.mean(dim=0))[0] + 1.0
    y = torch.randn(20, 5, dtype=torch.float64, generator=g)
    m = repalign.measure(OPTIONS[activations])
    for other in (y, x):
        a, b = x.clone().requires_grad_(), other.clone().requires_grad_()
        m(a, b).backward()
        assert torch.isfinite(a.grad).all() and torch.isfinite(b.grad).all()
    # and the gradient at the whitened input is the right one
    assert torch.autograd.gradcheck(lambda a: m(a, y), (x.clone().requires_grad_(),), eps=1e-6, atol=1e-6)


def _transforms(rng, data, kind):
    if kind == "rotation":
        return data @ random_orthogonal(data.shape[1], rng)
    if kind == "isotropic_scale":
        return 3.7 * data
    if kind == "translation":
        return data + rng.normal(scale=5.0, size=data.shape[1])
    if kind == "permutation":
        return data[:, rng.permutation(data.shape[1])]
    raise AssertionError(kind)


@pytest.mark.parametrize("activations", OPTIONS)
@pytest.mark.parametrize("pair", ["p<q", "p>q"])
def test_invariances(activations, pair):
    X, Y = shared_pair(*PAIRS[pair])
    m = repalign.measure(OPTIONS[activations])
    base = m(X, Y)
    rng = np.random.default_rng(12)
    fewer_is_x = X.shape[1] <= Y.shape[1]

    def changed(side, kind):
        if side == "X":
            return m(_transforms(rng, X, kind), Y)
        return m(X, _transforms(rng, Y, kind))

    more, fewer = ("Y", "X") if fewer_is_x else ("X", "Y")
    if activations == "centred":
        # the input with more units enters only through its canonical correlations
        for kind in ("rotation", "isotropic_scale", "translation", "permutation"):
            assert changed(more, kind) == pytest.approx(base, abs=1e-12), (more, kind)
    else:
        # ... and, in the reference code, through the signs LAPACK gives the singular vectors of
        # a matrix that a rotation or permutation of its units changes (here, for p > q, it does):
        # those values are the reference code's, not the untransformed one
        for kind in ("isotropic_scale", "translation"):
            assert changed(more, kind) == pytest.approx(base, abs=1e-12), (more, kind)
        for kind in ("rotation", "permutation"):
            Xt, Yt = (_transforms(rng, X, kind), Y) if more == "X" else (X, _transforms(rng, Y, kind))
            _assert_close(m(Xt, Yt), ref.pwcca_score(Xt, Yt, "raw"), f"{more} {kind}")
    assert changed(fewer, "isotropic_scale") == pytest.approx(base, abs=1e-12)
    # the weights are sums over the units of the input with fewer units: not rotation invariant
    assert abs(changed(fewer, "rotation") - base) > 1e-6
    if activations == "centred":
        assert changed(fewer, "translation") == pytest.approx(base, abs=1e-12)
        assert changed(fewer, "permutation") == pytest.approx(base, abs=1e-12)
    else:  # the means added to the directions: neither a shift nor a reordering of the units is neutral
        assert abs(changed(fewer, "translation") - base) > 1e-6
        assert abs(changed(fewer, "permutation") - base) > 1e-6


def test_names_and_metadata():
    default, raw = repalign.measure("pwcca"), repalign.measure("pwcca", activations="raw")
    assert default.name == "pwcca-score" == repalign.measure("pwcca-activations=centred-score").name
    assert raw.name == "pwcca-activations=raw-score"
    assert repalign.measure(raw.name) == raw
    for side in ("X", "Y"):
        assert "translation" in default.invariances[side] and "permutation" in default.invariances[side]
        assert raw.invariances[side] == frozenset({"isotropic_scale"})
    assert not default.symmetric and not raw.symmetric
    assert default.differentiable and raw.differentiable
    assert "svcca" in default.reference
    with pytest.raises(ValueError, match="must be one of"):
        repalign.measure("pwcca", activations="uncentred")


@pytest.mark.parametrize("activations", OPTIONS)
def test_refuses_more_units_than_samples_and_dependent_units(activations):
    m = repalign.measure(OPTIONS[activations])
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="more samples than units"):
        m(rng.normal(size=(6, 8)), rng.normal(size=(6, 3)))
    X = rng.normal(size=(30, 4))
    with pytest.raises(ValueError, match="linearly dependent"):
        m(np.column_stack([X, X[:, 0] + X[:, 1]]), rng.normal(size=(30, 6)))


def test_warns_when_the_canonical_directions_are_not_unique():
    """p + q > n − 1: the centred inputs share directions (correlations equal to 1) whose basis the SVD
    chooses arbitrarily, and the weights depend on it, in the reference code as here."""
    import warnings

    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(39, 17)), rng.normal(size=(39, 26))
    qx = np.linalg.qr(x - x.mean(0))[0]
    qy = np.linalg.qr(y - y.mean(0))[0]
    ones = int(np.sum(np.linalg.svd(qx.T @ qy, compute_uv=False) > 1 - 1e-9))
    assert ones == 17 + 26 - 38  # independent count of the shared directions
    with pytest.warns(RuntimeWarning, match=rf"pwcca: 17 \+ 26 units exceed 38 = samples − 1, so {ones} canonical"):
        repalign.measure("pwcca")(x, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        repalign.measure("pwcca")(rng.normal(size=(39, 17)), rng.normal(size=(39, 21)))  # 38 = n − 1: unique


def test_the_warning_points_at_the_users_line_on_every_call_path():
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(39, 17)), rng.normal(size=(39, 26))
    m = repalign.measure("pwcca")
    for call in (lambda: m(x, y), lambda: m.bind(x)(y), lambda: repalign.measure("pwcca")(x, y)):
        with pytest.warns(RuntimeWarning, match="pwcca: 17 \\+ 26") as caught:
            call()
        assert caught[0].filename == __file__


def test_why_it_warns_the_order_of_the_other_inputs_units_changes_the_value_only_when_degenerate():
    """Weights come from X; reordering Y's units leaves the measure's definition unchanged, so the value
    must not move, and does not when the directions are unique. When they are not, it moves."""
    import warnings

    rng = np.random.default_rng(4)
    m = repalign.measure("pwcca")
    for q, unique in ((20, True), (30, False)):  # 17 + q against n − 1 = 38
        x, y = rng.normal(size=(39, 17)), rng.normal(size=(39, q))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            values = [m(x, y[:, rng.permutation(q)]) for _ in range(4)]
        spread = max(values) - min(values)
        assert (spread < 1e-12) if unique else (spread > 1e-6), (q, spread)

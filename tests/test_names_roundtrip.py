"""Every canonical name reads back as the measure it names (names are the keys of stored results).

For every family, output and random valid parameter values (any finite float within the bounds,
tiny and huge magnitudes, negative zero, negative numbers where allowed, every choice, nested and
alternative parameters), ``repalign.measure(m.name)`` must give back ``m``: same name, same params.
"""

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import repalign
from repalign.measures import FAMILIES
from repalign.registry import ALIASES

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# magnitudes st.floats reaches only rarely, and the spellings that broke the grammar
SPECIAL_FLOATS = (0.0, -0.0, 5e-324, 2.2250738585072014e-308, 1e-300, 1e-12, 1e-08, 1e-05, 0.1, 1.0, 100.0,
                  1e16, 1.5e300, 1.7976931348623157e308, -1e-08, -1.0, -3.5e20)


def _in_bounds(parameter, value) -> bool:
    above = parameter.low is None or (value > parameter.low if parameter.positive else value >= parameter.low)
    return above and (parameter.high is None or value <= parameter.high)


def _floats(parameter):
    finite = st.floats(min_value=parameter.low, max_value=parameter.high, allow_nan=False, allow_infinity=False,
                       exclude_min=parameter.positive and parameter.low is not None)
    special = [v for v in SPECIAL_FLOATS if _in_bounds(parameter, v)]
    return st.one_of(finite, st.sampled_from(special)) if special else finite


def _ints(parameter):
    low = parameter.low if parameter.low is not None else -(2**70)
    high = parameter.high if parameter.high is not None else 2**70
    return st.one_of(st.integers(int(low), int(high)), st.integers(int(low), int(low) + 20))


def _values(parameter):
    if parameter.kind == "choice":
        return st.sampled_from(parameter.choices)
    if parameter.kind == "float":
        return _floats(parameter)
    if parameter.kind == "int":
        return _ints(parameter)
    if parameter.kind == "float_or_median":
        return st.one_of(st.just("median"), _floats(parameter))
    raise AssertionError(parameter.kind)


def _relevant(parameter, effective: dict) -> bool:
    """The registry's rule: a parameter restricted to some values of another applies only when
    that one (given or defaulted, if it applies itself) has one of them."""
    if parameter.relevant is None:
        return True
    other, values = parameter.relevant
    if values == "any":
        return effective.get(other) is not None
    return effective.get(other) in values


@st.composite
def measure_specs(draw, family_name):
    """(name of family and output, keyword parameters) of a valid measure of that family."""
    family = FAMILIES[family_name]
    output = draw(st.sampled_from(family.outputs))
    params, effective = {}, {}
    if family.supports_cv and draw(st.booleans()):
        params["cv"] = effective["cv"] = draw(st.one_of(st.integers(2, 12), st.integers(2, 10**6)))
    replacing_of = {replaced: replacing for replacing, replaced in family.alternatives}
    for parameter in family.parameters:
        if not _relevant(parameter, effective):
            continue
        if parameter.name in replacing_of and replacing_of[parameter.name] in params:
            continue  # svcca: dim was given, var does not apply
        if parameter.required or draw(st.booleans()):
            params[parameter.name] = draw(_values(parameter))
        effective[parameter.name] = params.get(parameter.name, parameter.default)
    for replacing, replaced in family.alternatives:  # the replacing one comes after: keep one of the two
        if replacing in params and replaced in params:
            del params[draw(st.sampled_from([replacing, replaced]))]
    return f"{family_name}-{output}", params


def _assert_round_trip(m):
    again = repalign.measure(m.name)
    assert again.name == m.name
    assert again.params == m.params, (m.name, again.params, m.params)
    assert again == m
    assert again.output == m.output and again.family == m.family


@pytest.mark.parametrize("family_name", list(FAMILIES))
@SETTINGS
@given(data=st.data())
def test_every_canonical_name_round_trips(family_name, data):
    name, params = data.draw(measure_specs(family_name), label="measure")
    m = repalign.measure(name, **params)
    _assert_round_trip(m)
    # and the keyword values were kept exactly (-0.0 as 0.0)
    for key, value in params.items():
        if isinstance(value, float):
            assert m.params[key] == value
            assert math.copysign(1.0, m.params[key]) == 1.0 or value != 0.0


@pytest.mark.parametrize("name", repalign.catalogue())
def test_every_catalogue_entry_round_trips(name):
    m = repalign.measure(name)
    assert m.name == name
    _assert_round_trip(m)


@pytest.mark.parametrize("alias", list(ALIASES))
def test_every_alias_round_trips(alias):
    required = {p.name: 0.5 for p in FAMILIES[ALIASES[alias].split("-")[0]].parameters if p.required}
    m = repalign.measure(alias, **required)
    _assert_round_trip(m)
    if not required:
        assert m.name == ALIASES[alias]


@pytest.mark.parametrize(
    "name, kwargs, canonical",
    [
        ("ridge-cv", {"lambda": 1e-8}, "ridge-lambda=(1e-08)-r2-cv=5folds"),
        ("ridge-cv", {"lambda": 100.0}, "ridge-lambda=100-r2-cv=5folds"),
        ("ridge-cv", {"lambda": -0.0}, "ridge-lambda=0-r2-cv=5folds"),
        ("ridge-cv", {"lambda": 1e300}, "ridge-lambda=1e+300-r2-cv=5folds"),
        ("ridge-cv", {"split": "shuffle", "seed": -3}, "ridge-lambda=100-split=shuffle-seed=(-3)-r2-cv=5folds"),
        ("cka", {"kernel": "rbf", "sigma": 1e-5}, "cka-kernel=(rbf-sigma=(1e-05))-hsic=gretton-score"),
        ("cka", {"kernel": "rbf", "sigma_factor": 1e-7}, "cka-kernel=(rbf-sigma=median-sigma_factor=(1e-07))-hsic=gretton-score"),
        ("soft_matching", {"solver": "sinkhorn", "epsilon": 2.5e-3}, "soft_matching-solver=(sinkhorn-epsilon=0.0025)-score"),
        ("shape_metric", {"alpha": 5e-324}, "shape_metric-alpha=(5e-324)-distance=angular"),
        ("partial_soft_matching", {"mass": 1e-10}, "partial_soft_matching-mass=(1e-10)-score"),
    ],
)
def test_values_containing_a_dash_are_parenthesized(name, kwargs, canonical):
    m = repalign.measure(name, **kwargs)
    assert m.name == canonical
    _assert_round_trip(m)


@pytest.mark.parametrize(
    "spelling, canonical",
    [
        ("ridge-lambda=(1e-08)-r2", "ridge-lambda=(1e-08)-r2"),
        ("ridge-lambda=((1e-08))-r2", "ridge-lambda=(1e-08)-r2"),
        ("ridge-lambda=(100)-r2", "ridge-lambda=100-r2"),
        ("ridge-lambda=(-0.0)-r2", "ridge-lambda=0-r2"),
        ("ridge-lambda=0.00000001-r2", "ridge-lambda=(1e-08)-r2"),
        ("cka-kernel=(rbf-sigma=(1e-05))-hsic=gretton-score", "cka-kernel=(rbf-sigma=(1e-05))-hsic=gretton-score"),
        ("cka-kernel=((rbf)-sigma=(0.5))-hsic=song-score", "cka-kernel=(rbf-sigma=0.5)-hsic=song-score"),
        ("cka-kernel=(rbf-sigma=1.0)-hsic=gretton-score", "cka-kernel=(rbf-sigma=1)-hsic=gretton-score"),
    ],
)
def test_parentheses_are_stripped_at_every_level(spelling, canonical):
    assert repalign.measure(spelling).name == canonical

"""Names, aliases, keyword parameters, the catalogue and its metadata."""

import math

import pytest

import repalign
from repalign.registry import ALIASES

SPEC_ALIASES = {
    "cka": "cka-kernel=linear-hsic=gretton-score",
    "cka-debiased": "cka-kernel=linear-hsic=song-score",
    "angular-cka": "cka-kernel=linear-hsic=gretton-angular_score",
    "nbs": "nbs-score",
    "procrustes": "procrustes-distance=angular",
    "angular-procrustes": "procrustes-angular_score",
    "cca": "cca-score",
    "svcca": "svcca-var=0.99-score",
    "pwcca": "pwcca-score",
    "linreg": "linear_regression-r2",
    "ridge-cv": "ridge-lambda=100-r2-cv=5folds",
    "rsa": "rsa-rdm=correlation-compare=spearman",
    # the spec names these three aliases without their targets; repalign's choice:
    "soft-matching": "soft_matching-score",
    "one-to-one-matching": "assignment-score",
    "partial-soft-matching": "partial_soft_matching-score",  # the transported mass must be given: mass=s
}


@pytest.mark.parametrize("alias, canonical", SPEC_ALIASES.items())
def test_spec_aliases_resolve_to_exact_canonical_names(alias, canonical):
    if alias == "partial-soft-matching":
        assert repalign.measure(alias, mass=0.6).name == "partial_soft_matching-mass=0.6-score"
        return
    assert repalign.measure(alias).name == canonical
    assert repalign.measure(canonical).name == canonical


def test_aliases_function_matches_spec():
    assert repalign.aliases() == SPEC_ALIASES == ALIASES


def test_catalogue_is_sorted_canonical_and_round_trips():
    names = repalign.catalogue()
    assert names == sorted(names)
    assert len(names) == len(set(names))
    for name in names:
        assert repalign.measure(name).name == name


def test_wildcard_selection():
    cka = repalign.catalogue("cka-*")
    assert cka and all(n.startswith("cka-") for n in cka)
    assert "cka-kernel=linear-hsic=song-score" in cka
    assert repalign.catalogue("procrustes-distance=*") == [
        "procrustes-distance=angular", "procrustes-distance=euclidean", "procrustes-distance=squared_euclidean"
    ]
    assert repalign.catalogue("no-such-*") == []


@pytest.mark.parametrize(
    "call, canonical",
    [
        (("cka",), {"hsic": "song"}, ),
        (("cka-hsic=song",), {}),
        (("cka-kernel=linear-hsic=song-score",), {}),
    ],
)
def test_keyword_and_in_name_parameters_are_equivalent(call, canonical):
    assert repalign.measure(*call, **canonical).name == "cka-kernel=linear-hsic=song-score"


def test_nested_kernel_parameters():
    by_name = repalign.measure("cka-kernel=(rbf-sigma=1.0)-hsic=gretton-score")
    by_keyword = repalign.measure("cka", kernel="rbf", sigma=1.0)
    assert by_name.name == by_keyword.name == "cka-kernel=(rbf-sigma=1)-hsic=gretton-score"
    median = repalign.measure("cka", kernel="rbf", sigma="median", sigma_factor=2)
    assert median.name == "cka-kernel=(rbf-sigma=median-sigma_factor=2)-hsic=gretton-score"
    assert median.needs_n_by_n and not repalign.measure("cka").needs_n_by_n


def test_regression_names():
    assert repalign.measure("ridge-cv", lam=10).name == "ridge-lambda=10-r2-cv=5folds"
    assert repalign.measure("ridge", **{"lambda": 10}, cv=3).name == "ridge-lambda=10-r2-cv=3folds"
    named = repalign.measure("ridge-lambda=100-split=samples-aggregate=per_unit-direction=y_from_x-r2-cv=5folds")
    assert named.params["split"] == "samples" and named.params["direction"] == "y_from_x"
    assert repalign.measure("ridge-cv", split="shuffle", seed=4).name == \
        "ridge-lambda=100-split=shuffle-seed=4-r2-cv=5folds"
    assert repalign.measure("linreg", cv=5).name == "linear_regression-r2-cv=5folds"


def test_equivalent_spellings_share_one_canonical_name():
    assert repalign.measure("procrustes-score").name == "nbs-score"
    assert repalign.measure("rsa-rdm=euclidean-compare=pearson-score").name == "rsa-rdm=euclidean-compare=pearson"
    assert repalign.measure("svcca", dim=5).name == "svcca-dim=5-score"
    assert repalign.measure("shape_metric", alpha=1).name == "shape_metric-alpha=1-distance=angular"


@pytest.mark.parametrize(
    "name, kwargs, fragment",
    [
        ("ckaa", {}, "closest: cka"),
        ("procrustes-distance=angualr", {}, "no output"),
        ("cka", {"hsci": "song"}, "unknown parameter 'hsci'"),
        ("cka", {"hsic": "biased"}, "must be one of"),
        ("cka", {"sigma": 1.0}, "applies only when kernel is rbf"),
        ("cka", {"kernel": "rbf", "sigma": 0}, "parameter 'sigma' must be > 0, got 0"),  # a zero-width kernel
        ("cka-kernel=(rbf-sigma=median-sigma_factor=0)-hsic=gretton-score", {}, "'sigma_factor' must be > 0"),
        ("nbs", {"cv": 5}, "no cross-validated version"),
        ("ridge-cv", {"cv": 1}, "must be >= 2"),
        ("ridge", {"lam": -1}, "must be >= 0"),
        ("ridge", {"seed": 3}, "applies only when split is shuffle"),
        ("cka-score-distance=angular", {}, "names two outputs"),
        ("cka-hsic=song", {"hsic": "lange"}, "given twice"),
        ("svcca", {"var": 0.9, "dim": 3}, "not both"),
        ("svcca-dim=5folds-score", {}, "must be an integer"),
        ("shape_metric", {"alpha": 1.5}, "must be <= 1"),
        ("cka-bogus", {}, "unknown token 'bogus'"),
        ("ridge-cv", {"lam": float("nan")}, "parameter 'lambda' must be a finite number, got nan"),
        ("ridge-cv", {"lam": float("inf")}, "parameter 'lambda' must be a finite number, got inf"),
        ("shape_metric", {"alpha": float("nan")}, "parameter 'alpha' must be a finite number"),  # NaN passed [0, 1]
        ("cka", {"kernel": "rbf", "sigma": -math.inf}, "parameter 'sigma' must be a finite number"),
        ("ridge-cv", {"split": "shuffle", "seed": math.nan}, "parameter 'seed' must be a finite number"),
        ("ridge-cv", {"lam": 10**400}, "parameter 'lambda' must be a finite number"),
        ("ridge-lambda=nan-r2", {}, "parameter 'lambda' must be a finite number, got 'nan'"),
        ("ridge-lambda=1e-08-r2", {}, "goes in parentheses: lambda=(1e-08)"),
    ],
)
def test_unknown_names_and_parameters_raise_with_guidance(name, kwargs, fragment):
    with pytest.raises(ValueError) as info:
        repalign.measure(name, **kwargs)
    assert fragment in str(info.value)


@pytest.mark.parametrize("name", repalign.catalogue())
def test_metadata_is_complete_and_consistent(name):
    m = repalign.measure(name)
    assert m.kind in ("score", "distance")
    assert m.kind in name or (m.kind == "score" and (name.endswith("r2") or "r2-cv" in name or name.startswith("rsa")))
    low, high = m.range
    assert low < high
    if m.kind == "distance":
        assert low == 0.0
    assert set(m.invariances) == {"X", "Y"}
    vocabulary = {"permutation", "rotation", "isotropic_scale", "translation", "invertible_linear"}
    assert m.invariances["X"] <= vocabulary and m.invariances["Y"] <= vocabulary
    if m.symmetric:
        assert m.invariances["X"] == m.invariances["Y"]
    assert isinstance(m.differentiable, bool) and m.reference
    assert m.needs_n_by_n == (name.startswith("rsa") or "rbf" in name)
    assert not (m.is_metric and m.kind != "distance")
    assert math.isfinite(low) or low == -math.inf


def test_import_loads_only_the_core():
    import subprocess
    import sys

    code = (
        "import sys, repalign; "
        "print(sorted(m for m in ('typer', 'xarray', 'pandas', 'scipy', 'matplotlib', 'sklearn', 'ot') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_analysis_modules_load_on_first_access():
    import subprocess
    import sys

    code = (
        "import sys, repalign; before = 'repalign.matching' in sys.modules; "
        "m = repalign.matching.soft_matching; print(before, 'repalign.matching' in sys.modules, 'ot' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "True", "False"]  # POT itself waits for the first exact transport


def _suggestions(message: str) -> list[str]:
    assert "; closest: " in message, message
    return message.split("; closest: ", 1)[1].split(", ")


@pytest.mark.parametrize(
    "name, kwargs, first",
    [
        ("ckaa", {}, "cka"),  # was "closest: cka, cka, cca, cca": family and alias of the same spelling
        ("CKA", {}, "cka"),  # case is ignored for suggestions
        ("Pwcca", {}, "pwcca"),
        ("CKA-kernel=linear-hsic=gretton-score", {}, "cka-kernel=linear-hsic=gretton-score"),
        ("cka", {"HSIC": "song"}, "hsic"),  # unknown parameter
        ("ridge-cv", {"LAMBDA": 1.0}, "lambda"),
        ("cka-Score", {}, "score"),  # unknown output token
        ("cka-scroe", {}, "score"),
        ("procrustes-distance=angualr", {}, "distance=angular"),  # unknown distance output
        ("procrustes-distance=Angular", {}, "distance=angular"),
    ],
)
def test_suggestions_are_distinct_case_insensitive_and_at_most_five(name, kwargs, first):
    with pytest.raises(ValueError) as info:
        repalign.measure(name, **kwargs)
    suggestions = _suggestions(str(info.value))
    assert suggestions[0] == first
    assert len(suggestions) == len(set(suggestions)) <= 5


def test_upper_case_names_are_refused_not_accepted():
    for name in ("CKA", "Cka-score", "PWCCA"):
        with pytest.raises(ValueError, match="unknown measure"):
            repalign.measure(name)
    with pytest.raises(ValueError, match="unknown parameter 'HSIC'"):
        repalign.measure("cka", HSIC="song")

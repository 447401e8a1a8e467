"""The library on a real recording: 141 M1 units of a reaching monkey (Hatsopoulos et al. 2007).

Read from ../shared/data when present (never copied into the repository); skipped otherwise.
The model side is the recording's own condition-average baseline and a random projection of
it, so the values are mid-range and the data's real PC spectrum drives every computation.
"""

from pathlib import Path

import numpy as np
import pytest
import reference as ref

import repalign

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "hatsopoulos2007_m1.npz"
pytestmark = pytest.mark.skipif(not DATA.exists(), reason=f"real data not found at {DATA}")


@pytest.fixture(scope="module")
def recording():
    with np.load(DATA, allow_pickle=False) as archive:
        activity = archive["activity"]  # (time, condition, unit)
    rng = np.random.default_rng(0)
    # the seed paper's condition-average baseline, plus noise, seen through 60 mixed "model" units
    condition_average = np.broadcast_to(activity.mean(axis=1, keepdims=True), activity.shape)
    model = (0.5 * activity + condition_average + rng.normal(scale=2.0, size=activity.shape)) @ rng.normal(size=(141, 60))
    return activity, model


CASES = [
    ("cka", lambda x, y: ref.cka_linear(x, y, "gretton")),
    ("cka-debiased", lambda x, y: ref.cka_linear(x, y, "song")),
    ("nbs", ref.nbs),
    ("angular-procrustes", ref.procrustes_angular_score),
    ("procrustes-distance=euclidean", ref.procrustes_euclidean_distance),
    ("cca", ref.cca_score),
    ("pwcca", ref.pwcca_score),
    ("linreg", ref.linear_regression_r2),
    ("rsa-rdm=euclidean-compare=pearson", lambda x, y: ref.rsa_score(x, y, "euclidean", "pearson")),
]


@pytest.mark.parametrize("name, formula", CASES, ids=[c[0] for c in CASES])
def test_values_on_real_data_agree_with_reference_formulas(recording, name, formula):
    activity, model = recording
    x, y = activity.reshape(-1, 141), model.reshape(-1, 60)
    assert repalign.measure(name)(activity, model) == pytest.approx(formula(x, y), rel=1e-8)


def test_ridge_cv_holds_out_reach_directions_on_real_data(recording):
    activity, model = recording
    value = repalign.measure("ridge-cv", cv=4)(activity, model)  # 8 reach directions, 2 per fold
    expected = ref.regression_score(activity, model, lam=100.0, cv=4, split="conditions")
    assert value == pytest.approx(expected, rel=1e-8)
    # holding out whole directions is harder than holding out time bins of seen directions
    assert value < repalign.measure("ridge-cv", cv=4, split="samples")(activity, model)


def test_real_recording_against_itself(recording):
    activity, _ = recording
    for name in ("cka", "nbs", "procrustes", "cca", "rsa"):
        m = repalign.measure(name)
        assert m(activity, activity.copy()) == pytest.approx(0.0 if m.kind == "distance" else 1.0, abs=1e-12)

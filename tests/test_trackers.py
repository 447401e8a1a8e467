"""repalign.trackers: PC capture R² and cross-validated decoding (seed paper, appendix B.2)."""

import numpy as np
import pandas as pd
import pytest
import torch

import repalign
from repalign.data import Dataset, mante_like
from repalign.trackers import Decoding, PCCapture, stratified_folds

VARIABLES = ("context", "choice", "motion_sign", "colour_sign")


pytestmark = pytest.mark.usefixtures("single_threaded")  # see conftest.py


def spectrum_data(seed=0, shape=(5, 12, 8)):
    """Reference with well separated PC variances, (time, condition, unit)."""
    rng = np.random.default_rng(seed)
    scales = 2.0 ** -np.arange(shape[-1])
    return rng.normal(size=shape) * scales + rng.normal(size=shape[-1])


def flat_centred(x):
    x = np.asarray(x, dtype=np.float64).reshape(-1, np.shape(x)[-1])
    return x - x.mean(axis=0)


def reference_r2(X, Y, pcs, ridge=0.0, fold_of=None, n_conditions=None):
    """The paper's formula, whole reference as target: X̂ = Ȳ B̂, R²_i = 1 − ‖(X̄ − X̂)v_i‖²/‖X̄v_i‖².

    OLS by numpy lstsq (minimum norm), ridge by the normal equations, CV by an explicit loop over folds.
    """
    x, y = flat_centred(X), flat_centred(Y)

    def fit(a, b):
        if ridge == 0:
            return np.linalg.lstsq(a, b, rcond=None)[0]
        return np.linalg.solve(a.T @ a + ridge * np.eye(a.shape[1]), a.T @ b)

    if fold_of is None:
        residual = x - y @ fit(y, x)
    else:
        fold_of_row = fold_of[np.arange(len(x)) % n_conditions]
        residual = np.empty_like(x)
        for f in np.unique(fold_of):
            tr, te = fold_of_row != f, fold_of_row == f
            mx, my = x[tr].mean(axis=0), y[tr].mean(axis=0)
            residual[te] = x[te] - mx - (y[te] - my) @ fit(y[tr] - my, x[tr] - mx)
    return 1 - ((residual @ pcs) ** 2).sum(axis=0) / ((x @ pcs) ** 2).sum(axis=0)


def batch(*arrays):
    return torch.as_tensor(np.stack(arrays))


def values(result):
    return np.stack([v.numpy() for v in result.values()], axis=-1)


# -- PCCapture ---------------------------------------------------------------------------------------------------


def test_pc_capture_of_the_reference_itself_is_one():
    X = spectrum_data()
    pc = PCCapture(X, n_pcs=8)
    rng = np.random.default_rng(1)
    rotated = X @ np.linalg.qr(rng.normal(size=(8, 8)))[0]
    wider = np.concatenate([X, rng.normal(size=(*X.shape[:-1], 5))], axis=-1)  # other unit count
    assert pc.columns == [f"pc{i}_r2" for i in range(1, 9)]
    for Y in (X, rotated, 3.0 * X + 7.0):
        np.testing.assert_allclose(values(pc(X, batch(Y))), 1.0, atol=1e-12)
    np.testing.assert_allclose(values(PCCapture(X, n_pcs=8)(X, batch(wider))), 1.0, atol=1e-12)


@pytest.mark.parametrize("k", range(5))
def test_removing_pc_k_removes_exactly_its_r2(k):
    X = spectrum_data()
    pc = PCCapture(X, n_pcs=5)
    v = pc.components[:, k]
    Y = X - np.einsum("tcu,u,w->tcw", X, v, v)  # Ȳ = X̄ (I − v vᵀ): numerically rank-deficient
    expected = np.ones(5)
    expected[k] = 0.0
    np.testing.assert_allclose(values(pc(X, batch(Y)))[0], expected, atol=1e-12)


def test_matches_the_paper_formula_with_the_whole_reference_as_target():
    X = spectrum_data()
    pc = PCCapture(X, n_pcs=6)
    rng = np.random.default_rng(2)
    Ys = [X[..., :3] + rng.normal(size=(5, 12, 3)), rng.normal(size=(5, 12, 20)), X[..., ::2] @ rng.normal(size=(4, 4))]
    for Y in Ys:
        got = values(pc(X, batch(Y)))[0]
        np.testing.assert_allclose(got, reference_r2(X, Y, pc.components), atol=1e-10)
    ridge = PCCapture(X, n_pcs=6, ridge=3.0)
    for Y in Ys:
        np.testing.assert_allclose(values(ridge(X, batch(Y)))[0], reference_r2(X, Y, ridge.components, ridge=3.0),
                                   atol=1e-10)


@pytest.mark.parametrize("ridge, units", [(0.0, 4), (2.0, 4), (0.0, 30), (0.0, 70), (2.0, 70)])
def test_cross_validated_matches_an_explicit_loop(ridge, units):
    X = spectrum_data()
    pc = PCCapture(X, n_pcs=5, ridge=ridge, cv=4, seed=3)
    assert sorted(np.bincount(pc.fold_of).tolist()) == [3, 3, 3, 3]  # 12 conditions in 4 folds
    rng = np.random.default_rng(4)
    Y = np.concatenate([X[..., :2], rng.normal(size=(5, 12, units - 2))], axis=-1)  # 70 units > 45 training rows
    got = values(pc(X, batch(Y)))[0]
    expected = reference_r2(X, Y, pc.components, ridge=ridge, fold_of=pc.fold_of, n_conditions=12)
    np.testing.assert_allclose(got, expected, atol=1e-9)
    if units == 4:
        assert got[0] > 0.9 and got[-1] < 0.5  # the leading PCs are in Y's first units, not the last ones


def test_ill_conditioned_and_wide_runs():
    X = spectrum_data()
    pc, cv = PCCapture(X, n_pcs=5), PCCapture(X, n_pcs=5, cv=4, seed=0)
    rng = np.random.default_rng(8)
    badly_scaled = (X[..., :4] + 0.1 * rng.normal(size=(5, 12, 4))) * [1.0, 1e-5, 1e3, 1e-7]  # condition ~1e10
    for tracker, kwargs in ((pc, {}), (cv, {"fold_of": cv.fold_of, "n_conditions": 12})):
        got = values(tracker(X, batch(badly_scaled)))[0]
        np.testing.assert_allclose(got, reference_r2(X, badly_scaled, tracker.components, **kwargs), atol=1e-8)
    wide = rng.normal(size=(5, 12, 100))  # more units than samples: Ȳ spans every centred vector
    np.testing.assert_allclose(values(pc(X, batch(wide))), 1.0, atol=1e-12)


def test_cross_validation_holds_out_whole_conditions():
    X = spectrum_data()
    pc = PCCapture(X, n_pcs=3, cv=3, seed=0)
    # a run that copies X on the training conditions of fold 0 and is noise elsewhere cannot predict fold 0
    other = PCCapture(X, n_pcs=3, cv=3, seed=1)
    assert not np.array_equal(pc.fold_of, other.fold_of)
    assert values(pc(X, batch(X)))[0] == pytest.approx(np.ones(3), abs=1e-10)  # exact linear map survives CV


def test_noise_with_few_units_captures_little():
    X = mante_like(n_units=60, n_time=3, seed=0).activity
    pc = PCCapture(X, n_pcs=10)
    noise = torch.randn(4, 3, 72, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    r2 = values(pc(X, noise))
    assert r2.max() < 0.1 and r2.mean() < 0.03  # E R² = units/samples = 3/216 for independent noise


def test_ridge_lowers_r2():
    X = spectrum_data()
    Y = X[..., :5] + np.random.default_rng(5).normal(size=(5, 12, 5)) * 0.1
    previous = values(PCCapture(X, n_pcs=6)(X, batch(Y)))[0]
    for lam in (0.1, 1.0, 10.0, 100.0):
        r2 = values(PCCapture(X, n_pcs=6, ridge=lam)(X, batch(Y)))[0]
        assert np.all(r2 <= previous + 1e-12) and np.any(r2 < previous - 1e-4)
        previous = r2


@pytest.mark.parametrize("kwargs", [{}, {"ridge": 1.0}, {"cv": 3}, {"cv": 3, "ridge": 1.0}])
def test_batch_equals_single_calls(kwargs):
    X = spectrum_data()
    pc = PCCapture(X, n_pcs=4, **kwargs)
    rng = np.random.default_rng(6)
    runs = [X[..., ::-1], X - np.einsum("tcu,u,w->tcw", X, pc.components[:, 1], pc.components[:, 1]),
            rng.normal(size=X.shape)]  # the second is rank-deficient (the SVD route inside a batch)
    together = values(pc(X, batch(*runs)))
    singles = np.concatenate([values(pc(X, batch(Y))) for Y in runs])
    np.testing.assert_allclose(together, singles, atol=1e-12)


def test_float32_runs_and_torch_reference():
    X = spectrum_data()
    pc = PCCapture(torch.as_tensor(X), n_pcs=4)
    Y = torch.as_tensor(X[..., :6] + np.random.default_rng(7).normal(size=(5, 12, 6)) * 0.3)
    out64 = pc(X, Y[None])
    out32 = pc(torch.as_tensor(X, dtype=torch.float32), Y[None].float())
    assert all(v.dtype == torch.float64 for v in out32.values())
    np.testing.assert_allclose(values(out32), values(out64), atol=1e-5)


def test_reference_with_few_pcs_and_dataset_input():
    ds = Dataset(np.random.default_rng(0).normal(size=(4, 6, 2)), conditions={"c": list(range(6))})
    pc = PCCapture(ds, n_pcs=10)
    assert pc.n_pcs == 2 and pc.columns == ["pc1_r2", "pc2_r2"]
    assert pc.explained_variance_ratio.sum() == pytest.approx(1.0)


@pytest.mark.parametrize("kwargs, message", [
    ({"n_pcs": 0}, "n_pcs: expected an integer >= 1"),
    ({"ridge": -1.0}, "ridge: expected a non-negative number"),
    ({"cv": 1}, "cv: expected an integer >= 2"),
    ({"cv": 13}, r"cv: expected at most the number of conditions \(12\)"),
    ({"seed": -1}, "seed: expected a non-negative integer"),
])
def test_pc_capture_argument_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        PCCapture(spectrum_data(), **kwargs)


def test_pc_capture_call_errors():
    X = spectrum_data()
    pc = PCCapture(X, n_pcs=2)
    with pytest.raises(ValueError, match="differs from the reference this PCCapture was built with"):
        pc(X + 1.0, batch(X))
    with pytest.raises(ValueError, match="different .time, condition. layouts"):
        pc(X, batch(X.reshape(12, 5, 8)))
    with pytest.raises(ValueError, match="same number of samples"):
        pc(X, batch(X[:4]))
    with pytest.raises(ValueError, match="Y: expected a .batch"):
        pc(X, X[0])
    with pytest.raises(ValueError, match="reference: every unit is constant"):
        PCCapture(np.ones((10, 3)))


# -- Decoding ----------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small():
    return mante_like(n_units=300, n_time=4, seed=1)


def sklearn_accuracy(activity, labels, fold_of, l2):
    """cross_val_score-style loop: StandardScaler + LogisticRegression(C=1/l2) per time bin and fold."""
    pytest.importorskip("sklearn")
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    per_time = []
    for x in activity:
        folds = []
        for f in np.unique(fold_of):
            tr, te = fold_of != f, fold_of == f
            model = make_pipeline(StandardScaler(), LogisticRegression(C=1 / l2, tol=1e-8, max_iter=10_000))
            model.fit(x[tr], labels[tr])
            folds.append(np.mean(model.predict(x[te]) == labels[te]))
        per_time.append(np.mean(folds))
    return float(np.mean(per_time))


@pytest.mark.parametrize("variable", ["choice", "motion"])
def test_newton_solution_matches_sklearn_decision_values(variable):
    pytest.importorskip("sklearn")
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    from repalign.trackers.logistic import newton_logistic as _newton_logistic

    ds = mante_like(n_units=30, n_time=2, seed=0)
    x = StandardScaler().fit_transform(ds.activity[1])
    labels = np.unique(ds.conditions[variable], return_inverse=True)[1]
    n_classes = labels.max() + 1
    model = LogisticRegression(C=1 / 0.5, tol=1e-12, max_iter=100_000).fit(x, labels)
    features = torch.tensor(np.c_[x, np.ones(72)])[None]
    theta = _newton_logistic(features, torch.tensor(labels)[None], torch.ones(1, 72, dtype=torch.float64),
                             n_classes, 0.5, 50, 1e-12)[0].numpy()
    ours, theirs = features[0].numpy() @ theta, model.decision_function(x)
    if n_classes == 2:
        np.testing.assert_allclose(ours[:, 0], theirs, atol=1e-4)
    else:  # multinomial logits are defined up to a common shift
        np.testing.assert_allclose(ours - ours.mean(1, keepdims=True), theirs - theirs.mean(1, keepdims=True),
                                   atol=1e-4)


def test_reference_decodes_context(mante):
    accuracy = Decoding(mante).reference_accuracy(mante)
    assert list(accuracy) == [f"decode_{v}" for v in VARIABLES]
    assert accuracy["decode_context"] > 0.8
    assert all(0.6 < a <= 1.0 for a in accuracy.values())


@pytest.mark.parametrize("case", ["reference", "noisy", "few_units", "low_rank"])
def test_agrees_with_sklearn(small, case):
    rng = np.random.default_rng(11)
    activity, table, variables, l2 = small.activity, small.conditions, VARIABLES, 1.0
    if case == "noisy":
        activity = activity + 2.0 * rng.normal(size=activity.shape)
        l2 = 0.3
    elif case == "few_units":  # fewer units than training conditions: the primal route; 6-class variables
        activity, variables = activity[..., :30], ("context", "motion", "colour")
    elif case == "low_rank":  # rank 10 < training conditions with many units (eigen fallback), a constant unit
        activity = (activity[..., :10] @ rng.normal(size=(10, 80)))
        activity[..., 5] = 1.5
    decoding = Decoding(table, variables=variables, l2=l2, seed=2)
    ours = decoding.reference_accuracy(activity)
    for v in variables:
        labels = np.unique(table[v].to_numpy(), return_inverse=True)[1]
        theirs = sklearn_accuracy(activity, labels, decoding.fold_of[v], l2)
        assert ours[f"decode_{v}"] == pytest.approx(theirs, abs=0.02), v


def test_shuffled_labels_decode_at_chance(small):
    shuffled = small.conditions.sample(frac=1.0, random_state=0).reset_index(drop=True)
    accuracy = Decoding(shuffled, seed=0).reference_accuracy(small)
    for name, value in accuracy.items():
        assert abs(value - 0.5) < 0.15, name


def test_seeds_reproducible_and_folds_stratified(small):
    first, again, other = Decoding(small, seed=4), Decoding(small, seed=4), Decoding(small, seed=5)
    assert first.reference_accuracy(small) == again.reference_accuracy(small)
    for v in VARIABLES:
        assert np.array_equal(first.fold_of[v], again.fold_of[v])
        assert not np.array_equal(first.fold_of[v], other.fold_of[v])
        labels = small.conditions[v].to_numpy()
        sizes = np.bincount(first.fold_of[v])
        assert sizes.max() - sizes.min() <= 1
        for c in np.unique(labels):
            per_fold = np.bincount(first.fold_of[v][labels == c], minlength=5)
            assert per_fold.max() - per_fold.min() <= 1


def test_decoding_batch_equals_singles(small):
    decoding = Decoding(small)
    generator = torch.Generator().manual_seed(3)
    runs = torch.tensor(small.activity) + 3.0 * torch.randn((3, *small.shape), generator=generator,
                                                              dtype=torch.float64)
    together = values(decoding(small.activity, runs))
    singles = np.concatenate([values(decoding(small.activity, runs[i:i + 1])) for i in range(3)])
    np.testing.assert_array_equal(together, singles)
    assert together[0] == pytest.approx(values(decoding(None, runs[:1].float()))[0], abs=0.02)


def test_trackers_in_optimize():
    ref = mante_like(n_units=40, n_time=3, seed=0)
    pc, decoding = PCCapture(ref, n_pcs=3), Decoding(ref, variables=("context", "choice"))
    result = repalign.optimize(ref.activity, "cka", max_steps=5, record_every=5, n_runs=2, trackers=[pc, decoding])
    table = result.trajectory
    assert list(table.columns) == ["run", "measure", "seed", "step", "value", "kind", "pc1_r2", "pc2_r2", "pc3_r2",
                                   "decode_context", "decode_choice"]
    assert table.step.tolist() == [0, 0, 5, 5]
    assert result.settings["trackers"] == [{"name": "pc_capture", "settings": pc.settings()},
                                           {"name": "decoding", "settings": decoding.settings()}]
    final = table[table.step == 5]
    Y = torch.as_tensor(result.Y)
    np.testing.assert_allclose(final[pc.columns].to_numpy(), values(pc(ref.activity, Y)), atol=1e-10)
    np.testing.assert_allclose(final[decoding.columns].to_numpy(), values(decoding(ref.activity, Y)))
    assert table[pc.columns + decoding.columns].stack().between(0, 1).all()


def test_table_forms():
    ds = mante_like(n_units=20, n_time=2, seed=0)
    as_mapping = {k: ds.conditions[k].tolist() for k in ds.conditions.columns}
    a = Decoding(ds, variables="choice").reference_accuracy(ds)
    b = Decoding(as_mapping, variables=["choice"]).reference_accuracy(ds.activity)
    c = Decoding(ds.conditions, variables=("choice",)).reference_accuracy(torch.tensor(ds.activity))
    assert a == b == c and list(a) == ["decode_choice"]


def test_stratified_folds_example_and_error():
    fold_of = stratified_folds(["a"] * 7 + ["b"] * 5, folds=5, seed=0)
    assert sorted(np.bincount(fold_of).tolist()) == [2, 2, 2, 3, 3]
    with pytest.raises(ValueError, match="folds: class 'b' has 4 condition"):
        stratified_folds(["a"] * 7 + ["b"] * 4, folds=5, seed=0)


def test_decoding_errors():
    ds = mante_like(n_units=20, n_time=2, seed=0)
    with pytest.raises(ValueError, match=r"variables: \['reward'\] not in the conditions table"):
        Decoding(ds, variables=("context", "reward"))
    with pytest.raises(ValueError, match="folds: class -1 has 36 condition.*fewer than folds=40.*'context'"):
        Decoding(ds, variables="context", folds=40)
    with pytest.raises(ValueError, match="variables: column 'same' has a single value"):
        Decoding({"same": [1] * 72}, variables="same")
    with pytest.raises(ValueError, match="l2: expected a positive number"):
        Decoding(ds, l2=0)
    with pytest.raises(ValueError, match="steps: expected an integer >= 1"):
        Decoding(ds, steps=0)
    with pytest.raises(ValueError, match="conditions: expected a Dataset, a pandas DataFrame"):
        Decoding([1, 2, 3])
    flat = Dataset(ds.activity.reshape(-1, 20), conditions=pd.concat([ds.conditions] * 2, ignore_index=True))
    with pytest.raises(ValueError, match=r"conditions: the Dataset's activity is 2D"):
        Decoding(flat)
    decoding = Decoding(ds)
    with pytest.raises(ValueError, match=r"Y: Decoding needs \(time, condition, unit\) activity"):
        decoding(None, torch.tensor(ds.activity.reshape(1, -1, 20)))
    with pytest.raises(ValueError, match="reference: Decoding needs"):
        decoding.reference_accuracy(ds.activity.reshape(-1, 20))
    with pytest.raises(ValueError, match="Y: has 36 conditions but the conditions table has 72 rows"):
        decoding(None, torch.tensor(ds.activity[None, :, :36]))
    with pytest.raises(RuntimeError, match="did not converge in 1 steps"):
        Decoding(ds, steps=1).reference_accuracy(ds)


def test_a_tracker_with_its_own_record_every_is_computed_at_its_multiples_and_nan_between():
    ds = mante_like(n_units=20, n_time=2, seed=0)
    common = dict(max_steps=12, lr=0.05, record_every=1, dtype="float64", progress=False, seed=0)

    def run(every):
        trackers = [PCCapture(ds, n_pcs=3), Decoding(ds, variables=("context", "choice"), record_every=every)]
        return repalign.optimize(ds, "cka", trackers=trackers, **common).table

    dense, sparse = run(1), run(5)
    assert np.array_equal(dense["value"], sparse["value"])  # trackers do not steer the runs
    decoded = sparse["decode_context"].notna()
    assert sparse.loc[decoded, "step"].tolist() == [0, 5, 10, 12]  # its multiples and the last step
    assert sparse["pc1_r2"].notna().all()  # the other tracker at every step
    for column in ("decode_context", "decode_choice", "pc2_r2"):
        np.testing.assert_array_equal(sparse.loc[decoded, column], dense.loc[decoded, column])
    # the thresholds read only the steps where each column was computed
    from repalign.analyses import decoding_thresholds

    reference = {"decode_context": 1.0, "decode_choice": 0.9}
    chance = {"decode_context": 0.5, "decode_choice": 0.5}
    expected = decoding_thresholds(dense[decoded.to_numpy()], reference, chance).table
    found = decoding_thresholds(sparse, reference, chance).table
    pd.testing.assert_frame_equal(found, expected)


def test_record_every_needs_the_names_of_the_columns_it_leaves_nan():
    ds = mante_like(n_units=10, n_time=2, seed=0)

    def tracker(reference, Y):
        return {"mean": Y.mean(dim=(1, 2, 3))}

    tracker.record_every = 3
    with pytest.raises(ValueError, match="record_every=3 needs an attribute columns"):
        repalign.optimize(ds, "cka", trackers=[tracker], max_steps=2)
    with pytest.raises(ValueError, match="record_every"):
        PCCapture(ds, record_every=0)


def test_a_resume_that_changes_a_user_trackers_record_every_is_refused(tmp_path):
    ds = mante_like(n_units=10, n_time=2, seed=0)

    class Mean:
        columns = ("mean",)

        def __init__(self, every):
            self.record_every = every

        def __call__(self, reference, Y):
            return {"mean": Y.mean(dim=(1, 2, 3))}

    path = tmp_path / "run.pt"
    repalign.optimize(ds, "cka", trackers=[Mean(2)], max_steps=4, checkpoint=path, checkpoint_every=2)
    with pytest.raises(ValueError, match=r"tracker 'Mean' record_every: checkpoint 2, now 3"):
        repalign.optimize(ds, "cka", trackers=[Mean(3)], max_steps=8, checkpoint=path, checkpoint_every=2)

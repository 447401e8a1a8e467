"""Joint optimization of several scores towards target values (seed paper, section 4.4, Fig. 6b,c).

The asymmetry of Fig. 6c is checked on mante_like; the recorded scores against the reference
formulas of tests/reference.py evaluated on the returned datasets; the loss against the
scores and targets in the same table; the batching against single-target runs.
"""

import numpy as np
import pytest
import reference as ref
import torch

import repalign
from repalign.data import mante_like
from repalign.joint import JointResult, joint_optimize, target_grid

pytestmark = pytest.mark.usefixtures("single_threaded")  # see conftest.py

PAIR = ("cka", "angular-procrustes")


def small_reference(seed=0, n=40):
    return np.random.default_rng(seed).normal(size=(n, 4)) * [3.0, 2.0, 1.0, 0.5]


@pytest.fixture(scope="module")
def mante_result(single_threaded):
    """The Fig. 6c experiment, scaled down to run in 15-30 s on one core.

    40 units and 5 time bins instead of 727 and 15 (the power-law spectrum, hence the shape of
    the region, is kept; the full-size run gives the same asymmetry with more margin), float32,
    a 6 x 6 grid of targets so that the corner target (CKA 1, angular Procrustes 0.4) exists.
    """
    ds = mante_like(n_units=40, n_time=5, seed=0)
    return joint_optimize(ds, PAIR, grid=6, max_steps=150, dtype=torch.float32, seed=0)


# ---- the asymmetry of Fig. 6c ------------------------------------------------------------------

@pytest.mark.slow
def test_high_angular_procrustes_implies_high_cka_but_not_the_converse(mante_result):
    """Done-when of issue 4: every reached point with angular Procrustes >= 0.9 has CKA >= 0.8,
    while some reached point has CKA >= 0.9 and angular Procrustes <= 0.5."""
    for points in (mante_result.trajectory, mante_result.final):
        high_ap = points[points["angular-procrustes"] >= 0.9]
        assert len(high_ap) >= 1
        assert (high_ap["cka"] >= 0.8).all(), high_ap[["target", "step", "cka", "angular-procrustes"]]
    every = mante_result.trajectory
    assert (every["angular-procrustes"] >= 0.9).sum() >= 5  # several recorded datasets, not one corner
    final = mante_result.final
    asymmetric = final[(final["cka"] >= 0.9) & (final["angular-procrustes"] <= 0.5)]
    assert len(asymmetric) >= 1, final[["target_cka", "target_angular-procrustes", "cka", "angular-procrustes"]]
    # the same statements through the result's own summary
    low, _, n = mante_result.conditional_range("cka", given="angular-procrustes", at_least=0.9)
    assert low >= 0.8 and n == (every["angular-procrustes"] >= 0.9).sum()
    low_ap, _, _ = mante_result.conditional_range("angular-procrustes", given="cka", at_least=0.9, points="final")
    assert low_ap <= 0.5


def test_region_is_the_binned_envelope_of_the_reached_points(mante_result):
    region = mante_result.region(bins=10)
    assert list(region.columns) == ["x_measure", "y_measure", "x_low", "x_high", "x_centre", "y_min", "y_max",
                                    "n_points"]
    table = mante_result.trajectory
    x, y = table["cka"].to_numpy(), table["angular-procrustes"].to_numpy()
    edges = np.linspace(min(0.0, x.min()), max(1.0, x.max()), 11)
    assert region.n_points.sum() == len(table)
    for row in region.itertuples():
        last = np.isclose(row.x_high, edges[-1])
        inside = (x >= row.x_low) & ((x <= row.x_high) if last else (x < row.x_high))
        assert inside.sum() == row.n_points
        assert row.y_min == y[inside].min() and row.y_max == y[inside].max()
    # the asymmetry in the region: at CKA >= 0.9 the allowed angular Procrustes range is wide
    top = region[region.x_low >= 0.9 - 1e-12]
    assert top.y_min.min() <= 0.5 and top.y_max.max() >= 0.9
    flipped = mante_result.region("angular-procrustes", "cka", bins=10)
    assert flipped[flipped.x_low >= 0.9 - 1e-12].y_min.min() >= 0.8
    final = mante_result.region(points="final", bins=5)
    assert final.n_points.sum() == len(mante_result.targets)


@pytest.mark.parametrize("kwargs, message", [
    ({"x": "nbs"}, "x: expected one of the measures"),
    ({"y": "cka"}, "y: expected a measure other than x"),
    ({"bins": 0}, "bins: expected an integer >= 1"),
    ({"points": "some"}, "points: expected one of"),
])
def test_region_errors_name_the_argument(mante_result, kwargs, message):
    with pytest.raises(ValueError, match=message):
        mante_result.region(**kwargs)


# ---- table -------------------------------------------------------------------------------------

def test_table_columns_rows_and_loss(mante_result):
    table = mante_result.trajectory
    assert list(table.columns) == ["target", "target_cka", "target_angular-procrustes", "seed", "step", "cka",
                                   "angular-procrustes", "loss"]
    n_targets = len(mante_result.targets)
    assert n_targets == 36 and np.array_equal(mante_result.targets, target_grid(2, 6))
    steps = list(range(0, 151, 10))
    assert table.groupby("target").step.apply(list).tolist() == [steps] * n_targets
    assert np.array_equal(table.seed.unique(), np.arange(n_targets))  # target k starts from seed + k
    expected = (table["cka"] - table["target_cka"]).abs() + \
        (table["angular-procrustes"] - table["target_angular-procrustes"]).abs()
    assert np.allclose(table["loss"], expected, rtol=0, atol=1e-6)  # the loss's own scores (float32 sums)
    final = mante_result.final
    assert final.target.tolist() == list(range(n_targets)) and (final.step == 150).all()
    assert mante_result.Y.shape == (n_targets, 5, 72, 40)
    assert isinstance(mante_result, JointResult) and mante_result.names == tuple(repalign.measure(m).name for m in PAIR)


def test_reaches_an_interior_target_and_the_table_matches_the_datasets():
    X = small_reference()
    result = joint_optimize(X, PAIR, targets=[[0.6, 0.5], [0.8, 0.7]], max_steps=150, record_every=50,
                            dtype="float64")
    final = result.final
    assert (final.loss < 0.02).all(), final
    for k in range(2):
        Y = result.Y[k]
        assert final.cka[k] == pytest.approx(ref.cka_linear(X, Y), abs=1e-10)
        assert final["angular-procrustes"][k] == pytest.approx(ref.procrustes_angular_score(X, Y), abs=1e-10)
    assert result.trajectory.step.unique().tolist() == [0, 50, 100, 150]


def test_same_seed_same_result_and_targets_run_independently():
    X = small_reference(1)
    targets = [[0.3, 0.2], [0.7, 0.6]]
    settings = dict(max_steps=30, dtype="float64")
    first = joint_optimize(X, PAIR, targets=targets, seed=5, **settings)
    again = joint_optimize(X, PAIR, targets=targets, seed=5, **settings)
    assert np.array_equal(first.Y, again.Y) and first.trajectory.equals(again.trajectory)
    other = joint_optimize(X, PAIR, targets=targets, seed=6, **settings)
    assert not np.allclose(other.Y, first.Y)
    alone = joint_optimize(X, PAIR, targets=targets[1], seed=6, **settings)  # target 1 of seed 5 alone
    assert np.allclose(alone.Y[0], first.Y[1], rtol=1e-9, atol=1e-9)


def test_dataset_three_measures_and_torch_reference():
    ds = mante_like(n_units=6, n_time=2, seed=1)
    result = joint_optimize(ds, ("cka", "angular-procrustes", repalign.measure("nbs")), targets=[[0.5, 0.5, 0.7]],
                            max_steps=5, record_every=5)
    assert result.measures == ("cka", "angular-procrustes", "nbs-score")
    assert "target_nbs-score" in result.trajectory.columns and result.Y.shape == (1, 2, 72, 6)
    assert target_grid(3, 3).shape == (27, 3)
    X = torch.tensor(small_reference(2), dtype=torch.float32)
    torch_result = joint_optimize(X, PAIR, targets=[0.5, 0.5], max_steps=3)
    assert torch_result.Y.dtype == np.float32


def test_checkpoint_resumes_and_refuses_other_targets(tmp_path):
    X = small_reference(3)
    path = tmp_path / "joint.pt"
    full = joint_optimize(X, PAIR, targets=[[0.5, 0.4]], max_steps=20, record_every=5)
    joint_optimize(X, PAIR, targets=[[0.5, 0.4]], max_steps=10, record_every=5, checkpoint=path, checkpoint_every=5)
    resumed = joint_optimize(X, PAIR, targets=[[0.5, 0.4]], max_steps=20, record_every=5, checkpoint=path,
                             checkpoint_every=5)
    assert np.array_equal(resumed.Y, full.Y) and resumed.trajectory.equals(full.trajectory)
    with pytest.raises(ValueError, match="other settings.*measures"):
        joint_optimize(X, PAIR, targets=[[0.5, 0.5]], max_steps=20, record_every=5, checkpoint=path)


# ---- errors ------------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, message", [
    ({"targets": [[0.5, 0.5, 0.5]]}, r"targets: expected shape \(n_targets, 2\)"),
    ({"targets": [0.5]}, r"targets: expected shape \(n_targets, 2\)"),
    ({"targets": np.zeros((0, 2))}, r"targets: expected shape \(n_targets, 2\)"),
    ({"targets": [[0.5, 1.2]]}, r"targets: expected values in \[0, 1\]"),
    ({"targets": [[-0.1, 0.5]]}, r"targets: expected values in \[0, 1\]"),
    ({"targets": [[np.nan, 0.5]]}, "targets: contains NaN"),
    ({"targets": [["a", "b"]]}, "targets: expected an array of numbers"),
    ({"targets": [[0.5, 0.5]], "grid": 3}, "grid: give either targets or grid"),
    ({"grid": 1}, "grid: expected an integer >= 2"),
    ({"grid": 2.5}, "grid: expected an integer >= 2"),
    ({"measures": "cka"}, "measures: expected a sequence of two or more"),
    ({"measures": ("cka",)}, "measures: joint optimization needs at least two measures"),
    ({"measures": ("cka", "procrustes")}, "measures: 'procrustes' .* is a distance"),
    ({"measures": ("cka", "rsa-compare=spearman")}, "measures: .* is not differentiable"),
    ({"measures": ("cka", "cka-kernel=linear-hsic=gretton-score")}, "measures: each measure may appear once"),
    ({"measures": ("cka", 3)}, "measures: expected a measure name or a repalign.Measure"),
    ({"measures": ("cka", repalign.measure("nbs").bind(np.eye(5, 3)))}, "measures: got a BoundMeasure"),
    ({"max_steps": 0}, "max_steps: expected an integer >= 1"),
    ({"lr": -1.0}, "lr: expected a positive number"),
    ({"seed": -1}, "seed: expected"),
])
def test_errors_name_the_argument(kwargs, message):
    kwargs = {"measures": PAIR, "max_steps": 2, **kwargs}
    with pytest.raises(ValueError, match=message):
        joint_optimize(small_reference(), **kwargs)


def test_conditional_range_errors_and_empty_selection(mante_result):
    assert np.isnan(mante_result.conditional_range("cka", given="angular-procrustes", at_least=2.0)[0])
    with pytest.raises(ValueError, match="given: expected one of the measures"):
        mante_result.conditional_range("cka", given="nbs", at_least=0.9)
    with pytest.raises(ValueError, match="at_least: expected a finite real number"):
        mante_result.conditional_range("cka", given="angular-procrustes", at_least="high")


# ---- figure ------------------------------------------------------------------------------------

def test_envelope_passes_through_reached_points_and_encloses_them_all(mante_result):
    for x, y, points in (("cka", "angular-procrustes", "all"), ("angular-procrustes", "cka", "final")):
        boundary = mante_result.envelope(x, y, bins=10, points=points)
        assert list(boundary.columns) == ["boundary", "x", "y"]
        table = mante_result.trajectory if points == "all" else mante_result.final
        reached = set(zip(table[x], table[y]))
        assert set(zip(boundary.x, boundary.y)) <= reached  # every vertex is a reached point
        lower, upper = boundary[boundary.boundary == "lower"], boundary[boundary.boundary == "upper"]
        assert lower.x.is_monotonic_increasing and upper.x.is_monotonic_decreasing
        assert lower.x.iloc[0] == upper.x.iloc[-1] == table[x].min() and lower.x.iloc[-1] == table[x].max()
        region = mante_result.region(x, y, bins=10, points=points)
        assert set(region.y_min) <= set(lower.y) and set(region.y_max) <= set(upper.y)  # each bin's extremes
        # both boundaries are functions of x (one vertex per x), so inside = between them
        below = np.interp(table[x], lower.x, lower.y) - 1e-12
        above = np.interp(table[x], upper.x[::-1], upper.y[::-1]) + 1e-12
        assert ((table[y] >= below) & (table[y] <= above)).all()


def test_plot_draws_every_mark_of_fig_6c_with_a_legend_entry(mante_result, tmp_path):
    import matplotlib.pyplot as plt
    import pandas as pd

    ax = mante_result.plot()
    assert ax.get_xlabel() == "cka" and ax.get_ylabel() == "angular-procrustes"
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["allowed region (envelope of the recorded points)", "trajectory (every 10 steps)",
                      "start (Gaussian noise)", "reached (step 150)", "target", "guide at 0.9"]
    drawn = [a.get_label() for a in (*ax.get_lines(), *ax.patches) if not a.get_label().startswith("_")]
    assert sorted(drawn) == sorted(labels)  # every labelled mark in the legend, once
    unlabelled = [line for line in ax.get_lines() if line.get_label().startswith("_")]
    assert len(unlabelled) == len(mante_result.targets) - 1 + 1  # the other trajectories, the vertical guide
    (region,) = ax.patches  # the shaded region, outlined
    assert region.get_facecolor()[3] > 0 and region.get_fill() and region.get_linewidth() > 0
    vertices = mante_result.envelope()[["x", "y"]].to_numpy()
    assert mante_result.envelope().equals(mante_result.envelope(bins=6))  # default: √36 bins, one per grid column
    assert np.allclose(region.get_xy()[:len(vertices)], vertices)
    targets = [line for line in ax.get_lines() if line.get_label() == "target"]
    assert np.allclose(targets[0].get_xydata(), mante_result.targets)
    reached = next(line for line in ax.get_lines() if line.get_label().startswith("reached"))
    assert np.allclose(reached.get_xydata(), mante_result.final[["cka", "angular-procrustes"]].to_numpy())
    dashed = [line for line in ax.get_lines() if line.get_linestyle() == "--"]
    assert len(dashed) == 2 and all(0.9 in np.asarray(line.get_xydata()).ravel() for line in dashed)
    fig, own = plt.subplots()
    flipped = mante_result.plot(ax=own, x="angular-procrustes", y="cka", guides=(), trajectories=False,
                                points="final")
    assert flipped is own and [t.get_text() for t in own.get_legend().get_texts()] == [
        "allowed region (envelope of the reached points)", "reached (step 150)", "target"]
    two = mante_result.plot(guides=(0.5, 0.9))
    assert "guides at 0.5, 0.9" in [t.get_text() for t in two.get_legend().get_texts()]
    with pytest.raises(ValueError, match="guides: expected"):
        mante_result.plot(guides=0.9)
    written = mante_result.save(tmp_path / "figures" / "fig6c")
    assert [p[-4:] for p in written] == [".png", ".pdf", ".csv"]
    assert all((tmp_path / "figures" / f"fig6c{s}").stat().st_size > 0 for s in (".png", ".pdf", ".csv"))
    back = pd.read_csv(tmp_path / "figures" / "fig6c.csv")
    assert list(back.columns) == list(mante_result.trajectory.columns)
    assert np.allclose(back["cka"], mante_result.trajectory["cka"])
    plt.close("all")


def test_lazy_access_from_the_package():
    assert repalign.joint.joint_optimize is joint_optimize

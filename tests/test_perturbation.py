"""Single-PC perturbation (seed paper, section 4.3, appendix B.3, Fig. 6a).

The closed forms are checked against the library's measures on perturbed copies; the
closed forms themselves against sums written out by hand; the perturbation against its
defining properties (spectrum, PC directions and other PCs' scores unchanged).
"""

import math

import numpy as np
import pytest
import torch
from conftest import random_orthogonal

import repalign
from repalign.data import mante_like
from repalign.perturbation import (
    CLOSED_FORM_MEASURES,
    closed_form,
    pc_spectrum,
    perturb_pcs,
    replace_pc,
)

MEASURES = ("cka", "nbs", "angular-procrustes", "angular-cka")


pytestmark = pytest.mark.usefixtures("single_threaded")  # see conftest.py


def power_law_data(n=200, p=30, alpha=1.0, seed=0, rank=None):
    """(n, p) Gaussian data with PC variances ∝ i^-alpha in a random unit basis (rank ≤ `rank`)."""
    rng = np.random.default_rng(seed)
    r = p if rank is None else rank
    lam = np.arange(1, r + 1, dtype=float) ** -alpha
    Z = rng.normal(size=(n, r)) * np.sqrt(lam)
    basis = random_orthogonal(p, rng)[:r]
    return Z @ basis + rng.normal(size=p)  # a non-zero mean the measures must centre away


def _independent_reference(lam, k):
    """The closed forms written out term by term, apart from the module."""
    others = [i for i in range(len(lam)) if i != k]
    cka = sum(lam[i] ** 2 for i in others) / sum(x**2 for x in lam)
    nbs = sum(lam[i] for i in others) / sum(lam)
    return {"cka": cka, "nbs": nbs,
            "angular-procrustes": 1 - math.acos(nbs) / (math.pi / 2),
            "angular-cka": 1 - math.acos(cka) / (math.pi / 2),
            "procrustes": math.acos(nbs)}


# ---- closed forms ------------------------------------------------------------------------------

def test_closed_form_matches_the_sums_written_out():
    lam = [5.0, 2.0, 1.0, 0.5, 0.1]
    for k in range(len(lam)):
        expected = _independent_reference(lam, k)
        for name, value in expected.items():
            assert closed_form(lam, k, name) == pytest.approx(value, rel=1e-14), (name, k)
    # two equal PCs: NBS 1/2, CKA 1/2, angular scores 1 − (π/3)/(π/2) = 1/3
    assert closed_form([1, 1], 0, "nbs") == pytest.approx(0.5)
    assert closed_form([1, 1], 0, "angular-cka") == pytest.approx(1 / 3)


def test_closed_form_accepts_canonical_names_and_measures_and_refuses_others():
    lam = [3.0, 1.0]
    assert closed_form(lam, 0, "cka-kernel=linear-hsic=gretton-score") == closed_form(lam, 0, "cka")
    assert closed_form(lam, 0, repalign.measure("angular-procrustes")) == closed_form(lam, 0, "angular-procrustes")
    assert set(CLOSED_FORM_MEASURES) >= {repalign.measure(m).name for m in MEASURES}
    for name in ("cka-debiased", "linreg", "cca"):
        with pytest.raises(ValueError, match="measure: no closed form"):
            closed_form(lam, 0, name)
    with pytest.raises(ValueError, match="measure: expected a measure name"):
        closed_form(lam, 0, 3)


@pytest.mark.parametrize("spectrum, k, message", [
    ([3.0, 1.0], 2, "k: PC index 2 is out of range; spectrum has 2 entries"),
    ([3.0, 1.0], -1, "k: PC index -1 is out of range"),
    ([3.0, 1.0], 0.5, "k: expected an integer"),
    ([3.0, 1.0], True, "k: expected an integer"),
    ([[3.0, 1.0]], 0, "spectrum: expected a non-empty 1D"),
    ([], 0, "spectrum: expected a non-empty 1D"),
    ([3.0, -1.0], 0, "spectrum: PC variances must be finite and non-negative"),
    ([3.0, np.nan], 0, "spectrum: PC variances must be finite"),
    ([0.0, 0.0], 0, "spectrum: all PC variances are zero"),
    ("ab", 0, "spectrum"),
])
def test_closed_form_errors_name_the_argument(spectrum, k, message):
    with pytest.raises(ValueError, match=message):
        closed_form(spectrum, k, "cka")


# ---- orthogonal mode: exact --------------------------------------------------------------------

@pytest.mark.parametrize("k", [0, 1, 3, 9, 29])
def test_orthogonal_replacement_reproduces_the_closed_forms(k):
    X = power_law_data(n=200, p=30, alpha=1.0, seed=k)  # rank 30, 169 spare centred sample directions
    Y = replace_pc(X, k, mode="orthogonal", seed=k)
    lam = pc_spectrum(X)
    expected = _independent_reference(lam, k)
    for name in MEASURES + ("procrustes",):
        assert repalign.measure(name)(X, Y) == pytest.approx(expected[name], abs=1e-10), name


def test_orthogonal_replacement_keeps_the_spectrum_directions_mean_and_other_pcs():
    X = power_law_data(n=200, p=30, alpha=1.5, seed=3)
    Xc = X - X.mean(axis=0)
    u, s, vt = np.linalg.svd(Xc, full_matrices=False)
    for k in (0, 4, 17):
        Y = replace_pc(X, k, seed=1)
        Yc = Y - Y.mean(axis=0)
        assert np.abs(pc_spectrum(Y) - s**2).max() <= 1e-10 * s[0] ** 2   # equal variance, every PC
        assert np.allclose(Y.mean(axis=0), X.mean(axis=0), atol=1e-12)
        _, _, vt_y = np.linalg.svd(Yc, full_matrices=False)
        assert np.allclose(np.abs(np.sum(vt_y * vt, axis=1)), 1, atol=1e-8)  # same PC directions
        scores = Yc @ vt.T                                          # new scores along X's PCs
        others = [i for i in range(len(s)) if i != k]
        assert np.allclose(scores[:, others], (u * s)[:, others], atol=1e-10)
        new = scores[:, k] / s[k]
        assert abs(np.linalg.norm(new) - 1) < 1e-12 and np.abs(u.T @ new).max() < 1e-12  # w ⊥ every u_i


def test_orthogonal_replacement_with_more_units_than_samples_when_rank_leaves_room():
    # 60 samples, 100 units, rank 20: the measures reduce units exactly; 39 spare sample directions
    X = power_law_data(n=60, p=100, alpha=1.0, seed=5, rank=20)
    lam = pc_spectrum(X)
    assert lam.size == 20
    for k in (0, 7, 19):
        Y = replace_pc(X, k, seed=2)
        expected = _independent_reference(lam, k)
        for name in ("cka", "nbs"):
            assert repalign.measure(name)(X, Y) == pytest.approx(expected[name], abs=1e-10)


def test_orthogonal_mode_refuses_data_without_a_spare_sample_direction():
    X = np.random.default_rng(0).normal(size=(20, 50))   # rank 19 = n − 1: no centred direction left
    with pytest.raises(ValueError, match=r"X: mode='orthogonal' needs .* 20 samples and rank 19"):
        replace_pc(X, 0)
    assert replace_pc(X, 0, mode="resample").shape == X.shape   # the approximate variant still applies


def test_replacing_a_unit_direction_instead_would_leave_the_measures_at_one():
    # why the scores (left singular vectors) are replaced: a new unit-space direction for PC k is
    # a rotation of the units, invisible to rotation-invariant measures
    X = power_law_data(n=200, p=30, seed=1, rank=10)
    Xc = X - X.mean(axis=0)
    u, s, vt = np.linalg.svd(Xc, full_matrices=False)
    spare = np.linalg.svd(vt[:10].T, full_matrices=True)[0][:, 10]   # unit direction ⊥ all PCs
    rotated = Xc - np.outer(Xc @ vt[0], vt[0] - spare)
    assert repalign.measure("cka")(X, rotated) == pytest.approx(1, abs=1e-12)
    assert repalign.measure("cka")(X, replace_pc(X, 0)) < 0.9


def test_three_dimensional_and_torch_input_are_flattened_like_the_measures():
    X = power_law_data(n=15 * 12, p=20, seed=2)
    cube = X.reshape(15, 12, 20)
    Y_cube = replace_pc(cube, 2, seed=4)
    assert Y_cube.shape == cube.shape and Y_cube.dtype == np.float64
    assert np.allclose(Y_cube.reshape(-1, 20), replace_pc(X, 2, seed=4), atol=1e-12)
    assert np.allclose(replace_pc(torch.tensor(cube), 2, seed=4), Y_cube, atol=1e-12)
    assert repalign.measure("nbs")(cube, Y_cube) == pytest.approx(closed_form(pc_spectrum(cube), 2, "nbs"), abs=1e-10)


# ---- resampling variant: approximate -----------------------------------------------------------

def test_resample_changes_only_pc_k_and_keeps_its_variance_in_expectation():
    X = power_law_data(n=400, p=12, seed=6)
    Xc = X - X.mean(axis=0)
    u, s, vt = np.linalg.svd(Xc, full_matrices=False)
    k = 2
    ratios = []
    for seed in range(200):
        Y = replace_pc(X, k, mode="resample", seed=seed)
        D = Y - X
        assert np.abs(D @ vt[[i for i in range(12) if i != k]].T).max() < 1e-10   # rank one, along v_k
        new = D @ vt[k] / s[k] + u[:, k]                                          # the drawn scores w
        ratios.append(np.sum(new**2))
    # ‖w‖² ~ χ²_n / n: mean 1 (equal variance in expectation), sd sqrt(2/n) ≈ 0.071
    assert np.mean(ratios) == pytest.approx(1, abs=4 * math.sqrt(2 / 400) / math.sqrt(200))
    assert np.std(ratios) == pytest.approx(math.sqrt(2 / 400), rel=0.2)


@pytest.mark.slow
def test_resample_variant_is_within_3_percent_on_mante_data():
    # The drawn scores w have ‖w‖² ~ χ²_n/n (sd sqrt(2/n) ≈ 4.3% at n = 1080) and overlap
    # ⟨u_i, w⟩ ~ N(0, 1/n) with the PCs. CKA's error scales with λ_k²/Σλ² (0.60 for PC 1 of
    # mante_like): single draws for PC 1 scatter by ≈ 2.6% around the closed form, so PC 1 is
    # checked on the mean of 6 draws, PCs 2..10 draw by draw.
    X = mante_like(seed=0).activity    # (15, 72, 727); PC 1 explains 15.5% of the variance
    single = perturb_pcs(X, measures=MEASURES, ks=range(1, 10), mode="resample", seed=0).table
    relative = (single.simulated - single.closed_form).abs() / single.closed_form
    assert relative.max() < 0.03, single.assign(relative=relative).sort_values("relative").tail()
    assert relative.max() > 1e-6   # not exact: w is neither orthogonal to the PCs nor of unit norm
    first = perturb_pcs(X, measures=MEASURES, ks=[0], mode="resample", seed=0, n_repeats=6).table
    mean = first.groupby("measure")[["simulated", "closed_form"]].mean()
    assert ((mean.simulated - mean.closed_form).abs() / mean.closed_form).max() < 0.03, mean
    assert ((first.simulated - first.closed_form).abs() / first.closed_form).max() < 0.10   # 7.3% in 20 draws
    assert set(first["mode"]) == {"resample"} and len(first) == 4 * 6


# ---- table, seeds, plot ------------------------------------------------------------------------

def test_table_columns_values_and_reproducible_seeds():
    X = power_law_data(n=120, p=10, seed=8)
    table = perturb_pcs(X, measures=MEASURES, ks=[0, 2, 5], mode="resample", seed=3, n_repeats=2).table
    assert list(table.columns) == ["measure", "k", "explained_variance", "simulated", "closed_form", "mode", "repeat"]
    assert len(table) == 4 * 3 * 2
    assert set(table["measure"]) == {repalign.measure(m).name for m in MEASURES}
    lam = pc_spectrum(X)
    row = table[(table.k == 2) & (table.repeat == 1) & (table.measure == "nbs-score")].iloc[0]
    assert row.explained_variance == pytest.approx(lam[2] / lam.sum(), rel=1e-12)
    assert row.closed_form == pytest.approx(closed_form(lam, 2, "nbs"), rel=1e-14)
    # a row is rebuilt from its seed sequence, whatever else the table holds
    Y = replace_pc(X, 2, mode="resample", seed=np.random.default_rng([3, 1, 2]))
    assert row.simulated == pytest.approx(repalign.measure("nbs")(X, Y), abs=1e-12)
    again = perturb_pcs(X, measures=MEASURES, ks=[5, 2], mode="resample", seed=3, n_repeats=2).table
    merged = table.merge(again, on=["measure", "k", "repeat"])
    assert len(merged) == 4 * 2 * 2 and np.array_equal(merged.simulated_x, merged.simulated_y)
    other = perturb_pcs(X, measures=MEASURES, ks=[0, 2, 5], mode="resample", seed=4, n_repeats=2).table
    assert not np.allclose(other.simulated, table.simulated)
    # replace_pc: same seed, same data; another seed, other data
    assert np.array_equal(replace_pc(X, 1, seed=9), replace_pc(X, 1, seed=9))
    assert not np.allclose(replace_pc(X, 1, seed=9), replace_pc(X, 1, seed=10))


def test_orthogonal_table_matches_closed_forms():
    X = power_law_data(n=150, p=20, seed=9)
    table = perturb_pcs(X, ks=range(10), n_repeats=2).table
    assert (table.simulated - table.closed_form).abs().max() < 1e-10
    assert set(table["mode"]) == {"orthogonal"} and sorted(set(table.k)) == list(range(10))


@pytest.mark.parametrize("kwargs, message", [
    ({"ks": [0, 40]}, "ks: PC index 40 is out of range; X has 20"),
    ({"ks": [1, 1]}, "ks: each of the PC indices may appear once"),
    ({"ks": []}, "ks: expected at least one"),
    ({"ks": 3}, "ks: expected an iterable"),
    ({"measures": ("cka", "no-such-measure")}, "no-such-measure"),
    ({"measures": ("cka", "cka-kernel=linear-hsic=gretton-score")}, "measures: the same measure is named twice"),
    ({"measures": ()}, "measures: expected at least one"),
    ({"mode": "rotate"}, "mode: expected one of"),
    ({"n_repeats": 0}, "n_repeats: expected an integer >= 1"),
    ({"seed": -1}, "seed: expected a non-negative integer"),
])
def test_table_errors_name_the_argument(kwargs, message):
    X = power_law_data(n=50, p=20, seed=0)
    with pytest.raises(ValueError, match=message):
        perturb_pcs(X, **kwargs)


@pytest.mark.parametrize("X, kwargs, message", [
    (np.ones(10), {}, "X: expected a 2D"),
    (np.zeros((10, 3)), {}, "X: every unit is constant"),
    (np.eye(10, 4), {"k": 4}, "k: PC index 4 is out of range; X has 4"),
    (np.eye(10, 4), {"k": "0"}, "k: expected an integer"),
    (np.eye(10, 4), {"mode": "Orthogonal"}, "mode: expected one of"),
    (np.eye(10, 4), {"seed": 1.5}, "seed: expected a non-negative integer"),
    ("data", {}, "X: expected a numpy array"),
])
def test_replace_pc_errors_name_the_argument(X, kwargs, message):
    kwargs = {"k": 0, **kwargs}
    with pytest.raises(ValueError, match=message):
        replace_pc(X, **kwargs)


def test_plot_and_save(tmp_path):
    import matplotlib.pyplot as plt
    import pandas as pd

    X = power_law_data(n=120, p=12, seed=10)
    result = perturb_pcs(X, measures=("cka", "nbs", "angular-procrustes"), ks=range(6), mode="resample", n_repeats=2)
    table = result.table
    ax = result.plot()
    lines = ax.get_lines()
    assert len(lines) == 3 * 2                                 # a closed-form line and points per measure
    assert len({line.get_color() for line in lines}) == 3      # one colour per measure
    theory = lines[0]
    assert np.allclose(theory.get_ydata(), table[table.measure == table.measure.iloc[0]].drop_duplicates("k")
                       .sort_values("k").closed_form)
    assert ax.get_xscale() == "log"
    fig, own = plt.subplots()
    assert result.plot(ax=own, x="k") is own and own.get_xscale() == "linear"
    written = result.save(tmp_path / "figures" / "fig6a.5")  # a dot in the name is kept
    assert written == [str(tmp_path / "figures" / f"fig6a.5{s}") for s in (".png", ".pdf", ".csv")]
    written = result.save(tmp_path / "figures" / "fig6a")
    assert [p[-4:] for p in written] == [".png", ".pdf", ".csv"]
    assert all((tmp_path / "figures" / f"fig6a{s}").stat().st_size > 0 for s in (".png", ".pdf", ".csv"))
    back = pd.read_csv(tmp_path / "figures" / "fig6a.csv")
    assert list(back.columns) == list(table.columns) and np.allclose(back.simulated, table.simulated)
    with pytest.raises(ValueError, match="x: expected"):
        result.plot(x="variance")
    plt.close("all")


def test_measures_without_a_closed_form_are_simulated_only():
    """Any measure is simulated; the closed-form column is NaN where the paper has none, and the
    simulated value is the measure between X and the very perturbed copy replace_pc rebuilds."""
    X = np.random.default_rng(3).normal(size=(60, 6)) * [4, 2, 1, 0.5, 0.25, 0.1]
    result = perturb_pcs(X, measures=("cka", "ridge-cv", "soft-matching"), ks=[0, 2], seed=5)
    table = result.table.set_index(["measure", "k"])
    ridge = repalign.measure("ridge-cv")
    for k in (0, 2):
        Y = replace_pc(X, k, seed=np.random.default_rng([5, 0, k]))
        assert table.loc[(ridge.name, k), "simulated"] == pytest.approx(float(ridge(X, Y)), abs=1e-12)
        assert np.isnan(table.loc[(ridge.name, k), "closed_form"])
        assert np.isfinite(table.loc[(repalign.measure("cka").name, k), "closed_form"])
    assert result.max_error < 1e-10                      # over the rows that have a closed form
    assert np.isnan(perturb_pcs(X, measures=("ridge-cv",), ks=[0]).max_error)
    result.plot()                                        # a dotted line for the simulated-only measures

"""The documentation site's generated pages and the data behind them (tools/docsite).

The cards are checked against the registry (one per catalogue entry, titled by alias and canonical
name, every profile present for every differentiable measure on both datasets), the versioned data
against the catalogue and the package version, the cross-measure comparison against the seed
paper's ordering (recomputed here from the CSV files, not through the page code), and the data
pipeline against the experiment it sweeps. The strict build and the browser are
tests/test_docs_browser.py's.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest

import repalign
from repalign.registry import catalogue, measure

pd = pytest.importorskip("pandas")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools" / "docsite"))
import cards  # noqa: E402
import data as docs_data  # noqa: E402

PROFILES = ROOT / "docs" / "data" / "profiles"
DATASETS = ("mante_like", "m1")
DIFFERENTIABLE = [n for n in catalogue() if measure(n).differentiable]
CKA, PROCRUSTES = "cka-kernel=linear-hsic=gretton-score", "procrustes-angular_score"


def _csv(name: str):
    return pd.read_csv(PROFILES / f"{name}.csv")


@pytest.fixture(scope="module")
def pages():
    """Every generated file (figures from build/docs-cache when `make docs` drew them already)."""
    return cards.pages()


# ---- the versioned data ---------------------------------------------------------------------------------------


def test_profile_data_cover_every_differentiable_measure_on_both_datasets():
    cells = _csv("cells")
    for experiment in ("optimize", "perturb"):
        part = cells.loc[cells.experiment == experiment]
        got = {(d, m) for d, m in zip(part.data, part.measures)}
        assert got == {(d, m) for d in DATASETS for m in DIFFERENTIABLE}, experiment
    joint = cells.loc[cells.experiment == "joint"]
    together = {m for pair in joint.measures for m in pair.split("+")}
    scores = set(docs_data.joint_measures(DIFFERENTIABLE))
    assert together == scores                       # every score in [0, 1] has a joint map on each dataset
    assert set(joint.data) == set(DATASETS)


def test_profile_data_record_the_version_that_made_them():
    meta = json.loads((PROFILES / "meta.json").read_text())
    assert meta["repalign_version"] == repalign.__version__, "run `make docs-data` after a version change"
    assert meta["quick"] is False
    for name in ("capture", "decoding", "perturbation", "joint", "runs", "cells"):
        assert set(_csv(name).repalign_version) == {repalign.__version__}, name


def test_every_profile_cell_finished():
    """Every optimize, perturb and joint cell of the versioned data finished (a failure would show its reason on
    the card; none is left: CCA's float32 rank check refused M1 until it compared each unit with its own norm)."""
    cells = _csv("cells")
    assert (cells.status == "done").all(), cells.loc[cells.status != "done", ["experiment", "data", "measures", "error"]]


def test_perturbation_simulations_agree_with_the_closed_forms():
    table = _csv("perturbation")
    closed = table.dropna(subset=["closed_form"])
    assert len(closed) > 0
    assert np.abs(closed.simulated - closed.closed_form).max() < 1e-6   # orthogonal mode: exact (float32 data)
    assert set(table.measure) >= {CKA, PROCRUSTES}


# ---- the seed paper's ordering, recomputed from the CSV --------------------------------------------------------


@pytest.mark.parametrize("dataset", DATASETS)
def test_angular_procrustes_captures_the_lower_variance_pcs_at_lower_scores_than_cka(dataset):
    """Seed paper, Fig. 5b: to capture a lower-variance PC, angular Procrustes needs a lower score than CKA."""
    capture = _csv("capture")
    capture = capture.loc[(capture.dataset == dataset) & (capture.reference == "data") & capture.captured]
    a = capture.loc[capture.measure == CKA].set_index("pc").value
    b = capture.loc[capture.measure == PROCRUSTES].set_index("pc").value
    both = [pc for pc in a.index if pc >= 2 and pc in b.index]
    assert len(both) >= 3
    lower = [pc for pc in both if b[pc] < a[pc]]
    assert len(lower) >= 0.8 * len(both), (dataset, a.to_dict(), b.to_dict())
    # and by the score 0.9, angular Procrustes has captured at least as many PCs as CKA
    assert (b <= 0.9).sum() >= (a <= 0.9).sum()


@pytest.mark.slow
def test_the_comparison_ranks_every_measure_with_a_profile(pages):
    table = cards.comparison_table(cards.load()).set_index("canonical")
    assert set(table.index) == set(DIFFERENTIABLE)
    capture = _csv("capture")
    for dataset in DATASETS:                        # recomputed from the CSV (scores equal to 1 on identical data)
        for name in (CKA, PROCRUSTES):
            rows = capture.loc[(capture.dataset == dataset) & (capture.measure == name)
                               & (capture.reference == "data")]
            mean = np.where(rows.captured, np.minimum(rows.value, 1.0), 1.0).mean()
            assert table.loc[name, f"{dataset}: mean score at capture"] == pytest.approx(mean)
            early = rows.captured & (rows.value <= 0.9)
            assert table.loc[name, f"{dataset}: PCs at 0.9"] == early.sum()
        # the seed paper's ordering on each dataset, and the matched Gaussian predicts it (Fig. 5e)
        assert table.loc[PROCRUSTES, f"{dataset}: rank"] < table.loc[CKA, f"{dataset}: rank"]
        for name in (CKA, PROCRUSTES):
            assert table.loc[name, f"{dataset}: matched Gaussian"] == pytest.approx(
                table.loc[name, f"{dataset}: mean score at capture"], abs=0.05)
    ranked = table.dropna(subset=["rank"])
    assert ranked["rank"].min() == 1 and len(ranked) >= 0.8 * len(table)
    assert table.loc[PROCRUSTES, "rank"] < table.loc[CKA, "rank"]   # angular Procrustes demands more before 0.9
    page = pages["comparison.md"].decode()
    assert "| rank |" in page and pages["figures/comparison.png"].startswith(b"\x89PNG")


def test_a_measure_that_never_reports_high_similarity_is_not_ranked():
    """demand() gives NaN (not every captured PC) when the run's best value stays below 0.9."""
    capture = pd.DataFrame({"dataset": "d", "measure": CKA, "reference": "data", "pc": [1, 2],
                            "explained_variance": [0.6, 0.3], "captured": [True, True], "value": [0.5, 0.8]})
    runs = pd.DataFrame({"dataset": ["d"], "measure": [CKA], "start_value": [0.0], "best_value": [0.85],
                         "identity_value": [1.0]})
    data = {"capture": capture, "runs": runs}
    assert math.isnan(cards.demand(data, CKA, "d")["variance"])
    data["runs"] = runs.assign(best_value=0.95)
    assert cards.demand(data, CKA, "d")["variance"] == pytest.approx(0.9)
    data["runs"] = runs.assign(best_value=0.95, identity_value=0.85)   # 0.8 / 0.85 > 0.9: PC 2 comes after
    assert cards.demand(data, CKA, "d")["variance"] == pytest.approx(0.6)


# ---- the cards ---------------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_every_catalogue_entry_has_a_card_titled_by_alias_and_name(pages):
    for name in catalogue():
        text = pages[f"measures/{cards.slug(name)}.md"].decode()
        assert text.splitlines()[0] == f"# {cards.title(name)}"
        assert f"`{name}`" in text and "## Definition" in text and "## The same name elsewhere" in text
    assert cards.title(PROCRUSTES) == "angular-procrustes — procrustes-angular_score"
    index = pages["measures/index.md"].decode()
    assert all(f"({cards.slug(n)}.md)" in index for n in catalogue())


@pytest.mark.slow
def test_every_differentiable_card_shows_its_profile_on_both_datasets(pages):
    cells = _csv("cells")
    for name in catalogue():
        text = pages[f"measures/{cards.slug(name)}.md"].decode()
        if not measure(name).differentiable:
            assert "not differentiable" in text
            continue
        for dataset in DATASETS:
            stored = cells.loc[(cells.experiment == "optimize") & (cells.data == dataset) & (cells.measures == name)]
            assert len(stored) == 1, (name, dataset)
            if stored.status.iloc[0] == "done":
                figure = f"measures/figures/{cards.slug(name)}-{dataset}.png"
                assert pages[figure].startswith(b"\x89PNG") and f"({figure.removeprefix('measures/')})" in text
                for table in ("capture", "perturbation"):
                    path = f"measures/data/{cards.slug(name)}-{dataset}-{table}.csv"
                    frame = pd.read_csv(__import__("io").BytesIO(pages[path]))
                    assert set(frame.measure) == {name} and set(frame.dataset) == {dataset}
            else:
                assert stored.error.iloc[0] in text     # the stored reason, on the card


@pytest.mark.slow
def test_cards_show_the_other_libraries_values(pages):
    text = pages[f"measures/{cards.slug('ridge-lambda=100-r2-cv=5folds')}.md"].decode()
    assert "scikit-learn" in text and "training mean" in text


def test_common_scale():
    assert cards.similarity([0.3], CKA)[0] == 0.3
    assert cards.similarity([0.3], CKA, identity=0.6)[0] == pytest.approx(0.5)
    # every angular distance as the catalogue's angular score, whatever its range ([0, π] for Song and Lange)
    lange = "cka-kernel=linear-hsic=lange-distance=angular"
    assert measure(lange).range[1] == pytest.approx(math.pi)
    assert cards.similarity([math.pi / 4], lange)[0] == pytest.approx(0.5)
    assert cards.similarity([math.pi / 4], "procrustes-distance=angular")[0] == pytest.approx(0.5)
    assert cards.similarity([2.0], "procrustes-distance=euclidean", start=8.0)[0] == pytest.approx(0.75)
    assert np.isnan(cards.similarity([2.0], "procrustes-distance=euclidean")[0])


def test_the_score_form_of_an_angular_distance_is_its_rescaling():
    """The cards read a distance's joint map through its score form: 1 − d/(π/2), checked on data."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 6))
    Y = X @ rng.normal(size=(6, 4)) + rng.normal(size=(40, 4))
    forms = {n: cards.score_form(n) for n in catalogue() if measure(n).kind == "distance"}
    assert forms["procrustes-distance=angular"] == PROCRUSTES
    assert forms["procrustes-distance=euclidean"] is None and forms["permutation-distance=euclidean"] is None
    for distance, score in forms.items():
        if score is not None:
            assert measure(score)(X, Y) == pytest.approx(1 - measure(distance)(X, Y) / (math.pi / 2), abs=1e-12)


def test_rst_math_and_examples_become_markdown():
    text = cards.rst_to_markdown("A ``name`` and :math:`x^2`.\n\n.. math::\n    a = b\n\nExample\n-------\n>>> 1 + 1\n2\n")
    assert "`name`" in text and r"\(x^2\)" in text
    assert "$$\na = b\n$$" in text and "```python\n>>> 1 + 1\n2\n```" in text


def test_slugs_are_distinct_and_safe():
    slugs = [cards.slug(n) for n in catalogue()]
    assert len(set(slugs)) == len(slugs)
    assert all(s and all(c.isalnum() or c in "_.-" for c in s) for s in slugs)


# ---- the pipeline: the sweep code makes the tables --------------------------------------------------------------


@pytest.mark.slow
def test_the_sweeps_produce_the_versioned_tables(tmp_path):
    """A small run of the same three sweeps gives tables of the committed layout, and its PC thresholds
    are those of the optimize experiment run directly with the same settings."""
    from repalign.data import mante_like
    from repalign.experiments import optimize

    datasets = {"mante_like": {"generator": "mante_like", "n_units": 12, "n_time": 3, "seed": 0}}
    measures = ["cka", "procrustes", "cca"]
    docs_data.run(tmp_path / "store", quick=True, measures=measures, datasets=datasets, progress=False)
    docs_data.export(tmp_path / "store", tmp_path / "out", measures=measures, datasets=datasets, quick=True)
    for name in ("capture", "decoding", "perturbation", "joint", "runs", "cells"):
        assert list(pd.read_csv(tmp_path / "out" / f"{name}.csv").columns) == list(_csv(name).columns), name
    capture = pd.read_csv(tmp_path / "out" / "capture.csv")
    got = capture.loc[(capture.measure == CKA) & (capture.reference == "data")]
    record = optimize.run(optimize.Settings(mante_like(n_units=12, n_time=3, seed=0), measures=("cka",), seed=0,
                                            **docs_data.QUICK["optimize"]))
    want = record.tables["pc_capture"]
    want = want.loc[want.reference == "data"]
    assert got.threshold.to_numpy() == pytest.approx(want.threshold.to_numpy(), abs=1e-6)
    assert got.value.to_numpy() == pytest.approx(want.value.to_numpy(), abs=1e-5, nan_ok=True)

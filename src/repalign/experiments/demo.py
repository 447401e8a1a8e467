"""The main job of ``make demo``: the seed paper's experiment on the embedded ``mante_like`` dataset.

Gaussian noise shaped like a synthetic prefrontal population (15 time bins × 72 conditions ×
727 units, :func:`repalign.data.mante_like`) is optimized towards it with angular Procrustes,
CKA, angular CKA and ridge-CV (the :mod:`~repalign.experiments.optimize` experiment: measures that
stop at the same score share one batched loop) while two trackers watch what the noise learns:
the R² of each of the reference's top principal components (:class:`~repalign.trackers.PCCapture`)
and the cross-validated decoding of the four task variables (:class:`~repalign.trackers.Decoding`).
Then the other experiments of :mod:`repalign.experiments`, each writing its own figures: baselines,
top-k decoding, the variance sweep, the perturbation and the joint optimization. Every figure is
written (PNG + PDF, with the data of every figure as CSV beside it):

- ``trajectory`` — score against step for every measure;
- ``pc_capture`` (Fig. 5b,e) — score at which each PC is captured against its explained
  variance, beside the same experiment on the matched Gaussian; ``capture_curves`` (Fig. 5a);
- ``decoding`` (Fig. 3a,b) — decoding accuracy against score, with the reference's accuracy and
  the condition-average baseline; ``topk_decoding`` (Fig. 3c,d);
- ``variance_sweep`` (Fig. 4e) — the two-PC reference with a shrinking second PC;
- ``perturbation`` (Fig. 6a) — single-PC perturbation against the closed forms;
- ``joint`` (Fig. 6c) — CKA and angular Procrustes optimized jointly towards a grid of targets;
- ``baselines`` (Fig. 2) — condition-average and neuron-split baselines of every measure;
- ``summary.md`` — one page: which measure captured which PCs and task variables at which score.

``quick`` shrinks every experiment to check the pipeline.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time

from .. import registry
from .._checks import check_bool, check_count, check_seed
from .._optional import import_pandas
from ..data import mante_like
from ..perturbation import perturb_pcs
from ..registry import short_name
from ..results import Record, json_safe
from . import baselines as baselines_experiment
from . import joint as joint_experiment
from . import optimize as optimize_experiment
from . import perturb as perturb_experiment
from . import topk_decoding as topk_experiment
from . import variance_sweep as sweep_experiment
from ._base import ExperimentSettings, Output

__all__ = ["Settings", "run", "NAME", "MEASURES", "JOINT_MEASURES", "DECODED"]

NAME = "demo"
MEASURES = ("angular-procrustes", "cka", "angular-cka", "ridge-cv")
JOINT_MEASURES = ("cka", "angular-procrustes")
DECODED = ("context", "choice", "motion_sign", "colour_sign")


@dataclasses.dataclass(frozen=True)
class Settings(ExperimentSettings):
    """The demo's three knobs.

    Attributes:
        seed: seed of the data, the noise and the folds.
        units: units of the ``mante_like`` reference (727 as the recording).
        quick: shrunk sizes (at most 120 units, fewer steps), to check the pipeline in about a minute.
        log: print one line per finished section.
    """

    seed: int = 0
    units: int = 727
    quick: bool = False
    log: bool = True

    def __post_init__(self):
        object.__setattr__(self, "seed", check_seed(self.seed))
        object.__setattr__(self, "units", check_count(self.units, "units", 5))
        check_bool(self.quick, "quick")
        check_bool(self.log, "log")


def _fmt(value: float, digits: int = 2) -> str:
    return "—" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


def run(settings: Settings, out=None) -> Record:
    """Run every section, write figures, tables, ``summary.md`` and ``summary.json`` to ``out``.

    The record's settings hold the summary numbers under ``summary``; its tables are those of
    every section.
    """
    pd = import_pandas()

    start = time.perf_counter()

    def log(message: str) -> None:
        if settings.log:
            print(f"[{time.perf_counter() - start:6.1f} s] {message}", flush=True)

    output = Output(out)
    seed, quick = settings.seed, settings.quick
    n_units = min(settings.units, 120) if quick else settings.units
    n_pcs = 10 if quick else 20
    reference = mante_like(n_units=n_units, seed=seed)
    log(f"reference: mante_like {reference.shape} (time, condition, unit)")

    # 1. the headline optimization, both trackers. Each run stops once its score reaches a fixed threshold, as
    #    in the paper: 0.99 for angular Procrustes and CKA; 0.95 for angular CKA (= CKA 0.994: its arccos
    #    stretches the top of the scale); 0.99 of its ceiling ridge-cv(X, X) < 1 for ridge-CV (its penalty
    #    and cross-validation keep it below 1). A ridge-CV step is five ridge fits and their gradients (several
    #    times a CKA step): it gets a larger learning rate and fewer steps, to keep the demo within minutes.
    max_steps = 150 if quick else 300
    stops = {"angular-procrustes": 0.99, "cka": 0.99, "angular-cka": 0.95,
             "ridge-cv": 0.99 * float(registry.measure("ridge-cv")(reference, reference))}
    headline = optimize_experiment.run(optimize_experiment.Settings(
        reference, MEASURES, steps={m: min(max_steps, 100) if m == "ridge-cv" else max_steps for m in MEASURES},
        lr={m: 0.05 if m == "ridge-cv" else 0.02 for m in MEASURES}, stop_at=stops, seed=seed, record_every=10,
        pcs=n_pcs, decode=DECODED, matched_gaussian=JOINT_MEASURES, dtype="float32", save_final=False,
        progress=False), out)
    runs = headline.tables["runs"]
    steps = {short_name(r.measure): None if pd.isna(r.reached_step) else int(r.reached_step)
             for r in runs.itertuples()}
    facts = headline.tables["reference"]
    reference_accuracy = {f"decode_{r.key}": r.value for r in facts[facts.quantity == "accuracy"].itertuples()}
    chance = {f"decode_{r.key}": r.value for r in facts[facts.quantity == "chance"].itertuples()}
    log("optimized " + ", ".join(f"{k} ({'stop at step ' + str(v) if v is not None else 'no stop'})"
                                 for k, v in steps.items()) + "; PC capture (data and matched Gaussian); decoding")

    # 2. baselines (Fig. 2) and top-k decoding (Fig. 3c,d)
    base_record = baselines_experiment.run(baselines_experiment.Settings(reference, MEASURES,
                                                                         splits=3 if quick else 10, seed=seed), out)
    base = base_record.table
    topk_record = topk_experiment.run(topk_experiment.Settings(reference, decode=DECODED, seed=seed), out)
    log("baselines, top-k decoding")

    # 3. the two-PC variance sweep (Fig. 4d,e) and the single-PC perturbation (Fig. 6a)
    sweep_record = sweep_experiment.run(sweep_experiment.Settings(
        seed=seed, steps=600 if quick else 2000, record_every=2, progress=False), out)
    sweep_pc2 = sweep_record.tables["thresholds"]
    sweep_pc2 = sweep_pc2[sweep_pc2.pc == 2]
    perturbed_record = perturb_experiment.run(perturb_experiment.Settings(reference, seed=seed), out)
    perturbed = perturbed_record.table
    resampled = perturb_pcs(reference, ks=range(10), mode="resample", seed=seed).table
    log("variance sweep and single-PC perturbation")

    # 4. joint optimization of CKA and angular Procrustes (Fig. 6c), on fewer units to keep it short
    jointly = joint_experiment.run(joint_experiment.Settings(
        mante_like(n_units=min(n_units, 40 if quick else 60), seed=seed), JOINT_MEASURES, grid=3 if quick else 6,
        steps=100 if quick else 200, lr=0.05, seed=seed, record_every=10, dtype="float32", progress=False), out)
    log("joint optimization")

    names = list(dict.fromkeys(headline.tables["trajectory"]["measure"]))
    summary = _summary(reference, names, headline.tables["pc_capture"], headline.tables["decoding"], base, sweep_pc2,
                       perturbed, resampled, jointly.tables["trajectory"], reference_accuracy, chance, steps)
    files = [*headline.files, *base_record.files, *topk_record.files, *sweep_record.files, *perturbed_record.files,
             *jointly.files]
    figures = sorted(name.rsplit("/", 1)[-1].removesuffix(".png") for name in files if name.endswith(".png"))
    output.text(_summary_markdown(summary, figures, quick), "summary.md")
    output.text(json.dumps(json_safe(summary), indent=2, allow_nan=False), "summary.json")  # NaN: null
    files += output.files  # summary.md and summary.json: the experiments above wrote the rest
    log(f"wrote {len(files)} files")
    tables = {f"headline_{k}": v for k, v in headline.tables.items()}
    tables.update({"baselines": base, "topk_decoding": topk_record.table, "variance_sweep_pc2": sweep_pc2,
                   "perturbation": perturbed, "perturbation_resample": resampled,
                   "joint": jointly.tables["trajectory"]})
    return Record(f"experiments.{NAME}", {**settings.to_dict(), "summary": summary}, tables, files=files)


def _summary(reference, names, capture, decoded, base, sweep_pc2, perturbed, resampled, final,
             reference_accuracy, chance, steps) -> dict:
    rows = []
    data = capture[capture.reference == "data"]
    gauss = capture[capture.reference != "data"]
    for name in names:
        mine = data[data.measure == name]
        predicted = gauss[gauss.measure == name]
        by_variable = decoded[decoded.measure == name].set_index("variable").value
        ca = base[(base.measure == short_name(name)) & (base.baseline == "condition_average")].score
        ns = base[(base.measure == short_name(name)) & (base.baseline == "neuron_split")].score
        rows.append({
            "measure": short_name(name),
            "canonical": name,
            "step_at_0.99": steps[short_name(name)],
            "pc_score": {int(r.pc): r.value for r in mine.itertuples()},
            "pc_score_matched_gaussian": {int(r.pc): r.value for r in predicted.itertuples()},
            "pcs_captured_at_0.9": int((mine.value <= 0.9).sum()),
            "decoding_score": {k: float(v) for k, v in by_variable.items()},
            "condition_average": float(ca.iloc[0]) if len(ca) else math.nan,
            "neuron_split": float(ns.iloc[0]) if len(ns) else math.nan,
        })
    sweep = {short_name(m): {float(r.ratio): r.value for r in g.itertuples()} for m, g in sweep_pc2.groupby("measure")}
    perturbation_error = float((perturbed.simulated - perturbed.closed_form).abs().max())
    resample_error = float(((resampled.simulated - resampled.closed_form) / resampled.closed_form).abs().max())
    cka, ap = final["cka"].to_numpy(), final["angular-procrustes"].to_numpy()
    high_ap = ap >= 0.9
    return {
        "reference": {"shape": list(reference.shape), "accuracy": reference_accuracy, "chance": chance},
        "measures": rows,
        "variance_sweep_pc2": sweep,
        "perturbation_max_error_orthogonal": perturbation_error,
        "perturbation_max_relative_error_resample": resample_error,
        "joint": {
            "n_points": int(len(cka)),
            "min_cka_given_ap_0.9": float(cka[high_ap].min()) if high_ap.any() else math.nan,
            "min_ap_given_cka_0.9": float(ap[cka >= 0.9].min()) if (cka >= 0.9).any() else math.nan,
        },
    }


def _summary_markdown(summary: dict, figures: list[str], quick: bool) -> str:
    ref = summary["reference"]
    variables = [k.removeprefix("decode_") for k in ref["accuracy"]]
    lines = [
        "# repalign demo: what optimized data learns as its score rises",
        "",
        f"Reference: `mante_like`, {' × '.join(map(str, ref['shape']))} (time × condition × unit)"
        + (" — **quick run, shrunk sizes**" if quick else "") + ". Decoding accuracy of the reference "
        + ", ".join(f"{v} {ref['accuracy']['decode_' + v]:.2f}" for v in variables)
        + f" (chance {min(ref['chance'].values()):.2f}).",
        "",
        "Gaussian noise was optimized towards it with Adam (lr 0.02) until each score reached a fixed "
        "threshold: 0.99 (angular Procrustes, CKA), 0.95 (angular CKA, i.e. CKA 0.994), 0.99 of its ceiling "
        "ridge-cv(X, X) < 1 (ridge-CV, lr 0.05 and at most 100 steps).",
        "",
        "## Principal components: score at which each PC is captured (R² halfway from its start to 1; — : never)",
        "",
        "| measure | steps to stop | PC 1 | PC 2 | PC 5 | PC 10 | PC 20 | PCs captured by score 0.9 |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in summary["measures"]:
        pcs = row["pc_score"]
        lines.append(f"| {row['measure']} | {row['step_at_0.99'] if row['step_at_0.99'] is not None else '—'} | "
                     + " | ".join(_fmt(pcs.get(k)) for k in (1, 2, 5, 10, 20))
                     + f" | {row['pcs_captured_at_0.9']} of {len(pcs)} |")
    lines += ["", "Matched Gaussian (same spectrum, random directions) — the spectrum's prediction "
              "(angular Procrustes and CKA):", "",
              "| measure | PC 1 | PC 2 | PC 5 | PC 10 | PC 20 |", "|---|---|---|---|---|---|"]
    for row in summary["measures"]:
        pcs = row["pc_score_matched_gaussian"]
        if not pcs:
            continue
        lines.append(f"| {row['measure']} | " + " | ".join(_fmt(pcs.get(k)) for k in (1, 2, 5, 10, 20)) + " |")
    lines += ["", "## Task variables: score at which decoding reaches chance + 0.9 × (reference − chance)", "",
              "| measure | " + " | ".join(variables) + " | condition-average baseline | neuron-split baseline |",
              "|---|" + "---|" * (len(variables) + 2)]
    for row in summary["measures"]:
        lines.append(f"| {row['measure']} | " + " | ".join(_fmt(row["decoding_score"].get(v)) for v in variables)
                     + f" | {_fmt(row['condition_average'])} | {_fmt(row['neuron_split'])} |")
    lines += ["", "— : not reached before the run stopped.", ""]
    sweep = summary["variance_sweep_pc2"]
    if sweep:
        ratios = sorted({r for v in sweep.values() for r in v}, reverse=True)
        lines += ["## Two-PC reference (Fig. 4e): score at which PC 2 is captured, by variance ratio λ₂/λ₁", "",
                  "| measure | " + " | ".join(f"{r:g}" for r in ratios) + " |", "|---|" + "---|" * len(ratios)]
        for measure, values in sweep.items():
            lines.append(f"| {measure} | " + " | ".join(_fmt(values.get(r)) for r in ratios) + " |")
        lines.append("")
    joint = summary["joint"]
    lines += [
        "## Single-PC perturbation (Fig. 6a) and joint optimization (Fig. 6c)", "",
        f"- Replacing PC k by an orthogonal direction of equal variance matches the closed forms "
        f"(CKA ≈ Σ_{{i≠k}}λᵢ²/Σλᵢ², NBS ≈ Σ_{{i≠k}}λᵢ/Σλᵢ) to {summary['perturbation_max_error_orthogonal']:.1e}; "
        f"the random-resampling variant to "
        f"{100 * summary['perturbation_max_relative_error_resample']:.2f} % (relative).",
        f"- Joint optimization of CKA and angular Procrustes ({joint['n_points']} recorded points): where angular "
        f"Procrustes ≥ 0.9, CKA ≥ {_fmt(joint['min_cka_given_ap_0.9'])}; where CKA ≥ 0.9, angular Procrustes goes "
        f"down to {_fmt(joint['min_ap_given_cka_0.9'])}. A high angular Procrustes score implies a high CKA "
        f"score, not the converse.",
        "",
        "## Files",
        "",
        "Each figure is a PNG and a PDF with its data as CSV: " + ", ".join(figures)
        + "; `summary.json` holds these numbers.",
        "",
    ]
    return "\n".join(lines)

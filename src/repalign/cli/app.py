"""The ``repalign`` commands: each builds an experiment's settings from its options, runs it, prints a summary.

The science lives in :mod:`repalign.experiments`; a command only translates options into settings
and a record into lines of text (or JSON with ``--json``).
"""

from __future__ import annotations

import inspect
import json
import math
from pathlib import Path

import typer

from .. import experiments
from ..experiments.compare import Settings as CompareSettings
from ..experiments.compare_models import Settings as CompareModelsSettings
from ..experiments.train import Settings as TrainSettings
from ..optimization import OptimizeSettings
from ..optimization.settings import DEFAULT_DTYPE
from ..registry import measure as registry_measure
from ..registry import short_name
from .output import WIDTH, catalogue_markdown, compact, measure_rows, plain_math, print_table
from .sweep import sweep_app

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="repalign: standardized, differentiable similarity measures between representations.")

app.add_typer(sweep_app, name="sweep")

DATA_HELP = "data file: .npy, .csv, .npz[:NAME] or .nc[:NAME] (a saved Dataset or plain arrays)"
MEASURE_HELP = "measure name or alias (repeatable)"
OUT_HELP = "output folder for tables (CSV) and figures (PNG + PDF)"
THREADS_HELP = "torch and BLAS/OpenMP threads while the command runs (default 1: fastest for these small problems)"
# the defaults of repalign.optimize (the seed paper's), shared by `repalign optimize`
OPTIMIZE = OptimizeSettings()
# the defaults of `repalign train`: those of the train experiment (the seed code's, via repalign.training.train)
TRAIN = TrainSettings()
# the defaults of `repalign compare` (its statistics)
COMPARE = CompareSettings(x="X", y="Y")
# the defaults of `repalign compare-models`: those of the compare_models experiment
COMPARE_MODELS = CompareModelsSettings()

# the option (or argument) of each settings field whose name on the command line differs
OPTION_OF_FIELD = {"measures": "--measure", "x": "X", "y": "Y", "data": "DATA", "lcurve_name": "--plot",
                   "save_final": "--no-final", "ratios": "--ratio", "ks": "--k",
                   "architectures": "--architecture", "seeds": "--seed",
                   "n_resamples": "--resamples", "n_permutations": "--permutations", "n_splits": "--splits"}


def option_of(field: str) -> str:
    """The command-line spelling of a settings field (``record_every`` → ``--record-every``), or the field's
    own name when no command has such an option (an error from deeper in the library)."""
    if field in OPTION_OF_FIELD:
        return OPTION_OF_FIELD[field]
    option = "--" + field.replace("_", "-")
    return option if option in _options() else field


def _options() -> set[str]:
    """Every option of every command (``--steps``, ``--record-every``...)."""
    options = set()
    for command in app.registered_commands + [c for group in app.registered_groups
                                              for c in group.typer_instance.registered_commands]:
        for parameter in inspect.signature(command.callback).parameters.values():
            declared = getattr(parameter.default, "param_decls", None) or ()
            options.update(d for d in declared if d.startswith("--"))
    return options


def _records(table) -> list[dict]:
    """The rows of a table as dicts, missing values as None (JSON null)."""
    return table.astype(object).where(table.notna(), None).to_dict(orient="records")


def _agg_backend() -> None:
    import matplotlib  # noqa: PLC0415 -- figures are files here, never windows

    matplotlib.use("Agg")


@app.command("measures")
def measures_command(
    pattern: str = typer.Argument(None, help="shell-style wildcard, e.g. 'cka-*'"),
    as_json: bool = typer.Option(False, "--json", help="print JSON instead of a table"),
    markdown: bool = typer.Option(False, "--markdown", help="print the conventions page (docs/catalogue.md)"),
    long: bool = typer.Option(False, "--long", help="add the invariances and flags (a wide table)"),
):
    """List the catalogue: canonical names, aliases, kind and range (`--long`: invariances and flags too;
    `repalign describe NAME`: everything about one measure)."""
    if markdown:
        if as_json or long or pattern is not None:
            raise experiments.SettingsError("markdown", "prints the whole catalogue page; give it without a "
                                                        "pattern, --json or --long")
        print(catalogue_markdown(), end="")
        return
    rows = measure_rows(pattern)
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    table = [{**r, "aliases": ", ".join(r["aliases"]) or "-",
              "flags": " ".join(f for f, on in (("diff", r["differentiable"]), ("n×n", r["needs_n_by_n"]),
                                                 ("metric", r["metric"])) if on)} for r in rows]
    if long:
        print_table(table, ["name", "aliases", "kind", "range", "invariances", "flags"])
    else:  # a terminal's width: long names wrap at their dashes
        print_table(table, ["name", "aliases", "kind", "range"], width=WIDTH)


@app.command("describe")
def describe_command(name: str = typer.Argument(..., help="measure name or alias")):
    """Print a measure's exact definition, parameters and metadata (its math as plain text)."""
    print(plain_math(registry_measure(name).describe()))


@app.command("compare")
def compare_command(
    x: str = typer.Argument(..., help="reference X: " + DATA_HELP),
    y: str = typer.Argument(..., help="model Y, same formats"),
    measure: list[str] = typer.Option(["cka", "angular-procrustes"], "-m", "--measure", help=MEASURE_HELP),
    ci: bool = typer.Option(False, "--ci", help="bootstrap interval over conditions (rows of 2D data)"),
    null: bool = typer.Option(False, "--null", help="permutation null: chance level and p-value (Y's conditions "
                                                    "shuffled against X's)"),
    resamples: int = typer.Option(COMPARE.n_resamples, "--resamples", help="resamples for --ci"),
    permutations: int = typer.Option(COMPARE.n_permutations, "--permutations", help="permutations for --null"),
    confidence_level: float = typer.Option(COMPARE.confidence_level, "--confidence-level",
                                           help="of the interval for --ci"),
    method: str = typer.Option(COMPARE.method, "--method",
                               help="interval for --ci: normal (default), percentile, basic or bca"),
    sampling: str = typer.Option(None, "--sampling", help="resampling for --ci: half (default with normal "
                                                          "intervals) or replacement (the bootstrap)"),
    seed: int = typer.Option(COMPARE.seed, "--seed", help="seed of the resamples and permutations"),
    as_json: bool = typer.Option(False, "--json", help="print JSON instead of a table"),
    threads: int = typer.Option(None, "--threads", help=THREADS_HELP),
):
    """Score X against Y with one or more measures (--ci: with a bootstrap interval; --null: with the chance level
    and p-value of a permutation null)."""
    record = experiments.run("compare", {"x": x, "y": y, "measures": tuple(measure), "ci": ci, "null": null,
                                         "n_resamples": resamples, "n_permutations": permutations,
                                         "confidence_level": confidence_level, "method": method,
                                         "sampling": sampling, "seed": seed},
                             threads=threads)
    rows = _records(record.table)
    if as_json:
        print(json.dumps(rows, indent=2))
    else:
        def number(value, digits=6):
            return "nan" if value is None else f"{value:.{digits}f}"

        shown = [{**r, "value": f"error: {r['error']}" if r["error"] is not None else number(r["value"]),
                  "interval": "" if r["error"] is not None or not ci else f"[{number(r['low'])}, {number(r['high'])}]",
                  "chance": "" if r["error"] is not None or not null else number(r["chance"]),
                  "p": "" if r["error"] is not None or not null else number(r["p_value"], 4)} for r in rows]
        columns = ["measure", "name", "kind", "value"] + (["interval"] if ci else []) + (["chance", "p"] if null else [])
        print_table(shown, columns)
    if any(r["error"] is not None for r in rows):
        raise typer.Exit(code=1)


@app.command("match")
def match_command(
    x: str = typer.Argument(..., help="population X (samples x units): " + DATA_HELP),
    y: str = typer.Argument(..., help="population Y, same formats"),
    partial: bool = typer.Option(False, "--partial", help="partial soft matching with --mass"),
    mass: float = typer.Option(None, "--mass", help="transported mass s in (0, 1] for --partial"),
    lcurve: bool = typer.Option(False, "--lcurve", help="scan s, pick the L-curve elbow, match with it"),
    points: int = typer.Option(50, "--points", help="grid points of s for --lcurve"),
    cv: int = typer.Option(None, "--cv", help="K-fold cross-validated L-curve (default: in-sample)"),
    threshold: float = typer.Option(0.5, "--threshold", help="a unit is matched above threshold/N of mass"),
    plot: str = typer.Option("lcurve", "--plot", help="path (without suffix) of the L-curve PNG/PDF/CSV"),
    as_json: bool = typer.Option(False, "--json", help="print JSON instead of text"),
    threads: int = typer.Option(None, "--threads", help=THREADS_HELP),
):
    """Soft matching of X's and Y's units: the score, and with --partial/--lcurve the matched units."""
    if plot != "lcurve" and not lcurve:
        raise experiments.SettingsError("lcurve_name", "applies to --lcurve only")
    _agg_backend()
    record = experiments.run("match", {
        "x": x, "y": y, "partial": partial, "mass": mass, "lcurve": lcurve, "points": points, "cv": cv,
        "threshold": threshold, "lcurve_name": Path(plot).name, "progress": None if not as_json else False,
    }, out=Path(plot).parent if lcurve else None, threads=threads)
    summary = record.tables["summary"].iloc[0].to_dict()
    result = {"soft_matching_score": summary["soft_matching_score"]}
    if lcurve:
        result["lcurve"] = {"elbow_mass": summary["mass"], "unmatched_mass": 1 - summary["mass"],
                            "files": list(record.files)}
    units = record.tables.get("units")
    if units is not None:
        result.update({k: summary[k] for k in ("mass", "partial_score", "partial_normalized_score")})
        for side in ("X", "Y"):
            rows = units[units.side == side]
            result[f"matched_{side.lower()}"] = rows.unit[rows.matched].tolist()
            result[f"unmatched_{side.lower()}"] = rows.unit[~rows.matched].tolist()
    if as_json:
        print(json.dumps(result, indent=2))
        return
    print(f"soft matching score s_T: {result['soft_matching_score']:.6f}")
    if lcurve:
        mass = result["lcurve"]["elbow_mass"]
        print(f"L-curve elbow: s = {mass:.4g} (unmatched mass {1 - mass:.4g}); wrote "
              f"{', '.join(result['lcurve']['files'])}")
    if units is not None:
        print(f"partial soft matching, s = {result['mass']:.4g}: score {result['partial_score']:.6f}, "
              f"normalized {result['partial_normalized_score']:.6f}")
        for side in ("x", "y"):
            matched, unmatched = result[f"matched_{side}"], result[f"unmatched_{side}"]
            print(f"matched units of {side.upper()} ({len(matched)}): {compact(matched)}")
            print(f"unmatched units of {side.upper()} ({len(unmatched)}): {compact(unmatched)}")


@app.command("optimize")
def optimize_command(
    data: str = typer.Argument(..., help=DATA_HELP),
    measure: list[str] = typer.Option(["angular-procrustes", "cka"], "-m", "--measure", help=MEASURE_HELP),
    steps: int = typer.Option(OPTIMIZE.max_steps, "--steps", help="maximum number of Adam steps"),
    lr: float = typer.Option(OPTIMIZE.lr, "--lr", help="learning rate"),
    stop_at: float = typer.Option(OPTIMIZE.stop_at, "--stop-at",
                                  help="stop a run once its value reaches this, in the measure's own direction and "
                                       "unit: a score at or above it, a distance at or below it (default: never)"),
    runs: int = typer.Option(OPTIMIZE.n_runs, "--runs", help="runs (seeds) per measure"),
    seed: int = typer.Option(OPTIMIZE.seed, "--seed", help="seed of the first run's noise and of the folds"),
    record_every: int = typer.Option(OPTIMIZE.record_every, "--record-every",
                                     help="record values and trackers every N steps"),
    decode_every: int = typer.Option(10, "--decode-every",
                                     help="decode only at the recorded steps that are multiples of N (decoding is "
                                          "the costly tracker)"),
    pcs: int = typer.Option(10, "--pcs", help="track the R² of this many reference PCs (0: none)"),
    decode: list[str] = typer.Option(None, "--decode", help="task variable to decode (repeatable; default: every "
                                     "column of the conditions table with 2+ values, 5+ conditions each)"),
    no_decode: bool = typer.Option(False, "--no-decode", help="do not track decoding"),
    matched_gaussian: bool = typer.Option(False, "--matched-gaussian",
                                          help="also optimize towards the matched Gaussian (Fig. 5e)"),
    dtype: str = typer.Option(DEFAULT_DTYPE, "--dtype", help="float32 or float64"),
    checkpoint: str = typer.Option(None, "--checkpoint", help="checkpoint file (resumed from if present)"),
    no_final: bool = typer.Option(False, "--no-final", help="do not write the final data (final_Y.npy)"),
    out: str = typer.Option("results/optimize", "--out", help=OUT_HELP),
    threads: int = typer.Option(None, "--threads", help=THREADS_HELP),
):
    """Optimize Gaussian noise towards the dataset (the seed paper's method) and track what it learns.

    Scores are maximized and distances minimized. The defaults are repalign.optimize's (the seed
    paper's: Adam, lr 0.1, at most 1000 steps, float32, no stopping value).
    """
    if no_decode and decode:
        raise experiments.SettingsError("decode", "give either --decode or --no-decode, not both")
    _agg_backend()
    record = experiments.run("optimize", {
        "data": data, "measures": tuple(measure), "steps": steps, "lr": lr, "stop_at": stop_at, "runs": runs,
        "seed": seed, "record_every": record_every, "decode_every": decode_every, "pcs": pcs,
        "decode": () if no_decode else (tuple(decode) if decode else None), "matched_gaussian": matched_gaussian,
        "dtype": dtype, "checkpoint": checkpoint, "save_final": not no_final,
    }, out=out, threads=threads)
    runs_table = record.tables["runs"]
    print_table([{"measure": short_name(r.measure), "kind": r.kind, "run": str(r.run), "steps": str(r.steps),
                  "value": f"{r.final_value:.4f}"} for r in runs_table.itertuples()],
                ["measure", "kind", "run", "steps", "value"])
    print(f"wrote {len(record.files)} files to {out}")


@app.command("perturb")
def perturb_command(
    data: str = typer.Argument(..., help=DATA_HELP),
    measure: list[str] = typer.Option(["cka", "nbs", "angular-procrustes", "angular-cka"], "-m", "--measure",
                                      help=MEASURE_HELP),
    pcs: int = typer.Option(10, "--pcs", help="perturb each of the first N PCs"),
    mode: str = typer.Option("orthogonal", "--mode", help="orthogonal (exact closed forms) or resample"),
    repeats: int = typer.Option(1, "--repeats", help="independent draws per PC"),
    seed: int = typer.Option(0, "--seed", help="seed of the new PC scores"),
    out: str = typer.Option("results/perturb", "--out", help=OUT_HELP),
    threads: int = typer.Option(None, "--threads", help=THREADS_HELP),
):
    """Replace one PC at a time and compare the scores with the closed forms where they exist (the paper's Fig. 6a)."""
    _agg_backend()
    record = experiments.run("perturb", {"data": data, "measures": tuple(measure), "pcs": pcs, "mode": mode,
                                         "repeats": repeats, "seed": seed}, out=out, threads=threads)
    table = record.table
    errors = (table.simulated - table.closed_form).abs().groupby(table.measure, sort=False).max()
    print_table([{"measure": m, "max |simulated - closed form|": f"{v:.2e}" if v == v else "no closed form"}
                 for m, v in errors.items()],
                ["measure", "max |simulated - closed form|"])
    print(f"wrote {', '.join(record.files)}")


@app.command("joint")
def joint_command(
    data: str = typer.Argument(..., help=DATA_HELP),
    measure: list[str] = typer.Option(["cka", "angular-procrustes"], "-m", "--measure",
                                      help=MEASURE_HELP + "; at least two scores in [0, 1]"),
    grid: int = typer.Option(5, "--grid", help="targets per axis of the unit square (cube)"),
    steps: int = typer.Option(300, "--steps", help="Adam steps"),
    lr: float = typer.Option(0.05, "--lr", help="learning rate"),
    seed: int = typer.Option(0, "--seed", help="seed of the first target's noise"),
    record_every: int = typer.Option(10, "--record-every", help="record every N steps"),
    checkpoint: str = typer.Option(None, "--checkpoint", help="checkpoint file (resumed from if present)"),
    out: str = typer.Option("results/joint", "--out", help=OUT_HELP),
    threads: int = typer.Option(None, "--threads", help=THREADS_HELP),
):
    """Optimize several scores jointly towards a grid of targets: their allowed region (Fig. 6b,c)."""
    _agg_backend()
    record = experiments.run("joint", {"data": data, "measures": tuple(measure), "grid": grid, "steps": steps,
                                       "lr": lr, "seed": seed, "record_every": record_every,
                                       "checkpoint": checkpoint}, out=out, threads=threads)
    final = record.tables["final"]
    print(final[list(measure) + ["loss"]].describe().loc[["min", "max"]].to_string(float_format="%.3f"))
    print(f"wrote {', '.join(record.files)}")


@app.command("baselines")
def baselines_command(
    data: str = typer.Argument(..., help=DATA_HELP),
    measure: list[str] = typer.Option(["angular-procrustes", "cka", "angular-cka", "ridge-cv"], "-m", "--measure",
                                      help=MEASURE_HELP),
    splits: int = typer.Option(10, "--splits", help="random halvings of the units (neuron-split baseline)"),
    seed: int = typer.Option(0, "--seed", help="seed of the neuron splits"),
    out: str = typer.Option("results/baselines", "--out", help=OUT_HELP),
    threads: int = typer.Option(None, "--threads", help=THREADS_HELP),
):
    """Condition-average and neuron-split baseline scores of each measure (the paper's Fig. 2)."""
    _agg_backend()
    record = experiments.run("baselines", {"data": data, "measures": tuple(measure), "splits": splits,
                                           "seed": seed}, out=out, threads=threads)
    print_table([{"measure": r.measure, "baseline": r.baseline, "score": f"{r.score:.4f}",
                  "std": "-" if math.isnan(r.std) else f"{r.std:.4f}"} for r in record.table.itertuples()],
                ["measure", "baseline", "score", "std"])
    print(f"wrote {', '.join(record.files)}")


@app.command("variance-sweep")
def variance_sweep_command(
    ratio: list[float] = typer.Option([1.0, 0.3, 0.1, 0.03], "--ratio", help="variance ratio λ₂/λ₁ (repeatable)"),
    measure: list[str] = typer.Option(["angular-procrustes", "cka", "linreg"], "-m", "--measure", help=MEASURE_HELP),
    steps: int = typer.Option(2000, "--steps", help="maximum number of Adam steps"),
    lr: float = typer.Option(0.01, "--lr", help="learning rate"),
    seed: int = typer.Option(0, "--seed", help="seed of the first run's noise"),
    record_every: int = typer.Option(1, "--record-every", help="record every N steps"),
    out: str = typer.Option("results/variance_sweep", "--out", help=OUT_HELP),
    threads: int = typer.Option(None, "--threads", help=THREADS_HELP),
):
    """Optimize towards the two-PC reference for several variance ratios: when is PC 2 captured (Fig. 4d,e)?

    PC 2 is captured where its R² reaches halfway from its start to 1 (the seed paper's rule).
    """
    _agg_backend()
    record = experiments.run("variance_sweep", {"ratios": tuple(ratio), "measures": tuple(measure), "steps": steps,
                                                "lr": lr, "seed": seed, "record_every": record_every}, out=out,
                             threads=threads)
    pc2 = record.tables["thresholds"]
    pc2 = pc2[pc2.pc == 2]
    print_table([{"ratio": f"{r.ratio:g}", "measure": short_name(r.measure),
                  "score capturing PC 2": "never" if math.isnan(r.value) else f"{r.value:.3f}"}
                 for r in pc2.itertuples()],
                ["ratio", "measure", "score capturing PC 2"])
    print(f"wrote {', '.join(record.files)}")


@app.command("topk-decoding")
def topk_decoding_command(
    data: str = typer.Argument(..., help=DATA_HELP),
    decode: list[str] = typer.Option(None, "--decode", help="task variable to decode (repeatable; default: every "
                                     "column of the conditions table with 2+ values, 5+ conditions each)"),
    k: list[int] = typer.Option(None, "-k", "--k", help="number of top PCs (repeatable; default 1, 2, 3, 5, 10, ...)"),
    seed: int = typer.Option(0, "--seed", help="seed of the folds"),
    out: str = typer.Option("results/topk_decoding", "--out", help=OUT_HELP),
    threads: int = typer.Option(None, "--threads", help=THREADS_HELP),
):
    """Decode the task variables from the dataset's top k principal components (Fig. 3c,d)."""
    _agg_backend()
    record = experiments.run("topk_decoding", {"data": data, "decode": tuple(decode) if decode else None,
                                               "ks": tuple(k) if k else None, "seed": seed}, out=out,
                             threads=threads)
    print_table([{"k": str(r.k), "variance": f"{r.cumulative_variance:.3f}", "variable": r.variable,
                  "accuracy": f"{r.accuracy:.3f}", "all units": f"{r.reference_accuracy:.3f}"}
                 for r in record.table.itertuples()], ["k", "variance", "variable", "accuracy", "all units"])
    print(f"wrote {', '.join(record.files)}")


@app.command("train")
def train_command(
    task: str = typer.Option(TRAIN.task, "--task", help="mante (context-dependent integration) or reaching (the M1 "
                                                     "recording's centre-out task)"),
    architecture: list[str] = typer.Option(None, "-a", "--architecture",
                                           help="CELL-ACTIVATION, e.g. CTRNN-ReLU (repeatable; default all nine)"),
    seed: list[int] = typer.Option(list(TRAIN.seeds), "--seed", help="network seed (repeatable): one network per seed and "
                                                             "architecture"),
    max_steps: int = typer.Option(TRAIN.max_steps, "--max-steps", help="training step cap"),
    hidden_size: int = typer.Option(TRAIN.hidden_size, "--hidden-size", help="units per network"),
    eval_every: int = typer.Option(TRAIN.eval_every, "--eval-every", help="steps between held-out evaluations"),
    repeats: int = typer.Option(TRAIN.repeats, "--repeats", help="trials per condition of the behaviour checks"),
    m1: str = typer.Option(None, "--m1", help="the M1 recording file for --task reaching (default: ../shared/data)"),
    checkpoint: str = typer.Option(None, "--checkpoint", help="checkpoint file (resumed from if present)"),
    out: str = typer.Option("results/train", "--out", help=OUT_HELP + "; the networks as .npz"),
    threads: int = typer.Option(None, "--threads", help=THREADS_HELP),
):
    """Train a zoo of recurrent networks on a task, each to its criterion; psychometric curves or velocity fits.

    Networks that do not reach criterion within --max-steps are listed as such.
    """
    _agg_backend()
    fields = {"task": task, "seeds": tuple(seed), "max_steps": max_steps, "hidden_size": hidden_size,
              "eval_every": eval_every, "repeats": repeats, "m1": m1, "checkpoint": checkpoint}
    if architecture:
        fields["architectures"] = tuple(architecture)
    record = experiments.run("train", fields, out=out, threads=threads)
    networks = record.tables["networks"]
    last = "gated" if "gated" in networks else "R²"
    print_table([{"architecture": r.architecture, "seed": str(r.seed), "reached": "yes" if r.reached else "no",
                  "steps": str(r.steps), "accuracy": f"{r.accuracy:.3f}",
                  last: ("yes" if r.gated else "no") if last == "gated" else f"{r.r2:.3f}"}
                 for r in networks.itertuples()], ["architecture", "seed", "reached", "steps", "accuracy", last])
    missed = int((~networks.reached.astype(bool)).sum())
    if missed:  # train() has also warned on stderr, naming them
        print(f"{missed} of {len(networks)} network(s) did not reach criterion in {max_steps} steps")
    print(f"wrote {len(record.files)} files to {out}")


@app.command("compare-models")
def compare_models_command(
    task: str = typer.Option("mante", "--task", help="mante (reference mante_like) or reaching (the M1 recording)"),
    zoo: str = typer.Option(None, "--zoo", help="a `repalign train --out` folder (default: train the zoo here)"),
    reference: str = typer.Option(None, "--reference", help="another recording to score against: " + DATA_HELP),
    measure: list[str] = typer.Option(list(COMPARE_MODELS.measures), "-m", "--measure", help=MEASURE_HELP),
    architecture: list[str] = typer.Option(None, "-a", "--architecture",
                                           help="CELL-ACTIVATION of the zoo trained here (repeatable; default all nine)"),
    network_seed: list[int] = typer.Option(list(COMPARE_MODELS.seeds), "--network-seed",
                                           help="network seed of the zoo trained here (repeatable)"),
    max_steps: int = typer.Option(COMPARE_MODELS.max_steps, "--max-steps", help="training step cap of the zoo"),
    hidden_size: int = typer.Option(COMPARE_MODELS.hidden_size, "--hidden-size", help="units per network"),
    units: int = typer.Option(COMPARE_MODELS.units, "--units", help="units of the mante_like reference"),
    m1: str = typer.Option(None, "--m1", help="the M1 recording file (default: ../shared/data)"),
    resamples: int = typer.Option(COMPARE_MODELS.n_resamples, "--resamples", help="resamples of the conditions"),
    permutations: int = typer.Option(COMPARE_MODELS.n_permutations, "--permutations",
                                     help="permutations of the null (0: none)"),
    splits: int = typer.Option(COMPARE_MODELS.n_splits, "--splits", help="random halvings of the units (neuron split)"),
    confidence_level: float = typer.Option(COMPARE_MODELS.confidence_level, "--confidence-level",
                                           help="of the bootstrap intervals"),
    method: str = typer.Option(COMPARE_MODELS.method, "--method",
                               help="interval: normal (default), or with --sampling replacement percentile, basic "
                                    "or bca (bias-corrected, one more score per condition)"),
    sampling: str = typer.Option(None, "--sampling", help="half (default with normal intervals) or replacement"),
    seed: int = typer.Option(COMPARE_MODELS.seed, "--seed", help="seed of the reference, training, recording, "
                                                                  "resamples and splits"),
    out: str = typer.Option("results/compare_models", "--out", help=OUT_HELP),
    threads: int = typer.Option(None, "--threads", help=THREADS_HELP),
):
    """A zoo of task-trained networks against a recording (Fig. 2c,d): scores with bootstrap intervals and
    permutation nulls, both baselines, and whether the measures agree on the ranking and the baselines (C5)."""
    _agg_backend()
    fields = {"task": task, "zoo": zoo, "reference": reference, "measures": tuple(measure),
              "seeds": tuple(network_seed), "max_steps": max_steps, "hidden_size": hidden_size, "units": units,
              "m1": m1, "n_resamples": resamples, "n_permutations": permutations, "n_splits": splits,
              "confidence_level": confidence_level, "method": method, "sampling": sampling, "seed": seed}
    if architecture:
        fields["architectures"] = tuple(architecture)
    record = experiments.run("compare_models", fields, out=out, threads=threads)
    table = record.table
    print_table([{"model": r.model, "measure": r.measure, "estimate": f"{r.estimate:.4f}",
                  "interval": f"[{r.low:.4f}, {r.high:.4f}]",
                  "chance": "-" if math.isnan(r.chance) else f"{r.chance:.4f}",
                  "p": "-" if math.isnan(r.p_value) else f"{r.p_value:.3g}"} for r in table.itertuples()],
                ["model", "measure", "estimate", "interval", "chance", "p"], width=WIDTH)
    print()
    print_table([{"measure": r.measure, "baseline": r.baseline, "score": f"{r.score:.4f}",
                  "std": "-" if math.isnan(r.std) else f"{r.std:.4f}"} for r in record.tables["baselines"].itertuples()],
                ["measure", "baseline", "score", "std"], width=WIDTH)
    print()
    print_table([{"measure A": r.measure_a, "measure B": r.measure_b, "tau": f"{r.tau:.3f}",
                  "interval": f"[{r.low:.3f}, {r.high:.3f}]"} for r in record.tables["agreement"].itertuples()],
                ["measure A", "measure B", "tau", "interval"], width=WIDTH)
    verdict = record.settings["verdict"]
    print(f"ranking: {'no disagreement shown' if verdict['ranking_agree'] else 'the measures disagree (C5)'}; "
          f"baselines: {'the measures agree' if verdict['baselines_agree'] else 'the measures disagree (C5)'} "
          "(definitions in summary.md)")
    print(f"wrote {len(record.files)} files to {out}")


@app.command("demo")
def demo_command(
    quick: bool = typer.Option(False, "--quick", help="shrunk sizes, about a minute"),
    seed: int = typer.Option(0, "--seed", help="seed of the data, the noise and the folds"),
    units: int = typer.Option(727, "--units", help="units of the mante_like reference"),
    m1: str = typer.Option(None, "--m1", help="the M1 recording file of the reaching network (default: "
                                               "../shared/data; skipped when absent there)"),
    out: str = typer.Option("results/demo", "--out", help=OUT_HELP),
    threads: int = typer.Option(None, "--threads", help=THREADS_HELP),
):
    """The seed paper's headline experiment on mante_like (what `make demo` runs); prints summary.md."""
    _agg_backend()
    experiments.run("demo", {"seed": seed, "units": units, "quick": quick, "m1": m1}, out=out, threads=threads)
    print()
    print((Path(out) / "summary.md").read_text())

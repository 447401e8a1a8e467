"""Command line: ``repalign measures``, ``describe``, ``compare``, ``match``, and the seed paper's
experiments on any dataset file: ``optimize``, ``perturb``, ``joint`` and ``baselines``.

Follows the library's conventions: the same names, aliases and keyword-free canonical
spellings; errors are the library's ``ValueError`` messages, printed without a traceback.
"""

from __future__ import annotations

import json
import math
import sys
import time

import numpy as np


def _invariance_text(invariances: dict) -> str:
    x, y = sorted(invariances["X"]), sorted(invariances["Y"])
    if x == y:
        return ", ".join(x) or "-"
    return f"X: {', '.join(x) or '-'}; Y: {', '.join(y) or '-'}"


def _format_bound(value: float) -> str:
    named = {math.inf: "inf", -math.inf: "-inf", math.pi / 2: "π/2", math.pi: "π"}
    return named.get(value, f"{value:g}")


def _format_range(bounds) -> str:
    return f"[{_format_bound(bounds[0])}, {_format_bound(bounds[1])}]"


def measure_rows(pattern: str | None = None) -> list[dict]:
    """One row per catalogue entry: name, aliases, kind, range, invariances, flags."""
    from . import registry

    by_target: dict[str, list[str]] = {}
    for alias, target in registry.aliases().items():
        by_target.setdefault(target, []).append(alias)
    rows = []
    for name in registry.measures(pattern):
        m = registry.measure(name)
        rows.append({
            "name": name,
            "aliases": by_target.get(name, []),
            "kind": m.kind,
            "range": _format_range(m.range),
            "invariances": _invariance_text(m.invariances),
            "differentiable": m.differentiable,
            "needs_n_by_n": m.needs_n_by_n,
            "metric": m.is_metric,
        })
    return rows


def _print_table(rows: list[dict], columns: list[str]) -> None:
    widths = {c: max(len(c), *(len(str(r[c])) for r in rows)) for c in columns}
    print("  ".join(c.ljust(widths[c]) for c in columns))
    print("  ".join("-" * widths[c] for c in columns))
    for row in rows:
        print("  ".join(str(row[c]).ljust(widths[c]) for c in columns))


def _build_app():
    import typer

    app = typer.Typer(
        add_completion=False, no_args_is_help=True,
        help="repalign: standardized, differentiable similarity measures between representations.",
    )

    @app.command("measures")
    def list_measures(
        pattern: str = typer.Argument(None, help="shell-style wildcard, e.g. 'cka-*'"),
        as_json: bool = typer.Option(False, "--json", help="print JSON instead of a table"),
    ):
        """List the catalogue: canonical names, aliases, kind, range and invariances."""
        rows = measure_rows(pattern)
        if as_json:
            print(json.dumps(rows, indent=2))
            return
        table = [{**r, "aliases": ", ".join(r["aliases"]) or "-",
                  "flags": " ".join(f for f, on in (("diff", r["differentiable"]), ("n×n", r["needs_n_by_n"]),
                                                     ("metric", r["metric"])) if on)} for r in rows]
        _print_table(table, ["name", "aliases", "kind", "range", "invariances", "flags"])

    @app.command("describe")
    def describe(name: str = typer.Argument(..., help="measure name or alias")):
        """Print a measure's exact definition, parameters and metadata."""
        from . import registry

        print(registry.measure(name).describe())

    @app.command("compare")
    def compare(
        x: str = typer.Argument(..., help="reference X: .npy, .npz[:name], .csv or .nc[:variable]"),
        y: str = typer.Argument(..., help="model Y, same formats"),
        measure: list[str] = typer.Option(["cka", "angular-procrustes"], "-m", "--measure",
                                          help="measure name or alias (repeatable)"),
        as_json: bool = typer.Option(False, "--json", help="print JSON instead of a table"),
    ):
        """Score X against Y with one or more measures."""
        from . import registry
        from .io import load_array

        X, Y = load_array(x), load_array(y)
        selected = [registry.measure(name) for name in measure]  # unknown names fail before any work
        rows = []
        for name, m in zip(measure, selected):
            start = time.perf_counter()
            try:
                value, error = m(X, Y), None
            except ValueError as err:  # one measure's requirement (e.g. CCA's n > p) must not hide the others
                value, error = None, str(err)
            rows.append({"measure": name, "name": m.name, "kind": m.kind, "value": value, "error": error,
                         "seconds": round(time.perf_counter() - start, 4)})
        if as_json:
            print(json.dumps(rows, indent=2))
        else:
            _print_table(
                [{**r, "value": f"{r['value']:.6f}" if r["error"] is None else f"error: {r['error']}"} for r in rows],
                ["measure", "name", "kind", "value"],
            )
        if any(r["error"] for r in rows):
            raise typer.Exit(code=1)

    @app.command("match")
    def match(
        x: str = typer.Argument(..., help="population X (samples x units): .npy, .npz[:name], .csv or .nc[:variable]"),
        y: str = typer.Argument(..., help="population Y, same formats"),
        partial: bool = typer.Option(False, "--partial", help="partial soft matching with --mass"),
        mass: float = typer.Option(None, "--mass", help="transported mass s in (0, 1] for --partial"),
        lcurve: bool = typer.Option(False, "--lcurve", help="scan s, pick the L-curve elbow, match with it"),
        points: int = typer.Option(50, "--points", help="grid points of s for --lcurve"),
        cv: int = typer.Option(None, "--cv", help="K-fold cross-validated L-curve (default: in-sample)"),
        threshold: float = typer.Option(0.5, "--threshold", help="a unit is matched above threshold/N of mass"),
        plot: str = typer.Option("lcurve", "--plot", help="path (without suffix) for the L-curve PNG/PDF/CSV"),
        as_json: bool = typer.Option(False, "--json", help="print JSON instead of text"),
    ):
        """Soft matching of X's and Y's units: the score, and with --partial/--lcurve the matched units."""
        import numpy as np

        from . import matching
        from .io import load_array

        if partial and lcurve:
            raise ValueError("give either --partial --mass S or --lcurve, not both")
        if partial and mass is None:
            raise ValueError("--partial needs --mass S (0 < S <= 1); or use --lcurve to choose S")
        if mass is not None and not partial:
            raise ValueError("--mass applies to --partial only")
        if not lcurve and (cv is not None or plot != "lcurve"):
            raise ValueError("--cv and --plot apply to --lcurve only")
        if lcurve and points < 3:
            raise ValueError(f"--points must be at least 3 (the elbow needs interior grid points), got {points}")
        if not 0 < threshold <= 1:
            raise ValueError(f"--threshold must be in (0, 1] (a fraction of a unit's full mass 1/N), got {threshold}")
        if cv is not None and cv < 2:
            raise ValueError(f"--cv must be at least 2, got {cv}")
        X, Y = load_array(x), load_array(y)
        result = {"soft_matching_score": matching.soft_matching(X, Y).value}
        written = []
        if lcurve:
            curve = matching.lcurve(X, Y, masses=np.linspace(1.0 / points, 1.0, points), cv=cv, progress=not as_json)
            written = curve.save(plot)
            mass = curve.best_mass
            result["lcurve"] = {"elbow_mass": mass, "unmatched_mass": 1 - mass, "files": written}
        if partial or lcurve:
            chosen = matching.partial_soft_matching(X, Y, mass)
            matched_x, matched_y = chosen.matched(threshold)
            result.update({
                "mass": mass, "partial_score": chosen.score, "partial_normalized_score": chosen.normalized_score,
                "matched_x": np.flatnonzero(matched_x).tolist(), "matched_y": np.flatnonzero(matched_y).tolist(),
                "unmatched_x": np.flatnonzero(~matched_x).tolist(), "unmatched_y": np.flatnonzero(~matched_y).tolist(),
            })
        if as_json:
            print(json.dumps(result, indent=2))
            return
        print(f"soft matching score s_T: {result['soft_matching_score']:.6f}")
        if lcurve:
            print(f"L-curve elbow: s = {mass:.4g} (unmatched mass {1 - mass:.4g}); wrote {', '.join(written)}")
        if "mass" in result:
            print(f"partial soft matching, s = {mass:.4g}: score {result['partial_score']:.6f}, "
                  f"normalized {result['partial_normalized_score']:.6f}")
            for side in ("x", "y"):
                units = result[f"matched_{side}"]
                print(f"matched units of {side.upper()} ({len(units)}): {_compact(units)}")
                print(f"unmatched units of {side.upper()} ({len(result[f'unmatched_{side}'])}): "
                      f"{_compact(result[f'unmatched_{side}'])}")

    # -- the seed paper's experiments on a dataset file --------------------------------------------------------
    data_help = "dataset: .npz or .nc (a saved Dataset, or a plain file; FILE:NAME picks the activity array)"
    measure_help = "measure name or alias (repeatable)"
    out_help = "output folder for tables (CSV) and figures (PNG + PDF)"

    @app.command("optimize")
    def optimize_command(
        data: str = typer.Argument(..., help=data_help),
        measure: list[str] = typer.Option(["angular-procrustes", "cka"], "-m", "--measure", help=measure_help),
        steps: int = typer.Option(1000, "--steps", help="maximum number of Adam steps"),
        lr: float = typer.Option(0.02, "--lr", help="learning rate"),
        stop_at: float = typer.Option(0.99, "--stop-at", help="stop a run once its score reaches this"),
        runs: int = typer.Option(1, "--runs", help="runs (seeds) per measure"),
        seed: int = typer.Option(0, "--seed", help="seed of the first run's noise and of the folds"),
        record_every: int = typer.Option(5, "--record-every", help="record scores and trackers every N steps"),
        pcs: int = typer.Option(10, "--pcs", help="track the R² of this many reference PCs (0: none)"),
        decode: list[str] = typer.Option(None, "--decode", help="task variable to decode (repeatable; "
                                         "default: every column of the conditions table with 2+ values)"),
        no_decode: bool = typer.Option(False, "--no-decode", help="do not track decoding"),
        dtype: str = typer.Option("float32", "--dtype", help="float32 or float64"),
        checkpoint: str = typer.Option(None, "--checkpoint", help="checkpoint file (resumed from if present)"),
        out: str = typer.Option("results/optimize", "--out", help=out_help),
    ):
        """Optimize Gaussian noise towards the dataset (the seed paper's method) and track what it learns."""
        from pathlib import Path

        import matplotlib

        matplotlib.use("Agg")
        from . import analyses, registry
        from .optimize import optimize
        from .trackers import PCCapture

        if pcs < 0:
            raise ValueError(f"--pcs must be >= 0, got {pcs}")
        selected = [registry.measure(name) for name in measure]  # unknown names fail before any work
        dataset = _load_dataset(data)
        folder = Path(out)
        trackers = []
        capture = PCCapture(dataset, n_pcs=pcs) if pcs else None
        if capture is not None:
            trackers.append(capture)
        decoding = None if no_decode else _decoding_tracker(dataset, decode, seed)
        if decoding is not None:
            trackers.append(decoding)
        result = optimize(dataset.activity, selected, max_steps=steps, lr=lr, stop_at=stop_at, seed=seed,
                          n_runs=runs, record_every=record_every, trackers=trackers, dtype=dtype,
                          checkpoint=checkpoint)
        written = result.save(folder / "trajectory")
        if capture is not None:
            table = analyses.capture_thresholds(result, capture)
            written += analyses.save(analyses.plot_pc_capture(table), table, folder / "pc_capture")
        if decoding is not None:
            reference = decoding.reference_accuracy(dataset)
            table = analyses.decoding_thresholds(result, reference, decoding.chance_accuracy())
            written += analyses.save(analyses.plot_decoding(result, table), table, folder / "decoding")
        np.save(folder / "final_Y.npy", result.Y)
        rows = [{"measure": name, "run": str(r), "steps": str(result.reached_step[r] or result.steps),
                 "final score": f"{result.final_score[r]:.4f}"}
                for r, name in enumerate(n for n in measure for _ in range(runs))]
        _print_table(rows, ["measure", "run", "steps", "final score"])
        print(f"wrote {len(written) + 1} files to {folder}")

    @app.command("perturb")
    def perturb_command(
        data: str = typer.Argument(..., help=data_help),
        measure: list[str] = typer.Option(["cka", "nbs", "angular-procrustes", "angular-cka"], "-m", "--measure",
                                          help=measure_help),
        pcs: int = typer.Option(10, "--pcs", help="perturb each of the first N PCs"),
        mode: str = typer.Option("orthogonal", "--mode", help="orthogonal (exact closed forms) or resample"),
        repeats: int = typer.Option(1, "--repeats", help="independent draws per PC"),
        seed: int = typer.Option(0, "--seed", help="seed of the new PC scores"),
        out: str = typer.Option("results/perturb", "--out", help=out_help),
    ):
        """Replace one PC at a time and compare the scores with the closed forms (the paper's Fig. 6a)."""
        from pathlib import Path

        import matplotlib

        matplotlib.use("Agg")
        from . import perturbation

        if pcs < 1:
            raise ValueError(f"--pcs must be >= 1, got {pcs}")
        dataset = _load_dataset(data)
        table = perturbation.perturbation_table(dataset.activity, measures=measure, ks=range(pcs), mode=mode,
                                                seed=seed, n_repeats=repeats)
        written = perturbation.save(table, Path(out) / "perturbation")
        summary = table.groupby("measure", sort=False).apply(
            lambda g: float((g.simulated - g.closed_form).abs().max()), include_groups=False)
        _print_table([{"measure": m, "max |simulated - closed form|": f"{v:.2e}"} for m, v in summary.items()],
                     ["measure", "max |simulated - closed form|"])
        print(f"wrote {', '.join(written)}")

    @app.command("joint")
    def joint_command(
        data: str = typer.Argument(..., help=data_help),
        measure: list[str] = typer.Option(["cka", "angular-procrustes"], "-m", "--measure",
                                          help=measure_help + "; at least two scores in [0, 1]"),
        grid: int = typer.Option(5, "--grid", help="targets per axis of the unit square (cube)"),
        steps: int = typer.Option(300, "--steps", help="Adam steps"),
        lr: float = typer.Option(0.05, "--lr", help="learning rate"),
        seed: int = typer.Option(0, "--seed", help="seed of the first target's noise"),
        record_every: int = typer.Option(10, "--record-every", help="record every N steps"),
        checkpoint: str = typer.Option(None, "--checkpoint", help="checkpoint file (resumed from if present)"),
        out: str = typer.Option("results/joint", "--out", help=out_help),
    ):
        """Optimize several scores jointly towards a grid of targets: their allowed region (Fig. 6b,c)."""
        from pathlib import Path

        import matplotlib

        matplotlib.use("Agg")
        from . import joint

        dataset = _load_dataset(data)
        result = joint.joint_optimize(dataset, tuple(measure), grid=grid, max_steps=steps, lr=lr, seed=seed,
                                      record_every=record_every, checkpoint=checkpoint)
        written = result.save(Path(out) / "joint")
        final = result.final
        print(final[list(result.measures) + ["loss"]].describe().loc[["min", "max"]].to_string(float_format="%.3f"))
        print(f"wrote {', '.join(written)}")

    @app.command("baselines")
    def baselines_command(
        data: str = typer.Argument(..., help=data_help),
        measure: list[str] = typer.Option(["angular-procrustes", "cka", "angular-cka", "ridge-cv"], "-m",
                                          "--measure", help=measure_help),
        splits: int = typer.Option(10, "--splits", help="random halvings of the units (neuron-split baseline)"),
        seed: int = typer.Option(0, "--seed", help="seed of the neuron splits"),
        out: str = typer.Option("results/baselines", "--out", help=out_help),
    ):
        """Condition-average and neuron-split baseline scores of each measure (the paper's Fig. 2)."""
        from pathlib import Path

        import matplotlib

        matplotlib.use("Agg")
        from . import baselines

        dataset = _load_dataset(data)
        which = baselines.BASELINES if dataset.n_conditions is not None else ("neuron_split",)
        table = baselines.baseline_table(dataset, list(measure), n_splits=splits, seed=seed, baselines=which)
        written = baselines.save(table, Path(out) / "baselines")
        _print_table([{"measure": r.measure, "baseline": r.baseline, "score": f"{r.score:.4f}",
                       "std": "-" if math.isnan(r.std) else f"{r.std:.4f}"} for r in table.itertuples()],
                     ["measure", "baseline", "score", "std"])
        print(f"wrote {', '.join(written)}")

    return app


def _load_dataset(spec: str):
    """A Dataset from ``FILE`` or ``FILE:NAME`` (.npz/.nc); a plain 2D/3D .npy is accepted too."""
    from pathlib import Path

    from .datasets import Dataset, load

    path, _, name = spec.partition(":") if not Path(spec).exists() else (spec, "", "")
    if Path(path).suffix.lower() == ".npy":
        return Dataset(np.load(path, allow_pickle=False))
    return load(path, name or None)


def _decoding_tracker(dataset, variables, seed: int):
    """A Decoding tracker for the chosen (or every decodable) column of the conditions table, or None."""
    from .trackers import Decoding

    if dataset.n_conditions is None or dataset.conditions is None or len(dataset.conditions.columns) == 0:
        if variables:
            raise ValueError("--decode needs a (time, condition, unit) dataset with a conditions table")
        return None
    if not variables:
        table = dataset.conditions
        variables = [c for c in table.columns if table[c].nunique() >= 2 and table[c].value_counts().min() >= 5]
        if not variables:
            return None
    return Decoding(dataset, variables=tuple(variables), seed=seed)


def _compact(indices: list[int]) -> str:
    """0-3,7,9-12 for a sorted list of unit indices."""
    if not indices:
        return "-"
    runs, start = [], indices[0]
    for previous, current in zip(indices, indices[1:] + [None]):
        if current != previous + 1 if current is not None else True:
            runs.append(str(start) if start == previous else f"{start}-{previous}")
            start = current
    return ",".join(runs)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``repalign`` command."""
    try:
        app = _build_app()
    except ImportError:
        print("the repalign command needs typer: pip install 'repalign[cli]'", file=sys.stderr)
        return 2
    try:
        code = app(args=argv, standalone_mode=False)  # click returns typer.Exit's code here
    except ValueError as err:  # the library's messages are written for people: no traceback
        print(f"error: {err}", file=sys.stderr)
        return 2
    except SystemExit as exit_:  # typer's --help or usage errors
        return int(exit_.code or 0)
    except Exception as err:  # click usage errors (typer may vendor click, so no isinstance test)
        if hasattr(err, "show") and hasattr(err, "exit_code"):
            err.show()
            return err.exit_code
        raise
    return code if isinstance(code, int) else 0


if __name__ == "__main__":
    sys.exit(main())

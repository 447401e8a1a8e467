"""Command line: ``repalign measures``, ``describe``, ``compare`` and ``match``.

Follows the library's conventions: the same names, aliases and keyword-free canonical
spellings; errors are the library's ``ValueError`` messages, printed without a traceback.
"""

from __future__ import annotations

import json
import math
import sys
import time


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

    return app


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

"""Command line: ``repalign measures`` and ``repalign compare``.

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

    return app


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
    except Exception as err:  # click usage errors
        import click

        if isinstance(err, click.exceptions.ClickException):
            err.show()
            return err.exit_code
        raise
    return code if isinstance(code, int) else 0


if __name__ == "__main__":
    sys.exit(main())

"""What the command line prints: the catalogue's rows and page, plain-text tables, compact unit lists."""

from __future__ import annotations

import inspect
import math
import sys

from ..measures import FAMILIES
from ..registry import aliases, catalogue, measure

__all__ = ["measure_rows", "catalogue_markdown", "print_table", "compact"]


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
    by_target: dict[str, list[str]] = {}
    for alias, target in aliases().items():
        by_target.setdefault(target, []).append(alias)
    rows = []
    for name in catalogue(pattern):
        m = measure(name)
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


def catalogue_markdown() -> str:
    """The conventions page of the catalogue (``docs/catalogue.md``), written from the registry alone.

    One section per family: its definition (the family module's documentation: formulas,
    conventions, example), then every catalogue entry of the family with its aliases and the
    metadata of :meth:`repalign.Measure.describe`.
    """
    rows = {row["name"]: row for row in measure_rows()}
    lines = [
        "# The catalogue of measures",
        "",
        "Generated from the registry by `make catalogue` (`repalign measures --markdown`); do not edit by hand: "
        "a test compares this page with the registry. The definitions are the docstrings of the family "
        "modules (`src/repalign/measures/`); the spec is `../shared/spec/measures.md`.",
        "",
        "| alias | canonical name |",
        "|---|---|",
        *(f"| `{alias}` | `{target}` |" for alias, target in aliases().items()),
        "",
    ]
    seen_modules = set()
    for family in FAMILIES.values():
        names = [n for n in rows if measure(n).family == family.name]
        if not names:
            continue
        lines += [f"## {family.name}", "", family.summary[:1].upper() + family.summary[1:] + ".", ""]
        module = type(family).__module__
        if module in seen_modules:
            lines += [f"Defined with the other measures of `{module}` above.", ""]
        else:
            seen_modules.add(module)
            lines += ["```text", inspect.getdoc(sys.modules[module]).strip(), "```", ""]
        if family.parameters or family.supports_cv:
            lines += ["Parameters:", ""]
            lines += [f"- `{p.name}` ({_parameter_values(p)}): {p.doc}" for p in family.parameters]
            if family.supports_cv:
                lines.append("- `cv` (an integer >= 2, default none): K-fold cross-validation, `-cv=Kfolds` in the "
                             "name")
            lines.append("")
        for name in names:
            row = rows[name]
            header = measure(name).describe().split("\n\n", 1)[0].splitlines()[2:]  # after the name and summary
            also = f" (alias {', '.join(f'`{a}`' for a in row['aliases'])})" if row["aliases"] else ""
            lines += [f"### `{name}`{also}", ""]
            lines += [f"- {line.strip()}" for line in header]
            lines.append("")
    return "\n".join(lines)


def _parameter_values(parameter) -> str:
    if parameter.kind == "choice":
        values = " | ".join(f"`{c}`" for c in parameter.choices)
    else:
        kinds = {"int": "an integer", "float": "a number", "float_or_median": "a number or `median`"}
        values = " ".join([kinds[parameter.kind], *[b for b in parameter.bounds() if b]])
    default = "required" if parameter.required else f"default `{parameter.default}`"
    return f"{values}; {default}"


def print_table(rows: list[dict], columns: list[str]) -> None:
    """Rows as left-aligned columns under a header line."""
    if not rows:
        print("(nothing)")
        return
    widths = {c: max(len(c), *(len(str(r[c])) for r in rows)) for c in columns}
    print("  ".join(c.ljust(widths[c]) for c in columns))
    print("  ".join("-" * widths[c] for c in columns))
    for row in rows:
        print("  ".join(str(row[c]).ljust(widths[c]) for c in columns))


def compact(indices: list[int]) -> str:
    """``0-3,7,9-12`` for a sorted list of unit indices.

    >>> compact([0, 1, 2, 3, 7, 9, 10])
    '0-3,7,9-10'
    """
    if not indices:
        return "-"
    runs, start = [], indices[0]
    for previous, current in zip(indices, indices[1:] + [None]):
        if current is None or current != previous + 1:
            runs.append(str(start) if start == previous else f"{start}-{previous}")
            start = current
    return ",".join(runs)

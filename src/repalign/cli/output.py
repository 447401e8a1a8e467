"""What the command line prints: the catalogue's rows, plain-text tables, compact unit lists."""

from __future__ import annotations

import math

from ..registry import aliases, catalogue, measure

__all__ = ["measure_rows", "print_table", "compact"]


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

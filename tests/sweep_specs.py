"""The test sweep of the sweep engine (issue 14), shared by its tests and its benchmark.

:func:`sweep_test_spec` is the spec as a dict: three synthetic datasets × four differentiable
measures × three seeds of ``optimize`` (optimize and track the reference's top PCs), small sizes;
:func:`spec_toml` writes such a dict as TOML text (for ``repalign sweep run SPEC.toml``).
Import it as the suite does (``from sweep_specs import sweep_test_spec``: ``tests/`` is on the path).
"""

from __future__ import annotations

import json

DATASETS = {
    "mante": {"generator": "mante_like", "n_units": 20, "n_time": 5, "seed": 0},
    "ultra": {"generator": "ultrametric", "n_units": 20, "branching": [2, 3, 4], "seed": 0},
    "twopc": {"generator": "two_pc", "seed": 0},
}
MEASURES = ("cka", "angular-procrustes", "linreg", "ridge-cv")
SEEDS = (0, 1, 2)


def sweep_test_spec(steps: int = 30, *, datasets=tuple(DATASETS), measures=MEASURES, seeds=SEEDS, pcs: int = 3,
                    name: str = "resilience") -> dict:
    """The test sweep: ``datasets`` × ``measures`` × ``seeds`` cells of ``optimize`` with ``steps`` Adam steps.

    Every dataset works with every measure (a cross-validated ridge included); 36 cells in 12 groups
    (cells differing only in the seed run as one batched optimization). In-process it takes a few
    seconds at ``steps=30``.
    """
    return {"experiment": "optimize", "name": name,
            "settings": {"steps": steps, "pcs": pcs, "decode": []},
            "axes": {"data": list(datasets), "measures": list(measures), "seed": list(seeds)},
            "datasets": {n: dict(DATASETS[n]) for n in datasets}}


def _value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, str)):
        return json.dumps(value)  # a JSON number or (ASCII-escaped) string is a TOML one
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    raise TypeError(f"no TOML value for {value!r}")


def spec_toml(spec: dict) -> str:
    """``spec`` (a sweep spec dict: scalars at the top, tables of scalars, ``datasets`` of tables,
    ``exclude`` a list of tables) as TOML text."""
    lines = [f"{k} = {_value(v)}" for k, v in spec.items() if not isinstance(v, dict) and k != "exclude"]
    for table in ("settings", "axes"):
        if table in spec:
            lines += ["", f"[{table}]"] + [f"{k} = {_value(v)}" for k, v in spec[table].items()]
    for name, entry in spec.get("datasets", {}).items():
        lines += ["", f"[datasets.{name}]"] + [f"{k} = {_value(v)}" for k, v in entry.items()]
    for rule in spec.get("exclude", []):
        lines += ["", "[[exclude]]"] + [f"{k} = {_value(v)}" for k, v in rule.items()]
    return "\n".join(lines) + "\n"

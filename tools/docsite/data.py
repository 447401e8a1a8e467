"""The data behind the documentation site: the meaning-profile sweeps and their small tables.

``make docs-data`` runs :func:`run` (the sweeps of :func:`specs` with ``repalign.sweeps``, into ``build/docs-data``,
resumable: a stopped run picks up where it was) and then :func:`export`, which reduces the stores to
the small CSV files versioned in ``docs/data/profiles/`` with the repalign version that produced
them. ``make docs`` only reads those files.

The sweeps (one cell per dataset × differentiable measure):

- ``optimize-<dataset>`` (one per dataset, each decoding its own task variables; the measures of
  :data:`FLOAT64` in float64, ``optimize-<dataset>-float64``): Gaussian noise optimized towards the dataset, tracking the R² of its top 10 PCs
  (beside the matched Gaussian) and the decoding of its task variables: the score at which each
  PC is captured and each variable becomes decodable (seed paper, Figs. 3 and 5);
- ``perturb``: the score between the dataset and copies with one PC replaced (Fig. 6a),
  simulated, with the closed form where the paper derives one;
- ``joint``: the measure optimized jointly with CKA and angular Procrustes towards the corners of
  the unit cube of targets (Fig. 6b,c): whether one dataset can score high on it and low on
  CKA or angular Procrustes, and conversely (CKA against angular Procrustes: the four corners).
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
PROFILES = ROOT / "docs" / "data" / "profiles"
STORE = ROOT / "build" / "docs-data"
PARTNERS = ("cka", "angular-procrustes")
DATASETS = {
    # the synthetic prefrontal population of the context task, 100 units (the generator default, 727, costs 7× more)
    "mante_like": {"generator": "mante_like", "n_units": 100, "seed": 0},
    # the bundled M1 recording (Hatsopoulos et al. 2007), read from ../shared/data
    "m1": {"loader": "m1"},
}
# the optimization of the profiles (the seed paper's Adam, lr 0.1, on float32)
# the binary task variables of mante_like: the six-level coherences ("motion", "colour") cost 3.5 s per
# decoding (a multinomial fit per time bin and fold) against 0.06 s for the four binary ones, which
# would make the sweep several hours long; `repalign optimize` decodes them all by default
DECODE = ["context", "choice", "motion_sign", "colour_sign"]
OPTIMIZE = {"steps": 500, "pcs": 10, "matched_gaussian": True, "record_every": 5, "decode_every": 5,
            "save_final": False}
# measures optimized in float64 on a dataset: in float32 the shape metric's partial whitening of M1
# (141 units, condition number about 1400) gives a non-finite gradient at step 148, which the optimizer refuses
FLOAT64 = {"m1": ["shape_metric-alpha=0.5-distance=angular"]}
# joint optimizations run in float64: in float32 the gradients of SVCCA (step 33 on mante_like) and CCA (step 0
# on M1) become non-finite
JOINT_FLOAT64 = ["svcca-var=0.99-score", "cca-score"]
# joint optimizations left out, with the reason the cards give
JOINT_SKIPPED = {("m1", "soft_matching-solver=(sinkhorn-epsilon=0.01)-score"):
                 "not finished after 20 minutes (the mante_like run took 275 s; the Sinkhorn iterations at "
                 "ε = 0.01·mean(C) converge slowly on M1's costs): left out of the site's sweep"}
PERTURB = {"pcs": 10, "mode": "orthogonal", "repeats": 1}
JOINT = {"grid": 2, "steps": 150, "lr": 0.1, "record_every": 10}
QUICK = {"optimize": {"steps": 30, "pcs": 3, "record_every": 5, "decode_every": 2, "matched_gaussian": True,
                      "save_final": False},
         "perturb": {"pcs": 3, "mode": "orthogonal", "repeats": 1},
         "joint": {"grid": 2, "steps": 10, "record_every": 5}}


def differentiable_measures() -> list[str]:
    """Every differentiable measure of the catalogue, in its order."""
    from repalign.registry import catalogue, measure

    return [name for name in catalogue() if measure(name).differentiable]


def joint_measures(names) -> list[str]:
    """The measures a joint map can hold: differentiable scores whose range contains [0, 1]."""
    from repalign.registry import measure

    out = []
    for name in names:
        m = measure(name)
        if m.kind == "score" and m.range[0] <= 0.0 <= 1.0 <= m.range[1] and m.differentiable:
            out.append(name)
    return out


def specs(measures=None, datasets=None, quick: bool = False) -> dict[str, dict]:
    """The sweep specs (dicts for :func:`repalign.sweeps.run_sweep`): ``optimize-<dataset>`` (one per dataset,
    decoding the dataset's variables among :data:`DECODE`), ``perturb`` and ``joint``."""
    from repalign.registry import measure

    measures = differentiable_measures() if measures is None else list(measures)
    datasets = DATASETS if datasets is None else datasets
    data = list(datasets)
    partners = [measure(p).name for p in PARTNERS]
    pairs = [[m, *PARTNERS] for m in joint_measures(measures) if measure(m).name not in partners]
    if set(partners) & {measure(m).name for m in measures}:
        pairs.append(list(PARTNERS))
    settings = QUICK if quick else {"optimize": OPTIMIZE, "perturb": PERTURB, "joint": JOINT}
    out = {}
    for dataset, definition in datasets.items():  # one optimize sweep per dataset: its own task variables
        decode = [v for v in DECODE if v in _variables(definition)]
        wide = [m for m in FLOAT64.get(dataset, []) if m in measures]
        base = {**settings["optimize"], "decode": decode}
        out[f"optimize-{dataset}"] = {"experiment": "optimize", "settings": base,
                                      "axes": {"data": [dataset], "measures": measures, "seed": [0]},
                                      "datasets": {dataset: dict(definition)}}
        if wide:
            out[f"optimize-{dataset}"]["exclude"] = [{"measures": wide}]
            out[f"optimize-{dataset}-float64"] = {"experiment": "optimize", "settings": {**base, "dtype": "float64"},
                                                  "axes": {"data": [dataset], "measures": wide, "seed": [0]},
                                                  "datasets": {dataset: dict(definition)}}
    wide = [p for p in pairs if measure(p[0]).name in {measure(m).name for m in JOINT_FLOAT64}]
    for name, axes in (("perturb", {"data": data, "measures": measures}),
                       ("joint", {"data": data, "measures": pairs}),
                       ("joint-float64", {"data": data, "measures": wide})):
        if not axes["measures"]:
            continue
        experiment = name.removesuffix("-float64")
        out[name] = {"experiment": experiment, "settings": dict(settings[experiment]), "axes": axes,
                     "datasets": {k: dict(v) for k, v in datasets.items()}}
    skipped = [{"data": d, "measures": [p]} for (d, m) in JOINT_SKIPPED for p in pairs
               if d in datasets and measure(p[0]).name == measure(m).name]
    if wide or skipped:
        out["joint"]["exclude"] = [{"measures": [p]} for p in wide] + skipped
    if wide:
        out["joint-float64"]["settings"]["dtype"] = "float64"
    return out


@functools.cache
def _load(definition: str):
    """The dataset of a definition (JSON text, so that it can be cached), as a sweep would load it."""
    from repalign.sweeps.spec import DatasetSource

    return DatasetSource.from_entry("dataset", json.loads(definition), ROOT).load()


def _dataset(definition: dict):
    return _load(json.dumps(definition, sort_keys=True))


def _variables(definition: dict) -> list[str]:
    """The task variables (condition columns) of a dataset definition."""
    dataset = _dataset(definition)
    return [] if dataset.conditions is None else [str(c) for c in dataset.conditions.columns]


def _identity(definition: dict, name: str) -> float:
    """The measure between the dataset and itself (1 or 0 for most; below 1 for the entropic and the
    cross-validated or ridge scores); NaN where the measure is undefined on the dataset."""
    from repalign.registry import measure

    dataset = _dataset(definition)
    try:
        return float(measure(name)(dataset, dataset))
    except ValueError:
        return float("nan")


def run(store: Path = STORE, workers: int | None = None, quick: bool = False, measures=None, datasets=None,
        progress: bool | None = None) -> dict:
    """Run the sweeps of :func:`specs` (resumable) into ``store/<name>``; their reports."""
    from repalign.sweeps import run_sweep

    reports = {}
    for name, spec in specs(measures, datasets, quick).items():
        print(f"sweep {name}: {store / name}", flush=True)
        reports[name] = run_sweep(spec, store=store / name, workers=workers, progress=progress)
    return reports


def _keys(spec: dict) -> set:
    from repalign.sweeps import load_spec

    return {cell.key for cell in load_spec(spec).cells()}


def _pair(value) -> list[str]:
    """A ``measures`` axis value as names (the store writes a list as ``a+b``)."""
    return list(value) if not isinstance(value, str) else value.split("+")


def _tidy(table, drop=("cell", "seed", "measures", "mode", "run", "repeat")):
    """``dataset`` first (the ``data`` axis), the experiment's canonical ``measure`` next, no bookkeeping."""
    table = table.drop(columns=[c for c in drop if c in table.columns])
    table.insert(0, "dataset", table.pop("data"))
    if "measure" in table.columns:
        table.insert(1, "measure", table.pop("measure"))
    return table


def export(store: Path = STORE, out: Path = PROFILES, measures=None, datasets=None, quick: bool = False) -> list[Path]:
    """Reduce the three stores to the CSV files of ``out``; the paths written.

    ``capture.csv`` (score at which each PC is captured, data and matched Gaussian),
    ``decoding.csv`` (score at which each task variable becomes decodable), ``perturbation.csv``,
    ``joint.csv`` (targets and reached values of the joint optimizations, one row per measure),
    ``runs.csv`` (each optimization's value at the start, its best and its last value, and the measure
    between the dataset and itself), ``cells.csv`` (every cell's status, with the
    error of those that failed) and ``meta.json`` (repalign version and settings).
    """
    import pandas as pd

    import repalign
    from repalign.registry import measure
    from repalign.sweeps import Store

    out.mkdir(parents=True, exist_ok=True)
    all_specs = specs(measures, datasets, quick)
    written, cells, collected = [], [], {}
    for name, spec in all_specs.items():
        keys = _keys(spec)
        db = Store(store / name)
        status = db.cells(keys)
        if len(status) < len(keys):
            raise RuntimeError(f"{name}: {len(keys) - len(status)} of {len(keys)} cells are not stored yet; "
                               f"run `make docs-data` (it resumes)")
        frame = status[["data", "measures", "status", "error", "seconds"]].copy() if "seconds" in status else \
            status[["data", "measures", "status", "error"]].copy()
        frame.insert(0, "experiment", spec["experiment"])
        frame["measures"] = ["+".join(measure(m).name for m in _pair(v)) for v in frame["measures"]]
        frame["error"] = [None if not isinstance(e, str) else e.strip().splitlines()[-1] for e in frame["error"]]
        cells.append(frame)
        tables = {}
        if spec["experiment"] == "optimize":  # optimize-<dataset>[-float64]
            capture = db.table("pc_capture", keys)
            tables["capture"] = _tidy(capture)
            trajectory = db.table("trajectory", keys)
            first = trajectory.loc[trajectory.step == 0, ["data", "measure", "value"]]
            runs = _tidy(db.table("runs", keys)).merge(first.rename(columns={"data": "dataset", "value": "start_value"}),
                                                      on=["dataset", "measure"])
            best = trajectory.groupby(["data", "measure"], sort=False)["value"].agg(["max", "min"]).reset_index()
            runs = runs.merge(best.rename(columns={"data": "dataset"}), on=["dataset", "measure"])
            runs["best_value"] = np.where(runs.kind == "score", runs["max"], runs["min"])
            runs["identity_value"] = [_identity(spec["datasets"][d], m) for d, m in zip(runs.dataset, runs.measure)]
            tables["runs"] = runs[["dataset", "measure", "kind", "start_value", "best_value", "final_value",
                                   "identity_value", "steps"]]
            if "decoding" in db.table_names(keys):
                decoding = db.table("decoding", keys)
                tables["decoding"] = _tidy(decoding)
            else:
                tables["decoding"] = pd.DataFrame(columns=["dataset", "measure"])
        elif name == "perturb":
            tables["perturbation"] = _tidy(db.table("table", keys))
        else:
            final = db.table("final", keys)
            rows = []
            for _, row in final.iterrows():
                names = _pair(row["measures"])
                together = "+".join(measure(m).name for m in names)
                for m in names:
                    label = _label(final, m, row)
                    rows.append({"dataset": row["data"], "measures": together, "target": int(row["target"]),
                                 "measure": measure(m).name, "target_value": row[f"target_{label}"],
                                 "value": row[label]})
            tables["joint"] = pd.DataFrame(rows)
        for table_name, table in tables.items():
            collected.setdefault(table_name, []).append(table)
    for table_name, parts in collected.items():
        parts = [p for p in parts if not p.empty] or parts[:1]
        table = pd.concat(parts, ignore_index=True)
        table.insert(0, "repalign_version", repalign.__version__)
        path = out / f"{table_name}.csv"
        table.to_csv(path, index=False, float_format="%.6g")
        written.append(path)
    path = out / "cells.csv"
    frame = pd.concat(cells, ignore_index=True)
    frame.insert(0, "repalign_version", repalign.__version__)
    frame.to_csv(path, index=False, float_format="%.4g")
    written.append(path)
    meta = {"repalign_version": repalign.__version__, "datasets": all_specs["perturb"]["datasets"],
            "settings": {name: spec["settings"] for name, spec in all_specs.items()}, "partners": list(PARTNERS),
            "skipped": [{"experiment": "joint", "data": d, "measure": m, "reason": r}
                        for (d, m), r in JOINT_SKIPPED.items() if d in all_specs["perturb"]["datasets"]],
            "quick": quick}
    path = out / "meta.json"
    path.write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
    written.append(path)
    return written


def _label(table, name: str, row) -> str:
    """The column of the joint table that holds ``name``'s value in ``row`` (the sweep's label: alias or canonical)."""
    from repalign.registry import measure

    canonical = measure(name).name
    for column in table.columns:
        if column.startswith("target_") and row[column] == row[column]:  # not NaN: this cell's measure
            label = column.removeprefix("target_")
            if label in table.columns and measure(label).name == canonical:
                return label
    raise KeyError(f"no column of the joint table holds {name!r}")


def main(argv=None) -> int:
    """``python tools/docsite/data.py [--workers N] [--export-only]``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=None, help="local worker processes (default: in-process)")
    parser.add_argument("--store", type=Path, default=STORE)
    parser.add_argument("--out", type=Path, default=PROFILES)
    parser.add_argument("--export-only", action="store_true", help="only reduce stores already complete")
    args = parser.parse_args(argv)
    if not args.export_only:
        run(args.store, workers=args.workers)
    for path in export(args.store, args.out):
        print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

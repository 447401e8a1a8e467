"""The generated pages of the documentation site: a card for every catalogue entry and the comparison page.

Everything here is written from the registry (names, aliases, definitions, parameters, metadata)
and from the data versioned in ``docs/data/`` (the meaning-profile sweeps of
``tools/docsite/data.py`` and the cross-library values of ``tools/docsite/elsewhere.py``); nothing
about a measure is written by hand. :func:`pages` returns every generated file as ``{path: bytes}``
(Markdown pages, PNG figures and the CSV behind each figure); ``tools/docsite/hooks.py`` hands them
to MkDocs.

The common scale of the comparison: a measure's value as a similarity in which 1 means identical —
a score as it is (every score of the catalogue reaches 1 for identical data), a distance with a
finite upper bound ``d_max`` (the angular ones) as ``1 − d/d_max`` (the seed paper's rescaling of
the angular Procrustes distance), an unbounded distance as ``1 − d/d₀`` with ``d₀`` its value at
the start of the optimization (the fraction of the distance from the noise that is left).
"""

from __future__ import annotations

import inspect
import io
import json
import math
import os
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# the versioned data (REPALIGN_DOCS_DATA: another folder of the same layout, e.g. a test's)
DATA = Path(os.environ.get("REPALIGN_DOCS_DATA", ROOT / "docs" / "data"))
PROFILES = DATA / "profiles"
CACHE = ROOT / "build" / "docs-cache"  # figures drawn before, by the hash of what they show
HIGH = 0.9  # "high similarity" on the common scale
DATASET_TITLES = {"mante_like": "mante_like (synthetic prefrontal population, context task)",
                  "m1": "M1 recording (Hatsopoulos et al. 2007)"}
def _partners() -> tuple[str, str]:
    """The joint sweep's partner measures (``data.PARTNERS``), as canonical names."""
    from data import PARTNERS as swept  # tools/docsite is on the path (hooks.py, the tests)

    from repalign.registry import measure

    return tuple(measure(p).name for p in swept)


PARTNERS = _partners()


def slug(name: str) -> str:
    """The file name of a measure's card: the canonical name with every run of other characters a hyphen."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-")


def label(name: str) -> str:
    """The short label of a measure (its alias when it has one)."""
    from repalign.registry import short_name

    return short_name(name)


def _aliases() -> dict[str, list[str]]:
    from repalign.registry import aliases

    out: dict[str, list[str]] = {}
    for alias, target in aliases().items():
        out.setdefault(target, []).append(alias)
    return out


def title(name: str) -> str:
    """A card's heading: ``alias — canonical`` when the measure has an alias, else the canonical name."""
    names = _aliases().get(name)
    return f"{names[0]} — {name}" if names else name


# -- the data ------------------------------------------------------------------------------------------------------


def load(folder: Path = DATA) -> dict:
    """The versioned tables: ``capture``, ``decoding``, ``perturbation``, ``joint``, ``runs``, ``cells``,
    ``elsewhere`` (pandas DataFrames; empty when a file is absent) and ``meta`` (a dict)."""
    import pandas as pd

    tables = {}
    for name in ("capture", "decoding", "perturbation", "joint", "runs", "cells"):
        path = folder / "profiles" / f"{name}.csv"
        tables[name] = pd.read_csv(path) if path.is_file() else pd.DataFrame()
    path = folder / "elsewhere.csv"
    tables["elsewhere"] = pd.read_csv(path) if path.is_file() else pd.DataFrame()
    path = folder / "profiles" / "meta.json"
    tables["meta"] = json.loads(path.read_text()) if path.is_file() else {}
    return tables


def similarity(values, name: str, start=None, identity=None):
    """``values`` of measure ``name`` on the common scale (1: identical); see the module's docstring.

    ``start``: the value for the initial noise (unbounded distances); ``identity``: the measure between
    the dataset and itself (scores; None or a value ≤ 0 leaves the score as it is).
    """
    import numpy as np

    from repalign.registry import measure

    m = measure(name)
    values = np.asarray(values, dtype=float)
    if m.kind == "score":
        scale = identity if identity is not None and identity > 0 else 1.0
        return values / scale
    if name.endswith("distance=angular"):
        return 1.0 - values / (math.pi / 2)  # the catalogue's angular score, 1 − d/(π/2)
    if math.isfinite(m.range[1]):
        return 1.0 - values / m.range[1]
    if start is None or not start > 0:
        return np.full_like(values, np.nan)
    return 1.0 - values / start


def _rows(table, **where):
    if table.empty:
        return table
    mask = None
    for key, value in where.items():
        hit = table[key] == value
        mask = hit if mask is None else mask & hit
    return table.loc[mask]


def _run(data: dict, dataset: str, name: str) -> dict:
    """The data run's start, best and final values and the measure between the dataset and itself."""
    runs = _rows(data["runs"], dataset=dataset, measure=name)
    return runs.iloc[0].to_dict() if len(runs) else {}


def _scaled(data: dict, dataset: str, name: str, values, reference: str = "data"):
    """``values`` on the common scale, with this dataset's start (unbounded distances, data runs only) and identity."""
    run = _run(data, dataset, name)
    start = run.get("start_value") if reference == "data" else None
    identity = run.get("identity_value")
    return similarity(values, name, start, identity if identity == identity else None)


def demand(data: dict, name: str, dataset: str, reference: str = "data") -> dict:
    """What measure ``name`` demands of ``dataset`` before it reports high similarity (the comparison's row).

    ``mean``: the mean common-scale value at which the tracked top PCs are captured (a PC never
    captured counts as 1): the lower, the earlier the measure demands the data's structure, i.e. the
    more of it the measure needs before it reports high similarity; ``pcs``: how many of the tracked top PCs are captured (R² past the threshold) by the time the
    common-scale value first reaches :data:`HIGH`; ``variance``: the fraction of the data's variance
    those PCs explain; ``tracked``: the PCs tracked; ``pc2``: the common-scale value at which PC 2
    is captured (NaN if never); ``captured``: PCs captured by the end of the run; ``reached``: whether
    the run reached :data:`HIGH` at all (if not, ``pcs`` and ``variance`` are NaN: the measure never
    reported high similarity). The matched Gaussian's runs are not stored, so its ``reached`` is not
    known (None) and unbounded distances have no common scale for it (NaN).
    """
    import numpy as np

    rows = _rows(data["capture"], dataset=dataset, measure=name, reference=reference)
    if rows.empty:
        return {}
    value = _scaled(data, dataset, name, rows["value"].to_numpy(dtype=float), reference)
    captured = rows["captured"].astype(str).str.lower().eq("true").to_numpy()
    early = captured & (value <= HIGH + 1e-12)
    reached = None
    if reference == "data":
        best = _run(data, dataset, name).get("best_value")
        reached = best is not None and bool(_scaled(data, dataset, name, [best])[0] >= HIGH - 1e-12)
    known = reached is not False and np.isfinite(value[captured]).all()
    pc2 = captured & (rows.pc.to_numpy() == 2)
    at_capture = np.where(captured, np.minimum(value, 1.0), 1.0)  # a PC never captured counts as 1 (identical)
    return {"mean": float(at_capture.mean()) if np.isfinite(at_capture).all() else math.nan,
            "pcs": int(early.sum()) if known else math.nan,
            "variance": float(rows.explained_variance.to_numpy()[early].sum()) if known else math.nan,
            "tracked": len(rows), "captured": int(captured.sum()), "reached": reached,
            "pc2": float(value[pc2][0]) if pc2.any() else math.nan}


def comparison_table(data: dict):
    """One row per differentiable measure with a profile: what it demands on each dataset, its rank there and overall.

    The rank on a dataset orders the mean common-scale value at which the top PCs are captured
    (:func:`demand`'s ``mean``; lower: the structure is demanded earlier, ranked first; ties share the
    best rank); the overall rank orders the mean of the per-dataset ranks of the measures ranked on
    every dataset (a measure that failed on one is ranked on the others only).
    """
    import pandas as pd

    from repalign.registry import measure

    names = sorted(set(data["capture"].measure)) if not data["capture"].empty else []
    datasets = list(dict.fromkeys(data["capture"].dataset)) if names else []
    rows = []
    for name in names:
        row = {"measure": label(name), "canonical": name, "kind": measure(name).kind}
        for dataset in datasets:
            got = demand(data, name, dataset)
            gaussian = demand(data, name, dataset, "matched Gaussian")
            row[f"{dataset}: mean score at capture"] = got.get("mean", math.nan)
            row[f"{dataset}: matched Gaussian"] = gaussian.get("mean", math.nan)
            row[f"{dataset}: PCs at {HIGH}"] = got.get("pcs", math.nan)
            row[f"{dataset}: variance at {HIGH}"] = got.get("variance", math.nan)
            row[f"{dataset}: PC 2 captured at"] = got.get("pc2", math.nan)
        rows.append(row)
    table = pd.DataFrame(rows)
    if table.empty:
        return table
    ranks = []
    for dataset in datasets:
        column = f"{dataset}: rank"
        table[column] = table[f"{dataset}: mean score at capture"].rank(method="min")
        ranks.append(column)
    complete = table[ranks].notna().all(axis=1)
    table["mean rank"] = table[ranks].mean(axis=1).where(complete)
    table["rank"] = table["mean rank"].rank(method="min")
    table = table.sort_values(["rank", *ranks], kind="stable", na_position="last").reset_index(drop=True)
    return table


def seed_ordering(data: dict, dataset: str) -> dict:
    """The seed paper's claim on one dataset: angular Procrustes captures PCs 2… at lower scores than CKA.

    Returns the PCs captured by both, those where angular Procrustes' score at capture is lower, and
    the two measures' PCs at :data:`HIGH`.
    """
    cka, procrustes = PARTNERS
    a = _rows(data["capture"], dataset=dataset, measure=cka, reference="data").set_index("pc")
    b = _rows(data["capture"], dataset=dataset, measure=procrustes, reference="data").set_index("pc")
    both = [pc for pc in a.index if pc >= 2 and pc in b.index
            and str(a.captured[pc]).lower() == "true" and str(b.captured[pc]).lower() == "true"]
    lower = [pc for pc in both if b.value[pc] < a.value[pc]]
    return {"both": both, "lower": lower, "cka_pcs": demand(data, cka, dataset).get("pcs"),
            "procrustes_pcs": demand(data, procrustes, dataset).get("pcs")}


# -- text ----------------------------------------------------------------------------------------------------------


def rst_to_markdown(text: str) -> str:
    """A family module's reStructuredText docstring as Markdown: math blocks, inline literals, examples."""
    lines = text.strip().splitlines()
    out, i = [], 0
    while i < len(lines):
        line = lines[i]
        if line.strip().startswith(".. math::"):
            i += 1
            block = []
            while i < len(lines) and (not lines[i].strip() or lines[i].startswith((" ", "\t"))):
                block.append(lines[i].strip())
                i += 1
            out += ["", "$$", *[b for b in block if b], "$$", ""]
            continue
        if line.strip() in ("Example", "Examples") and i + 1 < len(lines) and set(lines[i + 1].strip()) == {"-"}:
            out += ["", "**Example**", "", "```python"]
            i += 2
            while i < len(lines) and (lines[i].startswith(">>>") or lines[i].startswith("...")
                                      or (lines[i].strip() and not lines[i].startswith("#"))):
                out.append(lines[i])
                i += 1
            out += ["```", ""]
            continue
        line = re.sub(r":math:`([^`]+)`", r"\\(\1\\)", line)
        line = re.sub(r":(?:func|class|meth|data|mod):`~?([^`]+)`", r"`\1`", line)
        line = line.replace("``", "`")
        out.append(line)
        i += 1
    return "\n".join(out)


def _range(bounds) -> str:
    named = {math.inf: "∞", -math.inf: "−∞", math.pi / 2: "π/2", math.pi: "π"}
    return "[" + ", ".join(named.get(b, f"{b:g}") for b in bounds) + "]"


def _number(value, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    if isinstance(value, (int,)) or float(value).is_integer() and abs(value) < 1e6 and digits == 0:
        return f"{int(value)}"
    return f"{value:.{digits}g}"


def _table(header: list[str], rows: list[list]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return lines + [""]


def _csv(frame) -> bytes:
    return frame.to_csv(index=False, float_format="%.6g").encode()


# -- figures -------------------------------------------------------------------------------------------------------


def _png(fig) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return buffer.getvalue()


def profile_figure(data: dict, name: str, dataset: str) -> bytes:
    """Four panels of one measure's meaning profile on one dataset: PC capture, decoding, perturbation, joint."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fig, axes = plt.subplots(1, 4, figsize=(15, 3.4))
    short = label(name)
    # (a) the score at which each PC is captured, data and matched Gaussian
    ax = axes[0]
    for reference, style in (("data", "o-"), ("matched Gaussian", "s--")):
        rows = _rows(data["capture"], dataset=dataset, measure=name, reference=reference)
        if rows.empty:
            continue
        hit = rows["captured"].astype(str).str.lower().eq("true")
        ax.plot(rows.explained_variance[hit], rows.value[hit], style, ms=4,
                color="C0" if reference == "data" else "0.4", label=reference)
    ax.set_xscale("log")
    ax.invert_xaxis()
    ax.set_xlabel("variance explained by the PC")
    ax.set_ylabel(f"{short} at capture")
    ax.set_title("score at which each PC is captured", fontsize="small")
    if ax.lines:
        ax.legend(fontsize="x-small", frameon=False)
    # (b) the score at which each task variable becomes decodable
    ax = axes[1]
    rows = _rows(data["decoding"], dataset=dataset, measure=name)
    if rows.empty:
        ax.text(0.5, 0.5, "no decodable task variable\n(too few conditions per value)", ha="center",
                va="center", fontsize="small", transform=ax.transAxes)
        ax.set_xticks([])
    else:
        y = np.arange(len(rows))
        values = rows["value"].to_numpy(dtype=float)
        reached = np.isfinite(values) & (rows["step"].to_numpy() >= 0)
        ax.plot(values[reached], y[reached], "o", color="C1", label="decodable at")
        ax.plot(rows.final_value.to_numpy(dtype=float)[~reached], y[~reached], "x", color="0.4",
                label="not within the run (final score)")
        ax.set_yticks(y, rows.variable)
        ax.set_xlabel(f"{short}")
        ax.legend(fontsize="x-small", frameon=False)
    ax.set_title("score at which a variable is decodable", fontsize="small")
    # (c) single-PC perturbation
    ax = axes[2]
    rows = _rows(data["perturbation"], dataset=dataset, measure=name)
    if not rows.empty:
        ax.plot(rows.explained_variance, rows.simulated, "o", mfc="none", color="C2", label="simulated")
        if rows.closed_form.notna().any():
            ax.plot(rows.explained_variance, rows.closed_form, "-", color="C2", label="closed form")
        ax.set_xscale("log")
        ax.legend(fontsize="x-small", frameon=False)
    ax.set_xlabel("variance explained by the replaced PC")
    ax.set_ylabel(f"{short}, one PC replaced")
    if ax.lines:
        ax.invert_xaxis()
    ax.set_title("sensitivity to each PC", fontsize="small")
    # (d) joint optimization: reached points against CKA and angular Procrustes
    ax = axes[3]
    joint = _joint_points(data, name, dataset)
    for partner, colour in zip(PARTNERS, ("C3", "C4")):
        points = joint.get(partner)
        if points is not None:
            ax.plot(points[0], points[1], "o", color=colour, label=label(partner))
    if joint:
        ax.plot([0, 1], [0, 1], ":", color="0.7", lw=0.8)
        ax.legend(fontsize="x-small", frameon=False, title="other score", title_fontsize="x-small")
    else:
        ax.text(0.5, 0.5, _no_joint_reason(name), ha="center", va="center", fontsize="x-small", wrap=True,
                transform=ax.transAxes)
    ax.set_xlabel(short)
    ax.set_ylabel("other score")
    ax.set_title("reached points of the joint optimization", fontsize="small")
    fig.suptitle(f"{short} on {dataset}", fontsize="medium")
    fig.subplots_adjust(left=0.05, right=0.99, bottom=0.17, top=0.84, wspace=0.42)
    return _png(fig)


def _joint_points(data: dict, name: str, dataset: str) -> dict:
    """Per partner measure: (this measure's reached values, the partner's) over the joint runs holding both."""
    table = data["joint"]
    if table.empty:
        return {}
    rows = table.loc[(table.dataset == dataset) & table.measures.str.split("+").apply(lambda ms: name in ms)]
    out = {}
    for partner in PARTNERS:
        if partner == name:
            continue
        mine, theirs = [], []
        for _, group in rows.groupby(["measures", "target"], sort=False):
            values = dict(zip(group.measure, group.value))
            if name in values and partner in values:
                mine.append(values[name])
                theirs.append(values[partner])
        if mine:
            out[partner] = (mine, theirs)
    return out


def score_form(name: str) -> str | None:
    """The catalogue's score form of an angular distance (``…-distance=angular`` → ``…-angular_score``), if any.

    The angular score is ``1 − d/(π/2)``, a decreasing function of the distance, so its joint map is
    the distance's, read through that function.
    """
    from repalign.registry import catalogue

    if not name.endswith("-distance=angular"):
        return None
    candidate = name.removesuffix("-distance=angular") + "-angular_score"
    return candidate if candidate in catalogue() else None


def _no_joint_reason(name: str) -> str:
    from repalign.registry import measure

    m = measure(name)
    if m.kind == "distance":
        form = score_form(name)
        if form is not None:
            return f"not run on the distance: see its score form\n{label(form)} = 1 − d/(π/2)"
        return ("not run: joint targets are scores in [0, 1];\n"
                + ("this distance is unbounded" if not math.isfinite(m.range[1]) else
                   "this distance has no score form in the catalogue"))
    return "no joint optimization stored"


def implications(data: dict, name: str, dataset: str) -> list[list[str]]:
    """Rows of the joint-map table: what a high value of this measure allows of each partner, and conversely."""
    out = []
    for partner, (mine, theirs) in _joint_points(data, name, dataset).items():
        pairs = list(zip(mine, theirs))
        high_mine = [t for m, t in pairs if m >= HIGH]
        high_theirs = [m for m, t in pairs if t >= HIGH]
        out.append([f"`{label(partner)}`",
                    _number(min(high_mine)) if high_mine else "— (not reached)",
                    _number(min(high_theirs)) if high_theirs else "— (not reached)", str(len(pairs))])
    return out


def _cached(draw, data: dict, name: str, dataset: str) -> bytes:
    """``draw(data, name, dataset)``, kept in ``build/docs-cache`` under the hash of its inputs and of this file.

    The key covers every table row the figure reads (this measure's, and the joint runs it is part
    of) and the source of this module, so a changed number or a changed drawing draws it again.
    """
    import hashlib

    import matplotlib

    import repalign

    digest = hashlib.sha256(Path(__file__).read_bytes())
    # what the figure shows beyond the tables: labels, the joint partners, the text of a missing panel, versions
    digest.update("|".join([draw.__name__, name, dataset, label(name), *map(label, PARTNERS), _no_joint_reason(name),
                            repalign.__version__, matplotlib.__version__]).encode())
    for table in ("capture", "decoding", "perturbation", "runs"):
        digest.update(_csv(_rows(data[table], dataset=dataset, measure=name)))
    if not data["joint"].empty:
        joint = data["joint"]
        digest.update(_csv(joint.loc[(joint.dataset == dataset) & joint.measures.str.contains(name, regex=False)]))
    path = CACHE / f"{digest.hexdigest()[:32]}.png"
    if path.is_file():
        return path.read_bytes()
    content = draw(data, name, dataset)
    CACHE.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(f".{os.getpid()}.tmp")  # builds may run side by side
    temporary.write_bytes(content)
    temporary.replace(path)
    return content


# -- pages ---------------------------------------------------------------------------------------------------------


def card(name: str, data: dict) -> tuple[str, dict[str, bytes]]:
    """The Markdown of one measure's card and the files it links (figures and CSV), keyed by path under ``measures/``."""
    from repalign.measures import FAMILIES
    from repalign.registry import measure

    m = measure(name)
    family = FAMILIES[m.family]
    s = slug(name)
    names = _aliases().get(name, [])
    files: dict[str, bytes] = {}
    lines = [f"# {title(name)}", "", f"*{family.summary[:1].upper() + family.summary[1:]}.*", ""]
    describe = m.describe().split("\n\n", 1)[0].splitlines()[2:]
    facts = dict(line.strip().split(": ", 1) for line in describe if ": " in line)
    lines += _table(["", ""], [
        ["canonical name", f"`{name}`"],
        ["aliases", ", ".join(f"`{a}`" for a in names) or "—"],
        ["kind", m.kind], ["range", _range(m.range)], ["symmetric", str(m.symmetric)],
        ["metric (triangle inequality)", str(m.is_metric)], ["differentiable", str(m.differentiable)],
        ["forms an n × n matrix", str(m.needs_n_by_n)],
        ["invariances of X", ", ".join(sorted(m.invariances["X"])) or "—"],
        ["invariances of Y", ", ".join(sorted(m.invariances["Y"])) or "—"],
        ["scale", facts.get("scale", "—")],
        ["samples", facts.get("samples", "—")],
        ["reference", m.reference or "—"],
    ])
    lines += ["## Parameters and the conventions this name fixes", ""]
    if family.parameters:
        lines += _table(["parameter", "value here", "meaning"],
                        [[f"`{p.name}`", f"`{m.params.get(p.name, p.default)}`", p.doc] for p in family.parameters])
    else:
        lines += ["The family has no parameters.", ""]
    lines += [f"Output: `{m.output}`. Call it as `repalign.measure(\"{names[0] if names else name}\")(X, Y)` "
              f"with X the reference (samples × units).", ""]
    lines += ["## Definition", "", rst_to_markdown(inspect.getdoc(sys.modules[type(family).__module__])), ""]
    lines += _elsewhere_section(data, name)
    if m.differentiable:
        lines += _profile_section(data, name, s, files)
    else:
        lines += ["## Meaning profile", "",
                  "None: this measure is not differentiable, so the seed paper's optimization cannot run on it.", ""]
    return "\n".join(lines), files


def _elsewhere_section(data: dict, name: str) -> list[str]:
    lines = ["## The same name elsewhere", ""]
    rows = _rows(data["elsewhere"], repalign_measure=name) if not data["elsewhere"].empty else data["elsewhere"]
    if rows.empty:
        return lines + ["No implementation installable from the package registry that computes a measure of this "
                        "name is recorded in `docs/data/elsewhere.csv`.", ""]
    lines += [f"On the fixed pair of datasets of `tools/docsite/elsewhere.py` (recorded with repalign "
              f"{rows.repalign_version.iloc[0]}):", ""]
    lines += _table(["package", "call", "their value", "repalign", "difference", "convention"], [
        [f"{r.package} {r.version}", f"`{r.call}`", _number(r.value, 6), _number(r.repalign_value, 6),
         _number(r.difference, 2), r.convention] for r in rows.itertuples()])
    return lines


def _profile_section(data: dict, name: str, s: str, files: dict) -> list[str]:
    lines = ["## Meaning profile", "",
             "What this measure's number means on real data, measured by the seed paper's analyses "
             "(`make docs-data` runs them as sweeps; see [What a score demands](../comparison.md) for the "
             "settings and every measure side by side). Noise is optimized towards each dataset; the table "
             "gives the value at which each top PC is captured (R² past its threshold) beside the prediction "
             "of a Gaussian with the same PC variances, the value at which each task variable becomes as "
             "decodable as in the data, the value between the data and a copy with one PC replaced, and what a "
             "high value implies for CKA and angular Procrustes in joint optimization.", ""]
    cells = data["cells"]
    for dataset in dict.fromkeys(data["runs"].dataset if not data["runs"].empty else []):
        lines += [f"### {DATASET_TITLES.get(dataset, dataset)}", ""]
        if not cells.empty:  # the cells of this measure that failed here, joint runs included, with their reason
            mine = cells.measures.str.split("+").apply(lambda names: name in names)
            failed = cells.loc[(cells.data == dataset) & mine & (cells.status != "done")]
            for row in failed.itertuples():
                lines += [f"!!! warning \"{row.experiment} ({row.measures.replace('+', ' + ')}): {row.status}\"",
                          f"    {row.error}", ""]
        for skipped in data["meta"].get("skipped", []):
            if skipped["data"] == dataset and skipped["measure"] == name:
                lines += [f"!!! note \"{skipped['experiment']}: not run\"", f"    {skipped['reason']}", ""]
        capture = _rows(data["capture"], dataset=dataset, measure=name)
        if capture.empty and _rows(data["perturbation"], dataset=dataset, measure=name).empty:
            continue
        figure = f"figures/{s}-{dataset}.png"
        files[figure] = _cached(profile_figure, data, name, dataset)
        lines += [f"![{label(name)} on {dataset}]({figure})", ""]
        links = []
        for table in ("capture", "decoding", "perturbation"):
            part = _rows(data[table], dataset=dataset, measure=name)
            if not part.empty:
                path = f"data/{s}-{dataset}-{table}.csv"
                files[path] = _csv(part)
                links.append(f"[{table}]({path})")
        joint = data["joint"]
        if not joint.empty:
            part = joint.loc[(joint.dataset == dataset) & joint.measures.str.split("+").apply(lambda ms: name in ms)]
            if not part.empty:
                path = f"data/{s}-{dataset}-joint.csv"
                files[path] = _csv(part)
                links.append(f"[joint]({path})")
        lines += ["Data behind the figure (CSV): " + ", ".join(links), ""]
        if not capture.empty:
            data_rows = capture.loc[capture.reference == "data"].set_index("pc")
            gauss = capture.loc[capture.reference == "matched Gaussian"].set_index("pc")
            rows = []
            for pc, row in data_rows.iterrows():
                g = gauss.value.get(pc) if pc in gauss.index and str(gauss.captured[pc]).lower() == "true" else None
                rows.append([str(pc), _number(row.explained_variance),
                             _number(row.value) if str(row.captured).lower() == "true" else "not captured",
                             _number(g) if g is not None else "—"])
            lines += ["**Score at which each PC is captured**", ""]
            lines += _table(["PC", "variance explained", f"{label(name)} at capture", "matched Gaussian"], rows)
        decoding = _rows(data["decoding"], dataset=dataset, measure=name)
        if not decoding.empty:
            lines += ["**Score at which each task variable becomes decodable** (as well as in the data, "
                      "cross-validated)", ""]
            lines += _table(["variable", "accuracy in the data", "chance", f"{label(name)} when decodable"], [
                [r.variable, _number(r.reference_accuracy), _number(r.chance),
                 _number(r.value) if r.step >= 0 else f"not within the run (final {_number(r.final_value)})"]
                for r in decoding.itertuples()])
        elif not capture.empty:
            lines += ["No task variable of this dataset can be decoded with cross-validation (each needs at "
                      "least 2 values and 5 conditions per value).", ""]
        perturbation = _rows(data["perturbation"], dataset=dataset, measure=name)
        if not perturbation.empty:
            lines += ["**Sensitivity to each PC** (the value between the data and a copy with that PC replaced)", ""]
            lines += _table(["PC", "variance explained", "simulated", "closed form"], [
                [str(int(r.k) + 1), _number(r.explained_variance), _number(r.simulated, 4),
                 _number(r.closed_form, 4) if r.closed_form == r.closed_form else "—"]
                for r in perturbation.itertuples()])
        rows = implications(data, name, dataset)
        form = score_form(name)
        if not rows and form is not None and implications(data, form, dataset):
            lines += [f"**Joint optimization**, through the score form [`{label(form)}`]({slug(form)}.md) = "
                      f"1 − d/(π/2), a decreasing function of this distance (d ≤ {_number((1 - HIGH) * math.pi / 2)} "
                      f"⇔ score ≥ {HIGH}):", ""]
            lines += _table(["other score", f"other when {label(form)} ≥ {HIGH}",
                             f"{label(form)} when other ≥ {HIGH}", "reached points"], implications(data, form, dataset))
        elif rows:
            lines += [f"**Joint optimization** (targets at the corners of the unit cube): the lowest value the other "
                      f"score reached while this one was ≥ {HIGH}, and conversely", ""]
            lines += _table(["other score", f"other when {label(name)} ≥ {HIGH}",
                             f"{label(name)} when other ≥ {HIGH}", "reached points"], rows)
        else:
            lines += [f"**Joint optimization**: {_no_joint_reason(name).replace(chr(10), ' ')}.", ""]
    return lines


def index_page(data: dict) -> str:
    """``measures/index.md``: every catalogue entry, linked to its card."""
    from repalign.registry import catalogue, measure

    by = _aliases()
    lines = ["# Measure cards", "",
             "One card per entry of the catalogue, generated from the registry and from measured results "
             "(`make docs` regenerates them; the data are in `docs/data/`). Differentiable measures carry "
             "their meaning profile on `mante_like` and the M1 recording; [What a score demands](../comparison.md) "
             "sets them side by side.", ""]
    rows = []
    for name in catalogue():
        m = measure(name)
        rows.append([f"[{name}]({slug(name)}.md)", ", ".join(f"`{a}`" for a in by.get(name, [])) or "—", m.kind,
                     _range(m.range), "yes" if m.differentiable else "no"])
    lines += _table(["measure", "aliases", "kind", "range", "differentiable (profile)"], rows)
    version = data["meta"].get("repalign_version")
    if version:
        lines += [f"Profiles measured with repalign {version}.", ""]
    return "\n".join(lines)


def comparison_page(data: dict) -> tuple[str, dict[str, bytes]]:
    """``comparison.md``: every differentiable measure ranked by how much structure it demands, with the figure."""
    files: dict[str, bytes] = {}
    table = comparison_table(data)
    meta = data["meta"]
    lines = ["# What a score demands", "",
             "The seed paper's question for the whole catalogue: how much of a dataset's structure must "
             "synthetic data have before a measure reports high similarity? Gaussian noise is optimized "
             "towards each dataset by each differentiable measure (Adam, the seed paper's method), while the "
             "R² of the dataset's top principal components is tracked. A measure that reports high similarity "
             "once the first PC is captured demands little; one that stays low until the low-variance PCs are "
             "captured demands much.", "",
             f"**Common scale.** Each measure's value is read as a similarity in which 1 means identical: a score "
             f"divided by its value between the dataset and itself (1 for most scores; below 1 for the entropic "
             f"Sinkhorn matching and the ridge and cross-validated R², which never reach 1); an angular distance "
             f"`d` as `1 − d/(π/2)` (the seed paper's rescaling of the angular Procrustes distance, the "
             f"catalogue's angular score); another bounded distance as `1 − d/d_max`; an unbounded distance as "
             f"`1 − d/d₀`, with `d₀` its value for the initial noise. *High similarity* is {HIGH} on that scale; "
             f"a measure whose optimization never reached it is not ranked on that dataset.", ""]
    if table.empty:
        return "\n".join(lines + ["No profile data: run `make docs-data`.", ""]), files
    datasets = [c.split(":")[0] for c in table.columns if c.endswith(f": PCs at {HIGH}")
                and "matched" not in c]
    lines += ["## The seed paper's ordering", ""]
    for dataset in datasets:
        got = seed_ordering(data, dataset)
        lines.append(f"- **{dataset}**: angular Procrustes captures {len(got['lower'])} of the {len(got['both'])} "
                     f"PCs after the first that both capture at a lower score than CKA; by the score {HIGH} it has "
                     f"captured {_number(got['procrustes_pcs'])} PCs, CKA {_number(got['cka_pcs'])}.")
    holds = [seed_ordering(data, d) for d in datasets]
    if all(h["both"] and len(h["lower"]) >= 0.8 * len(h["both"]) for h in holds):
        lines += ["", "As in the seed paper (Fig. 5b): CKA reports high similarity while the low-variance PCs are "
                  "still missing; angular Procrustes demands them at lower scores.", ""]
    else:
        lines += ["", "**The seed paper's ordering (Fig. 5b) does not hold on every dataset here.**", ""]
    files["figures/comparison.png"] = comparison_figure(data, table, datasets)
    files["data/comparison.csv"] = _csv(table)
    lines += ["## Every differentiable measure", "",
              "![The score at which each PC is captured, every measure](figures/comparison.png)", "",
              "On each dataset, the measures are ranked by the mean value (common scale) at which the "
              "dataset's top 10 PCs are captured, a PC never captured counting as 1: the lower, the earlier "
              "the measure demands the data's structure, so the more of it synthetic data must have before the "
              "measure reports high similarity (rank 1: demands most). Ties share a rank; the overall rank orders "
              "the mean of the two ranks; a measure that failed on a dataset is ranked on the other only. Beside "
              f"it: the same mean for the matched Gaussian (the seed paper's prediction from the PC variances "
              f"alone), how many of the 10 PCs are captured by the time the measure first reports {HIGH} and the "
              f"variance they explain (— when the run never reached {HIGH}), and the value at which PC 2 is "
              "captured. An unbounded distance's scale depends on its value for the noise (`d₀`), so compare those "
              "distances among themselves rather than with the scores. The table as CSV: "
              "[comparison.csv](data/comparison.csv).", ""]
    header = ["rank", "measure", "kind"]
    for dataset in datasets:
        header += [f"{dataset}: rank", f"{dataset}: mean at capture", f"{dataset}: matched Gaussian",
                   f"{dataset}: PCs at {HIGH}", f"{dataset}: variance at {HIGH}", f"{dataset}: PC 2 at"]
    rows = []
    for r in table.to_dict("records"):
        row = [_number(r["rank"], 3), f"[{r['measure']}](measures/{slug(r['canonical'])}.md)", r["kind"]]
        for dataset in datasets:
            row += [_number(r[f"{dataset}: rank"], 3), _number(r[f"{dataset}: mean score at capture"]),
                    _number(r[f"{dataset}: matched Gaussian"]), _number(r[f"{dataset}: PCs at {HIGH}"], 2),
                    _number(r[f"{dataset}: variance at {HIGH}"]), _number(r[f"{dataset}: PC 2 captured at"])]
        rows.append(row)
    lines += _table(header, rows)
    if meta:
        lines += ["## How these were measured", "",
                  f"repalign {meta.get('repalign_version')}; datasets `{json.dumps(meta.get('datasets'))}`; "
                  f"settings `{json.dumps(meta.get('settings'))}`. `make docs-data` re-runs the sweeps "
                  "(resumable) and rewrites `docs/data/profiles/`.", ""]
    return "\n".join(lines), files


def comparison_figure(data: dict, table, datasets: list[str]) -> bytes:
    """One panel per dataset: common-scale value at which each PC is captured, one line per measure."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(datasets), figsize=(6.5 * len(datasets), 4.5), squeeze=False)
    for ax, dataset in zip(axes[0], datasets):
        for name in table.canonical:
            rows = _rows(data["capture"], dataset=dataset, measure=name, reference="data")
            hit = rows["captured"].astype(str).str.lower().eq("true")
            if not hit.any():
                continue
            value = _scaled(data, dataset, name, rows.value[hit].to_numpy(dtype=float))
            highlight = {PARTNERS[0]: ("C3", 2.2), PARTNERS[1]: ("C0", 2.2)}.get(name)
            colour, width = highlight or ("0.75", 0.8)
            ax.plot(rows.explained_variance[hit], value, "-", color=colour, lw=width,
                    label=label(name) if highlight else None, zorder=3 if highlight else 1)
        ax.axhline(HIGH, color="0.3", ls=":", lw=0.8)
        ax.set_xscale("log")
        ax.invert_xaxis()
        ax.set_xlabel("variance explained by the PC")
        ax.set_ylabel("similarity at capture (common scale)")
        ax.set_title(dataset, fontsize="small")
        ax.legend(fontsize="x-small", frameon=False, title="grey: every other measure", title_fontsize="x-small")
    fig.tight_layout()
    return _png(fig)


def pages(folder: Path = DATA) -> dict[str, bytes]:
    """Every generated file of the site, keyed by its path in the site's sources."""
    from repalign.registry import catalogue

    data = load(folder)
    out: dict[str, bytes] = {"measures/index.md": index_page(data).encode()}
    names = catalogue()
    slugs = [slug(n) for n in names]
    if len(set(slugs)) != len(slugs):
        raise RuntimeError("two measures share a card's file name")
    for name in names:
        text, files = card(name, data)
        out[f"measures/{slug(name)}.md"] = text.encode()
        out.update({f"measures/{path}": content for path, content in files.items()})
    text, files = comparison_page(data)
    out["comparison.md"] = text.encode()
    out.update(files)
    return out

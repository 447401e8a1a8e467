"""What the command line prints: the catalogue's rows and page, plain-text tables, compact unit lists, math as text."""

from __future__ import annotations

import inspect
import math
import re
import sys
import textwrap
import unicodedata

from ..measures import FAMILIES
from ..registry import aliases, catalogue, measure

__all__ = ["measure_rows", "catalogue_markdown", "print_table", "compact", "plain_math", "latex_text"]

WIDTH = 100  # columns of a printed table


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


def print_table(rows: list[dict], columns: list[str], width: int | None = None) -> None:
    """Rows as left-aligned columns under a header line.

    With ``width``, the widest column is wrapped (at ``-``, ``,`` or a space) until every line
    fits in ``width`` characters; a wrapped cell goes on below, indented, the other columns blank there.
    """
    if not rows:
        print("(nothing)")
        return
    cells = [{c: [str(r[c])] for c in columns} for r in rows]
    widths = {c: max(len(c), *(len(str(r[c])) for r in rows)) for c in columns}
    if width is not None:
        limits = {c: len(c) for c in columns}
        while sum(widths.values()) + 2 * (len(columns) - 1) > width:
            widest = max(columns, key=lambda c: widths[c] - limits[c])
            narrower = max(widths[widest] - (sum(widths.values()) + 2 * (len(columns) - 1) - width), limits[widest])
            if narrower >= widths[widest]:
                break  # nothing left to wrap
            for row in cells:
                row[widest] = [part for text in row[widest] for part in _wrap(text, narrower)]
            widths[widest] = max(len(widest), *(len(part) for row in cells for part in row[widest]))
            limits[widest] = widths[widest]  # wrapped as far as it goes
    print("  ".join(c.ljust(widths[c]) for c in columns).rstrip())
    print("  ".join("-" * widths[c] for c in columns))
    for row in cells:
        for k in range(max(len(parts) for parts in row.values())):
            print("  ".join((row[c][k] if k < len(row[c]) else "").ljust(widths[c]) for c in columns).rstrip())


def _wrap(text: str, width: int) -> list[str]:
    """``text`` in lines of at most ``width`` characters, cut after a ``-``, ``,`` or space where one is;
    the lines after the first indented by two spaces (a continuation)."""
    pieces, room = [], width
    while len(text) > room:
        cut = max(text.rfind(mark, 0, room) for mark in "-, ") + 1
        cut = cut if cut > 0 else room
        pieces.append(text[:cut].rstrip())
        text, room = text[cut:].lstrip(), max(width - 2, 1)
    pieces.append(text)
    return [pieces[0], *(f"  {piece}" for piece in pieces[1:])]


# -- math written for Sphinx, read in a terminal ---------------------------------------------------------------

_SYMBOLS = {
    "alpha": "α", "beta": "β", "gamma": "γ", "delta": "δ", "epsilon": "ε", "varepsilon": "ε", "zeta": "ζ",
    "eta": "η", "theta": "θ", "kappa": "κ", "lambda": "λ", "mu": "μ", "nu": "ν", "xi": "ξ", "pi": "π",
    "rho": "ρ", "sigma": "σ", "tau": "τ", "phi": "φ", "varphi": "φ", "chi": "χ", "psi": "ψ", "omega": "ω",
    "Gamma": "Γ", "Delta": "Δ", "Theta": "Θ", "Lambda": "Λ", "Sigma": "Σ", "Phi": "Φ", "Psi": "Ψ", "Omega": "Ω",
    "sum": "Σ", "prod": "∏", "int": "∫", "in": "∈", "notin": "∉", "subset": "⊂", "cup": "∪", "cap": "∩",
    "le": "≤", "leq": "≤", "ge": "≥", "geq": "≥", "ne": "≠", "neq": "≠", "approx": "≈", "propto": "∝",
    "sim": "~", "equiv": "≡", "infty": "∞", "to": "→", "rightarrow": "→", "mapsto": "↦", "cdot": "·",
    "times": "×", "circ": "∘", "pm": "±", "mp": "∓", "partial": "∂", "nabla": "∇", "forall": "∀",
    "exists": "∃", "ldots": "…", "cdots": "⋯", "dots": "…", "langle": "⟨", "rangle": "⟩", "|": "‖",
    "lVert": "‖", "rVert": "‖", "Vert": "‖", "lvert": "|", "rvert": "|", "vert": "|", "mid": "|",
    "top": "ᵀ", "intercal": "ᵀ", "dagger": "†", "star": "*", "ast": "*", "prime": "′", "{": "{", "}": "}",
    "_": "_", "%": "%", "#": "#", "&": "&", ",": " ", ";": " ", ":": " ", "!": "", " ": " ", "quad": "  ",
    "qquad": "    ", "lbrace": "{", "rbrace": "}",
}
_NAMED = {"max", "min", "arg", "argmax", "argmin", "sup", "inf", "log", "exp", "det", "tr", "diag", "sin",
          "cos", "arccos", "arcsin", "tan", "lim"}  # \max: the word
_SIZES = {"left", "right", "bigl", "bigr", "Bigl", "Bigr", "biggl", "biggr", "big", "Big", "displaystyle",
          "textstyle", "nolimits", "limits"}  # sizing: nothing to print
_FONTS = {"mathrm", "operatorname", "text", "textrm", "mathbf", "mathit", "mathcal", "mathbb", "mathsf",
          "boldsymbol", "bm", "mbox", "mathtt"}  # the argument as it is
_ACCENTS = {"bar": "\u0304", "overline": "\u0304", "tilde": "\u0303", "widetilde": "\u0303", "hat": "\u0302",
            "widehat": "\u0302", "dot": "\u0307", "ddot": "\u0308", "vec": "\u20d7"}
_SUPERSCRIPT = str.maketrans("0123456789+-−=()niT", "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁻⁼⁽⁾ⁿⁱᵀ")
_SUBSCRIPT = str.maketrans("0123456789+-−=()aeijkmnoprstuvx", "₀₁₂₃₄₅₆₇₈₉₊₋₋₌₍₎ₐₑᵢⱼₖₘₙₒₚᵣₛₜᵤᵥₓ")
_TOKEN = re.compile(r"\\([A-Za-z]+|.)|\s+|.", re.DOTALL)


def latex_text(source: str) -> str:
    r"""A LaTeX formula as plain Unicode text, for a terminal.

    Greek letters and operators become their symbols, ``\frac{a}{b}`` becomes ``a/b`` (in
    parentheses when a side has more than one term), ``\sqrt{x}`` ``√(x)``, accents combining
    marks (``\bar X`` → X̄), ``^{\top}`` ``ᵀ``, short super- and subscripts Unicode digits
    and letters where those exist (``_F`` stays ``_F``); fonts and sizing commands are dropped.

    >>> latex_text(r"\mathrm{CKA}(K, L) = \frac{\mathrm{HSIC}(K, L)}{\sqrt{\mathrm{HSIC}(K, K)\,\mathrm{HSIC}(L, L)}}")
    'CKA(K, L) = HSIC(K, L) / √(HSIC(K, K) HSIC(L, L))'
    >>> latex_text(r"\|\bar X^\top \bar Y\|_*^2 \le \lambda_{\max}")
    '‖X̄ᵀ Ȳ‖_*² ≤ λ_max'
    """
    tokens = [m.group(0) for m in _TOKEN.finditer(source)]
    text, _ = _latex_group(tokens, 0, closing=None)
    text = re.sub(r"(?<=[⟨(\[]) +| +(?=[⟩)\]])", "", text)  # no space inside brackets
    text = re.sub(r" {2,}(?=\S)", lambda m: m.group(0) if len(m.group(0)) >= 4 else " ", text).strip()
    return unicodedata.normalize("NFC", text)  # Y and a combining bar: Ȳ, as the docstrings write it


def _latex_argument(tokens: list[str], i: int) -> tuple[str, int]:
    """The next argument: a braced group, or one token (spaces before it skipped)."""
    while i < len(tokens) and tokens[i].isspace():
        i += 1
    if i >= len(tokens):
        return "", i
    if tokens[i] == "{":
        return _latex_group(tokens, i + 1, closing="}")
    return _latex_group([tokens[i]], 0, closing=None)[0], i + 1


def _script(text: str, table: dict, mark: str) -> str:
    if not text:
        return ""
    if mark == "^" and all(c in "ᵀ′*†" for c in text):
        return text
    converted = text.translate(table)
    if len(text) <= 3 and all(c != o or c in "ᵀ" for c, o in zip(converted, text)):
        return converted
    return mark + (text if len(text) == 1 or text.isalnum() else f"({text})")


def _latex_group(tokens: list[str], i: int, closing: str | None) -> tuple[str, int]:
    out = []
    while i < len(tokens):
        token = tokens[i]
        i += 1
        if token == closing:
            break
        if token == "{":
            inner, i = _latex_group(tokens, i, "}")
            out.append(inner)
        elif token == "}":
            continue
        elif token in ("^", "_"):
            argument, i = _latex_argument(tokens, i)
            if token == "^":
                out.append(_script(argument.strip(), _SUPERSCRIPT, "^"))
            else:
                out.append(_script(argument.strip(), _SUBSCRIPT if argument.strip().isdigit() else {}, "_"))
        elif token == "&":
            continue
        elif token.startswith("\\") and len(token) > 1:
            name = token[1:]
            if name == "\\":
                out.append("\n")
            elif name in _FONTS:
                argument, i = _latex_argument(tokens, i)
                out.append(argument)
            elif name in _SIZES:
                continue
            elif name in _ACCENTS:
                argument, i = _latex_argument(tokens, i)
                out.append(argument[:1] + _ACCENTS[name] + argument[1:] if argument else "")
            elif name == "frac":
                top, i = _latex_argument(tokens, i)
                bottom, i = _latex_argument(tokens, i)
                out.append(f" {_operand(top)} / {_operand(bottom)} ")
            elif name == "sqrt":
                argument, i = _latex_argument(tokens, i)
                out.append(f"√{_operand(argument, always=len(argument.strip()) > 1)}")
            elif name in _SYMBOLS:
                out.append(_SYMBOLS[name])
            elif name in _NAMED:
                out.append(name)
            else:
                out.append(name)  # an unknown command: its name
        elif token.isspace():
            out.append(" ")
        else:
            out.append(token)
    return "".join(out), i


def _operand(text: str, always: bool = False) -> str:
    """``text`` as one side of ``/`` (or under ``√``): in parentheses unless it is one term."""
    text = re.sub(r"\s+", " ", text).strip()
    depth, norm, single = 0, False, True
    for c in text:
        depth += 1 if c in "([{⟨" else -1 if c in ")]}⟩" else 0
        norm ^= c == "‖"
        if depth == 0 and not norm and c in " +-−=/·":
            single = False
    return f"({text})" if always or not single else text


def plain_math(text: str) -> str:
    r"""reStructuredText math as plain text: ``.. math::`` blocks and ``:math:`...``` roles rendered by
    :func:`latex_text`, the rest of ``text`` unchanged.

    >>> print(plain_math("Where\n\n.. math::\n    a = \\frac{b}{c + d}\n\nand :math:`\\sigma > 0`."))
    Where
    <BLANKLINE>
        a = b / (c + d)
    <BLANKLINE>
    and σ > 0.
    """
    text = re.sub(r":math:`([^`]*)`", lambda m: latex_text(m.group(1)), text)
    lines, out, i = text.split("\n"), [], 0
    while i < len(lines):
        directive = re.match(r"(\s*)\.\. math::\s*(.*)$", lines[i])
        if not directive:
            out.append(lines[i])
            i += 1
            continue
        indent, block = directive.group(1), [directive.group(2)] if directive.group(2).strip() else []
        i += 1
        while i < len(lines) and (not lines[i].strip() or len(lines[i]) - len(lines[i].lstrip()) > len(indent)):
            if lines[i].strip() and not lines[i].strip().startswith(":"):  # options such as :label:
                block.append(lines[i])
            elif not lines[i].strip() and block:
                block.append("")
            i += 1
        while block and not block[-1].strip():
            block.pop()
        formulas = "\n".join(textwrap.dedent("\n".join(block)).split("\n"))
        for formula in re.split(r"\n\s*\n", formulas):
            for line in latex_text(formula.replace("\n", " \\\\ ")).split("\n"):
                out.append(indent + "    " + line.strip())
            out.append("")
    return "\n".join(out)


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

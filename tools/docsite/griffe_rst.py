"""A griffe extension: the reST of repalign's docstrings as the Markdown mkdocstrings renders.

The docstrings are Google style (griffe parses their sections) with reST inside, which Markdown shows
as raw text and a doctest's ``>>>`` as nested block quotes. Before griffe parses a docstring this
extension rewrites, outside fenced code:

- ``:func:`name``` (and ``:class:``, ``:mod:``, ``:meth:``, ``:attr:``, ``:data:``, ``:obj:``,
  ``:exc:``; ``~`` keeps the last component, ``title <target>`` the title) → ```name``` (code, no link:
  many targets are private and would break ``--strict``);
- ``:math:`x``` → ``\\(x\\)`` and a ``.. math::`` block → ``$$ … $$`` (pymdownx.arithmatex, rendered by
  KaTeX);
- a run of doctest lines (``>>>``, ``...`` and the output up to a blank line) → a ```pycon fence;
- a numpy-style ``Example`` heading underlined with dashes → ``**Example**``.

Enabled with the mkdocstrings option ``extensions: [tools/docsite/griffe_rst.py]``. The source files are
untouched: only the text griffe hands to mkdocstrings changes.
"""

from __future__ import annotations

import re

import griffe

ROLE = re.compile(r":(?:py:)?(?:func|class|mod|meth|attr|data|obj|exc|const):`([^`]+)`")
MATH_ROLE = re.compile(r":math:`([^`]+)`")
FENCE = re.compile(r"^\s*(```|~~~)")


def _role_text(match: re.Match) -> str:
    text = match.group(1).strip()
    titled = re.fullmatch(r"(.+?)\s*<([^>]+)>", text)
    if titled:
        return f"`{titled.group(1)}`"
    if text.startswith("~"):
        text = text[1:].rsplit(".", 1)[-1]
    return f"`{text}`"


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _inline(line: str) -> str:
    line = MATH_ROLE.sub(lambda m: "\\(" + m.group(1) + "\\)", line)
    return ROLE.sub(_role_text, line)


def convert(text: str) -> str:
    """The docstring ``text`` with its reST roles, math and doctests in Markdown (see the module)."""
    lines = text.split("\n")
    out: list[str] = []
    i, fenced = 0, False
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        if FENCE.match(line):
            fenced = not fenced
            out.append(line)
            i += 1
            continue
        if fenced:
            out.append(line)
            i += 1
            continue
        if stripped.startswith(".. math::"):
            pad = " " * _indent(line)
            body: list[str] = []
            first = stripped[len(".. math::"):].strip()
            if first:
                body.append(first)
            i += 1
            block: list[str] = []
            while i < len(lines) and (not lines[i].strip() or _indent(lines[i]) > _indent(line)):
                block.append(lines[i])
                i += 1
            while block and not block[-1].strip():
                block.pop()
            depth = min((_indent(b) for b in block if b.strip()), default=0)
            body += [b[depth:] for b in block if b.strip()]
            out += ["", pad + "$$", *(pad + b for b in body), pad + "$$", ""]
            continue
        if stripped.startswith(">>>"):
            pad = " " * _indent(line)
            block = []
            while i < len(lines) and lines[i].strip() and _indent(lines[i]) >= len(pad):
                block.append(lines[i][len(pad):])
                i += 1
            out += [pad + "```pycon", *(pad + b for b in block), pad + "```"]
            continue
        if (stripped == "Example" and i + 1 < len(lines) and re.fullmatch(r"-{3,}", lines[i + 1].strip())):
            out.append(" " * _indent(line) + "**Example**")
            out.append("")
            i += 2
            continue
        out.append(_inline(line))
        i += 1
    return "\n".join(out)


class ReSTToMarkdown(griffe.Extension):
    """Rewrite each docstring (see the module) when griffe loads its object."""

    def on_instance(self, *, obj: griffe.Object, **kwargs) -> None:  # noqa: ARG002 -- griffe's hook signature
        if obj.docstring is not None:
            obj.docstring.value = convert(obj.docstring.value)

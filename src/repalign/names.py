"""The parametrized name grammar of ``spec/measures.md``, as pure string handling.

``family[-param=value]*-(output)[-cv=Kfolds]`` where values that are themselves
parametrized go in parentheses: ``cka-kernel=(rbf-sigma=1)-hsic=gretton-score``, and so does
any value whose text contains ``-`` (a negative number or exponent), at every level:
``ridge-lambda=(1e-08)-r2-cv=5folds``, ``cka-kernel=(rbf-sigma=(1e-05))-hsic=gretton-score``.
Parsing removes those parentheses again (:func:`unwrap`), so every canonical name reads back
as the measure it names. This module splits and joins names; what the tokens mean is the
registry's business.
"""

from __future__ import annotations

__all__ = ["split_top_level", "parse_name", "format_value", "unwrap", "ParsedName"]

from dataclasses import dataclass, field


def split_top_level(text: str, sep: str = "-") -> list[str]:
    """Split on ``sep`` outside parentheses: ``"a-b=(c-d)-e"`` -> ``["a", "b=(c-d)", "e"]``."""
    parts, depth, current = [], 0, []
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth < 0:
                raise ValueError(f"unbalanced parentheses in measure name {text!r}")
        if char == sep and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    if depth != 0:
        raise ValueError(f"unbalanced parentheses in measure name {text!r}")
    parts.append("".join(current))
    return parts


@dataclass
class ParsedName:
    """Tokens of a name: the family, ``key=value`` pairs in order, and bare words."""

    family: str
    pairs: list[tuple[str, str]] = field(default_factory=list)
    words: list[str] = field(default_factory=list)


def parse_name(name: str) -> ParsedName:
    """Split a measure name into its family, ``key=value`` pairs (parentheses unwrapped) and bare words.

    >>> parse_name("ridge-lambda=(1e-08)-r2-cv=5folds")
    ParsedName(family='ridge', pairs=[('lambda', '1e-08'), ('cv', '5folds')], words=['r2'])
    """
    tokens = split_top_level(name.strip())
    if not tokens or not tokens[0]:
        raise ValueError(f"empty measure name {name!r}")
    parsed = ParsedName(tokens[0])
    for token in tokens[1:]:
        if not token:
            raise ValueError(f"empty token in measure name {name!r} (two '-' in a row?)")
        if "=" in token:
            key, value = token.split("=", 1)
            parsed.pairs.append((key, unwrap(value)))
        else:
            parsed.words.append(token)
    return parsed


def unwrap(value: str) -> str:
    """``value`` without the parentheses that enclose all of it: ``"(1e-08)"`` -> ``"1e-08"``.

    Only a pair that encloses the whole text is removed (``"(a)-(b)"`` stays as it is), as often
    as it is there (``"((1))"`` -> ``"1"``).
    """
    while value.startswith("(") and value.endswith(")"):
        depth = 0
        for position, char in enumerate(value):
            depth += {"(": 1, ")": -1}.get(char, 0)
            if depth == 0:
                break
        if position != len(value) - 1:  # the first "(" closes before the end
            return value
        value = value[1:-1]
    return value


def format_value(value) -> str:
    """Canonical spelling of a parameter value: shortest round-trip float, no trailing ``.0``.

    ``-0.0`` is spelled ``0``. Text containing ``-`` (``1e-08``, ``-2``) is put in parentheses,
    the separator of the name grammar being ``-``: ``(1e-08)``.
    """
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        if value == 0.0:
            value = 0.0  # -0.0 == 0.0: one number, one spelling
        text = repr(value)
        text = text[:-2] if text.endswith(".0") else text
    else:
        text = str(value)
    return f"({text})" if "-" in text else text

"""Every example of the documentation's hand-written pages runs, and every command they show exists.

The ```python blocks of docs/getting-started.md and docs/guides/*.md run in order, one namespace per
page, in a temporary folder. A block preceded by the HTML comment ``<!-- no-test -->`` is not run (long
or cluster commands only). The ```bash blocks' ``repalign ...`` lines (all of them, ``no-test`` or not:
they are only parsed) must name real subcommands and options: each is parsed by the command line's own
parser (click, under typer) without running it, so that an unknown command, an unknown option or a
missing argument fails here.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"
PAGES = [DOCS / "getting-started.md", *sorted((DOCS / "guides").glob("*.md"))]
BLOCK = re.compile(r"(<!--\s*no-test\s*-->\s*\n)?```(\w+)[^\n]*\n(.*?)^```", re.DOTALL | re.MULTILINE)

def blocks(page: Path, language: str, *, tested_only: bool) -> list[str]:
    found = []
    for marker, lang, code in BLOCK.findall(page.read_text()):
        if lang == language and not (tested_only and marker):
            found.append(code)
    return found


def page_id(page: Path) -> str:
    return str(page.relative_to(DOCS))


def test_the_pages_exist_and_have_examples():
    names = {page_id(p) for p in PAGES}
    assert {"getting-started.md", "guides/choosing-a-measure.md", "guides/models-vs-recordings.md",
            "guides/optimizing.md", "guides/tuning-sensitive.md"} <= names
    for page in PAGES:
        assert blocks(page, "python", tested_only=True), f"{page_id(page)} has no tested python block"


def test_the_block_pattern_sees_the_no_test_marker(tmp_path):
    page = tmp_path / "p.md"
    page.write_text("```python\na = 1\n```\n\n<!-- no-test -->\n```python\nb = 2\n```\n")
    assert blocks(page, "python", tested_only=True) == ["a = 1\n"]
    assert blocks(page, "python", tested_only=False) == ["a = 1\n", "b = 2\n"]


@pytest.mark.slow  # the guides optimize, bootstrap and match: about 16 s for the five pages
@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_python_blocks_run_in_order(page, tmp_path, monkeypatch):
    import matplotlib

    matplotlib.use("Agg")
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "docs_page"}
    for number, code in enumerate(blocks(page, "python", tested_only=True)):
        try:
            exec(compile(code, f"{page_id(page)} python block {number}", "exec"), namespace)  # noqa: S102
        except Exception as error:  # noqa: BLE001 -- say which block failed
            pytest.fail(f"{page_id(page)} python block {number} raised {error!r}:\n{code}")
        finally:
            import matplotlib.pyplot as plt

            plt.close("all")


def command_lines(page: Path) -> list[str]:
    lines = []
    for code in blocks(page, "bash", tested_only=False):
        for line in code.replace("\\\n", " ").splitlines():
            command = line.split("#")[0].strip()
            if command.startswith("repalign "):
                lines.append(command)
    return lines


def parse(line: str) -> None:
    """Parse a ``repalign ...`` line with the command line's own parser (typer's click), without running it.

    Raises AssertionError naming the line when a subcommand is unknown or the parser refuses the
    arguments (an unknown option, a missing argument, a bad value)."""
    import typer

    from repalign.cli.app import app

    command = typer.main.get_command(app)
    args = shlex.split(line)[1:]
    parent = None
    while hasattr(command, "commands"):  # a group (`repalign`, `repalign sweep`): descend to the subcommand
        assert args and args[0] in command.commands, f"{line!r}: {args[:1]} is not a subcommand of {command.name!r}"
        parent = command.make_context(command.name, [args[0]], parent=parent, resilient_parsing=True)
        command, args = command.commands[args[0]], args[1:]
    try:
        command.make_context(command.name, list(args), parent=parent)
    except Exception as error:  # noqa: BLE001 -- typer's click UsageError and its subclasses
        raise AssertionError(f"{line!r} does not parse: {error}") from error


@pytest.mark.parametrize("page", [*PAGES, DOCS / "index.md"], ids=page_id)
def test_command_lines_name_real_commands_and_options(page):
    for line in command_lines(page):
        parse(line)


def test_the_parser_check_can_fail():
    parse("repalign compare X.npy Y.npy -m cka --ci")
    parse("repalign sweep status spec.toml")
    for bad in ("repalign compare X.npy Y.npy --no-such-option", "repalign no-such-command",
                "repalign compare X.npy", "repalign sweep no-such-subcommand spec.toml",
                "repalign optimize data.npz --steps many"):
        with pytest.raises(AssertionError):
            parse(bad)


def test_the_griffe_extension_turns_rest_into_markdown():
    import importlib.util

    spec = importlib.util.spec_from_file_location("griffe_rst", DOCS.parent / "tools" / "docsite" / "griffe_rst.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    text = ("See :func:`~repalign.registry.measure`, :class:`Dataset <repalign.data.Dataset>` and :math:`R^2`.\n"
            "\n"
            "    .. math::\n"
            "\n"
            "        \\theta = \\tfrac12 (R^2 + 1)\n"
            "\n"
            "    >>> 1 + 1\n"
            "    2\n"
            "\n"
            "```text\n:func:`kept`\n```")
    assert module.convert(text).split("\n") == [
        "See `measure`, `Dataset` and \\(R^2\\).", "", "", "    $$", "    \\theta = \\tfrac12 (R^2 + 1)", "    $$", "",
        "    ```pycon", "    >>> 1 + 1", "    2", "    ```", "", "```text", ":func:`kept`", "```"]

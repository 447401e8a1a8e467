"""MkDocs hooks (``hooks:`` in mkdocs.yml): the generated pages of the site, made at build time.

``on_config`` adds every measure card to the navigation (under *Measures*); ``on_files`` adds the
pages, figures and CSV files of :func:`cards.pages` as files of the build (nothing is written into
``docs/``). The pages come from the registry and from ``docs/data/`` only, so ``make docs`` needs no
computation beyond drawing the figures.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import cards  # noqa: E402  (the folder is put on the path above)

_PAGES: dict[str, bytes] = {}


def _generated() -> dict[str, bytes]:
    if not _PAGES:
        _PAGES.update(cards.pages())
    return _PAGES


def on_config(config):
    """Every card in the navigation, under *Measures* → *All cards*, labelled by alias or canonical name."""
    from repalign.registry import catalogue

    entries = [{cards.label(name): f"measures/{cards.slug(name)}.md"} for name in catalogue()]
    for item in config.nav or []:
        if isinstance(item, dict) and "Measures" in item:
            item["Measures"].append({"All cards": entries})
            break
    return config


def on_files(files, config):
    """The generated pages and their figures and CSV files, added to the build's files."""
    from mkdocs.structure.files import File

    for path, content in _generated().items():
        if files.get_file_from_path(path) is not None:
            raise RuntimeError(f"{path} is generated at build time; remove the file of that name from docs/")
        files.append(File.generated(config, path, content=content))
    return files

"""The documents that say how the code is: generated pages up to date, links that resolve, every
deprecated name in the changelog."""

import re
from pathlib import Path

from repalign.cli.output import catalogue_markdown

ROOT = Path(__file__).resolve().parents[1]


def test_the_catalogue_page_is_the_registrys():
    page = (ROOT / "docs" / "catalogue.md").read_text()
    assert page == catalogue_markdown(), "docs/catalogue.md is out of date: run `make catalogue`"


def test_markdown_links_to_files_resolve():
    for document in ("README.md", "ARCHITECTURE.md", "CHANGELOG.md", "docs/api-contract.md", "bench/README.md"):
        text = (ROOT / document).read_text()
        for target in re.findall(r"\]\(([^)#\s]+)\)", text):
            if target.startswith(("http://", "https://")):
                continue
            path = (ROOT / document).parent / target
            assert path.exists() or target.startswith("../shared"), f"{document} links to missing {target}"


def test_the_changelog_names_every_deprecated_alias():
    changelog = (ROOT / "CHANGELOG.md").read_text()
    for name in ("repalign.measures(pattern)", "repalign.datasets", "repalign.generators", "repalign.io.load_array",
                 "perturbation_table", "plot_perturbation", "baseline_table", "plot_baselines", "plot_pc_capture",
                 "plot_capture_curves", "plot_decoding", "plot_topk_decoding", "sweep_thresholds",
                 "plot_variance_sweep", "analyses.save", "analyses.label", "repalign.optimize"):
        assert name in changelog, name


def test_the_architecture_lists_every_layer_of_the_contract():
    pyproject = (ROOT / "pyproject.toml").read_text()
    layers = re.search(r"layers = \[(.*?)\]", pyproject, re.DOTALL).group(1)
    architecture = (ROOT / "ARCHITECTURE.md").read_text()
    for module in re.findall(r"repalign\.([\w.]+)", layers):
        assert module.split(".")[-1].lstrip("_") in architecture, module

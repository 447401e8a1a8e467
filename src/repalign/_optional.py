"""Optional dependencies, imported on first use with one message when they are missing.

``import repalign`` loads torch, numpy, the measures and the optimizer only; pandas, xarray, matplotlib, POT,
scikit-learn, tqdm and typer load where a function needs them, through :func:`require`.
"""

from __future__ import annotations

import importlib

__all__ = ["require", "import_pandas", "import_pyplot"]


def require(module: str, extra: str, purpose: str):
    """Import ``module`` or raise ``ImportError`` saying what needs it and which extra installs it.

    >>> require("numpy", "all", "arrays").__name__
    'numpy'
    """
    package = module.split(".")[0]
    try:
        importlib.import_module(package)  # first: a cached submodule must not hide a missing package
        return importlib.import_module(module)
    except ImportError as error:
        raise ImportError(f"{purpose} needs {package}: pip install 'repalign[{extra}]'") from error


def import_pandas():
    """pandas, for tables (the ``cli`` extra)."""
    return require("pandas", "cli", "tables")


def import_pyplot():
    """matplotlib's pyplot, for figures (the ``plot`` extra)."""
    return require("matplotlib.pyplot", "plot", "figures")

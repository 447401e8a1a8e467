"""The package version, in its own module so that every layer can read it without importing the package."""

__version__ = "0.2.0"


def versions() -> dict[str, str]:
    """Versions of repalign, Python, numpy and torch (what a stored result records)."""
    import platform

    import numpy
    import torch

    return {"repalign": __version__, "python": platform.python_version(), "numpy": numpy.__version__,
            "torch": torch.__version__}

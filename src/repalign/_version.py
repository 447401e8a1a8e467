"""The package version, in its own module so that every layer can read it without importing the package."""

__version__ = "0.2.0"
REMOVAL = "0.3"  # the release that removes the deprecated names of 0.1 (CHANGELOG.md)


def deprecated(old: str, new: str, *, stacklevel: int = 3) -> None:
    """Warn that ``old`` is deprecated (removed in :data:`REMOVAL`) and say what to use instead.

    ``stacklevel`` 3 attributes the warning to the caller of the deprecated function that calls this.
    """
    import warnings

    warnings.warn(f"{old} is deprecated and will be removed in {REMOVAL}; use {new}", DeprecationWarning,
                  stacklevel=stacklevel)


def versions() -> dict[str, str]:
    """Versions of repalign, Python, numpy and torch (what a stored result records)."""
    import platform

    import numpy
    import torch

    return {"repalign": __version__, "python": platform.python_version(), "numpy": numpy.__version__,
            "torch": torch.__version__}

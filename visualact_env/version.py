"""The package version, in one place (``pyproject.toml`` reads it; modules import it from here, so
none of them needs the package's top-level facade)."""

from __future__ import annotations

__version__ = "0.1.0"

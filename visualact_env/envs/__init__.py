"""The Gymnasium environments of VisualActBench.

``VisualAct-v0`` (:class:`VisualActEnv`), ``VisualActIncremental-v0``
(:class:`VisualActIncrementalEnv`), the native vector environment (:class:`VisualActVectorEnv`)
and :class:`TextActionWrapper`; :class:`EnvConfig` holds the arguments all three take. The classes are imported on first access so that
``import visualact_env`` stays cheap (it only registers the ids).
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "EnvConfig": "common",
    "VisualActEnv": "visualact",
    "VisualActIncrementalEnv": "incremental",
    "VisualActVectorEnv": "vector",
    "TextActionWrapper": "wrappers",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

"""visualact: VisualActBench as a Gymnasium environment, metric, runner and reports.

Importing this package registers the environments ``VisualAct-v0`` and
``VisualActIncremental-v0`` with Gymnasium. Heavy libraries (torch, transformers,
sentence-transformers, decord) are imported only where they are used.
"""

from __future__ import annotations

__version__ = "0.1.0"

from .envs.registration import register_envs

register_envs()

__all__ = ["__version__", "register_envs"]

"""Test helpers that are real components, shipped with the library so that tests, benchmarks
and users' smoke tests share them.

* :mod:`.fake_openai_server`: a local OpenAI-compatible HTTP server with scripted faults
  (``python -m visualact_env.testing.fake_openai_server --port 8000``).

Names are imported lazily, so running a helper module with ``python -m`` stays clean.
"""

from __future__ import annotations

from typing import Any

_LAZY = {
    "FakeOpenAIServer": "fake_openai_server",
    "Fault": "fake_openai_server",
    "RecordedRequest": "fake_openai_server",
    "default_answer": "fake_openai_server",
    "image_tag": "fake_openai_server",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        module = importlib.import_module(f".{_LAZY[name]}", __name__)
        return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

"""``visualact serve``: a local web application over the benchmark.

Three parts (see docs/serve.md): the human baseline study (:mod:`.study`), annotation of new
clips (:mod:`.annotate`) and the run browser (:mod:`.runs`), served by one Starlette app
(:mod:`.app`) behind the guards of :mod:`.security`. Starlette, Jinja2 and uvicorn are imported
only when the app is built, never by ``import visualact_env``.
"""

from __future__ import annotations

from typing import Any

from .config import ServeConfig

__all__ = ["ServeConfig", "create_app"]


def create_app(config: ServeConfig, *, token: str | None = None) -> Any:
    """Build the ASGI app (see :func:`visualact_env.web.app.create_app`)."""
    from .app import create_app as build

    return build(config, token=token)

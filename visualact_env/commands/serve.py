"""``visualact serve``: the web app (human study, annotation, run browser) on uvicorn.

Binds 127.0.0.1 by default and prints the address; any other ``--host`` gets an access token
(generated unless ``--token`` gives one) printed in the address, as Jupyter does.
"""

from __future__ import annotations

import argparse
import contextlib
import socket
import sys
from typing import Any

from ..cli_config import add_dataclass_arguments, dataclass_from_args


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``serve`` sub-command."""
    from ..web.config import ServeConfig

    p = sub.add_parser(
        "serve",
        help="web app: human baseline study, annotation of new clips, run browser",
        description=(
            "Start a local web application: a human study in which people take the benchmark "
            "as a model does (answers become an ordinary run folder), annotation of a folder of "
            "clips into native annotation files, and a browser for the runs under --runs "
            "(reports, video by video, comparisons, human agreement). Binds 127.0.0.1 unless "
            "--host says otherwise; then an access token is required. See docs/serve.md."
        ),
    )
    add_dataclass_arguments(p, ServeConfig)
    p.set_defaults(func=run)


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host.strip("[]") else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host.strip("[]"), port))
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def url_of(host: str, port: int, token: str | None) -> str:
    """The address to open (with ``?token=`` when one is needed)."""
    shown = f"[{host.strip('[]')}]" if ":" in host.strip("[]") else host
    if shown in ("0.0.0.0", "[::]"):
        shown = socket.gethostname()
    return f"http://{shown}:{port}/" + (f"?token={token}" if token else "")


def run(args: argparse.Namespace) -> int:
    """Build the app, bind, print the address, serve until interrupted."""
    import uvicorn

    from ..web.app import create_app
    from ..web.config import ServeConfig
    from ..web.security import is_loopback, new_token

    config: Any = dataclass_from_args(ServeConfig, args)
    token = config.token
    if token is None and not is_loopback(config.host):
        token = new_token()
    from ..rundir import RunError

    try:
        app = create_app(config, token=token)
    except (ValueError, RunError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    try:
        sock = _bind(config.host, config.port)
    except OSError as e:
        print(f"error: cannot listen on {config.host}:{config.port}: {e}", file=sys.stderr)
        return 2
    port = sock.getsockname()[1]
    print(f"visualact serve: {url_of(config.host, port, token)}", flush=True)
    if token and not is_loopback(config.host):
        print("  (the token is required: share the address only with people you trust)", flush=True)
    server = uvicorn.Server(
        uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False)
    )
    with contextlib.suppress(KeyboardInterrupt):
        server.run(sockets=[sock])
    return 0

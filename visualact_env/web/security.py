"""The web app's guards: access token, CSRF tokens, host check, safe paths, security headers.

* **Access token.** On 127.0.0.1 (the default) only this machine can connect and no token is
  needed. Any other ``--host`` requires one (generated and printed at start, as Jupyter does):
  the first request carries ``?token=...``, which is swapped for an ``HttpOnly`` cookie and a
  redirect to the same URL without it, so the token leaves the address bar.
* **Host check.** On a loopback address the ``Host`` header must name a loopback host, which
  stops DNS-rebinding pages from talking to the server.
* **CSRF.** Each browser gets a random session cookie (``SameSite=Strict``); every form carries
  ``HMAC(server secret, session)`` in ``csrf_token`` and every POST is refused without it
  (:func:`checked_form`).
* **Paths.** :func:`safe_join` refuses absolute paths, ``..`` parts and anything that resolves
  outside its root (symbolic links included).
* **Headers.** A strict Content-Security-Policy (no inline script: the app's JS is one static
  file), ``nosniff``, no referrer, no framing.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlencode

from starlette.datastructures import FormData, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .config import LOOPBACK_HOSTS

TOKEN_COOKIE = "visualact_token"
SESSION_COOKIE = "visualact_session"
CSRF_FIELD = "csrf_token"

CSP = (
    "default-src 'self'; img-src 'self' data:; media-src 'self'; style-src 'self'; "
    "script-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
    "form-action 'self'"
)
"""The pages' policy: scripts and styles from the app's own static files only."""

REPORT_CSP = (
    "sandbox allow-scripts; default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
    "script-src 'unsafe-inline'"
)
"""A run's self-contained ``report.html``: its inline JS runs in a sandbox (an opaque origin:
no cookies, no requests to the app)."""


def is_loopback(host: str) -> bool:
    """True for 127.0.0.1, localhost and ::1."""
    return host.strip("[]").lower() in LOOPBACK_HOSTS


def new_token() -> str:
    """A random access token (32 hex digits, 128 bits)."""
    return secrets.token_hex(16)


class PathRefused(HTTPException):
    """A path that would leave its root (404: we do not say what exists outside)."""

    def __init__(self, detail: str):
        super().__init__(404, detail)


def safe_join(root: Path, relative: str) -> Path:
    """``root / relative`` for a relative POSIX path that stays inside ``root``.

    Refuses (``PathRefused``) empty parts of meaning: absolute paths, backslashes, NUL, ``..``
    anywhere, and a result whose resolved location (symbolic links followed) is outside the
    resolved ``root``.
    """
    if not isinstance(relative, str) or "\x00" in relative or "\\" in relative:
        raise PathRefused("invalid path")
    pure = PurePosixPath(relative)
    if pure.is_absolute() or any(part == ".." for part in pure.parts):
        raise PathRefused(f"path {relative!r} leaves its folder")
    base = root.resolve()
    target = (base / pure).resolve()
    if target != base and base not in target.parents:
        raise PathRefused(f"path {relative!r} leaves its folder")
    return target


def csrf_token(secret: bytes, session: str) -> str:
    """The CSRF token of a browser session."""
    return hmac.new(secret, session.encode(), hashlib.sha256).hexdigest()


async def checked_form(request: Request) -> FormData:
    """The POSTed form after its CSRF token was checked (403 otherwise)."""
    form = await request.form()
    state = request.scope.get("state") or {}
    session = state.get("session") if state.get("session_from_cookie") else None
    sent = form.get(CSRF_FIELD)
    secret: bytes = request.app.state.secret
    if not session or not isinstance(sent, str) or not sent:
        raise HTTPException(403, "CSRF token missing: reload the page and submit again")
    if not hmac.compare_digest(sent, csrf_token(secret, session)):
        raise HTTPException(403, "CSRF token invalid: reload the page and submit again")
    return form


def _host_of(header: str) -> str:
    if header.startswith("["):
        return header[1 : header.find("]")] if "]" in header else header
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


class SecurityMiddleware:
    """Host check, access token, session cookie and security headers for every request."""

    def __init__(
        self, app: ASGIApp, *, token: str | None, check_host: bool, max_body: int = 1 << 20
    ):
        self.app = app
        self.token = token
        self.check_host = check_host
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        if self.check_host and not is_loopback(_host_of(request.headers.get("host", ""))):
            await PlainTextResponse("invalid Host header", status_code=400)(scope, receive, send)
            return
        if self.token is not None:
            refused = self._token_response(request)
            if refused is not None:
                await refused(scope, receive, send)
                return
        if request.method not in ("GET", "HEAD"):
            length = request.headers.get("content-length", "")
            if not length.isdigit() or int(length) > self.max_body:
                status = 411 if not length.isdigit() else 413
                message = "Content-Length required" if status == 411 else "request too large"
                await PlainTextResponse(message, status_code=status)(scope, receive, send)
                return
        session = request.cookies.get(SESSION_COOKIE, "")
        from_cookie = len(session) == 32 and all(c in "0123456789abcdef" for c in session)
        if not from_cookie:
            session = secrets.token_hex(16)
        state = scope.setdefault("state", {})
        state["session"] = session
        state["session_from_cookie"] = from_cookie

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if "content-security-policy" not in headers:
                    headers["content-security-policy"] = CSP
                headers["x-content-type-options"] = "nosniff"
                headers["referrer-policy"] = "no-referrer"
                headers["x-frame-options"] = "DENY"
                headers.setdefault("cache-control", "no-store")
                if not from_cookie:
                    headers.append(
                        "set-cookie",
                        f"{SESSION_COOKIE}={session}; Path=/; HttpOnly; SameSite=Strict",
                    )
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _token_response(self, request: Request) -> Any:
        """None when the request carries the token; else a redirect (token in the query) or 403."""
        assert self.token is not None
        given = request.query_params.get("token")
        if given is not None and hmac.compare_digest(given, self.token):
            query = [(k, v) for k, v in request.query_params.multi_items() if k != "token"]
            url = request.url.path + ("?" + urlencode(query) if query else "")
            response = RedirectResponse(url, status_code=303)
            response.set_cookie(TOKEN_COOKIE, self.token, httponly=True, samesite="strict")
            return response
        cookie = request.cookies.get(TOKEN_COOKIE, "")
        header = request.headers.get("authorization", "")
        if hmac.compare_digest(cookie, self.token) or hmac.compare_digest(
            header, f"token {self.token}"
        ):
            return None
        return HTMLResponse(
            "<!doctype html><title>Access token required</title><h1>Access token required</h1>"
            "<p>Open the address printed by <code>visualact serve</code> (it ends with "
            "<code>?token=...</code>).</p>",
            status_code=403,
        )


def server_secret() -> bytes:
    """A fresh random secret for signing CSRF tokens (per server start)."""
    return os.urandom(32)

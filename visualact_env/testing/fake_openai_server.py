"""A real OpenAI-compatible HTTP server on 127.0.0.1 with scripted faults, for tests and demos.

It speaks ``POST /v1/chat/completions`` and ``GET /v1/models`` over real HTTP (a
``ThreadingHTTPServer``: one thread per connection, so a slow request never blocks the others
and 32+ concurrent connections are served in parallel), answers deterministically, records every
request, and injects faults on a script::

    with FakeOpenAIServer(latency=0.05, script=[Fault.rate_limit(0.3), Fault.server_error()]) as srv:
        agent = OpenAIAgent("fake-vlm", base_url=srv.base_url, api_key="EMPTY")
        ...
        assert len(srv.chat_requests) == 3

The default answer is a JSON action list derived from the request: one action per image (at most
5), each tagged with :func:`image_tag` of the first image so a test can check that every video
got its own answer. Faults (:class:`Fault`): 429 with ``Retry-After`` (seconds or HTTP date),
500/503, a delay (beyond the client's timeout), a body that is not JSON, JSON without
``choices``, a 400 rejecting ``response_format``, empty content, content that is not text
(``"content": 12345``), an answer echoing the request's headers (``Authorization`` included, as
a misconfigured proxy or debug server does), a body dripped slowly one chunk at a time (each
chunk well within a read timeout, the whole far beyond it), or a scripted answer.

:meth:`FakeOpenAIServer.kill` stops it as a crashed server stops: requests in flight and any
later request on a kept-alive connection get their connection closed without an answer.

The server is bounded: it shuts itself down after ``max_lifetime`` seconds even if a test
forgets to stop it, and it listens on 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

FAULT_KINDS = (
    "ok",
    "rate_limit",
    "server_error",
    "delay",
    "not_json",
    "no_choices",
    "reject_response_format",
    "empty",
    "bad_request",
    "unauthorized",
    "bad_content",
    "echo_headers",
    "drip",
)


@dataclass(frozen=True)
class Fault:
    """What the server does with one chat request.

    ``kind`` is one of :data:`FAULT_KINDS`; ``status`` the HTTP status of error kinds;
    ``retry_after`` the ``Retry-After`` header (a number of seconds, or a string sent verbatim,
    e.g. an HTTP date); ``delay`` extra seconds before answering; ``content`` a scripted answer;
    ``message`` the error message of ``bad_request``; ``value`` the message content of
    ``bad_content`` (any JSON value); ``chunks`` and ``interval`` how ``drip`` sends its body.
    """

    kind: str = "ok"
    status: int = 200
    retry_after: float | str | None = None
    delay: float = 0.0
    content: str | None = None
    message: str | None = None
    value: Any = None
    chunks: int = 1
    interval: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; choose from {FAULT_KINDS}")

    @classmethod
    def ok(cls, content: str | None = None) -> Fault:
        """A normal answer (``content`` or the default answer)."""
        return cls("ok", content=content)

    @classmethod
    def rate_limit(cls, retry_after: float | str | None = 1.0) -> Fault:
        return cls("rate_limit", status=429, retry_after=retry_after)

    @classmethod
    def server_error(cls, status: int = 500) -> Fault:
        return cls("server_error", status=status)

    @classmethod
    def slow(cls, seconds: float) -> Fault:
        """Answer normally but only after ``seconds`` (use a value beyond the client timeout)."""
        return cls("delay", delay=seconds)

    @classmethod
    def not_json(cls) -> Fault:
        return cls("not_json")

    @classmethod
    def no_choices(cls) -> Fault:
        return cls("no_choices")

    @classmethod
    def reject_response_format(cls) -> Fault:
        return cls("reject_response_format", status=400)

    @classmethod
    def empty(cls) -> Fault:
        """A valid completion whose message content is empty."""
        return cls("empty")

    @classmethod
    def bad_request(cls, status: int = 400, message: str = "Invalid request") -> Fault:
        """A non-retryable client error (400 by default) with the given error message."""
        return cls("bad_request", status=status, message=message)

    @classmethod
    def unauthorized(cls) -> Fault:
        """401 whose message echoes the Authorization header's key, as some servers do."""
        return cls("unauthorized", status=401)

    @classmethod
    def bad_content(cls, value: Any = 12345) -> Fault:
        """A completion whose ``message.content`` is ``value``, not text (a malformed body)."""
        return cls("bad_content", value=value)

    @classmethod
    def echo_headers(cls) -> Fault:
        """A normal-looking action list whose text echoes the request's headers, including
        ``Authorization: Bearer <key>`` (what a debugging proxy or a careless server does)."""
        return cls("echo_headers")

    @classmethod
    def drip(cls, chunks: int = 10, interval: float = 1.0) -> Fault:
        """A normal answer whose body is sent in ``chunks`` pieces, ``interval`` seconds apart:
        every read finishes quickly, the whole response takes ``(chunks - 1) * interval``."""
        if chunks < 1 or interval < 0:
            raise ValueError(f"drip needs chunks >= 1 and interval >= 0, got {chunks}, {interval}")
        return cls("drip", chunks=int(chunks), interval=float(interval))


@dataclass
class RecordedRequest:
    """One request as the server saw it (headers lower-cased; body parsed when JSON)."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any
    fault: str
    received_at: float = field(default_factory=time.monotonic)

    @property
    def image_urls(self) -> list[str]:
        return image_urls(self.body) if isinstance(self.body, dict) else []


def image_urls(body: dict[str, Any]) -> list[str]:
    """The ``image_url`` URLs of a chat request body, in message order."""
    urls = []
    for message in body.get("messages") or []:
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, list):
            for part in content:
                if isinstance(part, dict) and part.get("type") == "image_url":
                    urls.append(str((part.get("image_url") or {}).get("url", "")))
    return urls


def _text_length(body: dict[str, Any]) -> int:
    total = 0
    for message in body.get("messages") or []:
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, str):
            total += len(content)
        elif isinstance(content, list):
            total += sum(len(str(p.get("text", ""))) for p in content if isinstance(p, dict))
    return total


def image_tag(url: str) -> str:
    """A short, stable tag of an image URL (what the default answer mentions)."""
    return hashlib.sha256(url.encode()).hexdigest()[:10]


def default_answer(body: dict[str, Any]) -> str:
    """A deterministic JSON action list: one action per image (1..5), tagged by the first image."""
    urls = image_urls(body)
    tag = image_tag(urls[0]) if urls else "no-image"
    n = max(1, min(len(urls), 5))
    actions = [
        {
            "action": f"Respond to scene {tag} with step {i + 1}",
            "apl": i % 5,
            "proactive": i % 2 == 0,
        }
        for i in range(n)
    ]
    return json.dumps({"actions": actions})


class FakeOpenAIServer:
    """A local OpenAI-compatible server (see the module docstring).

    ``script`` faults are used in order, one per chat request; afterwards each request gets a
    random fault from ``faults`` with probability ``fault_rate`` (seeded), else ``default``
    (a normal answer unless given). ``reject_response_format=True`` makes every request that
    carries a ``response_format`` fail with 400, like a server without structured output.
    ``responder(body) -> str`` replaces the default answer text.
    """

    def __init__(
        self,
        *,
        latency: float = 0.0,
        script: Iterable[Fault] = (),
        default: Fault | None = None,
        fault_rate: float = 0.0,
        faults: Sequence[Fault] = (),
        seed: int = 0,
        reject_response_format: bool = False,
        responder: Callable[[dict[str, Any]], str] | None = None,
        models: Sequence[str] = ("fake-vlm",),
        host: str = "127.0.0.1",
        port: int = 0,
        max_lifetime: float = 120.0,
    ) -> None:
        if fault_rate and not faults:
            raise ValueError("fault_rate > 0 needs a non-empty 'faults' list to draw from")
        self.latency = float(latency)
        self._script = list(script)
        self.default = default or Fault.ok()
        self.fault_rate = float(fault_rate)
        self.faults = list(faults)
        self.reject_response_format = reject_response_format
        self.responder = responder or default_answer
        self.models = list(models)
        self.host, self.port = host, port
        self.max_lifetime = max_lifetime
        self.requests: list[RecordedRequest] = []
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._killed = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._timer: threading.Timer | None = None
        self._counter = 0
        self.in_flight = 0
        self.max_in_flight = 0

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> FakeOpenAIServer:
        """Bind an ephemeral port on 127.0.0.1 and serve in a background thread."""
        if self._httpd is not None:
            return self
        httpd = _Server((self.host, self.port), _Handler)
        httpd.fake = self
        self._httpd = httpd
        self.port = httpd.server_address[1]
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        if self.max_lifetime:
            self._timer = threading.Timer(self.max_lifetime, self.stop)
            self._timer.daemon = True
            self._timer.start()
        return self

    def stop(self) -> None:
        """Stop serving, wake sleeping handlers and close the socket (idempotent)."""
        self._stopping.set()
        httpd, self._httpd = self._httpd, None
        if self._timer is not None:
            self._timer.cancel()
        if httpd is not None:
            httpd.shutdown()
            httpd.server_close()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)

    def kill(self) -> None:
        """Stop as a crashed server does: no answer to anything in flight or still to come."""
        self._killed.set()
        self.stop()

    @property
    def killed(self) -> bool:
        return self._killed.is_set()

    def __enter__(self) -> FakeOpenAIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        """Whether the server is still accepting requests."""
        return self._httpd is not None

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/v1``."""
        return f"http://{self.host}:{self.port}/v1"

    @property
    def chat_requests(self) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if r.path.endswith("/chat/completions")]

    # -- behaviour -------------------------------------------------------------------------
    def push(self, *faults: Fault) -> None:
        """Append faults to the script (used by the next chat requests)."""
        with self._lock:
            self._script.extend(faults)

    def _next_fault(self, body: Any) -> Fault:
        with self._lock:
            self._counter += 1
            if (
                self.reject_response_format
                and isinstance(body, dict)
                and body.get("response_format")
            ):
                return Fault.reject_response_format()
            if self._script:
                return self._script.pop(0)
            if self.fault_rate and self._rng.random() < self.fault_rate:
                return self._rng.choice(self.faults)
            return self.default

    def stats(self) -> dict[str, Any]:
        """Counters also served at ``GET /v1/_stats`` (not recorded as a request)."""
        with self._lock:
            chat = sum(r.path.endswith("/chat/completions") for r in self.requests)
            return {
                "chat_requests": chat,
                "max_in_flight": self.max_in_flight,
                "process_cpu_s": round(time.process_time(), 4),
            }

    def _enter(self) -> None:
        with self._lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def _leave(self) -> None:
        with self._lock:
            self.in_flight -= 1

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def sleep(self, seconds: float) -> None:
        """Sleep without delaying shutdown."""
        if seconds > 0:
            self._stopping.wait(seconds)

    def completion(self, body: dict[str, Any], content: str | None) -> dict[str, Any]:
        """A chat.completion object for ``content`` with made-up but consistent usage."""
        with self._lock:
            n = self._counter
        text = content or ""
        prompt_tokens = 85 * len(image_urls(body)) + _text_length(body) // 4
        completion_tokens = max(1, len(text) // 4) if text else 0
        return {
            "id": f"chatcmpl-fake-{n}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": str(body.get("model", "fake-vlm")),
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content},
                    "finish_reason": "stop",
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 256
    allow_reuse_address = True
    fake: FakeOpenAIServer


def _error_body(message: str, kind: str, param: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": param, "code": None}}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 30  # seconds an idle keep-alive connection may wait
    # Headers and body go out in separate writes; with Nagle's algorithm the body would wait for
    # the client's delayed ACK (up to 40 ms on Linux) on every keep-alive response.
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - base signature
        """Silence the default per-request stderr log."""

    # -- plumbing ----------------------------------------------------------------------------
    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError, OSError):
            self.close_connection = True  # the client gave up (e.g. timed out)

    def _send_json(self, status: int, obj: Any, headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(obj).encode(), headers)

    def _drip(self, fake: FakeOpenAIServer, body: bytes, chunks: int, interval: float) -> None:
        """Send a 200 with ``body`` in ``chunks`` pieces, ``interval`` seconds apart."""
        size = max(1, -(-len(body) // chunks))
        try:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            for start in range(0, len(body), size):
                if start:
                    fake.sleep(interval)
                self.wfile.write(body[start : start + size])
                self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, OSError):
            self.close_connection = True  # the client gave up (as it should)

    def _read_body(self) -> tuple[bytes, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            return raw, json.loads(raw) if raw else None
        except ValueError:
            return raw, None

    # -- routes ------------------------------------------------------------------------------
    def do_GET(self) -> None:
        fake = self.server.fake
        if self.path.rstrip("/").endswith("/_stats"):  # for benchmarks across processes
            self._send_json(200, fake.stats())
            return
        fake._record(RecordedRequest("GET", self.path, _headers(self.headers), None, "ok"))
        if self.path.rstrip("/").endswith("/models"):
            data = [{"id": m, "object": "model", "owned_by": "visualact"} for m in fake.models]
            self._send_json(200, {"object": "list", "data": data})
        else:
            self._send_json(404, _error_body(f"no route {self.path}", "not_found"))

    def do_POST(self) -> None:
        fake = self.server.fake
        raw, body = self._read_body()
        if fake.killed:  # a kept-alive connection to a killed server: closed, no answer
            self.close_connection = True
            return
        if not self.path.rstrip("/").endswith("/chat/completions"):
            fake._record(RecordedRequest("POST", self.path, _headers(self.headers), body, "404"))
            self._send_json(404, _error_body(f"no route {self.path}", "not_found"))
            return
        if not isinstance(body, dict):
            fake._record(RecordedRequest("POST", self.path, _headers(self.headers), raw, "bad"))
            self._send_json(
                400, _error_body("request body is not a JSON object", "invalid_request_error")
            )
            return
        fault = fake._next_fault(body)
        fake._record(RecordedRequest("POST", self.path, _headers(self.headers), body, fault.kind))
        fake._enter()
        try:
            fake.sleep(fake.latency + fault.delay)
            if fake.killed:  # killed while answering: the connection drops
                self.close_connection = True
                return
            self._answer(fake, body, fault)
        finally:
            fake._leave()

    def _answer(self, fake: FakeOpenAIServer, body: dict[str, Any], fault: Fault) -> None:
        kind = fault.kind
        if kind == "rate_limit":
            headers = {}
            if fault.retry_after is not None:
                ra = fault.retry_after
                headers["Retry-After"] = ra if isinstance(ra, str) else f"{float(ra):g}"
            self._send_json(429, _error_body("Rate limit reached", "rate_limit_error"), headers)
        elif kind == "server_error":
            self._send_json(fault.status, _error_body("The server had an error", "server_error"))
        elif kind == "reject_response_format":
            msg = "response_format 'json_schema' is not supported by this server"
            self._send_json(400, _error_body(msg, "invalid_request_error", "response_format"))
        elif kind == "bad_request":
            msg = fault.message or "Invalid request"
            self._send_json(fault.status, _error_body(msg, "invalid_request_error"))
        elif kind == "unauthorized":
            key = (self.headers.get("Authorization") or "").removeprefix("Bearer ")
            msg = f"Incorrect API key provided: {key}"
            self._send_json(401, _error_body(msg, "invalid_request_error"))
        elif kind == "not_json":
            self._send(200, b"<html><body>502 Bad Gateway (not JSON)</body></html>")
        elif kind == "no_choices":
            self._send_json(200, {"id": "chatcmpl-broken", "object": "chat.completion"})
        elif kind == "empty":
            self._send_json(200, fake.completion(body, ""))
        elif kind == "bad_content":
            completion = fake.completion(body, "")
            completion["choices"][0]["message"]["content"] = fault.value
            self._send_json(200, completion)
        elif kind == "echo_headers":
            echoed = "; ".join(f"{k}: {v}" for k, v in self.headers.items())
            auth = self.headers.get("Authorization") or ""
            actions = [{"action": f"Debug echo: Authorization: {auth}", "apl": 1}]
            content = json.dumps({"actions": actions, "note": echoed})
            self._send_json(200, fake.completion(body, content))
        elif kind == "drip":
            completion = fake.completion(body, fake.responder(body))
            self._drip(fake, json.dumps(completion).encode(), fault.chunks, fault.interval)
        else:  # ok, delay
            content = fault.content if fault.content is not None else fake.responder(body)
            self._send_json(200, fake.completion(body, content))


def _headers(headers: Any) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}


def http_date(seconds_from_now: float) -> str:
    """An HTTP date (for a ``Retry-After`` header) ``seconds_from_now`` in the future."""
    return formatdate(time.time() + seconds_from_now, usegmt=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Serve until interrupted or ``--lifetime`` seconds pass (a smoke-test target)."""
    parser = argparse.ArgumentParser(description="Local OpenAI-compatible test server.")
    parser.add_argument("--port", type=int, default=8000, help="0 picks a free port")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds per request")
    parser.add_argument("--fault-rate", type=float, default=0.0)
    parser.add_argument("--lifetime", type=float, default=3600.0, help="stop after seconds")
    parser.add_argument("--reject-response-format", action="store_true")
    args = parser.parse_args(argv)
    faults = [Fault.rate_limit(0.5), Fault.server_error(503), Fault.not_json()]
    server = FakeOpenAIServer(
        latency=args.latency,
        port=args.port,
        fault_rate=args.fault_rate,
        faults=faults if args.fault_rate else (),
        reject_response_format=args.reject_response_format,
        max_lifetime=args.lifetime,
    ).start()
    print(f"serving {server.base_url} (Ctrl-C to stop)", flush=True)
    try:
        server._stopping.wait(args.lifetime)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""An agent for any OpenAI-compatible chat API: GPT-4o, vLLM, SGLang, Ollama, LM Studio.

Spec strings (see :mod:`visualact_env.registry`)::

    openai:gpt-4o                                            # OPENAI_BASE_URL or api.openai.com
    openai:Qwen/Qwen2.5-VL-7B-Instruct@http://localhost:8000/v1   # MODEL@BASE_URL
    openai:Qwen/Qwen2.5-VL-7B-Instruct@http://h1:8000/v1,http://h2:8000/v1   # several servers

Each video's frames go as base64 JPEG ``image_url`` parts (one per frame) followed by the
prompt's user text; the answer goes through :func:`visualact_env.parsing.parse_actions`.

Why the request policy is ours and not the client's: the official ``openai`` client runs with
``max_retries=0`` so that every attempt is visible (``AgentOutput.attempts``, diagnostics) and the
policy is the same against every server: retry 429, 408, 5xx, timeouts, connection errors and
malformed bodies (not JSON, no ``choices``) with exponential backoff and full jitter, honouring
``Retry-After`` (seconds or HTTP date, capped); never retry other 4xx. A request that fails for
good returns ``AgentOutput(error=..., attempts=n)``: a recorded failure, never an empty answer.

Structured output: with ``structured_output="auto"`` the prompt's JSON schema is sent as
``response_format``; a server that rejects it (400 naming response_format / json_schema /
unsupported) is asked again in plain text, and the agent remembers the fallback.

All network I/O runs on one event loop in a background thread owned by the agent, so one client
and one concurrency bound (``concurrency`` requests in flight) serve :meth:`act` (plain code or
inside a running loop), :meth:`aact` (any loop) and :meth:`act_batch` alike.

Several base URLs (comma-separated) serve one model from several servers: each request goes to
the live server with the fewest requests in flight, and one that stops answering leaves the
rotation until a later retry finds it back (:mod:`.servers`); a request it failed moves to another
server at once. Per-server counts are in :meth:`OpenAIAgent.run_stats`.

Deterministic requests (temperature 0) are cached on disk (``visualact_env.response_cache``),
keyed by model, base URL, prompt fingerprint, frames and generation settings; never the API key,
which is also kept out of :meth:`config`, diagnostics and error messages.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import random
import re
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import Future
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from visualact_env.agent import Agent, AgentOutput
from visualact_env.frames import frame_array
from visualact_env.jsonio import replace_surrogates
from visualact_env.records import as_actions
from visualact_env.redaction import strip_credentials

from .images import DEFAULT_JPEG_QUALITY, IMAGE_DETAILS, frames_digest, image_parts
from .servers import DOWN_BASE, GATEWAY_DOWN, ServerPool, split_urls

DEFAULT_BASE_URL = "https://api.openai.com/v1"
STRUCTURED_MODES = ("auto", "json_schema", "off")
RETRYABLE_STATUS = frozenset({408, 409, 429})
# a 400/422 naming one of these, for a request that carried ``response_format``, means the
# server cannot do structured output (a message about another parameter does not count)
_FORMAT_WORDS = ("response_format", "json_schema", "structured output", "guided")

_OPTION_TYPES: dict[str, Any] = {
    "temperature": float,
    "max_tokens": int,
    "seed": int,
    "concurrency": int,
    "timeout": float,
    "max_retries": int,
    "prompt": str,
    "structured_output": str,
    "image_detail": str,
    "api_key": str,
    "base_url": str,
    "cache": bool,
    "jpeg_quality": int,
    "backoff_base": float,
    "backoff_max": float,
    "retry_after_max": float,
    "server_retry": float,
}


# ---------------------------------------------------------------------------------------------
# Small pure helpers


def parse_model_spec(arg: str | None, *, at_in_model: bool = False) -> tuple[str, str | None]:
    """``"gpt-4o"`` -> ``("gpt-4o", None)``; ``"m@http://h:8000/v1"`` -> ``("m", "http://h:8000/v1")``.

    An ``@`` not followed by ``http://`` or ``https://`` is an error (``m@localhost:8000/v1``
    would otherwise become a model name on the public API, and the frames would leave the
    machine), unless ``at_in_model`` says the base URL is given elsewhere and the ``@`` belongs
    to the model's name.
    """
    if not arg or not arg.strip():
        raise ValueError(
            "the openai agent needs a model: openai:MODEL or openai:MODEL@BASE_URL "
            "(e.g. openai:gpt-4o, openai:Qwen/Qwen2.5-VL-7B-Instruct@http://localhost:8000/v1)"
        )
    match = re.search(r"@(https?://)", arg, re.IGNORECASE)
    if match is None:
        if "@" in arg and not at_in_model:
            model = arg.partition("@")[0].strip() or "MODEL"
            # the rest is not echoed: it may hold credentials in a form no parser recognises
            raise ValueError(
                f"openai:{model}@...: the part after '@' must be a base URL starting with "
                f"http:// or https:// (e.g. openai:{model}@http://localhost:8000/v1); a model "
                "name containing '@' needs its server given as --agent-option base_url=URL"
            )
        return arg.strip(), None
    model, url = arg[: match.start()].strip(), arg[match.start() + 1 :].strip()
    if not model:
        raise ValueError(f"no model name before '@' in {arg!r}")
    return model, url


def check_base_url(url: str) -> None:
    """Raise ``ValueError`` unless ``url`` is an ``http://`` or ``https://`` URL with a host."""
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ValueError(
            f"base URL {strip_credentials(url)!r} must start with http:// or https:// and name "
            f"a host (e.g. http://localhost:8000/v1)"
        )


def url_secrets(url: str) -> list[str]:
    """The secret parts of a URL's credentials, as they could reappear in text: the password,
    a long user name (often a token), and the HTTP Basic header value made from them."""
    parts = urlsplit(url)
    user, password = parts.username, parts.password
    if user is None and password is None:
        return []
    basic = base64.b64encode(f"{user or ''}:{password or ''}".encode()).decode()
    return [s for s in (password, user if user and len(user) >= 12 else None, basic) if s]


def public_url(url: str) -> str:
    """``url`` without user:password credentials or a query string (safe to record)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path.rstrip("/"), "", ""))


def parse_retry_after(headers: Mapping[str, str] | None, cap: float) -> float | None:
    """Seconds to wait from ``retry-after-ms`` / ``Retry-After`` (seconds or HTTP date), capped."""
    if not headers:
        return None
    lower = {k.lower(): v for k, v in headers.items()}
    value: float | None = None
    if "retry-after-ms" in lower:
        try:
            value = float(lower["retry-after-ms"]) / 1000.0
        except ValueError:
            value = None
    if value is None and "retry-after" in lower:
        raw = lower["retry-after"].strip()
        try:
            value = float(raw)
        except ValueError:
            try:
                value = parsedate_to_datetime(raw).timestamp() - time.time()
            except (TypeError, ValueError, IndexError):
                value = None
    if value is None:
        return None
    return min(max(value, 0.0), cap)


def backoff_delay(attempt: int, base: float, cap: float, rng: random.Random) -> float:
    """Full-jitter exponential backoff: uniform(0, min(cap, base * 2**(attempt-1)))."""
    return rng.uniform(0.0, min(cap, base * (2 ** max(attempt - 1, 0))))


class Redactor:
    """Removes secrets from text bound for logs, records or exceptions."""

    _PATTERNS = (
        re.compile(r"(?i)(bearer\s+)[^\s'\",}]+"),
        re.compile(r"sk-[A-Za-z0-9_\-]{8,}"),
        re.compile(r"(?i)(api[_-]?key['\"]?\s*[:=]\s*['\"]?)[^\s'\",}&]+"),
    )

    def __init__(self, secrets: Sequence[str | None] = ()) -> None:
        # longest first, so a secret containing another is removed whole
        self.secrets = sorted({s for s in secrets if s and len(s) >= 6}, key=len, reverse=True)

    def scrub(self, text: str) -> str:
        """Only the configured secrets replaced: for model answers, where a pattern (``bearer
        ...``) could match ordinary words and change what is scored."""
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return text

    def __call__(self, text: str) -> str:
        text = self.scrub(text)
        for pattern in self._PATTERNS:
            text = pattern.sub(lambda m: (m.group(1) if m.groups() else "") + "***", text)
        return text


def coerce_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """Check option names and convert CLI strings (``--agent-option k=v``) to their types."""
    unknown = sorted(set(options) - set(_OPTION_TYPES))
    if unknown:
        raise ValueError(
            f"unknown openai agent option(s) {unknown}; known: {', '.join(sorted(_OPTION_TYPES))}"
        )
    out: dict[str, Any] = {}
    for name, value in options.items():
        kind = _OPTION_TYPES[name]
        if value is None or not isinstance(value, str) or kind is str:
            out[name] = value
        elif value.strip().lower() in ("none", "null", ""):
            out[name] = None
        elif kind is bool:
            low = value.strip().lower()
            if low not in ("1", "0", "true", "false", "yes", "no", "on", "off"):
                raise ValueError(f"option {name}: expected true/false, got {value!r}")
            out[name] = low in ("1", "true", "yes", "on")
        else:
            try:
                out[name] = kind(value)
            except ValueError:
                raise ValueError(
                    f"option {name}: expected {kind.__name__}, got {value!r}"
                ) from None
    return out


# ---------------------------------------------------------------------------------------------
# Request outcomes


class _Retryable(Exception):
    def __init__(
        self, message: str, retry_after: float | None = None, server_down: bool = False
    ) -> None:
        super().__init__(message)
        self.message, self.retry_after = message, retry_after
        self.server_down = server_down  # the server did not answer: another one may


class _Fatal(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class _FormatRejected(_Fatal):
    """The server refused ``response_format`` (structured output unsupported)."""


class _UseMaxCompletionTokens(_Fatal):
    """The model wants ``max_completion_tokens`` instead of ``max_tokens`` (o-series, GPT-5)."""


class OpenAIAgent(Agent):
    """A policy backed by an OpenAI-compatible chat completions endpoint (see module docs).

    ``max_retries`` is the number of retries after the first attempt (so a request is sent at
    most ``max_retries + 1`` times, plus one plain-text resend when structured output is
    rejected). ``usage_total`` sums the token usage of the requests actually sent (cache hits
    excluded).
    """

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        temperature: float = 0.0,
        max_tokens: int = 1024,
        seed: int | None = None,
        concurrency: int = 8,
        timeout: float = 60.0,
        max_retries: int = 5,
        prompt: Any = None,
        structured_output: str = "auto",
        image_detail: str | None = "auto",
        cache: bool = True,
        jpeg_quality: int = DEFAULT_JPEG_QUALITY,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
        retry_after_max: float = 60.0,
        server_retry: float = DOWN_BASE,
        spec: str | None = None,
    ) -> None:
        from visualact_env.prompts import load_prompt

        self._check_settings(structured_output, image_detail, concurrency, max_retries, timeout)
        self.model = model
        self._base_urls = split_urls(
            base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL
        )
        for url in self._base_urls:
            check_base_url(url)
        self._base_url = self._base_urls[0]
        # one server: its URL; several: the comma-joined list (recorded, part of the cache key)
        self.base_url = ",".join(public_url(u) for u in self._base_urls)
        self._api_key = (
            api_key or os.environ.get("OPENAI_API_KEY") or self._keyless(public_url(self._base_url))
        )
        self._redact = Redactor(
            [self._api_key, *(s for u in self._base_urls for s in url_secrets(u))]
        )
        self.server_retry = float(server_retry)
        if self.server_retry <= 0:
            raise ValueError(f"server_retry must be > 0 seconds, got {server_retry}")
        self._pool: ServerPool | None = None
        self.temperature = float(temperature)
        self.max_tokens = int(max_tokens)
        self.seed = seed
        self.concurrency = int(concurrency)
        self.timeout = float(timeout)
        self.max_retries = int(max_retries)
        self.prompt = load_prompt(prompt)
        self.structured_output = structured_output
        self.image_detail = image_detail
        self.use_cache = bool(cache)
        self.jpeg_quality = int(jpeg_quality)
        self.backoff_base, self.backoff_max = float(backoff_base), float(backoff_max)
        self.retry_after_max = float(retry_after_max)
        self.spec = spec or f"openai:{model}" + (f"@{self.base_url}" if base_url else "")
        self.deterministic = self.temperature == 0.0
        self.usage_total: dict[str, int] = {}
        self.structured_fallback = False
        self.max_tokens_param = "max_tokens"  # becomes "max_completion_tokens" if the API says so
        self._rng = random.Random()
        self._cache: Any = None
        self._client: Any = None
        self._semaphore: asyncio.Semaphore | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_spec(cls, arg: str | None, **options: Any) -> OpenAIAgent:
        """Build from the part after ``openai:`` (``MODEL`` or ``MODEL@BASE_URL``) and options.

        String option values (from ``--agent-option key=value``) are converted to their types.
        """
        opts = coerce_options(options)
        model, url = parse_model_spec(arg, at_in_model=opts.get("base_url") is not None)
        if url is not None and opts.get("base_url") is None:
            opts["base_url"] = url
        spec = f"openai:{model}" + (
            "@" + ",".join(public_url(u) for u in split_urls(opts["base_url"]))
            if opts.get("base_url")
            else ""
        )
        return cls(model, spec=spec, **opts)

    def preflight(self) -> None:
        """Check once that the endpoint answers (one ``GET /models``) before a run starts.

        Raises ``ConnectionError`` naming the URL (credentials stripped) when the server cannot
        be reached or times out, or rejects the API key (401/403). Any other answer, a 404 from
        a server without ``/models`` included, counts as reachable.
        """
        self._submit(self._preflight()).result()

    async def _preflight(self) -> None:
        pool = self._get_client()
        unreachable = []
        for server in pool.servers:
            reason = await self._preflight_one(server.client, server.public)
            if reason is not None:
                unreachable.append(f"{server.public}: {reason}")
                pool.mark_down(server)  # out of rotation until a retry finds it
        if len(unreachable) == len(pool.servers):
            if len(pool.servers) == 1:
                raise ConnectionError(
                    f"cannot reach the server at {self.base_url}: "
                    + unreachable[0].split(": ", 1)[1]
                )
            raise ConnectionError("cannot reach any server: " + "; ".join(unreachable))

    async def _preflight_one(self, client: Any, url: str) -> str | None:
        """None when the server at ``url`` answers; else why not (a refused key raises)."""
        import openai

        try:
            await asyncio.wait_for(client.get("/models", cast_to=str), self.timeout)
        except (asyncio.TimeoutError, openai.APITimeoutError):
            return f"no answer within {self.timeout:g}s"
        except openai.APIConnectionError as exc:
            return self._redact(str(exc.__cause__ or exc))
        except openai.APIStatusError as exc:
            if exc.status_code not in (401, 403):
                return None  # the server is there (some have no /models route)
            reason = f"HTTP {exc.status_code}: " + self._redact(_error_message(exc))[:300]
            raise ConnectionError(f"the server at {url} refused the API key: {reason}") from None
        return None

    @staticmethod
    def _check_settings(
        structured: str, detail: str | None, concurrency: int, retries: int, timeout: float
    ) -> None:
        if structured not in STRUCTURED_MODES:
            raise ValueError(
                f"structured_output must be one of {STRUCTURED_MODES}, got {structured!r}"
            )
        if detail is not None and detail not in IMAGE_DETAILS:
            raise ValueError(f"image_detail must be one of {IMAGE_DETAILS} or None, got {detail!r}")
        if int(concurrency) < 1:
            raise ValueError(f"concurrency must be >= 1, got {concurrency}")
        if int(retries) < 0:
            raise ValueError(f"max_retries must be >= 0, got {retries}")
        if float(timeout) <= 0:
            raise ValueError(f"timeout must be > 0 seconds, got {timeout}")

    @staticmethod
    def _keyless(base_url: str) -> str:
        if urlsplit(base_url).hostname == "api.openai.com":
            raise ValueError(
                "OPENAI_API_KEY is not set: export it, or pass api_key=..., or point the agent "
                "at a local server with openai:MODEL@http://HOST:PORT/v1"
            )
        return "EMPTY"  # local servers (vLLM, SGLang, Ollama) accept any key

    # -- recorded configuration --------------------------------------------------------------
    def config(self) -> dict[str, Any]:
        """What decides the answers (recorded with results): never the API key."""
        return {
            "spec": self.spec,
            "kind": "openai",
            "model": self.model,
            "base_url": self.base_url,
            "prompt": {
                "name": self.prompt.name,
                "version": self.prompt.version,
                "fingerprint": self.prompt.fingerprint,
            },
            "generation": {
                "temperature": self.temperature,
                "max_tokens": self.max_tokens,
                "seed": self.seed,
            },
            "structured_output": self.structured_output,
            "image_detail": self.image_detail,
            "jpeg_quality": self.jpeg_quality,
            "deterministic": self.deterministic,
        }

    # -- the background event loop -----------------------------------------------------------
    def _ensure_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None or self._loop.is_closed():
                loop = asyncio.new_event_loop()
                thread = threading.Thread(
                    target=loop.run_forever, name=f"openai-agent-{self.model}", daemon=True
                )
                thread.start()
                self._loop, self._thread = loop, thread
            return self._loop

    def _submit(self, coro: Any) -> Future:
        loop = self._ensure_loop()
        if threading.current_thread() is self._thread:
            coro.close()
            raise RuntimeError("OpenAIAgent.act called from its own I/O thread; await aact instead")
        return asyncio.run_coroutine_threadsafe(coro, loop)

    def _get_client(self) -> ServerPool:
        """The servers, each with its client (made on the agent's loop on first use)."""
        if self._pool is None:
            import openai

            pool = ServerPool(self._base_urls, public_url, down_base=self.server_retry)
            for server in pool.servers:
                server.client = openai.AsyncOpenAI(
                    api_key=self._api_key,
                    base_url=server.url,
                    max_retries=0,
                    timeout=self.timeout,
                )
            self._pool, self._client = pool, pool.servers[0].client
            self._semaphore = asyncio.Semaphore(self.concurrency)
        return self._pool

    def run_stats(self) -> dict[str, Any]:
        """What happened on the way (recorded per process with the run's launch, never part of
        the result): per server, requests sent, answered, failures and outages."""
        if self._pool is None or len(self._pool) < 2:
            return {}
        return {"servers": self._pool.stats()}

    # -- public acting API -------------------------------------------------------------------
    async def aact(self, observation: Mapping[str, Any], info: Mapping[str, Any]) -> AgentOutput:
        """Answer one video; usable from any event loop (work runs on the agent's own loop)."""
        return await asyncio.wrap_future(self._submit(self._act(observation, info)))

    def act(self, observation: Mapping[str, Any], info: Mapping[str, Any]) -> AgentOutput:
        """Blocking form of :meth:`aact`; works from plain code and from inside a running loop."""
        return self._submit(self._act(observation, info)).result()

    def act_batch(
        self, observations: Sequence[Mapping[str, Any]], infos: Sequence[Mapping[str, Any]]
    ) -> list[AgentOutput]:
        """Answer many videos concurrently (at most ``concurrency`` requests in flight)."""
        if len(observations) != len(infos):
            raise ValueError(f"{len(observations)} observations but {len(infos)} infos")

        async def run_all() -> list[AgentOutput]:
            results = await asyncio.gather(
                *(self._act(o, i) for o, i in zip(observations, infos, strict=True)),
                return_exceptions=True,
            )
            # a bad observation fails its own item (recorded with the reason), not the batch
            return [
                r if isinstance(r, AgentOutput) else _failure_of(r, self._redact) for r in results
            ]

        return self._submit(run_all()).result()

    def __enter__(self) -> OpenAIAgent:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the HTTP client and stop the background loop (idempotent)."""
        with self._lock:
            loop, thread, pool = self._loop, self._thread, self._pool
            self._loop, self._thread, self._client = None, None, None
        if loop is None:
            return
        clients = [s.client for s in pool.servers if s.client is not None] if pool else []
        for client in clients:
            if loop.is_running():
                with contextlib.suppress(Exception):
                    asyncio.run_coroutine_threadsafe(client.close(), loop).result(timeout=5)
        if pool is not None:
            for server in pool.servers:
                server.client = None
            self._pool = None
        loop.call_soon_threadsafe(loop.stop)
        if thread is not None:
            thread.join(timeout=5)
        loop.close()

    # -- one video ---------------------------------------------------------------------------
    async def _act(self, observation: Mapping[str, Any], info: Mapping[str, Any]) -> AgentOutput:
        frames = frame_array(_frames_of(observation))
        info = info or {}
        seed = info.get("seed") if info.get("seed") is not None else self.seed
        cache_key = self._cache_key(frames, seed) if self.deterministic and self.use_cache else None
        if cache_key is not None:
            hit = self._response_cache().get(cache_key)
            if hit is not None and isinstance(hit.get("raw_text"), str):
                return await asyncio.to_thread(
                    self._output,
                    self._redact.scrub(hit["raw_text"]),
                    hit.get("usage") or {},
                    [],
                    0,
                    cached=True,
                    finish_reason=hit.get("finish_reason"),
                )
        client = self._get_client()
        assert self._semaphore is not None
        # Encode inside the request slot: encoding every queued video up front would starve the
        # event loop (GIL) and hold all their JPEGs in memory at once; a slot's encoding (a few
        # ms) is small next to a request's latency.
        loop = asyncio.get_running_loop()
        async with self._semaphore:
            parts = await loop.run_in_executor(
                None, image_parts, frames, self.image_detail, self.jpeg_quality
            )
            payload = self._payload(parts, seed)
            try:
                return await self._request(client, payload, cache_key)
            except Exception as exc:  # a bug or an unforeseen client error: recorded, not lost
                return AgentOutput(error=self._redact(f"unexpected {type(exc).__name__}: {exc}"))

    def _cache_key(self, frames: Any, seed: int | None) -> str:
        from visualact_env.response_cache import ResponseCache

        return ResponseCache.key(
            {
                "model": self.model,
                "base_url": self.base_url,
                "prompt": self.prompt.fingerprint,
                "frames": frames_digest(frames),
                "settings": {
                    "temperature": self.temperature,
                    "max_tokens": self.max_tokens,
                    "seed": seed,
                    "structured_output": self.structured_output,
                    "image_detail": self.image_detail,
                    "jpeg_quality": self.jpeg_quality,
                },
            }
        )

    def _response_cache(self) -> Any:
        if self._cache is None:
            from visualact_env.response_cache import ResponseCache

            self._cache = ResponseCache()
        return self._cache

    def _payload(self, parts: list[dict[str, Any]], seed: int | None) -> dict[str, Any]:
        messages: list[dict[str, Any]] = []
        if self.prompt.system:
            messages.append({"role": "system", "content": self.prompt.system})
        messages.append(
            {"role": "user", "content": [*parts, {"type": "text", "text": self.prompt.user}]}
        )
        payload: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "temperature": self.temperature,
            self.max_tokens_param: self.max_tokens,
        }
        if seed is not None:
            payload["seed"] = int(seed)
        response_format = self.prompt.openai_response_format()
        wants = self.structured_output == "json_schema" or (
            self.structured_output == "auto" and not self.structured_fallback
        )
        if wants and response_format is not None:
            payload["response_format"] = response_format
        return payload

    async def _request(
        self, client: Any, payload: dict[str, Any], cache_key: str | None
    ) -> AgentOutput:
        """Send with the retry policy; return the parsed answer or a recorded failure."""
        diagnostics: list[str] = []
        attempts, failures = 0, 0
        while True:
            attempts += 1
            try:
                body = await self._send(client, payload, diagnostics)
                break
            except _FormatRejected as exc:
                if self.structured_output != "auto" or "response_format" not in payload:
                    return AgentOutput(
                        error=exc.message, attempts=attempts, diagnostics=diagnostics
                    )
                self.structured_fallback = True
                payload.pop("response_format")
                diagnostics.append(
                    "structured output (json_schema) rejected by the server; "
                    f"falling back to plain text for this agent ({exc.message})"
                )
            except _UseMaxCompletionTokens as exc:
                if "max_tokens" not in payload:
                    return AgentOutput(
                        error=exc.message, attempts=attempts, diagnostics=diagnostics
                    )
                self.max_tokens_param = "max_completion_tokens"
                payload["max_completion_tokens"] = payload.pop("max_tokens")
                diagnostics.append(f"server wants max_completion_tokens ({exc.message})")
            except _Fatal as exc:
                return AgentOutput(error=exc.message, attempts=attempts, diagnostics=diagnostics)
            except _Retryable as exc:
                failures += 1
                if failures > self.max_retries:
                    error = f"failed after {attempts} attempts; last error: {exc.message}"
                    return AgentOutput(error=error, attempts=attempts, diagnostics=diagnostics)
                delay = self._retry_delay(failures, exc.retry_after)
                if exc.server_down and client.any_up():
                    delay = 0.0  # another server is in rotation: go there now
                diagnostics.append(f"attempt {attempts}: {exc.message}; retrying in {delay:.2f}s")
                await asyncio.sleep(delay)
        text, usage, finish = _answer_of(body)
        # a server may echo the request's Authorization header into its answer: the key must
        # not reach predictions, reports or the cache
        text = self._redact.scrub(text)
        text, cut = replace_surrogates(text)  # an emoji cut at max_tokens: kept, never fatal
        if cut:
            diagnostics.append(f"{cut} lone surrogate(s) in the answer replaced by U+FFFD")
        self._add_usage(usage)
        # parsing is CPU work: run it in a worker thread so the loop keeps serving requests
        output = await asyncio.to_thread(
            self._output, text, usage, diagnostics, attempts, finish_reason=finish
        )
        # cached only once it has yielded an answer, so a resumed run can recover the rest
        if cache_key is not None and output.error is None:
            from visualact_env.cache import best_effort

            entry = {"raw_text": text, "usage": usage, "finish_reason": finish, "model": self.model}
            # best-effort: a full cache disk costs reuse (one warning), never the answer
            best_effort("responses", lambda: self._response_cache().put(cache_key, entry))
        return output

    def _retry_delay(self, failures: int, retry_after: float | None) -> float:
        if retry_after is not None:
            # honour the server's wait; a little jitter on top spreads synchronized retries
            return retry_after + self._rng.uniform(0.0, min(1.0, 0.1 * retry_after))
        return backoff_delay(failures, self.backoff_base, self.backoff_max, self._rng)

    async def _send(
        self, pool: ServerPool, payload: dict[str, Any], diagnostics: list[str]
    ) -> dict[str, Any]:
        """One HTTP attempt to the next server; raises ``_Retryable`` / ``_Fatal`` /
        ``_FormatRejected``. A server that does not answer leaves the rotation (noted in
        ``diagnostics`` when there are several)."""
        import openai

        server = pool.acquire()
        where = f"{server.public}: " if len(pool) > 1 else ""
        answered = False
        try:
            # ``client.post`` is the client's documented way to send a raw body: it skips the
            # per-request transform of ``chat.completions.create`` over every content part and
            # the schema (measured: most of the client's CPU time for 8-image requests), and
            # returns the body as text so malformed bodies are ours to judge
            # the client's timeout bounds each read; wait_for bounds the whole attempt, so a
            # body dripped one chunk at a time cannot hold a request open indefinitely
            text = await asyncio.wait_for(
                server.client.post("/chat/completions", cast_to=str, body=payload), self.timeout
            )
            answered = True
        except (asyncio.TimeoutError, openai.APITimeoutError):
            raise _Retryable(
                f"{where}timed out after {self.timeout:g}s", server_down=True
            ) from None
        except openai.APIConnectionError as exc:
            message = self._redact(f"{where}connection error: {exc.__cause__ or exc}")
            raise _Retryable(message, server_down=True) from None
        except openai.APIStatusError as exc:
            answered = len(pool) < 2 or int(exc.status_code) not in GATEWAY_DOWN
            error = self._status_error(exc, "response_format" in payload)
            if where and isinstance(error, _Retryable):
                error = _Retryable(where + error.message, error.retry_after, not answered)
            raise error from None
        finally:
            note = pool.release(server, answered)
            if note and len(pool) > 1:
                diagnostics.append(note)
        return self._decode(text)

    def _status_error(self, exc: Any, sent_format: bool) -> Exception:
        status = int(exc.status_code)
        message = self._redact(_error_message(exc))[:500]
        text = f"HTTP {status}: {message}"
        if status in RETRYABLE_STATUS or status >= 500:
            headers = dict(exc.response.headers) if exc.response is not None else {}
            return _Retryable(text, parse_retry_after(headers, self.retry_after_max))
        lower = message.lower()
        if status in (400, 422) and "max_completion_tokens" in lower:
            return _UseMaxCompletionTokens(text)
        if sent_format and status in (400, 422) and any(w in lower for w in _FORMAT_WORDS):
            return _FormatRejected(text)
        return _Fatal(text)

    def _decode(self, text: str) -> dict[str, Any]:
        try:
            body = json.loads(text)
        except ValueError:
            raise _Retryable(f"malformed response: not JSON: {self._redact(text[:80])!r}") from None
        if not isinstance(body, dict):
            raise _Retryable(f"malformed response: JSON {type(body).__name__}, not an object")
        choices = body.get("choices")
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            raise _Retryable("malformed response: no 'choices'")
        message = choices[0].get("message")
        if not isinstance(message, dict):
            raise _Retryable("malformed response: choices[0] has no 'message'")
        content = message.get("content")
        if not (content is None or isinstance(content, (str, list))):
            raise _Retryable(
                f"malformed response: message content is a JSON {type(content).__name__}, not text"
            )
        return body

    def _add_usage(self, usage: Mapping[str, int]) -> None:
        for key, value in usage.items():
            self.usage_total[key] = self.usage_total.get(key, 0) + int(value)

    def _output(
        self,
        text: str,
        usage: dict[str, int],
        diagnostics: list[str],
        attempts: int,
        *,
        cached: bool = False,
        finish_reason: str | None = None,
    ) -> AgentOutput:
        diagnostics = list(diagnostics)
        text = replace_surrogates(text)[0]  # a cached answer from before the check above
        if finish_reason == "length":
            diagnostics.append(f"answer truncated at max_tokens={self.max_tokens}")
        if not text.strip():
            diagnostics.append("empty model content: recorded as an empty answer")
            return AgentOutput((), text, None, dict(usage), diagnostics, cached, max(attempts, 1))
        from visualact_env.parsing import parse_actions

        parsed = parse_actions(text)
        diagnostics.extend(str(d) for d in parsed.diagnostics)
        # an answer with nothing parseable (a refusal, a ramble) is the model's answer, scored
        # as empty and marked with its parse error; it is not a request failure to be retried
        actions = as_actions(parsed.actions)
        return AgentOutput(
            actions, text, None, dict(usage), diagnostics, cached, max(attempts, 1), parsed.error
        )


# ---------------------------------------------------------------------------------------------


def _failure_of(exc: BaseException, redact: Redactor) -> AgentOutput:
    if not isinstance(exc, Exception):  # cancellation, KeyboardInterrupt: never swallowed
        raise exc
    return AgentOutput(error=redact(f"{type(exc).__name__}: {exc}"), attempts=0)


def _frames_of(observation: Mapping[str, Any]) -> Any:
    if not isinstance(observation, Mapping) or "frames" not in observation:
        keys = list(observation) if isinstance(observation, Mapping) else type(observation).__name__
        raise ValueError(f"observation must be a dict with 'frames'; got {keys}")
    return observation["frames"]


def _answer_of(body: dict[str, Any]) -> tuple[str, dict[str, int], str | None]:
    choice = body["choices"][0]
    content = choice["message"].get("content")
    if isinstance(content, list):  # some servers return content parts
        content = "".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    finish = choice.get("finish_reason")
    usage_in = body.get("usage")
    if not isinstance(usage_in, dict):
        usage_in = {}
    usage = {
        k: int(usage_in[k])
        for k in ("prompt_tokens", "completion_tokens", "total_tokens")
        if isinstance(usage_in.get(k), int)
    }
    return (content or ""), usage, finish if isinstance(finish, str) else None


def _error_message(exc: Any) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, dict) and err.get("message"):
            return str(err["message"])
        if isinstance(err, str):
            return err
    return str(getattr(exc, "message", "") or exc)

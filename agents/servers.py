"""Several OpenAI-compatible servers for one model: requests spread by load, dead ones skipped.

``openai:MODEL@http://h1:8000/v1,http://h2:8000/v1`` (or ``--agent-option
base_url=URL1,URL2``) gives the agent one :class:`ServerPool`. Each request goes to the live
server with the fewest requests in flight (then the fewest sent), so a slower server simply
gets fewer. A server that does not answer (connection refused or reset, a timeout, or a gateway
502/503/504 saying the model behind it is gone) is taken out of rotation for a while that
doubles with each failure in a row (``down_base`` seconds, at most ``down_max``); once that
time has passed the next request tries it again, and an answer puts it back. Its failures and
outages are counted (:meth:`ServerPool.stats`). When every server is out of rotation the one
due back first is tried, so a run never waits on a timer while a server may be back.

No scheduler or proxy of our own: for one address in front of many servers use vLLM's data
parallelism or SGLang's router (docs/distributed.md); this pool is for a handful of servers
a user already runs.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

DOWN_BASE = 2.0
DOWN_MAX = 60.0
GATEWAY_DOWN = frozenset({502, 503, 504})
"""Statuses that mean the server in front answers but the model behind it does not."""


def split_urls(value: str | Sequence[str]) -> list[str]:
    """``"u1,u2"`` or ``["u1", "u2"]`` -> ``["u1", "u2"]`` (stripped, empties dropped, trailing
    slashes removed, duplicates refused)."""
    parts = value.split(",") if isinstance(value, str) else list(value)
    urls = [str(p).strip().rstrip("/") for p in parts if str(p).strip()]
    if not urls:
        raise ValueError("no base URL given")
    dupes = sorted({u for u in urls if urls.count(u) > 1})
    if dupes:
        raise ValueError(f"base URL listed twice: {dupes[0]}")
    return urls


@dataclass
class Server:
    """One server of a pool and what happened to it."""

    url: str  # as given (may hold credentials: never shown)
    public: str  # without credentials: shown and recorded
    client: Any = None
    in_flight: int = 0
    requests: int = 0
    answered: int = 0
    failures: int = 0  # attempts it did not answer
    outages: int = 0  # times it was taken out of rotation
    in_a_row: int = 0
    down_until: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "url": self.public,
            "requests": self.requests,
            "answered": self.answered,
            "failures": self.failures,
            "outages": self.outages,
        }


class ServerPool:
    """Servers of one model; see the module docstring. Thread-safe (one lock, no I/O inside)."""

    def __init__(
        self,
        urls: Sequence[str],
        public: Callable[[str], str],
        *,
        down_base: float = DOWN_BASE,
        down_max: float = DOWN_MAX,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.servers = [Server(u, public(u)) for u in urls]
        self.down_base, self.down_max = float(down_base), float(down_max)
        self._clock = clock
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self.servers)

    def up(self) -> list[Server]:
        """The servers in rotation now."""
        now = self._clock()
        return [s for s in self.servers if s.down_until <= now]

    def acquire(self) -> Server:
        """The server for the next request (counted as in flight until :meth:`release`)."""
        with self._lock:
            now = self._clock()
            live = [s for s in self.servers if s.down_until <= now]
            if live:
                server = min(live, key=lambda s: (s.in_flight, s.requests))
            else:  # all out of rotation: try the one due back first
                server = min(self.servers, key=lambda s: s.down_until)
            server.in_flight += 1
            server.requests += 1
            return server

    def release(self, server: Server, answered: bool) -> str | None:
        """Record the outcome of one request to ``server``; a message when it leaves or rejoins
        the rotation (for the diagnostics), else None."""
        with self._lock:
            server.in_flight -= 1
            if answered:
                server.answered += 1
                back = server.in_a_row > 0
                server.in_a_row, server.down_until = 0, 0.0
                return f"server {server.public} answers again: back in rotation" if back else None
            return self._down(server)

    def mark_down(self, server: Server) -> str:
        """Take ``server`` out of rotation (it did not answer a check); the message."""
        with self._lock:
            return self._down(server)

    def _down(self, server: Server) -> str:
        server.failures += 1
        server.in_a_row += 1
        wait = min(self.down_max, self.down_base * 2 ** (server.in_a_row - 1))
        if server.in_a_row == 1:  # it was answering until now: an outage begins
            server.outages += 1
        server.down_until = self._clock() + wait
        return (
            f"server {server.public} did not answer ({server.in_a_row} in a row): "
            f"out of rotation for {wait:g}s"
        )

    def any_up(self, besides: Server | None = None) -> bool:
        """Whether a server other than ``besides`` is in rotation."""
        return any(s is not besides for s in self.up())

    def stats(self) -> list[dict[str, Any]]:
        """Per server: requests sent, answered, failures and outages (in the given order)."""
        with self._lock:
            return [s.to_dict() for s in self.servers]

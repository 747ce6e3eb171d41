"""What a run cost: tokens, requests, retries, latency and, given prices, money.

Summed from the prediction records (``usage``, ``attempts``, ``cached``, ``latency_s``): the
runner keeps a running :class:`Usage` to enforce ``--max-cost`` / ``--max-total-tokens``
(:mod:`visualact_env.budget`), and the reports write the same totals under ``usage`` in
``summary.json``. Rules:

* tokens (``prompt_tokens``, ``completion_tokens``, ``total_tokens``) are those the server
  reported for each answer, summed; an answer served from the response cache sent no request
  and costs nothing, so it is counted under ``cached`` and its tokens are not;
* ``requests``: requests sent (an answer's ``attempts``, 1 when absent; 0 for a cache hit);
  ``retries``: requests beyond the first of each answer;
* ``latency_s``: p50 / p95 / mean / max of the answers' wall time (retries included; cache hits
  left out), linear interpolation between ranks as numpy's default percentile;
* ``cost``: ``prompt_tokens * price_input + completion_tokens * price_output``, prices in
  currency units per million tokens (``--price-input``, ``--price-output``); ``null`` when no
  price is given.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

TOKEN_KEYS: tuple[str, ...] = ("prompt_tokens", "completion_tokens", "total_tokens")


def _int(value: Any) -> int:
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0


def percentile(values: list[float], q: float) -> float | None:
    """The ``q``-th percentile (0-100) of ``values``, linear between ranks; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100.0
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass
class Usage:
    """Running totals over prediction records (see the module docstring)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    requests: int = 0
    retries: int = 0
    answers: int = 0
    cached: int = 0
    latencies: list[float] = field(default_factory=list)

    @classmethod
    def of(cls, records: Iterable[Mapping[str, Any]]) -> Usage:
        """Totals of prediction records (``predictions.jsonl`` rows, or a
        :class:`~visualact_env.records.Prediction`'s ``extra``)."""
        usage = cls()
        for record in records:
            usage.add(record)
        return usage

    def add(self, record: Mapping[str, Any]) -> None:
        """Count one record."""
        self.answers += 1
        if record.get("cached"):
            self.cached += 1
            return
        raw = record.get("usage")
        tokens: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
        prompt, completion = (
            _int(tokens.get("prompt_tokens")),
            _int(tokens.get("completion_tokens")),
        )
        self.prompt_tokens += prompt
        self.completion_tokens += completion
        self.total_tokens += _int(tokens.get("total_tokens")) or prompt + completion
        attempts = record.get("attempts", 1)
        attempts = _int(attempts) if attempts is not None else 1
        self.requests += attempts
        self.retries += max(0, attempts - 1)
        latency = record.get("latency_s")
        if isinstance(latency, (int, float)) and not isinstance(latency, bool):
            self.latencies.append(float(latency))

    def cost(self, price_input: float | None, price_output: float | None) -> float | None:
        """Money spent at the given prices per million tokens (None without any price)."""
        if price_input is None and price_output is None:
            return None
        return (
            self.prompt_tokens * (price_input or 0.0)
            + self.completion_tokens * (price_output or 0.0)
        ) / 1e6

    def to_dict(
        self, price_input: float | None = None, price_output: float | None = None
    ) -> dict[str, Any]:
        """The ``usage`` block of ``summary.json``."""
        lat = self.latencies
        return {
            "answers": self.answers,
            "requests": self.requests,
            "retries": self.retries,
            "cached": self.cached,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.total_tokens,
            "latency_s": {
                "p50": percentile(lat, 50),
                "p95": percentile(lat, 95),
                "mean": sum(lat) / len(lat) if lat else None,
                "max": max(lat) if lat else None,
            },
            "price_input": price_input,
            "price_output": price_output,
            "cost": self.cost(price_input, price_output),
        }

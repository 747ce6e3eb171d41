"""When a run stops early: ``--max-cost``, ``--max-total-tokens`` and ``--max-failures``.

A :class:`Stopper` watches the records the runner writes. Cost and tokens are the whole run
folder's (records already there count, :mod:`visualact_env.usage`), so a resumed run does not
spend its budget again: resume with a higher limit to go on. Failures are this invocation's
(failed records are retried by ``--resume`` and do not stay in the folder). ``--max-failures``
takes a number (stop at the N-th failed answer) or a percentage of the answers this invocation
has to do (``10%``: stop at ceil(10% of them)). Once a limit is reached no new request starts;
requests already in flight finish and are recorded (up to ``--concurrency`` more answers).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .usage import Usage


def parse_max_failures(text: str) -> str:
    """``--max-failures`` as given (``"5"`` or ``"10%"``), checked; ``ValueError`` otherwise."""
    value = str(text).strip()
    number = value[:-1] if value.endswith("%") else value
    try:
        amount = float(number) if value.endswith("%") else int(number)
    except ValueError:
        raise ValueError(f"expected N (a count) or P% (a share), got {text!r}") from None
    if value.endswith("%") and not 0 < amount <= 100:
        raise ValueError(f"a percentage must be in (0, 100], got {text!r}")
    if not value.endswith("%") and amount < 1:
        raise ValueError(f"a count must be >= 1, got {text!r}")
    return value


def failure_threshold(max_failures: str | None, tasks: int) -> int | None:
    """The number of failed answers that stops a run of ``tasks`` answers (None: never)."""
    if max_failures is None:
        return None
    value = parse_max_failures(max_failures)
    if value.endswith("%"):
        return max(1, math.ceil(float(value[:-1]) / 100.0 * tasks))
    return int(value)


@dataclass
class Limits:
    """The limits of one invocation (``None``: no limit)."""

    max_cost: float | None = None
    max_total_tokens: int | None = None
    max_failures: int | None = None
    price_input: float | None = None
    price_output: float | None = None


class Stopper:
    """Counts the run's usage and this invocation's failures; ``reason`` says why the run must
    stop (None while it may go on)."""

    def __init__(self, limits: Limits, done: Iterable[Mapping[str, Any]] = ()):
        self.limits = limits
        self.usage = Usage.of(done)
        self.failures = 0
        self.kind: str | None = None
        self.reason: str | None = None
        self._check()

    @property
    def stopped(self) -> bool:
        return self.reason is not None

    def record(self, row: Mapping[str, Any]) -> None:
        """Count one written record and check the limits."""
        self.usage.add(row)
        if row.get("error") is not None:
            self.failures += 1
        self._check()

    def cost(self) -> float | None:
        return self.usage.cost(self.limits.price_input, self.limits.price_output)

    def _check(self) -> None:
        if self.reason is not None:
            return
        lim = self.limits
        cost = self.cost()
        if lim.max_cost is not None and cost is not None and cost >= lim.max_cost:
            self._stop(
                "max_cost",
                f"--max-cost reached: {cost:.6g} spent of {lim.max_cost:g} (prices "
                f"per million tokens: input {lim.price_input or 0:g}, output "
                f"{lim.price_output or 0:g})",
            )
        elif lim.max_total_tokens is not None and self.usage.total_tokens >= lim.max_total_tokens:
            self._stop(
                "max_total_tokens",
                f"--max-total-tokens reached: {self.usage.total_tokens:,} tokens used of "
                f"{lim.max_total_tokens:,}",
            )
        elif lim.max_failures is not None and self.failures >= lim.max_failures:
            self._stop(
                "max_failures",
                f"--max-failures reached: {self.failures} failed answer(s) in this run "
                f"(limit {lim.max_failures})",
            )

    def _stop(self, kind: str, reason: str) -> None:
        self.kind, self.reason = kind, reason

    def to_dict(self) -> dict[str, Any]:
        """What ``stopped.json`` records."""
        return {
            "kind": self.kind,
            "reason": self.reason,
            "failures": self.failures,
            "cost": self.cost(),
            "total_tokens": self.usage.total_tokens,
            "limits": {
                "max_cost": self.limits.max_cost,
                "max_total_tokens": self.limits.max_total_tokens,
                "max_failures": self.limits.max_failures,
            },
        }

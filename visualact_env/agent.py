"""The agent interface every policy implements.

An agent sees what the environment shows (``observation``: the frames, and the scenario only
when the environment exposes it) plus the episode's ``info`` from ``reset`` (``video_id``), and
returns an :class:`AgentOutput`: proposals, the raw model text, token usage and diagnostics.
A request that failed for good sets ``error``; it is never disguised as an empty answer.

An answer the parser cannot read (a refusal, a ramble) is *not* a failure: it is the model's
answer, scored as an empty proposal list, with ``parse_error`` saying why. Counting it as a
failure would make ``--resume`` re-ask sampled models until they produce something parseable,
which would bias the score upwards; the summary counts such answers separately.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .records import Action, Benchmark


@dataclass
class AgentOutput:
    """One agent answer for one video."""

    actions: tuple[Action, ...] = ()
    raw_text: str | None = None
    error: str | None = None
    usage: dict[str, int] = field(default_factory=dict)
    diagnostics: list[str] = field(default_factory=list)
    cached: bool = False
    attempts: int = 1
    parse_error: str | None = None

    @property
    def failed(self) -> bool:
        return self.error is not None

    def record_fields(self) -> dict[str, Any]:
        """The optional prediction-record fields this output contributes (see README)."""
        d: dict[str, Any] = {}
        if self.raw_text is not None:
            d["raw_text"] = self.raw_text
        if self.usage:
            d["usage"] = dict(self.usage)
        if self.diagnostics:
            d["diagnostics"] = list(self.diagnostics)
        if self.cached:
            d["cached"] = True
        if self.attempts != 1:
            d["attempts"] = self.attempts
        if self.parse_error is not None:
            d["parse_error"] = self.parse_error
        return d


class Agent:
    """Base class for policies.

    Subclasses implement :meth:`act`; API agents override :meth:`aact` for real concurrency.
    ``deterministic`` says whether the same input always gives the same output (greedy decoding,
    temperature 0, or a seeded baseline): the runner relies on it for resume equality.
    """

    spec: str = ""
    deterministic: bool = True

    def setup(self, benchmark: Benchmark, sampler: Any) -> None:
        """Called once before acting, with the benchmark being run and the frame sampler config.

        Baselines that learn from the other videos (retrieval, blind, random) or need the ground
        truth (oracle) use it; model agents usually ignore it.
        """

    def act(self, observation: Mapping[str, Any], info: Mapping[str, Any]) -> AgentOutput:
        raise NotImplementedError

    async def aact(self, observation: Mapping[str, Any], info: Mapping[str, Any]) -> AgentOutput:
        """Async form; the default runs :meth:`act` in a worker thread."""
        return await asyncio.to_thread(self.act, observation, info)

    def act_batch(
        self, observations: Sequence[Mapping[str, Any]], infos: Sequence[Mapping[str, Any]]
    ) -> list[AgentOutput]:
        """Batched form; the default acts one by one. Local models override it."""
        return [self.act(o, i) for o, i in zip(observations, infos, strict=True)]

    def config(self) -> dict[str, Any]:
        """Everything that determines this agent's behaviour, recorded with every result."""
        return {"spec": self.spec, "deterministic": self.deterministic}

    def close(self) -> None:
        """Release clients, models or files."""


def output_from_text(text: str, usage: dict[str, int] | None = None) -> AgentOutput:
    """Parse generated text into proposals.

    Text the parser cannot read (prose, gibberish) is the model's answer, scored as an empty
    proposal list: ``parse_error`` says why, and the raw text and diagnostics are kept so the
    record shows what the model said. It is not a failure (see :class:`AgentOutput`).
    """
    from .parsing import parse_actions

    result = parse_actions(text)
    diagnostics = [f"format: {result.format}", *result.diagnostics]
    return AgentOutput(
        actions=tuple(result.actions),
        raw_text=text,
        parse_error=result.error,
        usage=dict(usage or {}),
        diagnostics=diagnostics,
    )

"""The data model: scenarios, actions, annotated videos, benchmarks and predictions.

Everything here is plain, immutable data with ``to_dict``/``from_dict`` round trips that match
the JSON Lines formats documented in the README:

* annotation record: ``{"video_id", "video", "scenario", "actions": [{"text", "apl", "proactive"}], "source"?}``
* prediction record: ``{"video_id", "actions": [{"text", "apl", "proactive"}], ...optional fields}``

Validation of untrusted files lives in :mod:`visualact_env.loading`; these classes trust their
inputs so that hot paths (the environment's ``step``) stay cheap.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SCENARIOS: tuple[str, ...] = (
    "dynamic_navigation",
    "home_service",
    "safety_monitoring",
    "human_machine_interaction",
)
"""Scenario ids, in the paper's column order."""

SCENARIO_TITLES: dict[str, str] = {
    "dynamic_navigation": "Dynamic Navigation",
    "home_service": "Home Service",
    "safety_monitoring": "Safety and Monitoring",
    "human_machine_interaction": "Human-Machine Interaction",
}

APL_LEVELS: tuple[int, ...] = (0, 1, 2, 3, 4)
"""Action Prioritization Levels: 0 = routine ... 4 = critical."""

APL_MEANINGS: dict[int, str] = {
    0: "routine: no urgency, can be done any time",
    1: "low: helpful, small benefit if done soon",
    2: "moderate: should be done soon to avoid inconvenience or minor harm",
    3: "high: needed promptly to prevent damage, injury or failure",
    4: "critical: immediate action needed to prevent serious harm or danger to life",
}


@dataclass(frozen=True, slots=True)
class Action:
    """One action: a sentence, its APL and whether it is proactive.

    Ground-truth actions always carry an ``apl`` in 0..4 and a ``proactive`` bool. Predicted
    actions (proposals) may leave either as ``None`` when the model did not say; a missing APL
    earns no weight in the APL-weighted metrics.
    """

    text: str
    apl: int | None = None
    proactive: bool | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "apl": self.apl, "proactive": self.proactive}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Action:
        return cls(text=d["text"], apl=d.get("apl"), proactive=d.get("proactive"))


def as_actions(items: Iterable[Action | Mapping[str, Any]]) -> tuple[Action, ...]:
    """Coerce a list of :class:`Action` objects or ``{"text", "apl", "proactive"}`` dicts."""
    out = []
    for item in items:
        out.append(item if isinstance(item, Action) else Action.from_dict(item))
    return tuple(out)


@dataclass(frozen=True, slots=True)
class VideoRecord:
    """One annotated clip of the benchmark.

    ``video`` is the clip's path relative to ``root`` (the annotation file's folder).
    """

    video_id: str
    video: str
    scenario: str
    actions: tuple[Action, ...]
    source: str | None = None
    root: Path = field(default=Path("."), compare=False)

    @property
    def path(self) -> Path:
        """Absolute path of the clip."""
        return self.root / self.video

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "video_id": self.video_id,
            "video": self.video,
            "scenario": self.scenario,
            "actions": [a.to_dict() for a in self.actions],
        }
        if self.source is not None:
            d["source"] = self.source
        return d


@dataclass(frozen=True)
class Benchmark:
    """An ordered collection of annotated videos with unique ids.

    ``name`` is ``"demo"``, ``"synthetic-full"`` or the annotation file's path. The
    :attr:`fingerprint` hashes the canonical annotation content (not the clips' bytes, not the
    file's path), so a result can be traced to the exact annotations it was computed on.
    """

    records: tuple[VideoRecord, ...]
    name: str = ""
    path: Path | None = None

    def __post_init__(self) -> None:
        index = {r.video_id: i for i, r in enumerate(self.records)}
        if len(index) != len(self.records):
            raise ValueError("duplicate video_id in Benchmark records")
        object.__setattr__(self, "_index", index)

    def __len__(self) -> int:
        return len(self.records)

    def __iter__(self) -> Iterator[VideoRecord]:
        return iter(self.records)

    def __getitem__(self, video_id: str) -> VideoRecord:
        return self.records[self._index[video_id]]  # type: ignore[attr-defined]

    def __contains__(self, video_id: object) -> bool:
        return video_id in self._index  # type: ignore[attr-defined]

    @property
    def video_ids(self) -> list[str]:
        return [r.video_id for r in self.records]

    @property
    def scenarios(self) -> list[str]:
        """Scenarios present, in the paper's order."""
        present = {r.scenario for r in self.records}
        return [s for s in SCENARIOS if s in present]

    @property
    def num_actions(self) -> int:
        return sum(len(r.actions) for r in self.records)

    @property
    def fingerprint(self) -> str:
        """sha256 (first 16 hex digits) of the canonical annotation records."""
        h = hashlib.sha256()
        for r in self.records:
            h.update(json.dumps(r.to_dict(), sort_keys=True, ensure_ascii=False).encode())
            h.update(b"\n")
        return h.hexdigest()[:16]

    def subset(
        self, scenarios: Sequence[str] | None = None, video_ids: Iterable[str] | None = None
    ) -> Benchmark:
        """The records of the given scenarios and/or ids, in the benchmark's order."""
        keep = self.records
        if scenarios:
            wanted = set(scenarios)
            unknown = wanted - set(SCENARIOS)
            if unknown:
                raise ValueError(
                    f"unknown scenario(s) {sorted(unknown)}; choose from {list(SCENARIOS)}"
                )
            keep = tuple(r for r in keep if r.scenario in wanted)
        if video_ids is not None:
            ids = set(video_ids)
            keep = tuple(r for r in keep if r.video_id in ids)
        return Benchmark(records=keep, name=self.name, path=self.path)


@dataclass(frozen=True)
class Prediction:
    """What a policy proposed for one video.

    ``error`` is set when the agent failed for good (API error after retries, crash); such a
    prediction is scored as empty and counted as a failure, never as an answer. ``extra`` keeps
    the optional fields of a prediction record (raw model text, usage, timing, sample index,
    parse diagnostics) so that a round trip loses nothing.
    """

    video_id: str
    actions: tuple[Action, ...] = ()
    error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def failed(self) -> bool:
        return self.error is not None

    @property
    def sample(self) -> int:
        """The sample index (several samples per video); absent or null is 0."""
        return int(self.extra.get("sample") or 0)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "video_id": self.video_id,
            "actions": [a.to_dict() for a in self.actions],
        }
        if self.error is not None:
            d["error"] = self.error
        d.update(self.extra)
        return d

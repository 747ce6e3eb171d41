"""GRPO with the environment's reward: a TRL reward function and the prompt dataset.

:class:`VisualActReward` has the signature TRL's ``GRPOTrainer`` expects,
``fn(prompts, completions, completion_ids, **kwargs) -> list[float | None]``. It parses each
completion with :func:`visualact_env.parsing.parse_actions` and scores the proposals with the
environment's own scorer (:class:`visualact_env.envs.scoring.EpisodeScorer`: same embedder, same
``tau``, same reward figure), so its numbers are exactly those ``env.step`` returns for the same
proposals. The ground truth comes from a dataset column (``ground_truth``: the actions as JSON),
which TRL passes to reward functions as a keyword argument; keep ``remove_unused_columns=False``
in the ``GRPOConfig``.

An unparseable completion scores as an empty answer (0), as ``env.step`` scores empty proposals;
``None`` (TRL's "not applicable") is never returned, so every completion gets a reward.

:func:`grpo_rows` / :func:`build_grpo_dataset` make the prompt dataset: ``prompt`` (the same chat
as :class:`visualact_agents.hf_agent.HFAgent` builds, one image placeholder per frame), ``images`` (the
frames), ``ground_truth``, ``video_id`` and ``scenario``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from ..cache import digest
from ..records import Benchmark, VideoRecord, as_actions

PARTS: tuple[str, ...] = (
    "weighted_f1",
    "f1",
    "scale_score",
    "precision",
    "recall",
    "parse_failure",
)
"""What a reward function can return: the environment's reward figures and their parts."""

LOGGED_PARTS: tuple[str, ...] = ("precision", "recall", "scale_score", "parse_failure")
"""Parts logged beside the reward at every logging step (weight 0 unless part of the mix)."""


def parse_reward_spec(spec: str) -> dict[str, float]:
    """``"weighted_f1"`` -> ``{"weighted_f1": 1.0}``; ``"f1=0.5,scale_score=0.5"`` -> a mix."""
    mix: dict[str, float] = {}
    for item in spec.split(","):
        name, sep, weight = item.strip().partition("=")
        name = name.strip()
        if name not in PARTS[:-1]:
            raise ValueError(
                f"reward: unknown figure {name!r} in {spec!r}; choose from {list(PARTS[:-1])}"
            )
        try:
            mix[name] = float(weight) if sep else 1.0
        except ValueError:
            raise ValueError(
                f"reward: weight of {name!r} must be a number, got {weight!r}"
            ) from None
    if not any(w > 0 for w in mix.values()):
        raise ValueError(f"reward: {spec!r} gives no figure a positive weight")
    return mix


def reward_functions(
    spec: str = "weighted_f1",
    embedder: Any = None,
    tau: float | None = None,
    record_dir: str | None = None,
) -> tuple[list[Any], list[float]]:
    """TRL reward functions and ``reward_weights`` for a reward spec (see
    :func:`parse_reward_spec`): the mix's figures with their weights, then the
    :data:`LOGGED_PARTS` not in the mix with weight 0, all scored once per batch."""
    mix = parse_reward_spec(spec)
    first = next(iter(mix)) if len(mix) == 1 else "weighted_f1"
    reward = VisualActReward(embedder, tau, first, record_dir=record_dir)
    names = list(mix) + [p for p in LOGGED_PARTS if p not in mix]
    return [reward.part(n) for n in names], [mix.get(n, 0.0) for n in names]


def ground_truth_json(record: VideoRecord) -> str:
    """A video's ground-truth actions as the JSON string stored in the ``ground_truth`` column."""
    return json.dumps([a.to_dict() for a in record.actions], ensure_ascii=False)


class VisualActReward:
    """The environment's reward as a TRL reward function (see the module docstring).

    ``embedder``, ``tau`` and ``reward`` take the same values as the environment's arguments of
    the same names (defaults: the default embedding model, 0.5, ``"weighted_f1"``).
    """

    def __init__(
        self,
        embedder: Any = None,
        tau: float | None = None,
        reward: str = "weighted_f1",
        ground_truth_column: str = "ground_truth",
        record_dir: str | None = None,
    ):
        from ..envs.scoring import EpisodeScorer

        self.scorer = EpisodeScorer.build(embedder, tau, reward)
        self.column = ground_truth_column
        self._last: tuple[Any, tuple[list[Any], list[bool]]] | None = None
        self.record_dir = record_dir
        self.__name__ = f"visualact_{reward}"  # TRL logs rewards under the function's name

    def __call__(
        self,
        prompts: Sequence[Any] | None = None,
        completions: Sequence[Any] = (),
        completion_ids: Sequence[Any] | None = None,
        **kwargs: Any,
    ) -> list[float | None]:
        scores, _ = self.scored(completions, **kwargs)
        return [self.scorer.value(s) for s in scores]

    def scored(self, completions: Sequence[Any], **kwargs: Any) -> tuple[list[Any], list[bool]]:
        """The ``VideoScore`` of each completion and whether its text was unparseable.

        The last batch's result is kept, so the reward's parts (:meth:`part`), which TRL calls
        one after another on the same batch, score it once.
        """
        from visualact_env.vlm import completion_text

        from ..envs.spaces import coerce_proposals
        from ..parsing import parse_actions

        gts = kwargs.get(self.column)
        if gts is None:
            raise KeyError(
                f"reward function needs the dataset column {self.column!r} "
                "(set remove_unused_columns=False in the GRPOConfig)"
            )
        if len(gts) != len(completions):
            raise ValueError(f"{len(completions)} completions but {len(gts)} ground-truth rows")
        texts = [completion_text(c) for c in completions]
        video_ids = kwargs.get("video_id") or [None] * len(completions)
        scenarios = kwargs.get("scenario") or [""] * len(completions)
        key = (tuple(texts), tuple(map(str, gts)), tuple(map(str, video_ids)))
        if self._last is not None and self._last[0] == key:
            return self._last[1]
        items, unparsed = [], []
        for text, gt, vid, scenario in zip(texts, gts, video_ids, scenarios, strict=True):
            record = self._record(gt, vid, scenario)
            parsed = parse_actions(text)
            # exactly what TextActionWrapper sends to env.step for a text answer
            proposals = coerce_proposals(() if parsed.error else parsed.actions)
            items.append((record, proposals))
            unparsed.append(parsed.error is not None)
        result = (self.scorer.score_many(items), unparsed)
        self._last = (key, result)
        if self.record_dir:
            self._record_batch(texts, gts, video_ids, *result)
        return result

    def _record_batch(
        self, texts: list[str], gts: Any, video_ids: Any, scores: list[Any], unparsed: list[bool]
    ) -> None:
        """Append each scored completion to ``record_dir/rewards-rank{RANK}.jsonl`` (one file
        per training process, so processes never share a file)."""
        import os
        from pathlib import Path

        from ..jsonio import dumps

        folder = Path(self.record_dir or ".")
        folder.mkdir(parents=True, exist_ok=True)
        rank = int(os.environ.get("RANK", "0"))
        rows = []
        for text, gt, vid, score, bad in zip(texts, gts, video_ids, scores, unparsed, strict=True):
            parts = {p: float(getattr(score, p)) for p in PARTS[:-1]}
            row = {"rank": rank, "video_id": vid, "completion": text, "ground_truth": gt}
            rows.append(dumps({**row, **parts, "parse_failure": float(bad)}) + "\n")
        with open(folder / f"rewards-rank{rank}.jsonl", "a", encoding="utf-8") as f:
            f.write("".join(rows))

    def part(self, name: str) -> Any:
        """A TRL reward function returning one part of this reward: a figure of :data:`PARTS`
        or ``parse_failure`` (1.0 for an unparseable completion). Give it weight 0 to log it
        beside the reward, or a positive weight to optimise a mix (see :func:`reward_functions`).
        """
        if name not in PARTS:
            raise ValueError(f"unknown reward part {name!r}; choose from {list(PARTS)}")

        def fn(
            prompts: Sequence[Any] | None = None,
            completions: Sequence[Any] = (),
            completion_ids: Sequence[Any] | None = None,
            **kwargs: Any,
        ) -> list[float | None]:
            scores, unparsed = self.scored(completions, **kwargs)
            if name == "parse_failure":
                return [float(u) for u in unparsed]
            return [float(getattr(s, name)) for s in scores]

        fn.__name__ = f"visualact_{name}"
        return fn

    def _record(self, gt: Any, video_id: str | None, scenario: str) -> VideoRecord:
        """A stand-in record for the scorer; keyed by the ground truth's content as well as the
        video id, because the scorer memoises ground-truth embeddings by key."""
        text = gt if isinstance(gt, str) else json.dumps(gt, ensure_ascii=False)
        actions = as_actions(json.loads(text))
        key = f"{video_id or 'row'}#{digest(text, length=12)}"
        return VideoRecord(video_id=key, video="", scenario=scenario or "", actions=actions)


def grpo_rows(
    benchmark: Benchmark, sampler: Any = None, prompt: Any = None
) -> list[dict[str, Any]]:
    """One GRPO prompt row per video: chat prompt, frames, ground truth, id and scenario."""
    from visualact_env.vlm import build_messages, frames_to_images

    from ..frames import SamplerConfig, sample_frames
    from ..prompts import load_prompt

    sampler = sampler or SamplerConfig()
    prompt = load_prompt(prompt)
    rows = []
    for record in benchmark:
        images = frames_to_images(sample_frames(record.path, sampler))
        rows.append(
            {
                "prompt": build_messages(prompt, len(images)),
                "images": images,
                "ground_truth": ground_truth_json(record),
                "video_id": record.video_id,
                "scenario": record.scenario,
            }
        )
    return rows


def build_grpo_dataset(benchmark: Benchmark, sampler: Any = None, prompt: Any = None) -> Any:
    """:func:`grpo_rows` as a ``datasets.Dataset``."""
    from . import require_train_extra

    require_train_extra("datasets")
    import datasets

    return datasets.Dataset.from_list(grpo_rows(benchmark, sampler, prompt))

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
    ):
        from ..envs.scoring import EpisodeScorer

        self.scorer = EpisodeScorer.build(embedder, tau, reward)
        self.column = ground_truth_column
        self.__name__ = f"visualact_{reward}"  # TRL logs rewards under the function's name

    def __call__(
        self,
        prompts: Sequence[Any] | None = None,
        completions: Sequence[Any] = (),
        completion_ids: Sequence[Any] | None = None,
        **kwargs: Any,
    ) -> list[float | None]:
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
        video_ids = kwargs.get("video_id") or [None] * len(completions)
        scenarios = kwargs.get("scenario") or [""] * len(completions)
        items = []
        for completion, gt, vid, scenario in zip(
            completions, gts, video_ids, scenarios, strict=True
        ):
            record = self._record(gt, vid, scenario)
            parsed = parse_actions(completion_text(completion))
            # exactly what TextActionWrapper sends to env.step for a text answer
            proposals = coerce_proposals(() if parsed.error else parsed.actions)
            items.append((record, proposals))
        return [self.scorer.value(s) for s in self.scorer.score_many(items)]

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

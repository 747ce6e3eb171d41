"""Scoring proposals inside the environments: the project's metric, with the ground truth
embedded once.

An environment scores the same ground-truth sentences over and over. :class:`EpisodeScorer`
therefore embeds the ground truth of every video of the environment once, in one encode call,
when the environment is built (:meth:`EpisodeScorer.prepare`), and afterwards sends only
proposal texts to the embedder: all of a step's proposals, over every sub-environment of a vector
environment, in **one** ``encode`` call (:meth:`EpisodeScorer.score_many`). The embedder's own
cache (in memory and on disk) makes repeated proposal texts cheap.

There is one similarity path: the similarity matrices come from
:meth:`visualact_env.metric.Scorer.similarities` itself (given the prepared ground-truth vectors
as ``known``), one vector per distinct text, float64 cosines over each video's sorted unique
texts, and are scored with :func:`visualact_env.metric.score_video`. So a reward, the GRPO reward
(:class:`~visualact_env.training.grpo.VisualActReward` uses this class) and ``visualact score``
give the same figures for the same proposals, bit for bit (``tests/test_reward_paths.py``).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from ..records import Action, VideoRecord

REWARDS: tuple[str, ...] = ("weighted_f1", "f1", "scale_score")
"""Figures that can serve as the reward."""

DEFAULT_TAU = 0.5

_EMBEDDERS: dict[str | None, Any] = {}
_LOCK = threading.Lock()


def shared_embedder(model: str | None = None) -> Any:
    """One :class:`~visualact_env.embedding.Embedder` per model name (or path) and process."""
    with _LOCK:
        if model not in _EMBEDDERS:
            from ..embedding import Embedder

            _EMBEDDERS[model] = Embedder(model=model)
        return _EMBEDDERS[model]


def resolve_embedder(embedder: Any, tau: float | None) -> tuple[Any, float]:
    """``(embedder, tau)`` from an environment's ``embedder`` and ``tau`` arguments.

    ``embedder`` is ``None`` (the default model, one instance per process), a model name or
    folder (one instance per name and process), an ``Embedder`` (anything with ``encode``), or a
    ``Scorer`` (its embedder, and its ``tau`` unless ``tau`` is given).
    """
    if embedder is None or isinstance(embedder, str):
        resolved = shared_embedder(embedder)
        default_tau = DEFAULT_TAU
    elif hasattr(embedder, "embedder") and hasattr(embedder, "tau"):
        resolved = embedder.embedder
        default_tau = float(embedder.tau)
    elif hasattr(embedder, "encode"):
        resolved = embedder
        default_tau = DEFAULT_TAU
    else:
        raise TypeError(
            "embedder: expected None, a model name, an Embedder or a Scorer, "
            f"got {type(embedder).__name__}"
        )
    tau = default_tau if tau is None else float(tau)
    if not -1.0 <= tau <= 1.0:
        raise ValueError(f"tau: must be within [-1, 1], got {tau}")
    return resolved, tau


def check_reward(reward: str) -> str:
    """``reward`` if it names a figure in :data:`REWARDS`, else a ``ValueError``."""
    if reward not in REWARDS:
        raise ValueError(f"reward: unknown figure {reward!r}; choose from {list(REWARDS)}")
    return reward


class EpisodeScorer:
    """Scores proposal lists against videos' ground truth (see the module docstring)."""

    def __init__(self, embedder: Any = None, tau: float | None = None, reward: str = "weighted_f1"):
        from ..metric import Scorer

        self.embedder, self.tau = resolve_embedder(embedder, tau)
        self.reward = check_reward(reward)
        self.metric = Scorer(self.embedder, self.tau)
        """The metric's own scorer: the one similarity path of ``visualact score``."""
        self._gt: dict[str, tuple[Action, ...]] = {}
        self._vectors: dict[str, np.ndarray] = {}

    @classmethod
    def build(cls, embedder: Any = None, tau: float | None = None, reward: str = "weighted_f1"):
        """An ``EpisodeScorer``; ``embedder`` may itself be one, shared as is when ``tau`` is
        ``None`` or equal and ``reward`` is the same (the vector environment's sub-environments
        share one scorer and its ground-truth embeddings)."""
        if isinstance(embedder, cls) and reward == embedder.reward:
            if tau is None or float(tau) == embedder.tau:
                return embedder
            return cls(embedder.embedder, tau, reward)
        if isinstance(embedder, cls):
            return cls(embedder.embedder, embedder.tau if tau is None else tau, reward)
        return cls(embedder, tau, reward)

    def prepare(self, records: Iterable[VideoRecord]) -> None:
        """Embed the ground truth of ``records`` not prepared yet, in one encode call."""
        from ..metric import check_sizes, coerce_actions

        todo = [r for r in records if r.video_id not in self._gt]
        for record in todo:
            check_sizes(0, len(record.actions), f"video {record.video_id!r}: ")
        actions = [coerce_actions(r.actions) for r in todo]
        texts = [a.text for acts in actions for a in acts if a.text not in self._vectors]
        self._vectors.update(self.metric.vectors(texts))
        for record, acts in zip(todo, actions, strict=True):
            self._gt[record.video_id] = acts

    def score_many(self, items: Sequence[tuple[VideoRecord, Sequence[Action]]]) -> list[Any]:
        """One ``VideoScore`` per ``(record, proposals)``; one encode call for all proposals."""
        from ..metric import coerce_actions, score_video

        self.prepare(record for record, _ in items)
        pairs = [(coerce_actions(proposals), self._gt[r.video_id]) for r, proposals in items]
        sims = self.metric.similarities(pairs, known=self._vectors)
        return [
            score_video(pred, gt, sim, self.tau, video_id=r.video_id, scenario=r.scenario)
            for (r, _), (pred, gt), sim in zip(items, pairs, sims, strict=True)
        ]

    def score(self, record: VideoRecord, proposals: Sequence[Action]) -> Any:
        """The ``VideoScore`` of one proposal list."""
        return self.score_many([(record, proposals)])[0]

    def value(self, score: Any) -> float:
        """The reward figure of ``score``, as a Python float."""
        return float(getattr(score, self.reward))


COUNTS: tuple[str, ...] = (
    "tp",
    "m",
    "n",
    "sum_w",
    "gt_proactive",
    "gt_proactive_matched",
    "gt_reactive",
    "gt_reactive_matched",
    "pred_proactive",
)
"""Per-video counts in ``info["counts"]`` (sum them over videos to pool proactive recall)."""


def result_info(record: VideoRecord, proposals: Sequence[Action], score: Any) -> dict[str, Any]:
    """The ``info`` of a scored episode: everything the ground truth and the metric say.

    Keys: ``video_id``, ``scenario``, ``proposals`` (what was scored), ``metrics`` (the per-video
    figures of ``visualact score --json``), ``counts``, ``assignment`` (one dict per assigned
    pair: ``pred``, ``gt``, ``similarity``, ``weight``, ``matched``) and ``ground_truth``.
    """
    return {
        "video_id": record.video_id,
        "scenario": record.scenario,
        "proposals": [a.to_dict() for a in proposals],
        "metrics": {k: float(v) for k, v in score.figures().items()},
        "counts": {k: getattr(score, k) for k in COUNTS},
        "assignment": [
            {
                "pred": p.pred_index,
                "gt": p.gt_index,
                "similarity": float(p.similarity),
                "weight": float(p.weight),
                "matched": bool(p.matched),
            }
            for p in score.pairs
        ],
        "ground_truth": [a.to_dict() for a in record.actions],
    }

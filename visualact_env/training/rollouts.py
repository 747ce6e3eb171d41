"""Rollouts: K sampled proposal lists per video, each scored with the environment's reward.

A rollout folder is an ordinary evaluation run folder written by
:func:`visualact_env.runner.run_eval` (``config.json`` and ``predictions.jsonl`` with one record
per ``(video_id, sample)``, carrying ``sample`` and ``raw_text``), so it is resumable, sharded and
readable by every other command, plus one file of its own:

* ``rewards.jsonl``: one record per ``(video_id, sample)``: ``{"video_id", "sample", "scenario",
  "reward", "figures", "status"}``, scored with the environment's scorer
  (:class:`visualact_env.envs.scoring.EpisodeScorer`: same embedder, ``tau`` and reward figure
  as ``env.step``), and ``rewards.json`` saying which reward, ``tau`` and embedder were used.

A failed record (``error`` set: a request or model crash) is scored as an empty answer, exactly
as the metric and the environment score it; its ``status`` says ``failed``. An unparseable answer
is not a failure: it scores as an empty answer with its ``parse_error`` kept.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from ..cache import atomic_write_text
from ..loading import read_jsonl, write_jsonl
from ..records import Action, Benchmark, as_actions
from ..runner import EvalConfig

REWARDS_FILE = "rewards.jsonl"
REWARDS_META = "rewards.json"


REWARD_FIGURES: tuple[str, ...] = ("weighted_f1", "f1", "scale_score")


@dataclass(kw_only=True)
class RolloutConfig(EvalConfig):
    """The knobs of ``visualact train rollouts``: an evaluation (every :class:`EvalConfig` knob,
    declared there once) that samples K lists per video, plus the reward figure."""

    agent: str = field(
        metadata={"help": "policy spec, usually hf:PATH (a local VLM); any eval agent works"}
    )
    out: Path = field(metadata={"help": "rollout folder (an evaluation run folder)"})
    samples: int = field(default=4, metadata={"help": "proposal lists sampled per video (K)"})
    temperature: float | None = field(
        default=1.0, metadata={"help": "sampling temperature (> 0 for diverse samples)"}
    )
    reports: bool = field(default=False, metadata={"cli": False})
    reward: str = field(
        default="weighted_f1",
        metadata={"help": "reward figure of each rollout", "choices": REWARD_FIGURES},
    )

    def __post_init__(self) -> None:
        if self.samples < 1:
            raise ValueError(f"samples must be >= 1, got {self.samples}")


@dataclass(frozen=True)
class Rollout:
    """One scored sample: the prediction record joined with its reward."""

    video_id: str
    sample: int
    scenario: str
    actions: tuple[Action, ...]
    raw_text: str | None
    error: str | None
    reward: float
    figures: dict[str, float]

    @property
    def failed(self) -> bool:
        return self.error is not None


def eval_config(config: RolloutConfig) -> EvalConfig:
    """The :class:`~visualact_env.runner.EvalConfig` that produces the rollouts."""
    values = {f.name: getattr(config, f.name) for f in fields(EvalConfig)}
    values.update(out=Path(config.out), reports=False)
    return EvalConfig(**values)


def generate_rollouts(config: RolloutConfig, *, log: Callable[[str], None] | None = None) -> Path:
    """Sample and score the rollouts; return the folder (resumable with ``resume=True``)."""
    return run_rollouts(eval_config(config), reward=config.reward, log=log)


def run_rollouts(
    config: Any, *, reward: str = "weighted_f1", log: Callable[[str], None] | None = None
) -> Path:
    """Run an :class:`~visualact_env.runner.EvalConfig` (``samples`` K, ``temperature`` T) and
    score every record with the environment's reward; return the folder."""
    from ..runner import run_eval

    if config.samples > 1 and not (config.temperature or 0) > 0:
        raise ValueError(
            f"{config.samples} samples per video need a sampling temperature > 0 (got "
            f"{config.temperature}): greedy samples would all be identical"
        )
    out = run_eval(config, log=log)
    score_rollouts(out, reward=reward, tau=config.tau, embedder=config.embedder)
    return out


def read_run(folder: str | Path) -> tuple[dict[str, Any], list[dict[str, Any]], Benchmark]:
    """A run folder's config, prediction records and benchmark (checked by fingerprint)."""
    from ..report.summary import load_run
    from ..rundir import CONFIG_FILE

    folder = Path(folder)
    if not (folder / CONFIG_FILE).is_file():
        raise FileNotFoundError(f"{folder} is not a rollout folder: {CONFIG_FILE} is missing")
    run = load_run(folder)
    return run.config, [p.to_dict() for p in run.predictions], run.benchmark


def score_rollouts(
    folder: str | Path,
    *,
    reward: str = "weighted_f1",
    tau: float | None = None,
    embedder: str | None = None,
) -> Path:
    """Score every record of a run folder with the environment's scorer; write ``rewards.jsonl``.

    ``tau`` defaults to the run's own ``tau``; ``embedder`` to the default model.
    """
    from ..envs.scoring import EpisodeScorer

    folder = Path(folder)
    run_config, rows, benchmark = read_run(folder)
    tau = float(run_config.get("tau", 0.5)) if tau is None else float(tau)
    scorer = EpisodeScorer.build(embedder, tau, reward)
    items = [
        (benchmark[r["video_id"]], () if r.get("error") else as_actions(r["actions"])) for r in rows
    ]
    scores = scorer.score_many(items) if items else []
    out_rows = []
    for row, (record, _), score in zip(rows, items, scores, strict=True):
        out_rows.append(
            {
                "video_id": row["video_id"],
                "sample": int(row.get("sample", 0)),
                "scenario": record.scenario,
                "reward": scorer.value(score),
                "figures": {name: float(value) for name, value in score.figures().items()},
                "status": "failed" if row.get("error") else "scored",
            }
        )
    write_jsonl(folder / REWARDS_FILE, out_rows)
    meta = {
        "reward": reward,
        "tau": tau,
        "embedder": embedder,
        "embedder_identity": getattr(scorer.embedder, "identity", None),
    }
    atomic_write_text(folder / REWARDS_META, json.dumps(meta, indent=2) + "\n")
    return folder / REWARDS_FILE


def load_rollouts(folder: str | Path) -> tuple[list[Rollout], dict[str, Any], Benchmark]:
    """The scored rollouts of a folder, its run config and its benchmark.

    Scores the folder first if ``rewards.jsonl`` is missing or older than the predictions.
    """
    folder = Path(folder)
    run_config, rows, benchmark = read_run(folder)
    rewards_path = folder / REWARDS_FILE
    predictions_path = folder / "predictions.jsonl"
    if (
        not rewards_path.is_file()
        or rewards_path.stat().st_mtime < predictions_path.stat().st_mtime
    ):
        print(f"scoring {folder} (no up-to-date {REWARDS_FILE})", file=sys.stderr)
        score_rollouts(folder)
    rewards = {}
    for lineno, r, err in read_jsonl(rewards_path):
        if err:
            raise ValueError(f"{rewards_path}:{lineno}: {err}; rescore with score_rollouts()")
        rewards[(r["video_id"], int(r["sample"]))] = r
    out = []
    for row in rows:
        key = (row["video_id"], int(row.get("sample", 0)))
        if key not in rewards:
            raise ValueError(f"{rewards_path}: no reward for {key}; rescore with score_rollouts()")
        r = rewards[key]
        out.append(
            Rollout(
                video_id=key[0],
                sample=key[1],
                scenario=r["scenario"],
                actions=as_actions(row.get("actions", [])),
                raw_text=row.get("raw_text"),
                error=row.get("error"),
                reward=float(r["reward"]),
                figures=dict(r["figures"]),
            )
        )
    return out, run_config, benchmark

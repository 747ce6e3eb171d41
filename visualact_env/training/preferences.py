"""Preference pairs from scored rollouts, saved as a TRL vision preference dataset.

**The pairing rule.** For each video, the candidates are its rollouts that have a completion
text (``raw_text``; a request that crashed before producing text cannot be a candidate), plus,
with ``reference=True``, the ground truth written as a completion (see below). Then:

* ``chosen`` is the candidate with the highest reward, ``rejected`` the one with the lowest;
* ties are broken deterministically by the sample index: the lowest index wins for ``chosen``,
  the highest index for ``rejected`` (the reference counts as index -1, so it is chosen first
  on a tie);
* the pair is kept only if ``chosen.reward - rejected.reward >= margin`` and the two
  completion texts differ (identical texts carry no preference signal);
* a video with fewer than two candidates gives no pair.

**Reference augmentation** (``reference=True``). A weak policy (or the tiny test model) often
scores 0 on every sample of a video, so no pair clears a positive margin. Adding the ground truth
as one more candidate, written in the prompt's answer format (``{"actions": [{"action", "apl",
"proactive"}]}``) and scored like any sample (it scores 1 on ``weighted_f1``), gives every video a
meaningful pair "reference over the worst sample". This turns the preference objective into
"move towards the annotations", like SFT with a contrastive term; use it for a cold start, and
leave it off to learn only from the policy's own samples.

**The dataset** (``datasets.Dataset.save_to_disk``) has TRL's vision preference columns:
``prompt`` (system turn + a user turn with one ``{"type": "image"}`` placeholder per frame and the
prompt text, exactly what :class:`visualact_agents.hf_agent.HFAgent` shows the model), ``chosen`` and
``rejected`` (one assistant message each, with the raw completion text) and ``images`` (the
sampled frames as PIL images, sampled with the rollout run's own frame sampler), plus
``video_id``, ``scenario``, ``chosen_reward``, ``rejected_reward``, ``chosen_sample`` and
``rejected_sample``. ``pairs.jsonl`` next to it lists the pairs without images, and
``pairs.json`` records the rule's settings.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import jsonio
from ..cache import atomic_write_text
from ..records import Benchmark, VideoRecord

REFERENCE_SAMPLE = -1
"""The sample index given to the reference (ground-truth) candidate."""


@dataclass(frozen=True)
class Candidate:
    """One completion of one video with its reward."""

    video_id: str
    sample: int
    text: str
    reward: float


@dataclass(frozen=True)
class PreferencePair:
    """A chosen and a rejected completion for one video."""

    video_id: str
    scenario: str
    chosen: Candidate
    rejected: Candidate

    @property
    def gap(self) -> float:
        return self.chosen.reward - self.rejected.reward

    def to_dict(self) -> dict[str, Any]:
        return {
            "video_id": self.video_id,
            "scenario": self.scenario,
            "chosen_sample": self.chosen.sample,
            "chosen_reward": self.chosen.reward,
            "chosen": self.chosen.text,
            "rejected_sample": self.rejected.sample,
            "rejected_reward": self.rejected.reward,
            "rejected": self.rejected.text,
            "gap": self.gap,
        }


def pick_pair(
    candidates: Sequence[Candidate], margin: float = 0.0
) -> tuple[Candidate, Candidate] | None:
    """``(chosen, rejected)`` for one video by the module's rule, or ``None``."""
    if margin < 0:
        raise ValueError(f"margin must be >= 0, got {margin}")
    if len(candidates) < 2:
        return None
    chosen = min(candidates, key=lambda c: (-c.reward, c.sample))
    rejected = min(candidates, key=lambda c: (c.reward, -c.sample))
    if chosen is rejected or chosen.text == rejected.text:
        return None
    if chosen.reward - rejected.reward < margin:
        return None
    return chosen, rejected


def reference_completion(record: VideoRecord, prompt: Any = None) -> str:
    """The ground truth written as the answer the prompt asks for.

    JSON prompts get ``{"actions": [{"action", "apl", "proactive"}]}``; list prompts get numbered
    lines ``1. <action> (APL n, proactive|reactive)``.
    """
    if getattr(prompt, "output", "json") == "list":
        lines = [
            f"{i}. {a.text} (APL {a.apl}, {'proactive' if a.proactive else 'reactive'})"
            for i, a in enumerate(record.actions, start=1)
        ]
        return "\n".join(lines)
    items = [{"action": a.text, "apl": a.apl, "proactive": a.proactive} for a in record.actions]
    return json.dumps({"actions": items}, ensure_ascii=False)


def candidates_from_rollouts(rollouts: Iterable[Any]) -> dict[str, list[Candidate]]:
    """Candidates per video from :class:`~.rollouts.Rollout` records that have text."""
    out: dict[str, list[Candidate]] = {}
    for r in rollouts:
        if r.raw_text is None:
            continue
        out.setdefault(r.video_id, []).append(Candidate(r.video_id, r.sample, r.raw_text, r.reward))
    return out


def add_references(
    candidates: dict[str, list[Candidate]], benchmark: Benchmark, prompt: Any, scorer: Any
) -> None:
    """Add each video's ground-truth completion as a candidate, scored by ``scorer``.

    The reference is parsed back with the library's parser and scored like a sample (so a
    reference the parser would misread would show a lower reward, not be trusted blindly).
    """
    from ..parsing import parse_actions

    ids = list(candidates)
    texts = [reference_completion(benchmark[v], prompt) for v in ids]
    items = [(benchmark[v], parse_actions(t).actions) for v, t in zip(ids, texts, strict=True)]
    scores = scorer.score_many(items)
    for vid, text, score in zip(ids, texts, scores, strict=True):
        candidates[vid].append(Candidate(vid, REFERENCE_SAMPLE, text, scorer.value(score)))


def select_pairs(
    candidates: dict[str, list[Candidate]], benchmark: Benchmark, margin: float = 0.0
) -> list[PreferencePair]:
    """One pair per video that passes the rule, in benchmark order."""
    pairs = []
    for record in benchmark:
        picked = pick_pair(candidates.get(record.video_id, []), margin)
        if picked:
            pairs.append(PreferencePair(record.video_id, record.scenario, *picked))
    return pairs


def run_prompt(run_config: dict[str, Any]) -> Any:
    """The prompt a run's agent used (from its config), else the run's ``--prompt``, else default."""
    from ..prompts import PromptTemplate, load_prompt

    agent_prompt = (run_config.get("agent") or {}).get("prompt")
    if isinstance(agent_prompt, dict) and "name" in agent_prompt and "user" in agent_prompt:
        return PromptTemplate.from_dict(agent_prompt)
    return load_prompt((run_config.get("eval_config") or {}).get("prompt"))


def run_sampler(run_config: dict[str, Any]) -> Any:
    """The frame sampler a run used."""
    from ..frames import SamplerConfig

    return SamplerConfig.from_dict(run_config["sampler"])


def preference_rows(
    pairs: Sequence[PreferencePair], benchmark: Benchmark, prompt: Any, sampler: Any
) -> list[dict[str, Any]]:
    """TRL vision preference rows (see the module docstring) for ``pairs``."""
    from visualact_env.vlm import build_messages, frames_to_images

    from ..frames import sample_frames

    rows = []
    for pair in pairs:
        images = frames_to_images(sample_frames(benchmark[pair.video_id].path, sampler))
        rows.append(
            {
                "prompt": build_messages(prompt, len(images)),
                "chosen": [_assistant(pair.chosen.text)],
                "rejected": [_assistant(pair.rejected.text)],
                "images": images,
                "video_id": pair.video_id,
                "scenario": pair.scenario,
                "chosen_reward": pair.chosen.reward,
                "rejected_reward": pair.rejected.reward,
                "chosen_sample": pair.chosen.sample,
                "rejected_sample": pair.rejected.sample,
            }
        )
    return rows


def _assistant(text: str) -> dict[str, Any]:
    return {"role": "assistant", "content": [{"type": "text", "text": text}]}


def build_preference_dataset(
    rollouts_dir: str | Path,
    out: str | Path,
    *,
    margin: float = 0.0,
    reference: bool = False,
    reward: str | None = None,
) -> Path:
    """Pairs from a rollout folder, saved with ``save_to_disk`` in ``out``; returns ``out``.

    ``reward`` defaults to the reward the rollouts were scored with. Raises ``ValueError`` if no
    video yields a pair (with the margin and the reward spread in the message).
    """
    from . import require_train_extra

    require_train_extra("datasets")
    import datasets

    from ..envs.scoring import EpisodeScorer
    from .rollouts import REWARDS_META, load_rollouts

    rollouts, run_config, benchmark = load_rollouts(rollouts_dir)
    meta = jsonio.read_json(Path(rollouts_dir) / REWARDS_META, what="rewards record")
    reward = reward or meta["reward"]
    prompt = run_prompt(run_config)
    candidates = candidates_from_rollouts(rollouts)
    if reference:
        scorer = EpisodeScorer.build(meta.get("embedder"), meta["tau"], reward)
        add_references(candidates, benchmark, prompt, scorer)
    pairs = select_pairs(candidates, benchmark, margin)
    if not pairs:
        rewards = [r.reward for r in rollouts]
        spread = f"{min(rewards):.3f}..{max(rewards):.3f}" if rewards else "no rollouts"
        raise ValueError(
            f"no preference pair in {rollouts_dir} with margin {margin} (rewards {spread}); "
            "lower --margin, sample more (--samples), or add the reference (--reference)"
        )
    rows = preference_rows(pairs, benchmark, prompt, run_sampler(run_config))
    out = Path(out)
    datasets.Dataset.from_list(rows).save_to_disk(str(out))
    atomic_write_text(out / "pairs.jsonl", "".join(json.dumps(p.to_dict()) + "\n" for p in pairs))
    settings = {
        "rollouts": str(Path(rollouts_dir).resolve()),
        "margin": margin,
        "reference": reference,
        "reward": reward,
        "tau": meta["tau"],
        "prompt": prompt.to_dict(),
        "sampler": run_config["sampler"],
        "data": run_config.get("data"),
        "num_pairs": len(pairs),
        "num_videos": len({r.video_id for r in rollouts}),
    }
    atomic_write_text(out / "pairs.json", json.dumps(settings, indent=2) + "\n")
    return out

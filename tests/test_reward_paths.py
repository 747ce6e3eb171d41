"""One similarity path: env.step, the GRPO reward and ``visualact score`` give the same numbers.

The environment's scorer, the GRPO reward function and the metric's ``score_predictions`` (what
``visualact score`` runs on a prediction file) are checked against each other on the same
proposals with the real embedding model: every figure and every assigned pair, similarity
included, bit for bit. The ground truth is widened to every wording of each demo scene (10-15
actions a video, so about 200 assigned pairs a proposal list) and the proposal lists repeat
texts, of each other and of the ground truth, with different APLs and flags: a second similarity
path (float32 products instead of the metric's float64 over unique texts) rounds about one
cosine in 25 to another 1e-6 step, which shows in the assigned pairs here.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from visualact_env.loading import parse_predictions
from visualact_env.metric import Scorer, score_predictions
from visualact_env.records import Action, Benchmark


def _scene_texts(video_id: str) -> list[Action]:
    """Every wording of every action of the demo scene behind ``video_id``."""
    from visualact_env.demo import load_scenes

    scene = next(s for s in load_scenes() if s.name == video_id)
    return [Action(t, spec.apl, spec.proactive) for spec in scene.actions for t in spec.texts]


@pytest.fixture(scope="module")
def wide(demo) -> Benchmark:
    """The demo clips with every wording of their scene as ground truth."""
    records = tuple(replace(r, actions=tuple(_scene_texts(r.video_id))) for r in demo)
    return Benchmark(records=records, name="demo-wide")


def _proposal_lists(wide: Benchmark, index: int) -> dict[str, list[Action]]:
    record = wide.records[index]
    neighbour = wide.records[(index + 1) % len(wide.records)]  # another scene's wordings
    own = list(record.actions)
    first = own[0].text
    return {
        "own_wordings_shifted": [Action(a.text, (a.apl + 1) % 5, not a.proactive) for a in own],
        "neighbour_and_duplicates": [
            *neighbour.actions,
            Action(first, 4, True),
            Action(first, 0, False),
            Action(first),
            Action(f"  {first}  ", 3, None),  # outer whitespace is not part of the text
        ],
    }


def _pairs(score) -> list[tuple[int, int, float, float, bool]]:
    return [(p.pred_index, p.gt_index, p.similarity, p.weight, p.matched) for p in score.pairs]


def _info_pairs(info) -> list[tuple[int, int, float, float, bool]]:
    return [
        (p["pred"], p["gt"], p["similarity"], p["weight"], p["matched"]) for p in info["assignment"]
    ]


def _completion(actions: list[Action]) -> str:
    rows = [{"action": a.text.strip(), "apl": a.apl, "proactive": a.proactive} for a in actions]
    return json.dumps({"actions": rows})


@pytest.mark.slow
def test_env_grpo_and_score_agree_bit_for_bit(wide, embedder, tmp_path: Path) -> None:
    from visualact_env.envs.visualact import VisualActEnv
    from visualact_env.training.grpo import VisualActReward, ground_truth_json

    records = list(wide.records)
    env = VisualActEnv(dataset=wide, embedder=embedder, num_frames=1, frame_size=(32, 32))
    reward_fn = VisualActReward(embedder)
    names = list(_proposal_lists(wide, 0))
    pairs_compared = 0
    for name in names:
        lists = [_proposal_lists(wide, i)[name] for i in range(len(records))]
        # visualact score's path: a prediction file read by the loader, then score_predictions
        file = tmp_path / f"{name}.jsonl"
        rows = [
            {
                "video_id": r.video_id,
                "actions": [{**a.to_dict(), "text": a.text.strip()} for a in props],
            }  # fmt: skip
            for r, props in zip(records, lists, strict=True)
        ]
        file.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
        report = score_predictions(wide, parse_predictions(file, wide), Scorer(embedder, tau=0.5))
        # the GRPO reward's path: completions parsed, ground truth from the dataset column
        columns = {
            "ground_truth": [ground_truth_json(r) for r in records],
            "video_id": [r.video_id for r in records],
            "scenario": [r.scenario for r in records],
        }
        completions = [_completion(props) for props in lists]
        grpo_scores, unparsed = reward_fn.scored(completions, **columns)
        rewards = reward_fn(None, completions, None, **columns)
        assert not any(unparsed)
        for record, props, grpo, reward in zip(records, lists, grpo_scores, rewards, strict=True):
            env.reset(options={"video_id": record.video_id})
            _, env_reward, *_, info = env.step(props)
            scored = report.scores[record.video_id]
            where = (name, record.video_id)
            assert env_reward == scored.weighted_f1 == reward, where
            assert info["metrics"] == scored.figures() == grpo.figures(), where
            assert _info_pairs(info) == _pairs(scored) == _pairs(grpo), where
            pairs_compared += len(scored.pairs)
    assert pairs_compared > 300
    figures = {round(s.weighted_f1, 3) for s in report.scores.values()}
    assert len(figures) > 3, "the lists exercise more than the trivial rewards"


class PlantedEncoder:
    """Texts mapped to planted unit vectors (float32), as an embedder returns them."""

    identity = "planted"

    def __init__(self, vectors: dict[str, np.ndarray]):
        self.vectors = vectors

    def encode(self, texts) -> np.ndarray:
        return np.stack([self.vectors[t] for t in texts]).astype(np.float32)


def _near_half_step(rng: np.random.Generator, g: np.ndarray) -> np.ndarray:
    """A float32 unit vector whose float64 cosine with ``g`` lies within 0.002 of a half step of
    the metric's 1e-6 grid, so any other arithmetic (a float32 product) may round it to the
    neighbouring step."""
    while True:
        u = rng.standard_normal(g.size)
        u -= (u @ g) * g
        c = rng.uniform(0.5, 0.9)
        p = (c * g + np.sqrt(1 - c * c) * u / np.linalg.norm(u)).astype(np.float32)
        p /= np.linalg.norm(p.astype(np.float64)).astype(np.float32)
        frac = (float(p.astype(np.float64) @ g) * 1e6) % 1.0
        if abs(frac - 0.5) < 0.002:
            return p


def test_paths_agree_where_a_second_path_would_round_differently(tmp_path: Path) -> None:
    """Cosines planted next to the rounding grid's half steps: every path must still give the
    same rounded similarity (and so the same assignment and reward), because there is one."""
    from visualact_env.envs.visualact import VisualActEnv
    from visualact_env.training.grpo import VisualActReward, ground_truth_json

    rng = np.random.default_rng(0)
    gt_texts = [f"ground truth {i}" for i in range(8)]
    vectors: dict[str, np.ndarray] = {}
    for t in gt_texts:
        v = rng.standard_normal(384)
        vectors[t] = (v / np.linalg.norm(v)).astype(np.float32)
    g64 = {t: v.astype(np.float64) / np.linalg.norm(v.astype(np.float64)) for t, v in vectors.items()}  # fmt: skip
    props = []
    for i, t in enumerate(gt_texts):
        vectors[f"proposal {i}"] = _near_half_step(rng, g64[t])
        props.append(Action(f"proposal {i}", i % 5, bool(i % 2)))
    props += [Action("proposal 0", 4, True), Action("proposal 3", 0, False)]  # duplicates
    encoder = PlantedEncoder(vectors)
    from visualact_env.datasets import load_benchmark

    clip = load_benchmark("demo").records[0]
    record = replace(clip, actions=tuple(Action(t, i % 5, i % 3 == 0) for i, t in enumerate(gt_texts)))  # fmt: skip
    bench = Benchmark(records=(record,), name="planted")

    file = tmp_path / "p.jsonl"
    file.write_text(json.dumps({"video_id": record.video_id, "actions": [a.to_dict() for a in props]}) + "\n")  # fmt: skip
    scored = score_predictions(bench, parse_predictions(file, bench), Scorer(encoder, tau=0.5))
    expected = scored.scores[record.video_id]
    env = VisualActEnv(dataset=bench, embedder=encoder, tau=0.5, num_frames=1, frame_size=(8, 8))
    env.reset()
    _, reward, *_, info = env.step(props)
    grpo = VisualActReward(encoder, tau=0.5)
    completion = _completion(props)
    (grpo_score,), _ = grpo.scored([completion], ground_truth=[ground_truth_json(record)])
    assert _info_pairs(info) == _pairs(expected) == _pairs(grpo_score)
    assert reward == expected.weighted_f1 == grpo_score.weighted_f1
    assert len(expected.pairs) == 8

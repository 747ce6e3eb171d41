"""The baseline agents on the real demo benchmark (real clips, real frames, real metric)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from visualact_agents.baselines import (
    BlindAgent,
    EmptyAgent,
    OracleAgent,
    RandomAgent,
    RetrievalAgent,
    frame_features,
)

from visualact_env.agent import Agent, AgentOutput
from visualact_env.frames import SamplerConfig, letterbox, sample_frames
from visualact_env.records import Action, Benchmark, VideoRecord
from visualact_env.registry import make_agent

SAMPLER = SamplerConfig(num_frames=8, size=None)  # the clips as encoded


@pytest.fixture(scope="module")
def frames(demo: Benchmark) -> dict[str, np.ndarray]:
    return {r.video_id: sample_frames(r.path, SAMPLER) for r in demo}


def _run(
    agent: Agent, demo: Benchmark, frames: dict[str, np.ndarray], **info
) -> dict[str, AgentOutput]:
    agent.setup(demo, SAMPLER)
    return {
        r.video_id: agent.act({"frames": frames[r.video_id]}, {"video_id": r.video_id, **info})
        for r in demo
    }


def _mean_f1(scorer, demo: Benchmark, outputs: dict[str, AgentOutput]) -> float:
    scores = scorer.score_many([(outputs[r.video_id].actions, r.actions) for r in demo])
    return float(np.mean([s.f1 for s in scores]))


def _texts(actions) -> set[str]:
    return {a.text for a in actions}


def _text_benchmark(rows: dict[str, list[tuple[str, int, bool]]]) -> Benchmark:
    """A benchmark without clips, for agents that never read frames."""
    return Benchmark(
        tuple(
            VideoRecord(
                vid, f"{vid}.mp4", "home_service", tuple(Action(t, a, p) for t, a, p in acts)
            )
            for vid, acts in rows.items()
        )
    )


# ----------------------------------------------------------------------------- registry, config


@pytest.mark.parametrize(
    ("spec", "cls"),
    [
        ("oracle", OracleAgent),
        ("random", RandomAgent),
        ("blind", BlindAgent),
        ("retrieval", RetrievalAgent),
        ("empty", EmptyAgent),
        ("random:3", RandomAgent),
        ("retrieval:2", RetrievalAgent),
    ],
)
def test_registry_builds_each_baseline(spec: str, cls: type):
    agent = make_agent(spec, seed=7, concurrency=4, unknown_option="ignored")
    assert isinstance(agent, cls)
    assert agent.spec == spec
    cfg = agent.config()
    assert cfg["spec"] == spec and cfg["deterministic"] is True


@pytest.mark.parametrize(
    "spec", ["oracle:x", "empty:1", "random:many", "blind:-1", "retrieval:two"]
)
def test_bad_arguments_are_rejected(spec: str):
    with pytest.raises(ValueError, match="agent"):
        make_agent(spec)


def test_act_before_setup_raises():
    with pytest.raises(RuntimeError, match="setup"):
        OracleAgent().act({}, {"video_id": "x"})


def test_unknown_video_is_a_failure_not_an_answer(demo: Benchmark):
    for agent in (OracleAgent(), RandomAgent(), BlindAgent()):
        agent.setup(demo, SAMPLER)
        out = agent.act({}, {"video_id": "not-there"})
        assert out.failed and "not-there" in out.error and out.actions == ()
        assert agent.act({}, {}).failed


# ----------------------------------------------------------------------------- oracle, empty


def test_oracle_proposes_ground_truth_and_scores_one(demo, frames, scorer):
    outputs = _run(OracleAgent(), demo, frames)
    for r in demo:
        assert outputs[r.video_id].actions == r.actions
    assert _mean_f1(scorer, demo, outputs) == pytest.approx(1.0)


def test_empty_proposes_nothing_and_scores_zero(demo, frames, scorer):
    outputs = _run(EmptyAgent(), demo, frames)
    assert all(o.actions == () and not o.failed for o in outputs.values())
    assert _mean_f1(scorer, demo, outputs) == 0.0


# ----------------------------------------------------------------------------- random


def test_random_never_proposes_own_actions_and_is_deterministic(demo, frames):
    first = _run(RandomAgent(seed=3), demo, frames)
    again = _run(RandomAgent(seed=3), demo, frames)
    other_seed = _run(RandomAgent(seed=4), demo, frames)
    median = int(np.median([len(r.actions) for r in demo]))
    for r in demo:
        out = first[r.video_id]
        assert len(out.actions) == median
        assert not _texts(out.actions) & _texts(r.actions)
        assert len(set(out.actions)) == len(out.actions)  # drawn without replacement
        assert out.actions == again[r.video_id].actions
    assert any(first[v].actions != other_seed[v].actions for v in first)


def test_random_sample_index_changes_the_draw(demo, frames):
    a = _run(RandomAgent(seed=0), demo, frames, sample=0)
    b = _run(RandomAgent(seed=0), demo, frames, sample=1)
    assert any(a[v].actions != b[v].actions for v in a)


def test_random_k_argument():
    bench = _text_benchmark(
        {f"v{i}": [(f"act {i} {j}", 1, True) for j in range(3)] for i in range(4)}
    )
    agent = RandomAgent("5")
    agent.setup(bench, None)
    out = agent.act({}, {"video_id": "v0"})
    assert len(out.actions) == 5 and not any(a.text.startswith("act 0 ") for a in out.actions)
    assert agent.config()["k"] == 5


# ----------------------------------------------------------------------------- blind


def test_blind_ranks_other_videos_actions_by_frequency():
    bench = _text_benchmark(
        {
            "a": [("Call 911.", 4, True), ("Mop the floor", 1, False)],
            "b": [("call 911", 3, True), ("Mop the floor", 1, False)],
            "c": [("Call 911.", 4, False), ("Open a window", 2, True)],
            "d": [("Open a window", 2, True), ("Call 911.", 4, True)],
        }
    )
    agent = BlindAgent("2")
    agent.setup(bench, None)
    # for "c": others hold call-911 x3 (two spellings), mop x2, window x1
    out = agent.act({}, {"video_id": "c"})
    assert out.actions == (Action("Call 911.", 4, True), Action("Mop the floor", 1, False))
    # for "a": call-911 x3, window x2, mop x1 (its own mop is left out)
    assert [x.text for x in agent.act({}, {"video_id": "a"}).actions] == [
        "Call 911.",
        "Open a window",
    ]


def test_blind_ignores_frames_and_is_deterministic(demo, frames):
    agent = BlindAgent()
    agent.setup(demo, SAMPLER)
    for r in list(demo)[:4]:
        real = agent.act({"frames": frames[r.video_id]}, {"video_id": r.video_id})
        black = agent.act({"frames": np.zeros_like(frames[r.video_id])}, {"video_id": r.video_id})
        none = agent.act({}, {"video_id": r.video_id})
        assert real.actions == black.actions == none.actions
        assert real.actions and not _texts(real.actions) & _texts(r.actions)


# ----------------------------------------------------------------------------- retrieval


def test_retrieval_is_leave_one_out(demo, frames):
    outputs = _run(RetrievalAgent(), demo, frames)
    for r in demo:
        out = outputs[r.video_id]
        assert not out.failed
        neighbour = out.diagnostics[0].split()[1]
        assert neighbour != r.video_id and neighbour in demo
        assert out.actions == demo[neighbour].actions
        assert not _texts(out.actions) & _texts(r.actions)


def test_retrieval_finds_an_identical_clip(demo, frames):
    """A second id for the same clip is the nearest neighbour (distance 0), the video itself is not."""
    first = demo.records[5]
    twin = VideoRecord(
        "twin", first.video, first.scenario, (Action("twin action", 2, True),), root=first.root
    )
    bench = Benchmark(demo.records + (twin,))
    agent = RetrievalAgent()
    agent.setup(bench, SAMPLER)
    out = agent.act({"frames": frames[first.video_id]}, {"video_id": first.video_id})
    assert out.actions == twin.actions
    assert out.diagnostics == ["neighbour twin (distance 0.0000)"]
    back = agent.act({"frames": frames[first.video_id]}, {"video_id": "twin"})
    assert back.actions == first.actions


def test_retrieval_is_robust_to_letterbox_and_size(demo, frames):
    """Letterboxing to another size moves a clip's features far less than the gap to any other
    clip, so a bank sampled at one size and queries padded to another mostly agree."""
    feats = {v: frame_features(f) for v, f in frames.items()}
    bank = np.stack(list(feats.values()))
    gaps = np.sqrt(((bank[:, None] - bank[None]) ** 2).sum(-1))
    nearest_other = gaps[~np.eye(len(bank), dtype=bool)].min()
    for size in ((224, 224), (64, 64), (336, 200)):
        moved = max(
            np.linalg.norm(frame_features(letterbox(f, size)) - feats[v]) for v, f in frames.items()
        )
        assert moved < nearest_other / 2, (size, moved, nearest_other)

    plain = _run(RetrievalAgent(), demo, frames)
    agent = RetrievalAgent()
    agent.setup(demo, SamplerConfig(num_frames=8, size=(64, 64)))
    same = 0
    for r in demo:
        query = letterbox(frames[r.video_id], (224, 224))
        out = agent.act({"frames": query}, {"video_id": r.video_id})
        same += out.actions == plain[r.video_id].actions
    assert same >= len(demo) - 2  # only near-ties may flip


def test_retrieval_k_neighbours_and_config(demo, frames):
    out = _run(RetrievalAgent("2"), demo, frames)
    vid = demo.video_ids[0]
    names = [d.split()[1] for d in out[vid].diagnostics]
    assert len(names) == 2 and vid not in names
    assert out[vid].actions == demo[names[0]].actions + demo[names[1]].actions
    assert RetrievalAgent("2").config()["neighbours"] == 2


def test_retrieval_bad_observation_is_a_failure(demo):
    agent = RetrievalAgent()
    agent.setup(demo, SAMPLER)
    vid = demo.video_ids[0]
    assert "no 'frames'" in agent.act({}, {"video_id": vid}).error
    assert (
        "shape" in agent.act({"frames": np.zeros((0, 4, 4, 3), np.uint8)}, {"video_id": vid}).error
    )


def test_retrieval_skips_unreadable_clips(demo, tmp_path: Path):
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video at all")
    bad = VideoRecord("broken", broken.name, "home_service", (Action("x", 0, True),), root=tmp_path)
    agent = RetrievalAgent()
    agent.setup(Benchmark(demo.records[:3] + (bad,)), SAMPLER)
    assert set(agent.skipped) == {"broken"} and "broken.mp4" in agent.skipped["broken"]
    out = agent.act(
        {"frames": sample_frames(demo.records[0].path, SAMPLER)}, {"video_id": "broken"}
    )
    assert not out.failed and out.actions in (demo.records[i].actions for i in range(3))


def test_retrieval_beats_random_and_blind_on_demo(demo, frames, scorer):
    f1 = {
        name: _mean_f1(scorer, demo, _run(agent, demo, frames))
        for name, agent in (
            ("retrieval", RetrievalAgent()),
            ("random", RandomAgent()),
            ("blind", BlindAgent()),
        )
    }
    assert f1["retrieval"] > f1["random"] + 0.05, f1
    assert f1["retrieval"] > f1["blind"], f1


def test_frame_features_shape_and_validation(frames):
    clip = next(iter(frames.values()))
    feats = frame_features(clip)
    assert feats.dtype == np.float32 and feats.shape == (8 * 8 * 3 * 2 + 64,)
    assert np.allclose(frame_features(clip[:1])[192:384], 0)  # one frame: no motion
    tiny = frame_features(clip[:, :5, :6])  # smaller than the thumbnail still works
    assert tiny.shape == feats.shape and np.isfinite(tiny).all()
    with pytest.raises(ValueError, match="shape"):
        frame_features(np.zeros((3, 4, 4), np.uint8))

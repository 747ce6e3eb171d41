"""The native vector environment, and Gymnasium's Sync/Async vector environments, of VisualAct-v0.

Real demo clips and the real embedding model (one instance per session, shared).
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.vector import AutoresetMode

import visualact_env  # noqa: F401  (registers the environments)
from visualact_env.envs.vector import VisualActVectorEnv
from visualact_env.envs.visualact import VisualActEnv

SMALL = {"num_frames": 3, "frame_size": (32, 40)}
N = 3

PROPOSALS = [
    [{"text": "Brake and let the pedestrian cross.", "apl": 4, "proactive": 1}],
    [
        {"text": "Steer around the debris.", "apl": 3, "proactive": 1},
        {"text": "Switch on the hazard lights.", "apl": 1, "proactive": 0},
    ],
    [],
]


class CountingEmbedder:
    """The real embedder, with a record of every encode call."""

    def __init__(self, inner):
        self.inner = inner
        self.identity = inner.identity
        self.calls: list[list[str]] = []

    def encode(self, texts):
        texts = list(texts)
        self.calls.append(texts)
        return self.inner.encode(texts)


@pytest.fixture(scope="module")
def single(demo, embedder):
    return VisualActEnv(dataset=demo, embedder=embedder, **SMALL)


def single_results(single, video_ids, proposals):
    out = []
    for video_id, props in zip(video_ids, proposals, strict=True):
        single.reset(options={"video_id": video_id})
        _, r, _, _, info = single.step(props)
        out.append((r, info))
    return out


def test_make_vec_builds_the_native_env(embedder):
    envs = gym.make_vec(
        "VisualAct-v0", num_envs=N, vectorization_mode="vector_entry_point", **SMALL
    )
    assert isinstance(envs.unwrapped, VisualActVectorEnv)
    assert envs.metadata["autoreset_mode"] is AutoresetMode.NEXT_STEP
    assert envs.unwrapped.scorer.embedder is embedder
    obs, info = envs.reset(seed=0)
    assert obs["frames"].shape == (N, 3, 32, 40, 3) and obs["frames"].dtype == np.uint8
    assert obs in envs.observation_space
    assert list(info["video_id"]) == envs.unwrapped.benchmark.video_ids[:N]
    actions = envs.action_space.sample()
    assert len(actions) == N
    _, rewards, terminated, truncated, _ = envs.step(actions)
    assert rewards.shape == (N,) and terminated.all() and not truncated.any()
    assert ((rewards >= 0) & (rewards <= 1)).all()
    envs.close()


def test_rewards_equal_the_single_env_and_one_encode_call_per_step(demo, embedder, single):
    counting = CountingEmbedder(embedder)
    envs = VisualActVectorEnv(num_envs=N, dataset=demo, embedder=counting, **SMALL)
    ids = ["nav_pedestrian_crossing", "nav_road_obstacle", "hmi_thumbs_up"]
    envs.reset(options={"video_ids": ids})
    counting.calls.clear()
    _, rewards, terminated, _, infos = envs.step(PROPOSALS)
    assert len(counting.calls) == 1
    assert counting.calls[0] == [p["text"] for props in PROPOSALS for p in props]
    expected = single_results(single, ids, PROPOSALS)
    assert rewards.tolist() == [r for r, _ in expected]
    assert rewards[0] > 0 and rewards[2] == 0.0
    for i, (_, info) in enumerate(expected):
        assert {k: infos["metrics"][k][i] for k in info["metrics"]} == info["metrics"]
        assert infos["ground_truth"][i] == info["ground_truth"]
        assert infos["assignment"][i] == info["assignment"]
    assert terminated.tolist() == [True] * N


@pytest.mark.parametrize("reward", ["weighted_f1", "f1", "scale_score"])
def test_ground_truth_scores_one_and_empty_scores_zero(demo, embedder, reward):
    envs = VisualActVectorEnv(
        num_envs=N, dataset=demo, embedder=embedder, reward=reward, autoreset_mode="Disabled",
        **SMALL,
    )  # fmt: skip
    for start in range(0, len(demo) - N + 1, N):
        records = demo.records[start : start + N]
        envs.reset(options={"video_ids": [r.video_id for r in records]})
        gt = [[a.to_dict() for a in r.actions] for r in records]
        _, rewards, terminated, _, infos = envs.step(gt)
        assert rewards.tolist() == pytest.approx([1.0] * N, abs=1e-9)
        assert terminated.all()
        assert infos["metrics"][reward].tolist() == rewards.tolist()
        envs.reset(options={"video_ids": [r.video_id for r in records]})
        _, rewards, *_ = envs.step([[]] * N)
        assert rewards.tolist() == [0.0] * N


def test_next_step_autoreset_walks_the_dataset_once(demo, embedder):
    envs = VisualActVectorEnv(num_envs=N, dataset=demo, embedder=embedder, **SMALL)
    _, info = envs.reset(seed=1)
    seen = list(info["video_id"])
    for _ in range(3):
        _, rewards, terminated, _, info = envs.step([[]] * N)
        assert terminated.all() and "metrics" in info
        obs, rewards, terminated, truncated, info = envs.step([[{"text": "ignored"}]] * N)
        assert not terminated.any() and not truncated.any() and (rewards == 0).all()
        assert "metrics" not in info
        seen += list(info["video_id"])
    assert seen == demo.video_ids[: 4 * N]


def test_same_step_autoreset_returns_the_next_episode(demo, embedder, single):
    envs = VisualActVectorEnv(
        num_envs=N, dataset=demo, embedder=embedder, autoreset_mode="SameStep", **SMALL
    )
    assert envs.metadata["autoreset_mode"] is AutoresetMode.SAME_STEP
    _, info = envs.reset(seed=0)
    first = list(info["video_id"])
    obs, rewards, terminated, _, info = envs.step(PROPOSALS)
    assert terminated.all()
    assert list(info["final_info"]["video_id"]) == first
    assert list(info["video_id"]) == demo.video_ids[N : 2 * N]
    assert rewards.tolist() == [r for r, _ in single_results(single, first, PROPOSALS)]
    for i in range(N):
        np.testing.assert_array_equal(obs["frames"][i], single.frames_for(demo.records[N + i]))
        np.testing.assert_array_equal(
            info["final_obs"][i]["frames"], single.frames_for(demo.records[i])
        )


def test_disabled_autoreset_uses_the_reset_mask(demo, embedder):
    envs = VisualActVectorEnv(
        num_envs=2, dataset=demo, embedder=embedder, autoreset_mode=AutoresetMode.DISABLED, **SMALL
    )
    envs.reset(seed=0)
    envs.step([[], []])
    with pytest.raises(RuntimeError, match="after the episode ended"):
        envs.step([[], []])
    _, info = envs.reset(options={"reset_mask": np.array([False, True])})
    assert info["_video_id"].tolist() == [False, True]
    assert info["video_id"][1] == demo.video_ids[2]


def test_scenario_is_batched_when_exposed(demo, embedder):
    envs = VisualActVectorEnv(
        num_envs=2, dataset=demo, embedder=embedder, expose_scenario=True, **SMALL
    )
    obs, info = envs.reset(options={"video_ids": ["hmi_thumbs_up", "nav_red_light"]})
    assert obs["scenario"].tolist() == [3, 0]
    assert obs in envs.observation_space


def test_observations_are_fresh_arrays(demo, embedder):
    envs = VisualActVectorEnv(num_envs=2, dataset=demo, embedder=embedder, **SMALL)
    obs1, _ = envs.reset(seed=0)
    obs2, *_ = envs.step([[], []])
    assert not np.shares_memory(obs1["frames"], obs2["frames"])
    obs1["frames"][:] = 0
    assert obs2["frames"].std() > 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"num_envs": 0}, "num_envs"),
        ({"autoreset_mode": "Sometimes"}, "Sometimes"),
    ],
)
def test_bad_vector_arguments(kwargs, message, demo, embedder):
    with pytest.raises(ValueError, match=message):
        VisualActVectorEnv(**{"dataset": demo, "embedder": embedder, **SMALL, **kwargs})


def test_bad_vector_actions_and_options(demo, embedder):
    envs = VisualActVectorEnv(num_envs=2, dataset=demo, embedder=embedder, **SMALL)
    envs.reset(seed=0)
    with pytest.raises(ValueError, match="expected 2 proposal lists, got 1"):
        envs.step([[]])
    with pytest.raises(ValueError, match=r"sub-environment 1: action\[0\]\.apl: out of range"):
        envs.step([[], [{"text": "x", "apl": 5}]])
    with pytest.raises(ValueError, match="video_ids needs 2 ids"):
        envs.reset(options={"video_ids": ["hmi_thumbs_up"]})
    with pytest.raises(ValueError, match="unknown key"):
        envs.reset(options={"video_id": "hmi_thumbs_up"})


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_sync_and_async_vector_envs_match_the_native_one(mode, demo, embedder, single):
    # Warm the embedding disk cache so that async workers never need the model themselves.
    embedder.encode([p["text"] for props in PROPOSALS for p in props])
    vector_kwargs = {"shared_memory": False} if mode == "async" else {}
    envs = gym.make_vec(
        "VisualAct-v0",
        num_envs=N,
        vectorization_mode=mode,
        vector_kwargs=vector_kwargs,
        order="shuffle",
        **SMALL,
    )
    try:
        obs, info = envs.reset(seed=0)  # Gymnasium seeds sub-environment i with 0 + i
        ids = list(info["video_id"])
        assert len(set(ids)) > 1  # shuffled with different seeds
        assert obs["frames"].shape == (N, 3, 32, 40, 3)
        _, rewards, terminated, truncated, infos = envs.step(tuple(PROPOSALS))
        expected = [r for r, _ in single_results(single, ids, PROPOSALS)]
        assert rewards.tolist() == expected
        assert terminated.all() and not truncated.any()
        assert list(infos["video_id"]) == ids
        assert infos["metrics"]["weighted_f1"].tolist() == expected
    finally:
        envs.close()


def test_vector_render_returns_each_sub_environment_view(demo, embedder):
    envs = VisualActVectorEnv(
        num_envs=2, dataset=demo, embedder=embedder, render_mode="rgb_array", **SMALL
    )
    obs, _ = envs.reset(seed=0)
    sheets = envs.render()
    assert len(sheets) == 2 and sheets[0].shape == (2 * 32 + 2, 2 * 40 + 2, 3)
    np.testing.assert_array_equal(sheets[1][:32, :40], obs["frames"][1][0])

"""VisualActIncremental-v0: one proposal per step, rewards that telescope to the episode metric.

Real demo clips and the real embedding model (one instance per session, shared).
"""

from __future__ import annotations

import gymnasium as gym
import pytest
from gymnasium.utils.env_checker import check_env
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import visualact_env  # noqa: F401  (registers the environments)
from visualact_env.envs.incremental import VisualActIncrementalEnv
from visualact_env.envs.visualact import VisualActEnv
from visualact_env.records import Action

SMALL = {"num_frames": 3, "frame_size": (32, 48)}
VIDEO = "safety_fire_spreading"

# Texts the random episodes draw from: the video's own ground truth, paraphrases, near misses,
# other videos' actions and nonsense (a fixed pool, so the model embeds each text once).
POOL = [
    "Call the fire department immediately.",
    "Evacuate everyone from the building.",
    "Use a fire extinguisher on the flames if it is safe to do so.",
    "Pull the fire alarm to warn others.",
    "Phone the firefighters right away.",
    "Get all the people out of the house.",
    "Spray the extinguisher at the fire.",
    "Sound the alarm.",
    "Call the fire department immediately.",  # a duplicate: the second copy lowers precision
    "Turn down the heat under the pot.",
    "Mop up the spill.",
    "qzx vlorp wint",
    "",
]

STEP = st.fixed_dictionaries(
    {
        "stop": st.just(0),
        "text": st.sampled_from(POOL),
        "apl": st.integers(0, 4),
        "proactive": st.integers(0, 1),
    }
)


@pytest.fixture(scope="module")
def envs(demo, embedder):
    """One incremental environment per reward figure, and the one-shot environment."""
    made = {
        r: VisualActIncrementalEnv(
            dataset=demo, embedder=embedder, reward=r, max_actions=6, **SMALL
        )
        for r in ("weighted_f1", "f1", "scale_score")
    }
    return made, VisualActEnv(dataset=demo, embedder=embedder, **SMALL)


def run_episode(env, steps, stop=True):
    env.reset(options={"video_id": VIDEO})
    rewards, info, done = [], {}, False
    for step in steps:
        _, r, terminated, truncated, info = env.step(step)
        rewards.append(r)
        if terminated or truncated:
            done = True
            break
    if not done and stop:
        _, r, terminated, truncated, info = env.step(
            {"stop": 1, "text": "", "apl": 0, "proactive": 0}
        )
        assert terminated is True and truncated is False and r == 0.0
        rewards.append(r)
    return rewards, info


def test_check_env_passes():
    env = gym.make("VisualActIncremental-v0", **SMALL)
    check_env(env.unwrapped)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    steps=st.lists(STEP, min_size=0, max_size=8),
    reward=st.sampled_from(["weighted_f1", "f1", "scale_score"]),
)
def test_rewards_sum_to_the_final_metric(envs, steps, reward):
    incremental, one_shot = envs
    env = incremental[reward]
    rewards, info = run_episode(env, steps)
    final = info["metrics"][reward]
    assert sum(rewards) == pytest.approx(final, abs=1e-9)
    # ... and the final metric is what VisualAct-v0 gives for the same proposal list
    kept = steps[: env.max_actions]
    assert info["proposals"] == [
        Action(s["text"], s["apl"], bool(s["proactive"])).to_dict() for s in kept
    ]
    one_shot.reset(options={"video_id": VIDEO})
    _, _, _, _, one_info = one_shot.step(kept)
    assert one_info["metrics"] == info["metrics"]


@pytest.mark.parametrize("reward", ["weighted_f1", "f1", "scale_score"])
def test_ground_truth_rewards_sum_to_one_and_stopping_at_once_gives_zero(envs, demo, reward):
    env = envs[0][reward]
    checked = 0
    for record in demo.records:
        if len(record.actions) > env.max_actions:
            continue
        checked += 1
        steps = [{"stop": 0, **a.to_dict()} for a in record.actions]
        env.reset(options={"video_id": record.video_id})
        rewards = []
        for step in steps:
            _, r, terminated, truncated, info = env.step(step)
            rewards.append(r)
        if not (terminated or truncated):
            _, r, terminated, _, info = env.step({"stop": 1})
            rewards.append(r)
        assert terminated or truncated
        assert sum(rewards) == pytest.approx(1.0, abs=1e-9), record.video_id
        assert info["metrics"][reward] == pytest.approx(1.0, abs=1e-9)
        # an empty episode: stop at once
        env.reset(options={"video_id": record.video_id})
        _, r, terminated, truncated, info = env.step({"stop": 1})
        assert r == 0.0 and terminated is True and truncated is False
        assert info["metrics"] == dict.fromkeys(info["metrics"], 0.0)
    assert checked == len(demo.records)


def test_good_then_irrelevant_proposal(envs):
    env = envs[0]["f1"]
    call = {"stop": 0, "text": POOL[0], "apl": 4, "proactive": 0}
    noise = {"stop": 0, "text": "qzx vlorp wint", "apl": 0, "proactive": 0}
    rewards, info = run_episode(env, [call, noise])
    # one of four actions matched: F1 = 2 * 1 * 0.25 / 1.25 = 0.4; the nonsense halves precision
    assert rewards[0] == pytest.approx(0.4)
    assert rewards[1] == pytest.approx(2 * 0.5 * 0.25 / 0.75 - 0.4)
    assert rewards[1] < 0 and rewards[2] == 0.0


def test_truncates_at_max_actions_with_the_full_info(envs):
    env = envs[0]["weighted_f1"]
    env.reset(options={"video_id": VIDEO})
    step = {"stop": 0, "text": "Sound the alarm.", "apl": 3, "proactive": 1}
    for i in range(env.max_actions - 1):
        _, _, terminated, truncated, info = env.step(step)
        assert not terminated and not truncated
        assert info == {"video_id": VIDEO, "num_proposals": i + 1}
    _, _, terminated, truncated, info = env.step(step)
    assert terminated is False and truncated is True
    assert set(info) == {
        "video_id", "scenario", "proposals", "metrics", "counts", "assignment", "ground_truth"
    }  # fmt: skip
    assert len(info["proposals"]) == env.max_actions
    with pytest.raises(RuntimeError, match="after the episode ended"):
        env.step(step)


def test_final_info_keys_match_the_one_shot_env(envs):
    incremental, one_shot = envs
    _, info = run_episode(incremental["f1"], [])
    one_shot.reset(options={"video_id": VIDEO})
    assert set(info) == set(one_shot.step([])[4])
    assert all(v == 0.0 for v in info["metrics"].values())


def test_other_step_forms(envs, demo):
    env = envs[0]["weighted_f1"]
    gt = demo[VIDEO].actions
    env.reset(options={"video_id": VIDEO})
    env.step(gt[0])  # an Action
    env.step({"text": gt[1].text, "apl": gt[1].apl, "proactive": gt[1].proactive})  # no "stop"
    env.step(gt[2])
    _, r, terminated, _, info = env.step(gt[3])
    assert terminated is False
    _, r, terminated, _, info = env.step(None)  # None stops
    assert terminated is True and r == 0.0
    assert info["metrics"]["weighted_f1"] == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("action", "message"),
    [
        ({"stop": 2}, r"action\.stop: out of range"),
        ({"stop": 0, "text": 3}, r"action\.text: must be a string"),
        ({"stop": 0, "text": "a", "apl": 9}, r"action\.apl: out of range"),
        (["a"], "expected a dict"),
    ],
)
def test_bad_steps_are_named(action, message, envs):
    env = envs[0]["f1"]
    env.reset(seed=0)
    with pytest.raises(ValueError, match=message):
        env.step(action)


@pytest.mark.parametrize("bad", [0, -1, 2.5, True, 129, 10**6])
def test_max_actions_must_be_within_the_limit(bad, demo, embedder):
    with pytest.raises(ValueError, match="max_actions"):
        VisualActIncrementalEnv(dataset=demo, embedder=embedder, max_actions=bad, **SMALL)


def test_ansi_render_lists_proposals_so_far(demo, embedder):
    env = VisualActIncrementalEnv(dataset=demo, embedder=embedder, render_mode="ansi", **SMALL)
    env.reset(options={"video_id": VIDEO})
    env.step({"stop": 0, "text": "Sound the alarm.", "apl": 3, "proactive": 1})
    text = env.render()
    assert "awaiting proposals" in text and "[0] Sound the alarm." in text
    env.step({"stop": 1})
    assert "-> gt[3] 'Pull the fire alarm" in env.render()

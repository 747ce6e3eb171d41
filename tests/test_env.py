"""VisualAct-v0: spaces, episodes, rewards, info, rendering, errors, and the raw-text wrapper.

Everything runs on the real demo clips (decoded frames) and the real all-MiniLM-L6-v2 model,
loaded once per session and shared by every environment.
"""

from __future__ import annotations

import subprocess
import sys
import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import visualact_env  # noqa: F401  (registers the environments)
from visualact_env.envs.framestore import shared_store
from visualact_env.envs.render import contact_sheet
from visualact_env.envs.spaces import ACTION_CHARSET, coerce_proposals
from visualact_env.envs.visualact import VisualActEnv
from visualact_env.envs.wrappers import TextActionWrapper
from visualact_env.records import SCENARIOS, Action, Benchmark, VideoRecord

SMALL = {"num_frames": 4, "frame_size": (48, 64)}


@pytest.fixture
def env(demo, embedder):
    return VisualActEnv(dataset=demo, embedder=embedder, **SMALL)


def gt_dicts(record: VideoRecord) -> list[dict]:
    return [a.to_dict() for a in record.actions]


# -- import and registration ---------------------------------------------------------------------


def test_import_is_cheap_and_registers():
    code = (
        "import sys, gymnasium as gym, visualact_env, visualact_env.envs, "
        "visualact_env.envs.visualact, visualact_env.envs.incremental, visualact_env.envs.vector, "
        "visualact_env.envs.wrappers\n"
        "heavy = [m for m in ('torch', 'transformers', 'sentence_transformers', 'decord') "
        "if m in sys.modules]\n"
        "assert not heavy, heavy\n"
        "assert 'VisualAct-v0' in gym.registry and 'VisualActIncremental-v0' in gym.registry\n"
        "print('ok')"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_envs_package_exports():
    from visualact_env import envs

    assert envs.VisualActEnv is VisualActEnv
    assert envs.TextActionWrapper is TextActionWrapper
    assert {"VisualActIncrementalEnv", "VisualActVectorEnv"} <= set(envs.__all__)


@pytest.mark.parametrize("module", ["visualact", "incremental", "wrappers"])
def test_docstring_examples_run(module, embedder):
    import doctest
    import importlib

    mod = importlib.import_module(f"visualact_env.envs.{module}")
    result = doctest.testmod(mod, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


# -- Gymnasium's checker ------------------------------------------------------------------------


@pytest.mark.parametrize("expose_scenario", [False, True])
def test_check_env_passes(expose_scenario, embedder):
    env = gym.make("VisualAct-v0", expose_scenario=expose_scenario, **SMALL)
    assert env.unwrapped.scorer.embedder is embedder  # the process-wide default model
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(env.unwrapped)
    assert not [str(w.message) for w in caught if "gymnasium" in str(w.filename).lower()]


# -- observations and reset ------------------------------------------------------------------


def test_observation_is_real_frames_and_hides_the_ground_truth(env, demo):
    obs, info = env.reset(seed=0)
    assert set(obs) == {"frames"}
    assert obs["frames"].shape == (4, 48, 64, 3) and obs["frames"].dtype == np.uint8
    assert obs in env.observation_space
    assert info == {"video_id": demo.records[0].video_id}
    assert obs["frames"].std() > 5  # decoded picture content, not a blank array
    from visualact_env.frames import sample_frames

    expected = sample_frames(demo.records[0].path, env.sampler)
    np.testing.assert_array_equal(obs["frames"], expected)


def test_scenario_exposed_when_asked(demo, embedder):
    env = VisualActEnv(dataset=demo, embedder=embedder, expose_scenario=True, **SMALL)
    for _ in range(len(demo)):
        obs, info = env.reset()
        record = demo[info["video_id"]]
        assert SCENARIOS[int(obs["scenario"])] == record.scenario == info["scenario"]
        assert obs in env.observation_space


def test_returned_frames_are_fresh_copies(env):
    obs1, _ = env.reset(options={"video_id": "nav_red_light"})
    obs1["frames"][:] = 0
    obs2, _ = env.reset(options={"video_id": "nav_red_light"})
    assert obs2["frames"].std() > 5
    assert not np.shares_memory(obs1["frames"], obs2["frames"])
    obs3, *_ = env.step([])
    assert not np.shares_memory(obs2["frames"], obs3["frames"])


def test_sequential_order_walks_the_file_and_wraps(env, demo):
    seen = [env.reset()[1]["video_id"] for _ in range(len(demo) + 2)]
    assert seen == demo.video_ids + demo.video_ids[:2]
    assert env.reset(seed=5)[1]["video_id"] == demo.video_ids[0]  # a seed restarts the pass


def test_shuffle_is_seeded_and_covers_every_video_once_per_pass(demo, embedder):
    def order(seed: int, n: int) -> list[str]:
        env = VisualActEnv(dataset=demo, embedder=embedder, order="shuffle", **SMALL)
        ids = [env.reset(seed=seed)[1]["video_id"]]
        return ids + [env.reset()[1]["video_id"] for _ in range(n - 1)]

    a, b, c = order(3, 2 * len(demo)), order(3, 2 * len(demo)), order(4, 2 * len(demo))
    assert a == b
    assert a != c
    first, second = a[: len(demo)], a[len(demo) :]
    assert sorted(first) == sorted(second) == sorted(demo.video_ids)
    assert first != demo.video_ids


def test_reset_option_picks_the_video(env, demo):
    _, info = env.reset(options={"video_id": "home_pot_boiling_over"})
    assert (
        info["video_id"] == "home_pot_boiling_over" and env.record is demo["home_pot_boiling_over"]
    )
    with pytest.raises(ValueError, match="'nope' is not in dataset"):
        env.reset(options={"video_id": "nope"})
    with pytest.raises(ValueError, match=r"unknown key\(s\) \['vid'\]"):
        env.reset(options={"vid": "x"})


# -- rewards and info ---------------------------------------------------------------------------


@pytest.mark.parametrize("reward", ["weighted_f1", "f1", "scale_score"])
def test_ground_truth_scores_one_and_empty_scores_zero(reward, demo, embedder):
    env = VisualActEnv(dataset=demo, embedder=embedder, reward=reward, **SMALL)
    assert len(demo.records) > 1
    for record in demo.records:  # every video (frames and texts are cached: cheap)
        env.reset(options={"video_id": record.video_id})
        _, r, terminated, truncated, info = env.step(gt_dicts(record))
        assert r == pytest.approx(1.0, abs=1e-9) and isinstance(r, float)
        assert terminated is True and truncated is False
        assert info["metrics"][reward] == r
        assert info["metrics"] == pytest.approx(dict.fromkeys(info["metrics"], 1.0))
        assert info["counts"]["tp"] == len(record.actions)
        env.reset(options={"video_id": record.video_id})
        assert env.step([])[1] == 0.0
        env.reset(options={"video_id": record.video_id})
        assert env.step(None)[1] == 0.0


def test_action_objects_and_dicts_score_the_same(env, demo):
    record = demo["safety_fire_spreading"]
    mixed = [record.actions[0], {"text": record.actions[1].text, "apl": 0, "proactive": None}]
    env.reset(options={"video_id": record.video_id})
    r1 = env.step(mixed)[1]
    env.reset(options={"video_id": record.video_id})
    r2 = env.step(tuple(Action.from_dict(a) if isinstance(a, dict) else a for a in mixed))[1]
    assert r1 == r2
    assert 0.0 < r1 < 1.0  # the second proposal's APL is off by several levels


def test_info_after_step_holds_metric_assignment_and_ground_truth(env, demo):
    from visualact_env.metric import VIDEO_FIGURES

    record = demo["nav_pedestrian_crossing"]
    env.reset(options={"video_id": record.video_id})
    proposals = [
        {"text": "Stop the car and let the pedestrian cross the road.", "apl": 4, "proactive": 1},
        {"text": "Play loud music on the radio.", "apl": 0, "proactive": 0},
    ]
    _, reward, _, _, info = env.step(proposals)
    assert set(info) == {
        "video_id", "scenario", "proposals", "metrics", "counts", "assignment", "ground_truth"
    }  # fmt: skip
    assert info["video_id"] == record.video_id and info["scenario"] == record.scenario
    assert tuple(info["metrics"]) == VIDEO_FIGURES
    assert info["ground_truth"] == gt_dicts(record)
    assert info["proposals"][0] == {"text": proposals[0]["text"], "apl": 4, "proactive": True}
    assert len(info["assignment"]) == 2
    first = next(p for p in info["assignment"] if p["pred"] == 0)
    assert first["gt"] == 0 and first["matched"] and first["similarity"] > 0.5
    assert first["weight"] == 1.0
    second = next(p for p in info["assignment"] if p["pred"] == 1)
    assert not second["matched"] and second["weight"] == 0.0
    assert info["counts"]["tp"] == 1 and info["counts"]["m"] == 2
    assert info["counts"]["n"] == len(record.actions)
    # precision 1/2, recall 1/4 -> F1 1/3 (weight 1 on the match)
    assert reward == pytest.approx(1 / 3)
    assert not any(isinstance(v, np.generic) for v in info["metrics"].values())


def test_reward_equals_the_project_scorer(env, demo, embedder):
    """The environment's numbers are the ones ``visualact score`` computes."""
    from visualact_env.metric import Scorer

    scorer = Scorer(embedder, tau=0.5)
    proposals = [
        Action("Put out the fire with the extinguisher.", 4, False),
        Action("Turn off the stove.", 3, True),
        Action("Open a window", 1, True),
    ]
    for record in demo.records[::3]:
        env.reset(options={"video_id": record.video_id})
        _, reward, _, _, info = env.step(proposals)
        expected = scorer.score_video(proposals, record.actions)
        assert reward == expected.weighted_f1
        assert info["metrics"] == expected.figures()


def test_sampled_actions_score_without_error_and_gibberish_scores_about_zero(env):
    env.action_space.seed(7)
    rewards = []
    for i in range(6):  # sampled texts are long random strings: slow to embed
        env.reset(seed=i)
        action = env.action_space.sample()
        assert isinstance(action, tuple)
        _, r, terminated, _, info = env.step(action)
        assert terminated is True and 0.0 <= r <= 1.0
        assert len(info["proposals"]) == len(action)
        rewards.append(r)
    assert max(rewards) < 0.1


def test_step_is_deterministic(env):
    proposals = [{"text": "Call the fire brigade now.", "apl": 4, "proactive": 0}]
    results = []
    for _ in range(2):
        env.reset(seed=1, options={"video_id": "safety_fire_spreading"})
        results.append(env.step(proposals))
    assert results[0][1] == results[1][1]
    assert results[0][4] == results[1][4]


@pytest.mark.parametrize(
    ("tau", "matched"), [(0.3, True), (0.99, False)]
)  # a paraphrase matches at 0.3, not at 0.99
def test_tau_sets_the_match_threshold(tau, matched, demo, embedder):
    env = VisualActEnv(dataset=demo, embedder=embedder, tau=tau, **SMALL)
    env.reset(options={"video_id": "nav_pedestrian_crossing"})
    _, r, _, _, info = env.step([{"text": "Let the person on the crossing walk first.", "apl": 4}])
    assert bool(info["counts"]["tp"]) is matched
    assert (r > 0) is matched


def test_a_scorer_argument_lends_its_embedder_and_tau(demo, embedder):
    from visualact_env.metric import Scorer

    env = VisualActEnv(dataset=demo, embedder=Scorer(embedder, tau=0.9), **SMALL)
    assert env.scorer.embedder is embedder and env.scorer.tau == 0.9
    env = VisualActEnv(dataset=demo, embedder=Scorer(embedder, tau=0.9), tau=0.4, **SMALL)
    assert env.scorer.tau == 0.4


# -- dataset and argument handling -------------------------------------------------------------


def test_dataset_by_spec_path_and_scenario_filter(embedder):
    from visualact_env.datasets import resolve_annotations

    path = resolve_annotations("demo")
    env = VisualActEnv(dataset=str(path), scenarios="home_service", embedder=embedder, **SMALL)
    ids = [env.reset()[1]["video_id"] for _ in range(len(env.benchmark))]
    assert len(ids) == 4 and all(env.benchmark[v].scenario == "home_service" for v in ids)
    env = VisualActEnv(
        dataset="demo",
        video_ids=["nav_red_light", "hmi_wave_at_screen"],
        embedder=embedder,
        **SMALL,
    )
    assert env.benchmark.video_ids == ["nav_red_light", "hmi_wave_at_screen"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"reward": "accuracy"}, "reward: unknown figure 'accuracy'"),
        ({"order": "random"}, "order: unknown 'random'"),
        ({"render_mode": "human"}, "render_mode: unknown 'human'"),
        ({"scenarios": ["kitchen"]}, r"scenarios: unknown \['kitchen'\]"),
        ({"video_ids": ["nope"]}, "video_ids: not in benchmark"),
        ({"frame_size": (0, 10)}, "frame_size: must be positive"),
        ({"frame_size": 64}, "frame_size: expected"),
        ({"num_frames": 0}, "num_frames"),
        ({"tau": 2.0}, "tau: must be within"),
    ],
)
def test_bad_arguments_are_named(kwargs, message, demo, embedder):
    args = {"dataset": demo, "embedder": embedder, **SMALL, **kwargs}
    with pytest.raises(ValueError, match=message):
        VisualActEnv(**args)


def test_bad_dataset_and_embedder_types(demo):
    with pytest.raises(TypeError, match="dataset"):
        VisualActEnv(dataset=42, **SMALL)
    with pytest.raises(TypeError, match="embedder"):
        VisualActEnv(dataset=demo, embedder=3.5, **SMALL)


@pytest.mark.parametrize(
    ("action", "message"),
    [
        ([{"text": "ok", "apl": 4}, {"text": "x", "apl": 7}], r"action\[1\]\.apl: out of range: 7"),
        ([{"text": "ok", "apl": True}], r"action\[0\]\.apl: must be an integer"),
        ([{"text": 5}], r"action\[0\]\.text: must be a string"),
        ([{"apl": 1}], r"action\[0\]\.text: missing"),
        ([{"text": "a", "proactive": 3}], r"action\[0\]\.proactive: out of range"),
        ([["call 911"]], r"action\[0\]: a proposal must be a dict"),
        ({"text": "call 911"}, "got a single dict; wrap it in a list"),
        ("call 911", "raw text: use TextActionWrapper"),
        (12, "expected a list of proposals, got int"),
    ],
)
def test_malformed_actions_raise_naming_index_and_field(action, message, env):
    env.reset(seed=0)
    with pytest.raises(ValueError, match=message):
        env.step(action)


def test_step_order_is_enforced(env):
    with pytest.raises(RuntimeError, match="before reset"):
        env.step([])
    env.reset(seed=0)
    env.step([])
    with pytest.raises(RuntimeError, match="after the episode ended"):
        env.step([])


def test_numpy_values_are_accepted():
    actions = coerce_proposals(
        np.array([{"text": "Stop.", "apl": np.int64(3), "proactive": np.bool_(True)}], dtype=object)
    )
    assert actions == (Action("Stop.", 3, True),)


def test_charset_holds_real_sentences():
    from visualact_env.envs.spaces import text_space

    space = text_space()
    for sentence in [
        "Call 911 now!",
        "Don't touch the stove (it's hot).",
        "Café: “wipe” the floor — now…",
        "",
    ]:
        assert sentence in space
    assert " " in ACTION_CHARSET


def test_unreadable_clip_fails_at_reset_naming_the_file(tmp_path, embedder):
    from visualact_env.frames import FrameError

    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"this is not a video")
    record = VideoRecord(
        "broken", "broken.mp4", "home_service", (Action("Wipe the table.", 1, True),), root=tmp_path
    )
    env = VisualActEnv(dataset=Benchmark((record,), name="broken"), embedder=embedder, **SMALL)
    with pytest.raises(FrameError, match="broken.mp4"):
        env.reset(seed=0)


def test_frames_are_kept_in_the_process_lru(demo, embedder):
    store = shared_store()
    env = VisualActEnv(dataset=demo, embedder=embedder, num_frames=3, frame_size=(40, 40))
    env.reset(options={"video_id": "hmi_wave_at_screen"})
    hits = store.hits
    env.reset(options={"video_id": "hmi_wave_at_screen"})
    assert store.hits == hits + 1
    off = VisualActEnv(dataset=demo, embedder=embedder, frame_cache_mb=0, **SMALL)
    hits = store.hits
    off.reset(options={"video_id": "hmi_wave_at_screen"})
    off.reset(options={"video_id": "hmi_wave_at_screen"})
    assert store.hits == hits


# -- rendering ---------------------------------------------------------------------------------


def test_rgb_array_render_is_a_contact_sheet(demo, embedder):
    env = VisualActEnv(dataset=demo, embedder=embedder, render_mode="rgb_array", **SMALL)
    obs, _ = env.reset(seed=0)
    sheet = env.render()
    assert sheet.dtype == np.uint8 and sheet.shape == (2 * 48 + 2, 2 * 64 + 2, 3)
    np.testing.assert_array_equal(sheet[:48, :64], obs["frames"][0])
    np.testing.assert_array_equal(sheet[50:, 66:], obs["frames"][3])


def test_contact_sheet_layout_and_errors():
    frames = np.arange(5 * 2 * 3 * 3, dtype=np.uint8).reshape(5, 2, 3, 3)
    sheet = contact_sheet(frames, columns=5, gap=1)
    assert sheet.shape == (2, 5 * 3 + 4, 3)
    np.testing.assert_array_equal(sheet[:, 4:7], frames[1])
    with pytest.raises(ValueError, match="expected shape"):
        contact_sheet(np.zeros((2, 2, 3)))


def test_ansi_render_shows_video_then_matches(demo, embedder):
    env = VisualActEnv(dataset=demo, embedder=embedder, render_mode="ansi", **SMALL)
    env.reset(options={"video_id": "nav_pedestrian_crossing"})
    before = env.render()
    assert "nav_pedestrian_crossing" in before and "Brake" not in before
    assert "dynamic_navigation" not in before  # the scenario is not exposed
    env.step([{"text": "Stop and let the pedestrian cross.", "apl": 4, "proactive": 1}])
    after = env.render()
    assert "Stop and let the pedestrian cross." in after
    assert "-> gt[0] 'Brake and stop before the crosswalk" in after
    assert "missed gt[3]" in after and "weighted_f1" in after


# -- raw text wrapper --------------------------------------------------------------------------


def test_text_wrapper_parses_model_text(demo, embedder):
    env = TextActionWrapper(VisualActEnv(dataset=demo, embedder=embedder, **SMALL))
    assert "a b\nc" in env.action_space
    record = demo["home_pot_boiling_over"]
    lines = "\n".join(f"{i + 1}. {a.text} (APL {a.apl})" for i, a in enumerate(record.actions))
    env.reset(options={"video_id": record.video_id})
    _, reward, terminated, _, info = env.step("Here is what I would do:\n" + lines)
    assert info["parse"]["error"] is None and info["parse"]["format"] == "list"
    assert len(info["proposals"]) == len(record.actions)
    assert info["metrics"]["f1"] == 1.0 and terminated is True


def test_text_wrapper_turns_unparseable_text_into_a_recorded_failure(demo, embedder):
    env = TextActionWrapper(VisualActEnv(dataset=demo, embedder=embedder, **SMALL))
    env.reset(seed=0)
    _, reward, terminated, _, info = env.step("I am sorry, I cannot see the video.")
    assert reward == 0.0 and terminated is True
    assert info["parse"]["format"] == "unparsed" and "no actions found" in info["parse"]["error"]
    assert info["proposals"] == [] and info["ground_truth"]
    env.reset(seed=0)
    _, reward, _, _, info = env.step(b"")
    assert reward == 0.0 and info["parse"]["format"] == "empty"
    env.reset(seed=0)
    with pytest.raises(TypeError, match="expected the model's text"):
        env.step(["not", "text"])


# -- one config for the three environments ---------------------------------------------------------


def test_a_config_and_keyword_arguments_build_the_same_environment(demo, embedder):
    from visualact_env.envs import EnvConfig

    config = EnvConfig(dataset=demo, embedder=embedder, expose_scenario=True, **SMALL)
    by_config = VisualActEnv(config)
    by_kwargs = VisualActEnv(dataset=demo, embedder=embedder, expose_scenario=True, **SMALL)
    assert by_config.config == by_kwargs.config == config
    assert by_config.observation_space == by_kwargs.observation_space
    obs_a, _ = by_config.reset(seed=3)
    obs_b, _ = by_kwargs.reset(seed=3)
    assert (
        np.array_equal(obs_a["frames"], obs_b["frames"]) and obs_a["scenario"] == obs_b["scenario"]
    )
    # keyword arguments override the config's fields
    assert VisualActEnv(config, num_frames=2).observation_space["frames"].shape[0] == 2


def test_gym_make_passes_a_config_or_its_fields(demo, embedder):
    from visualact_env.envs import EnvConfig

    made = gym.make("VisualAct-v0", config=EnvConfig(dataset=demo, embedder=embedder, **SMALL))
    assert made.unwrapped.config.num_frames == SMALL["num_frames"]
    made = gym.make("VisualActIncremental-v0", dataset=demo, embedder=embedder, **SMALL)
    assert made.unwrapped.config.frame_size == SMALL["frame_size"]


def test_an_unknown_argument_is_named(demo):
    with pytest.raises(TypeError, match=r"VisualActEnv: unknown argument\(s\) \['num_frame'\]"):
        VisualActEnv(dataset=demo, num_frame=4)
    with pytest.raises(TypeError, match="config: expected an EnvConfig"):
        VisualActEnv("demo")


def test_the_three_environments_declare_no_argument_of_their_own_but_their_extras():
    """The single, incremental and vector environments share EnvConfig: no repeated parameters."""
    import dataclasses
    import inspect

    from visualact_env.envs import EnvConfig, VisualActIncrementalEnv, VisualActVectorEnv

    shared = {f.name for f in dataclasses.fields(EnvConfig)}
    extras = {
        VisualActEnv: set(),
        VisualActIncrementalEnv: {"max_actions"},
        VisualActVectorEnv: {"num_envs", "autoreset_mode"},
    }
    for cls, own in extras.items():
        params = set(inspect.signature(cls.__init__).parameters) - {"self", "config", "kwargs"}
        assert params == own, cls.__name__
        assert not params & shared

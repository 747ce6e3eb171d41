"""The fine-tuning loop on CPU with the tiny model: rollouts -> pairs -> MPO -> hf: agent, and the
GRPO reward's parity with ``env.step``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import gymnasium as gym
import pytest

import visualact_env  # noqa: F401 - registers the environments
from visualact_env.cli import main as cli_main
from visualact_env.records import Action
from visualact_env.rundir import select_videos
from visualact_env.testing.tiny_vlm import tiny_vlm_path
from visualact_env.training.preferences import (
    REFERENCE_SAMPLE,
    Candidate,
    pick_pair,
    reference_completion,
)
from visualact_env.training.rollouts import RolloutConfig, generate_rollouts, load_rollouts

pytest.importorskip("trl")

NUM_VIDEOS = 2
SAMPLES = 2
FRAME = (64, 64)


@pytest.fixture(scope="session")
def tiny_model() -> Path:
    return tiny_vlm_path()


@pytest.fixture(scope="module")
def rollout_config(tiny_model, tmp_path_factory) -> RolloutConfig:
    return RolloutConfig(
        agent=f"hf:{tiny_model}",
        out=tmp_path_factory.mktemp("rollouts") / "run",
        samples=SAMPLES,
        temperature=1.0,
        max_tokens=24,
        limit=NUM_VIDEOS,
        frame_size=FRAME,
        batch_size=2,
    )


@pytest.fixture(scope="module")
def rollouts(rollout_config) -> Path:
    return generate_rollouts(rollout_config, log=lambda msg: None)


@pytest.fixture(scope="module")
def env():
    env = gym.make("VisualAct-v0", frame_size=FRAME)
    yield env
    env.close()


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


# -- rollouts -------------------------------------------------------------------------------------


def test_rollouts_have_one_record_per_video_and_sample(rollouts, demo):
    rows = _rows(rollouts / "predictions.jsonl")
    keys = [(r["video_id"], r["sample"]) for r in rows]
    chosen = {r.video_id for r in select_videos(demo, limit=NUM_VIDEOS)}  # stratified --limit
    expected = [(v, k) for v in demo.video_ids if v in chosen for k in range(SAMPLES)]
    assert keys == expected
    assert all(isinstance(r["raw_text"], str) and r["raw_text"] for r in rows)
    texts = {r["raw_text"] for r in rows}
    assert len(texts) == len(rows), "sampling at temperature 1 gives distinct completions"
    config = json.loads((rollouts / "config.json").read_text())
    assert config["samples"] == SAMPLES and config["agent"]["generation"]["do_sample"] is True


def test_rollout_rewards_are_the_environments(rollouts, env):
    rollouts_list, _, benchmark = load_rollouts(rollouts)
    meta = json.loads((rollouts / "rewards.json").read_text())
    assert meta["reward"] == "weighted_f1" and meta["tau"] == 0.5
    assert len(rollouts_list) == NUM_VIDEOS * SAMPLES
    for r in rollouts_list:
        env.reset(options={"video_id": r.video_id})
        _, reward, *_ = env.step([] if r.failed else list(r.actions))
        assert r.reward == reward
        assert 0.0 <= r.reward <= 1.0
        assert r.scenario == benchmark[r.video_id].scenario


def test_rollouts_resume_reproduces_every_sample(rollouts, rollout_config):
    """Resuming a finished rollout changes nothing: every sample is already recorded."""
    from dataclasses import replace

    def stable(rows):
        return [{k: v for k, v in r.items() if k != "latency_s"} for r in rows]

    before = stable(_rows(rollouts / "predictions.jsonl"))
    generate_rollouts(replace(rollout_config, resume=True), log=lambda msg: None)
    assert stable(_rows(rollouts / "predictions.jsonl")) == before


def test_rollouts_refuse_greedy_multi_sampling(rollout_config):
    from dataclasses import replace

    with pytest.raises(ValueError, match="temperature > 0"):
        generate_rollouts(replace(rollout_config, temperature=0.0, overwrite=True))


# -- the pairing rule -----------------------------------------------------------------------------


def _c(sample: int, reward: float, text: str | None = None) -> Candidate:
    return Candidate("v", sample, text or f"text {sample}", reward)


def test_pair_rule_highest_over_lowest_with_deterministic_ties():
    chosen, rejected = pick_pair([_c(0, 0.2), _c(1, 0.9), _c(2, 0.9), _c(3, 0.1), _c(4, 0.1)])
    assert (chosen.sample, rejected.sample) == (1, 4)
    assert pick_pair([_c(0, 0.5), _c(1, 0.4)], margin=0.2) is None
    assert pick_pair([_c(0, 0.5), _c(1, 0.3)], margin=0.2) is not None
    assert pick_pair([_c(0, 0.0), _c(1, 0.0)], margin=0.0) == (_c(0, 0.0), _c(1, 0.0))
    assert pick_pair([_c(0, 0.9, "same"), _c(1, 0.1, "same")]) is None
    assert pick_pair([_c(0, 0.9)]) is None
    with pytest.raises(ValueError, match="margin"):
        pick_pair([_c(0, 1.0), _c(1, 0.0)], margin=-0.1)


def test_reference_completion_parses_back_to_the_ground_truth(demo):
    from visualact_env.parsing import parse_actions
    from visualact_env.prompts import LIST_PROMPT

    record = demo.records[0]
    for prompt in (None, LIST_PROMPT):
        parsed = parse_actions(reference_completion(record, prompt))
        assert parsed.error is None
        assert parsed.actions == record.actions


# -- pairs -> MPO -> agent ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pairs(rollouts, tmp_path_factory) -> Path:
    from visualact_env.training.preferences import build_preference_dataset

    return build_preference_dataset(
        rollouts, tmp_path_factory.mktemp("pairs") / "ds", margin=0.5, reference=True
    )


def test_pairs_without_signal_are_refused_with_advice(rollouts, tmp_path):
    from visualact_env.training.preferences import build_preference_dataset

    rewards = [r.reward for r in load_rollouts(rollouts)[0]]
    # a margin above the widest reward spread: no pair can clear it, whatever was sampled
    margin = max(0.99, max(rewards) - min(rewards) + 0.01)
    with pytest.raises(ValueError, match="--reference") as err:
        build_preference_dataset(rollouts, tmp_path / "none", margin=margin)
    assert f"margin {margin}" in str(err.value)
    assert not (tmp_path / "none").exists()


def test_pairs_are_a_trl_vision_preference_dataset(pairs, rollouts):
    import datasets

    ds = datasets.load_from_disk(str(pairs))
    assert len(ds) == NUM_VIDEOS
    for required in (
        "prompt",
        "chosen",
        "rejected",
        "images",
        "video_id",
        "scenario",
        "chosen_reward",
        "rejected_reward",
    ):
        assert required in ds.column_names
    row = ds[0]
    user = row["prompt"][-1]
    assert user["role"] == "user"
    placeholders = [c for c in user["content"] if c["type"] == "image"]
    assert len(placeholders) == len(row["images"]) == 8
    assert row["images"][0].size == (FRAME[1], FRAME[0])
    assert row["chosen"][0]["role"] == "assistant" and row["rejected"][0]["role"] == "assistant"
    assert row["chosen_sample"] == REFERENCE_SAMPLE and row["chosen_reward"] == 1.0
    assert row["chosen_reward"] - row["rejected_reward"] >= 0.5
    raw = {(r.video_id, r.sample): r.raw_text for r in load_rollouts(rollouts)[0]}
    assert (
        row["rejected"][0]["content"][0]["text"] == raw[(row["video_id"], row["rejected_sample"])]
    )
    settings = json.loads((pairs / "pairs.json").read_text())
    assert (
        settings["margin"] == 0.5
        and settings["reference"] is True
        and settings["num_pairs"] == NUM_VIDEOS
    )


@pytest.fixture(scope="module")
def mpo_checkpoint(tiny_model, pairs, tmp_path_factory) -> Path:
    from visualact_env.training.mpo import MPOConfig, train_mpo

    out = tmp_path_factory.mktemp("mpo") / "ckpt"
    return train_mpo(
        MPOConfig(
            model=str(tiny_model),
            pairs=str(pairs),
            out=str(out),
            max_steps=2,
            learning_rate=5e-3,
            lora=True,
            device="cpu",
        )
    )


def test_mpo_trains_two_steps_with_the_mpo_losses(mpo_checkpoint):
    record = json.loads((mpo_checkpoint / "visualact_mpo.json").read_text())
    assert record["global_step"] == 2
    assert record["config"]["loss_type"] == ["sigmoid", "bco_pair", "sft"]
    assert record["config"]["loss_weights"] == [0.8, 0.2, 1.0]
    losses = [h["loss"] for h in record["log_history"] if "loss" in h]
    assert len(losses) == 2 and all(loss == loss and loss > 0 for loss in losses)
    assert record["pairs"]["reference"] is True


def test_mpo_checkpoint_is_merged_and_changed(mpo_checkpoint, tiny_model):
    from safetensors.torch import load_file

    base = load_file(str(tiny_model / "model.safetensors"))
    tuned = load_file(str(mpo_checkpoint / "model.safetensors"))
    assert not any("lora" in k for k in tuned), "the adapter is merged before saving"
    assert set(base) == set(tuned)
    changed = [k for k in base if not (base[k] == tuned[k]).all()]
    assert changed and all(
        "q_proj" in k or "k_proj" in k or "v_proj" in k or "o_proj" in k for k in changed
    )


def test_mpo_checkpoint_acts_as_an_hf_agent(mpo_checkpoint, tiny_model, env):
    from visualact_env.registry import make_agent

    agent = make_agent(f"hf:{mpo_checkpoint}", max_new_tokens=16)
    base = make_agent(f"hf:{tiny_model}", max_new_tokens=16)
    assert agent.config()["weights_fingerprint"] != base.config()["weights_fingerprint"]
    obs, info = env.reset(seed=0)
    out = agent.act(obs, info)
    assert out.raw_text is not None and out.diagnostics
    _, reward, terminated, _, _ = env.step(list(out.actions))
    assert terminated and isinstance(reward, float) and 0.0 <= reward <= 1.0


def test_cli_full_fine_tune_and_help(tiny_model, pairs, tmp_path, capsys):
    out = tmp_path / "full"
    code = cli_main(
        [
            "train",
            "mpo",
            "--model",
            str(tiny_model),
            "--pairs",
            str(pairs),
            "--out",
            str(out),
            "--max-steps",
            "1",
            "--device",
            "cpu",
        ]
    )
    assert code == 0, capsys.readouterr().err
    assert f"hf:{out}" in capsys.readouterr().out
    record = json.loads((out / "visualact_mpo.json").read_text())
    assert record["global_step"] == 1 and record["config"]["lora"] is False
    with pytest.raises(SystemExit):
        cli_main(["train", "mpo", "--help"])
    assert "--loss-weights" in capsys.readouterr().out


def test_cli_mpo_with_a_missing_model_is_a_clear_error(pairs, tmp_path, capsys):
    out = tmp_path / "never"
    code = cli_main(
        ["train", "mpo", "--model", str(tmp_path / "no-such-model"), "--pairs", str(pairs),
         "--out", str(out), "--max-steps", "1"]
    )  # fmt: skip
    assert code == 2
    assert "no-such-model" in capsys.readouterr().err
    assert not out.exists()


def test_cli_rollouts_and_pairs(tiny_model, tmp_path, capsys):
    run = tmp_path / "rollouts"
    code = cli_main(
        [
            "train",
            "rollouts",
            "--agent",
            f"hf:{tiny_model}",
            "--samples",
            "2",
            "--limit",
            "1",
            "--max-tokens",
            "8",
            "--frame-size",
            "64x64",
            "--out",
            str(run),
            "--no-progress",
        ]
    )
    assert code == 0, capsys.readouterr().err
    assert "2 rollouts" in capsys.readouterr().out
    code = cli_main(
        [
            "train",
            "pairs",
            "--rollouts",
            str(run),
            "--margin",
            "0.5",
            "--reference",
            "--out",
            str(tmp_path / "pairs"),
        ]
    )
    assert code == 0 and "1 preference pairs" in capsys.readouterr().out
    code = cli_main(
        ["train", "pairs", "--rollouts", str(tmp_path / "nowhere"), "--out", str(tmp_path / "p2")]
    )
    assert code == 2 and "config.json is missing" in capsys.readouterr().err


def test_missing_train_extra_names_the_install_command(monkeypatch, tmp_path, capsys):
    import importlib.util

    from visualact_env.training import MissingTrainExtra, require_train_extra

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "trl" else real(name, *a)
    )
    with pytest.raises(MissingTrainExtra, match=r"pip install 'visualact\[train\]'"):
        require_train_extra("trl", "datasets")
    code = cli_main(["train", "mpo", "--model", "m", "--pairs", "p", "--out", str(tmp_path / "o")])
    assert code == 2 and "pip install 'visualact[train]'" in capsys.readouterr().err


# -- GRPO -----------------------------------------------------------------------------------------


def _paraphrase(text: str) -> str:
    words = text.rstrip(".").split()
    return "Please " + " ".join([words[0].lower(), *words[1:]]) + " right away"


def _proposal_lists(record) -> dict[str, list[Action]]:
    gt = list(record.actions)
    return {
        "oracle": gt,
        "empty": [],
        "partial": gt[: max(1, len(gt) // 2)],
        "paraphrased": [Action(_paraphrase(a.text), a.apl, a.proactive) for a in gt],
        "wrong_apl": [Action(a.text, (a.apl + 2) % 5, not a.proactive) for a in gt],
        "unrelated": [Action("Water the plants in the garden", 0, True)],
    }


def _as_json(actions: list[Action]) -> str:
    return json.dumps(
        {"actions": [{"action": a.text, "apl": a.apl, "proactive": a.proactive} for a in actions]}
    )


def test_grpo_reward_equals_env_step_on_every_demo_video(demo, env):
    from visualact_env.training.grpo import VisualActReward, ground_truth_json

    reward_fn = VisualActReward()
    seen_values = set()
    for record in demo:
        lists = _proposal_lists(record)
        completions = [_as_json(actions) for actions in lists.values()]
        n = len(completions)
        kwargs = {
            "ground_truth": [ground_truth_json(record)] * n,
            "video_id": [record.video_id] * n,
            "scenario": [record.scenario] * n,
        }
        as_text = reward_fn(
            prompts=[None] * n, completions=completions, completion_ids=[None] * n, **kwargs
        )
        as_chat = reward_fn(
            [None] * n, [[{"role": "assistant", "content": c}] for c in completions], None, **kwargs
        )
        assert as_text == as_chat
        for name, actions, value in zip(lists, lists.values(), as_text, strict=True):
            env.reset(options={"video_id": record.video_id})
            _, expected, *_ = env.step(actions)
            assert value == expected, (record.video_id, name)
            seen_values.add(round(value, 6))
        assert as_text[0] == 1.0 and as_text[1] == 0.0
    assert len(seen_values) > 3, "the proposal lists exercise more than the trivial rewards"


def test_grpo_reward_scores_gibberish_as_empty_and_needs_the_column():
    from visualact_env.training.grpo import VisualActReward

    reward_fn = VisualActReward()
    gt = json.dumps([{"text": "Call emergency services", "apl": 4, "proactive": False}])
    assert reward_fn(None, ["�ju�K asdf", ""], None, ground_truth=[gt, gt]) == [0.0, 0.0]
    with pytest.raises(KeyError, match="remove_unused_columns"):
        reward_fn(None, ["x"], None)


def test_grpo_example_trains_on_the_demo(tmp_path, monkeypatch, capsys):
    import runpy

    example = Path(__file__).resolve().parents[1] / "examples" / "grpo_train.py"
    out = tmp_path / "grpo"
    monkeypatch.setattr(
        sys,
        "argv",
        [
            str(example),
            "--steps",
            "1",
            "--limit",
            "2",
            "--max-completion-length",
            "8",
            "--out",
            str(out),
        ],
    )
    with pytest.raises(SystemExit) as exc:
        runpy.run_path(str(example), run_name="__main__")
    assert exc.value.code == 0
    assert "logged rewards" in capsys.readouterr().out
    assert (out / "model.safetensors").is_file() and (out / "processor_config.json").is_file()


def test_grpo_dataset_rows(demo):
    from visualact_env.frames import SamplerConfig
    from visualact_env.training.grpo import build_grpo_dataset

    ds = build_grpo_dataset(
        demo.subset(video_ids=demo.video_ids[:2]), SamplerConfig(num_frames=3, size=(32, 32))
    )
    assert ds.column_names == ["prompt", "images", "ground_truth", "video_id", "scenario"]
    row = ds[0]
    assert (
        len(row["images"]) == 3
        and sum(c["type"] == "image" for c in row["prompt"][-1]["content"]) == 3
    )
    assert [a["text"] for a in json.loads(row["ground_truth"])] == [
        a.text for a in demo.records[0].actions
    ]

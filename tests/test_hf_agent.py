"""The local transformers agent on the tiny offline Qwen2-VL model, end to end in the environment."""

from __future__ import annotations

import json

import gymnasium as gym
import numpy as np
import pytest

import visualact_env  # noqa: F401 - registers the environments
from visualact_env.prompts import DEFAULT_PROMPT, LIST_PROMPT
from visualact_env.registry import make_agent
from visualact_env.testing.tiny_vlm import MARKER, build_tiny_vlm, is_built, tiny_vlm_path

MAX_NEW = 16


@pytest.fixture(scope="session")
def tiny_model():
    return tiny_vlm_path()


@pytest.fixture(scope="session")
def greedy_agent(tiny_model):
    agent = make_agent(f"hf:{tiny_model}", max_new_tokens=MAX_NEW, device="cpu")
    yield agent
    agent.close()


@pytest.fixture(scope="module")
def env():
    env = gym.make("VisualAct-v0", frame_size=(64, 64))
    yield env
    env.close()


def _frames(seed: int, n: int = 8, h: int = 64, w: int = 64) -> dict:
    rng = np.random.default_rng(seed)
    return {"frames": rng.integers(0, 256, (n, h, w, 3), dtype=np.uint8)}


# -- the tiny model -------------------------------------------------------------------------------


def test_tiny_model_is_a_saved_qwen2_vl_folder(tiny_model):
    config = json.loads((tiny_model / "config.json").read_text())
    assert config["model_type"] == "qwen2_vl"
    assert config["text_config"]["num_hidden_layers"] == 2
    assert config["text_config"]["hidden_size"] == 32
    for name in (
        "model.safetensors",
        "tokenizer.json",
        "processor_config.json",
        "chat_template.jinja",
    ):
        assert (tiny_model / name).is_file(), name
    info = json.loads((tiny_model / MARKER).read_text())
    assert 50_000 < info["parameters"] < 200_000
    assert is_built(tiny_model, seed=0) and not is_built(tiny_model, seed=1)


def test_tiny_model_is_built_once_and_refuses_foreign_folders(tiny_model, tmp_path):
    stamp = (tiny_model / "model.safetensors").stat().st_mtime_ns
    assert tiny_vlm_path() == tiny_model
    assert (tiny_model / "model.safetensors").stat().st_mtime_ns == stamp
    foreign = tmp_path / "occupied"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("not a model")
    with pytest.raises(FileExistsError, match="occupied"):
        build_tiny_vlm(foreign)


def test_processor_loads_without_torchvision_and_renders_one_placeholder_per_frame(tiny_model):
    from visualact_env.vlm import build_messages, load_processor

    processor = load_processor(str(tiny_model))
    assert type(processor).__name__ == "Qwen2VLProcessor"
    assert type(processor.image_processor).__name__ == "Qwen2VLImageProcessorPil"
    text = processor.apply_chat_template(
        build_messages(DEFAULT_PROMPT, 3), add_generation_prompt=True, tokenize=False
    )
    assert text.count("<|image_pad|>") == 3
    assert DEFAULT_PROMPT.system in text and DEFAULT_PROMPT.user in text
    assert text.endswith("<|im_start|>assistant\n")


# -- the agent ------------------------------------------------------------------------------------


def test_registry_builds_the_agent_with_a_full_config(greedy_agent, tiny_model):
    from visualact_agents.hf_agent import HFAgent

    assert isinstance(greedy_agent, HFAgent)
    config = greedy_agent.config()
    assert config["spec"] == f"hf:{tiny_model}"
    assert config["model"] == str(tiny_model)
    assert len(config["weights_fingerprint"]) == 16
    assert config["generation"] == {
        "temperature": 0.0,
        "top_p": 1.0,
        "max_new_tokens": MAX_NEW,
        "seed": 0,
        "do_sample": False,
    }
    assert config["prompt_version"] == DEFAULT_PROMPT.version
    assert config["prompt"]["fingerprint"] == DEFAULT_PROMPT.fingerprint
    assert config["deterministic"] is True and greedy_agent.deterministic
    json.dumps(config)  # recorded in run folders


def test_runner_options_are_accepted(tiny_model):
    agent = make_agent(
        f"hf:{tiny_model}",
        temperature=0.7,
        max_tokens=5,
        seed=3,
        concurrency=8,
        prompt="visualact-list",
    )
    config = agent.config()
    assert config["generation"]["max_new_tokens"] == 5 and config["generation"]["seed"] == 3
    assert config["prompt"]["name"] == LIST_PROMPT.name
    assert agent.deterministic is False
    with pytest.raises(TypeError, match="unknown option"):
        make_agent(f"hf:{tiny_model}", beam_width=4)
    with pytest.raises(ValueError, match="hf:PATH"):
        make_agent("hf")
    with pytest.raises(ValueError, match="temperature"):
        make_agent(f"hf:{tiny_model}", temperature=-1)


def test_a_missing_model_folder_or_unknown_hub_id_is_a_clear_value_error(tmp_path, monkeypatch):
    with pytest.raises(ValueError, match="model folder not found"):
        make_agent(f"hf:{tmp_path / 'no-such-model'}")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match="not a model folder here"):
        make_agent("hf:runs/no-such-checkpoint")


def test_an_episode_in_the_environment(greedy_agent, env):
    obs, info = env.reset(seed=0)
    out = greedy_agent.act(obs, info)
    assert isinstance(out.raw_text, str) and out.raw_text
    assert out.usage["completion_tokens"] <= MAX_NEW and out.usage["prompt_tokens"] > 8 * 4
    assert out.diagnostics and out.diagnostics[0].startswith("format: ")
    assert out.error is None
    if out.parse_error:  # a random model's text is usually unreadable: recorded as such
        assert out.actions == ()
    _, reward, terminated, truncated, step_info = env.step(list(out.actions))
    assert isinstance(reward, float) and 0.0 <= reward <= 1.0
    assert terminated and not truncated
    assert step_info["video_id"] == info["video_id"]


def test_greedy_decoding_is_deterministic_and_depends_on_the_frames(greedy_agent):
    a = greedy_agent.act(_frames(0), {"video_id": "a"})
    again = greedy_agent.act(_frames(0), {"video_id": "a", "sample": 5, "seed": 99})
    other = greedy_agent.act(_frames(1), {"video_id": "b"})
    assert a.raw_text == again.raw_text
    assert a.raw_text != other.raw_text


def test_batches_are_left_padded_and_match_single_calls(greedy_agent):
    observations = [_frames(0), _frames(1, n=3), _frames(2, h=48, w=80)]
    infos = [{"video_id": v} for v in "abc"]
    singles = [greedy_agent.act(o, i) for o, i in zip(observations, infos, strict=True)]
    batch = greedy_agent.act_batch(observations, infos)
    assert [b.raw_text for b in batch] == [s.raw_text for s in singles]
    assert [b.usage for b in batch] == [s.usage for s in singles]
    assert greedy_agent.processor.tokenizer.padding_side == "left"


def test_sampling_is_seeded_by_the_runners_sample_seed(tiny_model):
    agent = make_agent(f"hf:{tiny_model}", temperature=1.0, max_new_tokens=MAX_NEW)
    obs = _frames(0)
    texts = [
        agent.act(obs, {"video_id": "a", "sample": k, "seed": 1000 + k}).raw_text for k in range(3)
    ]
    repeat = agent.act(obs, {"video_id": "a", "sample": 0, "seed": 1000}).raw_text
    assert repeat == texts[0]
    assert len(set(texts)) == 3
    # a sample does not depend on the batch it is drawn in (resume and batching invariance)
    infos = [
        {"video_id": "b", "sample": 0, "seed": 7},
        {"video_id": "a", "sample": 1, "seed": 1001},
    ]
    batch = agent.act_batch([_frames(1), obs], infos)
    assert batch[1].raw_text == texts[1]
    assert batch[0].raw_text == agent.act(_frames(1), infos[0]).raw_text


def test_top_p_sampling_keeps_only_the_nucleus():
    import torch
    from visualact_agents.hf_agent import SeededSampler

    scores = torch.log(torch.tensor([[0.6, 0.3, 0.05, 0.05], [0.25, 0.25, 0.25, 0.25]]))
    drawn = {0: set(), 1: set()}
    for seed in range(60):
        out = SeededSampler([seed, seed], temperature=1.0, top_p=0.8, device="cpu")(None, scores)
        assert torch.isfinite(out).sum(dim=-1).tolist() == [1, 1]
        for row in (0, 1):
            drawn[row].add(int(out[row].argmax()))
    assert drawn[0] == {0, 1}
    assert drawn[1] == {0, 1, 2, 3}


def test_bad_frames_fail_alone(greedy_agent):
    outs = greedy_agent.act_batch(
        [_frames(0), {"frames": np.zeros((4, 4), dtype=np.uint8)}, {}],
        [{"video_id": "ok"}, {"video_id": "flat"}, {"video_id": "none"}],
    )
    assert outs[0].error is None
    assert outs[0].raw_text
    assert outs[1].error.startswith("bad observation") and "(N, H, W, 3)" in outs[1].error
    assert outs[2].error.startswith("bad observation: KeyError")


def test_generation_errors_are_returned_not_raised(tiny_model, monkeypatch):
    agent = make_agent(f"hf:{tiny_model}", max_new_tokens=4)
    real_generate = agent.model.generate

    def oom_for_batches(**kwargs):
        if kwargs["input_ids"].shape[0] > 1:
            raise RuntimeError("CUDA out of memory. Tried to allocate 20.00 GiB")
        return real_generate(**kwargs)

    monkeypatch.setattr(agent.model, "generate", oom_for_batches)
    outs = agent.act_batch([_frames(0), _frames(1)], [{"video_id": "a"}, {"video_id": "b"}])
    assert all(o.raw_text for o in outs), "a failed batch is retried video by video"

    def always_oom(**kwargs):
        raise RuntimeError("CUDA out of memory. Tried to allocate 20.00 GiB")

    monkeypatch.setattr(agent.model, "generate", always_oom)
    outs = agent.act_batch([_frames(0), _frames(1)], [{"video_id": "a"}, {"video_id": "b"}])
    assert [o.error for o in outs] == [
        "generation failed: RuntimeError: CUDA out of memory. Tried to allocate 20.00 GiB"
    ] * 2
    single = agent.act(_frames(0), {"video_id": "a"})
    assert single.failed and single.raw_text is None


def test_output_parsing_keeps_text_and_diagnostics():
    from visualact_agents.hf_agent import output_from_text

    good = output_from_text('{"actions": [{"action": "Call 911", "apl": 7, "proactive": true}]}')
    assert good.error is None and good.actions[0].text == "Call 911" and good.actions[0].apl == 4
    assert good.diagnostics[0] == "format: json" and len(good.diagnostics) > 1  # the clamped APL
    bad = output_from_text("I cannot help with that")
    assert not bad.failed and bad.parse_error and bad.actions == ()
    assert bad.raw_text == "I cannot help with that"
    empty = output_from_text("")
    assert not empty.failed and empty.parse_error is None and empty.actions == ()


def test_completion_text_accepts_trl_forms():
    from visualact_env.vlm import completion_text

    assert completion_text("abc") == "abc"
    assert completion_text([{"role": "assistant", "content": "abc"}]) == "abc"
    assert (
        completion_text(
            [
                {
                    "role": "assistant",
                    "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}],
                }
            ]
        )
        == "ab"
    )
    with pytest.raises(TypeError):
        completion_text(3)

"""Big local models: ``hf:`` passes device_map, torch_dtype and attn_implementation to
transformers; batched generation on the tiny offline Qwen2-VL model is unchanged (CPU)."""

from __future__ import annotations

import numpy as np
import pytest

from visualact_env.registry import make_agent
from visualact_env.testing.tiny_vlm import tiny_vlm_path
from visualact_env.vlm import local_device

MAX_NEW = 12


def _batch() -> tuple[list[dict], list[dict]]:
    rng = np.random.default_rng(3)
    obs = [{"frames": rng.integers(0, 256, (4, 48, 48, 3), dtype=np.uint8)} for _ in range(3)]
    return obs, [{"video_id": f"v{i}", "seed": i} for i in range(3)]


@pytest.fixture(scope="module")
def reference() -> list:
    agent = make_agent(f"hf:{tiny_vlm_path()}", max_new_tokens=MAX_NEW, device="cpu")
    try:
        return [(o.raw_text, o.actions, o.error) for o in agent.act_batch(*_batch())]
    finally:
        agent.close()


@pytest.mark.parametrize("device_map", ["cpu", "auto"])
def test_placement_options_reach_transformers_and_batches_answer_the_same(reference, device_map):
    agent = make_agent(
        f"hf:{tiny_vlm_path()}",
        max_new_tokens=MAX_NEW,
        device_map=device_map,
        torch_dtype="float32",
        attn_implementation="eager",
    )
    try:
        assert agent.model.config._attn_implementation == "eager"
        assert agent.device == "cpu" and str(agent.model.dtype) == "torch.float32"
        config = agent.config()
        assert config["device_map"] == device_map and config["attn_implementation"] == "eager"
        outs = agent.act_batch(*_batch())
        assert all(o.error is None for o in outs)
        assert [(o.raw_text, o.actions, o.error) for o in outs] == reference
    finally:
        agent.close()


def test_an_unknown_attention_implementation_is_refused_by_transformers():
    with pytest.raises((ValueError, ImportError)):
        make_agent(f"hf:{tiny_vlm_path()}", attn_implementation="no-such-kernel")


def test_under_a_launch_auto_means_this_process_gpu_only_when_there_is_one(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("LOCAL_RANK", "1")
    import torch

    want = f"cuda:{1 % torch.cuda.device_count()}" if torch.cuda.is_available() else "cpu"
    assert local_device("auto") == want
    assert local_device("cpu") == "cpu"

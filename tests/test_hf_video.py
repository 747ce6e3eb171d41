"""Native video input for local models (``hf:`` with ``video=true``) on the tiny Qwen2-VL model.

The tiny model's processor has no video processor (transformers' Qwen2-VL one needs
torchvision, which this project never installs), so these tests exercise
``FrameStackVideoProcessor``: its tensor layout is checked against the model's own image
processor, and a real generate / a real ``visualact eval`` run on video input.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from visualact_env.registry import make_agent
from visualact_env.testing.tiny_vlm import tiny_vlm_path
from visualact_env.vlm import FrameStackVideoProcessor, enable_video, load_processor


@pytest.fixture(scope="module")
def tiny_model():
    return tiny_vlm_path()


@pytest.fixture(scope="module")
def processor(tiny_model):
    return load_processor(str(tiny_model))


def _frames(seed: int, n: int, h: int = 40, w: int = 60) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, h, w, 3), dtype=np.uint8)


def test_two_identical_frames_are_the_image_processor_s_patches(processor) -> None:
    """The image processor repeats one frame along time; a video of that frame twice must give
    the same tensor, and one temporal group (t = 1) of the same grid."""
    video = FrameStackVideoProcessor(processor.image_processor)
    frame = _frames(0, 1)[0]
    got = video([np.stack([frame, frame])])
    image = processor.image_processor([frame], return_tensors=None)
    np.testing.assert_array_equal(got["pixel_values_videos"], np.asarray(image["pixel_values"]))
    assert got["video_grid_thw"].tolist() == [[1, *np.asarray(image["image_grid_thw"])[0, 1:]]]


def test_frames_are_grouped_in_order_and_an_odd_count_repeats_the_last(processor) -> None:
    video = FrameStackVideoProcessor(processor.image_processor)
    frames = _frames(1, 3)
    out = video([frames])
    grid = out["video_grid_thw"][0].tolist()
    assert grid == [2, 4, 6]  # 3 frames padded to 4 = 2 groups; 40x60 -> 56x84 -> 4x6 patches
    patches = out["pixel_values_videos"].reshape(2, 24, 3, 2, 14, 14)  # (t, patch, C, time, p, p)
    single = [
        np.asarray(processor.image_processor([f], return_tensors=None)["pixel_values"]).reshape(
            24, 3, 2, 14, 14
        )[:, :, 0]
        for f in frames
    ]
    np.testing.assert_array_equal(patches[0, :, :, 0], single[0])
    np.testing.assert_array_equal(patches[0, :, :, 1], single[1])
    np.testing.assert_array_equal(patches[1, :, :, 0], single[2])
    np.testing.assert_array_equal(patches[1, :, :, 1], single[2])  # the repeated last frame


def test_a_processor_without_video_support_is_refused(processor) -> None:
    class TextOnly:
        image_processor = object()
        tokenizer = processor.tokenizer
        video_token = "<|not-a-token|>"

    with pytest.raises(ValueError, match="takes no video input"):
        enable_video(TextOnly())


def test_agent_passes_the_frames_as_one_video(tiny_model) -> None:
    """8 frames as a video cost 4 temporal groups x 4 tokens + 2 markers; as images, 8 x (4 + 2):
    the prompts differ by exactly 30 tokens, and the model answers both."""
    images = make_agent(f"hf:{tiny_model}", max_new_tokens=8, device="cpu")
    video = make_agent(f"hf:{tiny_model}", max_new_tokens=8, device="cpu", video=True)
    assert video.config()["video"] is True and images.config()["video"] is False
    obs = {"frames": _frames(2, 8, 64, 64)}
    a = images.act(obs, {"video_id": "a"})
    b = video.act(obs, {"video_id": "a"})
    assert not a.failed and not b.failed and b.raw_text
    assert a.usage["prompt_tokens"] - b.usage["prompt_tokens"] == 8 * 6 - (4 * 4 + 2)
    assert video.act(obs, {"video_id": "a"}).raw_text == b.raw_text  # greedy: deterministic
    batch = video.act_batch([obs, {"frames": _frames(3, 5, 64, 64)}], [{}, {}])
    assert [o.raw_text for o in batch][0] == b.raw_text and not batch[1].failed
    with pytest.raises(ValueError, match="video must be true or false"):
        make_agent(f"hf:{tiny_model}", device="cpu", video="yes")
    images.close()
    video.close()


def test_eval_runs_a_local_model_on_video_input(tiny_model, tmp_path) -> None:
    from visualact_env.runner import EvalConfig, run_eval

    out = run_eval(
        EvalConfig(
            agent=f"hf:{tiny_model}",
            agent_options={"video": True, "device": "cpu"},
            max_tokens=8,
            frames=4,
            limit=2,
            out=tmp_path / "run",
            progress=False,
            reports=False,
        ),
        log=lambda _: None,
    )
    config = json.loads((out / "config.json").read_text())
    assert config["agent"]["video"] is True
    rows = [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]
    assert len(rows) == 2 and not any(r.get("error") for r in rows)

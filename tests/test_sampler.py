"""The one frame sampler: its options, its record, and the same pixels through eval and the env.

Rate sampling and the pixel budget are tested on real clips in ``tests/test_frames.py``; here
the configuration, the command-line options and the promise that ``visualact eval`` and
``VisualAct-v0`` show an agent identical arrays under the defaults (real demo clips, real runner,
real environment).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from visualact_env.envs import VisualActEnv
from visualact_env.rundir import RunError
from visualact_env.runner import EvalConfig, eval_sampler, run_eval
from visualact_env.sampler import (
    DEFAULT_SAMPLER,
    SamplerConfig,
    describe_sampler,
    sampler_from_options,
)


def test_config_records_rate_and_budget_and_reads_old_records() -> None:
    rate = SamplerConfig(size=None, fps=1.5, max_frames=16)
    assert rate.key == "fps1.5max16-linspace-native-none"
    assert SamplerConfig.from_dict(json.loads(json.dumps(rate.to_dict()))) == rate
    budget = SamplerConfig(size=None, max_pixels=50_000)
    assert budget.key == "n8-linspace-native-none-px50000"
    assert not rate.fixed_count and rate.fixed_shape is False and not budget.fixed_shape
    assert DEFAULT_SAMPLER.fixed_shape
    # a record written before fps/max_pixels existed loads as what it meant
    old = {
        "num_frames": 4,
        "rule": "centered",
        "size": None,
        "resize": "letterbox",
        "backend": "auto",
    }
    assert SamplerConfig.from_dict(old) == SamplerConfig(num_frames=4, rule="centered", size=None)
    assert SamplerConfig.from_dict(old).key == "n4-centered-native-none"


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"fps": 0}, "fps must be > 0"),
        ({"fps": float("nan")}, "fps must be > 0"),
        ({"fps": "2"}, "fps must be a number"),
        ({"max_frames": 0}, "max_frames"),
        ({"max_pixels": 0, "size": None}, "max_pixels"),
        ({"max_pixels": 1000}, "size and max_pixels exclude each other"),
    ],
)
def test_config_rejects_bad_rate_and_budget(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        SamplerConfig(**kwargs)


def test_describe_names_count_rule_and_size() -> None:
    assert DEFAULT_SAMPLER.describe() == "8 frames (linspace), 224x224 letterbox"
    assert (
        SamplerConfig(size=None, fps=2, max_frames=16, rule="centered").describe()
        == "2 fps up to 16 frames (centered), own size"
    )
    assert (
        SamplerConfig(num_frames=1, size=None, max_pixels=50176).describe()
        == "1 frame (linspace), own size within 50,176 pixels"
    )
    assert describe_sampler(DEFAULT_SAMPLER.to_dict()) == DEFAULT_SAMPLER.describe()
    assert describe_sampler({"num_frames": 3, "weird": 1}) == "num_frames=3, weird=1"


def test_options_map_to_one_sampler() -> None:
    assert sampler_from_options() == DEFAULT_SAMPLER
    assert sampler_from_options(frame_size="native").size is None
    assert sampler_from_options(max_pixels=1000) == SamplerConfig(size=None, max_pixels=1000)
    assert sampler_from_options(fps=2, max_frames=4) == SamplerConfig(fps=2, max_frames=4)
    assert sampler_from_options(frame_size=(32, 48)).size == (32, 48)
    with pytest.raises(ValueError, match="--frame-size and --max-pixels exclude each other"):
        sampler_from_options(frame_size=(32, 48), max_pixels=1000)
    with pytest.raises(ValueError, match="--max-frames caps --fps"):
        sampler_from_options(max_frames=4)
    with pytest.raises(RunError, match="fps must be > 0"):
        eval_sampler(EvalConfig(fps=-1.0))


def test_cli_frame_options_parse(tmp_path: Path) -> None:
    from visualact_env.cli import build_parser
    from visualact_env.cli_config import dataclass_from_args

    args = build_parser().parse_args(
        ["eval", "--frame-size", "native", "--fps", "2", "--max-frames", "12"]
    )
    config = dataclass_from_args(EvalConfig, args)
    assert eval_sampler(config) == SamplerConfig(size=None, fps=2.0, max_frames=12)
    args = build_parser().parse_args(["eval", "--max-pixels", "50176"])
    assert eval_sampler(dataclass_from_args(EvalConfig, args)).size is None
    with pytest.raises(SystemExit):
        build_parser().parse_args(["eval", "--frame-size", "wide"])


@pytest.mark.slow
def test_env_and_eval_show_an_agent_identical_frames_by_default(
    tmp_path: Path, demo, embedder
) -> None:
    """Defaults on both sides: the frames ``eval`` hands an agent are the environment's
    observations, array for array (demo clips are 160x120: both letterbox them to 224x224)."""
    seen = tmp_path / "seen"
    seen.mkdir()
    out = run_eval(
        EvalConfig(
            agent="py:runner_agents:FrameRecorder",
            agent_options={"dir": str(seen)},
            out=tmp_path / "run",
            progress=False,
            reports=False,
        ),
        log=lambda _: None,
    )
    recorded = json.loads((out / "config.json").read_text())["sampler"]
    assert recorded == DEFAULT_SAMPLER.to_dict()
    env = VisualActEnv(dataset=demo, embedder=embedder, frame_cache_mb=0)
    assert env.sampler == DEFAULT_SAMPLER
    for record in demo:
        obs, _ = env.reset(options={"video_id": record.video_id})
        agent_frames = np.load(seen / f"{record.video_id}.npy")
        assert obs["frames"].shape == (8, 224, 224, 3)
        np.testing.assert_array_equal(obs["frames"], agent_frames, err_msg=record.video_id)
    env.close()


def test_eval_samples_by_rate_and_records_it(tmp_path: Path, demo) -> None:
    """``--fps 2 --max-frames 5`` on the demo clips (10 fps): each agent sees the documented
    count of frames at the clip's own size within the pixel budget, and config.json says so."""
    import decord

    seen = tmp_path / "seen"
    seen.mkdir()
    config = EvalConfig(
        agent="py:runner_agents:FrameRecorder",
        agent_options={"dir": str(seen)},
        out=tmp_path / "run",
        fps=2.0,
        max_frames=5,
        max_pixels=4800,
        limit=4,
        progress=False,
        reports=False,
    )
    out = run_eval(config, log=lambda _: None)
    sampler = SamplerConfig.from_dict(json.loads((out / "config.json").read_text())["sampler"])
    assert sampler == SamplerConfig(size=None, fps=2.0, max_frames=5, max_pixels=4800)
    chosen = [json.loads(line)["video_id"] for line in (out / "predictions.jsonl").open()]
    assert len(chosen) == 4
    for record in (demo[v] for v in chosen):
        reader = decord.VideoReader(str(record.path))
        total, rate, (h, w) = len(reader), reader.get_avg_fps(), reader[0].shape[:2]
        del reader
        frames = np.load(seen / f"{record.video_id}.npy")
        assert len(frames) == min(5, int(total / rate * 2 + 0.5)), record.video_id
        assert frames.shape[1] * frames.shape[2] <= 4800 < h * w
        assert abs(frames.shape[2] / frames.shape[1] - w / h) < 0.05


def test_environment_refuses_samplers_without_a_fixed_shape(demo, embedder) -> None:
    with pytest.raises(ValueError, match="fps=2 gives a clip-dependent frame count"):
        VisualActEnv(dataset=demo, embedder=embedder, sampler=SamplerConfig(fps=2))
    with pytest.raises(ValueError, match="max_pixels=1000 keeps each clip's aspect ratio"):
        VisualActEnv(
            dataset=demo, embedder=embedder, sampler=SamplerConfig(size=None, max_pixels=1000)
        )
    # a sampler without a size takes the environment's frame_size
    env = VisualActEnv(
        dataset=demo, embedder=embedder, sampler=SamplerConfig(size=None), frame_size=(32, 40)
    )
    assert env.observation_space["frames"].shape == (8, 32, 40, 3)
    env.close()

"""The fine-tuning loop's costs, side by side in one run, with the tiny offline VLM.

Prints:

* rollout throughput: videos per second of ``train rollouts`` (K samples per video, the
  ``hf:`` agent generating on CPU), and the share of that time spent scoring the rewards;
* the share of a GRPO step taken by the reward (all reward parts, scored once per batch), with
  warm embedding caches: the goal is under 5% with the tiny model.

    python benchmarks/bench_training.py [--videos 8] [--steps 4]

Exit status 1 if the reward's share of a GRPO step is 5% or more.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path


def rollout_throughput(videos: int, samples: int, out: Path) -> tuple[float, float]:
    from visualact_env.runner import EvalConfig, run_eval
    from visualact_env.testing.tiny_vlm import tiny_vlm_path
    from visualact_env.training.rollouts import score_rollouts

    config = EvalConfig(
        agent=f"hf:{tiny_vlm_path()}",
        data="demo",
        out=out,
        frames=4,
        frame_size=(64, 64),
        limit=videos,
        samples=samples,
        temperature=1.0,
        max_tokens=64,
        reports=False,
        progress=False,
    )
    t0 = time.perf_counter()
    run_eval(config, log=lambda _m: None)
    t1 = time.perf_counter()
    score_rollouts(out)
    t2 = time.perf_counter()
    return videos / (t2 - t0), (t2 - t1) / (t2 - t0)


def grpo_reward_share(videos: int, steps: int, out: Path) -> tuple[float, float, int]:
    from visualact_env.training import grpo
    from visualact_env.training.grpo_train import GRPOTrainConfig, train_grpo

    spent: list[float] = []
    original = grpo.VisualActReward.scored

    def timed(self, completions, **kwargs):  # type: ignore[no-untyped-def]
        t0 = time.perf_counter()
        try:
            return original(self, completions, **kwargs)
        finally:
            spent.append(time.perf_counter() - t0)

    grpo.VisualActReward.scored = timed  # type: ignore[method-assign]
    try:
        config = GRPOTrainConfig(
            model="tiny",
            data="demo",
            limit=videos,
            frames=4,
            frame_size=(64, 64),
            num_generations=4,
            max_completion_length=64,
            max_steps=steps,
            out=str(out),
        )
        t0 = time.perf_counter()
        train_grpo(config)
        wall = time.perf_counter() - t0
    finally:
        grpo.VisualActReward.scored = original  # type: ignore[method-assign]
    import json

    history = json.loads((out / "visualact_grpo.json").read_text())["log_history"]
    step_times = [h["step_time"] for h in history if "step_time" in h]
    reward_time = sum(spent)
    total_step = sum(step_times) if step_times else wall
    return reward_time / total_step, statistics.mean(step_times or [wall]), len(spent)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--videos", type=int, default=8)
    p.add_argument("--samples", type=int, default=4)
    p.add_argument("--steps", type=int, default=4)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        # warm the caches (frames, embeddings of the ground truth, the tiny model) once
        rollout_throughput(2, 2, tmp_path / "warm")
        vps, score_share = rollout_throughput(args.videos, args.samples, tmp_path / "rollouts")
        share, step, calls = grpo_reward_share(args.videos, args.steps, tmp_path / "grpo")
    print(f"rollouts: {args.videos} videos x {args.samples} samples: {vps:.2f} videos/s")
    print(f"rollouts: reward scoring takes {100 * score_share:.1f}% of the rollout time")
    print(
        f"grpo: mean step {step:.2f} s; the reward ({calls} scoring calls) takes "
        f"{100 * share:.2f}% of the step time (goal: < 5%)"
    )
    return 0 if share < 0.05 else 1


if __name__ == "__main__":
    raise SystemExit(main())

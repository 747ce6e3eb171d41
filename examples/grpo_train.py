"""GRPO on VisualActBench with TRL: the environment's reward as the reward function.

Runs offline on a CPU in well under a minute with the tiny test model and the demo benchmark:

    python examples/grpo_train.py --steps 2 --out runs/grpo-tiny

For a real model, pass its folder (``--model PATH``), a real benchmark (``--data PATH``), more
steps and a GPU. The reward of every completion is exactly what ``VisualAct-v0``'s ``env.step``
returns for the proposals parsed from it (see ``visualact_env.training.grpo``).
"""

from __future__ import annotations

import argparse
from pathlib import Path


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--model", default=None, help="model folder (default: the tiny offline Qwen2-VL)"
    )
    p.add_argument(
        "--data", default="demo", help="benchmark: demo, synthetic-full or an annotation file"
    )
    p.add_argument("--limit", type=int, default=4, help="videos used (default: 4)")
    p.add_argument("--frames", type=int, default=4, help="frames per video (default: 4)")
    p.add_argument(
        "--frame-size", type=int, default=64, help="square frame size in pixels (default: 64)"
    )
    p.add_argument("--steps", type=int, default=2, help="optimisation steps (default: 2)")
    p.add_argument("--generations", type=int, default=2, help="completions per prompt (default: 2)")
    p.add_argument("--max-completion-length", type=int, default=32, help="tokens per completion")
    p.add_argument("--learning-rate", type=float, default=1e-5)
    p.add_argument("--reward", default="weighted_f1", choices=["weighted_f1", "f1", "scale_score"])
    p.add_argument("--out", type=Path, default=Path("runs/grpo-tiny"), help="checkpoint folder")
    return p.parse_args()


def main() -> int:
    args = parse_args()
    from visualact_env.training import require_train_extra

    require_train_extra("trl", "datasets", "accelerate")
    import torch
    from trl import GRPOConfig, GRPOTrainer

    from visualact_env.datasets import load_benchmark
    from visualact_env.frames import SamplerConfig
    from visualact_env.testing.tiny_vlm import tiny_vlm_path
    from visualact_env.training.grpo import VisualActReward, build_grpo_dataset
    from visualact_env.vlm import load_processor

    model = args.model or str(tiny_vlm_path())
    benchmark = load_benchmark(args.data)
    benchmark = benchmark.subset(video_ids=benchmark.video_ids[: args.limit])
    sampler = SamplerConfig(num_frames=args.frames, size=(args.frame_size, args.frame_size))
    dataset = build_grpo_dataset(benchmark, sampler)
    on_cuda = torch.cuda.is_available()
    config = GRPOConfig(
        output_dir=str(args.out / "trainer"),
        max_steps=args.steps,
        learning_rate=args.learning_rate,
        per_device_train_batch_size=args.generations,
        num_generations=args.generations,
        max_completion_length=args.max_completion_length,
        temperature=1.0,
        beta=0.0,  # no reference model: the KL term is off, as in DAPO / Dr. GRPO
        bf16=on_cuda,
        use_cpu=not on_cuda,
        remove_unused_columns=False,  # the reward reads the ground_truth column
        logging_steps=1,
        save_strategy="no",
        report_to="none",
        seed=0,
    )
    processor = load_processor(model)
    trainer = GRPOTrainer(
        model=model,
        reward_funcs=VisualActReward(reward=args.reward),
        args=config,
        train_dataset=dataset,
        processing_class=processor,
    )
    trainer.train()
    trainer.model.save_pretrained(str(args.out))
    processor.save_pretrained(str(args.out))
    rewards = [h[k] for h in trainer.state.log_history for k in h if k.startswith("rewards/")]
    print(f"saved {args.out}; logged rewards: {rewards}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""GRPO on VisualActBench from Python: the library call behind ``visualact train grpo``.

Runs offline on a CPU in well under a minute with the tiny test model and the demo benchmark:

    python examples/grpo_train.py --steps 2 --out runs/grpo-tiny

Every knob of :class:`visualact_env.training.grpo_train.GRPOTrainConfig` is also an option of
``visualact train grpo`` (see ``visualact train grpo --help``); this script shows the same run
as a few lines of Python. The reward of every completion is exactly what ``VisualAct-v0``'s
``env.step`` returns for the proposals parsed from it.
"""

from __future__ import annotations

import argparse
import json


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="tiny", help="model folder (default: the tiny test model)")
    p.add_argument("--data", default="demo", help="benchmark (default: demo)")
    p.add_argument("--limit", type=int, default=4, help="videos used (default: 4)")
    p.add_argument("--steps", type=int, default=2, help="optimisation steps (default: 2)")
    p.add_argument("--max-completion-length", type=int, default=32, help="tokens per completion")
    p.add_argument("--out", default="runs/grpo-tiny", help="checkpoint folder")
    args = p.parse_args()

    from visualact_env.training.grpo_train import GRPO_RECORD_FILE, GRPOTrainConfig, train_grpo

    config = GRPOTrainConfig(
        model=args.model,
        data=args.data,
        limit=args.limit,
        frames=4,
        frame_size=(64, 64),
        num_generations=2,
        max_completion_length=args.max_completion_length,
        max_steps=args.steps,
        learning_rate=1e-5,
        out=args.out,
    )
    out = train_grpo(config)
    history = json.loads((out / GRPO_RECORD_FILE).read_text())["log_history"]
    rewards = [h["reward"] for h in history if "reward" in h]
    print(f"saved {out}; logged rewards: {rewards}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

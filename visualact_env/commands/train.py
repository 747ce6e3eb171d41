"""``visualact train rollouts|pairs|mpo|grpo|loop``: the fine-tuning loop from the command line.

* ``rollouts``: sample K proposal lists per video from a policy and score each with the
  environment's reward (an evaluation run folder plus ``rewards.jsonl``; ``--resume`` continues);
* ``pairs``: pick chosen/rejected completions per video and save a TRL preference dataset;
* ``mpo``: train a local VLM on the pairs with TRL's ``DPOTrainer`` and the MPO losses;
* ``grpo``: train with TRL's ``GRPOTrainer`` and the environment's reward;
* ``loop``: iterative MPO (rollouts -> pairs -> MPO -> validation), resumable.

Options are generated from the config dataclasses (:mod:`visualact_env.cli_config`); the
training libraries load inside the ``run_*`` functions.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from ..cli_config import add_dataclass_arguments, dataclass_from_args

INSTALL_HINT = "pip install 'visualact[train]'"


@dataclass
class PairsConfig:
    """The options of ``visualact train pairs``."""

    rollouts: Path = field(metadata={"help": "rollout folder (from `train rollouts`)"})
    out: Path = field(metadata={"help": "dataset folder (save_to_disk)"})
    margin: float = field(default=0.1, metadata={"help": "minimum reward gap of a pair"})
    reference: bool = field(
        default=False,
        metadata={"help": "add the ground truth, written as a completion, as a candidate"},
    )


def _add_rollouts(sub: argparse._SubParsersAction) -> None:
    from ..training.rollouts import RolloutConfig

    p = sub.add_parser(
        "rollouts",
        help="sample K scored proposal lists per video from a policy",
        description="Sample --samples proposal lists per video at --temperature with the evaluation "
        "runner and score each with the environment's reward (writes rewards.jsonl).",
    )
    add_dataclass_arguments(p, RolloutConfig, exclude=("shard",))
    p.set_defaults(func=run_rollouts)


def _add_pairs(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "pairs",
        help="build a preference dataset (chosen/rejected) from rollouts",
        description="Per video: chosen = highest reward, rejected = lowest (ties: lowest sample index "
        "chosen, highest rejected), kept if the reward gap is >= --margin and the texts differ.",
    )
    add_dataclass_arguments(p, PairsConfig)
    p.set_defaults(func=run_pairs)


def _add_mpo(sub: argparse._SubParsersAction) -> None:
    from ..training.mpo import MPOConfig

    p = sub.add_parser(
        "mpo",
        help="train a local VLM on preference pairs (TRL DPOTrainer, MPO losses)",
        description="Mixed Preference Optimization: loss_type sigmoid + bco_pair + sft, weights "
        "0.8 / 0.2 / 1.0; saves a checkpoint (model + processor) loadable as hf:OUT.",
    )
    add_dataclass_arguments(p, MPOConfig)
    p.set_defaults(func=run_mpo)


def _add_grpo(sub: argparse._SubParsersAction) -> None:
    from ..training.grpo_train import GRPOTrainConfig

    p = sub.add_parser(
        "grpo",
        help="train a local VLM with GRPO and the environment's reward (TRL GRPOTrainer)",
        description="GRPO on the training videos: --num-generations completions per video, each "
        "rewarded exactly as env.step scores it (--reward: one figure or a weighted mix); "
        "precision, recall, scale score and the parse-failure rate are logged beside the reward. "
        "Runs under `accelerate launch` too. Example: visualact train grpo --model tiny --data "
        "splits/demo/train.jsonl --max-steps 2 --out runs/grpo-tiny",
    )
    add_dataclass_arguments(p, GRPOTrainConfig)
    p.set_defaults(func=run_grpo)


def _add_loop(sub: argparse._SubParsersAction) -> None:
    from ..training.loop import LoopConfig

    p = sub.add_parser(
        "loop",
        help="iterative MPO: rollouts -> pairs -> MPO -> validation, N times (resumable)",
        description="Iterative preference optimisation (online MPO). Iteration 0 evaluates the "
        "base model on --val-data; each iteration samples rollouts on --train-data from the "
        "current checkpoint, builds preference pairs, trains MPO and evaluates the new "
        "checkpoint. Writes loop.json, loop.md and learning_curve.png; --resume continues from "
        "the last finished step. Example: visualact train loop --model tiny --train-data "
        "splits/demo/train.jsonl --val-data splits/demo/val.jsonl --iterations 2 --out runs/loop",
    )
    in_loop = ("eval_data", "eval_steps", "eval_limit", "eval_max_tokens")  # the loop evaluates
    add_dataclass_arguments(p, LoopConfig, exclude=in_loop)
    p.set_defaults(func=run_loop)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train",
        help="fine-tune a local VLM: rollouts, preference pairs, MPO",
        description="The fine-tuning loop: `train rollouts` -> `train pairs` -> `train mpo`. "
        f"Needs the training extra: {INSTALL_HINT}.",
    )
    sub = parser.add_subparsers(dest="train_command", metavar="STEP")
    _add_rollouts(sub)
    _add_pairs(sub)
    _add_mpo(sub)
    _add_grpo(sub)
    _add_loop(sub)
    parser.set_defaults(func=lambda args: (parser.print_help(), 2)[1])


def _missing_extra(exc: ImportError) -> int:
    """The training extra is missing: say so with the install command (exit status 2)."""
    print(f"error: {exc}", file=sys.stderr)
    return 2


def run_rollouts(args: argparse.Namespace) -> int:
    from ..rundir import RunError
    from ..training.rollouts import RolloutConfig, generate_rollouts, load_rollouts

    try:
        config = dataclass_from_args(RolloutConfig, args)
        out = generate_rollouts(config)
    except (RunError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    rollouts, _, _ = load_rollouts(out)
    rewards = [r.reward for r in rollouts]
    failed = sum(r.failed for r in rollouts)
    mean = sum(rewards) / len(rewards) if rewards else 0.0
    print(
        f"{out}: {len(rollouts)} rollouts, mean {config.reward} {mean:.4f}, max {max(rewards, default=0):.4f}, {failed} failed"
    )
    return 0


def run_pairs(args: argparse.Namespace) -> int:
    from ..training import MissingTrainExtra
    from ..training.preferences import build_preference_dataset

    config = dataclass_from_args(PairsConfig, args)
    try:
        out = build_preference_dataset(
            config.rollouts, config.out, margin=config.margin, reference=config.reference
        )
    except MissingTrainExtra as e:
        return _missing_extra(e)
    except (ValueError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    n = sum(
        1 for line in (out / "pairs.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()
    )
    print(f"{out}: {n} preference pairs")
    return 0


def run_mpo(args: argparse.Namespace) -> int:
    from ..training import MissingTrainExtra
    from ..training.mpo import MPOConfig, train_mpo

    try:
        config = dataclass_from_args(MPOConfig, args)
        out = train_mpo(config)
    except MissingTrainExtra as e:
        return _missing_extra(e)
    except (ValueError, OSError) as e:  # OSError: a --model that is neither a folder nor cached
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"saved {out} (load it with --agent hf:{out})")
    return 0


def _train(build, train, args: argparse.Namespace) -> int:
    """Build a config from ``args`` and train; the common error handling of the commands."""
    from ..runner import RunError
    from ..training import MissingTrainExtra

    try:
        return train(dataclass_from_args(build, args))
    except MissingTrainExtra as e:
        return _missing_extra(e)
    except (ValueError, OSError, RunError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


def run_grpo(args: argparse.Namespace) -> int:
    from ..training.grpo_train import GRPOTrainConfig, train_grpo

    def train(config: GRPOTrainConfig) -> int:
        out = train_grpo(config)
        if os.environ.get("RANK", "0") == "0":
            print(f"saved {out} (load it with --agent hf:{out})")
        return 0

    return _train(GRPOTrainConfig, train, args)


def run_loop(args: argparse.Namespace) -> int:
    from ..training.loop import LOOP_TABLE, LoopConfig
    from ..training.loop import run_loop as _run_loop

    def train(config: LoopConfig) -> int:
        out = _run_loop(config, log=lambda msg: print(msg, file=sys.stderr))
        print((out / LOOP_TABLE).read_text(encoding="utf-8"))
        print(f"{out}: loop.json, loop.md, learning_curve.png")
        return 0

    return _train(LoopConfig, train, args)

"""``visualact train rollouts|pairs|mpo``: the fine-tuning loop from the command line.

* ``rollouts``: sample K proposal lists per video from a policy and score each with the
  environment's reward (an evaluation run folder plus ``rewards.jsonl``; ``--resume`` continues);
* ``pairs``: pick chosen/rejected completions per video and save a TRL preference dataset;
* ``mpo``: train a local VLM on the pairs with TRL's ``DPOTrainer`` and the MPO losses.

Only argparse is imported here; the training libraries load inside :func:`run`.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import MISSING, fields
from pathlib import Path

INSTALL_HINT = "pip install 'visualact[train]'"


def _add_rollouts(sub: argparse._SubParsersAction) -> None:
    from .eval import add_run_arguments

    p = sub.add_parser(
        "rollouts",
        help="sample K scored proposal lists per video from a policy",
        description="Sample --samples proposal lists per video at --temperature with the evaluation "
        "runner and score each with the environment's reward (writes rewards.jsonl).",
    )
    add_run_arguments(p)
    p.set_defaults(agent=None, temperature=1.0)
    p.add_argument("--samples", type=int, default=4, help="proposal lists per video (default: 4)")
    p.add_argument("--frames", type=int, default=8, help="frames sampled per clip (default: 8)")
    p.add_argument(
        "--reward",
        default="weighted_f1",
        choices=["weighted_f1", "f1", "scale_score"],
        help="reward figure (default: weighted_f1)",
    )
    p.add_argument("--out", type=Path, required=True, help="rollout folder")
    p.add_argument("--resume", action="store_true", help="continue the rollouts in --out")
    p.add_argument("--overwrite", action="store_true", help="replace the rollouts in --out")
    p.set_defaults(func=run_rollouts)


def _add_pairs(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "pairs",
        help="build a preference dataset (chosen/rejected) from rollouts",
        description="Per video: chosen = highest reward, rejected = lowest (ties: lowest sample index "
        "chosen, highest rejected), kept if the reward gap is >= --margin and the texts differ.",
    )
    p.add_argument(
        "--rollouts", type=Path, required=True, help="rollout folder (from `train rollouts`)"
    )
    p.add_argument(
        "--margin", type=float, default=0.1, help="minimum reward gap of a pair (default: 0.1)"
    )
    p.add_argument(
        "--reference",
        action="store_true",
        help="add the ground truth, written as a completion, as a candidate",
    )
    p.add_argument("--out", type=Path, required=True, help="dataset folder (save_to_disk)")
    p.set_defaults(func=run_pairs)


def _flag_type(default: object) -> type:
    return type(default) if default is not None and not isinstance(default, tuple) else str


def _add_mpo(sub: argparse._SubParsersAction) -> None:
    from ..training.mpo import MPOConfig

    p = sub.add_parser(
        "mpo",
        help="train a local VLM on preference pairs (TRL DPOTrainer, MPO losses)",
        description="Mixed Preference Optimization: loss_type sigmoid + bco_pair + sft, weights "
        "0.8 / 0.2 / 1.0; saves a checkpoint (model + processor) loadable as hf:OUT.",
    )
    for f in fields(MPOConfig):
        flag = "--" + f.name.replace("_", "-")
        help_text = f.metadata.get("help", "")
        if f.default is MISSING:
            p.add_argument(flag, dest=f.name, required=True, help=help_text)
        elif isinstance(f.default, bool):
            p.add_argument(flag, dest=f.name, action="store_true", help=help_text)
        elif isinstance(f.default, tuple):
            item = type(f.default[0]) if f.default else str
            p.add_argument(
                flag,
                dest=f.name,
                nargs="+",
                type=item,
                default=f.default,
                help=f"{help_text} (default: {' '.join(map(str, f.default))})",
            )
        else:
            p.add_argument(
                flag,
                dest=f.name,
                type=_flag_type(f.default),
                default=f.default,
                help=f"{help_text} (default: {f.default})",
            )
    p.set_defaults(func=run_mpo)


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
    parser.set_defaults(func=lambda args: (parser.print_help(), 2)[1])


def _missing_extra(exc: ImportError) -> int:
    """The training extra is missing: say so with the install command (exit status 2)."""
    print(f"error: {exc}", file=sys.stderr)
    return 2


def run_rollouts(args: argparse.Namespace) -> int:
    from ..rundir import RunError
    from ..training.rollouts import load_rollouts
    from ..training.rollouts import run_rollouts as _run
    from .eval import config_from_args

    if not args.agent:
        print("error: --agent is required (e.g. hf:PATH)", file=sys.stderr)
        return 2
    config = config_from_args(
        args,
        out=args.out,
        resume=args.resume,
        overwrite=args.overwrite,
        samples=args.samples,
        reports=False,
    )
    try:
        out = _run(config, reward=args.reward)
    except (RunError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    rollouts, _, _ = load_rollouts(out)
    rewards = [r.reward for r in rollouts]
    failed = sum(r.failed for r in rollouts)
    mean = sum(rewards) / len(rewards) if rewards else 0.0
    print(
        f"{out}: {len(rollouts)} rollouts, mean {args.reward} {mean:.4f}, max {max(rewards, default=0):.4f}, {failed} failed"
    )
    return 0


def run_pairs(args: argparse.Namespace) -> int:
    from ..training import MissingTrainExtra
    from ..training.preferences import build_preference_dataset

    try:
        out = build_preference_dataset(
            args.rollouts, args.out, margin=args.margin, reference=args.reference
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

    values = {f.name: getattr(args, f.name) for f in fields(MPOConfig)}
    for key, value in values.items():
        if isinstance(value, list):
            values[key] = tuple(value)
    try:
        config = MPOConfig(**values)
        out = train_mpo(config)
    except MissingTrainExtra as e:
        return _missing_extra(e)
    except (ValueError, OSError) as e:  # OSError: a --model that is neither a folder nor cached
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"saved {out} (load it with --agent hf:{out})")
    return 0

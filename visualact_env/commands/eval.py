"""``visualact eval``: run a policy over a benchmark and print the paper's tables."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _size(text: str) -> tuple[int, int]:
    try:
        h, w = text.lower().split("x")
        return int(h), int(w)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected HxW, e.g. 224x224, got {text!r}") from None


def _shard(text: str) -> tuple[int, int]:
    from ..rundir import RunError, parse_shard

    try:
        return parse_shard(text)
    except RunError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _option(text: str) -> tuple[str, object]:
    import json

    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def add_run_arguments(p: argparse.ArgumentParser) -> None:
    """The options shared by ``eval``, ``sweep`` and ``train rollouts``."""
    p.add_argument(
        "--agent",
        default="retrieval",
        help="agent spec: retrieval, blind, random, oracle, empty, openai:MODEL[@URL], hf:PATH (default: retrieval)",
    )
    p.add_argument(
        "--data",
        default="demo",
        help="demo (default), synthetic-full, or an annotation .jsonl / folder",
    )
    p.add_argument(
        "--frame-size",
        type=_size,
        default=None,
        metavar="HxW",
        help="letterbox frames to this size (default: the clip's own size)",
    )
    p.add_argument(
        "--frame-rule",
        choices=["linspace", "linspace-floor", "centered"],  # frames.RULES (not imported: slow)
        default="linspace",
        help="frame index rule (default: linspace)",
    )
    p.add_argument(
        "--scenarios", nargs="+", default=(), metavar="SCENARIO", help="only these scenarios"
    )
    p.add_argument("--limit", type=int, default=None, help="only the first N videos")
    p.add_argument(
        "--temperature", type=float, default=None, help="sampling temperature for model agents"
    )
    p.add_argument(
        "--max-tokens", type=int, default=None, help="generation budget for model agents"
    )
    p.add_argument(
        "--prompt", default=None, help="prompt name or template file (default: the built-in prompt)"
    )
    p.add_argument("--seed", type=int, default=0, help="base seed (default: 0)")
    p.add_argument(
        "--concurrency", type=int, default=8, help="requests in flight for API agents (default: 8)"
    )
    p.add_argument(
        "--batch-size", type=int, default=1, help="videos per batch for local models (default: 1)"
    )
    p.add_argument("--tau", type=float, default=0.5, help="similarity threshold (default: 0.5)")
    p.add_argument(
        "--embedder",
        default=None,
        help="sentence-embedding model name or path (default: all-MiniLM-L6-v2)",
    )
    p.add_argument(
        "--agent-option",
        type=_option,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra agent option (JSON value), repeatable",
    )
    p.add_argument("--no-html", action="store_true", help="skip report.html")
    p.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="progress bar (default: on a terminal only)",
    )


def config_from_args(args: argparse.Namespace, **overrides: object):
    from ..runner import EvalConfig

    fields = dict(
        agent=args.agent,
        data=args.data,
        frames=getattr(args, "frames", 8),
        frame_size=args.frame_size,
        frame_rule=args.frame_rule,
        scenarios=tuple(args.scenarios or ()),
        limit=args.limit,
        temperature=args.temperature,
        max_tokens=args.max_tokens,
        prompt=args.prompt,
        seed=args.seed,
        concurrency=args.concurrency,
        batch_size=args.batch_size,
        tau=args.tau,
        embedder=args.embedder,
        agent_options=dict(args.agent_option),
        html=not args.no_html,
        progress=args.progress,
        strict=getattr(args, "strict", False),
    )
    fields.update(overrides)
    return EvalConfig(**fields)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "eval",
        help="run a policy over a benchmark and report the paper's tables",
        description="Run an agent over a benchmark, save predictions record by record, score them and write summary.json, report.md, report.html and plots.",
    )
    add_run_arguments(p)
    p.add_argument("--frames", type=int, default=8, help="frames sampled per clip (default: 8)")
    p.add_argument(
        "--out", type=Path, default=None, help="run folder (default: runs/<agent>-<data>-<time>)"
    )
    p.add_argument(
        "--resume", action="store_true", help="continue the run in --out (retries failed videos)"
    )
    p.add_argument("--overwrite", action="store_true", help="replace the run in --out")
    p.add_argument(
        "--strict",
        action="store_true",
        help="refuse to evaluate an hf: checkpoint on videos it was trained on (default: warn)",
    )
    p.add_argument("--samples", type=int, default=1, help="proposal lists per video (default: 1)")
    p.add_argument(
        "--shard",
        type=_shard,
        default=None,
        metavar="I/N",
        help="run the I-th of N deterministic parts (1-based)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..runner import RunError, run_eval

    if args.resume and args.out is None:
        print("error: --resume needs --out RUN_FOLDER", file=sys.stderr)
        return 2
    config = config_from_args(
        args,
        out=args.out,
        resume=args.resume,
        overwrite=args.overwrite,
        samples=args.samples,
        shard=args.shard,
    )
    try:
        out = run_eval(config)
    except RunError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    from ..report import print_run_summary

    print_run_summary(out)
    return 0

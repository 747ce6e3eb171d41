"""The ``visualact`` command line (also ``python -m visualact_env``).

Each sub-command lives in its own module under :mod:`visualact_env.commands` and exposes
``register(subparsers)`` (argparse set-up, cheap to import) and sets ``func`` on its parser. Heavy
libraries are imported only inside the command that needs them, so ``visualact --help`` and
commands that read cached data start fast.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from .errors import DISK_FULL_ERRNOS
from .loading import DataError

COMMAND_MODULES: tuple[str, ...] = (
    "eval",
    "score",
    "parse",
    "data",
    "compare",
    "report",
    "merge",
    "sweep",
    "train",
    "serve",
)


EXAMPLES: dict[str, tuple[str, ...]] = {
    "": (
        "visualact eval --agent retrieval",
        "visualact score --annotations data/annotations.jsonl --predictions preds.jsonl",
        "visualact compare runs/a runs/b --out runs/compare",
    ),
    "eval": (
        "visualact eval --agent retrieval --data demo",
        "visualact eval --agent openai:gpt-4o --data data/visualactbench --concurrency 16 "
        "--out runs/gpt-4o",
        "visualact eval --agent hf:/models/Qwen2-VL-2B-Instruct --scenarios DN HMI --limit 40",
        "visualact eval --out runs/gpt-4o --resume",
    ),
    "score": (
        "visualact score --annotations data/annotations.jsonl --predictions preds.jsonl "
        "--bootstrap 1000",
    ),
    "parse": ('echo \'[{"action": "Stop the car", "apl": 4}]\' | visualact parse --json',),
    "data": ("visualact data validate demo", "visualact data stats synthetic-full"),
    "data validate": ("visualact data validate data/annotations.jsonl --predictions preds.jsonl",),
    "data import": ("visualact data import visualactbench.json --videos videos --dry-run",),
    "data download": ("visualact data download data/visualactbench",),
    "data generate": ("visualact data generate synthetic-full --out data/synthetic",),
    "data stats": ("visualact data stats demo --out runs/stats",),
    "data split": ("visualact data split demo --val-fraction 0.25 --seed 0 --out splits/demo",),
    "compare": ("visualact compare runs/retrieval runs/gpt-4o --published --out runs/compare",),
    "report": ("visualact report runs/gpt-4o",),
    "merge": ("visualact merge runs/part1 runs/part2 --out runs/full",),
    "sweep": ("visualact sweep --agent retrieval --frames 2,4,8 --out runs/sweep",),
    "serve": (
        "visualact serve --data demo --limit 12 --parts study",
        "visualact serve --runs runs --annotate clips --host 0.0.0.0 --port 8765",
    ),
    "train": ("visualact train rollouts --agent hf:tiny --samples 4 --out runs/rollouts",),
    "train rollouts": (
        "visualact train rollouts --agent hf:/models/base --samples 4 --temperature 0.7 "
        "--out runs/rollouts",
    ),
    "train pairs": ("visualact train pairs --rollouts runs/rollouts --out runs/pairs",),
    "train mpo": ("visualact train mpo --model tiny --pairs runs/pairs --out runs/mpo",),
    "train grpo": (
        "visualact train grpo --model tiny --data splits/demo/train.jsonl --max-steps 2 "
        "--out runs/grpo-tiny",
    ),
    "train loop": (
        "visualact train loop --model tiny --train-data splits/demo/train.jsonl "
        "--val-data splits/demo/val.jsonl --iterations 2 --out runs/loop",
    ),
}
"""A usage example (or a few) for each command, shown at the end of its ``--help``. A test
parses every example with the real parser, so they stay valid as options change."""


class HelpFormatter(argparse.HelpFormatter):
    """argparse's formatter, except that lines indented by two spaces (examples) are kept as
    they are instead of being wrapped into the paragraph."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        out: list[str] = []
        paragraph: list[str] = []
        for line in text.splitlines() + [""]:
            if line.startswith("  ") or not line.strip():
                if paragraph:
                    out.append(super()._fill_text(" ".join(paragraph), width, indent))
                    paragraph = []
                if line.strip():
                    out.append(indent + line)
                elif out and out[-1] != "":
                    out.append("")
            else:
                paragraph.append(line.strip())
        return "\n".join(out).rstrip("\n")


def examples_epilog(lines: Sequence[str]) -> str:
    """The ``--help`` epilog holding ``lines`` as indented examples."""
    return "example" + ("s" if len(lines) > 1 else "") + ":\n" + "\n".join(f"  {x}" for x in lines)


def _subparsers(parser: argparse.ArgumentParser, prefix: str = ""):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                path = f"{prefix} {name}".strip()
                yield path, sub
                yield from _subparsers(sub, path)


def build_parser() -> argparse.ArgumentParser:
    from .version import __version__

    parser = argparse.ArgumentParser(
        prog="visualact",
        description="VisualActBench: evaluate and train vision-language agents on Visual Action Reasoning.",
        epilog=examples_epilog([*EXAMPLES[""], "visualact COMMAND --help"]),
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"visualact {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f".commands.{name}", __package__)
        except ModuleNotFoundError as e:
            if e.name == f"{__package__}.commands.{name}":
                continue
            raise
        module.register(sub)
    for path, command in _subparsers(parser):
        command.formatter_class = HelpFormatter
        if not command.epilog and path in EXAMPLES:
            command.epilog = examples_epilog(EXAMPLES[path])
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # what was typed (eval --resume)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except DataError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # the reader went away (``visualact score --json | head``): not an error of ours;
        # point stdout at /dev/null so the interpreter's final flush does not fail again
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    except OSError as e:
        if e.errno not in DISK_FULL_ERRNOS:
            raise
        # a full disk or quota while writing results: one line, not a traceback (what was
        # written before stays; files are written aside and renamed, never left half-written)
        where = f" {e.filename}" if e.filename else ""
        print(f"error: cannot write{where}: {e.strerror or e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

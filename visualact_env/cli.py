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


def build_parser() -> argparse.ArgumentParser:
    from .version import __version__

    parser = argparse.ArgumentParser(
        prog="visualact",
        description="VisualActBench: evaluate and train vision-language agents on Visual Action Reasoning.",
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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
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


if __name__ == "__main__":
    sys.exit(main())

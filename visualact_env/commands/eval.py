"""``visualact eval``: run a policy over a benchmark and print the paper's tables.

Its options are generated from :class:`visualact_env.runner.EvalConfig` (one place for each
knob, default and help text); ``sweep`` and ``train rollouts`` reuse the run-describing part.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..cli_config import add_dataclass_arguments, dataclass_from_args

EXIT_STOPPED = 3
"""``eval``'s exit code when the run stopped early at --max-cost, --max-total-tokens or
--max-failures (the folder is resumable)."""

RUN_FOLDER_FIELDS: tuple[str, ...] = ("out", "resume", "overwrite", "samples", "shard", "frames")
"""EvalConfig fields that belong to one run folder (sweep and rollouts declare their own)."""


def add_run_arguments(
    p: argparse.ArgumentParser,
    *,
    exclude: tuple[str, ...] = RUN_FOLDER_FIELDS,
    defaults: dict[str, Any] | None = None,
    required: tuple[str, ...] = (),
) -> None:
    """The ``EvalConfig`` options shared by ``eval``, ``sweep`` and ``train rollouts``."""
    from ..runner import EvalConfig

    add_dataclass_arguments(p, EvalConfig, exclude=exclude, defaults=defaults, required=required)


def config_from_args(args: argparse.Namespace, **overrides: Any) -> Any:
    """The ``EvalConfig`` of parsed options (``overrides`` win)."""
    from ..runner import EvalConfig

    return dataclass_from_args(EvalConfig, args, **overrides)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "eval",
        help="run a policy over a benchmark and report the paper's tables",
        description="Run an agent over a benchmark, save predictions record by record, score them and write summary.json, report.md, report.html and plots. Exit code: 0 when every video was scored, 1 when any failed (the run folder is complete; --resume retries them), 2 on unusable input or an unreachable server, 3 when the run stopped early at --max-cost, --max-total-tokens or --max-failures (resumable).",
    )
    add_run_arguments(p, exclude=())
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..runner import RunError, run_eval

    if args.resume and args.out is None:
        print("error: --resume needs --out RUN_FOLDER", file=sys.stderr)
        return 2
    config = config_from_args(args)
    try:
        config = _with_recorded_options(config, args)
        out = run_eval(config)
    except RunError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    from ..distributed import detect_launch

    if not detect_launch().is_main:  # under torchrun/accelerate, rank 0 writes the results
        return 0
    from ..report import print_run_summary
    from ..rundir import read_stop

    print_run_summary(out)
    if read_stop(out):
        return EXIT_STOPPED
    return failure_exit([out])


def _with_recorded_options(config: Any, args: argparse.Namespace) -> Any:
    """With ``--resume``, every option not typed is the resumed run's (see
    :func:`visualact_env.runner.resume_options`)."""
    from ..cli_config import given_fields
    from ..runner import EvalConfig, resume_options

    argv = getattr(args, "argv", None)
    if not config.resume or argv is None:
        return config
    command = argv[argv.index("eval") + 1 :] if "eval" in argv else argv
    given = given_fields(EvalConfig, command)
    resumed = resume_options(config, given)
    if resumed is not config:
        taken = sorted(
            f"--{name.replace('_', '-')}"
            for name in vars(EvalConfig())
            if name not in given and getattr(resumed, name) != getattr(config, name)
        )
        if taken:
            print(f"resuming with the run's recorded {', '.join(taken)}", file=sys.stderr)
    return resumed


def failure_exit(
    runs: Sequence[str | Path], retry: str = "rerun the same command with --out {run} --resume"
) -> int:
    """1 when a video of any of ``runs`` failed (its record has an ``error``), with a line on
    stderr saying how to retry them (``retry``); 0 when every video was scored."""
    from ..runner import failed_videos

    code = 0
    for run in runs:
        failed = failed_videos(run)
        if failed:
            code = 1
            print(
                f"{len(failed)} video(s) of {run} failed: the run folder is complete; "
                + retry.format(run=run)
                + " to retry them",
                file=sys.stderr,
            )
    return code

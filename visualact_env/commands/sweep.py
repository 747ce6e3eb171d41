"""``visualact sweep``: the paper's Table 4 (frame counts) and threshold sweeps for a policy.

Options: the run-describing part of :class:`~visualact_env.runner.EvalConfig` plus
:class:`SweepConfig`, both generated from the dataclasses.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from pathlib import Path

from ..cli_config import add_dataclass_arguments, comma_list, dataclass_from_args
from .eval import add_run_arguments, config_from_args


@dataclass
class SweepConfig:
    """What a sweep varies, on top of the evaluation it repeats."""

    out: Path = field(metadata={"help": "sweep folder (one run folder per frame count inside)"})
    frames: tuple[int, ...] = field(
        default=(8,),
        metadata={
            "help": "comma-separated frame counts, e.g. 2,4,8,16",
            "type": comma_list(int),
            "metavar": "N[,N...]",
            "default_help": "8",
        },
    )
    taus: tuple[float, ...] | None = field(
        default=None,
        metadata={
            "help": "comma-separated thresholds, e.g. 0.4,0.5,0.6",
            "type": comma_list(float),
            "aliases": ("--tau-list",),
            "metavar": "TAU[,TAU...]",
            "default_help": "--tau",
        },
    )
    resamples: int = field(default=1000, metadata={"help": "bootstrap resamples"})


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "sweep",
        help="run a policy at several frame counts (and/or thresholds): the paper's Table 4",
        description="Run or reuse one evaluation per frame count under --out, score each at every threshold, and print the Table 4 layout (precision, recall, F1, scale score) with bootstrap CIs; writes sweep.json, sweep.md and sweep.png. Exit code: 0 when every video of every run was scored, 1 when any failed (rerun the same command to retry them), 2 on unusable input.",
    )
    add_run_arguments(p)
    add_dataclass_arguments(p, SweepConfig)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..report.tables import terminal_table
    from ..rundir import RunError
    from ..sweep import run_sweep, sweep_table

    sweep = dataclass_from_args(SweepConfig, args)
    for tau in sweep.taus or ():
        if not -1.0 <= tau <= 1.0:
            print(
                f"error: --taus: each threshold must be within [-1, 1], got {tau}", file=sys.stderr
            )
            return 2
    base = config_from_args(args, frames=sweep.frames[0])
    try:
        result = run_sweep(
            base, sweep.out, sweep.frames, sweep.taus, n_resamples=sweep.resamples, seed=base.seed
        )
    except RunError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    header, body = sweep_table(result)
    print("Table 4 layout (x100, 95% bootstrap CI; APL = scale score)")
    print(terminal_table(header, body))
    print(f"sweep.md, sweep.json, sweep.png: {sweep.out}")
    from .eval import failure_exit

    return failure_exit(list(result["runs"].values()), "rerun the same sweep command")

"""``visualact sweep``: the paper's Table 4 (frame counts) and threshold sweeps for a policy."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .eval import add_run_arguments, config_from_args


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "sweep",
        help="run a policy at several frame counts (and/or thresholds): the paper's Table 4",
        description="Run or reuse one evaluation per frame count under --out, score each at every threshold, and print the Table 4 layout (precision, recall, F1, scale score) with bootstrap CIs; writes sweep.json, sweep.md and sweep.png.",
    )
    add_run_arguments(p)
    p.add_argument(
        "--frames", default="8", help="comma-separated frame counts, e.g. 2,4,8,16 (default: 8)"
    )
    p.add_argument(
        "--taus",
        "--tau-list",
        dest="taus",
        default=None,
        help="comma-separated thresholds, e.g. 0.4,0.5,0.6 (default: --tau)",
    )
    p.add_argument(
        "--out",
        type=Path,
        required=True,
        help="sweep folder (one run folder per frame count inside)",
    )
    p.add_argument(
        "--resamples", type=int, default=1000, help="bootstrap resamples (default: 1000)"
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..report.tables import terminal_table
    from ..rundir import RunError
    from ..sweep import parse_list, run_sweep, sweep_table

    try:
        frames = parse_list(args.frames, int)
        taus = parse_list(args.taus, float) if args.taus else None
        for tau in taus or ():
            if not -1.0 <= tau <= 1.0:
                raise ValueError(f"--taus: each threshold must be within [-1, 1], got {tau}")
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    base = config_from_args(args, frames=frames[0])
    try:
        result = run_sweep(base, args.out, frames, taus, n_resamples=args.resamples, seed=args.seed)
    except RunError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    header, body = sweep_table(result)
    print("Table 4 layout (x100, 95% bootstrap CI; APL = scale score)")
    print(terminal_table(header, body))
    print(f"sweep.md, sweep.json, sweep.png: {args.out}")
    return 0

"""``visualact merge``: combine the shard folders of one run into a single run."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "merge",
        help="combine shard runs (--shard I/N) into one run",
        description="Combine the folders of a sharded run into one run folder and write its reports. Refuses shards whose configs differ, overlap, or miss part of the data.",
    )
    p.add_argument("shards", nargs="+", type=Path, metavar="SHARD_RUN", help="shard run folders")
    p.add_argument("--out", type=Path, required=True, help="merged run folder")
    p.add_argument(
        "--allow-partial",
        action="store_true",
        help="merge even if some shards are missing (their videos count as missing)",
    )
    p.add_argument("--no-html", action="store_true", help="skip report.html")
    p.add_argument("--overwrite", action="store_true", help="replace a run already in --out")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..merge import merge_runs
    from ..rundir import RunError

    try:
        out = merge_runs(
            args.shards,
            args.out,
            allow_partial=args.allow_partial,
            html=not args.no_html,
            overwrite=args.overwrite,
        )
    except RunError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    from ..report import print_run_summary

    print_run_summary(out)
    return 0

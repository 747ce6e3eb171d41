"""``visualact report RUN``: rebuild a run's summary, tables, plots and HTML report."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``report`` sub-command."""
    p = sub.add_parser(
        "report",
        help="rebuild a run's summary.json, report.md, report.html and plots",
        description=(
            "Score a run folder's predictions against its data (fingerprint-checked) and write "
            "scores.jsonl, summary.json (figures with bootstrap CIs, failures), report.md (the "
            "paper's Table 2 / Table 3 layouts), plots/*.png and a self-contained report.html."
        ),
    )
    p.add_argument("run", type=Path, metavar="RUN", help="run folder (holds config.json)")
    p.add_argument("--no-html", action="store_true", help="skip report.html")
    p.add_argument("--no-plots", action="store_true", help="skip plots/*.png (and the HTML's)")
    p.add_argument(
        "--resamples", type=int, default=1000, help="bootstrap resamples (default: 1000)"
    )
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed (default: 0)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Write the reports and print the headline figures; 2 on unusable input."""
    from ..report import print_run_summary, write_reports
    from ..rundir import RunError

    try:
        write_reports(
            args.run,
            n_resamples=args.resamples,
            seed=args.seed,
            html=not args.no_html,
            plots=not args.no_plots,
        )
    except RunError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print_run_summary(args.run)
    return 0

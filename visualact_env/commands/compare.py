"""``visualact compare RUN...``: a leaderboard of runs with paired differences to a baseline."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``compare`` sub-command."""
    p = sub.add_parser(
        "compare",
        help="leaderboard of runs on the same data, with paired bootstrap differences",
        description=(
            "Score runs made on the same data with one scorer, rank them, and compare each to "
            "a baseline run (default: the first) with a paired bootstrap over videos (95% CI, "
            "p-value). Writes compare.md, compare.html (with the proactive-ratio chart of the "
            "paper's Figure 4), proactive_ratio.png and compare.json to --out."
        ),
    )
    p.add_argument("runs", nargs="+", type=Path, metavar="RUN", help="run folders")
    p.add_argument("--baseline", type=Path, help="run to compare against (default: the first)")
    p.add_argument(
        "--published",
        action="store_true",
        help="also show the paper's published Table 2/3 rows (released benchmark only)",
    )
    p.add_argument("--out", type=Path, help="folder for compare.* (default: no files)")
    p.add_argument("--json", action="store_true", help="print the comparison as JSON")
    p.add_argument(
        "--allow-different-data",
        action="store_true",
        help="list runs on different data side by side (no paired differences)",
    )
    p.add_argument(
        "--resamples", type=int, default=2000, help="bootstrap resamples (default: 2000)"
    )
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed (default: 0)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Compare, print (table or JSON), write files with ``--out``; 2 on unusable input."""
    from ..report import CompareError, compare_runs, format_terminal, write_compare
    from ..rundir import RunError

    try:
        result = compare_runs(
            args.runs,
            args.baseline,
            published=args.published,
            allow_different_data=args.allow_different_data,
            n_resamples=args.resamples,
            seed=args.seed,
        )
    except (CompareError, RunError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    agreement = _human_agreement(args)
    if agreement is not None:
        result["human_agreement"] = agreement
    if args.json:
        print(json.dumps(result, indent=2, ensure_ascii=False))
    else:
        print(format_terminal(result))
    if args.out:
        paths = write_compare(result, args.out)
        if not args.json:
            for kind in ("md", "html", "png"):
                print(f"{paths[kind]}")
    if agreement is not None:
        _show_agreement(agreement, args)
    return 0


def _human_agreement(args: argparse.Namespace) -> dict | None:
    """With two or more human runs (``visualact serve``'s study) on the same data among the
    compared runs: each against the ground truth and against each other."""
    from ..agreement import human_agreement, is_human_run
    from ..rundir import load_config

    humans = [d for d in args.runs if is_human_run(load_config(d))]
    if len(humans) < 2 or args.allow_different_data:
        return None
    return human_agreement(humans, n_resamples=args.resamples, seed=args.seed)


def _show_agreement(agreement: dict, args: argparse.Namespace) -> None:
    from ..agreement import agreement_markdown
    from ..cache import atomic_write_text

    text = agreement_markdown(agreement)
    if not args.json:
        print()
        print(text)
    if args.out:
        path = atomic_write_text(Path(args.out) / "human-agreement.md", text)
        if not args.json:
            print(path)

"""``visualact parse``: show what the output parser recovers from a model's text (stdin)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..parsing import ParseResult


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``parse`` sub-command."""
    parser = subparsers.add_parser(
        "parse",
        help="parse model output text from standard input into actions",
        description=(
            "Read a model's raw output on standard input and print the actions the parser "
            "recovers (text, APL, proactive flag) with its diagnostics. Exit status 0 when the "
            "text parsed (possibly to no actions), 1 when nothing could be recovered."
        ),
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument(
        "--max-actions",
        type=int,
        default=32,
        metavar="N",
        help="keep at most N actions (default: 32)",
    )
    parser.add_argument(
        "--max-chars",
        type=int,
        default=400,
        metavar="N",
        help="cut action texts longer than N characters (default: 400)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Parse stdin and print the result; returns 1 when the parser reports an error."""
    import json
    import sys

    from ..parsing import parse_actions

    if args.max_actions < 0 or args.max_chars < 1:
        print("error: --max-actions must be >= 0 and --max-chars >= 1", file=sys.stderr)
        return 2
    text = sys.stdin.read()
    result = parse_actions(text, max_actions=args.max_actions, max_chars=args.max_chars)
    if args.json:
        print(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
    else:
        print(format_table(result))
    return 0 if result.error is None else 1


def format_table(result: ParseResult) -> str:
    """A human-readable table of a :class:`~visualact_env.parsing.ParseResult`."""
    actions = result.actions
    lines = [f"format: {result.format}   actions: {len(actions)}"]
    if actions:
        lines.append(f"{'#':>3}  {'APL':>3}  {'type':<9}  text")
        for i, a in enumerate(actions, start=1):
            apl = "-" if a.apl is None else str(a.apl)
            kind = "-" if a.proactive is None else ("proactive" if a.proactive else "reactive")
            lines.append(f"{i:>3}  {apl:>3}  {kind:<9}  {a.text}")
    for d in result.diagnostics:
        lines.append(f"note: {d}")
    if result.error is not None:
        lines.append(f"error: {result.error}")
    return "\n".join(lines)

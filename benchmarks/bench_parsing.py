"""Parser speed on typical and hostile model outputs (the environment parses in its hot path).

Run: ``python benchmarks/bench_parsing.py [--repeat N] [--old REV] [--timeout S]``.

The first table gives microseconds per call and calls per second for typical answers. The
second times hostile texts (deep brackets, long defective JSON, blank runs, ...) at 10k, 40k
and 200k characters (the parser's input cap), to show the work is linear. With ``--old REV``
each hostile text is also timed with ``visualact_env/parsing.py`` as it was at git revision
``REV`` (loaded from git, run in a subprocess killed after ``--timeout`` seconds), side by
side: e.g. ``--old be59c86`` is the parser before json-repair and the linear scan.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
import types
from collections.abc import Callable
from pathlib import Path

from visualact_env.parsing import parse_actions

_ITEMS = [
    {
        "action": f"Do the helpful thing number {i} before anything goes wrong",
        "apl": i % 5,
        "proactive": i % 2 == 0,
    }
    for i in range(6)
]

TEXTS: dict[str, str] = {
    "clean JSON (6 actions)": json.dumps({"actions": _ITEMS}),
    "JSON in fence + prose": "Sure, here it is:\n```json\n"
    + json.dumps({"actions": _ITEMS}, indent=2)
    + "\n```\n",
    "Python-literal JSON": repr({"actions": [{**d, "apl": None} for d in _ITEMS]}),
    "truncated JSON": json.dumps({"actions": _ITEMS})[:-60],
    "numbered list": "\n".join(
        f"{i + 1}. {d['action']} (APL {d['apl']}, {'proactive' if d['proactive'] else 'reactive'})"
        for i, d in enumerate(_ITEMS)
    ),
    "key-value blocks": "\n\n".join(
        f"**Action {i + 1}:** {d['action']}\n**APL:** {d['apl']}\n**Type:** Proactive"
        for i, d in enumerate(_ITEMS)
    ),
    "refusal": "I'm sorry, but I can't help with that request.",
    "long ramble (20 kB prose)": "The scene shows a room with several objects. " * 450,
    "200 list items (max 32 kept)": "\n".join(f"- Step {i} (APL 1, proactive)" for i in range(200)),
}


_ITEM = '{"action": "Do the thing", "apl": 2, "proactive": true}'

HOSTILE: dict[str, Callable[[int], str]] = {
    "nested brackets [[..]]": lambda n: "[" * (n // 2) + "]" * (n // 2),
    "open braces {{{": lambda n: "{" * n,
    'open ["["[': lambda n: '["' * (n // 2),
    "truncated JSON list": lambda n: '{"actions": [' + ", ".join([_ITEM] * (n // 58)),
    "Python-literal JSON": lambda n: repr(
        {"actions": [{"action": "x y", "apl": None}] * (n // 36)}
    ),
    "bare-word JSON": lambda n: (
        "{actions: [" + ", ".join(["{action: do it now, apl: high}"] * (n // 32)) + "]}"
    ),
    "blank runs in a line": lambda n: "- a" + (" " * 1000 + "- apl") * (n // 1005),
    "one long list item": lambda n: "1. " + "word " * (n // 5) + "(APL 3, proactive)",
    "marker storm": lambda n: "1. x" + " - APL 2" * (n // 8),
    "list lines": lambda n: "- Brake (APL 4, proactive)\n" * (n // 27),
    "table rows": lambda n: "| Action | APL |\n|---|---|\n" + "| brake | 3 |\n" * (n // 14),
    "prose": lambda n: "The scene shows a room. " * (n // 24),
}
SIZES = (10_000, 40_000, 200_000)


def _old_parser(rev: str) -> Callable[..., object]:
    """``parse_actions`` from ``visualact_env/parsing.py`` at git revision ``rev``."""
    import visualact_env

    repo = Path(__file__).resolve().parents[1]
    src = subprocess.run(
        ["git", "show", f"{rev}:visualact_env/parsing.py"],
        cwd=repo,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    name = "visualact_env._parsing_at_rev"
    module = types.ModuleType(name)
    module.__package__ = visualact_env.__name__
    sys.modules[name] = module
    exec(compile(src, f"parsing.py@{rev}", "exec"), module.__dict__)
    return module.parse_actions


def _time_once(parse: Callable[..., object], text: str) -> float:
    start = time.perf_counter()
    parse(text)
    return time.perf_counter() - start


def _time_old(rev: str, kind: str, size: int, timeout: float) -> str:
    """Seconds for the old parser on one hostile text, or ``> timeout`` (a subprocess)."""
    cmd = [sys.executable, __file__, "--measure-old", rev, kind, str(size)]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=True)
    except subprocess.TimeoutExpired:
        return f">{timeout:g}"
    return f"{float(out.stdout.strip()):.3f}"


def _hostile_table(old: str | None, timeout: float) -> None:
    print()
    head = f"{'hostile text':<24} {'chars':>7} {'seconds':>8}"
    print(head + (f" {'old ' + old:>14}" if old else ""))
    for kind, make in HOSTILE.items():
        for size in SIZES:
            text = make(size)
            row = f"{kind:<24} {len(text):>7} {_time_once(parse_actions, text):>8.3f}"
            if old:
                row += f" {_time_old(old, kind, size, timeout):>14}"
            print(row, flush=True)


def _time(text: str, repeat: int) -> float:
    """Median seconds per call over ``repeat`` batches."""
    batch = max(1, 2000 // max(1, len(text) // 200 + 1))
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(batch):
            parse_actions(text)
        samples.append((time.perf_counter() - start) / batch)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--old", metavar="REV", help="also time the parser at this git revision")
    parser.add_argument("--timeout", type=float, default=60.0, help="per old measurement")
    parser.add_argument("--hostile-only", action="store_true")
    parser.add_argument(
        "--measure-old", nargs=3, metavar=("REV", "KIND", "SIZE"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.measure_old:
        rev, kind, size = args.measure_old
        print(_time_once(_old_parser(rev), HOSTILE[kind](int(size))))
        return
    if args.hostile_only:
        _hostile_table(args.old, args.timeout)
        return
    print(f"{'text':<32} {'chars':>7} {'format':<14} {'actions':>7} {'us/call':>9} {'calls/s':>9}")
    for name, text in TEXTS.items():
        result = parse_actions(text)
        per_call = _time(text, args.repeat)
        print(
            f"{name:<32} {len(text):>7} {result.format:<14} {len(result.actions):>7} "
            f"{per_call * 1e6:>9.1f} {1 / per_call:>9.0f}"
        )
    _hostile_table(args.old, args.timeout)


if __name__ == "__main__":
    main()

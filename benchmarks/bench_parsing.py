"""Parser speed on typical and hostile model outputs (the environment parses in its hot path).

Run: ``python benchmarks/bench_parsing.py [--repeat N]``; prints microseconds per call and calls
per second for each kind of text, side by side with its length.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

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
    args = parser.parse_args()
    print(f"{'text':<32} {'chars':>7} {'format':<14} {'actions':>7} {'us/call':>9} {'calls/s':>9}")
    for name, text in TEXTS.items():
        result = parse_actions(text)
        per_call = _time(text, args.repeat)
        print(
            f"{name:<32} {len(text):>7} {result.format:<14} {len(result.actions):>7} "
            f"{per_call * 1e6:>9.1f} {1 / per_call:>9.0f}"
        )


if __name__ == "__main__":
    main()

"""The cost of typed run records: reading a prediction file, and importing pydantic.

Run: ``python benchmarks/bench_records.py [--records N] [--old REV]``.

Reads a prediction file of ``N`` runner-style records (default 4,296: the full-size benchmark's
1,074 videos x 4 samples) with :func:`visualact_env.loading.parse_predictions` and prints CPU
seconds (CPU time, not wall time: the figures stay comparable on a busy machine): the first
call (which imports pydantic and builds the record models) and the best of five later calls.
With ``--old REV`` the same file is read by the code at git revision ``REV`` (extracted with
``git archive`` into a temporary folder, run in a subprocess), side by side: e.g.
``--old 7344463`` is the hand-written reader before the typed records. It also prints whether
importing the environment pulls in pydantic (it must not).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from io import BytesIO
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _write_file(path: Path, n: int) -> Path:
    rows = []
    for i in range(n):
        rows.append(
            {
                "format_version": 1,
                "video_id": f"v{i // 4}",
                "sample": i % 4,
                "actions": [
                    {"text": f"do thing {j} for video {i}", "apl": j % 5, "proactive": j % 2 == 1}
                    for j in range(4)
                ],
                "raw_text": "1. do thing " * 25,
                "usage": {"prompt_tokens": 1000, "completion_tokens": 60},
                "diagnostics": ["format: list"],
                "latency_s": 1.5,
            }
        )
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _measure(path: str) -> str:
    """CPU seconds of the first and the best of five later reads (run in the code under test)."""
    from visualact_env.loading import parse_predictions

    t = time.process_time()
    n = len(parse_predictions(path))
    first = time.process_time() - t
    later = []
    for _ in range(5):
        t = time.process_time()
        parse_predictions(path)
        later.append(time.process_time() - t)
    return json.dumps({"records": n, "first": first, "best": min(later)})


def _run(src: Path, path: Path) -> dict[str, float]:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(src), os.environ.get("PYTHONPATH", "")]),
    }
    cmd = [sys.executable, __file__, "--measure", str(path)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _source_at(rev: str, into: Path) -> Path:
    data = subprocess.run(
        ["git", "-C", str(ROOT), "archive", rev, "visualact_env"], capture_output=True, check=True
    ).stdout
    with tarfile.open(fileobj=BytesIO(data)) as tar:
        tar.extractall(into, filter="data")
    return into


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=4296)
    parser.add_argument("--old", metavar="REV", help="also time the reader at this revision")
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(_measure(args.measure))
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        path = _write_file(Path(tmp) / "predictions.jsonl", args.records)
        rows = [("this tree", _run(ROOT, path))]
        if args.old:
            rows.append((f"old {args.old}", _run(_source_at(args.old, Path(tmp) / "old"), path)))
    print(f"parse_predictions, {args.records} records (CPU seconds)")
    print(f"{'code':<16} {'first call':>11} {'best later':>11} {'us/record':>10}")
    for name, r in rows:
        per = r["best"] / r["records"] * 1e6
        print(f"{name:<16} {r['first']:>11.3f} {r['best']:>11.3f} {per:>10.1f}")
    probe = "import sys, visualact_env.envs, visualact_env.loading, visualact_env.runner; print('pydantic' in sys.modules)"
    env = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT
    )
    print(f"pydantic imported by the environment, loading and runner modules: {env.stdout.strip()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Time ``write_reports`` and ``compare_runs`` on a full-size run (1,074 videos, no clips).

Usage: python benchmarks/bench_reports.py [NUM_VIDEOS]

Builds oracle-like and half-right prediction sets for the synthetic full-size benchmark
(annotations only: cards say the clips are missing, so no frames are decoded), then prints
the wall time of each step and the size of the files written. Numbers depend on the machine
and its load; nothing here is asserted.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from report_fixtures import oracle_predictions, partial_predictions, run_config, write_run  # noqa: E402

from visualact_env.datasets import load_benchmark  # noqa: E402
from visualact_env.metric import Scorer  # noqa: E402
from visualact_env.report import compare_runs, write_compare, write_reports  # noqa: E402


def main() -> None:
    bench = load_benchmark("synthetic-full", check_videos=False)
    if len(sys.argv) > 1:
        bench = bench.subset(video_ids=bench.video_ids[: int(sys.argv[1])])
    scorer = Scorer(tau=0.5)
    t = time.perf_counter()
    scorer.embedder.encode([a.text for r in bench for a in r.actions] + ["water the garden plants"])
    print(
        f"warm-up encode (model load + {bench.num_actions} texts): {time.perf_counter() - t:.1f} s"
    )
    root = Path(tempfile.mkdtemp())
    runs = {}
    for name, preds in (
        ("oracle", oracle_predictions(bench)),
        ("partial", partial_predictions(bench)),
    ):
        runs[name] = write_run(root / name, run_config(bench, name), preds)
        t = time.perf_counter()
        write_reports(runs[name], bench, scorer, n_resamples=1000)
        dt = time.perf_counter() - t
        sizes = {p.name: p.stat().st_size for p in runs[name].iterdir() if p.is_file()}
        print(
            f"write_reports {name} ({len(bench)} videos, 1000 resamples): {dt:.1f} s; "
            f"report.html {sizes['report.html'] / 1e6:.1f} MB, summary.json "
            f"{sizes['summary.json'] / 1e3:.0f} kB"
        )
    t = time.perf_counter()
    result = compare_runs([runs["partial"], runs["oracle"]], scorer=scorer, n_resamples=2000)
    write_compare(result, root / "cmp")
    print(f"compare 2 runs (2000 paired resamples) + files: {time.perf_counter() - t:.1f} s")
    print(json.dumps(result["comparisons"][0]["figures"]["f1"]))


if __name__ == "__main__":
    main()

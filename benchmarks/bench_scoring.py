"""Whole-command scoring speed: a naive paper-style scorer vs ``visualact score`` cold and warm.

On the full-size synthetic benchmark (1,074 videos, 3,733 ground-truth actions, from
``visualact_env.demo.generate_synthetic``) with seeded predictions derived from the ground truth
(paraphrases, APL noise, dropped actions and distractors; about 4 per video), it measures in one
run, each as a separate process (Python start-up included):

* ``naive``: the scorer a paper script would write
  (:mod:`visualact_env.testing.naive_scorer`): ``SentenceTransformer.encode`` once per video
  (its predictions and ground truth together), no cache;
* ``cold``: ``python -m visualact_env score --json`` with an empty embedding cache;
* ``warm``: the same command again, every text cached (best of ``--warm-runs``).

Checks, each printed as PASS or FAIL/MISS:

* agreement: every figure (the per-video and the pooled ones) of every scorer equals the warm
  run's within ``--tolerance`` (default 1e-6). A FAIL exits with status 1: the scorers disagree.
* speed targets: cold at least 3x and warm at least 30x faster than naive. A shared 2-core
  machine is noisy, so a target not met prints MISS and does *not* change the exit status.

Then it prints in-process figures for the hot paths (``Scorer.score_many`` on warm embeddings,
bootstrap).

    python benchmarks/bench_scoring.py            # full run (a few minutes on 2 cores)
    python benchmarks/bench_scoring.py --videos 200 --skip-naive   # a quick look
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from visualact_env.testing.naive_scorer import (
    NAIVE_FIGURES,
    largest_difference,
    make_predictions,
    naive_score,
)

# ------------------------------------------------------------------ measuring


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, str]:
    t0 = time.perf_counter()
    out = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if out.returncode != 0:
        raise SystemExit(f"command failed ({out.returncode}): {' '.join(cmd)}\n{out.stderr}")
    return wall, out.stdout


def in_process_figures(annotations: Path, predictions: Path) -> dict[str, float]:
    """Hot-path timings inside one process, with the embedding cache warm."""
    from visualact_env.loading import parse_annotations, parse_predictions
    from visualact_env.metric import Scorer, score_predictions
    from visualact_env.stats import bootstrap_ci, paired_comparison

    bench = parse_annotations(annotations, check_videos=False)
    preds = parse_predictions(predictions, bench)
    scorer = Scorer()
    score_predictions(bench, preds, scorer)  # loads the cache
    t0 = time.perf_counter()
    report = score_predictions(bench, preds, scorer)
    t_all = time.perf_counter() - t0
    by_id = {p.video_id: p for p in preds}
    pairs = [(by_id[r.video_id].actions, r.actions) for r in bench]
    some = pairs[:200]
    t0 = time.perf_counter()
    for p, g in some:
        scorer.score_video(p, g)
    t_one = (time.perf_counter() - t0) / len(some)
    t0 = time.perf_counter()
    bootstrap_ci(report, n_resamples=1000, seed=0)
    t_boot = time.perf_counter() - t0
    t0 = time.perf_counter()
    paired_comparison(report, report, n_resamples=1000, seed=0)
    t_pair = time.perf_counter() - t0
    return {
        "score_predictions_warm_s": t_all,
        "score_video_warm_ms": 1000 * t_one,
        "bootstrap_1000_s": t_boot,
        "paired_1000_s": t_pair,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--videos", type=int, default=1074)
    ap.add_argument("--warm-runs", type=int, default=3)
    ap.add_argument("--skip-naive", action="store_true")
    ap.add_argument("--tolerance", type=float, default=1e-6, help="largest allowed difference")
    ap.add_argument("--keep", action="store_true", help="keep the temporary work folder")
    ap.add_argument("--naive-run", nargs=2, metavar=("ANNOTATIONS", "PREDICTIONS"), help=argparse.SUPPRESS)  # fmt: skip
    args = ap.parse_args()
    if args.naive_run:
        print(json.dumps(naive_score(Path(args.naive_run[0]), Path(args.naive_run[1]))))
        return

    from visualact_env.demo import generate_synthetic

    work = Path(tempfile.mkdtemp(prefix="bench-scoring-"))
    ann = generate_synthetic(root=work / "synthetic", num_videos=args.videos, with_videos=False)
    pred = work / "predictions.jsonl"
    sizes = make_predictions(ann, pred, seed=0)
    env = dict(os.environ, VISUALACT_CACHE_DIR=str(work / "cache"), HF_HUB_OFFLINE="1")
    env["TOKENIZERS_PARALLELISM"] = "false"
    print(f"data: {sizes}  (cores: {os.cpu_count()})", flush=True)

    results: dict[str, float] = {}
    figures: dict[str, dict[str, float | None]] = {}
    if not args.skip_naive:
        wall, out = timed([sys.executable, __file__, "--naive-run", str(ann), str(pred)], env)
        results["naive"], figures["naive"] = wall, json.loads(out)
        print(f"naive  {wall:7.2f} s", flush=True)
    score = [sys.executable, "-m", "visualact_env", "score", "--annotations", str(ann)]
    score += ["--predictions", str(pred), "--json"]
    wall, out = timed(score, env)
    results["cold"], figures["cold"] = wall, json.loads(out)["overall"]
    print(f"cold   {wall:7.2f} s", flush=True)
    warm = []
    for _ in range(args.warm_runs):
        wall, out = timed(score, env)
        warm.append(wall)
        figures["warm"] = json.loads(out)["overall"]
    results["warm"] = min(warm)
    print(f"warm   {results['warm']:7.2f} s  (runs: {', '.join(f'{w:.2f}' for w in warm)})")
    failed = False
    if "naive" in results:
        for name, target in (("cold", 3.0), ("warm", 30.0)):
            speedup = results["naive"] / results[name]
            verdict = "PASS" if speedup >= target else "MISS (not a failure: timing is noisy)"
            print(f"speed-up of {name} vs naive: x{speedup:.1f} (target x{target:.0f}): {verdict}")
    print("\nfigure              " + "".join(f"{k:>10}" for k in figures))
    for name in NAIVE_FIGURES:
        cells = [figures[k].get(name) for k in figures]
        print(f"{name:<20}" + "".join(f"{'-':>10}" if c is None else f"{c:10.4f}" for c in cells))
    for name in figures:
        if name == "warm":
            continue
        diff, where = largest_difference(figures[name], figures["warm"])
        ok = diff <= args.tolerance
        failed |= not ok
        print(
            f"agreement {name} vs warm on {len(NAIVE_FIGURES)} figures: largest difference "
            f"{diff:.2e} ({where}), tolerance {args.tolerance:.0e}: {'PASS' if ok else 'FAIL'}"
        )

    os.environ["VISUALACT_CACHE_DIR"] = env["VISUALACT_CACHE_DIR"]
    hot = in_process_figures(ann, pred)
    print("\nin-process (warm cache): " + ", ".join(f"{k} {v:.3f}" for k, v in hot.items()))
    print(f"warm median {statistics.median(warm):.2f} s")
    if args.keep:
        print(f"work folder kept: {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    if failed:
        print("FAIL: the scorers disagree (see above)")
        sys.exit(1)


if __name__ == "__main__":
    main()

"""Whole-command scoring speed: a naive paper-style scorer vs ``visualact score`` on each encoder.

On the full-size synthetic benchmark (1,074 videos, 3,733 ground-truth actions, from
``visualact_env.demo.generate_synthetic``) with seeded predictions derived from the ground truth
(paraphrases, APL noise, dropped actions and distractors; about 4 per video), it measures in one
run, each as a separate process (Python start-up included), each with a cold embedding cache:

* ``naive``: the scorer a paper script would write
  (:mod:`visualact_env.testing.naive_scorer`): ``SentenceTransformer.encode`` once per video
  (its predictions and ground truth together), no cache;
* ``torch``: ``python -m visualact_env score --json`` on the torch encoder
  (``VISUALACT_EMBEDDING_BACKEND=torch``: what the command did before ONNX Runtime);
* ``onnx-fp32``: the same command on the default path, the ONNX Runtime fp32 graph;
* ``int8``: the same command with ``--embedder minilm-int8``;
* ``warm``: the default command again, every text cached (best of ``--warm-runs``).

The ONNX graphs are exported and verified once beforehand (timed and printed apart: a one-time
cost per machine), then shared by the ONNX runs; their embedding caches start empty.

Checks, each printed as PASS or FAIL/MISS:

* agreement: every figure (the per-video and the pooled ones) of naive, torch and onnx-fp32
  equals the warm run's within ``--tolerance`` (default 1e-6);
* identity of the fp32 graph: over every (prediction, ground truth) pair of every video, the
  largest absolute cosine difference to the torch encoder, and zero threshold decisions that
  differ at tau 0.5 and 0.7, and every figure equal at both taus. The int8 path's flipped
  decisions and the change of each figure are printed (it has its own identity);
* speed targets: the default (onnx-fp32) cold path at least 8x and warm at least 30x faster
  than naive. A shared 2-core machine is noisy, so a target not met prints MISS and does *not*
  change the exit status. Any FAIL exits with status 1.

Then it prints the start-up of each encoder (a new process until its first vector) and
in-process figures for the hot paths (``Scorer.score_many`` on warm embeddings, bootstrap).

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

import numpy as np

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


PATHS: dict[str, tuple[dict[str, str], list[str]]] = {
    "torch": ({"VISUALACT_EMBEDDING_BACKEND": "torch"}, []),
    "onnx-fp32": ({"VISUALACT_EMBEDDING_BACKEND": "onnx"}, []),
    "int8": ({"VISUALACT_EMBEDDING_BACKEND": "onnx"}, ["--embedder", "minilm-int8"]),
}
"""Each encoder path: environment and extra ``score`` options."""

FIRST_VECTOR = (
    "from visualact_env.embedding import Embedder; "
    "e = Embedder({model!r}, cache=False); e.encode(['call for help right away']); "
    "import sys; print(e.encoder_kind, 'torch' in sys.modules)"
)


def path_env(base: dict[str, str], work: Path, name: str, graphs: Path) -> dict[str, str]:
    """The environment of one encoder path: its own empty cache, the shared ONNX graphs."""
    cache = work / f"cache-{name}"
    cache.mkdir(parents=True, exist_ok=True)
    if not (cache / "onnx").exists():
        (cache / "onnx").symlink_to(graphs / "onnx", target_is_directory=True)
    return {**base, **PATHS[name][0], "VISUALACT_CACHE_DIR": str(cache)}


def scorers(work: Path) -> dict[str, object]:
    """In-process Scorers reading each path's (now warm) embedding cache."""
    from visualact_env.embedding import Embedder
    from visualact_env.metric import Scorer

    out: dict[str, object] = {}
    for name, (extra, options) in PATHS.items():
        os.environ["VISUALACT_CACHE_DIR"] = str(work / f"cache-{name}")
        model = options[1] if options else None
        out[name] = Scorer(Embedder(model, backend=extra["VISUALACT_EMBEDDING_BACKEND"]))
    return out


def decision_check(ann: Path, pred: Path, work: Path) -> bool:
    """fp32 and int8 against torch: cosines, decisions and figures at tau 0.5 and 0.7 over
    every (prediction, ground truth) pair; returns False when fp32 differs from torch."""
    from visualact_env.loading import parse_annotations, parse_predictions
    from visualact_env.metric import score_predictions, tie_keys

    bench = parse_annotations(ann, check_videos=False)
    preds = parse_predictions(pred, bench)
    by_id = {p.video_id: p for p in preds}
    pairs = [(by_id[r.video_id].actions, r.actions) for r in bench if r.video_id in by_id]
    made = scorers(work)
    sims = {name: s.similarities(pairs) for name, s in made.items()}  # type: ignore[attr-defined]
    n_pairs = sum(m.size for m in sims["torch"])
    print(f"\nagainst the torch encoder, over {n_pairs} (prediction, ground truth) pairs:")
    ok = True
    for name in ("onnx-fp32", "int8"):
        diff = max(
            float(np.abs(a - b).max())
            for a, b in zip(sims[name], sims["torch"], strict=True)
            if a.size
        )
        flips = {
            tau: sum(
                int((tie_keys(a, tau)[1] != tie_keys(b, tau)[1]).sum())
                for a, b in zip(sims[name], sims["torch"], strict=True)
                if a.size
            )
            for tau in (0.5, 0.7)
        }
        print(
            f"  {name:<10} largest |cosine difference| {diff:.2e}; pair decisions "
            "(similarity >= tau) differing: "
            + ", ".join(f"{v} at tau {t}" for t, v in flips.items())
        )
        if name == "onnx-fp32" and (diff > 1e-5 or any(flips.values())):
            ok = False
    for tau in (0.5, 0.7):
        figures, matched = {}, {}
        for name, scorer in made.items():
            scorer.tau = tau  # type: ignore[attr-defined]
            report = score_predictions(bench, preds, scorer)
            figures[name] = report.figures()["overall"]
            matched[name] = {
                (vid, p.pred_index, p.gt_index)
                for vid, score in report.scores.items()
                for p in score.pairs
                if p.matched
            }
        same = all(figures["onnx-fp32"][k] == figures["torch"][k] for k in NAIVE_FIGURES)
        same &= matched["onnx-fp32"] == matched["torch"]
        ok &= same
        for name in ("onnx-fp32", "int8"):
            gone, new = matched["torch"] - matched[name], matched[name] - matched["torch"]
            videos = len({v for v, *_ in gone | new})
            print(
                f"\ntau {tau}, {name}: true positives {len(matched[name])} (torch "
                f"{len(matched['torch'])}); lost {len(gone)}, gained {len(new)}, in {videos} videos"
            )
        print(f"\nfigures at tau {tau}: fp32 equal to torch on every figure: {'PASS' if same else 'FAIL'}")  # fmt: skip
        print(f"{'figure':<20}{'torch':>10}{'onnx-fp32':>11}{'int8':>10}{'int8-torch':>12}")
        for k in NAIVE_FIGURES:
            t, f, q = (figures[n].get(k) for n in ("torch", "onnx-fp32", "int8"))
            if t is None or f is None or q is None:
                continue
            print(f"{k:<20}{t:10.4f}{f:11.4f}{q:10.4f}{q - t:+12.5f}")
    return ok


def first_vector_times(env: dict[str, str], work: Path, graphs: Path, runs: int = 3) -> None:
    """Start-up of each encoder: a new process until its first vector (graphs present)."""
    print("\nstart-up (new process until the first vector, graphs present; best of 3):")
    for name, (_, options) in PATHS.items():
        code = FIRST_VECTOR.format(model=options[1] if options else None)
        walls, out = [], ""
        for _ in range(runs):
            wall, out = timed([sys.executable, "-c", code], path_env(env, work, name, graphs))
            walls.append(wall)
        print(f"  {name:<10} {min(walls):6.2f} s  ({out.strip()}: encoder, torch imported)")


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
    env = dict(os.environ, HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    print(f"data: {sizes}  (cores: {os.cpu_count()})", flush=True)

    graphs = work / "graphs"
    build = (
        "from visualact_env.embedding import Embedder; "
        "Embedder(cache=False, backend='onnx').encode(['x']); "
        "Embedder('minilm-int8', cache=False).encode(['x'])"
    )
    wall, _ = timed([sys.executable, "-c", build], {**env, "VISUALACT_CACHE_DIR": str(graphs)})
    print(f"one-time ONNX export + verification (fp32 and int8): {wall:.1f} s", flush=True)

    results: dict[str, float] = {}
    figures: dict[str, dict[str, float | None]] = {}
    if not args.skip_naive:
        naive_env = {**env, "VISUALACT_CACHE_DIR": str(work / "cache-naive")}
        wall, out = timed([sys.executable, __file__, "--naive-run", str(ann), str(pred)], naive_env)
        results["naive"], figures["naive"] = wall, json.loads(out)
        print(f"naive      {wall:7.2f} s", flush=True)
    score = [sys.executable, "-m", "visualact_env", "score", "--annotations", str(ann)]
    score += ["--predictions", str(pred), "--json"]
    for name, (_, options) in PATHS.items():
        wall, out = timed(score + options, path_env(env, work, name, graphs))
        results[name], figures[name] = wall, json.loads(out)["overall"]
        print(f"{name:<10} {wall:7.2f} s", flush=True)
    warm = []
    for _ in range(args.warm_runs):
        wall, out = timed(score, path_env(env, work, "onnx-fp32", graphs))
        warm.append(wall)
        figures["warm"] = json.loads(out)["overall"]
    results["warm"] = min(warm)
    print(f"warm       {results['warm']:7.2f} s  (runs: {', '.join(f'{w:.2f}' for w in warm)})")
    failed = False
    if "naive" in results:
        print(f"\n{'path':<12}{'wall s':>8}{'vs naive':>10}")
        for name in ("naive", *PATHS, "warm"):
            print(f"{name:<12}{results[name]:8.2f}{results['naive'] / results[name]:9.1f}x")
        for name, target in (("onnx-fp32", 8.0), ("warm", 30.0)):
            speedup = results["naive"] / results[name]
            verdict = "PASS" if speedup >= target else "MISS (not a failure: timing is noisy)"
            print(f"speed-up of {name} vs naive: x{speedup:.1f} (target x{target:.0f}): {verdict}")
    print("\nfigure              " + "".join(f"{k:>10}" for k in figures))
    for name in NAIVE_FIGURES:
        cells = [figures[k].get(name) for k in figures]
        print(f"{name:<20}" + "".join(f"{'-':>10}" if c is None else f"{c:10.4f}" for c in cells))
    for name in figures:
        if name in ("warm", "int8"):
            continue
        diff, where = largest_difference(figures[name], figures["warm"])
        ok = diff <= args.tolerance
        failed |= not ok
        print(
            f"agreement {name} vs warm on {len(NAIVE_FIGURES)} figures: largest difference "
            f"{diff:.2e} ({where}), tolerance {args.tolerance:.0e}: {'PASS' if ok else 'FAIL'}"
        )
    same = decision_check(ann, pred, work)
    failed |= not same
    first_vector_times(env, work, graphs)

    os.environ["VISUALACT_CACHE_DIR"] = str(work / "cache-onnx-fp32")
    hot = in_process_figures(ann, pred)
    print("\nin-process (warm cache): " + ", ".join(f"{k} {v:.3f}" for k, v in hot.items()))
    print(f"warm median {statistics.median(warm):.2f} s")
    if args.keep:
        print(f"work folder kept: {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    if failed:
        print("FAIL: the scorers disagree, or the fp32 graph's decisions differ from torch's")
        sys.exit(1)


if __name__ == "__main__":
    main()

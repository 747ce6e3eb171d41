"""Whole-command scoring speed: a naive paper-style scorer vs ``visualact score`` cold and warm.

On the full-size synthetic benchmark (1,074 videos, 3,733 ground-truth actions, from
``visualact_env.demo.generate_synthetic``) with seeded predictions derived from the ground truth
(paraphrases, APL noise, dropped actions and distractors; about 4 per video), it measures in one
run, each as a separate process (Python start-up included):

* ``naive``: the scorer a paper script would write, in this file: ``SentenceTransformer.encode``
  once per video (its predictions and ground truth together), no cache;
* ``cold``: ``python -m visualact_env score --json`` with an empty embedding cache;
* ``warm``: the same command again, every text cached (best of ``--warm-runs``).

It checks that the three agree on the figures, then prints the times and speed-ups side by side,
plus in-process figures for the hot paths (``Scorer.score_many`` on warm embeddings, bootstrap).

    python benchmarks/bench_scoring.py            # full run (about a minute or two on 2 cores)
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

PREFIXES = ("", "Please ", "Quickly ", "You should ", "Try to ", "It is best to ", "Remember to ")
SUFFIXES = ("", " now", " right away", " carefully", " if possible", " as soon as possible")
SWAPS = (
    ("the person", "the individual"),
    ("Make sure", "Ensure"),
    ("Check", "Verify"),
    ("Tell", "Inform"),
    ("Turn off", "Switch off"),
    ("floor", "ground"),
)
DISTRACTORS = (
    "Keep observing the scene",
    "Wait for further instructions",
    "Take a photo of the area",
    "Write down what happened",
    "Stay calm and do nothing",
    "Look around the room",
    "Ask someone nearby what to do",
    "Open the nearest window",
    "Play some relaxing music",
    "Report the situation to a supervisor",
)


def paraphrase(text: str, rng: np.random.Generator) -> str:
    """A seeded surface variation of an action sentence (prefix, synonyms, suffix)."""
    body = text.rstrip(".")
    for a, b in SWAPS:
        if a in body and rng.random() < 0.5:
            body = body.replace(a, b)
    prefix = PREFIXES[rng.integers(len(PREFIXES))]
    if prefix:
        body = body[0].lower() + body[1:]
    return f"{prefix}{body}{SUFFIXES[rng.integers(len(SUFFIXES))]}."


def make_predictions(annotations: Path, out: Path, seed: int = 0) -> dict[str, int]:
    """Seeded predictions derived from the ground truth; returns size counts."""
    rng = np.random.default_rng(seed)
    rows = []
    for line in annotations.read_text().splitlines():
        rec = json.loads(line)
        actions = []
        for a in rec["actions"]:
            if rng.random() < 0.8:
                apl = a["apl"] if rng.random() < 0.6 else int(np.clip(a["apl"] + rng.integers(-2, 3), 0, 4))  # fmt: skip
                actions.append(
                    {
                        "text": paraphrase(a["text"], rng),
                        "apl": None if rng.random() < 0.05 else apl,
                        "proactive": bool(rng.random() < 0.6),
                    }
                )
        for _ in range(rng.poisson(1.3)):
            base = DISTRACTORS[rng.integers(len(DISTRACTORS))]
            actions.append(
                {"text": paraphrase(base, rng), "apl": int(rng.integers(0, 5)), "proactive": False}
            )
        rng.shuffle(actions)
        rows.append({"video_id": rec["video_id"], "actions": actions})
    out.write_text("".join(json.dumps(r) + "\n" for r in rows))
    gt_texts = [a["text"] for ln in annotations.read_text().splitlines() for a in json.loads(ln)["actions"]]  # fmt: skip
    pred_texts = [a["text"] for r in rows for a in r["actions"]]
    return {
        "videos": len(rows),
        "gt_actions": len(gt_texts),
        "pred_actions": len(pred_texts),
        "unique_texts": len({t.strip() for t in gt_texts + pred_texts}),
    }


# ------------------------------------------------------------------ the naive scorer


def naive_score(annotations: Path, predictions: Path, tau: float = 0.5) -> dict[str, float]:
    """A paper-style scorer: one ``encode`` call per video, no cache, plain loops."""
    from scipy.optimize import linear_sum_assignment
    from sentence_transformers import SentenceTransformer

    from visualact_env.embedding import default_model_path

    model = SentenceTransformer(default_model_path(), device="cpu")
    preds = {}
    for line in predictions.read_text().splitlines():
        r = json.loads(line)
        preds[r["video_id"]] = r["actions"]
    per_scenario: dict[str, list[list[float]]] = {}
    for line in annotations.read_text().splitlines():
        rec = json.loads(line)
        gt, pr = rec["actions"], preds.get(rec["video_id"], [])
        row = [0.0] * 7
        if pr:
            texts = [a["text"].strip() for a in pr] + [a["text"].strip() for a in gt]
            emb = model.encode(texts, normalize_embeddings=True, show_progress_bar=False)
            sim = emb[: len(pr)] @ emb[len(pr) :].T
            rows, cols = linear_sum_assignment(-sim)
            tp, sw = 0, 0.0
            for i, j in zip(rows, cols, strict=True):
                if sim[i, j] >= tau:
                    tp += 1
                    if pr[i].get("apl") is not None:
                        sw += 1 - abs(pr[i]["apl"] - gt[j]["apl"]) / 4
            p, r = tp / len(pr), tp / len(gt)
            wp, wr = sw / len(pr), sw / len(gt)
            f1 = 2 * p * r / (p + r) if p + r else 0.0
            wf1 = 2 * wp * wr / (wp + wr) if wp + wr else 0.0
            row = [p, r, f1, wp, wr, wf1, sw / tp if tp else 0.0]
        per_scenario.setdefault(rec["scenario"], []).append(row)
    means = np.array([np.mean(v, axis=0) for v in per_scenario.values()]).mean(axis=0)
    names = ("precision", "recall", "f1", "weighted_precision", "weighted_recall")
    names += ("weighted_f1", "scale_score")
    return dict(zip(names, means.tolist(), strict=True))


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
    figures: dict[str, dict[str, float]] = {}
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
    if "naive" in results:
        print(f"speed-up vs naive: cold x{results['naive'] / results['cold']:.1f}, "
              f"warm x{results['naive'] / results['warm']:.1f}  (targets x3, x30)")  # fmt: skip
    names = ("precision", "recall", "f1", "weighted_f1", "scale_score")
    print("\nfigure          " + "".join(f"{k:>10}" for k in figures))
    for name in names:
        print(f"{name:<16}" + "".join(f"{figures[k][name]:10.4f}" for k in figures))
    diffs = [abs(figures[a][n] - figures["warm"][n]) for a in figures for n in names]
    print(f"largest difference between scorers: {max(diffs):.2e}")

    os.environ["VISUALACT_CACHE_DIR"] = env["VISUALACT_CACHE_DIR"]
    hot = in_process_figures(ann, pred)
    print("\nin-process (warm cache): " + ", ".join(f"{k} {v:.3f}" for k, v in hot.items()))
    print(f"warm median {statistics.median(warm):.2f} s")
    if args.keep:
        print(f"work folder kept: {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

"""An independent, paper-style scorer, to check the fast one (:mod:`visualact_env.metric`).

It is the scorer a paper's evaluation script would hold: it reads the annotation and
prediction files with ``json``, calls ``SentenceTransformer.encode`` once per video, matches
with ``scipy.optimize.linear_sum_assignment`` on the raw similarities and averages with plain
loops. It shares no code with the library's scorer (only the default model's folder), so where
the two agree on every figure, both are likely right. It knows nothing of the library's tie
rule: on data with exact similarity ties (duplicate texts with different APLs) the two may
legitimately pick different pairs, so compare them on data without such duplicates.

Used by ``benchmarks/bench_scoring.py`` (speed and agreement on the full-size benchmark) and by
``tests/test_naive_scorer.py`` (agreement on every figure, in the test suite).
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

NAIVE_FIGURES: tuple[str, ...] = (
    "precision",
    "recall",
    "f1",
    "weighted_precision",
    "weighted_recall",
    "weighted_f1",
    "scale_score",
    "proactive_recall",
    "reactive_recall",
    "proactive_share",
)
"""The figures :func:`naive_score` computes (written out here, not imported, on purpose)."""

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
    """Write seeded predictions derived from the ground truth of ``annotations`` to ``out``
    (paraphrases, APL noise, dropped actions and distractors; about 4 per video); returns
    size counts."""
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


@lru_cache(maxsize=1)
def _model() -> Any:
    """The default model, loaded by sentence-transformers (once per process)."""
    from sentence_transformers import SentenceTransformer

    from visualact_env.embedding import default_model_path

    return SentenceTransformer(str(default_model_path()), device="cpu")


def naive_score(annotations: Path, predictions: Path, tau: float = 0.5) -> dict[str, float | None]:
    """Overall figures of a prediction file: one ``encode`` call per video, no cache, loops.

    A video without a prediction, or whose record has an ``error``, scores 0. Per-video figures
    are averaged over a scenario's videos, the pooled ones (proactive/reactive recall, share of
    predictions flagged proactive) are ratios of sums over a scenario; the overall figure is the
    mean over the scenarios where it is defined (``None`` where it is defined in none).
    """
    from scipy.optimize import linear_sum_assignment

    model = _model()
    preds: dict[str, list[dict[str, Any]]] = {}
    for line in predictions.read_text().splitlines():
        r = json.loads(line)
        if (r.get("sample") or 0) == 0:
            preds[r["video_id"]] = [] if r.get("error") else r["actions"]
    rows: dict[str, list[list[float]]] = {}
    pools: dict[str, list[float]] = {}
    for line in annotations.read_text().splitlines():
        rec = json.loads(line)
        gt, pr = rec["actions"], preds.get(rec["video_id"], [])
        row = [0.0] * 7
        matched: set[int] = set()
        if pr:
            texts = [a["text"].strip() for a in pr] + [a["text"].strip() for a in gt]
            emb = model.encode(texts, normalize_embeddings=True, show_progress_bar=False)
            sim = emb[: len(pr)] @ emb[len(pr) :].T
            tp, sw = 0, 0.0
            for i, j in zip(*linear_sum_assignment(-sim), strict=True):
                if sim[i, j] >= tau:
                    tp += 1
                    matched.add(int(j))
                    if pr[i].get("apl") is not None:
                        sw += 1 - abs(pr[i]["apl"] - gt[j]["apl"]) / 4
            p, r = tp / len(pr), tp / len(gt)
            wp, wr = sw / len(pr), sw / len(gt)
            f1 = 2 * p * r / (p + r) if p + r else 0.0
            wf1 = 2 * wp * wr / (wp + wr) if wp + wr else 0.0
            row = [p, r, f1, wp, wr, wf1, sw / tp if tp else 0.0]
        rows.setdefault(rec["scenario"], []).append(row)
        pool = pools.setdefault(rec["scenario"], [0.0] * 6)
        for j, a in enumerate(gt):
            k = 0 if a.get("proactive") else 2
            pool[k] += j in matched
            pool[k + 1] += 1
        pool[4] += sum(1 for a in pr if a.get("proactive"))
        pool[5] += len(pr)
    per_scenario: list[list[float | None]] = []
    for scenario, video_rows in rows.items():
        means = [sum(col) / len(video_rows) for col in zip(*video_rows, strict=True)]
        sums = pools[scenario]
        ratios = [sums[k] / sums[k + 1] if sums[k + 1] else None for k in (0, 2, 4)]
        per_scenario.append([*means, *ratios])
    overall: dict[str, float | None] = {}
    for k, name in enumerate(NAIVE_FIGURES):
        defined = [x for x in (row[k] for row in per_scenario) if x is not None]
        overall[name] = sum(defined) / len(defined) if defined else None
    return overall


def largest_difference(a: dict[str, Any], b: dict[str, Any]) -> tuple[float, str]:
    """The largest absolute difference between two figure dicts over :data:`NAIVE_FIGURES`
    and the figure where it is (a figure defined in one and not the other counts as inf)."""
    worst, where = 0.0, ""
    for name in NAIVE_FIGURES:
        x, y = a.get(name), b.get(name)
        if x is None and y is None:
            continue
        diff = float("inf") if x is None or y is None else abs(float(x) - float(y))
        if diff > worst or not where:
            worst, where = diff, name
    return worst, where

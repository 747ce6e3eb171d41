"""``samples.jsonl``: one self-contained line per (video, sample), so nobody joins three files.

A run's evidence is spread over ``predictions.jsonl`` (what the model said), the annotations
(what it should have said) and ``scores.jsonl`` (how the metric paired them). Each line here
joins them for one video and one sample:

* ``video_id``, ``scenario``, ``sample``, ``status`` (``scored`` / ``failed`` / ``missing``);
* ``ground_truth`` and ``proposals``: ``{"index", "text", "apl", "proactive"}`` each;
* the model's ``raw_text``, ``parse_error``, parser ``diagnostics`` and a failure's ``error``
  (``null`` when the record has none);
* ``figures`` (the video's precision ... scale_score) and ``counts`` (``tp``, ``m``, ``n``);
* ``pairs``: every pair of the metric's one-to-one assignment with both texts, its
  ``similarity`` (rounded as the metric rounds it), APL ``weight`` and ``matched``
  (similarity >= tau);
* ``near_misses``: each ground-truth action left unmatched, with the proposal most similar to
  it and that similarity, when it is below tau -- the answers that "almost" counted (a
  ground-truth action whose best proposal reaches tau but was assigned elsewhere is not a near
  miss: it lost the one-to-one assignment, which ``pairs`` shows).

Written by :func:`visualact_env.report.write_reports` for every sample of the run (``--samples
K`` gives K lines per video), from the same scorer as the tables.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..metric import SIMILARITY_DECIMALS, score_predictions
from ..records import Action, Benchmark, Prediction
from ..rundir import SAMPLES_FILE
from .jsonvalues import clean_value as _clean

__all__ = ["SAMPLES_FILE", "sample_row", "sample_rows"]


def _action(index: int, action: Action) -> dict[str, Any]:
    return {"index": index, **action.to_dict()}


def _sim(value: float) -> float:
    return round(float(value), SIMILARITY_DECIMALS)


def _near_misses(
    score: Any, pred: Sequence[Action], gt: Sequence[Action], tau: float
) -> list[dict[str, Any]]:
    """Unmatched ground-truth actions whose best proposal stays below ``tau``, most similar
    first (ties by ground-truth index)."""
    sim = score.similarity
    if sim is None or not len(pred) or not len(gt):
        return []
    matched = {p.gt_index for p in score.pairs if p.matched}
    misses = []
    for j in range(len(gt)):
        if j in matched:
            continue
        i = int(sim[:, j].argmax())
        s = _sim(sim[i, j])
        if s < tau:
            misses.append(
                {
                    "gt": j,
                    "gt_text": gt[j].text,
                    "pred": i,
                    "pred_text": pred[i].text,
                    "similarity": s,
                }
            )
    return sorted(misses, key=lambda m: (-m["similarity"], m["gt"]))


def sample_row(
    record: Any, prediction: Prediction | None, score: Any, sample: int, tau: float
) -> dict[str, Any]:
    """The ``samples.jsonl`` line of one video and sample (``score`` kept its similarity)."""

    proposals = list(prediction.actions) if prediction is not None else []
    scored = score.status == "scored"
    shown = proposals if scored else []
    gt = list(record.actions)
    extra = prediction.extra if prediction is not None else {}
    return {
        "video_id": record.video_id,
        "scenario": record.scenario,
        "sample": sample,
        "status": score.status,
        "ground_truth": [_action(j, a) for j, a in enumerate(gt)],
        "proposals": [_action(i, a) for i, a in enumerate(proposals)],
        "raw_text": extra.get("raw_text"),
        "parse_error": extra.get("parse_error"),
        "diagnostics": extra.get("diagnostics"),
        "error": prediction.error if prediction is not None else None,
        "figures": {f: _clean(v) for f, v in score.figures().items()},
        "counts": {"tp": score.tp, "m": score.m, "n": score.n},
        "pairs": [
            {
                "pred": p.pred_index,
                "gt": p.gt_index,
                "pred_text": shown[p.pred_index].text,
                "gt_text": gt[p.gt_index].text,
                "similarity": _sim(p.similarity),
                "weight": p.weight,
                "matched": p.matched,
            }
            for p in score.pairs
        ],
        "near_misses": _near_misses(score, shown, gt, tau) if scored else [],
    }


def sample_rows(
    benchmark: Benchmark,
    predictions: Sequence[Prediction],
    scorer: Any,
    samples: int = 1,
    reports: Mapping[int, Any] | None = None,
) -> list[dict[str, Any]]:
    """Every (video, sample) line, sample by sample, videos in benchmark order.

    ``reports`` may hold already computed :class:`~visualact_env.metric.ScoreReport` s that kept
    their similarity matrices (``keep_similarity=True``); other samples are scored here.
    """
    index = {(p.video_id, int(p.extra.get("sample", 0) or 0)): p for p in predictions}
    rows = []
    for k in range(max(1, int(samples))):
        report = (reports or {}).get(k)
        if report is None or any(
            s.status == "scored" and s.similarity is None for s in report.scores.values()
        ):
            report = score_predictions(benchmark, predictions, scorer, sample=k, keep_similarity=True)  # fmt: skip
        for record in benchmark:
            score = report.scores[record.video_id]
            rows.append(
                sample_row(record, index.get((record.video_id, k)), score, k, float(scorer.tau))
            )
    return rows

"""The fast scorer agrees with an independent, paper-style one on every figure.

:mod:`visualact_env.testing.naive_scorer` reads the files with ``json``, embeds with
``SentenceTransformer.encode`` once per video and matches with scipy on raw similarities; it
shares no scoring code with :mod:`visualact_env.metric`. ``benchmarks/bench_scoring.py`` does
the same check on the full-size benchmark (and times both).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from visualact_env.demo import generate_synthetic
from visualact_env.loading import parse_annotations, parse_predictions
from visualact_env.metric import FIGURES, score_predictions
from visualact_env.testing.naive_scorer import (
    NAIVE_FIGURES,
    largest_difference,
    make_predictions,
    naive_score,
)


def test_naive_figures_are_the_metric_figures() -> None:
    assert set(NAIVE_FIGURES) == set(FIGURES)


@pytest.mark.slow
def test_fast_scorer_agrees_with_naive_scorer_on_every_figure(tmp_path: Path, scorer) -> None:
    ann = generate_synthetic(root=tmp_path / "synthetic", num_videos=24, with_videos=False)
    pred = tmp_path / "predictions.jsonl"
    sizes = make_predictions(ann, pred, seed=3)
    # one failed video and one missing video: both score 0 and still count
    rows = [json.loads(line) for line in pred.read_text().splitlines()]
    rows[0] = {"video_id": rows[0]["video_id"], "actions": [], "error": "timeout"}
    del rows[-1]
    pred.write_text("".join(json.dumps(r) + "\n" for r in rows))

    bench = parse_annotations(ann, check_videos=False)
    report = score_predictions(bench, parse_predictions(pred, bench), scorer)
    fast = report.figures()["overall"]
    naive = naive_score(ann, pred, tau=scorer.tau)

    counts = fast["counts"]
    assert counts["failed"] == 1 and counts["missing"] == 1
    assert 0 < counts["true_positives"] < sizes["gt_actions"]  # neither trivial nor perfect
    assert all(0.05 < fast[f] < 0.95 for f in FIGURES), fast
    diff, where = largest_difference(fast, naive)
    assert diff <= 1e-6, (where, fast[where], naive[where])


def test_largest_difference_finds_the_figure() -> None:
    """The comparison can fail: it names the figure that differs, and a figure defined on one
    side only is an infinite difference."""
    a = dict.fromkeys(NAIVE_FIGURES, 0.5)
    assert largest_difference(a, dict(a)) == (0.0, NAIVE_FIGURES[0])
    assert largest_difference(a, {**a, "scale_score": 0.5 + 1e-4}) == pytest.approx((1e-4, "scale_score"))  # fmt: skip
    assert largest_difference(a, {**a, "reactive_recall": None})[0] == float("inf")

"""``samples.jsonl``: the joined per-(video, sample) log, checked line by line against the scorer.

A hand-written run on the real demo benchmark with two samples (a partial answer, paraphrases,
an unrelated action, a failure, a missing video and an unparseable answer), scored by the real
reports step; every pair, weight, figure and near miss is recomputed here from the real
embedding model's similarity matrix.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from report_fixtures import partial_predictions, run_config, write_run

from visualact_env.metric import SIMILARITY_DECIMALS
from visualact_env.records import Action
from visualact_env.report import write_reports

PARSE_ERROR = "no JSON object or list of actions found"


def _second_sample(demo) -> list[dict]:
    """Sample 1: each video's first action reworded, an unrelated action; one unparseable."""
    rows = []
    for i, r in enumerate(demo):
        if i == 3:
            rows.append(
                {
                    "video_id": r.video_id,
                    "sample": 1,
                    "actions": [],
                    "raw_text": "I think the robot should be careful.",
                    "parse_error": PARSE_ERROR,
                    "diagnostics": ["no_json"],
                }
            )
            continue
        first = r.actions[0]
        rows.append(
            {
                "video_id": r.video_id,
                "sample": 1,
                "actions": [
                    {"text": f"please {first.text.lower()}", "apl": first.apl, "proactive": True},
                    {"text": "tidy the bookshelf", "apl": 1, "proactive": False},
                ],
                "raw_text": "1. please ...\n2. tidy the bookshelf",
            }
        )
    return rows


@pytest.fixture(scope="module")
def logged(tmp_path_factory, demo, scorer):
    config = run_config(demo, "partial")
    config["samples"] = 2
    first = [dict(p, sample=0) for p in partial_predictions(demo)]
    folder = write_run(tmp_path_factory.mktemp("run") / "r", config, first + _second_sample(demo))
    write_reports(folder, demo, scorer, n_resamples=50, html=False, plots=False)
    lines = (folder / "samples.jsonl").read_text(encoding="utf-8").splitlines()
    predictions = {
        (p["video_id"], p["sample"]): p
        for p in (json.loads(x) for x in (folder / "predictions.jsonl").open())
    }
    return folder, [json.loads(line) for line in lines], predictions


def test_one_line_per_video_and_sample(logged, demo) -> None:
    _, rows, _ = logged
    assert [(r["video_id"], r["sample"]) for r in rows] == [
        (v, k) for k in (0, 1) for v in demo.video_ids
    ]
    statuses = {(r["video_id"], r["sample"]): r["status"] for r in rows}
    assert statuses[(demo.video_ids[1], 0)] == "failed"
    assert statuses[(demo.video_ids[-1], 0)] == "missing"
    assert statuses[(demo.video_ids[-1], 1)] == "scored"


def test_lines_carry_the_record_and_the_annotations(logged, demo) -> None:
    _, rows, predictions = logged
    for row in rows:
        record = demo[row["video_id"]]
        assert row["scenario"] == record.scenario
        assert row["ground_truth"] == [
            {"index": j, **a.to_dict()} for j, a in enumerate(record.actions)
        ]
        pred = predictions.get((row["video_id"], row["sample"]))
        if pred is None:
            assert row["proposals"] == [] and row["raw_text"] is None and row["error"] is None
            continue
        assert [{k: p[k] for k in ("text", "apl", "proactive")} for p in row["proposals"]] == [
            Action.from_dict(a).to_dict() for a in pred["actions"]
        ]
        for key in ("raw_text", "parse_error", "diagnostics", "error"):
            assert row[key] == pred.get(key), key
    unparsed = next(r for r in rows if r["parse_error"])
    assert unparsed["parse_error"] == PARSE_ERROR and unparsed["status"] == "scored"
    assert unparsed["raw_text"].startswith("I think") and unparsed["figures"]["recall"] == 0.0


def test_pairs_figures_and_near_misses_match_the_scorer(logged, demo, scorer) -> None:
    _, rows, _ = logged
    tau = scorer.tau
    near_total = 0
    for row in rows:
        if row["status"] != "scored" or not row["proposals"]:
            assert row["pairs"] == [] and row["near_misses"] == []
            continue
        pred = [Action.from_dict(p) for p in row["proposals"]]
        gt = demo[row["video_id"]].actions
        expected = scorer.score_video(pred, gt)
        assert row["figures"] == pytest.approx(expected.figures(), nan_ok=True)
        assert row["counts"] == {"tp": expected.tp, "m": expected.m, "n": expected.n}
        assert [
            (p["pred"], p["gt"], p["similarity"], p["weight"], p["matched"]) for p in row["pairs"]
        ] == [(p.pred_index, p.gt_index, p.similarity, p.weight, p.matched) for p in expected.pairs]
        for p in row["pairs"]:
            assert (p["pred_text"], p["gt_text"]) == (pred[p["pred"]].text, gt[p["gt"]].text)
        sim = scorer.similarity([a.text for a in pred], [a.text for a in gt])
        matched = {p.gt_index for p in expected.pairs if p.matched}
        want = []
        for j in range(len(gt)):
            best = round(float(np.max(sim[:, j])), SIMILARITY_DECIMALS)
            if j not in matched and best < tau:
                want.append((j, int(np.argmax(sim[:, j])), best))
        got = [(m["gt"], m["pred"], m["similarity"]) for m in row["near_misses"]]
        assert sorted(got) == sorted(want)
        assert [m["similarity"] for m in row["near_misses"]] == sorted(
            (m["similarity"] for m in row["near_misses"]), reverse=True
        )
        near_total += len(got)
    assert near_total >= 10  # the unrelated actions leave many near misses to check


def test_sample_zero_agrees_with_scores_jsonl(logged) -> None:
    folder, rows, _ = logged
    scores = [json.loads(x) for x in (folder / "scores.jsonl").open()]
    first = [r for r in rows if r["sample"] == 0]
    assert [s["video_id"] for s in scores] == [r["video_id"] for r in first]
    for s, r in zip(scores, first, strict=True):
        assert s["f1"] == r["figures"]["f1"] and s["weighted_f1"] == r["figures"]["weighted_f1"]
        assert [(p["pred"], p["gt"], p["matched"]) for p in s["pairs"]] == [
            (p["pred"], p["gt"], p["matched"]) for p in r["pairs"]
        ]

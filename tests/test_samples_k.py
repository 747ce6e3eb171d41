"""``--samples K``: every sample counts (mean with CI, best of K, stability), in summary.json,
both reports and compare; the reducers checked by hand on a small case."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from visualact_env.metric import FIGURES, score_predictions
from visualact_env.records import Action, Benchmark, Prediction, VideoRecord
from visualact_env.report import compare_runs
from visualact_env.report.sample_stats import samples_summary
from visualact_env.runner import EvalConfig, run_eval
from visualact_env.stats import (
    bootstrap_ci,
    bootstrap_sample_mean,
    paired_comparison,
    paired_sample_mean,
)

STOVE = Action("turn off the stove", 3, True)
CALL = Action("call emergency services", 4, False)
WINDOW = Action("open the window", 2, True)

BENCH = Benchmark(
    records=(
        VideoRecord("a", "a.mp4", "home_service", (STOVE,)),
        VideoRecord("b", "b.mp4", "safety_monitoring", (CALL, WINDOW)),
    ),
    name="hand",
)
# exact copies of ground-truth texts (similarity 1) or nothing:
#   sample 0: a right (F1 1),  b empty (0)
#   sample 1: a empty (0),     b one of two (P 1, R 1/2, F1 2/3)
#   sample 2: a right (1),     b both (1)
ANSWERS = {
    0: {"a": (STOVE,), "b": ()},
    1: {"a": (), "b": (CALL,)},
    2: {"a": (STOVE,), "b": (CALL, WINDOW)},
}


@pytest.fixture(scope="module")
def hand_reports(scorer):
    predictions = [
        Prediction(vid, actions, extra={"sample": k})
        for k, answers in ANSWERS.items()
        for vid, actions in answers.items()
    ]
    reports = [score_predictions(BENCH, predictions, scorer, sample=k) for k in ANSWERS]
    return reports, predictions


def test_k3_reducers_equal_the_hand_worked_values(hand_reports):
    reports, predictions = hand_reports
    block = samples_summary(reports, predictions, n_resamples=200, seed=0)
    assert block["k"] == 3 and block["samples"] == [0, 1, 2]
    # overall F1 of each sample = mean of the two scenarios: 1/2, 1/3, 1
    assert [s["overall"]["f1"] for s in block["per_sample"]] == pytest.approx([0.5, 1 / 3, 1.0])
    # mean over samples: (1/2 + 1/3 + 1) / 3 = 11/18
    assert block["mean"]["overall"]["f1"] == pytest.approx(11 / 18)
    assert block["mean"]["scenarios"]["safety_monitoring"]["f1"] == pytest.approx(5 / 9)
    assert block["mean"]["scenarios"]["home_service"]["recall"] == pytest.approx(2 / 3)
    # best of 3: a's best F1 is 1, b's best is 1; best recall of b is 1 too
    assert block["best_of_k"]["overall"]["f1"] == pytest.approx(1.0)
    assert block["best_of_k"]["overall"]["precision"] == pytest.approx(1.0)
    assert block["best_of_k"]["overall"]["proactive_recall"] is None  # pooled: no best
    # SD across samples of the overall F1 (population): values 1/2, 1/3, 1 -> sqrt(26)/18
    assert block["sd_across_samples"]["f1"] == pytest.approx(math.sqrt(26) / 18)
    # per video: a's F1 is 1, 0, 1 (SD sqrt(2)/3); b's is 0, 2/3, 1 (SD sqrt(14)/9)
    videos = {v["video_id"]: v for v in block["videos"]}
    assert videos["a"]["f1"] == pytest.approx([1, 0, 1])
    assert videos["b"]["f1"] == pytest.approx([0, 2 / 3, 1])
    assert videos["a"]["sd"]["f1"] == pytest.approx(math.sqrt(2) / 3)
    assert videos["b"]["sd"]["f1"] == pytest.approx(math.sqrt(14) / 9)
    # one video per scenario: the mean per-video SD is the mean of the two
    expected = (math.sqrt(2) / 3 + math.sqrt(14) / 9) / 2
    assert block["per_video_sd"]["overall"]["f1"] == pytest.approx(expected)
    low, high = block["mean_ci"]["overall"]["f1"]  # one video per scenario: no spread
    assert low == pytest.approx(11 / 18) and high == pytest.approx(11 / 18)
    assert block["counts"] == {
        "answers": 6,
        "scored": 6,  # an empty list is an answer: scored (as zero), not missing
        "failed": 0,
        "missing": 0,
        "unparsed": 0,
    }


def test_the_sample_mean_statistics_reduce_to_the_single_sample_ones(hand_reports):
    reports, _ = hand_reports
    single = bootstrap_sample_mean(reports[:1], n_resamples=300, seed=4)
    assert single.to_dict()["overall"] == bootstrap_ci(reports[0], 300, 4).to_dict()["overall"]
    paired = paired_sample_mean(reports[2:], reports[:1], n_resamples=300, seed=4)
    assert paired.to_dict() | {"method": ""} == paired_comparison(
        reports[2], reports[0], 300, 4
    ).to_dict() | {"method": ""}


def test_the_sample_mean_ci_resamples_videos_not_samples(hand_reports):
    reports, _ = hand_reports
    ci = bootstrap_sample_mean(reports, n_resamples=500, seed=1)
    # a video's samples stay together: a resample of [a, a] has mean F1 2/3 in home service
    # and [b, b] 5/9 in safety: the overall mean can only be (2/3 + 5/9) / 2 with one video
    # per scenario, whatever the draw
    assert ci.overall["f1"]["low"] == pytest.approx(11 / 18)
    assert ci.overall["f1"]["high"] == pytest.approx(11 / 18)


@pytest.fixture(scope="module")
def sampled_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "k3"
    config = EvalConfig(
        agent="py:runner_agents:SampledEchoAgent", out=out, samples=3, progress=False
    )
    return run_eval(config)


def test_a_k3_run_reports_every_sample(sampled_run):
    summary = json.loads((sampled_run / "summary.json").read_text())
    block = summary["samples"]
    assert block["k"] == 3 and block["counts"]["answers"] == 48
    per_sample = np.array([[s["overall"]["f1"] for s in block["per_sample"]]])
    assert block["mean"]["overall"]["f1"] == pytest.approx(per_sample.mean())
    assert summary["overall"]["f1"] == pytest.approx(block["per_sample"][0]["overall"]["f1"])
    assert block["per_video_sd"]["overall"]["f1"] > 0  # the samples differ by construction
    md = (sampled_run / "report.md").read_text()
    assert "## Samples (K = 3)" in md and "| Figure | Mean of 3 | 95% CI | Best of 3 |" in md
    assert "(mean of 3 samples) |" in md and "(sample 0) |" in md
    assert "Least stable videos" in md
    html = (sampled_run / "report.html").read_text()
    assert '<section id="samples"><h2>Samples (K = 3)</h2>' in html
    mean_f1 = f"{100 * block['mean']['overall']['f1']:.1f}"
    assert f"<td>F1</td><td>{mean_f1}</td>" in html


def test_compare_ranks_and_pairs_runs_on_the_sample_mean(sampled_run, tmp_path):
    one = run_eval(
        EvalConfig(agent="py:runner_agents:SampledEchoAgent", out=tmp_path / "k1", progress=False)
    )
    result = compare_runs([one, sampled_run], n_resamples=200)
    rows = {r["name"]: r for r in result["runs"]}
    k3 = json.loads((sampled_run / "summary.json").read_text())["samples"]
    row = rows["py:runner_agents:SampledEchoAgent [k3] (mean of 3 samples)"]
    for fig in FIGURES:
        assert row["overall"][fig] == pytest.approx(k3["mean"]["overall"][fig]), fig
    assert row["counts"]["answers"] == 48 and row["samples"] == 3
    (entry,) = result["comparisons"]
    diff = entry["figures"]["f1"]["difference"]
    k1 = rows["py:runner_agents:SampledEchoAgent [k1]"]["overall"]["f1"]
    assert diff == pytest.approx(row["overall"]["f1"] - k1)

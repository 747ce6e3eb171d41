"""Figures are declared once (visualact_env.figures): a figure registered there shows up in
the metric, the bootstrap, summary.json, scores.jsonl, report.md, report.html and the compare
leaderboard with no other edit; this is the "Adding a per-video figure" recipe of
ARCHITECTURE.md, carried out."""

from __future__ import annotations

import json
from pathlib import Path
from statistics import mean

import pytest
from report_fixtures import make_runs

from visualact_env import figures as F
from visualact_env.loading import parse_predictions
from visualact_env.metric import FIGURES, POOLED_FIGURES, VIDEO_FIGURES, score_predictions
from visualact_env.report import compare_runs, write_compare, write_reports
from visualact_env.stats import bootstrap_ci


def _exact_apl_share(score) -> float:
    """Share of a video's true positives whose predicted APL equals the ground truth's."""
    exact = sum(1 for p in score.pairs if p.matched and p.weight == 1.0)
    return exact / score.tp if score.tp else 0.0


EXACT_APL = F.Figure(
    "exact_apl",
    "Exact APL share",
    "APL=",
    "true positives whose predicted APL equals the ground truth's / true positives",
    per_video=_exact_apl_share,
    views={"table2": "", "leaderboard": "", "tiles": ""},
)
MATCHED_GT = F.Figure(
    "matched_gt_share",
    "Matched ground truth (pooled)",
    "GT%",
    "matched ground-truth actions / ground-truth actions, pooled over a scenario",
    numerator=lambda s: s.tp,
    denominator=lambda s: s.n,
)


def test_builtin_registry_is_the_metric_figure_list() -> None:
    assert F.figure_names() == FIGURES
    assert F.video_figure_names() == VIDEO_FIGURES
    assert tuple(f.name for f in F.figures() if f.pooled) == POOLED_FIGURES
    assert F.view("table2") == (("precision", "Prec."), ("recall", "Recall"), ("f1", "F1"))
    assert F.view("leaderboard")[:3] == (("f1", "F1"), ("weighted_f1", "wF1"), ("scale_score", "Scale"))  # fmt: skip
    assert F.view("table4")[-1] == ("scale_score", "APL")
    assert F.get_figure("f1").format(0.12345) == "12.3"
    assert F.get_figure("f1").format(None) == F.DASH


def test_bad_declarations_are_refused() -> None:
    with pytest.raises(ValueError, match="either per_video or numerator"):
        F.Figure("x", "X", "X", "", per_video=len, numerator=len, denominator=len)
    with pytest.raises(ValueError, match="either per_video or numerator"):
        F.Figure("x", "X", "X", "", numerator=len)
    with pytest.raises(ValueError, match="unknown views"):
        F.Figure("x", "X", "X", "", per_video=len, views={"table9": ""})
    with pytest.raises(ValueError, match="already registered"):
        F.register_figure(F.get_figure("f1"))
    with pytest.raises(ValueError, match="built in"):
        F.unregister_figure("f1")


def test_a_registered_figure_reaches_every_report(tmp_path: Path, demo, scorer) -> None:
    folders = make_runs(tmp_path / "runs", demo)
    with F.registered(EXACT_APL, MATCHED_GT):
        summary = write_reports(folders["partial"], scorer=scorer, n_resamples=200)
        write_reports(folders["oracle"], scorer=scorer, n_resamples=200)
        report = score_predictions(
            demo, parse_predictions(folders["partial"] / "predictions.jsonl", demo), scorer
        )
        in_memory = report.figures()["overall"]
        ci = bootstrap_ci(report, n_resamples=200, seed=0)
        result = compare_runs(list(folders.values()), scorer=scorer, n_resamples=200)
        write_compare(result, tmp_path / "compare")

    # the metric: per video, then the scenario mean and the pooled ratio, by hand
    rows = [json.loads(line) for line in (folders["partial"] / "scores.jsonl").read_text().splitlines()]  # fmt: skip
    assert all("exact_apl" in r for r in rows)
    by_scenario: dict[str, list[dict]] = {}
    for r in rows:
        by_scenario.setdefault(r["scenario"], []).append(r)
    for sc, vids in by_scenario.items():
        exact = [sum(p["matched"] and p["weight"] == 1.0 for p in v["pairs"]) / v["tp"] if v["tp"] else 0.0 for v in vids]  # fmt: skip
        assert summary["scenarios"][sc]["exact_apl"] == pytest.approx(mean(exact))
        pooled = sum(v["tp"] for v in vids) / sum(v["n"] for v in vids)
        assert summary["scenarios"][sc]["matched_gt_share"] == pytest.approx(pooled)
    overall = summary["overall"]
    assert overall["exact_apl"] == pytest.approx(mean(s["exact_apl"] for s in summary["scenarios"].values()))  # fmt: skip
    assert 0.0 < overall["exact_apl"] < 1.0  # odd videos have their APLs shifted
    assert overall["matched_gt_share"] == pytest.approx(in_memory["matched_gt_share"])  # fmt: skip
    # summary.json: listed, with CIs and in the tau sweep; the bootstrap has it too
    assert summary["figures"][-2:] == ["exact_apl", "matched_gt_share"]
    lo, hi = summary["overall_ci"]["exact_apl"]
    assert lo <= overall["exact_apl"] <= hi
    assert all("exact_apl" in row for row in summary["tau_sweep"])
    assert ci.overall["exact_apl"]["estimate"] == pytest.approx(overall["exact_apl"])
    # report.md: the headline table and the Table 2 layout (its views); report.html: a tile
    md = (folders["partial"] / "report.md").read_text()
    value = EXACT_APL.format(overall["exact_apl"])
    assert f"| exact_apl | {value} |" in md
    assert "Overall APL=" in md.split("## Table 2")[1].split("## Table 3")[0]
    html = (folders["partial"] / "report.html").read_text()
    assert '<div class="k">Exact APL share</div>' in html
    # the compare leaderboard shows it, and the oracle has every APL exact
    cmp_md = (tmp_path / "compare" / "compare.md").read_text()
    header = next(line for line in cmp_md.splitlines() if line.startswith("| #"))
    assert "APL=" in header
    oracle = json.loads((folders["oracle"] / "summary.json").read_text())
    assert oracle["overall"]["exact_apl"] == pytest.approx(1.0)
    assert oracle["overall"]["matched_gt_share"] == pytest.approx(1.0)

    # gone again once the block ends
    assert "exact_apl" not in F.figure_names()
    again = write_reports(folders["partial"], scorer=scorer, n_resamples=50)
    assert "exact_apl" not in again["overall"] and again["figures"] == list(FIGURES)

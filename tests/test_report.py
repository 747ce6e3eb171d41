"""Run reports: summary.json, scores.jsonl, report.md, report.html and plots from a run folder.

The runs are written by hand on the real demo benchmark (see ``report_fixtures``) and scored
with the real all-MiniLM-L6-v2 embedder.
"""

from __future__ import annotations

import json
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest
from report_fixtures import FAILED_ERROR, XSS_TEXT, make_runs, run_config, write_run

from visualact_env.cli import main
from visualact_env.loading import DataError, parse_annotations, parse_predictions
from visualact_env.metric import FIGURES, score_predictions
from visualact_env.records import SCENARIOS
from visualact_env.report import write_reports
from visualact_env.report.html import script_json
from visualact_env.report.tables import fmt_score, table2_markdown, table3_markdown
from visualact_env.runner import RunError


@pytest.fixture(scope="module")
def runs(tmp_path_factory, demo, scorer):
    """The oracle and partial runs with their reports written (default scorer from config)."""
    folders = make_runs(tmp_path_factory.mktemp("runs"), demo)
    summaries = {k: write_reports(v, n_resamples=300) for k, v in folders.items()}
    return folders, summaries


def test_summary_figures_equal_the_metric_on_the_same_predictions(runs, demo, scorer):
    folders, summaries = runs
    preds = parse_predictions(folders["partial"] / "predictions.jsonl", demo)
    expected = score_predictions(demo, preds, scorer).figures()
    on_disk = json.loads((folders["partial"] / "summary.json").read_text())

    def figs(block):
        return {f: block[f] for f in FIGURES}

    assert figs(on_disk["overall"]) == pytest.approx(figs(expected["overall"]))
    assert on_disk["overall"]["counts"] == expected["overall"]["counts"]
    assert set(on_disk["scenarios"]) == set(expected["scenarios"])
    for sc, block in expected["scenarios"].items():
        assert figs(on_disk["scenarios"][sc]) == pytest.approx(figs(block))
    assert on_disk == summaries["partial"]
    assert list(on_disk["figures"]) == list(FIGURES)


def test_oracle_scores_one_everywhere(runs):
    _, summaries = runs
    s = summaries["oracle"]
    for fig in ("precision", "recall", "f1", "weighted_f1", "scale_score"):
        assert s["overall"][fig] == pytest.approx(1.0)
    assert s["counts"]["failed"] == 0 and s["counts"]["missing"] == 0
    assert s["apl_confusion"]["diagonal"] == s["apl_confusion"]["total"] > 0


def test_partial_counts_failures_missing_and_cis(runs, demo):
    _, summaries = runs
    s = summaries["partial"]
    assert s["counts"]["videos"] == len(demo)
    assert s["counts"]["failed"] == 1 and s["counts"]["missing"] == 1
    assert s["counts"]["scored"] == len(demo) - 2
    assert s["failures"] == [{"video_id": demo.video_ids[1], "sample": 0, "error": FAILED_ERROR}]
    assert s["missing"] == [demo.video_ids[-1]]
    assert 0.0 < s["overall"]["f1"] < 1.0
    for fig in FIGURES:
        lo, hi = s["overall_ci"][fig]
        assert lo <= s["overall"][fig] <= hi, fig
    assert set(s["scenario_ci"]) == set(s["scenarios"])
    # the APL shift on odd videos shows off the diagonal and lowers the scale score
    assert s["apl_confusion"]["diagonal"] < s["apl_confusion"]["total"]
    assert s["overall"]["scale_score"] < 1.0
    assert s["config"]["tau"] == 0.5 and s["tau"] == 0.5


def test_tau_sweep_is_monotone_and_contains_the_run_tau(runs):
    _, summaries = runs
    sweep = summaries["partial"]["tau_sweep"]
    taus = [row["tau"] for row in sweep]
    assert 0.5 in taus and taus == sorted(taus)
    recalls = [row["recall"] for row in sweep]
    assert all(a >= b - 1e-12 for a, b in zip(recalls, recalls[1:], strict=False))
    at_run_tau = next(row for row in sweep if row["tau"] == 0.5)
    assert at_run_tau["f1"] == pytest.approx(summaries["partial"]["overall"]["f1"])


def test_scores_jsonl_has_one_row_per_video_with_pairs(runs, demo):
    folders, _ = runs
    rows = [json.loads(x) for x in (folders["partial"] / "scores.jsonl").read_text().splitlines()]
    assert [r["video_id"] for r in rows] == demo.video_ids
    statuses = {r["video_id"]: r["status"] for r in rows}
    assert statuses[demo.video_ids[1]] == "failed"
    assert statuses[demo.video_ids[-1]] == "missing"
    first = rows[0]
    assert first["pairs"] and {"pred", "gt", "similarity", "weight", "matched"} <= set(
        first["pairs"][0]
    )
    assert any(p["matched"] for p in first["pairs"])


def test_report_md_has_paper_layouts_failures_and_config(runs, demo):
    folders, summaries = runs
    md = (folders["partial"] / "report.md").read_text()
    assert "| Model | Dynamic Navigation Prec. | Dynamic Navigation Recall |" in md
    assert "| Model | DN. | HS. | SM. | HMI. | Overall |" in md
    assert "Pro. R" in md and "Re. R" in md
    f1 = fmt_score(summaries["partial"]["overall"]["f1"])
    assert re.search(rf"\| partial \|.*\| {re.escape(f1)} \|$", md, re.M)
    assert "1 failed, 1 missing" in md
    assert FAILED_ERROR in md and demo.video_ids[-1] in md
    fp = summaries["partial"]["config"]["data"]["fingerprint"]
    for essential in (
        "prompt version: `test-v1`",
        "frames: 4 frames (linspace), own size",
        fp,
        "tau: 0.5",
        "visualact",
    ):
        assert essential in md


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.urls: list[str] = []
        self.cards = 0
        self.scripts: list[dict] = []

    def handle_starttag(self, tag, attrs):
        d = dict(attrs)
        self.urls += [v for k, v in attrs if k in ("src", "href") and v is not None]
        if tag == "article":
            self.cards += 1
        if tag == "script":
            self.scripts.append(d)


def test_html_is_self_contained_and_escapes_model_text(runs, demo):
    folders, _ = runs
    text = (folders["partial"] / "report.html").read_text()
    parser = _Links()
    parser.feed(text)
    assert parser.cards == len(demo)
    assert parser.urls and all(u.startswith("data:") for u in parser.urls)
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", text)
    assert "<link" not in text and "@import" not in text
    assert XSS_TEXT not in text
    assert "&lt;script&gt;window.__pwned = 1; alert(1)&lt;/script&gt; close the door" in text
    # exactly the report's own scripts: the embedded JSON and the sort/filter code
    assert len(parser.scripts) == 2
    assert text.count("<script") == 2 and text.count("</script>") == 2
    assert FAILED_ERROR in text and "clip not available" not in text


def test_script_json_cannot_close_the_script_element():
    data = {"t": "</script><script>alert(1)</script> & \u2028"}
    out = script_json(data)
    assert "<" not in out and ">" not in out and "&" not in out and "\u2028" not in out
    assert json.loads(out) == data


def test_plots_are_pngs(runs):
    folders, _ = runs
    names = sorted(p.name for p in (folders["partial"] / "plots").glob("*.png"))
    assert names == [
        "apl_confusion.png",
        "proactive_recall.png",
        "scenario_scores.png",
        "tau_sweep.png",
    ]
    for name in names:
        assert (folders["partial"] / "plots" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_missing_clip_is_said_in_its_card(tmp_path, demo, scorer):
    data = tmp_path / "data"
    shutil.copytree(Path(demo.path).parent, data)
    gone = demo.records[0]
    (data / gone.video).unlink()
    local = parse_annotations(data / "annotations.jsonl", check_videos=False, name="demo")
    folder = write_run(tmp_path / "run", run_config(local, "oracle"), [])
    summary = write_reports(folder, local, scorer, n_resamples=50, plots=False)
    assert summary["counts"]["missing"] == len(local)
    html = (folder / "report.html").read_text()
    assert html.count("clip not available") == 1
    assert f"clip not available: {data / gone.video}" in html


def test_report_command_rebuilds_and_no_html(tmp_path, demo, capsys):
    folders = make_runs(tmp_path, demo)
    assert main(["report", str(folders["oracle"]), "--no-html", "--resamples", "50"]) == 0
    out = capsys.readouterr().out
    assert "100.0" in out and "0 failed" in out
    assert (folders["oracle"] / "summary.json").is_file()
    assert not (folders["oracle"] / "report.html").exists()


def test_report_refuses_changed_data(tmp_path, demo):
    folder = write_run(tmp_path / "run", run_config(demo, "oracle", fingerprint="0" * 16), [])
    with pytest.raises(RunError, match="fingerprint"):
        write_reports(folder)
    assert main(["report", str(folder)]) == 2


def test_bad_prediction_file_names_file_line_and_field(tmp_path, demo, scorer):
    rows = [{"video_id": demo.video_ids[0], "actions": [{"text": "x", "apl": 9}]}]
    folder = write_run(tmp_path / "run", run_config(demo, "bad"), rows)
    with pytest.raises(DataError) as err:
        write_reports(folder, demo, scorer)
    assert f"{folder / 'predictions.jsonl'}:1: actions[0].apl" in str(err.value)


def test_not_a_run_folder(tmp_path):
    with pytest.raises(DataError, match="config.json missing"):
        write_reports(tmp_path)


def test_markdown_tables_rank_top_three_and_dash_undefined():
    def row(name, f1, scale):
        scen = {
            sc: {"precision": f1, "recall": f1, "f1": f1, "scale_score": scale} for sc in SCENARIOS
        }
        return {
            "name": name,
            "overall": {"precision": f1, "recall": f1, "f1": f1, "scale_score": scale},
            "scenarios": scen,
        }

    rows = [row("a", 0.5, None), row("b|c", 0.25, 0.5), row("c", 0.125, 0.25), row("d", 0.0, 0.1)]
    t2 = table2_markdown(rows)
    assert "| a | **50.0**\u00b9 |" in t2 and "| b\\|c | 25.0\u00b2 |" in t2
    assert "| d | 0.0 |" in t2
    t3 = table3_markdown(rows)
    assert "| a | \u2013 | \u2013 |" in t3
    assert "**50.0**\u00b9" in t3


def test_summary_matches_visualact_score_json(runs, demo, capsys):
    folders, summaries = runs
    code = main(
        ["score", "--annotations", str(demo.path), "--predictions",
         str(folders["partial"] / "predictions.jsonl"), "--json"]
    )  # fmt: skip
    assert code == 0
    scored = json.loads(capsys.readouterr().out)
    summary = summaries["partial"]
    for fig in FIGURES:
        assert summary["overall"][fig] == pytest.approx(scored["overall"][fig]), fig
        for sc in summary["scenarios"]:
            assert summary["scenarios"][sc][fig] == pytest.approx(scored["scenarios"][sc][fig])

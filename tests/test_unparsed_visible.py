"""Unparseable answers are visible: counted beside scored/failed/missing in every report, their
raw text and the parser's diagnostics on each video card, and counted by the progress bar."""

from __future__ import annotations

import json
from html import escape

import pytest

from visualact_env.report import format_run_summary
from visualact_env.runner import EvalConfig, run_eval


@pytest.fixture(scope="module")
def prose_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "prose"
    return run_eval(EvalConfig(agent="py:runner_agents:ProseAgent", out=out, progress=False))


def test_reports_count_unparseable_answers_beside_scored_failed_and_missing(prose_run):
    summary = json.loads((prose_run / "summary.json").read_text())
    counts = summary["counts"]
    assert counts["unparsed"] == 8 and counts["scored"] == 16 and counts["failed"] == 0
    md = (prose_run / "report.md").read_text()
    assert "**16 scored, 8 unparseable, 0 failed, 0 missing** of 16 videos" in md
    html = (prose_run / "report.html").read_text()
    assert ">8 unparseable</span>" in html
    assert "16 scored, 8 unparseable, 0 failed, 0 missing of 16 videos" in format_run_summary(
        summary
    )


def test_cards_show_the_raw_text_and_the_parse_diagnostics(prose_run):
    html = (prose_run / "report.html").read_text()
    rows = [json.loads(x) for x in (prose_run / "predictions.jsonl").read_text().splitlines()]
    prose = next(r for r in rows if r.get("parse_error"))
    parsed = next(r for r in rows if not r.get("parse_error"))
    vid = prose["video_id"]
    card = html[html.index(f'data-id="{vid}"') :]
    card = card[: card.index("</article>")]
    assert "Unparseable answer:" in card and '<details class="answer" open>' in card
    assert f"I&#x27;m sorry &lt;b&gt;{vid}&lt;/b&gt;" in card  # escaped, never markup
    assert prose["diagnostics"]
    for line in prose["diagnostics"]:
        assert f"<li>{escape(line, quote=True)}</li>" in card
    card = html[html.index(f'data-id="{parsed["video_id"]}"') :]
    card = card[: card.index("</article>")]
    assert "Unparseable" not in card and '<details class="answer">' in card
    assert "&quot;action&quot;" in card and "format: " in card


def test_the_progress_bar_counts_answers_with_failed_and_unparsed(tmp_path, capsys):
    run_eval(
        EvalConfig(
            agent="py:runner_agents:ProseAgent",
            out=tmp_path / "run",
            samples=2,
            progress=True,
            reports=False,
        )
    )
    err = capsys.readouterr().err
    final = err.replace("\r", "\n").strip().splitlines()[-1]
    assert "16 videos x 2 samples" in final and "32/32" in final and "answer/s" in final
    assert "failed=0" in final and "unparsed=16" in final

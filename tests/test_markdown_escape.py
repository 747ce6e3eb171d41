"""HTML in a run's label, a failure's error or a data name reaches report.md and compare.md
escaped: a Markdown viewer renders raw HTML, so it must never arrive as markup."""

from __future__ import annotations

from pathlib import Path

from visualact_env.cli import main
from visualact_env.report.export import md_escape

PAYLOAD = "<img src=x onerror=alert(1)>"


def test_md_escape_escapes_html_and_keeps_tables_whole() -> None:
    assert md_escape("a <b> & c | d\ne") == "a &lt;b&gt; &amp; c \\| d e"


def test_report_and_compare_markdown_hold_no_raw_html(tmp_path: Path) -> None:
    runs = []
    for agent in ("oracle", "empty"):
        out = tmp_path / agent
        argv = ["eval", "--agent", agent, "--limit", "4", "--out", str(out), "--no-html"]
        assert main([*argv, "--label", f"{agent} {PAYLOAD}"]) == 0
        runs.append(out)
    report = (runs[0] / "report.md").read_text(encoding="utf-8")
    assert "&lt;img src=x onerror=alert(1)&gt;" in report
    assert main(["compare", *map(str, runs), "--out", str(tmp_path / "cmp")]) == 0
    for text in (report, (tmp_path / "cmp" / "compare.md").read_text(encoding="utf-8")):
        assert "<img" not in text

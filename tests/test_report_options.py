"""``--no-html`` means no ``report.html``: ``report`` removes a stale one, ``sweep`` honours it."""

from __future__ import annotations

from visualact_env.cli import main
from visualact_env.runner import EvalConfig, run_eval


def test_report_no_html_removes_a_stale_report_and_does_not_name_it(tmp_path, capsys):
    """Regression: the report.html of an earlier call stayed (with figures the predictions no
    longer had) and its path was printed as if it were new."""
    run = run_eval(
        EvalConfig(agent="oracle", out=tmp_path / "run", limit=2, progress=False),
        log=lambda _: None,
    )
    assert (run / "report.html").is_file()
    assert main(["report", str(run), "--no-html", "--resamples", "10"]) == 0
    out = capsys.readouterr().out
    assert not (run / "report.html").exists()
    assert "report.html" not in out and f"report.md: {run / 'report.md'}" in out
    assert main(["report", str(run), "--resamples", "10"]) == 0
    assert f"report.html: {run / 'report.html'}" in capsys.readouterr().out


def test_sweep_honours_no_html(tmp_path, capsys):
    """Regression: sweep's runs were written without report.html whatever --no-html said."""
    common = ["--agent", "empty", "--frames", "2", "--limit", "2", "--resamples", "10",
              "--no-progress"]  # fmt: skip
    assert main(["sweep", "--out", str(tmp_path / "plain"), "--no-html", *common]) == 0
    assert main(["sweep", "--out", str(tmp_path / "html"), *common]) == 0
    capsys.readouterr()
    assert not (tmp_path / "plain" / "frames-2" / "report.html").exists()
    assert (tmp_path / "plain" / "frames-2" / "report.md").is_file()
    assert (tmp_path / "html" / "frames-2" / "report.html").is_file()

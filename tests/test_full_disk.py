"""A full output disk: a run ends with one error line (exit 2, no traceback), and ``--resume``
afterwards finishes it exactly as an uninterrupted run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from disk_faults import fill_disk

from visualact_env.cli import main

AGENT = "py:runner_agents:SlowEchoAgent:0"
VOLATILE = {"latency_s"}


def _eval(out: Path, *extra: str) -> int:
    return main(["eval", "--agent", AGENT, "--out", str(out), "--no-html", "--no-progress",
                 *extra])  # fmt: skip


def _predictions(run: Path) -> list[dict]:
    rows = [json.loads(x) for x in (run / "predictions.jsonl").read_text().splitlines() if x]
    return [{k: v for k, v in r.items() if k not in VOLATILE} for r in rows]


def _overall(run: Path) -> dict:
    return json.loads((run / "summary.json").read_text())["overall"]


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("full") / "run"
    assert _eval(out) == 0
    return out


def _one_error_line(err: str) -> str:
    assert "Traceback" not in err, err
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, err
    return errors[0]


@pytest.mark.parametrize(
    ("after", "name"),
    [(6, ""), (0, "summary.json"), (0, "report.md")],
    ids=["predictions-mid-run", "summary", "report"],
)
def test_a_full_disk_stops_the_run_with_one_line_and_resume_finishes_it_exactly(
    tmp_path, monkeypatch, capfd, reference, after, name
):
    """Regression: ENOSPC while appending predictions or writing the summary ended in a
    traceback."""
    out = tmp_path / "run"
    refused = fill_disk(monkeypatch, out, after=after, name=name)
    assert _eval(out) == 2
    line = _one_error_line(capfd.readouterr().err)
    assert refused and f"cannot write the run folder {out}" in line
    assert "No space left on device" in line and f"--out {out} --resume" in line
    if name:
        assert f"({out / name})" in line  # the file is named
    monkeypatch.undo()
    assert _eval(out, "--resume") == 0, capfd.readouterr().err
    assert _predictions(out) == _predictions(reference)
    assert _overall(out) == _overall(reference)
    assert not list(out.glob(".*.tmp"))  # no temporary file left behind


def test_a_full_disk_under_report_is_one_line_and_keeps_the_old_reports(
    tmp_path, monkeypatch, capfd, reference
):
    run = tmp_path / "run"
    assert _eval(run) == 0
    before = (run / "summary.json").read_bytes()
    capfd.readouterr()
    fill_disk(monkeypatch, run, name="summary.json")
    assert main(["report", str(run), "--no-html", "--resamples", "50"]) == 2
    line = _one_error_line(capfd.readouterr().err)
    assert line == f"error: cannot write {run / 'summary.json'}: No space left on device"
    assert (run / "summary.json").read_bytes() == before

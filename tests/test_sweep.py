"""``visualact sweep``: one run per frame count, reused, scored at every threshold (Table 4)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent


def _sweep(out: Path, *extra: str) -> subprocess.CompletedProcess:
    env = dict(
        os.environ, PYTHONPATH=os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])
    )
    cmd = [
        sys.executable,
        "-m",
        "visualact_env",
        "sweep",
        "--out",
        str(out),
        "--no-progress",
        "--resamples",
        "200",
        *extra,
    ]
    return subprocess.run(cmd, env=env, capture_output=True, text=True)


@pytest.fixture(scope="module")
def sweep_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("sweep")
    result = _sweep(
        out, "--agent", "py:runner_agents:SlowEchoAgent:0", "--frames", "2,4", "--taus", "0.5,0.99"
    )
    assert result.returncode == 0, result.stderr
    (out / "stdout.txt").write_text(result.stdout)
    return out


def test_sweep_prints_the_table4_layout_for_each_setting(sweep_dir):
    lines = (sweep_dir / "stdout.txt").read_text().splitlines()
    header = next(line for line in lines if line.startswith("Model"))
    assert header.split() == ["Model", "Frm.", "tau", "Prec.", "Recall", "F1", "APL"]
    rows = json.loads((sweep_dir / "sweep.json").read_text())["rows"]
    assert [(r["frames"], r["tau"]) for r in rows] == [(2, 0.5), (2, 0.99), (4, 0.5), (4, 0.99)]
    assert (sweep_dir / "sweep.png").read_bytes()[:4] == b"\x89PNG"
    assert "| Model | Frm. | tau |" in (sweep_dir / "sweep.md").read_text()


def test_table4_is_also_csv_and_latex_with_the_same_numbers(sweep_dir):
    from table_parsing import check_same_numbers, markdown_tables

    (md,) = markdown_tables((sweep_dir / "sweep.md").read_text(encoding="utf-8"))
    csv_text = (sweep_dir / "tables" / "table4.csv").read_text(encoding="utf-8")
    assert csv_text.splitlines()[0].startswith("Model,Frm.,tau,Prec.,Prec. CI low,Prec. CI high,")
    tex = (sweep_dir / "tables" / "table4.tex").read_text(encoding="utf-8")
    check_same_numbers(md, csv_text, tex, left=3)


def test_sweep_rows_equal_the_runs_own_scores(sweep_dir):
    rows = json.loads((sweep_dir / "sweep.json").read_text())["rows"]
    at_run_tau = [row for row in rows if row["tau"] == 0.5]
    assert [row["frames"] for row in at_run_tau] == [2, 4]
    for row in at_run_tau:
        summary = json.loads((Path(row["run"]) / "summary.json").read_text())
        assert summary["config"]["sampler"]["num_frames"] == row["frames"]
        for fig in ("precision", "recall", "f1", "scale_score"):
            assert row[fig] == pytest.approx(summary["overall"][fig])
            lo, hi = row[f"{fig}_ci"]
            assert lo <= row[fig] <= hi


def test_the_agent_keeps_half_the_truth_so_precision_is_one_and_recall_about_half(sweep_dir):
    rows = json.loads((sweep_dir / "sweep.json").read_text())["rows"]
    at_half = [r for r in rows if r["tau"] == 0.5]
    assert len(at_half) == 2
    for row in at_half:
        assert row["precision"] == pytest.approx(1.0)
        assert 0.4 < row["recall"] < 0.75
    # a threshold above every paraphrase-free similarity still matches the identical texts
    strict = [r for r in rows if r["tau"] == 0.99]
    assert all(r["f1"] == pytest.approx(a["f1"]) for r, a in zip(strict, at_half, strict=True))


def test_a_second_sweep_reuses_the_finished_runs(sweep_dir):
    preds = sweep_dir / "frames-2" / "predictions.jsonl"
    before = preds.read_text()
    result = _sweep(
        sweep_dir,
        "--agent",
        "py:runner_agents:SlowEchoAgent:0",
        "--frames",
        "2,4",
        "--taus",
        "0.5,0.99",
    )
    assert result.returncode == 0, result.stderr
    assert "resuming" in result.stderr and "0 to go" in result.stderr
    assert preds.read_text() == before


def test_bad_frame_list_is_a_clear_error(tmp_path):
    result = _sweep(tmp_path, "--frames", "2,four")
    assert result.returncode == 2
    assert "comma-separated list of ints" in result.stderr


def test_a_threshold_out_of_range_is_refused_before_any_run(tmp_path):
    result = _sweep(tmp_path, "--frames", "2", "--taus", "0.5,2")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and "within [-1, 1], got 2.0" in result.stderr
    assert not list(tmp_path.glob("**/frames-*"))

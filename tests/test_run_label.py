"""``eval --label``: the run's name in tables, reports and compare instead of the agent spec."""

from __future__ import annotations

import json

from visualact_env.report import compare_runs
from visualact_env.report.summary import agent_label
from visualact_env.runner import EvalConfig, run_eval


def test_a_label_names_the_run_in_every_report_and_the_spec_stays_in_the_footer(tmp_path):
    out = run_eval(
        EvalConfig(agent="oracle", label="Oracle <upper bound>", out=tmp_path / "a", progress=False)
    )
    summary = json.loads((out / "summary.json").read_text())
    assert summary["agent_label"] == "Oracle <upper bound>" and summary["agent_spec"] == "oracle"
    md = (out / "report.md").read_text()
    assert md.startswith("# VisualAct report: Oracle &lt;upper bound&gt;")  # HTML escaped
    assert (
        "| Oracle &lt;upper bound&gt; |" in md and "<upper" not in md and "- agent: `oracle`" in md
    )
    html = (out / "report.html").read_text()
    assert "<h1>Oracle &lt;upper bound&gt;</h1>" in html and "<upper bound>" not in html
    other = run_eval(EvalConfig(agent="empty", out=tmp_path / "b", progress=False, html=False))
    result = compare_runs([out, other], n_resamples=50)
    assert [r["name"] for r in result["runs"]] == ["Oracle <upper bound>", "empty"]


def test_without_a_label_a_server_url_stays_out_of_the_name():
    config = {
        "agent": {
            "spec": "openai:Qwen/Qwen2-VL-7B@http://10.0.0.5:8000/v1",
            "model": "Qwen/Qwen2-VL-7B",
        }
    }
    assert agent_label(config) == "openai:Qwen/Qwen2-VL-7B"
    assert agent_label({**config, "label": "qwen-7b"}) == "qwen-7b"
    assert agent_label({"agent": {"spec": "retrieval:3"}}) == "retrieval:3"


def test_resume_may_rename_a_run(tmp_path):
    common = {"agent": "empty", "out": tmp_path / "run", "progress": False, "html": False}
    out = run_eval(EvalConfig(label="first", **common))
    run_eval(EvalConfig(label="second", resume=True, **common))
    assert json.loads((out / "config.json").read_text())["label"] == "second"
    assert json.loads((out / "summary.json").read_text())["agent_label"] == "second"

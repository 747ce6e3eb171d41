"""Usage and cost in summary.json and the reports; --max-cost, --max-total-tokens and
--max-failures stop a run cleanly and --resume finishes it. Against the real OpenAI client
over HTTP to the fake server, which reports token usage."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from visualact_env.cli import main
from visualact_env.runner import EvalConfig, run_eval
from visualact_env.testing.fake_openai_server import FakeOpenAIServer, Fault

QUIET = {"progress": False, "html": False, "concurrency": 1}


def _rows(out: Path) -> list[dict]:
    return [json.loads(x) for x in (out / "predictions.jsonl").read_text().splitlines() if x]


def _summary(out: Path) -> dict:
    return json.loads((out / "summary.json").read_text())


def _config(server: FakeOpenAIServer, out: Path, **kw) -> EvalConfig:
    options = {"api_key": "sk-test", "cache": False, "max_retries": 2, "backoff_base": 0.01}
    return EvalConfig(
        agent=f"openai:fake-vlm@{server.base_url}",
        agent_options=options,
        out=out,
        **{**QUIET, **kw},
    )


def test_usage_totals_equal_the_sum_of_the_records(tmp_path):
    with FakeOpenAIServer(script=[Fault.rate_limit(0.05)]) as server:
        out = run_eval(
            _config(server, tmp_path / "run", price_input=2.5, price_output=10.0, html=True),
            log=lambda m: None,
        )
        sent = len(server.chat_requests)
    rows = _rows(out)
    usage = _summary(out)["usage"]
    prompt = sum(r["usage"]["prompt_tokens"] for r in rows)
    completion = sum(r["usage"]["completion_tokens"] for r in rows)
    assert prompt > 0 and completion > 0
    assert usage["prompt_tokens"] == prompt and usage["completion_tokens"] == completion
    assert usage["total_tokens"] == sum(r["usage"]["total_tokens"] for r in rows)
    assert usage["answers"] == len(rows) == 16 and usage["cached"] == 0
    assert usage["requests"] == sent == 17 and usage["retries"] == 1  # one 429, retried
    assert usage["cost"] == pytest.approx((prompt * 2.5 + completion * 10.0) / 1e6)
    latencies = [r["latency_s"] for r in rows]
    assert usage["latency_s"]["p50"] == pytest.approx(np.percentile(latencies, 50))
    assert usage["latency_s"]["p95"] == pytest.approx(np.percentile(latencies, 95))
    md = (out / "report.md").read_text()
    assert "## Usage and cost" in md and f"| {prompt:,} | {completion:,} |" in md
    assert f"{usage['cost']:.4f}" in md
    html = (out / "report.html").read_text()
    assert '<section id="usage"><h2>Usage and cost</h2>' in html and f"<td>{prompt:,}</td>" in html


def test_cache_hits_cost_nothing(tmp_path):
    with FakeOpenAIServer() as server:
        config = _config(server, tmp_path / "a", limit=4, seed=7312, price_input=1.0)
        config = replace(config, agent_options={**config.agent_options, "cache": True})
        first = _summary(run_eval(config, log=lambda m: None))["usage"]
        again = _summary(run_eval(replace(config, out=tmp_path / "b"), log=lambda m: None))
        assert len(server.chat_requests) == 4
    assert first["requests"] == 4 and first["prompt_tokens"] > 0
    assert again["usage"]["cached"] == 4 and again["usage"]["requests"] == 0
    assert again["usage"]["prompt_tokens"] == 0 and again["usage"]["cost"] == 0.0


def test_max_cost_stops_cleanly_and_resume_completes(tmp_path, capsys):
    out = tmp_path / "run"
    with FakeOpenAIServer() as server:
        base = ["eval", "--agent", f"openai:fake-vlm@{server.base_url}", "--out", str(out)]
        base += ["--agent-option", "api_key=sk-test", "--agent-option", "cache=false"]
        base += ["--no-html", "--no-progress", "--concurrency", "1", "--price-input", "1000"]
        code = main([*base, "--max-cost", "1.0"])
        stopped = len(server.chat_requests)
        err = capsys.readouterr().err
        assert code == 3
        assert "STOPPED: --max-cost reached" in err and f"--out {out} --resume" in err
        rows = _rows(out)
        prompt = sum(r["usage"]["prompt_tokens"] for r in rows)
        # each answer costs well under the limit: the run stops at the first that reaches it
        assert 1 < len(rows) < 16 and stopped == len(rows)
        assert prompt * 1000 / 1e6 >= 1.0 > (prompt - rows[-1]["usage"]["prompt_tokens"]) * 1e-3
        summary = _summary(out)
        assert summary["stopped"]["kind"] == "max_cost" and summary["counts"]["missing"] > 0
        assert "Stopped early:** --max-cost reached" in (out / "report.md").read_text()

        # the same limit again: the run is at its budget, nothing is sent
        assert main([*base, "--resume", "--max-cost", "1.0"]) == 3
        assert len(server.chat_requests) == stopped
        # a higher limit finishes it
        assert main([*base, "--resume", "--max-cost", "100"]) == 0
    rows = _rows(out)
    assert len(rows) == 16 and len({r["video_id"] for r in rows}) == 16
    summary = _summary(out)
    assert summary["stopped"] is None and summary["counts"]["missing"] == 0
    assert not (out / "stopped.json").exists()
    assert summary["usage"]["prompt_tokens"] == sum(r["usage"]["prompt_tokens"] for r in rows)


def test_max_total_tokens_stops_and_resume_completes(tmp_path):
    with FakeOpenAIServer() as server:
        config = _config(server, tmp_path / "run", max_total_tokens=1500)
        out = run_eval(config, log=lambda m: None)
        rows = _rows(out)
        total = sum(r["usage"]["total_tokens"] for r in rows)
        assert 1 <= len(rows) < 16 and total >= 1500
        assert _summary(out)["stopped"]["kind"] == "max_total_tokens"
        run_eval(replace(config, resume=True, max_total_tokens=None), log=lambda m: None)
    assert len(_rows(out)) == 16 and _summary(out)["stopped"] is None


@pytest.mark.parametrize(("limit", "stop_at"), [("3", 3), ("25%", 4)])
def test_max_failures_stops_a_failing_run_and_resume_completes(tmp_path, limit, stop_at):
    with FakeOpenAIServer(default=Fault.server_error(503)) as server:
        config = _config(server, tmp_path / "run", max_failures=limit)
        config = replace(config, agent_options={**config.agent_options, "max_retries": 0})
        out = run_eval(config, log=lambda m: None)
        rows = _rows(out)
        assert len(rows) == stop_at and all(r.get("error") for r in rows)
        assert len(server.chat_requests) == stop_at  # not one request per video
        summary = _summary(out)
        assert summary["stopped"]["kind"] == "max_failures"
        assert f"{stop_at} failed answer(s)" in summary["stopped"]["reason"]
        server.default = Fault.ok()  # the endpoint is fixed
        run_eval(replace(config, resume=True), log=lambda m: None)
    rows = _rows(out)
    assert len(rows) == 16 and not any(r.get("error") for r in rows)
    assert _summary(out)["stopped"] is None


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--max-cost", "1"], "--max-cost needs prices"),
        (["--max-failures", "0"], "a count must be >= 1"),
        (["--max-failures", "150%"], "a percentage must be in (0, 100]"),
        (["--max-failures", "many"], "expected N (a count) or P% (a share)"),
        (["--price-input", "-1"], "--price-input must be a number >= 0"),
    ],
)
def test_impossible_limits_are_refused_before_any_work(tmp_path, capsys, argv, message):
    out = tmp_path / "run"
    with pytest.raises(SystemExit) if "max-failures" in argv[0] else _no_raise():
        code = main(["eval", "--agent", "empty", "--out", str(out), *argv])
        assert code == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


class _no_raise:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

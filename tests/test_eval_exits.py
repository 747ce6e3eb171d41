"""Honest exits: ``eval`` and ``sweep`` exit 1 when a video failed, and an unreachable server
is one clear error before the run starts (exit 2), never a run of failed videos."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from visualact_env.cli import main
from visualact_env.datasets import load_benchmark
from visualact_env.testing import FakeOpenAIServer


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rows(run: Path) -> list[dict]:
    return [json.loads(x) for x in (run / "predictions.jsonl").read_text().splitlines() if x]


@pytest.mark.parametrize("credentials", ["", "user:PASSWORD-TOPSECRET@"])
def test_an_unreachable_server_is_one_clear_error_before_the_run(tmp_path, capsys, credentials):
    """Regression: every video failed one by one (after retries), and eval exited 0."""
    port = _closed_port()
    out = tmp_path / "run"
    code = main(["eval", "--agent", f"openai:m@http://{credentials}127.0.0.1:{port}/v1",
                 "--out", str(out), "--no-progress", "--agent-option", "timeout=5"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2
    assert f"cannot reach the server at http://127.0.0.1:{port}/v1" in err, err
    assert "TOPSECRET" not in err and "Traceback" not in err
    assert not out.exists()  # nothing was written


def test_the_server_is_checked_once_and_only_when_there_is_work(tmp_path, capsys):
    out = tmp_path / "run"
    with FakeOpenAIServer() as server:
        args = ["eval", "--agent", f"openai:fake-vlm@{server.base_url}", "--out", str(out),
                "--limit", "3", "--frames", "2", "--no-progress", "--no-html",
                "--agent-option", "api_key=EMPTY", "--agent-option", "cache=false"]  # fmt: skip
        assert main(args) == 0, capsys.readouterr().err
        checks = [r for r in server.requests if r.method == "GET" and r.path.endswith("/models")]
        assert len(checks) == 1 and len(server.chat_requests) == 3
        # the check comes before the first request
        assert server.requests[0].path.endswith("/models")
    # a finished run resumes (to rebuild its reports) without its server
    assert main([*args, "--resume"]) == 0, capsys.readouterr().err
    # a run with work left does not start without it
    lines = (out / "predictions.jsonl").read_text().splitlines(keepends=True)
    (out / "predictions.jsonl").write_text("".join(lines[:2]))
    assert main([*args, "--resume"]) == 2
    assert "cannot reach the server at" in capsys.readouterr().err
    assert len(_rows(out)) == 2  # nothing was lost


def test_a_sweep_with_failed_videos_exits_1_and_its_rerun_retries_them(tmp_path, capsys):
    ids = ",".join(load_benchmark("demo").video_ids)
    markers = tmp_path / "markers"
    markers.mkdir()
    out = tmp_path / "sweep"
    args = ["sweep", "--agent", "py:runner_agents:FlakyAgent", "--out", str(out), "--frames",
            "2", "--limit", "2", "--resamples", "10", "--no-progress", "--no-html"]  # fmt: skip
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FLAKY_MARKERS", str(markers))
        mp.setenv("FLAKY_IDS", ids)  # every video fails once
        assert main(args) == 1
        err = capsys.readouterr().err
        assert f"2 video(s) of {out / 'frames-2'} failed" in err, err
        assert "rerun the same sweep command to retry them" in err
        assert main(args) == 0, capsys.readouterr().err
    assert not any("error" in r for r in _rows(out / "frames-2"))

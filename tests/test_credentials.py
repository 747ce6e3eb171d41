"""Credentials in a server URL (``http://user:secret@host/v1``) never reach a file, a folder
name or a line of output: eval with its default run folder, report, compare and sweep."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from visualact_env.cli import main
from visualact_env.report.summary import agent_label, agent_spec
from visualact_env.testing import FakeOpenAIServer, Fault

USER = "alice-the-user"
PASSWORD = "PASSWORD-TOPSECRET-42"


def _secrets() -> list[bytes]:
    basic = base64.b64encode(f"{USER}:{PASSWORD}".encode())
    return [PASSWORD.encode(), USER.encode(), basic, b"TOPSECRET"]


def _leaks(folder: Path) -> list[str]:
    """Every file and folder name under ``folder`` holding a secret."""
    found = []
    for path in [folder, *folder.rglob("*")]:
        name = str(path).encode()
        data = path.read_bytes() if path.is_file() else b""
        for secret in _secrets():
            if secret in name or secret in data:
                found.append(f"{path}: {secret.decode()}")
    return found


def _output_leaks(text: str) -> list[str]:
    return [s.decode() for s in _secrets() if s.decode() in text]


def test_credentials_in_the_server_url_are_written_nowhere(tmp_path, monkeypatch, capfd):
    """Regression: they were in the default run folder's name, summary.json's run_dir, the
    'running ...' line, and (through the agent spec) the sweep's files and tables."""
    monkeypatch.chdir(tmp_path)
    # the server echoes the request's headers into its answer once (Authorization included)
    with FakeOpenAIServer(script=[Fault.echo_headers()]) as server:
        url = server.base_url.replace("://", f"://{USER}:{PASSWORD}@")
        agent = f"openai:fake-vlm@{url}"
        common = ["--agent", agent, "--limit", "2", "--frames", "2", "--no-progress",
                  "--agent-option", "api_key=EMPTY", "--agent-option", "cache=false"]  # fmt: skip
        assert main(["eval", *common, "--no-html"]) == 0
        (run,) = (tmp_path / "runs").iterdir()  # the default folder: runs/<agent>-<data>-<time>
        assert run.name.startswith("openai-fake-vlm-http---127.0.0.1-")
        assert main(["report", str(run)]) == 0
        assert main(["compare", str(run), str(run), "--out", "cmp", "--resamples", "20"]) == 0
        assert main(["sweep", "--out", "sweep", "--resamples", "10", "--no-html", *common]) == 0
        assert len(server.chat_requests) == 4  # two videos for the eval, two for the sweep
    out, err = capfd.readouterr()
    assert "running openai:fake-vlm@http://127.0.0.1:" in err, err
    assert _output_leaks(out) == [] and _output_leaks(err) == []
    assert {p.name for p in run.iterdir()} >= {"config.json", "summary.json", "report.html"}
    assert _leaks(tmp_path) == []


def test_a_run_recorded_before_the_fix_is_shown_without_its_credentials():
    config = {"agent": {"spec": f"py:my:Agent@http://{USER}:{PASSWORD}@host/v1"}}
    assert agent_spec(config) == "py:my:Agent@http://host/v1"
    assert agent_label(config) == "py:my:Agent"


@pytest.mark.parametrize("agent", [f"unknown:m@http://{USER}:{PASSWORD}@host/v1",
                                   f"openai:m@ftp://{USER}:{PASSWORD}@host/v1"])  # fmt: skip
def test_an_agent_spec_refused_with_credentials_is_named_without_them(tmp_path, capfd, agent):
    assert main(["eval", "--agent", agent, "--out", str(tmp_path / "run")]) == 2
    out, err = capfd.readouterr()
    assert "error:" in err and _output_leaks(out + err) == [], err

"""The evaluation runner: results saved as they finish, resume after SIGKILL, failures, shards."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from visualact_env.runner import EvalConfig, RunError, recover_predictions, run_eval

TESTS = Path(__file__).resolve().parent
VOLATILE_RECORD_FIELDS = {"latency_s"}
VOLATILE_CONFIG_FIELDS = {"started", "git_commit", "eval_config", "merged_from"}


def _env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(TESTS), env.get("PYTHONPATH", "")])
    env.update(extra)
    return env


def _eval_cmd(out: Path, agent: str, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "visualact_env",
        "eval",
        "--agent",
        agent,
        "--out",
        str(out),
        "--no-html",
        "--no-progress",
        *extra,
    ]


def _predictions(run: Path) -> list[dict]:
    rows = [
        json.loads(line)
        for line in (run / "predictions.jsonl").read_text().splitlines()
        if line.strip()
    ]
    return [{k: v for k, v in r.items() if k not in VOLATILE_RECORD_FIELDS} for r in rows]


def _summary(run: Path) -> dict:
    summary = json.loads((run / "summary.json").read_text())
    summary.pop("config", None)
    return summary


def _complete_rows(path: Path) -> list[dict]:
    """The complete (parseable) records of a possibly torn predictions file."""
    rows = []
    for line in path.read_text().splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        rows.append({k: v for k, v in row.items() if k not in VOLATILE_RECORD_FIELDS})
    return rows


def _lines(path: Path) -> int:
    try:
        return path.read_bytes().count(b"\n")
    except FileNotFoundError:
        return 0


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "full"
    subprocess.run(
        _eval_cmd(out, "py:runner_agents:SlowEchoAgent:0.02"),
        env=_env(),
        check=True,
        capture_output=True,
        text=True,
    )
    return out


def test_oracle_run_scores_one_and_writes_every_artifact(tmp_path):
    out = run_eval(EvalConfig(agent="oracle", out=tmp_path / "run", progress=False))
    summary = json.loads((out / "summary.json").read_text())
    assert summary["overall"]["weighted_f1"] == pytest.approx(1.0)
    assert summary["overall"]["f1"] == pytest.approx(1.0)
    for name in ("config.json", "predictions.jsonl", "summary.json", "report.md", "report.html"):
        assert (out / name).is_file(), name
    config = json.loads((out / "config.json").read_text())
    for key in ("agent", "sampler", "embedder", "tau", "data", "versions", "git_commit"):
        assert key in config
    assert config["data"]["fingerprint"] and config["versions"]["visualact"]
    for record in (config, summary):
        assert record["format_version"] == 1 and record["status"] == "complete"
        assert record["status_reason"] is None
    assert config["finished"] >= config["started"]
    assert all(r["format_version"] == 1 for r in _predictions(out))


def test_existing_run_is_not_overwritten_without_resume(tmp_path):
    out = run_eval(EvalConfig(agent="empty", out=tmp_path / "run", progress=False, reports=False))
    with pytest.raises(RunError, match="--resume"):
        run_eval(EvalConfig(agent="empty", out=out, progress=False, reports=False))


def test_resume_with_a_different_config_is_refused(tmp_path):
    out = run_eval(EvalConfig(agent="empty", out=tmp_path / "run", progress=False, reports=False))
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    with pytest.raises(RunError, match="config differs") as err:
        run_eval(
            EvalConfig(agent="empty", out=out, frames=4, resume=True, progress=False, reports=False)
        )
    assert "sampler" in str(err.value) and '"num_frames": 8' in str(err.value)
    with pytest.raises(RunError, match="config differs") as err:
        run_eval(
            EvalConfig(agent="empty", out=out, tau=0.7, resume=True, progress=False, reports=False)
        )
    assert "tau: 0.5 != 0.7" in str(err.value)
    # the refused resumes left the run exactly as it was
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


@pytest.mark.parametrize("kill_after", [1, 7, "all"])
def test_resume_after_sigkill_equals_uninterrupted_run(tmp_path, uninterrupted, kill_after):
    total = len(_predictions(uninterrupted))
    want = total if kill_after == "all" else kill_after
    out = tmp_path / "run"
    proc = subprocess.Popen(
        _eval_cmd(
            out,
            "py:runner_agents:SlowEchoAgent:0.02"
            if kill_after == "all"
            else "py:runner_agents:SlowEchoAgent:0.3",
        ),
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while (
        _lines(out / "predictions.jsonl") < want
        and proc.poll() is None
        and time.monotonic() < deadline
    ):
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (out / "summary.json").exists() or kill_after == "all"
    done = _lines(out / "predictions.jsonl")
    # the kill really happened after `want` records (not a crash or the deadline before them)
    assert done >= want, f"only {done} records were written before the kill"
    assert kill_after == "all" or done < total, "the run finished before it could be killed"
    complete_before = _complete_rows(out / "predictions.jsonl")

    # the resumed run must use the identical config, so the agent spec is the same string
    spec = (
        "py:runner_agents:SlowEchoAgent:0.02"
        if kill_after == "all"
        else "py:runner_agents:SlowEchoAgent:0.3"
    )
    result = subprocess.run(
        _eval_cmd(out, spec, "--resume"), env=_env(), capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    if kill_after != "all":
        # the records written before the kill are kept, not redone
        assert f"{len(complete_before)} of {total} done" in result.stderr, result.stderr
    resumed = _predictions(out)
    assert len(resumed) == total
    by_key = {(r["video_id"], r.get("sample", 0)): r for r in resumed}
    for row in complete_before:
        assert by_key[(row["video_id"], row.get("sample", 0))] == row
    assert len({(r["video_id"], r.get("sample", 0)) for r in resumed}) == total
    assert resumed == _predictions(uninterrupted)
    assert _summary(out)["overall"] == _summary(uninterrupted)["overall"]
    assert _summary(out)["scenarios"] == _summary(uninterrupted)["scenarios"]


def test_torn_last_line_is_dropped_and_redone(tmp_path):
    path = tmp_path / "predictions.jsonl"
    good = {"video_id": "a", "sample": 0, "actions": []}
    failed = {"video_id": "b", "sample": 0, "actions": [], "error": "boom"}
    path.write_text(json.dumps(good) + "\n" + json.dumps(failed) + "\n" + '{"video_id": "c", "act')
    rows = recover_predictions(path)
    assert [r.to_json() for r in rows] == [good]
    assert path.read_text() == json.dumps(good) + "\n"


def test_a_torn_last_line_in_a_run_is_redone_on_resume(tmp_path, uninterrupted):
    """A run killed mid-write: the torn record is dropped, redone once, nothing duplicated."""
    out = tmp_path / "run"
    out.mkdir()
    shutil.copy(uninterrupted / "config.json", out / "config.json")
    lines = (uninterrupted / "predictions.jsonl").read_text().splitlines(keepends=True)
    kept = 5
    torn = lines[kept][: len(lines[kept]) // 2]
    (out / "predictions.jsonl").write_text("".join(lines[:kept]) + torn)
    result = subprocess.run(
        _eval_cmd(out, "py:runner_agents:SlowEchoAgent:0.02", "--resume"),
        env=_env(),
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert f"{kept} of {len(lines)} done, {len(lines) - kept} to go" in result.stderr
    resumed = _predictions(out)
    assert len({(r["video_id"], r.get("sample", 0)) for r in resumed}) == len(resumed)
    assert resumed == _predictions(uninterrupted)
    assert _summary(out)["overall"] == _summary(uninterrupted)["overall"]


def test_failed_videos_are_counted_then_retried_on_resume(tmp_path):
    markers = tmp_path / "markers"
    markers.mkdir()
    env = _env(FLAKY_MARKERS=str(markers), FLAKY_IDS="home_pot_boiling_over,safety_person_falling")
    out = tmp_path / "run"
    first = subprocess.run(
        _eval_cmd(out, "py:runner_agents:FlakyAgent"), env=env, capture_output=True, text=True
    )
    # failures exit 1 (never 0), and the run folder is complete all the same
    assert first.returncode == 1, first.stderr
    assert f"2 video(s) of {out} failed" in first.stderr
    assert f"rerun the same command with --out {out} --resume to retry them" in first.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["counts"]["failed"] == 2
    failed_ids = {f["video_id"] for f in summary["failures"]}
    assert failed_ids == {"home_pot_boiling_over", "safety_person_falling"}
    assert "2 failed" in (out / "report.md").read_text()
    config = json.loads((out / "config.json").read_text())
    for record in (config, summary):
        assert record["status"] == "incomplete"
        assert record["status_reason"] == "2 failed, 0 missing of 16"
    first_rows = {r["video_id"]: r for r in _predictions(out)}
    assert len(first_rows) == 16
    for vid in failed_ids:
        assert first_rows[vid]["actions"] == [] and "RateLimitError" in first_rows[vid]["error"]

    second = subprocess.run(
        _eval_cmd(out, "py:runner_agents:FlakyAgent", "--resume"),
        env=env,
        capture_output=True,
        text=True,
    )
    assert second.returncode == 0, second.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["counts"]["failed"] == 0
    assert summary["status"] == "complete"
    assert json.loads((out / "config.json").read_text())["status"] == "complete"
    assert "resuming" in second.stderr and "14 of 16 done, 2 to go" in second.stderr
    rows = _predictions(out)
    assert len(rows) == len({r["video_id"] for r in rows}) == 16
    assert not any("error" in r for r in rows)
    retried = {r["video_id"]: r for r in rows}
    for vid in failed_ids:
        assert retried[vid]["actions"], f"{vid} was not answered on resume"
    # the videos that succeeded the first time were kept as they were
    for vid, row in first_rows.items():
        if vid not in failed_ids:
            assert retried[vid] == row


def test_a_failure_can_never_raise_a_score(tmp_path):
    markers = tmp_path / "markers"
    markers.mkdir()
    env = _env(FLAKY_MARKERS=str(markers), FLAKY_IDS="home_pot_boiling_over")
    flaky = tmp_path / "flaky"
    failed = subprocess.run(
        _eval_cmd(flaky, "py:runner_agents:FlakyAgent"), env=env, capture_output=True, text=True
    )
    assert failed.returncode == 1, failed.stderr
    rows = {r["video_id"]: r for r in _predictions(flaky)}
    assert rows["home_pot_boiling_over"]["actions"] == []
    scores = {
        json.loads(line)["video_id"]: json.loads(line)
        for line in (flaky / "scores.jsonl").read_text().splitlines()
    }
    assert scores["home_pot_boiling_over"]["weighted_f1"] == 0.0
    assert scores["home_pot_boiling_over"]["status"] == "failed"
    summary = json.loads((flaky / "summary.json").read_text())
    assert summary["counts"]["failed"] == 1
    # the same answers without the failure score higher: the failure counted as empty
    full = tmp_path / "full"
    subprocess.run(
        _eval_cmd(full, "py:runner_agents:SlowEchoAgent:0"), env=_env(), check=True,
        capture_output=True,
    )  # fmt: skip
    full_scores = {
        json.loads(line)["video_id"]: json.loads(line)
        for line in (full / "scores.jsonl").read_text().splitlines()
    }
    assert full_scores["home_pot_boiling_over"]["weighted_f1"] > 0.0
    assert summary["overall"]["weighted_f1"] < _summary(full)["overall"]["weighted_f1"]


def test_shards_partition_the_data_and_merge_to_the_full_run(tmp_path, uninterrupted):
    spec = "py:runner_agents:SlowEchoAgent:0.02"
    shards = []
    for i in (1, 2, 3):
        out = tmp_path / f"shard{i}"
        subprocess.run(
            _eval_cmd(out, spec, "--shard", f"{i}/3"), env=_env(), check=True, capture_output=True
        )
        shards.append(out)
    ids = [{r["video_id"] for r in _predictions(s)} for s in shards]
    assert all(ids), "every shard holds videos"
    assert not (ids[0] & ids[1]) and not (ids[1] & ids[2]) and not (ids[0] & ids[2])
    assert ids[0] | ids[1] | ids[2] == {r["video_id"] for r in _predictions(uninterrupted)}
    merged = tmp_path / "merged"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "visualact_env",
            "merge",
            *map(str, shards),
            "--out",
            str(merged),
            "--no-html",
        ],
        env=_env(),
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert _predictions(merged) == _predictions(uninterrupted)
    assert _summary(merged)["overall"] == _summary(uninterrupted)["overall"]
    # a shard on its own is part of a run; the merged run is complete
    for shard in shards:
        for name in ("config.json", "summary.json"):
            record = json.loads((shard / name).read_text())
            assert record["status"] == "incomplete" and "shard" in record["status_reason"]
    for name in ("config.json", "summary.json"):
        assert json.loads((merged / name).read_text())["status"] == "complete"

    # an incomplete set of shards is refused
    refused = subprocess.run(
        [
            sys.executable,
            "-m",
            "visualact_env",
            "merge",
            str(shards[0]),
            str(shards[1]),
            "--out",
            str(tmp_path / "m2"),
        ],
        env=_env(),
        capture_output=True,
        text=True,
    )
    assert refused.returncode == 2 and "missing" in refused.stderr


def test_merge_refuses_shards_of_different_runs(tmp_path):
    a = tmp_path / "a"
    b = tmp_path / "b"
    subprocess.run(
        _eval_cmd(a, "empty", "--shard", "1/2"), env=_env(), check=True, capture_output=True
    )
    subprocess.run(
        _eval_cmd(b, "empty", "--shard", "2/2", "--frames", "4"),
        env=_env(),
        check=True,
        capture_output=True,
    )
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "visualact_env",
            "merge",
            str(a),
            str(b),
            "--out",
            str(tmp_path / "m"),
        ],
        env=_env(),
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert "does not belong" in result.stderr and "sampler" in result.stderr


def _cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "visualact_env", *args],
        env=_env(),
        capture_output=True,
        text=True,
        cwd=cwd,
    )


@pytest.mark.parametrize(
    ("agent", "message"),
    [
        ("retreival", "unknown agent 'retreival'"),
        ("random:x", "argument must be the number of actions"),
        ("py:no_such_module:X", "No module named 'no_such_module'"),
        ("openai:", "needs a model"),
        ("hf:/no/such/model/folder", "model folder not found"),
    ],
)
def test_a_bad_agent_spec_is_a_clear_error_without_traceback(tmp_path, agent, message):
    result = _cli("eval", "--agent", agent, "--out", str(tmp_path / "run"), "--no-html")
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert "cannot build agent" in result.stderr and message in result.stderr
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (["--frames", "0"], "--frames must be >= 1"),
        (["--samples", "0"], "--samples must be >= 1"),
        (["--concurrency", "0"], "--concurrency must be >= 1"),
        (["--tau", "2"], "--tau must be within [-1, 1]"),
        (["--scenarios", "kitchen"], "unknown scenario(s) 'kitchen'; choose from DN, HS, SM, HMI"),
    ],
)
def test_impossible_eval_options_are_refused_before_any_work(tmp_path, option, message):
    result = _cli("eval", "--agent", "empty", "--out", str(tmp_path / "run"), *option)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr and message in result.stderr
    assert not (tmp_path / "run").exists()
    with pytest.raises(RunError):
        run_eval(EvalConfig(agent="empty", out=tmp_path / "api", samples=0))


def test_a_plain_agent_subclass_in_the_current_folder_runs_with_the_script(tmp_path):
    (tmp_path / "my_agents.py").write_text(
        "from visualact_env.agent import Agent, AgentOutput\n"
        "from visualact_env.records import Action\n\n"
        "class MyAgent(Agent):\n"
        "    spec = 'py:my_agents:MyAgent'\n\n"
        "    def act(self, observation, info):\n"
        "        return AgentOutput(actions=(Action('Call for help', 3, True),))\n"
    )
    script = Path(sys.executable).with_name("visualact")
    cmd = [str(script)] if script.exists() else [sys.executable, "-m", "visualact_env"]
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    result = subprocess.run(
        [*cmd, "eval", "--agent", "py:my_agents:MyAgent", "--out", "run", "--no-html"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert len(_predictions(tmp_path / "run")) == 16


def test_eval_accepts_every_frame_rule_of_the_sampler(tmp_path):
    result = _cli("eval", "--agent", "empty", "--out", str(tmp_path / "run"), "--no-html",
                  "--frame-rule", "linspace-floor")  # fmt: skip
    assert result.returncode == 0, result.stderr
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["sampler"]["rule"] == "linspace-floor"


def test_ctrl_c_names_the_resume_command(tmp_path):
    (tmp_path / "interrupting.py").write_text(
        "from visualact_env.agent import Agent\n\n"
        "class Interrupting(Agent):\n"
        "    def act(self, observation, info):\n"
        "        raise KeyboardInterrupt\n"
    )
    out = tmp_path / "run"
    result = _cli("eval", "--agent", "py:interrupting:Interrupting", "--out", str(out),
                  "--no-progress", cwd=tmp_path)  # fmt: skip
    assert result.returncode == 130
    assert f"--out {out} --resume" in result.stderr and "Traceback" not in result.stderr


def test_merge_never_overwrites_a_shard_or_another_run(tmp_path):
    shards = []
    for i in (1, 2):
        shard = tmp_path / f"shard{i}"
        subprocess.run(
            _eval_cmd(shard, "empty", "--shard", f"{i}/2"),
            env=_env(),
            check=True,
            capture_output=True,
        )
        shards.append(str(shard))
    before = (tmp_path / "shard1" / "predictions.jsonl").read_bytes()
    into_shard = _cli("merge", *shards, "--out", shards[0], "--no-html", "--overwrite")
    assert into_shard.returncode == 2 and "is one of the shards" in into_shard.stderr
    assert (tmp_path / "shard1" / "predictions.jsonl").read_bytes() == before

    merged = tmp_path / "merged"
    assert _cli("merge", *shards, "--out", str(merged), "--no-html").returncode == 0
    again = _cli("merge", *shards, "--out", str(merged), "--no-html")
    assert again.returncode == 2 and "already holds a run" in again.stderr
    replaced = _cli("merge", *shards, "--out", str(merged), "--no-html", "--overwrite")
    assert replaced.returncode == 0, replaced.stderr
    assert len(_predictions(merged)) == 16


def test_secrets_in_agent_options_or_server_urls_are_never_written(tmp_path):
    """Regression: ``eval_config`` used to record ``--agent-option api_key=...`` and URL
    credentials verbatim in config.json (and so in summary.json)."""
    secret = "sk-runner-TOPSECRET-0000"
    out = run_eval(
        EvalConfig(
            agent="py:runner_agents:SlowEchoAgent:0",
            out=tmp_path / "run",
            limit=1,
            progress=False,
            reports=False,
            agent_options={"api_key": secret, "delay": 0.0},
        ),
        log=lambda msg: None,
    )
    text = (out / "config.json").read_text()
    assert secret not in text and "TOPSECRET" not in text
    recorded = json.loads(text)["eval_config"]
    assert recorded["agent_options"] == {"api_key": "***", "delay": 0.0}
    assert recorded["agent"] == "py:runner_agents:SlowEchoAgent:0"

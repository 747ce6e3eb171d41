"""``visualact eval`` under torchrun / accelerate launch: one run shared by several processes.

The end-to-end tests launch real processes on CPU (gloo) over the demo's encoded clips with a
deterministic agent and compare with a single-process run of the same configuration.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from datetime import timedelta
from pathlib import Path

import pytest

from visualact_env.distributed import LocalQueue, StoreQueue, detect_launch
from visualact_env.rundir import RunError, fold_parts, part_path
from visualact_env.runner import EvalConfig, run_eval

TESTS = Path(__file__).resolve().parent
AGENT = "py:runner_agents:SlowEchoAgent:0.05"
VOLATILE_SUMMARY = ("config", "run_dir", "launches", "warnings")


# ---------------------------------------------------------------------------------------------
# The parts


def test_the_launch_is_read_from_the_launchers_environment():
    assert not detect_launch({}).distributed
    torchrun = detect_launch(
        {"RANK": "1", "WORLD_SIZE": "4", "LOCAL_RANK": "1", "TORCHELASTIC_RUN_ID": "x"}
    )
    assert (torchrun.rank, torchrun.world_size, torchrun.local_rank) == (1, 4, 1)
    assert torchrun.launcher == "torchrun" and not torchrun.is_main
    accelerate = {"RANK": "0", "WORLD_SIZE": "2", "ACCELERATE_MIXED_PRECISION": "no"}
    assert detect_launch(accelerate).launcher == "accelerate"
    assert detect_launch({"RANK": "0", "WORLD_SIZE": "1"}).world_size == 1
    with pytest.raises(RunError, match="WORLD_SIZE='two' is not an integer"):
        detect_launch({"RANK": "0", "WORLD_SIZE": "two"})
    with pytest.raises(RunError, match="RANK=2, WORLD_SIZE=2"):
        detect_launch({"RANK": "2", "WORLD_SIZE": "2"})


def test_the_store_counter_hands_every_task_out_exactly_once():
    from torch.distributed import TCPStore

    server = TCPStore("127.0.0.1", 0, 1, True, timeout=timedelta(seconds=30))
    n, taken, lock = 103, [], threading.Lock()

    def worker(k: int) -> None:
        client = TCPStore("127.0.0.1", server.port, 1, False, timeout=timedelta(seconds=30))
        queue = StoreQueue(client, "visualact/0/next", n)
        while chunk := queue.take(k):
            with lock:
                taken.extend(chunk)

    threads = [threading.Thread(target=worker, args=(k,)) for k in (1, 2, 3, 5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(taken) == list(range(n))


def test_a_static_share_is_every_nth_task():
    queue = LocalQueue(10, range(1, 10, 3))
    assert queue.take(2) == [1, 4] and queue.take(2) == [7] and queue.take(2) == []


def _row(video: str, error: str | None = None) -> str:
    row = {"video_id": video, "sample": 0, "actions": []}
    if error:
        row["error"] = error
    return json.dumps(row) + "\n"


def test_folding_parts_keeps_one_record_per_video_and_prefers_a_success(tmp_path):
    (tmp_path / "predictions.jsonl").write_text(_row("a") + _row("b", "timeout"))
    part_path(tmp_path, 0).parent.mkdir()
    part_path(tmp_path, 0).write_text(_row("b") + _row("c") + '{"video_id": "d", "sam')
    part_path(tmp_path, 1).write_text(_row("a") + _row("e", "HTTP 500"))
    assert fold_parts(tmp_path) == 2
    rows = [json.loads(x) for x in (tmp_path / "predictions.jsonl").read_text().splitlines()]
    assert sorted(r["video_id"] for r in rows) == ["a", "b", "c", "e"]  # torn "d" is redone
    assert {r["video_id"]: r.get("error") for r in rows} == {
        "a": None,
        "b": None,
        "c": None,
        "e": "HTTP 500",
    }
    assert not list((tmp_path / "parts").iterdir())
    assert fold_parts(tmp_path) == 0


def test_a_single_process_resume_completes_a_folder_left_by_a_launch(tmp_path):
    """Records left in parts/ by a killed launch count as done for any later resume."""
    full = run_eval(
        EvalConfig(agent="oracle", out=tmp_path / "full", progress=False, reports=False)
    )
    lines = (full / "predictions.jsonl").read_text().splitlines(keepends=True)
    out = tmp_path / "killed"
    shutil.copytree(full, out)
    (out / "predictions.jsonl").write_text("".join(lines[:3]))
    part_path(out, 0).parent.mkdir()
    part_path(out, 0).write_text("".join(lines[3:6]) + lines[6][:20])  # torn at the kill
    part_path(out, 1).write_text("".join(lines[8:10]))
    logs: list[str] = []
    run_eval(
        EvalConfig(agent="oracle", out=out, resume=True, progress=False, reports=False),
        log=logs.append,
    )
    assert any(f"8 of {len(lines)} done" in x for x in logs), logs
    assert _predictions(out) == _predictions(full)
    assert not list((out / "parts").iterdir())


# ---------------------------------------------------------------------------------------------
# Real launches


def _env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(TESTS), env.get("PYTHONPATH", "")])
    env.update(extra)
    return env


def _eval_args(out: Path, agent: str, *extra: str) -> list[str]:
    return ["eval", "--agent", agent, "--out", str(out), "--no-html", "--no-progress", *extra]


def _torchrun(n: int = 2) -> list[str]:
    return [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(n)]


def _accelerate(n: int = 2) -> list[str]:
    return [
        sys.executable,
        "-m",
        "accelerate.commands.launch",
        "--num_processes",
        str(n),
        "--num_machines",
        "1",
        "--mixed_precision",
        "no",
        "--dynamo_backend",
        "no",
        "--multi_gpu",
    ]


def _run(cmd: list[str], **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        cmd, env=_env(**env), capture_output=True, text=True, timeout=600, cwd=TESTS.parent
    )


def _predictions(run: Path) -> list[dict]:
    rows = [json.loads(x) for x in (run / "predictions.jsonl").read_text().splitlines()]
    for row in rows:
        row.pop("latency_s", None)
    return rows


def _summary(run: Path) -> dict:
    summary = json.loads((run / "summary.json").read_text())
    usage = summary.get("usage") or {}
    for key in [k for k in usage if "latency" in k]:  # timing, not results
        usage.pop(key)
    return {k: v for k, v in summary.items() if k not in VOLATILE_SUMMARY}


@pytest.fixture(scope="module")
def single(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist") / "single"
    done = _run([sys.executable, "-m", "visualact_env", *_eval_args(out, AGENT)])
    assert done.returncode == 0, done.stderr[-3000:]
    return out


@pytest.mark.slow
def test_two_processes_under_torchrun_equal_one_process(single, tmp_path):
    out = tmp_path / "two"
    done = _run([*_torchrun(2), "-m", "visualact_env", *_eval_args(out, AGENT)])
    assert done.returncode == 0, done.stderr[-3000:]
    assert _predictions(out) == _predictions(single)
    assert _summary(out) == _summary(single)
    assert done.stdout.count("report.md: ") == 1  # rank 0 alone prints the results
    launch = json.loads((out / "config.json").read_text())["launches"][-1]
    assert (launch["launcher"], launch["world_size"], launch["hand_out"]) == (
        "torchrun",
        2,
        "dynamic",
    )
    assert [r["rank"] for r in launch["ranks"]] == [0, 1]
    assert sum(r["videos"] for r in launch["ranks"]) == len(_predictions(single))
    assert all(r["videos"] > 0 and r["videos_per_s"] > 0 for r in launch["ranks"])
    report = (out / "report.md").read_text()
    assert "## Throughput" in report and "torchrun, 2 processes, dynamic hand-out" in report
    assert json.loads((out / "summary.json").read_text())["launches"] == [launch]
    assert not list((out / "parts").iterdir())


@pytest.mark.slow
def test_a_killed_process_ends_the_launch_and_resume_completes_it(single, tmp_path):
    """Rank 1 is SIGKILLed mid-run (as by the OOM killer): the launch ends with a message
    naming --resume, and a resumed launch (here under accelerate) finishes the same result."""
    out, marker = tmp_path / "run", tmp_path / "died"
    env = {"DIE_MARKER": str(marker), "DIE_RANK": "1", "DIE_AFTER": "2"}
    agent = "py:dist_agents:DyingAgent:0.05"
    first = _run([*_torchrun(2), "-m", "visualact_env", *_eval_args(out, agent)], **env)
    assert first.returncode != 0 and marker.exists()
    assert "stopped by the launcher" in first.stderr, first.stderr[-3000:]
    assert f"--out {out} --resume" in first.stderr
    assert not (out / "summary.json").exists()
    kept = [r for p in sorted((out / "parts").iterdir()) for r in _predictions_of(p)]
    assert 2 <= len(kept) < len(_predictions(single))

    again = _run(
        [*_accelerate(2), "-m", "visualact_env", *_eval_args(out, agent, "--resume")], **env
    )
    assert again.returncode == 0, again.stderr[-3000:]
    assert f"resuming {out}: {len(kept)} of" in again.stderr
    resumed = _predictions(out)
    assert resumed == _predictions(single)
    by_video = {r["video_id"]: r for r in resumed}
    assert all(by_video[r["video_id"]] == r for r in kept)  # nothing recorded was redone
    summary, want = _summary(out), _summary(single)
    for key in ("agent_label", "agent_spec"):  # the names differ, not the results
        assert summary.pop(key, "py:dist_agents:DyingAgent") == "py:dist_agents:DyingAgent"
        want.pop(key, None)
    assert summary == want
    launch = json.loads((out / "config.json").read_text())["launches"][-1]
    assert (launch["launcher"], launch["world_size"]) == ("accelerate", 2)
    assert launch["done_before"] == len(kept)


def _predictions_of(path: Path) -> list[dict]:
    rows = []
    for line in path.read_text().splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        row.pop("latency_s", None)
        rows.append(row)
    return rows

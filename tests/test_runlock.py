"""One writer per run folder: real processes contending for one ``--out``."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from visualact_env.merge import merge_runs
from visualact_env.report import write_reports
from visualact_env.rundir import LOCK_FILE, RunError
from visualact_env.runlock import RunLock, lock_holder
from visualact_env.runner import EvalConfig, run_eval
from visualact_env.sweep import run_sweep

TESTS = Path(__file__).resolve().parent

HOLDER = """
import sys, time
from visualact_env.runlock import RunLock
with RunLock(sys.argv[1]):
    print("held", flush=True)
    sys.stdin.read()  # hold until the test closes our stdin
"""


def _env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(TESTS), env.get("PYTHONPATH", "")])
    return {**env, **extra}


def _cli(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "visualact_env", *args],
        env=_env(**env),
        capture_output=True,
        text=True,
        timeout=300,
    )


def _rows(run: Path) -> list[dict]:
    return [json.loads(x) for x in (run / "predictions.jsonl").read_text().splitlines() if x]


def _hold(folder: Path) -> subprocess.Popen:
    """Another process holding ``folder``'s lock until its stdin is closed."""
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(folder)],
        env=_env(),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "held"
    return holder


def _release(holder: subprocess.Popen) -> None:
    holder.stdin.close()
    assert holder.wait(timeout=30) == 0


def _wait_for_a_record(process: subprocess.Popen, out: Path) -> None:
    deadline = time.monotonic() + 120
    while not (out / "predictions.jsonl").is_file() or not _rows(out):
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.05)


def _refused(result: subprocess.CompletedProcess, pid: int) -> None:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert f"in use by another process (pid {pid})" in result.stderr, result.stderr


@pytest.mark.slow
def test_a_second_eval_on_a_running_folder_is_refused_and_destroys_nothing(tmp_path):
    """Regression: ``--overwrite`` while another run wrote there lost its finished predictions,
    and two ``--resume``s appended the same videos twice; all of them exited 0."""
    out, gate = tmp_path / "run", tmp_path / "gate"
    args = ["eval", "--agent", "py:runner_agents:GatedAgent", "--out", str(out), "--no-html",
            "--no-progress"]  # fmt: skip
    first = subprocess.Popen(
        [sys.executable, "-m", "visualact_env", *args],
        env=_env(GATE=str(gate)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_for_a_record(first, out)  # the first run now waits at its second video
        assert lock_holder(out) == first.pid
        _refused(_cli(*args, "--overwrite", GATE=str(gate)), first.pid)
        busy = f"in use by another process \\(pid {first.pid}\\)"
        with pytest.raises(RunError, match=busy):
            run_eval(EvalConfig(agent="empty", out=out, resume=True, progress=False))
        with pytest.raises(RunError, match=busy):
            write_reports(out, html=False)
        assert len(_rows(out)) == 1
        gate.touch()
        _, stderr = first.communicate(timeout=300)
    finally:
        if first.poll() is None:
            first.kill()
    assert first.returncode == 0, stderr
    rows = _rows(out)
    assert len(rows) == len({r["video_id"] for r in rows}) == 16
    assert not (out / LOCK_FILE).exists()


def test_a_lock_left_by_a_killed_run_does_not_block_its_resume(tmp_path):
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "visualact_env", "eval", "--out", str(out), "--no-html",
           "--no-progress", "--agent", "py:runner_agents:GatedAgent"]  # fmt: skip
    env = _env(GATE=str(tmp_path / "gate"))
    first = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _wait_for_a_record(first, out)
    os.kill(first.pid, signal.SIGKILL)
    first.wait(timeout=30)
    # the dead run's lock file is still there, naming it: it must not block anyone
    assert lock_holder(out) == first.pid
    (tmp_path / "gate").touch()
    resumed = subprocess.run([*cmd, "--resume"], env=env, capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    rows = _rows(out)
    assert len(rows) == len({r["video_id"] for r in rows}) == 16
    assert not (out / LOCK_FILE).exists()


def test_every_writing_command_is_refused_while_another_process_holds_the_folder(tmp_path):
    shards = [
        run_eval(EvalConfig(agent="empty", out=tmp_path / f"shard{i}", shard=(i, 2),
                            progress=False, reports=False), log=lambda _: None)
        for i in (1, 2)
    ]  # fmt: skip
    write_reports(shards[0], plots=False, html=False, n_resamples=10)
    before = {p.name: p.read_bytes() for p in shards[0].iterdir() if p.is_file()}
    busy = tmp_path / "busy"
    holder = _hold(shards[0])
    try:
        _refused(_cli("eval", "--agent", "empty", "--out", str(shards[0]), "--shard", "1/2",
                      "--overwrite", "--no-progress"), holder.pid)  # fmt: skip
        _refused(_cli("report", str(shards[0])), holder.pid)
        busy_message = f"in use by another process \\(pid {holder.pid}\\)"
        with pytest.raises(RunError, match=busy_message):
            run_eval(EvalConfig(agent="empty", out=shards[0], shard=(1, 2), resume=True,
                                progress=False))  # fmt: skip
        with pytest.raises(RunError, match=busy_message):
            write_reports(shards[0])
        assert {
            p.name: p.read_bytes()
            for p in shards[0].iterdir()
            if p.is_file() and p.name != LOCK_FILE
        } == before
        _release(holder)
        holder = _hold(busy)
        busy_message = f"in use by another process \\(pid {holder.pid}\\)"
        with pytest.raises(RunError, match=busy_message):
            merge_runs(shards, busy, html=False)
        with pytest.raises(RunError, match=busy_message):
            run_sweep(EvalConfig(agent="empty", progress=False), busy, [2])
        assert sorted(p.name for p in busy.iterdir()) == [LOCK_FILE]
    finally:
        _release(holder)
    assert not busy.exists()


def test_the_lock_is_reentrant_in_one_process_and_released_with_the_last_hold(tmp_path):
    folder = tmp_path / "run"
    with RunLock(folder):
        assert lock_holder(folder) == os.getpid()
        with RunLock(folder):  # the runner holds it and calls the report writer, which takes it
            pass
        assert (folder / LOCK_FILE).exists()
        (folder / "config.json").write_text("{}")
    assert not (folder / LOCK_FILE).exists()
    with RunLock(folder):  # and it can be taken again
        pass


def test_a_folder_made_only_for_the_lock_is_removed_again(tmp_path):
    folder = tmp_path / "new" / "run"
    with pytest.raises(RunError), RunLock(folder):
        raise RunError("failed before anything was written")
    assert not folder.exists()

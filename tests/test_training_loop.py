"""The fine-tuning loop as commands: `train grpo`, the in-training evaluation, `train loop`,
resume after kill -9, and two processes under `accelerate launch` (tiny offline VLM, CPU)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from visualact_env.datasets import load_benchmark
from visualact_env.splits import trained_on
from visualact_env.training.grpo import (
    LOGGED_PARTS,
    VisualActReward,
    ground_truth_json,
    parse_reward_spec,
    reward_functions,
)

pytestmark = pytest.mark.slow

CLI = [sys.executable, "-m", "visualact_env"]
SMALL = ["--frames", "2", "--frame-size", "32x32"]


def _run(args: list[str], **kwargs) -> subprocess.CompletedProcess[str]:
    return subprocess.run(CLI + args, capture_output=True, text=True, **kwargs)


@pytest.fixture(scope="module")
def split(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("split")
    done = _run(
        ["data", "split", "demo", "--val-fraction", "0.25", "--seed", "0", "--out", str(out)]
    )
    assert done.returncode == 0, done.stderr
    return out


# ---------------------------------------------------------------------------------------------
# The reward and its parts


def test_reward_spec_reads_one_figure_or_a_weighted_mix() -> None:
    assert parse_reward_spec("weighted_f1") == {"weighted_f1": 1.0}
    assert parse_reward_spec("f1=0.5, scale_score=0.5") == {"f1": 0.5, "scale_score": 0.5}
    for bad in ("accuracy", "f1=x", "f1=0", "parse_failure"):
        with pytest.raises(ValueError, match="reward"):
            parse_reward_spec(bad)


def test_reward_parts_are_the_figures_of_one_scoring_and_are_logged_at_weight_zero() -> None:
    demo = load_benchmark("demo")
    record = demo.records[0]
    gt = [a.to_dict() for a in record.actions]
    completions = [json.dumps({"actions": gt}), json.dumps({"actions": gt[:1]}), "no idea"]
    kwargs = {
        "ground_truth": [ground_truth_json(record)] * 3,
        "video_id": [record.video_id] * 3,
        "scenario": [record.scenario] * 3,
    }
    funcs, weights = reward_functions("f1=0.6,scale_score=0.4")
    names = [f.__name__ for f in funcs]
    assert names[:2] == ["visualact_f1", "visualact_scale_score"]
    assert weights[:2] == [0.6, 0.4] and set(weights[2:]) == {0.0}
    assert {n.removeprefix("visualact_") for n in names} >= set(LOGGED_PARTS)
    values = {f.__name__: f(None, completions, None, **kwargs) for f in funcs}
    assert values["visualact_f1"][0] == pytest.approx(1.0)
    assert values["visualact_precision"][1] == pytest.approx(1.0)
    assert values["visualact_recall"][1] == pytest.approx(1 / len(gt))
    assert values["visualact_parse_failure"] == [0.0, 0.0, 1.0]
    single = VisualActReward(reward="f1")(None, completions, None, **kwargs)
    assert values["visualact_f1"] == single


# ---------------------------------------------------------------------------------------------
# train grpo, with the evaluation callback


@pytest.fixture(scope="module")
def grpo_run(split: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("grpo") / "ckpt"
    args = ["train", "grpo", "--model", "tiny", "--data", str(split / "train.jsonl"), *SMALL]
    args += ["--limit", "2", "--num-generations", "2", "--max-completion-length", "16"]
    args += ["--max-steps", "2", "--learning-rate", "1e-5", "--out", str(out)]
    args += ["--eval-data", str(split / "val.jsonl"), "--eval-steps", "2"]
    args += ["--eval-max-tokens", "16"]
    done = _run(args)
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"hf:{out}" in done.stdout
    return out


def test_train_grpo_logs_the_reward_parts_beside_the_reward(grpo_run: Path) -> None:
    record = json.loads((grpo_run / "visualact_grpo.json").read_text())
    steps = [h for h in record["log_history"] if "reward" in h]
    assert len(steps) == 2
    for h in steps:
        for part in ("weighted_f1", *LOGGED_PARTS):
            assert f"rewards/visualact_{part}/mean" in h
    assert record["world_size"] == 1


def test_train_grpo_records_the_videos_it_trained_on(grpo_run: Path, split: Path) -> None:
    train = load_benchmark(split / "train.jsonl")
    assert trained_on(grpo_run) == sorted(train.video_ids[:2])
    val = load_benchmark(split / "val.jsonl")
    done = _run(
        [
            "eval",
            "--agent",
            f"hf:{grpo_run}",
            "--data",
            str(split / "train.jsonl"),
            *SMALL,
            "--limit",
            "2",
            "--max-tokens",
            "4",
            "--strict",
            "--out",
            str(grpo_run.parent / "e"),
        ]
    )
    assert done.returncode == 2 and "were used to train" in done.stderr
    assert not set(trained_on(grpo_run) or ()) & set(val.video_ids)


def test_eval_callback_figures_equal_visualact_score_on_its_predictions(
    grpo_run: Path, split: Path
) -> None:
    record = json.loads((grpo_run / "visualact_grpo.json").read_text())
    logged = [h for h in record["log_history"] if "eval_visualact/f1" in h]
    assert [h["step"] for h in logged] == [2]
    run = grpo_run / "eval" / "step-2" / "run"
    done = _run(
        [
            "score",
            "--predictions",
            str(run / "predictions.jsonl"),
            "--annotations",
            str(split / "val.jsonl"),
            "--json",
        ]
    )
    assert done.returncode == 0, done.stderr
    overall = json.loads(done.stdout)["overall"]
    for figure in ("precision", "recall", "f1", "weighted_f1", "scale_score"):
        assert logged[0][f"eval_visualact/{figure}"] == pytest.approx(overall[figure]), figure
    assert not (run.parent / "model").exists()  # the weights copy is removed after scoring


# ---------------------------------------------------------------------------------------------
# train loop


def _loop_args(split: Path, out: Path) -> list[str]:
    args = ["train", "loop", "--model", "tiny", "--train-data", str(split / "train.jsonl")]
    args += ["--val-data", str(split / "val.jsonl"), "--iterations", "2", "--samples", "2"]
    args += ["--train-limit", "2", "--val-limit", "2", "--max-tokens", "8", *SMALL]
    args += ["--max-steps", "1", "--learning-rate", "1e-4", "--reference", "--out", str(out)]
    return args


@pytest.fixture(scope="module")
def loop_run(split: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("loop") / "loop"
    done = _run(_loop_args(split, out))
    assert done.returncode == 0, done.stderr[-3000:]
    return out


def _comparable(loop_json: Path) -> list[dict]:
    rows = json.loads(loop_json.read_text())["iterations"]
    return [{k: v for k, v in r.items() if k not in ("checkpoint", "eval_run")} for r in rows]


def test_train_loop_writes_one_row_per_iteration_with_cis_and_paired_differences(
    loop_run: Path,
) -> None:
    record = json.loads((loop_run / "loop.json").read_text())
    assert record["status"] == "complete"
    rows = record["iterations"]
    assert [r["iteration"] for r in rows] == [0, 1, 2]
    for row in rows:
        for figure in ("f1", "weighted_f1", "scale_score", "proactive_recall"):
            cell = row["figures"][figure]
            assert cell["ci"][0] <= cell["value"] <= cell["ci"][1]
        assert row["videos"] == 2
    assert rows[0]["vs_iteration_0"] is None
    assert set(rows[2]["vs_iteration_0"]["f1"]) >= {"difference", "p_value", "low", "high"}
    table = (loop_run / "loop.md").read_text()
    assert [
        line.split(" | ")[0] for line in table.splitlines() if line[:3] in ("| 0", "| 1", "| 2")
    ] == ["| 0", "| 1", "| 2"]
    assert "(p=" in table
    assert (loop_run / "learning_curve.png").read_bytes()[:4] == b"\x89PNG"
    for k in (1, 2):
        assert trained_on(loop_run / f"iter-{k}" / "model")


def test_train_loop_refuses_to_overwrite_without_resume(loop_run: Path, split: Path) -> None:
    done = _run(_loop_args(split, loop_run))
    assert done.returncode == 2 and "--resume" in done.stderr


def test_train_loop_resumes_after_kill_9_to_the_same_table(
    loop_run: Path, split: Path, tmp_path: Path
) -> None:
    out = tmp_path / "loop"
    proc = subprocess.Popen(
        CLI + _loop_args(split, out),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    marker = out / "iter-2" / "rollouts" / "predictions.jsonl"
    deadline = time.monotonic() + 600
    while not marker.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert proc.poll() is None, "the loop ended before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (out / "iter-2" / "eval" / "summary.json").exists()
    done = _run([*_loop_args(split, out), "--resume"])
    assert done.returncode == 0, done.stderr[-3000:]
    assert _comparable(out / "loop.json") == _comparable(loop_run / "loop.json")
    # nothing finished was redone: iteration 1's model is the one written before the kill
    assert (
        out / "iter-1" / "model" / "visualact_mpo.json"
    ).stat().st_mtime < marker.stat().st_mtime


# ---------------------------------------------------------------------------------------------
# Two processes


def test_two_process_accelerate_grpo_rewards_equal_the_single_process_reward(
    split: Path, tmp_path: Path
) -> None:
    out = tmp_path / "ckpt"
    env = {**os.environ, "ACCELERATE_USE_CPU": "1", "HF_HUB_OFFLINE": "1"}
    launch = [
        sys.executable,
        "-m",
        "accelerate.commands.launch",
        "--num_processes",
        "2",
        "--num_machines",
        "1",
        "--mixed_precision",
        "no",
        "--dynamo_backend",
        "no",
        "--multi_gpu",
        "-m",
        "visualact_env",
    ]
    args = ["train", "grpo", "--model", "tiny", "--data", str(split / "train.jsonl"), *SMALL]
    args += ["--limit", "2", "--num-generations", "2", "--max-completion-length", "16"]
    args += ["--max-steps", "1", "--out", str(out)]
    done = subprocess.run(launch + args, capture_output=True, text=True, env=env, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    record = json.loads((out / "visualact_grpo.json").read_text())
    assert record["world_size"] == 2
    rows = []
    for rank in (0, 1):
        lines = (out / "rewards" / f"rewards-rank{rank}.jsonl").read_text().splitlines()
        rows += [json.loads(line) for line in lines]
    assert {r["rank"] for r in rows} == {0, 1}
    reward = VisualActReward(reward="weighted_f1")
    again = reward(
        None,
        [r["completion"] for r in rows],
        None,
        ground_truth=[r["ground_truth"] for r in rows],
        video_id=[r["video_id"] for r in rows],
    )
    assert again == [r["weighted_f1"] for r in rows]

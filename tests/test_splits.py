"""Train/validation splits: stratified, deterministic, loadable, and remembered by checkpoints."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from visualact_env.datasets import load_benchmark
from visualact_env.records import Benchmark
from visualact_env.splits import (
    overlap_with_training,
    record_trained_on,
    split_benchmark,
    trained_on,
)


@pytest.fixture(scope="module")
def synthetic() -> Benchmark:
    return load_benchmark("synthetic-full", check_videos=False)


def test_split_is_stratified_by_scenario_and_covers_every_video_once(synthetic: Benchmark) -> None:
    split = split_benchmark(synthetic, 0.2, seed=3)
    assert set(split.train).isdisjoint(split.val)
    assert sorted(split.train + split.val) == sorted(synthetic.video_ids)
    total = Counter(r.scenario for r in synthetic)
    val = Counter(synthetic[v].scenario for v in split.val)
    for scenario, n in total.items():
        assert abs(val[scenario] - 0.2 * n) <= 1, scenario


def test_split_balances_the_highest_apl_within_each_scenario(synthetic: Benchmark) -> None:
    split = split_benchmark(synthetic, 0.25, seed=0)
    val = set(split.val)
    groups: dict[tuple[str, int], list[bool]] = {}
    for r in synthetic:
        level = max(a.apl for a in r.actions)
        groups.setdefault((r.scenario, level), []).append(r.video_id in val)
    for key, flags in groups.items():
        # each (scenario, level) group gives val its share, to within one video
        assert abs(sum(flags) - 0.25 * len(flags)) <= 1, key


def test_split_depends_on_seed_and_content_not_on_record_order(synthetic: Benchmark) -> None:
    a = split_benchmark(synthetic, 0.2, seed=1)
    shuffled = Benchmark(records=tuple(reversed(synthetic.records)), name=synthetic.name)
    b = split_benchmark(shuffled, 0.2, seed=1)
    assert set(a.val) == set(b.val)
    assert set(split_benchmark(synthetic, 0.2, seed=2).val) != set(a.val)


def test_every_scenario_keeps_a_video_on_each_side() -> None:
    demo = load_benchmark("demo")
    split = split_benchmark(demo, 0.05, seed=0)
    for part in (split.train, split.val):
        assert {demo[v].scenario for v in part} == set(demo.scenarios)


@pytest.mark.parametrize("fraction", [0.0, 1.0, -0.1, 1.5])
def test_fraction_outside_zero_one_is_refused(fraction: float) -> None:
    with pytest.raises(ValueError, match="val_fraction"):
        split_benchmark(load_benchmark("demo"), fraction)


def test_split_command_writes_loadable_parts_with_fingerprints(tmp_path: Path) -> None:
    out = tmp_path / "split"
    cmd = [sys.executable, "-m", "visualact_env", "data", "split", "demo"]
    args = ["--val-fraction", "0.25", "--seed", "0", "--out", str(out)]
    done = subprocess.run(cmd + args, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    record = json.loads((out / "split.json").read_text())
    train = load_benchmark(out / "train.jsonl")  # clips resolve through the links
    val = load_benchmark(out / "val.jsonl")
    assert record["train"]["fingerprint"] == train.fingerprint
    assert record["val"]["fingerprint"] == val.fingerprint
    assert record["source"]["fingerprint"] == load_benchmark("demo").fingerprint
    assert record["val"]["video_ids"] == val.video_ids and len(val) == 4
    # a second run with the same seed is byte-identical
    again = subprocess.run(cmd + args, capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    assert json.loads((out / "split.json").read_text()) == record


def test_checkpoint_records_what_it_trained_on_and_overlap_is_found(tmp_path: Path) -> None:
    ckpt = tmp_path / "ckpt"
    ckpt.mkdir()
    assert overlap_with_training(f"hf:{ckpt}", ["a", "b"]) == []
    record_trained_on(ckpt, ["a", "c"], data="demo", fingerprint="f")
    record_trained_on(ckpt, ["d"], data="demo", fingerprint="f")  # a later round adds to it
    assert trained_on(ckpt) == ["a", "c", "d"]
    assert overlap_with_training(f"hf:{ckpt}", ["b", "d", "a"]) == ["a", "d"]
    assert overlap_with_training("retrieval", ["a"]) == []


@pytest.fixture()
def trained_checkpoint(tmp_path: Path) -> Path:
    """A copy of the tiny offline VLM that says it was trained on two of the three videos that
    ``eval --limit 3`` picks."""
    import shutil

    from visualact_env.testing.tiny_vlm import tiny_vlm_path

    ckpt = tmp_path / "ckpt"
    shutil.copytree(tiny_vlm_path(), ckpt)
    from visualact_env.rundir import select_videos

    demo = load_benchmark("demo")
    evaluated = [r.video_id for r in select_videos(demo, (), 3)]  # what `--limit 3` runs
    record_trained_on(ckpt, evaluated[:2], data="demo", fingerprint=demo.fingerprint)
    return ckpt


def _eval(ckpt: Path, out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "visualact_env", "eval", "--agent", f"hf:{ckpt}", "--data", "demo"]
    cmd += ["--limit", "3", "--frames", "2", "--frame-size", "32x32", "--max-tokens", "8"]
    cmd += ["--out", str(out), "--no-html", *extra]
    return subprocess.run(cmd, capture_output=True, text=True)


def test_eval_warns_loudly_when_a_checkpoint_is_evaluated_on_its_training_videos(
    trained_checkpoint: Path, tmp_path: Path
) -> None:
    done = _eval(trained_checkpoint, tmp_path / "run")
    assert done.returncode == 0, done.stderr
    assert "WARNING: 2 of the 3 evaluated videos were used to train" in done.stderr


def test_eval_strict_refuses_a_checkpoint_trained_on_the_evaluated_videos(
    trained_checkpoint: Path, tmp_path: Path
) -> None:
    done = _eval(trained_checkpoint, tmp_path / "run", "--strict")
    assert done.returncode == 2
    assert "2 of the 3 evaluated videos were used to train" in done.stderr
    assert "--strict" in done.stderr
    assert not (tmp_path / "run").exists()

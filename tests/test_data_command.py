"""``visualact data validate`` and ``visualact data generate`` through the real CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from visualact_env.cli import main
from visualact_env.datasets import load_benchmark
from visualact_env.loading import parse_annotations, write_jsonl


def _dataset(root: Path, n: int = 3) -> Path:
    (root / "videos").mkdir(parents=True)
    rows = []
    for i in range(n):
        (root / "videos" / f"v{i}.mp4").write_bytes(b"\x00" * 16)
        rows.append(
            {
                "video_id": f"v{i}",
                "video": f"videos/v{i}.mp4",
                "scenario": "home_service",
                "actions": [{"text": "Turn off the tap", "apl": 2, "proactive": True}],
            }
        )
    return write_jsonl(root / "annotations.jsonl", rows)


def test_validate_ok_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _dataset(tmp_path)
    bench = parse_annotations(path)
    assert main(["data", "validate", str(tmp_path)]) == 0  # a folder holding annotations.jsonl
    out = capsys.readouterr().out.strip().splitlines()
    assert out == [
        f"OK {path}: 3 videos, 3 actions, scenarios home_service, clips present, "
        f"fingerprint {bench.fingerprint}"
    ]


def test_validate_lists_every_problem_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _dataset(tmp_path, n=60)
    for i in range(60):
        (tmp_path / "videos" / f"v{i}.mp4").unlink()
    assert main(["data", "validate", str(path)]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[0] == "60 problems found:"
    assert len(err) == 61  # all of them, not the first 50
    assert err[-1].startswith(f"  {path}:60: video: video file not found")
    assert main(["data", "validate", str(path), "--no-check-videos"]) == 0
    assert "clips not checked" in capsys.readouterr().out


def test_validate_predictions(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _dataset(tmp_path)
    preds = write_jsonl(
        tmp_path / "p.jsonl",
        [
            {"video_id": "v0", "actions": [{"text": "Close the tap", "apl": 2, "proactive": True}]},
            {"video_id": "v1", "actions": [], "error": "timeout"},
            {"video_id": "zz", "actions": []},
        ],
    )
    assert main(["data", "validate", str(path), "--predictions", str(preds)]) == 1
    err = capsys.readouterr().err
    assert f"{preds}:3: video_id: 'zz' is not in the annotations" in err
    assert main(["data", "validate", str(path), "--predictions", str(preds), "--allow-extra"]) == 0
    captured = capsys.readouterr()
    assert f"OK {preds}: 2 records for 2 of 3 videos, 1 failed, 1 ignored" in captured.out
    assert "warning:" in captured.err
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"video_id": "v0", "actions": [{"text": "x", "apl": 5}]}\n', "utf-8")
    assert main(["data", "validate", str(path), "--predictions", str(bad)]) == 1
    assert f"{bad}:1: actions[0].apl: out of range: 5" in capsys.readouterr().err


def test_validate_missing_path(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["data", "validate", str(tmp_path / "nope.jsonl")]) == 1
    assert "no such annotation file or folder" in capsys.readouterr().err


def test_generate_demo_and_synthetic(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["data", "generate", "demo", "--out", str(tmp_path / "demo")]) == 0
    demo_path = Path(capsys.readouterr().out.strip())
    assert demo_path.parent == tmp_path / "demo"
    generated = parse_annotations(demo_path)  # clips exist
    assert len(generated) == 16
    assert generated.fingerprint == load_benchmark("demo").fingerprint  # the same demo
    args = ["data", "generate", "synthetic-full", "--out", str(tmp_path / "syn")]
    assert main([*args, "--num-videos", "20", "--no-videos"]) == 0
    syn = parse_annotations(Path(capsys.readouterr().out.strip()), check_videos=False)
    assert len(syn) == 20
    assert main(["data", "generate", "demo", "--num-videos", "3"]) == 2


def test_data_without_action_and_module_is_light() -> None:
    assert main(["data"]) == 2
    code = (
        "import sys, visualact_env.commands.data as d; "
        "print(sorted(m for m in ('torch', 'matplotlib', 'huggingface_hub', 'numpy') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    heavy = json.loads(out.stdout.replace("'", '"'))
    assert "torch" not in heavy and "matplotlib" not in heavy and "huggingface_hub" not in heavy

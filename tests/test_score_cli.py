"""``visualact score`` end to end, with the real default embedding model."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from visualact_env.cli import main
from visualact_env.loading import write_jsonl

ANNOTATIONS = [
    {
        "video_id": "v1",
        "video": "clips/v1.mp4",
        "scenario": "safety_monitoring",
        "actions": [
            {"text": "call emergency services", "apl": 4, "proactive": False},
            {"text": "tidy up the room", "apl": 0, "proactive": True},
        ],
    },
    {
        "video_id": "v2",
        "video": "clips/v2.mp4",
        "scenario": "home_service",
        "actions": [{"text": "close the window", "apl": 1, "proactive": True}],
    },
    {
        "video_id": "v3",
        "video": "clips/v3.mp4",
        "scenario": "home_service",
        "actions": [{"text": "turn off the stove", "apl": 3, "proactive": True}],
    },
]
PREDICTIONS = [
    {"video_id": "v1", "actions": [{"text": "call 911 for help", "apl": 3, "proactive": True}]},
    {"video_id": "v2", "actions": [], "error": "timeout after 3 attempts"},
    {
        "video_id": "v3",
        "actions": [{"text": "turn off the stove", "apl": 3, "proactive": True}],
        "sample": 0,
    },
    {"video_id": "v3", "actions": [], "sample": 1},
]


@pytest.fixture()
def files(tmp_path: Path) -> tuple[Path, Path]:
    """Annotations (clips absent on purpose: scoring does not need them) and predictions."""
    ann, pred = tmp_path / "ann.jsonl", tmp_path / "pred.jsonl"
    write_jsonl(ann, ANNOTATIONS)
    write_jsonl(pred, PREDICTIONS)
    return ann, pred


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(["score", *argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_json_output(files, capsys) -> None:
    ann, pred = files
    code, out, _ = _run(capsys, "--annotations", str(ann), "--predictions", str(pred), "--json")
    assert code == 0
    d = json.loads(out)
    hs, sm = d["scenarios"]["home_service"], d["scenarios"]["safety_monitoring"]
    # v1: one paraphrase matched (cos ~0.77), APL 3 vs 4 -> w 0.75
    assert sm["precision"] == 1.0 and sm["recall"] == 0.5 and sm["scale_score"] == 0.75
    assert sm["weighted_recall"] == 0.375
    assert sm["proactive_recall"] == 0.0 and sm["reactive_recall"] == 1.0
    # v2 failed (0), v3 exact copy (1)
    assert hs["f1"] == 0.5 and hs["scale_score"] == 0.5 and hs["proactive_recall"] == 0.5
    assert d["overall"]["f1"] == pytest.approx((0.5 + 2 / 3) / 2)
    assert d["overall"]["counts"]["failed"] == 1 and d["overall"]["counts"]["missing"] == 0
    assert list(d["scenarios"]) == ["home_service", "safety_monitoring"]
    assert d["embedder"].startswith("all-MiniLM-L6-v2@") and d["tau"] == 0.5
    for block in (d["overall"], hs, sm):
        for k, v in block.items():
            assert k == "counts" or v is None or 0.0 <= v <= 1.0


def test_sample_tau_and_videos_options(files, capsys) -> None:
    ann, pred = files
    args = ["--annotations", str(ann), "--predictions", str(pred), "--json"]
    d = json.loads(_run(capsys, *args, "--sample", "1")[1])
    assert d["scenarios"]["home_service"]["f1"] == 0.0
    assert d["overall"]["counts"]["missing"] == 2
    d = json.loads(_run(capsys, *args, "--tau", "0.8", "--videos")[1])
    assert d["scenarios"]["safety_monitoring"]["precision"] == 0.0  # 0.77 < 0.8
    v1 = d["videos"][0]
    assert v1["video_id"] == "v1" and v1["pairs"][0]["matched"] is False
    assert 0.7 < v1["pairs"][0]["similarity"] < 0.8


def test_table_output_in_paper_layout(files, capsys) -> None:
    ann, pred = files
    code, out, _ = _run(capsys, "--annotations", str(ann), "--predictions", str(pred))
    assert code == 0
    lines = out.splitlines()
    group = next(ln for ln in lines if "Dynamic Navigation" in ln)
    order = ["Dynamic Navigation", "Home Service", "Safety and Monitoring", "Human-Mach. Inter."]
    assert [group.index(t) for t in order] == sorted(group.index(t) for t in order)
    assert "Overall" in group
    header = lines[lines.index(group) + 1]
    assert header.split() == ["Model", *["Prec.", "Recall", "F1"] * 5]
    row = lines[lines.index(group) + 2].split()
    # DN absent (-), HS 50.0 50.0 50.0, SM 100.0 50.0 66.7, overall 75.0 50.0 58.3
    assert row == ["pred", "-", "-", "-", "50.0", "50.0", "50.0", "100.0", "50.0", "66.7", "-", "-", "-", "75.0", "50.0", "58.3"]  # fmt: skip
    t3 = lines.index("Table 3 layout: scale score (x100)")
    assert lines[t3 + 1].split() == ["Model", "DN.", "HS.", "SM.", "HMI.", "Overall"]
    assert lines[t3 + 2].split() == ["pred", "-", "50.0", "75.0", "-", "62.5"]
    assert "scored 2, failed 1, missing 0" in out


def test_the_row_is_labelled_by_label_else_the_file_stem(files, capsys) -> None:
    ann, pred = files
    args = ["--annotations", str(ann), "--predictions", str(pred)]
    out = _run(capsys, *args, "--label", "GPT-4o (ours)")[1]
    t3 = out.splitlines().index("Table 3 layout: scale score (x100)")
    assert out.splitlines()[t3 + 2].startswith("GPT-4o (ours)  ")
    assert "pred.jsonl" not in out and "pred " not in out


def test_bootstrap_option(files, capsys) -> None:
    ann, pred = files
    argv = ["--annotations", str(ann), "--predictions", str(pred), "--bootstrap", "200"]
    d = json.loads(_run(capsys, *argv, "--json")[1])
    f1 = d["bootstrap"]["overall"]["f1"]
    assert f1["low"] <= d["overall"]["f1"] <= f1["high"]
    assert "95% bootstrap CIs (200 resamples)" in _run(capsys, *argv)[1]


def test_unknown_video_is_an_error_unless_allowed(files, capsys) -> None:
    ann, pred = files
    with pred.open("a") as f:
        f.write(json.dumps({"video_id": "ghost", "actions": []}) + "\n")
    code, _, err = _run(capsys, "--annotations", str(ann), "--predictions", str(pred))
    assert code == 2
    assert f"{pred}:5: video_id: 'ghost' is not in the annotations" in err
    code, out, err = _run(
        capsys, "--annotations", str(ann), "--predictions", str(pred), "--allow-extra", "--json"
    )
    assert code == 0 and "warning:" in err and "ghost" in err
    assert "ghost" in json.loads(out)["warnings"][0]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            '{"video_id": "v1", "actions": [{"text": "x", "apl": 7}]}',
            ":1: actions[0].apl: out of range: 7",
        ),  # fmt: skip
        ('{"video_id": "v1", "actions": [{"apl": 1}]}', ":1: actions[0].text: missing"),
        ("{not json", ":1: invalid JSON"),
        ('{"video_id": "v1", "actions": "call"}', ":1: actions: must be a list"),
    ],
)
def test_malformed_predictions_name_file_line_and_field(files, capsys, line, expected) -> None:
    ann, pred = files
    pred.write_text(line + "\n")
    code, out, err = _run(capsys, "--annotations", str(ann), "--predictions", str(pred))
    assert code == 2 and out == ""
    assert f"{pred}{expected}" in err


def test_malformed_annotations_and_bad_arguments(files, capsys, tmp_path: Path) -> None:
    ann, pred = files
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({**ANNOTATIONS[0], "scenario": "kitchen"}) + "\n")
    code, _, err = _run(capsys, "--annotations", str(bad), "--predictions", str(pred))
    assert code == 2 and f"{bad}:1: scenario: unknown scenario 'kitchen'" in err
    code, _, err = _run(capsys, "--annotations", str(ann), "--predictions", str(pred), "--tau", "3")
    assert code == 2 and "--tau" in err
    missing = tmp_path / "nope"
    code, _, err = _run(
        capsys, "--annotations", str(ann), "--predictions", str(pred), "--embedder", str(missing)
    )
    assert code == 2 and "nope" in err


def test_warm_command_does_not_import_torch(files, capsys) -> None:
    ann, pred = files
    assert _run(capsys, "--annotations", str(ann), "--predictions", str(pred), "--json")[0] == 0
    code = textwrap.dedent(
        f"""
        import contextlib, io, sys
        from visualact_env.cli import main
        with contextlib.redirect_stdout(io.StringIO()):
            rc = main(["score", "--annotations", {str(ann)!r}, "--predictions", {str(pred)!r}])
        heavy = [m for m in ("torch", "sentence_transformers", "transformers") if m in sys.modules]
        print(rc, heavy)
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "0 []", out.stdout + out.stderr


def test_a_sample_index_absent_from_the_file_is_warned_about(files, capsys) -> None:
    ann, pred = files
    code, out, err = _run(
        capsys, "--annotations", str(ann), "--predictions", str(pred), "--sample", "5", "--json"
    )
    assert code == 0
    assert "no predictions for --sample 5" in err and "sample(s) 0, 1" in err
    assert any("--sample 5" in w for w in json.loads(out)["warnings"])


def test_a_closed_pipe_is_not_a_traceback(files) -> None:
    ann, pred = files
    cmd = [sys.executable, "-m", "visualact_env", "score", "--annotations", str(ann),
           "--predictions", str(pred), "--json", "--videos"]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # the reader went away, like `| head -0`
    err = proc.stderr.read().decode()
    proc.wait(timeout=120)
    assert "Traceback" not in err and "BrokenPipeError" not in err
    assert proc.returncode == 141

"""Importing the released benchmark's JSON in its plausible shapes, and downloading it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from visualact_env import importer
from visualact_env.cli import main
from visualact_env.importer import (
    DownloadError,
    ImportFormatError,
    import_release,
    normalize_apl,
    normalize_proactive,
    normalize_scenario,
    parse_action_string,
    parse_field_map,
)
from visualact_env.loading import DataError, parse_annotations

FIXTURES = Path(__file__).parent / "fixtures" / "import"


@pytest.fixture(scope="session")
def clip_bytes(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A real, tiny H.264 MP4 (4 frames of 32x32), encoded once per session with PyAV."""
    import av
    import numpy as np

    path = tmp_path_factory.mktemp("clip") / "clip.mp4"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("h264", rate=4)
        stream.width, stream.height, stream.pix_fmt = 32, 32, "yuv420p"
        for i in range(4):
            img = np.full((32, 32, 3), 40 * i, dtype=np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path.read_bytes()


def _release(tmp: Path, fixture: str, clips: list[str], data: bytes) -> Path:
    """A release folder: ``visualactbench.json`` (the fixture) and ``videos/<clips>``."""
    tmp.mkdir(parents=True, exist_ok=True)
    shutil.copy(FIXTURES / fixture, tmp / "visualactbench.json")
    for name in clips:
        target = tmp / "videos" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return tmp / "visualactbench.json"


def _actions(bench: Any, vid: str) -> list[tuple[str, int, bool]]:
    return [(a.text, a.apl, a.proactive) for a in bench[vid].actions]


SHAPES: list[tuple[str, list[str], dict[str, Any]]] = [
    (
        "list_of_records.json",
        ["dn_0001.mp4", "hs_0002.mp4", "sm_0003.mp4"],
        {
            "ids": ["dn_0001", "hs_0002", "sm_0003"],
            "scenarios": ["dynamic_navigation", "home_service", "safety_monitoring"],
            "check": (
                "dn_0001",
                [
                    ("Slow down and let the pedestrian cross", 3, True),
                    ("Sound the horn briefly", 1, False),
                ],
            ),
            "detected": {
                "actions.text": "action",
                "actions.apl": "apl",
                "actions.proactive": "type",
            },
        },
    ),
    (
        "dict_by_video_id.json",
        ["clip_a.mp4", "clip_b.mp4"],
        {
            "ids": ["clip_a", "clip_b"],
            "scenarios": ["home_service", "human_machine_interaction"],
            "check": (
                "clip_a",
                [
                    ("Turn off the stove", 3, True),
                    ("Open the window to let the smoke out", 2, False),
                ],
            ),
            "detected": {
                "scenario": "category",
                "actions": "annotations",
                "actions.apl": "priority",
            },
        },
    ),
    (
        "container_with_strings.json",
        ["v10.mp4", "v11.mp4"],
        {
            "ids": ["v10", "v11"],
            "scenarios": ["safety_monitoring", "human_machine_interaction"],
            "check": (
                "v10",
                [
                    ("Call 911", 4, True),
                    ("Move people away from the fire", 3, True),
                    ("Take a photo of the scene", 0, False),
                ],
            ),
            "detected": {"video_id": "id", "scenario": "scene", "actions": "responses"},
        },
    ),
    (
        "parallel_lists.json",
        ["nav/p1.mp4", "home/p2.mp4"],
        {
            "ids": ["p1", "p2"],
            "scenarios": ["dynamic_navigation", "home_service"],
            "check": ("p1", [("Brake now", 4, True), ("Keep to the right lane", 1, False)]),
            "detected": {"scenario": "domain"},
        },
    ),
    (
        "grouped_by_scenario.json",
        ["g1.mp4", "g2.mp4"],
        {
            "ids": ["g1", "g2"],
            "scenarios": ["dynamic_navigation", "human_machine_interaction"],
            "check": (
                "g1",
                [("Slow down before the crossing", 2, True), ("Stop behind the bus", 3, False)],
            ),
            "detected": {"scenario": "@group"},
        },
    ),
]


@pytest.mark.parametrize(("fixture", "clips", "expect"), SHAPES, ids=[s[0] for s in SHAPES])
def test_import_shapes(
    tmp_path: Path, clip_bytes: bytes, fixture: str, clips: list[str], expect: dict
) -> None:
    json_path = _release(tmp_path / "release", fixture, clips, clip_bytes)
    result = import_release(json_path)
    assert result.annotation_path == tmp_path / "release" / "annotations.jsonl"
    bench = result.benchmark
    assert bench.video_ids == expect["ids"]
    assert [r.scenario for r in bench] == expect["scenarios"]
    vid, actions = expect["check"]
    assert _actions(bench, vid) == actions
    for target, source in expect["detected"].items():
        assert result.detected[target] == source, result.detected
    # The written file is native: it loads on its own, with clips relative to its folder.
    again = parse_annotations(result.annotation_path)
    assert again.fingerprint == bench.fingerprint
    assert all(r.path.is_file() and r.path.read_bytes() == clip_bytes for r in again)
    assert all(not r.video.startswith(("/", "..")) for r in again)


def test_container_keeps_source(tmp_path: Path, clip_bytes: bytes) -> None:
    json_path = _release(
        tmp_path, "container_with_strings.json", ["v10.mp4", "v11.mp4"], clip_bytes
    )
    bench = import_release(json_path).benchmark
    assert bench["v10"].source == "ucf-crime" and bench["v11"].source is None


def test_out_elsewhere_links_videos(tmp_path: Path, clip_bytes: bytes) -> None:
    json_path = _release(
        tmp_path / "dl",
        "list_of_records.json",
        ["dn_0001.mp4", "hs_0002.mp4", "sm_0003.mp4"],
        clip_bytes,
    )
    out = tmp_path / "converted"
    result = import_release(json_path, out_dir=out)
    assert result.annotation_path == out / "annotations.jsonl"
    assert (out / "videos").is_symlink()
    assert result.benchmark["dn_0001"].video == "videos/dn_0001.mp4"
    assert parse_annotations(out / "annotations.jsonl")["sm_0003"].path.is_file()
    # Re-running reuses the link.
    assert (
        import_release(json_path, out_dir=out).benchmark.fingerprint == result.benchmark.fingerprint
    )


def test_custom_fields_are_detected_by_their_values(tmp_path: Path, clip_bytes: bytes) -> None:
    """Unknown key names (clip_name, cat, prio, kind) are chosen by what their values hold."""
    json_path = _release(tmp_path, "custom_fields.json", ["z1.mp4", "z2.mp4"], clip_bytes)
    result = import_release(json_path)
    assert _actions(result.benchmark, "z1") == [("Yield to the cyclist", 3, True)]
    assert _actions(result.benchmark, "z2") == [("Close the fridge door", 1, False)]
    assert result.benchmark["z2"].scenario == "home_service"
    choices = result.plan.fields.choices
    assert {t: (c.source, c.heuristic) for t, c in choices.items() if c.source} == {
        "video": ("clip_name", True),
        "video_id": ("clip_name", True),
        "scenario": ("cat", True),
        "actions": ("labels", True),
        "actions.text": ("sentence", True),
        "actions.apl": ("prio", True),
        "actions.proactive": ("kind", True),
    }


def test_undetectable_fields_fail_with_helpful_message(tmp_path: Path, clip_bytes: bytes) -> None:
    rows = [{"clip_name": "z1.mp4", "cat": "DN", "notes": 5}, {"clip_name": "z2.mp4", "cat": "HS"}]
    json_path = tmp_path / "visualactbench.json"
    json_path.write_text(json.dumps(rows), "utf-8")
    (tmp_path / "videos").mkdir()
    for name in ("z1.mp4", "z2.mp4"):
        (tmp_path / "videos" / name).write_bytes(clip_bytes)
    with pytest.raises(ImportFormatError) as info:
        import_release(json_path)
    msg = str(info.value)
    assert str(json_path) in msg
    assert "could not detect actions." in msg
    assert "Top level: a list of 2 items" in msg
    assert '  clip_name: "z1.mp4"' in msg and '  cat: "DN"' in msg  # keys with example values
    assert "Pass the missing field(s): visualact data import" in msg
    assert msg.count("--map actions=<key>") == 1
    assert "Targets: records, video_id" in msg
    assert not (tmp_path / "annotations.jsonl").exists()  # nothing half-written


def test_bad_values_listed_per_record(tmp_path: Path, clip_bytes: bytes) -> None:
    json_path = _release(tmp_path, "bad_values.json", ["b1.mp4", "b2.mp4"], clip_bytes)
    with pytest.raises(DataError) as info:
        import_release(json_path)
    problems = {(p.field, p.message.split(" ")[0]) for p in info.value.problems}
    text = str(info.value)
    assert all(p.file == str(json_path) for p in info.value.problems)
    assert "$[0].scenario: 'Kitchen' is not a scenario" in text
    assert "$[0].actions[0]: APL 9 is not understood" in text
    assert "$[1].actions[0]: proactive/reactive flag 'sometimes' is not understood" in text
    assert len(problems) == 3


def test_missing_clip_and_missing_videos_folder(tmp_path: Path, clip_bytes: bytes) -> None:
    json_path = _release(tmp_path, "dict_by_video_id.json", ["clip_a.mp4"], clip_bytes)
    with pytest.raises(DataError, match=r"\$\['clip_b.mp4'\]: no clip for 'clip_b.mp4'"):
        import_release(json_path)
    empty = tmp_path / "empty"
    shutil.copy(FIXTURES / "list_of_records.json", empty.with_suffix(".json"))
    with pytest.raises(DataError, match="no video clips found"):
        import_release(empty.with_suffix(".json"), videos_dir=empty)
    result = import_release(json_path, out_dir=tmp_path / "noclips", check_videos=False)
    assert result.benchmark["clip_b"].video == "videos/clip_b.mp4"
    assert result.warnings


def test_invalid_json_names_line(tmp_path: Path) -> None:
    bad = tmp_path / "v.json"
    bad.write_text('[\n  {"video_id": "a",\n  oops\n]\n', "utf-8")
    with pytest.raises(DataError) as info:
        import_release(bad, check_videos=False)
    assert info.value.problems[0].line == 3 and "invalid JSON" in info.value.problems[0].message


def test_jsonl_release_is_accepted(tmp_path: Path, clip_bytes: bytes) -> None:
    rows = json.loads((FIXTURES / "list_of_records.json").read_text("utf-8"))
    path = tmp_path / "release.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), "utf-8")
    for r in rows:
        (tmp_path / r["video"]).parent.mkdir(exist_ok=True)
        (tmp_path / r["video"]).write_bytes(clip_bytes)
    assert len(import_release(path).benchmark) == 3


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Call 911 (APL 4, proactive)", ("Call 911", 4, True)),
        ("[APL 2][reactive] Close the door", ("Close the door", 2, False)),
        ("2. Open the window - APL 1 - proactive", ("Open the window", 1, True)),
        ("Stop (now)", ("Stop (now)", None, None)),
    ],
)
def test_parse_action_string(text: str, expected: tuple) -> None:
    assert parse_action_string(text) == expected


def test_normalizers() -> None:
    assert [normalize_apl(v) for v in (3, "APL 3", "level_2", "P1", "4.0", "critical")] == [
        3,
        3,
        2,
        1,
        4,
        4,
    ]
    assert [normalize_apl(v) for v in (5, True, "3/4", "hi", None)] == [None] * 5
    spellings = {
        "Dynamic Navigation": "dynamic_navigation",
        "dynamic-navigation": "dynamic_navigation",
        "navigation": "dynamic_navigation",
        "Safety & Monitoring": "safety_monitoring",
        "HMI": "human_machine_interaction",
        "human machine interaction": "human_machine_interaction",
        "home_service": "home_service",
        "Home Service": "home_service",
    }
    assert {k: normalize_scenario(k) for k in spellings} == spellings
    assert normalize_scenario("home safety") is None  # ambiguous: not guessed
    assert normalize_proactive("Reactive") is False and normalize_proactive("proactive") is True
    assert normalize_proactive(True, "is_reactive") is False
    assert normalize_proactive("non-proactive") is False and normalize_proactive("maybe") is None


def test_parse_field_map_errors() -> None:
    assert parse_field_map(["actions.apl = prio"]) == {"actions.apl": "prio"}
    with pytest.raises(ValueError, match="expected TARGET=SOURCE"):
        parse_field_map(["video_id"])
    with pytest.raises(ValueError, match="unknown target 'colour'"):
        parse_field_map(["colour=red"])


# --- CLI: import and download ---------------------------------------------------------------------


def test_cli_import(tmp_path: Path, clip_bytes: bytes, capsys: pytest.CaptureFixture[str]) -> None:
    rows = [
        {"video": "z1.mp4", "scenario": "DN", "actions": [
            {"action": "Yield to the cyclist", "description": "a cyclist merges", "apl": 3,
             "proactive": True}]},
        {"video": "z2.mp4", "scenario": "HS", "actions": [
            {"action": "Close the fridge", "description": "the door is open", "apl": 1,
             "proactive": False}]},
    ]  # fmt: skip
    json_path = tmp_path / "visualactbench.json"
    json_path.write_text(json.dumps(rows), "utf-8")
    (tmp_path / "videos").mkdir()
    for name in ("z1.mp4", "z2.mp4"):
        (tmp_path / "videos" / name).write_bytes(clip_bytes)
    assert main(["data", "import", str(json_path)]) == 2
    err = capsys.readouterr().err
    assert "refusing to guess the actions.text" in err and "Traceback" not in err
    assert "--map actions.text=action" in err and "--map actions.text=description" in err
    code = main(["data", "import", str(json_path), "--map", "actions.text=action"])
    out = capsys.readouterr().out
    assert code == 0
    assert f"wrote {tmp_path / 'annotations.jsonl'}" in out and "2 videos, 2 actions" in out


def test_write_validated_keeps_target_when_invalid(tmp_path: Path) -> None:
    """The temporary file is validated before it replaces anything, and never left behind."""
    target = tmp_path / "annotations.jsonl"
    target.write_text("good\n", "utf-8")
    bad = [{"video_id": "a", "video": "a.mp4", "scenario": "kitchen", "actions": []}]
    with pytest.raises(
        DataError, match=r"annotations.jsonl \(converted, not written\):1: scenario"
    ):
        importer._write_validated(target, bad, check_videos=False)
    assert target.read_text("utf-8") == "good\n"
    assert [p.name for p in tmp_path.iterdir()] == ["annotations.jsonl"]


def _fake_hub(tmp_path: Path, clip_bytes: bytes, calls: list[dict]) -> Any:
    hub = tmp_path / "hub"
    _release(hub, "container_with_strings.json", ["v10.mp4", "v11.mp4"], clip_bytes)

    def snapshot_download(**kwargs: Any) -> str:
        calls.append(kwargs)
        shutil.copytree(hub, kwargs["local_dir"], dirs_exist_ok=True)
        return kwargs["local_dir"]

    return snapshot_download


def test_download_then_import(
    tmp_path: Path, clip_bytes: bytes, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    """The hub is a boundary we cannot reach: a stand-in copies a local folder instead."""
    import huggingface_hub

    calls: list[dict] = []
    monkeypatch.setattr(
        huggingface_hub, "snapshot_download", _fake_hub(tmp_path, clip_bytes, calls)
    )
    dest = tmp_path / "dl"
    assert main(["data", "download", str(dest)]) == 0
    assert calls == [
        {
            "repo_id": "Proactive-LMM/VisualActBench",
            "repo_type": "dataset",
            "revision": None,
            "local_dir": str(dest),
        }
    ]
    bench = parse_annotations(dest / "annotations.jsonl")
    assert bench.video_ids == ["v10", "v11"]
    out = capsys.readouterr().out
    assert "2 videos, 4 actions" in out


def test_download_offline_gives_clear_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    """The real snapshot_download under HF_HUB_OFFLINE=1: a helpful message, no traceback."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    with pytest.raises(DownloadError) as info:
        importer.download(tmp_path / "dl")
    msg = str(info.value)
    assert "could not download the dataset 'Proactive-LMM/VisualActBench'" in msg
    assert "HF_HUB_OFFLINE is set" in msg
    assert "hf download Proactive-LMM/VisualActBench --repo-type dataset" in msg
    assert "visualact data import" in msg
    assert main(["data", "download", str(tmp_path / "dl2")]) == 2
    err = capsys.readouterr().err
    assert "could not download" in err and "Traceback" not in err


def test_ids_that_look_like_scenarios_are_not_groups(tmp_path: Path, clip_bytes: bytes) -> None:
    """A dict keyed by ids such as 'navigation_1' is records, not a scenario grouping."""
    data = {
        "navigation_1": {"scenario": "navigation", "actions": ["Brake (APL 3, proactive)"]},
        "home_2": {"scenario": "home", "actions": ["Tidy up (APL 0, reactive)"]},
    }
    (tmp_path / "v.json").write_text(json.dumps(data), "utf-8")
    (tmp_path / "videos").mkdir()
    for name in ("navigation_1", "home_2"):
        (tmp_path / "videos" / f"{name}.mp4").write_bytes(clip_bytes)
    bench = import_release(tmp_path / "v.json").benchmark
    assert bench.video_ids == ["navigation_1", "home_2"]
    assert _actions(bench, "home_2") == [("Tidy up", 0, False)]


def test_list_of_non_records_gets_layout_help(tmp_path: Path) -> None:
    (tmp_path / "v.json").write_text(json.dumps(["a.mp4", "b.mp4"]), "utf-8")
    with pytest.raises(ImportFormatError, match="could not detect a list of video records") as info:
        import_release(tmp_path / "v.json", check_videos=False)
    assert 'Top level: a list of 2 items; first: "a.mp4"' in str(info.value)


def test_failed_import_keeps_existing_annotations(tmp_path: Path, clip_bytes: bytes) -> None:
    """An import that converts but fails validation must not touch a good annotations.jsonl."""
    json_path = _release(
        tmp_path, "dict_by_video_id.json", ["clip_a.mp4", "clip_b.mp4"], clip_bytes
    )
    good = import_release(json_path).annotation_path
    before = good.read_bytes()
    # Two records for one clip: converted fine, refused by validation (duplicate video_id).
    dup = [
        {"video_id": "clip_a", "scenario": "HS", "actions": ["Stop (APL 1, reactive)"]},
        {"video_id": "clip_a", "scenario": "HS", "actions": ["Go (APL 2, proactive)"]},
    ]
    json_path.write_text(json.dumps(dup), "utf-8")
    with pytest.raises(DataError, match=r"\$\[1\]: video id 'clip_a' again \(first at \$\[0\]\)"):
        import_release(json_path)
    assert good.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "annotations.jsonl", "videos", "visualactbench.json"
    ]  # fmt: skip

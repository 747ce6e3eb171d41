"""The importer on release layouts it has never seen: each must import without ``--map``, or
with the one ``--map`` its refusal or dry run suggests; ambiguous inputs are refused with the
candidates named.

The layouts differ from each other and from those in ``test_importer.py`` in nesting, key
names, value types, free-text actions, missing extensions and nested clip folders. Clips are
real MP4 files encoded by the demo generator's encoder.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from visualact_env.cli import main
from visualact_env.importer import ImportFormatError, format_plan, import_release, plan_import
from visualact_env.loading import DataError, parse_annotations


@pytest.fixture(scope="session")
def clip_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One real H.264 clip (4 frames, 32x32), written by the demo generator's encoder."""
    import numpy as np

    from visualact_env.demo import write_clip

    path = tmp_path_factory.mktemp("clip") / "clip.mp4"
    frames = [np.full((32, 32, 3), 50 * i, dtype=np.uint8) for i in range(4)]
    return write_clip(path, frames, fps=4)


def _release(root: Path, data: Any, clips: list[str], clip: Path, *, jsonl: bool = False) -> Path:
    """``root/visualactbench.json`` (or ``.jsonl``) holding ``data``, and ``root/videos/<clips>``."""
    root.mkdir(parents=True, exist_ok=True)
    for name in clips:
        target = root / "videos" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(clip, target)
    if jsonl:
        path = root / "visualactbench.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in data), "utf-8")
    else:
        path = root / "visualactbench.json"
        path.write_text(json.dumps(data, indent=1), "utf-8")
    return path


def _content(bench: Any) -> dict[str, tuple[str, str, list[tuple[str, int, bool]]]]:
    return {
        r.video_id: (r.scenario, r.video, [(a.text, a.apl, a.proactive) for a in r.actions])
        for r in bench
    }


A = "Slow down for the cyclist"
B = "Keep a safe distance"

# (name, release JSON, clip files under videos/, expected {id: (scenario, video, actions)},
#  expected heuristic choices {target: source})
LAYOUTS: list[tuple[str, Any, list[str], dict[str, Any], dict[str, str]]] = [
    (
        "groups_with_table_abbreviations_at_depth_three",
        {
            "benchmark": {
                "version": 2,
                "scenarios": {
                    "DN.": {
                        "videos": [
                            {
                                "file": "DN/dn_01.mp4",
                                "annotations": [
                                    {"desc": A, "apl_level": "Level 2", "is_proactive": "yes"}
                                ],
                            }
                        ]
                    },
                    "HMI.": {
                        "videos": [
                            {
                                "file": "HMI/hmi_01.mp4",
                                "annotations": [
                                    {
                                        "desc": "Greet the visitor",
                                        "apl_level": 0,
                                        "is_proactive": "no",
                                    }
                                ],
                            }
                        ]
                    },
                },
            }
        },
        ["DN/dn_01.mp4", "HMI/hmi_01.mp4"],
        {
            "dn_01": ("dynamic_navigation", "videos/DN/dn_01.mp4", [(A, 2, True)]),
            "hmi_01": (
                "human_machine_interaction",
                "videos/HMI/hmi_01.mp4",
                [("Greet the visitor", 0, False)],
            ),
        },
        {
            "records": "benchmark.scenarios.DN..videos,benchmark.scenarios.HMI..videos",
            "video": "file",
            "video_id": "@stem",
            "scenario": "@group",
            "actions.text": "desc",
        },
    ),
    (
        "groups_of_action_lists_keyed_by_id_clips_deep",
        {
            "Home Service": {
                "hs_01": [
                    "1. Wipe the spilled milk (APL 2, proactive)",
                    "2. Close the fridge - APL 1 - reactive",
                ]
            },
            "Safety and Monitoring": {"sm_01": ["Call the fire brigade [APL 4] [proactive]"]},
        },
        ["raw/2024/hs_01.mp4", "raw/2023/sm_01.mp4"],
        {
            "hs_01": (
                "home_service",
                "videos/raw/2024/hs_01.mp4",
                [("Wipe the spilled milk", 2, True), ("Close the fridge", 1, False)],
            ),
            "sm_01": (
                "safety_monitoring",
                "videos/raw/2023/sm_01.mp4",
                [("Call the fire brigade", 4, True)],
            ),
        },
        {"video_id": "@key", "actions": "@value", "scenario": "@group"},
    ),
    (
        "column_wise_arrays_ids_without_extension",
        {
            "video_id": ["c1", "c2", "c3"],
            "scenario": ["dynamic_navigation", "HS", "Human-Mach. Inter."],
            "actions": [
                [{"text": A, "apl": 3, "proactive": True}],
                [{"text": "Turn off the tap", "apl": 1, "proactive": True}],
                [{"text": "Answer the question", "apl": 0, "proactive": False}],
            ],
        },
        ["c1.mp4", "c2.mp4", "c3.mp4"],
        {
            "c1": ("dynamic_navigation", "videos/c1.mp4", [(A, 3, True)]),
            "c2": ("home_service", "videos/c2.mp4", [("Turn off the tap", 1, True)]),
            "c3": (
                "human_machine_interaction",
                "videos/c3.mp4",
                [("Answer the question", 0, False)],
            ),
        },
        {},
    ),
    (
        "free_text_numbered_paths_missing_extension",
        [
            {
                "clip": "videos/hmi/visitor_1",
                "category": "Human-Machine Interaction",
                "answer": "1. Greet the visitor (APL 1, proactive)\n"
                "2. Hand over the badge - APL 2 - reactive",
            },
            {
                "clip": "videos/dn/road_2",
                "category": "Dynamic Navigation",
                "answer": "1) Brake now (APL 4, proactive)",
            },
        ],
        ["hmi/visitor_1.mp4", "dn/road_2.mp4"],
        {
            "visitor_1": (
                "human_machine_interaction",
                "videos/hmi/visitor_1.mp4",
                [("Greet the visitor", 1, True), ("Hand over the badge", 2, False)],
            ),
            "road_2": ("dynamic_navigation", "videos/dn/road_2.mp4", [("Brake now", 4, True)]),
        },
        {
            "video": "clip",
            "video_id": "@stem",
            "scenario": "category",
            "actions": "answer",
            "actions.apl": "@text",
        },
    ),
    (
        "free_text_with_section_headings_keyed_by_path",
        {
            "home/kitchen_3.mp4": {
                "type": "home service",
                "response": "Proactive actions:\n- Close the window [APL 1]\n"
                "- Turn off the stove [APL 4]\nReactive actions:\n"
                "- Mop the floor [APL 0]",
            },
        },
        ["home/kitchen_3.mp4"],
        {
            "kitchen_3": (
                "home_service",
                "videos/home/kitchen_3.mp4",
                [
                    ("Close the window", 1, True),
                    ("Turn off the stove", 4, True),
                    ("Mop the floor", 0, False),
                ],
            ),
        },
        {"video": "@key", "scenario": "type", "actions": "response"},
    ),
    (
        "proactive_and_reactive_lists_under_two_keys",
        [
            {
                "video_path": "videos/sm/sm_7.mov",
                "scene_type": "SM",
                "proactive_actions": [{"action": "Lock the gate", "level": 3}],
                "reactive_actions": [{"action": "Report the broken lamp", "level": "low"}],
            },
        ],
        ["sm/sm_7.mov"],
        {
            "sm_7": (
                "safety_monitoring",
                "videos/sm/sm_7.mov",
                [("Lock the gate", 3, True), ("Report the broken lamp", 1, False)],
            ),
        },
        {
            "actions": "proactive_actions+reactive_actions",
            "actions.apl": "level",
            "scenario": "scene_type",
        },
    ),
    (
        "dataset_server_rows_with_tuple_actions",
        {
            "features": [{"name": "video_uid"}, {"name": "GT"}],
            "rows": [
                {
                    "row_idx": 0,
                    "row": {
                        "video_uid": "x_1",
                        "Scenario": "Safety & Monitoring",
                        "GT": [["Call 911", 4, True], ["Take a photo", 0, False]],
                    },
                },
                {
                    "row_idx": 1,
                    "row": {
                        "video_uid": "x_2",
                        "Scenario": "home-service",
                        "GT": [["Water the plants", "APL 1", "proactive"]],
                    },
                },
            ],
        },
        ["x_1.mp4", "x_2.mp4"],
        {
            "x_1": (
                "safety_monitoring",
                "videos/x_1.mp4",
                [("Call 911", 4, True), ("Take a photo", 0, False)],
            ),
            "x_2": ("home_service", "videos/x_2.mp4", [("Water the plants", 1, True)]),
        },
        {"records": "rows", "video_id": "video_uid", "scenario": "Scenario", "actions": "GT"},
    ),
    (
        "list_of_group_objects_with_int_ids_and_level_words",
        {
            "scenarios": [
                {
                    "name": "Dynamic Navigation",
                    "clips": [
                        {
                            "id": 17,
                            "video_file": "clip_017.mp4",
                            "labels": [{"sentence": A, "priority": "high", "type": "Proactive"}],
                        }
                    ],
                },
                {
                    "name": "Home Service",
                    "clips": [
                        {
                            "id": 18,
                            "video_file": "clip_018.mp4",
                            "labels": [
                                {
                                    "sentence": "Fold the towels",
                                    "priority": "routine",
                                    "type": "Reactive",
                                }
                            ],
                        }
                    ],
                },
            ]
        },
        ["clip_017.mp4", "clip_018.mp4"],
        {
            "17": ("dynamic_navigation", "videos/clip_017.mp4", [(A, 3, True)]),
            "18": ("home_service", "videos/clip_018.mp4", [("Fold the towels", 0, False)]),
        },
        {
            "video_id": "id",
            "video": "video_file",
            "scenario": "@group",
            "actions.text": "sentence",
            "actions.apl": "priority",
            "actions.proactive": "type",
        },
    ),
    (
        "actions_grouped_by_flag_then_apl",
        {
            "kit_9": {
                "scenario": "home_service",
                "actions": {
                    "proactive": {"APL 3": ["Unplug the iron"]},
                    "reactive": {"APL 0": ["Fold the towels", "Dust the shelf"]},
                },
            },
        },
        ["kit_9.mp4"],
        {
            "kit_9": (
                "home_service",
                "videos/kit_9.mp4",
                [
                    ("Unplug the iron", 3, True),
                    ("Fold the towels", 0, False),
                    ("Dust the shelf", 0, False),
                ],
            ),
        },
        {"video_id": "@key", "actions.apl": "@text"},
    ),
    (
        "free_text_strings_keyed_by_id_scenario_from_folder",
        {
            "clip_a": "1. Slow down (P3, proactive) 2. Honk once (APL 1, reactive)",
            "clip_b": "- Offer a hand (urgent, proactive)\n- Tidy the desk (non-proactive, APL 1)",
        },
        ["Dynamic Navigation/clip_a.mp4", "Human-Machine Interaction/clip_b.mp4"],
        {
            "clip_a": (
                "dynamic_navigation",
                "videos/Dynamic Navigation/clip_a.mp4",
                [("Slow down", 3, True), ("Honk once", 1, False)],
            ),
            "clip_b": (
                "human_machine_interaction",
                "videos/Human-Machine Interaction/clip_b.mp4",
                [("Offer a hand", 3, True), ("Tidy the desk", 1, False)],
            ),
        },
        {"video_id": "@key", "actions": "@value", "scenario": "@folder"},
    ),
    (
        "camel_case_keys_scenario_from_id_prefix_nested_flags",
        [
            {
                "videoId": "HMI_0003",
                "videoPath": "clips/HMI_0003.mp4",
                "actionList": [
                    {"actionText": "Point to the exit", "aplLevel": 2, "isReactive": False}
                ],
            },
            {
                "videoId": "DN_0004",
                "videoPath": "clips/DN_0004.mp4",
                "actionList": [{"actionText": B, "aplLevel": "APL 1", "isReactive": True}],
            },
        ],
        ["clips/HMI_0003.mp4", "clips/DN_0004.mp4"],
        {
            "HMI_0003": (
                "human_machine_interaction",
                "videos/clips/HMI_0003.mp4",
                [("Point to the exit", 2, True)],
            ),
            "DN_0004": ("dynamic_navigation", "videos/clips/DN_0004.mp4", [(B, 1, False)]),
        },
        {
            "video_id": "videoId",
            "actions": "actionList",
            "actions.text": "actionText",
            "actions.apl": "aplLevel",
            "actions.proactive": "isReactive",
            "scenario": "@folder",
        },
    ),
    (
        "per_record_texts_levels_flags_columns",
        [
            {
                "clip_path": "videos/a/b/road_5.mp4",
                "domain": "navigation",
                "texts": [A, B],
                "levels": ["APL 4", 1],
                "flags": [1, 0],
            },
        ],
        ["a/b/road_5.mp4"],
        {"road_5": ("dynamic_navigation", "videos/a/b/road_5.mp4", [(A, 4, True), (B, 1, False)])},
        {
            "actions": "texts",
            "actions.apl": "levels",
            "actions.proactive": "flags",
            "scenario": "domain",
        },
    ),
    (
        "scenario_keys_in_snake_case_holding_column_wise_arrays",
        {
            "safety_monitoring": {
                "clip_id": ["s_1", "s_2"],
                "gt_actions": ["Call 911 (APL 4, proactive)", "Lock the door (APL 2, reactive)"],
            },
            "home_service": {"clip_id": ["h_1"], "gt_actions": ["Feed the cat (low, proactive)"]},
        },
        ["s_1.mkv", "s_2.mkv", "h_1.mkv"],
        {
            "s_1": ("safety_monitoring", "videos/s_1.mkv", [("Call 911", 4, True)]),
            "s_2": ("safety_monitoring", "videos/s_2.mkv", [("Lock the door", 2, False)]),
            "h_1": ("home_service", "videos/h_1.mkv", [("Feed the cat", 1, True)]),
        },
        {"video_id": "clip_id", "actions": "gt_actions", "scenario": "@group"},
    ),
]


@pytest.mark.parametrize(("name", "data", "clips", "expected", "choices"), LAYOUTS,
                         ids=[x[0] for x in LAYOUTS])  # fmt: skip
def test_layout_imports_without_map(
    tmp_path: Path, clip_file: Path, name: str, data: Any, clips: list[str],
    expected: dict[str, Any], choices: dict[str, str],
) -> None:  # fmt: skip
    json_path = _release(tmp_path / name, data, clips, clip_file)
    plan = plan_import(json_path)
    assert not plan.problems, plan.problems
    assert not (tmp_path / name / "annotations.jsonl").exists()  # planning writes nothing
    pins = dict(m.split("=", 1) for m in plan.map_args())
    for target, source in choices.items():  # the heuristic choice is named, with its --map
        assert pins.get(target) == source, (target, pins)
    result = import_release(json_path)
    assert _content(result.benchmark) == expected
    loaded = parse_annotations(result.annotation_path)  # a native, loadable benchmark
    assert _content(loaded) == expected
    assert all(r.path.read_bytes() == clip_file.read_bytes() for r in loaded)
    # Pinning every heuristic choice with the --map the report prints gives the same result.
    again = import_release(json_path, field_map=pins)
    assert again.benchmark.fingerprint == result.benchmark.fingerprint


def test_jsonl_release_with_numbered_free_text(tmp_path: Path, clip_file: Path) -> None:
    rows = [
        {"uid": "hs_77", "scenario_name": "homeService",
         "actions_text": "1. Put the toys away (APL 0, reactive)\n2. Close the gate (APL 3, proactive)"},
    ]  # fmt: skip
    json_path = _release(tmp_path, rows, ["hs_77.webm"], clip_file, jsonl=True)
    bench = import_release(json_path).benchmark
    assert _content(bench) == {
        "hs_77": ("home_service", "videos/hs_77.webm",
                  [("Put the toys away", 0, False), ("Close the gate", 3, True)]),
    }  # fmt: skip


# --- refusals: the candidates are named, and the suggested --map imports -----------------------

AMBIGUOUS: list[tuple[str, Any, list[str], str, list[str]]] = [
    (
        "two_text_keys",
        [{"video": "a.mp4", "scenario": "DN", "actions": [
            {"action": A, "description": "a cyclist merges from the right", "apl": 2,
             "proactive": True}]}],
        ["a.mp4"],
        "refusing to guess the actions.text",
        ["action", "description"],
    ),
    (
        "two_action_lists",
        [{"video": "a.mp4", "scenario": "HS", "actions": ["Mop (APL 1, reactive)"],
          "gt_actions": ["Wipe (APL 2, proactive)"]}],
        ["a.mp4"],
        "refusing to guess the actions",
        ["actions", "gt_actions"],
    ),
    (
        "records_in_two_splits",
        {"train": [{"video": "a.mp4", "scenario": "SM", "actions": ["Call (APL 4, proactive)"]}],
         "test": [{"video": "b.mp4", "scenario": "SM", "actions": ["Wait (APL 0, reactive)"]}]},
        ["a.mp4", "b.mp4"],
        "refusing to guess where the records are",
        ["train", "test"],
    ),
    (
        "two_apl_keys_that_disagree",
        [{"video": "a.mp4", "scenario": "HMI", "actions": [
            {"text": "Wave", "apl": 3, "priority": 1, "proactive": True}]}],
        ["a.mp4"],
        "refusing to guess the actions.apl",
        ["apl", "priority"],
    ),
    (
        "two_flag_keys_that_disagree",
        [{"video": "a.mp4", "scenario": "HMI", "actions": [
            {"text": "Wave", "apl": 1, "proactive": True, "type": "reactive"}]}],
        ["a.mp4"],
        "refusing to guess the actions.proactive",
        ["proactive", "type"],
    ),
    (
        "two_clip_paths_that_disagree",
        [{"video_path": "videos/a.mp4", "file": "b.mp4", "scenario": "DN",
          "actions": ["Brake (APL 4, proactive)"]}],
        ["a.mp4", "b.mp4"],
        "refusing to guess the video",
        ["video_path", "file"],
    ),
    (
        "two_scenario_fields_that_disagree",
        [{"video": "a.mp4", "scenario": "DN", "category": "Home Service",
          "actions": ["Brake (APL 4, proactive)"]}],
        ["a.mp4"],
        "refusing to guess the scenario",
        ["scenario", "category"],
    ),
]  # fmt: skip


@pytest.mark.parametrize(("name", "data", "clips", "phrase", "candidates"), AMBIGUOUS,
                         ids=[x[0] for x in AMBIGUOUS])  # fmt: skip
def test_ambiguous_input_is_refused_then_the_suggested_map_imports(
    tmp_path: Path, clip_file: Path, capsys: pytest.CaptureFixture[str], name: str, data: Any,
    clips: list[str], phrase: str, candidates: list[str],
) -> None:  # fmt: skip
    json_path = _release(tmp_path, data, clips, clip_file)
    with pytest.raises(ImportFormatError) as info:
        plan_import(json_path)
    msg = str(info.value)
    assert phrase in msg
    for key in candidates:
        assert repr(key) in msg or f"  {key}:" in msg, (key, msg)
    assert main(["data", "import", str(json_path), "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert phrase in err and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["videos", "visualactbench.json"]
    suggested = re.findall(r"visualact data import \S+ --map (\S+)", msg)
    assert suggested, msg
    assert main(["data", "import", str(json_path), "--map", suggested[0]]) == 0
    assert parse_annotations(tmp_path / "annotations.jsonl").num_actions >= 1


def test_ambiguous_clip_stem_names_both_files(tmp_path: Path, clip_file: Path) -> None:
    data = [{"video_id": "x", "scenario": "DN", "actions": ["Brake (APL 4, proactive)"]}]
    json_path = _release(tmp_path, data, ["DN/x.mp4", "HS/x.mp4"], clip_file)
    with pytest.raises(DataError) as info:
        import_release(json_path)
    msg = str(info.value)
    assert "ambiguous clip for id 'x': 'DN/x.mp4' and 'HS/x.mp4'" in msg
    assert not (tmp_path / "annotations.jsonl").exists()


def test_path_field_wins_over_id(tmp_path: Path, clip_file: Path) -> None:
    """The id names one clip, the path another: the path is the clip, the id stays the id."""
    data = [{"video_id": "first", "video": "videos/other/second.mp4", "scenario": "SM",
             "actions": ["Call 911 (APL 4, proactive)"]}]  # fmt: skip
    json_path = _release(tmp_path, data, ["first.mp4", "other/second.mp4"], clip_file)
    bench = import_release(json_path).benchmark
    assert bench["first"].video == "videos/other/second.mp4"


def test_group_and_field_that_contradict_are_reported(tmp_path: Path, clip_file: Path) -> None:
    data = {"Home Service": [{"video": "a.mp4", "scenario": "DN", "actions": ["Go (APL 1, proactive)"]}]}  # fmt: skip
    json_path = _release(tmp_path, data, ["a.mp4"], clip_file)
    with pytest.raises(DataError, match=r"'DN' contradicts the group 'Home Service'"):
        import_release(json_path)


# --- the dry run ----------------------------------------------------------------------------------


def test_dry_run_reports_and_writes_nothing(
    tmp_path: Path, clip_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    name, data, clips, expected, _ = LAYOUTS[0]
    json_path = _release(tmp_path, data, clips, clip_file)
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    assert main(["data", "import", str(json_path), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before
    assert out.startswith(f"Dry run: nothing written. {json_path}")
    assert (
        "Layout: the records under 'benchmark' -> the records under 'scenarios' (other keys "
        "ignored: 'version') -> scenario groups" in out
    )
    assert (
        "scenario groups ('DN.' -> dynamic_navigation, 'HMI.' -> human_machine_interaction)" in out
    )
    assert "  * scenario           @group" in out  # a heuristic choice, marked and named
    assert "  * actions.text       desc" in out
    assert "Clips: 2 video files under" in out and "2 by path" in out
    assert "First 2 converted records:" in out
    assert '"video_id": "dn_01", "video": "videos/DN/dn_01.mp4"' in out
    assert re.search(r"  videos\s+2\s+1,074  differs", out)
    assert re.search(r"  proactive actions\s+1\s+2,685  differs", out)
    assert "When the counts differ" in out
    pin = out.split("To pin every heuristic choice: ")[1].strip()
    assert "--map actions.text=desc" in pin and "--map scenario=@group" in pin


def test_dry_run_lists_record_problems_and_exits_1(
    tmp_path: Path, clip_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = [
        {"video": "a.mp4", "scenario": "DN", "actions": ["Brake (APL 4, proactive)"]},
        {"video": "gone.mp4", "scenario": "DN", "actions": ["Stop (APL 9, proactive)"]},
    ]
    json_path = _release(tmp_path, data, ["a.mp4"], clip_file)
    assert main(["data", "import", str(json_path), "--dry-run"]) == 1
    out = capsys.readouterr().out
    assert "2 problems (the records concerned are left out):" in out
    assert "$[1]: no clip for 'gone.mp4'" in out
    assert "$[1].actions[0]: APL marker '9' is not understood" in out
    assert "First 1 converted records:" in out
    assert not (tmp_path / "annotations.jsonl").exists()


def test_layouts_are_distinct_and_reported(tmp_path: Path, clip_file: Path) -> None:
    """Twelve or more layouts, no two detected alike (layout steps and field sources); the
    report renders for each and shows its first records (at most three)."""
    assert len(LAYOUTS) >= 12
    shapes = set()
    for name, data, clips, expected, _ in LAYOUTS:
        plan = plan_import(_release(tmp_path / name, data, clips, clip_file))
        sources = tuple(c.source for c in plan.fields.choices.values())
        shapes.add((tuple(re.sub(r"\d+", "N", s) for s in plan.layout.steps), sources))
        text = format_plan(plan)
        assert f"First {min(3, len(expected))} converted records:" in text, name
        assert "Counts" in text and "published" in text
    assert len(shapes) == len(LAYOUTS)


def test_full_size_free_text_release_round_trips(tmp_path: Path) -> None:
    """The full-size synthetic set (the paper's counts) written as a release of scenario groups
    (table abbreviations) of free-text action lists keyed by id imports back exactly, and the
    report finds every published action and video count."""
    from visualact_env.data_stats import compare_published, compute_stats, is_complete
    from visualact_env.demo import generate_synthetic
    from visualact_env.scenario_names import SCENARIO_ABBREVIATIONS

    original = parse_annotations(generate_synthetic(with_videos=False), check_videos=False)
    release: dict[str, dict[str, str]] = {}
    for r in original:
        lines = [
            f"{i + 1}. {a.text} (APL {a.apl}, {'proactive' if a.proactive else 'reactive'})"
            for i, a in enumerate(r.actions)
        ]
        release.setdefault(SCENARIO_ABBREVIATIONS[r.scenario] + ".", {})[r.video_id] = "\n".join(
            lines
        )
    json_path = tmp_path / "visualactbench.json"
    json_path.write_text(json.dumps(release), "utf-8")
    plan = plan_import(json_path, check_videos=False)
    assert "a dict of N action lists keyed by video id" in plan.layout.steps[-1]
    assert "Only the 2 videos-per-APL counts differ" in format_plan(plan)
    bench = import_release(json_path, check_videos=False).benchmark

    def content(b: Any) -> list[tuple[Any, ...]]:
        return sorted(
            (r.video_id, r.scenario, tuple((a.text, a.apl, a.proactive) for a in r.actions))
            for r in b
        )

    assert content(bench) == content(original)
    assert is_complete(compare_published(compute_stats(bench)))


BAD_RECORDS: list[tuple[str, dict[str, Any], str]] = [
    ("markers_only", {"actions": ["(APL 4, proactive)"]}, "$[0].actions[0]: empty action text"),
    ("empty_list", {"actions": []}, "$[0].actions: empty action list"),
    ("not_an_action", {"actions": ["Brake (APL 4, proactive)", 7]},
     "$[0].actions[1]: expected an action (object or string), got 7"),
    ("empty_text", {"actions": [{"text": "", "apl": 1, "proactive": True}]},
     "$[0].actions[0]: no action text (read from text)"),
    ("boolean_apl", {"actions": [{"text": "Go", "apl": True, "proactive": True}]},
     "$[0].actions[0]: APL True is not understood"),
    ("apl_out_of_range", {"actions": ["Go (APL 7, proactive)"]},
     "$[0].actions[0]: APL marker '7' is not understood"),
    ("no_flag", {"actions": ["Go (APL 2)"]}, "$[0].actions[0]: no proactive/reactive flag for 'Go'"),
    ("scenario_list", {"scenario": ["DN"]}, "$[0].scenario: ['DN'] is not a scenario"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "change", "message"), BAD_RECORDS,
                         ids=[x[0] for x in BAD_RECORDS])  # fmt: skip
def test_bad_record_fails_dry_run_and_import_alike(
    tmp_path: Path, clip_file: Path, capsys: pytest.CaptureFixture[str], name: str,
    change: dict[str, Any], message: str,
) -> None:  # fmt: skip
    """What the dry run accepts the import accepts: a bad record fails both, named by path."""
    record = {"video": "a.mp4", "scenario": "DN", "actions": ["Brake (APL 4, proactive)"], **change}
    json_path = _release(tmp_path, [record], ["a.mp4"], clip_file)
    assert main(["data", "import", str(json_path), "--dry-run"]) == 1
    assert message in capsys.readouterr().out
    assert main(["data", "import", str(json_path)]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "annotations.jsonl").exists()


def test_clip_index_resolves_every_kind_of_reference(tmp_path: Path, clip_file: Path) -> None:
    from visualact_env.clip_index import (
        FOUND_BY_ID,
        FOUND_BY_NAME,
        FOUND_BY_PATH,
        FOUND_EXTENSION_ADDED,
        FOUND_EXTENSION_DIFFERS,
        ClipIndex,
    )

    for name in ("DN/a.mp4", "HS/deep/b.MOV", "x/c.mp4", "y/c.mp4", "notes.txt"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(clip_file, tmp_path / name)
    index = ClipIndex(tmp_path)
    assert len(index) == 4  # notes.txt is not a clip

    def found(hit: Any) -> tuple[str | None, str]:
        return (index.rel(hit.path) if hit.path else None), (hit.how or hit.error or "")

    assert found(index.find_path("videos/DN/a.mp4")) == ("DN/a.mp4", FOUND_BY_PATH)
    assert found(index.find_path("C:\\data\\DN\\a.mp4")) == ("DN/a.mp4", FOUND_BY_PATH)
    assert found(index.find_path("elsewhere/a.mp4")) == ("DN/a.mp4", FOUND_BY_NAME)
    assert found(index.find_path("HS/deep/b")) == ("HS/deep/b.MOV", FOUND_EXTENSION_ADDED)
    assert found(index.find_path("b.avi")) == ("HS/deep/b.MOV", FOUND_EXTENSION_DIFFERS)
    assert found(index.find_path("y/c.mp4")) == ("y/c.mp4", FOUND_BY_PATH)
    assert found(index.find_id("b")) == ("HS/deep/b.MOV", FOUND_BY_ID)
    none, why = found(index.find_id("c"))
    assert (
        none is None
        and why == f"ambiguous clip for id 'c': 'x/c.mp4' and 'y/c.mp4' under {tmp_path}"
    )
    none, why = found(index.find_path("z/c.mp4"))
    assert none is None and "ambiguous clip named 'c.mp4': 'x/c.mp4' and 'y/c.mp4'" in why
    assert found(index.find_id("missing"))[1].startswith("no clip named 'missing'")


def test_plain_flag_lists_with_parallel_levels_and_non_action_annotations(
    tmp_path: Path, clip_file: Path
) -> None:
    """Plain strings under proactive/reactive keys are actions; a list of boxes under
    'annotations' is not a second action list (no refusal)."""
    data = [
        {"video": "a.mp4", "scenario": "SM", "annotations": [{"bbox": [1, 2, 3, 4]}],
         "proactive": ["Lock the gate (APL 3)"], "reactive": ["Sweep the floor (APL 0)"]},
    ]  # fmt: skip
    json_path = _release(tmp_path, data, ["a.mp4"], clip_file)
    result = import_release(json_path)
    assert result.plan.fields.choices["actions"].source == "proactive+reactive"
    assert _content(result.benchmark)["a"][2] == [
        ("Lock the gate", 3, True),
        ("Sweep the floor", 0, False),
    ]

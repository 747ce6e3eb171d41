"""The demo and synthetic benchmark generators and the dataset resolver."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from visualact_env import demo
from visualact_env.datasets import load_benchmark, resolve_annotations
from visualact_env.demo import (
    PAPER_ACTION_APL_COUNTS,
    PAPER_NUM_ACTIONS,
    PAPER_NUM_VIDEOS,
    PAPER_PROACTIVE_COUNT,
    PAPER_REACTIVE_COUNT,
    PAPER_SCENARIO_COUNTS,
    SCENES,
    generate_demo,
    generate_synthetic,
    synthetic_rows,
)
from visualact_env.frames import SamplerConfig, sample_frames
from visualact_env.loading import DataError, parse_annotations
from visualact_env.records import SCENARIOS

ALL_FRAMES = SamplerConfig(num_frames=demo.DEMO_NUM_FRAMES, size=None, backend="pyav")


@pytest.fixture(scope="module")
def demo_bench():
    return load_benchmark("demo")


# --- the demo -----------------------------------------------------------------------------------


def test_demo_is_deterministic(tmp_path: Path) -> None:
    a = generate_demo(tmp_path / "a")
    b = generate_demo(tmp_path / "b")
    assert a.read_bytes() == b.read_bytes()
    bench_a, bench_b = parse_annotations(a), parse_annotations(b)
    assert bench_a.fingerprint == bench_b.fingerprint
    for ra, rb in zip(bench_a, bench_b, strict=True):
        fa = sample_frames(ra.path, ALL_FRAMES, cache=False)
        fb = sample_frames(rb.path, ALL_FRAMES, cache=False)
        np.testing.assert_array_equal(fa, fb, err_msg=ra.video_id)


def test_demo_annotations_validate(demo_bench) -> None:
    assert demo_bench.name == "demo"
    assert len(demo_bench) == 16
    assert Counter(r.scenario for r in demo_bench) == {s: 4 for s in SCENARIOS}
    assert demo_bench.scenarios == list(SCENARIOS)
    for record in demo_bench:
        assert 2 <= len(record.actions) <= 5, record.video_id
        assert record.path.is_file() and record.path.suffix == ".mp4"
        for action in record.actions:
            assert action.apl in range(5) and isinstance(action.proactive, bool)
            assert action.text[0].isupper() and action.text.endswith(".")
    apls = Counter(a.apl for r in demo_bench for a in r.actions)
    assert set(apls) == {0, 1, 2, 3, 4}, "the demo covers every APL"
    assert {a.proactive for r in demo_bench for a in r.actions} == {True, False}


def test_demo_clips_show_motion(demo_bench) -> None:
    """Every clip is 3 s of 160x120 video at 10 fps in which something visibly changes."""
    for record in demo_bench:
        clip = sample_frames(record.path, ALL_FRAMES)
        assert clip.shape == (30, 120, 160, 3)
        change = np.abs(clip[0].astype(int) - clip[-1].astype(int)).max(axis=-1)
        assert (change > 60).mean() > 0.005, f"{record.video_id}: first and last frame look alike"
        assert clip.std() > 20, f"{record.video_id}: nearly blank"
    # scenes differ from each other
    firsts = [sample_frames(r.path, SamplerConfig(num_frames=1, size=None))[0] for r in demo_bench]
    for i in range(len(firsts)):
        for j in range(i + 1, len(firsts)):
            assert not np.array_equal(firsts[i], firsts[j])


def test_demo_is_generated_once_and_reused(demo_bench) -> None:
    path = demo_bench.path
    mtime = path.stat().st_mtime_ns
    assert generate_demo() == path
    assert load_benchmark("demo").path == path
    assert path.stat().st_mtime_ns == mtime
    assert not [p for p in path.parent.parent.iterdir() if ".build-" in p.name]


def test_generate_refuses_foreign_non_empty_folder(tmp_path: Path) -> None:
    (tmp_path / "mine.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match="not a finished dataset"):
        generate_demo(tmp_path)
    assert (tmp_path / "mine.txt").read_text() == "keep me"


def test_concurrent_generation_is_safe(tmp_path: Path) -> None:
    target = tmp_path / "shared"
    code = (
        "import sys; from visualact_env.demo import generate_demo; "
        "print(generate_demo(sys.argv[1]))"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, str(target)], stdout=subprocess.PIPE, text=True
        )
        for _ in range(3)
    ]
    outs = [p.communicate(timeout=120)[0].strip() for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0]
    assert set(outs) == {str(target / "annotations.jsonl")}
    assert len(parse_annotations(target / "annotations.jsonl")) == 16
    assert sorted(p.name for p in tmp_path.iterdir()) == ["shared"]  # no leftover build folders


# --- the full-size synthetic benchmark ---------------------------------------------------------------


def test_paper_constants() -> None:
    assert PAPER_SCENARIO_COUNTS == {
        "dynamic_navigation": 364,
        "home_service": 454,
        "safety_monitoring": 126,
        "human_machine_interaction": 130,
    }
    assert PAPER_NUM_VIDEOS == 1074 and PAPER_NUM_ACTIONS == 3733
    assert (PAPER_PROACTIVE_COUNT, PAPER_REACTIVE_COUNT) == (2685, 1048)
    assert PAPER_ACTION_APL_COUNTS[0] == 1675 and PAPER_ACTION_APL_COUNTS[4] == 69
    assert sum(PAPER_ACTION_APL_COUNTS.values()) == 3733
    counts = list(PAPER_ACTION_APL_COUNTS.values())
    assert counts == sorted(counts, reverse=True), "a smooth decline from APL 0 to 4"


def test_synthetic_full_has_the_paper_counts() -> None:
    bench = load_benchmark("synthetic-full", check_videos=False)
    assert bench.name == "synthetic-full"
    assert len(bench) == PAPER_NUM_VIDEOS
    assert Counter(r.scenario for r in bench) == PAPER_SCENARIO_COUNTS
    actions = [a for r in bench for a in r.actions]
    assert len(actions) == PAPER_NUM_ACTIONS
    assert Counter(a.proactive for a in actions) == {True: 2685, False: 1048}
    assert Counter(a.apl for a in actions) == PAPER_ACTION_APL_COUNTS
    assert all(2 <= len(r.actions) <= 5 for r in bench)
    texts = Counter(a.text for a in actions)
    assert len(texts) > 120, "paraphrases make the texts varied"
    assert max(texts.values()) < 0.03 * len(actions)
    # actions keep the meaning of their scene: ids and sources name the scene
    names = {s.name for s in SCENES}
    assert all(r.source.rsplit(": ", 1)[-1] in names for r in bench)


def test_synthetic_apls_stay_close_to_the_scene_labels() -> None:
    labels = {t: a.apl for s in SCENES for a in s.actions for t in a.texts}
    rows = synthetic_rows()
    shifts = [abs(a["apl"] - labels[a["text"]]) for r in rows for a in r["actions"]]
    assert max(shifts) <= 2
    assert np.mean(shifts) < 0.6


def test_synthetic_is_deterministic_and_seeded() -> None:
    assert synthetic_rows(40, seed=3) == synthetic_rows(40, seed=3)
    assert synthetic_rows(40, seed=3) != synthetic_rows(40, seed=4)


def test_synthetic_scales_and_writes_clips(tmp_path: Path) -> None:
    ann = generate_synthetic(tmp_path / "small", num_videos=40)
    bench = parse_annotations(ann)
    assert len(bench) == 40
    assert bench.num_actions == round(PAPER_NUM_ACTIONS * 40 / PAPER_NUM_VIDEOS)
    assert set(bench.scenarios) == set(SCENARIOS)
    only = generate_synthetic(tmp_path / "annotations-only", num_videos=40, with_videos=False)
    assert only.read_bytes() == ann.read_bytes(), "same annotations with or without clips"
    assert not (only.parent / "videos").exists()
    clip = sample_frames(
        bench.records[0].path, SamplerConfig(num_frames=demo.SYNTH_NUM_FRAMES, size=None)
    )
    assert clip.shape == (16, 48, 64, 3)
    with pytest.raises(ValueError, match="num_videos"):
        generate_synthetic(tmp_path / "x", num_videos=2)


# --- the resolver ----------------------------------------------------------------------------------


def test_load_benchmark_from_file_and_folder(demo_bench) -> None:
    folder = demo_bench.path.parent
    by_file = load_benchmark(demo_bench.path)
    by_folder = load_benchmark(str(folder))
    assert by_file.fingerprint == by_folder.fingerprint == demo_bench.fingerprint
    assert by_file.name == str(demo_bench.path)
    assert resolve_annotations(folder) == folder / "annotations.jsonl"


def test_load_benchmark_errors(tmp_path: Path) -> None:
    missing = tmp_path / "nope.jsonl"
    with pytest.raises(DataError, match="no such annotation file") as info:
        load_benchmark(missing)
    assert str(missing) in str(info.value)
    with pytest.raises(DataError, match="no annotations.jsonl"):
        load_benchmark(tmp_path)
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"video_id": "x", "video": "x.mp4", "scenario": "space"}) + "\n")
    with pytest.raises(DataError) as info:
        load_benchmark(bad, check_videos=False)
    assert f"{bad}:1: scenario" in str(info.value)


# --- the scene data file --------------------------------------------------------------------------

DEMO_FINGERPRINT = "42418032abe5d561"
SYNTHETIC_FINGERPRINT = "3419aaec4c4d9537"
"""Annotation fingerprints of the demo and the full synthetic set, measured before the scene
table moved from a Python literal into resources/demo_scenes.json (clips compared byte for byte
then too). A change of the scene data must be deliberate: bump GENERATOR_VERSION and these."""


def test_the_scene_file_generates_the_pinned_benchmarks(demo_bench, tmp_path) -> None:
    assert demo_bench.fingerprint == DEMO_FINGERPRINT
    path = generate_synthetic(tmp_path / "synth", with_videos=False)
    assert load_benchmark(str(path), check_videos=False).fingerprint == SYNTHETIC_FINGERPRINT


def _scene_doc() -> dict:
    return json.loads(demo.SCENES_FILE.read_text(encoding="utf-8"))


def _break(doc: dict, change) -> dict:
    change(doc)
    return doc


BAD_SCENE_FILES = [
    (lambda d: d.update(format_version=2), "format_version: expected 1, got 2"),
    (lambda d: d.update(scenes=[]), "scenes: expected a non-empty list"),
    (lambda d: d["scenes"][0].pop("draw"), r"scenes\[0\]: expected keys"),
    (lambda d: d["scenes"][1].update(draw="draw_nothing"), r"scenes\[1\] \('nav_road_obstacle'\)\.draw: no drawing function 'draw_nothing'"),
    (lambda d: d["scenes"][2].update(scenario="kitchen"), r"\.scenario: expected one of"),
    (lambda d: d["scenes"][0].update(background=[1, 2, 300]), r"\.background: expected \[R, G, B\]"),
    (lambda d: d["scenes"][0].update(demo_actions=0), r"\.demo_actions: expected an integer in 1\.\.6, got 0"),
    (lambda d: d["scenes"][0]["actions"][3].update(apl=5), r"\.actions\[3\]\.apl: expected one of \[0, 1, 2, 3, 4\], got 5"),
    (lambda d: d["scenes"][0]["actions"][0].update(apl=True), r"\.actions\[0\]\.apl"),
    (lambda d: d["scenes"][0]["actions"][0].update(proactive="yes"), r"\.actions\[0\]\.proactive"),
    (lambda d: d["scenes"][0]["actions"][1].update(texts=["ok", " "]), r"\.actions\[1\]\.texts\[1\]: expected a non-empty string"),
    (lambda d: d["scenes"][1].update(name=d["scenes"][0]["name"]), "duplicate names"),
    (lambda d: d.update(scenes=[s for s in d["scenes"] if s["scenario"] != "safety_monitoring"]), r"no scene for scenario\(s\) \['safety_monitoring'\]"),
]  # fmt: skip


@pytest.mark.parametrize(("change", "message"), BAD_SCENE_FILES)
def test_a_malformed_scene_file_is_named_with_scene_and_field(change, message, tmp_path) -> None:
    path = tmp_path / "scenes.json"
    path.write_text(json.dumps(_break(_scene_doc(), change)), encoding="utf-8")
    with pytest.raises(demo.SceneFileError, match=message) as err:
        demo.load_scenes(path)
    assert str(path) in str(err.value) and "\n" not in str(err.value)


def test_an_unreadable_scene_file_is_a_clear_error(tmp_path) -> None:
    for text in ("{not json", "[" * 100_000, ""):
        path = tmp_path / "scenes.json"
        path.write_text(text, encoding="utf-8")
        with pytest.raises(demo.SceneFileError, match="cannot read the scene file"):
            demo.load_scenes(path)


def test_the_shipped_scene_file_is_the_loaded_table() -> None:
    assert demo.load_scenes() == SCENES and len(SCENES) == 16

"""Dataset statistics (the paper's Figure 3) and the check against the published counts."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from visualact_env.cli import main
from visualact_env.data_stats import (
    compare_published,
    compute_stats,
    format_table,
    is_complete,
    plot_stats,
)
from visualact_env.loading import parse_annotations, write_jsonl
from visualact_env.records import SCENARIOS


def _act(apl: int, proactive: bool, i: int = 0) -> dict[str, Any]:
    return {"text": f"action {i} at level {apl}", "apl": apl, "proactive": proactive}


def _rows(videos: list[tuple[str, list[dict[str, Any]]]]) -> list[dict[str, Any]]:
    return [
        {"video_id": f"v{i}", "video": f"videos/v{i}.mp4", "scenario": s, "actions": a}
        for i, (s, a) in enumerate(videos)
    ]


@pytest.fixture()
def small(tmp_path: Path) -> Path:
    """Four videos with hand-countable figures (clips absent: stats never need them)."""
    videos = [
        ("dynamic_navigation", [_act(0, True), _act(3, False, 1), _act(1, True, 2)]),  # video APL 3
        ("dynamic_navigation", [_act(0, False)]),  # video APL 0
        ("home_service", [_act(2, True), _act(2, True, 1)]),  # video APL 2
        ("safety_monitoring", [_act(4, True), _act(0, False, 1)]),  # video APL 4
    ]
    return write_jsonl(tmp_path / "annotations.jsonl", _rows(videos))


def test_small_fixture_counts(small: Path) -> None:
    stats = compute_stats(parse_annotations(small, check_videos=False))
    assert stats.num_videos == 4 and stats.num_actions == 8
    assert stats.videos_per_scenario == {
        "dynamic_navigation": 2,
        "home_service": 1,
        "safety_monitoring": 1,
        "human_machine_interaction": 0,
    }
    assert stats.videos_per_apl == {0: 1, 1: 0, 2: 1, 3: 1, 4: 1}  # highest APL per video
    assert stats.actions_per_type == {"proactive": 5, "reactive": 3}
    assert stats.actions_per_apl == {0: 3, 1: 1, 2: 2, 3: 1, 4: 1}
    assert stats.actions_per_scenario == {
        "dynamic_navigation": 4,
        "home_service": 2,
        "safety_monitoring": 2,
        "human_machine_interaction": 0,
    }
    comps = compare_published(stats)
    assert not any(c.match for c in comps) and not is_complete(comps)
    table = format_table(stats, comps)
    assert "Videos per APL (a video's APL is the highest APL among its actions)" in table
    assert "0 of 12 match; 12 differ, so this is not (all of) the released benchmark" in table
    assert "differs  videos, Dynamic Navigation         published   364  here     2" in table


def published_count_rows() -> list[dict[str, Any]]:
    """1,074 videos / 3,733 actions built to hit every count the paper states.

    Videos by highest APL: 455 at 0, 100 at 1, 434 at 2, 60 at 3, 25 at 4 (455 and 434 are the
    paper's). Each video gets one action at its level; then 1,220 more APL-0 actions (any
    video), 44 more APL-4 actions (APL-4 videos) and 1,395 APL-1 actions (APL-2 videos) make
    1,675 at APL 0 and 69 at APL 4 (the paper's). The first 2,685 actions are proactive.
    """
    levels = [0] * 455 + [1] * 100 + [2] * 434 + [3] * 60 + [4] * 25
    scen = sum(([s] * n for s, n in zip(SCENARIOS, (364, 454, 126, 130), strict=True)), [])
    acts: list[list[int]] = [[lvl] for lvl in levels]
    for k in range(1220):
        acts[k % len(acts)].append(0)
    apl4 = [i for i, lvl in enumerate(levels) if lvl == 4]
    apl2 = [i for i, lvl in enumerate(levels) if lvl == 2]
    for k in range(44):
        acts[apl4[k % len(apl4)]].append(4)
    for k in range(1395):
        acts[apl2[k % len(apl2)]].append(1)
    counter = iter(range(10**6))
    videos = []
    for s, a in zip(scen, acts, strict=True):
        videos.append((s, [_act(lvl, (n := next(counter)) < 2685, n) for lvl in a]))
    return _rows(videos)


def test_published_counts_fixture_matches(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_jsonl(tmp_path / "annotations.jsonl", published_count_rows())
    stats = compute_stats(parse_annotations(path, check_videos=False))
    assert (stats.num_videos, stats.num_actions) == (1074, 3733)
    comps = compare_published(stats)
    assert len(comps) == 12 and all(c.match for c in comps), [c for c in comps if not c.match]
    assert is_complete(comps)
    assert main(["data", "stats", str(path)]) == 0
    out = capsys.readouterr().out
    assert "12 of 12 match: this looks like the complete released benchmark" in out
    assert re.search(r"Dynamic Navigation +364 +33\.9%", out)


def test_one_video_missing_is_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = published_count_rows()
    path = write_jsonl(tmp_path / "annotations.jsonl", rows[:-1])  # last: an HMI video
    assert main(["data", "stats", str(path), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["matches_published"] is False
    differ = {c["key"]: (c["published"], c["observed"]) for c in doc["published"] if not c["match"]}
    assert differ["num_videos"] == (1074, 1073)
    assert differ["videos_per_scenario.human_machine_interaction"] == (130, 129)
    assert "videos_per_scenario.dynamic_navigation" not in differ
    assert doc["stats"]["video_apl_rule"] == "a video's APL is the highest APL among its actions"


def test_only_video_apl_differs_is_explained(tmp_path: Path) -> None:
    """Moving one action between videos changes only video-APL counts: flagged as a definition issue."""
    rows = published_count_rows()
    zero = next(
        r for r in rows if all(a["apl"] == 0 for a in r["actions"]) and len(r["actions"]) == 2
    )
    two = next(
        r for r in rows if max(a["apl"] for a in r["actions"]) == 2 and len(r["actions"]) > 2
    )
    moved = next(a for a in two["actions"] if a["apl"] == 1)
    two["actions"].remove(moved)
    zero["actions"].append(moved)  # that video's APL goes 0 -> 1
    path = write_jsonl(tmp_path / "annotations.jsonl", rows)
    stats = compute_stats(parse_annotations(path, check_videos=False))
    comps = compare_published(stats)
    assert {c.key for c in comps if not c.match} == {"videos_per_apl.0"}
    assert is_complete(comps)
    assert "every count except videos per APL matches" in format_table(stats, comps)


def test_charts_are_real_pngs(
    small: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stats = compute_stats(parse_annotations(small, check_videos=False))
    paths = plot_stats(stats, tmp_path / "charts")
    assert [p.name for p in paths] == [
        "figure3.png",
        "videos_per_scenario.png",
        "videos_per_apl.png",
        "actions_per_type.png",
        "actions_per_apl.png",
    ]
    with Image.open(paths[0]) as img:
        assert img.format == "PNG" and img.size[0] > 2 * img.size[1]
        colours = img.convert("RGB").getcolors(maxcolors=1 << 20)
        assert colours is not None and len(colours) > 10  # something was drawn
    assert main(["data", "stats", str(small), "--out", str(tmp_path / "cli")]) == 0
    assert "charts: " in capsys.readouterr().out
    assert (tmp_path / "cli" / "figure3.png").is_file()


def test_stats_default_is_demo(capsys: pytest.CaptureFixture[str], demo) -> None:
    assert main(["data", "stats", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    stats = doc["stats"]
    assert stats["name"] == "demo"
    # the demo's known counts: 16 videos, 4 per scenario, every action counted once
    assert stats["num_videos"] == len(demo) == 16
    assert stats["videos_per_scenario"] == {s: 4 for s in SCENARIOS}
    actions = [a for r in demo for a in r.actions]
    assert stats["num_actions"] == len(actions)
    assert stats["actions_per_type"] == {
        "proactive": sum(a.proactive for a in actions),
        "reactive": sum(not a.proactive for a in actions),
    }
    assert {int(k): v for k, v in stats["actions_per_apl"].items()} == {
        lvl: sum(a.apl == lvl for a in actions) for lvl in range(5)
    }
    assert {int(k): v for k, v in stats["videos_per_apl"].items()} == {
        lvl: sum(max(a.apl for a in r.actions) == lvl for r in demo) for lvl in range(5)
    }
    assert doc["matches_published"] is False
    assert doc["charts"] == []

"""Validation of annotation and prediction files: every problem named by file, line and field."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from visualact_env.loading import DataError, Problem, parse_annotations, parse_predictions

GOOD_ACTIONS = [
    {"text": "Slow down and yield", "apl": 3, "proactive": True},
    {"text": "Keep a safe distance", "apl": 1, "proactive": False},
]


def _record(vid: str, **over: Any) -> dict[str, Any]:
    rec = {
        "video_id": vid,
        "video": f"videos/{vid}.mp4",
        "scenario": "dynamic_navigation",
        "actions": GOOD_ACTIONS,
    }
    rec.update(over)
    return rec


def _write(path: Path, lines: list[Any]) -> Path:
    """Write records (dicts) or raw strings as lines."""
    path.write_text(
        "".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines), "utf-8"
    )
    return path


@pytest.fixture()
def dataset(tmp_path: Path) -> Path:
    """A dataset folder with three existing clips (loading checks existence, never decodes)."""
    videos = tmp_path / "videos"
    videos.mkdir()
    for vid in ("a", "b", "c"):
        (videos / f"{vid}.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42")
    return tmp_path


def _problems(path: Path, **kw: Any) -> list[Problem]:
    with pytest.raises(DataError) as info:
        parse_annotations(path, **kw)
    return info.value.problems


def _one(problems: list[Problem], line: int, field: str) -> Problem:
    hits = [p for p in problems if p.line == line and p.field == field]
    assert len(hits) == 1, f"expected one problem at line {line} field {field}: {problems}"
    return hits[0]


def test_good_file_loads(dataset: Path) -> None:
    path = _write(dataset / "ann.jsonl", [_record("a"), "", _record("b", source="dada")])
    bench = parse_annotations(path)
    assert bench.video_ids == ["a", "b"]
    assert bench["b"].source == "dada"
    assert bench["a"].path == dataset / "videos" / "a.mp4"
    assert bench["a"].actions[0].apl == 3 and bench["a"].actions[1].proactive is False
    assert len(bench.fingerprint) == 16


@pytest.mark.parametrize(
    ("apl", "expected"),
    [
        (7, "out of range: 7"),
        (-1, "out of range"),
        ("3", "got '3'"),
        (True, "got True"),
        (2.0, "got 2.0"),
    ],
)
def test_bad_apl(dataset: Path, apl: Any, expected: str) -> None:
    bad = [{"text": "Stop", "apl": apl, "proactive": True}]
    path = _write(dataset / "ann.jsonl", [_record("a"), _record("b", actions=bad)])
    p = _one(_problems(path), 2, "actions[0].apl")
    assert expected in p.message
    assert p.file == str(path)
    assert str(p).startswith(f"{path}:2: actions[0].apl: ")


def test_every_problem_listed_nothing_half_loaded(dataset: Path) -> None:
    """One file with a bad line of each kind: every problem comes back, no Benchmark."""
    lines: list[Any] = [
        _record("a"),  # 1 ok
        _record("b", scenario="kitchen"),  # 2 unknown scenario
        _record("c", actions=[]),  # 3 empty actions
        _record("a", video="videos/b.mp4"),  # 4 duplicate id
        _record("d"),  # 5 missing clip
        _record("e", video="../x.mp4"),  # 6 escapes
        _record("f", video="/etc/passwd"),  # 7 absolute
        '{"video_id": "g", "video": ',  # 8 invalid JSON
        {"video": "videos/c.mp4"},  # 9 missing video_id, scenario, actions
        _record("h", actions=[{"text": "", "apl": 1, "proactive": "yes"}]),  # 10
        _record("i", actions=[{"text": "Wave", "proactive": True}]),  # 11 missing apl
        _record("j", colour="red"),  # 12 unknown field
        "[1, 2]",  # 13 not an object
        _record("k", actions="call 911"),  # 14 actions not a list
    ]
    path = _write(dataset / "ann.jsonl", lines)
    problems = _problems(path)
    assert "unknown scenario 'kitchen'" in _one(problems, 2, "scenario").message
    assert "empty action list" in _one(problems, 3, "actions").message
    assert "duplicate 'a' (first on line 1)" in _one(problems, 4, "video_id").message
    assert "video file not found" in _one(problems, 5, "video").message
    assert "escapes the dataset folder" in _one(problems, 6, "video").message
    assert "absolute path" in _one(problems, 7, "video").message
    invalid = [p for p in problems if p.line == 8]
    assert len(invalid) == 1 and "invalid JSON" in invalid[0].message and invalid[0].field is None
    assert "non-empty string" in _one(problems, 9, "video_id").message
    assert "unknown scenario None" in _one(problems, 9, "scenario").message
    assert _one(problems, 9, "actions").message == "missing"
    assert "non-empty string" in _one(problems, 10, "actions[0].text").message
    assert "true or false" in _one(problems, 10, "actions[0].proactive").message
    assert "missing" in _one(problems, 11, "actions[0].apl").message
    assert "unknown field" in _one(problems, 12, "colour").message
    assert "JSON object" in [p for p in problems if p.line == 13][0].message
    assert "must be a list" in _one(problems, 14, "actions").message
    assert not [p for p in problems if p.line == 1]
    assert {p.line for p in problems} == set(range(2, 15))  # every bad line, no other
    assert all(p.file == str(path) for p in problems)
    with pytest.raises(DataError) as info:
        parse_annotations(path)
    text = str(info.value)
    assert text.startswith(f"{len(problems)} problems found:")
    assert f"{path}:6: video:" in text


def test_check_videos_false_skips_existence_not_escape(dataset: Path) -> None:
    path = _write(dataset / "ann.jsonl", [_record("zz")])
    assert parse_annotations(path, check_videos=False).video_ids == ["zz"]
    path = _write(dataset / "ann.jsonl", [_record("zz", video="videos/../../zz.mp4")])
    assert "escapes" in _one(_problems(path, check_videos=False), 1, "video").message


def test_symlinked_videos_folder_is_allowed(tmp_path: Path) -> None:
    """A videos/ folder that links to a download cache elsewhere is inside the dataset."""
    store = tmp_path / "hub-cache"
    store.mkdir()
    (store / "a.mp4").write_bytes(b"clip")
    data = tmp_path / "data"
    data.mkdir()
    (data / "videos").symlink_to(store, target_is_directory=True)
    path = _write(data / "ann.jsonl", [_record("a")])
    assert parse_annotations(path)["a"].path.is_file()


def test_missing_file_empty_file_and_bad_encoding(tmp_path: Path) -> None:
    p = _problems(tmp_path / "nope.jsonl")
    assert p == [Problem(str(tmp_path / "nope.jsonl"), None, None, "annotation file not found")]
    empty = _write(tmp_path / "empty.jsonl", ["", "  "])
    assert _problems(empty)[0].message == "no records"
    latin = tmp_path / "latin.jsonl"
    latin.write_bytes(b'{"video_id": "caf\xe9"}\n')
    problem = _problems(latin)[0]
    assert problem.line == 1 and "not UTF-8" in problem.message


def test_byte_order_mark_is_accepted(dataset: Path) -> None:
    path = dataset / "bom.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(_record("a")).encode() + b"\n")
    assert parse_annotations(path).video_ids == ["a"]


# --- predictions -----------------------------------------------------------------------------


@pytest.fixture()
def bench(dataset: Path):
    return parse_annotations(_write(dataset / "ann.jsonl", [_record("a"), _record("b")]))


def _pred_problems(path: Path, bench: Any = None, **kw: Any) -> list[Problem]:
    with pytest.raises(DataError) as info:
        parse_predictions(path, bench, **kw)
    return info.value.problems


def test_predictions_good_with_nulls_and_extra_fields(tmp_path: Path, bench: Any) -> None:
    rows = [
        {"video_id": "a", "actions": [{"text": "Brake", "apl": None, "proactive": None}]},
        {"video_id": "b", "actions": [{"text": "Honk"}], "raw_text": "1. Honk", "latency_s": 0.5},
        {"video_id": "a", "sample": 1, "actions": [], "error": "timeout after 3 attempts"},
    ]
    preds = parse_predictions(_write(tmp_path / "p.jsonl", rows), bench)
    assert preds[0].actions[0].apl is None and preds[0].actions[0].proactive is None
    assert preds[1].extra == {"raw_text": "1. Honk", "latency_s": 0.5}
    assert preds[2].failed and preds[2].extra == {"sample": 1}


def test_predictions_unknown_ids_error_or_warning(tmp_path: Path, bench: Any) -> None:
    path = _write(
        tmp_path / "p.jsonl", [{"video_id": "a", "actions": []}, {"video_id": "zz", "actions": []}]
    )
    p = _one(_pred_problems(path, bench), 2, "video_id")
    assert "'zz' is not in the annotations" in p.message and "--allow-extra" in p.message
    warnings: list[str] = []
    preds = parse_predictions(path, bench, allow_extra=True, warnings=warnings)
    assert [x.video_id for x in preds] == ["a"]
    assert warnings == [f"{path}:2: video_id 'zz' is not in the annotations; ignored"]
    assert len(parse_predictions(path)) == 2  # no benchmark: nothing to check against


def test_predictions_malformed_records_all_listed(tmp_path: Path, bench: Any) -> None:
    lines: list[Any] = [
        {"video_id": "a", "actions": [{"text": "Stop", "apl": 9}]},  # 1 out of range
        "not json",  # 2
        {"actions": []},  # 3 no id
        {"video_id": "b", "actions": {"text": "x"}},  # 4 not a list
        {"video_id": "b", "actions": [{"text": "x", "proactive": "maybe"}]},  # 5
        {"video_id": "b", "actions": [], "error": 42},  # 6 bad error
        {"video_id": "a", "actions": ["go left"]},  # 7 item not object
    ]
    path = _write(tmp_path / "p.jsonl", lines)
    problems = _pred_problems(path, bench)
    assert all(p.file == str(path) for p in problems)
    assert "out of range: 9" in _one(problems, 1, "actions[0].apl").message
    assert "invalid JSON" in [p for p in problems if p.line == 2][0].message
    assert _one(problems, 3, "video_id").message == "missing"
    assert "must be a list, got {'text': 'x'}" in _one(problems, 4, "actions").message
    assert "true or false, got 'maybe'" in _one(problems, 5, "actions[0].proactive").message
    assert "must be a string, got 42" in _one(problems, 6, "error").message
    assert "must be a JSON object, got 'go left'" in _one(problems, 7, "actions[0]").message
    assert {p.line for p in problems} == {1, 2, 3, 4, 5, 6, 7}


def test_a_torn_line_reads_naturally(tmp_path: Path, bench: Any) -> None:
    # json's own message ends in "at" here; it must not read "starting at at column"
    path = tmp_path / "p.jsonl"
    path.write_text('{"video_id": "a', "utf-8")  # a torn last line: no newline
    problems = _pred_problems(path, bench)
    (problem,) = problems
    assert problem.line == 1
    assert "Unterminated string starting at column 14" in problem.message
    assert "at at" not in problem.message

"""Safe JSON reading/writing: deep nesting, lone surrogates, huge lines end in clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from visualact_env import jsonio
from visualact_env.cache import atomic_write_text
from visualact_env.errors import DataError
from visualact_env.jsonio import (
    MAX_DEPTH,
    dumps,
    iter_jsonl,
    loads,
    read_json,
    replace_surrogates,
    write_json,
    write_jsonl,
)

DEEP = "[" * 5000 + "]" * 5000
MIDDLE_DEEP = "[" * (MAX_DEPTH + 5) + "]" * (MAX_DEPTH + 5)  # decodes, but too deep to keep


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (DEEP, f"nested deeper than {MAX_DEPTH} levels"),
        (MIDDLE_DEEP, f"nested deeper than {MAX_DEPTH} levels"),
        ('{"a": ' * 3000 + "1" + "}" * 3000, f"nested deeper than {MAX_DEPTH} levels"),
        ('{"text": "cut \\ud83d"}', "lone surrogate in a string"),
        ('{"text": "\\udc00 low"}', "lone surrogate in a string"),
        ('{"\\ud800": 1}', "lone surrogate in a key"),
        (
            '{"a": 1,}',
            "invalid JSON (Expecting property name enclosed in double quotes at column 9)",
        ),
        ("", "invalid JSON (Expecting value at column 1)"),
    ],
)
def test_loads_turns_unsafe_json_into_a_data_error(text, message):
    with pytest.raises(DataError) as info:
        loads(text, file="f.json", line=7)
    (problem,) = info.value.problems
    assert problem.file == "f.json"
    assert problem.line == 7
    assert message in problem.message


def test_a_valid_surrogate_pair_is_text_not_an_error():
    assert loads('{"t": "smile \\ud83d\\ude00"}') == {"t": "smile \U0001f600"}


def test_loads_names_the_line_inside_a_multi_line_document(tmp_path: Path):
    path = tmp_path / "config.json"
    path.write_text('{\n  "a": 1,\n  "b": "\\ud800"\n}\n', "utf-8")
    with pytest.raises(DataError) as info:
        read_json(path)
    assert str(info.value.problems[0]) == (
        f"{path}:3: lone surrogate in a string (\\ud800-\\udfff is not Unicode text)"
    )
    path.write_text('{\n  "a": 1\n  "b": 2\n}\n', "utf-8")
    with pytest.raises(DataError) as info:
        read_json(path)
    assert info.value.problems[0].line == 3
    path.write_text("{\n" + "[" * 4000 + "]" * 4000 + "\n}", "utf-8")
    with pytest.raises(DataError) as info:
        read_json(path)
    assert info.value.problems[0].line == 2


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "JSON file not found"),
        (b"\xff\xfe{}", "not UTF-8 text"),
    ],
)
def test_read_json_missing_or_binary(tmp_path: Path, content, message):
    path = tmp_path / "x.json"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(DataError, match=message):
        read_json(path)


def test_read_json_refuses_a_file_beyond_the_size_limit(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(jsonio, "MAX_FILE_BYTES", 100)
    path = tmp_path / "big.json"
    path.write_text(json.dumps({"a": "x" * 200}), "utf-8")
    with pytest.raises(DataError, match="too large"):
        read_json(path)


def test_iter_jsonl_reports_each_bad_line_and_keeps_reading(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(jsonio, "MAX_LINE_BYTES", 1000)
    path = tmp_path / "rows.jsonl"
    lines = [
        b'\xef\xbb\xbf{"ok": 1}',
        b"[" * 450 + b"]" * 450,
        b'{"t": "\\ud800"}',
        b'{"t": "' + b"x" * 5000 + b'"}',
        b"\xff\xfe",
        b"   ",
        b'{"ok": 2}',
        b'{"t": "' + b"y" * 3000,  # an overlong last line without a newline
    ]
    path.write_bytes(b"\n".join(lines))
    rows = list(iter_jsonl(path))
    assert [(n, v) for n, v, e in rows if e is None] == [(1, {"ok": 1}), (7, {"ok": 2})]
    errors = {n: e for n, _, e in rows if e}
    assert errors == {
        2: f"nested deeper than {MAX_DEPTH} levels",
        3: "lone surrogate in a string (\\ud800-\\udfff is not Unicode text)",
        4: "line longer than 1000 bytes; not read",
        5: "not UTF-8 text (byte 1 of the line)",
        8: "line longer than 1000 bytes; not read",
    }


def test_writers_never_raise_on_a_lone_surrogate_and_read_back(tmp_path: Path):
    value = {"text": "emoji cut \ud83d", "k\udc00": ["\ud800"]}
    assert dumps(value) == '{"text": "emoji cut \ufffd", "k\ufffd": ["\ufffd"]}'
    write_json(tmp_path / "a.json", value)
    write_jsonl(tmp_path / "a.jsonl", [value, {"ok": "é"}])
    atomic_write_text(tmp_path / "a.md", "| \ud800 |")
    assert read_json(tmp_path / "a.json") == {"text": "emoji cut \ufffd", "k\ufffd": ["\ufffd"]}
    assert [v for _, v, _ in iter_jsonl(tmp_path / "a.jsonl")][1] == {"ok": "é"}
    assert (tmp_path / "a.md").read_text("utf-8") == "| \ufffd |"


def test_replace_surrogates_counts_what_it_replaced():
    assert replace_surrogates("ok \U0001f600") == ("ok \U0001f600", 0)
    assert replace_surrogates("a\ud83d b\udc00") == ("a\ufffd b\ufffd", 2)

"""Hostile inputs for every command that reads a file, and how each one ended.

Each case builds a small world in a folder (the demo's annotations with links to its clips, a
finished run, a release JSON ...), spoils one file in one way, runs one ``visualact`` command and
classifies the outcome:

* ``clear``: refused with exit status 2 (or 1 for ``data validate``), no traceback, and the
  message names the spoiled file (by name) and where in it (a line, a field or a JSON path);
* ``accepted``: a hostile but valid input that must be accepted (HTML in a text, CRLF line ends)
  and was, with its own check passed (HTML escaped, figures unchanged);
* ``traceback``, ``hang``, ``silent`` (exit 0 on an input that must be refused), ``unclear`` (a
  refusal that does not say which file or where), ``lost`` (a file that existed before a failed
  command changed), ``secret`` (a credential written to a file or printed).

``tests/test_attack_inputs.py`` runs every case in-process and requires no ``traceback``,
``hang``, ``silent``, ``lost`` or ``secret``. Run this file to print the table with each case in
its own process (real exit codes, a wall-clock limit per case)::

    python tests/attack_cases.py [--jobs 2] [--timeout 120] [--only SUBSTRING]
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SECRET = "s3cr3t-Passw0rd"
BAD_OUTCOMES = ("traceback", "hang", "silent", "lost", "secret")


@dataclass
class World:
    """The folder a case runs in, with the files it may spoil."""

    root: Path
    annotations: Path  # data/annotations.jsonl (+ data/videos -> the demo's clips)
    predictions: Path  # the oracle's predictions for it
    run: Path  # a finished oracle run on it (config.json, predictions.jsonl, summary.json ...)
    run2: Path  # a second finished run (the empty agent) for compare
    shard1: Path  # the oracle's run as two shards, for merge
    shard2: Path


@dataclass
class Case:
    name: str
    command: str  # which command reads the spoiled file (the table's row group)
    build: Callable[[World], list[str]]  # spoils the world, returns the argv
    target: Callable[[World], Path]  # the spoiled file, which the message must name
    expect: str = "refuse"  # or "accept"
    check: Callable[[World, str], str | None] | None = None  # for accepted cases: None = fine
    keep: Callable[[World], list[Path]] = field(default=lambda w: [])  # must survive a refusal


# ---------------------------------------------------------------------------------------------
# The world


def _valid_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def build_world(root: Path, template: Path | None = None) -> World:
    """A fresh world under ``root`` (copied from ``template`` when given: much faster)."""
    if template is not None:
        shutil.copytree(template, root, symlinks=True)
        return _world(root)
    from visualact_env.cli import main
    from visualact_env.datasets import load_benchmark

    demo = load_benchmark("demo")
    data = root / "data"
    data.mkdir(parents=True)
    src = Path(demo.path)
    (data / "videos").symlink_to(src.parent / "videos")
    shutil.copyfile(src, data / "annotations.jsonl")
    preds = [
        {"video_id": r["video_id"], "actions": r["actions"]}
        for r in _valid_lines(data / "annotations.jsonl")
    ]
    (root / "predictions.jsonl").write_text(
        "".join(json.dumps(p) + "\n" for p in preds), encoding="utf-8"
    )
    runs = (("oracle", "run", ()), ("empty", "run2", ()))
    runs += (("oracle", "shard1", ("--shard", "1/2")), ("oracle", "shard2", ("--shard", "2/2")))
    for agent, out, extra in runs:
        argv = ["eval", "--agent", agent, "--data", str(data), "--out", str(root / out), *extra]
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            code = main([*argv, "--no-html"]) if _has_no_html() else main(argv)
        if code not in (0, None):
            raise RuntimeError(f"could not build the world: visualact {' '.join(argv)} -> {code}")
    return _world(root)


def _has_no_html() -> bool:
    from visualact_env.cli import build_parser

    try:
        build_parser().parse_args(["eval", "--no-html"])
    except SystemExit:
        return False
    return True


def _world(root: Path) -> World:
    return World(
        root=root,
        annotations=root / "data" / "annotations.jsonl",
        predictions=root / "predictions.jsonl",
        run=root / "run",
        run2=root / "run2",
        shard1=root / "shard1",
        shard2=root / "shard2",
    )


# ---------------------------------------------------------------------------------------------
# Spoilers: each turns a valid file into a hostile one


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def _write_lines(path: Path, lines: list[str]) -> None:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")


def _edit_record(path: Path, index: int, edit: Callable[[dict[str, Any]], Any]) -> None:
    lines = _lines(path)
    record = json.loads(lines[index])
    edit(record)
    lines[index] = json.dumps(record)
    _write_lines(path, lines)


def _set(*keys: Any, value: Any) -> Callable[[dict[str, Any]], None]:
    def edit(record: dict[str, Any]) -> None:
        obj: Any = record
        for k in keys[:-1]:
            obj = obj[k]
        obj[keys[-1]] = value

    return edit


def _drop(*keys: Any) -> Callable[[dict[str, Any]], None]:
    def edit(record: dict[str, Any]) -> None:
        obj: Any = record
        for k in keys[:-1]:
            obj = obj[k]
        del obj[keys[-1]]

    return edit


def _raw(path: Path, data: bytes) -> None:
    path.write_bytes(data)


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


BYTE_SPOILERS: dict[str, Callable[[Path], None]] = {
    "empty file": lambda p: _raw(p, b""),
    "only blank lines": lambda p: _raw(p, b"\n\n  \n"),
    "not UTF-8": lambda p: _raw(p, p.read_bytes().replace(b'"', b'"\xff\xfe', 1)),
    "encoded lone surrogate byte sequence": lambda p: _raw(
        p, p.read_bytes().replace(b'"', b'"\xed\xa0\x80', 1)
    ),
    "binary garbage": lambda p: _raw(p, bytes(range(256)) * 64),
    "truncated last line": lambda p: _raw(p, p.read_bytes()[: len(p.read_bytes()) // 2 + 7]),
    "a line that is a list": lambda p: _write_lines(p, [*_lines(p)[:-1], "[1, 2, 3]"]),
    "a line that is null": lambda p: _write_lines(p, [*_lines(p)[:-1], "null"]),
    "a line that is a string": lambda p: _write_lines(p, [*_lines(p)[:-1], '"hello"']),
    "5,000 nested brackets in a line": lambda p: _write_lines(p, [*_lines(p), _nested(5000)]),
    "100,000 nested brackets in a field": lambda p: _edit_raw_field(p, _nested(100_000)),
    "a 30 MB line": lambda p: _write_lines(p, [*_lines(p), '{"x": "' + "a" * 30_000_000 + '"}']),
    "NaN and Infinity": lambda p: _write_lines(p, [*_lines(p), '{"video_id": NaN, "x": Infinity}']),
    "a JSON array instead of JSON Lines": lambda p: _raw(
        p, json.dumps(_valid_lines(p)).encode("utf-8")
    ),
    "a UTF-8 byte-order mark then garbage": lambda p: _raw(p, b"\xef\xbb\xbf{{{\n"),
}


def _edit_raw_field(path: Path, raw: str) -> None:
    """Replace the first record's actions with ``raw`` JSON text (kept as text: no parser)."""
    lines = _lines(path)
    record = json.loads(lines[0])
    record["actions"] = "@@RAW@@"
    lines[0] = json.dumps(record).replace('"@@RAW@@"', raw)
    _write_lines(path, lines)


def _lone_surrogate_text(path: Path) -> None:
    lines = _lines(path)
    record = json.loads(lines[0])
    record["actions"][0]["text"] = "Call for help @@"
    lines[0] = json.dumps(record).replace("@@", "\\ud800")
    _write_lines(path, lines)


ANNOTATION_FIELD_SPOILERS: dict[str, Callable[[dict[str, Any]], None]] = {
    "video_id missing": _drop("video_id"),
    "video_id a number": _set("video_id", value=12),
    "video_id a list": _set("video_id", value=["a"]),
    "video_id empty": _set("video_id", value=""),
    "scenario unknown": _set("scenario", value="outer_space"),
    "scenario missing": _drop("scenario"),
    "actions missing": _drop("actions"),
    "actions a string": _set("actions", value="call for help"),
    "actions empty": _set("actions", value=[]),
    "an action a string": _set("actions", 0, value="call for help"),
    "action text missing": _drop("actions", 0, "text"),
    "action text a number": _set("actions", 0, "text", value=5),
    "action text empty": _set("actions", 0, "text", value=""),
    "apl 7": _set("actions", 0, "apl", value=7),
    "apl -1": _set("actions", 0, "apl", value=-1),
    "apl '3'": _set("actions", 0, "apl", value="3"),
    "apl 2.5": _set("actions", 0, "apl", value=2.5),
    "apl true": _set("actions", 0, "apl", value=True),
    "apl null": _set("actions", 0, "apl", value=None),
    "proactive 'yes'": _set("actions", 0, "proactive", value="yes"),
    "proactive 2": _set("actions", 0, "proactive", value=2),
    "proactive missing": _drop("actions", 0, "proactive"),
    "video path with ../": _set("video", value="../../etc/passwd"),
    "video path absolute": _set("video", value="/etc/passwd"),
    "video file missing": _set("video", value="videos/no_such_clip.mp4"),
    "video missing": _drop("video"),
}

PREDICTION_FIELD_SPOILERS: dict[str, Callable[[dict[str, Any]], None]] = {
    "no actions and no error": _drop("actions"),
    "'action' instead of 'actions'": lambda r: r.update(action=r.pop("actions")),
    "actions a string": _set("actions", value="call for help"),
    "actions a dict": _set("actions", value={"text": "x"}),
    "an action a number": _set("actions", 0, value=3),
    "action text missing": _drop("actions", 0, "text"),
    "action text a list": _set("actions", 0, "text", value=["x"]),
    "apl 9": _set("actions", 0, "apl", value=9),
    "apl 'high!'": _set("actions", 0, "apl", value="high!"),
    "proactive 'maybe'": _set("actions", 0, "proactive", value="maybe"),
    "sample '0'": _set("sample", value="0"),
    "sample 0.5": _set("sample", value=0.5),
    "sample true": _set("sample", value=True),
    "sample [0]": _set("sample", value=[0]),
    "sample 'zero'": _set("sample", value="zero"),
    "sample -1": _set("sample", value=-1),
    "video_id unknown": _set("video_id", value="no_such_video"),
    "video_id missing": _drop("video_id"),
    "video_id a number": _set("video_id", value=7),
    "error a number": lambda r: r.update(error=5),
}


EMPTY_SPOILERS = ("empty file", "only blank lines")
"""A prediction file without records is a valid (if useless) answer: each video is missing."""


def _says_all_missing(w: World, output: str) -> str | None:
    n = len(_lines(w.annotations))
    if f"missing {n}" in output or f"0 records for 0 of {n} videos" in output:
        return None
    return f"an empty prediction file was not reported as {n} missing videos"


def _duplicate_first(path: Path, sample: Any = "keep") -> None:
    lines = _lines(path)
    record = json.loads(lines[0])
    if sample != "keep":
        record["sample"] = sample
    _write_lines(path, [*lines, json.dumps(record)])


# ---------------------------------------------------------------------------------------------
# The catalogue


def _annotation_commands(w: World) -> dict[str, list[str]]:
    a = str(w.annotations)
    return {
        "data validate": ["data", "validate", a],
        "score": ["score", "--annotations", a, "--predictions", str(w.predictions)],
        "data stats": ["data", "stats", a],
        "data split": ["data", "split", a, "--out", str(w.root / "split")],
        "eval": ["eval", "--agent", "oracle", "--data", a, "--out", str(w.root / "newrun")],
    }


def _prediction_commands(w: World) -> dict[str, list[str]]:
    a, p = str(w.annotations), str(w.predictions)
    return {
        "data validate --predictions": ["data", "validate", a, "--predictions", p],
        "score": ["score", "--annotations", a, "--predictions", p],
    }


def _run_commands(w: World) -> dict[str, list[str]]:
    return {
        "report": ["report", str(w.run), "--no-plots", "--no-html"],
        "compare": ["compare", str(w.run), str(w.run2)],
        "merge": ["merge", str(w.shard1), str(w.shard2), "--out", str(w.root / "merged")],
        "eval --resume": [
            "eval",
            "--out",
            str(w.run),
            "--resume",
            "--agent",
            "oracle",
            "--data",
            str(w.annotations),
        ],
    }


def _run_of(w: World, command: str) -> Path:
    """The run folder a command reads (merge reads shards)."""
    return w.shard1 if command == "merge" else w.run


def catalogue() -> list[Case]:
    """Every case, in a stable order."""
    cases: list[Case] = []
    ann_cmds = ["data validate", "score", "data stats", "data split", "eval"]

    def ann_case(label: str, spoil: Callable[[Path], None], cmd: str) -> Case:
        def build(w: World) -> list[str]:
            spoil(w.annotations)
            return _annotation_commands(w)[cmd]

        return Case(f"annotations: {label}", cmd, build, lambda w: w.annotations)

    def pred_case(label: str, spoil: Callable[[Path], None], cmd: str) -> Case:
        def build(w: World) -> list[str]:
            spoil(w.predictions)
            return _prediction_commands(w)[cmd]

        return Case(f"predictions: {label}", cmd, build, lambda w: w.predictions)

    # annotations: byte-level spoilers through the two main readers, field spoilers through all
    for label, spoil in BYTE_SPOILERS.items():
        for cmd in ("data validate", "score", "eval"):
            cases.append(ann_case(label, spoil, cmd))
    for label, edit in ANNOTATION_FIELD_SPOILERS.items():
        cmds = (
            ann_cmds
            if label in ("apl 7", "scenario unknown", "video path with ../")
            else [
                "data validate",
                "score",
            ]
        )
        if label.startswith("video") and label != "video_id missing":
            cmds = ["data validate", "eval"]
        for cmd in cmds:
            cases.append(ann_case(label, lambda p, e=edit: _edit_record(p, 0, e), cmd))
    for cmd in ("data validate", "score"):
        cases.append(ann_case("a lone surrogate escape in a text", _lone_surrogate_text, cmd))
        cases.append(ann_case("the same video_id twice", _duplicate_first, cmd))
    # predictions
    for label, spoil in BYTE_SPOILERS.items():
        for cmd in ("data validate --predictions", "score"):
            case = pred_case(label, spoil, cmd)
            if label in EMPTY_SPOILERS:  # no records: every video counted missing, and said so
                case.expect, case.check = "accept", _says_all_missing
            cases.append(case)
    for label, edit in PREDICTION_FIELD_SPOILERS.items():
        for cmd in ("data validate --predictions", "score"):
            cases.append(pred_case(label, lambda p, e=edit: _edit_record(p, 0, e), cmd))
    for cmd in ("data validate --predictions", "score"):
        cases.append(pred_case("the same record twice", _duplicate_first, cmd))
        cases.append(
            pred_case("a duplicate with sample '0'", lambda p: _duplicate_first(p, "0"), cmd)
        )
    # run folders
    for label, spoil in (
        ("config.json not JSON", lambda r: _raw(r / "config.json", b"{not json")),
        ("config.json a list", lambda r: _raw(r / "config.json", b"[1, 2]")),
        (
            "config.json nested 5,000 deep",
            lambda r: _raw(r / "config.json", _nested(5000).encode()),
        ),
        ("config.json empty", lambda r: _raw(r / "config.json", b"")),
        ("config.json not UTF-8", lambda r: _raw(r / "config.json", b'{"a": "\xff"}')),
    ):
        for cmd in ("report", "compare", "merge", "eval --resume"):
            cases.append(
                Case(
                    f"run folder: {label}",
                    cmd,
                    lambda w, s=spoil, c=cmd: (s(_run_of(w, c)), _run_commands(w)[c])[1],
                    lambda w, c=cmd: _run_of(w, c) / "config.json",
                )
            )
    for label, edit in (
        ("a row without video_id", _drop("video_id")),
        ("a row with sample 'x'", _set("sample", value="x")),
        ("a row whose actions is a string", _set("actions", value="x")),
    ):
        for cmd in ("report", "compare", "merge"):
            cases.append(
                Case(
                    f"run predictions: {label}",
                    cmd,
                    lambda w, e=edit, c=cmd: (
                        _edit_record(_run_of(w, c) / "predictions.jsonl", 0, e),
                        _run_commands(w)[c],
                    )[1],
                    lambda w, c=cmd: _run_of(w, c) / "predictions.jsonl",
                )
            )
    for label, data in (
        ("nested 5,000 deep", _nested(5000).encode()),
        ("not UTF-8", b"\xff\xfe\xfa\n"),
    ):
        for cmd in ("report", "compare", "merge"):
            cases.append(
                Case(
                    f"run predictions: {label}",
                    cmd,
                    lambda w, d=data, c=cmd: (
                        _raw(_run_of(w, c) / "predictions.jsonl", d),
                        _run_commands(w)[c],
                    )[1],
                    lambda w, c=cmd: _run_of(w, c) / "predictions.jsonl",
                )
            )

    # a failed merge must leave an existing --out untouched
    def merge_into_existing(w: World) -> list[str]:
        out = w.root / "merged"
        out.mkdir()
        (out / "keep.txt").write_text("precious", encoding="utf-8")
        _raw(w.shard1 / "config.json", b"[1]")
        return ["merge", str(w.shard1), str(w.shard2), "--out", str(out), "--overwrite"]

    cases.append(
        Case(
            "merge: a bad shard with --overwrite of an existing folder",
            "merge",
            merge_into_existing,
            lambda w: w.shard1 / "config.json",
            keep=lambda w: [w.root / "merged" / "keep.txt"],
        )
    )
    # prompts
    for label, data in (
        ("prompt .json nested 5,000 deep", _nested(5000)),
        ("prompt .json a list", "[1, 2]"),
        ("prompt .json without user", '{"name": "p", "version": 1}'),
        ("prompt .json version a list", '{"name": "p", "version": [1], "user": "hi"}'),
        ("prompt .json not UTF-8", None),
        ("prompt .json lone surrogate", '{"name": "p", "version": 1, "user": "hi \\ud800"}'),
    ):

        def build(w: World, data: str | None = data) -> list[str]:
            path = w.root / "prompt.json"
            if data is None:
                path.write_bytes(b'{"user": "\xff"}')
            else:
                path.write_text(data, encoding="utf-8")
            return [
                "eval",
                "--agent",
                "openai:fake@http://127.0.0.1:9/v1",
                "--prompt",
                str(path),
                "--data",
                str(w.annotations),
                "--out",
                str(w.root / "promptrun"),
            ]

        expect = "accept" if "surrogate" in label else "refuse"
        cases.append(
            Case(
                label,
                "eval --prompt",
                build,
                lambda w: w.root / "prompt.json",
                expect=expect if expect == "refuse" else "refuse-any",
            )
        )
    # the release importer: a failed import keeps an existing annotations.jsonl
    for label, data in (
        ("release nested 5,000 deep", _nested(5000)),
        ("release a number", "42"),
        ("release empty", ""),
        ("release not UTF-8", None),
        ("release lone surrogate key", '{"\\ud800": [1]}'),
        ("release records without actions", '[{"video_id": "a", "scenario": "home_service"}]'),
        (
            "release apl 9",
            '[{"video_id": "a", "scenario": "home_service", '
            '"actions": [{"text": "x", "apl": 9, "proactive": true}]}]',
        ),
        (
            "release unknown scenario",
            '[{"video_id": "a", "scenario": "moon", '
            '"actions": [{"text": "x", "apl": 1, "proactive": true}]}]',
        ),
    ):
        for dry in (True, False):

            def build(w: World, data: str | None = data, dry: bool = dry) -> list[str]:
                path = w.root / "release.json"
                if data is None:
                    path.write_bytes(b'[{"video_id": "\xff"}]')
                else:
                    path.write_text(data, encoding="utf-8")
                argv = [
                    "data",
                    "import",
                    str(path),
                    "--out",
                    str(w.root / "data"),
                    "--no-check-videos",
                ]
                return argv + (["--dry-run"] if dry else [])

            cases.append(
                Case(
                    f"{label}{' (dry run)' if dry else ''}",
                    "data import",
                    build,
                    lambda w: w.root / "release.json",
                    keep=lambda w: [w.annotations],
                )
            )

    # hostile but valid: must be accepted, and safe
    def html_text(w: World) -> list[str]:
        _edit_record(
            w.predictions,
            0,
            _set("actions", 0, "text", value="<img src=x onerror=alert(1)><script>x</script>"),
        )
        return ["score", "--annotations", str(w.annotations), "--predictions", str(w.predictions)]

    cases.append(
        Case(
            "predictions: HTML in a text",
            "score",
            html_text,
            lambda w: w.predictions,
            expect="accept",
        )
    )

    def html_report(w: World) -> list[str]:
        _edit_record(
            w.run / "predictions.jsonl",
            0,
            _set("actions", 0, "text", value="<script>alert(1)</script>"),
        )
        return ["report", str(w.run), "--no-plots"]

    def no_raw_html(w: World, _out: str) -> str | None:
        for name in ("report.md", "report.html"):
            path = w.run / name
            if path.exists() and "<script>alert(1)</script>" in path.read_text(encoding="utf-8"):
                return f"{name} holds the raw <script>"
        return None

    cases.append(
        Case(
            "run predictions: HTML in a text",
            "report",
            html_report,
            lambda w: w.run / "predictions.jsonl",
            expect="accept",
            check=no_raw_html,
        )
    )

    def crlf(w: World) -> list[str]:
        _raw(w.annotations, w.annotations.read_bytes().replace(b"\n", b"\r\n"))
        return ["data", "validate", str(w.annotations)]

    cases.append(
        Case(
            "annotations: CRLF line ends",
            "data validate",
            crlf,
            lambda w: w.annotations,
            expect="accept",
        )
    )

    # credentials in a base URL never reach a file or the terminal
    def creds(w: World) -> list[str]:
        return [
            "eval",
            "--agent",
            f"openai:fake@http://user:{SECRET}@127.0.0.1:9/v1",
            "--data",
            str(w.annotations),
            "--limit",
            "1",
            "--agent-option",
            "max_retries=0",
            "--agent-option",
            "timeout=2",
        ]

    cases.append(
        Case(
            "credentials in the base URL (server down)",
            "eval",
            creds,
            lambda w: w.root,
            expect="refuse-any",
        )
    )
    return cases


# ---------------------------------------------------------------------------------------------
# Running and classifying


def _digest(paths: list[Path]) -> dict[Path, str | None]:
    return {p: (hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else None) for p in paths}


def _secret_written(root: Path, output: str) -> bool:
    if SECRET in output:
        return True
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            path = Path(dirpath) / name
            if path.is_symlink():
                continue
            with contextlib.suppress(OSError):
                if SECRET.encode() in path.read_bytes():
                    return True
    return False


def classify(
    case: Case, world: World, code: int | None, output: str, before: dict[Path, str | None]
) -> tuple[str, str]:
    """(outcome, the message's last line)."""
    last = next((ln for ln in reversed(output.strip().splitlines()) if ln.strip()), "")
    if code is None:
        return "hang", last
    if "Traceback (most recent call last)" in output:
        return "traceback", last
    if _secret_written(world.root, output):
        return "secret", last
    if code != 0 and _digest(list(before)) != before:
        return "lost", last
    if case.expect == "accept":
        if code != 0:
            return "unclear", last
        problem = case.check(world, output) if case.check else None
        return ("accepted", last) if problem is None else ("silent", problem)
    if code == 0:
        return "silent", last
    if case.expect == "refuse-any":
        return "clear", last
    name = case.target(world).name
    where = any(k in output for k in ("line ", ":", "field", "record", "$", "[", "JSON"))
    return ("clear" if name in output and where else "unclear"), last


def run_in_process(case: Case, world: World, timeout: float = 120.0) -> tuple[str, str]:
    """Run one case through ``visualact_env.cli.main`` in this process."""
    from visualact_env.cli import main

    argv = case.build(world)
    before = _digest(case.keep(world))
    buf = io.StringIO()

    def alarm(*_: Any) -> None:
        raise TimeoutError

    old = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(int(timeout))
    code: int | None
    cwd = os.getcwd()
    os.chdir(world.root)
    try:
        with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(buf):
            try:
                code = main(argv)
            except SystemExit as e:
                code = e.code if isinstance(e.code, int) else 2
            except TimeoutError:
                code = None
            except Exception:  # noqa: BLE001 - a traceback is an outcome to report
                import traceback

                traceback.print_exc(file=buf)
                code = 1
    finally:
        os.chdir(cwd)
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    return classify(case, world, code, buf.getvalue(), before)


def run_in_subprocess(case: Case, world: World, timeout: float) -> tuple[str, str]:
    argv = case.build(world)
    before = _digest(case.keep(world))
    try:
        done = subprocess.run(
            [sys.executable, "-m", "visualact_env", *argv],
            capture_output=True,
            text=True,
            errors="replace",
            timeout=timeout,
            cwd=world.root,
        )
        code, output = done.returncode, done.stdout + done.stderr
    except subprocess.TimeoutExpired:
        code, output = None, ""
    return classify(case, world, code, output, before)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("--only", default="")
    args = parser.parse_args()
    cases = [c for c in catalogue() if args.only in c.name or args.only in c.command]
    with tempfile.TemporaryDirectory() as tmp:
        os.environ.setdefault("VISUALACT_CACHE_DIR", str(Path(tmp) / "cache"))
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        template = build_world(Path(tmp) / "template")
        start = time.perf_counter()

        def one(i_case: tuple[int, Case]) -> tuple[Case, str, str]:
            i, case = i_case
            world = build_world(Path(tmp) / f"case{i}", template.root)
            outcome, last = run_in_subprocess(case, world, args.timeout)
            shutil.rmtree(world.root, ignore_errors=True)
            return case, outcome, last

        with ThreadPoolExecutor(args.jobs) as pool:
            results = list(pool.map(one, enumerate(cases)))
    by_command: dict[str, Counter[str]] = {}
    for case, outcome, last in results:
        by_command.setdefault(case.command, Counter())[outcome] += 1
        if outcome in (*BAD_OUTCOMES, "unclear"):
            print(f"{outcome:9} {case.command:28} {case.name}: {last[:160]}")
    columns = ["clear", "accepted", "unclear", *BAD_OUTCOMES]
    print(f"\n{len(results)} hostile inputs in {time.perf_counter() - start:.0f} s\n")
    print("| command | cases | " + " | ".join(columns) + " |")
    print("|---|---:|" + "---:|" * len(columns))
    total: Counter[str] = Counter()
    for command, counts in sorted(by_command.items()):
        total.update(counts)
        cells = " | ".join(str(counts[c]) for c in columns)
        print(f"| `{command}` | {sum(counts.values())} | {cells} |")
    print(f"| all | {sum(total.values())} | " + " | ".join(str(total[c]) for c in columns) + " |")
    return 1 if any(total[c] for c in BAD_OUTCOMES) else 0


if __name__ == "__main__":
    sys.exit(main())

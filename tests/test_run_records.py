"""Typed run records (:mod:`visualact_env.run_records`): one strict definition of a prediction
record shared by every reader, format versions, status, and resume's two safeguards."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from report_fixtures import run_config, write_run

from visualact_env.cli import main
from visualact_env.errors import DataError
from visualact_env.loading import parse_predictions, write_jsonl
from visualact_env.merge import merge_runs
from visualact_env.report import compare_runs, write_reports
from visualact_env.run_records import (
    FORMAT_VERSION,
    PredictionRecord,
    RecordVersionError,
    RunConfigRecord,
    check_prediction,
    validate_record,
)
from visualact_env.rundir import (
    PredictionWriter,
    RunError,
    completion_status,
    load_config,
    read_predictions,
    read_summary,
    recover_predictions,
    write_config,
)

ANNOTATIONS = [
    {
        "video_id": "v1",
        "video": "clips/v1.mp4",
        "scenario": "safety_monitoring",
        "actions": [{"text": "call emergency services", "apl": 4, "proactive": False}],
    },
    {
        "video_id": "v2",
        "video": "clips/v2.mp4",
        "scenario": "home_service",
        "actions": [{"text": "close the window", "apl": 1, "proactive": True}],
    },
]
ACT = [{"text": "close the window", "apl": 1, "proactive": True}]

# (records, line, field, words in the message) of files every reader must refuse
BAD: list[tuple[str, list[Any], int, str | None, str]] = [
    ("sample-string", [{"video_id": "v1", "sample": "0", "actions": []}], 1, "sample", "'0'"),
    ("sample-float", [{"video_id": "v1", "sample": 0.5, "actions": []}], 1, "sample", "0.5"),
    ("sample-bool", [{"video_id": "v1", "sample": True, "actions": []}], 1, "sample", "True"),
    ("sample-list", [{"video_id": "v1", "sample": [0], "actions": []}], 1, "sample", "[0]"),
    ("sample-word", [{"video_id": "v1", "sample": "zero", "actions": []}], 1, "sample", "zero"),
    ("sample-negative", [{"video_id": "v1", "sample": -1, "actions": []}], 1, "sample", "-1"),
    ("no-actions-no-error", [{"video_id": "v1"}], 1, "actions", "'actions'"),
    ("null-error-only", [{"video_id": "v1", "error": None}], 1, "actions", "'error'"),
    ("misspelled-action", [{"video_id": "v1", "action": ACT}], 1, "action", "'actions'"),
    ("misspelled-beside", [{"video_id": "v1", "actions": [], "sampel": 1}], 1, "sampel", "sample"),
    ("misspelled-apl", [{"video_id": "v1", "actions": [{"text": "x", "APL": 2}]}], 1, "actions[0].APL", "'apl'"),
    ("actions-not-list", [{"video_id": "v1", "actions": "close it"}], 1, "actions", "list"),
    ("empty-text", [{"video_id": "v1", "actions": [{"text": "  "}]}], 1, "actions[0].text", "non-empty"),
    ("apl-out-of-range", [{"video_id": "v1", "actions": [{"text": "x", "apl": 5}]}], 1, "actions[0].apl", "out of range: 5"),
    ("apl-string", [{"video_id": "v1", "actions": [{"text": "x", "apl": "4"}]}], 1, "actions[0].apl", "integer"),
    ("proactive-string", [{"video_id": "v1", "actions": [{"text": "x", "proactive": "yes"}]}], 1, "actions[0].proactive", "true or false"),
    ("error-number", [{"video_id": "v1", "actions": [], "error": 503}], 1, "error", "string"),
    ("no-video-id", [{"actions": []}], 1, "video_id", "missing"),
    ("newer-format", [{"format_version": 99, "video_id": "v1", "actions": []}], 1, "format_version", "format_version 99"),
    ("not-an-object", [["v1", []]], 1, None, "JSON object"),
    (
        "duplicate",
        [{"video_id": "v1", "actions": []}, {"video_id": "v1", "actions": ACT}],
        2,
        "video_id",
        "duplicate prediction for 'v1' sample 0 (first on line 1)",
    ),
    (
        "duplicate-null-and-zero",
        [{"video_id": "v1", "sample": None, "actions": []}, {"video_id": "v1", "sample": 0, "error": "x"}],
        2,
        "video_id",
        "duplicate",
    ),
]  # fmt: skip

GOOD: list[tuple[str, list[Any]]] = [
    ("empty-actions", [{"video_id": "v1", "actions": []}]),
    ("error-only", [{"video_id": "v1", "error": "timeout"}]),
    ("null-sample", [{"video_id": "v1", "sample": None, "actions": ACT}]),
    ("two-samples", [{"video_id": "v1", "actions": ACT}, {"video_id": "v1", "sample": 1, "actions": []}]),
    ("nulls", [{"video_id": "v1", "actions": [{"text": "x", "apl": None, "proactive": None}]}]),
    ("own-data-in-meta", [{"video_id": "v2", "actions": ACT, "meta": {"model": "mine", "k": [1]}}]),
    ("runner-fields", [{"format_version": 1, "video_id": "v1", "sample": 0, "actions": ACT, "raw_text": "1. close", "usage": {"prompt_tokens": 9}, "diagnostics": ["format: list"], "cached": True, "attempts": 2, "parse_error": None, "latency_s": 0.25}]),
]  # fmt: skip


def _lines(path: Path, rows: list[Any]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.mark.parametrize(("name", "rows", "line", "field", "words"), BAD, ids=[b[0] for b in BAD])
def test_a_bad_record_is_an_error_naming_file_line_and_field(
    tmp_path: Path, name: str, rows: list[Any], line: int, field: str | None, words: str
) -> None:
    path = _lines(tmp_path / "p.jsonl", rows)
    with pytest.raises(DataError) as info:
        parse_predictions(path)
    (problem,) = info.value.problems
    assert (problem.file, problem.line, problem.field) == (str(path), line, field)
    assert words in problem.message
    assert str(problem).startswith(f"{path}:{line}: ")


@pytest.mark.parametrize(("name", "rows"), GOOD, ids=[g[0] for g in GOOD])
def test_good_records_load_and_null_sample_is_zero(
    tmp_path: Path, name: str, rows: list[Any]
) -> None:
    preds = parse_predictions(_lines(tmp_path / "p.jsonl", rows))
    assert len(preds) == len(rows)
    assert [p.sample for p in preds] == [int(r.get("sample") or 0) for r in rows]
    assert all(p.failed == (r.get("error") is not None) for p, r in zip(preds, rows, strict=True))


def test_validate_accepts_exactly_what_score_accepts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``data validate --predictions`` and ``score`` over the same table of files."""
    ann = write_jsonl(tmp_path / "ann.jsonl", ANNOTATIONS)
    verdicts = {}
    for name, rows in [(b[0], b[1]) for b in BAD] + GOOD:
        pred = _lines(tmp_path / f"{name}.jsonl", rows)
        validate = main(
            ["data", "validate", str(ann), "--no-check-videos", "--predictions", str(pred)]
        )
        score = main(["score", "--annotations", str(ann), "--predictions", str(pred), "--json"])
        err = capsys.readouterr().err
        assert "Traceback" not in err
        verdicts[name] = (validate == 0, score == 0)
    assert all(v == s for v, s in verdicts.values()), verdicts
    assert {n for n, (v, _) in verdicts.items() if v} == {name for name, _ in GOOD}


# --------------------------------------------------------------------------------------------
# every reader of a run folder uses the same definition


def _run_folder(folder: Path, demo: Any, rows: list[dict[str, Any]], **config: Any) -> Path:
    return write_run(folder, {**run_config(demo, "echo"), **config}, rows)


def test_report_compare_merge_and_resume_refuse_the_same_bad_record(
    tmp_path: Path, demo: Any
) -> None:
    vid = demo.video_ids[0]
    bad = [{"video_id": vid, "sample": "0", "actions": []}]
    run = _run_folder(tmp_path / "run", demo, bad)
    where = f"{run / 'predictions.jsonl'}:1: sample: must be an integer, got '0'"
    for read in (
        lambda: write_reports(run, html=False, plots=False),
        lambda: compare_runs([run, run]),
        lambda: recover_predictions(run / "predictions.jsonl"),
        lambda: read_predictions(run / "predictions.jsonl"),
    ):
        with pytest.raises(DataError) as info:
            read()
        assert where in str(info.value)
    shard = _run_folder(tmp_path / "shard", demo, bad, shard="1/1")
    with pytest.raises(DataError) as merged:
        merge_runs([shard], tmp_path / "merged", html=False)
    assert where.replace(str(run), str(shard)) in str(merged.value)
    assert not (tmp_path / "merged").exists()


# --------------------------------------------------------------------------------------------
# resume's two safeguards


def test_resume_drops_repeated_records_keeping_the_first_success(tmp_path: Path) -> None:
    path = tmp_path / "predictions.jsonl"
    first = {"video_id": "a", "sample": 0, "actions": ACT}
    rows = [
        {"video_id": "a", "sample": 0, "actions": [], "error": "boom"},  # failed: retried
        first,
        {"video_id": "a", "actions": []},  # the same (video, sample): sample absent = 0
        {"video_id": "b", "sample": None, "actions": []},  # null sample = 0 on resume too
        {"video_id": "b", "sample": 0, "actions": ACT},
    ]
    _lines(path, rows)
    log: list[str] = []
    kept = recover_predictions(path, log=log.append)
    assert [r.key for r in kept] == [("a", 0), ("b", 0)]
    assert kept[0].to_json() == first
    assert [json.loads(line) for line in path.read_text().splitlines()] == [
        first,
        {"video_id": "b", "sample": 0, "actions": []},
    ]
    assert parse_predictions(path)  # what is left reads as a valid prediction file
    assert log == [f"{path}: dropped 0 torn last line(s) and 2 repeated record(s)"]


def test_resume_gives_a_last_line_its_newline_before_appending(tmp_path: Path) -> None:
    path = tmp_path / "predictions.jsonl"
    a = {"video_id": "a", "sample": 0, "actions": ACT}
    path.write_text(json.dumps(a), encoding="utf-8")  # complete record, newline not written
    assert [r.to_json() for r in recover_predictions(path)] == [a]
    assert path.read_text(encoding="utf-8").endswith("\n")
    writer = PredictionWriter(path)
    writer.write({"video_id": "b", "sample": 0, "actions": []})
    writer.close()
    assert [r.key for r in read_predictions(path)] == [("a", 0), ("b", 0)]


def test_resume_drops_a_torn_last_line_but_refuses_damage_elsewhere(tmp_path: Path) -> None:
    path = tmp_path / "predictions.jsonl"
    good = json.dumps({"video_id": "a", "actions": []})
    path.write_text(good + "\n" + '{"video_id": "b", "act', encoding="utf-8")
    assert [r.key for r in recover_predictions(path)] == [("a", 0)]
    assert path.read_text(encoding="utf-8") == good + "\n"
    path.write_text('{"video_id": "b", "act\n' + good + "\n", encoding="utf-8")
    with pytest.raises(DataError, match=f"{path}:1: invalid JSON"):
        recover_predictions(path)


def test_resume_with_repeated_and_unterminated_lines_ends_in_a_clean_run(tmp_path: Path) -> None:
    """End to end: a run folder whose predictions hold a repeated record and end without a
    newline resumes to one valid record per video."""
    from visualact_env.runner import EvalConfig, run_eval

    config = EvalConfig(agent="oracle", out=tmp_path / "run", limit=3, progress=False)
    out = run_eval(config)
    path = out / "predictions.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines()
    path.write_text(lines[0] + "\n" + lines[0] + "\n" + lines[1], encoding="utf-8")
    run_eval(replace(config, resume=True))
    records = read_predictions(path)
    assert sorted(r.key for r in records) == sorted(
        (json.loads(line)["video_id"], 0) for line in lines
    )
    assert read_summary(out)["status"] == "complete"


# --------------------------------------------------------------------------------------------
# format versions, status


def test_records_of_another_format_version_are_refused_by_name(tmp_path: Path, demo: Any) -> None:
    run = _run_folder(tmp_path / "run", demo, [], format_version=2, status="complete")
    with pytest.raises(RecordVersionError) as info:
        load_config(run)
    message = str(info.value)
    assert f"{run / 'config.json'}: format_version: format_version 2 is not supported" in message
    assert "reads format_version 1" in message and "newer visualact" in message
    (run / "summary.json").write_text(json.dumps({"format_version": 7, "figures": []}))
    with pytest.raises(RecordVersionError, match="summary.json: format_version: format_version 7"):
        read_summary(run)


def test_run_folders_from_before_versioning_read_as_version_0(tmp_path: Path, demo: Any) -> None:
    legacy = run_config(demo, "echo")
    assert "format_version" not in legacy and "status" not in legacy
    run = _run_folder(tmp_path / "run", demo, [{"video_id": demo.video_ids[0], "actions": []}])
    assert load_config(run) == legacy
    from visualact_env.rundir import read_config_record

    record = read_config_record(run)
    assert record.format_version == 0 and record.status is None
    # rewriting an old config brings it to the current version (status required from then on)
    write_config(run, {**legacy, "status": "incomplete"})
    assert load_config(run)["format_version"] == FORMAT_VERSION
    with pytest.raises(DataError, match="c.json: status: missing"):
        validate_record(RunConfigRecord, {**legacy, "format_version": 1}, "c.json")


def test_writers_refuse_records_they_could_not_read_back(tmp_path: Path, demo: Any) -> None:
    writer = PredictionWriter(tmp_path / "predictions.jsonl")
    with pytest.raises(DataError, match="actions: missing"):
        writer.write({"video_id": "a", "sample": 0})
    writer.close()
    assert (tmp_path / "predictions.jsonl").read_text() == ""
    with pytest.raises(DataError, match="status: must be"):
        write_config(tmp_path, {**run_config(demo, "x"), "status": "done"})


@pytest.mark.parametrize(
    ("answered", "failed", "shard", "expected"),
    [
        (3, 0, None, ("complete", None)),
        (2, 1, None, ("incomplete", "1 failed, 0 missing of 3")),
        (2, 0, None, ("incomplete", "0 failed, 1 missing of 3")),
        (3, 0, "1/2", ("incomplete", "shard 1/2 of a run (combine the shards with visualact merge)")),
        (0, 3, None, ("failed", "nothing answered: 3 failed, 0 missing of 3")),
        (0, 0, None, ("failed", "nothing answered: 0 failed, 3 missing of 3")),
    ],
)  # fmt: skip
def test_completion_status(
    answered: int, failed: int, shard: str | None, expected: tuple[str, str | None]
) -> None:
    ids = ["a", "b", "c"]
    records = [PredictionRecord(video_id=v, actions=[]) for v in ids[:answered]]
    records += [PredictionRecord(video_id=v, error="x") for v in ids[answered:][:failed]]
    assert completion_status([(v, 0) for v in ids], records, shard) == expected


def test_the_environment_path_does_not_import_pydantic() -> None:
    """pydantic (about 0.2 s to import) stays out of the environment's modules and the CLI's
    start-up; the commands import it when they read or write run records."""
    import subprocess
    import sys

    modules = "visualact_env.envs, visualact_env.metric, visualact_env.parsing, visualact_env.loading, visualact_env.datasets, visualact_env.runner, visualact_env.cli"
    code = f"import sys, {modules}; print('pydantic' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_run_folder_doc_is_current_and_its_examples_are_valid(tmp_path: Path) -> None:
    from visualact_env import run_folder_doc

    assert run_folder_doc.DOC_PATH.read_text(encoding="utf-8") == run_folder_doc.render(), (
        "docs/run-folder.md is stale: run python -m visualact_env.run_folder_doc"
    )
    assert run_folder_doc.main(["--check"]) == 0
    stale = tmp_path / "run-folder.md"
    stale.write_text(run_folder_doc.render().replace("integer", "int"), encoding="utf-8")
    assert run_folder_doc.main([str(stale), "--check"]) == 1
    for example in run_folder_doc.EXAMPLE_PREDICTIONS:
        record, problems = check_prediction(example, "docs/run-folder.md", None)
        assert record is not None, problems


@pytest.mark.parametrize(
    ("exc", "raised", "status", "reason"),
    [
        (RuntimeError("boom"), RuntimeError, "failed", "RuntimeError: boom"),
        (KeyboardInterrupt(), KeyboardInterrupt, "incomplete", "interrupted (finish it with"),
        (OSError(28, "No space left on device"), RunError, "incomplete", "stopped: No space"),
    ],
    ids=["fatal", "interrupt", "disk-full"],
)
def test_a_run_that_stops_records_why(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    exc: BaseException,
    raised: type[BaseException],
    status: str,
    reason: str,
) -> None:
    """A fatal error ends a run as failed; an interrupt or a full disk (both resumable) as
    incomplete; the error still raises."""
    from visualact_env.runner import EvalConfig, run_eval

    def broken(self: Any, row: Any) -> None:
        raise exc

    monkeypatch.setattr(PredictionWriter, "write", broken)
    out = tmp_path / "run"
    with pytest.raises(raised):
        run_eval(EvalConfig(agent="oracle", out=out, limit=2, progress=False))
    config = load_config(out)
    assert config["status"] == status and config["status_reason"].startswith(reason)
    assert config["finished"]

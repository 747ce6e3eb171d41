"""``visualact merge``: bad shard files are clear errors, partial shards are refused, and a merge
that fails leaves ``--out`` as it was."""

from __future__ import annotations

import errno
import json
import os
import shutil
from pathlib import Path

import pytest

from visualact_env.cli import main
from visualact_env.errors import DataError
from visualact_env.merge import merge_runs
from visualact_env.rundir import RunError
from visualact_env.runner import EvalConfig, run_eval


@pytest.fixture(scope="module")
def made_shards(tmp_path_factory) -> list[Path]:
    root = tmp_path_factory.mktemp("shards")
    return [
        run_eval(EvalConfig(agent="oracle", out=root / f"shard{i}", shard=(i, 2), progress=False,
                            reports=False), log=lambda _: None)
        for i in (1, 2)
    ]  # fmt: skip


@pytest.fixture
def shards(made_shards, tmp_path) -> list[Path]:
    """Fresh copies of the two shards of one oracle run (8 videos each)."""
    return [Path(shutil.copytree(s, tmp_path / s.name)) for s in made_shards]


def _merge_cli(capsys, *args: str) -> tuple[int, str]:
    code = main(["merge", *args, "--no-html"])
    return code, capsys.readouterr().err


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines(keepends=True)


def _first_id(shard: Path) -> str:
    return json.loads(_lines(shard / "predictions.jsonl")[0])["video_id"]


def _edit_first_record(path: Path, edit) -> None:
    lines = _lines(path)
    row = json.loads(lines[0])
    edit(row)
    lines[0] = json.dumps(row) + "\n"
    path.write_text("".join(lines))


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        (lambda sh: (sh[0] / "config.json").write_text("[1, 2]\n"),
         "config.json: must be a JSON object, got list"),
        (lambda sh: (sh[0] / "config.json").write_text('{"data":\n'),
         "config.json:2: invalid JSON"),
        (lambda sh: (sh[0] / "config.json").write_text('{"tau": 0.5, "data": [], "shard": "1/2"}'),
         "config.json: data: must be a JSON object, got []"),
        (lambda sh: _edit_first_record(sh[0] / "predictions.jsonl", lambda r: r.pop("video_id")),
         "predictions.jsonl:1: video_id:"),
        (lambda sh: _edit_first_record(sh[0] / "predictions.jsonl", lambda r: r.update(sample="x")),
         "predictions.jsonl:1: sample:"),
        (lambda sh: _edit_first_record(sh[0] / "predictions.jsonl",
                                       lambda r: r.update(video_id=_first_id(sh[1]))),
         "predictions.jsonl:1: video_id: 'OTHER' is not one of the videos of shard 1/2"),
    ],
    ids=["list-config", "malformed-config", "data-not-object", "no-video_id", "bad-sample",
         "video-of-another-shard"],
)  # fmt: skip
def test_a_bad_shard_file_is_an_error_naming_file_line_and_field(
    shards, tmp_path, capsys, damage, expected
):
    """Regression: a list-valued or malformed config.json and a row without video_id raised
    AttributeError, JSONDecodeError and KeyError tracebacks."""
    expected = expected.replace("OTHER", _first_id(shards[1]))
    damage(shards)
    out = tmp_path / "merged"
    code, err = _merge_cli(capsys, *map(str, shards), "--out", str(out))
    assert code == 2
    assert expected in err and str(shards[0]) in err, err
    assert not out.exists()


def test_an_empty_or_incomplete_shard_is_refused_unless_partial_merges_are_allowed(
    shards, tmp_path, capsys
):
    """Regression: an empty shard merged silently, its videos counted as missing."""
    out = tmp_path / "merged"
    predictions = shards[0] / "predictions.jsonl"
    lines = _lines(predictions)
    predictions.write_text("")
    code, err = _merge_cli(capsys, *map(str, shards), "--out", str(out))
    assert code == 2 and f"shard 1/2 in {shards[0]} has no predictions" in err, err
    assert "--allow-partial" in err and f"--out {shards[0]} --resume" in err
    predictions.unlink()
    assert _merge_cli(capsys, *map(str, shards), "--out", str(out))[0] == 2

    predictions.write_text("".join(lines[:3] + lines[4:]))
    dropped = json.loads(lines[3])["video_id"]
    code, err = _merge_cli(capsys, *map(str, shards), "--out", str(out))
    assert code == 2 and f"is incomplete: 1 of 8 records missing ({dropped})" in err, err
    assert not out.exists()

    code, err = _merge_cli(capsys, *map(str, shards), "--out", str(out), "--allow-partial")
    assert code == 0, err
    summary = json.loads((out / "summary.json").read_text())
    assert summary["counts"]["missing"] == 1 and summary["missing"] == [dropped]


def test_a_cut_off_last_record_names_the_resume_command(shards, tmp_path, capsys):
    predictions = shards[1] / "predictions.jsonl"
    predictions.write_text(predictions.read_text() + '{"video_id": "home_')
    code, err = _merge_cli(capsys, *map(str, shards), "--out", str(tmp_path / "merged"))
    assert code == 2 and "predictions.jsonl:9: the last record is cut off" in err, err
    assert f"--out {shards[1]} --resume" in err


def _fail_writing(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    """Make the report writer's write of ``name`` fail as a full disk does (late in a merge:
    config, predictions, scores, summary and plots are written before report.md)."""
    from visualact_env.report import summary

    real = summary.atomic_write_text

    def write(path, text):
        if Path(path).name == name:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        return real(path, text)

    monkeypatch.setattr(summary, "atomic_write_text", write)


def _tree(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def test_a_merge_that_fails_late_leaves_out_as_it_was(shards, tmp_path, monkeypatch):
    """Regression: config.json, predictions.jsonl, scores.jsonl and summary.json of a failed
    merge were left in --out (and an --overwrite had already destroyed the run there)."""
    dest = tmp_path / "dest"
    fresh = dest / "fresh"
    _fail_writing(monkeypatch, "report.md")
    with pytest.raises(OSError, match="No space left"):
        merge_runs(shards, fresh, html=False)
    assert not fresh.exists()
    assert sorted(p.name for p in dest.iterdir()) == []  # no build folder left behind

    monkeypatch.undo()
    existing = dest / "existing"
    merge_runs(shards[:1], existing, html=False, allow_partial=True)
    before = _tree(existing)
    assert json.loads((existing / "summary.json").read_text())["counts"]["missing"] == 8
    _fail_writing(monkeypatch, "report.md")
    with pytest.raises(OSError, match="No space left"):
        merge_runs(shards, existing, html=False, overwrite=True)
    assert _tree(existing) == before
    assert sorted(p.name for p in dest.iterdir()) == ["existing"]

    monkeypatch.undo()
    merge_runs(shards, existing, html=False, overwrite=True)
    summary = json.loads((existing / "summary.json").read_text())
    assert summary["counts"] == {**summary["counts"], "missing": 0, "scored": 16}
    assert summary["run_dir"] == str(existing)  # not the folder it was built in
    assert sorted(p.name for p in dest.iterdir()) == ["existing"]


def test_merge_refuses_no_shards_and_a_run_folder_that_is_not_a_shard(tmp_path, capsys):
    whole = run_eval(
        EvalConfig(agent="empty", out=tmp_path / "whole", limit=2, progress=False, reports=False),
        log=lambda _: None,
    )
    with pytest.raises(RunError, match="is not a shard"):
        merge_runs([whole], tmp_path / "merged")
    with pytest.raises(DataError, match="config.json missing"):
        merge_runs([tmp_path], tmp_path / "merged")

"""Merging the shard folders of a run (``visualact eval --shard I/N``) into one run folder.

Every shard is read and checked before anything is written: its ``config.json`` (a clear error
naming the file and field), its predictions (the rules of ``visualact score``, naming file, line
and field), that the shards are parts of one run, and that each is complete (every video of its
part, every sample) unless ``allow_partial``. The merged run is then built in a temporary sibling
of ``--out`` and moved into place only when it is whole, so a merge that fails at any point
leaves ``--out`` as it was.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import DataError, Problem
from .jsonio import write_jsonl
from .records import Benchmark
from .rundir import (
    CONFIG_FILE,
    LOCK_FILE,
    PREDICTIONS_FILE,
    RunError,
    completion_status,
    config_mismatch,
    load_config,
    order_predictions,
    parse_shard,
    run_benchmark,
    write_config,
)

MISSING_SHOWN = 5


@dataclass
class Shard:
    """One shard folder, read and checked."""

    folder: Path
    config: dict[str, Any]
    benchmark: Benchmark
    rows: list[Any]  # run_records.PredictionRecord


def _problem(file: Path, line: int | None, field: str | None, message: str) -> DataError:
    return DataError([Problem(str(file), line, field, message)])


def _benchmark(folder: Path, config: dict[str, Any]) -> Benchmark:
    """The shard's own videos, from its config (a clear error naming the field when unusable)."""
    # the fields' types were checked by load_config (run_records.RunConfigRecord)
    if not config.get("shard"):
        raise RunError(f"{folder} is not a shard (it was run without --shard)")
    try:
        return run_benchmark(config)
    except (KeyError, TypeError, AttributeError, ValueError) as e:
        raise _problem(folder / CONFIG_FILE, None, "data", f"unusable: {e}") from None


def _read_shard(folder: Path) -> Shard:
    """A shard's config, videos and prediction records, every one checked."""
    from .loading import iter_prediction_records

    config = load_config(folder)
    benchmark = _benchmark(folder, config)
    rows: list[Any] = []
    path = folder / PREDICTIONS_FILE
    if not path.exists():
        return Shard(folder, config, benchmark, rows)
    if not path.read_bytes().endswith(b"\n") and path.stat().st_size:
        lines = path.read_bytes().count(b"\n") + 1
        raise RunError(
            f"{path}:{lines}: the last record is cut off (the shard was interrupted); "
            f"finish it with `visualact eval ... --out {folder} --resume` first"
        )
    # the rules of `visualact score` (run_records): file, line and field named; a repeated
    # (video, sample) is an error there already
    problems: list[Problem] = []
    records = list(iter_prediction_records(path, problems))
    if problems:
        raise DataError(problems)
    for line, record in records:
        if record.video_id not in benchmark:
            raise _problem(
                path, line, "video_id",
                f"{record.video_id!r} is not one of the videos of shard {config['shard']} of "
                "this run",
            )  # fmt: skip
        rows.append(record)
    return Shard(folder, config, benchmark, rows)


def _missing(shard: Shard) -> list[tuple[str, int]]:
    samples = int(shard.config.get("samples") or 1)
    done = {r.key for r in shard.rows}
    return [
        (r.video_id, k)
        for r in shard.benchmark.records
        for k in range(samples)
        if (r.video_id, k) not in done
    ]


def _check_complete(shard: Shard) -> None:
    missing = _missing(shard)
    if not missing:
        return
    expected = len(shard.benchmark) * int(shard.config.get("samples") or 1)
    shown = ", ".join(f"{v}" + (f" (sample {k})" if k else "") for v, k in missing[:MISSING_SHOWN])
    more = " ..." if len(missing) > MISSING_SHOWN else ""
    what = "has no predictions" if not shard.rows else f"is incomplete: {len(missing)} of " \
        f"{expected} records missing ({shown}{more})"  # fmt: skip
    raise RunError(
        f"shard {shard.config['shard']} in {shard.folder} {what}; finish it with `visualact "
        f"eval ... --out {shard.folder} --resume`, or pass --allow-partial to merge anyway "
        "(its missing videos then count as missing)"
    )


def _check_parts(shards: Sequence[Shard], allow_partial: bool) -> None:
    first = shards[0]
    counts = set()
    indices: dict[int, Path] = {}
    for shard in shards:
        diffs = config_mismatch(first.config, shard.config, ignore=("shard",))
        if diffs:
            raise RunError(
                f"{shard.folder} does not belong with {first.folder}:\n  " + "\n  ".join(diffs)
            )
        index, count = parse_shard(shard.config["shard"])
        counts.add(count)
        if index in indices:
            raise RunError(f"{shard.folder} and {indices[index]} are both shard {index}/{count}")
        indices[index] = shard.folder
    if len(counts) != 1:
        raise RunError(f"the shards come from different splits: N = {sorted(counts)}")
    count = counts.pop()
    missing = sorted(set(range(1, count + 1)) - set(indices))
    if missing and not allow_partial:
        raise RunError(
            f"shard(s) {missing} of {count} are missing (pass --allow-partial to merge anyway)"
        )
    if not allow_partial:
        for shard in shards:
            _check_complete(shard)


def _move_into_place(built: Path, out: Path) -> None:
    """Replace ``out``'s run (not its lock) with the folder ``built``; undone on failure.

    ``config.json`` moves last: until it is there, ``out`` is not a run folder at all.
    """
    old = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.replaced-"))
    moved_old: list[str] = []
    moved_new: list[str] = []
    names = sorted(p.name for p in built.iterdir() if p.name != LOCK_FILE)
    names.sort(key=lambda n: n == CONFIG_FILE)
    try:
        for entry in sorted(out.iterdir(), key=lambda p: p.name != CONFIG_FILE):
            if entry.name != LOCK_FILE:  # the config first: no longer a run from here on
                os.replace(entry, old / entry.name)
                moved_old.append(entry.name)
        for name in names:
            os.replace(built / name, out / name)
            moved_new.append(name)
    except BaseException:
        for name in moved_new:
            with contextlib.suppress(OSError):
                _remove(out / name)
        for name in reversed(moved_old):
            with contextlib.suppress(OSError):
                os.replace(old / name, out / name)
        raise
    finally:
        shutil.rmtree(old, ignore_errors=True)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()


def merge_runs(
    shards: Sequence[Path],
    out: Path,
    *,
    allow_partial: bool = False,
    html: bool = True,
    overwrite: bool = False,
) -> Path:
    """Check that ``shards`` are parts of one run, combine them into ``out`` and write reports.

    ``out`` may not be one of the shards, and an existing run in ``out`` is replaced only with
    ``overwrite=True``. An empty or incomplete shard is refused unless ``allow_partial``. The
    merged run is built aside and moved into ``out`` whole: a failure leaves ``out`` as it was.
    """
    from .report import write_reports
    from .runlock import RunLock

    out = Path(out)
    if not shards:
        raise RunError("no shard folders given")
    for folder in shards:
        if out.resolve() == Path(folder).resolve():
            raise RunError(f"--out {out} is one of the shards; choose another folder")
    if (out / CONFIG_FILE).exists() and not overwrite:
        raise RunError(
            f"{out} already holds a run; pass --overwrite to replace it or choose another --out"
        )
    parts = [_read_shard(Path(s)) for s in shards]
    _check_parts(parts, allow_partial)

    merged: list[Any] = []
    seen: dict[tuple[str, int], Path] = {}
    for part in parts:
        for row in part.rows:
            key = row.key
            if key in seen:
                raise RunError(
                    f"{key[0]} (sample {key[1]}) appears in both {seen[key]} and {part.folder}"
                )
            seen[key] = part.folder
            merged.append(row)

    config = dict(parts[0].config)
    config["shard"] = None
    config["merged_from"] = [str(p.folder.resolve()) for p in parts]
    benchmark = run_benchmark(config)
    samples = int(config.get("samples") or 1)
    expected = [(v, k) for v in benchmark.video_ids for k in range(samples)]
    status, reason = completion_status(expected, merged)
    config.update(status=status, status_reason=reason)

    with RunLock(out):  # refused while another process writes there
        if (out / CONFIG_FILE).exists() and not overwrite:
            raise RunError(f"{out} already holds a run; pass --overwrite to replace it")
        built = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.merging-"))
        try:
            write_config(built, config)
            write_jsonl(built / PREDICTIONS_FILE, [r.to_json() for r in merged])
            order_predictions(built / PREDICTIONS_FILE, list(benchmark.records))
            write_reports(built, benchmark, html=html, final_dir=out)
            _move_into_place(built, out)
        finally:
            shutil.rmtree(built, ignore_errors=True)
    return out

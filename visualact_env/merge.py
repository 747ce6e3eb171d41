"""Merging the shard folders of a run (``visualact eval --shard I/N``) into one run folder."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .cache import atomic_write_text
from .loading import read_jsonl, write_jsonl
from .rundir import (
    CONFIG_FILE,
    PREDICTIONS_FILE,
    RunError,
    config_mismatch,
    order_predictions,
    parse_shard,
    run_benchmark,
)


def _read_run(folder: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    config_path = folder / CONFIG_FILE
    if not config_path.is_file():
        raise RunError(f"{folder} is not a run folder (no {CONFIG_FILE})")
    config = json.loads(config_path.read_text(encoding="utf-8"))
    rows = []
    pred_path = folder / PREDICTIONS_FILE
    if pred_path.exists():
        for lineno, row, err in read_jsonl(pred_path):
            if err:
                raise RunError(
                    f"{pred_path}:{lineno}: torn record; finish the shard with --resume first"
                )
            rows.append(row)
    return config, rows


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
    ``overwrite=True``.
    """
    out = Path(out)
    runs = [(Path(s), *_read_run(Path(s))) for s in shards]
    for folder, _, _ in runs:
        if out.resolve() == folder.resolve():
            raise RunError(f"--out {out} is one of the shards; choose another folder")
    if (out / CONFIG_FILE).exists() and not overwrite:
        raise RunError(
            f"{out} already holds a run; pass --overwrite to replace it or choose another --out"
        )
    first_dir, first, _ = runs[0]
    counts = set()
    indices: dict[int, Path] = {}
    for folder, config, _ in runs:
        diffs = config_mismatch(first, config, ignore=("shard",))
        if diffs:
            raise RunError(f"{folder} does not belong with {first_dir}:\n  " + "\n  ".join(diffs))
        if not config.get("shard"):
            raise RunError(f"{folder} is not a shard (it was run without --shard)")
        index, count = parse_shard(config["shard"])
        counts.add(count)
        if index in indices:
            raise RunError(f"{folder} and {indices[index]} are both shard {index}/{count}")
        indices[index] = folder
    if len(counts) != 1:
        raise RunError(f"the shards come from different splits: N = {sorted(counts)}")
    count = counts.pop()
    missing = sorted(set(range(1, count + 1)) - set(indices))
    if missing and not allow_partial:
        raise RunError(
            f"shard(s) {missing} of {count} are missing (pass --allow-partial to merge anyway)"
        )

    seen: dict[tuple[str, int], Path] = {}
    merged: list[dict[str, Any]] = []
    for folder, _, rows in runs:
        for row in rows:
            key = (row["video_id"], int(row.get("sample", 0)))
            if key in seen:
                raise RunError(
                    f"{key[0]} (sample {key[1]}) appears in both {seen[key]} and {folder}"
                )
            seen[key] = folder
            merged.append(row)

    config = dict(first)
    config["shard"] = None
    config["merged_from"] = [str(f.resolve()) for f, _, _ in runs]
    from .runlock import RunLock

    with RunLock(out):  # refused while another process writes there
        if (out / CONFIG_FILE).exists() and not overwrite:
            raise RunError(f"{out} already holds a run; pass --overwrite to replace it")
        atomic_write_text(out / CONFIG_FILE, json.dumps(config, indent=2, sort_keys=True) + "\n")
        write_jsonl(out / PREDICTIONS_FILE, merged)
        benchmark = run_benchmark(config)
        order_predictions(out / PREDICTIONS_FILE, list(benchmark.records))

        from .report import write_reports

        write_reports(out, benchmark, html=html)
    return out

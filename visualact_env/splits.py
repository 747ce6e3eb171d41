"""Train/validation splits without leakage: stratified by scenario, balanced in APL, recorded.

:func:`split_benchmark` assigns each video to ``train`` or ``val``: within each scenario, videos
are grouped by their highest ground-truth APL (the level a video is "about"), and each group gives
``val`` its share by largest remainders, so that every scenario and, as far as the counts allow,
every APL level has the same validation fraction. The choice inside a group is a seeded
permutation of the videos sorted by id, so the split depends on the seed and the content only,
never on the order of records in the file.

:func:`write_split` writes ``train.jsonl`` and ``val.jsonl`` (native annotation files that load
with ``--data DIR/train.jsonl``; the clips are reached through links to the original folder)
and ``split.json``: the seed, the fraction, the source benchmark's fingerprint, each part's
fingerprint, video ids and counts. Training commands record the ids they trained on in the
checkpoint (:data:`TRAINED_ON_FILE`), and ``visualact eval`` checks an ``hf:`` checkpoint's
record against the videos it evaluates (:func:`overlap_with_training`).
"""

from __future__ import annotations

import json
import os
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import jsonio
from .cache import atomic_write_text
from .errors import DataError, Problem
from .records import Benchmark, VideoRecord

SPLIT_FILE = "split.json"
TRAINED_ON_FILE = "visualact_trained_on.json"
"""Written into every checkpoint folder by the training commands: the video ids trained on."""


@dataclass(frozen=True)
class Split:
    """A benchmark cut in two: the video ids of each part, in the benchmark's order."""

    train: tuple[str, ...]
    val: tuple[str, ...]
    seed: int
    val_fraction: float


def _level(record: VideoRecord) -> int:
    return max((a.apl for a in record.actions if a.apl is not None), default=0)


def largest_remainder(sizes: dict[Any, int], total: int) -> dict[Any, int]:
    """Share ``total`` among groups in proportion to ``sizes`` (Hamilton's method, stable)."""
    whole = sum(sizes.values())
    if whole == 0:
        return {k: 0 for k in sizes}
    exact = {k: total * n / whole for k, n in sizes.items()}
    out = {k: int(v) for k, v in exact.items()}
    rest = total - sum(out.values())
    for k in sorted(sizes, key=lambda k: (-(exact[k] - out[k]), str(k)))[:rest]:
        out[k] += 1
    return out


def split_benchmark(benchmark: Benchmark, val_fraction: float, seed: int = 0) -> Split:
    """Split ``benchmark`` into train and validation video ids (see the module docstring).

    Every scenario with at least two videos keeps at least one video on each side.
    """
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must be between 0 and 1 (exclusive), got {val_fraction}")
    rng = np.random.default_rng(seed)
    by_scenario: dict[str, list[VideoRecord]] = defaultdict(list)
    for record in sorted(benchmark, key=lambda r: r.video_id):
        by_scenario[record.scenario].append(record)
    val: set[str] = set()
    for scenario in sorted(by_scenario):
        records = by_scenario[scenario]
        want = round(len(records) * val_fraction)
        if len(records) >= 2:
            want = min(max(want, 1), len(records) - 1)
        groups: dict[int, list[VideoRecord]] = defaultdict(list)
        for record in records:
            groups[_level(record)].append(record)
        shares = largest_remainder({lvl: len(g) for lvl, g in groups.items()}, want)
        for lvl in sorted(groups):
            order = rng.permutation(len(groups[lvl]))
            val.update(groups[lvl][i].video_id for i in order[: shares[lvl]])
    ids = benchmark.video_ids
    return Split(
        train=tuple(v for v in ids if v not in val),
        val=tuple(v for v in ids if v in val),
        seed=seed,
        val_fraction=val_fraction,
    )


def _counts(benchmark: Benchmark) -> dict[str, Any]:
    return {
        "videos": len(benchmark),
        "actions": benchmark.num_actions,
        "scenarios": dict(sorted(Counter(r.scenario for r in benchmark).items())),
        "apl": {
            str(k): v
            for k, v in sorted(Counter(a.apl for r in benchmark for a in r.actions).items())
        },
    }


def _link_clips(benchmark: Benchmark, out: Path) -> None:
    """Make ``out`` reach every clip by the same relative path as the source folder does."""
    root = benchmark.path.parent.resolve() if benchmark.path else Path(".").resolve()
    if root == out.resolve():
        return
    for top in sorted({Path(r.video).parts[0] for r in benchmark}):
        link = out / top
        target = root / top
        if link.is_symlink() and Path(os.readlink(link)) == target:
            continue
        if link.exists() or link.is_symlink():
            raise FileExistsError(f"{link} exists and is not a link to {target}")
        link.symlink_to(target, target_is_directory=target.is_dir())


def _write_part(benchmark: Benchmark, ids: Sequence[str], path: Path) -> Benchmark:
    part = benchmark.subset(video_ids=ids)
    lines = "".join(json.dumps(r.to_dict(), ensure_ascii=False) + "\n" for r in part)
    atomic_write_text(path, lines)
    return part


def write_split(benchmark: Benchmark, split: Split, out: str | os.PathLike[str]) -> Path:
    """Write ``train.jsonl``, ``val.jsonl`` and ``split.json`` into ``out``; return ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    _link_clips(benchmark, out)
    parts = {
        name: _write_part(benchmark, ids, out / f"{name}.jsonl")
        for name, ids in (("train", split.train), ("val", split.val))
    }
    record = {
        "source": {"name": benchmark.name, "fingerprint": benchmark.fingerprint},
        "seed": split.seed,
        "val_fraction": split.val_fraction,
        "stratified_by": ["scenario", "max_apl"],
        **{
            name: {
                "file": f"{name}.jsonl",
                "fingerprint": part.fingerprint,
                **_counts(part),
                "video_ids": list(part.video_ids),
            }
            for name, part in parts.items()
        },
    }
    atomic_write_text(out / SPLIT_FILE, json.dumps(record, indent=2, ensure_ascii=False) + "\n")
    return out


def record_trained_on(
    checkpoint: str | os.PathLike[str], video_ids: Iterable[str], data: str, fingerprint: str
) -> Path:
    """Write :data:`TRAINED_ON_FILE` into a checkpoint folder (union with any earlier record).

    A checkpoint fine-tuned from another keeps its parent's ids too when the parent's record is
    passed on by the caller (:func:`trained_on` of the base model).
    """
    path = Path(checkpoint) / TRAINED_ON_FILE
    ids = set(video_ids) | set(trained_on(checkpoint) or ())
    record = {"video_ids": sorted(ids), "data": data, "fingerprint": fingerprint}
    atomic_write_text(path, json.dumps(record, indent=2, ensure_ascii=False) + "\n")
    return path


def trained_on(checkpoint: str | os.PathLike[str]) -> list[str] | None:
    """The video ids a checkpoint folder says it was trained on, or ``None`` if it says nothing."""
    path = Path(checkpoint) / TRAINED_ON_FILE
    if not path.is_file():
        return None
    data = jsonio.read_json(path, what="training record")
    ids = data.get("video_ids") if isinstance(data, dict) else None
    if not isinstance(ids, list) or not all(isinstance(v, str) for v in ids):
        raise DataError([Problem(str(path), None, "video_ids", "must be a list of strings")])
    return ids


def overlap_with_training(agent_spec: str, video_ids: Iterable[str]) -> list[str]:
    """Video ids that an ``hf:PATH`` agent's checkpoint was trained on and that are evaluated."""
    name, _, arg = agent_spec.partition(":")
    if name != "hf" or not arg:
        return []
    if not Path(arg).is_dir():
        return []
    seen = trained_on(arg)
    if not seen:
        return []
    return sorted(set(seen) & set(video_ids))

"""The run folder: its layout, and reading and writing what it holds.

A run folder, written by :mod:`visualact_env.runner` (or :mod:`visualact_env.merge`) and read by
the reports, ``compare``, ``sweep`` and training, holds:

* ``config.json``: everything that determines the result (agent config, prompt, sampler,
  embedder, tau, dataset fingerprint, selection, samples, seed, shard) plus provenance
  (package versions, git commit, start time) that does not;
* ``predictions.jsonl``: one record per (video, sample), appended and flushed as each finishes;
* ``parts/predictions.rank{R}.jsonl``: under a distributed launch, the records of process R
  (:mod:`visualact_env.distributed`), folded into ``predictions.jsonl`` when the launch ends
  and when a run is resumed (:func:`fold_parts`);
* ``summary.json``, ``scores.jsonl``, ``report.md``, ``report.html``, ``plots/``: written by
  :func:`visualact_env.report.write_reports` when the run is complete;
* ``stopped.json``: why the run stopped early at a limit (``--max-cost``, ``--max-total-tokens``,
  ``--max-failures``), until a resumed run goes on;
* ``.lock``: the lock file a writer holds (see :class:`visualact_env.runlock.RunLock`).

This module owns that layout and the benchmark a run used (:func:`run_benchmark`), so that the
runner and the reports both depend on it and not on each other.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import jsonio
from .errors import DataError, Problem
from .jsonio import write_jsonl
from .records import Benchmark, VideoRecord

if TYPE_CHECKING:
    from .run_records import PredictionRecord, RunConfigRecord, RunStatus

CONFIG_FILE = "config.json"
PREDICTIONS_FILE = "predictions.jsonl"
SUMMARY_FILE = "summary.json"
SCORES_FILE = "scores.jsonl"
SAMPLES_FILE = "samples.jsonl"
REPORT_MD = "report.md"
REPORT_HTML = "report.html"
PLOTS_DIR = "plots"
LOCK_FILE = ".lock"
STOP_FILE = "stopped.json"
"""Written when a run stopped early at a limit (``--max-cost`` ...); removed when it resumes."""
PARTS_DIR = "parts"

IDENTITY_KEYS = (
    "agent",
    "sampler",
    "embedder",
    "tau",
    "data",
    "selection",
    "samples",
    "seed",
    "shard",
)
"""Config keys that must match for ``--resume`` and ``merge`` (provenance keys need not)."""


class RunError(RuntimeError):
    """A run cannot start or continue (config mismatch, existing folder, bad shard, busy)."""


# ---------------------------------------------------------------------------------------------
# Identity and selection


def identity(config: dict[str, Any]) -> dict[str, Any]:
    """The part of a run config that determines its result."""
    return {k: config.get(k) for k in IDENTITY_KEYS}


def config_mismatch(a: dict[str, Any], b: dict[str, Any], ignore: Sequence[str] = ()) -> list[str]:
    """Human-readable differences between two run configs' identities."""
    diffs = []
    for key in IDENTITY_KEYS:
        if key in ignore:
            continue
        if a.get(key) != b.get(key):
            left = json.dumps(a.get(key), sort_keys=True)
            right = json.dumps(b.get(key), sort_keys=True)
            diffs.append(f"{key}: {left} != {right}")
    return diffs


def check_shard(index: int, count: int) -> None:
    """``RunError`` unless ``1 <= index <= count``."""
    if not (count >= 1 and 1 <= index <= count):
        raise RunError(f"invalid shard {index}/{count}: expected I/N with 1 <= I <= N")


def parse_shard(text: str) -> tuple[int, int]:
    """``"2/4"`` -> ``(2, 4)``."""
    try:
        a, b = text.split("/")
        shard = int(a), int(b)
    except (ValueError, AttributeError):
        raise RunError(f"invalid shard {text!r}: expected I/N, e.g. 1/4") from None
    check_shard(*shard)
    return shard


LIMIT_RULES = ("stratified", "first")
"""How ``--limit N`` picks videos: ``stratified`` (the default, see :func:`stratified_limit`)
or ``first`` (the first N in file order: runs made before the stratified rule record none)."""


def scenario_choices() -> str:
    """The accepted scenario spellings for help texts and errors: abbreviations, then ids."""
    from .scenario_names import SCENARIO_ABBREVIATIONS

    return (
        ", ".join(SCENARIO_ABBREVIATIONS.values())
        + " (or "
        + ", ".join(SCENARIO_ABBREVIATIONS)
        + ")"
    )


def normalize_scenarios(values: Sequence[str]) -> tuple[str, ...]:
    """Scenario ids from any spelling of the paper (``DN``, ``HS.``, ``"Home Service"``, the
    ids); ``RunError`` naming the valid values for anything else. Order kept, repeats dropped."""
    from .scenario_names import read_scenario

    out: list[str] = []
    unknown = []
    for value in values:
        sid = read_scenario(value, strict=True)
        if sid is None:
            unknown.append(value)
        elif sid not in out:
            out.append(sid)
    if unknown:
        raise RunError(
            f"unknown scenario(s) {', '.join(map(repr, unknown))}; choose from {scenario_choices()}"
        )
    return tuple(out)


def _spread_key(video_id: str) -> str:
    """A fixed pseudo-random order of video ids (their SHA-256), independent of file order."""
    import hashlib

    return hashlib.sha256(video_id.encode("utf-8")).hexdigest()


def stratified_limit(records: Sequence[VideoRecord], limit: int) -> list[VideoRecord]:
    """``limit`` videos spread over the scenarios in proportion to their sizes.

    Each scenario present gets one video first (when ``limit`` allows), the rest is shared in
    proportion to the scenarios' remaining sizes by largest remainders (ties: scenario id).
    Inside a scenario the videos are taken in the order of the SHA-256 of their ids, so the
    choice depends on the content only, never on the order of the records in the file. The
    result keeps the input order.
    """
    from .splits import largest_remainder

    if limit >= len(records):
        return list(records)
    groups: dict[str, list[VideoRecord]] = {}
    for record in sorted(records, key=lambda r: (_spread_key(r.video_id), r.video_id)):
        groups.setdefault(record.scenario, []).append(record)
    base = dict.fromkeys(groups, 1) if limit >= len(groups) else dict.fromkeys(groups, 0)
    rest = largest_remainder(
        {sc: len(g) - base[sc] for sc, g in groups.items()}, limit - sum(base.values())
    )
    chosen = {r.video_id for sc, g in groups.items() for r in g[: base[sc] + rest[sc]]}
    return [r for r in records if r.video_id in chosen]


def select_videos(
    benchmark: Benchmark,
    scenarios: Sequence[str] = (),
    limit: int | None = None,
    shard: tuple[int, int] | None = None,
    limit_rule: str = "stratified",
) -> list[VideoRecord]:
    """The videos of a run: scenario filter, then ``limit`` (by ``limit_rule``, see
    :data:`LIMIT_RULES`), then the shard's part."""
    if limit_rule not in LIMIT_RULES:
        raise RunError(f"unknown limit rule {limit_rule!r}; expected one of {LIMIT_RULES}")
    try:
        records = list(benchmark.subset(normalize_scenarios(scenarios) or None).records)
    except ValueError as e:
        raise RunError(str(e)) from e
    if limit is not None:
        records = records[:limit] if limit_rule == "first" else stratified_limit(records, limit)
    if shard is not None:
        index, count = shard
        check_shard(index, count)
        records = records[index - 1 :: count]
    return records


def run_benchmark(run_config: dict[str, Any]) -> Benchmark:
    """The benchmark a run was scored on: its data, selection and shard, from its config.

    Used to rebuild reports, merge shards and compare runs; refuses data whose fingerprint
    differs from the one recorded when the run started.
    """
    from .datasets import load_benchmark

    data = run_config["data"]
    spec = data.get("spec") or data.get("path") or data["name"]
    if spec not in ("demo", "synthetic-full") and data.get("path"):
        spec = data["path"]
    benchmark = load_benchmark(spec, check_videos=False)
    if benchmark.fingerprint != data["fingerprint"]:
        raise RunError(
            f"the data at {spec!r} has fingerprint {benchmark.fingerprint}, but the run was made on "
            f"{data['fingerprint']}: the annotations changed since the run"
        )
    selection = run_config.get("selection") or {}
    shard = run_config.get("shard")
    records = select_videos(
        benchmark,
        tuple(selection.get("scenarios") or ()),
        selection.get("limit"),
        parse_shard(shard) if shard else None,
        # runs made before the stratified rule recorded none: they took the first N
        selection.get("limit_rule", "first"),
    )
    return benchmark.subset(video_ids=[r.video_id for r in records])


# ---------------------------------------------------------------------------------------------
# config.json and summary.json (typed records: visualact_env.run_records)


def _read_record(path: Path, model: Any) -> tuple[Any, dict[str, Any]]:
    """A JSON record file checked against ``model``: the typed record and the file's object as
    read (key order kept); a DataError naming file and field."""
    from .run_records import validate_record

    value = jsonio.read_json(path)
    return validate_record(model, value, str(path)), value


def _write_record(path: Path, model: Any, record: Mapping[str, Any], **kwargs: Any) -> Path:
    """Check ``record`` against ``model`` (current format version) and write it atomically."""
    from .run_records import FORMAT_VERSION, validate_record

    data = {"format_version": FORMAT_VERSION}  # first, and the current version even when
    data.update((k, v) for k, v in record.items() if k != "format_version")  # rewriting old
    validate_record(model, data, str(path))
    return jsonio.write_json(path, data, **kwargs)


def _config_path(run_dir: str | os.PathLike[str]) -> Path:
    """The run folder's ``config.json``; a :class:`DataError` when folder or file is missing."""
    path = Path(run_dir) / CONFIG_FILE
    if not Path(run_dir).is_dir():
        raise DataError([Problem(str(run_dir), None, None, "run folder not found")])
    if not path.is_file():
        raise DataError([Problem(str(path), None, None, "not a run folder: config.json missing")])
    return path


def read_config_record(run_dir: str | os.PathLike[str]) -> RunConfigRecord:
    """``config.json`` of a run folder as a typed record; a :class:`DataError` naming the file
    (and field) when missing or unusable, a ``RecordVersionError`` for another format version."""
    from .run_records import RunConfigRecord

    return _read_record(_config_path(run_dir), RunConfigRecord)[0]


def load_config(run_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """``config.json`` of a run folder, checked like :func:`read_config_record`, as the dict
    it holds."""
    from .run_records import RunConfigRecord

    return _read_record(_config_path(run_dir), RunConfigRecord)[1]


def write_config(run_dir: str | os.PathLike[str], config: Mapping[str, Any]) -> Path:
    """Check and write ``config.json`` atomically (``status`` defaults to ``running``)."""
    from .run_records import RunConfigRecord

    record = {"status": "running", **config}
    return _write_record(Path(run_dir) / CONFIG_FILE, RunConfigRecord, record, sort_keys=True)


def set_status(
    run_dir: str | os.PathLike[str], status: RunStatus, reason: str | None = None
) -> dict[str, Any]:
    """Record a run's status (and why it is not complete) in its ``config.json``; a final
    status also records the ``finished`` time. Returns the config written."""
    config = load_config(run_dir)
    config.update(status=status, status_reason=reason)
    if status != "running":
        config["finished"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    write_config(run_dir, config)
    return config


def completion_status(
    expected: Iterable[tuple[str, int]], predictions: Iterable[Any], shard: str | None = None
) -> tuple[RunStatus, str | None]:
    """A run's final status and the reason when not complete.

    ``expected`` holds the (video, sample) keys the run was asked for, ``predictions`` its
    records (anything with ``video_id``, ``sample`` and ``failed``). ``complete``: every key
    answered; ``failed``: none answered; ``incomplete``: some failed or missing, or the run is
    one shard of a larger one.
    """
    wanted = set(expected)
    answered: set[tuple[str, int]] = set()
    failed: set[tuple[str, int]] = set()
    for p in predictions:
        key = (p.video_id, int(p.sample or 0))
        (failed if p.failed else answered).add(key)
    answered &= wanted
    failed = (failed & wanted) - answered
    missing = wanted - answered - failed
    counts = f"{len(failed)} failed, {len(missing)} missing of {len(wanted)}"
    if not answered:
        return "failed", f"nothing answered: {counts}"
    reasons = [counts] if failed or missing else []
    if shard:
        reasons.append(f"shard {shard} of a run (combine the shards with visualact merge)")
    return ("incomplete", "; ".join(reasons)) if reasons else ("complete", None)


def read_summary(run_dir: str | os.PathLike[str]) -> dict[str, Any] | None:
    """``summary.json`` of a run folder, checked, or None when there is none yet."""
    from .run_records import RunSummaryRecord

    path = Path(run_dir) / SUMMARY_FILE
    if not path.is_file():
        return None
    return _read_record(path, RunSummaryRecord)[1]


def write_summary(run_dir: str | os.PathLike[str], summary: Mapping[str, Any]) -> Path:
    """Check and write ``summary.json`` atomically."""
    from .run_records import RunSummaryRecord

    return _write_record(Path(run_dir) / SUMMARY_FILE, RunSummaryRecord, summary)


def write_stop(run_dir: str | os.PathLike[str], info: dict[str, Any]) -> Path:
    """Record why the run stopped early (``stopped.json``, atomically)."""
    return jsonio.write_json(Path(run_dir) / STOP_FILE, info)


def _read_json_object(path: Path) -> dict[str, Any]:
    """A JSON object file; a :class:`DataError` naming the file (and line) when unusable."""
    value = jsonio.read_json(path)
    if not isinstance(value, dict):
        kind = type(value).__name__
        raise DataError([Problem(str(path), None, None, f"must hold a JSON object, got {kind}")])
    return value


def read_stop(run_dir: str | os.PathLike[str]) -> dict[str, Any] | None:
    """Why the run stopped early, or None when it did not (or resumed since)."""
    path = Path(run_dir) / STOP_FILE
    return _read_json_object(path) if path.is_file() else None


def clear_stop(run_dir: str | os.PathLike[str]) -> None:
    """Forget an early stop (the run is going on)."""
    (Path(run_dir) / STOP_FILE).unlink(missing_ok=True)


# ---------------------------------------------------------------------------------------------
# predictions.jsonl


def read_predictions(path: Path) -> list[PredictionRecord]:
    """Every record of a predictions file, checked (one definition:
    :func:`visualact_env.loading.iter_prediction_records`); a :class:`DataError` listing every
    problem (a torn line, a bad field, a repeated (video, sample))."""
    from .loading import iter_prediction_records

    problems: list[Problem] = []
    records = [record for _, record in iter_prediction_records(path, problems)]
    if problems:
        raise DataError(problems)
    return records


def recover_predictions(
    path: Path, log: Callable[[str], None] | None = None
) -> list[PredictionRecord]:
    """The finished records of a possibly torn predictions file, for ``--resume``.

    Two safeguards make a resumed run append cleanly after what is kept:

    * a torn last line (a write cut by a crash) is dropped and its video redone, and a last
      line without its newline gets one, so the next record does not join it;
    * failed records (retried) and repeated (video, sample) records (the first success is
      kept) are dropped.

    The file is then rewritten atomically with the kept records. Any other unreadable line or
    invalid record is a :class:`DataError` naming file, line and field: never dropped silently.
    """
    from .run_records import check_prediction

    if not path.exists():
        return []
    data = path.read_bytes()
    file = str(path)
    lines = data.split(b"\n")
    kept: list[PredictionRecord] = []
    problems: list[Problem] = []
    seen: set[tuple[str, int]] = set()
    torn = failed = repeated = 0
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            obj = jsonio.loads(line, file=file, line=lineno)
        except DataError as e:
            if lineno == len(lines):  # the last line, without newline: a cut write
                torn += 1
                continue
            problems.extend(e.problems)
            continue
        record, found = check_prediction(obj, file, lineno)
        if record is None:
            problems.extend(found)
        elif record.failed:
            failed += 1
        elif record.key in seen:
            repeated += 1
        else:
            seen.add(record.key)
            kept.append(record)
    if problems:
        raise DataError(problems)
    if torn or failed or repeated or (data and not data.endswith(b"\n")):
        write_jsonl(path, [r.to_json() for r in kept])
    if log is not None and (torn or repeated):
        log(f"{path}: dropped {torn} torn last line(s) and {repeated} repeated record(s)")
    return kept


class PredictionWriter:
    """Appends prediction records (checked, current format version), flushed and synced one
    by one."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._f = open(path, "a", encoding="utf-8")  # noqa: SIM115 - closed in close()

    def write(self, row: Mapping[str, Any]) -> None:
        from .run_records import FORMAT_VERSION, PredictionRecord, validate_record

        record = validate_record(
            PredictionRecord, {"format_version": FORMAT_VERSION, **row}, str(self.path)
        )
        self._f.write(jsonio.dumps(record.to_json()) + "\n")
        self._f.flush()
        os.fsync(self._f.fileno())

    def close(self) -> None:
        self._f.close()


def part_path(run_dir: Path, rank: int) -> Path:
    """Where process ``rank`` of a distributed launch appends its records."""
    return Path(run_dir) / PARTS_DIR / f"predictions.rank{rank}.jsonl"


def _complete_records(path: Path) -> list[PredictionRecord]:
    """The records of a possibly torn part file: an unreadable line (a write cut by a crash)
    is dropped and its video redone; a readable line that is not a valid prediction record is
    a :class:`DataError` naming file, line and field."""
    from .run_records import check_prediction

    records: list[PredictionRecord] = []
    problems: list[Problem] = []
    for lineno, obj, err in jsonio.iter_jsonl(path):
        if err is not None:
            continue
        record, found = check_prediction(obj, str(path), lineno)
        if record is None:
            problems.extend(found)
        else:
            records.append(record)
    if problems:
        raise DataError(problems)
    return records


def fold_parts(run_dir: Path) -> int:
    """Fold the per-process record files of a distributed launch into ``predictions.jsonl``.

    One record per (video, sample) is kept; a successful record wins over a failed one (a
    failure retried by a later launch). ``predictions.jsonl`` is replaced atomically before the
    parts are removed, so a crash in between only leaves duplicates that the next fold drops.
    Returns the number of part files folded (0: nothing to do).
    """
    parts_dir = Path(run_dir) / PARTS_DIR
    parts = sorted(parts_dir.glob("predictions.rank*.jsonl")) if parts_dir.is_dir() else []
    if not parts:
        return 0
    main = Path(run_dir) / PREDICTIONS_FILE
    kept: dict[tuple[str, int], PredictionRecord] = {}
    for path in [main, *parts]:
        if not path.exists():
            continue
        for record in _complete_records(path):
            old = kept.get(record.key)
            if old is None or (old.failed and not record.failed):
                kept[record.key] = record
    write_jsonl(main, [r.to_json() for r in kept.values()])
    for path in parts:
        path.unlink()
    return len(parts)


def order_predictions(path: Path, records: Sequence[VideoRecord]) -> None:
    """Rewrite the finished predictions file in benchmark order, then by sample."""
    rows = read_predictions(path)
    position = {r.video_id: i for i, r in enumerate(records)}
    rows.sort(key=lambda r: (position.get(r.video_id, len(position)), r.key[1]))
    write_jsonl(path, [r.to_json() for r in rows])

"""Convert the released VisualActBench JSON (schema undocumented) into the native format.

The Hugging Face dataset ``Proactive-LMM/VisualActBench`` ships ``visualactbench.json`` and a
``videos/`` folder. Its JSON layout is documented nowhere readable, so the import is done the
way a careful person would treat an unknown file, in three visible steps:

1. **Where the records are** (:mod:`.import_layout`): lists of records, dicts keyed by video id
   (holding a record or the action list itself), column-wise parallel arrays, wrappers and
   scenario groups (keys such as ``"Home Service"``, ``"DN."``, ``home_service``), composed at
   any depth.
2. **Which field is which** (:mod:`.import_fields`): chosen over all records; every choice
   made by a heuristic is named, with the ``--map TARGET=SOURCE`` that pins or overrides it.
   Two keys that could both be a field and disagree are refused with the candidates listed.
3. **Conversion**: clip paths (a path-like field wins over the id; an id is looked up by file
   stem anywhere under the videos folder; extensions are added; an ambiguous name is an error
   naming both files, :mod:`.clip_index`), scenario spellings (:mod:`.scenario_names`), and
   APL/proactive values and inline markers read with the one vocabulary
   (:mod:`.vocabulary`, strict reading).

:func:`plan_import` does all of this and writes nothing (``visualact data import --dry-run``
prints :func:`format_plan`: layout, fields, the first converted records and the counts beside
the published ones). :func:`import_release` then writes ``annotations.jsonl`` through a
temporary file that must load with :func:`visualact_env.loading.parse_annotations` before it
replaces anything: a failed import never destroys a good file.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from . import jsonio
from .clip_index import VIDEO_EXTENSIONS, ClipIndex
from .import_fields import (
    TARGETS,
    Converted,
    FieldAmbiguity,
    Fields,
    convert_all,
    infer_fields,
    walk_path,
)
from .import_layout import Layout, LayoutAmbiguity, find_records, scenario_field
from .limits import MAX_IMPORT_STRING_CHARS, oversized_string
from .loading import DataError, Problem, parse_annotations, write_jsonl
from .records import Action, Benchmark, VideoRecord
from .scenario_names import read_scenario
from .vocabulary import apl_strict, proactive_strict, split_markers

__all__ = [
    "REPO_ID",
    "RELEASE_JSON",
    "VIDEO_EXTENSIONS",
    "DownloadError",
    "ImportFormatError",
    "ImportPlan",
    "ImportResult",
    "download",
    "find_release_json",
    "format_plan",
    "import_release",
    "parse_field_map",
    "plan_import",
]

REPO_ID = "Proactive-LMM/VisualActBench"
RELEASE_JSON = "visualactbench.json"
MAP_TARGETS = ("records", *TARGETS)
KEY_SOURCE = "@key"
"""Field-map value meaning "the key this record was stored under" (dict keyed by video id)."""
SHOWN_RECORDS = 3


class ImportFormatError(DataError):
    """The release file's layout could not be understood; the message says how to map it."""

    def __init__(self, file: str, message: str):
        self.problems = [Problem(file, None, None, message)]
        ValueError.__init__(self, f"{file}: {message}")


class DownloadError(DataError):
    """The dataset could not be fetched from the Hugging Face hub."""

    def __init__(self, message: str):
        self.problems = [Problem(REPO_ID, None, None, message)]
        ValueError.__init__(self, message)


@dataclass
class ImportPlan:
    """Everything an import found, before anything is written."""

    json_path: Path
    layout: Layout
    fields: Fields
    converted: Converted
    records_source: str
    records_heuristic: bool
    videos_dir: Path | None
    clip_count: int | None
    out_dir: Path
    prefix: str
    link: Path | None = None

    @property
    def problems(self) -> list[Problem]:
        return [Problem(str(self.json_path), None, w, m) for w, m in self.converted.problems]

    def benchmark(self) -> Benchmark:
        """The converted records as a benchmark (not validated against the clips)."""
        return Benchmark(
            records=tuple(
                VideoRecord(
                    r["video_id"],
                    r["video"],
                    r["scenario"],
                    tuple(Action(**a) for a in r["actions"]),
                    r.get("source"),
                )  # fmt: skip
                for r in self.converted.records
            ),
            name=str(self.json_path),
        )

    def map_args(self, heuristic_only: bool = True) -> list[str]:
        """``--map`` arguments that pin the choices (by default only the heuristic ones)."""
        out = []
        if self.records_heuristic or not heuristic_only:
            out.append(f"records={self.records_source}")
        for target in TARGETS:
            c = self.fields.choices.get(target)
            if c and c.source and (c.heuristic or not heuristic_only):
                out.append(f"{target}={c.source}")
        return out


@dataclass
class ImportResult:
    """What an import wrote and found: the loaded benchmark and the fields it used."""

    annotation_path: Path
    benchmark: Benchmark
    detected: dict[str, str]
    warnings: list[str] = field(default_factory=list)
    plan: ImportPlan | None = None


# --- field maps --------------------------------------------------------------------------------


def parse_field_map(items: Sequence[str] | None) -> dict[str, str]:
    """Parse ``["video_id=clip_name", "actions.apl=prio"]`` into ``{target: source path}``."""
    out: dict[str, str] = {}
    for item in items or ():
        target, sep, source = item.partition("=")
        target, source = target.strip(), source.strip()
        if not sep or not target or not source:
            raise ValueError(f"--map {item!r}: expected TARGET=SOURCE, e.g. video_id=clip_name")
        if target not in MAP_TARGETS:
            raise ValueError(
                f"--map {item!r}: unknown target {target!r}; choose from {list(MAP_TARGETS)}"
            )
        out[target] = source
    return out


# --- value readers (the vocabulary's strict reading; kept for callers and tests) ---------------


def normalize_scenario(value: Any) -> str | None:
    """``"Dynamic Navigation"``, ``"dynamic-navigation"``, ``"HMI"``, ``"DN."`` -> an id or None."""
    return read_scenario(value)


def normalize_apl(value: Any) -> int | None:
    """``3``, ``"APL 3"``, ``"Level 3"``, ``"P3"``, ``"urgent"`` -> the level, else None (strict)."""
    return apl_strict(value)


def normalize_proactive(value: Any, source: str | None = None) -> bool | None:
    """``True``, ``"proactive"``, ``"non-proactive"``, ``1``... -> bool; a reactive field inverts."""
    invert = source is not None and "reactive" in source.lower()
    return proactive_strict(value, invert=invert)


_LIST_PREFIX = re.compile(r"^\s*(?:\d+[.)]|[-*\u2022])\s+")


def parse_action_string(text: str) -> tuple[str, int | None, bool | None]:
    """Split ``"Call 911 (APL 4, proactive)"`` or ``"[APL 2] Close the door"`` into parts."""
    text, markers = split_markers(_LIST_PREFIX.sub("", text))
    return (
        re.sub(r"\s+", " ", text).strip(" -:;,"),
        apl_strict(markers.apl),
        proactive_strict(markers.proactive),
    )


# --- the plan ----------------------------------------------------------------------------------


def _describe(value: Any, width: int = 60) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= width else text[: width - 3] + "..."


def _shape_help(data: Any, file: str, what: str, first: Mapping[str, Any] | None = None,
                missing: Sequence[str] = ()) -> ImportFormatError:  # fmt: skip
    """The helpful failure: what was found and how to pass ``--map``."""
    lines = [f"could not detect {what}."]
    if isinstance(data, Mapping):
        keys = list(data)[:12]
        lines.append(
            f"Top level: an object with {len(data)} keys: "
            + ", ".join(f"{k!r}: {_describe(data[k], 40)}" for k in keys)
        )
    elif isinstance(data, list):
        lines.append(
            f"Top level: a list of {len(data)} items; first: {_describe(data[0] if data else None)}"
        )
    else:
        lines.append(f"Top level: {type(data).__name__} {_describe(data)}")
    if first is not None:
        lines.append("First record's keys (example values):")
        lines += [f"  {k}: {_describe(v)}" for k, v in list(first.items())[:20]]
    if missing:
        maps = " ".join(f"--map {t}=<key>" for t in missing)
        lines.append(f"Pass the missing field(s): visualact data import {file} {maps}")
    lines.append(
        "Name the fields with --map TARGET=SOURCE (SOURCE is a key or dotted path; @key is the "
        "key a record is stored under), e.g.:\n"
        f"  visualact data import {file} --map records=data --map video_id=clip_name "
        "--map video=clip_path --map scenario=category --map actions=labels "
        "--map actions.text=sentence --map actions.apl=prio --map actions.proactive=kind\n"
        f"Targets: {', '.join(MAP_TARGETS)}"
    )
    return ImportFormatError(file, "\n".join(lines))


def _locate(data: Any, fmap: Mapping[str, str], file: str) -> tuple[Layout, str, bool]:
    """The records' layout, the ``records`` source to report, and whether it was a guess."""
    if "records" in fmap:
        layouts = []
        for path in fmap["records"].split(","):
            path = path.strip()
            try:
                steps: Sequence[tuple[str | None, Any]] = (
                    walk_path(data, path) if path not in ("", ".", "$") else [(None, data)]
                )
            except KeyError:
                raise _shape_help(data, file, f"the records at --map records={path}") from None
            node = steps[-1][1]
            sid, last = _group_on_path(steps)
            try:
                lay = find_records(node, f"$.{path}" if path not in ("", ".", "$") else "$", path)
            except LayoutAmbiguity as e:
                raise _refuse_layout(file, e) from None
            if lay is None:
                raise _shape_help(node, file, f"records at --map records={path}")
            if sid is not None:
                for raw in lay.raws:
                    raw.group, raw.group_label = raw.group or sid, raw.group_label or last
            layouts.append(lay)
        raws = [r for lay in layouts for r in lay.raws]
        layout = Layout(raws, [f"--map records={fmap['records']}", *layouts[0].steps],
                        [fmap["records"]], all(lay.strong for lay in layouts))  # fmt: skip
        return layout, fmap["records"], False
    try:
        found = find_records(data)
    except LayoutAmbiguity as e:
        raise _refuse_layout(file, e) from None
    if found is None:
        first = (
            data[0] if isinstance(data, list) and data and isinstance(data[0], Mapping) else None
        )
        raise _shape_help(data, file, "a list of video records", first)
    source = ",".join(p or "." for p in found.paths) or "."
    return found, source, source != "."


def _group_on_path(steps: Sequence[tuple[str | None, Any]]) -> tuple[str | None, str | None]:
    """The scenario named on the way to the records: a group key or a group object's field."""
    sid: str | None = None
    label: str | None = None
    for key, value in steps:
        if key is not None and not key.isdigit() and (s := read_scenario(key, strict=True)):
            sid, label = s, key
        elif key is not None and key.isdigit() and isinstance(value, Mapping):
            found = scenario_field(value)
            if found is not None:
                sid, label = found
    return sid, label


def _refuse_layout(file: str, e: LayoutAmbiguity) -> ImportFormatError:
    lines = [
        f"refusing to guess where the records are: found under {len(e.candidates)} keys of "
        f"{e.where}:",
        *(f"  {path}: {n} records" for path, n in e.candidates),
        "Choose one of these keys with --map records=..., or read them all with:",
        f"  visualact data import {shlex.quote(file)} --map "
        + shlex.quote("records=" + ",".join(p for p, _ in e.candidates)),
    ]
    return ImportFormatError(file, "\n".join(lines))


def _refuse_field(file: str, e: FieldAmbiguity) -> ImportFormatError:
    lines = [f"refusing to guess the {e.target}: {len(e.candidates)} keys could hold it and "
             "they differ on some records:"]  # fmt: skip
    lines += [f"  {key}: e.g. {example}" for key, example in e.candidates]
    lines.append("Choose one with --map, e.g.:")
    lines += [
        f"  visualact data import {shlex.quote(file)} --map {shlex.quote(f'{e.target}={k}')}"
        for k, _ in e.candidates
    ]
    return ImportFormatError(file, "\n".join(lines))


def plan_import(
    json_path: str | os.PathLike[str],
    out_dir: str | os.PathLike[str] | None = None,
    videos_dir: str | os.PathLike[str] | None = None,
    field_map: Mapping[str, str] | None = None,
    *,
    check_videos: bool = True,
) -> ImportPlan:
    """Detect the layout and fields and convert every record, writing nothing.

    Raises :class:`ImportFormatError` when the layout or a field cannot be detected or is
    ambiguous (the message lists what was found and the ``--map`` to pass). Problems with
    single records are collected in :attr:`ImportPlan.problems`, not raised.
    """
    json_path = Path(json_path)
    file = str(json_path)
    fmap = dict(field_map or {})
    data = _read_json(json_path)
    if found := oversized_string(data):
        where, length = found
        msg = (f"a string of {length:,} characters; the importer reads strings of at most "
               f"{MAX_IMPORT_STRING_CHARS:,} (visualact_env.limits)")  # fmt: skip
        raise DataError([Problem(file, None, where, msg)])
    vdir = Path(videos_dir) if videos_dir else json_path.parent / "videos"
    out = Path(out_dir) if out_dir else vdir.parent
    clips: ClipIndex | None = None
    link: Path | None = None
    prefix = "videos"
    if check_videos:
        clips = ClipIndex(vdir)
        if not len(clips):
            msg = ("no video clips found (pass --videos DIR, or --no-check-videos to convert the "
                   "annotations alone)")  # fmt: skip
            raise DataError([Problem(str(vdir), None, None, msg)])
        prefix, link = _clip_prefix(out, vdir)
    layout, records_source, records_heuristic = _locate(data, fmap, file)
    for i, raw in enumerate(layout.raws):
        raw.index = i
    try:
        fields = infer_fields(layout.raws, fmap, clips)
    except FieldAmbiguity as e:
        raise _refuse_field(file, e) from None
    missing = [t for t in ("actions", "actions.text") if not fields.source(t)]
    if not fields.source("video_id") and not fields.source("video"):
        missing.insert(0, "video_id")
    if missing:
        raise _shape_help(data, file, ", ".join(missing), dict(layout.raws[0].record), missing)
    converted = convert_all(layout.raws, fields, clips, prefix)
    return ImportPlan(json_path, layout, fields, converted, records_source, records_heuristic,
                      vdir if check_videos else None, len(clips) if clips is not None else None,
                      out, prefix, link)  # fmt: skip


_STRUCTURAL = ("@key", "@stem", "@value")


def detected_fields(plan: ImportPlan) -> dict[str, str]:
    """``{target: source}`` of every field actually read (the most used source per target)."""
    out: dict[str, str] = {}
    for entry, _n in plan.converted.used.most_common():
        target, _, source = entry.partition("<-")
        if target in TARGETS:
            out.setdefault(target, source)
    for target, choice in plan.fields.choices.items():
        if choice.source and (not choice.source.startswith("@") or choice.source in _STRUCTURAL):
            out.setdefault(target, choice.source)
    return out


# --- the dry-run report -----------------------------------------------------------------------


def format_plan(plan: ImportPlan) -> str:
    """The ``--dry-run`` report: layout, fields, clips, first records, counts vs published."""
    from .data_stats import compute_stats

    file = str(plan.json_path)
    lines = [f"Dry run: nothing written. {file}", ""]
    lines.append("Layout: " + " -> ".join(plan.layout.steps))
    lines.append(f"Records found: {len(plan.layout.raws)}")
    lines += ["", "Fields (* = chosen by a heuristic; the --map shown pins or overrides it):"]
    mark = "*" if plan.records_heuristic else " "
    why = "where the records were found" if plan.records_heuristic else "given with --map"
    lines.append(f"  {mark} {'records':<18} {plan.records_source:<24} {why}")
    used = plan.converted.used
    for target in TARGETS:
        c = plan.fields.choices[target]
        mark = "*" if c.heuristic else " "
        src = c.source or "-"
        note = c.reason
        if c.alternatives:
            note += f"; also possible: {', '.join(c.alternatives)}"
        lines.append(f"  {mark} {target:<18} {src:<24} {note}")
    read = [f"{e} ({n})" for e, n in sorted(used.items()) if not e.startswith("clip<-")]
    if read:
        lines.append("  read per value: " + ", ".join(read))
    clips = {e[6:]: n for e, n in used.items() if e.startswith("clip<-")}
    if plan.clip_count is not None:
        lines += ["", f"Clips: {plan.clip_count} video files under {plan.videos_dir}; records "
                  "matched " + ", ".join(f"{n} {how}" for how, n in sorted(clips.items()))]  # fmt: skip
    else:
        lines += ["", "Clips: not checked (--no-check-videos)"]
    shown = plan.converted.records[:SHOWN_RECORDS]
    lines += ["", f"First {len(shown)} converted records:"]
    lines += [f"  {json.dumps(r, ensure_ascii=False)}" for r in shown]
    problems = plan.converted.problems
    if problems:
        lines += ["", f"{len(problems)} problems (the records concerned are left out):"]
        lines += [f"  {w}: {m}" for w, m in problems[:20]]
        if len(problems) > 20:
            lines.append(f"  ... and {len(problems) - 20} more")
    lines += ["", *format_counts(compute_stats(plan.benchmark()))]
    pins = plan.map_args()
    if pins:
        lines += ["", "To pin every heuristic choice: visualact data import "
                  f"{shlex.quote(file)} " + " ".join(f"--map {shlex.quote(m)}" for m in pins)]  # fmt: skip
    return "\n".join(lines)


def _observed(rows: list[tuple[str, str, int]], key: str) -> int | None:
    return next((n for _, k, n in rows if k == key), None)


def format_counts(stats: Any) -> list[str]:
    """Counts beside the published ones (paper, section 2.2); ``-`` where the paper is silent."""
    from .data_stats import compare_published
    from .records import SCENARIO_TITLES

    published = {c.key: c.published for c in compare_published(stats)}
    rows: list[tuple[str, str, int]] = [
        ("videos", "num_videos", stats.num_videos),
        ("actions", "num_actions", stats.num_actions),
    ]
    rows += [(f"videos, {SCENARIO_TITLES[s]}", f"videos_per_scenario.{s}", n)
             for s, n in stats.videos_per_scenario.items()]  # fmt: skip
    rows += [(f"actions, {SCENARIO_TITLES[s]}", f"actions_per_scenario.{s}", n)
             for s, n in stats.actions_per_scenario.items()]  # fmt: skip
    rows += [(f"videos at APL {k} (highest action APL)", f"videos_per_apl.{k}", n)
             for k, n in stats.videos_per_apl.items()]  # fmt: skip
    rows += [(f"actions at APL {k}", f"actions_per_apl.{k}", n)
             for k, n in stats.actions_per_apl.items()]  # fmt: skip
    rows += [
        (f"{t} actions", f"actions_per_type.{t}", n) for t, n in stats.actions_per_type.items()
    ]
    lines = [f"Counts {'here':>40} {'published':>10}"]
    differ = 0
    for label, key, n in rows:
        pub = published.get(key)
        flag = ""
        if pub is not None and pub != n:
            differ += 1
            flag = "  differs"
        shown = "-" if pub is None else f"{pub:,}"
        lines.append(f"  {label:<38} {n:>6,} {shown:>10}{flag}")
    apl_only = all(
        k.startswith("videos_per_apl.") for k, p in published.items() if p != _observed(rows, k)
    )
    if differ and apl_only:
        lines.append(
            f"Only the {differ} videos-per-APL counts differ: the paper does not define a video's "
            "APL (here: the highest APL among its actions), so they may differ by definition alone."
        )
    elif differ:
        lines.append(
            f"{differ} of {len(published)} published counts differ: see 'When the counts differ' "
            "in docs/data.md (a partial download, records refused above, or a layout read wrongly)."
        )
    else:
        lines.append("Every published count matches: this looks like the complete release.")
    return lines


# --- the import ----------------------------------------------------------------------------------


def import_release(
    json_path: str | os.PathLike[str],
    out_dir: str | os.PathLike[str] | None = None,
    videos_dir: str | os.PathLike[str] | None = None,
    field_map: Mapping[str, str] | None = None,
    *,
    check_videos: bool = True,
) -> ImportResult:
    """Convert the release JSON into ``<out_dir>/annotations.jsonl`` and load it back.

    ``videos_dir`` defaults to ``videos/`` next to the JSON file and ``out_dir`` to the folder
    holding ``videos_dir``, so clip paths come out as ``videos/<path under it>``. When
    ``out_dir`` is elsewhere a ``videos`` symlink to the clips is created there.
    ``check_videos=False`` converts the annotations without clips (paths become
    ``videos/<file name>``). Any record that cannot be converted fails the whole import with
    every problem listed (:class:`DataError`); nothing is written then.
    """
    plan = plan_import(json_path, out_dir, videos_dir, field_map, check_videos=check_videos)
    if plan.problems:
        raise DataError(plan.problems)
    out = plan.out_dir
    out.mkdir(parents=True, exist_ok=True)
    link = plan.link
    if link is not None:
        link.symlink_to(plan.videos_dir.resolve(), target_is_directory=True)  # type: ignore[union-attr]
    target = out / "annotations.jsonl"
    try:
        bench = _write_validated(target, plan.converted.records, check_videos)
    except BaseException:
        if link is not None:
            link.unlink(missing_ok=True)
        raise
    warnings = [] if check_videos else ["clips not checked: paths assume videos/<file name>"]
    return ImportResult(target, bench, detected_fields(plan), warnings, plan)


def _clip_prefix(out_dir: Path, videos_dir: Path) -> tuple[str, Path | None]:
    """The prefix of clip paths in ``out_dir``'s annotation file, and a link to create if any.

    Clips inside ``out_dir`` are referred to by their relative path. Clips elsewhere are
    reached through a ``videos`` symlink in ``out_dir`` (paths never contain ``..``).
    """
    try:
        rel = os.path.relpath(videos_dir.resolve(), out_dir.resolve())
    except ValueError:  # another drive (Windows)
        rel = ".."
    if rel != ".." and not rel.startswith("../"):
        return ("" if rel == "." else Path(rel).as_posix()), None
    link = out_dir / "videos"
    if link.is_symlink() and link.resolve() == videos_dir.resolve():
        return "videos", None
    if link.exists() or link.is_symlink():
        msg = f"exists and is not a link to {videos_dir}; choose another --out"
        raise DataError([Problem(str(link), None, None, msg)])
    return "videos", link


def _write_validated(target: Path, records: list[dict[str, Any]], check_videos: bool) -> Benchmark:
    """Write ``records`` beside ``target``, validate that file, then move it into place.

    An existing ``target`` is replaced only by a file that loads: a failed import never
    destroys a good annotation file. The temporary file sits in the same folder, so clip paths
    resolve exactly as they will from ``target``.
    """
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write_jsonl(tmp, records)
        bench = parse_annotations(tmp, check_videos=check_videos)
    except DataError as e:  # name the file the user asked for, not the temporary one
        tmp.unlink(missing_ok=True)
        label = f"{target} (converted, not written)"
        raise DataError(
            [replace(p, file=label) if p.file == str(tmp) else p for p in e.problems]
        ) from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, target)
    return Benchmark(records=bench.records, name=str(target), path=target)


def _read_json(path: Path) -> Any:
    """The release file: one JSON document, or JSON Lines (a plausible release format too).

    Read through :mod:`visualact_env.jsonio`, so hostile nesting, lone surrogates, non-UTF-8
    bytes and oversized files are a :class:`DataError` naming the file and line.
    """
    try:
        return jsonio.read_json(path, what="release JSON")
    except DataError:
        rows = _jsonl_rows(path)
        if rows is None:
            raise
        return rows


def _jsonl_rows(path: Path) -> list[Any] | None:
    """The records of a JSON Lines file; None when the file is not one (its first line is not
    a JSON document); a :class:`DataError` naming the line when a later line is unreadable."""
    rows: list[Any] = []
    for line, value, problem in jsonio.iter_jsonl(path):
        if problem is not None:
            if not rows:
                return None
            raise DataError([Problem(str(path), line, None, problem)])
        rows.append(value)
    return rows or None


def find_release_json(folder: Path) -> Path:
    """``visualactbench.json`` in a downloaded folder, or its only top-level JSON file."""
    named = folder / RELEASE_JSON
    if named.is_file():
        return named
    found = sorted(p for p in folder.glob("*.json") if p.is_file())
    if len(found) == 1:
        return found[0]
    listing = (
        ", ".join(p.name for p in sorted(folder.iterdir())[:20]) if folder.is_dir() else "(missing)"
    )
    raise DataError(
        [Problem(str(folder), None, None, f"no {RELEASE_JSON} found; folder holds: {listing}")]
    )


def default_download_dir() -> Path:
    """Where ``visualact data download`` puts the release by default (inside the cache)."""
    from .cache import cache_dir

    return cache_dir("datasets", "visualactbench")


def download(
    dest: str | os.PathLike[str] | None = None,
    *,
    repo_id: str = REPO_ID,
    revision: str | None = None,
    field_map: Mapping[str, str] | None = None,
) -> ImportResult:
    """Fetch the release with ``huggingface_hub.snapshot_download`` and import it.

    Any failure to reach the hub becomes a :class:`DownloadError` saying what happened and how
    to bring the files in by hand; the import then runs exactly as ``visualact data import``.
    """
    dest = Path(dest) if dest else default_download_dir()
    dest.mkdir(parents=True, exist_ok=True)
    try:
        from huggingface_hub import snapshot_download

        snapshot_download(
            repo_id=repo_id, repo_type="dataset", revision=revision, local_dir=str(dest)
        )
    except Exception as e:  # the hub is a boundary: any failure there is reported, not raised raw
        raise DownloadError(_download_help(repo_id, dest, e)) from None
    return import_release(find_release_json(dest), out_dir=dest, field_map=field_map)


def _download_help(repo_id: str, dest: Path, error: Exception) -> str:
    first = (str(error).strip().splitlines() or [""])[0][:300]
    offline = os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on")
    hint = "HF_HUB_OFFLINE is set, so the hub is not contacted. " if offline else ""
    return (
        f"could not download the dataset {repo_id!r} from the Hugging Face hub into {dest}: "
        f"{type(error).__name__}: {first}\n"
        f"{hint}Without network access: on a machine that has it run\n"
        f"  hf download {repo_id} --repo-type dataset --local-dir visualactbench\n"
        "(huggingface_hub < 1.0: huggingface-cli download with the same arguments),\n"
        f"copy that folder here, then run\n"
        f"  visualact data import visualactbench/{RELEASE_JSON}"
    )

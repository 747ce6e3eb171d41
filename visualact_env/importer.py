"""Convert the released VisualActBench JSON (schema undocumented) into the native format.

The Hugging Face dataset ``Proactive-LMM/VisualActBench`` ships ``visualactbench.json`` and a
``videos/`` folder. Its JSON layout is not documented, so :func:`import_release` detects the
likely shape instead of assuming one:

* the records: a top-level list, a dict keyed by video id, a dict holding a ``data`` /
  ``videos`` / ``annotations`` / ... list, or any of these grouped under scenario names;
* per record, the video id and clip path, the scenario in any common spelling and the actions,
  given as objects (``text``/``action``/``description``..., ``apl``/``level``/``priority``...,
  ``proactive``/``type``/``is_proactive``...), as strings such as ``"Call 911 (APL 4,
  proactive)"``, as parallel lists, or grouped under ``proactive``/``reactive`` keys.

Anything it cannot detect can be named with a field map (``--map video_id=clip_name --map
actions.apl=prio``). When detection fails the error shows the keys found (top level and first
record, with example values) and the exact ``--map`` syntax. The result is written as
``annotations.jsonl`` with clip paths relative to its folder and checked by
:func:`visualact_env.loading.parse_annotations`, so a successful import is a loadable benchmark.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .loading import DataError, Problem, parse_annotations, write_jsonl
from .records import SCENARIOS, Benchmark
from .vocabulary import apl_strict, proactive_lenient, proactive_strict, split_markers

REPO_ID = "Proactive-LMM/VisualActBench"
RELEASE_JSON = "visualactbench.json"
VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".flv")

CONTAINER_KEYS = ("data", "videos", "annotations", "items", "records", "samples", "examples",
                  "entries", "rows", "dataset", "clips")  # fmt: skip
CANDIDATES: dict[str, tuple[str, ...]] = {
    "video_id": ("video_id", "videoid", "video_uid", "clip_id", "vid", "id", "uid", "key",
                 "video_name", "name"),
    "video": ("video", "video_path", "video_file", "videopath", "video_name", "file", "filename",
              "file_name", "path", "clip", "clip_path", "url"),
    "scenario": ("scenario", "scenario_type", "scenario_name", "scene", "scene_type", "category",
                 "domain", "class", "task", "setting", "type"),
    "actions": ("actions", "action_list", "annotations", "responses", "answers", "gt_actions",
                "ground_truth", "labels", "gt", "outputs", "action"),
    "source": ("source", "source_dataset", "origin", "dataset"),
    "actions.text": ("text", "action", "description", "content", "response", "answer",
                     "sentence", "label", "name"),
    "actions.apl": ("apl", "APL", "level", "priority", "priority_level", "apl_level",
                    "action_priority_level", "prioritization_level", "scale", "importance"),
    "actions.proactive": ("proactive", "is_proactive", "type", "action_type", "category",
                          "proactivity", "kind", "mode", "reactive", "is_reactive"),
}  # fmt: skip
MAP_TARGETS = ("records", *CANDIDATES)
KEY_SOURCE = "@key"
"""Field-map value meaning "the key this record was stored under" (dict keyed by video id)."""


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
class ImportResult:
    """What an import wrote and found: the loaded benchmark and the fields it used."""

    annotation_path: Path
    benchmark: Benchmark
    detected: dict[str, str]
    warnings: list[str] = field(default_factory=list)


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


def _get_path(obj: Any, path: str) -> Any:
    """Follow a dotted path (``meta.category``, ``labels.0``) through dicts and lists."""
    cur = obj
    for part in path.split("."):
        if isinstance(cur, Mapping) and part in cur:
            cur = cur[part]
        elif isinstance(cur, list) and part.isdigit() and int(part) < len(cur):
            cur = cur[int(part)]
        else:
            raise KeyError(path)
    return cur


def _lookup(
    obj: Mapping[str, Any], target: str, fmap: Mapping[str, str], key: str | None
) -> tuple[str | None, Any]:
    """``(source name, value)`` of ``target`` in ``obj``: the mapped path or the first candidate."""
    if target in fmap:
        source = fmap[target]
        if source == KEY_SOURCE:
            return (source, key) if key is not None else (None, None)
        try:
            return source, _get_path(obj, source)
        except KeyError:
            return None, None
    lowered = {k.lower(): k for k in obj if isinstance(k, str)}
    for cand in CANDIDATES[target]:
        real = cand if cand in obj else lowered.get(cand.lower())
        if real is not None and obj[real] not in (None, ""):
            return real, obj[real]
    return None, None


# --- value normalisation -------------------------------------------------------------------------

_SCENARIO_WORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("human_machine_interaction", ("hmi", "hci", "hri", "machine", "interaction")),
    ("dynamic_navigation", ("navigation", "navigate", "driving", "dn", "dynamic")),
    ("home_service", ("home", "household", "hs", "domestic")),
    ("safety_monitoring", ("safety", "monitoring", "surveillance", "sm", "security", "monitor")),
)


def normalize_scenario(value: Any) -> str | None:
    """``"Dynamic Navigation"``, ``"dynamic-navigation"``, ``"HMI"``... -> a scenario id or None."""
    if not isinstance(value, str):
        return None
    text = re.sub(r"[^a-z0-9]+", " ", value.lower()).strip()
    if text.replace(" ", "_") in SCENARIOS:
        return text.replace(" ", "_")
    words = set(text.split())
    hits = [scenario for scenario, keys in _SCENARIO_WORDS if words & set(keys)]
    return hits[0] if len(hits) == 1 else None


def normalize_apl(value: Any) -> int | None:
    """``3``, ``3.0``, ``"3"``, ``"APL 3"``, ``"Level 3"``, ``"P3"``, ``"urgent"`` -> level, else None.

    The strict reading of :mod:`.vocabulary`: ground truth is never guessed.
    """
    return apl_strict(value)


def normalize_proactive(value: Any, source: str | None = None) -> bool | None:
    """``True``, ``"proactive"``, ``"Reactive"``, ``"non-proactive"``, ``1``... -> bool, else None.

    The strict reading of :mod:`.vocabulary`; a field named ``reactive``/``is_reactive`` inverts.
    """
    invert = bool(source) and "reactive" in source.lower()
    return proactive_strict(value, invert=invert)


def _group_flag(key: str) -> bool | None:
    """The flag a group key such as ``proactive_actions`` or ``non-proactive`` names, or None."""
    return proactive_lenient(key, diagnostics=[])


_LIST_PREFIX = re.compile(r"^\s*(?:\d+[.)]|[-*\u2022])\s+")


def parse_action_string(text: str) -> tuple[str, int | None, bool | None]:
    """Split ``"Call 911 (APL 4, proactive)"`` or ``"[APL 2] Close the door"`` into parts.

    Markers are found by :func:`.vocabulary.split_markers` and read strictly; a marker whose
    value is not a level or flag (``"APL 7"``) is removed from the text and gives None.
    """
    text, markers = split_markers(_LIST_PREFIX.sub("", text))
    apl = apl_strict(markers.apl)
    pro = proactive_strict(markers.proactive)
    return re.sub(r"\s+", " ", text).strip(" -:;,"), apl, pro


# --- records --------------------------------------------------------------------------------------


@dataclass
class _Raw:
    index: int
    record: Mapping[str, Any]
    key: str | None = None
    scenario_hint: str | None = None

    @property
    def where(self) -> str:
        return f"record {self.index}" + (f" (key {self.key!r})" if self.key else "")


def _describe(value: Any, width: int = 60) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= width else text[: width - 3] + "..."


def _shape_help(
    data: Any, file: str, what: str, first: Mapping[str, Any] | None = None,
    missing: Sequence[str] = (),
) -> ImportFormatError:  # fmt: skip
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
        acts = next((v for v in first.values() if isinstance(v, list) and v), None)
        if acts is not None:
            lines.append(f"First list field's first item: {_describe(acts[0], 120)}")
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


def _iter_records(data: Any, fmap: Mapping[str, str], file: str) -> list[_Raw]:
    if "records" in fmap:
        try:
            data = _get_path(data, fmap["records"])
        except KeyError:
            raise _shape_help(
                data, file, f"the records at --map records={fmap['records']}"
            ) from None
    out: list[_Raw] = []
    _collect(data, out, None, 0)
    if not out:
        first = (
            data[0] if isinstance(data, list) and data and isinstance(data[0], Mapping) else None
        )
        raise _shape_help(data, file, "a list of video records", first)
    for i, raw in enumerate(out):
        raw.index = i
    return out


def _grouped_by_scenario(data: Mapping[str, Any]) -> bool:
    """Keys are distinct scenario names and values are groups (not records themselves)."""
    names = {normalize_scenario(k) for k in data}
    if not data or None in names or len(names) != len(data):
        return False
    record_keys = {k.lower() for k in CANDIDATES["actions"]}
    return all(
        isinstance(v, list)
        or (isinstance(v, Mapping) and not record_keys & {str(k).lower() for k in v})
        for v in data.values()
    )


def _collect(data: Any, out: list[_Raw], scenario: str | None, depth: int) -> None:
    """Find records in the common layouts (see the module docstring)."""
    if isinstance(data, list):
        if data and all(isinstance(r, Mapping) for r in data):  # else: not a record list
            out.extend(_Raw(0, r, None, scenario) for r in data)
        return
    if not isinstance(data, Mapping) or depth > 2:
        return
    for key in CONTAINER_KEYS:
        if isinstance(data.get(key), (list, Mapping)) and data[key]:
            before = len(out)
            _collect(data[key], out, scenario, depth + 1)
            if len(out) > before:
                return
    if _grouped_by_scenario(data):
        for key, value in data.items():
            _collect(value, out, normalize_scenario(key), depth + 1)
        return
    values = list(data.values())
    if values and all(isinstance(v, Mapping) for v in values):
        out.extend(_Raw(0, v, str(k), scenario) for k, v in data.items())
    elif values and all(isinstance(v, list) for v in values):
        out.extend(_Raw(0, {"actions": v}, str(k), scenario) for k, v in data.items())


# --- actions ----------------------------------------------------------------------------------------


def _action_items(value: Any) -> list[tuple[Any, bool | None]]:
    """Items of an actions field, with a proactive flag when grouped under proactive/reactive."""
    if isinstance(value, list):
        return [(v, None) for v in value]
    if isinstance(value, str):
        return [(v, None) for v in value.splitlines() if v.strip()]
    if isinstance(value, Mapping):
        out: list[tuple[Any, bool | None]] = []
        for key, items in value.items():
            word = str(key).lower()
            flag = None if "proactive" not in word and "reactive" not in word else _group_flag(word)
            apl = normalize_apl(key) if flag is None else None
            for item in items if isinstance(items, list) else [items]:
                if isinstance(item, str) and apl is not None:
                    item = {"text": item, "apl": apl}
                out.append((item, flag))
        return out
    return []


def _convert_actions(
    raw: _Raw, fmap: Mapping[str, str], used: Counter[str], problems: list[tuple[str, str]]
) -> list[dict[str, Any]]:
    src, value = _lookup(raw.record, "actions", fmap, raw.key)
    if src is None:
        problems.append((raw.where, f"no actions field (tried {list(CANDIDATES['actions'])})"))
        return []
    used[f"actions<-{src}"] += 1
    items = _action_items(value)
    parallel = {t: _lookup(raw.record, t, fmap, None) for t in ("actions.apl", "actions.proactive")}
    out = []
    for j, (item, group_flag) in enumerate(items):
        where = f"{raw.where} actions[{j}]"
        text, apl, pro, apl_src, pro_src = _action_fields(item, fmap, used, where, problems)
        for t, (psrc, pval) in parallel.items():
            if isinstance(pval, list) and len(pval) == len(items) and not isinstance(item, Mapping):
                used[f"{t}<-{psrc} (parallel list)"] += 1
                if t == "actions.apl" and apl is None:
                    apl, apl_src = normalize_apl(pval[j]), f"{psrc}[{j}]={pval[j]!r}"
                elif t == "actions.proactive" and pro is None:
                    pro, pro_src = normalize_proactive(pval[j], psrc), f"{psrc}[{j}]={pval[j]!r}"
        pro = group_flag if pro is None else pro
        if text is None:
            continue
        if apl is not None and apl_src is None:
            used["actions.apl<-(text)"] += 1
        if pro is not None and pro_src is None:
            used[
                "actions.proactive<-(text)"
                if group_flag is None
                else "actions.proactive<-(group key)"
            ] += 1
        if apl is None:
            problems.append((where, _apl_problem(apl_src)))
        if pro is None:
            problems.append((where, _proactive_problem(pro_src)))
        out.append({"text": text, "apl": apl, "proactive": pro})
    return out


def _apl_problem(source: str | None) -> str:
    if source:
        return f"APL {source} is not a level 0..4"
    tried = list(CANDIDATES["actions.apl"])
    return (
        f"no APL found (tried fields {tried} and '(APL n)' in the text; use --map actions.apl=KEY)"
    )


def _proactive_problem(source: str | None) -> str:
    if source:
        return f"proactive/reactive {source} not understood"
    tried = list(CANDIDATES["actions.proactive"])
    return f"no proactive/reactive flag found (tried fields {tried} and '(proactive)' in the text; use --map actions.proactive=KEY)"


def _action_fields(
    item: Any,
    fmap: Mapping[str, str],
    used: Counter[str],
    where: str,
    problems: list[tuple[str, str]],
):
    """``(text, apl, proactive, apl source, proactive source)`` of one action item."""
    if isinstance(item, str):
        text, apl, pro = parse_action_string(item)
        used["actions.text<-(string)"] += 1
        return (text or None), apl, pro, None, None
    if not isinstance(item, Mapping):
        problems.append((where, f"expected an object or a string, got {_describe(item)}"))
        return None, None, None, None, None
    tsrc, text = _lookup(item, "actions.text", fmap, None)
    if not isinstance(text, str) or not text.strip():
        problems.append(
            (
                where,
                f"no action text (tried {list(CANDIDATES['actions.text'])}) in {_describe(item)}",
            )
        )
        return None, None, None, None, None
    used[f"actions.text<-{tsrc}"] += 1
    text, s_apl, s_pro = parse_action_string(text)
    asrc, aval = _lookup(item, "actions.apl", fmap, None)
    psrc, pval = _lookup(item, "actions.proactive", fmap, None)
    apl = normalize_apl(aval) if asrc else s_apl
    pro = normalize_proactive(pval, psrc) if psrc else s_pro
    if asrc:
        used[f"actions.apl<-{asrc}"] += 1
    if psrc:
        used[f"actions.proactive<-{psrc}"] += 1
    apl_src = f"{asrc}={aval!r}" if asrc else None
    pro_src = f"{psrc}={pval!r}" if psrc else None
    return text, apl, pro, apl_src, pro_src


# --- clips --------------------------------------------------------------------------------------------


class _ClipIndex:
    """Every clip under the videos folder, found by relative path, file name or stem."""

    def __init__(self, videos_dir: Path | None):
        self.root = videos_dir
        self.by_rel: dict[str, Path] = {}
        self.by_name: dict[str, list[Path]] = {}
        self.by_stem: dict[str, list[Path]] = {}
        if videos_dir is None or not videos_dir.is_dir():
            return
        for path in sorted(videos_dir.rglob("*")):
            if path.is_file() and path.suffix.lower() in VIDEO_EXTENSIONS:
                self.by_rel[path.relative_to(videos_dir).as_posix()] = path
                self.by_name.setdefault(path.name, []).append(path)
                self.by_stem.setdefault(path.stem, []).append(path)

    def __len__(self) -> int:
        return len(self.by_rel)

    def find(self, ref: str) -> tuple[Path | None, str | None]:
        """The clip for a reference such as ``videos/a.mp4``, ``a.mp4`` or ``a``; or an error."""
        ref = ref.replace("\\", "/").strip()
        parts = [p for p in ref.split("/") if p not in ("", ".")]
        for i in range(len(parts)):
            hit = self.by_rel.get("/".join(parts[i:]))
            if hit:
                return hit, None
        name = parts[-1] if parts else ref
        for table, key in (
            (self.by_name, name),
            (self.by_stem, Path(name).stem),
            (self.by_stem, name),
        ):
            hits = table.get(key, [])
            if len(hits) == 1:
                return hits[0], None
            if len(hits) > 1:
                return (
                    None,
                    f"ambiguous clip {ref!r}: {len(hits)} files named {key!r} under {self.root}",
                )
        return None, f"no clip for {ref!r} under {self.root}"


# --- the import -------------------------------------------------------------------------------------


def convert_records(
    data: Any,
    field_map: Mapping[str, str] | None = None,
    *,
    file: str = "<data>",
    clips: _ClipIndex | None = None,
    video_prefix: str = "videos",
) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """Convert parsed release JSON into native records; returns ``(records, detected fields)``.

    Raises :class:`ImportFormatError` when the layout is not understood and
    :class:`DataError` listing every record that cannot be converted.
    """
    fmap = dict(field_map or {})
    raws = _iter_records(data, fmap, file)
    used: Counter[str] = Counter()
    problems: list[tuple[str, str]] = []
    out = []
    for raw in raws:
        rec = _convert_one(raw, fmap, used, problems, clips, video_prefix)
        if rec is not None:
            out.append(rec)
    _check_detection(data, raws, used, file, problems, converted=len(out))
    if problems:
        raise DataError([Problem(file, None, where, msg) for where, msg in problems])
    detected = {}
    for entry, _count in used.most_common():
        target, _, source = entry.partition("<-")
        detected.setdefault(target, source)
    return out, detected


def _check_detection(
    data: Any, raws: list[_Raw], used: Counter[str], file: str,
    problems: list[tuple[str, str]], converted: int,
) -> None:  # fmt: skip
    """Fail with the layout help when a field was never found or no record converted at all."""
    targets = {e.partition("<-")[0] for e in used}
    missing = [t for t in ("video_id", "scenario", "actions", "actions.text") if t not in targets]
    for target, marker in (("actions.apl", "no APL found"), ("actions.proactive", "no proactive/")):
        if target not in targets and any(m.startswith(marker) for _, m in problems):
            missing.append(target)
    if not missing and converted:
        return
    what = ", ".join(missing) if missing else "usable records"
    err = _shape_help(data, file, what, dict(raws[0].record), missing)
    shown = "\n".join(f"  {w}: {m}" for w, m in problems[:5])
    if shown:
        err = ImportFormatError(file, f"{err.problems[0].message}\nFirst problems:\n{shown}")
    raise err


def _convert_one(raw: _Raw, fmap: Mapping[str, str], used: Counter[str], problems: list[tuple[str, str]],
                 clips: _ClipIndex | None, video_prefix: str) -> dict[str, Any] | None:  # fmt: skip
    rec = raw.record
    id_src, vid = _lookup(rec, "video_id", fmap, raw.key)
    v_src, video = _lookup(rec, "video", fmap, raw.key)
    if id_src is None and raw.key is not None and "video_id" not in fmap:
        id_src, vid = KEY_SOURCE, raw.key
    if isinstance(vid, int) and not isinstance(vid, bool):
        vid = str(vid)
    if not isinstance(video, str):
        video, v_src = (vid, id_src) if isinstance(vid, str) else (None, None)
    if not isinstance(vid, str) and isinstance(video, str):
        vid, id_src = Path(video.replace("\\", "/")).stem, f"{v_src} (file stem)"
    if isinstance(vid, str) and Path(vid).suffix.lower() in VIDEO_EXTENSIONS:
        if not isinstance(video, str):
            video, v_src = vid, id_src
        vid, id_src = Path(vid.replace("\\", "/")).stem, f"{id_src} (file stem)"
    if not isinstance(vid, str) or not vid.strip():
        tried = list(dict.fromkeys(CANDIDATES["video_id"] + CANDIDATES["video"]))
        problems.append((raw.where, f"no video id or clip (tried {tried})"))
        _scenario(raw, fmap, used, "", problems)  # still report what the rest looks like
        _convert_actions(raw, fmap, used, problems)
        return None
    used[f"video_id<-{id_src}"] += 1
    used[f"video<-{v_src}"] += 1
    scenario = _scenario(raw, fmap, used, video, problems)
    path = _clip_path(raw, video, clips, video_prefix, problems)
    actions = _convert_actions(raw, fmap, used, problems)
    if scenario is None or path is None:
        return None
    out: dict[str, Any] = {
        "video_id": vid.strip(),
        "video": path,
        "scenario": scenario,
        "actions": actions,
    }
    s_src, source = _lookup(rec, "source", fmap, None)
    if isinstance(source, str) and s_src:
        out["source"] = source
        used[f"source<-{s_src}"] += 1
    return out


def _scenario(
    raw: _Raw,
    fmap: Mapping[str, str],
    used: Counter[str],
    video: str,
    problems: list[tuple[str, str]],
) -> str | None:
    src, value = _lookup(raw.record, "scenario", fmap, raw.key)
    if src is not None:
        scenario = normalize_scenario(value)
        if scenario:
            used[f"scenario<-{src}"] += 1
            return scenario
        if raw.scenario_hint is None:
            problems.append(
                (
                    raw.where,
                    f"scenario {src}={value!r} not recognised; expected one of {list(SCENARIOS)} in any common spelling",
                )
            )
            return None
    if raw.scenario_hint:
        used["scenario<-(group key)"] += 1
        return raw.scenario_hint
    for part in reversed(Path(video.replace("\\", "/")).parts[:-1]):
        if scenario := normalize_scenario(part):
            used["scenario<-(clip folder)"] += 1
            return scenario
    problems.append(
        (
            raw.where,
            f"no scenario (tried {list(CANDIDATES['scenario'])} and the clip's folder names)",
        )
    )
    return None


def _clip_path(
    raw: _Raw, video: str, clips: _ClipIndex | None, prefix: str, problems: list[tuple[str, str]]
) -> str | None:
    if clips is None:
        name = video.replace("\\", "/").split("/")[-1]
        return f"{prefix}/{name}" if prefix else name
    hit, err = clips.find(video)
    if hit is None:
        problems.append((raw.where, f"{err}"))
        return None
    rel = hit.relative_to(clips.root).as_posix()  # type: ignore[arg-type]
    return f"{prefix}/{rel}" if prefix else rel


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
    holding ``videos_dir``, so clip paths come out as ``videos/<name>``. When ``out_dir`` is
    elsewhere a ``videos`` symlink to the clips is created there. ``check_videos=False``
    converts the annotations without clips (paths become ``videos/<file name>``).
    """
    json_path = Path(json_path)
    file = str(json_path)
    data = _read_json(json_path)
    vdir = Path(videos_dir) if videos_dir else json_path.parent / "videos"
    out = Path(out_dir) if out_dir else vdir.parent
    clips: _ClipIndex | None = None
    if check_videos:
        clips = _ClipIndex(vdir)
        if not len(clips):
            raise DataError(
                [
                    Problem(
                        str(vdir),
                        None,
                        None,
                        "no video clips found (pass --videos DIR, or --no-check-videos to convert the annotations alone)",
                    )
                ]
            )
        prefix, link = _clip_prefix(out, vdir)
    else:
        prefix, link = "videos", None
    records, detected = convert_records(
        data, field_map, file=file, clips=clips, video_prefix=prefix
    )
    out.mkdir(parents=True, exist_ok=True)
    if link is not None:
        link.symlink_to(vdir.resolve(), target_is_directory=True)
    target = out / "annotations.jsonl"
    try:
        bench = _write_validated(target, records, check_videos)
    except BaseException:
        if link is not None:
            link.unlink(missing_ok=True)
        raise
    warnings = [] if check_videos else ["clips not checked: paths assume videos/<file name>"]
    return ImportResult(target, bench, detected, warnings)


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
    if not path.is_file():
        raise DataError([Problem(str(path), None, None, "file not found")])
    try:
        text = path.read_text("utf-8-sig")
    except UnicodeDecodeError as e:
        raise DataError(
            [Problem(str(path), None, None, f"not UTF-8 text (byte {e.start})")]
        ) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        # JSON Lines is a plausible release format too: one record per line.
        rows = _try_jsonl(text)
        if rows is not None:
            return rows
        raise DataError(
            [Problem(str(path), e.lineno, None, f"invalid JSON ({e.msg} at column {e.colno})")]
        ) from None


def _try_jsonl(text: str) -> list[Any] | None:
    rows = []
    for line in text.splitlines():
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                return None
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

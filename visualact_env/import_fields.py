"""Which field of a release record is which, and the conversion of each record.

:func:`infer_fields` looks at *all* records found by :mod:`.import_layout` and chooses, per
target (``video_id``, ``video``, ``scenario``, ``actions``, ``actions.text``,
``actions.apl``, ``actions.proactive``, ``source``), the key that holds it: the native name
when present, else a known synonym or a key whose values read as that target. Each choice is
a :class:`Choice` saying how it was made, so the import report can name every heuristic and
the ``--map`` that pins or overrides it. Two keys that could both be the target and disagree
on some record (``{"action": ..., "description": ...}``) are never resolved by guess:
:class:`FieldAmbiguity` lists them with example values.

Special sources (usable with ``--map`` too): ``@key`` (the key a record is stored under),
``@stem`` (the clip path's file stem), ``@group`` (an enclosing scenario group, or a
proactive/reactive/APL group key of an action dict), ``@folder`` (the clip's folder names),
``@id`` (a scenario abbreviation at the start of the video id, ``DN_0001``), ``@value`` (the
stored value is the action list), ``@item`` (each action is a string), ``@text`` (inline
markers such as ``(APL 4, proactive)`` in the action text), ``A+B`` (actions under two keys,
e.g. ``proactive_actions+reactive_actions``).

Free-text actions (one string per record) are split into numbered or bulleted lines; a line
that is only a heading such as ``Proactive actions:`` or ``APL 3:`` sets the flag or level of
the lines under it. Values are read with the strict reading of :mod:`.vocabulary`.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .clip_index import ClipIndex, clip_stem, is_path_like
from .import_layout import (
    ACTION_KEYS_STRONG,
    ACTION_KEYS_WEAK,
    ID_KEYS,
    PATH_KEYS,
    SCENARIO_KEYS,
    TEXT_KEYS,
    Raw,
    action_like,
    group_marker,
    norm_key,
)
from .scenario_names import SCENARIO_ABBREVIATIONS, read_scenario
from .vocabulary import apl_strict, proactive_strict, read_marker_segment, split_markers

TARGETS = ("video_id", "video", "scenario", "actions", "source", "actions.text", "actions.apl",
           "actions.proactive")  # fmt: skip
NATIVE = {"video_id": "video_id", "video": "video", "scenario": "scenario", "actions": "actions",
          "source": "source", "actions.text": "text", "actions.apl": "apl",
          "actions.proactive": "proactive"}  # fmt: skip
APL_KEYS = ("apl", "apl_level", "level", "priority", "priority_level", "prioritization_level",
            "action_prioritization_level", "action_priority_level", "urgency", "lvl", "prio",
            "levels", "apls", "apl_levels", "priorities", "apl_list")  # fmt: skip
APL_KEYS_WEAK = ("scale", "importance", "score", "rank", "severity")
FLAG_KEYS = ("proactive", "is_proactive", "proactivity", "proactive_flag", "reactive",
             "is_reactive", "action_type", "type", "kind", "mode", "category", "label", "class",
             "tag", "flags", "proactive_flags", "types", "is_proactive_list")  # fmt: skip
TEXT_KEYS_WEAK = ("name", "label", "title", "value", "note", "summary")
SOURCE_KEYS = ("source", "source_dataset", "origin", "dataset", "src")
_INVERTED = re.compile(r"(?i)(?:^|_)(?:is_)?reactive|non_?proactive")


class FieldAmbiguity(Exception):
    """Two keys could be ``target`` and disagree; ``candidates`` are ``(key, example)``."""

    def __init__(self, target: str, candidates: list[tuple[str, str]]):
        self.target = target
        self.candidates = candidates
        listed = "; ".join(f"{k!r} (e.g. {ex})" for k, ex in candidates)
        super().__init__(f"{len(candidates)} keys could be {target}: {listed}")


@dataclass
class Choice:
    """Where a target is read from, why, and whether a heuristic chose it."""

    target: str
    source: str | None
    reason: str
    heuristic: bool = True
    alternatives: list[str] = field(default_factory=list)

    @property
    def map_arg(self) -> str | None:
        return f"{self.target}={self.source}" if self.source else None


# --- helpers ---------------------------------------------------------------------------------------


def _short(value: Any, width: int = 50) -> str:
    text = repr(value)
    return text if len(text) <= width else text[: width - 3] + "..."


def _key_values(objects: list[Mapping[str, Any]]) -> dict[str, list[Any]]:
    """Every key of the objects (first-seen order) and its non-null values."""
    out: dict[str, list[Any]] = {}
    for obj in objects:
        for k, v in obj.items():
            if v is not None and v != "":
                out.setdefault(str(k), []).append(v)
    return out


def _rank(key: str, names: tuple[str, ...]) -> int:
    nk = norm_key(key)
    return names.index(nk) if nk in names else len(names)


def _mostly(values: list[Any], test: Callable[[Any], bool]) -> bool:
    hits = sum(1 for v in values if test(v))
    return hits > 0 and hits * 2 >= len(values)


def get_path(obj: Any, path: str) -> Any:
    """A key, or a dotted path (``meta.category``, ``labels.0``); KeyError when absent.

    Keys that contain dots (``"DN."``) are matched whole: at each level the longest run of
    dotted parts that is a key wins.
    """
    return walk_path(obj, path)[-1][1]


def walk_path(obj: Any, path: str) -> list[tuple[str | None, Any]]:
    """The ``(key, value)`` steps from ``obj`` along a dotted path; KeyError when absent."""
    steps = _walk(obj, path.split("."), path)
    return [(None, obj), *steps]


def _walk(obj: Any, parts: list[str], path: str) -> list[tuple[str | None, Any]]:
    if not parts:
        return []
    if isinstance(obj, Mapping):
        for j in range(len(parts), 0, -1):
            key = ".".join(parts[:j])
            if key in obj:
                try:
                    return [(key, obj[key]), *_walk(obj[key], parts[j:], path)]
                except KeyError:
                    continue
    elif isinstance(obj, list) and parts[0].isdigit() and int(parts[0]) < len(obj):
        item = obj[int(parts[0])]
        return [(parts[0], item), *_walk(item, parts[1:], path)]
    raise KeyError(path)


def _get(obj: Any, path: str) -> Any:
    try:
        return get_path(obj, path)
    except KeyError:
        return None


def _conflict(objects: Sequence[Mapping[str, Any]], keys: list[str], read: Callable[[Any], Any]) -> bool:  # fmt: skip
    """True when some object holds two of ``keys`` whose readings differ."""
    for obj in objects:
        seen = {read(obj[k]) for k in keys if obj.get(k) not in (None, "")}
        seen.discard(None)
        if len(seen) > 1:
            return True
    return False


def _choose(target: str, objects: list[Mapping[str, Any]], tiers: list[list[str]],
            read: Callable[[Any], Any], why: str) -> Choice | None:  # fmt: skip
    """The key of the best tier that holds ``target``; FieldAmbiguity when two disagree."""
    for tier in tiers:
        if not tier:
            continue
        if len(tier) > 1 and _conflict(objects, tier, read):
            examples = [(k, _short(next(o[k] for o in objects if k in o))) for k in tier]
            raise FieldAmbiguity(target, examples)
        key = tier[0]
        native = key == NATIVE[target]
        reason = "the native name" if native else why
        return Choice(target, key, reason, heuristic=not native, alternatives=tier[1:])
    return None


def _tiers(values: dict[str, list[Any]], accept: Callable[[Any], bool], named: tuple[str, ...],
           weak: tuple[str, ...] = (), exclude: set[str] | frozenset[str] = frozenset(),
           any_key: bool = True) -> list[list[str]]:  # fmt: skip
    """Keys whose values mostly pass ``accept``: known names, weak names, then any key."""
    native = named[0] if named else None  # the native name is read whatever its values hold
    ok = [
        k
        for k, vs in values.items()
        if k not in exclude and (_mostly(vs, accept) or (k == native and any_key))
    ]
    first = sorted((k for k in ok if norm_key(k) in named), key=lambda k: _rank(k, named))
    second = sorted((k for k in ok if norm_key(k) in weak), key=lambda k: _rank(k, weak))
    rest = [k for k in ok if k not in first and k not in second] if any_key else []
    return [first, second, rest]


def _is_id(value: Any) -> bool:
    return (isinstance(value, str) and bool(value.strip())) or (
        isinstance(value, int) and not isinstance(value, bool)
    )


def _is_text(value: Any) -> bool:
    return (
        isinstance(value, str)
        and bool(value.strip())
        and apl_strict(value) is None
        and proactive_strict(value) is None
        and read_scenario(value, strict=True) is None
    )


def _flag_reader(key: str) -> Callable[[Any], bool | None]:
    invert = bool(_INVERTED.search(norm_key(key)))
    return lambda v: proactive_strict(v, invert=invert)


# --- action items --------------------------------------------------------------------------------------


_LIST_PREFIX = re.compile(r"^\s*(?:\(?\d+[.):]|[-*+\u2022\u2013\u2014]|#+)\s+")
_INLINE_NUMBERS = re.compile(r"(?:^|\s)(\d+)[.)]\s+")


@dataclass
class Item:
    """One action as found: the raw item and what its surroundings say about it."""

    value: Any
    apl: int | None = None
    """From a group key (``{"APL 3": [...]}``) or a heading line (``APL 3:``)."""
    proactive: bool | None = None
    where: str = ""


def split_free_text(text: str) -> list[tuple[str, int | None, bool | None]]:
    """The actions of a free-text field: ``(line, heading APL, heading flag)`` per action."""
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if len(lines) == 1:
        lines = _inline_numbered(lines[0])
    out: list[tuple[str, int | None, bool | None]] = []
    apl: int | None = None
    flag: bool | None = None
    for line in lines:
        heading = _heading(line)
        if heading is not None:
            apl = heading[0] if heading[0] is not None else apl
            flag = heading[1] if heading[1] is not None else flag
            continue
        out.append((line, apl, flag))
    return out


def _inline_numbered(line: str) -> list[str]:
    """``"1. Call 911 2. Leave"`` -> two items when the numbers run 1, 2, ..."""
    marks = list(_INLINE_NUMBERS.finditer(line))
    if len(marks) < 2 or [int(m.group(1)) for m in marks] != list(range(1, len(marks) + 1)):
        return [line]
    if line[: marks[0].start()].strip():
        return [line]
    bounds = [m.start() for m in marks] + [len(line)]
    return [line[a:b].strip() for a, b in zip(bounds, bounds[1:], strict=False)]


def _heading(line: str) -> tuple[int | None, bool | None] | None:
    """``"Proactive actions:"`` -> (None, True); ``"## APL 3"`` -> (3, None); else None."""
    text = _LIST_PREFIX.sub("", line).strip().strip("*_#").strip()
    if not text.endswith(":") and not line.lstrip().startswith("#"):
        return None
    text = re.sub(r"(?i)\s*actions?\s*$", "", text.rstrip(":").strip()).strip()
    if not text:
        return None
    markers = read_marker_segment(text)
    if markers is not None:
        return apl_strict(markers.apl), proactive_strict(markers.proactive)
    apl, flag = group_marker(text)
    return (apl, flag) if (apl, flag) != (None, None) else None


def action_items(value: Any, where: str) -> list[Item]:
    """The action items of an actions value: a list, a free text, or a grouped dict."""
    return _items(value, where, None, None)


def _items(value: Any, where: str, apl: int | None, flag: bool | None) -> list[Item]:
    if isinstance(value, str):
        return [
            Item(
                line,
                h_apl if h_apl is not None else apl,
                h_flag if h_flag is not None else flag,
                f"{where} line {i + 1}",
            )  # fmt: skip
            for i, (line, h_apl, h_flag) in enumerate(split_free_text(value))
        ]
    if isinstance(value, list):
        out: list[Item] = []
        for i, v in enumerate(value):
            if isinstance(v, str) and "\n" in v.strip():
                out += _items(v, f"{where}[{i}]", apl, flag)
            else:
                out.append(Item(v, apl, flag, f"{where}[{i}]"))
        return out
    if isinstance(value, Mapping):
        out = []
        for k, v in value.items():
            k_apl, k_flag = group_marker(k)
            out += _items(v, f"{where}.{k}", k_apl if k_apl is not None else apl,
                          k_flag if k_flag is not None else flag)  # fmt: skip
        return out
    return [Item(value, apl, flag, where)]


# --- inference -----------------------------------------------------------------------------------------


@dataclass
class Fields:
    """The chosen source of every target, and every candidate that was considered."""

    choices: dict[str, Choice]

    def source(self, target: str) -> str | None:
        return self.choices[target].source if target in self.choices else None


def infer_fields(raws: list[Raw], fmap: Mapping[str, str], clips: ClipIndex | None) -> Fields:
    """Choose a source for each target over all records (see the module docstring)."""
    records = [r.record for r in raws if not r.value_only]
    values = _key_values(records)
    ch: dict[str, Choice] = {}

    def given(target: str) -> bool:
        if target in fmap:
            ch[target] = Choice(target, fmap[target], "given with --map", heuristic=False)
            return True
        return False

    used: set[str] = set()
    if not given("video"):
        tiers = _tiers(values, is_path_like, ("video", *PATH_KEYS))
        ch["video"] = _choose_path(records, tiers) or _key_choice(
            raws, "video", is_path_like, "the key each record is stored under is a clip path"
        )
    used.add(ch["video"].source or "")
    if not given("video_id"):
        ch["video_id"] = _choose_id(raws, records, values, ch["video"], clips)
    used.add(ch["video_id"].source or "")
    if not given("actions"):
        ch["actions"] = _choose_actions(raws, values, used)
    used.add(ch["actions"].source or "")
    if not given("scenario"):
        ch["scenario"] = _choose_scenario(raws, records, values, used)
    if not given("source"):
        tiers = _tiers(values, lambda v: isinstance(v, str), SOURCE_KEYS, any_key=False)
        ch["source"] = _choose("source", records, tiers, str, "a known name for the source") or (
            Choice("source", None, "not found (optional)", heuristic=False)
        )
    _infer_action_fields(raws, fmap, ch, values)
    return Fields(ch)


def _key_choice(raws: list[Raw], target: str, test: Callable[[Any], bool], why: str) -> Choice:
    keys = [r.key for r in raws]
    if keys and all(k is not None for k in keys) and _mostly(keys, test):
        return Choice(target, "@key", why)
    return Choice(target, None, "not found", heuristic=False)


def _choose_path(records: list[Mapping[str, Any]], tiers: list[list[str]]) -> Choice | None:
    cands = [k for tier in tiers for k in tier]
    if not cands:
        return None
    if len(cands) > 1 and _conflict(records, cands, lambda v: clip_stem(str(v))):
        raise FieldAmbiguity(
            "video", [(k, _short(next(r[k] for r in records if k in r))) for k in cands]
        )
    # Keys that agree on the clip: the one with the most path information wins.
    best = max(cands, key=lambda k: (sum(len(str(r.get(k, ""))) for r in records), -cands.index(k)))
    native = best == "video"
    why = "the native name" if native else "its values look like clip paths"
    return Choice(
        "video", best, why, heuristic=not native, alternatives=[k for k in cands if k != best]
    )


def _choose_id(raws: list[Raw], records: list[Mapping[str, Any]], values: dict[str, list[Any]],
               video: Choice, clips: ClipIndex | None) -> Choice:  # fmt: skip
    named = [k for k in values if norm_key(k) in ID_KEYS and _mostly(values[k], _is_id)]
    named.sort(key=lambda k: _rank(k, ID_KEYS))
    cands: list[str] = named + (["@key"] if raws and all(r.key is not None for r in raws) else [])
    if not cands:
        if video.source:
            return Choice("video_id", "@stem", "the file stem of the clip path")
        return Choice("video_id", None, "not found", heuristic=False)

    def ids(source: str) -> list[str]:
        if source == "@key":
            return [str(r.key) for r in raws]
        return [clip_stem(str(r[source])) for r in records if _is_id(r.get(source))]

    def score(source: str) -> tuple[int, bool, int]:
        matched = sum(1 for i in ids(source) if clips is not None and i in clips.by_stem)
        plain = source == "@key" or not _mostly(values[source], is_path_like)
        return matched, plain, -cands.index(source)

    best = max(cands, key=score)
    native = best == "video_id"
    if native:
        why = "the native name"
    elif best == "@key":
        why = "the key each record is stored under"
    else:
        why = "a known name for the video id"
    if clips is not None and len(cands) > 1 and score(best)[0]:
        why += f" ({score(best)[0]} of its values are clip file stems)"
    return Choice(
        "video_id", best, why, heuristic=not native, alternatives=[c for c in cands if c != best]
    )


def _choose_actions(raws: list[Raw], values: dict[str, list[Any]], used: set[str]) -> Choice:
    if raws and all(r.value_only for r in raws):
        return Choice(
            "actions", "@value", "the value stored under each video id is the action list"
        )
    strong = [k for k in values if k not in used and norm_key(k) in ACTION_KEYS_STRONG
              and _mostly(values[k], lambda v: action_like(v, named=True))]  # fmt: skip
    strong.sort(key=lambda k: _rank(k, ACTION_KEYS_STRONG))
    weak = [k for k in values if k not in used and norm_key(k) in ACTION_KEYS_WEAK
            and _mostly(values[k], lambda v: action_like(v, named=True))]  # fmt: skip
    other = [k for k in values if k not in used and k not in strong and k not in weak
             and _mostly(values[k], action_like)]  # fmt: skip
    flagged = {
        k: group_marker(k)[1]
        for k in values
        if k not in used and _mostly(values[k], lambda v: action_like(v, named=True))
    }
    pair = [k for k, f in flagged.items() if f is not None]
    pair_ok = {flagged[k] for k in pair} == {True, False}
    for tier, why in ((strong, "a known name for the action list"),
                      (weak, "a weaker known name for the action list"),
                      (other, "its values look like action lists")):  # fmt: skip
        if pair_ok and tier is not strong:
            return Choice("actions", "+".join(pair), "actions split by proactive/reactive keys")
        if len(tier) > 1:
            examples = [(k, _short(values[k][0])) for k in tier]
            raise FieldAmbiguity("actions", examples)
        if tier:
            native = tier[0] == "actions"
            return Choice("actions", tier[0], "the native name" if native else why,
                          heuristic=not native)  # fmt: skip
    return Choice("actions", None, "not found", heuristic=False)


def _choose_scenario(raws: list[Raw], records: list[Mapping[str, Any]],
                     values: dict[str, list[Any]], used: set[str]) -> Choice:  # fmt: skip
    tiers = _tiers(values, lambda v: read_scenario(v) is not None, SCENARIO_KEYS, exclude=used)
    found = _choose("scenario", records, tiers, read_scenario, "its values name scenarios")
    if found is not None:
        return found
    if raws and all(r.group for r in raws):
        return Choice("scenario", "@group", "the scenario group each record sits in")
    return Choice(
        "scenario", "@folder", "the clip's folder names (then a DN_/HS_/SM_/HMI_ id prefix)"
    )


def _infer_action_fields(raws: list[Raw], fmap: Mapping[str, str], ch: dict[str, Choice],
                         values: dict[str, list[Any]]) -> None:  # fmt: skip
    items: list[Any] = []
    lengths: list[int] = []
    for raw in raws:
        value = _actions_value(raw, ch["actions"].source)
        got = action_items(value, "") if value is not None else []
        items += [it.value for it in got]
        lengths.append(len(got))
    objects = [it for it in items if isinstance(it, Mapping)]
    ovals = _key_values(objects)
    strings = any(isinstance(it, str) for it in items)
    if "actions.text" in fmap:
        ch["actions.text"] = Choice("actions.text", fmap["actions.text"], "given with --map", False)
    elif objects and any(NATIVE["actions.text"] in o for o in objects):
        ch["actions.text"] = Choice("actions.text", "text", "the native name", heuristic=False)
    elif objects:
        tiers = _tiers(ovals, _is_text, TEXT_KEYS, TEXT_KEYS_WEAK)
        ch["actions.text"] = _choose("actions.text", objects, tiers, str.strip,
                                     "a known name for the action text") or Choice(
            "actions.text", None, "not found", heuristic=False)  # fmt: skip
    else:
        tuples = any(isinstance(it, list) for it in items)
        src = "@item" if strings else "@tuple" if tuples else None
        why = {
            "@item": "each action is a string",
            "@tuple": "each action is a [text, APL, flag] list",
        }
        if src is None and not items:
            src, why[""] = "@item", "no actions to read (every action list is empty)"
        ch["actions.text"] = Choice("actions.text", src, why.get(src or "", "not found"), False)
    records = [r.record for r in raws if not r.value_only]
    for target, accept, named, weak in (
        ("actions.apl", lambda v: apl_strict(v) is not None, APL_KEYS, APL_KEYS_WEAK),
        ("actions.proactive", lambda v: proactive_strict(v) is not None, FLAG_KEYS, ()),
    ):
        if target in fmap:
            ch[target] = Choice(target, fmap[target], "given with --map", heuristic=False)
            continue
        exclude = {ch["actions.text"].source or ""}
        read: Callable[[Any], Any] = apl_strict if target == "actions.apl" else proactive_strict
        tiers = _tiers(ovals, accept, named, weak, exclude=exclude)
        if target == "actions.proactive":  # several flag keys agree only if read with inversion
            tiers = [[k for k in t] for t in tiers]
            for tier in tiers:
                if len(tier) > 1 and _conflict_flags(objects, tier):
                    examples = [(k, _short(next(o[k] for o in objects if k in o))) for k in tier]
                    raise FieldAmbiguity(target, examples)
            read = _flag_reader(tiers[0][0]) if tiers[0] else read
        what = "APL" if target == "actions.apl" else "proactive/reactive flag"
        choice = _choose(target, objects, tiers, read, f"a known name for the {what}") if objects else None  # fmt: skip
        if choice is None:
            choice = _parallel_choice(target, records, values, lengths, accept, named,
                                      {ch[t].source or "" for t in ch})  # fmt: skip
        ch[target] = choice or Choice(
            target, "@text", "inline markers in the text or group keys (APL 3:, Proactive:)"
        )


def _conflict_flags(objects: list[Mapping[str, Any]], keys: list[str]) -> bool:
    for obj in objects:
        seen = {_flag_reader(k)(obj[k]) for k in keys if obj.get(k) not in (None, "")}
        seen.discard(None)
        if len(seen) > 1:
            return True
    return False


def _parallel_choice(target: str, records: list[Mapping[str, Any]], values: dict[str, list[Any]],
                     lengths: list[int], accept: Callable[[Any], bool], named: tuple[str, ...],
                     used: set[str]) -> Choice | None:  # fmt: skip
    """A record-level list beside the action list, one value per action."""
    ok = [
        k for k, vs in values.items()
        if k not in used and all(isinstance(v, list) for v in vs)
        and _mostly([x for v in vs for x in v], accept)
    ]  # fmt: skip
    named_ok = sorted((k for k in ok if norm_key(k) in named), key=lambda k: _rank(k, named))
    cands = named_ok or ok
    if not cands:
        return None
    if len(cands) > 1:
        read = apl_strict if target == "actions.apl" else proactive_strict
        if _conflict(_rows(records, cands), cands, read):
            raise FieldAmbiguity(target, [(k, _short(values[k][0])) for k in cands])
    why = "a list beside the action list, one value per action (column-wise)"
    return Choice(target, cands[0], why, alternatives=cands[1:])


def _rows(records: list[Mapping[str, Any]], keys: list[str]) -> list[dict[str, Any]]:
    rows = []
    for r in records:
        cols = [r.get(k) for k in keys]
        if all(isinstance(c, list) for c in cols):
            rows += [dict(zip(keys, vals, strict=False)) for vals in zip(*cols, strict=False)]
    return rows


def _actions_value(raw: Raw, source: str | None) -> Any:
    if source is None:
        return None
    if source == "@value":
        return raw.record.get("@value")
    if "+" in source and not (isinstance(raw.record, Mapping) and source in raw.record):
        return {k: raw.record[k] for k in source.split("+") if raw.record.get(k) is not None}
    return _get(raw.record, source)


# --- conversion ----------------------------------------------------------------------------------------


@dataclass
class Converted:
    """The native records, the problems (``(where, message)``) and how each field was read."""

    records: list[dict[str, Any]]
    problems: list[tuple[str, str]]
    used: Counter[str]


def convert_all(raws: list[Raw], fields: Fields, clips: ClipIndex | None, prefix: str) -> Converted:
    """Convert every record; a record with any problem is reported and left out."""
    out = Converted([], [], Counter())
    seen: dict[str, str] = {}
    for raw in raws:
        before = len(out.problems)
        rec = _convert_one(raw, fields, clips, prefix, out)
        if rec is None or len(out.problems) > before:
            continue
        if rec["video_id"] in seen:
            msg = f"video id {rec['video_id']!r} again (first at {seen[rec['video_id']]})"
            out.problems.append((raw.where, msg))
            continue
        seen[rec["video_id"]] = raw.where
        out.records.append(rec)
    return out


def _convert_one(raw: Raw, fields: Fields, clips: ClipIndex | None, prefix: str,
                 out: Converted) -> dict[str, Any] | None:  # fmt: skip
    rec = raw.record
    problems, used = out.problems, out.used
    vsrc = fields.source("video")
    ref = raw.key if vsrc == "@key" else (_get(rec, vsrc) if vsrc else None)
    ref = ref if isinstance(ref, str) and ref.strip() else None
    vid = _read_id(raw, fields.source("video_id"), ref)
    if vid is None:
        problems.append((raw.where, f"no video id ({_tried('video_id', fields)})"))
        return None
    path = _clip(raw, vid, ref, clips, prefix, out)
    scenario = _scenario(raw, fields, vid, path, out)
    actions = _actions(raw, fields, out)
    if path is None or scenario is None or actions is None:
        return None
    record: dict[str, Any] = {"video_id": vid, "video": path, "scenario": scenario, "actions": actions}  # fmt: skip
    ssrc = fields.source("source")
    if ssrc and isinstance(source := _get(rec, ssrc), str):
        record["source"] = source
        used[f"source<-{ssrc}"] += 1
    return record


def _tried(target: str, fields: Fields) -> str:
    c = fields.choices[target]
    return f"{target} read from {c.source}" if c.source else f"no {target} field found"


def _read_id(raw: Raw, source: str | None, ref: str | None) -> str | None:
    if source == "@key":
        value: Any = raw.key
    elif source == "@stem":
        value = ref
    elif source:
        value = _get(raw.record, source)
    else:
        value = None
    if value is None and raw.key is not None and source != "@key":
        value = raw.key
    if value is None and ref is not None:
        value = ref
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return None
    text = clip_stem(str(value).strip())
    return text or None


def _clip(raw: Raw, vid: str, ref: str | None, clips: ClipIndex | None, prefix: str,
          out: Converted) -> str | None:  # fmt: skip
    if clips is None:
        name = (ref or vid).replace("\\", "/").rstrip("/").split("/")[-1]
        if not Path(name).suffix:
            name += ".mp4"
            out.used["clip<-extension .mp4 assumed (clips not checked)"] += 1
        return f"{prefix}/{name}" if prefix else name
    hit = clips.find_path(ref) if ref is not None else clips.find_id(vid)
    if hit.path is None:
        out.problems.append((raw.where, str(hit.error)))
        return None
    out.used[f"clip<-{hit.how}"] += 1
    rel = clips.rel(hit.path)
    return f"{prefix}/{rel}" if prefix else rel


def _scenario(raw: Raw, fields: Fields, vid: str, path: str | None, out: Converted) -> str | None:
    source = fields.source("scenario")
    if source and not source.startswith("@"):
        value = _get(raw.record, source)
        if value not in (None, ""):
            sid = read_scenario(value)
            if sid is None:
                out.problems.append((f"{raw.where}.{source}", f"{value!r} is not a scenario; "
                                     "expected a name, title or abbreviation (DN, HS, SM, HMI)"))  # fmt: skip
                return None
            if raw.group and raw.group != sid:
                out.problems.append((f"{raw.where}.{source}", f"{value!r} contradicts the group "
                                     f"{raw.group_label!r} the record sits in"))  # fmt: skip
                return None
            out.used[f"scenario<-{source}"] += 1
            return sid
    if source == "@key" and (sid := read_scenario(raw.key)):
        out.used["scenario<-@key"] += 1
        return sid
    if raw.group:
        out.used["scenario<-@group"] += 1
        return raw.group
    for part in reversed(Path((path or "").replace("\\", "/")).parts[:-1]):
        if sid := read_scenario(part):
            out.used["scenario<-@folder"] += 1
            return sid
    head = re.split(r"[_\-\s./]", vid, maxsplit=1)[0]
    if head.upper() in SCENARIO_ABBREVIATIONS.values() and (
        sid := read_scenario(head, strict=True)
    ):
        out.used["scenario<-@id"] += 1
        return sid
    tried = f"{source}, " if source and not source.startswith("@") else ""
    out.problems.append((raw.where, f"no scenario (tried {tried}enclosing groups, the clip's "
                         "folders and a DN_/HS_/SM_/HMI_ id prefix; name it with --map scenario=KEY)"))  # fmt: skip
    return None


def _actions(raw: Raw, fields: Fields, out: Converted) -> list[dict[str, Any]] | None:
    source = fields.source("actions")
    value = _actions_value(raw, source)
    if value is None:
        out.problems.append((raw.where, f"no actions ({_tried('actions', fields)})"))
        return None
    where = raw.where if source == "@value" else f"{raw.where}.{source}"
    items = action_items(value, where)
    tsrc, asrc, psrc = (
        fields.source(t) for t in ("actions.text", "actions.apl", "actions.proactive")
    )
    par_apl = _parallel(raw, asrc, len(items))
    par_pro = _parallel(raw, psrc, len(items))
    actions = []
    ok = True
    for j, item in enumerate(items):
        got = _one_action(item, tsrc, asrc, psrc, par_apl[j], par_pro[j], out)
        if got is None:
            ok = False
        else:
            actions.append(got)
    if ok and not actions:
        out.problems.append((where, "empty action list (every video needs at least one action)"))
        return None
    return actions if ok else None


def _parallel(raw: Raw, source: str | None, n: int) -> list[Any]:
    value = _get(raw.record, source) if source and not source.startswith("@") else None
    if isinstance(value, list) and len(value) == n:
        return value
    return [None] * n


def _one_action(item: Item, tsrc: str | None, asrc: str | None, psrc: str | None,
                par_apl: Any, par_pro: Any, out: Converted) -> dict[str, Any] | None:  # fmt: skip
    v = item.value
    apl_raw: Any = None
    pro_raw: Any = None
    invert = False
    if isinstance(v, list) and v and isinstance(v[0], str):  # ["Call 911", 4, true]
        text = v[0]
        for extra in v[1:]:
            if apl_strict(extra) is not None and apl_raw is None and not isinstance(extra, bool):
                apl_raw = extra
            elif proactive_strict(extra) is not None:
                pro_raw = extra
        out.used["actions.text<-@tuple"] += 1
    elif isinstance(v, Mapping):
        got = _get(v, tsrc) if tsrc and not tsrc.startswith("@") else None
        if not isinstance(got, str) or not got.strip():
            out.problems.append((item.where, f"no action text (read from {tsrc}) in {_short(dict(v), 80)}"))  # fmt: skip
            return None
        text = got
        out.used[f"actions.text<-{tsrc}"] += 1
        if asrc and not asrc.startswith("@") and (a := _get(v, asrc)) is not None:
            apl_raw = a
            out.used[f"actions.apl<-{asrc}"] += 1
        if psrc and not psrc.startswith("@") and (p := _get(v, psrc)) is not None:
            pro_raw, invert = p, bool(_INVERTED.search(norm_key(psrc)))
            out.used[f"actions.proactive<-{psrc}"] += 1
    elif isinstance(v, str):
        text = v
        out.used["actions.text<-@item"] += 1
    else:
        out.problems.append((item.where, f"expected an action (object or string), got {_short(v)}"))
        return None
    text, markers = split_markers(_LIST_PREFIX.sub("", text))
    text = re.sub(r"\s+", " ", text).strip(" -:;,")
    where = item.where
    if not text:
        out.problems.append((where, f"empty action text in {_short(v)}"))
        return None
    if apl_raw is None and par_apl is not None:
        apl_raw = par_apl
        out.used[f"actions.apl<-{asrc}"] += 1
    if pro_raw is None and par_pro is not None:
        pro_raw, invert = par_pro, bool(_INVERTED.search(norm_key(psrc or "")))
        out.used[f"actions.proactive<-{psrc}"] += 1
    apl = _read(apl_raw, markers.apl, item.apl, apl_strict, "APL", where, out, "actions.apl")
    if apl is _BAD:
        return None
    pro = _read(pro_raw, markers.proactive, item.proactive,
                lambda x: proactive_strict(x, invert=invert), "proactive/reactive flag", where,
                out, "actions.proactive")  # fmt: skip
    if pro is _BAD:
        return None
    if apl is None or pro is None:
        missing = [n for n, x in (("APL", apl), ("proactive/reactive flag", pro)) if x is None]
        out.problems.append((where, f"no {' and no '.join(missing)} for {_short(text)} "
                             "(name the field with --map actions.apl=KEY / actions.proactive=KEY)"))  # fmt: skip
        return None
    return {"text": text, "apl": apl, "proactive": pro}


_BAD = object()


def _read(field_raw: Any, marker: Any, group: Any, read: Callable[[Any], Any], what: str,
          where: str, out: Converted, target: str) -> Any:  # fmt: skip
    """Field value, else inline marker, else group key; a value that does not read is a problem."""
    if field_raw is not None:
        value = read(field_raw)
        if value is None:
            out.problems.append((where, f"{what} {field_raw!r} is not understood"))
            return _BAD
        return value
    if marker is not None:
        value = read(marker)
        if value is None:
            out.problems.append((where, f"{what} marker {marker!r} is not understood"))
            return _BAD
        out.used[f"{target}<-@text"] += 1
        return value
    if group is not None:
        out.used[f"{target}<-@group"] += 1
        return group
    return None

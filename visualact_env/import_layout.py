"""Where the records are in a release JSON of unknown layout.

:func:`find_records` walks the parsed JSON and recognises, composed at any depth:

* a **list of records** (objects with an actions field, a clip path or a video id);
* a **dict keyed by video id** whose values are records, or the action list itself (a list,
  a free-text string, or a dict grouped by proactive/reactive or APL);
* **column-wise arrays**: an object of parallel lists (``{"video_id": [...], "actions": [...]}``),
  read row by row;
* **scenario groups**: an object whose keys name scenarios in any spelling
  (``"Home Service"``, ``"DN."``, ``home_service``), or a list of group objects each with a
  scenario field and a nested collection; the scenario travels down to the records;
* **wrappers**: container keys (``data``, ``videos``...), a single object holding the only
  collection, and list items that wrap each record in one key (``{"row": {...}}``).

Each step taken is recorded in :attr:`Layout.steps`, so the import report can show the path
it followed. Records found in two unrelated places (``train`` and ``test``) are not merged
by guess: :class:`LayoutAmbiguity` lists the places, and ``--map records=A,B`` decides.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .clip_index import is_path_like
from .scenario_names import read_scenario
from .vocabulary import apl_strict, proactive_lenient, split_markers

CONTAINER_KEYS = ("data", "videos", "annotations", "items", "records", "samples", "examples",
                  "entries", "rows", "dataset", "clips", "benchmark", "results", "instances")  # fmt: skip
"""Keys whose value is taken to hold the records when several children do."""

ACTION_KEYS_STRONG = ("actions", "action_list", "actions_list", "gt_actions", "ground_truth",
                      "actions_text", "action_strings",
                      "ground_truth_actions", "action_annotations", "annotations", "responses",
                      "answers", "texts", "action_texts", "steps", "gt")  # fmt: skip
ACTION_KEYS_WEAK = ("labels", "outputs", "targets", "action", "response", "answer", "output")
TEXT_KEYS = ("text", "action", "action_text", "description", "desc", "content", "sentence",
             "instruction", "step", "response", "answer", "utterance")  # fmt: skip
ID_KEYS = ("video_id", "videoid", "video_uid", "clip_id", "clipid", "vid", "video_name",
           "sample_id", "uid", "id", "key", "name", "clip_name")  # fmt: skip
PATH_KEYS = ("video", "video_path", "video_file", "videopath", "file", "filename", "file_name",
             "filepath", "file_path", "path", "clip", "clip_path", "relative_path", "url", "uri",
             "video_name", "clip_name")  # fmt: skip
SCENARIO_KEYS = ("scenario", "scenario_type", "scenario_name", "scene", "scene_type",
                 "category", "domain", "class", "task", "setting", "type", "group", "name")  # fmt: skip
WRAPPER_KEYS = ("row", "record", "item", "sample", "example", "entry", "data", "annotation")
MAX_DEPTH = 32

_NUMBERED = re.compile(r"(?m)^\s*(?:\d+[.)]|[-*\u2022])\s+\S")


class LayoutAmbiguity(Exception):
    """Records were found in several unrelated places; ``candidates`` are (path, count)."""

    def __init__(self, where: str, candidates: list[tuple[str, int]]):
        self.where = where
        self.candidates = candidates
        listed = ", ".join(f"{p!r} ({n} records)" for p, n in candidates)
        super().__init__(f"records found in several places under {where}: {listed}")


@dataclass
class Raw:
    """One record as found: the object, where it sat, and what its surroundings say."""

    record: Mapping[str, Any]
    where: str
    key: str | None = None
    """The key the record was stored under (a dict keyed by video id)."""
    group: str | None = None
    """The scenario id named by an enclosing group key or group object."""
    group_label: str | None = None
    value_only: bool = False
    """The stored value was the action list itself: ``record`` is ``{"@value": value}``."""
    index: int = 0


@dataclass
class Layout:
    """The records found and the steps that led to them."""

    raws: list[Raw]
    steps: list[str]
    paths: list[str] = field(default_factory=list)
    """Dotted paths of the collections (what ``--map records=`` would name)."""
    strong: bool = True
    """True when the records look like records (an actions field, a clip or an id)."""


def norm_key(key: Any) -> str:
    """``"Video ID"``, ``"video-id"``, ``"videoId"`` -> ``"video_id"``."""
    text = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", str(key).strip())
    return re.sub(r"[\s\-.]+", "_", text).lower()


def _keyset(d: Mapping[str, Any]) -> dict[str, str]:
    return {norm_key(k): k for k in d}


def is_scalar(value: Any) -> bool:
    return not isinstance(value, (list, Mapping))


def action_like(value: Any, *, named: bool = False) -> bool:
    """True when ``value`` could be a list of actions (see the module docstring).

    ``named`` (the value sits under an actions-like key) also accepts an empty list, plain
    strings without markers and a list where only most items are actions (the others are then
    reported one by one); a list of objects without a text field (boxes, tags) never is.
    """
    if isinstance(value, str):
        return named or text_has_actions(value)
    if isinstance(value, list):
        if not value:
            return named
        if named:
            hits = sum(1 for v in value if _action_item(v, plain_ok=True))
            return hits * 2 >= len(value)
        if all(isinstance(v, str) for v in value):
            return any(text_has_actions(v) for v in value)
        return all(_action_item(v, plain_ok=False) for v in value)
    if isinstance(value, Mapping) and value:
        return all(group_marker(k) != (None, None) for k in value) and all(
            isinstance(v, (list, str, Mapping)) for v in value.values()
        )
    return False


def _action_item(v: Any, *, plain_ok: bool) -> bool:
    """A string, a flat object with a text field, or a ``[text, ...]`` list."""
    if isinstance(v, str):
        return plain_ok or text_has_actions(v)
    if isinstance(v, Mapping):
        return any(norm_key(k) in TEXT_KEYS for k in v) and all(map(is_scalar, v.values()))
    return isinstance(v, list) and bool(v) and isinstance(v[0], str)


def text_has_actions(text: str) -> bool:
    """A free-text field with numbered/bulleted lines or inline APL/proactive markers."""
    if _NUMBERED.search(text):
        return True
    _, markers = split_markers(text)
    return markers.apl is not None or markers.proactive is not None


def group_marker(key: Any) -> tuple[int | None, bool | None]:
    """What a group key of an action dict names: ``"APL 3"`` -> (3, None), ``"reactive"``..."""
    text = str(key)
    apl = apl_strict(text)
    if apl is not None:
        return apl, None
    flag = proactive_lenient(re.sub(r"(?i)[_\s-]*actions?$", "", text) or text, diagnostics=[])
    if flag is not None and re.search(r"(?i)pro|re|active", text):
        return None, flag
    return None, None


def record_signals(d: Mapping[str, Any]) -> bool:
    """True when an object looks like one video's record: actions, a video id or a clip path."""
    if _named_actions(d):
        return True
    return any(
        (norm_key(k) in ID_KEYS and isinstance(v, (str, int)) and not isinstance(v, bool))
        or is_path_like(v)
        for k, v in d.items()
    )


def _named_actions(d: Mapping[str, Any]) -> bool:
    """An actions-like value under an actions-like key, or proactive and reactive lists."""
    if any(
        (nk in ACTION_KEYS_STRONG or nk in ACTION_KEYS_WEAK) and action_like(d[k], named=True)
        for nk, k in _keyset(d).items()
    ):
        return True
    flags = {group_marker(k)[1] for k in d if isinstance(d[k], (list, str))}
    return {True, False} <= flags


def _strong(records: list[Mapping[str, Any]]) -> bool:
    """Most objects carry an actions-like field (alone, an id or path is not a record)."""
    hits = 0
    for r in records:
        ks = _keyset(r)
        has_actions = any(
            (nk in ACTION_KEYS_STRONG or nk in ACTION_KEYS_WEAK) and action_like(r[k], named=True)
            for nk, k in ks.items()
        ) or any(isinstance(v, list) and v and action_like(v) for v in r.values())
        flags = {group_marker(k)[1] for k in r if isinstance(r[k], (list, str))}
        hits += has_actions or {True, False} <= flags
    return hits * 2 >= len(records) and hits > 0


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _child(where: str, key: Any) -> str:
    text = str(key)
    return f"{where}.{text}" if re.fullmatch(r"[\w-]+", text) else f"{where}[{text!r}]"


def _dotted(path: str, key: Any) -> str:
    return f"{path}.{key}" if path else str(key)


def find_records(data: Any, where: str = "$", path: str = "") -> Layout | None:
    """The records in ``data`` (see the module docstring), or None when there are none."""
    return _find(data, where, path, None, 0)


def _find(node: Any, where: str, path: str, group: tuple[str, str] | None, depth: int) -> Layout | None:  # fmt: skip
    if depth > MAX_DEPTH:
        return None
    if isinstance(node, list):
        return _find_in_list(node, where, path, group, depth)
    if isinstance(node, Mapping):
        return _find_in_dict(node, where, path, group, depth)
    return None


def _raw(record: Mapping[str, Any], where: str, group: tuple[str, str] | None, **kw: Any) -> Raw:
    return Raw(record, where, group=group[0] if group else None,
               group_label=group[1] if group else None, **kw)  # fmt: skip


def _find_in_list(node: list[Any], where: str, path: str, group: tuple[str, str] | None, depth: int) -> Layout | None:  # fmt: skip
    if not node or not all(isinstance(r, Mapping) for r in node):
        return None
    if _strong(node):
        raws = [_raw(r, f"{where}[{i}]", group) for i, r in enumerate(node)]
        return Layout(raws, [f"a list of {_count(len(node), 'record')}"], [path])
    groups = _group_objects(node, where, path, depth)
    if groups is not None:
        return groups
    wrapper = _wrapper_key(node)
    if wrapper is not None:
        inner = [r[wrapper] for r in node]
        raws = [_raw(r, f"{where}[{i}].{wrapper}", group) for i, r in enumerate(inner)]
        step = f"a list of {len(node)} items, each wrapping its record in {wrapper!r}"
        return Layout(raws, [step], [path])
    raws = [_raw(r, f"{where}[{i}]", group) for i, r in enumerate(node)]
    return Layout(raws, [f"a list of {len(node)} objects (no actions field recognised)"], [path],
                  strong=False)  # fmt: skip


def _wrapper_key(node: list[Mapping[str, Any]]) -> str | None:
    """The one key under which every item holds a record (``{"row_idx": 0, "row": {...}}``)."""
    common = set.intersection(*({k for k, v in r.items() if isinstance(v, Mapping)} for r in node))
    if len(common) != 1:
        return None
    key = next(iter(common))
    inner = [r[key] for r in node]
    return key if _strong(inner) else None


def scenario_field(d: Mapping[str, Any]) -> tuple[str, str] | None:
    for nk, k in _keyset(d).items():
        if nk in SCENARIO_KEYS and (sid := read_scenario(d[k])):
            return sid, str(d[k])
    return None


def _group_objects(node: list[Mapping[str, Any]], where: str, path: str, depth: int) -> Layout | None:  # fmt: skip
    """A list of ``{"scenario": "Home Service", "videos": [...]}`` group objects."""
    layouts = []
    for i, item in enumerate(node):
        hint = scenario_field(item)
        if hint is None:
            return None
        found = [
            (k, lay)
            for k, v in item.items()
            if not is_scalar(v)
            and (lay := _find(v, _child(f"{where}[{i}]", k), _dotted(path, f"{i}.{k}"), hint, depth + 1))
            and lay.strong
        ]  # fmt: skip
        if len(found) != 1:
            return None
        layouts.append((hint, found[0][0], found[0][1]))
    names = ", ".join(f"{label!r} -> {sid}" for (sid, label), _, _ in layouts)
    step = f"a list of {len(node)} scenario groups ({names}), records under {layouts[0][1]!r}"
    return _combine(step, [lay for _, _, lay in layouts])


def _combine(step: str, layouts: list[Layout]) -> Layout:
    """One layout from the groups' layouts; counts that differ between groups become N."""
    raws = [r for lay in layouts for r in lay.raws]
    paths = [p for lay in layouts for p in lay.paths]
    inner = layouts[0].steps
    if any(lay.steps != inner for lay in layouts[1:]):
        inner = [re.sub(r"\b\d+\b", "N", s) for s in inner]
    if inner:
        inner = [f"each: {inner[0]}", *inner[1:]]
    return Layout(raws, [step, *inner], paths, all(lay.strong for lay in layouts))


def _find_in_dict(node: Mapping[str, Any], where: str, path: str, group: tuple[str, str] | None, depth: int) -> Layout | None:  # fmt: skip
    if not node:
        return None
    columns = _columns(node, where, group)
    if columns is not None:
        return Layout(columns[0], [columns[1]], [path])
    if _named_actions(node) and not any(
        isinstance(v, Mapping) and _strong([v]) for v in node.values()
    ):
        return Layout([_raw(node, where, group)], ["a single record"], [path])
    nested = {k: v for k, v in node.items() if not is_scalar(v)}
    grouped = _scenario_groups(nested, where, path, depth)
    if grouped is not None:
        return grouped
    keyed = _keyed_by_id(node, nested, where, group)
    if keyed is not None:
        return Layout(keyed[0], [keyed[1]], [path])
    return _search_children(node, nested, where, path, group, depth)


def _columns(node: Mapping[str, Any], where: str, group: tuple[str, str] | None) -> tuple[list[Raw], str] | None:  # fmt: skip
    """Parallel lists: one per field, one row per video (``{"video_id": [...], "actions": [...]}``)."""
    lists = {k: v for k, v in node.items() if isinstance(v, list) and v}
    if len(lists) < 2:
        return None
    lengths = {len(v) for v in lists.values()}
    if len(lengths) != 1:
        return None
    n = lengths.pop()
    keys = _keyset(lists)
    id_col = any(
        (nk in ID_KEYS or nk in PATH_KEYS)
        and all(isinstance(x, (str, int)) and not isinstance(x, bool) for x in lists[k])
        for nk, k in keys.items()
    )
    act_col = any(
        (nk in ACTION_KEYS_STRONG or nk in ACTION_KEYS_WEAK)
        and all(action_like(x, named=True) for x in lists[k])
        for nk, k in keys.items()
    )
    if not (id_col and act_col):
        return None
    raws = [_raw({k: v[i] for k, v in lists.items()}, f"{where}[row {i}]", group) for i in range(n)]
    cols = ", ".join(repr(k) for k in lists)
    return raws, f"column-wise arrays: {n} rows read across the parallel lists {cols}"


def _scenario_groups(nested: Mapping[str, Any], where: str, path: str, depth: int) -> Layout | None:  # fmt: skip
    if not nested:
        return None
    strict = {k: read_scenario(k, strict=True) for k in nested}
    names = strict
    if None in strict.values():
        names = {k: read_scenario(k) for k in nested}
        if None in names.values() or any(record_signals(v) for v in nested.values()
                                          if isinstance(v, Mapping)):  # fmt: skip
            return None
    if len(set(names.values())) != len(names):
        return None
    layouts = []
    for k, v in nested.items():
        lay = _find(v, _child(where, k), _dotted(path, k), (names[k], str(k)), depth + 1)  # type: ignore[arg-type]
        if lay is not None:
            layouts.append(lay)
    if not layouts:
        return None
    listed = ", ".join(f"{k!r} -> {sid}" for k, sid in names.items())
    return _combine(f"scenario groups ({listed})", layouts)


def _keyed_by_id(node: Mapping[str, Any], nested: Mapping[str, Any], where: str, group: tuple[str, str] | None) -> tuple[list[Raw], str] | None:  # fmt: skip
    values = list(nested.values())
    if not values:
        values = [v for v in node.values() if isinstance(v, str)]
        if not values or not all(text_has_actions(v) for v in values):
            return None
        nested = {k: v for k, v in node.items() if isinstance(v, str)}
    if all(isinstance(v, Mapping) for v in values):
        if _strong(values):
            raws = [_raw(v, _child(where, k), group, key=str(k)) for k, v in nested.items()]
            return raws, f"a dict of {_count(len(raws), 'record')} keyed by video id"
        return None
    if all(action_like(v) or (isinstance(v, list) and not v) for v in values) and any(values):
        raws = [
            _raw({"@value": v}, _child(where, k), group, key=str(k), value_only=True)
            for k, v in nested.items()
        ]
        return raws, f"a dict of {_count(len(raws), 'action list')} keyed by video id"
    return None


def _search_children(node: Mapping[str, Any], nested: Mapping[str, Any], where: str, path: str, group: tuple[str, str] | None, depth: int) -> Layout | None:  # fmt: skip
    found: dict[str, Layout] = {}
    for k, v in nested.items():
        lay = _find(v, _child(where, k), _dotted(path, k), group, depth + 1)
        if lay is not None:
            found[str(k)] = lay
    strong = {k: lay for k, lay in found.items() if lay.strong}
    if not strong and len(nested) > 1 and all(isinstance(v, Mapping) for v in nested.values()):
        raws = [_raw(v, _child(where, k), group, key=str(k)) for k, v in nested.items()]
        step = f"a dict of {len(raws)} objects keyed by video id (no actions field recognised)"
        return Layout(raws, [step], [path], strong=False)
    pool = strong or found
    if not pool:
        return None
    if len(pool) > 1:
        containers = [k for k in pool if norm_key(k) in CONTAINER_KEYS]
        if len(containers) == 1 and not strong:
            pool = {containers[0]: pool[containers[0]]}
        else:
            raise LayoutAmbiguity(where, [(_dotted(path, k), len(v.raws)) for k, v in pool.items()])
    key, lay = next(iter(pool.items()))
    others = [repr(k) for k in node if k != key]
    note = f" (other keys ignored: {', '.join(others)})" if others else ""
    lay.steps.insert(0, f"the records under {key!r}{note}")
    return lay

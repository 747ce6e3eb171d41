"""Turning a model's free text into proposals: :func:`parse_actions`.

Used by the model agents, the environment's text wrapper and training rewards, so it must be
robust, bounded and fast (regexes are compiled once; the work is linear in the text's length).

What it accepts, tried in this order (the first that yields an answer wins):

1. **JSON**, from a ```` ```json ```` code fence, the whole text, or the first JSON object/array
   embedded in prose. Shapes: ``{"actions": [...]}`` (or any other wrapper key, nested),
   a bare array, a single action object, arrays of strings or of ``[text, apl, proactive]``
   triples. Action text is read from ``action``, ``text``, ``description``, ``content`` ...;
   the APL from ``apl``, ``priority``, ``level`` ...; the flag from ``proactive``, ``type`` ...,
   or inverted from ``reactive``. Defective JSON (format ``"json-repaired"``) is read by the
   ``json-repair`` package (trailing commas, single quotes, Python literals, unquoted keys and
   bare word values, comments, missing brackets) with our policy on top: **truncated output**
   keeps the complete items and drops the cut-off one (json-repair alone would keep it
   half-written); nesting deeper than 32 levels is not an answer; json-repair reads at most
   6,000 characters per call and 12,000 per parse (it is superlinear on some defects), a
   longer defective text being cut at an element boundary, with a diagnostic.
   ``<think>...</think>`` reasoning blocks are removed first.
2. **Lists** (format ``"list"``): numbered or bulleted lines with inline markers
   (``1. Call 911 (APL 4, proactive)``, ``- Turn off the stove [APL: 3] [reactive]``,
   ``Call 911 - APL 4 - proactive``), key-value lines (``Action: ...; APL: 2; Type: Proactive``,
   also spread over several lines or sub-bullets) and markdown tables with an action column.
   Markdown emphasis is removed. List items ending with ``:`` are headings and skipped.

Plain prose with none of these (``"I cannot help with that"``) yields no actions and sets
``error``: agents record such a refusal or ramble as the model's answer, scored as empty, with
that error as its ``parse_error`` (see ``visualact_env.agent``).
An empty or whitespace-only text yields no actions, format ``"empty"`` and no error; a JSON
answer with an empty list (``{"actions": []}``) is a valid "nothing to do" answer.

Field rules (each deviation adds a diagnostic):

* **APL**: integers in 0..4 are kept; out-of-range numbers are clamped into 0..4; non-integers
  are rounded half up (2.5 -> 3); words map as critical/emergency/highest/immediate -> 4,
  high/urgent -> 3, medium/moderate/normal -> 2, low -> 1, routine/none/minimal/lowest -> 0;
  strings are read as a labelled level (``"APL 3"``, ``"P3"``), else by their first number
  (``"3/4"``) or word; booleans, NaN and anything else unparseable become ``None``. A missing
  APL is ``None`` without a diagnostic.
* **proactive**: booleans; ``"proactive"``, ``"yes"``, ``"true"``, ``"non-reactive"``, ``1`` ->
  True; ``"reactive"``, ``"no"``, ``"false"``, ``"non-proactive"``, ``0`` -> False; a phrase
  naming one of them (``"not proactive"``) by it; others -> ``None``.
* **text**: whitespace collapsed and stripped, markdown emphasis and surrounding quotes
  removed, inline APL/type markers removed; empty texts are dropped; texts longer than
  ``max_chars`` are cut at a word boundary. **Duplicates are kept**: the metric penalises them
  (an unmatched duplicate lowers precision), so the parser must not hide them.
* At most ``max_actions`` actions are kept, in order; the rest are dropped.

``diagnostics`` is always a list (empty when the text was clean, well-formed JSON with all
fields valid). :func:`parse_actions` never raises: an internal error becomes a diagnostic plus
``error``. Texts longer than :data:`MAX_INPUT_CHARS` are cut before parsing. The work is
linear in the text's length (about 0.3 s at the 200,000-character cap on the most hostile
inputs we know; ``benchmarks/bench_parsing.py`` measures it), and nothing recurses on the
input's nesting. A lone surrogate (an emoji cut at ``max_tokens``) is kept as U+FFFD, with
a diagnostic.

The APL and proactive words, and the inline markers, are :mod:`visualact_env.vocabulary`'s
lenient reading (the importer uses its strict one).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from .jsonio import replace_surrogates
from .records import Action
from .vocabulary import (
    LABEL_APL_RE,
    LABEL_TYPE_RE,
    apl_lenient,
    proactive_lenient,
    read_marker_segment,
    split_markers,
)

__all__ = [
    "MAX_INPUT_CHARS",
    "ParseResult",
    "coerce_apl",
    "coerce_proactive",
    "parse_actions",
]

MAX_INPUT_CHARS = 200_000
"""Longer texts are cut to this many characters before parsing (with a diagnostic)."""

_MAX_JSON_STARTS = 8  # embedded JSON start positions tried in prose
_MAX_REPAIR_CHARS = 6_000  # characters json-repair reads per call (it is superlinear)
_MAX_REPAIR_TOTAL = 12_000  # ... and per parse: about 0.3 s at worst
_MAX_BOUNDARIES = 10_000  # element boundaries remembered per scan
_MAX_JSON_DEPTH = 32  # deeper JSON-ish nesting is not an answer (and would recurse)
_MAX_DEPTH = 6  # nesting depth searched for the action list


@dataclass(frozen=True)
class ParseResult:
    """What :func:`parse_actions` recovered from one text.

    ``format`` is one of ``"empty"``, ``"json"``, ``"json-repaired"``, ``"list"``,
    ``"structured"`` (input was already a list/dict) or ``"unparsed"`` (``error`` is set).
    """

    actions: tuple[Action, ...] = ()
    diagnostics: list[str] = field(default_factory=list)
    error: str | None = None
    format: str = "empty"

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_dict(self) -> dict[str, Any]:
        """``{"actions": [{"text", "apl", "proactive"}], "diagnostics", "format", "error"}``."""
        return {
            "actions": [a.to_dict() for a in self.actions],
            "diagnostics": list(self.diagnostics),
            "format": self.format,
            "error": self.error,
        }


# --------------------------------------------------------------------------------------------
# field coercion

coerce_apl = apl_lenient
"""An APL in 0..4 from a model's value, or None: the lenient reading of :mod:`.vocabulary`."""
coerce_proactive = proactive_lenient
"""True/False from a model's flag, or None: the lenient reading of :mod:`.vocabulary`."""


# --------------------------------------------------------------------------------------------
# text cleaning and inline markers

_EMPHASIS_RE = re.compile(r"\*\*|__|(?<!\w)\*(?=\S)|(?<=\S)\*(?!\w)|`+")
_WS_RE = re.compile(r"\s+")
_QUOTES = "\"'“”‘’「」『』"


def _clean_text(text: str) -> str:
    text = _EMPHASIS_RE.sub("", text)
    text = _WS_RE.sub(" ", text).strip()
    while len(text) >= 2 and text[0] in _QUOTES and text[-1] in _QUOTES:
        text = text[1:-1].strip()
    return text.strip(" -–—:;,|").strip()


def _truncate(text: str, max_chars: int) -> str:
    if len(text) <= max_chars:
        return text
    cut = text[:max_chars]
    space = cut.rfind(" ")
    if space >= max_chars // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:-–—")


# --------------------------------------------------------------------------------------------
# collecting items into actions


@dataclass
class _Item:
    text: Any
    apl: Any = None
    proactive: Any = None
    invert: bool = False


class _Builder:
    """Collects raw items, coerces fields and enforces the bounds."""

    def __init__(self, max_actions: int, max_chars: int, diagnostics: list[str]):
        self.max_actions = max_actions
        self.max_chars = max_chars
        self.diags = diagnostics
        self.actions: list[Action] = []
        self.dropped = 0
        self.seen = 0

    def add(self, item: _Item) -> None:
        self.seen += 1
        where = f"item {self.seen}"
        if not isinstance(item.text, str):
            self.diags.append(
                f"{where}: action text is {type(item.text).__name__}, not a string; dropped"
            )
            return
        if len(self.actions) >= self.max_actions:
            if item.text.strip():
                self.dropped += 1  # not read further: the answer already holds max_actions
            return
        # whitespace collapsed first: the marker regexes then never meet long blank runs
        text, markers = split_markers(_WS_RE.sub(" ", item.text))
        text, replaced = replace_surrogates(_clean_text(text))  # "\ud83d" escapes in JSON
        if replaced:
            self.diags.append(f"{where}: lone surrogate(s) replaced by U+FFFD")
        if not text:
            self.diags.append(f"{where}: empty action text; dropped")
            return
        if len(text) > self.max_chars:
            text = _truncate(text, self.max_chars)
            self.diags.append(
                f"{where}: action text longer than {self.max_chars} characters; truncated"
            )
            if not text:
                return
        apl_raw = item.apl if item.apl is not None else markers.apl
        pro_raw, invert = (
            (item.proactive, item.invert)
            if item.proactive is not None
            else (markers.proactive, False)
        )
        apl = coerce_apl(apl_raw, self.diags, where)
        proactive = coerce_proactive(pro_raw, self.diags, where, invert=invert)
        self.actions.append(Action(text=text, apl=apl, proactive=proactive))

    def finish(self) -> tuple[Action, ...]:
        if self.dropped:
            self.diags.append(
                f"{self.dropped} action(s) beyond max_actions={self.max_actions} dropped"
            )
        return tuple(self.actions)


# --------------------------------------------------------------------------------------------
# JSON: finding, repairing, walking

_FENCE_RE = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[ \t]*\n?(.*?)(?:```|\Z)", re.DOTALL)
_THINK_RE = re.compile(r"<think>.*?(?:</think>|\Z)", re.DOTALL | re.IGNORECASE)
_JSON_START_RE = re.compile(r"\{|\[(?=\s*[\[{\"'\]])")

_TEXT_KEYS = (
    "action",
    "text",
    "description",
    "content",
    "action_text",
    "recommended_action",
    "suggested_action",
    "step",
    "task",
    "name",
    "title",
)
_APL_KEYS = (
    "apl",
    "apl_level",
    "priority",
    "priority_level",
    "action_prioritization_level",
    "prioritization_level",
    "level",
    "urgency",
)
_PRO_KEYS = (
    "proactive",
    "is_proactive",
    "type",
    "action_type",
    "kind",
    "mode",
    "proactivity",
    "category",
)
_REACTIVE_KEYS = ("reactive", "is_reactive")
_WRAPPER_HINTS = (
    "action",
    "proposal",
    "response",
    "answer",
    "output",
    "result",
    "item",
    "recommend",
    "step",
    "plan",
    "list",
    "data",
)
_STRONG_WRAPPERS = 8  # the first hints: their lists are read before the object itself


@functools.lru_cache(maxsize=4096)
def _norm_key(key: Any) -> str:
    return re.sub(r"[\s\-]+", "_", str(key).strip().lower())


_SCAN_RE = re.compile(
    r'"[^"\\]*(?:\\.[^"\\]*)*"?'  # a double-quoted string (maybe unterminated)
    r"|'[^'\\]*(?:\\.[^'\\]*)*'?"  # a single-quoted string (Python literals)
    r"|//[^\n]*|/\*.*?(?:\*/|\Z)"  # comments
    r"|[\[\]{},]"
    r"|(?<![\w.])[A-Za-z_][\w\-]*(?=\s*(:?))",  # a word; group 1 is ":" when the word is a key
    re.DOTALL,
)
_LITERAL_WORDS = frozenset({"true", "false", "null", "True", "False", "None", "NaN", "Infinity"})


@dataclass
class _Span:
    """The extent of the JSON-ish value starting at some position, from one linear scan.

    ``end`` is the position after its closing bracket, or None when the text ends first
    (truncated); then ``cut`` is where the cut-off array element begins, and ``cut_closers``
    the brackets that close what is open there. ``boundaries`` are ``(position, closers)``
    of the commas between array elements, where a too-long text can be cut cleanly.
    """

    end: int | None = None
    cut: int | None = None
    cut_closers: str = ""
    too_deep: bool = False
    bare_words: bool = False
    boundaries: list[tuple[int, str]] = field(default_factory=list)


def _scan(text: str, start: int) -> _Span:
    """Scan the value at ``text[start]`` (``{`` or ``[``); linear, never recursive.

    Strings, comments and brackets are found by one regex (in C); the loop only visits
    brackets, commas and bare words.
    """
    span = _Span()
    stack: list[str] = []  # the closer of each open container
    starts: list[int] = []  # and where it opened
    open_string: int | None = None
    for m in _SCAN_RE.finditer(text, start):
        tok = m.group()
        c = tok[0]
        if c in "{[":
            if len(stack) >= _MAX_JSON_DEPTH:
                span.too_deep = True
                return span
            stack.append("}" if c == "{" else "]")
            starts.append(m.start())
        elif c in "}]":
            if stack and stack[-1] == c:
                stack.pop()
                starts.pop()
                if not stack:
                    span.end = m.end()
                    return span
        elif c == ",":
            if stack and stack[-1] == "]" and len(span.boundaries) < _MAX_BOUNDARIES:
                span.boundaries.append((m.start(), "".join(reversed(stack))))
        elif c in "\"'":
            if len(tok) == 1 or tok[-1] != c or _escaped_end(tok):
                open_string = m.start()  # runs to the end of the text
        elif not m.group(1) and tok not in _LITERAL_WORDS and (c.isalpha() or c == "_"):
            span.bare_words = True  # a bare word value (apl: high): json-repair quotes it
    # truncated: the innermost open element of an array is the half-written item
    opened = list(zip(stack, starts, strict=True))
    if open_string is not None:
        opened.append(("", open_string))
    for i in range(len(opened) - 1, 0, -1):
        if opened[i - 1][0] == "]":
            span.cut = opened[i][1]
            span.cut_closers = "".join(reversed(stack[:i]))
            break
    return span


def _escaped_end(tok: str) -> bool:
    """True if the closing quote of ``tok`` is escaped (an odd run of backslashes before it)."""
    n = len(tok) - 1 - len(tok[:-1].rstrip("\\"))
    return n % 2 == 1


def _closed(body: str, closers: str) -> str:
    """``body`` without a trailing comma, followed by ``closers``."""
    body = body.rstrip()
    if body.endswith(","):
        body = body[:-1]
    return body + closers


_DECODER = json.JSONDecoder()


@dataclass
class _Loaded:
    value: Any
    repaired: bool = False
    truncated: bool = False
    bare_words: bool = False
    note: str | None = None


@dataclass
class _RepairBudget:
    """Characters json-repair may still read in this parse.

    json-repair is pure Python and superlinear on some defects (bare word values, single
    quotes): bounding what it reads keeps every parse fast whatever the input.
    """

    chars: int = _MAX_REPAIR_TOTAL


def _repair(text: str) -> Any:
    """``json_repair.loads(text)``; None when it fails (it is lenient, but guard anyway)."""
    import json_repair

    try:
        return json_repair.loads(text)
    except Exception:  # noqa: BLE001 - a repair that fails is simply no answer
        return None


def _loads_repaired(text: str, start: int, budget: _RepairBudget) -> _Loaded | None:
    """The JSON-ish value starting at ``text[start]``, or None.

    Policy, in order: valid JSON (the C decoder); a truncated text closed after its last
    complete array element (the cut-off one is dropped: json-repair alone would keep it
    half-written); otherwise json-repair, on at most ``_MAX_REPAIR_CHARS`` characters (a
    longer defective text is cut at an element boundary). Nesting deeper than
    ``_MAX_JSON_DEPTH`` is not an answer.
    """
    try:
        value, _ = _DECODER.raw_decode(text, start)
        return _Loaded(value)
    except (ValueError, RecursionError):
        pass
    span = _scan(text, start)
    if span.too_deep:
        return None
    truncated = span.end is None
    end = span.end if span.end is not None else span.cut
    closers = "" if span.end is not None else span.cut_closers
    if truncated and end is not None:
        try:
            value = json.loads(_closed(text[start:end], closers))
            return _Loaded(value, True, True, span.bare_words)
        except (ValueError, RecursionError):
            pass  # other defects too: json-repair below
    if end is None:
        end = len(text)
    note = None
    limit = min(_MAX_REPAIR_CHARS, budget.chars)
    if end - start > limit:
        fitting = [b for b in span.boundaries if b[0] - start <= limit]
        if not fitting:
            return None
        end, closers = fitting[-1]
        truncated = True
        note = f"JSON with defects longer than {limit} characters; read the items in its start"
    body = _closed(text[start:end], closers)
    budget.chars -= len(body)
    value = _repair(body)
    if value is None or value == "":
        return None
    return _Loaded(value, True, truncated, span.bare_words, note)


class _Walker:
    """Finds actions in a decoded JSON value."""

    def __init__(self, builder: _Builder):
        self.builder = builder

    def walk(self, value: Any, depth: int = 0, top: bool = True) -> bool:
        """Add the actions in ``value``; True if it is recognisably an action answer."""
        if depth > _MAX_DEPTH:
            return False
        if isinstance(value, list):
            return self._list(value, depth, top)
        if isinstance(value, dict):
            return self._dict(value, depth)
        return False

    def _list(self, items: list[Any], depth: int, top: bool) -> bool:
        if not items:
            return top
        found = False
        skipped: list[str] = []
        for el in items:
            item = self._item(el)
            if item is not None:
                self.builder.add(item)
                found = True
            elif isinstance(el, dict | list) and self.walk(el, depth + 1, top=False):
                found = True
            else:
                skipped.append(type(el).__name__)
        if found and skipped:
            self.builder.diags.append(
                f"{len(skipped)} list element(s) without action text ignored "
                f"({', '.join(sorted(set(skipped)))})"
            )
        return found

    def _item(self, el: Any) -> _Item | None:
        if isinstance(el, str):
            return _Item(el)
        if isinstance(el, dict):
            return _item_from_object(el)
        if _is_triple(el):
            return _Item(el[0], el[1] if len(el) > 1 else None, el[2] if len(el) > 2 else None)
        return None

    def _dict(self, obj: dict[str, Any], depth: int) -> bool:
        ranked = sorted((_wrapper_rank(_norm_key(k)), i, k) for i, k in enumerate(obj))
        # strong wrappers ("actions", "response", ...) first, so that {"description": ...,
        # "actions": [...]} is read as a wrapper and not as one action
        for rank, _, key in ranked:
            if rank < _STRONG_WRAPPERS and self._wrapped(obj[key], rank, depth):
                return True
        item = _item_from_object(obj)
        if item is not None:
            self.builder.add(item)
            return True
        return any(
            self._wrapped(obj[key], rank, depth)
            for rank, _, key in ranked
            if rank >= _STRONG_WRAPPERS
        )

    def _wrapped(self, value: Any, rank: int, depth: int) -> bool:
        if isinstance(value, list) and not value:
            return rank < len(_WRAPPER_HINTS)  # {"actions": []}: an explicit "nothing to do"
        return isinstance(value, dict | list) and self.walk(value, depth + 1, top=False)


def _is_triple(el: Any) -> bool:
    """``["Call 911", 4, true]``: a text with up to two scalar fields."""
    return (
        isinstance(el, list)
        and 0 < len(el) <= 3
        and isinstance(el[0], str)
        and all(not isinstance(x, dict | list) for x in el)
    )


def _wrapper_rank(key: str) -> int:
    for rank, hint in enumerate(_WRAPPER_HINTS):
        if hint in key:
            return rank
    return len(_WRAPPER_HINTS)


def _item_from_object(obj: Mapping[Any, Any]) -> _Item | None:
    keys = {_norm_key(k): v for k, v in obj.items()}
    text = next((keys[k] for k in _TEXT_KEYS if k in keys and isinstance(keys[k], str)), None)
    if text is None:
        return None
    apl = next((keys[k] for k in _APL_KEYS if k in keys and keys[k] is not None), None)
    pro = next((keys[k] for k in _PRO_KEYS if k in keys and keys[k] is not None), None)
    invert = False
    if pro is None:
        pro = next((keys[k] for k in _REACTIVE_KEYS if k in keys and keys[k] is not None), None)
        invert = pro is not None
    return _Item(text, apl, pro, invert)


def _json_sources(text: str) -> Iterator[tuple[str, int, bool]]:
    """(text, start, embedded) places where JSON may be, lazily; embedded ones need more evidence."""
    if "```" in text:
        for m in _FENCE_RE.finditer(text):
            body = m.group(2).strip()
            if body and body[0] in "{[":
                yield body, 0, False
    offset = len(text) - len(text.lstrip())
    if text[offset : offset + 1] in ("{", "["):
        yield text, offset, False  # the whole text (an embedded start there is then skipped)
    for count, m in enumerate(_JSON_START_RE.finditer(text)):
        if count >= _MAX_JSON_STARTS:
            break
        yield text, m.start(), True


def _has_action_object(value: Any, depth: int = 0) -> bool:
    if depth > _MAX_DEPTH:
        return False
    if isinstance(value, dict):
        if _item_from_object(value) is not None:
            return True
        return any(_has_action_object(v, depth + 1) for v in value.values())
    if isinstance(value, list):
        return any(_has_action_object(v, depth + 1) for v in value)
    return False


def _plausible_embedded(value: Any, repaired: bool) -> bool:
    """JSON inside prose counts only if it holds an action object, or is a clean list of strings.

    This keeps ``[reactive]`` or ``{urgent}`` in a list line from being read as JSON answers.
    """
    if _has_action_object(value):
        return True
    if isinstance(value, list):
        return bool(value) and not repaired and all(isinstance(v, str) for v in value)
    return not repaired


def _try_json(
    text: str, max_actions: int, max_chars: int, budget: _RepairBudget | None = None
) -> ParseResult | None:
    budget = budget if budget is not None else _RepairBudget()
    tried: set[tuple[int, int]] = set()
    for source, start, embedded in _json_sources(text):
        key = (id(source), start) if source is text else (hash(source), start)
        if key in tried:
            continue
        tried.add(key)
        loaded = _loads_repaired(source, start, budget)
        if loaded is None:
            continue
        value, repaired, truncated = loaded.value, loaded.repaired, loaded.truncated
        bare_words = loaded.bare_words
        if isinstance(value, str) and value.strip()[:1] in ("{", "["):
            inner = _try_json(value, max_actions, max_chars, budget)
            if inner is not None:
                return inner
            continue
        if (embedded or bare_words) and not _plausible_embedded(value, repaired):
            continue
        diags: list[str] = []
        builder = _Builder(max_actions, max_chars, diags)
        if not _Walker(builder).walk(value):
            continue
        actions = builder.finish()
        head: list[str] = []
        if loaded.note:
            head.append(loaded.note)
        elif truncated:
            head.append("JSON was truncated; kept the complete items")
        elif repaired:
            head.append("JSON had defects (quotes, literals, commas or keys); repaired")
        if embedded:
            head.append("JSON found inside surrounding text")
        return ParseResult(actions, head + diags, None, "json-repaired" if repaired else "json")
    return None


# --------------------------------------------------------------------------------------------
# lists

_LIST_ITEM_RE = re.compile(
    r"^\s*(?:[-*•·+▪●◦‣](?=\s)|\d{1,3}\s*[.)\]:、．](?!\d)|\(\d{1,3}\)|[a-zA-Z][.)](?=\s)|#\d{1,3}|第\d+[条步])\s*(.*)$"
)
_KV_RE = re.compile(
    r"^\s*(?:[-*•·+]\s*|\d{1,3}[.)]\s*)?"
    r"(action(?:\s*\d{1,3})?|recommended\s+action|suggested\s+action|step(?:\s*\d{1,3})?|"
    rf"{LABEL_APL_RE}|{LABEL_TYPE_RE}|reactive)\s*[:=：]\s*(.*)$",
    re.IGNORECASE,
)
_APL_LABEL_RE = re.compile(LABEL_APL_RE, re.IGNORECASE)
_TYPE_LABEL_RE = re.compile(LABEL_TYPE_RE, re.IGNORECASE)
_COMMENT_KEY_RE = re.compile(
    r"^(?:reason(?:ing)?|rationale|why|explanation|justification|notes?|description|details|"
    r"context|observation|evidence)\s*:",
    re.IGNORECASE,
)
_HEADING_RE = re.compile(r"^\s*#{1,6}\s")
_TABLE_SEP_RE = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$")


def _kv_fields(line: str) -> dict[str, str] | None:
    """``{"action"|"apl"|"type": value}`` for a key-value line, or None."""
    parts = re.split(r"\s*[;|]\s*", line)
    fields: dict[str, str] = {}
    for part in parts:
        m = _KV_RE.match(part)
        if not m:
            if fields:
                return fields if "action" in fields else None
            return None
        key = _norm_key(m.group(1)).replace("_", " ")
        value = m.group(2).strip()
        if _APL_LABEL_RE.fullmatch(key):
            fields.setdefault("apl", value)
        elif key == "reactive":
            fields.setdefault("reactive", value)
        elif _TYPE_LABEL_RE.fullmatch(key):
            fields.setdefault("type", value)
        else:
            fields.setdefault("action", value)
    return fields or None


class _ListParser:
    """Line-by-line reader for numbered/bulleted lists, key-value blocks and tables."""

    def __init__(self, builder: _Builder):
        self.builder = builder
        self.items: list[_Item] = []
        self.table_cols: dict[str, int] | None = None

    def parse(self, text: str) -> int:
        for raw in text.splitlines():
            line = _WS_RE.sub(" ", _EMPHASIS_RE.sub("", raw)).strip()
            if not line or _HEADING_RE.match(line):
                continue
            if line.startswith("|") and self._table_row(line):
                continue
            if self._kv_line(line):
                continue
            m = _LIST_ITEM_RE.match(line)
            if m:
                content = m.group(1).strip()
                if content and not content.endswith(":") and not _COMMENT_KEY_RE.match(content):
                    self.items.append(_Item(content))
                continue
            self._marker_line(line)
        for item in self.items:
            self.builder.add(item)
        return len(self.items)

    def _kv_line(self, line: str) -> bool:
        fields = _kv_fields(line)
        if not fields:
            return False
        if "action" in fields:
            if not fields["action"]:
                return True
            item = _Item(
                fields["action"], fields.get("apl"), fields.get("type") or fields.get("reactive")
            )
            item.invert = "type" not in fields and "reactive" in fields
            self.items.append(item)
            return True
        if not self.items:
            return True  # "Priority: high" before any action: nothing to attach to
        last = self.items[-1]
        if "apl" in fields and last.apl is None:
            last.apl = fields["apl"]
        if last.proactive is None and ("type" in fields or "reactive" in fields):
            last.proactive = fields.get("type") or fields["reactive"]
            last.invert = "type" not in fields
        return True

    def _marker_line(self, line: str) -> None:
        """A line that only holds markers, e.g. "(APL 4, proactive)", attaches to the last item."""
        if not self.items:
            return
        inner = line.strip("()[]{} ")
        markers = read_marker_segment(inner)
        if markers is None:
            return
        last = self.items[-1]
        if last.apl is None:
            last.apl = markers.apl
        if last.proactive is None:
            last.proactive = markers.proactive

    def _table_row(self, line: str) -> bool:
        if _TABLE_SEP_RE.match(line):
            return True
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        lowered = [_norm_key(c) for c in cells]
        if self.table_cols is None:
            cols: dict[str, int] = {}
            for idx, name in enumerate(lowered):
                if name in _APL_KEYS or any(w in name for w in ("apl", "priorit", "urgency")):
                    cols.setdefault("apl", idx)
                elif name in _PRO_KEYS or any(w in name for w in ("proactiv", "reactiv", "type")):
                    cols.setdefault("pro", idx)
                elif name in _TEXT_KEYS or "action" in name:
                    cols.setdefault("text", idx)
            if "text" in cols:
                self.table_cols = cols
                return True
            return False
        cols = self.table_cols

        def cell(name: str) -> str | None:
            idx = cols.get(name)
            return cells[idx] if idx is not None and idx < len(cells) else None

        text = cell("text")
        if text:
            self.items.append(_Item(text, cell("apl") or None, cell("pro") or None))
        return True


# --------------------------------------------------------------------------------------------
# entry point


def parse_actions(text: Any, *, max_actions: int = 32, max_chars: int = 400) -> ParseResult:
    """Recover proposals from a model's output text. Never raises (see the module docstring)."""
    try:
        return _parse(text, max(0, int(max_actions)), max(1, int(max_chars)))
    except Exception as e:  # noqa: BLE001 - the parser must never raise
        msg = f"internal parser error: {type(e).__name__}: {e}"
        return ParseResult((), [msg], msg, "unparsed")


def _remove_reasoning(text: str) -> tuple[str, bool]:
    """Drop ``<think>...</think>`` blocks (and a leading block whose ``<think>`` was in the prompt)."""
    lowered = text.lower()
    if "<think>" not in lowered:
        idx = lowered.rfind("</think>")
        return (text[idx + len("</think>") :], True) if idx >= 0 else (text, False)
    return _THINK_RE.sub("", text), True


def _parse(text: Any, max_actions: int, max_chars: int) -> ParseResult:
    if text is None:
        return ParseResult((), ["no text"], None, "empty")
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    if isinstance(text, list | dict):
        diags: list[str] = []
        builder = _Builder(max_actions, max_chars, diags)
        if _Walker(builder).walk(text):
            return ParseResult(builder.finish(), diags, None, "structured")
        return ParseResult((), diags, "no actions found in the structured value", "unparsed")
    if not isinstance(text, str):
        msg = f"expected text, got {type(text).__name__}"
        return ParseResult((), [msg], msg, "unparsed")
    pre: list[str] = []
    text, replaced = replace_surrogates(text)
    if replaced:
        pre.append(f"{replaced} lone surrogate(s) (a cut character) replaced by U+FFFD")
    if len(text) > MAX_INPUT_CHARS:
        text = text[:MAX_INPUT_CHARS]
        pre.append(f"text longer than {MAX_INPUT_CHARS} characters; cut before parsing")
    if "think>" in text.lower():
        text, removed = _remove_reasoning(text)
        if removed:
            pre.append("reasoning block (<think>) removed")
            if not text.strip():
                msg = "only a reasoning block, no answer after it"
                return ParseResult((), pre + [msg], msg, "unparsed")
    if not text.strip():
        return ParseResult((), pre + ["empty text: no actions"], None, "empty")
    result = _try_json(text, max_actions, max_chars)
    if result is not None:
        return ParseResult(result.actions, pre + result.diagnostics, result.error, result.format)
    diags = list(pre)
    builder = _Builder(max_actions, max_chars, diags)
    if _ListParser(builder).parse(text):
        actions = builder.finish()
        if actions:
            return ParseResult(actions, diags, None, "list")
    msg = "no actions found: the text has no JSON, list items or 'Action:' lines"
    return ParseResult((), diags + [msg], msg, "unparsed")

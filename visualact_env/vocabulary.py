"""The one vocabulary of APL and proactive/reactive words and inline markers.

Both readers of action text use it: the parser (:mod:`visualact_env.parsing`, a model's
answer) and the importer (:mod:`visualact_env.importer`, the released ground truth). Keeping
the words in one place means ``urgent``, ``P3`` or ``non-proactive`` mean the same thing to
both. Each field has two readings:

* **strict** (ground truth, the importer): a value is accepted only when it unambiguously is
  a level or a flag. APL: an integer 0..4 (``3``, ``3.0``, ``"3"``), a labelled integer
  (``"APL 3"``, ``"P3"``, ``"level_2"``, ``"Priority: 4"``), or a word of :data:`APL_WORDS`
  alone or with a label (``"urgent"``, ``"high priority"``, ``"APL: critical"``). Out of range,
  fractions, ``"3/4"`` and booleans give ``None``. Flag: a boolean, ``0``/``1`` or a phrase of
  :data:`PROACTIVE_WORDS` (``"proactive"``, ``"non-proactive"``, ``"Reactive action"``).
* **lenient** (a model's answer, the parser): anything the strict reading accepts, plus the
  first number in a string (``"3/4"`` -> 3, ``"level 3 (high)"`` -> 3), rounding half up
  (2.5 -> 3) and clamping into 0..4, a level word anywhere in the string; for the flag,
  ``0.0``/``1.0`` and any phrase that mentions exactly one of proactive/reactive (negations
  such as ``"not proactive"`` invert it). Each deviation from the strict reading adds a
  diagnostic.

Inline markers (``"Call 911 (APL 4, proactive)"``, ``"[APL 2][reactive] Close the door"``,
``"Open the window - APL 1 - proactive"``, ``"Tidy the desk (non-proactive, APL 1)"``) are
split off by :func:`split_markers`, which returns the raw marker values so that each caller
applies its own reading. A bracket or trailing segment counts as a marker only when every
comma-separated token in it is one and at least one is labelled (``"(2)"`` or ``"(high)"``
alone stay in the text: too ambiguous).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

__all__ = [
    "APL_LABELS",
    "APL_WORDS",
    "PROACTIVE_WORDS",
    "Markers",
    "apl_lenient",
    "apl_strict",
    "proactive_lenient",
    "proactive_strict",
    "read_marker_segment",
    "split_markers",
]

APL_WORDS: Mapping[str, int] = MappingProxyType(
    {
        "critical": 4,
        "emergency": 4,
        "highest": 4,
        "immediate": 4,
        "extreme": 4,
        "very high": 4,
        "high": 3,
        "urgent": 3,
        "medium": 2,
        "moderate": 2,
        "normal": 2,
        "mid": 2,
        "low": 1,
        "routine": 0,
        "none": 0,
        "minimal": 0,
        "lowest": 0,
        "trivial": 0,
    }
)
"""Level words and the APL each one means (both readings)."""

APL_LABELS: tuple[str, ...] = (
    "action prioritization level",
    "action prioritisation level",
    "prioritization level",
    "prioritisation level",
    "priority level",
    "apl level",
    "apl",
    "level",
    "lvl",
    "priority",
    "prio",
    "urgency",
    "优先级",
    "p",
    "l",
)
"""Labels that may precede an APL value (``"APL 3"``, ``"P3"``, ``"level: 2"``)."""

PROACTIVE_WORDS: Mapping[str, bool] = MappingProxyType(
    {
        # proactive
        "proactive": True,
        "pro active": True,
        "proactive action": True,
        "proactively": True,
        "pro": True,
        "p": True,
        "yes": True,
        "y": True,
        "true": True,
        "1": True,
        "preventive": True,
        "preventative": True,
        "anticipatory": True,
        "non reactive": True,
        "nonreactive": True,
        "not reactive": True,
        "主动": True,
        "是": True,
        # reactive
        "reactive": False,
        "re active": False,
        "reactive action": False,
        "reactively": False,
        "re": False,
        "r": False,
        "no": False,
        "n": False,
        "false": False,
        "0": False,
        "responsive": False,
        "non proactive": False,
        "nonproactive": False,
        "not proactive": False,
        "被动": False,
        "否": False,
    }
)
"""Flag phrases (after :func:`_norm_phrase`: lower case, ``-``/``_`` as spaces) -> proactive."""


# --------------------------------------------------------------------------------------------
# APL


def _norm_phrase(value: str) -> str:
    """Lower case, ``_``/``-`` as spaces, whitespace collapsed, outer punctuation removed."""
    s = value.strip().lower().replace("_", " ").replace("-", " ")
    return " ".join(s.split()).strip(" .:;,!")


_LABELS_RE = "|".join(re.escape(label) for label in APL_LABELS)
_WORDS_RE = "|".join(sorted((re.escape(w) for w in APL_WORDS), key=len, reverse=True))
_STRICT_APL_RE = re.compile(
    rf"^(?:(?:{_LABELS_RE})\s*[:=#]?\s*)?(?:(?P<num>\d+(?:\.0+)?)|(?P<word>{_WORDS_RE}))"
    r"(?:\s+(?:priority|urgency|apl|level))?$"
)
_NUMBER_RE = re.compile(r"(?<![\w.])[-+]?\d+(?:\.\d+)?")
_APL_WORD_RE = re.compile(rf"\b({_WORDS_RE})\b", re.IGNORECASE)


def apl_strict(value: Any) -> int | None:
    """The APL ``value`` unambiguously names (0..4), or None (see the module docstring)."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 0 <= value <= 4 else None
    if isinstance(value, float):
        return int(value) if value.is_integer() and 0 <= value <= 4 else None
    if not isinstance(value, str):
        return None
    try:
        return apl_strict(float(value))  # "3", "4.0", "-1", "nan"
    except ValueError:
        pass
    m = _STRICT_APL_RE.match(_norm_phrase(value).replace(" :", ":"))
    if m is None:
        return None
    if m.group("word"):
        return APL_WORDS[m.group("word")]
    level = int(float(m.group("num")))
    return level if 0 <= level <= 4 else None


def apl_lenient(value: Any, diagnostics: list[str] | None = None, where: str = "") -> int | None:
    """An APL in 0..4 read generously from a model's value, or None; deviations are noted.

    Booleans, NaN/infinity and text with neither a number nor a level word give None (with a
    diagnostic); fractions are rounded half up; out-of-range numbers are clamped.
    """
    diags = diagnostics if diagnostics is not None else []
    prefix = f"{where}: " if where else ""
    if value is None:
        return None
    if isinstance(value, bool):
        diags.append(f"{prefix}APL {value!r} is a boolean, not a level; ignored")
        return None
    number: float | None = None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        strict = apl_strict(value)
        if strict is not None:
            return strict
        m = _NUMBER_RE.search(value)
        if m:
            number = float(m.group())
        else:
            w = _APL_WORD_RE.search(value)
            if w:
                return APL_WORDS[w.group(1).lower()]
    if number is None or math.isnan(number) or math.isinf(number):
        diags.append(f"{prefix}APL {_short(value)} is not a level; ignored")
        return None
    level = math.floor(number + 0.5)
    if level != number:
        diags.append(f"{prefix}APL {_short(value)} rounded to {level}")
    if level < 0 or level > 4:
        clamped = min(4, max(0, level))
        diags.append(f"{prefix}APL {_short(value)} out of range, clamped to {clamped}")
        level = clamped
    return int(level)


# --------------------------------------------------------------------------------------------
# proactive flag

_PRO_MENTION_RE = re.compile(r"\bpro ?active(?:ly)?\b")
_RE_MENTION_RE = re.compile(r"\bre ?active(?:ly)?\b")
_NEGATION_RE = re.compile(r"\b(?:non|not|never)\b")


def proactive_strict(value: Any, invert: bool = False) -> bool | None:
    """True/False for a boolean, ``0``/``1`` or a phrase of :data:`PROACTIVE_WORDS`, else None.

    ``invert`` is for fields that name the opposite (``reactive``, ``is_reactive``).
    """
    result: bool | None = None
    if isinstance(value, bool):
        result = value
    elif isinstance(value, int) and value in (0, 1):
        result = bool(value)
    elif isinstance(value, str):
        result = PROACTIVE_WORDS.get(_norm_phrase(value))
    if result is None:
        return None
    return (not result) if invert else result


def proactive_lenient(
    value: Any, diagnostics: list[str] | None = None, where: str = "", invert: bool = False
) -> bool | None:
    """True/False read generously from a model's flag, or None (with a diagnostic)."""
    diags = diagnostics if diagnostics is not None else []
    prefix = f"{where}: " if where else ""
    if value is None:
        return None
    result = proactive_strict(value)
    if result is None and isinstance(value, float) and value in (0.0, 1.0):
        result = bool(value)
    elif result is None and isinstance(value, str):
        result = _mentioned_flag(_norm_phrase(value))
    if result is None:
        diags.append(f"{prefix}proactive flag {_short(value)} not understood; ignored")
        return None
    return (not result) if invert else result


def _mentioned_flag(phrase: str) -> bool | None:
    """The flag of a phrase that mentions exactly one of proactive/reactive (negation inverts)."""
    pro = _PRO_MENTION_RE.search(phrase)
    rea = _RE_MENTION_RE.search(phrase)
    if pro and rea:  # "reactive rather than proactive": the first one named wins
        return pro.start() < rea.start()
    if not pro and not rea:
        return None
    negated = _NEGATION_RE.search(phrase) is not None
    return (not negated) if pro else negated


def _short(value: Any, limit: int = 40) -> str:
    r = repr(value)
    return r if len(r) <= limit else r[: limit - 3] + "..."


# --------------------------------------------------------------------------------------------
# inline markers

LABEL_APL_RE = (
    r"(?:apl|优先级|action\s+prioriti[sz]ation\s+level|prioriti[sz]ation\s+level|"
    r"priority\s+level|priority|level|urgency)"
)
"""Regex (no groups) of the labels that introduce an APL in a marker or a key-value line."""
LABEL_TYPE_RE = r"(?:type|类型|action\s+type|kind|mode|proactiv(?:e|ity)|category)"
"""Regex (no groups) of the labels that introduce a proactive/reactive flag."""

_APL_VALUE = rf"(?:[-+]?\d+(?:\.\d+)?(?:\s*/\s*4)?|{_WORDS_RE})"
_APL_TOKEN_RE = re.compile(
    rf"^{LABEL_APL_RE}\s*(?:[:=\-：]\s*)?({_APL_VALUE})(?:\s*(?:[-:]\s*)?\(?[a-z ]+\)?)?$",
    re.IGNORECASE,
)
_P_TOKEN_RE = re.compile(r"^P([0-4])$")  # "P3": capital P only, so "p" in prose is not a marker
_APL_WORD_PRIORITY_RE = re.compile(rf"^({_APL_VALUE})\s+(?:priority|urgency|apl)$", re.IGNORECASE)
_TYPE_TOKEN_RE = re.compile(rf"^{LABEL_TYPE_RE}\s*[:=：]\s*([\w\- ]+)$", re.IGNORECASE)
_PRO_WORD_RE = re.compile(
    r"^((?:(?:non|not)[\s\-]?)?(?:pro-?active|re-?active)|主动|被动)"
    r"(?:\s*(?:action|行动|动作))?$",
    re.IGNORECASE,
)
_BARE_VALUE_RE = re.compile(rf"^({_APL_VALUE})$", re.IGNORECASE)

_BRACKET_SEGMENT_RE = re.compile(r"\s*[(\[{（【]([^()\[\]{}（）【】]{1,80})[)\]}）】]\s*")
_MARKER_HINT_RE = re.compile(
    r"apl|priorit|level|urgen|type|kind|mode|proactiv|reactiv|categor|主动|被动|优先级|类型|"
    r"\bP[0-4]\b",
    re.IGNORECASE,
)
_TOKEN_SPLIT_RE = re.compile(r"[,;|，；、]")
_TRAILING_SEP_RE = re.compile(r"(?:\s+[-–—|]\s+|\s*[;|]\s*|,\s*|(?<=[a-z)])\.\s+)")


@dataclass
class Markers:
    """Raw marker values found in a text (``apl`` and ``proactive`` as written, or None)."""

    apl: Any = None
    proactive: Any = None


def read_marker_segment(content: str) -> Markers | None:
    """Markers if every comma/semicolon-separated token of ``content`` is one, else None.

    ``"APL 4, proactive"`` -> ``Markers("4", "proactive")``; ``"now"``, ``"2"`` -> None.
    """
    tokens = [t.strip() for t in _TOKEN_SPLIT_RE.split(content) if t.strip()]
    if not tokens:
        return None
    found = Markers()
    bare: list[str] = []
    labelled = False
    for tok in tokens:
        m = _APL_TOKEN_RE.match(tok) or _APL_WORD_PRIORITY_RE.match(tok) or _P_TOKEN_RE.match(tok)
        if m:
            found.apl, labelled = m.group(1), True
        elif m := _TYPE_TOKEN_RE.match(tok):
            found.proactive, labelled = m.group(1).strip(), True
        elif m := _PRO_WORD_RE.match(tok):
            found.proactive, labelled = m.group(1), True
        elif _BARE_VALUE_RE.match(tok):
            bare.append(tok)
        else:
            return None
    if not labelled:
        return None  # "(2)" or "(high)" alone is too ambiguous to be a marker
    if bare and found.apl is None and len(bare) == 1:
        found.apl = bare[0]
    elif bare:
        return None
    return found


def split_markers(text: str) -> tuple[str, Markers]:
    """Remove ``(APL 4, proactive)``-style markers from ``text``; return the rest and them.

    Markers are bracketed segments anywhere (``[APL 2] Close the door``) and trailing
    segments after `` - ``, ``;``, ``|`` or ``,`` (``Call 911 - APL 4 - proactive``). The first
    value found for each field wins. Linear in the text's length.
    """
    found = Markers()
    if not _MARKER_HINT_RE.search(text):
        return text, found  # fast path: every marker needs one of these labels

    def take(m: Markers) -> None:
        if m.apl is not None and found.apl is None:
            found.apl = m.apl
        if m.proactive is not None and found.proactive is None:
            found.proactive = m.proactive

    def bracket(match: re.Match[str]) -> str:
        markers = read_marker_segment(match.group(1))
        if markers is None:
            return match.group(0)
        take(markers)
        return " "

    if any(c in text for c in "([{（【"):
        text = _BRACKET_SEGMENT_RE.sub(bracket, text)
    # trailing " - APL 4 - proactive", "; APL: 2; Type: Proactive", ", high priority"
    for _ in range(4):
        parts = _TRAILING_SEP_RE.split(text)
        if len(parts) < 2:
            break
        cut = len(parts)
        while cut > 1 and read_marker_segment(parts[cut - 1]) is not None:
            cut -= 1
        if cut == len(parts):
            break
        for seg in parts[cut:]:
            take(read_marker_segment(seg) or Markers())
        text = _rejoin_prefix(text, parts[cut - 1])
    return text, found


def _rejoin_prefix(text: str, last_kept: str) -> str:
    """``text`` up to the end of the segment ``last_kept`` (the last non-marker part)."""
    idx = text.rfind(last_kept) if last_kept else -1
    if idx < 0:
        return text
    return text[: idx + len(last_kept)]

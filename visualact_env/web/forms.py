"""Action rows of the web forms (text, APL, proactive/reactive) and their per-field errors.

Both the human study and the annotation form post rows named ``text-I``, ``apl-I`` and
``pro-I`` (``proactive`` or ``reactive``). Rows left entirely blank are ignored; the others are
checked by the same code that checks annotation files (:mod:`visualact_env.loading`), so a form
shows the messages ``visualact data validate`` would print, next to the field they concern.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import Problem
from ..loading import _check_actions

MAX_ROWS = 32
"""Most proposals per clip (the parser's ``max_actions``)."""
MAX_TEXT = 400
"""Longest action text (the parser's ``max_chars``)."""

_FIELD = re.compile(r"^actions\[(\d+)\]\.(text|apl|proactive)$")


@dataclass
class ActionRows:
    """The posted rows (for re-display) and the actions they make."""

    rows: list[dict[str, str]]
    actions: list[dict[str, Any]]
    index: list[int]
    """``index[k]`` is the form row of ``actions[k]``."""
    errors: dict[str, str] = field(default_factory=dict)
    """``{"text-3": message, ...}`` per input, ``{"form": message}`` for the whole form."""


def _value(form: Mapping[str, Any], key: str) -> str:
    value = form.get(key)
    return value.strip() if isinstance(value, str) else ""


def read_rows(form: Mapping[str, Any]) -> ActionRows:
    """The action rows of a posted form, in row order (blank rows dropped from ``actions``)."""
    try:
        count = int(_value(form, "rows") or "0")
    except ValueError:
        count = 0
    count = max(0, min(count, MAX_ROWS))
    rows, actions, index = [], [], []
    errors: dict[str, str] = {}
    for i in range(count):
        row = {
            "text": _value(form, f"text-{i}"),
            "apl": _value(form, f"apl-{i}"),
            "pro": _value(form, f"pro-{i}"),
        }
        rows.append(row)
        if not any(row.values()):
            continue
        apl: Any = row["apl"]
        if apl in ("0", "1", "2", "3", "4"):
            apl = int(apl)
        elif apl == "":
            apl = None
        pro = {"proactive": True, "reactive": False, "": None}.get(row["pro"], row["pro"])
        if len(row["text"]) > MAX_TEXT:
            errors[f"text-{i}"] = f"too long: {len(row['text'])} characters (at most {MAX_TEXT})"
        index.append(i)
        actions.append({"text": row["text"], "apl": apl, "proactive": pro})
    return ActionRows(rows, actions, index, errors)


def field_errors(problems: Sequence[Problem], index: Sequence[int]) -> dict[str, str]:
    """``{input name: message}`` from loading's problems (``actions[k].apl`` -> ``apl-ROW``);
    problems of other fields are keyed by their field name (``scenario``, ``actions``...)."""
    out: dict[str, str] = {}
    for p in problems:
        m = _FIELD.match(p.field or "")
        if m and int(m.group(1)) < len(index):
            kind = {"text": "text", "apl": "apl", "proactive": "pro"}[m.group(2)]
            message = p.message
            if kind == "pro" and message.endswith("got None"):
                message = "missing (choose proactive or reactive)"
            out.setdefault(f"{kind}-{index[int(m.group(1))]}", message)
        else:
            out.setdefault(p.field or "form", p.message)
    return out


def check_rows(parsed: ActionRows, *, where: str = "form") -> dict[str, str]:
    """Per-input errors of the rows with the annotation rules (APL and flag required)."""
    problems: list[Problem] = []
    _check_actions(parsed.actions, (where, 1), problems)
    errors = dict(parsed.errors)
    for key, message in field_errors(problems, parsed.index).items():
        errors.setdefault(key, message)
    return errors


def padded(rows: list[dict[str, str]], minimum: int = 3, extra: int = 0) -> list[dict[str, str]]:
    """``rows`` plus blank ones, at least ``minimum`` and ``extra`` more (at most MAX_ROWS)."""
    blank = {"text": "", "apl": "", "pro": ""}
    want = min(MAX_ROWS, max(minimum, len(rows) + extra))
    return [*rows, *(dict(blank) for _ in range(max(0, want - len(rows))))]

"""Safe JSON reading and writing for every file a user hands us or we write for them.

Python's ``json`` has two sharp edges on hostile or damaged input: a few thousand nested
brackets raise ``RecursionError`` (in the decoder, and again in any code that walks the value),
and a lone surrogate (``"\\ud800"``, e.g. an emoji cut in half) decodes into a ``str`` that
cannot be encoded to UTF-8, so writing it anywhere raises ``UnicodeEncodeError``. This module
closes both, and bounds the size of what it reads:

* :func:`loads`, :func:`read_json` and :func:`iter_jsonl` turn invalid JSON, nesting deeper
  than :data:`MAX_DEPTH`, lone surrogates, non-UTF-8 bytes and lines longer than
  :data:`MAX_LINE_BYTES` into a :class:`~visualact_env.errors.DataError` (or, for JSON Lines,
  a per-line message) naming the file and line. Memory stays bounded by the line limit.
* :func:`dumps`, :func:`write_json` and :func:`write_jsonl` never raise on a lone surrogate:
  it is written as U+FFFD (the Unicode replacement character), so what we write is always
  valid UTF-8 that :func:`loads` accepts. Files are written to a temporary file and moved into
  place.
* :func:`replace_surrogates` is the same repair for text we keep (a model's answer), returning
  how many characters it replaced so the caller can record it.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from .errors import DataError, Problem

__all__ = [
    "MAX_DEPTH",
    "MAX_FILE_BYTES",
    "MAX_LINE_BYTES",
    "dumps",
    "iter_jsonl",
    "loads",
    "read_json",
    "replace_surrogates",
    "write_json",
    "write_jsonl",
]

MAX_DEPTH = 64
"""Deepest nesting of arrays/objects accepted (real records nest 3-5 levels)."""
MAX_LINE_BYTES = 16 * 1024 * 1024
"""Longest JSON Lines line read (16 MiB); a longer line is an error, read in bounded chunks."""
MAX_FILE_BYTES = 256 * 1024 * 1024
"""Largest whole-file JSON document read (256 MiB; the released benchmark is under 1 MB)."""

_SURROGATE_RE = re.compile("[\ud800-\udfff]")
_LONE_ESCAPE_RE = re.compile(
    r"\\u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F][0-9a-fA-F]{2})"
    r"|(?<!\\u[dD][89abAB][0-9a-fA-F]{2})\\u[dD][c-fC-F][0-9a-fA-F]{2}"
)


def replace_surrogates(text: str) -> tuple[str, int]:
    """``text`` with each lone surrogate replaced by U+FFFD, and how many were replaced."""
    if not _SURROGATE_RE.search(text):
        return text, 0
    return _SURROGATE_RE.subn("\ufffd", text)


# --------------------------------------------------------------------------------------------
# reading


def _problem_in(value: Any) -> str | None:
    """Why a decoded value is unsafe (too deep, lone surrogate), or None. Iterative."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        v, depth = stack.pop()
        if isinstance(v, str):
            if _SURROGATE_RE.search(v):
                return "lone surrogate in a string (\\ud800-\\udfff is not Unicode text)"
        elif isinstance(v, dict | list):
            if depth > MAX_DEPTH:
                return f"nested deeper than {MAX_DEPTH} levels"
            items = v.items() if isinstance(v, dict) else ((None, x) for x in v)
            for k, x in items:
                if isinstance(k, str) and _SURROGATE_RE.search(k):
                    return "lone surrogate in a key (\\ud800-\\udfff is not Unicode text)"
                if isinstance(x, str | dict | list):
                    stack.append((x, depth + 1))
    return None


_TOKEN_RE = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]', re.DOTALL)


def _error_message(text: str, e: Exception) -> tuple[int | None, str]:
    """(line, message) for a decoding failure of ``text``."""
    if isinstance(e, json.JSONDecodeError):
        # some messages already end in "at" ("Unterminated string starting at")
        return e.lineno, f"invalid JSON ({e.msg.removesuffix(' at')} at column {e.colno})"
    return None, f"invalid JSON ({type(e).__name__})"


def _first_line_of(text: str, pattern: re.Pattern[str]) -> int | None:
    m = pattern.search(text)
    return text.count("\n", 0, m.start()) + 1 if m else None


def _decode(text: str) -> tuple[Any, int | None, str | None]:
    """``(value, line, error)``: the decoded value, or the line (in ``text``) and message."""
    try:
        value = json.loads(text)
    except RecursionError:
        return None, _first_deep_line(text), f"nested deeper than {MAX_DEPTH} levels"
    except ValueError as e:  # JSONDecodeError, and int strings over the digit limit
        line, msg = _error_message(text, e)
        return None, line, msg
    suspicious = (
        "\\u" in text
        or _SURROGATE_RE.search(text) is not None
        or text.count("[") + text.count("{") > MAX_DEPTH
    )
    if suspicious and (reason := _problem_in(value)):
        line = _first_line_of(text, _LONE_ESCAPE_RE) if "surrogate" in reason else None
        return None, line, reason
    return value, None, None


def _first_deep_line(text: str) -> int | None:
    depth = 0
    for m in _TOKEN_RE.finditer(text):
        c = m.group()
        if c in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                return text.count("\n", 0, m.start()) + 1
        elif c in "]}":
            depth -= 1
    return None


def loads(text: str | bytes, *, file: str = "<text>", line: int | None = None) -> Any:
    """Decode one JSON document; :class:`DataError` naming ``file`` and line if it is unsafe.

    ``line`` is the line of ``file`` where ``text`` starts (lines inside ``text`` are added).
    """
    if isinstance(text, bytes | bytearray):
        try:
            text = bytes(text).decode("utf-8-sig")
        except UnicodeDecodeError as e:
            problem = Problem(file, line, None, f"not UTF-8 text (byte {e.start + 1})")
            raise DataError([problem]) from None
    value, at, error = _decode(text)
    if error is not None:
        where = (line or 1) + (at - 1) if at is not None else line
        raise DataError([Problem(file, where, None, error)])
    return value


def read_json(path: str | os.PathLike[str], what: str = "JSON") -> Any:
    """One whole-file JSON document (``config.json``, a release file, a prompt file).

    :class:`DataError` naming the file (and line where known) if it is missing, larger than
    :data:`MAX_FILE_BYTES`, not UTF-8 or not safe JSON; never RecursionError/UnicodeError.
    """
    file = str(path)
    p = Path(path)
    try:
        size = p.stat().st_size
    except OSError:
        raise DataError([Problem(file, None, None, f"{what} file not found")]) from None
    if not p.is_file():
        raise DataError([Problem(file, None, None, f"{what} file not found (not a file)")])
    if size > MAX_FILE_BYTES:
        raise DataError(
            [Problem(file, None, None, f"{what} file too large ({size} bytes > {MAX_FILE_BYTES})")]
        )
    try:
        data = p.read_bytes()
    except OSError as e:
        raise DataError([Problem(file, None, None, f"cannot read: {e.strerror}")]) from None
    return loads(data, file=file)


def _read_line(f: Any) -> tuple[bytes, bool]:
    """The next line (at most :data:`MAX_LINE_BYTES`) and whether it was longer (rest skipped)."""
    raw = f.readline(MAX_LINE_BYTES + 1)
    if len(raw) <= MAX_LINE_BYTES or raw.endswith(b"\n"):
        return raw, False
    while True:  # skip the rest of an overlong line in bounded chunks
        chunk = f.readline(1024 * 1024)
        if not chunk or chunk.endswith(b"\n"):
            return raw[:0], True


def iter_jsonl(path: str | os.PathLike[str]) -> Iterator[tuple[int, Any, str | None]]:
    """Yield ``(line_number, value, error)`` for each non-blank line; ``error`` if unreadable.

    A line is unreadable when it is not UTF-8, not JSON, nested too deeply, holds a lone
    surrogate or is longer than :data:`MAX_LINE_BYTES`; the message says which. Memory is
    bounded by the line limit whatever the file holds.
    """
    with open(path, "rb") as f:
        lineno = 0
        while True:
            raw, too_long = _read_line(f)
            if not raw and not too_long:
                return
            lineno += 1
            if too_long:
                yield lineno, None, f"line longer than {MAX_LINE_BYTES} bytes; not read"
                continue
            if lineno == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]  # a UTF-8 byte-order mark, as some editors write
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                yield lineno, None, f"not UTF-8 text (byte {e.start + 1} of the line)"
                continue
            if not line.strip():
                continue
            value, _, error = _decode(line)
            yield lineno, value, error


# --------------------------------------------------------------------------------------------
# writing


def dumps(
    value: Any,
    *,
    indent: int | None = None,
    sort_keys: bool = False,
    default: Any = None,
) -> str:
    """JSON text (UTF-8 characters, not ``\\u`` escapes); lone surrogates become U+FFFD.

    Never raises on a lone surrogate; an unserialisable object without ``default`` still
    raises ``TypeError`` (a programming error, not bad input).
    """
    text = json.dumps(
        value, ensure_ascii=False, indent=indent, sort_keys=sort_keys, default=default
    )
    return replace_surrogates(text)[0]


def write_json(
    path: str | os.PathLike[str], value: Any, *, indent: int = 2, sort_keys: bool = False
) -> Path:
    """Write one JSON document atomically (temporary file, then rename), newline-terminated."""
    from .cache import atomic_write_text

    return atomic_write_text(path, dumps(value, indent=indent, sort_keys=sort_keys) + "\n")


def write_jsonl(path: str | os.PathLike[str], rows: Iterable[Mapping[str, Any]]) -> Path:
    """Write rows as JSON Lines (UTF-8, one object per line) atomically."""
    from .cache import atomic_write_text

    return atomic_write_text(path, "".join(dumps(dict(r)) + "\n" for r in rows))

"""The bounds on inputs far beyond anything real, in one place (a leaf module: no imports).

A hostile or broken input must end in a clear error or a bounded-memory result within seconds,
never in a multi-minute stall or an allocation the size of the machine. Each bound sits well
above what the benchmark, its models and its tools produce, and is enforced where the input
enters (the file readers name file, line and field; the environments and the metric name the
argument); ``docs/limits.md`` lists them with the measurements behind them
(``benchmarks/bench_extremes.py``).

Bounds kept elsewhere: JSON nesting, line and file sizes (:mod:`visualact_env.jsonio`:
``MAX_DEPTH``, ``MAX_LINE_BYTES``, ``MAX_FILE_BYTES``) and model answers (the parser keeps at
most ``max_actions=32`` actions of at most ``max_chars=400`` characters).
"""

from __future__ import annotations

MAX_ACTIONS_PER_VIDEO = 128
"""Most actions one video may hold, in an annotation or a prediction (and most proposals one
``env.step`` scores). The benchmark averages 3.5 ground-truth actions per video and the parser
keeps at most 32 per answer; the metric's exact assignment grows as the cube of the count
(a worst-case 128 x 128 video is matched in half a second, 512 x 512 took 40 s)."""

MAX_ACTION_CHARS = 2000
"""Longest action text, in characters (five times the parser's cut of model answers). The
embedding model reads at most 256 tokens of a text, but its tokenizer reads all of it first: a
15 MB text took 80 s and 2.6 GB."""

MAX_IMPORT_STRING_CHARS = MAX_ACTIONS_PER_VIDEO * MAX_ACTION_CHARS
"""Longest string the release importer reads (256,000 characters: a video's whole action list
as one free text). Its field detection runs patterns over every string: a 100 MB text took
240 s and 2 GB before the converted line was refused."""

MAX_FRAME_BYTES = 1 << 30
"""Most bytes of decoded frames one clip may give (1 GiB: 32 frames of 4K, or 8 of 8K, at the
clip's own size). More (``--frame-size native`` on an 8K clip at 32 frames is 3.2 GB, or
``--frames 100000``) is refused before decoding, naming the clip and a smaller setting."""


def oversized_string(value: object) -> tuple[str, int] | None:
    """The path (``[1].actions[0].text``) and length of the first string in a decoded JSON
    value longer than :data:`MAX_IMPORT_STRING_CHARS`, or ``None``. Iterative (no recursion)."""
    stack: list[tuple[str, object]] = [("", value)]
    while stack:
        where, v = stack.pop()
        if isinstance(v, str):
            if len(v) > MAX_IMPORT_STRING_CHARS:
                return where or "(the document)", len(v)
        elif isinstance(v, dict):
            stack.extend((f"{where}.{k}" if where else str(k), x) for k, x in reversed(v.items()))
            for k in v:
                if isinstance(k, str) and len(k) > MAX_IMPORT_STRING_CHARS:
                    return f"{where} (a key)" if where else "(a key)", len(k)
        elif isinstance(v, list):
            stack.extend((f"{where}[{i}]", x) for i, x in reversed(list(enumerate(v))))
    return None


def too_many_actions(count: int) -> str | None:
    """The message for an action list longer than :data:`MAX_ACTIONS_PER_VIDEO`, or ``None``."""
    if count <= MAX_ACTIONS_PER_VIDEO:
        return None
    return f"{count:,} actions; at most {MAX_ACTIONS_PER_VIDEO} per video are accepted"


def text_too_long(text: str) -> str | None:
    """The message for an action text longer than :data:`MAX_ACTION_CHARS`, or ``None``."""
    if len(text) <= MAX_ACTION_CHARS:
        return None
    return f"{len(text):,} characters; an action text may hold at most {MAX_ACTION_CHARS:,}"

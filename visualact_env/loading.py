"""Reading and validating annotation and prediction files (JSON Lines).

Loading is all-or-nothing: every record is checked, every problem found is collected with the
file, line and field it concerns, and a :class:`DataError` listing all of them is raised before
anything is returned. Nothing is half-loaded.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import MAX_PROBLEMS_SHOWN, DataError, Problem  # noqa: F401 - re-exported
from .jsonio import iter_jsonl as read_jsonl
from .jsonio import write_jsonl  # noqa: F401 - re-exported
from .limits import text_too_long, too_many_actions
from .records import SCENARIOS, Action, Benchmark, Prediction, VideoRecord

if TYPE_CHECKING:
    from .run_records import PredictionRecord


def _json_objects(path: Path, what: str, problems: list[Problem]) -> Iterator[tuple[int, dict]]:
    """``(line_number, object)`` for each JSON object line of ``path``; a line that is not JSON or
    not an object is added to ``problems``. DataError if the file does not exist."""
    file = str(path)
    if not path.is_file():
        raise DataError([Problem(file, None, None, f"{what} file not found")])
    for lineno, obj, err in read_jsonl(path):
        if err:
            problems.append(Problem(file, lineno, None, err))
        elif not isinstance(obj, dict):
            problems.append(
                Problem(file, lineno, None, f"must be a JSON object, got {type(obj).__name__}")
            )
        else:
            yield lineno, obj


def _check_apl(value: Any, allow_none: bool) -> str | None:
    if value is None:
        return None if allow_none else "missing (must be an integer 0..4)"
    if isinstance(value, bool) or not isinstance(value, int):
        return f"must be an integer 0..4, got {value!r}"
    if not 0 <= value <= 4:
        return f"out of range: {value} (must be 0..4)"
    return None


def _check_actions(raw: Any, where: tuple[str, int], problems: list[Problem]) -> tuple[Action, ...]:
    """Ground-truth actions: a non-empty list of ``{text, apl 0..4, proactive bool}``.
    (Predicted actions are checked by :mod:`visualact_env.run_records`.)"""
    file, lineno = where
    if not isinstance(raw, list):
        problems.append(
            Problem(file, lineno, "actions", f"must be a list, got {type(raw).__name__}")
        )
        return ()
    if not raw:
        problems.append(Problem(file, lineno, "actions", "empty action list"))
    if too_many := too_many_actions(len(raw)):
        problems.append(Problem(file, lineno, "actions", too_many))
        return ()
    out: list[Action] = []
    for i, item in enumerate(raw):
        fld = f"actions[{i}]"
        if not isinstance(item, dict):
            problems.append(
                Problem(file, lineno, fld, f"must be an object, got {type(item).__name__}")
            )
            continue
        text = item.get("text")
        ok = True
        if not isinstance(text, str) or not text.strip():
            problems.append(Problem(file, lineno, f"{fld}.text", "must be a non-empty string"))
            ok = False
        elif too_long := text_too_long(text):
            problems.append(Problem(file, lineno, f"{fld}.text", too_long))
            ok = False
        apl = item.get("apl")
        if "apl" not in item:
            err: str | None = "missing (must be an integer 0..4)"
        else:
            err = _check_apl(apl, allow_none=False)
        if err:
            problems.append(Problem(file, lineno, f"{fld}.apl", err))
            ok = False
        pro = item.get("proactive")
        if not isinstance(pro, bool):
            problems.append(
                Problem(file, lineno, f"{fld}.proactive", f"must be true or false, got {pro!r}")
            )
            ok = False
        if ok and isinstance(text, str):
            out.append(Action(text=text.strip(), apl=apl, proactive=pro))
    return tuple(out)


def _video_path_problem(root: Path, video: str) -> str | None:
    if os.path.isabs(video):
        return f"absolute path {video!r} is not allowed (paths are relative to the annotation file's folder)"
    # Checked on the path as written, not on the resolved one: a ``videos/`` folder may be a
    # symlink to a download cache elsewhere, which is fine; ``../`` in the record is not.
    normal = os.path.normpath(video.replace("\\", "/"))
    if normal == ".." or normal.startswith("../"):
        return f"path {video!r} escapes the dataset folder {str(root)!r}"
    if not (root / video).is_file():
        return f"video file not found: {str(root / video)!r}"
    return None


def parse_annotations(
    path: str | os.PathLike[str], *, check_videos: bool = True, name: str | None = None
) -> Benchmark:
    """Load and validate a native annotation file; raise :class:`DataError` listing every problem.

    ``check_videos=False`` skips the clip checks (existence), for commands that only need the
    annotations, such as scoring; a path escaping the dataset folder is always an error.
    """
    path = Path(path)
    file = str(path)
    root = path.parent
    problems: list[Problem] = []
    records: list[VideoRecord] = []
    seen: dict[str, int] = {}
    known = {"video_id", "video", "scenario", "actions", "source"}
    for lineno, obj in _json_objects(path, "annotation", problems):
        before = len(problems)
        for key in sorted(set(obj) - known):
            problems.append(Problem(file, lineno, key, f"unknown field (expected {sorted(known)})"))
        vid = obj.get("video_id")
        if not isinstance(vid, str) or not vid:
            problems.append(Problem(file, lineno, "video_id", "must be a non-empty string"))
        elif vid in seen:
            problems.append(
                Problem(file, lineno, "video_id", f"duplicate {vid!r} (first on line {seen[vid]})")
            )
        else:
            seen[vid] = lineno
        video = obj.get("video")
        if not isinstance(video, str) or not video:
            problems.append(
                Problem(
                    file,
                    lineno,
                    "video",
                    "must be a non-empty string (path relative to the annotation file)",
                )
            )
        else:
            msg = _video_path_problem(root, video)
            if msg and (check_videos or "not found" not in msg):
                problems.append(Problem(file, lineno, "video", msg))
        scenario = obj.get("scenario")
        if scenario not in SCENARIOS:
            problems.append(
                Problem(
                    file,
                    lineno,
                    "scenario",
                    f"unknown scenario {scenario!r}; expected one of {list(SCENARIOS)}",
                )
            )
        if "actions" not in obj:
            problems.append(Problem(file, lineno, "actions", "missing"))
            actions: tuple[Action, ...] = ()
        else:
            actions = _check_actions(obj["actions"], (file, lineno), problems)
        source = obj.get("source")
        if source is not None and not isinstance(source, str):
            problems.append(Problem(file, lineno, "source", "must be a string when present"))
        if len(problems) == before:  # so the three are non-empty strings (checked above)
            records.append(VideoRecord(str(vid), str(video), str(scenario), actions, source, root))
    if not records and not problems:
        problems.append(Problem(file, None, None, "no records"))
    if problems:
        raise DataError(problems)
    return Benchmark(records=tuple(records), name=name or file, path=path)


def iter_prediction_records(
    path: str | os.PathLike[str], problems: list[Problem]
) -> Iterator[tuple[int, PredictionRecord]]:
    """``(line, record)`` for each valid prediction record of ``path``, in file order.

    The one reading of a prediction file: each line must be a
    :class:`~visualact_env.run_records.PredictionRecord` (``actions`` or ``error``; ``sample`` a
    non-negative integer, absent or null = 0; no unknown field) and a (video, sample) may appear
    once. Every problem (file, line, field) is appended to ``problems`` and its line skipped;
    DataError if the file does not exist.
    """
    from .run_records import check_prediction

    path = Path(path)
    file = str(path)
    seen: dict[tuple[str, int], int] = {}
    for lineno, obj in _json_objects(path, "prediction", problems):
        record, found = check_prediction(obj, file, lineno)
        if record is None:
            problems.extend(found)
            continue
        vid, sample = record.key
        if record.key in seen:
            problems.append(
                Problem(
                    file,
                    lineno,
                    "video_id",
                    f"duplicate prediction for {vid!r} sample {sample} "
                    f"(first on line {seen[record.key]})",
                )
            )
            continue
        seen[record.key] = lineno
        yield lineno, record


def parse_predictions(
    path: str | os.PathLike[str],
    benchmark: Benchmark | None = None,
    *,
    allow_extra: bool = False,
    warnings: list[str] | None = None,
) -> list[Prediction]:
    """Load and validate a prediction file; raise :class:`DataError` listing every problem.

    Records are read by :func:`iter_prediction_records`, the one definition ``score``,
    ``data validate``, the reports, ``merge``, ``compare`` and ``--resume`` share. With a
    ``benchmark``, ids it does not contain are errors, or (``allow_extra=True``) are dropped
    with a message appended to ``warnings``.
    """
    file = str(path)
    problems: list[Problem] = []
    preds: list[Prediction] = []
    for lineno, record in iter_prediction_records(path, problems):
        vid = record.video_id
        if benchmark is not None and vid not in benchmark:
            if allow_extra:
                if warnings is not None:
                    warnings.append(
                        f"{file}:{lineno}: video_id {vid!r} is not in the annotations; ignored"
                    )
                continue
            problems.append(
                Problem(
                    file,
                    lineno,
                    "video_id",
                    f"{vid!r} is not in the annotations (use --allow-extra to ignore)",
                )
            )
            continue
        preds.append(record.to_prediction())
    if problems:
        raise DataError(problems)
    return preds

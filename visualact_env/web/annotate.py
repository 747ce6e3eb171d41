"""Annotating new clips: one native annotation file per annotator, validated on every save.

``visualact serve --annotate DIR`` lists the clips under ``DIR``; an annotator (an id, as for
participants) writes per clip a scenario and actions with APL and proactive flag. Each
annotator's work goes to ``DIR/annotations-<annotator>.jsonl``, a native annotation file (clip
paths relative to ``DIR``) that ``visualact data validate`` accepts as it is.

Saving one clip rewrites the annotator's file: under a per-file lock (threads of this server,
and ``flock`` for other processes) the file is read, the clip's record replaced or added, the
whole candidate written to a temporary file in ``DIR`` and checked with
:func:`visualact_env.loading.parse_annotations` (clips included); only then is it renamed into
place. A save is therefore all or nothing, two annotators never share a file, and one annotator
in two tabs never loses the other tab's clips. The form shows the loader's messages next to the
fields they name.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import jsonio
from ..errors import DataError, Problem
from ..loading import parse_annotations
from .study import check_participant

CLIP_SUFFIXES: tuple[str, ...] = (".mp4", ".webm", ".mkv", ".mov", ".avi", ".m4v")
MAX_CLIPS = 20_000


@dataclass
class SaveResult:
    """The outcome of a save: the loader's problems of this clip's record (none: written), and
    problems of the file's other records (written anyway: they were there before)."""

    problems: list[Problem] = field(default_factory=list)
    other: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def video_id_for(relative: str) -> str:
    """A clip's default video id: its path without suffix, ``/`` as ``__``, other characters
    outside ``[A-Za-z0-9_.-]`` as ``-``."""
    stem = relative.rsplit(".", 1)[0].replace("/", "__")
    return re.sub(r"[^A-Za-z0-9_.-]", "-", stem)


class AnnotationFolder:
    """The clips of one folder and the annotators' files beside them."""

    def __init__(self, root: Path):
        self.root = Path(root).resolve()
        if not self.root.is_dir():
            raise DataError([Problem(str(root), None, None, "clip folder not found")])
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def clips(self) -> list[str]:
        """Clip paths relative to the folder (POSIX, sorted); hidden entries skipped."""
        out = []
        for dirpath, dirnames, filenames in os.walk(self.root):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for name in sorted(filenames):
                if name.startswith(".") or not name.lower().endswith(CLIP_SUFFIXES):
                    continue
                rel = (Path(dirpath) / name).relative_to(self.root).as_posix()
                out.append(rel)
                if len(out) >= MAX_CLIPS:
                    return sorted(out)
        return sorted(out)

    def file_for(self, annotator: str) -> Path:
        """``DIR/annotations-<annotator>.jsonl``."""
        return self.root / f"annotations-{check_participant(annotator)}.jsonl"

    def annotators(self) -> list[str]:
        """Ids of the annotators with a file in the folder."""
        return sorted(
            p.name[len("annotations-") : -len(".jsonl")]
            for p in self.root.glob("annotations-*.jsonl")
        )

    def records(self, annotator: str) -> list[dict[str, Any]]:
        """The annotator's records as stored (unvalidated; bad lines skipped)."""
        path = self.file_for(annotator)
        if not path.is_file():
            return []
        return [obj for _, obj, err in jsonio.iter_jsonl(path) if not err and isinstance(obj, dict)]

    def record_for(self, annotator: str, clip: str) -> dict[str, Any] | None:
        """The annotator's record of a clip (by path), if any."""
        return next((r for r in self.records(annotator) if r.get("video") == clip), None)

    def validate(self, annotator: str) -> list[Problem]:
        """Problems of the annotator's file as ``visualact data validate`` reports them."""
        path = self.file_for(annotator)
        if not path.is_file():
            return []
        try:
            parse_annotations(path)
        except DataError as e:
            return list(e.problems)
        return []

    @contextlib.contextmanager
    def _locked(self, path: Path) -> Iterator[None]:
        with self._guard:
            lock = self._locks.setdefault(path.name, threading.Lock())
        with lock, open(self.root / f".{path.name}.lock", "a+b") as f:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(f.fileno(), fcntl.LOCK_UN)

    def save(self, annotator: str, record: dict[str, Any]) -> SaveResult:
        """Replace or add ``record`` (by its ``video``) in the annotator's file, all or nothing."""
        path = self.file_for(annotator)
        with self._locked(path):
            rows = self.records(annotator)
            position = next(
                (i for i, r in enumerate(rows) if r.get("video") == record.get("video")), None
            )
            if position is None:
                rows.append(record)
                position = len(rows) - 1
            else:
                rows[position] = record
            line = position + 1
            text = "".join(jsonio.dumps(r) + "\n" for r in rows)
            fd, tmp = tempfile.mkstemp(dir=self.root, prefix=f".{path.name}.", suffix=".tmp")
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as f:
                    f.write(text)
                    f.flush()
                    os.fsync(f.fileno())
                problems: list[Problem] = []
                try:
                    parse_annotations(tmp)
                except DataError as e:
                    problems = list(e.problems)
                result = SaveResult([p for p in problems if p.line in (line, None)])
                result.other = [
                    str(Problem(str(path), p.line, p.field, p.message))
                    for p in problems
                    if p.line not in (line, None)
                ]
                if result.ok:
                    os.chmod(tmp, 0o644)
                    os.replace(tmp, path)
                return result
            finally:
                Path(tmp).unlink(missing_ok=True)

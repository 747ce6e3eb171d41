"""Finding a record's clip anywhere under the videos folder.

The release's JSON may give a clip as a relative path (``videos/DN/a.mp4``), a file name
(``a.mp4``), a path without extension (``videos/a``) or only a video id (``a``). A
:class:`ClipIndex` lists every video file under the folder once (at any depth) and resolves
each of those references, saying *how* it found the file so the import report can name every
guess. A name or stem shared by two files is an error naming both, never a silent pick.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".flv")
"""File suffixes (lower case) counted as video clips."""

FOUND_BY_PATH = "by path"
FOUND_BY_NAME = "by file name, elsewhere under the videos folder"
FOUND_EXTENSION_ADDED = "by adding the video extension"
FOUND_EXTENSION_DIFFERS = "by file stem (the extension in the JSON differs)"
FOUND_BY_ID = "by video id as file stem, anywhere under the videos folder"


@dataclass(frozen=True)
class ClipHit:
    """A resolved clip (``path``, and how it was found) or the reason it was not (``error``)."""

    path: Path | None
    how: str = ""
    error: str | None = None


def is_path_like(value: object) -> bool:
    """True for strings that look like a clip path: a folder separator or a video extension."""
    if not isinstance(value, str) or not value.strip():
        return False
    return "/" in value or "\\" in value or Path(value.strip()).suffix.lower() in VIDEO_EXTENSIONS


def clip_stem(ref: str) -> str:
    """``"videos/DN/a.mp4"`` -> ``"a"``; a reference without a video extension is kept whole."""
    name = ref.replace("\\", "/").rstrip("/").split("/")[-1]
    path = Path(name)
    return path.stem if path.suffix.lower() in VIDEO_EXTENSIONS else name


class ClipIndex:
    """Every clip under ``root``, found by relative path, file name or stem."""

    def __init__(self, root: Path):
        self.root = root
        self.by_rel: dict[str, Path] = {}
        self.by_name: dict[str, list[Path]] = {}
        self.by_stem: dict[str, list[Path]] = {}
        if not root.is_dir():
            return
        for path in sorted(root.rglob("*")):
            if path.suffix.lower() in VIDEO_EXTENSIONS and path.is_file():
                self.by_rel[path.relative_to(root).as_posix()] = path
                self.by_name.setdefault(path.name, []).append(path)
                self.by_stem.setdefault(path.stem, []).append(path)

    def __len__(self) -> int:
        return len(self.by_rel)

    def rel(self, path: Path) -> str:
        """``path`` relative to the videos folder, with ``/`` separators."""
        return path.relative_to(self.root).as_posix()

    def _unique(self, hits: list[Path], what: str) -> ClipHit | None:
        if len(hits) == 1:
            return ClipHit(hits[0])
        if len(hits) > 1:
            names = " and ".join(repr(self.rel(p)) for p in hits[:2])
            more = f" (and {len(hits) - 2} more)" if len(hits) > 2 else ""
            return ClipHit(None, error=f"ambiguous clip {what}: {names}{more} under {self.root}")
        return None

    def find_path(self, ref: str) -> ClipHit:
        """The clip a path-like reference names (``videos/a.mp4``, ``a.mp4``, ``DN/a``)."""
        ref = ref.replace("\\", "/").strip()
        parts = [p for p in ref.split("/") if p not in ("", ".")]
        if not parts:
            return ClipHit(None, error=f"empty clip path {ref!r}")
        has_ext = Path(parts[-1]).suffix.lower() in VIDEO_EXTENSIONS
        for i in range(len(parts)):  # the longest suffix of the path that exists under root
            tail = "/".join(parts[i:])
            if has_ext and tail in self.by_rel:
                return ClipHit(self.by_rel[tail], FOUND_BY_PATH)
            if not has_ext:
                found = [self.by_rel[tail + ext] for ext in _exts(self.by_rel, tail)]
                if hit := self._unique(found, f"{ref!r} (extension added)"):
                    return _how(hit, FOUND_EXTENSION_ADDED)
        name = parts[-1]
        if has_ext and (hit := self._unique(self.by_name.get(name, []), f"named {name!r}")):
            return _how(hit, FOUND_BY_NAME)
        stem = clip_stem(name)
        how = FOUND_EXTENSION_DIFFERS if has_ext else FOUND_EXTENSION_ADDED
        if hit := self._unique(self.by_stem.get(stem, []), f"with stem {stem!r}"):
            return _how(hit, how)
        return ClipHit(None, error=f"no clip for {ref!r} under {self.root}")

    def find_id(self, video_id: str) -> ClipHit:
        """The clip whose file stem (or file name) is ``video_id``, at any depth."""
        vid = video_id.strip()
        if hit := self._unique(self.by_name.get(vid, []), f"named {vid!r}"):
            return _how(hit, FOUND_BY_ID)
        if hit := self._unique(self.by_stem.get(vid, []), f"for id {vid!r}"):
            return _how(hit, FOUND_BY_ID)
        return ClipHit(None, error=f"no clip named {vid!r} (any video extension) under {self.root}")


def _how(hit: ClipHit, how: str) -> ClipHit:
    """``hit`` labelled with how it was found (errors carry no label)."""
    return ClipHit(hit.path, how if hit.path is not None else "", hit.error)


def _exts(by_rel: dict[str, Path], tail: str) -> list[str]:
    return [ext for ext in VIDEO_EXTENSIONS if tail + ext in by_rel] + [
        ext.upper() for ext in VIDEO_EXTENSIONS if tail + ext.upper() in by_rel
    ]

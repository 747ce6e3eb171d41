"""The one on-disk cache folder shared by every command, and atomic writes into it.

Frames, embeddings, API responses and the generated demo data all live under
:func:`cache_root` (``~/.cache/visualact`` unless ``VISUALACT_CACHE_DIR`` is set). Writers never
leave a half-written file: they write a temporary file in the same folder and ``os.replace`` it
into place, so two processes sharing the cache at once see either nothing or a whole file.

The cache only saves work: no result depends on it. Writers that fill it go through
:func:`best_effort`, so a full or read-only cache disk costs speed (one warning), never a run.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import numpy as np

ENV_VAR = "VISUALACT_CACHE_DIR"


def cache_root() -> Path:
    """The cache folder (created on first use)."""
    root = os.environ.get(ENV_VAR)
    path = Path(root).expanduser() if root else Path.home() / ".cache" / "visualact"
    path.mkdir(parents=True, exist_ok=True)
    return path


def cache_dir(*parts: str) -> Path:
    """A sub-folder of the cache, e.g. ``cache_dir("frames")`` (created on first use)."""
    path = cache_root().joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


_T = TypeVar("_T")
_log = logging.getLogger("visualact.cache")
_warned: set[str] = set()


def best_effort(what: str, write: Callable[[], _T]) -> _T | None:
    """Run ``write()`` (a cache write); on ``OSError`` (ENOSPC, EDQUOT, EROFS, EACCES) warn
    once per ``what`` and return ``None``: the caller goes on without the cache entry."""
    try:
        return write()
    except OSError as e:
        if what not in _warned:
            _warned.add(what)
            where = f" ({e.filename})" if e.filename else ""
            reason = e.strerror or str(e) or type(e).__name__
            _log.warning(
                "warning: cannot write the %s cache%s: %s; continuing without caching",
                what,
                where,
                reason,
            )
        return None


def digest(*parts: str | bytes, length: int = 32) -> str:
    """A stable hex key for cache entries built from strings and bytes."""
    h = hashlib.sha256()
    for p in parts:
        b = p.encode("utf-8") if isinstance(p, str) else p
        h.update(len(b).to_bytes(8, "little"))
        h.update(b)
    return h.hexdigest()[:length]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_FILE_MODE = 0o666 & ~_umask()


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` so that readers never see a partial file.

    The file gets the usual permissions (``0o666`` less the umask), not the private ``0o600``
    of a temporary file, so reports and caches can be shared.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, _FILE_MODE)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(e, OSError) and e.filename is None:
            e.filename = str(path)  # a failed fsync or write names no file: name ours
        raise
    return path


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` as UTF-8 atomically; a lone surrogate is written as U+FFFD, never raises.

    (The same repair as :func:`visualact_env.jsonio.replace_surrogates`, done here so that this
    low-level module imports nothing of the package: ``jsonio`` writes through it.)
    """
    return atomic_write_bytes(path, _LONE_SURROGATE.sub("\ufffd", text).encode("utf-8"))


def publish_dir(
    final: str | os.PathLike[str],
    build: Callable[[Path], None],
    finished: Callable[[Path], bool],
    conflict: str,
) -> Path:
    """Build a folder in a temporary sibling with ``build(tmp)``, then rename it to ``final``.

    ``final`` is reused as it is when ``finished(final)`` (``build`` writes what ``finished``
    checks, e.g. a marker file, last); a non-empty unfinished ``final`` raises
    ``FileExistsError(conflict)``. If another process publishes a finished folder first, ours
    is discarded and theirs kept, so a concurrent or interrupted build never leaves a
    half-written folder behind.
    """
    final = Path(final)
    if finished(final):
        return final
    if final.exists() and any(final.iterdir()):
        raise FileExistsError(conflict)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".{final.name}.build-"))
    os.chmod(tmp, 0o755)  # mkdtemp makes it private; the published folder is shared
    try:
        build(tmp)
        try:
            os.rename(tmp, final)  # atomic; replaces an empty folder, fails on a non-empty one
        except OSError:
            if not finished(final):
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return final


def atomic_save_npy(path: str | os.PathLike[str], array: np.ndarray) -> Path:
    """Save one array in ``.npy`` format atomically."""
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(array), allow_pickle=False)
    return atomic_write_bytes(path, buf.getvalue())


def load_npy(path: str | os.PathLike[str]) -> np.ndarray | None:
    """Load an ``.npy`` cache entry, or ``None`` when it is absent or unreadable."""
    try:
        return np.load(path, allow_pickle=False)
    except (FileNotFoundError, ValueError, OSError, EOFError):
        return None

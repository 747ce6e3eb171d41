"""One writer per run folder: an exclusive lock held while a command writes there.

Two processes writing one folder lose work silently (an ``--overwrite`` deleting the
predictions another run is appending to, two ``--resume``s appending the same videos twice).
Every command that writes a run folder (``eval`` with or without ``--resume``/``--overwrite``,
``merge --out``, ``sweep``, ``report``) therefore holds :class:`RunLock` on it: an
``fcntl.flock`` on ``FOLDER/.lock``, a file holding the holder's pid. A second writer gets a
:class:`~visualact_env.rundir.RunError` naming that pid at once (it does not wait).

The kernel drops a ``flock`` when its process ends, however it ends (``kill -9`` included), so
a lock file left behind by a dead process never blocks anyone: only a live holder does. The
lock is re-entrant within a process (the runner holds it and calls the report writer, which
takes it again), and the file is removed on release.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import threading
import time
from pathlib import Path
from types import TracebackType

from .rundir import LOCK_FILE, RunError

_held: dict[str, list[int]] = {}  # real path of the folder -> [fd, depth]
_guard = threading.Lock()
_BUSY = (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES)


def lock_holder(folder: str | os.PathLike[str]) -> int | None:
    """The pid written in ``folder``'s lock file, or None when there is none (or unreadable)."""
    try:
        text = (Path(folder) / LOCK_FILE).read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    try:
        return int(text.split()[0])
    except (ValueError, IndexError):
        return None


def _holder_after_refusal(folder: Path) -> str:
    # the holder writes its pid just after it takes the lock: give it a moment
    for _ in range(20):
        pid = lock_holder(folder)
        if pid is not None:
            return str(pid)
        time.sleep(0.025)
    return "unknown"


class RunLock:
    """``with RunLock(folder):`` -- hold the folder's exclusive lock (creating the folder).

    Raises :class:`~visualact_env.rundir.RunError` naming the holder's pid when another
    process holds it. On file systems without ``flock`` (some network mounts) the work goes on
    unlocked. A folder the lock created and nothing else was written to is removed again.
    """

    def __init__(self, folder: str | os.PathLike[str]):
        self.folder = Path(folder)
        self._key: str | None = None
        self._created = False

    def acquire(self) -> RunLock:
        """Take the lock; see the class docstring."""
        self._created = not self.folder.exists()
        self.folder.mkdir(parents=True, exist_ok=True)
        key = os.path.realpath(self.folder)
        with _guard:
            if key in _held:
                _held[key][1] += 1
                self._key = key
                return self
            fd = self._lock_file(key)
            _held[key] = [fd, 1]
            self._key = key
        return self

    def _lock_file(self, key: str) -> int:
        path = os.path.join(key, LOCK_FILE)
        while True:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as e:
                os.close(fd)
                if e.errno in _BUSY:
                    pid = _holder_after_refusal(self.folder)
                    raise RunError(
                        f"{self.folder} is in use by another process (pid {pid}) writing there; "
                        "wait for it to finish, or choose another folder"
                    ) from None
                return -1  # no flock on this file system: go on unlocked
            # the holder we waited for may have removed the file before we locked it: lock the
            # file that is at the path now, or two processes would each hold "the" lock
            try:
                same = os.path.samestat(os.fstat(fd), os.stat(path))
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        except OSError:
            pass  # a full disk: the lock holds all the same, only the pid is not shown
        return fd

    def release(self) -> None:
        """Release one hold; the last one unlocks, removes the lock file and closes it."""
        key, self._key = self._key, None
        if key is None:
            return
        with _guard:
            entry = _held.get(key)
            if entry is None:
                return
            entry[1] -= 1
            if entry[1] > 0:
                return
            del _held[key]
            fd = entry[0]
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.unlink(os.path.join(key, LOCK_FILE))
                os.close(fd)  # closing the last descriptor releases the flock
        if self._created:
            with contextlib.suppress(OSError):  # only if nothing was written: rmdir refuses
                self.folder.rmdir()  # a non-empty folder

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()

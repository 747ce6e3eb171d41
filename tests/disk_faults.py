"""Disk faults injected at the OS boundary, for tests of what a full disk does to a run.

:func:`fill_disk` makes every ``os.fsync`` of a file under a folder fail with ``ENOSPC``, as a
full disk (or an exhausted quota) does on file systems that report it when data is flushed.
Every durable write of the project (atomic cache and report writes, the predictions file)
ends with ``fsync``, so each of them meets the fault; files elsewhere are untouched.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest


def fill_disk(monkeypatch: pytest.MonkeyPatch, folder: Path) -> list[str]:
    """Make writes under ``folder`` fail with ENOSPC; returns the list of refused paths."""
    root = str(Path(folder).resolve())
    refused: list[str] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            target = ""
        if target == root or target.startswith(root + os.sep):
            refused.append(target)
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    return refused

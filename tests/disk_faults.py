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


def fill_disk(
    monkeypatch: pytest.MonkeyPatch, folder: Path, *, after: int = 0, name: str = ""
) -> list[str]:
    """Make writes under ``folder`` fail with ENOSPC; returns the list of refused paths.

    The first ``after`` writes there still succeed (the disk fills up mid-way), and with
    ``name`` only files whose name contains it are refused (a temporary ``.summary.json.*.tmp``
    counts as ``summary.json``).
    """
    root = str(Path(folder).resolve())
    refused: list[str] = []
    passed = [0]
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            target = ""
        if (target == root or target.startswith(root + os.sep)) and name in Path(target).name:
            passed[0] += 1
            if passed[0] > after:
                refused.append(target)
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    return refused

"""The error every reader of user files raises: :class:`DataError`, a list of :class:`Problem`.

A leaf module (imports nothing from the package) so that every layer can raise it. The CLI
prints a :class:`DataError` as its message alone (one line per problem, naming file, line and
field), never a traceback.
"""

from __future__ import annotations

import errno
from dataclasses import dataclass

__all__ = ["DISK_FULL_ERRNOS", "MAX_PROBLEMS_SHOWN", "DataError", "Problem"]

DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS})
"""``OSError`` numbers of a write that cannot succeed until space is freed (a full disk or
quota, a file too large, a read-only mount): a command ends with one error line, never a
traceback, and a run finishes afterwards with ``--resume``."""

MAX_PROBLEMS_SHOWN = 50


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input file."""

    file: str
    line: int | None
    field: str | None
    message: str

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return (
            f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"
        )


class DataError(ValueError):
    """Raised when an input file has one or more problems; ``problems`` lists them all."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        shown = "\n".join(f"  {p}" for p in problems[:MAX_PROBLEMS_SHOWN])
        more = len(problems) - MAX_PROBLEMS_SHOWN
        tail = f"\n  ... and {more} more" if more > 0 else ""
        noun = "problem" if len(problems) == 1 else "problems"
        super().__init__(f"{len(problems)} {noun} found:\n{shown}{tail}")

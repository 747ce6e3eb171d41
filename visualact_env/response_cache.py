"""A disk cache of deterministic model responses, shared by every API agent and command.

Only deterministic requests (temperature 0) are cached, and only successful ones: a failure is
never stored, so a rerun retries it. The key is a digest of everything that decides the answer
(model, base URL without credentials, prompt fingerprint, frames hash, generation settings),
built by the caller through :meth:`ResponseCache.key`; API keys never take part in it and are
never written. Entries are small JSON files under ``cache_dir("responses")``, written
atomically, so concurrent runs sharing the cache see either a whole entry or none.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .cache import atomic_write_text, cache_dir, digest

FORMAT_VERSION = 1


class ResponseCache:
    """JSON entries keyed by a digest of the request's deciding parts.

    ``folder`` defaults to ``cache_dir("responses")`` (resolved on first use, so a test's
    ``VISUALACT_CACHE_DIR`` applies).
    """

    def __init__(self, folder: str | Path | None = None) -> None:
        self._folder = Path(folder) if folder is not None else None

    @property
    def folder(self) -> Path:
        if self._folder is None:
            return cache_dir("responses")
        self._folder.mkdir(parents=True, exist_ok=True)
        return self._folder

    @staticmethod
    def key(parts: dict[str, Any]) -> str:
        """A stable key for a JSON-serialisable dict of the request's deciding parts."""
        canonical = json.dumps(parts, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return digest(f"responses-v{FORMAT_VERSION}", canonical, length=40)

    def path(self, key: str) -> Path:
        return self.folder / key[:2] / f"{key}.json"

    def get(self, key: str) -> dict[str, Any] | None:
        """The stored entry, or ``None`` when absent or unreadable (treated as a miss)."""
        try:
            data = json.loads(self.path(key).read_text(encoding="utf-8"))
        except (FileNotFoundError, OSError, ValueError):
            return None
        if not isinstance(data, dict) or data.get("format") != FORMAT_VERSION:
            return None
        entry = data.get("entry")
        return entry if isinstance(entry, dict) else None

    def put(self, key: str, entry: dict[str, Any]) -> Path:
        """Store ``entry`` (JSON-serialisable) atomically."""
        text = json.dumps(
            {"format": FORMAT_VERSION, "key": key, "entry": entry}, ensure_ascii=False
        )
        return atomic_write_text(self.path(key), text)

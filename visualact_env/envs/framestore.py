"""An in-process LRU of decoded, resized frames, in front of the on-disk frame cache.

``sample_frames`` already caches decoded frames on disk; reading an ``.npy`` back still costs a
file read per episode. The environments keep the most recently used clips in memory (bounded in
bytes) so that warm episodes cost one array copy. One store is shared by every environment of the
process (a vector environment's sub-environments, several ``gym.make`` calls), so a clip is held
once whatever the number of environments.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np

DEFAULT_MAX_MB = 256


class FrameStore:
    """A byte-bounded LRU mapping ``(clip path, sampler key)`` to a read-only frame array."""

    def __init__(self, max_bytes: int = DEFAULT_MAX_MB * 2**20):
        self.max_bytes = int(max_bytes)
        self._items: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._items)

    @property
    def nbytes(self) -> int:
        """Bytes currently held."""
        return self._bytes

    def reserve(self, max_bytes: int) -> None:
        """Raise the capacity to at least ``max_bytes`` (never lowers it: the store is shared)."""
        self.max_bytes = max(self.max_bytes, int(max_bytes))

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0

    def get(self, path: Path, config: Any, loader: Any) -> np.ndarray:
        """The frames of ``path`` under ``config`` (read-only), loading with ``loader(path, config)``.

        The returned array must not be handed to users as is: copy it.
        """
        key = (str(path), str(config.key))
        with self._lock:
            frames = self._items.get(key)
            if frames is not None:
                self._items.move_to_end(key)
                self.hits += 1
                return frames
            self.misses += 1
        frames = np.ascontiguousarray(loader(path, config))
        frames.setflags(write=False)
        self._put(key, frames)
        return frames

    def _put(self, key: tuple[str, str], frames: np.ndarray) -> None:
        if frames.nbytes > self.max_bytes:
            return
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._bytes -= old.nbytes
            self._items[key] = frames
            self._bytes += frames.nbytes
            while self._bytes > self.max_bytes and self._items:
                _, evicted = self._items.popitem(last=False)
                self._bytes -= evicted.nbytes


_SHARED = FrameStore()


def shared_store() -> FrameStore:
    """The process-wide store every environment uses."""
    return _SHARED

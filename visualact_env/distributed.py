"""One evaluation over many processes: ``torchrun`` / ``accelerate launch`` support for the runner.

Under a distributed launcher every process sees ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK``
(:func:`detect_launch`). The runner then:

* joins the launch's process group (gloo: only the launcher's key-value store is used, never a
  GPU collective) and coordinates through its ``TCPStore`` (:class:`Coordinator`);
* lets rank 0 alone prepare the run folder (check or write ``config.json``, fold the records of
  an earlier launch into ``predictions.jsonl``) and publish the plan: the run folder, the
  pending (video, sample) tasks and its agent's configuration, which every other rank checks
  against its own (a node with other weights at the same path is refused);
* hands tasks out dynamically: each process takes the next index with the store's atomic
  ``add`` on one counter (:class:`StoreQueue`), so a slow video delays only the process that
  took it; ``static`` hand-out (every N-th task, as a fixed split) is kept for comparison;
* has each rank append its own records to ``parts/predictions.rank{R}.jsonl`` (flushed and
  synced record by record, as a single process does), then report its timing to the store;
* has rank 0 wait for every rank, fold the parts into one ``predictions.jsonl`` in benchmark
  order, record the launch (world size, per-rank timing) in ``config.json`` and write the
  reports: the same files as a single-process run of the same configuration.

A process that dies (killed, out of memory) makes the launcher stop the others (SIGTERM): they
say so and name the ``--resume`` command; every record already written is kept, and a resumed
launch (any world size, or a single process) skips the videos recorded by any rank.

torch is imported only when the launch has more than one process.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from .rundir import RunError

HAND_OUT = ("dynamic", "static")
DEFAULT_TIMEOUT = timedelta(minutes=30)
"""How long a process waits for the others at start (rank 0 preparing the folder)."""


# ---------------------------------------------------------------------------------------------
# The launch


@dataclass(frozen=True)
class Launch:
    """Where this process stands in its launch (one process: rank 0 of 1)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    launcher: str | None = None

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def _env_int(environ: Mapping[str, str], name: str, default: int) -> int:
    raw = environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise RunError(f"environment variable {name}={raw!r} is not an integer") from None


def detect_launch(environ: Mapping[str, str] | None = None) -> Launch:
    """The launch described by ``RANK``/``WORLD_SIZE``/``LOCAL_RANK`` (set by torchrun,
    ``accelerate launch``, or by hand); a single process when they are absent."""
    env = os.environ if environ is None else environ
    world = _env_int(env, "WORLD_SIZE", 1)
    rank = _env_int(env, "RANK", 0)
    local = _env_int(env, "LOCAL_RANK", 0)
    if world < 1 or not 0 <= rank < world or local < 0:
        raise RunError(
            f"inconsistent launch environment: RANK={rank}, WORLD_SIZE={world}, LOCAL_RANK={local}"
        )
    if world == 1:
        return Launch()
    if any(k.startswith("ACCELERATE_") for k in env):
        launcher = "accelerate"
    elif "TORCHELASTIC_RUN_ID" in env:
        launcher = "torchrun"
    else:
        launcher = "env"
    return Launch(rank, world, local, launcher)


# ---------------------------------------------------------------------------------------------
# Hand-out of tasks


class LocalQueue:
    """Indices ``0..n-1`` handed out in order within one process (``indices`` restricts them,
    e.g. to a static share)."""

    blocking = False

    def __init__(self, n: int, indices: Sequence[int] | None = None) -> None:
        self._indices = list(range(n)) if indices is None else list(indices)
        self._next = 0
        self._lock = threading.Lock()

    def take(self, k: int = 1) -> list[int]:
        with self._lock:
            start = self._next
            self._next = min(len(self._indices), start + max(1, k))
            return self._indices[start : self._next]


class StoreQueue:
    """Indices ``0..n-1`` shared by every process of a launch: one atomic ``add`` on a counter
    in the launcher's store hands out the next ``k``."""

    blocking = True  # a network round trip: async callers run it in a thread

    def __init__(self, store: Any, key: str, n: int) -> None:
        self._store, self._key, self._n = store, key, n

    def take(self, k: int = 1) -> list[int]:
        k = max(1, k)
        end = int(self._store.add(self._key, k))
        return list(range(min(end - k, self._n), min(end, self._n)))


# ---------------------------------------------------------------------------------------------
# Per-rank timing


@dataclass
class RankStats:
    """What one process did: recorded per rank in ``config.json`` and shown in the reports."""

    rank: int
    local_rank: int
    host: str = field(default_factory=socket.gethostname)
    device: str | None = None
    videos: int = 0
    failed: int = 0
    busy_s: float = 0.0
    work_s: float = 0.0
    agent: dict[str, Any] | None = None  # the agent's run_stats() (e.g. per-server counts)
    _t0: float | None = field(default=None, repr=False)

    def start(self) -> None:
        if self._t0 is None:
            self._t0 = time.perf_counter()

    def add(self, failed: bool, latency: float) -> None:
        self.videos += 1
        self.failed += int(failed)
        self.busy_s += float(latency)
        if self._t0 is not None:
            self.work_s = time.perf_counter() - self._t0

    def to_dict(self) -> dict[str, Any]:
        return {
            "rank": self.rank,
            "local_rank": self.local_rank,
            "host": self.host,
            "device": self.device,
            "videos": self.videos,
            "failed": self.failed,
            "busy_s": round(self.busy_s, 3),
            "work_s": round(self.work_s, 3),
            "videos_per_s": round(self.videos / self.work_s, 3) if self.work_s > 0 else None,
            **({"agent": self.agent} if self.agent else {}),
        }


# ---------------------------------------------------------------------------------------------
# Coordination through the launcher's store


class LaunchStopped(KeyboardInterrupt):
    """The launcher stopped this process (SIGTERM), usually because another process died."""


class Coordinator:
    """This process's link to the others: the process group's store, keys under one prefix."""

    def __init__(self, launch: Launch, store: Any, owns_group: bool) -> None:
        self.launch = launch
        self.store = store
        self._owns_group = owns_group
        attempt = os.environ.get("TORCHELASTIC_RESTART_COUNT", "0")
        self.prefix = f"visualact/{attempt}/"

    @classmethod
    def join(cls, launch: Launch, timeout: timedelta = DEFAULT_TIMEOUT) -> Coordinator:
        """Join the launch's process group (gloo) and take its store."""
        import torch.distributed as dist
        from torch.distributed import distributed_c10d

        owns = False
        if not dist.is_initialized():
            try:
                dist.init_process_group(
                    backend="gloo", rank=launch.rank, world_size=launch.world_size, timeout=timeout
                )
            except (RuntimeError, ValueError) as e:
                raise RunError(
                    f"rank {launch.rank}: cannot join the launch's process group "
                    f"(MASTER_ADDR={os.environ.get('MASTER_ADDR')!r}, "
                    f"MASTER_PORT={os.environ.get('MASTER_PORT')!r}): {e}"
                ) from e
            owns = True
        return cls(launch, distributed_c10d._get_default_store(), owns)

    def queue(self, n: int) -> StoreQueue:
        return StoreQueue(self.store, self.prefix + "next", n)

    def publish(self, key: str, value: Any) -> None:
        self.store.set(self.prefix + key, json.dumps(value))

    def fetch(self, key: str) -> Any:
        """The value published under ``key`` (waits for it, up to the store's timeout)."""
        return json.loads(self.store.get(self.prefix + key).decode("utf-8"))

    def has(self, key: str) -> bool:
        """Whether a value was published under ``key`` (does not wait)."""
        return bool(self.store.check([self.prefix + key]))

    def count(self, key: str, k: int = 1) -> int:
        return int(self.store.add(self.prefix + key, k))

    def finish(self, stats: RankStats) -> None:
        """Report this rank's timing and that it is done."""
        self.publish(f"stats/{self.launch.rank}", stats.to_dict())
        self.count("done")

    def wait_all(self, poll: float = 0.05) -> list[dict[str, Any]]:
        """Rank 0: wait until every rank is done; their timing, by rank."""
        while self.count("done", 0) < self.launch.world_size:
            time.sleep(poll)
        return [self.fetch(f"stats/{r}") for r in range(self.launch.world_size)]

    def close(self) -> None:
        if self._owns_group:
            import torch.distributed as dist

            if dist.is_initialized():
                dist.destroy_process_group()


def on_sigterm() -> Any:
    """Make SIGTERM (the launcher stopping this process) raise :class:`LaunchStopped` in the main
    thread; returns the previous handler (restore it with ``signal.signal``)."""

    def handler(signum: int, frame: Any) -> None:
        raise LaunchStopped()

    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGTERM, handler)


def launch_record(
    launch: Launch,
    hand_out: str,
    ranks: Sequence[Mapping[str, Any]],
    wall_s: float,
    started: str,
    done_before: int = 0,
) -> dict[str, Any]:
    """One entry of ``config.json``'s ``launches``: who ran, how the work was shared, how fast
    (``done_before``: records an earlier launch of the run had already written)."""
    videos = sum(int(r.get("videos") or 0) for r in ranks)
    return {
        "launcher": launch.launcher,
        "world_size": launch.world_size,
        "hand_out": hand_out if launch.distributed else None,
        "started": started,
        "done_before": done_before,
        "wall_s": round(wall_s, 3),
        "videos": videos,
        "videos_per_s": round(videos / wall_s, 3) if wall_s > 0 else None,
        "ranks": [dict(r) for r in ranks],
    }

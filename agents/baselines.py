"""Reference policies that need no model: bounds and sanity checks for every benchmark.

* :class:`OracleAgent` (``oracle``): proposes the ground truth; scores 1.0 (the upper bound,
  and a check that the metric and the pipeline agree with themselves).
* :class:`EmptyAgent` (``empty``): proposes nothing; scores 0.
* :class:`RandomAgent` (``random``): ``k`` actions drawn from the *other* videos' annotations.
* :class:`BlindAgent` (``blind``): the ``k`` most frequent actions of the other videos, the
  same for every clip: what a text-only prior earns without looking at the frames.
* :class:`RetrievalAgent` (``retrieval``): the actions of the most similar *other* clip, by
  simple frame features. The demo's default agent.

Every baseline that learns from the benchmark is **leave-one-out**: the answer for a video
never uses that video's own annotations. ``k`` (random, blind) defaults to the median number
of ground-truth actions per video (at least 1); pass ``random:3`` / ``blind:3`` to fix it.
All baselines are deterministic: the random draw is seeded by ``seed``, a stable hash of the
video id and the runner's sample index.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from visualact_env.agent import Agent, AgentOutput
from visualact_env.records import Action, Benchmark, VideoRecord

__all__ = [
    "BlindAgent",
    "EmptyAgent",
    "OracleAgent",
    "RandomAgent",
    "RetrievalAgent",
    "frame_features",
]


def _stable_hash(text: str) -> int:
    """A process-independent 64-bit hash (Python's ``hash`` of str is salted per process)."""
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "little")


def _parse_count(arg: str | None, name: str) -> int | None:
    if arg is None or arg == "":
        return None
    try:
        k = int(arg)
    except ValueError:
        raise ValueError(
            f"agent {name!r}: argument must be the number of actions, got {arg!r}"
        ) from None
    if k < 0:
        raise ValueError(f"agent {name!r}: number of actions must be >= 0, got {k}")
    return k


def _no_arg(arg: str | None, name: str) -> None:
    if arg not in (None, ""):
        raise ValueError(f"agent {name!r} takes no argument, got {arg!r}")


def _median_count(benchmark: Benchmark) -> int:
    counts = [len(r.actions) for r in benchmark]
    return max(1, int(round(float(np.median(counts))))) if counts else 1


class _BenchmarkAgent(Agent):
    """Shared plumbing: remembers the benchmark from :meth:`setup` and looks up ``video_id``."""

    name = ""

    def __init__(self, arg: str | None = None, *, seed: int = 0, **_ignored: Any):
        self.seed = int(seed)
        self.spec = self.name if arg in (None, "") else f"{self.name}:{arg}"
        self.benchmark: Benchmark | None = None

    def setup(self, benchmark: Benchmark, sampler: Any) -> None:
        self.benchmark = benchmark

    def _record(self, info: Mapping[str, Any]) -> VideoRecord | AgentOutput:
        """The episode's record, or a failed output naming what is wrong."""
        if self.benchmark is None:
            raise RuntimeError(
                f"{type(self).__name__}.setup(benchmark, sampler) must be called before act()"
            )
        video_id = info.get("video_id")
        if video_id is None:
            return AgentOutput(error=f"{self.name}: info has no 'video_id'")
        if video_id not in self.benchmark:
            return AgentOutput(
                error=f"{self.name}: video_id {video_id!r} is not in the benchmark given to setup()"
            )
        return self.benchmark[video_id]

    def config(self) -> dict[str, Any]:
        return {
            "spec": self.spec,
            "deterministic": self.deterministic,
            "agent": self.name,
            "seed": self.seed,
        }


class OracleAgent(_BenchmarkAgent):
    """Proposes the ground-truth actions of ``info["video_id"]`` (the upper bound)."""

    name = "oracle"

    def __init__(self, arg: str | None = None, *, seed: int = 0, **ignored: Any):
        _no_arg(arg, self.name)
        super().__init__(arg, seed=seed, **ignored)

    def act(self, observation: Mapping[str, Any], info: Mapping[str, Any]) -> AgentOutput:
        record = self._record(info)
        if isinstance(record, AgentOutput):
            return record
        return AgentOutput(actions=tuple(record.actions))


class EmptyAgent(Agent):
    """Always proposes nothing (a valid, empty answer: scores 0)."""

    def __init__(self, arg: str | None = None, *, seed: int = 0, **_ignored: Any):
        _no_arg(arg, "empty")
        self.spec = "empty"
        self.seed = int(seed)

    def act(self, observation: Mapping[str, Any], info: Mapping[str, Any]) -> AgentOutput:
        return AgentOutput(actions=())

    def config(self) -> dict[str, Any]:
        return {"spec": self.spec, "deterministic": True, "agent": "empty"}


def _normalise(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", " ", text.lower()).split())


class _CountAgent(_BenchmarkAgent):
    """A baseline proposing ``k`` actions: the spec's argument, else (at :meth:`setup`) the
    median number of ground-truth actions per video."""

    def __init__(self, arg: str | None = None, *, seed: int = 0, **ignored: Any):
        super().__init__(arg, seed=seed, **ignored)
        self.k_arg = _parse_count(arg, self.name)
        self.k = 1 if self.k_arg is None else self.k_arg

    def setup(self, benchmark: Benchmark, sampler: Any) -> None:
        super().setup(benchmark, sampler)
        self.k = self.k_arg if self.k_arg is not None else _median_count(benchmark)

    def config(self) -> dict[str, Any]:
        return {**super().config(), "k": self.k}


class RandomAgent(_CountAgent):
    """``k`` actions drawn without replacement from the other videos' ground truth.

    Actions whose normalised text equals one of the video's own are excluded too, so the draw
    can never hit the answer by copying it. Seeded by ``(seed, hash(video_id), sample)``.
    """

    name = "random"

    def setup(self, benchmark: Benchmark, sampler: Any) -> None:
        super().setup(benchmark, sampler)
        self._pool = [(r.video_id, a) for r in benchmark for a in r.actions]

    def act(self, observation: Mapping[str, Any], info: Mapping[str, Any]) -> AgentOutput:
        record = self._record(info)
        if isinstance(record, AgentOutput):
            return record
        own = {_normalise(a.text) for a in record.actions}
        pool = [
            a for vid, a in self._pool if vid != record.video_id and _normalise(a.text) not in own
        ]
        sample = int(info.get("sample", 0) or 0)
        rng = np.random.default_rng([self.seed % 2**63, _stable_hash(record.video_id), abs(sample)])
        k = min(self.k, len(pool))
        picks: Sequence[int] = rng.choice(len(pool), size=k, replace=False).tolist() if k else []
        return AgentOutput(actions=tuple(pool[int(i)] for i in picks))


class BlindAgent(_CountAgent):
    """The ``k`` most frequent actions of the other videos, ignoring the frames.

    Texts are grouped by a normalised form (lower case, punctuation removed); each group is
    proposed with its most common spelling, APL and proactive flag. Ties are broken by first
    appearance in the benchmark, so the answer is deterministic.
    """

    name = "blind"

    def setup(self, benchmark: Benchmark, sampler: Any) -> None:
        super().setup(benchmark, sampler)
        self._counts: Counter[str] = Counter()
        self._first: dict[str, int] = {}
        self._variants: dict[str, Counter[tuple[str, int | None, bool | None]]] = {}
        for r in benchmark:
            for a in r.actions:
                key = _normalise(a.text)
                self._counts[key] += 1
                self._first.setdefault(key, len(self._first))
                self._variants.setdefault(key, Counter())[(a.text, a.apl, a.proactive)] += 1

    def act(self, observation: Mapping[str, Any], info: Mapping[str, Any]) -> AgentOutput:
        record = self._record(info)
        if isinstance(record, AgentOutput):
            return record
        counts = self._counts.copy()
        counts.subtract(Counter(_normalise(a.text) for a in record.actions))
        ranked = sorted(
            (k for k, c in counts.items() if c > 0), key=lambda k: (-counts[k], self._first[k])
        )
        return AgentOutput(actions=tuple(self._representative(key) for key in ranked[: self.k]))

    def _representative(self, key: str) -> Action:
        """Most common spelling, APL and flag of a text group (first seen wins ties)."""
        variants = self._variants[key]
        text = _most_common(_sum_by(variants, 0))
        apl = _most_common(_sum_by(variants, 1))
        proactive = _most_common(_sum_by(variants, 2))
        return Action(text=text, apl=apl, proactive=proactive)


def _sum_by(variants: Counter[tuple[Any, ...]], index: int) -> Counter[Any]:
    out: Counter[Any] = Counter()
    for v, c in variants.items():
        out[v[index]] += c
    return out


def _most_common(counter: Counter[Any]) -> Any:
    return counter.most_common(1)[0][0]  # insertion order breaks ties (Counter is a dict)


# --------------------------------------------------------------------------------------------
# retrieval

THUMB = 8
"""Thumbnail side: frames are cropped of letterbox bars and area-averaged to 8x8."""
HIST_BINS = 4
"""Colour-histogram bins per channel (4**3 = 64 joint bins)."""
_BAR_LEVEL = 8  # pixel values <= this along an edge count as letterbox padding


def _trim_letterbox(frames: np.ndarray) -> np.ndarray:
    """Drop black rows/columns on the edges of all frames (the padding of a letterbox)."""
    bright = frames.max(axis=(0, 3)) > _BAR_LEVEL  # (H, W)
    rows = np.flatnonzero(bright.any(axis=1))
    cols = np.flatnonzero(bright.any(axis=0))
    if rows.size == 0 or cols.size == 0:
        return frames
    return frames[:, rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def _area_resize(frames: np.ndarray, size: int) -> np.ndarray:
    """Area-average (N, H, W, 3) to (N, size, size, 3); nearest sampling if smaller than size."""
    out: np.ndarray = frames.astype(np.float32)
    for axis in (1, 2):
        n = out.shape[axis]
        if n >= size:
            edges = np.floor(np.linspace(0, n, size + 1)).astype(int)
            sums = np.add.reduceat(out, edges[:-1], axis=axis)
            widths = np.diff(edges).reshape([-1 if a == axis else 1 for a in range(4)])
            out = sums / widths
        else:
            idx = np.floor(np.linspace(0, n - 1, size) + 0.5).astype(int)
            out = np.take(out, idx, axis=axis)
    return out


def frame_features(frames: np.ndarray) -> np.ndarray:
    """A small descriptor of a clip's sampled frames (float32, fixed length).

    Parts, each scaled to [0, 1]: the mean 8x8 RGB thumbnail over time (layout and colour),
    the mean absolute change between consecutive thumbnails (motion), and a 64-bin joint colour
    histogram. Letterbox bars are cropped first and every frame is reduced to 8x8, so frames of
    one clip sampled at different sizes or paddings give nearly the same features.
    """
    arr = np.asarray(frames)
    if arr.ndim != 4 or arr.shape[-1] != 3 or arr.shape[0] == 0 or 0 in arr.shape[1:3]:
        raise ValueError(f"frames must be a non-empty (N, H, W, 3) array, got shape {arr.shape}")
    arr = _trim_letterbox(arr)
    thumbs = _area_resize(arr, THUMB) / 255.0  # (N, 8, 8, 3)
    layout = thumbs.mean(axis=0).ravel()
    motion = (
        np.abs(np.diff(thumbs, axis=0)).mean(axis=0).ravel()
        if thumbs.shape[0] > 1
        else np.zeros(THUMB * THUMB * 3, np.float32)
    )
    q = (_area_resize(arr, 4 * THUMB).astype(np.int64) * HIST_BINS // 256).clip(0, HIST_BINS - 1)
    codes = (q[..., 0] * HIST_BINS + q[..., 1]) * HIST_BINS + q[..., 2]
    hist = np.bincount(codes.ravel(), minlength=HIST_BINS**3).astype(np.float32)
    hist /= max(1.0, float(hist.sum()))
    return np.concatenate([layout, motion, np.sqrt(hist)]).astype(np.float32)


class RetrievalAgent(_BenchmarkAgent):
    """Proposes the actions of the nearest *other* clip by :func:`frame_features` (L2).

    ``setup`` samples every clip of the benchmark with the sampler it is given (the runner
    passes the environment's) and stores its features; ``act`` computes the query's features
    from ``observation["frames"]`` and excludes ``info["video_id"]`` from the search
    (leave-one-out). The features crop letterbox bars and shrink frames to 8x8, so a sampler
    with another output size still finds the same neighbours. With ``retrieval:K`` the
    actions of the K nearest clips are concatenated, nearest first.
    """

    name = "retrieval"

    def __init__(self, arg: str | None = None, *, seed: int = 0, **ignored: Any):
        super().__init__(arg, seed=seed, **ignored)
        neighbours = _parse_count(arg, self.name)
        self.neighbours = 1 if neighbours is None else max(1, neighbours)
        self._ids: list[str] = []
        self._features = np.zeros((0, 0), np.float32)
        self.skipped: dict[str, str] = {}

    def setup(self, benchmark: Benchmark, sampler: Any) -> None:
        from visualact_env.frames import FrameError, as_sampler, sample_frames

        super().setup(benchmark, sampler)
        config = as_sampler(sampler)
        ids, feats = [], []
        self.skipped = {}
        for record in benchmark:
            try:
                feats.append(frame_features(sample_frames(record.path, config)))
            except (FrameError, ValueError) as e:  # an unreadable clip is left out of the bank
                self.skipped[record.video_id] = str(e)
                continue
            ids.append(record.video_id)
        self._ids = ids
        self._features = np.stack(feats) if feats else np.zeros((0, 0), np.float32)

    def neighbours_of(self, frames: np.ndarray, exclude: str | None) -> list[tuple[str, float]]:
        """``(video_id, L2 distance)`` of bank clips nearest to ``frames``, nearest first."""
        query = frame_features(frames)
        dist = (
            np.sqrt(((self._features - query) ** 2).sum(axis=1)) if len(self._ids) else np.zeros(0)
        )
        order = np.argsort(dist, kind="stable")
        return [(self._ids[i], float(dist[i])) for i in order if self._ids[i] != exclude]

    def act(self, observation: Mapping[str, Any], info: Mapping[str, Any]) -> AgentOutput:
        record = self._record(info)
        if isinstance(record, AgentOutput):
            return record
        frames = observation.get("frames") if isinstance(observation, Mapping) else None
        if frames is None:
            return AgentOutput(error="retrieval: observation has no 'frames'")
        try:
            ranked = self.neighbours_of(np.asarray(frames), exclude=record.video_id)
        except ValueError as e:
            return AgentOutput(error=f"retrieval: {e}")
        if not ranked:
            return AgentOutput(error="retrieval: no other video in the benchmark to retrieve from")
        assert self.benchmark is not None
        chosen = ranked[: self.neighbours]
        actions = tuple(a for vid, _ in chosen for a in self.benchmark[vid].actions)
        diagnostics = [f"neighbour {vid} (distance {d:.4f})" for vid, d in chosen]
        return AgentOutput(actions=actions, diagnostics=diagnostics)

    def config(self) -> dict[str, Any]:
        return {
            **super().config(),
            "neighbours": self.neighbours,
            "features": f"letterbox-trimmed {THUMB}x{THUMB} mean+motion thumbnails, {HIST_BINS}^3 colour histogram",
            "distance": "l2",
        }

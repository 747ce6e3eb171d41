"""What the VisualAct environments share: one config, dataset selection, frames, episode order.

``VisualActEnv``, ``VisualActIncrementalEnv`` and ``VisualActVectorEnv`` take the same
:class:`EnvConfig` (or its fields as keyword arguments, as ``gym.make`` passes them); it is
declared and resolved here once so that the three cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from typing import Any

import numpy as np

from ..records import SCENARIOS, Benchmark, VideoRecord
from ..sampler import DEFAULT_SAMPLER
from .framestore import DEFAULT_MAX_MB

ORDERS: tuple[str, ...] = ("sequential", "shuffle")
# the environments' defaults are the one default sampler's, which `visualact eval` uses too
DEFAULT_NUM_FRAMES = DEFAULT_SAMPLER.num_frames
DEFAULT_FRAME_SIZE: tuple[int, int] = DEFAULT_SAMPLER.size or (224, 224)
DEFAULT_RESIZE = DEFAULT_SAMPLER.resize


@dataclass(frozen=True)
class EnvConfig:
    """The arguments every VisualAct environment takes, in one place.

    Their meanings and defaults are in :class:`~visualact_env.envs.visualact.VisualActEnv`'s
    "Arguments" table. Pass an ``EnvConfig`` as ``config=`` or its fields as keyword arguments
    (``gym.make("VisualAct-v0", num_frames=4)``); keyword arguments override the config's fields.
    Values are checked where they are used (an unknown scenario, a bad frame size, an unknown
    reward each raise a ``ValueError`` naming the argument when the environment is built).
    """

    dataset: str | Benchmark | Any = "demo"
    scenarios: str | Sequence[str] | None = None
    video_ids: Sequence[str] | None = None
    num_frames: int = DEFAULT_NUM_FRAMES
    frame_size: Sequence[int] = DEFAULT_FRAME_SIZE
    resize: str = DEFAULT_RESIZE
    sampler: Any = None
    reward: str = "weighted_f1"
    tau: float | None = None
    embedder: Any = None
    order: str = "sequential"
    expose_scenario: bool = False
    frame_cache_mb: int = DEFAULT_MAX_MB
    render_mode: str | None = None

    @classmethod
    def of(cls, config: EnvConfig | None = None, /, owner: str = "", **kwargs: Any) -> EnvConfig:
        """``config`` (or the defaults) with ``kwargs`` applied; an unknown name is a TypeError."""
        if config is not None and not isinstance(config, EnvConfig):
            raise TypeError(f"config: expected an EnvConfig, got {type(config).__name__}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(kwargs) - known)
        if unknown:
            raise TypeError(
                f"{owner or cls.__name__}: unknown argument(s) {unknown}; known: {sorted(known)}"
            )
        return replace(config or cls(), **kwargs)


def resolve_benchmark(
    dataset: str | Benchmark | Any = "demo",
    scenarios: str | Sequence[str] | None = None,
    video_ids: Sequence[str] | None = None,
) -> Benchmark:
    """The benchmark an environment runs on.

    ``dataset`` is a :class:`Benchmark` or a spec for :func:`visualact_env.datasets.load_benchmark`
    (``"demo"``, ``"synthetic-full"`` or an annotation file path). ``scenarios`` (one name or a
    list) and ``video_ids`` filter it; an empty result is an error.
    """
    if isinstance(dataset, Benchmark):
        benchmark = dataset
    elif isinstance(dataset, (str, bytes)) or hasattr(dataset, "__fspath__"):
        from ..datasets import load_benchmark

        benchmark = load_benchmark(str(dataset))
    else:
        raise TypeError(
            f"dataset: expected a Benchmark, a spec string or a path, got {type(dataset).__name__}"
        )
    if isinstance(scenarios, str):
        scenarios = [scenarios]
    if scenarios is not None:
        unknown = sorted(set(scenarios) - set(SCENARIOS))
        if unknown:
            raise ValueError(f"scenarios: unknown {unknown}; choose from {list(SCENARIOS)}")
    if scenarios or video_ids is not None:
        if video_ids is not None:
            absent = [v for v in video_ids if v not in benchmark]
            if absent:
                raise ValueError(f"video_ids: not in benchmark {benchmark.name!r}: {absent[:5]}")
        benchmark = benchmark.subset(scenarios=scenarios, video_ids=video_ids)
    if len(benchmark) == 0:
        raise ValueError(
            f"dataset {benchmark.name!r} has no video for scenarios={scenarios} video_ids={video_ids}"
        )
    return benchmark


def make_sampler(
    num_frames: int = DEFAULT_NUM_FRAMES,
    frame_size: Sequence[int] = DEFAULT_FRAME_SIZE,
    resize: str = DEFAULT_RESIZE,
    sampler: Any = None,
) -> Any:
    """The :class:`~visualact_env.sampler.SamplerConfig` an environment reads clips with.

    Without ``sampler`` it is the default sampler (:data:`~visualact_env.sampler.DEFAULT_SAMPLER`,
    the one ``visualact eval`` uses) with these three fields, so under the defaults both paths
    show an agent the same pixels. A ``sampler`` given explicitly wins over
    ``num_frames``/``frame_size``/``resize``; the observation needs a fixed shape, so a sampler
    without ``size`` gets ``frame_size``, and rate sampling (``fps``) or a pixel budget
    (``max_pixels``, whose shape follows each clip) is refused.
    """
    from ..sampler import as_sampler

    if sampler is None:
        size = _check_size(frame_size)
        if int(num_frames) < 1:
            raise ValueError(f"num_frames: must be at least 1, got {num_frames}")
        return replace(DEFAULT_SAMPLER, num_frames=int(num_frames), size=size, resize=resize)
    sampler = as_sampler(sampler)
    if sampler.fps is not None:
        raise ValueError(
            f"sampler: fps={sampler.fps:g} gives a clip-dependent frame count, but an "
            "observation has a fixed shape; use num_frames (rate sampling is for visualact eval)"
        )
    if sampler.size is None:
        if sampler.max_pixels is not None:
            raise ValueError(
                f"sampler: max_pixels={sampler.max_pixels} keeps each clip's aspect ratio, but an "
                "observation has a fixed shape; set size (or frame_size) instead"
            )
        sampler = replace(sampler, size=_check_size(frame_size))
    return sampler


def _check_size(frame_size: Sequence[int]) -> tuple[int, int]:
    try:
        height, width = (int(v) for v in frame_size)
    except (TypeError, ValueError):
        raise ValueError(f"frame_size: expected (height, width), got {frame_size!r}") from None
    if height < 1 or width < 1:
        raise ValueError(f"frame_size: must be positive, got {frame_size!r}")
    return height, width


def check_frames(frames: np.ndarray, record: VideoRecord, shape: tuple[int, ...]) -> np.ndarray:
    """``frames`` if it has the observation's shape and dtype, else a ``ValueError`` naming the clip."""
    if frames.dtype != np.uint8 or frames.shape != shape:
        raise ValueError(
            f"{record.path}: video {record.video_id!r}: frames have shape {frames.shape} "
            f"{frames.dtype}, the observation space needs {shape} uint8"
        )
    return frames


@dataclass
class Schedule:
    """The order in which resets visit the benchmark's videos.

    ``"sequential"`` walks the benchmark in file order and wraps around; a seeded reset restarts
    the walk at the first video. ``"shuffle"`` walks a permutation drawn from the environment's
    seeded generator and draws a fresh one after each full pass, so every pass visits every video
    exactly once.
    """

    size: int
    order: str = "sequential"

    def __post_init__(self) -> None:
        if self.order not in ORDERS:
            raise ValueError(f"order: unknown {self.order!r}; choose from {list(ORDERS)}")
        self._perm: np.ndarray = np.arange(self.size)
        self._pos = 0

    def restart(self, rng: np.random.Generator) -> None:
        """Begin a new pass (called on a seeded reset, and on the first reset)."""
        self._pos = 0
        self._perm = self._draw(rng)

    def _draw(self, rng: np.random.Generator) -> np.ndarray:
        if self.order == "shuffle":
            return rng.permutation(self.size)
        return np.arange(self.size)

    def next(self, rng: np.random.Generator) -> int:
        """Index of the next video."""
        if self._pos >= self.size:
            self._pos = 0
            self._perm = self._draw(rng)
        index = int(self._perm[self._pos])
        self._pos += 1
        return index

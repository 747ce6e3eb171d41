"""Which frames of a clip an agent sees and at what size: :class:`SamplerConfig`, one default.

This module is a leaf (no numpy, no decoder): the CLI, the runner and the environments import it
to build and record samplers without loading anything heavy. Decoding lives in
:mod:`visualact_env.frames`; the rules are documented in ``docs/frames.md``.

One default for every path
--------------------------
:data:`DEFAULT_SAMPLER` (``SamplerConfig()``) is what ``visualact eval``, the environments
(``VisualAct-v0`` and friends), the fine-tuning commands and the report thumbnails use when
nothing else is asked for: 8 frames by ``linspace``, letterboxed to 224x224. An agent therefore
sees the same pixels through ``gym.make("VisualAct-v0")`` and through ``visualact eval``.

Three ways to choose frames, as peer harnesses do
-------------------------------------------------
* a fixed count: ``num_frames`` frames by ``rule``;
* a rate: ``fps`` frames per second of video, at most ``max_frames`` (the count then depends on
  the clip's length; see :func:`fps_frame_count`), picked by the same ``rule``;
* a size: ``size=(H, W)`` (letterbox or stretch), or ``size=None`` for the clip's own size,
  optionally within a per-frame pixel budget ``max_pixels`` (aspect ratio kept, see
  :func:`fit_pixels`).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import Any

RULES: tuple[str, ...] = ("linspace", "linspace-floor", "centered")
RESIZE_MODES: tuple[str, ...] = ("letterbox", "stretch")
BACKENDS: tuple[str, ...] = ("auto", "decord", "pyav")

DEFAULT_NUM_FRAMES = 8
DEFAULT_FRAME_SIZE: tuple[int, int] = (224, 224)
DEFAULT_MAX_FRAMES = 32
"""The cap on frames sampled by rate (``fps``) when none is given (vLLM's default count)."""


def _positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be >= 1, got {value}")
    return value


@dataclass(frozen=True)
class SamplerConfig:
    """How frames are chosen from a clip and shaped (recorded with every result).

    ``num_frames`` frames are picked by ``rule``, unless ``fps`` is set: then the clip's length
    decides the count (:func:`fps_frame_count`, at most ``max_frames``). ``size`` is the output
    ``(height, width)``, reached by ``resize`` (``"letterbox"``: keep the aspect ratio, pad with
    black; ``"stretch"``); ``None`` keeps the clip's own size, shrunk to at most ``max_pixels``
    pixels per frame when that is set (aspect ratio kept, never enlarged). ``size`` and
    ``max_pixels`` exclude each other. ``backend`` picks the decoder (both give the same frames).
    """

    num_frames: int = DEFAULT_NUM_FRAMES
    rule: str = "linspace"
    size: tuple[int, int] | None = DEFAULT_FRAME_SIZE
    resize: str = "letterbox"
    backend: str = "auto"
    fps: float | None = None
    max_frames: int = DEFAULT_MAX_FRAMES
    max_pixels: int | None = None

    def __post_init__(self) -> None:
        _positive_int("num_frames", self.num_frames)
        _positive_int("max_frames", self.max_frames)
        if self.rule not in RULES:
            raise ValueError(f"unknown rule {self.rule!r}; choose from {list(RULES)}")
        if self.resize not in RESIZE_MODES:
            raise ValueError(f"unknown resize {self.resize!r}; choose from {list(RESIZE_MODES)}")
        if self.backend not in BACKENDS:
            raise ValueError(f"unknown backend {self.backend!r}; choose from {list(BACKENDS)}")
        if self.fps is not None:
            if isinstance(self.fps, bool) or not isinstance(self.fps, (int, float)):
                raise ValueError(f"fps must be a number, got {self.fps!r}")
            if not math.isfinite(self.fps) or self.fps <= 0:
                raise ValueError(f"fps must be > 0, got {self.fps}")
            object.__setattr__(self, "fps", float(self.fps))
        if self.max_pixels is not None:
            _positive_int("max_pixels", self.max_pixels)
        if self.size is not None:
            size = tuple(self.size)
            if len(size) != 2 or not all(
                isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in size
            ):
                raise ValueError(
                    f"size must be (height, width) positive integers, got {self.size!r}"
                )
            object.__setattr__(self, "size", (int(size[0]), int(size[1])))
            if self.max_pixels is not None:
                raise ValueError(
                    "size and max_pixels exclude each other: a fixed size is already a pixel "
                    "budget; use size=None with max_pixels to keep each clip's aspect ratio"
                )

    @property
    def fixed_count(self) -> bool:
        """Whether every clip gives exactly ``num_frames`` frames (no ``fps``)."""
        return self.fps is None

    @property
    def fixed_shape(self) -> bool:
        """Whether every clip gives the same array shape (what an observation space needs)."""
        return self.fixed_count and self.size is not None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready record of the configuration (stored with every result)."""
        d = asdict(self)
        d["size"] = list(self.size) if self.size is not None else None
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SamplerConfig:
        """Inverse of :meth:`to_dict` (unknown keys are an error; missing keys take defaults,
        so records written before a field existed still load)."""
        d = dict(d)
        if d.get("size") is not None:
            d["size"] = tuple(d["size"])
        return cls(**d)

    @property
    def key(self) -> str:
        """A stable string naming what the frames depend on (not the backend: both decoders
        give the same frames). Samplers from before ``fps``/``max_pixels`` keep their key."""
        count = (
            f"n{self.num_frames}" if self.fps is None else f"fps{self.fps:g}max{self.max_frames}"
        )
        size = "native" if self.size is None else f"{self.size[0]}x{self.size[1]}"
        resize = self.resize if self.size is not None else "none"
        key = f"{count}-{self.rule}-{size}-{resize}"
        if self.max_pixels is not None:
            key += f"-px{self.max_pixels}"
        return key

    def describe(self) -> str:
        """One line for reports: ``"8 frames (linspace), 224x224 letterbox"``."""
        if self.fps is None:
            count = f"{self.num_frames} frame{'s' if self.num_frames != 1 else ''}"
        else:
            count = f"{self.fps:g} fps up to {self.max_frames} frames"
        if self.size is not None:
            shape = f"{self.size[0]}x{self.size[1]} {self.resize}"
        elif self.max_pixels is not None:
            shape = f"own size within {self.max_pixels:,} pixels"
        else:
            shape = "own size"
        return f"{count} ({self.rule}), {shape}"


DEFAULT_SAMPLER = SamplerConfig()
"""The one default of ``eval``, the environments, the fine-tuning commands and the reports."""


def fps_frame_count(total: int, video_fps: float, fps: float, max_frames: int) -> int:
    """How many frames rate sampling takes from a clip of ``total`` frames at ``video_fps``.

    ``floor(total / video_fps * fps + 0.5)`` -- the clip's duration times the rate, rounded half
    up -- then at least 1, at most ``total`` (a frame is never repeated to reach the rate) and at
    most ``max_frames``. The frames themselves are then picked by the sampler's ``rule``, as for
    a fixed count (Qwen2-VL's ``qwen-vl-utils`` counts the same way, rounded to an even number).
    """
    if total < 1:
        raise ValueError(f"a clip needs at least one frame, got total={total}")
    if not (video_fps > 0 and math.isfinite(video_fps)):
        raise ValueError(f"the clip has no usable frame rate ({video_fps!r})")
    wanted = math.floor(total / video_fps * fps + 0.5)
    return max(1, min(wanted, total, max_frames))


def fit_pixels(height: int, width: int, max_pixels: int) -> tuple[int, int]:
    """The size a ``height`` x ``width`` frame is shrunk to so that it holds at most ``max_pixels``.

    A frame within the budget keeps its size (never enlarged). Otherwise both sides are scaled by
    ``s = sqrt(max_pixels / (height * width))`` and rounded down, at least 1 each: the aspect ratio
    is kept to within a pixel and ``h * w <= max_pixels`` (for an aspect ratio so extreme that a
    side would round to 0, that side is 1 and the other ``max_pixels``). Model-specific rounding (Qwen's
    multiples of 28) is left to the model's own processor.
    """
    if height * width <= max_pixels:
        return height, width
    scale = math.sqrt(max_pixels / (height * width))
    h, w = max(1, math.floor(height * scale)), max(1, math.floor(width * scale))
    if h * w > max_pixels:  # a side was raised to 1 (an extreme aspect ratio): trim the other
        if h == 1:
            w = max_pixels
        else:
            h = max_pixels
    return h, w


NATIVE = "native"
"""``--frame-size native``: keep the clip's own size."""


def sampler_from_options(
    frames: int = DEFAULT_NUM_FRAMES,
    frame_size: tuple[int, int] | str | None = None,
    rule: str = "linspace",
    fps: float | None = None,
    max_frames: int | None = None,
    max_pixels: int | None = None,
) -> SamplerConfig:
    """The sampler of a command's frame options (``--frames``, ``--frame-size``, ...).

    ``frame_size`` ``None`` means the default: 224x224 letterboxed, or the clip's own size when
    ``max_pixels`` is given; ``"native"`` asks for the clip's own size. A bad combination raises
    ``ValueError`` naming the options.
    """
    if frame_size == NATIVE or (frame_size is None and max_pixels is not None):
        size: tuple[int, int] | None = None
    elif frame_size is None:
        size = DEFAULT_FRAME_SIZE
    elif isinstance(frame_size, str):
        raise ValueError(f"--frame-size: expected HxW or {NATIVE!r}, got {frame_size!r}")
    else:
        size = (int(frame_size[0]), int(frame_size[1]))
    if size is not None and max_pixels is not None:
        raise ValueError(
            "--frame-size and --max-pixels exclude each other (a fixed size is already a pixel "
            "budget); drop --frame-size to keep each clip's aspect ratio within --max-pixels"
        )
    if max_frames is not None and fps is None:
        raise ValueError("--max-frames caps --fps sampling; with a fixed count use --frames")
    try:
        return replace(
            DEFAULT_SAMPLER,
            num_frames=frames,
            size=size,
            rule=rule,
            fps=fps,
            max_frames=DEFAULT_MAX_FRAMES if max_frames is None else max_frames,
            max_pixels=max_pixels,
        )
    except ValueError as e:
        raise ValueError(f"frame options: {e}") from None


def as_sampler(value: SamplerConfig | dict[str, Any] | None) -> SamplerConfig:
    """Coerce ``None`` (the default) / a dict from :meth:`SamplerConfig.to_dict` / a config."""
    if value is None:
        return DEFAULT_SAMPLER
    if isinstance(value, SamplerConfig):
        return value
    if isinstance(value, dict):
        return SamplerConfig.from_dict(value)
    raise TypeError(f"cannot make a SamplerConfig from {type(value).__name__}")


def describe_sampler(record: Any) -> str:
    """The report line of a recorded sampler (a ``to_dict()`` record, possibly from an older
    version): :meth:`SamplerConfig.describe`, or its ``key=value`` pairs when it does not load."""
    if not record:
        return "-"
    try:
        return as_sampler(dict(record)).describe()
    except (TypeError, ValueError):
        return ", ".join(f"{k}={v}" for k, v in dict(record).items())

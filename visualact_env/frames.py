"""Frame sampling: which frames of a clip an agent sees, decoded once and cached on disk.

Why the sampling rule is explicit
---------------------------------
Video harnesses disagree on which frames they feed a model (``np.linspace(0, n-1, k)`` in
lmms-eval, centred bins in others, 32 frames by default in vLLM); that disagreement is the
leading cause of irreproducible video scores. Every result therefore records its
:class:`SamplerConfig` (``to_dict()``), and decoded frames are cached under its :attr:`~SamplerConfig.key`.

Rules (``n`` = frames in the clip, ``N`` = ``num_frames``):

* ``"linspace"``: ``round(np.linspace(0, n - 1, N))`` -- first and last frame always included.
* ``"linspace-floor"``: ``np.linspace(0, n - 1, N).astype(int)`` -- the truncating variant some
  lmms-eval model wrappers use (``np.linspace(..., dtype=int)``); differs from ``"linspace"`` by
  at most one frame per index.
* ``"centered"``: the centre frame of each of ``N`` equal bins, ``floor((i + 0.5) * n / N)``.

A clip shorter than ``N`` frames is not an error: every rule then repeats indices (e.g. 3 frames,
``N = 8``, ``"linspace"`` -> ``0 0 1 1 1 1 2 2``), so the output always has exactly ``N`` frames
and a batch of clips stacks to one array.

Sampling by rate (``fps``): ``N = min(max(1, floor(n / clip_fps * fps + 0.5)), n, max_frames)``
(:func:`~visualact_env.sampler.fps_frame_count`), then the same rule. The clip's frame rate is
the decoder's average rate. The count then varies from clip to clip.

Sizes: ``size=(H, W)`` letterboxes (or stretches) to that size; ``size=None`` keeps the clip's
own size, shrunk to ``(floor(h*s), floor(w*s))`` with ``s = sqrt(max_pixels / (h*w))`` when it
holds more than ``max_pixels`` (:func:`~visualact_env.sampler.fit_pixels`). The decoder scales
each frame to that size (:func:`decode_size`; the letterbox's picture, its black bars are added
after) with FFmpeg's bilinear scaler as it converts to RGB: decord through
``VideoReader(width=, height=)``, PyAV through the same filter graph decord builds
(``scale=W:H:flags=bilinear,format=rgb24``), which gives identical pixels (tested). A full-size
RGB frame is therefore never held, let alone cached: an 8K clip at the default 224x224 took
3.6 s and 0.4 GB instead of 15 s and 2.0 GB (``benchmarks/bench_extremes.py``). Sampled frames larger in total than
:data:`~visualact_env.limits.MAX_FRAME_BYTES` are refused before decoding (:class:`FrameError`).

Backends and the cache key
--------------------------
``decord`` is tried first (fast seeking); PyAV is the fallback when decord is not installed, when
it fails on a file, or when ``backend="pyav"``. Both return the same RGB frames (measured, and
tested in ``tests/test_frames.py``), so the backend is *not* part of :attr:`SamplerConfig.key`:
a cache entry written by one backend is valid for the other. ``to_dict()`` still records it.

A cache entry is keyed by the clip's identity -- resolved path, size in bytes and
``mtime_ns`` -- plus the sampler key. That costs one ``stat`` instead of hashing the file; a clip
edited in place changes size or mtime and so misses the cache, and a copy at another path gets
its own entry (a deliberate trade: correctness never depends on it, only reuse).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .cache import atomic_save_npy, best_effort, cache_dir, digest, load_npy
from .limits import MAX_FRAME_BYTES
from .sampler import (
    BACKENDS,
    DEFAULT_SAMPLER,
    RESIZE_MODES,
    RULES,
    SamplerConfig,
    as_sampler,
    fit_pixels,
    fps_frame_count,
)

__all__ = [
    "BACKENDS",
    "DEFAULT_SAMPLER",
    "RESIZE_MODES",
    "RULES",
    "FrameError",
    "FrameLimitError",
    "SamplerConfig",
    "as_sampler",
    "decode_frames",
    "decode_size",
    "fit_pixels",
    "fps_frame_count",
    "frame_array",
    "frame_indices",
    "letterbox",
    "picture_size",
    "sample_frames",
    "sample_frames_many",
    "sample_indices",
]

FRAMES_CACHE_VERSION = "2"
"""Bump when decoding or resizing changes, so stale cache entries are never read (2: frames
scaled inside the decoder by FFmpeg instead of by PIL afterwards)."""


class FrameError(ValueError):
    """A clip could not be sampled (missing, empty, corrupt or without frames); names the file."""

    def __init__(self, path: str | os.PathLike[str], reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class FrameLimitError(FrameError):
    """The sampled frames would exceed :data:`~visualact_env.limits.MAX_FRAME_BYTES` (raised
    before decoding; another decoder would not help, so there is no fallback)."""


def frame_indices(total: int, num_frames: int, rule: str = "linspace") -> np.ndarray:
    """The frame indices a rule picks from a clip of ``total`` frames (repeats when short)."""
    if total < 1:
        raise ValueError(f"a clip needs at least one frame, got total={total}")
    if num_frames < 1:
        raise ValueError(f"num_frames must be >= 1, got {num_frames}")
    if rule == "linspace":
        idx = np.round(np.linspace(0, total - 1, num_frames))
    elif rule == "linspace-floor":
        idx = np.floor(np.linspace(0, total - 1, num_frames))
    elif rule == "centered":
        idx = np.floor((np.arange(num_frames) + 0.5) * total / num_frames)
    else:
        raise ValueError(f"unknown rule {rule!r}; choose from {list(RULES)}")
    return np.clip(idx.astype(np.int64), 0, total - 1)


def sample_indices(total: int, video_fps: float | None, config: SamplerConfig) -> np.ndarray:
    """The frame indices ``config`` picks from a clip of ``total`` frames at ``video_fps``.

    A fixed count: ``frame_indices(total, num_frames, rule)``. By rate (``config.fps``): the
    count is :func:`~visualact_env.sampler.fps_frame_count` and the indices are that many by the
    same ``rule``; a clip whose frame rate is unknown cannot be sampled by rate.
    """
    if config.fps is None:
        return frame_indices(total, config.num_frames, config.rule)
    count = fps_frame_count(total, float(video_fps or 0.0), config.fps, config.max_frames)
    return frame_indices(total, count, config.rule)


# ---------------------------------------------------------------------------------------------
# Resizing


def picture_size(
    height: int, width: int, size: tuple[int, int], *, stretch: bool = False
) -> tuple[int, int]:
    """The ``(h, w)`` a ``height`` x ``width`` frame is scaled to inside a ``size`` letterbox:
    the largest that fits with the aspect ratio kept (each side rounded, at least 1), or ``size``
    itself when ``stretch``. Applied to its own result it changes nothing."""
    out_h, out_w = int(size[0]), int(size[1])
    if stretch:
        return out_h, out_w
    scale = min(out_h / height, out_w / width)
    return max(1, min(out_h, round(height * scale))), max(1, min(out_w, round(width * scale)))


def decode_size(height: int, width: int, config: SamplerConfig) -> tuple[int, int]:
    """The ``(h, w)`` the decoder scales a ``height`` x ``width`` clip's frames to for ``config``:
    the letterbox's picture (bars are added after decoding), the stretched size, the clip's own
    size shrunk to ``max_pixels`` (:func:`fit_pixels`), or the clip's own size."""
    if config.size is None:
        if config.max_pixels is None:
            return height, width
        return fit_pixels(height, width, config.max_pixels)
    return picture_size(height, width, config.size, stretch=config.resize == "stretch")


def _check_budget(path: Path, count: int, height: int, width: int, config: SamplerConfig) -> None:
    """:class:`FrameError` when ``count`` frames (decoded at ``height`` x ``width``, then
    letterboxed to the sampler's size if it has one) would exceed ``MAX_FRAME_BYTES``."""
    out_h, out_w = config.size or (height, width)
    total = count * out_h * out_w * 3
    if total > MAX_FRAME_BYTES:
        raise FrameLimitError(
            path,
            f"{count} frames of {out_w}x{out_h} would take {total / 2**20:,.0f} MiB, more than "
            f"the {MAX_FRAME_BYTES / 2**20:,.0f} MiB limit (visualact_env.limits.MAX_FRAME_BYTES)"
            "; sample fewer or smaller frames (--frames, --max-frames, --frame-size, "
            "--max-pixels)",
        )


def letterbox(frames: np.ndarray, size: tuple[int, int], *, stretch: bool = False) -> np.ndarray:
    """Resize frames ``(N, H, W, 3)`` or one frame ``(H, W, 3)`` to ``size = (height, width)``.

    Letterboxing keeps the aspect ratio and pads the rest with black, centred, so shapes in the
    picture are not distorted; ``stretch=True`` resizes to the exact size instead. Bilinear
    resampling through PIL (no torch / torchvision needed).
    """
    from PIL import Image

    arr = np.asarray(frames)
    single = arr.ndim == 3
    batch = arr[None] if single else arr
    if batch.ndim != 4 or batch.shape[-1] != 3:
        raise ValueError(f"expected frames of shape (N, H, W, 3) or (H, W, 3), got {arr.shape}")
    out_h, out_w = int(size[0]), int(size[1])
    in_h, in_w = batch.shape[1:3]
    new_h, new_w = picture_size(in_h, in_w, (out_h, out_w), stretch=stretch)
    top, left = (out_h - new_h) // 2, (out_w - new_w) // 2
    out = np.zeros((batch.shape[0], out_h, out_w, 3), dtype=np.uint8)
    for i, frame in enumerate(batch):
        img = Image.fromarray(np.ascontiguousarray(frame, dtype=np.uint8))
        if (new_h, new_w) != (in_h, in_w):
            img = img.resize((new_w, new_h), Image.Resampling.BILINEAR)
        out[i, top : top + new_h, left : left + new_w] = np.asarray(img)
    return out[0] if single else out


def _resize(frames: np.ndarray, config: SamplerConfig) -> np.ndarray:
    if config.size is None:
        if config.max_pixels is None:
            return frames
        target = fit_pixels(int(frames.shape[1]), int(frames.shape[2]), config.max_pixels)
        if target == frames.shape[1:3]:
            return frames
        return letterbox(frames, target, stretch=True)
    if frames.shape[1:3] == config.size:
        return frames
    return letterbox(frames, config.size, stretch=config.resize == "stretch")


# ---------------------------------------------------------------------------------------------
# Decoding


def _check_file(path: Path) -> None:
    if not path.exists():
        raise FrameError(path, "video file not found")
    if not path.is_file():
        raise FrameError(path, "not a regular file")
    if path.stat().st_size == 0:
        raise FrameError(path, "video file is empty (0 bytes)")


def decord_available() -> bool:
    """Whether decord can be imported here (its wheels exist for x86_64 only)."""
    try:
        import decord  # noqa: F401
    except ImportError:
        return False
    return True


def _short(error: BaseException) -> str:
    """decord's messages carry a timestamp and C++ source location: keep the useful part."""
    text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    text = re.sub(r"^\[[\d:]+\] \S+:\d+: ", "", text)
    return text.split("ERROR ", 1)[-1]


_BATCH_BYTES = 64 << 20
"""decord converts at most this many bytes of frames at a time (then copied into the output)."""


def _decode_decord(path: Path, config: SamplerConfig) -> np.ndarray:
    import decord

    try:
        reader = decord.VideoReader(str(path), ctx=decord.cpu(0), num_threads=1)
    except Exception as e:  # decord raises its own DECORDError / RuntimeError
        raise FrameError(path, f"cannot open video with decord: {_short(e)}") from e
    try:
        total = len(reader)
        if total < 1:
            raise FrameError(path, "video has no frames")
        idx = _indices(path, total, reader.get_avg_fps, config)
        try:
            # the clip's size as decord delivers it (rotation applied), from its first frame;
            # when the sampler wants another size the reader is opened again to scale inside
            # the decoder, so no other full-size frame is ever converted to RGB
            native = tuple(int(v) for v in reader[0].shape[:2])
            height, width = decode_size(native[0], native[1], config)
            _check_budget(path, len(idx), height, width, config)
            if (height, width) != native:
                del reader
                reader = decord.VideoReader(
                    str(path), ctx=decord.cpu(0), num_threads=1, width=width, height=height
                )
            frames = np.empty((len(idx), height, width, 3), dtype=np.uint8)
            step = max(1, _BATCH_BYTES // (height * width * 3))  # indices only grow: no seeking
            for start in range(0, len(idx), step):
                chunk = idx[start : start + step].tolist()
                frames[start : start + len(chunk)] = reader.get_batch(chunk).asnumpy()
        except FrameError:
            raise
        except Exception as e:
            raise FrameError(path, f"cannot decode frames with decord: {_short(e)}") from e
    finally:
        del reader  # frees the demuxer and decoder threads now, not at garbage collection
    return frames


def _indices(path: Path, total: int, video_fps: Any, config: SamplerConfig) -> np.ndarray:
    """:func:`sample_indices`, asking the decoder for the frame rate only when sampling by rate."""
    if config.fps is None:
        return frame_indices(total, config.num_frames, config.rule)
    rate = video_fps()
    if not (rate and rate > 0 and np.isfinite(rate)):
        raise FrameError(path, "the clip states no frame rate: sample a fixed count, not by fps")
    return sample_indices(total, rate, config)


def _pyav_fps(stream: Any) -> float:
    rate = stream.average_rate or stream.guessed_rate
    return float(rate) if rate else 0.0


def _pyav_count(container: Any, stream: Any) -> int:
    """Frames in the stream: the container's count, else its packets counted (no decoding)."""
    if stream.frames and stream.frames > 0:
        return int(stream.frames)
    count = sum(1 for packet in container.demux(stream) if packet.size)
    container.seek(0)
    return count


class _PyAVScaler:
    """Converts decoded PyAV frames to RGB arrays at :func:`decode_size`, as decord does.

    Set up on the first frame (its size is the clip's): when the size changes, frames go
    through the filter graph decord builds, ``scale=W:H:flags=bilinear`` then ``rgb24``, which
    gives decord's pixels exactly; otherwise ``to_ndarray(format="rgb24")``."""

    def __init__(self, path: Path, stream: Any, config: SamplerConfig, count: int):
        self.path, self.stream, self.config, self.count = path, stream, config, count
        self.graph: Any = None
        self.ready = False

    def _setup(self, frame: Any) -> None:
        import av

        native = (int(frame.height), int(frame.width))
        height, width = decode_size(*native, self.config)
        _check_budget(self.path, self.count, height, width, self.config)
        if (height, width) != native:
            graph = av.filter.Graph()
            source = graph.add_buffer(template=self.stream)
            scale = graph.add("scale", f"{width}:{height}:flags=bilinear")
            rgb = graph.add("format", "rgb24")
            sink = graph.add("buffersink")
            source.link_to(scale)
            scale.link_to(rgb)
            rgb.link_to(sink)
            graph.configure()
            self.graph = graph
        self.ready = True

    def __call__(self, frame: Any) -> np.ndarray:
        if not self.ready:
            self._setup(frame)
        if self.graph is None:
            return frame.to_ndarray(format="rgb24")
        self.graph.push(frame)
        return self.graph.pull().to_ndarray()


def _pyav_pick(
    container: Any, stream: Any, wanted: set[int], convert: Any
) -> tuple[dict[int, np.ndarray], int]:
    """Decode in order, converting only the wanted frames (``convert``); stop after the last.

    Returns the converted frames and how many frames were decoded, so only the sampled frames,
    at their final size, are ever held in memory, however long or large the clip.
    """
    picked: dict[int, np.ndarray] = {}
    last = max(wanted)
    decoded = 0
    for i, frame in enumerate(container.decode(stream)):
        decoded = i + 1
        if i in wanted:
            picked[i] = convert(frame)
        if i >= last:
            break
    return picked, decoded


def _decode_pyav(path: Path, config: SamplerConfig) -> np.ndarray:
    import av

    try:
        container = av.open(str(path))
    except Exception as e:  # av.error.InvalidDataError and friends
        raise FrameError(path, f"cannot open video with PyAV: {e}") from e
    try:
        if not container.streams.video:
            raise FrameError(path, "file has no video stream")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        try:
            total = _pyav_count(container, stream)
            if total < 1:
                raise FrameError(path, "video has no frames")
            idx = _indices(path, total, lambda: _pyav_fps(stream), config)
            convert = _PyAVScaler(path, stream, config, len(idx))
            picked, decoded = _pyav_pick(container, stream, set(idx.tolist()), convert)
            if len(picked) < len(set(idx.tolist())):
                # the container over-counted its frames: sample again from the true count
                if decoded < 1:
                    raise FrameError(path, "video has no frames")
                container.seek(0)
                idx = _indices(path, decoded, lambda: _pyav_fps(stream), config)
                picked, _ = _pyav_pick(container, stream, set(idx.tolist()), convert)
        except FrameError:
            raise
        except Exception as e:
            raise FrameError(path, f"cannot decode video with PyAV: {e}") from e
    finally:
        container.close()
    return _assemble(picked, idx)


def _assemble(picked: dict[int, np.ndarray], idx: np.ndarray) -> np.ndarray:
    """The frames in ``idx`` order (repeats included), releasing each decoded frame after its
    last use, so memory holds the output once rather than twice."""
    order = idx.tolist()
    first = picked[order[0]]
    out = np.empty((len(order), *first.shape), dtype=np.uint8)
    last_use = {i: k for k, i in enumerate(order)}
    for k, i in enumerate(order):
        out[k] = picked[i]
        if last_use[i] == k:
            del picked[i]
    return out


def decode_frames(path: str | os.PathLike[str], config: SamplerConfig) -> np.ndarray:
    """Decode the sampled frames of one clip, scaled by the decoder to :func:`decode_size`
    (no cache; a letterbox's black bars are not added: :func:`sample_frames` adds them)."""
    path = Path(path)
    _check_file(path)
    if config.backend == "pyav":
        return _decode_pyav(path, config)
    if config.backend == "decord":
        if not decord_available():
            raise RuntimeError("backend='decord' requested but decord is not installed")
        return _decode_decord(path, config)
    if decord_available():
        try:
            return _decode_decord(path, config)
        except FrameLimitError:
            raise
        except FrameError as first:
            try:
                return _decode_pyav(path, config)
            except FrameError as second:
                raise FrameError(
                    path, f"{first.reason}; PyAV also failed: {second.reason}"
                ) from second
    return _decode_pyav(path, config)


# ---------------------------------------------------------------------------------------------
# Cached sampling


def cache_key(path: str | os.PathLike[str], config: SamplerConfig) -> str:
    """The cache key of a clip's frames: clip identity (path, size, mtime) + sampler key."""
    p = Path(path).resolve()
    st = p.stat()
    return digest(FRAMES_CACHE_VERSION, str(p), str(st.st_size), str(st.st_mtime_ns), config.key)


def _cache_file(path: Path, config: SamplerConfig) -> Path:
    return cache_dir("frames") / f"{cache_key(path, config)}.npy"


def _valid_cached(arr: np.ndarray | None, config: SamplerConfig) -> bool:
    if arr is None or arr.dtype != np.uint8 or arr.ndim != 4 or arr.shape[-1] != 3:
        return False
    if config.fps is None and arr.shape[0] != config.num_frames:
        return False
    if config.fps is not None and arr.shape[0] > config.max_frames:
        return False
    if config.max_pixels is not None and arr.shape[1] * arr.shape[2] > config.max_pixels:
        return False
    return config.size is None or tuple(arr.shape[1:3]) == config.size


def sample_frames(
    path: str | os.PathLike[str], config: SamplerConfig | None = None, cache: bool = True
) -> np.ndarray:
    """The sampled frames of a clip, ``uint8`` array ``(N, H, W, 3)`` (RGB).

    With ``cache=True`` the result is read from / written to ``cache_dir("frames")`` (atomic
    writes, so concurrent processes never see a partial entry; an unreadable entry is decoded
    again; a cache that cannot be written, e.g. a full disk, is skipped with one warning). Raises :class:`FrameError` naming the file for a missing, empty, corrupt or
    frameless clip.
    """
    config = config or DEFAULT_SAMPLER
    path = Path(path)
    _check_file(path)
    entry = best_effort("frames", lambda: _cache_file(path, config)) if cache else None
    if entry is not None:
        cached = load_npy(entry)
        if _valid_cached(cached, config):
            return cached  # type: ignore[return-value]
    frames = _resize(decode_frames(path, config), config)
    if entry is not None:
        best_effort("frames", lambda: atomic_save_npy(entry, frames))
    return frames


def sample_frames_many(
    paths: Iterable[str | os.PathLike[str]], config: SamplerConfig | None = None, cache: bool = True
) -> list[np.ndarray]:
    """:func:`sample_frames` for several clips, in order (stack them when the shape is fixed)."""
    config = config or DEFAULT_SAMPLER
    return [sample_frames(p, config, cache=cache) for p in paths]


def frame_array(frames: Any) -> np.ndarray:
    """Return ``frames`` as a ``uint8 (N, H, W, 3)`` array or raise a ``ValueError`` saying why.

    A single ``(H, W, 3)`` frame is accepted and returned as ``(1, H, W, 3)``.
    """
    if isinstance(frames, Sequence) and not isinstance(frames, (str, bytes)):
        if len(frames) == 0:
            raise ValueError("frames: got an empty list; expected at least one (H, W, 3) frame")
        frames = np.stack([np.asarray(f) for f in frames])
    arr = np.asarray(frames)
    if arr.ndim == 3:
        arr = arr[None]
    if arr.ndim != 4 or arr.shape[-1] != 3:
        raise ValueError(f"frames: expected shape (N, H, W, 3) RGB, got {tuple(arr.shape)}")
    if arr.shape[0] == 0 or arr.shape[1] == 0 or arr.shape[2] == 0:
        raise ValueError(f"frames: empty frame array of shape {tuple(arr.shape)}")
    if arr.dtype != np.uint8:
        raise ValueError(f"frames: expected dtype uint8, got {arr.dtype}")
    return arr

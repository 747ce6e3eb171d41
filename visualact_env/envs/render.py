"""Rendering: a contact sheet of an episode's frames, and a text view of its proposals.

``render_mode="rgb_array"`` shows what the agent sees (every sampled frame, in order, on a grid);
``render_mode="ansi"`` shows the video id before the step and, after it, each proposal with the
ground-truth action it was matched to, the cosine similarity and the APL weight.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

GAP = 2
GAP_VALUE = 32


def contact_sheet(frames: np.ndarray, columns: int | None = None, gap: int = GAP) -> np.ndarray:
    """The frames ``(N, H, W, 3)`` laid out row by row on a grid, as one uint8 image.

    ``columns`` defaults to ``ceil(sqrt(N))``; cells are separated by ``gap`` dark-grey pixels.
    """
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"frames: expected shape (N, H, W, 3), got {frames.shape}")
    n, h, w, _ = frames.shape
    if n == 0:
        raise ValueError("frames: no frame to lay out")
    cols = columns or math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    sheet = np.full(
        (rows * h + (rows - 1) * gap, cols * w + (cols - 1) * gap, 3), GAP_VALUE, dtype=np.uint8
    )
    for i, frame in enumerate(frames):
        r, c = divmod(i, cols)
        top, left = r * (h + gap), c * (w + gap)
        sheet[top : top + h, left : left + w] = frame
    return sheet


def _apl(value: Any) -> str:
    return "-" if value is None else str(value)


def _kind(value: Any) -> str:
    return "?" if value is None else ("proactive" if value else "reactive")


def ansi_view(
    video_id: str,
    scenario: str | None,
    proposals: Sequence[Mapping[str, Any]] | None = None,
    info: Mapping[str, Any] | None = None,
) -> str:
    """A plain-text view of an episode: the video before the step, the scoring after it."""
    head = f"video {video_id}" + (f" ({scenario})" if scenario else "")
    if info is None or "metrics" not in info:
        lines = [head, "awaiting proposals"]
        if proposals:
            lines.append(f"{len(proposals)} proposal(s) so far:")
            lines += [f"  [{i}] {p['text']}" for i, p in enumerate(proposals)]
        return "\n".join(lines) + "\n"
    gt = info.get("ground_truth", [])
    matched = {p["pred"]: p for p in info.get("assignment", []) if p.get("matched")}
    lines = [head, f"{len(proposals or [])} proposal(s), {len(gt)} ground-truth action(s)"]
    for i, p in enumerate(proposals or []):
        lines.append(
            f"  [{i}] {p['text']!r} (apl {_apl(p.get('apl'))}, {_kind(p.get('proactive'))})"
        )
        m = matched.get(i)
        if m is None:
            lines.append("      -> no match")
        else:
            g = gt[m["gt"]]
            lines.append(
                f"      -> gt[{m['gt']}] {g['text']!r} (apl {g['apl']}) "
                f"sim {m['similarity']:.3f} weight {m['weight']:.3f}"
            )
    hit = {p["gt"] for p in matched.values()}
    for j, g in enumerate(gt):
        if j not in hit:
            lines.append(
                f"  missed gt[{j}] {g['text']!r} (apl {g['apl']}, {_kind(g['proactive'])})"
            )
    figures = ", ".join(f"{k} {v:.3f}" for k, v in info["metrics"].items())
    lines.append(figures)
    return "\n".join(lines) + "\n"

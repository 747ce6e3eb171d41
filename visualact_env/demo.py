"""Synthetic VisualActBench-style data: the 16-clip demo and a full-size synthetic benchmark.

The real clips cannot be downloaded here, yet every part of the project (environment, agents,
runner, metric, reports, training) needs annotated clips to run on. This module draws them:
each of 16 *scenes* (4 per scenario) is a short animation made of simple shapes -- a car
nearing a pedestrian on a crosswalk, a pot boiling over, flames spreading, a person waving at a
screen -- annotated with 2-5 action sentences, an Action Prioritization Level (APL, 0-4) and a
proactive flag each, written like the paper's examples.

* :func:`generate_demo` writes the *demo* benchmark: the 16 scenes once each, 160x120, 10 fps,
  3 s, H.264 (mpeg4 when no H.264 encoder exists), plus ``annotations.jsonl`` (native format).
* :func:`generate_synthetic` writes a *full-size* synthetic benchmark with the paper's counts
  (:data:`PAPER_SCENARIO_COUNTS`, :data:`PAPER_NUM_ACTIONS`, :data:`PAPER_PROACTIVE_COUNT`,
  :data:`PAPER_ACTION_APL_COUNTS`), built from the same scenes with seeded variation (positions,
  colours, speeds, paraphrased action texts). Its clips are tiny (64x48, 16 frames) and optional
  (``with_videos=False`` writes annotations only, which is all scoring needs).

Everything is deterministic (same seed -> same annotation bytes and the same decoded frames)
and cached under ``cache_dir("demo"|"synthetic", <version>...)``: generated once, then reused.
A build happens in a temporary sibling folder that is renamed into place, so concurrent
processes never see a half-written dataset; when two race, the loser discards its copy and uses
the winner's.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from .cache import atomic_write_text, cache_dir, publish_dir
from .loading import write_jsonl
from .records import APL_LEVELS, SCENARIOS

GENERATOR_VERSION = "2"
"""Bump whenever drawing, encoding or annotations change: cached data is keyed by it."""

ANNOTATION_FILE = "annotations.jsonl"
MARKER_FILE = ".visualact-generated.json"

DEMO_SIZE: tuple[int, int] = (120, 160)  # (height, width)
DEMO_FPS = 10
DEMO_NUM_FRAMES = 30

SYNTH_SIZE: tuple[int, int] = (48, 64)
SYNTH_FPS = 8
SYNTH_NUM_FRAMES = 16

PAPER_NUM_VIDEOS = 1074
PAPER_SCENARIO_COUNTS: dict[str, int] = {
    "dynamic_navigation": 364,
    "home_service": 454,
    "safety_monitoring": 126,
    "human_machine_interaction": 130,
}
PAPER_NUM_ACTIONS = 3733
PAPER_PROACTIVE_COUNT = 2685
PAPER_REACTIVE_COUNT = 1048
PAPER_ACTION_APL_COUNTS: dict[int, int] = {0: 1675, 1: 820, 2: 760, 3: 409, 4: 69}
"""Actions per APL. The paper states APL 0 (1,675) and APL 4 (69) and a "smooth decline"
between them; the APL 1-3 figures are this project's assumption (they sum to the remaining
1,989)."""
PAPER_VIDEO_APL_COUNTS_PUBLISHED: dict[int, int] = {0: 455, 2: 434}
"""Videos per APL as far as the paper's text states them (the other levels are not given)."""

assert sum(PAPER_SCENARIO_COUNTS.values()) == PAPER_NUM_VIDEOS
assert PAPER_PROACTIVE_COUNT + PAPER_REACTIVE_COUNT == PAPER_NUM_ACTIONS
assert sum(PAPER_ACTION_APL_COUNTS.values()) == PAPER_NUM_ACTIONS

RGB = tuple[int, int, int]

# ---------------------------------------------------------------------------------------------
# Scene variation and drawing helpers


@dataclass(frozen=True)
class Variation:
    """Seeded per-clip variation of a scene; :data:`NEUTRAL` is the demo's."""

    dx: float = 0.0  # horizontal shift of the moving parts, fraction of the width
    dy: float = 0.0  # vertical shift, fraction of the height
    speed: float = 1.0  # time scale of the motion (>1 = the event unfolds faster)
    colour: int = 0  # index into PALETTE for the main moving object
    tint: int = 0  # -20..20 brightness offset of the background
    severity: float = 0.0  # -0.5..0.5, nudges the APL ranking of the synthetic set

    @classmethod
    def sample(cls, rng: np.random.Generator) -> Variation:
        return cls(
            dx=float(rng.uniform(-0.06, 0.06)),
            dy=float(rng.uniform(-0.05, 0.05)),
            speed=float(rng.uniform(0.8, 1.25)),
            colour=int(rng.integers(len(PALETTE))),
            tint=int(rng.integers(-20, 21)),
            severity=float(rng.uniform(-0.5, 0.5)),
        )

    def time(self, t: float) -> float:
        """Scene time in [0, 1] for clip time ``t`` in [0, 1]."""
        return min(1.0, max(0.0, t * self.speed))


NEUTRAL = Variation()
PALETTE: tuple[RGB, ...] = (
    (200, 30, 30),
    (30, 80, 200),
    (20, 150, 60),
    (220, 160, 20),
    (140, 40, 160),
    (230, 230, 230),
)


class Canvas:
    """PIL drawing in normalised coordinates (0..1 on both axes), so scenes scale to any size."""

    def __init__(self, width: int, height: int, background: RGB, variation: Variation):
        from PIL import Image, ImageDraw

        bg = tuple(int(np.clip(c + variation.tint, 0, 255)) for c in background)
        self.image = Image.new("RGB", (width, height), bg)
        self.draw = ImageDraw.Draw(self.image)
        self.w, self.h = width, height
        self.v = variation

    def xy(self, x: float, y: float) -> tuple[float, float]:
        return x * self.w, y * self.h

    def rect(self, x0: float, y0: float, x1: float, y1: float, fill: RGB) -> None:
        (a, b), (c, d) = self.xy(min(x0, x1), min(y0, y1)), self.xy(max(x0, x1), max(y0, y1))
        self.draw.rectangle([a, b, c, d], fill=fill)

    def ellipse(self, cx: float, cy: float, rx: float, ry: float, fill: RGB) -> None:
        self.draw.ellipse([self.xy(cx - rx, cy - ry), self.xy(cx + rx, cy + ry)], fill=fill)

    def line(self, points: Sequence[tuple[float, float]], fill: RGB, width: float = 0.02) -> None:
        px = max(1, round(width * self.h))
        self.draw.line([self.xy(x, y) for x, y in points], fill=fill, width=px)

    def polygon(self, points: Sequence[tuple[float, float]], fill: RGB) -> None:
        self.draw.polygon([self.xy(x, y) for x, y in points], fill=fill)

    def person(
        self,
        x: float,
        y: float,
        height: float,
        colour: RGB,
        *,
        tilt: float = 0.0,
        left_arm: float = 110.0,
        right_arm: float = 70.0,
        stride: float = 0.0,
    ) -> None:
        """A stick figure standing at foot point ``(x, y)``; arm angles in degrees on screen
        (0 = right, 90 = down, -90 = up, 180 = left); ``tilt`` rotates the whole body about the
        feet (90 = lying to the right)."""
        aspect = self.h / self.w

        def at(dist: float, angle_deg: float, ox: float, oy: float) -> tuple[float, float]:
            a = math.radians(angle_deg)
            return ox + dist * math.cos(a) * aspect, oy + dist * math.sin(a)

        up = -90.0 + tilt
        hip = at(height * 0.45, up, x, y)
        shoulder = at(height * 0.8, up, x, y)
        head = at(height * 0.92, up, x, y)
        w = 0.025
        self.line([hip, shoulder], colour, w)
        self.line([hip, at(height * 0.45, 90 + tilt - 20 - stride, *hip)], colour, w)
        self.line([hip, at(height * 0.45, 90 + tilt + 20 + stride, *hip)], colour, w)
        self.line([shoulder, at(height * 0.35, left_arm + tilt, *shoulder)], colour, w)
        self.line([shoulder, at(height * 0.35, right_arm + tilt, *shoulder)], colour, w)
        self.ellipse(head[0], head[1], height * 0.1 * aspect, height * 0.1, colour)

    def car(self, x: float, y: float, colour: RGB, length: float = 0.22) -> None:
        """A top-down car whose front bumper is at ``x``, centred on ``y``."""
        self.rect(x - length, y - 0.07, x, y + 0.07, colour)
        self.rect(x - length * 0.45, y - 0.05, x - length * 0.15, y + 0.05, (170, 210, 240))
        for wx in (x - length * 0.85, x - length * 0.2):
            self.rect(wx - 0.02, y - 0.09, wx + 0.02, y - 0.07, (20, 20, 20))
            self.rect(wx - 0.02, y + 0.07, wx + 0.02, y + 0.09, (20, 20, 20))


def _ease(a: float, b: float, t: float) -> float:
    return a + (b - a) * t


ROAD_GREY: RGB = (90, 90, 95)
GRASS: RGB = (70, 140, 60)
WHITE: RGB = (245, 245, 245)
SKIN: RGB = (230, 180, 140)


def _road(c: Canvas, y0: float = 0.3, y1: float = 0.8) -> None:
    c.rect(0, y0, 1, y1, ROAD_GREY)
    mid = (y0 + y1) / 2
    for i in range(6):
        c.rect(i / 6 + 0.02, mid - 0.01, i / 6 + 0.1, mid + 0.01, (230, 210, 60))


# --- dynamic navigation ---------------------------------------------------------------------


def draw_nav_pedestrian(c: Canvas, t: float) -> None:
    s = c.v.time(t)
    _road(c)
    for i in range(5):  # zebra crossing
        c.rect(0.7, 0.3 + i * 0.1 + 0.02, 0.82, 0.3 + i * 0.1 + 0.07, WHITE)
    c.car(_ease(0.12, 0.64, s) + c.v.dx, 0.67 + c.v.dy * 0.3, PALETTE[c.v.colour])
    c.person(0.76, _ease(0.32, 0.62, s), 0.22, (30, 30, 120), stride=20 * math.sin(12 * s))


def draw_nav_obstacle(c: Canvas, t: float) -> None:
    s = c.v.time(t)
    _road(c)
    c.rect(0.7 + c.v.dx, 0.6, 0.8 + c.v.dx, 0.74, (120, 70, 30))  # box on the road
    c.line([(0.7 + c.v.dx, 0.6), (0.8 + c.v.dx, 0.74)], (80, 45, 20), 0.015)
    c.car(_ease(0.25, 0.66, s) + c.v.dx, 0.67, PALETTE[c.v.colour])


def draw_nav_red_light(c: Canvas, t: float) -> None:
    s = c.v.time(t)
    _road(c)
    c.rect(0.74, 0.55, 0.76, 0.8, WHITE)  # stop line
    c.rect(0.84, 0.02, 0.94, 0.3, (30, 30, 30))  # traffic light housing
    lit = 0 if s < 0.35 else (1 if s < 0.6 else 2)
    lamps = ((0.24, (230, 30, 30)), (0.16, (240, 190, 20)), (0.08, (40, 200, 60)))
    for i, (cy, colour) in enumerate(lamps):
        on = (lit == 2 and i == 0) or (lit == 1 and i == 1) or (lit == 0 and i == 2)
        c.ellipse(0.89, cy, 0.035, 0.035, colour if on else (60, 60, 60))
    c.car(_ease(0.05, 0.7, s) + c.v.dx * 0.5, 0.67, PALETTE[c.v.colour])


def draw_nav_cyclist(c: Canvas, t: float) -> None:
    s = c.v.time(t)
    _road(c, 0.25, 0.85)
    c.rect(0, 0.85, 1, 0.95, (160, 90, 80))  # bike lane
    c.car(_ease(0.15, 0.5, s), 0.68, PALETTE[c.v.colour])
    bx, by = _ease(0.45, 0.72, s) + c.v.dx, _ease(0.9, 0.7, min(1.0, s * 1.3))
    c.ellipse(bx - 0.04, by, 0.025, 0.04, (20, 20, 20))
    c.ellipse(bx + 0.04, by, 0.025, 0.04, (20, 20, 20))
    c.line([(bx - 0.04, by), (bx + 0.04, by)], (30, 90, 220), 0.02)
    c.person(bx, by - 0.02, 0.16, (30, 90, 220), tilt=15)


# --- home service -----------------------------------------------------------------------------


def draw_home_pot(c: Canvas, t: float) -> None:
    s = c.v.time(t)
    c.rect(0.15, 0.65, 0.85, 1.0, (60, 60, 60))  # stove
    c.ellipse(0.5, 0.66, 0.2, 0.03, (240, 80, 30))  # burner flame glow
    pot = PALETTE[c.v.colour] if c.v.colour != 5 else (150, 150, 160)
    c.rect(0.3, 0.35, 0.7, 0.64, pot)
    c.rect(0.27, 0.33, 0.73, 0.36, (100, 100, 110))
    for i in range(int(3 + 10 * s)):  # bubbles / foam rising over the rim
        x = 0.32 + ((i * 0.37) % 0.36)
        y = 0.34 - 0.12 * s * ((i * 0.53) % 1.0)
        c.ellipse(x, y, 0.03, 0.03, WHITE)
    if s > 0.5:  # spill running down the sides
        spill = (s - 0.5) * 2
        c.rect(0.27, 0.35, 0.31, 0.35 + 0.3 * spill, WHITE)
        c.rect(0.69, 0.35, 0.73, 0.35 + 0.25 * spill, WHITE)
    for i in range(3):  # steam
        c.ellipse(0.4 + 0.1 * i, 0.15 - 0.05 * s, 0.05, 0.04, (210, 210, 215))


def draw_home_cup(c: Canvas, t: float) -> None:
    s = c.v.time(t)
    c.rect(0.0, 0.55, 0.85, 0.62, (140, 90, 40))  # table top; the edge is at x = 0.85
    c.rect(0.05, 0.62, 0.09, 1.0, (110, 70, 30))
    c.rect(0.76, 0.62, 0.8, 1.0, (110, 70, 30))
    x = _ease(0.3, 0.8, s) + c.v.dx * 0.3
    cup = PALETTE[c.v.colour]
    c.rect(x - 0.05, 0.4, x + 0.05, 0.55, cup)
    c.ellipse(x + 0.065, 0.47, 0.025, 0.04, cup)
    c.ellipse(x, 0.4, 0.05, 0.015, (90, 50, 20))  # coffee surface


def draw_home_clutter(c: Canvas, t: float) -> None:
    s = c.v.time(t)
    c.rect(0, 0.55, 1, 1, (200, 180, 140))  # floor
    rng = np.random.default_rng(7 + c.v.colour)
    for _ in range(7):  # toys, shoes and boxes on the floor
        x, y = float(rng.uniform(0.35, 0.95)), float(rng.uniform(0.7, 0.95))
        colour = PALETTE[int(rng.integers(len(PALETTE)))]
        c.rect(x - 0.04, y - 0.03, x + 0.04, y + 0.02, colour)
    c.person(_ease(0.08, 0.4, s) + c.v.dx, 0.92, 0.5, (40, 40, 40), stride=20 * math.sin(10 * s))


def draw_home_tap(c: Canvas, t: float) -> None:
    s = c.v.time(t)
    c.rect(0, 0.8, 1, 1, (180, 180, 170))  # floor
    c.rect(0.2, 0.45, 0.8, 0.8, (200, 200, 205))  # counter
    c.rect(0.3, 0.45, 0.7, 0.7, (150, 150, 160))  # basin
    level = 0.7 - 0.26 * s
    c.rect(0.3, max(0.45, level), 0.7, 0.7, (60, 120, 220))  # water rising
    c.rect(0.47, 0.2, 0.53, 0.28, (170, 170, 180))  # tap
    c.rect(0.53, 0.24, 0.6, 0.28, (170, 170, 180))
    c.rect(0.565, 0.28, 0.585, max(0.45, level), (80, 150, 240))  # running water
    if s > 0.6:  # overflowing onto the floor
        spill = (s - 0.6) / 0.4
        c.rect(0.16, 0.45, 0.2, 0.8, (60, 120, 220))
        c.ellipse(0.2, 0.88, 0.1 + 0.15 * spill, 0.04, (60, 120, 220))


# --- safety and monitoring --------------------------------------------------------------------


def _flame(c: Canvas, x: float, base: float, size: float) -> None:
    c.polygon([(x - size * 0.4, base), (x, base - size), (x + size * 0.4, base)], (230, 60, 20))
    c.polygon(
        [(x - size * 0.25, base), (x, base - size * 0.6), (x + size * 0.25, base)], (250, 200, 40)
    )


def draw_safety_fire(c: Canvas, t: float) -> None:
    s = c.v.time(t)
    c.rect(0, 0.7, 1, 1, (110, 80, 60))  # floor
    c.rect(0.1, 0.5, 0.45, 0.7, (120, 60, 50))  # sofa
    n = 1 + int(6 * s)
    for i in range(n):  # flames spreading to the right and growing
        _flame(c, 0.15 + 0.12 * i + c.v.dx, 0.72, 0.15 + 0.25 * s)
    for i in range(int(4 * s)):
        c.ellipse(0.2 + 0.15 * i, 0.15, 0.1, 0.06, (70, 70, 70))


def draw_safety_fall(c: Canvas, t: float) -> None:
    s = c.v.time(t)
    c.rect(0, 0.82, 1, 1, (150, 130, 110))  # floor
    c.rect(0.65, 0.4, 0.72, 0.82, (120, 90, 60))  # stair rail / furniture
    tilt = 0.0 if s < 0.3 else min(90.0, (s - 0.3) / 0.45 * 90.0)
    x = _ease(0.35, 0.4, s) + c.v.dx
    c.person(x, 0.9, 0.55, PALETTE[c.v.colour], tilt=tilt, left_arm=-160, right_arm=-20)


def draw_safety_smoke(c: Canvas, t: float) -> None:
    s = c.v.time(t)
    c.rect(0, 0.75, 1, 1, (150, 140, 120))
    c.rect(0.55, 0.55, 0.85, 0.75, (180, 180, 190))  # appliance
    c.rect(0.88, 0.62, 0.93, 0.7, WHITE)  # power outlet
    c.line([(0.85, 0.65), (0.88, 0.66)], (20, 20, 20), 0.015)
    for i in range(int(2 + 12 * s)):  # smoke plume rising and spreading
        h = (i * 0.37) % 1.0
        y = 0.52 - 0.5 * h * (0.4 + s)
        x = 0.7 + (h - 0.2) * 0.5 * math.sin(i) + c.v.dx
        grey = 80 + int(60 * h)
        c.ellipse(x, max(0.05, y), 0.06 + 0.06 * h, 0.05 + 0.04 * h, (grey, grey, grey))


def draw_safety_wet(c: Canvas, t: float) -> None:
    s = c.v.time(t)
    c.rect(0, 0.6, 1, 1, (215, 215, 205))  # tiled corridor floor
    for i in range(1, 5):
        c.line([(i / 5, 0.6), (i / 5, 1)], (180, 180, 170), 0.01)
    c.ellipse(0.62 + c.v.dx, 0.85, 0.16, 0.05, (90, 150, 230))  # puddle
    c.ellipse(0.58 + c.v.dx, 0.84, 0.05, 0.015, (200, 230, 255))
    c.person(_ease(0.1, 0.48, s), 0.92, 0.5, PALETTE[c.v.colour], stride=20 * math.sin(10 * s))


# --- human-machine interaction ----------------------------------------------------------------


def _screen(c: Canvas, on: bool) -> None:
    c.rect(0.05, 0.15, 0.45, 0.6, (20, 20, 25))
    c.rect(0.07, 0.17, 0.43, 0.58, (70, 140, 220) if on else (35, 35, 45))
    c.rect(0.23, 0.6, 0.27, 0.75, (60, 60, 60))


def draw_hmi_wave(c: Canvas, t: float) -> None:
    s = c.v.time(t)
    _screen(c, on=s > 0.7)
    arm = -90 + 35 * math.sin(14 * s)
    c.person(0.75 + c.v.dx, 0.95, 0.7, PALETTE[c.v.colour], left_arm=arm, right_arm=60)


def draw_hmi_point(c: Canvas, t: float) -> None:
    s = c.v.time(t)
    c.rect(0.1, 0.45, 0.3, 0.7, (40, 40, 40))  # smart speaker / device
    c.ellipse(0.2, 0.52, 0.05, 0.04, (60, 200, 240) if s > 0.7 else (80, 80, 80))
    arm = _ease(100, 180, min(1.0, s * 1.5))  # arm rising to point left at the device
    c.person(0.72 + c.v.dx, 0.95, 0.7, PALETTE[c.v.colour], left_arm=arm, right_arm=70)


def draw_hmi_show_object(c: Canvas, t: float) -> None:
    s = c.v.time(t)
    c.ellipse(0.5, 0.08, 0.06, 0.05, (10, 10, 10))  # camera lens at the top
    c.ellipse(0.5, 0.08, 0.025, 0.02, (60, 60, 200))
    c.person(0.5 + c.v.dx, 1.05, 0.8, (60, 60, 60), left_arm=-120, right_arm=-60)
    size = 0.08 + 0.12 * s  # the object approaches the camera
    y = _ease(0.45, 0.3, s)
    c.rect(0.5 - size, y - size, 0.5 + size, y + size, PALETTE[c.v.colour])
    c.rect(0.5 - size * 0.6, y - size * 0.2, 0.5 + size * 0.6, y + size * 0.2, WHITE)


def draw_hmi_thumbs_up(c: Canvas, t: float) -> None:
    s = c.v.time(t)
    _screen(c, on=True)
    y = _ease(1.0, 0.55, min(1.0, s * 1.4))
    x = 0.72 + c.v.dx
    c.rect(x - 0.03, y + 0.12, x + 0.03, 1.0, SKIN)  # forearm
    c.rect(x - 0.08, y, x + 0.08, y + 0.14, SKIN)  # fist
    c.rect(x - 0.02, y - 0.15, x + 0.03, y + 0.02, SKIN)  # thumb up
    c.rect(x - 0.08, y + 0.03, x + 0.08, y + 0.035, (180, 130, 100))
    if s > 0.75:
        c.ellipse(0.25, 0.37, 0.06, 0.08, (40, 200, 80))  # the screen's "OK"


# ---------------------------------------------------------------------------------------------
# Scenes and their annotations


@dataclass(frozen=True)
class ActionSpec:
    """An annotated action of a scene; ``texts[0]`` is the demo's wording, the rest paraphrases."""

    texts: tuple[str, ...]
    apl: int
    proactive: bool


@dataclass(frozen=True)
class Scene:
    """One situation: how to draw it and which actions a person would take.

    The first ``demo_actions`` actions annotate the demo clip; the synthetic set samples from all.
    """

    name: str
    scenario: str
    description: str
    draw: Callable[[Canvas, float], None]
    background: RGB
    actions: tuple[ActionSpec, ...]
    demo_actions: int


SCENES_FILE = Path(__file__).resolve().parent / "resources" / "demo_scenes.json"
"""The scenes as data: drawing function, background, annotated actions and paraphrases."""
SCENES_FORMAT_VERSION = 1


class SceneFileError(ValueError):
    """The scene file is malformed; the message names the file, the scene and the field."""


def _drawers() -> dict[str, Callable[[Canvas, float], None]]:
    return {n: f for n, f in globals().items() if n.startswith("draw_") and callable(f)}


def _check(ok: bool, where: str, message: str) -> None:
    if not ok:
        raise SceneFileError(f"{where}: {message}")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _action_spec(raw: Any, where: str) -> ActionSpec:
    _check(isinstance(raw, dict), where, "expected an object")
    _check(
        set(raw) == {"apl", "proactive", "texts"},
        where,
        f"expected keys apl, proactive, texts, got {sorted(raw)}",
    )
    _check(
        _is_int(raw["apl"]) and raw["apl"] in APL_LEVELS,
        f"{where}.apl",
        f"expected one of {list(APL_LEVELS)}, got {raw['apl']!r}",
    )
    _check(
        isinstance(raw["proactive"], bool),
        f"{where}.proactive",
        f"expected true or false, got {raw['proactive']!r}",
    )
    texts = raw["texts"]
    _check(
        isinstance(texts, list) and len(texts) > 0,
        f"{where}.texts",
        "expected a non-empty list of texts",
    )
    for i, text in enumerate(texts):
        _check(
            isinstance(text, str) and text.strip() != "",
            f"{where}.texts[{i}]",
            f"expected a non-empty string, got {text!r}",
        )
    return ActionSpec(tuple(texts), raw["apl"], raw["proactive"])


_SCENE_KEYS = {"name", "scenario", "description", "draw", "background", "actions", "demo_actions"}


def _scene(raw: Any, where: str, drawers: dict[str, Callable[[Canvas, float], None]]) -> Scene:
    _check(isinstance(raw, dict), where, "expected an object")
    _check(
        set(raw) == _SCENE_KEYS, where, f"expected keys {sorted(_SCENE_KEYS)}, got {sorted(raw)}"
    )
    where = f"{where} ({raw['name']!r})"
    _check(
        isinstance(raw["name"], str) and raw["name"] != "",
        f"{where}.name",
        "expected a non-empty string",
    )
    _check(
        raw["scenario"] in SCENARIOS,
        f"{where}.scenario",
        f"expected one of {list(SCENARIOS)}, got {raw['scenario']!r}",
    )
    _check(isinstance(raw["description"], str), f"{where}.description", "expected a string")
    _check(
        raw["draw"] in drawers,
        f"{where}.draw",
        f"no drawing function {raw['draw']!r} in visualact_env.demo",
    )
    bg = raw["background"]
    _check(
        isinstance(bg, list) and len(bg) == 3 and all(_is_int(c) and 0 <= c <= 255 for c in bg),
        f"{where}.background",
        f"expected [R, G, B] with 0..255 integers, got {bg!r}",
    )
    _check(
        isinstance(raw["actions"], list) and len(raw["actions"]) > 0,
        f"{where}.actions",
        "expected a non-empty list",
    )
    actions = tuple(_action_spec(a, f"{where}.actions[{i}]") for i, a in enumerate(raw["actions"]))
    n = raw["demo_actions"]
    _check(
        _is_int(n) and 1 <= n <= len(actions),
        f"{where}.demo_actions",
        f"expected an integer in 1..{len(actions)}, got {n!r}",
    )
    return Scene(
        raw["name"],
        raw["scenario"],
        raw["description"],
        drawers[raw["draw"]],
        (bg[0], bg[1], bg[2]),
        actions,
        n,
    )


def load_scenes(path: str | os.PathLike[str] = SCENES_FILE) -> tuple[Scene, ...]:
    """The scenes of the scene file, checked: a malformed file raises :class:`SceneFileError`
    naming the file, the scene and the field."""
    path = Path(path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as e:
        raise SceneFileError(f"{path}: cannot read the scene file: {e}") from None
    _check(isinstance(doc, dict), str(path), "expected a JSON object")
    _check(
        doc.get("format_version") == SCENES_FORMAT_VERSION,
        f"{path}: format_version",
        f"expected {SCENES_FORMAT_VERSION}, got {doc.get('format_version')!r}",
    )
    raw_scenes = doc.get("scenes")
    _check(
        isinstance(raw_scenes, list) and len(raw_scenes) > 0,
        f"{path}: scenes",
        "expected a non-empty list",
    )
    drawers = _drawers()
    scenes = tuple(_scene(r, f"{path}: scenes[{i}]", drawers) for i, r in enumerate(raw_scenes))
    names = [s.name for s in scenes]
    _check(
        len(set(names)) == len(names),
        f"{path}: scenes",
        f"duplicate names {sorted({n for n in names if names.count(n) > 1})}",
    )
    missing = [s for s in SCENARIOS if not any(sc.scenario == s for sc in scenes)]
    _check(not missing, f"{path}: scenes", f"no scene for scenario(s) {missing}")
    return scenes


SCENES: tuple[Scene, ...] = load_scenes()

SCENARIO_PREFIX: dict[str, str] = {
    "dynamic_navigation": "nav",
    "home_service": "home",
    "safety_monitoring": "safety",
    "human_machine_interaction": "hmi",
}

SCENES_BY_SCENARIO: dict[str, tuple[Scene, ...]] = {
    s: tuple(sc for sc in SCENES if sc.scenario == s) for s in SCENARIOS
}


# ---------------------------------------------------------------------------------------------
# Rendering and encoding


def render_scene(
    scene: Scene,
    variation: Variation = NEUTRAL,
    size: tuple[int, int] = DEMO_SIZE,
    num_frames: int = DEMO_NUM_FRAMES,
) -> np.ndarray:
    """The clip of a scene as ``uint8`` frames ``(num_frames, H, W, 3)``."""
    h, w = size
    frames = np.empty((num_frames, h, w, 3), dtype=np.uint8)
    for i in range(num_frames):
        canvas = Canvas(w, h, scene.background, variation)
        scene.draw(canvas, i / max(1, num_frames - 1))
        frames[i] = np.asarray(canvas.image)
    return frames


def video_codec() -> str:
    """The encoder used: ``libx264`` (H.264) when PyAV has it, else ``mpeg4``."""
    import av

    for name in ("libx264", "h264"):
        try:
            av.codec.Codec(name, "w")
            return name
        except Exception:
            continue
    return "mpeg4"


def write_clip(
    path: str | os.PathLike[str],
    frames: Iterable[np.ndarray],
    fps: int = DEMO_FPS,
    codec: str | None = None,
) -> Path:
    """Encode RGB frames to an MP4 file (yuv420p, single-threaded so the output is reproducible).

    H.264 is written with ``crf=18`` so colours survive well; ``codec`` overrides the choice
    (e.g. ``"mpeg4"``). Heights and widths must be even (yuv420p).
    """
    import av

    path = Path(path)
    codec = codec or video_codec()
    frames = list(frames)
    if not frames:
        raise ValueError(f"{path}: no frames to write")
    h, w = frames[0].shape[:2]
    with av.open(str(path), mode="w", format="mp4") as container:
        stream = container.add_stream(codec, rate=fps)
        stream.time_base = Fraction(1, fps)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        stream.codec_context.thread_count = 1
        if codec in ("libx264", "h264"):
            # mbtree=0: with macroblock-tree rate control this x264 build gave different bytes
            # (and decoded frames) for identical input from run to run; without it, identical.
            stream.options = {
                "crf": "18",
                "preset": "veryfast",
                "threads": "1",
                "x264-params": "mbtree=0",
            }
        else:
            stream.bit_rate = max(200_000, w * h * fps * 2)
        for i, frame in enumerate(frames):
            vf = av.VideoFrame.from_ndarray(
                np.ascontiguousarray(frame, dtype=np.uint8), format="rgb24"
            )
            vf.pts = i  # explicit timestamps: x264's rate control reads them (reproducibility)
            vf.time_base = Fraction(1, fps)
            for packet in stream.encode(vf):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


# ---------------------------------------------------------------------------------------------
# Atomic, cached dataset folders


def _publish(build: Callable[[Path], None], final: Path, marker: Mapping[str, object]) -> Path:
    """Build a dataset folder in a temporary sibling, then rename it to ``final``.

    If ``final`` already holds a finished dataset (its marker matches), it is reused. If another
    process publishes first, our copy is discarded and theirs used. Returns the annotation file.
    """

    def build_marked(folder: Path) -> None:
        build(folder)
        atomic_write_text(folder / MARKER_FILE, json.dumps(marker, sort_keys=True) + "\n")

    conflict = (
        f"{final}: folder exists and is not a finished dataset from this generator "
        "(remove it or choose another folder)"
    )
    publish_dir(final, build_marked, lambda folder: _is_finished(folder, marker), conflict)
    return final / ANNOTATION_FILE


def _is_finished(folder: Path, marker: Mapping[str, object]) -> bool:
    try:
        found = json.loads((folder / MARKER_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return found == json.loads(json.dumps(marker)) and (folder / ANNOTATION_FILE).is_file()


def _action_rows(actions: Iterable[tuple[str, int, bool]]) -> list[dict[str, object]]:
    return [{"text": t, "apl": a, "proactive": p} for t, a, p in actions]


# ---------------------------------------------------------------------------------------------
# The demo benchmark


def demo_rows() -> list[dict[str, object]]:
    """The demo's annotation records (native format), one per scene."""
    rows: list[dict[str, object]] = []
    for scene in SCENES:
        acts = scene.actions[: scene.demo_actions]
        rows.append(
            {
                "video_id": scene.name,
                "video": f"videos/{scene.name}.mp4",
                "scenario": scene.scenario,
                "actions": _action_rows((a.texts[0], a.apl, a.proactive) for a in acts),
                "source": f"synthetic demo v{GENERATOR_VERSION}: {scene.description}",
            }
        )
    return rows


def _build_demo(folder: Path) -> None:
    (folder / "videos").mkdir()
    for scene in SCENES:
        write_clip(folder / "videos" / f"{scene.name}.mp4", render_scene(scene), DEMO_FPS)
    write_jsonl(folder / ANNOTATION_FILE, demo_rows())


def generate_demo(root: str | os.PathLike[str] | None = None) -> Path:
    """Generate (or reuse) the 16-clip demo benchmark; return its ``annotations.jsonl`` path.

    ``root`` is the output folder (default: ``cache_dir("demo")/v<GENERATOR_VERSION>``).
    """
    final = Path(root) if root is not None else cache_dir("demo") / f"v{GENERATOR_VERSION}"
    marker = {"kind": "demo", "version": GENERATOR_VERSION, "codec": video_codec()}
    return _publish(_build_demo, final, marker)


# ---------------------------------------------------------------------------------------------
# The full-size synthetic benchmark


@dataclass(frozen=True)
class _Planned:
    video_id: str
    scene: Scene
    variation: Variation
    actions: list[tuple[ActionSpec, str]]  # spec, chosen paraphrase


def _scaled_counts(total: int, weights: dict[str, int]) -> dict[str, int]:
    """Split ``total`` in proportion to ``weights`` (largest remainder; exact when equal)."""
    full = sum(weights.values())
    raw = {k: total * v / full for k, v in weights.items()}
    out = {k: int(math.floor(x)) for k, x in raw.items()}
    for k in sorted(raw, key=lambda k: out[k] - raw[k])[: total - sum(out.values())]:
        out[k] += 1
    return out


def _adjust_to_sum(
    values: np.ndarray, lo: np.ndarray, hi: np.ndarray, target: int, rng: np.random.Generator
) -> np.ndarray:
    """Nudge integer ``values`` by +-1 within ``[lo, hi]`` (random order) until they sum to ``target``."""
    values = values.copy()
    while values.sum() != target:
        step = 1 if values.sum() < target else -1
        movable = np.flatnonzero(values < hi) if step > 0 else np.flatnonzero(values > lo)
        if movable.size == 0:
            raise ValueError(f"cannot reach the target sum {target} within the bounds")
        need = min(abs(int(values.sum()) - target), movable.size)
        values[rng.choice(movable, size=need, replace=False)] += step
    return values


def _plan_synthetic(
    num_videos: int, num_actions: int, num_proactive: int, seed: int
) -> list[_Planned]:
    rng = np.random.default_rng(seed)
    per_scenario = _scaled_counts(num_videos, PAPER_SCENARIO_COUNTS)
    videos: list[tuple[str, Scene, Variation]] = []
    for scenario in SCENARIOS:
        scenes = SCENES_BY_SCENARIO[scenario]
        short = SCENARIO_PREFIX[scenario]
        for i in range(per_scenario[scenario]):
            scene = scenes[int(rng.integers(len(scenes)))]
            videos.append((f"syn_{short}_{i + 1:04d}", scene, Variation.sample(rng)))
    n = len(videos)
    if not 2 * n <= num_actions <= 5 * n:
        raise ValueError(f"{num_actions} actions cannot be spread over {n} videos with 2-5 each")
    k = _adjust_to_sum(rng.integers(2, 6, size=n), np.full(n, 2), np.full(n, 5), num_actions, rng)
    pro_pool = np.array([sum(a.proactive for a in v[1].actions) for v in videos])
    re_pool = np.array([sum(not a.proactive for a in v[1].actions) for v in videos])
    lo, hi = np.maximum(0, k - re_pool), np.minimum(k, pro_pool)
    start = np.clip(np.round(k * num_proactive / max(1, num_actions)).astype(int), lo, hi)
    p = _adjust_to_sum(start, lo, hi, num_proactive, rng)
    planned = []
    for (vid, scene, var), ki, pi in zip(videos, k.tolist(), p.tolist(), strict=True):
        pro = [a for a in scene.actions if a.proactive]
        rea = [a for a in scene.actions if not a.proactive]
        chosen = [pro[j] for j in sorted(rng.choice(len(pro), size=pi, replace=False))]
        chosen += [rea[j] for j in sorted(rng.choice(len(rea), size=ki - pi, replace=False))]
        chosen.sort(key=lambda a: scene.actions.index(a))
        acts = [(a, a.texts[int(rng.integers(len(a.texts)))]) for a in chosen]
        planned.append(_Planned(vid, scene, var, acts))
    return planned


def _assign_apls(planned: list[_Planned], apl_counts: dict[int, int], seed: int) -> list[list[int]]:
    """Give every action an APL so the totals equal ``apl_counts`` exactly.

    Actions are ranked by their scene APL plus the clip's severity (a faster car, a bigger fire)
    and a little noise, and the ranking is cut into levels of the wanted sizes: a more urgent
    action never gets a lower level than a less urgent one, and the distribution is exact.
    """
    rng = np.random.default_rng(seed + 1)
    keys = []
    for pv in planned:
        for spec, _ in pv.actions:
            keys.append(spec.apl + 0.8 * pv.variation.severity + float(rng.uniform(-0.2, 0.2)))
    order = np.argsort(np.asarray(keys), kind="stable")
    levels = np.empty(len(keys), dtype=int)
    start = 0
    for level in sorted(apl_counts):
        levels[order[start : start + apl_counts[level]]] = level
        start += apl_counts[level]
    out, i = [], 0
    for pv in planned:
        out.append(levels[i : i + len(pv.actions)].tolist())
        i += len(pv.actions)
    return out


def _synthetic(
    num_videos: int,
    seed: int,
    num_actions: int | None = None,
    num_proactive: int | None = None,
    apl_counts: dict[int, int] | None = None,
) -> list[tuple[dict[str, object], Scene, Variation]]:
    """Annotation rows of the synthetic set, each with the scene and variation of its clip."""
    scale = num_videos / PAPER_NUM_VIDEOS
    num_actions = num_actions if num_actions is not None else round(PAPER_NUM_ACTIONS * scale)
    if num_proactive is None:
        num_proactive = round(num_actions * PAPER_PROACTIVE_COUNT / PAPER_NUM_ACTIONS)
    if apl_counts is None:
        scaled = _scaled_counts(
            num_actions, {str(k): v for k, v in PAPER_ACTION_APL_COUNTS.items()}
        )
        apl_counts = {int(k): v for k, v in scaled.items()}
    if sum(apl_counts.values()) != num_actions:
        raise ValueError(f"apl_counts sum to {sum(apl_counts.values())}, not {num_actions}")
    planned = _plan_synthetic(num_videos, num_actions, num_proactive, seed)
    apls = _assign_apls(planned, apl_counts, seed)
    out = []
    for pv, levels in zip(planned, apls, strict=True):
        acts = (
            (text, apl, spec.proactive)
            for (spec, text), apl in zip(pv.actions, levels, strict=True)
        )
        row: dict[str, object] = {
            "video_id": pv.video_id,
            "video": f"videos/{pv.video_id}.mp4",
            "scenario": pv.scene.scenario,
            "actions": _action_rows(acts),
            "source": f"synthetic v{GENERATOR_VERSION} seed {seed}: {pv.scene.name}",
        }
        out.append((row, pv.scene, pv.variation))
    return out


def synthetic_rows(
    num_videos: int = PAPER_NUM_VIDEOS,
    seed: int = 0,
    num_actions: int | None = None,
    num_proactive: int | None = None,
    apl_counts: dict[int, int] | None = None,
) -> list[dict[str, object]]:
    """The synthetic benchmark's annotation records (no clips).

    Defaults scale the paper's totals to ``num_videos`` (exactly the paper's at 1,074).
    """
    return [r for r, _, _ in _synthetic(num_videos, seed, num_actions, num_proactive, apl_counts)]


def generate_synthetic(
    root: str | os.PathLike[str] | None = None,
    num_videos: int = PAPER_NUM_VIDEOS,
    *,
    seed: int = 0,
    with_videos: bool = True,
) -> Path:
    """Generate (or reuse) a full-size synthetic benchmark; return its ``annotations.jsonl``.

    With the defaults it has the paper's exact counts: 1,074 videos split 364/454/126/130 by
    scenario, 3,733 actions, 2,685 proactive, APLs as :data:`PAPER_ACTION_APL_COUNTS`. Other
    ``num_videos`` scale those totals. ``with_videos=False`` writes only the annotations (the
    same bytes as with clips, so scores and fingerprints agree); a cached copy with clips is
    reused for an annotations-only request. Clips are 64x48, 16 frames at 8 fps.
    """
    if num_videos < 4:
        raise ValueError(f"num_videos must be >= 4 (one per scenario), got {num_videos}")
    name = f"n{num_videos}-seed{seed}"
    if root is None:
        base = cache_dir("synthetic", f"v{GENERATOR_VERSION}")
        if not with_videos:
            full = base / f"{name}-videos"
            if _is_finished(full, _synthetic_marker(num_videos, seed, True)):
                return full / ANNOTATION_FILE
        final = base / f"{name}-{'videos' if with_videos else 'annotations'}"
    else:
        final = Path(root)
    marker = _synthetic_marker(num_videos, seed, with_videos)

    def build(folder: Path) -> None:
        items = _synthetic(num_videos, seed)
        if with_videos:
            (folder / "videos").mkdir()
            for row, scene, var in items:
                clip = render_scene(scene, var, SYNTH_SIZE, SYNTH_NUM_FRAMES)
                write_clip(folder / str(row["video"]), clip, SYNTH_FPS)
        write_jsonl(folder / ANNOTATION_FILE, [row for row, _, _ in items])

    return _publish(build, final, marker)


def _synthetic_marker(num_videos: int, seed: int, with_videos: bool) -> dict[str, object]:
    marker: dict[str, object] = {
        "kind": "synthetic",
        "version": GENERATOR_VERSION,
        "num_videos": num_videos,
        "seed": seed,
        "videos": with_videos,
    }
    if with_videos:
        marker["codec"] = video_codec()
    return marker

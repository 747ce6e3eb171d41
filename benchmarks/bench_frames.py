"""Frame sampling speed: cold decode vs cached read, on the demo clips and on a 10 s 640x360 clip.

Run: ``python benchmarks/bench_frames.py`` (uses a temporary VISUALACT_CACHE_DIR; prints a table).
Target: a cached read is at least 10x faster than a cold decode.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np


def _big_clip(
    path: Path, seconds: int = 10, fps: int = 30, size: tuple[int, int] = (360, 640)
) -> Path:
    """A 10 s 640x360 30 fps H.264 clip with moving content (so inter frames are not trivial)."""
    from visualact_env.demo import write_clip

    h, w = size
    yy, xx = np.mgrid[0:h, 0:w]
    frames = []
    for i in range(seconds * fps):
        r = ((xx + 4 * i) % 256).astype(np.uint8)
        g = ((yy + 2 * i) % 256).astype(np.uint8)
        b = np.full((h, w), (i * 3) % 256, dtype=np.uint8)
        frame = np.stack([r, g, b], axis=-1)
        frame[100:200, (5 * i) % (w - 80) : (5 * i) % (w - 80) + 80] = 255
        frames.append(frame)
    return write_clip(path, frames, fps=fps)


def _time(fn, repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def _measure(paths: list[Path], backend: str) -> tuple[float, float]:
    """(cold ms per clip, cached ms per clip), medians over clips."""
    from visualact_env import frames as fr

    config = fr.SamplerConfig(num_frames=8, size=None, backend=backend)
    cold, cached = [], []
    for p in paths:
        cold.append(min(_time(lambda p=p: fr.sample_frames(p, config, cache=False), 3)))
        fr.sample_frames(p, config, cache=True)  # fill the cache
        cached.append(min(_time(lambda p=p: fr.sample_frames(p, config, cache=True), 5)))
    return statistics.median(cold) * 1e3, statistics.median(cached) * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-frames-") as tmp:
        os.environ["VISUALACT_CACHE_DIR"] = str(Path(tmp) / "cache")
        from visualact_env.datasets import load_benchmark
        from visualact_env.frames import decord_available

        demo = [r.path for r in load_benchmark("demo")]
        big = [_big_clip(Path(tmp) / "big.mp4")]
        backends = (["decord"] if decord_available() else []) + ["pyav"]
        print(
            f"{'clips':<32} {'backend':<8} {'cold ms/clip':>13} {'cached ms/clip':>15} {'ratio':>8}"
        )
        for label, paths in (
            ("demo (16 x 160x120, 30 frames)", demo),
            ("640x360 30 fps 10 s H.264", big),
        ):
            for backend in backends:
                cold, cached = _measure(paths, backend)
                print(
                    f"{label:<32} {backend:<8} {cold:>13.2f} {cached:>15.3f} {cold / cached:>7.0f}x"
                )


if __name__ == "__main__":
    main()

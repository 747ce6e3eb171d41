"""Frame sampling on real encoded clips: index rules, both decoders, resizing, cache, errors."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from visualact_env import frames as frames_mod
from visualact_env.demo import write_clip
from visualact_env.frames import (
    FrameError,
    SamplerConfig,
    decord_available,
    frame_indices,
    letterbox,
    sample_frames,
    sample_frames_many,
)

NUM_COLOURED = 20
# decord is listed even when it is missing, so that its absence shows as a skip, not silence
BACKENDS = [
    "pyav",
    pytest.param(
        "decord", marks=pytest.mark.skipif(not decord_available(), reason="decord not installed")
    ),
]


def _colour(k: int) -> np.ndarray:
    """The uniform colour of frame ``k`` of the coloured clip (far apart after yuv420p)."""
    v = 10 + 12 * k
    return np.array([v, 255 - v, 128], dtype=np.float64)


def _identify(frame: np.ndarray) -> int:
    """Which frame of the coloured clip this decoded frame is (nearest known colour)."""
    mean = frame.reshape(-1, 3).mean(axis=0)
    dists = [np.abs(mean - _colour(k)).sum() for k in range(NUM_COLOURED)]
    best = int(np.argmin(dists))
    assert dists[best] < 15, f"decoded colour {mean} matches no frame"
    return best


def _coloured_clip(path: Path, n: int, size: tuple[int, int] = (48, 64)) -> Path:
    h, w = size
    clip = [np.broadcast_to(_colour(k).astype(np.uint8), (h, w, 3)).copy() for k in range(n)]
    return write_clip(path, clip, fps=10)


@pytest.fixture(scope="module")
def coloured(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _coloured_clip(tmp_path_factory.mktemp("clips") / "coloured.mp4", NUM_COLOURED)


@pytest.fixture(scope="module")
def short_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _coloured_clip(tmp_path_factory.mktemp("clips") / "short.mp4", 3)


# --- index rules -----------------------------------------------------------------------------


def test_index_rules_on_known_counts() -> None:
    assert frame_indices(10, 4, "linspace").tolist() == [0, 3, 6, 9]
    assert frame_indices(10, 4, "centered").tolist() == [1, 3, 6, 8]
    assert frame_indices(20, 8, "linspace").tolist() == [0, 3, 5, 8, 11, 14, 16, 19]
    assert frame_indices(20, 8, "linspace-floor").tolist() == [0, 2, 5, 8, 10, 13, 16, 19]
    assert frame_indices(20, 8, "centered").tolist() == [1, 3, 6, 8, 11, 13, 16, 18]
    assert frame_indices(1, 3, "linspace").tolist() == [0, 0, 0]


def test_short_clip_repeats_indices() -> None:
    for rule in ("linspace", "linspace-floor", "centered"):
        idx = frame_indices(3, 8, rule)
        assert len(idx) == 8 and idx.min() == 0 and idx.max() == 2
        assert np.all(np.diff(idx) >= 0)
    assert frame_indices(3, 8, "linspace").tolist() == [0, 0, 1, 1, 1, 1, 2, 2]


def test_index_rule_errors() -> None:
    with pytest.raises(ValueError, match="at least one frame"):
        frame_indices(0, 8)
    with pytest.raises(ValueError, match="unknown rule"):
        frame_indices(10, 8, "random")


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("rule", ["linspace", "linspace-floor", "centered"])
@pytest.mark.parametrize("n", [1, 6, 8, 13])
def test_sampled_frames_are_the_rule_s_frames(
    coloured: Path, backend: str, rule: str, n: int
) -> None:
    config = SamplerConfig(num_frames=n, rule=rule, size=None, backend=backend)
    got = sample_frames(coloured, config, cache=False)
    assert got.shape == (n, 48, 64, 3) and got.dtype == np.uint8
    assert [_identify(f) for f in got] == frame_indices(NUM_COLOURED, n, rule).tolist()


@pytest.mark.parametrize("backend", BACKENDS)
def test_short_clip_gives_n_frames(short_clip: Path, backend: str) -> None:
    got = sample_frames(
        short_clip, SamplerConfig(num_frames=8, size=None, backend=backend), cache=False
    )
    assert [_identify(f) for f in got] == [0, 0, 1, 1, 1, 1, 2, 2]


@pytest.mark.skipif(not decord_available(), reason="decord not installed")
def test_backends_decode_identical_frames(tmp_path: Path) -> None:
    from visualact_env.datasets import load_benchmark

    bench = load_benchmark("demo")
    for record in bench.records[::3]:
        a = sample_frames(record.path, SamplerConfig(size=None, backend="decord"), cache=False)
        b = sample_frames(record.path, SamplerConfig(size=None, backend="pyav"), cache=False)
        np.testing.assert_array_equal(a, b, err_msg=record.video_id)
    # also a clip at a size and length the demo does not have
    rng = np.random.default_rng(0)
    noisy = write_clip(
        tmp_path / "noisy.mp4", rng.integers(0, 255, (37, 90, 128, 3), dtype=np.uint8)
    )
    cfg = SamplerConfig(num_frames=9, rule="centered", size=None)
    a = sample_frames(noisy, SamplerConfig(**{**cfg.to_dict(), "backend": "decord"}), cache=False)
    b = sample_frames(noisy, SamplerConfig(**{**cfg.to_dict(), "backend": "pyav"}), cache=False)
    np.testing.assert_array_equal(a, b)


# --- configuration -----------------------------------------------------------------------------


def test_config_key_and_round_trip() -> None:
    cfg = SamplerConfig(num_frames=16, rule="centered", size=(224, 224), resize="stretch")
    assert cfg.key == "n16-centered-224x224-stretch"
    assert SamplerConfig.from_dict(cfg.to_dict()) == cfg
    assert cfg.to_dict()["size"] == [224, 224]
    # the default is the one of eval and the environments: 8 frames letterboxed to 224x224
    assert SamplerConfig().key == "n8-linspace-224x224-letterbox"
    assert SamplerConfig(size=None).key == "n8-linspace-native-none"
    # the backend does not change frames, so it does not change the key
    assert SamplerConfig(backend="pyav").key == SamplerConfig(backend="decord").key
    # resize mode only matters when resizing
    assert SamplerConfig(size=None, resize="stretch").key == SamplerConfig(size=None).key


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"num_frames": 0}, "num_frames"),
        ({"num_frames": True}, "num_frames"),
        ({"rule": "uniform"}, "unknown rule"),
        ({"resize": "crop"}, "unknown resize"),
        ({"backend": "opencv"}, "unknown backend"),
        ({"size": (0, 10)}, "size"),
        ({"size": (10,)}, "size"),
    ],
)
def test_config_rejects_bad_values(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        SamplerConfig(**kwargs)


# --- resizing ------------------------------------------------------------------------------------


def test_letterbox_keeps_aspect_and_pads_black() -> None:
    frames = np.full((2, 120, 160, 3), 200, dtype=np.uint8)
    out = letterbox(frames, (64, 64))
    assert out.shape == (2, 64, 64, 3) and out.dtype == np.uint8
    # 160x120 scaled by 0.4 -> 64x48, centred: 8 black rows above and below
    assert np.all(out[:, :8] == 0) and np.all(out[:, -8:] == 0)
    assert np.all(out[:, 8:56] == 200)
    single = letterbox(frames[0], (30, 100))
    assert single.shape == (30, 100, 3)
    assert np.all(single[:, :30] == 0) and np.all(single[:, 31:69] == 200)
    with pytest.raises(ValueError, match="shape"):
        letterbox(np.zeros((4, 4)), (2, 2))


def test_sample_frames_resizes(coloured: Path) -> None:
    boxed = sample_frames(coloured, SamplerConfig(num_frames=3, size=(64, 64)), cache=False)
    assert boxed.shape == (3, 64, 64, 3)
    assert np.all(boxed[:, :8] == 0)  # 64x48 clip -> letterboxed rows top and bottom
    stretched = sample_frames(
        coloured, SamplerConfig(num_frames=3, size=(32, 100), resize="stretch"), cache=False
    )
    assert stretched.shape == (3, 32, 100, 3)
    assert [_identify(f) for f in stretched] == [0, 10, 19]


# --- cache -----------------------------------------------------------------------------------------


def _forbid_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*args: object, **kwargs: object) -> np.ndarray:
        raise AssertionError("decoder called although the frames are cached")

    monkeypatch.setattr(frames_mod, "decode_frames", fail)


def test_cache_hit_does_not_decode(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    clip = _coloured_clip(tmp_path / "c.mp4", 12)
    cfg = SamplerConfig(num_frames=5, size=(32, 32))
    first = sample_frames(clip, cfg)
    _forbid_decoding(monkeypatch)
    np.testing.assert_array_equal(sample_frames(clip, cfg), first)
    # the cache is shared across backends: frames do not depend on the decoder
    np.testing.assert_array_equal(
        sample_frames(clip, SamplerConfig(**{**cfg.to_dict(), "backend": "pyav"})), first
    )
    with pytest.raises(AssertionError, match="decoder called"):
        sample_frames(clip, cfg, cache=False)
    with pytest.raises(AssertionError, match="decoder called"):
        sample_frames(clip, SamplerConfig(num_frames=6, size=(32, 32)))  # another key


def test_cache_misses_when_clip_changes(tmp_path: Path) -> None:
    clip = _coloured_clip(tmp_path / "c.mp4", 12)
    cfg = SamplerConfig(num_frames=2, size=None)
    assert [_identify(f) for f in sample_frames(clip, cfg)] == [0, 11]
    _coloured_clip(clip, 20)  # rewritten in place: new size and mtime
    st = clip.stat()
    os.utime(clip, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    assert [_identify(f) for f in sample_frames(clip, cfg)] == [0, 19]


def test_unreadable_cache_entry_is_decoded_again(tmp_path: Path) -> None:
    clip = _coloured_clip(tmp_path / "c.mp4", 12)
    cfg = SamplerConfig(num_frames=3, size=None)
    first = sample_frames(clip, cfg)
    entry = frames_mod._cache_file(clip, cfg)
    assert entry.is_file()
    entry.write_bytes(b"not an npy file")
    np.testing.assert_array_equal(sample_frames(clip, cfg), first)
    np.save(entry, np.zeros((1, 2, 2, 3), dtype=np.uint8))  # wrong shape for this config
    np.testing.assert_array_equal(sample_frames(clip, cfg), first)


def test_a_full_cache_disk_still_gives_the_frames_with_one_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The frame cache is best-effort: a cache disk without space costs reuse, not the clip."""
    from disk_faults import fill_disk

    from visualact_env import cache as cache_mod

    clip = _coloured_clip(tmp_path / "c.mp4", 12)
    cfg = SamplerConfig(num_frames=4, size=(32, 48))
    expected = sample_frames(clip, cfg, cache=False)
    monkeypatch.setenv("VISUALACT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(cache_mod, "_warned", set())
    refused = fill_disk(monkeypatch, tmp_path / "cache")
    with caplog.at_level("WARNING", logger="visualact.cache"):
        first = sample_frames(clip, cfg)
        second = sample_frames(clip, SamplerConfig(num_frames=5, size=(32, 48)))
    np.testing.assert_array_equal(first, expected)
    assert second.shape == (5, 32, 48, 3)
    assert len(refused) == 2, "both entries were attempted and refused"
    assert not [p for p in (tmp_path / "cache").rglob("*") if p.is_file()]
    warnings = [r.getMessage() for r in caplog.records if r.name == "visualact.cache"]
    assert len(warnings) == 1 and "frames cache" in warnings[0]
    assert "No space left on device" in warnings[0]


def test_sample_frames_many(coloured: Path, short_clip: Path) -> None:
    out = sample_frames_many([coloured, short_clip], SamplerConfig(num_frames=4, size=(24, 32)))
    assert [o.shape for o in out] == [(4, 24, 32, 3)] * 2
    assert np.stack(out).shape == (2, 4, 24, 32, 3)


# --- errors ------------------------------------------------------------------------------------------


def _audio_only(path: Path) -> Path:
    import av

    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("aac", rate=16000)
        frame = av.AudioFrame.from_ndarray(
            np.zeros((1, 1024), np.float32), format="fltp", layout="mono"
        )
        frame.sample_rate = 16000
        for i in range(4):
            frame.pts = i * 1024
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


@pytest.mark.parametrize("backend", ["auto", *BACKENDS])
def test_bad_files_raise_frame_error_naming_the_file(
    tmp_path: Path, coloured: Path, backend: str
) -> None:
    cfg = SamplerConfig(backend=backend)
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    corrupt = tmp_path / "corrupt.mp4"
    corrupt.write_bytes(np.random.default_rng(1).integers(0, 255, 4000, dtype=np.uint8).tobytes())
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(coloured.read_bytes()[: coloured.stat().st_size // 2])
    no_video = _audio_only(tmp_path / "audio.mp4")
    cases = {
        tmp_path / "missing.mp4": "not found",
        empty: "empty",
        corrupt: "cannot open",
        truncated: "cannot open",
        no_video: "video",
        tmp_path: "not a regular file",
    }
    for path, reason in cases.items():
        with pytest.raises(FrameError, match=reason) as info:
            sample_frames(path, cfg)
        assert str(path) in str(info.value)
        assert info.value.path == str(path)
        assert isinstance(info.value, ValueError)


# --- sampling by rate (fps) and a pixel budget ---------------------------------------------------


# The coloured clip: 20 frames at 10 fps = 2 s. Worked by hand from docs/frames.md:
#   fps=2   -> floor(2 s x 2 + 0.5) = 4 frames, linspace(0, 19, 4) = 0, 6.33, 12.67, 19
#   fps=3.3 -> floor(6.6 + 0.5) = 7, linspace(0, 19, 7) = 0, 3.17, 6.33, 9.5, 12.67, 15.83, 19
#   fps=30  -> 60 wanted, at most the clip's 20 and max_frames=5: linspace(0, 19, 5)
#   fps=0.1 -> floor(0.2 + 0.5) = 0, raised to 1 frame: the first
FPS_CASES = [
    (2.0, 32, "linspace", [0, 6, 13, 19]),
    (3.3, 32, "linspace", [0, 3, 6, 10, 13, 16, 19]),
    (3.3, 32, "centered", [1, 4, 7, 10, 12, 15, 18]),
    (30.0, 5, "linspace", [0, 5, 10, 14, 19]),
    (30.0, 32, "linspace", list(range(20))),
    (0.1, 32, "linspace", [0]),
]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("fps, max_frames, rule, expected", FPS_CASES)
def test_fps_sampling_picks_the_documented_frames(
    coloured: Path, backend: str, fps: float, max_frames: int, rule: str, expected: list[int]
) -> None:
    config = SamplerConfig(size=None, fps=fps, max_frames=max_frames, rule=rule, backend=backend)
    assert frames_mod.sample_indices(NUM_COLOURED, 10.0, config).tolist() == expected
    got = sample_frames(coloured, config, cache=False)
    assert [_identify(f) for f in got] == expected


def test_fps_frame_count_rule() -> None:
    from visualact_env.sampler import fps_frame_count

    assert fps_frame_count(300, 30.0, 1.0, 32) == 10  # 10 s at 1 fps
    assert fps_frame_count(301, 30.0, 1.0, 32) == 10  # 10.03 s
    assert fps_frame_count(315, 30.0, 1.0, 32) == 11  # 10.5 s rounds half up
    assert fps_frame_count(300, 30.0, 1.0, 8) == 8  # the cap
    assert fps_frame_count(5, 30.0, 60.0, 32) == 5  # never more than the clip holds
    with pytest.raises(ValueError, match="frame rate"):
        fps_frame_count(10, 0.0, 1.0, 32)


def test_fps_sampled_frames_are_cached_under_their_own_key(coloured: Path) -> None:
    config = SamplerConfig(size=None, fps=2.0)
    assert config.key == "fps2max32-linspace-native-none"
    first = sample_frames(coloured, config)
    assert frames_mod._cache_file(coloured, config).is_file()
    np.testing.assert_array_equal(sample_frames(coloured, config), first)
    assert len(sample_frames(coloured, SamplerConfig(size=None, fps=3.3))) == 7


def test_fit_pixels_keeps_the_aspect_ratio_within_the_budget() -> None:
    from visualact_env.sampler import fit_pixels

    assert fit_pixels(48, 64, 1000) == (27, 36)  # s = sqrt(1000 / 3072)
    assert fit_pixels(48, 64, 3072) == (48, 64)  # within the budget: unchanged
    assert fit_pixels(1080, 1920, 448 * 448) == (336, 597)
    assert fit_pixels(1, 10_000, 100) == (1, 100)  # a side of 1: the other is trimmed
    rng = np.random.default_rng(0)
    for h, w, budget in rng.integers(1, 3000, size=(300, 3)):
        h, w, budget = int(h), int(w), int(budget)
        fh, fw = fit_pixels(h, w, budget)
        if h * w <= budget:
            assert (fh, fw) == (h, w)
            continue
        assert 1 <= fh <= h and 1 <= fw <= w and fh * fw <= budget
        if min(fh, fw) > 1:  # each side is off by less than one pixel from the exact scale
            scale = (budget / (h * w)) ** 0.5
            assert h * scale - 1 < fh <= h * scale and w * scale - 1 < fw <= w * scale


@pytest.mark.parametrize("backend", BACKENDS)
def test_max_pixels_shrinks_frames_keeping_the_aspect_ratio(coloured: Path, backend: str) -> None:
    config = SamplerConfig(num_frames=3, size=None, max_pixels=1000, backend=backend)
    assert config.key == "n3-linspace-native-none-px1000"
    got = sample_frames(coloured, config, cache=False)
    assert got.shape == (3, 27, 36, 3)
    assert [_identify(f) for f in got] == [0, 10, 19]  # colours survive the resize
    roomy = SamplerConfig(num_frames=3, size=None, max_pixels=48 * 64, backend=backend)
    native = SamplerConfig(num_frames=3, size=None, backend=backend)
    np.testing.assert_array_equal(
        sample_frames(coloured, roomy, cache=False), sample_frames(coloured, native, cache=False)
    )


# --- decoding at the target size (bounded memory on huge clips) -----------------------------------

SCALED_SAMPLERS = [
    SamplerConfig(),  # the default: 224x224 letterbox (a 4:3 demo clip is enlarged to 168x224)
    SamplerConfig(num_frames=5, size=(37, 53), resize="stretch", rule="centered"),
    SamplerConfig(num_frames=4, size=None, max_pixels=2000),
    SamplerConfig(num_frames=3, size=(300, 100)),
]


@pytest.mark.skipif(not decord_available(), reason="decord not installed")
@pytest.mark.parametrize("config", SCALED_SAMPLERS, ids=lambda c: c.key)
def test_backends_scale_to_identical_frames(config: SamplerConfig, big_clip: Path) -> None:
    """Both decoders scale inside FFmpeg with the same filter: the same pixels, to the bit."""
    from dataclasses import replace

    from visualact_env.datasets import load_benchmark

    clips = [r.path for r in load_benchmark("demo").records[::4]] + [big_clip]
    for clip in clips:
        a = sample_frames(clip, replace(config, backend="decord"), cache=False)
        b = sample_frames(clip, replace(config, backend="pyav"), cache=False)
        assert a.shape == b.shape and a.shape[0] == config.num_frames
        np.testing.assert_array_equal(a, b, err_msg=str(clip))


BIG = (1080, 1920)  # HxW: a full-HD clip stands in for the 8K one of benchmarks/bench_extremes.py


@pytest.fixture(scope="module")
def big_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    h, w = BIG
    yy, xx = np.mgrid[0:h, 0:w]
    frames = []
    for k in range(6):
        frame = np.stack([(xx // 8 + 20 * k) % 256, (yy // 8) % 256, np.full_like(xx, 40 * k)], -1)
        frame[h // 3 : h // 2, 100 * k : 100 * k + 400] = 255
        frames.append(frame.astype(np.uint8))
    return write_clip(tmp_path_factory.mktemp("big") / "big.mp4", frames, fps=6)


def _spy_pyav_arrays(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, ...]]:
    """Record the shape of every RGB array PyAV converts a frame into."""
    import av

    shapes: list[tuple[int, ...]] = []
    original = av.VideoFrame.to_ndarray

    def spy(self, *args, **kwargs):
        out = original(self, *args, **kwargs)
        shapes.append(out.shape)
        return out

    monkeypatch.setattr(av.VideoFrame, "to_ndarray", spy)
    return shapes


def test_pyav_never_converts_a_full_size_frame(big_clip: Path, monkeypatch) -> None:
    shapes = _spy_pyav_arrays(monkeypatch)
    got = sample_frames(big_clip, SamplerConfig(backend="pyav"), cache=False)
    assert got.shape == (8, 224, 224, 3)
    assert shapes and set(shapes) == {(126, 224, 3)}  # the letterbox's picture, nothing larger
    assert np.all(got[:, :49] == 0) and np.all(got[:, 49 + 126 :] == 0)  # bars added after
    shapes.clear()
    fitted = sample_frames(big_clip, SamplerConfig(size=None, max_pixels=20_000, backend="pyav"), cache=False)  # fmt: skip
    assert fitted.shape == (8, 106, 188, 3) and set(shapes) == {(106, 188, 3)}


@pytest.mark.skipif(not decord_available(), reason="decord not installed")
def test_decord_is_asked_for_the_target_size(big_clip: Path, monkeypatch) -> None:
    import decord

    calls: list[dict] = []
    original = decord.VideoReader

    def spy(*args, **kwargs):
        calls.append(kwargs)
        return original(*args, **kwargs)

    monkeypatch.setattr(decord, "VideoReader", spy)
    got = sample_frames(big_clip, SamplerConfig(backend="decord"), cache=False)
    assert got.shape == (8, 224, 224, 3)
    assert calls[-1]["width"] == 224 and calls[-1]["height"] == 126
    assert all(c.get("width", -1) in (-1, 224) for c in calls)


@pytest.mark.parametrize("backend", ["auto", *BACKENDS])
@pytest.mark.parametrize(
    ("config", "message"),
    [
        (SamplerConfig(num_frames=180, size=None), "180 frames of 1920x1080 would take 1,068 MiB"),
        (SamplerConfig(num_frames=100_000), "100000 frames of 224x224 would take 14,355 MiB"),
        (SamplerConfig(size=None, fps=30.0, max_frames=10_000), None),  # 6 frames: fine
    ],
)
def test_sampled_frames_beyond_the_byte_limit_are_refused_before_decoding(
    big_clip: Path, backend: str, config: SamplerConfig, message: str | None, monkeypatch
) -> None:
    from dataclasses import replace

    shapes = _spy_pyav_arrays(monkeypatch)
    config = replace(config, backend=backend)
    if message is None:
        assert sample_frames(big_clip, config, cache=False).shape == (6, *BIG, 3)
        return
    with pytest.raises(FrameError, match=message) as info:
        sample_frames(big_clip, config, cache=False)
    assert "MAX_FRAME_BYTES" in str(info.value) and str(big_clip) in str(info.value)
    assert isinstance(info.value, frames_mod.FrameLimitError)
    assert "also failed" not in str(info.value)  # no second decoder tried: it cannot help
    assert not shapes  # refused before a single frame was converted

"""The shared cache folder and atomic writes."""

from __future__ import annotations

import os
import stat
import threading

from visualact_env import cache


def test_cache_root_follows_the_environment_variable(tmp_path, monkeypatch):
    monkeypatch.setenv(cache.ENV_VAR, str(tmp_path / "c"))
    assert cache.cache_dir("frames") == tmp_path / "c" / "frames"
    assert (tmp_path / "c" / "frames").is_dir()


def test_atomic_write_leaves_no_temporary_files_and_normal_permissions(tmp_path):
    target = cache.atomic_write_text(tmp_path / "a" / "file.txt", "hello")
    assert target.read_text() == "hello"
    assert os.listdir(tmp_path / "a") == ["file.txt"]
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~mask


def test_concurrent_writers_never_expose_a_partial_file(tmp_path):
    path = tmp_path / "shared.bin"
    payloads = [bytes([i]) * 200_000 for i in range(8)]
    seen: list[bytes] = []
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            if path.exists():
                seen.append(path.read_bytes())

    reader = threading.Thread(target=read)
    reader.start()
    writers = [
        threading.Thread(target=cache.atomic_write_bytes, args=(path, p)) for p in payloads * 3
    ]
    for w in writers:
        w.start()
    for w in writers:
        w.join()
    stop.set()
    reader.join()
    assert path.read_bytes() in payloads
    assert all(s in payloads for s in seen)


def test_npy_round_trip_and_unreadable_entries(tmp_path):
    import numpy as np

    arr = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    cache.atomic_save_npy(tmp_path / "x.npy", arr)
    assert (cache.load_npy(tmp_path / "x.npy") == arr).all()
    (tmp_path / "bad.npy").write_bytes(b"garbage")
    assert cache.load_npy(tmp_path / "bad.npy") is None
    assert cache.load_npy(tmp_path / "missing.npy") is None


def test_digest_separates_its_parts():
    assert cache.digest("ab", "c") != cache.digest("a", "bc")
    assert cache.digest("x") == cache.digest(b"x")

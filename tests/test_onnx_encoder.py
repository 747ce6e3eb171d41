"""The ONNX Runtime encoder: built once and verified, the torch encoder's decisions, its own
identity for int8, the torch fallback, and no torch import where the graph exists."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from visualact_env import onnx_encoder
from visualact_env.embedding import Embedder, EmbeddingModelError, _safe_key, model_identity
from visualact_env.metric import tie_keys
from visualact_env.onnx_encoder import (
    FP32_TOLERANCE,
    OnnxEncoder,
    graph_root,
    read_record,
    shared_session,
    usable_cores,
)

DEMO_SCENES = Path(onnx_encoder.__file__).parent / "resources" / "demo_scenes.json"


def demo_texts() -> list[str]:
    """A few hundred action texts: every annotated text and paraphrase of the demo scenes, and
    surface variants of each (prefixes, suffixes) as a model would write them."""
    scenes = json.loads(DEMO_SCENES.read_text(encoding="utf-8"))["scenes"]
    base = [t for s in scenes for a in s["actions"] for t in a["texts"]]
    variants = [f"Please {t[0].lower()}{t[1:]}" for t in base[::2]]
    variants += [f"{t.rstrip('.')} right away." for t in base[1::2]]
    return sorted(set(base + variants))


@pytest.fixture(scope="module")
def texts() -> list[str]:
    return demo_texts()


@pytest.fixture(scope="module")
def fp32(isolated_cache: Path) -> Embedder:
    """The default embedder on the ONNX graph (built into the session cache on first use)."""
    e = Embedder(cache=False, backend="onnx")
    e.encode(["warm up"])
    return e


def test_graph_is_built_once_verified_and_reused(fp32: Embedder) -> None:
    assert fp32.encoder_kind == "onnx-fp32"
    path = fp32._st_model.model_path
    record = read_record(path)
    assert record["precision"] == "fp32" and record["verified_against"] == "torch encoder"
    assert 0 <= record["max_abs_cosine_diff"] <= FP32_TOLERANCE
    assert record["sentences"] == len(onnx_encoder.VERIFY_SENTENCES)
    before = path.stat().st_mtime_ns
    again = Embedder(cache=False, backend="onnx")
    again.encode(["reused, not rebuilt"])
    assert again._st_model.model_path == path and path.stat().st_mtime_ns == before
    assert again._st_model.session is fp32._st_model.session  # one session per process
    assert not list(path.parent.parent.glob(".*build-*"))  # nothing half-built left behind


@pytest.mark.slow
def test_fp32_graph_gives_the_torch_encoders_decisions(fp32: Embedder, texts: list[str]) -> None:
    """The reason the fp32 graph shares the torch encoder's identity (and cache): on a few
    hundred action texts, every pairwise cosine is within 1e-5 and no threshold decision at
    tau 0.5 or 0.7 differs (benchmarks/bench_scoring.py checks the full-size set)."""
    assert len(texts) >= 300
    torch_vectors = Embedder(cache=False, backend="torch").encode(texts)
    onnx_vectors = fp32.encode(texts)
    a, b = torch_vectors.astype(np.float64), onnx_vectors.astype(np.float64)
    sim_torch, sim_onnx = np.clip(a @ a.T, -1, 1), np.clip(b @ b.T, -1, 1)
    assert float(np.abs(sim_torch - sim_onnx).max()) < 1e-5
    near = 0
    for tau in (0.5, 0.7):
        decided_torch = tie_keys(sim_torch, tau)[1]
        decided_onnx = tie_keys(sim_onnx, tau)[1]
        assert int((decided_torch != decided_onnx).sum()) == 0, tau
        near += int((np.abs(sim_torch - tau) < 0.02).sum())
    assert near > 100  # the set does put many pairs close to both thresholds


@pytest.mark.slow
def test_int8_has_its_own_identity_cache_and_graph(fp32: Embedder, texts: list[str]) -> None:
    int8 = Embedder("minilm-int8")
    default = Embedder()
    assert int8.identity != default.identity and "-int8@" in int8.identity
    assert Embedder("minilm").identity == default.identity
    assert int8.store.folder != default.store.folder
    vectors = int8.encode(texts[:64])
    assert int8.encoder_kind == "onnx-int8"
    record = read_record(int8._st_model.model_path)
    assert record["precision"] == "int8" and record["quantization"]["weight_type"] == "QInt8"
    reference = fp32.encode(texts[:64])
    diff = np.abs(vectors @ vectors.T - reference @ reference.T).max()
    assert 1e-4 < diff < 0.15  # quantized: close, but not the fp32 vectors
    with pytest.raises(ValueError, match="int8"):
        Embedder("minilm-int8", backend="torch")


def test_sessions_use_every_core_or_omp_num_threads(fp32: Embedder, monkeypatch) -> None:
    options = fp32._st_model.session.get_session_options()
    assert options.intra_op_num_threads == usable_cores()
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert usable_cores() == 1
    monkeypatch.setenv("OMP_NUM_THREADS", "")
    assert usable_cores() == len(os.sched_getaffinity(0))
    assert shared_session(fp32._st_model.model_path) is fp32._st_model.session


def test_failed_export_falls_back_to_torch_once(tmp_path: Path, monkeypatch, caplog) -> None:
    monkeypatch.setenv("VISUALACT_CACHE_DIR", str(tmp_path))
    calls = []

    def broken_export(config, tmp):
        calls.append(tmp)
        raise RuntimeError("exporter exploded")

    monkeypatch.setattr(onnx_encoder, "_build_fp32", broken_export)
    with caplog.at_level(logging.WARNING, logger="visualact.embedding"):
        e = Embedder(cache=False)
        v = e.encode(["call for help"])
    assert e.encoder_kind == "torch" and v.shape == (1, 384)
    assert "exporter exploded" in caplog.text and "encoding with torch" in caplog.text
    key = _safe_key(model_identity(e.model))
    failed = json.loads((graph_root(key) / "failed-fp32.json").read_text())
    assert "exporter exploded" in failed["reason"] and failed["versions"]["onnxruntime"]
    assert not (graph_root(key) / "fp32").exists()
    again = Embedder(cache=False)
    again.encode(["open the door"])
    assert again.encoder_kind == "torch" and len(calls) == 1  # the failure is remembered
    with pytest.raises(EmbeddingModelError, match="exporter exploded"):
        Embedder(cache=False, backend="onnx").encode(["x"])
    with pytest.raises(EmbeddingModelError, match="int8"):
        Embedder("minilm-int8", cache=False).encode(["x"])


def test_unwritable_graph_folder_falls_back_to_torch(tmp_path: Path, monkeypatch, caplog) -> None:
    monkeypatch.setenv("VISUALACT_CACHE_DIR", str(tmp_path))

    def read_only(key: str) -> Path:
        raise PermissionError(13, "Permission denied", str(tmp_path / "onnx"))

    monkeypatch.setattr(onnx_encoder, "graph_root", read_only)
    with caplog.at_level(logging.WARNING, logger="visualact.embedding"):
        e = Embedder(cache=False)
        e.encode(["close the window"])
    assert e.encoder_kind == "torch" and "Permission denied" in caplog.text


def test_missing_onnxruntime_falls_back_to_torch(tmp_path: Path, monkeypatch, caplog) -> None:
    monkeypatch.setenv("VISUALACT_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(onnx_encoder, "onnxruntime_available", lambda: False)
    with caplog.at_level(logging.WARNING, logger="visualact.embedding"):
        e = Embedder(cache=False)
        e.encode(["lock the door"])
    assert e.encoder_kind == "torch"
    assert "onnxruntime is not installed" in caplog.text
    assert not (tmp_path / "onnx").exists() or not list((tmp_path / "onnx").rglob("model.onnx"))


def test_encoder_pads_and_orders_like_single_texts(fp32: Embedder, texts: list[str]) -> None:
    encoder: OnnxEncoder = fp32._st_model
    mixed = [texts[0], "turn off the stove " * 200, "", texts[5]]
    batched = encoder.encode(mixed, batch_size=3)
    one_by_one = np.stack([encoder.encode([t])[0] for t in mixed])
    assert np.abs(batched - one_by_one).max() < 1e-5
    assert np.allclose(np.linalg.norm(batched, axis=1), 1.0, atol=1e-5)
    assert encoder.encode([]).shape == (0, 384)


def _run(code: str, env: dict[str, str]) -> str:
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout.strip().splitlines()[-1]


@pytest.mark.slow
def test_help_score_and_first_step_never_import_torch(
    fp32: Embedder, isolated_cache: Path, tmp_path: Path, demo
) -> None:
    """With the ONNX graph in the cache, ``visualact --help``, ``visualact score`` on texts never
    embedded before and an environment's first step all run without importing torch."""
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "onnx").symlink_to(isolated_cache / "onnx")  # the graph, but no embeddings
    (cache / "demo").symlink_to(isolated_cache / "demo")
    env = {**os.environ, "VISUALACT_CACHE_DIR": str(cache)}
    preds = tmp_path / "predictions.jsonl"
    rows = [
        {"video_id": r.video_id, "actions": [{"text": f"Do something new {i}", "apl": 2}]}
        for i, r in enumerate(demo)
    ]
    preds.write_text("".join(json.dumps(r) + "\n" for r in rows))
    check = "print(sorted(m for m in ('torch', 'transformers', 'sentence_transformers') if m in sys.modules))"  # fmt: skip
    help_run = f"""
        import sys
        from visualact_env.cli import main
        try:
            main(["--help"])
        except SystemExit:
            pass
        {check}
    """
    assert _run(help_run, env) == "[]"
    score_run = f"""
        import sys
        from visualact_env.cli import main
        code = main(["score", "--annotations", "demo", "--predictions", {str(preds)!r}, "--json"])
        assert code == 0, code
        {check}
    """
    assert _run(score_run, env) == "[]"
    assert list((cache / "embeddings").rglob("chunk-*.npz"))  # it did embed new texts
    step_run = f"""
        import sys
        import gymnasium as gym
        import visualact_env
        env = gym.make("VisualAct-v0")
        env.reset(seed=0)
        _, reward, *_ = env.step([{{"text": "Walk over and ask whether help is needed", "apl": 3}}])
        assert 0.0 <= reward <= 1.0
        {check}
    """
    assert _run(step_run, env) == "[]"

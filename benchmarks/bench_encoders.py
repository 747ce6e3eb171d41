"""Encoder throughput: torch vs ONNX Runtime fp32 vs int8, and the ONNX settings.

Encodes the unique texts of the full-size synthetic benchmark (ground truth plus the seeded
predictions of ``bench_scoring.py``) in one process, on each variant in turn, round after
round (interleaved, so load from other processes hits every variant alike), and prints the
median sentences per second of each:

* the encoders at the default settings (batches of 64 texts of similar token counts);
* ONNX fp32 batch sizes 32 / 64 / 128 / 256, batches in file order (padding to the longest
  text of a random batch) vs sorted by token count, intra-op threads 1 vs all cores, and
  ONNX Runtime's thread spinning on vs off.

    python benchmarks/bench_encoders.py               # 1,000 texts: a few minutes on 2 cores
    python benchmarks/bench_encoders.py --texts 0 --rounds 5     # every text, more rounds
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from visualact_env.testing.naive_scorer import make_predictions


def unique_texts(limit: int | None) -> list[str]:
    """The full-size synthetic benchmark's unique texts (ground truth and predictions)."""
    import json

    from visualact_env.demo import generate_synthetic

    work = Path(tempfile.mkdtemp(prefix="bench-encoders-"))
    ann = generate_synthetic(root=work / "synthetic", with_videos=False)
    pred = work / "predictions.jsonl"
    make_predictions(ann, pred, seed=0)
    texts = {
        a["text"].strip()
        for path in (ann, pred)
        for line in path.read_text().splitlines()
        for a in json.loads(line)["actions"]
    }
    rng = np.random.default_rng(0)
    out = sorted(texts)
    rng.shuffle(out)
    return out[:limit] if limit else out


class Variant:
    """An ONNX encoder with its own session settings."""

    def __init__(self, encoder: Any, model_path: Path, threads: int, spinning: bool, **run: Any):
        import onnxruntime as ort

        from visualact_env.onnx_encoder import OnnxEncoder

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spinning else "0")  # fmt: skip
        self.encoder = OnnxEncoder.__new__(OnnxEncoder)
        self.encoder.__dict__.update(encoder.__dict__)
        self.encoder.session = ort.InferenceSession(
            str(model_path), options, providers=["CPUExecutionProvider"]
        )
        self.run = run

    def __call__(self, texts: list[str]) -> None:
        if self.run.get("sort", True):
            self.encoder.encode(texts, batch_size=self.run.get("batch_size", 64))
        else:  # file order: batches pad to their longest text
            from visualact_env.encoders import padded_batch
            from visualact_env.onnx_encoder import INPUTS, OUTPUT

            size = self.run.get("batch_size", 64)
            encs = self.encoder.tokenizer.encode_batch(texts)
            for start in range(0, len(encs), size):
                feed = dict(zip(INPUTS, padded_batch(encs[start : start + size]), strict=True))
                self.encoder.session.run([OUTPUT], feed)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--texts", type=int, default=1000, help="how many texts (0: all 2,922)")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    os.environ.setdefault("VISUALACT_CACHE_DIR", tempfile.mkdtemp(prefix="bench-encoders-cache-"))
    from visualact_env.embedding import Embedder
    from visualact_env.onnx_encoder import usable_cores

    texts = unique_texts(args.texts)
    cores = usable_cores()
    fp32 = Embedder(cache=False, backend="onnx")
    int8 = Embedder("minilm-int8", cache=False)
    torch_e = Embedder(cache=False, backend="torch")
    for e in (fp32, int8, torch_e):
        e.encode(["warm up"])
    onnx32, path32 = fp32._st_model, fp32._st_model.model_path
    variants: dict[str, Callable[[list[str]], None]] = {
        "torch (batch 64, sorted)": lambda t: torch_e._st_model.encode(t, batch_size=64),
        "onnx fp32 (default)": lambda t: onnx32.encode(t, batch_size=64),
        "onnx int8 (default)": lambda t: int8._st_model.encode(t, batch_size=64),
    }
    for size in (32, 128, 256):
        variants[f"onnx fp32 batch {size}"] = Variant(onnx32, path32, cores, True, batch_size=size)
    variants["onnx fp32 file order"] = Variant(onnx32, path32, cores, True, sort=False)
    variants["onnx fp32 1 thread"] = Variant(onnx32, path32, 1, True)
    variants["onnx fp32 no spinning"] = Variant(onnx32, path32, cores, False)
    times: dict[str, list[float]] = {k: [] for k in variants}
    print(f"{len(texts)} unique texts, {cores} cores, {args.rounds} rounds", flush=True)
    for r in range(args.rounds):
        for name, run in variants.items():
            t0 = time.perf_counter()
            run(texts)
            times[name].append(time.perf_counter() - t0)
        print(f"round {r + 1} done", flush=True)
    print(f"\n{'variant':<28}{'texts/s':>9}{'vs torch':>10}")
    base = statistics.median(times["torch (batch 64, sorted)"])
    for name, ts in times.items():
        med = statistics.median(ts)
        print(f"{name:<28}{len(texts) / med:9.0f}{base / med:9.2f}x")


if __name__ == "__main__":
    main()

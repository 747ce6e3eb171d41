"""Sentence embeddings on ONNX Runtime: the default encoder, without importing torch.

A cold ``visualact score``, an environment's first step and a GRPO reward on new text used to
import torch (about 2.2 s) just to encode a few sentences. ONNX Runtime and ``tokenizers``
import in about 0.2 s and encode faster on CPU. For plain mean-pooling BERT folders (what
:class:`~visualact_env.encoders.TorchBert` implements, e.g. the default all-MiniLM-L6-v2):

* **fp32 graph.** Exported once per model from :class:`~visualact_env.encoders.TorchBert` plus
  mean pooling and L2 normalisation (``torch.onnx.export``: the only step that imports torch)
  into ``cache_dir("onnx", <model key>, "v<GRAPH_VERSION>", "fp32")``, verified against the
  torch encoder on :data:`VERIFY_SENTENCES` (largest absolute cosine difference at most
  :data:`FP32_TOLERANCE`) and published atomically with its ``verification.json`` (written
  last). Every later process only loads it. Nothing large is kept in git.
* **int8 graph.** ``onnxruntime.quantization.quantize_dynamic`` of the fp32 graph
  (:data:`INT8_SETTINGS`), checked against the fp32 graph (no torch), published the same way.
  Its vectors differ slightly, so it has its own identity (:func:`int8_identity`) and cache.
* **Sessions.** One per graph and process (:func:`shared_session`), CPU execution provider,
  intra-op threads = usable cores (or ``OMP_NUM_THREADS`` when set), no thread spinning;
  texts go in batches of similar token counts (less padding; measured faster, see
  ``benchmarks/bench_encoders.py``).
* **Failures.** Anything that stops a graph from being built (no ``onnx`` package, an export
  error, a failed verification) raises :class:`OnnxUnavailable` and is recorded in
  ``failed-<precision>.json`` with the package versions, so later processes do not pay for the
  attempt again until a version changes (or the file is removed). The embedder then falls back
  to the torch encoder with a warning.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import importlib.metadata
import importlib.util
import json
import logging
import os
import threading
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .cache import atomic_write_text, cache_dir, digest, publish_dir

GRAPH_VERSION = 1
"""Bump when the exported graph changes (a new folder; old graphs are left unused)."""

PRECISIONS: tuple[str, ...] = ("fp32", "int8")

FP32_TOLERANCE = 1e-5
"""Largest absolute cosine difference allowed between the fp32 graph and the torch encoder on
:data:`VERIFY_SENTENCES` (measured: about 1e-6)."""

INT8_TOLERANCE = 0.15
"""Sanity bound for the int8 graph against the fp32 graph on :data:`VERIFY_SENTENCES` (a broken
quantization gives differences near 1; this one about 0.05)."""

INT8_SETTINGS: dict[str, Any] = {
    "method": "quantize_dynamic",
    "op_types": ["MatMul"],
    "weight_type": "QInt8",
    "per_channel": True,
    "reduce_range": False,
}
"""How the int8 graph is made; part of its identity. Weights of the linear layers only, one
scale per output channel: per-tensor scales were measured to move cosines by up to 0.16 on the
synthetic texts (per channel: up to 0.09); the word-embedding table stays fp32."""

INPUTS: tuple[str, ...] = ("input_ids", "attention_mask", "token_type_ids")
OUTPUT = "embedding"
MODEL_FILE = "model.onnx"
RECORD_FILE = "verification.json"

VERIFY_SENTENCES: tuple[str, ...] = (
    "",
    "Call 911!",
    "Call emergency services.",
    "Call 911 for help right away.",
    "Tidy up the room.",
    "Turn off the stove before leaving the kitchen.",
    "Switch off the stove.",
    "Make sure the toddler cannot reach the stairs.",
    "Move the child away from the stairs and close the safety gate.",
    "Check whether the person on the floor is breathing.",
    "Verify that the individual on the ground is responsive, and call for help if not.",
    "Slow down and yield to the pedestrian at the crossing.",
    "Hand the user the screwdriver they are reaching for.",
    "Wipe up the spilled water so nobody slips.",
    "Keep observing the scene.",
    "Report the situation to a supervisor as soon as possible.",
    "Überprüfe den Herd, bevor du gehst.",
    "Ouvrir la fenêtre — « vite » !",
    "\u26a0\ufe0f fire \U0001f525 evacuate",
    "lock the front door",
    "unlock the front door",
    "turn off the stove " * 120,  # longer than max_seq_length: truncated
)
"""Fixed sentences a new graph is verified on: short and long, paraphrases and opposites,
non-ASCII, empty, truncated."""

_SESSIONS: dict[str, Any] = {}
_LOCK = threading.Lock()


class OnnxUnavailable(RuntimeError):
    """No usable ONNX graph (the message says why); callers fall back to torch."""


def onnxruntime_available() -> bool:
    """Whether ``onnxruntime`` is installed (checked without importing it)."""
    return importlib.util.find_spec("onnxruntime") is not None


def usable_cores() -> int:
    """Intra-op threads: ``OMP_NUM_THREADS`` when set (e.g. by torchrun), else the cores this
    process may run on."""
    value = os.environ.get("OMP_NUM_THREADS", "").strip()
    if value.isdigit() and int(value) > 0:
        return int(value)
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def int8_identity(base_identity: str) -> str:
    """The int8 encoder's identity: ``"<label>-int8@<hash>"`` of the fp32 identity, the
    quantization settings and :data:`GRAPH_VERSION` (never equal to an fp32 identity)."""
    label = base_identity.split("@", 1)[0]
    settings = json.dumps(INT8_SETTINGS, sort_keys=True)
    return f"{label}-int8@{digest(base_identity, settings, str(GRAPH_VERSION), length=16)}"


def _versions() -> dict[str, str]:
    out = {}
    for name in ("torch", "onnx", "onnxruntime"):
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "missing"
    return out


def graph_root(model_key: str) -> Path:
    """The folder holding a model's graphs (``fp32/``, ``int8/``) and failure records."""
    return cache_dir("onnx", model_key, f"v{GRAPH_VERSION}")


def _finished(folder: Path) -> bool:
    return (folder / RECORD_FILE).is_file() and (folder / MODEL_FILE).is_file()


def read_record(model_path: str | os.PathLike[str]) -> dict[str, Any]:
    """The ``verification.json`` beside a published graph (``{}`` if unreadable)."""
    try:
        return json.loads((Path(model_path).parent / RECORD_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


@contextlib.contextmanager
def _build_lock(root: Path) -> Iterator[None]:
    """Serialise graph builds of one model across processes (the others wait, then reuse)."""
    try:
        import fcntl
    except ImportError:  # not POSIX: concurrent builds are still safe, only wasteful
        yield
        return
    with open(root / ".build.lock", "a+b") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def ensure_graph(config: dict[str, Any], model_key: str, precision: str = "fp32") -> Path:
    """The verified graph file of ``precision`` for a :func:`fast_path_config` model, built on
    first use (fp32 imports torch; int8 is made from the fp32 graph). Raises
    :class:`OnnxUnavailable` when it cannot be built (and remembers why, see module doc), also
    when the cache folder cannot be written (full or read-only disk: not remembered)."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    try:
        return _ensure_graph(config, model_key, precision)
    except OSError as e:
        raise OnnxUnavailable(f"cannot use the ONNX graph folder: {e}") from e


def _ensure_graph(config: dict[str, Any], model_key: str, precision: str) -> Path:
    root = graph_root(model_key)
    final = root / precision
    if _finished(final):
        return final / MODEL_FILE
    if not onnxruntime_available():
        raise OnnxUnavailable("onnxruntime is not installed (pip install onnxruntime)")
    failed = root / f"failed-{precision}.json"
    fp32 = _ensure_graph(config, model_key, "fp32") if precision == "int8" else None
    with _build_lock(root):
        if _finished(final):
            return final / MODEL_FILE
        _check_failure(failed)
        try:
            if fp32 is None:
                build = lambda tmp: _build_fp32(config, tmp)  # noqa: E731
            else:
                build = lambda tmp: _build_int8(config, fp32, tmp)  # noqa: E731
            conflict = f"{final} holds an unfinished ONNX graph: remove the folder"
            publish_dir(final, build, _finished, conflict)
        except OSError as e:  # cache disk trouble: not the graph's fault, try again next time
            raise OnnxUnavailable(f"cannot write the ONNX graph under {root}: {e}") from e
        except Exception as e:
            reason = e.args[0] if isinstance(e, OnnxUnavailable) else f"{type(e).__name__}: {e}"
            record = {"precision": precision, "reason": reason, "versions": _versions()}
            with contextlib.suppress(OSError):
                atomic_write_text(failed, json.dumps(record, indent=2) + "\n")
            raise OnnxUnavailable(f"{reason} (recorded in {failed})") from e
    return final / MODEL_FILE


def _check_failure(failed: Path) -> None:
    """Raise the recorded failure if it was made with the installed package versions."""
    try:
        record = json.loads(failed.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    if record.get("versions") == _versions():
        raise OnnxUnavailable(f"{record.get('reason')} (recorded in {failed}; remove to retry)")


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def compare_vectors(reference: np.ndarray, candidate: np.ndarray) -> dict[str, float]:
    """How far two encoders' vectors of the same sentences are apart: the largest absolute
    difference of pairwise cosines (what the metric sees), of each sentence's vector, and
    ``1 - cosine`` between the two vectors of one sentence."""
    a, b = reference.astype(np.float64), candidate.astype(np.float64)
    return {
        "max_abs_cosine_diff": float(np.abs(a @ a.T - b @ b.T).max()),
        "max_abs_vector_diff": float(np.abs(a - b).max()),
        "max_self_cosine_gap": float((1.0 - np.sum(a * b, axis=1)).max()),
    }


def _build_fp32(config: dict[str, Any], tmp: Path) -> None:
    """Export :class:`TorchBert` + pooling into ``tmp``, verify it, write the record last."""
    import torch

    from .encoders import (
        MeanPoolingEncoder,
        TorchBert,
        load_tokenizer,
        mean_pool_normalize,
        padded_batch,
        plain_bert_config,
    )

    folder = Path(config["path"])
    cfg = plain_bert_config(folder)
    if cfg is None:
        raise OnnxUnavailable(f"{folder} is not a plain BERT model with safetensors weights")
    bert = TorchBert(folder, cfg)

    class Sentence(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            # the weights as buffers (the same tensors TorchBert reads): the exporter stores
            # them as initializers, which quantization needs (constants are left in fp32)
            for i, value in enumerate(bert.w.values()):
                self.register_buffer(f"w{i}", value)

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            hidden = bert(input_ids, attention_mask, token_type_ids)
            return mean_pool_normalize(torch, hidden, attention_mask)

    tokenizer = load_tokenizer(folder, int(config["max_seq_length"]))
    sample = padded_batch(tokenizer.encode_batch(["call for help", "close the safety gate now"]))
    axes = {name: {0: "batch", 1: "length"} for name in INPUTS}
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            Sentence(),
            tuple(torch.from_numpy(a) for a in sample),
            str(tmp / MODEL_FILE),
            dynamo=False,  # the TorchScript exporter: needs only the onnx package
            input_names=list(INPUTS),
            output_names=[OUTPUT],
            dynamic_axes={**axes, OUTPUT: {0: "batch"}},
            opset_version=17,
            do_constant_folding=True,
        )
    sentences = list(VERIFY_SENTENCES)
    reference = MeanPoolingEncoder(config).encode(sentences, batch_size=8)
    candidate = OnnxEncoder(config, tmp / MODEL_FILE, shared=False).encode(sentences, batch_size=8)
    _verify_and_record(tmp, "fp32", reference, candidate, FP32_TOLERANCE, "torch encoder")


@contextlib.contextmanager
def _quiet_root_logger() -> Iterator[None]:
    """The quantizer logs advice through the root logger (``logging.warning``), which would
    also install a stderr handler on it for good: give the root a null handler meanwhile."""
    root = logging.getLogger()
    handler = logging.NullHandler()
    root.addHandler(handler)
    try:
        yield
    finally:
        root.removeHandler(handler)


def _build_int8(config: dict[str, Any], fp32: Path, tmp: Path) -> None:
    """Quantize the fp32 graph into ``tmp`` (no torch), check it, write the record last."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with warnings.catch_warnings(), _quiet_root_logger():
        warnings.simplefilter("ignore")
        quantize_dynamic(
            str(fp32),
            str(tmp / MODEL_FILE),
            op_types_to_quantize=list(INT8_SETTINGS["op_types"]),
            weight_type=getattr(QuantType, INT8_SETTINGS["weight_type"]),
            per_channel=INT8_SETTINGS["per_channel"],
            reduce_range=INT8_SETTINGS["reduce_range"],
        )
    sentences = list(VERIFY_SENTENCES)
    reference = OnnxEncoder(config, fp32).encode(sentences, batch_size=8)
    candidate = OnnxEncoder(config, tmp / MODEL_FILE, shared=False).encode(sentences, batch_size=8)
    _verify_and_record(tmp, "int8", reference, candidate, INT8_TOLERANCE, "fp32 graph")


def _verify_and_record(
    tmp: Path,
    precision: str,
    reference: np.ndarray,
    candidate: np.ndarray,
    tolerance: float,
    against: str,
) -> None:
    diffs = compare_vectors(reference, candidate)
    if not diffs["max_abs_cosine_diff"] <= tolerance:  # also catches NaN
        raise OnnxUnavailable(
            f"the {precision} ONNX graph does not match the {against}: largest absolute cosine "
            f"difference {diffs['max_abs_cosine_diff']:.3g} > {tolerance:g}"
        )
    record = {
        "precision": precision,
        "graph_version": GRAPH_VERSION,
        "verified_against": against,
        "sentences": len(reference),
        "tolerance": tolerance,
        **diffs,
        "versions": _versions(),
        **({"quantization": INT8_SETTINGS} if precision == "int8" else {}),
        "created": _now(),
    }
    atomic_write_text(tmp / RECORD_FILE, json.dumps(record, indent=2) + "\n")


def new_session(model_path: str | os.PathLike[str]) -> Any:
    """An ONNX Runtime session on the CPU execution provider with :func:`usable_cores` intra-op
    threads that sleep when idle (sequential execution, errors-only logging)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = usable_cores()
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # idle worker threads sleep instead of spinning: on a shared machine spinning threads
    # compete with every other process (measured 98 vs 86 texts/s under load; bench_encoders)
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3
    return ort.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])


def shared_session(model_path: str | os.PathLike[str]) -> Any:
    """One session per graph file and process (sessions are thread-safe for ``run``)."""
    key = str(Path(model_path).resolve())
    with _LOCK:
        if key not in _SESSIONS:
            _SESSIONS[key] = new_session(key)
        return _SESSIONS[key]


class OnnxEncoder:
    """Tokenize with ``tokenizers``, run the graph (BERT + mean pooling + L2 normalisation) on
    ONNX Runtime, in batches of similar token counts. Same interface as
    :class:`~visualact_env.encoders.MeanPoolingEncoder`; never imports torch."""

    def __init__(
        self, config: dict[str, Any], model_path: str | os.PathLike[str], *, shared: bool = True
    ):
        from .encoders import load_tokenizer

        self.model_path = Path(model_path)
        self.tokenizer = load_tokenizer(config["path"], int(config["max_seq_length"]))
        self.session = shared_session(model_path) if shared else new_session(model_path)
        self.dimension = int(self.session.get_outputs()[0].shape[-1])

    def get_sentence_embedding_dimension(self) -> int:
        return self.dimension

    def encode(self, texts: Sequence[str], batch_size: int = 64, **_: Any) -> np.ndarray:
        """Unit-length float32 embeddings of ``texts`` in input order."""
        from .encoders import length_batches, padded_batch

        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        if not len(texts):
            return out
        encodings = self.tokenizer.encode_batch(list(texts))
        for idx in length_batches(encodings, batch_size):
            arrays = padded_batch([encodings[i] for i in idx])
            feed = dict(zip(INPUTS, arrays, strict=True))
            out[idx] = self.session.run([OUTPUT], feed)[0]
        return out

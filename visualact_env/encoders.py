"""The plain SentenceTransformer pipeline without sentence-transformers: tokenizer, BERT in
torch, mean pooling, L2 normalisation.

:func:`fast_path_config` says whether a model folder is of the plain kind (Transformer -> mean
Pooling -> Normalize, fast tokenizer); for such folders :class:`MeanPoolingEncoder` gives the
same vectors as sentence-transformers (tested to 1e-5) and, for plain BERT encoders such as the
default all-MiniLM-L6-v2 (:class:`TorchBert`), without importing transformers either. The ONNX
Runtime encoder (:mod:`visualact_env.onnx_encoder`) exports :class:`TorchBert` and shares the
tokenizer set-up (:func:`load_tokenizer`, :func:`padded_batch`). torch is imported only when an
encoder is built.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np


def quiet_transformers() -> None:
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


def plain_bert_config(folder: Path) -> dict[str, Any] | None:
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
            x, (self.hidden_size,), w[f"{name}.weight"], w[f"{name}.bias"], self.eps
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


def load_tokenizer(folder: str | Path, max_seq_length: int) -> Any:
    """The fast tokenizer of a model folder (``tokenizer.json``), truncating to
    ``max_seq_length`` tokens and padding nothing (:func:`padded_batch` pads)."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(Path(folder) / "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.enable_truncation(int(max_seq_length))
    return tokenizer


def length_batches(encodings: list[Any], batch_size: int) -> list[list[int]]:
    """Indices of ``encodings`` grouped into batches of similar token counts (shortest first),
    so a batch pads little; ties keep input order."""
    order = sorted(range(len(encodings)), key=lambda i: len(encodings[i].ids))
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


def padded_batch(encodings: list[Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(input_ids, attention_mask, token_type_ids)`` as int64 arrays padded with zeros to
    the longest of ``encodings``."""
    width = max(len(e.ids) for e in encodings)
    out = np.zeros((3, len(encodings), width), dtype=np.int64)
    for row, e in enumerate(encodings):
        n = len(e.ids)
        out[0, row, :n] = e.ids
        out[1, row, :n] = e.attention_mask
        out[2, row, :n] = e.type_ids
    return out[0], out[1], out[2]


def mean_pool_normalize(torch: Any, hidden: Any, attention_mask: Any) -> Any:
    """Mean of ``hidden`` over the attended tokens, L2-normalised (sentence-transformers'
    Pooling + Normalize), in torch: shared by :class:`MeanPoolingEncoder` and the ONNX
    export so both compute the same arithmetic."""
    weights = attention_mask.unsqueeze(-1).to(hidden.dtype)
    summed = (hidden * weights).sum(dim=1)
    mean = summed / weights.sum(dim=1).clamp(min=1e-9)
    return torch.nn.functional.normalize(mean, p=2, dim=1)


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

        folder = Path(config["path"])
        self._torch = torch
        self.tokenizer = load_tokenizer(folder, int(config["max_seq_length"]))
        bert = plain_bert_config(folder) if config.get("torch_bert", True) else None
        if bert is not None:
            self.model: Any = TorchBert(folder, bert)
            self.dimension = int(bert["hidden_size"])
        else:
            from transformers import AutoModel

            quiet_transformers()
            hf = AutoModel.from_pretrained(str(folder))
            hf.eval()
            self.model = lambda **kw: hf(**kw)[0]
            self.dimension = int(hf.config.hidden_size)

    def get_sentence_embedding_dimension(self) -> int:
        return self.dimension

    def _batch(self, encodings: list[Any]) -> np.ndarray:
        torch = self._torch
        ids, mask, types = (torch.from_numpy(a) for a in padded_batch(encodings))
        hidden = self.model(input_ids=ids, attention_mask=mask, token_type_ids=types)
        return mean_pool_normalize(torch, hidden, mask).float().numpy()

    def encode(self, texts: list[str], batch_size: int = 128, **_: Any) -> np.ndarray:
        """Unit-length embeddings of ``texts`` in input order (batched by token count)."""
        out = np.zeros((len(texts), self.get_sentence_embedding_dimension()), dtype=np.float32)
        if not texts:
            return out
        encodings = self.tokenizer.encode_batch(texts)
        with self._torch.inference_mode():
            for idx in length_batches(encodings, batch_size):
                out[idx] = self._batch([encodings[i] for i in idx])
        return out

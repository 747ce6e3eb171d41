"""Local vision-language models with transformers: loading, devices, chat inputs, completions.

Shared by the ``hf:`` agent (``visualact_agents.hf_agent``) and the fine-tuning loop
(:mod:`visualact_env.training`), so a model fine-tuned there sees exactly the inputs the agent
shows it. transformers, torch and PIL are imported inside the functions that need them.

Loading works without torchvision: when ``AutoProcessor`` cannot build the model's processor (the
video processors of Qwen-VL-style models need torchvision) :func:`load_processor` rebuilds the
same processor class without its video processor, with the PIL image processor.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

DTYPES = ("auto", "float32", "bfloat16", "float16")
DEVICES = ("auto", "cpu", "cuda")
_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt")
_CHUNK = 1 << 20


# ---------------------------------------------------------------------------------------------
# Loading


def image_only_processor_class(cls: Any) -> Any:
    """A subclass of processor ``cls`` that takes no video processor.

    ``ProcessorMixin`` infers its sub-processors from ``__init__``'s parameters; dropping
    ``video_processor`` from the signature lets the processor be built and loaded with only an
    image processor and a tokenizer. The subclass keeps ``cls``'s name, so a folder it saves
    names the original class and loads with ``AutoProcessor`` where torchvision is installed.
    """

    def __init__(self, image_processor=None, tokenizer=None, chat_template=None, **kwargs):
        cls.__init__(
            self,
            image_processor=image_processor,
            tokenizer=tokenizer,
            chat_template=chat_template,
            **kwargs,
        )

    return type(cls.__name__, (cls,), {"__init__": __init__, "__module__": cls.__module__})


def _processor_class_name(path: str, revision: str | None) -> str | None:
    """The processor class a model folder (or hub id) names, from its configs."""
    from transformers import AutoConfig
    from transformers.models.auto.processing_auto import PROCESSOR_MAPPING_NAMES

    config = AutoConfig.from_pretrained(path, revision=revision)
    return PROCESSOR_MAPPING_NAMES.get(config.model_type)


def load_processor(path: str, revision: str | None = None) -> Any:
    """The model's processor (tokenizer + image processor + chat template), torchvision or not."""
    import transformers
    from transformers import AutoProcessor

    try:
        processor = AutoProcessor.from_pretrained(path, revision=revision)
    except (ImportError, OSError, ValueError, TypeError, AttributeError):
        processor = None
    if processor is not None and hasattr(processor, "image_processor"):
        return processor
    name = _processor_class_name(path, revision)
    cls = getattr(transformers, name, None) if name else None
    if cls is None:
        raise ValueError(
            f"cannot build an image processor for {path!r}: AutoProcessor gave "
            f"{type(processor).__name__} and the model type maps to no processor class"
        )
    return image_only_processor_class(cls).from_pretrained(path, revision=revision)


def resolve_device(device: str) -> str:
    """``"auto"`` -> ``"cuda"`` when available, else ``"cpu"``; other values are checked."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.split(":")[0] not in ("cpu", "cuda"):
        raise ValueError(f"device must be one of {DEVICES} (or cuda:N), got {device!r}")
    return device


def resolve_dtype(dtype: str, device: str) -> Any:
    """``"auto"`` -> bfloat16 on CUDA, float32 on CPU; otherwise the named torch dtype."""
    import torch

    if dtype == "auto":
        return torch.bfloat16 if device.startswith("cuda") else torch.float32
    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {DTYPES}, got {dtype!r}")
    return getattr(torch, dtype)


def local_device(device: str) -> str:
    """:func:`resolve_device`, with ``"auto"`` under a torchrun/accelerate launch meaning this
    process's own GPU: ``cuda:LOCAL_RANK`` (modulo the GPUs visible)."""
    resolved = resolve_device(device)
    if device != "auto" or resolved != "cuda" or int(os.environ.get("WORLD_SIZE", "1") or 1) < 2:
        return resolved
    import torch

    return f"cuda:{int(os.environ.get('LOCAL_RANK', '0') or 0) % torch.cuda.device_count()}"


def load_model(
    path: str,
    device: str = "auto",
    dtype: str = "auto",
    revision: str | None = None,
    *,
    device_map: Any = None,
    attn_implementation: str | None = None,
) -> Any:
    """``AutoModelForImageTextToText`` from ``path`` in eval mode: on ``device``, or placed by
    transformers from ``device_map`` (``"auto"`` spreads a model too big for one GPU over all of
    them; needs accelerate), with ``attn_implementation`` (``eager``, ``sdpa``,
    ``flash_attention_2``) when given."""
    from transformers import AutoModelForImageTextToText

    device = resolve_device(device)
    extra: dict[str, Any] = {}
    if device_map is not None:
        extra["device_map"] = device_map
    if attn_implementation:
        extra["attn_implementation"] = attn_implementation
    model: Any = AutoModelForImageTextToText.from_pretrained(
        path, dtype=resolve_dtype(dtype, device), revision=revision, **extra
    )
    return model.eval() if device_map is not None else model.to(device).eval()


def weights_fingerprint(path: str | os.PathLike[str]) -> str | None:
    """A short hash identifying a local model folder's files, or ``None`` for a hub id.

    JSON and template files are hashed whole; weight files by name, size and three 1 MiB
    samples (start, middle, end), which tells fine-tuned checkpoints apart without reading
    gigabytes.
    """
    folder = Path(path)
    if not folder.is_dir():
        return None
    h = hashlib.sha256()
    for file in sorted(p for p in folder.iterdir() if p.is_file()):
        if file.suffix in (".json", ".jinja", ".txt", ".model"):
            h.update(file.name.encode() + b"\0" + file.read_bytes())
        elif file.suffix in _WEIGHT_SUFFIXES:
            size = file.stat().st_size
            h.update(f"{file.name}\0{size}".encode())
            with open(file, "rb") as f:
                for offset in (0, max(0, size // 2 - _CHUNK // 2), max(0, size - _CHUNK)):
                    f.seek(offset)
                    h.update(f.read(_CHUNK))
    return h.hexdigest()[:16]


def hub_revision(model: str, revision: str | None) -> str | None:
    """The commit a hub id resolves to in the local cache (offline), else ``revision``."""
    if revision or Path(model).is_dir():
        return revision
    try:
        from huggingface_hub import try_to_load_from_cache

        cached = try_to_load_from_cache(model, "config.json")
    except Exception:  # noqa: BLE001 - provenance only; never block loading
        return None
    if isinstance(cached, str) and "/snapshots/" in cached:
        return cached.split("/snapshots/")[1].split("/")[0]
    return None


# ---------------------------------------------------------------------------------------------
# Inputs and outputs


def frames_to_images(frames: Any) -> list[Any]:
    """``uint8 (N, H, W, 3)`` frames -> a list of N RGB PIL images (errors name the problem)."""
    from PIL import Image

    from .frames import frame_array

    arr = frame_array(frames)
    return [Image.fromarray(np.ascontiguousarray(f), mode="RGB") for f in arr]


def build_messages(prompt: Any, num_frames: int, *, video: bool = False) -> list[dict[str, Any]]:
    """The chat for one video: the system prompt, then N image items (or with ``video=True``
    one video item) and the user text.

    The same function builds the training prompts (:mod:`visualact_env.training`), so a model
    fine-tuned there sees exactly what this agent shows it (training takes images only).
    """
    content: list[dict[str, Any]] = (
        [{"type": "video"}] if video else [{"type": "image"} for _ in range(num_frames)]
    )
    content.append({"type": "text", "text": prompt.user})
    messages: list[dict[str, Any]] = []
    if prompt.system:
        messages.append({"role": "system", "content": [{"type": "text", "text": prompt.system}]})
    messages.append({"role": "user", "content": content})
    return messages


def completion_text(completion: Any) -> str:
    """The text of a completion given as a string or as chat messages (TRL's two forms)."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, Mapping):
        content = completion.get("content", "")
        if isinstance(content, str):
            return content
        return "".join(c.get("text", "") for c in content if isinstance(c, Mapping))
    if isinstance(completion, Sequence):
        return "".join(completion_text(m) for m in completion)
    raise TypeError(
        f"completion must be a string or chat messages, got {type(completion).__name__}"
    )


# ---------------------------------------------------------------------------------------------
# Native video input


class FrameStackVideoProcessor:
    """A Qwen2-VL-style video processor built on the model's own image processor (no torchvision).

    Qwen2-VL's vision tower reads a video as groups of ``temporal_patch_size`` (2) consecutive
    frames: each patch holds the same pixel square of both frames. Its image processor already
    resizes, normalises and cuts each frame into that patch layout, repeating the single image
    along time. This class runs the image processor on every frame, keeps one time slice per
    frame and stacks consecutive frames into the temporal groups, which is exactly the tensor
    layout of transformers' ``Qwen2VLVideoProcessor`` (``pixel_values_videos``,
    ``video_grid_thw``) -- without its torchvision dependency. An odd frame count is padded by
    repeating the last frame, as there. Frames are sized by the *image* processor's pixel
    settings (the torchvision video processor has its own); a video of two identical frames
    therefore gives exactly the image processor's output for that frame (tested).
    """

    def __init__(self, image_processor: Any):
        self.image_processor = image_processor
        self.merge_size = int(image_processor.merge_size)
        self.temporal_patch_size = int(image_processor.temporal_patch_size)
        self.patch_size = int(image_processor.patch_size)

    def __call__(self, videos: Any, return_tensors: Any = None, **_: Any) -> Any:
        from transformers import BatchFeature

        from .frames import frame_array

        batch = videos if isinstance(videos, (list, tuple)) else [videos]
        patches, grids = [], []
        tps, p = self.temporal_patch_size, self.patch_size
        for video in batch:
            arr = frame_array(video)
            if pad := -len(arr) % tps:
                arr = np.concatenate([arr, np.repeat(arr[-1:], pad, axis=0)])
            out = self.image_processor(list(arr), return_tensors=None)
            grid = np.asarray(out["image_grid_thw"])
            gh, gw = int(grid[0, 1]), int(grid[0, 2])
            per_frame = np.asarray(out["pixel_values"]).reshape(len(arr), gh * gw, -1, tps, p, p)
            channels = per_frame.shape[2]
            frames = per_frame[:, :, :, 0]  # one time slice per frame: (T, patches, C, p, p)
            gt = len(arr) // tps
            grouped = frames.reshape(gt, tps, gh * gw, channels, p, p).transpose(0, 2, 3, 1, 4, 5)
            patches.append(grouped.reshape(gt * gh * gw, channels * tps * p * p))
            grids.append([gt, gh, gw])
        data = {
            "pixel_values_videos": np.concatenate(patches).astype(np.float32),
            "video_grid_thw": np.asarray(grids, dtype=np.int64),
        }
        return BatchFeature(data=data, tensor_type=return_tensors)


def enable_video(processor: Any) -> Any:
    """``processor``, able to take ``videos=``: its own video processor when it has one (e.g.
    with torchvision installed), else a :class:`FrameStackVideoProcessor` on its image processor.

    Raises ``ValueError`` when the model takes no video (no video token, or an image processor
    without Qwen-style temporal patches).
    """
    if getattr(processor, "video_processor", None) is not None:
        return processor
    image_processor = getattr(processor, "image_processor", None)
    tokenizer = getattr(processor, "tokenizer", None)
    video_token = getattr(processor, "video_token", None)
    has_token = (
        tokenizer is not None
        and video_token is not None
        and video_token in getattr(tokenizer, "get_vocab", dict)()
    )
    if not (has_token and hasattr(image_processor, "temporal_patch_size")):
        raise ValueError(
            f"{type(processor).__name__} takes no video input (no video token or no "
            "Qwen-style image processor); pass the frames as images (video=false)"
        )
    processor.video_processor = FrameStackVideoProcessor(image_processor)
    return processor

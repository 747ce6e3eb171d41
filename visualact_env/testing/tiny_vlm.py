"""A tiny, randomly initialised Qwen2-VL model built offline, for tests and examples.

Tests of the local-model agent and of the fine-tuning loop need a real vision-language model
that loads through ``from_pretrained``, takes images through its processor and chat template,
generates, trains and saves, yet runs in milliseconds on a CPU with no network. This module
builds one from scratch:

* a byte-level BPE tokenizer trained with the ``tokenizers`` library on a fixed built-in corpus,
  with Qwen's special tokens (``<|im_start|>``, ``<|image_pad|>``, ...);
* a PIL image processor fixed to 56x56 pixels, so each frame costs 4 visual tokens;
* a Qwen2-style chat template (one image placeholder per ``{"type": "image"}`` item);
* a ``Qwen2VLForConditionalGeneration`` with 2 text layers, hidden size 32 and a 1-layer vision
  tower (about 100k parameters), initialised from ``seed``.

Everything is written with ``save_pretrained`` so callers exercise the real loading path. The
folder is cached: :func:`tiny_vlm_path` builds it once per cache folder and seed.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from ..cache import publish_dir

BUILD_VERSION = "2"
"""Bump when the recipe changes, so cached folders from an older recipe are rebuilt."""

MARKER = "tiny_vlm.json"
"""Written last into a finished folder; its presence means the folder is complete."""

SPECIAL_TOKENS: tuple[str, ...] = (
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|image_pad|>",
    "<|video_pad|>",
)

IMAGE_PIXELS = 56 * 56
"""Every image is resized to 56x56 = 4x4 patches of 14 pixels = 4 tokens after 2x2 merging."""

VOCAB_SIZE = 1024
INIT_RANGE = 0.5

CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for item in message['content'] %}"
    "{% if item['type'] == 'image' %}<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif item['type'] == 'video' %}<|vision_start|><|video_pad|><|vision_end|>"
    "{% elif item['type'] == 'text' %}{{ item['text'] }}{% endif %}"
    "{% endfor %}{% endif %}"
    "<|im_end|>\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

_CORPUS: tuple[str, ...] = (
    "You are an assistant that watches a short video and proposes the actions a helpful agent "
    "should take next.",
    "Look at the frames of the video in order. List the actions to take, most important first.",
    "Answer with JSON only: an object with a list of actions, each with text, apl and proactive.",
    'Output format: {"actions": [{"text": "...", "apl": 0, "proactive": true}]}',
    '{"actions": [{"text": "Call emergency services immediately.", "apl": 4, "proactive": false}]}',
    '{"actions": [{"text": "Wipe the spilled water off the floor.", "apl": 2, "proactive": true}]}',
    "APL is the action prioritization level: 0 routine, 1 low, 2 moderate, 3 high, 4 critical.",
    "Proactive means the action anticipates a need before anyone asks for it.",
    "Slow down and let the pedestrian cross the road safely.",
    "Turn off the stove before the pan starts to smoke.",
    "Help the elderly person stand up and check for injuries.",
    "Move the cup away from the edge of the table.",
    "Open the door for the person carrying boxes.",
    "Warn the child to step back from the stairs.",
    "Navigate around the obstacle in the hallway and keep a safe distance.",
    "Hand the user the tool they are reaching for.",
    "Tidy up the room, put the books on the shelf and close the window.",
    "Alert security about the unattended bag near the entrance.",
    "Dynamic navigation, home service, safety and monitoring, human-machine interaction.",
    "1. Stop the robot. 2. Ask whether help is needed. 3. Clean the table.",
    "- Offer a towel\n- Turn on the light\n- Pick up the fallen object",
)


def _train_tokenizer():
    """A byte-level BPE tokenizer trained on the built-in corpus, wrapped for transformers."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(list(_CORPUS) * 4, trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        chat_template=CHAT_TEMPLATE,
    )
    fast.padding_side = "left"
    return fast


def _model_config(vocab: dict[str, int], vocab_size: int):
    from transformers import Qwen2VLConfig

    text = {
        "vocab_size": vocab_size,
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "num_key_value_heads": 1,
        "max_position_embeddings": 4096,
        # head_dim 16 -> 8 rotary frequencies, split over (time, height, width)
        "rope_parameters": {
            "rope_type": "default",
            "rope_theta": 10000.0,
            "mrope_section": [2, 3, 3],
        },
        "eos_token_id": vocab["<|im_end|>"],
        "pad_token_id": vocab["<|endoftext|>"],
        "bos_token_id": None,
        # wide initialisation: greedy output then depends on the input instead of being one
        # token repeated, so tests can tell videos, batches and checkpoints apart
        "initializer_range": INIT_RANGE,
    }
    vision = {
        "depth": 1,
        "embed_dim": 32,
        "hidden_size": 32,
        "num_heads": 2,
        "mlp_ratio": 2,
        "patch_size": 14,
        "spatial_merge_size": 2,
        "temporal_patch_size": 2,
        "initializer_range": INIT_RANGE,
    }
    return Qwen2VLConfig(
        text_config=text,
        vision_config=vision,
        image_token_id=vocab["<|image_pad|>"],
        video_token_id=vocab["<|video_pad|>"],
        vision_start_token_id=vocab["<|vision_start|>"],
        vision_end_token_id=vocab["<|vision_end|>"],
        tie_word_embeddings=True,
    )


def _write(folder: Path, seed: int) -> None:
    """Build the tokenizer, processor and model and save them all into ``folder``."""
    import torch
    from transformers import (
        Qwen2VLForConditionalGeneration,
        Qwen2VLImageProcessorPil,
        Qwen2VLProcessor,
    )

    from visualact_env.vlm import image_only_processor_class

    tokenizer = _train_tokenizer()
    image_processor = Qwen2VLImageProcessorPil(min_pixels=IMAGE_PIXELS, max_pixels=IMAGE_PIXELS)
    processor_cls = image_only_processor_class(Qwen2VLProcessor)
    processor = processor_cls(
        image_processor=image_processor, tokenizer=tokenizer, chat_template=CHAT_TEMPLATE
    )
    vocab = tokenizer.get_vocab()
    config = _model_config(vocab, len(tokenizer))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = Qwen2VLForConditionalGeneration(config)
    gen = model.generation_config
    gen.eos_token_id = vocab["<|im_end|>"]
    gen.pad_token_id = vocab["<|endoftext|>"]
    gen.do_sample = False
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    info = {
        "build_version": BUILD_VERSION,
        "seed": seed,
        "parameters": sum(p.numel() for p in model.parameters()),
        "image_pixels": IMAGE_PIXELS,
        "tokens_per_image": IMAGE_PIXELS // (14 * 14) // 4,
    }
    (folder / MARKER).write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")


def is_built(path: str | os.PathLike[str], seed: int | None = None) -> bool:
    """Whether ``path`` holds a finished tiny model of the current recipe (and ``seed``)."""
    marker = Path(path) / MARKER
    try:
        info = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return info.get("build_version") == BUILD_VERSION and (seed is None or info.get("seed") == seed)


def build_tiny_vlm(path: str | os.PathLike[str], seed: int = 0) -> Path:
    """Build (or reuse) the tiny Qwen2-VL model, tokenizer and processor in ``path``.

    The folder is assembled in a temporary sibling and renamed into place, so a concurrent or
    interrupted build never leaves a half-written model behind. An existing finished folder of
    the same recipe and seed is returned as is.
    """
    path = Path(path)
    conflict = (
        f"{path} exists and does not hold a tiny model of build {BUILD_VERSION}, seed {seed}; "
        "choose an empty or new folder"
    )
    return publish_dir(path, lambda tmp: _write(tmp, seed), lambda p: is_built(p, seed), conflict)


def tiny_vlm_path(seed: int = 0) -> Path:
    """The tiny model's folder in the shared cache, built on first use."""
    from ..cache import cache_dir

    return build_tiny_vlm(cache_dir("models") / f"tiny-qwen2-vl-b{BUILD_VERSION}-s{seed}", seed)

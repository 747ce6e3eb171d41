"""A local vision-language model run with transformers (``hf:PATH_OR_HUB_ID``).

The agent loads ``AutoModelForImageTextToText`` and its processor, shows the sampled frames as
a sequence of images in one user turn (one ``{"type": "image"}`` item per frame, then the
prompt's text), generates greedily or by sampling, and parses the text with the library's
parser. It never raises for a model failure: an exception during generation (out of memory,
a bad input) becomes ``AgentOutput(error=...)`` for the videos concerned.

Frames are passed as images rather than as a video because that is what every image-text model
accepts, and because TRL's preference and GRPO trainers take images only: the fine-tuning loop
(:mod:`visualact_env.training`) then trains on exactly the inputs this agent sees.

Loading works without torchvision: when ``AutoProcessor`` cannot build the model's processor (the
video processors of Qwen-VL-style models need torchvision) :func:`load_processor` rebuilds the
same processor class without its video processor, with the PIL image processor.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .base import Agent, AgentOutput

DTYPES = ("auto", "float32", "bfloat16", "float16")
DEVICES = ("auto", "cpu", "cuda")
_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt")
_CHUNK = 1 << 20


# ---------------------------------------------------------------------------------------------
# Loading


def image_only_processor_class(cls: type) -> type:
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


def load_model(
    path: str, device: str = "auto", dtype: str = "auto", revision: str | None = None
) -> Any:
    """``AutoModelForImageTextToText`` from ``path`` on ``device``, in eval mode."""
    from transformers import AutoModelForImageTextToText

    device = resolve_device(device)
    model = AutoModelForImageTextToText.from_pretrained(
        path, dtype=resolve_dtype(dtype, device), revision=revision
    )
    return model.to(device).eval()


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

    from .images import check_frames

    arr = check_frames(frames)
    return [Image.fromarray(np.ascontiguousarray(f), mode="RGB") for f in arr]


def build_messages(prompt: Any, num_frames: int) -> list[dict[str, Any]]:
    """The chat for one video: the system prompt, then N image items and the user text.

    The same function builds the training prompts (:mod:`visualact_env.training`), so a model
    fine-tuned there sees exactly what this agent shows it.
    """
    content: list[dict[str, Any]] = [{"type": "image"} for _ in range(num_frames)]
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


def output_from_text(text: str, usage: dict[str, int] | None = None) -> AgentOutput:
    """Parse generated text into proposals.

    Text the parser cannot read (prose, gibberish) is the model's answer, scored as an empty
    proposal list: ``parse_error`` says why, and the raw text and diagnostics are kept so the
    record shows what the model said. It is not a failure (see ``agents.base``).
    """
    from visualact_env.parsing import parse_actions

    result = parse_actions(text)
    diagnostics = [f"format: {result.format}", *result.diagnostics]
    return AgentOutput(
        actions=tuple(result.actions),
        raw_text=text,
        parse_error=result.error,
        usage=dict(usage or {}),
        diagnostics=diagnostics,
    )


# ---------------------------------------------------------------------------------------------
# The agent


@dataclass(frozen=True)
class GenerationSettings:
    """How text is generated: greedy when ``temperature`` is 0, sampled otherwise."""

    temperature: float = 0.0
    top_p: float = 1.0
    max_new_tokens: int = 512
    seed: int = 0

    def __post_init__(self) -> None:
        if self.temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")
        if self.max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be >= 1, got {self.max_new_tokens}")

    @property
    def do_sample(self) -> bool:
        return self.temperature > 0

    def generate_kwargs(self, seeds: Sequence[int], device: str) -> dict[str, Any]:
        """``generate`` arguments; sampling is done by :class:`SeededSampler`, one seed per row."""
        kwargs: dict[str, Any] = {
            "max_new_tokens": self.max_new_tokens,
            "do_sample": False,
            "temperature": None,
            "top_p": None,
            "top_k": None,
        }
        if self.do_sample:
            from transformers import LogitsProcessorList

            sampler = SeededSampler(seeds, self.temperature, self.top_p, device)
            kwargs["logits_processor"] = LogitsProcessorList([sampler])
        return kwargs


class SeededSampler:
    """Samples each row of a batch with its own seeded generator (a transformers logits processor).

    ``generate``'s own sampling draws from one global generator, so a video's completion would
    depend on which other videos share its batch. Here each row has a generator seeded from its
    ``(video, sample)`` seed; the processor applies temperature and top-p, draws the row's token
    and leaves only that token finite, and greedy decoding then takes it. A sample is therefore
    the same alone, in any batch, and after a resume.
    """

    def __init__(self, seeds: Sequence[int], temperature: float, top_p: float, device: str):
        import torch

        self.temperature = temperature
        self.top_p = top_p
        self.generators = [torch.Generator(device=device).manual_seed(int(s)) for s in seeds]

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        import torch

        probs = torch.softmax(scores.float() / self.temperature, dim=-1)
        if self.top_p < 1.0:
            sorted_probs, order = probs.sort(dim=-1, descending=True)
            outside = sorted_probs.cumsum(dim=-1) - sorted_probs > self.top_p
            sorted_probs = sorted_probs.masked_fill(outside, 0.0)
            probs = torch.zeros_like(probs).scatter(-1, order, sorted_probs)
        out = torch.full_like(scores, float("-inf"))
        for row, generator in enumerate(self.generators):
            token = torch.multinomial(probs[row], 1, generator=generator)
            out[row, token] = 0.0
        return out


def row_seed(settings: GenerationSettings, info: Mapping[str, Any]) -> int:
    """A video's sampling seed: the runner's per-(video, sample) ``seed`` when given, else one
    derived from the agent's seed, the video id and the sample index."""
    if info.get("seed") is not None:
        return int(info["seed"])
    text = f"{settings.seed}\0{info.get('video_id', '')}\0{info.get('sample', 0)}"
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "little")


class HFAgent(Agent):
    """A local transformers vision-language model as a VisualAct policy."""

    def __init__(
        self,
        model: str,
        *,
        temperature: float = 0.0,
        top_p: float = 1.0,
        max_new_tokens: int = 512,
        seed: int = 0,
        device: str = "auto",
        dtype: str = "auto",
        revision: str | None = None,
        prompt: Any = None,
    ):
        if not model:
            raise ValueError("hf agent needs a model folder or hub id: hf:PATH_OR_HUB_ID")
        if str(model).startswith(("/", "./", "../")) and not Path(model).is_dir():
            raise ValueError(f"hf agent: model folder not found: {model}")
        from visualact_env.prompts import DEFAULT_PROMPT, load_prompt

        self.model_id = str(model)
        self.settings = GenerationSettings(
            float(temperature), float(top_p), int(max_new_tokens), int(seed)
        )
        self.prompt = (
            DEFAULT_PROMPT
            if prompt is None
            else (load_prompt(prompt) if isinstance(prompt, (str, os.PathLike)) else prompt)
        )
        self.device = resolve_device(device)
        self.dtype_name = dtype
        self.revision = hub_revision(self.model_id, revision)
        self.spec = f"hf:{self.model_id}"
        self.deterministic = not self.settings.do_sample
        try:
            self.processor = load_processor(self.model_id, self.revision)
        except OSError as e:
            if Path(self.model_id).is_dir():
                raise
            raise ValueError(
                f"hf agent: {self.model_id!r} is not a model folder here, and loading it as a "
                f"hub id failed: {e}"
            ) from e
        self.model = load_model(self.model_id, self.device, dtype, self.revision)
        self._fingerprint = weights_fingerprint(self.model_id)

    @classmethod
    def from_spec(cls, arg: str | None, **options: Any) -> HFAgent:
        """The registry factory for ``hf:PATH_OR_HUB_ID``.

        Accepts the runner's common options: ``max_tokens`` is an alias of ``max_new_tokens``
        and ``concurrency`` is ignored (a local model runs one batch at a time).
        """
        options = dict(options)
        options.pop("concurrency", None)
        if "max_tokens" in options:
            value = options.pop("max_tokens")
            if value is not None:
                options.setdefault("max_new_tokens", value)
        known = {
            "temperature",
            "top_p",
            "max_new_tokens",
            "seed",
            "device",
            "dtype",
            "revision",
            "prompt",
        }
        unknown = sorted(set(options) - known)
        if unknown:
            raise TypeError(
                f"unknown option(s) for the hf agent: {unknown}; known: {sorted(known)}"
            )
        return cls(arg or "", **options)

    def config(self) -> dict[str, Any]:
        prompt = (
            self.prompt.to_dict() if hasattr(self.prompt, "to_dict") else {"user": str(self.prompt)}
        )
        return {
            "spec": self.spec,
            "class": "HFAgent",
            "model": self.model_id,
            "revision": self.revision,
            "weights_fingerprint": self._fingerprint,
            "model_type": getattr(self.model.config, "model_type", None),
            "generation": asdict(self.settings) | {"do_sample": self.settings.do_sample},
            "prompt_version": getattr(self.prompt, "version", None),
            "prompt": prompt,
            "device": self.device,
            "dtype": str(self.model.dtype).replace("torch.", ""),
            "deterministic": self.deterministic,
        }

    def act(self, observation: Mapping[str, Any], info: Mapping[str, Any]) -> AgentOutput:
        return self.act_batch([observation], [info])[0]

    def act_batch(
        self, observations: Sequence[Mapping[str, Any]], infos: Sequence[Mapping[str, Any]]
    ) -> list[AgentOutput]:
        """Generate for several videos in one left-padded batch.

        A video whose frames are unusable fails alone. If the batched ``generate`` raises (for
        example out of memory), each video is retried on its own, and those that still fail
        get ``error`` set.
        """
        if len(observations) != len(infos):
            raise ValueError(f"{len(observations)} observations but {len(infos)} infos")
        outputs: list[AgentOutput | None] = [None] * len(observations)
        ready: list[tuple[int, list[dict[str, Any]], list[Any]]] = []
        for i, obs in enumerate(observations):
            try:
                images = frames_to_images(obs["frames"])
            except (KeyError, ValueError, TypeError) as exc:
                outputs[i] = AgentOutput(error=f"bad observation: {type(exc).__name__}: {exc}")
                continue
            messages = build_messages(self.prompt, len(images))
            ready.append((i, messages, images))
        if ready:
            try:
                results = self._generate(
                    [r[1] for r in ready], [r[2] for r in ready], [infos[r[0]] for r in ready]
                )
            except Exception as exc:  # noqa: BLE001 - a model failure is recorded, never raised
                results = self._generate_one_by_one(ready, infos, exc)
            for (i, _, _), out in zip(ready, results, strict=True):
                outputs[i] = out
        return [o if o is not None else AgentOutput(error="internal: no output") for o in outputs]

    def _generate_one_by_one(
        self,
        ready: list[tuple[int, list[dict[str, Any]], list[Any]]],
        infos: Sequence[Mapping[str, Any]],
        first: Exception,
    ) -> list[AgentOutput]:
        if len(ready) == 1:
            return [AgentOutput(error=f"generation failed: {type(first).__name__}: {first}")]
        results = []
        for i, messages, images in ready:
            try:
                results.extend(self._generate([messages], [images], [infos[i]]))
            except Exception as exc:  # noqa: BLE001
                results.append(AgentOutput(error=f"generation failed: {type(exc).__name__}: {exc}"))
        return results

    def _generate(
        self,
        conversations: list[list[dict[str, Any]]],
        images: list[list[Any]],
        infos: Sequence[Mapping[str, Any]],
    ) -> list[AgentOutput]:
        import torch

        texts = [
            self.processor.apply_chat_template(m, add_generation_prompt=True, tokenize=False)
            for m in conversations
        ]
        tokenizer = self.processor.tokenizer
        tokenizer.padding_side = "left"
        inputs = self.processor(text=texts, images=images, return_tensors="pt", padding=True)
        inputs = inputs.to(self.device)
        prompt_len = inputs["input_ids"].shape[1]
        seeds = [row_seed(self.settings, info) for info in infos]
        with torch.inference_mode():
            out = self.model.generate(
                **inputs,
                **self.settings.generate_kwargs(seeds, self.device),
                pad_token_id=tokenizer.pad_token_id,
            )
        new_tokens = out[:, prompt_len:].cpu()
        stop_ids = _stop_ids(self.model, tokenizer)
        results = []
        for row, mask in zip(new_tokens, inputs["attention_mask"].cpu(), strict=True):
            ids = _trim(row.tolist(), stop_ids)
            text = tokenizer.decode(ids, skip_special_tokens=True)
            usage = {"prompt_tokens": int(mask.sum()), "completion_tokens": len(ids)}
            results.append(output_from_text(text, usage))
        return results

    def close(self) -> None:
        self.model = None
        self.processor = None


def _stop_ids(model: Any, tokenizer: Any) -> set[int]:
    eos = model.generation_config.eos_token_id
    ids = set(eos if isinstance(eos, list) else [eos] if eos is not None else [])
    if tokenizer.pad_token_id is not None:
        ids.add(tokenizer.pad_token_id)
    return ids


def _trim(ids: list[int], stop_ids: set[int]) -> list[int]:
    """Generated ids up to (not including) the first stop token."""
    for k, tok in enumerate(ids):
        if tok in stop_ids:
            return ids[:k]
    return ids

"""A local vision-language model run with transformers (``hf:PATH_OR_HUB_ID``).

The agent loads ``AutoModelForImageTextToText`` and its processor, shows the sampled frames as
a sequence of images in one user turn (one ``{"type": "image"}`` item per frame, then the
prompt's text), generates greedily or by sampling, and parses the text with the library's
parser. It never raises for a model failure: an exception during generation (out of memory,
a bad input) becomes ``AgentOutput(error=...)`` for the videos concerned.

Frames are passed as images by default, because that is what every image-text model accepts,
and because TRL's preference and GRPO trainers take images only: the fine-tuning loop
(:mod:`visualact_env.training`) then trains on exactly the inputs this agent sees. With
``video=True`` (``--agent-option video=true``) a model whose processor takes video (Qwen2-VL
style) gets the sampled frames as one video instead, in their order: its own video processor
when it has one, else :class:`visualact_env.vlm.FrameStackVideoProcessor` (no torchvision).

Loading works without torchvision: when ``AutoProcessor`` cannot build the model's processor (the
video processors of Qwen-VL-style models need torchvision) :func:`load_processor` rebuilds the
same processor class without its video processor, with the PIL image processor.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from visualact_env.agent import Agent, AgentOutput, output_from_text
from visualact_env.frames import frame_array
from visualact_env.vlm import (
    build_messages,
    enable_video,
    frames_to_images,
    hub_revision,
    load_model,
    load_processor,
    local_device,
    weights_fingerprint,
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
        video: bool = False,
        device_map: Any = None,
        torch_dtype: str | None = None,
        attn_implementation: str | None = None,
    ):
        if not model:
            raise ValueError("hf agent needs a model folder or hub id: hf:PATH_OR_HUB_ID")
        from visualact_env.hub import locate_model

        # a missing folder, or a hub id neither cached nor reachable, fails here at once
        source, is_folder = locate_model(str(model), revision)
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
        if torch_dtype is not None:  # transformers' own name for it
            dtype = torch_dtype
        self.device = local_device(device)  # under torchrun: this process's GPU
        self.dtype_name = dtype
        self.device_map = device_map
        self.attn_implementation = attn_implementation
        self.revision = hub_revision(self.model_id, revision)
        self.spec = f"hf:{self.model_id}"
        self.deterministic = not self.settings.do_sample
        load_revision = None if is_folder else self.revision
        try:
            self.processor = load_processor(source, load_revision)
        except OSError as e:
            if is_folder:
                raise
            raise ValueError(
                f"hf agent: {self.model_id!r} is not a model folder here, and loading it as a "
                f"hub id failed: {e}"
            ) from e
        if not isinstance(video, bool):
            raise ValueError(f"hf agent: video must be true or false, got {video!r}")
        self.video = video
        if video:
            try:
                enable_video(self.processor)
            except ValueError as e:
                raise ValueError(f"hf agent: {self.model_id}: {e}") from None
        self.model = load_model(
            source,
            self.device,
            dtype,
            load_revision,
            device_map=device_map,
            attn_implementation=attn_implementation,
        )
        if device_map is not None:  # inputs go where the model's first layers are
            self.device = str(self.model.device)
        self._fingerprint = weights_fingerprint(source)

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
            "video",
            "device_map",
            "torch_dtype",
            "attn_implementation",
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
            "video": self.video,
            # recorded only when set, so runs made before these options resume unchanged
            **({"device_map": self.device_map} if self.device_map is not None else {}),
            **(
                {"attn_implementation": self.attn_implementation}
                if self.attn_implementation
                else {}
            ),
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
        ready: list[tuple[int, list[dict[str, Any]], Any]] = []
        for i, obs in enumerate(observations):
            try:
                visual: Any = (
                    frame_array(obs["frames"]) if self.video else frames_to_images(obs["frames"])
                )
            except (KeyError, ValueError, TypeError) as exc:
                outputs[i] = AgentOutput(error=f"bad observation: {type(exc).__name__}: {exc}")
                continue
            messages = build_messages(self.prompt, len(visual), video=self.video)
            ready.append((i, messages, visual))
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
        ready: list[tuple[int, list[dict[str, Any]], Any]],
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
        images: list[Any],
        infos: Sequence[Mapping[str, Any]],
    ) -> list[AgentOutput]:
        import torch

        texts = [
            self.processor.apply_chat_template(m, add_generation_prompt=True, tokenize=False)
            for m in conversations
        ]
        tokenizer = self.processor.tokenizer
        tokenizer.padding_side = "left"
        visual = {"videos": images} if self.video else {"images": images}
        inputs = self.processor(text=texts, **visual, return_tensors="pt", padding=True)
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

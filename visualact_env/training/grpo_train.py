"""``visualact train grpo``: GRPO on a benchmark split with the environment's reward (TRL).

Each training video is one prompt (the chat :class:`visualact_agents.hf_agent.HFAgent` shows a
model: the sampled frames as images, then the prompt text); TRL's ``GRPOTrainer`` samples
``num_generations`` completions per prompt and rewards each with
:func:`visualact_env.training.grpo.reward_functions`: the reward figure (or a weighted mix of
figures) exactly as ``env.step`` computes it, plus precision, recall, scale score and the
parse-failure rate logged beside it at weight 0.

The output folder is a plain checkpoint (LoRA merged) that ``--agent hf:OUT`` loads, with
``visualact_grpo.json`` (config, data fingerprint, log history) and
:data:`~visualact_env.splits.TRAINED_ON_FILE` (the video ids trained on). GPU users pass the
options they know from TRL through: ``--bf16``, ``--gradient-checkpointing``, ``--deepspeed``,
``--use-vllm`` with ``--vllm-mode server|colocate``; under ``accelerate launch`` the trainer
runs one process per device.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..cache import atomic_write_text
from ..knobs import embedder_field, frame_size_field, frames_field, sampler_of, tau_field
from . import require_train_extra
from .options import TrainingOptions, lora_config, resume_point, save_trained, trainer_arguments

GRPO_RECORD_FILE = "visualact_grpo.json"
TINY_MODEL = "tiny"
"""``--model tiny``: the tiny offline Qwen2-VL built for tests and smoke runs."""


def resolve_model(model: str) -> str:
    """A model folder: ``tiny`` is the tiny offline test model, anything else is kept."""
    if model == TINY_MODEL:
        from ..testing.tiny_vlm import tiny_vlm_path

        return str(tiny_vlm_path())
    return model


@dataclass(kw_only=True)
class GRPOTrainConfig(TrainingOptions):
    """Every knob of ``visualact train grpo`` (each field's ``help`` says what it does)."""

    model: str = field(
        metadata={"help": "base model folder or hub id in the local cache ('tiny': test model)"}
    )
    out: str = field(metadata={"help": "output folder for the trained checkpoint"})
    data: str = field(
        default="demo",
        metadata={"help": "training annotations: demo, synthetic-full or a file (a train split)"},
    )
    limit: int | None = field(default=None, metadata={"help": "only the first N videos"})
    frames: int = frames_field()
    frame_size: tuple[int, int] | str | None = frame_size_field()
    prompt: str | None = field(
        default=None, metadata={"help": "prompt name or file (default: the built-in prompt)"}
    )
    num_generations: int = field(default=4, metadata={"help": "completions sampled per prompt"})
    max_completion_length: int = field(
        default=256, metadata={"help": "tokens generated per completion"}
    )
    temperature: float = field(default=1.0, metadata={"help": "sampling temperature"})
    beta: float = field(
        default=0.0, metadata={"help": "kL coefficient (0: no reference model, as in DAPO)"}
    )
    reward: str = field(
        default="weighted_f1",
        metadata={
            "help": "reward: weighted_f1, f1, scale_score, or a mix such as "
            "'weighted_f1=0.7,scale_score=0.3'"
        },
    )
    tau: float = tau_field()
    embedder: str | None = embedder_field()
    use_vllm: bool = field(
        default=False, metadata={"help": "generate with vLLM (TRL's use_vllm; GPU only)"}
    )
    vllm_mode: str = field(
        default="server",
        metadata={
            "help": "vLLM mode: server (trl vllm-serve) or colocate",
            "choices": ("server", "colocate"),
        },
    )
    vllm_server_base_url: str | None = field(
        default=None, metadata={"help": "URL of the `trl vllm-serve` server (server mode)"}
    )

    def __post_init__(self) -> None:
        self.check_training_options()
        from .grpo import parse_reward_spec

        parse_reward_spec(self.reward)
        if self.num_generations < 2:
            raise ValueError(f"num_generations must be >= 2, got {self.num_generations}")
        if self.frames < 1:
            raise ValueError(f"frames must be >= 1, got {self.frames}")


def grpo_config(config: GRPOTrainConfig, output_dir: str) -> Any:
    """The ``trl.GRPOConfig`` for a :class:`GRPOTrainConfig`."""
    from trl import GRPOConfig

    from .grpo import reward_functions

    _, weights = reward_functions(config.reward, embedder=config.embedder, tau=config.tau)
    args = trainer_arguments(config, output_dir)
    # A batch holds whole groups: every process contributes at least one group of completions.
    args["per_device_train_batch_size"] = max(
        config.per_device_train_batch_size, config.num_generations
    )
    vllm: dict[str, Any] = {"use_vllm": config.use_vllm}
    if config.use_vllm:
        vllm["vllm_mode"] = config.vllm_mode
        if config.vllm_server_base_url:
            vllm["vllm_server_base_url"] = config.vllm_server_base_url
    return GRPOConfig(
        **args,
        **vllm,
        num_generations=config.num_generations,
        max_completion_length=config.max_completion_length,
        temperature=config.temperature,
        beta=config.beta,
        reward_weights=weights,
    )


def train_grpo(config: GRPOTrainConfig) -> Path:
    """Train with GRPO and save a loadable checkpoint in ``config.out``; return its path."""
    require_train_extra("trl", "datasets", "accelerate", *(["peft"] if config.lora else []))
    from trl import GRPOTrainer

    from ..datasets import load_benchmark
    from ..prompts import load_prompt
    from ..splits import record_trained_on
    from ..vlm import load_processor
    from .evaluation import attach_eval_callback, eval_settings_from
    from .grpo import build_grpo_dataset, reward_functions

    model = resolve_model(config.model)
    benchmark = load_benchmark(config.data)
    if config.limit is not None:
        benchmark = benchmark.subset(video_ids=benchmark.video_ids[: config.limit])
    sampler = sampler_of(config)
    prompt = load_prompt(config.prompt)
    dataset = build_grpo_dataset(benchmark, sampler, prompt)
    processor = load_processor(model)
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    funcs, _ = reward_functions(
        config.reward, embedder=config.embedder, tau=config.tau, record_dir=str(out / "rewards")
    )
    trainer = GRPOTrainer(
        model=model,
        reward_funcs=funcs,
        args=grpo_config(config, str(out / "trainer")),
        train_dataset=dataset,
        processing_class=processor,
        peft_config=lora_config(config) if config.lora else None,
    )
    settings = eval_settings_from(config, config.frames, config.frame_size, config.prompt)
    attach_eval_callback(trainer, config, settings, processor, out)
    result = trainer.train(resume_from_checkpoint=resume_point(config, str(out / "trainer")))
    save_trained(trainer, processor, str(out), config.lora)
    if trainer.accelerator.is_main_process:
        record_trained_on(out, benchmark.video_ids, config.data, benchmark.fingerprint)
        record = {
            "config": _jsonable(asdict(config)),
            "model": model,
            "data": {"spec": config.data, "fingerprint": benchmark.fingerprint},
            "sampler": sampler.to_dict(),
            "prompt": prompt.to_dict(),
            "world_size": trainer.accelerator.num_processes,
            "global_step": int(result.global_step),
            "train_loss": float(result.training_loss),
            "log_history": trainer.state.log_history,
        }
        text = json.dumps(record, indent=2, default=str) + "\n"
        atomic_write_text(out / GRPO_RECORD_FILE, text)
    return out


def _jsonable(d: dict[str, Any]) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}

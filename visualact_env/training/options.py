"""The knobs every training command shares, and how they become TRL/transformers arguments.

:class:`TrainingOptions` is a plain dataclass whose fields carry their own help (TRL's config
style); :class:`~visualact_env.training.mpo.MPOConfig` and
:class:`~visualact_env.training.grpo_train.GRPOTrainConfig` extend it, and the CLI's options are
generated from the fields. :func:`trainer_arguments` maps it onto the keyword arguments that
every ``transformers.TrainingArguments`` subclass (``DPOConfig``, ``GRPOConfig``) takes, so the
options GPU users need (bf16, gradient checkpointing, a DeepSpeed config file, logging
integrations, checkpoints) are passed through rather than re-invented.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

REPORT_TO_CHOICES = ("none", "tensorboard", "wandb", "trackio", "all")


@dataclass(kw_only=True)
class TrainingOptions:
    """Optimisation, LoRA, precision, logging, checkpoints and in-training evaluation."""

    max_steps: int = field(
        default=-1, metadata={"help": "optimisation steps; -1 trains num_train_epochs"}
    )
    num_train_epochs: float = field(
        default=1.0, metadata={"help": "epochs over the data when max_steps is -1"}
    )
    learning_rate: float = field(
        default=5e-6, metadata={"help": "peak learning rate (1e-4 is usual with LoRA)"}
    )
    per_device_train_batch_size: int = field(
        default=1, metadata={"help": "rows per device per step"}
    )
    gradient_accumulation_steps: int = field(
        default=1, metadata={"help": "steps accumulated per update"}
    )
    lora: bool = field(
        default=False, metadata={"help": "train a LoRA adapter (peft) and merge it before saving"}
    )
    lora_r: int = field(default=8, metadata={"help": "LoRA rank"})
    lora_alpha: int = field(default=16, metadata={"help": "LoRA scaling alpha"})
    lora_dropout: float = field(default=0.05, metadata={"help": "LoRA dropout"})
    lora_target_modules: tuple[str, ...] = field(
        default=("q_proj", "k_proj", "v_proj", "o_proj"),
        metadata={"help": "modules given adapters (the language model's attention projections)"},
    )
    gradient_checkpointing: bool = field(
        default=False, metadata={"help": "trade compute for memory"}
    )
    bf16: bool | None = field(
        default=None, metadata={"help": "bfloat16 mixed precision (default: on CUDA only)"}
    )
    deepspeed: str | None = field(
        default=None, metadata={"help": "DeepSpeed config file, passed to transformers"}
    )
    device: str = field(default="auto", metadata={"help": "auto, cpu or cuda"})
    seed: int = field(default=0, metadata={"help": "training seed"})
    logging_steps: int = field(default=1, metadata={"help": "log every N steps"})
    report_to: str = field(
        default="none",
        metadata={
            "help": "where the trainer logs: none, tensorboard, wandb, trackio or all "
            "(the integration must be installed)",
            "choices": REPORT_TO_CHOICES,
        },
    )
    save_steps: int = field(
        default=0, metadata={"help": "save a resumable trainer checkpoint every N steps (0: never)"}
    )
    resume_from_checkpoint: str | None = field(
        default=None,
        metadata={"help": "trainer checkpoint folder to resume from, or 'latest' in OUT/trainer"},
    )
    eval_data: str | None = field(
        default=None,
        metadata={"help": "validation annotations scored with the benchmark metric while training"},
    )
    eval_steps: int = field(
        default=0, metadata={"help": "score the model on --eval-data every N steps (0: never)"}
    )
    eval_limit: int | None = field(
        default=None, metadata={"help": "only the first N validation videos"}
    )
    eval_max_tokens: int = field(
        default=256, metadata={"help": "generation budget of the in-training evaluation"}
    )

    def check_training_options(self) -> None:
        if self.max_steps == 0 or self.max_steps < -1:
            raise ValueError(f"max_steps must be -1 or >= 1, got {self.max_steps}")
        for name in ("save_steps", "eval_steps"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.eval_steps and not self.eval_data:
            raise ValueError("eval_steps needs eval_data (a validation annotation file)")
        if self.report_to not in REPORT_TO_CHOICES:
            raise ValueError(
                f"report_to must be one of {REPORT_TO_CHOICES}, got {self.report_to!r}"
            )


def on_cuda(options: TrainingOptions) -> bool:
    from visualact_env.vlm import resolve_device

    return resolve_device(options.device).startswith("cuda")


def trainer_arguments(options: TrainingOptions, output_dir: str) -> dict[str, Any]:
    """Keyword arguments for any ``TrainingArguments`` subclass (DPOConfig, GRPOConfig)."""
    cuda = on_cuda(options)
    return {
        "output_dir": output_dir,
        "max_steps": options.max_steps,
        "num_train_epochs": options.num_train_epochs,
        "learning_rate": options.learning_rate,
        "per_device_train_batch_size": options.per_device_train_batch_size,
        "gradient_accumulation_steps": options.gradient_accumulation_steps,
        "gradient_checkpointing": options.gradient_checkpointing,
        "bf16": cuda if options.bf16 is None else options.bf16,
        "use_cpu": not cuda,
        "deepspeed": options.deepspeed,
        "seed": options.seed,
        "logging_steps": options.logging_steps,
        "report_to": options.report_to,
        "save_strategy": "steps" if options.save_steps else "no",
        "save_steps": options.save_steps or 500,
        "remove_unused_columns": False,
        "dataloader_num_workers": 0,
    }


def lora_config(options: TrainingOptions) -> Any:
    """The peft ``LoraConfig`` of ``options`` (``lora`` must be on)."""
    from peft import LoraConfig

    return LoraConfig(
        r=options.lora_r,
        lora_alpha=options.lora_alpha,
        lora_dropout=options.lora_dropout,
        target_modules=list(options.lora_target_modules),
        task_type="CAUSAL_LM",
    )


def resume_point(options: TrainingOptions, trainer_dir: str) -> str | bool | None:
    """``resume_from_checkpoint`` as ``Trainer.train`` takes it ('latest' -> True)."""
    value = options.resume_from_checkpoint
    if value is None:
        return None
    if value == "latest":
        from pathlib import Path

        has_any = any(Path(trainer_dir).glob("checkpoint-*"))
        if not has_any:
            raise ValueError(f"--resume-from-checkpoint latest: no checkpoint in {trainer_dir}")
        return True
    return value


def save_trained(trainer: Any, processor: Any, out: str, lora: bool) -> None:
    """Save the trained model (LoRA merged into the base) and its processor into ``out``.

    Only the main process writes; the others wait, so every process returns with the folder
    complete.
    """
    model = trainer.model
    if lora:
        model = trainer.accelerator.unwrap_model(model).merge_and_unload()
    if trainer.accelerator.is_main_process:
        model.save_pretrained(out)
        processor.save_pretrained(out)
    trainer.accelerator.wait_for_everyone()

"""MPO (Mixed Preference Optimization) on preference pairs with TRL's ``DPOTrainer``.

MPO (Wang et al., "Enhancing the Reasoning Ability of Multimodal Large Language Models via Mixed
Preference Optimization", 2024) mixes three losses: the DPO preference loss (``sigmoid``), the
BCO quality loss on each response (``bco_pair``) and the SFT generation loss on the chosen
response (``sft``), weighted 0.8 / 0.2 / 1.0. TRL expresses it as
``DPOConfig(loss_type=["sigmoid", "bco_pair", "sft"], loss_weights=[0.8, 0.2, 1.0])``.

One difference from the paper: since TRL 0.29 (and so in TRL 1.x) ``bco_pair`` uses no running
mean of the rewards as its shift (the paper's BCO term subtracts a moving average ``delta``);
the quality term is therefore ``-log sigmoid(beta * logratio)`` on each response without the
shift.

The model is passed to TRL by its saved folder path (TRL builds the reference model from that
path), the processor explicitly (:func:`visualact_env.vlm.load_processor`, which works without
torchvision), ``max_length=None`` so image tokens are never cut, and ``bf16`` only on CUDA. With
``lora=True`` a peft LoRA adapter is trained and merged into the base before saving, so the output
folder is a plain checkpoint that ``hf:OUT`` loads offline.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..cache import atomic_write_text
from . import require_train_extra

MPO_LOSS_TYPES: tuple[str, ...] = ("sigmoid", "bco_pair", "sft")
MPO_LOSS_WEIGHTS: tuple[float, ...] = (0.8, 0.2, 1.0)
TRAIN_CONFIG_FILE = "visualact_mpo.json"


@dataclass
class MPOConfig:
    """Every knob of an MPO run (TRL-config style: each field's ``help`` says what it does)."""

    model: str = field(metadata={"help": "base model folder (or hub id in the local cache)"})
    pairs: str = field(
        metadata={"help": "preference dataset folder (from `visualact train pairs`)"}
    )
    out: str = field(
        metadata={"help": "output folder for the trained checkpoint (model + processor)"}
    )
    max_steps: int = field(
        default=-1, metadata={"help": "optimisation steps; -1 trains num_train_epochs"}
    )
    num_train_epochs: float = field(
        default=1.0, metadata={"help": "epochs over the pairs when max_steps is -1"}
    )
    learning_rate: float = field(
        default=5e-6, metadata={"help": "peak learning rate (1e-4 is usual with LoRA)"}
    )
    per_device_train_batch_size: int = field(
        default=1, metadata={"help": "pairs per device per step"}
    )
    gradient_accumulation_steps: int = field(
        default=1, metadata={"help": "steps accumulated per update"}
    )
    beta: float = field(
        default=0.1,
        metadata={"help": "DPO temperature: strength of the KL anchor to the reference"},
    )
    loss_type: tuple[str, ...] = field(
        default=MPO_LOSS_TYPES, metadata={"help": "TRL loss types (MPO: sigmoid, bco_pair, sft)"}
    )
    loss_weights: tuple[float, ...] = field(
        default=MPO_LOSS_WEIGHTS,
        metadata={"help": "weights of the loss types (MPO: 0.8, 0.2, 1.0)"},
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
    device: str = field(default="auto", metadata={"help": "auto, cpu or cuda"})
    seed: int = field(default=0, metadata={"help": "training seed"})
    logging_steps: int = field(default=1, metadata={"help": "log every N steps"})

    def __post_init__(self) -> None:
        if len(self.loss_type) != len(self.loss_weights):
            raise ValueError(
                f"loss_type {list(self.loss_type)} and loss_weights {list(self.loss_weights)} differ in length"
            )
        if self.max_steps == 0 or self.max_steps < -1:
            raise ValueError(f"max_steps must be -1 or >= 1, got {self.max_steps}")


def dpo_config(config: MPOConfig, output_dir: str) -> Any:
    """The ``trl.DPOConfig`` for an :class:`MPOConfig`."""
    from trl import DPOConfig

    from visualact_env.vlm import resolve_device

    device = resolve_device(config.device)
    on_cuda = device.startswith("cuda")
    return DPOConfig(
        output_dir=output_dir,
        loss_type=list(config.loss_type),
        loss_weights=list(config.loss_weights),
        beta=config.beta,
        max_steps=config.max_steps,
        num_train_epochs=config.num_train_epochs,
        learning_rate=config.learning_rate,
        per_device_train_batch_size=config.per_device_train_batch_size,
        gradient_accumulation_steps=config.gradient_accumulation_steps,
        gradient_checkpointing=config.gradient_checkpointing,
        max_length=None,
        precompute_ref_log_probs=False,
        bf16=on_cuda,
        use_cpu=not on_cuda,
        seed=config.seed,
        logging_steps=config.logging_steps,
        save_strategy="no",
        report_to="none",
        remove_unused_columns=False,
        dataloader_num_workers=0,
    )


def lora_config(config: MPOConfig) -> Any:
    from peft import LoraConfig

    return LoraConfig(
        r=config.lora_r,
        lora_alpha=config.lora_alpha,
        lora_dropout=config.lora_dropout,
        target_modules=list(config.lora_target_modules),
        task_type="CAUSAL_LM",
    )


def train_mpo(config: MPOConfig) -> Path:
    """Train on the pairs and save a loadable checkpoint in ``config.out``; return its path.

    The folder gets the model weights and config, the processor (tokenizer, image processor,
    chat template), and ``visualact_mpo.json`` (the config, the data's settings and the
    training losses logged by TRL).
    """
    require_train_extra("trl", "datasets", "accelerate", *(["peft"] if config.lora else []))
    import datasets
    from trl import DPOTrainer

    from visualact_env.vlm import load_processor

    out = Path(config.out)
    train = datasets.load_from_disk(str(config.pairs))
    processor = load_processor(config.model)
    out.mkdir(parents=True, exist_ok=True)  # only once the inputs are known to load
    trainer = DPOTrainer(
        model=config.model,
        args=dpo_config(config, str(out / "trainer")),
        train_dataset=train,
        processing_class=processor,
        peft_config=lora_config(config) if config.lora else None,
    )
    result = trainer.train()
    model = trainer.model
    if config.lora:
        model = model.merge_and_unload()
    model.save_pretrained(str(out))
    processor.save_pretrained(str(out))
    _write_record(out, config, train, trainer, result)
    return out


def _write_record(out: Path, config: MPOConfig, train: Any, trainer: Any, result: Any) -> None:
    pairs_meta = Path(config.pairs) / "pairs.json"
    record = {
        "config": {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(config).items()},
        "pairs": json.loads(pairs_meta.read_text(encoding="utf-8"))
        if pairs_meta.is_file()
        else None,
        "num_pairs": len(train),
        "global_step": int(result.global_step),
        "train_loss": float(result.training_loss),
        "log_history": trainer.state.log_history,
    }
    atomic_write_text(out / TRAIN_CONFIG_FILE, json.dumps(record, indent=2, default=str) + "\n")

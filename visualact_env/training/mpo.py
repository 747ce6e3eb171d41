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

from .. import jsonio
from ..cache import atomic_write_text
from . import require_train_extra
from .options import TrainingOptions, lora_config, resume_point, save_trained, trainer_arguments

MPO_LOSS_TYPES: tuple[str, ...] = ("sigmoid", "bco_pair", "sft")
MPO_LOSS_WEIGHTS: tuple[float, ...] = (0.8, 0.2, 1.0)
TRAIN_CONFIG_FILE = "visualact_mpo.json"


@dataclass(kw_only=True)
class MPOConfig(TrainingOptions):
    """Every knob of an MPO run (TRL-config style: each field's ``help`` says what it does)."""

    model: str = field(
        metadata={"help": "base model folder (or hub id in the local cache; 'tiny': test model)"}
    )
    pairs: str = field(
        metadata={"help": "preference dataset folder (from `visualact train pairs`)"}
    )
    out: str = field(
        metadata={"help": "output folder for the trained checkpoint (model + processor)"}
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

    def __post_init__(self) -> None:
        if len(self.loss_type) != len(self.loss_weights):
            raise ValueError(
                f"loss_type {list(self.loss_type)} and loss_weights {list(self.loss_weights)} differ in length"
            )
        self.check_training_options()


def dpo_config(config: MPOConfig, output_dir: str) -> Any:
    """The ``trl.DPOConfig`` for an :class:`MPOConfig`."""
    from trl import DPOConfig

    return DPOConfig(
        **trainer_arguments(config, output_dir),
        loss_type=list(config.loss_type),
        loss_weights=list(config.loss_weights),
        beta=config.beta,
        max_length=None,
        precompute_ref_log_probs=False,
    )


def train_mpo(config: MPOConfig) -> Path:
    """Train on the pairs and save a loadable checkpoint in ``config.out``; return its path.

    The folder gets the model weights and config, the processor (tokenizer, image processor,
    chat template), ``visualact_mpo.json`` (the config, the data's settings and the training
    losses logged by TRL) and the video ids trained on
    (:data:`~visualact_env.splits.TRAINED_ON_FILE`).
    """
    require_train_extra("trl", "datasets", "accelerate", *(["peft"] if config.lora else []))
    import datasets
    from trl import DPOTrainer

    from visualact_env.vlm import load_processor

    from ..splits import record_trained_on
    from .evaluation import attach_eval_callback, eval_settings_from
    from .grpo_train import resolve_model

    model = resolve_model(config.model)
    out = Path(config.out)
    train = datasets.load_from_disk(str(config.pairs))
    processor = load_processor(model)
    out.mkdir(parents=True, exist_ok=True)  # only once the inputs are known to load
    trainer = DPOTrainer(
        model=model,
        args=dpo_config(config, str(out / "trainer")),
        train_dataset=train,
        processing_class=processor,
        peft_config=lora_config(config) if config.lora else None,
    )
    meta = _pairs_meta(config)
    sampler = (meta or {}).get("sampler") or {}
    prompt = ((meta or {}).get("prompt") or {}).get("name")
    size = sampler.get("size") if not sampler or sampler.get("size") else "native"
    settings = eval_settings_from(config, int(sampler.get("num_frames", 8)), size, prompt)
    attach_eval_callback(trainer, config, settings, processor, out)
    result = trainer.train(resume_from_checkpoint=resume_point(config, str(out / "trainer")))
    save_trained(trainer, processor, str(out), config.lora)
    if trainer.accelerator.is_main_process:
        rollouts = (meta or {}).get("data") or {}
        record_trained_on(
            out,
            sorted(set(train["video_id"])),
            rollouts.get("spec") or rollouts.get("name") or "",
            rollouts.get("fingerprint", ""),
        )
        _write_record(out, config, train, trainer, result)
    return out


def _pairs_meta(config: MPOConfig) -> dict[str, Any] | None:
    path = Path(config.pairs) / "pairs.json"
    return jsonio.read_json(path, what="pairs record") if path.is_file() else None


def _write_record(out: Path, config: MPOConfig, train: Any, trainer: Any, result: Any) -> None:
    record = {
        "config": {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(config).items()},
        "pairs": _pairs_meta(config),
        "num_pairs": len(train),
        "global_step": int(result.global_step),
        "train_loss": float(result.training_loss),
        "log_history": trainer.state.log_history,
    }
    atomic_write_text(out / TRAIN_CONFIG_FILE, json.dumps(record, indent=2, default=str) + "\n")

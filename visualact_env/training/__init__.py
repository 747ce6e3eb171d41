"""Fine-tuning VLMs on VisualActBench: rollouts, preference pairs, MPO (via TRL) and a GRPO reward.

The loop (see ``docs/readme-parts/fine-tuning.md``):

1. :mod:`.rollouts`: sample K proposal lists per video from a policy with the evaluation runner
   and score each with the environment's reward;
2. :mod:`.preferences`: pick a chosen and a rejected completion per video by reward and save
   them as a TRL vision preference dataset;
3. :mod:`.mpo`: train on the pairs with TRL's ``DPOTrainer`` and the MPO losses, save a checkpoint
   that the ``hf:`` agent loads;
4. :mod:`.grpo`: the environment's reward as a TRL ``GRPOTrainer`` reward function, and the
   matching prompt dataset.

Nothing here imports torch, transformers, trl, peft or datasets at import time; functions that
need the ``train`` extra raise :class:`MissingTrainExtra` with the install command.
"""

from __future__ import annotations

TRAIN_EXTRA_HINT = "pip install 'visualact[train]'"


class MissingTrainExtra(ImportError):
    """A training dependency (trl, peft, datasets, accelerate) is not installed."""


def require_train_extra(*modules: str) -> None:
    """Raise :class:`MissingTrainExtra` naming the install command if a module is missing."""
    import importlib.util

    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        raise MissingTrainExtra(
            f"fine-tuning needs {', '.join(missing)}, which is not installed; "
            f"install the training extra: {TRAIN_EXTRA_HINT}"
        )


__all__ = ["TRAIN_EXTRA_HINT", "MissingTrainExtra", "require_train_extra"]

"""Evaluation of a checkpoint with the benchmark metric, inside and outside a TRL trainer.

:func:`evaluate_checkpoint` runs ``visualact eval`` on a checkpoint folder (the ``hf:`` agent,
greedy) over a validation annotation file and returns the run folder: its ``summary.json`` holds
the same figures ``visualact score`` prints for its ``predictions.jsonl``.

:func:`make_eval_callback` builds a ``transformers.TrainerCallback`` that does this every N
optimisation steps: the main process saves the current weights (a LoRA adapter merged for the
copy only), evaluates them, and sends the overall figures to the trainer's log
(``eval_visualact/f1``, ``eval_visualact/weighted_f1``, ...), so they reach every logging
integration (TensorBoard, W&B, trackio) and ``trainer.state.log_history``. The other processes
wait for it.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

LOGGED_FIGURES = ("precision", "recall", "f1", "weighted_f1", "scale_score", "proactive_recall")
EVAL_PREFIX = "eval_visualact/"


@dataclass(frozen=True)
class EvalSettings:
    """What an in-training or in-loop evaluation runs on (recorded with its results)."""

    data: str
    frames: int = 8
    frame_size: tuple[int, int] | str | None = None  # None: the default sampler's; "native"
    limit: int | None = None
    max_tokens: int = 256
    tau: float = 0.5
    embedder: str | None = None
    prompt: str | None = None
    seed: int = 0


def evaluate_checkpoint(
    checkpoint: str | Path, out: str | Path, settings: EvalSettings, *, resume: bool = False
) -> Path:
    """``visualact eval --agent hf:CHECKPOINT`` over ``settings.data`` into ``out``."""
    from ..runner import EvalConfig, run_eval

    config = EvalConfig(
        agent=f"hf:{checkpoint}",
        data=settings.data,
        out=Path(out),
        frames=settings.frames,
        frame_size=settings.frame_size,
        limit=settings.limit,
        max_tokens=settings.max_tokens,
        prompt=settings.prompt,
        seed=settings.seed,
        tau=settings.tau,
        embedder=settings.embedder,
        resume=resume,
        html=False,
        progress=False,
    )
    return run_eval(config, log=lambda _msg: None)


def run_summary(run_dir: str | Path) -> dict[str, Any]:
    """A finished run folder's ``summary.json`` (checked: :func:`visualact_env.rundir.read_summary`)."""
    from ..rundir import read_summary

    summary = read_summary(run_dir)
    if summary is None:
        raise FileNotFoundError(f"{run_dir}: no summary.json (the evaluation did not finish)")
    return summary


def run_figures(run_dir: str | Path) -> dict[str, Any]:
    """The overall figures of a finished run folder, plus its count of unparseable answers."""
    summary = run_summary(run_dir)
    figures = {k: summary["overall"].get(k) for k in LOGGED_FIGURES}
    figures["parse_failures"] = summary.get("counts", {}).get("unparsed", 0)
    return figures


def save_for_eval(model: Any, processor: Any, folder: Path) -> None:
    """Save ``model`` (a LoRA adapter merged into a copy of the weights) and its processor."""
    if hasattr(model, "merge_adapter") and hasattr(model, "get_base_model"):
        model.merge_adapter()
        try:
            model.get_base_model().save_pretrained(str(folder))
        finally:
            model.unmerge_adapter()
    else:
        model.save_pretrained(str(folder))
    processor.save_pretrained(str(folder))


class EvalCallbackLogic:
    """What :func:`make_eval_callback`'s ``TrainerCallback`` does (see the module docstring)."""

    def __init__(self, settings: EvalSettings, out: str | Path, processor: Any, every: int):
        self.settings = settings
        self.out = Path(out)
        self.processor = processor
        self.every = every
        self.trainer: Any = None
        self.history: list[dict[str, Any]] = []

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> Any:
        if self.every and state.global_step % self.every == 0:
            self.evaluate(state.global_step)
        return control

    def evaluate(self, step: int) -> dict[str, Any] | None:
        trainer = self.trainer
        if trainer is None:
            raise RuntimeError("VisualActEvalCallback.trainer is not set")
        accelerator = trainer.accelerator
        figures = None
        if accelerator.is_main_process:
            folder = self.out / f"step-{step}"
            model_dir = folder / "model"
            if folder.exists():
                shutil.rmtree(folder)
            model_dir.mkdir(parents=True)
            save_for_eval(accelerator.unwrap_model(trainer.model), self.processor, model_dir)
            run = evaluate_checkpoint(model_dir, folder / "run", self.settings)
            shutil.rmtree(model_dir)  # the figures and predictions stay; the weights go
            figures = run_figures(run)
            self.history.append({"step": step, "run": str(run), **figures})
            trainer.log({EVAL_PREFIX + k: v for k, v in figures.items() if v is not None})
        accelerator.wait_for_everyone()
        return figures


def make_eval_callback(settings: EvalSettings, out: str | Path, processor: Any, every: int) -> Any:
    """A ``transformers.TrainerCallback`` that runs :class:`EvalCallbackLogic` (set its
    ``trainer`` before training). transformers is imported here, not at module import."""
    from transformers import TrainerCallback

    cls = type("VisualActEvalCallback", (EvalCallbackLogic, TrainerCallback), {})
    return cls(settings, out, processor, every)


def eval_settings_from(options: Any, frames: int, frame_size: Any, prompt: Any = None) -> Any:
    """The :class:`EvalSettings` of a training config's ``eval_*`` options (None if unset)."""
    if not getattr(options, "eval_data", None):
        return None
    return EvalSettings(
        data=options.eval_data,
        frames=frames,
        frame_size=tuple(frame_size) if isinstance(frame_size, (list, tuple)) else frame_size,
        limit=options.eval_limit,
        max_tokens=options.eval_max_tokens,
        prompt=prompt,
        seed=options.seed,
    )


def attach_eval_callback(
    trainer: Any, options: Any, settings: EvalSettings | None, processor: Any, out: Path
) -> Any:
    """Add a :class:`VisualActEvalCallback` to ``trainer`` when the options ask for one."""
    if settings is None or not options.eval_steps:
        return None
    callback = make_eval_callback(settings, out / "eval", processor, options.eval_steps)
    callback.trainer = trainer
    trainer.add_callback(callback)
    return callback


def logged_figures(log_history: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The in-training evaluations found in a trainer's log history, by step."""
    rows = []
    for entry in log_history:
        figures = {k[len(EVAL_PREFIX) :]: v for k, v in entry.items() if k.startswith(EVAL_PREFIX)}
        if figures:
            rows.append({"step": entry.get("step"), **figures})
    return rows

"""``visualact train loop``: iterative preference optimisation, the online form of MPO.

Iteration 0 evaluates the base model on the validation split. Each iteration ``k >= 1`` then:

1. ``rollouts``: ``samples`` proposal lists per training video from the current checkpoint,
   each scored with the environment's reward (an ordinary, resumable run folder);
2. ``pairs``: chosen/rejected completions per video (reward gap >= ``margin``);
3. ``mpo``: TRL's ``DPOTrainer`` with the MPO losses, from the current checkpoint;
4. ``eval``: the new checkpoint on the validation split with the benchmark metric.

Layout of ``out``::

    loop.json, loop.md, learning_curve.png   one row per iteration (written after every step)
    iter-0/eval/                             the base model on the validation split
    iter-K/rollouts/ pairs/ model/ eval/     iteration K's steps

Each step leaves a marker only when complete (a run folder's ``summary.json``, the pairs'
``pairs.json``, the checkpoint's ``visualact_mpo.json``), so ``--resume`` continues from the last
finished step: a killed rollout or evaluation continues record by record (the runner's own
resume), a killed pairs or MPO step is redone from scratch, and nothing finished is redone.

The table has, per iteration, F1, weighted F1, scale score and proactive recall with their 95%
bootstrap intervals, the count of unparseable answers, and the paired difference against
iteration 0 with its p-value (:func:`visualact_env.report.compare.compare_runs`).
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..cache import atomic_write_bytes, atomic_write_text
from ..knobs import frame_size_field, frames_field
from .mpo import MPOConfig

LOOP_FILE = "loop.json"
LOOP_TABLE = "loop.md"
LOOP_PLOT = "learning_curve.png"
TABLE_FIGURES = ("f1", "weighted_f1", "scale_score", "proactive_recall")


@dataclass(kw_only=True)
class LoopConfig(MPOConfig):
    """Every knob of ``visualact train loop``: MPO's, plus the loop's own."""

    pairs: str = field(default="", metadata={"help": "(set by the loop)", "cli": False})
    train_data: str = field(
        metadata={"help": "training annotations (a train split from `visualact data split`)"}
    )
    val_data: str = field(metadata={"help": "validation annotations scored every iteration"})
    iterations: int = field(default=2, metadata={"help": "rollout -> pairs -> MPO rounds"})
    samples: int = field(default=4, metadata={"help": "proposal lists sampled per training video"})
    temperature: float = field(default=1.0, metadata={"help": "sampling temperature of rollouts"})
    max_tokens: int = field(default=256, metadata={"help": "generation budget per answer"})
    frames: int = frames_field()
    frame_size: tuple[int, int] | str | None = frame_size_field()
    train_limit: int | None = field(
        default=None, metadata={"help": "only the first N training videos"}
    )
    val_limit: int | None = field(
        default=None, metadata={"help": "only the first N validation videos"}
    )
    margin: float = field(default=0.1, metadata={"help": "minimum reward gap of a pair"})
    reference: bool = field(
        default=False, metadata={"help": "add the ground truth as a chosen candidate"}
    )
    reward: str = field(
        default="weighted_f1",
        metadata={"help": "reward of rollouts", "choices": ("weighted_f1", "f1", "scale_score")},
    )
    tau: float = field(default=0.5, metadata={"help": "similarity threshold"})
    embedder: str | None = field(default=None, metadata={"help": "sentence-embedding model"})
    resume: bool = field(default=False, metadata={"help": "continue the loop in --out"})

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.iterations < 1:
            raise ValueError(f"iterations must be >= 1, got {self.iterations}")
        if self.samples < 2:
            raise ValueError(f"samples must be >= 2 to form pairs, got {self.samples}")


def _eval_settings(config: LoopConfig) -> Any:
    from .evaluation import EvalSettings

    return EvalSettings(
        data=config.val_data,
        frames=config.frames,
        frame_size=config.frame_size,
        limit=config.val_limit,
        max_tokens=config.max_tokens,
        tau=config.tau,
        embedder=config.embedder,
        seed=config.seed,
    )


def _evaluate(checkpoint: str, folder: Path, config: LoopConfig) -> Path:
    from .evaluation import evaluate_checkpoint

    if (folder / "summary.json").is_file():
        return folder
    return evaluate_checkpoint(checkpoint, folder, _eval_settings(config), resume=folder.exists())


def _rollouts(checkpoint: str, folder: Path, config: LoopConfig, iteration: int) -> Path:
    from ..runner import EvalConfig
    from .rollouts import REWARDS_META, run_rollouts

    if (folder / REWARDS_META).is_file():
        return folder
    eval_config = EvalConfig(
        agent=f"hf:{checkpoint}",
        data=config.train_data,
        out=folder,
        frames=config.frames,
        frame_size=config.frame_size,
        limit=config.train_limit,
        samples=config.samples,
        temperature=config.temperature,
        max_tokens=config.max_tokens,
        seed=config.seed + 1000 * iteration,
        tau=config.tau,
        embedder=config.embedder,
        resume=folder.exists(),
        reports=False,
        progress=False,
    )
    return run_rollouts(eval_config, reward=config.reward, log=lambda _msg: None)


def _pairs(rollouts: Path, folder: Path, config: LoopConfig) -> Path:
    from .preferences import build_preference_dataset

    if (folder / "pairs.json").is_file():
        return folder
    if folder.exists():
        shutil.rmtree(folder)  # a killed save_to_disk: redo it whole
    return build_preference_dataset(
        rollouts, folder, margin=config.margin, reference=config.reference
    )


def _mpo(checkpoint: str, pairs: Path, folder: Path, config: LoopConfig) -> Path:
    from .mpo import TRAIN_CONFIG_FILE, train_mpo

    if (folder / TRAIN_CONFIG_FILE).is_file():
        return folder
    if folder.exists():
        shutil.rmtree(folder)
    values = {
        f: getattr(config, f)
        for f in MPOConfig.__dataclass_fields__
        if f not in ("model", "pairs", "out", "eval_data", "eval_steps")
    }
    values["seed"] = config.seed + iteration_of(folder)
    mpo = MPOConfig(model=checkpoint, pairs=str(pairs), out=str(folder), **values)
    return train_mpo(mpo)


def iteration_of(folder: Path) -> int:
    """The iteration number of a step folder ``.../iter-K/STEP``."""
    return int(folder.parent.name.split("-")[1])


def _check_resume(out: Path, config: LoopConfig) -> None:
    path = out / LOOP_FILE
    if not out.exists() or not any(out.iterdir()):
        return
    if not config.resume:
        raise FileExistsError(f"{out} already holds a loop: pass --resume to continue it")
    if not path.is_file():
        return
    before = json.loads(path.read_text(encoding="utf-8"))["config"]
    now = _config_record(config)
    changed = sorted(
        k
        for k in set(before) | set(now)
        if k not in ("iterations", "resume") and before.get(k) != now.get(k)
    )
    if changed:
        diff = ", ".join(f"{k}: {before.get(k)!r} -> {now.get(k)!r}" for k in changed)
        raise ValueError(f"--resume with a different configuration ({diff})")


def _config_record(config: LoopConfig) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(config).items()}


def run_loop(config: LoopConfig, log: Any = print) -> Path:
    """Run (or with ``config.resume``, continue) the loop; return the output folder."""
    from .grpo_train import resolve_model

    out = Path(config.out)
    _check_resume(out, config)
    out.mkdir(parents=True, exist_ok=True)
    base = resolve_model(config.model)
    evals = [_evaluate(base, out / "iter-0" / "eval", config)]
    checkpoints = [base]
    write_loop(out, config, evals, checkpoints)
    for k in range(1, config.iterations + 1):
        step = out / f"iter-{k}"
        current = checkpoints[-1]
        log(f"iteration {k}: rollouts from {current}")
        rollouts = _rollouts(current, step / "rollouts", config, k)
        log(f"iteration {k}: preference pairs")
        pairs = _pairs(rollouts, step / "pairs", config)
        log(f"iteration {k}: MPO")
        model = _mpo(current, pairs, step / "model", config)
        log(f"iteration {k}: evaluation on {config.val_data}")
        evals.append(_evaluate(str(model), step / "eval", config))
        checkpoints.append(str(model))
        write_loop(out, config, evals, checkpoints)
    return out


def loop_rows(evals: list[Path], checkpoints: list[str]) -> list[dict[str, Any]]:
    """One row per iteration: figures with CIs, parse failures, paired difference vs 0."""
    from ..report.compare import compare_runs
    from .evaluation import run_summary

    result = compare_runs(evals, baseline=evals[0])
    diffs = {c["name"]: c.get("figures") for c in result["comparisons"]}
    rows = []
    for k, (row, checkpoint) in enumerate(zip(result["runs"], checkpoints, strict=True)):
        figures = {
            f: {"value": row["overall"].get(f), "ci": row["overall_ci"].get(f)}
            for f in TABLE_FIGURES
        }
        vs0 = diffs.get(row["name"]) if k else None
        summary = run_summary(row["run_dir"])
        rows.append(
            {
                "iteration": k,
                "checkpoint": checkpoint,
                "eval_run": row["run_dir"],
                "videos": row["counts"].get("videos"),
                "figures": figures,
                "parse_failures": summary.get("counts", {}).get("unparsed", 0),
                "vs_iteration_0": ({f: vs0[f] for f in TABLE_FIGURES} if vs0 else None),
            }
        )
    return rows


def _pct(value: Any) -> str:
    return "-" if value is None else f"{100 * value:.1f}"


def render_loop_markdown(rows: list[dict[str, Any]]) -> str:
    """``loop.md``: the table a paper's Table 6 would hold, one row per iteration."""
    head = ["Iteration", *[f.replace("_", " ").title() for f in TABLE_FIGURES], "Unparsed"]
    head += [f"Δ {f.replace('_', ' ').title()} vs 0 (p)" for f in ("f1", "weighted_f1")]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        cells = [str(row["iteration"])]
        for f in TABLE_FIGURES:
            fig = row["figures"][f]
            ci = fig["ci"] or [None, None]
            cells.append(f"{_pct(fig['value'])} [{_pct(ci[0])}, {_pct(ci[1])}]")
        cells.append(str(row["parse_failures"]))
        for f in ("f1", "weighted_f1"):
            d = (row["vs_iteration_0"] or {}).get(f)
            if not d or d.get("difference") is None:
                cells.append("-")
            else:
                p = d.get("p_value")
                cells.append(f"{100 * d['difference']:+.1f} (p={'-' if p is None else f'{p:.3f}'})")
        lines.append("| " + " | ".join(cells) + " |")
    note = (
        "\nFigures in percent on the validation split with 95% bootstrap intervals (videos "
        "resampled within scenarios); Δ is the paired difference against iteration 0 (the base "
        "model) on the same videos, with its two-sided bootstrap p-value.\n"
    )
    return "\n".join(lines) + "\n" + note


def learning_curve_png(rows: list[dict[str, Any]]) -> bytes:
    """The validation figures by iteration, with their intervals."""
    from ..report.plots import _png, _pyplot

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.6))
    its = [r["iteration"] for r in rows]
    for marker, f in zip("osd^", TABLE_FIGURES, strict=True):
        values = [100 * (r["figures"][f]["value"] or 0) for r in rows]
        low = [100 * ((r["figures"][f]["ci"] or [None])[0] or 0) for r in rows]
        high = [100 * ((r["figures"][f]["ci"] or [None, None])[1] or 0) for r in rows]
        below = [v - lo for v, lo in zip(values, low, strict=True)]
        above = [hi - v for v, hi in zip(values, high, strict=True)]
        err = [below, above]
        ax.errorbar(its, values, yerr=err, marker=marker, capsize=3, label=f.replace("_", " "))
    ax.set_xlabel("iteration")
    ax.set_ylabel("validation figure (%)")
    ax.set_xticks(its)
    ax.set_title("Iterative MPO: validation figures by iteration")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    fig.tight_layout()
    return _png(fig)


def write_loop(out: Path, config: LoopConfig, evals: list[Path], checkpoints: list[str]) -> None:
    """Write ``loop.json``, ``loop.md`` and the learning curve for the iterations so far."""
    rows = loop_rows(evals, checkpoints)
    record = {
        "format_version": 1,
        "status": "complete" if len(rows) == config.iterations + 1 else "running",
        "config": _config_record(config),
        "iterations": rows,
    }
    atomic_write_text(out / LOOP_FILE, json.dumps(record, indent=2) + "\n")
    atomic_write_text(out / LOOP_TABLE, "# Iterative MPO\n\n" + render_loop_markdown(rows))
    atomic_write_bytes(out / LOOP_PLOT, learning_curve_png(rows))

"""The evaluation runner: a policy over a benchmark, crash-safe, resumable and sharded.

A run is a folder (its layout and files: :mod:`visualact_env.rundir`): ``config.json``, then
``predictions.jsonl`` appended record by record, then the reports when the run is complete.

``resume=True`` continues a killed run: a torn last line is dropped and redone, failed videos
are retried, nothing is duplicated, and the identity part of the config must match.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import math
import re
import sys
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .cli_config import parse_key_value
from .errors import DISK_FULL_ERRNOS
from .knobs import (
    embedder_field,
    fps_field,
    frame_rule_field,
    frame_size_field,
    frames_field,
    max_frames_field,
    max_pixels_field,
    sampler_of,
    tau_field,
)
from .provenance import git_commit, package_versions
from .records import Benchmark, VideoRecord
from .redaction import strip_credentials, strip_credentials_in
from .registry import agent_help
from .rundir import (
    CONFIG_FILE,
    IDENTITY_KEYS,
    PARTS_DIR,
    PREDICTIONS_FILE,
    REPORT_HTML,
    REPORT_MD,
    SAMPLES_FILE,
    SCORES_FILE,
    SUMMARY_FILE,
    PredictionWriter,
    RunError,
    check_shard,
    clear_stop,
    completion_status,
    config_mismatch,
    fold_parts,
    identity,
    load_config,
    normalize_scenarios,
    order_predictions,
    parse_shard,
    part_path,
    read_predictions,
    recover_predictions,
    run_benchmark,
    select_videos,
    set_status,
    write_config,
    write_stop,
)
from .runlock import RunLock

__all__ = [
    "CONFIG_FILE",
    "IDENTITY_KEYS",
    "PREDICTIONS_FILE",
    "SUMMARY_FILE",
    "EvalConfig",
    "RunError",
    "config_mismatch",
    "failed_videos",
    "identity",
    "parse_shard",
    "recover_predictions",
    "run_benchmark",
    "run_eval",
    "select_records",
]


def _shard_option(text: str) -> tuple[int, int]:
    """``--shard I/N`` as an argparse converter (a bad value is a usage error)."""
    try:
        return parse_shard(text)
    except RunError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _scenario_option(text: str) -> str:
    """``--scenarios`` items as an argparse converter: any spelling of the paper -> the id."""
    try:
        (scenario,) = normalize_scenarios([text])
    except RunError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    return scenario


def _max_failures_option(text: str) -> str:
    """``--max-failures N|P%`` as an argparse converter."""
    from .budget import parse_max_failures

    try:
        return parse_max_failures(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


@dataclass
class EvalConfig:
    """Every knob of ``visualact eval`` in one place: the command's options are generated from
    these fields (:mod:`visualact_env.cli_config`), so each default and help text lives here."""

    agent: str = field(default="retrieval", metadata={"help": agent_help})
    data: str = field(
        default="demo",
        metadata={"help": "benchmark: demo, synthetic-full, or an annotation .jsonl / folder"},
    )
    label: str | None = field(
        default=None,
        metadata={
            "help": "the run's name in tables, reports and compare",
            "default_help": "the agent spec without its server URL",
        },
    )
    out: Path | None = field(
        default=None,
        metadata={"help": "run folder", "default_help": "runs/<agent>-<data>-<time>"},
    )
    frames: int = frames_field()
    frame_size: tuple[int, int] | str | None = frame_size_field()
    frame_rule: str = frame_rule_field()
    fps: float | None = fps_field()
    max_frames: int | None = max_frames_field()
    max_pixels: int | None = max_pixels_field()
    scenarios: tuple[str, ...] = field(
        default=(),
        metadata={
            "help": "only these scenarios: DN, HS, SM, HMI (the paper's table heads) or the ids "
            "dynamic_navigation, home_service, safety_monitoring, human_machine_interaction",
            "type": _scenario_option,
            "nargs": "+",
            "metavar": "SCENARIO",
            "default_help": "all",
        },
    )
    limit: int | None = field(
        default=None,
        metadata={
            "help": "only N videos (after the scenario filter), spread over the scenarios in "
            "proportion to their sizes; the same N videos whatever the file order",
            "metavar": "N",
        },
    )
    shard: tuple[int, int] | None = field(
        default=None,
        metadata={
            "help": "run the I-th of N deterministic parts (1-based)",
            "type": _shard_option,
            "metavar": "I/N",
        },
    )
    samples: int = field(default=1, metadata={"help": "proposal lists sampled per video"})
    temperature: float | None = field(
        default=None, metadata={"help": "sampling temperature for model agents"}
    )
    max_tokens: int | None = field(
        default=None, metadata={"help": "generation budget for model agents"}
    )
    prompt: str | None = field(
        default=None,
        metadata={"help": "prompt name or template file", "default_help": "the built-in prompt"},
    )
    seed: int = field(
        default=0, metadata={"help": "base seed; each (video, sample) gets a derived seed"}
    )
    concurrency: int = field(
        default=8, metadata={"help": "requests in flight for API (async) agents"}
    )
    batch_size: int = field(
        default=1, metadata={"help": "videos per act_batch call for local models"}
    )
    tau: float = tau_field()
    embedder: str | None = embedder_field()
    resume: bool = field(
        default=False,
        metadata={
            "help": "continue the run in --out (retries failed videos); options not given are "
            "the run's recorded ones, a changed one is refused"
        },
    )
    overwrite: bool = field(default=False, metadata={"help": "replace the run in --out"})
    reports: bool = field(
        default=True,
        metadata={"help": "write summary and reports when the run is complete", "cli": False},
    )
    html: bool = field(default=True, metadata={"help": "write report.html"})
    progress: bool | None = field(
        default=None, metadata={"help": "progress bar", "default_help": "on a terminal only"}
    )
    agent_options: dict[str, Any] = field(
        default_factory=dict,
        metadata={
            "help": "extra agent option (JSON value), repeatable",
            "flag": "--agent-option",
            "type": parse_key_value,
            "action": "append",
            "metavar": "KEY=VALUE",
        },
    )
    hand_out: str = field(
        default="dynamic",
        metadata={
            "help": "how the processes of a torchrun/accelerate launch share the videos: "
            "dynamic (next video to whoever is free) or static (every N-th, for comparison)",
            "choices": ("dynamic", "static"),
        },
    )
    strict: bool = field(
        default=False,
        metadata={
            "help": "refuse to evaluate an hf: checkpoint on videos it was trained on "
            "(default: warn)"
        },
    )
    price_input: float | None = field(
        default=None,
        metadata={"help": "price per million prompt tokens, for the cost in the reports"},
    )
    price_output: float | None = field(
        default=None,
        metadata={"help": "price per million completion tokens, for the cost in the reports"},
    )
    max_cost: float | None = field(
        default=None,
        metadata={
            "help": "stop the run (resumable) once its cost reaches this (needs --price-input "
            "or --price-output; answers already in the folder count)",
            "metavar": "COST",
        },
    )
    max_total_tokens: int | None = field(
        default=None,
        metadata={
            "help": "stop the run (resumable) once its prompt + completion tokens reach N "
            "(answers already in the folder count; --max-tokens is the per-answer budget)",
            "metavar": "N",
        },
    )
    max_failures: str | None = field(
        default=None,
        metadata={
            "help": "stop the run (resumable) at the N-th failed answer, or when P% of the "
            "answers to do have failed (e.g. a wrong endpoint)",
            "type": _max_failures_option,
            "metavar": "N|P%",
        },
    )


def check_config(config: EvalConfig) -> None:
    """Reject impossible settings before any work is done (and before a run folder exists)."""
    for name in ("frames", "samples", "batch_size", "concurrency"):
        value = getattr(config, name)
        if value < 1:
            raise RunError(f"--{name.replace('_', '-')} must be >= 1, got {value}")
    if config.limit is not None and config.limit < 0:
        raise RunError(f"--limit must be >= 0, got {config.limit}")
    if not -1.0 <= config.tau <= 1.0:
        raise RunError(f"--tau must be within [-1, 1], got {config.tau}")
    if config.shard is not None:
        check_shard(*config.shard)
    for name in ("price_input", "price_output", "max_cost"):
        value = getattr(config, name)
        if value is not None and not (math.isfinite(value) and value >= 0):
            raise RunError(f"--{name.replace('_', '-')} must be a number >= 0, got {value}")
    if config.max_total_tokens is not None and config.max_total_tokens < 1:
        raise RunError(f"--max-total-tokens must be >= 1, got {config.max_total_tokens}")
    if config.max_cost is not None and config.price_input is None and config.price_output is None:
        raise RunError(
            "--max-cost needs prices: --price-input and/or --price-output (per million tokens)"
        )
    if config.max_failures is not None:
        from .budget import parse_max_failures

        try:
            parse_max_failures(config.max_failures)
        except ValueError as e:
            raise RunError(f"--max-failures: {e}") from None
    eval_sampler(config)


def eval_sampler(config: EvalConfig) -> Any:
    """The frame sampler of a run: the default sampler with the command's frame options."""
    try:
        return sampler_of(config)
    except ValueError as e:
        raise RunError(str(e)) from None


# ---------------------------------------------------------------------------------------------
# Selection


def select_records(benchmark: Benchmark, config: EvalConfig) -> list[VideoRecord]:
    """The videos of this run: scenario filter, then ``limit``, then the shard's part."""
    return select_videos(benchmark, config.scenarios, config.limit, config.shard)


def derived_seed(seed: int, video_id: str, sample: int) -> int:
    """A stable per-(video, sample) seed, independent of order, concurrency and sharding."""
    h = hashlib.sha256(f"{seed}\0{video_id}\0{sample}".encode()).digest()
    return int.from_bytes(h[:4], "little")


# ---------------------------------------------------------------------------------------------
# Running


@dataclass
class Task:
    record: VideoRecord
    sample: int
    seed: int


class Progress:
    """A tqdm bar on a terminal (nothing otherwise) counting answers, one per (video, sample),
    with the failed and unparseable ones among them."""

    def __init__(
        self,
        total: int,
        initial: int,
        enabled: bool | None,
        stream: Any = None,
        *,
        samples: int = 1,
    ):
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.failed = 0
        self.unparsed = 0
        self.done = initial
        self.total = total
        self._bar = None
        if self.enabled:
            from tqdm.auto import tqdm

            self._bar = tqdm(
                total=total,
                initial=initial,
                unit="video" if samples == 1 else "answer",
                desc=None if samples == 1 else f"{total // samples} videos x {samples} samples",
                file=self.stream,
                dynamic_ncols=True,
            )
            self._bar.set_postfix(failed=0, unparsed=0, refresh=False)

    def update(self, failed: bool, unparsed: bool = False) -> None:
        self.done += 1
        self.failed += int(failed)
        self.unparsed += int(unparsed)
        if self._bar is not None:
            self._bar.set_postfix(failed=self.failed, unparsed=self.unparsed, refresh=False)
            self._bar.update(1)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def _observation(record: VideoRecord, sampler: Any) -> dict[str, Any]:
    from .frames import sample_frames

    return {"frames": sample_frames(record.path, sampler)}


def _info(task: Task) -> dict[str, Any]:
    return {"video_id": task.record.video_id, "sample": task.sample, "seed": task.seed}


def _record(task: Task, output: Any, latency: float) -> dict[str, Any]:
    row: dict[str, Any] = {
        "video_id": task.record.video_id,
        "sample": task.sample,
        "actions": [a.to_dict() for a in output.actions] if not output.failed else [],
    }
    if output.failed:
        row["error"] = output.error
    row.update(output.record_fields())
    row["latency_s"] = round(latency, 4)
    return row


def _failure(task: Task, exc: BaseException) -> Any:
    from visualact_env.agent import AgentOutput

    return AgentOutput(error=f"{type(exc).__name__}: {exc}")


def _never() -> bool:
    return False


def _act_sync(
    agent: Any,
    tasks: list[Task],
    queue: Any,
    sampler: Any,
    batch_size: int,
    emit: Callable,
    stop: Callable[[], bool] = _never,
) -> None:
    """Take ``batch_size`` tasks at a time from ``queue`` (indices into ``tasks``) and act."""
    while True:
        if stop():  # a limit was reached: nothing new starts
            return
        chunk = [tasks[i] for i in queue.take(max(1, batch_size))]
        if not chunk:
            return
        observations, ready = [], []
        for task in chunk:
            try:
                observations.append(_observation(task.record, sampler))
                ready.append(task)
            except Exception as exc:  # a clip that cannot be read is this video's failure
                emit(task, _failure(task, exc), 0.0)
        if not ready:
            continue
        t0 = time.perf_counter()
        try:
            if len(ready) == 1:
                outputs = [agent.act(observations[0], _info(ready[0]))]
            else:
                outputs = agent.act_batch(observations, [_info(t) for t in ready])
        except Exception as exc:
            outputs = [_failure(t, exc) for t in ready]
        latency = (time.perf_counter() - t0) / len(ready)
        for task, output in zip(ready, outputs, strict=True):
            emit(task, output, latency)


async def _act_async(
    agent: Any,
    tasks: list[Task],
    queue: Any,
    sampler: Any,
    concurrency: int,
    emit: Callable,
    stop: Callable[[], bool] = _never,
) -> None:
    """``concurrency`` workers, each taking the next task from ``queue`` when it is free."""

    async def take() -> list[int]:
        return await asyncio.to_thread(queue.take, 1) if queue.blocking else queue.take(1)

    async def worker() -> None:
        while True:
            if stop():  # a limit was reached: requests in flight finish, no new one starts
                return
            taken = await take()
            if not taken:
                return
            task = tasks[taken[0]]
            t0 = time.perf_counter()
            try:
                observation = await asyncio.to_thread(_observation, task.record, sampler)
                output = await agent.aact(observation, _info(task))
            except Exception as exc:
                output = _failure(task, exc)
            emit(task, output, time.perf_counter() - t0)

    await asyncio.gather(*(worker() for _ in range(max(1, min(concurrency, len(tasks))))))


def _is_async(agent: Any) -> bool:
    from visualact_env.agent import Agent

    return type(agent).aact is not Agent.aact


def default_out(config: EvalConfig) -> Path:
    agent = strip_credentials(config.agent)  # a folder name is shown everywhere
    slug = "".join(c if c.isalnum() or c in "-_." else "-" for c in agent).strip("-")[:60]
    data = Path(config.data).stem if config.data not in ("demo", "synthetic-full") else config.data
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    return Path("runs") / f"{slug}-{data}-{stamp}"


_SECRET_OPTION = re.compile(
    r"(^|_)(api_?key|key|token|secret|password|credentials?)$", re.IGNORECASE
)


def _recorded_eval_config(config: EvalConfig) -> dict[str, Any]:
    """The command's options as recorded in ``config.json``, without secrets: an API key
    passed as an agent option, or credentials in a server URL, are never written."""
    recorded = {
        k: (list(v) if isinstance(v, tuple) else str(v) if isinstance(v, Path) else v)
        for k, v in asdict(config).items()
    }
    recorded["agent"] = strip_credentials(str(config.agent))
    recorded["agent_options"] = {
        k: "***" if _SECRET_OPTION.search(str(k)) else v
        for k, v in (config.agent_options or {}).items()
    }
    return recorded


NOT_REUSED: tuple[str, ...] = ("out", "resume", "overwrite", "progress", "reports")
"""Options a resume never takes from the recorded run (they say what this command does)."""


def _from_recorded(value: Any, hint: Any) -> Any:
    """A value of ``config.json``'s ``eval_config`` back in its field's type (JSON lists were
    tuples)."""
    if isinstance(value, list) and "tuple" in str(hint):
        return tuple(tuple(v) if isinstance(v, list) else v for v in value)
    return value


def resume_options(config: EvalConfig, given: Collection[str]) -> EvalConfig:
    """``config`` with every option not ``given`` on the command line taken from the run it
    resumes (``config.json``'s ``eval_config``): ``visualact eval --out RUN --resume`` needs no
    other option. Agent options merge key by key (given ones win); a recorded secret (written as
    ``***``) is never reused, so the key comes from the environment or the command line again.
    Options that change the run's identity are then checked as always (a difference is refused
    and shown). Unchanged when not resuming or when ``--out`` holds no run yet."""
    import typing

    if not config.resume or config.out is None or not (Path(config.out) / CONFIG_FILE).is_file():
        return config
    recorded = load_config(config.out).get("eval_config")
    if not isinstance(recorded, dict):
        return config
    hints = typing.get_type_hints(EvalConfig)
    changes: dict[str, Any] = {}
    for f in fields(EvalConfig):
        if f.name in NOT_REUSED or f.name not in recorded:
            continue
        if f.name == "agent_options":
            kept = {k: v for k, v in (recorded[f.name] or {}).items() if v != "***"}
            changes[f.name] = {**kept, **config.agent_options}
        elif f.name not in given:
            changes[f.name] = _from_recorded(recorded[f.name], hints[f.name])
    return replace(config, **changes)


def build_run_config(
    config: EvalConfig, benchmark: Benchmark, agent: Any, sampler: Any, embedder_id: str
) -> dict[str, Any]:
    """The run's ``config.json``: credentials in URLs are stripped from every string in it
    (an agent's own config included), so that summaries and reports never show them."""
    agent_config = dict(agent.config())
    if not agent_config.get("spec"):
        agent_config["spec"] = config.agent
    return strip_credentials_in(
        {
            "agent": agent_config,
            "prompt": agent_config.get("prompt"),
            "sampler": sampler.to_dict(),
            "embedder": embedder_id,
            "tau": config.tau,
            "data": {
                "name": benchmark.name,
                "path": str(benchmark.path.resolve()) if benchmark.path else None,
                "spec": config.data,
                "fingerprint": benchmark.fingerprint,
                "num_videos": len(benchmark),
            },
            "selection": {
                "scenarios": list(normalize_scenarios(config.scenarios)),
                "limit": config.limit,
                "limit_rule": "stratified",
            },
            "samples": config.samples,
            "seed": config.seed,
            "shard": f"{config.shard[0]}/{config.shard[1]}" if config.shard else None,
            "versions": package_versions(),
            "git_commit": git_commit(),
            "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "eval_config": _recorded_eval_config(config),
            "label": config.label,
        }
    )


def _prepare_folder(
    out: Path, run_config: dict[str, Any], config: EvalConfig, log: Callable[[str], None]
) -> list[Any]:
    """Create or check the run folder (status ``running``); return the prediction records
    already done (when resuming)."""
    config_path = out / CONFIG_FILE
    if config_path.exists() and not config.overwrite:
        if not config.resume:
            raise RunError(
                f"{out} already holds a run; pass --resume to continue it or --overwrite to replace it"
            )
        old = load_config(out)
        diffs = config_mismatch(old, run_config)
        if diffs:
            raise RunError(
                f"cannot resume {out}: its config differs from this command's:\n  "
                + "\n  ".join(diffs)
                + "\nrun with the original options, or choose another --out"
            )
        if config.label and old.get("label") != config.label:
            write_config(out, {**old, "label": config.label})  # a name, not part of the result
        fold_parts(out)  # records of an earlier distributed launch, any world size
        done = recover_predictions(out / PREDICTIONS_FILE, log=log)
        set_status(out, "running")
        return done
    if config.overwrite and out.exists():
        for name in (
            PREDICTIONS_FILE,
            SUMMARY_FILE,
            SCORES_FILE,
            SAMPLES_FILE,
            REPORT_MD,
            REPORT_HTML,
        ):
            (out / name).unlink(missing_ok=True)
        for part in (out / PARTS_DIR).glob("predictions.rank*.jsonl"):
            part.unlink()
    out.mkdir(parents=True, exist_ok=True)
    write_config(out, run_config)
    return []


def _final_status(out: Path, status: Any, reason: str) -> None:
    """Record how a run ended; never masks the error that ended it."""
    try:
        set_status(out, status, reason)
    except Exception as e:  # a full disk or a damaged config: the original error matters more
        if not (isinstance(e, OSError) and e.errno in DISK_FULL_ERRNOS):
            print(f"warning: could not record status {status!r} in {out}: {e}", file=sys.stderr)


def _check_leakage(
    config: EvalConfig, records: Sequence[VideoRecord], log: Callable[[str], None]
) -> None:
    """Warn (or with ``strict``, refuse) when an ``hf:`` checkpoint was trained on these videos."""
    from .splits import overlap_with_training

    try:
        overlap = overlap_with_training(config.agent, [r.video_id for r in records])
    except (ValueError, OSError) as e:
        raise RunError(f"cannot read the checkpoint's training record: {e}") from e
    if not overlap:
        return
    shown = ", ".join(overlap[:5]) + (" ..." if len(overlap) > 5 else "")
    message = (
        f"{len(overlap)} of the {len(records)} evaluated videos were used to train "
        f"{strip_credentials(config.agent)} ({shown}): its scores on them are not held-out results"
    )
    if config.strict:
        raise RunError(message + " (--strict)")
    log("WARNING: " + message + "; evaluate on a validation split (visualact data split)")


def _preflight(agent: Any) -> None:
    """One request to the agent's server before a run starts (agents with ``preflight()``): an
    unreachable endpoint is one clear error naming its URL, not a run of failed videos."""
    check = getattr(agent, "preflight", None)
    if not callable(check):
        return
    try:
        check()
    except OSError as e:  # ConnectionError: names the URL, credentials stripped
        raise RunError(str(e)) from None


def _stopper(
    config: EvalConfig,
    done_rows: Sequence[dict[str, Any]],
    tasks: int,
    out: Path,
    clear: bool = True,
) -> Any:
    """The limits of this invocation over the run folder's records (:mod:`visualact_env.budget`);
    a previous early stop is forgotten (``clear``): the run goes on until a limit says otherwise.
    Under a launch each process checks the limits over the records it sees (rank 0: the run's
    earlier ones and its own; the others: their own), and a stop by one stops them all."""
    from .budget import Limits, Stopper, failure_threshold

    if clear:
        clear_stop(out)
    limits = Limits(
        max_cost=config.max_cost,
        max_total_tokens=config.max_total_tokens,
        max_failures=failure_threshold(config.max_failures, tasks),
        price_input=config.price_input,
        price_output=config.price_output,
    )
    return Stopper(limits, done_rows)


def _record_stop(out: Path, stopper: Any, total: int, log: Callable[[str], None]) -> None:
    """Write ``stopped.json`` and say on the terminal why the run stopped and how to go on."""
    from .jsonio import iter_jsonl

    done = sum(1 for _, row, err in iter_jsonl(out / PREDICTIONS_FILE) if not err)
    info = {
        **stopper.to_dict(),
        "answers": done,
        "total": total,
        "time": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "resume": f"visualact eval --out {out} --resume",
    }
    write_stop(out, info)
    log(
        f"STOPPED: {stopper.reason}; {done} of {total} answers are in {out}. The folder is "
        f"resumable: visualact eval --out {out} --resume (with a higher limit)"
    )


def failed_videos(run_dir: str | Path) -> list[str]:
    """Ids of the videos (samples) of a run folder whose record is a failure (``error`` set):
    what ``visualact eval --resume`` retries, and what makes ``eval`` exit 1."""
    path = Path(run_dir) / PREDICTIONS_FILE
    if not path.exists():
        return []
    return [r.video_id for r in read_predictions(path) if r.failed]


def _agent_options(config: EvalConfig) -> dict[str, Any]:
    options = dict(config.agent_options)
    for key in ("temperature", "max_tokens", "prompt"):
        value = getattr(config, key)
        if value is not None:
            options[key] = value
    options.setdefault("seed", config.seed)
    options.setdefault("concurrency", config.concurrency)
    return options


def _comparable_agent(agent_config: dict[str, Any]) -> dict[str, Any]:
    """An agent's config without where it runs (each process has its own GPU)."""
    return {k: v for k, v in agent_config.items() if k != "device"}


@dataclass
class _Plan:
    """What rank 0 decided and every process follows: the folder and the pending tasks."""

    out: Path
    tasks: list[Task]
    total: int
    done: int
    stopper: Any


def _make_plan(
    config: EvalConfig,
    benchmark: Benchmark,
    records: list[VideoRecord],
    agent: Any,
    sampler: Any,
    log: Callable[[str], None],
    hold: contextlib.ExitStack,
) -> _Plan:
    """Rank 0 (or the only process): take the run folder's lock (held on ``hold`` until the
    run ends; the other ranks of a launch only write their own parts under it), prepare the
    folder and list the tasks still to do."""
    from .embedding import Embedder

    embedder_id = Embedder(config.embedder).identity
    out = Path(config.out) if config.out else default_out(config)
    run_config = build_run_config(config, benchmark, agent, sampler, embedder_id)
    # one writer per run folder: a second one is refused, naming us
    hold.enter_context(RunLock(out))
    fresh = config.overwrite or not (out / CONFIG_FILE).exists()
    if fresh:
        _preflight(agent)  # before anything is written (or an --overwrite deletes anything)
    done_rows = _prepare_folder(out, run_config, config, log)
    done = {r.key for r in done_rows}
    tasks = [
        Task(rec, k, derived_seed(config.seed, rec.video_id, k))
        for rec in records
        for k in range(config.samples)
        if (rec.video_id, k) not in done
    ]
    total = len(records) * config.samples
    if not fresh and tasks:
        _preflight(agent)
    if done:
        log(f"resuming {out}: {len(done)} of {total} done, {len(tasks)} to go")
    else:
        log(
            f"running {strip_credentials(config.agent)} on {benchmark.name} "
            f"({len(records)} videos x {config.samples} samples) -> {out}"
        )
    stopper = _stopper(config, [r.to_json() for r in done_rows], len(tasks), out)
    return _Plan(out, tasks, total, total - len(tasks), stopper)


def _share_plan(
    coordinator: Any, plan: _Plan | None, error: str | None, agent_config: dict[str, Any]
) -> None:
    """Rank 0: publish the plan (or the reason there is none) for the other processes."""
    if plan is None:
        coordinator.publish("plan", {"error": error})
        return
    coordinator.publish(
        "plan",
        {
            "out": str(plan.out),
            "tasks": [[t.record.video_id, t.sample] for t in plan.tasks],
            "total": plan.total,
            "agent": _comparable_agent(agent_config),
        },
    )


def _follow_plan(
    coordinator: Any, config: EvalConfig, records: list[VideoRecord], agent_config: dict[str, Any]
) -> _Plan:
    """Other ranks: rank 0's plan, after checking that this process runs the same agent."""
    rank = coordinator.launch.rank
    shared = coordinator.fetch("plan")
    if shared.get("error"):
        raise RunError(f"rank {rank}: rank 0 could not start the run: {shared['error']}")
    mine = json.loads(json.dumps(_comparable_agent(agent_config)))
    if mine != shared["agent"]:
        keys = sorted(
            k for k in set(mine) | set(shared["agent"]) if mine.get(k) != shared["agent"].get(k)
        )
        raise RunError(
            f"rank {rank}: this process's agent differs from rank 0's in {', '.join(keys)} "
            "(another model, checkpoint or option on this node?)"
        )
    by_id = {r.video_id: r for r in records}
    tasks = [Task(by_id[v], k, derived_seed(config.seed, v, k)) for v, k in shared["tasks"]]
    out, total = Path(shared["out"]), int(shared["total"])
    stopper = _stopper(config, (), len(tasks), out, clear=False)
    return _Plan(out, tasks, total, total - len(tasks), stopper)


def _queue(plan: _Plan, launch: Any, coordinator: Any, hand_out: str) -> Any:
    from .distributed import LocalQueue

    n = len(plan.tasks)
    if coordinator is None:
        return LocalQueue(n)
    if hand_out == "static":
        return LocalQueue(n, range(launch.rank, n, launch.world_size))
    return coordinator.queue(n)


def _agent_stats(agent: Any, log: Callable[[str], None]) -> dict[str, Any] | None:
    """The agent's ``run_stats()`` when it has one (the OpenAI agent: per-server counts),
    recorded with the launch; servers that failed are named on the terminal."""
    run_stats = getattr(agent, "run_stats", None)
    if not callable(run_stats):
        return None
    try:
        found = dict(run_stats() or {})
    except Exception as e:  # noqa: BLE001 - bookkeeping never fails a run
        log(f"warning: the agent's run_stats() failed: {type(e).__name__}: {e}")
        return None
    for server in found.get("servers") or []:
        if server.get("failures"):
            log(
                f"server {server['url']}: {server['failures']} unanswered attempt(s), out of "
                f"rotation {server['outages']} time(s); {server['answered']} answered"
            )
    return found or None


class _PeerStop:
    """The limit another process of the launch stopped at (what rank 0 records)."""

    def __init__(self, info: dict[str, Any]) -> None:
        self.info = info
        self.reason = info.get("reason")

    def to_dict(self) -> dict[str, Any]:
        return dict(self.info)


def _record_launch(out: Path, record: dict[str, Any]) -> None:
    """Append this launch (world size, per-rank timing) to ``config.json``'s ``launches``."""
    run_config = load_config(out)
    run_config["launches"] = [*(run_config.get("launches") or []), record]
    write_config(out, run_config)


def _log_failures(path: Path, log: Callable[[str], None]) -> None:
    failures = [f"{r.video_id}: {r.error}" for r in read_predictions(path) if r.failed]
    if failures:
        log(
            f"{len(failures)} video(s) failed (scored as empty; rerun the same command with "
            f"--out {path.parent} --resume to retry them):"
        )
        for line in failures[:20]:
            log(f"  {line}")


def _stopped_message(stop: BaseException, videos: int, out: Path, launched: bool) -> str:
    """What an interrupted process says: why it stopped and how to finish the run."""
    from .distributed import LaunchStopped

    if isinstance(stop, LaunchStopped):
        why = "stopped by the launcher (another process of this launch failed or was stopped)"
    else:
        why = "interrupted"
    how = "the same launch" if launched else "the same command"
    return (
        f"{why}: the {videos} record(s) this process wrote are kept; rerun {how} "
        f"with --out {out} --resume to finish the run"
    )


def run_eval(config: EvalConfig, *, log: Callable[[str], None] | None = None) -> Path:
    """Run ``config`` to completion and return the run folder.

    Under ``torchrun`` / ``accelerate launch`` every process calls this; they share the work
    (see :mod:`visualact_env.distributed`) and rank 0 writes the one run folder's results.
    """
    from .datasets import load_benchmark
    from .distributed import Coordinator, detect_launch

    log = log or (lambda msg: print(msg, file=sys.stderr))
    check_config(config)
    launch = detect_launch()
    if launch.distributed:
        rank_log = log
        log = lambda msg: rank_log(f"[rank {launch.rank}] {msg}")  # noqa: E731
    benchmark = load_benchmark(config.data)
    records = select_records(benchmark, config)
    if not records:
        raise RunError("no videos selected (check --scenarios, --limit and --shard)")
    if launch.is_main:
        _check_leakage(config, records, log)
    sampler = eval_sampler(config)
    coordinator = Coordinator.join(launch) if launch.distributed else None
    try:
        return _run_launch(config, benchmark, records, sampler, launch, coordinator, log)
    finally:
        if coordinator is not None:
            coordinator.close()


def _disk_full_message(e: OSError, out: Path | None) -> str:
    """One line for a full disk (or quota, or read-only mount) under the run folder."""
    where = f" ({e.filename})" if e.filename else ""
    folder = f"the run folder {out}" if out else "the run folder"
    again = f"--out {out} --resume" if out else "--out RUN --resume"
    return (
        f"cannot write {folder}{where}: {e.strerror or e}; free some space, then rerun the "
        f"same command with {again} to finish it"
    )


def _record_status(
    out: Path, records: Sequence[VideoRecord], config: EvalConfig, stopped_at: str | None
) -> None:
    """The run's final status in ``config.json``: complete, incomplete or failed, and why."""
    expected = [(r.video_id, k) for r in records for k in range(config.samples)]
    shard = f"{config.shard[0]}/{config.shard[1]}" if config.shard else None
    status, reason = completion_status(expected, read_predictions(out / PREDICTIONS_FILE), shard)
    if stopped_at and status != "complete":
        reason = f"stopped early: {stopped_at}; {reason}"
    set_status(out, status, reason)


def _run_launch(
    config: EvalConfig,
    benchmark: Benchmark,
    records: list[VideoRecord],
    sampler: Any,
    launch: Any,
    coordinator: Any,
    log: Callable[[str], None],
) -> Path:
    from .distributed import RankStats, launch_record, on_sigterm
    from .registry import make_agent

    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    try:
        agent = make_agent(config.agent, **_agent_options(config))
    except (ValueError, TypeError, ImportError, AttributeError, OSError) as e:
        raise RunError(strip_credentials(f"cannot build agent {config.agent!r}: {e}")) from e
    previous_handler = on_sigterm() if coordinator is not None else None
    hold = contextlib.ExitStack()
    out: Path | None = Path(config.out) if config.out else None
    try:
        agent.setup(benchmark, sampler)
        agent_config = dict(agent.config())
        if launch.is_main:
            try:
                plan = _make_plan(config, benchmark, records, agent, sampler, log, hold)
            except RunError as e:
                if coordinator is not None:
                    _share_plan(coordinator, None, str(e), agent_config)
                raise
            if coordinator is not None:
                _share_plan(coordinator, plan, None, agent_config)
        else:
            plan = _follow_plan(coordinator, config, records, agent_config)
        out = plan.out
        queue = _queue(plan, launch, coordinator, config.hand_out)
        stats = RankStats(launch.rank, launch.local_rank, device=agent_config.get("device"))
        progress = Progress(
            plan.total,
            plan.done,
            config.progress if launch.is_main else False,
            samples=config.samples,
        )
        path = out / PREDICTIONS_FILE
        if coordinator is not None:
            path = part_path(out, launch.rank)
            path.parent.mkdir(parents=True, exist_ok=True)
        writer = PredictionWriter(path)
        t0 = time.perf_counter()

        stopper = plan.stopper

        broken: list[OSError] = []

        def emit(task: Task, output: Any, latency: float) -> None:
            if broken:  # after a failed write, another could join a torn line: none is tried
                raise broken[0]
            row = _record(task, output, latency)
            try:
                writer.write(row)
            except OSError as e:
                broken.append(e)
                raise
            was_stopped = stopper.stopped
            stopper.record(row)
            if coordinator is not None and stopper.stopped and not was_stopped:
                coordinator.publish("stop", stopper.to_dict())  # every process stops
            stats.add(output.failed, latency)
            progress.update(output.failed, bool(getattr(output, "parse_error", None)))

        def stop() -> bool:
            if stopper.stopped:
                return True
            return coordinator is not None and coordinator.has("stop")

        try:
            stats.start()
            try:
                if _is_async(agent):
                    asyncio.run(
                        _act_async(
                            agent, plan.tasks, queue, sampler, config.concurrency, emit, stop
                        )
                    )
                else:
                    _act_sync(agent, plan.tasks, queue, sampler, config.batch_size, emit, stop)
            finally:
                try:
                    writer.close()
                except OSError:
                    if not broken:  # the failed write is the error to report, not its echo
                        raise
                progress.close()
                stats.agent = _agent_stats(agent, log)
            if coordinator is not None:
                coordinator.finish(stats)
                if not launch.is_main:
                    log(f"done: {stats.videos} video(s) in {stats.work_s:.1f}s")
                    return out
                ranks = coordinator.wait_all()
                fold_parts(out)
            else:
                ranks = [stats.to_dict()]
        except KeyboardInterrupt as interrupt:  # not `stop`: that name is the stop check above
            log(_stopped_message(interrupt, stats.videos, out, coordinator is not None))
            if launch.is_main:
                _final_status(out, "incomplete", "interrupted (finish it with --resume)")
            raise
        except BaseException as e:
            if launch.is_main:
                if isinstance(e, OSError) and e.errno in DISK_FULL_ERRNOS:  # resumable
                    _final_status(out, "incomplete", f"stopped: {e.strerror} (then --resume)")
                else:
                    _final_status(out, "failed", f"{type(e).__name__}: {e}")
            raise
        order_predictions(out / PREDICTIONS_FILE, records)
        stopped_at = None
        if stopper.stopped:
            _record_stop(out, stopper, plan.total, log)
            stopped_at = stopper.reason
        elif coordinator is not None and coordinator.has("stop"):
            peer = _PeerStop(coordinator.fetch("stop"))
            _record_stop(out, peer, plan.total, log)
            stopped_at = peer.reason
        _record_status(out, records, config, stopped_at)
        _record_launch(
            out,
            launch_record(
                launch, config.hand_out, ranks, time.perf_counter() - t0, started, plan.done
            ),
        )
        _log_failures(out / PREDICTIONS_FILE, log)
        if config.reports:
            from .report import write_reports

            write_reports(
                out, benchmark.subset(video_ids=[r.video_id for r in records]), html=config.html
            )
        return out
    except OSError as e:
        if e.errno not in DISK_FULL_ERRNOS:
            raise
        raise RunError(_disk_full_message(e, out)) from None
    finally:
        hold.close()  # the run folder's lock
        if previous_handler is not None:
            import signal

            signal.signal(signal.SIGTERM, previous_handler)
        agent.close()

"""The human baseline: a participant acts in the same environment as a model.

Each participant gets the study's clips in an order seeded by ``(seed, participant)`` and sees,
per clip, exactly the frames a model receives under the study's sampler (the runner's default
unless ``--frames``/``--frame-rule`` say otherwise), or, in the ``full-clip`` condition chosen at
the start, the whole clip. Never the scenario, the video id or the ground truth.

Answers go to an ordinary run folder, ``<runs>/human-<participant>[-full-clip]``: its
``config.json`` is the runner's (:func:`visualact_env.runner.build_run_config`, agent
``human:<participant>``) plus a ``human`` block (participant, condition, what was shown, the
clip order), and each submission is one ``predictions.jsonl`` record appended and fsynced by
:class:`~visualact_env.rundir.PredictionWriter`, with the seconds spent on the clip as
``latency_s``. Each write holds the folder's :class:`~visualact_env.runlock.RunLock`: while
another process writes there (``visualact report`` on it, say) a submission is refused with a
message and can be sent again; nothing interleaves. A torn last line (a crash mid-write) is dropped on the next read
(:func:`~visualact_env.rundir.recover_predictions`), so a submission is fully written or not at
all. ``visualact report``, ``score`` and ``compare`` read the folder like any model's run.
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..records import Benchmark, VideoRecord
from ..rundir import (
    CONFIG_FILE,
    PREDICTIONS_FILE,
    PredictionWriter,
    config_mismatch,
    load_config,
    recover_predictions,
    select_videos,
    write_config,
)

PARTICIPANT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$")
"""Participant and annotator ids: letters, digits, ``_ . -``; at most 40 characters."""

CONDITIONS: dict[str, str] = {
    "sampled": "the frames a model receives (the study's frame sampler)",
    "full-clip": "the whole clip, played as a video",
}


class StudyError(ValueError):
    """A participant id, condition or submission the study refuses (shown to the participant)."""


def check_participant(pid: str) -> str:
    """``pid`` when it is a valid id, else :class:`StudyError`."""
    if not isinstance(pid, str) or not PARTICIPANT.match(pid):
        raise StudyError(
            "participant id: use 1-40 letters, digits, '_', '.' or '-' (starting with a letter "
            "or digit)"
        )
    return pid


def clip_order(video_ids: Sequence[str], seed: int, participant: str) -> list[str]:
    """The participant's clip order: sorted by ``sha256(seed, participant, video id)``, so it is
    fixed for a participant, differs between participants and needs no stored state."""

    def key(vid: str) -> str:
        return hashlib.sha256(f"{seed}\0{participant}\0{vid}".encode()).hexdigest()

    return sorted(video_ids, key=key)


class _HumanAgent:
    """The agent config of a human run (what :func:`build_run_config` records)."""

    def __init__(self, participant: str, condition: str):
        self.participant = participant
        self.condition = condition

    def config(self) -> dict[str, Any]:
        label = f"human:{self.participant}"
        if self.condition != "sampled":
            label += f" ({self.condition})"
        return {
            "name": "human",
            "spec": f"human:{self.participant}",
            "label": label,
            "participant": self.participant,
            "condition": self.condition,
        }


@dataclass
class Clip:
    """One clip of a participant's sequence (``position`` is 1-based)."""

    position: int
    total: int
    record: VideoRecord
    answered: bool


class Study:
    """The human study over one benchmark; one run folder per (participant, condition)."""

    def __init__(
        self,
        benchmark: Benchmark,
        runs_root: Path,
        *,
        data_spec: str,
        frame_options: Mapping[str, Any] | None = None,
        tau: float,
        embedder: str | None,
        seed: int = 0,
        scenarios: Sequence[str] = (),
        limit: int | None = None,
    ):
        self.benchmark = benchmark
        self.runs_root = Path(runs_root)
        self.data_spec = data_spec
        self.frame_options = dict(frame_options or {})
        self.tau = tau
        self.embedder = embedder
        self.seed = seed
        self.scenarios = tuple(scenarios)
        self.limit = limit
        self.records = select_videos(benchmark, self.scenarios, limit)
        self._locks: dict[Path, threading.Lock] = {}
        self._guard = threading.Lock()
        self._shown: dict[tuple[Path, str], float] = {}
        self._embedder_id: str | None = None
        from ..runner import eval_sampler

        self.sampler = eval_sampler(self._eval_config("-"))
        """The frame sampler: the runner's, built from the same options (``RunError`` when they
        do not combine)."""

    # -- folders and configs ---------------------------------------------------------------

    def run_dir(self, participant: str, condition: str) -> Path:
        """``<runs>/human-<participant>`` (``-full-clip`` appended for that condition)."""
        check_participant(participant)
        if condition not in CONDITIONS:
            raise StudyError(f"unknown condition {condition!r}; choose from {list(CONDITIONS)}")
        suffix = "" if condition == "sampled" else f"-{condition}"
        return self.runs_root / f"human-{participant}{suffix}"

    def lock(self, run_dir: Path) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(run_dir.resolve(), threading.Lock())

    def _eval_config(self, participant: str) -> Any:
        from ..runner import EvalConfig

        return EvalConfig(
            agent=f"human:{participant}",
            data=self.data_spec,
            **self.frame_options,
            scenarios=self.scenarios,
            limit=self.limit,
            seed=self.seed,
            tau=self.tau,
            embedder=self.embedder,
            progress=False,
        )

    def build_config(self, participant: str, condition: str) -> dict[str, Any]:
        """The run's ``config.json``: the runner's layout plus the ``human`` block."""
        from ..embedding import Embedder
        from ..runner import build_run_config

        if self._embedder_id is None:
            self._embedder_id = Embedder(self.embedder).identity
        agent = _HumanAgent(participant, condition)
        config = build_run_config(
            self._eval_config(participant), self.benchmark, agent, self.sampler, self._embedder_id
        )
        shown = (
            f"{self.sampler.describe()}, as a model receives them"
            if condition == "sampled"
            else "the whole clip, played as a video (models see sampled frames only)"
        )
        config["human"] = {
            "participant": participant,
            "condition": condition,
            "observation": shown,
            "hidden": "scenario, video id and ground truth are never shown",
            "order": clip_order([r.video_id for r in self.records], self.seed, participant),
            "order_rule": "sha256(seed, participant, video_id) ascending",
            "interface": "visualact serve",
        }
        return config

    def start(self, participant: str, condition: str) -> Path:
        """Create the participant's run folder, or check an existing one fits this study."""
        from ..runlock import RunLock

        run_dir = self.run_dir(participant, condition)
        config = self.build_config(participant, condition)
        with self.lock(run_dir), RunLock(run_dir):
            if (run_dir / CONFIG_FILE).is_file():
                old = load_config(run_dir)
                diffs = config_mismatch(old, config)
                if (old.get("human") or {}).get("order") != config["human"]["order"]:
                    diffs.append("human.order: the clip order differs")
                if diffs:
                    raise StudyError(
                        f"participant {participant!r} already has a run in {run_dir} made with "
                        "other settings (" + "; ".join(diffs) + "): use another participant id "
                        "or restart the server with the original options"
                    )
                recover_predictions(run_dir / PREDICTIONS_FILE)
            else:
                run_dir.mkdir(parents=True, exist_ok=True)
                write_config(run_dir, config)
        return run_dir

    # -- progress ----------------------------------------------------------------------------

    def order(self, run_dir: Path) -> list[str]:
        """The recorded clip order of a participant's run."""
        return list(load_config(run_dir)["human"]["order"])

    def answers(self, run_dir: Path) -> dict[str, dict[str, Any]]:
        """``{video_id: record}`` of the submitted clips (a torn last line is dropped)."""
        with self.lock(run_dir):
            rows = recover_predictions(run_dir / PREDICTIONS_FILE)
        return {r.video_id: r.to_json() for r in rows}

    def clips(self, run_dir: Path) -> list[Clip]:
        """The participant's sequence with what is answered."""
        order = self.order(run_dir)
        done = self.answers(run_dir)
        total = len(order)
        return [Clip(i + 1, total, self.benchmark[vid], vid in done) for i, vid in enumerate(order)]

    def next_position(self, run_dir: Path) -> int | None:
        """The first unanswered position (1-based), or None when every clip is answered."""
        for clip in self.clips(run_dir):
            if not clip.answered:
                return clip.position
        return None

    def clip(self, run_dir: Path, position: int) -> Clip:
        """The clip at ``position`` (StudyError outside 1..total)."""
        clips = self.clips(run_dir)
        if not 1 <= position <= len(clips):
            raise StudyError(f"no clip {position}: the study has {len(clips)} clips")
        return clips[position - 1]

    def shown(self, run_dir: Path, video_id: str) -> None:
        """Note when a clip was first shown (the clock of its ``latency_s``)."""
        self._shown.setdefault((run_dir.resolve(), video_id), time.monotonic())

    # -- submitting ----------------------------------------------------------------------------

    def submit(
        self, run_dir: Path, position: int, actions: list[dict[str, Any]], *, client_ms: int | None
    ) -> dict[str, Any]:
        """Append the answer to clip ``position``; StudyError if it was answered already.

        ``latency_s`` is the server's clock from the clip's first showing to this submission
        (survives reloads; restarts at a server restart), ``client_active_s`` the browser's
        count of visible time when it sent one.
        """
        from ..runlock import RunLock

        clip = self.clip(run_dir, position)
        vid = clip.record.video_id
        with self.lock(run_dir), RunLock(run_dir):
            done = {r.video_id for r in recover_predictions(run_dir / PREDICTIONS_FILE)}
            if vid in done:
                raise StudyError(f"clip {position} was already submitted")
            started = self._shown.get((run_dir.resolve(), vid))
            row: dict[str, Any] = {
                "video_id": vid,
                "sample": 0,
                "actions": [
                    {"text": a["text"], "apl": a["apl"], "proactive": a["proactive"]}
                    for a in actions
                ],
            }
            if started is not None:
                row["latency_s"] = round(time.monotonic() - started, 3)
            if client_ms is not None:
                row["client_active_s"] = round(client_ms / 1000.0, 3)
            writer = PredictionWriter(run_dir / PREDICTIONS_FILE)
            try:
                writer.write(row)
            finally:
                writer.close()
        return row

    def finish(self, run_dir: Path) -> dict[str, Any]:
        """Write the run's reports (summary, tables, HTML) and return the summary."""
        from ..report import write_reports
        from ..rundir import order_predictions, set_status
        from ..runlock import RunLock

        with self.lock(run_dir), RunLock(run_dir):
            order_predictions(run_dir / PREDICTIONS_FILE, self.records)
            summary = write_reports(run_dir, n_resamples=1000)
            set_status(run_dir, summary["status"], summary["status_reason"])
            return summary

"""The run browser's data: run folders under ``--runs``, their figures, one video in detail, and
two runs compared video by video.

Nothing here writes into a run folder except :func:`write_run_reports` (an explicit action).
Scores come from ``scores.jsonl`` when the run has reports; a run without them (running,
incomplete, human) is scored on the fly with the run's own embedding model and tau, cached per
state of its predictions file.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import DataError
from ..rundir import (
    CONFIG_FILE,
    PREDICTIONS_FILE,
    REPORT_HTML,
    RunError,
    load_config,
    read_summary,
)
from .security import PathRefused, safe_join

MAX_DEPTH = 3
"""How deep under ``--runs`` run folders are looked for (sweeps nest runs one level)."""

HEADLINE = ("f1", "weighted_f1", "scale_score")


@dataclass
class RunEntry:
    """One run folder as the list shows it."""

    rid: str
    path: Path
    agent: str = ""
    data: str = ""
    status: str = "incomplete"
    figures: dict[str, float | None] = field(default_factory=dict)
    videos: int | None = None
    predictions: int = 0
    started: str = ""
    error: str | None = None
    has_report: bool = False


def _iter_run_dirs(root: Path, depth: int = 0) -> Iterator[Path]:
    try:
        children = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    except OSError:
        return
    for child in children:
        if (child / CONFIG_FILE).is_file():
            yield child
        elif depth + 1 < MAX_DEPTH:
            yield from _iter_run_dirs(child, depth + 1)


def _count_lines(path: Path) -> int:
    try:
        with open(path, "rb") as f:
            return sum(1 for line in f if line.strip())
    except OSError:
        return 0


def _locked(path: Path) -> bool:
    """True when a live process holds the run's lock (:mod:`visualact_env.runlock`): read from
    the pid in the lock file, without taking the lock (a probe could refuse a starting writer).
    A lock file left by a killed process names a dead pid and does not count."""
    from ..runlock import lock_holder

    pid = lock_holder(path)
    if pid is None or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # alive, another user's
    return True


def run_status(path: Path, config: Mapping[str, Any], summary: Mapping[str, Any] | None) -> str:
    """``running`` (its lock is held), ``complete`` (a summary without failed or missing videos),
    else ``incomplete``; a status recorded by the run itself wins when present."""
    if _locked(path):
        return "running"
    recorded = (summary or {}).get("status") or config.get("status")
    # "running" recorded while nobody holds the lock: its writer is gone (killed or stopped)
    if isinstance(recorded, str) and recorded and recorded != "running":
        return recorded
    if summary is not None:
        counts = summary.get("counts") or {}
        if not counts.get("missing") and not counts.get("failed"):
            return "complete"
    return "incomplete"


def list_runs(root: Path) -> list[RunEntry]:
    """Every run folder under ``root`` (up to :data:`MAX_DEPTH` deep), sorted by path."""
    from ..report.summary import agent_label

    out = []
    base = root.resolve()
    for path in _iter_run_dirs(base):
        rid = path.relative_to(base).as_posix()
        entry = RunEntry(rid=rid, path=path)
        try:
            config = load_config(path)
            summary = read_summary(path)
        except DataError as e:
            entry.error = str(e)
            entry.status = "unreadable"
            out.append(entry)
            continue
        data = config.get("data") or {}
        entry.agent = agent_label(config)
        entry.data = str(data.get("name") or data.get("spec") or "")
        entry.videos = data.get("num_videos")
        entry.started = str(config.get("started") or "")
        entry.predictions = _count_lines(path / PREDICTIONS_FILE)
        entry.status = run_status(path, config, summary)
        entry.has_report = (path / REPORT_HTML).is_file()
        if summary is not None:
            overall = summary.get("overall") or {}
            entry.figures = {k: overall.get(k) for k in HEADLINE}
            entry.videos = (summary.get("counts") or {}).get("videos", entry.videos)
        out.append(entry)
    return out


def resolve_run(root: Path, rid: str) -> Path:
    """The run folder ``rid`` names under ``root`` (404 unless it is one)."""
    path = safe_join(root, rid)
    if not rid or not (path / CONFIG_FILE).is_file():
        raise PathRefused(f"no run {rid!r} under the runs folder")
    return path


# ---------------------------------------------------------------------------------------------
# Scoring, cached per predictions-file state


class Scoring:
    """Loads runs and scores them with each run's own model and tau, caching both."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._scorers: dict[tuple[str | None, float], Any] = {}
        self._runs: dict[Path, tuple[tuple[int, int, int], Any, Any]] = {}

    def scorer(self, config: Mapping[str, Any]) -> Any:
        """A :class:`~visualact_env.metric.Scorer` for the run's model and tau (shared)."""
        from ..embedding import Embedder
        from ..metric import Scorer

        model = (config.get("eval_config") or {}).get("embedder")
        key = (model, float(config["tau"]))
        with self._lock:
            if key not in self._scorers:
                self._scorers[key] = Scorer(Embedder(model), tau=key[1])
            return self._scorers[key]

    def _state(self, path: Path) -> tuple[int, int, int]:
        try:
            st = os.stat(path / PREDICTIONS_FILE)
            return (st.st_mtime_ns, st.st_size, st.st_ino)
        except OSError:
            return (0, 0, 0)

    def load(self, path: Path) -> tuple[Any, Any]:
        """``(Run, ScoreReport)`` of a run folder (scored on the fly, cached)."""
        from ..metric import score_predictions
        from ..report.summary import load_run

        state = self._state(path)
        cached = self._runs.get(path)
        if cached is not None and cached[0] == state:
            return cached[1], cached[2]
        run = load_run(path)
        report = score_predictions(run.benchmark, run.predictions, self.scorer(run.config))
        self._runs[path] = (state, run, report)
        return run, report


def load_error(e: Exception) -> str:
    """A message for a run that cannot be loaded (bad files, changed data)."""
    if isinstance(e, (DataError, RunError, ValueError, OSError)):
        return str(e)
    raise e


def video_rows(run: Any, report: Any) -> list[dict[str, Any]]:
    """One row per video of the run: id, scenario, status and figures."""
    rows = []
    for vid, vs in report.scores.items():
        rows.append(
            {
                "video_id": vid,
                "scenario": vs.scenario,
                "status": vs.status,
                "f1": vs.f1,
                "weighted_f1": vs.weighted_f1,
                "scale_score": vs.scale_score,
                "n_gt": vs.n,
                "n_pred": vs.m,
                "tp": vs.tp,
            }
        )
    return rows


def video_detail(scoring: Scoring, run: Any, video_id: str, near: float = 0.15) -> dict[str, Any]:
    """Everything about one video of a run: ground truth, proposals, the assignment with
    similarities (pairs below tau flagged as near misses), the full similarity matrix, raw
    model text and parse diagnostics."""
    record = run.benchmark[video_id]
    prediction = next(
        (p for p in run.predictions if p.video_id == video_id and not p.extra.get("sample")),
        None,
    )
    scorer = scoring.scorer(run.config)
    pred = list(prediction.actions) if prediction is not None and not prediction.failed else []
    gt = list(record.actions)
    vs = scorer.score_video(pred, gt, keep_similarity=True)
    tau = scorer.tau
    pairs = []
    for p in vs.pairs:
        kind = "match" if p.matched else ("near" if p.similarity >= tau - near else "far")
        pairs.append(
            {
                "pred": p.pred_index,
                "gt": p.gt_index,
                "similarity": p.similarity,
                "weight": p.weight,
                "matched": p.matched,
                "kind": kind,
            }
        )
    matrix = vs.similarity.tolist() if vs.similarity is not None and vs.similarity.size else []
    extra = dict(prediction.extra) if prediction is not None else {}
    return {
        "record": record,
        "gt": gt,
        "pred": pred,
        "prediction": prediction,
        "score": vs,
        "pairs": pairs,
        "matrix": matrix,
        "tau": tau,
        "near": near,
        "raw_text": extra.get("raw_text"),
        "diagnostics": extra.get("diagnostics"),
        "parse_error": extra.get("parse_error"),
        "error": prediction.error if prediction is not None else None,
        "extra": {
            k: v
            for k, v in extra.items()
            if k not in ("raw_text", "diagnostics", "parse_error", "sample")
        },
    }


def compare_videos(
    run_a: Any,
    report_a: Any,
    run_b: Any,
    report_b: Any,
    *,
    figure: str = "f1",
    scenario: str = "",
    query: str = "",
) -> dict[str, Any]:
    """Two runs on the same data, video by video: which wins on ``figure`` (ties within 1e-9),
    filtered by scenario and by a case-insensitive text search over the video id, the ground
    truth and both runs' proposals."""
    preds_a = {p.video_id: p for p in run_a.predictions if not p.extra.get("sample")}
    preds_b = {p.video_id: p for p in run_b.predictions if not p.extra.get("sample")}
    needle = query.strip().lower()
    rows = []
    totals = {"wins": 0, "losses": 0, "ties": 0}
    for vid, sa in report_a.scores.items():
        sb = report_b.scores.get(vid)
        if sb is None:
            continue
        if scenario and sa.scenario != scenario:
            continue
        record = run_a.benchmark[vid]
        pa, pb = preds_a.get(vid), preds_b.get(vid)
        if needle:
            texts = [vid, *(a.text for a in record.actions)]
            texts += [a.text for p in (pa, pb) if p is not None for a in p.actions]
            if not any(needle in t.lower() for t in texts):
                continue
        va, vb = float(getattr(sa, figure)), float(getattr(sb, figure))
        outcome = "win" if va > vb + 1e-9 else "loss" if vb > va + 1e-9 else "tie"
        totals[{"win": "wins", "loss": "losses", "tie": "ties"}[outcome]] += 1
        rows.append(
            {
                "video_id": vid,
                "scenario": sa.scenario,
                "a": va,
                "b": vb,
                "outcome": outcome,
                "status_a": sa.status,
                "status_b": sb.status,
            }
        )
    return {
        "rows": rows,
        "totals": totals,
        "only_a": sorted(set(report_a.scores) - set(report_b.scores)),
    }

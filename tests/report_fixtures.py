"""Synthetic run folders for the report, compare and browser tests.

Runs are written by hand on the real demo benchmark: an oracle run (every ground-truth action
predicted with its APL), a partial run (about half of the actions, some APLs off by one, a
failure, a missing video and a prediction whose text is an XSS attempt), and configs shaped like
the runner's ``config.json``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from visualact_env.embedding import default_model_path, model_identity
from visualact_env.records import Benchmark

BUILTIN = ("demo", "synthetic-full")
XSS_TEXT = "<script>window.__pwned = 1; alert(1)</script> close the door"
FAILED_ERROR = "APIError: 503 Service Unavailable after 3 attempts"


def run_config(
    benchmark: Benchmark, agent: str, *, tau: float = 0.5, fingerprint: str | None = None
) -> dict[str, Any]:
    """A ``config.json`` like :func:`visualact_env.runner.build_run_config` writes."""
    return {
        "agent": {"name": agent, "spec": agent},
        "prompt": {"version": "test-v1"},
        "sampler": {
            "num_frames": 4,
            "rule": "linspace",
            "size": None,
            "resize": "letterbox",
            "backend": "auto",
        },
        "embedder": model_identity(default_model_path()),  # what the runner records
        "tau": tau,
        "data": {
            "name": benchmark.name,
            "path": str(benchmark.path) if benchmark.path else None,
            "spec": benchmark.name if benchmark.name in BUILTIN else str(benchmark.path),
            "fingerprint": fingerprint or benchmark.fingerprint,
            "num_videos": len(benchmark),
        },
        "selection": {"scenarios": [], "limit": None},
        "samples": 1,
        "seed": 0,
        "shard": None,
        "versions": {"visualact": "0.1.0", "python": "3.11"},
        "git_commit": "0123456789abcdef",
    }


def write_run(folder: Path, config: dict[str, Any], predictions: list[dict[str, Any]]) -> Path:
    """A run folder holding ``config.json`` and ``predictions.jsonl``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    lines = "".join(json.dumps(p, ensure_ascii=False) + "\n" for p in predictions)
    (folder / "predictions.jsonl").write_text(lines, encoding="utf-8")
    return folder


def oracle_predictions(benchmark: Benchmark) -> list[dict[str, Any]]:
    """Every ground-truth action, verbatim, for every video."""
    return [
        {"video_id": r.video_id, "actions": [a.to_dict() for a in r.actions]} for r in benchmark
    ]


def partial_predictions(benchmark: Benchmark) -> list[dict[str, Any]]:
    """Roughly half of each video's actions, APLs shifted on odd videos, plus an unrelated
    action; video 1 fails, the last video is missing, video 2 carries :data:`XSS_TEXT`."""
    rows = []
    records = list(benchmark)
    for i, r in enumerate(records[:-1]):
        if i == 1:
            rows.append({"video_id": r.video_id, "actions": [], "error": FAILED_ERROR})
            continue
        keep = r.actions[: max(1, len(r.actions) // 2)]
        actions = []
        for a in keep:
            apl = a.apl if i % 2 == 0 else min(4, a.apl + 1)
            actions.append({"text": a.text, "apl": apl, "proactive": a.proactive})
        actions.append({"text": "water the garden plants", "apl": 0, "proactive": True})
        if i == 2:
            actions.append({"text": XSS_TEXT, "apl": 1, "proactive": False})
        rows.append({"video_id": r.video_id, "actions": actions, "raw_text": "..."})
    return rows


def make_runs(root: Path, benchmark: Benchmark) -> dict[str, Path]:
    """``{"oracle": folder, "partial": folder}`` under ``root``."""
    return {
        "oracle": write_run(
            root / "oracle", run_config(benchmark, "oracle"), oracle_predictions(benchmark)
        ),
        "partial": write_run(
            root / "partial", run_config(benchmark, "partial"), partial_predictions(benchmark)
        ),
    }

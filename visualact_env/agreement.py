"""Human agreement: each participant against the ground truth and against each other.

The paper reports no human figure; a human study run with ``visualact serve`` gives one, and
with two or more participants this module gives the ceiling a model could reach: how well one
person's proposals match another's under the same metric. For participants ``a`` and ``b``,
``a``'s proposals are scored with ``b``'s as the reference (same embedding model, tau,
matching and APL weights; ``b``'s APL and flags take the ground truth's place), on the videos
both answered where ``b`` proposed at least one action. F1 and weighted F1 are symmetric up to
the scenario means (precision and recall swap), so the table shows each ordered pair once.

Intervals are the metric's own percentile bootstrap over videos, stratified by scenario
(:func:`visualact_env.stats.bootstrap_ci`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from html import escape
from pathlib import Path
from typing import Any

from .records import Benchmark, Prediction, VideoRecord

AGREEMENT_FIGURES: tuple[str, ...] = ("f1", "weighted_f1")


def is_human_run(config: Mapping[str, Any]) -> bool:
    """True for a run folder written by the human study (agent ``human:<participant>``)."""
    agent = config.get("agent") or {}
    spec = agent.get("spec") if isinstance(agent, Mapping) else agent
    return isinstance(spec, str) and spec.startswith("human:")


def _answered(predictions: Sequence[Prediction]) -> dict[str, Prediction]:
    return {
        p.video_id: p
        for p in predictions
        if not p.failed and int(p.extra.get("sample", 0) or 0) == 0
    }


def _interval(report: Any, n_resamples: int, seed: int) -> dict[str, dict[str, Any]]:
    from .stats import bootstrap_ci

    ci = bootstrap_ci(report, n_resamples=n_resamples, seed=seed)
    return {f: dict(ci.overall[f]) for f in AGREEMENT_FIGURES}


def human_agreement(
    run_dirs: Sequence[str | os.PathLike[str]],
    *,
    scorer: Any = None,
    n_resamples: int = 1000,
    seed: int = 0,
) -> dict[str, Any]:
    """Score human runs (same data) against the ground truth and against each other.

    Returns ``{"participants": [{"name", "run_dir", "videos", "answered", "vs_truth":
    {figure: {"estimate", "low", "high", "se"}}}], "pairs": [{"a", "b", "videos",
    "figures": {...}}], "tau", "embedder", "n_resamples", "seed"}``. Against the ground truth a
    participant is scored on the videos they answered (an unfinished participant is not
    penalised for clips not reached; ``answered`` says how many of ``videos`` that is).
    """
    from .metric import score_predictions
    from .report.summary import agent_label, load_run, make_scorer
    from .rundir import RunError

    runs = [load_run(d) for d in run_dirs]
    if len(runs) < 1:
        raise ValueError("no runs given")
    prints = {r.config["data"]["fingerprint"] for r in runs}
    if len(prints) > 1:
        raise RunError("human agreement needs runs on the same data (fingerprints differ)")
    scorer = scorer if scorer is not None else make_scorer(runs[0].config)
    answered = [_answered(r.predictions) for r in runs]
    names = [agent_label(r.config) for r in runs]
    participants = []
    for run, name, done in zip(runs, names, answered, strict=True):
        entry: dict[str, Any] = {
            "name": name,
            "run_dir": str(run.run_dir),
            "videos": len(run.benchmark),
            "answered": len(done),
            "vs_truth": None,
        }
        if done:
            bench = run.benchmark.subset(video_ids=list(done))
            report = score_predictions(bench, list(done.values()), scorer)
            entry["vs_truth"] = _interval(report, n_resamples, seed)
        participants.append(entry)
    pairs = []
    for i, j in ((i, j) for i in range(len(runs)) for j in range(len(runs)) if i < j):
        reference = answered[j]
        common = [
            r
            for r in runs[i].benchmark
            if r.video_id in answered[i]
            and reference.get(r.video_id)
            and reference[r.video_id].actions
        ]
        entry = {"a": names[i], "b": names[j], "videos": len(common), "figures": None}
        if common:
            records = tuple(
                VideoRecord(
                    r.video_id, r.video, r.scenario, reference[r.video_id].actions, r.source, r.root
                )
                for r in common
            )
            bench = Benchmark(records=records, name=f"{names[j]} as reference")
            preds = [answered[i][r.video_id] for r in common]
            report = score_predictions(bench, preds, scorer)
            entry["figures"] = _interval(report, n_resamples, seed)
        pairs.append(entry)
    return {
        "participants": participants,
        "pairs": pairs,
        "tau": float(scorer.tau),
        "embedder": getattr(getattr(scorer, "embedder", None), "identity", None),
        "n_resamples": n_resamples,
        "seed": seed,
    }


def _cell(entry: Mapping[str, Any] | None) -> str:
    from .report.tables import DASH, fmt_score

    if not entry or entry.get("estimate") is None:
        return DASH
    return f"{fmt_score(entry['estimate'])} [{fmt_score(entry['low'])}, {fmt_score(entry['high'])}]"


def agreement_markdown(result: Mapping[str, Any]) -> str:
    """The two tables (x100 with 95% CIs) as Markdown."""

    def md(text: Any) -> str:
        return escape(str(text)).replace("|", "\\|")

    lines = [
        "## Human agreement",
        "",
        f"tau = {result['tau']:g}; 95% percentile bootstrap over videos "
        f"({result['n_resamples']} resamples, seed {result['seed']}).",
        "",
        "| Participant | Answered | F1 vs ground truth | Weighted F1 vs ground truth |",
        "|---|---:|---:|---:|",
    ]
    for p in result["participants"]:
        vs = p.get("vs_truth") or {}
        lines.append(
            f"| {md(p['name'])} | {p['answered']}/{p['videos']} | {_cell(vs.get('f1'))} | "
            f"{_cell(vs.get('weighted_f1'))} |"
        )
    if result["pairs"]:
        lines += [
            "",
            "| Participant | Reference | Videos | F1 | Weighted F1 |",
            "|---|---|---:|---:|---:|",
        ]
        for pair in result["pairs"]:
            figs = pair.get("figures") or {}
            lines.append(
                f"| {md(pair['a'])} | {md(pair['b'])} | {pair['videos']} | "
                f"{_cell(figs.get('f1'))} | {_cell(figs.get('weighted_f1'))} |"
            )
    return "\n".join(lines) + "\n"


def find_human_runs(root: Path, fingerprint: str | None = None) -> list[Path]:
    """Human run folders directly under ``root`` (optionally only those on ``fingerprint``)."""
    from .errors import DataError
    from .rundir import CONFIG_FILE, load_config

    out = []
    for path in sorted(Path(root).glob(f"*/{CONFIG_FILE}")):
        try:
            config = load_config(path.parent)
        except (DataError, OSError):  # an unreadable folder is not a participant
            continue
        if is_human_run(config) and (
            fingerprint is None or (config.get("data") or {}).get("fingerprint") == fingerprint
        ):
            out.append(path.parent)
    return out

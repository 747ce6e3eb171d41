"""From a run folder to its summary, scores and reports.

A run folder (its layout: :mod:`visualact_env.rundir`) holds ``config.json`` and
``predictions.jsonl``. :func:`write_reports` scores the predictions against the run's benchmark
with :mod:`visualact_env.metric`, adds bootstrap confidence intervals and a threshold sweep from
:mod:`visualact_env.stats`, and writes:

* ``scores.jsonl``: one line per scored (video, sample) with its figures and matched pairs;
* ``samples.jsonl``: one joined line per (video, sample) of every sample: annotations,
  proposals, raw text and parse diagnostics, pairs with texts, near misses (:mod:`.samples`);
* ``summary.json``: overall and per-scenario figures (the names of ``visualact score --json``),
  ``overall_ci``, counts of videos scored / failed / missing, the failures with their errors,
  the tau sweep, the APL confusion of matched pairs and the run's config;
* ``report.md`` (paper's Table 2 / Table 3 layouts) with each table also as CSV and LaTeX in
  ``tables/``, ``report.html`` (self-contained) and ``plots/*.png``.

Failures and missing videos are scored as empty answers (they lower recall) and are always
counted and listed: a run with failures never looks like a clean run.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..cache import atomic_write_text
from ..figures import figure_names
from ..loading import parse_predictions, write_jsonl
from ..metric import Scorer, score_predictions
from ..records import APL_LEVELS, SCENARIOS, Benchmark, Prediction
from ..redaction import strip_credentials
from ..rundir import (
    PLOTS_DIR,
    PREDICTIONS_FILE,
    REPORT_HTML,
    REPORT_MD,
    SAMPLES_FILE,
    SCORES_FILE,
    SUMMARY_FILE,
    completion_status,
    load_config,
    read_stop,
    run_benchmark,
    write_summary,
)
from .jsonvalues import clean_value as _clean
from .sample_stats import samples_summary

__all__ = [
    "PLOTS_DIR",
    "REPORT_HTML",
    "REPORT_MD",
    "SCORES_FILE",
    "SUMMARY_FILE",
    "Run",
    "load_config",
    "load_run",
    "write_reports",
]

SWEEP_TAUS: tuple[float, ...] = (0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8)
CONFIDENCE = 0.95
THUMB_HEIGHT = 72


@dataclass
class Run:
    """A loaded run folder: its config, benchmark and predictions."""

    run_dir: Path
    config: dict[str, Any]
    benchmark: Benchmark
    predictions: list[Prediction]
    warnings: list[str] = field(default_factory=list)


def resolve_benchmark(config: Mapping[str, Any]) -> Benchmark:
    """The benchmark a run was made on (its data, selection and shard), checked by fingerprint."""
    return run_benchmark(dict(config))


def load_run(run_dir: str | os.PathLike[str], benchmark: Benchmark | None = None) -> Run:
    """Read a run folder; resolve its benchmark from the config unless one is given.

    A resolved benchmark is checked against the run's recorded data fingerprint (a
    ``RunError`` when the annotations changed); a ``benchmark`` passed in is trusted as the
    run's selection (the runner and ``merge`` pass the exact videos they ran).
    """
    run_dir = Path(run_dir)
    config = load_config(run_dir)
    bench = benchmark if benchmark is not None else resolve_benchmark(config)
    warnings: list[str] = []
    preds_path = run_dir / PREDICTIONS_FILE
    predictions = (
        parse_predictions(preds_path, bench, warnings=warnings) if preds_path.exists() else []
    )
    if not preds_path.exists():
        warnings.append(f"{preds_path}: no predictions yet; every video counts as missing")
    return Run(run_dir, config, bench, predictions, warnings)


def make_scorer(config: Mapping[str, Any]) -> Any:
    """A :class:`visualact_env.metric.Scorer` with the run's embedding model and tau."""
    from ..embedding import Embedder

    model = (config.get("eval_config") or {}).get("embedder")
    return Scorer(Embedder(model), tau=float(config["tau"]))


# --------------------------------------------------------------------------------------------
# reading the metric's ScoreReport


def clean_figures(figures: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _clean(v) for k, v in figures.items()}


def report_figures(report: Any) -> dict[str, Any]:
    """``{"overall": {...}, "scenarios": {scenario: {...}}}`` from ``ScoreReport.figures()``."""
    figs = report.figures()
    return {
        "overall": clean_figures(figs["overall"]),
        "scenarios": {sc: clean_figures(v) for sc, v in figs["scenarios"].items()},
    }


def video_score_rows(report: Any) -> list[dict[str, Any]]:
    """One ``scores.jsonl`` row per benchmark video: figures, counts, status and pairs."""
    rows = []
    for vs in report.scores.values():
        row = vs.to_dict()
        row["sample"] = report.sample
        rows.append({k: _clean(v) if isinstance(v, float) else v for k, v in row.items()})
    return rows


# --------------------------------------------------------------------------------------------
# derived views


def failures_of(predictions: Sequence[Prediction], sample: int = 0) -> list[dict[str, Any]]:
    """Every failed prediction of ``sample`` with its error, in file order."""
    return [
        {"video_id": p.video_id, "sample": sample, "error": p.error}
        for p in predictions
        if p.failed and p.sample == sample
    ]


def missing_of(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """Video ids scored as missing (no prediction record for the scored sample)."""
    return [r["video_id"] for r in rows if r.get("status") == "missing"]


def _predictions_index(predictions: Sequence[Prediction]) -> dict[tuple[str, int], Prediction]:
    return {(p.video_id, p.sample): p for p in predictions}


def apl_confusion(
    rows: Sequence[Mapping[str, Any]], benchmark: Benchmark, predictions: Sequence[Prediction]
) -> dict[str, Any]:
    """Counts of matched pairs: ground-truth APL (rows) x predicted APL (columns, "?" = none)."""
    index = _predictions_index(predictions)
    counts = [[0] * (len(APL_LEVELS) + 1) for _ in APL_LEVELS]
    for row in rows:
        pred = index.get((row["video_id"], row["sample"]))
        if pred is None:
            continue
        gt = benchmark[row["video_id"]].actions
        for pair in row["pairs"]:
            if not pair["matched"]:
                continue
            g = gt[pair["gt"]].apl
            p = pred.actions[pair["pred"]].apl
            counts[int(g)][len(APL_LEVELS) if p is None else int(p)] += 1
    total = sum(map(sum, counts))
    return {
        "gt_labels": [str(a) for a in APL_LEVELS],
        "pred_labels": [*(str(a) for a in APL_LEVELS), "?"],
        "counts": counts,
        "total": total,
        "diagonal": sum(counts[i][i] for i in range(len(APL_LEVELS))),
    }


def _ci_pairs(block: Mapping[str, Any]) -> dict[str, list[float | None]]:
    """``{figure: [low, high]}`` from one block of :func:`visualact_env.stats.bootstrap_ci`."""
    return {fig: [_clean(v["low"]), _clean(v["high"])] for fig, v in block.items()}


def bootstrap(report: Any, n_resamples: int, seed: int) -> dict[str, Any]:
    """``overall_ci`` and ``scenario_ci`` (percentile bootstrap stratified by scenario)."""
    from ..stats import bootstrap_ci

    ci = bootstrap_ci(report, n_resamples=n_resamples, seed=seed, confidence=CONFIDENCE)
    return {
        "overall_ci": _ci_pairs(ci.overall),
        "scenario_ci": {sc: _ci_pairs(block) for sc, block in ci.scenarios.items()},
    }


def tau_sweep_rows(
    benchmark: Benchmark, predictions: Sequence[Prediction], scorer: Any, sample: int = 0
) -> list[dict[str, Any]]:
    """Overall figures at each tau of :data:`SWEEP_TAUS` plus the run's own tau (one
    similarity computation for all of them)."""
    from ..stats import tau_sweep_reports

    taus = sorted({*SWEEP_TAUS, float(scorer.tau)})
    reports = tau_sweep_reports(benchmark, predictions, scorer, taus, sample=sample)
    rows = []
    for tau, rep in sorted(reports.items()):
        overall = rep.figures()["overall"]
        rows.append({"tau": tau, **{f: _clean(overall[f]) for f in figure_names()}})
    return rows


# --------------------------------------------------------------------------------------------
# labels


_URL_SUFFIX = re.compile(r"@[a-z][a-z0-9+.\-]*://\S*$", re.IGNORECASE)


def agent_spec(config: Mapping[str, Any]) -> str:
    """The run's agent spec as recorded (credentials never are), e.g. ``openai:m@http://h/v1``."""
    agent = config.get("agent") or {}
    if isinstance(agent, str):
        return strip_credentials(agent)
    eval_config = config.get("eval_config") or {}
    spec = agent.get("spec") or eval_config.get("agent") or agent.get("name") or "run"
    return strip_credentials(str(spec))  # runs recorded before credentials were stripped


def agent_label(config: Mapping[str, Any]) -> str:
    """The run's name in tables: its ``--label``, else a short name for its policy (the agent
    spec without a server URL, plus the model when the spec does not name it)."""
    if config.get("label"):
        return str(config["label"])
    agent = config.get("agent") or {}
    if isinstance(agent, str):
        return _URL_SUFFIX.sub("", agent)
    for key in ("label", "spec", "name"):
        if agent.get(key):
            label = _URL_SUFFIX.sub("", str(agent[key]))
            model = agent.get("model")
            return f"{label} ({model})" if model and str(model) not in label else label
    eval_config = config.get("eval_config") or {}
    return _URL_SUFFIX.sub("", str(eval_config.get("agent") or "run"))


def prompt_version(config: Mapping[str, Any]) -> str | None:
    """The prompt version used, from the config's ``prompt`` or the agent's config."""
    for block in (config.get("prompt"), (config.get("agent") or {}).get("prompt")):
        if isinstance(block, Mapping) and block.get("version"):
            return str(block["version"])
        if isinstance(block, str):
            return block
    return None


# --------------------------------------------------------------------------------------------
# the summary


def run_usage(run: Run) -> dict[str, Any]:
    """The ``usage`` block: tokens, requests, retries, latency and cost of the run's records
    (rules: :mod:`visualact_env.usage`), at the prices the run was given."""
    from ..usage import Usage

    eval_config = run.config.get("eval_config") or {}
    prices = [eval_config.get(k) for k in ("price_input", "price_output")]
    prices = [float(p) if isinstance(p, (int, float)) else None for p in prices]
    return Usage.of(p.extra for p in run.predictions).to_dict(*prices)


def build_summary(
    run: Run,
    report: Any,
    score_rows: Sequence[Mapping[str, Any]],
    *,
    scorer: Any,
    ci: Mapping[str, Any],
    sweep: Sequence[Mapping[str, Any]],
    n_resamples: int,
    seed: int,
) -> dict[str, Any]:
    """The ``summary.json`` document."""
    from ..run_records import FORMAT_VERSION
    from ..version import __version__

    figs = report_figures(report)
    failures = failures_of(run.predictions, report.sample)
    missing = missing_of(score_rows)
    counts = {
        **report.counts(),
        "predictions": len(run.predictions),
        "samples": int(run.config.get("samples") or 1),
        "scored_sample": report.sample,
        "unparsed": sum(
            1 for p in run.predictions if p.extra.get("parse_error") and p.sample == report.sample
        ),
    }
    embedder = getattr(getattr(scorer, "embedder", None), "identity", None)
    expected = [(v, k) for v in run.benchmark.video_ids for k in range(counts["samples"])]
    status, reason = completion_status(expected, run.predictions, run.config.get("shard"))
    return {
        "format_version": FORMAT_VERSION,
        "status": status,
        "status_reason": reason,
        "run_dir": str(run.run_dir),
        "agent_label": agent_label(run.config),
        "agent_spec": agent_spec(run.config),
        "prompt_version": prompt_version(run.config),
        "figures": list(figure_names()),
        "overall": figs["overall"],
        "scenarios": {sc: figs["scenarios"][sc] for sc in SCENARIOS if sc in figs["scenarios"]},
        **ci,
        "counts": counts,
        "failures": failures,
        "missing": missing,
        "tau": float(scorer.tau),
        "embedder": embedder or run.config.get("embedder"),
        "tau_sweep": list(sweep),
        "apl_confusion": apl_confusion(score_rows, run.benchmark, run.predictions),
        "ci": {
            "method": "percentile bootstrap over videos, stratified by scenario",
            "confidence": CONFIDENCE,
            "n_resamples": n_resamples,
            "seed": seed,
        },
        "data": {**(run.config.get("data") or {}), "scored_fingerprint": run.benchmark.fingerprint},
        "usage": run_usage(run),
        "stopped": read_stop(run.run_dir),
        "warnings": list(run.warnings),
        # each launch of the run (first and resumed) with per-process throughput
        "launches": list(run.config.get("launches") or []),
        "generated_by": __version__,
        "config": run.config,
    }


def summary_row(summary: Mapping[str, Any], name: str | None = None) -> dict[str, Any]:
    """A table row (see :mod:`.tables`) from a summary."""
    return {
        "name": name or summary.get("agent_label") or "run",
        "overall": summary.get("overall") or {},
        "scenarios": summary.get("scenarios") or {},
        "overall_ci": summary.get("overall_ci") or {},
    }


# --------------------------------------------------------------------------------------------
# video cards


def _thumbnails(path: Path, sampler: Mapping[str, Any] | None) -> list[str]:
    """Small JPEG data URLs of the run's sampled frames (cached frames reused)."""
    import io

    from PIL import Image

    from ..frames import SamplerConfig, sample_frames
    from .html import data_url

    config = SamplerConfig.from_dict(dict(sampler)) if sampler else SamplerConfig()
    urls = []
    for frame in sample_frames(path, config):
        img = Image.fromarray(frame)
        width = max(1, round(img.width * THUMB_HEIGHT / img.height))
        img = img.resize((width, THUMB_HEIGHT), Image.Resampling.BILINEAR)
        buf = io.BytesIO()
        img.save(buf, format="JPEG", quality=70)
        urls.append(data_url(buf.getvalue(), "image/jpeg"))
    return urls


def video_entries(
    run: Run, score_rows: Sequence[Mapping[str, Any]], *, frames: bool = True
) -> list[dict[str, Any]]:
    """The per-video cards' data: figures, actions, pairs, status and frame thumbnails."""
    index = _predictions_index(run.predictions)
    thumbs: dict[str, tuple[list[str], str | None]] = {}
    entries = []
    for row in score_rows:
        record = run.benchmark[row["video_id"]]
        pred = index.get((row["video_id"], row["sample"]))
        status = {"scored": "ok"}.get(row["status"], row["status"])
        if frames and record.video_id not in thumbs:
            thumbs[record.video_id] = _frames_or_note(record.path, run.config.get("sampler"))
        urls, note = thumbs.get(record.video_id, ([], None))
        entries.append(
            {
                "video_id": record.video_id,
                "scenario": record.scenario,
                "sample": row["sample"],
                "status": status,
                "error": pred.error if pred is not None else None,
                "figures": {f: row[f] for f in figure_names() if f in row},
                "pairs": row["pairs"],
                "gt": [a.to_dict() for a in record.actions],
                "pred": [a.to_dict() for a in pred.actions] if pred is not None else [],
                "frames": urls,
                "frames_error": note,
                **answer_details(pred),
            }
        )
    return entries


MAX_RAW_CHARS = 4000
"""Raw answers longer than this are cut in the report cards (the record keeps them whole)."""


def answer_details(pred: Prediction | None) -> dict[str, Any]:
    """What the model said and what the parser made of it: ``raw_text`` (cut at
    :data:`MAX_RAW_CHARS`), ``parse_error`` (an unparseable answer) and ``diagnostics``."""
    if pred is None:
        return {"raw_text": None, "parse_error": None, "diagnostics": []}
    raw = pred.extra.get("raw_text")
    raw = str(raw) if raw is not None else None
    if raw is not None and len(raw) > MAX_RAW_CHARS:
        raw = raw[:MAX_RAW_CHARS] + f"\u2026 [{len(raw) - MAX_RAW_CHARS} more characters]"
    diagnostics = pred.extra.get("diagnostics") or []
    return {
        "raw_text": raw,
        "parse_error": pred.extra.get("parse_error"),
        "diagnostics": [str(d) for d in diagnostics] if isinstance(diagnostics, list) else [],
    }


def _frames_or_note(path: Path, sampler: Mapping[str, Any] | None) -> tuple[list[str], str | None]:
    from ..frames import FrameError

    if not path.is_file():
        return [], f"clip not available: {path}"
    try:
        return _thumbnails(path, sampler), None
    except (FrameError, OSError, ValueError) as e:
        return [], f"frames could not be read: {e}"


def sample_count(run: Run) -> int:
    """How many samples per video the run asked for or recorded."""
    recorded = [int(p.extra.get("sample", 0) or 0) for p in run.predictions]
    return max(int(run.config.get("samples") or 1), max(recorded, default=0) + 1)


def joined_rows(run: Run, scorer: Any, reports: Mapping[int, Any]) -> list[dict[str, Any]]:
    """The ``samples.jsonl`` lines of every sample the run asked for or recorded."""
    from .samples import sample_rows

    return sample_rows(run.benchmark, run.predictions, scorer, sample_count(run), reports)


# --------------------------------------------------------------------------------------------
# the entry point


def write_reports(
    run_dir: str | os.PathLike[str],
    benchmark: Benchmark | None = None,
    scorer: Any = None,
    *,
    n_resamples: int = 1000,
    seed: int = 0,
    html: bool = True,
    plots: bool = True,
    frames: bool = True,
    final_dir: str | os.PathLike[str] | None = None,
) -> dict[str, Any]:
    """Score a run folder and write ``scores.jsonl``, ``summary.json``, ``report.md``, plots and
    ``report.html``; return the summary. With ``html=False`` a stale ``report.html`` is removed.

    ``benchmark`` defaults to the run's own data (resolved and fingerprint-checked from
    ``config.json``), ``scorer`` to the run's embedding model and tau. Holds the run folder's
    lock while writing (:class:`visualact_env.runlock.RunLock`). ``final_dir`` is the folder a
    run built aside will be moved to (``merge``): it is the ``run_dir`` the reports name.
    """
    from ..runlock import RunLock

    load_config(run_dir)  # a clear error for a folder that is not a run (before locking it)
    with RunLock(run_dir):  # refused while another process writes this run
        run = load_run(run_dir, benchmark)
        if final_dir is not None:
            run = replace(run, run_dir=Path(final_dir))
        return _write_reports(Path(run_dir), run, scorer, n_resamples, seed, html, plots, frames)


def _write_reports(
    out: Path,
    run: Run,
    scorer: Any,
    n_resamples: int,
    seed: int,
    html: bool,
    plots: bool,
    frames: bool,
) -> dict[str, Any]:
    from .export import TABLES_DIR, write_tables
    from .tables import render_run_markdown, run_tables

    scorer = scorer if scorer is not None else make_scorer(run.config)
    report = score_predictions(run.benchmark, run.predictions, scorer, keep_similarity=True)
    rows = video_score_rows(report)
    ci = bootstrap(report, n_resamples, seed)
    sweep = tau_sweep_rows(run.benchmark, run.predictions, scorer)
    summary = build_summary(
        run, report, rows, scorer=scorer, ci=ci, sweep=sweep, n_resamples=n_resamples, seed=seed
    )
    reports = {report.sample: report}
    for k in range(1, sample_count(run)):
        reports[k] = score_predictions(
            run.benchmark, run.predictions, scorer, sample=k, keep_similarity=True
        )
    summary["samples"] = samples_summary(
        list(reports.values()), run.predictions, n_resamples=n_resamples, seed=seed
    )
    write_jsonl(out / SCORES_FILE, rows)
    write_jsonl(out / SAMPLES_FILE, joined_rows(run, scorer, reports))
    write_summary(out, summary)
    images: dict[str, bytes] = {}
    if plots:
        from .plots import write_run_plots

        images = write_run_plots(summary, out / PLOTS_DIR)
    atomic_write_text(out / REPORT_MD, render_run_markdown(summary))
    write_tables(run_tables(summary), out / TABLES_DIR)
    if html:
        from .html import render_run_html

        entries = video_entries(run, rows, frames=frames)
        atomic_write_text(out / REPORT_HTML, render_run_html(summary, entries, images))
    else:
        # a report.html from an earlier call would show figures these predictions no longer have
        (out / REPORT_HTML).unlink(missing_ok=True)
    return summary

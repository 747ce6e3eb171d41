"""The ``samples`` block of ``summary.json``: every one of the K samples per video counts.

With ``--samples K`` a run holds K proposal lists per video. The tables of a run report keep
scoring sample 0 (the ``overall`` and ``scenarios`` blocks, comparable with K = 1 runs); this
block adds, from all K samples scored with the same scorer:

* ``mean``: each figure averaged over the K samples (per scenario and overall); ``mean_ci`` its
  95% percentile bootstrap interval over videos, stratified by scenario, one draw of videos
  applied to all K samples (:func:`visualact_env.stats.bootstrap_sample_mean`);
* ``best_of_k``: per video the best of its K values of each per-video figure, averaged as usual
  (an oracle choice among the samples: an upper bound, pass@K-style; ``null`` for the pooled
  figures, which have no per-video value);
* ``sd_across_samples``: the population SD (ddof=0) of the K values of each overall figure;
* ``per_video_sd``: the mean over videos of each video's population SD across its samples
  (per scenario, then the mean of the scenarios; 0 = every sample of every video scores the
  same), and ``videos``: each video's values per sample and SD for F1, weighted F1 and scale;
* ``per_sample``: each sample's overall figures and counts; ``counts``: the answers over all
  samples (scored, failed, missing, unparseable).

``compare`` ranks and pairs runs on the same sample means
(:func:`visualact_env.stats.paired_sample_mean`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..figures import figure_names, headline_figures, video_figure_names
from ..metric import ScoreReport
from ..records import Prediction


def stability_figure_names() -> list[str]:
    """The per-video figures listed video by video in ``samples.videos``: the headline ones."""
    per_video = video_figure_names()
    return [name for name, _ in headline_figures() if name in per_video]


DEFINITIONS: dict[str, str] = {
    "mean": "each figure averaged over the K samples",
    "mean_ci": "95% percentile bootstrap over videos, stratified by scenario, of the sample mean "
    "(one draw of videos for all K samples)",
    "best_of_k": "per video the best of its K values of each per-video figure, then averaged as "
    "usual (an upper bound); pooled figures have none",
    "sd_across_samples": "population SD (ddof=0) of the K values of each overall figure",
    "per_video_sd": "mean over videos of each video's population SD across its K samples "
    "(per scenario, then the mean of the scenarios)",
}


def _num(value: float) -> float | None:
    value = float(value)
    return None if math.isnan(value) else value


def _blocks(array: np.ndarray, scenarios: Sequence[str], figures: Sequence[str]) -> dict[str, Any]:
    """``{"overall": {...}, "scenarios": {...}}`` from a ``[scenario..., overall] x figures``
    array."""
    row = lambda i: {f: _num(array[i, k]) for k, f in enumerate(figures)}  # noqa: E731
    return {
        "overall": row(len(scenarios)),
        "scenarios": {sc: row(i) for i, sc in enumerate(scenarios)},
    }


def _ci_blocks(ci: Any) -> dict[str, Any]:
    pair = lambda e: [e["low"], e["high"]]  # noqa: E731
    return {
        "overall": {f: pair(e) for f, e in ci.overall.items()},
        "scenarios": {sc: {f: pair(e) for f, e in b.items()} for sc, b in ci.scenarios.items()},
    }


def _unparsed_of(predictions: Sequence[Prediction], sample: int) -> int:
    return sum(
        1
        for p in predictions
        if p.extra.get("parse_error") and int(p.extra.get("sample", 0) or 0) == sample
    )


def samples_summary(
    reports: Sequence[ScoreReport],
    predictions: Sequence[Prediction],
    *,
    n_resamples: int = 1000,
    seed: int = 0,
) -> dict[str, Any]:
    """The ``samples`` block (see the module docstring) of K sample reports, in sample order."""
    from ..stats import (
        best_of_k_figures,
        bootstrap_sample_mean,
        per_video_sd,
        sample_mean_figures,
        stability_figures,
    )

    reports = sorted(reports, key=lambda r: r.sample)
    scenarios = reports[0].scenarios
    arrays = np.stack([r.figure_array() for r in reports])
    ids, values, sd = per_video_sd(reports)
    scenario_of = {vid: s.scenario for vid, s in reports[0].scores.items()}
    figures, per_video = figure_names(), video_figure_names()
    columns = {f: per_video.index(f) for f in stability_figure_names()}
    videos = []
    for v, vid in enumerate(ids):
        entry: dict[str, Any] = {"video_id": vid, "scenario": scenario_of[vid]}
        for fig, c in columns.items():
            entry[fig] = [float(x) for x in values[:, v, c]]
        entry["sd"] = {fig: float(sd[v, c]) for fig, c in columns.items()}
        videos.append(entry)
    per_sample: list[dict[str, Any]] = []
    for report, array in zip(reports, arrays, strict=True):
        counts = report.counts()
        per_sample.append(
            {
                "sample": report.sample,
                "overall": {f: _num(array[len(scenarios), k]) for k, f in enumerate(figures)},
                "counts": {
                    "scored": counts["scored"],
                    "failed": counts["failed"],
                    "missing": counts["missing"],
                    "unparsed": _unparsed_of(predictions, report.sample),
                },
            }
        )
    overall = arrays[:, len(scenarios), :]
    ci = bootstrap_sample_mean(reports, n_resamples=n_resamples, seed=seed)
    return {
        "k": len(reports),
        "samples": [r.sample for r in reports],
        "definitions": dict(DEFINITIONS),
        "mean": _blocks(sample_mean_figures(reports), scenarios, figures),
        "mean_ci": _ci_blocks(ci),
        "best_of_k": _blocks(best_of_k_figures(reports), scenarios, figures),
        "sd_across_samples": {
            f: (None if np.isnan(overall[:, k]).all() else float(np.nanstd(overall[:, k])))
            for k, f in enumerate(figures)
        },
        "per_video_sd": _blocks(stability_figures(reports), scenarios, per_video),
        "videos": videos,
        "per_sample": per_sample,
        "counts": {
            "answers": sum(r.counts()["videos"] for r in reports),
            **{
                key: sum(ps["counts"][key] for ps in per_sample)
                for key in ("scored", "failed", "missing", "unparsed")
            },
        },
    }


def least_stable(block: dict[str, Any], figure: str = "f1", n: int = 5) -> list[dict[str, Any]]:
    """The ``n`` videos whose ``figure`` varies most across samples (SD > 0; ties: video id)."""
    videos = [v for v in block.get("videos") or [] if v["sd"].get(figure, 0.0) > 0]
    return sorted(videos, key=lambda v: (-v["sd"][figure], v["video_id"]))[:n]

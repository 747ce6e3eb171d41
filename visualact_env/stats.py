"""Uncertainty for the metric: bootstrap confidence intervals, paired comparisons, tau sweeps.

Resampling unit: the video. Each resample draws, within every scenario, as many videos as the
scenario holds, with replacement (a stratified bootstrap), so every resample has the
benchmark's scenario mix and the overall figure keeps its meaning (mean over scenarios). The
resamples are drawn as count matrices and applied with one matrix product per scenario, so
thousands of resamples of the full benchmark take a fraction of a second. All results are
reproducible from ``seed``. See METRICS.md for the definitions.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from .figures import figure_names, video_columns, video_figure_positions
from .metric import (
    Scorer,
    ScoreReport,
    align,
    figures_from_totals,
    report_from_similarities,
)
from .records import Benchmark, Prediction

DEFAULT_TAUS: tuple[float, ...] = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8)


@dataclass
class IntervalResult:
    """Result of :func:`bootstrap_ci` or :func:`paired_comparison`.

    ``overall`` maps each figure to its entry (``{"estimate", "low", "high", "se"}`` for a
    bootstrap, ``{"a", "b", "difference", "low", "high", "p_value"}`` for a comparison);
    ``scenarios`` maps each scenario id to the same per-figure entries.
    """

    overall: dict[str, dict[str, float | None]]
    scenarios: dict[str, dict[str, dict[str, float | None]]] = field(default_factory=dict)
    n_resamples: int = 0
    seed: int = 0
    confidence: float = 0.95
    method: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _resample_counts(rng: np.random.Generator, n: int, n_resamples: int) -> np.ndarray:
    """``(n_resamples, n)`` matrix: how often each of ``n`` items is drawn in each resample."""
    draws = rng.integers(0, n, size=(n_resamples, n))
    flat = (draws + np.arange(n_resamples)[:, None] * n).ravel()
    return np.bincount(flat, minlength=n_resamples * n).reshape(n_resamples, n).astype(np.float64)


def _resampled_figures(
    reports: Sequence[ScoreReport], n_resamples: int, seed: int
) -> list[np.ndarray]:
    """``(n_resamples, S + 1, number of figures)`` figure arrays of each report, all from the same
    stratified resamples of videos (reports must hold the same videos in the same order)."""
    rng = np.random.default_rng(seed)
    mats = [r.matrix() for r in reports]
    codes = mats[0][1]
    n_s = len(reports[0].scenarios)
    n_cols = mats[0][0].shape[1]
    totals = [np.zeros((n_resamples, n_s, n_cols)) for _ in reports]
    videos = np.zeros((n_resamples, n_s))
    for s in range(n_s):
        idx = np.flatnonzero(codes == s)
        counts = _resample_counts(rng, len(idx), n_resamples)
        videos[:, s] = len(idx)
        for t, (values, _) in zip(totals, mats, strict=True):
            t[:, s] = counts @ values[idx]
    return [figures_from_totals(t, videos) for t in totals]


def _check_resampling(n_resamples: int, confidence: float) -> None:
    if n_resamples < 1:
        raise ValueError(f"n_resamples must be >= 1, got {n_resamples}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")


def _num(x: float) -> float | None:
    return None if np.isnan(x) else float(x)


def _interval(draws: np.ndarray, confidence: float) -> tuple[float | None, float | None]:
    finite = draws[~np.isnan(draws)]
    if not finite.size:
        return None, None
    alpha = (1.0 - confidence) / 2.0
    low, high = np.quantile(finite, [alpha, 1.0 - alpha])
    return float(low), float(high)


def _result(
    report: ScoreReport,
    entry: Callable[[int, int], dict[str, float | None]],
    n_resamples: int,
    seed: int,
    confidence: float,
    method: str,
) -> IntervalResult:
    """An :class:`IntervalResult` holding ``entry(i, k)`` for every figure ``k`` of every output
    row ``i``: each scenario of ``report``, then overall (the last array row)."""
    out = IntervalResult({}, {}, n_resamples, seed, confidence, method)
    for i, scenario in enumerate([*report.scenarios, None]):
        row = {fig: entry(i, k) for k, fig in enumerate(figure_names())}
        if scenario is None:
            out.overall = row
        else:
            out.scenarios[scenario] = row
    return out


def bootstrap_ci(
    report: ScoreReport, n_resamples: int = 1000, seed: int = 0, confidence: float = 0.95
) -> IntervalResult:
    """Percentile bootstrap intervals for every figure, overall and per scenario.

    Returns an :class:`IntervalResult` whose entries are ``{"estimate", "low", "high", "se"}``
    (``None`` where a figure is undefined).
    """
    _check_resampling(n_resamples, confidence)
    estimate = report.figure_array()
    (draws,) = _resampled_figures([report], n_resamples, seed)

    def entry(i: int, k: int) -> dict[str, float | None]:
        low, high = _interval(draws[:, i, k], confidence)
        finite = draws[:, i, k][~np.isnan(draws[:, i, k])]
        se = float(finite.std(ddof=1)) if finite.size > 1 else None
        return {"estimate": _num(estimate[i, k]), "low": low, "high": high, "se": se}

    method = "percentile bootstrap over videos, stratified by scenario"
    return _result(report, entry, n_resamples, seed, confidence, method)


def _aligned_copy(report_a: ScoreReport, report_b: ScoreReport) -> ScoreReport:
    """``report_b`` with its videos in ``report_a``'s order; ValueError if the videos differ."""
    a, b = report_a.scores, report_b.scores
    if set(a) != set(b):
        only_a, only_b = sorted(set(a) - set(b)), sorted(set(b) - set(a))
        raise ValueError(
            "paired comparison needs the same videos in both reports: "
            f"{len(only_a)} only in the first (e.g. {only_a[:3]}), "
            f"{len(only_b)} only in the second (e.g. {only_b[:3]})"
        )
    for vid, s in a.items():
        if b[vid].scenario != s.scenario:
            raise ValueError(f"video {vid!r} has different scenarios in the two reports")
    return ScoreReport(
        scores={vid: b[vid] for vid in a},
        tau=report_b.tau,
        embedder=report_b.embedder,
        sample=report_b.sample,
        benchmark_name=report_b.benchmark_name,
        fingerprint=report_b.fingerprint,
    )


def _p_value(diffs: np.ndarray) -> float | None:
    """Two-sided paired-bootstrap p-value: twice the smaller share of resampled differences on
    either side of zero, with the +1 correction, capped at 1."""
    finite = diffs[~np.isnan(diffs)]
    if not finite.size:
        return None
    below = 1 + int(np.count_nonzero(finite <= 0))
    above = 1 + int(np.count_nonzero(finite >= 0))
    return float(min(1.0, 2.0 * min(below, above) / (finite.size + 1)))


def paired_comparison(
    report_a: ScoreReport,
    report_b: ScoreReport,
    n_resamples: int = 2000,
    seed: int = 0,
    confidence: float = 0.95,
) -> IntervalResult:
    """Compare two prediction sets scored on the same videos: ``a - b`` per figure.

    Both reports are resampled with the *same* stratified draws of videos, so per-video
    correlation between the two systems is kept (a paired bootstrap). Returns an
    :class:`IntervalResult` whose entries are ``{"a", "b", "difference", "low", "high",
    "p_value"}``; the interval is that of ``a - b``.
    """
    _check_resampling(n_resamples, confidence)
    report_b = _aligned_copy(report_a, report_b)
    est_a, est_b = report_a.figure_array(), report_b.figure_array()
    draws_a, draws_b = _resampled_figures([report_a, report_b], n_resamples, seed)
    diffs = draws_a - draws_b

    def entry(i: int, k: int) -> dict[str, float | None]:
        low, high = _interval(diffs[:, i, k], confidence)
        return {
            "a": _num(est_a[i, k]),
            "b": _num(est_b[i, k]),
            "difference": _num(est_a[i, k] - est_b[i, k]),
            "low": low,
            "high": high,
            "p_value": _p_value(diffs[:, i, k]),
        }

    method = "paired percentile bootstrap over videos, stratified by scenario"
    return _result(report_a, entry, n_resamples, seed, confidence, method)


# ---------------------------------------------------------------------------------------------
# Several samples per video (``--samples K``)


def _mean_over_samples(arrays: Sequence[np.ndarray]) -> np.ndarray:
    """The mean over samples (axis 0 of the stack), skipping samples where a figure is NaN."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a figure undefined in every sample
        return np.nanmean(np.stack(list(arrays)), axis=0)


def _samples(reports: Sequence[ScoreReport]) -> list[ScoreReport]:
    """The sample reports, checked to hold the same videos (each in the first one's order)."""
    if not reports:
        raise ValueError("no sample reports")
    return [reports[0], *(_aligned_copy(reports[0], r) for r in reports[1:])]


def sample_mean_figures(reports: Sequence[ScoreReport]) -> np.ndarray:
    """``[scenario..., overall] x figures``: each figure averaged over the K sample reports
    (a sample where a pooled figure is undefined is skipped for it; NaN when all are)."""
    return _mean_over_samples([r.figure_array() for r in _samples(reports)])


def bootstrap_sample_mean(
    reports: Sequence[ScoreReport],
    n_resamples: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
) -> IntervalResult:
    """Percentile bootstrap intervals of the mean over K samples, like :func:`bootstrap_ci`.

    Every resample draws videos (stratified by scenario) once and applies the draw to all K
    samples, so a video's samples stay together; with one sample the result equals
    :func:`bootstrap_ci`'s.
    """
    _check_resampling(n_resamples, confidence)
    reports = _samples(reports)
    estimate = sample_mean_figures(reports)
    draws = _mean_over_samples(_resampled_figures(reports, n_resamples, seed))

    def entry(i: int, k: int) -> dict[str, float | None]:
        low, high = _interval(draws[:, i, k], confidence)
        finite = draws[:, i, k][~np.isnan(draws[:, i, k])]
        se = float(finite.std(ddof=1)) if finite.size > 1 else None
        return {"estimate": _num(estimate[i, k]), "low": low, "high": high, "se": se}

    method = (
        "percentile bootstrap over videos, stratified by scenario, of the mean over "
        f"{len(reports)} sample(s) (one draw of videos for all samples)"
    )
    return _result(reports[0], entry, n_resamples, seed, confidence, method)


def paired_sample_mean(
    reports_a: Sequence[ScoreReport],
    reports_b: Sequence[ScoreReport],
    n_resamples: int = 2000,
    seed: int = 0,
    confidence: float = 0.95,
) -> IntervalResult:
    """:func:`paired_comparison` of two runs' sample means (K may differ between the runs):
    each resample's draw of videos applies to every sample of both runs. With one sample each
    the result equals :func:`paired_comparison`'s."""
    _check_resampling(n_resamples, confidence)
    reports_a = _samples(reports_a)
    reports_b = [_aligned_copy(reports_a[0], r) for r in reports_b]
    if not reports_b:
        raise ValueError("no sample reports")
    est_a, est_b = sample_mean_figures(reports_a), sample_mean_figures(reports_b)
    draws = _resampled_figures([*reports_a, *reports_b], n_resamples, seed)
    k = len(reports_a)
    diffs = _mean_over_samples(draws[:k]) - _mean_over_samples(draws[k:])

    def entry(i: int, f: int) -> dict[str, float | None]:
        low, high = _interval(diffs[:, i, f], confidence)
        return {
            "a": _num(est_a[i, f]),
            "b": _num(est_b[i, f]),
            "difference": _num(est_a[i, f] - est_b[i, f]),
            "low": low,
            "high": high,
            "p_value": _p_value(diffs[:, i, f]),
        }

    method = "paired percentile bootstrap over videos, stratified by scenario, of sample means"
    return _result(reports_a[0], entry, n_resamples, seed, confidence, method)


def _per_video(reports: Sequence[ScoreReport]) -> tuple[np.ndarray, np.ndarray]:
    """``(values (K, V, per-video figures), scenario codes (V,))`` in video-id order."""
    mats = [r.matrix() for r in _samples(reports)]
    columns = video_columns()
    values = np.stack([m[0][:, columns] for m in mats])
    return values, mats[0][1]


def _scenario_means(per_video: np.ndarray, codes: np.ndarray, n_s: int) -> np.ndarray:
    """``[scenario..., overall] x columns``: means over each scenario's videos, then the mean
    of the scenarios (as the benchmark's overall figure)."""
    totals = np.zeros((n_s, per_video.shape[1]))
    np.add.at(totals, codes, per_video)
    sizes = np.bincount(codes, minlength=n_s).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = totals / sizes[:, None]
    return np.concatenate([means, np.nanmean(means, axis=0)[None, :]], axis=0)


def best_of_k_figures(reports: Sequence[ScoreReport]) -> np.ndarray:
    """``[scenario..., overall] x figures``: per video the best of its K samples' figure (each
    per-video figure on its own), averaged as usual; NaN for the pooled figures, which have no
    per-video value to take the best of."""
    values, codes = _per_video(reports)
    best = _scenario_means(values.max(axis=0), codes, len(reports[0].scenarios))
    out = np.full((best.shape[0], len(figure_names())), np.nan)
    out[:, video_figure_positions()] = best
    return out


def per_video_sd(reports: Sequence[ScoreReport]) -> tuple[list[str], np.ndarray, np.ndarray]:
    """``(video ids, values (K, V, F), sd (V, F))`` for the per-video figures
    (:func:`~visualact_env.figures.video_figure_names`): each video's figure in every sample and its standard deviation
    across the samples (population SD, ddof=0; 0 when every sample scores the same)."""
    values, _ = _per_video(reports)
    return sorted(reports[0].scores), values, values.std(axis=0)


def stability_figures(reports: Sequence[ScoreReport]) -> np.ndarray:
    """``[scenario..., overall] x per-video figures``: the mean over videos of each video's SD
    across samples (per scenario, then the mean of the scenarios)."""
    values, codes = _per_video(reports)
    return _scenario_means(values.std(axis=0), codes, len(reports[0].scenarios))


def tau_sweep(
    benchmark: Benchmark,
    predictions: Iterable[Prediction],
    scorer: Scorer | None = None,
    taus: Sequence[float] = DEFAULT_TAUS,
    *,
    sample: int = 0,
    allow_extra: bool = False,
) -> list[dict[str, Any]]:
    """Figures at several thresholds: ``[{"tau", "overall", "scenarios"}, ...]`` in ``taus``
    order, from a single similarity computation (see :func:`tau_sweep_reports`)."""
    reports = tau_sweep_reports(
        benchmark, predictions, scorer, taus, sample=sample, allow_extra=allow_extra
    )
    return [{"tau": tau, **report.figures()} for tau, report in reports.items()]


def tau_sweep_reports(
    benchmark: Benchmark,
    predictions: Iterable[Prediction],
    scorer: Scorer | None = None,
    taus: Sequence[float] = DEFAULT_TAUS,
    *,
    sample: int = 0,
    allow_extra: bool = False,
) -> dict[float, ScoreReport]:
    """One :class:`ScoreReport` per threshold, all from one similarity computation."""
    for tau in taus:
        if not -1.0 <= float(tau) <= 1.0:
            raise ValueError(f"tau must be within [-1, 1], got {tau}")
    scorer = scorer or Scorer()
    warnings: list[str] = []
    aligned = align(
        benchmark, predictions, sample=sample, allow_extra=allow_extra, warnings=warnings
    )
    sims = scorer.similarities([(a.pred, a.record.actions) for a in aligned])
    identity = getattr(scorer.embedder, "identity", "")
    return {
        float(tau): report_from_similarities(
            aligned,
            sims,
            float(tau),
            embedder=identity,
            sample=sample,
            benchmark_name=benchmark.name,
            fingerprint=benchmark.fingerprint,
            warnings=list(warnings),
        )
        for tau in taus
    }

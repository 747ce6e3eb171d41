"""Bootstrap intervals, paired comparisons and tau sweeps."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

import numpy as np
import pytest

from visualact_env.metric import FIGURES, VIDEO_FIGURES, Scorer, ScoreReport, VideoScore
from visualact_env.records import Action, Benchmark, Prediction, VideoRecord
from visualact_env.stats import bootstrap_ci, paired_comparison, tau_sweep, tau_sweep_reports

SCEN = ("dynamic_navigation", "home_service", "safety_monitoring", "human_machine_interaction")


def _report(values_by_scenario: dict[str, np.ndarray], **pool) -> ScoreReport:
    """A report whose videos all have every per-video figure equal to the given value."""
    scores = {}
    for sc, values in values_by_scenario.items():
        for i, v in enumerate(values):
            vid = f"{sc}-{i}"
            scores[vid] = VideoScore(
                **dict.fromkeys(VIDEO_FIGURES, float(v)),
                tp=1,
                m=1,
                n=1,
                sum_w=float(v),
                gt_proactive=1,
                gt_proactive_matched=int(v >= 0.5),
                video_id=vid,
                scenario=sc,
                **pool,
            )
    return ScoreReport(scores, tau=0.5, embedder="test")


def _random_report(seed: int, shift: float = 0.0, sizes=(364, 454, 126, 130)) -> ScoreReport:
    rng = np.random.default_rng(seed)
    return _report(
        {sc: np.clip(rng.random(n) + shift, 0, 1) for sc, n in zip(SCEN, sizes, strict=True)}
    )


def test_bootstrap_is_reproducible_and_brackets_the_estimate() -> None:
    report = _random_report(1)
    a = bootstrap_ci(report, n_resamples=500, seed=7)
    b = bootstrap_ci(report, n_resamples=500, seed=7)
    c = bootstrap_ci(report, n_resamples=500, seed=8)
    assert a.to_dict() == b.to_dict()
    assert a.overall["f1"]["low"] != c.overall["f1"]["low"]
    est = report.figures()["overall"]
    for fig in (*VIDEO_FIGURES, "proactive_recall"):
        e = a.overall[fig]
        assert e["estimate"] == pytest.approx(est[fig])
        assert e["low"] <= e["estimate"] <= e["high"], fig
    assert set(a.scenarios) == set(SCEN)
    assert a.overall["reactive_recall"] == dict.fromkeys(("estimate", "low", "high", "se"))
    assert set(a.overall) == set(FIGURES)


def test_bootstrap_standard_error_matches_theory() -> None:
    # For the mean of n uniform values the SE is sqrt(1/12 / n); overall = mean of 4 scenario
    # means, so its SE is sqrt(sum(var_s / n_s)) / 4.
    sizes = (364, 454, 126, 130)
    report = _random_report(3, sizes=sizes)
    ci = bootstrap_ci(report, n_resamples=4000, seed=0)
    values, codes = report.matrix()
    var = [values[codes == s, 2].var() for s in range(4)]
    theory = np.sqrt(sum(v / n for v, n in zip(var, sizes, strict=True))) / 4
    assert ci.overall["f1"]["se"] == pytest.approx(theory, rel=0.1)
    width = ci.overall["f1"]["high"] - ci.overall["f1"]["low"]
    assert width == pytest.approx(2 * 1.96 * theory, rel=0.15)


def test_bootstrap_is_stratified_by_scenario() -> None:
    # Constant within each scenario: a stratified resample keeps every scenario mean, so the
    # interval collapses to a point even though the scenarios differ.
    report = _report({"home_service": np.ones(50), "safety_monitoring": np.zeros(5)})
    ci = bootstrap_ci(report, n_resamples=300, seed=0)
    assert ci.overall["f1"]["low"] == ci.overall["f1"]["high"] == pytest.approx(0.5)


def test_bootstrap_rejects_bad_arguments() -> None:
    report = _random_report(0, sizes=(3, 3, 3, 3))
    with pytest.raises(ValueError, match="n_resamples"):
        bootstrap_ci(report, n_resamples=0)
    with pytest.raises(ValueError, match="confidence"):
        bootstrap_ci(report, confidence=1.5)


def test_many_resamples_of_the_full_benchmark_run() -> None:
    ci = bootstrap_ci(_random_report(2), n_resamples=2000, seed=1)
    assert ci.n_resamples == 2000 and ci.overall["recall"]["se"] > 0


def test_paired_comparison_identical_reports() -> None:
    report = _random_report(4, sizes=(20, 20, 20, 20))
    out = paired_comparison(report, report, n_resamples=300)
    e = out.overall["f1"]
    assert e["difference"] == 0.0 and e["low"] == 0.0 and e["high"] == 0.0
    assert e["p_value"] == 1.0


def test_paired_comparison_detects_a_real_difference() -> None:
    a = _random_report(5, sizes=(60, 60, 60, 60))
    better = _report(
        {sc: np.clip(a.matrix()[0][a.matrix()[1] == i, 0] + 0.1, 0, 1) for i, sc in enumerate(SCEN)}
    )
    out = paired_comparison(better, a, n_resamples=2000, seed=3)
    e = out.overall["precision"]
    assert e["difference"] > 0.05 and e["low"] > 0
    assert e["p_value"] < 0.01
    assert e["a"] == pytest.approx(better.figures()["overall"]["precision"])
    # reversed order flips the sign and keeps the p-value
    rev = paired_comparison(a, better, n_resamples=2000, seed=3).overall["precision"]
    assert rev["difference"] == pytest.approx(-e["difference"])
    assert rev["p_value"] == pytest.approx(e["p_value"])


def test_paired_comparison_noise_is_not_significant() -> None:
    a = _random_report(6, sizes=(50, 50, 50, 50))
    b = _random_report(6, sizes=(50, 50, 50, 50))
    # swap two videos' values within a scenario: same figures, different pairing
    keys = list(b.scores)
    b.scores[keys[0]], b.scores[keys[1]] = b.scores[keys[1]], b.scores[keys[0]]
    out = paired_comparison(a, b, n_resamples=1000)
    assert out.overall["f1"]["p_value"] > 0.05


def test_p_value_formula_by_hand() -> None:
    from visualact_env.stats import _p_value

    # p = min(1, 2 * min(1 + #{d <= 0}, 1 + #{d >= 0}) / (B + 1)), NaN draws left out
    assert _p_value(np.array([1.0, 2.0, 3.0, -1.0])) == pytest.approx(2 * 2 / 5)
    assert _p_value(np.array([0.5] * 99)) == pytest.approx(2 * 1 / 100)
    assert _p_value(np.array([-0.5] * 99)) == pytest.approx(2 * 1 / 100)
    assert _p_value(np.array([0.0, 0.0, 1.0])) == 1.0  # 2 * 3 / 4 capped at 1
    assert _p_value(np.array([0.0] + [1.0] * 8)) == pytest.approx(2 * 2 / 10)
    assert _p_value(np.array([0.0, 0.0, 0.0])) == 1.0  # zeros count on both sides
    assert _p_value(np.array([1.0, np.nan, 2.0, 3.0])) == pytest.approx(2 * 1 / 4)
    assert _p_value(np.array([np.nan])) is None


def test_paired_comparison_needs_the_same_videos() -> None:
    a = _random_report(1, sizes=(3, 3, 3, 3))
    b = _random_report(1, sizes=(3, 3, 3, 4))
    with pytest.raises(ValueError, match="same videos"):
        paired_comparison(a, b)


class CountingEncoder:
    """Deterministic stand-in embedder: similar texts share a prefix-seeded component."""

    identity = "counting@test"

    def __init__(self) -> None:
        self.calls = 0

    def encode(self, texts: Iterable[str]) -> np.ndarray:
        self.calls += 1
        out = []
        for t in texts:
            base = np.random.default_rng(int(hashlib.sha256(t[:6].encode()).hexdigest()[:8], 16))
            own = np.random.default_rng(int(hashlib.sha256(t.encode()).hexdigest()[:8], 16))
            v = base.standard_normal(64) + 0.8 * own.standard_normal(64)
            out.append(v / np.linalg.norm(v))
        return np.array(out, dtype=np.float32)


def test_tau_sweep_reuses_one_similarity_computation() -> None:
    recs, preds = [], []
    for i in range(40):
        sc = SCEN[i % 4]
        gt = (Action(f"action{i:02d} main", i % 5, True), Action(f"other{i:02d} thing", 1, False))
        recs.append(VideoRecord(f"v{i}", f"v{i}.mp4", sc, gt))
        preds.append(Prediction(f"v{i}", (Action(f"action{i:02d} variant", 2),)))
    bench = Benchmark(tuple(recs))
    enc = CountingEncoder()
    taus = (0.2, 0.5, 0.8, 0.95)
    rows = tau_sweep(bench, preds, Scorer(enc), taus=taus)
    assert enc.calls == 1
    assert [r["tau"] for r in rows] == list(taus)
    tps = [r["overall"]["counts"]["true_positives"] for r in rows]
    assert tps == sorted(tps, reverse=True) and tps[0] > tps[-1]
    reports = tau_sweep_reports(bench, preds, Scorer(CountingEncoder()), taus=taus)
    from visualact_env.metric import score_predictions

    for tau, row in zip(taus, rows, strict=True):
        direct = score_predictions(bench, preds, Scorer(CountingEncoder(), tau=tau))
        assert reports[tau].figures() == direct.figures(), tau
        assert {k: v for k, v in row.items() if k != "tau"} == direct.figures(), tau
        assert reports[tau].tau == tau
    with pytest.raises(ValueError, match="tau"):
        tau_sweep(bench, preds, Scorer(enc), taus=(2.0,))

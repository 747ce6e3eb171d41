"""The metric's rules, on hand-made similarity matrices and hand-computed figures."""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from visualact_env.metric import (
    FIGURES,
    POOLED_FIGURES,
    VIDEO_FIGURES,
    Scorer,
    ScoreReport,
    VideoScore,
    align,
    apl_weight,
    empty_score,
    match,
    quantise_similarity,
    score_predictions,
    score_video,
)
from visualact_env.records import Action, Benchmark, Prediction, VideoRecord


def acts(*apls: int | None, proactive: Iterable[bool] | None = None) -> tuple[Action, ...]:
    pro = list(proactive) if proactive is not None else [True] * len(apls)
    return tuple(Action(f"a{i}", apl, p) for i, (apl, p) in enumerate(zip(apls, pro, strict=True)))


class HashEncoder:
    """Deterministic stand-in embedder: a random unit vector seeded by the text's hash.

    Distinct texts get nearly orthogonal vectors (cosine ~ 0 in 256 dimensions), equal texts
    identical ones; it counts its calls so tests can check batching.
    """

    identity = "hash-encoder@test"

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def encode(self, texts: Iterable[str]) -> np.ndarray:
        texts = list(texts)
        self.calls.append(texts)
        out = []
        for t in texts:
            seed = int.from_bytes(hashlib.sha256(t.encode()).digest()[:8], "little")
            v = np.random.default_rng(seed).standard_normal(256)
            out.append(v / np.linalg.norm(v))
        return np.array(out, dtype=np.float32).reshape(len(texts), 256)


# ------------------------------------------------------------------ match and score_video


def test_perfect_diagonal_scores_one_everywhere() -> None:
    gt = acts(0, 2, 4)
    s = score_video(gt, gt, np.eye(3))
    assert s.figures() == dict.fromkeys(VIDEO_FIGURES, 1.0)
    assert (s.tp, s.m, s.n, s.sum_w) == (3, 3, 3, 3.0)
    assert [(p.pred_index, p.gt_index, p.matched) for p in s.pairs] == [
        (0, 0, True),
        (1, 1, True),
        (2, 2, True),
    ]


def test_hand_computed_mixed_case() -> None:
    # 3 predictions, 4 ground-truth actions. Best assignment: p0-g1 (0.9), p1-g0 (0.6),
    # p2-g3 (0.3: assigned but below tau). TP = 2.
    sim = np.array(
        [
            [0.2, 0.9, 0.1, 0.0],
            [0.6, 0.5, 0.0, 0.1],
            [0.0, 0.1, 0.2, 0.3],
        ]
    )
    pred = (Action("p0", 3), Action("p1", 0), Action("p2", 2))
    gt = (Action("g0", 2, True), Action("g1", 4, False), Action("g2", 0, True), Action("g3", 2, True))  # fmt: skip
    s = score_video(pred, gt, sim, tau=0.5)
    assert [(p.pred_index, p.gt_index, p.matched) for p in s.pairs] == [
        (0, 1, True),
        (1, 0, True),
        (2, 3, False),
    ]
    # weights: |3-4|=1 -> 0.75 ; |0-2|=2 -> 0.5 ; the unmatched pair weighs 0
    assert [p.weight for p in s.pairs] == [0.75, 0.5, 0.0]
    assert s.tp == 2 and s.sum_w == 1.25
    assert s.precision == pytest.approx(2 / 3)
    assert s.recall == pytest.approx(2 / 4)
    assert s.f1 == pytest.approx(2 * (2 / 3) * 0.5 / (2 / 3 + 0.5))
    assert s.weighted_precision == pytest.approx(1.25 / 3)
    assert s.weighted_recall == pytest.approx(1.25 / 4)
    wp, wr = 1.25 / 3, 1.25 / 4
    assert s.weighted_f1 == pytest.approx(2 * wp * wr / (wp + wr))
    assert s.scale_score == pytest.approx(1.25 / 2)
    # proactive: g0 (matched), g2, g3 proactive; g1 reactive (matched)
    assert (s.gt_proactive, s.gt_proactive_matched) == (3, 1)
    assert (s.gt_reactive, s.gt_reactive_matched) == (1, 1)


def test_threshold_is_inclusive() -> None:
    gt = acts(1)
    assert score_video(gt, gt, np.array([[0.5]]), tau=0.5).tp == 1
    assert score_video(gt, gt, np.array([[0.4999]]), tau=0.5).tp == 0
    assert score_video(gt, gt, np.array([[0.4999]]), tau=0.4).tp == 1


def test_duplicate_predictions_are_false_positives() -> None:
    gt = acts(2)
    pred = (Action("same", 2), Action("same", 2))
    s = score_video(pred, gt, np.array([[0.9], [0.9]]))
    assert (s.tp, s.m, s.n) == (1, 2, 1)
    assert s.precision == 0.5 and s.recall == 1.0
    assert s.f1 == pytest.approx(2 / 3)


def test_ties_give_the_same_counts() -> None:
    pred, gt = acts(1, 1), acts(1, 1)
    s = score_video(pred, gt, np.full((2, 2), 0.8))
    assert s.tp == 2 and s.precision == 1.0 and s.recall == 1.0
    assert sorted(p.gt_index for p in s.pairs) == [0, 1]


def test_assignment_maximises_total_similarity_not_true_positives() -> None:
    # Diagonal: 0.5 + 0.5 = 1.0 (2 TPs); anti-diagonal: 0.4 + 0.9 = 1.3 (1 TP).
    # The metric's rule is the maximum-total assignment, so TP = 1 (documented in METRICS.md).
    sim = np.array([[0.5, 0.4], [0.9, 0.5]])
    s = score_video(acts(1, 1), acts(1, 1), sim)
    assert [(p.pred_index, p.gt_index) for p in s.pairs] == [(0, 1), (1, 0)]
    assert s.tp == 1


@pytest.mark.parametrize(
    ("m", "n", "tp"),
    [(3, 2, 2), (2, 3, 2), (1, 4, 1), (4, 1, 1)],
)
def test_rectangular_matrices(m: int, n: int, tp: int) -> None:
    sim = np.zeros((m, n))
    for k in range(min(m, n)):
        sim[k, k] = 0.9
    s = score_video(acts(*[2] * m), acts(*[2] * n), sim)
    assert len(s.pairs) == min(m, n)
    assert s.tp == tp
    assert s.precision == pytest.approx(tp / m)
    assert s.recall == pytest.approx(tp / n)


def test_empty_prediction_scores_zero() -> None:
    s = score_video((), acts(1, 2), np.zeros((0, 2)))
    assert s.figures() == dict.fromkeys(VIDEO_FIGURES, 0.0)
    assert (s.tp, s.m, s.n, s.pairs) == (0, 0, 2, ())


def test_empty_ground_truth_scores_zero() -> None:
    s = score_video(acts(1), (), np.zeros((1, 0)))
    assert s.figures() == dict.fromkeys(VIDEO_FIGURES, 0.0)
    assert (s.m, s.n) == (1, 0)


def test_missing_predicted_apl_weighs_zero_but_still_matches() -> None:
    pred = (Action("x", None), Action("y", 2))
    gt = acts(2, 2)
    s = score_video(pred, gt, np.eye(2))
    assert s.tp == 2 and s.precision == 1.0
    assert [p.weight for p in s.pairs] == [0.0, 1.0]
    assert s.weighted_precision == 0.5 and s.weighted_recall == 0.5
    assert s.scale_score == 0.5


def test_all_apls_missing_gives_zero_weighted_figures() -> None:
    s = score_video((Action("x"),), acts(3), np.array([[0.9]]))
    assert s.tp == 1 and s.f1 == 1.0
    assert s.weighted_precision == s.weighted_recall == s.weighted_f1 == s.scale_score == 0.0


@pytest.mark.parametrize(
    ("pred", "gt", "w"), [(0, 0, 1.0), (0, 4, 0.0), (3, 2, 0.75), (1, 3, 0.5), (None, 2, 0.0)]
)
def test_apl_weight(pred: int | None, gt: int, w: float) -> None:
    assert apl_weight(pred, gt) == w


def test_match_rejects_bad_matrices() -> None:
    with pytest.raises(ValueError, match="2-D"):
        match(np.zeros(3))
    with pytest.raises(ValueError, match="NaN"):
        match(np.array([[np.nan]]))
    with pytest.raises(ValueError, match="shape"):
        score_video(acts(1), acts(1, 2), np.zeros((1, 1)))


def test_match_on_empty_matrix() -> None:
    assert match(np.zeros((0, 3))) == []
    assert match(np.zeros((2, 0))) == []


# ------------------------------------------------------------------ hypothesis properties

sims_and_apls = st.integers(1, 6).flatmap(
    lambda m: st.integers(1, 6).flatmap(
        lambda n: st.tuples(
            st.lists(st.lists(st.floats(-1, 1), min_size=n, max_size=n), min_size=m, max_size=m),
            st.lists(st.one_of(st.none(), st.integers(0, 4)), min_size=m, max_size=m),
            st.lists(st.integers(0, 4), min_size=n, max_size=n),
            st.floats(0, 1),
        )
    )
)


@settings(max_examples=200, deadline=None)
@given(sims_and_apls)
def test_figures_stay_in_unit_interval(case) -> None:
    sim, pred_apls, gt_apls, tau = case
    pred = tuple(Action(f"p{i}", a) for i, a in enumerate(pred_apls))
    gt = tuple(Action(f"g{i}", a, True) for i, a in enumerate(gt_apls))
    s = score_video(pred, gt, np.array(sim), tau)
    for name, value in s.figures().items():
        assert 0.0 <= value <= 1.0, name
    assert s.weighted_precision <= s.precision + 1e-12
    assert s.weighted_recall <= s.recall + 1e-12
    assert s.tp == sum(1 for p in s.pairs if p.similarity >= tau)


@settings(max_examples=200, deadline=None)
@given(sims_and_apls)
def test_assignment_is_one_to_one_and_maximises_total_similarity(case) -> None:
    """Checked against brute force over every one-to-one assignment (on similarities rounded to
    six decimals, as the metric rounds them); the threshold labels the chosen pairs and breaks
    ties, it never lowers the total similarity."""
    sim, pred_apls, gt_apls, tau = case
    sim = np.array(sim)
    q = quantise_similarity(sim)
    m, n = sim.shape
    pairs = match(sim, tau)
    rows, cols = [p[0] for p in pairs], [p[1] for p in pairs]
    assert len(pairs) == min(m, n)
    assert len(set(rows)) == len(rows) and len(set(cols)) == len(cols)  # one-to-one
    assert rows == sorted(rows)
    if m <= n:
        best = max(
            sum(int(q[i, j]) for i, j in enumerate(perm))
            for perm in itertools.permutations(range(n), m)
        )
    else:
        best = max(
            sum(int(q[i, j]) for j, i in enumerate(perm))
            for perm in itertools.permutations(range(m), n)
        )
    assert sum(int(q[i, j]) for i, j, *_ in pairs) == best
    for i, j, s, ok in pairs:
        assert s == q[i, j] / 10**6 and abs(s - sim[i, j]) <= 5.1e-7 and ok is bool(s >= tau)
    # any other threshold keeps the total similarity (tau only breaks ties)
    assert sum(int(q[i, j]) for i, j, *_ in match(sim, 0.99)) == best


gt_lists = st.lists(
    st.tuples(
        st.text(alphabet="abcdefghij klmnop", min_size=1, max_size=20).filter(str.strip),
        st.integers(0, 4),
        st.booleans(),
    ),
    min_size=1,
    max_size=8,
    unique_by=lambda t: t[0].strip(),
)


@settings(max_examples=100, deadline=None)
@given(gt_lists)
def test_perfect_copy_scores_one(items) -> None:
    gt = tuple(Action(t, a, p) for t, a, p in items)
    scorer = Scorer(HashEncoder(), tau=0.5)
    s = scorer.score_video(gt, gt)
    assert s.figures() == pytest.approx(dict.fromkeys(VIDEO_FIGURES, 1.0))
    assert s.gt_proactive_matched == s.gt_proactive
    assert s.gt_reactive_matched == s.gt_reactive


# ------------------------------------------------------------------ Scorer


def test_score_video_equals_score_many_and_batches_once() -> None:
    enc = HashEncoder()
    scorer = Scorer(enc)
    pairs = [
        ([Action("  call help ", 3)], [Action("call help", 4, True), Action("tidy up", 0, False)]),
        ([{"text": "tidy up", "apl": 0}], [{"text": "tidy up", "apl": 1, "proactive": False}]),
        (["open door", "call help"], [Action("open door", 2, True)]),
    ]
    many = scorer.score_many(pairs)
    assert len(enc.calls) == 1
    assert sorted(enc.calls[0]) == sorted({"call help", "tidy up", "open door"})
    for (p, g), s in zip(pairs, many, strict=True):
        assert scorer.score_video(p, g) == s
    # whitespace is stripped, so the first prediction matches its ground truth exactly
    assert many[0].tp == 1 and many[0].pairs[0].similarity == pytest.approx(1.0)
    assert many[0].scale_score == 0.75
    assert many[2].tp == 1 and many[2].precision == 0.5
    assert many[2].weighted_precision == 0.0  # plain strings carry no APL


def test_scorer_similarity_matrix() -> None:
    scorer = Scorer(HashEncoder())
    s = scorer.similarity(["a", "b"], ["b", "c", "a"])
    assert s.shape == (2, 3)
    assert s[0, 2] == pytest.approx(1.0) and s[1, 0] == pytest.approx(1.0)
    assert abs(s[0, 1]) < 0.5


def test_scorer_rejects_bad_tau() -> None:
    with pytest.raises(ValueError, match="tau"):
        Scorer(HashEncoder(), tau=1.5)


# ------------------------------------------------------------------ aggregation


def _vs(scenario: str, f: float, **kw) -> VideoScore:
    base = dict.fromkeys(VIDEO_FIGURES, f)
    counts = {"tp": 1, "m": 1, "n": 1, "sum_w": f}
    counts.update(kw)
    return VideoScore(**base, **counts, scenario=scenario, video_id=f"{scenario}-{f}")


def test_overall_is_mean_over_scenarios_not_videos() -> None:
    scores = [
        _vs("home_service", 1.0),
        _vs("home_service", 0.0),
        _vs("home_service", 0.5),
        _vs("safety_monitoring", 0.2),
    ]
    report = ScoreReport({f"v{i}": s for i, s in enumerate(scores)}, tau=0.5, embedder="x")
    figs = report.figures()
    assert figs["scenarios"]["home_service"]["f1"] == pytest.approx(0.5)
    assert figs["scenarios"]["safety_monitoring"]["f1"] == pytest.approx(0.2)
    assert figs["overall"]["f1"] == pytest.approx(0.35)  # not the video mean 0.425
    assert list(figs["scenarios"]) == ["home_service", "safety_monitoring"]
    assert figs["overall"]["counts"]["videos"] == 4


def test_pooled_proactive_recall() -> None:
    scores = {
        "a": _vs("home_service", 1.0, gt_proactive=1, gt_proactive_matched=1, pred_proactive=1),
        "b": _vs("home_service", 0.0, gt_proactive=3, gt_proactive_matched=0, m=3),
        "c": _vs("safety_monitoring", 1.0, gt_reactive=2, gt_reactive_matched=1),
    }
    figs = ScoreReport(scores, tau=0.5, embedder="x").figures()
    hs, sm = figs["scenarios"]["home_service"], figs["scenarios"]["safety_monitoring"]
    assert hs["proactive_recall"] == pytest.approx(1 / 4)  # pooled, not mean(1, 0) = 0.5
    assert hs["reactive_recall"] is None  # no reactive ground truth in this scenario
    assert hs["proactive_share"] == pytest.approx(1 / 4)
    assert sm["proactive_recall"] is None and sm["reactive_recall"] == 0.5
    assert figs["overall"]["proactive_recall"] == pytest.approx(1 / 4)  # only HS has any
    assert figs["overall"]["reactive_recall"] == pytest.approx(0.5)
    assert figs["overall"]["proactive_share"] == pytest.approx(1 / 8)  # mean(1/4, 0/1)


def _bench() -> Benchmark:
    recs = [
        VideoRecord("v1", "v1.mp4", "home_service", (Action("close the window", 2, True),)),
        VideoRecord("v2", "v2.mp4", "home_service", (Action("turn off the stove", 3, False),)),
        VideoRecord("v3", "v3.mp4", "safety_monitoring", (Action("call for help", 4, True),)),
        VideoRecord("v4", "v4.mp4", "safety_monitoring", (Action("wave hello", 0, True),)),
    ]
    return Benchmark(tuple(recs), name="t")


def test_score_predictions_missing_failed_and_samples() -> None:
    bench = _bench()
    preds = [
        Prediction("v1", (Action("close the window", 2, True),)),
        Prediction("v1", (), extra={"sample": 1}),
        Prediction("v2", (Action("turn off the stove", 3),), error="timeout"),
        Prediction("v3", (Action("call for help", 2),), extra={"sample": 0}),
    ]
    report = score_predictions(bench, preds, Scorer(HashEncoder()))
    assert list(report.scores) == ["v1", "v2", "v3", "v4"]
    assert [s.status for s in report.scores.values()] == ["scored", "failed", "scored", "missing"]
    assert report.scores["v2"].f1 == 0.0 and report.scores["v2"].m == 0  # failed: scored empty
    figs = report.figures()
    assert figs["scenarios"]["home_service"]["f1"] == 0.5
    assert figs["scenarios"]["safety_monitoring"]["scale_score"] == pytest.approx(0.25)
    assert figs["overall"]["f1"] == 0.5
    assert figs["overall"]["counts"] == {
        "videos": 4,
        "scored": 2,
        "failed": 1,
        "missing": 1,
        "gt_actions": 4,
        "pred_actions": 2,
        "true_positives": 2,
    }
    nulls = [Prediction("v4", (Action("wave hello", 0, True),), extra={"sample": None})]
    assert score_predictions(bench, nulls, Scorer(HashEncoder())).scores["v4"].status == "scored"
    one = score_predictions(bench, preds, Scorer(HashEncoder()), sample=1)
    assert one.scores["v1"].status == "scored" and one.scores["v1"].f1 == 0.0
    assert one.figures()["overall"]["counts"]["missing"] == 3
    assert set(report.to_dict(videos=True)) >= {"overall", "scenarios", "videos", "tau"}
    assert set(figs["overall"]) == {*FIGURES, "counts"}


@pytest.mark.parametrize("status", ["scored", "failed", "missing"])
def test_empty_failed_and_missing_videos_score_zero_and_still_count(status: str) -> None:
    # Two home-service videos, both predicted perfectly except v2, which is empty, failed or
    # absent: the scenario mean is (1 + 0) / 2, not 1 (the video is not skipped).
    bench = _bench()
    gt = {r.video_id: r.actions for r in bench}
    preds = [Prediction(v, gt[v]) for v in ("v1", "v3", "v4")]
    if status == "scored":
        preds.append(Prediction("v2", ()))
    elif status == "failed":
        preds.append(Prediction("v2", gt["v2"], error="HTTP 500"))
    report = score_predictions(bench, preds, Scorer(HashEncoder()))
    v2 = report.scores["v2"]
    assert v2.status == status
    assert v2.figures() == dict.fromkeys(VIDEO_FIGURES, 0.0)
    assert (v2.tp, v2.m, v2.n, v2.gt_reactive, v2.gt_reactive_matched) == (0, 0, 1, 1, 0)
    figs = report.figures()
    hs = figs["scenarios"]["home_service"]
    for name in VIDEO_FIGURES:
        assert hs[name] == pytest.approx(0.5), name
        assert figs["scenarios"]["safety_monitoring"][name] == pytest.approx(1.0), name
        assert figs["overall"][name] == pytest.approx(0.75), name
    assert hs["reactive_recall"] == 0.0  # v2's reactive ground truth is missed, not dropped
    assert hs["counts"]["videos"] == 2 and hs["counts"]["scored"] == (
        2 if status == "scored" else 1
    )
    assert hs["counts"]["failed"] == (status == "failed")
    assert hs["counts"]["missing"] == (status == "missing")
    assert hs["counts"]["gt_actions"] == 2


def test_perfect_copy_of_a_benchmark_scores_one() -> None:
    bench = _bench()
    preds = [Prediction(r.video_id, r.actions) for r in bench]
    figs = score_predictions(bench, preds, Scorer(HashEncoder())).figures()
    for name in FIGURES:
        if name != "proactive_share":
            assert figs["overall"][name] == pytest.approx(1.0), name
    # the share of proactive predictions equals the ground truth's share, per scenario
    assert figs["scenarios"]["home_service"]["proactive_share"] == 0.5
    assert figs["scenarios"]["safety_monitoring"]["proactive_share"] == 1.0


def test_align_rejects_unknown_and_duplicate_ids() -> None:
    bench = _bench()
    with pytest.raises(ValueError, match="'zz'.*allow-extra"):
        align(bench, [Prediction("zz")])
    warnings: list[str] = []
    out = align(bench, [Prediction("zz")], allow_extra=True, warnings=warnings)
    assert len(out) == 4 and "zz" in warnings[0]
    with pytest.raises(ValueError, match="two predictions for video 'v1'"):
        align(bench, [Prediction("v1"), Prediction("v1")])


def test_empty_score_helper() -> None:
    s = empty_score(acts(1, 2, proactive=[True, False]), status="missing")
    assert (s.n, s.gt_proactive, s.gt_reactive, s.status) == (2, 1, 1, "missing")
    assert all(v == 0.0 for v in s.figures().values())


def test_figure_names_are_consistent() -> None:
    # The names and order METRICS.md documents for `visualact score --json` (written out here,
    # not derived from the module's own tuples).
    assert VIDEO_FIGURES == (
        "precision", "recall", "f1", "weighted_precision", "weighted_recall", "weighted_f1",
        "scale_score",
    )  # fmt: skip
    assert POOLED_FIGURES == ("proactive_recall", "reactive_recall", "proactive_share")
    assert FIGURES == VIDEO_FIGURES + POOLED_FIGURES

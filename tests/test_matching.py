"""The matching's tie rule: checked by brute force, on hand-worked duplicated texts, and by
permuting every order a figure must not depend on (actions, records, ground truth)."""

from __future__ import annotations

import hashlib
import itertools
import random
from collections.abc import Iterable

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from visualact_env.matching import lexicographic_assignment
from visualact_env.metric import (
    TIE_RULE,
    Scorer,
    apl_weight,
    match,
    score_predictions,
    score_video,
    tie_keys,
)
from visualact_env.records import SCENARIOS, Action, Benchmark, Prediction, VideoRecord
from visualact_env.stats import bootstrap_ci

# ------------------------------------------------------------------ brute force


def _assignments(m: int, n: int) -> Iterable[list[tuple[int, int]]]:
    if m <= n:
        for perm in itertools.permutations(range(n), m):
            yield list(enumerate(perm))
    else:
        for perm in itertools.permutations(range(m), n):
            yield [(i, j) for j, i in enumerate(perm)]


def _rule_value(pairs, sim, tau, pred, gt) -> tuple[int, int, int, int, int]:
    """The rule's five totals of an assignment, computed from the definitions in METRICS.md
    (independently of :func:`tie_keys`): similarity on the 1e-6 grid, true positives, 4 x APL
    weight, flag agreements and proactive ground truth among the true positives."""
    q_total = tp = w4 = agree = pro = 0
    for i, j in pairs:
        q = round(float(sim[i, j]) * 10**6)
        q_total += q
        if q / 10**6 >= tau:
            tp += 1
            w4 += round(4 * apl_weight(pred[i].apl, gt[j].apl))
            p, g = pred[i].proactive, gt[j].proactive
            agree += p is not None and g is not None and bool(p) == bool(g)
            pro += bool(g)
    return q_total, tp, w4, agree, pro


# few distinct values, so that many assignments tie on total similarity
tie_prone = st.sampled_from([0.9, 0.7, 0.6, 0.5, 0.45, 0.3, 0.2, -0.1])
small_cases = st.integers(1, 5).flatmap(
    lambda m: st.integers(1, 5).flatmap(
        lambda n: st.tuples(
            st.lists(st.lists(tie_prone, min_size=n, max_size=n), min_size=m, max_size=m),
            st.lists(
                st.tuples(
                    st.one_of(st.none(), st.integers(0, 4)), st.sampled_from([None, True, False])
                ),
                min_size=m,
                max_size=m,
            ),
            st.lists(st.tuples(st.integers(0, 4), st.booleans()), min_size=n, max_size=n),
            st.sampled_from([0.3, 0.45, 0.5, 0.6]),
        )
    )
)


@settings(max_examples=400, deadline=None)
@given(small_cases)
def test_chosen_assignment_is_the_lexicographic_best_of_all_assignments(case) -> None:
    sim, pred_meta, gt_meta, tau = case
    sim = np.array(sim)
    pred = tuple(Action(f"p{i}", a, p) for i, (a, p) in enumerate(pred_meta))
    gt = tuple(Action(f"g{j}", a, p) for j, (a, p) in enumerate(gt_meta))
    best = max(_rule_value(pairs, sim, tau, pred, gt) for pairs in _assignments(*sim.shape))
    chosen = [(i, j) for i, j, *_ in match(sim, tau, pred, gt)]
    assert _rule_value(chosen, sim, tau, pred, gt) == best
    # both solvers behind the rule reach the same optimum
    keys = tie_keys(sim, tau, pred, gt)
    for method in ("scipy", "integer"):
        rows, cols = lexicographic_assignment(keys, method=method)
        assert _rule_value(list(zip(rows, cols, strict=True)), sim, tau, pred, gt) == best
    # the video's figures follow from the rule's totals alone
    s = score_video(pred, gt, sim, tau)
    assert (s.tp, round(4 * s.sum_w), s.gt_proactive_matched) == (best[1], best[2], best[4])


@settings(max_examples=300, deadline=None)
@given(
    st.integers(1, 5).flatmap(
        lambda m: st.integers(1, 5).flatmap(
            lambda n: st.lists(
                st.lists(
                    st.lists(st.integers(-3, 3), min_size=n, max_size=n), min_size=m, max_size=m
                ),
                min_size=1,
                max_size=4,
            )
        )
    )
)
def test_lexicographic_assignment_on_random_integer_keys(keys) -> None:
    keys = [np.array(k) for k in keys]
    m, n = keys[0].shape
    best = max(
        tuple(sum(int(k[i, j]) for i, j in pairs) for k in keys) for pairs in _assignments(m, n)
    )
    for method in ("auto", "scipy", "integer"):
        rows, cols = lexicographic_assignment(keys, method=method)
        assert len(rows) == min(m, n) and len(set(cols.tolist())) == len(cols)
        assert list(rows) == sorted(rows)
        assert (
            tuple(sum(int(k[i, j]) for i, j in zip(rows, cols, strict=True)) for k in keys) == best
        )


def test_integer_solver_takes_over_when_float64_would_not_be_exact() -> None:
    rng = np.random.default_rng(0)
    keys = [rng.integers(-(10**6), 10**6, size=(45, 50))] + [
        rng.integers(0, 5, size=(45, 50)) for _ in range(4)
    ]
    with pytest.raises(ValueError, match="too large"):
        lexicographic_assignment(keys, method="scipy")
    rows, cols = lexicographic_assignment(keys)  # auto: the exact integer solver
    # optimal on the first key, checked with scipy on that key alone (exact: small integers)
    from scipy.optimize import linear_sum_assignment

    r0, c0 = linear_sum_assignment(-keys[0].astype(np.float64))
    assert int(keys[0][rows, cols].sum()) == int(keys[0][r0, c0].sum())


# ------------------------------------------------------------------ hand-worked examples


def _both_orders(pred, gt, sim):
    """Scores of the video as given and with both action lists reversed."""
    a = score_video(pred, gt, np.array(sim))
    b = score_video(pred[::-1], gt[::-1], np.array(sim)[::-1, ::-1])
    assert a.figures() == b.figures()
    assert (a.tp, a.sum_w, a.gt_proactive_matched) == (b.tp, b.sum_w, b.gt_proactive_matched)
    return a


def test_identical_proposals_with_different_apl_take_the_better_weight() -> None:
    # Both copies are equally similar; the rule gives the match to the APL-3 copy (w = 1), not
    # to whichever copy is listed first (w = 0.5 for the APL-1 copy).
    pred = (Action("call for help", 1, True), Action("call for help", 3, True))
    gt = (Action("call for help", 3, True),)
    s = _both_orders(pred, gt, [[1.0], [1.0]])
    assert s.tp == 1 and s.sum_w == 1.0
    assert (s.precision, s.recall, s.weighted_precision, s.scale_score) == (0.5, 1.0, 0.5, 1.0)


def test_identical_ground_truth_texts_match_the_agreeing_one() -> None:
    gt = (Action("tidy the desk", 1, False), Action("tidy the desk", 4, True))
    pred = (Action("tidy the desk", 4, True),)
    s = _both_orders(pred, gt, [[1.0, 1.0]])
    assert s.tp == 1 and s.sum_w == 1.0 and s.scale_score == 1.0
    assert (s.gt_proactive_matched, s.gt_reactive_matched) == (1, 0)
    assert s.weighted_recall == 0.5


def test_equal_totals_prefer_more_true_positives() -> None:
    # diagonal 0.5 + 0.5 = 1.0 with two true positives; anti-diagonal 0.3 + 0.7 = 1.0 with one
    s = _both_orders(
        (Action("a", 2), Action("b", 2)), (Action("c", 2), Action("d", 2)), [[0.5, 0.3], [0.7, 0.5]]
    )
    assert s.tp == 2 and s.f1 == 1.0


def test_apl_weight_ranks_before_flag_agreement() -> None:
    gt = (Action("x", 2, False), Action("x", 3, True))
    s = _both_orders((Action("x", 2, True),), gt, [[1.0, 1.0]])
    assert s.sum_w == 1.0 and s.gt_reactive_matched == 1  # w = 1 beats w = 0.75 with agreement


def test_flag_agreement_then_proactive_ground_truth_break_the_last_ties() -> None:
    gt = (Action("x", 2, False), Action("x", 2, True))
    agreeing = _both_orders((Action("x", 2, False),), gt, [[1.0, 1.0]])
    assert (agreeing.gt_reactive_matched, agreeing.gt_proactive_matched) == (1, 0)
    unflagged = _both_orders((Action("x", 2, None),), gt, [[1.0, 1.0]])
    assert (unflagged.gt_reactive_matched, unflagged.gt_proactive_matched) == (0, 1)


def test_total_similarity_still_comes_first() -> None:
    # METRICS.md's example: the anti-diagonal's total 1.3 wins over two true positives (1.0)
    s = _both_orders(
        (Action("a", 1), Action("b", 1)), (Action("c", 1), Action("d", 1)), [[0.5, 0.4], [0.9, 0.5]]
    )
    assert s.tp == 1


def test_tie_rule_is_the_documented_one() -> None:
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "METRICS.md").read_text()
    assert "the counts are the same either way" not in text
    assert len(TIE_RULE) == 5
    for key in TIE_RULE:
        assert key in text, key


# ------------------------------------------------------------------ order never matters

VOCAB = (
    "Call emergency services.",
    "Call 911 for help.",
    "Help the person stand up.",
    "Tidy up the room.",
    "Clean the room.",
    "Turn off the stove.",
    "Switch off the stove burner.",
    "Close the window.",
    "Open the window.",
    "Brake and let the pedestrian cross.",
    "Slow down the car.",
    "Wave back at the person.",
)


class CoarseEncoder:
    """Maps every text to one of three unit vectors: distinct texts then tie exactly, which
    stresses the tie rule far more than real sentences do."""

    identity = "coarse@test"
    _BASIS = np.array([[1.0, 0.0], [0.6, 0.8], [0.0, 1.0]], dtype=np.float32)

    def encode(self, texts: Iterable[str]) -> np.ndarray:
        idx = [hashlib.sha256(t.encode()).digest()[0] % 3 for t in texts]
        return self._BASIS[idx].reshape(len(idx), 2)


action_st = st.tuples(
    st.sampled_from(VOCAB),
    st.one_of(st.none(), st.integers(0, 4)),
    st.sampled_from([None, True, False]),
)
video_st = st.tuples(
    st.sampled_from(SCENARIOS),
    st.lists(
        st.tuples(st.sampled_from(VOCAB), st.integers(0, 4), st.booleans()), min_size=1, max_size=5
    ),
    st.sampled_from(["scored", "scored", "scored", "failed", "missing"]),
    st.lists(action_st, max_size=6),
)


def _figures(bench: Benchmark, preds: list[Prediction], scorer: Scorer) -> dict:
    report = score_predictions(bench, preds, scorer)
    per_video = {vid: s.figures() for vid, s in report.scores.items()}
    counts = {
        vid: (s.tp, s.sum_w, s.gt_proactive_matched, s.gt_reactive_matched, s.status)
        for vid, s in report.scores.items()
    }
    ci = bootstrap_ci(report, n_resamples=40, seed=1)
    return {"figures": report.figures(), "videos": per_video, "counts": counts, "ci": ci.to_dict()}


def _check_order_free(videos, tau: float, seed: int, encoder) -> None:
    records, preds = [], []
    for k, (scenario, gt, status, pred) in enumerate(videos):
        vid = f"v{k}"
        records.append(VideoRecord(vid, f"{vid}.mp4", scenario, tuple(Action(*a) for a in gt)))
        if status != "missing":
            actions = tuple(Action(*a) for a in pred)
            preds.append(Prediction(vid, actions, error="boom" if status == "failed" else None))
    scorer = Scorer(encoder, tau)
    base = _figures(Benchmark(tuple(records), name="t"), preds, scorer)
    rnd = random.Random(seed)
    shuffled_records = [
        VideoRecord(r.video_id, r.video, r.scenario, tuple(rnd.sample(r.actions, len(r.actions))))
        for r in rnd.sample(records, len(records))
    ]
    shuffled_preds = [
        Prediction(p.video_id, tuple(rnd.sample(p.actions, len(p.actions))), error=p.error)
        for p in rnd.sample(preds, len(preds))
    ]
    again = _figures(Benchmark(tuple(shuffled_records), name="t"), shuffled_preds, scorer)
    assert again == base


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(video_st, min_size=1, max_size=8),
    st.sampled_from([0.3, 0.5, 0.7]),
    st.integers(0, 2**32),
)
def test_no_figure_depends_on_any_order_with_the_real_model(embedder, videos, tau, seed) -> None:
    _check_order_free(videos, tau, seed, embedder)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(video_st, min_size=1, max_size=8),
    st.sampled_from([0.5, 0.6, 0.9]),
    st.integers(0, 2**32),
)
def test_no_figure_depends_on_any_order_when_distinct_texts_tie(videos, tau, seed) -> None:
    _check_order_free(videos, tau, seed, CoarseEncoder())

"""The VisualActBench metric (paper section 2.3; exact definitions and choices in METRICS.md).

For one video with predicted actions ``p_1..p_m`` and ground-truth actions ``g_1..g_n``:

* ``S[i, j]`` is the cosine similarity of the two texts' sentence embeddings;
* ``S`` is rounded to :data:`SIMILARITY_DECIMALS` decimals (finer differences are numerical
  noise, not content);
* the one-to-one assignment maximising the total ``S`` is chosen (Hungarian algorithm), ties
  broken by a complete content-only rule (:data:`TIE_RULE`: most true positives, then the
  greatest APL weight, then the most proactive-flag agreements, then the most proactive
  ground-truth actions matched), so no figure depends on the order of actions or records;
  an assigned pair whose similarity is at least ``tau`` is a true positive;
* precision = TP/m, recall = TP/n, F1 their harmonic mean; each true positive weighs
  ``w = 1 - |apl_pred - apl_gt| / 4`` (0 when the predicted APL is missing) for the weighted
  precision, recall and F1 (sum(w)/m, sum(w)/n) and the scale score (sum(w)/TP).

A scenario's figure is the mean over its videos (a video with no prediction, or a failed one,
scores 0 and still counts); the overall figure is the mean over the scenarios present. Proactive
and reactive recall pool the matched ground-truth actions over a scenario's videos.

The pure functions (:func:`match`, :func:`score_video`) take a similarity matrix; the
:class:`Scorer` adds embeddings, and :func:`score_predictions` a whole prediction set.
"""

from __future__ import annotations

import math
import warnings as _warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from .figures import BUILTIN_FIGURES, figure_names, figures, total_columns
from .limits import MAX_ACTIONS_PER_VIDEO
from .records import SCENARIOS, Action, Benchmark, Prediction, VideoRecord

VIDEO_FIGURES: tuple[str, ...] = tuple(f.name for f in BUILTIN_FIGURES if not f.pooled)
"""The built-in figures computed per video and averaged over a scenario's videos (declared in
:mod:`visualact_env.figures`, with any figure registered there, live: ``video_figure_names()``)."""

POOLED_FIGURES: tuple[str, ...] = tuple(f.name for f in BUILTIN_FIGURES if f.pooled)
"""The built-in figures pooled over a scenario's actions (ratios of sums)."""

FIGURES: tuple[str, ...] = tuple(f.name for f in BUILTIN_FIGURES)
"""Every built-in figure, in display order (live, with registered ones: ``figure_names()``)."""

COUNT_FIELDS: tuple[str, ...] = (
    "tp",
    "m",
    "n",
    "sum_w",
    "gt_proactive_matched",
    "gt_proactive",
    "gt_reactive_matched",
    "gt_reactive",
    "pred_proactive",
)
"""The per-video counts a video's details (``scores.jsonl``) carry beside its figures."""

STATUSES: tuple[str, ...] = ("scored", "failed", "missing")

ActionLike = Action | Mapping[str, Any] | str


@dataclass(frozen=True, slots=True)
class Pair:
    """One assigned (prediction, ground truth) pair of the Hungarian matching."""

    pred_index: int
    gt_index: int
    similarity: float
    weight: float
    """APL weight ``1 - |apl_pred - apl_gt| / 4`` for a true positive, else 0."""
    matched: bool
    """True positive: similarity >= tau."""


@dataclass(frozen=True)
class VideoScore:
    """Every figure of one video plus the details they came from."""

    precision: float
    recall: float
    f1: float
    weighted_precision: float
    weighted_recall: float
    weighted_f1: float
    scale_score: float
    tp: int
    m: int
    n: int
    sum_w: float
    pairs: tuple[Pair, ...] = ()
    gt_proactive: int = 0
    gt_proactive_matched: int = 0
    gt_reactive: int = 0
    gt_reactive_matched: int = 0
    pred_proactive: int = 0
    video_id: str | None = None
    scenario: str | None = None
    status: str = "scored"
    """``scored``, ``failed`` (prediction with an error: scored as empty) or ``missing``."""
    similarity: np.ndarray | None = field(default=None, repr=False, compare=False)
    """The full ``(m, n)`` similarity matrix, when kept."""

    def figures(self) -> dict[str, float]:
        """The per-video figures by name (every registered per-video figure, in order)."""
        return {f.name: f.per_video(self) for f in figures() if f.per_video is not None}

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready details: figures, counts and the assignment."""
        d: dict[str, Any] = {"video_id": self.video_id, "scenario": self.scenario}
        d["status"] = self.status
        d.update(self.figures())
        for name in COUNT_FIELDS:
            d[name] = getattr(self, name)
        d["pairs"] = [
            {
                "pred": p.pred_index,
                "gt": p.gt_index,
                "similarity": round(p.similarity, 6),
                "weight": p.weight,
                "matched": p.matched,
            }
            for p in self.pairs
        ]
        return d


def _ratio(num: float, den: float) -> float:
    return num / den if den else 0.0


def _harmonic(a: float, b: float) -> float:
    return 2 * a * b / (a + b) if a + b > 0 else 0.0


SIMILARITY_DECIMALS = 6
"""Similarities are rounded to this many decimals before matching and thresholding."""

_GRID = 10**SIMILARITY_DECIMALS

TIE_RULE: tuple[str, ...] = (
    "total similarity",
    "true positives",
    "APL weight of the true positives",
    "proactive-flag agreements of the true positives",
    "proactive ground-truth actions matched",
)
"""The matching's keys, maximised in this order (METRICS.md, "Matching")."""


def quantise_similarity(sim: np.ndarray) -> np.ndarray:
    """``sim`` on the integer grid of :data:`SIMILARITY_DECIMALS` (``round(sim * 10**6)``)."""
    return np.rint(np.asarray(sim, dtype=np.float64) * _GRID).astype(np.int64)


def _check_matrix(sim: np.ndarray) -> np.ndarray:
    sim = np.asarray(sim, dtype=np.float64)
    if sim.ndim != 2:
        raise ValueError(f"similarity matrix must be 2-D, got shape {sim.shape}")
    if not np.isfinite(sim).all():
        raise ValueError("similarity matrix holds NaN or infinite values")
    return sim


def tie_keys(
    sim: np.ndarray,
    tau: float,
    pred: Sequence[Action] | None = None,
    gt: Sequence[Action] | None = None,
) -> list[np.ndarray]:
    """The integer key matrices of :data:`TIE_RULE` for a ``(m, n)`` similarity matrix.

    Without ``pred`` and ``gt`` only the first two keys (similarity, true positive) exist.
    Every key is a function of the pair's content (rounded similarity, APLs, flags), never of
    its position, which is what makes the chosen figures independent of order.
    """
    q = quantise_similarity(_check_matrix(sim))
    tp = (q / _GRID) >= tau
    keys = [q, tp.astype(np.int64)]
    if pred is None or gt is None:
        return keys
    p_apl = np.array([0 if a.apl is None else int(a.apl) for a in pred], dtype=np.int64)
    g_apl = np.array([0 if a.apl is None else int(a.apl) for a in gt], dtype=np.int64)
    has = np.outer([a.apl is not None for a in pred], [a.apl is not None for a in gt])
    w4 = np.where(has, 4 - np.abs(p_apl[:, None] - g_apl[None, :]), 0)  # 4 * apl_weight
    p_pro = [a.proactive for a in pred]
    g_pro = [a.proactive for a in gt]
    agree = np.array(
        [[p is not None and g is not None and bool(p) == bool(g) for g in g_pro] for p in p_pro],
        dtype=bool,
    ).reshape(q.shape)
    gt_pro = np.broadcast_to(np.array([bool(g) for g in g_pro], dtype=bool), q.shape)
    keys += [np.where(tp, w4, 0), (tp & agree).astype(np.int64), (tp & gt_pro).astype(np.int64)]
    return keys


def match(
    sim: np.ndarray,
    tau: float = 0.5,
    pred: Sequence[Action] | None = None,
    gt: Sequence[Action] | None = None,
) -> list[tuple[int, int, float, bool]]:
    """The metric's one-to-one assignment of a ``(m, n)`` similarity matrix.

    Maximises the total similarity (rounded to :data:`SIMILARITY_DECIMALS` decimals); among
    equal totals, the keys of :data:`TIE_RULE` in order (the APL and proactive keys need
    ``pred`` and ``gt``). Returns ``(pred_index, gt_index, similarity, is_true_positive)`` for
    each of the ``min(m, n)`` assigned pairs, sorted by prediction index, with the rounded
    similarity. Rectangular matrices are fine.
    """
    sim = _check_matrix(sim)
    if sim.size == 0:
        return []
    if pred is not None and gt is not None and sim.shape != (len(pred), len(gt)):
        raise ValueError(f"similarity matrix has shape {sim.shape}, expected ({len(pred)}, {len(gt)})")  # fmt: skip
    from .matching import lexicographic_assignment

    keys = tie_keys(sim, tau, pred, gt)
    rows, cols = lexicographic_assignment(keys)
    q, tp = keys[0], keys[1]
    return [
        (int(i), int(j), float(q[i, j] / _GRID), bool(tp[i, j]))
        for i, j in zip(rows, cols, strict=True)
    ]


def apl_weight(pred_apl: int | None, gt_apl: int | None) -> float:
    """``1 - |pred - gt| / 4``; 0 when either APL is missing."""
    if pred_apl is None or gt_apl is None:
        return 0.0
    return 1.0 - abs(int(pred_apl) - int(gt_apl)) / 4.0


def empty_score(gt: Sequence[Action], n_pred: int = 0, **info: Any) -> VideoScore:
    """The all-zero score of a video with nothing matched (no, failed or empty prediction)."""
    pro = sum(1 for a in gt if a.proactive)
    return VideoScore(
        0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, tp=0, m=n_pred, n=len(gt), sum_w=0.0,
        gt_proactive=pro, gt_reactive=len(gt) - pro, **info,
    )  # fmt: skip


def check_sizes(m: int, n: int, where: str = "") -> None:
    """``ValueError`` if a video has more than :data:`~visualact_env.limits.MAX_ACTIONS_PER_VIDEO`
    predicted (``m``) or ground-truth (``n``) actions: the exact matching grows as the cube of
    the count, so an absurd list is refused at once instead of stalling (the file readers and
    the environments refuse it earlier, naming file, line and field or the argument)."""
    for what, count in (("predicted", m), ("ground-truth", n)):
        if count > MAX_ACTIONS_PER_VIDEO:
            raise ValueError(
                f"{where}{count:,} {what} actions; the metric matches at most "
                f"{MAX_ACTIONS_PER_VIDEO} per video (visualact_env.limits.MAX_ACTIONS_PER_VIDEO)"
            )


def score_video(
    pred: Sequence[Action],
    gt: Sequence[Action],
    sim: np.ndarray,
    tau: float = 0.5,
    *,
    keep_similarity: bool = False,
    **info: Any,
) -> VideoScore:
    """Score one video from its actions and the ``(len(pred), len(gt))`` similarity matrix.

    ``info`` (``video_id``, ``scenario``, ``status``) is copied into the result.
    """
    m, n = len(pred), len(gt)
    check_sizes(m, n)
    sim = np.asarray(sim, dtype=np.float64)
    if sim.shape != (m, n):
        raise ValueError(f"similarity matrix has shape {sim.shape}, expected ({m}, {n})")
    pairs = []
    for i, j, s, ok in match(sim, tau, pred, gt):
        w = apl_weight(pred[i].apl, gt[j].apl) if ok else 0.0
        pairs.append(Pair(i, j, s, w, ok))
    tp = sum(p.matched for p in pairs)
    sum_w = math.fsum(p.weight for p in pairs)
    precision, recall = _ratio(tp, m), _ratio(tp, n)
    wp, wr = _ratio(sum_w, m), _ratio(sum_w, n)
    pro_gt = [bool(a.proactive) for a in gt]
    matched_gt = {p.gt_index for p in pairs if p.matched}
    pro_matched = sum(1 for j in matched_gt if pro_gt[j])
    return VideoScore(
        precision=precision,
        recall=recall,
        f1=_harmonic(precision, recall),
        weighted_precision=wp,
        weighted_recall=wr,
        weighted_f1=_harmonic(wp, wr),
        scale_score=_ratio(sum_w, tp),
        tp=tp,
        m=m,
        n=n,
        sum_w=sum_w,
        pairs=tuple(pairs),
        gt_proactive=sum(pro_gt),
        gt_proactive_matched=pro_matched,
        gt_reactive=n - sum(pro_gt),
        gt_reactive_matched=len(matched_gt) - pro_matched,
        pred_proactive=sum(1 for a in pred if a.proactive),
        similarity=sim if keep_similarity else None,
        **info,
    )


def coerce_actions(items: Iterable[ActionLike]) -> tuple[Action, ...]:
    """Actions from Action objects, ``{"text", "apl", "proactive"}`` dicts or plain strings;
    texts are stripped of outer whitespace (what every path scores)."""
    out = []
    for item in items:
        if isinstance(item, str):
            out.append(Action(item.strip()))
        elif isinstance(item, Action):
            out.append(item if item.text == item.text.strip() else Action(item.text.strip(), item.apl, item.proactive))  # fmt: skip
        else:
            a = Action.from_dict(item)
            out.append(Action(a.text.strip(), a.apl, a.proactive))
    return tuple(out)


def similarity_matrix(
    pred_texts: Sequence[str], gt_texts: Sequence[str], vectors: Mapping[str, np.ndarray]
) -> np.ndarray:
    """The ``(len(pred_texts), len(gt_texts))`` cosine matrix from L2-normalised ``vectors``.

    Computed in float64 over the *sorted unique* texts and then indexed, so identical texts get
    bit-identical rows and columns and the values do not depend on the order of the actions
    (a matrix product's rounding can depend on where a row sits); clipped to [-1, 1].
    """
    if not pred_texts or not gt_texts:
        return np.zeros((len(pred_texts), len(gt_texts)))
    up, ug = sorted(set(pred_texts)), sorted(set(gt_texts))
    p = np.stack([np.asarray(vectors[t], dtype=np.float64) for t in up])
    g = np.stack([np.asarray(vectors[t], dtype=np.float64) for t in ug])
    unique = np.clip(p @ g.T, -1.0, 1.0)
    ip = {t: i for i, t in enumerate(up)}
    ig = {t: j for j, t in enumerate(ug)}
    return unique[np.ix_([ip[t] for t in pred_texts], [ig[t] for t in gt_texts])]


class TextEncoder(Protocol):
    """What a :class:`Scorer` needs from an embedder (see :class:`~.embedding.Embedder`)."""

    identity: str

    def encode(self, texts: Iterable[str]) -> np.ndarray: ...


class Scorer:
    """Scores videos with sentence-embedding similarities and threshold ``tau``.

    ``embedder`` defaults to :class:`~.embedding.Embedder` with the default model (created at
    first use). :meth:`score_video` and :meth:`score_many` share one code path, so their numbers
    are identical; :meth:`score_many` sends all unique texts to the embedder in one call.
    """

    def __init__(self, embedder: TextEncoder | None = None, tau: float = 0.5):
        if not -1.0 <= tau <= 1.0:
            raise ValueError(f"tau must be within [-1, 1], got {tau}")
        self._embedder = embedder
        self.tau = float(tau)

    @property
    def embedder(self) -> TextEncoder:
        if self._embedder is None:
            from .embedding import Embedder

            self._embedder = Embedder()
        return self._embedder

    def similarity(self, pred_texts: Sequence[str], gt_texts: Sequence[str]) -> np.ndarray:
        """The ``(len(pred_texts), len(gt_texts))`` cosine-similarity matrix."""
        return self.similarities([(coerce_actions(pred_texts), coerce_actions(gt_texts))])[0]

    def similarities(
        self,
        pairs: Sequence[tuple[Sequence[Action], Sequence[Action]]],
        known: Mapping[str, np.ndarray] | None = None,
    ) -> list[np.ndarray]:
        """Similarity matrices of many (pred, gt) action lists from one encode call.

        ``known`` holds vectors already computed (by :meth:`vectors`) for some texts, which are
        then not encoded again: the environments pass their ground truth's vectors, so their
        rewards come from this very path (one vector per distinct text)."""
        texts: dict[str, None] = {}
        for pred, gt in pairs:
            check_sizes(len(pred), len(gt))
        for pred, gt in pairs:
            if pred and gt:
                texts.update(dict.fromkeys(a.text for a in (*pred, *gt)))
        known = known or {}
        table = {t: known[t] for t in texts if t in known}
        table.update(self.vectors(t for t in texts if t not in known))
        return [
            similarity_matrix([a.text for a in pred], [a.text for a in gt], table)
            for pred, gt in pairs
        ]

    def vectors(self, texts: Iterable[str]) -> dict[str, np.ndarray]:
        """The embedding of each text, from one encode call."""
        todo = list(dict.fromkeys(texts))
        if not todo:
            return {}
        vectors = np.asarray(self.embedder.encode(todo), dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[0] != len(todo):
            raise RuntimeError(f"embedder returned shape {vectors.shape} for {len(todo)} texts")
        return dict(zip(todo, vectors, strict=True))

    def score_many(
        self,
        pairs: Iterable[tuple[Iterable[ActionLike], Iterable[ActionLike]]],
        *,
        keep_similarity: bool = False,
    ) -> list[VideoScore]:
        """Score many ``(predicted actions, ground-truth actions)`` pairs."""
        coerced = [(coerce_actions(p), coerce_actions(g)) for p, g in pairs]
        sims = self.similarities(coerced)
        return [
            score_video(p, g, s, self.tau, keep_similarity=keep_similarity)
            for (p, g), s in zip(coerced, sims, strict=True)
        ]

    def score_video(
        self, pred: Iterable[ActionLike], gt: Iterable[ActionLike], *, keep_similarity: bool = False
    ) -> VideoScore:
        """Score one video (same numbers as :meth:`score_many`)."""
        return self.score_many([(pred, gt)], keep_similarity=keep_similarity)[0]


# --------------------------------------------------------------------------------------------
# Whole prediction sets


@dataclass(frozen=True)
class Aligned:
    """One benchmark video with the prediction chosen for it."""

    record: VideoRecord
    pred: tuple[Action, ...]
    status: str


def select_sample(predictions: Iterable[Prediction], sample: int = 0) -> list[Prediction]:
    """The predictions of one sample index (a record without ``sample``, or with ``null``, is
    sample 0)."""
    return [p for p in predictions if p.sample == sample]


def align(
    benchmark: Benchmark,
    predictions: Iterable[Prediction],
    *,
    sample: int = 0,
    allow_extra: bool = False,
    warnings: list[str] | None = None,
) -> list[Aligned]:
    """Pair every benchmark video (in benchmark order) with its prediction of ``sample``.

    Unknown video ids raise ``ValueError`` (or, with ``allow_extra``, are dropped with a message
    in ``warnings``); two predictions for the same video and sample raise ``ValueError``.
    """
    chosen: dict[str, Prediction] = {}
    unknown: list[str] = []
    for p in select_sample(predictions, sample):
        if p.video_id not in benchmark:
            unknown.append(p.video_id)
        elif p.video_id in chosen:
            raise ValueError(f"two predictions for video {p.video_id!r} (sample {sample})")
        else:
            chosen[p.video_id] = p
    if unknown:
        shown = ", ".join(repr(v) for v in unknown[:10]) + (" ..." if len(unknown) > 10 else "")
        msg = f"{len(unknown)} prediction(s) for video ids not in the annotations: {shown}"
        if not allow_extra:
            raise ValueError(msg + " (allow_extra=True / --allow-extra to ignore them)")
        if warnings is not None:
            warnings.append(msg + "; ignored")
    out = []
    for rec in benchmark:
        pred = chosen.get(rec.video_id)
        if pred is None:
            out.append(Aligned(rec, (), "missing"))
        elif pred.failed:
            out.append(Aligned(rec, (), "failed"))
        else:
            out.append(Aligned(rec, coerce_actions(pred.actions), "scored"))
    return out


def figures_from_totals(totals: np.ndarray, videos: np.ndarray) -> np.ndarray:
    """Scenario and overall figures from per-scenario sums (vectorised over leading axes).

    ``totals[..., s, :]`` holds scenario ``s``'s sums of the columns of
    :func:`~visualact_env.figures.total_columns` (one per per-video figure, a numerator and a
    denominator per pooled figure); ``videos[..., s]`` its (possibly resampled) number of
    videos. Returns ``[..., s, f]`` for each scenario then the overall row (index ``S``),
    figures in registry order; an undefined pooled figure (no such action) is NaN.
    """
    columns = []
    k = 0
    with np.errstate(invalid="ignore", divide="ignore"):
        for f in figures():
            if f.pooled:
                ratio = totals[..., k] / totals[..., k + 1]
                columns.append(np.where(np.isfinite(ratio), ratio, np.nan))
                k += 2
            else:
                columns.append(totals[..., k] / videos)
                k += 1
    if k != totals.shape[-1]:
        raise ValueError(f"totals have {totals.shape[-1]} columns, the figures need {k}")
    per_scenario = np.stack(columns, axis=-1)
    with _warnings.catch_warnings():
        _warnings.simplefilter("ignore", RuntimeWarning)  # a figure undefined in every scenario
        overall = np.nanmean(per_scenario, axis=-2)
    return np.concatenate([per_scenario, overall[..., None, :]], axis=-2)


def _clean(value: float) -> float | None:
    return None if math.isnan(value) else float(value)


@dataclass
class ScoreReport:
    """Per-video scores of a prediction set (benchmark order) and their aggregation."""

    scores: dict[str, VideoScore]
    tau: float
    embedder: str
    sample: int = 0
    benchmark_name: str = ""
    fingerprint: str = ""
    warnings: list[str] = field(default_factory=list)

    @property
    def scenarios(self) -> list[str]:
        """Scenarios present, in the paper's order."""
        present = {s.scenario for s in self.scores.values()}
        return [s for s in SCENARIOS if s in present]

    def counts(self, scenario: str | None = None) -> dict[str, int]:
        """Numbers of videos (all, scored, failed, missing) and of actions."""
        chosen = [s for s in self.scores.values() if scenario is None or s.scenario == scenario]
        c = {"videos": len(chosen)}
        for status in STATUSES:
            c[status] = sum(1 for s in chosen if s.status == status)
        c["gt_actions"] = sum(s.n for s in chosen)
        c["pred_actions"] = sum(s.m for s in chosen)
        c["true_positives"] = sum(s.tp for s in chosen)
        return c

    def matrix(self) -> tuple[np.ndarray, np.ndarray]:
        """``(values, scenario_codes)``: per video the values of
        :func:`~visualact_env.figures.total_columns`, and the index of its scenario in
        :attr:`scenarios`.

        Rows are in video-id order, not record order, so sums over them (and the videos a
        seeded bootstrap draws) do not depend on the order of the annotation records."""
        code = {s: i for i, s in enumerate(self.scenarios)}
        cols = total_columns()
        scores = [self.scores[vid] for vid in sorted(self.scores)]
        values = np.array([[c(s) for c in cols] for s in scores], dtype=np.float64).reshape(
            len(scores), len(cols)
        )
        codes = np.array([code[str(s.scenario)] for s in scores], dtype=np.int64)
        return values, codes

    def figure_array(self) -> np.ndarray:
        """``[scenario..., overall] x figures`` (registry order; NaN where undefined)."""
        values, codes = self.matrix()
        n_s = len(self.scenarios)
        totals = np.zeros((n_s, values.shape[1]))
        np.add.at(totals, codes, values)
        return figures_from_totals(totals, np.bincount(codes, minlength=n_s).astype(np.float64))

    def figures(self) -> dict[str, Any]:
        """``{"overall": {...}, "scenarios": {id: {...}}}``: fractions in [0, 1] (``None`` for
        an undefined pooled figure), each with its ``counts``."""
        arr = self.figure_array()
        scen = self.scenarios

        def row(i: int, scenario: str | None) -> dict[str, Any]:
            d: dict[str, Any] = {f: _clean(arr[i, k]) for k, f in enumerate(figure_names())}
            d["counts"] = self.counts(scenario)
            return d

        return {
            "overall": row(len(scen), None),
            "scenarios": {s: row(i, s) for i, s in enumerate(scen)},
        }

    def to_dict(self, videos: bool = False) -> dict[str, Any]:
        """JSON-ready report; ``videos=True`` adds the per-video details."""
        d: dict[str, Any] = {
            "tau": self.tau,
            "embedder": self.embedder,
            "sample": self.sample,
            "benchmark": {"name": self.benchmark_name, "fingerprint": self.fingerprint},
        }
        d.update(self.figures())
        d["warnings"] = list(self.warnings)
        if videos:
            d["videos"] = [s.to_dict() for s in self.scores.values()]
        return d


def report_from_similarities(
    aligned: Sequence[Aligned],
    sims: Sequence[np.ndarray],
    tau: float,
    *,
    embedder: str = "",
    keep_similarity: bool = False,
    **meta: Any,
) -> ScoreReport:
    """Build a :class:`ScoreReport` from aligned videos and their similarity matrices."""
    scores = {}
    for a, sim in zip(aligned, sims, strict=True):
        info: dict[str, Any] = {"video_id": a.record.video_id, "scenario": a.record.scenario}
        info["status"] = a.status
        if a.pred:
            scores[a.record.video_id] = score_video(
                a.pred, a.record.actions, sim, tau, keep_similarity=keep_similarity, **info
            )
        else:
            scores[a.record.video_id] = empty_score(a.record.actions, **info)
    return ScoreReport(scores=scores, tau=tau, embedder=embedder, **meta)


def score_predictions(
    benchmark: Benchmark,
    predictions: Iterable[Prediction],
    scorer: Scorer | None = None,
    *,
    sample: int = 0,
    allow_extra: bool = False,
    keep_similarity: bool = False,
) -> ScoreReport:
    """Score a prediction set against a benchmark (one encode call for all texts)."""
    scorer = scorer or Scorer()
    warnings: list[str] = []
    aligned = align(benchmark, predictions, sample=sample, allow_extra=allow_extra, warnings=warnings)  # fmt: skip
    for a in aligned:
        check_sizes(len(a.pred), len(a.record.actions), f"video {a.record.video_id!r}: ")
    sims = scorer.similarities([(a.pred, a.record.actions) for a in aligned])
    return report_from_similarities(
        aligned,
        sims,
        scorer.tau,
        embedder=getattr(scorer.embedder, "identity", ""),
        keep_similarity=keep_similarity,
        sample=sample,
        benchmark_name=benchmark.name,
        fingerprint=benchmark.fingerprint,
        warnings=warnings,
    )

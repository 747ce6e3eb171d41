"""The figures of a score report, each declared once, and the tables and plots that show them.

A :class:`Figure` says everything the library needs to know about one figure:

* its ``name`` (the key in ``summary.json``, ``scores.jsonl``, ``visualact score --json`` and
  :meth:`~visualact_env.metric.ScoreReport.figures`), a ``title`` for plots and tiles and a short
  column ``label``;
* how it is computed from a video's :class:`~visualact_env.metric.VideoScore`: a per-video
  figure (``per_video``) is averaged over a scenario's videos; a pooled figure
  (``numerator``/``denominator``) is the ratio of the two sums over a scenario's videos (NaN
  when the denominator is 0). The overall figure is the mean over the scenarios where the
  figure is defined;
* how it is printed (``scale`` and ``decimals``: x100 with one decimal, as in the paper);
* which report tables and plots show it (``views``: view name -> column label, ``""`` for the
  figure's own label or title), and whether it is a ``headline`` figure (listed first, with
  confidence intervals and paired differences).

Everything else is derived from the registry at the time of use: the metric's figure list and
its per-scenario sums (:func:`total_columns`, used by ``figures_from_totals``), bootstrap
intervals and tau sweeps, ``summary.json`` keys, every Markdown, terminal and HTML table and
every plot listed in :data:`VIEWS`. :func:`register_figure` (or :func:`registered`, for a
while) adds a figure; this module imports nothing from the library (a leaf).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any

ScoreFunction = Callable[[Any], float]
"""A function of one video's :class:`~visualact_env.metric.VideoScore`."""

DASH = "\u2013"


@dataclass(frozen=True)
class View:
    """A report table or plot that shows some figures as columns (or series)."""

    title: str
    """What the view shows, for people (and ARCHITECTURE.md)."""
    headline_first: bool = False
    """Order: headline figures first (by rank), then the others in declaration order; otherwise
    declaration order (the paper's tables)."""
    titles: bool = False
    """Label each figure with its ``title`` (plots, tiles) rather than its short ``label``."""


VIEWS: dict[str, View] = {
    "table2": View("Table 2 layout: precision / recall / F1 per scenario and overall"),
    "table3": View("Table 3 layout: the scale score per scenario and overall"),
    "weighted": View("APL-weighted precision / recall / F1 per scenario (visualact score)"),
    "proactive": View("proactive and reactive recall, proactive share per scenario"),
    "table4": View("Table 4 layout: overall figures of a frames/tau sweep (visualact sweep)"),
    "leaderboard": View(
        "overall figures of each run: the compare leaderboard, the eval summary", True
    ),
    "tiles": View("headline tiles of report.html, with CIs", True, titles=True),
    "scenario_plot": View("bars per scenario with CIs (plots/scenario_scores.png)", True, True),
    "recall_plot": View("proactive vs reactive recall bars (plots/proactive.png)", titles=True),
    "tau_plot": View("overall figures against tau (plots/tau_sweep.png)", True, titles=True),
}
"""Every view that lists figures, by name (a figure joins a view through ``Figure.views``)."""


@dataclass(frozen=True)
class Figure:
    """One figure of a score report (see the module docstring)."""

    name: str
    title: str
    label: str
    description: str
    per_video: ScoreFunction | None = None
    numerator: ScoreFunction | None = None
    denominator: ScoreFunction | None = None
    views: Mapping[str, str] = field(default_factory=dict)
    headline: int | None = None
    """Rank among the headline figures (1 first), or None."""
    scale: float = 100.0
    decimals: int = 1

    def __post_init__(self) -> None:
        by_video = self.per_video is not None
        pooled = self.numerator is not None and self.denominator is not None
        half = (self.numerator is None) != (self.denominator is None)
        if by_video == pooled or half:
            raise ValueError(
                f"figure {self.name!r}: give either per_video or numerator and denominator"
            )
        unknown = sorted(set(self.views) - set(VIEWS))
        if unknown:
            raise ValueError(f"figure {self.name!r}: unknown views {unknown}; known: {list(VIEWS)}")

    @property
    def pooled(self) -> bool:
        """A ratio of sums over a scenario's videos (not a mean of per-video values)."""
        return self.per_video is None

    def columns(self) -> tuple[ScoreFunction, ...]:
        """The per-video values summed over a scenario: ``(per_video,)`` or
        ``(numerator, denominator)``."""
        if self.per_video is not None:
            return (self.per_video,)
        assert self.numerator is not None and self.denominator is not None
        return (self.numerator, self.denominator)

    def label_in(self, view: str) -> str:
        """This figure's column label (or series title) in ``view``."""
        given = self.views.get(view, "")
        if given:
            return given
        return self.title if VIEWS[view].titles else self.label

    def format(self, value: Any) -> str:
        """The value as reports print it (x100, one decimal); ``None``/NaN as an en dash."""
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return DASH
        return f"{self.scale * float(value):.{self.decimals}f}"


def _attr(name: str) -> ScoreFunction:
    return attrgetter(name)


BUILTIN_FIGURES: tuple[Figure, ...] = (
    Figure(
        "precision", "Precision", "Prec.", "true positives / predicted actions",
        per_video=_attr("precision"),
        views={"table2": "", "table4": "", "leaderboard": "", "tiles": "", "tau_plot": ""},
    ),
    Figure(
        "recall", "Recall", "Recall", "true positives / ground-truth actions",
        per_video=_attr("recall"),
        views={"table2": "", "table4": "", "leaderboard": "", "tiles": "", "tau_plot": ""},
    ),
    Figure(
        "f1", "F1", "F1", "harmonic mean of precision and recall",
        per_video=_attr("f1"), headline=1,
        views={"table2": "", "table4": "", "leaderboard": "", "tiles": "", "scenario_plot": "",
               "tau_plot": ""},
    ),
    Figure(
        "weighted_precision", "Weighted precision", "W-Prec.",
        "sum of the true positives' APL weights / predicted actions",
        per_video=_attr("weighted_precision"), views={"weighted": ""},
    ),
    Figure(
        "weighted_recall", "Weighted recall", "W-Recall",
        "sum of the true positives' APL weights / ground-truth actions",
        per_video=_attr("weighted_recall"), views={"weighted": ""},
    ),
    Figure(
        "weighted_f1", "Weighted F1", "wF1", "harmonic mean of weighted precision and recall",
        per_video=_attr("weighted_f1"), headline=2,
        views={"weighted": "W-F1", "leaderboard": "", "tiles": "", "scenario_plot": "",
               "tau_plot": ""},
    ),
    Figure(
        "scale_score", "Scale score", "Scale",
        "mean APL weight of the true positives (the paper's APL column)",
        per_video=_attr("scale_score"), headline=3,
        views={"table3": "", "table4": "APL", "leaderboard": "", "tiles": "",
               "scenario_plot": ""},
    ),
    Figure(
        "proactive_recall", "Proactive recall", "Pro. R",
        "matched proactive ground-truth actions / proactive ground-truth actions (pooled)",
        numerator=_attr("gt_proactive_matched"), denominator=_attr("gt_proactive"),
        views={"proactive": "", "tiles": "", "recall_plot": ""},
    ),
    Figure(
        "reactive_recall", "Reactive recall", "Re. R",
        "matched reactive ground-truth actions / reactive ground-truth actions (pooled)",
        numerator=_attr("gt_reactive_matched"), denominator=_attr("gt_reactive"),
        views={"proactive": "", "tiles": "", "recall_plot": ""},
    ),
    Figure(
        "proactive_share", "Proactive share", "Pro. %",
        "predicted actions flagged proactive / predicted actions (pooled)",
        numerator=_attr("pred_proactive"), denominator=_attr("m"),
        views={"proactive": "", "leaderboard": "Pro.%", "tiles": ""},
    ),
)  # fmt: skip
"""The figures of the paper's metric and the proactive ones (METRICS.md defines them)."""

_registry: list[Figure] = list(BUILTIN_FIGURES)


def figures() -> tuple[Figure, ...]:
    """Every registered figure, in declaration order (the order of every report)."""
    return tuple(_registry)


def figure_names() -> tuple[str, ...]:
    """The names of :func:`figures`."""
    return tuple(f.name for f in _registry)


def video_figure_names() -> tuple[str, ...]:
    """The per-video figures' names (those a single video's score has)."""
    return tuple(f.name for f in _registry if not f.pooled)


def get_figure(name: str) -> Figure:
    """The registered figure called ``name`` (KeyError naming the known ones otherwise)."""
    for f in _registry:
        if f.name == name:
            return f
    raise KeyError(f"no figure {name!r}; known: {list(figure_names())}")


def total_columns() -> list[ScoreFunction]:
    """The per-video values whose per-scenario sums give every figure: each figure's
    :meth:`Figure.columns`, in declaration order (the columns of ``ScoreReport.matrix``)."""
    return [col for f in _registry for col in f.columns()]


def video_columns() -> list[int]:
    """The index in :func:`total_columns` of each per-video figure (in
    :func:`video_figure_names` order): the columns holding the per-video values themselves."""
    out, k = [], 0
    for f in _registry:
        if not f.pooled:
            out.append(k)
        k += len(f.columns())
    return out


def video_figure_positions() -> list[int]:
    """The index in :func:`figure_names` of each per-video figure."""
    return [i for i, f in enumerate(_registry) if not f.pooled]


def view(name: str) -> tuple[tuple[str, str], ...]:
    """``(figure name, label)`` of every figure shown in view ``name``, in the view's order."""
    if name not in VIEWS:
        raise KeyError(f"no view {name!r}; known: {list(VIEWS)}")
    shown = [f for f in _registry if name in f.views]
    if VIEWS[name].headline_first:
        top = sorted((f for f in shown if f.headline is not None), key=lambda f: f.headline or 0)
        shown = top + [f for f in shown if f.headline is None]
    return tuple((f.name, f.label_in(name)) for f in shown)


def view_names(name: str) -> tuple[str, ...]:
    """The figure names of :func:`view`."""
    return tuple(n for n, _ in view(name))


def headline_figures() -> tuple[tuple[str, str], ...]:
    """``(name, label)`` of the headline figures, by rank (CIs, paired differences)."""
    top = sorted((f for f in _registry if f.headline is not None), key=lambda f: f.headline or 0)
    return tuple((f.name, f.label) for f in top)


def format_figure(name: str, value: Any) -> str:
    """``value`` as the figure ``name`` prints (x100 and one decimal for an unknown name)."""
    for f in _registry:
        if f.name == name:
            return f.format(value)
    return BUILTIN_FIGURES[0].format(value)


def register_figure(figure: Figure) -> None:
    """Add a figure after the registered ones (ValueError if the name is taken)."""
    if figure.name in figure_names():
        raise ValueError(f"figure {figure.name!r} is already registered")
    _registry.append(figure)


def unregister_figure(name: str) -> None:
    """Remove a figure added with :func:`register_figure` (built-in figures stay)."""
    if name in {f.name for f in BUILTIN_FIGURES}:
        raise ValueError(f"figure {name!r} is built in")
    _registry[:] = [f for f in _registry if f.name != name]


@contextmanager
def registered(*extra: Figure) -> Iterator[None]:
    """Register ``extra`` figures for the duration of a ``with`` block (tests, experiments)."""
    for f in extra:
        register_figure(f)
    try:
        yield
    finally:
        for f in extra:
            unregister_figure(f.name)

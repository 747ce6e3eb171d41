"""Plots of a run's summary and of a comparison (matplotlib, Agg backend, imported lazily).

Every plot is drawn once by a ``*_figure`` function (a matplotlib ``Figure``) and saved as PNG
(embedded in the HTML reports as a data URL), SVG (text kept as text) and PDF, side by side
under ``plots/``. Each title starts with the run's label. SVG and PDF carry no creation date,
so the same summary gives the same bytes.

Rules a reader would otherwise trip on: legends sit outside the axes (never over a curve or a
bar); lines that can coincide (an oracle's F1, precision and recall are all 100) differ in
marker and dash; the score axis reaches 105 so a 95% interval ending at 100 shows its cap; an
undefined figure is marked "n/a" instead of a missing bar; a heat map whose counts are all 0
says so instead of a meaningless -0.1..0.1 colour bar; rotated tick labels are anchored at
their tick.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..cache import atomic_write_bytes
from ..figures import view
from ..records import SCENARIOS
from .tables import SCENARIO_ABBREV

PALETTE = ("#2f6fde", "#e07b39", "#3aa17e", "#a05195", "#d45087", "#7a7a7a")
AVERAGE_COLOR = "#d62728"
PUBLISHED_COLOR = "#b7bcc4"
MARKERS = ("o", "s", "^", "D", "v", "P")
DASHES = ("-", "--", ":", "-.", (0, (5, 1, 1, 1)), (0, (1, 1)))
FORMATS = ("png", "svg", "pdf")
SCORE_TOP = 105
"""Score axes end here, above 100, so interval caps and markers at 100 stay visible."""


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    plt.rcParams.update(
        {
            "font.size": 9,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "axes.grid": True,
            "grid.alpha": 0.25,
            "axes.axisbelow": True,
            "svg.fonttype": "none",
            "svg.hashsalt": "visualact",
            "pdf.fonttype": 42,
        }
    )
    return plt


_METADATA = {
    "png": {"Software": None},
    "svg": {"Date": None, "Creator": None},
    "pdf": {"CreationDate": None, "Creator": None, "Producer": None},
}


def _save(fig: Any, fmt: str) -> bytes:
    buf = io.BytesIO()
    kwargs: dict[str, Any] = {"format": fmt, "bbox_inches": "tight", "metadata": _METADATA[fmt]}
    if fmt == "png":
        kwargs["dpi"] = 110
    fig.savefig(buf, **kwargs)
    return buf.getvalue()


def render(fig: Any, formats: Sequence[str] = FORMATS) -> dict[str, bytes]:
    """``{format: bytes}`` of a figure in each of ``formats``; the figure is closed after."""
    import matplotlib.pyplot as plt

    try:
        return {fmt: _save(fig, fmt) for fmt in formats}
    finally:
        plt.close(fig)


def _png(fig: Any) -> bytes:
    return render(fig, ("png",))["png"]


def titled(label: str | None, what: str) -> str:
    """A plot title: ``"<run label>: <what>"`` (just ``what`` without a label)."""
    return f"{label}: {what}" if label else what


def _legend_outside(ax: Any, **kwargs: Any) -> Any:
    """A legend right of the axes, top-aligned: it never covers data."""
    return ax.legend(
        frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0, **kwargs
    )


def _num(value: Any) -> float:
    """A figure as a plottable float (undefined figures become NaN, drawn as gaps)."""
    return math.nan if value is None else float(value)


def _groups(summary: Mapping[str, Any]) -> list[tuple[str, str | None]]:
    """(label, scenario or None for overall) for each scenario of the run, then Overall."""
    scs = [sc for sc in SCENARIOS if sc in (summary.get("scenarios") or {})]
    return [(SCENARIO_ABBREV[sc].rstrip("."), sc) for sc in scs] + [("Overall", None)]


def _block(summary: Mapping[str, Any], scenario: str | None) -> Mapping[str, Any]:
    if scenario is None:
        return summary.get("overall") or {}
    return (summary.get("scenarios") or {}).get(scenario) or {}


def _ci_block(summary: Mapping[str, Any], scenario: str | None) -> Mapping[str, Any]:
    if scenario is None:
        return summary.get("overall_ci") or {}
    return (summary.get("scenario_ci") or {}).get(scenario) or {}


def _label(summary: Mapping[str, Any]) -> str:
    return str(summary.get("agent_label") or "run")


def _bar_figure(
    summary: Mapping[str, Any], figures: Sequence[tuple[str, str]], title: str, ylabel: str
) -> Any:
    """Grouped bars (x100) per scenario and overall, with CI error bars where known."""
    plt = _pyplot()
    groups = _groups(summary)
    fig, ax = plt.subplots(figsize=(7.2, 3.4))
    width = 0.8 / len(figures)
    for k, (fig_name, label) in enumerate(figures):
        xs, ys, lo, hi = [], [], [], []
        for g, (_, sc) in enumerate(groups):
            value = _num(_block(summary, sc).get(fig_name)) * 100
            ci = _ci_block(summary, sc).get(fig_name)
            xs.append(g + (k - (len(figures) - 1) / 2) * width)
            ys.append(value)
            if ci and ci[0] is not None and not math.isnan(value):
                lo.append(max(0.0, value - 100 * ci[0]))
                hi.append(max(0.0, 100 * ci[1] - value))
            else:
                lo.append(0.0)
                hi.append(0.0)
        ax.bar(xs, ys, width * 0.92, label=label, color=PALETTE[k % len(PALETTE)])
        bars = ax.errorbar(xs, ys, yerr=[lo, hi], fmt="none", ecolor="#222", capsize=2.5, lw=0.9)
        for artist in (*bars.lines[1], *bars.lines[2]):
            artist.set_clip_on(False)
        for x, y in zip(xs, ys, strict=True):
            if math.isnan(y):
                ax.text(
                    x, 1, "n/a", ha="center", va="bottom", fontsize=7, color="#666", rotation=90
                )
    ax.set_xticks(range(len(groups)), [g for g, _ in groups])
    ax.set_ylim(0, SCORE_TOP)
    ax.set_yticks(range(0, 101, 20))
    ax.set_ylabel(ylabel)
    ax.set_title(titled(_label(summary), title), loc="left", fontsize=10, fontweight="bold")
    _legend_outside(ax, fontsize=8)
    return fig


def scenario_bars_figure(summary: Mapping[str, Any]) -> Any:
    """F1, APL-weighted F1 and scale score per scenario and overall, with bootstrap CIs."""
    figures = view("scenario_plot")
    return _bar_figure(summary, figures, "scores by scenario (95% bootstrap CI)", "score x100")


def proactive_figure(summary: Mapping[str, Any]) -> Any:
    """Recall of proactive and of reactive ground-truth actions per scenario and overall."""
    figures = view("recall_plot")
    return _bar_figure(summary, figures, "proactive vs reactive recall", "recall x100")


def tau_sweep_figure(summary: Mapping[str, Any]) -> Any:
    """Overall figures as the matching threshold tau varies; the run's tau marked. Each line has
    its own marker and dash, so lines that coincide stay distinguishable."""
    plt = _pyplot()
    sweep = summary.get("tau_sweep") or []
    fig, ax = plt.subplots(figsize=(7.2, 3.2))
    taus = [row["tau"] for row in sweep]
    for k, (fig_name, label) in enumerate(view("tau_plot")):
        ys = [_num(row.get(fig_name)) * 100 for row in sweep]
        ax.plot(
            taus,
            ys,
            marker=MARKERS[k % len(MARKERS)],
            ms=7 - 1.2 * (k % 4),
            mfc="none" if k % 2 else PALETTE[k % len(PALETTE)],
            ls=DASHES[k % len(DASHES)],
            lw=1.5,
            label=label,
            color=PALETTE[k % len(PALETTE)],
            clip_on=False,
        )
    tau = summary.get("tau")
    if tau is not None:
        ax.axvline(tau, color="#555", ls=":", lw=1)
        ax.annotate(
            f"\u03c4={tau:g}", (tau, 1.0), xycoords=("data", "axes fraction"),
            xytext=(3, 2), textcoords="offset points", fontsize=8, color="#555",
        )  # fmt: skip
    ax.set_xlabel("similarity threshold \u03c4")
    ax.set_ylabel("score x100")
    ax.set_ylim(0, SCORE_TOP)
    ax.set_yticks(range(0, 101, 20))
    ax.set_title(titled(_label(summary), "threshold sweep"), loc="left", fontsize=10, fontweight="bold")  # fmt: skip
    _legend_outside(ax, fontsize=8)
    return fig


def apl_confusion_figure(summary: Mapping[str, Any]) -> Any:
    """Counts of matched pairs by ground-truth APL (rows) and predicted APL (columns); the colour
    scale starts at 0 and counts are integers; no colour bar when every count is 0."""
    plt = _pyplot()
    conf = summary.get("apl_confusion") or {}
    counts = conf.get("counts") or [[0]]
    fig, ax = plt.subplots(figsize=(4.6, 3.6))
    top = max((max(r) for r in counts), default=0)
    im = ax.imshow(counts, cmap="Blues", vmin=0, vmax=max(top, 1))
    ax.grid(False)
    ax.set_xticks(range(len(conf.get("pred_labels", []))), conf.get("pred_labels", []))
    ax.set_yticks(range(len(conf.get("gt_labels", []))), conf.get("gt_labels", []))
    ax.set_xlabel("predicted APL")
    ax.set_ylabel("ground-truth APL")
    for i, row in enumerate(counts):
        for j, n in enumerate(row):
            color = "white" if top and n > top * 0.6 else "#222"
            ax.text(j, i, str(n), ha="center", va="center", fontsize=8, color=color)
    if top:
        from matplotlib.ticker import MaxNLocator

        bar = fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
        bar.locator = MaxNLocator(integer=True)
        bar.update_ticks()
        bar.set_label("matched pairs")
    else:
        ax.set_xlabel("predicted APL  (no matched pairs: every count is 0)")
    ax.set_title(titled(_label(summary), "APL of matched pairs"), loc="left", fontsize=10, fontweight="bold")  # fmt: skip
    return fig


def proactive_ratio_figure(rows: Sequence[Mapping[str, Any]], label: str | None = None) -> Any:
    """The paper's Figure 4: share of proactive predicted actions per policy, average dashed.

    Tick labels are rotated about their right end (``rotation_mode="anchor"``) so each ends
    under its own bar; a policy without predictions is marked "n/a"; published rows (if any)
    are grey and named in the legend.
    """
    plt = _pyplot()
    from matplotlib.patches import Patch

    names = [str(r.get("name", "run")) for r in rows]
    values = [_num((r.get("overall") or {}).get("proactive_share")) * 100 for r in rows]
    fig, ax = plt.subplots(figsize=(max(4.0, 0.7 * len(rows) + 2), 3.4))
    published = [bool(r.get("published")) for r in rows]
    colors = [PUBLISHED_COLOR if p else PALETTE[0] for p in published]
    ax.bar(range(len(rows)), values, 0.7, color=colors)
    handles = [Patch(color=PALETTE[0], label="run")]
    if any(published):
        handles.append(Patch(color=PUBLISHED_COLOR, label="published (paper)"))
    finite = [v for v in values if not math.isnan(v)]
    if finite:
        avg = sum(finite) / len(finite)
        handles.append(ax.axhline(avg, color=AVERAGE_COLOR, ls="--", lw=1.3, label=f"average {avg:.1f}"))  # fmt: skip
    for i, v in enumerate(values):
        if math.isnan(v):
            ax.text(i, 1, "n/a", ha="center", va="bottom", fontsize=8, color="#666")
        else:
            ax.text(i, v + 1, f"{v:.1f}", ha="center", va="bottom", fontsize=8,
                    bbox={"facecolor": "white", "edgecolor": "none", "pad": 0.5})  # fmt: skip
    rotate = len(rows) > 4 or max((len(n) for n in names), default=0) > 12
    ax.set_xticks(range(len(rows)), names)
    if rotate:
        for tick in ax.get_xticklabels():
            tick.set(rotation=30, ha="right", rotation_mode="anchor")
    ax.set_ylim(0, SCORE_TOP)
    ax.set_yticks(range(0, 101, 20))
    ax.set_ylabel("proactive share of predictions (%)")
    ax.set_title(titled(label, "proactive ratio per policy"), loc="left", fontsize=10, fontweight="bold")  # fmt: skip
    ax.legend(handles=handles, frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0, fontsize=8)  # fmt: skip
    return fig


def scenario_bars_png(summary: Mapping[str, Any]) -> bytes:
    return _png(scenario_bars_figure(summary))


def proactive_png(summary: Mapping[str, Any]) -> bytes:
    return _png(proactive_figure(summary))


def tau_sweep_png(summary: Mapping[str, Any]) -> bytes:
    return _png(tau_sweep_figure(summary))


def apl_confusion_png(summary: Mapping[str, Any]) -> bytes:
    return _png(apl_confusion_figure(summary))


def proactive_ratio_png(rows: Sequence[Mapping[str, Any]], label: str | None = None) -> bytes:
    return _png(proactive_ratio_figure(rows, label))


RUN_PLOTS: dict[str, Callable[[Mapping[str, Any]], Any]] = {
    "scenario_scores": scenario_bars_figure,
    "tau_sweep": tau_sweep_figure,
    "apl_confusion": apl_confusion_figure,
    "proactive_recall": proactive_figure,
}


def write_figure(fig: Any, out_dir: str | Path, stem: str) -> dict[str, bytes]:
    """Save ``fig`` as ``stem.png``, ``stem.svg`` and ``stem.pdf`` under ``out_dir``."""
    out = Path(out_dir)
    images = render(fig)
    for fmt, data in images.items():
        atomic_write_bytes(out / f"{stem}.{fmt}", data)
    return images


def write_run_plots(summary: Mapping[str, Any], out_dir: str | Path) -> dict[str, bytes]:
    """Draw every run plot, write each as PNG, SVG and PDF under ``out_dir`` and return
    ``{PNG file name: PNG bytes}`` (for the HTML report)."""
    images: dict[str, bytes] = {}
    for stem, draw in RUN_PLOTS.items():
        if stem == "tau_sweep" and not summary.get("tau_sweep"):
            continue
        images[f"{stem}.png"] = write_figure(draw(summary), out_dir, stem)["png"]
    return images

"""PNG plots of a run's summary and of a comparison (matplotlib, Agg backend, imported lazily).

Every function takes the plain ``summary.json`` dict (or a list of rows for comparisons), draws
one figure and returns its PNG bytes, so the same image can be written to ``plots/`` and
embedded in the HTML reports as a data URL.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..cache import atomic_write_bytes
from ..figures import view
from ..records import SCENARIOS
from .tables import SCENARIO_ABBREV

PALETTE = ("#2f6fde", "#e07b39", "#3aa17e", "#a05195", "#d45087", "#7a7a7a")
AVERAGE_COLOR = "#d62728"


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
        }
    )
    return plt


def _png(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return buf.getvalue()


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


def _bar_chart(
    summary: Mapping[str, Any], figures: Sequence[tuple[str, str]], title: str, ylabel: str
) -> bytes:
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
        ax.errorbar(xs, ys, yerr=[lo, hi], fmt="none", ecolor="#222", capsize=2.5, lw=0.9)
    ax.set_xticks(range(len(groups)), [g for g, _ in groups])
    ax.set_ylim(0, 100)
    ax.set_ylabel(ylabel)
    ax.set_title(title, loc="left", fontsize=10, fontweight="bold")
    ax.legend(frameon=False, ncols=len(figures), loc="upper left", fontsize=8)
    return _png(fig)


def scenario_bars_png(summary: Mapping[str, Any]) -> bytes:
    """F1, APL-weighted F1 and scale score per scenario and overall, with bootstrap CIs."""
    figures = view("scenario_plot")
    return _bar_chart(summary, figures, "Scores by scenario (95% bootstrap CI)", "score x100")


def proactive_png(summary: Mapping[str, Any]) -> bytes:
    """Recall of proactive and of reactive ground-truth actions per scenario and overall."""
    figures = view("recall_plot")
    return _bar_chart(summary, figures, "Proactive vs reactive recall", "recall x100")


def tau_sweep_png(summary: Mapping[str, Any]) -> bytes:
    """Overall figures as the matching threshold tau varies; the run's tau marked."""
    plt = _pyplot()
    sweep = summary.get("tau_sweep") or []
    fig, ax = plt.subplots(figsize=(7.2, 3.2))
    taus = [row["tau"] for row in sweep]
    for k, (fig_name, label) in enumerate(view("tau_plot")):
        ys = [_num(row.get(fig_name)) * 100 for row in sweep]
        ax.plot(taus, ys, marker="o", ms=3, lw=1.6, label=label, color=PALETTE[k % len(PALETTE)])
    tau = summary.get("tau")
    if tau is not None:
        ax.axvline(tau, color="#555", ls=":", lw=1)
        ax.text(tau, 98, f" \u03c4={tau:g}", va="top", fontsize=8, color="#555")
    ax.set_xlabel("similarity threshold \u03c4")
    ax.set_ylabel("score x100")
    ax.set_ylim(0, 100)
    ax.set_title("Threshold sweep", loc="left", fontsize=10, fontweight="bold")
    ax.legend(frameon=False, ncols=4, loc="lower left", fontsize=8)
    return _png(fig)


def apl_confusion_png(summary: Mapping[str, Any]) -> bytes:
    """Counts of matched pairs by ground-truth APL (rows) and predicted APL (columns)."""
    plt = _pyplot()
    conf = summary.get("apl_confusion") or {}
    counts = conf.get("counts") or [[0]]
    fig, ax = plt.subplots(figsize=(4.6, 3.6))
    im = ax.imshow(counts, cmap="Blues")
    ax.grid(False)
    ax.set_xticks(range(len(conf.get("pred_labels", []))), conf.get("pred_labels", []))
    ax.set_yticks(range(len(conf.get("gt_labels", []))), conf.get("gt_labels", []))
    ax.set_xlabel("predicted APL")
    ax.set_ylabel("ground-truth APL")
    top = max((max(r) for r in counts), default=0) or 1
    for i, row in enumerate(counts):
        for j, n in enumerate(row):
            color = "white" if n > top * 0.6 else "#222"
            ax.text(j, i, str(n), ha="center", va="center", fontsize=8, color=color)
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    ax.set_title("APL of matched pairs", loc="left", fontsize=10, fontweight="bold")
    return _png(fig)


def proactive_ratio_png(rows: Sequence[Mapping[str, Any]]) -> bytes:
    """The paper's Figure 4: share of proactive predicted actions per policy, average dashed."""
    plt = _pyplot()
    names = [str(r.get("name", "run")) for r in rows]
    values = [_num((r.get("overall") or {}).get("proactive_share")) * 100 for r in rows]
    fig, ax = plt.subplots(figsize=(max(4.0, 0.7 * len(rows) + 2), 3.4))
    colors = [PALETTE[5] if r.get("published") else PALETTE[0] for r in rows]
    ax.bar(range(len(rows)), values, 0.7, color=colors)
    finite = [v for v in values if not math.isnan(v)]
    if finite:
        avg = sum(finite) / len(finite)
        ax.axhline(avg, color=AVERAGE_COLOR, ls="--", lw=1.3, label=f"average {avg:.1f}")
        ax.legend(frameon=False, loc="upper right", fontsize=8)
    for i, v in enumerate(values):
        if not math.isnan(v):
            ax.text(i, v + 1, f"{v:.1f}", ha="center", va="bottom", fontsize=8)
    ax.set_xticks(range(len(rows)), names, rotation=30 if len(rows) > 4 else 0, ha="right")
    ax.set_ylim(0, 105)
    ax.set_ylabel("proactive share of predictions (%)")
    ax.set_title("Proactive ratio per policy", loc="left", fontsize=10, fontweight="bold")
    return _png(fig)


RUN_PLOTS = {
    "scenario_scores.png": scenario_bars_png,
    "tau_sweep.png": tau_sweep_png,
    "apl_confusion.png": apl_confusion_png,
    "proactive_recall.png": proactive_png,
}


def write_run_plots(summary: Mapping[str, Any], out_dir: str | Path) -> dict[str, bytes]:
    """Draw every run plot, write them under ``out_dir`` and return ``{file name: PNG bytes}``."""
    out = Path(out_dir)
    images: dict[str, bytes] = {}
    for name, draw in RUN_PLOTS.items():
        if name == "tau_sweep.png" and not summary.get("tau_sweep"):
            continue
        images[name] = draw(summary)
        atomic_write_bytes(out / name, images[name])
    return images

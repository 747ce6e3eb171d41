"""Reports of runs: summary, Markdown tables in the paper's layouts, HTML, plots, comparisons.

* :func:`write_reports` turns a run folder (``config.json`` + ``predictions.jsonl``) into
  ``scores.jsonl``, ``summary.json``, ``report.md``, ``report.html`` and ``plots/*.png``.
* :func:`compare_runs` / :func:`write_compare` build a leaderboard of runs on the same data with
  paired bootstrap differences to a baseline (``compare.md``, ``compare.html``, Figure 4).
* :func:`print_run_summary` prints a run's headline figures in the terminal.

Heavy libraries (matplotlib, the embedding model) are imported only when needed.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import IO

from ..figures import format_figure, get_figure, headline_figures, view_names
from ..rundir import read_summary
from .compare import CompareError, compare_runs, format_terminal, write_compare
from .summary import load_run, summary_row, write_reports
from .tables import (
    fmt_score,
    summary_terminal,
    table2_markdown,
    table2_terminal,
    table3_markdown,
    table3_terminal,
)

__all__ = [
    "CompareError",
    "compare_runs",
    "format_terminal",
    "load_run",
    "print_run_summary",
    "summary_row",
    "table2_markdown",
    "table3_markdown",
    "write_compare",
    "write_reports",
]


def format_run_summary(summary: dict) -> str:
    """The paper's Table 2 and 3 layouts (x100), headline CIs, counts and failures."""
    row = summary_row(summary)
    counts = summary.get("counts") or {}
    cis = summary.get("overall_ci") or {}
    lines = [
        "Table 2 layout: precision, recall, F1 (x100)",
        table2_terminal([row]),
        "",
        "Table 3 layout: scale score (x100)",
        table3_terminal([row]),
        "",
        summary_terminal([row], view_names("leaderboard")),
    ]
    ci_parts = []
    headline = [fig for fig, _ in headline_figures()]
    for fig in headline:
        ci = cis.get(fig)
        if isinstance(ci, (list, tuple)) and len(ci) == 2:
            ci_parts.append(f"{fig} [{format_figure(fig, ci[0])}, {format_figure(fig, ci[1])}]")
    if ci_parts:
        lines.append("95% bootstrap CI: " + ", ".join(ci_parts))
    block = summary.get("samples") or {}
    if int(block.get("k") or 1) > 1:
        k, mean, mean_ci = block["k"], block["mean"]["overall"], block["mean_ci"]["overall"]
        parts = []
        for fig in headline:
            fmt = get_figure(fig).format
            low, high = mean_ci.get(fig) or (None, None)
            parts.append(f"{fig} {fmt(mean.get(fig))} [{fmt(low)}, {fmt(high)}]")
        best = block["best_of_k"]["overall"]
        lines.append(
            f"mean of {k} samples (the tables above score sample 0): "
            + ", ".join(parts)
            + f"; best of {k}: f1 {fmt_score(best.get('f1'))}; mean per-video SD of f1: "
            + fmt_score(block["per_video_sd"]["overall"].get("f1"))
        )
    lines.append(
        f"{counts.get('scored', 0)} scored, {counts.get('unparsed', 0)} unparseable, "
        f"{counts.get('failed', 0)} failed, {counts.get('missing', 0)} missing of "
        f"{counts.get('videos', 0)} videos"
        + (" (unparseable answers are scored as empty)" if counts.get("unparsed") else "")
    )
    usage = summary.get("usage") or {}
    if usage.get("total_tokens") or usage.get("cost") is not None:
        lat = usage.get("latency_s") or {}
        cost = usage.get("cost")
        lines.append(
            f"usage: {usage.get('requests', 0)} requests ({usage.get('retries', 0)} retries, "
            f"{usage.get('cached', 0)} cached), {usage.get('prompt_tokens', 0):,} prompt + "
            f"{usage.get('completion_tokens', 0):,} completion tokens, latency p50 "
            f"{lat.get('p50') or 0:.2f} s, p95 {lat.get('p95') or 0:.2f} s"
            + (f", cost {cost:.4f}" if cost is not None else "")
        )
    stopped = summary.get("stopped")
    if stopped:
        lines.append(f"STOPPED EARLY: {stopped.get('reason')} (resume with a higher limit)")
    for f in (summary.get("failures") or [])[:10]:
        lines.append(f"  failed {f['video_id']}: {f['error']}")
    return "\n".join(lines)


def print_run_summary(run_dir: str | os.PathLike[str], stream: IO[str] | None = None) -> None:
    """Print the run's summary (from ``summary.json``) and the paths of its reports."""
    stream = stream or sys.stdout
    run_dir = Path(run_dir)
    summary = read_summary(run_dir)
    if summary is None:
        print(f"{run_dir}: no summary yet (run `visualact report {run_dir}`)", file=stream)
        return
    print(format_run_summary(summary), file=stream)
    for name in ("report.md", "report.html"):
        if (run_dir / name).is_file():
            print(f"{name}: {run_dir / name}", file=stream)

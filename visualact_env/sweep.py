"""Frame-count and threshold sweeps: the paper's Table 4 for any policy.

One run per frame count (each a normal, resumable run folder under the sweep folder, reused
when it is already complete), then every run re-scored at each threshold from one similarity
computation. Each row carries precision, recall, F1 and the scale score ("APL" in the paper's
Tables 4 to 6) with bootstrap CIs.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from .cache import atomic_write_text
from .figures import get_figure, view
from .redaction import strip_credentials
from .rundir import CONFIG_FILE
from .runner import EvalConfig, run_eval


def run_sweep(
    base: EvalConfig,
    out: Path,
    frames: Sequence[int],
    taus: Sequence[float] | None = None,
    *,
    n_resamples: int = 1000,
    seed: int = 0,
) -> dict[str, Any]:
    """Run (or reuse) one evaluation per frame count and score each at every threshold.

    Holds the sweep folder's lock (:class:`visualact_env.runlock.RunLock`) throughout.
    """
    from .runlock import RunLock

    with RunLock(out):  # one sweep per folder (each frame count's run is locked by run_eval)
        return _run_sweep(base, Path(out), frames, taus, n_resamples=n_resamples, seed=seed)


def _run_sweep(
    base: EvalConfig,
    out: Path,
    frames: Sequence[int],
    taus: Sequence[float] | None,
    *,
    n_resamples: int,
    seed: int,
) -> dict[str, Any]:
    from .report.summary import load_run, make_scorer
    from .stats import bootstrap_ci, tau_sweep_reports

    taus = list(taus) if taus else [base.tau]
    rows: list[dict[str, Any]] = []
    runs: dict[int, str] = {}
    scorer = None
    for n in frames:
        run_dir = out / f"frames-{n}"
        config = replace(
            base,
            frames=n,
            out=run_dir,
            resume=(run_dir / CONFIG_FILE).exists(),
            overwrite=False,
            html=base.html,
        )
        run_eval(config)
        runs[n] = str(run_dir)
        run = load_run(run_dir)
        scorer = scorer or make_scorer(run.config)
        reports = tau_sweep_reports(run.benchmark, run.predictions, scorer, taus)
        for tau, report in reports.items():
            ci = bootstrap_ci(report, n_resamples=n_resamples, seed=seed)
            overall = report.figures()["overall"]
            row = {"frames": n, "tau": tau, "run": str(run_dir)}
            for fig, _ in view("table4"):
                interval = ci.overall[fig]
                row[fig] = overall.get(fig)
                row[f"{fig}_ci"] = [interval["low"], interval["high"]]
            rows.append(row)
    result = {
        "agent": strip_credentials(base.agent),
        "data": base.data,
        "frames": list(frames),
        "taus": taus,
        "tau": base.tau if base.tau in taus else taus[0],
        "runs": runs,
        "rows": rows,
        "n_resamples": n_resamples,
        "seed": seed,
    }
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "sweep.json", json.dumps(result, indent=2) + "\n")
    atomic_write_text(out / "sweep.md", sweep_markdown(result))
    from .report.export import TABLES_DIR, write_tables

    write_tables([table4(result)], out / TABLES_DIR)
    from .report.plots import write_figure

    write_figure(sweep_figure(result), out, "sweep")
    return result


def _setting_columns(result: dict[str, Any]) -> list[str]:
    cols = []
    if len(result["frames"]) > 1 or len(result["taus"]) == 1:
        cols.append("Frm.")
    if len(result["taus"]) > 1:
        cols.append("tau")
    return cols


def table4(result: dict[str, Any], *, with_ci: bool = True) -> Any:
    """The Table 4 layout as a :class:`~visualact_env.report.export.Table` (x100, one decimal,
    CIs in brackets; in CSV each figure has its own CI low and high columns)."""
    from .report.export import Cell, Table, text_cell

    setting = _setting_columns(result)
    header = ["Model", *setting, *(label for _, label in view("table4"))]
    csv_header = ["Model", *setting]
    for _, label in view("table4"):
        csv_header += [label, f"{label} CI low", f"{label} CI high"]
    body = []
    for i, row in enumerate(result["rows"]):
        cells = [text_cell(result["agent"] if i == 0 else "")]
        if "Frm." in setting:
            cells.append(text_cell(row["frames"]))
        if "tau" in setting:
            cells.append(text_cell(f"{row['tau']:.2f}"))
        for fig, _ in view("table4"):
            fmt = get_figure(fig).format
            value = fmt(row[fig])
            lo, hi = row[f"{fig}_ci"]
            text = value
            if with_ci and lo is not None:
                text += f" [{fmt(lo)}, {fmt(hi)}]"
            fields = tuple("" if v is None else fmt(v) for v in (row[fig], lo, hi))
            cells.append(Cell(text, csv_fields=fields))
        body.append(cells)
    return Table(
        name="table4",
        title=f"Sweep of {result['agent']} on {result['data']} (Table 4 layout, x100, "
        "95% bootstrap CIs; APL = scale score)",
        header=header,
        csv_header=csv_header,
        rows=body,
        left=1 + len(setting),
    )


def sweep_table(
    result: dict[str, Any], *, with_ci: bool = True
) -> tuple[list[str], list[list[str]]]:
    """Header and body of the Table 4 layout (x100, one decimal, CIs in brackets)."""
    table = table4(result, with_ci=with_ci)
    return table.header, [[c.text for c in row] for row in table.rows]


def sweep_markdown(result: dict[str, Any]) -> str:
    header, body = sweep_table(result)
    lines = [
        f"# Sweep: {result['agent']} on {result['data']}",
        "",
        "Table 4 layout: overall figures x100 (one decimal) with 95% bootstrap CIs; "
        "APL = scale score. Also in `tables/table4.csv` and `tables/table4.tex` (booktabs).",
        "",
        "| " + " | ".join(header) + " |",
        "| " + " | ".join([":---"] + ["---:"] * (len(header) - 1)) + " |",
        *("| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in body),
        "",
    ]
    return "\n".join(lines)


def sweep_png(result: dict[str, Any]) -> bytes:
    """:func:`sweep_figure` as PNG bytes."""
    from .report.plots import _png

    return _png(sweep_figure(result))


def sweep_figure(result: dict[str, Any]) -> Any:
    """F1, weighted APL (scale score), precision and recall against the swept setting; each
    line with its own marker and dash (they can coincide), the legend beside the axes."""
    from .report.plots import DASHES, MARKERS, SCORE_TOP, _legend_outside, _pyplot

    plt = _pyplot()
    by_frames = len(result["frames"]) > 1
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    for k, (fig_name, label) in enumerate(view("table4")):
        rows = [r for r in result["rows"] if not by_frames or r["tau"] == result["tau"]]
        x = [r["frames"] if by_frames else r["tau"] for r in rows]
        y = [100 * (r[fig_name] or 0.0) for r in rows]
        err = [
            [100 * ((r[fig_name] or 0) - (r[f"{fig_name}_ci"][0] or 0)) for r in rows],
            [100 * ((r[f"{fig_name}_ci"][1] or 0) - (r[fig_name] or 0)) for r in rows],
        ]
        bars = ax.errorbar(
            x, y, yerr=err, marker=MARKERS[k], ls=DASHES[k], capsize=3, label=label,
            mfc="none" if k % 2 else None, ms=7 - 1.2 * k,
        )  # fmt: skip
        for artist in (bars.lines[0], *bars.lines[1], *bars.lines[2]):
            artist.set_clip_on(False)
    if by_frames:
        ax.set_xscale("log", base=2)
        ax.set_xticks(result["frames"], [str(f) for f in result["frames"]])
    ax.set_xlabel("frames per clip" if by_frames else "similarity threshold \u03c4")
    ax.set_ylabel("score x100")
    ax.set_ylim(0, SCORE_TOP)
    ax.set_yticks(range(0, 101, 20))
    what = f"frames (\u03c4 = {result['tau']})" if by_frames else "\u03c4"
    ax.set_title(f"{result['agent']}: sweep over {what}")
    ax.grid(alpha=0.3)
    _legend_outside(ax, fontsize=8)
    return fig

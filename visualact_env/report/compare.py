"""A leaderboard of runs on the same data, with paired bootstrap differences to a baseline.

:func:`compare_runs` scores every run with one scorer (the baseline run's embedding model and
tau, so that every figure is computed the same way), refuses runs whose data fingerprints
differ (unless ``allow_different_data``: then the leaderboard is shown but paired differences
are not computed), and compares each run to the baseline with
:func:`visualact_env.stats.paired_comparison`: the same stratified resamples of videos for both
runs, giving a CI and a two-sided p-value of the difference.

:func:`write_compare` writes ``compare.json``, ``compare.md``, ``compare.html`` (self-contained,
with the paper's Figure 4, the proactive ratio per policy, embedded) and ``proactive_ratio.png``.
With ``published=True`` the paper's Table 2 and Table 3 rows are shown next to the runs,
labelled as published figures on the released benchmark.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..cache import atomic_write_bytes, atomic_write_text
from ..figures import figure_names, get_figure, headline_figures, view
from ..metric import score_predictions
from ..records import SCENARIOS
from .export import RANK_NOTE, TABLES_DIR, Cell, Table, text_cell, write_tables
from .summary import (
    agent_label,
    load_config,
    load_run,
    make_scorer,
    report_figures,
    sample_count,
)
from .tables import (
    _md_escape,
    proactive_markdown,
    proactive_table,
    score_cell,
    table2,
    table2_markdown,
    table2_terminal,
    table3,
    table3_markdown,
    table3_terminal,
    terminal_table,
)

if TYPE_CHECKING:
    from ..stats import IntervalResult

PUBLISHED_NOTE = (
    "published figures on the released benchmark (not comparable to runs on other data)"
)


class CompareError(ValueError):
    """Runs that cannot be compared (different data, unknown baseline, too few runs)."""


def _unique_names(runs: Sequence[Mapping[str, Any]]) -> list[str]:
    """Agent labels, made unique with the run folder's name where two runs share one."""
    labels = [agent_label(r["config"]) for r in runs]
    out = []
    for label, r in zip(labels, runs, strict=True):
        out.append(f"{label} [{Path(r['run_dir']).name}]" if labels.count(label) > 1 else label)
    return out


def _check_data(configs: Sequence[Mapping[str, Any]], dirs: Sequence[Path]) -> list[str]:
    """Distinct data fingerprints, each with the runs that have it (for the error message)."""
    seen: dict[str, list[str]] = {}
    for cfg, d in zip(configs, dirs, strict=True):
        fp = str((cfg.get("data") or {}).get("fingerprint"))
        seen.setdefault(fp, []).append(str(d))
    return [f"{fp}: {', '.join(ds)}" for fp, ds in seen.items()] if len(seen) > 1 else []


def _baseline_index(dirs: Sequence[Path], baseline: str | os.PathLike[str] | None) -> int:
    if baseline is None:
        return 0
    want = Path(baseline).resolve()
    for i, d in enumerate(dirs):
        if d.resolve() == want:
            return i
    raise CompareError(f"baseline {str(baseline)!r} is not one of the runs compared")


def _diff_block(paired: IntervalResult) -> dict[str, Any]:
    overall = paired.overall
    return {
        fig: {k: overall[fig][k] for k in ("difference", "low", "high", "p_value")}
        for fig in figure_names()
    }


def _num(value: float) -> float | None:
    return None if math.isnan(value) else float(value)


def _counts(samples: Sequence[Any]) -> dict[str, int]:
    """Counts of the first sample's videos; scored / failed / missing summed over the samples
    (answers), with ``answers`` and ``samples``."""
    counts = dict(samples[0].counts())
    for key in ("scored", "failed", "missing"):
        counts[key] = sum(r.counts()[key] for r in samples)
    counts["answers"] = counts["videos"] * len(samples)
    counts["samples"] = len(samples)
    return counts


def compare_runs(
    run_dirs: Sequence[str | os.PathLike[str]],
    baseline: str | os.PathLike[str] | None = None,
    *,
    published: bool = False,
    allow_different_data: bool = False,
    scorer: Any = None,
    n_resamples: int = 2000,
    seed: int = 0,
) -> dict[str, Any]:
    """Score and compare runs; return the comparison document (see the module docstring)."""
    from ..stats import bootstrap_sample_mean, paired_sample_mean, sample_mean_figures

    dirs = [Path(d) for d in run_dirs]
    if not dirs:
        raise CompareError("no runs to compare")
    if baseline is not None and Path(baseline).resolve() not in [d.resolve() for d in dirs]:
        dirs.insert(0, Path(baseline))
    base = _baseline_index(dirs, baseline)
    configs = [load_config(d) for d in dirs]
    conflicts = _check_data(configs, dirs)
    if conflicts and not allow_different_data:
        raise CompareError(
            "the runs were made on different data (fingerprint: runs):\n  "
            + "\n  ".join(conflicts)
            + "\nuse --allow-different-data to list them side by side without paired differences"
        )
    scorer = scorer if scorer is not None else make_scorer(configs[base])
    runs: list[dict[str, Any]] = []
    reports = []  # per run: its K sample reports (every sample counts: runs rank on the mean)
    for d in dirs:
        run = load_run(d)
        samples = [
            score_predictions(run.benchmark, run.predictions, scorer, sample=k)
            for k in range(sample_count(run))
        ]
        ci = bootstrap_sample_mean(samples, n_resamples=n_resamples, seed=seed)
        runs.append({"run": run, "run_dir": str(d), "config": run.config, "ci": ci})
        reports.append(samples)
    names = [
        name if len(samples) == 1 else f"{name} (mean of {len(samples)} samples)"
        for name, samples in zip(_unique_names(runs), reports, strict=True)
    ]
    # every run is rescored with one embedder (never mixed); say so when a run used another
    scorer_embedder = getattr(getattr(scorer, "embedder", None), "identity", None)
    warnings = [w for r in runs for w in r["run"].warnings]
    rows = []
    all_figures = figure_names()
    for name, r, samples in zip(names, runs, reports, strict=True):
        figs = report_figures(samples[0])
        mean = sample_mean_figures(samples)
        for i, sc in enumerate(samples[0].scenarios):  # the mean over samples replaces sample 0
            figs["scenarios"][sc].update({f: _num(mean[i, k]) for k, f in enumerate(all_figures)})
        figs["overall"].update({f: _num(mean[-1, k]) for k, f in enumerate(all_figures)})
        own_tau = r["config"].get("tau")
        if own_tau is not None and float(own_tau) != scorer.tau:
            warnings.append(f"{name}: run made with tau={own_tau}, compared at tau={scorer.tau}")
        own_embedder = r["config"].get("embedder")
        if own_embedder and scorer_embedder and own_embedder != scorer_embedder:
            warnings.append(
                f"{name}: run made with embedder {own_embedder}, rescored with {scorer_embedder}"
            )
        rows.append(
            {
                "name": name,
                "run_dir": r["run_dir"],
                "samples": len(samples),
                "overall": figs["overall"],
                "scenarios": figs["scenarios"],
                "overall_ci": {f: [v["low"], v["high"]] for f, v in r["ci"].overall.items()},
                "counts": _counts(samples),
                "fingerprint": (r["config"].get("data") or {}).get("fingerprint"),
                "scored_fingerprint": samples[0].fingerprint,
            }
        )
    comparisons = []
    for i, (row, report) in enumerate(zip(rows, reports, strict=True)):
        if i == base:
            continue
        entry: dict[str, Any] = {"name": row["name"], "baseline": rows[base]["name"]}
        if conflicts:
            entry["error"] = "different data: no paired difference"
        else:
            try:
                paired = paired_sample_mean(
                    report, reports[base], n_resamples=n_resamples, seed=seed
                )
                entry["figures"] = _diff_block(paired)
            except ValueError as e:
                entry["error"] = (
                    f"{e} (first: {row['name']}, second: the baseline {rows[base]['name']})"
                )
        comparisons.append(entry)
    result: dict[str, Any] = {
        "baseline": rows[base]["name"],
        "runs": rows,
        "comparisons": comparisons,
        "tau": scorer.tau,
        "embedder": getattr(getattr(scorer, "embedder", None), "identity", None),
        "data": [(c.get("data") or {}) for c in configs],
        "bootstrap": {"n_resamples": n_resamples, "seed": seed, "confidence": 0.95},
        "warnings": warnings,
    }
    if published:
        result["published"] = published_tables()
    return result


def published_tables() -> dict[str, Any]:
    """The paper's Table 2 and Table 3 rows as table rows (fractions, like run figures)."""
    from ..published import published_rows

    out: dict[str, Any] = {"note": PUBLISHED_NOTE}
    for table in ("2", "3"):
        out[table] = [_published_row(r) for r in published_rows(table)]
    return out


def _published_row(row: Mapping[str, Any]) -> dict[str, Any]:
    def frac(block: Mapping[str, Any]) -> dict[str, Any]:
        return {k: (None if v is None else float(v) / 100.0) for k, v in block.items()}

    return {
        "name": f"{row['label']} (published)",
        "published": True,
        "source": row.get("source"),
        "overall": frac(row.get("overall") or {}),
        "scenarios": {sc: frac(v) for sc, v in (row.get("scenarios") or {}).items()},
    }


# --------------------------------------------------------------------------------------------
# rendering


def _diff_cells(entry: Mapping[str, Any] | None) -> list[Cell]:
    """``Δ F1 [lo, hi] p`` cells for one comparison (blank for the baseline itself); in CSV
    each becomes four fields: the difference, its CI low and high, and the p-value."""
    diff_figures = [fig for fig, _ in headline_figures()]
    if entry is None:
        return [Cell("(baseline)", csv_fields=("", "", "", ""))] + [
            Cell("", csv_fields=("", "", "", "")) for _ in diff_figures[1:]
        ]
    if "error" in entry:
        return [Cell("n/a", csv_fields=("", "", "", "")) for _ in diff_figures]
    cells = []
    for fig in diff_figures:
        d = entry["figures"][fig]
        if d["difference"] is None:
            cells.append(Cell("\u2013", csv_fields=("", "", "", "")))
            continue
        p = d["p_value"]
        diff = f"{100 * d['difference']:+.1f}"
        fmt = get_figure(fig).format
        low, high = fmt(d["low"]), fmt(d["high"])
        cells.append(
            Cell(
                f"{diff} [{low}, {high}] p={p:.3g}" if p is not None else diff,
                csv_fields=(
                    diff,
                    low if d["low"] is not None else "",
                    high if d["high"] is not None else "",
                    f"{p:.3g}" if p is not None else "",
                ),
            )
        )
    return cells


def leaderboard_table(result: Mapping[str, Any]) -> Table:
    """Rows sorted by overall F1 (as the paper's Table 2), with differences to the baseline."""
    by_name = {c["name"]: c for c in result["comparisons"]}
    first = headline_figures()[0][0]  # F1, as the paper's Table 2
    order = sorted(result["runs"], key=lambda r: -(r["overall"].get(first) or 0.0))
    columns = view("leaderboard")
    header = ["#", "Run", *(lbl for _, lbl in columns), "failed", "missing"]
    csv_header = list(header)
    for _, f in headline_figures():
        header.append(f"\u0394 {f} vs baseline [95% CI]")
        csv_header += [f"\u0394 {f}", f"\u0394 {f} CI low", f"\u0394 {f} CI high", f"p ({f})"]
    body = []
    for rank, r in enumerate(order, start=1):
        cells = [text_cell(rank), text_cell(r["name"])]
        cells += [score_cell(r["overall"].get(f), figure=f) for f, _ in columns]
        cells += [text_cell(r["counts"].get("failed", 0)), text_cell(r["counts"].get("missing", 0))]
        cells += _diff_cells(by_name.get(r["name"]))
        body.append(cells)
    return Table(
        name="leaderboard",
        title=f"Leaderboard (x100); differences are run minus baseline {result['baseline']} "
        "with a 95% paired bootstrap CI and a two-sided p-value",
        header=header,
        csv_header=csv_header,
        rows=body,
        left=2,
    )


def _leaderboard(result: Mapping[str, Any]) -> tuple[list[str], list[list[str]]]:
    """The leaderboard's header and cell texts (terminal, Markdown and HTML)."""
    table = leaderboard_table(result)
    return table.header, [[c.text for c in row] for row in table.rows]


def compare_tables(result: Mapping[str, Any]) -> list[Table]:
    """Every table of ``compare.md``, for their CSV and LaTeX files (same numbers)."""
    runs = result["runs"]
    tables = [leaderboard_table(result), table2(runs), table3(runs), proactive_table(runs)]
    pub = result.get("published")
    if pub:
        note = f"Paper: {pub['note']}"
        tables += [
            table2(pub["2"], SCENARIOS, highlight=False, name="published_table2", title=f"Table 2 (published). {note}"),
            table3(pub["3"], SCENARIOS, highlight=False, name="published_table3", title=f"Table 3 (published). {note}"),
        ]  # fmt: skip
    return tables


def format_terminal(result: Mapping[str, Any]) -> str:
    """The leaderboard as a plain text table (scores x100), with the baseline named."""
    header, body = _leaderboard(result)
    lines = [terminal_table(header, body, left=2)]
    lines.append(
        f"baseline: {result['baseline']}; tau={result['tau']}; differences are run - "
        "baseline, paired bootstrap over videos stratified by scenario"
    )
    lines.extend(f"warning: {w}" for w in result.get("warnings") or [])
    lines.extend(
        f"no paired differences for {c['name']}: {c['error']}"
        for c in result.get("comparisons") or []
        if c.get("error")
    )
    pub = result.get("published")
    if pub:
        lines += [
            "",
            f"Paper: {pub['note']}",
            "Table 2 (published): precision, recall, F1 (x100)",
            table2_terminal(pub["2"], SCENARIOS),
            "",
            "Table 3 (published): scale score (x100)",
            table3_terminal(pub["3"], SCENARIOS),
        ]
    return "\n".join(lines)


def _md_table(header: Sequence[str], body: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(_md_escape(h) for h in header) + " |"]
    lines.append("| " + " | ".join(["---:"] + [":---"] + ["---:"] * (len(header) - 2)) + " |")
    lines.extend("| " + " | ".join(_md_escape(c) for c in row) + " |" for row in body)
    return "\n".join(lines)


def render_compare_markdown(result: Mapping[str, Any]) -> str:
    """``compare.md``: leaderboard, Table 2 / Table 3 layouts, proactive figures, published."""
    runs = result["runs"]
    header, body = _leaderboard(result)
    parts = [
        "# VisualAct comparison",
        "",
        f"Baseline: **{_md_escape(result['baseline'])}**. Scores x100, one decimal; "
        f"tau={result['tau']}; embedder `{result.get('embedder')}`. Differences are run minus "
        "baseline with a 95% paired bootstrap CI and a two-sided p-value.",
        "",
        "## Leaderboard",
        "",
        _md_table(header, body),
        "",
        "## Table 2 layout",
        "",
        table2_markdown(runs),
        "",
        "## Table 3 layout (scale score)",
        "",
        table3_markdown(runs),
        "",
        "## Proactive and reactive recall, proactive share (Figure 4)",
        "",
        proactive_markdown(runs),
        "",
        f"{RANK_NOTE} Every table is also in `{TABLES_DIR}/` as CSV and LaTeX (booktabs).",
        "",
    ]
    pub = result.get("published")
    if pub:
        parts += [
            f"## Paper: {pub['note']}",
            "",
            "### Table 2 (published)",
            "",
            table2_markdown(pub["2"], SCENARIOS, highlight=False),
            "",
            "### Table 3 (published)",
            "",
            table3_markdown(pub["3"], SCENARIOS, highlight=False),
            "",
        ]
    parts.extend(f"> warning: {_md_escape(w)}" for w in result.get("warnings") or [])
    parts += ["", "Runs:", ""]
    parts += [
        f"- {_md_escape(r['name'])}: `{r['run_dir']}` (data {r['fingerprint']})" for r in runs
    ]
    return "\n".join(parts) + "\n"


def render_compare_html(result: Mapping[str, Any], figure4_png: bytes | None) -> str:
    """``compare.html``: one self-contained page (leaderboard, tables, Figure 4, published)."""
    from .html import data_url, esc, page, proactive_html, table2_html, table3_html

    header, body = _leaderboard(result)
    head = "".join(f"<th>{esc(h)}</th>" for h in header)
    rows = "".join("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in r) + "</tr>" for r in body)
    runs = result["runs"]
    sections = [
        '<section><h2>Leaderboard</h2><div class="panel"><table class="res lead">'
        f"<thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"
        f'<p class="ci">Baseline: {esc(result["baseline"])}. Differences are run minus '
        "baseline, x100, with a 95% paired bootstrap CI and a two-sided p-value.</p></div>"
        "</section>",
        f'<section><h2>Table 2 layout</h2><div class="panel">{table2_html(runs)}</div></section>',
        '<section><h2>Table 3 layout (scale score)</h2><div class="panel">'
        f"{table3_html(runs)}</div></section>",
        '<section><h2>Proactive and reactive recall</h2><div class="panel">'
        f"{proactive_html(runs)}</div></section>",
    ]
    if figure4_png:
        sections.append(
            '<section><h2>Proactive ratio (Figure 4)</h2><div class="panel"><figure>'
            f'<img alt="proactive ratio per policy" src="{data_url(figure4_png)}">'
            "<figcaption>Share of predicted actions marked proactive, per policy; the red "
            "dashed line is the average.</figcaption></figure></div></section>"
        )
    pub = result.get("published")
    if pub:
        sections.append(
            f'<section id="published"><h2>Paper: {esc(pub["note"])}</h2><div class="panel">'
            f"<h3>Table 2 (published)</h3>{table2_html(pub['2'])}"
            f"<h3>Table 3 (published)</h3>{table3_html(pub['3'])}</div></section>"
        )
    warn = "".join(f"<li>{esc(w)}</li>" for w in result.get("warnings") or [])
    if warn:
        sections.append(f'<section><h2>Warnings</h2><ul class="failures">{warn}</ul></section>')
    banner = (
        '<header class="top"><div class="inner"><h1>VisualAct comparison</h1>'
        f'<div class="sub">{len(runs)} runs \u00b7 baseline {esc(result["baseline"])} \u00b7 '
        f"tau {esc(result['tau'])} \u00b7 embedder {esc(result.get('embedder'))}</div>"
        "</div></header>"
    )
    return page("VisualAct comparison", banner, "".join(sections), data=_embedded(result))


def _embedded(result: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "baseline": result["baseline"],
        "runs": [{k: r[k] for k in ("name", "overall", "counts")} for r in result["runs"]],
        "comparisons": result["comparisons"],
    }


def _write_tables(tables: Sequence[Table], folder: Path) -> Path:
    write_tables(tables, folder)
    return folder


def write_compare(result: Mapping[str, Any], out_dir: str | os.PathLike[str]) -> dict[str, Path]:
    """Write ``compare.json``, ``compare.md`` (its tables also as CSV and LaTeX in
    ``tables/``), Figure 4 as ``proactive_ratio.png`` / ``.svg`` / ``.pdf`` and
    ``compare.html``."""
    from .plots import proactive_ratio_figure, render

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    label = f"{len(result['runs'])} runs vs {result['baseline']}"
    images = render(proactive_ratio_figure(result["runs"], label))
    png = images["png"]
    for fmt in ("svg", "pdf"):
        atomic_write_bytes(out / f"proactive_ratio.{fmt}", images[fmt])
    paths = {
        "json": atomic_write_text(
            out / "compare.json", json.dumps(result, indent=2, ensure_ascii=False) + "\n"
        ),
        "md": atomic_write_text(out / "compare.md", render_compare_markdown(result)),
        "tables": _write_tables(compare_tables(result), out / TABLES_DIR),
        "png": atomic_write_bytes(out / "proactive_ratio.png", png),
        "html": atomic_write_text(out / "compare.html", render_compare_html(result, png)),
    }
    return paths

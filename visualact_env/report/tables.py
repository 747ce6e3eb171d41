"""Result tables in the paper's layouts, as Markdown and as plain terminal text.

A *row* is a plain dict ``{"name": str, "overall": {figure: value}, "scenarios": {scenario:
{figure: value}}}`` (the shape of ``summary.json`` plus a name); values are fractions in [0, 1]
or ``None`` and are printed x100 with one decimal, as in the paper. ``None`` (a figure that is
undefined, e.g. the scale score of a run without a single match, or a scenario the run did not
cover) prints as an en dash, never as 0.

* :func:`table2_markdown`: Table 2, precision / recall / F1 per scenario and overall.
* :func:`table3_markdown`: Table 3, the scale score per scenario (DN., HS., SM., HMI.) and overall.
* :func:`proactive_markdown`: proactive and reactive recall and the proactive share.

With several rows, the top three values of each column are marked like the paper's
gold / silver / bronze highlighting: top 1 in bold, and a superscript rank on all three.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..figures import VIEWS, format_figure, view
from ..records import SCENARIOS
from ..sampler import describe_sampler
from .export import (
    RANK_MARKS,
    Cell,
    Table,
    md_escape,
    number_cell,
    text_cell,
    to_markdown,
)
from .launches import launches_markdown

SCENARIO_ABBREV: dict[str, str] = {
    "dynamic_navigation": "DN.",
    "home_service": "HS.",
    "safety_monitoring": "SM.",
    "human_machine_interaction": "HMI.",
}
"""Column labels of the paper's Table 3."""

SCENARIO_SHORT_TITLES: dict[str, str] = {
    "dynamic_navigation": "Dynamic Navigation",
    "home_service": "Home Service",
    "safety_monitoring": "Safety and Monitoring",
    "human_machine_interaction": "Human-Mach. Inter.",
}
"""Column-group labels of the paper's Table 2."""

DASH = "\u2013"
_RANK_MARKS = RANK_MARKS


def fmt_score(value: Any) -> str:
    """A fraction as the paper prints it: x100, one decimal; ``None``/NaN as an en dash."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return DASH
    return f"{100.0 * float(value):.1f}"


def _get(row: Mapping[str, Any], scenario: str | None, figure: str) -> float | None:
    """One figure of a row: overall when ``scenario`` is None."""
    block = row.get("overall") if scenario is None else (row.get("scenarios") or {}).get(scenario)
    if not block:
        return None
    value = block.get(figure)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return float(value)


def _columns(
    scenarios: Sequence[str], figures: Sequence[tuple[str, str]]
) -> list[tuple[str | None, str]]:
    """(scenario or None for overall, figure) pairs in the paper's column order."""
    cols: list[tuple[str | None, str]] = []
    for sc in [*scenarios, None]:
        cols.extend((sc, fig) for fig, _ in figures)
    return cols


def _ranks(rows: Sequence[Mapping[str, Any]], col: tuple[str | None, str]) -> dict[int, int]:
    """Row index -> rank (1..3) of the top three distinct values of one column."""
    values = [_get(r, col[0], col[1]) for r in rows]
    distinct = sorted({round(v, 3) for v in values if v is not None}, reverse=True)[:3]
    ranks: dict[int, int] = {}
    for i, v in enumerate(values):
        if v is not None and round(v, 3) in distinct:
            ranks[i] = distinct.index(round(v, 3)) + 1
    return ranks


def _md_escape(text: str) -> str:
    """Keep a name from breaking a Markdown table (pipes, newlines)."""
    return md_escape(text)


def _markdown(
    header: Sequence[str], body: Sequence[Sequence[str]], align_first_left: bool = True
) -> str:
    lines = ["| " + " | ".join(header) + " |"]
    seps = [":---" if (i == 0 and align_first_left) else "---:" for i in range(len(header))]
    lines.append("| " + " | ".join(seps) + " |")
    lines.extend("| " + " | ".join(row) + " |" for row in body)
    return "\n".join(lines)


def _scenarios_of(rows: Sequence[Mapping[str, Any]], scenarios: Sequence[str] | None) -> list[str]:
    """The scenario columns: given, or every scenario present in a row, in the paper's order."""
    if scenarios is not None:
        return list(scenarios)
    present = {sc for r in rows for sc in (r.get("scenarios") or {})}
    return [sc for sc in SCENARIOS if sc in present] or list(SCENARIOS)


def score_cell(value: float | None, rank: int | None = None, figure: str = "") -> Cell:
    """A figure as a table cell, formatted as the figure declares (x100 with one decimal; the
    number as displayed)."""
    text = format_figure(figure, value)
    return number_cell(None if value is None else float(text), text, rank)


def _figure_table(
    name: str,
    title: str,
    rows: Sequence[Mapping[str, Any]],
    scenarios: Sequence[str],
    figures: Sequence[tuple[str, str]],
    header_of: Any,
    highlight: bool,
    group_of: Any = None,
) -> Table:
    cols = _columns(scenarios, figures)
    ranks = {c: _ranks(rows, c) for c in cols} if highlight and len(rows) > 1 else {}
    body = []
    for i, row in enumerate(rows):
        cells = [text_cell(row.get("name", "run"))]
        for c in cols:
            cells.append(score_cell(_get(row, c[0], c[1]), ranks.get(c, {}).get(i), c[1]))
        body.append(cells)
    groups: list[tuple[str | None, int]] = []
    if group_of is not None and len(figures) > 1:
        groups = [(group_of(sc), len(figures)) for sc in [*scenarios, None]]
    return Table(
        name=name,
        title=title,
        header=["Model", *(header_of(sc, fig) for sc, fig in cols)],
        rows=body,
        groups=groups,
        short_header=["Model", *(lbl for _ in [*scenarios, None] for _, lbl in figures)],
    )


def _group_title(sc: str | None) -> str:
    return "Overall" if sc is None else SCENARIO_SHORT_TITLES[sc]


def table2(
    rows: Sequence[Mapping[str, Any]],
    scenarios: Sequence[str] | None = None,
    *,
    highlight: bool = True,
    name: str = "table2",
    title: str = "Precision, recall and F1 per scenario (Table 2 layout, x100)",
) -> Table:
    """The paper's Table 2 as a :class:`Table`: Prec./Recall/F1 per scenario, then Overall.

    Markdown and CSV have a single header row, so each column is labelled ``<scenario>
    <figure>`` (e.g. ``Dynamic Navigation Prec.``); LaTeX groups them under the scenario.
    """
    scs = _scenarios_of(rows, scenarios)
    figures = view("table2")
    labels = dict(figures)

    def header_of(sc: str | None, fig: str) -> str:
        return f"{_group_title(sc)} {labels[fig]}"

    return _figure_table(
        name, title, rows, scs, figures, header_of, highlight, group_of=_group_title
    )


def table3(
    rows: Sequence[Mapping[str, Any]],
    scenarios: Sequence[str] | None = None,
    *,
    highlight: bool = True,
    name: str = "table3",
    title: str = "Scale score per scenario (Table 3 layout, x100)",
) -> Table:
    """The paper's Table 3 as a :class:`Table`: the scale score per scenario and Overall."""
    scs = _scenarios_of(rows, scenarios)

    def header_of(sc: str | None, fig: str) -> str:
        return "Overall" if sc is None else SCENARIO_ABBREV[sc]

    return _figure_table(name, title, rows, scs, view("table3"), header_of, highlight)


def proactive_table(
    rows: Sequence[Mapping[str, Any]],
    scenarios: Sequence[str] | None = None,
    *,
    highlight: bool = False,
    name: str = "proactive",
    title: str = "Proactive and reactive recall, proactive share (x100)",
) -> Table:
    """Proactive recall, reactive recall and the share of proactive predictions, per scenario."""
    scs = _scenarios_of(rows, scenarios)
    figures = view("proactive")
    labels = dict(figures)

    def header_of(sc: str | None, fig: str) -> str:
        group = "Overall" if sc is None else SCENARIO_ABBREV[sc]
        return f"{group} {labels[fig]}"

    def group_of(sc: str | None) -> str:
        return "Overall" if sc is None else SCENARIO_ABBREV[sc]

    table = _figure_table(name, title, rows, scs, figures, header_of, highlight, group_of)
    table.note = (
        "Pro. R = recall of proactive ground-truth actions, Re. R = recall of reactive ones, "
        "Pro. % = share of predicted actions marked proactive"
    )
    return table


def view_table(
    view_name: str,
    rows: Sequence[Mapping[str, Any]],
    scenarios: Sequence[str] | None = None,
    *,
    highlight: bool = False,
    title: str | None = None,
) -> Table:
    """The figures of view ``view_name`` (:data:`visualact_env.figures.VIEWS`) per scenario
    (DN., HS., SM., HMI.) and Overall, as a :class:`Table` named after the view."""
    scs = _scenarios_of(rows, scenarios)
    figures = view(view_name)
    labels = dict(figures)

    def group_of(sc: str | None) -> str:
        return "Overall" if sc is None else SCENARIO_ABBREV[sc]

    def header_of(sc: str | None, fig: str) -> str:
        return f"{group_of(sc)} {labels[fig]}"

    table_title = title or f"{VIEWS[view_name].title} (x100)"
    return _figure_table(view_name, table_title, rows, scs, figures, header_of, highlight, group_of)


@dataclass(frozen=True)
class ReportTable:
    """One table of a run's report: a section of ``report.md`` and ``tables/NAME.csv|.tex``."""

    heading: str
    """The ``report.md`` section heading."""
    build: Callable[[Sequence[Mapping[str, Any]]], Table]
    """The table from the run's rows (:func:`run_rows`: the run, and the mean of K samples)."""
    note: str = ""
    """A line under the table in ``report.md``."""


RUN_TABLES: list[ReportTable] = [
    ReportTable(
        "Table 2 layout (precision, recall, F1)", lambda rows: table2(rows, highlight=False)
    ),
    ReportTable("Table 3 layout (scale score)", lambda rows: table3(rows, highlight=False)),
    ReportTable(
        "Proactive and reactive recall",
        proactive_table,
        "Pro. R = recall of proactive ground-truth actions, Re. R = recall of reactive ones, "
        "Pro. % = share of predicted actions marked proactive.",
    ),
]
"""The per-scenario tables of every run report, in order (after the overall figures and the
samples table): ``report.md`` shows each under its heading, ``tables/`` holds each as CSV and
LaTeX. Add one here (see ARCHITECTURE.md, "Adding a report table")."""


def table2_markdown(
    rows: Sequence[Mapping[str, Any]],
    scenarios: Sequence[str] | None = None,
    *,
    highlight: bool = True,
) -> str:
    """The paper's Table 2 as Markdown (see :func:`table2`)."""
    return to_markdown(table2(rows, scenarios, highlight=highlight))


def table3_markdown(
    rows: Sequence[Mapping[str, Any]],
    scenarios: Sequence[str] | None = None,
    *,
    highlight: bool = True,
) -> str:
    """The paper's Table 3 as Markdown (see :func:`table3`)."""
    return to_markdown(table3(rows, scenarios, highlight=highlight))


def proactive_markdown(
    rows: Sequence[Mapping[str, Any]],
    scenarios: Sequence[str] | None = None,
    *,
    highlight: bool = False,
) -> str:
    """Proactive and reactive recall and the proactive share as Markdown."""
    return to_markdown(proactive_table(rows, scenarios, highlight=highlight))


def terminal_table(header: Sequence[str], body: Sequence[Sequence[str]], *, left: int = 1) -> str:
    """A plain aligned text table (the first ``left`` columns left-aligned, the rest right)."""
    widths = [len(h) for h in header]
    for row in body:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))

    def line(cells: Sequence[str]) -> str:
        parts = [
            c.ljust(widths[i]) if i < left else c.rjust(widths[i]) for i, c in enumerate(cells)
        ]
        return "  ".join(parts).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(header), rule, *(line(r) for r in body)])


def grouped_terminal_table(
    rows: Sequence[Mapping[str, Any]],
    scenarios: Sequence[str] | None,
    figures: Sequence[tuple[str, str]],
    group_label: Mapping[str, str],
) -> str:
    """A terminal table with a group header row (scenarios, then Overall) over figure columns."""
    scs = _scenarios_of(rows, scenarios)
    cols = _columns(scs, figures)
    header = [
        "Model",
        *(label for _, (_, label) in zip(cols, list(figures) * (len(scs) + 1), strict=True)),
    ]
    body = [
        [str(r.get("name", "run")), *(format_figure(fig, _get(r, sc, fig)) for sc, fig in cols)]
        for r in rows
    ]
    table = terminal_table(header, body).splitlines()
    widths = [len(h) for h in header]
    for row in body:
        widths = [max(w, len(c)) for w, c in zip(widths, row, strict=True)]
    groups = [" " * widths[0]]
    for g, sc in enumerate([*scs, None]):
        span = widths[1 + g * len(figures) : 1 + (g + 1) * len(figures)]
        width = sum(span) + 2 * (len(span) - 1)
        groups.append((group_label.get(sc, "Overall") if sc else "Overall").center(width)[:width])
    return "\n".join(["  ".join(groups).rstrip(), *table])


def table2_terminal(
    rows: Sequence[Mapping[str, Any]], scenarios: Sequence[str] | None = None
) -> str:
    """The paper's Table 2 (Prec./Recall/F1 per scenario and Overall) for a terminal."""
    return grouped_terminal_table(rows, scenarios, view("table2"), SCENARIO_ABBREV)


def table3_terminal(
    rows: Sequence[Mapping[str, Any]], scenarios: Sequence[str] | None = None
) -> str:
    """The paper's Table 3 (scale score per scenario and Overall) for a terminal."""
    scs = _scenarios_of(rows, scenarios)
    header = ["Model", *(SCENARIO_ABBREV[sc] for sc in scs), "Overall"]
    ((fig, _),) = view("table3")
    body = [
        [str(r.get("name", "run")), *(format_figure(fig, _get(r, sc, fig)) for sc in [*scs, None])]
        for r in rows
    ]
    return terminal_table(header, body)


def summary_terminal(rows: Sequence[Mapping[str, Any]], figures: Sequence[str]) -> str:
    """Overall figures of each row as a terminal table (x100, one decimal)."""
    header = ["Model", *figures]
    body = [
        [str(r.get("name", "run")), *(format_figure(f, _get(r, None, f)) for f in figures)]
        for r in rows
    ]
    return terminal_table(header, body)


def _config_lines(summary: Mapping[str, Any]) -> list[str]:
    """The config essentials for a report footer, one Markdown bullet each."""
    config = summary.get("config") or {}
    data = config.get("data") or {}
    sampler = config.get("sampler") or {}
    versions = config.get("versions") or {}
    lines = [
        f"- run: `{_md_escape(summary.get('agent_label') or '-')}`",
        f"- agent: `{_md_escape(summary.get('agent_spec') or summary.get('agent_label') or '-')}`",
        f"- prompt version: `{summary.get('prompt_version') or '-'}`",
        "- frames: " + _md_escape(describe_sampler(sampler)),
        f"- embedder: `{summary.get('embedder') or config.get('embedder') or '-'}`",
        f"- tau: {summary.get('tau')}",
        f"- data: {_md_escape(str(data.get('name', '-')))} "
        f"({data.get('num_videos', '?')} videos), fingerprint `{data.get('fingerprint', '-')}`",
        f"- samples: {config.get('samples', 1)}, seed: {config.get('seed', '-')}"
        + (f", shard: {config['shard']}" if config.get("shard") else ""),
        "- versions: " + (", ".join(f"{k} {v}" for k, v in versions.items()) or "-"),
    ]
    if config.get("git_commit"):
        lines.append(f"- git commit: `{config['git_commit']}`")
    return lines


def headline_table(summary: Mapping[str, Any]) -> Table:
    """Every overall figure with its 95% bootstrap interval (CSV: low and high columns)."""
    overall = summary.get("overall") or {}
    cis = summary.get("overall_ci") or {}
    body = []
    for fig in summary.get("figures") or list(overall):
        ci = cis.get(fig)
        if isinstance(ci, (list, tuple)) and len(ci) == 2:
            ci_cell = interval_cell(ci[0], ci[1], fig)
        else:
            ci_cell = Cell(DASH, csv_fields=("", ""))
        body.append([text_cell(fig), score_cell(overall.get(fig), figure=fig), ci_cell])
    several = int((summary.get("samples") or {}).get("k") or 1) > 1
    first = "Sample 0" if several else "Overall"
    return Table(
        name="overall",
        title="Overall figures with 95% bootstrap confidence intervals (x100)",
        header=["Figure", first, "95% CI"],
        csv_header=["Figure", first, "95% CI low", "95% CI high"],
        rows=body,
    )


def interval_cell(low: float | None, high: float | None, figure: str = "") -> Cell:
    """``"low – high"``; in CSV two fields (empty when undefined)."""
    lo, hi = score_cell(low, figure=figure), score_cell(high, figure=figure)
    return Cell(f"{lo.text} {DASH} {hi.text}", csv_fields=(_csv_number(lo), _csv_number(hi)))


def _csv_number(cell: Cell) -> str:
    return "" if cell.number is None else cell.text


def _headline_markdown(summary: Mapping[str, Any]) -> str:
    return to_markdown(headline_table(summary))


def run_rows(summary: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The rows of a run's own tables: the run (sample 0) and, with K > 1 samples, the mean
    over the K samples (``samples.mean``)."""
    name = summary.get("agent_label") or "run"
    block = summary.get("samples") or {}
    if int(block.get("k") or 1) < 2:
        return [{"name": name, **summary}]
    k = block["k"]
    return [
        {**summary, "name": f"{name} (sample 0)"},
        {"name": f"{name} (mean of {k} samples)", **block["mean"]},
    ]


def samples_table(summary: Mapping[str, Any]) -> Table | None:
    """Mean of K with its CI, best of K, sample 0 and the spreads (None for one sample)."""
    block = summary.get("samples") or {}
    k = int(block.get("k") or 1)
    if k < 2:
        return None
    mean, ci = block["mean"]["overall"], block["mean_ci"]["overall"]
    best, spread = block["best_of_k"]["overall"], block["sd_across_samples"]
    per_video = block["per_video_sd"]["overall"]
    first = summary.get("overall") or {}
    body = []
    for fig in summary.get("figures") or list(mean):
        interval = ci.get(fig) or [None, None]
        body.append(
            [
                text_cell(fig),
                score_cell(mean.get(fig), figure=fig),
                interval_cell(interval[0], interval[1], fig),
                score_cell(best.get(fig), figure=fig),
                score_cell(first.get(fig), figure=fig),
                score_cell(spread.get(fig), figure=fig),
                score_cell(per_video.get(fig), figure=fig),
            ]
        )
    header = ["Figure", f"Mean of {k}", "95% CI", f"Best of {k}", "Sample 0"]
    header += ["SD across samples", "Mean per-video SD"]
    csv_header = [*header[:2], "95% CI low", "95% CI high", *header[3:]]
    return Table(
        name="samples",
        title=f"Figures over K = {k} samples per video (x100)",
        header=header,
        csv_header=csv_header,
        rows=body,
    )


def samples_markdown(summary: Mapping[str, Any]) -> str:
    """The ``Samples`` section of report.md (empty for one sample per video)."""
    block = summary.get("samples") or {}
    table = samples_table(summary)
    if table is None:
        return ""
    k = int(block["k"])
    c = block.get("counts") or {}
    lines = [
        f"## Samples (K = {k})",
        "",
        f"Each video was answered {k} times; the tables score sample 0 and a row for the mean "
        f"of the {k} samples. Mean: each figure averaged over the samples (95% CI: bootstrap "
        "over videos, one draw for all samples). Best of K: per video the best sample's value "
        "of each per-video figure (an upper bound; none for pooled figures). SD across "
        "samples: of the overall figure (population SD). Mean per-video SD: how much a "
        "video's figure changes from sample to sample (0 = stable).",
        "",
        to_markdown(table),
        "",
        f"All samples: {c.get('answers', 0)} answers, {c.get('scored', 0)} scored, "
        f"{c.get('unparsed', 0)} unparseable, {c.get('failed', 0)} failed, "
        f"{c.get('missing', 0)} missing.",
        "",
    ]
    from .sample_stats import least_stable

    unstable = least_stable(dict(block))
    if unstable:
        lines.append("Least stable videos (F1 per sample, x100):")
        lines.append("")
        for v in unstable:
            values = ", ".join(fmt_score(x) for x in v["f1"])
            abbrev = SCENARIO_ABBREV.get(v["scenario"], v["scenario"])
            lines.append(
                f"- `{_md_escape(v['video_id'])}` ({abbrev}): {values} (SD {fmt_score(v['sd']['f1'])})"
            )
        lines.append("")
    return "\n".join(lines)


def run_tables(summary: Mapping[str, Any]) -> list[Table]:
    """The tables of ``report.md``, for their CSV and LaTeX files (same numbers)."""
    rows = run_rows(summary)
    tables = [headline_table(summary)]
    extra = samples_table(summary)
    if extra is not None:
        tables.append(extra)
    tables += [t.build(rows) for t in RUN_TABLES]
    if summary.get("usage"):
        tables.append(usage_table(summary["usage"]))
    return tables


def _seconds(value: Any) -> str:
    return DASH if value is None else f"{float(value):.2f} s"


def _count_cell(value: Any) -> Cell:
    n = int(value or 0)
    return Cell(f"{n:,}", n, True, csv_fields=(str(n),))


def usage_table(usage: Mapping[str, Any]) -> Table:
    """The usage table (``summary["usage"]``, see :mod:`visualact_env.usage`): counts with
    thousands separators (plain in CSV), latencies in seconds, the cost when priced."""
    lat = usage.get("latency_s") or {}
    cost = usage.get("cost")
    header = ["Answers", "Requests", "Retries", "Cached", "Prompt tokens", "Completion tokens"]
    header += ["Latency p50", "Latency p95", "Cost"]
    keys = ("answers", "requests", "retries", "cached", "prompt_tokens", "completion_tokens")
    cells = [_count_cell(usage.get(k, 0)) for k in keys]
    for q in ("p50", "p95"):
        v = lat.get(q)
        cells.append(
            Cell(_seconds(v), v, True, csv_fields=("" if v is None else f"{float(v):.2f}",))
        )
    cells.append(
        Cell(DASH if cost is None else f"{cost:.4f}", cost, True,
             csv_fields=("" if cost is None else f"{cost:.4f}",))
    )  # fmt: skip
    csv_header = [*header[:6], "Latency p50 (s)", "Latency p95 (s)", "Cost"]
    return Table(
        name="usage",
        title="Usage and cost of the run",
        header=header,
        csv_header=csv_header,
        rows=[cells],
        left=0,
    )


def usage_cells(usage: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    """Header and cell texts of the usage table (Markdown and HTML)."""
    table = usage_table(usage)
    return table.header, [c.text for c in table.rows[0]]


def usage_markdown(summary: Mapping[str, Any]) -> str:
    """The ``Usage and cost`` section of report.md."""
    usage = summary.get("usage")
    if not usage:
        return ""
    prices = (
        f"Cost at {usage.get('price_input') or 0:g} (input) and "
        f"{usage.get('price_output') or 0:g} (output) per "
        "million tokens."
        if usage.get("cost") is not None
        else "No prices given (--price-input, --price-output per million tokens): no cost."
    )
    return "\n".join(
        [
            "## Usage and cost",
            "",
            to_markdown(usage_table(usage)),
            "",
            f"{prices} Cache hits sent no request and cost nothing; latency is per answer, "
            "retries included.",
            "",
        ]
    )


def stopped_markdown(summary: Mapping[str, Any]) -> str:
    """A banner for a run that stopped early at a limit (empty otherwise)."""
    stopped = summary.get("stopped")
    if not stopped:
        return ""
    return (
        f"> **Stopped early:** {_md_escape(str(stopped.get('reason')))}. Answers not made count "
        "as missing. Continue with `visualact eval --out "
        f"{_md_escape(str(summary.get('run_dir', 'RUN')))} --resume` and a higher limit.\n"
    )


def render_run_markdown(summary: Mapping[str, Any]) -> str:
    """``report.md`` of one run: headline figures with CIs, Table 2 / Table 3 layouts,
    proactive/reactive recall, failures, and the config essentials."""
    row = {"name": summary.get("agent_label") or "run", **summary}
    rows = run_rows(summary)
    counts = summary.get("counts") or {}
    parts = [
        f"# VisualAct report: {_md_escape(row['name'])}",
        "",
        *filter(None, [stopped_markdown(summary)]),
        "Scores are x100, one decimal. Overall = mean of the scenarios' figures. "
        "Every table is also in `tables/` as CSV and LaTeX (booktabs).",
        "",
        "## Overall figures",
        "",
        _headline_markdown(summary),
        "",
        *filter(None, [samples_markdown(summary)]),
    ]
    for table in RUN_TABLES:
        parts += [f"## {table.heading}", "", to_markdown(table.build(rows)), ""]
        parts += [table.note, ""] if table.note else []
    parts += [*filter(None, [usage_markdown(summary)])]
    failures = summary.get("failures") or []
    missing = summary.get("missing") or []
    parts += [
        "---",
        "",
        f"**{counts.get('scored', 0)} scored, {counts.get('unparsed', 0)} unparseable, "
        f"{counts.get('failed', 0)} failed, {counts.get('missing', 0)} missing** of "
        f"{counts.get('videos', 0)} videos (unparseable answers count among the scored; they, "
        "failed and missing videos are scored as empty answers).",
        "",
    ]
    for f in failures:
        parts.append(f"- failed: `{_md_escape(f['video_id'])}`: {_md_escape(str(f['error']))}")
    if missing:
        parts.append("- missing: " + ", ".join(f"`{_md_escape(v)}`" for v in missing))
    if failures or missing:
        parts.append("")
    for w in summary.get("warnings") or []:
        parts.append(f"> warning: {_md_escape(str(w))}")
    throughput = launches_markdown(summary)
    if throughput:
        parts += [throughput]
    parts += ["Config:", "", *_config_lines(summary), ""]
    return "\n".join(parts)

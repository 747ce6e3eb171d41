"""One table, three renderings: Markdown (the reports), CSV (analysis) and LaTeX (papers).

Every table a report writes is built once as a :class:`Table` of :class:`Cell` s and rendered
by :func:`to_markdown`, :func:`to_csv` and :func:`to_latex`, so the three always hold the same
numbers (tested by parsing them back). A numeric cell keeps the paper's display (x100, one
decimal; an undefined figure is an en dash in Markdown, an empty CSV field and ``--`` in LaTeX)
and its top-three rank: bold with a superscript rank in Markdown and LaTeX, a plain number in
CSV. LaTeX uses booktabs rules (``\\toprule``, ``\\midrule``, ``\\cmidrule``, ``\\bottomrule``),
column groups as ``\\multicolumn`` and escapes every special character of a label.
"""

from __future__ import annotations

import csv
import html
import io
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

DASH = "\u2013"
RANK_MARKS = {1: "\u00b9", 2: "\u00b2", 3: "\u00b3"}
RANK_NOTE = "Top three of each column: bold = best, superscripts 1-3 = rank."

TABLES_DIR = "tables"
"""The folder of a run (or comparison) holding each table as ``NAME.csv`` and ``NAME.tex``."""


@dataclass(frozen=True)
class Cell:
    """One table cell: its display ``text``; numeric cells also carry ``number`` (the value as
    displayed, ``None`` when undefined) and an optional top-three ``rank``."""

    text: str
    number: float | None = None
    numeric: bool = False
    rank: int | None = None
    csv_fields: tuple[str, ...] | None = None
    """The CSV fields this cell becomes, when not its text (e.g. an interval's low and high)."""


def text_cell(text: object) -> Cell:
    return Cell(str(text))


def number_cell(number: float | None, text: str, rank: int | None = None) -> Cell:
    return Cell(text, number, True, rank)


@dataclass
class Table:
    """A table: ``header`` labels, optional column ``groups`` (``(label, span)`` over the columns
    after the first ``left`` ones; ``None`` label for an unlabelled span), ``rows`` of cells."""

    name: str
    title: str
    header: list[str]
    rows: list[list[Cell]]
    groups: list[tuple[str | None, int]] = field(default_factory=list)
    left: int = 1
    note: str = ""
    short_header: list[str] | None = None
    """Labels under the LaTeX group row (``header`` holds the group in each label)."""
    csv_header: list[str] | None = None
    """The CSV header when cells expand to several fields (``Cell.csv_fields``)."""

    @property
    def ranked(self) -> bool:
        return any(c.rank for row in self.rows for c in row)


# ---------------------------------------------------------------------------------------------
# Markdown


def md_escape(text: str) -> str:
    """Text from models, servers, files and configs, safe in Markdown: HTML is escaped (a
    Markdown viewer renders raw HTML, so ``<img onerror=...>`` in a model name would run) and
    pipes and newlines cannot break a table."""
    escaped = html.escape(str(text), quote=False)
    return escaped.replace("|", "\\|").replace("\n", " ").replace("\r", " ")


def _md_cell(cell: Cell) -> str:
    if not cell.numeric:
        return md_escape(cell.text)
    if cell.rank is None:
        return cell.text
    if cell.rank == 1:
        return f"**{cell.text}**{RANK_MARKS[1]}"
    return f"{cell.text}{RANK_MARKS[cell.rank]}"


def to_markdown(table: Table, *, header_labels: Sequence[str] | None = None) -> str:
    """The table as GitHub Markdown (one header row: groups are folded into the labels by the
    table's builder). The first ``left`` columns align left, the rest right."""
    header = header_labels or table.header
    lines = ["| " + " | ".join(md_escape(h) for h in header) + " |"]
    seps = [":---" if i < table.left else "---:" for i in range(len(header))]
    lines.append("| " + " | ".join(seps) + " |")
    lines.extend("| " + " | ".join(_md_cell(c) for c in row) + " |" for row in table.rows)
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# CSV


def _csv_value(cell: Cell) -> str:
    if cell.numeric:
        return "" if cell.number is None else cell.text
    return cell.text


def to_csv(table: Table) -> str:
    """The table as CSV (RFC 4180 quoting): the header row, then one line per row; numbers as
    displayed (x100, one decimal), an undefined figure as an empty field, no rank marks."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(table.csv_header or table.header)
    for row in table.rows:
        fields: list[str] = []
        for c in row:
            fields.extend(c.csv_fields if c.csv_fields is not None else (_csv_value(c),))
        writer.writerow(fields)
    return buf.getvalue()


# ---------------------------------------------------------------------------------------------
# LaTeX

_LATEX_SPECIAL = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "<": r"\textless{}",
    ">": r"\textgreater{}",
    "|": r"\textbar{}",
    DASH: "--",
    "\u2014": "---",
    "\u0394": r"$\Delta$",
    "\u00b1": r"$\pm$",
    "\u00b9": r"\textsuperscript{1}",
    "\u00b2": r"\textsuperscript{2}",
    "\u00b3": r"\textsuperscript{3}",
    "\n": " ",
    "\r": " ",
}


def latex_escape(text: str) -> str:
    """``text`` safe inside a LaTeX tabular cell: every special character escaped."""
    return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in str(text))


def _tex_cell(cell: Cell) -> str:
    if not cell.numeric:
        return latex_escape(cell.text)
    text = "--" if cell.number is None and cell.text == DASH else latex_escape(cell.text)
    if cell.rank == 1:
        return rf"\textbf{{{text}}}\textsuperscript{{1}}"
    if cell.rank:
        return rf"{text}\textsuperscript{{{cell.rank}}}"
    return text


def to_latex(table: Table) -> str:
    """The table as a LaTeX ``table`` with a booktabs ``tabular`` (``\\usepackage{booktabs}``).

    Column groups become a ``\\multicolumn`` row with ``\\cmidrule`` under each group; the
    caption is the table's title (and its note, and the rank legend when cells are ranked).
    """
    n = len(table.header)
    spec = "l" * table.left + "r" * (n - table.left)
    lines = [r"\begin{table}[t]", r"\centering"]
    parts = [table.title.rstrip("."), table.note.rstrip(".")]
    if table.ranked:
        parts.append(RANK_NOTE.rstrip("."))
    caption = ". ".join(p for p in parts if p) + "."
    label = re.sub(r"[^A-Za-z0-9:-]", "-", table.name)
    lines.append(rf"\caption{{{latex_escape(caption)}}}")
    lines.append(rf"\label{{tab:{label}}}")
    lines += [rf"\begin{{tabular}}{{{spec}}}", r"\toprule"]
    if table.groups:
        cells, rules, col = [""] * table.left, [], table.left + 1
        for group, span in table.groups:
            cells.append(rf"\multicolumn{{{span}}}{{c}}{{{latex_escape(group)}}}" if group else "")
            cells.extend([""] * (0 if group else span - 1))
            if group:
                rules.append(rf"\cmidrule(lr){{{col}-{col + span - 1}}}")
            col += span
        lines.append(" & ".join(cells) + r" \\")
        if rules:
            lines.append(" ".join(rules))
    header = table.short_header if table.groups and table.short_header else table.header
    lines.append(" & ".join(latex_escape(h) for h in header) + r" \\")
    lines.append(r"\midrule")
    lines.extend(" & ".join(_tex_cell(c) for c in row) + r" \\" for row in table.rows)
    lines += [r"\bottomrule", r"\end{tabular}", r"\end{table}"]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------
# Files


def write_tables(tables: Sequence[Table], folder: str | os.PathLike[str]) -> list[Path]:
    """Write each table as ``NAME.csv`` and ``NAME.tex`` into ``folder`` (atomically)."""
    from ..cache import atomic_write_text

    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for table in tables:
        paths.append(atomic_write_text(out / f"{table.name}.csv", to_csv(table)))
        paths.append(atomic_write_text(out / f"{table.name}.tex", to_latex(table)))
    return paths

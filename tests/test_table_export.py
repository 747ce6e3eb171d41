"""Tables as CSV and LaTeX beside Markdown: every table holds the same numbers in all three.

Real reports (``write_reports``) and a real comparison (``compare_runs`` + ``write_compare``) on
the demo benchmark with the real embedding model; the Markdown in report.md / compare.md, the
CSV and the LaTeX files are parsed back independently and compared cell by cell.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest
from report_fixtures import (
    make_runs,
    oracle_predictions,
    partial_predictions,
    run_config,
    write_run,
)
from table_parsing import check_same_numbers, latex_rows, markdown_tables

from visualact_env.report import compare_runs, write_compare, write_reports
from visualact_env.report.export import latex_escape

ODD_NAME = "gpt_4o & co: 100% #1 {x} ~^ \\ $5 <b>|"


@pytest.fixture(scope="module")
def reported(tmp_path_factory, demo, scorer):
    root = tmp_path_factory.mktemp("runs")
    folders = make_runs(root, demo)
    folders["odd"] = write_run(
        root / "odd", run_config(demo, ODD_NAME), oracle_predictions(demo)[::2]
    )
    for folder in folders.values():
        write_reports(folder, demo, scorer, n_resamples=100, html=False, plots=False)
    result = compare_runs(
        [folders["partial"], folders["oracle"], folders["odd"]],
        published=True,
        scorer=scorer,
        n_resamples=200,
    )
    write_compare(result, root / "compare")
    return folders, root / "compare"


def test_run_tables_hold_the_markdown_numbers(reported) -> None:
    folders, _ = reported
    for name in ("partial", "odd"):
        folder = folders[name]
        md = markdown_tables((folder / "report.md").read_text(encoding="utf-8"))
        tables = folder / "tables"
        names = ["overall", "table2", "table3", "proactive", "usage"]
        assert sorted(p.name for p in tables.iterdir()) == sorted(
            f"{n}.{ext}" for n in names for ext in ("csv", "tex")
        )
        for table_md, stem in zip(md, names, strict=True):
            check_same_numbers(
                table_md,
                (tables / f"{stem}.csv").read_text(encoding="utf-8"),
                (tables / f"{stem}.tex").read_text(encoding="utf-8"),
                left=0 if stem == "usage" else 1,
            )


def test_compare_tables_hold_the_markdown_numbers(reported) -> None:
    _, out = reported
    md = markdown_tables((out / "compare.md").read_text(encoding="utf-8"))
    stems = ["leaderboard", "table2", "table3", "proactive", "published_table2", "published_table3"]
    assert len(md) == len(stems)
    for table_md, stem in zip(md, stems, strict=True):
        check_same_numbers(
            table_md,
            (out / "tables" / f"{stem}.csv").read_text(encoding="utf-8"),
            (out / "tables" / f"{stem}.tex").read_text(encoding="utf-8"),
            left=2 if stem == "leaderboard" else 1,
        )
    lead = list(csv.reader((out / "tables" / "leaderboard.csv").open(encoding="utf-8")))
    assert lead[0][-4:] == [
        "\u0394 Scale",
        "\u0394 Scale CI low",
        "\u0394 Scale CI high",
        "p (Scale)",
    ]
    assert ODD_NAME in {row[1] for row in lead[1:]}


def test_latex_is_booktabs_with_groups_and_escaped_labels(reported) -> None:
    _, out = reported
    tex = (out / "tables" / "table2.tex").read_text(encoding="utf-8")
    for rule in (r"\toprule", r"\midrule", r"\bottomrule", r"\begin{tabular}{lrrrrrrrrrrrrrrr}"):
        assert rule in tex
    assert r"\multicolumn{3}{c}{Dynamic Navigation}" in tex
    assert r"\cmidrule(lr){2-4}" in tex and r"\cmidrule(lr){14-16}" in tex
    assert r"\textbf{100.0}\textsuperscript{1}" in tex  # the oracle's F1 ranks first
    assert "bold = best" in tex  # the rank legend in the caption
    escaped = latex_escape(ODD_NAME)
    assert escaped == (
        r"gpt\_4o \& co: 100\% \#1 \{x\} \textasciitilde{}\textasciicircum{} "
        r"\textbackslash{} \$5 \textless{}b\textgreater{}\textbar{}"
    )
    assert escaped in tex
    # nothing unescaped: every special character in a body cell is preceded by a backslash
    _, body = latex_rows(tex)
    for row in body:
        for cell in row:
            assert not re.search(r"(?<!\\)[&%#_$]", cell), cell


def test_an_undefined_figure_is_empty_in_csv_and_a_dash_in_latex(tmp_path: Path, demo, scorer):
    """A run that proposes nothing has no proactive share (0 / 0): en dash, empty, "--"."""
    preds = [{"video_id": r.video_id, "actions": []} for r in demo]
    folder = write_run(tmp_path / "none", run_config(demo, "nothing"), preds)
    write_reports(folder, demo, scorer, n_resamples=50, html=False, plots=False)
    header, row = list(csv.reader((folder / "tables" / "proactive.csv").open(encoding="utf-8")))
    shares = [i for i, h in enumerate(header) if h.endswith("Pro. %")]
    assert len(shares) == 5 and all(row[i] == "" for i in shares)
    assert row[1] == "0.0"  # a defined zero stays a number
    _, body = latex_rows((folder / "tables" / "proactive.tex").read_text(encoding="utf-8"))
    assert [body[0][i] for i in shares] == ["--"] * 5 and body[0][1] == "0.0"
    md = markdown_tables((folder / "report.md").read_text(encoding="utf-8"))[3]
    assert [md[1][i] for i in shares] == ["\u2013"] * 5


def test_k_samples_table_holds_the_markdown_numbers(tmp_path: Path, demo, scorer) -> None:
    """With K = 2 samples report.md gains a Samples table and a mean-of-K row: both exported."""
    config = run_config(demo, "two samples")
    config["samples"] = 2
    preds = [dict(p, sample=0) for p in partial_predictions(demo)]
    preds += [dict(p, sample=1) for p in oracle_predictions(demo)]
    folder = write_run(tmp_path / "k2", config, preds)
    write_reports(folder, demo, scorer, n_resamples=50, html=False, plots=False)
    md = markdown_tables((folder / "report.md").read_text(encoding="utf-8"))
    names = ["overall", "samples", "table2", "table3", "proactive", "usage"]
    assert len(md) == len(names)
    for table_md, stem in zip(md, names, strict=True):
        check_same_numbers(
            table_md,
            (folder / "tables" / f"{stem}.csv").read_text(encoding="utf-8"),
            (folder / "tables" / f"{stem}.tex").read_text(encoding="utf-8"),
            left=0 if stem == "usage" else 1,
        )
    rows = list(csv.reader((folder / "tables" / "table2.csv").open(encoding="utf-8")))
    assert [r[0] for r in rows[1:]] == ["two samples (sample 0)", "two samples (mean of 2 samples)"]

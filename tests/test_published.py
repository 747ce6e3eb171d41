"""The shipped published figures equal the paper's tables, cell for cell.

The tables' text is shipped as ``fixtures/paper_tables.txt``: the paper's Tables 2-6 exactly as
they appear in the paper's full text (``shared/paper/VisualActBench.txt``, tab-separated, one
row a line), so these tests run on a fresh clone; where the paper's text is at hand, a test
checks that the excerpt is verbatim.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from statistics import mean

import pytest

from visualact_env import published as P
from visualact_env.records import SCENARIOS

EXCERPT = Path(__file__).resolve().parent / "fixtures" / "paper_tables.txt"
PAPER_CANDIDATES = (
    Path(__file__).resolve().parents[1].parent / "shared" / "paper" / "VisualActBench.txt",
    Path("/work/shared/paper/VisualActBench.txt"),
)
NUM = re.compile(r"^\d+\.\d$")


def _paper_lines() -> list[str]:
    """The lines of the paper's tables (the shipped excerpt)."""
    return EXCERPT.read_text(encoding="utf-8").splitlines()


def test_excerpt_is_verbatim_from_the_paper() -> None:
    """Each block of the excerpt is a run of consecutive lines of the paper's full text."""
    paper = next((p for p in PAPER_CANDIDATES if p.is_file()), None)
    if paper is None:
        pytest.skip("the paper's full text is not beside this checkout (the excerpt is shipped)")
    full = paper.read_text(encoding="utf-8").splitlines()
    blocks = EXCERPT.read_text(encoding="utf-8").split("\n\n")
    assert len([b for b in blocks if b.strip()]) == 5
    for block in filter(str.strip, blocks):
        rows = block.strip("\n").split("\n")
        starts = [i for i, line in enumerate(full) if line == rows[0]]
        assert len(starts) == 1, rows[0]
        assert full[starts[0] : starts[0] + len(rows)] == rows


def _rows_after(lines: list[str], header_prefix: str) -> list[list[str]]:
    """Tab-separated rows following the header line, up to the first blank line."""
    starts = [i for i, line in enumerate(lines) if line.startswith(header_prefix)]
    assert len(starts) == 1, f"header {header_prefix!r} found {len(starts)} times in the paper"
    rows = []
    for line in lines[starts[0] + 1 :]:
        if not line.strip():
            break
        rows.append(line.split("\t"))
    return rows


def _numbers(cells: list[str]) -> list[float]:
    assert all(NUM.match(c) for c in cells), cells
    return [float(c) for c in cells]


def test_table2_equals_paper_cell_for_cell() -> None:
    rows = _rows_after(_paper_lines(), "\tPrec.\tRecall\tF1\tPrec.")
    shipped = P.published_rows(2)
    assert len(rows) == len(shipped) == 29
    for cells, row in zip(rows, shipped, strict=True):
        assert cells[0].startswith(row["model"]), (cells[0], row["model"])
        if row["citation"]:
            assert f"({row['citation']})" in cells[0]
        values = _numbers(cells[1:])
        assert len(values) == 15
        got = []
        for s in (*SCENARIOS, "overall"):
            part = row["overall"] if s == "overall" else row["scenarios"][s]
            got += [part["precision"], part["recall"], part["f1"]]
        assert got == values, row["label"]


def test_table3_equals_paper_cell_for_cell() -> None:
    rows = _rows_after(_paper_lines(), "Model\tDN.\tHS.\tSM.\tHMI.\tOverall")
    shipped = P.published_rows("3")
    assert len(rows) == len(shipped) == 29
    for cells, row in zip(rows, shipped, strict=True):
        assert cells[0] == row["model"]
        got = [row["scenarios"][s]["scale_score"] for s in SCENARIOS]
        assert got + [row["overall"]["scale_score"]] == _numbers(cells[1:])


@pytest.mark.parametrize(
    ("table", "header", "extra"),
    [("4", "Model\tFrm.\t", "frames"), ("5", "Model\tsize\t", "size"), ("6", "Model\tRL\t", "rl")],
)
def test_small_tables_equal_paper(table: str, header: str, extra: str) -> None:
    rows = _rows_after(_paper_lines(), header)
    shipped = P.published_rows(table)
    assert len(rows) == len(shipped) > 0
    model = None
    for cells, row in zip(rows, shipped, strict=True):
        model = cells[0] or model
        assert row["model"] == model
        printed = str(row[extra]) if row[extra] is not None else "-"
        assert printed == cells[1]
        o = row["overall"]
        assert [o["precision"], o["recall"], o["f1"], o["scale_score"]] == _numbers(cells[2:])


# Hand-copied from the paper (independent of the parsing above).
SPOT_CHECKS = [
    ("2", "GPT-4o", "dynamic_navigation", "precision", 32.6),
    ("2", "GPT-4o", "overall", "f1", 36.7),
    ("2", "InternVL2.5-38B", "human_machine_interaction", "f1", 35.3),
    ("2", "Gemini-2-Flash", "overall", "precision", 39.2),
    ("2", "MiniCPM-v (Yao et al., 2024)", "human_machine_interaction", "recall", 16.2),
    ("2", "LLaVA-OV-0.5B", "overall", "f1", 0.1),
    ("3", "GPT-4o", "overall", "scale_score", 66.4),
    ("3", "Aria", "safety_monitoring", "scale_score", 62.2),
    ("3", "LLaVA-OneVision-0.5B", "human_machine_interaction", "scale_score", 2.1),
    ("5", "InternVL 38B", "overall", "scale_score", 57.9),
    ("5", "LLaVA-OV 72B", "overall", "f1", 28.3),
    ("6", "InternVL-38B + MPO", "overall", "f1", 40.7),
    ("6", "InternVL-8B", "overall", "precision", 37.4),
    ("4", "LLaVA-OV 2 frames", "overall", "scale_score", 17.3),
]


@pytest.mark.parametrize(("table", "label", "where", "figure", "value"), SPOT_CHECKS)
def test_spot_checks(table: str, label: str, where: str, figure: str, value: float) -> None:
    row = P.find_published(label, table)
    assert row is not None, label
    part = row["overall"] if where == "overall" else row["scenarios"][where]
    assert part[figure] == value


def test_rows_are_labelled_published_and_unique() -> None:
    doc = P.load_published()
    assert doc["citation"]["arxiv"] == "2512.09907"
    assert doc["citation"]["title"] == "VisualActBench: Can VLMs See and Act like a Human?"
    assert "Jiebo Luo" in doc["citation"]["authors"]
    for table in P.TABLES:
        rows = P.published_rows(table)
        labels = [r["label"] for r in rows]
        assert len(set(labels)) == len(labels), table
        assert all(r["source"].startswith("published") and r["scale"] == "0-100" for r in rows)
        assert [r["rank"] for r in rows] == list(range(1, len(rows) + 1))


def test_overall_disagreements_match_shipped_note() -> None:
    doc = P.load_published()
    for table in ("2", "3"):
        assert doc["tables"][table]["overall_disagreements"] == P.overall_disagreements(table)
    found = {(d["label"], d["figure"]) for d in P.overall_disagreements("2")}
    assert ("Gemini-2-Flash", "precision") in found  # 39.2 printed, mean of scenarios 29.5
    assert ("GPT-4o", "f1") not in found  # mean 36.75, printed 36.7: rounding
    gpt = P.find_published("GPT-4o", "2")
    assert abs(mean(gpt["scenarios"][s]["f1"] for s in SCENARIOS) - 36.7) <= 0.1
    labels3 = {d["label"] for d in P.overall_disagreements("3")}
    assert labels3 == {
        "VILA-1.5-40B",
        "VideoChat-Flash-2B",
        "LLaVA-OneVision-7B",
        "InternVL2.5-1B",
        "VideoChat-Flash-7B",
        "LLaVA-OneVision-0.5B",
    }
    assert P.overall_disagreements("5") == []


def test_unknown_table_and_copies() -> None:
    with pytest.raises(KeyError, match="available"):
        P.published_rows("7")
    rows = P.published_rows("2")
    rows[0]["overall"]["f1"] = -1.0
    assert P.published_rows("2")[0]["overall"]["f1"] == 36.7
    assert P.table_figures("3") == ["scale_score"]


def test_resource_is_package_data(tmp_path: Path) -> None:
    """The JSON is reachable through importlib.resources from a fresh interpreter."""
    code = "from visualact_env.published import published_rows as r; print(len(r('2')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "29"
    raw = Path(P.__file__).with_name("resources") / "published.json"
    assert json.loads(raw.read_text("utf-8"))["tables"]["2"]["rows"][0]["model"] == "GPT-4o"

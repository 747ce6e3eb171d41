"""Parse a table back from Markdown, CSV and booktabs LaTeX, to check they hold the same numbers."""

from __future__ import annotations

import csv
import html
import io
import re

from visualact_env.report.export import latex_escape

NUMBER = re.compile(r"[-+]?\d+(?:\.\d+)?(?:e[-+]?\d+)?")


def _numbers(text: str) -> list[float]:
    return [float(x) for x in NUMBER.findall(text)]


def _split_md_row(line: str) -> list[str]:
    cells = re.split(r"(?<!\\) \| ", line.strip()[2:-2])
    return [html.unescape(c.replace("\\|", "|")) for c in cells]  # as a Markdown viewer shows it


def markdown_tables(text: str) -> list[list[list[str]]]:
    """Every table of a Markdown document: rows of cells (header first, separator dropped)."""
    tables, current = [], []
    for line in text.splitlines():
        if line.startswith("| "):
            if not re.fullmatch(r"\|( :?-+:? \|)+", line):
                current.append(_split_md_row(line))
        elif current:
            tables.append(current)
            current = []
    if current:
        tables.append(current)
    return tables


def latex_rows(tex: str) -> tuple[list[str], list[list[str]]]:
    """The header cells and body rows of a booktabs tabular (between \\midrule and \\bottomrule)."""
    lines = tex.splitlines()
    mid, bottom = lines.index(r"\midrule"), lines.index(r"\bottomrule")
    split = [re.split(r"(?<!\\) & ", ln.removesuffix(r" \\")) for ln in lines[mid - 1 : bottom]]
    return split[0], split[2:]


def _latex_numbers(cell: str) -> list[float]:
    return _numbers(re.sub(r"(?<=\d),(?=\d{3})", "", re.sub(r"\\textsuperscript\{\d\}", "", cell)))


def _md_numbers(cell: str) -> list[float]:
    return _numbers(re.sub(r"(?<=\d),(?=\d{3})", "", re.sub("[\u00b9\u00b2\u00b3]", "", cell)))


def check_same_numbers(md: list[list[str]], csv_text: str, tex: str, left: int) -> None:
    """Same row names, same numbers in the same order, in all three renderings."""
    rows = list(csv.reader(io.StringIO(csv_text)))
    header, body = latex_rows(tex)
    assert len(md) - 1 == len(rows) - 1 == len(body) > 0
    assert len(header) == len(md[0]) and all(len(r) == len(md[0]) for r in body)
    for m, c, t in zip(md[1:], rows[1:], body, strict=True):
        assert m[:left] == c[:left]  # the row's name and settings, unescaped
        assert t[:left] == [latex_escape(x) for x in c[:left]]
        md_nums = [x for cell in m[left:] for x in _md_numbers(cell)]
        csv_nums = [float(x) for x in c[left:] if x != ""]
        tex_nums = [x for cell in t[left:] for x in _latex_numbers(cell)]
        assert md_nums == csv_nums == tex_nums, (m, c, t)
        assert md_nums, "a row without numbers checks nothing"
        # an undefined figure is an en dash, an empty field and "--" alike
        assert sum(cell == "\u2013" for cell in m) == sum(cell == "--" for cell in t)

"""The paper's published results (Tables 2-6 of VisualActBench, arXiv 2512.09907).

The figures are copied cell for cell from the paper into ``resources/published.json`` and are
shipped so that reports can put a local run next to what the authors report on the released
benchmark. They are *published* figures, never recomputed here: every row returned by
:func:`published_rows` says so in its ``source`` field. Figures are on the paper's 0-100 scale.

Known inconsistencies of the paper itself (some Overall cells that are not the mean of their
scenario cells, a model printed twice, ...) are listed in the file's ``notes`` and per table in
``overall_disagreements``; :func:`overall_disagreements` recomputes the latter.
"""

from __future__ import annotations

import copy
import json
from functools import lru_cache
from importlib import resources
from statistics import mean
from typing import Any

from .records import SCENARIOS

TABLES: tuple[str, ...] = ("2", "3", "4", "5", "6")
"""The tables shipped (Table 4, frame counts, is included alongside 2, 3, 5 and 6)."""

SOURCE_LABEL = "published (paper, arXiv 2512.09907; released benchmark)"
ROUNDING_TOLERANCE = 0.1
"""Largest gap between a printed Overall and the mean of printed scenario cells that rounding
to one decimal can explain (each side may be off by 0.05)."""


@lru_cache(maxsize=1)
def _load() -> dict[str, Any]:
    text = resources.files("visualact_env").joinpath("resources/published.json").read_text("utf-8")
    return json.loads(text)


def load_published() -> dict[str, Any]:
    """The whole published-results document: citation, notes and tables (a fresh copy)."""
    return copy.deepcopy(_load())


def citation() -> dict[str, Any]:
    """Title, authors, arXiv id and URL of the paper the figures come from."""
    return copy.deepcopy(_load()["citation"])


def _key(table: str | int) -> str:
    """``2``, ``"2"``, ``"Table 2"`` -> ``"2"``."""
    text = str(table).strip()
    return text[5:].strip() if text.lower().startswith("table") else text


def _table(table: str | int) -> dict[str, Any]:
    key = _key(table)
    tables = _load()["tables"]
    if key not in tables:
        raise KeyError(f"no published table {table!r}; available: {sorted(tables)}")
    return tables[key]


def published_rows(table: str | int) -> list[dict[str, Any]]:
    """The rows of one table, in the paper's order, each clearly labelled as published.

    Each row holds ``table``, ``rank`` (1-based position in the paper), ``model``, ``label``
    (unique within the table), ``source`` (always :data:`SOURCE_LABEL`), ``scale`` ("0-100"),
    ``overall`` (figure -> value) and, for Tables 2 and 3, ``scenarios`` (scenario id -> figure
    -> value). Tables 4-6 carry their extra column (``frames``, ``size`` or ``rl``).
    """
    spec = _table(table)
    key = _key(table)
    rows = []
    for rank, raw in enumerate(spec["rows"], start=1):
        row = copy.deepcopy(raw)
        row.setdefault("label", _default_label(row))
        row.update(table=key, rank=rank, source=SOURCE_LABEL, scale="0-100")
        rows.append(row)
    return rows


def _default_label(row: dict[str, Any]) -> str:
    for extra in ("size", "frames"):
        if extra in row:
            suffix = f"{row[extra]} frames" if extra == "frames" else str(row[extra])
            return f"{row['model']} {suffix}"
    if "rl" in row:
        return f"{row['model']} + {row['rl']}" if row["rl"] else row["model"]
    return row["model"]


def table_figures(table: str | int) -> list[str]:
    """The figure names a table reports, e.g. ``["precision", "recall", "f1"]`` for Table 2."""
    return list(_table(table)["figures"])


def overall_disagreements(
    table: str | int, tolerance: float = ROUNDING_TOLERANCE
) -> list[dict[str, Any]]:
    """Rows whose published Overall differs from the mean of their scenario cells.

    Only Tables 2 and 3 have scenario cells. A gap larger than ``tolerance`` (0.1 by default,
    what rounding to one decimal can explain) is listed as ``{"model", "label", "figure",
    "published_overall", "mean_of_scenarios"}``.
    """
    spec = _table(table)
    if spec["kind"] != "per_scenario":
        return []
    out = []
    for row in published_rows(table):
        for fig in spec["figures"]:
            m = mean(row["scenarios"][s][fig] for s in SCENARIOS)
            if abs(m - row["overall"][fig]) > tolerance + 1e-9:
                out.append(
                    {
                        "model": row["model"],
                        "label": row["label"],
                        "figure": fig,
                        "published_overall": row["overall"][fig],
                        "mean_of_scenarios": round(m, 3),
                    }
                )
    return out


def find_published(model: str, table: str | int = "2") -> dict[str, Any] | None:
    """The row of ``table`` whose label or model name equals ``model`` (case-insensitive)."""
    wanted = model.casefold()
    for row in published_rows(table):
        if wanted in (row["label"].casefold(), row["model"].casefold()):
            return row
    return None


def published_statistics() -> dict[str, Any]:
    """The benchmark's published composition (section 2.2, Figure 3): only the stated counts.

    Keys: ``num_videos``, ``num_actions``, ``videos_per_scenario``, ``videos_per_apl`` and
    ``actions_per_apl`` (APL as ``int`` keys; only the levels the paper states),
    ``actions_per_type`` (``proactive``/``reactive``), plus ``source`` and ``notes``.
    """
    stats = copy.deepcopy(_load()["statistics"])
    for key in ("videos_per_apl", "actions_per_apl"):
        stats[key] = {int(k): v for k, v in stats[key].items()}
    return stats

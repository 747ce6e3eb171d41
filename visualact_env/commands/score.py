"""``visualact score``: score a prediction file against annotations (no clips needed).

Prints the paper's Table 2 (precision / recall / F1 per scenario and overall) and Table 3 (scale
score) layouts, x100 with one decimal, followed by the weighted figures, the proactive figures and
the counts; with ``--json``, one JSON object with every figure as a fraction in [0, 1].
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..cli_config import add_dataclass_arguments, dataclass_from_args
from ..knobs import embedder_field, tau_field


@dataclass
class ScoreConfig:
    """Every option of ``visualact score`` (the options are generated from these fields)."""

    annotations: str = field(metadata={"help": "annotation file (JSON Lines)"})
    predictions: str = field(metadata={"help": "prediction file (JSON Lines)"})
    tau: float = tau_field()
    embedder: str | None = embedder_field()
    json: bool = field(default=False, metadata={"help": "print one JSON object"})
    allow_extra: bool = field(
        default=False,
        metadata={"help": "ignore (with a warning) predictions for videos not in the annotations"},
    )
    sample: int = field(
        default=0, metadata={"help": "which sample to score when a video has several"}
    )
    videos: bool = field(default=False, metadata={"help": "with --json: add per-video details"})
    bootstrap: int = field(
        default=0,
        metadata={
            "help": "add 95% bootstrap confidence intervals from N resamples (e.g. 1000)",
            "metavar": "N",
            "default_help": "no intervals",
        },
    )
    seed: int = field(default=0, metadata={"help": "bootstrap seed"})
    label: str | None = field(
        default=None,
        metadata={
            "help": "row label in the tables",
            "default_help": "the predictions file's name without its extension",
        },
    )


def register(subparsers: Any) -> None:
    """Add the ``score`` sub-command."""
    p = subparsers.add_parser(
        "score",
        help="score a predictions file against annotations",
        description="Score predictions (JSON Lines) against annotations with the VisualActBench "
        "metric: Hungarian matching of sentence embeddings at threshold tau, APL-weighted "
        "figures and scale score, averaged per scenario then over scenarios. See METRICS.md.",
    )
    add_dataclass_arguments(p, ScoreConfig)
    p.set_defaults(func=run)


def _fmt(value: float | None, figure: str = "") -> str:
    from ..figures import format_figure

    return "-" if value is None else format_figure(figure, value)


def _table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = []
    for r in [header, *rows]:
        cells = [c.ljust(widths[0]) if i == 0 else c.rjust(widths[i]) for i, c in enumerate(r)]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def _groups(figs: dict[str, Any]) -> list[tuple[str | None, dict[str, Any] | None]]:
    """The paper's four scenario columns (None where absent), then Overall."""
    from ..records import SCENARIOS

    return [(s, figs["scenarios"].get(s)) for s in SCENARIOS] + [(None, figs["overall"])]


def table2(figs: dict[str, Any], label: str, columns: Sequence[tuple[str, str]]) -> str:
    """``(figure, label)`` columns per scenario and overall, in the layout of the paper's
    Table 2."""
    from ..report.tables import SCENARIO_SHORT_TITLES

    groups = _groups(figs)
    titles = [SCENARIO_SHORT_TITLES[s] if s else "Overall" for s, _ in groups]
    k = len(columns)
    head_row = ["Model"]
    body = [label]
    for _, block in groups:
        head_row += [head for _, head in columns]
        body += [_fmt(block[n], n) if block else "-" for n, _ in columns]
    widths = [max(len(head_row[i]), len(body[i])) for i in range(len(head_row))]
    # a scenario title spans its figures' columns
    out_group = ["".ljust(widths[0])]
    for g in range(len(groups)):
        span = sum(widths[1 + k * g : 1 + k * (g + 1)]) + 2 * (k - 1)
        out_group.append(titles[g].center(span))
    text = _table(head_row, [body])
    return "  ".join(out_group).rstrip() + "\n" + text


def table3(figs: dict[str, Any], label: str, name: str = "scale_score") -> str:
    """One figure per scenario and overall, in the layout of the paper's Table 3."""
    from ..report.tables import SCENARIO_ABBREV

    groups = _groups(figs)
    header = ["Model", *(SCENARIO_ABBREV[s] if s else "Overall" for s, _ in groups)]
    row = [label, *(_fmt(b[name], name) if b else "-" for _, b in groups)]
    return _table(header, [row])


def render_text(report: Any, label: str, ci: Any = None) -> str:
    """The terminal report: Table 2, Table 3, weighted and proactive figures, counts."""
    from ..figures import view, view_names

    figs = report.figures()
    parts = [
        f"Table 2 layout: precision / recall / F1 (x100), tau = {report.tau:g}",
        table2(figs, label, view("table2")),
        "",
        "Table 3 layout: scale score (x100)",
        table3(figs, label, *view_names("table3")),
        "",
        "APL-weighted precision / recall / F1 (x100)",
        table2(figs, label, view("weighted")),
        "",
        "Proactive recall / reactive recall / share of predictions flagged proactive (x100)",
        table2(figs, label, view("proactive")),
    ]
    if ci is not None:
        parts += ["", f"{int(ci.confidence * 100)}% bootstrap CIs ({ci.n_resamples} resamples)"]
        rows = [
            [f, _fmt(e["estimate"]), f"[{_fmt(e['low'])}, {_fmt(e['high'])}]"]
            for f, e in ci.overall.items()
        ]
        parts.append(_table(["Overall figure", "value", "interval"], rows))
    c = figs["overall"]["counts"]
    parts += [
        "",
        f"videos {c['videos']}: scored {c['scored']}, failed {c['failed']}, missing "
        f"{c['missing']}; ground-truth actions {c['gt_actions']}, predicted actions "
        f"{c['pred_actions']}, true positives {c['true_positives']}",
        f"embedder {report.embedder}; sample {report.sample}; benchmark fingerprint "
        f"{report.fingerprint}",
    ]
    return "\n".join(parts)


def run(args: argparse.Namespace) -> int:
    """Load, score, print; exit status 2 on bad input (with a message naming the problem)."""
    from pathlib import Path

    from ..datasets import load_benchmark
    from ..embedding import Embedder, EmbeddingModelError
    from ..loading import parse_predictions
    from ..metric import Scorer, score_predictions

    config = dataclass_from_args(ScoreConfig, args)

    if not -1.0 <= config.tau <= 1.0:
        print(f"error: --tau must be within [-1, 1], got {config.tau}", file=sys.stderr)
        return 2
    benchmark = load_benchmark(config.annotations, check_videos=False)
    warnings: list[str] = []
    predictions = parse_predictions(
        config.predictions, benchmark, allow_extra=config.allow_extra, warnings=warnings
    )
    present = sorted({p.sample for p in predictions})
    if present and config.sample not in present:
        warnings.append(
            f"{config.predictions} has no predictions for --sample {config.sample} "
            f"(it holds sample(s) {', '.join(map(str, present))}): every video counts as missing"
        )
    for w in warnings:
        print(f"warning: {w}", file=sys.stderr)
    try:
        scorer = Scorer(Embedder(config.embedder), tau=config.tau)
        report = score_predictions(
            benchmark, predictions, scorer, sample=config.sample, allow_extra=config.allow_extra
        )
    except (EmbeddingModelError, FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    report.warnings[:0] = warnings
    ci = None
    if config.bootstrap:
        from ..stats import bootstrap_ci

        ci = bootstrap_ci(report, n_resamples=config.bootstrap, seed=config.seed)
    if config.json:
        from ..provenance import package_versions

        out = report.to_dict(videos=config.videos)
        out["versions"] = package_versions()
        if ci is not None:
            out["bootstrap"] = ci.to_dict()
        print(json.dumps(out, indent=2))
    else:
        print(render_text(report, config.label or Path(config.predictions).stem, ci))
    return 0

"""Throughput of a run's launches, per process: the reports' "Throughput" section.

The runner records each launch (the first run and every ``--resume``) in ``config.json``'s
``launches`` (:func:`visualact_env.distributed.launch_record`): the launcher, the number of
processes, how videos were handed out, and per rank its host, device, videos, failures, busy
and working seconds. This module turns them into table rows where a straggler shows: its
working time is long and the others' ``behind`` is large (they finished that much earlier
and waited). A leaf module: the report renderers import it, it imports none of them.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

from .export import md_escape

HEADER = ("launch", "rank", "host", "device", "videos", "failed", "work s", "videos/s", "idle s")


def _num(value: Any, digits: int = 1) -> str:
    return "\u2013" if value is None else f"{float(value):.{digits}f}"


def _md_cell(text: str) -> str:
    """Keep a host or device name from breaking a Markdown table or injecting HTML."""
    return md_escape(text)


def launch_title(index: int, launch: Mapping[str, Any]) -> str:
    """One line per launch: ``launch 1: torchrun, 2 processes, dynamic: 16 videos in 0.9 s``."""
    world = int(launch.get("world_size") or 1)
    how = [str(launch.get("launcher") or "single process")]
    if world > 1:
        how += [f"{world} processes", f"{launch.get('hand_out') or 'dynamic'} hand-out"]
    before = int(launch.get("done_before") or 0)
    return (
        f"launch {index}: {', '.join(how)}: {launch.get('videos', 0)} videos in "
        f"{_num(launch.get('wall_s'))} s ({_num(launch.get('videos_per_s'), 2)} videos/s)"
        + (f", resuming after {before} recorded" if before else "")
    )


def launch_rows(launches: Sequence[Mapping[str, Any]]) -> list[list[str]]:
    """A row per (launch, rank); ``idle s`` is how long the rank waited for the slowest one."""
    rows = []
    for index, launch in enumerate(launches, 1):
        ranks = list(launch.get("ranks") or [])
        slowest = max((float(r.get("work_s") or 0.0) for r in ranks), default=0.0)
        for r in ranks:
            rows.append(
                [
                    str(index),
                    str(r.get("rank", 0)),
                    str(r.get("host") or "\u2013"),
                    str(r.get("device") or "\u2013"),
                    str(r.get("videos", 0)),
                    str(r.get("failed", 0)),
                    _num(r.get("work_s")),
                    _num(r.get("videos_per_s"), 2),
                    _num(slowest - float(r.get("work_s") or 0.0)),
                ]
            )
    return rows


def launches_markdown(summary: Mapping[str, Any]) -> str:
    """The Markdown section (empty when the run recorded no launch)."""
    launches = summary.get("launches") or []
    if not launches:
        return ""
    lines = ["## Throughput", ""]
    lines += [f"- {_md_cell(launch_title(i, x))}" for i, x in enumerate(launches, 1)]
    lines += ["", "| " + " | ".join(HEADER) + " |", "|" + " ---: |" * len(HEADER)]
    lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in launch_rows(launches)]
    lines.append("")
    lines.append(
        "work s: from the process's first video to its last; idle s: how long it then waited "
        "for the slowest process of its launch."
    )
    return "\n".join(lines) + "\n"


def launches_html(summary: Mapping[str, Any]) -> str:
    """The HTML section (empty when the run recorded no launch)."""
    launches = summary.get("launches") or []
    if not launches:
        return ""
    esc = html.escape
    titles = "".join(f"<li>{esc(launch_title(i, x))}</li>" for i, x in enumerate(launches, 1))
    head = "".join(f"<th>{esc(h)}</th>" for h in HEADER)
    body = "".join(
        "<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>"
        for row in launch_rows(launches)
    )
    return (
        '<section id="throughput"><h2>Throughput</h2><div class="panel">'
        f"<ul>{titles}</ul><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
        "<p>work s: from the process's first video to its last; idle s: how long it then "
        "waited for the slowest process of its launch.</p></div></section>"
    )

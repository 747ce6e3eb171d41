"""ARCHITECTURE.md's recipes, carried out: a third-party agent found through the entry-point
group with no edit here, and a report table added in one place. (The per-video figure recipe is
carried out in ``test_figures.py``.)"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from report_fixtures import make_runs

from visualact_env.figures import get_figure
from visualact_env.report import tables as T
from visualact_env.report import write_reports

AGENT_PACKAGE = '''
"""A third-party agent: one action, its APL from the clip's brightness."""
from visualact_env.agent import Agent, AgentOutput
from visualact_env.records import Action


class BrightnessAgent(Agent):
    deterministic = True

    def __init__(self, arg=None, **options):
        self.spec = "brightness" + (f":{arg}" if arg else "")
        self.text = arg or "Turn on the lights"

    def act(self, observation, info):
        level = int(observation["frames"].mean() // 52)  # 0..4
        return AgentOutput(actions=(Action(self.text, level, True),))
'''


def _install_package(root: Path) -> None:
    """A distribution on ``root`` (as pip would leave it): the module and its dist-info with
    the ``visualact.agents`` entry point."""
    (root / "brightness_agent.py").write_text(textwrap.dedent(AGENT_PACKAGE), encoding="utf-8")
    info = root / "brightness_agent-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: brightness-agent\nVersion: 0.1\n", encoding="utf-8"
    )
    (info / "entry_points.txt").write_text(
        "[visualact.agents]\nbrightness = brightness_agent:BrightnessAgent\n", encoding="utf-8"
    )


def test_an_installed_package_adds_an_agent_by_entry_point(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    _install_package(site)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(site), env.get("PYTHONPATH")]))
    names = subprocess.run(
        [sys.executable, "-c", "from visualact_env.registry import agent_names; print(agent_names())"],
        capture_output=True, text=True, env=env, timeout=120, check=True,
    )  # fmt: skip
    assert "'brightness'" in names.stdout
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "visualact_env", "eval", "--agent", "brightness:Call for help"]
    cmd += ["--limit", "2", "--out", str(out), "--no-html"]
    result = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    records = [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]
    assert len(records) == 2
    assert all(r["actions"][0]["text"] == "Call for help" for r in records)
    assert all(0 <= r["actions"][0]["apl"] <= 4 for r in records)
    config = json.loads((out / "config.json").read_text())
    assert "brightness" in json.dumps(config["agent"])


def test_a_report_table_reaches_report_md_and_tables(tmp_path: Path, demo, scorer, monkeypatch) -> None:  # fmt: skip
    """One entry in ``RUN_TABLES`` (here the existing ``weighted`` view of APL-weighted
    precision, recall and F1) gives a report.md section and tables/NAME.csv and .tex."""
    heading = "APL-weighted precision, recall and F1"
    table = T.ReportTable(heading, lambda rows: T.view_table("weighted", rows))
    monkeypatch.setattr(T, "RUN_TABLES", [*T.RUN_TABLES, table])
    folder = make_runs(tmp_path / "runs", demo)["partial"]
    summary = write_reports(folder, scorer=scorer, n_resamples=50)

    md = (folder / "report.md").read_text()
    section = md.split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]
    expected = get_figure("weighted_f1").format(summary["overall"]["weighted_f1"])
    header, _, row = section.strip().splitlines()[:3]
    cells = [c.strip() for c in row.strip("|").split("|")]
    columns = [c.strip() for c in header.strip("|").split("|")]
    assert cells[columns.index("Overall W-F1")] == expected
    assert "DN. W-Prec." in columns

    with open(folder / "tables" / "weighted.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    assert rows[1][rows[0].index("Overall W-F1")] == expected
    assert "W-F1" in (folder / "tables" / "weighted.tex").read_text()

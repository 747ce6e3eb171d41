"""Screenshots of the reports and plots as a reader sees them, in headless Chromium.

Runs real evaluations of the baseline agents on the demo benchmark, writes their reports and a
comparison (with the paper's published tables), then opens report.html, compare.html and the
SVG plots in Debian's Chromium through Playwright and saves PNG screenshots for the docs:

    python scripts/report_screenshots.py --out docs/images [--work /tmp/visualact-shots]

Needs ``/usr/bin/chromium`` and the ``playwright`` package (see tests/browser_helpers.py).
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
AGENTS = ("retrieval", "oracle", "random", "blind", "empty")


def make_runs(work: Path) -> tuple[dict[str, Path], Path]:
    """Evaluate each baseline on the demo benchmark and compare them (retrieval = baseline)."""
    from visualact_env.report import compare_runs, write_compare
    from visualact_env.runner import EvalConfig, run_eval

    runs = {}
    for agent in AGENTS:
        out = work / agent
        if not (out / "summary.json").is_file():
            shutil.rmtree(out, ignore_errors=True)
            run_eval(EvalConfig(agent=agent, out=out, progress=False), log=lambda _: None)
        runs[agent] = out
    result = compare_runs([runs[a] for a in AGENTS], published=True)
    write_compare(result, work / "compare")
    return runs, work / "compare"


def shoot(runs: dict[str, Path], compare: Path, out: Path) -> list[Path]:
    """Open the pages in Chromium and save the screenshots under ``out``."""
    from playwright.sync_api import sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    saved = []
    with sync_playwright() as pw, tempfile.TemporaryDirectory() as profile:
        context = pw.chromium.launch_persistent_context(
            profile,
            executable_path=CHROMIUM,
            args=ARGS,
            headless=True,
            viewport={"width": 1280, "height": 900},
            device_scale_factor=1,
        )
        page = context.new_page()

        def section(url: str, selector: str, name: str) -> None:
            page.goto(url)
            page.wait_for_load_state("load")
            page.locator(selector).first.screenshot(path=str(out / name))
            saved.append(out / name)

        report = (runs["retrieval"] / "report.html").as_uri()
        page.goto(report)
        page.wait_for_load_state("load")
        page.screenshot(path=str(out / "report-top.png"))
        saved.append(out / "report-top.png")
        section(report, "#plots", "report-plots.png")
        section(report, "#tables", "report-tables.png")
        section(report, "#cards > article", "report-card.png")
        cmp_url = (compare / "compare.html").as_uri()
        section(cmp_url, "section:has(h2:text-is('Leaderboard'))", "compare-leaderboard.png")
        section(cmp_url, "section:has(h2:text-is('Table 2 layout'))", "compare-table2.png")
        section(cmp_url, "section:has(h2:has-text('Figure 4'))", "compare-figure4.png")
        # the SVG plots as a browser draws them (text kept as text)
        page.set_viewport_size({"width": 900, "height": 420})
        for run, stem in (("oracle", "tau_sweep"), ("oracle", "scenario_scores"),
                          ("empty", "apl_confusion"), ("retrieval", "apl_confusion")):  # fmt: skip
            name = f"plot-{run}-{stem}.png"
            section((runs[run] / "plots" / f"{stem}.svg").as_uri(), "svg", name)
        section((compare / "proactive_ratio.svg").as_uri(), "svg", "plot-proactive-ratio.png")
        context.close()
    return saved


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/images"))
    parser.add_argument(
        "--work", type=Path, default=Path(tempfile.gettempdir()) / "visualact-shots"
    )
    args = parser.parse_args()
    runs, compare = make_runs(args.work)
    for path in shoot(runs, compare, args.out):
        print(path)


if __name__ == "__main__":
    main()

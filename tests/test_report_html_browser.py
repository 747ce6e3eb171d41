"""The HTML report in a real headless Chromium: cards, sorting, filtering, no script injection.

Needs Debian's ``chromium`` at /usr/bin/chromium (``apt-get install -y chromium``) driven by the
``playwright`` Python package. Without the browser the test fails, unless
``VISUALACT_SKIP_BROWSER=1`` is set.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from browser_helpers import CHROMIUM_ARGS, chromium_or_fail
from report_fixtures import XSS_TEXT, make_runs

from visualact_env.datasets import load_benchmark
from visualact_env.report import write_reports

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def report_page(tmp_path_factory: pytest.TempPathFactory):
    """The partial run's report.html open in Chromium, with its dialogs and requests logged."""
    executable = chromium_or_fail()
    from playwright.sync_api import sync_playwright

    bench = load_benchmark("demo")
    runs = make_runs(tmp_path_factory.mktemp("runs"), bench)
    write_reports(runs["partial"], n_resamples=200)
    html_path = runs["partial"] / "report.html"
    user_data = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(user_data),
            executable_path=executable,
            args=CHROMIUM_ARGS,
            headless=True,
            viewport={"width": 1280, "height": 900},
        )
        page = context.new_page()
        log: dict[str, list] = {"dialogs": [], "requests": [], "errors": []}
        page.on("dialog", lambda d: (log["dialogs"].append(d.message), d.dismiss()))
        page.on("request", lambda r: log["requests"].append(r.url))
        page.on("pageerror", lambda e: log["errors"].append(str(e)))
        page.goto(html_path.as_uri())
        page.wait_for_load_state("load")
        yield page, log, bench, html_path
        context.close()


def _visible_attr(page, attr: str) -> list[str]:
    return page.eval_on_selector_all(
        "#cards > article",
        f"els => els.filter(e => e.style.display !== 'none').map(e => e.getAttribute('{attr}'))",
    )


def test_renders_one_card_per_video_and_no_errors(report_page):
    page, log, bench, _ = report_page
    assert page.locator("#cards > article").count() == len(bench)
    assert page.locator("article.card.failed").count() == 1
    assert page.locator("article.card.missing").count() == 1
    assert page.locator(".strip img").count() >= 4
    assert log["errors"] == []


def test_sort_buttons_reorder_cards(report_page):
    page, _, _, _ = report_page
    page.click("button[data-sort='f1']")
    f1 = [float(v) if v else -1.0 for v in _visible_attr(page, "data-f1")]
    assert f1 == sorted(f1, reverse=True) and f1[0] > f1[-1]
    page.click("button[data-sort='f1']")
    f1_up = [float(v) if v else -1.0 for v in _visible_attr(page, "data-f1")]
    assert f1_up == sorted(f1_up)
    page.click("button[data-sort='id']")
    ids = _visible_attr(page, "data-id")
    assert ids == sorted(ids)
    page.click("button[data-sort='wf1']")
    wf1 = [float(v) if v else -1.0 for v in _visible_attr(page, "data-wf1")]
    assert wf1 == sorted(wf1, reverse=True)
    assert page.get_attribute("button[data-sort='wf1']", "aria-pressed") == "true"


def test_scenario_filter_hides_other_cards(report_page):
    page, _, bench, _ = report_page
    page.select_option("#filter-scenario", "safety_monitoring")
    shown = _visible_attr(page, "data-scenario")
    assert shown and set(shown) == {"safety_monitoring"}
    assert len(shown) == sum(1 for r in bench if r.scenario == "safety_monitoring")
    assert page.inner_text("#shown-count") == str(len(shown))
    page.select_option("#filter-scenario", "")
    assert len(_visible_attr(page, "data-id")) == len(bench)


def test_script_in_prediction_is_text_and_never_runs(report_page):
    page, log, _, _ = report_page
    assert log["dialogs"] == []
    assert page.evaluate("typeof window.__pwned") == "undefined"
    cell = page.locator("td.pr", has_text="window.__pwned = 1")
    assert cell.count() == 1
    assert cell.first.is_visible()
    assert "<script>" in cell.first.inner_text()
    assert XSS_TEXT.split("</script>")[1].strip() in cell.first.inner_text()


def test_makes_no_network_requests_and_screenshot(report_page, tmp_path: Path):
    page, log, _, html_path = report_page
    external = [u for u in log["requests"] if not u.startswith(("file:", "data:"))]
    assert external == []
    shot = tmp_path / "report.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    keep = os.environ.get("VISUALACT_SCREENSHOT")
    if keep:
        shutil.copy(shot, keep)

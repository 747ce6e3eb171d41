"""``visualact serve`` end to end: the real command on 127.0.0.1, driven by headless Chromium.

One server (a subprocess running ``python -m visualact_env serve``) serves a three-clip human
study on the demo data, a folder of two clips to annotate and a runs folder holding hand-made
runs (one whose model text is an HTML/script injection). A scripted participant completes the
study by keyboard, with an invalid submission and a reload on the way; the run folder it leaves
is then scored by ``visualact score`` and listed by ``visualact compare``. Two annotators work
at once in two browser contexts; the run browser shows hostile text inert; the guards refuse
``../`` paths, foreign Host headers and POSTs without a CSRF token.

Screenshots illustrate the README and docs/serve.md: ``VISUALACT_SCREENSHOTS_DIR=docs/images``
writes them there.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlencode, urlparse

import pytest
from browser_helpers import CHROMIUM_ARGS, chromium_or_fail
from report_fixtures import run_config, write_run

from visualact_env.cli import main
from visualact_env.records import SCENARIO_TITLES
from visualact_env.rundir import select_videos

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SCREENSHOTS = os.environ.get("VISUALACT_SCREENSHOTS_DIR")
"""Where the screenshots go; the docs' are made with ``VISUALACT_SCREENSHOTS_DIR=docs/images``."""
STUDY_CLIPS = 3
HOSTILE_RAW = (
    '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">'
    "1. Close the door (APL 2, proactive)"
)
NEAR_CANDIDATES = (
    "Slow the car down.",
    "Watch the road ahead.",
    "Stop the car.",
    "Be careful near the crossing.",
    "Look at the pedestrian.",
    "Drive slowly.",
)


# ---------------------------------------------------------------------------------------------
# the server and its folders


def _with_near_miss(scorer, gt, proposals: list[dict], others: list[str]) -> list[dict]:
    """``proposals`` plus one whose assigned pair is a near miss (similarity within 0.15 below
    tau), found among a few generic sentences and the benchmark's other actions by the real
    embedding model and checked on the real assignment."""
    for text in [*NEAR_CANDIDATES, *others]:
        candidate = [*proposals, {"text": text, "apl": 2, "proactive": True}]
        score = scorer.score_video(candidate, gt)
        near = [p for p in score.pairs if not p.matched and p.similarity >= scorer.tau - 0.15]
        if len(near) == 1 and score.tp == 1:
            return candidate
    pytest.fail("no near-miss candidate found")


@pytest.fixture(scope="module")
def site(demo, scorer, tmp_path_factory):
    """The running server: ``{"url", "runs", "clips", "bench"}``."""
    root = tmp_path_factory.mktemp("serve")
    runs = root / "runs"
    clips = root / "clips"
    (clips / "street").mkdir(parents=True)
    first, second = demo.records[0], demo.records[5]
    shutil.copy(first.path, clips / "street" / "crossing.mp4")
    shutil.copy(second.path, clips / "kitchen <i>one.mp4")

    # the study's selection (--limit 3: one video of each of three scenarios), and an oracle
    chosen = select_videos(demo, (), STUDY_CLIPS)
    config = run_config(demo, "oracle")
    config["selection"] = {"scenarios": [], "limit": STUDY_CLIPS, "limit_rule": "stratified"}
    oracle = [{"video_id": r.video_id, "actions": [a.to_dict() for a in r.actions]} for r in chosen]
    write_run(runs / "oracle", config, oracle)
    # a model whose answer text is an injection attempt, with a near miss and a match
    gt = chosen[0].actions
    others = [a.text for r in demo.records if r.video_id != chosen[0].video_id for a in r.actions]
    hostile = [
        {
            "video_id": chosen[0].video_id,
            "actions": _with_near_miss(
                scorer,
                gt,
                [
                    gt[0].to_dict(),
                    {
                        "text": "<b>bold</b><script>window.__pwned = 3</script>",
                        "apl": 1,
                        "proactive": False,
                    },
                ],
                others,
            ),
            "raw_text": HOSTILE_RAW,
            "diagnostics": ['<img src=x onerror="window.__pwned = 4"> repaired JSON'],
        }
    ]
    hostile += oracle[1:]
    write_run(runs / "hostile", config, hostile)

    command = [
        sys.executable,
        "-m",
        "visualact_env",
        "serve",
        "--data",
        "demo",
        "--limit",
        str(STUDY_CLIPS),
        "--runs",
        str(runs),
        "--annotate",
        str(clips),
        "--port",
        "0",
    ]
    proc = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ)
    )
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        match = re.search(r"(http://127\.0\.0\.1:\d+/)", line)
        if not match:
            proc.kill()
            pytest.fail(
                f"server did not start: {line!r} {proc.stderr.read() if proc.stderr else ''}"
            )
        yield {"url": match.group(1), "runs": runs, "clips": clips, "bench": demo, "chosen": chosen}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="module")
def browser():
    executable = chromium_or_fail()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


def _page(browser, width: int = 1280, height: int = 720):
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    log: dict[str, list] = {"dialogs": [], "errors": []}
    page.on("dialog", lambda d: (log["dialogs"].append(d.message), d.dismiss()))
    page.on("pageerror", lambda e: log["errors"].append(str(e)))
    return context, page, log


def _shot(page, name: str, full_page: bool = False) -> None:
    """A screenshot (checked non-trivial), kept in $VISUALACT_SCREENSHOTS_DIR when set."""
    png = page.screenshot(full_page=full_page)
    assert len(png) > 5_000
    if SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        (Path(SCREENSHOTS) / name).write_bytes(png)


def _unlabelled(page) -> list[str]:
    """Names of the page's inputs without a label (every input needs a visible one)."""
    return page.evaluate(
        "[...document.querySelectorAll('input:not([type=hidden]), select, textarea')]"
        ".filter(e => !e.labels || e.labels.length === 0 || !e.labels[0].innerText.trim())"
        ".map(e => e.name || e.id)"
    )


def _no_horizontal_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


# ---------------------------------------------------------------------------------------------
# the human study


def _answer_by_keyboard(page, row: int, text: str, apl: str, kind: str) -> None:
    """Type an action, then Tab to the APL buttons and press the digit, Tab to the kind and
    press P or R: no mouse."""
    page.focus(f"#text-{row}")
    page.keyboard.type(text)
    page.keyboard.press("Tab")
    page.keyboard.press(apl)
    page.keyboard.press("Tab")
    page.keyboard.press(kind)


def test_participant_completes_the_study(site, browser, capsys):
    bench = site["bench"]
    url = site["url"]
    context, page, log = _page(browser)
    page.goto(url + "study")
    assert page.locator("label[for=participant]").is_visible()
    page.fill("#participant", "alice")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/study/p/alice/sampled/clip/1$"))

    # clip 1: exactly the sampler's frames, and nothing that names the clip
    frames = page.locator("ol.frames img")
    assert frames.count() == 8
    page.wait_for_function(
        "[...document.querySelectorAll('ol.frames img')].every(i => i.complete && i.naturalWidth > 0)"
    )
    content = page.content()
    for record in site["chosen"]:
        assert record.video_id not in content
    for title in SCENARIO_TITLES.values():
        assert title not in content
    assert _no_horizontal_scroll(page)
    assert _unlabelled(page) == []
    _shot(page, "serve-study-clip.png")

    # an invalid submission: text without APL or kind -> the loader's messages at the fields
    page.fill("#text-0", "Brake and stop before the crosswalk.")
    page.click("button[value=submit]")
    error = page.locator("#err-apl-0")
    assert error.is_visible() and "must be an integer 0..4" in error.inner_text()
    assert page.locator("#err-pro-0").is_visible()
    assert page.get_attribute("fieldset.apl", "aria-invalid") == "true"
    assert page.input_value("#text-0") == "Brake and stop before the crosswalk."
    _shot(page, "serve-study-error.png", full_page=True)

    # fixed by keyboard alone: Tab to the APL, press 4; Tab to the kind, press P
    page.focus("#text-0")
    page.keyboard.press("Tab")
    page.keyboard.press("4")
    page.keyboard.press("Tab")
    page.keyboard.press("p")
    assert page.is_checked("input[name=apl-0][value='4']")
    assert page.is_checked("input[name=pro-0][value=proactive]")
    page.keyboard.press("Tab")  # the "no action" box
    page.keyboard.press("Tab")  # "Add another action"
    page.keyboard.press("Enter")  # adds row 2 and focuses its text
    _answer_by_keyboard(page, 1, "Keep a safe distance from the crossing.", "3", "p")
    page.click("button[value=submit]")
    page.wait_for_url(re.compile(r"/clip/2$"))

    # clip 2, then leave mid-way: a new browser session with the same id resumes at clip 2
    _answer_by_keyboard(page, 0, "Keep the walkway clear.", "2", "r")
    context.close()
    context, page, log2 = _page(browser, 390, 844)
    page.goto(url + "study")
    page.fill("#participant", "alice")
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/clip/2$"))
    assert page.input_value("#text-0") == ""
    assert _no_horizontal_scroll(page)
    _shot(page, "serve-study-phone.png")
    _answer_by_keyboard(page, 0, "Turn off the stove.", "3", "p")
    page.click("button[value=submit]")
    page.wait_for_url(re.compile(r"/clip/3$"))
    page.reload()
    assert re.search(r"/clip/3$", page.url)
    _answer_by_keyboard(page, 0, "Call for help.", "4", "r")
    page.click("button[value=submit]")
    page.wait_for_url(re.compile(r"/done$"), timeout=120_000)
    assert page.locator(".tile").first.is_visible()
    assert "Thank you, alice" in page.inner_text("h1")
    page.set_viewport_size({"width": 1280, "height": 720})
    _shot(page, "serve-study-done.png")
    assert log["dialogs"] == log2["dialogs"] == [] and log["errors"] == log2["errors"] == []
    context.close()

    # the run folder: an ordinary run (config, one record per clip with time spent)
    run_dir = site["runs"] / "human-alice"
    config = json.loads((run_dir / "config.json").read_text())
    assert config["agent"]["spec"] == "human:alice"
    assert config["human"]["condition"] == "sampled"
    assert sorted(config["human"]["order"]) == sorted(r.video_id for r in site["chosen"])
    rows = [json.loads(x) for x in (run_dir / "predictions.jsonl").read_text().splitlines()]
    assert len(rows) == STUDY_CLIPS
    assert all(r["latency_s"] is not None and r["latency_s"] > 0 for r in rows)
    assert sorted(len(r["actions"]) for r in rows) == [1, 1, 2]
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["agent_label"] == "human:alice" and summary["counts"]["scored"] == 3

    # `visualact score` and `visualact compare` read it like any model's run
    capsys.readouterr()
    annotations = bench.path
    assert (
        main(
            [
                "score",
                "--annotations",
                str(annotations),
                "--predictions",
                str(run_dir / "predictions.jsonl"),
                "--json",
            ]
        )
        == 0
    )
    scored = json.loads(capsys.readouterr().out)
    assert scored["overall"]["counts"]["scored"] == STUDY_CLIPS
    assert main(["compare", str(site["runs"] / "oracle"), str(run_dir), "--resamples", "200"]) == 0
    table = capsys.readouterr().out
    assert "human:alice" in table and "oracle" in table


# ---------------------------------------------------------------------------------------------
# annotation


def test_two_annotators_at_once(site, browser, capsys):
    url = site["url"]
    ctx_a, page_a, _ = _page(browser)
    ctx_b, page_b, _ = _page(browser)
    for page, name in ((page_a, "ann"), (page_b, "ben")):
        page.goto(url + "annotate")
        page.fill("#annotator", name)
        page.click("button[type=submit]")
        page.wait_for_url(re.compile(rf"/annotate/a/{name}$"))
        assert page.locator("table.list tbody tr").count() == 2
        page.click("text=kitchen <i>one.mp4")
        page.wait_for_url(re.compile(r"/clip\?c="))

    # both fill the same clip; ann forgets the scenario and sees the loader's message
    page_a.fill("#text-0", "Turn off the stove.")
    page_a.check("input[name=apl-0][value='4']", force=True)
    page_a.check("input[name=pro-0][value=proactive]", force=True)
    page_b.fill("#text-0", "Move the pan away from the edge.")
    page_b.check("input[name=apl-0][value='2']", force=True)
    page_b.check("input[name=pro-0][value=proactive]", force=True)
    page_b.select_option("#scenario", "home_service")
    page_a.click("button[value=next]")
    error = page_a.locator("#err-scenario")
    assert error.is_visible() and "unknown scenario" in error.inner_text()
    page_b.click("button[value=next]")
    page_b.wait_for_url(re.compile(r"street"))
    page_a.select_option("#scenario", "home_service")
    page_a.click("button[value=next]")
    page_a.wait_for_url(re.compile(r"street"))
    # second clip: a field error for an action without APL, then saved
    for page, text in ((page_a, "Stop before the crossing."), (page_b, "Wave the pedestrian on.")):
        page.fill("#text-0", text)
        page.check("input[name=pro-0][value=reactive]", force=True)
        page.select_option("#scenario", "dynamic_navigation")
        page.click("button[value=save]")
        assert "must be an integer 0..4" in page.inner_text("#err-apl-0")
        page.check("input[name=apl-0][value='3']", force=True)
        page.click("button[value=save]")
        assert page.locator("p.ok[role=status]").is_visible()
    assert page_b.locator("ol.frames img").count() == 8
    assert _unlabelled(page_b) == []
    page_b.wait_for_function(
        "[...document.querySelectorAll('ol.frames img')].every(i => i.complete && i.naturalWidth > 0)"
    )
    _shot(page_b, "serve-annotate.png", full_page=True)
    ctx_a.close()
    ctx_b.close()

    capsys.readouterr()
    for name, first in (
        ("ann", "Turn off the stove."),
        ("ben", "Move the pan away from the edge."),
    ):
        path = site["clips"] / f"annotations-{name}.jsonl"
        records = [json.loads(x) for x in path.read_text().splitlines()]
        assert [r["video"] for r in records] == ["kitchen <i>one.mp4", "street/crossing.mp4"]
        assert records[0]["actions"][0]["text"] == first
        assert main(["data", "validate", str(path)]) == 0, capsys.readouterr()


# ---------------------------------------------------------------------------------------------
# run browser


def test_run_browser_shows_hostile_text_inert(site, browser):
    url = site["url"]
    context, page, log = _page(browser)
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(url + "runs")
    rows = page.locator("table.runs tbody tr")
    assert rows.count() >= 2
    assert page.locator("table.runs", has_text="hostile").is_visible()
    vid = site["chosen"][0].video_id
    page.goto(url + "run/video?" + urlencode({"r": "hostile", "v": vid}))
    raw = page.locator("pre.raw")
    assert "<script>window.__pwned = 1</script>" in raw.inner_text()
    assert page.locator("text=<b>bold</b>").first.is_visible()
    assert page.locator("li", has_text='onerror="window.__pwned = 4"').is_visible()
    assert page.locator("tr.match").count() >= 1
    near = page.locator("tr.near")
    assert near.count() == 1 and "near miss" in near.inner_text()
    assert page.locator("ol.frames img").count() == 4
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert log["dialogs"] == [] and log["errors"] == []
    assert not [u for u in requests if not u.startswith(url)]
    _shot(page, "serve-run-video.png")

    # the run's page: its videos, and its reports written through the page's form
    page.goto(url + "run?" + urlencode({"r": "hostile"}))
    assert page.locator("table.list tbody tr").count() == STUDY_CLIPS
    page.click("text=Write reports")
    page.wait_for_selector("text=Open report.html", timeout=120_000)
    assert (site["runs"] / "hostile" / "report.html").is_file()
    response = page.goto(url + "run/report.html?" + urlencode({"r": "hostile"}))
    assert "sandbox" in response.headers["content-security-policy"]
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert log["dialogs"] == []

    # video by video: the oracle against the hostile run, filtered
    page.goto(url + "compare?" + urlencode({"a": "oracle", "b": "hostile"}))
    totals = page.inner_text("#totals")
    assert "wins 1" in totals.replace("A wins", "wins") and "ties 2" in totals
    scenario = site["chosen"][0].scenario
    page.select_option("#scenario", scenario)
    page.click("button[type=submit]")
    shown = page.locator("table.list tbody tr")
    assert shown.count() == sum(1 for r in site["chosen"] if r.scenario == scenario)
    page.fill("#q", "pwned")
    page.click("button[type=submit]")
    assert page.locator("table.list tbody tr").count() == 1
    context.close()


# ---------------------------------------------------------------------------------------------
# guards


def _request(url: str, method: str, path: str, body: str = "", headers: dict | None = None):
    parts = urlparse(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    all_headers = {"Content-Type": "application/x-www-form-urlencoded", **(headers or {})}
    conn.request(
        method, path, body=body.encode() if method == "POST" else None, headers=all_headers
    )
    response = conn.getresponse()
    data = response.read().decode("utf-8", "replace")
    conn.close()
    return response, data


def test_paths_csrf_and_host_are_guarded(site):
    url = site["url"]
    for path in (
        "/run?r=../../etc",
        "/run?r=..%2F..%2Fetc",
        "/run?r=%2Fetc",
        "/run/report.html?r=../oracle/../../x",
        "/annotate/video?c=../runs/oracle/config.json",
        "/annotate/video?c=%2Fetc%2Fpasswd",
        "/annotate/frame?c=../runs/oracle/config.json&i=0",
        "/static/../app.py",
        "/static/%2e%2e/app.py",
        "/annotate/a/..%2F..%2Fetc",
    ):
        response, body = _request(url, "GET", path)
        assert response.status == 404, (path, response.status, body[:200])
        assert "root:" not in body and "tau" not in body
    # a session cookie alone is not enough: the form's token must be there and right
    response, _ = _request(url, "GET", "/study")
    cookie = response.getheader("set-cookie").split(";")[0]
    for body in ("participant=eve&condition=sampled", "participant=eve&csrf_token=forged"):
        response, text = _request(url, "POST", "/study/start", body, {"Cookie": cookie})
        assert response.status == 403 and "CSRF" in text
        response, _ = _request(url, "POST", "/study/start", body)
        assert response.status == 403
    assert not (site["runs"] / "human-eve").exists()
    response, _ = _request(url, "POST", "/run/report?r=oracle", "", {"Cookie": cookie})
    assert response.status == 403
    assert not (site["runs"] / "oracle" / "summary.json").exists()
    # a page reached through another host name (DNS rebinding) is refused
    response, _ = _request(url, "GET", "/runs", headers={"Host": "attacker.example:80"})
    assert response.status == 400


def test_token_required_off_loopback(tmp_path):
    """Another --host needs the token: 403 without; ?token= sets a cookie and redirects."""
    from starlette.testclient import TestClient

    from visualact_env.web import ServeConfig, create_app

    with pytest.raises(ValueError, match="token is required"):
        create_app(ServeConfig(host="0.0.0.0", runs=tmp_path, parts=("runs",)))
    app = create_app(ServeConfig(host="0.0.0.0", runs=tmp_path, parts=("runs",)), token="t0k")
    client = TestClient(app, base_url="http://example.org", follow_redirects=False)
    assert client.get("/runs").status_code == 403
    assert client.get("/runs?token=wrong").status_code == 403
    response = client.get("/runs?token=t0k&x=1")
    assert response.status_code == 303 and response.headers["location"] == "/runs?x=1"
    assert "HttpOnly" in response.headers["set-cookie"]
    assert client.get("/runs").status_code == 200  # the cookie stands in for the token

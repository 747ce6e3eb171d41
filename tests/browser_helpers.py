"""Headless Chromium for the browser tests: Debian's ``chromium`` driven by PyPI's Playwright.

No ``playwright install``: the system browser is launched by path with the flags that make it
run here (root needs ``--no-sandbox``) and that keep it off the network.
"""

from __future__ import annotations

import os
import shutil

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
]


def chromium_or_fail() -> str:
    """The browser's path; the test fails without it (skips only with VISUALACT_SKIP_BROWSER=1)."""
    if os.environ.get("VISUALACT_SKIP_BROWSER") == "1":
        pytest.skip("VISUALACT_SKIP_BROWSER=1")
    path = shutil.which(CHROMIUM) or (CHROMIUM if os.access(CHROMIUM, os.X_OK) else None)
    if path is None:
        pytest.fail(
            f"headless Chromium not found at {CHROMIUM}: install it with "
            "`apt-get install -y chromium` (or set VISUALACT_SKIP_BROWSER=1 to skip this test)"
        )
    return path

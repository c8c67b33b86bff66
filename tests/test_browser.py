"""Which Chromium the browser tests and benchmarks launch (bench/browser.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench import browser
from bench.browser import BrowserNotFound, chromium_binary

REPO = Path(__file__).resolve().parents[1]


def test_e2e_chromium_is_used_when_it_exists(tmp_path: Path) -> None:
    binary = tmp_path / "my-chromium"
    binary.write_text("")
    assert chromium_binary({"E2E_CHROMIUM": str(binary)}) == binary


def test_a_missing_e2e_chromium_is_refused_not_replaced(tmp_path: Path) -> None:
    with pytest.raises(BrowserNotFound, match="E2E_CHROMIUM"):
        chromium_binary({"E2E_CHROMIUM": str(tmp_path / "nowhere")})


def test_without_a_system_chromium_playwrights_own_is_chosen(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(browser, "SYSTEM_CHROMIUM", tmp_path / "no-chromium")
    assert chromium_binary({}) is None


# Run in a process of its own: this test process may already hold the browser tests'
# Playwright (session scope), and Playwright's sync API refuses a second one in the same thread.
_LAUNCH_WITHOUT_BROWSERS = """
import sys
from pathlib import Path
from playwright.sync_api import sync_playwright
from bench import browser
browser.SYSTEM_CHROMIUM = Path(sys.argv[1])
with sync_playwright() as p:
    try:
        browser.launch_chromium(p)
    except browser.BrowserNotFound as e:
        print(e)
        sys.exit(3)
"""


def test_no_browser_at_all_fails_with_install_advice(tmp_path: Path) -> None:
    """No system Chromium and an empty Playwright browser folder: a real launch fails, and the
    message says how to install one."""
    env = {k: v for k, v in os.environ.items() if k != "E2E_CHROMIUM"}
    env["PLAYWRIGHT_BROWSERS_PATH"] = str(tmp_path / "browsers")
    done = subprocess.run(
        [sys.executable, "-c", _LAUNCH_WITHOUT_BROWSERS, str(tmp_path / "no-chromium")],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 3, done.stderr
    assert "python -m playwright install chromium" in done.stdout

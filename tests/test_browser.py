"""Which Chromium the browser tests and benchmarks launch (bench/browser.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from bench import browser
from bench.browser import BrowserNotFound, chromium_binary, launch_chromium


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


def test_no_browser_at_all_fails_with_install_advice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No system Chromium and an empty Playwright browser folder: a real launch fails, and the
    message says how to install one."""
    monkeypatch.setattr(browser, "SYSTEM_CHROMIUM", tmp_path / "no-chromium")
    monkeypatch.delenv("E2E_CHROMIUM", raising=False)
    monkeypatch.setenv("PLAYWRIGHT_BROWSERS_PATH", str(tmp_path / "browsers"))
    with sync_playwright() as p, pytest.raises(BrowserNotFound) as caught:
        launch_chromium(p)
    assert "python -m playwright install chromium" in str(caught.value)

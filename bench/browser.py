"""Driving the app in a real browser, shared by the benchmarks that use one and the end-to-end
tests (tests/e2e): which Chromium to launch and how, a free local port, and Streamlit's health
check.

The browser: $E2E_CHROMIUM when set, else Debian's Chromium at /usr/bin/chromium where it
exists (these machines: Playwright cannot download a browser here), else Playwright's own
Chromium (`python -m playwright install chromium`: a laptop with macOS, Windows or another
Linux)."""

from __future__ import annotations

import os
import socket
import urllib.request
from pathlib import Path
from typing import Any

from mnist_core.errors import MnistError

SYSTEM_CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
INSTALL_ADVICE = (
    "Install one: `python -m playwright install chromium` (Playwright's own build), or on "
    "Debian/Ubuntu `apt-get install -y chromium`, or point E2E_CHROMIUM at a Chromium binary."
)


class BrowserNotFound(MnistError):
    """No Chromium to drive: what was looked for, and how to install one."""


def chromium_binary(env: dict[str, str] | None = None) -> Path | None:
    """The Chromium binary to launch, or None for Playwright's own build.

    $E2E_CHROMIUM, when set, must exist (a path given on purpose is never silently replaced);
    otherwise /usr/bin/chromium where it exists."""
    env = os.environ if env is None else env
    chosen = env.get("E2E_CHROMIUM")
    if chosen:
        path = Path(chosen)
        if not path.exists():
            raise BrowserNotFound(f"E2E_CHROMIUM is {chosen!r}, which does not exist.")
        return path
    return SYSTEM_CHROMIUM if SYSTEM_CHROMIUM.exists() else None


def launch_chromium(playwright: Any) -> Any:
    """Launch headless Chromium with Playwright (`sync_playwright()`'s object): the binary of
    `chromium_binary()`, else Playwright's own. Raises BrowserNotFound with advice when there
    is neither."""
    binary = chromium_binary()
    if binary is not None:
        return playwright.chromium.launch(executable_path=str(binary), args=CHROMIUM_ARGS)
    try:
        return playwright.chromium.launch(args=CHROMIUM_ARGS)
    except Exception as e:  # playwright's Error: "Executable doesn't exist at ..."
        if "Executable doesn't exist" not in str(e):
            raise
        raise BrowserNotFound(
            f"No Chromium found: {SYSTEM_CHROMIUM} does not exist, E2E_CHROMIUM is not set, and "
            f"Playwright's own Chromium is not installed. {INSTALL_ADVICE}"
        ) from e


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def health_ok(url: str) -> bool:
    """Whether the Streamlit server at `url` answers its health check."""
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
            return r.status == 200
    except OSError:
        return False

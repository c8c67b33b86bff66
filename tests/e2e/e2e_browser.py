"""The browser set-up of the e2e tests: the one in bench/browser.py, which the browser
benchmarks use too, with the websocket's run log and the digits' strokes (kept under this name
so that the e2e modules import it as before)."""

from bench.browser import (
    DIGIT_STROKES,
    PAD,
    BrowserNotFound,
    RunLog,
    free_port,
    health_ok,
    launch_chromium,
)

__all__ = [
    "DIGIT_STROKES",
    "PAD",
    "BrowserNotFound",
    "RunLog",
    "free_port",
    "health_ok",
    "launch_chromium",
]

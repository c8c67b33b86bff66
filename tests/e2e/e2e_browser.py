"""The browser set-up of the e2e tests: the one in bench/browser.py, which the browser
benchmarks use too (kept under this name so that the e2e modules import it as before)."""

from bench.browser import BrowserNotFound, free_port, health_ok, launch_chromium

__all__ = ["BrowserNotFound", "free_port", "health_ok", "launch_chromium"]

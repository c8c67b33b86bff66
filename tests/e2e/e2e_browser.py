"""The browser set-up of the e2e tests: the one in bench/browser.py, which the first-render
benchmark uses too (kept under this name so that the e2e modules import it as before)."""

from bench.browser import CHROMIUM, CHROMIUM_ARGS, free_port, health_ok

__all__ = ["CHROMIUM", "CHROMIUM_ARGS", "free_port", "health_ok"]

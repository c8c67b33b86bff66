"""Time from "server ready" to "first page rendered", in a real browser.

    python -m bench first-render [--servers 3] [--reloads 3]

For each of --servers fresh `streamlit run app.py` processes: wait for /_stcore/health, then
open / in headless Chromium and time until the Train page's title is shown and the script run
has ended (the page is complete, not a skeleton). torch and the app's modules are imported
while the server starts (app.py's lifespan, before the health check answers), so that first
visit pays only the first script run. Then --reloads more visits in new browser contexts (new
sessions) on the same server. Prints every figure (and the server's start-up time), then the
median and the worst.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.browser import free_port, health_ok, launch_chromium

REPO = Path(__file__).resolve().parents[1]  # where app.py is
DESCRIPTION = "Time from a fresh server's health check to the first complete page, in Chromium."

RENDERED_JS = """() => {
    const app = document.querySelector('[data-testid="stApp"]');
    const h1 = document.querySelector('[data-testid="stMain"] h1');
    return !!app && app.getAttribute('data-test-script-state') === 'notRunning'
        && !!h1 && h1.textContent.includes('Train a model')
        && !document.querySelector('[data-testid="stSkeleton"]');
}"""


def _start_server(runs: Path) -> tuple[subprocess.Popen, str, float]:
    port = free_port()
    env = {**os.environ, "MNIST_RUNS_DIR": str(runs), "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
           "--server.port", str(port), "--server.address", "127.0.0.1",
           "--server.fileWatcherType", "none"]  # fmt: skip
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    while not health_ok(url):
        if proc.poll() is not None or time.perf_counter() - t0 > 120:
            raise SystemExit("the server did not start")
        time.sleep(0.05)
    return proc, url, time.perf_counter() - t0


def _visit(browser, url: str) -> float:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    t0 = time.perf_counter()
    page.goto(url + "/")
    page.wait_for_function(RENDERED_JS, timeout=60_000, polling=20)
    took = time.perf_counter() - t0
    context.close()
    return took


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The options of `python -m bench first-render`."""
    p.add_argument("--servers", type=int, default=3, help="fresh servers to start (default 3)")
    p.add_argument(
        "--reloads",
        type=int,
        default=3,
        help="more sessions per server after its first (default 3)",
    )


def run(args: argparse.Namespace) -> int:
    """Start the servers one after another, visit each, print every figure and the summary."""
    # Imported here: Playwright is a development requirement, the other tools run without it.
    from playwright.sync_api import sync_playwright

    first, later = [], []
    with sync_playwright() as pw, tempfile.TemporaryDirectory() as tmp:
        browser = launch_chromium(pw)
        for i in range(args.servers):
            proc, url, start_s = _start_server(Path(tmp) / f"runs{i}")
            try:
                first.append(_visit(browser, url))
                print(f"server {i + 1}: ready after {start_s:.2f} s; first page {first[-1]:.2f} s")
                for _ in range(args.reloads):
                    later.append(_visit(browser, url))
                    print(f"    a new session: {later[-1]:.2f} s")
            finally:
                proc.terminate()
                proc.wait(timeout=20)
        browser.close()
    print(
        f"first visit after the server is ready: median {statistics.median(first):.2f} s, "
        f"worst {max(first):.2f} s (n={len(first)})"
    )
    if later:
        print(
            f"later sessions: median {statistics.median(later):.2f} s, "
            f"worst {max(later):.2f} s (n={len(later)})"
        )
    return 0

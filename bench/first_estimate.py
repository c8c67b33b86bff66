"""The time estimate a fresh server shows before its first run, against that run, in Chromium.

    python -m bench first-estimate [--setups lenet5 mlp speednet]

For each setup: a new `streamlit run app.py` (nothing measured yet), /train opened with the
setup's link, then the Train page's "Estimated time" is awaited as a visitor sees it: whether
it appeared by itself, and after how long (a page that never shows it within --wait seconds is
reloaded, as a visitor would, and that is said). Then Start, and the wall time from the click
to "Finished". Prints estimate, actual and their ratio per setup (issue 27, item 2: the first
estimate on a fresh server was 3-5x too long, and showed only after a setting changed).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.browser import free_port, health_ok, launch_chromium
from mnist_core.errors import ConfigError, MnistError

REPO = Path(__file__).resolve().parents[1]
DESCRIPTION = "A fresh server's first time estimate vs the run it estimates, in Chromium."

# name -> the Train page's link parameters (each a run of one to two minutes here)
SETUPS: dict[str, str] = {
    "lenet5": "model=lenet5&epochs=1",
    "mlp": "model=mlp&epochs=4",
    "speednet": "preset=speedrun",
    "resnet": "model=resnet&epochs=1&train_subset=20000",
}
ESTIMATE = re.compile(r"Estimated time: about ([\d.]+) (s|min)")
READY_JS = """() => {
    const app = document.querySelector('[data-testid="stApp"]');
    return !!app && app.getAttribute('data-test-script-state') === 'notRunning'
        && !!document.querySelector('[data-testid="stMain"] h1');
}"""


class BenchFailed(MnistError):
    """The benchmark could not go on."""


def _seconds(match: re.Match[str]) -> float:
    value = float(match.group(1))
    return value * 60 if match.group(2) == "min" else value


def _one(setup: str, wait_s: float) -> dict[str, object]:
    from playwright.sync_api import sync_playwright

    port = free_port()
    runs = Path(tempfile.mkdtemp(prefix="mnist-first-estimate-"))
    env = {**os.environ, "MNIST_RUNS_DIR": str(runs), "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
           "--server.port", str(port), "--server.address", "127.0.0.1",
           "--server.fileWatcherType", "none"]  # fmt: skip
    proc = subprocess.Popen(
        cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while not health_ok(url):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise BenchFailed("The app did not start.")
            time.sleep(0.3)
        with sync_playwright() as pw:
            browser = launch_chromium(pw)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            t0 = time.perf_counter()
            page.goto(f"{url}/train?{SETUPS[setup]}")
            page.wait_for_function(READY_JS, timeout=120_000, polling=100)
            by_itself, found = True, None
            while found is None:
                found = ESTIMATE.search(page.get_by_test_id("stMain").inner_text())
                if found is None and time.perf_counter() - t0 > wait_s:
                    if not by_itself:
                        raise BenchFailed(f"{setup}: no estimate even after a reload.")
                    by_itself = False
                    page.reload()
                    page.wait_for_function(READY_JS, timeout=120_000, polling=100)
                    t0 = time.perf_counter()
                elif found is None:
                    page.wait_for_timeout(200)
            shown_after = time.perf_counter() - t0
            estimate = _seconds(found)
            main = page.get_by_test_id("stMain")
            main.get_by_role("button", name="Start training").click()
            pressed = time.perf_counter()
            main.locator("h2, h3, h4").filter(
                has_text=re.compile(r"(Finished|Stopped|Failed|Diverged)\s*$")
            ).first.wait_for(timeout=900_000)
            actual = time.perf_counter() - pressed
            browser.close()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
    return {
        "setup": setup,
        "estimate_s": estimate,
        "actual_s": actual,
        "ratio": estimate / actual,
        "by_itself": by_itself,
        "shown_after_s": shown_after,
    }


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--setups", nargs="+", default=["lenet5", "mlp", "speednet"])
    p.add_argument("--wait", type=float, default=20.0, help="seconds before a reload")


def run(args: argparse.Namespace) -> int:
    unknown = [s for s in args.setups if s not in SETUPS]
    if unknown:
        raise ConfigError(f"Unknown setup(s) {unknown}: choose from {', '.join(SETUPS)}.")
    print(f"machine: {os.cpu_count()} cores; a fresh server per setup")
    print(f"{'setup':<10} {'estimate':>9} {'actual':>8} {'ratio':>6}  shown")
    for setup in args.setups:
        r = _one(setup, args.wait)
        shown = (
            f"by itself after {r['shown_after_s']:.1f} s"
            if r["by_itself"]
            else f"only after a reload ({args.wait:.0f} s without)"
        )
        print(
            f"{setup:<10} {r['estimate_s']:>8.0f}s {r['actual_s']:>7.0f}s {r['ratio']:>6.2f}  "
            f"{shown}",
            flush=True,
        )
    return 0

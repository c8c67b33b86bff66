"""Driving the app in a real browser, shared by the benchmarks that use one and the end-to-end
tests (tests/e2e): which Chromium to launch and how, a free local port, and Streamlit's health
check.

The browser: $E2E_CHROMIUM when set, else Debian's Chromium at /usr/bin/chromium where it
exists (these machines: Playwright cannot download a browser here), else Playwright's own
Chromium (`python -m playwright install chromium`: a laptop with macOS, Windows or another
Linux)."""

from __future__ import annotations

import math
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

from mnist_core.errors import MnistError

START_TIMEOUT_S = 300.0  # a server's start-up on a busy 2-core machine: torch's import and more

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


class AppDidNotStart(MnistError):
    """`streamlit run app.py` ended or stayed silent during start-up: its log says why."""


def start_app(
    repo: Path, runs: Path, log: Path, *, join: Callable[[int], None] | None = None
) -> tuple[subprocess.Popen, str]:
    """`streamlit run app.py` of `repo` on a free local port, its runs in `runs`, its output in
    `log`; returns (process, url) once its health check answers (AppDidNotStart after 5 min).
    It starts a session of its own, so `stop_app` stops its training workers with it; `join`
    is called with its pid before it imports anything (a cgroup's `join`: bench/cgroup.py)."""
    port = free_port()
    env = {**os.environ, "MNIST_RUNS_DIR": str(runs), "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
           "--server.port", str(port), "--server.address", "127.0.0.1",
           "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"]  # fmt: skip
    with log.open("w") as out:
        proc = subprocess.Popen(
            cmd,
            cwd=repo,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=(lambda: join(os.getpid())) if join is not None else None,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + START_TIMEOUT_S
    while not health_ok(url):
        if proc.poll() is not None or time.monotonic() > deadline:
            stop_app(proc)
            raise AppDidNotStart(f"The app did not start: see {log}.")
        time.sleep(0.3)
    return proc, url


def stop_app(proc: subprocess.Popen) -> None:
    """Stop a server of `start_app` and its workers (SIGTERM, SIGKILL after 30 s)."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    except ProcessLookupError:
        pass


# What one browser tab and its Streamlit server say to each other, read from the websocket:
# the browser's rerun requests (BackMsg.rerun_script, with is_auto_rerun for a live panel's
# timer) and the server's script runs (ForwardMsg.new_session starts one, script_finished ends
# it). Waiting on these, a test or a benchmark knows whether a click reached the server at
# all, and which run answered it, where the page's "running" attribute misses a run that
# starts while another one is still running (the attribute never leaves "running").
@dataclass
class RunLog:
    # In order: ("request", is_auto_rerun), ("start", False), ("end", True if the run ended
    # on its own: not interrupted by a newer request, st.rerun or st.switch_page).
    events: list[tuple[str, bool]] = field(default_factory=list)

    def on_sent(self, payload: bytes | str) -> None:
        if isinstance(payload, str):
            return
        msg = BackMsg()
        msg.ParseFromString(payload)
        if msg.WhichOneof("type") == "rerun_script":
            self.events.append(("request", msg.rerun_script.is_auto_rerun))

    def on_received(self, payload: bytes | str) -> None:
        if isinstance(payload, str):
            return
        msg = ForwardMsg()
        msg.ParseFromString(payload)
        kind = msg.WhichOneof("type")
        if kind == "new_session":
            self.events.append(("start", False))
        elif kind == "script_finished":
            early = msg.script_finished == ForwardMsg.ScriptFinishedStatus.FINISHED_EARLY_FOR_RERUN
            self.events.append(("end", not early))

    def answered(self, since: int) -> str:
        """After event `since`: "none" before the browser asked for a rerun, "asked" once it
        has, "answered" once a run that started after the request has ended on its own (a run
        cut short, e.g. by `st.switch_page`, is followed by the one that answers)."""
        later = self.events[since:]
        asked = next((i for i, (k, auto) in enumerate(later) if k == "request" and not auto), None)
        if asked is None:
            return "none"
        started = next((i for i, (k, _) in enumerate(later) if i > asked and k == "start"), None)
        if started is None:
            return "asked"
        ended = any(k == "end" and whole for i, (k, whole) in enumerate(later) if i > started)
        return "answered" if ended else "asked"


# The Draw page's pad, which receives the pointer (ui/draw/pad.js); before issue 29 it was
# streamlit-drawable-canvas's top layer, which `bench feel --repo` still finds in older commits.
PAD = "canvas.mnist-pad"
PAD_ANY_VERSION = f"{PAD}, canvas.dc-canvas.upper-canvas"

# Digits as strokes in canvas fractions (x to the right, y down).
DIGIT_STROKES: dict[str, list[list[tuple[float, float]]]] = {
    "1": [[(0.5, 0.15), (0.5, 0.85)]],
    "0": [
        [
            (
                0.5 + 0.2 * math.sin(2 * math.pi * i / 40),
                0.5 - 0.32 * math.cos(2 * math.pi * i / 40),
            )
            for i in range(41)
        ]
    ],
    "7": [[(0.27, 0.2), (0.73, 0.2), (0.42, 0.85)]],
}

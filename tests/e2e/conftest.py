"""End-to-end fixtures: a real Streamlit server and Debian's Chromium driven by Playwright.

    streamlit_server  one `streamlit run app.py` for the whole e2e run (session scope), with
                      MNIST_DATA_DIR (real data), MNIST_RUNS_DIR (a temp dir) and MNIST_MAX_JOBS=1
    start_server      factory for an extra server (e.g. a fresh one); stopped at session end
    browser           headless Chromium launched by Playwright (bench/browser.py), session scope
    st                a new browser context (= a new Streamlit session) wrapped in `StApp`
    new_st            factory for more contexts (several visitors at once)

Nothing here skips: a missing browser or server start-up failure fails the test with advice
(a skipped test would be counted as a pass). Screenshots and the server log go to
artifacts/e2e/ (git-ignored).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from e2e_browser import (
    DIGIT_STROKES,
    PAD,
    BrowserNotFound,
    RunLog,
    free_port,
    health_ok,
    launch_chromium,
)
from playwright.sync_api import expect

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "artifacts" / "e2e"
SERVER_START_TIMEOUT_S = 90.0  # the machine is small and shared: be patient
DEFAULT_TIMEOUT_MS = 30_000
VIEWPORT = {"width": 1400, "height": 1400}

# The app is idle when no script run is in progress and no widget is still a loading skeleton.
# It must stay so for `ms` milliseconds: right after a click the rerun has not started yet.
_IDLE_JS = """(ms) => {
    const app = document.querySelector('[data-testid="stApp"]');
    const idle = !!app
        && app.getAttribute('data-test-script-state') === 'notRunning'
        && app.getAttribute('data-test-connection-state') === 'CONNECTED'
        && !document.querySelector('[data-testid="stSkeleton"]');
    if (!idle) { window.__e2eIdleSince = null; return false; }
    const now = performance.now();
    if (window.__e2eIdleSince == null) window.__e2eIdleSince = now;
    return now - window.__e2eIdleSince >= ms;
}"""


# A status badge ends the heading of a run on the Train page.
_STATUS_AT_END = re.compile(
    r"(Queued|Running|Paused|Stopping|Finished|Stopped|Failed|Diverged)\s*$"
)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_")[:120]


# --- the Streamlit server ---------------------------------------------------------------------


@dataclass
class StreamlitServer:
    url: str
    port: int
    runs_dir: Path
    log_path: Path
    proc: subprocess.Popen
    env: dict[str, str] = field(repr=False)

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def log_tail(self, n: int = 60) -> str:
        return "\n".join(self.log_text().splitlines()[-n:])

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


def launch_server(
    name: str, runs_dir: Path, data_dir: Path, **env_overrides: str
) -> StreamlitServer:
    """Start `streamlit run app.py` on a free port and wait for its health check."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    runs_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = {
        **os.environ,
        "MNIST_DATA_DIR": str(data_dir),
        "MNIST_RUNS_DIR": str(runs_dir),
        "MNIST_MAX_JOBS": "1",
        "PYTHONUNBUFFERED": "1",
        **env_overrides,
    }
    cmd = [
        sys.executable, "-m", "streamlit", "run", "app.py",
        "--server.headless", "true",
        "--server.port", str(port),
        "--server.address", "127.0.0.1",
        "--browser.gatherUsageStats", "false",
        "--server.fileWatcherType", "none",  # the app under test must not reload mid-run
        "--server.runOnSave", "false",
    ]  # fmt: skip
    log_path = ARTIFACTS / f"server-{name}.log"
    log = log_path.open("w")
    proc = subprocess.Popen(
        cmd, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
    )
    log.close()
    server = StreamlitServer(f"http://127.0.0.1:{port}", port, runs_dir, log_path, proc, env)
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(
                f"streamlit run app.py exited with code {proc.returncode} during start-up. "
                f"Log ({log_path}):\n{server.log_tail()}",
                pytrace=False,
            )
        if health_ok(server.url):
            return server
        time.sleep(0.25)
    server.stop()
    pytest.fail(
        f"streamlit run app.py did not answer {server.url}/_stcore/health within "
        f"{SERVER_START_TIMEOUT_S:.0f} s. Log ({log_path}):\n{server.log_tail()}",
        pytrace=False,
    )


@pytest.fixture(scope="session")
def start_server(
    mnist_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[..., StreamlitServer]]:
    """Factory: start_server(name, runs_dir=None, **env) -> a running server (on a new runs
    folder unless one is given: a restart), stopped at the end of the run."""
    servers: list[StreamlitServer] = []

    def start(name: str, runs_dir: Path | None = None, **env: str) -> StreamlitServer:
        runs = runs_dir or tmp_path_factory.mktemp(f"runs-{name}")
        server = launch_server(name, runs, mnist_dir, **env)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture(scope="session")
def streamlit_server(start_server: Callable[..., StreamlitServer]) -> StreamlitServer:
    """The app, served once for the whole e2e run (MNIST_MAX_JOBS=1)."""
    return start_server("main", MNIST_MAX_JOBS="1")


# A log record: "<date> <time> [LEVEL ]..." (the app's format names the level, Streamlit's not).
_LOG_RECORD = re.compile(
    r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d[.,]\d+ (?:(DEBUG|INFO|WARNING|ERROR|CRITICAL) )?"
)


def server_errors(log: str) -> list[str]:
    """Errors in a piece of the server log: ERROR/CRITICAL records, Streamlit's uncaught
    exceptions, and tracebacks that no INFO/WARNING record owns (e.g. a crashed thread).
    A traceback attached to a WARNING (an expected failure, such as a bad upload) is fine."""
    problems: list[str] = []
    level: str | None = None
    for line in log.splitlines():
        record = _LOG_RECORD.match(line)
        if record:
            level = record.group(1)
            if level in ("ERROR", "CRITICAL") or "Uncaught app execution" in line:
                problems.append(line.strip())
        elif line.startswith("Exception in thread"):
            level = None
            problems.append(line.strip())
        elif line.startswith("Traceback (most recent call last)") and level is None:
            problems.append(line.strip())
    return problems


# --- the browser ------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """Headless Chromium: $E2E_CHROMIUM, else /usr/bin/chromium, else Playwright's own build
    (`bench.browser.launch_chromium`). None of them: the tests fail with the install advice."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        try:
            b = launch_chromium(p)
        except BrowserNotFound as e:
            pytest.fail(str(e), pytrace=False)
        try:
            yield b
        finally:
            b.close()


# --- a visitor: one browser context = one Streamlit session -----------------------------------


class StApp:
    """One visitor of the app (a browser context and its page), with Streamlit-aware helpers."""

    def __init__(self, page, server: StreamlitServer, name: str) -> None:
        self.page = page
        self.server = server
        self.name = name
        self.page_errors: list[str] = []
        page.on("pageerror", lambda e: self.page_errors.append(str(e)))
        self.runs = RunLog()
        page.on("websocket", self._watch)

    def _watch(self, ws) -> None:
        if "/_stcore/stream" in ws.url:
            ws.on("framesent", self.runs.on_sent)
            ws.on("framereceived", self.runs.on_received)

    def moved_to(self, server: StreamlitServer) -> StApp:
        """The same visitor (this page, its cookies) on another server, e.g. a restarted one."""
        self.server = server
        return self

    def new_tab(self, name: str) -> StApp:
        """Another tab of the same browser (same context, so the same cookies): a new
        Streamlit session of the same visitor. Closed with the context."""
        return StApp(self.page.context.new_page(), self.server, f"{self.name}-{name}")

    # -- navigation and waiting --

    def open(self, path: str = "") -> StApp:
        """Load the app at `path` (a new Streamlit session) and wait for its first run to end
        and the page to settle. (Waiting for the page to look idle alone could return before
        that run had begun on a busy server, and a test then clicked a half-drawn page.)"""
        self.after_rerun(
            lambda: self.page.goto(f"{self.server.url}/{path.lstrip('/')}"), timeout_ms=60_000
        )
        return self

    def wait_idle(self, settle_ms: int = 300, timeout: float = DEFAULT_TIMEOUT_MS) -> None:
        """Wait until no script run is in progress and nothing is loading, for `settle_ms`."""
        self.page.wait_for_function(_IDLE_JS, arg=settle_ms, timeout=timeout, polling=100)

    def after_rerun(
        self, action: Callable[[], object], timeout_ms: float = DEFAULT_TIMEOUT_MS
    ) -> None:
        """Do `action`, which makes the app rerun, then wait for the run that answers it to end
        and the page to settle. `wait_idle` alone can return before the rerun begins: a slider
        sends its value only after a debounce, and on a busy machine the run can start more
        than `settle_ms` later. Fails saying which side lost it: the browser never asked for a
        rerun (the action did not reach the widget), or the server never answered."""
        # A round trip first: websocket events that happened before the action but had not yet
        # reached this process would otherwise count as after it (a rerun asked for earlier,
        # and the run that answered it, taken for the answer to this action).
        self.page.evaluate("0")
        since = len(self.runs.events)
        action()
        deadline = time.monotonic() + timeout_ms / 1000
        state = self.runs.answered(since)
        while state != "answered" and time.monotonic() < deadline:
            self.page.wait_for_timeout(50)  # lets Playwright deliver the websocket events
            state = self.runs.answered(since)
        if state == "none":
            pytest.fail(
                f"{self.name}: the browser sent no rerun request within "
                f"{timeout_ms / 1000:.0f} s of the action: it did not reach the widget. "
                f"Websocket events since: {self.runs.events[since:]}",
                pytrace=True,
            )
        if state == "asked":
            pytest.fail(
                f"{self.name}: the browser asked for a rerun but no run answered it within "
                f"{timeout_ms / 1000:.0f} s. Websocket events since: "
                f"{self.runs.events[since:]}",
                pytrace=True,
            )
        self.wait_idle(timeout=timeout_ms)

    def enter(self, box, text: str) -> None:
        """Type `text` into a text or number input and press Enter, then wait for the run that
        answers it (none when the box holds `text` already: Streamlit sends nothing then)."""
        if box.input_value() == text:
            return
        box.fill(text)
        self.after_rerun(lambda: box.press("Enter"))

    def upload(self, uploader, files) -> None:
        """Give the st.file_uploader `uploader` files (paths or payload dicts) and wait until
        the app has run with them.

        The uploader sends the file with an HTTP PUT and asks for a rerun only when the PUT has
        finished; until then no script runs, so `wait_idle` returns at once and a check can
        pass on what the page showed for the previous file. A page-link click sent just before
        that rerun request is then lost: Streamlit folds the two pending rerun requests into
        one and keeps the later one's page (this page), so the navigation never happens."""

        def put() -> None:
            with self.page.expect_response(
                lambda r: "/_stcore/upload_file/" in r.url and r.request.method == "PUT"
            ):
                uploader.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(files)

        self.after_rerun(put)

    def nav(self, title: str, path: str | None = None) -> None:
        """Go to another page through the sidebar (keeps the Streamlit session); `path`: its
        URL path when that is not the title in lower case ("" for Start here, at the root)."""
        link = self.page.get_by_test_id("stSidebarNav").get_by_role("link", name=title)
        self.after_rerun(link.click, timeout_ms=60_000)
        self.page.wait_for_function(
            "(path) => window.location.pathname.endsWith(path)",
            arg=f"/{title.lower() if path is None else path}",
        )

    # -- finding things --

    @property
    def main(self):
        return self.page.get_by_test_id("stMain")

    @property
    def sidebar(self):
        return self.page.get_by_test_id("stSidebar")

    def keyed(self, key: str):
        """The element created with `key=...` (Streamlit gives it the class st-key-<key>)."""
        return self.page.locator(f".st-key-{key}")

    def metric(self, label: str):
        """The value of the st.metric labelled exactly `label`."""
        label_re = re.compile(rf"^\s*{re.escape(label)}\s*$")
        return (
            self.page.get_by_test_id("stMetric")
            .filter(has=self.page.get_by_test_id("stMetricLabel").filter(has_text=label_re))
            .get_by_test_id("stMetricValue")
        )

    def selectbox(self, label: str, within=None):
        """The selectbox labelled exactly `label`."""
        scope = within if within is not None else self.page
        label_re = re.compile(rf"^\s*{re.escape(label)}\s*$")
        return scope.get_by_test_id("stSelectbox").filter(
            has=self.page.get_by_test_id("stWidgetLabel").filter(has_text=label_re)
        )

    def selected(self, label: str, within=None) -> str:
        """The text of the option a selectbox shows."""
        return self.selectbox(label, within).get_by_role("combobox").input_value()

    def select_option(self, label: str, option: str | re.Pattern, within=None) -> None:
        """Open the selectbox labelled `label`, click the option matching `option` and wait for
        the run that answers it (none when it was chosen already: the list just closes)."""
        self.selectbox(label, within).get_by_role("combobox").click()
        choice = self.page.get_by_role("option").filter(has_text=option).first
        if choice.get_attribute("aria-selected") == "true":
            self.page.keyboard.press("Escape")
            self.wait_idle()
            return
        self.after_rerun(choice.click)

    def options_of(self, label: str, within=None) -> list[str]:
        """The option texts of a selectbox (opens and closes it)."""
        self.selectbox(label, within).get_by_role("combobox").click()
        opts = self.page.get_by_role("option")
        opts.first.wait_for()
        texts = [t.strip() for t in opts.all_inner_texts()]
        self.page.keyboard.press("Escape")
        return texts

    def button(self, name: str | re.Pattern, within=None):
        scope = within if within is not None else self.page
        return scope.get_by_role("button", name=name)

    def plotly_points(self, key: str) -> int:
        """How many data points the plotly chart with this key draws (0 when it is absent)."""
        return int(
            self.page.evaluate(
                """(key) => {
                    const divs = document.querySelectorAll(`.st-key-${key} .js-plotly-plot`);
                    if (!divs.length) return 0;
                    const d = divs[divs.length - 1];
                    return (d.data || []).reduce((n, t) => n + ((t.x || []).length), 0);
                }""",
                key,
            )
        )

    # -- the Train page --

    @property
    def job_heading(self):
        """The Train page's heading of the current run: its name and a status badge."""
        return self.main.locator("h2, h3, h4").filter(has_text=_STATUS_AT_END).first

    def start_training(
        self, architecture: str, *, quick: bool, run_name: str, epochs: int | None = None
    ) -> None:
        """On the Train page: choose the architecture (and the Quick look preset, and a number
        of epochs if given), name the run and press Start training."""
        if self.selected("Architecture", within=self.sidebar) != architecture:
            self.select_option("Architecture", architecture, within=self.sidebar)
        if quick:
            self.after_rerun(self.button("Quick look", within=self.sidebar).click)
            expect(self.sidebar).to_contain_text("Current settings: Quick look")
            self.wait_idle()
        if epochs is not None:
            box = self.sidebar.get_by_label("Epochs", exact=True)
            self.enter(box, str(epochs))
            expect(box).to_have_value(str(epochs))
        self.enter(self.main.get_by_label("Run name (optional)"), run_name)
        self.button("Start training", within=self.main).click()
        expect(self.job_heading).to_contain_text(run_name)

    def stop_training(self) -> None:
        """Press the Train page's Stop button if it is there and enabled; wait for the end."""
        stop = self.main.get_by_role("button", name="Stop", exact=True)
        if stop.count() and stop.first.is_enabled():
            stop.first.click()
            expect(stop.first).to_be_disabled(timeout=30_000)

    # -- checks and artifacts --

    def errors_on_page(self) -> list[str]:
        """Exception boxes, and the app's own 'Something went wrong' apologies."""
        texts = self.page.get_by_test_id("stException").all_inner_texts()
        texts += [
            t
            for t in self.page.get_by_test_id("stAlertContentError").all_inner_texts()
            if "went wrong" in t or "Traceback" in t
        ]
        return texts

    def assert_no_errors(self) -> None:
        errors = self.errors_on_page()
        assert not errors, f"{self.name}: the page shows an error: {errors}"
        body = self.main.inner_text()
        assert "Traceback (most recent call last)" not in body, body[-2000:]

    def shot(self, label: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{_slug(self.name)}--{_slug(label)}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    # -- the drawing canvas --

    @property
    def canvas(self):
        """The Draw page's pad (ui/draw/pad.js)."""
        return self.main.locator(PAD).first

    def draw(self, strokes: Sequence[Sequence[tuple[float, float]]], steps: int = 6) -> None:
        """Draw strokes given as points in [0, 1]² of the canvas, with mouse moves."""
        self.canvas.scroll_into_view_if_needed()
        box = self.canvas.bounding_box()
        assert box is not None, "the drawing canvas is not visible"

        def at(pt: tuple[float, float]) -> tuple[float, float]:
            return box["x"] + pt[0] * box["width"], box["y"] + pt[1] * box["height"]

        mouse = self.page.mouse
        for stroke in strokes:
            mouse.move(*at(stroke[0]))
            mouse.down()
            for pt in stroke[1:]:
                mouse.move(*at(pt), steps=steps)
            mouse.up()

    def draw_digit(self, digit: str) -> None:
        self.draw(DIGIT_STROKES[digit])

    def ink_pixels(self) -> int:
        """Bright pixels on the pad (0 for an empty one: white ink on black)."""
        return int(
            self.main.locator(PAD).first.evaluate(
                """(c) => {
                    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                    let n = 0;
                    for (let i = 0; i < d.length; i += 4) if (d[i] > 128 && d[i + 3] > 128) n++;
                    return n;
                }"""
            )
        )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test under tests/e2e is an `e2e` test, marked or not."""
    here = Path(__file__).parent
    for item in items:
        if item.path.is_relative_to(here):
            item.add_marker(pytest.mark.e2e)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    rep = yield
    setattr(item, f"rep_{rep.when}", rep)
    return rep


@pytest.fixture
def new_st(
    browser, streamlit_server: StreamlitServer, request: pytest.FixtureRequest
) -> Iterator[Callable[..., StApp]]:
    """Factory: new_st(name, server=...) -> a new visitor; screenshots of each at the end."""
    visitors: list[tuple[StApp, object]] = []
    log_start = len(streamlit_server.log_text())

    def make(
        name: str = "", server: StreamlitServer | None = None, viewport: dict | None = None
    ) -> StApp:
        """`viewport`: e.g. {"width": 390, "height": 844}, a phone (touch, mobile), else
        VIEWPORT."""
        phone = viewport is not None and viewport["width"] < 640
        context = browser.new_context(
            viewport=viewport or VIEWPORT, accept_downloads=True, is_mobile=phone, has_touch=phone
        )
        context.set_default_timeout(DEFAULT_TIMEOUT_MS)
        page = context.new_page()
        label = request.node.name + (f"-{name}" if name else "")
        visitor = StApp(page, server or streamlit_server, label)
        visitors.append((visitor, context))
        return visitor

    yield make

    failed = bool(getattr(request.node, "rep_call", None) and request.node.rep_call.failed)
    for visitor, context in visitors:
        with contextlib.suppress(Exception):
            visitor.shot("FAILED" if failed else "end")
        with contextlib.suppress(Exception):
            visitor.stop_training()  # a failed test must not leave a job holding the slot
        with contextlib.suppress(Exception):
            context.close()
    # The app logs unexpected errors (shown to people as a short apology) with a traceback.
    new_log = streamlit_server.log_text()[log_start:]
    problems = server_errors(new_log)
    if problems:
        message = (
            f"The server logged errors during this test: {problems}\n"
            f"Log ({streamlit_server.log_path}), this test's part:\n{new_log[-4000:]}"
        )
        if failed:
            print(message)  # shown with the failure's captured output
        else:
            pytest.fail(message, pytrace=False)


@pytest.fixture
def st(new_st: Callable[..., StApp]) -> StApp:
    """One visitor (a fresh Streamlit session)."""
    return new_st()


@pytest.fixture(scope="session", autouse=True)
def _clean_artifacts() -> None:
    """Start each e2e run with an empty screenshots folder (logs of this run are kept)."""
    if ARTIFACTS.is_dir():
        for png in ARTIFACTS.glob("*.png"):
            png.unlink()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)


# The README's screenshots are shots of these scenarios: `UPDATE_README_SHOTS=1 python -m pytest
# tests/e2e` copies them to docs/ when every e2e test passed.
README_SHOTS = {
    "train.png": "test_quick_lenet5_run_live_charts_then_model_everywhere--finished.png",
    "mistakes.png": "test_clicking_a_confusion_cell_filters_the_gallery--filtered-*.png",
    "draw.png": "test_drawn_digits_are_predicted_and_clear_empties--digit-7.png",
    "models.png": "test_quick_lenet5_run_live_charts_then_model_everywhere--on-models.png",
    "inside.png": "test_look_inside_a_drawn_7--map.png",
    "compare.png": "test_a_sweep_then_compare_two_of_its_runs--compare-two-runs.png",
}


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if os.environ.get("UPDATE_README_SHOTS") != "1" or exitstatus != 0:
        return
    docs = REPO / "docs"
    for target, pattern in README_SHOTS.items():
        found = sorted(ARTIFACTS.glob(pattern))
        if found:
            shutil.copyfile(found[0], docs / target)

"""Speed a person feels: the waits a visitor sees in the app, in headless Chromium.

    python -m bench feel [--repeats 5] [--only draw,switch] [--repo PATH] [--cloud] [--json F]

Each repeat is a round on a fresh `streamlit run app.py` (a temp MNIST_RUNS_DIR, MNIST_DATA_DIR
from the environment), so the figures that only a fresh server has (the first training run,
the first evaluation of each checkpoint, the first map of the test digits) come once a round.
In a round, in this order (`--only` picks sections):

  train     on Train, the Quick look preset: Start training -> the loss chart's first point,
            the round's first run (a fresh server) and WARM_RUNS more (warm);
  mistakes  Mistakes' first evaluation of each pretrained architecture: the page opened (its
            default model), then each other one chosen -> its confusion matrix shown;
  draw      on Draw, a 1, a 0 and a 7 drawn (Clear between them): the mouse let go -> the
            Prediction metric's text changed;
  inside    on Inside, a click on Attributions, Map (PCA), t-SNE, Layers -> the view drawn;
  switch    a click on each page in the sidebar -> its title shown and the app idle (Start here
            only where the app has it);
  compare   a visitor with 20 runs of a sweep (made once by `python -m mnist_core sweep`
            beforehand, copied into the visitor's folder): Models -> Compare drawn;
  race      the Race to 99% preset: Start -> the chart's 99% star (wall seconds), beside the
            run's own seconds of training to 99% that the star states.

Every click waits for the script run that answers it (read on the websocket, as the browser
tests do) and then for what a person looks for; a figure runs from just before the click (the
mouse let go, on Draw) until both hold, to about 20 ms. A stroke is timed in the page itself,
from its pointerup to the new prediction's text (STROKE_WATCH; the run may go on drawing below
it, and the next stroke still waits for it to end). Prints the
machine, the app's commit, then a table (section, what, median, worst, n); a part that the
measured app lacks (an older commit: `--repo /path/to/checkout`) reads "n/a (not in this
version)". `--cloud` runs the server under the hosted demo's caps (bench/cgroup.py, as
`bench cloud`; needs root).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bench.browser import (
    DIGIT_STROKES,
    PAD_ANY_VERSION,
    RunLog,
    launch_chromium,
    start_app,
    stop_app,
)
from mnist_core.errors import ConfigError, MnistError

REPO = Path(__file__).resolve().parents[1]
DESCRIPTION = (
    "Speed a person feels, in Chromium: stroke -> prediction, Start -> first chart point, page "
    "switches, Compare with 20 runs, Mistakes' first evaluations, Inside's views, the race."
)
SECTIONS = ("train", "mistakes", "draw", "inside", "switch", "compare", "race")
NOT_IN_VERSION = "n/a (not in this version)"
WARM_RUNS = 2  # Quick look runs after the first, per round
DIGITS = ("1", "0", "7")  # drawn in turn, Clear between: the prediction changes every time
COMPARE_RUNS = 20
CLOUD_MEMORY_MIB, CLOUD_CPUS = 1024, 1.0  # `bench cloud`'s defaults: the hosted demo's caps
VISITOR_COOKIE = "mnist_playground_visitor"  # ui/visitor.py: a visitor's id (32 hex digits)
STEP_TIMEOUT_S = 300.0  # one timed step on a busy 2-core machine (t-SNE, a cold evaluation)

# sidebar link -> the title (h1) its page shows
PAGES = {
    "Train": "Train a model",
    "Mistakes": "Mistakes",
    "Draw": "Draw a digit",
    "Inside": "Inside the network",
    "Models": "Models",
    "Compare": "Compare",
    "Start here": "Start here",
}
ARCHITECTURES = ("MLP", "LeNet-5", "ResNet", "SpeedNet")  # as the model pickers name them
ENDED = re.compile(r"(Finished|Stopped|Failed|Diverged)\s*$")


class BenchFailed(MnistError):
    """The benchmark could not go on (the app did not start, a step never completed)."""


class NotInVersion(Exception):
    """The measured app has no such page, control or model (an older commit)."""


# --- what the page shows, as JavaScript predicates (`arg`: the step's own value) --------------

# No script run in progress, connected, nothing still a loading skeleton.
_IDLE = """(() => {
    const app = document.querySelector('[data-testid="stApp"]');
    return !!app && app.getAttribute('data-test-script-state') === 'notRunning'
        && app.getAttribute('data-test-connection-state') === 'CONNECTED'
        && !document.querySelector('[data-testid="stSkeleton"]');
})()"""
_MAIN_TEXT = "(document.querySelector('[data-testid=\"stMain\"]') || {innerText: ''}).innerText"
_PLOT_POINTS = """((sel) => {
    const divs = document.querySelectorAll(sel + ' .js-plotly-plot');
    if (!divs.length) return 0;
    const d = divs[divs.length - 1];
    return (d.data || []).reduce((n, t) => n + ((t.x || []).length), 0);
})"""


def _idle_and(condition: str) -> str:
    return f"(arg) => {_IDLE} && ({condition})"


TITLE_SHOWN = _idle_and(
    "(() => { const h = document.querySelector('[data-testid=\"stMain\"] h1');"
    " return !!h && h.textContent.includes(arg); })()"
)
# Timed in the page, in its own clock: the last pointerup (the person's pen lifted) to the first
# change of the Prediction metric's text in the DOM after it (a MutationObserver). Read from
# Python instead, the figure held Playwright's own round trips, the mouse event's dispatch and
# the polling of the page, 40-150 ms here that no person waits for.
STROKE_WATCH = """() => {
    if (window.__feelStroke) return;
    const read = () => {
        const m = [...document.querySelectorAll('[data-testid="stMetric"]')].find((e) =>
            e.querySelector('[data-testid="stMetricLabel"]').innerText.trim() === 'Prediction');
        return m ? m.querySelector('[data-testid="stMetricValue"]').innerText.trim() : null;
    };
    const w = window.__feelStroke = {up: 0, shown: 0, at: null};
    document.addEventListener('pointerup', () => {
        w.up = performance.now(); w.shown = 0; w.at = read();
    }, true);
    new MutationObserver(() => {
        if (!w.up || w.shown) return;
        const now = read();
        if (now && now !== w.at) w.shown = performance.now();
    }).observe(document, {subtree: true, childList: true, characterData: true});
}"""
STROKE_SECONDS = "() => (window.__feelStroke.shown - window.__feelStroke.up) / 1000"
PREDICTION_CHANGED = """(old) => {
    const m = [...document.querySelectorAll('[data-testid="stMetric"]')].find((e) =>
        e.querySelector('[data-testid="stMetricLabel"]').innerText.trim() === 'Prediction');
    const v = m && m.querySelector('[data-testid="stMetricValue"]').innerText.trim();
    return !!v && v !== old && v;
}"""
# The run named `arg` is the one on the page, and its loss chart has a point (Plotly draws
# after the script run: this waits for the drawing, not for the data to arrive).
_HEADINGS = '[data-testid="stMain"] :is(h2, h3, h4)'  # a run's heading: name, status
FIRST_POINT = f"""(name) => {{
    const named = [...document.querySelectorAll('{_HEADINGS}')]
        .some((e) => e.innerText.includes(name));
    return named && {_PLOT_POINTS}('.st-key-train_loss_chart') > 0;
}}"""
CONFUSION_SHOWN = _idle_and(
    "!!document.querySelector(\"[class*='st-key-mistakes_confusion_'] .js-plotly-plot\")"
    f" && !{_MAIN_TEXT}.includes('Evaluating')"
)
LAYERS_SHOWN = _idle_and(
    "!!document.querySelector('.st-key-inside_probabilities .js-plotly-plot')"
    f" && /· [\\d,]+ parameters/.test({_MAIN_TEXT})"
)
ATTRIBUTIONS_SHOWN = _idle_and(
    "[...document.querySelectorAll('[data-testid=\"stImage\"]')].some((e) =>"
    " e.innerText.includes('Over the input')"
    " && (e.querySelector('img') || {naturalWidth: 0}).naturalWidth > 0)"
)
MAP_SHOWN = _idle_and(
    f"{_PLOT_POINTS}('.st-key-inside_map') > 0 && !{_MAIN_TEXT}.includes('Mapping the test')"
)
# The race's star: its words ("99.0% after 4.5 s of training"), or "ended" when the run ended
# without one (it did not reach 99%).
RACE_STAR = f"""(name) => {{
    const d = document.querySelector('.st-key-train_accuracy_chart .js-plotly-plot');
    const found = d && JSON.stringify(d.data || []).match(/99\\.0% after ([\\d.]+) s of training/);
    if (found) return found[1];
    const ended = [...document.querySelectorAll('{_HEADINGS}')].some((e) =>
        e.innerText.includes(name) && /(Finished|Stopped|Failed|Diverged)\\s*$/.test(e.innerText));
    return ended && {_IDLE} ? 'ended' : false;
}}"""


# --- the figures ---------------------------------------------------------------------------


@dataclass
class Row:
    """One line of the table: a section's measurement, its seconds, or why there are none."""

    section: str
    what: str
    seconds: list[float] = field(default_factory=list)
    note: str = ""

    @property
    def median(self) -> float | None:
        return statistics.median(self.seconds) if self.seconds else None

    @property
    def worst(self) -> float | None:
        return max(self.seconds) if self.seconds else None


class Figures:
    """The rows in the order they were first met (a section's rows stay together)."""

    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], Row] = {}

    def row(self, section: str, what: str) -> Row:
        return self.rows.setdefault((section, what), Row(section, what))

    def add(self, section: str, what: str, seconds: float) -> None:
        self.row(section, what).seconds.append(seconds)

    def missing(self, section: str, what: str, note: str = NOT_IN_VERSION) -> None:
        row = self.row(section, what)
        if not row.seconds:
            row.note = note


def format_table(rows: Sequence[Row]) -> str:
    """The plain table: section, what, median, worst, n (a note instead of figures)."""
    width = max([len(r.what) for r in rows] + [4])
    lines = [f"{'section':<9} {'what':<{width}} {'median':>8} {'worst':>8} {'n':>3}"]
    for r in rows:
        if r.seconds:
            figures = f"{r.median:>7.2f}s {r.worst:>7.2f}s {len(r.seconds):>3}"
        else:
            figures = r.note or "-"
        lines.append(f"{r.section:<9} {r.what:<{width}} {figures}")
    return "\n".join(lines)


def machine(repo: Path) -> dict[str, object]:
    """Where it ran (CPUs, torch, streamlit) and which commit of the app it measured."""
    import streamlit
    import torch

    model = platform.processor() or "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break

    def git(*args: str) -> str:
        # --no-optional-locks: `status` must not refresh the measured checkout's index
        cmd = ["git", "--no-optional-locks", "-C", str(repo), *args]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        return done.stdout.strip() if done.returncode == 0 else ""

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    if git("status", "--porcelain", "--untracked-files=no"):
        commit += " + uncommitted changes"
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "torch": torch.__version__,
        "streamlit": streamlit.__version__,
        "python": platform.python_version(),
        "repo": str(repo),
        "commit": commit,
    }


# --- the server ----------------------------------------------------------------------------


def _make_sweep(repo: Path, into: Path, log: Path) -> Path:
    """COMPARE_RUNS tiny MLP runs of one sweep, with `repo`'s own command line (its checkpoint
    format); returns the folder of their files."""
    grid = ["--grid", "lr=0.001,0.002,0.003,0.005,0.01", "--grid", "batch_size=32,64,128,256"]
    cmd = [sys.executable, "-m", "mnist_core", "sweep", "--model", "mlp", "--epochs", "1",
           "--train-subset", "500", "--val-size", "500", *grid, "--name", "feel sweep",
           "--runs-dir", str(into)]  # fmt: skip
    with log.open("w") as out:
        done = subprocess.run(cmd, cwd=repo, stdout=out, stderr=subprocess.STDOUT, check=False)
    folder = into / "cli"  # where `mnist_core sweep` saves (its owner "cli")
    if done.returncode != 0 or len(list(folder.glob("*.pt"))) < COMPARE_RUNS:
        raise BenchFailed(f"Making the {COMPARE_RUNS} runs for Compare failed: see {log}.")
    return folder


def _give_runs(repo: Path, runs: Path, visitor: str, sweep: Path) -> None:
    """Copy the sweep's files into `visitor`'s folder of `runs`, named as `repo`'s own code
    names it (a keyed hash of the cookie, with the key it keeps in the runs folder)."""
    code = (
        "import sys; from pathlib import Path;"
        "from mnist_core.storage.owners import owner_key, owner_of;"
        "print(owner_of(sys.argv[1], owner_key(Path(sys.argv[2]))))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, visitor, str(runs)],
        cwd=repo,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise NotInVersion(done.stderr.strip().splitlines()[-1:])
    shutil.copytree(sweep, runs / done.stdout.strip())


# --- a visitor -----------------------------------------------------------------------------


class Visitor:
    """One browser context (its own cookie, so its own runs) and its page."""

    def __init__(self, browser, url: str, name: str, cookie: str | None = None) -> None:
        self.url, self.name = url, name
        self.context = browser.new_context(viewport={"width": 1400, "height": 1000})
        self.context.set_default_timeout(STEP_TIMEOUT_S * 1000)
        if cookie is not None:
            self.context.add_cookies([{"name": VISITOR_COOKIE, "value": cookie, "url": url}])
        self.page = self.context.new_page()
        self.runs = RunLog()
        self.page.on("websocket", self._watch)

    def _watch(self, ws) -> None:
        if "/_stcore/stream" in ws.url:
            ws.on("framesent", self.runs.on_sent)
            ws.on("framereceived", self.runs.on_received)

    @property
    def main(self):
        return self.page.get_by_test_id("stMain")

    @property
    def sidebar(self):
        return self.page.get_by_test_id("stSidebar")

    def press(self, target) -> Callable[[], object]:
        """A click on `target` (a locator) as a person's: found, scrolled to and measured
        now, so that the click later is one mouse event. Playwright's own `click` first waits
        for the element to be visible and stable over animation frames, 50-150 ms here that no
        person waits for, and that a timed step would count."""
        target.scroll_into_view_if_needed()
        box = target.bounding_box()
        if box is None:
            raise BenchFailed(f"{self.name}: {target} is not on the page.")
        x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        return lambda: self.page.mouse.click(x, y)

    def timed(self, action: Callable[[], object], ready_js: str, arg: object = None):
        """Do `action` (which makes the app rerun); wait for the run that answers it to end and
        for `ready_js(arg)` to hold. Returns (seconds from the action, what ready_js gave)."""
        self.page.evaluate("0")  # a round trip: earlier websocket events are in before `since`
        since = len(self.runs.events)
        t0 = time.perf_counter()
        action()
        deadline = t0 + STEP_TIMEOUT_S
        while self.runs.answered(since) != "answered":
            if time.perf_counter() > deadline:
                raise BenchFailed(f"{self.name}: no run answered within {STEP_TIMEOUT_S:.0f} s.")
            self.page.wait_for_timeout(20)  # lets Playwright deliver the websocket events
        left_ms = max(1.0, deadline - time.perf_counter()) * 1000
        got = self.page.wait_for_function(ready_js, arg=arg, timeout=left_ms, polling=20)
        return time.perf_counter() - t0, got.json_value()

    def shown(self, action: Callable[[], object], ready_js: str, arg: object = None) -> float:
        """Do `action`; seconds until `ready_js(arg)` holds, whether or not the run that
        answers it has ended (it may go on to draw what lies further down), which is then
        waited for untimed. For a `ready_js` that only the answer can make true."""
        self.page.evaluate("0")
        since = len(self.runs.events)
        t0 = time.perf_counter()
        action()
        self.page.wait_for_function(ready_js, arg=arg, timeout=STEP_TIMEOUT_S * 1000, polling=20)
        seconds = time.perf_counter() - t0
        deadline = time.perf_counter() + STEP_TIMEOUT_S
        while self.runs.answered(since) != "answered":
            if time.perf_counter() > deadline:
                raise BenchFailed(f"{self.name}: no run answered within {STEP_TIMEOUT_S:.0f} s.")
            self.page.wait_for_timeout(20)
        return seconds

    def settle(self, action: Callable[[], object], ready_js: str = _idle_and("true"), arg=None):
        """`timed`, for a step that is not measured."""
        self.timed(action, ready_js, arg)

    def open(self, path: str) -> None:
        self.settle(lambda: self.page.goto(f"{self.url}/{path.lstrip('/')}"))

    def link(self, title: str):
        """The sidebar's link to the page `title`; NotInVersion when the app has none."""
        link = self.page.get_by_test_id("stSidebarNav").get_by_role("link", name=title, exact=True)
        if link.count() == 0:
            raise NotInVersion(title)
        return link.first

    def nav(self, title: str) -> float:
        """Click the page `title` in the sidebar; seconds until its title shows, idle."""
        link = self.link(title)
        return self.timed(self.press(link), TITLE_SHOWN, PAGES[title])[0]

    def on_page(self, title: str) -> bool:
        h1 = self.main.locator("h1")
        return h1.count() > 0 and PAGES[title] in h1.first.inner_text()

    def button(self, name: str, within) -> object:
        found = within.get_by_role("button", name=name)
        if found.count() == 0:
            raise NotInVersion(name)
        return found.first

    def start_run(self, preset: str, name: str, ready_js: str):
        """On Train: the sidebar's `preset` button, the run's name, then Start training,
        timed until `ready_js(name)`."""
        if not self.on_page("Train"):
            self.nav("Train")
        self.settle(self.button(preset, self.sidebar).click)
        box = self.main.get_by_label("Run name (optional)")
        if box.count():  # keeps this run apart from the previous one on the page
            box.fill(name)
            self.settle(lambda: box.press("Enter"))
        start = self.button("Start training", self.main)
        return self.timed(self.press(start), ready_js, name)

    def wait_run_end(self, name: str) -> None:
        """Until the run `name` has ended (one job at a time: the next must not queue)."""
        self.main.locator("h2, h3, h4").filter(has_text=name).filter(has_text=ENDED).first.wait_for(
            timeout=STEP_TIMEOUT_S * 1000
        )

    def select(self, label: str, option: str | re.Pattern, ready_js: str) -> float:
        """Choose `option` in the selectbox `label`; seconds until `ready_js` holds."""
        self.selectbox(label).get_by_role("combobox").click()
        choice = self.page.get_by_role("option").filter(has_text=option).first
        return self.timed(self.press(choice), ready_js)[0]

    def selectbox(self, label: str):
        label_re = re.compile(rf"^\s*{re.escape(label)}\s*$")
        return self.main.get_by_test_id("stSelectbox").filter(
            has=self.page.get_by_test_id("stWidgetLabel").filter(has_text=label_re)
        )

    def options(self, label: str) -> list[str]:
        """The option texts of the selectbox `label` (opens and closes it)."""
        self.selectbox(label).get_by_role("combobox").click()
        found = self.page.get_by_role("option")
        found.first.wait_for()
        texts = [t.strip() for t in found.all_inner_texts()]
        self.page.keyboard.press("Escape")
        return texts

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.context.close()


# --- the sections --------------------------------------------------------------------------


def _draw(v: Visitor, digit: str) -> float:
    """Draw `digit` on Draw's canvas; seconds from the mouse let go to a new prediction, in the
    page's clock (STROKE_WATCH)."""
    canvas = v.main.locator(PAD_ANY_VERSION).first
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    if box is None:
        raise BenchFailed("The Draw page's canvas is not visible.")
    old = v.page.evaluate(PREDICTION_CHANGED, "\0") or ""
    mouse = v.page.mouse
    strokes = DIGIT_STROKES[digit]
    for i, stroke in enumerate(strokes):
        points = [(box["x"] + x * box["width"], box["y"] + y * box["height"]) for x, y in stroke]
        mouse.move(*points[0])
        mouse.down()
        for pt in points[1:]:
            mouse.move(*pt, steps=6)
        if i < len(strokes) - 1:
            mouse.up()
    # the canvas sends the drawing when the mouse is let go: the person's wait starts there,
    # and ends when the new prediction shows (the run may go on below it)
    v.page.evaluate(STROKE_WATCH)
    v.shown(mouse.up, PREDICTION_CHANGED, old)
    return float(v.page.evaluate(STROKE_SECONDS))


def section_draw(v: Visitor, fig: Figures) -> None:
    v.nav("Draw")
    v.main.locator(PAD_ANY_VERSION).first.wait_for()
    for digit in DIGITS:
        fig.add("draw", "stroke -> prediction", _draw(v, digit))
        v.settle(v.button("Clear", v.main).click)


def section_train(v: Visitor, fig: Figures, round_: int) -> None:
    for i in range(1 + WARM_RUNS):
        name = f"feel quick {round_}-{i}"
        seconds, _ = v.start_run("Quick look", name, FIRST_POINT)
        what = "Start -> first chart point, " + ("first run" if i == 0 else "warm")
        fig.add("train", what, seconds)
        v.wait_run_end(name)


def section_mistakes(v: Visitor, fig: Figures) -> None:
    opened = v.timed(v.press(v.link("Mistakes")), CONFUSION_SHOWN)[0]
    shown = v.selectbox("Model").get_by_role("combobox").input_value()
    options = v.options("Model")
    done = set()
    for arch in ARCHITECTURES:  # the table's order, whichever the page opens on
        fig.row("mistakes", f"first evaluation, {arch}")
    for arch in ARCHITECTURES:
        if arch in shown and "pretrained" in shown.lower():
            fig.add("mistakes", f"first evaluation, {arch}", opened)
            done.add(arch)
    for arch in ARCHITECTURES:
        if arch in done:
            continue
        what = f"first evaluation, {arch}"
        option = next((o for o in options if arch in o and "pretrained" in o.lower()), None)
        if option is None:
            fig.missing("mistakes", what, "n/a (no pretrained one shipped)")
            continue
        fig.add("mistakes", what, v.select("Model", option, CONFUSION_SHOWN))


def section_inside(v: Visitor, fig: Figures) -> None:
    if not v.on_page("Inside"):
        v.nav("Inside")
    v.main.get_by_role("tab", name="Layers").wait_for()

    def tab(name: str, ready_js: str, what: str) -> None:
        found = v.main.get_by_role("tab", name=name)
        if found.count() == 0:
            fig.missing("inside", what)
            return
        fig.add("inside", what, v.timed(v.press(found.first), ready_js)[0])

    tab("Attributions", ATTRIBUTIONS_SHOWN, "Attributions")
    tab("Map", MAP_SHOWN, "Map, PCA (first on the server)")
    control = v.main.get_by_test_id("stButtonGroup").filter(has_text="PCA")
    tsne = control.locator("button", has_text="t-SNE")
    if tsne.count():
        fig.add("inside", "Map, t-SNE (first)", v.timed(v.press(tsne.first), MAP_SHOWN)[0])
        pca = control.locator("button", has_text="PCA")
        fig.add("inside", "Map, back to PCA", v.timed(v.press(pca.first), MAP_SHOWN)[0])
    else:
        fig.missing("inside", "Map, t-SNE (first)")
    tab("Layers", LAYERS_SHOWN, "Layers")


def section_switch(v: Visitor, fig: Figures) -> None:
    for title in PAGES:
        what = f"-> {title}"
        try:
            link = v.link(title)
        except NotInVersion:
            fig.missing("switch", what)
            continue
        if v.on_page(title):  # a switch needs another page to start from
            v.nav("Models" if title != "Models" else "Draw")
        fig.add("switch", what, v.timed(v.press(link), TITLE_SHOWN, PAGES[title])[0])


def section_compare(v: Visitor, fig: Figures) -> None:
    v.nav("Models")
    fig.add("compare", f"Models -> Compare, {COMPARE_RUNS} runs", v.nav("Compare"))


def section_race(v: Visitor, fig: Figures, round_: int) -> None:
    name = f"feel race {round_}"
    try:
        seconds, star = v.start_run("Race to 99%", name, RACE_STAR)
    except NotInVersion:
        fig.missing("race", "Start -> 99% star (wall)")
        return
    if star == "ended":
        fig.missing("race", "Start -> 99% star (wall)", "the run ended below 99%")
    else:
        fig.add("race", "Start -> 99% star (wall)", seconds)
        fig.add("race", "training seconds to 99% (the star's)", float(star))
    v.wait_run_end(name)


# --- a round on a fresh server -------------------------------------------------------------


def _round(
    browser, url: str, sections: Sequence[str], fig: Figures, round_: int, cookie: str | None,
    shots: Path,
) -> list[str]:  # fmt: skip
    """Every chosen section once on the server at `url`; the sections that failed, and why."""
    trainer = Visitor(browser, url, "trainer")
    looker = Visitor(browser, url, "looker")  # no runs of its own: the pickers show pretrained
    comparer = Visitor(browser, url, "comparer", cookie) if cookie else None
    steps: dict[str, tuple[Visitor | None, Callable[[], None]]] = {
        "train": (trainer, lambda: section_train(trainer, fig, round_)),
        "mistakes": (looker, lambda: section_mistakes(looker, fig)),
        "draw": (looker, lambda: section_draw(looker, fig)),
        "inside": (looker, lambda: section_inside(looker, fig)),
        "switch": (looker, lambda: section_switch(looker, fig)),
        "compare": (comparer, lambda: section_compare(comparer, fig)),  # type: ignore[arg-type]
        "race": (trainer, lambda: section_race(trainer, fig, round_)),
    }
    failed = []
    for name in sections:
        visitor, step = steps[name]
        try:
            if visitor is None:
                raise NotInVersion(name)
            if not visitor.runs.events:
                visitor.open("/")
            step()
        except NotInVersion as e:
            fig.missing(name, f"({e})")
        except Exception as e:  # one section's failure must not lose the others' figures
            shot = shots / f"round{round_}-{name}.png"
            with contextlib.suppress(Exception):
                visitor.page.screenshot(path=str(shot), full_page=True)  # type: ignore[union-attr]
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            failed.append(f"round {round_}, {name}: {first} (screenshot {shot})")
            print(f"  {failed[-1]}", file=sys.stderr, flush=True)
    for v in (trainer, looker, comparer):
        if v is not None:
            v.close()
    return failed


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The options of `python -m bench feel`."""
    p.add_argument("--repeats", type=int, default=5, help="rounds, each on a fresh server")
    p.add_argument(
        "--only", default=",".join(SECTIONS), help=f"sections, from {','.join(SECTIONS)}"
    )
    p.add_argument("--repo", type=Path, default=REPO, help="the checkout whose app to measure")
    p.add_argument("--cloud", action="store_true", help="the server under the hosted caps")
    p.add_argument("--json", type=Path, default=None, help="also write the figures here")
    p.add_argument("--out", type=Path, default=None, help="folder for server logs, screenshots")


def parse_sections(text: str) -> list[str]:
    """--only's sections, in the order a round runs them; ConfigError for an unknown one."""
    chosen = [s.strip() for s in text.split(",") if s.strip()]
    unknown = [s for s in chosen if s not in SECTIONS]
    if unknown or not chosen:
        raise ConfigError(f"Unknown section(s) {unknown}: choose from {', '.join(SECTIONS)}.")
    return [s for s in SECTIONS if s in chosen]


def run(args: argparse.Namespace) -> int:
    """Run the rounds, print the machine and the table, write --json."""
    sections = parse_sections(args.only)
    if args.repeats < 1:
        raise ConfigError("--repeats must be at least 1.")
    repo = args.repo.resolve()
    if not (repo / "app.py").is_file():
        raise ConfigError(f"--repo {args.repo}: no app.py there.")
    from playwright.sync_api import sync_playwright  # a development requirement

    from bench.cgroup import CappedGroup

    out = args.out or Path(tempfile.mkdtemp(prefix="mnist-feel-"))
    out.mkdir(parents=True, exist_ok=True)
    info = machine(repo)
    print(
        f"machine: {info['cpus']} CPUs ({info['cpu_model']}); torch {info['torch']}, "
        f"streamlit {info['streamlit']}; app {info['commit']} at {repo}"
        + (f"; under caps of {CLOUD_MEMORY_MIB} MiB, {CLOUD_CPUS:g} CPU" if args.cloud else ""),
        flush=True,
    )
    group = None
    if args.cloud:  # the server alone is capped, as the hosted demo's container
        group = CappedGroup(f"mnist-feel-{os.getpid()}", CLOUD_MEMORY_MIB, CLOUD_CPUS)
    fig, failed = Figures(), []
    t_start = time.perf_counter()
    try:
        sweep = None
        if "compare" in sections:
            print(f"making {COMPARE_RUNS} runs for Compare ...", flush=True)
            with contextlib.suppress(BenchFailed):
                sweep = _make_sweep(repo, out / "sweep", out / "sweep.log")
        with sync_playwright() as pw:
            browser = launch_chromium(pw)
            for i in range(1, args.repeats + 1):
                runs = out / f"runs{i}"
                runs.mkdir()
                cookie = None
                if sweep is not None:
                    cookie = secrets.token_hex(16)
                    with contextlib.suppress(NotInVersion):
                        _give_runs(repo, runs, cookie, sweep)
                proc, url = start_app(
                    repo, runs, out / f"server{i}.log", join=group.join if group else None
                )
                try:
                    print(f"round {i}/{args.repeats} ...", flush=True)
                    failed += _round(browser, url, sections, fig, i, cookie, out)
                finally:
                    stop_app(proc)
            browser.close()
    finally:
        if group is not None:
            group.remove()
    wall = time.perf_counter() - t_start
    rows = list(fig.rows.values())
    print(format_table(rows))
    print(f"{args.repeats} rounds in {wall / 60:.1f} min; logs and screenshots in {out}")
    for line in failed:
        print(f"failed: {line}")
    if args.json:
        report = {
            "machine": info,
            "settings": {"repeats": args.repeats, "sections": sections, "cloud": args.cloud},
            "wall_s": wall,
            "rows": [
                {
                    "section": r.section,
                    "what": r.what,
                    "seconds": r.seconds,
                    "median": r.median,
                    "worst": r.worst,
                    "n": len(r.seconds),
                    "note": r.note,
                }
                for r in rows
            ],
            "failed": failed,
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 1 if failed else 0

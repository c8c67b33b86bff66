"""The app as the hosted demo runs it: in one small container, with several visitors at once.

    sudo python -m bench cloud [--memory-mib 1024] [--cpus 1] [--no-race]

Starts `streamlit run app.py` inside a cgroup capped at --memory-mib and --cpus (Streamlit
Community Cloud gives an app 690 MB-2.7 GB and 0.078-2 CPUs, for all its visitors together;
bench/cgroup.py), then drives four visitors in headless Chromium, each in its own browser
context (its own cookie):
  1. on /train, trains a 1-epoch LeNet-5;
  2. meanwhile on /draw, draws a 0 and waits for the predictions;
  3. meanwhile on /inside, opens the default model;
  4. right after visitor 1's Start, on /train, starts a Quick look, which must queue, and
     never run while run 1 does (one job at a time on a CPU).
Then (unless --no-race) visitor 1 runs the Race to 99% preset alone.

Prints each page's first render (from `goto` to a complete page), the runs' seconds, the race's
seconds to 99.0% (from the chart's mark), errors on any page (exception boxes, "went wrong"
alerts, uncaught page errors) and tracebacks in the server's log, and memory: the peak PSS and
RSS of each process, the peak PSS of the whole tree at one instant, the cgroup's own peak (page
cache included), how often memory hit the limit and OOM kills. Needs root (it makes the cgroup).
"""

from __future__ import annotations

import argparse
import math
import os
import re
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.browser import PAD, launch_chromium, start_app, stop_app
from bench.cgroup import CappedGroup, MemorySampler
from mnist_core.errors import ConfigError, MnistError

REPO = Path(__file__).resolve().parents[1]
DESCRIPTION = "The app in a capped cgroup (1 GiB, 1 CPU) with four visitors in Chromium."

PAGE_READY_JS = """() => {
    const app = document.querySelector('[data-testid="stApp"]');
    return !!app && app.getAttribute('data-test-script-state') === 'notRunning'
        && app.getAttribute('data-test-connection-state') === 'CONNECTED'
        && !document.querySelector('[data-testid="stSkeleton"]')
        && !!document.querySelector('[data-testid="stMain"] h1');
}"""
RUN_HEADING = re.compile(r"(Queued|Running|Paused|Stopping|Finished|Stopped|Failed|Diverged)\s*$")
RACE_MARK = re.compile(r"99\.0% after ([\d.]+) s of training")
# A drawn 0: one closed stroke, in fractions of the canvas (x to the right, y down).
ZERO = [
    [
        (0.5 + 0.2 * math.sin(2 * math.pi * i / 40), 0.5 - 0.32 * math.cos(2 * math.pi * i / 40))
        for i in range(41)
    ]
]


class BenchFailed(MnistError):
    """The benchmark could not go on (the app did not start, a page never completed)."""


@dataclass
class Visitor:
    """One visitor: a browser context and its page, and what went wrong on it."""

    name: str
    page: object
    page_errors: list[str] = field(default_factory=list)
    first_render_s: dict[str, float] = field(default_factory=dict)
    run_name: str = ""

    def open(self, base: str, path: str, timeout_s: float = 180) -> None:
        t0 = time.perf_counter()
        self.page.goto(f"{base}{path}")
        self.page.wait_for_function(PAGE_READY_JS, timeout=timeout_s * 1000, polling=100)
        self.first_render_s[path.split("?")[0]] = time.perf_counter() - t0

    def errors(self) -> list[str]:
        texts = self.page.get_by_test_id("stException").all_inner_texts()
        alerts = self.page.get_by_test_id("stAlertContentError").all_inner_texts()
        texts += [t for t in alerts if "went wrong" in t or "Traceback" in t]
        return texts + self.page_errors

    def heading(self):
        """The heading of this visitor's latest run (its name and status badge)."""
        main = self.page.get_by_test_id("stMain")
        return (
            main.locator("h2, h3, h4")
            .filter(has_text=self.run_name)
            .filter(has_text=RUN_HEADING)
            .first
        )

    def start_run(self, name: str) -> float:
        """Name the run, press Start training; the moment it was pressed (perf_counter)."""
        main = self.page.get_by_test_id("stMain")
        box = main.get_by_label("Run name (optional)")
        box.fill(name)
        box.press("Enter")
        self.page.wait_for_timeout(300)
        self.page.wait_for_function(PAGE_READY_JS, timeout=120_000, polling=100)
        self.run_name = name
        main.get_by_role("button", name="Start training").click()
        t = time.perf_counter()
        self.heading().wait_for(timeout=120_000)
        return t

    def wait_status(self, pattern: str, timeout_s: float) -> float:
        """Wait until this run's heading ends with `pattern` (a regex); when (perf_counter)."""
        self.page.get_by_test_id("stMain").locator("h2, h3, h4").filter(
            has_text=self.run_name
        ).filter(has_text=re.compile(rf"({pattern})\s*$")).first.wait_for(timeout=timeout_s * 1000)
        return time.perf_counter()

    def draw(self, strokes: list[list[tuple[float, float]]]) -> None:
        canvas = self.page.locator(PAD).first
        canvas.scroll_into_view_if_needed()
        box = canvas.bounding_box()
        if box is None:
            raise BenchFailed("The Draw page's canvas is not visible.")
        mouse = self.page.mouse
        for stroke in strokes:
            xs = [(box["x"] + x * box["width"], box["y"] + y * box["height"]) for x, y in stroke]
            mouse.move(*xs[0])
            mouse.down()
            for pt in xs[1:]:
                mouse.move(*pt, steps=4)
            mouse.up()


class QueueWatch:
    """Visitor 1's run and visitor 4's, looked at now and then: whether 4 waited (Queued),
    whether both ran at once (they must not: one job at a time on a CPU), when each ended."""

    def __init__(self, first: Visitor, second: Visitor) -> None:
        self.first, self.second = first, second
        self.waited = self.overlap = False
        self._both_running = 0  # looks in a row that saw both running
        self.first_done: float = 0.0
        self.second_done: float = 0.0

    def look(self) -> bool:
        """Read both headings; True once both runs have ended."""
        ended = ("Finished", "Stopped", "Failed", "Diverged")
        one = self.first.heading().inner_text().rstrip()
        two = self.second.heading().inner_text().rstrip()
        now = time.perf_counter()
        self.waited = self.waited or two.endswith("Queued")
        # A heading redraws every second or two, later on a busy CPU: one look at both running
        # can be a stale heading; three in a row, a second apart, are not.
        both = one.endswith("Running") and two.endswith("Running")
        self._both_running = self._both_running + 1 if both else 0
        self.overlap = self.overlap or self._both_running >= 3
        if not self.first_done and one.endswith(ended):
            self.first_done = now
        if not self.second_done and two.endswith(ended):
            self.second_done = now
        return bool(self.first_done and self.second_done)


@dataclass
class Report:
    first_render_s: dict[str, float] = field(default_factory=dict)  # "visitor page" -> s
    run_s: float | None = None  # visitor 1's LeNet-5, Start pressed -> Finished
    queued_started_after_first: bool | None = None
    queued_run_s: float | None = None  # visitor 4's run, Start pressed -> Finished
    race_to_99_s: float | None = None  # training seconds to 99.0%, from the chart's mark
    race_wall_s: float | None = None
    drawn_answer_s: float | None = None  # stroke -> page idle with a prediction
    page_errors: dict[str, list[str]] = field(default_factory=dict)
    server_tracebacks: int = 0


def _drive(url: str, race: bool, report: Report, shots: Path) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = launch_chromium(pw)
        visitors: list[Visitor] = []

        def visitor(name: str) -> Visitor:
            page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
            v = Visitor(name, page)
            page.on("pageerror", lambda e: v.page_errors.append(str(e)))
            visitors.append(v)
            return v

        trainer, drawer, inside, second = (
            visitor(n) for n in ("1-train", "2-draw", "3-inside", "4-queue")
        )
        trainer.open(url, "/train?model=lenet5&epochs=1")
        started = trainer.start_run("cloud lenet5")
        second.open(url, "/train?preset=quick-look")
        second_pressed = second.start_run("cloud quick look")
        queue = QueueWatch(trainer, second)
        queue.look()

        drawer.open(url, "/draw")
        t = time.perf_counter()
        drawer.draw(ZERO)
        drawer.page.wait_for_timeout(300)
        drawer.page.wait_for_function(PAGE_READY_JS, timeout=120_000, polling=100)
        report.drawn_answer_s = time.perf_counter() - t
        queue.look()
        inside.open(url, "/inside")
        while not queue.look():
            if time.perf_counter() - started > 900:
                raise BenchFailed("The two runs did not end within 15 minutes.")
            time.sleep(1.0)
        report.run_s = queue.first_done - started
        report.queued_run_s = queue.second_done - second_pressed
        report.queued_started_after_first = queue.waited and not queue.overlap
        for v in visitors:
            v.page.screenshot(path=str(shots / f"{v.name}.png"), full_page=True)

        if race:
            trainer.open(url, "/train?preset=speedrun")
            pressed = trainer.start_run("cloud race")
            trainer.wait_status("Finished|Stopped|Failed", 900)
            report.race_wall_s = time.perf_counter() - pressed
            trainer.page.wait_for_timeout(1500)  # the chart's last refresh draws the mark
            found = RACE_MARK.search(trainer.page.content())
            report.race_to_99_s = float(found.group(1)) if found else None
            trainer.page.screenshot(path=str(shots / "race.png"), full_page=True)

        for v in visitors:
            for page_path, s in v.first_render_s.items():
                report.first_render_s[f"{v.name} {page_path}"] = s
            report.page_errors[v.name] = v.errors()
        browser.close()


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--memory-mib", type=int, default=1024, help="memory cap, default 1024")
    p.add_argument("--cpus", type=float, default=1.0, help="CPU quota, default 1")
    p.add_argument("--no-race", action="store_true", help="skip the Race to 99%% run")
    p.add_argument("--out", type=Path, default=None, help="folder for screenshots and the log")


def run(args: argparse.Namespace) -> int:
    if args.memory_mib < 256:
        raise ConfigError("--memory-mib must be at least 256: the server alone needs ~450 MiB.")
    if not 0.05 <= args.cpus <= 64:
        raise ConfigError("--cpus must be between 0.05 and 64.")
    out = args.out or Path(tempfile.mkdtemp(prefix="mnist-cloud-"))
    out.mkdir(parents=True, exist_ok=True)
    runs = out / "runs"
    group = CappedGroup(f"mnist-cloud-bench-{os.getpid()}", args.memory_mib, args.cpus)
    report = Report()
    proc = None
    try:
        with MemorySampler(group) as sampler:
            t0 = time.perf_counter()
            proc, url = start_app(REPO, runs, out / "server.log", join=group.join)
            start_s = time.perf_counter() - t0
            _drive(url, not args.no_race, report, out)
            stop_app(proc)
            proc = None
        peaks = sampler.peaks
        hits, kills, group_peak = group.limit_hits(), group.oom_kills(), group.peak_mib()
    finally:
        if proc is not None:
            stop_app(proc)
        group.remove()
    log = (out / "server.log").read_text(errors="replace")
    report.server_tracebacks = log.count("Traceback (most recent call last)")
    _print(args, report, peaks, start_s, hits, kills, group_peak, out)
    errors = sum(len(e) for e in report.page_errors.values()) + report.server_tracebacks
    return 1 if kills or errors else 0


def _print(args, report: Report, peaks, start_s, hits, kills, group_peak, out: Path) -> None:
    def s(x: float | None) -> str:
        return "-" if x is None else f"{x:.1f} s"

    print(f"cgroup: {args.memory_mib} MiB, {args.cpus:g} CPU; machine: {os.cpu_count()} cores")
    print(f"server start to health check: {start_s:.1f} s")
    print("first render (goto -> complete page):")
    for name, secs in report.first_render_s.items():
        print(f"  {name:<28} {secs:5.1f} s")
    print(f"stroke -> page idle (Draw, while visitor 1 trains): {s(report.drawn_answer_s)}")
    print(f"visitor 1, LeNet-5 1 epoch, Start -> Finished: {s(report.run_s)}")
    print(
        f"visitor 4, Quick look queued behind it, Start -> Finished: {s(report.queued_run_s)}; "
        f"queued and never ran beside run 1: {report.queued_started_after_first}"
    )
    if not args.no_race:
        print(
            f"Race to 99%: 99.0% after {s(report.race_to_99_s)} of training; "
            f"Start -> Finished {s(report.race_wall_s)}"
        )
    print("memory, peak per process (MiB):      PSS      RSS")
    for name, (pss, rss) in sorted(peaks.per_process.items()):
        print(f"  {name:<32} {pss:7.0f}  {rss:7.0f}")
    print(
        f"  whole tree at one instant          {peaks.tree_pss_mib:7.0f}  "
        f"{peaks.tree_rss_mib:7.0f}   ({peaks.samples} samples, every 0.25 s)"
    )
    print(f"cgroup peak (page cache included): {group_peak:.0f} MiB; limit hits: {hits}")
    print(f"OOM kills: {kills}")
    n_err = sum(len(e) for e in report.page_errors.values())
    print(f"errors on pages: {n_err}; tracebacks in the server log: {report.server_tracebacks}")
    for name, errs in report.page_errors.items():
        for e in errs:
            print(f"  {name}: {e[:200]}")
    print(f"screenshots and the server log: {out}")

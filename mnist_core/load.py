"""Load test of the engine: `python -m mnist_core.load`.

Simulates N browser sessions (default 20) for a bounded time against one `JobManager` and one
`ModelStore`, the way the Streamlit app shares them between every visitor of one server
process, and prints:

- jobs submitted and how they ended (finished, stopped, reaped after their lease, failed...);
- errors: any exception in a visitor (the first few with their traceback), consistency
  violations (a step count that went backwards, a done job that came back to life, more jobs
  running than `max_running`, a watched job reaped as abandoned...) and failed jobs;
- prediction latency p50/p95 (preprocess + predict of a drawn digit), separately for calls
  made while at least one job was training and while none was;
- memory: resident set size (VmRSS) sampled every second from /proc/self/status. The start
  figure is taken warm (after one short job per architecture, so it holds what any first run
  allocates once for good) with nothing running; the end figure at the deadline, when a job
  may be mid-training; the settled figure after the jobs under way then are stopped. The
  growth is settled minus start: what ten minutes of visitors left behind. Also the peak
  (VmHWM), the slope over the second half of the run (MB/min; growth that keeps going shows
  up there) and the RSS after a final gc.collect() and malloc_trim(0).

Targets on the 2-core CPU host (PASS/MISS printed; the exit status is 0 either way): zero
errors, prediction p95 under 50 ms while one job trains, memory growth under 200 MB over a
10-minute run.

Each visitor loops until the deadline with random think times (0.2-2 s). On each turn it
renews the lease of its jobs that are not done (as the app's sidebar and Train page do), reads
their snapshots (checking them against what it saw before), then does one of: submit a
"quick look" job (random architecture, 1000 images, 1-3 epochs) when it has none under way,
predict a drawn digit (a real MNIST test digit enlarged onto a 280x280 RGBA canvas; with a
pretrained model, or with `model_copy` of its own running job), stop its job, download a done
job's model from memory, or abandon the session (stop heartbeating and come back as a new
session, as when a browser tab is closed; the manager must reap those jobs after `lease_s`).

Torch threads: the manager limits each job thread to its share of the cores. Predictions run
in the visitors' threads, which (like Streamlit's script threads) start with torch's default:
the count most recently set by any thread. `--predict-threads N` pins them to N instead.
"""

from __future__ import annotations

import argparse
import gc
import itertools
import json
import random
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from torch import nn

from mnist_core.checkpoints import checkpoint_bytes
from mnist_core.config import TrainConfig
from mnist_core.data import MnistRaw, load_mnist
from mnist_core.errors import MnistError
from mnist_core.jobs import JobManager, JobSnapshot, set_thread_count
from mnist_core.memory import trim_heap
from mnist_core.models import list_models
from mnist_core.preprocess import predict, preprocess
from mnist_core.recipes import PRESETS
from mnist_core.settings import PACKAGED_PRETRAINED_DIR
from mnist_core.store import ModelStore

__all__ = ["LoadOptions", "format_report", "main", "run_load"]

CANVAS = 280  # the Draw page's canvas, in pixels
THINK_S = (0.2, 2.0)  # a visitor's pause between two actions, uniform
TARGET_P95_MS = 50.0
TARGET_GROWTH_MB = 200.0
TARGET_MINUTES = 10.0  # the memory target is stated over a run of this length
_SAMPLE_S = 1.0  # memory and scheduler sampling period
_KEEP_TRACEBACKS = 5  # errors kept in full (the rest are only counted)
_REAP_GRACE_S = 30.0  # an abandoned job still active this long after its lease: a violation

# What a visitor does after renewing its leases and reading its jobs, with relative weights.
# Submitting and stopping only happen when they make sense (see _Visitor._turn).
_ACTIONS: dict[str, float] = {
    "predict": 4.0,
    "submit": 1.5,
    "stop": 0.25,
    "download": 0.3,
    "abandon": 0.15,
    "idle": 1.0,
}


@dataclass(frozen=True)
class LoadOptions:
    """How to run the load test (the command-line options, as a function API)."""

    sessions: int = 20
    minutes: float = 10.0
    max_running: int = 1  # a CPU host trains one job at a time (see jobs.default_max_running)
    seed: int = 0
    lease_s: float = 20.0  # short enough that abandoned jobs are reaped within the run
    data_dir: str | None = None  # default: load_mnist's search ($MNIST_DATA_DIR, ...)
    pretrained_dir: str = str(PACKAGED_PRETRAINED_DIR)
    predict_threads: int = 0  # 0: leave torch's default in visitor threads, as the app does
    progress_every_s: float = 30.0  # a progress line on stderr this often (0: none)


# ---- shared bookkeeping ----------------------------------------------------------------------


@dataclass
class _Ledger:
    """Everything the visitors and the sampler record; one lock for all of it."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    actions: dict[str, int] = field(default_factory=dict)
    errors: list[dict[str, str]] = field(default_factory=list)  # first few, in full
    n_exceptions: int = 0
    n_violations: int = 0
    predict_busy_ms: list[float] = field(default_factory=list)
    predict_idle_ms: list[float] = field(default_factory=list)
    model_copy_ms: list[float] = field(default_factory=list)
    pretrained_hits: int = 0
    pretrained_total: int = 0
    submitted: set[str] = field(default_factory=set)
    status: dict[str, str] = field(default_factory=dict)  # job id -> latest status seen
    message: dict[str, str] = field(default_factory=dict)  # job id -> latest message seen
    failures: dict[str, str] = field(default_factory=dict)  # failed job id -> traceback
    abandoned: dict[str, float] = field(default_factory=dict)  # job id -> monotonic time
    reaped_after: dict[str, float] = field(default_factory=dict)  # job id -> s after abandon
    late_reaps: set[str] = field(default_factory=set)
    memory: list[tuple[float, float, float]] = field(default_factory=list)  # (t, rss, hwm) MB
    busy_samples: int = 0
    max_running_seen: int = 0

    def count(self, action: str) -> None:
        with self.lock:
            self.actions[action] = self.actions.get(action, 0) + 1

    def error(self, kind: str, message: str, tb: str = "") -> None:
        """Record an exception ("exception") or a consistency violation ("violation")."""
        with self.lock:
            if kind == "violation":
                self.n_violations += 1
            else:
                self.n_exceptions += 1
            if len(self.errors) < _KEEP_TRACEBACKS:
                self.errors.append({"kind": kind, "message": message, "traceback": tb})
        print(f"[load] {kind}: {message}", file=sys.stderr, flush=True)

    def observe(self, snap: JobSnapshot) -> None:
        """Remember the latest status of a job (whoever looked at it)."""
        with self.lock:
            self.status[snap.job_id] = snap.status
            self.message[snap.job_id] = snap.message
            if snap.status == "failed" and snap.job_id not in self.failures:
                self.failures[snap.job_id] = snap.traceback or snap.message
            since = self.abandoned.get(snap.job_id)
            if since is not None and snap.done and snap.job_id not in self.reaped_after:
                self.reaped_after[snap.job_id] = time.monotonic() - since


@dataclass
class _Seen:
    """What a visitor last saw of one of its jobs."""

    step: int
    n_steps: int
    n_epochs: int
    status: str
    done: bool


def _violations(snap: JobSnapshot, prev: _Seen | None) -> list[str]:
    """What is wrong with `snap`, alone and compared with the previous look at the job."""
    out: list[str] = []
    name = f"{snap.name} ({snap.job_id})"
    numbers = [m.step for m in snap.steps]
    if any(b <= a for a, b in itertools.pairwise(numbers)):
        out.append(f"{name}: step history not strictly increasing")
    if snap.step > snap.total_steps:
        out.append(f"{name}: step {snap.step} beyond total {snap.total_steps}")
    if snap.queue_position is not None and snap.status != "queued":
        out.append(f"{name}: queue position {snap.queue_position} while {snap.status}")
    if snap.status == "finished" and snap.checkpoint_id is None and snap.save_error is None:
        out.append(f"{name}: finished without a checkpoint id or a save error")
    if prev is not None:
        if snap.step < prev.step:
            out.append(f"{name}: step went backwards {prev.step} -> {snap.step}")
        if len(snap.steps) < prev.n_steps or len(snap.epochs) < prev.n_epochs:
            out.append(f"{name}: history shrank")
        if prev.done and (not snap.done or snap.status != prev.status):
            out.append(f"{name}: was {prev.status}, now {snap.status}")
    return out


# ---- one visitor -----------------------------------------------------------------------------


class _Visitor:
    """One simulated browser session; `run` loops until the deadline (or `halt` is set)."""

    def __init__(
        self,
        index: int,
        *,
        manager: JobManager,
        models: dict[str, nn.Module],
        raw: MnistRaw,
        ledger: _Ledger,
        options: LoadOptions,
        deadline: float,
        halt: threading.Event,
    ) -> None:
        self.index = index
        self.manager = manager
        self.models = models
        self.raw = raw
        self.ledger = ledger
        self.options = options
        self.deadline = deadline
        self.halt = halt
        self.rng = random.Random(options.seed * 100_003 + index)
        self.generation = 0
        self.owner = self._new_owner()
        self.seen: dict[str, _Seen] = {}  # this session's jobs, by id

    def _new_owner(self) -> str:
        self.generation += 1
        return f"visitor-{self.index:02d}-{self.generation}"  # a slug, as the store requires

    def run(self) -> None:
        if self.options.predict_threads:
            set_thread_count(self.options.predict_threads)
        while not self.halt.is_set():
            think = self.rng.uniform(*THINK_S)
            if self.halt.wait(min(think, max(0.0, self.deadline - time.monotonic()))):
                return
            if time.monotonic() >= self.deadline:
                return
            try:
                self._turn()
            except Exception as e:  # anything escaping the engine under load is an error
                self.ledger.error(
                    "exception",
                    f"{self.owner}: {type(e).__name__}: {e}",
                    traceback.format_exc(),
                )

    # ---- one turn: renew leases, look, then act ----------------------------------------------
    def _turn(self) -> None:
        pending = self._look()
        for job_id in pending:  # the app renews the lease of jobs that are not done
            self.manager.heartbeat(job_id)
            self.ledger.count("heartbeat")
        actions = dict(_ACTIONS)
        if pending:
            actions.pop("submit")  # the app's guard: one job under way per visitor
        else:
            actions.pop("stop")
        name = self.rng.choices(list(actions), weights=list(actions.values()))[0]
        if name == "predict":
            self._predict(pending)
        elif name == "submit":
            self._submit()
        elif name == "stop":
            self._stop(pending)
        elif name == "download":
            self._download()
        elif name == "abandon":
            self._abandon(pending)

    def _look(self) -> list[str]:
        """Read this session's jobs (list, then each pending one alone), check them against
        the previous look; returns the ids of jobs not done yet, newest first."""
        listing = self.manager.jobs(self.owner)
        self.ledger.count("snapshot")
        by_id = {s.job_id: s for s in listing}
        for job_id, prev in list(self.seen.items()):
            if job_id not in by_id:
                # Only the oldest done jobs beyond keep_finished are ever dropped.
                if not prev.done:
                    self.ledger.error("violation", f"{self.owner}: job {job_id} vanished")
                del self.seen[job_id]
        pending: list[str] = []
        for snap in listing:
            if not snap.done:
                snap = self.manager.snapshot(snap.job_id)  # what the Train page polls
                self.ledger.count("snapshot")
            self._check(snap)
            if not snap.done:
                pending.append(snap.job_id)
        return pending

    def _check(self, snap: JobSnapshot) -> None:
        self.ledger.observe(snap)
        for problem in _violations(snap, self.seen.get(snap.job_id)):
            self.ledger.error("violation", problem)
        if snap.done and "no heartbeat" in snap.message:
            # This session kept heartbeating this job: its lease must never have run out.
            prev = self.seen.get(snap.job_id)
            if prev is not None and not prev.done:
                self.ledger.error(
                    "violation", f"{snap.name} ({snap.job_id}) was reaped while watched"
                )
        self.seen[snap.job_id] = _Seen(
            snap.step, len(snap.steps), len(snap.epochs), snap.status, snap.done
        )

    # ---- actions -----------------------------------------------------------------------------
    def _submit(self) -> None:
        model = self.rng.choice(list_models())
        settings = {**PRESETS["quick look"], "epochs": self.rng.randint(1, 3)}
        config = TrainConfig.for_model(model, **settings, seed=self.rng.randrange(1000))
        job_id = self.manager.submit(config, owner=self.owner)
        self.ledger.count("submit")
        with self.ledger.lock:
            self.ledger.submitted.add(job_id)
        self._check(self.manager.snapshot(job_id))

    def _stop(self, pending: list[str]) -> None:
        job_id = pending[0]
        self.manager.stop(job_id)
        self.ledger.count("stop")
        if self.rng.random() < 0.2:  # a double click: the second stop must be harmless
            self.manager.stop(job_id)
        self._check(self.manager.snapshot(job_id))

    def _download(self) -> None:
        """Download the newest done job's model from memory, as the Train page offers."""
        done = [s for s in self.manager.jobs(self.owner) if s.done]
        if not done:
            return
        snap = done[0]  # the newest: never the one dropped from the history meanwhile
        ckpt = self.manager.checkpoint(snap.job_id)  # a stopped run is evaluated now, once
        self.ledger.count("download")
        if ckpt is None:
            # None is right for a run that never got a model (stopped before it started,
            # failed, diverged); a finished run keeps its model until it leaves the history.
            if snap.status == "finished":
                self.ledger.error("violation", f"{snap.name} finished but has no checkpoint")
            return
        if not checkpoint_bytes(ckpt):
            self.ledger.error("violation", f"{snap.name}: empty checkpoint bytes")

    def _abandon(self, pending: list[str]) -> None:
        """Close the tab: stop heartbeating, forget the jobs, come back as a new session."""
        now = time.monotonic()
        with self.ledger.lock:
            for job_id in pending:
                self.ledger.abandoned[job_id] = now
        self.ledger.count("abandon")
        self.seen.clear()
        self.owner = self._new_owner()

    def _predict(self, pending: list[str]) -> None:
        """Draw a random test digit on the canvas and predict it; with the live model of this
        session's running job one time in two when there is one, else a pretrained model."""
        index = self.rng.randrange(len(self.raw.test_labels))
        canvas = _canvas(self.raw.test_images[index].numpy(), self.rng)
        model: nn.Module | None = None
        if pending and self.rng.random() < 0.5:
            t0 = time.perf_counter()
            model = self.manager.model_copy(pending[0])  # None while its data loads
            if model is not None:
                elapsed = (time.perf_counter() - t0) * 1000
                with self.ledger.lock:
                    self.ledger.model_copy_ms.append(elapsed)
                self.ledger.count("model_copy")
        pretrained = model is None
        if model is None:
            model = self.models[self.rng.choice(sorted(self.models))]

        busy = self.manager.running_count() > 0
        t0 = time.perf_counter()
        result = preprocess(canvas)
        if result.empty or result.image is None:
            raise AssertionError(f"a drawn MNIST digit came out empty: {result.message}")
        probs = predict(model, result.image)
        elapsed = (time.perf_counter() - t0) * 1000
        busy = busy or self.manager.running_count() > 0  # training at either end: busy
        self.ledger.count("predict")
        if probs.shape != (10,) or not np.isfinite(probs).all():
            raise AssertionError(f"prediction of shape {probs.shape} or not finite")
        with self.ledger.lock:
            (self.ledger.predict_busy_ms if busy else self.ledger.predict_idle_ms).append(elapsed)
            if pretrained:
                self.ledger.pretrained_total += 1
                self.ledger.pretrained_hits += int(
                    int(probs.argmax()) == int(self.raw.test_labels[index])
                )


def _canvas(digit: np.ndarray, rng: random.Random) -> np.ndarray:
    """What the Draw page's canvas sends: (280, 280, 4) uint8 RGBA, white ink on opaque black;
    the 28x28 `digit` enlarged 6-10 times at a random place."""
    scale = rng.randint(6, 10)
    side = 28 * scale
    big = Image.fromarray(digit).resize((side, side), Image.Resampling.BILINEAR)
    gray = Image.new("L", (CANVAS, CANVAS), 0)
    gray.paste(big, (rng.randint(0, CANVAS - side), rng.randint(0, CANVAS - side)))
    g = np.asarray(gray)
    return np.dstack([g, g, g, np.full_like(g, 255)])


# ---- memory and scheduler sampling -------------------------------------------------------------


def _proc_status_mb() -> tuple[float, float]:
    """(VmRSS, VmHWM) of this process in MB (MiB), from /proc/self/status (Linux)."""
    values: dict[str, float] = {}
    try:
        with open("/proc/self/status") as f:
            for line in f:
                key, _, rest = line.partition(":")
                if key in ("VmRSS", "VmHWM"):
                    values[key] = int(rest.split()[0]) / 1024  # kB -> MiB
    except OSError:  # not Linux: fall back to the peak, which getrusage knows everywhere
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        peak = peak / 1024 if sys.platform == "darwin" else peak  # bytes on macOS
        return peak, peak
    return values.get("VmRSS", 0.0), values.get("VmHWM", 0.0)


class _Sampler(threading.Thread):
    """Every second: memory, how many jobs run (never above max_running), late reaps, and
    the status of every job (a job may leave the history before its visitor looks again)."""

    def __init__(self, manager: JobManager, ledger: _Ledger, options: LoadOptions) -> None:
        super().__init__(name="load-sampler", daemon=True)
        self.manager, self.ledger, self.options = manager, ledger, options
        self.halt = threading.Event()
        self.t0 = time.monotonic()
        self.next_progress = self.t0 + options.progress_every_s

    def run(self) -> None:
        while not self.halt.wait(_SAMPLE_S):
            try:
                self.sample()
            except Exception as e:
                self.ledger.error("exception", f"sampler: {e!r}", traceback.format_exc())

    def sample(self) -> None:
        now = time.monotonic()
        rss, hwm = _proc_status_mb()
        snaps = self.manager.jobs()  # one consistent view, taken under the manager's lock
        running = sum(1 for s in snaps if s.active)
        for snap in snaps:
            self.ledger.observe(snap)
        with self.ledger.lock:
            self.ledger.memory.append((now - self.t0, rss, hwm))
            self.ledger.busy_samples += running > 0
            self.ledger.max_running_seen = max(self.ledger.max_running_seen, running)
            late = [
                job_id
                for job_id, since in self.ledger.abandoned.items()
                if job_id not in self.ledger.reaped_after
                and job_id not in self.ledger.late_reaps
                and now - since > self.manager.lease_s + _REAP_GRACE_S
                and self.ledger.status.get(job_id) not in (None, *_DONE)
            ]
            self.ledger.late_reaps.update(late)
        if running > self.manager.max_running:
            self.ledger.error(
                "violation", f"{running} jobs running, max {self.manager.max_running}"
            )
        for job_id in late:
            self.ledger.error("violation", f"abandoned job {job_id} still active after its lease")
        if self.options.progress_every_s and now >= self.next_progress:
            self.next_progress = now + self.options.progress_every_s
            with self.ledger.lock:
                done = sum(1 for s in self.ledger.status.values() if s in _DONE)
                errors = self.ledger.n_exceptions + self.ledger.n_violations
                n_pred = len(self.ledger.predict_busy_ms) + len(self.ledger.predict_idle_ms)
            print(
                f"[load] {now - self.t0:6.0f} s: {len(self.ledger.submitted)} jobs submitted, "
                f"{done} done, {running} running; {n_pred} predictions; {errors} errors; "
                f"RSS {rss:.0f} MB",
                file=sys.stderr,
                flush=True,
            )


_DONE = ("finished", "stopped", "failed", "diverged")


# ---- the run -----------------------------------------------------------------------------------


def _pretrained_models(store: ModelStore) -> dict[str, nn.Module]:
    """Every pretrained checkpoint, loaded once and built as an eval-mode CPU model (the app
    keeps them in st.cache_resource and shares them between sessions the same way)."""
    models = {m.model: store.load(m.id).build_model() for m in store.list() if m.read_only}
    if not models:
        raise MnistError(
            f"No pretrained checkpoints in {store.pretrained_dir}: pass --pretrained-dir."
        )
    return models


def _percentiles(values: Sequence[float]) -> dict[str, float | int | None]:
    if not values:
        return {"n": 0, "p50": None, "p95": None, "max": None}
    arr = np.asarray(values, dtype=np.float64)
    return {
        "n": len(values),
        "p50": float(np.percentile(arr, 50)),
        "p95": float(np.percentile(arr, 95)),
        "max": float(arr.max()),
    }


def _slope_mb_per_min(samples: Sequence[tuple[float, float, float]]) -> float | None:
    """Least-squares slope of RSS over the second half of the samples, in MB per minute."""
    half = [(t, rss) for t, rss, _ in samples[len(samples) // 2 :]]
    if len(half) < 3:
        return None
    t = np.array([p[0] for p in half]) / 60.0
    y = np.array([p[1] for p in half])
    return float(np.polyfit(t, y, 1)[0])


def run_load(options: LoadOptions, *, log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Run the load test; returns the report (see `format_report`). MnistError when the data
    or the pretrained checkpoints are missing."""
    say = log or (lambda text: print(text, file=sys.stderr, flush=True))
    if options.sessions < 1 or options.minutes <= 0 or options.max_running < 1:
        raise MnistError("sessions and max_running must be at least 1, minutes positive.")
    raw = load_mnist(options.data_dir)
    ledger = _Ledger()
    with tempfile.TemporaryDirectory(prefix="mnist-load-", ignore_cleanup_errors=True) as runs:
        store = ModelStore(pretrained_dir=Path(options.pretrained_dir), runs_dir=Path(runs))
        models = _pretrained_models(store)
        manager = JobManager(
            options.max_running, data=lambda: raw, store=store, lease_s=options.lease_s
        )
        halt = threading.Event()
        say("[load] warming up: one short job per architecture, then the start figure")
        _warm_up(manager, models, raw)
        sampler = _Sampler(manager, ledger, options)
        sampler.sample()  # the start figure: warm, nothing running
        t_start = time.monotonic()
        deadline = t_start + options.minutes * 60.0
        visitors = [
            _Visitor(
                i,
                manager=manager,
                models=models,
                raw=raw,
                ledger=ledger,
                options=options,
                deadline=deadline,
                halt=halt,
            )
            for i in range(options.sessions)
        ]
        threads = [
            threading.Thread(target=v.run, name=f"load-visitor-{v.index}", daemon=True)
            for v in visitors
        ]
        say(
            f"[load] {options.sessions} sessions for {options.minutes:g} min, "
            f"max_running={manager.max_running}, lease {manager.lease_s:g} s, "
            f"{manager.threads_per_job} torch thread(s) per job"
        )
        sampler.start()
        for t in threads:
            t.start()
        try:
            for t in threads:
                t.join(max(0.0, deadline - time.monotonic()) + 120.0)
        finally:
            halt.set()  # also on Ctrl-C: visitors stop at their next pause
            for t in threads:
                t.join(30.0)
        duration = time.monotonic() - t_start
        stuck = [t.name for t in threads if t.is_alive()]
        if stuck:
            ledger.error("violation", f"visitors still busy 2 minutes after the end: {stuck}")
        sampler.halt.set()
        sampler.join(10.0)
        sampler.sample()  # the end figure, jobs still as they were at the deadline
        end_snaps = manager.jobs()
        under_way = sum(1 for s in end_snaps if not s.done)
        manager.shutdown(timeout=30.0)  # stops what is under way and waits for it to end
        settled, _ = _proc_status_mb()  # finished runs are still held, as for their visitors
        del manager, visitors, threads, sampler, models, store
    gc.collect()
    rss_after_gc, _ = _proc_status_mb()
    rss_after_trim = rss_after_gc if not trim_heap() else _proc_status_mb()[0]
    return _report(options, ledger, duration, under_way, settled, rss_after_gc, rss_after_trim)


def _warm_up(manager: JobManager, models: dict[str, nn.Module], raw: MnistRaw) -> None:
    """Train one short job per architecture and predict with each model, so that the start
    figure already holds what any first run allocates once for good (torch's thread pools
    and kernels, the first split of the data): the growth is then what the visitors add."""
    for name in models:
        config = TrainConfig.for_model(name, train_subset=1000, val_size=1000, epochs=1)
        job = manager.submit(config, owner="load-warm-up")
        manager.wait(job, timeout=300.0)
        manager.remove(job)
    digit = raw.test_images[0].float() / 255
    for model in models.values():
        predict(model, digit)


def _report(
    options: LoadOptions,
    ledger: _Ledger,
    duration: float,
    under_way: int,
    settled: float,
    rss_after_gc: float,
    rss_after_trim: float,
) -> dict[str, Any]:
    with ledger.lock:
        statuses = [ledger.status.get(j, "unknown") for j in ledger.submitted]
        messages = [ledger.message.get(j, "") for j in ledger.submitted]
        jobs = {
            "submitted": len(ledger.submitted),
            "finished": statuses.count("finished"),
            "stopped": sum(
                1
                for s, m in zip(statuses, messages, strict=True)
                if s == "stopped" and "no heartbeat" not in m
            ),
            "reaped": sum(
                1
                for s, m in zip(statuses, messages, strict=True)
                if s == "stopped" and "no heartbeat" in m
            ),
            "failed": statuses.count("failed"),
            "diverged": statuses.count("diverged"),
            "under_way_at_end": under_way,
        }
        failures = dict(ledger.failures)
        errors = list(ledger.errors)
        n_errors = ledger.n_exceptions + ledger.n_violations + len(failures)
        for job_id, tb in list(failures.items())[: max(0, _KEEP_TRACEBACKS - len(errors))]:
            errors.append({"kind": "job failed", "message": job_id, "traceback": tb})
        memory = list(ledger.memory)
        reap = list(ledger.reaped_after.values())
        abandoned_pending = len(ledger.abandoned)
        report: dict[str, Any] = {
            "options": asdict(options),
            "duration_s": duration,
            "jobs": jobs,
            "actions": dict(sorted(ledger.actions.items())),
            "errors": {
                "count": n_errors,
                "exceptions": ledger.n_exceptions,
                "violations": ledger.n_violations,
                "failed_jobs": len(failures),
                "first": errors,
            },
            "latency_ms": {
                "predict_training": _percentiles(ledger.predict_busy_ms),
                "predict_idle": _percentiles(ledger.predict_idle_ms),
                "model_copy": _percentiles(ledger.model_copy_ms),
            },
            "pretrained_accuracy": (
                ledger.pretrained_hits / ledger.pretrained_total
                if ledger.pretrained_total
                else None
            ),
            "training_busy_fraction": ledger.busy_samples / max(1, len(memory)),
            "max_running_seen": ledger.max_running_seen,
            "abandoned": {
                "pending_jobs": abandoned_pending,
                "reaped_in_run": len(reap),
                "max_s_to_reap": max(reap) if reap else None,
            },
        }
    start, end = memory[0][1], memory[-1][1]
    report["memory_mb"] = {
        "start": start,  # warm (see _warm_up), no job running
        "end": end,  # at the deadline: a job may be mid-training, with its working set
        "settled": settled,  # the jobs under way at the deadline stopped
        "growth": settled - start,  # what the run left behind
        "growth_at_deadline": end - start,
        "peak": max(hwm for _, _, hwm in memory),
        "after_gc": rss_after_gc,
        "after_malloc_trim": rss_after_trim,
        "slope_second_half_mb_per_min": _slope_mb_per_min(memory),
        "samples": len(memory),
    }
    p95 = report["latency_ms"]["predict_training"]["p95"]
    report["targets"] = [
        {"name": "errors", "value": n_errors, "limit": 0, "pass": n_errors == 0},
        {
            "name": "prediction p95 while training (ms)",
            "value": p95,
            "limit": TARGET_P95_MS,
            "pass": p95 is not None and p95 < TARGET_P95_MS,
        },
        {
            "name": f"memory growth over the run (MB; target over {TARGET_MINUTES:g} min)",
            "value": settled - start,
            "limit": TARGET_GROWTH_MB,
            "pass": settled - start < TARGET_GROWTH_MB,
        },
    ]
    return report


# ---- output ------------------------------------------------------------------------------------


def _fmt(value: float | None, spec: str = ".1f") -> str:
    return "-" if value is None else format(value, spec)


def format_report(report: dict[str, Any]) -> str:
    """The summary as a few plain-text tables."""
    o, j, e, lat, mem = (
        report["options"],
        report["jobs"],
        report["errors"],
        report["latency_ms"],
        report["memory_mb"],
    )
    lines = [
        f"MNIST Playground load test: {o['sessions']} sessions, {report['duration_s'] / 60:.1f} "
        f"min, max_running={o['max_running']}, lease {o['lease_s']:g} s, seed {o['seed']}",
        "",
        "Jobs        submitted {submitted}  finished {finished}  stopped {stopped}  "
        "reaped (abandoned) {reaped}  failed {failed}  diverged {diverged}  "
        "under way at the end {under_way_at_end}".format(**j),
        "Actions     " + "  ".join(f"{k} {v}" for k, v in report["actions"].items()),
        f"Abandoned   {report['abandoned']['pending_jobs']} jobs under way, "
        f"{report['abandoned']['reaped_in_run']} reaped in the run "
        f"(at most {_fmt(report['abandoned']['max_s_to_reap'])} s after leaving)",
        f"Training    a job was running in {report['training_busy_fraction']:.0%} of the "
        f"samples; at most {report['max_running_seen']} at once",
        f"Errors      {e['count']} (exceptions {e['exceptions']}, violations {e['violations']}, "
        f"failed jobs {e['failed_jobs']})",
        "",
        f"{'latency (ms)':<28}{'n':>7}{'p50':>9}{'p95':>9}{'max':>9}",
    ]
    for key, label in (
        ("predict_training", "predict, a job training"),
        ("predict_idle", "predict, no job training"),
        ("model_copy", "model_copy of a live job"),
    ):
        s = lat[key]
        lines.append(
            f"{label:<28}{s['n']:>7}{_fmt(s['p50']):>9}{_fmt(s['p95']):>9}{_fmt(s['max']):>9}"
        )
    acc = report["pretrained_accuracy"]
    lines += [
        f"(pretrained models got {_fmt(None if acc is None else acc * 100)}% of the drawn "
        "digits right)",
        "",
        f"Memory (MB) start (warm, idle) {mem['start']:.0f}  at the deadline {mem['end']:.0f} "
        f"({mem['growth_at_deadline']:+.0f})  settled {mem['settled']:.0f}  growth "
        f"{mem['growth']:+.0f}  peak {mem['peak']:.0f}",
        f"            slope over the second half "
        f"{_fmt(mem['slope_second_half_mb_per_min'], '+.1f')} MB/min",
        f"            after the run: {mem['after_gc']:.0f} after gc.collect(), "
        f"{mem['after_malloc_trim']:.0f} after malloc_trim(0)",
        "",
        "Targets",
    ]
    for t in report["targets"]:
        value = t["value"]
        shown = _fmt(value) if isinstance(value, float) or value is None else str(value)
        lines.append(
            f"  {'PASS' if t['pass'] else 'MISS'}  {t['name']}: {shown} (limit {t['limit']:g})"
        )
    if report["duration_s"] < TARGET_MINUTES * 60 - 1:
        lines.append(
            f"  (the memory target is stated over {TARGET_MINUTES:g} minutes; this run was "
            f"{report['duration_s'] / 60:.1f})"
        )
    for err in e["first"]:
        lines += ["", f"--- {err['kind']}: {err['message']}", err["traceback"].rstrip()]
    return "\n".join(lines)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m mnist_core.load",
        description="Simulate browser sessions against the engine; report errors, "
        "prediction latency and memory.",
    )
    d = LoadOptions()
    p.add_argument("--sessions", type=int, default=d.sessions, help="simulated visitors")
    p.add_argument("--minutes", type=float, default=d.minutes, help="how long to run")
    p.add_argument(
        "--max-running", type=int, default=d.max_running, help="jobs trained at the same time"
    )
    p.add_argument("--seed", type=int, default=d.seed, help="random seed of the visitors")
    p.add_argument(
        "--lease",
        type=float,
        default=d.lease_s,
        help="seconds without a heartbeat before a job is reaped; keep it well above the "
        "longest visitor turn (a few seconds)",
    )
    p.add_argument("--data-dir", default=None, help="MNIST folder (default: the usual search)")
    p.add_argument("--pretrained-dir", default=d.pretrained_dir, help="pretrained checkpoints")
    p.add_argument(
        "--predict-threads",
        type=int,
        default=0,
        help="torch threads for predictions in visitor threads (0: torch's default, as the app)",
    )
    p.add_argument("--json", metavar="PATH", help="also write the report as JSON here")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry: run, print the summary, write --json. 0 unless it could not run."""
    args = _parser().parse_args(argv)
    options = LoadOptions(
        sessions=args.sessions,
        minutes=args.minutes,
        max_running=args.max_running,
        seed=args.seed,
        lease_s=args.lease,
        data_dir=args.data_dir,
        pretrained_dir=args.pretrained_dir,
        predict_threads=args.predict_threads,
    )
    try:
        report = run_load(options)
    except MnistError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(format_report(report))
    if args.json:
        out = Path(args.json)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

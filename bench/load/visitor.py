"""One simulated browser session of the load test, and the digits it draws."""

from __future__ import annotations

import random
import threading
import time
import traceback

import numpy as np
from PIL import Image
from torch import nn

from bench.load.checks import Seen, violations
from bench.load.ledger import Ledger
from bench.load.options import LoadOptions
from mnist_core.data.mnist import MnistRaw
from mnist_core.digits.preprocess import preprocess
from mnist_core.jobs import JobManager, JobSnapshot
from mnist_core.machine import set_thread_count
from mnist_core.models import list_models
from mnist_core.models.inference import predict
from mnist_core.storage.checkpoints import checkpoint_bytes
from mnist_core.train.config import TrainConfig
from mnist_core.train.recipes import PRESETS

CANVAS = 280  # the Draw page's canvas, in pixels
THINK_S = (0.2, 2.0)  # a visitor's pause between two actions, uniform

# What a visitor does after renewing its leases and reading its jobs, with relative weights.
# Submitting and stopping only happen when they make sense (see Visitor._turn).
_ACTIONS: dict[str, float] = {
    "predict": 4.0,
    "submit": 1.5,
    "stop": 0.25,
    "download": 0.3,
    "abandon": 0.15,
    "idle": 1.0,
}


class Visitor:
    """One simulated browser session; `run` loops until the deadline (or `halt` is set)."""

    def __init__(
        self,
        index: int,
        *,
        manager: JobManager,
        models: dict[str, nn.Module],
        raw: MnistRaw,
        ledger: Ledger,
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
        self.seen: dict[str, Seen] = {}  # this session's jobs, by id

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
        for problem in violations(snap, self.seen.get(snap.job_id)):
            self.ledger.error("violation", problem)
        if snap.done and "no heartbeat" in snap.message:
            # This session kept heartbeating this job: its lease must never have run out.
            prev = self.seen.get(snap.job_id)
            if prev is not None and not prev.done:
                self.ledger.error(
                    "violation", f"{snap.name} ({snap.job_id}) was reaped while watched"
                )
        self.seen[snap.job_id] = Seen(
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
        canvas = draw_on_canvas(self.raw.test_images[index].numpy(), self.rng)
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


def draw_on_canvas(digit: np.ndarray, rng: random.Random) -> np.ndarray:
    """What the Draw page's canvas sends: (280, 280, 4) uint8 RGBA, white ink on opaque black;
    the 28x28 `digit` enlarged 6-10 times at a random place."""
    scale = rng.randint(6, 10)
    side = 28 * scale
    big = Image.fromarray(digit).resize((side, side), Image.Resampling.BILINEAR)
    gray = Image.new("L", (CANVAS, CANVAS), 0)
    gray.paste(big, (rng.randint(0, CANVAS - side), rng.randint(0, CANVAS - side)))
    g = np.asarray(gray)
    return np.dstack([g, g, g, np.full_like(g, 255)])

"""The job manager: one per process, shared by every browser session of the app.

It queues training jobs and runs at most `max_running` of them at once, each in its own
`TrainingRunner` thread, first come first served. A daemon scheduler thread starts queued
jobs when a slot frees up (runners also wake it the moment they end) and stops jobs whose
owner stopped sending heartbeats: Streamlit never tells the server that a browser tab was
closed, so a lease is the only way to learn that nobody is watching any more.

Each owner (a browser session) keeps its most recent `keep_finished` done jobs; older ones
are dropped. An exception inside a job marks that job failed and nothing else.

Over 400 lines on purpose: the public API the app calls (submit, sweeps, control, snapshots,
weights) and the scheduler share one lock and one table of jobs; the pieces that stand alone
live in runner.py, sweeps.py, housekeeping.py and executors/.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import nn

from mnist_core.data.mnist import MnistRaw, MnistSource
from mnist_core.errors import ConfigError, MnistError
from mnist_core.jobs.executors.base import Executor, Placement, ThreadExecutor, WorkerLost
from mnist_core.jobs.fairness import start_order
from mnist_core.jobs.housekeeping import Job, expire_leases, trim_history
from mnist_core.jobs.runner import TrainingRunner
from mnist_core.jobs.snapshot import ACTIVE_STATUSES, DONE_STATUSES, JobSnapshot
from mnist_core.jobs.sweeps import SweepRecord, SweepSnapshot
from mnist_core.settings import DEFAULT_MAX_QUEUED, MAX_JOBS_ENV, settings
from mnist_core.storage.checkpoints import Checkpoint
from mnist_core.storage.store import ModelStore, unique_name
from mnist_core.train.config import TrainConfig
from mnist_core.train.finetune import FineTuneData
from mnist_core.train.sweep import SweepSpec

__all__ = ["MAX_JOBS_ENV", "JobError", "JobManager", "JobNotFound", "default_max_running"]

log = logging.getLogger(__name__)

_TICK_S = 0.25  # how often the scheduler checks leases when nothing wakes it


class JobError(MnistError):
    """A request about a job that cannot be done in its current state."""


class JobNotFound(JobError, KeyError):
    """No job has this id (it never existed, or was dropped from the history)."""

    def __str__(self) -> str:  # KeyError would repr() the message; show it as written.
        return str(self.args[0]) if self.args else ""


def default_max_running(executor: Executor | None = None) -> int:
    """$MNIST_MAX_JOBS when set (see `mnist_core.settings`); otherwise what the executor can
    train at once (a Ray cluster: one job per CPU it reserves), else 2 with a CUDA GPU (small
    models leave it mostly idle) and 1 on a CPU, where a second job only halves the speed of
    the first."""
    configured = settings().max_jobs
    if configured is not None:
        return configured
    slots = executor.default_slots() if executor is not None else None
    if slots is not None:
        return slots
    return 2 if torch.cuda.is_available() else 1


class JobManager:
    """Runs training jobs in background threads; every method is thread-safe.

    Args:
        max_running: jobs trained at the same time (default: `default_max_running()`).
        data: returns the MNIST data, called in job threads (default: a `MnistSource`, which
            loads it once and shares it between all jobs).
        store: where finished runs are saved (default: `ModelStore()`).
        lease_s: a job whose owner sent no heartbeat (nor submitted it) for this long is
            stopped and its weights released; a queued one never starts.
        keep_finished: done jobs kept per owner; the oldest go first.
        done_ttl_s: done jobs of an owner not seen for this long (no submit, heartbeat or
            `jobs(owner)` call) are forgotten, so visitors who left do not hold memory for as
            long as the server runs.
        keep_weights: unsaved done runs (stopped, or whose save failed) that keep their
            weights in memory, over all owners, to be saved or downloaded later; beyond it the
            runs of the owners seen least recently lose theirs first. Saved runs hold none.
        threads_per_job: torch intra-op threads per job (default: the cores torch sees less
            one, divided by max_running, so concurrent jobs share the cores instead of fighting).
        executor: where each job's training loop runs (`executors/base.py`; default: a thread of
            this process). One that is passed in is shared: `shutdown` leaves it running.
        clock: the monotonic seconds that leases and `done_ttl_s` are measured in (default:
            `time.monotonic`; tests pass a clock they move by hand instead of sleeping).
        max_queued: runs one owner may have waiting (queued, not started); a submit beyond
            it raises JobError with what to do (default: $MNIST_MAX_QUEUED's default, 64).
    """

    def __init__(
        self,
        max_running: int | None = None,
        *,
        data: Callable[[], MnistRaw] | None = None,
        store: ModelStore | None = None,
        lease_s: float = 120.0,
        keep_finished: int = 5,
        threads_per_job: int | None = None,
        done_ttl_s: float = 1800.0,
        keep_weights: int = 32,
        executor: Executor | None = None,
        clock: Callable[[], float] = time.monotonic,
        max_queued: int = DEFAULT_MAX_QUEUED,
    ) -> None:
        self._clock = clock
        if max_queued < 1:
            raise ConfigError(f"max_queued must be at least 1, got {max_queued!r}.")
        self.max_queued = int(max_queued)
        self._owns_executor = executor is None
        self.executor = executor if executor is not None else ThreadExecutor()
        self.max_running = (
            default_max_running(self.executor) if max_running is None else int(max_running)
        )
        if self.max_running < 1:
            raise ConfigError(f"max_running must be at least 1, got {max_running!r}.")
        if not lease_s > 0:
            raise ConfigError(f"lease_s must be positive, got {lease_s!r}.")
        if keep_finished < 0:
            raise ConfigError(f"keep_finished must be 0 or more, got {keep_finished!r}.")
        self.lease_s = float(lease_s)
        self.done_ttl_s = float(done_ttl_s)
        self._owner_seen: dict[str, float] = {}  # owner -> clock() of last contact
        self.keep_finished = int(keep_finished)
        if keep_weights < 0:
            raise ConfigError(f"keep_weights must be 0 or more, got {keep_weights!r}.")
        self.keep_weights = int(keep_weights)
        # One core stays free for the web server and predictions: on 2 cores a job trains with
        # 1 thread (measured: 1.6x slower than 2 when idle, but 2 threads that compete with
        # the server for the cores wait on each other and a step can take 10x longer).
        self.threads_per_job = threads_per_job or max(
            1, (torch.get_num_threads() - 1) // self.max_running
        )
        self.store = store if store is not None else ModelStore()
        self._data = data if data is not None else MnistSource()
        self._cond = threading.Condition(threading.RLock())
        self._jobs: dict[str, Job] = {}
        self._queue: deque[str] = deque()  # ids of queued jobs, in the order submitted
        self._order: list[str] = []  # the same ids in the order they will start (fairness.py)
        self._starts = itertools.count(1)
        self._last_start: dict[str, int] = {}  # owner -> number of their latest start
        self._seq = itertools.count(1)
        self._numbers: dict[tuple[str, str], itertools.count] = {}  # (owner, model) -> "#n"
        self._sweeps: dict[str, SweepRecord] = {}
        self._submitting: set[str] = set()  # sweeps whose jobs are being submitted
        self._closed = False
        self._scheduler = threading.Thread(
            target=self._schedule_loop, name="mnist-jobs-scheduler", daemon=True
        )
        self._scheduler.start()

    # ---- submitting and controlling -------------------------------------------------------
    def submit(
        self,
        config: TrainConfig,
        owner: str,
        name: str | None = None,
        *,
        tags: Mapping[str, Any] | None = None,
        finetune: FineTuneData | None = None,
    ) -> str:
        """Start `config` now if a slot is free, else queue it; returns the job id.

        `name` is the display name (default "<model> #<n>", numbered per owner and model,
        past the names of the owner's saved models: a visitor who comes back after a server
        restart gets "lenet5 #2", not a second "lenet5 #1"). A name the owner already uses
        gets a number, "mine (2)", as the store would give its checkpoint, so that Train shows
        the name the model is saved under from the start. `tags`: plain values stored in the
        checkpoint's metrics (e.g. the sweep it belongs to). `finetune`: fine-tune those
        weights on that data instead of training from scratch (`mnist_core.train.finetune.prepare`).
        """
        if not isinstance(config, TrainConfig):
            raise ConfigError(f"submit() needs a TrainConfig, got {type(config).__name__}.")
        taken = self._saved_names(owner)  # file reads: outside the lock
        with self._cond:
            if self._closed:
                raise JobError("The job manager has shut down: no new jobs.")
            self._check_queue_room(owner, 1)
            job_id = uuid.uuid4().hex[:12]
            taken |= {j.runner.name for j in self._jobs.values() if j.owner == owner}
            if name:
                name = unique_name(name, taken)
            else:
                counter = self._numbers.setdefault((owner, config.model), itertools.count(1))
                name = f"{config.model} #{next(counter)}"
                while name in taken:
                    name = f"{config.model} #{next(counter)}"
            runner = TrainingRunner(
                config,
                self._data,
                job_id=job_id,
                owner=owner,
                name=name,
                store=self.store,
                threads=self.threads_per_job,
                on_end=self._on_job_end,
                tags=tags,
                finetune=finetune,
                executor=self.executor,
            )
            self._jobs[job_id] = Job(runner, owner, next(self._seq), self._clock())
            self._owner_seen[owner] = self._clock()
            self._queue.append(job_id)
            self._tick()  # starts it at once when a slot is free
            self._cond.notify_all()
        return job_id

    def submit_sweep(self, spec: SweepSpec, owner: str, name: str | None = None) -> str:
        """Queue every run of `spec` as a job (in the sweep's order); returns the sweep id.

        `name` defaults to spec.name, else "sweep #<n>" numbered per owner. Each run is named
        "<sweep> · <swept values>" and its checkpoint's metrics say "sweep", "sweep_id" and
        "sweep_params", so the Compare page can find it after the manager has forgotten it.
        """
        with self._cond:
            if self._closed:
                raise JobError("The job manager has shut down: no new jobs.")
            self._check_queue_room(owner, spec.n_runs)
            taken = {r.name for r in self._sweeps.values() if r.owner == owner}
            name = name or spec.name
            if name:
                name = unique_name(name, taken)
            else:
                n = 1
                while f"sweep #{n}" in taken:
                    n += 1
                name = f"sweep #{n}"
            sweep_id = uuid.uuid4().hex[:12]
            record = SweepRecord(
                sweep_id, name, owner, tuple(spec.param_names), next(self._seq), time.time()
            )
            self._sweeps[sweep_id] = record
            self._submitting.add(sweep_id)  # no jobs yet: not to be taken for a done sweep
            self._owner_seen[owner] = self._clock()
        tags = {"sweep": name, "sweep_id": sweep_id, "sweep_params": list(spec.param_names)}
        try:
            for overrides in spec.overrides():
                label = spec.run_label(overrides)
                job_id = self.submit(
                    spec.base.replace(**overrides), owner, f"{name} · {label}", tags=tags
                )
                with self._cond:
                    record.add(job_id, label, overrides)
        except Exception:
            self.stop_sweep(sweep_id)  # all or nothing: no half-submitted sweep keeps running
            raise
        finally:
            with self._cond:
                self._submitting.discard(sweep_id)
        return sweep_id

    def sweep(self, sweep_id: str) -> SweepSnapshot:
        """A sweep's progress (JobNotFound for an unknown or forgotten id)."""
        with self._cond:
            return self._sweep_snapshot(self._get_sweep(sweep_id))

    def sweeps(self, owner: str) -> list[SweepSnapshot]:
        """`owner`'s sweeps, newest first."""
        with self._cond:
            mine = [r for r in self._sweeps.values() if r.owner == owner]
            mine.sort(key=lambda r: r.seq, reverse=True)
            return [self._sweep_snapshot(r) for r in mine]

    def stop_sweep(self, sweep_id: str) -> int:
        """Stop every run of the sweep not yet done (queued ones leave the queue at once);
        returns how many were stopped."""
        with self._cond:
            record = self._get_sweep(sweep_id)
            runners = [self._jobs[j].runner for j in record.pending if j in self._jobs]
            stopped = sum(1 for r in runners if r.stop("Stopped with its sweep."))
            self._tick()
            return stopped

    def heartbeat_sweeps(self, owner: str) -> None:
        """The owner is still around: renew the lease of every run of their sweeps not yet
        done (cheap: no snapshots; the sidebar calls it on every page run)."""
        with self._cond:
            now = self._clock()
            self._owner_seen[owner] = now
            for record in self._sweeps.values():
                if record.owner != owner:
                    continue
                for job_id in record.pending:
                    if job_id in self._jobs:
                        self._jobs[job_id].last_seen = now

    def stop(self, job_id: str) -> bool:
        """Stop a job before its next step (a queued one at once). False if already done."""
        with self._cond:
            runner = self._get(job_id).runner
            stopped = runner.stop()
            self._tick()  # a stopped queued job leaves the queue now
        return stopped

    def wait(self, job_id: str, timeout: float | None = None) -> bool:
        """Wait up to `timeout` seconds for a job to be done; True once it is. A queued job
        that is never started is not waited for past the timeout."""
        runner = self._get(job_id).runner
        deadline = None if timeout is None else time.monotonic() + timeout
        while not runner.join(0.05):  # returns at once while queued: poll, never spin
            if deadline is not None and time.monotonic() >= deadline:
                return False
            time.sleep(0.01)
        return True

    def pause(self, job_id: str) -> bool:
        """Pause a running job before its next step; it keeps its slot. False unless running."""
        return self._get(job_id).runner.pause()

    def resume(self, job_id: str) -> bool:
        """Continue a paused job from the same step. False unless paused."""
        return self._get(job_id).runner.resume()

    def set_lr(self, job_id: str, lr: float) -> None:
        """New peak learning rate from the next step on (ConfigError when out of range)."""
        self._get(job_id).runner.set_lr(lr)

    def heartbeat(self, job_id: str) -> None:
        """The owner is still watching: renew the job's lease."""
        with self._cond:
            job = self._get(job_id)
            job.last_seen = self._owner_seen[job.owner] = self._clock()

    def remove(self, job_id: str) -> None:
        """Forget a done job (its saved checkpoint, if any, stays in the store)."""
        with self._cond:
            job = self._get(job_id)
            if job.runner.status not in DONE_STATUSES:
                raise JobError(f"{job.runner.name} is still {job.runner.status}: stop it first.")
            del self._jobs[job_id]
            job.runner.weights.release()

    def shutdown(self, timeout: float = 5.0) -> None:
        """Stop every job and the scheduler; wait up to `timeout` seconds for them to end.

        A job that trained (at least one step) and was stopped by this is saved as a stopped
        run, so that its owner finds it after a restart (Streamlit Community Cloud stops the
        server on every reboot, sleep and redeploy); queued jobs never trained and are
        dropped. Saving measures the run's test accuracy: a few seconds per running job."""
        with self._cond:
            self._closed = True
            runners = [job.runner for job in self._jobs.values()]
            cut_short = [r for r in runners if r.snapshot().status in ACTIVE_STATUSES]
            for runner in runners:
                runner.stop("Stopped: the server is shutting down.")
            self._queue.clear()
            self._cond.notify_all()
        deadline = time.monotonic() + timeout
        for runner in runners:
            runner.join(max(0.0, deadline - time.monotonic()))
        self._scheduler.join(max(0.0, deadline - time.monotonic()))
        for runner in cut_short:
            self._save_cut_short(runner)
        if self._owns_executor:
            self.executor.shutdown()

    def _save_cut_short(self, runner: TrainingRunner) -> None:
        snap = runner.snapshot()
        if snap.status != "stopped" or snap.step < 1 or snap.checkpoint_id is not None:
            return
        try:
            runner.weights.save()
        except MnistError:
            log.warning("could not save %s while shutting down", snap.name, exc_info=True)

    def placement(self) -> Placement:
        """Where jobs train (for the sidebar): the executor's account of its workers."""
        return self.executor.placement()

    # ---- observing ------------------------------------------------------------------------
    def snapshot(self, job_id: str) -> JobSnapshot:
        """The job's current state (JobNotFound for an unknown or dropped id)."""
        with self._cond:
            return self._snapshot(self._get(job_id))

    def jobs(self, owner: str | None = None) -> list[JobSnapshot]:
        """Snapshots of `owner`'s jobs (all jobs when None), newest first.

        Taken together under the manager's lock, so no job starts while the list is made: the
        list never shows more jobs running than ever ran at once.
        """
        with self._cond:
            if owner is not None:
                self._owner_seen[owner] = self._clock()
            chosen = [j for j in self._jobs.values() if owner is None or j.owner == owner]
            chosen.sort(key=lambda j: j.seq, reverse=True)
            return [self._snapshot(j) for j in chosen]

    def running_count(self) -> int:
        """Jobs started and not yet done (running, paused or stopping)."""
        with self._cond:
            return self._running()

    def model_copy(self, job_id: str) -> nn.Module | None:
        """A CPU eval-mode copy of the job's current weights (None before the model exists,
        and when the worker training it was just lost: the job is then marked failed)."""
        weights = self._get(job_id).runner.weights
        try:
            return weights.model_copy()
        except WorkerLost:
            return None

    def checkpoint(self, job_id: str) -> Checkpoint | None:
        """The in-memory checkpoint of a finished or stopped job (None otherwise)."""
        return self._get(job_id).runner.weights.checkpoint()

    def save(self, job_id: str, name: str | None = None) -> str:
        """Save a finished or stopped job to the store; returns the checkpoint id."""
        return self._get(job_id).runner.weights.save(name)

    def _saved_names(self, owner: str) -> set[str]:
        """Names of the models `owner` sees in the store (empty when it cannot be read: the
        store then says what is wrong when the run is saved)."""
        try:
            return {m.name for m in self.store.list(owner)}
        except Exception:
            log.warning("could not list a visitor's saved models", exc_info=True)
            return set()

    # ---- scheduling -----------------------------------------------------------------------
    def _schedule_loop(self) -> None:
        while True:
            with self._cond:
                if self._closed:
                    return
                try:
                    self._tick()
                except Exception:  # keep scheduling whatever happened; this is a bug
                    log.exception("job scheduler tick failed")
                self._cond.wait(timeout=_TICK_S)

    def _on_job_end(self, runner: TrainingRunner) -> None:
        # Called in the job's own thread: only wake the scheduler, which starts the next job.
        with self._cond:
            self._cond.notify_all()

    def _tick(self) -> None:
        """Expire leases, start queued jobs into free slots, trim histories. Lock held."""
        now = self._clock()
        expire_leases(self._jobs.values(), now, self.lease_s)
        # Drop ids that are no longer queued (stopped, expired); visitors take turns at the
        # free slots (fairness.py), and the order left is what the queue positions say.
        self._queue = deque(
            i for i in self._queue if i in self._jobs and self._jobs[i].runner.status == "queued"
        )
        self._order = self._start_order()
        while self._order and self._running() < self.max_running and not self._closed:
            job = self._jobs[self._order[0]]
            self._queue.remove(job.runner.job_id)
            self._last_start[job.owner] = next(self._starts)
            job.runner.start()
            self._order = self._start_order()
        self._observe_sweeps()  # before trimming: a forgotten job's figures stay in its sweep
        trim_history(
            self._jobs,
            self._owner_seen,
            now,
            keep_finished=self.keep_finished,
            done_ttl_s=self.done_ttl_s,
            keep_weights=self.keep_weights,
        )
        # Forget the "#n" counters of owners with no jobs left (sessions that went away).
        owners = {job.owner for job in self._jobs.values()}
        for key in [k for k in self._numbers if k[0] not in owners]:
            del self._numbers[key]
        for owner in [o for o in self._last_start if o not in owners]:
            del self._last_start[owner]
        self._trim_sweeps(owners)

    def _observe_sweeps(self) -> None:
        for record in self._sweeps.values():
            for job_id in record.pending:
                job = self._jobs.get(job_id)
                if job is not None and job.runner.status in DONE_STATUSES:
                    record.observe(job.runner.snapshot())

    def _trim_sweeps(self, owners: set[str]) -> None:
        """Forget done sweeps beyond the newest keep_finished per owner, and every done sweep
        of an owner who left (no jobs and not seen for done_ttl_s)."""
        by_owner: dict[str, list[SweepRecord]] = {}
        for record in self._sweeps.values():
            if record.sweep_id in self._submitting:
                continue
            if not any(j in self._jobs for j in record.pending):  # done
                by_owner.setdefault(record.owner, []).append(record)
        for owner, done in by_owner.items():
            done.sort(key=lambda r: r.seq, reverse=True)
            gone = owner not in owners and owner not in self._owner_seen
            for record in done if gone else done[self.keep_finished :]:
                del self._sweeps[record.sweep_id]

    def _get_sweep(self, sweep_id: str) -> SweepRecord:
        record = self._sweeps.get(sweep_id)
        if record is None:
            raise JobNotFound(f"There is no sweep {sweep_id!r}: it may have been cleared.")
        return record

    def _sweep_snapshot(self, record: SweepRecord) -> SweepSnapshot:
        live = {j: self._snapshot(self._jobs[j]) for j in record.pending if j in self._jobs}
        return record.snapshot(live, self.max_running)

    def _start_order(self) -> list[str]:
        busy = {j.owner for j in self._jobs.values() if j.runner.status in ACTIVE_STATUSES}
        queued = [(i, self._jobs[i].owner) for i in self._queue]
        return start_order(queued, self._last_start, busy)

    def _check_queue_room(self, owner: str, runs: int) -> None:
        """JobError when `runs` more would put more than max_queued of `owner`'s runs in the
        queue. Lock held."""
        waiting = sum(
            1 for j in self._jobs.values() if j.owner == owner and j.runner.status == "queued"
        )
        if waiting + runs > self.max_queued:
            what = "this run" if runs == 1 else f"these {runs} runs"
            raise JobError(
                f"You already have {waiting} run{'' if waiting == 1 else 's'} waiting in the "
                f"queue; with {what} it would be more than {self.max_queued}, the most one "
                "visitor may queue. Wait for some to start, or stop some, then try again."
            )

    def _running(self) -> int:
        return sum(1 for j in self._jobs.values() if j.runner.status in ACTIVE_STATUSES)

    def _get(self, job_id: str) -> Job:
        with self._cond:
            job = self._jobs.get(job_id)
        if job is None:
            raise JobNotFound(
                f"There is no job {job_id!r}: it may have ended and been cleared from the list."
            )
        return job

    def _snapshot(self, job: Job) -> JobSnapshot:
        snap = job.runner.snapshot()
        if snap.status != "queued":
            return snap
        try:
            position = self._order.index(job.runner.job_id) + 1
        except ValueError:  # between submit and the first tick
            return snap
        return dataclasses.replace(
            snap, queue_position=position, message=f"Queued: position {position}"
        )

"""Every second of a load test: memory, jobs running, late reaps, progress lines."""

from __future__ import annotations

import sys
import threading
import time
import traceback

from bench.load.ledger import Ledger
from bench.load.options import LoadOptions
from bench.progress import log
from mnist_core.jobs import DONE_STATUSES, JobManager

_SAMPLE_S = 1.0  # memory and scheduler sampling period
_REAP_GRACE_S = 30.0  # an abandoned job still active this long after its lease: a violation


def proc_status_mb() -> tuple[float, float]:
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


class Sampler(threading.Thread):
    """Every second: memory, how many jobs run (never above max_running), late reaps, and
    the status of every job (a job may leave the history before its visitor looks again)."""

    def __init__(self, manager: JobManager, ledger: Ledger, options: LoadOptions) -> None:
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
        rss, hwm = proc_status_mb()
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
                and self.ledger.status.get(job_id) not in (None, *DONE_STATUSES)
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
                done = sum(1 for s in self.ledger.status.values() if s in DONE_STATUSES)
                errors = self.ledger.n_exceptions + self.ledger.nviolations
                n_pred = len(self.ledger.predict_busy_ms) + len(self.ledger.predict_idle_ms)
            log(
                f"[load] {now - self.t0:6.0f} s: {len(self.ledger.submitted)} jobs submitted, "
                f"{done} done, {running} running; {n_pred} predictions; {errors} errors; "
                f"RSS {rss:.0f} MB",
            )

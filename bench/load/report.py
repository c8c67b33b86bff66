"""The load test's report: jobs, actions, errors, latency percentiles, memory and the
targets with PASS or MISS (what --json writes, and what the tables show)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

import numpy as np

from bench.load.ledger import KEEP_TRACEBACKS, Ledger
from bench.load.options import LoadOptions

TARGET_P95_MS = 50.0
TARGET_GROWTH_MB = 200.0
TARGET_MINUTES = 10.0  # the memory target is stated over a run of this length


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


def build_report(
    options: LoadOptions,
    ledger: Ledger,
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
        n_errors = ledger.n_exceptions + ledger.nviolations + len(failures)
        for job_id, tb in list(failures.items())[: max(0, KEEP_TRACEBACKS - len(errors))]:
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
                "violations": ledger.nviolations,
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

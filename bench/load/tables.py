"""The load test's report as a few plain-text tables (what `python -m bench load` prints)."""

from __future__ import annotations

from typing import Any

from bench.load.report import TARGET_MINUTES


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

"""Numbers and times written for people."""

from __future__ import annotations

from datetime import UTC, datetime


def duration(seconds: float | None) -> str:
    """12.3 -> "12 s", 95 -> "1 min 35 s", 4000 -> "1 h 07 min"; None -> "–"."""
    if seconds is None or seconds != seconds or seconds < 0:
        return "–"
    if seconds < 10:
        return f"{seconds:.1f} s"
    s = round(seconds)
    if s < 60:
        return f"{s} s"
    m, s = divmod(s, 60)
    if m < 60:
        return f"{m} min {s:02d} s"
    h, m = divmod(m, 60)
    return f"{h} h {m:02d} min"


def percent(fraction: float | None, digits: int = 2) -> str:
    return "–" if fraction is None else f"{100 * fraction:.{digits}f}%"


def count(n: int | None) -> str:
    return "–" if n is None else f"{n:,}"


def epoch(value: float) -> str:
    """A fractional epoch: 7.79 -> "7.8", 3.0 -> "3"."""
    return f"{value:.1f}".removesuffix(".0")


def rate(images_per_s: float | None) -> str:
    if not images_per_s:
        return "–"
    return f"{images_per_s / 1000:.1f}k" if images_per_s >= 10_000 else f"{images_per_s:,.0f}"


def when(iso: str | None) -> str:
    """ISO 8601 UTC -> "2026-11-23 10:31:07 UTC" (unparseable text is returned as it is).
    To the second: two models made in the same minute are told apart."""
    if not iso:
        return "–"
    try:
        t = datetime.fromisoformat(iso)
    except ValueError:
        return iso
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    return t.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


STATUS_LABELS = {
    "queued": ":material/hourglass_top: Queued",
    "running": ":material/play_circle: Running",
    "paused": ":material/pause_circle: Paused",
    "stopping": ":material/stop_circle: Stopping",
    "finished": ":material/check_circle: Finished",
    "stopped": ":material/stop_circle: Stopped",
    "failed": ":material/error: Failed",
    "diverged": ":material/trending_up: Diverged",
}
STATUS_COLORS = {
    "queued": "gray",
    "running": "blue",
    "paused": "orange",
    "stopping": "orange",
    "finished": "green",
    "stopped": "gray",
    "failed": "red",
    "diverged": "red",
}


def status_badge(status: str) -> str:
    """Markdown for a coloured status badge."""
    color = STATUS_COLORS.get(status, "gray")
    return f":{color}-badge[{STATUS_LABELS.get(status, status)}]"

"""A capped cgroup to run a process tree in, as a small container would (memory and CPU caps),
and what it used: peak PSS and RSS per process, limit hits and OOM kills.

Needs root and a writable cgroup file system: v1 (`/sys/fs/cgroup/memory`, `/sys/fs/cgroup/cpu`,
the project machines) or v2 (one unified tree, with the memory and cpu controllers enabled).

PSS (proportional set size) counts a page shared by N processes as 1/N in each, so the PSS of
a process tree adds up to what the tree really holds; RSS counts shared pages (torch's
libraries, the MNIST tensors in shared memory) once per process.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from mnist_core.errors import MnistError

ROOT = Path("/sys/fs/cgroup")
MIB = 1024 * 1024


class CgroupUnavailable(MnistError):
    """No cgroup can be made here: why, and what to do."""


def _write(path: Path, value: str) -> None:
    path.write_text(value)


def _read_int(path: Path, default: int = 0) -> int:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return default


def _field(path: Path, name: str) -> int:
    """The value of `name` in a "key value" per line file (memory.events, memory.oom_control)."""
    try:
        for line in path.read_text().splitlines():
            key, _, value = line.partition(" ")
            if key == name:
                return int(value)
    except (OSError, ValueError):
        pass
    return 0


class CappedGroup:
    """One cgroup (v1: a memory and a cpu group of the same name; v2: one group) with a memory
    limit and a CPU quota. `join(pid)` moves a process in; its children follow by themselves."""

    def __init__(self, name: str, memory_mib: int, cpus: float) -> None:
        if os.geteuid() != 0:
            raise CgroupUnavailable("Making a cgroup needs root: run it as root (sudo).")
        self.v2 = (ROOT / "cgroup.controllers").exists()
        if self.v2:
            self.memory = self.cpu = ROOT / name
            folders = [self.memory]
        else:
            self.memory, self.cpu = ROOT / "memory" / name, ROOT / "cpu" / name
            folders = [self.memory, self.cpu]
        try:
            for folder in folders:
                folder.mkdir(exist_ok=True)
            limit, period = memory_mib * MIB, 100_000
            if self.v2:
                _write(self.memory / "memory.max", str(limit))
                _write(self.cpu / "cpu.max", f"{round(cpus * period)} {period}")
            else:
                _write(self.memory / "memory.limit_in_bytes", str(limit))
                _write(self.cpu / "cpu.cfs_period_us", str(period))
                _write(self.cpu / "cpu.cfs_quota_us", str(round(cpus * period)))
        except OSError as e:
            self.remove()
            raise CgroupUnavailable(
                f"Could not make the cgroup {name!r} ({e}). It needs cgroup v1 memory and cpu "
                "controllers, or cgroup v2 with both enabled in the parent's "
                "cgroup.subtree_control."
            ) from e
        self.memory_mib, self.cpus = memory_mib, cpus

    def join(self, pid: int) -> None:
        for folder in {self.memory, self.cpu}:
            _write(folder / "cgroup.procs", str(pid))

    def pids(self) -> list[int]:
        try:
            return [int(p) for p in (self.memory / "cgroup.procs").read_text().split()]
        except OSError:
            return []

    def peak_mib(self) -> float:
        """The group's peak memory use, page cache included."""
        name = "memory.peak" if self.v2 else "memory.max_usage_in_bytes"
        return _read_int(self.memory / name) / MIB

    def limit_hits(self) -> int:
        """How often memory reached the limit (the kernel then reclaims, e.g. page cache)."""
        if self.v2:
            return _field(self.memory / "memory.events", "max")
        return _read_int(self.memory / "memory.failcnt")

    def oom_kills(self) -> int:
        if self.v2:
            return _field(self.memory / "memory.events", "oom_kill")
        return _field(self.memory / "memory.oom_control", "oom_kill")

    def remove(self) -> None:
        """Remove the group once its processes are gone (waits up to 10 s for them)."""
        deadline = time.monotonic() + 10
        for folder in {self.memory, self.cpu}:
            while folder.exists():
                try:
                    folder.rmdir()
                except OSError:
                    if time.monotonic() > deadline:
                        break
                    time.sleep(0.2)


def _smaps_rollup(pid: int) -> tuple[int, int] | None:
    """(PSS, RSS) of a process in bytes, None once it is gone."""
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return None
    values = {}
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        if key in ("Pss", "Rss"):
            values[key] = int(rest.split()[0]) * 1024
    return values.get("Pss", 0), values.get("Rss", 0)


def describe(pid: int) -> str:
    """A process's role, from its command line: the app's server, a training worker, ..."""
    try:
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return f"process {pid}"
    if "streamlit" in cmd:
        return f"server {pid}"
    if "resource_tracker" in cmd:
        return f"resource tracker {pid}"
    if "multiprocessing" in cmd:
        return f"training worker {pid}"
    return f"{Path(cmd.split(' ', 1)[0]).name} {pid}"


@dataclass
class MemoryPeaks:
    """Peaks seen by `MemorySampler`: per process and for the whole tree at one instant."""

    per_process: dict[str, tuple[float, float]] = field(default_factory=dict)  # MiB PSS, RSS
    tree_pss_mib: float = 0.0
    tree_rss_mib: float = 0.0
    samples: int = 0


class MemorySampler:
    """Samples the PSS and RSS of every process in `group` every `interval` seconds, in a
    thread, and keeps the peaks (a process's own peaks, and the tree's sum at one instant)."""

    def __init__(self, group: CappedGroup, interval: float = 0.25) -> None:
        self.group, self.interval = group, interval
        self.peaks = MemoryPeaks()
        self._names: dict[int, str] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="memory-sampler", daemon=True)

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def sample(self) -> None:
        pss_sum = rss_sum = 0.0
        p = self.peaks
        for pid in self.group.pids():
            got = _smaps_rollup(pid)
            if got is None:
                continue
            name = self._names.setdefault(pid, describe(pid))
            pss, rss = got[0] / MIB, got[1] / MIB
            pss_sum, rss_sum = pss_sum + pss, rss_sum + rss
            old = p.per_process.get(name, (0.0, 0.0))
            p.per_process[name] = (max(old[0], pss), max(old[1], rss))
        p.tree_pss_mib = max(p.tree_pss_mib, pss_sum)
        p.tree_rss_mib = max(p.tree_rss_mib, rss_sum)
        p.samples += 1

"""What this machine offers a run: the device, the CPUs and torch's threads, and the heap.

- Devices: pick the best one present (CUDA, then Apple MPS, then CPU) and name it for people.
- CPUs: how many this process may use (`usable_cpus`): the affinity mask, capped by the cgroup
  CPU quota. torch and onnxruntime size their thread pools from the host's cores, not the
  quota: a container with a 1-CPU quota on a 16-core host would run 16 threads taking turns on
  one CPU (others measured 4x slower runs from exactly this). `fit_threads_to_cpus` caps
  torch's threads once at start-up (the app's server, each worker process, the CLI).
- Threads: torch's intra-op thread count for the calling thread (`set_thread_count`), used by
  the job runner, the warm workers and the speed estimate alike.
- Memory: the cgroup's memory limit (`cgroup_memory_limit`), and whether it makes this a small
  container (`small_container`), where the app trains in its own process (see
  SMALL_MEMORY_BYTES).
- Heap: freed memory given back to the operating system after a training run. A run allocates
  and frees hundreds of megabytes of tensors (batches, activations, the optimiser's state) from
  its own thread. glibc keeps freed memory in per-thread arenas for reuse, so a server that
  trains run after run in new threads grows its resident set far past what it holds (measured by
  `python -m bench load`: +2.6 GB in 10 minutes, of which malloc_trim gave back 0.9 GB).
  Trimming after each run keeps the resident set close to the memory actually in use; it costs a
  few milliseconds.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import math
import os
import threading
import time
from pathlib import Path

import torch

from mnist_core.errors import ConfigError


def available_devices() -> tuple[str, ...]:
    """The device choices that work on this machine, for people to pick from: "auto" and
    "cpu" always, "cuda" and "mps" only when present. The one home of that list (the sidebar
    offers it, links are checked against it)."""
    present = ["auto", "cpu"]
    if torch.cuda.is_available():
        present.append("cuda")
    if torch.backends.mps.is_available():
        present.append("mps")
    return tuple(present)


def pick_device(preference: str = "auto") -> torch.device:
    """ "auto": CUDA, then Apple MPS, then CPU. An explicit choice that is absent is an error."""
    if preference == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if preference == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device 'cuda' was asked for but no CUDA GPU is available; use auto.")
    if preference == "mps" and not torch.backends.mps.is_available():
        raise ConfigError("device 'mps' was asked for but Apple MPS is not available; use auto.")
    if preference not in ("cpu", "cuda", "mps"):
        raise ConfigError(f"Unknown device {preference!r}: use auto, cpu, cuda or mps.")
    return torch.device(preference)


def device_name(device: torch.device | str | None = None) -> str:
    """E.g. "NVIDIA H100 80GB HBM3", "Apple GPU (MPS)", "CPU (2 threads)"."""
    device = torch.device(device) if device is not None else pick_device()
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    if device.type == "mps":
        return "Apple GPU (MPS)"
    threads = torch.get_num_threads()
    return f"CPU ({threads} thread{'' if threads == 1 else 's'})"


CGROUP_ROOT = Path("/sys/fs/cgroup")
PROC_SELF_CGROUP = Path("/proc/self/cgroup")


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def _ancestors(base: Path, inner: str) -> list[Path]:
    """`base/inner` and each folder above it up to `base`: a quota set on a parent group
    limits every group below it. When the group's own folder is not mounted (a container sees
    its own group as the root), only `base` is left."""
    parts = [p for p in inner.split("/") if p]
    return [base.joinpath(*parts[:n]) for n in range(len(parts), -1, -1)]


def _group_files(
    v1_controller: str, name: str, root: Path | None, proc_self_cgroup: Path | None
) -> list[tuple[str, Path]]:
    """Every `name` file that limits this process, with its cgroup version ("v1" or "v2"):
    in its own group and each group above it (a limit set on a parent applies below).
    `v1_controller`: the v1 hierarchy that holds `name` ("cpu", "memory")."""
    root = CGROUP_ROOT if root is None else root
    proc_self_cgroup = PROC_SELF_CGROUP if proc_self_cgroup is None else proc_self_cgroup
    found: list[tuple[str, Path]] = []
    for line in (_read(proc_self_cgroup) or "").splitlines():
        hierarchy, _, rest = line.partition(":")
        controllers, _, inner = rest.partition(":")
        if hierarchy == "0" and controllers == "":  # v2, the unified hierarchy
            found += [("v2", folder / name) for folder in _ancestors(root, inner)]
        elif v1_controller in controllers.split(","):  # v1: e.g. mounted as cpu,cpuacct
            for base in (root / controllers, root / v1_controller):
                found += [("v1", folder / name) for folder in _ancestors(base, inner)]
    return found


def cgroup_cpu_limit(
    root: Path | None = None, proc_self_cgroup: Path | None = None
) -> float | None:
    """The CPU quota of this process's cgroup in CPUs (e.g. 0.5, 2.0), the smallest along its
    path; None where there is none. cgroup v1: cpu.cfs_quota_us / cpu.cfs_period_us (-1: no
    quota); v2: cpu.max, "max 100000" or "<quota> <period>"."""
    limits: list[float] = []
    for version, path in _group_files("cpu", "cpu.max", root, proc_self_cgroup):
        if version == "v2":
            quota, _, period = (_read(path) or "").partition(" ")
        else:
            quota = _read(path.with_name("cpu.cfs_quota_us")) or ""
            period = _read(path.with_name("cpu.cfs_period_us")) or ""
        if quota.isdigit() and period.isdigit() and int(period) > 0:
            limits.append(int(quota) / int(period))
    return min(limits) if limits else None


def cgroup_memory_limit(
    root: Path | None = None, proc_self_cgroup: Path | None = None
) -> int | None:
    """The memory limit of this process's cgroup in bytes, the smallest along its path; None
    where there is none. cgroup v1: memory.limit_in_bytes (no limit reads as a huge number,
    about 2**63); v2: memory.max ("max": none)."""
    limits: list[int] = []
    for version, path in _group_files("memory", "memory.max", root, proc_self_cgroup):
        if version == "v1":
            path = path.with_name("memory.limit_in_bytes")
        value = _read(path) or ""
        if value.isdigit() and int(value) < NO_MEMORY_LIMIT:
            limits.append(int(value))
    return min(limits) if limits else None


# A cgroup v1 memory limit at or above this is "none" (the kernel shows 2**63 rounded down to
# a page there); no machine has an exabyte.
NO_MEMORY_LIMIT = 2**60
# Under this much memory the app trains in its own process rather than in a child process,
# which holds a second interpreter and its own copy of torch. In a 1 GiB, 1-CPU cgroup with four
# visitors (one training a LeNet-5, one drawing, one on Inside, one queued), the app's processes
# peaked at 961 MiB of PSS with a training child and 564 MiB without (python -m bench cloud,
# bench/RESULTS.md); Streamlit Community Cloud gives an app 690 MB-2.7 GB.
SMALL_MEMORY_BYTES = 2 * 1024**3


def small_container(limit: int | None = None) -> bool:
    """Whether this process's memory limit (`cgroup_memory_limit()` unless given) is under
    SMALL_MEMORY_BYTES: a container too small for a training child process beside the app."""
    limit = cgroup_memory_limit() if limit is None else limit
    return limit is not None and limit < SMALL_MEMORY_BYTES


def usable_cpus(root: Path | None = None, proc_self_cgroup: Path | None = None) -> int:
    """The CPUs this process may use: the CPUs it may run on (affinity), capped by the cgroup
    quota rounded down, at least 1. 1.5 CPUs of quota is 1: a second thread would wait half
    the time."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # macOS and Windows have no affinity call
        cpus = os.cpu_count() or 1
    limit = cgroup_cpu_limit(root, proc_self_cgroup)
    if limit is not None:
        cpus = min(cpus, math.floor(limit))
    return max(1, cpus)


def fit_threads_to_cpus(cpus: int | None = None) -> int:
    """Cap torch's intra-op threads at the usable CPUs (never raising them); the count set.
    Threads started later inherit it (torch keeps the last value set as the default)."""
    cpus = usable_cpus() if cpus is None else max(1, cpus)
    if torch.get_num_threads() > cpus:
        torch.set_num_threads(cpus)
    return torch.get_num_threads()


def set_thread_count(n: int) -> None:
    """Limit torch's intra-op threads for the calling thread only.

    With torch's OpenMP backend the thread count is per thread, but a thread that has not yet
    run a parallel op initialises it lazily from the value most recently set by *any* thread.
    Reading it first forces that initialisation, so a later `set_num_threads` in another job's
    thread cannot override this one. (Threads that first touch torch after this call start
    with `n` threads too: torch keeps the last value set as the default for new threads.)
    """
    torch.get_num_threads()
    torch.set_num_threads(max(1, int(n)))


def idle_cpus(interval: float = 0.25, stat: Path = Path("/proc/stat")) -> float | None:
    """How many CPUs of the machine sat idle over the next `interval` seconds (e.g. 1.7 of 2),
    from /proc/stat; None where there is no /proc (macOS, Windows)."""

    def sample() -> tuple[int, int] | None:
        try:
            fields = [int(v) for v in stat.read_text().splitlines()[0].split()[1:]]
        except (OSError, ValueError, IndexError):
            return None
        return sum(fields), fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait

    first = sample()
    time.sleep(interval)
    second = sample()
    if first is None or second is None or second[0] <= first[0]:
        return None
    cpus = os.cpu_count() or 1
    return cpus * (second[1] - first[1]) / (second[0] - first[0])


def memory_in_use(
    root: Path | None = None, proc_self_cgroup: Path | None = None
) -> tuple[int, int | None]:
    """(this process's resident memory, its cgroup's memory in use or None), in bytes. The
    cgroup's figure is what its limit is checked against: every process of the group (a
    training child too) and the page cache it charged (v1 memory.usage_in_bytes, v2
    memory.current)."""
    try:
        rss = int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):  # no /proc (macOS, Windows)
        import resource

        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # the peak, in KiB
    for version, path in _group_files("memory", "memory.current", root, proc_self_cgroup):
        value = _read(path if version == "v2" else path.with_name("memory.usage_in_bytes"))
        if value is not None and value.isdigit():
            return rss, int(value)  # the process's own group: the first one listed
    return rss, None


def memory_summary() -> str:
    """E.g. "this process holds 605 MiB; its container 543 MiB of its 1,024 MiB limit", for
    the log after each run and at start-up (the deploy guide's checklist reads it)."""
    rss, used = memory_in_use()
    limit = cgroup_memory_limit()
    text = f"this process holds {rss / 2**20:,.0f} MiB"
    if used is not None and limit is not None:
        text += f"; its container {used / 2**20:,.0f} MiB of its {limit / 2**20:,.0f} MiB limit"
    return text


@functools.cache
def _libc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.malloc_trim  # noqa: B018  (only glibc has it: macOS and musl do not)
    except (OSError, AttributeError):
        return None
    return libc


def trim_heap() -> bool:
    """Ask glibc to return free heap memory to the system; False where that is not glibc.

    Resident memory this gives back was the allocator's free lists, not memory in use."""
    libc = _libc()
    if libc is None:
        return False
    libc.malloc_trim(0)
    return True


def yield_cpu_to_visitors() -> None:
    """Lower the calling thread's CPU priority (nice 10), and so that of the threads it starts
    (OpenMP teams inherit it): work computed ahead in the background (a t-SNE map, shown as
    PCA meanwhile) then takes only the CPU that visitors' pages leave idle, on a 1-CPU host
    too. Not for work a visitor waits for: it would wait longer. Linux only (elsewhere, and
    if refused, nothing happens)."""
    if not hasattr(os, "setpriority") or not hasattr(threading, "get_native_id"):
        return
    with contextlib.suppress(OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)

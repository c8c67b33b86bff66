"""What this machine offers a run: the device, torch's thread count, and the heap.

- Devices: pick the best one present (CUDA, then Apple MPS, then CPU) and name it for people.
- Threads: torch's intra-op thread count for the calling thread (`set_thread_count`), used by
  the job runner, the warm workers and the speed estimate alike.
- Heap: freed memory given back to the operating system after a training run. A run allocates
  and frees hundreds of megabytes of tensors (batches, activations, the optimiser's state) from
  its own thread. glibc keeps freed memory in per-thread arenas for reuse, so a server that
  trains run after run in new threads grows its resident set far past what it holds (measured by
  `python -m bench load`: +2.6 GB in 10 minutes, of which malloc_trim gave back 0.9 GB).
  Trimming after each run keeps the resident set close to the memory actually in use; it costs a
  few milliseconds.
"""

from __future__ import annotations

import ctypes
import functools

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
    return f"CPU ({torch.get_num_threads()} threads)"


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

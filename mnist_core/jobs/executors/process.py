"""The `process` executor: each job trains in a warm child process of this machine.

Why: on a CPU a training thread shares the GIL with the web server, and a watched Train page
(a rerun a second) took about half of its speed (808 vs 1,538 images/s for a ResNet on 2
cores). A child process has its own interpreter. It is started with `spawn` (a fork of a
process running Streamlit's and torch's threads is unsafe) and kept warm, since importing
torch takes 1.6 s or more; the MNIST tensors go once per child through shared memory
(`share_memory_`: the child maps the same pages, nothing is copied).

The child answers one request at a time over a pipe (`child_main`); a lock in the parent
pairs each request with its answer. A child that dies (killed, out of memory) closes the
pipe: the call raises `WorkerLost` with its exit code, the job fails, the slot frees.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
from multiprocessing.connection import Connection
from typing import Any

from mnist_core.data.mnist import MnistRaw
from mnist_core.jobs.executors.base import Placement, RemoteExecutor, Worker
from mnist_core.jobs.failures import WorkerLost
from mnist_core.machine import usable_cpus
from mnist_core.train.config import TrainConfig

__all__ = ["ProcessExecutor", "child_main"]

_START_TIMEOUT_S = 120.0  # a child that has not imported torch by then is given up on
_CTX = multiprocessing.get_context("spawn")


def child_main(conn: Connection) -> None:
    """The child's command loop: (method, args) in, (ok, value) out, until the pipe closes."""
    # torch, imported before the first answer (the worker is warm), and torch._dynamo, which
    # the first optimiser a process builds imports: a fresh server's first run spent 2-5 s on
    # it after Start (MLP 11 s for an estimate of 7 s, python -m bench first-estimate);
    # ui/preload.py does the same for the server.
    import torch._dynamo  # noqa: F401

    from mnist_core.jobs.executors.remote import RemoteRun
    from mnist_core.machine import fit_threads_to_cpus

    fit_threads_to_cpus()  # a spawned child sizes torch's pool from the host's cores again

    run = RemoteRun(where=f"process {os.getpid()}")
    while True:
        try:
            method, args = conn.recv()
        except (EOFError, OSError):  # the app went away: so does this child
            return
        try:
            reply: tuple[bool, Any] = (True, run.call(method, *args))
        except Exception as e:
            reply = (False, f"{type(e).__name__}: {e}")
        try:
            conn.send(reply)
        except (BrokenPipeError, OSError):
            return


def _exit_detail(code: int | None) -> str:
    if code is None:
        return "its process stopped answering"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        hint = " (out of memory, or killed)" if -code == signal.SIGKILL else ""
        return f"its process was ended by {name}{hint}"
    return f"its process exited with code {code}"


class _ChildWorker(Worker):
    def __init__(self) -> None:
        self._conn, theirs = _CTX.Pipe()
        self._proc = _CTX.Process(
            target=child_main, args=(theirs,), name="mnist-training-worker", daemon=True
        )
        self._proc.start()
        theirs.close()
        self._lock = threading.Lock()
        self.pid = self._proc.pid
        self.where = f"process {self.pid}"
        self.call("ping", timeout=_START_TIMEOUT_S)

    def call(self, method: str, *args: Any, timeout: float | None = None) -> Any:
        waited = 0.0
        with self._lock:
            try:
                self._conn.send((method, args))
                while not self._conn.poll(0.5):  # a dead child may never close a shared pipe
                    waited += 0.5
                    if not self._proc.is_alive() or (timeout and waited >= timeout):
                        raise WorkerLost(self._detail())
                ok, value = self._conn.recv()
            except (EOFError, OSError) as e:
                raise WorkerLost(self._detail()) from e
        if not ok:
            raise RuntimeError(f"The training process could not {method}: {value}")
        return value

    def _detail(self) -> str:
        self._proc.join(timeout=1.0)
        return _exit_detail(self._proc.exitcode)

    def alive(self) -> bool:
        return self._proc.is_alive()

    def kill(self) -> None:
        """SIGKILL, as the out-of-memory killer would (tests use it)."""
        if self._proc.pid is not None:
            os.kill(self._proc.pid, signal.SIGKILL)

    def close(self) -> None:
        self._conn.close()  # the child's recv() ends: it exits by itself
        self._proc.join(timeout=2.0)
        if self._proc.is_alive():
            self._proc.kill()
            self._proc.join(timeout=2.0)


class ProcessExecutor(RemoteExecutor):
    """Jobs in child processes of this machine, `warm` of them kept started and idle."""

    kind = "process"

    def _new_worker(self, config: TrainConfig | None) -> Worker:
        return _ChildWorker()

    def _data_ref(self, key: str, raw: MnistRaw) -> MnistRaw:
        for t in (raw.train_images, raw.train_labels, raw.test_images, raw.test_labels):
            t.share_memory_()  # in place, once: later sends pass a handle to the same pages
        return raw

    def placement(self) -> Placement:
        with self._lock:
            idle, busy = len(self._idle), len(self._busy)
        cpus = float(usable_cpus())
        summary = f"this machine's processes ({busy} training, {idle} warm)"
        return Placement("process", summary, cpus=cpus, note=self.note)

"""How a run can fail, said for people: a lost worker, a failure inside a worker, any other error.

Shared by the app's side of a job (the runner, the executors) and the worker's side (the
relay that runs `fit` in a child process or an actor); it imports neither.
"""

from __future__ import annotations

from mnist_core.errors import MnistError

__all__ = ["RemoteFailure", "WorkerLost", "failure_message"]


class WorkerLost(MnistError):
    """The process or actor that ran a job went away (killed, out of memory, node lost)."""

    def __init__(self, detail: str) -> None:
        super().__init__(
            f"The worker running this job was lost: {detail}. Its slot is free again; "
            "start the run again to retry."
        )


class RemoteFailure(MnistError):
    """The run raised in its worker: the worker's own (error, message, traceback)."""

    def __init__(self, error: str, message: str, trace: str) -> None:
        super().__init__(message)
        self.error, self.message, self.trace = error, message, trace


def failure_message(e: Exception) -> tuple[str, str]:
    """(error, message for people) of an exception that ended a run. Our own errors are
    written for people; anything else is a bug, and the message says so."""
    if isinstance(e, RemoteFailure):  # raised in a worker: its own account
        return e.error, e.message
    error = str(e).strip() or type(e).__name__
    if isinstance(e, MnistError):
        return error, error
    return error, f"Training failed with an unexpected error: {type(e).__name__}: {error}"

"""A fake executor for the job manager's bookkeeping tests: canned events, no training.

The job manager's naming, queue order, caps, leases, TTLs and weight limits do not depend on
what trains a job, only on the events its runner receives. `CannedExecutor.run` yields the
real event dataclasses of `mnist_core.train.events` in the order `fit` yields them, reads the
job's `TrainControl` (stop, pause, learning rate) as `fit` does before every step, and trains
nothing: the model keeps its initial weights.

A run of at most `free_steps` steps ends on its own ("finished"); a longer one yields its first
`free_steps` steps and then holds, as a long run still training would, until it is stopped.
The executor contract (stop, pause, LR, same model, a killed worker) is tested on the real
executors in test_jobs.py.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

from mnist_core.jobs.executors.base import Executor, Placement, RunTask
from mnist_core.train.events import EpochMetrics, Event, RunEnded, RunStarted, StepMetrics

__all__ = ["CannedExecutor"]


class CannedExecutor(Executor):
    kind = "canned"

    def __init__(self, free_steps: int = 20, step_s: float = 0.01) -> None:
        """`step_s`: how long a step lasts (so that jobs overlap as real ones do)."""
        self.free_steps, self.step_s = free_steps, step_s
        self._closed = threading.Event()

    def run(self, task: RunTask) -> Iterator[Event]:
        config, control = task.config, task.control
        spe = config.steps_per_epoch
        total = config.epochs * spe
        yield RunStarted(
            device="cpu",
            device_name="canned",
            n_params=sum(p.numel() for p in task.model.parameters()),
            n_train=config.train_size,
            n_val=config.val_size,
            n_test=len(task.raw.test_labels),
            steps_per_epoch=spe,
            total_steps=total,
        )
        step = epochs_done = 0
        while step < total:
            if step >= self.free_steps:  # a long run: it trains on until stopped
                while not (control.stop_requested or self._closed.wait(0.005)):
                    pass
            control.wait_if_paused()
            if control.stop_requested or self._closed.is_set():
                yield self._ended("stopped", "Stopped.", step, epochs_done)
                return
            self._closed.wait(self.step_s)
            step += 1
            lr = control.lr if control.lr is not None else config.lr
            if step % config.log_every == 0 or step % spe == 0:
                yield StepMetrics(step, step / spe, 1.0, lr, 1000.0, step * 0.001)
            if step % spe == 0:
                epochs_done += 1
                val_loss, val = (1.0, 0.5) if config.val_size else (None, None)
                test = 0.5 if config.eval_test else None
                yield EpochMetrics(
                    epochs_done, step, 1.0, 0.5, val_loss, val, test, step * 0.001, 0.0
                )
        test = 0.5 if config.eval_test else None
        yield self._ended("finished", "Finished.", step, epochs_done, test)

    @staticmethod
    def _ended(
        status: str, message: str, step: int, epochs: int, test: float | None = None
    ) -> RunEnded:
        return RunEnded(status, message, step, epochs, step * 0.001, 0.0, test, None)  # type: ignore[arg-type]

    def placement(self) -> Placement:
        return Placement("canned", "canned events, nothing trains")

    def shutdown(self) -> None:
        self._closed.set()

"""Thread-safe knobs that another thread turns while `fit` runs: stop, pause, learning rate.

`fit` reads them once per step, so each takes effect within one batch. The training loop stays
pure: it never knows about threads beyond these calls.
"""

from __future__ import annotations

import threading
import time

from mnist_core.train.config import check_lr


class TrainControl:
    """Stop / pause / resume / learning-rate override, plus the lock that guards the weights."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._stop = False
        self._paused = False
        self._lr: float | None = None
        # Held by fit() around each optimiser step and BatchNorm update; hold it to copy the
        # weights so a copy never mixes two steps.
        self.weights_lock = threading.Lock()

    def request_stop(self) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify_all()

    def pause(self) -> None:
        with self._cond:
            self._paused = True

    def resume(self) -> None:
        with self._cond:
            self._paused = False
            self._cond.notify_all()

    def set_lr(self, lr: float) -> None:
        """Set a new peak learning rate; the schedule's shape continues, scaled to it.
        ConfigError (a ValueError) outside the range TrainConfig allows for `lr`."""
        lr = check_lr(lr)
        with self._cond:
            self._lr = lr

    @property
    def lr(self) -> float | None:
        return self._lr

    @property
    def stop_requested(self) -> bool:
        return self._stop

    @property
    def paused(self) -> bool:
        return self._paused

    def wait_if_paused(self) -> float:
        """Block while paused (a stop wakes it). Returns the seconds spent waiting."""
        if not self._paused:
            return 0.0
        t0 = time.perf_counter()
        with self._cond:
            while self._paused and not self._stop:
                self._cond.wait(timeout=0.5)
        return time.perf_counter() - t0

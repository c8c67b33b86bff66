"""A run's curves against the chosen x axis (epoch, training seconds, images seen), as plain
data for `ui.compare.charts`. Tested without Streamlit."""

from __future__ import annotations

import math
from dataclasses import dataclass

from mnist_core.train.config import MNIST_TRAIN_SIZE
from ui.compare.runs import Run, full_config

X_AXES = ("epoch", "training seconds", "images seen")


@dataclass(frozen=True)
class Series:
    """A run's curves against one x axis: the loss at each saved point, validation accuracy at
    each epoch's end, test accuracy at each measurement (epoch ends and checks)."""

    name: str
    loss_x: list[float]
    loss: list[float]
    val_x: list[float]
    val_acc: list[float]
    test_x: list[float]
    test_acc: list[float]


def images_per_epoch(run: Run) -> int:
    """Training images per epoch: the history's, else from the settings (0: unknown)."""
    if run.history is not None and run.history.n_train:
        return run.history.n_train
    config = full_config(run)
    if config is None:
        return 0
    subset, val = config.get("train_subset"), config.get("val_size")
    if isinstance(subset, int) and subset > 0:
        return subset
    return MNIST_TRAIN_SIZE - val if isinstance(val, int) else 0


def series(run: Run, x_axis: str) -> Series | None:
    """The run's curves against `x_axis` (one of X_AXES); None without curves, or for
    "images seen" when the images per epoch are unknown."""
    if run.history is None:
        return None
    if x_axis not in X_AXES:
        raise ValueError(f"unknown x axis {x_axis!r}")
    n_train = images_per_epoch(run)
    if x_axis == "images seen" and not n_train:
        return None

    def x(epoch: float, seconds: float) -> float:
        if x_axis == "epoch":
            return float(epoch)
        if x_axis == "training seconds":
            return float(seconds)
        return float(epoch) * n_train

    h = run.history
    loss_x, loss = [], []
    for s in h.step_events():
        if math.isfinite(s.loss):  # a diverged run's NaN points are left out
            loss_x.append(x(s.epoch, s.train_seconds))
            loss.append(s.loss)
    val_x, val_acc, tests = [], [], []
    for e in h.epoch_events():
        if e.val_accuracy is not None:
            val_x.append(x(e.epoch, e.train_seconds))
            val_acc.append(e.val_accuracy)
        if e.test_accuracy is not None:
            tests.append((e.step, x(e.epoch, e.train_seconds), e.test_accuracy))
    tests += [(c.step, x(c.epoch, c.train_seconds), c.test_accuracy) for c in h.check_events()]
    tests.sort(key=lambda t: t[0])
    return Series(
        name=run.name,
        loss_x=loss_x,
        loss=loss,
        val_x=val_x,
        val_acc=val_acc,
        test_x=[t[1] for t in tests],
        test_acc=[t[2] for t in tests],
    )

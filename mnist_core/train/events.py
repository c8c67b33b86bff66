"""Immutable progress events yielded by `train.loop.fit`, in this order:

    RunStarted, ((StepMetrics | AccuracyCheck)* EpochMetrics)*, RunEnded

(AccuracyCheck only when `TrainConfig.eval_every` asks for test checks inside an epoch.)

Consumers (the CLI's progress bar, the background runner, tests) only ever read them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

EndStatus = Literal["finished", "stopped", "diverged"]


@dataclass(frozen=True)
class RunStarted:
    device: str  # e.g. "cpu", "cuda:0"
    device_name: str  # for people, e.g. "CPU (2 threads)"
    n_params: int
    n_train: int
    n_val: int
    n_test: int
    steps_per_epoch: int
    total_steps: int


@dataclass(frozen=True)
class LayerDynamics:
    """How one layer's weights move at a logged step (see `mnist_core.train.dynamics`).

    name: the module's name (as `mnist_core.explain` names layers, e.g. "1" or "4.body.0.0");
    weight_norm, grad_norm: L2 norms of its weight tensor and of that tensor's gradient at the
    step; update_ratio: ||weights after the step - before|| / ||weights before||.
    """

    name: str
    weight_norm: float
    grad_norm: float
    update_ratio: float


@dataclass(frozen=True)
class WeightHistogram:
    """One layer's weight values at the end of an epoch: `counts` per bin between `edges`
    (len(counts) + 1 increasing values)."""

    name: str
    edges: tuple[float, ...]
    counts: tuple[int, ...]


@dataclass(frozen=True)
class StepMetrics:
    step: int  # optimiser steps done so far, 1-based
    epoch: float  # fractional epoch, e.g. 1.25
    loss: float  # mean training loss over the steps since the previous StepMetrics
    lr: float
    images_per_s: float  # training throughput over the same window, pauses excluded
    train_seconds: float  # cumulative time spent training (not evaluating, not paused)
    layers: tuple[LayerDynamics, ...] = ()  # per weighted layer, at this step (fit's dynamics)


@dataclass(frozen=True)
class EpochMetrics:
    epoch: int  # 1-based
    step: int
    train_loss: float  # mean over the epoch's batches (augmented, in train mode)
    train_accuracy: float  # running accuracy over those batches, in [0, 1]
    val_loss: float | None  # None when val_size == 0
    val_accuracy: float | None
    test_accuracy: float | None  # None when eval_test is off
    train_seconds: float  # cumulative
    eval_seconds: float  # cumulative time spent evaluating
    histograms: tuple[WeightHistogram, ...] = ()  # per weighted layer, at the epoch's end


@dataclass(frozen=True)
class AccuracyCheck:
    """Test accuracy measured inside an epoch, every `TrainConfig.eval_every` steps, so that the
    moment a run first reaches a target (the Race to 99%) is seen to within a fraction of an
    epoch. The check's own time counts as evaluation, not training."""

    step: int
    epoch: float  # fractional epoch at the check
    test_accuracy: float  # in [0, 1]
    train_seconds: float  # cumulative training time at the check


@dataclass(frozen=True)
class RunEnded:
    status: EndStatus
    message: str  # for people: why it ended and, if it went wrong, what to do
    step: int
    epochs_done: int
    train_seconds: float
    eval_seconds: float
    test_accuracy: float | None  # of the final weights, when measured
    val_accuracy: float | None
    dynamics_seconds: float = 0.0  # time spent recording the training dynamics (its cost)


Event = RunStarted | StepMetrics | AccuracyCheck | EpochMetrics | RunEnded

"""Fine-tuning a trained model on a person's handwriting, mixed with MNIST so it does not forget.

One short run of the ordinary training loop (`fit`), started from the checkpoint's weights:

- the person's set is split per digit into a part to learn from and a held-back part
  (`handwriting.split_held_out`) that only measures: accuracy on it before and after is the
  honest answer to "did it learn my handwriting?";
- each step's batch is drawn from one shuffled pool of `steps * batch_size` images in which
  `PERSONAL_SHARE` are the person's digits (repeated, and augmented like the rest by the base
  recipe's random affine and stroke-width settings) and the rest MNIST training images, so the
  model keeps MNIST (its test accuracy after is reported too);
- the learning rate is a third of the base recipe's, on the "linear" schedule (short warm-up,
  straight decay: the schedule for runs of one epoch).

Used by the job manager (`JobManager.submit(..., finetune=...)`, the Draw page) and the command
line (`python -m mnist_core finetune`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from mnist_core.data.mnist import MnistRaw, MnistSplits, make_splits
from mnist_core.digits.handwriting import (
    HandwritingError,
    HandwritingSet,
    split_held_out,
    trainable_problem,
)
from mnist_core.errors import ConfigError
from mnist_core.storage.checkpoints import Checkpoint
from mnist_core.train.config import TrainConfig
from mnist_core.train.control import TrainControl
from mnist_core.train.evaluation import evaluate
from mnist_core.train.events import Event, RunEnded
from mnist_core.train.loop import build_model, fit

DEFAULT_STEPS = 200
MAX_STEPS = 5000
PERSONAL_SHARE = 0.25  # of every batch, on average
HELD_OUT_FRACTION = 0.25
LR_FACTOR = 1 / 3  # of the base recipe's peak learning rate
MIN_STROKE_AUG = 0.5  # canvas pens vary; the base recipe may not augment stroke width


@dataclass(frozen=True)
class FineTuneData:
    """What a fine-tuning run needs besides its TrainConfig.

    base_state: the starting weights (CPU tensors) of the checkpoint being fine-tuned.
    train_x, train_y: (n, 28, 28) uint8 and (n,) int64, the person's digits to learn from.
    held_x, held_y: the held-back digits, measured before and after.
    base_name: the checkpoint's display name (for the new model's name and its metrics).
    """

    base_state: Mapping[str, torch.Tensor]
    train_x: torch.Tensor
    train_y: torch.Tensor
    held_x: torch.Tensor
    held_y: torch.Tensor
    base_name: str = ""

    def start_model(self, config: TrainConfig) -> nn.Module:
        """The architecture of `config` with the base weights."""
        model = build_model(config)
        model.load_state_dict(dict(self.base_state))
        return model

    def splits(self, raw: MnistRaw, config: TrainConfig) -> MnistSplits:
        """MNIST's split for `config`, with PERSONAL_SHARE of the training images replaced by
        the person's digits repeated (the pool's size stays config.train_size)."""
        base = make_splits(
            raw, val_size=config.val_size, train_subset=config.train_subset, seed=config.seed
        )
        n = len(base.train_y)
        k = max(len(self.train_y), round(PERSONAL_SHARE * n))
        reps = -(-k // len(self.train_y))  # ceil
        px = self.train_x.repeat(reps, 1, 1)[:k]
        py = self.train_y.repeat(reps)[:k]
        return MnistSplits(
            train_x=torch.cat([base.train_x[: n - k], px]),
            train_y=torch.cat([base.train_y[: n - k], py]),
            val_x=base.val_x,
            val_y=base.val_y,
            test_x=base.test_x,
            test_y=base.test_y,
        )

    def held_accuracy(self, model: nn.Module) -> float:
        """Accuracy of `model` on the held-back digits."""
        return evaluate(model, self.held_x, self.held_y).accuracy


def base_config(ckpt: Checkpoint) -> TrainConfig:
    """The checkpoint's own training config (architecture options included), or the
    architecture's recipe for a checkpoint saved without one."""
    try:
        if ckpt.config:
            return TrainConfig.from_dict(dict(ckpt.config))
    except ConfigError:
        pass
    return TrainConfig.for_model(ckpt.model, model_kwargs=dict(ckpt.model_kwargs))


def check_steps(steps: object) -> int:
    """`steps` when it is a whole number from 1 to MAX_STEPS; ConfigError otherwise."""
    if isinstance(steps, bool) or not isinstance(steps, int) or not 1 <= steps <= MAX_STEPS:
        raise ConfigError(f"steps must be a whole number from 1 to {MAX_STEPS}, got {steps!r}.")
    return steps


def finetune_config(base: TrainConfig, steps: int = DEFAULT_STEPS, seed: int = 0) -> TrainConfig:
    """One epoch of `steps` steps at the base recipe's batch size (at most 128: the personal
    set is small), a third of its learning rate, on the CPU-friendly schedule for short runs."""
    check_steps(steps)
    batch = min(base.batch_size, 128)
    left = 60_000 - base.val_size
    pool = min(steps * batch, left)
    return base.replace(
        epochs=1,
        batch_size=min(batch, pool),
        train_subset=pool,
        lr=max(base.lr * LR_FACTOR, 1e-6),
        schedule="linear",
        aug_stroke=max(base.aug_stroke, MIN_STROKE_AUG),
        eval_every=0,
        eval_test=True,
        synthetic=0,  # the person's digits are the drawn ones here
        seed=seed,
    )


def prepare(
    ckpt: Checkpoint, personal: HandwritingSet, *, steps: int = DEFAULT_STEPS, seed: int = 0
) -> tuple[TrainConfig, FineTuneData]:
    """The config and data of fine-tuning `ckpt` on `personal`. HandwritingError when the set
    is too small (`trainable_problem` says why), ConfigError for bad steps."""
    problem = trainable_problem(personal)
    if problem is not None:
        raise HandwritingError(problem)
    config = finetune_config(base_config(ckpt), steps, seed)
    train, held = split_held_out(personal, HELD_OUT_FRACTION, seed)
    data = FineTuneData(
        base_state={k: v.detach().cpu().clone() for k, v in ckpt.state_dict.items()},
        train_x=torch.from_numpy(train.images),
        train_y=torch.from_numpy(train.labels),
        held_x=torch.from_numpy(held.images),
        held_y=torch.from_numpy(held.labels),
        base_name=ckpt.name,
    )
    return config, data


@dataclass(frozen=True)
class FineTuneReport:
    """What the command line prints: accuracies are fractions in [0, 1]."""

    personal_accuracy_before: float
    personal_accuracy_after: float
    test_accuracy_before: float
    test_accuracy: float
    steps: int
    n_train: int
    n_held_out: int
    train_seconds: float
    status: str


def run(
    ckpt: Checkpoint,
    personal: HandwritingSet,
    raw: MnistRaw,
    *,
    steps: int = DEFAULT_STEPS,
    seed: int = 0,
    control: TrainControl | None = None,
    on_event: Callable[[Event], None] | None = None,
) -> tuple[nn.Module, TrainConfig, FineTuneReport, list[Event]]:
    """Fine-tune in this thread (the command line): the trained model (CPU, eval mode), its
    config, the report and the events of the run."""
    config, data = prepare(ckpt, personal, steps=steps, seed=seed)
    model = data.start_model(config)
    before = data.held_accuracy(model)
    test_before = evaluate(model, raw.test_images, raw.test_labels).accuracy
    events: list[Event] = []
    for event in fit(config, data.splits(raw, config), model=model, control=control):
        events.append(event)
        if on_event is not None:
            on_event(event)
    model = model.cpu().eval()
    ended = events[-1]
    assert isinstance(ended, RunEnded)  # fit always ends with one
    test_after = ended.test_accuracy
    if test_after is None:
        test_after = evaluate(model, raw.test_images, raw.test_labels).accuracy
    report = FineTuneReport(
        personal_accuracy_before=before,
        personal_accuracy_after=data.held_accuracy(model),
        test_accuracy_before=test_before,
        test_accuracy=test_after,
        steps=ended.step,
        n_train=len(data.train_y),
        n_held_out=len(data.held_y),
        train_seconds=ended.train_seconds,
        status=ended.status,
    )
    return model, config, report, events


def held_out_errors(model: nn.Module, held: HandwritingSet) -> np.ndarray:
    """Indices into `held` of the digits `model` gets wrong."""
    res = evaluate(model, torch.from_numpy(held.images), torch.from_numpy(held.labels))
    return np.flatnonzero(res.predicted != res.labels)

"""The training loop: `fit(config, data)` is a generator of immutable progress events.

It owns no thread and no UI. The data stay on the training device as whole-split uint8 tensors
(N,28,28); each step indexes a batch, scales it to [0,1] floats, augments it as one tensor and
takes one optimiser step. Loss values stay on the device between log points, so on a GPU the
loop never waits for a `.item()` on every step.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator

import torch
import torch.nn.functional as F
from torch import nn

from mnist_core.augment import random_affine
from mnist_core.config import TrainConfig
from mnist_core.control import TrainControl
from mnist_core.data import MnistRaw, MnistSplits, make_splits
from mnist_core.device import device_name, pick_device
from mnist_core.evaluation import EvaluationInterrupted, evaluate
from mnist_core.events import EndStatus, EpochMetrics, Event, RunEnded, RunStarted, StepMetrics
from mnist_core.models import count_parameters, create_model
from mnist_core.schedules import Schedule


def build_model(config: TrainConfig) -> nn.Module:
    """The untrained model of `config`, initialised from `config.seed` (CPU, train mode)."""
    with torch.random.fork_rng(devices=[]):  # seed init without disturbing the caller's RNG
        torch.manual_seed(config.seed)
        return create_model(config.model, **config.model_kwargs)


def make_optimizer(config: TrainConfig, model: nn.Module) -> torch.optim.Optimizer:
    params = model.parameters()
    if config.optimizer == "sgd":
        return torch.optim.SGD(
            params,
            lr=config.lr,
            momentum=config.momentum,
            nesterov=config.momentum > 0,
            weight_decay=config.weight_decay,
        )
    if config.optimizer == "adam":
        return torch.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay)
    return torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)


def loss_fn(config: TrainConfig, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """logits (B,10) float32, y (B,) int64 -> scalar loss."""
    if config.loss == "mse":
        # As two classic tutorials did: squared error between probabilities and one-hot targets.
        return F.mse_loss(torch.softmax(logits, 1), F.one_hot(y, 10).float())
    return F.cross_entropy(logits, y, label_smoothing=config.label_smoothing)


def _is_conv(model: nn.Module) -> bool:
    return any(isinstance(m, nn.Conv2d) for m in model.modules())


def fit(
    config: TrainConfig,
    data: MnistRaw | MnistSplits,
    *,
    model: nn.Module | None = None,
    control: TrainControl | None = None,
) -> Iterator[Event]:
    """Train `model` (built from `config` when None) in place, yielding progress events.

    `data` is the raw dataset (split here by config.val_size/train_subset/seed) or ready
    splits. `control` lets another thread stop, pause or change the learning rate; each takes
    effect before the next step. Ends with exactly one RunEnded: finished, stopped, or
    diverged (the loss became NaN or infinite).
    """
    control = control or TrainControl()
    device = pick_device(config.device)
    if config.threads:
        torch.set_num_threads(config.threads)
    splits = (
        data
        if isinstance(data, MnistSplits)
        else make_splits(
            data, val_size=config.val_size, train_subset=config.train_subset, seed=config.seed
        )
    )
    splits = splits.to(device)
    if model is None:
        model = build_model(config)
    model.to(device).train()
    cuda = device.type == "cuda"
    channels_last = cuda and _is_conv(model)
    if channels_last:  # NHWC lets cuDNN use tensor cores for bf16 convolutions
        model.to(memory_format=torch.channels_last)
    step_model = torch.compile(model) if (config.compile and cuda) else model
    opt = make_optimizer(config, model)

    n_train = len(splits.train_y)
    bs = config.batch_size
    steps_per_epoch = math.ceil(n_train / bs)
    total_steps = steps_per_epoch * config.epochs
    schedule = Schedule(config.schedule, total_steps, steps_per_epoch)
    # One generator for shuffling and augmentation: same seed, same numbers (on one device).
    gen = torch.Generator(device=device).manual_seed(config.seed)
    torch.manual_seed(config.seed)  # dropout

    yield RunStarted(
        device=str(device),
        device_name=device_name(device),
        n_params=count_parameters(model),
        n_train=n_train,
        n_val=len(splits.val_y),
        n_test=len(splits.test_y),
        steps_per_epoch=steps_per_epoch,
        total_steps=total_steps,
    )

    step, train_s, eval_s = 0, 0.0, 0.0
    last_val: float | None = None
    last_test: float | None = None
    test_is_current = False  # last_test measured on the current weights?

    def ended(status: EndStatus, message: str, epochs_done: int) -> RunEnded:
        return RunEnded(status, message, step, epochs_done, train_s, eval_s, last_test, last_val)

    for epoch in range(1, config.epochs + 1):
        model.train()
        perm = torch.randperm(n_train, generator=gen, device=device)
        ep_loss = torch.zeros((), device=device)
        ep_correct = torch.zeros((), device=device, dtype=torch.int64)
        win_loss = torch.zeros((), device=device)
        win_steps = win_images = 0
        win_t0 = time.perf_counter()
        win_train_s = 0.0
        for i in range(steps_per_epoch):
            paused_s = control.wait_if_paused()
            win_t0 += paused_s  # paused time is not training time
            if control.stop_requested:
                train_s += time.perf_counter() - win_t0
                yield ended("stopped", f"Stopped at step {step} of {total_steps}.", epoch - 1)
                return
            idx = perm[i * bs : (i + 1) * bs]
            x = splits.train_x[idx].unsqueeze(1).float().div_(255)  # (B,1,28,28) in [0,1]
            y = splits.train_y[idx]  # (B,)
            if config.augments:
                x = random_affine(
                    x,
                    rotation=config.aug_rotation,
                    translate=config.aug_translate,
                    scale=config.aug_scale,
                    generator=gen,
                )
            if channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            lr = (control.lr or config.lr) * schedule.factor(step)
            for g in opt.param_groups:
                g["lr"] = lr
            with torch.autocast("cuda", dtype=torch.bfloat16, enabled=cuda):
                logits = step_model(x)
            loss = loss_fn(config, logits.float(), y)
            if control.stop_requested:  # skip the backward pass (2/3 of a step) when stopping
                train_s += time.perf_counter() - win_t0
                yield ended("stopped", f"Stopped at step {step} of {total_steps}.", epoch - 1)
                return
            opt.zero_grad(set_to_none=True)
            loss.backward()
            with control.weights_lock:  # a weight copy never sees half a step
                opt.step()
            step += 1
            loss_d = loss.detach()
            ep_loss += loss_d
            ep_correct += (logits.detach().argmax(1) == y).sum()
            win_loss += loss_d
            win_steps += 1
            win_images += len(y)
            last_of_epoch = i == steps_per_epoch - 1
            # On the CPU checking each step is free; on a GPU only at log points (a sync).
            check_now = not cuda or win_steps >= config.log_every or last_of_epoch
            if check_now and not math.isfinite(float(loss_d)):
                train_s += time.perf_counter() - win_t0
                yield ended(
                    "diverged",
                    f"Training diverged: the loss became {float(loss_d)} at step {step}. "
                    f"Lower the learning rate (it was {lr:.3g}) and start again.",
                    epoch - 1,
                )
                return
            if win_steps >= config.log_every or last_of_epoch:
                mean_loss = float(win_loss) / win_steps  # syncs the device
                now = time.perf_counter()
                win_train_s = now - win_t0
                train_s += win_train_s
                yield StepMetrics(
                    step=step,
                    epoch=epoch - 1 + (i + 1) / steps_per_epoch,
                    loss=mean_loss,
                    lr=lr,
                    images_per_s=win_images / max(win_train_s, 1e-9),
                    train_seconds=train_s,
                )
                win_loss.zero_()
                win_steps = win_images = 0
                win_t0 = time.perf_counter()

        # The loss is checked before each update, so the epoch's last update can turn the
        # weights into NaN unseen; after the last epoch that run would "finish". One check
        # per epoch (one device sync) catches it before the evaluation and the save.
        if not bool(torch.stack([torch.isfinite(p).all() for p in model.parameters()]).all()):
            yield ended(
                "diverged",
                f"Training diverged: the weights became NaN or infinite at step {step}. "
                f"Lower the learning rate (it was {lr:.3g}) and start again.",
                epoch - 1,
            )
            return

        # ---- end of epoch: evaluate on held-out data (not counted as training time) ----
        t0 = time.perf_counter()
        stop = lambda: control.stop_requested  # noqa: E731
        # Batches of 500: a stop waits for at most one (about 0.15 s for resnet on 2 cores).
        try:
            val = (
                evaluate(model, splits.val_x, splits.val_y, 500, should_stop=stop)
                if len(splits.val_y)
                else None
            )
            test = (
                evaluate(model, splits.test_x, splits.test_y, 500, should_stop=stop)
                if config.eval_test
                else None
            )
        except EvaluationInterrupted:
            eval_s += time.perf_counter() - t0
            yield ended("stopped", f"Stopped after step {step} of {total_steps}.", epoch - 1)
            return
        eval_s += time.perf_counter() - t0
        last_val = val.accuracy if val else None
        last_test = test.accuracy if test else last_test
        test_is_current = test is not None
        schedule.on_epoch_end(val.loss if val else None)
        seen = min(n_train, steps_per_epoch * bs)
        yield EpochMetrics(
            epoch=epoch,
            step=step,
            train_loss=float(ep_loss) / steps_per_epoch,
            train_accuracy=float(ep_correct) / seen,
            val_loss=val.loss if val else None,
            val_accuracy=last_val,
            test_accuracy=test.accuracy if test else None,
            train_seconds=train_s,
            eval_seconds=eval_s,
        )

    if not test_is_current:  # the final weights' test accuracy is always reported
        t0 = time.perf_counter()
        last_test = evaluate(model, splits.test_x, splits.test_y).accuracy
        eval_s += time.perf_counter() - t0
    yield ended("finished", f"Finished {config.epochs} epochs.", config.epochs)

"""The training loop: `fit(config, data)` is a generator of immutable progress events.

It owns no thread and no UI. The data stay on the training device as whole-split uint8 tensors
(N,28,28); each step indexes a batch, scales it to [0,1] floats, augments it as one tensor and
takes one optimiser step. Loss values stay on the device between log points, so on a GPU the
loop never waits for a `.item()` on every step.

Over 400 lines on purpose: `fit` and its phases (prepare, train an epoch, log, check, evaluate)
share the private `_Run` state; split across modules, that state would have to be public.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import math
import os
import threading
import time
from collections.abc import Generator, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from mnist_core.data.augment import random_affine, random_elastic, random_stroke_width
from mnist_core.data.mnist import MnistRaw, MnistSplits, make_splits
from mnist_core.machine import device_name, pick_device, set_thread_count, usable_cpus
from mnist_core.models import count_parameters, create_model
from mnist_core.train.config import TrainConfig
from mnist_core.train.control import TrainControl
from mnist_core.train.dynamics import DynamicsProbe
from mnist_core.train.evaluation import EvaluationInterrupted, evaluate, predict_logits
from mnist_core.train.events import (
    AccuracyCheck,
    EndStatus,
    EpochMetrics,
    Event,
    LayerDynamics,
    RunEnded,
    RunStarted,
    StepMetrics,
)
from mnist_core.train.schedules import Schedule
from mnist_core.train.timeline import TimelineRecorder
from mnist_core.words import count_of


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


# End-of-epoch evaluations run in batches of 500: a stop waits for at most one (about 0.15 s
# for resnet on 2 cores). The final test evaluation cannot be stopped and uses the default.
EVAL_BATCH = 500
CHECK_NICE = 10  # how much nicer than training the thread of checks beside it is (`_check_thread`)


@dataclass
class _Run:
    """One call of `fit`: what `_prepare` builds once, and the totals the epochs add to."""

    config: TrainConfig
    control: TrainControl
    device: torch.device
    splits: MnistSplits  # on `device`
    model: nn.Module
    step_model: nn.Module  # the model, or its torch.compile wrapper
    opt: torch.optim.Optimizer
    schedule: Schedule
    gen: torch.Generator  # shuffling and augmentation: same seed, same numbers (one device)
    cuda: bool
    channels_last: bool
    steps_per_epoch: int
    total_steps: int
    step: int = 0
    train_s: float = 0.0  # time spent training, pauses and evaluations excluded
    eval_s: float = 0.0
    lr: float = 0.0  # the learning rate of the latest step
    last_val: float | None = None
    last_test: float | None = None
    test_is_current: bool = False  # last_test measured on the current weights?
    probe: DynamicsProbe | None = None  # records the training dynamics (None: not asked for)
    timeline: TimelineRecorder | None = None  # keeps the weights at log-spaced steps
    checks: _BackgroundChecks | None = None  # test checks beside training (None: in line)

    @property
    def n_train(self) -> int:
        return len(self.splits.train_y)

    def ended(self, status: EndStatus, message: str, epochs_done: int) -> RunEnded:
        return RunEnded(
            status,
            message,
            self.step,
            epochs_done,
            self.train_s,
            self.eval_s,
            self.last_test,
            self.last_val,
            self.probe.seconds if self.probe else 0.0,
        )

    def diverged(self, what: str, epochs_done: int) -> RunEnded:
        # Quote the peak rate the person set (or changed it to), which is what they can
        # lower; the schedule's value at that step only when it differs.
        peak = self.control.lr or self.config.lr
        scheduled = "" if self.lr == peak else f" (the schedule had it at {self.lr:.3g} then)"
        return self.ended(
            "diverged",
            f"Training diverged: {what} at step {self.step:,}. Lower the learning rate: it "
            f"was {peak:g}{scheduled}. Then start again.",
            epochs_done,
        )


@dataclass
class _Window:
    """Running sums between two StepMetrics, and over the epoch. Tensors stay on the device
    (no sync per step)."""

    ep_loss: torch.Tensor  # () float: sum of step losses this epoch
    ep_correct: torch.Tensor  # () int64: correct training predictions this epoch
    loss: torch.Tensor  # () float: sum of step losses since the last StepMetrics
    t0: float  # perf_counter at the window's start, moved on by paused time
    steps: int = 0
    images: int = 0


def fit(
    config: TrainConfig,
    data: MnistRaw | MnistSplits,
    *,
    model: nn.Module | None = None,
    control: TrainControl | None = None,
    dynamics: bool = True,
    timeline: TimelineRecorder | None = None,
) -> Iterator[Event]:
    """Train `model` (built from `config` when None) in place, yielding progress events.

    `data` is the raw dataset (split here by config.val_size/train_subset/seed) or ready
    splits. `control` lets another thread stop, pause or change the learning rate; each takes
    effect before the next step. Ends with exactly one RunEnded: finished, stopped, or
    diverged (the loss became NaN or infinite).

    `dynamics` records, per weighted layer, the weight norm, gradient norm and update/weight
    ratio at each logged step (`StepMetrics.layers`) and a weight histogram per epoch
    (`EpochMetrics.histograms`); `RunEnded.dynamics_seconds` is what that cost.

    `timeline` captures the weights before the first update, after the updates it plans
    (`mnist_core.train.timeline`) and, for a run that finishes or stops, the final weights,
    before RunEnded is yielded.
    """
    run = _prepare(config, data, model, control or TrainControl())
    run.probe = DynamicsProbe(run.model) if dynamics else None
    run.timeline = timeline
    if timeline is not None:
        timeline.begin(run.model, run.total_steps, config.model, config.model_kwargs)
    yield _started(run)
    try:
        yield from _epochs(run)
    finally:
        if run.checks is not None:
            run.checks.close()


def _epochs(run: _Run) -> Iterator[Event]:
    """The epochs of `fit`, from the first step to RunEnded."""
    config = run.config
    for epoch in range(1, config.epochs + 1):
        sums = yield from _train_epoch(run, epoch)
        if run.checks is not None and run.checks.pending is not None:
            # The epoch's last check, before its end or the stop (whose RunEnded then reports
            # that check's accuracy and time, as an in-line check's).
            yield from run.checks.collect(run, wait=True)
            if isinstance(sums, RunEnded):
                sums = dataclasses.replace(
                    sums, test_accuracy=run.last_test, eval_seconds=run.eval_s
                )
        ended = sums if isinstance(sums, RunEnded) else _check_weights(run, epoch)
        if ended is None:
            ended = yield from _evaluate_epoch(run, epoch, sums)
        if ended is not None:
            yield _final(run, ended)
            return
    if not run.test_is_current:  # the final weights' test accuracy is always reported
        t0 = time.perf_counter()
        run.last_test = evaluate(run.model, run.splits.test_x, run.splits.test_y).accuracy
        run.eval_s += time.perf_counter() - t0
    ended = run.ended("finished", f"Finished {count_of(config.epochs, 'epoch')}.", config.epochs)
    yield _final(run, ended)


def _final(run: _Run, ended: RunEnded) -> RunEnded:
    """`ended`, once the timeline holds the final weights of a run that keeps them (a diverged
    run's weights are NaN: nothing of it is saved, its timeline neither)."""
    if run.timeline is not None:
        if ended.status == "diverged":
            run.timeline.discard("No training timeline: the run diverged.")
        else:
            run.timeline.end(run.step, run.model)
    return ended


def _prepare(
    config: TrainConfig,
    data: MnistRaw | MnistSplits,
    model: nn.Module | None,
    control: TrainControl,
) -> _Run:
    """Split the data, move it and the model to the device, build the optimiser and schedule."""
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
    if config.synthetic and not isinstance(data, MnistSplits):
        splits = with_synthetic(splits, config.synthetic, config.seed)
    splits = splits.to(device)
    if model is None:
        model = build_model(config)
    model.to(device).train()
    cuda = device.type == "cuda"
    # NHWC lets cuDNN use tensor cores for bf16 convolutions; on the CPU it is asked for
    # (it speeds up the SpeedNet's oneDNN convolutions, and slows some other nets).
    channels_last = (cuda or config.channels_last) and _is_conv(model)
    if channels_last:
        model.to(memory_format=torch.channels_last)
    steps_per_epoch = math.ceil(len(splits.train_y) / config.batch_size)
    total_steps = steps_per_epoch * config.epochs
    run = _Run(
        config=config,
        control=control,
        device=device,
        splits=splits,
        model=model,
        step_model=torch.compile(model) if (config.compile and cuda) else model,
        opt=make_optimizer(config, model),
        schedule=Schedule(config.schedule, total_steps, steps_per_epoch),
        gen=torch.Generator(device=device).manual_seed(config.seed),
        cuda=cuda,
        channels_last=channels_last,
        steps_per_epoch=steps_per_epoch,
        total_steps=total_steps,
    )
    torch.manual_seed(config.seed)  # dropout
    spare = usable_cpus() - torch.get_num_threads()
    if config.eval_every and device.type == "cpu" and spare > 0:  # a GPU checks in line
        run.checks = _BackgroundChecks(model, spare)
    return run


def with_synthetic(splits: MnistSplits, n: int, seed: int) -> MnistSplits:
    """`splits` with `n` stroke-drawn digits (`mnist_core.digits.strokes.synthetic_digits`) appended
    to the training set; validation and test stay MNIST's, so every accuracy is MNIST's."""
    from mnist_core.digits.strokes import synthetic_digits

    images, labels = synthetic_digits(n, seed)
    return dataclasses.replace(
        splits,
        train_x=torch.cat([splits.train_x, torch.from_numpy(images).to(splits.train_x.device)]),
        train_y=torch.cat([splits.train_y, torch.from_numpy(labels).to(splits.train_y.device)]),
    )


def _started(run: _Run) -> RunStarted:
    return RunStarted(
        device=str(run.device),
        device_name=device_name(run.device),
        n_params=count_parameters(run.model),
        n_train=run.n_train,
        n_val=len(run.splits.val_y),
        n_test=len(run.splits.test_y),
        steps_per_epoch=run.steps_per_epoch,
        total_steps=run.total_steps,
    )


def _train_epoch(
    run: _Run, epoch: int
) -> Generator[StepMetrics | AccuracyCheck, None, _Window | RunEnded]:
    """One pass over the training set, yielding StepMetrics every `log_every` steps, at the
    epoch's end and after steps 1, 2, 4... of the run (`_early_log`), and a AccuracyCheck every
    `eval_every` steps inside the epoch. Returns the epoch's sums, or the RunEnded of a stop
    or a divergence."""
    config, control, device = run.config, run.control, run.device
    run.model.train()
    perm = torch.randperm(run.n_train, generator=run.gen, device=device)
    zero = torch.zeros((), device=device)
    win = _Window(zero.clone(), torch.zeros((), device=device, dtype=torch.int64), zero.clone(), 0)
    win.t0 = time.perf_counter()
    bs = config.batch_size
    for i in range(run.steps_per_epoch):
        win.t0 += control.wait_if_paused()  # paused time is not training time
        if control.stop_requested:
            return _stopped(run, win, epoch)
        idx = perm[i * bs : (i + 1) * bs]
        logits, y, loss = _forward(run, idx)
        if control.stop_requested:  # skip the backward pass (2/3 of a step) when stopping
            return _stopped(run, win, epoch)
        run.opt.zero_grad(set_to_none=True)
        loss.backward()
        last_of_epoch = i == run.steps_per_epoch - 1
        log_now = (
            win.steps + 1 >= config.log_every or last_of_epoch or _early_log(run.step + 1, config)
        )
        before = run.probe.before_step() if (log_now and run.probe) else None
        with control.weights_lock:  # a weight copy never sees half a step
            run.opt.step()
        layers = run.probe.after_step(before) if (before is not None and run.probe) else ()
        run.step += 1
        if run.timeline is not None:
            run.timeline.after_step(run.step, run.model)
        loss_d = loss.detach()
        win.ep_loss += loss_d
        win.ep_correct += (logits.detach().argmax(1) == y).sum()
        win.loss += loss_d
        win.steps += 1
        win.images += len(y)
        # On the CPU checking each step is free; on a GPU only at log points (a sync).
        if (log_now or not run.cuda) and not math.isfinite(float(loss_d)):
            run.train_s += time.perf_counter() - win.t0
            return run.diverged(f"the loss became {float(loss_d)}", epoch - 1)
        if log_now:
            yield _log_window(run, win, epoch - 1 + (i + 1) / run.steps_per_epoch, layers)
        every = config.eval_every
        checks = run.checks
        if checks is not None:
            yield from checks.collect(run, win)
        if every and run.step % every == 0 and not last_of_epoch:  # the epoch's end evaluates
            at = epoch - 1 + (i + 1) / run.steps_per_epoch
            if checks is None:
                yield _test_check(run, win, at)
            else:
                yield from checks.collect(run, win, wait=True)  # one check at a time
                checks.submit(run, win, at)
    return win


def _test_check(run: _Run, win: _Window, epoch: float) -> AccuracyCheck:
    """Test accuracy now, inside the epoch. Its time is moved out of the training window (as
    a pause is) and into the evaluation time."""
    if run.cuda:
        torch.cuda.synchronize()  # the steps so far are training time, not the check's
    t0 = time.perf_counter()
    train_s = run.train_s + (t0 - win.t0)
    logits = predict_logits(run.model, run.splits.test_x, EVAL_BATCH)
    correct = int((logits.argmax(1) == run.splits.test_y).sum())  # syncs
    accuracy = correct / len(run.splits.test_y)
    dt = time.perf_counter() - t0
    win.t0 += dt
    run.eval_s += dt
    run.last_test = accuracy  # a stop before the next step reports these weights' accuracy
    return AccuracyCheck(run.step, epoch, accuracy, train_s)


class _BackgroundChecks:
    """Test checks on a copy of the weights, in a thread of their own on the CPUs that training
    leaves idle, while training goes on: each still measures all 10,000 test digits with the
    weights of its step, stamped with the training seconds up to that step.

    Why: the app trains a job with 1 thread on 2 cores (`JobManager.threads_per_job` keeps a
    core for the web server), and the Race to 99%'s checks, every 24 steps and each about as
    long as those 24 steps (0.6 s), ran in line: about as much wall time as the training
    itself. Beside it, on the other core, the 99% star came 12.0 s after the start instead of
    19.5 s (`fit` of the speedrun, seed 0, 1 thread, in one process; 2-core CPU at load 1.1),
    and in the app 12.5 s after Start instead of 17.4 s (`python -m bench feel --only race`).
    Only what the CPUs training leaves idle is used: a machine whose torch threads fill
    every usable CPU (the command line) checks in line, as before.

    One check at a time: a check due while the last is still running waits for it, and that
    wait is not training time (as an in-line check's own time is not). The copy's eval mode
    and memory format are its own, so the model being trained is never touched by it.
    """

    def __init__(self, model: nn.Module, threads: int) -> None:
        self.model = copy.deepcopy(model).eval()
        self.pool = ThreadPoolExecutor(
            1, "mnist-test-check", initializer=_check_thread, initargs=(threads,)
        )
        self.pending: Future[tuple[float, float]] | None = None
        self.meta: tuple[int, float, float] = (0, 0.0, 0.0)  # step, epoch, train seconds

    def submit(self, run: _Run, win: _Window, epoch: float) -> None:
        """Start the check of the weights after step `run.step` (their copy is taken here)."""
        t0 = time.perf_counter()
        train_s = run.train_s + (t0 - win.t0)
        self.model.load_state_dict(run.model.state_dict())
        self.meta = (run.step, epoch, train_s)
        x, y = run.splits.test_x, run.splits.test_y
        self.pending = self.pool.submit(_accuracy, self.model, x, y)
        win.t0 += time.perf_counter() - t0  # the copy is the check's, not training's

    def collect(
        self, run: _Run, win: _Window | None = None, *, wait: bool = False
    ) -> Iterator[AccuracyCheck]:
        """The finished check's AccuracyCheck, if any (with `wait`, once the pending one is
        done; the wait is moved out of the training window `win`)."""
        pending = self.pending
        if pending is None or not (wait or pending.done()):
            return
        t0 = time.perf_counter()
        accuracy, seconds = pending.result()
        if win is not None:
            win.t0 += time.perf_counter() - t0
        self.pending = None
        step, epoch, train_s = self.meta
        run.eval_s += seconds
        run.last_test = accuracy
        yield AccuracyCheck(step, epoch, accuracy, train_s)

    def close(self) -> None:
        self.pool.shutdown(wait=True)


def _check_thread(threads: int) -> None:
    """The check thread: `threads` torch threads, at a lower priority than training and the web
    server (Linux sets a thread's nice value by its id; elsewhere it keeps its priority), so
    that checks take only CPU time nobody else wants. At the same priority they took it from
    training on a busy machine: the race's 7.9-11.6 s of training to 99% became 14.9-20.2 s
    (/tmp A/B of `fit` in one process, in line vs beside, load average 4.5-5.8)."""
    set_thread_count(threads)
    with contextlib.suppress(AttributeError, OSError):
        me = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, me, os.getpriority(os.PRIO_PROCESS, me) + CHECK_NICE)


def _accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    """The test accuracy of `model` on (x, y) and the seconds it took."""
    t0 = time.perf_counter()
    logits = predict_logits(model, x, EVAL_BATCH)
    accuracy = int((logits.argmax(1) == y).sum()) / len(y)
    return accuracy, time.perf_counter() - t0


def _early_log(step: int, config: TrainConfig) -> bool:
    """Whether to log after `step` besides every `log_every` steps: steps 1, 2, 4, 8... up to
    `log_every`, so that the curves appear after the first step and are seen growing at
    once, even when `log_every` steps take seconds (a few extra syncs on a GPU)."""
    return step <= config.log_every and (step & (step - 1) == 0 or step == config.log_every)


def _forward(run: _Run, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The batch `idx` (B,) int64 through the model: logits (B,10), labels (B,), the loss.
    Sets this step's learning rate."""
    config, splits = run.config, run.splits
    x = splits.train_x[idx].unsqueeze(1).float().div_(255)  # (B,1,28,28) in [0,1]
    y = splits.train_y[idx]  # (B,)
    if config.aug_stroke:  # before the geometry, so a stroke keeps its width when zoomed
        x = random_stroke_width(x, amount=config.aug_stroke, generator=run.gen)
    if config.aug_elastic:
        x = random_elastic(x, alpha=config.aug_elastic, generator=run.gen)
    if config.affine_augments:
        x = random_affine(
            x,
            rotation=config.aug_rotation,
            translate=config.aug_translate,
            scale=config.aug_scale,
            generator=run.gen,
        )
    if run.channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    run.lr = (run.control.lr or config.lr) * run.schedule.factor(run.step)
    for g in run.opt.param_groups:
        g["lr"] = run.lr
    with torch.autocast("cuda", dtype=torch.bfloat16, enabled=run.cuda):
        logits = run.step_model(x)
    return logits, y, loss_fn(config, logits.float(), y)


def _log_window(
    run: _Run, win: _Window, epoch: float, layers: tuple[LayerDynamics, ...] = ()
) -> StepMetrics:
    """The StepMetrics of the window that ends now; starts the next window."""
    mean_loss = float(win.loss) / win.steps  # syncs the device
    window_s = time.perf_counter() - win.t0
    run.train_s += window_s
    metrics = StepMetrics(
        step=run.step,
        epoch=epoch,
        loss=mean_loss,
        lr=run.lr,
        images_per_s=win.images / max(window_s, 1e-9),
        train_seconds=run.train_s,
        layers=layers,
    )
    win.loss.zero_()
    win.steps = win.images = 0
    win.t0 = time.perf_counter()
    return metrics


def _stopped(run: _Run, win: _Window, epoch: int) -> RunEnded:
    run.train_s += time.perf_counter() - win.t0
    return run.ended("stopped", f"Stopped at step {run.step:,} of {run.total_steps:,}.", epoch - 1)


def _check_weights(run: _Run, epoch: int) -> RunEnded | None:
    """A RunEnded "diverged" when some weight is NaN or infinite, else None.

    The loss is checked before each update, so the epoch's last update can turn the weights
    into NaN unseen; after the last epoch that run would "finish". One check per epoch (one
    device sync) catches it before the evaluation and the save."""
    finite = torch.stack([torch.isfinite(p).all() for p in run.model.parameters()]).all()
    return None if bool(finite) else run.diverged("the weights became NaN or infinite", epoch - 1)


def _evaluate_epoch(
    run: _Run, epoch: int, win: _Window
) -> Generator[EpochMetrics, None, RunEnded | None]:
    """Evaluate on held-out data (not counted as training time) and yield the EpochMetrics.
    Returns the RunEnded of a stop during the evaluation, else None."""
    config, splits = run.config, run.splits
    t0 = time.perf_counter()
    stop = lambda: run.control.stop_requested  # noqa: E731
    try:
        val = (
            evaluate(run.model, splits.val_x, splits.val_y, EVAL_BATCH, should_stop=stop)
            if len(splits.val_y)
            else None
        )
        test = (
            evaluate(run.model, splits.test_x, splits.test_y, EVAL_BATCH, should_stop=stop)
            if config.eval_test
            else None
        )
    except EvaluationInterrupted:
        run.eval_s += time.perf_counter() - t0
        return run.ended(
            "stopped", f"Stopped after step {run.step:,} of {run.total_steps:,}.", epoch - 1
        )
    run.eval_s += time.perf_counter() - t0
    run.last_val = val.accuracy if val else None
    run.last_test = test.accuracy if test else run.last_test
    run.test_is_current = test is not None
    run.schedule.on_epoch_end(val.loss if val else None)
    seen = min(run.n_train, run.steps_per_epoch * config.batch_size)
    yield EpochMetrics(
        epoch=epoch,
        step=run.step,
        train_loss=float(win.ep_loss) / run.steps_per_epoch,
        train_accuracy=float(win.ep_correct) / seen,
        val_loss=val.loss if val else None,
        val_accuracy=run.last_val,
        test_accuracy=test.accuracy if test else None,
        train_seconds=run.train_s,
        eval_seconds=run.eval_s,
        histograms=run.probe.histograms() if run.probe else (),
    )
    return None

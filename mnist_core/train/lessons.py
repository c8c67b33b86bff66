"""The Start here page's lessons: each one experiment of the tutorials this project grew from,
as plain data (the runs to train, what to watch for) and a pure check that turns the finished
runs into a sentence with their own numbers.

Every run is short on purpose: a lesson's runs, one after another through the job queue, end
within two minutes on a 2-core CPU, yet still show what the lesson teaches (seed 0). The seconds
each lesson says it takes (`Lesson.local_s`, `hosted_s`): `local_s` was measured in the browser
on the 2-core machine, Run it to the check (`python -m pytest -s tests/e2e/test_e2e_lessons.py`
prints it; a quiet machine, 2026-12-07: 5, 10, 62, 3, 5 and 6 s), and `hosted_s` is that times
1.4, the hosted demo's measured slow-down of a run on its one CPU (45 s vs 33 s, README:
Settings): an estimate, not a measurement on the hosted demo itself. Training alone, pinned to
one core (`taskset -c 0 python -m pytest -s tests/test_lessons.py`), took 3.3, 8.2, 0.6, 1.9 and
3.2 s for the five short lessons.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from mnist_core.errors import MnistError
from mnist_core.explain.layers import activations, describe_layers
from mnist_core.models.functional import largest_difference
from mnist_core.train.config import TrainConfig
from mnist_core.train.events import EpochMetrics, StepMetrics
from mnist_core.train.record import RunRecord
from mnist_core.words import count_of

__all__ = [
    "LESSONS",
    "MORE_PAGES",
    "Lesson",
    "LessonError",
    "LessonRun",
    "Outcome",
    "RunResult",
    "find_lesson",
    "first_digits",
]

# The pages a lesson's result can send a visitor to, for more of what it showed.
MORE_PAGES = ("compare", "mistakes", "inside", "draw")
# The overfitting lesson says when train accuracy pulled this far ahead of test accuracy.
GAP_POINTS = 5.0


class LessonError(MnistError):
    """A lesson cannot be checked: a run it needs is missing or did not end as it must."""


@dataclass(frozen=True)
class LessonRun:
    """One run of a lesson: `label` (how the lesson names it, e.g. "without dropout") and the
    `config` it trains."""

    label: str
    config: TrainConfig

    def __post_init__(self) -> None:
        if not self.label.strip():
            raise LessonError("A lesson's run needs a label.")


@dataclass(frozen=True)
class RunResult:
    """What a lesson reads of one finished run: how it ended and its curves."""

    label: str
    status: str  # finished, stopped, failed or diverged
    epochs: tuple[EpochMetrics, ...]
    steps: tuple[StepMetrics, ...]
    test_accuracy: float | None  # of the final weights (None when it never got there)
    n_params: int = 0

    @classmethod
    def of_record(cls, label: str, record: RunRecord, status: str | None = None) -> RunResult:
        """The result of a run kept in a `RunRecord` (the command line's, a test's);
        `status`: the run's when it differs from the record's end (e.g. a job that failed)."""
        ended = record.ended
        return cls(
            label=label,
            status=status or (ended.status if ended else "stopped"),
            epochs=tuple(record.epochs),
            steps=tuple(record.steps),
            test_accuracy=ended.test_accuracy if ended else None,
            n_params=record.started.n_params if record.started else 0,
        )


@dataclass(frozen=True)
class Outcome:
    """Everything a lesson's check reads: each run's `results` by label; `model`, the first
    run's saved model (CPU), for the lessons that look inside it; `digits` (B, 28, 28) in
    [0, 1], the digits it looks at, `digits[0]` described by `digit_caption` (e.g. "test
    digit #0, a 7"); `pretrained`, the shipped models' test accuracy by architecture."""

    results: Mapping[str, RunResult]
    model: nn.Module | None = None
    digits: np.ndarray | None = None
    digit_caption: str = ""
    pretrained: Mapping[str, float] = field(default_factory=dict)

    def run(self, label: str) -> RunResult:
        result = self.results.get(label)
        if result is None:
            raise LessonError(f"The run {label!r} of this lesson is missing: run the lesson again.")
        return result

    def finished(self, label: str) -> RunResult:
        """The run `label`, which must have finished with epochs measured."""
        result = self.run(label)
        if result.status != "finished" or not result.epochs:
            raise LessonError(
                f"The run {label!r} ended {result.status}, not finished: run the lesson again."
            )
        return result

    def needs_model(self) -> tuple[nn.Module, np.ndarray]:
        if self.model is None or self.digits is None or not len(self.digits):
            raise LessonError("This lesson needs its trained model and a digit: run it again.")
        return self.model, self.digits


@dataclass(frozen=True)
class Lesson:
    """One lesson: `key` (its anchor on the page), `title`, `source` (the tutorial it comes
    from), `watch` (what to watch for, 3-6 sentences), `runs` (trained in this order),
    `check` (finished runs -> a sentence with their numbers), `more` (the page that shows more:
    one of MORE_PAGES), `local_s` and `hosted_s` (seconds its runs took, end to end, on the
    2-core machine and on one CPU like the hosted demo's, as measured: the lesson says them)."""

    key: str
    title: str
    source: str
    watch: str
    runs: tuple[LessonRun, ...]
    check: Callable[[Outcome], str] = field(repr=False)
    more: str
    local_s: int
    hosted_s: int

    def __post_init__(self) -> None:
        if not self.key or not self.key.replace("-", "").isalnum() or self.key != self.key.lower():
            raise LessonError(f"A lesson key is lower-case letters and dashes, not {self.key!r}.")
        if not self.runs:
            raise LessonError(f"The lesson {self.title!r} has no runs.")
        labels = [r.label for r in self.runs]
        if len(set(labels)) != len(labels):
            raise LessonError(f"The lesson {self.title!r} names two runs alike: {labels}.")
        if self.more not in MORE_PAGES:
            raise LessonError(f"A lesson links to one of {MORE_PAGES}, not {self.more!r}.")
        sentences = self.watch.count(". ") + 1
        if not 3 <= sentences <= 6:
            raise LessonError(
                f"{self.title!r}: say what to watch in 3-6 sentences, not {sentences}."
            )

    def run_name(self, run: LessonRun) -> str:
        """The name the run gets on Train, Models and Compare, e.g. "Overfitting · with
        dropout"."""
        return f"{self.title} · {run.label}"


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.1f}%"


def _cfg(model: str, **settings: Any) -> TrainConfig:
    """A lesson's run: `settings` on plain defaults (no recipe: a lesson changes what it
    teaches and nothing else), 1,000 validation images and a loss point every 5 steps."""
    base: dict[str, Any] = dict(
        weight_decay=0.0, label_smoothing=0.0, val_size=1000, log_every=5, schedule="constant"
    )
    return TrainConfig.from_dict({**base, **settings, "model": model})


# ---- 1. What a loss is ------------------------------------------------------------------------
# The first tutorial: 784-256-64-10, mean squared error on one-hot targets, plain SGD with
# momentum. 20,000 images for 4 epochs: 9 s here, the loss falls ~8x and accuracy passes 90%.
_LOSS_RUN = "MSE with SGD"


def _check_loss(o: Outcome) -> str:
    r = o.finished(_LOSS_RUN)
    first, last = r.steps[0], r.steps[-1]
    accs = [e.test_accuracy for e in r.epochs]
    fell = last.loss < first.loss
    return (
        f"The loss {'fell' if fell else 'did not fall'}: from {first.loss:.3f} at step "
        f"{first.step:,} to {last.loss:.3f} at step {last.step:,}"
        + (f" ({first.loss / last.loss:.0f}x lower)" if fell and last.loss > 0 else "")
        + f", while test accuracy went from {_pct(accs[0])} after epoch 1 to "
        f"{_pct(r.test_accuracy)} after epoch {len(r.epochs)}: "
        + (
            "as the loss falls the model gets more digits right."
            if fell and (r.test_accuracy or 0) > (accs[0] or 0)
            else "this time the two did not move together; run it again."
        )
    )


# ---- 2. Overfitting -----------------------------------------------------------------------
# The second tutorial: 1,000 training images, the same MLP with and without dropout (p=0.5),
# Adam at 1e-3 for 30 epochs of 32 steps: 7 s each here. Seed 0: train accuracy ends at 100.0%
# vs 89.6% test without dropout, 97.5% vs 89.6% with it (tests/test_lessons.py prints them).
_NO_DROPOUT, _DROPOUT = "without dropout", "with dropout"


def _gap(e: EpochMetrics) -> float:
    """Train minus test accuracy, in percentage points."""
    return 100 * (e.train_accuracy - (e.test_accuracy or 0.0))


def _check_overfitting(o: Outcome) -> str:
    plain, dropout = o.finished(_NO_DROPOUT), o.finished(_DROPOUT)
    a, b = plain.epochs[-1], dropout.epochs[-1]
    opened = next((e for e in plain.epochs if _gap(e) > GAP_POINTS), None)
    when = (
        f"Without dropout, train accuracy pulled more than {GAP_POINTS:.0f} points ahead of "
        f"test accuracy at epoch {opened.epoch} ({_pct(opened.train_accuracy)} vs "
        f"{_pct(opened.test_accuracy)}) and"
        if opened
        else "Without dropout, train accuracy"
    )
    narrower = _gap(b) < _gap(a)
    return (
        f"{when} ended at {_pct(a.train_accuracy)} vs {_pct(a.test_accuracy)}: a gap of "
        f"{_gap(a):.1f} points. With dropout it ended at {_pct(b.train_accuracy)} vs "
        f"{_pct(b.test_accuracy)}, a gap of {_gap(b):.1f} points: "
        + (
            f"dropout narrowed the gap by {_gap(a) - _gap(b):.1f} points."
            if narrower
            else "this time dropout did not narrow it."
        )
    )


# ---- 3. From LeNet-5 to a residual network --------------------------------------------------
# The third tutorial's ingredients, each run short (8,000 images, 3 epochs, test measured at the
# end only: a ResNet epoch of evaluation costs as much as 5,000 training images here). AdamW at
# 2e-3: at the recipe's 8e-3 with a constant rate the ResNet's final weights jumped about (85.5%
# test after 97% validation). The full recipe's figure is the shipped checkpoint's, which the
# check quotes as such.
_LENET, _RESNET, _RESNET_AUG = "LeNet-5", "ResNet + BatchNorm", "ResNet + BatchNorm + augmentation"


def _check_resnet(o: Outcome) -> str:
    lenet, res, aug = o.finished(_LENET), o.finished(_RESNET), o.finished(_RESNET_AUG)
    acc = {r.label: r.test_accuracy or 0.0 for r in (lenet, res, aug)}
    d_res = 100 * (acc[_RESNET] - acc[_LENET])
    d_aug = 100 * (acc[_RESNET_AUG] - acc[_RESNET])
    full = o.pretrained.get("resnet")
    tail = (
        f" The full recipe (15 epochs on all 55,000 images and 5,000 drawn digits, shipped as "
        f"the pretrained ResNet) reaches {_pct(full)}: that figure is the shipped model's, not "
        "this lesson's."
        if full
        else ""
    )
    return (
        f"In these short runs LeNet-5 reached {_pct(acc[_LENET])} test accuracy, the residual "
        f"network with BatchNorm and the plateau schedule {_pct(acc[_RESNET])} "
        f"({d_res:+.1f} points), and with augmentation too {_pct(acc[_RESNET_AUG])} "
        f"({d_aug:+.1f} points): "
        + (
            "augmentation already helps in 3 epochs."
            if d_aug > 0
            else "in 3 epochs augmentation does not pay yet (the model sees harder digits); "
            "it does over longer runs."
        )
        + tail
    )


# ---- 4. Inside the module ---------------------------------------------------------------------
_MODULE_RUN = "MLP"


def _check_module(o: Outcome) -> str:
    r = o.finished(_MODULE_RUN)
    model, digits = o.needs_model()
    weighted = [info for info in describe_layers(model) if info.params]
    total = sum(info.params for info in weighted)
    share = 100 * weighted[0].params / total
    per_layer = ", ".join(f"{info.params:,}" for info in weighted)
    diff = largest_difference(model, digits)
    same = "exactly the same" if diff == 0 else f"the same to within {diff:.1g} (rounding)"
    return (
        f"This MLP ({_pct(r.test_accuracy)} test accuracy) has {total:,} parameters: "
        f"{per_layer} in its {len(weighted)} Linear layers, {share:.0f}% "
        f"of them in the first, whose {weighted[0].shape[0]} units each weigh the 784 pixels "
        f"(the images below). Written as functions (F.linear and F.relu on the same weights), "
        f"it gives {same} logits as the module on {count_of(len(digits), 'test digit')}."
    )


# ---- 5. The learning rate ------------------------------------------------------------------------
# SGD with momentum 0.9 on the MLP, 10,000 images for 3 epochs: at 0.0005 the loss is still ~1
# at the end (80%), at 0.05 it reaches 94%, at 1 the loss becomes infinite by step ~20.
_LR_SMALL, _LR_RIGHT, _LR_LARGE = "too small", "about right", "too large"


@dataclass(frozen=True)
class _LrRun:
    label: str
    config_lr: float


_LR_RUNS = (_LrRun(_LR_SMALL, 5e-4), _LrRun(_LR_RIGHT, 0.05), _LrRun(_LR_LARGE, 1.0))


def _lr_phrase(r: RunResult, lr: float) -> str:
    if r.status == "diverged" or not r.steps:
        peak = max((s.loss for s in r.steps if math.isfinite(s.loss)), default=float("nan"))
        at = r.steps[-1].step if r.steps else 0
        return (
            f"at {lr:g} it diverged: the loss grew to {peak:.3g} by step {at:,} and training "
            "stopped"
        )
    return (
        f"at {lr:g} the loss went from {r.steps[0].loss:.2f} to {r.steps[-1].loss:.2f} "
        f"({_pct(r.test_accuracy)} test accuracy)"
    )


def _check_lr(o: Outcome) -> str:
    small, right, large = o.run(_LR_SMALL), o.run(_LR_RIGHT), o.run(_LR_LARGE)
    lrs = {r.label: r.config_lr for r in _LR_RUNS}
    for r in (small, right):
        if r.status != "finished":
            raise LessonError(f"The run {r.label!r} ended {r.status}: run the lesson again.")
    verdict = (
        "too small learns slowly, too large blows up."
        if large.status == "diverged" and (right.test_accuracy or 0) > (small.test_accuracy or 0)
        else "this time the three did not come out in that order; run it again."
    )
    return (
        f"In {count_of(len(right.epochs), 'epoch')}, {_lr_phrase(small, lrs[_LR_SMALL])}; "
        f"{_lr_phrase(right, lrs[_LR_RIGHT])}; {_lr_phrase(large, lrs[_LR_LARGE])}: {verdict}"
    )


# ---- 6. What the network sees ----------------------------------------------------------------
_SEES_RUN = "LeNet-5"


def _check_sees(o: Outcome) -> str:
    r = o.finished(_SEES_RUN)
    model, digits = o.needs_model()
    acts = activations(model, digits[:1])
    probs = acts.probabilities[0]
    guess = int(probs.argmax())
    maps = [
        f"{info.shape[0]} maps of {info.shape[1]}×{info.shape[2]}"
        for info in acts.layers
        if info.kind == "Conv2d"
    ]
    dense = [str(info.shape[0]) for info in acts.layers if info.kind == "Linear"]
    return (
        f"This LeNet-5 ({_pct(r.test_accuracy)} test accuracy) reads {o.digit_caption} as a "
        f"{guess}, {probs[guess]:.0%} sure. On the way the digit becomes "
        f"{' then '.join(maps)} (its convolutions), then {', '.join(dense)} numbers (its "
        f"fully connected layers, the last one a score per digit): {len(acts.layers)} layers "
        "in all, each drawn below."
    )


# Shared by the lessons on the MLP of the first tutorial.
_MLP = dict(model_kwargs={"hidden": (256, 64), "dropout": 0.0})

LESSONS: tuple[Lesson, ...] = (
    Lesson(
        key="loss",
        title="What a loss is",
        source="the first tutorial",
        watch=(
            "The loss is one number that says how wrong the model is on the images it just saw: "
            "here the squared distance between its ten outputs and the right answer written as "
            "ten numbers (a 1 for the right digit, 0 for the others). Training nudges every "
            "weight a little downhill on that number (stochastic gradient descent, with "
            "momentum to keep going in the same direction). Watch the loss curve fall steeply, "
            "then flatten, while the accuracy curve rises. A falling loss is the model learning."
        ),
        runs=(
            LessonRun(
                _LOSS_RUN,
                _cfg(
                    "mlp",
                    **_MLP,
                    loss="mse",
                    optimizer="sgd",
                    lr=0.1,
                    momentum=0.9,
                    batch_size=64,
                    epochs=4,
                    train_subset=20_000,
                ),
            ),
        ),
        check=_check_loss,
        more="mistakes",
        local_s=5,
        hosted_s=7,
    ),
    Lesson(
        key="overfitting",
        title="Overfitting",
        source="the second tutorial",
        watch=(
            "With only 1,000 training images the network can learn them by heart instead of "
            "learning what a digit looks like. Two runs train the same network, one with "
            "dropout (half of the hidden units switched off at random at each step, so that no "
            "unit can rely on another). Watch train accuracy (dotted) race towards 100% while "
            "test accuracy (solid), on digits it never saw, stays behind: the gap between "
            "them is overfitting. Dropout should keep the gap smaller."
        ),
        runs=tuple(
            LessonRun(
                label,
                _cfg(
                    "mlp",
                    model_kwargs={"hidden": (256, 64), "dropout": p},
                    optimizer="adam",
                    lr=1e-3,
                    batch_size=32,
                    epochs=30,
                    train_subset=1000,
                ),
            )
            for label, p in ((_NO_DROPOUT, 0.0), (_DROPOUT, 0.5))
        ),
        check=_check_overfitting,
        more="compare",
        local_s=10,
        hosted_s=14,
    ),
    Lesson(
        key="resnet",
        title="From LeNet-5 to a residual network",
        source="the third tutorial",
        watch=(
            "LeNet-5 (1998) reads a digit with two small convolutions; the residual network "
            "adds BatchNorm (which keeps each layer's numbers in a steady range) and shortcuts "
            "that let the signal skip layers, and it halves its learning rate whenever the "
            "validation loss stops improving. Augmentation then shows it each digit slightly "
            "turned, shifted and zoomed. Watch the validation accuracy of the three runs: what "
            "each ingredient buys in a short run. The full recipe needs far longer than a "
            "lesson; its figure comes from the shipped model."
        ),
        runs=(
            LessonRun(
                _LENET,
                _cfg(
                    "lenet5",
                    optimizer="adamw",
                    lr=3e-3,
                    epochs=3,
                    train_subset=8000,
                    eval_test=False,
                ),
            ),
            *(
                LessonRun(
                    label,
                    _cfg(
                        "resnet",
                        optimizer="adamw",
                        lr=2e-3,
                        schedule="plateau",
                        epochs=3,
                        train_subset=8000,
                        eval_test=False,
                        **aug,
                    ),
                )
                for label, aug in (
                    (_RESNET, {}),
                    (_RESNET_AUG, dict(aug_rotation=10.0, aug_translate=0.1, aug_scale=0.1)),
                )
            ),
        ),
        check=_check_resnet,
        more="compare",
        local_s=62,
        hosted_s=87,
    ),
    Lesson(
        key="module",
        title="Inside the module",
        source="the fourth tutorial",
        watch=(
            "A network is a list of layers, and each layer is a few tensors of parameters and "
            "a function of them. The table counts the parameters of each layer: almost all sit "
            "in the first, which connects every one of the 784 pixels to each of its units. "
            "Each first-layer unit's weights, drawn as a 28×28 image, show the pattern of ink "
            "it responds to. Written as plain functions on the same weights, the network gives "
            "the same outputs: a module is just bookkeeping around those functions."
        ),
        runs=(
            LessonRun(
                _MODULE_RUN,
                _cfg(
                    "mlp",
                    **_MLP,
                    optimizer="adamw",
                    lr=2e-3,
                    batch_size=128,
                    epochs=2,
                    train_subset=10_000,
                ),
            ),
        ),
        check=_check_module,
        more="inside",
        local_s=3,
        hosted_s=4,
    ),
    Lesson(
        key="learning-rate",
        title="The learning rate",
        source="the playground's own experiment",
        watch=(
            "The learning rate sets how far each step moves the weights. Three runs of the "
            "same network differ in it alone, overlaid on one loss chart (log scale). Too "
            "small, and the loss creeps down; about right, and it falls fast; too large, and "
            "each step overshoots further than the last until the numbers overflow: training "
            "diverges and stops."
        ),
        runs=tuple(
            LessonRun(
                r.label,
                _cfg(
                    "mlp",
                    **_MLP,
                    optimizer="sgd",
                    lr=r.config_lr,
                    momentum=0.9,
                    batch_size=64,
                    epochs=3,
                    train_subset=10_000,
                ),
            )
            for r in _LR_RUNS
        ),
        check=_check_lr,
        more="compare",
        local_s=5,
        hosted_s=7,
    ),
    Lesson(
        key="sees",
        title="What the network sees",
        source="the Inside page",
        watch=(
            "A trained LeNet-5 reads one digit: your last drawing from the Draw page, or a "
            "test digit when you have not drawn one. Each layer turns the digit into new "
            "pictures: the first convolution's maps light up along edges and strokes, deeper "
            "ones on larger parts of the digit. The last layer gives a score per digit, and "
            "the highest score is the answer."
        ),
        runs=(
            LessonRun(
                _SEES_RUN,
                _cfg(
                    "lenet5",
                    optimizer="adamw",
                    lr=3e-3,
                    schedule="onecycle",
                    epochs=2,
                    train_subset=10_000,
                ),
            ),
        ),
        check=_check_sees,
        more="inside",
        local_s=6,
        hosted_s=8,
    ),
)


def find_lesson(key: str) -> Lesson:
    """The lesson `key` (LessonError listing them otherwise)."""
    for lesson in LESSONS:
        if lesson.key == key:
            return lesson
    raise LessonError(
        f"There is no lesson {key!r}: choose one of {', '.join(x.key for x in LESSONS)}."
    )


def first_digits(images: torch.Tensor | np.ndarray, n: int = 100) -> np.ndarray:
    """The first `n` of uint8 or [0, 1] images (B, 28, 28) as float32 in [0, 1]."""
    x = torch.as_tensor(images[:n])
    return (x.float() / 255 if x.dtype == torch.uint8 else x.float()).numpy()

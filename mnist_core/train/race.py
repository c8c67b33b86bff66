"""Time to a target accuracy: when a run's test accuracy first reached, say, 99%.

The Race to 99% (issue 16), `train --target` and the benchmark all read it from the same
measurements: the end-of-epoch evaluations (`EpochMetrics`) and the test checks inside an
epoch (`AccuracyCheck`), each stamped with the training seconds behind it (evaluation excluded).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from mnist_core.models import get_spec
from mnist_core.train.config import TrainConfig
from mnist_core.train.events import AccuracyCheck, EpochMetrics
from mnist_core.train.recipes import preset_model, preset_settings

# The accuracies the app marks on a run's chart and keeps a visitor's best time for: the
# speedrun's and the 99.5% race's targets.
RACE_TARGETS: tuple[float, ...] = (0.99, 0.995)
# The presets that are races (mnist_core.train.recipes.PRESETS).
RACE_PRESETS: tuple[str, ...] = ("speedrun", "speedrun 99.5")
# What a racer may change and still be in the race: where it runs and how it is watched, not
# what is trained.
_OUTSIDE_THE_RACE = frozenset({"seed", "device", "threads", "log_every", "compile"})


def _what_is_trained(config: TrainConfig) -> dict[str, Any]:
    d = {k: v for k, v in config.to_dict().items() if k not in _OUTSIDE_THE_RACE}
    kwargs = {**get_spec(config.model).default_kwargs(), **d["model_kwargs"]}
    d["model_kwargs"] = {k: list(v) if isinstance(v, tuple) else v for k, v in kwargs.items()}
    return d


def race_of(config: TrainConfig) -> str | None:
    """The race preset that `config` runs, None when it is none: its architecture and every
    setting that decides what is trained are the preset's (issue 27, item 16: an ordinary run
    set the visitor's best race time)."""
    mine = _what_is_trained(config)
    for preset in RACE_PRESETS:
        theirs = TrainConfig.for_model(
            preset_model(preset, config.model), device=config.device, **preset_settings(preset)
        )
        if mine == _what_is_trained(theirs):
            return preset
    return None


@dataclass(frozen=True)
class AccuracyPoint:
    """One measurement of test accuracy during a run."""

    step: int
    epoch: float
    test_accuracy: float  # in [0, 1]
    train_seconds: float  # training time behind it, evaluations and pauses excluded


def accuracy_points(
    epochs: Iterable[EpochMetrics], checks: Iterable[AccuracyCheck] = ()
) -> list[AccuracyPoint]:
    """Every test accuracy the run measured, in step order (epochs without one are left out)."""
    points = [
        AccuracyPoint(e.step, float(e.epoch), e.test_accuracy, e.train_seconds)
        for e in epochs
        if e.test_accuracy is not None
    ]
    points += [AccuracyPoint(c.step, c.epoch, c.test_accuracy, c.train_seconds) for c in checks]
    return sorted(points, key=lambda p: p.step)


def first_reach(
    epochs: Iterable[EpochMetrics], checks: Iterable[AccuracyCheck], target: float
) -> AccuracyPoint | None:
    """The first measurement at or above `target` (a fraction, e.g. 0.99), or None."""
    return reaches(epochs, checks, (target,)).get(target)


def reaches(
    epochs: Iterable[EpochMetrics],
    checks: Iterable[AccuracyCheck] = (),
    targets: Iterable[float] = RACE_TARGETS,
) -> dict[float, AccuracyPoint]:
    """For each of `targets` the run reached, its first measurement at or above it."""
    points = accuracy_points(epochs, checks)
    out: dict[float, AccuracyPoint] = {}
    for target in targets:
        hit = next((p for p in points if p.test_accuracy >= target), None)
        if hit is not None:
            out[target] = hit
    return out

"""Time to a target accuracy: when a run's test accuracy first reached, say, 99%.

The Race to 99% (issue 16), `train --target` and the benchmark all read it from the same
measurements: the end-of-epoch evaluations (`EpochMetrics`) and the test checks inside an
epoch (`AccuracyCheck`), each stamped with the training seconds behind it (evaluation excluded).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from mnist_core.train.events import AccuracyCheck, EpochMetrics

# The accuracies the app marks on a run's chart and keeps a visitor's best time for: the
# speedrun's and the 99.5% race's targets.
RACE_TARGETS: tuple[float, ...] = (0.99, 0.995)


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

"""Whether a run that ended learned: a finished run near chance level, or whose validation loss
blew up, gets a sentence that says so and what to change (issue 27, item 7: ResNet at learning
rate 10 "Finished with 13.39% test accuracy" in a green box, with a validation loss of 60M).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from mnist_core.models import get_spec
from mnist_core.models.common import NUM_CLASSES
from mnist_core.train.config import TrainConfig
from mnist_core.train.events import EpochMetrics
from mnist_core.train.recipes import recipe
from mnist_core.words import count_of

__all__ = ["NEAR_CHANCE", "did_not_learn"]

CHANCE = 1 / NUM_CLASSES
# Under this test accuracy a 10-class run has learned next to nothing: guessing gets 10%, and
# every architecture's recipe passes 90% within its first epoch (bench/RESULTS.md).
NEAR_CHANCE = 0.2
# A validation loss this many times its best value means the weights blew up.
BLOW_UP = 10.0


def did_not_learn(
    config: TrainConfig, test_accuracy: float | None, epochs: Sequence[EpochMetrics]
) -> str | None:
    """Why a run that ended did not learn, and what to change; None when it learned (or when
    there is no measurement to tell)."""
    val = [e.val_loss for e in epochs if e.val_loss is not None and math.isfinite(e.val_loss)]
    blew_up = len(val) >= 2 and val[-1] > BLOW_UP * min(val)
    near_chance = test_accuracy is not None and test_accuracy < NEAR_CHANCE
    if not (blew_up or near_chance):
        return None
    what = []
    if near_chance:
        what.append(f"its test accuracy, {test_accuracy:.2%}, is close to guessing ({CHANCE:.0%})")
    if blew_up:
        what.append(f"its validation loss grew from {min(val):.3g} to {val[-1]:.3g}")
    title = get_spec(config.model).title
    usual = recipe(config.model).get("lr")
    if usual is not None and config.lr > 2 * usual:
        change = (
            f"The learning rate, {config.lr:g}, is too high for {title}: its recipe uses "
            f"{usual:g}. Try that, or a value up to ten times smaller."
        )
    elif usual is not None and config.lr < usual / 20:
        change = (
            f"The learning rate, {config.lr:g}, may be too low to learn in "
            f"{count_of(config.epochs, 'epoch')}: {title}'s recipe uses {usual:g}."
        )
    else:
        change = (
            f"Start from {title}'s recipe (the sidebar's Best accuracy preset) and change one "
            "setting at a time."
        )
    return f"This run did not learn: {' and '.join(what)}. {change}"

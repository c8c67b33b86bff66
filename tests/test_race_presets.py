"""Which runs are races (`race_of`): only they set the visitor's best race time (issue 27, item
16: an ordinary LeNet-5 run that passed 99% showed as "your best to 99.0%")."""

from __future__ import annotations

import pytest

from mnist_core.train.config import TrainConfig
from mnist_core.train.race import RACE_PRESETS, race_of
from mnist_core.train.recipes import preset_settings
from ui.train_form.fields import (
    config_from_widgets,
    option_defaults,
    recipe_values,
    widget_values,
)


@pytest.mark.parametrize("preset", RACE_PRESETS)
def test_a_race_started_from_train_or_the_command_line_is_that_race(preset: str) -> None:
    values, options = recipe_values("speednet", preset), option_defaults("speednet", preset)
    from_train = config_from_widgets(widget_values("speednet", values, options))
    from_cli = TrainConfig.for_model("speednet", **preset_settings(preset))
    assert race_of(from_train) == race_of(from_cli) == preset
    assert race_of(from_train.replace(seed=7, log_every=1)) == preset  # watched differently


@pytest.mark.parametrize(
    "config",
    [
        TrainConfig.for_model("lenet5"),  # passes 99% in its second epoch: not a race
        TrainConfig.for_model("speednet", epochs=2),
        TrainConfig.for_model("speednet", lr=0.05),
        TrainConfig.for_model("speednet", model_kwargs={"widths": [8, 16, 32]}),
    ],
)
def test_other_runs_are_not_races(config: TrainConfig) -> None:
    assert race_of(config) is None

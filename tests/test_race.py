"""Time to a target accuracy (mnist_core.train.race), the linear schedule, the speedrun presets."""

from __future__ import annotations

import pytest

from mnist_core.errors import ConfigError
from mnist_core.train.config import TrainConfig
from mnist_core.train.events import AccuracyCheck, EpochMetrics
from mnist_core.train.race import accuracy_points, first_reach, reaches
from mnist_core.train.recipes import PRESETS, find_preset, preset_model, preset_settings
from mnist_core.train.schedules import Schedule


def _epoch(epoch: int, step: int, test: float | None, seconds: float) -> EpochMetrics:
    return EpochMetrics(epoch, step, 0.1, 0.9, None, None, test, seconds, 1.0)


def test_first_reach_is_the_earliest_measurement_at_or_above_the_target() -> None:
    checks = [AccuracyCheck(10, 0.5, 0.985, 2.0), AccuracyCheck(30, 1.5, 0.9905, 6.5)]
    epochs = [_epoch(1, 20, 0.9899, 4.0), _epoch(2, 40, 0.993, 8.0)]
    points = accuracy_points(epochs, checks)
    assert [p.step for p in points] == [10, 20, 30, 40]
    hit = first_reach(epochs, checks, 0.99)
    assert hit is not None and (hit.step, hit.train_seconds, hit.epoch) == (30, 6.5, 1.5)
    assert first_reach(epochs, checks, 0.9899).step == 20  # at or above: equal counts
    assert first_reach(epochs, checks, 0.995) is None
    assert set(reaches(epochs, checks, (0.99, 0.995))) == {0.99}


def test_epochs_without_a_test_accuracy_are_left_out() -> None:
    assert accuracy_points([_epoch(1, 20, None, 4.0)]) == []
    assert first_reach([_epoch(1, 20, None, 4.0)], [], 0.5) is None


def test_linear_schedule_warms_up_over_a_fifth_then_falls_in_a_straight_line() -> None:
    s = Schedule("linear", total_steps=100, steps_per_epoch=100)
    assert s.factor(0) == pytest.approx(0.04)
    assert s.factor(20) == pytest.approx(1.0)  # the peak at 20% of the steps
    assert s.factor(60) == pytest.approx(1.0 - 0.999 * 0.5)
    assert s.factor(100) == pytest.approx(1e-3)
    rising = [s.factor(i) for i in range(21)]
    falling = [s.factor(i) for i in range(20, 101)]
    assert rising == sorted(rising) and falling == sorted(falling, reverse=True)


def test_speedrun_presets_train_the_speednet_whatever_was_chosen() -> None:
    assert preset_model("speedrun", "mlp") == "speednet"
    assert preset_model("quick look", "mlp") == "mlp"
    config = TrainConfig.for_model("speednet", **preset_settings("speedrun"))
    assert (config.epochs, config.schedule, config.eval_every) == (1, "linear", 24)
    assert config.channels_last and config.val_size == 0
    wide = TrainConfig.for_model("speednet", **preset_settings("speedrun 99.5"))
    assert tuple(wide.model_kwargs["widths"]) == (32, 64, 128) and wide.epochs == 4
    assert wide.augments
    assert "model" not in preset_settings("speedrun")
    assert "model" in PRESETS["speedrun"]  # the copy left the preset itself alone


@pytest.mark.parametrize("name", ["speedrun-99.5", "Speedrun_99.5", " speedrun 99.5 "])
def test_preset_names_as_typed_on_a_command_line(name: str) -> None:
    assert find_preset(name) == "speedrun 99.5"


def test_an_unknown_preset_lists_the_known_ones() -> None:
    with pytest.raises(ConfigError, match="'speedrun'"):
        find_preset("sprint")


@pytest.mark.parametrize(
    ("changes", "needle"),
    [
        ({"eval_every": -1}, "eval_every"),
        ({"eval_every": 2.5}, "whole number"),
        ({"channels_last": "yes"}, "true or false"),
        ({"schedule": "cosine"}, "schedule must be one of"),
    ],
)
def test_new_settings_refuse_nonsense(changes: dict, needle: str) -> None:
    with pytest.raises(ConfigError, match=needle):
        TrainConfig(**changes)


def test_the_checks_count_in_a_runs_evaluated_images() -> None:
    # 60,000 images at batch 128: 469 steps; a check every 24 steps: 19 inside the epoch.
    config = TrainConfig.for_model("speednet", **preset_settings("speedrun"))
    assert config.steps_per_epoch == 469 and config.checks_per_epoch == 19
    assert config.eval_images(0, 10_000) == 20 * 10_000  # 19 checks and the epoch's end
    plain = config.replace(eval_every=0, eval_test=False)
    assert plain.checks_per_epoch == 0 and plain.eval_images(0, 10_000) == 10_000  # final test

"""The options that `train` and `sweep` share, and the TrainConfig they make.

Every TrainConfig field but `model` is a --option of both commands (its help, range and
choices come from the field's metadata); `train_config` turns the parsed options into a
config: the architecture's recipe, then the preset, then every option given.
"""

from __future__ import annotations

import argparse
from dataclasses import fields

from mnist_core.errors import ConfigError
from mnist_core.train.config import TrainConfig, parse_value
from mnist_core.train.recipes import find_preset, preset_model, preset_settings

__all__ = ["CONFIG_FLAGS", "flag", "target_fraction", "train_config"]

# TrainConfig fields that `train` and `sweep` expose as --options (model has its own flag).
CONFIG_FLAGS = [f for f in fields(TrainConfig) if f.name != "model"]


def flag(name: str) -> str:
    """The --option of a config field: `batch_size` -> `--batch-size`."""
    return "--" + name.replace("_", "-")


def train_config(args: argparse.Namespace) -> TrainConfig:
    """The TrainConfig of `train`'s options: the architecture's recipe, then the preset, then
    every option given. Raises ConfigError."""
    overrides = {
        f.name: parse_value(f.name, getattr(args, f.name))
        for f in CONFIG_FLAGS
        if getattr(args, f.name) is not None
    }
    model = args.model
    if args.preset:
        preset = find_preset(args.preset)
        model = model or preset_model(preset, "")  # a --model given wins, as every option does
        overrides = {**preset_settings(preset), **overrides}
    if not model:
        raise ConfigError("Choose an architecture with --model (or a --preset that has one).")
    return TrainConfig.for_model(model, **overrides)


def target_fraction(text: str | None) -> float | None:
    """--target as a fraction: 0.99 and 99 both mean 99%. Raises ConfigError."""
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if 1 < value <= 100:
        value /= 100
    if not 0 < value <= 1:
        raise ConfigError(f"--target must be an accuracy such as 0.99 or 99, got {text!r}")
    return value

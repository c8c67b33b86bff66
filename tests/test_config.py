"""TrainConfig validation, recipes and text parsing."""

import dataclasses

import pytest

from mnist_core.errors import ConfigError
from mnist_core.train.config import TrainConfig, parse_value


def test_each_model_has_a_valid_recipe():
    for name in ("mlp", "lenet5", "resnet"):
        c = TrainConfig.for_model(name)
        assert c.model == name and c.epochs >= 1 and c.lr > 0


def test_mlp_recipe_does_not_augment_by_default():
    assert not TrainConfig.for_model("mlp").augments
    assert TrainConfig.for_model("resnet").augments


def test_frozen():
    c = TrainConfig()
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.lr = 1.0


@pytest.mark.parametrize(
    ("changes", "needle"),
    [
        ({"lr": 0.0}, "learning rate"),
        ({"lr": -1.0}, "learning rate"),
        ({"lr": float("nan")}, "learning rate"),
        ({"epochs": 0}, "epochs"),
        ({"epochs": 2.5}, "whole number"),
        ({"model": "vgg"}, "Choose one of"),
        ({"optimizer": "rmsprop"}, "optimizer must be one of"),
        ({"batch_size": 2000, "train_subset": 1000}, "larger than the training set"),
        ({"train_subset": 55_000, "val_size": 10_000}, "images left"),
        ({"model_kwargs": {"hidden": [0]}, "model": "mlp"}, "hidden"),
        ({"eval_test": "yes"}, "true or false"),
    ],
)
def test_nonsense_is_rejected_with_an_actionable_message(changes, needle):
    with pytest.raises(ConfigError) as e:
        TrainConfig(**{"model": "lenet5", **changes})
    assert needle in str(e.value)


def test_round_trip_through_dict():
    c = TrainConfig.for_model("mlp", model_kwargs={"hidden": [128, 32]}, epochs=2)
    d = c.to_dict()
    assert d["model_kwargs"]["hidden"] == (128, 32)
    assert TrainConfig.from_dict(d) == c


def test_unknown_key_lists_valid_settings():
    with pytest.raises(ConfigError) as e:
        TrainConfig.from_dict({"model": "mlp", "learning_rate": 1})
    assert "learning_rate" in str(e.value) and "lr" in str(e.value)


def test_parse_value():
    assert parse_value("lr", "0.01") == 0.01
    assert parse_value("epochs", "3") == 3
    assert parse_value("train_subset", "none") is None
    assert parse_value("eval_test", "off") is False
    assert parse_value("model_kwargs", '{"hidden": [64]}') == {"hidden": [64]}
    for name, text in [("lr", "abc"), ("epochs", "1.5"), ("lr", "inf"), ("model_kwargs", "[1]")]:
        with pytest.raises(ConfigError):
            parse_value(name, text)

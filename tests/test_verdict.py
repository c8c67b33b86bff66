"""A run that ended without learning says so, and what to change (issue 27, item 7: ResNet at
learning rate 10 ended in a green "Finished with 13.39% test accuracy")."""

from __future__ import annotations

from mnist_core.data.mnist import MnistRaw
from mnist_core.train.config import TrainConfig
from mnist_core.train.events import EpochMetrics, RunEnded
from mnist_core.train.loop import fit
from mnist_core.train.verdict import did_not_learn


def _train(raw: MnistRaw, **settings) -> tuple[TrainConfig, float | None, list[EpochMetrics]]:
    config = TrainConfig.for_model(
        "mlp", epochs=2, train_subset=2000, val_size=1000, eval_test=True, **settings
    )
    epochs: list[EpochMetrics] = []
    ended = None
    for event in fit(config, raw):
        if isinstance(event, EpochMetrics):
            epochs.append(event)
        elif isinstance(event, RunEnded):
            ended = event
    assert ended is not None and ended.status == "finished"
    return config, epochs[-1].test_accuracy, epochs


def test_a_run_at_a_far_too_high_learning_rate_is_told_so(mnist_raw: MnistRaw) -> None:
    config, accuracy, epochs = _train(mnist_raw, lr=3.0)  # Adam; the MLP's recipe uses 0.002
    said = did_not_learn(config, accuracy, epochs)
    assert said is not None and said.startswith("This run did not learn: its test accuracy")
    assert "close to guessing (10%)" in said
    assert "The learning rate, 3, is too high for MLP: its recipe uses 0.002." in said


def test_a_run_that_learned_gets_no_verdict(mnist_raw: MnistRaw) -> None:
    config, accuracy, epochs = _train(mnist_raw)
    assert accuracy is not None and accuracy > 0.8
    assert did_not_learn(config, accuracy, epochs) is None


def test_a_validation_loss_that_blew_up_is_named() -> None:
    config = TrainConfig.for_model("resnet", lr=10.0)
    epochs = [
        EpochMetrics(e, 100 * e, 2.3, 0.1, loss, 0.1, None, 1.0 * e, 0.1 * e)
        for e, loss in ((1, 4.1e3), (2, 6.0e7))
    ]
    said = did_not_learn(config, 0.1339, epochs)
    assert said is not None
    assert "its validation loss grew from 4.1e+03 to 6e+07" in said
    assert "is too high for ResNet" in said

"""Stroke-drawn training digits (`TrainConfig.synthetic`): MNIST-style, balanced, seeded, from
a stream the benchmark's seeds never reproduce, appended to the training set only."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bench import drawn
from mnist_core.data.mnist import make_splits
from mnist_core.digits.strokes import BENCH_SEEDS, HAND_FAMILIES, synthetic_digits
from mnist_core.train.config import TrainConfig
from mnist_core.train.loop import with_synthetic


def test_synthetic_digits_look_like_mnist_and_are_seeded() -> None:
    images, labels = synthetic_digits(60, 3)
    assert images.shape == (60, 28, 28) and images.dtype == np.uint8
    assert np.bincount(labels, minlength=10).tolist() == [6] * 10
    assert (images.reshape(60, -1).max(1) > 200).all()  # every digit has full ink
    assert images[:, 0, :].max() == 0  # black border, as MNIST's 20x20 box in 28x28
    again, _ = synthetic_digits.__wrapped__(60, 3)  # not the cached copy
    assert np.array_equal(again, images)
    assert not np.array_equal(synthetic_digits.__wrapped__(60, 4)[0], images)


def test_training_digits_are_never_the_benchmarks() -> None:
    ds = drawn.render(50, seed=BENCH_SEEDS.start, families=list(HAND_FAMILIES))
    bench = np.round(drawn.preprocessed(ds) * 255).astype(np.uint8).reshape(50, -1)
    for seed in (0, 1, BENCH_SEEDS.start):
        train = synthetic_digits.__wrapped__(50, seed)[0].reshape(50, -1)
        same = (train[:, None, :] == bench[None, :, :]).all(-1)
        assert not same.any()


def test_they_join_the_training_set_only(raw) -> None:
    config = TrainConfig(model="lenet5", train_subset=1000, val_size=500, synthetic=40)
    assert config.train_size == 1040
    splits = make_splits(raw, val_size=500, train_subset=1000, seed=0)
    more = with_synthetic(splits, 40, 0)
    assert more.n_train == 1040 and more.n_val == 500 and more.n_test == 10_000
    assert torch.equal(more.train_x[:1000], splits.train_x)
    assert torch.equal(more.val_x, splits.val_x) and torch.equal(more.test_x, splits.test_x)
    with pytest.raises(ValueError, match="synthetic must be between 0 and 20000"):
        TrainConfig(synthetic=-1)

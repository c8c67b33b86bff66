"""The batched augmentations keep shapes, ranges and labels, are seeded, and do what they say:
stroke width grows with dilation and shrinks with erosion; elastic distortion moves ink a
little and keeps it."""

from __future__ import annotations

import pytest
import torch

from mnist_core.data.augment import random_affine, random_elastic, random_stroke_width
from mnist_core.data.mnist import MnistRaw
from mnist_core.train.config import TrainConfig
from mnist_core.train.events import RunEnded
from mnist_core.train.loop import fit


@pytest.fixture(scope="module")
def batch(raw: MnistRaw) -> torch.Tensor:
    return raw.train_images[:256].unsqueeze(1).float().div(255)  # (256,1,28,28)


def _gen() -> torch.Generator:
    return torch.Generator().manual_seed(0)


AUGMENTS = {
    "stroke": lambda x, g: random_stroke_width(x, amount=1.0, generator=g),
    "elastic": lambda x, g: random_elastic(x, alpha=34.0, generator=g),
    "affine": lambda x, g: random_affine(x, rotation=10, translate=0.1, scale=0.1, generator=g),
}


@pytest.mark.parametrize("name", AUGMENTS)
def test_shape_range_and_seed(batch: torch.Tensor, name: str) -> None:
    out = AUGMENTS[name](batch, _gen())
    assert out.shape == batch.shape and out.dtype == batch.dtype
    assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0 + 1e-6
    assert torch.equal(out, AUGMENTS[name](batch, _gen()))  # same seed, same images
    assert not torch.equal(out, batch)
    # Every digit keeps its ink (nothing is wiped out or pushed off the field).
    ink_before, ink_after = batch.flatten(1).sum(1), out.flatten(1).sum(1)
    assert float((ink_after / ink_before).min()) > 0.3


def test_stroke_width_thickens_and_thins(batch: torch.Tensor) -> None:
    out = random_stroke_width(batch, amount=2.0, generator=_gen())
    ratio = (out > 0.5).flatten(1).sum(1).float() / (batch > 0.5).flatten(1).sum(1).float()
    assert float(ratio.max()) > 2.0  # two dilations: much thicker
    assert float(ratio.min()) < 0.8  # an erosion: thinner
    assert float((ratio > 1).float().mean()) > 0.5  # thickening is drawn more often
    with pytest.raises(ValueError, match="between 0 and 2"):
        random_stroke_width(batch, amount=3.0)


def test_elastic_moves_ink_by_a_pixel_or_two(batch: torch.Tensor) -> None:
    out = random_elastic(batch, alpha=34.0, generator=_gen())
    # Centres of mass move, but by little: the digit stays the digit.
    ys = torch.arange(28, dtype=torch.float32).view(1, 28, 1)

    def cy(x: torch.Tensor) -> torch.Tensor:
        return (x[:, 0] * ys).flatten(1).sum(1) / x[:, 0].flatten(1).sum(1)

    shift = (cy(out) - cy(batch)).abs()
    assert 0.05 < float(shift.mean()) < 2.0
    assert torch.equal(random_elastic(batch, alpha=0.0, generator=_gen()), batch) or (
        float((random_elastic(batch, alpha=0.0, generator=_gen()) - batch).abs().max()) < 1e-5
    )


@pytest.mark.parametrize("name", AUGMENTS)
def test_labels_are_kept(raw: MnistRaw, batch: torch.Tensor, name: str) -> None:
    """The shipped LeNet-5, trained without these augmentations, still reads the augmented
    digits: they remain the digits they were labelled."""
    from mnist_core.storage.checkpoints import load_checkpoint

    model = load_checkpoint("checkpoints/lenet5.pt").build_model()
    with torch.no_grad():
        predicted = model(AUGMENTS[name](batch, _gen())).argmax(1)
    accuracy = float((predicted == raw.train_labels[: len(batch)]).float().mean())
    assert accuracy > 0.93, accuracy


def test_training_with_both_learns(raw: MnistRaw) -> None:
    config = TrainConfig.for_model(
        "lenet5",
        epochs=1,
        train_subset=3000,
        val_size=1000,
        batch_size=32,
        aug_stroke=1.0,
        aug_elastic=34.0,
        device="cpu",
    )
    ended = next(e for e in fit(config, raw) if isinstance(e, RunEnded))
    assert ended.status == "finished"
    assert ended.test_accuracy is not None and ended.test_accuracy > 0.75


def test_config_ranges() -> None:
    from mnist_core.errors import ConfigError

    with pytest.raises(ConfigError, match="aug_stroke must be between 0 and 2"):
        TrainConfig(aug_stroke=2.5)
    with pytest.raises(ConfigError, match="aug_elastic must be between 0 and 60"):
        TrainConfig(aug_elastic=-1.0)
    assert TrainConfig(aug_elastic=10.0).augments and not TrainConfig().augments

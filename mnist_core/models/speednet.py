"""SpeedNet: a small CNN built for time to 99% test accuracy on a CPU (issue 16).

A profile of a step of the other CNNs on 2 cores showed that convolution is only about 40% of
it: max-pooling at 28x28 took 25% and BatchNorm 20%. So nothing here runs at 28x28:

    (B,1,28,28) -pixel_unshuffle-> (B,4,14,14)          (each 2x2 patch becomes 4 channels)
    -conv3x3-> (B,w1,14,14) -BN-ReLU
    -conv3x3-> (B,w2,14,14) -pool-> (B,w2,7,7) -BN-ReLU (pool first: BN and ReLU see 1/4)
    -conv3x3-> (B,w3,7,7)  -pool-> (B,w3,3,3) -BN-ReLU -> flatten (9*w3) -> linear -> (B,10)

widths (16, 32, 64): 29k parameters, reaches 99.0% in under one epoch with the `speedrun`
recipe; (32, 64, 128): 111k parameters, 99.5% within 4 epochs with augmentation (bench/RESULTS.md).
"""

from __future__ import annotations

from torch import nn

from mnist_core.models.common import Normalize, check_positive_ints
from mnist_core.models.registry import register_model


@register_model(
    "speednet",
    title="SpeedNet",
    order=4,
    description="A CNN built for speed: no layer at 28x28; the Race to 99% trains it.",
)
def speednet(widths: tuple[int, ...] = (16, 32, 64)) -> nn.Module:
    """widths: channels of the three 3x3 convolutions (at 14x14, 14x14 and 7x7)."""
    w1, w2, w3 = check_positive_ints("widths", widths) if len(widths) == 3 else _bad(widths)
    if max(w1, w2, w3) > 512:
        raise ValueError(f"widths must be at most 512 channels each, got {tuple(widths)!r}")
    return nn.Sequential(
        Normalize(),
        nn.PixelUnshuffle(2),  # (B,4,14,14)
        nn.Conv2d(4, w1, 3, padding=1, bias=False),  # BN follows: a bias would be redundant
        nn.BatchNorm2d(w1),
        nn.ReLU(inplace=True),
        nn.Conv2d(w1, w2, 3, padding=1, bias=False),  # (B,w2,14,14)
        nn.MaxPool2d(2),  # (B,w2,7,7)
        nn.BatchNorm2d(w2),
        nn.ReLU(inplace=True),
        nn.Conv2d(w2, w3, 3, padding=1, bias=False),  # (B,w3,7,7)
        nn.MaxPool2d(2),  # (B,w3,3,3)
        nn.BatchNorm2d(w3),
        nn.ReLU(inplace=True),
        nn.Flatten(),  # (B,9*w3)
        nn.Linear(9 * w3, 10),
    )


def _bad(widths: object) -> tuple[int, int, int]:
    raise ValueError(f"widths must be three positive integers, got {widths!r}")

"""What every architecture shares: the input it takes, the classes it tells apart, layers."""

from __future__ import annotations

import torch
from torch import nn

# Every model maps (B, 1, IMAGE_SIZE, IMAGE_SIZE) pixels to (B, NUM_CLASSES) logits.
IMAGE_SIZE = 28  # MNIST's field, in pixels per side
NUM_CLASSES = 10  # the digits 0-9

# MNIST pixel statistics over the training set, on the [0, 1] scale.
MNIST_MEAN = 0.1307
MNIST_STD = 0.3081


class Normalize(nn.Module):
    """(B,1,28,28) in [0,1] -> standardised. Lives inside every model so that a checkpoint
    needs nothing but raw pixels/255: the UI, the CLI and the trainer cannot disagree on it."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - MNIST_MEAN) / MNIST_STD


def check_positive_ints(name: str, values: tuple[int, ...] | list[int]) -> tuple[int, ...]:
    """Validate a list of layer sizes; the message names the option."""
    values = tuple(values)
    if not values or any(not isinstance(v, int) or isinstance(v, bool) or v < 1 for v in values):
        raise ValueError(f"{name} must be a non-empty list of positive integers, got {values!r}")
    return values


def check_dropout(p: float) -> float:
    if not 0.0 <= float(p) < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {p!r}")
    return float(p)

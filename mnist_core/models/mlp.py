"""A multilayer perceptron: flatten the 28x28 image and apply fully connected layers."""

from __future__ import annotations

from torch import nn

from mnist_core.models.common import IMAGE_SIZE, Normalize, check_dropout, check_positive_ints
from mnist_core.models.registry import register_model


@register_model(
    "mlp",
    title="MLP",
    order=1,
    description="Fully connected layers on the 784 pixels: fast, but no notion of space.",
)
def mlp(hidden: tuple[int, ...] = (256, 64), dropout: float = 0.0) -> nn.Module:
    """784 -> hidden... -> 10 with ReLU and optional dropout after each hidden layer."""
    hidden = check_positive_ints("hidden", hidden)
    dropout = check_dropout(dropout)
    layers: list[nn.Module] = [Normalize(), nn.Flatten()]  # (B,1,28,28) -> (B,784)
    width = IMAGE_SIZE * IMAGE_SIZE
    for h in hidden:
        layers += [nn.Linear(width, h), nn.ReLU(inplace=True)]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        width = h
    layers.append(nn.Linear(width, 10))  # logits (B,10)
    return nn.Sequential(*layers)

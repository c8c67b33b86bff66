"""LeNet-5 (LeCun et al., 1998), with modern ReLU and max-pooling by default."""

from __future__ import annotations

from torch import nn

from mnist_core.models.common import Normalize
from mnist_core.models.registry import register_model


@register_model(
    "lenet5",
    title="LeNet-5",
    order=2,
    description="The classic 1998 convolutional net: conv+pool stages, then fully connected.",
)
def lenet5(activation: str = "relu", pool: str = "max") -> nn.Module:
    """6@5x5 (padded) -> pool -> 16@5x5 -> pool -> 120 -> 84 -> 10.

    activation: "relu" (modern) or "tanh" (as in 1998); pool: "max" or "avg" (1998).
    """
    acts = {"relu": nn.ReLU, "tanh": nn.Tanh}
    pools = {"max": nn.MaxPool2d, "avg": nn.AvgPool2d}
    if activation not in acts:
        raise ValueError(f"activation must be one of {sorted(acts)}, got {activation!r}")
    if pool not in pools:
        raise ValueError(f"pool must be one of {sorted(pools)}, got {pool!r}")
    act, pool_cls = acts[activation], pools[pool]
    return nn.Sequential(
        Normalize(),
        nn.Conv2d(1, 6, 5, padding=2),  # (B,6,28,28)
        act(),
        pool_cls(2),  # (B,6,14,14)
        nn.Conv2d(6, 16, 5),  # (B,16,10,10)
        act(),
        pool_cls(2),  # (B,16,5,5)
        nn.Flatten(),  # (B,400)
        nn.Linear(16 * 5 * 5, 120),
        act(),
        nn.Linear(120, 84),
        act(),
        nn.Linear(84, 10),
    )

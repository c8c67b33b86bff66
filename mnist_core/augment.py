"""Batched random affine augmentation on the training device (no torchvision, no PIL).

One random rotation, scale and shift per image, applied to the whole batch with a single
`affine_grid` + `grid_sample`: on a CPU this costs a few percent of a training step.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def random_affine(
    x: torch.Tensor,
    *,
    rotation: float,
    translate: float,
    scale: float,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """x: (B,1,H,W) float. rotation in degrees, translate as a fraction of the size,
    scale as a relative zoom range (0.1: 0.9x to 1.1x). Returns a new (B,1,H,W) tensor."""
    b = x.shape[0]
    dev, dt = x.device, x.dtype

    def uniform(lim: float) -> torch.Tensor:  # (B,) in [-lim, lim]
        return (torch.rand(b, device=dev, generator=generator, dtype=dt) * 2 - 1) * lim

    angle = uniform(math.radians(rotation))
    zoom = 1 + uniform(scale)
    # affine_grid maps output coords to input coords in [-1, 1]: a shift of fraction t of
    # the image is 2t there; dividing by zoom makes the output digit zoom times larger.
    tx, ty = uniform(2 * translate), uniform(2 * translate)
    cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
    theta = torch.stack(
        [torch.stack([cos, -sin, tx], 1), torch.stack([sin, cos, ty], 1)], 1
    )  # (B,2,3)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)

"""Batched random augmentation on the training device (no torchvision, no PIL).

Everything works on a whole batch (B,1,H,W) of floats in [0, 1] at once, with one random draw per
image from the run's generator (same seed, same augmentations):

- `random_affine`: rotation, scale and shift, one `affine_grid` + `grid_sample`.
- `random_stroke_width`: thinner or thicker strokes by grey erosion / dilation (3x3 max pooling),
  blended for fractional amounts. Canvas pens range from hairlines to 40 px: after the Draw page's
  preprocessing a 28x28 digit's strokes are 2.3 px (thin pens are thickened to that) up to ~6 px,
  while MNIST's are 1.7-3.6 px (5th-95th percentile).
- `random_elastic`: Simard et al. (2003)'s elastic distortion, a smooth random displacement field
  (uniform noise blurred by a Gaussian of `ELASTIC_SIGMA` px, times `alpha`), which bends strokes
  the way different hands do.

On a CPU each costs a few percent of a LeNet-5 training step.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

ELASTIC_SIGMA = 4.0  # px, Simard et al.'s value for 28x28 digits


def _uniform(b: int, lim: float, like: torch.Tensor, generator: torch.Generator | None):
    """(B,) uniform in [-lim, lim] on x's device and dtype."""
    return (torch.rand(b, device=like.device, generator=generator, dtype=like.dtype) * 2 - 1) * lim


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
    angle = _uniform(b, math.radians(rotation), x, generator)
    zoom = 1 + _uniform(b, scale, x, generator)
    # affine_grid maps output coords to input coords in [-1, 1]: a shift of fraction t of
    # the image is 2t there; dividing by zoom makes the output digit zoom times larger.
    tx, ty = _uniform(b, 2 * translate, x, generator), _uniform(b, 2 * translate, x, generator)
    cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
    theta = torch.stack(
        [torch.stack([cos, -sin, tx], 1), torch.stack([sin, cos, ty], 1)], 1
    )  # (B,2,3)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def _dilate(x: torch.Tensor) -> torch.Tensor:
    return F.max_pool2d(x, 3, stride=1, padding=1)


def _erode(x: torch.Tensor) -> torch.Tensor:
    return -F.max_pool2d(-x, 3, stride=1, padding=1)


def random_stroke_width(
    x: torch.Tensor, *, amount: float, generator: torch.Generator | None = None
) -> torch.Tensor:
    """x: (B,1,H,W) float in [0, 1]. Each image's strokes change by t steps, t uniform in
    [-amount/2, amount] (thickening is drawn twice as often as thinning: canvas pens are
    mostly thicker than MNIST's, and erosion wipes out thin strokes); a step is one 3x3 grey
    dilation (+) or erosion (-), about 2 px of width at 28x28, fractions blend linearly.
    amount is at most 2. Returns a new (B,1,H,W) tensor in [0, 1]."""
    if not 0.0 <= amount <= 2.0:
        raise ValueError(f"amount must be between 0 and 2, got {amount}")
    b = x.shape[0]
    t = torch.rand(b, device=x.device, generator=generator, dtype=x.dtype) * 1.5 * amount
    t = (t - amount / 2).view(b, 1, 1, 1)  # (B,1,1,1) in [-amount/2, amount]
    d1 = _dilate(x)
    thick = torch.where(t > 1, d1 + (t - 1) * (_dilate(d1) - d1), x + t.clamp(max=1) * (d1 - x))
    thin = x + (-t).clamp(max=1) * (_erode(x) - x)
    # Eroding grey edges dims the whole stroke; the Draw page's preprocessing stretches ink to
    # 1.0, so do the same. An erosion can wipe out a digit of hairlines: keep the original there.
    top = thin.flatten(1).amax(1).view(b, 1, 1, 1)  # (B,1,1,1)
    thin = torch.where(top < 0.5, x, thin / top.clamp(min=1e-6))
    return torch.where(t >= 0, thick, thin).clamp_(0.0, 1.0)


def _gaussian_blur(field: torch.Tensor, sigma: float) -> torch.Tensor:
    """field: (B,C,H,W); separable Gaussian blur with zero padding, radius 2 sigma."""
    r = max(1, math.ceil(2 * sigma))
    k = torch.arange(-r, r + 1, device=field.device, dtype=field.dtype)
    k = torch.exp(-(k**2) / (2 * sigma**2))
    k = k / k.sum()
    c = field.shape[1]
    field = F.conv2d(field, k.view(1, 1, 1, -1).expand(c, 1, 1, -1), padding=(0, r), groups=c)
    return F.conv2d(field, k.view(1, 1, -1, 1).expand(c, 1, -1, 1), padding=(r, 0), groups=c)


def random_elastic(
    x: torch.Tensor, *, alpha: float, generator: torch.Generator | None = None
) -> torch.Tensor:
    """x: (B,1,H,W) float. Elastic distortion: displacement (B,2,H,W) = alpha * Gaussian-blurred
    uniform(-1, 1) noise, in pixels (alpha 34 with sigma 4 is Simard et al.'s setting; typical
    displacements are then ~1.5 px). Returns a new (B,1,H,W) tensor."""
    b, _, h, w = x.shape
    noise = torch.rand(b, 2, h, w, device=x.device, generator=generator, dtype=x.dtype) * 2 - 1
    disp = _gaussian_blur(noise, ELASTIC_SIGMA) * alpha  # (B,2,H,W) px: dx, dy
    # The identity grid in grid_sample's [-1, 1] coordinates (align_corners=False): a pixel is
    # 2/W wide there.
    ys = (torch.arange(h, device=x.device, dtype=x.dtype) + 0.5) * (2 / h) - 1
    xs = (torch.arange(w, device=x.device, dtype=x.dtype) + 0.5) * (2 / w) - 1
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")  # (H,W) each
    grid = torch.stack(
        [gx + disp[:, 0] * (2 / w), gy + disp[:, 1] * (2 / h)], dim=-1
    )  # (B,H,W,2) as (x, y)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)

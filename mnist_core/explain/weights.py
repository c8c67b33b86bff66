"""Learned weights: first-layer kernels and templates, and the digits each unit looks for."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from mnist_core.errors import ExplainError
from mnist_core.explain.common import (
    LruCache,
    array_fingerprint,
    as_batch,
    forward_hooks,
    leaf_modules,
    weights_fingerprint,
)
from mnist_core.explain.layers import LayerInfo, describe_layers
from mnist_core.models.inference import eval_mode

# How many top digits are kept per unit; a view shows fewer.
MAX_TOP_K = 16


def _first_weighted(model: nn.Module) -> tuple[str, nn.Module]:
    for name, m in leaf_modules(model):
        if isinstance(m, nn.Conv2d | nn.Linear):
            return name, m
    raise ExplainError("This model has no convolution or fully connected layer to show.")


def first_conv_kernels(model: nn.Module) -> np.ndarray:
    """The first convolution's kernels, float32 (C_out, C_in, kH, kW), e.g. (6, 1, 5, 5) for
    LeNet-5. Raises ExplainError for a model whose first weighted layer is not a convolution
    (the MLP: see `first_layer_templates`)."""
    _, m = _first_weighted(model)
    if not isinstance(m, nn.Conv2d):
        raise ExplainError(
            "This model starts with a fully connected layer, not a convolution: "
            "show its first-layer templates instead."
        )
    return m.weight.detach().to("cpu", torch.float32).numpy().copy()


def first_layer_templates(model: nn.Module) -> np.ndarray:
    """Each first-layer unit's weights as a 28x28 image, float32 (units, 28, 28): what a unit
    of a fully connected first layer (the MLP's) responds to. Raises ExplainError when the
    first weighted layer is not a Linear on the 784 pixels (the convolutional models)."""
    _, m = _first_weighted(model)
    if not isinstance(m, nn.Linear) or m.in_features != 28 * 28:
        raise ExplainError(
            "This model's first layer is not fully connected on the 784 pixels: "
            "show its first convolution's kernels instead."
        )
    return m.weight.detach().to("cpu", torch.float32).reshape(-1, 28, 28).numpy().copy()


@dataclass(frozen=True)
class UnitIndex:
    """For every layer and every unit (channel of a feature map, or dense unit), the digits of
    an image set that activate it most, strongest first.

    A channel's score for a digit is its mean activation over positions; a dense unit's is its
    value. indices[layer]: int64 (units, k) into the image set; scores[layer]: float32 (units, k).
    """

    layers: tuple[LayerInfo, ...]
    indices: dict[str, np.ndarray]
    scores: dict[str, np.ndarray]
    n_images: int

    def top(self, layer: str, unit: int, k: int = 9) -> tuple[np.ndarray, np.ndarray]:
        """(indices, scores) of the k digits that activate `unit` of `layer` most."""
        if layer not in self.indices:
            raise ExplainError(f"This model has no layer {layer!r}.")
        idx = self.indices[layer]
        if not 0 <= unit < idx.shape[0]:
            raise ExplainError(f"Layer {layer} has units 0 to {idx.shape[0] - 1}, not {unit}.")
        if not 1 <= k <= idx.shape[1]:
            raise ExplainError(f"Ask for 1 to {idx.shape[1]} top digits, not {k}.")
        return idx[unit, :k].copy(), self.scores[layer][unit, :k].copy()


_UNIT_INDEX_CACHE: LruCache[UnitIndex] = LruCache(maxsize=6)


def _unit_scores(out: torch.Tensor) -> torch.Tensor:
    # (B,C,...) -> (B,C): a channel's mean over positions; (B,C) stays as it is
    return out.flatten(2).mean(2) if out.ndim > 2 else out


def _compute_unit_index(
    model: nn.Module, images: torch.Tensor, k: int, batch_size: int
) -> UnitIndex:
    layers = tuple(describe_layers(model))
    names = {info.name for info in layers}
    best_s: dict[str, torch.Tensor] = {}
    best_i: dict[str, torch.Tensor] = {}
    offset = 0

    def hook(name: str, _m: nn.Module, _inp: tuple[torch.Tensor, ...], out: object) -> None:
        if name not in names or not isinstance(out, torch.Tensor) or out.ndim < 2:
            return
        s = _unit_scores(out.detach().float()).cpu().T  # (C, B)
        idx = torch.arange(offset, offset + s.shape[1]).expand_as(s)
        if name in best_s:  # keep a running top-k: old best and this batch, k best of both
            s, idx = torch.cat([best_s[name], s], 1), torch.cat([best_i[name], idx], 1)
        top = s.topk(min(k, s.shape[1]), dim=1)
        best_s[name], best_i[name] = top.values, idx.gather(1, top.indices)

    with eval_mode(model), torch.inference_mode(), forward_hooks(leaf_modules(model), hook):
        for start in range(0, len(images), batch_size):
            offset = start
            model(as_batch(images[start : start + batch_size], model))
    return UnitIndex(
        layers=layers,
        indices={n: t.numpy().astype(np.int64) for n, t in best_i.items()},
        scores={n: t.numpy().astype(np.float32) for n, t in best_s.items()},
        n_images=len(images),
    )


def unit_index(
    model: nn.Module,
    images: np.ndarray | torch.Tensor,
    *,
    k: int = MAX_TOP_K,
    batch_size: int = 500,
) -> UnitIndex:
    """The top-k digits of `images` (usually the 10,000 test digits, uint8 (N,28,28)) for every
    unit of every layer, computed in one pass over the images and cached per (weights, images,
    k): the same checkpoint asks again for free; a model still training gets a fresh index
    after each optimiser step."""
    if not 1 <= k <= MAX_TOP_K:
        raise ExplainError(f"Keep 1 to {MAX_TOP_K} top digits per unit, not {k}.")
    imgs = torch.as_tensor(images)
    if len(imgs) < k:
        raise ExplainError(f"Need at least {k} images to find {k} top digits, got {len(imgs)}.")
    key = (weights_fingerprint(model), array_fingerprint(imgs), k)
    return _UNIT_INDEX_CACHE.get_or_compute(
        key, lambda: _compute_unit_index(model, imgs, k, batch_size)
    )


def top_activating(
    model: nn.Module,
    images: np.ndarray | torch.Tensor,
    layer: str,
    unit: int,
    k: int = 9,
) -> tuple[np.ndarray, np.ndarray]:
    """(indices into `images`, scores) of the k digits that activate `unit` of `layer` most
    ("what this unit looks for"), strongest first; see `unit_index` for the caching."""
    return unit_index(model, images).top(layer, unit, k)

"""The MLP written as plain functions of its weights, beside the same network as modules.

The fourth tutorial's point: an `nn.Module` is bookkeeping around functions. `mlp_as_functions`
runs the forward pass of a trained MLP with `torch.nn.functional` calls on the module's own
tensors, and `largest_difference` says how far that is from the module's own output (0, or a
rounding error of about 1e-7).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from mnist_core.errors import ModelError
from mnist_core.models.common import MNIST_MEAN, MNIST_STD, Normalize
from mnist_core.models.inference import eval_mode, logits, model_device, pixel_batch

__all__ = ["largest_difference", "mlp_as_functions"]


def mlp_as_functions(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The logits (B, 10) of the MLP `model` for pixels `x` (B, 1, 28, 28) in [0, 1], computed
    by functions on its weights: standardise, flatten, then F.linear and F.relu per layer
    (dropout does nothing at evaluation). ModelError for any other architecture."""
    if not isinstance(model, nn.Sequential):
        raise ModelError("Only the MLP can be written as functions here: choose an MLP.")
    for layer in model:
        if isinstance(layer, Normalize):
            x = (x - MNIST_MEAN) / MNIST_STD
        elif isinstance(layer, nn.Flatten):
            x = x.flatten(1)  # (B, 1, 28, 28) -> (B, 784)
        elif isinstance(layer, nn.Linear):
            x = F.linear(x, layer.weight, layer.bias)  # x @ W.T + b
        elif isinstance(layer, nn.ReLU):
            x = F.relu(x)
        elif not isinstance(layer, nn.Dropout):
            raise ModelError(
                f"This model has a {type(layer).__name__} layer: only the MLP (Linear, ReLU, "
                "Dropout) can be written as functions here."
            )
    return x


def largest_difference(model: nn.Module, images: np.ndarray | torch.Tensor) -> float:
    """The largest absolute difference between the module's logits and `mlp_as_functions`'
    for `images` (B, 28, 28) in [0, 1]."""
    batch = pixel_batch(images, model_device(model), error=ModelError)
    with torch.inference_mode(), eval_mode(model):
        as_module = logits(model, batch)
        as_functions = mlp_as_functions(model, batch)
    return float((as_module - as_functions).abs().max())

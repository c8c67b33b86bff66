"""The layers of any model and their activations, found by running it with forward hooks.

A "layer" is a module without children (Conv2d, ReLU, Linear, ...), listed in the order the
forward pass calls it, so a newly registered architecture needs no code here. A module called
twice in one forward pass is listed twice, the second time as "name#2".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from mnist_core.errors import ExplainError
from mnist_core.explain.common import as_batch, forward_hooks, leaf_modules
from mnist_core.models.inference import logits


@dataclass(frozen=True)
class LayerInfo:
    """One layer: `name` (qualified module name, e.g. "3.body.0.0"), `kind` (class name, e.g.
    "Conv2d"), `shape` (its output for one digit, without the batch dimension, e.g.
    (16, 14, 14)) and `params` (trainable parameters of this module alone)."""

    name: str
    kind: str
    shape: tuple[int, ...]
    params: int

    def to_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "kind": self.kind,
            "shape": list(self.shape),
            "params": self.params,
        }


@dataclass(frozen=True)
class Activations:
    """What a model computes for a batch of B digits.

    layers: the ordered layers; values[i]: float32 CPU tensor (B, *layers[i].shape), the output
    of layers[i]; probabilities: (B, 10) float32 softmax of the logits.
    """

    layers: tuple[LayerInfo, ...]
    values: tuple[torch.Tensor, ...]
    probabilities: np.ndarray

    def __getitem__(self, name: str) -> torch.Tensor:
        for info, value in zip(self.layers, self.values, strict=True):
            if info.name == name:
                return value
        raise KeyError(name)


def _own_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters(recurse=False) if p.requires_grad)


def _record(
    model: nn.Module, x: torch.Tensor, keep_values: bool
) -> tuple[list[LayerInfo], list[torch.Tensor], torch.Tensor]:
    infos: list[LayerInfo] = []
    values: list[torch.Tensor] = []
    calls: dict[str, int] = {}

    def hook(name: str, module: nn.Module, _inp: tuple[torch.Tensor, ...], out: object) -> None:
        if not isinstance(out, torch.Tensor):
            return  # a layer returning a tuple (e.g. an RNN) has no single activation map
        calls[name] = calls.get(name, 0) + 1
        label = name if calls[name] == 1 else f"{name}#{calls[name]}"
        infos.append(
            LayerInfo(label, type(module).__name__, tuple(out.shape[1:]), _own_params(module))
        )
        if keep_values:
            # clone: an in-place ReLU after this layer would otherwise overwrite what we keep
            values.append(out.detach().to("cpu", torch.float32, copy=True))

    with forward_hooks(leaf_modules(model), hook):
        out = logits(model, x, error=ExplainError)
    return infos, values, out


def describe_layers(model: nn.Module) -> list[LayerInfo]:
    """The model's layers in forward order, from one forward pass on a blank digit.

    Hooks are removed afterwards, also when the forward pass raises; the model's train/eval
    flags are restored.
    """
    infos, _, _ = _record(model, as_batch(torch.zeros(28, 28), model), keep_values=False)
    return infos


def activations(model: nn.Module, images: np.ndarray | torch.Tensor) -> Activations:
    """The output of every layer for one digit (28,28) or a small batch (B,28,28) /
    (B,1,28,28), pixels in [0,1] (or uint8), ink bright. Values are kept on the CPU, so keep
    B small (a digit of the resnet holds about 0.3 MB of activations)."""
    infos, values, out = _record(model, as_batch(images, model), keep_values=True)
    probs = torch.softmax(out.detach().to("cpu", torch.float32), dim=1).numpy()
    return Activations(tuple(infos), tuple(values), probs)

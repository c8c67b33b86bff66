"""A one-line description of a built model, read from its layers: true for any options and any
architecture, unlike a description written by hand for the default options."""

from __future__ import annotations

import re

from torch import nn

_SKIP = (nn.Flatten, nn.Identity)
_ACTIVATIONS = {nn.ReLU: "ReLU", nn.Tanh: "tanh", nn.Sigmoid: "sigmoid", nn.GELU: "GELU"}


def _is_builtin(module: nn.Module) -> bool:
    return type(module).__module__.startswith("torch.nn")


def _block_name(module: nn.Module) -> str:
    """ "ResidualBlock" -> "residual block"."""
    return re.sub(r"(?<!^)(?=[A-Z])", " ", type(module).__name__).lower()


def _walk(module: nn.Module, parts: list[str], extras: dict[str, None]) -> None:
    """Append the layers of `module` in order: conv, pool and fully connected stages, blocks of
    the architecture's own classes by name; activations, BatchNorm and dropout as extras."""
    for child in module.children():
        if isinstance(child, nn.Linear):
            if parts and parts[-1].startswith("fc:"):
                parts[-1] += f"-{child.out_features}"
            else:
                parts.append(f"fc:{child.in_features}-{child.out_features}")
        elif isinstance(child, nn.Conv2d):
            k = "x".join(str(v) for v in child.kernel_size)
            parts.append(f"conv {child.out_channels}@{k}")
        elif isinstance(child, nn.MaxPool2d | nn.AvgPool2d):
            parts.append("max pool" if isinstance(child, nn.MaxPool2d) else "avg pool")
        elif isinstance(child, nn.AdaptiveMaxPool2d | nn.AdaptiveAvgPool2d):
            kind = "max" if isinstance(child, nn.AdaptiveMaxPool2d) else "avg"
            parts.append(f"global {kind} pool")
        elif isinstance(child, nn.BatchNorm2d | nn.BatchNorm1d):
            extras["BatchNorm"] = None
        elif isinstance(child, nn.Dropout):
            extras[f"dropout {child.p:g}"] = None
        elif type(child) in _ACTIVATIONS:
            extras[_ACTIVATIONS[type(child)]] = None
        elif isinstance(child, _SKIP) or not any(True for _ in child.children()):
            continue  # e.g. the input normalisation
        elif _is_builtin(child):  # Sequential, ModuleList: look inside
            _walk(child, parts, extras)
        else:  # a block class of the architecture: name it, and note its activations
            parts.append(_block_name(child))
            _walk(child, [], extras)


def describe_model(model: nn.Module) -> str:
    """E.g. "784-1024-512-10 fully connected · ReLU · dropout 0.1", or "conv 6@5x5 → max pool →
    conv 16@5x5 → max pool → 400-120-84-10 fully connected · ReLU". Repeated blocks are
    counted ("2 × residual block")."""
    parts: list[str] = []
    extras: dict[str, None] = {}  # ordered set
    _walk(model, parts, extras)
    merged: list[tuple[str, int]] = []
    for p in parts:
        if merged and merged[-1][0] == p and not p.startswith(("conv", "fc:")):
            merged[-1] = (p, merged[-1][1] + 1)
        else:
            merged.append((p, 1))
    words = [
        (p.removeprefix("fc:") + " fully connected" if p.startswith("fc:") else p)
        if n == 1
        else f"{n} × {p}"
        for p, n in merged
    ]
    return " · ".join([" → ".join(words), *extras])

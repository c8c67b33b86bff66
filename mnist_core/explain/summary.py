"""One digit's look inside a model as plain JSON types (the `explain` command prints it)."""

from __future__ import annotations

import numpy as np
from torch import nn

from mnist_core.explain.attributions import attribute
from mnist_core.explain.layers import describe_layers


def explain_digit(
    model: nn.Module, image: np.ndarray | None, method: str, target: int | None
) -> dict[str, object]:
    """{digit, probabilities (10 floats), layers [{name, kind, shape, params}], attribution
    {method, target, map: 28 lists of 28 floats}} for a preprocessed (28,28) digit in [0,1].

    `image` None (nothing drawn) gives digit, probabilities and attribution None; the layers,
    which belong to the model, are listed either way.
    """
    layers = [info.to_json() for info in describe_layers(model)]
    if image is None:
        return {"digit": None, "probabilities": None, "layers": layers, "attribution": None}
    a = attribute(model, image, method, target)
    return {
        "digit": a.predicted,
        "probabilities": [float(p) for p in a.probabilities],
        "layers": layers,
        "attribution": a.to_json(),
    }

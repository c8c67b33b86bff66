"""Which pixels make a model read a digit as a class: attribution maps with captum.

Every method returns a float32 28x28 map on the model's input (B maps for a batch):

- `saliency`: |d logit_target / d pixel| (Simonyan et al., 2014).
- `integrated_gradients`: (x - 0) times the gradient averaged along the straight path from a
  black image (no ink) to x (Sundararajan et al., 2017); signed, and it sums to
  logit_target(x) - logit_target(black).
- `occlusion`: how much the target logit drops when a 4x4 patch is blacked out, the patch slid
  with stride 2 and the drops averaged per pixel (Zeiler & Fergus, 2014); signed.
- `gradcam`: the last convolution's feature map (after its activation), weighted by the
  gradient of the target averaged per channel, ReLU, upsampled bilinearly to 28x28
  (Selvaraju et al., 2017). Convolutional models only.

Attributions explain the logit (not the softmax probability) of the target class: the
predicted class by default, or any digit a person chooses ("why not a 9?").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np
import torch
from torch import nn

from mnist_core.errors import ExplainError
from mnist_core.explain.common import as_batch, check_target, leaf_modules
from mnist_core.explain.layers import describe_layers
from mnist_core.models.inference import eval_mode

Method = Literal["saliency", "integrated_gradients", "occlusion", "gradcam"]
METHODS: tuple[str, ...] = get_args(Method)

IG_STEPS = 50
OCCLUSION_WINDOW = 4
OCCLUSION_STRIDE = 2
# Inputs per forward pass inside captum (IG's path points, occlusion's patches).
_INTERNAL_BATCH = 256


@dataclass(frozen=True)
class Attribution:
    """One digit's attribution: `map` float32 (28, 28); `target` the class explained;
    `predicted` the model's class; `probabilities` (10,) float32."""

    method: str
    target: int
    predicted: int
    probabilities: np.ndarray
    map: np.ndarray

    def to_json(self) -> dict[str, object]:
        return {
            "method": self.method,
            "target": self.target,
            "map": [[float(v) for v in row] for row in self.map],
        }


def check_method(method: str) -> str:
    """`method` if it is one of METHODS, else an ExplainError listing them."""
    if method not in METHODS:
        raise ExplainError(
            f"Unknown attribution method {method!r}. Choose one of: {', '.join(METHODS)}."
        )
    return method


def gradcam_layer(model: nn.Module) -> str:
    """Name of the layer Grad-CAM looks at: the last layer with the same spatial feature map
    as the last convolution (its activation, e.g. LeNet-5's ReLU at 16x10x10, the resnet's
    last residual block's ReLU at 64x7x7). ExplainError for a model without convolutions."""
    layers = describe_layers(model)
    convs = [i for i, info in enumerate(layers) if info.kind == "Conv2d"]
    if not convs:
        raise ExplainError(
            "Grad-CAM needs a convolution, and this model (a fully connected network) has none. "
            "Choose saliency, integrated_gradients or occlusion."
        )
    last = convs[-1]
    spatial = layers[last].shape[1:]
    name = layers[last].name
    for info in layers[last + 1 :]:
        if len(info.shape) == 3 and info.shape[1:] == spatial:
            name = info.name
        else:
            break
    return name.split("#")[0]


def _module(model: nn.Module, name: str) -> nn.Module:
    modules = dict(leaf_modules(model))
    if name not in modules:
        raise ExplainError(f"This model has no layer {name!r}.")
    return modules[name]


def _targets(logits: torch.Tensor, target: int | Sequence[int] | None, n: int) -> torch.Tensor:
    if target is None:
        return logits.argmax(1)
    if isinstance(target, int | np.integer):
        return torch.full((n,), check_target(target), dtype=torch.long, device=logits.device)
    ts = [check_target(t) for t in target]
    if len(ts) != n:
        raise ExplainError(f"Give one class per digit: {n} digits, {len(ts)} classes.")
    return torch.tensor(ts, dtype=torch.long, device=logits.device)


def attribute_batch(
    model: nn.Module,
    images: np.ndarray | torch.Tensor,
    method: str,
    target: int | Sequence[int] | None = None,
    *,
    steps: int = IG_STEPS,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Attribution maps for a batch.

    Args:
        images: (28,28), (B,28,28) or (B,1,28,28) in [0,1] (or uint8), ink bright.
        method: one of METHODS.
        target: None (each digit's predicted class), one digit 0-9 for all, or one per digit.
        steps: integration steps of integrated_gradients.

    Returns:
        (maps float32 (B,28,28), targets int64 (B,), probabilities float32 (B,10)).

    The model runs in eval mode and its modes are restored; its parameters' .grad are not
    touched (captum differentiates with respect to the input only).
    """
    from captum.attr import IntegratedGradients, LayerAttribution, LayerGradCam, Occlusion, Saliency

    check_method(method)
    if not isinstance(steps, int) or steps < 2:
        raise ExplainError(f"Integrated gradients need at least 2 steps, got {steps!r}.")
    x = as_batch(images, model)
    layer = _module(model, gradcam_layer(model)) if method == "gradcam" else None
    with eval_mode(model):
        with torch.no_grad():
            logits = model(x)
        targets = _targets(logits, target, len(x))
        xg = x.clone().requires_grad_(True)
        if method == "saliency":
            attr = Saliency(model).attribute(xg, target=targets, abs=True)
        elif method == "integrated_gradients":
            attr = IntegratedGradients(model).attribute(
                xg,
                baselines=torch.zeros_like(xg),
                target=targets,
                n_steps=steps,
                internal_batch_size=_INTERNAL_BATCH,
            )
        elif method == "occlusion":
            attr = Occlusion(model).attribute(
                xg,
                sliding_window_shapes=(1, OCCLUSION_WINDOW, OCCLUSION_WINDOW),
                strides=(1, OCCLUSION_STRIDE, OCCLUSION_STRIDE),
                baselines=0.0,
                target=targets,
                perturbations_per_eval=max(1, _INTERNAL_BATCH // len(x)),
            )
        else:
            cam = LayerGradCam(model, layer).attribute(xg, target=targets, relu_attributions=True)
            attr = LayerAttribution.interpolate(cam, (28, 28), interpolate_mode="bilinear")
    maps = attr.detach().to("cpu", torch.float32).reshape(len(x), 28, 28).numpy()
    probs = torch.softmax(logits.detach().to("cpu", torch.float32), 1).numpy()
    return maps, targets.cpu().numpy().astype(np.int64), probs


def attribute(
    model: nn.Module,
    image: np.ndarray | torch.Tensor,
    method: str = "saliency",
    target: int | None = None,
    *,
    steps: int = IG_STEPS,
) -> Attribution:
    """The attribution map of one digit (28,28) in [0,1] for `target` (None: the predicted
    class) by `method`; see `attribute_batch`."""
    x = as_batch(image)
    if len(x) != 1:
        raise ExplainError(f"attribute explains one digit; got {len(x)}. Use attribute_batch.")
    maps, targets, probs = attribute_batch(model, x, method, check_target(target), steps=steps)
    return Attribution(
        method=method,
        target=int(targets[0]),
        predicted=int(probs[0].argmax()),
        probabilities=probs[0],
        map=maps[0],
    )

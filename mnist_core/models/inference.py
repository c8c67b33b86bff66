"""Running a model on pixels: the one place that knows the input layout, the device, eval mode
and the softmax. `predict` (the Draw page, the command line), `evaluate` (training, the
Mistakes page) and every look inside a model (`mnist_core.explain`) go through it.

Models normalise their input themselves (`mnist_core.models.common.Normalize`), so nothing here
does: a batch is raw pixels/255, ink bright.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np
import torch
from torch import nn

from mnist_core.models.common import IMAGE_SIZE, NUM_CLASSES

__all__ = [
    "eval_mode",
    "logits",
    "model_device",
    "model_dtype",
    "pixel_batch",
    "predict",
]

Pixels = np.ndarray | torch.Tensor


def model_device(model: nn.Module) -> torch.device:
    """The device of the model's first parameter or buffer (CPU when it has none)."""
    for t in (*model.parameters(), *model.buffers()):
        return t.device
    return torch.device("cpu")


def model_dtype(model: nn.Module) -> torch.dtype:
    """The dtype of the model's first floating-point parameter or buffer (float32 if none):
    a batch is cast to it, so a float64 model takes the same pixels as a float32 one."""
    tensors = (*model.parameters(), *model.buffers())
    return next((t.dtype for t in tensors if t.is_floating_point()), torch.float32)


@contextmanager
def eval_mode(model: nn.Module) -> Iterator[nn.Module]:
    """Run the block with `model` in eval mode, then put every submodule's train/eval flag
    back as it was, so a forward pass on a model being trained (a prediction, an end-of-epoch
    evaluation) does not disturb it. `model.train(flag)` would set all submodules alike."""
    flags = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        yield model
    finally:
        for module, was_training in flags:
            module.training = was_training


def _shaped(images: Pixels, error: type[Exception]) -> torch.Tensor:
    """(28,28), (B,28,28) or (B,1,28,28) -> a (B,1,28,28) view, dtype and device untouched."""
    x = torch.as_tensor(images).detach()
    if x.ndim == 2:
        x = x.unsqueeze(0)
    if x.ndim == 3:
        x = x.unsqueeze(1)
    if x.ndim != 4 or tuple(x.shape[1:]) != (1, IMAGE_SIZE, IMAGE_SIZE) or x.shape[0] == 0:
        raise error(
            f"Expected a {IMAGE_SIZE}x{IMAGE_SIZE} digit or a batch of them ({IMAGE_SIZE}, "
            f"{IMAGE_SIZE}), (B, {IMAGE_SIZE}, {IMAGE_SIZE}) or (B, 1, {IMAGE_SIZE}, "
            f"{IMAGE_SIZE}); got an array of shape {tuple(x.shape)}."
        )
    return x


def _scaled(
    x: torch.Tensor, device: torch.device | None, dtype: torch.dtype, error: type[Exception]
) -> torch.Tensor:
    """A (B,1,28,28) batch moved to `device`, then as `dtype` pixels in [0, 1]. uint8 crosses
    to the device as bytes (a quarter of the traffic) and is divided by 255 there; it is in
    range by construction, so only floats are checked (the check waits for the device)."""
    if device is not None:  # asynchronous only towards a GPU, where it is safe
        x = x.to(device, non_blocking=device.type == "cuda")
    if x.dtype == torch.uint8:
        return x.to(dtype).div_(255)
    x = x.to(torch.float32)
    if not bool(torch.isfinite(x).all()) or float(x.min()) < -1e-3 or float(x.max()) > 1 + 1e-3:
        raise error("Pixel values must be in [0, 1] (MNIST pixels divided by 255).")
    return x.to(dtype)


def pixel_batch(
    images: Pixels,
    device: torch.device | None = None,
    *,
    dtype: torch.dtype = torch.float32,
    error: type[Exception] = ValueError,
) -> torch.Tensor:
    """(28,28), (B,28,28) or (B,1,28,28) pixels -> a (B,1,28,28) batch on `device` (None:
    where they are), as `dtype`.

    uint8 images (the MNIST tensors) are divided by 255; float images must already be in
    [0, 1]. Any other shape, an empty batch, or floats out of range raise `error` (callers
    choose the error their own callers expect, e.g. ExplainError), with a message for people.
    """
    return _scaled(_shaped(images, error), device, dtype, error)


def logits(
    model: nn.Module,
    images: Pixels,
    *,
    batch_size: int | None = None,
    mixed_precision: bool = False,
    before_batch: Callable[[], None] | None = None,
    error: type[Exception] = ValueError,
) -> torch.Tensor:
    """The model's (B, 10) logits for pixels as `pixel_batch` takes them, on the model's device.

    The model runs in eval mode (every submodule's flag is put back afterwards) under
    `torch.inference_mode()`, `batch_size` images at a time (None: all at once). With
    `mixed_precision` on a CUDA device the forward pass runs in bfloat16 autocast and the
    logits come back as float32 (training's evaluations: fast, and accurate enough to rank).
    `before_batch` is called before each batch; it may raise to abandon the pass (a stop).
    """
    x = _shaped(images, error)
    device, dtype = model_device(model), model_dtype(model)
    autocast = mixed_precision and device.type == "cuda"
    step = batch_size or len(x)
    out = []
    with eval_mode(model), torch.inference_mode():
        for start in range(0, len(x), step):
            if before_batch is not None:
                before_batch()
            xb = _scaled(x[start : start + step], device, dtype, error)
            if autocast:
                with torch.autocast("cuda", dtype=torch.bfloat16):
                    out.append(model(xb).float())
            else:
                out.append(model(xb))
    return out[0] if len(out) == 1 else torch.cat(out)


def predict(model: nn.Module, image: Pixels) -> np.ndarray:
    """Class probabilities of `model` for one or more 28x28 images.

    Args:
        model: maps a float tensor (B, 1, 28, 28) in [0, 1] to logits (B, 10); it normalises
            its input itself.
        image: (28, 28), (B, 28, 28) or (B, 1, 28, 28) floats in [0, 1] (or uint8 MNIST
            pixels), ink bright.

    Returns:
        Softmax probabilities as float64: shape (10,) for one (28, 28) image, else (B, 10).

    The model runs as `logits` runs it: on its own device and in its own float dtype, in eval
    mode under `torch.inference_mode()`, its training flags put back afterwards, so calling
    this on a model being trained does not disturb it.

    Raises:
        ValueError: wrong shape, values outside [0, 1] or non-finite, or logits not (B, 10).
    """
    single = torch.as_tensor(image).ndim == 2
    n = len(_shaped(image, ValueError))
    out = logits(model, image)
    if out.shape != (n, NUM_CLASSES):
        raise ValueError(f"the model returned logits of shape {tuple(out.shape)}, not (B, 10)")
    probs = torch.softmax(out.detach().to("cpu", torch.float64), dim=1).numpy()
    return probs[0] if single else probs

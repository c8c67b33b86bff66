"""What every view of a model's inside shares: input checks, eval mode, hooks, a cache.

Models take (B,1,28,28) float pixels in [0,1], ink bright, and normalise inside (see
`mnist_core.models`), so every function here takes raw pixels/255 exactly as `preprocess` and
`evaluation.predict_logits` produce them. Running the model (device, eval mode, the batch) is
`mnist_core.models.inference`'s.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from typing import Generic, TypeVar

import numpy as np
import torch
from torch import nn

from mnist_core.errors import ExplainError
from mnist_core.models.common import NUM_CLASSES
from mnist_core.models.inference import model_device, pixel_batch

T = TypeVar("T")


def as_batch(images: np.ndarray | torch.Tensor, model: nn.Module | None = None) -> torch.Tensor:
    """(28,28), (B,28,28) or (B,1,28,28) pixels -> float32 (B,1,28,28) on the model's device
    (where they are without a model): `mnist_core.models.inference.pixel_batch`, raising
    ExplainError for any other shape or range (uint8 images are divided by 255, float images
    must already be in [0,1])."""
    device = model_device(model) if model is not None else None
    return pixel_batch(images, device, error=ExplainError)


def check_target(target: int | None) -> int | None:
    """None (the predicted class) or a digit 0-9; anything else raises ExplainError."""
    if target is None:
        return None
    if isinstance(target, bool) or not isinstance(target, int | np.integer):
        raise ExplainError(f"The class to explain must be a digit 0-9, got {target!r}.")
    if not 0 <= int(target) < NUM_CLASSES:
        raise ExplainError(f"The class to explain must be a digit 0-9, got {int(target)}.")
    return int(target)


def leaf_modules(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """(qualified name, module) of every module without children, in registration order."""
    return [(n, m) for n, m in model.named_modules() if n and not any(True for _ in m.children())]


def hook_count(model: nn.Module) -> int:
    """Forward (pre-)hooks and backward hooks registered on the model's modules; 0 for a
    model nobody is looking into."""
    total = 0
    for m in model.modules():
        for attr in (
            "_forward_hooks",
            "_forward_pre_hooks",
            "_backward_hooks",
            "_backward_pre_hooks",
        ):
            total += len(getattr(m, attr, {}))
    return total


@contextmanager
def forward_hooks(
    modules: list[tuple[str, nn.Module]],
    hook: Callable[[str, nn.Module, tuple[torch.Tensor, ...], torch.Tensor], None],
) -> Iterator[None]:
    """`hook(name, module, inputs, output)` on each module's forward, for the block only.

    The handles are removed in `finally`, so no hook outlives the block, also when the forward
    pass (or the hook) raises.
    """
    handles = []
    try:
        for name, module in modules:
            handles.append(
                module.register_forward_hook(
                    lambda m, inp, out, _name=name: hook(_name, m, inp, out)
                )
            )
        yield
    finally:
        for h in handles:
            h.remove()


def weights_fingerprint(model: nn.Module) -> str:
    """A hash of the architecture (module types) and every parameter and buffer: the identity
    of a checkpoint, and different after every optimiser step of a model being trained."""
    h = hashlib.blake2b(digest_size=16)
    h.update(repr([type(m).__name__ for m in model.modules()]).encode())
    for name, t in model.state_dict().items():
        h.update(name.encode())
        h.update(repr(tuple(t.shape)).encode())
        h.update(t.detach().to("cpu").contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def array_fingerprint(x: np.ndarray | torch.Tensor) -> str:
    """A hash of an image set (shape and bytes), for cache keys."""
    t = torch.as_tensor(x).detach().to("cpu").contiguous()
    h = hashlib.blake2b(digest_size=16)
    h.update(repr((tuple(t.shape), str(t.dtype))).encode())
    h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


class LruCache(Generic[T]):
    """A small thread-safe least-recently-used cache (a few checkpoints' worth of results).

    `get_or_compute(key, fn)` computes outside the lock, so two threads asking for the same new
    key may both compute it once; the result is the same, and nothing blocks on a slow t-SNE.
    """

    def __init__(self, maxsize: int = 8) -> None:
        if maxsize < 1:
            raise ValueError("maxsize must be at least 1")
        self.maxsize = maxsize
        self._items: OrderedDict[Hashable, T] = OrderedDict()
        self._lock = threading.Lock()

    def get_or_compute(self, key: Hashable, compute: Callable[[], T]) -> T:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        value = compute()
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.maxsize:
                self._items.popitem(last=False)
        return value

    def __contains__(self, key: Hashable) -> bool:
        with self._lock:
            return key in self._items

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
